//! Docker's default seccomp policy, as tables.
//!
//! Equivalent to Docker's default profile (moby/moby profiles/seccomp/default.json at commit
//! 00f3d189e420d485e42d15fe494f96d272284e0e, Apache-2.0), re-expressed as tables; when Docker
//! changes its profile, compare with it and update these tables.
//!
//! A syscall that no table names gets [`DEFAULT_ACTION`] (`EPERM`). Each row of a table is one
//! syscall entry of the resulting `linux.seccomp`; `spec::seccomp` turns the rows into entries of
//! Docker's format and keeps those whose conditions hold for the container's bounding set, the
//! host architecture and the running kernel, as for a profile file. Architectures are named as
//! Docker names them (`amd64`, `arm64`, `x86`, `s390x` …: see `spec::seccomp::host_arch`).

use oci_spec::runtime::{Arch, Capability, LinuxSeccompAction, LinuxSeccompOperator};

/// What a syscall that no entry names gets: an error, [`DEFAULT_ERRNO_RET`].
pub(super) const DEFAULT_ACTION: LinuxSeccompAction = LinuxSeccompAction::ScmpActErrno;
/// `EPERM`.
pub(super) const DEFAULT_ERRNO_RET: u32 = 1;

/// Per native architecture (first), the other ABIs whose syscalls the filter also accepts (the
/// profile's `archMap`). A host architecture not listed gets a filter for its native ABI only.
pub(super) const ARCH_MAP: &[(Arch, &[Arch])] = &[
    (Arch::ScmpArchX86_64, &[Arch::ScmpArchX86, Arch::ScmpArchX32]),
    (Arch::ScmpArchAarch64, &[Arch::ScmpArchArm]),
    (Arch::ScmpArchMips64, &[Arch::ScmpArchMips, Arch::ScmpArchMips64n32]),
    (Arch::ScmpArchMips64n32, &[Arch::ScmpArchMips, Arch::ScmpArchMips64]),
    (Arch::ScmpArchMipsel64, &[Arch::ScmpArchMipsel, Arch::ScmpArchMipsel64n32]),
    (Arch::ScmpArchMipsel64n32, &[Arch::ScmpArchMipsel, Arch::ScmpArchMipsel64]),
    (Arch::ScmpArchS390x, &[Arch::ScmpArchS390]),
    (Arch::ScmpArchRiscv64, &[]),
];

