//! The container's filesystem: root propagation, the overlay rootfs, the
//! Spec's mounts, device nodes, masked and read-only paths, pivot_root.
//!
//! Every mount target is resolved inside the rootfs with `openat2(RESOLVE_IN_ROOT)`
//! and mounted through its `/proc/self/fd/N` path, so a symlink planted in an
//! image cannot redirect a mount onto the host.

use super::syscall::Syscall;
use super::{steps, ChildError};
use crate::securefs::{ensure_file_in_root, fd_path, mkdir_all_in_root, open_in_root};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::{MntFlags, MsFlags};
use nix::sys::stat::{Mode, SFlag};
use nix::unistd::symlinkat;
use oci_spec::runtime::{LinuxDeviceType, Mount, Spec};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

pub use crate::rootfs::RootfsSource;

fn sys(op: impl Into<String>) -> impl FnOnce(Errno) -> ChildError {
    let op = op.into();
    move |e| ChildError::setup(format!("{op}: {e}"))
}

/// The flags a `rootfsPropagation` value names (None: unset or empty).
fn root_propagation_flags(value: Option<&str>) -> Result<Option<MsFlags>, ChildError> {
    Ok(Some(match value {
        None | Some("") => return Ok(None),
        Some("rslave") => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        Some("slave") => MsFlags::MS_SLAVE,
        Some("rprivate") => MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        Some("private") => MsFlags::MS_PRIVATE,
        Some("rshared") => MsFlags::MS_SHARED | MsFlags::MS_REC,
        Some("shared") => MsFlags::MS_SHARED,
        Some("runbindable") => MsFlags::MS_UNBINDABLE | MsFlags::MS_REC,
        Some("unbindable") => MsFlags::MS_UNBINDABLE,
        Some(other) => return Err(ChildError::setup(format!("invalid rootfsPropagation {other:?}"))),
    }))
}

/// Sets the propagation of every mount in the new namespace: `rslave` by
/// default, so nothing mounted in the container propagates back to the host,
/// or the Spec's `rootfsPropagation`.
pub fn make_root_private(os: &dyn Syscall, rootfs_propagation: Option<&str>) -> Result<(), ChildError> {
    let flags = match root_propagation_flags(rootfs_propagation)? {
        // an unbindable / could not be bound as the rootfs: that comes after pivot_root
        Some(f) if f.contains(MsFlags::MS_UNBINDABLE) => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        Some(f) => f,
        None => MsFlags::MS_SLAVE | MsFlags::MS_REC,
    };
    crate::step!(steps::MOUNT_PROPAGATION, target = "/", flags = %names(flags));
    os.mount(None, Path::new("/"), None, flags, None).map_err(sys("set the propagation of /"))
}

/// `rootfsPropagation`, applied to the container's `/` once it is the root
/// (as crun and runc 1.2 do): `shared` puts the rootfs in a peer group of its
/// own (runtime-spec config-linux.md). The rootfs was mounted private so that
/// pivot_root accepts it; `private` therefore needs nothing more, and leaves
/// the propagation the Spec's mounts asked for alone.
pub fn apply_root_propagation(os: &dyn Syscall, rootfs_propagation: Option<&str>) -> Result<(), ChildError> {
    let Some(flags) = root_propagation_flags(rootfs_propagation)? else { return Ok(()) };
    if flags.contains(MsFlags::MS_PRIVATE) {
        return Ok(());
    }
    crate::step!(steps::ROOT_PROPAGATION, target = "/", flags = %names(flags));
    os.mount(None, Path::new("/"), None, flags, None).map_err(sys("set rootfsPropagation on /"))
}

/// pivot_root (and MS_MOVE) refuse a new root whose parent mount is shared,
/// and a rootfs mounted under a shared parent would itself be shared: make
/// the mount that holds `target` private (and `/`, which pivot_root checks
/// too) when they are shared, as with `rootfsPropagation: rshared` or a
/// shared host mount. Only those mounts change, not their children.
fn make_parent_private(os: &dyn Syscall, target: &Path) -> Result<(), ChildError> {
    let info = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| ChildError::setup(format!("read /proc/self/mountinfo: {e}")))?;
    let mut parent: Option<(PathBuf, bool)> = None;
    let mut root_shared = false;
    for line in info.lines() {
        let Some((left, _)) = line.split_once(" - ") else { continue };
        let fields: Vec<&str> = left.split(' ').collect();
        let Some(mp) = fields.get(4).map(|m| PathBuf::from(unescape_mountinfo(m))) else { continue };
        let shared = fields.iter().skip(6).any(|f| f.starts_with("shared:"));
        if mp == Path::new("/") {
            root_shared = shared;
        }
        // the last of stacked mounts is the one on top
        if target.starts_with(&mp)
            && parent.as_ref().is_none_or(|(p, _)| mp.components().count() >= p.components().count())
        {
            parent = Some((mp, shared));
        }
    }
    let mut private = Vec::new();
    if root_shared {
        private.push(PathBuf::from("/"));
    }
    if let Some((mp, true)) = parent {
        if mp != Path::new("/") {
            private.push(mp);
        }
    }
    for mp in private {
        crate::step!(steps::PARENT_PRIVATE, target = %mp.display(), flags = "MS_PRIVATE");
        os.mount(None, &mp, None, MsFlags::MS_PRIVATE, None).map_err(sys(format!("make {} private", mp.display())))?;
    }
    Ok(())
}

/// Mount flags as their names (`MS_NOSUID|MS_NODEV`), as a narration shows them.
fn names(flags: MsFlags) -> String {
    let v: Vec<&str> = flags.iter_names().map(|(n, _)| n).collect();
    if v.is_empty() {
        "0".into()
    } else {
        v.join("|")
    }
}

/// A mount point as mountinfo escapes it (`\040` for a space, …).
fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            let digit = |c: u8| u32::from(c - b'0');
            out.push((digit(b[i + 1]) * 64 + digit(b[i + 2]) * 8 + digit(b[i + 3])) as u8);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Opens the rootfs as it is, for a container without a mount namespace of
/// its own (nothing is mounted: it would be mounted on the host).
pub fn open_rootfs(src: &RootfsSource) -> Result<OwnedFd, ChildError> {
    open_dir(src.target())
}

