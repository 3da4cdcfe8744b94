//! Command-line parsing and output formatting. Every command calls the
//! library; nothing here touches the store or the kernel directly.

mod cdi;
mod container;
pub mod explain;
mod filter;
mod format;
mod fs;
mod images;
pub mod logrus;
mod network;
pub mod oci;
mod parse;
mod progress;
mod registry;
pub mod route;
mod run;
mod system;
mod volume;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// `rrun --version`: rrun's version and the OCI runtime spec it implements (runc prints the same).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    "\ncommit: ",
    env!("RRUN_COMMIT"),
    "\nspec: 1.0.2\nrust: ",
    env!("RRUN_RUSTC_VERSION")
);

#[derive(Parser, Debug)]
#[command(name = "rrun", version = VERSION, about = "A daemonless container runtime", max_term_width = 100)]
pub struct Cli {
    /// Store directory (default /var/lib/rrun, or $XDG_DATA_HOME/rrun without root)
    #[arg(long, env = "RRUN_ROOT")]
    pub root: Option<PathBuf>,
    /// Show each step (-vv for every syscall); RRUN_LOG takes a tracing filter
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(flatten)]
    pub explain: explain::ExplainArg,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Import images from an OCI layout (directory or tar) or a docker-archive tar
    Load(images::LoadArgs),
    /// List images
    Images(images::ImagesArgs),
    /// Remove images
    Rmi(images::RmiArgs),
    /// Manage images
    #[command(subcommand)]
    Image(images::ImageCommand),
    /// Show the steps an image was made of
    History(images::HistoryArgs),
    /// Write images to an archive (docker-archive or oci-archive)
    Save(images::SaveArgs),
    /// Disk usage and pruning
    #[command(subcommand)]
    System(system::SystemCommand),
    /// Files a container added (A), changed (C) or deleted (D)
    Diff(fs::DiffArgs),
    /// Write a container's root filesystem as a tar archive
    Export(fs::ExportArgs),
    /// Make a new image from a container's changes
    Commit(fs::CommitArgs),
    /// Copy files between a container and the host (or a tar stream: -)
    Cp(fs::CpArgs),
    /// Run a command in a new container
    Run(Box<run::RunArgs>),
    /// Create a container (not started: `rrun start` runs it); prints its ID
    Create(Box<run::RunArgs>),
    /// List containers
    Ps(container::PsArgs),
    /// Remove containers
    Rm(container::RmArgs),
    /// Start created or stopped containers, detached (-a: attached to them)
    Start(container::StartArgs),
    /// Stop running containers: stop signal, then SIGKILL after a timeout
    Stop(container::StopArgs),
    /// Send a signal to containers (SIGKILL by default)
    Kill(container::KillArgs),
    /// Freeze every process of containers
    Pause(container::NamesArgs),
    /// Thaw paused containers
    Unpause(container::NamesArgs),
    /// Show a container's output
    Logs(container::LogsArgs),
    /// Run a command in a running container
    Exec(container::ExecArgs),
    /// CPU, memory and process counts of running containers
    Stats(container::StatsArgs),
    /// Everything known about containers or images, as JSON
    Inspect(container::InspectArgs),
    /// Attach this terminal (or these pipes) to a running detached container
    Attach(container::AttachArgs),
    /// Block until containers stop, then print their exit codes
    Wait(container::NamesArgs),
    /// Stop and start containers again
    Restart(container::RestartArgs),
    /// Rename a container
    Rename(container::RenameArgs),
    /// The processes of a container (the host's ps, -ef by default)
    Top(container::TopArgs),
    /// A container's published ports
    Port(container::PortArgs),
    /// Change the resource limits or restart policy of containers
    Update(container::UpdateArgs),
    /// What happened to containers and images, as it happens
    Events(container::EventsArgs),
    /// Run containers' health checks
    #[command(subcommand)]
    Healthcheck(container::HealthcheckCommand),
    /// Manage containers
    #[command(subcommand)]
    Container(container::ContainerCommand),
    /// Pull an image from a registry
    Pull(registry::PullArgs),
    /// Push an image to a registry
    Push(registry::PushArgs),
    /// Give an image another name
    Tag(registry::TagArgs),
    /// Store credentials for a registry
    Login(registry::LoginArgs),
    /// Remove stored credentials
    Logout(registry::LogoutArgs),
    /// Search a registry's catalog, or Docker Hub
    Search(registry::SearchArgs),
    /// Show rrun's version, commit, OCI spec version and libseccomp
    Version(system::FormatArgs),
    /// Show the host, the store and the runtime
    Info(system::FormatArgs),
    /// runc's command line, explicitly: rrun oci create|start|state|kill|delete|exec|ps|update|events|features|spec …
    #[command(disable_help_flag = true)]
    Oci {
        /// runc's verb and its arguments (rrun oci --help lists them)
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<std::ffi::OsString>,
    },
    /// Manage volumes
    #[command(subcommand)]
    Volume(volume::VolumeCommand),
    /// Manage networks: bridges whose containers reach each other (by name on networks you create)
    #[command(subcommand)]
    Network(network::NetworkCommand),
    /// Devices of the Container Device Interface (GPUs and others): cdi list
    #[command(subcommand)]
    Cdi(cdi::CdiCommand),
}

