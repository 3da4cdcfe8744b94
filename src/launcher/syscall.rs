//! The container init's syscalls behind one small trait, so that the
//! order and arguments of its steps are unit-tested without root (as
//! youki's `Syscall` trait with its recording test double).
//!
//! The init holds one `&dyn Syscall` ([`LINUX`] in rrun): one indirect call
//! in front of a syscall. What goes through it changes the process or the
//! mount table: mounts, the root, namespaces, identity, capabilities, prctl
//! flags, rlimits, device nodes, descriptors, the resctrl `tasks` file,
//! seccomp, exec. What stays outside only reads (mountinfo, statvfs) or
//! works on descriptors inside the rootfs (openat2 lookups, mkdir,
//! symlinks), which a test points at a temporary directory; and a few steps
//! no test plan takes yet: the terminal (posix_openpt, TIOCSCTTY, dup2),
//! idmapped trees (open_tree, mount_setattr), fuse-overlayfs, sysctl
//! writes, hooks. The v1 cgroup join happens before the init's steps,
//! behind the `cgroups::Cgroup` trait.

use super::seccomp::Filter;
use caps::{CapSet, CapsHashSet};
use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags};
use nix::sched::CloneFlags;
use nix::sys::stat::{Mode, SFlag};
use nix::unistd::{Gid, Uid};
use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

