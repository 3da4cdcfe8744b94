//! `--explain`: the named step events of a run (see `steps`), narrated.
//!
//! Nothing here describes a step: each one is declared once, beside the
//! code that performs it, and emitted there with its real arguments. This
//! module only collects those events — a `tracing` layer in the process
//! that narrates, plus the records its forked children relay back (the
//! container's init, a detached container's monitor) — and renders them:
//! numbered in the order they happened, grouped by phase, as text for a
//! person (wrapped, coloured on a terminal) or as JSON lines for tools.

use crate::steps::relay;
pub use crate::steps::{Phase, Record, Step};
use std::sync::Mutex;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// How the narration is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Numbered paragraphs for a person.
    Text,
    /// One JSON object a line, one line a step event.
    Json,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Format, String> {
        match s {
            "" | "1" | "true" | "text" => Ok(Format::Text),
            "json" => Ok(Format::Json),
            other => Err(format!("invalid explain format {other:?}: expected text or json")),
        }
    }
}

/// Every step rrun declares, module by module, each in the order they usually run.
pub fn steps() -> Vec<&'static Step> {
    [
        crate::registry::STEPS,
        crate::image::STEPS,
        crate::lifecycle::STEPS,
        crate::network::STEPS,
        crate::oci::STEPS,
        crate::cgroups::STEPS,
        crate::launcher::STEPS,
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The step of this name.
pub fn find(name: &str) -> Option<&'static Step> {
    steps().into_iter().find(|s| s.name == name)
}

static COLLECTED: Mutex<Vec<Record>> = Mutex::new(Vec::new());

/// The layer that collects step events; install it only when narrating
/// (without it, a disabled event costs a load and a compare). Children
/// forked after this relay their steps back.
pub fn layer<S>() -> impl Layer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    relay::set_collecting();
    let steps_only = tracing_subscriber::filter::filter_fn(|m| m.is_event() && m.fields().field("step").is_some())
        .with_max_level_hint(tracing::level_filters::LevelFilter::DEBUG);
    Collector.with_filter(steps_only)
}

struct Collector;

impl<S: Subscriber> Layer<S> for Collector {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut v = Fields::default();
        event.record(&mut v);
        let Some(step) = v.step else { return };
        let record = Record::now(step, v.args);
        // in a forked child, the narrator is the parent: send it there
        if relay::sending() {
            relay::send(&record);
        } else {
            COLLECTED.lock().unwrap_or_else(|e| e.into_inner()).push(record);
        }
    }
}

#[derive(Default)]
struct Fields {
    step: Option<String>,
    args: Vec<(String, serde_json::Value)>,
}

impl Fields {
    fn put(&mut self, field: &Field, value: serde_json::Value) {
        match field.name() {
            "message" | "syscall" => {}
            "step" => self.step = value.as_str().map(str::to_string),
            name => self.args.push((name.to_string(), value)),
        }
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, value.into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.put(field, format!("{value:?}").into());
    }
}

/// Every step recorded so far in this process and relayed by its children,
/// in the order they happened; the collection starts afresh.
pub fn take() -> Vec<Record> {
    let mut all = std::mem::take(&mut *COLLECTED.lock().unwrap_or_else(|e| e.into_inner()));
    all.extend(relay::drain());
    all.sort_by_key(|r| r.at);
    all
}

/// One narrated step: a record, or several consecutive ones of the same step.
struct Entry<'a> {
    /// Its number: the position of its first record.
    n: usize,
    step: Option<&'static Step>,
    records: Vec<&'a Record>,
}

fn entries(records: &[Record]) -> Vec<Entry<'_>> {
    let mut out: Vec<Entry<'_>> = Vec::new();
    for (i, r) in records.iter().enumerate() {
        if let Some(last) = out.last_mut() {
            let prev = last.records[0];
            if prev.step == r.step && prev.process == r.process {
                last.records.push(r);
                continue;
            }
        }
        out.push(Entry { n: i + 1, step: find(&r.step), records: vec![r] });
    }
    out
}

fn phase_of(e: &Entry<'_>) -> Option<Phase> {
    e.step.map(|s| s.phase)
}

/// The narration as JSON lines: one object a record, in order.
pub fn render_json(records: &[Record]) -> String {
    let mut out = String::new();
    for (i, r) in records.iter().enumerate() {
        let step = find(&r.step);
        let args: serde_json::Map<String, serde_json::Value> = r.args.iter().cloned().collect();
        let line = serde_json::json!({
            "n": i + 1,
            "phase": step.map(|s| s.phase.name()),
            "step": r.step,
            "what": step.map(|s| s.what),
            "syscall": step.map(|s| s.syscall),
            "args": args,
            "why": step.map(|s| s.why),
            "process": r.process,
            "pid": r.pid,
            "source": step.map(|s| s.source),
        });
        out.push_str(&line.to_string());
        out.push('\n');
    }
    out
}

/// How text is laid out.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    /// Columns to wrap at.
    pub width: usize,
    /// ANSI colours (a terminal).
    pub color: bool,
}

const MAX_CALLS: usize = 8;

