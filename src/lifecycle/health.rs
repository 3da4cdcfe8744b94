//! Health checks with no daemon: a detached container's monitor runs its
//! check (`--health-cmd`, or the image's `Healthcheck`) through the exec
//! path every interval, and records each result in the container's record
//! with Docker's rules — `starting` until a check passes, `healthy` after
//! one that passes, `unhealthy` after `retries` failures in a row (failures
//! within the start period do not count while it is still starting); the
//! last five results are kept. `rrun healthcheck run` runs one check now.

use super::Container;
use crate::container::{self, ContainerRecord, Health, HealthResult, HealthStatus, Status};
use crate::image::Healthcheck;
use crate::launcher::{ChildIo, StdinMode, StdioMode};
use crate::{Error, ExecOptions, Rrun};
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::signal::Signal;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::time::{Duration, Instant};

/// Results kept in `State.Health.Log`, as Docker keeps.
const MAX_LOG: usize = 5;
/// Output kept of one check, as Docker keeps.
const MAX_OUTPUT: usize = 4096;
const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_RETRIES: u32 = 3;

/// The health check a container gets: `user`'s fields (flags) over the
/// image's, field by field. None when there is no test or it is `NONE`.
pub(crate) fn resolve(image: Option<&Healthcheck>, user: Option<&Healthcheck>) -> Option<Healthcheck> {
    let mut hc = image.cloned().unwrap_or_default();
    if let Some(u) = user {
        if !u.test.is_empty() {
            hc.test = u.test.clone();
        }
        for (mine, theirs) in [
            (&mut hc.interval, u.interval),
            (&mut hc.timeout, u.timeout),
            (&mut hc.start_period, u.start_period),
            (&mut hc.retries, u.retries),
        ] {
            if theirs != 0 {
                *mine = theirs;
            }
        }
    }
    match hc.test.first().map(String::as_str) {
        Some("CMD") | Some("CMD-SHELL") if hc.test.len() > 1 => Some(hc),
        _ => None,
    }
}

/// A health check ready to run: the command and Docker's defaults applied.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Check {
    pub command: Vec<String>,
    pub interval: Duration,
    pub timeout: Duration,
    pub start_period: Duration,
    pub retries: u32,
}

impl Check {
    pub fn new(hc: &Healthcheck) -> Option<Check> {
        let command = match hc.test.split_first() {
            Some((kind, args)) if kind == "CMD" && !args.is_empty() => args.to_vec(),
            // Docker's CMD-SHELL: the rest, joined, run by the container's shell
            Some((kind, args)) if kind == "CMD-SHELL" && !args.is_empty() => {
                vec!["/bin/sh".into(), "-c".into(), args.join(" ")]
            }
            _ => return None,
        };
        let or = |ns: i64, default: Duration| if ns > 0 { Duration::from_nanos(ns as u64) } else { default };
        Some(Check {
            command,
            interval: or(hc.interval, DEFAULT_INTERVAL),
            timeout: or(hc.timeout, DEFAULT_TIMEOUT),
            start_period: or(hc.start_period, Duration::ZERO),
            retries: if hc.retries > 0 { hc.retries.min(u32::MAX as i64) as u32 } else { DEFAULT_RETRIES },
        })
    }
}

/// Docker's rules for one more result; true when the status changed.
pub(crate) fn apply(health: &mut Health, result: HealthResult, retries: u32, in_start_period: bool) -> bool {
    let before = health.status;
    let passed = result.exit_code == 0;
    health.log.push(result);
    let excess = health.log.len().saturating_sub(MAX_LOG);
    health.log.drain(..excess);
    if passed {
        health.failing_streak = 0;
        health.status = HealthStatus::Healthy;
    } else if !(health.status == HealthStatus::Starting && in_start_period) {
        health.failing_streak += 1;
        if health.failing_streak >= retries {
            health.status = HealthStatus::Unhealthy;
        }
    }
    health.status != before
}

