//! The container's init process, between clone and exec: every step that
//! turns a forked copy of rrun into the isolated container process.

use super::attrs;
use super::identity::{self, CapSets};
use super::mounts::{self, RootfsSource};
use super::syscall::{Syscall, LINUX};
use super::{steps, sync, ChildError, LaunchConfig, LaunchError};
use crate::securefs::{mkdir_all_in_root, open_in_root};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sched::CloneFlags;
use nix::sys::signal::{SigSet, SigmaskHow};
use nix::unistd::dup2;
use oci_spec::runtime::{LinuxNamespace, LinuxNamespaceType, Process, Spec};
use std::convert::Infallible;
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

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
    /// Descriptors 3..3+N stay open across exec (`--preserve-fds`, `LISTEN_FDS`).
    pub(super) preserve_fds: u32,
    /// The container's seccomp filter, compiled before the fork.
    seccomp: Option<super::seccomp::Filter>,
    /// The container's `linux.personality`, for a process `exec`'d into it.
    pub(super) personality: Option<oci_spec::runtime::LinuxPersonality>,
}

/// Where the process's standard descriptors come from (without a terminal).
pub enum Stdio {
    /// Inherited from rrun.
    Inherit,
    /// Inherited, but stdin is `/dev/null` (no `-i`).
    NullStdin,
    /// `/dev/null`, all three.
    Null,
    /// stdout and stderr the write ends of these pipes (the caller relays and logs them).
    Capture { stdin: ChildStdin, stdout: OwnedFd, stderr: OwnedFd },
}

/// The stdin of a process whose output is captured.
pub enum ChildStdin {
    /// `/dev/null`.
    Null,
    /// rrun's own (`run -i` in the foreground).
    Inherit,
    /// The read end of a pipe whose write end the caller keeps (`run -d -i`).
    Pipe(OwnedFd),
}

fn cstring(s: &str, what: &str) -> Result<CString, LaunchError> {
    CString::new(s).map_err(|_| LaunchError::Spec(format!("{what} contains a NUL byte: {s:?}")))
}

impl<'a> ProcessPlan<'a> {
    pub fn new(
        process: &'a Process,
        seccomp: Option<&oci_spec::runtime::LinuxSeccomp>,
        stdio: Stdio,
    ) -> Result<ProcessPlan<'a>, LaunchError> {
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
        super::lsm::check(process)?;
        Ok(ProcessPlan {
            process,
            caps,
            args: args.iter().map(|a| cstring(a, "an argument")).collect::<Result<_, _>>()?,
            env: env.iter().map(|e| cstring(e, "an environment variable")).collect::<Result<_, _>>()?,
            path_env,
            cwd,
            terminal: process.terminal().unwrap_or(false),
            stdio,
            preserve_fds: 0,
            seccomp: seccomp
                .map(super::seccomp::build_filter_cached)
                .transpose()
                .map_err(|e| LaunchError::Spec(e.to_string()))?,
            personality: None,
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
    /// A UTS namespace of its own (new, or joined): hostname and domainname are set in it.
    own_uts: bool,
    new_user_ns: bool,
    /// Whether the new user namespace's maps give it a uid 0 and a gid 0.
    userns_root: RootMapped,
    /// A new user namespace whose maps an ordinary user writes: the child stays
    /// dumpable until they are written (its /proc files are root's otherwise).
    maps_by_user: bool,
    /// A mount namespace of its own (new, or joined): without one, the host's, nothing is
    /// mounted and the process is chrooted into the rootfs, as runc and crun do.
    own_mount_ns: bool,
    /// How many bind sources rrun opens and sends before "go" (`mount_sources`).
    pub(super) mount_sources: usize,
    process: ProcessPlan<'a>,
    /// OCI `create`: what differs from a container run by rrun itself.
    oci: Option<OciPlan>,
    /// Idmapped copies of bind sources, by mount index, made before the clone.
    idmapped: Vec<(usize, OwnedFd)>,
    /// rrun's own engine steps (volume copy-up).
    engine: super::EngineSteps,
    /// A network namespace of its own, new.
    new_net_ns: bool,
    /// `linux.intelRdt`: the `tasks` file of the resctrl class of service the init joins.
    rdt_tasks: Option<OwnedFd>,
}

/// The parts of an OCI `create` the child carries out.
pub struct OciPlan {
    /// `O_PATH` descriptor of the exec FIFO, opened before pivot_root.
    fifo: OwnedFd,
    no_pivot: bool,
    /// Name of the new session keyring (None: `--no-new-keyring`).
    keyring: Option<String>,
    /// `linux.memoryPolicy`, checked.
    memory_policy: Option<super::mempolicy::Resolved>,
}

/// The init opens the exec FIFO for writing once it is the container's
/// process (its user, its capabilities), as runc's does: the FIFO gets
/// runc's mode 0622 whatever the umask (a process user other than root
/// opens it as "others"), and in a new user namespace it belongs to the
/// container's root, since the kernel refuses writes to an inode whose owner
/// is not mapped there.
fn let_the_process_open_fifo(fifo: &Path, user_ns: Option<&oci_spec::runtime::Linux>) -> Result<(), LaunchError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(fifo, std::fs::Permissions::from_mode(0o622))
        .map_err(|e| LaunchError::Container { code: 125, msg: format!("chmod {}: {e}", fifo.display()) })?;
    let Some(linux) = user_ns else { return Ok(()) };
    let host_root = |maps: &Option<Vec<oci_spec::runtime::LinuxIdMapping>>| {
        maps.iter().flatten().find(|m| m.container_id() == 0 && m.size() > 0).map(|m| m.host_id())
    };
    let (uid, gid) = (host_root(linux.uid_mappings()), host_root(linux.gid_mappings()));
    if uid.is_some() || gid.is_some() {
        nix::unistd::chown(fifo, uid.map(nix::unistd::Uid::from_raw), gid.map(nix::unistd::Gid::from_raw))
            .map_err(LaunchError::sys(format!("chown {} to the container's root", fifo.display())))?;
    }
    Ok(())
}

/// The OCI hooks the init itself takes part in.
fn has_init_hooks(spec: &Spec) -> bool {
    spec.hooks().as_ref().is_some_and(|h| {
        [h.prestart(), h.create_runtime(), h.create_container(), h.start_container()]
            .iter()
            .any(|v| v.as_ref().is_some_and(|v| !v.is_empty()))
    })
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
        // as runc and crun: names set in the host's UTS namespace would be the host's
        let own_uts = attrs::owns_namespace(namespaces, LinuxNamespaceType::Uts);
        let named = |n: &Option<String>| n.as_deref().is_some_and(|n| !n.is_empty());
        if !own_uts && (named(spec.hostname()) || named(spec.domainname())) {
            return Err(LaunchError::Spec(
                "hostname and domainname need the container's own UTS namespace; it has the host's".into(),
            ));
        }
        if let Some(sysctl) = spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()) {
            attrs::check_sysctls(sysctl, namespaces).map_err(LaunchError::Spec)?;
        }
        let own_mount_ns = namespaces.iter().any(|n| n.typ() == LinuxNamespaceType::Mount);
        if !own_mount_ns {
            mounts::check_without_mount_ns(spec).map_err(LaunchError::Spec)?;
        }
        super::lsm::check_mount_label(spec.linux().as_ref().and_then(|l| l.mount_label().as_deref()))?;
        let seccomp = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref());
        let mut process_plan = ProcessPlan::new(process, seccomp, stdio)?;
        let oci = match &cfg.oci {
            Some(o) => {
                process_plan.preserve_fds = o.preserve_fds;
                let fifo =
                    nix::fcntl::open(o.exec_fifo, OFlag::O_PATH | OFlag::O_CLOEXEC, nix::sys::stat::Mode::empty())
                        .map_err(LaunchError::sys(format!("open {}", o.exec_fifo.display())))?;
                let user_ns = is_new(LinuxNamespaceType::User).then(|| spec.linux().as_ref()).flatten();
                let_the_process_open_fifo(o.exec_fifo, user_ns)?;
                Some(OciPlan {
                    // SAFETY: open returned a new descriptor that nothing else owns.
                    fifo: unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fifo) },
                    no_pivot: o.no_pivot,
                    keyring: o.keyring.clone(),
                    memory_policy: o.memory_policy.clone(),
                })
            }
            None => None,
        };
        // checked (and its schemata written) here in rrun, joined by the init before it runs anything
        let rdt_tasks = match spec.linux().as_ref().and_then(|l| l.intel_rdt().as_ref()) {
            Some(rdt) => Some(
                crate::cgroups::resctrl::prepare(rdt, crate::cgroups::resctrl::mount_point().as_deref())
                    .map_err(|e| LaunchError::Spec(format!("intelRdt: {e}")))?,
            ),
            None => None,
        };
        Ok(Plan {
            rdt_tasks,
            spec,
            rootfs: cfg.rootfs.clone(),
            init: cfg.init,
            join,
            new_cgroup_ns: is_new(LinuxNamespaceType::Cgroup),
            own_uts,
            new_user_ns: is_new(LinuxNamespaceType::User),
            userns_root: RootMapped::of(spec.linux().as_ref()),
            maps_by_user: is_new(LinuxNamespaceType::User) && !nix::unistd::Uid::effective().is_root(),
            engine: cfg.engine.clone(),
            new_net_ns: is_new(LinuxNamespaceType::Network),
            own_mount_ns,
            mount_sources: 0,
            process: process_plan,
            oci,
            idmapped: {
                let linux = spec.linux().as_ref();
                super::idmap::prepare(
                    spec.mounts().as_deref().unwrap_or_default(),
                    linux.and_then(|l| l.uid_mappings().as_deref()).unwrap_or_default(),
                    linux.and_then(|l| l.gid_mappings().as_deref()).unwrap_or_default(),
                )?
            },
        })
    }
}

