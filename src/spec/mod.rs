//! From an image config and `rrun run` options to an OCI runtime `Spec`.
//!
//! Pure functions: no file is read here (the caller passes `/etc/passwd` and
//! `/etc/group` contents in), so every rule is unit-tested without root.

pub mod mounts;
pub mod network;
pub mod options;
mod policy;
pub mod resources;
pub mod seccomp;

pub use mounts::{MountRequest, MountSource};
pub use network::{NetworkMode, PortRequest};
pub use options::{NamespaceMode, Ulimit};
pub use policy::{LogDriver, RestartPolicy};

use crate::image::ContainerConfig;
use oci_spec::runtime::{
    Capability, LinuxBuilder, LinuxCapabilitiesBuilder, LinuxNamespace, LinuxNamespaceBuilder, LinuxNamespaceType,
    Mount, MountBuilder, PosixRlimitBuilder, ProcessBuilder, RootBuilder, Spec, SpecBuilder, UserBuilder,
};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

/// Why options and an image config do not make a runtime spec: each
/// variant names the option (as its Docker flag) and the value refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum SpecError {
    /// Neither the options nor the image say what to run.
    #[error("no command specified: the image has no Entrypoint or Cmd, and none was given")]
    NoCommand,
    /// `-w`/`WORKDIR` is not absolute.
    #[error("working directory {0:?} is invalid: it must be an absolute path")]
    RelativeWorkdir(String),
    /// `-u NAME`: the image's `/etc/passwd` has no such user.
    #[error("unable to find user {0}: no matching entries in the image's /etc/passwd")]
    UnknownUser(String),
    /// `-u USER:GROUP`/`--group-add`: the image's `/etc/group` has no such group.
    #[error("unable to find group {0}: no matching entries in the image's /etc/group")]
    UnknownGroup(String),
    /// A `-v` value that does not parse.
    #[error("invalid volume {spec:?}: {reason}")]
    Volume {
        /// The value given.
        spec: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A `--mount` value that does not parse.
    #[error("invalid --mount {spec:?}: {reason}")]
    Mount {
        /// The value given.
        spec: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Two mounts at one destination.
    #[error("duplicate mount point: {0}")]
    DuplicateMount(PathBuf),
    /// A flag's value is out of range or malformed.
    #[error("invalid {flag} {value:?}: {reason}")]
    Invalid {
        /// The flag, as Docker spells it (`--sysctl`).
        flag: String,
        /// The value given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Options that exclude each other (`--hostname` with `--uts host`).
    #[error("conflicting options: {0}")]
    Conflict(String),
    /// A `--tmpfs` value that does not parse.
    #[error("invalid tmpfs {spec:?}: {reason}")]
    Tmpfs {
        /// The value given.
        spec: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An `-e` entry with an empty name or `=` in it.
    #[error("invalid environment variable {0:?}: the name must not be empty or contain '='")]
    Env(String),
    /// A `--network` value that is no mode and no network name.
    #[error("invalid network mode {0:?}: expected bridge, host, none, container:NAME or a network's name")]
    Network(String),
    /// A resource limit (`--memory`, `--cpus`, …) that does not parse or is out of range.
    #[error("invalid {flag} {value:?}: {reason}")]
    Limit {
        /// The flag, as Docker spells it.
        flag: String,
        /// The value given.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A `--restart` policy that does not parse or does not fit (`--rm`).
    #[error("{0}")]
    Restart(String),
    /// `--cap-add`/`--cap-drop` of a name that is no capability.
    #[error("unknown capability {0:?}")]
    Capability(String),
    /// A `--security-opt` rrun does not know.
    #[error("invalid --security-opt {0:?}: expected seccomp=unconfined|FILE, no-new-privileges or label=disable")]
    SecurityOpt(String),
    /// oci-spec refused a value while the spec was built.
    #[error("building the runtime spec: {0}")]
    Build(String),
}

/// A `--tmpfs /path[:options]` mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tmpfs {
    /// Where it is mounted in the container (absolute, not `/`).
    pub destination: PathBuf,
    /// Mount options: Docker's defaults (`noexec,nosuid,nodev,size=65536k`), then the given ones.
    pub options: Vec<String>,
}

impl std::str::FromStr for Tmpfs {
    type Err = SpecError;
    fn from_str(s: &str) -> Result<Self, SpecError> {
        let (dst, opts) = s.split_once(':').unwrap_or((s, ""));
        if !dst.starts_with('/') || dst == "/" {
            return Err(SpecError::Tmpfs { spec: s.to_string(), reason: "the path must be absolute and not /" });
        }
        // Docker's defaults; user options come after and win
        let mut options: Vec<String> = ["noexec", "nosuid", "nodev", "size=65536k"].map(String::from).to_vec();
        options.extend(opts.split(',').filter(|o| !o.is_empty()).map(String::from));
        Ok(Tmpfs { destination: dst.into(), options })
    }
}

/// What `rrun run` was asked for, beyond the image: build it with
/// [`RunOptions::new`] and its setters, or `default()` and field assignment.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct RunOptions {
    /// `--name`: the container's name (None: a generated one).
    pub name: Option<String>,
    /// Arguments after the image name (replace the image's Cmd).
    pub command: Vec<String>,
    /// `--entrypoint`: `Some("")` clears the image's entrypoint.
    pub entrypoint: Option<String>,
    /// `-e` and `--env-file` entries, already expanded to `K=V`.
    pub env: Vec<String>,
    /// `-w`: the working directory (None: the image's, else `/`).
    pub workdir: Option<String>,
    /// `-u USER[:GROUP]`: names or numbers (None: the image's user, else root).
    pub user: Option<String>,
    /// `-h`: the container's hostname (None: its short ID).
    pub hostname: Option<String>,
    /// `-v` and `--mount`, in the order given (`-v` first).
    pub mounts: Vec<MountRequest>,
    /// `--tmpfs`: tmpfs mounts.
    pub tmpfs: Vec<Tmpfs>,
    /// `--read-only`: the root filesystem is mounted read-only.
    pub read_only: bool,
    /// `--rm`: the container is removed once it exits.
    pub remove: bool,
    /// `-i`: stdin stays open to the container.
    pub interactive: bool,
    /// `-t`: the container's process gets a terminal.
    pub tty: bool,
    /// `--network`: none, host, bridge, `container:NAME` or a named network.
    pub network: NetworkMode,
    /// Was `--network` given (a host network then also takes the host's name)?
    /// Without it, the host's network configuration says (`default_network`).
    pub network_explicit: bool,
    /// `--network-alias`: more names other containers of the network resolve.
    pub network_aliases: Vec<String>,
    /// `-p`: ports published on the host.
    pub publish: Vec<PortRequest>,
    /// `-P`: every exposed port (the image's and `--expose`'s) published on any free host port.
    pub publish_all: bool,
    /// `--expose`: ports exposed besides the image's (port, protocol).
    pub expose: Vec<(u16, String)>,
    /// `--dns`, `--dns-search`, `--dns-option`: the container's resolv.conf.
    pub dns: Vec<std::net::IpAddr>,
    /// `--dns-search`: search domains.
    pub dns_search: Vec<String>,
    /// `--dns-option`: resolver options (`ndots:2`).
    pub dns_options: Vec<String>,
    /// `--add-host NAME:IP` lines of /etc/hosts (IP may be `host-gateway`).
    pub add_hosts: Vec<(String, String)>,
    /// `--ip`: the container's address on its network.
    pub ip: Option<std::net::Ipv4Addr>,
    /// `--mac-address`.
    pub mac_address: Option<String>,
    /// `--init`: a minimal init runs as PID 1, reaping zombies and forwarding signals.
    pub init: bool,
    /// Resource limits (`--memory`, `--cpus`, `--pids-limit`…).
    pub limits: resources::Limits,
    /// `--restart`: applied by a detached container's monitor.
    pub restart: RestartPolicy,
    /// `--log-opt max-size`: where a detached container's log rotates (None: the default).
    pub log_max_size: Option<u64>,
    /// `--cap-add` (names with or without `CAP_`, or `ALL`).
    pub cap_add: Vec<String>,
    /// `--cap-drop` (names with or without `CAP_`, or `ALL`).
    pub cap_drop: Vec<String>,
    /// `--privileged`: every capability, no seccomp, no masked paths, every device.
    pub privileged: bool,
    /// `--security-opt seccomp=…`.
    pub seccomp: SeccompChoice,
    /// `--security-opt no-new-privileges`: setuid binaries and file capabilities grant nothing (off, as in Docker).
    pub no_new_privileges: bool,
    /// `--ulimit`: rlimits of the process.
    pub ulimits: Vec<Ulimit>,
    /// `--shm-size`: bytes of `/dev/shm` (None: 64 MiB).
    pub shm_size: Option<i64>,
    /// `--sysctl`: namespaced kernel parameters.
    pub sysctls: BTreeMap<String, String>,
    /// `--group-add`: more groups (names from the image's `/etc/group`, or numbers).
    pub group_add: Vec<String>,
    /// `--stop-signal` (None: the image's, else SIGTERM).
    pub stop_signal: Option<String>,
    /// `--stop-timeout`: seconds `stop` waits before SIGKILL (None: 10).
    pub stop_timeout: Option<u64>,
    /// `--ipc`: private, shareable, host or `container:NAME`.
    pub ipc: NamespaceMode,
    /// `--pid`: private, host or `container:NAME`.
    pub pid: NamespaceMode,
    /// `--uts`: private or host.
    pub uts: NamespaceMode,
    /// `--cidfile`: where the container's ID is written (refused if it exists).
    pub cidfile: Option<PathBuf>,
    /// `--label` and `--label-file`, merged over the image's labels.
    pub labels: Vec<(String, String)>,
    /// `--annotation`: the Spec's annotations.
    pub annotations: BTreeMap<String, String>,
    /// `--oom-score-adj`.
    pub oom_score_adj: Option<i32>,
    /// `--health-*`, `--no-healthcheck` (`Test: ["NONE"]`): merged over the
    /// image's Healthcheck, field by field; None keeps the image's.
    pub healthcheck: Option<crate::image::Healthcheck>,
    /// `--log-driver`.
    pub log_driver: LogDriver,
    /// `-a`: the streams a foreground run relays (None: stdout and stderr;
    /// the others are still logged).
    pub attach: Option<Streams>,
    /// Where a foreground run's stdin, stdout and stderr go (the caller's own by default).
    pub stdio: crate::stdio::Stdio,
    /// `--device VENDOR/CLASS=NAME`: CDI devices, whose spec files say what
    /// they add to the container (nodes, mounts, env, hooks, groups).
    pub cdi_devices: Vec<String>,
    /// `--gpus`: NVIDIA GPUs, as CDI devices `nvidia.com/gpu=…`.
    pub gpus: Vec<crate::cdi::GpuRequest>,
    /// `--cdi-spec-dir`: where CDI specs are read (empty: /etc/cdi, then /var/run/cdi).
    pub cdi_spec_dirs: Vec<PathBuf>,
}

impl RunOptions {
    /// Runs `command` (empty: the image's own) with every other option at its default.
    pub fn new<S: Into<String>>(command: impl IntoIterator<Item = S>) -> RunOptions {
        RunOptions { command: command.into_iter().map(Into::into).collect(), ..Default::default() }
    }

    /// Names the container (`--name`).
    pub fn name(mut self, name: impl Into<String>) -> RunOptions {
        self.name = Some(name.into());
        self
    }

    /// Adds `K=V` to its environment (`-e`).
    pub fn env(mut self, kv: impl Into<String>) -> RunOptions {
        self.env.push(kv.into());
        self
    }

    /// Runs it as `USER[:GROUP]` (`-u`).
    pub fn user(mut self, user: impl Into<String>) -> RunOptions {
        self.user = Some(user.into());
        self
    }

    /// Removes the container once it exits (`--rm`).
    pub fn remove(mut self, remove: bool) -> RunOptions {
        self.remove = remove;
        self
    }

    /// Keeps its stdin open (`-i`).
    pub fn interactive(mut self, interactive: bool) -> RunOptions {
        self.interactive = interactive;
        self
    }

    /// Gives it a terminal (`-t`).
    pub fn tty(mut self, tty: bool) -> RunOptions {
        self.tty = tty;
        self
    }

    /// Where a foreground run's standard streams go.
    pub fn stdio(mut self, stdio: crate::stdio::Stdio) -> RunOptions {
        self.stdio = stdio;
        self
    }
}

/// A choice of standard streams (`run -a STDIN -a STDOUT`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Streams {
    /// `-a STDIN`.
    pub stdin: bool,
    /// `-a STDOUT`.
    pub stdout: bool,
    /// `-a STDERR`.
    pub stderr: bool,
}

/// Which seccomp profile a container gets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum SeccompChoice {
    /// Docker's default profile (see `seccomp`), for the container's capabilities.
    #[default]
    Default,
    /// None (`seccomp=unconfined`).
    Unconfined,
    /// A profile file in Docker's format or an OCI `linux.seccomp` object.
    File(PathBuf),
}

