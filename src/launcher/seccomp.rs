//! Seccomp: the runtime Spec's `linux.seccomp` → one BPF program.
//!
//! [`build_filter`] runs in the parent, before the fork: it resolves every
//! syscall name for every architecture, turns actions and argument conditions
//! into libseccomp rules, and has libseccomp compile them into classic BPF.
//! The container's init then needs a single system call to install it
//! ([`Filter::load_notify`]), right before exec: no allocation, no name lookup and no
//! libseccomp code run inside the container.
//!
//! As runc does, a syscall name this libseccomp does not know is skipped (with a
//! debug event), several conditions on the same argument become one rule each
//! (libseccomp ANDs the conditions of one rule and refuses two on one
//! argument), and, when the default action denies, a short stub in front of
//! the program answers `ENOSYS` to syscall numbers above the highest one the
//! profile names on that architecture: a kernel newer than the profile (or than
//! libseccomp) then looks to libc like an older kernel, and libc falls back
//! (glibc's `fchmodat2` → `fchmodat`, `clone3` → `clone`) instead of failing with `EPERM`.
//!
//! `SCMP_ACT_NOTIFY` hands matching syscalls to a supervisor: the filter is
//! then installed with `SECCOMP_FILTER_FLAG_NEW_LISTENER`, [`Filter::load_notify`]
//! returns the listener descriptor, the init passes it to the runtime (its
//! parent, outside the container's mount namespace), and the runtime sends it
//! with the container process state to `listenerPath` ([`send_to_listener`]).

use libseccomp::error::SeccompError as ScmpError;
use libseccomp::{ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall};
use nix::errno::Errno;
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompFilterFlag, LinuxSeccompOperator,
};
use std::io::{Read, Seek, Write};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use tracing::debug;

/// The kernel's limit on a classic BPF program (`BPF_MAXINSNS`).
const MAX_INSTRUCTIONS: usize = 4096;
/// x32 syscalls are x86_64's with this bit set.
const X32_SYSCALL_BIT: u32 = 0x4000_0000;
/// The `ociVersion` of the message to the listener when the state names none.
const OCI_VERSION: &str = "1.0.2";

#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    #[error("seccomp: creating the filter with default action {action}: {source}")]
    Create { action: String, source: ScmpError },
    #[error("seccomp: architecture {arch}: {reason}")]
    Arch { arch: String, reason: String },
    #[error("seccomp: {action} for {syscall}: errnoRet {value} is out of range (at most 65535)")]
    ErrnoRange { syscall: String, action: String, value: u32 },
    #[error("seccomp: {action} for {syscall}: errnoRet is only valid with SCMP_ACT_ERRNO and SCMP_ACT_TRACE")]
    ErrnoRetNotAllowed { syscall: String, action: String },
    #[error("seccomp: SCMP_ACT_NOTIFY cannot be the default action")]
    NotifyDefault,
    #[error("seccomp: SCMP_ACT_NOTIFY for {syscall} needs linux.seccomp.listenerPath, which is not set")]
    NotifyWithoutListener { syscall: String },
    #[error("seccomp: SCMP_ACT_NOTIFY cannot be used for {syscall}: the container's init sends the listener descriptor with it")]
    NotifyReserved { syscall: String },
    #[error("seccomp: {syscall}: argument index {index} is out of range (a syscall has 6 arguments, 0 to 5)")]
    ArgIndex { syscall: String, index: usize },
    /// `rule` reads "SCMP_ACT_ERRNO for mkdirat if arg0 SCMP_CMP_EQ 0x1".
    #[error("seccomp: adding {rule} (architectures {arches}): {source}")]
    Rule { rule: String, arches: String, source: ScmpError },
    #[error("seccomp: compiling the filter to BPF: {0}")]
    Export(String),
    #[error("seccomp: the filter is {0} BPF instructions long; the kernel accepts at most 4096")]
    TooLong(usize),
    #[error("seccomp(SECCOMP_SET_MODE_FILTER, flags {flags:#x}): {errno}{}", load_hint(*.errno))]
    Load { flags: libc::c_ulong, errno: Errno },
    #[error("seccomp listener {path}: {op}: {reason}")]
    Listener { path: PathBuf, op: &'static str, reason: String },
    /// runc's words, which engines and tests look for
    #[error("failed to connect with seccomp agent specified in the seccomp profile: {path}: {reason}")]
    AgentUnreachable { path: PathBuf, reason: String },
}

fn load_hint(errno: Errno) -> &'static str {
    match errno {
        Errno::EACCES => " (installing a filter needs no_new_privs or CAP_SYS_ADMIN)",
        Errno::EINVAL => " (a flag or action this kernel does not support, or an invalid program)",
        Errno::ESRCH => " (SECCOMP_FILTER_FLAG_TSYNC: another thread could not be synchronized)",
        Errno::EBUSY => " (a listener is already installed in this process)",
        _ => "",
    }
}

/// A compiled filter, ready to load.
pub struct Filter {
    program: Vec<libc::sock_filter>,
    flags: libc::c_ulong,
    /// The `listenerPath` the notify descriptor goes to, when the filter uses `SCMP_ACT_NOTIFY`.
    listener: Option<PathBuf>,
}

impl std::fmt::Debug for Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Filter")
            .field("instructions", &self.program.len())
            .field("flags", &format_args!("{:#x}", self.flags))
            .field("listener", &self.listener)
            .finish()
    }
}

fn action_name(a: LinuxSeccompAction) -> String {
    a.to_string()
}

