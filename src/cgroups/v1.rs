//! cgroup v1: one directory in every hierarchy (memory, cpu, cpuacct, cpuset,
//! pids, freezer, devices), each below the caller's own cgroup there.

use super::{devices, io, read, write, Cgroup, CgroupError, Layout, Stats};
use oci_spec::runtime::LinuxResources;
use std::path::{Path, PathBuf};

#[derive(Debug)]
pub struct V1 {
    /// (controllers of the hierarchy, this cgroup's directory in it)
    dirs: Vec<(Vec<String>, PathBuf)>,
    /// On a hybrid host, the cgroup's directory in the v2 hierarchy.
    unified: Option<PathBuf>,
    /// The mount points of the v1 hierarchies (where a walk up the ancestors stops).
    mounts: Vec<PathBuf>,
}

/// The caller's cgroup path in the hierarchy holding `controller` (from /proc/self/cgroup).
/// `""` names the v2 hierarchy (`0::PATH`).
fn own_path(controller: &str) -> String {
    own_path_in(&std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default(), controller)
}

/// The caller's cgroup path in the hierarchy holding `controller`, from the text of /proc/self/cgroup.
fn own_path_in(text: &str, controller: &str) -> String {
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, ctrls, path) = (parts.next(), parts.next().unwrap_or(""), parts.next().unwrap_or("/"));
        if (controller.is_empty() && ctrls.is_empty()) || ctrls.split(',').any(|c| c == controller) {
            return path.to_string();
        }
    }
    "/".into()
}

impl V1 {
    /// Creates `rel` in every hierarchy rrun uses, below the hierarchy's root
    /// (`absolute`) or below rrun's own cgroup there; on a hybrid host also
    /// in the v2 hierarchy, for the controllers it owns (hugetlb here), as runc does.
    pub fn create(layout: &Layout, rel: &Path, absolute: bool) -> Result<V1, CgroupError> {
        let mut dirs = Vec::new();
        for (ctrls, dir) in Self::dirs_for(layout, rel, absolute) {
            let base = dir.ancestors().nth(rel.components().count()).unwrap_or(&dir).to_path_buf();
            crate::step!(super::CGROUP_CREATE, path = %dir.display(), controllers = %ctrls.join(","));
            std::fs::create_dir_all(&dir).map_err(io(&dir, "mkdir"))?;
            if ctrls.iter().any(|c| c == "cpuset") {
                // a v1 cpuset cgroup starts empty: each new level inherits its parent's cpus and mems
                let mut level = base.clone();
                for comp in rel.components() {
                    let from = level.clone();
                    level.push(comp);
                    for f in ["cpuset.cpus", "cpuset.mems"] {
                        if read(&level, f).unwrap_or_default().is_empty() {
                            write(&level, f, &read(&from, f).unwrap_or_default())?;
                        }
                    }
                }
            }
            dirs.push((ctrls.clone(), dir));
        }
        let mut unified = None;
        if let (Some((_, ctrls)), Some(base)) = (&layout.v2, Self::unified_base(layout, absolute)) {
            // only the controllers this backend drives there: hugetlb
            let v2 = super::v2::V2::create_below(&base, ctrls, rel, &["hugetlb"])?;
            unified = Some(v2.dir().to_path_buf());
        }
        Ok(V1 { dirs, unified, mounts: layout.v1.iter().map(|(_, m)| m.clone()).collect() })
    }

    /// On a hybrid host, where `create` makes the cgroup's directory in the v2 hierarchy.
    pub fn unified_dir_for(layout: &Layout, rel: &Path, absolute: bool) -> Option<PathBuf> {
        Self::unified_base(layout, absolute).map(|b| b.join(rel))
    }

    fn unified_base(layout: &Layout, absolute: bool) -> Option<PathBuf> {
        let (mount, _) = layout.v2.as_ref()?;
        Some(if absolute { mount.clone() } else { mount.join(own_path("").trim_start_matches('/')) })
    }

    /// The directory `create` makes in each hierarchy, with its controllers.
    pub fn dirs_for(layout: &Layout, rel: &Path, absolute: bool) -> Vec<(Vec<String>, PathBuf)> {
        let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        layout
            .v1
            .iter()
            .map(|(ctrls, mount)| {
                let base = if absolute {
                    mount.clone()
                } else {
                    mount.join(own_path_in(&own, &ctrls[0]).trim_start_matches('/'))
                };
                (ctrls.clone(), base.join(rel))
            })
            .collect()
    }

    /// Re-opens recorded directories; each one's controllers are those of the
    /// mount of `layout` it lies in.
    pub fn open_in(layout: &Layout, dirs: &[PathBuf]) -> V1 {
        let unified = dirs.iter().find(|d| d.join("cgroup.controllers").exists()).cloned();
        V1 {
            dirs: dirs
                .iter()
                .filter(|d| Some(*d) != unified.as_ref())
                .map(|d| {
                    let ctrls = layout
                        .v1
                        .iter()
                        .filter(|(_, mount)| d.starts_with(mount))
                        .max_by_key(|(_, mount)| mount.as_os_str().len())
                        .map(|(c, _)| c.clone())
                        .unwrap_or_default();
                    (ctrls, d.clone())
                })
                .collect(),
            unified,
            mounts: layout.v1.iter().map(|(_, m)| m.clone()).collect(),
        }
    }

