//! `run`.

use super::parse;
use clap::Args;
use rrun::Limits;
use rrun::{Error, RestartPolicy, Rrun, RunOptions};
use rrun::{MountRequest, NamespaceMode, NetworkMode, Tmpfs};
use std::path::PathBuf;

#[derive(Args, Debug)]
#[command(disable_help_flag = true)]
pub struct RunArgs {
    /// Print help
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// Container name
    #[arg(long)]
    pub name: Option<String>,
    /// Remove the container when it exits
    #[arg(long)]
    pub rm: bool,
    /// Run in the background under a monitor; print the container ID
    #[arg(short, long)]
    pub detach: bool,
    /// Restart policy of a detached container: no, on-failure[:N], always, unless-stopped
    #[arg(long, default_value = "no")]
    pub restart: String,
    /// Log driver option: max-size=SIZE (rotation size of the container's log)
    #[arg(long = "log-opt")]
    pub log_opt: Vec<String>,
    /// Where the container's output is kept: json-file (default) or none
    #[arg(long = "log-driver")]
    pub log_driver: Option<String>,
    /// Attach to STDIN, STDOUT or STDERR (repeatable; default: stdout and stderr)
    #[arg(short = 'a', long = "attach")]
    pub attach: Vec<String>,
    /// Command to run to check health (run by /bin/sh -c)
    #[arg(long = "health-cmd")]
    pub health_cmd: Option<String>,
    /// Time between running the check (default 30s)
    #[arg(long = "health-interval")]
    pub health_interval: Option<String>,
    /// Maximum time to allow one check to run (default 30s)
    #[arg(long = "health-timeout")]
    pub health_timeout: Option<String>,
    /// Consecutive failures needed to report unhealthy (default 3)
    #[arg(long = "health-retries", allow_hyphen_values = true)]
    pub health_retries: Option<i64>,
    /// Start period for the container to initialize before failures count (default 0s)
    #[arg(long = "health-start-period")]
    pub health_start_period: Option<String>,
    /// Disable any container-specified HEALTHCHECK
    #[arg(long = "no-healthcheck")]
    pub no_healthcheck: bool,
    /// Add a capability (e.g. NET_ADMIN, or ALL)
    #[arg(long = "cap-add")]
    pub cap_add: Vec<String>,
    /// Drop a capability (e.g. CHOWN, or ALL)
    #[arg(long = "cap-drop")]
    pub cap_drop: Vec<String>,
    /// Every capability, no seccomp, no masked paths, every device
    #[arg(long)]
    pub privileged: bool,
    /// seccomp=unconfined|PROFILE.json, no-new-privileges[=true|false], label=disable
    #[arg(long = "security-opt")]
    pub security_opt: Vec<String>,
    /// Keep stdin open
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a pseudo-terminal
    #[arg(short, long)]
    pub tty: bool,
    /// Set an environment variable (K=V, or K to take the host's value)
    #[arg(short, long = "env")]
    pub env: Vec<String>,
    /// Read environment variables from a file
    #[arg(long = "env-file")]
    pub env_file: Vec<PathBuf>,
    /// Working directory inside the container
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// User: name|uid[:group|gid]
    #[arg(short, long)]
    pub user: Option<String>,
    /// Override the image's entrypoint ("" clears it)
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Container hostname
    #[arg(short = 'h', long)]
    pub hostname: Option<String>,
    /// Bind mount or volume: [HOST-PATH|NAME:]CONTAINER-PATH[:ro|rw|nocopy|PROPAGATION]
    #[arg(short, long = "volume")]
    pub volume: Vec<String>,
    /// Mount: type=bind|volume|tmpfs,source=…,target=…[,readonly][,bind-propagation=…][,volume-nocopy][,tmpfs-size=…]
    #[arg(long)]
    pub mount: Vec<String>,
    /// Mount a tmpfs: PATH[:OPTIONS]
    #[arg(long)]
    pub tmpfs: Vec<String>,
    /// Mount the container's root filesystem read-only
    #[arg(long = "read-only")]
    pub read_only: bool,
    /// Network: bridge (the default), a network's name (rrun network create), host, none or container:NAME
    #[arg(long, alias = "net")]
    pub network: Option<String>,
    /// Publish a container port on the host: [IP:][HOST_PORT[-END]:]CONTAINER_PORT[-END][/tcp|udp|sctp]
    #[arg(short = 'p', long)]
    pub publish: Vec<String>,
    /// Publish every exposed port (the image's EXPOSE and --expose) on any free host port
    #[arg(short = 'P', long = "publish-all")]
    pub publish_all: bool,
    /// Expose a port or range (PORT[-END][/PROTO]) without publishing it (-P publishes it)
    #[arg(long)]
    pub expose: Vec<String>,
    /// Another name the container answers to on its user-defined network
    #[arg(long = "network-alias", alias = "net-alias")]
    pub network_alias: Vec<String>,
    /// A DNS server for the container's resolv.conf (instead of the host's)
    #[arg(long)]
    pub dns: Vec<String>,
    /// A DNS search domain ('.' for none)
    #[arg(long = "dns-search")]
    pub dns_search: Vec<String>,
    /// A resolv.conf option (e.g. ndots:2)
    #[arg(long = "dns-option", alias = "dns-opt")]
    pub dns_option: Vec<String>,
    /// A line of /etc/hosts: NAME:IP (IP may be host-gateway, the host on the container's bridge)
    #[arg(long = "add-host")]
    pub add_host: Vec<String>,
    /// The container's IPv4 address on its user-defined network
    #[arg(long)]
    pub ip: Option<String>,
    /// The container's MAC address on its bridge network (e.g. 02:42:ac:11:00:02)
    #[arg(long = "mac-address")]
    pub mac_address: Option<String>,
    /// Run a minimal init as PID 1 that reaps zombies and forwards signals
    #[arg(long)]
    pub init: bool,
    #[command(flatten)]
    pub resources: ResourceFlags,
    /// Allow a device in the device cgroup: 'c 1:3 rwm'
    #[arg(long = "device-cgroup-rule")]
    pub device_cgroup_rule: Vec<String>,
    /// Add a host device HOST[:CONTAINER][:PERMISSIONS], or a CDI device VENDOR/CLASS=NAME (e.g. nvidia.com/gpu=all)
    #[arg(long)]
    pub device: Vec<String>,
    /// Add NVIDIA GPUs through CDI: all, a count, or '"device=0,1"' (Docker's syntax)
    #[arg(long)]
    pub gpus: Vec<String>,
    /// Directory of CDI specs, replacing /etc/cdi and /var/run/cdi (repeatable; later ones win)
    #[arg(long = "cdi-spec-dir")]
    pub cdi_spec_dir: Vec<PathBuf>,
    /// Block I/O weight, 10 to 1000 (0: the default)
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
    /// Process limit NAME=SOFT[:HARD] (nofile, nproc, core, memlock, stack…; -1: unlimited)
    #[arg(long)]
    pub ulimit: Vec<String>,
    /// Size of /dev/shm (e.g. 128m; default 64m)
    #[arg(long = "shm-size")]
    pub shm_size: Option<String>,
    /// Namespaced kernel parameter K=V (net.* with its own network, kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.*)
    #[arg(long)]
    pub sysctl: Vec<String>,
    /// Additional group for the process: a name from the image's /etc/group, or a GID
    #[arg(long = "group-add")]
    pub group_add: Vec<String>,
    /// Signal that `stop` sends (default: the image's StopSignal, else SIGTERM)
    #[arg(long = "stop-signal")]
    pub stop_signal: Option<String>,
    /// Seconds `stop` waits for the container before SIGKILL (default 10)
    #[arg(long = "stop-timeout", allow_negative_numbers = true, value_parser = super::container::seconds)]
    pub stop_timeout: Option<u64>,
    /// IPC namespace: private (default), shareable, none, host or container:NAME
    #[arg(long)]
    pub ipc: Option<String>,
    /// PID namespace: private (default), host or container:NAME
    #[arg(long)]
    pub pid: Option<String>,
    /// UTS namespace: private (default), host or container:NAME
    #[arg(long)]
    pub uts: Option<String>,
    /// Write the container's ID to this file (refused if it exists)
    #[arg(long)]
    pub cidfile: Option<PathBuf>,
    /// Set a label: K=V
    #[arg(short = 'l', long)]
    pub label: Vec<String>,
    /// Read labels from a file of K=V lines
    #[arg(long = "label-file")]
    pub label_file: Vec<PathBuf>,
    /// Add an annotation to the runtime spec: K=V
    #[arg(long)]
    pub annotation: Vec<String>,
    /// Adjust the OOM killer's score of the process (-1000 to 1000)
    #[arg(long = "oom-score-adj", allow_negative_numbers = true)]
    pub oom_score_adj: Option<i32>,
    /// Pull the image: missing (default), always or never
    #[arg(long, default_value = "missing")]
    pub pull: String,
    /// Platform to pull: os/arch[/variant]
    #[arg(long)]
    pub platform: Option<String>,
    #[command(flatten)]
    pub registry: super::registry::RegistryArgs,
    #[command(flatten)]
    pub explain: super::explain::ExplainArg,
    /// Print the OCI runtime spec, the overlay and the mounts rrun would use; run and create nothing
    #[arg(long = "dry-run")]
    pub dry_run: bool,
    /// Image name or ID, then the command and its arguments (they replace the image's Cmd).
    /// Everything after the image belongs to the container, flags included.
    #[arg(value_name = "IMAGE [COMMAND [ARG...]]", required = true, num_args = 1.., trailing_var_arg = true, allow_hyphen_values = true)]
    pub image_and_command: Vec<String>,
}

