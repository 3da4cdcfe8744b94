//! The runc-compatible command line: what Podman, containerd and CRI-O run.
//! Same verbs, flags, output and exit codes as runc; errors are logrus lines
//! (`time="…" level=error msg="…"`, or json with `--log-format json`) on
//! stderr, or in `--log` with the bare message on stderr, as runc's, which
//! engines read back.
//!
//! rrun's own (Docker-like) commands share some verb names (`run`, `create`,
//! `start`, `kill`, `exec`, `ps`, `pause`, `update`, `events`); [`super::route`]
//! tells them apart, and `rrun oci VERB` always means runc's verb.

use super::logrus::LogConfig;
use clap::{Args, CommandFactory, Parser, Subcommand};
use rrun::oci::{CheckpointOptions, CreateOptions, CriuOptions, ExecOptions, OciError, RestoreOptions, Runtime};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// `rrun oci --version`, shaped like runc's.
pub fn version_text() -> String {
    format!(
        "rrun version {}\ncommit: {}\nspec: {}\nrust: {}\nlibseccomp: {}",
        env!("CARGO_PKG_VERSION"),
        env!("RRUN_COMMIT"),
        rrun::oci::OCI_VERSION,
        env!("RRUN_RUSTC_VERSION"),
        rrun::Rrun::version().libseccomp
    )
}

#[derive(Parser, Debug)]
#[command(
    name = "rrun",
    about = "rrun as an OCI runtime (runc-compatible)",
    max_term_width = 100,
    disable_version_flag = true,
    subcommand_required = false
)]
pub struct OciCli {
    /// State directory of the containers
    #[arg(long, global = true)]
    pub root: Option<PathBuf>,
    /// Log file (errors, and everything with --debug); stderr without it
    #[arg(long, global = true)]
    pub log: Option<PathBuf>,
    /// Log format: text or json
    #[arg(long = "log-format", global = true, default_value = "text", value_parser = ["text", "json"])]
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
    /// The CRIU program for checkpoint and restore
    #[arg(long, global = true, default_value = "criu")]
    pub criu: PathBuf,
    /// Print the version
    #[arg(short = 'v', long = "version")]
    pub version: bool,
    #[command(subcommand)]
    pub command: Option<OciCommand>,
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
    /// Allocate a terminal
    #[arg(short, long)]
    pub tty: bool,
    /// Return once the process runs
    #[arg(short, long)]
    pub detach: bool,
    /// File to write the process's PID to
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Unix socket that receives the terminal's master side
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
    /// Set no_new_privs
    #[arg(long = "no-new-privs")]
    pub no_new_privs: bool,
    /// Pass descriptors 3..3+N to the process
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Exec even into a paused container
    #[arg(long = "ignore-paused")]
    pub ignore_paused: bool,
    /// SELinux label of the process (refused where SELinux is off)
    #[arg(long = "process-label")]
    pub process_label: Option<String>,
    /// AppArmor profile of the process (refused where AppArmor is off)
    #[arg(long)]
    pub apparmor: Option<String>,
    /// Run in a sub-cgroup of the container's: SUB, or CTRL[,CTRL]:SUB (repeatable)
    #[arg(long)]
    pub cgroup: Vec<String>,
    pub id: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Args, Debug)]
