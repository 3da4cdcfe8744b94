//! Container networking: `--network bridge|NAME|host|none|container:ID`,
//! published ports, `/etc/hosts` and `/etc/resolv.conf`, and the bridge
//! networks of `rrun network …`.
//!
//! How a bridged container is connected, step by step (each one undone when
//! its network is torn down):
//!
//! 1. **a network namespace of its own** — its own interfaces, routes and
//!    ports — made before it starts and held by a file under
//!    `/run/rrun/.netns/` (`launcher::netns`); its init joins it by path;
//! 2. **a veth pair**: two interfaces joined like the ends of a cable, one
//!    (`eth0`) in the container, the other on the host, plugged into
//! 3. **a bridge** (`rrun0` for the default network, `rrun-<ID>` for one made
//!    with `network create`), a virtual switch that also has the network's
//!    gateway address; the container gets an address of the subnet and a
//!    default route through the gateway;
//! 4. **NAT**: outgoing traffic is masqueraded behind the host's address, and
//!    each published port (`-p 127.0.0.1:8080:80`) is a DNAT rule that sends
//!    what arrives at the host's port to the container's;
//! 5. **DNS**: on networks made with `network create`, aardvark-dns answers
//!    at the gateway for the names (and `--network-alias`es) of the
//!    containers on it; the default network has no DNS (Docker's rule).
//!
//! Steps 2–5 are Podman's network stack, driven through its documented
//! interface: `netavark setup|teardown NETNS` with the network options as
//! JSON on stdin (`netavark`). rrun writes no firewall rule itself. Choosing
//! addresses is the caller's job with netavark, as it is Podman's: `ipam`
//! keeps a lease file per network. A host port is held by rrun (a bound
//! socket, in the process that watches the container) while it is published,
//! so another container or program cannot take it meanwhile.
//!
//! Network definitions belong to a store (`networks/<name>.json`); what is
//! set up lives host-wide under `/run/rrun/.networks/` — netavark's and
//! aardvark-dns's state, the leases, and per container the file that says
//! how to tear its network down (`attach`), written before any of it exists.

crate::steps! {
    PORTS_RESERVE: "ports_reserve" in Namespaces, syscall "socket + bind (the host ports)", source "src/network/attach.rs, src/network/ports.rs",
        what "Hold the published host ports",
        why "A published port is a forwarding rule, not a listening socket: nothing would stop another program from taking the port meanwhile. rrun binds each host port itself and holds it while the container runs, so a port in use is refused now, before anything is made.";
    ADDRESS_LEASE: "address_lease" in Namespaces, syscall "write /run/rrun/.networks/ipam/…", source "src/network/attach.rs, src/network/ipam.rs",
        what "Lease the container an address on its network",
        why "Each network is a subnet behind a bridge; the container gets a free address of it, written in a lease file shared by every rrun on the host so two containers never get the same one.";
    NETNS_CREATE: "netns_create" in Namespaces, syscall "unshare(CLONE_NEWNET) + mount(MS_BIND) on /run/rrun/.netns/ID", source "src/network/attach.rs, src/launcher/netns.rs",
        what "Make the container's network namespace, held by a file",
        why "A network namespace is a whole network stack of its own: interfaces, routes, firewall, ports. Bind-mounted on a file (as `ip netns add` does), it lives before the container starts and after it exits, so the network can be set up first and torn down last, and the init joins it by path.";
    NETAVARK_SETUP: "netavark_setup" in Namespaces, syscall "fork + execve netavark setup NETNS", source "src/network/attach.rs, src/network/netavark.rs",
        what "Plug the namespace into the bridge (netavark)",
        why "netavark, Podman's network stack, makes a veth pair (two interfaces joined like a cable), moves one end into the namespace as eth0 and plugs the other into the network's bridge, gives eth0 its address and a default route through the gateway, and adds the firewall rules: masquerading for outgoing traffic, DNAT for each published port, and aardvark-dns to answer names on user-defined networks.";
    NETAVARK_TEARDOWN: "netavark_teardown" in Cleanup, syscall "fork + execve netavark teardown NETNS + umount2", source "src/network/attach.rs",
        what "Unplug the namespace and remove it (netavark)",
        why "The veth pair, the port rules (and the bridge, with the network's last container) go; the namespace file is unmounted, the address lease and the held host ports are released. A killed rrun leaves its teardown file, and the next command does this for it.";
    PASTA_NETNS: "pasta_netns" in Namespaces, syscall "fork + unshare(CLONE_NEWNET) + capset(0)", source "src/network/pasta.rs, src/launcher/netns.rs",
        what "Make the container's network namespace, held by a process (rootless)",
        why "An ordinary user may make a network namespace inside their user namespace but not bind-mount it on a file (the host's mount namespace is root's), so a small process holds it, with no capabilities left so that pasta may open its /proc/PID/ns/net; the container's init joins it by that path.";
    PASTA_START: "pasta_start" in Namespaces, syscall "fork + execve pasta --config-net --netns /proc/PID/ns/net", source "src/network/pasta.rs",
        what "Connect the namespace to the host through pasta (rootless)",
        why "A user cannot make veths, bridges or firewall rules. pasta puts a tap interface into the namespace with the host's address and routes, and carries the container's connections through ordinary sockets of the user's on the host; each published port is a socket pasta listens on (-t, -u) and forwards in.";
    PASTA_STOP: "pasta_stop" in Cleanup, syscall "kill(SIGKILL) pasta and the holder", source "src/network/pasta.rs",
        what "Stop pasta and release the namespace (rootless)",
        why "pasta and the holder end with the container: their PIDs are in files beside the teardown file, written before they start, so the next command ends them if rrun was killed.";
}

