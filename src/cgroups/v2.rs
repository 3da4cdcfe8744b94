//! cgroup v2: one directory, `<root>/rrun/<id>`, with the controllers enabled
//! on the way down through `cgroup.subtree_control`.

use super::{read, shares_to_weight, write, Cgroup, CgroupError, Stats};
use oci_spec::runtime::LinuxResources;
use std::path::{Path, PathBuf};

pub(super) const WANTED: [&str; 6] = ["cpuset", "cpu", "io", "memory", "pids", "hugetlb"];

/// `hugepageLimits` entry as v2 files: the limit, and the reservation limit where the kernel has it.
pub(super) fn set_hugetlb(dir: &Path, h: &oci_spec::runtime::LinuxHugepageLimit) -> Result<(), CgroupError> {
    let v = if h.limit() < 0 { "max".to_string() } else { h.limit().to_string() };
    write(dir, &format!("hugetlb.{}.max", h.page_size()), &v)?;
    let rsvd = format!("hugetlb.{}.rsvd.max", h.page_size());
    if dir.join(&rsvd).exists() {
        write(dir, &rsvd, &v)?;
    }
    Ok(())
}

#[derive(Debug)]
pub struct V2 {
    dir: PathBuf,
}

impl V2 {
    /// Creates `root/rel`, enabling the controllers rrun uses on the way down.
    pub fn create(root: &Path, available: &[String], rel: &Path) -> Result<V2, CgroupError> {
        Self::create_below(root, available, rel, &WANTED)
    }

    /// Creates `base/rel`, enabling those of `wanted` that `available` has on the way down.
    pub fn create_below(base: &Path, available: &[String], rel: &Path, wanted: &[&str]) -> Result<V2, CgroupError> {
        let root = base;
        let dir = root.join(rel);
        crate::step!(super::CGROUP_CREATE, path = %dir.display(), controllers = %wanted.join(","));
        std::fs::create_dir_all(&dir).map_err(super::io(&dir, "mkdir"))?;
        let enable: Vec<String> =
            wanted.iter().filter(|c| available.iter().any(|a| a == *c)).map(|c| format!("+{c}")).collect();
        if !enable.is_empty() {
            let line = enable.join(" ");
            let mut level = root.to_path_buf();
            for comp in rel.components() {
                let already = read(&level, "cgroup.subtree_control").unwrap_or_default();
                if enable.iter().any(|c| !already.split_whitespace().any(|a| a == &c[1..])) {
                    super::write_as(&super::CGROUP_CONTROLLERS, &level, "cgroup.subtree_control", &line)?;
                }
                level.push(comp);
            }
        }
        Ok(V2 { dir })
    }