pub struct UpdateArgs {
    /// JSON LinuxResources ("-" for stdin)
    #[arg(short, long)]
    pub resources: Option<PathBuf>,
    /// Memory limit (bytes, or with k/m/g); -1: unlimited
    #[arg(long, allow_negative_numbers = true)]
    pub memory: Option<String>,
    /// Memory plus swap limit; -1: unlimited
    #[arg(long = "memory-swap", allow_negative_numbers = true)]
    pub memory_swap: Option<String>,
    /// Memory soft limit
    #[arg(long = "memory-reservation", allow_negative_numbers = true)]
    pub memory_reservation: Option<String>,
    /// (obsolete in the kernel) kernel memory limit
    #[arg(long = "kernel-memory", allow_negative_numbers = true)]
    pub kernel_memory: Option<String>,
    /// (obsolete in the kernel) kernel TCP buffer limit
    #[arg(long = "kernel-memory-tcp", allow_negative_numbers = true)]
    pub kernel_memory_tcp: Option<String>,
    /// CPU CFS quota (µs per period); -1: none
    #[arg(long = "cpu-quota", allow_negative_numbers = true)]
    pub cpu_quota: Option<i64>,
    /// CPU CFS period (µs)
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<u64>,
    /// CPU real-time period (µs)
    #[arg(long = "cpu-rt-period")]
    pub cpu_rt_period: Option<u64>,
    /// CPU real-time runtime (µs per period)
    #[arg(long = "cpu-rt-runtime", allow_negative_numbers = true)]
    pub cpu_rt_runtime: Option<i64>,
    /// CPU shares
    #[arg(long = "cpu-share")]
    pub cpu_share: Option<u64>,
    /// CPUs to use
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes to use
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Block I/O weight (10 to 1000)
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
    /// Maximum number of processes; -1 or 0: unlimited
    #[arg(long = "pids-limit", allow_negative_numbers = true)]
    pub pids_limit: Option<i64>,
    /// Intel RDT L3 cache schema (refused: no Intel RDT)
    #[arg(long = "l3-cache-schema")]
    pub l3_cache_schema: Option<String>,
    /// Intel RDT memory bandwidth schema (refused: no Intel RDT)
    #[arg(long = "mem-bw-schema")]
    pub mem_bw_schema: Option<String>,
    pub id: String,
}

/// The flags `checkpoint` and `restore` share.
#[derive(Args, Debug)]
pub struct CriuArgs {
    /// Where the images are (default ./checkpoint)
    #[arg(long = "image-path")]
    pub image_path: Option<PathBuf>,
    /// Where CRIU's work files and logs go (default: the image path)
    #[arg(long = "work-path")]
    pub work_path: Option<PathBuf>,
    /// Allow open TCP connections
    #[arg(long = "tcp-established")]
    pub tcp_established: bool,
    /// Allow external unix sockets
    #[arg(long = "ext-unix-sk")]
    pub ext_unix_sk: bool,
    /// Allow shell jobs
    #[arg(long = "shell-job")]
    pub shell_job: bool,
    /// Handle file locks
    #[arg(long = "file-locks")]
    pub file_locks: bool,
    /// cgroups mode: soft (default), full, strict or ignore
    #[arg(long = "manage-cgroups-mode")]
    pub manage_cgroups_mode: Option<String>,
    /// Create a namespace without restoring its properties (network)
    #[arg(long = "empty-ns")]
    pub empty_ns: Vec<String>,
    /// Deduplicate memory images
    #[arg(long = "auto-dedup")]
    pub auto_dedup: bool,
    /// Memory pages lazily (userfaultfd)
    #[arg(long = "lazy-pages")]
    pub lazy_pages: bool,
}

impl From<CriuArgs> for CriuOptions {
    fn from(a: CriuArgs) -> CriuOptions {
        {
            let mut o = CriuOptions::default();
            o.image_path = a.image_path;
            o.work_path = a.work_path;
            o.tcp_established = a.tcp_established;
            o.ext_unix_sk = a.ext_unix_sk;
            o.shell_job = a.shell_job;
            o.file_locks = a.file_locks;
            o.manage_cgroups_mode = a.manage_cgroups_mode;
            o.empty_ns = a.empty_ns;
            o.auto_dedup = a.auto_dedup;
            o.lazy_pages = a.lazy_pages;
            o
        }
    }
}

#[derive(Args, Debug)]
pub struct CheckpointArgs {
    #[command(flatten)]
    pub criu: CriuArgs,
    /// The images of a previous pre-dump
    #[arg(long = "parent-path")]
    pub parent_path: Option<PathBuf>,
    /// Leave the container running
    #[arg(long = "leave-running")]
    pub leave_running: bool,
    /// CRIU writes \0 to this descriptor once lazy pages are ready
    #[arg(long = "status-fd")]
    pub status_fd: Option<i32>,
    /// ADDRESS:PORT of a page server
    #[arg(long = "page-server")]
    pub page_server: Option<String>,
    /// Dump the memory only, and leave the container running
    #[arg(long = "pre-dump")]
    pub pre_dump: bool,
    pub id: String,
}