/// The syscalls of the container init's setup.
pub(crate) trait Syscall {
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> nix::Result<()>;
    fn umount2(&self, target: &Path, flags: MntFlags) -> nix::Result<()>;
    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> nix::Result<()>;
    fn chdir(&self, path: &Path) -> nix::Result<()>;
    fn fchdir(&self, dir: BorrowedFd<'_>) -> nix::Result<()>;
    fn chroot(&self, path: &Path) -> nix::Result<()>;
    fn sethostname(&self, name: &str) -> nix::Result<()>;
    fn setdomainname(&self, name: &str) -> nix::Result<()>;
    fn setns(&self, ns: BorrowedFd<'_>, nstype: CloneFlags) -> nix::Result<()>;
    fn unshare(&self, flags: CloneFlags) -> nix::Result<()>;
    /// Brings the `lo` interface of the process's network namespace up.
    fn loopback_up(&self) -> Result<(), String>;
    fn setgroups(&self, groups: &[Gid]) -> nix::Result<()>;
    /// Real, effective and saved gid.
    fn setresgid(&self, gid: Gid) -> nix::Result<()>;
    /// Real, effective and saved uid.
    fn setresuid(&self, uid: Uid) -> nix::Result<()>;
    /// `PR_SET_KEEPCAPS`.
    fn set_keep_caps(&self, keep: bool) -> nix::Result<()>;
    /// Sets one capability set to exactly `caps`. `Bounding` drops every
    /// capability outside `caps` (a bounding set only shrinks); `Ambient`
    /// clears it and raises those of `caps` the kernel allows (inheritable
    /// and permitted ones), skipping the others as runc does.
    fn set_capability(&self, set: CapSet, caps: &CapsHashSet) -> Result<(), String>;
    /// `PR_SET_NO_NEW_PRIVS`.
    fn set_no_new_privs(&self) -> nix::Result<()>;
    /// `PR_SET_DUMPABLE`.
    fn set_dumpable(&self, dumpable: bool) -> nix::Result<()>;
    /// `PR_SET_PDEATHSIG`.
    fn set_parent_death_signal(&self, signal: libc::c_int) -> nix::Result<()>;
    fn setsid(&self) -> nix::Result<()>;
    fn umask(&self, mask: Mode);
    fn setrlimit(&self, resource: libc::__rlimit_resource_t, soft: u64, hard: u64) -> nix::Result<()>;
    fn mknodat(&self, dir: BorrowedFd<'_>, name: &Path, kind: SFlag, perm: Mode, dev: libc::dev_t) -> nix::Result<()>;
    fn chown(&self, path: &Path, uid: Uid, gid: Gid) -> nix::Result<()>;
    fn chmod(&self, path: &Path, mode: Mode) -> nix::Result<()>;
    /// Whether the filesystem of `fd` is a procfs.
    fn is_procfs(&self, fd: BorrowedFd<'_>) -> nix::Result<bool>;
    /// `close_range(first, ~0U, CLOSE_RANGE_CLOEXEC)`.
    fn close_range_cloexec(&self, first: u32) -> nix::Result<()>;
    /// Installs a seccomp filter; its listener descriptor, if it has one.
    fn load_seccomp(&self, filter: &Filter) -> Result<Option<OwnedFd>, String>;
    /// Default signal dispositions and an empty mask.
    fn reset_signals(&self) -> nix::Result<()>;
    /// Writes `bytes` to an open control file (the resctrl `tasks` file the init joins).
    fn write_control(&self, file: BorrowedFd<'_>, bytes: &[u8]) -> nix::Result<()>;
    /// Returns only when the exec failed.
    fn execve(&self, path: &CStr, args: &[CString], env: &[CString]) -> Errno;
}

/// The kernel.
pub(crate) struct Linux;

/// The one real [`Syscall`] the launcher uses.
pub(crate) static LINUX: Linux = Linux;

fn prctl(option: libc::c_int, arg: libc::c_ulong) -> nix::Result<()> {
    // SAFETY: the prctl options used here take integer arguments only and touch no memory.
    let rc = unsafe { libc::prctl(option, arg, 0, 0, 0) };
    Errno::result(rc).map(drop)
}

impl Syscall for Linux {
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> nix::Result<()> {
        nix::mount::mount(source, target, fstype, flags, data)
    }

    fn umount2(&self, target: &Path, flags: MntFlags) -> nix::Result<()> {
        nix::mount::umount2(target, flags)
    }

    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> nix::Result<()> {
        nix::unistd::pivot_root(new_root, put_old)
    }

    fn chdir(&self, path: &Path) -> nix::Result<()> {
        nix::unistd::chdir(path)
    }

    fn fchdir(&self, dir: BorrowedFd<'_>) -> nix::Result<()> {
        nix::unistd::fchdir(dir.as_raw_fd())
    }

    fn chroot(&self, path: &Path) -> nix::Result<()> {
        nix::unistd::chroot(path)
    }

    fn sethostname(&self, name: &str) -> nix::Result<()> {
        nix::unistd::sethostname(name)
    }

    fn setdomainname(&self, name: &str) -> nix::Result<()> {
        let c = CString::new(name).map_err(|_| Errno::EINVAL)?;
        // SAFETY: c is a valid NUL-terminated buffer of the given length.
        Errno::result(unsafe { libc::setdomainname(c.as_ptr(), name.len()) }).map(drop)
    }

    fn setns(&self, ns: BorrowedFd<'_>, nstype: CloneFlags) -> nix::Result<()> {
        nix::sched::setns(ns, nstype)
    }

    fn unshare(&self, flags: CloneFlags) -> nix::Result<()> {
        nix::sched::unshare(flags)
    }

    fn loopback_up(&self) -> Result<(), String> {
        super::attrs::bring_loopback_up().map_err(|e| e.msg)
    }

    fn setgroups(&self, groups: &[Gid]) -> nix::Result<()> {
        nix::unistd::setgroups(groups)
    }

    fn setresgid(&self, gid: Gid) -> nix::Result<()> {
        nix::unistd::setresgid(gid, gid, gid)
    }

    fn setresuid(&self, uid: Uid) -> nix::Result<()> {
        nix::unistd::setresuid(uid, uid, uid)
    }

    fn set_keep_caps(&self, keep: bool) -> nix::Result<()> {
        prctl(libc::PR_SET_KEEPCAPS, keep as libc::c_ulong)
    }

    fn set_capability(&self, set: CapSet, caps: &CapsHashSet) -> Result<(), String> {
        match set {
            CapSet::Bounding => {
                for cap in caps::all() {
                    if !caps.contains(&cap) && caps::has_cap(None, CapSet::Bounding, cap).unwrap_or(false) {
                        caps::drop(None, CapSet::Bounding, cap).map_err(|e| format!("drop {cap}: {e}"))?;
                    }
                }
                Ok(())
            }
            CapSet::Ambient => {
                caps::clear(None, CapSet::Ambient).map_err(|e| format!("clear: {e}"))?;
                for cap in caps {
                    // the kernel raises an ambient capability only if it is also inheritable and
                    // permitted; runc's own default spec asks for ambient ones without inheritable:
                    // skip them as runc does
                    if let Err(e) = caps::raise(None, CapSet::Ambient, *cap) {
                        tracing::debug!(capability = %cap, error = %e, "ambient capability not raised");
                    }
                }
                Ok(())
            }
            other => caps::set(None, other, caps).map_err(|e| e.to_string()),
        }
    }

    fn set_no_new_privs(&self) -> nix::Result<()> {
        prctl(libc::PR_SET_NO_NEW_PRIVS, 1)
    }

    fn set_dumpable(&self, dumpable: bool) -> nix::Result<()> {
        prctl(libc::PR_SET_DUMPABLE, dumpable as libc::c_ulong)
    }

    fn set_parent_death_signal(&self, signal: libc::c_int) -> nix::Result<()> {
        prctl(libc::PR_SET_PDEATHSIG, signal as libc::c_ulong)
    }

    fn setsid(&self) -> nix::Result<()> {
        nix::unistd::setsid().map(drop)
    }

    fn umask(&self, mask: Mode) {
        nix::sys::stat::umask(mask);
    }

    fn setrlimit(&self, resource: libc::__rlimit_resource_t, soft: u64, hard: u64) -> nix::Result<()> {
        let lim = libc::rlimit { rlim_cur: soft, rlim_max: hard };
        // SAFETY: `lim` is a valid rlimit for the duration of the call.
        Errno::result(unsafe { libc::setrlimit(resource, &lim) }).map(drop)
    }

    fn mknodat(&self, dir: BorrowedFd<'_>, name: &Path, kind: SFlag, perm: Mode, dev: libc::dev_t) -> nix::Result<()> {
        nix::sys::stat::mknodat(Some(dir.as_raw_fd()), name, kind, perm, dev)
    }

    fn chown(&self, path: &Path, uid: Uid, gid: Gid) -> nix::Result<()> {
        nix::unistd::chown(path, Some(uid), Some(gid))
    }

    fn chmod(&self, path: &Path, mode: Mode) -> nix::Result<()> {
        nix::sys::stat::fchmodat(None, path, mode, nix::sys::stat::FchmodatFlags::FollowSymlink)
    }

    fn is_procfs(&self, fd: BorrowedFd<'_>) -> nix::Result<bool> {
        let st = nix::sys::statfs::fstatfs(fd)?;
        Ok(st.filesystem_type() == nix::sys::statfs::PROC_SUPER_MAGIC)
    }

    fn close_range_cloexec(&self, first: u32) -> nix::Result<()> {
        // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only sets flags on descriptors >= first.
        let rc = unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, libc::CLOSE_RANGE_CLOEXEC) };
        Errno::result(rc).map(drop)
    }

    fn load_seccomp(&self, filter: &Filter) -> Result<Option<OwnedFd>, String> {
        filter.load_notify().map_err(|e| e.to_string())
    }

    fn reset_signals(&self) -> nix::Result<()> {
        use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal};
        let dfl = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
        for sig in Signal::iterator() {
            if sig != Signal::SIGKILL && sig != Signal::SIGSTOP {
                // SAFETY: installing SIG_DFL runs no handler code. Every signal but SIGKILL and
                // SIGSTOP (skipped) takes SIG_DFL: sigaction cannot fail here, so it is not checked.
                let _ = unsafe { sigaction(sig, &dfl) };
            }
        }
        nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)
    }

    fn write_control(&self, file: BorrowedFd<'_>, bytes: &[u8]) -> nix::Result<()> {
        let n = nix::unistd::write(file, bytes)?;
        if n != bytes.len() {
            return Err(Errno::EIO);
        }
        Ok(())
    }

    fn execve(&self, path: &CStr, args: &[CString], env: &[CString]) -> Errno {
        match nix::unistd::execve(path, args, env) {
            Err(e) => e,
            Ok(never) => match never {},
        }
    }
}

/// A recording [`Syscall`] for unit tests: every call is kept, in order,
/// with its arguments; nothing reaches the kernel. Paths through
/// `/proc/self/fd/N` (how the launcher names what it resolved inside the
/// rootfs) are recorded as what they point to, with the rootfs shown as
/// `<rootfs>`. `mknodat` makes an empty file where the node would be, so
/// that the steps after it find one.
#[cfg(test)]
pub(crate) mod test {
    use super::*;
    use std::cell::RefCell;
    use std::path::PathBuf;

