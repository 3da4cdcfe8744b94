//! `run`.

use clap::Args;
use rrun::spec::resources::{self, Limits};
use rrun::spec::{self, NetworkMode, Tmpfs, Volume};
use rrun::{Error, RestartPolicy, Rrun, RunOptions};
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
    /// Add a capability (e.g. NET_ADMIN, or ALL)
    #[arg(long = "cap-add")]
    pub cap_add: Vec<String>,
    /// Drop a capability (e.g. CHOWN, or ALL)
    #[arg(long = "cap-drop")]
    pub cap_drop: Vec<String>,
    /// Every capability, no seccomp, no masked paths, every device
    #[arg(long)]
    pub privileged: bool,
    /// seccomp=unconfined|PROFILE.json, no-new-privileges, label=disable
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
    /// Bind mount HOST-PATH:CONTAINER-PATH[:ro|rw]
    #[arg(short, long = "volume")]
    pub volume: Vec<String>,
    /// Mount a tmpfs: PATH[:OPTIONS]
    #[arg(long)]
    pub tmpfs: Vec<String>,
    /// Mount the container's root filesystem read-only
    #[arg(long = "read-only")]
    pub read_only: bool,
    /// Network: host (default for now) or none
    #[arg(long, alias = "net")]
    pub network: Option<String>,
    /// Run a minimal init as PID 1 that reaps zombies and forwards signals
    #[arg(long)]
    pub init: bool,
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
    #[arg(long)]
    pub cpus: Option<f64>,
    /// Relative CPU weight (default 1024)
    #[arg(short = 'c', long = "cpu-shares")]
    pub cpu_shares: Option<u64>,
    /// CPUs the container may run on (e.g. 0-1,3)
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// Maximum number of processes (-1: unlimited)
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Allow a device in the device cgroup: 'c 1:3 rwm'
    #[arg(long = "device-cgroup-rule")]
    pub device_cgroup_rule: Vec<String>,
    /// Add a host device: HOST[:CONTAINER][:PERMISSIONS]
    #[arg(long)]
    pub device: Vec<String>,
    /// Pull the image: missing (default), always or never
    #[arg(long, default_value = "missing")]
    pub pull: String,
    /// Platform to pull: os/arch[/variant]
    #[arg(long)]
    pub platform: Option<String>,
    #[command(flatten)]
    pub registry: super::registry::RegistryArgs,
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

/// Everything from the first positional argument on is the container's, so an
/// unknown flag before it arrives here as the "image": name it as docker does.
pub fn check_first_positional(what: &str, first: &str) -> Result<(), super::UsageError> {
    if first.starts_with('-') && first.len() > 1 {
        return Err(super::UsageError(format!("unknown flag: {first} (before the {what})")));
    }
    Ok(())
}