pub mod attach;
pub mod config;
pub mod etc;
pub mod ipam;
pub mod ipv4;
pub mod netavark;
pub mod pasta;
pub mod ports;

use crate::spec::network::{valid_network_name, DEFAULT_NETWORK};
use crate::store::Store;
use config::HostConfig;
use ipv4::Ipv4Net;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

/// Host-wide state of rrun's networks: netavark's configuration directory,
/// the leases, the per-container teardown files, the lock.
pub const RUN_DIR: &str = "/run/rrun/.networks";
/// Where containers' network namespaces are held (one file each, by container ID).
pub const NETNS_DIR: &str = "/run/rrun/.netns";

/// Where this process keeps the containers' teardown files and the network
/// lock: [`RUN_DIR`], or an ordinary user's own under their runtime directory.
pub fn run_dir() -> PathBuf {
    match crate::rootless::active() {
        Some(r) => r.runtime_dir.join("networks"),
        None => PathBuf::from(RUN_DIR),
    }
}

/// Where containers' network namespaces are named: [`NETNS_DIR`], or an
/// ordinary user's (links to the `/proc/PID/ns/net` of the holders).
pub fn netns_dir() -> PathBuf {
    match crate::rootless::active() {
        Some(r) => r.runtime_dir.join("netns"),
        None => PathBuf::from(NETNS_DIR),
    }
}