impl std::str::FromStr for SeccompChoice {
    type Err = SpecError;
    /// The value of `--security-opt seccomp=VALUE`.
    fn from_str(v: &str) -> Result<Self, SpecError> {
        Ok(match v {
            "unconfined" => SeccompChoice::Unconfined,
            "" => return Err(SpecError::SecurityOpt(format!("seccomp={v}"))),
            path => SeccompChoice::File(path.into()),
        })
    }
}

/// A capability by name: `CAP_NET_ADMIN`, `NET_ADMIN` or `net_admin`.
pub fn capability(name: &str) -> Result<Capability, SpecError> {
    let up = name.to_ascii_uppercase();
    let full = if up.starts_with("CAP_") { up } else { format!("CAP_{up}") };
    serde_json::from_value(serde_json::Value::String(full)).map_err(|_| SpecError::Capability(name.to_string()))
}

/// The container's capability set: Docker's default (or all, privileged),
/// minus `--cap-drop`, plus `--cap-add` (`ALL` works in both).
pub fn capabilities(opts: &RunOptions) -> Result<HashSet<Capability>, SpecError> {
    // "all" is what rrun itself holds: a host may withhold some even from root (CAP_SYS_RESOURCE here)
    let all = || -> HashSet<Capability> {
        let held = caps::read(None, caps::CapSet::Permitted).unwrap_or_else(|_| caps::all());
        held.iter().filter_map(|c| capability(&c.to_string()).ok()).collect()
    };
    let mut set: HashSet<Capability> = if opts.privileged { all() } else { DEFAULT_CAPABILITIES.into_iter().collect() };
    for d in &opts.cap_drop {
        if d.eq_ignore_ascii_case("all") {
            set.clear();
        } else {
            set.remove(&capability(d)?);
        }
    }
    for a in &opts.cap_add {
        if a.eq_ignore_ascii_case("all") {
            set.extend(all());
        } else {
            set.insert(capability(a)?);
        }
    }
    Ok(set)
}

