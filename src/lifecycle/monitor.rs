//! Detached containers (`run -d`, `start`) and their monitor: a small
//! process of its own session, forked from rrun, that starts the container,
//! writes its output to the log, relays it to attached clients and their
//! input to the container (see `attach`), runs its health checks (see
//! `health`), records how it ended, restarts it as its policy says, removes
//! it with `--rm`, and exits. One thread, one poll loop; nothing stays
//! resident once the container is gone.

use super::attach::{kind, Hub, Request};
use super::control::RESTART_MARKER;
use super::health::{Check, Checker};
use super::{Container, STOP_MARKER};
use crate::container::{self, ContainerRecord, LogDriver};
use crate::launcher::detach::{spawn_detached, Notifier};
use crate::launcher::{self, Child, ExitStatus, LaunchError, StdinMode, StdioMode, Stream};
use crate::logs::LogWriter;
use crate::spec::RunOptions;
use crate::{Error, Rrun};
use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};
use tracing::info;

/// How long `start -a` lets the container wait for its client.
const ATTACH_WAIT: Duration = Duration::from_secs(10);
/// How long after its last activity an idle monitor trims its footprint again.
const IDLE_TRIM: Duration = Duration::from_secs(5);
/// Input queued for the container past which clients are no longer read.
const MAX_INPUT: usize = 64 * 1024;

impl Rrun {
    /// `run -d`: creates the container and starts it under a monitor; returns
    /// once it runs (or with the reason it could not start).
    /// From a process with other threads it returns
    /// `Error::Launch(`[`LaunchError::MultiThreaded`]`)`
    /// before it creates anything.
    pub fn run_detached(&self, image_name: &str, opts: &RunOptions) -> Result<ContainerRecord, Error> {
        crate::launcher::ensure_single_threaded()?;
        // this process owns the record until the monitor takes it over
        let c = self.create_as(image_name, opts, true)?;
        if let Err(e) = self.start_detached(&c, false) {
            if opts.remove {
                self.destroy(&c.record);
                self.remove_anonymous_volumes(&c.record.volumes);
            }
            return Err(e);
        }
        Ok(container::read_record(&c.dir).map(ContainerRecord::resolved).unwrap_or(c.record))
    }

    /// Starts a created or exited container again, detached, on the same
    /// rootfs (its upper layer kept). A running container is left as it is.
    /// From a process with other threads it returns
    /// `Error::Launch(`[`LaunchError::MultiThreaded`]`)`
    /// before it creates anything.
    pub fn start(&self, name_or_id: &str) -> Result<ContainerRecord, Error> {
        crate::launcher::ensure_single_threaded()?;
        let c = self.open_container(name_or_id)?;
        let now = self.after_previous_monitor(&c.record)?;
        if now.is_running() {
            return Ok(now);
        }
        let c = self.open_container(&now.id)?;
        self.cleanup_stale(&c.record);
        self.start_detached(&c, false)?;
        self.container(&c.record.id)
    }

    /// Starts the container under a new monitor. With `hold`, the monitor
    /// reports ready once it listens, and starts the container when a
    /// client has attached (or after a while without one).
    pub(crate) fn start_detached(&self, c: &Container, hold: bool) -> Result<(), Error> {
        let _ = std::fs::remove_file(c.dir.join(STOP_MARKER));
        spawn_detached(|notifier| self.monitor(c, notifier, hold))?;
        info!(id = %c.record.id, "container started detached");
        Ok(())
    }

