//! The launcher turns a runtime Spec and a rootfs into a running, isolated
//! process, and waits for it.
//!
//! ```text
//! rrun (parent)                            container init (child)
//! ─────────────                            ──────────────────────
//! block forwarded signals; enter a joined
//! PID / new time namespace for children
//! clone(NEWNS|NEWPID|NEWUTS|NEWIPC|…) ───▶ v1: join the cgroup ("0" → tasks)
//!   (v2: clone3 CLONE_INTO_CGROUP)         (v2: born there); non-dumpable;
//!                                          PDEATHSIG; setns (user first)
//! write uid_map, gid_map
//! ── mount sources (SCM_RIGHTS) ─────────▶ receive them
//! ── "G" go ─────────────────────────────▶ join intelRdt; setresgid/setresuid(0)
//!                                          in a new user namespace (where 0 is
//!                                          mapped); unshare(NEWCGROUP); lo up;
//!                                          propagation, rootfs, mounts, devices,
//!                                          sysctls, masked/readonly paths;
//!                                          mkdir cwd; hostname, domainname
//! ◀── "H" (only with hooks) ──────────────
//! prestart + createRuntime hooks
//! ── "h" + state ────────────────────────▶ createContainer hooks; keyring;
//!                                          pivot_root (or chroot, MS_MOVE);
//!                                          rootfs propagation, read-only /;
//!                                          personality, memory policy; setsid
//! ◀── "T" pty master (SCM_RIGHTS) ──────── (with a terminal)
//! relay it, or to --console-socket
//! ── "A" ────────────────────────────────▶ stdio; rlimits, oom score, ioprio,
//!                                          scheduler; umask; LSM labels; chdir
//! ◀── "S" seccomp listener fd ──────────── seccomp here without no_new_privs
//! hand it to the agent                     (else after it); bounding set;
//!                                          setgroups, setresgid, setresuid,
//!                                          capabilities; no_new_privs;
//!                                          descriptors ≥ 3+N close-on-exec
//! ◀── "C" created (OCI create) ─────────── wait on the exec FIFO (`start`)
//! create returns                           startContainer hooks; init fork;
//!                                          reset signals; execve
//! ◀── "E" code + message on failure, or EOF at the exec (the socket is
//!     close-on-exec)
//! forward signals, relay the terminal or the captured output, waitpid
//! ```
//!
//! Every message is one SOCK_SEQPACKET datagram (`sync`). A container's
//! init and `exec` into a running container share the handshake
//! (`start_child`); an exec joins the container's namespaces instead of
//! making them and goes straight from "go" to the process steps.
//!
//! # Threads
//!
//! The child is a fork-like `clone` of rrun that runs ordinary Rust code
//! (it allocates, formats, opens files) until it execs. Only the forking
//! thread survives a fork: a lock another thread held at that moment (the
//! allocator's, stdio's) stays locked forever in the child, which would
//! then hang. So launching requires a single-threaded caller: every
//! launching path ([`spawn`], [`spawn_in`], [`detach::spawn_detached`], and
//! the library's run, start, exec and OCI create/run before they create
//! anything) calls [`ensure_single_threaded`] and returns
//! [`LaunchError::MultiThreaded`] instead of forking. An embedder with
//! threads (an async runtime) runs the `rrun` binary, or launches from a
//! process it forks before it starts its threads. rrun's own helper
//! threads (pull progress, parallel unpacking) are joined before any launch.
//!
//! Around that: a PID namespace joined by path, and a new time namespace
//! with clock offsets, are entered by rrun itself just around the clone, so
//! that the init is born in them (`for_children`); a user-namespaced
//! container's bind sources are opened by rrun inside its new mount namespace
//! and handed over before "go" (`mount_sources`); the working directory is
//! checked and every descriptor closed on exec in `finalize`. The init's
//! own steps go through the `Syscall` seam (`syscall`), so that
//! their order and arguments are unit-tested without root.

mod attrs;
mod capture;
mod child;
mod copyup;
pub mod detach;
mod exec;
mod finalize;
mod for_children;
pub mod fsns;
pub mod hooks;
mod identity;
mod idmap;
mod init;
pub mod lsm;
pub mod mempolicy;
mod mount_sources;
mod mounts;
pub mod netns;
pub mod process;
pub mod seccomp;
mod steps;
mod sync;
mod syscall;
mod tty;
pub mod userns;

