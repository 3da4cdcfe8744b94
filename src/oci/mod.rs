//! The OCI runtime: containers made from bundles (a `config.json` and a
//! root filesystem), driven by an engine — Podman, containerd, CRI-O —
//! through runc's verbs, one file per verb group:
//!
//! | file | verbs |
//! | --- | --- |
//! | `create.rs` | `create` (the init waits on the exec FIFO), `run` |
//! | `start.rs` | `start` (opens the FIFO, poststart hooks) |
//! | `kill.rs` | `kill`, `delete` (poststop hooks) |
//! | `exec.rs` | `exec` |
//! | `manage.rs` | `state`, `list`, `ps`, `pause`, `resume`, `update`, `events` |
//! | `features.rs` | `features`, `spec` |
//! | `checkpoint.rs` | `checkpoint`, `restore` (CRIU) |
//!
//! Each container has a directory `<root>/<id>/` (root: `--root`, by default
//! `/run/rrun`, volatile like runc's `/run/runc`): `state.json` (what rrun
//! keeps), `config.json` (the Spec as created), `exec.fifo` (until `start`).
//! The status is never stored: it is read from the init process (PID and
//! start time), the FIFO and the freezer, so a crash cannot make it lie.

mod checkpoint;
mod create;
mod exec;
mod features;
mod kill;
mod manage;
mod start;

pub use checkpoint::{CheckpointOptions, CriuOptions, RestoreOptions};
pub use create::CreateOptions;
pub use exec::{ExecOptions, ProcessOverrides};
pub use features::{default_spec, default_spec_text, features};
pub use manage::{ContainerEvent, ContainerStatsData};

use crate::cgroups::{self, Cgroup};
use crate::container::{now_rfc3339, process_alive};
use oci_spec::runtime::Spec;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

crate::steps! {
    OCI_BUNDLE: "oci_bundle" in Rootfs, syscall "read config.json + mkdir + mkfifo", source "src/oci/create.rs",
        what "Read the bundle and make the container's state directory",
        why "An engine hands a runtime a bundle: config.json (the spec) and a root filesystem. The runtime keeps its own state under its --root (runc's /run/runc, rrun's /run/rrun): the spec, a record, and exec.fifo, the FIFO that holds the init between `create` and `start`.";
    OCI_START: "oci_start" in Exec, syscall "open(exec.fifo, O_RDONLY) + read", source "src/oci/start.rs",
        what "Open the exec FIFO: the init goes on",
        why "`start` is only this: opening the FIFO for reading releases the init, blocked in its open for writing, which then runs the startContainer hooks and execs. Reading its one byte proves it did.";
    OCI_DELETE: "oci_delete" in Cleanup, syscall "rmdir (recursive)", source "src/oci/kill.rs",
        what "Remove the container's state",
        why "`delete` kills what is left, removes the cgroup, runs the poststop hooks and then the state directory: the ID is free again.";
}

/// The OCI version rrun implements.
pub const OCI_VERSION: &str = "1.0.2";

/// Every error of the OCI runtime, in runc's words where engines read them.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OciError {
    /// A container ID runc would refuse (see [`valid_id`]).
    #[error("invalid container id {}: only [a-zA-Z0-9_.+-] are allowed, at most 255 of them, and not . or ..", short_id(.0))]
    InvalidId(String),
    /// `create`/`run`/`restore` with an ID this root has already.
    #[error("container with id {0} already exists")]
    Exists(String),
    /// No container of this ID under the root.
    #[error("container {0} does not exist")]
    NotFound(String),
    /// runc's words: containerd's shim reads "container not running" as "already exited"
    #[error("cannot {action} container {id}: container not running")]
    NotRunning {
        /// The container.
        id: String,
        /// The verb refused (`kill`, `exec`, …).
        action: &'static str,
    },
    /// The verb does not apply in the container's status (`start` of a running one, `pause` of a created one).
    #[error("container {id}: {action} is not possible while it is {status}")]
    WrongState {
        /// The container.
        id: String,
        /// The verb refused.
        action: &'static str,
        /// The status it is in.
        status: Status,
    },
    /// `delete` without force of a container that is not stopped.
    #[error("cannot delete container {id} that is not stopped: {status} (use --force)")]
    NotStopped {
        /// The container.
        id: String,
        /// The status it is in.
        status: Status,
    },
    /// The bundle directory is missing or has no usable root filesystem.
    #[error("bundle {bundle}: {reason}")]
    Bundle {
        /// The bundle directory.
        bundle: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A `config.json` (or `--process` file) that cannot be read or parsed.
    #[error("{path}: {reason}")]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// An option or spec value the runtime refuses, with the reason.
    #[error("{0}")]
    Invalid(String),
    /// Starting the init or an exec'd process failed; also
    /// [`LaunchError::MultiThreaded`](crate::LaunchError::MultiThreaded) when
    /// the calling process has other threads.
    #[error(transparent)]
    Launch(#[from] crate::launcher::LaunchError),
    /// Creating, limiting, freezing or reading the container's cgroup failed.
    #[error(transparent)]
    Cgroup(#[from] cgroups::CgroupError),
    /// The spec cannot be applied (an invalid resource value, mount or namespace).
    #[error(transparent)]
    Spec(#[from] crate::spec::SpecError),
    /// A file operation on the state root or the bundle failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The system's error.
        source: std::io::Error,
    },
}

impl OciError {
    /// The exit code of a failed command: 1, as runc's (engines read the
    /// reason from the message: "no such file or directory" is 127 to Podman).
    pub fn exit_code(&self) -> i32 {
        1
    }
}

pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> OciError + '_ {
    move |source| OciError::Io { path: path.to_path_buf(), source }
}

/// A container's status, as the runtime spec names them (and runc's `paused`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// `create` is setting the container up; the init is not waiting yet.
    Creating,
    /// The init waits on the exec FIFO for `start`.
    Created,
    /// The init has exec'd the user's process, which runs.
    Running,
    /// The cgroup is frozen (`pause`).
    Paused,
    /// The init has exited.
    Stopped,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        })
    }
}

