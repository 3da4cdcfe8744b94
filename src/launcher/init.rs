//! `--init`: a minimal PID 1 that forwards signals to the command and reaps
//! every zombie re-parented to it, then exits with the command's status.

use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::os::fd::{AsRawFd, OwnedFd};

pub fn run(main: Pid, sock: &OwnedFd) -> ! {
    // our copy of the channel must close, so the parent sees EOF when the command execs
    let _ = nix::unistd::close(sock.as_raw_fd());
    // not dumpable: container processes cannot open /proc/1/exe or /proc/1/mem of this host binary
    // SAFETY: PR_SET_DUMPABLE takes an integer argument only.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
    let all = SigSet::all();
    loop {
        let Ok(sig) = all.wait() else { continue };
        if sig != Signal::SIGCHLD {
            let _ = kill(main, sig);
            continue;
        }
        loop {
            match waitpid(None::<Pid>, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) if pid == main => exit(code),
                Ok(WaitStatus::Signaled(pid, s, _)) if pid == main => exit(128 + s as i32),
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(_) => continue,
            }
        }
    }
}

fn exit(code: i32) -> ! {
    // SAFETY: ends PID 1 of the container; the kernel then ends the rest of its namespace.
    unsafe { libc::_exit(code) }
}
