//! Process and kernel attributes a Spec may ask for, each one small step of
//! the container's init: sysctls, OOM score, personality, I/O priority,
//! scheduling policy, session keyring.

use super::ChildError;
use crate::securefs::open_in_root;
use nix::fcntl::OFlag;
use oci_spec::runtime::{
    IOPriorityClass, LinuxIOPriority, LinuxNamespace, LinuxNamespaceType, LinuxPersonality, LinuxPersonalityDomain,
    LinuxSchedulerFlag, LinuxSchedulerPolicy, Scheduler,
};
use std::collections::HashMap;
use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::PathBuf;

fn os_err(what: String) -> ChildError {
    ChildError::setup(format!("{what}: {}", std::io::Error::last_os_error()))
}

/// Writes `linux.sysctl` through the container's own `/proc/sys` (the
/// container's namespaces decide what it reaches), before it is made read-only.
pub fn set_sysctls(
    os: &dyn super::syscall::Syscall,
    root: BorrowedFd<'_>,
    sysctl: &HashMap<String, String>,
) -> Result<(), ChildError> {
    let proc_sys = open_in_root(root, std::path::Path::new("/proc/sys"), OFlag::O_PATH | OFlag::O_DIRECTORY)
        .map_err(|e| ChildError::setup(format!("sysctl: open /proc/sys: {e}")))?;
    super::mounts::verify_procfs(os, &proc_sys).map_err(|e| ChildError::setup(format!("sysctl: /proc/sys: {e}")))?;
    for (key, value) in sysctl {
        if key.is_empty() || key.contains("..") || key.starts_with('/') {
            return Err(ChildError::setup(format!("invalid sysctl name {key:?}")));
        }
        let rel = PathBuf::from(key.replace('.', "/"));
        let path = PathBuf::from("/proc/sys").join(&rel);
        crate::step!(super::steps::SYSCTL, path = %path.display(), value = %value);
        // beneath the verified /proc/sys, without following any symlink
        let fd = crate::securefs::open_beneath(proc_sys.as_fd(), &rel, OFlag::O_WRONLY | OFlag::O_TRUNC)
            .map_err(|e| ChildError::setup(format!("sysctl {key}: open {}: {e}", path.display())))?;
        std::fs::File::from(fd)
            .write_all(value.as_bytes())
            .map_err(|e| ChildError::setup(format!("sysctl {key}={value}: {e}")))?;
    }
    Ok(())
}

/// Which sysctls a container may set, as runc and crun decide it: only those
/// of a namespace the container has of its own (created, or joined when that
/// is not the runtime's own); see [`crate::spec::options::sysctl_namespace`].
/// Checked before the container is started.
pub fn check_sysctls(sysctl: &HashMap<String, String>, namespaces: &[LinuxNamespace]) -> Result<(), String> {
    let mut keys: Vec<&String> = sysctl.keys().collect();
    keys.sort();
    for key in keys {
        let (typ, what) = crate::spec::options::sysctl_namespace(key)?;
        if !owns_namespace(namespaces, typ) {
            return Err(format!("sysctl {key:?} needs the container's own {what} namespace; it has the host's"));
        }
    }
    Ok(())
}

/// True when the container has a namespace of type `typ` of its own: a new
/// one, or one joined by path that is not the runtime's own.
pub fn owns_namespace(namespaces: &[LinuxNamespace], typ: LinuxNamespaceType) -> bool {
    let file = super::child::ns_file(typ);
    namespaces
        .iter()
        .any(|n| n.typ() == typ && n.path().as_ref().is_none_or(|p| !same_file(p, &format!("/proc/self/ns/{file}"))))
}