pub use steps::STEPS;

pub use capture::{drain, Stream};
pub use exec::{spawn_in, ExecConfig, OciExec};
pub use mounts::RootfsSource;
pub use tty::{send_to_console_socket, set_window_size, window_size, write_all, RawMode};

use nix::errno::Errno;
use nix::sys::signal::{kill, SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::SignalFd;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use tracing::debug;

/// Why a container's process could not be started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LaunchError {
    /// A system call of the launcher failed (the container's own failures are `Container`).
    #[error("{op}: {source}")]
    Sys {
        /// The operation that failed.
        op: String,
        /// The underlying error.
        source: Errno,
    },
    /// The container failed before its command ran; `code` is 125, 126 or 127.
    #[error("{msg}")]
    Container {
        /// The exit code to end with.
        code: i32,
        /// The message.
        msg: String,
    },
    /// The runtime spec asks for something the launcher cannot do.
    #[error("invalid runtime spec: {0}")]
    Spec(String),
    /// Creating or joining the container's cgroup failed.
    #[error("{0}")]
    Cgroup(String),
    /// The calling process has other threads: the launcher forks without
    /// exec and the child allocates, which may deadlock on a lock another
    /// thread held at the fork. Nothing was created.
    #[error(
        "cannot launch a container from a process with {threads} threads (the launcher forks and must be \
         alone): call rrun from a single-threaded process, before starting threads or an async runtime"
    )]
    MultiThreaded {
        /// How many threads the process has.
        threads: usize,
    },
}

impl LaunchError {
    fn sys(op: impl Into<String>) -> impl FnOnce(Errno) -> LaunchError {
        let op = op.into();
        move |source| LaunchError::Sys { op, source }
    }

    /// The exit code rrun should end with for this failure.
    pub fn exit_code(&self) -> i32 {
        match self {
            LaunchError::Container { code, .. } => *code,
            _ => 125,
        }
    }
}

/// Refuses to launch from a process with more than one thread
/// ([`LaunchError::MultiThreaded`]); see the module documentation.
///
/// Counts the entries of `/proc/self/task` (one `getdents`). A thread that
/// was just joined can stay listed for a moment while the kernel releases
/// it, so a count above one is looked at again for up to ~100 ms before it
/// is an error. Without a readable `/proc` the count is unknown and the
/// launch goes ahead.
pub fn ensure_single_threaded() -> Result<(), LaunchError> {
    let count = || std::fs::read_dir("/proc/self/task").ok().map(|d| d.count());
    for attempt in 0..50 {
        match count() {
            None | Some(0 | 1) => return Ok(()),
            Some(threads) if attempt == 49 => return Err(LaunchError::MultiThreaded { threads }),
            Some(_) => std::thread::sleep(std::time::Duration::from_millis(2)),
        }
    }
    Ok(())
}

/// A failure inside the child before exec, reported to the parent.
#[derive(Debug)]
pub(crate) struct ChildError {
    pub code: i32,
    pub msg: String,
}

impl ChildError {
    pub fn setup(msg: impl Into<String>) -> ChildError {
        ChildError { code: 125, msg: msg.into() }
    }
}

/// What to start.
pub struct LaunchConfig<'a> {
    pub spec: &'a Spec,
    pub rootfs: RootfsSource,
    /// Run a minimal init as PID 1 that reaps zombies and forwards signals.
    pub init: bool,
    /// Where the process's stdin, stdout and stderr come from (without a terminal).
    pub stdio: StdioMode,
    /// The cgroup the process is moved into before it starts.
    pub cgroup: Option<&'a dyn crate::cgroups::Cgroup>,
    /// OCI `create`: the process outlives rrun and waits for `start`.
    pub oci: Option<OciLaunch<'a>>,
    /// What rrun's own `run` adds that an OCI runtime leaves to its engine.
    pub engine: EngineSteps,
}

/// Steps of a container engine rather than of an OCI runtime, which rrun's
/// own `run` asks for (runc leaves them to Docker or Podman; an OCI bundle
/// run by rrun gets none of them).
#[derive(Debug, Clone, Default)]
pub struct EngineSteps {
    /// Destinations of bind mounts (volumes) to fill with what the image has
    /// there before they are mounted, when their source is still empty.
    pub copy_up: Vec<std::path::PathBuf>,
    /// The container's identity in the state its hooks read (an OCI `create`
    /// passes its own state instead).
    pub hook_identity: Option<hooks::HookIdentity>,
}

