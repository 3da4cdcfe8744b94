//! Who the container process is: uid/gid/groups, capabilities in all five
//! sets, no_new_privs, rlimits.

use super::ChildError;
use caps::{CapSet, Capability as Cap, CapsHashSet};
use nix::unistd::{setgroups, setresgid, setresuid, Gid, Uid};
use oci_spec::runtime::{LinuxCapabilities, PosixRlimit, PosixRlimitType, Process};
use std::str::FromStr;
use tracing::debug;

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
pub fn drop_bounding(caps: &CapSets) -> Result<(), ChildError> {
    crate::step!(super::steps::BOUNDING_SET, kept = %cap_names(&caps.bounding));
    for cap in caps::all() {
        if !caps.bounding.contains(&cap) && caps::has_cap(None, CapSet::Bounding, cap).unwrap_or(false) {
            caps::drop(None, CapSet::Bounding, cap)
                .map_err(|e| ChildError::setup(format!("drop {cap} from the bounding set: {e}")))?;
        }
    }
    Ok(())
}

/// Switches to the process's user and groups, keeping capabilities across
/// the uid change, then sets the effective, permitted, inheritable and ambient sets.
/// `as_user` runs in between, with the user's ids (for a user other than
/// root, with no effective capability: what it may do, the user may do).
pub fn switch_user(
    process: &Process,
    caps: &CapSets,
    as_user: impl FnOnce() -> Result<(), ChildError>,
) -> Result<(), ChildError> {
    let user = process.user();
    let keep = |on: libc::c_ulong| {
        // SAFETY: PR_SET_KEEPCAPS takes one integer argument and touches no memory.
        let rc = unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, on, 0, 0, 0) };
        if rc != 0 {
            Err(ChildError::setup(format!("prctl(PR_SET_KEEPCAPS): {}", std::io::Error::last_os_error())))
        } else {
            Ok(())
        }
    };
    keep(1)?;
    let groups: Vec<Gid> = user.additional_gids().iter().flatten().map(|g| Gid::from_raw(*g)).collect();
    crate::step!(
        super::steps::SETGROUPS,
        groups = %groups.iter().map(|g| g.to_string()).collect::<Vec<_>>().join(",")
    );
    match setgroups(&groups) {
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
    setresgid(gid, gid, gid).map_err(|e| ChildError::setup(format!("setresgid {gid}: {e}")))?;
    crate::step!(super::steps::SETRESUID, ruid = user.uid(), euid = user.uid(), suid = user.uid());
    setresuid(uid, uid, uid).map_err(|e| ChildError::setup(format!("setresuid {uid}: {e}")))?;
    keep(0)?;
    // a non-root uid kept its permitted set (KEEPCAPS) but not its effective one
    as_user()?;
    // effective must stay within permitted at every step: shrink effective first
    let set = |which: CapSet, v: &CapsHashSet, name: &str| {
        caps::set(None, which, v).map_err(|e| ChildError::setup(format!("capset {name}: {e}")))
    };
    set(CapSet::Effective, &caps.effective.intersection(&caps.permitted).cloned().collect(), "effective")?;
    set(CapSet::Permitted, &caps.permitted, "permitted")?;
    set(CapSet::Effective, &caps.effective, "effective")?;
    set(CapSet::Inheritable, &caps.inheritable, "inheritable")?;
    caps::clear(None, CapSet::Ambient).map_err(|e| ChildError::setup(format!("clear ambient capabilities: {e}")))?;
    for cap in &caps.ambient {
        // the kernel raises an ambient capability only if it is also inheritable and permitted;
        // runc's own default spec asks for ambient ones without inheritable: skip them as runc does
        if let Err(e) = caps::raise(None, CapSet::Ambient, *cap) {
            debug!(capability = %cap, error = %e, "ambient capability not raised (not inheritable or not permitted)");
        }
    }
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
pub fn set_umask(umask: Option<u32>) {
    let mask = umask.unwrap_or(0o022) & 0o777;
    crate::step!(super::steps::UMASK, mask = %format!("{mask:04o}"));
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(mask));
}

/// `no_new_privs`: setuid binaries and file capabilities no longer grant anything.
pub fn set_no_new_privs() -> Result<(), ChildError> {
    crate::step!(super::steps::NO_NEW_PRIVS, value = 1);
    // SAFETY: PR_SET_NO_NEW_PRIVS takes integer arguments only.
    let rc = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
    if rc != 0 {
        return Err(ChildError::setup(format!("prctl(PR_SET_NO_NEW_PRIVS): {}", std::io::Error::last_os_error())));
    }
    Ok(())
}

/// Applies the Spec's rlimits. A hard limit above the current one is refused
/// by the kernel without CAP_SYS_RESOURCE; the error names the limit.
pub fn set_rlimits(rlimits: &[PosixRlimit]) -> Result<(), ChildError> {
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
        let lim = libc::rlimit { rlim_cur: r.soft(), rlim_max: r.hard() };
        crate::step!(
            super::steps::RLIMIT,
            resource = %format!("{:?}", r.typ()).replacen("Rlimit", "RLIMIT_", 1).to_uppercase(),
            soft = r.soft(),
            hard = r.hard()
        );
        // SAFETY: `lim` is a valid rlimit for the duration of the call.
        if unsafe { libc::setrlimit(resource, &lim) } != 0 {
            return Err(ChildError::setup(format!(
                "setrlimit {:?} soft={} hard={}: {}",
                r.typ(),
                r.soft(),
                r.hard(),
                std::io::Error::last_os_error()
            )));
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
