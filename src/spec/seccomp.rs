//! Seccomp profiles in Docker's format → the OCI runtime Spec's `linux.seccomp`.
//!
//! Docker's format extends the OCI object with `archMap` (the host architecture
//! and the sub-architectures its binaries may use) and, per syscall entry,
//! `includes`/`excludes` conditions on the container's capabilities (its
//! bounding set), the host architecture and the kernel version (`minKernel`).
//! [`load_profile_file`] resolves those exactly as moby's `setupSeccomp` does for
//! a profile given with `--security-opt seccomp=FILE`, which may also be a plain
//! OCI `linux.seccomp` object (a subset of Docker's format). [`default_profile`]
//! resolves Docker's default policy the same way, from Docker's own JSON file
//! embedded in rrun (`seccomp-default.json`, see [`DOCKER_DEFAULT_JSON`]).
//!
//! Pure functions apart from the kernel version read with `uname(2)`; the
//! compilation of the result into a BPF program lives in `launcher::seccomp`.

use oci_spec::runtime::{
    Arch, Capability, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompBuilder, LinuxSeccompFilterFlag,
    LinuxSyscall, LinuxSyscallBuilder,
};
use serde::Deserialize;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Docker's default seccomp profile, byte for byte moby/moby's
/// `profiles/seccomp/default.json` at commit 00f3d189e420d485e42d15fe494f96d272284e0e
/// (Apache-2.0; see NOTICE). rrun takes it as it is: it already answers `clone3` with
/// ENOSYS without CAP_SYS_ADMIN (a filter cannot read `clone3`'s flags, and ENOSYS makes
/// libc fall back to `clone`, whose namespace flags the profile masks). To follow a newer
/// Docker, replace the file with moby's and update the golden facts in this module's tests.
pub const DOCKER_DEFAULT_JSON: &str = include_str!("seccomp-default.json");

/// How Docker's default profile is named in errors.
const DOCKER_DEFAULT_WHAT: &str = "(Docker's default)";

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("reading seccomp profile {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("parsing seccomp profile {what}: {source}")]
    Parse { what: String, source: serde_json::Error },
    #[error("seccomp profile {what}: it has no defaultAction")]
    NoDefaultAction { what: String },
    #[error("seccomp profile {what}: 'architectures' and 'archMap' were both specified; use either one")]
    ArchitecturesAndArchMap { what: String },
    #[error("seccomp profile {what}: unknown architecture {arch:?} (expected SCMP_ARCH_X86_64, SCMP_ARCH_AARCH64, …)")]
    UnknownArch { what: String, arch: String },
    #[error("seccomp profile {what}: an entry has both 'name' ({name:?}) and 'names'; use either one")]
    NameAndNames { what: String, name: String },
    #[error("seccomp profile {what}: an entry with action {action} has no syscall names")]
    NoNames { what: String, action: LinuxSeccompAction },
    #[error("seccomp profile {what}: minKernel {value:?} is not a kernel version such as \"4.8\"")]
    MinKernel { what: String, value: String },
    #[error("reading the running kernel's version: {0}")]
    KernelVersion(String),
    #[error("seccomp profile {what}: {msg}")]
    Build { what: String, msg: String },
}

/// A kernel version as moby compares them: only `MAJOR.MINOR` count
/// (`3.12.25-gentoo` and `3.12-1-amd64` are both 3.12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct KernelVersion {
    pub major: u32,
    pub minor: u32,
}

impl KernelVersion {
    /// Parses the leading `MAJOR.MINOR` of a release string, as moby's `fmt.Sscanf(release, "%d.%d")`.
    pub fn parse(release: &str) -> Option<KernelVersion> {
        let (major, rest) = release.split_once('.')?;
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        Some(KernelVersion { major: major.trim().parse().ok()?, minor: digits.parse().ok()? })
    }

    /// The running kernel's version, from `uname(2)`.
    pub fn running() -> Result<KernelVersion, ProfileError> {
        let uts = nix::sys::utsname::uname().map_err(|e| ProfileError::KernelVersion(format!("uname: {e}")))?;
        let release = uts.release().to_string_lossy().into_owned();
        KernelVersion::parse(&release)
            .ok_or_else(|| ProfileError::KernelVersion(format!("cannot parse the kernel release {release:?}")))
    }
}

/// Docker's name (libseccomp's, as used in `includes.arches`) of the
/// architecture this rrun was built for: `amd64`, `arm64`, `x86`, `ppc64le` …
pub fn host_arch() -> &'static str {
    if cfg!(all(target_arch = "powerpc64", target_endian = "little")) {
        "ppc64le"
    } else if cfg!(all(target_arch = "mips64", target_endian = "little")) {
        "mipsel64"
    } else if cfg!(all(target_arch = "mips", target_endian = "little")) {
        "mipsel"
    } else {
        docker_arch_name(std::env::consts::ARCH)
    }
}