/// What an OCI `create` adds to a launch.
pub struct OciLaunch<'a> {
    /// The FIFO the process opens for writing before exec; `start` reads it.
    pub exec_fifo: &'a std::path::Path,
    /// Descriptors 3..3+N passed on to the process.
    pub preserve_fds: u32,
    /// Move the rootfs onto / and chroot instead of pivot_root.
    pub no_pivot: bool,
    /// A new session keyring of this name (None: keep the caller's).
    pub keyring: Option<String>,
    /// The state JSON given to hooks, for the process's host PID.
    pub state: &'a dyn Fn(i32) -> String,
    /// Where the terminal's master side goes (`--console-socket`), if there is a terminal.
    pub console_socket: Option<&'a std::path::Path>,
    /// `linux.memoryPolicy` (which the Spec type does not keep), checked.
    pub memory_policy: Option<mempolicy::Resolved>,
}

/// What the parent does between clone and exec.
struct ParentSteps<'a> {
    pipes: ParentPipes,
    cgroup: Option<&'a dyn crate::cgroups::Cgroup>,
    /// uid and gid maps to write for a new user namespace.
    id_maps: Option<(String, String)>,
    /// The Spec's hooks (prestart, createRuntime run by the parent).
    hooks: Option<&'a oci_spec::runtime::Hooks>,
    state: Option<&'a dyn Fn(i32) -> String>,
    /// Return once the child says it is created (OCI `create`), not at its exec.
    until_created: bool,
    /// The seccomp filter's listenerPath and metadata (`SCMP_ACT_NOTIFY`).
    seccomp_listener: Option<(std::path::PathBuf, Option<String>)>,
    /// The engine's console socket, which gets the terminal (else rrun keeps it).
    console_socket: Option<&'a std::path::Path>,
    /// Bind sources rrun opens for the child (a new user namespace): mount index, path.
    mount_sources: Vec<(usize, std::path::PathBuf)>,
}

/// Where a container process's standard descriptors come from, when it has no terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StdioMode {
    /// rrun's own (`-i`).
    Inherit,
    /// rrun's stdout and stderr, `/dev/null` as stdin.
    NullStdin,
    /// `/dev/null` as stdin, stdout and stderr (nothing to relay).
    Null,
    /// stdout and stderr captured through pipes, stdin as said: read with
    /// [`Child::wait_output`], or taken with [`Child::into_io`] (a detached
    /// container's monitor logs them and relays them to attached clients).
    Capture(StdinMode),
}

/// The stdin of a process whose output is captured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StdinMode {
    /// `/dev/null`.
    Null,
    /// rrun's own stdin.
    Inherit,
    /// A pipe whose write end the caller gets ([`ChildIo::stdin`]).
    Pipe,
}

/// The parent's ends of a captured process's pipes.
#[derive(Default)]
struct ParentPipes {
    /// Read ends of stdout and stderr.
    output: Option<(OwnedFd, OwnedFd)>,
    /// Write end of stdin.
    input: Option<OwnedFd>,
}

impl StdioMode {
    /// The child's side of the descriptors, and the parent's ends for `Capture`.
    fn prepare(self) -> Result<(child::Stdio, ParentPipes), LaunchError> {
        Ok(match self {
            StdioMode::Inherit => (child::Stdio::Inherit, ParentPipes::default()),
            StdioMode::NullStdin => (child::Stdio::NullStdin, ParentPipes::default()),
            StdioMode::Null => (child::Stdio::Null, ParentPipes::default()),
            StdioMode::Capture(stdin) => {
                let pipe = || nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(LaunchError::sys("pipe"));
                let (out_r, out_w) = pipe()?;
                let (err_r, err_w) = pipe()?;
                let (child_stdin, input) = match stdin {
                    StdinMode::Null => (child::ChildStdin::Null, None),
                    StdinMode::Inherit => (child::ChildStdin::Inherit, None),
                    StdinMode::Pipe => {
                        let (in_r, in_w) = pipe()?;
                        (child::ChildStdin::Pipe(in_r), Some(in_w))
                    }
                };
                (
                    child::Stdio::Capture { stdin: child_stdin, stdout: out_w, stderr: err_w },
                    ParentPipes { output: Some((out_r, err_r)), input },
                )
            }
        })
    }
}