impl RunArgs {
    /// The image: the first argument that is not one of rrun's flags.
    pub fn image(&self) -> &str {
        &self.image_and_command[0]
    }

    /// The container's command line, as given after the image.
    pub fn command(&self) -> &[String] {
        &self.image_and_command[1..]
    }
}

/// The resource flags `run`, `create` and `update` share.
#[derive(Args, Debug, Default)]
pub struct ResourceFlags {
    /// Memory limit (e.g. 256m, 1g)
    #[arg(short = 'm', long)]
    pub memory: Option<String>,
    /// Memory plus swap limit (-1: unlimited swap)
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Memory soft limit
    #[arg(long = "memory-reservation")]
    pub memory_reservation: Option<String>,
    /// CPU quota in CPUs (e.g. 0.5)
    #[arg(long, allow_negative_numbers = true)]
    pub cpus: Option<f64>,
    /// Relative CPU weight (default 1024)
    #[arg(short = 'c', long = "cpu-shares", allow_negative_numbers = true)]
    pub cpu_shares: Option<u64>,
    /// CPUs the container may run on (e.g. 0-1,3)
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes the container may use (e.g. 0)
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Maximum number of processes (-1: unlimited)
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
}

impl ResourceFlags {
    /// True when any flag was given.
    pub fn any(&self) -> bool {
        self.memory.is_some()
            || self.memory_swap.is_some()
            || self.memory_reservation.is_some()
            || self.cpus.is_some()
            || self.cpu_shares.is_some()
            || self.cpuset_cpus.is_some()
            || self.cpuset_mems.is_some()
            || self.pids_limit.is_some()
    }

