//! `kill` and `delete`.

use super::{OciError, Record, Runtime, Status};
use crate::launcher::process::ProcessHandle;
use nix::sys::signal::Signal;
use std::time::Duration;
use tracing::{debug, warn};

impl Runtime {
    /// Sends `signal` to the container's init, or with `all` to every process in its cgroup.
    ///
    /// `--all` works on a stopped container too, as runc's: when the init of a
    /// container sharing a PID namespace exits, its other processes live on in
    /// its cgroup, and containerd's shim kills them with `kill --all … 9`.
    /// `None` is signal 0: only whether the container is alive is checked.
    pub fn kill(&self, id: &str, signal: Option<crate::signal::Signal>, all: bool) -> Result<(), OciError> {
        let signal: Option<Signal> = signal.map(Into::into);
        let rec = self.record(id)?;
        let status = self.status_of(&rec);
        if all {
            let cg = Runtime::cgroup(&rec).ok_or_else(|| OciError::Invalid(format!("container {id} has no cgroup")))?;
            if !rec.cgroup.iter().any(|d| d.exists()) {
                return Ok(());
            }
            for pid in cg.pids() {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal);
            }
            if status == Status::Paused && signal == Some(Signal::SIGKILL) {
                cg.thaw()?;
            }
            return Ok(());
        }
        if status == Status::Stopped {
            return Err(OciError::NotRunning { id: id.to_string(), action: "kill" });
        }
        let init = Self::init_handle(&rec).ok_or(OciError::NotRunning { id: id.to_string(), action: "kill" })?;
        debug!(id, ?signal, "kill");
        if !init.signal(signal) {
            return Err(OciError::NotRunning { id: id.to_string(), action: "kill" });
        }
        Ok(())
    }

    fn init_handle(rec: &Record) -> Option<ProcessHandle> {
        ProcessHandle::open(rec.pid, rec.pid_start_time?)
    }

    /// Deletes a stopped (or created) container: its processes and cgroup,
    /// then the poststop hooks, then its state. A running one needs `force`.
    pub fn delete(&self, id: &str, force: bool) -> Result<(), OciError> {
        let rec = match self.record(id) {
            Ok(r) => r,
            // runc: deleting what does not exist is fine with --force
            Err(OciError::NotFound(_)) if force => return Ok(()),
            Err(e) => return Err(e),
        };
        let status = self.status_of(&rec);
        if matches!(status, Status::Running | Status::Paused) && !force {
            return Err(OciError::NotStopped { id: id.to_string(), status });
        }
        let cg = Runtime::cgroup(&rec).filter(|_| rec.cgroup.iter().any(|d| d.exists()));
        if let (Some(cg), false) = (&cg, rec.shared_cgroup) {
            cg.kill_all()?;
        }
        if let Some(init) = Self::init_handle(&rec) {
            init.signal(Some(Signal::SIGKILL));
            if let Some(cg) = cg.as_ref().filter(|c| c.is_frozen()) {
                // a paused container's processes die once thawed
                cg.thaw()?;
            }
            if !init.wait_exit(Duration::from_secs(10)) {
                return Err(OciError::Invalid(format!("container {id}: its init did not die after SIGKILL")));
            }
        }
        match &cg {
            Some(cg) if rec.shared_cgroup => {
                // the other processes stay, and so does their cgroup
                if let Err(e) = cg.delete() {
                    warn!(id, error = %e, "the container's cgroup, shared with other processes, stays");
                }
            }
            Some(cg) => cg.delete()?,
            None => {}
        }
        let hooks = self
            .config(id)
            .ok()
            .and_then(|s| s.hooks().as_ref().and_then(|h| h.poststop().clone()))
            .unwrap_or_default();
        if !hooks.is_empty() {
            let state = Runtime::hook_state(&rec, 0, Status::Stopped);
            for e in crate::launcher::hooks::run_all(&hooks, &state, "poststop") {
                warn!(id, "{e}");
            }
        }
        let dir = self.dir(id)?;
        crate::step!(super::OCI_DELETE, id, path = %dir.display());
        std::fs::remove_dir_all(&dir).map_err(super::io(&dir))?;
        Ok(())
    }
}