    pub fn open(dir: &Path) -> V2 {
        V2 { dir: dir.to_path_buf() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn need(&self, file: &str, what: &str, controller: &'static str) -> Result<(), CgroupError> {
        if self.dir.join(file).exists() {
            Ok(())
        } else {
            Err(CgroupError::NoController { what: what.to_string(), controller })
        }
    }

    fn set(&self, file: &str, value: &str, what: &str, controller: &'static str) -> Result<(), CgroupError> {
        self.need(file, what, controller)?;
        write(&self.dir, file, value)
    }

    /// `blockIO` on the io controller: BFQ's weights where BFQ schedules, else
    /// io.weight (v1's 10..1000 scaled to 1..10000, as runc does); throttles as io.max.
    fn apply_io(&self, b: &oci_spec::runtime::LinuxBlockIo) -> Result<(), CgroupError> {
        let bfq = self.dir.join("io.bfq.weight").exists();
        let scaled = |w: u16| 1 + (u64::from(w).saturating_sub(10)) * 9999 / 990;
        if let Some(w) = b.weight() {
            if bfq {
                write(&self.dir, "io.bfq.weight", &w.to_string())?;
            } else {
                self.set("io.weight", &format!("default {}", scaled(w)), "blockIO.weight", "io")?;
            }
        }
        if b.leaf_weight().is_some() {
            return Err(CgroupError::Invalid {
                what: "blockIO.leafWeight".into(),
                reason: "a cgroup v1 setting, which cgroup v2 does not have".into(),
            });
        }
        for wd in b.weight_device().iter().flatten() {
            if let Some(w) = wd.weight() {
                let (file, w) = if bfq { ("io.bfq.weight", u64::from(w)) } else { ("io.weight", scaled(w)) };
                self.set(file, &format!("{}:{} {w}", wd.major(), wd.minor()), "blockIO.weightDevice", "io")?;
            }
        }
        for (list, key) in [
            (b.throttle_read_bps_device(), "rbps"),
            (b.throttle_write_bps_device(), "wbps"),
            (b.throttle_read_iops_device(), "riops"),
            (b.throttle_write_iops_device(), "wiops"),
        ] {
            for t in list.iter().flatten() {
                let v = if t.rate() == 0 { "max".to_string() } else { t.rate().to_string() };
                self.set("io.max", &format!("{}:{} {key}={v}", t.major(), t.minor()), "blockIO throttling", "io")?;
            }
        }
        Ok(())
    }
}

impl Cgroup for V2 {
    fn dirs(&self) -> Vec<PathBuf> {
        vec![self.dir.clone()]
    }

    fn add_process(&self, pid: i32) -> Result<(), CgroupError> {
        write(&self.dir, "cgroup.procs", &pid.to_string())
    }

    fn join_self(&self) -> Result<(), CgroupError> {
        super::write_as(&super::CGROUP_JOIN, &self.dir, "cgroup.procs", "0")
    }

    fn clone_into(&self) -> Option<std::os::fd::OwnedFd> {
        std::fs::File::open(&self.dir).ok().map(std::os::fd::OwnedFd::from)
    }

    fn apply(&self, r: &LinuxResources) -> Result<(), CgroupError> {
        super::validate(r)?;
        let bytes = |v: i64| if v < 0 { "max".to_string() } else { v.to_string() };
        let v1_only = |what: &str, why: &str| CgroupError::Invalid {
            what: what.to_string(),
            reason: format!("a cgroup v1 setting, which cgroup v2 does not have ({why})"),
        };
        if let Some(m) = r.memory() {
            if let Some(limit) = m.limit() {
                self.set("memory.max", &bytes(limit), "memory.limit", "memory")?;
            }
            if let Some(swap) = m.swap() {
                // v1's memsw is memory+swap; v2's swap.max is swap alone
                let v = match (swap, m.limit()) {
                    (s, _) if s < 0 => "max".to_string(),
                    (s, Some(l)) if l >= 0 => (s - l).max(0).to_string(),
                    (s, _) => s.to_string(),
                };
                self.set("memory.swap.max", &v, "memory.swap", "memory")?;
            }
            if let Some(res) = m.reservation() {
                self.set("memory.low", &bytes(res), "memory.reservation", "memory")?;
            }
            if m.kernel().is_some() || m.kernel_tcp().is_some() {
                return Err(v1_only("memory.kernel / memory.kernelTCP", "kernel memory is accounted with the rest"));
            }
            if let Some(s) = m.swappiness() {
                return Err(v1_only(&format!("memory.swappiness ({s})"), "no per-cgroup swappiness"));
            }
            if m.disable_oom_killer() == Some(true) {
                return Err(v1_only("memory.disableOOMKiller", "the OOM killer cannot be turned off per cgroup"));
            }
        }
        if let Some(c) = r.cpu() {
            if let Some(shares) = c.shares() {
                self.set("cpu.weight", &shares_to_weight(shares).to_string(), "cpu.shares", "cpu")?;
            }
            if c.quota().is_some() || c.period().is_some() {
                self.need("cpu.max", "cpu.quota", "cpu")?;
                let cur = read(&self.dir, "cpu.max").unwrap_or_else(|| "max 100000".into());
                let mut parts = cur.split_whitespace();
                let (cur_q, cur_p) =
                    (parts.next().unwrap_or("max").to_string(), parts.next().unwrap_or("100000").to_string());
                let q = match c.quota() {
                    Some(q) if q > 0 => q.to_string(),
                    Some(_) => "max".into(),
                    None => cur_q,
                };
                let p = c.period().map(|p| p.to_string()).unwrap_or(cur_p);
                self.set("cpu.max", &format!("{q} {p}"), "cpu.quota", "cpu")?;
            }
            if let Some(b) = c.burst() {
                self.set("cpu.max.burst", &b.to_string(), "cpu.burst", "cpu")?;
            }
            if let Some(i) = c.idle() {
                self.set("cpu.idle", &i.to_string(), "cpu.idle", "cpu")?;
            }
            if c.realtime_period().is_some() || c.realtime_runtime().is_some() {
                return Err(v1_only("cpu.realtimePeriod / cpu.realtimeRuntime", "no real-time group scheduling files"));
            }
            if let Some(cpus) = c.cpus() {
                self.set("cpuset.cpus", cpus, "cpu.cpus", "cpuset")?;
            }
            if let Some(mems) = c.mems() {
                self.set("cpuset.mems", mems, "cpu.mems", "cpuset")?;
            }
        }
        // 0 is "not set", as runc reads it
        if let Some(w) = r.block_io().as_ref().and_then(|b| b.weight()).filter(|w| *w != 0) {
            // BFQ's weight (1..1000, Docker's scale) where the scheduler is loaded, else io.weight (1..10000)
            if self.dir.join("io.bfq.weight").exists() {
                write(&self.dir, "io.bfq.weight", &w.to_string())?;
            } else if self.dir.join("io.weight").exists() {
                write(&self.dir, "io.weight", &format!("default {}", super::blkio_to_io_weight(w)))?;
            } else {
                return Err(CgroupError::MissingFile {
                    what: "--blkio-weight".into(),
                    controller: "io",
                    files: "io.bfq.weight, io.weight",
                    reason: "the io controller is not enabled here, or no I/O scheduler supports weights",
                });
            }
        }
        if let Some(p) = r.pids() {
            let v = if p.limit() > 0 { p.limit().to_string() } else { "max".into() };
            self.set("pids.max", &v, "pids.limit", "pids")?;
        }
        if let Some(b) = r.block_io() {
            self.apply_io(b)?;
        }
        for h in r.hugepage_limits().iter().flatten() {
            self.need(
                &format!("hugetlb.{}.max", h.page_size()),
                &format!("hugepageLimits ({})", h.page_size()),
                "hugetlb",
            )?;
            set_hugetlb(&self.dir, h)?;
        }
        if let Some(n) = r.network() {
            if n.class_id().is_some() || n.priorities().as_ref().is_some_and(|p| !p.is_empty()) {
                return Err(CgroupError::NoController {
                    what: "network.classID / network.priorities (cgroup v2 has no net_cls or net_prio)".into(),
                    controller: "net_cls",
                });
            }
        }
        if let Some(rdma) = r.rdma().as_ref().filter(|m| !m.is_empty()) {
            for (dev, l) in rdma {
                let mut v = dev.clone();
                v.push_str(&format!(" hca_handle={}", l.hca_handles().map(|h| h.to_string()).unwrap_or("max".into())));
                v.push_str(&format!(" hca_object={}", l.hca_objects().map(|h| h.to_string()).unwrap_or("max".into())));
                self.set("rdma.max", &v, "rdma", "rdma")?;
            }
        }
        if let Some(u) = r.unified() {
            let mut keys: Vec<&String> = u.keys().collect();
            keys.sort();
            for k in keys {
                if k.contains('/') || k.starts_with('.') || k.is_empty() {
                    return Err(CgroupError::Invalid {
                        what: format!("unified {k:?}"),
                        reason: "not a control file name".into(),
                    });
                }
                let controller = k.split('.').next().unwrap_or("");
                if !self.dir.join(k).exists() {
                    return Err(CgroupError::Invalid {
                        what: format!("unified {k}"),
                        reason: format!("no such control file (is the {controller} controller enabled?)"),
                    });
                }
                write(&self.dir, k, &u[k])?;
            }
        }
        // rootless: loading a BPF program needs root, and a user namespace cannot make device nodes
        // (the container has only the host's, bound in, which the user could open anyway)
        if r.devices().as_ref().is_some_and(|d| !d.is_empty()) && crate::rootless::active().is_none() {
            super::bpf::apply_device_rules(&self.dir, r.devices().as_deref().unwrap_or_default())?;
        }
        Ok(())
    }

    fn freeze(&self) -> Result<(), CgroupError> {
        write(&self.dir, "cgroup.freeze", "1")?;
        for _ in 0..1000 {
            if self.is_frozen() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        Ok(())
    }

    fn thaw(&self) -> Result<(), CgroupError> {
        write(&self.dir, "cgroup.freeze", "0")
    }

    fn is_frozen(&self) -> bool {
        read(&self.dir, "cgroup.events").is_some_and(|e| e.lines().any(|l| l == "frozen 1"))
    }

    fn pids(&self) -> Vec<i32> {
        // with the processes of sub-cgroups (`exec --cgroup`)
        super::read_pids_tree(&self.dir)
    }

    fn kill_all(&self) -> Result<(), CgroupError> {
        crate::step!(super::CGROUP_KILL, left = self.pids().len(), signal = "SIGKILL");
        if self.pids().is_empty() {
            return Ok(());
        }
        if self.dir.join("cgroup.kill").exists() {
            write(&self.dir, "cgroup.kill", "1")?;
        }
        super::kill_until_empty(self);
        Ok(())
    }

    fn stats(&self) -> Result<Stats, CgroupError> {
        let num = |f: &str| read(&self.dir, f).and_then(|v| v.parse::<u64>().ok());
        let keyed = |f: &str, key: &str| {
            read(&self.dir, f)
                .and_then(|t| t.lines().find_map(|l| l.strip_prefix(key).and_then(|v| v.trim().parse::<u64>().ok())))
        };
        Ok(Stats {
            cpu_usage_ns: keyed("cpu.stat", "usage_usec ").unwrap_or(0) * 1000,
            memory_usage: num("memory.current").unwrap_or(0),
            memory_limit: num("memory.max"),
            pids: num("pids.current").unwrap_or(self.pids().len() as u64),
            oom_kills: keyed("memory.events", "oom_kill ").unwrap_or(0),
        })
    }

    fn delete(&self) -> Result<(), CgroupError> {
        crate::step!(super::CGROUP_DELETE, path = %self.dir.display());
        super::rmdir_tree(&self.dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{LinuxCpuBuilder, LinuxMemoryBuilder, LinuxResourcesBuilder};

    /// A directory of plain files standing in for a v2 cgroup's control files.
    fn fake(files: &[(&str, &str)]) -> (PathBuf, V2) {
        let dir = std::env::temp_dir().join(format!("rrun-v2-fake-{}-{}", std::process::id(), files.len()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for (f, v) in files {
            std::fs::write(dir.join(f), v).unwrap();
        }
        (dir.clone(), V2::open(&dir))
    }

    #[test]
    fn cpu_max_keeps_what_an_update_does_not_name() {
        let (dir, cg) =
            fake(&[("cpu.max", "max 100000\n"), ("memory.max", "max\n"), ("cgroup.controllers", "cpu memory")]);
        let period = LinuxCpuBuilder::default().period(50000u64).build().unwrap();
        cg.apply(&LinuxResourcesBuilder::default().cpu(period).build().unwrap()).unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("cpu.max")).unwrap(), "max 50000");
        let quota = LinuxCpuBuilder::default().quota(20000i64).build().unwrap();
        cg.apply(&LinuxResourcesBuilder::default().cpu(quota).build().unwrap()).unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("cpu.max")).unwrap(), "20000 50000");
        let unlimited = LinuxMemoryBuilder::default().limit(-1i64).build().unwrap();
        cg.apply(&LinuxResourcesBuilder::default().memory(unlimited).build().unwrap()).unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("memory.max")).unwrap(), "max");
        let swappy = LinuxMemoryBuilder::default().swappiness(10u64).build().unwrap();
        let e = cg.apply(&LinuxResourcesBuilder::default().memory(swappy).build().unwrap()).unwrap_err();
        assert!(e.to_string().contains("swappiness"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
