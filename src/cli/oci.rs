//! The runc-compatible command line: what Podman, containerd and CRI-O run.
//! Same verbs, flags, output and exit codes as runc; errors also go to
//! `--log` in `--log-format` (json lines `{"level","msg","time"}`), which
//! engines read back.
//!
//! rrun's own (Docker-like) commands share some verb names (`run`, `create`,
//! `start`, `kill`, `exec`, `ps`, `pause`, `update`, `events`); [`super::route`]
//! tells them apart, and `rrun oci VERB` always means runc's verb.

use clap::{Args, Parser, Subcommand};
use rrun::oci::{CreateOptions, ExecOptions, OciError, OciRuntime};
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Parser, Debug)]
#[command(name = "rrun", version = crate::cli::VERSION, about = "rrun as an OCI runtime (runc-compatible)", max_term_width = 100)]
pub struct OciCli {
    /// State directory of the containers
    #[arg(long, global = true)]
    pub root: Option<PathBuf>,
    /// Log file (errors, and everything with --debug)
    #[arg(long, global = true)]
    pub log: Option<PathBuf>,
    /// Log format: text or json
    #[arg(long = "log-format", global = true, default_value = "text")]
    pub log_format: String,
    /// Debug logging
    #[arg(long, global = true)]
    pub debug: bool,
    /// cgroupsPath is slice:prefix:name (rrun manages the cgroup itself at that path)
    #[arg(long = "systemd-cgroup", global = true)]
    pub systemd_cgroup: bool,
    /// Accepted for compatibility (true, false or auto)
    #[arg(long)]
    pub rootless: Option<String>,
    /// Accepted for compatibility; checkpointing is not supported
    #[arg(long, hide = true)]
    pub criu: Option<String>,
    #[command(subcommand)]
    pub command: OciCommand,
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// Bundle directory (config.json and the root filesystem)
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// Unix socket that receives the terminal's master side
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// File to write the container's PID to
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Move the rootfs onto / and chroot instead of pivot_root
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// Keep the caller's session keyring
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
    /// Pass descriptors 3..3+N to the container
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    pub id: String,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub create: CreateArgs,
    /// Return once the container runs
    #[arg(short, long)]
    pub detach: bool,
    /// Keep the container after it exits
    #[arg(long)]
    pub keep: bool,
    /// Accepted for compatibility
    #[arg(long = "no-subreaper")]
    pub no_subreaper: bool,
}

#[derive(Args, Debug)]
pub struct ExecArgs {
    /// process.json with the whole process to run
    #[arg(short, long)]
    pub process: Option<PathBuf>,
    #[arg(short, long)]
    pub tty: bool,
    #[arg(short, long)]
    pub detach: bool,
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Working directory
    #[arg(long)]
    pub cwd: Option<String>,
    /// Environment variable K=V
    #[arg(short, long)]
    pub env: Vec<String>,
    /// UID[:GID]
    #[arg(short, long)]
    pub user: Option<String>,
    /// Additional group
    #[arg(short = 'g', long = "additional-gids")]
    pub additional_gids: Vec<u32>,
    /// Add a capability
    #[arg(short, long)]
    pub cap: Vec<String>,
    #[arg(long = "no-new-privs")]
    pub no_new_privs: bool,
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    #[arg(long = "ignore-paused")]
    pub ignore_paused: bool,
    /// Accepted for compatibility (no SELinux/AppArmor here)
    #[arg(long = "process-label")]
    pub process_label: Option<String>,
    #[arg(long)]
    pub apparmor: Option<String>,
    /// Accepted for compatibility: the container's cgroup is always used
    #[arg(long)]
    pub cgroup: Option<String>,
    pub id: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Args, Debug)]
pub struct UpdateArgs {
    /// JSON LinuxResources ("-" for stdin)
    #[arg(short, long)]
    pub resources: Option<PathBuf>,
    #[arg(long)]
    pub memory: Option<String>,
    #[arg(long = "memory-swap")]
    pub memory_swap: Option<String>,
    #[arg(long = "memory-reservation")]
    pub memory_reservation: Option<String>,
    #[arg(long = "cpu-quota", allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<u64>,
    #[arg(long = "cpu-share")]
    pub cpu_share: Option<u64>,
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    pub id: String,
}

