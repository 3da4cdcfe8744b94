//! Docker's volume copy-up: an empty volume mounted where the image has
//! content first receives a copy of it — files, directories, symlinks,
//! hardlinks, device nodes and fifos, with owners, modes, times and extended
//! attributes. Done by the init, as root, once the rootfs is mounted and
//! before the volume is bound over it.
//!
//! Both trees are walked through directory descriptors with `*at` calls and
//! `O_NOFOLLOW`, so a symlink in either cannot redirect a read or a write.

use super::ChildError;
use crate::securefs::open_in_root;
use nix::errno::Errno;
use nix::fcntl::{openat, OFlag};
use nix::sys::stat::{fstatat, mkdirat, mknodat, FileStat, Mode, SFlag};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchownat, linkat, symlinkat, Gid, Uid};
use oci_spec::runtime::Mount;
use std::collections::HashMap;
use std::ffi::{CString, OsString};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use tracing::debug;

/// Fills the (empty) source directory of the bind mount `m` with what the
/// image has at its destination. Nothing happens when the source already
/// has entries or the image has no directory there.
pub fn fill_empty_volume(root: BorrowedFd<'_>, m: &Mount) -> Result<(), ChildError> {
    let Some(source) = m.source().as_deref() else { return Ok(()) };
    let dest = m.destination();
    let fail = |what: String| {
        ChildError::setup(format!("copy the image's {} into {}: {what}", dest.display(), source.display()))
    };
    let to = open_dir(None, source).map_err(|e| fail(format!("open the volume: {e}")))?;
    if std::fs::read_dir(fd_path(&to)).map_err(|e| fail(e.to_string()))?.next().is_some() {
        return Ok(());
    }
    let from = match open_in_root(root, dest, OFlag::O_RDONLY | OFlag::O_DIRECTORY) {
        Ok(fd) => fd,
        // nothing in the image there (or not a directory): nothing to copy
        Err(Errno::ENOENT) | Err(Errno::ENOTDIR) => return Ok(()),
        Err(e) => return Err(fail(format!("open in the image: {e}"))),
    };
    crate::step!(super::steps::VOLUME_COPY_UP, from = %dest.display(), to = %source.display());
    let mut copier = Copier { to_root: to.as_raw_fd(), links: HashMap::new() };
    copier.dir(&from, &to, Path::new("")).map_err(&fail)?;
    // the volume takes the owner and mode of the image's directory, as Docker's does
    let st = nix::sys::stat::fstat(from.as_raw_fd()).map_err(|e| fail(format!("stat: {e}")))?;
    finish(&from, &to, &st).map_err(fail)
}

