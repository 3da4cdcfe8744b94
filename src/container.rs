//! Container records: what `containers/<id>/container.json` says about a
//! container, and how to tell whether its process is really still alive.

use crate::digest::Digest;
pub use crate::procfs::{process_alive, process_start_time};
pub use crate::spec::{LogDriver, RestartPolicy};
pub use crate::timespec::now_rfc3339;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Where a container is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Status {
    /// Created, never started (or being started).
    Created,
    /// Its process runs.
    Running,
    /// Running, with every process frozen (`rrun pause`).
    Paused,
    /// Its process has ended (or was never seen again after a crash of rrun).
    Exited,
}

/// A published port: the host's address and port that lead to the container's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortMapping {
    /// The port inside the container.
    pub container_port: u16,
    /// `tcp`, `udp` or `sctp`.
    pub protocol: String,
    /// The host address it is published on (empty: every address).
    pub host_ip: String,
    /// The host port.
    pub host_port: u16,
}

/// `--network` and its companions, as asked at create; applied at every start.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkRequest {
    /// `bridge` (the container joins `networks`), `host`, `none`, or
    /// `container:<ID>`; empty in records made before rrun had networks (the host's).
    pub mode: String,
    /// The bridge networks it joins, in order: the first has the default route.
    #[serde(default)]
    pub networks: Vec<NetworkAttachment>,
    /// `-p`, `-P`: ports published on the host, as asked (host port 0: any free one).
    #[serde(default)]
    pub publish: Vec<crate::spec::PortRequest>,
    /// `--dns`: nameserver addresses for its `/etc/resolv.conf`.
    #[serde(default)]
    pub dns: Vec<String>,
    /// `--dns-search`: search domains for its `/etc/resolv.conf`.
    #[serde(default)]
    pub dns_search: Vec<String>,
    /// `--dns-option`: `options` lines for its `/etc/resolv.conf` (`ndots:2`).
    #[serde(default)]
    pub dns_options: Vec<String>,
    /// `--add-host`: (name, IP or `host-gateway`).
    #[serde(default)]
    pub add_hosts: Vec<(String, String)>,
}

/// One network a container joins (`--network NAME`, `network connect`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkAttachment {
    /// The network's name in the store.
    pub name: String,
    /// `--network-alias`: names other containers of the network resolve to it (besides its name).
    #[serde(default)]
    pub aliases: Vec<String>,
    /// `--ip`.
    #[serde(default)]
    pub ip: Option<String>,
    /// `--mac-address`.
    #[serde(default)]
    pub mac: Option<String>,
}

/// The container's side of a network while it runs: what netavark set up.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// The network's name.
    pub network: String,
    /// The network's 64-hex ID.
    pub network_id: String,
    /// Its interface in the container (`eth0`, `eth1`…).
    pub interface: String,
    /// Its IPv4 address, without the prefix length.
    pub ip: String,
    /// The subnet's prefix length (`16` for a /16).
    pub prefix_len: u8,
    /// Its default gateway on this network; empty on an `--internal` one.
    pub gateway: String,
    /// Its interface's MAC address (`aa:bb:…`).
    pub mac: String,
    /// The names the network's DNS answers for it (its name, short ID and aliases).
    #[serde(default)]
    pub aliases: Vec<String>,
}

/// Where a container's health checks stand (Docker's `State.Health.Status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    /// No check has passed yet (and too few have failed to call it unhealthy).
    #[default]
    Starting,
    /// The last check passed.
    Healthy,
    /// `retries` checks in a row failed.
    Unhealthy,
}

impl std::fmt::Display for HealthStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            HealthStatus::Starting => "starting",
            HealthStatus::Healthy => "healthy",
            HealthStatus::Unhealthy => "unhealthy",
        })
    }
}

/// One health check's result, as `docker inspect` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthResult {
    /// Docker's `Start`: when the check started (RFC 3339).
    pub start: String,
    /// Docker's `End`: when it ended (RFC 3339).
    pub end: String,
    /// 0 healthy, 1 unhealthy, -1 when the check could not run or timed out.
    pub exit_code: i32,
    /// Docker's `Output`: the first 4 KiB of what the check wrote to stdout and stderr.
    pub output: String,
}

/// A container's health (Docker's `State.Health`): status, failures in a
/// row, the last results.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Health {
    /// Docker's `Status`: starting, healthy or unhealthy.
    pub status: HealthStatus,
    /// Docker's `FailingStreak`: checks failed in a row (not counting those in the start period while starting).
    pub failing_streak: u32,
    /// Docker's `Log`: the last 5 results, oldest first.
    pub log: Vec<HealthResult>,
}