    /// The limits the flags ask for, sizes parsed.
    pub fn limits(&self) -> Result<Limits, Error> {
        let size = |flag: &str, v: &Option<String>| v.as_deref().map(|v| rrun::parse_bytes(flag, v)).transpose();
        let mut l = Limits::default();
        l.memory = size("--memory", &self.memory)?;
        l.memory_swap = match self.memory_swap.as_deref() {
            Some("-1") => Some(-1),
            _ => size("--memory-swap", &self.memory_swap)?,
        };
        l.memory_reservation = size("--memory-reservation", &self.memory_reservation)?;
        l.cpus = self.cpus;
        l.cpu_shares = self.cpu_shares;
        l.cpuset_cpus = self.cpuset_cpus.clone();
        l.cpuset_mems = self.cpuset_mems.clone();
        l.pids_limit = self.pids_limit;
        Ok(l)
    }
}

/// Everything from the first positional argument on is the container's, so an
/// unknown flag before it arrives here as the "image": name it as docker does.
pub fn check_first_positional(what: &str, first: &str) -> Result<(), super::UsageError> {
    if first.starts_with('-') && first.len() > 1 {
        return Err(super::UsageError(format!("unknown flag: {first} (before the {what})")));
    }
    Ok(())
}

/// `-a STDIN|STDOUT|STDERR`, in any case, as docker reads them.
fn attach_streams(a: &RunArgs) -> Result<Option<rrun::Streams>, super::UsageError> {
    if a.attach.is_empty() {
        return Ok(None);
    }
    let mut s = rrun::Streams { stdin: a.interactive, ..Default::default() };
    for v in &a.attach {
        match v.to_ascii_lowercase().as_str() {
            "stdin" => s.stdin = true,
            "stdout" => s.stdout = true,
            "stderr" => s.stderr = true,
            _ => {
                return Err(super::UsageError(format!(
                    "invalid argument {v:?} for \"-a, --attach\" flag: valid streams are STDIN, STDOUT and STDERR"
                )))
            }
        }
    }
    Ok(Some(s))
}

