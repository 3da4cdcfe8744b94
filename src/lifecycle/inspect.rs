//! `inspect` of a container: everything known about it, typed, in the shape
//! (and with the field names) of `docker inspect`. Serialize it with serde
//! to get Docker's JSON.

use super::Container;
use crate::container::{Health, Status};
use crate::image::Healthcheck;
use crate::{Error, Rrun};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// A container as `docker inspect` shows it ([`Rrun::inspect`]).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct ContainerInspect {
    /// The full container ID.
    pub id: String,
    /// When it was created (RFC 3339).
    pub created: String,
    /// The command's executable (the first argument).
    pub path: Option<String>,
    /// The command's other arguments.
    pub args: Vec<String>,
    /// Its current state.
    pub state: ContainerState,
    /// The image ID (config digest) it was created from.
    pub image: String,
    /// Its name, with Docker's leading `/`.
    pub name: String,
    /// How many times its restart policy restarted it.
    pub restart_count: u32,
    /// Its json-file log.
    pub log_path: PathBuf,
    /// Its cgroup directories (one per hierarchy on cgroup v1).
    pub cgroup: Vec<PathBuf>,
    /// Its limits and host-side settings.
    pub host_config: HostConfig,
    /// Its network, addresses and published ports.
    pub network_settings: NetworkSettings,
    /// The user's mounts: binds, volumes and tmpfs.
    pub mounts: Vec<MountPoint>,
    /// Its process's configuration.
    pub config: ContainerConfig,
    /// Its overlay directories.
    pub graph_driver: GraphDriver,
}

/// `State` of [`ContainerInspect`].
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct ContainerState {
    /// `created`, `running`, `paused` or `exited`.
    pub status: String,
    /// True while it runs (paused included).
    pub running: bool,
    /// True while it is frozen.
    pub paused: bool,
    /// Always false: a restart happens inside its monitor.
    pub restarting: bool,
    /// The kernel's OOM killer killed a process of it in its last run.
    #[serde(rename = "OOMKilled")]
    pub oom_killed: bool,
    /// Always false.
    pub dead: bool,
    /// Its init's host PID (0 when it does not run).
    pub pid: i32,
    /// Its last exit code (0 before the first).
    pub exit_code: i32,
    /// Why its last start failed (empty when it did not).
    pub error: String,
    /// When it last started.
    pub started_at: Option<String>,
    /// When it last ended.
    pub finished_at: Option<String>,
    /// The PID of the rrun process that watches it, while that process lives.
    pub monitor_pid: Option<i32>,
    /// Its health, when it has a health check.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<Health>,
}

/// `HostConfig` of [`ContainerInspect`]: its limits, namespaces and host settings.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
#[allow(missing_docs)] // Docker's names, each a `run` flag of the same name
pub struct HostConfig {
    pub auto_remove: bool,
    pub init: bool,
    pub readonly_rootfs: bool,
    pub memory: i64,
    pub memory_swap: i64,
    pub memory_reservation: i64,
    pub nano_cpus: i64,
    pub cpu_shares: u64,
    pub cpu_quota: i64,
    pub cpu_period: u64,
    pub cpuset_cpus: String,
    pub pids_limit: Option<i64>,
    pub restart_policy: RestartPolicyConfig,
    pub blkio_weight: u16,
    pub shm_size: i64,
    pub sysctls: BTreeMap<String, String>,
    pub ipc_mode: String,
    pub pid_mode: String,
    #[serde(rename = "UTSMode")]
    pub uts_mode: String,
    pub oom_score_adj: i32,
    pub ulimits: Vec<Ulimit>,
    pub annotations: BTreeMap<String, String>,
    pub security_opt: Vec<String>,
    pub log_config: LogConfig,
    pub network_mode: String,
    pub port_bindings: BTreeMap<String, Vec<PortBinding>>,
    pub dns: Vec<String>,
    pub dns_search: Vec<String>,
    pub dns_options: Vec<String>,
    /// `NAME:IP` entries added to its `/etc/hosts`.
    pub extra_hosts: Vec<String>,
}

/// `HostConfig.RestartPolicy`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct RestartPolicyConfig {
    /// `no`, `always`, `unless-stopped` or `on-failure`.
    pub name: String,
    /// `on-failure`'s limit (0: none).
    pub maximum_retry_count: u32,
}

/// One `--ulimit`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct Ulimit {
    /// Docker's name (`nofile`), if the resource has one.
    pub name: Option<&'static str>,
    /// The soft limit (-1: unlimited).
    pub soft: i64,
    /// The hard limit (-1: unlimited).
    pub hard: i64,
}

