//! Setting a container's bridge networks up when it starts, and tearing
//! them down when it ends — or, after a crash, when the next rrun command
//! finds them. Records before resources:
//!
//! 1. the container's record names its teardown file (lifecycle);
//! 2. under the network lock, addresses are leased (`ipam`) and the
//!    teardown file `containers/<ID>.json` is written: the netavark options
//!    (networks, addresses, ports) and the namespace's path;
//! 3. the namespace is made (`launcher::netns`), then `netavark setup`.
//!
//! [`down`] reads the teardown file and undoes all of it, whatever exists:
//! `netavark teardown`; if that fails (the namespace or its interface is
//! already gone), a fresh namespace is set up as the container's was and
//! torn down again, so netavark itself removes the bridge and rules it
//! made; then the namespace, the leases and the file go.

use super::config::HostConfig;
use super::netavark::{self, Info, Options, PerNetwork};
use super::ports::{self, Reservation};
use super::{ipam, NetworkDef, NetworkError, NETNS_DIR, RUN_DIR};
use super::{netns_dir, run_dir};
use crate::container::{Endpoint, NetworkAttachment, PortMapping};
use crate::launcher::netns;
use crate::spec::PortRequest;
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tracing::{debug, info, warn};

/// The host-wide network lock: held while leases and teardown files change
/// and while netavark runs (netavark itself takes none around its bridges).
pub struct NetLock {
    _lock: nix::fcntl::Flock<std::fs::File>,
}

impl NetLock {
    pub fn take() -> Result<NetLock, NetworkError> {
        let sys = |op: &str, e: String| NetworkError::Sys { op: op.into(), reason: e };
        let dir = run_dir();
        std::fs::create_dir_all(&dir).map_err(|e| sys(&format!("create {}", dir.display()), e.to_string()))?;
        let path = dir.join("lock");
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| sys(&format!("open {}", path.display()), e.to_string()))?;
        let lock = nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusive)
            .map_err(|(_, e)| sys(&format!("lock {}", path.display()), e.to_string()))?;
        Ok(NetLock { _lock: lock })
    }
}

/// What [`down`] needs to undo a container's networks, written before they exist.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    /// The store of the container (a state whose container is gone from it is an orphan).
    pub store: PathBuf,
    pub container: String,
    pub netns: PathBuf,
    /// IDs of the networks it has leases on.
    pub networks: Vec<String>,
    pub options: Options,
    /// Connected by pasta (rootless), not netavark: see `pasta`.
    #[serde(default)]
    pub pasta: bool,
}

/// The teardown file of a container.
pub fn state_path(container: &str) -> PathBuf {
    run_dir().join("containers").join(format!("{container}.json"))
}

/// The file that holds a container's network namespace.
pub fn netns_path(container: &str) -> PathBuf {
    netns_dir().join(container)
}

/// netavark's `--config` directory (aardvark-dns's files), made when missing.
fn config_dir() -> PathBuf {
    let dir = Path::new(RUN_DIR).join("netavark");
    let _ = std::fs::create_dir_all(&dir);
    dir
}

fn read_state(container: &str) -> Option<State> {
    serde_json::from_slice(&std::fs::read(state_path(container)).ok()?).ok()
}

pub(super) fn write_state(s: &State) -> Result<(), NetworkError> {
    let path = state_path(&s.container);
    let io = |e: std::io::Error| NetworkError::Sys { op: format!("write {}", path.display()), reason: e.to_string() };
    std::fs::create_dir_all(path.parent().expect("a directory")).map_err(io)?;
    crate::store::write_file_atomic(&path, &serde_json::to_vec_pretty(s).expect("serializes"), false).map_err(io)
}

/// What a container joins when it starts.
#[derive(Debug, Clone)]
pub struct Plan {
    pub store: PathBuf,
    pub container: String,
    pub name: String,
    /// The networks, in order (`eth0` on the first, which has the default route).
    pub networks: Vec<(NetworkDef, NetworkAttachment)>,
    pub publish: Vec<PortRequest>,
}

/// A container's networks, set up.
#[derive(Debug)]
pub struct Up {
    /// The published host ports, held until the container's network is torn down.
    #[allow(dead_code)] // never read: holding it keeps the ports; dropping it frees them
    pub reservation: Reservation,
    pub endpoints: Vec<Endpoint>,
    pub ports: Vec<PortMapping>,
    /// The networks' DNS servers (aardvark-dns), for resolv.conf.
    pub dns_servers: Vec<IpAddr>,
}