/// Which of uid 0 and gid 0 a new user namespace's maps (the Spec's, as
/// the parent writes them) give it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RootMapped {
    uid: bool,
    gid: bool,
}

impl RootMapped {
    fn of(linux: Option<&oci_spec::runtime::Linux>) -> RootMapped {
        let has_zero = |maps: Option<&Vec<oci_spec::runtime::LinuxIdMapping>>| {
            maps.into_iter().flatten().any(|m| m.container_id() == 0 && m.size() > 0)
        };
        RootMapped {
            uid: has_zero(linux.and_then(|l| l.uid_mappings().as_ref())),
            gid: has_zero(linux.and_then(|l| l.gid_mappings().as_ref())),
        }
    }
}

/// In a new user namespace, once the parent wrote its maps: become its
/// root (gid first, while the uid may still change it), as runc's and
/// crun's inits do. An id the maps do not give the namespace is not asked
/// for: the kernel would refuse it (EINVAL), and the process keeps the
/// full capabilities a new user namespace gives its first process, then
/// takes `process.user`'s ids. A mapped id the kernel refuses is an error.
fn become_userns_root(os: &dyn Syscall, mapped: RootMapped) -> Result<(), ChildError> {
    crate::step!(steps::USERNS_ROOT, uid = 0, gid = 0, uid_mapped = mapped.uid, gid_mapped = mapped.gid);
    if mapped.gid {
        os.setresgid(0.into()).map_err(sys("become the user namespace's root: setresgid(0, 0, 0)"))?;
    }
    if mapped.uid {
        os.setresuid(0.into()).map_err(sys("become the user namespace's root: setresuid(0, 0, 0)"))?;
    }
    Ok(())
}

/// Runs in the cloned child; never returns.
pub fn main(plan: Plan<'_>, sock: OwnedFd) -> ! {
    let err = match setup_and_exec(&LINUX, &plan, &sock) {
        Err(e) => e,
        Ok(never) => match never {},
    };
    if CREATED.load(std::sync::atomic::Ordering::Relaxed) {
        // OCI: `create` returned when the init said it was created, and nobody reads the
        // socket any more; the container's stderr is where an engine looks (runc's init too)
        eprintln!("rrun: container init: {}", err.msg);
    }
    sync::send_error(&sock, err.code, &err.msg);
    // SAFETY: _exit ends this forked process without running the parent's atexit handlers.
    unsafe { libc::_exit(err.code) }
}

pub(super) fn sys(op: impl Into<String>) -> impl FnOnce(Errno) -> ChildError {
    let op = op.into();
    move |e| ChildError::setup(format!("{op}: {e}"))
}

