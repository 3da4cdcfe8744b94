//! Relaying a container's pseudo-terminal to the user's terminal: raw mode,
//! keystrokes in, output out, window size kept in sync.

use super::{forward, try_reap, ExitStatus, LaunchError};
use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signalfd::SignalFd;
use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg, Termios};
use nix::unistd::{isatty, read, write, Pid};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

/// Puts the user's terminal in raw mode and restores it when dropped.
pub struct RawMode {
    saved: Option<Termios>,
}

impl RawMode {
    /// Raw mode for `fd` if it is a terminal (else nothing happens).
    pub fn enter(fd: BorrowedFd<'_>) -> RawMode {
        if !isatty(fd.as_raw_fd()).unwrap_or(false) {
            return RawMode { saved: None };
        }
        let Ok(saved) = tcgetattr(fd) else {
            return RawMode { saved: None };
        };
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        let _ = tcsetattr(fd, SetArg::TCSANOW, &raw);
        RawMode { saved: Some(saved) }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(t) = &self.saved {
            let _ = tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, t);
        }
    }
}

/// The window size of terminal `fd`: (rows, columns).
pub fn window_size(fd: BorrowedFd<'_>) -> Option<(u16, u16)> {
    let mut ws = libc::winsize { ws_row: 0, ws_col: 0, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: TIOCGWINSZ writes one winsize struct we own.
    let ok = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) } == 0;
    (ok && ws.ws_row > 0).then_some((ws.ws_row, ws.ws_col))
}

/// Sets the window size of terminal `fd` (its foreground processes get SIGWINCH).
pub fn set_window_size(fd: BorrowedFd<'_>, rows: u16, cols: u16) -> std::io::Result<()> {
    let ws = libc::winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: TIOCSWINSZ reads one winsize struct we own.
    if unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &ws) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

fn copy_winsize(from: i32, to: i32) {
    // SAFETY: winsize is four u16 fields, for which all-zero is a valid value.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ/TIOCSWINSZ read and write one winsize struct we own.
    unsafe {
        if libc::ioctl(from, libc::TIOCGWINSZ, &mut ws) == 0 {
            libc::ioctl(to, libc::TIOCSWINSZ, &ws);
        }
    }
}

/// Writes all of `buf`, retrying after interruptions and while a
/// non-blocking descriptor is full.
pub fn write_all(fd: BorrowedFd<'_>, mut buf: &[u8]) -> nix::Result<()> {
    while !buf.is_empty() {
        match write(fd, buf) {
            Ok(n) => buf = &buf[n..],
            Err(Errno::EINTR) | Err(Errno::EAGAIN) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Relays the container's terminal until it exits: its output to `sink`,
/// with `forward_stdin` the user's keystrokes (stdin in raw mode) to it.
pub fn relay(
    master: OwnedFd,
    pid: Pid,
    signals: &SignalFd,
    forward_stdin: bool,
    sink: &mut dyn FnMut(super::Stream, &[u8]) -> bool,
) -> Result<ExitStatus, LaunchError> {
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    let _raw = if forward_stdin { Some(RawMode::enter(stdin.as_fd())) } else { None };
    copy_winsize(stdout.as_raw_fd(), master.as_raw_fd());
    if forward_stdin {
        copy_winsize(stdin.as_raw_fd(), master.as_raw_fd());
    }
    let mut buf = vec![0u8; 32 * 1024];
    let mut stdin_open = forward_stdin;
    let mut master_open = true;
    loop {
        if let Some(status) = try_reap(pid)? {
            // what the container wrote before it exited
            super::capture::drain(&master, &mut buf, &mut |b| sink(super::Stream::Stdout, b));
            return Ok(status);
        }
        let mut fds = vec![PollFd::new(signals.as_fd(), PollFlags::POLLIN)];
        if master_open {
            fds.push(PollFd::new(master.as_fd(), PollFlags::POLLIN));
        }
        if stdin_open {
            fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) => {}
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(LaunchError::sys("poll")(e)),
        }
        let ready: Vec<PollFlags> = fds.iter().map(|f| f.revents().unwrap_or(PollFlags::empty())).collect();
        drop(fds);
        let mut i = 1;
        if !ready[0].is_empty() {
            if let Ok(Some(info)) = signals.read_signal() {
                if info.ssi_signo == libc::SIGWINCH as u32 {
                    copy_winsize(stdin.as_raw_fd(), master.as_raw_fd());
                } else {
                    forward(pid, info.ssi_signo);
                }
            }
        }
        if master_open {
            if !ready[i].is_empty() {
                match read(master.as_raw_fd(), &mut buf) {
                    Ok(0) | Err(Errno::EIO) => master_open = false,
                    Ok(n) => {
                        // a reader that went away does not end the container's terminal
                        let _ = sink(super::Stream::Stdout, &buf[..n]);
                    }
                    Err(Errno::EINTR) | Err(Errno::EAGAIN) => {}
                    Err(e) => return Err(LaunchError::sys("read terminal")(e)),
                }
            }
            i += 1;
        }
        if stdin_open && !ready[i].is_empty() {
            match read(stdin.as_raw_fd(), &mut buf) {
                Ok(0) => {
                    // end of input: send the terminal's EOF character, as typing ^D would
                    let _ = write_all(master.as_fd(), &[4]);
                    stdin_open = false;
                }
                Ok(n) => {
                    let _ = write_all(master.as_fd(), &buf[..n]);
                }
                Err(Errno::EINTR) | Err(Errno::EAGAIN) => {}
                Err(_) => stdin_open = false,
            }
        }
    }
}

/// Hands a terminal's master side to the engine listening on `socket`
/// (runc's `--console-socket`): one message, the terminal's name as data and
/// the descriptor as SCM_RIGHTS.
pub fn send_to_console_socket(socket: &std::path::Path, master: &OwnedFd) -> Result<(), LaunchError> {
    use nix::sys::socket::{
        connect, sendmsg, socket as mksocket, AddressFamily, ControlMessage, MsgFlags, SockFlag, SockType, UnixAddr,
    };
    let err = |what: &str| {
        let what = format!("console socket {}: {what}", socket.display());
        move |e: Errno| LaunchError::Container { code: 125, msg: format!("{what}: {e}") }
    };
    let sock = mksocket(AddressFamily::Unix, SockType::Stream, SockFlag::SOCK_CLOEXEC, None).map_err(err("socket"))?;
    let addr = UnixAddr::new(socket).map_err(err("address"))?;
    connect(sock.as_raw_fd(), &addr).map_err(err("connect"))?;
    let mut n: libc::c_uint = 0;
    // SAFETY: TIOCGPTN writes the terminal's number into the c_uint we own.
    let name = if unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTN, &mut n) } == 0 {
        format!("/dev/pts/{n}")
    } else {
        "/dev/ptmx".to_string()
    };
    let fds = [master.as_raw_fd()];
    let iov = [std::io::IoSlice::new(name.as_bytes())];
    crate::step!(super::steps::CONSOLE_SOCKET, socket = %socket.display(), tty = %name);
    sendmsg::<()>(sock.as_raw_fd(), &iov, &[ControlMessage::ScmRights(&fds)], MsgFlags::MSG_NOSIGNAL, None)
        .map_err(err("send the terminal"))?;
    Ok(())
}
