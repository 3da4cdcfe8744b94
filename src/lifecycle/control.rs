//! Acting on containers that run under another process (a monitor, or an
//! `rrun run` in the foreground): stop, kill, pause, stats, logs, inspect,
//! prune. The record says where the container's processes and cgroup are;
//! pidfds make sure a reused PID is never signalled.

use super::STOP_MARKER;
use crate::cgroups::{self, Cgroup};
use crate::container::{ContainerRecord, Status};
use crate::launcher::process::ProcessHandle;
use crate::logs::{self, LogEntry};
use crate::{io_error, Error, Rrun};
use nix::sys::signal::Signal;
use std::time::{Duration, Instant};
use tracing::{debug, info};

/// Seconds `stop` waits after the stop signal when neither `-t` nor `--stop-timeout` says.
pub const DEFAULT_STOP_TIMEOUT: u64 = 10;

/// How long `stop` and `rm -f` wait for a monitor to record the exit.
const MONITOR_GRACE: Duration = Duration::from_secs(10);

/// One sample of `rrun stats`.
#[derive(Debug, Clone, serde::Serialize)]
#[non_exhaustive]
pub struct ContainerStats {
    /// The container's ID.
    pub id: String,
    /// Its name.
    pub name: String,
    /// CPU time over the sample as a percentage of one CPU.
    pub cpu_percent: f64,
    /// Memory in use, in bytes (the cgroup's count).
    pub memory_usage: u64,
    /// The cgroup's limit, or the host's memory when unlimited.
    pub memory_limit: u64,
    /// The number of its processes.
    pub pids: u64,
}

/// What `rrun top` shows: `ps`'s header, and its rows of the container's processes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TopOutput {
    /// `ps`'s column headers.
    pub titles: Vec<String>,
    /// One row per process of the container, one cell per column.
    pub processes: Vec<Vec<String>>,
}

/// Docker's reading of `ps` output: the header's columns, and the rows
/// whose PID is one of `pids`, the last column keeping its spaces (CMD).
fn parse_ps(output: &str, pids: &[i32]) -> Result<TopOutput, Error> {
    let mut lines = output.lines();
    let titles: Vec<String> = lines.next().unwrap_or("").split_whitespace().map(String::from).collect();
    let pid_col = titles
        .iter()
        .position(|t| t == "PID")
        .ok_or_else(|| Error::Top("Couldn't find PID field in ps output".into()))?;
    let mut processes = Vec::new();
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let Some(pid) = fields.get(pid_col).and_then(|p| p.parse::<i32>().ok()) else {
            return Err(Error::Top(format!("unexpected pid {:?} in ps output", fields.get(pid_col))));
        };
        if !pids.contains(&pid) {
            continue;
        }
        let n = titles.len();
        let mut row: Vec<String> = fields.iter().take(n.saturating_sub(1)).map(|f| f.to_string()).collect();
        if fields.len() >= n {
            row.push(fields[n - 1..].join(" "));
        }
        processes.push(row);
    }
    Ok(TopOutput { titles, processes })
}

/// Created by `rrun restart` in a container's directory: its monitor starts
/// it again at once when it exits, whatever its policy, and keeps it (`--rm`).
pub(crate) const RESTART_MARKER: &str = "restart-requested";

/// `rrun logs` options.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct LogOptions {
    /// Keep printing as the container writes, until it exits.
    pub follow: bool,
    /// Only the last N lines.
    pub tail: Option<usize>,
}

fn host_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

impl Rrun {
    fn running(&self, name_or_id: &str) -> Result<ContainerRecord, Error> {
        let c = self.container(name_or_id)?;
        if !c.is_running() {
            return Err(Error::ContainerNotRunning(name_or_id.to_string()));
        }
        Ok(c)
    }

    fn init_handle(c: &ContainerRecord) -> Option<ProcessHandle> {
        ProcessHandle::open(c.pid?, c.pid_start_time?)
    }