/// Allowed whatever the capabilities, architecture and kernel (sorted; one entry).
#[rustfmt::skip]
pub(super) const ALLOWED: &[&str] = &[
    "_llseek", "_newselect",
    "accept", "accept4", "access", "adjtimex", "alarm",
    "bind", "brk",
    "capget", "capset", "chdir", "chmod", "chown", "chown32", "clock_adjtime", "clock_adjtime64", "clock_getres",
    "clock_getres_time64", "clock_gettime", "clock_gettime64", "clock_nanosleep", "clock_nanosleep_time64", "close",
    "close_range", "connect", "copy_file_range", "creat",
    "dup", "dup2", "dup3",
    "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old", "epoll_pwait", "epoll_pwait2", "epoll_wait",
    "epoll_wait_old", "eventfd", "eventfd2", "execve", "execveat", "exit", "exit_group",
    "faccessat", "faccessat2", "fadvise64", "fadvise64_64", "fallocate", "fanotify_mark", "fchdir", "fchmod",
    "fchmodat", "fchown", "fchown32", "fchownat", "fcntl", "fcntl64", "fdatasync", "fgetxattr", "flistxattr",
    "flock", "fork", "fremovexattr", "fsetxattr", "fstat", "fstat64", "fstatat64", "fstatfs", "fstatfs64", "fsync",
    "ftruncate", "ftruncate64", "futex", "futex_time64", "futex_waitv", "futimesat",
    "get_robust_list", "get_thread_area", "getcpu", "getcwd", "getdents", "getdents64", "getegid", "getegid32",
    "geteuid", "geteuid32", "getgid", "getgid32", "getgroups", "getgroups32", "getitimer", "getpeername", "getpgid",
    "getpgrp", "getpid", "getppid", "getpriority", "getrandom", "getresgid", "getresgid32", "getresuid",
    "getresuid32", "getrlimit", "getrusage", "getsid", "getsockname", "getsockopt", "gettid", "gettimeofday",
    "getuid", "getuid32", "getxattr",
    "inotify_add_watch", "inotify_init", "inotify_init1", "inotify_rm_watch", "io_cancel", "io_destroy",
    "io_getevents", "io_pgetevents", "io_pgetevents_time64", "io_setup", "io_submit", "io_uring_enter",
    "io_uring_register", "io_uring_setup", "ioctl", "ioprio_get", "ioprio_set", "ipc",
    "kill",
    "landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self", "lchown", "lchown32", "lgetxattr",
    "link", "linkat", "listen", "listxattr", "llistxattr", "lremovexattr", "lseek", "lsetxattr", "lstat", "lstat64",
    "madvise", "membarrier", "memfd_create", "memfd_secret", "mincore", "mkdir", "mkdirat", "mknod", "mknodat",
    "mlock", "mlock2", "mlockall", "mmap", "mmap2", "mprotect", "mq_getsetattr", "mq_notify", "mq_open",
    "mq_timedreceive", "mq_timedreceive_time64", "mq_timedsend", "mq_timedsend_time64", "mq_unlink", "mremap",
    "msgctl", "msgget", "msgrcv", "msgsnd", "msync", "munlock", "munlockall", "munmap",
    "name_to_handle_at", "nanosleep", "newfstatat",
    "open", "openat", "openat2",
    "pause", "pidfd_open", "pidfd_send_signal", "pipe", "pipe2", "pkey_alloc", "pkey_free", "pkey_mprotect", "poll",
    "ppoll", "ppoll_time64", "prctl", "pread64", "preadv", "preadv2", "prlimit64", "process_mrelease", "pselect6",
    "pselect6_time64", "pwrite64", "pwritev", "pwritev2",
    "read", "readahead", "readlink", "readlinkat", "readv", "recv", "recvfrom", "recvmmsg", "recvmmsg_time64",
    "recvmsg", "remap_file_pages", "removexattr", "rename", "renameat", "renameat2", "restart_syscall", "rmdir",
    "rseq", "rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend",
    "rt_sigtimedwait", "rt_sigtimedwait_time64", "rt_tgsigqueueinfo",
    "sched_get_priority_max", "sched_get_priority_min", "sched_getaffinity", "sched_getattr", "sched_getparam",
    "sched_getscheduler", "sched_rr_get_interval", "sched_rr_get_interval_time64", "sched_setaffinity",
    "sched_setattr", "sched_setparam", "sched_setscheduler", "sched_yield", "seccomp", "select", "semctl", "semget",
    "semop", "semtimedop", "semtimedop_time64", "send", "sendfile", "sendfile64", "sendmmsg", "sendmsg", "sendto",
    "set_robust_list", "set_thread_area", "set_tid_address", "setfsgid", "setfsgid32", "setfsuid", "setfsuid32",
    "setgid", "setgid32", "setgroups", "setgroups32", "setitimer", "setpgid", "setpriority", "setregid",
    "setregid32", "setresgid", "setresgid32", "setresuid", "setresuid32", "setreuid", "setreuid32", "setrlimit",
    "setsid", "setsockopt", "setuid", "setuid32", "setxattr", "shmat", "shmctl", "shmdt", "shmget", "shutdown",
    "sigaltstack", "signalfd", "signalfd4", "sigprocmask", "sigreturn", "socketcall", "socketpair", "splice",
    "stat", "stat64", "statfs", "statfs64", "statx", "symlink", "symlinkat", "sync", "sync_file_range", "syncfs",
    "sysinfo",
    "tee", "tgkill", "time", "timer_create", "timer_delete", "timer_getoverrun", "timer_gettime", "timer_gettime64",
    "timer_settime", "timer_settime64", "timerfd_create", "timerfd_gettime", "timerfd_gettime64", "timerfd_settime",
    "timerfd_settime64", "times", "tkill", "truncate", "truncate64",
    "ugetrlimit", "umask", "uname", "unlink", "unlinkat", "utime", "utimensat", "utimensat_time64", "utimes",
    "vfork", "vmsplice",
    "wait4", "waitid", "waitpid", "write", "writev",
];

