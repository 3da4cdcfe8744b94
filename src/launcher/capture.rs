//! Waiting for a container whose output nobody watches: a detached
//! container's monitor reads its stdout and stderr (pipes, or the terminal's
//! master side) and hands every chunk to a sink, the log writer.

use super::{forward, try_reap, Child, ExitStatus, LaunchError};
use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::unistd::read;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

/// Which of the container's outputs a chunk came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Child {
    /// Waits for the container to exit, forwarding signals to it and passing
    /// everything it writes to `sink`. Without captured output (no
    /// `StdioMode::Capture` and no terminal) it simply waits.
    pub fn wait_capturing(self, sink: &mut dyn FnMut(Stream, &[u8])) -> Result<ExitStatus, LaunchError> {
        let Child { pid, pty, output, signals, old_mask } = self;
        let mut sources: Vec<(Stream, OwnedFd)> = match (pty, output) {
            (Some(master), _) => vec![(Stream::Stdout, master)],
            (None, Some((out, err))) => vec![(Stream::Stdout, out), (Stream::Stderr, err)],
            (None, None) => Vec::new(),
        };
        let mut buf = vec![0u8; 16 * 1024];
        let status = loop {
            if let Some(status) = try_reap(pid)? {
                break status;
            }
            let mut fds = vec![PollFd::new(signals.as_fd(), PollFlags::POLLIN)];
            fds.extend(sources.iter().map(|(_, fd)| PollFd::new(fd.as_fd(), PollFlags::POLLIN)));
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) => {}
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(LaunchError::sys("poll")(e)),
            }
            let ready: Vec<bool> = fds.iter().map(|f| !f.revents().unwrap_or(PollFlags::empty()).is_empty()).collect();
            drop(fds);
            if ready[0] {
                if let Ok(Some(info)) = signals.read_signal() {
                    forward(pid, info.ssi_signo);
                }
            }
            let mut closed = Vec::new();
            for (i, (stream, fd)) in sources.iter().enumerate() {
                if !ready[i + 1] {
                    continue;
                }
                match read(fd.as_raw_fd(), &mut buf) {
                    Ok(0) | Err(Errno::EIO) => closed.push(i),
                    Ok(n) => sink(*stream, &buf[..n]),
                    Err(Errno::EINTR) | Err(Errno::EAGAIN) => {}
                    Err(e) => return Err(LaunchError::sys("read the container's output")(e)),
                }
            }
            for i in closed.into_iter().rev() {
                sources.remove(i);
            }
        };
        // what the container wrote just before it exited is still buffered
        for (stream, fd) in &sources {
            let _ = nix::fcntl::fcntl(fd.as_raw_fd(), nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK));
            while let Ok(n) = read(fd.as_raw_fd(), &mut buf) {
                if n == 0 {
                    break;
                }
                sink(*stream, &buf[..n]);
            }
        }
        let _ = nix::sys::signal::pthread_sigmask(nix::sys::signal::SigmaskHow::SIG_SETMASK, Some(&old_mask), None);
        Ok(status)
    }
}
