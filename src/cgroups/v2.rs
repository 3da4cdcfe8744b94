//! cgroup v2: one directory, `<root>/rrun/<id>`, with the controllers enabled
//! on the way down through `cgroup.subtree_control`.

use super::{read, read_pids, rmdir, shares_to_weight, write, Cgroup, CgroupError, Stats};
use oci_spec::runtime::LinuxResources;
use std::path::{Path, PathBuf};

const WANTED: [&str; 4] = ["cpuset", "cpu", "memory", "pids"];

#[derive(Debug)]
pub struct V2 {
    dir: PathBuf,
}

impl V2 {
    /// Creates `root/rel`, enabling the controllers rrun uses on the way down.
    pub fn create(root: &Path, available: &[String], rel: &Path) -> Result<V2, CgroupError> {
        let dir = root.join(rel);
        std::fs::create_dir_all(&dir).map_err(super::io(&dir, "mkdir"))?;
        let enable: Vec<String> =
            WANTED.iter().filter(|c| available.iter().any(|a| a == *c)).map(|c| format!("+{c}")).collect();
        if !enable.is_empty() {
            let line = enable.join(" ");
            let mut level = root.to_path_buf();
            for comp in rel.components() {
                let already = read(&level, "cgroup.subtree_control").unwrap_or_default();
                if enable.iter().any(|c| !already.split_whitespace().any(|a| a == &c[1..])) {
                    write(&level, "cgroup.subtree_control", &line)?;
                }
                level.push(comp);
            }
        }
        Ok(V2 { dir })
    }

    pub fn open(dir: &Path) -> V2 {
        V2 { dir: dir.to_path_buf() }
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
}

impl Cgroup for V2 {
    fn dirs(&self) -> Vec<PathBuf> {
        vec![self.dir.clone()]
    }

    fn add_process(&self, pid: i32) -> Result<(), CgroupError> {
        write(&self.dir, "cgroup.procs", &pid.to_string())
    }

    fn join_self(&self) -> Result<(), CgroupError> {
        write(&self.dir, "cgroup.procs", "0")
    }

    fn clone_into(&self) -> Option<std::os::fd::OwnedFd> {
        std::fs::File::open(&self.dir).ok().map(std::os::fd::OwnedFd::from)
    }

    fn apply(&self, r: &LinuxResources) -> Result<(), CgroupError> {
        super::validate(r)?;
        if let Some(m) = r.memory() {
            if let Some(limit) = m.limit() {
                self.set("memory.max", &limit.to_string(), "--memory", "memory")?;
                if let Some(swap) = m.swap() {
                    // v1's memsw is memory+swap; v2's swap.max is swap alone
                    let v = if swap < 0 { "max".to_string() } else { (swap - limit).max(0).to_string() };
                    self.set("memory.swap.max", &v, "--memory-swap", "memory")?;
                }
            }
            if let Some(res) = m.reservation() {
                self.set("memory.low", &res.to_string(), "--memory-reservation", "memory")?;
            }
        }
        if let Some(c) = r.cpu() {
            if let Some(shares) = c.shares() {
                self.set("cpu.weight", &shares_to_weight(shares).to_string(), "--cpu-shares", "cpu")?;
            }
            if let Some(quota) = c.quota() {
                let q = if quota > 0 { quota.to_string() } else { "max".into() };
                self.set("cpu.max", &format!("{q} {}", c.period().unwrap_or(100_000)), "--cpus", "cpu")?;
            }
            if let Some(cpus) = c.cpus() {
                self.set("cpuset.cpus", cpus, "--cpuset-cpus", "cpuset")?;
            }
            if let Some(mems) = c.mems() {
                self.set("cpuset.mems", mems, "--cpuset-mems", "cpuset")?;
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
            self.set("pids.max", &v, "--pids-limit", "pids")?;
        }
        if r.devices().as_ref().is_some_and(|d| !d.is_empty()) {
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
        read_pids(&self.dir.join("cgroup.procs"))
    }

    fn kill_all(&self) -> Result<(), CgroupError> {
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
        rmdir(&self.dir)
    }
}
