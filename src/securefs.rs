//! Path resolution that cannot escape a root directory.
//!
//! Both the unpacker (a layer's entries) and the launcher (mount targets in a
//! container rootfs) must turn untrusted relative paths into file descriptors
//! without being redirected by `..` or symlinks. Linux's `openat2(2)` does this
//! in the kernel: `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS` refuses any symlink on
//! the way, `RESOLVE_IN_ROOT` follows symlinks as if the root were `/`.

use nix::errno::Errno;
use nix::fcntl::{openat2, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{mkdirat, Mode};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::{Component, Path};

/// Opens `rel` beneath `dir`, failing with `ELOOP` if any component is a
/// symlink and `EXDEV` if it would leave `dir`.
pub fn open_beneath(dir: BorrowedFd<'_>, rel: &Path, flags: OFlag) -> nix::Result<OwnedFd> {
    let how = OpenHow::new()
        .flags(flags | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_SYMLINKS);
    let rel: &Path = if rel.as_os_str().is_empty() { Path::new(".") } else { rel };
    let fd = openat2(dir.as_raw_fd(), rel, how)?;
    // SAFETY: openat2 returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Opens `path` inside `root` as if `root` were `/`: symlinks (absolute or
/// relative, `..` too) are followed but can never climb above `root`, and
/// magic links (`/proc/self/exe`…) are refused.
pub fn open_in_root(root: BorrowedFd<'_>, path: &Path, flags: OFlag) -> nix::Result<OwnedFd> {
    let how = OpenHow::new()
        .flags(flags | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    let rel = relative(path);
    let fd = openat2(root.as_raw_fd(), rel, how)?;
    // SAFETY: openat2 returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `mkdir -p` of `path` inside `root`, every component resolved in root;
/// returns an `O_PATH` descriptor of the final directory. A dangling symlink
/// on the way is followed as the kernel would, inside root: its target is made.
pub fn mkdir_all_in_root(root: BorrowedFd<'_>, path: &Path, mode: u32) -> nix::Result<OwnedFd> {
    mkdir_all_depth(root, path, mode, 0)
}

/// Linux's limit on symlinks followed in one lookup.
const MAX_SYMLINKS: u32 = 40;

fn mkdir_all_depth(root: BorrowedFd<'_>, path: &Path, mode: u32, depth: u32) -> nix::Result<OwnedFd> {
    if depth > MAX_SYMLINKS {
        return Err(Errno::ELOOP);
    }
    let dir_flags = OFlag::O_PATH | OFlag::O_DIRECTORY;
    let mut current = open_in_root(root, Path::new("."), dir_flags)?;
    let mut walked = std::path::PathBuf::new();
    for comp in relative(path).components() {
        let Component::Normal(name) = comp else {
            continue;
        };
        let parent = walked.clone();
        walked.push(name);
        current = match open_in_root(root, &walked, dir_flags) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => {
                match mkdirat(Some(current.as_raw_fd()), name, Mode::from_bits_truncate(mode)) {
                    Ok(()) => {}
                    Err(Errno::EEXIST) => {
                        // there, yet not found: a symlink to nothing; make what it points at, in root
                        if let Ok(target) = nix::fcntl::readlinkat(Some(current.as_raw_fd()), name) {
                            let target = Path::new(&target);
                            let inside = if target.is_absolute() { target.to_path_buf() } else { parent.join(target) };
                            mkdir_all_depth(root, &inside, mode, depth + 1)?;
                        }
                    }
                    Err(e) => return Err(e),
                }
                open_in_root(root, &walked, dir_flags)?
            }
            Err(e) => return Err(e),
        };
    }
    Ok(current)
}

/// Ensures a regular file exists at `path` inside `root` (creating parents)
/// and returns an `O_PATH` descriptor of it, for use as a bind-mount target.
pub fn ensure_file_in_root(root: BorrowedFd<'_>, path: &Path) -> nix::Result<OwnedFd> {
    match open_in_root(root, path, OFlag::O_PATH) {
        Ok(fd) => return Ok(fd),
        Err(Errno::ENOENT) => {}
        Err(e) => return Err(e),
    }
    let rel = relative(path);
    let parent = rel.parent().unwrap_or(Path::new(""));
    let name = rel.file_name().ok_or(Errno::EINVAL)?;
    let dir = mkdir_all_in_root(root, parent, 0o755)?;
    let how = OpenHow::new()
        .flags(OFlag::O_CREAT | OFlag::O_WRONLY | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW)
        .mode(Mode::from_bits_truncate(0o644))
        .resolve(ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_SYMLINKS);
    let fd = openat2(dir.as_raw_fd(), Path::new(name), how)?;
    // SAFETY: openat2 returned a new descriptor that nothing else owns.
    drop(unsafe { OwnedFd::from_raw_fd(fd) });
    open_in_root(root, path, OFlag::O_PATH)
}

/// `path` without its leading `/`, `.` for the root itself.
fn relative(path: &Path) -> &Path {
    let rel = path.strip_prefix("/").unwrap_or(path);
    if rel.as_os_str().is_empty() {
        Path::new(".")
    } else {
        rel
    }
}

/// The `/proc/self/fd/N` path that names an open descriptor, for syscalls
/// (mount) that take a path but must act on exactly this inode.
pub fn fd_path(fd: &impl AsRawFd) -> std::path::PathBuf {
    std::path::PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::fd::AsFd;

    #[test]
    fn symlinks_cannot_leave_the_root() {
        let base_tmp = tempfile::tempdir().unwrap();
        let base = base_tmp.path().to_path_buf();
        let root = base.join("root");
        fs::create_dir_all(root.join("etc")).unwrap();
        fs::write(base.join("outside"), b"host").unwrap();
        fs::write(root.join("outside"), b"inside").unwrap();
        std::os::unix::fs::symlink("/outside", root.join("abs")).unwrap();
        std::os::unix::fs::symlink("../../outside", root.join("etc/rel")).unwrap();
        let rootfd = fs::File::open(&root).unwrap();

        for link in ["abs", "etc/rel"] {
            let fd = open_in_root(rootfd.as_fd(), Path::new(link), OFlag::O_RDONLY).unwrap();
            let content = fs::read(fd_path(&fd)).unwrap();
            assert_eq!(content, b"inside", "{link} must resolve inside the root");
        }
        assert_eq!(open_beneath(rootfd.as_fd(), Path::new("abs"), OFlag::O_RDONLY).unwrap_err(), Errno::ELOOP);
        assert!(open_beneath(rootfd.as_fd(), Path::new("../outside"), OFlag::O_RDONLY).is_err());

        // mkdir -p through a symlink to "/" creates inside the root
        std::os::unix::fs::symlink("/", root.join("up")).unwrap();
        mkdir_all_in_root(rootfd.as_fd(), Path::new("/up/new/dir"), 0o755).unwrap();
        assert!(root.join("new/dir").is_dir());
        ensure_file_in_root(rootfd.as_fd(), Path::new("up/etc/hosts")).unwrap();
        assert!(root.join("etc/hosts").is_file());
    }
}