/// How the container's process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    Exited(i32),
    Signaled(i32),
}

impl ExitStatus {
    /// The shell convention: the code, or 128 + signal.
    pub fn code(self) -> i32 {
        match self {
            ExitStatus::Exited(c) => c,
            ExitStatus::Signaled(s) => 128 + s,
        }
    }
}

/// Signals that `rrun run` passes on to the container instead of acting on them.
const FORWARDED: [Signal; 9] = [
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGTERM,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGALRM,
    Signal::SIGCONT,
    Signal::SIGWINCH,
];

fn handled_signals() -> SigSet {
    let mut set = SigSet::empty();
    for s in FORWARDED {
        set.add(s);
    }
    set.add(Signal::SIGCHLD);
    set
}

/// A started container process.
pub struct Child {
    pid: Pid,
    pty: Option<OwnedFd>,
    /// Read ends of the stdout and stderr pipes (`StdioMode::Capture`).
    output: Option<(OwnedFd, OwnedFd)>,
    /// Write end of the stdin pipe (`StdinMode::Pipe`).
    input: Option<OwnedFd>,
    signals: SignalFd,
    old_mask: SigSet,
}

/// Starts the container's init process and returns once its command was
/// exec'd (or reports why it could not be).
pub fn spawn(cfg: &LaunchConfig<'_>) -> Result<Child, LaunchError> {
    ensure_single_threaded()?;
    let spec = cfg.spec;
    let namespaces = spec.linux().as_ref().and_then(|l| l.namespaces().clone()).unwrap_or_default();
    let mut clone_flags: libc::c_int = 0;
    let mut join = Vec::new();
    // namespaces the init must be born in: rrun enters them itself around the clone
    let mut pid_path = None;
    let time_offsets = spec.linux().as_ref().and_then(|l| l.time_offsets().clone()).filter(|o| !o.is_empty());
    let mut new_time = false;
    for ns in &namespaces {
        let flag = match ns.typ() {
            LinuxNamespaceType::Mount => libc::CLONE_NEWNS,
            LinuxNamespaceType::Pid => libc::CLONE_NEWPID,
            LinuxNamespaceType::Uts => libc::CLONE_NEWUTS,
            LinuxNamespaceType::Ipc => libc::CLONE_NEWIPC,
            LinuxNamespaceType::Network => libc::CLONE_NEWNET,
            LinuxNamespaceType::Cgroup => 0, // unshared by the child once it is in its cgroup
            LinuxNamespaceType::User => libc::CLONE_NEWUSER,
            LinuxNamespaceType::Time => libc::CLONE_NEWTIME,
        };
        match ns.path() {
            Some(p) if ns.typ() == LinuxNamespaceType::Pid => pid_path = Some(p.clone()),
            Some(p) => join.push((ns.typ(), p.clone())),
            None if ns.typ() == LinuxNamespaceType::Time && time_offsets.is_some() => new_time = true,
            None => clone_flags |= flag,
        }
    }
    if time_offsets.is_some() && !new_time {
        return Err(LaunchError::Spec("linux.timeOffsets needs a new time namespace (linux.namespaces: time)".into()));
    }
    let id_maps = if clone_flags & libc::CLONE_NEWUSER != 0 {
        let linux = spec.linux().as_ref();
        let map = |m: Option<&Vec<oci_spec::runtime::LinuxIdMapping>>| -> String {
            m.into_iter().flatten().map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size())).collect()
        };
        let (uids, gids) =
            (map(linux.and_then(|l| l.uid_mappings().as_ref())), map(linux.and_then(|l| l.gid_mappings().as_ref())));
        if uids.is_empty() || gids.is_empty() {
            return Err(LaunchError::Spec("a new user namespace needs linux.uidMappings and linux.gidMappings".into()));
        }
        Some((uids, gids))
    } else {
        None
    };
    let (stdio, pipes) = cfg.stdio.prepare()?;
    let mut plan = child::Plan::new(cfg, &namespaces, join, stdio)?;
    let sources =
        mount_sources::wanted(spec, clone_flags & libc::CLONE_NEWUSER != 0, clone_flags & libc::CLONE_NEWNS != 0);
    plan.mount_sources = sources.len();
    let own_state = cfg.engine.hook_identity.as_ref().map(|h| move |pid: i32| h.state(Some(pid), "creating"));
    let steps = ParentSteps {
        pipes,
        cgroup: cfg.cgroup,
        id_maps,
        hooks: spec.hooks().as_ref(),
        state: cfg.oci.as_ref().map(|o| o.state).or(own_state.as_ref().map(|f| f as &dyn Fn(i32) -> String)),
        until_created: cfg.oci.is_some(),
        seccomp_listener: seccomp_listener(spec),
        console_socket: cfg.oci.as_ref().and_then(|o| o.console_socket),
        mount_sources: sources,
    };
    let mut for_children = for_children::ForChildren::default();
    if let Some(p) = &pid_path {
        for_children.join_pid(p)?;
    }
    if let Some(offsets) = time_offsets.as_ref().filter(|_| new_time) {
        for_children.new_time(offsets)?;
    }
    let child = start_child(clone_flags, steps, move |sock| child::main(plan, sock));
    drop(for_children);
    child
}