/// True when both paths name the same file.
fn same_file(a: &std::path::Path, b: &str) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Brings up `lo` in the container's new network namespace (a new one
/// starts with it down), as runc and crun do: 127.0.0.1 then works.
pub fn bring_loopback_up() -> Result<(), ChildError> {
    // SAFETY: socket(2) with constant arguments; the descriptor is owned below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(os_err("socket for the loopback interface".into()));
    }
    // SAFETY: fd is a new descriptor nothing else owns.
    let sock = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    // SAFETY: ifreq is plain old data; all zeroes is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    use std::os::fd::AsRawFd;
    // SAFETY: SIOCGIFFLAGS fills the flags of the ifreq we own.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) } != 0 {
        return Err(os_err("ioctl(SIOCGIFFLAGS) lo".into()));
    }
    // SAFETY: the flags member of the union was just filled by the kernel.
    unsafe { req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
    crate::step!(super::steps::LOOPBACK, interface = "lo", flags = "IFF_UP");
    // SAFETY: SIOCSIFFLAGS reads the ifreq we own.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req) } != 0 {
        return Err(os_err("ioctl(SIOCSIFFLAGS) lo up".into()));
    }
    Ok(())
}

/// `process.oomScoreAdj` (lowering it needs CAP_SYS_RESOURCE, which the host may lack).
pub fn set_oom_score_adj(adj: i32) -> Result<(), ChildError> {
    crate::step!(super::steps::OOM_SCORE_ADJ, value = adj);
    std::fs::write("/proc/self/oom_score_adj", adj.to_string())
        .map_err(|e| ChildError::setup(format!("write /proc/self/oom_score_adj {adj}: {e}")))
}

/// `linux.personality`: LINUX or LINUX32 (flags are not defined by the spec yet).
pub fn set_personality(p: &LinuxPersonality) -> Result<(), ChildError> {
    const PER_LINUX: libc::c_ulong = 0x0000;
    const PER_LINUX32: libc::c_ulong = 0x0008;
    if p.flags().as_ref().is_some_and(|f| !f.is_empty()) {
        return Err(ChildError::setup("linux.personality.flags are not supported"));
    }
    let persona = match p.domain() {
        LinuxPersonalityDomain::PerLinux => PER_LINUX,
        LinuxPersonalityDomain::PerLinux32 => PER_LINUX32,
    };
    crate::step!(super::steps::PERSONALITY, domain = ?p.domain(), persona);
    // SAFETY: personality(2) takes a plain integer.
    if unsafe { libc::personality(persona) } == -1 {
        return Err(os_err(format!("personality {:?}", p.domain())));
    }
    Ok(())
}

/// `process.ioPriority`, with ioprio_set(IOPRIO_WHO_PROCESS, 0, …).
pub fn set_io_priority(p: &LinuxIOPriority) -> Result<(), ChildError> {
    let class = match p.class() {
        IOPriorityClass::IoprioClassRt => 1,
        IOPriorityClass::IoprioClassBe => 2,
        IOPriorityClass::IoprioClassIdle => 3,
    };
    if !(0..=7).contains(&p.priority()) {
        return Err(ChildError::setup(format!("ioPriority.priority {} is outside 0..7", p.priority())));
    }
    let value = (class << 13) | p.priority() as libc::c_int;
    crate::step!(super::steps::IO_PRIORITY, class = ?p.class(), priority = p.priority());
    // SAFETY: ioprio_set takes three integers.
    if unsafe {
        libc::syscall(libc::SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 0, value)
    } != 0
    {
        return Err(os_err(format!("ioprio_set class {:?} priority {}", p.class(), p.priority())));
    }
    Ok(())
}

/// `struct sched_attr` of sched_setattr(2).
#[repr(C)]
#[derive(Default)]
struct SchedAttr {
    size: u32,
    policy: u32,
    flags: u64,
    nice: i32,
    priority: u32,
    runtime: u64,
    deadline: u64,
    period: u64,
}

