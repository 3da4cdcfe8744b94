//! A container's networking through its life: chosen and checked at create
//! (`--network`, `-p`, `--dns`…; a bad flag or an unknown network creates
//! nothing), set up before each start and torn down after it (`network`
//! module), `/etc/hosts` and `/etc/resolv.conf` written for it, and
//! `network connect|disconnect`.

use super::Container;
use crate::container::{self, NetworkAttachment, NetworkRequest};
use crate::network::attach::{self, Up};
use crate::network::config::HostConfig;
use crate::network::{etc, ports, NetworkError};
use crate::spec::network::{NetworkMode, PortRequest, DEFAULT_NETWORK};
use crate::spec::{self, RunOptions};
use crate::{Error, Rrun};
use std::net::IpAddr;
use std::path::PathBuf;

/// What `create` decided about a container's network.
pub(super) struct NetChoice {
    /// `--network`, or the host's default (`default_network`).
    pub mode: NetworkMode,
    pub request: NetworkRequest,
    /// The network namespace its init joins: its own (made at start), or another container's.
    pub netns: Option<PathBuf>,
    /// `--network container:X`: X's hostname and directory (its /etc files are copied).
    pub other: Option<(Option<String>, PathBuf)>,
}

fn conflict(msg: String) -> Error {
    Error::Spec(spec::SpecError::Conflict(msg))
}

/// The ports `-P` publishes: the image's `ExposedPorts` and `--expose`, each on any free host port.
fn exposed(image: &crate::image::ContainerConfig, opts: &RunOptions) -> Result<Vec<PortRequest>, Error> {
    let mut ports: Vec<(u16, String)> = Vec::new();
    for key in image.exposed_ports.iter().flat_map(|m| m.keys()) {
        ports.extend(spec::network::parse_exposed(key)?);
    }
    ports.extend(opts.expose.iter().cloned());
    ports.sort();
    ports.dedup();
    Ok(ports
        .into_iter()
        .map(|(port, protocol)| PortRequest {
            host_ip: String::new(),
            host_port: 0,
            host_port_end: 0,
            container_port: port,
            range: 1,
            protocol,
        })
        .collect())
}