/// The init's steps from the fork to the exec, every syscall through `os`.
fn setup_and_exec(os: &dyn Syscall, plan: &Plan<'_>, sock: &OwnedFd) -> Result<Infallible, ChildError> {
    let spec = plan.spec;
    if !plan.maps_by_user {
        set_non_dumpable(os)?;
    }
    if plan.oci.is_none() {
        // if rrun dies, so does the container: a foreground container never outlives its parent
        crate::step!(steps::PARENT_DEATH_SIGNAL, signal = "SIGKILL");
        os.set_parent_death_signal(libc::SIGKILL).map_err(sys("prctl(PR_SET_PDEATHSIG, SIGKILL)"))?;
    }
    // a user namespace first: it grants the rights to join the others
    let mut join: Vec<&(LinuxNamespaceType, PathBuf)> = plan.join.iter().collect();
    join.sort_by_key(|(t, _)| *t != LinuxNamespaceType::User);
    for (typ, path) in join {
        let flag = ns_flag(*typ);
        let f = std::fs::File::open(path)
            .map_err(|e| ChildError::setup(format!("open namespace {}: {e}", path.display())))?;
        crate::step!(steps::SETNS, path = %path.display(), nstype = ns_file(*typ));
        os.setns(f.as_fd(), flag).map_err(sys(format!("setns {}", path.display())))?;
    }
    let sources = super::mount_sources::receive(sock, plan.mount_sources).map_err(ChildError::setup)?;
    if !sync::wait_go(sock) {
        return Err(ChildError::setup("the parent went away before the container started"));
    }
    if plan.maps_by_user {
        // the maps are written: nothing of the host is reachable through this process now
        set_non_dumpable(os)?;
    }
    if let Some(tasks) = &plan.rdt_tasks {
        // 0: the writer itself (resctrl reads PIDs in the writer's PID namespace)
        crate::step!(steps::RDT_JOIN, file = "tasks");
        os.write_control(tasks.as_fd(), b"0").map_err(sys("join the intelRdt class of service (resctrl tasks)"))?;
    }
    if plan.new_user_ns {
        become_userns_root(os, plan.userns_root)?;
    }
    if plan.new_cgroup_ns {
        crate::step!(steps::CGROUP_NAMESPACE, flags = "CLONE_NEWCGROUP");
        os.unshare(CloneFlags::CLONE_NEWCGROUP).map_err(sys("unshare cgroup namespace"))?;
    }
    if plan.new_net_ns {
        // as runc (a "loopback" network for every new network namespace) and crun do
        os.loopback_up().map_err(ChildError::setup)?;
    }

    let linux = spec.linux().as_ref();
    let root = if plan.own_mount_ns {
        mounts::make_root_private(os, linux.and_then(|l| l.rootfs_propagation().as_deref()))?;
        let root = mounts::mount_rootfs(os, &plan.rootfs)?;
        let mount_label = linux.and_then(|l| l.mount_label().as_deref());
        // a read-only /dev gets its device nodes first: it is made read-only at the end
        let mut readonly_later = Vec::new();
        for (i, m) in spec.mounts().iter().flatten().enumerate() {
            if plan.engine.copy_up.iter().any(|d| d == m.destination()) {
                super::copyup::fill_empty_volume(root.as_fd(), m)?;
            }
            let idmapped = plan.idmapped.iter().find(|(j, _)| *j == i).map(|(_, tree)| tree);
            let opened = sources.iter().find(|(j, _)| *j == i).map(|(_, fd)| fd);
            let m = mounts::writable_until_the_end(m, &mut readonly_later);
            let bind_cgroups = !plan.new_cgroup_ns || plan.new_user_ns;
            mounts::mount_one(os, root.as_fd(), &m, bind_cgroups, idmapped, opened, mount_label)?;
        }
        mounts::create_devices(os, root.as_fd(), spec)?;
        if let Some(sysctl) = linux.and_then(|l| l.sysctl().as_ref()) {
            attrs::set_sysctls(os, root.as_fd(), sysctl)?;
        }
        let masked = linux.and_then(|l| l.masked_paths().clone()).unwrap_or_default();
        let readonly = linux.and_then(|l| l.readonly_paths().clone()).unwrap_or_default();
        mounts::mask_and_protect(os, root.as_fd(), &masked, &readonly)?;
        mounts::remount_readonly(os, root.as_fd(), &readonly_later)?;
        root
    } else {
        mounts::open_rootfs(&plan.rootfs)?
    };
    let cwd = &plan.process.cwd;
    if open_in_root(root.as_fd(), cwd, OFlag::O_PATH).is_err() {
        crate::step!(steps::MKDIR_CWD, path = %cwd.display(), mode = "0755");
        mkdir_all_in_root(root.as_fd(), cwd, 0o755)
            .map_err(sys(format!("create working directory {}", cwd.display())))?;
    }
    if plan.own_uts {
        if let Some(h) = spec.hostname() {
            crate::step!(steps::SETHOSTNAME, hostname = %h);
            os.sethostname(h).map_err(sys(format!("sethostname {h}")))?;
        }
        if let Some(d) = spec.domainname() {
            if d.contains('\0') {
                return Err(ChildError::setup("domainname contains NUL"));
            }
            crate::step!(steps::SETDOMAINNAME, domainname = %d);
            os.setdomainname(d).map_err(sys(format!("setdomainname {d}")))?;
        }
    }
    // the runtime's hooks (in rrun), then the container's own, all still before pivot_root
    let state = if has_init_hooks(spec) {
        sync::send_hooks(sock).map_err(sys("ask rrun to run the createRuntime hooks"))?;
        let state = sync::wait_hooks_done(sock)
            .ok_or_else(|| ChildError::setup("rrun went away while running the createRuntime hooks"))?;
        let hooks = spec.hooks().as_ref().and_then(|h| h.create_container().clone()).unwrap_or_default();
        super::hooks::run(&hooks, &state, "createContainer").map_err(ChildError::setup)?;
        Some(state)
    } else {
        None
    };
    if let Some(name) = plan.oci.as_ref().and_then(|o| o.keyring.as_deref()) {
        attrs::join_new_keyring(name);
    }
    // the host's /proc of this process, for the exec FIFO once the root has changed
    let mut fd_dir = match &plan.oci {
        Some(_) => Some(mounts::open_own_fd_dir()?),
        None => None,
    };
    if !plan.own_mount_ns {
        mounts::chroot_into(os, root.as_fd())?;
    } else if plan.oci.as_ref().is_some_and(|o| o.no_pivot) {
        mounts::move_root_into(os, root.as_fd(), plan.rootfs.target())?;
    } else {
        mounts::pivot_into(os, root.as_fd())?;
    }
    drop(root);
    if plan.own_mount_ns {
        mounts::apply_root_propagation(os, linux.and_then(|l| l.rootfs_propagation().as_deref()))?;
        if spec.root().as_ref().and_then(|r| r.readonly()).unwrap_or(false) {
            mounts::make_root_readonly(os)?;
        }
    }
    if let Some(p) = linux.and_then(|l| l.personality().as_ref()) {
        attrs::set_personality(p)?;
    }
    if let Some(p) = plan.oci.as_ref().and_then(|o| o.memory_policy.as_ref()) {
        super::mempolicy::apply(p)?;
    }
    let start_hooks = start_hooks_with_env(spec, plan.process.process);
    let gate = match &plan.oci {
        Some(o) => Some(Gate {
            fifo: Some(&o.fifo),
            fd_dir: fd_dir.take(),
            start_hooks,
            state: state.clone().unwrap_or_default(),
        }),
        // rrun's own run has no `start` to wait for: only its startContainer hooks, just before exec
        None if !start_hooks.is_empty() => {
            Some(Gate { fifo: None, fd_dir: None, start_hooks, state: state.clone().unwrap_or_default() })
        }
        None => None,
    };
    become_process(os, &plan.process, sock, plan.init, gate.as_ref())
}

/// The startContainer hooks; one without an `env` of its own runs with the
/// container process's environment, as runc's (which run them from its init,
/// once it has taken on that environment).
fn start_hooks_with_env(spec: &Spec, process: &Process) -> Vec<oci_spec::runtime::Hook> {
    let mut hooks = spec.hooks().as_ref().and_then(|h| h.start_container().clone()).unwrap_or_default();
    for h in &mut hooks {
        if h.env().is_none() {
            h.set_env(process.env().clone());
        }
    }
    hooks
}

/// Set once the init told rrun it is created (OCI `create`): rrun no longer
/// listens for its errors then.
static CREATED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// OCI `create`: the init stops here until `start`, then runs the
/// startContainer hooks, and only then execs. Without a FIFO (rrun's own
/// run), only the hooks run.
pub(super) struct Gate<'a> {
    /// The exec FIFO (None: rrun's own run, which has no `start` to wait for).
    fifo: Option<&'a OwnedFd>,
    /// The host's `/proc/self/fd` of the init, opened before pivot_root: the
    /// FIFO is reopened through it, whether the container mounts a /proc or not.
    fd_dir: Option<OwnedFd>,
    start_hooks: Vec<oci_spec::runtime::Hook>,
    state: String,
}

impl Gate<'_> {
    /// Tells rrun the container is created, then blocks until `start` opens the FIFO.
    fn wait_for_start(&self, sock: &OwnedFd) -> Result<(), ChildError> {
        let Some(fifo) = self.fifo else { return self.run_start_hooks() };
        // reopened through /proc: the O_PATH descriptor was taken before pivot_root
        let name = fifo.as_raw_fd().to_string();
        let path = format!("/proc/self/fd/{name}");
        // both steps told before rrun hears "created": a narrating `create` ends when it does
        crate::step!(steps::CREATED);
        crate::step!(steps::WAIT_START, path = %path);
        sync::send_created(sock).map_err(sys("tell rrun the container is created"))?;
        CREATED.store(true, std::sync::atomic::Ordering::Relaxed);
        let fd = loop {
            let flags = OFlag::O_WRONLY | OFlag::O_CLOEXEC;
            let opened = match &self.fd_dir {
                Some(dir) => {
                    nix::fcntl::openat(Some(dir.as_raw_fd()), name.as_str(), flags, nix::sys::stat::Mode::empty())
                }
                None => nix::fcntl::open(path.as_str(), flags, nix::sys::stat::Mode::empty()),
            };
            match opened {
                Err(Errno::EINTR) => continue,
                r => break r.map_err(sys("open the exec FIFO"))?,
            }
        };
        // SAFETY: open returned a new descriptor that nothing else owns.
        let fd = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
        nix::unistd::write(&fd, b"0").map_err(sys("write the exec FIFO"))?;
        drop(fd);
        self.run_start_hooks()
    }

    fn run_start_hooks(&self) -> Result<(), ChildError> {
        super::hooks::run(&self.start_hooks, &self.state, "startContainer").map_err(ChildError::setup)
    }
}