#[derive(Subcommand, Debug)]
pub enum OciCommand {
    /// Create a container from a bundle; its process waits for start
    Create(CreateArgs),
    /// Start a created container
    Start { id: String },
    /// Create, start and wait for a container, then delete it
    Run(RunArgs),
    /// The container's state as JSON
    State { id: String },
    /// Send a signal (default SIGTERM) to the container's process
    Kill {
        /// Every process of the container
        #[arg(short, long)]
        all: bool,
        id: String,
        signal: Option<String>,
    },
    /// Delete a stopped container (--force: a running one too)
    Delete {
        #[arg(short, long)]
        force: bool,
        id: String,
    },
    /// Run a process in a container
    Exec(Box<ExecArgs>),
    /// The container's processes
    Ps {
        #[arg(short, long, default_value = "table")]
        format: String,
        id: String,
        /// Accepted for compatibility
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        ps_args: Vec<String>,
    },
    /// List containers
    List {
        #[arg(short, long, default_value = "table")]
        format: String,
        #[arg(short, long)]
        quiet: bool,
    },
    /// Freeze every process of a container
    Pause { id: String },
    /// Thaw a paused container
    Resume { id: String },
    /// Change a running container's resource limits
    Update(UpdateArgs),
    /// Stats of a container, once (--stats) or every --interval
    Events {
        #[arg(long)]
        stats: bool,
        #[arg(long, default_value = "5s")]
        interval: String,
        id: String,
    },
    /// What this runtime supports, as JSON
    Features,
    /// Write a starting config.json
    Spec {
        #[arg(short, long, default_value = ".")]
        bundle: PathBuf,
        #[arg(long)]
        rootless: bool,
    },
    /// Not supported by rrun (no CRIU)
    Checkpoint {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Not supported by rrun (no CRIU)
    Restore {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

/// Writes an error where engines look for it: stderr, and `--log`.
fn report(cli_log: Option<&Path>, format: &str, level: &str, msg: &str) {
    eprintln!("rrun: {msg}");
    let Some(path) = cli_log else { return };
    let time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    let line = if format == "json" {
        serde_json::json!({ "level": level, "msg": msg, "time": time }).to_string()
    } else {
        format!("time=\"{time}\" level={level} msg={msg:?}")
    };
    if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(path) {
        let _ = writeln!(f, "{line}");
    }
}

fn parse_signal(s: Option<&str>) -> Result<nix::sys::signal::Signal, OciError> {
    let s = s.unwrap_or("SIGTERM");
    rrun::launcher::process::parse_signal(s).ok_or_else(|| OciError::Invalid(format!("invalid signal {s:?}")))
}

/// Parses and runs a runc-style command line; returns the exit code.
pub fn main(args: Vec<OsString>) -> i32 {
    let cli = match OciCli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 1 } else { 0 };
        }
    };
    crate::init_logging(if cli.debug { 2 } else { 0 });
    let runtime = OciRuntime::new(cli.root.clone().unwrap_or_else(OciRuntime::default_root), cli.systemd_cgroup);
    match run(&runtime, cli.command) {
        Ok(code) => code,
        Err(e) => {
            report(cli.log.as_deref(), &cli.log_format, "error", &e.to_string());
            e.exit_code()
        }
    }
}

fn create_options(a: CreateArgs) -> (String, CreateOptions) {
    (
        a.id,
        CreateOptions {
            bundle: a.bundle,
            pid_file: a.pid_file,
            console_socket: a.console_socket,
            no_pivot: a.no_pivot,
            no_new_keyring: a.no_new_keyring,
            preserve_fds: a.preserve_fds,
        },
    )
}

