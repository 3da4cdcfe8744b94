//! Who the container process is: uid/gid/groups, capabilities in all five
//! sets, no_new_privs, rlimits.

use super::syscall::Syscall;
use super::ChildError;
use caps::{CapSet, Capability as Cap, CapsHashSet};
use nix::unistd::{Gid, Uid};
use oci_spec::runtime::{LinuxCapabilities, PosixRlimit, PosixRlimitType, Process};
use std::str::FromStr;

/// Converts the Spec's capability names to the kernel's.
fn to_caps(set: &Option<oci_spec::runtime::Capabilities>) -> Result<CapsHashSet, ChildError> {
    let mut out = CapsHashSet::new();
    for c in set.iter().flatten() {
        let name = serde_json::to_value(c).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
        match Cap::from_str(&name) {
            Ok(cap) => {
                out.insert(cap);
            }
            Err(_) => return Err(ChildError::setup(format!("unknown capability {name}"))),
        }
    }
    Ok(out)
}

/// The capability sets of a process, resolved to kernel names.
pub struct CapSets {
    bounding: CapsHashSet,
    effective: CapsHashSet,
    permitted: CapsHashSet,
    inheritable: CapsHashSet,
    ambient: CapsHashSet,
}

impl CapSets {
    pub fn from_spec(c: Option<&LinuxCapabilities>) -> Result<CapSets, ChildError> {
        let Some(c) = c else {
            let none = CapsHashSet::new;
            return Ok(CapSets {
                bounding: none(),
                effective: none(),
                permitted: none(),
                inheritable: none(),
                ambient: none(),
            });
        };
        Ok(CapSets {
            bounding: to_caps(c.bounding())?,
            effective: to_caps(c.effective())?,
            permitted: to_caps(c.permitted())?,
            inheritable: to_caps(c.inheritable())?,
            ambient: to_caps(c.ambient())?,
        })
    }
}

/// Drops every capability outside the bounding set from the bounding set. Needs CAP_SETPCAP, so runs first.
pub fn drop_bounding(os: &dyn Syscall, caps: &CapSets) -> Result<(), ChildError> {
    crate::step!(super::steps::BOUNDING_SET, kept = %cap_names(&caps.bounding));
    os.set_capability(CapSet::Bounding, &caps.bounding)
        .map_err(|e| ChildError::setup(format!("drop capabilities from the bounding set: {e}")))
}

/// Switches to the process's user and groups, keeping capabilities across
/// the uid change, then sets the effective, permitted, inheritable and ambient sets.
/// `as_user` runs in between, with the user's ids (for a user other than
/// root, with no effective capability: what it may do, the user may do).
pub fn switch_user(
    os: &dyn Syscall,
    process: &Process,
    caps: &CapSets,
    as_user: impl FnOnce() -> Result<(), ChildError>,
) -> Result<(), ChildError> {
    let user = process.user();
    let keep = |on: bool| {
        os.set_keep_caps(on).map_err(|e| ChildError::setup(format!("prctl(PR_SET_KEEPCAPS, {}): {e}", on as u8)))
    };
    keep(true)?;
    let groups: Vec<Gid> = user.additional_gids().iter().flatten().map(|g| Gid::from_raw(*g)).collect();
    crate::step!(
        super::steps::SETGROUPS,
        groups = %groups.iter().map(|g| g.to_string()).collect::<Vec<_>>().join(",")
    );
    match os.setgroups(&groups) {
        Ok(()) => {}
        // single-id rootless (or runc's rootless mode): the namespace was made with setgroups
        // denied, so the process keeps the (unmapped) groups it has and can add none
        Err(nix::errno::Errno::EPERM | nix::errno::Errno::EINVAL)
            if crate::rootless::active().is_some_and(|r| r.single_id())
                || std::fs::read_to_string("/proc/self/setgroups").is_ok_and(|s| s.trim() == "deny") => {}
        Err(e) => return Err(ChildError::setup(format!("setgroups {groups:?}: {e}"))),
    }
    let gid = Gid::from_raw(user.gid());
    let uid = Uid::from_raw(user.uid());
    crate::step!(super::steps::SETRESGID, rgid = user.gid(), egid = user.gid(), sgid = user.gid());
    os.setresgid(gid).map_err(|e| ChildError::setup(format!("setresgid({gid}, {gid}, {gid}): {e}")))?;
    crate::step!(super::steps::SETRESUID, ruid = user.uid(), euid = user.uid(), suid = user.uid());
    os.setresuid(uid).map_err(|e| ChildError::setup(format!("setresuid({uid}, {uid}, {uid}): {e}")))?;
    keep(false)?;
    // a non-root uid kept its permitted set (KEEPCAPS) but not its effective one
    as_user()?;
    // effective must stay within permitted at every step: shrink effective first
    let set = |which: CapSet, v: &CapsHashSet, name: &str| {
        os.set_capability(which, v).map_err(|e| ChildError::setup(format!("capset {name}: {e}")))
    };
    set(CapSet::Effective, &caps.effective.intersection(&caps.permitted).cloned().collect(), "effective")?;
    set(CapSet::Permitted, &caps.permitted, "permitted")?;
    set(CapSet::Effective, &caps.effective, "effective")?;
    set(CapSet::Inheritable, &caps.inheritable, "inheritable")?;
    // cleared, then each raised the kernel allows (see `Syscall::set_capability`)
    set(CapSet::Ambient, &caps.ambient, "ambient")?;
    crate::step!(
        super::steps::CAPABILITIES,
        effective = %cap_names(&caps.effective),
        permitted = %cap_names(&caps.permitted),
        inheritable = %cap_names(&caps.inheritable),
        ambient = %cap_names(&caps.ambient)
    );
    Ok(())
}

