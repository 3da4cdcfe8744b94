//! The container's init process, between clone and exec: every step that
//! turns a forked copy of rrun into the isolated container process.

use super::identity::{self, CapSets};
use super::mounts::{self, RootfsSource};
use super::{sync, ChildError, LaunchConfig, LaunchError};
use crate::securefs::{mkdir_all_in_root, open_in_root};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sched::{setns, unshare, CloneFlags};
use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal};
use nix::unistd::{dup2, execve, setsid};
use oci_spec::runtime::{LinuxNamespace, LinuxNamespaceType, Process, Spec};
use std::convert::Infallible;
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use tracing::debug;

/// The process to become, resolved from a Spec's `process` before the fork:
/// shared by a container's init and by `exec` into a running container.
pub struct ProcessPlan<'a> {
    pub(super) process: &'a Process,
    caps: CapSets,
    args: Vec<CString>,
    env: Vec<CString>,
    path_env: Option<String>,
    cwd: PathBuf,
    terminal: bool,
    pub(super) stdio: Stdio,
}

/// Where the process's standard descriptors come from (without a terminal).
pub enum Stdio {
    /// Inherited from rrun.
    Inherit,
    /// Inherited, but stdin is `/dev/null` (no `-i`).
    NullStdin,
    /// stdin `/dev/null`, stdout and stderr the write ends of these pipes (a monitor logs them).
    Capture { stdout: OwnedFd, stderr: OwnedFd },
}

fn cstring(s: &str, what: &str) -> Result<CString, LaunchError> {
    CString::new(s).map_err(|_| LaunchError::Spec(format!("{what} contains a NUL byte: {s:?}")))
}

impl<'a> ProcessPlan<'a> {
    pub fn new(process: &'a Process, stdio: Stdio) -> Result<ProcessPlan<'a>, LaunchError> {
        let args: Vec<String> = process.args().clone().unwrap_or_default();
        if args.is_empty() {
            return Err(LaunchError::Spec("process.args is empty".into()));
        }
        let env: Vec<String> = process.env().clone().unwrap_or_default();
        let path_env = env.iter().find_map(|e| e.strip_prefix("PATH=")).map(str::to_string);
        let cwd = process.cwd().clone();
        if !cwd.is_absolute() {
            return Err(LaunchError::Spec(format!("process.cwd {} is not absolute", cwd.display())));
        }
        let caps = CapSets::from_spec(process.capabilities().as_ref()).map_err(|e| LaunchError::Spec(e.msg))?;
        Ok(ProcessPlan {
            process,
            caps,
            args: args.iter().map(|a| cstring(a, "an argument")).collect::<Result<_, _>>()?,
            env: env.iter().map(|e| cstring(e, "an environment variable")).collect::<Result<_, _>>()?,
            path_env,
            cwd,
            terminal: process.terminal().unwrap_or(false),
            stdio,
        })
    }
}

/// Everything a container's init needs, prepared by the parent before the fork.
pub struct Plan<'a> {
    spec: &'a Spec,
    rootfs: RootfsSource,
    init: bool,
    join: Vec<(LinuxNamespaceType, PathBuf)>,
    new_cgroup_ns: bool,
    new_uts: bool,
    process: ProcessPlan<'a>,
}

impl<'a> Plan<'a> {
    pub fn new(
        cfg: &LaunchConfig<'a>,
        namespaces: &[LinuxNamespace],
        join: Vec<(LinuxNamespaceType, PathBuf)>,
        stdio: Stdio,
    ) -> Result<Plan<'a>, LaunchError> {
        let spec = cfg.spec;
        let process = spec.process().as_ref().ok_or_else(|| LaunchError::Spec("process is missing".into()))?;
        let is_new = |t: LinuxNamespaceType| namespaces.iter().any(|n| n.typ() == t && n.path().is_none());
        Ok(Plan {
            spec,
            rootfs: cfg.rootfs.clone(),
            init: cfg.init,
            join,
            new_cgroup_ns: is_new(LinuxNamespaceType::Cgroup),
            new_uts: is_new(LinuxNamespaceType::Uts),
            process: ProcessPlan::new(process, stdio)?,
        })
    }
}

/// Runs in the cloned child; never returns.
pub fn main(plan: Plan<'_>, sock: OwnedFd) -> ! {
    let err = match setup_and_exec(&plan, &sock) {
        Err(e) => e,
        Ok(never) => match never {},
    };
    sync::send_error(&sock, err.code, &err.msg);
    // SAFETY: _exit ends this forked process without running the parent's atexit handlers.
    unsafe { libc::_exit(err.code) }
}

pub(super) fn sys(op: impl Into<String>) -> impl FnOnce(Errno) -> ChildError {
    let op = op.into();
    move |e| ChildError::setup(format!("{op}: {e}"))
}