/// Stacks the layers with fuse-overlayfs (rootless, where the kernel's
/// overlayfs is refused or `RRUN_ROOTLESS_OVERLAY=fuse` asks for it): the
/// program mounts, then serves the mount from a daemon of its own, a process of
/// the container's PID namespace that ends with it. Relative lowerdirs are
/// read from the working directory, as the kernel's are.
fn mount_fuse_overlay(data: &str, target: &Path) -> Result<(), ChildError> {
    let program = crate::rootless::fuse_overlayfs()
        .ok_or_else(|| ChildError::setup("the kernel refused overlayfs and fuse-overlayfs is not installed"))?;
    crate::step!(steps::MOUNT_FUSE_OVERLAY, program = %program.display(), target = %target.display(), data = %data);
    let out = std::process::Command::new(&program)
        .arg("-o")
        .arg(data)
        .arg(target)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .output()
        .map_err(|e| ChildError::setup(format!("run {}: {e}", program.display())))?;
    if !out.status.success() {
        return Err(ChildError::setup(format!(
            "fuse-overlayfs on {}: {}",
            target.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

/// The rootfs directory, opened O_PATH.
fn open_dir(target: &Path) -> Result<OwnedFd, ChildError> {
    nix::fcntl::open(target, OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())
        .map(|fd| {
            // SAFETY: open returned a new descriptor that nothing else owns.
            unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) }
        })
        .map_err(sys(format!("open rootfs {}", target.display())))
}

/// What a container without a mount namespace of its own cannot have: each
/// would be a mount in the runtime's (the host's) mount namespace, or a
/// change to the bundle's files. runc and crun make them on the host; rrun
/// refuses them by name.
pub fn check_without_mount_ns(spec: &Spec) -> Result<(), String> {
    let why = "the container has no mount namespace of its own (linux.namespaces has no \"mount\"): \
               it would be done in the runtime's, the host's";
    if let Some(m) = spec.mounts().as_ref().and_then(|m| m.first()) {
        return Err(format!("mounts ({} and the rest): {why}", m.destination().display()));
    }
    let linux = spec.linux().as_ref();
    let non_empty = |v: Option<&Vec<String>>| v.is_some_and(|v| !v.is_empty());
    if non_empty(linux.and_then(|l| l.masked_paths().as_ref())) {
        return Err(format!("linux.maskedPaths: {why}"));
    }
    if non_empty(linux.and_then(|l| l.readonly_paths().as_ref())) {
        return Err(format!("linux.readonlyPaths: {why}"));
    }
    if linux.and_then(|l| l.devices().as_ref()).is_some_and(|d| !d.is_empty()) {
        return Err(format!("linux.devices: {why}"));
    }
    if linux.and_then(|l| l.rootfs_propagation().as_deref()).is_some_and(|p| !p.is_empty()) {
        return Err(format!("linux.rootfsPropagation: {why}"));
    }
    if spec.root().as_ref().and_then(|r| r.readonly()).unwrap_or(false) {
        return Err(format!("root.readonly: {why}"));
    }
    Ok(())
}

/// The host's `/proc/self/fd` directory of the calling process, opened
/// `O_PATH`: its entries stay reachable after the root changes.
pub fn open_own_fd_dir() -> Result<OwnedFd, ChildError> {
    nix::fcntl::open("/proc/self/fd", OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())
        .map(|fd| {
            // SAFETY: open returned a new descriptor that nothing else owns.
            unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) }
        })
        .map_err(sys("open /proc/self/fd"))
}

/// `chroot` into the rootfs: the root of a container without a mount
/// namespace of its own (pivot_root would change the host's).
pub fn chroot_into(os: &dyn Syscall, root: BorrowedFd<'_>) -> Result<(), ChildError> {
    os.fchdir(root).map_err(sys("fchdir rootfs"))?;
    crate::step!(steps::CHROOT, path = ".");
    os.chroot(Path::new(".")).map_err(sys("chroot"))?;
    os.chdir(Path::new("/")).map_err(sys("chdir /"))
}

/// A tmpfs mounted read-only (a read-only `/dev`) must take the device nodes
/// and mount points made in it first: it is mounted writable, and remembered
/// in `later` to be made read-only once everything is in place, as runc does.
pub fn writable_until_the_end(m: &Mount, later: &mut Vec<PathBuf>) -> Mount {
    let opts = m.options().clone().unwrap_or_default();
    if m.typ().as_deref() != Some("tmpfs") || !opts.iter().any(|o| o == "ro") {
        return m.clone();
    }
    later.push(m.destination().clone());
    let mut m = m.clone();
    m.set_options(Some(opts.into_iter().filter(|o| o != "ro").collect()));
    m
}

/// Makes the mounts [`writable_until_the_end`] kept writable read-only.
pub fn remount_readonly(os: &dyn Syscall, root: BorrowedFd<'_>, dests: &[PathBuf]) -> Result<(), ChildError> {
    for d in dests {
        let fd = open_in_root(root, d, OFlag::O_PATH).map_err(sys(format!("reopen {}", d.display())))?;
        crate::step!(steps::REMOUNT_READONLY, target = %d.display(), flags = "MS_REMOUNT|MS_BIND|MS_RDONLY");
        remount_bind(os, &fd_path(&fd), MsFlags::MS_RDONLY)
            .map_err(sys(format!("remount {} read-only", d.display())))?;
    }
    Ok(())
}

/// Mounts the rootfs at its target and opens it.
pub fn mount_rootfs(os: &dyn Syscall, src: &RootfsSource) -> Result<OwnedFd, ChildError> {
    make_parent_private(os, src.target())?;
    match src {
        RootfsSource::Overlay { layers_dir, lowers, upper, work, target } => {
            // relative lowerdirs keep the option string short: the kernel takes one page
            os.chdir(layers_dir).map_err(sys(format!("chdir {}", layers_dir.display())))?;
            let mut data =
                format!("lowerdir={},upperdir={},workdir={}", lowers.join(":"), upper.display(), work.display());
            let rootless = crate::rootless::active().is_some();
            if rootless && crate::rootless::fuse_overlay_wanted() {
                mount_fuse_overlay(&data, target)?;
                return open_dir(target);
            }
            if rootless {
                // a user namespace's overlay keeps its metadata in user.overlay.* xattrs
                data.push_str(",userxattr");
            }
            if data.len() >= 4096 {
                return Err(ChildError::setup(format!(
                    "overlay mount options for {} layers are {} bytes, over the kernel's 4096",
                    lowers.len(),
                    data.len()
                )));
            }
            crate::step!(
                steps::MOUNT_OVERLAY,
                fstype = "overlay",
                target = %target.display(),
                layers = lowers.len(),
                cwd = %layers_dir.display(),
                data = %data
            );
            match os.mount(Some(Path::new("overlay")), target, Some("overlay"), MsFlags::empty(), Some(data.as_str())) {
                // the kernel refuses overlayfs in this user namespace (before 5.11, or by policy)
                Err(Errno::EPERM | Errno::EINVAL | Errno::ENODEV)
                    if rootless && crate::rootless::fuse_overlayfs().is_some() =>
                {
                    let plain = data.trim_end_matches(",userxattr");
                    mount_fuse_overlay(plain, target)?;
                }
                r => r.map_err(sys(format!("mount overlay on {}", target.display())))?,
            }
        }
        RootfsSource::Directory(dir) => {
            crate::step!(steps::BIND_ROOTFS, source = %dir.display(), target = %dir.display(), flags = "MS_BIND|MS_REC");
            os.mount(Some(dir.as_path()), dir, None, MsFlags::MS_BIND | MsFlags::MS_REC, None)
                .map_err(sys(format!("bind rootfs {}", dir.display())))?;
        }
    }
    open_dir(src.target())
}

/// Mount flags and the data string from fstab-style options.
pub fn parse_mount_options(options: &[String]) -> (MsFlags, MsFlags, String) {
    let mut flags = MsFlags::empty();
    let mut propagation = MsFlags::empty();
    let mut data: Vec<&str> = Vec::new();
    for o in options {
        match o.as_str() {
            "ro" => flags |= MsFlags::MS_RDONLY,
            "rw" => flags &= !MsFlags::MS_RDONLY,
            "nosuid" => flags |= MsFlags::MS_NOSUID,
            "suid" => flags &= !MsFlags::MS_NOSUID,
            "nodev" => flags |= MsFlags::MS_NODEV,
            "dev" => flags &= !MsFlags::MS_NODEV,
            "noexec" => flags |= MsFlags::MS_NOEXEC,
            "exec" => flags &= !MsFlags::MS_NOEXEC,
            "sync" => flags |= MsFlags::MS_SYNCHRONOUS,
            "async" => flags &= !MsFlags::MS_SYNCHRONOUS,
            "dirsync" => flags |= MsFlags::MS_DIRSYNC,
            "remount" => flags |= MsFlags::MS_REMOUNT,
            "mand" => flags |= MsFlags::MS_MANDLOCK,
            "nomand" => flags &= !MsFlags::MS_MANDLOCK,
            "atime" => flags &= !MsFlags::MS_NOATIME,
            "noatime" => flags |= MsFlags::MS_NOATIME,
            "diratime" => flags &= !MsFlags::MS_NODIRATIME,
            "nodiratime" => flags |= MsFlags::MS_NODIRATIME,
            "relatime" => flags |= MsFlags::MS_RELATIME,
            "norelatime" => flags &= !MsFlags::MS_RELATIME,
            "strictatime" => flags |= MsFlags::MS_STRICTATIME,
            "nostrictatime" => flags &= !MsFlags::MS_STRICTATIME,
            "bind" => flags |= MsFlags::MS_BIND,
            "rbind" => flags |= MsFlags::MS_BIND | MsFlags::MS_REC,
            "private" => propagation |= MsFlags::MS_PRIVATE,
            "rprivate" => propagation |= MsFlags::MS_PRIVATE | MsFlags::MS_REC,
            "shared" => propagation |= MsFlags::MS_SHARED,
            "rshared" => propagation |= MsFlags::MS_SHARED | MsFlags::MS_REC,
            "slave" => propagation |= MsFlags::MS_SLAVE,
            "rslave" => propagation |= MsFlags::MS_SLAVE | MsFlags::MS_REC,
            "unbindable" => propagation |= MsFlags::MS_UNBINDABLE,
            "runbindable" => propagation |= MsFlags::MS_UNBINDABLE | MsFlags::MS_REC,
            // runc's options that are not mount(2) flags: see `Extras`
            o if Extras::known(o) => {}
            other => data.push(other),
        }
    }
    (flags, propagation, data.join(","))
}

/// runc's mount options beyond mount(2)'s flags: recursive attributes
/// (`rro`, `rnosuid`, …, set on the whole mount tree with mount_setattr),
/// `tmpcopyup` (a tmpfs starts with what the image had there), and idmapped
/// mounts, which rrun refuses clearly (its features say so).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Extras {
    attr_set: u64,
    attr_clr: u64,
    tmpcopyup: bool,
    idmap: bool,
}