/// Why a network cannot be set up, torn down, created or removed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetworkError {
    /// No network of this name or ID.
    #[error("network {0} not found")]
    NotFound(String),
    /// A network of this name exists already.
    #[error("network with name {0} already exists")]
    Exists(String),
    /// Removing a network that containers are connected to.
    #[error("error while removing network: network {name} is in use by container(s) {containers}")]
    InUse {
        /// The network.
        name: String,
        /// The containers that use it.
        containers: String,
    },
    /// Removing `bridge`, `host` or `none`.
    #[error("{0} is a pre-defined network and cannot be removed")]
    Predefined(String),
    /// A network name or option that is not allowed.
    #[error("invalid network {name:?}: {reason}")]
    Invalid {
        /// The network.
        name: String,
        /// What is wrong, or why it failed.
        reason: String,
    },
    #[error(
        "bridge networking needs netavark and aardvark-dns: install them (apt-get install netavark aardvark-dns), \
         or use --network host or none ({0} not found)"
    )]
    /// netavark or aardvark-dns is not installed (the program not found).
    Missing(String),
    /// netavark failed; its message.
    #[error("netavark {verb} of container {container}: {message}")]
    Netavark {
        /// setup or teardown.
        verb: String,
        /// The container.
        container: String,
        /// What netavark said.
        message: String,
    },
    /// A host port cannot be published (in use, no such address).
    #[error("host port {address}: {reason}")]
    Port {
        /// The host address and port.
        address: String,
        /// What is wrong, or why it failed.
        reason: String,
    },
    /// A network's subnet has no free address.
    #[error("network {0} has no free address left")]
    Full(String),
    /// An `--ip` that does not fit the network or is taken.
    #[error("address {ip} on network {network}: {reason}")]
    Address {
        /// The address asked for.
        ip: String,
        /// The network.
        network: String,
        /// What is wrong, or why it failed.
        reason: String,
    },
    /// A network's configuration file does not parse.
    #[error("network configuration {}: {reason}", path.display())]
    Config {
        /// The file or directory.
        path: PathBuf,
        /// What is wrong, or why it failed.
        reason: String,
    },
    /// A request that conflicts with the host or another network, in Docker's words.
    #[error("{0}")]
    Conflict(String),
    /// A network's subnet or interface is taken on the host (`reason` says
    /// by what): it needs another subnet, which `network create --subnet`
    /// or `default_subnet` in the host's network configuration (`config`) gives.
    #[error("network {network} ({subnet} on {interface}) cannot be set up: {reason}")]
    SubnetInUse {
        /// The network.
        network: String,
        /// Its subnet.
        subnet: String,
        /// Its bridge interface.
        interface: String,
        /// What holds the subnet or interface.
        reason: String,
        /// The host's network configuration file.
        config: PathBuf,
    },
    /// A system call (netns, mount, process) failed.
    #[error("{op}: {reason}")]
    Sys {
        /// The operation that failed.
        op: String,
        /// What is wrong, or why it failed.
        reason: String,
    },
    /// A file operation failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Reading or writing the store failed.
    #[error(transparent)]
    Store(Box<crate::store::StoreError>),
}

impl From<crate::store::StoreError> for NetworkError {
    fn from(e: crate::store::StoreError) -> Self {
        NetworkError::Store(Box::new(e))
    }
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> NetworkError + '_ {
    move |source| NetworkError::Io { path: path.to_path_buf(), source }
}

impl From<crate::launcher::LaunchError> for NetworkError {
    fn from(e: crate::launcher::LaunchError) -> Self {
        NetworkError::Sys { op: "network namespace".into(), reason: e.to_string() }
    }
}

/// A bridge network, as `networks/<name>.json` keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkDef {
    pub name: String,
    /// 64 hex digits.
    pub id: String,
    pub created: String,
    /// `bridge` (`host` and `null` for the pre-defined `host` and `none`).
    pub driver: String,
    /// The bridge interface on the host.
    pub interface: String,
    pub subnet: Ipv4Net,
    pub gateway: Ipv4Addr,
    /// No route out (no gateway to the host's networks, no NAT, no published ports).
    pub internal: bool,
    /// aardvark-dns answers for the containers' names.
    pub dns_enabled: bool,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

impl NetworkDef {
    /// The name netavark knows it by: unique on the host (netavark names its
    /// firewall chains and aardvark-dns files after it, and other stores and
    /// Podman use netavark too).
    pub fn netavark_name(&self) -> String {
        format!("rrun-{}", &self.id[..12])
    }

    /// The pre-defined `bridge`, `host` and `none` networks.
    pub fn is_predefined(&self) -> bool {
        matches!(self.name.as_str(), DEFAULT_NETWORK | "host" | "none")
    }
}