/// The narration for a person: numbered steps under their phases.
pub fn render_text(records: &[Record], style: Style) -> String {
    let paint = |code: &str, s: &str| if style.color { format!("\x1b[{code}m{s}\x1b[0m") } else { s.to_string() };
    let width = style.width.clamp(40, 120);
    let entries = entries(records);
    let mut out = String::new();
    if entries.is_empty() {
        out.push_str("rrun --explain: no step was taken.\n");
        return out;
    }
    out.push_str(&paint(
        "1",
        &format!("rrun --explain: {} steps, numbered in the order they ran, grouped by phase.", records.len()),
    ));
    out.push('\n');
    let mut phases: Vec<Option<Phase>> = Phase::ALL.iter().copied().map(Some).collect();
    phases.push(None);
    for phase in phases {
        let mine: Vec<&Entry<'_>> = entries.iter().filter(|e| phase_of(e) == phase).collect();
        if mine.is_empty() {
            continue;
        }
        let title = phase.map(|p| p.name().to_uppercase()).unwrap_or_else(|| "OTHER".into());
        let rule = "─".repeat(width.saturating_sub(title.chars().count() + 4));
        out.push('\n');
        out.push_str(&paint("1;36", &format!("── {title} {rule}")));
        out.push('\n');
        for e in mine {
            out.push_str(&entry_text(e, width, &paint));
        }
    }
    out.push('\n');
    out.push_str(&wrap(
        "Every step is declared once, with its why, beside the code that does it (the file after each title); \
         `rrun -vv` logs the same events.",
        width,
        "",
        "",
    ));
    out
}

fn entry_text(e: &Entry<'_>, width: usize, paint: &dyn Fn(&str, &str) -> String) -> String {
    let first = e.records[0];
    let (what, syscall, why, source) = match e.step {
        Some(s) => (s.what, s.syscall, s.why, s.source),
        None => (first.step.as_str(), "", "", ""),
    };
    let count = if e.records.len() > 1 { format!(" (×{})", e.records.len()) } else { String::new() };
    let mut out = String::new();
    let num = format!("{:>3}. ", e.n);
    let indent = " ".repeat(num.len());
    let head = format!("{num}{what}{count}");
    let place = match first.process.as_str() {
        "rrun" => String::new(),
        "container" => format!(" — in the container, pid {}", first.pid),
        other => format!(" — in the {other}, pid {}", first.pid),
    };
    let source = if source.is_empty() { String::new() } else { format!("  [{source}]") };
    out.push_str(&paint("1", &head));
    let len = |s: &str| s.chars().count();
    if len(&head) + len(&place) + len(&source) > width {
        // the place and the file on a line of their own
        out.push('\n');
        out.push_str(&indent);
        out.push_str(&paint("33", place.trim_start_matches(" — ")));
        out.push_str(&paint("2", if place.is_empty() { source.trim_start() } else { &source }));
    } else {
        out.push_str(&paint("33", &place));
        out.push_str(&paint("2", &source));
    }
    out.push('\n');
    let calls = e.records.len().min(MAX_CALLS);
    for r in &e.records[..calls] {
        let mut line = syscall.to_string();
        for (i, (k, v)) in r.args.iter().enumerate() {
            let v = match v {
                serde_json::Value::String(s) => quote(&shorten_ids(s)),
                other => other.to_string(),
            };
            line.push_str(if i == 0 { ": " } else { " " });
            line.push_str(&format!("{k}={v}"));
        }
        for l in wrap(&line, width, &format!("{indent}$ "), &format!("{indent}    ")).lines() {
            out.push_str(&paint("32", l));
            out.push('\n');
        }
    }
    if e.records.len() > calls {
        out.push_str(&paint("32", &format!("{indent}$ … and {} more like it\n", e.records.len() - calls)));
    }
    if !why.is_empty() {
        out.push_str(&wrap(why, width, &indent, &indent));
    }
    out
}

/// A value as a shell would take it: bare when it is one word, else in single quotes.
fn quote(s: &str) -> String {
    if s.is_empty() {
        "''".into()
    } else if !s.contains(char::is_whitespace) && !s.contains(['\'', '"']) {
        s.to_string()
    } else if !s.contains('\'') {
        format!("'{s}'")
    } else {
        format!("{s:?}")
    }
}