#[derive(Args, Debug)]
pub struct RestoreArgs {
    #[command(flatten)]
    pub criu: CriuArgs,
    /// Unix socket that receives the terminal's master side
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Bundle directory
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// Return once the container runs
    #[arg(short, long)]
    pub detach: bool,
    /// File to write the container's PID to
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Accepted for compatibility
    #[arg(long = "no-subreaper")]
    pub no_subreaper: bool,
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// LSM profile of the restored process (apparmor:NAME or selinux:LABEL)
    #[arg(long = "lsm-profile")]
    pub lsm_profile: Option<String>,
    /// SELinux mount context
    #[arg(long = "lsm-mount-context")]
    pub lsm_mount_context: Option<String>,
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
    /// Send a signal (default SIGTERM; 0 checks that it lives) to the container's process
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
    /// The container's processes, as ps(1) shows them (ps options after the ID)
    Ps {
        /// table or json (the PIDs)
        #[arg(short, long, default_value = "table", value_parser = ["table", "json"])]
        format: String,
        id: String,
        /// Options for ps(1) (default -ef)
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        ps_args: Vec<String>,
    },
    /// List containers
    List {
        #[arg(short, long, default_value = "table", value_parser = ["table", "json"])]
        format: String,
        #[arg(short, long)]
        quiet: bool,
    },
    /// Freeze every process of a container
    Pause { id: String },
    /// Thaw a paused container
    Resume { id: String },
    /// Change a running container's resource limits
    Update(Box<UpdateArgs>),
    /// Stream a container's events: stats every --interval, and OOM kills (--stats: one stats event)
    Events {
        #[arg(long)]
        stats: bool,
        #[arg(long, default_value = "5s")]
        interval: String,
        id: String,
    },
    /// What this runtime supports, as JSON
    Features,
    /// Write a starting config.json (what `runc spec` writes)
    Spec {
        #[arg(short, long, default_value = ".")]
        bundle: PathBuf,
        #[arg(long)]
        rootless: bool,
    },
    /// Checkpoint a running container with CRIU
    Checkpoint(Box<CheckpointArgs>),
    /// Restore a container from a CRIU checkpoint
    Restore(Box<RestoreArgs>),
    /// The version (as --version)
    #[command(hide = true)]
    Version,
}

fn parse_signal(s: Option<&str>) -> Result<Option<rrun::Signal>, OciError> {
    let s = s.unwrap_or("SIGTERM");
    if s.trim() == "0" {
        return Ok(None);
    }
    s.parse::<rrun::Signal>().map(Some).map_err(|_| OciError::Invalid(format!("unknown signal {s:?}")))
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
    let log = LogConfig { file: cli.log.clone(), json: cli.log_format == "json" };
    crate::cli::logrus::init(log.clone(), cli.debug);
    if cli.version {
        println!("{}", version_text());
        return 0;
    }
    let Some(command) = cli.command else {
        let _ = OciCli::command().print_help();
        return 0;
    };
    let runtime = Runtime::new(cli.root.clone().unwrap_or_else(Runtime::default_root), cli.systemd_cgroup);
    // runc's exec reports its own failures with 255 (the process's code is 0..255 otherwise)
    let (prefix, failed) = match &command {
        OciCommand::Exec(_) => ("exec failed: ", 255),
        _ => ("", 1),
    };
    match run(&runtime, command, &cli.criu) {
        Ok(code) => code,
        Err(e) => {
            log.error(&format!("{prefix}{e}"));
            if failed == 1 {
                e.exit_code()
            } else {
                failed
            }
        }
    }
}

fn create_options(a: CreateArgs) -> (String, CreateOptions) {
    (a.id, {
        let mut o = CreateOptions::default();
        o.bundle = a.bundle;
        o.pid_file = a.pid_file;
        o.console_socket = a.console_socket;
        o.no_pivot = a.no_pivot;
        o.no_new_keyring = a.no_new_keyring;
        o.preserve_fds = a.preserve_fds;
        o
    })
}