/// The last steps, in the container's root: session, terminal or stdio,
/// rlimits, user, capabilities, no_new_privs, working directory, descriptors
/// closed on exec, the optional init, and exec itself.
pub(super) fn become_process(
    os: &dyn Syscall,
    plan: &ProcessPlan<'_>,
    sock: &OwnedFd,
    init: bool,
    gate: Option<&Gate<'_>>,
) -> Result<Infallible, ChildError> {
    // a session of its own: terminal signals reach the container only through rrun
    crate::step!(steps::SETSID);
    os.setsid().map_err(sys("setsid"))?;
    let process = plan.process;
    let env = env_with_home(plan);
    if plan.terminal {
        setup_terminal(sock, process)?;
    } else {
        match &plan.stdio {
            Stdio::Inherit => crate::step!(steps::STDIO, stdin = "rrun's", stdout = "rrun's", stderr = "rrun's"),
            Stdio::NullStdin => {
                crate::step!(steps::STDIO, stdin = "/dev/null", stdout = "rrun's", stderr = "rrun's");
                null_stdin()?
            }
            Stdio::Null => {
                crate::step!(steps::STDIO, stdin = "/dev/null", stdout = "/dev/null", stderr = "/dev/null");
                null_stdin()?;
                null_output()?
            }
            Stdio::Capture { stdin, stdout, stderr } => {
                let from = match stdin {
                    ChildStdin::Null => "/dev/null",
                    ChildStdin::Inherit => "rrun's",
                    ChildStdin::Pipe(_) => "a pipe from rrun",
                };
                crate::step!(steps::STDIO, stdin = from, stdout = "a pipe to rrun", stderr = "a pipe to rrun");
                match stdin {
                    ChildStdin::Null => null_stdin()?,
                    ChildStdin::Inherit => {}
                    ChildStdin::Pipe(r) => {
                        dup2(r.as_raw_fd(), 0).map_err(sys("dup2 stdin"))?;
                    }
                }
                dup2(stdout.as_raw_fd(), 1).map_err(sys("dup2 stdout"))?;
                dup2(stderr.as_raw_fd(), 2).map_err(sys("dup2 stderr"))?;
            }
        }
    }

    if let Some(rl) = process.rlimits() {
        identity::set_rlimits(os, rl)?;
    }
    // these may need privileges the process is about to lose
    if let Some(adj) = process.oom_score_adj() {
        attrs::set_oom_score_adj(adj)?;
    }
    if let Some(p) = process.io_priority() {
        attrs::set_io_priority(p)?;
    }
    if let Some(s) = process.scheduler() {
        attrs::set_scheduler(s)?;
    }
    if let Some(p) = &plan.personality {
        attrs::set_personality(p)?;
    }
    identity::set_umask(os, process.user().umask());
    super::lsm::apply(process)?;
    // the working directory first, checked to be inside the root (CVE-2024-21626) while no
    // seccomp filter can refuse or hold up the check; as the process's user if rrun may not
    let cwd_entered = super::finalize::enter_cwd(os, &plan.cwd)?;
    // without no_new_privs, installing a filter needs CAP_SYS_ADMIN: load it while it is held
    let no_new_privs = process.no_new_privileges().unwrap_or(false);
    if !no_new_privs {
        load_seccomp(os, plan, sock)?;
    }
    identity::drop_bounding(os, &plan.caps)?;
    identity::switch_user(os, process, &plan.caps, || {
        if cwd_entered {
            Ok(())
        } else {
            super::finalize::enter_cwd_as_user(os, &plan.cwd)
        }
    })?;
    if no_new_privs {
        identity::set_no_new_privs(os)?;
        // as late as possible, so that few syscalls must be allowed after it
        load_seccomp(os, plan, sock)?;
    }
    // no host descriptor may survive the exec (CVE-2024-21626): every one rrun opened is
    // close-on-exec already (and stays so, in 3..3+N too); the caller's from 3+N on become so
    super::finalize::close_on_exec_from(os, 3 + plan.preserve_fds)?;
    if let Some(gate) = gate.filter(|g| g.fifo.is_none()) {
        gate.run_start_hooks()?;
    }
    if let Some(gate) = gate.filter(|g| g.fifo.is_some()) {
        // a missing command is a create-time error, as with runc
        let program = resolve_program(plan)?;
        gate.wait_for_start(sock)?;
        reset_signals(os)?;
        return Err(exec_resolved(os, plan, &program, &env));
    }

    if init {
        let all = SigSet::all();
        nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&all), None).map_err(sys("block signals"))?;
        crate::step!(steps::INIT_FORK);
        // SAFETY: single-threaded process; both sides continue with their own copy.
        match unsafe { nix::unistd::fork() }.map_err(sys("fork the command under init"))? {
            nix::unistd::ForkResult::Parent { child } => super::init::run(child, sock),
            nix::unistd::ForkResult::Child => {}
        }
    }
    reset_signals(os)?;
    Err(exec(os, plan, &env))
}

/// The process's environment, with `HOME` added when it has none, as runc
/// and crun add it: the home of `process.user.uid` in the container's
/// `/etc/passwd`, or `/`. Read once the container's root is `/`.
fn env_with_home(plan: &ProcessPlan<'_>) -> Vec<CString> {
    let mut env = plan.env.clone();
    if env.iter().any(|e| e.as_bytes().starts_with(b"HOME=")) {
        return env;
    }
    let uid = plan.process.user().uid();
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let home = home_of(&passwd, uid).unwrap_or("/");
    if let Ok(c) = CString::new(format!("HOME={home}")) {
        crate::step!(steps::HOME, home, uid);
        env.push(c);
    }
    env
}

/// The home directory of `uid` in an /etc/passwd.
fn home_of(passwd: &str, uid: u32) -> Option<&str> {
    passwd.lines().find_map(|line| match line.split(':').collect::<Vec<_>>().as_slice() {
        [_, _, id, _, _, home, ..] if id.parse::<u32>().ok() == Some(uid) && !home.is_empty() => Some(*home),
        _ => None,
    })
}

/// Until it execs, the process is a copy of rrun inside the container's
/// namespaces: not dumpable, other processes there cannot open its
/// `/proc/PID/exe` (the host's rrun binary, CVE-2019-5736), `mem` or `fd/`
/// without CAP_SYS_PTRACE. execve makes the container's own program dumpable again.
pub(super) fn set_non_dumpable(os: &dyn Syscall) -> Result<(), ChildError> {
    crate::step!(steps::NON_DUMPABLE);
    os.set_dumpable(false).map_err(sys("prctl(PR_SET_DUMPABLE, 0)"))
}

/// Installs the seccomp filter; a listener's descriptor goes to rrun, which
/// hands it to the agent (it is outside the container's mount namespace).
fn load_seccomp(os: &dyn Syscall, plan: &ProcessPlan<'_>, sock: &OwnedFd) -> Result<(), ChildError> {
    let Some(filter) = &plan.seccomp else { return Ok(()) };
    match os.load_seccomp(filter).map_err(ChildError::setup)? {
        Some(fd) => sync::send_seccomp_fd(sock, &fd).map_err(sys("send the seccomp listener to rrun")),
        None => Ok(()),
    }
}

