//! Signalling and waiting for processes that are not our children (a
//! container started by another rrun), without being fooled by a reused PID:
//! a pidfd is opened first, then the start time checked, so every later
//! operation on the pidfd reaches the same process.

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::Signal;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// A handle on one process (pid + start time), valid while it lives.
pub struct ProcessHandle {
    fd: OwnedFd,
}

impl ProcessHandle {
    /// Opens `pid` if it is still the process that started at `start_time`.
    pub fn open(pid: i32, start_time: u64) -> Option<ProcessHandle> {
        // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        if fd < 0 {
            return None;
        }
        // SAFETY: the kernel just gave us this descriptor.
        let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
        crate::procfs::process_alive(pid, start_time).then_some(ProcessHandle { fd })
    }

    /// Sends `sig` (`None`: signal 0, a check that it lives); false if the process is gone.
    pub fn signal(&self, sig: impl Into<Option<Signal>>) -> bool {
        let sig = sig.into();
        tracing::debug!(syscall = "pidfd_send_signal", signal = ?sig, "signal the process");
        let signo = sig.map_or(0, |s| s as i32);
        // SAFETY: pidfd_send_signal with a NULL siginfo and no flags.
        let rc = unsafe {
            libc::syscall(libc::SYS_pidfd_send_signal, self.fd.as_raw_fd(), signo, std::ptr::null::<u8>(), 0)
        };
        rc == 0
    }

    /// Waits until the process exits; false if it still runs after `timeout`.
    pub fn wait_exit(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let ms = PollTimeout::try_from(left.as_millis().min(i32::MAX as u128) as i32).unwrap_or(PollTimeout::MAX);
            let mut fds = [PollFd::new(self.fd.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, ms) {
                Ok(n) if n > 0 => return true,
                Ok(_) => return false,
                Err(Errno::EINTR) => continue,
                Err(_) => return false,
            }
        }
    }
}

/// Drops from this process's page tables every read-only file mapping that
/// holds no private copy (program text, read-only data): the pages stay in
/// the page cache and fault back in when used. A long-lived, mostly idle
/// process (a container's monitor, forked from a CLI that ran much more code)
/// then only counts the pages it really uses in its RSS.
pub fn release_clean_mappings() {
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else { return };
    let mut current: Option<(usize, usize)> = None;
    let mut released = 0usize;
    for line in smaps.lines() {
        let mut words = line.split_whitespace();
        let first = words.next().unwrap_or("");
        if let Some((start, end)) = first.split_once('-').filter(|_| !first.ends_with(':')) {
            let perms = words.next().unwrap_or("");
            let path = words.nth(3).unwrap_or("");
            let (Ok(start), Ok(end)) = (usize::from_str_radix(start, 16), usize::from_str_radix(end, 16)) else {
                current = None;
                continue;
            };
            // private, read-only and backed by a file: a candidate
            current = (perms.starts_with('r') && !perms.contains('w') && perms.ends_with('p') && path.starts_with('/'))
                .then_some((start, end));
        } else if first == "Anonymous:" {
            // a mapping with copied-on-write pages (relocated data) must keep them
            if let Some((start, end)) = current.take().filter(|_| words.next() == Some("0")) {
                // SAFETY: the range is a whole private read-only file mapping with no private pages:
                // dropping its page-table entries only makes later reads fault the same bytes back in.
                if unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED) } == 0 {
                    released += end - start;
                }
            }
        }
    }
    tracing::debug!(released_kib = released / 1024, "dropped clean file mappings from the page tables");
}

/// Ignores SIGPIPE from now on: a write to a pipe whose reader went away
/// fails with EPIPE instead of ending this process. For a process that
/// relays a container's output and must outlive its readers; the container
/// itself resets its signals before exec.
pub fn ignore_sigpipe() {
    // SAFETY: installs SIG_IGN; no handler code runs.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
}

/// What a process that only holds a namespace open does for the rest of its
/// life (the rootless pause process, a user's network namespace holder):
/// named `name` in `ps`, no descriptor above stderr, deaf to the terminal's
/// signals, asleep until killed.
pub fn hold_forever(name: &std::ffi::CStr) -> ! {
    // SAFETY: PR_SET_NAME copies the NUL-terminated name, so `ps` shows what this process is.
    unsafe { libc::prctl(libc::PR_SET_NAME, name.as_ptr(), 0, 0, 0) };
    // SAFETY: close_range on descriptors above stderr, none of which the holder uses.
    unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) };
    for sig in [libc::SIGINT, libc::SIGHUP, libc::SIGQUIT, libc::SIGPIPE, libc::SIGTSTP] {
        // SAFETY: ignoring a signal installs no handler.
        unsafe { libc::signal(sig, libc::SIG_IGN) };
    }
    loop {
        // SAFETY: pause only waits for a signal.
        unsafe { libc::pause() };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_is_waited_for_through_its_pidfd() {
        let mut child = std::process::Command::new("sleep").arg("10").spawn().unwrap();
        let pid = child.id() as i32;
        let start = crate::container::process_start_time(pid).unwrap();
        assert!(ProcessHandle::open(pid, start + 1).is_none(), "another start time is another process");
        let h = ProcessHandle::open(pid, start).unwrap();
        assert!(!h.wait_exit(Duration::from_millis(50)));
        assert!(h.signal(Signal::SIGTERM));
        // it is our child: it exits (pollable) once it has died, even before it is reaped
        assert!(h.wait_exit(Duration::from_secs(5)));
        child.wait().unwrap();
    }
}
