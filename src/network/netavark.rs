//! netavark's documented interface, as Podman uses it:
//!
//! ```text
//! netavark --config DIR --rootless=false --aardvark-binary PATH setup NETNS    < options.json
//! netavark --config DIR --rootless=false --aardvark-binary PATH teardown NETNS < options.json
//! ```
//! The options name the container, the interface and addresses it gets on
//! each network, each network's definition, and the published ports.
//! `setup` answers, per network, the interfaces it made (MAC address,
//! address, gateway) and the DNS servers; errors are `{"error": "…"}`.
//! netavark creates the bridge, the veth pair, the routes, the firewall rules
//! (NAT, port forwarding, with the host's iptables) and starts aardvark-dns;
//! `teardown` removes them again, the bridge and its rules with the last
//! container on it. `--config` is rrun's own directory (its aardvark-dns
//! files), not Podman's.

use super::config::HostConfig;
use super::ports::Forward;
use super::{NetworkDef, NetworkError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::{Command, Stdio};

/// One network of the container, as netavark's `networks` map takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PerNetwork {
    pub interface_name: String,
    pub static_ips: Vec<Ipv4Addr>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub static_mac: Option<String>,
}

/// A network's definition, as netavark's `network_info` map takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Info {
    pub name: String,
    pub id: String,
    pub driver: String,
    pub network_interface: String,
    pub subnets: Vec<SubnetInfo>,
    pub ipv6_enabled: bool,
    pub internal: bool,
    pub dns_enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubnetInfo {
    pub subnet: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<Ipv4Addr>,
}

impl Info {
    pub fn of(n: &NetworkDef) -> Info {
        Info {
            name: n.netavark_name(),
            id: n.id.clone(),
            driver: "bridge".into(),
            network_interface: n.interface.clone(),
            subnets: vec![SubnetInfo { subnet: n.subnet.to_string(), gateway: Some(n.gateway) }],
            ipv6_enabled: false,
            internal: n.internal,
            dns_enabled: n.dns_enabled,
        }
    }
}

/// netavark's options for one container: the JSON on its stdin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Options {
    pub container_id: String,
    pub container_name: String,
    /// By netavark name ([`NetworkDef::netavark_name`]).
    pub networks: BTreeMap<String, PerNetwork>,
    pub network_info: BTreeMap<String, Info>,
    #[serde(default)]
    pub port_mappings: Vec<Forward>,
}

impl Options {
    /// The same container with only network `name` (`network connect|disconnect`).
    pub fn only(&self, name: &str, ports: bool) -> Options {
        Options {
            container_id: self.container_id.clone(),
            container_name: self.container_name.clone(),
            networks: self.networks.iter().filter(|(n, _)| *n == name).map(|(n, p)| (n.clone(), p.clone())).collect(),
            network_info: self
                .network_info
                .iter()
                .filter(|(n, _)| *n == name)
                .map(|(n, i)| (n.clone(), i.clone()))
                .collect(),
            port_mappings: if ports { self.port_mappings.clone() } else { Vec::new() },
        }
    }
}

/// What `setup` made on one network.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Status {
    #[serde(default)]
    pub dns_server_ips: Option<Vec<std::net::IpAddr>>,
    #[serde(default)]
    pub interfaces: Option<BTreeMap<String, Interface>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Interface {
    pub mac_address: String,
    #[serde(default)]
    pub subnets: Option<Vec<Address>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Address {
    #[serde(default)]
    pub gateway: Option<std::net::IpAddr>,
    /// `10.87.0.2/16`.
    pub ipnet: String,
}

/// The search path netavark's children get: it runs `iptables`, and a root
/// shell's `PATH` may lack the sbin directories.
const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Runs `netavark VERB NETNS` with `options` on its stdin; returns its stdout.
fn run(
    cfg: &HostConfig,
    config_dir: &Path,
    verb: &str,
    netns: &Path,
    options: &Options,
) -> Result<String, NetworkError> {
    let netavark = cfg.netavark()?;
    let mut cmd = Command::new(&netavark);
    cmd.arg("--config").arg(config_dir).arg("--rootless=false");
    if options.network_info.values().any(|i| i.dns_enabled) {
        cmd.arg("--aardvark-binary").arg(cfg.aardvark_dns()?);
    }
    cmd.arg(verb).arg(netns).env("PATH", PATH).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    tracing::debug!(program = %netavark.display(), verb, netns = %netns.display(), container = %options.container_id,
        "netavark: the network stack sets the container's interfaces, routes and firewall rules");
    let fail = |message: String| NetworkError::Netavark {
        verb: verb.into(),
        container: options.container_id.get(..12).unwrap_or(&options.container_id).to_string(),
        message,
    };
    let mut child = cmd.spawn().map_err(|e| fail(format!("run {}: {e}", netavark.display())))?;
    let json = serde_json::to_vec(options).expect("options serialize");
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(&json);
    }
    let out = child.wait_with_output().map_err(|e| fail(format!("wait for {}: {e}", netavark.display())))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        return Ok(stdout);
    }
    Err(fail(error_text(&stdout, &String::from_utf8_lossy(&out.stderr), out.status.code())))
}

