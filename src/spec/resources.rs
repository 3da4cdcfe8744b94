//! Resource limits from `run` flags (`--memory 256m`, `--cpus 0.5`, …) to the
//! Spec's `linux.resources`, with Docker's default device rules.

use super::SpecError;
use oci_spec::runtime::{
    LinuxBlockIoBuilder, LinuxCpuBuilder, LinuxDevice, LinuxDeviceBuilder, LinuxDeviceCgroup, LinuxDeviceCgroupBuilder,
    LinuxDeviceType, LinuxMemoryBuilder, LinuxPidsBuilder, LinuxResources, LinuxResourcesBuilder,
};
use std::path::PathBuf;

/// The resource flags of `rrun run`.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Limits {
    /// `--memory`: bytes.
    pub memory: Option<i64>,
    /// Memory plus swap; -1 for unlimited swap.
    pub memory_swap: Option<i64>,
    /// `--memory-reservation`: a soft limit in bytes.
    pub memory_reservation: Option<i64>,
    /// `--cpus`: CPUs' worth of time (quota over period).
    pub cpus: Option<f64>,
    /// `--cpu-shares`: relative weight (v1 shares; converted on v2).
    pub cpu_shares: Option<u64>,
    /// `--cpuset-cpus`: CPUs the container may use (e.g. `0-3`).
    pub cpuset_cpus: Option<String>,
    /// Memory nodes the container may use (e.g. `0`).
    pub cpuset_mems: Option<String>,
    /// `--pids-limit`: most processes at once (-1: unlimited).
    pub pids_limit: Option<i64>,
    /// `--device-cgroup-rule 'c 1:3 rwm'`.
    pub device_rules: Vec<String>,
    /// `--device /dev/fuse[:/dev/fuse][:rwm]`.
    pub devices: Vec<DeviceRequest>,
    /// `--blkio-weight` (10..1000).
    pub blkio_weight: Option<u16>,
}

/// `--device HOST[:CONTAINER][:PERMISSIONS]`: a host device node made in the
/// container, and allowed by its device cgroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRequest {
    /// The device node on the host.
    pub host: PathBuf,
    /// Where it appears in the container.
    pub container: PathBuf,
    /// Some of `r`, `w`, `m`.
    pub access: String,
}

impl std::str::FromStr for DeviceRequest {
    type Err = SpecError;
    fn from_str(s: &str) -> Result<Self, SpecError> {
        let bad = |reason| SpecError::Limit { flag: "--device".into(), value: s.to_string(), reason };
        let perms = |p: &str| !p.is_empty() && p.chars().all(|c| "rwm".contains(c));
        let parts: Vec<&str> = s.split(':').collect();
        let (host, container, access) = match parts.as_slice() {
            [h] => (*h, *h, "rwm"),
            [h, p] if perms(p) => (*h, *h, *p),
            [h, c] => (*h, *c, "rwm"),
            [h, c, p] if perms(p) => (*h, *c, *p),
            _ => return Err(bad("expected HOST-PATH[:CONTAINER-PATH][:PERMISSIONS] with permissions of r, w, m")),
        };
        if !host.starts_with('/') || !container.starts_with('/') {
            return Err(bad("device paths must be absolute"));
        }
        Ok(DeviceRequest { host: host.into(), container: container.into(), access: access.to_string() })
    }
}

/// A requested device, with what the host says about its node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostDevice {
    /// What was asked for.
    pub request: DeviceRequest,
    /// Character or block device.
    pub typ: LinuxDeviceType,
    /// Its major number.
    pub major: i64,
    /// Its minor number.
    pub minor: i64,
    /// Its permission bits.
    pub mode: u32,
    /// Its owner.
    pub uid: u32,
    /// Its group.
    pub gid: u32,
}

