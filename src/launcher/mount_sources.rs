//! Bind-mount sources of a container with a user namespace of its own.
//!
//! The init is born in its new user namespace, as a root that the host's
//! permission checks no longer treat as root: a bind source under a
//! directory only host root may search (`/root/…`, a 0700 volume) cannot be
//! reached by it. As runc does, rrun — still host root — opens each source
//! itself, inside the container's new mount namespace (so the mount it names
//! belongs there and may be bound from), and hands the descriptors over before
//! the init goes on; the init binds from `/proc/self/fd/N`.

use super::{sync, LaunchError};
use nix::sched::{setns, CloneFlags};
use nix::unistd::Pid;
use oci_spec::runtime::Spec;
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// The bind mounts (index, absolute source) whose sources rrun opens: all of
/// them when the container gets a new user namespace and a new mount
/// namespace, none otherwise. Idmapped ones are prepared apart.
pub fn wanted(spec: &Spec, new_user_ns: bool, new_mount_ns: bool) -> Vec<(usize, PathBuf)> {
    // an ordinary user's rrun reaches no more than the init does (and may not enter its mount
    // namespace, which belongs to the new user namespace): the init binds by path
    if !new_user_ns || !new_mount_ns || !nix::unistd::Uid::effective().is_root() {
        return Vec::new();
    }
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    spec.mounts()
        .iter()
        .flatten()
        .enumerate()
        .filter(|(_, m)| {
            let opts = m.options().as_deref().unwrap_or_default();
            let bind = m.typ().as_deref() == Some("bind") || opts.iter().any(|o| o == "bind" || o == "rbind");
            bind && super::idmap::wants_idmap(m).is_none()
        })
        .filter_map(|(i, m)| m.source().as_ref().map(|s| (i, cwd.join(s))))
        .collect()
}

fn fail(what: String) -> impl FnOnce(nix::errno::Errno) -> LaunchError {
    move |e| LaunchError::Container { code: 125, msg: format!("{what}: {e}") }
}

/// Parent side: opens the sources inside the mount namespace of `pid` and
/// sends them to it; rrun's own mount namespace and working directory are
/// put back whatever happens.
pub fn send(pid: Pid, sources: &[(usize, PathBuf)], sock: &OwnedFd) -> Result<(), LaunchError> {
    if sources.is_empty() {
        return Ok(());
    }
    let io = |what: String| move |e: std::io::Error| LaunchError::Container { code: 125, msg: format!("{what}: {e}") };
    let own = File::open("/proc/self/ns/mnt").map_err(io("open /proc/self/ns/mnt".into()))?;
    let cwd = File::open(".").map_err(io("open the working directory".into()))?;
    let theirs = format!("/proc/{}/ns/mnt", pid.as_raw());
    let target = File::open(&theirs).map_err(io(format!("open {theirs}")))?;
    crate::step!(
        super::steps::MOUNT_SOURCES,
        path = %theirs,
        sources = %sources.iter().map(|(_, p)| p.display().to_string()).collect::<Vec<_>>().join(", ")
    );
    setns(target.as_fd(), CloneFlags::CLONE_NEWNS).map_err(fail(format!("setns {theirs}")))?;
    let opened: Result<Vec<(usize, OwnedFd)>, LaunchError> = sources
        .iter()
        .map(|(i, src)| {
            nix::fcntl::open(
                src.as_path(),
                nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::empty(),
            )
            .map(|fd| {
                // SAFETY: open returned a new descriptor that nothing else owns.
                (*i, unsafe { OwnedFd::from_raw_fd(fd) })
            })
            .map_err(fail(format!("open bind source {}", src.display())))
        })
        .collect();
    // back home before anything else can fail
    setns(own.as_fd(), CloneFlags::CLONE_NEWNS).map_err(fail("setns back to rrun's mount namespace".into()))?;
    nix::unistd::fchdir(cwd.as_raw_fd()).map_err(fail("return to the working directory".into()))?;
    for (i, fd) in opened? {
        sync::send_mount_source(sock, i, &fd).map_err(LaunchError::sys("send a bind source to the container"))?;
    }
    Ok(())
}

/// Child side: receives the `n` descriptors [`send`] opened, by mount index.
pub fn receive(sock: &OwnedFd, n: usize) -> Result<Vec<(usize, OwnedFd)>, String> {
    (0..n)
        .map(|_| {
            sync::recv_mount_source(sock).ok_or_else(|| "rrun went away while sending the bind sources".to_string())
        })
        .collect()
}

/// The path to bind from: the descriptor's, when rrun opened the source.
pub fn source_path(given: &Path, opened: Option<&OwnedFd>) -> PathBuf {
    match opened {
        Some(fd) => crate::securefs::fd_path(fd),
        None => given.to_path_buf(),
    }
}