const MOUNT_ATTR_RDONLY: u64 = 0x1;
const MOUNT_ATTR_NOSUID: u64 = 0x2;
const MOUNT_ATTR_NODEV: u64 = 0x4;
const MOUNT_ATTR_NOEXEC: u64 = 0x8;
const MOUNT_ATTR_ATIME: u64 = 0x70;
const MOUNT_ATTR_NOATIME: u64 = 0x10;
const MOUNT_ATTR_STRICTATIME: u64 = 0x20;
const MOUNT_ATTR_NODIRATIME: u64 = 0x80;
const MOUNT_ATTR_NOSYMFOLLOW: u64 = 0x0020_0000;

impl Extras {
    fn known(o: &str) -> bool {
        let mut e = Extras::default();
        e.add(o)
    }

    /// Takes one option; false when it is not one of these.
    fn add(&mut self, o: &str) -> bool {
        let (set, clr) = match o {
            "rro" => (MOUNT_ATTR_RDONLY, 0),
            "rrw" => (0, MOUNT_ATTR_RDONLY),
            "rnosuid" => (MOUNT_ATTR_NOSUID, 0),
            "rsuid" => (0, MOUNT_ATTR_NOSUID),
            "rnodev" => (MOUNT_ATTR_NODEV, 0),
            "rdev" => (0, MOUNT_ATTR_NODEV),
            "rnoexec" => (MOUNT_ATTR_NOEXEC, 0),
            "rexec" => (0, MOUNT_ATTR_NOEXEC),
            "rnodiratime" => (MOUNT_ATTR_NODIRATIME, 0),
            "rdiratime" => (0, MOUNT_ATTR_NODIRATIME),
            "rrelatime" => (0, MOUNT_ATTR_ATIME),
            "rnorelatime" | "ratime" => (0, MOUNT_ATTR_ATIME),
            "rnoatime" => (MOUNT_ATTR_NOATIME, MOUNT_ATTR_ATIME),
            "rstrictatime" => (MOUNT_ATTR_STRICTATIME, MOUNT_ATTR_ATIME),
            "rnostrictatime" => (0, MOUNT_ATTR_ATIME),
            "nosymfollow" | "rnosymfollow" => (MOUNT_ATTR_NOSYMFOLLOW, 0),
            "rsymfollow" => (0, MOUNT_ATTR_NOSYMFOLLOW),
            "tmpcopyup" => {
                self.tmpcopyup = true;
                return true;
            }
            "idmap" | "ridmap" => {
                self.idmap = true;
                return true;
            }
            _ => return false,
        };
        self.attr_set = (self.attr_set & !clr) | set;
        self.attr_clr |= clr;
        true
    }