fn setup_and_exec(plan: &Plan<'_>, sock: &OwnedFd) -> Result<Infallible, ChildError> {
    let spec = plan.spec;
    // if rrun dies, so does the container: a foreground container never outlives its parent
    // SAFETY: PR_SET_PDEATHSIG takes a signal number and touches no memory.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) };
    for (typ, path) in &plan.join {
        let flag = ns_flag(*typ);
        let f = std::fs::File::open(path)
            .map_err(|e| ChildError::setup(format!("open namespace {}: {e}", path.display())))?;
        debug!(syscall = "setns", path = %path.display(), "join namespace");
        setns(f.as_fd(), flag).map_err(sys(format!("setns {}", path.display())))?;
    }
    if !sync::wait_go(sock) {
        return Err(ChildError::setup("the parent went away before the container started"));
    }
    if plan.new_cgroup_ns {
        debug!(syscall = "unshare", flags = "CLONE_NEWCGROUP", "cgroup namespace rooted at the container's cgroup");
        unshare(CloneFlags::CLONE_NEWCGROUP).map_err(sys("unshare cgroup namespace"))?;
    }

    mounts::make_root_private()?;
    let root = mounts::mount_rootfs(&plan.rootfs)?;
    for m in spec.mounts().iter().flatten() {
        mounts::mount_one(root.as_fd(), m)?;
    }
    mounts::create_devices(root.as_fd(), spec)?;
    let linux = spec.linux().as_ref();
    let masked = linux.and_then(|l| l.masked_paths().clone()).unwrap_or_default();
    let readonly = linux.and_then(|l| l.readonly_paths().clone()).unwrap_or_default();
    mounts::mask_and_protect(root.as_fd(), &masked, &readonly)?;
    let cwd = &plan.process.cwd;
    if open_in_root(root.as_fd(), cwd, OFlag::O_PATH).is_err() {
        mkdir_all_in_root(root.as_fd(), cwd, 0o755)
            .map_err(sys(format!("create working directory {}", cwd.display())))?;
    }
    if plan.new_uts {
        if let Some(h) = spec.hostname() {
            debug!(syscall = "sethostname", hostname = %h, "container hostname");
            nix::unistd::sethostname(h).map_err(sys(format!("sethostname {h}")))?;
        }
        if let Some(d) = spec.domainname() {
            let c = CString::new(d.as_str()).map_err(|_| ChildError::setup("domainname contains NUL"))?;
            // SAFETY: c is a valid NUL-terminated buffer of the given length.
            if unsafe { libc::setdomainname(c.as_ptr(), d.len()) } != 0 {
                return Err(ChildError::setup(format!("setdomainname {d}: {}", std::io::Error::last_os_error())));
            }
        }
    }
    mounts::pivot_into(root.as_fd())?;
    drop(root);
    if spec.root().as_ref().and_then(|r| r.readonly()).unwrap_or(false) {
        mounts::make_root_readonly()?;
    }

    become_process(&plan.process, sock, plan.init)
}

/// The last steps, in the container's root: session, terminal or stdio,
/// rlimits, user, capabilities, no_new_privs, working directory, descriptors
/// closed on exec, the optional init, and exec itself.
pub(super) fn become_process(plan: &ProcessPlan<'_>, sock: &OwnedFd, init: bool) -> Result<Infallible, ChildError> {
    // a session of its own: terminal signals reach the container only through rrun
    setsid().map_err(sys("setsid"))?;
    let process = plan.process;
    if plan.terminal {
        setup_terminal(sock, process.user().uid(), process.user().gid())?;
    } else {
        match &plan.stdio {
            Stdio::Inherit => {}
            Stdio::NullStdin => null_stdin()?,
            Stdio::Capture { stdout, stderr } => {
                null_stdin()?;
                dup2(stdout.as_raw_fd(), 1).map_err(sys("dup2 stdout"))?;
                dup2(stderr.as_raw_fd(), 2).map_err(sys("dup2 stderr"))?;
            }
        }
    }

    if let Some(rl) = process.rlimits() {
        identity::set_rlimits(rl)?;
    }
    identity::drop_bounding(&plan.caps)?;
    identity::switch_user(process, &plan.caps)?;
    if process.no_new_privileges().unwrap_or(false) {
        identity::set_no_new_privs()?;
    }
    nix::unistd::chdir(&plan.cwd).map_err(sys(format!("chdir to working directory {}", plan.cwd.display())))?;
    // no host descriptor may survive the exec (CVE-2024-21626): mark them all close-on-exec
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only sets flags on descriptors >= 3.
    unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, libc::CLOSE_RANGE_CLOEXEC) };

    if init {
        let all = SigSet::all();
        nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&all), None).map_err(sys("block signals"))?;
        // SAFETY: single-threaded process; both sides continue with their own copy.
        match unsafe { nix::unistd::fork() }.map_err(sys("fork the command under init"))? {
            nix::unistd::ForkResult::Parent { child } => super::init::run(child, sock),
            nix::unistd::ForkResult::Child => {}
        }
    }
    reset_signals()?;
    Err(exec(plan))
}