/// `HostConfig.LogConfig`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct LogConfig {
    /// The log driver (`json-file`, `none`).
    #[serde(rename = "Type")]
    pub driver: String,
    /// Its options (`max-size`).
    pub config: BTreeMap<String, String>,
}

/// A host address and port a container port is published on.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct PortBinding {
    /// The host address (empty: all).
    pub host_ip: String,
    /// The host port (empty: one chosen at start).
    pub host_port: String,
}

/// `NetworkSettings` of [`ContainerInspect`] (IPv4 only: the IPv6 fields are Docker's empty values).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
#[allow(missing_docs)] // Docker's names
pub struct NetworkSettings {
    pub bridge: String,
    #[serde(rename = "SandboxID")]
    pub sandbox_id: String,
    pub sandbox_key: String,
    /// Published ports while it runs: `PORT/PROTO` → host bindings.
    pub ports: BTreeMap<String, Vec<PortBinding>>,
    pub gateway: String,
    #[serde(rename = "IPAddress")]
    pub ip_address: String,
    #[serde(rename = "IPPrefixLen")]
    pub ip_prefix_len: u8,
    pub mac_address: String,
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    #[serde(rename = "IPv6Gateway")]
    pub ipv6_gateway: String,
    #[serde(rename = "GlobalIPv6Address")]
    pub global_ipv6_address: String,
    #[serde(rename = "GlobalIPv6PrefixLen")]
    pub global_ipv6_prefix_len: u8,
    #[serde(rename = "LinkLocalIPv6Address")]
    pub link_local_ipv6_address: String,
    #[serde(rename = "LinkLocalIPv6PrefixLen")]
    pub link_local_ipv6_prefix_len: u8,
    pub hairpin_mode: bool,
    #[serde(rename = "SecondaryIPAddresses")]
    pub secondary_ip_addresses: Option<Vec<String>>,
    #[serde(rename = "SecondaryIPv6Addresses")]
    pub secondary_ipv6_addresses: Option<Vec<String>>,
    /// Per network it is attached to.
    pub networks: BTreeMap<String, EndpointSettings>,
}

/// One network of [`NetworkSettings`]: the address, gateway and MAC address it has there while it runs.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
#[allow(missing_docs)] // Docker's names
pub struct EndpointSettings {
    #[serde(rename = "IPAMConfig")]
    pub ipam_config: Option<IpamConfig>,
    pub aliases: Option<Vec<String>>,
    pub mac_address: String,
    #[serde(rename = "NetworkID")]
    pub network_id: String,
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    pub gateway: String,
    #[serde(rename = "IPAddress")]
    pub ip_address: String,
    #[serde(rename = "IPPrefixLen")]
    pub ip_prefix_len: u8,
    #[serde(rename = "IPv6Gateway")]
    pub ipv6_gateway: String,
    #[serde(rename = "GlobalIPv6Address")]
    pub global_ipv6_address: String,
    #[serde(rename = "GlobalIPv6PrefixLen")]
    pub global_ipv6_prefix_len: u8,
    pub driver_opts: Option<BTreeMap<String, String>>,
    pub links: Option<Vec<String>>,
}

/// The address asked for with `--ip`.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct IpamConfig {
    /// The IPv4 address.
    #[serde(rename = "IPv4Address")]
    pub ipv4_address: String,
}

/// One mount of [`ContainerInspect`].
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct MountPoint {
    /// `volume`, `bind` or `tmpfs`.
    #[serde(rename = "Type")]
    pub typ: Option<String>,
    /// The volume's name (volumes only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The host path (or `tmpfs`).
    pub source: Option<PathBuf>,
    /// The path in the container.
    pub destination: PathBuf,
    /// The volume driver (volumes only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    /// Always empty, as Docker shows it.
    pub mode: String,
    /// Writable.
    #[serde(rename = "RW")]
    pub rw: bool,
    /// A bind's propagation (empty otherwise).
    pub propagation: String,
}

/// `Config` of [`ContainerInspect`]: its process.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
#[allow(missing_docs)] // Docker's names
pub struct ContainerConfig {
    pub hostname: Option<String>,
    /// `UID:GID` it runs as.
    pub user: Option<String>,
    pub env: Vec<String>,
    pub cmd: Vec<String>,
    /// The image name it was created from.
    pub image: String,
    pub working_dir: Option<PathBuf>,
    pub tty: bool,
    pub labels: BTreeMap<String, String>,
    pub stop_signal: String,
    pub stop_timeout: Option<u64>,
    pub open_stdin: bool,
    /// Its health check, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Healthcheck>,
}

