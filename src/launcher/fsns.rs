//! Reaching a container's filesystem from outside it (`cp`, `export`) with
//! no mount left behind: the work runs in a forked child that mounts what it
//! needs in a private mount namespace of its own, or joins the container's,
//! so every mount it makes dies with it — even when it crashes.

use super::mounts::{mount_rootfs, RootfsSource};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::{mount, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};
use nix::sys::stat::Mode;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult};
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use tracing::debug;

/// Why work run in a forked helper process (`cp`, `export`) failed.
#[derive(Debug, thiserror::Error)]
pub enum FsChildError {
    /// Setting up or waiting for the child failed.
    #[error("{op}: {source}")]
    Sys {
        /// The system call that failed (`pipe`, `fork`, `waitpid`).
        op: &'static str,
        /// Its errno.
        source: Errno,
    },
    /// What the work in the child reported.
    #[error("{0}")]
    Failed(String),
    /// The child died of a signal (its number); it reported nothing.
    #[error("the helper process was killed by signal {0}")]
    Killed(i32),
}

/// Runs `work` in a forked child and waits for it; its error message comes
/// back through a pipe. The caller has no other threads (DESIGN: process
/// model). `work` flushes what it writes: the child ends with `_exit`.
pub fn in_child(work: impl FnOnce() -> Result<(), String>) -> Result<(), FsChildError> {
    // what this process buffered must not be written twice
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    let (read_end, write_end) =
        nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|source| FsChildError::Sys { op: "pipe", source })?;
    // SAFETY: the process is single-threaded, so the child may run arbitrary code.
    match unsafe { fork() }.map_err(|source| FsChildError::Sys { op: "fork", source })? {
        ForkResult::Child => {
            drop(read_end);
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
            let code = match result {
                Ok(Ok(())) => 0,
                Ok(Err(msg)) => {
                    let _ = std::fs::File::from(write_end).write_all(msg.as_bytes());
                    1
                }
                Err(_) => 2,
            };
            // SAFETY: _exit ends the child without running the parent's atexit handlers or destructors.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => {
            drop(write_end);
            let mut msg = String::new();
            let _ = std::fs::File::from(read_end).read_to_string(&mut msg);
            let status = loop {
                match waitpid(child, None) {
                    Err(Errno::EINTR) => continue,
                    other => break other.map_err(|source| FsChildError::Sys { op: "waitpid", source })?,
                }
            };
            match status {
                WaitStatus::Exited(_, 0) => Ok(()),
                WaitStatus::Exited(_, 2) if msg.is_empty() => {
                    Err(FsChildError::Failed("the helper process panicked".into()))
                }
                WaitStatus::Exited(_, code) if msg.is_empty() => {
                    Err(FsChildError::Failed(format!("the helper process exited with {code}")))
                }
                WaitStatus::Exited(..) => Err(FsChildError::Failed(msg)),
                WaitStatus::Signaled(_, sig, _) => Err(FsChildError::Killed(sig as i32)),
                other => Err(FsChildError::Failed(format!("the helper process ended: {other:?}"))),
            }
        }
    }
}

/// An `O_RDONLY` directory descriptor of the directory `fd` refers to.
fn readable_dir(fd: BorrowedFd<'_>) -> Result<OwnedFd, String> {
    let dir = nix::fcntl::openat(
        Some(fd.as_raw_fd()),
        ".",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| format!("open the container's root: {e}"))?;
    // SAFETY: openat returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(dir) })
}

/// Runs `work` on a stopped container's root: in a child with a private
/// mount namespace, where the overlay is mounted (and gone when it exits).
pub fn with_mounted_rootfs(
    rootfs: &RootfsSource,
    work: impl FnOnce(BorrowedFd<'_>) -> Result<(), String>,
) -> Result<(), FsChildError> {
    in_child(|| {
        debug!(syscall = "unshare", flags = "CLONE_NEWNS", "a mount namespace of the helper's own");
        unshare(CloneFlags::CLONE_NEWNS).map_err(|e| format!("unshare(CLONE_NEWNS): {e}"))?;
        debug!(syscall = "mount", target = "/", flags = "MS_REC|MS_PRIVATE", "nothing mounted here reaches the host");
        mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None::<&str>)
            .map_err(|e| format!("make / private: {e}"))?;
        // mounting moves to the layers directory: the work sees the caller's working directory
        let cwd = std::fs::File::open(".").map_err(|e| format!("open the working directory: {e}"))?;
        let root = mount_rootfs(&super::syscall::LINUX, rootfs).map_err(|e| e.msg)?;
        nix::unistd::fchdir(cwd.as_raw_fd()).map_err(|e| format!("return to the working directory: {e}"))?;
        let dir = readable_dir(root.as_fd())?;
        work(dir.as_fd())
    })
}

/// Runs `work` on the root filesystem of the mount namespace `mnt_ns` (a
/// running container's `/proc/PID/ns/mnt`): the child joins the namespace and
/// takes a detached copy of its root mount alone (`open_tree`, not
/// recursive), so `/proc`, `/dev` and volumes mounted on top are not in it.
pub fn with_namespace_root(
    mnt_ns: BorrowedFd<'_>,
    work: impl FnOnce(BorrowedFd<'_>) -> Result<(), String>,
) -> Result<(), FsChildError> {
    in_child(|| {
        debug!(syscall = "setns", nstype = "CLONE_NEWNS", "join the container's mount namespace");
        setns(mnt_ns, CloneFlags::CLONE_NEWNS).map_err(|e| format!("join the container's mount namespace: {e}"))?;
        let flags = libc::OPEN_TREE_CLONE | libc::OPEN_TREE_CLOEXEC as libc::c_uint;
        debug!(syscall = "open_tree", path = "/", "a detached copy of the container's root mount");
        // SAFETY: open_tree with a NUL-terminated path; returns a new descriptor or -1.
        let fd = unsafe { libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, c"/".as_ptr(), flags) };
        if fd < 0 {
            return Err(format!("open_tree of the container's root: {}", Errno::last()));
        }
        // SAFETY: open_tree returned a new descriptor that nothing else owns.
        let tree = unsafe { OwnedFd::from_raw_fd(fd as i32) };
        let dir = readable_dir(tree.as_fd())?;
        work(dir.as_fd())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn child_errors_and_success_come_back() {
        assert!(in_child(|| Ok(())).is_ok());
        // (the test harness has threads: the children allocate nothing)
        let msg = "it went wrong".to_string();
        match in_child(move || Err(msg)) {
            Err(FsChildError::Failed(m)) => assert_eq!(m, "it went wrong"),
            other => panic!("{other:?}"),
        }
        match in_child(|| {
            // SAFETY: raise only signals this (child) process.
            unsafe { libc::raise(libc::SIGKILL) };
            Ok(())
        }) {
            Err(FsChildError::Killed(9)) => {}
            other => panic!("{other:?}"),
        }
    }
}
