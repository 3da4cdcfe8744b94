//! Idmapped bind mounts (the `idmap`/`ridmap` mount options): files show
//! inside the container with the owners they have on the host, translated
//! through the container's user namespace, without a chown.
//!
//! The kernel wants a detached copy of the source tree (`open_tree`) marked
//! with a user namespace (`mount_setattr(MOUNT_ATTR_IDMAP)`); that takes
//! privileges in the host's namespace, which the container's init no longer
//! has once it is in its own user namespace. So rrun prepares every such tree
//! before the clone, with a short-lived user namespace of the same mappings,
//! and the init only moves each tree into place (`move_mount`).

use super::LaunchError;
use nix::errno::Errno;
use oci_spec::runtime::{LinuxIdMapping, Mount};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

const OPEN_TREE_CLONE: libc::c_uint = 1;
const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;
const MOVE_MOUNT_T_EMPTY_PATH: libc::c_uint = 0x40;

fn fail(what: String) -> impl FnOnce(Errno) -> LaunchError {
    move |e| LaunchError::Container { code: 125, msg: format!("{what}: {e}") }
}

/// True for a bind mount asking to be idmapped; `Some(recursive)`.
pub fn wants_idmap(m: &Mount) -> Option<bool> {
    let opts = m.options().as_deref().unwrap_or_default();
    if opts.iter().any(|o| o == "ridmap") {
        Some(true)
    } else if opts.iter().any(|o| o == "idmap") {
        Some(false)
    } else {
        None
    }
}

/// A user namespace with these mappings, held open by its descriptor: a
/// child that makes it and waits, while rrun writes its maps.
fn user_namespace(uids: &[LinuxIdMapping], gids: &[LinuxIdMapping]) -> Result<OwnedFd, LaunchError> {
    let (rd, wr) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(fail("pipe".into()))?;
    // SAFETY: a fork-like clone into a new user namespace; the child only blocks on a read and exits.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (libc::CLONE_NEWUSER | libc::SIGCHLD) as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    if pid < 0 {
        return Err(fail("clone a user namespace for idmapped mounts".into())(Errno::last()));
    }
    if pid == 0 {
        drop(wr);
        let mut b = [0u8; 1];
        let _ = nix::unistd::read(rd.as_raw_fd(), &mut b);
        // SAFETY: ends the helper without running the parent's handlers.
        unsafe { libc::_exit(0) };
    }
    drop(rd);
    let pid = pid as i32;
    let result = (|| {
        for (file, maps) in [("uid_map", uids), ("gid_map", gids)] {
            let text: String =
                maps.iter().map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size())).collect();
            std::fs::write(format!("/proc/{pid}/{file}"), &text).map_err(|e| LaunchError::Container {
                code: 125,
                msg: format!("idmapped mounts: write {file}: {e}"),
            })?;
        }
        std::fs::File::open(format!("/proc/{pid}/ns/user")).map(OwnedFd::from).map_err(|e| LaunchError::Container {
            code: 125,
            msg: format!("idmapped mounts: open the user namespace: {e}"),
        })
    })();
    drop(wr); // the helper reads EOF and exits
    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
    result
}

/// A detached copy of `source`, idmapped through `userns`.
fn idmapped_tree(source: &Path, recursive: bool, userns: &OwnedFd) -> Result<OwnedFd, LaunchError> {
    let c = std::ffi::CString::new(source.as_os_str().as_encoded_bytes())
        .map_err(|_| LaunchError::Spec(format!("mount source {} contains a NUL byte", source.display())))?;
    let mut flags = OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint;
    if recursive {
        flags |= libc::AT_RECURSIVE as libc::c_uint;
    }
    crate::step!(super::steps::IDMAP_TREE, source = %source.display(), recursive, flags = "OPEN_TREE_CLONE", attr = "MOUNT_ATTR_IDMAP");
    // SAFETY: open_tree with a NUL-terminated path; returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, c.as_ptr(), flags) };
    if fd < 0 {
        return Err(fail(format!("open_tree {}", source.display()))(Errno::last()));
    }
    // SAFETY: the kernel just returned this descriptor.
    let tree = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    super::mounts::mount_setattr(&tree, recursive, MOUNT_ATTR_IDMAP, 0, Some(userns.as_raw_fd()))
        .map_err(fail(format!("idmap {} (does its filesystem support idmapped mounts?)", source.display())))?;
    Ok(tree)
}

/// The idmapped trees of a Spec's mounts, by mount index (empty when none asks).
pub fn prepare(
    mounts: &[Mount],
    uids: &[LinuxIdMapping],
    gids: &[LinuxIdMapping],
) -> Result<Vec<(usize, OwnedFd)>, LaunchError> {
    let wanted: Vec<(usize, &Mount, bool)> =
        mounts.iter().enumerate().filter_map(|(i, m)| wants_idmap(m).map(|r| (i, m, r))).collect();
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    if uids.is_empty() || gids.is_empty() {
        return Err(LaunchError::Spec(
            "idmapped mounts need a user namespace with linux.uidMappings and gidMappings".into(),
        ));
    }
    let userns = user_namespace(uids, gids)?;
    let mut out = Vec::new();
    for (i, m, recursive) in wanted {
        let typ = m.typ().as_deref().unwrap_or("bind");
        let opts = m.options().as_deref().unwrap_or_default();
        if typ != "bind" && typ != "none" && !opts.iter().any(|o| o == "bind" || o == "rbind") {
            return Err(LaunchError::Spec(format!(
                "mount {}: only bind mounts can be idmapped",
                m.destination().display()
            )));
        }
        let source = m.source().clone().unwrap_or_default();
        let recursive = recursive || opts.iter().any(|o| o == "rbind");
        out.push((i, idmapped_tree(&source, recursive, &userns)?));
    }
    Ok(out)
}

/// In the container's init: puts a prepared tree on the directory `target`.
pub fn attach(tree: &OwnedFd, target: &OwnedFd) -> nix::Result<()> {
    crate::step!(super::steps::IDMAP_ATTACH, flags = "MOVE_MOUNT_F_EMPTY_PATH|MOVE_MOUNT_T_EMPTY_PATH");
    // SAFETY: move_mount between two descriptors (empty paths on both).
    let rc = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            tree.as_raw_fd(),
            c"".as_ptr(),
            target.as_raw_fd(),
            c"".as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
        )
    };
    if rc < 0 {
        return Err(Errno::last());
    }
    Ok(())
}
