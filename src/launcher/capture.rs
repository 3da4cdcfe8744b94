//! Waiting for a container whose stdout and stderr are pipes: everything it
//! writes is handed to a sink (the foreground `rrun run` prints it and logs
//! it), and the signals rrun receives are passed on to it.

use super::{forward, try_reap, ExitStatus, LaunchError};
use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signalfd::SignalFd;
use nix::unistd::{read, Pid};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

/// Which of the container's outputs a chunk came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// Relays `sources` to `sink` until the process exits; a source whose sink
/// returns false (its reader went away) is closed.
pub(super) fn relay(
    pid: Pid,
    signals: &SignalFd,
    mut sources: Vec<(Stream, OwnedFd)>,
    sink: &mut dyn FnMut(Stream, &[u8]) -> bool,
) -> Result<ExitStatus, LaunchError> {
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
                Ok(n) => {
                    if !sink(*stream, &buf[..n]) {
                        closed.push(i);
                    }
                }
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
        drain(fd, &mut buf, &mut |b| sink(*stream, b));
    }
    Ok(status)
}

/// Reads what is left in a pipe or terminal without blocking.
pub fn drain(fd: &OwnedFd, buf: &mut [u8], sink: &mut dyn FnMut(&[u8]) -> bool) {
    let _ = nix::fcntl::fcntl(fd.as_raw_fd(), nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK));
    while let Ok(n) = read(fd.as_raw_fd(), buf) {
        if n == 0 || !sink(&buf[..n]) {
            break;
        }
    }
}