impl Rrun {
    /// Decides and checks the container's network at create. `check_ports`:
    /// the container starts right away (`run`), so a fixed host port in use
    /// is refused now, before anything is made.
    pub(super) fn choose_network(
        &self,
        opts: &RunOptions,
        image: &crate::image::ContainerConfig,
        id: &str,
        check_ports: bool,
    ) -> Result<NetChoice, Error> {
        let cfg = HostConfig::load()?;
        let rootless = crate::rootless::active().is_some();
        let mode = if opts.network_explicit {
            opts.network.clone()
        } else if rootless {
            // an ordinary user cannot make bridges (netavark needs root): pasta, as Podman, else loopback only
            if crate::network::pasta::binary().is_some() {
                NetworkMode::Pasta
            } else {
                NetworkMode::None
            }
        } else {
            match cfg.default_network.as_str() {
                "host" => NetworkMode::Host,
                "none" => NetworkMode::None,
                _ => NetworkMode::default(),
            }
        };
        if rootless && matches!(mode, NetworkMode::Bridge(_)) {
            return Err(conflict(format!(
                "--network {mode}: bridge networks need root (netavark); as an ordinary user, use --network pasta \
                 (the default when the passt package is installed), none or host"
            )));
        }
        if rootless && mode == NetworkMode::None && !opts.publish.is_empty() && !opts.network_explicit {
            return Err(conflict(
                "-p: published ports of an ordinary user's containers need pasta (the default network once \
                 installed): as root, apt-get install passt"
                    .into(),
            ));
        }
        if mode == NetworkMode::Pasta {
            if !rootless {
                return Err(conflict(
                    "--network pasta is an ordinary user's network: as root, use a bridge network (the default)".into(),
                ));
            }
            if let Some(why) = crate::network::pasta::unavailable() {
                return Err(conflict(format!("--network pasta: {why}")));
            }
        }
        let user_network = matches!(&mode, NetworkMode::Bridge(n) if n != DEFAULT_NETWORK);
        if opts.ip.is_some() && !user_network {
            return Err(conflict("--ip: a chosen address works on user-defined networks only".into()));
        }
        for a in &opts.network_aliases {
            spec::network::check_alias(a)?;
        }
        if !opts.network_aliases.is_empty() && !user_network {
            return Err(conflict("--network-alias works on user-defined networks only".into()));
        }
        let mut publish = opts.publish.clone();
        if opts.publish_all {
            for p in exposed(image, opts)? {
                if !publish.iter().any(|q| q.container_port == p.container_port && q.protocol == p.protocol) {
                    publish.push(p);
                }
            }
        }
        if let NetworkMode::Container(c) = &mode {
            let flags = [
                (opts.hostname.is_some(), "--hostname"),
                (!opts.dns.is_empty(), "--dns"),
                (!opts.dns_search.is_empty(), "--dns-search"),
                (!opts.dns_options.is_empty(), "--dns-option"),
                (!opts.add_hosts.is_empty(), "--add-host"),
                (opts.mac_address.is_some(), "--mac-address"),
            ];
            if let Some((_, flag)) = flags.iter().find(|(set, _)| *set) {
                return Err(conflict(format!("{flag} and --network container:{c}: the network is {c}'s")));
            }
        }
        if opts.mac_address.is_some() && !matches!(mode, NetworkMode::Bridge(_)) {
            return Err(conflict(format!(
                "--mac-address and --network {mode}: only a bridge network has an interface of the container's own"
            )));
        }
        match &mode {
            NetworkMode::Host if !publish.is_empty() => {
                tracing::warn!(
                    "published ports are discarded with --network host: the container's ports are the host's"
                );
                publish.clear();
            }
            NetworkMode::None | NetworkMode::Container(_) if !publish.is_empty() => {
                return Err(conflict(format!("port publishing (-p, -P) and --network {mode}")));
            }
            _ => {}
        }
        if !matches!(mode, NetworkMode::Bridge(_)) {
            if let Some((name, _)) = opts.add_hosts.iter().find(|(_, ip)| ip == "host-gateway") {
                return Err(conflict(format!(
                    "--add-host {name}:host-gateway needs a bridge network (its gateway is the host)"
                )));
            }
        }
        let mut request = NetworkRequest {
            mode: String::new(),
            networks: Vec::new(),
            publish,
            dns: opts.dns.iter().map(|d| d.to_string()).collect(),
            dns_search: opts.dns_search.clone(),
            dns_options: opts.dns_options.clone(),
            add_hosts: opts.add_hosts.clone(),
        };
        let (netns, other) = match &mode {
            NetworkMode::Host => {
                request.mode = "host".into();
                (None, None)
            }
            NetworkMode::None => {
                request.mode = "none".into();
                (None, None)
            }
            NetworkMode::Pasta => {
                // sctp refused, a fixed host port in use refused now
                let fixed: Vec<_> =
                    request.publish.iter().filter(|q| check_ports || q.host_port == 0).cloned().collect();
                crate::network::pasta::choose_ports(&fixed)?;
                request.mode = "pasta".into();
                (Some(attach::netns_path(id)), None)
            }
            NetworkMode::Bridge(name) => {
                let def = self.bridge_network(&cfg, name)?;
                cfg.netavark()?;
                if def.dns_enabled {
                    cfg.aardvark_dns()?;
                }
                if def.internal && !request.publish.is_empty() {
                    return Err(NetworkError::Conflict(format!(
                        "ports cannot be published from internal network {name}: it has no way in from the host"
                    ))
                    .into());
                }
                if check_ports {
                    ports::check_free(&request.publish)?;
                }
                request.mode = "bridge".into();
                request.networks.push(NetworkAttachment {
                    name: def.name.clone(),
                    aliases: opts.network_aliases.clone(),
                    ip: opts.ip.map(|i| i.to_string()),
                    mac: opts.mac_address.clone(),
                });
                (Some(attach::netns_path(id)), None)
            }
            NetworkMode::Container(name) => {
                let o = self.open_container(name)?;
                let pid = o.record.pid.filter(|_| o.record.is_running()).ok_or_else(|| {
                    conflict(format!("cannot join the network of container {name}: it is not running"))
                })?;
                request.mode = format!("container:{}", o.record.id);
                // its own namespace's file stays the same across its restarts; a --network none one has none
                let path = if matches!(o.record.network.mode.as_str(), "bridge" | "pasta") {
                    attach::netns_path(&o.record.id)
                } else {
                    PathBuf::from(format!("/proc/{pid}/ns/net"))
                };
                (Some(path), Some((o.spec.hostname().clone(), o.dir.clone())))
            }
        };
        Ok(NetChoice { mode, request, netns, other })
    }

