//! Container commands: `ps`, `rm`, `start`, `stop`, `kill`, `pause`,
//! `unpause`, `logs`, `exec`, `stats`, `inspect`, `container prune`,
//! `attach`, `wait`, `restart`, `rename`, `top`, `port`, `update`,
//! `events`, `healthcheck run`.

use super::filter::ListingFilters;
use super::format;
use clap::{Args, Subcommand};
use rrun::HealthStatus;
use rrun::LogEntry;
use rrun::{AttachOptions, ContainerRecord, Error, ExecOptions, LogOptions, Rrun, Status};
use std::io::Write;
use std::time::Duration;

#[derive(Args, Debug)]
pub struct PsArgs {
    /// Show all containers, not only running ones
    #[arg(short, long)]
    pub all: bool,
    /// Only show IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Output: table, json, a Go template ('{{.ID}} {{.Names}}'), or 'table TEMPLATE'
    #[arg(long)]
    pub format: Option<String>,
    /// Only containers that match: id=, name=, label=KEY[=VALUE], status=, exited=, ancestor=, before=, since=, health=
    #[arg(short, long)]
    pub filter: Vec<String>,
    /// Full IDs and commands
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Show the size of each container's writable layer and of its whole root filesystem
    #[arg(short, long)]
    pub size: bool,
    /// The N most recently created containers, in any state
    #[arg(short = 'n', long)]
    pub last: Option<usize>,
    /// The most recently created container, in any state
    #[arg(short, long)]
    pub latest: bool,
}

/// One row of `ps`, with the field names docker's `--format` templates use.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct PsRow {
    #[serde(rename = "ID")]
    id: String,
    image: String,
    command: String,
    created_at: String,
    running_for: String,
    ports: String,
    state: String,
    status: String,
    size: String,
    names: String,
    labels: String,
    mounts: String,
    networks: String,
}

#[derive(Args, Debug)]
pub struct RmArgs {
    /// Kill running containers before removing them
    #[arg(short, long)]
    pub force: bool,
    /// Remove the containers' anonymous volumes too
    #[arg(short, long)]
    pub volumes: bool,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct StartArgs {
    /// Attach to its output (and exit with its exit code)
    #[arg(short, long)]
    pub attach: bool,
    /// Attach its stdin too
    #[arg(short, long)]
    pub interactive: bool,
    /// Keys that detach from the container, leaving it running (default ctrl-p,ctrl-q)
    #[arg(long = "detach-keys")]
    pub detach_keys: Option<String>,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct AttachArgs {
    /// Keys that detach from the container, leaving it running (default ctrl-p,ctrl-q)
    #[arg(long = "detach-keys")]
    pub detach_keys: Option<String>,
    /// Do not attach stdin
    #[arg(long = "no-stdin")]
    pub no_stdin: bool,
    /// Pass the signals rrun receives on to the container (without a terminal)
    #[arg(long = "sig-proxy", default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1,
          default_missing_value = "true", require_equals = true)]
    pub sig_proxy: bool,
    pub container: String,
}

/// A number of seconds (`stop -t`, `restart -t`): a negative one is a value, and out of range.
pub(crate) fn seconds(s: &str) -> Result<u64, String> {
    match s.trim().parse::<i64>() {
        Ok(n) if n < 0 => Err(format!("{n} is out of range: expected 0 or more seconds")),
        Ok(n) => Ok(n as u64),
        Err(_) => Err(format!("{s:?} is not a number of seconds")),
    }
}

#[derive(Args, Debug)]
pub struct RestartArgs {
    /// Seconds to wait after the stop signal before killing
    #[arg(short = 't', long = "time", alias = "timeout", default_value_t = 10, allow_negative_numbers = true,
          value_parser = seconds)]
    pub time: u64,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RenameArgs {
    pub container: String,
    pub new_name: String,
}

#[derive(Args, Debug)]
#[command(disable_help_flag = true)]
pub struct TopArgs {
    /// Print help
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// The container, then `ps` options (default -ef)
    #[arg(value_name = "CONTAINER [ps OPTIONS]", required = true, num_args = 1.., trailing_var_arg = true, allow_hyphen_values = true)]
    pub container_and_options: Vec<String>,
}