/// Normalises an architecture name to Docker's: Rust's and Go's names are accepted too
/// (`x86_64` and `amd64` → `amd64`, `aarch64` → `arm64`, `i686` → `x86`, `powerpc64le` → `ppc64le` …).
pub fn docker_arch_name(arch: &str) -> &str {
    match arch {
        "x86_64" | "amd64" => "amd64",
        "aarch64" | "arm64" => "arm64",
        "x86" | "i386" | "i586" | "i686" | "386" => "x86",
        "powerpc64le" | "ppc64le" => "ppc64le",
        "powerpc64" | "ppc64" => "ppc64",
        "powerpc" | "ppc" => "ppc",
        "riscv64" | "riscv64gc" => "riscv64",
        "mips64el" | "mips64le" | "mipsel64" => "mipsel64",
        "mipsel" | "mipsle" => "mipsel",
        "mips64p32" | "mips64n32" => "mips64n32",
        "mips64p32le" | "mipsel64n32" | "mips3l64n32" => "mipsel64n32",
        other => other,
    }
}

/// The `archMap` key of a host architecture (Docker's `nativeToSeccomp`, plus riscv64
/// whose entry the default profile has).
fn archmap_key(docker_arch: &str) -> Option<&'static str> {
    Some(match docker_arch {
        "x86" => "SCMP_ARCH_X86",
        "amd64" => "SCMP_ARCH_X86_64",
        "arm" => "SCMP_ARCH_ARM",
        "arm64" => "SCMP_ARCH_AARCH64",
        "mips64" => "SCMP_ARCH_MIPS64",
        "mips64n32" => "SCMP_ARCH_MIPS64N32",
        "mipsel64" => "SCMP_ARCH_MIPSEL64",
        "mipsel64n32" => "SCMP_ARCH_MIPSEL64N32",
        "mipsel" => "SCMP_ARCH_MIPSEL",
        "ppc" => "SCMP_ARCH_PPC",
        "ppc64" => "SCMP_ARCH_PPC64",
        "ppc64le" => "SCMP_ARCH_PPC64LE",
        "s390" => "SCMP_ARCH_S390",
        "s390x" => "SCMP_ARCH_S390X",
        "riscv64" => "SCMP_ARCH_RISCV64",
        _ => return None,
    })
}

/// Docker's profile format (moby `profiles/seccomp.Seccomp`): the OCI fields plus
/// `archMap`, and syscall entries with `name`, `comment`, `includes`, `excludes`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DockerProfile {
    #[serde(default)]
    default_action: Option<LinuxSeccompAction>,
    #[serde(default)]
    default_errno_ret: Option<u32>,
    #[serde(default)]
    architectures: Option<Vec<String>>,
    #[serde(default)]
    arch_map: Option<Vec<ArchMapEntry>>,
    #[serde(default)]
    flags: Option<Vec<LinuxSeccompFilterFlag>>,
    #[serde(default)]
    listener_path: Option<PathBuf>,
    #[serde(default)]
    listener_metadata: Option<String>,
    #[serde(default)]
    syscalls: Option<Vec<DockerSyscall>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ArchMapEntry {
    architecture: String,
    #[serde(default)]
    sub_architectures: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DockerSyscall {
    /// Deprecated single-name form, still accepted by Docker.
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    names: Option<Vec<String>>,
    action: LinuxSeccompAction,
    #[serde(default)]
    errno_ret: Option<u32>,
    #[serde(default)]
    args: Option<Vec<LinuxSeccompArg>>,
    #[serde(default)]
    includes: Option<Conditions>,
    #[serde(default)]
    excludes: Option<Conditions>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Conditions {
    #[serde(default)]
    caps: Option<Vec<String>>,
    #[serde(default)]
    arches: Option<Vec<String>>,
    #[serde(default)]
    min_kernel: Option<String>,
}

/// What a profile is resolved against: the container's bounding capabilities,
/// the host architecture (Docker's name) and the running kernel.
struct Host<'a> {
    caps: HashSet<String>,
    arch: &'a str,
    kernel: KernelVersion,
}

impl<'a> Host<'a> {
    /// `caps` and `arch` on the running kernel.
    fn new<'c>(caps: impl IntoIterator<Item = &'c Capability>, arch: &'a str) -> Result<Host<'a>, ProfileError> {
        Ok(Host {
            caps: caps.into_iter().map(cap_name).collect(),
            arch: docker_arch_name(arch),
            kernel: KernelVersion::running()?,
        })
    }
}

fn cap_name(c: &Capability) -> String {
    // serde gives the kernel name ("CAP_SYS_ADMIN"), Display would drop the prefix
    serde_json::to_value(c).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_else(|| format!("CAP_{c}"))
}

/// Docker's default seccomp profile for a container whose bounding set is `caps`,
/// on a host of architecture `arch` (Docker's, Rust's or Go's name: see
/// [`host_arch`]), with the entries for the running kernel's version.
pub fn default_profile<'a>(
    caps: impl IntoIterator<Item = &'a Capability>,
    arch: &str,
) -> Result<LinuxSeccomp, ProfileError> {
    resolve(docker_default_profile()?, DOCKER_DEFAULT_WHAT, &Host::new(caps, arch)?)
}