/// `--health-*` and `--no-healthcheck`, as docker checks them.
fn healthcheck(a: &RunArgs) -> Result<Option<rrun::Healthcheck>, super::UsageError> {
    let bad = |m: String| super::UsageError(m);
    let dur = |flag: &str, v: &Option<String>| -> Result<i64, super::UsageError> {
        let Some(v) = v else { return Ok(0) };
        let d = parse::parse_duration(v).map_err(|e| bad(format!("invalid argument for {flag}: {e}")))?;
        if !d.is_zero() && d < std::time::Duration::from_millis(1) {
            return Err(bad(format!("{flag} cannot be less than 1ms")));
        }
        Ok(d.as_nanos().min(i64::MAX as u128) as i64)
    };
    let any = a.health_cmd.is_some()
        || a.health_interval.is_some()
        || a.health_timeout.is_some()
        || a.health_retries.is_some()
        || a.health_start_period.is_some();
    if a.no_healthcheck {
        if any {
            return Err(bad("--no-healthcheck conflicts with --health-* options".into()));
        }
        return Ok(Some(rrun::Healthcheck { test: vec!["NONE".into()], ..Default::default() }));
    }
    if !any {
        return Ok(None);
    }
    let retries = a.health_retries.unwrap_or(0);
    if retries < 0 {
        return Err(bad("--health-retries cannot be negative".into()));
    }
    Ok(Some(rrun::Healthcheck {
        test: a.health_cmd.iter().flat_map(|c| ["CMD-SHELL".to_string(), c.clone()]).collect(),
        interval: dur("--health-interval", &a.health_interval)?,
        timeout: dur("--health-timeout", &a.health_timeout)?,
        start_period: dur("--health-start-period", &a.health_start_period)?,
        retries,
    }))
}

