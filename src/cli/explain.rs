//! `--explain` and `--dry-run` on the command line: which narration was
//! asked for, and printing it (the narration itself is `rrun::explain`'s).
//!
//! Spellings: `--explain[=text|json]` on `run`, `create`, `exec`, `pull` and
//! `load`; a global `rrun --explain[=…] COMMAND` before any command, runc's
//! verbs included (`rrun --explain oci create …`: rrun takes it out before
//! runc's parser sees the line, whose flags stay exactly runc's); and
//! `RRUN_EXPLAIN=text|json` in the environment, for a runtime an engine runs.

use super::{Cli, Command};
use clap::Args;
use rrun::explain::Format;
use std::ffi::OsString;
use std::sync::OnceLock;

/// `--explain[=FORMAT]` (the value only with `=`: `--explain busybox` names no format).
#[derive(Args, Debug, Clone, Default)]
pub struct ExplainArg {
    /// Narrate each step rrun takes, with its system call and why, on stderr once done (json: one object a line)
    #[arg(
        long,
        value_name = "FORMAT",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "text",
        value_parser = ["text", "json"]
    )]
    pub explain: Option<String>,
}

static MODE: OnceLock<Format> = OnceLock::new();

/// The narration `RRUN_EXPLAIN` asks for (unset or empty: none).
pub fn from_env() -> Result<Option<Format>, String> {
    match std::env::var("RRUN_EXPLAIN") {
        Ok(v) if !v.is_empty() && v != "0" => v.parse().map(Some).map_err(|e| format!("RRUN_EXPLAIN: {e}")),
        _ => Ok(None),
    }
}

/// The narration a Docker-style command line asks for: the command's own
/// flag, the global one, or the environment's.
pub fn requested(cli: &Cli) -> Result<Option<Format>, String> {
    let own = match &cli.command {
        Command::Run(a) | Command::Create(a) => a.explain.explain.as_deref(),
        Command::Exec(a) => a.explain.explain.as_deref(),
        Command::Pull(a) => a.explain.explain.as_deref(),
        Command::Load(a) => a.explain.explain.as_deref(),
        Command::Image(c) => c.explain(),
        Command::Container(c) => c.explain(),
        _ => None,
    };
    match own.or(cli.explain.explain.as_deref()) {
        Some(v) => v.parse().map(Some),
        None => from_env(),
    }
}

/// Takes a global `--explain[=F]` out of a runc-style command line (before
/// its verb), so that runc's parser sees runc's flags only.
pub fn take_global(args: &mut Vec<OsString>) -> Result<Option<Format>, String> {
    const WITH_VALUE: [&str; 5] = ["--root", "--log", "--log-format", "--criu", "--rootless"];
    let mut found = None;
    let mut i = 1;
    while i < args.len() {
        let a = args[i].to_string_lossy().into_owned();
        if a == "--explain" || a.starts_with("--explain=") {
            found = Some(a.strip_prefix("--explain=").unwrap_or("text").parse()?);
            args.remove(i);
            continue;
        }
        if !a.starts_with('-') || a == "-" {
            break;
        }
        i += if WITH_VALUE.contains(&a.as_str()) { 2 } else { 1 };
    }
    Ok(found)
}

/// Starts narrating this process (once; before logging is set up).
pub fn start(format: Format) {
    let _ = MODE.set(format);
}

/// The narration this process gives, if any.
pub fn active() -> Option<Format> {
    MODE.get().copied()
}

/// Prints the narration on stderr (when one was asked for).
pub fn finish() {
    let Some(format) = active() else { return };
    let records = rrun::explain::take();
    let text = match format {
        Format::Json => rrun::explain::render_json(&records),
        Format::Text => {
            let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
            let color = tty && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
            rrun::explain::render_text(&records, rrun::explain::Style { width: columns(), color })
        }
    };
    use std::io::Write;
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes());
    let _ = err.flush();
}

/// The width of the terminal on stderr, else `$COLUMNS`, else 100.
fn columns() -> usize {
    let mut ws = libc::winsize { ws_row: 0, ws_col: 0, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: TIOCGWINSZ writes one winsize into `ws`, which we own.
    if unsafe { libc::ioctl(libc::STDERR_FILENO, libc::TIOCGWINSZ, &mut ws) } == 0 && ws.ws_col > 0 {
        return ws.ws_col as usize;
    }
    std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()).filter(|c| *c > 0).unwrap_or(100)
}