    /// Stops a container: its StopSignal (SIGTERM by default), then after
    /// `timeout` SIGKILL to every process in its cgroup. Its restart policy
    /// does not bring it back. Returns the record once the exit is recorded.
    pub fn stop(&self, name_or_id: &str, timeout: Duration) -> Result<ContainerRecord, Error> {
        let c = self.container(name_or_id)?;
        let was_running = c.is_running();
        self.halt(&c, Some(timeout))?;
        if was_running {
            self.emit_container(&c, "stop", &[]);
        }
        self.container(&c.id)
    }

    /// [`Rrun::stop`] with the container's own timeout (`--stop-timeout`,
    /// else Docker's 10 s) unless `timeout` is given.
    pub fn stop_with(&self, name_or_id: &str, timeout: Option<Duration>) -> Result<ContainerRecord, Error> {
        let c = self.container(name_or_id)?;
        let timeout = timeout.unwrap_or_else(|| Duration::from_secs(c.stop_timeout.unwrap_or(DEFAULT_STOP_TIMEOUT)));
        self.halt(&c, Some(timeout))?;
        self.container(&c.id)
    }

    /// Kills every process of a running container and waits until its exit
    /// is recorded (for `rm -f`); no restart follows.
    pub(crate) fn kill_all_and_wait(&self, c: &ContainerRecord) -> Result<(), Error> {
        self.halt(c, None)
    }

    /// Ends a container for good: the stop marker keeps its monitor from
    /// restarting it, then each run found (one may be starting while the
    /// monitor backs off) is signalled — the StopSignal with `grace`, else
    /// SIGKILL — until the monitor has exited.
    fn halt(&self, c: &ContainerRecord, grace: Option<Duration>) -> Result<(), Error> {
        if !c.is_running() && !c.monitor_alive() {
            return Ok(());
        }
        let dir = self.store().container_dir(&c.id);
        super::write(&dir.join(STOP_MARKER), b"")?;
        let deadline = Instant::now() + grace.unwrap_or_default() + MONITOR_GRACE;
        loop {
            let Ok(now) = self.container(&c.id) else { return Ok(()) }; // removed (--rm)
            let own = now.monitor_pid == Some(std::process::id() as i32);
            if now.is_running() {
                self.end_run(&now, grace)?;
            } else if own || !now.monitor_alive() {
                break;
            }
            if Instant::now() > deadline {
                tracing::warn!(id = %c.id, "the container's monitor did not finish in time");
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.cleanup_stale(c);
        Ok(())
    }

    /// The record of a container about to be started, once the monitor of its
    /// previous run is done: after the record says exited, that monitor still
    /// removes the run's cgroup and tears its network down (or backs off to
    /// restart it), and a new run must not share either with it. Waits at most
    /// MONITOR_GRACE; a run started meanwhile (a restart) is returned running.
    pub(crate) fn after_previous_monitor(&self, c: &ContainerRecord) -> Result<ContainerRecord, Error> {
        let deadline = Instant::now() + MONITOR_GRACE;
        let mut now = c.clone();
        while !now.is_running()
            && now.monitor_alive()
            && now.monitor_pid != Some(std::process::id() as i32)
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(10));
            now = self.container(&c.id)?;
        }
        Ok(now)
    }

    /// One run of the container: signal, wait, then SIGKILL to all its processes.
    fn end_run(&self, c: &ContainerRecord, grace: Option<Duration>) -> Result<(), Error> {
        self.end_init(c, grace, true)
    }