/// The libseccomp action of a Spec action, with runc's defaults: `EPERM` for
/// `SCMP_ACT_ERRNO` and `SCMP_ACT_TRACE` without `errnoRet`.
fn to_action(action: LinuxSeccompAction, errno_ret: Option<u32>, syscall: &str) -> Result<ScmpAction, SeccompError> {
    let ret = |errno_ret: Option<u32>| -> Result<u16, SeccompError> {
        let v = errno_ret.unwrap_or(libc::EPERM as u32);
        u16::try_from(v).map_err(|_| SeccompError::ErrnoRange {
            syscall: syscall.to_string(),
            action: action_name(action),
            value: v,
        })
    };
    let no_ret = || -> Result<(), SeccompError> {
        match errno_ret {
            Some(_) => {
                Err(SeccompError::ErrnoRetNotAllowed { syscall: syscall.to_string(), action: action_name(action) })
            }
            None => Ok(()),
        }
    };
    Ok(match action {
        LinuxSeccompAction::ScmpActErrno => ScmpAction::Errno(i32::from(ret(errno_ret)?)),
        LinuxSeccompAction::ScmpActTrace => ScmpAction::Trace(ret(errno_ret)?),
        other => {
            no_ret()?;
            match other {
                LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => ScmpAction::KillThread,
                LinuxSeccompAction::ScmpActKillProcess => ScmpAction::KillProcess,
                LinuxSeccompAction::ScmpActTrap => ScmpAction::Trap,
                LinuxSeccompAction::ScmpActNotify => ScmpAction::Notify,
                LinuxSeccompAction::ScmpActLog => ScmpAction::Log,
                LinuxSeccompAction::ScmpActAllow => ScmpAction::Allow,
                LinuxSeccompAction::ScmpActErrno | LinuxSeccompAction::ScmpActTrace => unreachable!(),
            }
        }
    })
}

/// libseccomp's token for a Spec architecture (`None`: the native one).
fn to_arch(a: Arch) -> Option<ScmpArch> {
    Some(match a {
        Arch::ScmpArchNative => return None,
        Arch::ScmpArchX86 => ScmpArch::X86,
        Arch::ScmpArchX86_64 => ScmpArch::X8664,
        Arch::ScmpArchX32 => ScmpArch::X32,
        Arch::ScmpArchArm => ScmpArch::Arm,
        Arch::ScmpArchAarch64 => ScmpArch::Aarch64,
        Arch::ScmpArchMips => ScmpArch::Mips,
        Arch::ScmpArchMips64 => ScmpArch::Mips64,
        Arch::ScmpArchMips64n32 => ScmpArch::Mips64N32,
        Arch::ScmpArchMipsel => ScmpArch::Mipsel,
        Arch::ScmpArchMipsel64 => ScmpArch::Mipsel64,
        Arch::ScmpArchMipsel64n32 => ScmpArch::Mipsel64N32,
        Arch::ScmpArchPpc => ScmpArch::Ppc,
        Arch::ScmpArchPpc64 => ScmpArch::Ppc64,
        Arch::ScmpArchPpc64le => ScmpArch::Ppc64Le,
        Arch::ScmpArchS390 => ScmpArch::S390,
        Arch::ScmpArchS390x => ScmpArch::S390X,
        Arch::ScmpArchRiscv64 => ScmpArch::Riscv64,
        Arch::ScmpArchParisc => ScmpArch::Parisc,
        Arch::ScmpArchParisc64 => ScmpArch::Parisc64,
        Arch::ScmpArchLoongarch64 => ScmpArch::Loongarch64,
        Arch::ScmpArchM68k => ScmpArch::M68k,
        Arch::ScmpArchSh => ScmpArch::Sh,
        Arch::ScmpArchSheb => ScmpArch::Sheb,
    })
}

/// The `AUDIT_ARCH_*` value the kernel puts in `seccomp_data.arch` (x32 shares
/// x86_64's and is told apart by [`X32_SYSCALL_BIT`]: no stub of its own).
fn audit_arch(a: ScmpArch) -> Option<u32> {
    Some(match a {
        ScmpArch::X8664 => 0xc000_003e,
        ScmpArch::X86 => 0x4000_0003,
        ScmpArch::Aarch64 => 0xc000_00b7,
        ScmpArch::Arm => 0x4000_0028,
        ScmpArch::Riscv64 => 0xc000_00f3,
        ScmpArch::S390X => 0x8000_0016,
        ScmpArch::S390 => 0x0000_0016,
        ScmpArch::Ppc64Le => 0xc000_0015,
        ScmpArch::Ppc64 => 0x8000_0015,
        ScmpArch::Ppc => 0x0000_0014,
        ScmpArch::Mips => 0x0000_0008,
        ScmpArch::Mipsel => 0x4000_0008,
        ScmpArch::Mips64 => 0x8000_0008,
        ScmpArch::Mipsel64 => 0xc000_0008,
        ScmpArch::Mips64N32 => 0xa000_0008,
        ScmpArch::Mipsel64N32 => 0xe000_0008,
        _ => return None,
    })
}

fn to_condition(arg: &LinuxSeccompArg, syscall: &str) -> Result<ScmpArgCompare, SeccompError> {
    let index = arg.index();
    if index > 5 {
        return Err(SeccompError::ArgIndex { syscall: syscall.to_string(), index });
    }
    let (op, datum) = match arg.op() {
        LinuxSeccompOperator::ScmpCmpNe => (ScmpCompareOp::NotEqual, arg.value()),
        LinuxSeccompOperator::ScmpCmpLt => (ScmpCompareOp::Less, arg.value()),
        LinuxSeccompOperator::ScmpCmpLe => (ScmpCompareOp::LessOrEqual, arg.value()),
        LinuxSeccompOperator::ScmpCmpEq => (ScmpCompareOp::Equal, arg.value()),
        LinuxSeccompOperator::ScmpCmpGe => (ScmpCompareOp::GreaterEqual, arg.value()),
        LinuxSeccompOperator::ScmpCmpGt => (ScmpCompareOp::Greater, arg.value()),
        // (arg & value) == valueTwo, as runc passes them to libseccomp
        LinuxSeccompOperator::ScmpCmpMaskedEq => {
            (ScmpCompareOp::MaskedEqual(arg.value()), arg.value_two().unwrap_or(0))
        }
    };
    Ok(ScmpArgCompare::new(index as u32, op, datum))
}

fn describe(args: &[LinuxSeccompArg]) -> String {
    if args.is_empty() {
        return String::new();
    }
    let conds: Vec<String> = args
        .iter()
        .map(|a| match a.value_two() {
            Some(v2) => format!("arg{} {} {:#x} {:#x}", a.index(), a.op(), a.value(), v2),
            None => format!("arg{} {} {:#x}", a.index(), a.op(), a.value()),
        })
        .collect();
    format!(" if {}", conds.join(" and "))
}

