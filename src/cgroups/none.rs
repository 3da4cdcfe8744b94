//! No cgroup at all: a rootless container where the host delegates no cgroup
//! to the user (cgroup v1, or v2 without a delegated subtree). The container
//! runs; limits are refused with one clear error, and what needs a cgroup
//! (pause, stats) says why it cannot work.

use super::{Cgroup, CgroupError, Stats};
use oci_spec::runtime::LinuxResources;
use std::path::PathBuf;

/// The cgroup of a container that has none.
#[derive(Debug, Clone)]
pub struct NoCgroup {
    /// Why there is no cgroup, with the fix (`super::why_not`).
    pub why: String,
}

/// Why a rootless container gets no cgroup on a host with this layout.
pub fn why(layout: &str) -> String {
    match layout {
        "v2" => "this host's cgroup v2 delegates no subtree to the user (a systemd user session with \
                 Delegate=yes gives one; start rrun in it, e.g. systemd-run --user --scope rrun …)"
            .into(),
        l => format!(
            "this host runs cgroup {l}, whose controllers an ordinary user cannot write (boot with \
             systemd.unified_cgroup_hierarchy=1 and a delegated user session, or run as root)"
        ),
    }
}

/// The setting in `r` that needs a cgroup, if any. Device rules do not count:
/// without CAP_MKNOD a rootless container only gets the host's nodes bound in.
pub fn first_limit(r: &LinuxResources) -> Option<&'static str> {
    let mem = r.memory().as_ref();
    let cpu = r.cpu().as_ref();
    [
        (mem.and_then(|m| m.limit()).is_some_and(|v| v >= 0), "--memory"),
        (mem.and_then(|m| m.reservation()).is_some_and(|v| v >= 0), "--memory-reservation"),
        (mem.and_then(|m| m.swap()).is_some_and(|v| v >= 0), "--memory-swap"),
        (mem.and_then(|m| m.swappiness()).is_some(), "--memory-swappiness"),
        (mem.and_then(|m| m.kernel()).is_some(), "--kernel-memory"),
        (mem.and_then(|m| m.disable_oom_killer()).is_some(), "--oom-kill-disable"),
        (cpu.and_then(|c| c.quota()).is_some_and(|q| q > 0), "--cpus/--cpu-quota"),
        (cpu.and_then(|c| c.shares()).is_some(), "--cpu-shares"),
        (cpu.and_then(|c| c.cpus().clone()).is_some(), "--cpuset-cpus"),
        (cpu.and_then(|c| c.mems().clone()).is_some(), "--cpuset-mems"),
        (cpu.and_then(|c| c.realtime_runtime()).is_some(), "--cpu-rt-runtime"),
        (r.pids().as_ref().is_some_and(|p| p.limit() > 0), "--pids-limit"),
        (r.block_io().is_some(), "--blkio-weight/--device-*-bps"),
        (r.hugepage_limits().as_ref().is_some_and(|h| !h.is_empty()), "hugepage limits"),
        (r.network().is_some(), "network class/priority"),
        (r.rdma().as_ref().is_some_and(|m| !m.is_empty()), "rdma limits"),
        (r.unified().as_ref().is_some_and(|m| !m.is_empty()), "unified cgroup settings"),
    ]
    .into_iter()
    .find_map(|(set, flag)| set.then_some(flag))
}

impl NoCgroup {
    fn refuse(&self, what: &str) -> CgroupError {
        CgroupError::NoDelegation { what: what.to_string(), why: self.why.clone() }
    }
}

impl Cgroup for NoCgroup {
    fn dirs(&self) -> Vec<PathBuf> {
        Vec::new()
    }
    #[cfg(test)]
    fn add_process(&self, _pid: i32) -> Result<(), CgroupError> {
        Ok(())
    }
    fn join_self(&self) -> Result<(), CgroupError> {
        Ok(())
    }
    fn apply(&self, resources: &LinuxResources) -> Result<(), CgroupError> {
        match first_limit(resources) {
            Some(flag) => Err(self.refuse(flag)),
            None => Ok(()),
        }
    }
    fn freeze(&self) -> Result<(), CgroupError> {
        Err(self.refuse("pause (the freezer)"))
    }
    fn thaw(&self) -> Result<(), CgroupError> {
        Err(self.refuse("unpause (the freezer)"))
    }
    fn is_frozen(&self) -> bool {
        false
    }
    fn pids(&self) -> Vec<i32> {
        Vec::new()
    }
    /// Nothing to do: the container has its own PID namespace, whose
    /// processes the kernel kills when its init dies.
    fn kill_all(&self) -> Result<(), CgroupError> {
        Ok(())
    }
    fn stats(&self) -> Result<Stats, CgroupError> {
        Ok(Stats::default())
    }
    fn delete(&self) -> Result<(), CgroupError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{LinuxMemoryBuilder, LinuxPidsBuilder, LinuxResourcesBuilder};

    #[test]
    fn limits_are_refused_by_flag_and_plain_runs_pass() {
        let none = NoCgroup { why: why("hybrid") };
        assert!(none.apply(&LinuxResources::default()).is_ok());
        let mem = LinuxResourcesBuilder::default()
            .memory(LinuxMemoryBuilder::default().limit(1 << 20).build().unwrap())
            .build()
            .unwrap();
        let e = none.apply(&mem).unwrap_err().to_string();
        assert!(e.starts_with("resource limits need cgroup v2 delegation: --memory"), "{e}");
        assert!(e.contains("cgroup hybrid"), "{e}");
        let pids = LinuxResourcesBuilder::default()
            .pids(LinuxPidsBuilder::default().limit(5).build().unwrap())
            .build()
            .unwrap();
        assert_eq!(first_limit(&pids), Some("--pids-limit"));
        assert!(none.freeze().is_err());
    }
}