/// Clones a child (with `clone_flags`), runs `child_main` in it, and walks it
/// through the handshake: cgroup, go, terminal, exec. Shared by a container's
/// init and `exec` into a running container.
fn start_child<F: FnOnce(OwnedFd) -> std::convert::Infallible>(
    clone_flags: libc::c_int,
    steps: ParentSteps<'_>,
    child_main: F,
) -> Result<Child, LaunchError> {
    let cgroup = steps.cgroup;
    let (parent_sock, child_sock) = sync::pair().map_err(LaunchError::sys("socketpair"))?;

    // block the forwarded signals now, so none is lost between clone and the wait loop
    let mut old_mask = SigSet::empty();
    nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&handled_signals()), Some(&mut old_mask))
        .map_err(LaunchError::sys("sigprocmask"))?;
    let restore = |old: &SigSet| {
        let _ = nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(old), None);
    };

    // the child's steps come back to a narrating rrun over a relay (only when one narrates)
    let mut relay = crate::steps::relay::open();
    // v2 starts the child right in its cgroup; otherwise the child moves itself there first
    let mut into = cgroup.and_then(|c| c.clone_into());
    let mut ret = -1;
    if let (Some(fd), Some(cg)) = (&into, cgroup) {
        crate::step!(steps::CLONE_INTO_CGROUP, flags = %clone_flag_names(clone_flags), cgroup = ?cg.dirs());
        ret = clone3_into_cgroup(clone_flags, fd.as_raw_fd());
        if ret < 0 && matches!(Errno::last(), Errno::ENOSYS | Errno::E2BIG | Errno::EINVAL) {
            into = None; // an older kernel: the child joins by itself
        }
    }
    if into.is_none() {
        crate::step!(steps::CLONE, flags = %clone_flag_names(clone_flags));
        ret = fork_like_clone(clone_flags);
    }
    if ret < 0 {
        let e = Errno::last();
        restore(&old_mask);
        return Err(LaunchError::sys("clone")(e));
    }
    if ret == 0 {
        drop(parent_sock);
        crate::steps::relay::adopt(relay.take(), "container");
        if let (None, Some(cg)) = (&into, cgroup) {
            if let Err(e) = cg.join_self() {
                sync::send_error(&child_sock, 125, &e.to_string());
                // SAFETY: _exit ends this forked child without running the parent's atexit handlers.
                unsafe { libc::_exit(125) };
            }
        }
        // the child never returns from here: it execs or exits
        #[allow(unreachable_code)]
        match child_main(child_sock) {}
    }
    let pid = Pid::from_raw(ret as i32);
    drop(relay);
    drop(child_sock);
    // the parent's copies of the pipes' write ends go with the closure: EOF must come when the container's close
    drop(child_main);
    let fail = |e: LaunchError| {
        let _ = kill(pid, Signal::SIGKILL);
        let _ = waitpid(pid, None);
        restore(&old_mask);
        e
    };
    match handshake(pid, &parent_sock, &steps) {
        Ok(pty) => match SignalFd::new(&handled_signals()) {
            Ok(signals) => {
                if !steps.until_created {
                    crate::step!(steps::STARTED, pid = pid.as_raw());
                }
                let ParentPipes { output, input } = steps.pipes;
                Ok(Child { pid, pty, output, input, signals, old_mask })
            }
            Err(e) => Err(fail(LaunchError::sys("signalfd")(e))),
        },
        // the child may have failed (it is exiting) or be waiting on us (a hook failed): end it either way
        Err(e) => Err(fail(e)),
    }
}