    /// The monitor's whole life; returns its exit status.
    fn monitor(&self, c: &Container, notifier: Notifier, hold: bool) -> i32 {
        let mut notifier = Some(notifier);
        let fail = |n: &mut Option<Notifier>, msg: &str| {
            if let Some(n) = n.take() {
                n.failed(125, msg);
            }
            125
        };
        if let Err(e) = self.claim_monitor(c).and_then(|_| {
            self.update(&c.dir, |r| r.restart_count = 0)?;
            Ok(())
        }) {
            return fail(&mut notifier, &e.to_string());
        }
        let mut log = match self.open_log(c) {
            Ok(l) => l,
            Err(e) => return fail(&mut notifier, &e.to_string()),
        };
        let mut hub = match Hub::listen(&c.dir) {
            Ok(h) => h,
            Err(e) => return fail(&mut notifier, &e.to_string()),
        };
        if hold {
            if let Some(n) = notifier.take() {
                n.ready();
            }
            hub.wait_for_client(ATTACH_WAIT);
        }
        let check = c.record.healthcheck.as_ref().and_then(Check::new);
        let stdin = if c.record.open_stdin { StdinMode::Pipe } else { StdinMode::Null };
        let mut restarts = 0u32;
        loop {
            if c.dir.join(STOP_MARKER).exists() || !c.dir.exists() {
                // stopped or removed (`rm -f`) before it started
                fail(&mut notifier, &format!("container {} was stopped before it started", c.record.id));
                break;
            }
            let result = self.run_to_exit(
                c,
                StdioMode::Capture(stdin),
                || {
                    if let Some(n) = notifier.take() {
                        n.ready();
                    }
                },
                |child| {
                    let mut checker = check.clone().map(|ch| {
                        self.reset_health(&c.dir);
                        Checker::new(ch)
                    });
                    self.relay(c, child, &mut log, &mut hub, checker.as_mut())
                },
            );
            if let Some(l) = log.as_mut() {
                let _ = l.flush_partial();
            }
            let code = match result {
                Ok(code) => code,
                Err(e) => {
                    match notifier.take() {
                        Some(n) => n.failed(e.exit_code(), &e.to_string()),
                        None => {
                            let msg = e.to_string();
                            let mut payload = vec![e.exit_code().clamp(0, 255) as u8];
                            payload.extend_from_slice(msg.as_bytes());
                            hub.finish(kind::FAILED, &payload);
                            if let Some(l) = log.as_mut() {
                                let _ = l.write(
                                    Stream::Stderr,
                                    format!(
                                        "rrun: {}: {msg}\n",
                                        if restarts > 0 { "restart failed" } else { "start failed" }
                                    )
                                    .as_bytes(),
                                );
                            }
                        }
                    }
                    break;
                }
            };
            // attached clients leave with the exit code, once the record says exited
            hub.finish(kind::EXIT, &code.to_be_bytes());
            let stopped = || c.dir.join(STOP_MARKER).exists() || !c.dir.exists();
            // `rrun restart` asked for this exit: start again at once
            if std::fs::remove_file(c.dir.join(RESTART_MARKER)).is_ok() && !stopped() {
                info!(id = %c.record.id, "restarting the container as asked");
                continue;
            }
            // the policy as it is now (`rrun update --restart` may have changed it)
            let policy = container::read_record(&c.dir).map(|r| r.restart_policy).unwrap_or(c.record.restart_policy);
            if stopped() || !policy.restarts(code, restarts) {
                break;
            }
            restarts += 1;
            // Docker's back-off: 100 ms, doubling, at most about 6 s
            std::thread::sleep(Duration::from_millis(100 << restarts.min(6)));
            if stopped() || self.update(&c.dir, |r| r.restart_count = restarts).ok().flatten().is_none() {
                break;
            }
            info!(id = %c.record.id, restarts, "restarting the container as its policy says");
        }
        drop(hub);
        if let Some(rec) = container::read_record(&c.dir).filter(|r| r.auto_remove) {
            self.destroy(&rec);
            self.remove_anonymous_volumes(&rec.volumes);
        }
        0
    }

    /// Opens the container's log for its driver (None: `--log-driver none`).
    pub(crate) fn open_log(&self, c: &Container) -> Result<Option<LogWriter>, Error> {
        if c.record.log_driver == LogDriver::None {
            return Ok(None);
        }
        let path = c.dir.join("container.log");
        LogWriter::open(&path, c.record.log_max_size).map(Some).map_err(crate::io_error(&path))
    }

