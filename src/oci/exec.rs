//! `exec`: another process in a created or running container, described by
//! a `process.json` or by arguments laid over the container's own process.

use super::create::write_pid_file;
use super::{OciError, Runtime, Status};
use crate::launcher::{self, ExecConfig, OciExec, StdioMode};
use oci_spec::runtime::{Capability, LinuxNamespaceType, Process, UserBuilder};
use std::collections::HashSet;
use std::path::PathBuf;

/// `exec`'s options.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ExecOptions {
    /// The process to run: from `--process FILE`, or made by [`Runtime::exec_process`].
    pub process: Process,
    /// `--console-socket`: where the terminal's master side goes (`process.terminal`).
    pub console_socket: Option<PathBuf>,
    /// `--pid-file`: where to write the process's PID.
    pub pid_file: Option<PathBuf>,
    /// Return once the process runs.
    pub detach: bool,
    /// `--preserve-fds`: descriptors 3..3+N passed on to the process.
    pub preserve_fds: u32,
    /// Exec even into a paused container.
    pub ignore_paused: bool,
    /// `--cgroup`: a sub-cgroup of the container's to run in, `SUB` (every
    /// hierarchy) or `CTRL[,CTRL]:SUB` (v1 hierarchies of those controllers).
    pub cgroup: Vec<String>,
}

/// What `exec ID ARGS…` changes in the container's process.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ProcessOverrides {
    /// The command and its arguments.
    pub args: Vec<String>,
    /// `--cwd`: the working directory, instead of the container's.
    pub cwd: Option<String>,
    /// `K=V`, added to (or replacing in) the container's environment.
    pub env: Vec<String>,
    /// `uid[:gid]`.
    pub user: Option<String>,
    /// `--additional-gids`: supplementary groups.
    pub additional_gids: Vec<u32>,
    /// Capabilities added to every set.
    pub caps: Vec<String>,
    /// `--no-new-privs`: set no_new_privs on the process.
    pub no_new_privs: bool,
    /// `--tty`: give the process a terminal.
    pub tty: bool,
}

impl Runtime {
    /// The container's process with `o` applied (runc's `exec ID ARGS` form).
    pub fn exec_process(&self, id: &str, o: &ProcessOverrides) -> Result<Process, OciError> {
        self.record(id)?;
        let spec = self.config(id)?;
        let mut p = spec.process().clone().unwrap_or_default();
        if o.args.is_empty() {
            return Err(OciError::Invalid("exec needs a command (or --process FILE)".into()));
        }
        p.set_args(Some(o.args.clone()));
        p.set_terminal(Some(o.tty));
        if let Some(cwd) = &o.cwd {
            p.set_cwd(cwd.into());
        }
        let mut env = p.env().clone().unwrap_or_default();
        for kv in &o.env {
            crate::spec::set_env(&mut env, kv);
        }
        p.set_env(Some(env));
        if let Some(u) = &o.user {
            let (uid, gid) = u.split_once(':').unwrap_or((u, "0"));
            let bad = || OciError::Invalid(format!("--user {u:?}: expected UID[:GID] as numbers"));
            let user = UserBuilder::default()
                .uid(uid.parse::<u32>().map_err(|_| bad())?)
                .gid(gid.parse::<u32>().map_err(|_| bad())?)
                .additional_gids(o.additional_gids.clone())
                .build()
                .map_err(|e| OciError::Invalid(e.to_string()))?;
            p.set_user(user);
        }
        if !o.caps.is_empty() {
            let mut caps = p.capabilities().clone().unwrap_or_default();
            let mut add = HashSet::new();
            for c in &o.caps {
                add.insert(
                    crate::spec::capability(c).map_err(|_| OciError::Invalid(format!("unknown capability {c}")))?,
                );
            }
            let extend =
                |s: &Option<HashSet<Capability>>| Some(s.clone().unwrap_or_default().union(&add).cloned().collect());
            let (b, e, p2) = (extend(caps.bounding()), extend(caps.effective()), extend(caps.permitted()));
            caps.set_bounding(b).set_effective(e).set_permitted(p2);
            p.set_capabilities(Some(caps));
        }
        if o.no_new_privs {
            p.set_no_new_privileges(Some(true));
        }
        Ok(p)
    }