    fn dir(&self, controller: &str) -> Option<&Path> {
        self.dirs.iter().find(|(c, _)| c.iter().any(|x| x == controller)).map(|(_, d)| d.as_path())
    }

    fn need(&self, controller: &'static str, what: &str) -> Result<&Path, CgroupError> {
        self.dir(controller).ok_or_else(|| CgroupError::NoController { what: what.to_string(), controller })
    }

    /// A control file of `controller` that must exist (a kernel or layout may lack it).
    fn need_file(&self, controller: &'static str, file: &str, what: &str) -> Result<&Path, CgroupError> {
        let d = self.need(controller, what)?;
        if d.join(file).exists() {
            Ok(d)
        } else {
            Err(CgroupError::NoController { what: format!("{what} ({file} does not exist here)"), controller })
        }
    }

    fn apply_memory(&self, m: &oci_spec::runtime::LinuxMemory) -> Result<(), CgroupError> {
        const MEM: &str = "memory.limit_in_bytes";
        const SWAP: &str = "memory.memsw.limit_in_bytes";
        let (limit, mut swap) = (m.limit(), m.swap());
        if limit.is_some() || swap.is_some() {
            let d = self.need("memory", "memory limits")?;
            let has_swap = d.join(SWAP).exists();
            // unlimited memory with no word on swap: swap unlimited too (runc)
            if limit == Some(-1) && swap.is_none() && has_swap {
                swap = Some(-1);
            }
            if swap.is_some_and(|s| s != 0) && !has_swap && swap != limit {
                return Err(CgroupError::NoController {
                    what: "memory.swap (swap accounting is off)".into(),
                    controller: "memory",
                });
            }
            let set_swap = |v: i64| if has_swap { write(d, SWAP, &v.to_string()) } else { Ok(()) };
            match (limit, swap) {
                (Some(l), Some(s)) => {
                    // memsw may never be below memory: write in the order the kernel accepts
                    let cur: i64 = read(d, MEM)
                        .and_then(|v| v.parse::<u64>().ok())
                        .map(|v| v.min(i64::MAX as u64) as i64)
                        .unwrap_or(i64::MAX);
                    if s == -1 || cur < s {
                        set_swap(s)?;
                        write(d, MEM, &l.to_string())?;
                    } else {
                        write(d, MEM, &l.to_string())?;
                        set_swap(s)?;
                    }
                }
                (Some(l), None) => write(d, MEM, &l.to_string())?,
                (None, Some(s)) => set_swap(s)?,
                (None, None) => {}
            }
        }
        if let Some(res) = m.reservation() {
            write(self.need("memory", "memory.reservation")?, "memory.soft_limit_in_bytes", &res.to_string())?;
        }
        if let Some(k) = m.kernel() {
            let d = self.need_file("memory", "memory.kmem.limit_in_bytes", "memory.kernel")?;
            write(d, "memory.kmem.limit_in_bytes", &k.to_string())?;
        }
        if let Some(k) = m.kernel_tcp() {
            let d = self.need_file("memory", "memory.kmem.tcp.limit_in_bytes", "memory.kernelTCP")?;
            write(d, "memory.kmem.tcp.limit_in_bytes", &k.to_string())?;
        }
        if let Some(s) = m.swappiness() {
            if s > 100 {
                return Err(CgroupError::Invalid {
                    what: "memory.swappiness".into(),
                    reason: format!("{s} is above 100"),
                });
            }
            let d = self.need_file("memory", "memory.swappiness", "memory.swappiness")?;
            write(d, "memory.swappiness", &s.to_string())?;
        }
        if m.disable_oom_killer() == Some(true) {
            let d = self.need_file("memory", "memory.oom_control", "memory.disableOOMKiller")?;
            write(d, "memory.oom_control", "1")?;
        }
        Ok(())
    }

