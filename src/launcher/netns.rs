//! Network namespaces that outlive every process in them, as `ip netns add`
//! makes them: a new namespace bind-mounted on a file. rrun makes one per
//! bridged container before the container starts, so that netavark can set
//! its interfaces up in it and the container's init joins it by path; it
//! goes when the container's network is torn down.
//!
//! ```text
//! unshare(CLONE_NEWNET)                         this thread enters a new, empty namespace
//! mount --bind /proc/thread-self/ns/net FILE    the file now holds it
//! setns(rrun's own)                             and rrun goes back to the host's
//! ```
//! The directory of those files is a shared mount (iproute2 does the same for
//! `/run/netns`): a mount namespace copied from the host's meanwhile sees the
//! unmount too, so no copy keeps a torn-down namespace, and its interfaces, alive.

use super::LaunchError;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};
use std::os::fd::AsFd;
use std::path::Path;
use tracing::debug;

/// True when `path` holds a namespace (is a bind mount of one: its file
/// system is nsfs, that of `/proc/PID/ns/*`).
pub fn is_namespace(path: &Path) -> bool {
    nix::sys::statfs::statfs(path).is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::NSFS_MAGIC)
}

/// Makes `dir` a shared mount point (a bind mount of itself the first time).
fn share_directory(dir: &Path) -> Result<(), LaunchError> {
    std::fs::create_dir_all(dir).map_err(|e| LaunchError::Spec(format!("create {}: {e}", dir.display())))?;
    let shared = MsFlags::MS_SHARED | MsFlags::MS_REC;
    // refused (EINVAL) unless the directory is a mount point already
    if mount(None::<&str>, dir, None::<&str>, shared, None::<&str>).is_ok() {
        return Ok(());
    }
    debug!(syscall = "mount", source = %dir.display(), target = %dir.display(), flags = "MS_BIND|MS_REC",
        "a mount point of its own for the namespaces' directory, shared so unmounts reach every copy");
    mount(Some(dir), dir, None::<&str>, MsFlags::MS_BIND | MsFlags::MS_REC, None::<&str>)
        .map_err(LaunchError::sys(format!("bind {} on itself", dir.display())))?;
    mount(None::<&str>, dir, None::<&str>, shared, None::<&str>)
        .map_err(LaunchError::sys(format!("make {} shared", dir.display())))
}

/// Creates a new network namespace held by the file `path` (which must not exist).
pub fn create(path: &Path) -> Result<(), LaunchError> {
    let dir = path.parent().ok_or_else(|| LaunchError::Spec(format!("{}: no directory", path.display())))?;
    share_directory(dir)?;
    let own = std::fs::File::open("/proc/thread-self/ns/net")
        .map_err(|e| LaunchError::Spec(format!("open rrun's own network namespace: {e}")))?;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| LaunchError::Spec(format!("create {}: {e}", path.display())))?;
    debug!(syscall = "unshare", flags = "CLONE_NEWNET", "a new network namespace for the container");
    let made = unshare(CloneFlags::CLONE_NEWNET).map_err(LaunchError::sys("unshare(CLONE_NEWNET)")).and_then(|()| {
        debug!(syscall = "mount", source = "/proc/thread-self/ns/net", target = %path.display(), flags = "MS_BIND",
            "the namespace outlives its processes: held by a file");
        mount(Some("/proc/thread-self/ns/net"), path, None::<&str>, MsFlags::MS_BIND, None::<&str>)
            .map_err(LaunchError::sys(format!("bind the new network namespace on {}", path.display())))
    });
    debug!(syscall = "setns", nstype = "CLONE_NEWNET", "back to rrun's own network namespace");
    // rrun must be back home whatever happened: without it, nothing else is right
    setns(own.as_fd(), CloneFlags::CLONE_NEWNET).map_err(LaunchError::sys("setns back to rrun's network namespace"))?;
    if let Err(e) = made {
        let _ = std::fs::remove_file(path);
        return Err(e);
    }
    Ok(())
}

/// Unmounts and removes a namespace file made by [`create`]: the namespace
/// goes once no process is in it. Nothing there is no error.
pub fn remove(path: &Path) -> Result<(), LaunchError> {
    if is_namespace(path) {
        debug!(syscall = "umount2", target = %path.display(), flags = "MNT_DETACH", "release the network namespace");
        match umount2(path, MntFlags::MNT_DETACH) {
            Ok(()) | Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => {}
            Err(e) => return Err(LaunchError::sys(format!("unmount {}", path.display()))(e)),
        }
    }
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(LaunchError::Spec(format!("remove {}: {e}", path.display()))),
    }
}

