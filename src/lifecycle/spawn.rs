//! `spawn`: a foreground container whose standard streams the embedder
//! holds ([`RunningContainer`]), as `std::process::Command::spawn` gives a
//! `Child`. The run is [`Rrun::run`]'s, split at the container's launch:
//! [`Rrun::launch`] before, [`Rrun::finish_run`] once it was reaped.

use super::{Container, Launched};
use crate::launcher::{self, ChildIo, ExitStatus, StdinMode, StdioMode};
use crate::spec::RunOptions;
use crate::{Error, Rrun, Stdio};
use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::time::Duration;

/// How often [`RunningContainer::wait`] looks for the exit without a signal
/// (SIGCHLD may go to another thread of the embedder, which did not block it).
const REAP_POLL: Duration = Duration::from_millis(100);

/// A container running in the foreground of the calling process
/// ([`Rrun::spawn`]), as `std::process::Child`: take its streams, then
/// [`RunningContainer::wait`].
///
/// Which streams it has follows [`RunOptions::stdio`]: with
/// [`Stdio::Piped`], `stdin`, `stdout` and `stderr`; with [`Stdio::Pty`] (or
/// `tty`), `pty`; with [`Stdio::Inherit`] or [`Stdio::Null`], none. The
/// container's log gets nothing: what it writes goes to these streams only.
///
/// Until it is waited for, the forwarded signals (SIGINT, SIGTERM, SIGHUP,
/// …) and SIGCHLD stay blocked in the thread that spawned it (threads it
/// starts afterwards inherit that mask): [`RunningContainer::wait`] passes
/// them on to the container.
///
/// Dropped without [`RunningContainer::wait`], the container is killed
/// (SIGKILL), reaped, and ended as `wait` ends it: its exit recorded, its
/// network and cgroup torn down, and with `--rm` it is removed. Dropping
/// blocks until that is done.
pub struct RunningContainer {
    /// The write end of its stdin ([`Stdio::Piped`]); dropped, it reads end-of-file.
    pub stdin: Option<File>,
    /// The read end of its stdout ([`Stdio::Piped`]).
    pub stdout: Option<File>,
    /// The read end of its stderr ([`Stdio::Piped`]).
    pub stderr: Option<File>,
    /// The master side of its terminal ([`Stdio::Pty`] or `tty`): read its
    /// output from it and write its input to it. Reading fails with EIO
    /// once the container's side is closed.
    pub pty: Option<File>,
    id: String,
    pid: i32,
    /// Everything `wait` still has to do (None once done).
    run: Option<Run>,
}

/// The state a [`RunningContainer`] ends with.
struct Run {
    io: ChildIo,
    rrun: Rrun,
    container: Container,
    launched: Launched,
    remove: bool,
    /// rrun's own copy of the terminal's master (the window size is set on it).
    terminal: Option<OwnedFd>,
}

impl RunningContainer {
    /// The container's full ID.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Its init process's PID on the host.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Sends `signal` to its init process (as [`Rrun::kill`] does; the
    /// container is not reaped, so the PID is still its own).
    pub fn kill(&self, signal: crate::Signal) -> Result<(), Error> {
        let Some(run) = &self.run else { return Err(Error::ContainerNotRunning(self.id.clone())) };
        run.io.kill(signal.into());
        run.rrun.emit_container(&run.container.record, "kill", &[("signal", signal.number().to_string())]);
        Ok(())
    }

    /// Sets the window size of its terminal (`rows` × `cols`); its
    /// foreground process gets SIGWINCH. Fails without a terminal.
    pub fn set_window_size(&self, rows: u16, cols: u16) -> Result<(), Error> {
        let path = || PathBuf::from(format!("/proc/{}/fd/0", self.pid));
        let Some(fd) = self.run.as_ref().and_then(|r| r.terminal.as_ref()) else {
            let e = std::io::Error::new(std::io::ErrorKind::Unsupported, "the container has no terminal");
            return Err(Error::Io { path: path(), source: e });
        };
        launcher::set_window_size(fd.as_fd(), rows, cols).map_err(|source| Error::Io { path: path(), source })
    }

    /// Closes its stdin (if still held) and waits for its init to exit,
    /// passing on the signals this thread receives; then ends the run as
    /// [`Rrun::run`] does — the exit recorded (`die` in the journal), its
    /// network and cgroup torn down, its poststop hooks run, and with
    /// `--rm` the container removed. Returns its exit code (128+N for
    /// signal N). Its output streams stay readable until they are dropped.
    ///
    /// It starts no process of its own (no fork): it may be called while
    /// the embedder's threads read the streams.
    pub fn wait(mut self) -> Result<i32, Error> {
        drop(self.stdin.take());
        let run = self.run.take().ok_or_else(|| Error::ContainerNotRunning(self.id.clone()))?;
        let status = reap(&run.io);
        run.end(status)
    }
}