fn run(rt: &OciRuntime, cmd: OciCommand) -> Result<i32, OciError> {
    match cmd {
        OciCommand::Create(a) => {
            let (id, opts) = create_options(a);
            rt.create(&id, &opts)?;
        }
        OciCommand::Start { id } => rt.start(&id)?,
        OciCommand::Run(a) => {
            let (detach, keep) = (a.detach, a.keep);
            let (id, opts) = create_options(a.create);
            return rt.run(&id, &opts, detach, keep);
        }
        OciCommand::State { id } => {
            println!("{}", serde_json::to_string_pretty(&rt.state(&id)?).expect("serializes"));
        }
        OciCommand::Kill { all, id, signal } => rt.kill(&id, parse_signal(signal.as_deref())?, all)?,
        OciCommand::Delete { force, id } => rt.delete(&id, force)?,
        OciCommand::Exec(a) => return exec(rt, *a),
        OciCommand::Ps { format, id, .. } => {
            let pids = rt.pids(&id)?;
            if format == "json" {
                println!("{}", serde_json::to_string(&pids).expect("serializes"));
            } else {
                println!("{:>8} CMD", "PID");
                for p in pids {
                    let cmd = std::fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
                    let cmd: String = String::from_utf8_lossy(&cmd).replace('\0', " ");
                    println!("{p:>8} {}", cmd.trim_end());
                }
            }
        }
        OciCommand::List { format, quiet } => {
            let all = rt.list()?;
            if quiet {
                all.iter().for_each(|s| println!("{}", s.id));
            } else if format == "json" {
                println!("{}", serde_json::to_string(&all).expect("serializes"));
            } else {
                println!("{:<12} {:<8} {:<10} {:<40} {:<32} OWNER", "ID", "PID", "STATUS", "BUNDLE", "CREATED");
                for s in all {
                    let owner = if nix::unistd::Uid::effective().is_root() { "root" } else { "" };
                    println!(
                        "{:<12} {:<8} {:<10} {:<40} {:<32} {owner}",
                        s.id,
                        s.pid,
                        s.status,
                        s.bundle.display(),
                        s.created
                    );
                }
            }
        }
        OciCommand::Pause { id } => rt.pause(&id)?,
        OciCommand::Resume { id } => rt.resume(&id)?,
        OciCommand::Update(a) => update(rt, a)?,
        OciCommand::Events { stats, interval, id } => {
            let every = parse_interval(&interval)?;
            loop {
                println!("{}", serde_json::to_string(&rt.stats(&id)?).expect("serializes"));
                if stats {
                    break;
                }
                std::thread::sleep(every);
            }
        }
        OciCommand::Features => {
            println!("{}", serde_json::to_string_pretty(&rrun::oci::features()).expect("serializes"))
        }
        OciCommand::Spec { bundle, rootless } => {
            let path = bundle.join("config.json");
            if path.exists() {
                return Err(OciError::Invalid(format!("{} already exists: remove it first", path.display())));
            }
            let text = serde_json::to_string_pretty(&rrun::oci::default_spec(rootless)).expect("serializes");
            std::fs::write(&path, text + "\n").map_err(|source| OciError::Io { path, source })?;
        }
        OciCommand::Checkpoint { .. } | OciCommand::Restore { .. } => {
            return Err(OciError::Invalid("checkpoint and restore are not supported by rrun (no CRIU)".into()));
        }
    }
    Ok(0)
}

fn parse_interval(s: &str) -> Result<std::time::Duration, OciError> {
    let bad = || OciError::Invalid(format!("invalid --interval {s:?}: expected e.g. 5s or 500ms"));
    let (num, unit) = s.find(|c: char| !c.is_ascii_digit()).map(|i| s.split_at(i)).unwrap_or((s, "s"));
    let n: u64 = num.parse().map_err(|_| bad())?;
    match unit {
        "ms" => Ok(std::time::Duration::from_millis(n)),
        "s" => Ok(std::time::Duration::from_secs(n)),
        "m" => Ok(std::time::Duration::from_secs(n * 60)),
        _ => Err(bad()),
    }
}