/// `process.user.umask` (runc's default, 0022, where the Spec names none).
pub fn set_umask(os: &dyn Syscall, umask: Option<u32>) {
    let mask = umask.unwrap_or(0o022) & 0o777;
    crate::step!(super::steps::UMASK, mask = %format!("{mask:04o}"));
    os.umask(nix::sys::stat::Mode::from_bits_truncate(mask));
}

/// `no_new_privs`: setuid binaries and file capabilities no longer grant anything.
pub fn set_no_new_privs(os: &dyn Syscall) -> Result<(), ChildError> {
    crate::step!(super::steps::NO_NEW_PRIVS, value = 1);
    os.set_no_new_privs().map_err(|e| ChildError::setup(format!("prctl(PR_SET_NO_NEW_PRIVS): {e}")))
}

/// Applies the Spec's rlimits. A hard limit above the current one is refused
/// by the kernel without CAP_SYS_RESOURCE; the error names the limit.
pub fn set_rlimits(os: &dyn Syscall, rlimits: &[PosixRlimit]) -> Result<(), ChildError> {
    for r in rlimits {
        let resource = match r.typ() {
            PosixRlimitType::RlimitCpu => libc::RLIMIT_CPU,
            PosixRlimitType::RlimitFsize => libc::RLIMIT_FSIZE,
            PosixRlimitType::RlimitData => libc::RLIMIT_DATA,
            PosixRlimitType::RlimitStack => libc::RLIMIT_STACK,
            PosixRlimitType::RlimitCore => libc::RLIMIT_CORE,
            PosixRlimitType::RlimitRss => libc::RLIMIT_RSS,
            PosixRlimitType::RlimitNproc => libc::RLIMIT_NPROC,
            PosixRlimitType::RlimitNofile => libc::RLIMIT_NOFILE,
            PosixRlimitType::RlimitMemlock => libc::RLIMIT_MEMLOCK,
            PosixRlimitType::RlimitAs => libc::RLIMIT_AS,
            PosixRlimitType::RlimitLocks => libc::RLIMIT_LOCKS,
            PosixRlimitType::RlimitSigpending => libc::RLIMIT_SIGPENDING,
            PosixRlimitType::RlimitMsgqueue => libc::RLIMIT_MSGQUEUE,
            PosixRlimitType::RlimitNice => libc::RLIMIT_NICE,
            PosixRlimitType::RlimitRtprio => libc::RLIMIT_RTPRIO,
            PosixRlimitType::RlimitRttime => libc::RLIMIT_RTTIME,
        };
        crate::step!(
            super::steps::RLIMIT,
            resource = %format!("{:?}", r.typ()).replacen("Rlimit", "RLIMIT_", 1).to_uppercase(),
            soft = r.soft(),
            hard = r.hard()
        );
        if let Err(e) = os.setrlimit(resource, r.soft(), r.hard()) {
            return Err(ChildError::setup(format!("setrlimit {:?} soft={} hard={}: {e}", r.typ(), r.soft(), r.hard())));
        }
    }
    Ok(())
}

/// A capability set as the kernel's names, sorted (`none` when empty).
fn cap_names(set: &CapsHashSet) -> String {
    let mut v: Vec<String> = set.iter().map(|c| c.to_string()).collect();
    if v.is_empty() {
        return "none".into();
    }
    v.sort();
    v.join(",")
}