/// Where a Spec's seccomp filter hands its notify descriptor, if it does.
fn seccomp_listener(spec: &Spec) -> Option<(std::path::PathBuf, Option<String>)> {
    let s = spec.linux().as_ref()?.seccomp().as_ref()?;
    let path = s.listener_path().clone()?;
    Some((path, s.listener_metadata().clone()))
}

/// The parent's side of the start: write the id maps, let the child go, run
/// the runtime's hooks when it asks, collect its terminal, and wait for its
/// exec (EOF), its "created", or its error.
fn handshake(pid: Pid, sock: &OwnedFd, steps: &ParentSteps<'_>) -> Result<Option<OwnedFd>, LaunchError> {
    if let Some((uids, gids)) = &steps.id_maps {
        for (file, map) in [("uid_map", uids), ("gid_map", gids)] {
            let path = format!("/proc/{}/{file}", pid.as_raw());
            crate::step!(steps::ID_MAPS, path = %path, map = %map.trim());
            let written = if nix::unistd::Uid::effective().is_root() {
                std::fs::write(&path, map).map_err(|e| e.to_string())
            } else {
                // an ordinary user (runc's rootless mode): newuidmap/newgidmap, or one id
                crate::rootless::write_id_map(pid.as_raw(), file, map)
            };
            written.map_err(|e| LaunchError::Container {
                code: 125,
                msg: format!("write {path} ({}): {e}", map.trim().replace('\n', ", ")),
            })?;
        }
    }
    mount_sources::send(pid, &steps.mount_sources, sock)?;
    crate::step!(steps::GO, pid = pid.as_raw());
    sync::send_go(sock).map_err(LaunchError::sys("signal the container to start"))?;
    let mut pty = None;
    loop {
        match sync::recv(sock) {
            Ok(sync::Message::Pty(fd)) => {
                match steps.console_socket {
                    Some(socket) => send_to_console_socket(socket, &fd)?,
                    None => pty = Some(fd),
                }
                sync::send_pty_ack(sock).map_err(LaunchError::sys("tell the container its terminal is ready"))?;
            }
            Ok(sync::Message::Error { code, msg }) => return Err(LaunchError::Container { code, msg }),
            Ok(sync::Message::Hooks) => {
                let state = match steps.state {
                    Some(f) => f(pid.as_raw()),
                    None => format!("{{\"ociVersion\":\"1.0.2\",\"pid\":{}}}", pid.as_raw()),
                };
                if let Some(h) = steps.hooks {
                    for (phase, list) in [("prestart", h.prestart()), ("createRuntime", h.create_runtime())] {
                        hooks::run(list.as_deref().unwrap_or_default(), &state, phase)
                            .map_err(|msg| LaunchError::Container { code: 125, msg })?;
                    }
                }
                sync::send_hooks_done(sock, &state).map_err(LaunchError::sys("tell the container the hooks ran"))?;
            }
            Ok(sync::Message::SeccompFd(fd)) => {
                let Some((path, metadata)) = &steps.seccomp_listener else {
                    return Err(LaunchError::sys("unexpected seccomp descriptor from the container")(Errno::EBADMSG));
                };
                let state = match steps.state {
                    Some(f) => f(pid.as_raw()),
                    None => format!("{{\"ociVersion\":\"1.0.2\",\"pid\":{}}}", pid.as_raw()),
                };
                let state: serde_json::Value = serde_json::from_str(&state).unwrap_or_default();
                seccomp::send_to_listener(path, metadata.as_deref(), fd.as_fd(), pid.as_raw(), &state)
                    .map_err(|e| LaunchError::Container { code: 125, msg: e.to_string() })?;
            }
            Ok(sync::Message::Created) if steps.until_created => return Ok(pty),
            Ok(sync::Message::Created) => {
                return Err(LaunchError::sys("unexpected message from the container")(Errno::EBADMSG))
            }
            Ok(sync::Message::Eof) => return Ok(pty),
            Err(e) => return Err(LaunchError::sys("read from the container's process")(e)),
        }
    }
}

