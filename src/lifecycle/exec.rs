//! `exec`: another process in a running container, with the container's
//! namespaces, cgroup, capabilities, no_new_privs and environment, as the
//! container's user unless `-u` says otherwise.

use crate::container::ContainerRecord;
use crate::container::Status;
use crate::launcher::{self, ExecConfig, StdioMode};
use crate::securefs::open_in_root;
use crate::spec;
use crate::{cgroups, Error, Rrun};
use nix::fcntl::OFlag;
use oci_spec::runtime::{LinuxNamespaceType, UserBuilder};
use std::io::Read;
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::path::Path;

/// What `rrun exec` runs: build it with [`ExecOptions::new`] and its setters.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ExecOptions {
    /// The command and its arguments.
    pub command: Vec<String>,
    /// `K=V` entries added to (or replacing those of) the container's environment.
    pub env: Vec<String>,
    /// `USER[:GROUP]` (names or IDs) to run as, instead of the container's user.
    pub user: Option<String>,
    /// An absolute working directory, instead of the container's.
    pub workdir: Option<String>,
    /// Keep stdin open (the caller's, with [`crate::Stdio::Inherit`]).
    pub interactive: bool,
    /// Give it a terminal.
    pub tty: bool,
    /// Start it and return without waiting.
    pub detach: bool,
    /// Where its stdin, stdout and stderr go (the caller's own by default).
    pub stdio: crate::Stdio,
}

impl ExecOptions {
    /// Runs `command` (its first item the executable), with nothing else changed.
    pub fn new<S: Into<String>>(command: impl IntoIterator<Item = S>) -> ExecOptions {
        ExecOptions { command: command.into_iter().map(Into::into).collect(), ..Default::default() }
    }

    /// Adds `K=V` to its environment.
    pub fn env(mut self, kv: impl Into<String>) -> ExecOptions {
        self.env.push(kv.into());
        self
    }

    /// Runs it as `user` (`USER[:GROUP]`).
    pub fn user(mut self, user: impl Into<String>) -> ExecOptions {
        self.user = Some(user.into());
        self
    }

    /// Runs it in `dir` (absolute).
    pub fn workdir(mut self, dir: impl Into<String>) -> ExecOptions {
        self.workdir = Some(dir.into());
        self
    }

    /// Where its standard streams go.
    pub fn stdio(mut self, stdio: crate::Stdio) -> ExecOptions {
        self.stdio = stdio;
        self
    }
}

/// A process started in a container whose streams the caller holds
/// ([`Rrun::exec_spawn`]), as `std::process::Child`: take its ends, then
/// [`RunningProcess::wait`].
///
/// Until it is waited for, the calling thread's forwarded signals (SIGINT,
/// SIGTERM, …) and SIGCHLD stay blocked: they are passed on to the process.
/// Dropped without `wait`, the process is left running and is not reaped.
pub struct RunningProcess {
    /// The write end of its stdin ([`crate::Stdio::Piped`]; dropped: it reads end-of-file).
    pub stdin: Option<std::fs::File>,
    /// The read end of its stdout ([`crate::Stdio::Piped`]).
    pub stdout: Option<std::fs::File>,
    /// The read end of its stderr ([`crate::Stdio::Piped`]).
    pub stderr: Option<std::fs::File>,
    /// The master side of its terminal ([`crate::Stdio::Pty`] or `tty`).
    pub pty: Option<std::fs::File>,
    /// rrun's own copy of the terminal's master (the window size is set on it).
    terminal: Option<OwnedFd>,
    io: launcher::ChildIo,
    rrun: Rrun,
    record: ContainerRecord,
    exec_id: String,
}

impl RunningProcess {
    /// Its PID on the host.
    pub fn pid(&self) -> i32 {
        self.io.pid()
    }

    /// Sends `signal` to it (not reaped yet, so its PID is still its own).
    pub fn kill(&self, signal: crate::Signal) {
        self.io.kill(signal.into());
    }

    /// Sets the window size of its terminal (`rows` × `cols`); it gets
    /// SIGWINCH. Fails without a terminal.
    pub fn set_window_size(&self, rows: u16, cols: u16) -> Result<(), Error> {
        let path = || std::path::PathBuf::from(format!("/proc/{}/fd/0", self.pid()));
        let Some(fd) = &self.terminal else {
            let e = std::io::Error::new(std::io::ErrorKind::Unsupported, "the process has no terminal");
            return Err(Error::Io { path: path(), source: e });
        };
        launcher::set_window_size(fd.as_fd(), rows, cols).map_err(|source| Error::Io { path: path(), source })
    }

    /// Closes its stdin (if still held) and waits for it to exit, passing on
    /// the signals this thread receives; returns its exit code (128+N for
    /// signal N). Its output pipes stay readable until they are dropped.
    pub fn wait(mut self) -> Result<i32, Error> {
        drop(self.stdin.take());
        drop(self.terminal.take());
        let status = super::spawn::reap(&self.io)?;
        let code = status.code();
        let extra = [("execID", self.exec_id.clone()), ("exitCode", code.to_string())];
        self.rrun.emit_container(&self.record, "exec_die", &extra);
        Ok(code)
    }
}