impl HostDevice {
    /// The node in the container, as the Spec's `linux.devices` lists it.
    pub fn node(&self) -> Result<LinuxDevice, SpecError> {
        LinuxDeviceBuilder::default()
            .path(self.request.container.clone())
            .typ(self.typ)
            .major(self.major)
            .minor(self.minor)
            .file_mode(self.mode & 0o7777)
            .uid(self.uid)
            .gid(self.gid)
            .build()
            .map_err(|e| SpecError::Build(e.to_string()))
    }

    fn rule(&self) -> Result<LinuxDeviceCgroup, SpecError> {
        LinuxDeviceCgroupBuilder::default()
            .allow(true)
            .typ(self.typ)
            .major(self.major)
            .minor(self.minor)
            .access(self.request.access.clone())
            .build()
            .map_err(|e| SpecError::Build(e.to_string()))
    }
}

/// `256m`, `1g`, `512k`, `1024` (bytes), as Docker reads them (binary units).
pub fn parse_bytes(flag: &str, s: &str) -> Result<i64, SpecError> {
    let bad = || SpecError::Limit {
        flag: flag.into(),
        value: s.to_string(),
        reason: "expected a number with an optional b, k, m or g suffix",
    };
    let t = s.trim().to_ascii_lowercase();
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1i64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        Some('t') => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    let n: f64 = num.parse().map_err(|_| bad())?;
    if n < 0.0 {
        return Err(SpecError::Limit {
            flag: flag.into(),
            value: s.to_string(),
            reason: "a size cannot be negative: expected 0 or more bytes, with an optional b, k, m or g suffix",
        });
    }
    if !n.is_finite() {
        return Err(bad());
    }
    let bytes = n * mult as f64;
    if bytes >= i64::MAX as f64 {
        return Err(SpecError::Limit { flag: flag.into(), value: s.to_string(), reason: "too large: at most 8 EiB" });
    }
    Ok(bytes as i64)
}

/// The CPUs the kernel has online (`/sys/devices/system/cpu/online`, `0-1,4`).
fn online_cpus() -> Option<Vec<std::ops::RangeInclusive<u32>>> {
    parse_cpu_list(std::fs::read_to_string("/sys/devices/system/cpu/online").ok()?.trim())
}

/// A CPU list (`0-1,3`) as ranges; `None` when malformed.
fn parse_cpu_list(s: &str) -> Option<Vec<std::ops::RangeInclusive<u32>>> {
    s.split(',')
        .map(|part| {
            let (a, b) = part.split_once('-').unwrap_or((part, part));
            let (a, b): (u32, u32) = (a.parse().ok()?, b.parse().ok()?);
            (a <= b).then_some(a..=b)
        })
        .collect()
}

/// `c 1:3 rwm`, `b *:* m`, `a`.
pub fn parse_device_rule(s: &str, allow: bool) -> Result<LinuxDeviceCgroup, SpecError> {
    let bad = |reason| SpecError::Limit { flag: "--device-cgroup-rule".into(), value: s.to_string(), reason };
    let mut parts = s.split_whitespace();
    let typ = match parts.next() {
        Some("a") => LinuxDeviceType::A,
        Some("c") => LinuxDeviceType::C,
        Some("b") => LinuxDeviceType::B,
        _ => return Err(bad("the type must be a, b or c")),
    };
    let mut b = LinuxDeviceCgroupBuilder::default().allow(allow).typ(typ);
    let numbers = parts.next().unwrap_or("*:*");
    let (major, minor) = numbers.split_once(':').ok_or_else(|| bad("expected MAJOR:MINOR"))?;
    if major != "*" {
        b = b.major(major.parse::<i64>().map_err(|_| bad("the major number is not a number"))?);
    }
    if minor != "*" {
        b = b.minor(minor.parse::<i64>().map_err(|_| bad("the minor number is not a number"))?);
    }
    let access = parts.next().unwrap_or("rwm");
    if access.is_empty() || !access.chars().all(|c| "rwm".contains(c)) {
        return Err(bad("access must be made of r, w and m"));
    }
    b.access(access).build().map_err(|e| SpecError::Build(e.to_string()))
}