impl Child {
    /// The container init's PID on the host.
    pub fn pid(&self) -> i32 {
        self.pid.as_raw()
    }

    /// Waits for the container to exit, forwarding signals to it and relaying
    /// its terminal (with `forward_stdin`, the user's keystrokes too) or its
    /// captured output to rrun's stdout and stderr.
    pub fn wait(self, forward_stdin: bool) -> Result<ExitStatus, LaunchError> {
        self.wait_output(forward_stdin, &mut |stream, bytes| {
            let fd = match stream {
                Stream::Stdout => libc::STDOUT_FILENO,
                Stream::Stderr => libc::STDERR_FILENO,
            };
            // SAFETY: the process's standard descriptors stay open while it runs.
            tty::write_all(unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) }, bytes).is_ok()
        })
    }

    /// Waits for the container to exit, forwarding signals to it; what it
    /// writes (its terminal, or its captured stdout and stderr) goes to
    /// `sink`. A captured stream whose sink returns false is closed: the
    /// container's next write to it fails (EPIPE), as into a closed pipe.
    /// With a terminal and `forward_stdin`, the user's keystrokes go to it.
    pub fn wait_output(
        self,
        forward_stdin: bool,
        sink: &mut dyn FnMut(Stream, &[u8]) -> bool,
    ) -> Result<ExitStatus, LaunchError> {
        let Child { pid, pty, output, input: _, signals, old_mask } = self;
        let status = match (pty, output) {
            (Some(master), _) => tty::relay(master, pid, &signals, forward_stdin, sink),
            (None, Some((out, err))) => {
                capture::relay(pid, &signals, vec![(Stream::Stdout, out), (Stream::Stderr, err)], sink)
            }
            (None, None) => wait_forwarding(pid, &signals),
        };
        let _ = nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&old_mask), None);
        status
    }

    /// The process's descriptors and signals, for a caller that runs its own
    /// loop (a monitor relaying to attached clients, a health check).
    pub fn into_io(self) -> ChildIo {
        let Child { pid, pty, output, input, signals, old_mask } = self;
        let (stdout, stderr) = match output {
            Some((o, e)) => (Some(o), Some(e)),
            None => (None, None),
        };
        ChildIo { pid, pty, stdout, stderr, stdin: input, signals, old_mask }
    }

    /// Leaves the process running on its own (OCI `create`, `exec --detach`):
    /// rrun's signal mask is restored and the process is no longer watched.
    pub fn detach(self) -> i32 {
        let _ = nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&self.old_mask), None);
        self.pid.as_raw()
    }
}

/// A started process taken apart ([`Child::into_io`]): its descriptors, and
/// the signals rrun receives for it (blocked, read from a signalfd). The
/// signal mask is restored when it is dropped.
pub struct ChildIo {
    pid: Pid,
    /// The terminal's master side (a process with a terminal).
    pub pty: Option<OwnedFd>,
    /// Read ends of the captured stdout and stderr.
    pub stdout: Option<OwnedFd>,
    pub stderr: Option<OwnedFd>,
    /// Write end of the stdin pipe (`StdinMode::Pipe`).
    pub stdin: Option<OwnedFd>,
    signals: SignalFd,
    old_mask: SigSet,
}

impl ChildIo {
    pub fn pid(&self) -> i32 {
        self.pid.as_raw()
    }

    /// The signalfd to poll: readable when a forwarded signal or SIGCHLD arrived.
    pub fn signal_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.signals.as_fd()
    }

    /// Takes one pending signal: the others than SIGCHLD and SIGWINCH are
    /// passed on to the process. Returns its number.
    pub fn handle_signal(&self) -> Option<u32> {
        match self.signals.read_signal() {
            Ok(Some(info)) => {
                forward(self.pid, info.ssi_signo);
                Some(info.ssi_signo)
            }
            _ => None,
        }
    }

    /// The exit status, once the process has exited (it is reaped then).
    pub fn try_reap(&self) -> Result<Option<ExitStatus>, LaunchError> {
        try_reap(self.pid)
    }

    /// Sends `signal` to the process (not reaped yet, so its PID is still its own).
    pub fn kill(&self, signal: Signal) {
        let _ = kill(self.pid, signal);
    }
}

