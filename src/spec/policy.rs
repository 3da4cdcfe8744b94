//! What a container's record keeps of its run options: the restart policy
//! and the log driver (`--restart`, `--log-driver`).

use serde::{Deserialize, Serialize};

/// `--restart`: what the monitor does when the container exits on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RestartPolicy {
    /// Never restart (`no`).
    #[default]
    No,
    /// Restart after a non-zero exit, at most this many times (0: no limit).
    OnFailure(u32),
    /// Restart whenever it exits (`always`).
    Always,
    /// Like `always`; the two differ only across daemon restarts, which rrun has not.
    UnlessStopped,
}

impl std::str::FromStr for RestartPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("invalid restart policy {s:?}: expected no, on-failure[:N], always or unless-stopped");
        match s.split_once(':') {
            None if s == "no" => Ok(RestartPolicy::No),
            None if s == "always" => Ok(RestartPolicy::Always),
            None if s == "unless-stopped" => Ok(RestartPolicy::UnlessStopped),
            None if s == "on-failure" => Ok(RestartPolicy::OnFailure(0)),
            Some(("on-failure", n)) => n.parse().map(RestartPolicy::OnFailure).map_err(|_| bad()),
            _ => Err(bad()),
        }
    }
}

impl std::fmt::Display for RestartPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RestartPolicy::No => f.write_str("no"),
            RestartPolicy::OnFailure(0) => f.write_str("on-failure"),
            RestartPolicy::OnFailure(n) => write!(f, "on-failure:{n}"),
            RestartPolicy::Always => f.write_str("always"),
            RestartPolicy::UnlessStopped => f.write_str("unless-stopped"),
        }
    }
}

impl RestartPolicy {
    /// Should a container that exited with `code`, after `restarts` restarts, start again?
    pub fn restarts(self, code: i32, restarts: u32) -> bool {
        match self {
            RestartPolicy::No => false,
            RestartPolicy::OnFailure(max) => code != 0 && (max == 0 || restarts < max),
            RestartPolicy::Always | RestartPolicy::UnlessStopped => true,
        }
    }
}

impl Serialize for RestartPolicy {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RestartPolicy {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// `--log-driver`: where a container's output is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum LogDriver {
    /// `containers/<id>/container.log`, Docker's json-file format.
    #[default]
    #[serde(rename = "json-file")]
    JsonFile,
    /// Nowhere: `rrun logs` has nothing to read.
    #[serde(rename = "none")]
    None,
}

impl std::str::FromStr for LogDriver {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "json-file" => Ok(LogDriver::JsonFile),
            "none" => Ok(LogDriver::None),
            other => Err(format!("unsupported log driver {other:?}: expected json-file or none")),
        }
    }
}

impl std::fmt::Display for LogDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LogDriver::JsonFile => "json-file",
            LogDriver::None => "none",
        })
    }
}