/// Docker's default device cgroup: deny everything, then allow the standard nodes.
pub fn default_device_rules() -> Vec<LinuxDeviceCgroup> {
    let rules = [
        ("a *:* rwm", false),
        ("c *:* m", true),
        ("b *:* m", true),
        ("c 1:3 rwm", true),    // null
        ("c 1:5 rwm", true),    // zero
        ("c 1:7 rwm", true),    // full
        ("c 1:8 rwm", true),    // random
        ("c 1:9 rwm", true),    // urandom
        ("c 5:0 rwm", true),    // tty
        ("c 5:1 rwm", true),    // console
        ("c 5:2 rwm", true),    // ptmx
        ("c 136:* rwm", true),  // pts
        ("c 10:200 rwm", true), // tun
    ];
    rules.iter().map(|(r, allow)| parse_device_rule(r, *allow).expect("built-in rules parse")).collect()
}

/// The Spec's resources for these limits and `--device` nodes.
pub fn resources(l: &Limits, host_devices: &[HostDevice]) -> Result<LinuxResources, SpecError> {
    let err = |e: oci_spec::OciSpecError| SpecError::Build(e.to_string());
    let mut b = LinuxResourcesBuilder::default();
    let mut devices = default_device_rules();
    for r in &l.device_rules {
        devices.push(parse_device_rule(r, true)?);
    }
    for d in host_devices {
        devices.push(d.rule()?);
    }
    b = b.devices(devices);
    if l.memory.is_some() || l.memory_reservation.is_some() || l.memory_swap.is_some() {
        if l.memory_swap.is_some() && l.memory.is_none() {
            return Err(SpecError::Limit {
                flag: "--memory-swap".into(),
                value: format!("{:?}", l.memory_swap),
                reason: "needs --memory as well",
            });
        }
        if let (Some(m), Some(s)) = (l.memory, l.memory_swap) {
            if s >= 0 && s < m {
                return Err(SpecError::Limit {
                    flag: "--memory-swap".into(),
                    value: s.to_string(),
                    reason: "must be at least --memory (it counts memory plus swap)",
                });
            }
        }
        let mut m = LinuxMemoryBuilder::default();
        if let Some(v) = l.memory {
            if v < 6 * 1024 * 1024 {
                return Err(SpecError::Limit {
                    flag: "--memory".into(),
                    value: format!("{v} bytes"),
                    reason: "the minimum is 6m",
                });
            }
            m = m.limit(v);
            // like Docker: without --memory-swap, the container may swap as much as its memory
            m = m.swap(l.memory_swap.unwrap_or(v.saturating_mul(2)));
        }
        if let Some(v) = l.memory_reservation {
            m = m.reservation(v);
        }
        b = b.memory(m.build().map_err(err)?);
    }
    if l.cpus.is_some() || l.cpu_shares.is_some() || l.cpuset_cpus.is_some() || l.cpuset_mems.is_some() {
        let mut c = LinuxCpuBuilder::default();
        if let Some(cpus) = l.cpus {
            let online = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) as f64;
            if !cpus.is_finite() || cpus <= 0.0 || cpus > online {
                return Err(SpecError::Limit {
                    flag: "--cpus".into(),
                    value: cpus.to_string(),
                    reason: "must be above 0 and at most the number of CPUs",
                });
            }
            let (quota, period) = crate::cgroups::cpus_to_quota(cpus);
            c = c.quota(quota).period(period);
        }
        if let Some(s) = l.cpu_shares {
            c = c.shares(s);
        }
        if let Some(set) = &l.cpuset_cpus {
            let Some(wanted) = parse_cpu_list(set) else {
                return Err(SpecError::Limit {
                    flag: "--cpuset-cpus".into(),
                    value: set.clone(),
                    reason: "expected a list like 0-1,3",
                });
            };
            if let Some(online) = online_cpus() {
                let is_online = |cpu: u32| online.iter().any(|r| r.contains(&cpu));
                if !wanted.iter().all(|r| r.clone().all(is_online)) {
                    return Err(SpecError::Limit {
                        flag: "--cpuset-cpus".into(),
                        value: set.clone(),
                        reason: "requests CPUs this host does not have online (see /sys/devices/system/cpu/online)",
                    });
                }
            }
            c = c.cpus(set.clone());
        }
        if let Some(set) = &l.cpuset_mems {
            if set.is_empty() || !set.chars().all(|ch| ch.is_ascii_digit() || ch == ',' || ch == '-') {
                return Err(SpecError::Limit {
                    flag: "--cpuset-mems".into(),
                    value: set.clone(),
                    reason: "expected a list like 0-1,3",
                });
            }
            c = c.mems(set.clone());
        }
        b = b.cpu(c.build().map_err(err)?);
    }
    if let Some(w) = l.blkio_weight {
        if !(10..=1000).contains(&w) {
            return Err(SpecError::Limit {
                flag: "--blkio-weight".into(),
                value: w.to_string(),
                reason: "must be between 10 and 1000",
            });
        }
        b = b.block_io(LinuxBlockIoBuilder::default().weight(w).build().map_err(err)?);
    }
    if let Some(p) = l.pids_limit {
        b = b.pids(LinuxPidsBuilder::default().limit(if p <= 0 { -1 } else { p }).build().map_err(err)?);
    }
    b.build().map_err(err)
}