/// The name `ps` shows for a process that holds a network namespace.
pub const HOLDER_NAME: &str = "rrun-netns";

/// Starts a process that holds a new network namespace (an ordinary user
/// cannot bind-mount one: the host's mount namespace is not theirs). It is
/// detached (double fork, own session, stdio on /dev/null), enters a new
/// network namespace, drops every capability — so that pasta, which keeps
/// only a few, may open its `/proc/PID/ns/net` (a process with more
/// capabilities than the caller is not open to it) — writes its PID to
/// `pid_file` and waits until it is killed. Returns its PID once the
/// namespace exists. The process must have one thread.
pub fn spawn_holder(pid_file: &Path) -> Result<i32, LaunchError> {
    use std::io::Read;
    let (ack_r, ack_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(LaunchError::sys("pipe"))?;
    debug!(
        syscall = "fork + unshare",
        flags = "CLONE_NEWNET",
        "a process that holds the container's network namespace"
    );
    // SAFETY: the caller has one thread; the children exit or wait for a signal.
    match unsafe { nix::unistd::fork() }.map_err(LaunchError::sys("fork"))? {
        nix::unistd::ForkResult::Child => {
            drop(ack_r);
            let _ = nix::unistd::setsid();
            // SAFETY: as above.
            let code = match unsafe { nix::unistd::fork() } {
                Ok(nix::unistd::ForkResult::Child) => hold(ack_w, pid_file),
                Ok(nix::unistd::ForkResult::Parent { .. }) => 0,
                Err(_) => 1,
            };
            // SAFETY: _exit skips the parent's atexit handlers and buffers.
            unsafe { libc::_exit(code) }
        }
        nix::unistd::ForkResult::Parent { child } => {
            drop(ack_w);
            let _ = nix::sys::wait::waitpid(child, None);
            let mut buf = [0u8; 5];
            match std::fs::File::from(ack_r).read_exact(&mut buf) {
                Ok(()) if buf[0] == 1 => Ok(i32::from_ne_bytes([buf[1], buf[2], buf[3], buf[4]])),
                _ => Err(LaunchError::Spec(
                    "the network namespace's holder did not start (unshare(CLONE_NEWNET) refused)".into(),
                )),
            }
        }
    }
}

/// The holder's life: see [`spawn_holder`].
fn hold(ack: std::os::fd::OwnedFd, pid_file: &Path) -> i32 {
    use std::io::Write;
    // SAFETY: /dev/null on the standard descriptors and / as the working
    // directory: the holder keeps no caller's terminal, pipe or directory.
    unsafe {
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if null >= 0 {
            for fd in 0..3 {
                libc::dup2(null, fd);
            }
        }
        libc::chdir(c"/".as_ptr());
    }
    let pid = std::process::id() as i32;
    let ok = unshare(CloneFlags::CLONE_NEWNET).is_ok()
        && std::fs::write(pid_file, format!("{pid}\n")).is_ok()
        && caps::clear(None, caps::CapSet::Effective).is_ok()
        && caps::clear(None, caps::CapSet::Permitted).is_ok()
        && caps::clear(None, caps::CapSet::Inheritable).is_ok();
    let mut msg = [0u8; 5];
    msg[0] = u8::from(ok);
    msg[1..].copy_from_slice(&pid.to_ne_bytes());
    let mut f = std::fs::File::from(ack);
    let _ = f.write_all(&msg);
    drop(f);
    if !ok {
        return 1;
    }
    super::process::hold_forever(c"rrun-netns")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_namespace_outlives_its_maker_until_removed() {
        if !nix::unistd::Uid::effective().is_root() {
            // in CI (CI set) a test that ran nothing must not pass
            let ci = std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false"));
            assert!(!ci, "a_namespace_outlives_its_maker_until_removed cannot run: needs root (CI is set)");
            eprintln!("SKIP a_namespace_outlives_its_maker_until_removed: needs root");
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let path = dir.join("ns1");
        let before = std::fs::read_link("/proc/thread-self/ns/net").unwrap();
        create(&path).unwrap();
        assert!(is_namespace(&path));
        assert_eq!(std::fs::read_link("/proc/thread-self/ns/net").unwrap(), before, "back in our own namespace");
        assert!(create(&path).is_err(), "an existing file is not replaced");
        remove(&path).unwrap();
        assert!(!path.exists() && !is_namespace(&path));
        remove(&path).unwrap();
        // the directory stays a mount point of its own: unmount it for the test
        let _ = umount2(&dir, MntFlags::MNT_DETACH);
    }
}