/// Is the default action one that refuses, so unknown syscalls may answer `ENOSYS` instead?
fn default_denies(action: LinuxSeccompAction, errno_ret: Option<u32>) -> bool {
    match action {
        LinuxSeccompAction::ScmpActErrno => errno_ret != Some(libc::ENOSYS as u32),
        LinuxSeccompAction::ScmpActKill
        | LinuxSeccompAction::ScmpActKillThread
        | LinuxSeccompAction::ScmpActKillProcess
        | LinuxSeccompAction::ScmpActTrap => true,
        LinuxSeccompAction::ScmpActAllow
        | LinuxSeccompAction::ScmpActLog
        | LinuxSeccompAction::ScmpActTrace
        | LinuxSeccompAction::ScmpActNotify => false,
    }
}

/// Where compiled filters are kept between runs: a directory of rrun's
/// volatile state that only this user may write (a planted program would be
/// loaded into containers as it is).
fn cache_dir() -> Option<PathBuf> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    let dir = crate::rootless::state_dir().join(".cache").join("seccomp");
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&dir).ok()?;
    let euid = nix::unistd::Uid::effective().as_raw();
    let trusted = |p: &Path| std::fs::metadata(p).is_ok_and(|m| m.uid() == euid && m.mode() & 0o022 == 0);
    (trusted(&dir) && dir.parent().is_some_and(trusted)).then_some(dir)
}

const CACHE_MAGIC: &[u8; 8] = b"RRUNBPF1";

/// The version of the libseccomp rrun runs with (`2.5.4`).
pub fn libseccomp_version() -> Option<String> {
    libseccomp::ScmpVersion::current().ok().map(|v| format!("{}.{}.{}", v.major, v.minor, v.micro))
}

/// Compiles a Spec's `linux.seccomp` into a [`Filter`], or takes the program
/// compiled before for the very same profile (Docker's default costs
/// libseccomp several milliseconds, at every start otherwise). The key is
/// the profile's JSON with rrun's and libseccomp's versions.
pub fn build_filter_cached(seccomp: &LinuxSeccomp) -> Result<Filter, SeccompError> {
    let Some(dir) = cache_dir() else { return build_filter(seccomp) };
    let version = libseccomp_version().unwrap_or_default();
    let json = serde_json::to_string(seccomp).unwrap_or_default();
    let key = crate::digest::Digest::of(format!("{}\n{version}\n{json}", env!("CARGO_PKG_VERSION")).as_bytes());
    let path = dir.join(format!("{}.bpf", key.hex()));
    if let Some(filter) = std::fs::read(&path).ok().and_then(|b| decode(&b, seccomp)) {
        crate::step!(super::steps::SECCOMP_COMPILE, from = "the cache", path = %path.display(), instructions = filter.program.len());
        return Ok(filter);
    }
    let filter = build_filter(seccomp)?;
    // a cache that cannot be written only costs the next start its compilation
    let _ = crate::store::write_file_atomic(&path, &encode(&filter), false);
    Ok(filter)
}

fn encode(f: &Filter) -> Vec<u8> {
    let mut out = CACHE_MAGIC.to_vec();
    #[allow(clippy::useless_conversion)] // c_ulong is u32 on 32-bit targets
    out.extend_from_slice(&u64::from(f.flags).to_le_bytes());
    out.push(f.listener.is_some() as u8);
    out.extend_from_slice(&(f.program.len() as u32).to_le_bytes());
    for i in &f.program {
        out.extend_from_slice(&i.code.to_le_bytes());
        out.push(i.jt);
        out.push(i.jf);
        out.extend_from_slice(&i.k.to_le_bytes());
    }
    out
}