    /// Waits for one run of the container: its output to the log and the
    /// attached clients, their input to it, its health checks, signals to
    /// the monitor passed on to it.
    fn relay(
        &self,
        c: &Container,
        child: Child,
        log: &mut Option<LogWriter>,
        hub: &mut Hub,
        mut checker: Option<&mut Checker>,
    ) -> Result<ExitStatus, LaunchError> {
        let mut io = child.into_io();
        let pid = io.pid();
        // a terminal carries both ways; without one, stdout and stderr come apart and stdin is a pipe (-i)
        let pty = io.pty.take();
        let mut outputs: Vec<(Stream, OwnedFd)> = match &pty {
            Some(_) => Vec::new(),
            None => [(Stream::Stdout, io.stdout.take()), (Stream::Stderr, io.stderr.take())]
                .into_iter()
                .filter_map(|(s, fd)| Some((s, fd?)))
                .collect(),
        };
        let mut pty_readable = pty.is_some();
        let mut stdin_pipe = io.stdin.take();
        for fd in pty.iter().chain(stdin_pipe.iter()) {
            let _ = nix::fcntl::fcntl(fd.as_raw_fd(), nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK));
        }
        let accepts_input = c.record.open_stdin;
        let mut input: Vec<u8> = Vec::new();
        let mut close_input = false;
        let mut buf = vec![0u8; 16 * 1024];
        // the footprint is trimmed before the first wait, and again after each busy spell
        let mut busy_until: Option<Instant> = Some(Instant::now());
        #[derive(Clone, Copy)]
        enum Tag {
            Signal,
            Pty,
            Output(usize),
            Stdin,
            Listener,
            Client(usize),
            Check(usize),
        }
        let status = loop {
            if let Some(status) = io.try_reap()? {
                break status;
            }
            // what clients asked (before the container started, too)
            for r in hub.requests() {
                match r {
                    // a container without -i takes no input
                    Request::Input(bytes) if accepts_input => input.extend_from_slice(&bytes),
                    Request::Input(_) => {}
                    Request::Eof => close_input = true,
                    Request::Resize(rows, cols) => {
                        if let Some(p) = &pty {
                            let _ = launcher::set_window_size(p.as_fd(), rows, cols);
                        }
                    }
                }
            }
            if !input.is_empty() {
                write_some(pty.as_ref().or(stdin_pipe.as_ref()).map(|f| f.as_fd()), &mut input);
            }
            if close_input && input.is_empty() {
                close_input = false;
                match &pty {
                    // a terminal's end of input is its EOF character, as typing ^D
                    Some(p) => {
                        let _ = nix::unistd::write(p, &[4]);
                    }
                    None => stdin_pipe = None,
                }
            }
            let input_fd: Option<BorrowedFd<'_>> = pty.as_ref().or(stdin_pipe.as_ref()).map(|f| f.as_fd());
            let ready: Vec<(Tag, PollFlags)> = {
                let mut tags = vec![Tag::Signal];
                let mut fds = vec![PollFd::new(io.signal_fd(), PollFlags::POLLIN)];
                let mut add = |tag, fd, events| {
                    tags.push(tag);
                    fds.push(PollFd::new(fd, events));
                };
                let want_write = if input.is_empty() { PollFlags::empty() } else { PollFlags::POLLOUT };
                if let Some(p) = &pty {
                    // a terminal nobody in the container holds any more hangs up for good: not polled then
                    if pty_readable || !want_write.is_empty() {
                        let read = if pty_readable { PollFlags::POLLIN } else { PollFlags::empty() };
                        add(Tag::Pty, p.as_fd(), read | want_write);
                    }
                } else if let Some(s) = &stdin_pipe {
                    if !want_write.is_empty() {
                        add(Tag::Stdin, s.as_fd(), want_write);
                    }
                }
                for (i, (_, fd)) in outputs.iter().enumerate() {
                    add(Tag::Output(i), fd.as_fd(), PollFlags::POLLIN);
                }
                add(Tag::Listener, hub.listener(), PollFlags::POLLIN);
                for i in 0..hub.len() {
                    let (fd, queued) = hub.client(i);
                    let mut ev = if input.len() < MAX_INPUT { PollFlags::POLLIN } else { PollFlags::empty() };
                    if queued {
                        ev |= PollFlags::POLLOUT;
                    }
                    add(Tag::Client(i), fd, ev);
                }
                let mut wake: Option<Instant> = None;
                if let Some(ch) = checker.as_deref() {
                    for (i, fd) in ch.fds().into_iter().enumerate() {
                        add(Tag::Check(i), fd, PollFlags::POLLIN);
                    }
                    wake = Some(ch.deadline());
                }
                if let Some(until) = busy_until {
                    if Instant::now() >= until {
                        busy_until = None;
                        trim_footprint();
                    } else {
                        wake = Some(wake.map_or(until, |w| w.min(until)));
                    }
                }
                let timeout = match wake {
                    Some(w) => {
                        let left = w.saturating_duration_since(Instant::now());
                        PollTimeout::try_from(left.as_millis().min(60_000) as i32 + 1).unwrap_or(PollTimeout::MAX)
                    }
                    None => PollTimeout::NONE,
                };
                match poll(&mut fds, timeout) {
                    Ok(_) | Err(Errno::EINTR) => {}
                    Err(e) => return Err(LaunchError::Sys { op: "poll".into(), source: e }),
                }
                tags.into_iter()
                    .zip(fds.iter().map(|f| f.revents().unwrap_or(PollFlags::empty())))
                    .filter(|(_, r)| !r.is_empty())
                    .collect()
            };
            if !ready.is_empty() && busy_until.is_none() {
                busy_until = Some(Instant::now() + IDLE_TRIM);
            }
            let mut checks_ready = Vec::new();
            let mut closed = Vec::new();
            for (tag, revents) in ready {
                match tag {
                    Tag::Signal => {
                        io.handle_signal();
                    }
                    Tag::Pty => {
                        if revents.contains(PollFlags::POLLOUT) {
                            write_some(input_fd, &mut input);
                        }
                        if revents.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR) {
                            match nix::unistd::read(pty.as_ref().map(|f| f.as_raw_fd()).unwrap_or(-1), &mut buf) {
                                Ok(0) | Err(Errno::EIO) => pty_readable = false,
                                Ok(n) => sink(Stream::Stdout, &buf[..n], log, hub),
                                Err(_) => {}
                            }
                        }
                    }
                    Tag::Output(i) => match nix::unistd::read(outputs[i].1.as_raw_fd(), &mut buf) {
                        Ok(0) | Err(Errno::EIO) => closed.push(i),
                        Ok(n) => sink(outputs[i].0, &buf[..n], log, hub),
                        Err(_) => {}
                    },
                    Tag::Stdin => write_some(input_fd, &mut input),
                    Tag::Listener => hub.accept(),
                    Tag::Client(i) => {
                        if revents.contains(PollFlags::POLLOUT) {
                            hub.flush(i);
                        }
                        if revents.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR) {
                            hub.read(i);
                        }
                    }
                    Tag::Check(i) => checks_ready.push(i),
                }
            }
            for i in closed.into_iter().rev() {
                outputs.remove(i);
            }
            hub.prune();
            if let Some(ch) = checker.as_deref_mut() {
                for i in checks_ready.into_iter().rev() {
                    ch.read(i);
                }
                ch.tick(self, c, pid);
            }
        };
        if let Some(ch) = checker {
            ch.stop();
        }
        // what the container wrote just before it exited is still buffered
        for (stream, fd) in
            outputs.iter().map(|(s, f)| (*s, f)).chain(pty.iter().filter(|_| pty_readable).map(|f| (Stream::Stdout, f)))
        {
            launcher::drain(fd, &mut buf, &mut |b| {
                sink(stream, b, log, hub);
                true
            });
        }
        Ok(status)
    }
}