/// The default bridge network, as the host's configuration says (the same
/// in every store: its leases are shared).
pub fn default_network(cfg: &HostConfig) -> NetworkDef {
    let id = crate::digest::Digest::of(
        format!("rrun default bridge network {} {}", cfg.default_subnet, cfg.default_interface).as_bytes(),
    );
    NetworkDef {
        name: DEFAULT_NETWORK.into(),
        id: id.hex().to_string(),
        created: String::new(),
        driver: "bridge".into(),
        interface: cfg.default_interface.clone(),
        subnet: cfg.default_subnet,
        gateway: cfg.default_subnet.nth(1).expect("a /30 or larger subnet"),
        internal: false,
        dns_enabled: false,
        labels: BTreeMap::new(),
    }
}

/// The pre-defined `host` and `none` networks, for `network ls|inspect`.
pub(crate) fn special_network(name: &str, driver: &str) -> NetworkDef {
    NetworkDef {
        name: name.into(),
        id: crate::digest::Digest::of(format!("rrun {name} network").as_bytes()).hex().to_string(),
        created: String::new(),
        driver: driver.into(),
        interface: String::new(),
        subnet: Ipv4Net::new(Ipv4Addr::UNSPECIFIED, 0).expect("0.0.0.0/0"),
        gateway: Ipv4Addr::UNSPECIFIED,
        internal: false,
        dns_enabled: false,
        labels: BTreeMap::new(),
    }
}

/// `networks/` of a store.
fn networks_dir(store: &Store) -> PathBuf {
    store.root().join("networks")
}

pub(crate) fn network_path(store: &Store, name: &str) -> PathBuf {
    networks_dir(store).join(format!("{name}.json"))
}

/// The store's own networks (not the pre-defined ones), by name.
pub(crate) fn list_own(store: &Store) -> Result<Vec<NetworkDef>, NetworkError> {
    let dir = networks_dir(store);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(NetworkError::Io { path: dir, source: e }),
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let path = e.path();
        if path.extension().is_some_and(|x| x == "json") && !e.file_name().to_string_lossy().starts_with('.') {
            let bytes = std::fs::read(&path).map_err(io_error(&path))?;
            let def: NetworkDef = serde_json::from_slice(&bytes).map_err(|e| NetworkError::Io {
                path: path.clone(),
                source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
            })?;
            out.push(def);
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Finds a network of the store by name, full ID or unique ID prefix (the pre-defined ones too).
pub(crate) fn find(store: &Store, cfg: &HostConfig, name_or_id: &str) -> Result<NetworkDef, NetworkError> {
    let mut all = vec![default_network(cfg), special_network("host", "host"), special_network("none", "null")];
    all.extend(list_own(store)?);
    if let Some(n) = all.iter().find(|n| n.name == name_or_id || n.id == name_or_id) {
        return Ok(n.clone());
    }
    let mut prefixed = all.iter().filter(|n| !name_or_id.is_empty() && n.id.starts_with(name_or_id));
    match (prefixed.next(), prefixed.next()) {
        (Some(n), None) => Ok(n.clone()),
        _ => Err(NetworkError::NotFound(name_or_id.to_string())),
    }
}

/// A bridge network a container can join, by name.
pub(crate) fn bridge(store: &Store, cfg: &HostConfig, name: &str) -> Result<NetworkDef, NetworkError> {
    let n = find(store, cfg, name)?;
    if n.driver != "bridge" {
        return Err(NetworkError::Conflict(format!(
            "network {name} is the {} network: use --network {name}, which joins no bridge",
            n.driver
        )));
    }
    Ok(n)
}

/// What `network create` asks for.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct CreateNetwork {
    /// The network's name.
    pub name: String,
    /// Only `bridge`.
    pub driver: Option<String>,
    /// None: a free /24 of the configuration's pool.
    pub subnet: Option<String>,
    /// None: the subnet's first address.
    pub gateway: Option<String>,
    /// `--internal`: no route out of the network.
    pub internal: bool,
    /// `--label`s.
    pub labels: BTreeMap<String, String>,
}

/// A network some store defined, registered host-wide (`subnets/<ID>.json`
/// under [`RUN_DIR`]) so that networks of other stores get other subnets.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Registered {
    store: PathBuf,
    name: String,
    subnet: Ipv4Net,
}