    fn apply_cpu(&self, c: &oci_spec::runtime::LinuxCpu) -> Result<(), CgroupError> {
        if let Some(shares) = c.shares() {
            write(self.need("cpu", "cpu.shares")?, "cpu.shares", &shares.to_string())?;
        }
        if let Some(period) = c.period() {
            write(self.need("cpu", "cpu.period")?, "cpu.cfs_period_us", &period.to_string())?;
        }
        if let Some(quota) = c.quota() {
            let d = self.need("cpu", "cpu.quota")?;
            if c.period().is_none() && quota > 0 && read(d, "cpu.cfs_period_us").is_none() {
                write(d, "cpu.cfs_period_us", "100000")?;
            }
            write(d, "cpu.cfs_quota_us", &quota.to_string())?;
        }
        if let Some(b) = c.burst() {
            write(self.need_file("cpu", "cpu.cfs_burst_us", "cpu.burst")?, "cpu.cfs_burst_us", &b.to_string())?;
        }
        if let Some(i) = c.idle() {
            write(self.need_file("cpu", "cpu.idle", "cpu.idle")?, "cpu.idle", &i.to_string())?;
        }
        if let Some(p) = c.realtime_period() {
            let d = self.need_file("cpu", "cpu.rt_period_us", "cpu.realtimePeriod")?;
            write(d, "cpu.rt_period_us", &p.to_string())?;
        }
        if let Some(rt) = c.realtime_runtime() {
            let d = self.need_file("cpu", "cpu.rt_runtime_us", "cpu.realtimeRuntime")?;
            if write(d, "cpu.rt_runtime_us", &rt.to_string()).is_err() && rt > 0 {
                // the kernel wants the budget in every ancestor first: give it to those below the root
                let mount = self.mount_of(d);
                let mut chain: Vec<&Path> =
                    d.ancestors().skip(1).take_while(|a| Some(*a) != mount.as_deref()).collect();
                chain.reverse();
                // the share of each period the container asks for, in each ancestor's period
                let own_period: i64 = read(d, "cpu.rt_period_us").and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
                for a in chain {
                    let cur: i64 = read(a, "cpu.rt_runtime_us").and_then(|v| v.parse().ok()).unwrap_or(0);
                    let period: i64 = read(a, "cpu.rt_period_us").and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
                    let share = (rt * period + own_period - 1) / own_period.max(1);
                    if cur >= 0 {
                        write(a, "cpu.rt_runtime_us", &(cur + share).to_string())?;
                    }
                }
                write(d, "cpu.rt_runtime_us", &rt.to_string())?;
            }
        }
        if let Some(cpus) = c.cpus() {
            write(self.need("cpuset", "cpu.cpus")?, "cpuset.cpus", cpus)?;
        }
        if let Some(mems) = c.mems() {
            write(self.need("cpuset", "cpu.mems")?, "cpuset.mems", mems)?;
        }
        Ok(())
    }

    fn mount_of(&self, dir: &Path) -> Option<PathBuf> {
        self.mounts.iter().filter(|m| dir.starts_with(m)).max_by_key(|m| m.as_os_str().len()).cloned()
    }

    fn apply_blkio(&self, b: &oci_spec::runtime::LinuxBlockIo) -> Result<(), CgroupError> {
        // CFQ's files, or BFQ's where CFQ is gone (runc's order)
        let weight_file = |d: &Path, cfq: &'static str, bfq: &'static str| -> Option<&'static str> {
            [cfq, bfq].into_iter().find(|f| d.join(f).exists())
        };
        // the weight itself is `apply`'s (0 being unset)
        if let Some(w) = b.leaf_weight() {
            write(
                self.need_file("blkio", "blkio.leaf_weight", "blockIO.leafWeight")?,
                "blkio.leaf_weight",
                &w.to_string(),
            )?;
        }
        for wd in b.weight_device().iter().flatten() {
            let d = self.need("blkio", "blockIO.weightDevice")?;
            if let Some(w) = wd.weight() {
                let f = weight_file(d, "blkio.weight_device", "blkio.bfq.weight_device").ok_or(
                    CgroupError::NoController {
                        what: "blockIO.weightDevice (no blkio.weight_device or blkio.bfq.weight_device here)".into(),
                        controller: "blkio",
                    },
                )?;
                write(d, f, &format!("{}:{} {w}", wd.major(), wd.minor()))?;
            }
            if let Some(w) = wd.leaf_weight() {
                let d = self.need_file("blkio", "blkio.leaf_weight_device", "blockIO.weightDevice.leafWeight")?;
                write(d, "blkio.leaf_weight_device", &format!("{}:{} {w}", wd.major(), wd.minor()))?;
            }
        }
        for (list, file, what) in [
            (b.throttle_read_bps_device(), "blkio.throttle.read_bps_device", "blockIO.throttleReadBpsDevice"),
            (b.throttle_write_bps_device(), "blkio.throttle.write_bps_device", "blockIO.throttleWriteBpsDevice"),
            (b.throttle_read_iops_device(), "blkio.throttle.read_iops_device", "blockIO.throttleReadIOPSDevice"),
            (b.throttle_write_iops_device(), "blkio.throttle.write_iops_device", "blockIO.throttleWriteIOPSDevice"),
        ] {
            for t in list.iter().flatten() {
                let d = self.need_file("blkio", file, what)?;
                write(d, file, &format!("{}:{} {}", t.major(), t.minor(), t.rate()))?;
            }
        }
        Ok(())
    }

    fn apply_devices(&self, rules: &[oci_spec::runtime::LinuxDeviceCgroup]) -> Result<(), CgroupError> {
        let d = self.need("devices", "device rules")?;
        let current = devices::Emulator::from_list(&read(d, "devices.list").unwrap_or_default());
        // the rules describe the whole list, as for a new cgroup (below one that allows everything)
        let mut target = devices::Emulator::allow_all();
        target.apply(rules);
        for (file, line) in current.transition(&target) {
            write(d, file, &line)?;
        }
        Ok(())
    }
}

impl Cgroup for V1 {
    fn dirs(&self) -> Vec<PathBuf> {
        self.dirs.iter().map(|(_, d)| d.clone()).chain(self.unified.clone()).collect()
    }

    #[cfg(test)]
    fn add_process(&self, pid: i32) -> Result<(), CgroupError> {
        for (_, d) in &self.dirs {
            write(d, "cgroup.procs", &pid.to_string())?;
        }
        if let Some(u) = &self.unified {
            write(u, "cgroup.procs", &pid.to_string())?;
        }
        Ok(())
    }