/// [`DOCKER_DEFAULT_JSON`] parsed by the profile files' parser, once per process
/// (parsing takes about 0.2 ms in a release build, resolving about 0.1 ms).
fn docker_default_profile() -> Result<&'static DockerProfile, ProfileError> {
    static PARSED: OnceLock<DockerProfile> = OnceLock::new();
    if let Some(p) = PARSED.get() {
        return Ok(p);
    }
    let profile = parse_docker(DOCKER_DEFAULT_JSON, DOCKER_DEFAULT_WHAT)?;
    Ok(PARSED.get_or_init(|| profile))
}

/// A profile file given with `--security-opt seccomp=FILE`: Docker's format or an
/// OCI `linux.seccomp` object, resolved as [`default_profile`] resolves Docker's.
pub fn load_profile_file<'a>(
    path: &Path,
    caps: impl IntoIterator<Item = &'a Capability>,
    arch: &str,
) -> Result<LinuxSeccomp, ProfileError> {
    let json = std::fs::read_to_string(path).map_err(|source| ProfileError::Read { path: path.into(), source })?;
    parse_profile(&json, &path.display().to_string(), caps, arch)
}

/// A profile's JSON text (Docker's format or an OCI `linux.seccomp` object) → `linux.seccomp`;
/// `what` names it in errors.
pub fn parse_profile<'a>(
    json: &str,
    what: &str,
    caps: impl IntoIterator<Item = &'a Capability>,
    arch: &str,
) -> Result<LinuxSeccomp, ProfileError> {
    let profile = parse_docker(json, what)?;
    resolve(&profile, what, &Host::new(caps, arch)?)
}

/// Docker's format (or an OCI object) → [`DockerProfile`]. As Docker's Go decoder, it ignores
/// fields it does not know; the embedded default is checked free of them by a test.
fn parse_docker(json: &str, what: &str) -> Result<DockerProfile, ProfileError> {
    serde_json::from_str(json).map_err(|source| ProfileError::Parse { what: what.to_string(), source })
}

fn arch_from_name(name: &str, what: &str) -> Result<Arch, ProfileError> {
    serde_json::from_value(serde_json::Value::String(name.to_string()))
        .map_err(|_| ProfileError::UnknownArch { what: what.to_string(), arch: name.to_string() })
}