    /// Signals the run's init (the stop signal, SIGKILL after `grace`) and
    /// waits for its exit. With `whole_cgroup`, SIGKILL goes to every process
    /// of the cgroup; without, only to the init, and the monitor, which kills
    /// the rest once the init is gone, may start the next run in the same
    /// cgroup unharmed (`restart`).
    fn end_init(&self, c: &ContainerRecord, grace: Option<Duration>, whole_cgroup: bool) -> Result<(), Error> {
        let Some(init) = Self::init_handle(c) else { return Ok(()) };
        let cgroup = cgroups::open(&c.cgroup);
        if let Some(timeout) = grace {
            let signal: Signal = c
                .stop_signal
                .as_deref()
                .and_then(|s| s.parse::<crate::Signal>().ok())
                .unwrap_or(crate::Signal::TERM)
                .into();
            info!(id = %c.id, ?signal, ?timeout, "stopping the container");
            init.signal(signal);
            if c.paused {
                // frozen processes cannot act on the signal
                if let Some(cg) = &cgroup {
                    cg.thaw()?;
                }
                let _ = self.update(&self.store().container_dir(&c.id), |r| r.paused = false);
            }
            if init.wait_exit(timeout) {
                return Ok(());
            }
            debug!(id = %c.id, "still running after the timeout: SIGKILL to every process");
        }
        if let Some(cg) = cgroup.as_ref().filter(|_| whole_cgroup) {
            cg.kill_all()?;
        }
        init.signal(Signal::SIGKILL);
        init.wait_exit(MONITOR_GRACE);
        Ok(())
    }

    /// Finishes for a dead monitor what it could not: the container's
    /// leftover processes and cgroup go, and the record says exited.
    pub(crate) fn cleanup_stale(&self, c: &ContainerRecord) {
        if let Err(e) = self.finish_for_dead_owner(&self.store().container_dir(&c.id), false) {
            tracing::warn!(id = %c.id, error = %e, "cleaning up after the container's monitor");
        }
    }

    /// Finishes, under the record's lock, what the dead owner of the
    /// container in `dir` left undone (see [`ContainerRecord::needs_cleanup`]):
    /// every process left in its cgroup is killed and the cgroup removed; a
    /// stale record says exited (137: killed with its monitor). With
    /// `remove_auto`, a `--rm` container goes too (the caller holds the
    /// store's exclusive lock): its record is returned.
    fn finish_for_dead_owner(
        &self,
        dir: &std::path::Path,
        remove_auto: bool,
    ) -> Result<Option<ContainerRecord>, Error> {
        let Some((lock, rec)) = crate::container::lock_record(dir).map_err(crate::io_error(dir))? else {
            return Ok(None);
        };
        if !rec.needs_cleanup() {
            return Ok(None);
        }
        info!(id = %rec.id, status = ?rec.status, "cleaning up after a killed rrun");
        if rec.cgroup.iter().any(|d| d.exists()) {
            if let Some(cg) = cgroups::open(&rec.cgroup) {
                cg.kill_all()?;
                cg.delete()?;
            }
        }
        // its network namespace, interfaces, firewall rules, leases and host ports
        let mut rec = rec;
        let network_left = rec.network_state.is_some();
        if network_left {
            let cfg = crate::network::config::HostConfig::load().unwrap_or_default();
            crate::network::attach::down(&cfg, &rec.id, true)?;
            rec.network_state = None;
            rec.endpoints.clear();
            rec.ports.clear();
        }
        if remove_auto && rec.auto_remove && rec.monitor_pid.is_some() {
            self.store().remove_dir(dir)?;
            drop(lock);
            return Ok(Some(rec));
        }
        if network_left && !rec.is_running() {
            crate::container::write_record(dir, &rec, &lock).map_err(crate::io_error(dir))?;
        }
        if rec.is_running() {
            let resolved = rec.clone().resolved();
            rec.status = Status::Exited;
            rec.exit_code = resolved.exit_code;
            rec.finished_at = rec.finished_at.or_else(|| Some(crate::container::now_rfc3339()));
            rec.pid = None;
            rec.pid_start_time = None;
            rec.paused = false;
            crate::container::write_record(dir, &rec, &lock).map_err(crate::io_error(dir))?;
        }
        Ok(None)
    }