    fn join_self(&self) -> Result<(), CgroupError> {
        for (_, d) in &self.dirs {
            super::write_as(&super::CGROUP_JOIN, d, "tasks", "0")?;
        }
        if let Some(u) = &self.unified {
            super::write_as(&super::CGROUP_JOIN, u, "cgroup.procs", "0")?;
        }
        Ok(())
    }

    fn apply(&self, r: &LinuxResources) -> Result<(), CgroupError> {
        super::validate(r)?;
        if let Some(m) = r.memory() {
            self.apply_memory(m)?;
        }
        if let Some(c) = r.cpu() {
            self.apply_cpu(c)?;
        }
        // 0 is "not set", as runc reads it
        if let Some(w) = r.block_io().as_ref().and_then(|b| b.weight()).filter(|w| *w != 0) {
            let d = self.need("blkio", "--blkio-weight")?;
            // BFQ's weight where the scheduler is loaded (runc prefers it too), else CFQ's
            let file = ["blkio.bfq.weight", "blkio.weight"].into_iter().find(|f| d.join(f).exists()).ok_or(
                CgroupError::MissingFile {
                    what: "--blkio-weight".into(),
                    controller: "blkio",
                    files: "blkio.bfq.weight, blkio.weight",
                    reason: "neither the BFQ nor the CFQ I/O scheduler is available",
                },
            )?;
            write(d, file, &w.to_string())?;
        }
        if let Some(p) = r.pids() {
            let v = if p.limit() > 0 { p.limit().to_string() } else { "max".into() };
            write(self.need("pids", "pids.limit")?, "pids.max", &v)?;
        }
        if let Some(b) = r.block_io() {
            self.apply_blkio(b)?;
        }
        if let Some(rules) = r.devices() {
            self.apply_devices(rules)?;
        }
        for h in r.hugepage_limits().iter().flatten() {
            let what = format!("hugepageLimits ({})", h.page_size());
            if let Some(d) = self.dir("hugetlb") {
                write(d, &format!("hugetlb.{}.limit_in_bytes", h.page_size()), &h.limit().to_string())?;
            } else if let Some(u) =
                self.unified.as_ref().filter(|u| u.join(format!("hugetlb.{}.max", h.page_size())).exists())
            {
                super::v2::set_hugetlb(u, h)?;
            } else {
                return Err(CgroupError::NoController { what, controller: "hugetlb" });
            }
        }
        if let Some(n) = r.network() {
            if let Some(id) = n.class_id() {
                write(self.need("net_cls", "network.classID")?, "net_cls.classid", &id.to_string())?;
            }
            for p in n.priorities().iter().flatten() {
                let d = self.need("net_prio", "network.priorities")?;
                write(d, "net_prio.ifpriomap", &format!("{} {}", p.name(), p.priority()))?;
            }
        }
        if let Some(rdma) = r.rdma().as_ref().filter(|m| !m.is_empty()) {
            let d = self.need("rdma", "rdma limits")?;
            for (dev, l) in rdma {
                let mut v = dev.clone();
                if let Some(h) = l.hca_handles() {
                    v.push_str(&format!(" hca_handle={h}"));
                }
                if let Some(o) = l.hca_objects() {
                    v.push_str(&format!(" hca_object={o}"));
                }
                write(d, "rdma.max", &v)?;
            }
        }
        if let Some(u) = r.unified().as_ref().filter(|m| !m.is_empty()) {
            let key = u.keys().next().cloned().unwrap_or_default();
            return Err(CgroupError::Invalid {
                what: format!("unified ({key} …)"),
                reason: "cgroup v2 files cannot be set on this host's cgroup v1 layout".into(),
            });
        }
        Ok(())
    }