/// A command line Docker would refuse; rrun ends with 125 as docker does.
#[derive(Debug)]
pub struct UsageError(pub String);

impl UsageError {
    /// Prints the error as clap prints its own; returns the exit code.
    pub fn report(&self) -> i32 {
        eprintln!("rrun: {}\nSee 'rrun --help'.", self.0);
        125
    }
}

/// Runs the parsed command; returns the process exit code.
pub fn main(cli: Cli) -> i32 {
    if let Command::Oci { args } = cli.command {
        // reached only when routing did not see the `oci` word (it always does); same meaning
        let mut argv: Vec<std::ffi::OsString> = vec!["rrun".into()];
        if let Some(r) = &cli.root {
            argv.extend(["--root".into(), r.clone().into_os_string()]);
        }
        argv.extend(args);
        return oci::main(argv);
    }
    if let Command::Version(a) = cli.command {
        return system::version(a).unwrap_or_else(|e| fail(&e));
    }
    // the spec directories only: no store is opened
    if let Command::Cdi(c) = cli.command {
        return cdi::cdi(c);
    }
    // an ordinary user's rrun works as root of the user's own user namespace
    if !nix::unistd::Uid::effective().is_root() {
        match rrun::enter_user_namespace() {
            Ok(r) => {
                if let (Some(w), Command::Run(_) | Command::Create(_)) = (r.single_id_warning(), &cli.command) {
                    eprintln!("WARNING: {w}");
                }
            }
            Err(e) => {
                eprintln!("rrun: {e}");
                return 125;
            }
        }
    }
    let root = cli.root.clone().unwrap_or_else(rrun::Rrun::default_root);
    let rrun = match rrun::Rrun::open(&root) {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    let result = dispatch(&rrun, cli.command);
    match result {
        Ok(code) => code,
        Err(e) => fail(&e),
    }
}

/// An error as the command line says it: the library's message, and what to
/// do about it with rrun's flags and commands.
pub fn message(e: &rrun::Error) -> String {
    use rrun::Error as E;
    let advice = match e {
        E::ImageInUse { .. } => ": remove the container first, or use -f",
        E::ImageHasNames { .. } => ": remove them by name, or use -f",
        E::ContainerRunning(_) => ": stop it first, or use -f",
        E::PlatformMismatch { .. } => " (pull that platform's image with --pull=missing or --pull=always)",
        E::Registry(rrun::RegistryError::Unauthorized { host, hint, no_credentials: true }) => {
            // the advice before the registry's own words
            return format!("{host}: authentication required: run `rrun login {host}`{hint}");
        }
        E::Network(rrun::NetworkError::SubnetInUse { config, .. }) => {
            let advice = "give it another subnet (rrun network create --subnet, or default_subnet in";
            return format!("{e}; {advice} {})", config.display());
        }
        _ => "",
    };
    format!("{e}{advice}")
}

fn fail(e: &rrun::Error) -> i32 {
    // bytes from outside (a file, a registry, a tar header) never reach the terminal raw
    let shown: String = message(e)
        .chars()
        .map(|c| match c {
            '\n' | '\t' => c.to_string(),
            '\u{fffd}' => "\\u{fffd}".to_string(),
            c if c.is_control() => c.escape_default().to_string(),
            c => c.to_string(),
        })
        .collect();
    eprintln!("rrun: {shown}");
    if let rrun::Error::ImageNotFound(name) = e {
        if let Some(hint) = image_hint(name) {
            eprintln!("{hint}");
        }
    }
    e.exit_code()
}

/// What to do about a missing image, for the name the user gave: a name on a
/// registry is pulled; a bare name may be pulled or loaded from an archive; an ID neither.
fn image_hint(name: &str) -> Option<String> {
    let hex = name.strip_prefix("sha256:").unwrap_or(name);
    if hex.len() >= 3 && hex.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()) {
        return None;
    }
    let first = name.split('/').next().unwrap_or("");
    let on_registry = name.contains('/') && (first.contains(['.', ':']) || first == "localhost");
    Some(if on_registry {
        format!("hint: pull it with `rrun pull {name}`")
    } else {
        format!("hint: pull it with `rrun pull {name}`, or load it from an archive with `rrun load -i FILE`")
    })
}