/// `run --dry-run`: the spec, the overlay and the mounts, as a reader checks them.
pub fn dry_run_text(d: &rrun::DryRun) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "# The OCI runtime spec rrun would use (config.json of container {}, not created):\n",
        &d.id[..12]
    ));
    out.push_str(&serde_json::to_string_pretty(&d.spec).expect("a spec serializes"));
    out.push_str("\n\n");
    if let rrun::RootfsSource::Overlay { lowers, upper, work, target, .. } = &d.rootfs {
        out.push_str("# The root filesystem: an overlay of the image's layers, mounted in the container's own mount namespace:\n");
        out.push_str(&format!(
            "mount -t overlay overlay -o lowerdir={},upperdir={},workdir={} {}\n",
            lowers.join(":"),
            upper.display(),
            work.display(),
            target.display()
        ));
        for (i, l) in lowers.iter().enumerate() {
            let which = if i == 0 { "  (top layer)" } else { "" };
            out.push_str(&format!("#   lowerdir {}  {l}{which}\n", i + 1));
        }
        out.push_str(&format!("#   upperdir   {}  (the container's writes)\n", upper.display()));
        out.push_str(&format!("#   workdir    {}  (overlayfs's scratch space)\n", work.display()));
        out.push('\n');
    }
    out.push_str("# The mounts, in order, made inside the rootfs before pivot_root:\n");
    let mounts = d.spec.mounts().clone().unwrap_or_default();
    let rows: Vec<[String; 4]> = mounts
        .iter()
        .map(|m| {
            [
                m.destination().display().to_string(),
                m.typ().clone().unwrap_or_default(),
                m.options().as_deref().unwrap_or_default().join(","),
                m.source().as_ref().map(|s| s.display().to_string()).unwrap_or_default(),
            ]
        })
        .collect();
    let w = |i: usize| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0);
    let (w0, w1, w2) = (w(0), w(1), w(2));
    out.push_str(&format!("#{:<w0$}  {:<w1$}  {:<w2$}  SOURCE\n", "TARGET", "TYPE", "OPTIONS", w0 = w0.max(7) - 1));
    for [dest, typ, options, source] in &rows {
        out.push_str(&format!("{dest:<w0$}  {typ:<w1$}  {options:<w2$}  {source}\n", w0 = w0.max(7)));
    }
    if !d.volumes.is_empty() {
        out.push_str("\n# Volumes:\n");
        for v in &d.volumes {
            let state = if v.new { "would be created" } else { "exists" };
            let kind = if v.anonymous { "anonymous volume" } else { "volume" };
            out.push_str(&format!(
                "{} → {}  ({kind} {}, {state})\n",
                v.source.display(),
                v.destination.display(),
                v.name
            ));
        }
    }
    out.push_str("\n# Nothing was created: no container, no directory, no volume, no cgroup, no mount.\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<OsString> {
        s.split_whitespace().map(OsString::from).collect()
    }

    #[test]
    fn a_global_explain_leaves_runcs_line_as_it_was() {
        let mut a = argv("rrun --root /run/x --explain=json create --bundle b c1");
        assert_eq!(take_global(&mut a).unwrap(), Some(Format::Json));
        assert_eq!(a, argv("rrun --root /run/x create --bundle b c1"));
        let mut a = argv("rrun --explain --log /l create --explain c1");
        assert_eq!(take_global(&mut a).unwrap(), Some(Format::Text));
        assert_eq!(a, argv("rrun --log /l create --explain c1"), "only before the verb");
        let mut a = argv("rrun --log --explain create c1");
        assert_eq!(take_global(&mut a).unwrap(), None, "a flag's value is not a flag");
        assert!(take_global(&mut argv("rrun --explain=xml state c1")).is_err());
    }

    #[test]
    fn run_and_the_other_commands_take_the_flag() {
        use clap::Parser;
        let parse = |s: &str| Cli::try_parse_from(argv(s)).unwrap();
        assert_eq!(requested(&parse("rrun run --explain busybox true")).unwrap(), Some(Format::Text));
        let c = parse("rrun run --explain busybox --explain=json");
        assert_eq!(requested(&c).unwrap(), Some(Format::Text), "after the image, it is the container's");
        assert_eq!(requested(&parse("rrun --explain=json load -i x.tar")).unwrap(), Some(Format::Json));
        assert_eq!(requested(&parse("rrun pull --explain=json alpine")).unwrap(), Some(Format::Json));
        assert_eq!(requested(&parse("rrun exec --explain web ps")).unwrap(), Some(Format::Text));
        assert_eq!(requested(&parse("rrun container run --explain=json busybox")).unwrap(), Some(Format::Json));
        assert_eq!(requested(&parse("rrun image load --explain -i x")).unwrap(), Some(Format::Text));
        assert!(Cli::try_parse_from(argv("rrun run --explain=yaml busybox")).is_err());
        if std::env::var_os("RRUN_EXPLAIN").is_none() {
            assert_eq!(requested(&parse("rrun run busybox")).unwrap(), None);
        }
    }
}