fn null_stdin() -> Result<(), ChildError> {
    let null = nix::fcntl::open("/dev/null", OFlag::O_RDONLY | OFlag::O_CLOEXEC, nix::sys::stat::Mode::empty())
        .map_err(sys("open /dev/null"))?;
    dup2(null, 0).map_err(sys("dup2 stdin"))?;
    let _ = nix::unistd::close(null);
    Ok(())
}

pub(super) fn ns_flag(t: LinuxNamespaceType) -> CloneFlags {
    match t {
        LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
        LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
        LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
        LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
        LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
        LinuxNamespaceType::Time => CloneFlags::empty(),
    }
}

/// Opens a pseudo-terminal in the container's own devpts, makes it the
/// controlling terminal and stdio, and hands the master to the parent.
fn setup_terminal(sock: &OwnedFd, uid: u32, gid: u32) -> Result<(), ChildError> {
    use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt};
    let master = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC).map_err(sys("open /dev/ptmx"))?;
    grantpt(&master).map_err(sys("grantpt"))?;
    unlockpt(&master).map_err(sys("unlockpt"))?;
    let name = ptsname_r(&master).map_err(sys("ptsname"))?;
    let slave = nix::fcntl::open(name.as_str(), OFlag::O_RDWR | OFlag::O_NOCTTY, nix::sys::stat::Mode::empty())
        .map_err(sys(format!("open {name}")))?;
    nix::unistd::fchown(slave, Some(nix::unistd::Uid::from_raw(uid)), Some(nix::unistd::Gid::from_raw(gid)))
        .map_err(sys(format!("chown {name}")))?;
    debug!(syscall = "ioctl(TIOCSCTTY)", tty = %name, "controlling terminal");
    // SAFETY: TIOCSCTTY takes an integer argument; slave is an open terminal.
    if unsafe { libc::ioctl(slave, libc::TIOCSCTTY, 0) } != 0 {
        return Err(ChildError::setup(format!("TIOCSCTTY {name}: {}", std::io::Error::last_os_error())));
    }
    for fd in 0..3 {
        dup2(slave, fd).map_err(sys("dup2 terminal"))?;
    }
    if slave > 2 {
        let _ = nix::unistd::close(slave);
    }
    sync::send_pty(sock, master.as_raw_fd()).map_err(sys("send the terminal to rrun"))
}

/// Default dispositions and an empty mask, as a freshly exec'd program expects
/// (Rust ignores SIGPIPE, and ignored signals survive exec).
pub(super) fn reset_signals() -> Result<(), ChildError> {
    let dfl = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
    for sig in Signal::iterator() {
        if sig != Signal::SIGKILL && sig != Signal::SIGSTOP {
            // SAFETY: installing SIG_DFL runs no handler code.
            let _ = unsafe { sigaction(sig, &dfl) };
        }
    }
    nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None)
        .map_err(sys("unblock signals"))
}

/// Finds the program as execvp would (in the container's PATH) and execs it.
fn exec(plan: &ProcessPlan<'_>) -> ChildError {
    let prog = plan.args[0].as_bytes();
    let shown = String::from_utf8_lossy(prog).into_owned();
    let candidates: Vec<CString> = if prog.contains(&b'/') {
        vec![plan.args[0].clone()]
    } else {
        let path = plan.path_env.as_deref().unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        path.split(':')
            .map(|dir| {
                let dir = if dir.is_empty() { "." } else { dir };
                let mut p = Path::new(dir).join(std::ffi::OsStr::from_bytes(prog)).into_os_string().into_vec();
                p.retain(|b| *b != 0);
                CString::new(p).expect("NULs removed")
            })
            .collect()
    };
    let mut other: Option<Errno> = None;
    for c in &candidates {
        debug!(syscall = "execve", path = %c.to_string_lossy(), "run the container's command");
        match execve(c, &plan.args, &plan.env) {
            Err(Errno::ENOENT) | Err(Errno::ENOTDIR) => continue,
            Err(e) => {
                other.get_or_insert(e);
            }
            Ok(never) => match never {},
        }
    }
    match other {
        None if prog.contains(&b'/') => {
            ChildError { code: 127, msg: format!("exec: {shown:?}: no such file or directory") }
        }
        None => ChildError { code: 127, msg: format!("exec: {shown:?}: executable file not found in $PATH") },
        Some(Errno::EACCES) => ChildError { code: 126, msg: format!("exec: {shown:?}: permission denied") },
        Some(e) => ChildError { code: 126, msg: format!("exec: {shown:?}: {}", e.desc()) },
    }
}