    pub fn parse(options: &[String]) -> Extras {
        let mut e = Extras::default();
        for o in options {
            e.add(o);
        }
        e
    }
}

/// `struct mount_attr` of mount_setattr(2).
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// mount_setattr(2) on the mount (tree, with `recursive`) a descriptor names.
pub(super) fn mount_setattr(
    target: &OwnedFd,
    recursive: bool,
    set: u64,
    clr: u64,
    userns_fd: Option<i32>,
) -> nix::Result<()> {
    let attr = MountAttr { attr_set: set, attr_clr: clr, propagation: 0, userns_fd: userns_fd.unwrap_or(0) as u64 };
    let mut at = libc::AT_EMPTY_PATH as libc::c_uint;
    if recursive {
        at |= libc::AT_RECURSIVE as libc::c_uint;
    }
    if userns_fd.is_none() {
        // (an idmapped tree is narrated by idmap.rs, which asks for it)
        crate::step!(steps::MOUNT_SETATTR, set = %format!("{set:#x}"), clear = %format!("{clr:#x}"), recursive);
    }
    // SAFETY: mount_setattr on a descriptor (AT_EMPTY_PATH) with a mount_attr of the size given.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            target.as_raw_fd(),
            c"".as_ptr(),
            at,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if rc < 0 {
        return Err(Errno::last());
    }
    Ok(())
}

/// Copies a directory tree (files, directories, symlinks; modes and owners).
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let src = entry.path();
        let dst = to.join(entry.file_name());
        let meta = std::fs::symlink_metadata(&src)?;
        let ft = meta.file_type();
        if ft.is_dir() {
            std::fs::create_dir(&dst)?;
            copy_tree(&src, &dst)?;
        } else if ft.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&src)?, &dst)?;
        } else if ft.is_file() {
            std::fs::copy(&src, &dst)?;
        } else {
            continue; // devices, fifos and sockets are not copied up, as with runc
        }
        std::os::unix::fs::lchown(&dst, Some(meta.uid()), Some(meta.gid()))?;
        if !ft.is_symlink() {
            std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(meta.mode() & 0o7777))?;
        }
    }
    Ok(())
}

/// `tmpcopyup`: the tmpfs is mounted aside (in this mount namespace only),
/// filled with what the image has at the destination, then moved over it.
fn mount_tmpfs_copied_up(os: &dyn Syscall, target: &OwnedFd, flags: MsFlags, data: Option<&str>) -> Result<(), String> {
    // a name of its own: in its new PID namespace every container's init is PID 1
    let aside = std::env::temp_dir().join(format!("rrun-tmpcopyup-{}", &crate::digest::random_hex()[..16]));
    std::fs::create_dir_all(&aside).map_err(|e| format!("create {}: {e}", aside.display()))?;
    let result = (|| {
        os.mount(Some(Path::new("tmpfs")), &aside, Some("tmpfs"), flags, data)
            .map_err(|e| format!("mount tmpfs: {e}"))?;
        copy_tree(&fd_path(target), &aside).map_err(|e| format!("copy up: {e}"))?;
        os.mount(Some(aside.as_path()), &fd_path(target), None, MsFlags::MS_MOVE, None)
            .map_err(|e| format!("move the tmpfs into place: {e}"))
    })();
    if result.is_err() {
        let _ = os.umount2(&aside, MntFlags::MNT_DETACH);
    }
    let _ = std::fs::remove_dir(&aside);
    result
}

