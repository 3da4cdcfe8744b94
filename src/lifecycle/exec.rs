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

/// A process started in a container with piped streams ([`Rrun::exec_spawn`]),
/// as `std::process::Child`: take its ends, then [`RunningProcess::wait`].
///
/// Until it is waited for, the calling thread's forwarded signals (SIGINT,
/// SIGTERM, …) and SIGCHLD stay blocked: they are passed on to the process.
pub struct RunningProcess {
    /// The write end of its stdin (dropped: it reads end-of-file).
    pub stdin: Option<std::fs::File>,
    /// The read end of its stdout.
    pub stdout: Option<std::fs::File>,
    /// The read end of its stderr.
    pub stderr: Option<std::fs::File>,
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

    /// Closes its stdin (if still held) and waits for it to exit, passing on
    /// the signals this thread receives; returns its exit code (128+N for
    /// signal N). Its output pipes stay readable until they are dropped.
    pub fn wait(mut self) -> Result<i32, Error> {
        drop(self.stdin.take());
        let status = loop {
            if let Some(status) = self.io.try_reap()? {
                break status;
            }
            let mut fds = [nix::poll::PollFd::new(self.io.signal_fd(), nix::poll::PollFlags::POLLIN)];
            match nix::poll::poll(&mut fds, nix::poll::PollTimeout::NONE) {
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(e) => {
                    let path = std::path::PathBuf::from(format!("/proc/{}", self.pid()));
                    return Err(Error::Io { path, source: std::io::Error::from(e) });
                }
            }
            self.io.handle_signal();
        };
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

    /// Starts a command in a running container with its stdin, stdout and
    /// stderr as pipes the caller holds, as `std::process::Command::spawn`
    /// with piped streams does (`interactive`, `detach` and `stdio` are not
    /// used). Read stdout and stderr while it runs (or from other threads):
    /// a full pipe blocks the process. [`RunningProcess::wait`] reaps it.
    /// From a process with other threads it returns
    /// `Error::Launch(`[`LaunchError::MultiThreaded`](crate::LaunchError::MultiThreaded)`)`
    /// before it creates anything.
    pub fn exec_spawn(&self, name_or_id: &str, opts: &ExecOptions) -> Result<RunningProcess, Error> {
        crate::launcher::ensure_single_threaded()?;
        let c = self.open_container(name_or_id)?;
        match c.record.status {
            Status::Running => {}
            Status::Paused => return Err(Error::ContainerPaused(name_or_id.to_string())),
            _ => return Err(Error::ContainerNotRunning(name_or_id.to_string())),
        }
        let pid = c.record.pid.ok_or_else(|| Error::ContainerNotRunning(name_or_id.to_string()))?;
        let exec_id = crate::container::new_id();
        let what = format!(": {}", opts.command.join(" "));
        self.emit_container(&c.record, &format!("exec_create{what}"), &[("execID", exec_id.clone())]);
        let child = self.spawn_exec(&c.spec, &c.record, pid, opts, StdioMode::Capture(launcher::StdinMode::Pipe))?;
        self.emit_container(&c.record, &format!("exec_start{what}"), &[("execID", exec_id.clone())]);
        let mut io = child.into_io();
        let file = |fd: Option<OwnedFd>| fd.map(std::fs::File::from);
        Ok(RunningProcess {
            stdin: file(io.stdin.take()),
            stdout: file(io.stdout.take()),
            stderr: file(io.stderr.take()),
            io,
            rrun: self.clone(),
            record: c.record,
            exec_id,
        })
    }

    /// [`Rrun::exec`]; with `sink`, its stdout and stderr are read through pipes and handed to it.
    fn exec_shown(
        &self,
        name_or_id: &str,
        opts: &ExecOptions,
        sink: Option<&mut OutputSink<'_>>,
    ) -> Result<i32, Error> {
        crate::launcher::ensure_single_threaded()?;
        let c = self.open_container(name_or_id)?;
        match c.record.status {
            Status::Running => {}
            Status::Paused => return Err(Error::ContainerPaused(name_or_id.to_string())),
            _ => return Err(Error::ContainerNotRunning(name_or_id.to_string())),
        }
        let pid = c.record.pid.ok_or_else(|| Error::ContainerNotRunning(name_or_id.to_string()))?;
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
