//! The last guards before exec: the working directory, entered and checked
//! to lie inside the container's root before any seccomp filter can get in
//! the way, and the descriptors that must not reach the container closed on
//! exec even where `close_range(2)` fails.

use super::syscall::Syscall;
use super::ChildError;
use nix::errno::Errno;
use std::path::Path;
use tracing::debug;

/// Enters `cwd` as the runtime (before the process's user is taken on, so
/// that a directory the user may not search still works, as with runc).
/// Returns false when access was denied: the caller tries again as the
/// process's user ([`enter_cwd_as_user`]), for a directory only that user may enter.
pub fn enter_cwd(os: &dyn Syscall, cwd: &Path) -> Result<bool, ChildError> {
    crate::step!(super::steps::CHDIR, path = %cwd.display());
    match os.chdir(cwd) {
        Ok(()) => verify_cwd(cwd).map(|()| true),
        Err(Errno::EACCES) | Err(Errno::EPERM) => {
            debug!(path = %cwd.display(), "working directory not accessible yet: entered as the process's user");
            Ok(false)
        }
        Err(e) => Err(cwd_error(cwd, e)),
    }
}

/// The second try of [`enter_cwd`], as the process's user.
pub fn enter_cwd_as_user(os: &dyn Syscall, cwd: &Path) -> Result<(), ChildError> {
    crate::step!(super::steps::CHDIR, path = %cwd.display(), as_user = true);
    os.chdir(cwd).map_err(|e| cwd_error(cwd, e))?;
    verify_cwd(cwd)
}

fn cwd_error(cwd: &Path, e: Errno) -> ChildError {
    // runc's words: engines map "no such file or directory" to 127
    let what = match e {
        Errno::ENOENT => "no such file or directory".to_string(),
        Errno::EACCES => "permission denied".to_string(),
        Errno::ENOTDIR => "not a directory".to_string(),
        e => e.desc().to_lowercase(),
    };
    ChildError::setup(format!("chdir to cwd ({:?}) set in config.json failed: {what}", cwd.display().to_string()))
}

/// A working directory reached through a descriptor leaked from the host
/// (`/proc/self/fd/N`, CVE-2024-21626) lies outside the container's root:
/// getcwd(2) then has no path from the root to give. Only that is reported
/// as "outside"; any other failure is reported as it is.
pub fn verify_cwd(cwd: &Path) -> Result<(), ChildError> {
    match nix::unistd::getcwd() {
        Ok(p) if p.is_absolute() => Ok(()),
        Ok(_) | Err(Errno::ENOENT) => Err(ChildError::setup(format!(
            "working directory {} is outside the container's root (possible container breakout detected)",
            cwd.display()
        ))),
        Err(e) => Err(ChildError::setup(format!("getcwd after chdir to {}: {e}", cwd.display()))),
    }
}

/// Marks every descriptor from `first` on close-on-exec: close_range(2),
/// or where that fails (an older kernel, or a seccomp profile that refuses
/// it) each descriptor `/proc/self/fd` lists, or, without a /proc, every
/// number up to the descriptor limit.
pub fn close_on_exec_from(os: &dyn Syscall, first: u32) -> Result<(), ChildError> {
    crate::step!(super::steps::CLOSE_FDS, first, last = "~0U", flags = "CLOSE_RANGE_CLOEXEC");
    let Err(err) = os.close_range_cloexec(first) else { return Ok(()) };
    debug!(syscall = "close_range", error = %err, "close_range failed: marking descriptors one by one");
    let set = |fd: i32| -> Result<(), ChildError> {
        match nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC)) {
            Ok(_) | Err(Errno::EBADF) => Ok(()),
            Err(e) => Err(ChildError::setup(format!("mark descriptor {fd} close-on-exec: {e}"))),
        }
    };
    match std::fs::read_dir("/proc/self/fd") {
        Ok(dir) => {
            let fds: Vec<i32> =
                dir.flatten().filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<i32>().ok())).collect();
            for fd in fds.into_iter().filter(|fd| *fd >= first as i32) {
                set(fd)?;
            }
        }
        Err(_) => {
            let (soft, _) = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
                .map_err(|e| ChildError::setup(format!("getrlimit RLIMIT_NOFILE: {e}")))?;
            let last = soft.min(1 << 20) as i32;
            for fd in first as i32..last {
                set(fd)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A descriptor without close-on-exec at `fd` (a high number no other test uses).
    fn open_at(fd: i32) -> std::os::fd::OwnedFd {
        use std::os::fd::{AsRawFd, FromRawFd};
        let (r, _w) = nix::unistd::pipe().unwrap();
        let n = nix::unistd::dup2(r.as_raw_fd(), fd).unwrap();
        // SAFETY: dup2 made `n`, which nothing else owns.
        unsafe { std::os::fd::OwnedFd::from_raw_fd(n) }
    }

    fn cloexec(fd: i32) -> bool {
        let flags = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFD).unwrap();
        flags & libc::FD_CLOEXEC != 0
    }

    #[test]
    fn descriptors_are_marked_one_by_one_where_close_range_is_refused() {
        for refused in [Errno::ENOSYS, Errno::EPERM, Errno::EINVAL] {
            let (a, b) = (open_at(901), open_at(907));
            assert!(!cloexec(901) && !cloexec(907));
            let mut os = super::super::syscall::test::Recorder::new(Path::new("/"));
            os.close_range_result = Err(refused);
            close_on_exec_from(&os, 900).unwrap();
            assert!(cloexec(901) && cloexec(907), "close_range refused with {refused}: marked through /proc/self/fd");
            drop((a, b));
        }
    }

    #[test]
    fn the_working_directory_error_names_the_path_as_runc_does() {
        let e = cwd_error(Path::new("/nope"), Errno::ENOENT);
        assert_eq!(e.msg, "chdir to cwd (\"/nope\") set in config.json failed: no such file or directory");
    }
}