    /// What every command does first: finds the containers whose `rrun` (or
    /// monitor) was killed and finishes for it — their processes killed,
    /// their cgroups removed, stale records marked exited, `--rm` containers
    /// removed with their anonymous volumes. Cheap when there is nothing to
    /// do: each record is read, and a dead owner's first cgroup directory stat'ed.
    pub fn reconcile(&self) -> Result<(), Error> {
        let dir = self.store().containers_dir();
        let Ok(entries) = std::fs::read_dir(&dir) else { return Ok(()) };
        let pending: Vec<std::path::PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| crate::container::read_record(p).is_some_and(|r| r.needs_cleanup()))
            .collect();
        if pending.is_empty() {
            return Ok(());
        }
        let mut removed = Vec::new();
        let mut first_error = None;
        {
            let _lock = self.store().lock_exclusive()?;
            for p in &pending {
                match self.finish_for_dead_owner(p, true) {
                    Ok(Some(rec)) => removed.push(rec),
                    Ok(None) => {}
                    Err(e) => {
                        tracing::warn!(dir = %p.display(), error = %e, "cleaning up after a killed rrun");
                        first_error.get_or_insert(e);
                    }
                }
            }
        }
        for rec in &removed {
            self.emit_container(rec, "destroy", &[]);
            self.remove_anonymous_volumes(&rec.volumes);
            self.collect_orphaned_layers(rec);
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Removes the cgroups below rrun's parent cgroup that no container of
    /// this store names and that no process is in, once a minute old: what a
    /// container's cgroup becomes when its record went without it (an older
    /// rrun, a removal that could not finish). Other stores share the parent:
    /// a cgroup of theirs has a process in it while it is used, and the age
    /// keeps one that is being set up. Returns how many went.
    pub fn remove_orphaned_cgroups(&self) -> usize {
        const MIN_AGE: Duration = Duration::from_secs(60);
        let named: std::collections::HashSet<std::path::PathBuf> =
            self.containers().unwrap_or_default().into_iter().flat_map(|c| c.cgroup).collect();
        let mut removed = 0;
        for (name, dirs) in cgroups::children_of_parent() {
            let is_id = name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit());
            if !is_id || self.store().container_dir(&name).exists() || dirs.iter().any(|d| named.contains(d)) {
                continue;
            }
            let idle = dirs.iter().all(|d| {
                crate::cgroups::read_pids(&d.join("cgroup.procs")).is_empty()
                    && std::fs::metadata(d)
                        .and_then(|m| m.modified())
                        .is_ok_and(|t| t.elapsed().is_ok_and(|age| age >= MIN_AGE))
                    && std::fs::read_dir(d).is_ok_and(|rd| rd.flatten().all(|e| !e.path().is_dir()))
            });
            if !idle {
                continue;
            }
            if let Some(cg) = cgroups::open(&dirs) {
                match cg.delete() {
                    Ok(()) => {
                        info!(cgroup = %name, "removed a cgroup no container names");
                        removed += 1;
                    }
                    Err(e) => tracing::warn!(cgroup = %name, error = %e, "removing a cgroup no container names"),
                }
            }
        }
        removed
    }

    /// Sends `signal` ([`crate::Signal::KILL`] when `None`) to the
    /// container's main process. Returns its record.
    pub fn kill(&self, name_or_id: &str, signal: Option<crate::Signal>) -> Result<ContainerRecord, Error> {
        let sig: Signal = signal.unwrap_or(crate::Signal::KILL).into();
        let c = self.running(name_or_id)?;
        let init = Self::init_handle(&c).ok_or_else(|| Error::ContainerNotRunning(name_or_id.to_string()))?;
        info!(id = %c.id, signal = ?sig, "kill");
        init.signal(sig);
        self.emit_container(&c, "kill", &[("signal", (sig as i32).to_string())]);
        Ok(c)
    }

    fn cgroup_of(c: &ContainerRecord) -> Result<Box<dyn Cgroup>, Error> {
        cgroups::open(&c.cgroup).ok_or_else(|| Error::ContainerNotRunning(c.name.clone()))
    }

    /// Freezes every process of the container (freezer cgroup, or `cgroup.freeze` on v2).
    pub fn pause(&self, name_or_id: &str) -> Result<ContainerRecord, Error> {
        let c = self.running(name_or_id)?;
        if c.status == Status::Paused {
            return Err(Error::ContainerPaused(name_or_id.to_string()));
        }
        Self::cgroup_of(&c)?.freeze()?;
        self.emit_container(&c, "pause", &[]);
        Ok(self.update(&self.store().container_dir(&c.id), |r| r.paused = true)?.unwrap_or(c).resolved())
    }

