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
    pub fn new_time(&mut self, offsets: &HashMap<String, String>) -> Result<(), LaunchError> {
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
/// per clock, `monotonic` or `boottime`, seconds and nanoseconds. The Spec
/// keeps each as "SECS NANOSECS" (see `oci::load_spec`).
pub fn offsets_file(offsets: &HashMap<String, String>) -> Result<String, String> {
    let mut clocks: Vec<(&String, &String)> = offsets.iter().collect();
    clocks.sort();
    let mut out = String::new();
    for (clock, value) in clocks {
        if clock != "monotonic" && clock != "boottime" {
            return Err(format!("linux.timeOffsets: unknown clock {clock:?} (monotonic or boottime)"));
        }
        let mut parts = value.split_whitespace();
        let secs = parts.next().and_then(|s| s.parse::<i64>().ok());
        let nanos = parts.next().map(|s| s.parse::<u32>().ok()).unwrap_or(Some(0));
        match (secs, nanos, parts.next()) {
            (Some(s), Some(n), None) if n < 1_000_000_000 => out.push_str(&format!("{clock} {s} {n}\n")),
            _ => return Err(format!("linux.timeOffsets.{clock}: invalid offset {value:?}")),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_become_the_kernels_lines() {
        let m = HashMap::from([("monotonic".to_string(), "86400 5".to_string()), ("boottime".into(), "-3".into())]);
        assert_eq!(offsets_file(&m).unwrap(), "boottime -3 0\nmonotonic 86400 5\n");
        let bad = HashMap::from([("realtime".to_string(), "1 0".to_string())]);
        assert!(offsets_file(&bad).unwrap_err().contains("realtime"));
        let bad = HashMap::from([("boottime".to_string(), "1 2000000000".to_string())]);
        assert!(offsets_file(&bad).is_err());
    }
}
