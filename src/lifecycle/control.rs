//! Acting on containers that run under another process (a monitor, or an
//! `rrun run` in the foreground): stop, kill, pause, stats, logs, inspect,
//! prune. The record says where the container's processes and cgroup are;
//! pidfds make sure a reused PID is never signalled.

use super::{Container, STOP_MARKER};
use crate::cgroups::{self, Cgroup};
use crate::container::{ContainerRecord, Status};
use crate::launcher::process::{parse_signal, ProcessHandle};
use crate::logs::{self, LogEntry};
use crate::{io_error, Error, Rrun};
use nix::sys::signal::Signal;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tracing::{debug, info};

/// Seconds `stop` waits after the stop signal when neither `-t` nor `--stop-timeout` says.
pub const DEFAULT_STOP_TIMEOUT: u64 = 10;

/// How long `stop` and `rm -f` wait for a monitor to record the exit.
const MONITOR_GRACE: Duration = Duration::from_secs(10);

/// One sample of `rrun stats`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ContainerStats {
    pub id: String,
    pub name: String,
    /// CPU time over the sample as a percentage of one CPU.
    pub cpu_percent: f64,
    pub memory_usage: u64,
    /// The cgroup's limit, or the host's memory when unlimited.
    pub memory_limit: u64,
    pub pids: u64,
}