/// Waits for the process to exit (it is reaped then), passing on the signals
/// the calling thread receives.
pub(super) fn reap(io: &ChildIo) -> Result<ExitStatus, launcher::LaunchError> {
    loop {
        if let Some(status) = io.try_reap()? {
            return Ok(status);
        }
        let mut fds = [nix::poll::PollFd::new(io.signal_fd(), nix::poll::PollFlags::POLLIN)];
        let timeout = nix::poll::PollTimeout::try_from(REAP_POLL).unwrap_or(nix::poll::PollTimeout::NONE);
        match nix::poll::poll(&mut fds, timeout) {
            Ok(n) if n > 0 => {
                io.handle_signal();
            }
            _ => {}
        }
    }
}

impl Run {
    /// Ends the run: what `run` does after the wait.
    fn end(self, status: Result<ExitStatus, launcher::LaunchError>) -> Result<i32, Error> {
        let Run { io, rrun, container, launched, remove, terminal } = self;
        drop(terminal);
        // the signal mask as it was before the launch
        drop(io);
        let result = rrun.finish_run(&container, launched, status);
        if remove {
            rrun.destroy(&container.record);
            rrun.remove_anonymous_volumes(&container.record.volumes);
        }
        result
    }
}

impl Drop for RunningContainer {
    fn drop(&mut self) {
        let Some(run) = self.run.take() else { return };
        drop(self.stdin.take());
        run.io.kill(nix::sys::signal::Signal::SIGKILL);
        let status = reap(&run.io);
        if let Err(e) = run.end(status) {
            tracing::warn!(id = %self.id, error = %e, "ending a container dropped without wait");
        }
    }
}

impl std::fmt::Debug for RunningContainer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningContainer").field("id", &self.id).field("pid", &self.pid).finish()
    }
}

impl Rrun {
    /// Creates a container and starts it in the foreground of this process,
    /// as [`Rrun::run`] does, and returns at once with its standard streams
    /// as [`RunOptions::stdio`] says ([`RunningContainer`]): pipes with
    /// [`Stdio::Piped`], its terminal's master with [`Stdio::Pty`] (or
    /// `tty`), the caller's own descriptors with [`Stdio::Inherit`] (stdin
    /// only with `interactive`, else `/dev/null`), `/dev/null` with
    /// [`Stdio::Null`]. Read the pipes while it runs (or from other
    /// threads): a full pipe blocks the container. [`RunningContainer::wait`]
    /// reaps it and ends the run.
    ///
    /// Launching needs a single-threaded caller
    /// ([`crate::launcher::LaunchError::MultiThreaded`] otherwise); the
    /// caller may start threads once this returns.
    pub fn spawn(&self, image_name: &str, opts: &RunOptions) -> Result<RunningContainer, Error> {
        crate::launcher::ensure_single_threaded()?;
        let terminal = opts.tty || opts.stdio == Stdio::Pty;
        let stdio = match opts.stdio {
            _ if terminal => StdioMode::NullStdin,
            Stdio::Piped => StdioMode::Capture(StdinMode::Pipe),
            Stdio::Null => StdioMode::Null,
            _ if opts.interactive => StdioMode::Inherit,
            _ => StdioMode::NullStdin,
        };
        let with_tty;
        let opts = if terminal && !opts.tty {
            with_tty = RunOptions { tty: true, ..opts.clone() };
            &with_tty
        } else {
            opts
        };
        let c = self.create_as(image_name, opts, true)?;
        // its log exists (empty: what it writes goes to the caller only), as a run's does
        let (child, launched) = match self.open_log(&c).and_then(|_| self.launch(&c, stdio)) {
            Ok(launched) => launched,
            Err(e) => {
                if opts.remove {
                    self.destroy(&c.record);
                    self.remove_anonymous_volumes(&c.record.volumes);
                }
                return Err(e);
            }
        };
        let pid = child.pid();
        let mut io = child.into_io();
        let file = |fd: Option<OwnedFd>| fd.map(File::from);
        let (stdin, stdout, stderr) = (file(io.stdin.take()), file(io.stdout.take()), file(io.stderr.take()));
        let master = io.pty.take();
        let own = master.as_ref().and_then(|m| m.try_clone().ok());
        Ok(RunningContainer {
            stdin,
            stdout,
            stderr,
            pty: file(master),
            id: c.record.id.clone(),
            pid,
            run: Some(Run { io, rrun: self.clone(), container: c, launched, remove: opts.remove, terminal: own }),
        })
    }
}