    /// `/etc/hosts` and `/etc/resolv.conf` as `create` writes them (a
    /// bridged container's are written again at each start, with its address).
    pub(super) fn initial_etc(&self, choice: &NetChoice, hostname: &str) -> Result<(String, String), Error> {
        let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        if let Some((_, dir)) = &choice.other {
            let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap_or_default();
            return Ok((read("hosts"), read("resolv.conf")));
        }
        let r = &choice.request;
        let extra = extra_hosts(&r.add_hosts, None)?;
        let host_network = choice.mode == NetworkMode::Host;
        let hosts = if host_network {
            let mut h = std::fs::read_to_string("/etc/hosts").unwrap_or_else(|_| etc::hosts(hostname, None, &[]));
            for (name, ip) in &extra {
                h.push_str(&format!("{ip}\t{name}\n"));
            }
            h
        } else {
            etc::hosts(hostname, None, &extra)
        };
        Ok((hosts, resolv(&host_resolv, r, &[], host_network)?))
    }

    /// Before a start: the container's networks set up (bridge), or the
    /// joined container's files copied (`container:`). What is returned
    /// holds the published ports until [`Rrun::network_down`].
    pub(super) fn network_up(&self, c: &Container) -> Result<Option<Up>, Error> {
        let rec = container::read_record(&c.dir).unwrap_or_else(|| c.record.clone());
        if let Some(other) = rec.network.mode.strip_prefix("container:") {
            let o = self.container(other)?;
            if !o.is_running() {
                return Err(conflict(format!("cannot join the network of container {}: it is not running", o.name)));
            }
            let from = self.store().container_dir(&o.id);
            for f in ["hosts", "resolv.conf"] {
                let bytes = std::fs::read(from.join(f)).unwrap_or_default();
                super::write_atomic(&c.dir.join(f), &bytes)?;
            }
            return Ok(None);
        }
        if rec.network.mode == "pasta" {
            return self.pasta_up(c, &rec).map(Some);
        }
        if rec.network.mode != "bridge" {
            return Ok(None);
        }
        let cfg = HostConfig::load()?;
        let mut networks = Vec::new();
        for a in &rec.network.networks {
            networks.push((self.bridge_network(&cfg, &a.name)?, a.clone()));
        }
        if networks.is_empty() {
            return Err(conflict(format!("container {} is connected to no network", rec.name)));
        }
        let state = attach::state_path(&rec.id);
        // the record names the teardown file before anything is set up
        self.update(&c.dir, |r| r.network_state = Some(state.clone()))?
            .ok_or_else(|| Error::ContainerNotFound(rec.id.clone()))?;
        let plan = attach::Plan {
            store: self.store().root().to_path_buf(),
            container: rec.id.clone(),
            name: rec.name.clone(),
            networks,
            publish: rec.network.publish.clone(),
        };
        let up = match attach::up(&cfg, &plan) {
            Ok(u) => u,
            Err(e) => {
                let _ = self.update(&c.dir, |r| r.network_state = None);
                return Err(e.into());
            }
        };
        let written = (|| {
            let first = &up.endpoints[0];
            let own: Option<IpAddr> = first.ip.parse().ok();
            let gateway: Option<IpAddr> = first.gateway.parse().ok();
            let hostname = c.spec.hostname().clone().unwrap_or_else(|| rec.id[..12].to_string());
            let hosts = etc::hosts(&hostname, own, &extra_hosts(&rec.network.add_hosts, gateway)?);
            let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
            super::write_atomic(&c.dir.join("hosts"), hosts.as_bytes())?;
            super::write_atomic(
                &c.dir.join("resolv.conf"),
                resolv(&host_resolv, &rec.network, &up.dns_servers, false)?.as_bytes(),
            )?;
            self.update(&c.dir, |r| {
                r.endpoints = up.endpoints.clone();
                r.ports = up.ports.clone();
            })?
            .ok_or_else(|| Error::ContainerNotFound(rec.id.clone()))
        })();
        if let Err(e) = written {
            self.network_down(c, Some(up));
            return Err(e);
        }
        Ok(Some(up))
    }

