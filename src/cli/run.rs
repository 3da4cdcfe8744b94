//! `run`, `ps`, `rm`.

use super::format;
use clap::Args;
use rrun::spec::resources::{self, Limits};
use rrun::spec::{self, NetworkMode, Tmpfs, Volume};
use rrun::{Error, Rrun, RunOptions, Status};
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
    /// Pull the image: missing (default), always or never
    #[arg(long, default_value = "missing")]
    pub pull: String,
    /// Platform to pull: os/arch[/variant]
    #[arg(long)]
    pub platform: Option<String>,
    #[command(flatten)]
    pub registry: super::registry::RegistryArgs,
    /// Image name or ID
    pub image: String,
    /// Command and arguments (replace the image's Cmd)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Args, Debug)]
pub struct PsArgs {
    /// Show all containers, not only running ones
    #[arg(short, long)]
    pub all: bool,
    /// Only show IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Output format: table or json
    #[arg(long, default_value = "table")]
    pub format: String,
}

#[derive(Args, Debug)]
pub struct RmArgs {
    /// Kill running containers before removing them
    #[arg(short, long)]
    pub force: bool,
    #[arg(required = true)]
    pub containers: Vec<String>,
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
        command: a.command.clone(),
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
            memory: a.memory.as_deref().map(resources::parse_bytes).transpose()?,
            memory_swap: match a.memory_swap.as_deref() {
                Some("-1") => Some(-1),
                Some(v) => Some(resources::parse_bytes(v)?),
                None => None,
            },
            memory_reservation: a.memory_reservation.as_deref().map(resources::parse_bytes).transpose()?,
            cpus: a.cpus,
            cpu_shares: a.cpu_shares,
            cpuset_cpus: a.cpuset_cpus.clone(),
            pids_limit: a.pids_limit,
            device_rules: a.device_cgroup_rule.clone(),
        },
    })
}

pub fn run(rrun: &Rrun, a: RunArgs) -> Result<i32, Error> {
    let opts = options(&a)?;
    let pull = match a.pull.as_str() {
        "always" => true,
        "missing" => rrun.image(&a.image).is_err(),
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
        rrun.pull(&a.image, &client, &rrun::registry::PullOptions { platform, quiet })?;
    }
    rrun.run(&a.image, &opts)
}

pub fn ps(rrun: &Rrun, a: PsArgs) -> Result<i32, Error> {
    let list: Vec<_> = rrun.containers()?.into_iter().filter(|c| a.all || c.status == Status::Running).collect();
    if a.format == "json" {
        println!("{}", serde_json::to_string_pretty(&list).expect("serializes"));
        return Ok(0);
    }
    if a.quiet {
        list.iter().for_each(|c| println!("{}", &c.id[..12]));
        return Ok(0);
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|c| {
            let status = match c.status {
                Status::Created => "Created".to_string(),
                Status::Running => format!("Up {}", format::age(c.started_at.as_deref())),
                Status::Exited => format!(
                    "Exited ({}) {} ago",
                    c.exit_code.map(|e| e.to_string()).unwrap_or_else(|| "unknown".into()),
                    format::age(c.finished_at.as_deref().or(c.started_at.as_deref()))
                ),
            };
            let mut cmd = c.command.join(" ");
            if cmd.chars().count() > 20 {
                cmd = cmd.chars().take(19).collect::<String>() + "…";
            }
            vec![
                c.id[..12].to_string(),
                c.image.clone(),
                format!("\"{cmd}\""),
                format!("{} ago", format::age(Some(&c.created))),
                status,
                c.name.clone(),
            ]
        })
        .collect();
    format::table(&["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "NAMES"], &rows);
    Ok(0)
}

pub fn rm(rrun: &Rrun, a: RmArgs) -> Result<i32, Error> {
    let mut code = 0;
    for c in &a.containers {
        match rrun.remove_container(c, a.force) {
            Ok(_) => println!("{c}"),
            Err(e) => {
                eprintln!("rrun: {e}");
                code = 1;
            }
        }
    }
    Ok(code)
}