/// netavark's reason: its JSON `error`, else what it wrote (less its syslog complaint).
pub fn error_text(stdout: &str, stderr: &str, code: Option<i32>) -> String {
    #[derive(Deserialize)]
    struct E {
        error: String,
    }
    for text in [stdout, stderr] {
        for line in text.lines() {
            if let Some(start) = line.find("{\"error\"") {
                if let Ok(e) = serde_json::from_str::<E>(&line[start..]) {
                    return e.error;
                }
            }
        }
    }
    let rest: Vec<&str> =
        stderr.lines().filter(|l| !l.contains("failed to connect to syslog") && !l.trim().is_empty()).collect();
    if rest.is_empty() {
        format!("exit status {}", code.map_or("signal".into(), |c| c.to_string()))
    } else {
        rest.join("; ")
    }
}

/// `netavark setup`: the container's interfaces on every network of `options`.
pub fn setup(
    cfg: &HostConfig,
    config_dir: &Path,
    netns: &Path,
    options: &Options,
) -> Result<BTreeMap<String, Status>, NetworkError> {
    let out = run(cfg, config_dir, "setup", netns, options)?;
    serde_json::from_str(out.trim()).map_err(|e| NetworkError::Netavark {
        verb: "setup".into(),
        container: options.container_id.clone(),
        message: format!("unreadable answer {:?}: {e}", out.trim()),
    })
}

/// `netavark teardown`: removes what `setup` made for `options`.
pub fn teardown(cfg: &HostConfig, config_dir: &Path, netns: &Path, options: &Options) -> Result<(), NetworkError> {
    run(cfg, config_dir, "teardown", netns, options).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_netavarks_json() {
        let net = crate::network::default_network(&HostConfig::default());
        let name = net.netavark_name();
        let o = Options {
            container_id: "c".repeat(64),
            container_name: "web".into(),
            networks: BTreeMap::from([(
                name.clone(),
                PerNetwork {
                    interface_name: "eth0".into(),
                    static_ips: vec!["10.87.0.2".parse().unwrap()],
                    aliases: vec![],
                    static_mac: None,
                },
            )]),
            network_info: BTreeMap::from([(name.clone(), Info::of(&net))]),
            port_mappings: vec![Forward {
                host_ip: "127.0.0.1".into(),
                host_port: 8080,
                container_port: 80,
                range: 1,
                protocol: "tcp".into(),
            }],
        };
        let v = serde_json::to_value(&o).unwrap();
        assert_eq!(v["networks"][&name]["static_ips"][0], "10.87.0.2");
        assert!(v["networks"][&name].get("aliases").is_none(), "no empty lists");
        let info = &v["network_info"][&name];
        assert_eq!((info["driver"].as_str(), info["network_interface"].as_str()), (Some("bridge"), Some("rrun0")));
        assert_eq!(info["subnets"][0]["subnet"], "10.87.0.0/16");
        assert_eq!(info["subnets"][0]["gateway"], "10.87.0.1");
        assert_eq!(v["port_mappings"][0]["host_port"], 8080);
        assert!(o.only("other", true).networks.is_empty() && o.only(&name, false).port_mappings.is_empty());
    }

    #[test]
    fn answers_and_errors() {
        let answer = r#"{"rrun-x":{"dns_search_domains":[],"dns_server_ips":[],"interfaces":{"eth0":{"mac_address":"de:31:b7:ed:bb:da","subnets":[{"gateway":"10.87.0.1","ipnet":"10.87.0.2/16"}]}}}}"#;
        let s: BTreeMap<String, Status> = serde_json::from_str(answer).unwrap();
        let eth0 = &s["rrun-x"].interfaces.as_ref().unwrap()["eth0"];
        assert_eq!(eth0.subnets.as_ref().unwrap()[0].ipnet, "10.87.0.2/16");
        let stderr = "failed to connect to syslog: Initialization\n";
        let stdout =
            "{\"error\":\"failed to delete container veth eth0: Netlink error: No such device (os error 19)\"}";
        assert!(error_text(stdout, stderr, Some(1)).starts_with("failed to delete container veth eth0"));
        assert_eq!(error_text("", stderr, Some(2)), "exit status 2");
        assert_eq!(error_text("", "boom\n", Some(1)), "boom");
    }
}