/// Drops what the monitor does not use from its memory: free heap, and the
/// page-table entries of program code (they fault back in when run again).
fn trim_footprint() {
    // SAFETY: malloc_trim only releases free memory of this process's allocator.
    unsafe { libc::malloc_trim(0) };
    crate::launcher::process::release_clean_mappings();
}

/// The container wrote `bytes`: to the log and the attached clients.
fn sink(stream: Stream, bytes: &[u8], log: &mut Option<LogWriter>, hub: &mut Hub) {
    if let Some(l) = log.as_mut() {
        // a full disk must not stop the container: its output is dropped then
        let _ = l.write(stream, bytes);
    }
    hub.output(stream, bytes);
}

/// Writes what the container's input takes of `input` (a non-blocking
/// pipe or terminal); input to a container that closed its stdin is dropped.
fn write_some(fd: Option<BorrowedFd<'_>>, input: &mut Vec<u8>) {
    let Some(fd) = fd else {
        input.clear();
        return;
    };
    while !input.is_empty() {
        match nix::unistd::write(fd, input) {
            Ok(n) => {
                input.drain(..n);
            }
            Err(Errno::EINTR) => {}
            Err(Errno::EAGAIN) => return,
            Err(_) => {
                input.clear();
                return;
            }
        }
    }
}
