//! runc's log lines (logrus): `time="…" level=error msg="…"`, or with
//! `--log-format json` one JSON object a line (`{"level","msg","time"}`).
//! Engines and test suites read errors from stderr and from `--log`
//! in this shape; with `--debug` the launcher's steps go the same way.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::Layer;

/// Where log lines go and how they look.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// `--log FILE`; None: stderr.
    pub file: Option<PathBuf>,
    pub json: bool,
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// One log line, without its newline.
pub fn line(json: bool, level: &str, msg: &str, fields: &[(String, String)]) -> String {
    let time = now();
    if json {
        let mut o = serde_json::Map::new();
        for (k, v) in fields {
            o.insert(k.clone(), serde_json::Value::String(v.clone()));
        }
        o.insert("level".into(), level.into());
        o.insert("msg".into(), msg.into());
        o.insert("time".into(), time.into());
        return serde_json::Value::Object(o).to_string();
    }
    let mut s = format!("time={time:?} level={level} msg={msg:?}");
    for (k, v) in fields {
        s.push_str(&format!(" {k}={v:?}"));
    }
    s
}

impl LogConfig {
    /// Appends a line to the log (the file, or stderr).
    pub fn write(&self, level: &str, msg: &str, fields: &[(String, String)]) {
        let l = line(self.json, level, msg, fields);
        match &self.file {
            Some(p) => {
                if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(p) {
                    let _ = writeln!(f, "{l}");
                }
            }
            None => eprintln!("{l}"),
        }
    }

    /// A command's failure, where runc puts it: the log, and with a log file
    /// also stderr as a bare message (the caller reads one or the other).
    pub fn error(&self, msg: &str) {
        self.write("error", msg, &[]);
        if self.file.is_some() {
            eprintln!("{msg}");
        }
    }
}

/// The tracing layer: every event as a log line, level by level.
pub struct Logrus {
    cfg: LogConfig,
    /// Serializes writes; rrun's runtime commands run no threads.
    lock: Mutex<()>,
}

impl Logrus {
    pub fn new(cfg: LogConfig) -> Logrus {
        Logrus { cfg, lock: Mutex::new(()) }
    }
}

#[derive(Default)]
struct Fields {
    msg: String,
    rest: Vec<(String, String)>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.msg = value.to_string();
        } else {
            self.rest.push((field.name().to_string(), value.to_string()));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.msg = format!("{value:?}");
        } else {
            self.rest.push((field.name().to_string(), format!("{value:?}")));
        }
    }
}

impl<S: Subscriber> Layer<S> for Logrus {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let level = match *event.metadata().level() {
            Level::ERROR => "error",
            Level::WARN => "warning",
            Level::INFO => "info",
            Level::DEBUG | Level::TRACE => "debug",
        };
        let mut f = Fields::default();
        event.record(&mut f);
        let _guard = self.lock.lock();
        self.cfg.write(level, &f.msg, &f.rest);
    }
}

/// Installs the layer: warnings and errors always, everything with `debug`
/// (`RRUN_LOG` takes a filter, as for rrun's own commands).
pub fn init(cfg: LogConfig, debug: bool) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let default = if debug { "rrun=debug" } else { "rrun=warn" };
    let filter: tracing_subscriber::filter::Targets = std::env::var("RRUN_LOG")
        .ok()
        .and_then(|f| f.parse().ok())
        .unwrap_or_else(|| default.parse().expect("a valid filter"));
    if crate::cli::explain::active().is_none() {
        let _ = tracing_subscriber::registry().with(Logrus::new(cfg)).with(filter).try_init();
        return;
    }
    let _ = tracing_subscriber::registry()
        .with(Logrus::new(cfg).with_filter(filter))
        .with(rrun::explain::layer())
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_logrus_text_or_json() {
        let t = line(false, "error", "exec: \"x\": not found", &[]);
        assert!(t.starts_with("time=\""), "{t}");
        assert!(t.ends_with(" level=error msg=\"exec: \\\"x\\\": not found\""), "{t}");
        let j: serde_json::Value =
            serde_json::from_str(&line(true, "debug", "clone", &[("flags".into(), "0x1".into())])).unwrap();
        assert_eq!(
            (j["level"].as_str(), j["msg"].as_str(), j["flags"].as_str()),
            (Some("debug"), Some("clone"), Some("0x1"))
        );
        assert!(j["time"].as_str().unwrap().ends_with('Z'));
    }
}