/// Performs one Spec mount inside the rootfs. `bind_cgroups`: a `cgroup`
/// mount shows the container's own cgroups by bind mounts (no cgroup
/// namespace of its own, or a user namespace that may not mount cgroupfs).
/// `idmapped`: the source tree, already idmapped by rrun, to move into place.
pub fn mount_one(
    os: &dyn Syscall,
    root: BorrowedFd<'_>,
    m: &Mount,
    bind_cgroups: bool,
    idmapped: Option<&OwnedFd>,
    opened_source: Option<&OwnedFd>,
    mount_label: Option<&str>,
) -> Result<(), ChildError> {
    let dest = m.destination();
    let typ = m.typ().as_deref().unwrap_or("");
    if typ == "cgroup" || typ == "cgroup2" {
        return mount_cgroups(os, root, m, bind_cgroups);
    }
    let options = m.options().clone().unwrap_or_default();
    let (flags, propagation, data) = parse_mount_options(&options);
    let data = super::lsm::mount_data(&data, typ, mount_label);
    let extras = Extras::parse(&options);
    let is_bind = typ == "bind" || flags.contains(MsFlags::MS_BIND);
    let source = m.source().clone().unwrap_or_else(|| PathBuf::from(typ));
    let ctx = |what: &str| format!("mount {} on {}: {what}", source.display(), dest.display());
    if extras.idmap && idmapped.is_none() {
        return Err(ChildError::setup(ctx("an idmapped mount was not prepared")));
    }

    // the source as rrun opened it for a user namespace's init, else as named
    let from = super::mount_sources::source_path(&source, opened_source);
    // a bind of a file needs a file to mount on; everything else a directory
    let source_is_file = is_bind && std::fs::metadata(&from).map(|md| !md.is_dir()).unwrap_or(false);
    if is_bind && !from.exists() {
        return Err(ChildError::setup(ctx("the source does not exist")));
    }
    if matches!(typ, "proc" | "sysfs") {
        // the kernel's own views must sit where they claim to: a symlink planted in the image
        // could move them and leave a fake /proc to be trusted later (CVE-2019-16884, -19921)
        let rel = dest.strip_prefix("/").unwrap_or(dest);
        match crate::securefs::open_beneath(root, rel, OFlag::O_PATH | OFlag::O_DIRECTORY) {
            Err(Errno::ELOOP) | Err(Errno::EXDEV) => {
                return Err(ChildError::setup(ctx("the mount point is a symlink in the image, refused")))
            }
            _ => {}
        }
    }
    let target = if source_is_file {
        ensure_file_in_root(root, dest).map_err(sys(ctx("create mount point")))?
    } else {
        mkdir_all_in_root(root, dest, 0o755).map_err(sys(ctx("create mount point")))?
    };
    let target_path = fd_path(&target);
    if is_bind {
        match idmapped {
            Some(tree) => super::idmap::attach(tree, &target).map_err(sys(ctx("move the idmapped tree")))?,
            None => {
                crate::step!(steps::BIND_MOUNT, source = %source.display(), target = %dest.display(), flags = %names(flags & MsFlags::MS_REC | MsFlags::MS_BIND));
                os.mount(Some(from.as_path()), &target_path, None, MsFlags::MS_BIND | (flags & MsFlags::MS_REC), None)
                    .map_err(sys(ctx("bind")))?;
            }
        }
        // bind ignores other flags: apply them with a remount of the new mount point
        let extra = flags & !(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
        if !extra.is_empty() {
            crate::step!(steps::REMOUNT, target = %dest.display(), flags = %names(extra | MsFlags::MS_REMOUNT | MsFlags::MS_BIND));
            let mounted = open_in_root(root, dest, OFlag::O_PATH).map_err(sys(ctx("reopen")))?;
            remount_bind(os, &fd_path(&mounted), extra).map_err(sys(ctx("remount with options")))?;
        }
    } else {
        let data = (!data.is_empty()).then_some(data.as_str());
        if extras.tmpcopyup && typ == "tmpfs" {
            crate::step!(steps::TMPCOPYUP, target = %dest.display(), flags = %names(flags), data = data.unwrap_or(""));
            mount_tmpfs_copied_up(os, &target, flags, data).map_err(|e| ChildError::setup(ctx(&e)))?;
        } else {
            crate::step!(
                steps::MOUNT,
                source = %source.display(),
                target = %dest.display(),
                fstype = typ,
                flags = %names(flags),
                data = data.unwrap_or("")
            );
            match os.mount(Some(source.as_path()), &target_path, Some(typ), flags, data) {
                Ok(()) => {}
                // sysfs cannot be mounted without owning the network namespace: bind the host's instead
                Err(Errno::EPERM) if typ == "sysfs" => {
                    crate::step!(steps::BIND_MOUNT, source = "/sys", target = %dest.display(), flags = "MS_BIND|MS_REC");
                    os.mount(Some(Path::new("/sys")), &target_path, None, MsFlags::MS_BIND | MsFlags::MS_REC, None)
                        .map_err(sys(ctx("bind /sys")))?;
                    let mounted = open_in_root(root, dest, OFlag::O_PATH).map_err(sys(ctx("reopen")))?;
                    remount_bind(os, &fd_path(&mounted), flags).map_err(sys(ctx("remount")))?;
                }
                Err(e) => return Err(sys(ctx("mount"))(e)),
            }
        }
        if typ == "proc" {
            let mounted = open_in_root(root, dest, OFlag::O_PATH | OFlag::O_DIRECTORY).map_err(sys(ctx("reopen")))?;
            verify_procfs(os, &mounted).map_err(|e| ChildError::setup(ctx(&e)))?;
        }
    }
    if !propagation.is_empty() {
        let mounted = open_in_root(root, dest, OFlag::O_PATH).map_err(sys(ctx("reopen")))?;
        os.mount(None, &fd_path(&mounted), None, propagation, None).map_err(sys(ctx("set propagation")))?;
    }
    if extras.attr_set != 0 || extras.attr_clr != 0 {
        let mounted = open_in_root(root, dest, OFlag::O_PATH).map_err(sys(ctx("reopen")))?;
        mount_setattr(&mounted, true, extras.attr_set, extras.attr_clr, None).map_err(sys(ctx("mount_setattr")))?;
    }
    Ok(())
}

/// The calling process's cgroup in each hierarchy: controllers (as
/// `/proc/self/cgroup` lists them, `""` for v2) → path.
fn own_cgroups() -> Vec<(String, String)> {
    std::fs::read_to_string("/proc/self/cgroup")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut p = l.splitn(3, ':');
            let (_, ctrls, path) = (p.next()?, p.next()?, p.next()?);
            Some((ctrls.to_string(), path.to_string()))
        })
        .collect()
}