/// One check running in the container.
pub(crate) struct Probe {
    io: ChildIo,
    /// The check's stdout and stderr, until each closes.
    outputs: Vec<OwnedFd>,
    output: Vec<u8>,
    start: String,
    deadline: Instant,
    timeout: Duration,
    killed: bool,
}

impl Probe {
    /// Starts the check in the container whose init is `pid`; a check that
    /// cannot start is a failed result at once.
    fn start(
        rrun: &Rrun,
        c: &Container,
        record: &ContainerRecord,
        pid: i32,
        check: &Check,
    ) -> Result<Probe, HealthResult> {
        let start = container::now_rfc3339();
        let opts = ExecOptions { command: check.command.clone(), ..Default::default() };
        match rrun.spawn_exec(&c.spec, record, pid, &opts, StdioMode::Capture(StdinMode::Null)) {
            Ok(child) => {
                let mut io = child.into_io();
                let outputs = [io.stdout.take(), io.stderr.take()].into_iter().flatten().collect();
                Ok(Probe {
                    io,
                    outputs,
                    output: Vec::new(),
                    start,
                    deadline: Instant::now() + check.timeout,
                    timeout: check.timeout,
                    killed: false,
                })
            }
            Err(e) => Err(HealthResult {
                start,
                end: container::now_rfc3339(),
                exit_code: -1,
                output: format!("rrun: the health check could not run: {e}"),
            }),
        }
    }