/// A user resolved against the image's `/etc/passwd` and `/etc/group`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedUser {
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub home: String,
}

/// Resolves `user[:group]` (names or numbers) as Docker does: a numeric user
/// need not exist; supplementary groups are those of `/etc/group` that list
/// the user's name.
pub fn resolve_user(user: &str, passwd: &str, group: &str) -> Result<ResolvedUser, SpecError> {
    let (u, g) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let u = if u.is_empty() { "0" } else { u };
    let entry = passwd.lines().filter_map(parse_passwd).find(|p| match u.parse::<u32>() {
        Ok(n) => p.uid == n,
        Err(_) => p.name == u,
    });
    let (uid, mut gid, name, home) = match (entry, u.parse::<u32>()) {
        (Some(p), _) => (p.uid, p.gid, Some(p.name.to_string()), p.home.to_string()),
        (None, Ok(n)) => (n, 0, None, "/".to_string()),
        (None, Err(_)) => return Err(SpecError::UnknownUser(u.to_string())),
    };
    let groups: Vec<GroupEntry<'_>> = group.lines().filter_map(parse_group).collect();
    if let Some(g) = g.filter(|g| !g.is_empty()) {
        gid = match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => groups
                .iter()
                .find(|e| e.name == g)
                .map(|e| e.gid)
                .ok_or_else(|| SpecError::UnknownGroup(g.to_string()))?,
        };
    }
    // as runc: an explicit group (`user:group`) means no supplementary groups from /etc/group
    let mut additional_gids = Vec::new();
    if let (Some(name), None) = (&name, g.filter(|g| !g.is_empty())) {
        for e in &groups {
            if e.members.iter().any(|m| m == name) && e.gid != gid && !additional_gids.contains(&e.gid) {
                additional_gids.push(e.gid);
            }
        }
    }
    Ok(ResolvedUser { uid, gid, additional_gids, home })
}

struct PasswdEntry<'a> {
    name: &'a str,
    uid: u32,
    gid: u32,
    home: &'a str,
}

fn parse_passwd(line: &str) -> Option<PasswdEntry<'_>> {
    let f: Vec<&str> = line.split(':').collect();
    if f.len() < 7 || line.starts_with('#') {
        return None;
    }
    Some(PasswdEntry { name: f[0], uid: f[2].parse().ok()?, gid: f[3].parse().ok()?, home: f[5] })
}

struct GroupEntry<'a> {
    name: &'a str,
    gid: u32,
    members: Vec<&'a str>,
}

fn parse_group(line: &str) -> Option<GroupEntry<'_>> {
    let f: Vec<&str> = line.split(':').collect();
    if f.len() < 4 || line.starts_with('#') {
        return None;
    }
    let members = f[3].split(',').map(str::trim).filter(|m| !m.is_empty()).collect();
    Some(GroupEntry { name: f[0], gid: f[2].parse().ok()?, members })
}

/// Docker's default capability set.
pub const DEFAULT_CAPABILITIES: [Capability; 14] = [
    Capability::Chown,
    Capability::DacOverride,
    Capability::Fsetid,
    Capability::Fowner,
    Capability::Mknod,
    Capability::NetRaw,
    Capability::Setgid,
    Capability::Setuid,
    Capability::Setfcap,
    Capability::Setpcap,
    Capability::NetBindService,
    Capability::SysChroot,
    Capability::Kill,
    Capability::AuditWrite,
];

/// Paths Docker hides from containers (a bind of /dev/null, or an empty read-only tmpfs for directories).
pub const MASKED_PATHS: [&str; 12] = [
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Paths Docker makes read-only inside containers.
pub const READONLY_PATHS: [&str; 5] = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Files the runtime writes per container and binds into it.
#[derive(Debug, Clone)]
pub struct EtcFiles {
    pub hosts: PathBuf,
    pub hostname: PathBuf,
    pub resolv_conf: PathBuf,
}

/// Everything the Spec is built from.
pub struct SpecInput<'a> {
    pub image: &'a ContainerConfig,
    pub options: &'a RunOptions,
    pub user: &'a ResolvedUser,
    pub hostname: &'a str,
    pub rootfs: &'a Path,
    pub etc: &'a EtcFiles,
    /// `--device` nodes, resolved on the host.
    pub devices: &'a [resources::HostDevice],
    /// The seccomp profile, already resolved (`None`: unconfined).
    pub seccomp: Option<oci_spec::runtime::LinuxSeccomp>,
    /// Host directories of the volumes the mounts name (anonymous ones already named).
    pub volume_dirs: &'a BTreeMap<String, PathBuf>,
    /// Namespaces joined by path (`--ipc/--pid/--uts container:NAME`), resolved.
    pub joined: &'a [(LinuxNamespaceType, PathBuf)],
}

