//! Container commands: `ps`, `rm`, `start`, `stop`, `kill`, `pause`,
//! `unpause`, `logs`, `exec`, `stats`, `inspect`, `container prune`.

use super::format;
use clap::{Args, Subcommand};
use rrun::logs::LogEntry;
use rrun::{ContainerRecord, Error, ExecOptions, LogOptions, Rrun, Status};
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
    /// Run in the foreground, attached to its output
    #[arg(short, long)]
    pub attach: bool,
    /// Attach stdin too (with -a)
    #[arg(short, long)]
    pub interactive: bool,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct StopArgs {
    /// Seconds to wait after the stop signal before killing (default: the container's --stop-timeout, else 10)
    #[arg(short = 't', long = "time", alias = "timeout")]
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
    #[arg(short = 'n', long, default_value = "all")]
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
    /// Output format: table or json
    #[arg(long, default_value = "table")]
    pub format: String,
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

#[derive(Subcommand, Debug)]
pub enum ContainerCommand {
    /// Remove every stopped container
    Prune {
        /// Do not ask for confirmation (rrun never asks)
        #[arg(short, long)]
        force: bool,
    },
    /// List containers
    Ls(PsArgs),
}

fn status_text(c: &ContainerRecord) -> String {
    match c.status {
        Status::Created => "Created".to_string(),
        Status::Running => format!("Up {}", format::age(c.started_at.as_deref())),
        Status::Paused => format!("Up {} (Paused)", format::age(c.started_at.as_deref())),
        Status::Exited => format!(
            "Exited ({}) {} ago",
            c.exit_code.map(|e| e.to_string()).unwrap_or_else(|| "unknown".into()),
            format::age(c.finished_at.as_deref().or(c.started_at.as_deref()))
        ),
    }
}

pub fn ps(rrun: &Rrun, a: PsArgs) -> Result<i32, Error> {
    let format = match super::format::Format::parse(a.format.as_deref()) {
        Ok(f) => f,
        Err(e) => return Ok(e.report()),
    };
    let filters = rrun::filter::Filters::parse(&a.filter, rrun::filter::CONTAINER_KEYS)?;
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
        let facts = rrun::filter::ContainerFacts {
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
            ports: String::new(),
            state: status_word(c.status).to_string(),
            status: status_text(c),
            size,
            names: c.name.clone(),
            labels: c.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
            mounts: c.volumes.iter().map(|v| v.name.as_str()).collect::<Vec<_>>().join(","),
            networks: String::new(),
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

/// Docker's one-word state of a container.
fn status_word(s: Status) -> &'static str {
    match s {
        Status::Created => "created",
        Status::Running => "running",
        Status::Paused => "paused",
        Status::Exited => "exited",
    }
}

/// Applies `f` to each named container, printing the name on success and
/// the error otherwise, as docker does; exit code 1 if any failed.
fn each(names: &[String], mut f: impl FnMut(&str) -> Result<(), Error>) -> Result<i32, Error> {
    let mut code = 0;
    for n in names {
        match f(n) {
            Ok(()) => println!("{n}"),
            Err(e) => {
                eprintln!("rrun: {e}");
                code = 1;
            }
        }
    }
    Ok(code)
}

pub fn rm(rrun: &Rrun, a: RmArgs) -> Result<i32, Error> {
    each(&a.containers, |c| rrun.remove_container_with(c, a.force, a.volumes).map(drop))
}

pub fn start(rrun: &Rrun, a: StartArgs) -> Result<i32, Error> {
    if a.attach {
        let [one] = a.containers.as_slice() else {
            eprintln!("rrun: start -a takes one container");
            return Ok(125);
        };
        return rrun.start_attached(one, a.interactive);
    }
    each(&a.containers, |c| rrun.start(c).map(drop))
}

pub fn stop(rrun: &Rrun, a: StopArgs) -> Result<i32, Error> {
    each(&a.containers, |c| rrun.stop_with(c, a.time.map(Duration::from_secs)).map(drop))
}

pub fn kill(rrun: &Rrun, a: KillArgs) -> Result<i32, Error> {
    each(&a.containers, |c| rrun.kill(c, a.signal.as_deref()).map(drop))
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
            rrun::launcher::Stream::Stdout => &mut out,
            rrun::launcher::Stream::Stderr => &mut err,
        };
        let _ = if a.timestamps { write!(w, "{} {}", e.time, e.log) } else { w.write_all(e.log.as_bytes()) };
        let _ = w.flush();
    };
    rrun.logs(&a.container, &LogOptions { follow: a.follow, tail }, &mut print)?;
    Ok(0)
}

pub fn exec(rrun: &Rrun, a: ExecArgs) -> Result<i32, Error> {
    let (container, command) = a.container_and_command.split_first().expect("clap requires two values");
    if let Err(e) = super::run::check_first_positional("container", container) {
        return Ok(e.report());
    }
    let host_env = |k: &str| std::env::var(k).ok();
    let env = a.env.iter().map(|e| rrun::spec::expand_env(e, host_env)).collect::<Result<Vec<_>, _>>()?;
    rrun.exec(
        container,
        &ExecOptions {
            command: command.to_vec(),
            env,
            user: a.user,
            workdir: a.workdir,
            interactive: a.interactive,
            tty: a.tty,
            detach: a.detach,
        },
    )
}

pub fn stats(rrun: &Rrun, a: StatsArgs) -> Result<i32, Error> {
    let names: Vec<String> = if a.containers.is_empty() {
        rrun.containers()?.into_iter().filter(|c| c.status == Status::Running).map(|c| c.id).collect()
    } else {
        a.containers.clone()
    };
    let tty = std::io::IsTerminal::is_terminal(&std::io::stdout());
    loop {
        let mut rows = Vec::new();
        let mut samples = Vec::new();
        for n in &names {
            // docker samples over about a second too
            let s = rrun.stats(n, Duration::from_millis(if a.no_stream { 500 } else { 1000 }))?;
            rows.push(vec![
                s.id[..12].to_string(),
                s.name.clone(),
                format!("{:.2}%", s.cpu_percent),
                format!("{} / {}", format::binary_size(s.memory_usage), format::binary_size(s.memory_limit)),
                format!("{:.2}%", s.memory_usage as f64 * 100.0 / s.memory_limit.max(1) as f64),
                s.pids.to_string(),
            ]);
            samples.push(s);
        }
        if a.format == "json" {
            println!("{}", serde_json::to_string_pretty(&samples).expect("serializes"));
        } else {
            if tty && !a.no_stream {
                print!("\x1b[2J\x1b[H");
            }
            format::table(&["CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "PIDS"], &rows);
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
    let kind = match a.kind.as_deref().map(str::parse::<rrun::images::ObjectType>).transpose() {
        Ok(k) => k,
        Err(e) => {
            eprintln!("rrun: {e}");
            return Ok(125);
        }
    };
    Ok(super::images::print_objects(&a.names, a.format.as_deref(), |n| rrun.inspect_object(n, kind)))
}

pub fn container(rrun: &Rrun, c: ContainerCommand) -> Result<i32, Error> {
    match c {
        ContainerCommand::Prune { .. } => {
            let removed = rrun.prune_containers()?;
            println!("Deleted Containers:");
            removed.iter().for_each(|id| println!("{id}"));
            Ok(0)
        }
        ContainerCommand::Ls(a) => ps(rrun, a),
    }
}
