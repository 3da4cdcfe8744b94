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
use serde_json::Value;
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
    #[error("seccomp profile {what}: unknown field {path}")]
    UnknownField { what: String, path: String },
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

/// [`DOCKER_DEFAULT_JSON`] parsed (strictly: a field this loader does not know is an
/// error, not a silently ignored condition), once per process.
fn docker_default_profile() -> Result<&'static DockerProfile, ProfileError> {
    static PARSED: OnceLock<DockerProfile> = OnceLock::new();
    if let Some(p) = PARSED.get() {
        return Ok(p);
    }
    let profile = parse_docker(DOCKER_DEFAULT_JSON, DOCKER_DEFAULT_WHAT, Strictness::Strict)?;
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
    let profile = parse_docker(json, what, Strictness::Lenient)?;
    resolve(&profile, what, &Host::new(caps, arch)?)
}

/// Whether fields the loader does not know are refused ([`DOCKER_DEFAULT_JSON`]) or
/// ignored, as Docker's Go decoder ignores them (users' profile files).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Strictness {
    Strict,
    Lenient,
}

fn parse_docker(json: &str, what: &str, strictness: Strictness) -> Result<DockerProfile, ProfileError> {
    let parse_err = |source| ProfileError::Parse { what: what.to_string(), source };
    match strictness {
        Strictness::Lenient => serde_json::from_str(json).map_err(parse_err),
        Strictness::Strict => {
            let value: Value = serde_json::from_str(json).map_err(parse_err)?;
            if let Some(path) = unknown_field(&value) {
                return Err(ProfileError::UnknownField { what: what.to_string(), path });
            }
            DockerProfile::deserialize(&value).map_err(parse_err)
        }
    }
}

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
        .or_else(|| items(profile, "archMap").find_map(|(i, e)| check(e, ARCH_MAP_FIELDS, &format!("archMap[{i}]."))))
        .or_else(|| {
            items(profile, "syscalls").find_map(|(i, call)| {
                let at = format!("syscalls[{i}].");
                check(call, SYSCALL_FIELDS, &at)
                    .or_else(|| items(call, "args").find_map(|(j, a)| check(a, ARG_FIELDS, &format!("{at}args[{j}]."))))
                    .or_else(|| {
                        ["includes", "excludes"]
                            .iter()
                            .find_map(|c| call.get(*c).and_then(|v| check(v, CONDITION_FIELDS, &format!("{at}{c}."))))
                    })
            })
        })
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
    use crate::spec::seccomp_default as default;
    use crate::spec::DEFAULT_CAPABILITIES;
    use oci_spec::runtime::{LinuxSeccompArgBuilder, LinuxSeccompOperator};

    fn docker_default(caps: &[Capability], arch: &str, kernel: (u32, u32)) -> LinuxSeccomp {
        let host = Host {
            caps: caps.iter().map(cap_name).collect(),
            arch: docker_arch_name(arch),
            kernel: KernelVersion { major: kernel.0, minor: kernel.1 },
        };
        resolve(docker_default_profile().unwrap(), "default", &host).unwrap()
    }

    /// The former tables of `spec::seccomp_default` as a profile in Docker's format, one
    /// syscall entry per table row.
    fn tables_profile() -> DockerProfile {
        let strings = |items: &[&str]| Some(items.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        let arch =
            |a: &Arch| serde_json::to_value(a).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
        let allow = |names: &[&str], includes: Option<Conditions>| DockerSyscall {
            name: None,
            names: strings(names),
            action: LinuxSeccompAction::ScmpActAllow,
            errno_ret: None,
            args: None,
            includes,
            excludes: None,
        };
        let mut syscalls = vec![allow(default::ALLOWED, None)];
        for ((major, minor), names) in default::ALLOWED_FROM_KERNEL {
            let min_kernel = Some(format!("{major}.{minor}"));
            syscalls.push(allow(names, Some(Conditions { min_kernel, ..Conditions::default() })));
        }
        for (arches, names) in default::ALLOWED_ON_ARCHES {
            syscalls.push(allow(names, Some(Conditions { arches: strings(arches), ..Conditions::default() })));
        }
        for (cap, names) in default::ALLOWED_WITH_CAP {
            syscalls.push(allow(names, Some(Conditions { caps: Some(vec![cap_name(cap)]), ..Conditions::default() })));
        }
        for rule in default::RULES {
            let (mut includes, mut excludes) = (Conditions::default(), Conditions::default());
            match rule.arches {
                default::Arches::Any => {}
                default::Arches::Only(a) => includes.arches = strings(a),
                default::Arches::Except(a) => excludes.arches = strings(a),
            }
            excludes.caps = rule.unless_cap.as_ref().map(|c| vec![cap_name(c)]);
            let is_set = |c: &Conditions| c.caps.is_some() || c.arches.is_some() || c.min_kernel.is_some();
            syscalls.push(DockerSyscall {
                name: None,
                names: Some(vec![rule.name.to_string()]),
                action: match rule.errno {
                    None => LinuxSeccompAction::ScmpActAllow,
                    Some(_) => LinuxSeccompAction::ScmpActErrno,
                },
                errno_ret: rule.errno,
                args: rule.arg.map(|(index, op, value)| {
                    vec![LinuxSeccompArgBuilder::default()
                        .index(index)
                        .op(op)
                        .value(value)
                        .build()
                        .expect("all fields set")]
                }),
                includes: Some(includes).filter(is_set),
                excludes: Some(excludes).filter(is_set),
            });
        }
        DockerProfile {
            default_action: Some(default::DEFAULT_ACTION),
            default_errno_ret: Some(default::DEFAULT_ERRNO_RET),
            architectures: None,
            arch_map: Some(
                default::ARCH_MAP
                    .iter()
                    .map(|(native, subs)| ArchMapEntry {
                        architecture: arch(native),
                        sub_architectures: Some(subs.iter().map(arch).collect()).filter(|s: &Vec<_>| !s.is_empty()),
                    })
                    .collect(),
            ),
            flags: None,
            listener_path: None,
            listener_metadata: None,
            syscalls: Some(syscalls),
        }
    }

    /// One syscall rule of a resolved profile: name, action, errno, argument conditions.
    type Rule = (String, String, Option<u32>, Vec<(usize, u64, Option<u64>, String)>);

    /// What a resolved profile means to the filter, independent of the order and grouping of
    /// its entries: the default action, the architectures, flags, listener, and the sorted
    /// multiset of per-syscall rules.
    #[allow(clippy::type_complexity)]
    fn normalised(p: &LinuxSeccomp) -> (String, Option<u32>, Vec<String>, Vec<String>, Option<PathBuf>, Vec<Rule>) {
        let mut rules: Vec<Rule> = Vec::new();
        for s in p.syscalls().iter().flatten() {
            let args: Vec<_> = s
                .args()
                .iter()
                .flatten()
                .map(|a| (a.index(), a.value(), a.value_two(), format!("{:?}", a.op())))
                .collect();
            for n in s.names() {
                rules.push((n.clone(), format!("{:?}", s.action()), s.errno_ret(), args.clone()));
            }
        }
        rules.sort();
        (
            format!("{:?}", p.default_action()),
            p.default_errno_ret(),
            p.architectures().iter().flatten().map(|a| format!("{a:?}")).collect(),
            p.flags().iter().flatten().map(|f| format!("{f:?}")).collect(),
            p.listener_path().clone(),
            rules,
        )
    }

    #[test]
    fn the_embedded_json_resolves_exactly_as_the_tables_did() {
        let json = docker_default_profile().unwrap();
        let tables = tables_profile();
        // every capability the caps crate knows, and every one the profile's conditions name
        let mut every: std::collections::BTreeSet<String> = caps::all().iter().map(|c| c.to_string()).collect();
        let mut min_kernels = std::collections::BTreeSet::new();
        for call in json.syscalls.iter().flatten() {
            for cond in [&call.includes, &call.excludes].into_iter().flatten() {
                every.extend(cond.caps.iter().flatten().cloned());
                min_kernels.extend(cond.min_kernel.as_deref().map(|v| KernelVersion::parse(v).unwrap()));
            }
        }
        assert!(every.contains("CAP_PERFMON") && every.contains("CAP_SYS_ADMIN") && every.len() >= 40, "{every:?}");
        let default: HashSet<String> = DEFAULT_CAPABILITIES.iter().map(cap_name).collect();
        let mut cap_sets: Vec<HashSet<String>> = vec![HashSet::new(), default.clone(), every.iter().cloned().collect()];
        for c in &every {
            cap_sets.push(HashSet::from([c.clone()]));
            cap_sets.push(default.iter().chain([c]).cloned().collect());
            cap_sets.push(default.iter().filter(|d| *d != c).cloned().collect());
        }
        // the kernel versions the profile's minKernel conditions split on: just below, at, far above
        let mut kernels = vec![KernelVersion { major: 3, minor: 10 }, KernelVersion { major: 6, minor: 18 }];
        for k in &min_kernels {
            kernels.push(*k);
            kernels.push(KernelVersion { major: k.major, minor: k.minor.saturating_sub(1) });
        }
        assert!(min_kernels.contains(&KernelVersion { major: 4, minor: 8 }));
        // every architecture of the archMap and of the profile's arch conditions, plus one neither knows
        let arches = [
            "amd64",
            "x86",
            "x32",
            "arm",
            "arm64",
            "mips",
            "mipsel",
            "mips64",
            "mips64n32",
            "mipsel64",
            "mipsel64n32",
            "ppc",
            "ppc64",
            "ppc64le",
            "s390",
            "s390x",
            "riscv64",
            "sparc64",
        ];
        let mut compared = 0;
        for caps in &cap_sets {
            for arch in arches {
                for kernel in &kernels {
                    let host = Host { caps: caps.clone(), arch, kernel: *kernel };
                    let from_json = resolve(json, "json", &host).unwrap();
                    let from_tables = resolve(&tables, "tables", &host).unwrap();
                    let mut sorted: Vec<&String> = caps.iter().collect();
                    sorted.sort();
                    assert_eq!(
                        normalised(&from_json),
                        normalised(&from_tables),
                        "caps {sorted:?}, arch {arch}, kernel {kernel:?}"
                    );
                    compared += 1;
                }
            }
        }
        assert_eq!(compared, cap_sets.len() * arches.len() * kernels.len());
        eprintln!("compared {compared} capability/architecture/kernel combinations");
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
        let dir = std::env::temp_dir().join(format!("rrun-seccomp-profile-{}", std::process::id()));
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