/// `rrun update`: the limits given, checked as `run` checks them, over a
/// container's `current` resources. Returns what to apply to its cgroup now
/// (only what changes) and its resources from now on (kept for its next start).
/// As with Docker, a new memory limit keeps the swap limit set before, and
/// must stay below it unless `--memory-swap` changes too.
pub fn update(current: &LinuxResources, l: &Limits) -> Result<(LinuxResources, LinuxResources), SpecError> {
    let err = |e: oci_spec::OciSpecError| SpecError::Build(e.to_string());
    let cur_mem = current.memory().as_ref();
    let (cur_limit, cur_swap) = (cur_mem.and_then(|m| m.limit()), cur_mem.and_then(|m| m.swap()));
    let memory = l.memory.or(cur_limit);
    let memory_swap = match (l.memory_swap, l.memory) {
        (Some(s), _) => Some(s),
        (None, Some(m)) => match cur_swap {
            Some(s) if s > 0 && m > s => {
                return Err(SpecError::Limit {
                    flag: "--memory".into(),
                    value: m.to_string(),
                    reason: "Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time",
                })
            }
            // unlimited swap stays so; none set: as `run`, as much swap as memory
            Some(s) if s > 0 || s == -1 => Some(s),
            _ => None,
        },
        (None, None) => cur_swap,
    };
    let memory_given = l.memory.is_some() || l.memory_swap.is_some() || l.memory_reservation.is_some();
    let checked = resources(
        &Limits {
            memory: if memory_given { memory } else { None },
            memory_swap: if memory_given { memory_swap } else { None },
            memory_reservation: l.memory_reservation,
            cpus: l.cpus,
            cpu_shares: l.cpu_shares,
            cpuset_cpus: l.cpuset_cpus.clone(),
            cpuset_mems: l.cpuset_mems.clone(),
            pids_limit: l.pids_limit,
            ..Default::default()
        },
        &[],
    )?;
    let mut delta = LinuxResourcesBuilder::default().build().map_err(err)?;
    let mut merged = current.clone();
    if memory_given {
        let new = checked.memory().expect("memory limits were given");
        delta.set_memory(Some(new));
        let mut m = LinuxMemoryBuilder::default();
        if let Some(v) = new.limit().or(cur_limit) {
            m = m.limit(v);
        }
        if let Some(v) = new.swap().or(cur_swap) {
            m = m.swap(v);
        }
        if let Some(v) = new.reservation().or(cur_mem.and_then(|m| m.reservation())) {
            m = m.reservation(v);
        }
        merged.set_memory(Some(m.build().map_err(err)?));
    }
    if let Some(new) = checked.cpu() {
        delta.set_cpu(Some(new.clone()));
        let cur = current.cpu().clone().unwrap_or_default();
        let mut c = LinuxCpuBuilder::default();
        if let Some(v) = new.shares().or(cur.shares()) {
            c = c.shares(v);
        }
        if let Some(v) = new.quota().or(cur.quota()) {
            c = c.quota(v);
        }
        if let Some(v) = new.period().or(cur.period()) {
            c = c.period(v);
        }
        if let Some(v) = new.cpus().clone().or(cur.cpus().clone()) {
            c = c.cpus(v);
        }
        if let Some(v) = new.mems().clone().or(cur.mems().clone()) {
            c = c.mems(v);
        }
        merged.set_cpu(Some(c.build().map_err(err)?));
    }
    if let Some(p) = checked.pids() {
        delta.set_pids(Some(*p));
        merged.set_pids(Some(*p));
    }
    Ok((delta, merged))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_like_docker() {
        assert_eq!(parse_bytes("-m", "256m").unwrap(), 256 << 20);
        assert_eq!(parse_bytes("-m", "1g").unwrap(), 1 << 30);
        assert_eq!(parse_bytes("-m", "512K").unwrap(), 512 << 10);
        assert_eq!(parse_bytes("-m", "100").unwrap(), 100);
        assert_eq!(parse_bytes("-m", "1.5g").unwrap(), 3 << 29);
        assert!(parse_bytes("-m", "lots").is_err());
        assert!(parse_bytes("-m", "-1m").is_err());
        let e = parse_bytes("--memory", "99999999999g").unwrap_err();
        assert!(e.to_string().contains("too large"), "{e}");
        assert_eq!(parse_cpu_list("0-1,3"), Some(vec![0..=1, 3..=3]));
        assert_eq!(parse_cpu_list("2-1"), None);
        assert_eq!(parse_cpu_list("x"), None);
    }

    #[test]
    fn limits_become_resources() {
        let l = Limits { memory: Some(256 << 20), cpus: Some(0.5), pids_limit: Some(100), ..Default::default() };
        let r = resources(&l, &[]).unwrap();
        let m = r.memory().unwrap();
        assert_eq!(m.limit(), Some(256 << 20));
        assert_eq!(m.swap(), Some(512 << 20));
        let c = r.cpu().as_ref().unwrap();
        assert_eq!((c.quota(), c.period()), (Some(50_000), Some(100_000)));
        assert_eq!(r.pids().unwrap().limit(), 100);
        assert_eq!(r.devices().as_ref().unwrap()[0].to_string(), "a *:* rwm");
        assert!(resources(&Limits { memory: Some(1 << 20), ..Default::default() }, &[]).is_err(), "below 6m");
        assert!(resources(&Limits { memory_swap: Some(1 << 30), ..Default::default() }, &[]).is_err());
        assert!(resources(&Limits { cpus: Some(0.0), ..Default::default() }, &[]).is_err());
        let r = resources(&Limits { blkio_weight: Some(300), ..Default::default() }, &[]).unwrap();
        assert_eq!(r.block_io().as_ref().unwrap().weight(), Some(300));
        assert!(resources(&Limits { blkio_weight: Some(5), ..Default::default() }, &[]).is_err());
    }

    #[test]
    fn device_requests_parse_like_docker() {
        let d: DeviceRequest = "/dev/fuse".parse().unwrap();
        assert_eq!((d.container.to_str(), d.access.as_str()), (Some("/dev/fuse"), "rwm"));
        let d: DeviceRequest = "/dev/fuse:r".parse().unwrap();
        assert_eq!((d.container.to_str(), d.access.as_str()), (Some("/dev/fuse"), "r"));
        let d: DeviceRequest = "/dev/fuse:/dev/f2".parse().unwrap();
        assert_eq!((d.container.to_str(), d.access.as_str()), (Some("/dev/f2"), "rwm"));
        let d: DeviceRequest = "/dev/fuse:/dev/f2:rw".parse().unwrap();
        assert_eq!((d.container.to_str(), d.access.as_str()), (Some("/dev/f2"), "rw"));
        assert!("dev/fuse".parse::<DeviceRequest>().is_err());
        assert!("/dev/fuse:/x:rwx".parse::<DeviceRequest>().is_err());
        let hd =
            HostDevice { request: d, typ: LinuxDeviceType::C, major: 10, minor: 229, mode: 0o20666, uid: 0, gid: 0 };
        let r = resources(&Limits::default(), std::slice::from_ref(&hd)).unwrap();
        assert_eq!(r.devices().as_ref().unwrap().last().unwrap().to_string(), "c 10:229 rw");
        assert_eq!(hd.node().unwrap().file_mode(), Some(0o666));
    }

    #[test]
    fn updates_keep_what_they_do_not_name() {
        let run = Limits { memory: Some(64 << 20), cpus: Some(0.5), pids_limit: Some(100), ..Default::default() };
        let current = resources(&run, &[]).unwrap();
        // a lower memory limit keeps the swap set at run (twice the memory)
        let (delta, merged) = update(&current, &Limits { memory: Some(32 << 20), ..Default::default() }).unwrap();
        let m = delta.memory().unwrap();
        assert_eq!((m.limit(), m.swap()), (Some(32 << 20), Some(128 << 20)));
        assert!(delta.cpu().is_none() && delta.pids().is_none() && delta.devices().is_none(), "only what changes");
        assert_eq!(merged.cpu().as_ref().unwrap().quota(), Some(50_000));
        assert_eq!(merged.pids().unwrap().limit(), 100);
        assert_eq!(merged.devices(), current.devices());
        // above the swap limit without a new one: refused, as Docker does
        assert!(update(&current, &Limits { memory: Some(256 << 20), ..Default::default() }).is_err());
        let (_, merged) =
            update(&current, &Limits { memory: Some(256 << 20), memory_swap: Some(-1), ..Default::default() }).unwrap();
        assert_eq!(merged.memory().unwrap().swap(), Some(-1));
        // a container without limits gets run's defaults
        let (delta, _) =
            update(&LinuxResources::default(), &Limits { memory: Some(64 << 20), ..Default::default() }).unwrap();
        assert_eq!(delta.memory().unwrap().swap(), Some(128 << 20));
        // cpu fields merge one by one, and run's checks apply
        let (delta, merged) = update(&current, &Limits { cpu_shares: Some(512), ..Default::default() }).unwrap();
        assert_eq!(delta.cpu().as_ref().unwrap().quota(), None);
        let c = merged.cpu().as_ref().unwrap();
        assert_eq!((c.shares(), c.quota()), (Some(512), Some(50_000)));
        assert!(update(&current, &Limits { memory: Some(1 << 20), memory_swap: Some(2 << 20), ..Default::default() })
            .is_err());
        assert!(update(&current, &Limits { cpus: Some(0.0), ..Default::default() }).is_err());
        assert!(update(&current, &Limits { cpuset_mems: Some("x".into()), ..Default::default() }).is_err());
        assert!(
            update(&LinuxResources::default(), &Limits { memory_swap: Some(1 << 30), ..Default::default() }).is_err()
        );
    }

    #[test]
    fn device_rules_parse() {
        assert_eq!(parse_device_rule("c 1:3 rwm", true).unwrap().to_string(), "c 1:3 rwm");
        assert_eq!(parse_device_rule("b *:* m", true).unwrap().to_string(), "b *:* m");
        assert!(parse_device_rule("x 1:3 rwm", true).is_err());
        assert!(parse_device_rule("c 1:3 rwx", true).is_err());
    }
}
