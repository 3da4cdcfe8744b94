//! `exec`: a new process inside a running container. It joins the
//! namespaces of the container's init (`setns` on `/proc/PID/ns/*`) and its
//! cgroup, then becomes the process exactly as the init did: user, groups,
//! capabilities, no_new_privs, rlimits, working directory, terminal.
//!
//! A PID namespace is entered only by children (`setns` on it changes where
//! the caller's *next* child is born), so rrun joins it itself just around
//! the clone, and the child joins the others.

use super::child::{self, become_process, ns_file, ns_flag, ProcessPlan};
use super::{start_child, sync, Child, LaunchError, StdioMode};
use nix::sched::{setns, CloneFlags};
use oci_spec::runtime::{LinuxNamespaceType, Process};
use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};

/// What to run, and where.
pub struct ExecConfig<'a> {
    /// Host PID of the container's init, whose namespaces are joined.
    pub pid: i32,
    /// The namespaces the container has (from its Spec); the others are the host's.
    pub namespaces: &'a [LinuxNamespaceType],
    pub process: &'a Process,
    pub cgroup: Option<&'a dyn crate::cgroups::Cgroup>,
    pub stdio: StdioMode,
    /// Descriptors 3..3+N passed on to the process.
    pub preserve_fds: u32,
    /// The container's seccomp profile, which binds exec'd processes too.
    pub seccomp: Option<&'a oci_spec::runtime::LinuxSeccomp>,
    /// Where the terminal's master side goes (`--console-socket`), if there is a terminal.
    pub console_socket: Option<&'a std::path::Path>,
    /// What an OCI runtime's `exec` adds.
    pub oci: Option<OciExec<'a>>,
}

/// The container's settings an OCI `exec`'d process takes on too.
pub struct OciExec<'a> {
    /// The container's state, for the seccomp agent (`SCMP_ACT_NOTIFY`).
    pub state: &'a dyn Fn(i32) -> String,
    /// The container's `linux.personality`.
    pub personality: Option<&'a oci_spec::runtime::LinuxPersonality>,
}

/// Starts `cfg.process` in the container; returns once it was exec'd.
pub fn spawn_in(cfg: &ExecConfig<'_>) -> Result<Child, LaunchError> {
    super::ensure_single_threaded()?;
    let open = |what: &str| {
        let path = format!("/proc/{}/ns/{what}", cfg.pid);
        File::open(&path).map_err(|e| LaunchError::Container {
            code: 125,
            msg: format!("open {path}: {e} (is the container still running?)"),
        })
    };
    // the user namespace first (it grants the rights to join the others), the mount namespace last
    let mut order: Vec<LinuxNamespaceType> = cfg.namespaces.to_vec();
    order.sort_by_key(|t| match t {
        LinuxNamespaceType::User => 0,
        LinuxNamespaceType::Mount => 2,
        _ => 1,
    });
    let mut join = Vec::new();
    let mut pid_ns = None;
    for t in order {
        match t {
            LinuxNamespaceType::Pid => pid_ns = Some(open("pid")?),
            t => join.push((t, open(ns_file(t))?)),
        }
    }
    if !join.is_empty() && join[0].0 == LinuxNamespaceType::User && !nix::unistd::Uid::effective().is_root() {
        // an ordinary user's rrun has no right over the container's PID namespace until it is in
        // the container's user namespace (which it owns): it joins that first, as runc's does
        let (_, f) = join.remove(0);
        crate::step!(super::steps::SETNS, path = %format!("/proc/{}/ns/user", cfg.pid), nstype = "user");
        setns(f.as_fd(), CloneFlags::CLONE_NEWUSER).map_err(LaunchError::sys("setns user namespace"))?;
    }
    let (stdio, pipes) = cfg.stdio.prepare()?;
    let mut plan = ProcessPlan::new(cfg.process, cfg.seccomp, stdio)?;
    plan.preserve_fds = cfg.preserve_fds;
    plan.personality = cfg.oci.as_ref().and_then(|o| o.personality.cloned());

    let restore_pid_ns = match &pid_ns {
        Some(target) => {
            let own = File::open("/proc/self/ns/pid_for_children").map_err(|e| LaunchError::Container {
                code: 125,
                msg: format!("open /proc/self/ns/pid_for_children: {e}"),
            })?;
            crate::step!(super::steps::PID_NAMESPACE_JOIN, path = %format!("/proc/{}/ns/pid", cfg.pid));
            setns(target.as_fd(), CloneFlags::CLONE_NEWPID).map_err(LaunchError::sys("setns pid namespace"))?;
            Some(own)
        }
        None => None,
    };
    let steps = super::ParentSteps {
        pipes,
        cgroup: cfg.cgroup,
        id_maps: None,
        hooks: None,
        state: cfg.oci.as_ref().map(|o| o.state),
        until_created: false,
        seccomp_listener: cfg.seccomp.and_then(|s| Some((s.listener_path().clone()?, s.listener_metadata().clone()))),
        console_socket: cfg.console_socket,
        mount_sources: Vec::new(),
    };
    let child = start_child(0, steps, move |sock| exec_child(plan, cfg.pid, join, sock));
    if let Some(own) = restore_pid_ns {
        if let Err(e) = setns(own.as_fd(), CloneFlags::CLONE_NEWPID) {
            tracing::warn!(error = %e, "could not return to rrun's own PID namespace for children");
        }
    }
    child
}

fn exec_child(plan: ProcessPlan<'_>, pid: i32, join: Vec<(LinuxNamespaceType, File)>, sock: OwnedFd) -> ! {
    let os = &super::syscall::LINUX;
    let err = (|| {
        child::set_non_dumpable(os)?;
        for (t, f) in &join {
            crate::step!(super::steps::SETNS, path = %format!("/proc/{pid}/ns/{}", ns_file(*t)), nstype = ns_file(*t));
            setns(f.as_fd(), ns_flag(*t)).map_err(child::sys(format!("setns {} namespace", ns_file(*t))))?;
        }
        drop(join);
        if !sync::wait_go(&sock) {
            return Err(super::ChildError::setup("rrun went away before the process started"));
        }
        become_process(os, &plan, &sock, false, None)
    })();
    let err = match err {
        Err(e) => e,
        Ok(never) => match never {},
    };
    sync::send_error(&sock, err.code, &err.msg);
    // SAFETY: _exit ends this forked process without running the parent's atexit handlers.
    unsafe { libc::_exit(err.code) }
}