/// Refuses a network the host already routes elsewhere: a subnet on
/// another interface (a host network, another store's or Podman's bridge),
/// or another network set up now with the same subnet or interface.
fn check_host(net: &NetworkDef) -> Result<(), NetworkError> {
    let clash = |reason: String| NetworkError::SubnetInUse {
        network: net.name.clone(),
        subnet: net.subnet.to_string(),
        interface: net.interface.clone(),
        reason,
        config: HostConfig::path(),
    };
    if let Some(r) = super::ipv4::host_routes()
        .into_iter()
        .find(|r| r.interface != net.interface && r.destination.overlaps(&net.subnet))
    {
        return Err(clash(format!("the host routes {} through {}", r.destination, r.interface)));
    }
    for (id, l) in ipam::active_by_id(Path::new(RUN_DIR)) {
        if id != net.id && (l.subnet.overlaps(&net.subnet) || l.interface == net.interface) {
            return Err(clash(format!("another network is set up with {} on {}", l.subnet, l.interface)));
        }
    }
    Ok(())
}

/// Sets up the container's networks (see the module's steps). On failure,
/// whatever was made is torn down again before the error returns.
pub fn up(cfg: &HostConfig, plan: &Plan) -> Result<Up, NetworkError> {
    cfg.netavark()?;
    if plan.networks.iter().any(|(n, _)| n.dns_enabled) {
        cfg.aardvark_dns()?;
    }
    if !plan.publish.is_empty() && plan.networks.iter().all(|(n, _)| n.internal) {
        return Err(NetworkError::Conflict(format!(
            "ports cannot be published from internal network {}: it has no way in from the host",
            plan.networks[0].0.name
        )));
    }
    if !plan.publish.is_empty() {
        crate::step!(super::PORTS_RESERVE, ports = plan.publish.len());
    }
    let (reservation, forwards, ports) = ports::reserve(&plan.publish)?;
    let lock = NetLock::take()?;
    let result = up_locked(cfg, plan, forwards);
    match result {
        Ok((endpoints, dns_servers)) => Ok(Up { reservation, endpoints, ports, dns_servers }),
        Err(e) => {
            drop(lock);
            if let Err(e2) = down(cfg, &plan.container, false) {
                warn!(container = %plan.container, error = %e2, "tearing down a network whose setup failed");
            }
            Err(e)
        }
    }
}

fn up_locked(
    cfg: &HostConfig,
    plan: &Plan,
    forwards: Vec<ports::Forward>,
) -> Result<(Vec<Endpoint>, Vec<IpAddr>), NetworkError> {
    let run = Path::new(RUN_DIR);
    let cid = &plan.container;
    for (n, _) in &plan.networks {
        check_host(n)?;
    }
    let options = Options {
        container_id: cid.clone(),
        container_name: plan.name.clone(),
        networks: Default::default(),
        network_info: Default::default(),
        port_mappings: forwards,
    };
    let netns = netns_path(cid);
    let mut state = State {
        store: plan.store.clone(),
        container: cid.clone(),
        netns: netns.clone(),
        networks: Vec::new(),
        options,
        pasta: false,
    };
    for (i, (net, att)) in plan.networks.iter().enumerate() {
        let wanted = att.ip.as_deref().map(str::parse::<Ipv4Addr>).transpose().map_err(|_| NetworkError::Address {
            ip: att.ip.clone().unwrap_or_default(),
            network: net.name.clone(),
            reason: "not an IPv4 address".into(),
        })?;
        let ip = ipam::allocate(run, net, cid, wanted).inspect_err(|_| {
            for id in &state.networks {
                let _ = ipam::release(run, id, cid);
            }
        })?;
        crate::step!(super::ADDRESS_LEASE, network = %net.name, ip = %ip);
        state.networks.push(net.id.clone());
        state.options.networks.insert(net.netavark_name(), per_network(plan, net, att, i, ip));
        state.options.network_info.insert(net.netavark_name(), Info::of(net));
    }
    // the teardown file before the namespace, the interfaces and the rules
    write_state(&state).inspect_err(|_| {
        for id in &state.networks {
            let _ = ipam::release(run, id, cid);
        }
    })?;
    if netns.exists() {
        netns::remove(&netns)?;
    }
    crate::step!(super::NETNS_CREATE, path = %netns.display());
    netns::create(&netns)?;
    crate::step!(
        super::NETAVARK_SETUP,
        netns = %netns.display(),
        networks = %state.options.networks.keys().cloned().collect::<Vec<_>>().join(","),
        ports = state.options.port_mappings.len()
    );
    let status = netavark::setup(cfg, &config_dir(), &netns, &state.options)?;
    let mut endpoints = Vec::new();
    let mut dns = Vec::new();
    for (net, att) in &plan.networks {
        let name = net.netavark_name();
        let per = &state.options.networks[&name];
        let st = status.get(&name).cloned().unwrap_or_default();
        dns.extend(st.dns_server_ips.clone().unwrap_or_default());
        endpoints.push(endpoint(plan, net, att, per, &st));
    }
    dns.dedup();
    info!(container = %cid, networks = plan.networks.len(), "network set up");
    Ok((endpoints, dns))
}