fn options(a: &RunArgs) -> Result<RunOptions, Error> {
    let host_env = |k: &str| std::env::var(k).ok();
    let mut env = Vec::new();
    for f in &a.env_file {
        let content = std::fs::read_to_string(f).map_err(|source| Error::Io { path: f.clone(), source })?;
        env.extend(spec::parse_env_file(&content, host_env)?);
    }
    for e in &a.env {
        env.push(spec::expand_env(e, host_env)?);
    }
    let network = match &a.network {
        Some(n) => n.parse::<NetworkMode>()?,
        None => NetworkMode::default(),
    };
    Ok(RunOptions {
        name: a.name.clone(),
        command: a.command().to_vec(),
        entrypoint: a.entrypoint.clone(),
        env,
        workdir: a.workdir.clone(),
        user: a.user.clone(),
        hostname: a.hostname.clone(),
        volumes: a.volume.iter().map(|v| v.parse::<Volume>()).collect::<Result<_, _>>()?,
        tmpfs: a.tmpfs.iter().map(|t| t.parse::<Tmpfs>()).collect::<Result<_, _>>()?,
        read_only: a.read_only,
        remove: a.rm,
        interactive: a.interactive,
        tty: a.tty,
        network,
        network_explicit: a.network.is_some(),
        init: a.init,
        limits: Limits {
            memory: a.memory.as_deref().map(|v| resources::parse_bytes("--memory", v)).transpose()?,
            memory_swap: match a.memory_swap.as_deref() {
                Some("-1") => Some(-1),
                Some(v) => Some(resources::parse_bytes("--memory-swap", v)?),
                None => None,
            },
            memory_reservation: a
                .memory_reservation
                .as_deref()
                .map(|v| resources::parse_bytes("--memory-reservation", v))
                .transpose()?,
            cpus: a.cpus,
            cpu_shares: a.cpu_shares,
            cpuset_cpus: a.cpuset_cpus.clone(),
            pids_limit: a.pids_limit,
            device_rules: a.device_cgroup_rule.clone(),
            devices: a.device.iter().map(|d| d.parse()).collect::<Result<_, _>>()?,
        },
        restart: a.restart.parse::<RestartPolicy>().map_err(|e| Error::Spec(spec::SpecError::Restart(e)))?,
        log_max_size: log_max_size(&a.log_opt)?,
        cap_add: a.cap_add.clone(),
        cap_drop: a.cap_drop.clone(),
        privileged: a.privileged,
        seccomp: seccomp_choice(&a.security_opt)?,
    })
}

/// `--security-opt`: the seccomp profile; rrun always sets no_new_privs and has no SELinux labels.
fn seccomp_choice(opts: &[String]) -> Result<spec::SeccompChoice, Error> {
    let mut choice = spec::SeccompChoice::Default;
    for o in opts {
        match o.split_once(['=', ':']) {
            Some(("seccomp", v)) => choice = v.parse()?,
            None if o == "no-new-privileges" => {}
            Some(("no-new-privileges", "true")) | Some(("label", "disable")) => {}
            _ => return Err(Error::Spec(spec::SpecError::SecurityOpt(o.clone()))),
        }
    }
    Ok(choice)
}

/// `--log-opt max-size=10m` (other json-file options are refused, not ignored).
fn log_max_size(opts: &[String]) -> Result<Option<u64>, Error> {
    let mut size = None;
    for o in opts {
        let bad = |reason| Error::Spec(spec::SpecError::Limit { flag: "--log-opt".into(), value: o.clone(), reason });
        match o.split_once('=') {
            Some(("max-size", v)) => size = Some(resources::parse_bytes("--log-opt max-size", v)? as u64),
            Some(("max-file", "1")) | Some(("max-file", "2")) => {}
            _ => return Err(bad("supported: max-size=SIZE (one rotated file is kept)")),
        }
    }
    Ok(size)
}

pub fn run(rrun: &Rrun, a: RunArgs) -> Result<i32, Error> {
    if let Err(e) = check_first_positional("image", a.image()) {
        return Ok(e.report());
    }
    let opts = options(&a)?;
    let pull = match a.pull.as_str() {
        "always" => true,
        "missing" => rrun.image(a.image()).is_err(),
        "never" => false,
        other => {
            eprintln!("rrun: invalid --pull {other:?}: expected missing, always or never");
            return Ok(125);
        }
    };
    if pull {
        let client = a.registry.client_options()?;
        let platform = a.platform.as_deref().map(rrun::registry::parse_platform).transpose()?;
        let quiet = !std::io::IsTerminal::is_terminal(&std::io::stderr());
        rrun.pull(a.image(), &client, &rrun::registry::PullOptions { platform, quiet })?;
    }
    if a.detach {
        if a.interactive && !a.tty {
            eprintln!("rrun: -i with -d has nothing to read from (rrun has no attach): ignored");
        }
        let c = rrun.run_detached(a.image(), &opts)?;
        println!("{}", c.id);
        return Ok(0);
    }
    if a.restart != "no" {
        eprintln!("rrun: --restart applies to detached containers (-d); ignored in the foreground");
    }
    rrun.run(a.image(), &opts)
}