/// The process arguments: Entrypoint + Cmd, with Docker's override rules.
pub fn process_args(image: &ContainerConfig, opts: &RunOptions) -> Result<Vec<String>, SpecError> {
    let entrypoint: Vec<String> = match &opts.entrypoint {
        Some(e) if e.is_empty() => Vec::new(),
        Some(e) => vec![e.clone()],
        None => image.entrypoint.clone().unwrap_or_default(),
    };
    // a new entrypoint drops the image's Cmd
    let cmd: Vec<String> = if !opts.command.is_empty() {
        opts.command.clone()
    } else if opts.entrypoint.is_some() {
        Vec::new()
    } else {
        image.cmd.clone().unwrap_or_default()
    };
    let args: Vec<String> = entrypoint.into_iter().chain(cmd).collect();
    if args.is_empty() {
        return Err(SpecError::NoCommand);
    }
    Ok(args)
}

/// The environment: image, then options (later wins per name), PATH, HOSTNAME, HOME, TERM.
pub fn environment(
    image: &ContainerConfig,
    opts: &RunOptions,
    hostname: &str,
    home: &str,
) -> Result<Vec<String>, SpecError> {
    let mut env: Vec<(String, String)> = Vec::new();
    let set = |kv: &str, env: &mut Vec<(String, String)>| -> Result<(), SpecError> {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        if k.is_empty() {
            return Err(SpecError::Env(kv.to_string()));
        }
        match env.iter_mut().find(|(ek, _)| ek == k) {
            Some(slot) => slot.1 = v.to_string(),
            None => env.push((k.to_string(), v.to_string())),
        }
        Ok(())
    };
    if !image.env.as_ref().is_some_and(|e| e.iter().any(|kv| kv.starts_with("PATH="))) {
        set(DEFAULT_PATH, &mut env)?;
    }
    set(&format!("HOSTNAME={hostname}"), &mut env)?;
    for kv in image.env.iter().flatten() {
        set(kv, &mut env)?;
    }
    for kv in &opts.env {
        set(kv, &mut env)?;
    }
    if opts.tty && !env.iter().any(|(k, _)| k == "TERM") {
        set("TERM=xterm", &mut env)?;
    }
    if !env.iter().any(|(k, _)| k == "HOME") {
        set(&format!("HOME={home}"), &mut env)?;
    }
    Ok(env.into_iter().map(|(k, v)| format!("{k}={v}")).collect())
}

fn mount(dest: &str, typ: &str, source: &str, options: &[&str]) -> Result<Mount, SpecError> {
    MountBuilder::default()
        .destination(dest)
        .typ(typ)
        .source(source)
        .options(options.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .build()
        .map_err(|e| SpecError::Build(e.to_string()))
}

/// The standard mounts of a container, as runc's and Docker's defaults have them.
pub fn default_mounts() -> Result<Vec<Mount>, SpecError> {
    let pts = ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"];
    // single-id rootless: group tty (5) is not mapped, and devpts refuses an unmapped gid
    let single_id = crate::rootless::active().is_some_and(|r| r.single_id());
    Ok(vec![
        mount("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"])?,
        mount("/dev", "tmpfs", "tmpfs", &["nosuid", "strictatime", "mode=755", "size=65536k"])?,
        mount("/dev/pts", "devpts", "devpts", if single_id { &pts[..5] } else { &pts })?,
        mount("/sys", "sysfs", "sysfs", &["nosuid", "noexec", "nodev", "ro"])?,
        // as Docker: the container's own cgroups, read-only (each v1 hierarchy, or the v2 tree)
        mount("/sys/fs/cgroup", "cgroup", "cgroup", &["nosuid", "noexec", "nodev", "relatime", "ro"])?,
        mount("/dev/mqueue", "mqueue", "mqueue", &["nosuid", "noexec", "nodev"])?,
        mount("/dev/shm", "tmpfs", "shm", &["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"])?,
    ])
}

