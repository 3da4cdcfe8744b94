//! Container records: what `containers/<id>/container.json` says about a
//! container, and how to tell whether its process is really still alive.

use crate::digest::Digest;
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Created,
    Running,
    Exited,
}

/// Everything rrun keeps about one container besides its Spec (`config.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerRecord {
    pub id: String,
    pub name: String,
    /// The image as the user named it.
    pub image: String,
    /// Manifest digest of the image.
    pub image_manifest: Digest,
    /// Image ID (config digest).
    pub image_id: Digest,
    /// Layers (diff-ids), bottom first: kept so they are not removed under the container.
    pub layers: Vec<Digest>,
    pub command: Vec<String>,
    pub created: String,
    pub auto_remove: bool,
    pub status: Status,
    /// Host PID of the container's init while it runs, with its start time
    /// (clock ticks since boot), so that a reused PID is not taken for it.
    #[serde(default)]
    pub pid: Option<i32>,
    #[serde(default)]
    pub pid_start_time: Option<u64>,
    #[serde(default)]
    pub exit_code: Option<i32>,
    #[serde(default)]
    pub started_at: Option<String>,
    #[serde(default)]
    pub finished_at: Option<String>,
    /// The container's cgroup directories.
    #[serde(default)]
    pub cgroup: Vec<std::path::PathBuf>,
    #[serde(default)]
    pub oom_killed: bool,
}

impl ContainerRecord {
    /// True when the record says running but its process is gone (SIGKILL,
    /// reboot): such a container is exited, whatever the file says.
    pub fn is_stale(&self) -> bool {
        self.status == Status::Running
            && match (self.pid, self.pid_start_time) {
                (Some(pid), Some(start)) => !process_alive(pid, start),
                _ => true,
            }
    }

    /// The status with staleness taken into account.
    pub fn effective_status(&self) -> Status {
        if self.is_stale() {
            Status::Exited
        } else {
            self.status
        }
    }
}

/// A new 64-hex container ID from the kernel's random source.
pub fn new_id() -> String {
    let mut bytes = [0u8; 32];
    let mut filled = 0;
    while filled < bytes.len() {
        // SAFETY: the pointer and length describe the unfilled tail of `bytes`.
        let n = unsafe { libc::getrandom(bytes[filled..].as_mut_ptr().cast(), bytes.len() - filled, 0) };
        if n > 0 {
            filled += n as usize;
        }
    }
    hex::encode(bytes)
}

/// A Docker-style container name is `[a-zA-Z0-9][a-zA-Z0-9_.-]*`.
pub fn valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 253
        && b[0].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

/// A name for a container the user did not name: two words and the ID's start.
pub fn generated_name(id: &str) -> String {
    const ADJ: [&str; 8] = ["brave", "calm", "eager", "gentle", "keen", "lucid", "quiet", "swift"];
    const NOUN: [&str; 8] = ["curie", "hopper", "lovelace", "noether", "ritchie", "thompson", "torvalds", "turing"];
    let b = hex::decode(&id[..4]).unwrap_or_else(|_| vec![0, 0]);
    format!("{}_{}_{}", ADJ[b[0] as usize % 8], NOUN[b[1] as usize % 8], &id[..6])
}

/// The start time (field 22 of `/proc/PID/stat`, clock ticks since boot).
pub fn process_start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // the command name (field 2) is in parentheses and may contain spaces
    let after = &stat[stat.rfind(')')? + 2..];
    after.split(' ').nth(19)?.parse().ok()
}

/// True when process `pid` exists, started at `start_time`, and is not a zombie.
pub fn process_alive(pid: i32, start_time: u64) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let Some(close) = stat.rfind(')') else {
        return false;
    };
    let mut fields = stat[close + 2..].split(' ');
    let state = fields.next();
    let start = fields.nth(18).and_then(|s| s.parse::<u64>().ok());
    state != Some("Z") && start == Some(start_time)
}

pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// Reads a record; `None` if the directory holds none (a half-created container).
pub fn read_record(dir: &Path) -> Option<ContainerRecord> {
    let bytes = std::fs::read(dir.join("container.json")).ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_64_hex_and_distinct() {
        let a = new_id();
        let b = new_id();
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn names() {
        assert!(valid_name("web"));
        assert!(valid_name("web-1.a_b"));
        assert!(!valid_name("-web"));
        assert!(!valid_name("a/b"));
        assert!(!valid_name(""));
        let n = generated_name(&new_id());
        assert!(valid_name(&n), "{n}");
    }

    #[test]
    fn liveness_uses_start_time() {
        let me = std::process::id() as i32;
        let start = process_start_time(me).unwrap();
        assert!(process_alive(me, start));
        assert!(!process_alive(me, start + 1), "same pid, other start time: not the same process");
        assert!(!process_alive(i32::MAX, start));
    }
}