/// The state of a container, as `state` prints it (runtime-spec state plus
/// runc's `rootfs`, `created` and `owner`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct State {
    /// The runtime spec version ([`OCI_VERSION`]).
    #[serde(rename = "ociVersion")]
    pub oci_version: String,
    /// The container's ID.
    pub id: String,
    /// The init's PID on the host (0 once stopped, as runc shows it).
    pub pid: i32,
    /// Where the container is in its life.
    pub status: Status,
    /// The bundle directory it was created from.
    pub bundle: PathBuf,
    /// Its root filesystem (absolute).
    pub rootfs: PathBuf,
    /// When it was created (RFC 3339).
    pub created: String,
    /// The user that owns it (empty for root, as in runc).
    pub owner: String,
    /// The spec's annotations.
    #[serde(default, skip_serializing_if = "HashMap::is_empty")]
    pub annotations: HashMap<String, String>,
}

/// What rrun keeps about a container in `<root>/<id>/state.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Record {
    pub id: String,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// The init's host PID and start time (0 / None while creating).
    pub pid: i32,
    pub pid_start_time: Option<u64>,
    pub created: String,
    pub cgroup: Vec<PathBuf>,
    #[serde(default)]
    pub annotations: HashMap<String, String>,
    #[serde(default)]
    pub started_at: Option<String>,
    /// The cgroup held other processes when the container was made: they are
    /// not the container's to kill, and the cgroup is not removed under them.
    #[serde(default)]
    pub shared_cgroup: bool,
}

/// The runc-compatible OCI runtime: a handle on a state root (`/run/rrun`
/// by default) whose containers are created from OCI bundles
/// (`create`/`start`/`kill`/`delete`, as runc's command line has them).
#[derive(Debug, Clone)]
pub struct Runtime {
    root: PathBuf,
    /// `--systemd-cgroup`: cgroupsPath is `slice:prefix:name`.
    systemd_cgroup: bool,
}

/// An ID as an error message shows it: quoted, escaped, at most 40 characters.
fn short_id(id: &str) -> String {
    let mut s: String = id.chars().take(40).collect();
    if s.len() < id.len() {
        s.push('…');
    }
    format!("{s:?}")
}

/// A container ID as runc accepts it.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id != "."
        && id != ".."
        // the state directory is named after it: a file name's limit
        && id.len() <= 255
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'+' | b'-'))
}

impl Runtime {
    /// `/run/rrun` for root, `$XDG_RUNTIME_DIR/rrun` otherwise.
    pub fn default_root() -> PathBuf {
        crate::rootless::state_dir()
    }

    /// A runtime on the state root `root` (created when the first container
    /// is); `systemd_cgroup` reads `cgroupsPath` as systemd's `slice:prefix:name`
    /// (runc's `--systemd-cgroup`).
    pub fn new(root: impl Into<PathBuf>, systemd_cgroup: bool) -> Runtime {
        Runtime { root: root.into(), systemd_cgroup }
    }