/// Everything rrun keeps about one container besides its Spec (`config.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ContainerRecord {
    /// The 64-hex container ID.
    pub id: String,
    /// Its name (given with `--name`, or generated).
    pub name: String,
    /// The image as the user named it.
    pub image: String,
    /// Manifest digest of the image.
    pub image_manifest: Digest,
    /// Image ID (config digest).
    pub image_id: Digest,
    /// Layers (diff-ids), bottom first: kept so they are not removed under the container.
    pub layers: Vec<Digest>,
    /// The command it runs: entrypoint and arguments, resolved.
    pub command: Vec<String>,
    /// When it was created (RFC 3339).
    pub created: String,
    /// `--rm`: removed once it exits.
    pub auto_remove: bool,
    /// Where it is in its life, as last recorded.
    pub status: Status,
    /// Host PID of the container's init while it runs, with its start time
    /// (clock ticks since boot), so that a reused PID is not taken for it.
    #[serde(default)]
    pub pid: Option<i32>,
    /// The start time of `pid` (clock ticks since boot).
    #[serde(default)]
    pub pid_start_time: Option<u64>,
    /// Its exit code once it exited (128+N for signal N).
    #[serde(default)]
    pub exit_code: Option<i32>,
    /// When it last started (RFC 3339).
    #[serde(default)]
    pub started_at: Option<String>,
    /// When it last exited (RFC 3339).
    #[serde(default)]
    pub finished_at: Option<String>,
    /// The container's cgroup directories.
    #[serde(default)]
    pub cgroup: Vec<std::path::PathBuf>,
    /// The kernel's OOM killer killed a process of it on its last run.
    #[serde(default)]
    pub oom_killed: bool,
    /// The process that watches the container (the detached monitor, or the
    /// `rrun run` in the foreground), with its start time.
    #[serde(default)]
    pub monitor_pid: Option<i32>,
    /// The start time of `monitor_pid`.
    #[serde(default)]
    pub monitor_start_time: Option<u64>,
    /// `--restart`: what its monitor does when it exits.
    #[serde(default)]
    pub restart_policy: RestartPolicy,
    /// How many times its monitor restarted it.
    #[serde(default)]
    pub restart_count: u32,
    /// The image's StopSignal (`SIGTERM` when absent).
    #[serde(default)]
    pub stop_signal: Option<String>,
    /// `--init`: a minimal PID 1 reaps zombies.
    #[serde(default)]
    pub init: bool,
    /// Log size at which `container.log` is rotated (bytes; 0: never).
    #[serde(default)]
    pub log_max_size: u64,
    /// Its processes are frozen (`pause`).
    #[serde(default)]
    pub paused: bool,
    /// Why the last start failed, if it did.
    #[serde(default)]
    pub error: Option<String>,
    /// `--log-driver`.
    #[serde(default)]
    pub log_driver: LogDriver,
    /// `-i`: its stdin stays open (a pipe its monitor writes what attached clients type to).
    #[serde(default)]
    pub open_stdin: bool,
    /// The health check its monitor runs (flags merged over the image's); None: none.
    #[serde(default)]
    pub healthcheck: Option<crate::image::Healthcheck>,
    /// What the health checks found since the container last started.
    #[serde(default)]
    pub health: Option<Health>,
    /// Published ports (filled by networking).
    #[serde(default)]
    pub ports: Vec<PortMapping>,
    /// `--stop-timeout`: seconds `stop` waits after the stop signal (None: 10).
    #[serde(default)]
    pub stop_timeout: Option<u64>,
    /// The image's labels with `--label`/`--label-file` over them.
    #[serde(default)]
    pub labels: std::collections::BTreeMap<String, String>,
    /// The volumes the container mounts: kept while it exists.
    #[serde(default)]
    pub volumes: Vec<VolumeUse>,
    /// Its networking, as asked.
    #[serde(default)]
    pub network: NetworkRequest,
    /// While its network is set up (or being set up or torn down): the
    /// host-wide file that says how to tear it down (see `network::state`).
    /// Written before the namespace, addresses and rules exist.
    #[serde(default)]
    pub network_state: Option<std::path::PathBuf>,
    /// Its interfaces on its networks while it runs.
    #[serde(default)]
    pub endpoints: Vec<Endpoint>,
}

/// A volume mounted by a container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeUse {
    /// The volume's name.
    pub name: String,
    /// Where it is mounted in the container.
    pub destination: std::path::PathBuf,
    /// Made for this container (`-v /path`, the image's `Volumes`): `run --rm` and `rm -v` remove it.
    #[serde(default)]
    pub anonymous: bool,
    /// Mounted read-only (`:ro`, `readonly`).
    #[serde(default)]
    pub read_only: bool,
    /// Fill it with the image's content at `destination` on the first start, if it is empty then.
    #[serde(default)]
    pub copy_up: bool,
}

impl ContainerRecord {
    /// True when the record says running but its process is gone (SIGKILL,
    /// reboot): such a container is exited, whatever the file says.
    pub fn is_stale(&self) -> bool {
        matches!(self.status, Status::Running | Status::Paused)
            && match (self.pid, self.pid_start_time) {
                (Some(pid), Some(start)) => !process_alive(pid, start),
                _ => true,
            }
    }

