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
        Ok(V1 { dirs, unified })
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

    /// Re-opens recorded directories; each one's controllers are those of the mount it lies in.
    pub fn open(dirs: &[PathBuf]) -> V1 {
        let layout = Layout::detect().unwrap_or_default();
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
        Layout::detect()
            .ok()?
            .v1
            .into_iter()
            .filter(|(_, m)| dir.starts_with(m))
            .max_by_key(|(_, m)| m.as_os_str().len())
            .map(|(_, m)| m)
    }

    fn apply_blkio(&self, b: &oci_spec::runtime::LinuxBlockIo) -> Result<(), CgroupError> {
        // CFQ's files, or BFQ's where CFQ is gone (runc's order)
        let weight_file = |d: &Path, cfq: &'static str, bfq: &'static str| -> Option<&'static str> {
            [cfq, bfq].into_iter().find(|f| d.join(f).exists())
        };
        if let Some(w) = b.weight() {
            let d = self.need("blkio", "blockIO.weight")?;
            let f = weight_file(d, "blkio.weight", "blkio.bfq.weight").ok_or(CgroupError::NoController {
                what: "blockIO.weight (no blkio.weight or blkio.bfq.weight here: no CFQ or BFQ I/O scheduler)".into(),
                controller: "blkio",
            })?;
            write(d, f, &w.to_string())?;
        }
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
