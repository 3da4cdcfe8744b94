//! cgroup v1: one directory in every hierarchy (memory, cpu, cpuacct, cpuset,
//! pids, freezer, devices), each below the caller's own cgroup there.

use super::{io, read, read_pids, rmdir, write, Cgroup, CgroupError, Layout, Stats};
use oci_spec::runtime::LinuxResources;
use std::path::{Path, PathBuf};

#[derive(Debug)]
pub struct V1 {
    /// (controllers of the hierarchy, this cgroup's directory in it)
    dirs: Vec<(Vec<String>, PathBuf)>,
}

/// The caller's cgroup path in the hierarchy holding `controller`, from the text of /proc/self/cgroup.
fn own_path_in(text: &str, controller: &str) -> String {
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, ctrls, path) = (parts.next(), parts.next().unwrap_or(""), parts.next().unwrap_or("/"));
        if ctrls.split(',').any(|c| c == controller) {
            return path.to_string();
        }
    }
    "/".into()
}

impl V1 {
    /// Creates `rel` in every hierarchy rrun uses, below the hierarchy's root
    /// (`absolute`) or below rrun's own cgroup there.
    pub fn create(layout: &Layout, rel: &Path, absolute: bool) -> Result<V1, CgroupError> {
        let mut dirs = Vec::new();
        for (ctrls, dir) in Self::dirs_for(layout, rel, absolute) {
            let base = dir.ancestors().nth(rel.components().count()).unwrap_or(&dir).to_path_buf();
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
        Ok(V1 { dirs })
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
        V1 {
            dirs: dirs
                .iter()
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
        }
    }

    fn dir(&self, controller: &str) -> Option<&Path> {
        self.dirs.iter().find(|(c, _)| c.iter().any(|x| x == controller)).map(|(_, d)| d.as_path())
    }

    fn need(&self, controller: &'static str, what: &str) -> Result<&Path, CgroupError> {
        self.dir(controller).ok_or_else(|| CgroupError::NoController { what: what.to_string(), controller })
    }
}

impl Cgroup for V1 {
    fn dirs(&self) -> Vec<PathBuf> {
        self.dirs.iter().map(|(_, d)| d.clone()).collect()
    }

    fn add_process(&self, pid: i32) -> Result<(), CgroupError> {
        for (_, d) in &self.dirs {
            write(d, "cgroup.procs", &pid.to_string())?;
        }
        Ok(())
    }

    fn join_self(&self) -> Result<(), CgroupError> {
        for (_, d) in &self.dirs {
            write(d, "tasks", "0")?;
        }
        Ok(())
    }

    fn apply(&self, r: &LinuxResources) -> Result<(), CgroupError> {
        super::validate(r)?;
        if let Some(m) = r.memory() {
            if let Some(limit) = m.limit() {
                let d = self.need("memory", "--memory")?;
                let memsw = d.join("memory.memsw.limit_in_bytes").exists();
                // memsw may never be below the memory limit: raising both (`update`), memsw goes first
                let current_memsw = read(d, "memory.memsw.limit_in_bytes").and_then(|v| v.parse::<i64>().ok());
                let memsw_first =
                    memsw && m.swap().is_some() && current_memsw.is_some_and(|c| c >= 0 && (limit < 0 || limit > c));
                if memsw_first {
                    write(d, "memory.memsw.limit_in_bytes", &m.swap().unwrap_or(-1).to_string())?;
                }
                write(d, "memory.limit_in_bytes", &limit.to_string())?;
                if let Some(swap) = m.swap() {
                    // memsw is memory+swap; it exists only with swap accounting
                    if memsw {
                        if !memsw_first {
                            write(d, "memory.memsw.limit_in_bytes", &swap.to_string())?;
                        }
                    } else if swap != limit {
                        return Err(CgroupError::NoController {
                            what: "--memory-swap (swap accounting is off)".into(),
                            controller: "memory",
                        });
                    }
                }
            }
            if let Some(res) = m.reservation() {
                write(self.need("memory", "--memory-reservation")?, "memory.soft_limit_in_bytes", &res.to_string())?;
            }
        }
        if let Some(c) = r.cpu() {
            if let Some(shares) = c.shares() {
                write(self.need("cpu", "--cpu-shares")?, "cpu.shares", &shares.to_string())?;
            }
            if let Some(quota) = c.quota() {
                let d = self.need("cpu", "--cpus")?;
                write(d, "cpu.cfs_period_us", &c.period().unwrap_or(100_000).to_string())?;
                write(d, "cpu.cfs_quota_us", &quota.to_string())?;
            }
            if let Some(cpus) = c.cpus() {
                write(self.need("cpuset", "--cpuset-cpus")?, "cpuset.cpus", cpus)?;
            }
            if let Some(mems) = c.mems() {
                write(self.need("cpuset", "--cpuset-mems")?, "cpuset.mems", mems)?;
            }
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
            write(self.need("pids", "--pids-limit")?, "pids.max", &v)?;
        }
        if let Some(rules) = r.devices() {
            let d = self.need("devices", "device rules")?;
            for rule in rules {
                let file = if rule.allow() { "devices.allow" } else { "devices.deny" };
                write(d, file, &rule.to_string())?;
            }
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
        d.map(|d| read_pids(&d.join("cgroup.procs"))).unwrap_or_default()
    }

    fn kill_all(&self) -> Result<(), CgroupError> {
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
        for (_, d) in self.dirs.iter().rev() {
            rmdir(d)?;
        }
        Ok(())
    }
}