fn registry_dir() -> PathBuf {
    Path::new(RUN_DIR).join("subnets")
}

/// The networks other stores defined (entries whose network is gone are dropped).
fn registered_elsewhere(store: &Store) -> Vec<Registered> {
    let Ok(entries) = std::fs::read_dir(registry_dir()) else { return Vec::new() };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let Some(r) = std::fs::read(e.path()).ok().and_then(|b| serde_json::from_slice::<Registered>(&b).ok()) else {
            continue;
        };
        let id = e.file_name().to_string_lossy().trim_end_matches(".json").to_string();
        let def = std::fs::read(r.store.join("networks").join(format!("{}.json", r.name)))
            .ok()
            .and_then(|b| serde_json::from_slice::<NetworkDef>(&b).ok());
        if def.is_none_or(|d| d.id != id) {
            let _ = std::fs::remove_file(e.path());
        } else if r.store != store.root() {
            out.push(r);
        }
    }
    out
}

pub(crate) fn register(store: &Store, def: &NetworkDef) {
    let r = Registered { store: store.root().to_path_buf(), name: def.name.clone(), subnet: def.subnet };
    let dir = registry_dir();
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(format!("{}.json", def.id));
    if let Err(e) = crate::store::write_file_atomic(&path, &serde_json::to_vec(&r).expect("serializes"), false) {
        tracing::warn!(network = %def.name, error = %e, "registering the network's subnet");
    }
}

pub(crate) fn unregister(def: &NetworkDef) {
    let _ = std::fs::remove_file(registry_dir().join(format!("{}.json", def.id)));
}

/// The subnets a new network must not overlap: the store's networks, the
/// default network, other stores' networks, the networks set up on the host
/// now, and the host's routes.
fn taken_subnets(store: &Store, cfg: &HostConfig) -> Result<Vec<(Ipv4Net, String)>, NetworkError> {
    let mut taken: Vec<(Ipv4Net, String)> = vec![(cfg.default_subnet, "the default bridge network".into())];
    for n in list_own(store)? {
        taken.push((n.subnet, format!("network {}", n.name)));
    }
    for r in registered_elsewhere(store) {
        taken.push((r.subnet, format!("network {} of the store {}", r.name, r.store.display())));
    }
    for a in ipam::active(Path::new(RUN_DIR)) {
        taken.push((a.subnet, format!("network {} set up on this host", a.interface)));
    }
    for r in ipv4::host_routes() {
        taken.push((r.destination, format!("the host's route on {}", r.interface)));
    }
    Ok(taken)
}

pub(crate) fn create_locked(store: &Store, cfg: &HostConfig, req: &CreateNetwork) -> Result<NetworkDef, NetworkError> {
    let name = req.name.clone();
    let invalid = |reason: String| NetworkError::Invalid { name: name.clone(), reason };
    if !valid_network_name(&name) {
        return Err(invalid("a name is [a-zA-Z0-9][a-zA-Z0-9_.-]*, at most 128 characters".into()));
    }
    if let Some(d) = req.driver.as_deref().filter(|d| *d != "bridge") {
        return Err(invalid(format!("driver {d:?} is not supported: rrun has the bridge driver")));
    }
    if find(store, cfg, &name).is_ok_and(|n| n.name == name) {
        return Err(NetworkError::Exists(name));
    }
    let taken = taken_subnets(store, cfg)?;
    let subnet = match &req.subnet {
        Some(s) => {
            let net: Ipv4Net = s.parse().map_err(|e| invalid(format!("--subnet {s}: {e} (rrun networks are IPv4)")))?;
            if net.prefix() > 30 || net.prefix() < 8 {
                return Err(invalid(format!("--subnet {s}: from /8 to /30")));
            }
            if let Some((_, what)) = taken.iter().find(|(t, _)| t.overlaps(&net)) {
                return Err(invalid(format!("--subnet {s} overlaps {what}")));
            }
            net
        }
        None => (0..)
            .map_while(|i| cfg.subnet_pool.subnet(24, i))
            .find(|c| !taken.iter().any(|(t, _)| t.overlaps(c)))
            .ok_or_else(|| invalid(format!("no free /24 is left in {} (subnet_pool)", cfg.subnet_pool)))?,
    };
    let gateway = match &req.gateway {
        Some(g) => {
            let ip: Ipv4Addr = g.parse().map_err(|_| invalid(format!("--gateway {g}: not an IPv4 address")))?;
            if !subnet.contains(ip) || ip == subnet.network() || ip == subnet.broadcast() {
                return Err(invalid(format!("--gateway {g} is not a host address of {subnet}")));
            }
            ip
        }
        None => subnet.nth(1).expect("a /30 or larger subnet"),
    };
    let id = crate::container::new_id();
    let def = NetworkDef {
        name: name.clone(),
        interface: format!("rrun-{}", &id[..10]),
        id,
        created: crate::container::now_rfc3339(),
        driver: "bridge".into(),
        subnet,
        gateway,
        internal: req.internal,
        dns_enabled: true,
        labels: req.labels.clone(),
    };
    let dir = networks_dir(store);
    std::fs::create_dir_all(&dir).map_err(io_error(&dir))?;
    store.write_atomic(&network_path(store, &name), &serde_json::to_vec_pretty(&def).expect("serializes"))?;
    Ok(def)
}