/// Builds the runtime Spec of a container.
pub fn build(input: &SpecInput<'_>) -> Result<Spec, SpecError> {
    let opts = input.options;
    let args = process_args(input.image, opts)?;
    let cwd = opts
        .workdir
        .clone()
        .or_else(|| input.image.working_dir.clone().filter(|w| !w.is_empty()))
        .unwrap_or_else(|| "/".to_string());
    if !cwd.starts_with('/') {
        return Err(SpecError::RelativeWorkdir(cwd));
    }
    let env = environment(input.image, opts, input.hostname, &input.user.home)?;
    let caps = capabilities(opts)?;
    let capabilities = LinuxCapabilitiesBuilder::default()
        .bounding(caps.clone())
        .effective(caps.clone())
        .permitted(caps)
        .inheritable(HashSet::new())
        .ambient(HashSet::new())
        .build()
        .map_err(|e| SpecError::Build(e.to_string()))?;
    let user = UserBuilder::default()
        .uid(input.user.uid)
        .gid(input.user.gid)
        .additional_gids(input.user.additional_gids.clone())
        .build()
        .map_err(|e| SpecError::Build(e.to_string()))?;
    let rlimits = opts
        .ulimits
        .iter()
        .map(|u| {
            PosixRlimitBuilder::default()
                .typ(u.rlimit_type())
                .soft(u.soft)
                .hard(u.hard)
                .build()
                .map_err(|e| SpecError::Build(e.to_string()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut process = ProcessBuilder::default()
        .terminal(opts.tty)
        .user(user)
        .args(args)
        .env(env)
        .cwd(cwd)
        .capabilities(capabilities)
        .no_new_privileges(opts.no_new_privileges)
        .build()
        .map_err(|e| SpecError::Build(e.to_string()))?;
    if !rlimits.is_empty() {
        // each --ulimit replaces the default of its resource (runc's nofile 1024), others stay
        let mut all = process.rlimits().clone().unwrap_or_default();
        all.retain(|d| !rlimits.iter().any(|r| r.typ() == d.typ()));
        all.extend(rlimits);
        process.set_rlimits(Some(all));
    }
    process.set_oom_score_adj(opts.oom_score_adj.map(options::check_oom_score_adj).transpose()?);

    let mounts = container_mounts(input)?;
    let namespaces = namespaces(input)?;
    check_sysctls(opts)?;
    let nodes = input.devices.iter().map(resources::HostDevice::node).collect::<Result<Vec<_>, _>>()?;
    let mut resources = resources::resources(&opts.limits, input.devices)?;
    let (masked, readonly) = if opts.privileged {
        // every device, and nothing hidden
        resources.set_devices(Some(vec![resources::parse_device_rule("a *:* rwm", true)?]));
        (Vec::new(), Vec::new())
    } else {
        (MASKED_PATHS.map(String::from).to_vec(), READONLY_PATHS.map(String::from).to_vec())
    };
    let mut linux = LinuxBuilder::default()
        .namespaces(namespaces)
        .devices(nodes)
        .resources(resources)
        .masked_paths(masked)
        .readonly_paths(readonly)
        .build()
        .map_err(|e| SpecError::Build(e.to_string()))?;
    linux.set_seccomp(input.seccomp.clone());
    if !opts.sysctls.is_empty() {
        linux.set_sysctl(Some(opts.sysctls.clone().into_iter().collect()));
    }
    let root = RootBuilder::default()
        .path(input.rootfs)
        .readonly(opts.read_only)
        .build()
        .map_err(|e| SpecError::Build(e.to_string()))?;
    let annotations: std::collections::HashMap<String, String> = opts.annotations.clone().into_iter().collect();
    let mut spec = SpecBuilder::default()
        .version("1.0.2")
        .root(root)
        .process(process)
        .mounts(mounts)
        .linux(linux)
        .annotations(annotations)
        .build()
        .map_err(|e| SpecError::Build(e.to_string()))?;
    // the name is set in a UTS namespace of the container's own; a shared one keeps its owner's
    spec.set_hostname(opts.uts.is_own().then(|| input.hostname.to_string()));
    Ok(spec)
}

/// The container's namespaces: new ones, or those `--ipc/--pid/--uts` name
/// (the host's: none listed; another container's: joined by path).
fn namespaces(input: &SpecInput<'_>) -> Result<Vec<LinuxNamespace>, SpecError> {
    let opts = input.options;
    if opts.hostname.is_some() && !opts.uts.is_own() {
        return Err(SpecError::Conflict(format!("--hostname and --uts {}", opts.uts)));
    }
    let ns = |typ: LinuxNamespaceType, path: Option<&PathBuf>| {
        let mut b = LinuxNamespaceBuilder::default().typ(typ);
        if let Some(p) = path {
            b = b.path(p.clone());
        }
        b.build().map_err(|e| SpecError::Build(e.to_string()))
    };
    let mut out = Vec::new();
    for (mode, typ) in [
        (&opts.pid, LinuxNamespaceType::Pid),
        (&opts.ipc, LinuxNamespaceType::Ipc),
        (&opts.uts, LinuxNamespaceType::Uts),
    ] {
        match mode {
            NamespaceMode::Host => {}
            NamespaceMode::Container(name) => {
                let path = input.joined.iter().find(|(t, _)| *t == typ).map(|(_, p)| p).ok_or_else(|| {
                    SpecError::Build(format!("the {typ:?} namespace of container {name} was not resolved"))
                })?;
                out.push(ns(typ, Some(path))?);
            }
            _ => out.push(ns(typ, None)?),
        }
    }
    out.push(ns(LinuxNamespaceType::Mount, None)?);
    out.push(ns(LinuxNamespaceType::Cgroup, None)?);
    // a bridge network's namespace (made before the start) or another container's is joined by path
    match (&opts.network, input.joined.iter().find(|(t, _)| *t == LinuxNamespaceType::Network)) {
        (NetworkMode::Host, _) => {}
        (NetworkMode::None, _) => out.push(ns(LinuxNamespaceType::Network, None)?),
        (_, Some((_, path))) => out.push(ns(LinuxNamespaceType::Network, Some(path))?),
        (mode, None) => {
            return Err(SpecError::Build(format!("the network namespace of --network {mode} was not resolved")))
        }
    }
    Ok(out)
}

/// `--sysctl`: each one needs the container's own namespace of its kind
/// (another container's, joined, will do); the host's would change the host.
fn check_sysctls(opts: &RunOptions) -> Result<(), SpecError> {
    for (k, v) in &opts.sysctls {
        let (typ, what) = options::sysctl_namespace(k).map_err(|e| SpecError::Invalid {
            flag: "--sysctl".into(),
            value: format!("{k}={v}"),
            reason: format!("{e}; allowed: kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.*, net.*"),
        })?;
        let (own, flag) = match typ {
            LinuxNamespaceType::Ipc => (opts.ipc != NamespaceMode::Host, "--ipc host"),
            LinuxNamespaceType::Uts => (opts.uts != NamespaceMode::Host, "--uts host"),
            _ => (opts.network != NetworkMode::Host, "--network host"),
        };
        if !own {
            return Err(SpecError::Invalid {
                flag: "--sysctl".into(),
                value: format!("{k}={v}"),
                reason: format!("it needs the container's own {what} namespace, and {flag} shares the host's"),
            });
        }
    }
    Ok(())
}

/// Every mount of the container: the standard ones (less those a user mount
/// replaces), then the `/etc` files, `-v`, `--mount` and `--tmpfs`, parents
/// before children.
fn container_mounts(input: &SpecInput<'_>) -> Result<Vec<Mount>, SpecError> {
    let opts = input.options;
    let mut user: Vec<Mount> = Vec::new();
    for m in &opts.mounts {
        user.push(user_mount(m, input.volume_dirs)?);
    }
    for t in &opts.tmpfs {
        let o: Vec<&str> = t.options.iter().map(String::as_str).collect();
        user.push(mount(&t.destination.to_string_lossy(), "tmpfs", "tmpfs", &o)?);
    }
    let mut seen = HashSet::new();
    for m in &user {
        if !seen.insert(m.destination().clone()) {
            return Err(SpecError::DuplicateMount(m.destination().clone()));
        }
    }
    let taken = |dest: &Path| user.iter().any(|m| m.destination() == dest);

    let mut mounts = Vec::new();
    for mut m in default_mounts()? {
        let dest = m.destination().clone();
        if taken(&dest) {
            continue;
        }
        if opts.privileged && dest == Path::new("/sys") {
            m.set_options(Some(["nosuid", "noexec", "nodev", "rw"].map(String::from).to_vec()));
        }
        if dest == Path::new("/dev/shm") {
            match opts.ipc {
                // no /dev/shm at all
                NamespaceMode::None => continue,
                NamespaceMode::Host => m = mount("/dev/shm", "bind", "/dev/shm", &["rbind", "rprivate"])?,
                _ => {
                    if let Some(size) = opts.shm_size {
                        if size <= 0 {
                            return Err(SpecError::Invalid {
                                flag: "--shm-size".into(),
                                value: size.to_string(),
                                reason: "must be greater than 0".into(),
                            });
                        }
                        let size = format!("size={size}");
                        m = mount("/dev/shm", "tmpfs", "shm", &["nosuid", "noexec", "nodev", "mode=1777", &size])?;
                    }
                }
            }
        }
        mounts.push(m);
    }
    let bind = |src: &Path, dst: &str| mount(dst, "bind", &src.to_string_lossy(), &["rbind", "rprivate"]);
    let mut rest = vec![
        bind(&input.etc.resolv_conf, "/etc/resolv.conf")?,
        bind(&input.etc.hostname, "/etc/hostname")?,
        bind(&input.etc.hosts, "/etc/hosts")?,
    ];
    rest.retain(|m| !taken(m.destination()));
    rest.extend(user);
    // a parent before what is mounted inside it (stable: equal depths keep their order)
    rest.sort_by_key(|m| m.destination().components().count());
    mounts.extend(rest);
    Ok(mounts)
}

/// One `-v`/`--mount` as a Spec mount; a volume is a bind of its directory.
fn user_mount(m: &MountRequest, volume_dirs: &BTreeMap<String, PathBuf>) -> Result<Mount, SpecError> {
    let dest = m.destination.to_string_lossy();
    let mut o: Vec<String> = Vec::new();
    let (typ, source) = match &m.source {
        MountSource::Bind { path, propagation, recursive, recursive_readonly } => {
            o.push(if *recursive { "rbind" } else { "bind" }.into());
            o.push(propagation.clone().unwrap_or_else(|| "rprivate".into()));
            if *recursive_readonly {
                o.push("rro".into());
            }
            ("bind", path.clone())
        }
        MountSource::Volume { name, .. } => {
            let name = name.as_deref().unwrap_or_default();
            let dir = volume_dirs
                .get(name)
                .ok_or_else(|| SpecError::Build(format!("volume {name:?} for {dest} was not resolved")))?;
            o.extend(["rbind".into(), "rprivate".into()]);
            ("bind", dir.clone())
        }
        MountSource::Tmpfs { size, mode } => {
            o.extend(["noexec", "nosuid", "nodev"].map(String::from));
            if let Some(s) = size {
                o.push(format!("size={s}"));
            }
            if let Some(m) = mode {
                o.push(format!("mode={m:o}"));
            }
            ("tmpfs", PathBuf::from("tmpfs"))
        }
    };
    if m.read_only {
        o.push("ro".into());
    }
    let o: Vec<&str> = o.iter().map(String::as_str).collect();
    mount(&dest, typ, &source.to_string_lossy(), &o)
}

/// The container's `/etc/resolv.conf` from the host's. In its own network
/// namespace, loopback nameservers of the host are unreachable, so they go.
pub fn resolv_conf(host: &str, network: &NetworkMode) -> String {
    host.lines()
        .filter(|l| {
            *network == NetworkMode::Host || {
                let mut w = l.split_whitespace();
                !(w.next() == Some("nameserver") && w.next().is_some_and(|a| a.starts_with("127.") || a == "::1"))
            }
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Sets `K=V` in a process environment, replacing an earlier `K`.
pub fn set_env(env: &mut Vec<String>, kv: &str) {
    let key = kv.split_once('=').map(|(k, _)| k).unwrap_or(kv);
    env.retain(|e| e.split_once('=').map(|(k, _)| k) != Some(key));
    env.push(kv.to_string());
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\nalice:x:1000:1000::/home/alice:/bin/sh\n";
    const GROUP: &str = "root:x:0:\nwheel:x:10:root,alice\nstaff:x:50:alice\nalice:x:1000:\nnogroup:x:65534:\n";

    #[test]
    fn users_resolve_like_docker() {
        let root = resolve_user("", PASSWD, GROUP).unwrap();
        assert_eq!((root.uid, root.gid, root.additional_gids.clone(), root.home.as_str()), (0, 0, vec![10], "/root"));
        let alice = resolve_user("alice", PASSWD, GROUP).unwrap();
        assert_eq!((alice.uid, alice.gid, alice.additional_gids.clone()), (1000, 1000, vec![10, 50]));
        let numeric = resolve_user("1234", PASSWD, GROUP).unwrap();
        assert_eq!((numeric.uid, numeric.gid, numeric.home.as_str()), (1234, 0, "/"));
        assert_eq!(resolve_user("1000:50", PASSWD, GROUP).unwrap().gid, 50);
        let explicit = resolve_user("1000:1000", PASSWD, GROUP).unwrap();
        assert!(explicit.additional_gids.is_empty(), "an explicit group brings no supplementary groups");
        assert_eq!(resolve_user("nobody:staff", PASSWD, GROUP).unwrap().gid, 50);
        assert_eq!(resolve_user("bob", PASSWD, GROUP), Err(SpecError::UnknownUser("bob".into())));
        assert_eq!(resolve_user("alice:nope", PASSWD, GROUP), Err(SpecError::UnknownGroup("nope".into())));
    }

    #[test]
    fn entrypoint_and_cmd_override_rules() {
        let img = ContainerConfig {
            entrypoint: Some(vec!["/entry".into()]),
            cmd: Some(vec!["default".into()]),
            ..Default::default()
        };
        let mut o = RunOptions::default();
        assert_eq!(process_args(&img, &o).unwrap(), ["/entry", "default"]);
        o.command = vec!["x".into()];
        assert_eq!(process_args(&img, &o).unwrap(), ["/entry", "x"]);
        o.command.clear();
        o.entrypoint = Some("/other".into());
        assert_eq!(process_args(&img, &o).unwrap(), ["/other"], "a new entrypoint drops the image Cmd");
        o.entrypoint = Some(String::new());
        assert_eq!(process_args(&img, &o), Err(SpecError::NoCommand));
        assert_eq!(process_args(&ContainerConfig::default(), &RunOptions::default()), Err(SpecError::NoCommand));
    }

    #[test]
    fn environment_merges_in_order() {
        let img = ContainerConfig { env: Some(vec!["A=1".into(), "B=2".into()]), ..Default::default() };
        let o = RunOptions { env: vec!["B=3".into(), "C=".into()], tty: true, ..Default::default() };
        let env = environment(&img, &o, "box", "/root").unwrap();
        assert!(env.contains(&"A=1".to_string()));
        assert!(env.contains(&"B=3".to_string()));
        assert!(env.contains(&"C=".to_string()));
        assert!(env.contains(&"HOSTNAME=box".to_string()));
        assert!(env.contains(&"TERM=xterm".to_string()));
        assert!(env.contains(&"HOME=/root".to_string()));
        assert!(env.iter().any(|e| e.starts_with("PATH=/usr/local/sbin")));
    }

    #[test]
    fn tmpfs_parse() {
        let t: Tmpfs = "/run:size=1m,exec".parse().unwrap();
        assert_eq!(t.destination, PathBuf::from("/run"));
        assert_eq!(t.options.last().unwrap(), "exec");
        assert!("run".parse::<Tmpfs>().is_err());
    }

    /// Builds the Spec of `opts` for a `sh` image, with the volumes and joined namespaces given.
    fn spec_of(
        opts: &RunOptions,
        volumes: &[(&str, &str)],
        joined: &[(LinuxNamespaceType, &str)],
    ) -> Result<Spec, SpecError> {
        let img =
            ContainerConfig { cmd: Some(vec!["sh".into()]), working_dir: Some("/srv".into()), ..Default::default() };
        let user = resolve_user("", PASSWD, GROUP).unwrap();
        let etc = EtcFiles { hosts: "/h".into(), hostname: "/hn".into(), resolv_conf: "/r".into() };
        let volume_dirs: BTreeMap<String, PathBuf> = volumes.iter().map(|(n, d)| (n.to_string(), d.into())).collect();
        let mut joined: Vec<(LinuxNamespaceType, PathBuf)> = joined.iter().map(|(t, p)| (*t, p.into())).collect();
        // a bridged container's namespace, as lifecycle names it
        if matches!(opts.network, NetworkMode::Bridge(_))
            && !joined.iter().any(|(t, _)| *t == LinuxNamespaceType::Network)
        {
            joined.push((LinuxNamespaceType::Network, "/run/rrun/.netns/abc".into()));
        }
        build(&SpecInput {
            image: &img,
            options: opts,
            user: &user,
            hostname: "abc",
            rootfs: Path::new("/rootfs"),
            etc: &etc,
            devices: &[],
            seccomp: None,
            volume_dirs: &volume_dirs,
            joined: &joined,
        })
    }

    fn mount_at<'a>(spec: &'a Spec, dest: &str) -> Option<&'a Mount> {
        spec.mounts().as_ref().unwrap().iter().find(|m| m.destination() == Path::new(dest))
    }

    fn namespaces_of(spec: &Spec) -> Vec<(LinuxNamespaceType, Option<PathBuf>)> {
        spec.linux()
            .as_ref()
            .unwrap()
            .namespaces()
            .as_ref()
            .unwrap()
            .iter()
            .map(|n| (n.typ(), n.path().clone()))
            .collect()
    }

    #[test]
    fn spec_has_docker_defaults() {
        let opts = RunOptions { network: NetworkMode::None, read_only: true, ..Default::default() };
        let spec = spec_of(&opts, &[], &[]).unwrap();
        let p = spec.process().as_ref().unwrap();
        assert_eq!(p.cwd(), Path::new("/srv"));
        assert_eq!(p.capabilities().as_ref().unwrap().bounding().as_ref().unwrap().len(), 14);
        assert_eq!(p.no_new_privileges(), Some(false), "no_new_privs is off unless asked for, as in Docker");
        assert_eq!(p.oom_score_adj(), None);
        assert!(spec.root().as_ref().unwrap().readonly().unwrap());
        let ns: Vec<_> = namespaces_of(&spec).into_iter().map(|(t, _)| t).collect();
        for t in
            [LinuxNamespaceType::Network, LinuxNamespaceType::Pid, LinuxNamespaceType::Ipc, LinuxNamespaceType::Uts]
        {
            assert!(ns.contains(&t), "{t:?}");
        }
        assert!(mount_at(&spec, "/etc/hosts").is_some());
        let shm = mount_at(&spec, "/dev/shm").unwrap();
        assert!(shm.options().as_ref().unwrap().contains(&"size=65536k".to_string()));
        assert_eq!(spec.hostname().as_deref(), Some("abc"));
        assert!(spec.annotations().as_ref().unwrap().is_empty());
        assert!(spec_of(&RunOptions { no_new_privileges: true, ..Default::default() }, &[], &[])
            .unwrap()
            .process()
            .as_ref()
            .unwrap()
            .no_new_privileges()
            .unwrap());
    }

    #[test]
    fn user_mounts_become_binds_tmpfs_and_volumes_in_depth_order() {
        let opts = RunOptions {
            mounts: vec![
                MountRequest::from_volume_flag("/host/sub:/data/sub:ro").unwrap(),
                MountRequest::from_volume_flag("cache:/data").unwrap(),
                MountRequest::from_mount_flag("type=tmpfs,target=/t,tmpfs-size=1m,tmpfs-mode=700").unwrap(),
                MountRequest::from_mount_flag("type=bind,src=/h,dst=/etc,bind-propagation=rslave,bind-nonrecursive")
                    .unwrap(),
                MountRequest::from_volume_flag("/tmp/shm:/dev/shm").unwrap(),
            ],
            ..Default::default()
        };
        let spec = spec_of(&opts, &[("cache", "/store/volumes/cache/_data")], &[]).unwrap();
        let dests: Vec<String> =
            spec.mounts().as_ref().unwrap().iter().map(|m| m.destination().display().to_string()).collect();
        let pos = |d: &str| dests.iter().position(|x| x == d).unwrap_or_else(|| panic!("{d} in {dests:?}"));
        assert!(pos("/data") < pos("/data/sub"), "a parent first: {dests:?}");
        assert!(pos("/etc") < pos("/etc/hosts"), "the /etc files go over a mount of /etc: {dests:?}");
        assert_eq!(dests.iter().filter(|d| *d == "/dev/shm").count(), 1, "a user mount replaces the default");
        let opts_of = |d: &str| mount_at(&spec, d).unwrap().options().clone().unwrap();
        let vol = mount_at(&spec, "/data").unwrap();
        assert_eq!(vol.source().as_deref(), Some(Path::new("/store/volumes/cache/_data")));
        assert_eq!(vol.typ().as_deref(), Some("bind"));
        assert_eq!(opts_of("/data/sub"), ["rbind", "rprivate", "ro"]);
        assert_eq!(opts_of("/etc"), ["bind", "rslave"]);
        assert_eq!(opts_of("/t"), ["noexec", "nosuid", "nodev", "size=1048576", "mode=700"]);
        assert_eq!(mount_at(&spec, "/dev/shm").unwrap().source().as_deref(), Some(Path::new("/tmp/shm")));
        // an unresolved volume, and two mounts on one path, are errors
        assert!(spec_of(&opts, &[], &[]).is_err());
        let twice = RunOptions {
            mounts: vec![
                MountRequest::from_volume_flag("/a:/x").unwrap(),
                MountRequest::from_volume_flag("/b:/x").unwrap(),
            ],
            ..Default::default()
        };
        assert_eq!(spec_of(&twice, &[], &[]).unwrap_err(), SpecError::DuplicateMount("/x".into()));
    }

    #[test]
    fn shm_size_and_ipc_modes() {
        let shm_opts = |o: RunOptions| {
            spec_of(&o, &[], &[])
                .unwrap()
                .mounts()
                .as_ref()
                .unwrap()
                .iter()
                .find(|m| m.destination() == Path::new("/dev/shm"))
                .cloned()
        };
        let m = shm_opts(RunOptions { shm_size: Some(128 << 20), ..Default::default() }).unwrap();
        assert!(m.options().as_ref().unwrap().contains(&"size=134217728".to_string()));
        assert!(
            shm_opts(RunOptions { ipc: NamespaceMode::None, ..Default::default() }).is_none(),
            "--ipc none: no /dev/shm"
        );
        let host = shm_opts(RunOptions { ipc: NamespaceMode::Host, ..Default::default() }).unwrap();
        assert_eq!((host.typ().as_deref(), host.source().as_deref()), (Some("bind"), Some(Path::new("/dev/shm"))));
        assert!(spec_of(&RunOptions { shm_size: Some(0), ..Default::default() }, &[], &[]).is_err());
    }

    #[test]
    fn namespace_modes_shape_the_spec() {
        let o = RunOptions {
            ipc: NamespaceMode::Container("db".into()),
            pid: NamespaceMode::Host,
            uts: NamespaceMode::Host,
            ..Default::default()
        };
        let spec = spec_of(&o, &[], &[(LinuxNamespaceType::Ipc, "/proc/42/ns/ipc")]).unwrap();
        let ns = namespaces_of(&spec);
        assert!(ns.contains(&(LinuxNamespaceType::Ipc, Some("/proc/42/ns/ipc".into()))));
        assert!(!ns.iter().any(|(t, _)| *t == LinuxNamespaceType::Pid || *t == LinuxNamespaceType::Uts), "{ns:?}");
        assert_eq!(spec.hostname(), &None, "the host's UTS namespace keeps the host's name");
        assert!(spec_of(&o, &[], &[]).is_err(), "the container's namespace must be resolved");
        let conflict = RunOptions { uts: NamespaceMode::Host, hostname: Some("x".into()), ..Default::default() };
        assert!(matches!(spec_of(&conflict, &[], &[]), Err(SpecError::Conflict(_))));
    }

    #[test]
    fn sysctls_rlimits_scores_and_annotations() {
        let sysctls = |kv: &[(&str, &str)]| kv.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let o = RunOptions {
            network: NetworkMode::None,
            sysctls: sysctls(&[("net.ipv4.ip_forward", "1"), ("kernel.shmmax", "65536")]),
            ulimits: vec!["nofile=1024:2048".parse().unwrap(), "nproc=50".parse().unwrap()],
            oom_score_adj: Some(-500),
            annotations: [("a".to_string(), "b".to_string())].into(),
            ..Default::default()
        };
        let spec = spec_of(&o, &[], &[]).unwrap();
        let linux = spec.linux().as_ref().unwrap();
        assert_eq!(linux.sysctl().as_ref().unwrap().get("net.ipv4.ip_forward").map(String::as_str), Some("1"));
        let p = spec.process().as_ref().unwrap();
        let rl: Vec<_> = p.rlimits().as_ref().unwrap().iter().map(|r| (r.typ(), r.soft(), r.hard())).collect();
        use oci_spec::runtime::PosixRlimitType::*;
        assert_eq!(rl, [(RlimitNofile, 1024, 2048), (RlimitNproc, 50, 50)], "one entry per resource");
        assert_eq!(p.oom_score_adj(), Some(-500));
        assert_eq!(spec.annotations().as_ref().unwrap().get("a").map(String::as_str), Some("b"));
        // net.* needs its own network namespace; IPC ones the container's own IPC namespace
        let host_net = RunOptions {
            network: NetworkMode::Host,
            sysctls: sysctls(&[("net.ipv4.ip_forward", "1")]),
            ..Default::default()
        };
        let e = spec_of(&host_net, &[], &[]).unwrap_err().to_string();
        assert!(e.contains("--network host") && e.contains("net.ipv4.ip_forward"), "{e}");
        // a bridge network's namespace is the container's own
        let bridged = RunOptions { sysctls: sysctls(&[("net.ipv4.ip_forward", "1")]), ..Default::default() };
        let spec = spec_of(&bridged, &[], &[]).unwrap();
        let net = namespaces_of(&spec).into_iter().find(|(t, _)| *t == LinuxNamespaceType::Network);
        assert_eq!(net, Some((LinuxNamespaceType::Network, Some(PathBuf::from("/run/rrun/.netns/abc")))));
        let host_ipc =
            RunOptions { ipc: NamespaceMode::Host, sysctls: sysctls(&[("kernel.shmmax", "1")]), ..Default::default() };
        assert!(spec_of(&host_ipc, &[], &[]).unwrap_err().to_string().contains("--ipc host"));
        let bad_score = RunOptions { oom_score_adj: Some(2000), ..Default::default() };
        assert!(spec_of(&bad_score, &[], &[]).is_err());
    }

    #[test]
    fn resolv_conf_drops_loopback_servers_in_own_netns() {
        let host = "nameserver 127.0.0.53\nnameserver 10.0.0.2\nsearch lan\n";
        assert_eq!(resolv_conf(host, &NetworkMode::None), "nameserver 10.0.0.2\nsearch lan\n");
        assert_eq!(resolv_conf(host, &NetworkMode::Host), host);
    }
}