    /// The state root: one directory per container.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn dir(&self, id: &str) -> Result<PathBuf, OciError> {
        if !valid_id(id) {
            return Err(OciError::InvalidId(id.to_string()));
        }
        Ok(self.root.join(id))
    }

    /// True when `id` names a container of this root (used to tell runc's
    /// verbs from rrun's high-level ones of the same name).
    pub fn exists(&self, id: &str) -> bool {
        self.dir(id).is_ok_and(|d| d.join("state.json").is_file() || d.join("config.json").is_file())
    }

    pub(crate) fn record(&self, id: &str) -> Result<Record, OciError> {
        let path = self.dir(id)?.join("state.json");
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(OciError::NotFound(id.to_string())),
            Err(e) => return Err(OciError::Io { path, source: e }),
        };
        serde_json::from_slice(&bytes).map_err(|e| OciError::Config { path, reason: e.to_string() })
    }

    pub(crate) fn save(&self, rec: &Record) -> Result<(), OciError> {
        let path = self.dir(&rec.id)?.join("state.json");
        let bytes = serde_json::to_vec(rec).expect("record serializes");
        crate::store::write_file_atomic(&path, &bytes, false).map_err(io(&path))
    }

    /// The Spec the container was created with.
    pub fn config(&self, id: &str) -> Result<Spec, OciError> {
        let path = self.dir(id)?.join("config.json");
        load_spec(&path)
    }

    fn cgroup(rec: &Record) -> Option<Box<dyn Cgroup>> {
        cgroups::open(&rec.cgroup)
    }

    pub(crate) fn status_of(&self, rec: &Record) -> Status {
        let Some(start) = rec.pid_start_time else {
            return Status::Creating;
        };
        if !process_alive(rec.pid, start) {
            return Status::Stopped;
        }
        if self.root.join(&rec.id).join("exec.fifo").exists() {
            return Status::Created;
        }
        if Self::cgroup(rec).is_some_and(|c| c.is_frozen()) {
            return Status::Paused;
        }
        Status::Running
    }

    /// The container's state.
    pub fn state(&self, id: &str) -> Result<State, OciError> {
        let rec = self.record(id)?;
        let status = self.status_of(&rec);
        Ok(State {
            oci_version: OCI_VERSION.into(),
            id: rec.id.clone(),
            pid: if status == Status::Stopped { 0 } else { rec.pid },
            status,
            bundle: rec.bundle.clone(),
            rootfs: rec.rootfs.clone(),
            created: rec.created.clone(),
            owner: String::new(),
            annotations: rec.annotations.clone(),
        })
    }

    /// The state JSON given to hooks.
    pub(crate) fn hook_state(rec: &Record, pid: i32, status: Status) -> String {
        serde_json::to_string(&serde_json::json!({
            "ociVersion": OCI_VERSION,
            "id": rec.id,
            "status": status,
            "pid": pid,
            "bundle": rec.bundle,
            "annotations": rec.annotations,
        }))
        .expect("state serializes")
    }
}

/// Loads and checks a `config.json`.
pub fn load_spec(path: &Path) -> Result<Spec, OciError> {
    Ok(load_bundle_spec(path)?.0)
}

/// What a `config.json` holds beyond the Spec type rrun uses.
#[derive(Debug, Clone, Default)]
pub(crate) struct SpecExtras {
    /// `linux.memoryPolicy` (runtime-spec 1.2), checked.
    pub memory_policy: Option<crate::launcher::mempolicy::Resolved>,
}

/// Loads and checks a `config.json`, with what the Spec type does not keep:
/// fields it would drop are taken out first (and applied, or refused).
pub(crate) fn load_bundle_spec(path: &Path) -> Result<(Spec, SpecExtras), OciError> {
    let bytes = std::fs::read(path).map_err(io(path))?;
    let bad = |reason: String| OciError::Config { path: path.into(), reason };
    let mut raw: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| bad(format!("invalid config.json: {e}")))?;
    // fields the Spec type does not keep must not be dropped silently
    for (i, m) in raw["mounts"].as_array().into_iter().flatten().enumerate() {
        if m.get("uidMappings").is_some() || m.get("gidMappings").is_some() {
            return Err(bad(format!(
                "mounts[{i}] ({}): per-mount uidMappings/gidMappings are not supported; an idmap mount uses the container's user namespace mappings",
                m["destination"].as_str().unwrap_or("?")
            )));
        }
    }
    let mut extras = SpecExtras::default();
    if let Some(linux) = raw.get_mut("linux").and_then(|l| l.as_object_mut()) {
        if let Some(p) = linux.remove("memoryPolicy").filter(|p| !p.is_null()) {
            let policy: crate::launcher::mempolicy::MemoryPolicy =
                serde_json::from_value(p).map_err(|e| bad(format!("invalid linux.memoryPolicy: {e}")))?;
            extras.memory_policy = Some(policy.resolve().map_err(bad)?);
        }
    }
    let spec = <Spec as Deserialize>::deserialize(&raw).map_err(|e| bad(format!("invalid config.json: {e}")))?;
    // what the Spec type did not keep is named, never dropped without a word
    let kept = serde_json::to_value(&spec).unwrap_or_default();
    for field in dropped_fields(&raw, &kept, "") {
        tracing::warn!(config = %path.display(), field = %field, "config.json: {field} is not supported by rrun and is ignored");
    }
    let version = spec.version();
    if !version.starts_with("1.") {
        return Err(bad(format!("unsupported ociVersion {version:?} (rrun implements {OCI_VERSION})")));
    }
    Ok((spec, extras))
}