    /// One recorded call.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum Call {
        Mount {
            source: Option<String>,
            target: String,
            fstype: Option<String>,
            flags: MsFlags,
            data: Option<String>,
        },
        Umount2 {
            target: String,
            flags: MntFlags,
        },
        PivotRoot {
            new_root: String,
            put_old: String,
        },
        Chdir(String),
        Fchdir(String),
        Chroot(String),
        Sethostname(String),
        Setdomainname(String),
        Setns(CloneFlags),
        Unshare(CloneFlags),
        LoopbackUp,
        Setgroups(Vec<u32>),
        Setresgid(u32),
        Setresuid(u32),
        KeepCaps(bool),
        /// The set's name and its capabilities, sorted.
        Capability(String, Vec<String>),
        NoNewPrivs,
        Dumpable(bool),
        ParentDeathSignal(i32),
        Setsid,
        Umask(u32),
        Setrlimit {
            resource: u32,
            soft: u64,
            hard: u64,
        },
        Mknod {
            path: String,
            kind: u32,
            mode: u32,
            dev: u64,
        },
        Chown {
            path: String,
            uid: u32,
            gid: u32,
        },
        Chmod {
            path: String,
            mode: u32,
        },
        CloseRangeCloexec(u32),
        Seccomp,
        ResetSignals,
        WriteControl(String, Vec<u8>),
        Execve {
            path: String,
            args: Vec<String>,
        },
    }