/// A `cgroup` mount. With a cgroup namespace of its own, the host's cgroup
/// filesystems mounted afresh, which show the container's cgroup as their
/// root; otherwise (`bind`) a bind of the container's own cgroup directory in
/// each. On a v2 host one `cgroup2`; on v1 or hybrid a tmpfs with each
/// hierarchy the host has (same controllers, same names), as runc lays it out.
fn mount_cgroups(os: &dyn Syscall, root: BorrowedFd<'_>, m: &Mount, bind: bool) -> Result<(), ChildError> {
    let dest = m.destination();
    let (flags, _, _) = parse_mount_options(&m.options().clone().unwrap_or_default());
    let flags = flags
        & (MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC | MsFlags::MS_RELATIME);
    let ctx = |what: &str| format!("mount cgroups on {}: {what}", dest.display());
    let info = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| ChildError::setup(ctx(&format!("read mountinfo: {e}"))))?;
    // (name under /sys/fs/cgroup, fstype, the controllers or name= of a v1 hierarchy)
    let mut host: Vec<(String, String, String)> = Vec::new();
    for line in info.lines() {
        let Some((left, right)) = line.split_once(" - ") else { continue };
        let mp = left.split(' ').nth(4).unwrap_or("");
        let mut r = right.split(' ');
        let (fstype, _, opts) = (r.next().unwrap_or(""), r.next(), r.next().unwrap_or(""));
        if fstype != "cgroup" && fstype != "cgroup2" {
            continue;
        }
        let sub = match mp.strip_prefix("/sys/fs/cgroup") {
            Some(rest) => rest.trim_start_matches('/').to_string(),
            None => continue,
        };
        let keep: Vec<&str> = opts
            .split(',')
            .filter(|o| !matches!(*o, "rw" | "ro" | "nsdelegate" | "xattr" | "relatime" | "memory_recursiveprot"))
            .collect();
        host.push((sub, fstype.to_string(), keep.join(",")));
    }
    let target = mkdir_all_in_root(root, dest, 0o755).map_err(sys(ctx("create the mount point")))?;
    let own = if bind { own_cgroups() } else { Vec::new() };
    // the container's directory in the hierarchy mounted at /sys/fs/cgroup/<sub> with these options
    let own_dir = |sub: &str, fstype: &str, opts: &str| -> Option<PathBuf> {
        let want: std::collections::BTreeSet<&str> =
            if fstype == "cgroup2" { Default::default() } else { opts.split(',').filter(|o| !o.is_empty()).collect() };
        let (_, path) = own
            .iter()
            .find(|(c, _)| c.split(',').filter(|o| !o.is_empty()).collect::<std::collections::BTreeSet<_>>() == want)?;
        // the hierarchy's root is the host's, not the container's
        if path == "/" {
            return None;
        }
        Some(Path::new("/sys/fs/cgroup").join(sub).join(path.trim_start_matches('/')))
    };
    let bind_one = |source: &Path,
                    at: &OwnedFd,
                    in_root: &Path,
                    what: &str,
                    extra: MsFlags|
     -> Result<(), ChildError> {
        crate::step!(steps::MOUNT_CGROUPS, source = %source.display(), target = %in_root.display(), flags = "MS_BIND");
        os.mount(Some(source), &fd_path(at), None, MsFlags::MS_BIND, None).map_err(sys(ctx(what)))?;
        // the remount needs the new mount, not the directory it covers
        let mounted = open_in_root(root, in_root, OFlag::O_PATH).map_err(sys(ctx(what)))?;
        remount_bind(os, &fd_path(&mounted), flags | extra).map_err(sys(ctx(what)))
    };
    if let Some((_, _, _)) = host.iter().find(|(sub, t, _)| sub.is_empty() && t == "cgroup2") {
        if bind {
            let source = own_dir("", "cgroup2", "")
                .ok_or_else(|| ChildError::setup(ctx("no cgroup2 path in /proc/self/cgroup")))?;
            return bind_one(&source, &target, dest, "bind the cgroup2 directory", MsFlags::empty());
        }
        crate::step!(steps::MOUNT_CGROUPS, source = "cgroup2", target = %dest.display(), fstype = "cgroup2", flags = %names(flags));
        return os
            .mount(Some(Path::new("cgroup2")), &fd_path(&target), Some("cgroup2"), flags, None)
            .map_err(sys(ctx("cgroup2")));
    }
    crate::step!(
        steps::MOUNT_CGROUPS,
        source = "tmpfs",
        target = %dest.display(),
        fstype = "tmpfs",
        flags = %names(flags & !MsFlags::MS_RDONLY),
        data = "mode=755"
    );
    os.mount(Some(Path::new("tmpfs")), &fd_path(&target), Some("tmpfs"), flags & !MsFlags::MS_RDONLY, Some("mode=755"))
        .map_err(sys(ctx("tmpfs")))?;
    for (sub, fstype, opts) in host.iter().filter(|(sub, _, _)| !sub.is_empty() && !sub.contains('/')) {
        let path = dest.join(sub);
        let dir = mkdir_all_in_root(root, &path, 0o755).map_err(sys(ctx(&format!("mkdir {sub}"))))?;
        if bind {
            match own_dir(sub, fstype, opts).filter(|p| p.is_dir()) {
                Some(source) => {
                    bind_one(&source, &dir, &path, &format!("bind {}", source.display()), MsFlags::empty())?
                }
                // a hierarchy the container has no directory of its own in: its root, read-only
                None => bind_one(
                    &Path::new("/sys/fs/cgroup").join(sub),
                    &dir,
                    &path,
                    &format!("bind {sub}"),
                    MsFlags::MS_RDONLY,
                )?,
            }
            continue;
        }
        let data =
            if fstype == "cgroup" && !opts.contains("name=") && opts.is_empty() { None } else { Some(opts.as_str()) };
        crate::step!(steps::MOUNT_CGROUPS, source = %fstype, target = %path.display(), fstype = %fstype, data = %opts);
        os.mount(
            Some(Path::new(fstype.as_str())),
            &fd_path(&dir),
            Some(fstype.as_str()),
            flags,
            data.filter(|d| !d.is_empty()),
        )
        .map_err(sys(ctx(&format!("{fstype} {sub} ({opts})"))))?;
    }
    if flags.contains(MsFlags::MS_RDONLY) {
        let mounted = open_in_root(root, dest, OFlag::O_PATH).map_err(sys(ctx("reopen")))?;
        os.mount(
            None,
            &fd_path(&mounted),
            None,
            MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | (flags & !MsFlags::MS_RDONLY),
            Some("mode=755"),
        )
        .map_err(sys(ctx("remount the tmpfs read-only")))?;
    }
    Ok(())
}

/// True procfs, not something mounted or planted in its place.
pub fn verify_procfs(os: &dyn Syscall, fd: &OwnedFd) -> Result<(), String> {
    if !os.is_procfs(fd.as_fd()).map_err(|e| format!("fstatfs: {e}"))? {
        let st = nix::sys::statfs::fstatfs(fd).map_err(|e| format!("fstatfs: {e}"))?;
        return Err(format!("not a procfs (filesystem type {:#x})", st.filesystem_type().0));
    }
    Ok(())
}

fn remount_bind(os: &dyn Syscall, target: &Path, flags: MsFlags) -> nix::Result<()> {
    // the kernel refuses to drop a lock flag the mount already has: keep the existing ones
    let existing = statvfs_flags(target);
    os.mount(None, target, None, MsFlags::MS_REMOUNT | MsFlags::MS_BIND | flags | existing, None)
}

fn statvfs_flags(target: &Path) -> MsFlags {
    use nix::sys::statvfs::{statvfs, FsFlags};
    let Ok(st) = statvfs(target) else {
        return MsFlags::empty();
    };
    let f = st.flags();
    let mut out = MsFlags::empty();
    for (fs, ms) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_RDONLY, MsFlags::MS_RDONLY),
    ] {
        if f.contains(fs) {
            out |= ms;
        }
    }
    out
}