fn run(rt: &Runtime, cmd: OciCommand, criu: &Path) -> Result<i32, OciError> {
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
        OciCommand::Ps { format, id, ps_args } => {
            if format == "json" {
                println!("{}", serde_json::to_string(&rt.pids(&id)?).expect("serializes"));
            } else {
                print!("{}", rt.ps_table(&id, &ps_args)?);
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
        OciCommand::Update(a) => update(rt, *a)?,
        OciCommand::Events { stats, interval, id } => {
            let every = parse_interval(&interval)?;
            if stats {
                println!("{}", serde_json::to_string(&rt.stats(&id)?).expect("serializes"));
            } else {
                rt.events(&id, every, &mut |ev| {
                    println!("{}", serde_json::to_string(ev).expect("serializes"));
                })?;
            }
        }
        OciCommand::Features => {
            println!("{}", serde_json::to_string_pretty(&rrun::oci::features()).expect("serializes"))
        }
        OciCommand::Spec { bundle, rootless } => {
            let path = bundle.join("config.json");
            if path.exists() {
                return Err(OciError::Invalid(format!("File {} exists. Remove it first", path.display())));
            }
            let text = rrun::oci::default_spec_text(rootless);
            std::fs::write(&path, text).map_err(|source| OciError::Io { path, source })?;
        }
        OciCommand::Checkpoint(a) => {
            let a = *a;
            rt.checkpoint(&a.id, criu, &{
                let mut o = CheckpointOptions::default();
                o.criu = a.criu.into();
                o.parent_path = a.parent_path;
                o.leave_running = a.leave_running;
                o.status_fd = a.status_fd;
                o.page_server = a.page_server;
                o.pre_dump = a.pre_dump;
                o
            })?;
        }
        OciCommand::Restore(a) => {
            let a = *a;
            return rt.restore(&a.id, criu, &{
                let mut o = RestoreOptions::default();
                o.criu = a.criu.into();
                o.bundle = a.bundle;
                o.pid_file = a.pid_file;
                o.console_socket = a.console_socket;
                o.detach = a.detach;
                o.no_pivot = a.no_pivot;
                o.lsm_profile = a.lsm_profile;
                o.lsm_mount_context = a.lsm_mount_context;
                o
            });
        }
        OciCommand::Version => println!("{}", version_text()),
    }
    Ok(0)
}

fn parse_interval(s: &str) -> Result<std::time::Duration, OciError> {
    let bad = || OciError::Invalid(format!("invalid --interval {s:?}: expected e.g. 5s or 500ms"));
    let (num, unit) = s.find(|c: char| !c.is_ascii_digit()).map(|i| s.split_at(i)).unwrap_or((s, "s"));
    let n: u64 = num.parse().map_err(|_| bad())?;
    let d = match unit {
        "ms" => std::time::Duration::from_millis(n),
        "s" => std::time::Duration::from_secs(n),
        "m" => std::time::Duration::from_secs(n * 60),
        _ => return Err(bad()),
    };
    if d.is_zero() {
        return Err(OciError::Invalid(format!("invalid --interval {s:?}: must be above zero")));
    }
    Ok(d)
}

/// A process.json: runc's defaults for what it leaves out (the user: root).
fn read_process(path: &Path) -> Result<oci_spec::runtime::Process, OciError> {
    let bytes = std::fs::read(path).map_err(|source| OciError::Io { path: path.to_path_buf(), source })?;
    let bad = |e: serde_json::Error| OciError::Config {
        path: path.to_path_buf(),
        reason: format!("invalid process.json: {e}"),
    };
    let mut v: serde_json::Value = serde_json::from_slice(&bytes).map_err(bad)?;
    if let Some(o) = v.as_object_mut() {
        o.entry("user").or_insert_with(|| serde_json::json!({ "uid": 0, "gid": 0 }));
        o.entry("cwd").or_insert_with(|| serde_json::json!("/"));
    }
    serde_json::from_value(v).map_err(bad)
}

fn exec(rt: &Runtime, a: ExecArgs) -> Result<i32, OciError> {
    let mut process = match &a.process {
        Some(path) => read_process(path)?,
        None => rt.exec_process(&a.id, &{
            let mut o = rrun::oci::ProcessOverrides::default();
            o.args = a.command.clone();
            o.cwd = a.cwd.clone();
            o.env = a.env.clone();
            o.user = a.user.clone();
            o.additional_gids = a.additional_gids.clone();
            o.caps = a.cap.clone();
            o.no_new_privs = a.no_new_privs;
            o.tty = a.tty;
            o
        })?,
    };
    if let Some(p) = a.apparmor {
        process.set_apparmor_profile(Some(p));
    }
    if let Some(l) = a.process_label {
        process.set_selinux_label(Some(l));
    }
    rt.exec(&a.id, &{
        let mut o = ExecOptions::default();
        o.process = process;
        o.console_socket = a.console_socket;
        o.pid_file = a.pid_file;
        o.detach = a.detach;
        o.preserve_fds = a.preserve_fds;
        o.ignore_paused = a.ignore_paused;
        o.cgroup = a.cgroup;
        o
    })
}

/// Why `update --l3-cache-schema`/`--mem-bw-schema` is refused here.
fn intel_rdt_refusal() -> String {
    if Path::new("/sys/fs/resctrl/schemata").exists() {
        "linux.intelRdt: rrun does not set up Intel RDT (resctrl) groups; remove it from the config".into()
    } else {
        "linux.intelRdt: this host has no resctrl filesystem at /sys/fs/resctrl (Intel RDT is not available)".into()
    }
}

/// A size flag of `update`: bytes with an optional suffix, or -1 (unlimited).
fn size(flag: &str, v: &Option<String>) -> Result<Option<i64>, OciError> {
    match v.as_deref().map(str::trim) {
        None => Ok(None),
        Some("-1") => Ok(Some(-1)),
        Some(v) => Ok(Some(rrun::parse_bytes(flag, v)?)),
    }
}

fn update(rt: &Runtime, a: UpdateArgs) -> Result<(), OciError> {
    use oci_spec::runtime::{
        LinuxBlockIoBuilder, LinuxCpuBuilder, LinuxMemoryBuilder, LinuxPidsBuilder, LinuxResources,
    };
    let invalid = |e: oci_spec::OciSpecError| OciError::Invalid(e.to_string());
    if a.l3_cache_schema.is_some() || a.mem_bw_schema.is_some() {
        return Err(OciError::Invalid(intel_rdt_refusal()));
    }
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
            let bad =
                |e: serde_json::Error| OciError::Config { path: p.clone(), reason: format!("invalid resources: {e}") };
            serde_json::from_slice(&bytes).map_err(bad)?
        }
        None => LinuxResources::default(),
    };
    let (memory, swap, reservation, kernel, kernel_tcp) = (
        size("--memory", &a.memory)?,
        size("--memory-swap", &a.memory_swap)?,
        size("--memory-reservation", &a.memory_reservation)?,
        size("--kernel-memory", &a.kernel_memory)?,
        size("--kernel-memory-tcp", &a.kernel_memory_tcp)?,
    );
    if memory.is_some() || swap.is_some() || reservation.is_some() || kernel.is_some() || kernel_tcp.is_some() {
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
        if let Some(v) = kernel {
            m = m.kernel(v);
        }
        if let Some(v) = kernel_tcp {
            m = m.kernel_tcp(v);
        }
        res.set_memory(Some(m.build().map_err(invalid)?));
    }
    if a.cpu_quota.is_some()
        || a.cpu_period.is_some()
        || a.cpu_share.is_some()
        || a.cpuset_cpus.is_some()
        || a.cpuset_mems.is_some()
        || a.cpu_rt_period.is_some()
        || a.cpu_rt_runtime.is_some()
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
        if let Some(v) = a.cpu_rt_period {
            c = c.realtime_period(v);
        }
        if let Some(v) = a.cpu_rt_runtime {
            c = c.realtime_runtime(v);
        }
        res.set_cpu(Some(c.build().map_err(invalid)?));
    }
    if let Some(p) = a.pids_limit {
        res.set_pids(Some(LinuxPidsBuilder::default().limit(p).build().map_err(invalid)?));
    }
    if let Some(w) = a.blkio_weight {
        if !(10..=1000).contains(&w) {
            return Err(OciError::Invalid(format!("--blkio-weight {w}: the weight is 10 to 1000")));
        }
        res.set_block_io(Some(LinuxBlockIoBuilder::default().weight(w).build().map_err(invalid)?));
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