impl Drop for ChildIo {
    fn drop(&mut self) {
        let _ = nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&self.old_mask), None);
    }
}

/// A fork-like clone: no new stack, SIGCHLD on exit. Returns 0 in the child.
fn fork_like_clone(flags: libc::c_int) -> libc::c_long {
    // SAFETY: a fork-like clone; rrun has a single thread here, so the child may run
    // ordinary Rust code until it execs or exits.
    unsafe { libc::syscall(libc::SYS_clone, (flags | libc::SIGCHLD) as libc::c_ulong, 0usize, 0usize, 0usize, 0usize) }
}

/// `struct clone_args` of clone3(2), up to the `cgroup` field.
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// Like [`fork_like_clone`], with the child born in the cgroup `cgroup_fd`.
fn clone3_into_cgroup(flags: libc::c_int, cgroup_fd: RawFd) -> libc::c_long {
    let mut args = CloneArgs {
        flags: flags as u32 as u64 | CLONE_INTO_CGROUP,
        exit_signal: libc::SIGCHLD as u64,
        cgroup: cgroup_fd as u64,
        ..Default::default()
    };
    // SAFETY: clone3 with a valid clone_args of the given size and no stack behaves like fork;
    // single-threaded as above.
    unsafe { libc::syscall(libc::SYS_clone3, &mut args as *mut CloneArgs, std::mem::size_of::<CloneArgs>()) }
}

/// The names of a clone's CLONE_NEW* flags (`none`: a plain fork).
fn clone_flag_names(flags: libc::c_int) -> String {
    let names: Vec<&str> = [
        (libc::CLONE_NEWNS, "CLONE_NEWNS"),
        (libc::CLONE_NEWPID, "CLONE_NEWPID"),
        (libc::CLONE_NEWUTS, "CLONE_NEWUTS"),
        (libc::CLONE_NEWIPC, "CLONE_NEWIPC"),
        (libc::CLONE_NEWNET, "CLONE_NEWNET"),
        (libc::CLONE_NEWUSER, "CLONE_NEWUSER"),
        (libc::CLONE_NEWCGROUP, "CLONE_NEWCGROUP"),
        (libc::CLONE_NEWTIME, "CLONE_NEWTIME"),
    ]
    .into_iter()
    .filter(|(f, _)| flags & f != 0)
    .map(|(_, n)| n)
    .collect();
    if names.is_empty() {
        "none (a plain fork)".into()
    } else {
        names.join("|")
    }
}

/// Checks for the child's exit without blocking.
fn try_reap(pid: Pid) -> Result<Option<ExitStatus>, LaunchError> {
    let reaped = |status: ExitStatus| {
        crate::step!(steps::WAIT, pid = pid.as_raw(), status = ?status, exit_code = status.code());
        Ok(Some(status))
    };
    loop {
        match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(_, code)) => return reaped(ExitStatus::Exited(code)),
            Ok(WaitStatus::Signaled(_, sig, _)) => return reaped(ExitStatus::Signaled(sig as i32)),
            Ok(WaitStatus::StillAlive) => return Ok(None),
            Ok(_) => continue,
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(LaunchError::sys("waitpid")(e)),
        }
    }
}

/// Forwards a signal rrun received to the container.
fn forward(pid: Pid, signo: u32) {
    if let Ok(sig) = Signal::try_from(signo as i32) {
        if sig != Signal::SIGCHLD && sig != Signal::SIGWINCH {
            debug!(signal = ?sig, "forwarding signal to the container");
            let _ = kill(pid, sig);
        }
    }
}

fn wait_forwarding(pid: Pid, signals: &SignalFd) -> Result<ExitStatus, LaunchError> {
    loop {
        if let Some(status) = try_reap(pid)? {
            return Ok(status);
        }
        match signals.read_signal() {
            Ok(Some(info)) => forward(pid, info.ssi_signo),
            Ok(None) | Err(Errno::EINTR) => {}
            Err(e) => return Err(LaunchError::sys("read signalfd")(e)),
        }
    }
}