    /// Thaws a paused container's processes; [`Error::ContainerNotPaused`] when it is not paused.
    pub fn unpause(&self, name_or_id: &str) -> Result<ContainerRecord, Error> {
        let c = self.running(name_or_id)?;
        if c.status != Status::Paused {
            return Err(Error::ContainerNotPaused(name_or_id.to_string()));
        }
        Self::cgroup_of(&c)?.thaw()?;
        self.emit_container(&c, "unpause", &[]);
        Ok(self.update(&self.store().container_dir(&c.id), |r| r.paused = false)?.unwrap_or(c).resolved())
    }

    /// CPU, memory and process counts of a running container, CPU measured over `sample`.
    pub fn stats(&self, name_or_id: &str, sample: Duration) -> Result<ContainerStats, Error> {
        let c = self.running(name_or_id)?;
        let cg = Self::cgroup_of(&c)?;
        let (s0, t0) = (cg.stats()?, Instant::now());
        std::thread::sleep(sample);
        let (s1, t1) = (cg.stats()?, Instant::now());
        let elapsed = (t1 - t0).as_nanos().max(1) as f64;
        Ok(ContainerStats {
            id: c.id.clone(),
            name: c.name.clone(),
            cpu_percent: s1.cpu_usage_ns.saturating_sub(s0.cpu_usage_ns) as f64 / elapsed * 100.0,
            memory_usage: s1.memory_usage,
            memory_limit: s1.memory_limit.unwrap_or_else(host_memory),
            pids: s1.pids,
        })
    }