/// Runs of 64 hexadecimal digits (container IDs, digests) cut to their first 12, as `ps` shows them.
pub fn shorten_ids(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        let run = b[i..].iter().take_while(|c| c.is_ascii_hexdigit()).count();
        if run >= 64 && (i == 0 || !b[i - 1].is_ascii_alphanumeric()) {
            out.push_str(&s[i..i + 12]);
            out.push('…');
            i += run;
        } else if run > 0 {
            out.push_str(&s[i..i + run]);
            i += run;
        } else {
            let ch = s[i..].chars().next().expect("a char at a boundary");
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

/// Words filled into lines of at most `width` columns (a longer word has a line of its own).
fn wrap(text: &str, width: usize, first: &str, rest: &str) -> String {
    let mut out = String::new();
    let mut line = first.to_string();
    let mut empty = true;
    for word in text.split_whitespace() {
        let len = line.chars().count();
        if !empty && len + 1 + word.chars().count() > width {
            out.push_str(line.trim_end());
            out.push('\n');
            line = rest.to_string();
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    if !empty {
        out.push_str(&line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn step_names_are_unique_and_every_step_is_described() {
        let all = steps();
        let mut names = HashSet::new();
        for s in &all {
            assert!(names.insert(s.name), "step {} is declared twice", s.name);
            assert!(!s.what.is_empty() && !s.why.is_empty() && !s.syscall.is_empty(), "{}", s.name);
            assert!(s.why.ends_with('.'), "{}: a why is a sentence", s.name);
            // each step's constant is its name in capitals, and a file it names uses it
            let constant = s.name.to_uppercase();
            let mut used = false;
            for file in s.source.split(", ") {
                let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
                assert!(path.is_file(), "{}: source {file} does not exist", s.name);
                let text = std::fs::read_to_string(&path).unwrap();
                used |= text.match_indices(&constant).any(|(i, _)| {
                    let before = &text[..i];
                    let line_start = &before[before.rfind('\n').map_or(0, |n| n + 1)..];
                    let after = &text[i + constant.len()..];
                    let declared = line_start.trim().is_empty() && after.starts_with(':');
                    let whole_word = !after.starts_with(|c: char| c == '_' || c.is_ascii_alphanumeric())
                        && !before.ends_with(|c: char| c == '_' || c.is_ascii_alphanumeric());
                    whole_word && !declared
                });
            }
            assert!(used, "{}: none of {} emits {constant}", s.name, s.source);
        }
        assert!(all.len() > 60, "{} steps", all.len());
        assert_eq!(find("pivot_root").unwrap().phase, Phase::Mounts);
    }

    fn rec(step: &str, args: &[(&str, serde_json::Value)], process: &str) -> Record {
        Record {
            step: step.into(),
            args: args.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
            at: 0,
            process: process.into(),
            pid: 1,
        }
    }

    #[test]
    fn text_groups_by_phase_numbers_by_order_and_merges_repeats() {
        let id = "a".repeat(64);
        let records = vec![
            rec("clone", &[("flags", "CLONE_NEWNS|CLONE_NEWPID".into())], "rrun"),
            rec("mount", &[("target", "/proc".into()), ("fstype", "proc".into())], "container"),
            rec("mount", &[("target", "/dev".into()), ("fstype", "tmpfs".into())], "container"),
            rec("sethostname", &[("hostname", "box".into())], "container"),
            rec("pivot_root", &[("new_root", ".".into())], "container"),
            rec("cgroup_delete", &[("path", format!("/sys/fs/cgroup/pids/rrun/{id}").into())], "rrun"),
        ];
        let text = render_text(&records, Style { width: 80, color: false });
        let pos = |s: &str| text.find(s).unwrap_or_else(|| panic!("{s:?} not in\n{text}"));
        assert!(pos("── NAMESPACES") < pos("── MOUNTS") && pos("── MOUNTS") < pos("── IDENTITY"));
        assert!(pos("── IDENTITY") < pos("── CLEANUP"));
        // the mounts are one step of two calls, numbered 2; pivot_root (5) is listed with the mounts
        assert!(text.contains("  2. Mount a filesystem in the container (×2)"), "{text}");
        assert!(pos("  2. Mount") < pos("  5. Make the rootfs the root") && pos("  5. Make") < pos("  4. Set"));
        assert!(text.contains("$ mount: target=/proc fstype=proc"), "{text}");
        assert!(text.contains("in the container, pid 1"));
        assert!(text.contains(&format!("rrun/{}…", &id[..12])), "IDs are shortened: {text}");
        assert!(!text.contains('\x1b'), "no colour unless asked");
        assert!(text.lines().all(|l| l.chars().count() <= 80), "{text}");
        let coloured = render_text(&records, Style { width: 80, color: true });
        assert!(coloured.contains("\x1b[1m"));
    }

    #[test]
    fn json_lines_carry_phase_what_why_and_args() {
        let records = vec![rec("pivot_root", &[("new_root", ".".into()), ("n", 3.into())], "container")];
        let out = render_json(&records);
        let v: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
        assert_eq!(v["phase"], "mounts");
        assert_eq!(v["step"], "pivot_root");
        assert_eq!(v["args"]["new_root"], ".");
        assert_eq!(v["args"]["n"], 3);
        assert_eq!(v["process"], "container");
        assert!(v["why"].as_str().unwrap().contains("pivot_root"));
    }

    #[test]
    fn long_ids_are_cut_and_words_wrap() {
        let d = format!("sha256:{}", "0123456789abcdef".repeat(4));
        assert_eq!(shorten_ids(&d), "sha256:0123456789ab…");
        assert_eq!(shorten_ids("deadbeef /x"), "deadbeef /x");
        assert_eq!(wrap("aa bb cc", 5, "", "  "), "aa bb\n  cc\n");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote(r#"["sh","-c"]"#), r#"'["sh","-c"]'"#);
        assert_eq!(quote(""), "''");
        assert_eq!(quote("/proc"), "/proc");
    }
}