    fn fds(&self) -> impl Iterator<Item = BorrowedFd<'_>> {
        self.outputs.iter().map(|f| f.as_fd())
    }

    /// Reads what the check wrote to output `i` (of [`Probe::fds`]); keeps the first 4 KiB.
    fn read(&mut self, i: usize) {
        let mut buf = [0u8; 4096];
        match nix::unistd::read(self.outputs[i].as_raw_fd(), &mut buf) {
            Ok(0) | Err(Errno::EIO) => {
                self.outputs.remove(i);
            }
            Ok(n) => {
                let room = MAX_OUTPUT.saturating_sub(self.output.len());
                self.output.extend_from_slice(&buf[..n.min(room)]);
            }
            Err(_) => {}
        }
    }

    /// The result once the check has exited; kills it when its time is up.
    fn finish(&mut self) -> Option<HealthResult> {
        if !self.killed && Instant::now() >= self.deadline {
            self.io.kill(Signal::SIGKILL);
            self.killed = true;
        }
        let status = match self.io.try_reap() {
            Ok(Some(s)) => s,
            Ok(None) => return None,
            Err(_) => crate::launcher::ExitStatus::Exited(-1),
        };
        let mut buf = [0u8; 4096];
        for fd in &self.outputs {
            crate::launcher::drain(fd, &mut buf, &mut |b| {
                let room = MAX_OUTPUT.saturating_sub(self.output.len());
                self.output.extend_from_slice(&b[..b.len().min(room)]);
                true
            });
        }
        let (exit_code, output) = if self.killed {
            (-1, format!("Health check exceeded timeout ({})", crate::timespec::format_duration(self.timeout)))
        } else {
            (status.code(), String::from_utf8_lossy(&self.output).into_owned())
        };
        Some(HealthResult { start: self.start.clone(), end: container::now_rfc3339(), exit_code, output })
    }

    /// Ends a check that is still running (its container exited) and waits for it.
    fn abandon(&mut self) {
        self.io.kill(Signal::SIGKILL);
        self.killed = true;
        while matches!(self.io.try_reap(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// A detached container's checks, as its monitor runs them: one every
/// interval after the last one ended.
pub(crate) struct Checker {
    check: Check,
    next: Instant,
    probe: Option<Probe>,
}

impl Checker {
    pub fn new(check: Check) -> Checker {
        Checker { next: Instant::now() + check.interval, check, probe: None }
    }

    /// When the monitor must look again at the latest.
    pub fn deadline(&self) -> Instant {
        match &self.probe {
            // a killed check's end comes as SIGCHLD
            Some(p) if p.killed => Instant::now() + Duration::from_secs(1),
            Some(p) => p.deadline,
            None => self.next,
        }
    }

    /// The running check's outputs to poll.
    pub fn fds(&self) -> Vec<BorrowedFd<'_>> {
        self.probe.as_ref().map(|p| p.fds().collect()).unwrap_or_default()
    }

    /// Output `i` of [`Checker::fds`] is readable.
    pub fn read(&mut self, i: usize) {
        if let Some(p) = &mut self.probe {
            p.read(i);
        }
    }

    /// Starts a check when one is due; records the one that finished.
    pub fn tick(&mut self, rrun: &Rrun, c: &Container, pid: i32) {
        if let Some(p) = &mut self.probe {
            if let Some(result) = p.finish() {
                self.probe = None;
                rrun.record_health(&c.dir, result, &self.check);
                self.next = Instant::now() + self.check.interval;
            }
            return;
        }
        if Instant::now() < self.next {
            return;
        }
        // the cgroup and state of this run are in the record, not in `c` (read at the monitor's start)
        let Some(record) = container::read_record(&c.dir) else { return };
        match Probe::start(rrun, c, &record, pid, &self.check) {
            Ok(p) => self.probe = Some(p),
            Err(result) => {
                rrun.record_health(&c.dir, result, &self.check);
                self.next = Instant::now() + self.check.interval;
            }
        }
    }

    /// The container exited: a check still running is ended.
    pub fn stop(&mut self) {
        if let Some(mut p) = self.probe.take() {
            p.abandon();
        }
    }
}

impl Rrun {
    /// Records one result in the container's health; emits `health_status`
    /// when the status changes. Returns the new status.
    pub(crate) fn record_health(&self, dir: &Path, result: HealthResult, check: &Check) -> Option<HealthStatus> {
        let mut changed = false;
        let rec = self
            .update(dir, |r| {
                let started = r.started_at.as_deref().and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok());
                let at = chrono::DateTime::parse_from_rfc3339(&result.start).ok();
                let in_start_period = match (started, at) {
                    (Some(s), Some(a)) => (a - s).to_std().unwrap_or_default() < check.start_period,
                    _ => false,
                };
                let health = r.health.get_or_insert_with(Health::default);
                changed = apply(health, result, check.retries, in_start_period);
            })
            .ok()
            .flatten()?;
        let status = rec.health.as_ref().map(|h| h.status)?;
        if changed {
            self.emit_container(&rec, &format!("health_status: {status}"), &[]);
        }
        Some(status)
    }

    /// The health of a container that starts: `starting`, no results yet.
    pub(crate) fn reset_health(&self, dir: &Path) {
        let _ = self.update(dir, |r| {
            r.health = r.healthcheck.as_ref().map(|_| Health::default());
        });
    }

    /// `rrun healthcheck run`: runs the container's check once now and
    /// records it; returns true when it passed.
    pub fn healthcheck_run(&self, name_or_id: &str) -> Result<bool, Error> {
        let c = self.open_container(name_or_id)?;
        if c.record.status != Status::Running {
            return Err(Error::ContainerNotRunning(name_or_id.to_string()));
        }
        let check = c
            .record
            .healthcheck
            .as_ref()
            .and_then(Check::new)
            .ok_or_else(|| Error::NoHealthcheck(name_or_id.to_string()))?;
        let pid = c.record.pid.ok_or_else(|| Error::ContainerNotRunning(name_or_id.to_string()))?;
        let result = match Probe::start(self, &c, &c.record, pid, &check) {
            Err(result) => result,
            Ok(mut probe) => loop {
                if let Some(result) = probe.finish() {
                    break result;
                }
                let left = probe.deadline.saturating_duration_since(Instant::now()) + Duration::from_millis(1);
                let timeout = PollTimeout::try_from(left.as_millis().min(60_000) as i32).unwrap_or(PollTimeout::MAX);
                let ready: Vec<bool> = {
                    // SIGCHLD of the check arrives on its signalfd
                    let mut fds = vec![PollFd::new(probe.io.signal_fd(), PollFlags::POLLIN)];
                    fds.extend(probe.fds().map(|f| PollFd::new(f, PollFlags::POLLIN)));
                    let _ = nix::poll::poll(&mut fds, timeout);
                    fds.iter().map(|f| f.revents().is_some_and(|r| !r.is_empty())).collect()
                };
                if ready[0] {
                    probe.io.handle_signal();
                }
                for i in (1..ready.len()).rev().filter(|i| ready[*i]) {
                    probe.read(i - 1);
                }
            },
        };
        let passed = result.exit_code == 0;
        self.record_health(&c.dir, result, &check);
        Ok(passed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hc(test: &[&str]) -> Healthcheck {
        Healthcheck { test: test.iter().map(|s| s.to_string()).collect(), ..Default::default() }
    }

    fn result(code: i32) -> HealthResult {
        HealthResult { start: "s".into(), end: "e".into(), exit_code: code, output: String::new() }
    }

    #[test]
    fn flags_merge_over_the_image_check() {
        let image = Healthcheck { interval: 5_000_000_000, retries: 7, ..hc(&["CMD", "check"]) };
        assert_eq!(resolve(Some(&image), None), Some(image.clone()));
        let user = Healthcheck { interval: 1_000_000_000, ..Default::default() };
        let merged = resolve(Some(&image), Some(&user)).unwrap();
        assert_eq!((merged.test, merged.interval, merged.retries), (image.test.clone(), 1_000_000_000, 7));
        assert_eq!(resolve(Some(&image), Some(&hc(&["NONE"]))), None, "--no-healthcheck");
        assert_eq!(resolve(None, Some(&user)), None, "no test anywhere");
        assert_eq!(resolve(Some(&hc(&["NONE"])), None), None);
        assert_eq!(resolve(None, Some(&hc(&["CMD-SHELL", "true"]))).unwrap().test, ["CMD-SHELL", "true"]);
    }

    #[test]
    fn checks_run_as_docker_runs_them() {
        let c = Check::new(&hc(&["CMD-SHELL", "curl -f http://x || exit 1"])).unwrap();
        assert_eq!(c.command, ["/bin/sh", "-c", "curl -f http://x || exit 1"]);
        assert_eq!(
            (c.interval, c.timeout, c.start_period, c.retries),
            (DEFAULT_INTERVAL, DEFAULT_TIMEOUT, Duration::ZERO, 3)
        );
        assert_eq!(Check::new(&hc(&["CMD", "test", "-e", "/ok"])).unwrap().command, ["test", "-e", "/ok"]);
        assert!(Check::new(&hc(&["CMD"])).is_none());
        assert!(Check::new(&hc(&["NONE"])).is_none());
    }

    #[test]
    fn status_follows_dockers_rules() {
        let mut h = Health::default();
        assert_eq!(h.status, HealthStatus::Starting);
        // failures in the start period do not count while starting
        assert!(!apply(&mut h, result(1), 2, true));
        assert_eq!((h.status, h.failing_streak), (HealthStatus::Starting, 0));
        assert!(!apply(&mut h, result(1), 2, false));
        assert_eq!((h.status, h.failing_streak), (HealthStatus::Starting, 1));
        assert!(apply(&mut h, result(1), 2, false), "retries reached");
        assert_eq!(h.status, HealthStatus::Unhealthy);
        assert!(apply(&mut h, result(0), 2, false));
        assert_eq!((h.status, h.failing_streak), (HealthStatus::Healthy, 0));
        // once healthy, the start period no longer protects
        assert!(!apply(&mut h, result(1), 2, true));
        assert_eq!(h.failing_streak, 1);
        for _ in 0..10 {
            apply(&mut h, result(0), 2, false);
        }
        assert_eq!(h.log.len(), MAX_LOG, "the last five results are kept");
        assert!(apply(&mut h, result(-1), 1, false), "a check that could not run is a failure");
        assert_eq!(h.status, HealthStatus::Unhealthy);
    }
}