/// Fields of `raw` (a config as given) that `kept` (the same parsed and
/// written back) lacks: what the Spec type does not know. Nulls, and the
/// free-form annotations, are not fields.
fn dropped_fields(raw: &serde_json::Value, kept: &serde_json::Value, at: &str) -> Vec<String> {
    use serde_json::Value;
    let mut out = Vec::new();
    match (raw, kept) {
        (Value::Object(r), Value::Object(k)) => {
            for (key, v) in r {
                if v.is_null() || key == "annotations" {
                    continue;
                }
                let here = if at.is_empty() { key.clone() } else { format!("{at}.{key}") };
                match k.get(key) {
                    None => out.push(here),
                    Some(kv) => out.extend(dropped_fields(v, kv, &here)),
                }
            }
        }
        (Value::Array(r), Value::Array(k)) => {
            for (i, (rv, kv)) in r.iter().zip(k).enumerate() {
                out.extend(dropped_fields(rv, kv, &format!("{at}[{i}]")));
            }
        }
        _ => {}
    }
    out
}

pub(crate) fn timestamp() -> String {
    now_rfc3339()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked_like_runc() {
        assert!(valid_id(&"a".repeat(255)));
        let msg = OciError::InvalidId("b".repeat(300)).to_string();
        assert!(msg.len() < 200 && msg.contains("at most 255"), "{msg}");
        for ok in ["abc", "a-b_c.d+e", "0123456789abcdef"] {
            assert!(valid_id(ok), "{ok}");
        }
        let long = "a".repeat(256);
        for bad in ["", ".", "..", "a/b", "a b", "x\n", &long] {
            assert!(!valid_id(bad), "{bad:?}");
        }
    }

    #[test]
    fn fields_the_spec_type_drops_are_found_and_iops_throttles_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("config.json");
        std::fs::write(
            &p,
            r#"{"ociVersion":"1.0.2","root":{"path":"rootfs"},"linux":{"resources":{"blockIO":{
                "throttleReadIOPSDevice":[{"major":8,"minor":0,"rate":10}],
                "throttleWriteIOPSDevice":[{"major":8,"minor":0,"rate":20}]}},
                "timeOffsets":{"monotonic":{"secs":5,"nanosecs":1}}}}"#,
        )
        .unwrap();
        let (spec, _) = load_bundle_spec(&p).unwrap();
        let b = spec.linux().as_ref().unwrap().resources().as_ref().unwrap().block_io().clone().unwrap();
        assert_eq!(b.throttle_read_iops_device().as_ref().unwrap()[0].rate(), 10);
        assert_eq!(b.throttle_write_iops_device().as_ref().unwrap()[0].rate(), 20);
        let monotonic = &spec.linux().as_ref().unwrap().time_offsets().as_ref().unwrap()["monotonic"];
        assert_eq!((monotonic.secs(), monotonic.nanosecs()), (Some(5), Some(1)));
        let raw =
            serde_json::json!({"process": {"args": ["x"], "futureField": 1}, "annotations": {"a": "b"}, "n": null});
        let kept = serde_json::json!({"process": {"args": ["x"]}});
        assert_eq!(dropped_fields(&raw, &kept, ""), vec!["process.futureField".to_string()]);
    }

    #[test]
    fn malformed_configs_are_named() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("config.json");
        std::fs::write(&p, "{ not json").unwrap();
        let e = load_spec(&p).unwrap_err().to_string();
        assert!(e.contains("config.json") && e.contains("invalid"), "{e}");
        std::fs::write(&p, r#"{"ociVersion":"0.9.0"}"#).unwrap();
        assert!(load_spec(&p).unwrap_err().to_string().contains("ociVersion"));
    }
}