/// A network as `network ls` lists it and `network inspect` shows it, with
/// Docker's field names; `Containers` are those of the store that use it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct NetworkInfo {
    /// Its name.
    pub name: String,
    /// Its 64-hex ID.
    pub id: String,
    /// When it was created (RFC 3339).
    pub created: String,
    /// Always `local`.
    pub scope: &'static str,
    /// `bridge`, `host` or `null`.
    pub driver: String,
    /// Always false: rrun networks are IPv4.
    #[serde(rename = "EnableIPv6")]
    pub enable_ipv6: bool,
    /// Docker's `IPAM` object: the subnet and gateway.
    #[serde(rename = "IPAM")]
    pub ipam: serde_json::Value,
    /// No route out of the network.
    pub internal: bool,
    /// Always false (a swarm notion).
    pub attachable: bool,
    /// Always false (a swarm notion).
    pub ingress: bool,
    /// The store's containers on it, by ID: name, MAC and addresses.
    pub containers: BTreeMap<String, serde_json::Value>,
    /// Driver options.
    pub options: BTreeMap<String, String>,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// rrun's: the bridge interface on the host, and whether aardvark-dns serves it.
    pub network_interface: String,
    /// aardvark-dns resolves the container names on it.
    #[serde(rename = "DNSEnabled")]
    pub dns_enabled: bool,
}