    /// Before a start with `--network pasta`: the teardown file named in the
    /// record, then the namespace and pasta (`network::pasta`).
    fn pasta_up(&self, c: &Container, rec: &container::ContainerRecord) -> Result<Up, Error> {
        let state = attach::state_path(&rec.id);
        self.update(&c.dir, |r| r.network_state = Some(state.clone()))?
            .ok_or_else(|| Error::ContainerNotFound(rec.id.clone()))?;
        let ports = match crate::network::pasta::up(self.store().root(), &rec.id, &rec.network.publish) {
            Ok(p) => p,
            Err(e) => {
                let _ = self.update(&c.dir, |r| r.network_state = None);
                return Err(e.into());
            }
        };
        self.update(&c.dir, |r| r.ports = ports.clone())?;
        Ok(Up { reservation: Default::default(), endpoints: Vec::new(), ports, dns_servers: Vec::new() })
    }

    /// After a run: the container's networks torn down (a failure is a
    /// warning: the teardown file stays, and the next command tries again),
    /// then its host ports let go.
    pub(super) fn network_down(&self, c: &Container, up: Option<Up>) {
        let rec = container::read_record(&c.dir);
        let named = rec.as_ref().map_or(up.is_some(), |r| r.network_state.is_some());
        if named || up.is_some() {
            let cfg = HostConfig::load().unwrap_or_default();
            match attach::down(&cfg, &c.record.id, false) {
                Ok(()) => {
                    let _ = self.update(&c.dir, |r| {
                        r.network_state = None;
                        r.endpoints.clear();
                        r.ports.clear();
                    });
                }
                Err(e) => tracing::warn!(id = %c.record.id, error = %e, "tearing down the container's network"),
            }
        }
        drop(up);
    }