    fn freeze(&self) -> Result<(), CgroupError> {
        let d = self.need("freezer", "pause")?;
        write(d, "freezer.state", "FROZEN")?;
        for _ in 0..1000 {
            if read(d, "freezer.state").as_deref() == Some("FROZEN") {
                return Ok(());
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        Ok(())
    }

    fn thaw(&self) -> Result<(), CgroupError> {
        write(self.need("freezer", "unpause")?, "freezer.state", "THAWED")
    }

    fn is_frozen(&self) -> bool {
        self.dir("freezer").and_then(|d| read(d, "freezer.state")).as_deref() == Some("FROZEN")
    }

    fn pids(&self) -> Vec<i32> {
        let d = self.dir("pids").or_else(|| self.dir("memory")).or_else(|| self.dirs.first().map(|(_, d)| d.as_path()));
        // with the processes of sub-cgroups (`exec --cgroup`)
        d.map(super::read_pids_tree).unwrap_or_default()
    }

    fn kill_all(&self) -> Result<(), CgroupError> {
        crate::step!(super::CGROUP_KILL, left = self.pids().len(), signal = "SIGKILL");
        if self.pids().is_empty() {
            return Ok(());
        }
        // frozen processes cannot fork while we kill them; they die once thawed
        let frozen = self.dir("freezer").is_some() && self.freeze().is_ok();
        for p in self.pids() {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(p), nix::sys::signal::Signal::SIGKILL);
        }
        if frozen {
            self.thaw()?;
        }
        super::kill_until_empty(self);
        Ok(())
    }

    fn stats(&self) -> Result<Stats, CgroupError> {
        let num = |c: &str, f: &str| self.dir(c).and_then(|d| read(d, f)).and_then(|v| v.parse::<u64>().ok());
        let limit = num("memory", "memory.limit_in_bytes").filter(|l| *l < (1u64 << 62));
        let oom = self
            .dir("memory")
            .and_then(|d| read(d, "memory.oom_control"))
            .and_then(|t| t.lines().find_map(|l| l.strip_prefix("oom_kill ").and_then(|v| v.trim().parse().ok())))
            .unwrap_or(0);
        Ok(Stats {
            cpu_usage_ns: num("cpuacct", "cpuacct.usage").unwrap_or(0),
            memory_usage: num("memory", "memory.usage_in_bytes").unwrap_or(0),
            memory_limit: limit,
            pids: num("pids", "pids.current").unwrap_or(self.pids().len() as u64),
            oom_kills: oom,
        })
    }

    fn delete(&self) -> Result<(), CgroupError> {
        // the reverse of creation: a removal cut short leaves the first directory, which says there is more
        for d in self.dirs().iter().rev() {
            crate::step!(super::CGROUP_DELETE, path = %d.display());
            super::rmdir_tree(d)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{cat, set, unpopulate, Child, V1Tree, Writes};
    use super::*;

    fn res(json: &str) -> LinuxResources {
        serde_json::from_str(json).unwrap_or_else(|e| panic!("{json}: {e}"))
    }

    /// `rrun/c1` created in every hierarchy of `tree`, its control files made as the kernel would.
    fn made(tree: &V1Tree) -> V1 {
        let cg = V1::create(&tree.layout, Path::new("rrun/c1"), true).unwrap();
        tree.populate(&cg.dirs());
        cg
    }

    fn d<'a>(cg: &'a V1, controller: &str) -> &'a Path {
        cg.dir(controller).unwrap()
    }

    #[test]
    fn create_makes_a_directory_in_every_hierarchy_and_fills_cpuset() {
        let tree = V1Tree::all();
        let cg = V1::create(&tree.layout, Path::new("rrun/c1"), true).unwrap();
        let expected: Vec<PathBuf> = tree.layout.v1.iter().map(|(_, m)| m.join("rrun/c1")).collect();
        assert_eq!(cg.dirs(), expected, "one per hierarchy, name=systemd too, in the layout's order");
        assert!(expected.iter().all(|d| d.is_dir()));
        // a new cpuset cgroup is empty: every level gets its parent's cpus and mems
        for level in ["rrun", "rrun/c1"] {
            assert_eq!(cat(&tree.mount("cpuset").join(level), "cpuset.cpus"), "0-3", "{level}");
            assert_eq!(cat(&tree.mount("cpuset").join(level), "cpuset.mems"), "0", "{level}");
        }
        assert_eq!(d(&cg, "net_prio"), d(&cg, "net_cls"), "co-mounted controllers share a directory");
    }

    #[test]
    fn every_resource_lands_in_its_v1_file() {
        let tree = V1Tree::all();
        let cg = made(&tree);
        let writes = Writes::record();
        cg.apply(&res(r#"{
            "memory": {"limit": 268435456, "reservation": 134217728, "swap": 402653184, "kernel": 67108864,
                       "kernelTCP": 16777216, "swappiness": 10, "disableOOMKiller": true},
            "cpu": {"shares": 512, "quota": 50000, "period": 100000, "realtimePeriod": 1000000,
                    "realtimeRuntime": 950000, "cpus": "0-1", "mems": "0"},
            "pids": {"limit": 64},
            "blockIO": {"weight": 500, "leafWeight": 300,
                        "weightDevice": [{"major": 8, "minor": 0, "weight": 700, "leafWeight": 200}],
                        "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}],
                        "throttleWriteBpsDevice": [{"major": 8, "minor": 0, "rate": 2097152}],
                        "throttleReadIOPSDevice": [{"major": 8, "minor": 0, "rate": 100}],
                        "throttleWriteIOPSDevice": [{"major": 8, "minor": 0, "rate": 200}]},
            "hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}],
            "network": {"classID": 1048577, "priorities": [{"name": "eth0", "priority": 5}]},
            "devices": [{"allow": false, "access": "rwm"},
                        {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}]
        }"#))
            .unwrap();
        let mem = d(&cg, "memory");
        assert_eq!(cat(mem, "memory.limit_in_bytes"), "268435456");
        // v1's swap limit is memory+swap, as the OCI spec's
        assert_eq!(cat(mem, "memory.memsw.limit_in_bytes"), "402653184");
        assert_eq!(cat(mem, "memory.soft_limit_in_bytes"), "134217728");
        assert_eq!(cat(mem, "memory.kmem.limit_in_bytes"), "67108864");
        assert_eq!(cat(mem, "memory.kmem.tcp.limit_in_bytes"), "16777216");
        assert_eq!(cat(mem, "memory.swappiness"), "10");
        assert_eq!(cat(mem, "memory.oom_control"), "1");
        let cpu = d(&cg, "cpu");
        assert_eq!(cat(cpu, "cpu.shares"), "512");
        assert_eq!(cat(cpu, "cpu.cfs_quota_us"), "50000");
        assert_eq!(cat(cpu, "cpu.cfs_period_us"), "100000");
        assert_eq!(cat(cpu, "cpu.rt_period_us"), "1000000");
        assert_eq!(cat(cpu, "cpu.rt_runtime_us"), "950000");
        assert_eq!(cat(d(&cg, "cpuset"), "cpuset.cpus"), "0-1");
        assert_eq!(cat(d(&cg, "cpuset"), "cpuset.mems"), "0");
        assert_eq!(cat(d(&cg, "pids"), "pids.max"), "64");
        let blk = d(&cg, "blkio");
        assert_eq!(writes.to(blk, "blkio.weight"), ["500"], "written once");
        assert_eq!(cat(blk, "blkio.leaf_weight"), "300");
        assert_eq!(cat(blk, "blkio.weight_device"), "8:0 700");
        assert_eq!(cat(blk, "blkio.leaf_weight_device"), "8:0 200");
        assert_eq!(cat(blk, "blkio.throttle.read_bps_device"), "8:0 1048576");
        assert_eq!(cat(blk, "blkio.throttle.write_bps_device"), "8:0 2097152");
        assert_eq!(cat(blk, "blkio.throttle.read_iops_device"), "8:0 100");
        assert_eq!(cat(blk, "blkio.throttle.write_iops_device"), "8:0 200");
        assert_eq!(cat(d(&cg, "hugetlb"), "hugetlb.2MB.limit_in_bytes"), "4194304");
        assert_eq!(cat(d(&cg, "net_cls"), "net_cls.classid"), "1048577");
        assert_eq!(cat(d(&cg, "net_prio"), "net_prio.ifpriomap"), "eth0 5");
        // from "allow all" to the rules: deny all, then allow the one device
        let dev = d(&cg, "devices");
        assert_eq!(writes.to(dev, "devices.deny"), ["a *:* rwm"]);
        assert_eq!(writes.to(dev, "devices.allow"), ["c 1:3 rwm"]);
    }

    #[test]
    fn memory_and_memsw_are_written_in_the_order_the_kernel_accepts() {
        let tree = V1Tree::all();
        let cg = made(&tree);
        let mem = d(&cg, "memory").to_path_buf();
        let (m, sw) = (mem.join("memory.limit_in_bytes"), mem.join("memory.memsw.limit_in_bytes"));
        // lowering from unlimited: memory first (memsw may never be below it)
        let writes = Writes::record();
        cg.apply(&res(r#"{"memory": {"limit": 67108864, "swap": 134217728}}"#)).unwrap();
        assert_eq!(writes.files(), [m.clone(), sw.clone()]);
        drop(writes);
        // raising above the current memory limit: memsw first
        let writes = Writes::record();
        cg.apply(&res(r#"{"memory": {"limit": 536870912, "swap": 1073741824}}"#)).unwrap();
        assert_eq!(writes.files(), [sw.clone(), m.clone()]);
        assert_eq!(cat(&mem, "memory.memsw.limit_in_bytes"), "1073741824");
        drop(writes);
        // unlimited memory, swap unsaid: swap unlimited too
        cg.apply(&res(r#"{"memory": {"limit": -1}}"#)).unwrap();
        assert_eq!(cat(&mem, "memory.limit_in_bytes"), "-1");
        assert_eq!(cat(&mem, "memory.memsw.limit_in_bytes"), "-1");
        // no swap accounting (swapaccount=0): swap equal to the limit is no swap, and fine; more is refused
        std::fs::remove_file(&sw).unwrap();
        cg.apply(&res(r#"{"memory": {"limit": 67108864, "swap": 67108864}}"#)).unwrap();
        assert!(!sw.exists(), "nothing written where the kernel has no file");
        let e = cg.apply(&res(r#"{"memory": {"limit": 67108864, "swap": 134217728}}"#)).unwrap_err().to_string();
        assert!(e.contains("swap accounting is off"), "{e}");
    }

    #[test]
    fn unlimited_values_are_v1_spellings() {
        let tree = V1Tree::all();
        let cg = made(&tree);
        set(d(&cg, "pids"), "pids.max", "10");
        cg.apply(&res(r#"{"pids": {"limit": -1}, "cpu": {"quota": -1}}"#)).unwrap();
        assert_eq!(cat(d(&cg, "pids"), "pids.max"), "max");
        assert_eq!(cat(d(&cg, "cpu"), "cpu.cfs_quota_us"), "-1");
        // a quota without a period where the kernel shows none: the default period first
        std::fs::remove_file(d(&cg, "cpu").join("cpu.cfs_period_us")).unwrap();
        cg.apply(&res(r#"{"cpu": {"quota": 20000}}"#)).unwrap();
        assert_eq!(cat(d(&cg, "cpu"), "cpu.cfs_period_us"), "100000");
        assert_eq!(cat(d(&cg, "cpu"), "cpu.cfs_quota_us"), "20000");
        // blkio weight 0 is unset: nothing written
        let writes = Writes::record();
        cg.apply(&res(r#"{"blockIO": {"weight": 0}}"#)).unwrap();
        assert!(writes.files().is_empty(), "{:?}", writes.files());
    }

    #[test]
    fn bfq_weight_is_preferred_where_the_scheduler_is_loaded() {
        let tree = V1Tree::all();
        let cg = made(&tree);
        let blk = d(&cg, "blkio").to_path_buf();
        std::fs::remove_file(blk.join("blkio.weight")).unwrap();
        let e = cg.apply(&res(r#"{"blockIO": {"weight": 500}}"#)).unwrap_err().to_string();
        assert!(e.contains("blkio cgroup has no weight file (blkio.bfq.weight, blkio.weight)"), "{e}");
        set(&blk, "blkio.bfq.weight", "100");
        cg.apply(&res(r#"{"blockIO": {"weight": 500}}"#)).unwrap();
        assert_eq!(cat(&blk, "blkio.bfq.weight"), "500");
    }

    #[test]
    fn a_limit_without_its_hierarchy_or_file_is_refused_by_name() {
        // no pids, hugetlb, net_cls or blkio hierarchy
        let tree = V1Tree::new(&[&["cpu", "cpuacct"], &["memory"], &["freezer"]], None);
        let cg = made(&tree);
        for (json, named) in [
            (r#"{"pids": {"limit": 10}}"#, "pids.limit: the pids cgroup controller is not available"),
            (r#"{"cpu": {"cpus": "0"}}"#, "cpu.cpus: the cpuset cgroup controller"),
            (r#"{"hugepageLimits": [{"pageSize": "2MB", "limit": 1}]}"#, "hugepageLimits (2MB): the hugetlb"),
            (r#"{"network": {"classID": 1}}"#, "network.classID: the net_cls"),
            (r#"{"network": {"priorities": [{"name": "lo", "priority": 1}]}}"#, "network.priorities: the net_prio"),
            (r#"{"blockIO": {"weight": 500}}"#, "--blkio-weight: the blkio"),
            (r#"{"unified": {"memory.high": "1"}}"#, "unified (memory.high …)"),
            (r#"{"memory": {"swappiness": 101}}"#, "101 is above 100"),
        ] {
            let e = cg.apply(&res(json)).unwrap_err().to_string();
            assert!(e.contains(named), "{json}: {e}");
        }
        // files a kernel may lack: kernel memory (gone in 6.x), swappiness, real-time scheduling
        let mem = d(&cg, "memory");
        for f in ["memory.kmem.limit_in_bytes", "memory.swappiness", "memory.oom_control"] {
            std::fs::remove_file(mem.join(f)).unwrap();
        }
        std::fs::remove_file(d(&cg, "cpu").join("cpu.rt_runtime_us")).unwrap();
        for (json, named) in [
            (r#"{"memory": {"kernel": 1048576}}"#, "memory.kernel (memory.kmem.limit_in_bytes does not exist here)"),
            (r#"{"memory": {"swappiness": 10}}"#, "memory.swappiness (memory.swappiness does not exist here)"),
            (r#"{"memory": {"disableOOMKiller": true}}"#, "(memory.oom_control does not exist here)"),
            (r#"{"cpu": {"realtimeRuntime": 1000}}"#, "(cpu.rt_runtime_us does not exist here)"),
        ] {
            let e = cg.apply(&res(json)).unwrap_err().to_string();
            assert!(e.contains(named), "{json}: {e}");
        }
    }

    #[test]
    fn stats_come_from_the_v1_files() {
        let tree = V1Tree::all();
        let cg = made(&tree);
        set(d(&cg, "cpuacct"), "cpuacct.usage", "123456789\n");
        set(d(&cg, "memory"), "memory.usage_in_bytes", "4096\n");
        set(d(&cg, "memory"), "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
        set(d(&cg, "pids"), "pids.current", "3\n");
        let s = cg.stats().unwrap();
        // the kernel's "unlimited" (a page-rounded i64::MAX) is no limit
        assert_eq!(
            s,
            Stats { cpu_usage_ns: 123_456_789, memory_usage: 4096, memory_limit: None, pids: 3, oom_kills: 2 }
        );
        set(d(&cg, "memory"), "memory.limit_in_bytes", "8192\n");
        assert_eq!(cg.stats().unwrap().memory_limit, Some(8192));
    }

    #[test]
    fn freeze_and_thaw_write_freezer_state() {
        let tree = V1Tree::all();
        let cg = made(&tree);
        let f = d(&cg, "freezer").to_path_buf();
        assert!(!cg.is_frozen());
        // the fixture keeps what is written, as a kernel whose freeze completed at once
        cg.freeze().unwrap();
        assert_eq!(cat(&f, "freezer.state"), "FROZEN");
        assert!(cg.is_frozen());
        cg.thaw().unwrap();
        assert_eq!(cat(&f, "freezer.state"), "THAWED");
        assert!(!cg.is_frozen());
        // no freezer hierarchy: pause is refused by name
        let tree = V1Tree::new(&[&["memory"]], None);
        let cg = made(&tree);
        assert!(cg.freeze().unwrap_err().to_string().contains("pause: the freezer"));
        assert!(cg.thaw().unwrap_err().to_string().contains("unpause: the freezer"));
        assert!(!cg.is_frozen());
    }

    #[test]
    fn join_writes_tasks_and_add_writes_cgroup_procs_in_every_hierarchy() {
        let tree = V1Tree::all();
        let cg = made(&tree);
        let writes = Writes::record();
        cg.join_self().unwrap();
        cg.add_process(4242).unwrap();
        for dir in cg.dirs() {
            assert_eq!(writes.to(&dir, "tasks"), ["0"], "{}", dir.display());
            assert_eq!(writes.to(&dir, "cgroup.procs"), ["4242"], "{}", dir.display());
        }
    }

    #[test]
    fn kill_all_freezes_kills_and_thaws() {
        let tree = V1Tree::all();
        let cg = made(&tree);
        // empty: nothing written
        let writes = Writes::record();
        cg.kill_all().unwrap();
        assert!(writes.files().is_empty());
        drop(writes);
        let procs: Vec<PathBuf> = cg.dirs().iter().map(|d| d.join("cgroup.procs")).collect();
        let child = Child::spawn(&procs);
        assert_eq!(cg.pids(), vec![child.pid()]);
        let writes = Writes::record();
        cg.kill_all().unwrap();
        assert_eq!(writes.to(d(&cg, "freezer"), "freezer.state"), ["FROZEN", "THAWED"]);
        assert!(cg.pids().is_empty());
        assert_eq!(child.reap(), Some(libc::SIGKILL));
    }

    #[test]
    fn delete_removes_every_directory_and_what_is_below() {
        let tree = V1Tree::all();
        let cg = made(&tree);
        let sub = d(&cg, "memory").join("exec1");
        std::fs::create_dir(&sub).unwrap();
        // a directory that still has files refuses rmdir (as a cgroup still holding a process): named, and kept
        let e = cg.delete().unwrap_err().to_string();
        assert!(e.contains("rmdir") && e.contains("rrun/c1"), "{e}");
        assert!(cg.dirs().iter().all(|d| d.exists()));
        // the kernel's rmdir takes the control files with the directory
        for dir in cg.dirs() {
            unpopulate(&dir);
        }
        cg.delete().unwrap();
        for dir in cg.dirs() {
            assert!(!dir.exists(), "{}", dir.display());
            assert!(dir.parent().unwrap().is_dir(), "rrun/ itself stays");
        }
        cg.delete().unwrap();
    }

    #[test]
    fn open_maps_recorded_directories_to_their_hierarchies() {
        let tree = V1Tree::all();
        let cg = made(&tree);
        let layout = tree.layout.clone();
        let opened = super::super::open_with(&cg.dirs(), move || layout).unwrap();
        assert_eq!(opened.dirs(), cg.dirs());
        opened.apply(&res(r#"{"pids": {"limit": 5}, "memory": {"limit": 1048576}}"#)).unwrap();
        assert_eq!(cat(d(&cg, "pids"), "pids.max"), "5");
        assert_eq!(cat(d(&cg, "memory"), "memory.limit_in_bytes"), "1048576");
    }

    #[test]
    fn hybrid_hugetlb_goes_to_the_v2_directory_the_rest_to_v1() {
        let tree = V1Tree::new(
            &[&["cpu", "cpuacct"], &["memory"], &["pids"], &["freezer"], &["devices"], &["name=systemd"]],
            Some(&["hugetlb"]),
        );
        let writes = Writes::record();
        let cg = V1::create(&tree.layout, Path::new("rrun/c1"), true).unwrap();
        let (root, _) = tree.layout.v2.clone().unwrap();
        let unified = root.join("rrun/c1");
        assert_eq!(cg.dirs().last(), Some(&unified), "the v2 directory is recorded last");
        assert!(unified.is_dir());
        // only hugetlb is enabled there, on the way down
        assert_eq!(writes.to(&root, "cgroup.subtree_control"), ["+hugetlb"]);
        assert_eq!(writes.to(&root.join("rrun"), "cgroup.subtree_control"), ["+hugetlb"]);
        drop(writes);
        tree.populate(&cg.dirs());
        cg.apply(&res(r#"{"memory": {"limit": 1048576}, "hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}]}"#))
            .unwrap();
        assert_eq!(cat(d(&cg, "memory"), "memory.limit_in_bytes"), "1048576");
        assert_eq!(cat(&unified, "hugetlb.2MB.max"), "4194304");
        assert_eq!(cat(&unified, "hugetlb.2MB.rsvd.max"), "4194304");
        // a page size the kernel does not have: refused
        let e = cg.apply(&res(r#"{"hugepageLimits": [{"pageSize": "1GB", "limit": 1}]}"#)).unwrap_err().to_string();
        assert!(e.contains("hugepageLimits (1GB): the hugetlb"), "{e}");
        // the process joins the v2 directory too
        let writes = Writes::record();
        cg.join_self().unwrap();
        assert_eq!(writes.to(&unified, "cgroup.procs"), ["0"]);
        assert_eq!(writes.to(d(&cg, "memory"), "tasks"), ["0"]);
        drop(writes);
        // re-opened from the record, the v2 directory is found again
        let layout = tree.layout.clone();
        let opened = super::super::open_with(&cg.dirs(), move || layout).unwrap();
        assert_eq!(opened.dirs(), cg.dirs());
        opened.apply(&res(r#"{"hugepageLimits": [{"pageSize": "2MB", "limit": -1}]}"#)).unwrap();
        assert_eq!(cat(&unified, "hugetlb.2MB.max"), "max");
    }
}