/// `process.scheduler`, with sched_setattr(2).
pub fn set_scheduler(s: &Scheduler) -> Result<(), ChildError> {
    let policy = match s.policy() {
        LinuxSchedulerPolicy::SchedOther => libc::SCHED_OTHER,
        LinuxSchedulerPolicy::SchedFifo => libc::SCHED_FIFO,
        LinuxSchedulerPolicy::SchedRr => libc::SCHED_RR,
        LinuxSchedulerPolicy::SchedBatch => libc::SCHED_BATCH,
        LinuxSchedulerPolicy::SchedIdle => libc::SCHED_IDLE,
        LinuxSchedulerPolicy::SchedDeadline => 6,
        LinuxSchedulerPolicy::SchedIso => return Err(ChildError::setup("SCHED_ISO is not in the Linux kernel")),
    };
    let mut flags = 0u64;
    for f in s.flags().iter().flatten() {
        flags |= match f {
            LinuxSchedulerFlag::SchedResetOnFork => 0x01,
            LinuxSchedulerFlag::SchedFlagReclaim => 0x02,
            LinuxSchedulerFlag::SchedFlagDLOverrun => 0x04,
            LinuxSchedulerFlag::SchedFlagKeepPolicy => 0x08,
            LinuxSchedulerFlag::SchedFlagKeepParams => 0x10,
            LinuxSchedulerFlag::SchedFlagUtilClampMin => 0x20,
            LinuxSchedulerFlag::SchedFlagUtilClampMax => 0x40,
        };
    }
    let attr = SchedAttr {
        size: std::mem::size_of::<SchedAttr>() as u32,
        policy: policy as u32,
        flags,
        nice: s.nice().unwrap_or(0),
        priority: s.priority().unwrap_or(0) as u32,
        runtime: s.runtime().unwrap_or(0),
        deadline: s.deadline().unwrap_or(0),
        period: s.period().unwrap_or(0),
    };
    crate::step!(super::steps::SCHEDULER, policy = ?s.policy(), nice = attr.nice, priority = attr.priority);
    // SAFETY: attr is a complete sched_attr of the size it declares; pid 0 is this process.
    if unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0) } != 0 {
        return Err(os_err(format!("sched_setattr {:?}", s.policy())));
    }
    Ok(())
}

/// A new session keyring named after the container, so that keys are not
/// shared with the host's session (runc does the same; `--no-new-keyring` skips it).
pub fn join_new_keyring(name: &str) {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    let Ok(c) = std::ffi::CString::new(name) else { return };
    crate::step!(super::steps::KEYRING, name);
    // SAFETY: keyctl with a valid NUL-terminated name; failure (keys disabled) is harmless.
    unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, c.as_ptr()) };
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxNamespaceBuilder;

    fn ns(types: &[LinuxNamespaceType]) -> Vec<LinuxNamespace> {
        types.iter().map(|t| LinuxNamespaceBuilder::default().typ(*t).build().unwrap()).collect()
    }

    fn one(key: &str) -> HashMap<String, String> {
        HashMap::from([(key.to_string(), "1".to_string())])
    }

    #[test]
    fn sysctls_need_a_namespace_of_the_containers_own() {
        use LinuxNamespaceType::*;
        let all = ns(&[Mount, Pid, Ipc, Network, Uts]);
        for key in ["net.ipv4.ip_forward", "kernel.msgmax", "fs.mqueue.msg_max", "kernel.domainname"] {
            assert!(check_sysctls(&one(key), &all).is_ok(), "{key}");
        }
        let none = ns(&[Mount, Pid]);
        for key in ["net.ipv4.ip_forward", "kernel.msgmax", "fs.mqueue.msg_max", "kernel.domainname"] {
            let e = check_sysctls(&one(key), &none).unwrap_err();
            assert!(e.contains(key) && e.contains("namespace"), "{e}");
        }
        // never namespaced, or set another way
        for key in ["vm.swappiness", "kernel.hostname", "kernel.panic"] {
            assert!(check_sysctls(&one(key), &all).is_err(), "{key}");
        }
        // joining the runtime's own network namespace is the host's
        let host_net = LinuxNamespaceBuilder::default().typ(Network).path("/proc/self/ns/net").build().unwrap();
        assert!(check_sysctls(&one("net.ipv4.ip_forward"), &[host_net]).is_err());
    }
}
