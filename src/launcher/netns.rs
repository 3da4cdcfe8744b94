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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_namespace_outlives_its_maker_until_removed() {
        if !nix::unistd::Uid::effective().is_root() {
            eprintln!("SKIP a_namespace_outlives_its_maker_until_removed: needs root");
            return;
        }
        let dir = std::env::temp_dir().join(format!("rrun-netns-unit-{}", std::process::id()));
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
        let _ = std::fs::remove_dir(&dir);
    }
}
