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
        // `rrun --explain oci create …`: rrun's flag, taken out before runc's parser reads the line
        match cli::explain::take_global(&mut args).and_then(|g| Ok(g.or(cli::explain::from_env()?))) {
            Ok(Some(format)) => cli::explain::start(format),
            Ok(None) => {}
            Err(e) => {
                eprintln!("rrun: {e}");
                std::process::exit(1);
            }
        }
        let code = cli::oci::main(args);
        cli::explain::finish();
        std::process::exit(code);
    }
    let cli = match cli::Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            // --help and --version succeed; a bad command line is rrun's own failure (125), as in docker
            std::process::exit(if e.use_stderr() { 125 } else { 0 });
        }
    };
    match cli::explain::requested(&cli) {
        Ok(Some(format)) => cli::explain::start(format),
        Ok(None) => {}
        Err(e) => {
            eprintln!("rrun: {e}");
            std::process::exit(125);
        }
    }
    init_logging(cli.verbose);
    let code = cli::main(cli);
    cli::explain::finish();
    std::process::exit(code);
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
    use tracing_subscriber::Layer;
    let log = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false)
        // colour codes only for a person at a terminal, never into a log file or pipe
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    if cli::explain::active().is_none() {
        // the usual start: one global filter, whose level skips every step event at its call site
        tracing_subscriber::registry().with(log).with(filter).init();
        return;
    }
    // narrating: the log keeps its filter, the narration collects the step events
    tracing_subscriber::registry().with(log.with_filter(filter)).with(rrun::explain::layer()).init();
}
