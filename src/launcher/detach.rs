//! Starting a process that outlives its caller, with no daemon: the classic
//! double fork. The caller forks; that child starts a new session and forks
//! the monitor, then exits at once, so the monitor is re-parented to the
//! host's init (nobody's zombie) and has no controlling terminal. A pipe
//! carries one message back: the container runs, or why it does not.
//!
//! ```text
//! caller ── fork ──▶ intermediate: setsid, fork ──▶ monitor: stdio → /dev/null
//!   │                  └─ _exit(0)                    start the container
//!   ◀──────────────── "ready" or the error ───────────┘ and watch it
//! ```

use super::LaunchError;
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::wait::waitpid;
use nix::unistd::{dup2, fork, pipe2, read, setsid, write, ForkResult};
use std::os::fd::{AsRawFd, OwnedFd};

/// The monitor's end of the pipe: says once whether the container started.
pub struct Notifier(OwnedFd);

impl Notifier {
    pub fn ready(self) {
        let _ = write(&self.0, b"R");
    }

    /// Reports a failure (with the exit code the caller should end with).
    pub fn failed(self, code: i32, msg: &str) {
        let mut m = vec![b'E', code.clamp(0, 255) as u8];
        m.extend_from_slice(&msg.as_bytes()[..msg.len().min(4000)]);
        let _ = write(&self.0, &m);
    }
}

/// Runs `monitor` in a detached grandchild and returns once it has called
/// [`Notifier::ready`], or with the error it reported. `monitor` returns the
/// process's exit status. The caller must be single-threaded
/// ([`LaunchError::MultiThreaded`] otherwise).
pub fn spawn_detached<F: FnOnce(Notifier) -> i32>(monitor: F) -> Result<(), LaunchError> {
    super::ensure_single_threaded()?;
    let (rd, wr) = pipe2(OFlag::O_CLOEXEC).map_err(LaunchError::sys("pipe"))?;
    crate::step!(super::steps::MONITOR);
    // the monitor's steps (and its container's) come back to a narrating caller
    let mut relay = crate::steps::relay::open();
    // SAFETY: rrun is single-threaded here; the child only forks again or exits.
    match unsafe { fork() }.map_err(LaunchError::sys("fork the monitor"))? {
        ForkResult::Child => {
            drop(rd);
            let _ = setsid();
            // SAFETY: as above, in the single-threaded intermediate child.
            match unsafe { fork() } {
                Ok(ForkResult::Child) => {
                    crate::steps::relay::adopt(relay.take(), "monitor");
                    // the caller may be gone when the monitor reports: that must not kill the monitor
                    // SAFETY: installs SIG_IGN; no handler runs.
                    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
                    detach_stdio();
                    let code = monitor(Notifier(wr));
                    // SAFETY: ends the monitor without unwinding into the caller's stack frames.
                    unsafe { libc::_exit(code) }
                }
                // SAFETY: the intermediate process has nothing to clean up.
                _ => unsafe { libc::_exit(0) },
            }
        }
        ForkResult::Parent { child } => {
            drop(wr);
            drop(relay);
            let _ = waitpid(child, None);
            let mut msg = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                match read(rd.as_raw_fd(), &mut buf) {
                    Ok(0) => break,
                    Ok(n) => msg.extend_from_slice(&buf[..n]),
                    Err(Errno::EINTR) => continue,
                    Err(e) => return Err(LaunchError::sys("read from the monitor")(e)),
                }
                if msg.first() == Some(&b'R') {
                    break;
                }
            }
            match msg.first() {
                Some(b'R') => Ok(()),
                Some(b'E') if msg.len() >= 2 => Err(LaunchError::Container {
                    code: msg[1] as i32,
                    msg: String::from_utf8_lossy(&msg[2..]).into_owned(),
                }),
                _ => Err(LaunchError::Container {
                    code: 125,
                    msg: "the container's monitor exited before the container started".into(),
                }),
            }
        }
    }
}

/// The monitor keeps no terminal and no caller's pipe open: stdin, stdout and
/// stderr become `/dev/null` (a caller reading our output sees EOF at once).
fn detach_stdio() {
    if let Ok(null) = nix::fcntl::open("/dev/null", OFlag::O_RDWR, nix::sys::stat::Mode::empty()) {
        for fd in 0..3 {
            let _ = dup2(null, fd);
        }
        if null > 2 {
            let _ = nix::unistd::close(null);
        }
    }
}
