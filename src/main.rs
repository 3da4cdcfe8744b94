//! The `rrun` command: parse arguments, set up logging, hand over to the CLI module.

mod cli;

use clap::Parser;

fn main() {
    // `rrun images | head -1`: a closed stdout ends rrun quietly, as it ends other tools
    // SAFETY: installs the default disposition; no handler runs.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let cli::route::Route::Oci { strip } = cli::route::route(&args, &cli::route::Filesystem) {
        let mut args = args;
        if let Some(i) = strip {
            args.remove(i);
        }
        std::process::exit(cli::oci::main(args));
    }
    let cli = match cli::Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            // --help and --version succeed; a bad command line is rrun's own failure (125), as in docker
            std::process::exit(if e.use_stderr() { 125 } else { 0 });
        }
    };
    init_logging(cli.verbose);
    std::process::exit(cli::main(cli));
}

/// Logs to stderr: warnings, `-v` each step, `-vv` every syscall; `RRUN_LOG` takes a filter.
fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    // `Targets` (target=level,…) rather than EnvFilter: no regex engine on every start
    let filter: tracing_subscriber::filter::Targets = std::env::var("RRUN_LOG")
        .ok()
        .and_then(|f| f.parse().ok())
        .unwrap_or_else(|| format!("rrun={default}").parse().expect("a valid filter"));
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_target(false)
                // colour codes only for a person at a terminal, never into a log file or pipe
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())),
        )
        .with(filter)
        .init();
}