impl NetworkInfo {
    pub(crate) fn of(n: &NetworkDef, containers: &[crate::container::ContainerRecord]) -> NetworkInfo {
        let bridge = n.driver == "bridge";
        let mut users = BTreeMap::new();
        for c in containers {
            let Some(att) = c.network.networks.iter().find(|a| a.name == n.name) else { continue };
            let ep = c.endpoints.iter().find(|e| e.network == n.name);
            users.insert(
                c.id.clone(),
                serde_json::json!({
                    "Name": c.name,
                    "MacAddress": ep.map(|e| e.mac.clone()).unwrap_or_default(),
                    "IPv4Address": ep.map(|e| format!("{}/{}", e.ip, e.prefix_len)).unwrap_or_default(),
                    "IPv6Address": "",
                    "Aliases": att.aliases,
                }),
            );
        }
        let mut options = BTreeMap::new();
        if bridge {
            options.insert("com.docker.network.bridge.name".to_string(), n.interface.clone());
        }
        NetworkInfo {
            name: n.name.clone(),
            id: n.id.clone(),
            created: n.created.clone(),
            scope: "local",
            driver: n.driver.clone(),
            enable_ipv6: false,
            ipam: if bridge {
                serde_json::json!({"Driver": "default", "Options": {}, "Config": [{"Subnet": n.subnet.to_string(), "Gateway": n.gateway.to_string()}]})
            } else {
                serde_json::json!({"Driver": "default", "Options": null, "Config": []})
            },
            internal: n.internal,
            attachable: false,
            ingress: false,
            containers: users,
            options,
            labels: n.labels.clone(),
            network_interface: n.interface.clone(),
            dns_enabled: n.dns_enabled,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store in a new temporary directory, removed when the returned guard drops.
    fn temp_store(tag: &str) -> (Store, PathBuf, tempfile::TempDir) {
        let tmp = tempfile::Builder::new().prefix(&format!("rrun-network-unit-{tag}-")).tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        (Store::open(&dir).unwrap(), dir, tmp)
    }

    #[test]
    fn networks_get_free_subnets_and_are_found() {
        let (store, _, _tmp) = temp_store("create");
        let cfg = HostConfig::default();
        let req = |name: &str| CreateNetwork { name: name.into(), ..Default::default() };
        let a = create_locked(&store, &cfg, &req("a")).unwrap();
        let b = create_locked(&store, &cfg, &req("b")).unwrap();
        assert!(cfg.subnet_pool.contains(a.subnet.network()) && a.subnet.prefix() == 24);
        assert!(!a.subnet.overlaps(&b.subnet), "{} {}", a.subnet, b.subnet);
        assert_eq!(a.gateway, a.subnet.nth(1).unwrap());
        assert!(a.dns_enabled && !a.internal && a.interface.len() <= 15 && a.interface.starts_with("rrun-"));
        assert_eq!(find(&store, &cfg, "a").unwrap(), a);
        assert_eq!(find(&store, &cfg, &a.id[..10]).unwrap(), a);
        assert_eq!(find(&store, &cfg, "bridge").unwrap().interface, "rrun0");
        assert!(matches!(find(&store, &cfg, "nosuch"), Err(NetworkError::NotFound(_))));
        assert!(matches!(create_locked(&store, &cfg, &req("a")), Err(NetworkError::Exists(_))));
        assert!(matches!(create_locked(&store, &cfg, &req("bridge")), Err(NetworkError::Exists(_))));
        let bad = |subnet: &str, gateway: Option<&str>| {
            let r = CreateNetwork {
                name: "c".into(),
                subnet: Some(subnet.into()),
                gateway: gateway.map(String::from),
                ..Default::default()
            };
            create_locked(&store, &cfg, &r).unwrap_err().to_string()
        };
        assert!(bad(&a.subnet.to_string(), None).contains("overlaps network a"));
        assert!(bad("10.87.1.0/24", None).contains("overlaps the default bridge network"));
        assert!(bad("10.60.0.1/24", None).contains("host bits"));
        assert!(bad("10.60.0.0/24", Some("10.61.0.1")).contains("not a host address"));
        assert!(bad("10.60.0.0/31", None).contains("/30"));
        let named = CreateNetwork { name: "-x".into(), ..Default::default() };
        assert!(create_locked(&store, &cfg, &named).is_err());
        let driver = CreateNetwork { name: "m".into(), driver: Some("macvlan".into()), ..Default::default() };
        assert!(create_locked(&store, &cfg, &driver).unwrap_err().to_string().contains("bridge driver"));
        assert!(bridge(&store, &cfg, "host").is_err() && bridge(&store, &cfg, "a").is_ok());
    }

    #[test]
    fn the_default_network_is_the_same_everywhere() {
        let cfg = HostConfig::default();
        let (a, b) = (default_network(&cfg), default_network(&cfg));
        assert_eq!(a, b);
        assert_eq!((a.subnet.to_string(), a.gateway.to_string()), ("10.87.0.0/16".into(), "10.87.0.1".into()));
        assert!(!a.dns_enabled, "names are not resolved on the default network, as with Docker");
        assert_eq!(a.netavark_name().len(), 17);
        let other = HostConfig { default_subnet: "10.99.0.0/24".parse().unwrap(), ..HostConfig::default() };
        assert_ne!(default_network(&other).id, a.id, "another subnet is another network (its own leases)");
    }
}