/// `GraphDriver` of [`ContainerInspect`]: the overlay's directories.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct GraphDriver {
    /// Always `overlay`.
    pub name: String,
    /// `UpperDir`, `WorkDir` and `MergedDir`.
    pub data: BTreeMap<String, PathBuf>,
}

impl Rrun {
    /// Everything known about a container, shaped like `docker inspect`
    /// (serialize it to get Docker's JSON).
    pub fn inspect(&self, name_or_id: &str) -> Result<ContainerInspect, Error> {
        let Container { record: c, dir, spec, .. } = self.open_container(name_or_id)?;
        let process = spec.process().as_ref();
        let args = process.and_then(|p| p.args().clone()).unwrap_or_default();
        let resources = spec.linux().as_ref().and_then(|l| l.resources().clone());
        let memory = resources.as_ref().and_then(|r| r.memory().as_ref());
        let cpu = resources.as_ref().and_then(|r| r.cpu().as_ref());
        let nano_cpus = cpu
            .and_then(|c| Some((c.quota()?, c.period()?)))
            .map(|(q, p)| if q > 0 { q as i128 * 1_000_000_000 / p.max(1) as i128 } else { 0 })
            .unwrap_or(0);
        let mounts: Vec<MountPoint> = spec
            .mounts()
            .iter()
            .flatten()
            .filter(|m| {
                // the user's mounts: binds, volumes and tmpfs, not rrun's own /etc files and /dev
                let d = m.destination().to_string_lossy();
                let t = m.typ().as_deref().unwrap_or("");
                matches!(t, "bind" | "tmpfs")
                    && !["/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/dev", "/dev/shm"].contains(&d.as_ref())
            })
            .map(|m| {
                let ro = m.options().iter().flatten().any(|o| o == "ro");
                let propagation = m
                    .options()
                    .iter()
                    .flatten()
                    .find(|o| ["private", "rprivate", "shared", "rshared", "slave", "rslave"].contains(&o.as_str()))
                    .cloned()
                    .unwrap_or_default();
                match c.volumes.iter().find(|v| v.destination == *m.destination()) {
                    Some(v) => MountPoint {
                        typ: Some("volume".into()),
                        name: Some(v.name.clone()),
                        source: m.source().clone(),
                        destination: m.destination().clone(),
                        driver: Some("local".into()),
                        mode: String::new(),
                        rw: !ro,
                        propagation: String::new(),
                    },
                    None => MountPoint {
                        typ: m.typ().clone(),
                        name: None,
                        source: m.source().clone(),
                        destination: m.destination().clone(),
                        driver: None,
                        mode: String::new(),
                        rw: !ro,
                        propagation: if m.typ().as_deref() == Some("bind") { propagation } else { String::new() },
                    },
                }
            })
            .collect();
        let linux = spec.linux().as_ref();
        // a namespace joined by path is another container's (/proc/PID/ns/…): named by its ID
        let others = self.containers().unwrap_or_default();
        let ns_mode = |t: oci_spec::runtime::LinuxNamespaceType| -> String {
            match linux.and_then(|l| l.namespaces().as_ref()).and_then(|n| n.iter().find(|n| n.typ() == t)) {
                None => "host".into(),
                Some(n) => match n.path() {
                    None => "private".into(),
                    Some(p) => {
                        let pid =
                            p.strip_prefix("/proc").ok().and_then(|r| r.iter().next()?.to_str()?.parse::<i32>().ok());
                        match others.iter().find(|o| pid.is_some() && o.pid == pid) {
                            Some(o) => format!("container:{}", o.id),
                            None => format!("path:{}", p.display()),
                        }
                    }
                },
            }
        };
        let shm_size = spec
            .mounts()
            .iter()
            .flatten()
            .find(|m| m.destination() == std::path::Path::new("/dev/shm") && m.typ().as_deref() == Some("tmpfs"))
            .and_then(|m| m.options().iter().flatten().find_map(|o| o.strip_prefix("size=")).map(String::from))
            .and_then(|s| crate::spec::resources::parse_bytes("size", &s).ok())
            .unwrap_or(0);
        let ulimits: Vec<Ulimit> = process
            .and_then(|p| p.rlimits().clone())
            .unwrap_or_default()
            .iter()
            .map(|r| {
                let name = crate::spec::options::ULIMITS.iter().find(|(_, t)| *t == r.typ()).map(|(n, _)| *n);
                let v = |x: u64| if x == u64::MAX { -1 } else { x as i64 };
                Ulimit { name, soft: v(r.soft()), hard: v(r.hard()) }
            })
            .collect();
        let status = match c.status {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Exited => "exited",
        };
        let (policy, retries) = match c.restart_policy {
            crate::RestartPolicy::OnFailure(n) => ("on-failure".to_string(), n),
            p => (p.to_string(), 0),
        };
        let mut ports: BTreeMap<String, Vec<PortBinding>> = BTreeMap::new();
        for p in &c.ports {
            let key = format!("{}/{}", p.container_port, p.protocol);
            let binding = PortBinding { host_ip: p.host_ip.clone(), host_port: p.host_port.to_string() };
            ports.entry(key).or_default().push(binding);
        }
        // Docker's NetworkSettings: per network, the address, gateway and MAC address it has while it runs
        let mut networks = BTreeMap::new();
        for a in &c.network.networks {
            let ep = c.endpoints.iter().find(|e| e.network == a.name);
            let field = |f: fn(&crate::container::Endpoint) -> String| ep.map(f).unwrap_or_default();
            networks.insert(
                a.name.clone(),
                EndpointSettings {
                    ipam_config: a.ip.as_ref().map(|ip| IpamConfig { ipv4_address: ip.clone() }),
                    aliases: ep.map(|e| e.aliases.clone()).filter(|a| !a.is_empty()),
                    mac_address: field(|e| e.mac.clone()),
                    network_id: ep.map(|e| e.network_id.clone()).unwrap_or_default(),
                    endpoint_id: ep.map(|e| format!("{}-{}", &c.id[..12], e.interface)).unwrap_or_default(),
                    gateway: field(|e| e.gateway.clone()),
                    ip_address: field(|e| e.ip.clone()),
                    ip_prefix_len: ep.map(|e| e.prefix_len).unwrap_or(0),
                    ipv6_gateway: String::new(),
                    global_ipv6_address: String::new(),
                    global_ipv6_prefix_len: 0,
                    driver_opts: None,
                    links: None,
                },
            );
        }
        let first = c.endpoints.first();
        let network_mode = match c.network.mode.as_str() {
            "bridge" => c.network.networks.first().map(|a| a.name.clone()).unwrap_or_else(|| "bridge".into()),
            "" => "host".into(),
            m => m.to_string(),
        };
        let mut port_bindings: BTreeMap<String, Vec<PortBinding>> = BTreeMap::new();
        for p in &c.network.publish {
            for i in 0..p.range {
                let key = format!("{}/{}", p.container_port + i, p.protocol);
                let host_port = if p.host_port == 0 { String::new() } else { (p.host_port + i).to_string() };
                port_bindings.entry(key).or_default().push(PortBinding { host_ip: p.host_ip.clone(), host_port });
            }
        }
        let network_settings = NetworkSettings {
            bridge: String::new(),
            sandbox_id: if c.network_state.is_some() { c.id.clone() } else { String::new() },
            sandbox_key: if c.network_state.is_some() {
                crate::network::attach::netns_path(&c.id).display().to_string()
            } else {
                String::new()
            },
            ports,
            gateway: first.map(|e| e.gateway.clone()).unwrap_or_default(),
            ip_address: first.map(|e| e.ip.clone()).unwrap_or_default(),
            ip_prefix_len: first.map(|e| e.prefix_len).unwrap_or(0),
            mac_address: first.map(|e| e.mac.clone()).unwrap_or_default(),
            endpoint_id: first.map(|e| format!("{}-{}", &c.id[..12], e.interface)).unwrap_or_default(),
            // IPv4 only, no hairpin NAT: Docker's keys, with its values for none
            ipv6_gateway: String::new(),
            global_ipv6_address: String::new(),
            global_ipv6_prefix_len: 0,
            link_local_ipv6_address: String::new(),
            link_local_ipv6_prefix_len: 0,
            hairpin_mode: false,
            secondary_ip_addresses: None,
            secondary_ipv6_addresses: None,
            networks,
        };
        let mut log_config = BTreeMap::new();
        if c.log_driver == crate::container::LogDriver::JsonFile {
            log_config.insert("max-size".to_string(), c.log_max_size.to_string());
        }
        let sorted = |m: Option<std::collections::HashMap<String, String>>| -> BTreeMap<String, String> {
            m.unwrap_or_default().into_iter().collect()
        };
        let host_config = HostConfig {
            auto_remove: c.auto_remove,
            init: c.init,
            readonly_rootfs: spec.root().as_ref().and_then(|r| r.readonly()).unwrap_or(false),
            memory: memory.and_then(|m| m.limit()).unwrap_or(0),
            memory_swap: memory.and_then(|m| m.swap()).unwrap_or(0),
            memory_reservation: memory.and_then(|m| m.reservation()).unwrap_or(0),
            nano_cpus: nano_cpus as i64,
            cpu_shares: cpu.and_then(|c| c.shares()).unwrap_or(0),
            cpu_quota: cpu.and_then(|c| c.quota()).unwrap_or(0),
            cpu_period: cpu.and_then(|c| c.period()).unwrap_or(0),
            cpuset_cpus: cpu.and_then(|c| c.cpus().clone()).unwrap_or_default(),
            pids_limit: resources.as_ref().and_then(|r| r.pids().as_ref()).map(|p| p.limit()),
            restart_policy: RestartPolicyConfig { name: policy, maximum_retry_count: retries },
            blkio_weight: resources.as_ref().and_then(|r| r.block_io().as_ref()).and_then(|b| b.weight()).unwrap_or(0),
            shm_size,
            sysctls: sorted(linux.and_then(|l| l.sysctl().clone())),
            ipc_mode: ns_mode(oci_spec::runtime::LinuxNamespaceType::Ipc),
            pid_mode: ns_mode(oci_spec::runtime::LinuxNamespaceType::Pid),
            uts_mode: ns_mode(oci_spec::runtime::LinuxNamespaceType::Uts),
            oom_score_adj: process.and_then(|p| p.oom_score_adj()).unwrap_or(0),
            ulimits,
            annotations: sorted(spec.annotations().clone()),
            security_opt: if process.and_then(|p| p.no_new_privileges()).unwrap_or(false) {
                vec!["no-new-privileges".to_string()]
            } else {
                Vec::new()
            },
            log_config: LogConfig { driver: c.log_driver.to_string(), config: log_config },
            network_mode,
            port_bindings,
            dns: c.network.dns.clone(),
            dns_search: c.network.dns_search.clone(),
            dns_options: c.network.dns_options.clone(),
            extra_hosts: c.network.add_hosts.iter().map(|(n, ip)| format!("{n}:{ip}")).collect(),
        };
        // as Docker: only a container with a health check has these
        let health = c.healthcheck.as_ref().map(|_| c.health.clone().unwrap_or_default());
        Ok(ContainerInspect {
            id: c.id.clone(),
            created: c.created.clone(),
            path: args.first().cloned(),
            args: args.iter().skip(1).cloned().collect(),
            state: ContainerState {
                status: status.to_string(),
                running: c.is_running(),
                paused: c.status == Status::Paused,
                restarting: false,
                oom_killed: c.oom_killed,
                dead: false,
                pid: c.pid.unwrap_or(0),
                exit_code: c.exit_code.unwrap_or(0),
                error: c.error.clone().unwrap_or_default(),
                started_at: c.started_at.clone(),
                finished_at: c.finished_at.clone(),
                monitor_pid: c.monitor_pid.filter(|_| c.monitor_alive()),
                health,
            },
            image: c.image_id.to_string(),
            name: format!("/{}", c.name),
            restart_count: c.restart_count,
            log_path: dir.join("container.log"),
            cgroup: c.cgroup.clone(),
            host_config,
            network_settings,
            mounts,
            config: ContainerConfig {
                hostname: spec.hostname().clone(),
                user: process.map(|p| format!("{}:{}", p.user().uid(), p.user().gid())),
                env: process.and_then(|p| p.env().clone()).unwrap_or_default(),
                cmd: c.command.clone(),
                image: c.image.clone(),
                working_dir: process.map(|p| p.cwd().clone()),
                tty: process.and_then(|p| p.terminal()).unwrap_or(false),
                labels: c.labels.clone().into_iter().collect(),
                stop_signal: c.stop_signal.clone().unwrap_or_else(|| "SIGTERM".into()),
                stop_timeout: c.stop_timeout,
                open_stdin: c.open_stdin,
                healthcheck: c.healthcheck.clone(),
            },
            graph_driver: GraphDriver {
                name: "overlay".into(),
                data: [
                    ("UpperDir".to_string(), dir.join("upper")),
                    ("WorkDir".to_string(), dir.join("work")),
                    ("MergedDir".to_string(), dir.join("rootfs")),
                ]
                .into(),
            },
        })
    }
}
