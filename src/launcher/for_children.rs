//! Namespaces a process can only be *born* into: PID and time. `setns(2)`
//! on a PID namespace, and `unshare(CLONE_NEWTIME)`, change where the
//! caller's next child goes, not the caller. So rrun itself enters them just
//! around the clone of the container's init and then returns to its own:
//!
//! - a PID namespace joined by path (a pod's shared PID namespace): the init
//!   is born inside it, as runc's and crun's (which fork after setns);
//! - a new time namespace with `linux.timeOffsets`: the offsets can only be
//!   written before any process lives in it, so rrun unshares it, writes
//!   `/proc/self/timens_offsets`, and the init is its first member.

use super::LaunchError;
use nix::sched::{setns, CloneFlags};
use oci_spec::runtime::LinuxTimeOffset;
use std::collections::HashMap;
use std::fs::File;
use std::os::fd::AsFd;
use std::path::Path;

/// rrun's own namespaces for children, given back when dropped.
#[derive(Default)]
pub struct ForChildren {
    restore: Vec<(File, CloneFlags)>,
}

impl Drop for ForChildren {
    fn drop(&mut self) {
        for (own, flag) in self.restore.drain(..).rev() {
            // a Drop cannot fail: say so, since rrun's next children would be born in the
            // container's namespace (setns back to a namespace rrun was in is not refused in practice)
            if let Err(e) = setns(own.as_fd(), flag) {
                tracing::warn!(namespace = ?flag, error = %e, "could not return to rrun's own namespace for children");
            }
        }
    }
}

fn open(path: &str) -> Result<File, LaunchError> {
    File::open(path).map_err(|e| LaunchError::Container { code: 125, msg: format!("open {path}: {e}") })
}

impl ForChildren {
    /// Children of rrun are born in the PID namespace at `path`.
    pub fn join_pid(&mut self, path: &Path) -> Result<(), LaunchError> {
        let own = open("/proc/self/ns/pid_for_children")?;
        let target = File::open(path).map_err(|e| LaunchError::Container {
            code: 125,
            msg: format!("open namespace {}: {e}", path.display()),
        })?;
        crate::step!(super::steps::PID_NAMESPACE_JOIN, path = %path.display());
        setns(target.as_fd(), CloneFlags::CLONE_NEWPID)
            .map_err(LaunchError::sys(format!("setns {} (PID namespace)", path.display())))?;
        self.restore.push((own, CloneFlags::CLONE_NEWPID));
        Ok(())
    }

    /// Children of rrun are born in a new time namespace with these offsets.
    pub fn new_time(&mut self, offsets: &HashMap<String, LinuxTimeOffset>) -> Result<(), LaunchError> {
        let text = offsets_file(offsets).map_err(LaunchError::Spec)?;
        let own = open("/proc/self/ns/time_for_children")?;
        crate::step!(super::steps::TIME_NAMESPACE, flags = "CLONE_NEWTIME");
        // SAFETY: unshare takes flags only; rrun is single-threaded here.
        if unsafe { libc::unshare(libc::CLONE_NEWTIME) } != 0 {
            return Err(LaunchError::sys("unshare time namespace")(nix::errno::Errno::last()));
        }
        // from here on, what goes wrong must put rrun's own namespace back
        self.restore.push((own, CloneFlags::empty()));
        crate::step!(super::steps::TIME_OFFSETS, path = "/proc/self/timens_offsets", offsets = %text.trim().replace('\n', ", "));
        std::fs::write("/proc/self/timens_offsets", &text).map_err(|e| LaunchError::Container {
            code: 125,
            msg: format!("write /proc/self/timens_offsets ({}): {e}", text.trim().replace('\n', ", ")),
        })?;
        Ok(())
    }
}

/// `linux.timeOffsets` as `/proc/PID/timens_offsets` takes them: one line
/// per clock, `monotonic` or `boottime`, seconds and nanoseconds.
pub fn offsets_file(offsets: &HashMap<String, LinuxTimeOffset>) -> Result<String, String> {
    let mut clocks: Vec<(&String, &LinuxTimeOffset)> = offsets.iter().collect();
    clocks.sort_by_key(|(clock, _)| *clock);
    let mut out = String::new();
    for (clock, offset) in clocks {
        if clock != "monotonic" && clock != "boottime" {
            return Err(format!("linux.timeOffsets: unknown clock {clock:?} (monotonic or boottime)"));
        }
        match (offset.secs().unwrap_or(0), offset.nanosecs().unwrap_or(0)) {
            (s, n) if n < 1_000_000_000 => out.push_str(&format!("{clock} {s} {n}\n")),
            (_, n) => return Err(format!("linux.timeOffsets.{clock}: nanosecs {n} is not below 1000000000")),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_become_the_kernels_lines() {
        let offset = |secs: i64, nanosecs: Option<u32>| {
            let mut o = LinuxTimeOffset::default();
            o.set_secs(Some(secs)).set_nanosecs(nanosecs);
            o
        };
        let m =
            HashMap::from([("monotonic".to_string(), offset(86400, Some(5))), ("boottime".into(), offset(-3, None))]);
        assert_eq!(offsets_file(&m).unwrap(), "boottime -3 0\nmonotonic 86400 5\n");
        let bad = HashMap::from([("realtime".to_string(), offset(1, Some(0)))]);
        assert!(offsets_file(&bad).unwrap_err().contains("realtime"));
        let bad = HashMap::from([("boottime".to_string(), offset(1, Some(2_000_000_000)))]);
        assert!(offsets_file(&bad).is_err());
    }
}