    pub struct Recorder {
        /// The rootfs (a temporary directory), shown as `<rootfs>`.
        rootfs: PathBuf,
        pub calls: RefCell<Vec<Call>>,
        /// What `setresuid` and `setresgid` answer.
        pub setres_result: nix::Result<()>,
        /// What `close_range` answers.
        pub close_range_result: nix::Result<()>,
    }

    impl Recorder {
        pub fn new(rootfs: &Path) -> Recorder {
            let rootfs = rootfs.canonicalize().unwrap_or_else(|_| rootfs.to_path_buf());
            Recorder { rootfs, calls: RefCell::new(Vec::new()), setres_result: Ok(()), close_range_result: Ok(()) }
        }

        fn push(&self, call: Call) {
            self.calls.borrow_mut().push(call);
        }

        /// A path as recorded: `/proc/self/fd/N` resolved, the rootfs as `<rootfs>`.
        pub fn show(&self, path: &Path) -> String {
            let resolved = match path.strip_prefix("/proc/self/fd") {
                Ok(rest) if !rest.as_os_str().is_empty() => {
                    std::fs::read_link(path).unwrap_or_else(|_| path.to_path_buf())
                }
                _ => path.to_path_buf(),
            };
            match resolved.strip_prefix(&self.rootfs) {
                Ok(rel) if rel.as_os_str().is_empty() => "<rootfs>".into(),
                Ok(rel) => format!("<rootfs>/{}", rel.display()),
                Err(_) => resolved.display().to_string(),
            }
        }