fn exec(rt: &OciRuntime, a: ExecArgs) -> Result<i32, OciError> {
    let process = match &a.process {
        Some(path) => {
            let bytes = std::fs::read(path).map_err(|source| OciError::Io { path: path.clone(), source })?;
            serde_json::from_slice(&bytes)
                .map_err(|e| OciError::Config { path: path.clone(), reason: format!("invalid process.json: {e}") })?
        }
        None => rt.exec_process(
            &a.id,
            &rrun::oci::ProcessOverrides {
                args: a.command.clone(),
                cwd: a.cwd.clone(),
                env: a.env.clone(),
                user: a.user.clone(),
                additional_gids: a.additional_gids.clone(),
                caps: a.cap.clone(),
                no_new_privs: a.no_new_privs,
                tty: a.tty,
            },
        )?,
    };
    rt.exec(
        &a.id,
        &ExecOptions {
            process,
            console_socket: a.console_socket,
            pid_file: a.pid_file,
            detach: a.detach,
            preserve_fds: a.preserve_fds,
            ignore_paused: a.ignore_paused,
        },
    )
}

fn update(rt: &OciRuntime, a: UpdateArgs) -> Result<(), OciError> {
    use oci_spec::runtime::{LinuxCpuBuilder, LinuxMemoryBuilder, LinuxPidsBuilder, LinuxResources};
    let invalid = |e: oci_spec::OciSpecError| OciError::Invalid(e.to_string());
    let mut res: LinuxResources = match &a.resources {
        Some(p) => {
            let bytes = if p.as_os_str() == "-" {
                let mut v = Vec::new();
                std::io::Read::read_to_end(&mut std::io::stdin(), &mut v)
                    .map_err(|source| OciError::Io { path: p.clone(), source })?;
                v
            } else {
                std::fs::read(p).map_err(|source| OciError::Io { path: p.clone(), source })?
            };
            serde_json::from_slice(&bytes)
                .map_err(|e| OciError::Config { path: p.clone(), reason: format!("invalid resources: {e}") })?
        }
        None => LinuxResources::default(),
    };
    let size =
        |flag: &str, v: &Option<String>| v.as_deref().map(|v| rrun::spec::resources::parse_bytes(flag, v)).transpose();
    let (memory, swap, reservation) = (
        size("--memory", &a.memory)?,
        size("--memory-swap", &a.memory_swap)?,
        size("--memory-reservation", &a.memory_reservation)?,
    );
    if memory.is_some() || swap.is_some() || reservation.is_some() {
        let mut m = LinuxMemoryBuilder::default();
        if let Some(v) = memory {
            m = m.limit(v);
        }
        if let Some(v) = swap {
            m = m.swap(v);
        }
        if let Some(v) = reservation {
            m = m.reservation(v);
        }
        res.set_memory(Some(m.build().map_err(invalid)?));
    }
    if a.cpu_quota.is_some()
        || a.cpu_period.is_some()
        || a.cpu_share.is_some()
        || a.cpuset_cpus.is_some()
        || a.cpuset_mems.is_some()
    {
        let mut c = LinuxCpuBuilder::default();
        if let Some(v) = a.cpu_quota {
            c = c.quota(v);
        }
        if let Some(v) = a.cpu_period {
            c = c.period(v);
        }
        if let Some(v) = a.cpu_share {
            c = c.shares(v);
        }
        if let Some(v) = &a.cpuset_cpus {
            c = c.cpus(v.clone());
        }
        if let Some(v) = &a.cpuset_mems {
            c = c.mems(v.clone());
        }
        res.set_cpu(Some(c.build().map_err(invalid)?));
    }
    if let Some(p) = a.pids_limit {
        res.set_pids(Some(LinuxPidsBuilder::default().limit(p).build().map_err(invalid)?));
    }
    rt.update(&a.id, &res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals() {
        assert_eq!(parse_interval("5s").unwrap(), std::time::Duration::from_secs(5));
        assert_eq!(parse_interval("250ms").unwrap(), std::time::Duration::from_millis(250));
        assert!(parse_interval("soon").is_err());
    }
}
