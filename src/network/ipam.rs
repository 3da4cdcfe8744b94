//! Addresses of containers on bridge networks (IP address management).
//! netavark sets up the addresses it is given; choosing them is the
//! caller's job. One lease file per network set up on the host,
//! `ipam/<network ID>.json` under [`super::RUN_DIR`], changed under the
//! network lock ([`super::attach::NetLock`]):
//!
//! ```json
//! {"subnet": "10.87.0.0/16", "interface": "rrun0", "last": "10.87.0.3",
//!  "leases": {"10.87.0.2": "<container ID>", "10.87.0.3": "<container ID>"}}
//! ```
//! A lease lives as long as its container's teardown file
//! (`containers/<ID>.json`): one whose file is gone was left by a crash and
//! is taken back. The file goes with its last lease. Addresses are handed
//! out round-robin, so a freed one is not reused at once (neighbours may
//! still have its old MAC address cached).

use super::ipv4::Ipv4Net;
use super::{NetworkDef, NetworkError};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Leases {
    pub subnet: Ipv4Net,
    pub interface: String,
    #[serde(default)]
    pub last: Option<Ipv4Addr>,
    #[serde(default)]
    pub leases: BTreeMap<Ipv4Addr, String>,
}

fn path(dir: &Path, network_id: &str) -> PathBuf {
    dir.join("ipam").join(format!("{network_id}.json"))
}

fn state_exists(dir: &Path, container: &str) -> bool {
    dir.join("containers").join(format!("{container}.json")).exists()
}

fn load(file: &Path) -> Result<Option<Leases>, NetworkError> {
    match std::fs::read(file) {
        Ok(b) => Ok(serde_json::from_slice(&b).ok()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(NetworkError::Sys { op: format!("read {}", file.display()), reason: e.to_string() }),
    }
}

fn save(file: &Path, l: &Leases) -> Result<(), NetworkError> {
    let io = |e: std::io::Error| NetworkError::Sys { op: format!("write {}", file.display()), reason: e.to_string() };
    if l.leases.is_empty() {
        return match std::fs::remove_file(file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(e)),
            _ => Ok(()),
        };
    }
    if let Some(d) = file.parent() {
        std::fs::create_dir_all(d).map_err(io)?;
    }
    crate::store::write_file_atomic(file, &serde_json::to_vec(l).expect("serializes"), false).map_err(io)
}

/// Leases `container` an address on `net`: `wanted` (`--ip`), or the next
/// free one after the last handed out. The caller holds the network lock.
pub fn allocate(
    dir: &Path,
    net: &NetworkDef,
    container: &str,
    wanted: Option<Ipv4Addr>,
) -> Result<Ipv4Addr, NetworkError> {
    let file = path(dir, &net.id);
    let mut l = load(&file)?.filter(|l| l.subnet == net.subnet).unwrap_or(Leases {
        subnet: net.subnet,
        interface: net.interface.clone(),
        last: None,
        leases: BTreeMap::new(),
    });
    // leases whose container's teardown file is gone were left by a crash
    l.leases.retain(|_, c| c == container || state_exists(dir, c));
    let free = |ip: &Ipv4Addr| *ip != net.gateway && !l.leases.contains_key(ip);
    let ip = match wanted {
        Some(ip) => {
            let bad = |reason: &str| NetworkError::Address {
                ip: ip.to_string(),
                network: net.name.clone(),
                reason: reason.into(),
            };
            if !net.subnet.contains(ip) || ip == net.subnet.network() || ip == net.subnet.broadcast() {
                return Err(bad(&format!("not a host address of its subnet {}", net.subnet)));
            }
            if ip == net.gateway {
                return Err(bad("it is the network's gateway"));
            }
            if l.leases.get(&ip).is_some_and(|c| c != container) {
                return Err(bad("already in use by another container"));
            }
            ip
        }
        None => {
            let hosts: Vec<Ipv4Addr> = net.subnet.hosts().collect();
            let start = l.last.and_then(|last| hosts.iter().position(|h| *h == last)).map_or(0, |i| i + 1);
            (0..hosts.len())
                .map(|i| hosts[(start + i) % hosts.len()])
                .find(free)
                .ok_or_else(|| NetworkError::Full(net.name.clone()))?
        }
    };
    l.leases.insert(ip, container.to_string());
    if wanted.is_none() {
        l.last = Some(ip);
    }
    save(&file, &l)?;
    Ok(ip)
}