        fn show_fd(&self, fd: BorrowedFd<'_>) -> String {
            self.show(&PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd())))
        }

        pub fn calls(&self) -> Vec<Call> {
            self.calls.borrow().clone()
        }
    }

    impl Syscall for Recorder {
        fn mount(
            &self,
            source: Option<&Path>,
            target: &Path,
            fstype: Option<&str>,
            flags: MsFlags,
            data: Option<&str>,
        ) -> nix::Result<()> {
            self.push(Call::Mount {
                source: source.map(|s| self.show(s)),
                target: self.show(target),
                fstype: fstype.map(str::to_string),
                flags,
                data: data.map(str::to_string),
            });
            Ok(())
        }
        fn umount2(&self, target: &Path, flags: MntFlags) -> nix::Result<()> {
            self.push(Call::Umount2 { target: self.show(target), flags });
            Ok(())
        }
        fn pivot_root(&self, new_root: &Path, put_old: &Path) -> nix::Result<()> {
            self.push(Call::PivotRoot { new_root: self.show(new_root), put_old: self.show(put_old) });
            Ok(())
        }
        fn chdir(&self, path: &Path) -> nix::Result<()> {
            self.push(Call::Chdir(self.show(path)));
            Ok(())
        }
        fn fchdir(&self, dir: BorrowedFd<'_>) -> nix::Result<()> {
            self.push(Call::Fchdir(self.show_fd(dir)));
            Ok(())
        }
        fn chroot(&self, path: &Path) -> nix::Result<()> {
            self.push(Call::Chroot(self.show(path)));
            Ok(())
        }
        fn sethostname(&self, name: &str) -> nix::Result<()> {
            self.push(Call::Sethostname(name.into()));
            Ok(())
        }
        fn setdomainname(&self, name: &str) -> nix::Result<()> {
            self.push(Call::Setdomainname(name.into()));
            Ok(())
        }
        fn setns(&self, _ns: BorrowedFd<'_>, nstype: CloneFlags) -> nix::Result<()> {
            self.push(Call::Setns(nstype));
            Ok(())
        }
        fn unshare(&self, flags: CloneFlags) -> nix::Result<()> {
            self.push(Call::Unshare(flags));
            Ok(())
        }
        fn loopback_up(&self) -> Result<(), String> {
            self.push(Call::LoopbackUp);
            Ok(())
        }
        fn setgroups(&self, groups: &[Gid]) -> nix::Result<()> {
            self.push(Call::Setgroups(groups.iter().map(|g| g.as_raw()).collect()));
            Ok(())
        }
        fn setresgid(&self, gid: Gid) -> nix::Result<()> {
            self.push(Call::Setresgid(gid.as_raw()));
            self.setres_result
        }
        fn setresuid(&self, uid: Uid) -> nix::Result<()> {
            self.push(Call::Setresuid(uid.as_raw()));
            self.setres_result
        }
        fn set_keep_caps(&self, keep: bool) -> nix::Result<()> {
            self.push(Call::KeepCaps(keep));
            Ok(())
        }
        fn set_capability(&self, set: CapSet, caps: &CapsHashSet) -> Result<(), String> {
            let mut names: Vec<String> = caps.iter().map(|c| c.to_string()).collect();
            names.sort();
            self.push(Call::Capability(format!("{set:?}"), names));
            Ok(())
        }
        fn set_no_new_privs(&self) -> nix::Result<()> {
            self.push(Call::NoNewPrivs);
            Ok(())
        }
        fn set_dumpable(&self, dumpable: bool) -> nix::Result<()> {
            self.push(Call::Dumpable(dumpable));
            Ok(())
        }
        fn set_parent_death_signal(&self, signal: libc::c_int) -> nix::Result<()> {
            self.push(Call::ParentDeathSignal(signal));
            Ok(())
        }
        fn setsid(&self) -> nix::Result<()> {
            self.push(Call::Setsid);
            Ok(())
        }
        fn umask(&self, mask: Mode) {
            self.push(Call::Umask(mask.bits()));
        }
        fn setrlimit(&self, resource: libc::__rlimit_resource_t, soft: u64, hard: u64) -> nix::Result<()> {
            self.push(Call::Setrlimit { resource, soft, hard });
            Ok(())
        }
        fn mknodat(
            &self,
            dir: BorrowedFd<'_>,
            name: &Path,
            kind: SFlag,
            perm: Mode,
            dev: libc::dev_t,
        ) -> nix::Result<()> {
            let path = format!("{}/{}", self.show_fd(dir), name.display());
            self.push(Call::Mknod { path, kind: kind.bits(), mode: perm.bits(), dev });
            // an empty file where the node would be, for the steps that open it next
            let fd = nix::fcntl::openat(
                Some(dir.as_raw_fd()),
                name,
                nix::fcntl::OFlag::O_CREAT | nix::fcntl::OFlag::O_EXCL | nix::fcntl::OFlag::O_CLOEXEC,
                Mode::from_bits_truncate(0o600),
            )?;
            nix::unistd::close(fd)
        }
        fn chown(&self, path: &Path, uid: Uid, gid: Gid) -> nix::Result<()> {
            self.push(Call::Chown { path: self.show(path), uid: uid.as_raw(), gid: gid.as_raw() });
            Ok(())
        }
        fn chmod(&self, path: &Path, mode: Mode) -> nix::Result<()> {
            self.push(Call::Chmod { path: self.show(path), mode: mode.bits() });
            Ok(())
        }
        fn is_procfs(&self, _fd: BorrowedFd<'_>) -> nix::Result<bool> {
            Ok(true)
        }
        fn close_range_cloexec(&self, first: u32) -> nix::Result<()> {
            self.push(Call::CloseRangeCloexec(first));
            self.close_range_result
        }
        fn load_seccomp(&self, _filter: &Filter) -> Result<Option<OwnedFd>, String> {
            self.push(Call::Seccomp);
            Ok(None)
        }
        fn reset_signals(&self) -> nix::Result<()> {
            self.push(Call::ResetSignals);
            Ok(())
        }
        fn write_control(&self, file: BorrowedFd<'_>, bytes: &[u8]) -> nix::Result<()> {
            self.push(Call::WriteControl(self.show_fd(file), bytes.to_vec()));
            Ok(())
        }
        fn execve(&self, path: &CStr, args: &[CString], _env: &[CString]) -> Errno {
            self.push(Call::Execve {
                path: path.to_string_lossy().into_owned(),
                args: args.iter().map(|a| a.to_string_lossy().into_owned()).collect(),
            });
            Errno::ENOENT
        }
    }
}