    /// `network connect NETWORK CONTAINER`: the container joins one more
    /// network, at once if it runs, else from its next start.
    pub fn network_connect(
        &self,
        network: &str,
        name_or_id: &str,
        aliases: &[String],
        ip: Option<std::net::Ipv4Addr>,
    ) -> Result<(), Error> {
        let cfg = HostConfig::load()?;
        let def = self.bridge_network(&cfg, network)?;
        let c = self.open_container(name_or_id)?;
        if c.record.network.mode != "bridge" {
            let mode = if c.record.network.mode.is_empty() { "host" } else { &c.record.network.mode };
            return Err(conflict(format!(
                "container {} has --network {mode}: only a container on a bridge network can join others",
                c.record.name
            )));
        }
        if c.record.network.networks.iter().any(|a| a.name == def.name) {
            return Err(conflict(format!("container {} is already connected to network {}", c.record.name, def.name)));
        }
        if (ip.is_some() || !aliases.is_empty()) && def.name == DEFAULT_NETWORK {
            return Err(conflict("--ip and --alias work on user-defined networks only".into()));
        }
        for a in aliases {
            spec::network::check_alias(a)?;
        }
        let att = NetworkAttachment {
            name: def.name.clone(),
            aliases: aliases.to_vec(),
            ip: ip.map(|i| i.to_string()),
            mac: None,
        };
        self.update(&c.dir, |r| r.network.networks.push(att.clone()))?
            .ok_or_else(|| Error::ContainerNotFound(name_or_id.to_string()))?;
        let now = self.container(&c.record.id)?;
        if now.is_running() && now.network_state.is_some() {
            let ep = match attach::connect(&cfg, &now.id, &def, &att, &now.name) {
                Ok(ep) => ep,
                Err(e) => {
                    let _ = self.update(&c.dir, |r| r.network.networks.retain(|a| a.name != def.name));
                    return Err(e.into());
                }
            };
            // its DNS server joins the container's resolv.conf (written in place: it is bound into the container)
            if def.dns_enabled && !ep.gateway.is_empty() {
                let path = c.dir.join("resolv.conf");
                let old = std::fs::read_to_string(&path).unwrap_or_default();
                let line = format!("nameserver {}\n", ep.gateway);
                if !old.contains(&line) {
                    let _ = std::fs::write(&path, format!("{old}{line}"));
                }
            }
            self.update(&c.dir, |r| r.endpoints.push(ep))?;
        }
        self.emit_network("connect", &def, &[("container", c.record.id.clone())]);
        Ok(())
    }

    /// `network disconnect NETWORK CONTAINER`.
    pub fn network_disconnect(&self, network: &str, name_or_id: &str) -> Result<(), Error> {
        let cfg = HostConfig::load()?;
        let def = self.bridge_network(&cfg, network)?;
        let c = self.open_container(name_or_id)?;
        if !c.record.network.networks.iter().any(|a| a.name == def.name) {
            return Err(conflict(format!("container {} is not connected to network {}", c.record.name, def.name)));
        }
        if c.record.network.networks.len() == 1 {
            return Err(conflict(format!(
                "network {} is the only network of container {}: it would have none left",
                def.name, c.record.name
            )));
        }
        let now = self.container(&c.record.id)?;
        if now.is_running() && now.network_state.is_some() {
            attach::disconnect(&cfg, &now.id, &def)?;
        }
        self.update(&c.dir, |r| {
            r.network.networks.retain(|a| a.name != def.name);
            r.endpoints.retain(|e| e.network != def.name);
        })?;
        self.emit_network("disconnect", &def, &[("container", c.record.id.clone())]);
        Ok(())
    }
}

/// `--add-host` entries with their addresses; `host-gateway` is the
/// container's gateway (refused without one).
fn extra_hosts(add: &[(String, String)], gateway: Option<IpAddr>) -> Result<Vec<(String, IpAddr)>, Error> {
    let mut out = Vec::new();
    for (name, ip) in add {
        let addr = match ip.as_str() {
            "host-gateway" => match gateway {
                Some(g) => g,
                // written again with the gateway at start
                None => continue,
            },
            other => other.parse().map_err(|_| conflict(format!("--add-host {name}:{other}: not an IP address")))?,
        };
        out.push((name.clone(), addr));
    }
    Ok(out)
}

/// The container's resolv.conf: the host's, or Docker's overrides.
fn resolv(host: &str, r: &NetworkRequest, network_servers: &[IpAddr], host_network: bool) -> Result<String, Error> {
    let dns: Vec<IpAddr> = r.dns.iter().filter_map(|d| d.parse().ok()).collect();
    let plain = network_servers.is_empty() && dns.is_empty() && r.dns_search.is_empty() && r.dns_options.is_empty();
    if plain {
        // as before networks: the host's lines, its loopback resolvers only where reachable
        let mode = if host_network { NetworkMode::Host } else { NetworkMode::None };
        return Ok(spec::resolv_conf(host, &mode));
    }
    Ok(etc::resolv(&etc::Resolv {
        host,
        network_servers,
        servers: &dns,
        search: &r.dns_search,
        options: &r.dns_options,
        host_network,
    }))
}