/// Allowed from a kernel version (`MAJOR.MINOR`) on, one entry per row. Before 4.8 seccomp ran
/// before ptrace's hooks, so a tracer could rewrite a syscall after the filter had let it through.
pub(super) const ALLOWED_FROM_KERNEL: &[((u32, u32), &[&str])] =
    &[((4, 8), &["process_vm_readv", "process_vm_writev", "ptrace"])];

/// Allowed on these host architectures only, one entry per row.
pub(super) const ALLOWED_ON_ARCHES: &[(&[&str], &[&str])] = &[
    (&["amd64", "x32"], &["arch_prctl"]),
    (&["amd64", "x32", "x86"], &["modify_ldt"]),
    (
        &["arm", "arm64"],
        &["arm_fadvise64_64", "arm_sync_file_range", "breakpoint", "cacheflush", "set_tls", "sync_file_range2"],
    ),
    (&["ppc64le"], &["swapcontext", "sync_file_range2"]),
    (&["riscv64"], &["riscv_flush_icache"]),
    (&["s390", "s390x"], &["s390_pci_mmio_read", "s390_pci_mmio_write", "s390_runtime_instr"]),
];

/// Allowed when the container's bounding set holds the capability, one entry per row. Some
/// syscalls come with either of two capabilities (`bpf`, `perf_event_open`, `syslog` with
/// CAP_SYS_ADMIN too; `ptrace` and `process_vm_*` also by kernel version, above).
pub(super) const ALLOWED_WITH_CAP: &[(Capability, &[&str])] = &[
    (Capability::Bpf, &["bpf"]),
    (Capability::DacReadSearch, &["open_by_handle_at"]),
    (Capability::Perfmon, &["perf_event_open"]),
    (
        Capability::SysAdmin,
        &[
            "bpf",
            "clone",
            "clone3",
            "fanotify_init",
            "fsconfig",
            "fsmount",
            "fsopen",
            "fspick",
            "lookup_dcookie",
            "mount",
            "mount_setattr",
            "move_mount",
            "open_tree",
            "perf_event_open",
            "quotactl",
            "quotactl_fd",
            "setdomainname",
            "sethostname",
            "setns",
            "syslog",
            "umount",
            "umount2",
            "unshare",
        ],
    ),
    (Capability::SysBoot, &["reboot"]),
    (Capability::SysChroot, &["chroot"]),
    (Capability::SysModule, &["delete_module", "finit_module", "init_module"]),
    (Capability::SysNice, &["get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"]),
    (Capability::SysPacct, &["acct"]),
    (
        Capability::SysPtrace,
        &["kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev", "ptrace"],
    ),
    (Capability::SysRawio, &["ioperm", "iopl"]),
    (Capability::SysTime, &["clock_settime", "clock_settime64", "settimeofday", "stime"]),
    (Capability::SysTtyConfig, &["vhangup"]),
    (Capability::Syslog, &["syslog"]),
];

/// `socket(2)`'s family that containers may not use.
const AF_VSOCK: u64 = 40;
/// `personality(2)` personas a container may switch to: `PER_LINUX`, `PER_LINUX32`, `UNAME26`,
/// `PER_LINUX32 | UNAME26`, and `0xffffffff`, which only queries the current one.
const PERSONAS: [u64; 5] = [0x0, 0x8, 0x2_0000, 0x2_0008, 0xffff_ffff];
/// `CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID |
/// CLONE_NEWNET`: the namespace flags that `clone(2)` may not carry without CAP_SYS_ADMIN.
const CLONE_NAMESPACE_FLAGS: u64 = 0x7e02_0000;
/// s390's `clone(2)` takes its flags second, everyone else's first.
const S390: &[&str] = &["s390", "s390x"];
const ENOSYS: u32 = 38;