#[derive(Args, Debug)]
pub struct PortArgs {
    pub container: String,
    /// PRIVATE_PORT[/PROTO]: only where this port is published
    pub port: Option<String>,
}

#[derive(Args, Debug)]
pub struct UpdateArgs {
    #[command(flatten)]
    pub resources: super::run::ResourceFlags,
    /// Restart policy: no, on-failure[:N], always, unless-stopped
    #[arg(long)]
    pub restart: Option<String>,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct EventsArgs {
    /// Show events since this time (RFC 3339, Unix time, or a duration like 10m before now)
    #[arg(long)]
    pub since: Option<String>,
    /// Stop at this time (same forms as --since)
    #[arg(long)]
    pub until: Option<String>,
    /// container=NAME|ID, event=ACTION, image=NAME|ID, type=container|image, label=K[=V]
    #[arg(short, long)]
    pub filter: Vec<String>,
    /// Output format: json (one object per line)
    #[arg(long)]
    pub format: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum HealthcheckCommand {
    /// Run a container's health check now: exit 0 if healthy, 1 if not
    Run { container: String },
}

#[derive(Args, Debug)]
pub struct StopArgs {
    /// Seconds to wait after the stop signal before killing (default: the container's --stop-timeout, else 10)
    #[arg(short = 't', long = "time", alias = "timeout", allow_negative_numbers = true, value_parser = seconds)]
    pub time: Option<u64>,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct KillArgs {
    /// Signal to send (name or number)
    #[arg(short, long)]
    pub signal: Option<String>,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct NamesArgs {
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct LogsArgs {
    /// Follow the log until the container exits
    #[arg(short, long)]
    pub follow: bool,
    /// Only the last N lines ("all" for every line)
    #[arg(short = 'n', long, default_value = "all", allow_negative_numbers = true)]
    pub tail: String,
    /// Show timestamps
    #[arg(short, long)]
    pub timestamps: bool,
    pub container: String,
}

#[derive(Args, Debug)]
#[command(disable_help_flag = true)]
pub struct ExecArgs {
    /// Print help
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// Keep stdin open
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a pseudo-terminal
    #[arg(short, long)]
    pub tty: bool,
    /// Run in the background
    #[arg(short, long)]
    pub detach: bool,
    /// Set an environment variable (K=V, or K to take the host's value)
    #[arg(short, long = "env")]
    pub env: Vec<String>,
    /// User: name|uid[:group|gid]
    #[arg(short, long)]
    pub user: Option<String>,
    /// Working directory inside the container
    #[arg(short, long)]
    pub workdir: Option<String>,
    #[command(flatten)]
    pub explain: super::explain::ExplainArg,
    /// The container, then the command and its arguments (everything after the
    /// container belongs to the command, flags included)
    #[arg(value_name = "CONTAINER COMMAND [ARG...]", required = true, num_args = 2.., trailing_var_arg = true, allow_hyphen_values = true)]
    pub container_and_command: Vec<String>,
}

#[derive(Args, Debug)]
pub struct StatsArgs {
    /// Print one sample and exit
    #[arg(long = "no-stream")]
    pub no_stream: bool,
    /// Output: table, json, a Go template ('{{.Name}} {{.MemUsage}}'), or 'table TEMPLATE'
    #[arg(long)]
    pub format: Option<String>,
    /// Containers (default: every running one)
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Only this kind of object: container or image (default: a container, else an image)
    #[arg(long = "type")]
    pub kind: Option<String>,
    /// Output: json (the default), or a Go template ('{{.State.Pid}}')
    #[arg(short, long)]
    pub format: Option<String>,
    #[arg(required = true)]
    pub names: Vec<String>,
}

/// `rrun container VERB`: Docker's container group, the same commands as at the top level.
#[derive(Subcommand, Debug)]
pub enum ContainerCommand {
    /// Attach to a running detached container
    Attach(AttachArgs),
    /// Make a new image from a container's changes
    Commit(super::fs::CommitArgs),
    /// Copy files between a container and the host
    Cp(super::fs::CpArgs),
    /// Create a container (not started)
    Create(Box<super::run::RunArgs>),
    /// Files a container added, changed or deleted
    Diff(super::fs::DiffArgs),
    /// Run a command in a running container
    Exec(ExecArgs),
    /// Write a container's root filesystem as a tar archive
    Export(super::fs::ExportArgs),
    /// Everything known about containers
    Inspect(ContainerInspectArgs),
    /// Send a signal to containers
    Kill(KillArgs),
    /// Show a container's output
    Logs(LogsArgs),
    /// List containers
    #[command(visible_aliases = ["list", "ps"])]
    Ls(PsArgs),
    /// Freeze every process of containers
    Pause(NamesArgs),
    /// A container's published ports
    Port(PortArgs),
    /// Remove every stopped container
    Prune(PruneArgs),
    /// Rename a container
    Rename(RenameArgs),
    /// Stop and start containers again
    Restart(RestartArgs),
    /// Remove containers
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    /// Run a command in a new container
    Run(Box<super::run::RunArgs>),
    /// Start created or stopped containers
    Start(StartArgs),
    /// CPU, memory and process counts of running containers
    Stats(StatsArgs),
    /// Stop running containers
    Stop(StopArgs),
    /// The processes of a container
    Top(TopArgs),
    /// Thaw paused containers
    Unpause(NamesArgs),
    /// Change the resource limits or restart policy of containers
    Update(UpdateArgs),
    /// Block until containers stop, then print their exit codes
    Wait(NamesArgs),
}

/// `container inspect`: like `inspect --type container`.
#[derive(Args, Debug)]
pub struct ContainerInspectArgs {
    /// Output: json (the default), or a Go template ('{{.State.Pid}}')
    #[arg(short, long)]
    pub format: Option<String>,
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Do not ask for confirmation
    #[arg(short, long)]
    pub force: bool,
}

impl ContainerCommand {
    /// The `--explain` of `container run|create|exec`.
    pub fn explain(&self) -> Option<&str> {
        match self {
            ContainerCommand::Run(a) | ContainerCommand::Create(a) => a.explain.explain.as_deref(),
            ContainerCommand::Exec(a) => a.explain.explain.as_deref(),
            _ => None,
        }
    }

    /// The top-level command this is (`container ls` is `ps`); `Err` holds the
    /// group's own verb, `prune`, which has no top-level twin.
    pub fn into_command(self) -> Result<super::Command, PruneArgs> {
        use super::Command as C;
        Ok(match self {
            ContainerCommand::Attach(a) => C::Attach(a),
            ContainerCommand::Commit(a) => C::Commit(a),
            ContainerCommand::Cp(a) => C::Cp(a),
            ContainerCommand::Create(a) => C::Create(a),
            ContainerCommand::Diff(a) => C::Diff(a),
            ContainerCommand::Exec(a) => C::Exec(a),
            ContainerCommand::Export(a) => C::Export(a),
            ContainerCommand::Inspect(a) => {
                C::Inspect(InspectArgs { kind: Some("container".into()), format: a.format, names: a.names })
            }
            ContainerCommand::Kill(a) => C::Kill(a),
            ContainerCommand::Logs(a) => C::Logs(a),
            ContainerCommand::Ls(a) => C::Ps(a),
            ContainerCommand::Pause(a) => C::Pause(a),
            ContainerCommand::Port(a) => C::Port(a),
            ContainerCommand::Prune(a) => return Err(a),
            ContainerCommand::Rename(a) => C::Rename(a),
            ContainerCommand::Restart(a) => C::Restart(a),
            ContainerCommand::Rm(a) => C::Rm(a),
            ContainerCommand::Run(a) => C::Run(a),
            ContainerCommand::Start(a) => C::Start(a),
            ContainerCommand::Stats(a) => C::Stats(a),
            ContainerCommand::Stop(a) => C::Stop(a),
            ContainerCommand::Top(a) => C::Top(a),
            ContainerCommand::Unpause(a) => C::Unpause(a),
            ContainerCommand::Update(a) => C::Update(a),
            ContainerCommand::Wait(a) => C::Wait(a),
        })
    }
}

fn status_text(c: &ContainerRecord) -> String {
    let health = match c.health.as_ref().map(|h| h.status) {
        Some(HealthStatus::Starting) => " (health: starting)",
        Some(HealthStatus::Healthy) => " (healthy)",
        Some(HealthStatus::Unhealthy) => " (unhealthy)",
        None => "",
    };
    match c.status {
        Status::Created => "Created".to_string(),
        Status::Running => format!("Up {}{health}", format::age(c.started_at.as_deref())),
        Status::Paused => format!("Up {} (Paused)", format::age(c.started_at.as_deref())),
        Status::Exited => format!(
            "Exited ({}) {} ago",
            c.exit_code.map(|e| e.to_string()).unwrap_or_else(|| "unknown".into()),
            format::age(c.finished_at.as_deref().or(c.started_at.as_deref()))
        ),
        _ => format!("{:?}", c.status),
    }
}

pub fn ps(rrun: &Rrun, a: PsArgs) -> Result<i32, Error> {
    let format = match super::format::Format::parse(a.format.as_deref()) {
        Ok(f) => f,
        Err(e) => return Ok(e.report()),
    };
    let filters = rrun::Filters::parse(&a.filter, super::filter::CONTAINER_KEYS)?;
    filters.validate_container()?;
    let all_records = rrun.containers()?;
    let created_of = |n: &str| {
        all_records.iter().find(|c| c.name == n || (n.len() >= 3 && c.id.starts_with(n))).map(|c| c.created.clone())
    };
    let mut list: Vec<&ContainerRecord> = Vec::new();
    let everything = a.all || a.last.is_some() || a.latest || !filters.is_empty();
    for c in &all_records {
        let is_ancestor = |image: &str| {
            c.image == image
                || rrun.image(image).is_ok_and(|i| i.manifest == c.image_manifest || i.config == c.image_id)
        };
        let labels = |k: &str| c.labels.get(k).map(String::as_str);
        let facts = super::filter::ContainerFacts {
            labels: &labels,
            health: "none",
            is_ancestor: &is_ancestor,
            created_of: &created_of,
        };
        if (everything || c.is_running()) && filters.container_matches(c, &facts) {
            list.push(c);
        }
    }
    // newest first (the store lists them so); -n/-l keep the newest
    if let Some(n) = a.last.or(a.latest.then_some(1)) {
        list.truncate(n);
    }
    if let super::format::Format::Json = format {
        println!("{}", serde_json::to_string_pretty(&list).expect("serializes"));
        return Ok(0);
    }
    if a.quiet {
        list.iter().for_each(|c| println!("{}", if a.no_trunc { &c.id[..] } else { &c.id[..12] }));
        return Ok(0);
    }
    let mut rows = Vec::with_capacity(list.len());
    for c in list {
        // docker's ellipsis at 20 characters, then quoted
        let mut command = c.command.join(" ");
        if !a.no_trunc && command.chars().count() > 20 {
            command = command.chars().take(19).collect::<String>() + "…";
        }
        let command = format!("\"{command}\"");
        let size = if a.size {
            let s = rrun.container_size(c)?;
            format!("{} (virtual {})", format::size(s.writable), format::size(s.root_fs))
        } else {
            String::new()
        };
        rows.push(PsRow {
            id: if a.no_trunc { c.id.clone() } else { c.id[..12].to_string() },
            image: c.image.clone(),
            command,
            created_at: c.created.clone(),
            running_for: format!("{} ago", format::age(Some(&c.created))),
            ports: ports_column(&c.ports),
            state: status_word(c.status).to_string(),
            status: status_text(c),
            size,
            names: c.name.clone(),
            labels: c.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
            mounts: c.volumes.iter().map(|v| v.name.as_str()).collect::<Vec<_>>().join(","),
            networks: networks_column(c),
        });
    }
    let mut columns = vec![
        ("ID", "CONTAINER ID"),
        ("Image", "IMAGE"),
        ("Command", "COMMAND"),
        ("RunningFor", "CREATED"),
        ("Status", "STATUS"),
        ("Ports", "PORTS"),
        ("Names", "NAMES"),
    ];
    if a.size {
        columns.push(("Size", "SIZE"));
    }
    if let Err(e) = format::print_rows(&format, &rows, &columns) {
        return Ok(e.report());
    }
    Ok(0)
}

/// `ps`' PORTS: `127.0.0.1:8080->80/tcp, 0.0.0.0:32768->53/udp`, while it runs.
fn ports_column(ports: &[rrun::PortMapping]) -> String {
    ports
        .iter()
        .map(|p| {
            let ip = if p.host_ip.contains(':') { format!("[{}]", p.host_ip) } else { p.host_ip.clone() };
            format!("{ip}:{}->{}/{}", p.host_port, p.container_port, p.protocol)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `ps`' NETWORKS: the networks it joins, or its mode (`host`, `none`, `container:…`).
fn networks_column(c: &rrun::ContainerRecord) -> String {
    match c.network.mode.as_str() {
        "bridge" => c.network.networks.iter().map(|a| a.name.as_str()).collect::<Vec<_>>().join(","),
        "" => "host".into(),
        m => m.to_string(),
    }
}

/// Docker's one-word state of a container.
fn status_word(s: Status) -> &'static str {
    match s {
        Status::Created => "created",
        Status::Running => "running",
        Status::Paused => "paused",
        Status::Exited => "exited",
        _ => "unknown",
    }
}

/// Applies `f` to each named container, printing what it returns on
/// success (the name, for most commands) and the error otherwise, as docker
/// does; exit code 125 if any failed.
fn each_printing(names: &[String], mut f: impl FnMut(&str) -> Result<String, Error>) -> Result<i32, Error> {
    let mut code = 0;
    for n in names {
        match f(n) {
            Ok(line) => println!("{line}"),
            Err(e) => {
                eprintln!("rrun: {}", super::message(&e));
                code = 125;
            }
        }
    }
    Ok(code)
}

/// [`each_printing`] that prints each container's name as given.
fn each(names: &[String], mut f: impl FnMut(&str) -> Result<(), Error>) -> Result<i32, Error> {
    each_printing(names, |n| f(n).map(|()| n.to_string()))
}

pub fn rm(rrun: &Rrun, a: RmArgs) -> Result<i32, Error> {
    each(&a.containers, |c| rrun.remove_container_with(c, a.force, a.volumes).map(drop))
}

pub fn start(rrun: &Rrun, a: StartArgs) -> Result<i32, Error> {
    if a.attach || a.interactive {
        let [one] = a.containers.as_slice() else {
            eprintln!("rrun: you cannot start and attach multiple containers at once");
            return Ok(125);
        };
        let mut opts = AttachOptions::default();
        opts.stdin = a.interactive;
        opts.detach_keys = a.detach_keys.filter(|k| !k.is_empty());
        opts.sig_proxy = true;
        opts.close_stdin_at_eof = true;
        return rrun.start_attached(one, &opts);
    }
    each(&a.containers, |c| rrun.start(c).map(drop))
}

pub fn attach(rrun: &Rrun, a: AttachArgs) -> Result<i32, Error> {
    let mut opts = AttachOptions::default();
    opts.stdin = !a.no_stdin;
    opts.detach_keys = a.detach_keys.filter(|k| !k.is_empty());
    opts.sig_proxy = a.sig_proxy;
    opts.close_stdin_at_eof = false;
    rrun.attach(&a.container, &opts)
}

pub fn wait(rrun: &Rrun, a: NamesArgs) -> Result<i32, Error> {
    each_printing(&a.containers, |c| rrun.wait(c).map(|code| code.to_string()))
}

pub fn restart(rrun: &Rrun, a: RestartArgs) -> Result<i32, Error> {
    each(&a.containers, |c| rrun.restart(c, Duration::from_secs(a.time)).map(drop))
}

pub fn rename(rrun: &Rrun, a: RenameArgs) -> Result<i32, Error> {
    rrun.rename(&a.container, &a.new_name)?;
    Ok(0)
}

pub fn top(rrun: &Rrun, a: TopArgs) -> Result<i32, Error> {
    let (container, ps_args) = a.container_and_options.split_first().expect("clap requires the container");
    if let Err(e) = super::run::check_first_positional("container", container) {
        return Ok(e.report());
    }
    let t = rrun.top(container, ps_args)?;
    // docker's layout: columns at least 20 wide, 3 spaces apart
    let widths: Vec<usize> = (0..t.titles.len())
        .map(|i| {
            let longest = std::iter::once(&t.titles)
                .chain(&t.processes)
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .max();
            (longest.unwrap_or(0) + 3).max(20)
        })
        .collect();
    let mut out = String::new();
    for row in std::iter::once(&t.titles).chain(&t.processes) {
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}", w = widths[i]));
            }
        }
        out.push('\n');
    }
    print!("{out}");
    Ok(0)
}

pub fn port(rrun: &Rrun, a: PortArgs) -> Result<i32, Error> {
    let ports = rrun.ports(&a.container)?;
    let host = |p: &rrun::PortMapping| {
        if p.host_ip.contains(':') {
            format!("[{}]:{}", p.host_ip, p.host_port)
        } else {
            format!("{}:{}", p.host_ip, p.host_port)
        }
    };
    let Some(want) = &a.port else {
        for p in &ports {
            println!("{}/{} -> {}", p.container_port, p.protocol, host(p));
        }
        return Ok(0);
    };
    let (num, proto) = want.split_once('/').unwrap_or((want.as_str(), "tcp"));
    let Ok(num) = num.parse::<u16>() else {
        return Ok(super::UsageError(format!("invalid port {want:?}: expected PRIVATE_PORT[/PROTO]")).report());
    };
    let found: Vec<_> = ports.iter().filter(|p| p.container_port == num && p.protocol == proto).collect();
    if found.is_empty() {
        return Err(Error::NoPublicPort { port: format!("{num}/{proto}"), container: a.container });
    }
    found.iter().for_each(|p| println!("{}", host(p)));
    Ok(0)
}

pub fn update(rrun: &Rrun, a: UpdateArgs) -> Result<i32, Error> {
    if !a.resources.any() && a.restart.is_none() {
        return Ok(super::UsageError("you must provide one or more flags when using this command".into()).report());
    }
    let mut opts = rrun::UpdateOptions::default();
    opts.limits = a.resources.limits()?;
    opts.restart = a
        .restart
        .as_deref()
        .map(str::parse::<rrun::RestartPolicy>)
        .transpose()
        .map_err(|e| Error::Spec(rrun::SpecError::Restart(e)))?;
    each(&a.containers, |c| rrun.update_container(c, &opts).map(drop))
}

/// Docker's event line: local time with nanoseconds, type, action, ID, attributes.
fn event_line(e: &rrun::Event) -> String {
    use chrono::TimeZone;
    let t = chrono::Local.timestamp_nanos(e.time_nano);
    let zone = if t.offset().local_minus_utc() == 0 { "Z".to_string() } else { t.format("%:z").to_string() };
    let mut line = format!("{}{zone} {} {} {}", t.format("%Y-%m-%dT%H:%M:%S%.9f"), e.typ, e.action, e.actor.id);
    if !e.actor.attributes.is_empty() {
        let attrs: Vec<String> = e.actor.attributes.iter().map(|(k, v)| format!("{k}={v}")).collect();
        line.push_str(&format!(" ({})", attrs.join(", ")));
    }
    line
}

pub fn events(rrun: &Rrun, a: EventsArgs) -> Result<i32, Error> {
    let now = super::parse::now_ns();
    let time = |flag: &str, v: &Option<String>| -> Result<Option<i64>, super::UsageError> {
        v.as_deref()
            .map(|v| super::parse::parse_timestamp(v, now).map_err(|e| super::UsageError(format!("{flag}: {e}"))))
            .transpose()
    };
    let (since, until) = match (time("--since", &a.since), time("--until", &a.until)) {
        (Ok(s), Ok(u)) => (s, u),
        (Err(e), _) | (_, Err(e)) => return Ok(e.report()),
    };
    let filter = rrun::EventFilter::parse(&a.filter)?;
    let format = match format::Format::parse(a.format.as_deref()) {
        Ok(f) => f,
        Err(e) => return Ok(e.report()),
    };
    let mut out = std::io::stdout().lock();
    let mut failed = None;
    let mut opts = rrun::EventOptions::default();
    (opts.since, opts.until, opts.filter) = (since, until, filter);
    rrun.events(&opts, &mut |e| {
        let line = match &format {
            format::Format::Default => event_line(e),
            format::Format::Json => serde_json::to_string(e).expect("events serialize"),
            format::Format::Template { template, .. } => match format::Format::render(template, e) {
                Ok(l) => l,
                Err(err) => {
                    failed = Some(err);
                    return false;
                }
            },
        };
        // a reader that went away ends the stream
        writeln!(out, "{line}").and_then(|_| out.flush()).is_ok()
    })?;
    Ok(failed.map_or(0, |e| e.report()))
}

pub fn healthcheck(rrun: &Rrun, c: HealthcheckCommand) -> Result<i32, Error> {
    match c {
        HealthcheckCommand::Run { container } => {
            if rrun.healthcheck_run(&container)? {
                Ok(0)
            } else {
                println!("unhealthy");
                Ok(1)
            }
        }
    }
}

pub fn stop(rrun: &Rrun, a: StopArgs) -> Result<i32, Error> {
    each(&a.containers, |c| rrun.stop_with(c, a.time.map(Duration::from_secs)).map(drop))
}

pub fn kill(rrun: &Rrun, a: KillArgs) -> Result<i32, Error> {
    // an unknown signal is refused for each container, as Docker does
    let signal = a.signal.as_deref().map(|s| s.parse::<rrun::Signal>().map_err(|e| e.0));
    each(&a.containers, |c| match &signal {
        Some(Err(text)) => Err(Error::InvalidSignal(text.clone())),
        Some(Ok(s)) => rrun.kill(c, Some(*s)).map(drop),
        None => rrun.kill(c, None).map(drop),
    })
}

pub fn pause(rrun: &Rrun, a: NamesArgs) -> Result<i32, Error> {
    each(&a.containers, |c| rrun.pause(c).map(drop))
}

pub fn unpause(rrun: &Rrun, a: NamesArgs) -> Result<i32, Error> {
    each(&a.containers, |c| rrun.unpause(c).map(drop))
}

pub fn logs(rrun: &Rrun, a: LogsArgs) -> Result<i32, Error> {
    let tail = match a.tail.as_str() {
        "all" | "-1" => None,
        n => match n.parse() {
            Ok(n) => Some(n),
            Err(_) => {
                eprintln!("rrun: invalid --tail {n:?}: expected a number or \"all\"");
                return Ok(125);
            }
        },
    };
    let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
    let mut print = |e: &LogEntry| {
        let w: &mut dyn Write = match e.stream {
            rrun::Stream::Stdout => &mut out,
            rrun::Stream::Stderr => &mut err,
        };
        let _ = if a.timestamps { write!(w, "{} {}", e.time, e.log) } else { w.write_all(e.log.as_bytes()) };
        let _ = w.flush();
    };
    let mut opts = LogOptions::default();
    opts.follow = a.follow;
    opts.tail = tail;
    rrun.logs(&a.container, &opts, &mut print)?;
    Ok(0)
}

pub fn exec(rrun: &Rrun, a: ExecArgs) -> Result<i32, Error> {
    let (container, command) = a.container_and_command.split_first().expect("clap requires two values");
    if let Err(e) = super::run::check_first_positional("container", container) {
        return Ok(e.report());
    }
    let host_env = |k: &str| std::env::var(k).ok();
    let env = a.env.iter().map(|e| super::parse::expand_env(e, host_env)).collect::<Result<Vec<_>, _>>()?;
    let mut opts = ExecOptions::default();
    opts.command = command.to_vec();
    opts.env = env;
    opts.user = a.user;
    opts.workdir = a.workdir;
    opts.interactive = a.interactive;
    opts.tty = a.tty;
    opts.detach = a.detach;
    rrun.exec(container, &opts)
}

/// One row of `stats`, with the field names docker's `--format` templates use.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct StatsRow {
    container: String,
    #[serde(rename = "ID")]
    id: String,
    name: String,
    #[serde(rename = "CPUPerc")]
    cpu_perc: String,
    mem_usage: String,
    mem_perc: String,
    #[serde(rename = "PIDs")]
    pids: String,
}

pub fn stats(rrun: &Rrun, a: StatsArgs) -> Result<i32, Error> {
    let output = match format::Format::parse(a.format.as_deref()) {
        Ok(f) => f,
        Err(e) => return Ok(e.report()),
    };
    let names: Vec<String> = if a.containers.is_empty() {
        rrun.containers()?.into_iter().filter(|c| c.status == Status::Running).map(|c| c.id).collect()
    } else {
        a.containers.clone()
    };
    let tty = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let columns = [
        ("ID", "CONTAINER ID"),
        ("Name", "NAME"),
        ("CPUPerc", "CPU %"),
        ("MemUsage", "MEM USAGE / LIMIT"),
        ("MemPerc", "MEM %"),
        ("PIDs", "PIDS"),
    ];
    loop {
        let mut rows = Vec::new();
        let mut samples = Vec::new();
        for n in &names {
            // docker samples over about a second too
            let s = rrun.stats(n, Duration::from_millis(if a.no_stream { 500 } else { 1000 }))?;
            rows.push(StatsRow {
                container: n.clone(),
                id: s.id[..12].to_string(),
                name: s.name.clone(),
                cpu_perc: format!("{:.2}%", s.cpu_percent),
                mem_usage: format!("{} / {}", format::binary_size(s.memory_usage), format::binary_size(s.memory_limit)),
                mem_perc: format!("{:.2}%", s.memory_usage as f64 * 100.0 / s.memory_limit.max(1) as f64),
                pids: s.pids.to_string(),
            });
            samples.push(s);
        }
        if let format::Format::Json = output {
            println!("{}", serde_json::to_string_pretty(&samples).expect("serializes"));
        } else {
            if tty && !a.no_stream {
                print!("\x1b[2J\x1b[H");
            }
            if let Err(e) = format::print_rows(&output, &rows, &columns) {
                return Ok(e.report());
            }
        }
        if a.no_stream {
            return Ok(0);
        }
        if names.is_empty() {
            std::thread::sleep(Duration::from_secs(1));
        }
    }
}

pub fn inspect(rrun: &Rrun, a: InspectArgs) -> Result<i32, Error> {
    let kind = match a.kind.as_deref().map(str::parse::<rrun::ObjectType>).transpose() {
        Ok(k) => k,
        Err(e) => {
            eprintln!("rrun: {e}");
            return Ok(125);
        }
    };
    Ok(super::images::print_objects(&a.names, a.format.as_deref(), |n| rrun.inspect_object(n, kind).map(Shown::from)))
}

/// An inspected object as `inspect` prints it: a container's keys sorted (as
/// Docker's JSON has them), an image's in its type's order.
#[derive(serde::Serialize)]
#[serde(untagged)]
enum Shown {
    Container(serde_json::Value),
    Image(Box<rrun::ImageInspect>),
}

impl From<rrun::InspectObject> for Shown {
    fn from(o: rrun::InspectObject) -> Shown {
        match o {
            rrun::InspectObject::Container(c) => {
                Shown::Container(serde_json::to_value(c).expect("an inspected container serializes"))
            }
            rrun::InspectObject::Image(i) => Shown::Image(i),
            _ => unreachable!("inspect finds containers and images"),
        }
    }
}

/// `container prune`: every container that is not running, after Docker's question unless `-f`.
pub fn prune(rrun: &Rrun, a: PruneArgs) -> Result<i32, Error> {
    if !a.force && !super::images::confirm("WARNING! This will remove all stopped containers.") {
        return Ok(0);
    }
    let report = rrun.system_prune_containers()?;
    super::images::print_prune_report(&report);
    Ok(0)
}