fn fd_path(fd: &OwnedFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

fn own(fd: RawFd) -> OwnedFd {
    // SAFETY: the caller passes a descriptor it just opened and owns.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

fn open_dir(dir: Option<RawFd>, name: &Path) -> nix::Result<OwnedFd> {
    openat(dir, name, OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC, Mode::empty())
        .map(own)
}

struct Copier {
    to_root: RawFd,
    /// Files with several links already copied: (dev, ino) → their path in the volume.
    links: HashMap<(u64, u64), PathBuf>,
}

impl Copier {
    /// Copies the entries of `from` into `to`; `rel` is `to`'s path in the volume.
    fn dir(&mut self, from: &OwnedFd, to: &OwnedFd, rel: &Path) -> Result<(), String> {
        let names: Vec<OsString> = std::fs::read_dir(fd_path(from))
            .map_err(|e| format!("read {}: {e}", rel.display()))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<_, _>>()
            .map_err(|e| format!("read {}: {e}", rel.display()))?;
        for name in names {
            let name = Path::new(&name);
            let path = rel.join(name);
            self.entry(from, to, name, &path).map_err(|e| format!("{}: {e}", path.display()))?;
        }
        Ok(())
    }

    fn entry(&mut self, from: &OwnedFd, to: &OwnedFd, name: &Path, rel: &Path) -> Result<(), String> {
        let (f, t) = (from.as_raw_fd(), to.as_raw_fd());
        let st = fstatat(Some(f), name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW).map_err(|e| format!("stat: {e}"))?;
        let kind = SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits());
        match kind {
            SFlag::S_IFDIR => {
                mkdirat(Some(t), name, Mode::from_bits_truncate(0o700)).map_err(|e| format!("mkdir: {e}"))?;
                let sub_from = open_dir(Some(f), name).map_err(|e| format!("open: {e}"))?;
                let sub_to = open_dir(Some(t), name).map_err(|e| format!("open the copy: {e}"))?;
                self.dir(&sub_from, &sub_to, rel)?;
                finish(&sub_from, &sub_to, &st)
            }
            SFlag::S_IFREG => {
                let key = (st.st_dev, st.st_ino);
                if st.st_nlink > 1 {
                    if let Some(first) = self.links.get(&key) {
                        return linkat(
                            Some(self.to_root),
                            first.as_path(),
                            Some(t),
                            name,
                            nix::fcntl::AtFlags::empty(),
                        )
                        .map_err(|e| format!("link to {}: {e}", first.display()));
                    }
                }
                let src = openat(Some(f), name, OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC, Mode::empty())
                    .map(own)
                    .map_err(|e| format!("open: {e}"))?;
                let dst = openat(
                    Some(t),
                    name,
                    OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::from_bits_truncate(0o600),
                )
                .map(own)
                .map_err(|e| format!("create: {e}"))?;
                let (mut r, mut w) = (std::fs::File::from(src), std::fs::File::from(dst));
                std::io::copy(&mut r, &mut w).map_err(|e| format!("copy: {e}"))?;
                let (src, dst) = (OwnedFd::from(r), OwnedFd::from(w));
                finish(&src, &dst, &st)?;
                if st.st_nlink > 1 {
                    self.links.insert(key, rel.to_path_buf());
                }
                Ok(())
            }
            SFlag::S_IFLNK => {
                let target = nix::fcntl::readlinkat(Some(f), name).map_err(|e| format!("readlink: {e}"))?;
                symlinkat(target.as_os_str(), Some(t), name).map_err(|e| format!("symlink: {e}"))?;
                self.owner_and_times_nofollow(t, name, &st)
            }
            SFlag::S_IFCHR | SFlag::S_IFBLK | SFlag::S_IFIFO => {
                let perm = Mode::from_bits_truncate(st.st_mode & 0o7777);
                mknodat(Some(t), name, kind, perm, st.st_rdev).map_err(|e| format!("mknod: {e}"))?;
                self.owner_and_times_nofollow(t, name, &st)?;
                nix::sys::stat::fchmodat(Some(t), name, perm, nix::sys::stat::FchmodatFlags::FollowSymlink)
                    .map_err(|e| format!("chmod: {e}"))
            }
            // sockets belong to a running process: not copied
            _ => Ok(()),
        }
    }

    /// Owner and times of an entry that cannot be opened (symlinks, devices, fifos).
    fn owner_and_times_nofollow(&self, dir: RawFd, name: &Path, st: &FileStat) -> Result<(), String> {
        fchownat(
            Some(dir),
            name,
            Some(Uid::from_raw(st.st_uid)),
            Some(Gid::from_raw(st.st_gid)),
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(|e| format!("chown: {e}"))?;
        let (atime, mtime) = times(st);
        nix::sys::stat::utimensat(Some(dir), name, &atime, &mtime, nix::sys::stat::UtimensatFlags::NoFollowSymlink)
            .map_err(|e| format!("set times: {e}"))
    }
}

fn times(st: &FileStat) -> (TimeSpec, TimeSpec) {
    (TimeSpec::new(st.st_atime, st.st_atime_nsec), TimeSpec::new(st.st_mtime, st.st_mtime_nsec))
}

/// Gives `to` the extended attributes, owner, mode (after the owner: chown
/// clears set-id bits) and times of `from`, whose status is `st`.
fn finish(from: &OwnedFd, to: &OwnedFd, st: &FileStat) -> Result<(), String> {
    copy_xattrs(from.as_raw_fd(), to.as_raw_fd());
    nix::unistd::fchown(to.as_raw_fd(), Some(Uid::from_raw(st.st_uid)), Some(Gid::from_raw(st.st_gid)))
        .map_err(|e| format!("chown: {e}"))?;
    nix::sys::stat::fchmod(to.as_raw_fd(), Mode::from_bits_truncate(st.st_mode & 0o7777))
        .map_err(|e| format!("chmod: {e}"))?;
    let (atime, mtime) = times(st);
    nix::sys::stat::futimens(to.as_raw_fd(), &atime, &mtime).map_err(|e| format!("set times: {e}"))
}

/// Copies what extended attributes it can ("where possible": a filesystem
/// without user xattrs, or a security label the kernel refuses, is skipped).
fn copy_xattrs(from: RawFd, to: RawFd) {
    let mut names = vec![0u8; 4096];
    // SAFETY: the buffer is valid for its length; the kernel writes at most that much.
    let n = unsafe { libc::flistxattr(from, names.as_mut_ptr().cast(), names.len()) };
    if n <= 0 {
        return;
    }
    for name in names[..n as usize].split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let Ok(cname) = CString::new(name) else { continue };
        let mut value = vec![0u8; 64 * 1024];
        // SAFETY: a NUL-terminated name and a buffer valid for its length.
        let len = unsafe { libc::fgetxattr(from, cname.as_ptr(), value.as_mut_ptr().cast(), value.len()) };
        if len < 0 {
            continue;
        }
        // SAFETY: the name and the value's first `len` bytes are valid.
        let rc = unsafe { libc::fsetxattr(to, cname.as_ptr(), value.as_ptr().cast(), len as usize, 0) };
        if rc != 0 {
            debug!(xattr = %String::from_utf8_lossy(name), error = %std::io::Error::last_os_error(), "extended attribute not copied");
        }
    }
}