fn null_stdin() -> Result<(), ChildError> {
    let null = nix::fcntl::open("/dev/null", OFlag::O_RDONLY | OFlag::O_CLOEXEC, nix::sys::stat::Mode::empty())
        .map_err(sys("open /dev/null"))?;
    dup2(null, 0).map_err(sys("dup2 stdin"))?;
    let _ = nix::unistd::close(null);
    Ok(())
}

/// `/dev/null` as stdout and stderr.
fn null_output() -> Result<(), ChildError> {
    let null = nix::fcntl::open("/dev/null", OFlag::O_WRONLY | OFlag::O_CLOEXEC, nix::sys::stat::Mode::empty())
        .map_err(sys("open /dev/null"))?;
    dup2(null, 1).map_err(sys("dup2 stdout"))?;
    dup2(null, 2).map_err(sys("dup2 stderr"))?;
    let _ = nix::unistd::close(null);
    Ok(())
}

/// The name of a namespace type under `/proc/PID/ns/`.
pub(super) fn ns_file(t: LinuxNamespaceType) -> &'static str {
    match t {
        LinuxNamespaceType::Mount => "mnt",
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::Network => "net",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Time => "time",
    }
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
fn setup_terminal(sock: &OwnedFd, process: &Process) -> Result<(), ChildError> {
    use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt};
    let master = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC).map_err(sys("open /dev/ptmx"))?;
    grantpt(&master).map_err(sys("grantpt"))?;
    unlockpt(&master).map_err(sys("unlockpt"))?;
    let name = ptsname_r(&master).map_err(sys("ptsname"))?;
    let slave = nix::fcntl::open(name.as_str(), OFlag::O_RDWR | OFlag::O_NOCTTY, nix::sys::stat::Mode::empty())
        .map_err(sys(format!("open {name}")))?;
    // the process's user owns it; its group stays devpts's (gid=5, tty), as with runc and crun
    let uid = process.user().uid();
    nix::unistd::fchown(slave, Some(nix::unistd::Uid::from_raw(uid)), None).map_err(sys(format!("chown {name}")))?;
    if let Some(size) = process.console_size() {
        let ws =
            libc::winsize { ws_row: size.height() as u16, ws_col: size.width() as u16, ws_xpixel: 0, ws_ypixel: 0 };
        crate::step!(steps::CONSOLE_SIZE, rows = ws.ws_row, columns = ws.ws_col);
        // SAFETY: TIOCSWINSZ reads one winsize struct we own; slave is an open terminal.
        if unsafe { libc::ioctl(slave, libc::TIOCSWINSZ, &ws) } != 0 {
            return Err(ChildError::setup(format!("TIOCSWINSZ {name}: {}", std::io::Error::last_os_error())));
        }
    }
    crate::step!(steps::TERMINAL, tty = %name, uid);
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
    sync::send_pty(sock, master.as_raw_fd()).map_err(sys("send the terminal to rrun"))?;
    // a short command must not run (and exit) before its terminal reached the engine
    if !sync::wait_pty_ack(sock) {
        return Err(ChildError::setup("rrun went away before the terminal was handed over"));
    }
    Ok(())
}

/// Default dispositions and an empty mask, as a freshly exec'd program expects
/// (Rust ignores SIGPIPE, and ignored signals survive exec).
pub(super) fn reset_signals(os: &dyn Syscall) -> Result<(), ChildError> {
    crate::step!(steps::RESET_SIGNALS);
    os.reset_signals().map_err(sys("unblock signals"))
}

/// Where execvp would look for the program: itself when it has a slash,
/// else each directory of the container's PATH.
fn candidates(plan: &ProcessPlan<'_>) -> Vec<CString> {
    let prog = plan.args[0].as_bytes();
    if prog.contains(&b'/') {
        return vec![plan.args[0].clone()];
    }
    let path = plan.path_env.as_deref().unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    path.split(':')
        .map(|dir| {
            let dir = if dir.is_empty() { "." } else { dir };
            let mut p = Path::new(dir).join(std::ffi::OsStr::from_bytes(prog)).into_os_string().into_vec();
            p.retain(|b| *b != 0);
            CString::new(p).expect("NULs removed")
        })
        .collect()
}

/// The program `exec` would run, found without running it (an OCI `create`
/// reports a missing command before it waits for `start`).
fn resolve_program(plan: &ProcessPlan<'_>) -> Result<CString, ChildError> {
    let mut other = None;
    for c in candidates(plan) {
        match nix::unistd::access(c.as_c_str(), nix::unistd::AccessFlags::X_OK) {
            Ok(()) if !Path::new(std::ffi::OsStr::from_bytes(c.as_bytes())).is_dir() => return Ok(c),
            Ok(()) => {
                other.get_or_insert(Errno::EACCES);
            }
            Err(Errno::ENOENT) | Err(Errno::ENOTDIR) => {}
            Err(e) => {
                other.get_or_insert(e);
            }
        }
    }
    Err(exec_error(plan, other))
}

/// Execs a program found by [`resolve_program`].
fn exec_resolved(os: &dyn Syscall, plan: &ProcessPlan<'_>, program: &CString, env: &[CString]) -> ChildError {
    crate::step!(steps::EXECVE, path = %program.to_string_lossy(), argv = %argv_json(&plan.args));
    match os.execve(program, &plan.args, env) {
        Errno::ENOENT | Errno::ENOTDIR => exec_error(plan, None),
        e => exec_error(plan, Some(e)),
    }
}

/// Finds the program as execvp would (in the container's PATH) and execs it.
fn exec(os: &dyn Syscall, plan: &ProcessPlan<'_>, env: &[CString]) -> ChildError {
    let mut other: Option<Errno> = None;
    for c in &candidates(plan) {
        crate::step!(steps::EXECVE, path = %c.to_string_lossy(), argv = %argv_json(&plan.args));
        match os.execve(c, &plan.args, env) {
            Errno::ENOENT | Errno::ENOTDIR => continue,
            e => {
                other.get_or_insert(e);
            }
        }
    }
    exec_error(plan, other)
}

/// The arguments as a JSON list, as a narration shows them.
fn argv_json(args: &[CString]) -> String {
    serde_json::to_string(&args.iter().map(|a| a.to_string_lossy()).collect::<Vec<_>>()).unwrap_or_default()
}

/// 127 when the program is not there, 126 when it cannot be run.
fn exec_error(plan: &ProcessPlan<'_>, other: Option<Errno>) -> ChildError {
    let prog = plan.args[0].as_bytes();
    let shown = String::from_utf8_lossy(prog).into_owned();
    match other {
        None if prog.contains(&b'/') => {
            ChildError { code: 127, msg: format!("exec: {shown:?}: no such file or directory") }
        }
        None => ChildError { code: 127, msg: format!("exec: {shown:?}: executable file not found in $PATH") },
        Some(Errno::EACCES) => ChildError { code: 126, msg: format!("exec: {shown:?}: permission denied") },
        Some(e) => ChildError { code: 126, msg: format!("exec: {shown:?}: {}", e.desc()) },
    }
}

#[cfg(test)]
mod tests {
    use super::home_of;

    #[test]
    fn home_comes_from_passwd() {
        let passwd =
            "root:x:0:0:root:/root:/bin/sh\nbad line\nalice:x:1000:1000::/home/alice:/bin/sh\nnohome:x:7:7:::\n";
        assert_eq!(home_of(passwd, 0), Some("/root"));
        assert_eq!(home_of(passwd, 1000), Some("/home/alice"));
        assert_eq!(home_of(passwd, 7), None);
        assert_eq!(home_of(passwd, 4242), None);
    }
}