/// Runs one command against the store.
fn dispatch(rrun: &rrun::Rrun, command: Command) -> Result<i32, rrun::Error> {
    match command {
        Command::Load(a) => images::load(rrun, a),
        Command::Images(a) => images::images(rrun, a),
        Command::Rmi(a) => images::rmi(rrun, a),
        Command::Image(c) => images::image(rrun, c),
        Command::History(a) => images::history(rrun, a),
        Command::Save(a) => images::save(rrun, a),
        Command::System(c) => system::system(rrun, c),
        Command::Diff(a) => fs::diff(rrun, a),
        Command::Export(a) => fs::export(rrun, a),
        Command::Commit(a) => fs::commit(rrun, a),
        Command::Cp(a) => fs::cp(rrun, a),
        Command::Run(a) => run::run(rrun, *a),
        Command::Create(a) => run::create(rrun, *a),
        Command::Ps(a) => container::ps(rrun, a),
        Command::Rm(a) => container::rm(rrun, a),
        Command::Start(a) => container::start(rrun, a),
        Command::Stop(a) => container::stop(rrun, a),
        Command::Kill(a) => container::kill(rrun, a),
        Command::Pause(a) => container::pause(rrun, a),
        Command::Unpause(a) => container::unpause(rrun, a),
        Command::Logs(a) => container::logs(rrun, a),
        Command::Exec(a) => container::exec(rrun, a),
        Command::Stats(a) => container::stats(rrun, a),
        Command::Inspect(a) => container::inspect(rrun, a),
        Command::Attach(a) => container::attach(rrun, a),
        Command::Wait(a) => container::wait(rrun, a),
        Command::Restart(a) => container::restart(rrun, a),
        Command::Rename(a) => container::rename(rrun, a),
        Command::Top(a) => container::top(rrun, a),
        Command::Port(a) => container::port(rrun, a),
        Command::Update(a) => container::update(rrun, a),
        Command::Events(a) => container::events(rrun, a),
        Command::Healthcheck(c) => container::healthcheck(rrun, c),
        Command::Container(c) => match c.into_command() {
            Ok(command) => dispatch(rrun, command),
            Err(prune) => container::prune(rrun, prune),
        },
        Command::Pull(a) => registry::pull(rrun, a),
        Command::Push(a) => registry::push(rrun, a),
        Command::Tag(a) => registry::tag(rrun, a),
        Command::Login(a) => registry::login(rrun, a),
        Command::Logout(a) => registry::logout(rrun, a),
        Command::Search(a) => registry::search(rrun, a),
        Command::Volume(c) => volume::volume(rrun, c),
        Command::Network(c) => network::network(rrun, c),
        Command::Info(a) => system::info(rrun, a),
        Command::Oci { .. } | Command::Version(_) | Command::Cdi(_) => {
            unreachable!("handled before the store is opened")
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// The README's command reference: entries that start with `rrun `.
    fn reference_entries() -> Vec<String> {
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
        let section = readme.split_once("## Command reference").expect("README has a command reference").1;
        let section = section.split_once("\n## ").map(|(s, _)| s).unwrap_or(section);
        let mut entries: Vec<String> = Vec::new();
        for line in section.lines() {
            if line.starts_with("rrun ") {
                entries.push(line.to_string());
            } else if line.starts_with(' ') {
                if let Some(last) = entries.last_mut() {
                    last.push('\n');
                    last.push_str(line);
                }
            }
        }
        entries
    }

    /// Does the entry's first line name `path` (`rrun a b`, `rrun a x|b|y`, `… ; rrun a b`)?
    fn names(entry: &str, path: &[&str]) -> bool {
        let first = entry.lines().next().unwrap_or("");
        first.split(" ; ").any(|seg| {
            let words: Vec<&str> = seg.trim_start_matches("rrun ").split_whitespace().collect();
            words.len() >= path.len() && path.iter().zip(&words).all(|(p, w)| w.split('|').any(|alt| alt == *p))
        })
    }

    #[test]
    fn the_readme_reference_lists_every_command_and_flag() {
        let entries = reference_entries();
        let registry_line = entries.iter().flat_map(|e| e.lines()).find(|l| l.contains("REGISTRY OPTIONS:")).unwrap();
        let mut missing = Vec::new();
        fn walk<'a>(cmd: &'a clap::Command, path: &mut Vec<&'a str>, out: &mut Vec<(Vec<&'a str>, &'a clap::Command)>) {
            for sub in cmd.get_subcommands().filter(|s| !matches!(s.get_name(), "help" | "oci")) {
                path.push(sub.get_name());
                out.push((path.clone(), sub));
                walk(sub, path, out);
                path.pop();
            }
        }
        let cli = super::Cli::command();
        let mut all = Vec::new();
        walk(&cli, &mut Vec::new(), &mut all);
        for (path, cmd) in all {
            let Some(entry) = entries.iter().find(|e| names(e, &path)) else {
                missing.push(format!("rrun {}", path.join(" ")));
                continue;
            };
            if entry.contains("the same as the commands here") {
                continue;
            }
            for arg in cmd.get_arguments().filter(|a| !a.is_positional()) {
                let Some(long) = arg.get_long().filter(|l| *l != "help") else { continue };
                let flag = format!("--{long}");
                let listed = entry.split(|c: char| !(c.is_alphanumeric() || c == '-')).any(|w| w == flag)
                    || (entry.contains("REGISTRY OPTIONS") && registry_line.contains(&flag));
                if !listed {
                    missing.push(format!("rrun {} {flag}", path.join(" ")));
                }
            }
        }
        // runc's verbs, each named in the runc section
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
        let runc = readme.split_once("runc's verbs (OCI runtime)").expect("a runc section").1;
        for verb in super::oci::OciCli::command().get_subcommands().map(|s| s.get_name()).filter(|n| *n != "help") {
            if !runc.split(|c: char| !c.is_alphanumeric()).any(|w| w == verb) {
                missing.push(format!("rrun oci {verb}"));
            }
        }
        assert!(missing.is_empty(), "README's command reference lacks: {missing:#?}");
    }
}