fn options(a: &RunArgs) -> Result<RunOptions, Error> {
    let host_env = |k: &str| std::env::var(k).ok();
    let mut env = Vec::new();
    for f in &a.env_file {
        let content = std::fs::read_to_string(f).map_err(|source| Error::Io { path: f.clone(), source })?;
        env.extend(parse::parse_env_file(&content, host_env)?);
    }
    for e in &a.env {
        env.push(parse::expand_env(e, host_env)?);
    }
    let network = match &a.network {
        Some(n) => n.parse::<NetworkMode>()?,
        None => NetworkMode::default(),
    };
    let security = parse::parse_security_opts(&a.security_opt)?;
    let mut mounts = a.volume.iter().map(|v| MountRequest::from_volume_flag(v)).collect::<Result<Vec<_>, _>>()?;
    for m in &a.mount {
        mounts.push(MountRequest::from_mount_flag(m)?);
    }
    let mut labels = Vec::new();
    for f in &a.label_file {
        let content = std::fs::read_to_string(f).map_err(|source| Error::Io { path: f.clone(), source })?;
        labels.extend(parse::parse_label_file(&content)?);
    }
    for l in &a.label {
        labels.push(parse::parse_label(l)?);
    }
    // `--device VENDOR/CLASS=NAME` names a CDI device; anything else is a host path
    let (cdi_devices, host_devices): (Vec<&String>, Vec<&String>) =
        a.device.iter().partition(|d| parse::is_cdi_name(d));
    let ns_mode = |flag: &str, v: &Option<String>| -> Result<NamespaceMode, Error> {
        Ok(v.as_deref().map(|v| NamespaceMode::parse(flag, v)).transpose()?.unwrap_or_default())
    };
    let mut o = RunOptions::default();
    o.stdio = rrun::Stdio::Inherit;
    o.name = a.name.clone();
    o.command = a.command().to_vec();
    o.entrypoint = a.entrypoint.clone();
    o.env = env;
    o.workdir = a.workdir.clone();
    o.user = a.user.clone();
    o.hostname = a.hostname.clone();
    o.mounts = mounts;
    o.tmpfs = a.tmpfs.iter().map(|t| t.parse::<Tmpfs>()).collect::<Result<_, _>>()?;
    o.read_only = a.read_only;
    o.remove = a.rm;
    o.interactive = a.interactive;
    o.tty = a.tty;
    o.network = network;
    o.network_explicit = a.network.is_some();
    o.network_aliases = a.network_alias.clone();
    o.publish = a.publish.iter().map(|p| rrun::parse_publish(p)).collect::<Result<Vec<_>, _>>()?.concat();
    o.publish_all = a.publish_all;
    o.expose = a.expose.iter().map(|e| rrun::parse_exposed(e)).collect::<Result<Vec<_>, _>>()?.concat();
    o.dns = a.dns.iter().map(|d| parse::parse_dns(d)).collect::<Result<_, _>>()?;
    o.dns_search = a.dns_search.clone();
    o.dns_options = a.dns_option.clone();
    o.add_hosts = a.add_host.iter().map(|h| parse::parse_add_host(h)).collect::<Result<_, _>>()?;
    o.ip = a.ip.as_deref().map(parse::parse_ip).transpose()?;
    o.mac_address = a.mac_address.as_deref().map(parse::parse_mac).transpose()?;
    o.init = a.init;
    o.limits = a.resources.limits()?;
    o.limits.device_rules = a.device_cgroup_rule.clone();
    o.limits.devices = host_devices.iter().map(|d| d.parse()).collect::<Result<_, _>>()?;
    o.limits.blkio_weight = a.blkio_weight.map(parse::check_blkio_weight).transpose()?.flatten();
    o.restart = a.restart.parse::<RestartPolicy>().map_err(|e| Error::Spec(rrun::SpecError::Restart(e)))?;
    o.log_max_size = log_max_size(&a.log_opt)?;
    o.cap_add = a.cap_add.clone();
    o.cap_drop = a.cap_drop.clone();
    o.privileged = a.privileged;
    o.seccomp = security.seccomp;
    o.no_new_privileges = security.no_new_privileges;
    o.ulimits = a.ulimit.iter().map(|u| u.parse()).collect::<Result<_, _>>()?;
    o.shm_size = a.shm_size.as_deref().map(|v| rrun::parse_bytes("--shm-size", v)).transpose()?;
    o.sysctls = a.sysctl.iter().map(|s| parse::parse_sysctl(s)).collect::<Result<_, _>>()?;
    o.group_add = a.group_add.clone();
    o.stop_signal = a.stop_signal.clone();
    o.stop_timeout = a.stop_timeout;
    o.ipc = ns_mode("--ipc", &a.ipc)?;
    o.pid = ns_mode("--pid", &a.pid)?;
    o.uts = ns_mode("--uts", &a.uts)?;
    o.cidfile = a.cidfile.clone();
    o.labels = labels;
    o.annotations = a.annotation.iter().map(|s| parse::parse_annotation(s)).collect::<Result<_, _>>()?;
    o.oom_score_adj = a.oom_score_adj;
    // set by `prepare`, which reports their errors as usage errors
    o.healthcheck = None;
    o.log_driver = Default::default();
    o.attach = None;
    o.cdi_devices = cdi_devices.into_iter().cloned().collect();
    o.gpus = a.gpus.iter().map(|g| g.parse()).collect::<Result<_, _>>()?;
    o.cdi_spec_dirs = a.cdi_spec_dir.clone();
    Ok(o)
}

