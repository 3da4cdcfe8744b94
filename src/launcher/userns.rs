//! Entering the user's rootless user namespace (the process side of
//! [`rootless`](crate::rootless), which holds the facts): the first command
//! forks a pause process that unshares a user namespace and holds it, later
//! commands `setns` into it. The pause process's PID (and start time) is in
//! `pause.pid` under the user's runtime directory.

use crate::procfs::process_start_time;
use crate::rootless::{io, map_lines, private_dir, probe, set_active, Mapping, Rootless, RootlessError};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};

/// Puts this process into the user's rootless user namespace: joins the one
/// the pause process holds, or creates it (and the pause process). Must be
/// called while the process has one thread. Afterwards the process is root
/// in that namespace and `rootless::active` describes the setup.
pub fn enter() -> Result<&'static Rootless, RootlessError> {
    let setup = probe();
    private_dir(&setup.runtime_dir, setup.uid)?;
    let lock_path = setup.runtime_dir.join("pause.lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(io(format!("open {}", lock_path.display())))?;
    // SAFETY: flock on a descriptor this function owns.
    if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(io(format!("lock {}", lock_path.display()))(std::io::Error::last_os_error()));
    }
    let pid_file = setup.runtime_dir.join("pause.pid");
    let existing = std::fs::read_to_string(&pid_file).ok().and_then(|t| {
        let (pid, start) = t.trim().split_once(' ')?;
        let (pid, start): (i32, u64) = (pid.parse().ok()?, start.parse().ok()?);
        if process_start_time(pid) != Some(start) {
            return None;
        }
        let map = std::fs::read_to_string(format!("/proc/{pid}/uid_map")).unwrap_or_default();
        if map_lines(&map) != setup.mapping.uid_lines(setup.uid) {
            // unmapped (its maker died), or the user's ranges changed since: a new namespace
            // (containers of the old one keep running; exec into them needs the old one)
            if !map.trim().is_empty() {
                tracing::warn!(pid, "the user's id ranges changed: a new user namespace replaces the old one");
            }
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
            return None;
        }
        Some(pid)
    });
    let pid = match existing {
        Some(pid) => pid,
        None => {
            let pid = spawn_pause()?;
            if let Err(e) = write_maps(pid, &setup) {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
                return Err(e);
            }
            let start = process_start_time(pid).ok_or_else(|| RootlessError::Other("the pause process died".into()))?;
            let tmp = setup.runtime_dir.join("pause.pid.tmp");
            std::fs::write(&tmp, format!("{pid} {start}\n")).map_err(io(format!("write {}", tmp.display())))?;
            std::fs::rename(&tmp, &pid_file).map_err(io(format!("rename to {}", pid_file.display())))?;
            pid
        }
    };
    let ns_path = format!("/proc/{pid}/ns/user");
    let ns = std::fs::File::open(&ns_path).map_err(io(format!("open {ns_path}")))?;
    nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWUSER)
        .map_err(|e| io(format!("setns {ns_path}"))(std::io::Error::from(e)))?;
    drop(lock);
    Ok(set_active(setup))
}

/// Forks the pause process (detached by a double fork, own session, stdio on
/// /dev/null), which unshares a user namespace and then sleeps forever.
/// Returns its PID once it has unshared.
fn spawn_pause() -> Result<i32, RootlessError> {
    let pipe = || -> Result<(OwnedFd, OwnedFd), RootlessError> {
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| io("pipe")(std::io::Error::from(e)))
    };
    let (pid_r, pid_w) = pipe()?;
    let (ack_r, ack_w) = pipe()?;
    // SAFETY: the process has one thread (enter's contract); the children only
    // make raw syscalls until they exit or pause.
    match unsafe { nix::unistd::fork() }.map_err(|e| io("fork")(std::io::Error::from(e)))? {
        nix::unistd::ForkResult::Child => {
            drop((pid_r, ack_r));
            let _ = nix::unistd::setsid();
            // SAFETY: see above.
            let code = match unsafe { nix::unistd::fork() } {
                Ok(nix::unistd::ForkResult::Child) => {
                    drop(pid_w);
                    pause_forever(ack_w)
                }
                Ok(nix::unistd::ForkResult::Parent { child }) => {
                    let mut f = std::fs::File::from(pid_w);
                    i32::from(f.write_all(&child.as_raw().to_ne_bytes()).is_err())
                }
                Err(_) => 1,
            };
            // SAFETY: _exit skips the parent's atexit handlers and buffers.
            unsafe { libc::_exit(code) }
        }
        nix::unistd::ForkResult::Parent { child } => {
            drop((pid_w, ack_w));
            let _ = nix::sys::wait::waitpid(child, None);
            let mut buf = [0u8; 4];
            std::fs::File::from(pid_r)
                .read_exact(&mut buf)
                .map_err(|_| RootlessError::Other("the pause process did not start".into()))?;
            let mut ack = [0u8; 1];
            match std::fs::File::from(ack_r).read(&mut ack) {
                Ok(1) if ack[0] == b'1' => Ok(i32::from_ne_bytes(buf)),
                _ => Err(RootlessError::Other(
                    "unshare(CLONE_NEWUSER) failed: unprivileged user namespaces are disabled \
                     (sysctl kernel.unprivileged_userns_clone=1 or user.max_user_namespaces > 0)"
                        .into(),
                )),
            }
        }
    }
}

/// The pause process: unshares the user namespace, says so on `ack`, and
/// holds the namespace until killed.
fn pause_forever(ack: OwnedFd) -> i32 {
    // SAFETY: opening /dev/null and dup2 onto the standard descriptors; the
    // pause process must not keep a caller's pipe or terminal open.
    unsafe {
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if null >= 0 {
            for fd in 0..3 {
                libc::dup2(null, fd);
            }
        }
        libc::chdir(c"/".as_ptr());
    }
    let ok = nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUSER).is_ok();
    let mut f = std::fs::File::from(ack);
    let _ = f.write_all(if ok { b"1" } else { b"0" });
    drop(f);
    if !ok {
        return 1;
    }
    super::process::hold_forever(c"rrun-pause")
}

/// Writes the id maps of process `pid`'s fresh user namespace: through
/// newuidmap/newgidmap with subordinate ranges, directly for one id.
fn write_maps(pid: i32, setup: &Rootless) -> Result<(), RootlessError> {
    match &setup.mapping {
        Mapping::Ranges { uids, gids } => {
            for (helper, own, (start, count)) in [("newuidmap", setup.uid, uids), ("newgidmap", setup.gid, gids)] {
                let out = std::process::Command::new(helper)
                    .args([pid.to_string(), "0".into(), own.to_string(), "1".into(), "1".into()])
                    .args([start.to_string(), count.to_string()])
                    .stdin(std::process::Stdio::null())
                    .output()
                    .map_err(io(format!("run {helper}")))?;
                if !out.status.success() {
                    return Err(RootlessError::Other(format!(
                        "{helper} {pid} 0 {own} 1 1 {start} {count}: {}",
                        String::from_utf8_lossy(&out.stderr).trim()
                    )));
                }
            }
        }
        Mapping::Single { .. } => {
            let write = |file: &str, text: String| {
                let path = format!("/proc/{pid}/{file}");
                std::fs::write(&path, text).map_err(io(format!("write {path}")))
            };
            write("uid_map", format!("0 {} 1\n", setup.uid))?;
            write("setgroups", "deny\n".into())?;
            write("gid_map", format!("0 {} 1\n", setup.gid))?;
        }
    }
    Ok(())
}
