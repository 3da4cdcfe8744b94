//! Command-line parsing and output formatting. Every command calls the
//! library; nothing here touches the store or the kernel directly.

mod container;
mod format;
mod fs;
mod images;
pub mod oci;
mod registry;
mod run;
mod system;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// `rrun --version`: rrun's version and the OCI runtime spec it implements (runc prints the same).
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\nspec: 1.0.2");

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
    /// Everything known about containers or images, as JSON
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
}

/// Runs the parsed command; returns the process exit code.
pub fn main(cli: Cli) -> i32 {
    let root = cli.root.clone().unwrap_or_else(rrun::Rrun::default_root);
    let rrun = match rrun::Rrun::open(&root) {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    let result = match cli.command {
        Command::Load(a) => images::load(&rrun, a),
        Command::Images(a) => images::images(&rrun, a),
        Command::Rmi(a) => images::rmi(&rrun, a),
        Command::Image(c) => images::image(&rrun, c),
        Command::History(a) => images::history(&rrun, a),
        Command::Save(a) => images::save(&rrun, a),
        Command::System(c) => system::system(&rrun, c),
        Command::Diff(a) => fs::diff(&rrun, a),
        Command::Export(a) => fs::export(&rrun, a),
        Command::Commit(a) => fs::commit(&rrun, a),
        Command::Cp(a) => fs::cp(&rrun, a),
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
    };
    match result {
        Ok(code) => code,
        Err(e) => fail(&e),
    }
}

fn fail(e: &rrun::Error) -> i32 {
    eprintln!("rrun: {e}");
    e.exit_code()
}