/// The init's steps run against the recording [`Syscall`] double, on a
/// rootfs in a temporary directory: no root, no namespace, nothing mounted.
#[cfg(test)]
mod seam_tests {
    use super::super::syscall::test::{Call, Recorder};
    use super::*;
    use crate::launcher::{EngineSteps, StdioMode};
    use nix::mount::{MntFlags, MsFlags};
    use oci_spec::runtime::{LinuxIdMappingBuilder, LinuxNamespaceBuilder, LinuxSeccompBuilder, UserBuilder};

    struct Run {
        calls: Vec<Call>,
        err: ChildError,
    }

    impl Run {
        /// The index of the first call `pred` accepts; fails the test if there is none.
        fn at(&self, what: &str, pred: impl Fn(&Call) -> bool) -> usize {
            self.calls.iter().position(pred).unwrap_or_else(|| panic!("no {what} in {:#?}", self.calls))
        }

        fn has(&self, pred: impl Fn(&Call) -> bool) -> bool {
            self.calls.iter().any(pred)
        }

        fn first_mount(&self) -> usize {
            self.at("mount", |c| matches!(c, Call::Mount { .. }))
        }

        fn last_mount_before(&self, end: usize) -> usize {
            self.calls[..end].iter().rposition(|c| matches!(c, Call::Mount { .. })).expect("a mount")
        }
    }