/// `--log-opt max-size=10m` (other json-file options are refused, not ignored).
fn log_max_size(opts: &[String]) -> Result<Option<u64>, Error> {
    let mut size = None;
    for o in opts {
        let bad = |reason| Error::Spec(rrun::SpecError::Limit { flag: "--log-opt".into(), value: o.clone(), reason });
        match o.split_once('=') {
            Some(("max-size", v)) => size = Some(rrun::parse_bytes("--log-opt max-size", v)? as u64),
            Some(("max-file", "1")) | Some(("max-file", "2")) => {}
            _ => return Err(bad("supported: max-size=SIZE (one rotated file is kept)")),
        }
    }
    Ok(size)
}

/// The run options of `run` and `create`, or the usage error docker would report.
fn prepare(rrun: &Rrun, a: &RunArgs) -> Result<Result<RunOptions, super::UsageError>, Error> {
    if let Err(e) = check_first_positional("image", a.image()) {
        return Ok(Err(e));
    }
    let (attach, health) = match (attach_streams(a), healthcheck(a)) {
        (Ok(x), Ok(h)) => (x, h),
        (Err(e), _) | (_, Err(e)) => return Ok(Err(e)),
    };
    let log_driver = match a.log_driver.as_deref().map(str::parse).transpose() {
        Ok(d) => d.unwrap_or_default(),
        Err(e) => return Ok(Err(super::UsageError(e))),
    };
    let mut opts = options(a)?;
    opts.attach = attach;
    opts.healthcheck = health;
    opts.log_driver = log_driver;
    // --platform is checked whatever --pull says, and against the image found locally
    let platform = a.platform.as_deref().map(parse::parse_platform).transpose()?;
    use rrun::PlatformExt as _;
    let other_platform = |p: &rrun::Platform| rrun.image_platform(a.image()).is_ok_and(|have| !p.matches(&have));
    let pull = match a.pull.as_str() {
        "always" => true,
        "missing" => rrun.image(a.image()).is_err() || platform.as_ref().is_some_and(other_platform),
        "never" => {
            if let Some(p) = &platform {
                rrun.check_image_platform(a.image(), p)?;
            }
            false
        }
        other => {
            return Ok(Err(super::UsageError(format!("invalid --pull {other:?}: expected missing, always or never"))))
        }
    };
    // a dry run changes nothing, the store included
    if pull && !a.dry_run {
        let client = a.registry.client_options()?;
        let quiet = !std::io::IsTerminal::is_terminal(&std::io::stderr());
        super::registry::pull_shown(rrun, a.image(), &client, platform, quiet)?;
    }
    Ok(Ok(opts))
}

pub fn run(rrun: &Rrun, a: RunArgs) -> Result<i32, Error> {
    if a.detach && !a.attach.is_empty() {
        return Ok(super::UsageError("Conflicting options: -a and -d".into()).report());
    }
    let opts = match prepare(rrun, &a)? {
        Ok(o) => o,
        Err(e) => return Ok(e.report()),
    };
    if a.dry_run {
        return dry_run(rrun, &a, &opts);
    }
    if a.detach {
        let c = rrun.run_detached(a.image(), &opts)?;
        println!("{}", c.id);
        // on a terminal, where to reach what it publishes
        if !c.ports.is_empty() && std::io::IsTerminal::is_terminal(&std::io::stdout()) {
            println!("reachable at {}", reachable(&c.ports));
        }
        return Ok(0);
    }
    if a.restart != "no" {
        eprintln!("rrun: --restart applies to detached containers (-d); ignored in the foreground");
    }
    let outcome = rrun.run_outcome(a.image(), &opts)?;
    if outcome.oom_killed {
        eprintln!("rrun: {}", oom_message(&outcome));
    }
    Ok(outcome.code)
}