    /// Runs a process in the container; returns its exit code (0 at once with `detach`).
    /// Fails with [`OciError::NotRunning`] or [`OciError::WrongState`] (paused,
    /// without `ignore_paused`). Needs a single-threaded caller: from a process
    /// with other threads it returns `OciError::Launch(`[`LaunchError::MultiThreaded`](crate::LaunchError::MultiThreaded)`)`.
    pub fn exec(&self, id: &str, opts: &ExecOptions) -> Result<i32, OciError> {
        crate::launcher::ensure_single_threaded()?;
        let rec = self.record(id)?;
        let status = self.status_of(&rec);
        match status {
            Status::Created | Status::Running => {}
            Status::Paused if opts.ignore_paused => {}
            // runc's words
            Status::Paused => {
                return Err(OciError::Invalid(
                    "cannot exec in a paused container (use --ignore-paused to override)".into(),
                ))
            }
            _ => return Err(OciError::Invalid(format!("cannot exec in a {status} state"))),
        }
        if opts.process.terminal().unwrap_or(false) && opts.detach && opts.console_socket.is_none() {
            return Err(OciError::Invalid("exec --tty --detach needs --console-socket".into()));
        }
        let spec = self.config(id)?;
        let namespaces: Vec<LinuxNamespaceType> = spec
            .linux()
            .as_ref()
            .and_then(|l| l.namespaces().clone())
            .unwrap_or_default()
            .iter()
            .map(|n| n.typ())
            .collect();
        let dirs = sub_cgroup(&rec.cgroup, &opts.cgroup)?;
        let cgroup = crate::cgroups::open(&dirs);
        let state = |pid: i32| {
            let mut s = serde_json::to_value(self.state(id).ok()).unwrap_or_default();
            if s.is_object() {
                s["pid"] = pid.into();
            }
            s.to_string()
        };
        let child = launcher::spawn_in(&ExecConfig {
            pid: rec.pid,
            namespaces: &namespaces,
            process: &opts.process,
            cgroup: cgroup.as_deref(),
            stdio: StdioMode::Inherit,
            preserve_fds: opts.preserve_fds,
            seccomp: spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()),
            console_socket: opts.console_socket.as_deref(),
            oci: Some(OciExec {
                state: &state,
                personality: spec.linux().as_ref().and_then(|l| l.personality().as_ref()),
            }),
        })?;
        if let Some(pid_file) = &opts.pid_file {
            write_pid_file(pid_file, child.pid())?;
        }
        if opts.detach {
            child.detach();
            return Ok(0);
        }
        Ok(child.wait(true)?.code())
    }
}

/// The container's cgroup directories with `exec --cgroup` applied: `SUB`
/// goes below each of them; `CTRL[,CTRL]:SUB` below those of the v1
/// hierarchies holding one of these controllers. The sub-cgroup must exist
/// (runc does not make it either) and stay inside the container's.
fn sub_cgroup(dirs: &[PathBuf], specs: &[String]) -> Result<Vec<PathBuf>, OciError> {
    let mut out = dirs.to_vec();
    for spec in specs {
        let (ctrls, sub) = match spec.split_once(':') {
            Some((c, s)) => (c.split(',').filter(|c| !c.is_empty()).collect::<Vec<_>>(), s),
            None => (Vec::new(), spec.as_str()),
        };
        let rel = std::path::Path::new(sub.trim_start_matches('/'));
        if rel.as_os_str().is_empty() || rel.components().any(|c| !matches!(c, std::path::Component::Normal(_))) {
            return Err(OciError::Invalid(format!("--cgroup {spec:?}: expected a sub-cgroup path of plain names")));
        }
        let mut matched = false;
        for (d, orig) in out.iter_mut().zip(dirs) {
            // a v1 directory's hierarchy is named after its controllers (/sys/fs/cgroup/cpu,cpuacct/…)
            let hierarchy = crate::cgroups::hierarchy_controllers(orig);
            if !ctrls.is_empty() && !ctrls.iter().any(|c| hierarchy.iter().any(|h| h == c)) {
                continue;
            }
            matched = true;
            *d = orig.join(rel);
            if !d.is_dir() {
                return Err(OciError::Invalid(format!(
                    "--cgroup {spec:?}: {} does not exist in the container's cgroup",
                    d.display()
                )));
            }
        }
        if !matched {
            return Err(OciError::Invalid(format!(
                "--cgroup {spec:?}: the container has no cgroup of those controllers"
            )));
        }
    }
    Ok(out)
}