    /// Runs the init's setup for `spec` (with `joined` namespaces) up to its exec.
    fn run(spec: &Spec, joined: Vec<(LinuxNamespaceType, PathBuf)>, setres: nix::Result<()>) -> Run {
        let dir = tempfile::tempdir().unwrap();
        let rootfs = dir.path().join("rootfs");
        // what an image (and the kernel's /proc and /sys) would have at some masked and read-only paths
        for d in ["proc/acpi", "proc/sys", "sys/firmware"] {
            std::fs::create_dir_all(rootfs.join(d)).unwrap();
        }
        std::fs::write(rootfs.join("proc/kcore"), b"").unwrap();
        let cfg = LaunchConfig {
            spec,
            rootfs: RootfsSource::Directory(rootfs.clone()),
            init: false,
            stdio: StdioMode::Inherit,
            cgroup: None,
            oci: None,
            engine: EngineSteps::default(),
        };
        let namespaces = spec.linux().as_ref().and_then(|l| l.namespaces().clone()).unwrap_or_default();
        let mut plan = Plan::new(&cfg, &namespaces, joined, Stdio::Inherit).unwrap();
        if let Some(s) = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) {
            // built here rather than through the cache of compiled filters under the runtime's root
            plan.process.seccomp = Some(super::super::seccomp::build_filter(s).unwrap());
        }
        let (rrun, init) = sync::pair().unwrap();
        sync::send_go(&rrun).unwrap();
        let mut os = Recorder::new(&rootfs);
        os.setres_result = setres;
        let err = match setup_and_exec(&os, &plan, &init) {
            Err(e) => e,
            Ok(never) => match never {},
        };
        Run { calls: os.calls(), err }
    }

    /// oci-spec's default: new PID, network, IPC, UTS, mount and cgroup namespaces, the
    /// standard mounts, masked and read-only paths, a read-only root, hostname "youki",
    /// no_new_privs, RLIMIT_NOFILE 1024.
    fn default_spec() -> Spec {
        Spec::default()
    }

    fn plain_spec() -> Spec {
        let mut spec = Spec::default();
        spec.set_hostname(None);
        spec.root_mut().as_mut().unwrap().set_readonly(Some(false));
        let linux = spec.linux_mut().as_mut().unwrap();
        linux.set_masked_paths(None).set_readonly_paths(None);
        spec
    }

    fn with_user_ns(mut spec: Spec, uid: (u32, u32, u32), gid: (u32, u32, u32)) -> Spec {
        let map = |(c, h, n): (u32, u32, u32)| {
            LinuxIdMappingBuilder::default().container_id(c).host_id(h).size(n).build().unwrap()
        };
        let linux = spec.linux_mut().as_mut().unwrap();
        let mut ns = linux.namespaces().clone().unwrap();
        ns.push(LinuxNamespaceBuilder::default().typ(LinuxNamespaceType::User).build().unwrap());
        linux.set_namespaces(Some(ns)).set_uid_mappings(Some(vec![map(uid)])).set_gid_mappings(Some(vec![map(gid)]));
        spec
    }

    fn with_user(mut spec: Spec, uid: u32, gid: u32, groups: Vec<u32>) -> Spec {
        let user = UserBuilder::default().uid(uid).gid(gid).additional_gids(groups).build().unwrap();
        spec.process_mut().as_mut().unwrap().set_user(user);
        spec
    }

    fn with_seccomp(mut spec: Spec, no_new_privs: bool) -> Spec {
        let filter =
            LinuxSeccompBuilder::default().default_action(oci_spec::runtime::LinuxSeccompAction::ScmpActAllow).build();
        spec.linux_mut().as_mut().unwrap().set_seccomp(Some(filter.unwrap()));
        spec.process_mut().as_mut().unwrap().set_no_new_privileges(Some(no_new_privs));
        spec
    }

    fn mount_at(target: &str) -> impl Fn(&Call) -> bool + '_ {
        move |c| matches!(c, Call::Mount { target: t, .. } if t == target)
    }

    fn capability(set: &'static str) -> impl Fn(&Call) -> bool {
        move |c| matches!(c, Call::Capability(s, _) if s == set)
    }

    /// The order every container's init keeps, whatever its plan.
    fn assert_common_order(r: &Run) {
        let pivot = r.at("pivot_root", |c| matches!(c, Call::PivotRoot { .. }));
        assert_eq!(r.calls[pivot], Call::PivotRoot { new_root: ".".into(), put_old: ".".into() });
        assert_eq!(r.calls[pivot - 1], Call::Fchdir("<rootfs>".into()), "pivot_root runs in the rootfs");
        // the old root: made rslave (so its detach stays in the container), detached, left
        assert!(matches!(&r.calls[pivot + 2], Call::Mount { target, flags, .. }
            if target == "." && *flags == MsFlags::MS_SLAVE | MsFlags::MS_REC));
        assert_eq!(r.calls[pivot + 3], Call::Umount2 { target: ".".into(), flags: MntFlags::MNT_DETACH });
        assert_eq!(r.calls[pivot + 4], Call::Chdir("/".into()));
        // the rootfs's propagation first, then its bind, then every Spec mount, all before pivot_root
        assert!(matches!(&r.calls[r.first_mount()], Call::Mount { source: None, target, flags, .. }
            if target == "/" && *flags == MsFlags::MS_SLAVE | MsFlags::MS_REC));
        let bind_root = r.at("the rootfs's bind", mount_at("<rootfs>"));
        for dest in ["<rootfs>/proc", "<rootfs>/dev", "<rootfs>/dev/pts", "<rootfs>/dev/shm", "<rootfs>/sys"] {
            let m = r.at(dest, mount_at(dest));
            assert!(bind_root < m && m < pivot, "{dest} mounted after the rootfs, before pivot_root");
        }
        assert!(r.at("/dev mount", mount_at("<rootfs>/dev")) < r.at("/dev/pts", mount_at("<rootfs>/dev/pts")));
        let null = r.at("mknod /dev/null", |c| matches!(c, Call::Mknod { path, .. } if path == "<rootfs>/dev/null"));
        assert_eq!(
            r.calls[null],
            Call::Mknod {
                path: "<rootfs>/dev/null".into(),
                kind: libc::S_IFCHR,
                mode: 0o666,
                dev: libc::makedev(1, 3)
            }
        );
        assert!(r.at("/dev mount", mount_at("<rootfs>/dev")) < null && null < pivot, "device nodes in the new /dev");
        // the process's steps, in the new root
        let setsid = r.at("setsid", |c| *c == Call::Setsid);
        let rlimit = r.at("setrlimit", |c| matches!(c, Call::Setrlimit { .. }));
        let bounding = r.at("bounding set", capability("Bounding"));
        let keep = r.at("keep caps", |c| *c == Call::KeepCaps(true));
        let groups = r.at("setgroups", |c| matches!(c, Call::Setgroups(_)));
        let gid = r.calls.iter().rposition(|c| matches!(c, Call::Setresgid(_))).unwrap();
        let uid = r.calls.iter().rposition(|c| matches!(c, Call::Setresuid(_))).unwrap();
        let unkeep = r.at("keep caps off", |c| *c == Call::KeepCaps(false));
        let effective = r.calls.iter().rposition(capability("Effective")).unwrap();
        let ambient = r.at("ambient", capability("Ambient"));
        let close = r.at("close_range", |c| *c == Call::CloseRangeCloexec(3));
        let reset = r.at("reset signals", |c| *c == Call::ResetSignals);
        let exec = r.at("execve", |c| matches!(c, Call::Execve { .. }));
        let order =
            [pivot, setsid, rlimit, bounding, keep, groups, gid, uid, unkeep, effective, ambient, close, reset, exec];
        assert!(order.windows(2).all(|w| w[0] < w[1]), "steps out of order: {order:?} in {:#?}", r.calls);
        assert_eq!(r.calls[rlimit], Call::Setrlimit { resource: libc::RLIMIT_NOFILE, soft: 1024, hard: 1024 });
        assert!(r.calls[..pivot].iter().all(|c| !matches!(c, Call::Setsid | Call::Execve { .. })));
        // nothing is mounted once the process's identity is being taken on
        assert!(r.calls[bounding..].iter().all(|c| !matches!(c, Call::Mount { .. } | Call::PivotRoot { .. })));
        // exec goes through the container's PATH; the double finds nothing: 127
        assert_eq!(r.calls[exec], Call::Execve { path: "/usr/local/sbin/sh".into(), args: vec!["sh".into()] });
        assert_eq!(r.err.code, 127, "{}", r.err.msg);
    }

    #[test]
    fn a_plain_container_mounts_pivots_then_becomes_its_process() {
        let r = run(&plain_spec(), Vec::new(), Ok(()));
        assert_common_order(&r);
        assert_eq!(r.calls[0], Call::Dumpable(false), "not dumpable before anything else");
        assert_eq!(r.calls[1], Call::ParentDeathSignal(libc::SIGKILL));
        // a new cgroup namespace (once in the cgroup), lo up, before the first mount
        let cgroupns = r.at("unshare", |c| *c == Call::Unshare(CloneFlags::CLONE_NEWCGROUP));
        assert!(cgroupns < r.at("lo", |c| *c == Call::LoopbackUp));
        assert!(cgroupns < r.first_mount());
        // root: setgroups to none, ids 0, no user namespace to become root in first
        assert!(r.has(|c| *c == Call::Setgroups(vec![])));
        assert_eq!(r.calls.iter().filter(|c| matches!(c, Call::Setresuid(_))).count(), 1);
        assert!(!r.has(|c| matches!(c, Call::Sethostname(_) | Call::Setdomainname(_))), "no hostname asked");
        // nothing read-only: no remount of / after pivot_root
        let pivot = r.at("pivot_root", |c| matches!(c, Call::PivotRoot { .. }));
        assert!(!r.calls[pivot..]
            .iter()
            .any(|c| matches!(c, Call::Mount { flags, .. } if flags.contains(MsFlags::MS_RDONLY))));
        assert!(!r.has(|c| matches!(c, Call::Seccomp)), "no filter in the Spec");
        // no_new_privs (the default), after the user switch, before the descriptors are closed
        let nnp = r.at("no_new_privs", |c| *c == Call::NoNewPrivs);
        assert!(r.at("setresuid", |c| matches!(c, Call::Setresuid(_))) < nnp);
        assert!(nnp < r.at("close_range", |c| *c == Call::CloseRangeCloexec(3)));
        // umask and the working directory before the user switch
        assert!(r.at("umask", |c| *c == Call::Umask(0o022)) < r.at("keep caps", |c| *c == Call::KeepCaps(true)));
    }

    #[test]
    fn a_read_only_rootfs_masks_and_protects_paths_before_pivot_and_remounts_root_after() {
        let r = run(&default_spec(), Vec::new(), Ok(()));
        assert_common_order(&r);
        let pivot = r.at("pivot_root", |c| matches!(c, Call::PivotRoot { .. }));
        let proc_mount = r.at("/proc", mount_at("<rootfs>/proc"));
        // a masked file: /dev/null over it; a masked directory: an empty read-only tmpfs
        let kcore = r.at("masked /proc/kcore", mount_at("<rootfs>/proc/kcore"));
        assert_eq!(
            r.calls[kcore],
            Call::Mount {
                source: Some("/dev/null".into()),
                target: "<rootfs>/proc/kcore".into(),
                fstype: None,
                flags: MsFlags::MS_BIND,
                data: None
            }
        );
        let acpi = r.at("masked /proc/acpi", mount_at("<rootfs>/proc/acpi"));
        assert_eq!(
            r.calls[acpi],
            Call::Mount {
                source: Some("tmpfs".into()),
                target: "<rootfs>/proc/acpi".into(),
                fstype: Some("tmpfs".into()),
                flags: MsFlags::MS_RDONLY,
                data: Some("size=0k".into())
            }
        );
        assert!(r.has(mount_at("<rootfs>/sys/firmware")));
        // a masked path the rootfs does not have is skipped
        assert!(!r.has(mount_at("<rootfs>/proc/keys")));
        // a read-only path: bound onto itself, then remounted read-only, nosuid, nodev, noexec
        let sys = r.at("read-only /proc/sys", mount_at("<rootfs>/proc/sys"));
        assert!(matches!(&r.calls[sys], Call::Mount { source: Some(s), flags, .. }
            if s == "<rootfs>/proc/sys" && *flags == MsFlags::MS_BIND | MsFlags::MS_REC));
        let want = MsFlags::MS_REMOUNT
            | MsFlags::MS_BIND
            | MsFlags::MS_RDONLY
            | MsFlags::MS_NOSUID
            | MsFlags::MS_NODEV
            | MsFlags::MS_NOEXEC;
        assert!(matches!(&r.calls[sys + 1], Call::Mount { source: None, target, flags, .. }
            if target == "<rootfs>/proc/sys" && flags.contains(want)));
        assert!(proc_mount < kcore && kcore < pivot && acpi < pivot && sys < pivot, "masked after /proc, before pivot");
        // root.readonly: / remounted read-only once it is the root, before the process's steps
        let ro_root = r.at("read-only /", |c| {
            matches!(c, Call::Mount { target, flags, .. } if target == "/"
                && flags.contains(MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY))
        });
        assert!(pivot < ro_root && ro_root < r.at("setsid", |c| *c == Call::Setsid));
        assert_eq!(r.last_mount_before(r.calls.len()), ro_root, "nothing is mounted after / is read-only");
    }

    #[test]
    fn hostname_and_domainname_are_set_in_the_containers_uts_namespace_before_pivot_root() {
        let mut spec = plain_spec();
        spec.set_hostname(Some("web".into())).set_domainname(Some("example.org".into()));
        let r = run(&spec, Vec::new(), Ok(()));
        assert_common_order(&r);
        let host = r.at("sethostname", |c| *c == Call::Sethostname("web".into()));
        let domain = r.at("setdomainname", |c| *c == Call::Setdomainname("example.org".into()));
        let pivot = r.at("pivot_root", |c| matches!(c, Call::PivotRoot { .. }));
        assert!(r.last_mount_before(pivot) < host && host < domain && domain < pivot);

        // the host's UTS namespace (none in linux.namespaces): refused before anything runs
        let mut spec = plain_spec();
        spec.set_hostname(Some("web".into()));
        let linux = spec.linux_mut().as_mut().unwrap();
        let ns = linux.namespaces().clone().unwrap().into_iter().filter(|n| n.typ() != LinuxNamespaceType::Uts);
        linux.set_namespaces(Some(ns.collect()));
        let namespaces = linux.namespaces().clone().unwrap();
        let cfg = LaunchConfig {
            spec: &spec,
            rootfs: RootfsSource::Directory(PathBuf::from("/nonexistent")),
            init: false,
            stdio: StdioMode::Inherit,
            cgroup: None,
            oci: None,
            engine: EngineSteps::default(),
        };
        let err = Plan::new(&cfg, &namespaces, Vec::new(), Stdio::Inherit).err().expect("refused");
        assert!(err.to_string().contains("own UTS namespace"), "{err}");
    }

    #[test]
    fn the_intel_rdt_class_is_joined_after_go_before_anything_else() {
        let dir = tempfile::tempdir().unwrap();
        let tasks = dir.path().join("tasks");
        std::fs::write(&tasks, b"").unwrap();
        let spec = plain_spec();
        let cfg = LaunchConfig {
            spec: &spec,
            rootfs: RootfsSource::Directory(dir.path().join("rootfs")),
            init: false,
            stdio: StdioMode::Inherit,
            cgroup: None,
            oci: None,
            engine: EngineSteps::default(),
        };
        std::fs::create_dir_all(dir.path().join("rootfs")).unwrap();
        let namespaces = spec.linux().as_ref().and_then(|l| l.namespaces().clone()).unwrap_or_default();
        let mut plan = Plan::new(&cfg, &namespaces, Vec::new(), Stdio::Inherit).unwrap();
        plan.rdt_tasks = Some(std::fs::OpenOptions::new().write(true).open(&tasks).unwrap().into());
        let (rrun, init) = sync::pair().unwrap();
        sync::send_go(&rrun).unwrap();
        let os = Recorder::new(&dir.path().join("rootfs"));
        let _ = setup_and_exec(&os, &plan, &init);
        let calls = os.calls();
        let join = calls.iter().position(|c| matches!(c, Call::WriteControl(_, b) if b == b"0")).expect("joined");
        assert!(matches!(&calls[join], Call::WriteControl(f, _) if f.ends_with("/tasks")));
        assert!(calls[..join].iter().all(|c| matches!(c, Call::Dumpable(_) | Call::ParentDeathSignal(_))));
        assert_eq!(std::fs::read(&tasks).unwrap(), b"", "the double writes nothing");
    }

    #[test]
    fn a_user_namespaced_container_becomes_its_root_first_and_its_user_last() {
        let spec =
            with_user(with_user_ns(plain_spec(), (0, 100000, 65536), (0, 100000, 65536)), 1000, 1000, vec![10, 20]);
        let r = run(&spec, Vec::new(), Ok(()));
        assert_common_order(&r);
        // root of the namespace (gid first) before any namespace or mount work
        let gid0 = r.at("setresgid(0)", |c| *c == Call::Setresgid(0));
        let uid0 = r.at("setresuid(0)", |c| *c == Call::Setresuid(0));
        let dumpable = r.at("non-dumpable", |c| *c == Call::Dumpable(false));
        assert!(dumpable < gid0 && gid0 < uid0);
        assert!(uid0 < r.at("unshare", |c| matches!(c, Call::Unshare(_))) && uid0 < r.first_mount());
        // then, in the root: groups, gid, uid of process.user, keeping capabilities across
        let keep = r.at("keep caps", |c| *c == Call::KeepCaps(true));
        let groups = r.at("setgroups", |c| *c == Call::Setgroups(vec![10, 20]));
        let gid = r.at("setresgid(1000)", |c| *c == Call::Setresgid(1000));
        let uid = r.at("setresuid(1000)", |c| *c == Call::Setresuid(1000));
        let unkeep = r.at("keep caps off", |c| *c == Call::KeepCaps(false));
        let caps = r.at("capabilities", capability("Permitted"));
        assert!(keep < groups && groups < gid && gid < uid && uid < unkeep && unkeep < caps);
    }

    #[test]
    fn an_id_the_maps_do_not_give_the_namespace_is_not_asked_for() {
        // uid 0 unmapped (only 1000), gid 0 mapped
        let spec = with_user(with_user_ns(plain_spec(), (1000, 1000, 1), (0, 100000, 1)), 1000, 0, vec![]);
        let r = run(&spec, Vec::new(), Ok(()));
        assert_common_order(&r);
        assert!(!r.has(|c| *c == Call::Setresuid(0)), "uid 0 is not in the map: {:#?}", r.calls);
        assert!(r.at("setresgid(0)", |c| *c == Call::Setresgid(0)) < r.first_mount());
        assert!(r.has(|c| *c == Call::Setresuid(1000)));
    }

    #[test]
    fn a_mapped_root_the_kernel_refuses_stops_the_container() {
        let spec = with_user_ns(plain_spec(), (0, 100000, 65536), (0, 100000, 65536));
        let r = run(&spec, Vec::new(), Err(Errno::EPERM));
        assert_eq!(r.err.code, 125);
        assert!(r.err.msg.contains("setresgid(0, 0, 0)") && r.err.msg.contains("EPERM"), "{}", r.err.msg);
        assert!(!r.has(|c| matches!(c, Call::Mount { .. } | Call::Execve { .. })), "stopped at once: {:#?}", r.calls);
    }

    #[test]
    fn a_refused_process_user_names_the_call_and_the_id() {
        let spec = with_user(plain_spec(), 1000, 1000, vec![]);
        let r = run(&spec, Vec::new(), Err(Errno::EPERM));
        assert_eq!(r.err.code, 125);
        assert!(r.err.msg.starts_with("setresgid(1000, 1000, 1000): EPERM"), "{}", r.err.msg);
        assert!(!r.has(|c| matches!(c, Call::Setresuid(_) | Call::Execve { .. })));
    }

    #[test]
    fn seccomp_comes_after_no_new_privs_or_before_the_capabilities_go() {
        // no_new_privs: set after the user switch, the filter right after it
        let r = run(&with_seccomp(plain_spec(), true), Vec::new(), Ok(()));
        assert_common_order(&r);
        let uid = r.at("setresuid", |c| matches!(c, Call::Setresuid(_)));
        let nnp = r.at("no_new_privs", |c| *c == Call::NoNewPrivs);
        let filter = r.at("seccomp", |c| *c == Call::Seccomp);
        assert!(uid < nnp && nnp + 1 == filter, "{:#?}", r.calls);
        assert!(filter < r.at("close_range", |c| *c == Call::CloseRangeCloexec(3)));

        // without it, installing a filter needs CAP_SYS_ADMIN: before the bounding set shrinks
        let r = run(&with_seccomp(plain_spec(), false), Vec::new(), Ok(()));
        assert_common_order(&r);
        assert!(!r.has(|c| *c == Call::NoNewPrivs));
        let filter = r.at("seccomp", |c| *c == Call::Seccomp);
        assert!(filter < r.at("bounding", capability("Bounding")));
        assert!(r.at("chdir to cwd", |c| *c == Call::Chdir("/".into())) < filter);
    }
}