/// The filter a cache file holds, if it is whole; the listener comes from the profile (part of the key).
fn decode(b: &[u8], seccomp: &LinuxSeccomp) -> Option<Filter> {
    let rest = b.strip_prefix(CACHE_MAGIC.as_slice())?;
    let flags = u64::from_le_bytes(rest.get(..8)?.try_into().ok()?) as libc::c_ulong;
    let has_listener = *rest.get(8)? == 1;
    let n = u32::from_le_bytes(rest.get(9..13)?.try_into().ok()?) as usize;
    let body = rest.get(13..)?;
    if body.len() != n * 8 || n == 0 || n > MAX_INSTRUCTIONS {
        return None;
    }
    let program = body
        .chunks_exact(8)
        .map(|c| libc::sock_filter {
            code: u16::from_le_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_le_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect();
    let listener = if has_listener { Some(seccomp.listener_path().clone()?) } else { None };
    Some(Filter { program, flags, listener })
}

/// Compiles a Spec's `linux.seccomp` into a [`Filter`]. Runs in the parent, before the fork.
pub fn build_filter(seccomp: &LinuxSeccomp) -> Result<Filter, SeccompError> {
    let default = seccomp.default_action();
    if default == LinuxSeccompAction::ScmpActNotify {
        return Err(SeccompError::NotifyDefault);
    }
    let default_action = to_action(default, seccomp.default_errno_ret(), "the default action")?;
    let mut ctx = ScmpFilterContext::new(default_action)
        .map_err(|source| SeccompError::Create { action: action_name(default), source })?;

    // the native architecture is always in a new context
    let mut arches: Vec<ScmpArch> = vec![ScmpArch::native()];
    for a in seccomp.architectures().iter().flatten() {
        let Some(arch) = to_arch(*a) else { continue };
        if arches.contains(&arch) {
            continue;
        }
        ctx.add_arch(arch).map_err(|e| SeccompError::Arch { arch: a.to_string(), reason: e.to_string() })?;
        arches.push(arch);
    }
    let arch_list = arches.iter().map(|a| format!("{a:?}")).collect::<Vec<_>>().join(",");

    let mut kernel_flags: libc::c_ulong = 0;
    for f in seccomp.flags().iter().flatten() {
        kernel_flags |= match f {
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => libc::SECCOMP_FILTER_FLAG_TSYNC,
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => libc::SECCOMP_FILTER_FLAG_LOG,
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW,
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
        };
    }

    let listener_path = seccomp.listener_path().clone().filter(|p| !p.as_os_str().is_empty());
    let mut notify = false;
    let mut rules = 0usize;
    let mut unknown: Vec<&str> = Vec::new();
    // per architecture, the highest syscall number the profile names (for the ENOSYS stub)
    let mut highest: Vec<Option<u32>> = vec![None; arches.len()];

    for call in seccomp.syscalls().iter().flatten() {
        let first = call.names().first().map(String::as_str).unwrap_or("(no name)");
        for name in call.names() {
            for (i, arch) in arches.iter().enumerate() {
                if let Ok(nr) = ScmpSyscall::from_name_by_arch(name, *arch) {
                    if let Ok(nr) = u32::try_from(nr.as_raw_syscall()) {
                        highest[i] = Some(highest[i].map_or(nr, |h| h.max(nr)));
                    }
                }
            }
        }
        let action = to_action(call.action(), call.errno_ret(), first)?;
        if call.action() == LinuxSeccompAction::ScmpActNotify {
            if listener_path.is_none() {
                return Err(SeccompError::NotifyWithoutListener { syscall: first.to_string() });
            }
            if let Some(n) = call.names().iter().find(|n| *n == "sendmsg" || *n == "socketcall") {
                return Err(SeccompError::NotifyReserved { syscall: n.clone() });
            }
            notify = true;
        }
        if action == default_action {
            debug!(syscalls = ?call.names(), action = %call.action(), "seccomp rule skipped: same as the default action");
            continue;
        }
        let args: &[LinuxSeccompArg] = call.args().as_deref().unwrap_or(&[]);
        let conditions: Vec<ScmpArgCompare> = args.iter().map(|a| to_condition(a, first)).collect::<Result<_, _>>()?;
        // libseccomp refuses two conditions on one argument in a rule: one rule per condition then
        let mut per_index = [0usize; 6];
        for a in args {
            per_index[a.index()] += 1;
        }
        let groups: Vec<Vec<ScmpArgCompare>> = if per_index.iter().any(|n| *n > 1) {
            conditions.iter().map(|c| vec![*c]).collect()
        } else {
            vec![conditions]
        };

        for name in call.names() {
            let syscall = match ScmpSyscall::from_name(name) {
                Ok(s) => s,
                Err(_) => {
                    debug!(syscall = %name, "seccomp: syscall unknown to libseccomp on this architecture, skipped");
                    unknown.push(name);
                    continue;
                }
            };
            for conds in &groups {
                ctx.add_rule_conditional(action, syscall, conds).map_err(|source| SeccompError::Rule {
                    rule: format!("{} for {name}{}", action_name(call.action()), describe(args)),
                    arches: arch_list.clone(),
                    source,
                })?;
                rules += 1;
            }
        }
    }

    let listener = match listener_path {
        Some(path) if notify => {
            kernel_flags |= libc::SECCOMP_FILTER_FLAG_NEW_LISTENER;
            if kernel_flags & libc::SECCOMP_FILTER_FLAG_TSYNC != 0 {
                // TSYNC and NEW_LISTENER only combine when TSYNC reports failure as ESRCH (5.7+)
                kernel_flags |= libc::SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
            }
            Some(path)
        }
        Some(path) => {
            debug!(path = %path.display(), "seccomp: listenerPath set but no rule uses SCMP_ACT_NOTIFY; no descriptor to send");
            None
        }
        None => None,
    };

    let mut program = Vec::new();
    if default_denies(default, seccomp.default_errno_ret()) {
        let known: Vec<(ScmpArch, u32)> = arches.iter().zip(&highest).filter_map(|(a, h)| h.map(|h| (*a, h))).collect();
        program = enosys_stub(&known);
    }
    program.extend(export(&ctx)?);
    if program.len() > MAX_INSTRUCTIONS {
        return Err(SeccompError::TooLong(program.len()));
    }
    crate::step!(
        super::steps::SECCOMP_COMPILE,
        from = "libseccomp",
        rules,
        skipped = unknown.len(),
        instructions = program.len(),
        architectures = %arch_list
    );
    Ok(Filter { program, flags: kernel_flags, listener })
}

fn stmt(code: u32, k: u32) -> libc::sock_filter {
    libc::sock_filter { code: code as u16, jt: 0, jf: 0, k }
}

fn jump(code: u32, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter { code: code as u16, jt, jf, k }
}

/// BPF run before libseccomp's program: on each architecture with a known
/// highest syscall number, a higher number returns `ENOSYS`; everything else
/// falls through to libseccomp's program, which checks the architecture again.
fn enosys_stub(known: &[(ScmpArch, u32)]) -> Vec<libc::sock_filter> {
    use libc::{BPF_ABS, BPF_JA, BPF_JEQ, BPF_JGT, BPF_JMP, BPF_JSET, BPF_K, BPF_LD, BPF_RET, BPF_W};
    const ARCH_OFFSET: u32 = 4; // offsetof(struct seccomp_data, arch)
    const NR_OFFSET: u32 = 0; // offsetof(struct seccomp_data, nr)

    // one block per architecture: [jeq arch] [ld nr] ([jset x32]) [jgt highest]
    let blocks: Vec<(u32, u32, bool)> =
        known.iter().filter_map(|(a, h)| audit_arch(*a).map(|audit| (audit, *h, *a == ScmpArch::X8664))).collect();
    if blocks.is_empty() {
        return Vec::new();
    }
    let mut out = vec![stmt(BPF_LD | BPF_W | BPF_ABS, ARCH_OFFSET)];
    let sizes: Vec<usize> = blocks.iter().map(|b| if b.2 { 4 } else { 3 }).collect();
    let total: usize = 1 + sizes.iter().sum::<usize>() + 2; // + ja main + ret ENOSYS
    let enosys = total - 1;
    let main = total;
    for (i, (audit, highest, x86_64)) in blocks.iter().enumerate() {
        let start = out.len();
        let rel = |target: usize, at: usize| -> u8 { (target - at - 1) as u8 };
        // not this architecture: jump to the next block (or to the final `ja main`)
        let next = start + sizes[i];
        out.push(jump(BPF_JMP | BPF_JEQ | BPF_K, *audit, 0, rel(next, start)));
        out.push(stmt(BPF_LD | BPF_W | BPF_ABS, NR_OFFSET));
        if *x86_64 {
            // x32 calls: libseccomp's program decides (they are numbered from X32_SYSCALL_BIT)
            let at = out.len();
            out.push(jump(BPF_JMP | BPF_JSET | BPF_K, X32_SYSCALL_BIT, rel(main, at), 0));
        }
        let at = out.len();
        out.push(jump(BPF_JMP | BPF_JGT | BPF_K, *highest, rel(enosys, at), rel(main, at)));
    }
    out.push(stmt(BPF_JMP | BPF_JA, 1)); // over the ret below, to libseccomp's program
    out.push(stmt(BPF_RET | BPF_K, libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32));
    debug_assert_eq!(out.len(), total);
    out
}

/// libseccomp's BPF for the context, read back through a memfd (libseccomp 2.5 exports to a descriptor).
fn export(ctx: &ScmpFilterContext) -> Result<Vec<libc::sock_filter>, SeccompError> {
    let err = |what: &str, e: &dyn std::fmt::Display| SeccompError::Export(format!("{what}: {e}"));
    // SAFETY: the name is a NUL-terminated literal; memfd_create touches nothing else.
    let fd = unsafe { libc::memfd_create(c"rrun-seccomp".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(err("memfd_create", &std::io::Error::last_os_error()));
    }
    // SAFETY: fd was just returned by memfd_create and is owned by nothing else.
    let mut file = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    ctx.export_bpf(&file).map_err(|e| err("seccomp_export_bpf", &e))?;
    file.rewind().map_err(|e| err("rewind", &e))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(|e| err("read", &e))?;
    const INSN: usize = std::mem::size_of::<libc::sock_filter>();
    if bytes.len() % INSN != 0 {
        return Err(SeccompError::Export(format!("{} bytes is not a whole number of instructions", bytes.len())));
    }
    Ok(bytes
        .chunks_exact(INSN)
        .map(|c| libc::sock_filter {
            code: u16::from_ne_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect())
}

impl Filter {
    /// The number of BPF instructions.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.program.len()
    }

    /// Where the notify descriptor goes, when the filter uses `SCMP_ACT_NOTIFY`.
    #[cfg(test)]
    fn listener_path(&self) -> Option<&Path> {
        self.listener.as_deref()
    }

    /// Installs the filter on the calling thread: one `seccomp(2)` call, no
    /// allocation; needs no_new_privs or CAP_SYS_ADMIN. Returns the notify
    /// descriptor (close-on-exec) when the filter uses `SCMP_ACT_NOTIFY`. The
    /// caller hands it to the runtime, which sends it on with [`send_to_listener`].
    pub fn load_notify(&self) -> Result<Option<OwnedFd>, SeccompError> {
        self.install()
    }

    fn install(&self) -> Result<Option<OwnedFd>, SeccompError> {
        crate::step!(
            super::steps::SECCOMP,
            op = "SECCOMP_SET_MODE_FILTER",
            flags = self.flags,
            instructions = self.program.len()
        );
        let prog = libc::sock_fprog { len: self.program.len() as u16, filter: self.program.as_ptr().cast_mut() };
        // SAFETY: prog points into self.program, which outlives the call; the kernel copies the program.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                self.flags,
                &prog as *const libc::sock_fprog,
            )
        };
        if rc < 0 {
            return Err(SeccompError::Load { flags: self.flags, errno: Errno::last() });
        }
        if self.flags & libc::SECCOMP_FILTER_FLAG_NEW_LISTENER != 0 {
            // SAFETY: with NEW_LISTENER the kernel returns a new descriptor that nothing else owns.
            return Ok(Some(unsafe { OwnedFd::from_raw_fd(rc as RawFd) }));
        }
        Ok(None)
    }
}

/// Runtime side: connects to a seccomp agent's socket (the profile's
/// `listenerPath`) and sends the container process state (runtime-spec
/// "seccomp" / "container process state") as JSON, with `metadata` (the
/// profile's `listenerMetadata`) and the notify descriptor as `SCM_RIGHTS`.
/// `pid` is the container process as the runtime sees it; `state` the
/// container's state (serialized as `rrun state` prints it).
pub fn send_to_listener<S: serde::Serialize>(
    path: &Path,
    metadata: Option<&str>,
    notify_fd: BorrowedFd<'_>,
    pid: i32,
    state: &S,
) -> Result<(), SeccompError> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
    let fail = |op: &'static str, reason: String| SeccompError::Listener { path: path.to_path_buf(), op, reason };
    let state = serde_json::to_value(state).map_err(|e| fail("serialize the state", e.to_string()))?;
    let oci_version = state.get("ociVersion").and_then(|v| v.as_str()).unwrap_or(OCI_VERSION).to_string();
    let mut msg = serde_json::json!({
        "ociVersion": oci_version,
        "fds": ["seccompFd"],
        "pid": pid,
        "state": state,
    });
    if let Some(m) = metadata {
        msg["metadata"] = serde_json::Value::String(m.to_string());
    }
    let bytes = serde_json::to_vec(&msg).map_err(|e| fail("serialize the message", e.to_string()))?;
    crate::step!(super::steps::SECCOMP_LISTENER, path = %path.display());
    let mut stream = std::os::unix::net::UnixStream::connect(path)
        .map_err(|e| SeccompError::AgentUnreachable { path: path.to_path_buf(), reason: e.to_string() })?;
    let fds = [notify_fd.as_raw_fd()];
    let sent = loop {
        match sendmsg::<()>(
            stream.as_raw_fd(),
            &[std::io::IoSlice::new(&bytes)],
            &[ControlMessage::ScmRights(&fds)],
            MsgFlags::MSG_NOSIGNAL,
            None,
        ) {
            Err(Errno::EINTR) => continue,
            r => break r.map_err(|e| fail("sendmsg", e.to_string()))?,
        }
    };
    stream.write_all(&bytes[sent..]).map_err(|e| fail("write", e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_programs_round_trip_and_torn_files_are_refused() {
        let profile: LinuxSeccomp = serde_json::from_str(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read","write","exit_group"],"action":"SCMP_ACT_ALLOW"}]}"#,
        )
        .unwrap();
        let f = build_filter(&profile).unwrap();
        let bytes = encode(&f);
        let back = decode(&bytes, &profile).unwrap();
        assert_eq!(back.flags, f.flags);
        assert_eq!(back.program.len(), f.program.len());
        assert!(back
            .program
            .iter()
            .zip(&f.program)
            .all(|(a, b)| (a.code, a.jt, a.jf, a.k) == (b.code, b.jt, b.jf, b.k)));
        assert!(decode(&bytes[..bytes.len() - 1], &profile).is_none(), "a torn file is recompiled, not loaded");
        assert!(decode(b"junk", &profile).is_none());
        // the cached path gives the same program
        let c = build_filter_cached(&profile).unwrap();
        assert_eq!(c.program.len(), f.program.len());
    }
    use oci_spec::runtime::{LinuxSeccompArgBuilder, LinuxSeccompBuilder, LinuxSyscallBuilder};

    fn rule(
        names: &[&str],
        action: LinuxSeccompAction,
        errno: Option<u32>,
        args: Vec<LinuxSeccompArg>,
    ) -> LinuxSyscall {
        let mut b = LinuxSyscallBuilder::default().names(names.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        b = b.action(action);
        if let Some(e) = errno {
            b = b.errno_ret(e);
        }
        if !args.is_empty() {
            b = b.args(args);
        }
        b.build().unwrap()
    }

    fn arg(index: usize, value: u64, value_two: Option<u64>, op: LinuxSeccompOperator) -> LinuxSeccompArg {
        let mut b = LinuxSeccompArgBuilder::default().index(index).value(value).op(op);
        if let Some(v) = value_two {
            b = b.value_two(v);
        }
        b.build().unwrap()
    }

    fn profile(default: LinuxSeccompAction, errno: Option<u32>, syscalls: Vec<LinuxSyscall>) -> LinuxSeccomp {
        let mut b = LinuxSeccompBuilder::default().default_action(default).syscalls(syscalls);
        if let Some(e) = errno {
            b = b.default_errno_ret(e);
        }
        b.build().unwrap()
    }

    use oci_spec::runtime::LinuxSyscall;
    use LinuxSeccompAction::*;

    /// How a forked child that loaded a filter ended.
    #[derive(Debug, PartialEq, Eq)]
    enum Outcome {
        Exited(i32),
        Signaled(i32),
    }

    /// Forks; the child sets no_new_privs, loads the filter, runs `check` and
    /// `_exit`s with its result. Only async-signal-safe work happens in the
    /// child (the test harness has other threads): `install` does not allocate.
    fn in_child(filter: &Filter, check: impl Fn() -> i32) -> Outcome {
        // SAFETY: the child only makes raw system calls and leaves with _exit.
        match unsafe { libc::fork() } {
            -1 => panic!("fork: {}", std::io::Error::last_os_error()),
            0 => {
                // SAFETY: prctl with integer arguments only.
                if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
                    // SAFETY: _exit ends the forked child without unwinding or atexit handlers.
                    unsafe { libc::_exit(101) }
                }
                let code = if filter.install().is_ok() { check() } else { 102 };
                // SAFETY: as above.
                unsafe { libc::_exit(code) }
            }
            pid => {
                let mut status = 0;
                // SAFETY: status is a valid out-pointer; pid is our child.
                let r = unsafe { libc::waitpid(pid, &mut status, 0) };
                assert_eq!(r, pid);
                if libc::WIFEXITED(status) {
                    Outcome::Exited(libc::WEXITSTATUS(status))
                } else {
                    Outcome::Signaled(libc::WTERMSIG(status))
                }
            }
        }
    }

    /// A raw system call's errno (0 on success).
    fn errno_of(rc: libc::c_long) -> i32 {
        if rc < 0 {
            Errno::last_raw()
        } else {
            0
        }
    }

    fn mkdirat_errno() -> i32 {
        // SAFETY: a NUL-terminated path literal; fd -1 makes mkdirat fail with EBADF unless the filter answers first.
        errno_of(unsafe { libc::syscall(libc::SYS_mkdirat, -1, c"rrun-seccomp-test".as_ptr(), 0o700) })
    }

    #[test]
    fn an_allow_list_with_errno_rules_is_enforced() {
        let p = profile(
            ScmpActAllow,
            None,
            vec![
                rule(&["getppid"], ScmpActErrno, Some(libc::ESRCH as u32), vec![]),
                rule(&["mkdirat"], ScmpActErrno, None, vec![]),
                rule(&["no_such_syscall_anywhere"], ScmpActKillProcess, None, vec![]),
            ],
        );
        let f = build_filter(&p).unwrap();
        assert!(f.len() > 0 && f.listener_path().is_none());
        let outcome = in_child(&f, || {
            // SAFETY: raw syscalls without arguments.
            let ppid = errno_of(unsafe { libc::syscall(libc::SYS_getppid) });
            // SAFETY: as above.
            let pid = errno_of(unsafe { libc::syscall(libc::SYS_getpid) });
            match (ppid, pid, mkdirat_errno()) {
                (libc::ESRCH, 0, libc::EPERM) => 0,
                (libc::ESRCH, 0, _) => 3,
                (libc::ESRCH, _, _) => 2,
                _ => 1,
            }
        });
        assert_eq!(outcome, Outcome::Exited(0));
    }

    #[test]
    fn kill_and_trap_actions_end_the_process() {
        for (action, sig) in
            [(ScmpActKillProcess, libc::SIGSYS), (ScmpActTrap, libc::SIGSYS), (ScmpActKill, libc::SIGSYS)]
        {
            let f = build_filter(&profile(ScmpActAllow, None, vec![rule(&["getppid"], action, None, vec![])])).unwrap();
            let outcome = in_child(&f, || {
                // SAFETY: a raw syscall without arguments.
                unsafe { libc::syscall(libc::SYS_getppid) };
                0
            });
            assert_eq!(outcome, Outcome::Signaled(sig), "{action}");
        }
    }

    #[test]
    fn argument_conditions_select_calls() {
        use LinuxSeccompOperator::*;
        let p = profile(
            ScmpActAllow,
            None,
            vec![
                // two conditions on arg0: one rule each, so either matches
                rule(
                    &["fchdir"],
                    ScmpActErrno,
                    Some(77),
                    vec![arg(0, 1000, None, ScmpCmpEq), arg(0, 1001, None, ScmpCmpEq)],
                ),
                // masked: (arg0 & 0xff00) == 0x1200
                rule(&["dup"], ScmpActErrno, Some(78), vec![arg(0, 0xff00, Some(0x1200), ScmpCmpMaskedEq)]),
                // conditions on two arguments: both must hold
                rule(
                    &["dup2"],
                    ScmpActErrno,
                    Some(79),
                    vec![arg(0, 5000, None, ScmpCmpGe), arg(1, 7000, None, ScmpCmpLt)],
                ),
            ],
        );
        let f = build_filter(&p).unwrap();
        let outcome = in_child(&f, || {
            let call = |nr: libc::c_long, a: libc::c_long, b: libc::c_long| {
                // SAFETY: fchdir/dup/dup2 on descriptors that are not open: no memory is touched.
                errno_of(unsafe { libc::syscall(nr, a, b) })
            };
            let got = [
                call(libc::SYS_fchdir, 1000, 0),
                call(libc::SYS_fchdir, 1001, 0),
                call(libc::SYS_fchdir, 1002, 0),
                call(libc::SYS_dup, 0x12ab, 0),
                call(libc::SYS_dup, 0x13ab, 0),
                call(libc::SYS_dup2, 6000, 6500),
                call(libc::SYS_dup2, 6000, 7500),
            ];
            let want = [77, 77, libc::EBADF, 78, libc::EBADF, 79, libc::EBADF];
            got.iter().zip(want).position(|(g, w)| *g != w).map_or(0, |i| 10 + i as i32)
        });
        assert_eq!(outcome, Outcome::Exited(0));
    }

    #[test]
    fn a_deny_by_default_profile_answers_enosys_past_its_syscalls() {
        // Docker-like: EPERM by default, an allow list; numbers above the list's highest get ENOSYS
        let allow = ["exit", "exit_group", "getpid", "mkdirat"];
        let p = profile(ScmpActErrno, Some(libc::EPERM as u32), vec![rule(&allow, ScmpActAllow, None, vec![])]);
        let f = build_filter(&p).unwrap();
        let outcome = in_child(&f, || {
            // SAFETY: raw syscalls without arguments (or with integer ones) that the filter answers.
            let pid = errno_of(unsafe { libc::syscall(libc::SYS_getpid) });
            // SAFETY: as above.
            let ppid = errno_of(unsafe { libc::syscall(libc::SYS_getppid) });
            // SAFETY: as above; 1000 is no syscall yet.
            let beyond = errno_of(unsafe { libc::syscall(1000) });
            match (pid, ppid, beyond, mkdirat_errno()) {
                (0, libc::EPERM, libc::ENOSYS, libc::EBADF) => 0,
                (0, libc::EPERM, libc::EPERM, _) => 2,
                _ => 1,
            }
        });
        assert_eq!(outcome, Outcome::Exited(0));
    }

    #[test]
    fn docker_default_profile_compiles_and_confines() {
        let p = crate::spec::seccomp::default_profile(
            crate::spec::DEFAULT_CAPABILITIES.iter(),
            crate::spec::seccomp::host_arch(),
        )
        .unwrap();
        let f = build_filter(&p).unwrap();
        assert!(f.len() < MAX_INSTRUCTIONS);
        let outcome = in_child(&f, || {
            // SAFETY: raw syscalls with integer or null arguments that the filter refuses or that fail harmlessly.
            let mount = errno_of(unsafe { libc::syscall(libc::SYS_mount, 0, 0, 0, 0, 0) });
            // SAFETY: as above.
            let unshare = errno_of(unsafe { libc::syscall(libc::SYS_unshare, libc::CLONE_NEWNS) });
            // SAFETY: as above.
            let clone3 = errno_of(unsafe { libc::syscall(libc::SYS_clone3, 0, 0) });
            // SAFETY: as above; kexec_load with no segments.
            let kexec = errno_of(unsafe { libc::syscall(libc::SYS_kexec_load, 0, 0, 0, 0) });
            // SAFETY: as above.
            let pid = errno_of(unsafe { libc::syscall(libc::SYS_getpid) });
            // SAFETY: as above; 1000 is no syscall yet.
            let future = errno_of(unsafe { libc::syscall(1000) });
            match (mount, unshare, clone3, kexec, pid, future, mkdirat_errno()) {
                (libc::EPERM, libc::EPERM, libc::ENOSYS, libc::EPERM, 0, libc::ENOSYS, libc::EBADF) => 0,
                (m, u, c, k, p, fu, md) => {
                    [m, u, c, k, p, fu, md].iter().zip([1, 1, 38, 1, 0, 38, 9]).position(|(a, b)| *a != b).unwrap()
                        as i32
                        + 10
                }
            }
        });
        assert_eq!(outcome, Outcome::Exited(0));
    }

    #[test]
    fn invalid_profiles_are_refused_with_context() {
        let err = |p: LinuxSeccomp| build_filter(&p).unwrap_err().to_string();
        let e = err(profile(ScmpActNotify, None, vec![]));
        assert!(e.contains("default action"), "{e}");
        let e = err(profile(ScmpActAllow, None, vec![rule(&["getpid"], ScmpActNotify, None, vec![])]));
        assert!(e.contains("getpid") && e.contains("listenerPath"), "{e}");
        let e = err(profile(
            ScmpActAllow,
            None,
            vec![rule(&["read"], ScmpActErrno, None, vec![arg(6, 0, None, LinuxSeccompOperator::ScmpCmpEq)])],
        ));
        assert!(e.contains("read") && e.contains("index 6"), "{e}");
        let e = err(profile(ScmpActAllow, None, vec![rule(&["read"], ScmpActErrno, Some(70000), vec![])]));
        assert!(e.contains("read") && e.contains("70000"), "{e}");
        let e = err(profile(ScmpActAllow, None, vec![rule(&["read"], ScmpActKillProcess, Some(1), vec![])]));
        assert!(e.contains("read") && e.contains("SCMP_ACT_KILL_PROCESS"), "{e}");
        let mut p = profile(ScmpActAllow, None, vec![rule(&["sendmsg"], ScmpActNotify, None, vec![])]);
        p.set_listener_path(Some("/run/agent.sock".into()));
        assert!(err(p).contains("sendmsg"));
        // a listener filter is installed with NEW_LISTENER, so that loading it gives the descriptor
        let mut p = profile(ScmpActAllow, None, vec![rule(&["getppid"], ScmpActNotify, None, vec![])]);
        p.set_listener_path(Some("/run/agent.sock".into()));
        let f = build_filter(&p).unwrap();
        assert_eq!(f.listener_path(), Some(Path::new("/run/agent.sock")));
        assert_ne!(f.flags & libc::SECCOMP_FILTER_FLAG_NEW_LISTENER, 0);
    }

    #[test]
    fn architectures_and_flags_are_applied() {
        let mut p =
            profile(ScmpActErrno, None, vec![rule(&["read", "write", "exit_group"], ScmpActAllow, None, vec![])]);
        p.set_architectures(Some(vec![
            Arch::ScmpArchX86_64,
            Arch::ScmpArchX86,
            Arch::ScmpArchX32,
            Arch::ScmpArchAarch64,
        ]));
        p.set_flags(Some(vec![
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync,
            LinuxSeccompFilterFlag::SeccompFilterFlagLog,
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow,
        ]));
        let f = build_filter(&p).unwrap();
        assert_eq!(
            f.flags,
            libc::SECCOMP_FILTER_FLAG_TSYNC | libc::SECCOMP_FILTER_FLAG_LOG | libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW
        );
        // the program checks every architecture's AUDIT_ARCH value
        for audit in [0xc000_003eu32, 0x4000_0003, 0xc000_00b7] {
            assert!(f.program.iter().any(|i| i.k == audit), "{audit:#x} missing");
        }
    }

    /// One message and the descriptor that came with it.
    fn recv_with_fd(sock: RawFd, buf: &mut [u8]) -> (usize, Option<OwnedFd>) {
        use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
        let mut iov = [std::io::IoSliceMut::new(buf)];
        let mut space = nix::cmsg_space!(RawFd);
        let msg = recvmsg::<()>(sock, &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC).unwrap();
        let mut fd = None;
        for c in msg.cmsgs().unwrap() {
            if let ControlMessageOwned::ScmRights(fds) = c {
                // SAFETY: SCM_RIGHTS gave this process new descriptors that nothing else owns.
                fd = fds.first().map(|f| unsafe { OwnedFd::from_raw_fd(*f) });
            }
        }
        (msg.bytes, fd)
    }

    /// End to end: the child's notify descriptor reaches an agent listening on
    /// listenerPath with the state, and the agent answers the child's syscall.
    #[test]
    fn notify_descriptor_reaches_the_listener() {
        use std::os::unix::net::UnixListener;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        std::fs::create_dir_all(&dir).unwrap();
        let sock_path = dir.join("agent.sock");
        let agent = UnixListener::bind(&sock_path).unwrap();
        let mut p = profile(ScmpActAllow, None, vec![rule(&["getppid"], ScmpActNotify, None, vec![])]);
        p.set_listener_path(Some(sock_path.clone()));
        p.set_listener_metadata(Some("test-metadata".into()));
        let f = build_filter(&p).unwrap();

        // the child passes its listener descriptor up a socketpair, as the container's init would
        let mut pair = [0; 2];
        // SAFETY: pair is a valid out-array of two ints.
        assert_eq!(
            unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC, 0, pair.as_mut_ptr()) },
            0
        );
        // SAFETY: the child only makes raw system calls with stack buffers and leaves with _exit.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // SAFETY: see above; every pointer is to this frame's stack.
            unsafe {
                libc::close(pair[0]);
                if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                    libc::_exit(101);
                }
                let Ok(Some(fd)) = f.install() else { libc::_exit(102) };
                let raw = fd.as_raw_fd();
                let mut cbuf = [0u64; 4];
                let mut byte = [b'F'];
                let mut iov = libc::iovec { iov_base: byte.as_mut_ptr().cast(), iov_len: 1 };
                let mut msg: libc::msghdr = std::mem::zeroed();
                msg.msg_iov = &mut iov;
                msg.msg_iovlen = 1;
                msg.msg_control = cbuf.as_mut_ptr().cast();
                msg.msg_controllen = libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) as _;
                let cmsg = libc::CMSG_FIRSTHDR(&msg);
                (*cmsg).cmsg_level = libc::SOL_SOCKET;
                (*cmsg).cmsg_type = libc::SCM_RIGHTS;
                (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as _;
                std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>(), raw);
                if libc::sendmsg(pair[1], &msg, 0) != 1 {
                    libc::_exit(103);
                }
                // handed to the agent: it answers 4242
                let r = libc::syscall(libc::SYS_getppid);
                libc::_exit(if r == 4242 { 0 } else { 104 });
            }
        }
        // SAFETY: the parent's copy of the child's end.
        unsafe { libc::close(pair[1]) };
        // SAFETY: pair[0] is open and owned here from now on.
        let parent_end = unsafe { OwnedFd::from_raw_fd(pair[0]) };
        let mut one = [0u8; 1];
        let (_, notify) = recv_with_fd(parent_end.as_raw_fd(), &mut one);
        let notify = notify.expect("the child's notify descriptor");
        let state =
            serde_json::json!({"ociVersion": "1.2.0", "id": "c1", "status": "creating", "pid": pid, "bundle": "/b"});
        use std::os::fd::AsFd;
        send_to_listener(&sock_path, Some("test-metadata"), notify.as_fd(), pid, &state).unwrap();
        drop(notify);

        // the agent: read the message and the descriptor, answer the pending notification
        let (conn, _) = agent.accept().unwrap();
        let mut buf = vec![0u8; 4096];
        let (n, fd) = recv_with_fd(conn.as_raw_fd(), &mut buf);
        let msg: serde_json::Value = serde_json::from_slice(&buf[..n]).unwrap();
        assert_eq!(msg["fds"], serde_json::json!(["seccompFd"]));
        assert_eq!(msg["pid"], pid);
        assert_eq!(msg["ociVersion"], "1.2.0");
        assert_eq!(msg["metadata"], "test-metadata");
        assert_eq!(msg["state"]["id"], "c1");
        let fd = fd.expect("SCM_RIGHTS descriptor");
        let req = libseccomp::ScmpNotifReq::receive(fd.as_raw_fd()).unwrap();
        assert_eq!(req.pid, pid as u32);
        libseccomp::ScmpNotifResp::new_val(req.id, 4242, libseccomp::ScmpNotifRespFlags::empty())
            .respond(fd.as_raw_fd())
            .unwrap();
        let mut status = 0;
        // SAFETY: status is a valid out-pointer; pid is our child.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "child status {status:#x}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