/// Does an entry's `includes`/`excludes` keep it on this host? Exactly moby's rules:
/// excluded if the host arch is in `excludes.arches`, if any of `excludes.caps` is in the
/// bounding set, or if the kernel is at least `excludes.minKernel`; then kept only if the
/// host arch is in `includes.arches` (when given), all of `includes.caps` are in the bounding
/// set, and the kernel is at least `includes.minKernel`.
fn applies(call: &DockerSyscall, what: &str, host: &Host<'_>) -> Result<bool, ProfileError> {
    let at_least = |v: &str| -> Result<bool, ProfileError> {
        let min = KernelVersion::parse(v)
            .ok_or_else(|| ProfileError::MinKernel { what: what.to_string(), value: v.to_string() })?;
        Ok(host.kernel >= min)
    };
    if let Some(ex) = &call.excludes {
        if ex.arches.iter().flatten().any(|a| a == host.arch) {
            return Ok(false);
        }
        if ex.caps.iter().flatten().any(|c| host.caps.contains(c)) {
            return Ok(false);
        }
        if let Some(v) = &ex.min_kernel {
            if at_least(v)? {
                return Ok(false);
            }
        }
    }
    if let Some(inc) = &call.includes {
        if let Some(arches) = inc.arches.as_ref().filter(|a| !a.is_empty()) {
            if !arches.iter().any(|a| a == host.arch) {
                return Ok(false);
            }
        }
        if !inc.caps.iter().flatten().all(|c| host.caps.contains(c)) {
            return Ok(false);
        }
        if let Some(v) = &inc.min_kernel {
            if !at_least(v)? {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

fn resolve(profile: &DockerProfile, what: &str, host: &Host<'_>) -> Result<LinuxSeccomp, ProfileError> {
    let build_err = |e: oci_spec::OciSpecError| ProfileError::Build { what: what.to_string(), msg: e.to_string() };
    let default_action = profile.default_action.ok_or_else(|| ProfileError::NoDefaultAction { what: what.into() })?;
    let explicit = profile.architectures.as_deref().unwrap_or_default();
    let arch_map = profile.arch_map.as_deref().unwrap_or_default();
    if !explicit.is_empty() && !arch_map.is_empty() {
        return Err(ProfileError::ArchitecturesAndArchMap { what: what.into() });
    }
    let mut architectures: Vec<Arch> = explicit.iter().map(|a| arch_from_name(a, what)).collect::<Result<_, _>>()?;
    if let Some(key) = archmap_key(host.arch) {
        if let Some(entry) = arch_map.iter().find(|e| e.architecture == key) {
            architectures.push(arch_from_name(&entry.architecture, what)?);
            for sub in entry.sub_architectures.iter().flatten() {
                architectures.push(arch_from_name(sub, what)?);
            }
        }
    }

    let mut syscalls: Vec<LinuxSyscall> = Vec::new();
    for call in profile.syscalls.iter().flatten() {
        if !applies(call, what, host)? {
            continue;
        }
        let mut names = call.names.clone().unwrap_or_default();
        if let Some(name) = call.name.clone().filter(|n| !n.is_empty()) {
            if !names.is_empty() {
                return Err(ProfileError::NameAndNames { what: what.into(), name });
            }
            names.push(name);
        }
        if names.is_empty() {
            return Err(ProfileError::NoNames { what: what.into(), action: call.action });
        }
        let mut b = LinuxSyscallBuilder::default().names(names).action(call.action);
        if let Some(e) = call.errno_ret {
            b = b.errno_ret(e);
        }
        if let Some(args) = call.args.as_ref().filter(|a| !a.is_empty()) {
            b = b.args(args.clone());
        }
        syscalls.push(b.build().map_err(build_err)?);
    }

    let mut b = LinuxSeccompBuilder::default().default_action(default_action).syscalls(syscalls);
    if let Some(e) = profile.default_errno_ret {
        b = b.default_errno_ret(e);
    }
    if !architectures.is_empty() {
        b = b.architectures(architectures);
    }
    if let Some(flags) = profile.flags.as_ref().filter(|f| !f.is_empty()) {
        b = b.flags(flags.clone());
    }
    if let Some(p) = &profile.listener_path {
        b = b.listener_path(p.clone());
    }
    if let Some(m) = &profile.listener_metadata {
        b = b.listener_metadata(m.clone());
    }
    b.build().map_err(build_err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::DEFAULT_CAPABILITIES;
    use oci_spec::runtime::LinuxSeccompOperator;
    use serde_json::Value;

    /// The fields of Docker's format (moby `profiles/seccomp.Seccomp`, `Architecture`,
    /// `Syscall`, `Filter`, OCI `LinuxSeccompArg`), per object.
    const PROFILE_FIELDS: &[&str] = &[
        "defaultAction",
        "defaultErrnoRet",
        "architectures",
        "archMap",
        "flags",
        "listenerPath",
        "listenerMetadata",
        "syscalls",
    ];
    const ARCH_MAP_FIELDS: &[&str] = &["architecture", "subArchitectures"];
    const SYSCALL_FIELDS: &[&str] = &["name", "names", "comment", "action", "errnoRet", "args", "includes", "excludes"];
    const ARG_FIELDS: &[&str] = &["index", "value", "valueTwo", "op"];
    const CONDITION_FIELDS: &[&str] = &["caps", "arches", "minKernel"];

    /// Where (`syscalls[3].includes.capz`) a profile has a field that Docker's format lacks.
    fn unknown_field(profile: &Value) -> Option<String> {
        fn check(v: &Value, known: &[&str], at: &str) -> Option<String> {
            v.as_object()?.keys().find(|k| !known.contains(&k.as_str())).map(|k| format!("{at}{k}"))
        }
        fn items<'v>(v: &'v Value, key: &str) -> impl Iterator<Item = (usize, &'v Value)> {
            v.get(key).and_then(Value::as_array).into_iter().flatten().enumerate()
        }
        check(profile, PROFILE_FIELDS, "")
            .or_else(|| {
                items(profile, "archMap").find_map(|(i, e)| check(e, ARCH_MAP_FIELDS, &format!("archMap[{i}].")))
            })
            .or_else(|| {
                items(profile, "syscalls").find_map(|(i, call)| {
                    let at = format!("syscalls[{i}].");
                    check(call, SYSCALL_FIELDS, &at)
                        .or_else(|| {
                            items(call, "args").find_map(|(j, a)| check(a, ARG_FIELDS, &format!("{at}args[{j}].")))
                        })
                        .or_else(|| {
                            ["includes", "excludes"].iter().find_map(|c| {
                                call.get(*c).and_then(|v| check(v, CONDITION_FIELDS, &format!("{at}{c}.")))
                            })
                        })
                })
            })
    }

    fn docker_default(caps: &[Capability], arch: &str, kernel: (u32, u32)) -> LinuxSeccomp {
        let host = Host {
            caps: caps.iter().map(cap_name).collect(),
            arch: docker_arch_name(arch),
            kernel: KernelVersion { major: kernel.0, minor: kernel.1 },
        };
        resolve(docker_default_profile().unwrap(), "default", &host).unwrap()
    }

    /// Resolves the embedded profile for `caps` (kernel names) on `arch` and `kernel`.
    fn embedded(caps: &[&str], arch: &str, kernel: (u32, u32)) -> LinuxSeccomp {
        let host = Host {
            caps: caps.iter().map(|c| c.to_string()).collect(),
            arch,
            kernel: KernelVersion { major: kernel.0, minor: kernel.1 },
        };
        resolve(docker_default_profile().unwrap(), "default", &host).unwrap()
    }

    /// The syscalls allowed whatever their arguments.
    fn allowed_names(p: &LinuxSeccomp) -> std::collections::BTreeSet<&str> {
        p.syscalls()
            .iter()
            .flatten()
            .filter(|s| s.action() == LinuxSeccompAction::ScmpActAllow && s.args().is_none())
            .flat_map(|s| s.names().iter().map(String::as_str))
            .collect()
    }

    /// Golden facts of moby's default.json at 00f3d189, checked equal (9072 capability,
    /// architecture and kernel combinations) to the tables it replaced. A changed profile
    /// fails here: compare it with moby's and update the facts deliberately.
    #[test]
    fn the_embedded_profile_keeps_its_golden_facts() {
        let profile = docker_default_profile().unwrap();
        let calls = profile.syscalls.as_deref().unwrap();
        assert_eq!(calls.len(), 31, "entries");
        assert_eq!(calls[0].names.as_ref().map(Vec::len), Some(349), "unconditionally allowed");
        assert!(calls[0].includes.is_none() && calls[0].excludes.is_none() && calls[0].args.is_none());
        assert_eq!(profile.arch_map.as_ref().map(Vec::len), Some(8));

        let default: Vec<String> = DEFAULT_CAPABILITIES.iter().map(cap_name).collect();
        let default: Vec<&str> = default.iter().map(String::as_str).collect();
        let all_caps: Vec<String> = caps::all().iter().map(|c| c.to_string()).collect();
        let all_caps: Vec<&str> = all_caps.iter().map(String::as_str).collect();
        // syscalls allowed whatever their arguments, per architecture, for Docker's 14 on a current kernel:
        // 349 + ptrace and process_vm_{readv,writev} (from 4.8) + chroot (CAP_SYS_CHROOT) + the arch's own
        for (arch, count) in [
            ("amd64", 355),   // arch_prctl, modify_ldt
            ("x86", 354),     // modify_ldt
            ("arm64", 359), // arm_fadvise64_64, arm_sync_file_range, sync_file_range2, breakpoint, cacheflush, set_tls
            ("s390x", 356), // s390_pci_mmio_read, s390_pci_mmio_write, s390_runtime_instr
            ("riscv64", 354), // riscv_flush_icache
            ("ppc64le", 355), // sync_file_range2, swapcontext
            ("mips64", 353),
            ("sparc64", 353),
        ] {
            assert_eq!(allowed_names(&embedded(&default, arch, (6, 18))).len(), count, "{arch}");
        }
        // on amd64: no capability, and before 4.8, take chroot and the 3 tracing calls away;
        // every capability adds the 44 calls of the caps entries that are not already in
        assert_eq!(allowed_names(&embedded(&[], "amd64", (6, 18))).len(), 354);
        assert_eq!(allowed_names(&embedded(&default, "amd64", (4, 7))).len(), 352);
        assert_eq!(allowed_names(&embedded(&all_caps, "amd64", (6, 18))).len(), 398);

        // ptrace: from 4.8 on, or with CAP_SYS_PTRACE (which also brings kcmp, pidfd_getfd, process_madvise)
        let old = allowed_names(&embedded(&default, "amd64", (4, 7))).into_iter().map(String::from).collect::<Vec<_>>();
        assert!(!old.iter().any(|n| n == "ptrace"));
        let tracer = [default.as_slice(), &["CAP_SYS_PTRACE"]].concat();
        let traced = embedded(&tracer, "amd64", (4, 7));
        for n in ["ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd", "process_madvise"] {
            assert!(allowed_names(&traced).contains(n), "{n} with CAP_SYS_PTRACE");
        }
        assert!(!allowed_names(&embedded(&default, "amd64", (6, 18))).contains("kcmp"));

        // personality: exactly PER_LINUX, PER_LINUX32, UNAME26, PER_LINUX32|UNAME26 and the 0xffffffff query
        let p = embedded(&default, "amd64", (6, 18));
        let personas: Vec<(usize, u64, LinuxSeccompOperator)> = entries(&p, "personality")
            .iter()
            .flat_map(|s| s.args().iter().flatten().map(|a| (a.index(), a.value(), a.op())))
            .collect();
        let eq = LinuxSeccompOperator::ScmpCmpEq;
        assert_eq!(personas, [(0, 0, eq), (0, 8, eq), (0, 0x2_0000, eq), (0, 0x2_0008, eq), (0, 0xffff_ffff, eq)]);

        // clone: the namespace flags masked out (NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET),
        // in argument 0, or 1 on s390; clone3 answers ENOSYS; CAP_SYS_ADMIN lifts both
        let clone_rule = |p: &LinuxSeccomp| -> Vec<(usize, u64, LinuxSeccompOperator)> {
            entries(p, "clone")
                .iter()
                .flat_map(|s| s.args().iter().flatten().map(|a| (a.index(), a.value(), a.op())))
                .collect()
        };
        let masked = LinuxSeccompOperator::ScmpCmpMaskedEq;
        assert_eq!(clone_rule(&p), [(0, 0x7e02_0000, masked)]);
        assert_eq!(clone_rule(&embedded(&default, "s390x", (6, 18))), [(1, 0x7e02_0000, masked)]);
        let clone3: Vec<_> = entries(&p, "clone3").iter().map(|s| (s.action(), s.errno_ret())).collect();
        assert_eq!(clone3, [(LinuxSeccompAction::ScmpActErrno, Some(38))]);
        let admin = embedded(&[default.as_slice(), &["CAP_SYS_ADMIN"]].concat(), "amd64", (6, 18));
        assert!(clone_rule(&admin).is_empty());
        assert!(allowed_names(&admin).contains("clone") && allowed_names(&admin).contains("clone3"));
        assert_eq!(entries(&admin, "clone3").len(), 1);

        // socket: anything but AF_VSOCK
        let socket: Vec<_> = entries(&p, "socket")
            .iter()
            .flat_map(|s| s.args().iter().flatten().map(|a| (a.index(), a.value(), a.op())))
            .collect();
        assert_eq!(socket, [(0, 40, LinuxSeccompOperator::ScmpCmpNe)]);
    }

    #[test]
    fn the_embedded_profile_has_only_known_fields_and_user_profiles_may_have_more() {
        let value: Value = serde_json::from_str(DOCKER_DEFAULT_JSON).unwrap();
        assert_eq!(unknown_field(&value), None);
        let unknown = |json: &str| unknown_field(&serde_json::from_str(json).unwrap()).unwrap_or_default();
        assert_eq!(unknown(r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrno":1}"#), "defaultErrno");
        assert_eq!(
            unknown(
                r#"{"defaultAction":"SCMP_ACT_ERRNO","archMap":[{"architecture":"SCMP_ARCH_X86_64","subArches":[]}]}"#
            ),
            "archMap[0].subArches"
        );
        assert_eq!(
            unknown(
                r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["a"],"action":"SCMP_ACT_ALLOW"},{"names":["b"],"action":"SCMP_ACT_ALLOW","errno":1}]}"#
            ),
            "syscalls[1].errno"
        );
        assert_eq!(
            unknown(
                r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["a"],"action":"SCMP_ACT_ALLOW","args":[{"index":0,"value":1,"op":"SCMP_CMP_EQ","valueTwo":0,"mask":3}]}]}"#
            ),
            "syscalls[0].args[0].mask"
        );
        assert_eq!(
            unknown(
                r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["a"],"action":"SCMP_ACT_ALLOW","excludes":{"capabilities":["CAP_SYS_ADMIN"]}}]}"#
            ),
            "syscalls[0].excludes.capabilities"
        );
        // a misspelt condition would silently allow more: the check finds it in the embedded text
        let typo = DOCKER_DEFAULT_JSON.replacen("\"includes\"", "\"include\"", 1);
        assert_eq!(unknown(&typo), "syscalls[1].include");
        // broken JSON and unknown values are errors of the parser the default goes through
        let parse = |json: &str| parse_docker(json, "test");
        let torn = &DOCKER_DEFAULT_JSON[..DOCKER_DEFAULT_JSON.len() / 2];
        assert!(matches!(parse(torn), Err(ProfileError::Parse { .. })));
        let bad_action = DOCKER_DEFAULT_JSON.replace("SCMP_ACT_ALLOW", "SCMP_ACT_ALOW");
        assert!(matches!(parse(&bad_action), Err(ProfileError::Parse { .. })));
        let bad_kernel = DOCKER_DEFAULT_JSON.replace("\"4.8\"", "\"four\"");
        let host = Host { caps: HashSet::new(), arch: "amd64", kernel: KernelVersion { major: 6, minor: 1 } };
        let err = resolve(&parse(&bad_kernel).unwrap(), "test", &host).unwrap_err();
        assert!(matches!(err, ProfileError::MinKernel { .. }), "{err}");
        // a user's profile may carry fields Docker does not know, as Docker's decoder ignores them
        let p = parse_profile(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","x-note":"mine","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","why":"io"}]}"#,
            "user",
            DEFAULT_CAPABILITIES.iter(),
            "amd64",
        )
        .unwrap();
        assert_eq!(allowed_names(&p).into_iter().collect::<Vec<_>>(), ["read"]);
    }

    /// The entries that name `syscall`.
    fn entries<'a>(p: &'a LinuxSeccomp, syscall: &str) -> Vec<&'a LinuxSyscall> {
        p.syscalls().iter().flatten().filter(|s| s.names().iter().any(|n| n == syscall)).collect()
    }

    /// Allowed whatever its arguments.
    fn allowed(p: &LinuxSeccomp, syscall: &str) -> bool {
        entries(p, syscall).iter().any(|s| s.action() == LinuxSeccompAction::ScmpActAllow && s.args().is_none())
    }

    #[test]
    fn docker_defaults_allow_the_ordinary_and_deny_the_dangerous() {
        let p = docker_default(&DEFAULT_CAPABILITIES, "x86_64", (6, 1));
        assert_eq!(p.default_action(), LinuxSeccompAction::ScmpActErrno);
        assert_eq!(p.default_errno_ret(), Some(1), "EPERM");
        assert_eq!(
            p.architectures().as_deref(),
            Some(&[Arch::ScmpArchX86_64, Arch::ScmpArchX86, Arch::ScmpArchX32][..])
        );
        for ok in
            ["read", "write", "openat", "execve", "exit_group", "chown", "setuid", "capset", "arch_prctl", "ptrace"]
        {
            assert!(allowed(&p, ok), "{ok} should be allowed");
        }
        // CAP_SYS_ADMIN, CAP_SYS_BOOT, CAP_SYS_MODULE…: not in Docker's 14; kexec_load is listed nowhere
        for denied in
            ["mount", "umount2", "unshare", "setns", "reboot", "kexec_load", "init_module", "bpf", "syslog", "acct"]
        {
            assert!(entries(&p, denied).is_empty(), "{denied} should fall to the default action");
        }
        // clone without namespace flags only; clone3 answers ENOSYS so libc falls back to clone
        let clone = entries(&p, "clone");
        assert_eq!(clone.len(), 1);
        let arg = clone[0].args().as_ref().unwrap()[0];
        assert_eq!((arg.index(), arg.value(), arg.op()), (0, 2114060288, LinuxSeccompOperator::ScmpCmpMaskedEq));
        let clone3 = entries(&p, "clone3");
        assert_eq!(clone3.len(), 1);
        assert_eq!((clone3[0].action(), clone3[0].errno_ret()), (LinuxSeccompAction::ScmpActErrno, Some(38)));
        // other architectures' entries are gone
        assert!(entries(&p, "set_tls").is_empty());
        assert!(entries(&p, "s390_runtime_instr").is_empty());
        // chroot comes with CAP_SYS_CHROOT, which Docker grants
        assert!(allowed(&p, "chroot"));
        // AF_VSOCK sockets are refused
        let socket = entries(&p, "socket");
        assert_eq!(socket[0].args().as_ref().unwrap()[0].op(), LinuxSeccompOperator::ScmpCmpNe);
    }

    #[test]
    fn capabilities_open_their_syscalls() {
        let mut caps = DEFAULT_CAPABILITIES.to_vec();
        caps.push(Capability::SysAdmin);
        let p = docker_default(&caps, "amd64", (6, 1));
        for now_ok in ["mount", "umount2", "unshare", "setns", "sethostname", "clone", "clone3"] {
            assert!(allowed(&p, now_ok), "{now_ok} should be allowed with CAP_SYS_ADMIN");
        }
        assert_eq!(entries(&p, "clone").len(), 1, "the masked clone rule is excluded with CAP_SYS_ADMIN");
        assert!(entries(&p, "clone3").iter().all(|s| s.action() == LinuxSeccompAction::ScmpActAllow));
        assert!(!allowed(&p, "reboot"));
        caps.push(Capability::SysBoot);
        assert!(allowed(&docker_default(&caps, "amd64", (6, 1)), "reboot"));
        // without CAP_SYS_CHROOT, no chroot
        let fewer: Vec<Capability> =
            DEFAULT_CAPABILITIES.iter().copied().filter(|c| *c != Capability::SysChroot).collect();
        assert!(!allowed(&docker_default(&fewer, "amd64", (6, 1)), "chroot"));
    }

    #[test]
    fn kernel_version_and_architecture_select_entries() {
        // ptrace is allowed from 4.8 on (before, only with CAP_SYS_PTRACE)
        assert!(!allowed(&docker_default(&DEFAULT_CAPABILITIES, "amd64", (4, 4)), "ptrace"));
        assert!(!allowed(&docker_default(&DEFAULT_CAPABILITIES, "amd64", (4, 7)), "process_vm_readv"));
        assert!(allowed(&docker_default(&DEFAULT_CAPABILITIES, "amd64", (4, 8)), "process_vm_readv"));
        let mut tracer = DEFAULT_CAPABILITIES.to_vec();
        tracer.push(Capability::SysPtrace);
        assert!(allowed(&docker_default(&tracer, "amd64", (4, 4)), "ptrace"));
        assert!(allowed(&docker_default(&DEFAULT_CAPABILITIES, "amd64", (4, 8)), "ptrace"));
        let arm = docker_default(&DEFAULT_CAPABILITIES, "aarch64", (6, 1));
        assert_eq!(arm.architectures().as_deref(), Some(&[Arch::ScmpArchAarch64, Arch::ScmpArchArm][..]));
        assert!(allowed(&arm, "set_tls"));
        assert!(!allowed(&arm, "arch_prctl"));
        let s390 = docker_default(&DEFAULT_CAPABILITIES, "s390x", (6, 1));
        let clone = entries(&s390, "clone");
        assert_eq!(clone.len(), 1);
        assert_eq!(clone[0].args().as_ref().unwrap()[0].index(), 1, "s390 orders clone's arguments differently");
        assert_eq!(s390.architectures().as_deref(), Some(&[Arch::ScmpArchS390x, Arch::ScmpArchS390][..]));
        assert!(allowed(&s390, "s390_runtime_instr"));
        assert!(!allowed(&s390, "modify_ldt"));
        let riscv = docker_default(&DEFAULT_CAPABILITIES, "riscv64", (6, 1));
        assert_eq!(riscv.architectures().as_deref(), Some(&[Arch::ScmpArchRiscv64][..]));
        assert!(allowed(&riscv, "riscv_flush_icache"));
        assert!(!allowed(&arm, "riscv_flush_icache"));
        assert!(docker_default(&DEFAULT_CAPABILITIES, "sparc64", (6, 1)).architectures().is_none());
    }

    #[test]
    fn kernel_versions_parse_like_moby() {
        assert_eq!(KernelVersion::parse("6.18.44-fc-v669"), Some(KernelVersion { major: 6, minor: 18 }));
        assert_eq!(KernelVersion::parse("3.12-1-amd64"), Some(KernelVersion { major: 3, minor: 12 }));
        assert_eq!(KernelVersion::parse("4.8"), Some(KernelVersion { major: 4, minor: 8 }));
        assert_eq!(KernelVersion::parse("5"), None);
        assert!(KernelVersion::running().is_ok());
        assert_eq!(docker_arch_name("x86_64"), "amd64");
        assert!(!host_arch().is_empty());
    }

    #[test]
    fn the_default_profile_resolves_on_this_host() {
        let p = default_profile(DEFAULT_CAPABILITIES.iter(), host_arch()).unwrap();
        assert!(allowed(&p, "read"));
        assert!(entries(&p, "mount").is_empty());
    }

    #[test]
    fn profile_files_in_either_format() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        std::fs::create_dir_all(&dir).unwrap();
        let oci = dir.join("oci.json");
        std::fs::write(
            &oci,
            r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"],
                "flags":["SECCOMP_FILTER_FLAG_LOG"],
                "syscalls":[{"names":["mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":13,
                             "args":[{"index":2,"value":448,"op":"SCMP_CMP_EQ"}]}]}"#,
        )
        .unwrap();
        let p = load_profile_file(&oci, DEFAULT_CAPABILITIES.iter(), "amd64").unwrap();
        assert_eq!(p.default_action(), LinuxSeccompAction::ScmpActAllow);
        assert_eq!(p.architectures().as_deref(), Some(&[Arch::ScmpArchX86_64][..]));
        assert_eq!(p.flags().as_deref(), Some(&[LinuxSeccompFilterFlag::SeccompFilterFlagLog][..]));
        let s = &p.syscalls().as_ref().unwrap()[0];
        assert_eq!((s.errno_ret(), s.args().as_ref().unwrap()[0].value()), (Some(13), 448));

        let docker = dir.join("docker.json");
        std::fs::write(
            &docker,
            r#"{"defaultAction":"SCMP_ACT_ERRNO","archMap":[{"architecture":"SCMP_ARCH_X86_64","subArchitectures":null}],
                "syscalls":[{"name":"read","action":"SCMP_ACT_ALLOW","args":null},
                            {"names":["mount"],"action":"SCMP_ACT_ALLOW","includes":{"caps":["CAP_SYS_ADMIN"]}},
                            {"names":["write"],"action":"SCMP_ACT_ALLOW","excludes":{"minKernel":"2.6"}}]}"#,
        )
        .unwrap();
        let p = load_profile_file(&docker, DEFAULT_CAPABILITIES.iter(), "amd64").unwrap();
        let names: Vec<&String> = p.syscalls().iter().flatten().flat_map(|s| s.names()).collect();
        assert_eq!(names, ["read"]);
        assert_eq!(p.architectures().as_deref(), Some(&[Arch::ScmpArchX86_64][..]));

        let bad = |json: &str| {
            std::fs::write(dir.join("bad.json"), json).unwrap();
            load_profile_file(&dir.join("bad.json"), DEFAULT_CAPABILITIES.iter(), "amd64").unwrap_err()
        };
        assert!(matches!(
            bad(
                r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_X86"],"archMap":[{"architecture":"SCMP_ARCH_X86_64"}]}"#
            ),
            ProfileError::ArchitecturesAndArchMap { .. }
        ));
        assert!(matches!(
            bad(
                r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"name":"a","names":["b"],"action":"SCMP_ACT_ALLOW"}]}"#
            ),
            ProfileError::NameAndNames { .. }
        ));
        assert!(matches!(bad(r#"{"syscalls":[]}"#), ProfileError::NoDefaultAction { .. }));
        assert!(matches!(bad(r#"{"defaultAction":"SCMP_ACT_NOPE"}"#), ProfileError::Parse { .. }));
        assert!(matches!(
            bad(r#"{"defaultAction":"SCMP_ACT_ERRNO","architectures":["SCMP_ARCH_VAX"]}"#),
            ProfileError::UnknownArch { .. }
        ));
        assert!(matches!(
            bad(
                r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["x"],"action":"SCMP_ACT_ALLOW","includes":{"minKernel":"new"}}]}"#
            ),
            ProfileError::MinKernel { .. }
        ));
        let missing = load_profile_file(&dir.join("absent.json"), DEFAULT_CAPABILITIES.iter(), "amd64").unwrap_err();
        assert!(missing.to_string().contains("absent.json"), "{missing}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