fn per_network(plan: &Plan, net: &NetworkDef, att: &NetworkAttachment, index: usize, ip: Ipv4Addr) -> PerNetwork {
    PerNetwork {
        interface_name: format!("eth{index}"),
        static_ips: vec![ip],
        // the container's name is answered anyway; its short ID and aliases too
        aliases: if net.dns_enabled {
            std::iter::once(plan.container[..12].to_string()).chain(att.aliases.iter().cloned()).collect()
        } else {
            Vec::new()
        },
        static_mac: att.mac.clone(),
    }
}

fn endpoint(
    plan: &Plan,
    net: &NetworkDef,
    att: &NetworkAttachment,
    per: &PerNetwork,
    st: &netavark::Status,
) -> Endpoint {
    let iface = st.interfaces.as_ref().and_then(|i| i.get(&per.interface_name)).cloned().unwrap_or_default();
    let addr = iface.subnets.as_ref().and_then(|s| s.first()).cloned();
    let (ip, prefix_len) = match addr.as_ref().and_then(|a| a.ipnet.split_once('/')) {
        Some((ip, p)) => (ip.to_string(), p.parse().unwrap_or(net.subnet.prefix())),
        None => (per.static_ips[0].to_string(), net.subnet.prefix()),
    };
    Endpoint {
        network: net.name.clone(),
        network_id: net.id.clone(),
        interface: per.interface_name.clone(),
        ip,
        prefix_len,
        gateway: addr.and_then(|a| a.gateway).map(|g| g.to_string()).unwrap_or_else(|| {
            if net.internal {
                String::new()
            } else {
                net.gateway.to_string()
            }
        }),
        mac: iface.mac_address,
        aliases: if net.dns_enabled {
            [plan.name.clone(), plan.container[..12].to_string()]
                .into_iter()
                .chain(att.aliases.iter().cloned())
                .collect()
        } else {
            Vec::new()
        },
    }
}

/// Waits (10 s at most) for netavark processes working on `netns` to end:
/// one started by an rrun killed meanwhile goes on alone.
fn wait_for_netavark(netns: &Path) {
    let needle = netns.as_os_str().as_encoded_bytes().to_vec();
    let busy = || {
        std::fs::read_dir("/proc").into_iter().flatten().flatten().any(|e| {
            let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            cmdline.split(|b| *b == 0).next().is_some_and(|p| p.ends_with(b"netavark"))
                && cmdline.split(|b| *b == 0).any(|a| a == needle.as_slice())
        })
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while busy() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Tears a container's networks down (see the module): idempotent, and
/// nothing to do when it has no teardown file. `after_crash`: its rrun was
/// killed, and a netavark it ran may still be working.
pub fn down(cfg: &HostConfig, container: &str, after_crash: bool) -> Result<(), NetworkError> {
    let _lock = NetLock::take()?;
    let Some(state) = read_state(container) else {
        let netns = netns_path(container);
        if netns.exists() {
            netns::remove(&netns)?;
        }
        let _ = std::fs::remove_file(state_path(container));
        return Ok(());
    };
    if state.pasta {
        super::pasta::down(&state);
        return remove_state(container);
    }
    if after_crash {
        wait_for_netavark(&state.netns);
    }
    crate::step!(super::NETAVARK_TEARDOWN, netns = %state.netns.display(), after_crash);
    let torn = if netns::is_namespace(&state.netns) {
        netavark::teardown(cfg, &config_dir(), &state.netns, &state.options)
    } else {
        Err(NetworkError::Sys { op: "teardown".into(), reason: "the namespace is gone".into() })
    };
    if let Err(e) = torn {
        debug!(container, error = %e, "netavark teardown failed: finishing it through a fresh namespace");
        finish_teardown(cfg, &state);
    }
    netns::remove(&state.netns)?;
    let run = Path::new(RUN_DIR);
    for id in &state.networks {
        ipam::release(run, id, container)?;
    }
    remove_state(container)
}

/// The last step of a teardown: its file goes.
fn remove_state(container: &str) -> Result<(), NetworkError> {
    let path = state_path(container);
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(NetworkError::Sys { op: format!("remove {}", path.display()), reason: e.to_string() })
        }
        _ => {}
    }
    info!(container, "network torn down");
    Ok(())
}