/// The device nodes every container gets (runtime-spec "default devices"),
/// plus the Spec's own, and the standard /dev symlinks.
pub fn create_devices(os: &dyn Syscall, root: BorrowedFd<'_>, spec: &Spec) -> Result<(), ChildError> {
    let dev = mkdir_all_in_root(root, Path::new("/dev"), 0o755).map_err(sys("open /dev"))?;
    let mut nodes: Vec<(PathBuf, SFlag, u64, u64, u32, u32, u32)> =
        [("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0)]
            .into_iter()
            .map(|(n, ma, mi)| (PathBuf::from("/dev").join(n), SFlag::S_IFCHR, ma, mi, 0o666, 0, 0))
            .collect();
    for d in spec.linux().as_ref().and_then(|l| l.devices().clone()).unwrap_or_default() {
        let kind = match d.typ() {
            LinuxDeviceType::C | LinuxDeviceType::U => SFlag::S_IFCHR,
            LinuxDeviceType::B => SFlag::S_IFBLK,
            LinuxDeviceType::P => SFlag::S_IFIFO,
            LinuxDeviceType::A => continue,
        };
        nodes.push((
            d.path().clone(),
            kind,
            d.major() as u64,
            d.minor() as u64,
            d.file_mode().unwrap_or(0o666),
            d.uid().unwrap_or(0),
            d.gid().unwrap_or(0),
        ));
    }
    for (path, kind, major, minor, mode, uid, gid) in nodes {
        let parent = path.parent().unwrap_or(Path::new("/dev"));
        let name =
            path.file_name().ok_or_else(|| ChildError::setup(format!("device path {} has no name", path.display())))?;
        let dir = mkdir_all_in_root(root, parent, 0o755).map_err(sys(format!("create {}", parent.display())))?;
        let _ = nix::unistd::unlinkat(Some(dir.as_raw_fd()), name, nix::unistd::UnlinkatFlags::NoRemoveDir);
        crate::step!(
            steps::MKNOD,
            path = %path.display(),
            kind = if kind == SFlag::S_IFBLK { "b" } else if kind == SFlag::S_IFIFO { "p" } else { "c" },
            major,
            minor,
            mode = %format!("{mode:o}")
        );
        match os.mknodat(
            dir.as_fd(),
            Path::new(name),
            kind,
            Mode::from_bits_truncate(mode),
            libc::makedev(major as u32, minor as u32),
        ) {
            Ok(()) => {
                let node = open_in_root(root, &path, OFlag::O_PATH).map_err(sys(format!("open {}", path.display())))?;
                os.chown(&fd_path(&node), nix::unistd::Uid::from_raw(uid), nix::unistd::Gid::from_raw(gid))
                    .map_err(sys(format!("chown {}", path.display())))?;
                os.chmod(&fd_path(&node), Mode::from_bits_truncate(mode))
                    .map_err(sys(format!("chmod {}", path.display())))?;
            }
            // without CAP_MKNOD (a user namespace): bind the host's node instead
            Err(Errno::EPERM) => {
                let target = ensure_file_in_root(root, &path).map_err(sys(format!("create {}", path.display())))?;
                crate::step!(steps::BIND_MOUNT, source = %path.display(), target = %path.display(), flags = "MS_BIND");
                os.mount(Some(path.as_path()), &fd_path(&target), None, MsFlags::MS_BIND, None)
                    .map_err(sys(format!("bind {}", path.display())))?;
            }
            Err(e) => return Err(sys(format!("mknod {}", path.display()))(e)),
        }
    }
    crate::step!(
        steps::DEV_SYMLINKS,
        links = "fd→/proc/self/fd stdin→/proc/self/fd/0 stdout→/proc/self/fd/1 stderr→/proc/self/fd/2 core→/proc/kcore ptmx→pts/ptmx"
    );
    for (link, target) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("core", "/proc/kcore"),
        ("ptmx", "pts/ptmx"),
    ] {
        if link == "ptmx" {
            let _ = nix::unistd::unlinkat(Some(dev.as_raw_fd()), link, nix::unistd::UnlinkatFlags::NoRemoveDir);
        }
        match symlinkat(target, Some(dev.as_raw_fd()), link) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(sys(format!("symlink /dev/{link}"))(e)),
        }
    }
    Ok(())
}

/// Hides `masked` paths (a bind of /dev/null, or an empty read-only tmpfs for
/// directories) and makes `readonly` paths read-only.
pub fn mask_and_protect(
    os: &dyn Syscall,
    root: BorrowedFd<'_>,
    masked: &[String],
    readonly: &[String],
) -> Result<(), ChildError> {
    for p in masked {
        let fd = match open_in_root(root, Path::new(p), OFlag::O_PATH) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => continue,
            Err(e) => return Err(sys(format!("open masked path {p}"))(e)),
        };
        let is_dir =
            nix::sys::stat::fstat(fd.as_raw_fd()).map(|s| s.st_mode & libc::S_IFMT == libc::S_IFDIR).unwrap_or(false);
        crate::step!(steps::MASK_PATH, path = %p, with = if is_dir { "an empty read-only tmpfs" } else { "/dev/null" });
        let r = if is_dir {
            os.mount(Some(Path::new("tmpfs")), &fd_path(&fd), Some("tmpfs"), MsFlags::MS_RDONLY, Some("size=0k"))
        } else {
            os.mount(Some(Path::new("/dev/null")), &fd_path(&fd), None, MsFlags::MS_BIND, None)
        };
        r.map_err(sys(format!("mask {p}")))?;
    }
    for p in readonly {
        let fd = match open_in_root(root, Path::new(p), OFlag::O_PATH) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => continue,
            Err(e) => return Err(sys(format!("open read-only path {p}"))(e)),
        };
        crate::step!(steps::READONLY_PATH, path = %p, flags = "MS_BIND|MS_REMOUNT|MS_RDONLY|MS_NOSUID|MS_NODEV|MS_NOEXEC");
        os.mount(Some(fd_path(&fd).as_path()), &fd_path(&fd), None, MsFlags::MS_BIND | MsFlags::MS_REC, None)
            .map_err(sys(format!("bind read-only path {p}")))?;
        let mounted = open_in_root(root, Path::new(p), OFlag::O_PATH).map_err(sys(format!("reopen {p}")))?;
        remount_bind(
            os,
            &fd_path(&mounted),
            MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        )
        .map_err(sys(format!("remount {p} read-only")))?;
    }
    Ok(())
}