/// Where a [`Rule`] applies.
#[derive(Debug, Clone, Copy)]
pub(super) enum Arches {
    Any,
    Only(&'static [&'static str]),
    Except(&'static [&'static str]),
}

/// A one-syscall entry that tests an argument or answers an errno, possibly only without a
/// capability or on some architectures.
#[derive(Debug, Clone, Copy)]
pub(super) struct Rule {
    pub name: &'static str,
    /// `None`: allowed; `Some(e)`: fails with errno `e`.
    pub errno: Option<u32>,
    /// `(index, operator, value)`; for `SCMP_CMP_MASKED_EQ`, `value` is the mask and the
    /// masked argument must be 0.
    pub arg: Option<(usize, LinuxSeccompOperator, u64)>,
    /// The rule is dropped when the bounding set holds this capability.
    pub unless_cap: Option<Capability>,
    pub arches: Arches,
}

impl Rule {
    const fn allow(name: &'static str) -> Rule {
        Rule { name, errno: None, arg: None, unless_cap: None, arches: Arches::Any }
    }
    const fn fail(name: &'static str, errno: u32) -> Rule {
        Rule { errno: Some(errno), ..Rule::allow(name) }
    }
    const fn arg(self, index: usize, op: LinuxSeccompOperator, value: u64) -> Rule {
        Rule { arg: Some((index, op, value)), ..self }
    }
    const fn unless_cap(self, cap: Capability) -> Rule {
        Rule { unless_cap: Some(cap), ..self }
    }
    const fn arches(self, arches: Arches) -> Rule {
        Rule { arches, ..self }
    }
}

/// The rules that look at arguments or answer an errno, one entry per row.
pub(super) const RULES: &[Rule] = {
    use Capability::SysAdmin;
    use LinuxSeccompOperator::{ScmpCmpEq as Eq, ScmpCmpMaskedEq as MaskedEq, ScmpCmpNe as Ne};
    &[
        Rule::allow("socket").arg(0, Ne, AF_VSOCK),
        Rule::allow("personality").arg(0, Eq, PERSONAS[0]),
        Rule::allow("personality").arg(0, Eq, PERSONAS[1]),
        Rule::allow("personality").arg(0, Eq, PERSONAS[2]),
        Rule::allow("personality").arg(0, Eq, PERSONAS[3]),
        Rule::allow("personality").arg(0, Eq, PERSONAS[4]),
        // without CAP_SYS_ADMIN, clone for threads and processes but no new namespaces…
        Rule::allow("clone").arg(0, MaskedEq, CLONE_NAMESPACE_FLAGS).unless_cap(SysAdmin).arches(Arches::Except(S390)),
        Rule::allow("clone").arg(1, MaskedEq, CLONE_NAMESPACE_FLAGS).unless_cap(SysAdmin).arches(Arches::Only(S390)),
        // …and clone3, whose flags a filter cannot read, says ENOSYS so that libc falls back to clone
        Rule::fail("clone3", ENOSYS).unless_cap(SysAdmin),
    ]
};

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted_and_unique(names: &[&str]) -> bool {
        names.windows(2).all(|w| w[0] < w[1])
    }

    #[test]
    fn tables_are_sorted_and_disjoint_from_the_unconditional_list() {
        assert!(sorted_and_unique(ALLOWED));
        let conditional = ALLOWED_FROM_KERNEL
            .iter()
            .map(|(_, n)| *n)
            .chain(ALLOWED_ON_ARCHES.iter().map(|(_, n)| *n))
            .chain(ALLOWED_WITH_CAP.iter().map(|(_, n)| *n));
        for names in conditional {
            assert!(sorted_and_unique(names), "{names:?}");
            for n in names {
                assert!(ALLOWED.binary_search(n).is_err(), "{n} is both conditional and unconditional");
            }
        }
        for rule in RULES {
            assert!(ALLOWED.binary_search(&rule.name).is_err(), "{} is both conditional and unconditional", rule.name);
        }
    }
}