/// netavark undoes what it made only through a namespace with the
/// container's interface in it. When that is gone, a fresh namespace is set
/// up as the container's was (its addresses are still leased) and torn
/// down with everything, so the bridge and rules go when they should.
fn finish_teardown(cfg: &HostConfig, state: &State) {
    let tmp = Path::new(NETNS_DIR).join(format!("{}.cleanup", state.container));
    let _ = netns::remove(&tmp);
    if let Err(e) = netns::create(&tmp) {
        warn!(container = %state.container, error = %e, "a namespace to finish the network teardown");
        return;
    }
    let mut bare = state.options.clone();
    bare.port_mappings.clear();
    if let Err(e) = netavark::setup(cfg, &config_dir(), &tmp, &bare) {
        debug!(container = %state.container, error = %e, "setting up the stand-in namespace");
    }
    if let Err(e) = netavark::teardown(cfg, &config_dir(), &tmp, &state.options) {
        warn!(container = %state.container, error = %e, "finishing the network teardown");
    }
    let _ = netns::remove(&tmp);
}

/// `network connect` of a running container: an interface on one more network.
pub fn connect(
    cfg: &HostConfig,
    container: &str,
    net: &NetworkDef,
    att: &NetworkAttachment,
    name: &str,
) -> Result<Endpoint, NetworkError> {
    cfg.netavark()?;
    if net.dns_enabled {
        cfg.aardvark_dns()?;
    }
    let _lock = NetLock::take()?;
    let mut state = read_state(container)
        .ok_or_else(|| NetworkError::Conflict(format!("container {name} has no network of its own set up")))?;
    let key = net.netavark_name();
    if state.options.networks.contains_key(&key) {
        return Err(NetworkError::Conflict(format!("container {name} is already connected to network {}", net.name)));
    }
    check_host(net)?;
    let run = Path::new(RUN_DIR);
    let wanted = att.ip.as_deref().and_then(|s| s.parse::<Ipv4Addr>().ok());
    let ip = ipam::allocate(run, net, container, wanted)?;
    let used: Vec<&String> = state.options.networks.values().map(|p| &p.interface_name).collect();
    let index = (0..).find(|i| !used.iter().any(|u| **u == format!("eth{i}"))).expect("a free index");
    let plan = Plan {
        store: state.store.clone(),
        container: container.to_string(),
        name: name.to_string(),
        networks: vec![],
        publish: vec![],
    };
    let per = per_network(&plan, net, att, index, ip);
    state.networks.push(net.id.clone());
    state.options.networks.insert(key.clone(), per.clone());
    state.options.network_info.insert(key.clone(), Info::of(net));
    write_state(&state)?;
    match netavark::setup(cfg, &config_dir(), &state.netns, &state.options.only(&key, false)) {
        Ok(status) => Ok(endpoint(&plan, net, att, &per, &status.get(&key).cloned().unwrap_or_default())),
        Err(e) => {
            let _ = netavark::teardown(cfg, &config_dir(), &state.netns, &state.options.only(&key, false));
            state.networks.retain(|i| *i != net.id);
            state.options.networks.remove(&key);
            state.options.network_info.remove(&key);
            write_state(&state)?;
            ipam::release(run, &net.id, container)?;
            Err(e)
        }
    }
}

/// `network disconnect` of a running container: its interface on `net` goes.
pub fn disconnect(cfg: &HostConfig, container: &str, net: &NetworkDef) -> Result<(), NetworkError> {
    let _lock = NetLock::take()?;
    let Some(mut state) = read_state(container) else { return Ok(()) };
    let key = net.netavark_name();
    if !state.options.networks.contains_key(&key) {
        return Ok(());
    }
    // its published ports' rules on this network go with it
    let partial = state.options.only(&key, !net.internal);
    if let Err(e) = netavark::teardown(cfg, &config_dir(), &state.netns, &partial) {
        warn!(container, network = %net.name, error = %e, "netavark teardown of one network");
    }
    state.networks.retain(|i| *i != net.id);
    state.options.networks.remove(&key);
    state.options.network_info.remove(&key);
    write_state(&state)?;
    ipam::release(Path::new(RUN_DIR), &net.id, container)
}

/// Tears down the networks of containers whose store no longer has them
/// (a store deleted while they ran): found by their teardown files.
pub fn sweep_orphans() {
    let Ok(cfg) = HostConfig::load() else { return };
    let Ok(entries) = std::fs::read_dir(run_dir().join("containers")) else { return };
    for e in entries.flatten() {
        let Some(id) = e.file_name().to_str().and_then(|n| n.strip_suffix(".json")).map(String::from) else { continue };
        let Some(state) = read_state(&id) else { continue };
        if state.store.join("containers").join(&id).exists() {
            continue;
        }
        info!(container = %id, store = %state.store.display(), "tearing down the network of a container its store no longer has");
        if let Err(e) = down(&cfg, &id, true) {
            warn!(container = %id, error = %e, "tearing down an orphaned network");
        }
    }
}