    /// True when the record says running but its init died with nobody left
    /// to record how: a stale record whose monitor is gone too. (While the
    /// monitor lives it is tearing the run down — its network, its cgroup —
    /// and records the exit, its code and an OOM kill, once that is done.)
    fn orphaned(&self) -> bool {
        self.is_stale() && !self.monitor_alive()
    }

    /// The status with staleness and pausing taken into account.
    pub fn effective_status(&self) -> Status {
        match self.status {
            _ if self.orphaned() => Status::Exited,
            Status::Running if self.paused => Status::Paused,
            s => s,
        }
    }

    /// The record as it truly stands: a stale "running" container whose
    /// monitor is gone is shown exited, killed (its init died with its
    /// monitor, by SIGKILL), at an unknown time.
    pub fn resolved(mut self) -> ContainerRecord {
        if self.orphaned() {
            self.status = Status::Exited;
            self.exit_code = self.exit_code.or(Some(137));
            self.pid = None;
            self.pid_start_time = None;
            self.paused = false;
        } else if self.status == Status::Running && self.paused {
            self.status = Status::Paused;
        }
        self
    }

    /// True while the container's process runs (paused or not).
    pub fn is_running(&self) -> bool {
        matches!(self.status, Status::Running | Status::Paused)
    }

    /// True while its monitor (or foreground `rrun run`) is alive.
    pub fn monitor_alive(&self) -> bool {
        matches!((self.monitor_pid, self.monitor_start_time), (Some(p), Some(t)) if process_alive(p, t))
    }

    /// True when the process that was responsible for this container (the
    /// `rrun` that created or ran it, or its monitor) died and left work
    /// undone: a "running" record (its init dies with its parent, the
    /// monitor; one that outlived it, having missed that signal, is orphaned),
    /// a cgroup still there, a network left set up, or a `--rm` container not removed.
    pub fn needs_cleanup(&self) -> bool {
        if self.monitor_alive() {
            return false;
        }
        if self.monitor_pid.is_none() && self.is_running() && !self.is_stale() {
            // no monitor was ever recorded (an older rrun): the running init is left alone
            return false;
        }
        self.is_running()
            || (self.auto_remove && self.monitor_pid.is_some())
            // cgroups are made first to last and removed last to first: the first one tells
            || self.cgroup.first().is_some_and(|d| d.exists())
            // a network namespace, addresses or firewall rules left set up
            || self.network_state.as_ref().is_some_and(|s| s.exists())
    }
}

/// A new 64-hex container ID from the kernel's random source.
pub fn new_id() -> String {
    crate::digest::random_hex()
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

/// Reads a record; `None` if the directory holds none (a half-created container).
pub fn read_record(dir: &Path) -> Option<ContainerRecord> {
    let bytes = std::fs::read(dir.join("container.json")).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// An exclusive `flock` on a container's directory: held while its record
/// is read and changed, and while a dead owner's leftovers are cleaned up.
pub struct RecordLock {
    _lock: nix::fcntl::Flock<std::fs::File>,
}

/// Locks a container's directory and reads its record; `None` when the
/// container (or its record) is gone.
pub fn lock_record(dir: &Path) -> std::io::Result<Option<(RecordLock, ContainerRecord)>> {
    let handle = match std::fs::File::open(dir) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let lock = nix::fcntl::Flock::lock(handle, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| std::io::Error::from(e))?;
    Ok(read_record(dir).map(|r| (RecordLock { _lock: lock }, r)))
}

/// Replaces a record; the caller holds its [`RecordLock`].
pub fn write_record(dir: &Path, record: &ContainerRecord, _held: &RecordLock) -> std::io::Result<()> {
    let bytes = serde_json::to_vec_pretty(record).expect("record serializes");
    // state re-derived after a crash anyway (see `needs_cleanup`): no fsync on this path
    crate::store::write_file_atomic(&dir.join("container.json"), &bytes, false)
}

/// Changes a container's record under an exclusive `flock` on its directory,
/// so that the monitor and commands like `pause` never lose each other's
/// updates. Returns the record as written; `None` when the container is gone.
pub fn update_record(
    dir: &Path,
    change: impl FnOnce(&mut ContainerRecord),
) -> std::io::Result<Option<ContainerRecord>> {
    let Some((lock, mut record)) = lock_record(dir)? else {
        return Ok(None);
    };
    change(&mut record);
    write_record(dir, &record, &lock)?;
    Ok(Some(record))
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
    fn restart_policies() {
        for p in ["no", "always", "unless-stopped", "on-failure", "on-failure:3"] {
            assert_eq!(p.parse::<RestartPolicy>().unwrap().to_string(), p);
        }
        assert!("sometimes".parse::<RestartPolicy>().is_err());
        assert!("on-failure:x".parse::<RestartPolicy>().is_err());
        let p = RestartPolicy::OnFailure(2);
        assert!(p.restarts(1, 0) && p.restarts(1, 1) && !p.restarts(1, 2) && !p.restarts(0, 0));
        assert!(RestartPolicy::Always.restarts(0, 100));
        assert!(!RestartPolicy::No.restarts(1, 0));
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