    /// Passes the container's log entries to `sink`; with `follow`, keeps
    /// going until the container has exited and everything is read.
    pub fn logs(&self, name_or_id: &str, opts: &LogOptions, sink: &mut dyn FnMut(&LogEntry)) -> Result<(), Error> {
        let c = self.container(name_or_id)?;
        if c.log_driver == crate::container::LogDriver::None {
            return Err(Error::LogsNotReadable);
        }
        let path = self.store().container_dir(&c.id).join("container.log");
        if !opts.follow {
            for e in logs::read(&path, opts.tail).map_err(io_error(&path))? {
                sink(&e);
            }
            return Ok(());
        }
        let (past, mut follower) = logs::read_and_follow(&path, opts.tail).map_err(io_error(&path))?;
        for e in &past {
            sink(e);
        }
        loop {
            // read the state before the log: what was written before the exit is then surely read
            let running = self.container(&c.id).map(|r| r.is_running() || r.monitor_alive()).unwrap_or(false);
            for e in follower.poll().map_err(io_error(&path))? {
                sink(&e);
            }
            if !running {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Blocks until the container is not running (a created one: until it
    /// ran and exited) and returns its exit code; an exited one returns at
    /// once. A container removed on exit (`--rm`) is found in the journal.
    pub fn wait(&self, name_or_id: &str) -> Result<i32, Error> {
        let c = self.container(name_or_id)?;
        let dir = self.store().container_dir(&c.id);
        loop {
            let now = match crate::container::read_record(&dir) {
                // its init is gone but its monitor is about to record how: not "killed" yet
                Some(r) if r.is_running() && r.monitor_alive() && r.is_stale() => {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                }
                Some(r) => r.resolved(),
                None => {
                    let code = self.journal().read_all().ok().and_then(|events| {
                        events
                            .iter()
                            .rev()
                            .find(|e| e.actor.id == c.id && e.action == "die")
                            .and_then(|e| e.actor.attributes.get("exitCode").and_then(|v| v.parse::<i32>().ok()))
                    });
                    return code.ok_or_else(|| Error::ContainerNotFound(name_or_id.to_string()));
                }
            };
            match now.status {
                Status::Exited => return Ok(now.exit_code.unwrap_or(0)),
                Status::Created => std::thread::sleep(Duration::from_millis(100)),
                Status::Running | Status::Paused => {
                    match Self::init_handle(&now) {
                        // its monitor records the exit right after it
                        Some(init) if !init.wait_exit(Duration::from_secs(1)) => {}
                        _ => std::thread::sleep(Duration::from_millis(10)),
                    }
                }
            }
        }
    }

    /// Stops the container (its stop signal, SIGKILL after `timeout`) and
    /// starts it again, detached. A running detached container is restarted
    /// by its own monitor (a `--rm` one is kept); returns once it runs again.
    /// Starting needs a single-threaded caller: from a process with other
    /// threads it returns `Error::Launch(`[`LaunchError::MultiThreaded`](crate::LaunchError::MultiThreaded)`)`
    /// before it stops anything.
    pub fn restart(&self, name_or_id: &str, timeout: Duration) -> Result<ContainerRecord, Error> {
        crate::launcher::ensure_single_threaded()?;
        let c = self.container(name_or_id)?;
        let dir = self.store().container_dir(&c.id);
        let detached_monitor = c.monitor_alive() && dir.join(super::attach::SOCKET).exists();
        let started = if c.is_running() && detached_monitor {
            super::write(&dir.join(RESTART_MARKER), b"")?;
            self.end_init(&c, Some(timeout), false)?;
            let deadline = Instant::now() + MONITOR_GRACE;
            loop {
                let now = self.container(&c.id)?;
                if now.is_running() && now.started_at != c.started_at {
                    break now;
                }
                if !now.monitor_alive() || Instant::now() > deadline {
                    let _ = std::fs::remove_file(dir.join(RESTART_MARKER));
                    return Err(Error::ContainerNotRunning(name_or_id.to_string()));
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        } else {
            self.halt(&c, Some(timeout))?;
            self.start(&c.id)?
        };
        self.emit_container(&started, "restart", &[]);
        Ok(started)
    }

    /// Gives a container another name (Docker's rules: valid, unused).
    pub fn rename(&self, name_or_id: &str, new_name: &str) -> Result<ContainerRecord, Error> {
        if !crate::container::valid_name(new_name) {
            return Err(Error::InvalidName(new_name.to_string()));
        }
        let _lock = self.store().lock_exclusive()?;
        let all = self.containers_unlocked()?;
        let c = super::find(&all, name_or_id)?;
        if c.name == new_name {
            return Err(Error::Conflict("Renaming a container with the same name as its current name".into()));
        }
        if let Some(other) = all.iter().find(|o| o.name == new_name) {
            return Err(Error::NameInUse { name: new_name.to_string(), id: other.id.clone() });
        }
        let old = c.name.clone();
        let renamed = self
            .update(&self.store().container_dir(&c.id), |r| r.name = new_name.to_string())?
            .ok_or_else(|| Error::ContainerNotFound(name_or_id.to_string()))?;
        self.emit_container(&renamed, "rename", &[("oldName", format!("/{old}"))]);
        Ok(renamed)
    }

    /// The container's processes as the host's `ps` shows them (`-ef` by
    /// default, else `ps_args`), as `docker top` does.
    pub fn top(&self, name_or_id: &str, ps_args: &[String]) -> Result<TopOutput, Error> {
        let c = self.running(name_or_id)?;
        let pids = Self::cgroup_of(&c)?.pids();
        let args: Vec<String> = if ps_args.is_empty() { vec!["-ef".into()] } else { ps_args.to_vec() };
        let out = std::process::Command::new("ps")
            .args(&args)
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| Error::Top(format!("running ps: {e}")))?;
        if !out.status.success() {
            return Err(Error::Top(format!("ps {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim())));
        }
        parse_ps(&String::from_utf8_lossy(&out.stdout), &pids)
    }

    /// The container's published ports.
    pub fn ports(&self, name_or_id: &str) -> Result<Vec<crate::container::PortMapping>, Error> {
        Ok(self.container(name_or_id)?.ports)
    }

    /// Removes every container that is not running, with its cgroup, and
    /// the cgroups no container names (see [`Rrun::remove_orphaned_cgroups`]);
    /// returns the containers' IDs.
    pub fn prune_containers(&self) -> Result<Vec<String>, Error> {
        let mut removed = Vec::new();
        for c in self.containers()? {
            if !c.is_running() && !c.monitor_alive() {
                match self.remove_container(&c.id, false) {
                    Ok(_) => removed.push(c.id),
                    // started (or removed) meanwhile: not this prune's
                    Err(Error::ContainerRunning(_) | Error::ContainerNotFound(_)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        self.remove_orphaned_cgroups();
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ps_output_is_filtered_to_the_container() {
        let out = "UID          PID    PPID  C STIME TTY          TIME CMD\n\
                   root           1       0  0 10:00 ?        00:00:01 /sbin/init\n\
                   root        4242    4200  0 10:01 ?        00:00:00 sleep 100 --long arg\n\
                   nobody      4243    4242  0 10:01 pts/0    00:00:00 sh\n";
        let t = parse_ps(out, &[4242, 4243]).unwrap();
        assert_eq!(t.titles, ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]);
        assert_eq!(t.processes.len(), 2);
        assert_eq!(t.processes[0], ["root", "4242", "4200", "0", "10:01", "?", "00:00:00", "sleep 100 --long arg"]);
        assert_eq!(t.processes[1][0], "nobody");
        let custom = parse_ps("  PID COMMAND\n 4242 sleep\n    1 init\n", &[4242]).unwrap();
        assert_eq!(custom.processes, [["4242", "sleep"]]);
        assert!(matches!(parse_ps("USER COMMAND\nroot init\n", &[1]), Err(Error::Top(_))), "no PID column");
    }

    #[test]
    fn container_prune_removes_cgroups_no_record_names() {
        if !nix::unistd::Uid::effective().is_root() {
            // in CI (CI set) a test that ran nothing must not pass
            let ci = std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false"));
            assert!(!ci, "container_prune_removes_cgroups_no_record_names cannot run: needs root (CI is set)");
            eprintln!("SKIP container_prune_removes_cgroups_no_record_names: needs root (cgroups)");
            return;
        }
        let root = tempfile::Builder::new().prefix("rrun-unit-orphans").tempdir().unwrap();
        let rrun = Rrun::open(root.path()).unwrap();
        let id = |c: char| c.to_string().repeat(64);
        // where rrun (this process, in its cgroups) makes a container's cgroups
        let plan = |i: &str| cgroups::plan(i).unwrap().dirs().to_vec();
        let (old, young, busy) = (plan(&id('a')), plan(&id('b')), plan(&id('c')));
        for d in old.iter().chain(&young).chain(&busy) {
            std::fs::create_dir_all(d).unwrap();
        }
        let age = |dirs: &[std::path::PathBuf]| {
            for d in dirs {
                let s =
                    std::process::Command::new("touch").args(["-m", "-d", "2 minutes ago"]).arg(d).status().unwrap();
                assert!(s.success());
            }
        };
        age(&old);
        age(&busy);
        // a process in one of busy's hierarchies (pids: no setup needed to join it)
        let mut sleeper = std::process::Command::new("sleep").arg("30").spawn().unwrap();
        let pids_dir = busy.iter().find(|d| d.to_string_lossy().contains("/pids/")).cloned();
        if let Some(d) = &pids_dir {
            std::fs::write(d.join("cgroup.procs"), sleeper.id().to_string()).unwrap();
        }
        rrun.prune_containers().unwrap();
        let gone = |dirs: &[std::path::PathBuf]| dirs.iter().all(|d| !d.exists());
        assert!(gone(&old), "an old empty cgroup no record names goes: {old:?}");
        assert!(!gone(&young), "a young one stays (another store may be starting it)");
        if pids_dir.is_some() {
            assert!(!gone(&busy), "one with a process in it stays");
        }
        sleeper.kill().unwrap();
        sleeper.wait().unwrap();
        for d in young.iter().chain(&busy) {
            let _ = cgroups::open(std::slice::from_ref(d)).map(|cg| cg.delete());
        }
    }
}