/// What `rrun top` shows: `ps`'s header, and its rows of the container's processes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TopOutput {
    pub titles: Vec<String>,
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
            let signal = c.stop_signal.as_deref().and_then(parse_signal).unwrap_or(Signal::SIGTERM);
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

    /// Sends a signal (SIGKILL by default) to the container's main process.
    pub fn kill(&self, name_or_id: &str, signal: Option<&str>) -> Result<ContainerRecord, Error> {
        let sig = match signal {
            Some(s) => parse_signal(s).ok_or_else(|| Error::InvalidSignal(s.to_string()))?,
            None => Signal::SIGKILL,
        };
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
    pub fn restart(&self, name_or_id: &str, timeout: Duration) -> Result<ContainerRecord, Error> {
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

    /// Everything known about a container, shaped like `docker inspect`.
    pub fn inspect(&self, name_or_id: &str) -> Result<Value, Error> {
        let Container { record: c, dir, spec, .. } = self.open_container(name_or_id)?;
        let process = spec.process().as_ref();
        let args = process.and_then(|p| p.args().clone()).unwrap_or_default();
        let resources = spec.linux().as_ref().and_then(|l| l.resources().clone());
        let memory = resources.as_ref().and_then(|r| r.memory().as_ref());
        let cpu = resources.as_ref().and_then(|r| r.cpu().as_ref());
        let nano_cpus = cpu
            .and_then(|c| Some((c.quota()?, c.period()?)))
            .map(|(q, p)| if q > 0 { q as i128 * 1_000_000_000 / p.max(1) as i128 } else { 0 })
            .unwrap_or(0);
        let mounts: Vec<Value> = spec
            .mounts()
            .iter()
            .flatten()
            .filter(|m| {
                // the user's mounts: binds, volumes and tmpfs, not rrun's own /etc files and /dev
                let d = m.destination().to_string_lossy();
                let t = m.typ().as_deref().unwrap_or("");
                matches!(t, "bind" | "tmpfs")
                    && !["/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/dev", "/dev/shm"].contains(&d.as_ref())
            })
            .map(|m| {
                let ro = m.options().iter().flatten().any(|o| o == "ro");
                let propagation = m
                    .options()
                    .iter()
                    .flatten()
                    .find(|o| ["private", "rprivate", "shared", "rshared", "slave", "rslave"].contains(&o.as_str()))
                    .cloned()
                    .unwrap_or_default();
                match c.volumes.iter().find(|v| v.destination == *m.destination()) {
                    Some(v) => json!({
                        "Type": "volume",
                        "Name": v.name,
                        "Source": m.source(),
                        "Destination": m.destination(),
                        "Driver": "local",
                        "Mode": "",
                        "RW": !ro,
                        "Propagation": "",
                    }),
                    None => json!({
                        "Type": m.typ(),
                        "Source": m.source(),
                        "Destination": m.destination(),
                        "Mode": "",
                        "RW": !ro,
                        "Propagation": if m.typ().as_deref() == Some("bind") { propagation } else { String::new() },
                    }),
                }
            })
            .collect();
        let linux = spec.linux().as_ref();
        // a namespace joined by path is another container's (/proc/PID/ns/…): named by its ID
        let others = self.containers().unwrap_or_default();
        let ns_mode = |t: oci_spec::runtime::LinuxNamespaceType| -> String {
            match linux.and_then(|l| l.namespaces().as_ref()).and_then(|n| n.iter().find(|n| n.typ() == t)) {
                None => "host".into(),
                Some(n) => match n.path() {
                    None => "private".into(),
                    Some(p) => {
                        let pid =
                            p.strip_prefix("/proc").ok().and_then(|r| r.iter().next()?.to_str()?.parse::<i32>().ok());
                        match others.iter().find(|o| pid.is_some() && o.pid == pid) {
                            Some(o) => format!("container:{}", o.id),
                            None => format!("path:{}", p.display()),
                        }
                    }
                },
            }
        };
        let shm_size = spec
            .mounts()
            .iter()
            .flatten()
            .find(|m| m.destination() == std::path::Path::new("/dev/shm") && m.typ().as_deref() == Some("tmpfs"))
            .and_then(|m| m.options().iter().flatten().find_map(|o| o.strip_prefix("size=")).map(String::from))
            .and_then(|s| crate::spec::resources::parse_bytes("size", &s).ok())
            .unwrap_or(0);
        let ulimits: Vec<Value> = process
            .and_then(|p| p.rlimits().clone())
            .unwrap_or_default()
            .iter()
            .map(|r| {
                let name = crate::spec::options::ULIMITS.iter().find(|(_, t)| *t == r.typ()).map(|(n, _)| *n);
                let v = |x: u64| if x == u64::MAX { -1 } else { x as i64 };
                json!({ "Name": name, "Soft": v(r.soft()), "Hard": v(r.hard()) })
            })
            .collect();
        let status = match c.status {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Exited => "exited",
        };
        let (policy, retries) = match c.restart_policy {
            crate::RestartPolicy::OnFailure(n) => ("on-failure".to_string(), n),
            p => (p.to_string(), 0),
        };
        let mut ports = serde_json::Map::new();
        for p in &c.ports {
            let key = format!("{}/{}", p.container_port, p.protocol);
            let binding = json!({ "HostIp": p.host_ip, "HostPort": p.host_port.to_string() });
            match ports.entry(key).or_insert_with(|| Value::Array(Vec::new())) {
                Value::Array(a) => a.push(binding),
                _ => unreachable!("inserted as an array"),
            }
        }
        // Docker's NetworkSettings: per network, the address, gateway and MAC address it has while it runs
        let mut networks = serde_json::Map::new();
        for a in &c.network.networks {
            let ep = c.endpoints.iter().find(|e| e.network == a.name);
            let field = |f: fn(&crate::container::Endpoint) -> String| ep.map(f).unwrap_or_default();
            networks.insert(
                a.name.clone(),
                json!({
                    "IPAMConfig": a.ip.as_ref().map(|ip| json!({ "IPv4Address": ip })),
                    "Aliases": ep.map(|e| e.aliases.clone()).filter(|a| !a.is_empty()),
                    "MacAddress": field(|e| e.mac.clone()),
                    "NetworkID": ep.map(|e| e.network_id.clone()).unwrap_or_default(),
                    "EndpointID": ep.map(|e| format!("{}-{}", &c.id[..12], e.interface)).unwrap_or_default(),
                    "Gateway": field(|e| e.gateway.clone()),
                    "IPAddress": field(|e| e.ip.clone()),
                    "IPPrefixLen": ep.map(|e| e.prefix_len).unwrap_or(0),
                    "IPv6Gateway": "",
                    "GlobalIPv6Address": "",
                    "GlobalIPv6PrefixLen": 0,
                    "DriverOpts": null,
                    "Links": null,
                }),
            );
        }
        let first = c.endpoints.first();
        let network_mode = match c.network.mode.as_str() {
            "bridge" => c.network.networks.first().map(|a| a.name.clone()).unwrap_or_else(|| "bridge".into()),
            "" => "host".into(),
            m => m.to_string(),
        };
        let mut port_bindings = serde_json::Map::new();
        for p in &c.network.publish {
            for i in 0..p.range {
                let key = format!("{}/{}", p.container_port + i, p.protocol);
                let host_port = if p.host_port == 0 { String::new() } else { (p.host_port + i).to_string() };
                let binding = json!({ "HostIp": p.host_ip, "HostPort": host_port });
                if let Value::Array(a) = port_bindings.entry(key).or_insert_with(|| Value::Array(Vec::new())) {
                    a.push(binding);
                }
            }
        }
        let network_settings = json!({
            "Bridge": "",
            "SandboxID": if c.network_state.is_some() { c.id.clone() } else { String::new() },
            "SandboxKey": if c.network_state.is_some() {
                crate::network::attach::netns_path(&c.id).display().to_string()
            } else {
                String::new()
            },
            "Ports": ports,
            "Gateway": first.map(|e| e.gateway.clone()).unwrap_or_default(),
            "IPAddress": first.map(|e| e.ip.clone()).unwrap_or_default(),
            "IPPrefixLen": first.map(|e| e.prefix_len).unwrap_or(0),
            "MacAddress": first.map(|e| e.mac.clone()).unwrap_or_default(),
            "EndpointID": first.map(|e| format!("{}-{}", &c.id[..12], e.interface)).unwrap_or_default(),
            // IPv4 only, no hairpin NAT: Docker's keys, with its values for none
            "IPv6Gateway": "",
            "GlobalIPv6Address": "",
            "GlobalIPv6PrefixLen": 0,
            "LinkLocalIPv6Address": "",
            "LinkLocalIPv6PrefixLen": 0,
            "HairpinMode": false,
            "SecondaryIPAddresses": null,
            "SecondaryIPv6Addresses": null,
            "Networks": networks,
        });
        let mut log_config = serde_json::Map::new();
        if c.log_driver == crate::container::LogDriver::JsonFile {
            log_config.insert("max-size".into(), c.log_max_size.to_string().into());
        }
        let mut v = json!({
            "Id": c.id,
            "Created": c.created,
            "Path": args.first(),
            "Args": args.iter().skip(1).collect::<Vec<_>>(),
            "State": {
                "Status": status,
                "Running": c.is_running(),
                "Paused": c.status == Status::Paused,
                "Restarting": false,
                "OOMKilled": c.oom_killed,
                "Dead": false,
                "Pid": c.pid.unwrap_or(0),
                "ExitCode": c.exit_code.unwrap_or(0),
                "Error": c.error.clone().unwrap_or_default(),
                "StartedAt": c.started_at,
                "FinishedAt": c.finished_at,
                "MonitorPid": c.monitor_pid.filter(|_| c.monitor_alive()),
            },
            "Image": c.image_id.to_string(),
            "Name": format!("/{}", c.name),
            "RestartCount": c.restart_count,
            "LogPath": dir.join("container.log"),
            "Cgroup": c.cgroup,
            "HostConfig": {
                "AutoRemove": c.auto_remove,
                "Init": c.init,
                "ReadonlyRootfs": spec.root().as_ref().and_then(|r| r.readonly()).unwrap_or(false),
                "Memory": memory.and_then(|m| m.limit()).unwrap_or(0),
                "MemorySwap": memory.and_then(|m| m.swap()).unwrap_or(0),
                "MemoryReservation": memory.and_then(|m| m.reservation()).unwrap_or(0),
                "NanoCpus": nano_cpus as i64,
                "CpuShares": cpu.and_then(|c| c.shares()).unwrap_or(0),
                "CpuQuota": cpu.and_then(|c| c.quota()).unwrap_or(0),
                "CpuPeriod": cpu.and_then(|c| c.period()).unwrap_or(0),
                "CpusetCpus": cpu.and_then(|c| c.cpus().clone()).unwrap_or_default(),
                "PidsLimit": resources.as_ref().and_then(|r| r.pids().as_ref()).map(|p| p.limit()),
                "RestartPolicy": { "Name": policy, "MaximumRetryCount": retries },
                "BlkioWeight": resources.as_ref().and_then(|r| r.block_io().as_ref()).and_then(|b| b.weight()).unwrap_or(0),
                "ShmSize": shm_size,
                "Sysctls": linux.and_then(|l| l.sysctl().clone()).unwrap_or_default(),
                "IpcMode": ns_mode(oci_spec::runtime::LinuxNamespaceType::Ipc),
                "PidMode": ns_mode(oci_spec::runtime::LinuxNamespaceType::Pid),
                "UTSMode": ns_mode(oci_spec::runtime::LinuxNamespaceType::Uts),
                "OomScoreAdj": process.and_then(|p| p.oom_score_adj()).unwrap_or(0),
                "Ulimits": ulimits,
                "Annotations": spec.annotations().clone().unwrap_or_default(),
                "SecurityOpt": if process.and_then(|p| p.no_new_privileges()).unwrap_or(false) {
                    vec!["no-new-privileges"]
                } else {
                    Vec::new()
                },
                "LogConfig": { "Type": c.log_driver.to_string(), "Config": log_config },
            },
            "NetworkSettings": network_settings,
            "Mounts": mounts,
            "Config": {
                "Hostname": spec.hostname(),
                "User": process.map(|p| format!("{}:{}", p.user().uid(), p.user().gid())),
                "Env": process.and_then(|p| p.env().clone()).unwrap_or_default(),
                "Cmd": c.command,
                "Image": c.image,
                "WorkingDir": process.map(|p| p.cwd().clone()),
                "Tty": process.and_then(|p| p.terminal()).unwrap_or(false),
                "Labels": c.labels,
                "StopSignal": c.stop_signal.clone().unwrap_or_else(|| "SIGTERM".into()),
                "StopTimeout": c.stop_timeout,
                "OpenStdin": c.open_stdin,
            },
            "GraphDriver": {
                "Name": "overlay",
                "Data": {
                    "UpperDir": dir.join("upper"),
                    "WorkDir": dir.join("work"),
                    "MergedDir": dir.join("rootfs"),
                },
            },
        });
        let extra_hosts: Vec<String> = c.network.add_hosts.iter().map(|(n, ip)| format!("{n}:{ip}")).collect();
        for (k, value) in [
            ("NetworkMode", json!(network_mode)),
            ("PortBindings", Value::Object(port_bindings)),
            ("Dns", json!(c.network.dns)),
            ("DnsSearch", json!(c.network.dns_search)),
            ("DnsOptions", json!(c.network.dns_options)),
            ("ExtraHosts", json!(extra_hosts)),
        ] {
            v["HostConfig"][k] = value;
        }
        // as Docker: only a container with a health check has these
        if let Some(hc) = &c.healthcheck {
            v["Config"]["Healthcheck"] = serde_json::to_value(hc).expect("serializes");
            v["State"]["Health"] = serde_json::to_value(c.health.clone().unwrap_or_default()).expect("serializes");
        }
        Ok(v)
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
}
