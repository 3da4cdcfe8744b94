//! `start`: releases a created container's init, which waits in an open(2)
//! of the exec FIFO for a reader, then runs the poststart hooks.

use super::{io, timestamp, OciError, Runtime, Status};
use crate::launcher::process::ProcessHandle;
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use tracing::warn;

impl Runtime {
    /// Starts a created container: its process execs the Spec's command.
    pub fn start(&self, id: &str) -> Result<(), OciError> {
        let mut rec = self.record(id)?;
        let status = self.status_of(&rec);
        if status != Status::Created {
            return Err(OciError::WrongState { id: id.to_string(), action: "start", status });
        }
        let init = rec.pid_start_time.and_then(|t| ProcessHandle::open(rec.pid, t)).ok_or(OciError::WrongState {
            id: id.to_string(),
            action: "start",
            status: Status::Stopped,
        })?;
        let fifo = self.dir(id)?.join("exec.fifo");
        // non-blocking: the init may die before it writes, and then we must not hang
        let fd = nix::fcntl::open(
            &fifo,
            OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .map_err(|e| OciError::Io { path: fifo.clone(), source: e.into() })?;
        // SAFETY: open returned a new descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        crate::step!(super::OCI_START, id, path = %fifo.display(), flags = "O_RDONLY|O_NONBLOCK");
        let mut byte = [0u8; 1];
        let read_byte = |byte: &mut [u8; 1]| -> Result<bool, OciError> {
            match nix::unistd::read(std::os::fd::AsRawFd::as_raw_fd(&fd), byte) {
                Ok(1) => Ok(true),
                Ok(_) | Err(Errno::EAGAIN) | Err(Errno::EINTR) => Ok(false),
                Err(e) => Err(OciError::Io { path: fifo.clone(), source: e.into() }),
            }
        };
        loop {
            if read_byte(&mut byte)? {
                break;
            }
            // a command as short as `sh -c 'exit 3'` may have written, exec'd and exited
            // between two reads: its byte is still in the FIFO, and it did start
            if init.wait_exit(std::time::Duration::ZERO) {
                if read_byte(&mut byte)? {
                    break;
                }
                return Err(OciError::Invalid(format!("container {id}: its init exited before it could start")));
            }
            let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
            let _ = poll(&mut fds, PollTimeout::from(100u8));
        }
        std::fs::remove_file(&fifo).map_err(io(&fifo))?;
        rec.started_at = Some(timestamp());
        self.save(&rec)?;
        let hooks = self.config(id)?.hooks().as_ref().and_then(|h| h.poststart().clone()).unwrap_or_default();
        if !hooks.is_empty() {
            let state = Runtime::hook_state(&rec, rec.pid, Status::Running);
            // the spec: a failed poststart hook is a warning, the other hooks and the container go on
            for e in crate::launcher::hooks::run_all(&hooks, &state, "poststart") {
                warn!(id, "{e}");
            }
        }
        Ok(())
    }
}