/// Makes the rootfs `/` and detaches the old root, so no host path stays reachable.
pub fn pivot_into(os: &dyn Syscall, root: BorrowedFd<'_>) -> Result<(), ChildError> {
    let old_root = nix::fcntl::open("/", OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(sys("open the old root"))?;
    // SAFETY: open returned a new descriptor that nothing else owns.
    let old_root = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(old_root) };
    os.fchdir(root).map_err(sys("fchdir rootfs"))?;
    crate::step!(steps::PIVOT_ROOT, new_root = ".", put_old = ".");
    os.pivot_root(Path::new("."), Path::new(".")).map_err(sys("pivot_root"))?;
    // the old root is now stacked on the new one, and "." is still the new root: step
    // onto the old one, so that making it rslave (the detach must not propagate to the
    // host) leaves the propagation of the container's own mounts as the Spec set it
    os.fchdir(old_root.as_fd()).map_err(sys("fchdir the old root"))?;
    os.mount(None, Path::new("."), None, MsFlags::MS_SLAVE | MsFlags::MS_REC, None)
        .map_err(sys("make old root rslave"))?;
    crate::step!(steps::DETACH_OLD_ROOT, target = "the old root", flags = "MNT_DETACH");
    os.umount2(Path::new("."), MntFlags::MNT_DETACH).map_err(sys("detach old root"))?;
    os.chdir(Path::new("/")).map_err(sys("chdir /"))
}

/// `--no-pivot`: move the rootfs onto `/` and chroot into it, for roots that
/// cannot be pivoted (an initramfs). The host's root stays underneath, so
/// pivot_root is the default. Its full procfs and sysfs mounts go first (or
/// are covered where they cannot be unmounted): while the mount namespace
/// holds one, the kernel would let the container mount a procfs of its own
/// that shows what its masked paths hide, and a process that escapes the
/// chroot would find the host's /proc there.
pub fn move_root_into(os: &dyn Syscall, root: BorrowedFd<'_>, rootfs: &Path) -> Result<(), ChildError> {
    hide_host_proc_and_sys(os, rootfs)?;
    os.fchdir(root).map_err(sys("fchdir rootfs"))?;
    crate::step!(steps::MOVE_ROOT, source = %rootfs.display(), target = "/", flags = "MS_MOVE");
    os.mount(Some(Path::new(".")), Path::new("/"), None, MsFlags::MS_MOVE, None).map_err(sys("move rootfs to /"))?;
    os.chroot(Path::new(".")).map_err(sys("chroot"))?;
    os.chdir(Path::new("/")).map_err(sys("chdir /"))
}

/// The host's procfs and sysfs mounts of this (the container's) mount
/// namespace outside the rootfs: unmounted, or covered by an empty tmpfs.
fn hide_host_proc_and_sys(os: &dyn Syscall, rootfs: &Path) -> Result<(), ChildError> {
    let info = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| ChildError::setup(format!("read /proc/self/mountinfo: {e}")))?;
    let mut hide: Vec<PathBuf> = Vec::new();
    for line in info.lines() {
        let Some((left, right)) = line.split_once(" - ") else { continue };
        let f: Vec<&str> = left.split(' ').collect();
        let fstype = right.split(' ').next().unwrap_or("");
        if f.len() < 5 || f[3] != "/" || !matches!(fstype, "proc" | "sysfs") {
            continue;
        }
        let mp = PathBuf::from(unescape_mountinfo(f[4]));
        if !mp.starts_with(rootfs) {
            hide.push(mp);
        }
    }
    // the deepest first: unmounting a parent takes its children along
    hide.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for mp in hide {
        // so that the detach does not reach the host's peers; gone already (EINVAL, ENOENT): nothing to do
        match os.mount(None, &mp, None, MsFlags::MS_SLAVE | MsFlags::MS_REC, None) {
            Ok(()) | Err(Errno::EINVAL) | Err(Errno::ENOENT) => {}
            Err(e) => return Err(sys(format!("make {} rslave", mp.display()))(e)),
        }
        crate::step!(steps::HIDE_HOST_PROC, target = %mp.display(), flags = "MNT_DETACH");
        match os.umount2(&mp, MntFlags::MNT_DETACH) {
            Ok(()) | Err(Errno::ENOENT) => {}
            // locked (a user namespace) or gone with its parent: cover what is still there
            Err(Errno::EINVAL) | Err(Errno::EPERM) => {
                if mp.exists() {
                    os.mount(Some(Path::new("tmpfs")), &mp, Some("tmpfs"), MsFlags::MS_RDONLY, Some("size=0k"))
                        .map_err(sys(format!("cover {}", mp.display())))?;
                }
            }
            Err(e) => return Err(sys(format!("unmount {}", mp.display()))(e)),
        }
    }
    Ok(())
}

/// `readonlyRootfs`: remount `/` read-only after every other mount is in place.
pub fn make_root_readonly(os: &dyn Syscall) -> Result<(), ChildError> {
    crate::step!(steps::READONLY_ROOT, target = "/", flags = "MS_REMOUNT|MS_BIND|MS_RDONLY");
    remount_bind(os, Path::new("/"), MsFlags::MS_RDONLY).map_err(sys("remount / read-only"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_split_into_flags_propagation_and_data() {
        let opts: Vec<String> =
            ["nosuid", "noexec", "mode=755", "size=65536k", "rprivate", "ro"].map(String::from).to_vec();
        let (flags, prop, data) = parse_mount_options(&opts);
        assert!(flags.contains(MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_RDONLY));
        assert_eq!(prop, MsFlags::MS_PRIVATE | MsFlags::MS_REC);
        assert_eq!(data, "mode=755,size=65536k");
        let (flags, _, _) = parse_mount_options(&["rbind".to_string(), "rw".to_string()]);
        let runc: Vec<String> = ["rro", "tmpcopyup", "rnosuid", "size=1m"].map(String::from).to_vec();
        let (_, _, data) = parse_mount_options(&runc);
        assert_eq!(data, "size=1m", "runc-only options never reach the kernel as data");
        let e = Extras::parse(&runc);
        assert!(e.tmpcopyup && !e.idmap);
        assert_eq!(e.attr_set, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID);
        assert_eq!(flags, MsFlags::MS_BIND | MsFlags::MS_REC);
    }

    #[test]
    fn mountinfo_paths_are_unescaped() {
        assert_eq!(unescape_mountinfo("/mnt/a\\040b"), "/mnt/a b");
        assert_eq!(unescape_mountinfo("/x\\011y\\134"), "/x\ty\\");
        assert_eq!(unescape_mountinfo("/plain\\04"), "/plain\\04");
    }

    #[test]
    fn root_propagation_values() {
        assert_eq!(root_propagation_flags(None).unwrap(), None);
        assert_eq!(root_propagation_flags(Some("")).unwrap(), None);
        assert_eq!(root_propagation_flags(Some("rshared")).unwrap(), Some(MsFlags::MS_SHARED | MsFlags::MS_REC));
        assert_eq!(root_propagation_flags(Some("slave")).unwrap(), Some(MsFlags::MS_SLAVE));
        assert!(root_propagation_flags(Some("sideways")).is_err());
    }
}
