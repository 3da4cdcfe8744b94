//! Command-line parsing and output formatting. Every command calls the
//! library; nothing here touches the store or the kernel directly.

mod container;
mod format;
mod images;
pub mod logrus;
pub mod oci;
mod registry;
pub mod route;
mod run;
mod system;

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
    /// Run a command in a new container
    Run(Box<run::RunArgs>),
    /// List containers
    Ps(container::PsArgs),
    /// Remove containers
    Rm(container::RmArgs),
    /// Start stopped containers (detached, or -a in the foreground)
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
    /// Everything known about containers, as JSON
    Inspect(container::InspectArgs),
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
    let root = cli.root.clone().unwrap_or_else(rrun::Rrun::default_root);
    let rrun = match rrun::Rrun::open(&root) {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    let result = match cli.command {
        Command::Load(a) => images::load(&rrun, a),
        Command::Images(a) => images::images(&rrun, a),
        Command::Rmi(a) => images::rmi(&rrun, a),
        Command::Run(a) => run::run(&rrun, *a),
        Command::Ps(a) => container::ps(&rrun, a),
        Command::Rm(a) => container::rm(&rrun, a),
        Command::Start(a) => container::start(&rrun, a),
        Command::Stop(a) => container::stop(&rrun, a),
        Command::Kill(a) => container::kill(&rrun, a),
        Command::Pause(a) => container::pause(&rrun, a),
        Command::Unpause(a) => container::unpause(&rrun, a),
        Command::Logs(a) => container::logs(&rrun, a),
        Command::Exec(a) => container::exec(&rrun, a),
        Command::Stats(a) => container::stats(&rrun, a),
        Command::Inspect(a) => container::inspect(&rrun, a),
        Command::Container(c) => container::container(&rrun, c),
        Command::Pull(a) => registry::pull(&rrun, a),
        Command::Push(a) => registry::push(&rrun, a),
        Command::Tag(a) => registry::tag(&rrun, a),
        Command::Login(a) => registry::login(&rrun, a),
        Command::Logout(a) => registry::logout(&rrun, a),
        Command::Search(a) => registry::search(&rrun, a),
        Command::Info(a) => system::info(&rrun, a),
        Command::Oci { .. } | Command::Version(_) => unreachable!("handled before the store is opened"),
    };
    match result {
        Ok(code) => code,
        Err(e) => fail(&e),
    }
}

fn fail(e: &rrun::Error) -> i32 {
    eprintln!("rrun: {e}");
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