/// `127.0.0.1:8080 → 80/tcp, …`: where the host reaches each published port
/// (one bound to every address is reached at 127.0.0.1 too).
fn reachable(ports: &[rrun::PortMapping]) -> String {
    ports
        .iter()
        .map(|p| {
            let host = match p.host_ip.as_str() {
                "0.0.0.0" | "" => "127.0.0.1".to_string(),
                ip if ip.contains(':') => format!("[{ip}]"),
                ip => ip.to_string(),
            };
            format!("{host}:{} \u{2192} {}/{}", p.host_port, p.container_port, p.protocol)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Why a foreground container died, when the OOM killer did it.
fn oom_message(o: &rrun::RunOutcome) -> String {
    let limit = match o.memory_limit {
        Some(l) => format!("memory limit {}", short_size(l)),
        None => "no memory limit (the host ran out of memory)".into(),
    };
    if o.code == 137 {
        format!("container killed by the kernel OOM killer: {limit}")
    } else {
        format!("a process of the container was killed by the kernel OOM killer: {limit}")
    }
}

/// Bytes as `--memory` takes them: `32m`, `1g`, `1536k`, or bytes (`100b`).
fn short_size(bytes: u64) -> String {
    for (unit, size) in [("g", 1u64 << 30), ("m", 1 << 20), ("k", 1 << 10)] {
        if bytes >= size && bytes.is_multiple_of(size) {
            return format!("{}{unit}", bytes / size);
        }
    }
    format!("{bytes}b")
}

/// `create`: the container, not started (`rrun start` runs it); prints its ID.
pub fn create(rrun: &Rrun, a: RunArgs) -> Result<i32, Error> {
    if a.detach {
        return Ok(super::UsageError(
            "unknown flag: --detach (create only makes the container: `rrun start` runs it detached)".into(),
        )
        .report());
    }
    let opts = match prepare(rrun, &a)? {
        Ok(o) => o,
        Err(e) => return Ok(e.report()),
    };
    if a.dry_run {
        return dry_run(rrun, &a, &opts);
    }
    let c = rrun.create(a.image(), &opts)?;
    println!("{}", c.record.id);
    Ok(0)
}

/// `--dry-run`: what `run` would do, printed; nothing is made.
fn dry_run(rrun: &Rrun, a: &RunArgs, opts: &RunOptions) -> Result<i32, Error> {
    let plan = rrun.dry_run(a.image(), opts)?;
    print!("{}", super::explain::dry_run_text(&plan));
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn parse(args: &[&str]) -> RunArgs {
        let mut argv = vec!["rrun", "run"];
        argv.extend_from_slice(args);
        match crate::cli::Cli::try_parse_from(argv).unwrap().command {
            crate::cli::Command::Run(a) => *a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn oom_kills_are_explained_with_the_limit() {
        let o = rrun::RunOutcome { code: 137, oom_killed: true, memory_limit: Some(32 << 20) };
        assert_eq!(oom_message(&o), "container killed by the kernel OOM killer: memory limit 32m");
        assert_eq!(short_size(3 << 30), "3g");
        assert_eq!(short_size(1536 << 10), "1536k");
        assert_eq!(short_size(1000), "1000b");
        let o = rrun::RunOutcome { code: 0, oom_killed: true, memory_limit: None };
        assert!(oom_message(&o).starts_with("a process of the container"), "{}", oom_message(&o));
    }

    #[test]
    fn negative_numbers_are_values_and_flags_reach_the_options() {
        let a = parse(&[
            "--oom-score-adj",
            "-500",
            "-m",
            "64m",
            "--memory-swap",
            "-1",
            "--ulimit",
            "nofile=10:20",
            "--mount",
            "type=tmpfs,target=/t",
            "-v",
            "vol:/v",
            "-l",
            "a=b",
            "--sysctl",
            "kernel.shmmax=1",
            "--ipc",
            "container:db",
            "--security-opt",
            "no-new-privileges",
            "--blkio-weight",
            "0",
            "busybox",
            "true",
        ]);
        let o = options(&a).unwrap();
        assert_eq!(o.oom_score_adj, Some(-500));
        assert_eq!(o.limits.memory_swap, Some(-1));
        assert_eq!(o.limits.blkio_weight, None, "0 leaves the default");
        assert_eq!((o.ulimits[0].soft, o.ulimits[0].hard), (10, 20));
        assert_eq!(o.mounts.len(), 2);
        assert_eq!(o.mounts[0].volume_name(), Some("vol"), "-v first, then --mount");
        assert_eq!(o.labels, [("a".to_string(), "b".to_string())]);
        assert_eq!(o.sysctls.get("kernel.shmmax").map(String::as_str), Some("1"));
        assert_eq!(o.ipc, NamespaceMode::Container("db".into()));
        assert!(o.no_new_privileges);
        assert_eq!(a.command(), ["true"]);
        let n = options(&parse(&[
            "-p",
            "127.0.0.1:8080:80",
            "-p",
            "53/udp",
            "-P",
            "--expose",
            "9000-9001",
            "--network",
            "appnet",
            "--network-alias",
            "api",
            "--dns",
            "1.1.1.1",
            "--dns-search",
            "lan",
            "--dns-option",
            "ndots:2",
            "--add-host",
            "db:10.0.0.5",
            "--ip",
            "10.86.0.9",
            "--mac-address",
            "02:42:ac:11:00:09",
            "busybox",
        ]))
        .unwrap();
        assert_eq!(n.network, NetworkMode::Bridge("appnet".into()));
        assert_eq!(n.publish.len(), 2);
        assert_eq!((n.publish[0].host_port, n.publish[1].protocol.as_str()), (8080, "udp"));
        assert!(n.publish_all && n.expose.len() == 2 && n.network_aliases == ["api"]);
        assert_eq!((n.dns.len(), n.dns_search[0].as_str(), n.dns_options[0].as_str()), (1, "lan", "ndots:2"));
        assert_eq!(n.add_hosts, [("db".to_string(), "10.0.0.5".to_string())]);
        assert_eq!(n.ip.unwrap().to_string(), "10.86.0.9");
        for bad in
            [["-p", "99999:1"], ["-p", "a:b"], ["-p", "1-3:1-2"], ["--dns", "x"], ["--ip", "::1"], ["--add-host", "x"]]
        {
            let mut args = bad.to_vec();
            args.push("busybox");
            assert!(options(&parse(&args)).is_err(), "{bad:?}");
        }
        let ports = [rrun::PortMapping {
            container_port: 80,
            protocol: "tcp".into(),
            host_ip: "0.0.0.0".into(),
            host_port: 8080,
        }];
        assert_eq!(reachable(&ports), "127.0.0.1:8080 \u{2192} 80/tcp");
        // the range is the library's to check (when the container is made)
        assert_eq!(options(&parse(&["--oom-score-adj", "-1001", "busybox"])).unwrap().oom_score_adj, Some(-1001));
        assert!(options(&parse(&["--mount", "type=bind,target=/x", "busybox"])).is_err());
    }

    #[test]
    fn attach_flags_read_as_docker_reads_them() {
        assert_eq!(attach_streams(&parse(&["busybox"])).unwrap(), None);
        let s = attach_streams(&parse(&["-a", "STDOUT", "--attach", "stderr", "busybox"])).unwrap().unwrap();
        assert_eq!((s.stdin, s.stdout, s.stderr), (false, true, true));
        let s = attach_streams(&parse(&["-i", "-a", "stdout", "busybox"])).unwrap().unwrap();
        assert_eq!((s.stdin, s.stdout, s.stderr), (true, true, false), "-i attaches stdin");
        assert!(attach_streams(&parse(&["-a", "stdlog", "busybox"])).is_err());
    }

    #[test]
    fn health_flags_become_a_healthcheck() {
        assert_eq!(healthcheck(&parse(&["busybox"])).unwrap(), None);
        let h = healthcheck(&parse(&[
            "--health-cmd",
            "test -e /ok",
            "--health-interval",
            "1s",
            "--health-retries",
            "2",
            "busybox",
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(h.test, ["CMD-SHELL", "test -e /ok"]);
        assert_eq!((h.interval, h.timeout, h.retries), (1_000_000_000, 0, 2));
        let only_interval = healthcheck(&parse(&["--health-interval", "5s", "busybox"])).unwrap().unwrap();
        assert!(only_interval.test.is_empty(), "the image's test is kept");
        assert_eq!(healthcheck(&parse(&["--no-healthcheck", "busybox"])).unwrap().unwrap().test, ["NONE"]);
        assert!(healthcheck(&parse(&["--no-healthcheck", "--health-cmd", "true", "busybox"])).is_err());
        assert!(healthcheck(&parse(&["--health-retries", "-1", "busybox"])).is_err());
        assert!(healthcheck(&parse(&["--health-interval", "soon", "busybox"])).is_err());
        assert!(healthcheck(&parse(&["--health-interval", "10us", "busybox"])).is_err());
    }
}
