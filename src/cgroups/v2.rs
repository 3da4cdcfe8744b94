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

    /// `blockIO` on the io controller but its weight (which `apply` writes,
    /// 0 being unset): device weights as BFQ's where BFQ schedules, else as
    /// io.weight (v1's 10..1000 scaled to 1..10000, as runc does); throttles as io.max.
    fn apply_io(&self, b: &oci_spec::runtime::LinuxBlockIo) -> Result<(), CgroupError> {
        let bfq = self.dir.join("io.bfq.weight").exists();
        let scaled = super::blkio_to_io_weight;
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

    #[cfg(test)]
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
    use super::super::fixture::{cat, set, unpopulate, V2Tree, Writes};
    use super::*;

    fn res(json: &str) -> LinuxResources {
        serde_json::from_str(json).unwrap_or_else(|e| panic!("{json}: {e}"))
    }

    /// `rrun/c1` created on a v2 tree with `controllers`, its control files made as the kernel would.
    fn made(controllers: &[&str]) -> (V2Tree, V2) {
        let tree = V2Tree::new(controllers);
        let available: Vec<String> = controllers.iter().map(|c| c.to_string()).collect();
        let cg = V2::create(&tree.root, &available, Path::new("rrun/c1")).unwrap();
        tree.populate(cg.dir());
        (tree, cg)
    }

    const ALL: &[&str] = &["cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc"];

    #[test]
    fn create_makes_the_directory_and_enables_the_controllers_on_the_way_down() {
        let tree = V2Tree::new(ALL);
        let writes = Writes::record();
        let cg = V2::create(&tree.root, &tree.controllers, Path::new("rrun/c1")).unwrap();
        assert_eq!(cg.dir(), tree.root.join("rrun/c1"));
        assert!(cg.dir().is_dir());
        assert_eq!(cg.dirs(), vec![tree.root.join("rrun/c1")]);
        // the ones rrun drives that the host has, in rrun's order; not rdma or misc
        let line = "+cpuset +cpu +io +memory +pids +hugetlb";
        assert_eq!(cat(&tree.root, "cgroup.subtree_control"), line);
        assert_eq!(cat(&tree.root.join("rrun"), "cgroup.subtree_control"), line);
        assert!(!cg.dir().join("cgroup.subtree_control").exists(), "the leaf enables nothing");
        assert_eq!(
            writes.files(),
            vec![tree.root.join("cgroup.subtree_control"), tree.root.join("rrun/cgroup.subtree_control")]
        );

        // a second container: the levels already enable everything, nothing is written
        tree.populate(cg.dir());
        for level in [&tree.root, &tree.root.join("rrun")] {
            set(level, "cgroup.subtree_control", "cpuset cpu io memory pids hugetlb");
        }
        let writes = Writes::record();
        V2::create(&tree.root, &tree.controllers, Path::new("rrun/c2")).unwrap();
        assert!(writes.files().is_empty(), "{:?}", writes.files());
        assert!(tree.root.join("rrun/c2").is_dir());
    }

    #[test]
    fn create_enables_only_what_the_host_has_and_below_a_delegated_base() {
        let tree = V2Tree::new(&["memory", "pids"]);
        let base = tree.root.join("user.slice/deleg");
        std::fs::create_dir_all(&base).unwrap();
        let cg = V2::create_below(&base, &tree.controllers, Path::new("c1"), &WANTED).unwrap();
        assert_eq!(cg.dir(), base.join("c1"));
        assert_eq!(cat(&base, "cgroup.subtree_control"), "+memory +pids");
        assert!(
            !tree.root.join("cgroup.subtree_control").exists() || cat(&tree.root, "cgroup.subtree_control").is_empty()
        );
        // no controller available at all: the directory alone
        let cg = V2::create_below(&base, &[], Path::new("c2"), &WANTED).unwrap();
        assert!(cg.dir().is_dir());
    }

    #[test]
    fn every_resource_lands_in_its_v2_file() {
        let (_tree, cg) = made(&["cpuset", "cpu", "io", "memory", "pids", "hugetlb"]);
        let d = cg.dir().to_path_buf();
        cg.apply(&res(r#"{
            "memory": {"limit": 268435456, "reservation": 134217728, "swap": 402653184},
            "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "burst": 1000, "idle": 0,
                    "cpus": "0-1", "mems": "0"},
            "pids": {"limit": 64},
            "blockIO": {"weight": 500},
            "hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}]
        }"#))
            .unwrap();
        assert_eq!(cat(&d, "memory.max"), "268435456");
        // v1's memory+swap is v2's swap alone
        assert_eq!(cat(&d, "memory.swap.max"), "134217728");
        assert_eq!(cat(&d, "memory.low"), "134217728");
        assert_eq!(cat(&d, "cpu.weight"), "39", "shares 1024 as a weight");
        assert_eq!(cat(&d, "cpu.max"), "50000 100000");
        assert_eq!(cat(&d, "cpu.max.burst"), "1000");
        assert_eq!(cat(&d, "cpu.idle"), "0");
        assert_eq!(cat(&d, "cpuset.cpus"), "0-1");
        assert_eq!(cat(&d, "cpuset.mems"), "0");
        assert_eq!(cat(&d, "pids.max"), "64");
        assert_eq!(cat(&d, "io.weight"), "default 4950", "blkio weight 500 on io.weight's scale");
        assert_eq!(cat(&d, "hugetlb.2MB.max"), "4194304");
        assert_eq!(cat(&d, "hugetlb.2MB.rsvd.max"), "4194304", "the reservation limit too");
    }

    #[test]
    fn unlimited_is_max() {
        let (_tree, cg) = made(&["cpu", "memory", "pids", "hugetlb"]);
        let d = cg.dir().to_path_buf();
        for (f, v) in [("memory.max", "1"), ("memory.swap.max", "1"), ("memory.low", "1"), ("pids.max", "1")] {
            set(&d, f, v);
        }
        set(&d, "cpu.max", "50000 100000");
        cg.apply(&res(r#"{
            "memory": {"limit": -1, "reservation": -1, "swap": -1},
            "cpu": {"quota": -1},
            "pids": {"limit": 0},
            "hugepageLimits": [{"pageSize": "2MB", "limit": -1}]
        }"#))
            .unwrap();
        for f in ["memory.max", "memory.swap.max", "memory.low", "pids.max", "hugetlb.2MB.max"] {
            assert_eq!(cat(&d, f), "max", "{f}");
        }
        assert_eq!(cat(&d, "cpu.max"), "max 100000", "the period kept");
        // swap equal to the limit: no swap
        cg.apply(&res(r#"{"memory": {"limit": 1048576, "swap": 1048576}}"#)).unwrap();
        assert_eq!(cat(&d, "memory.swap.max"), "0");
    }

    #[test]
    fn cpu_max_keeps_what_an_update_does_not_name() {
        let (_tree, cg) = made(&["cpu", "memory"]);
        let d = cg.dir().to_path_buf();
        cg.apply(&res(r#"{"cpu": {"period": 50000}}"#)).unwrap();
        assert_eq!(cat(&d, "cpu.max"), "max 50000");
        cg.apply(&res(r#"{"cpu": {"quota": 20000}}"#)).unwrap();
        assert_eq!(cat(&d, "cpu.max"), "20000 50000");
    }

    #[test]
    fn block_io_throttles_are_one_io_max_line_each() {
        let (_tree, cg) = made(&["io"]);
        let d = cg.dir().to_path_buf();
        let writes = Writes::record();
        cg.apply(&res(r#"{"blockIO": {
            "weightDevice": [{"major": 8, "minor": 0, "weight": 1000}],
            "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}],
            "throttleWriteBpsDevice": [{"major": 8, "minor": 0, "rate": 0}],
            "throttleReadIOPSDevice": [{"major": 8, "minor": 16, "rate": 100}],
            "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 200}]
        }}"#))
            .unwrap();
        assert_eq!(writes.to(&d, "io.weight"), ["8:0 10000"]);
        assert_eq!(writes.to(&d, "io.max"), ["8:0 rbps=1048576", "8:0 wbps=max", "8:16 riops=100", "8:16 wiops=200"]);
    }

    #[test]
    fn an_unset_blkio_weight_writes_nothing() {
        let (_tree, cg) = made(&["io"]);
        let writes = Writes::record();
        cg.apply(&res(r#"{"blockIO": {"weight": 0}}"#)).unwrap();
        assert!(writes.files().is_empty(), "{:?}", writes.files());
        assert_eq!(cat(cg.dir(), "io.weight"), "default 100");
    }

    #[test]
    fn bfq_takes_docker_weights_as_they_are() {
        let (_tree, cg) = made(&["io"]);
        set(cg.dir(), "io.bfq.weight", "default 100");
        let writes = Writes::record();
        cg.apply(&res(r#"{"blockIO": {"weight": 300, "weightDevice": [{"major": 8, "minor": 0, "weight": 200}]}}"#))
            .unwrap();
        assert_eq!(writes.to(cg.dir(), "io.bfq.weight"), ["300", "8:0 200"]);
        assert!(writes.to(cg.dir(), "io.weight").is_empty());
    }

    #[test]
    fn the_unified_map_writes_its_files_and_refuses_others() {
        let (_tree, cg) = made(&["memory", "pids"]);
        let d = cg.dir().to_path_buf();
        cg.apply(&res(r#"{"unified": {"memory.high": "1073741824", "pids.max": "7"}}"#)).unwrap();
        assert_eq!(cat(&d, "memory.high"), "1073741824");
        assert_eq!(cat(&d, "pids.max"), "7");
        for (json, named) in [
            (r#"{"unified": {"io.max": "8:0 rbps=1"}}"#, "unified io.max"),
            (r#"{"unified": {"../escape": "1"}}"#, "not a control file name"),
            (r#"{"unified": {"memory.high/x": "1"}}"#, "not a control file name"),
        ] {
            let e = cg.apply(&res(json)).unwrap_err().to_string();
            assert!(e.contains(named), "{json}: {e}");
        }
        assert!(!d.parent().unwrap().join("escape").exists());
    }

    #[test]
    fn a_limit_whose_file_is_missing_is_refused_by_name() {
        // neither io nor hugetlb nor cpuset enabled: their files are absent
        let (_tree, cg) = made(&["memory", "cpu"]);
        for (json, named) in [
            (r#"{"pids": {"limit": 10}}"#, "pids.limit: the pids cgroup controller"),
            (r#"{"cpu": {"cpus": "0"}}"#, "cpu.cpus: the cpuset cgroup controller"),
            (r#"{"blockIO": {"weight": 500}}"#, "--blkio-weight: this host's io cgroup has no weight file"),
            (r#"{"blockIO": {"throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1}]}}"#, "the io cgroup"),
            (r#"{"hugepageLimits": [{"pageSize": "2MB", "limit": 1}]}"#, "hugepageLimits (2MB)"),
            (r#"{"network": {"classID": 1}}"#, "net_cls"),
            (r#"{"memory": {"swappiness": 10}}"#, "swappiness"),
            (r#"{"memory": {"disableOOMKiller": true}}"#, "disableOOMKiller"),
            (r#"{"memory": {"kernel": 1048576}}"#, "memory.kernel"),
            (r#"{"cpu": {"realtimeRuntime": 1000}}"#, "realtime"),
            (r#"{"blockIO": {"leafWeight": 100}}"#, "leafWeight"),
        ] {
            let e = cg.apply(&res(json)).unwrap_err().to_string();
            assert!(e.contains(named), "{json}: {e}");
        }
        // memory enabled, but no swap accounting (swapaccount=0): no memory.swap.max
        std::fs::remove_file(cg.dir().join("memory.swap.max")).unwrap();
        let e = cg.apply(&res(r#"{"memory": {"limit": 1048576, "swap": 2097152}}"#)).unwrap_err().to_string();
        assert!(e.contains("memory.swap"), "{e}");
    }

    #[test]
    fn stats_come_from_the_v2_files() {
        let (_tree, cg) = made(&["cpu", "memory", "pids"]);
        let d = cg.dir().to_path_buf();
        set(&d, "cpu.stat", "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n");
        set(&d, "memory.current", "4096\n");
        set(&d, "memory.max", "max\n");
        set(&d, "memory.events", "low 0\nhigh 0\nmax 3\noom 2\noom_kill 1\n");
        set(&d, "pids.current", "3\n");
        let s = cg.stats().unwrap();
        assert_eq!(s, Stats { cpu_usage_ns: 1_500_000, memory_usage: 4096, memory_limit: None, pids: 3, oom_kills: 1 });
        set(&d, "memory.max", "8192\n");
        assert_eq!(cg.stats().unwrap().memory_limit, Some(8192));
    }

    #[test]
    fn freeze_and_thaw_write_cgroup_freeze() {
        let (_tree, cg) = made(&["memory"]);
        let d = cg.dir().to_path_buf();
        assert!(!cg.is_frozen());
        // the kernel's answer, ready before it is asked: freeze returns at once
        set(&d, "cgroup.events", "populated 1\nfrozen 1\n");
        cg.freeze().unwrap();
        assert_eq!(cat(&d, "cgroup.freeze"), "1");
        assert!(cg.is_frozen());
        cg.thaw().unwrap();
        assert_eq!(cat(&d, "cgroup.freeze"), "0");
        set(&d, "cgroup.events", "populated 1\nfrozen 0\n");
        assert!(!cg.is_frozen());
    }

    #[test]
    fn join_and_add_write_cgroup_procs() {
        let (_tree, cg) = made(&["memory"]);
        let writes = Writes::record();
        cg.join_self().unwrap();
        cg.add_process(4242).unwrap();
        assert_eq!(writes.to(cg.dir(), "cgroup.procs"), ["0", "4242"]);
    }

    #[test]
    fn kill_all_kills_what_cgroup_procs_lists() {
        let (_tree, cg) = made(&["memory"]);
        // an empty cgroup: nothing to do, cgroup.kill untouched
        cg.kill_all().unwrap();
        assert_eq!(cat(cg.dir(), "cgroup.kill"), "");
        let child = super::super::fixture::Child::spawn(&[cg.dir().join("cgroup.procs")]);
        assert_eq!(cg.pids(), vec![child.pid()]);
        cg.kill_all().unwrap();
        assert_eq!(cat(cg.dir(), "cgroup.kill"), "1");
        assert!(cg.pids().is_empty());
        assert_eq!(child.reap(), Some(libc::SIGKILL));
    }

    #[test]
    fn pids_include_sub_cgroups_and_delete_removes_them_deepest_first() {
        let (tree, cg) = made(&["memory"]);
        let sub = cg.dir().join("exec1");
        std::fs::create_dir(&sub).unwrap();
        tree.populate(&sub);
        set(cg.dir(), "cgroup.procs", "10\n11\n");
        set(&sub, "cgroup.procs", "12\n");
        let mut pids = cg.pids();
        pids.sort();
        assert_eq!(pids, [10, 11, 12]);
        set(cg.dir(), "cgroup.procs", "");
        set(&sub, "cgroup.procs", "");
        // a plain directory with files in it refuses rmdir, as a cgroup with a process does: the error names it
        let e = cg.delete().unwrap_err().to_string();
        assert!(e.contains("rmdir") && e.contains("exec1"), "{e}");
        // the kernel's rmdir takes the control files with the directory
        unpopulate(cg.dir());
        cg.delete().unwrap();
        assert!(!cg.dir().exists());
        assert!(tree.root.join("rrun").is_dir(), "only the container's cgroup goes");
        // already gone: fine
        cg.delete().unwrap();
    }

    #[test]
    fn open_finds_a_v2_cgroup_by_its_files() {
        let (_tree, cg) = made(&["memory"]);
        let opened = super::super::open_with(&cg.dirs(), || panic!("v2 needs no layout")).unwrap();
        assert_eq!(opened.dirs(), cg.dirs());
        set(cg.dir(), "memory.current", "77");
        assert_eq!(opened.stats().unwrap().memory_usage, 77);
    }
}