impl std::fmt::Debug for RunningProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningProcess").field("pid", &self.pid()).field("container", &self.record.id).finish()
    }
}

/// Reads a small file of the running container's filesystem (through
/// `/proc/PID/root`, resolved inside it so that symlinks cannot leave it).
fn read_in_container(pid: i32, path: &str) -> Option<String> {
    let root = nix::fcntl::open(
        format!("/proc/{pid}/root").as_str(),
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .ok()?;
    // SAFETY: open returned a new descriptor that nothing else owns.
    let root = unsafe { OwnedFd::from_raw_fd(root) };
    let fd = open_in_root(root.as_fd(), Path::new(path), OFlag::O_RDONLY).ok()?;
    let mut s = String::new();
    std::fs::File::from(fd).take(4 << 20).read_to_string(&mut s).ok()?;
    Some(s)
}

/// Where an exec'd process's captured output goes: false once its reader went away.
type OutputSink<'a> = dyn FnMut(launcher::Stream, &[u8]) -> bool + 'a;

impl Rrun {
    /// Runs a command in a running container and returns its exit code
    /// (0 at once with `detach`).
    /// From a process with other threads it returns
    /// `Error::Launch(`[`LaunchError::MultiThreaded`](crate::LaunchError::MultiThreaded)`)`
    /// before it creates anything.
    pub fn exec(&self, name_or_id: &str, opts: &ExecOptions) -> Result<i32, Error> {
        match opts.stdio {
            crate::Stdio::Null => self.exec_shown(name_or_id, opts, Some(&mut |_, _| true)),
            crate::Stdio::Piped => Err(super::pipes_refused("exec")),
            crate::Stdio::Pty => self.exec_shown(name_or_id, &ExecOptions { tty: true, ..opts.clone() }, None),
            _ => self.exec_shown(name_or_id, opts, None),
        }
    }

    /// Runs a command in a running container as [`Rrun::exec`] does, and
    /// returns all it wrote to stdout and stderr with its exit code (stdin:
    /// the caller's with `interactive`, else `/dev/null`; `detach` and
    /// `stdio` are not used). Both streams are read while it runs.
    /// From a process with other threads it returns
    /// `Error::Launch(`[`LaunchError::MultiThreaded`](crate::LaunchError::MultiThreaded)`)`
    /// before it creates anything.
    pub fn exec_output(&self, name_or_id: &str, opts: &ExecOptions) -> Result<crate::Output, Error> {
        let mut out = crate::Output::default();
        let opts = ExecOptions { detach: false, ..opts.clone() };
        out.status = self.exec_shown(
            name_or_id,
            &opts,
            Some(&mut |stream, bytes| {
                match stream {
                    launcher::Stream::Stdout => out.stdout.extend_from_slice(bytes),
                    launcher::Stream::Stderr => out.stderr.extend_from_slice(bytes),
                }
                true
            }),
        )?;
        Ok(out)
    }

    /// Starts a command in a running container and returns at once, as
    /// `std::process::Command::spawn` does, with its standard streams as
    /// [`ExecOptions::stdio`] says: pipes the caller holds with
    /// [`crate::Stdio::Piped`], its terminal's master with
    /// [`crate::Stdio::Pty`] (or `tty`), the caller's own descriptors with
    /// [`crate::Stdio::Inherit`] (stdin only with `interactive`), `/dev/null`
    /// with [`crate::Stdio::Null`] (`detach` is not used). Read stdout and
    /// stderr while it runs (or from other threads): a full pipe blocks the
    /// process. [`RunningProcess::wait`] reaps it.
    ///
    /// Launching needs a single-threaded caller
    /// ([`LaunchError::MultiThreaded`](crate::LaunchError::MultiThreaded) otherwise); the
    /// caller may start threads once this returns.
    pub fn exec_spawn(&self, name_or_id: &str, opts: &ExecOptions) -> Result<RunningProcess, Error> {
        crate::launcher::ensure_single_threaded()?;
        let (c, pid) = self.exec_target(name_or_id)?;
        let exec_id = crate::container::new_id();
        let what = format!(": {}", opts.command.join(" "));
        self.emit_container(&c.record, &format!("exec_create{what}"), &[("execID", exec_id.clone())]);
        let terminal = opts.tty || opts.stdio == crate::Stdio::Pty;
        let stdio = match opts.stdio {
            _ if terminal => StdioMode::NullStdin,
            crate::Stdio::Piped => StdioMode::Capture(launcher::StdinMode::Pipe),
            crate::Stdio::Null => StdioMode::Null,
            _ if opts.interactive => StdioMode::Inherit,
            _ => StdioMode::NullStdin,
        };
        let opts = ExecOptions { tty: terminal, ..opts.clone() };
        let child = self.spawn_exec(&c.spec, &c.record, pid, &opts, stdio)?;
        self.emit_container(&c.record, &format!("exec_start{what}"), &[("execID", exec_id.clone())]);
        let mut io = child.into_io();
        let file = |fd: Option<OwnedFd>| fd.map(std::fs::File::from);
        let master = io.pty.take();
        Ok(RunningProcess {
            stdin: file(io.stdin.take()),
            stdout: file(io.stdout.take()),
            stderr: file(io.stderr.take()),
            terminal: master.as_ref().and_then(|m| m.try_clone().ok()),
            pty: file(master),
            io,
            rrun: self.clone(),
            record: c.record,
            exec_id,
        })
    }

    /// The running container a process is started in, and its init's PID.
    fn exec_target(&self, name_or_id: &str) -> Result<(super::Container, i32), Error> {
        let c = self.open_container(name_or_id)?;
        match c.record.status {
            Status::Running => {}
            Status::Paused => return Err(Error::ContainerPaused(name_or_id.to_string())),
            _ => return Err(Error::ContainerNotRunning(name_or_id.to_string())),
        }
        let pid = c.record.pid.ok_or_else(|| Error::ContainerNotRunning(name_or_id.to_string()))?;
        Ok((c, pid))
    }

    /// [`Rrun::exec`]; with `sink`, its stdout and stderr are read through pipes and handed to it.
    fn exec_shown(
        &self,
        name_or_id: &str,
        opts: &ExecOptions,
        sink: Option<&mut OutputSink<'_>>,
    ) -> Result<i32, Error> {
        crate::launcher::ensure_single_threaded()?;
        let (c, pid) = self.exec_target(name_or_id)?;
        let stdin_inherited = opts.interactive && opts.stdio != crate::Stdio::Null;
        let stdio = match (&sink, stdin_inherited) {
            (None, true) => StdioMode::Inherit,
            (None, false) => StdioMode::NullStdin,
            (Some(_), true) => StdioMode::Capture(launcher::StdinMode::Inherit),
            (Some(_), false) => StdioMode::Capture(launcher::StdinMode::Null),
        };
        let exec_id = crate::container::new_id();
        let what = format!(": {}", opts.command.join(" "));
        self.emit_container(&c.record, &format!("exec_create{what}"), &[("execID", exec_id.clone())]);
        let child = self.spawn_exec(&c.spec, &c.record, pid, opts, stdio)?;
        self.emit_container(&c.record, &format!("exec_start{what}"), &[("execID", exec_id.clone())]);
        if opts.detach {
            return Ok(0);
        }
        let code = match sink {
            Some(sink) => child.wait_output(stdin_inherited, sink)?.code(),
            None => child.wait(opts.interactive)?.code(),
        };
        self.emit_container(&c.record, "exec_die", &[("execID", exec_id), ("exitCode", code.to_string())]);
        Ok(code)
    }

    /// Starts `opts.command` in the container whose init is `pid`: its
    /// namespaces, cgroup, seccomp profile, user, environment and working
    /// directory, with `opts` changing them. Returns once it was exec'd.
    pub(crate) fn spawn_exec(
        &self,
        spec: &oci_spec::runtime::Spec,
        record: &ContainerRecord,
        pid: i32,
        opts: &ExecOptions,
        stdio: StdioMode,
    ) -> Result<launcher::Child, Error> {
        if opts.command.is_empty() {
            return Err(Error::Spec(spec::SpecError::NoCommand));
        }
        let mut process = spec.process().clone().ok_or_else(|| Error::BadImage {
            image: record.image.clone(),
            reason: "the container's config.json has no process".into(),
        })?;
        let mut env = process.env().clone().unwrap_or_default();
        for kv in &opts.env {
            spec::set_env(&mut env, kv);
        }
        if opts.tty && !process.env().iter().flatten().chain(&opts.env).any(|e| e.starts_with("TERM=")) {
            spec::set_env(&mut env, "TERM=xterm");
        }
        if let Some(u) = &opts.user {
            let passwd = read_in_container(pid, "/etc/passwd").unwrap_or_default();
            let group = read_in_container(pid, "/etc/group").unwrap_or_default();
            let r = spec::resolve_user(u, &passwd, &group)?;
            let user = UserBuilder::default()
                .uid(r.uid)
                .gid(r.gid)
                .additional_gids(r.additional_gids)
                .build()
                .map_err(|e| Error::Spec(spec::SpecError::Build(e.to_string())))?;
            process.set_user(user);
        }
        if let Some(w) = &opts.workdir {
            if !w.starts_with('/') {
                return Err(Error::Spec(spec::SpecError::RelativeWorkdir(w.clone())));
            }
            process.set_cwd(w.into());
        }
        process.set_args(Some(opts.command.clone())).set_env(Some(env)).set_terminal(Some(opts.tty));
        let namespaces: Vec<LinuxNamespaceType> = spec
            .linux()
            .as_ref()
            .and_then(|l| l.namespaces().clone())
            .unwrap_or_default()
            .iter()
            .map(|n| n.typ())
            .collect();
        let cgroup = cgroups::open(&record.cgroup);
        Ok(launcher::spawn_in(&ExecConfig {
            pid,
            namespaces: &namespaces,
            process: &process,
            cgroup: cgroup.as_deref(),
            stdio,
            preserve_fds: 0,
            seccomp: spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()),
            console_socket: None,
            oci: None,
        })?)
    }
}