/// Gives back every address `container` holds on network `network_id`.
pub fn release(dir: &Path, network_id: &str, container: &str) -> Result<(), NetworkError> {
    let file = path(dir, network_id);
    let Some(mut l) = load(&file)? else { return Ok(()) };
    l.leases.retain(|_, c| c != container && state_exists(dir, c));
    save(&file, &l)
}

/// The networks that have leases now: set up on the host, by some store.
pub fn active(dir: &Path) -> Vec<Leases> {
    let Ok(entries) = std::fs::read_dir(dir.join("ipam")) else { return Vec::new() };
    entries.flatten().filter_map(|e| load(&e.path()).ok().flatten()).filter(|l| !l.leases.is_empty()).collect()
}

/// Like [`active`], with each network's ID.
pub fn active_by_id(dir: &Path) -> Vec<(String, Leases)> {
    let Ok(entries) = std::fs::read_dir(dir.join("ipam")) else { return Vec::new() };
    entries
        .flatten()
        .filter_map(|e| {
            let id = e.file_name().to_string_lossy().strip_suffix(".json")?.to_string();
            Some((id, load(&e.path()).ok().flatten()?))
        })
        .filter(|(_, l)| !l.leases.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(subnet: &str) -> NetworkDef {
        let subnet: Ipv4Net = subnet.parse().unwrap();
        NetworkDef {
            name: "t".into(),
            id: "a".repeat(64),
            created: String::new(),
            driver: "bridge".into(),
            interface: "rrun-test".into(),
            subnet,
            gateway: subnet.nth(1).unwrap(),
            internal: false,
            dns_enabled: true,
            labels: BTreeMap::new(),
        }
    }

    fn live(dir: &Path, c: &str) {
        std::fs::create_dir_all(dir.join("containers")).unwrap();
        std::fs::write(dir.join("containers").join(format!("{c}.json")), "{}").unwrap();
    }

    #[test]
    fn leases_round_robin_and_come_back() {
        let dir_tmp = tempfile::tempdir().unwrap();
        let dir = dir_tmp.path().to_path_buf();
        let n = net("10.9.0.0/29"); // hosts .1-.6, .1 the gateway
        for c in ["c1", "c2", "c3"] {
            live(&dir, c);
        }
        let ip = |s: &str| s.parse::<Ipv4Addr>().unwrap();
        assert_eq!(allocate(&dir, &n, "c1", None).unwrap(), ip("10.9.0.2"));
        assert_eq!(allocate(&dir, &n, "c2", None).unwrap(), ip("10.9.0.3"));
        release(&dir, &n.id, "c1").unwrap();
        assert_eq!(allocate(&dir, &n, "c3", None).unwrap(), ip("10.9.0.4"), "not the one just freed");
        assert_eq!(active(&dir).len(), 1);
        let taken = allocate(&dir, &n, "c1", Some(ip("10.9.0.3"))).unwrap_err().to_string();
        assert!(taken.contains("already in use"), "{taken}");
        assert!(allocate(&dir, &n, "c1", Some(ip("10.9.0.1"))).unwrap_err().to_string().contains("gateway"));
        assert!(allocate(&dir, &n, "c1", Some(ip("10.9.1.2"))).unwrap_err().to_string().contains("subnet"));
        assert_eq!(allocate(&dir, &n, "c1", Some(ip("10.9.0.6"))).unwrap(), ip("10.9.0.6"));
        // c2's teardown file is gone (a crash): its lease is taken back
        std::fs::remove_file(dir.join("containers/c2.json")).unwrap();
        live(&dir, "c4");
        live(&dir, "c5");
        assert_eq!(allocate(&dir, &n, "c4", None).unwrap(), ip("10.9.0.5"));
        assert_eq!(allocate(&dir, &n, "c5", None).unwrap(), ip("10.9.0.2"), "wrapped around, past the gateway");
        live(&dir, "c6");
        assert_eq!(allocate(&dir, &n, "c6", None).unwrap(), ip("10.9.0.3"), "c2's old address");
        live(&dir, "c7");
        assert!(matches!(allocate(&dir, &n, "c7", None), Err(NetworkError::Full(_))));
        for c in ["c1", "c3", "c4", "c5", "c6"] {
            release(&dir, &n.id, c).unwrap();
        }
        assert!(active(&dir).is_empty() && !path(&dir, &n.id).exists(), "the file goes with its last lease");
    }
}
