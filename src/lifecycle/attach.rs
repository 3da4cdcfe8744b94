//! Attaching to a detached container, with no daemon. Its monitor listens
//! on a unix socket in the container's directory (`attach.sock`, 0600, the
//! monitor's user), relays the container's output to every attached client
//! and what clients type to the container's stdin (a pipe for `-i`, the
//! terminal's master side for `-it`). The client (`rrun attach`,
//! `rrun start -a`) relays between the socket and its own terminal or
//! pipes, and leaves on the detach keys (Ctrl-P Ctrl-Q by default), the
//! container going on.
//!
//! The protocol is a stream of frames: a kind byte, a 4-byte big-endian
//! length, the payload. A client first says hello (the streams it wants);
//! then it sends input, end of input and window sizes, and receives output
//! (stdout and stderr apart) and, when the container exits, its exit code —
//! or why it could not start.

use super::Container;
use crate::launcher::{self, RawMode, Stream};
use crate::{io_error, Error, Rrun};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::SignalFd;
use nix::sys::socket::{self, AddressFamily, Backlog, SockFlag, SockType, UnixAddr};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The socket's name in the container's directory.
pub(crate) const SOCKET: &str = "attach.sock";
/// Largest frame accepted.
const MAX_FRAME: usize = 1 << 20;
/// Output queued for a client that does not read it, past which the client is dropped.
const MAX_QUEUED: usize = 4 << 20;

/// Frame kinds.
pub(crate) mod kind {
    pub const HELLO: u8 = b'H';
    pub const INPUT: u8 = b'I';
    pub const EOF: u8 = b'E';
    pub const RESIZE: u8 = b'W';
    pub const STDOUT: u8 = b'1';
    pub const STDERR: u8 = b'2';
    pub const EXIT: u8 = b'X';
    pub const FAILED: u8 = b'F';
}

/// What a client's hello asks for.
pub(crate) const WANT_STDIN: u8 = 1;
pub(crate) const WANT_STDOUT: u8 = 2;
pub(crate) const WANT_STDERR: u8 = 4;
/// The client's end of input closes the container's stdin (`start -ai`).
pub(crate) const CLOSE_STDIN_AT_EOF: u8 = 8;

/// `rrun attach` and `rrun start -a` options.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AttachOptions {
    /// Relay our stdin to the container (when it has one open).
    pub stdin: bool,
    /// Docker's syntax (`ctrl-p,ctrl-q`, `ctrl-a,x`); None: Ctrl-P Ctrl-Q.
    pub detach_keys: Option<String>,
    /// Pass the signals we receive on to the container (without a terminal).
    pub sig_proxy: bool,
    /// Our end of input ends the container's input too.
    pub close_stdin_at_eof: bool,
}

impl Default for AttachOptions {
    fn default() -> Self {
        AttachOptions { stdin: true, detach_keys: None, sig_proxy: true, close_stdin_at_eof: false }
    }
}

pub(crate) fn frame(kind: u8, payload: &[u8], out: &mut Vec<u8>) {
    out.push(kind);
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
}

/// Frames taken out of a byte stream as they complete.
#[derive(Default)]
pub(crate) struct Frames {
    buf: Vec<u8>,
}

impl Frames {
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete frame; an error for a frame too large to be one.
    pub fn next(&mut self) -> Result<Option<(u8, Vec<u8>)>, ()> {
        if self.buf.len() < 5 {
            return Ok(None);
        }
        let len = u32::from_be_bytes([self.buf[1], self.buf[2], self.buf[3], self.buf[4]]) as usize;
        if len > MAX_FRAME {
            return Err(());
        }
        if self.buf.len() < 5 + len {
            return Ok(None);
        }
        let kind = self.buf[0];
        let payload = self.buf[5..5 + len].to_vec();
        self.buf.drain(..5 + len);
        Ok(Some((kind, payload)))
    }
}

/// Docker's detach keys: comma-separated keys, each a character or
/// `ctrl-X` (X one of `a`–`z`, `@`, `[`, `\`, `]`, `^`, `_`).
pub(crate) fn parse_detach_keys(keys: &str) -> Result<Vec<u8>, Error> {
    let bad = |reason: String| Error::DetachKeys { keys: keys.to_string(), reason };
    let mut out = Vec::new();
    for key in keys.split(',') {
        let k = key.to_ascii_lowercase();
        match k.strip_prefix("ctrl-") {
            Some(c) if c.len() == 1 => {
                let c = c.as_bytes()[0];
                out.push(match c {
                    b'a'..=b'z' => c - b'a' + 1,
                    b'@' => 0,
                    b'[' => 27,
                    b'\\' => 28,
                    b']' => 29,
                    b'^' => 30,
                    b'_' => 31,
                    _ => return Err(bad(format!("unknown key {key:?}"))),
                });
            }
            _ if key.len() == 1 => out.push(key.as_bytes()[0]),
            _ => return Err(bad(format!("unknown key {key:?}: expected a character or ctrl-<char>"))),
        }
    }
    Ok(out)
}

/// Finds the detach keys in what the user types; what is not part of them
/// goes on to the container (a partial match is held until it is decided).
pub(crate) struct DetachScanner {
    keys: Vec<u8>,
    held: usize,
}

impl DetachScanner {
    pub fn new(keys: Vec<u8>) -> DetachScanner {
        DetachScanner { keys, held: 0 }
    }

    /// Passes `input` through to `out`; true when the keys were typed (what follows them is dropped).
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> bool {
        for &b in input {
            if self.keys.is_empty() {
                out.push(b);
                continue;
            }
            if b == self.keys[self.held] {
                self.held += 1;
            } else {
                out.extend_from_slice(&self.keys[..self.held]);
                self.held = usize::from(b == self.keys[0]);
                if self.held == 0 {
                    out.push(b);
                }
            }
            if self.held == self.keys.len() {
                self.held = 0;
                return true;
            }
        }
        false
    }
}

/// The socket of a container directory, named through `/proc/self/fd` of
/// an open descriptor of the directory: a socket address holds only 108
/// bytes, fewer than a store's path may take.
struct SocketAddr {
    _dir: OwnedFd,
    addr: UnixAddr,
}

fn socket_addr(dir: &Path) -> io::Result<SocketAddr> {
    let fd =
        nix::fcntl::open(dir, OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, nix::sys::stat::Mode::empty())?;
    // SAFETY: open returned a new descriptor that nothing else owns.
    let dir_fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let addr = UnixAddr::new(format!("/proc/self/fd/{fd}/{SOCKET}").as_str())?;
    Ok(SocketAddr { _dir: dir_fd, addr })
}

/// A client of the monitor.
struct Client {
    fd: OwnedFd,
    frames: Frames,
    /// Output not yet taken by the client.
    queued: Vec<u8>,
    /// Its hello's flags, once it said hello.
    flags: Option<u8>,
    gone: bool,
}

/// What clients ask of the container.
pub(crate) enum Request {
    Input(Vec<u8>),
    /// End of input (of a client that closes the container's stdin with it).
    Eof,
    Resize(u16, u16),
}

/// The monitor's side: the listening socket and the attached clients.
pub(crate) struct Hub {
    listener: OwnedFd,
    path: PathBuf,
    clients: Vec<Client>,
    /// What clients asked, not yet done.
    requests: Vec<Request>,
}

impl Hub {
    /// Listens on the container directory's socket (replacing a stale one).
    pub fn listen(dir: &Path) -> Result<Hub, Error> {
        let path = dir.join(SOCKET);
        let err = io_error(&path);
        let _ = std::fs::remove_file(&path);
        let sa = socket_addr(dir).map_err(io_error(&path))?;
        let fd = socket::socket(
            AddressFamily::Unix,
            SockType::Stream,
            SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
            None,
        )
        .map_err(|e| err(e.into()))?;
        // only its owner (root) may connect: created 0600
        let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o177));
        let bound = socket::bind(fd.as_raw_fd(), &sa.addr);
        nix::sys::stat::umask(old);
        bound.map_err(|e| io_error(&path)(e.into()))?;
        socket::listen(&fd, Backlog::new(16).unwrap_or(Backlog::MAXCONN)).map_err(|e| io_error(&path)(e.into()))?;
        Ok(Hub { listener: fd, path, clients: Vec::new(), requests: Vec::new() })
    }

    pub fn listener(&self) -> BorrowedFd<'_> {
        self.listener.as_fd()
    }

    /// Accepts every client waiting.
    pub fn accept(&mut self) {
        while let Ok(fd) = socket::accept4(self.listener.as_raw_fd(), SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK)
        {
            // SAFETY: accept4 returned a new descriptor that nothing else owns.
            let fd = unsafe { OwnedFd::from_raw_fd(fd) };
            self.clients.push(Client { fd, frames: Frames::default(), queued: Vec::new(), flags: None, gone: false });
        }
    }

    /// Waits up to `timeout` for a first client to say hello (`start -a`
    /// attaches before the container starts, so that none of its output is missed).
    pub fn wait_for_client(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.clients.iter().all(|c| c.flags.is_none()) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            let ms = PollTimeout::try_from(left.as_millis().min(10_000) as i32).unwrap_or(PollTimeout::MAX);
            let ready: Vec<bool> = {
                let mut fds = vec![PollFd::new(self.listener.as_fd(), PollFlags::POLLIN)];
                fds.extend(self.clients.iter().map(|c| PollFd::new(c.fd.as_fd(), PollFlags::POLLIN)));
                if matches!(poll(&mut fds, ms), Err(e) if e != Errno::EINTR) {
                    return;
                }
                fds.iter().map(|f| f.revents().is_some_and(|r| !r.is_empty())).collect()
            };
            if ready[0] {
                self.accept();
            }
            for (i, r) in ready.iter().enumerate().skip(1) {
                if *r {
                    self.read(i - 1);
                }
            }
            self.clients.retain(|c| !c.gone);
        }
    }

    pub fn len(&self) -> usize {
        self.clients.len()
    }

    /// Client `i`'s socket, and whether output waits for it.
    pub fn client(&self, i: usize) -> (BorrowedFd<'_>, bool) {
        (self.clients[i].fd.as_fd(), !self.clients[i].queued.is_empty())
    }

    /// What clients asked since the last call (input typed before the
    /// container started included).
    pub fn requests(&mut self) -> std::vec::Drain<'_, Request> {
        self.requests.drain(..)
    }

    /// Reads from client `i`; what it asks is kept for [`Hub::requests`].
    pub fn read(&mut self, i: usize) {
        let requests = &mut self.requests;
        let c = &mut self.clients[i];
        let mut buf = [0u8; 16 * 1024];
        match nix::unistd::read(c.fd.as_raw_fd(), &mut buf) {
            Ok(0) => c.gone = true,
            Ok(n) => c.frames.push(&buf[..n]),
            Err(Errno::EAGAIN) | Err(Errno::EINTR) => return,
            Err(_) => c.gone = true,
        }
        loop {
            match c.frames.next() {
                Ok(Some((kind::HELLO, p))) => c.flags = Some(p.first().copied().unwrap_or(WANT_STDOUT | WANT_STDERR)),
                Ok(Some((kind::INPUT, p))) => {
                    if c.flags.is_some_and(|f| f & WANT_STDIN != 0) {
                        requests.push(Request::Input(p));
                    }
                }
                Ok(Some((kind::EOF, _))) => {
                    if c.flags.is_some_and(|f| f & CLOSE_STDIN_AT_EOF != 0) {
                        requests.push(Request::Eof);
                    }
                }
                Ok(Some((kind::RESIZE, p))) if p.len() == 4 => {
                    requests.push(Request::Resize(u16::from_be_bytes([p[0], p[1]]), u16::from_be_bytes([p[2], p[3]])));
                }
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(()) => {
                    c.gone = true;
                    break;
                }
            }
        }
    }

    /// Sends what is queued for client `i`, as much as its socket takes.
    pub fn flush(&mut self, i: usize) {
        let c = &mut self.clients[i];
        while !c.queued.is_empty() {
            match nix::unistd::write(&c.fd, &c.queued) {
                Ok(n) => {
                    c.queued.drain(..n);
                }
                Err(Errno::EINTR) => {}
                Err(Errno::EAGAIN) => break,
                Err(_) => {
                    c.gone = true;
                    break;
                }
            }
        }
    }

    /// The container wrote `bytes`: every client that wants the stream gets them.
    pub fn output(&mut self, stream: Stream, bytes: &[u8]) {
        let (k, want) = match stream {
            Stream::Stdout => (kind::STDOUT, WANT_STDOUT),
            Stream::Stderr => (kind::STDERR, WANT_STDERR),
        };
        for i in 0..self.clients.len() {
            let c = &mut self.clients[i];
            if c.gone || c.flags.is_none_or(|f| f & want == 0) {
                continue;
            }
            frame(k, bytes, &mut c.queued);
            if c.queued.len() > MAX_QUEUED {
                c.gone = true; // it does not read: it must not hold the container up
                continue;
            }
            self.flush(i);
        }
    }

    /// Forgets the clients that left.
    pub fn prune(&mut self) {
        self.clients.retain(|c| !c.gone);
    }

    /// Sends the last frame (exit code, or failure) to every client, waits
    /// a little for each to take what is queued, and lets them go.
    pub fn finish(&mut self, kind: u8, payload: &[u8]) {
        for mut c in self.clients.drain(..) {
            if c.gone || c.flags.is_none() {
                continue;
            }
            frame(kind, payload, &mut c.queued);
            let _ = nix::fcntl::fcntl(c.fd.as_raw_fd(), nix::fcntl::FcntlArg::F_SETFL(OFlag::empty()));
            let _ = socket::setsockopt(&c.fd, socket::sockopt::SendTimeout, &nix::sys::time::TimeVal::new(2, 0));
            let _ = launcher::write_all(c.fd.as_fd(), &c.queued);
        }
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Connects to the monitor of the container in `dir`.
fn connect(dir: &Path) -> io::Result<OwnedFd> {
    let sa = socket_addr(dir)?;
    let fd = socket::socket(AddressFamily::Unix, SockType::Stream, SockFlag::SOCK_CLOEXEC, None)?;
    socket::connect(fd.as_raw_fd(), &sa.addr)?;
    Ok(fd)
}

fn send(sock: &OwnedFd, kind: u8, payload: &[u8]) -> Result<(), Errno> {
    let mut buf = Vec::with_capacity(payload.len() + 5);
    frame(kind, payload, &mut buf);
    launcher::write_all(sock.as_fd(), &buf)
}

fn resize_payload(rows: u16, cols: u16) -> [u8; 4] {
    let (r, c) = (rows.to_be_bytes(), cols.to_be_bytes());
    [r[0], r[1], c[0], c[1]]
}

/// Signals a client passes on to the container (`--sig-proxy`, without a terminal).
const PROXIED: [Signal; 6] =
    [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP, Signal::SIGQUIT, Signal::SIGUSR1, Signal::SIGUSR2];

impl Rrun {
    /// `rrun attach`: relays between this process's stdio and a running
    /// detached container until it exits (its exit code) or the detach keys
    /// are typed (0, the container goes on).
    pub fn attach(&self, name_or_id: &str, opts: &AttachOptions) -> Result<i32, Error> {
        let c = self.open_container(name_or_id)?;
        match c.record.status {
            crate::Status::Running => {}
            crate::Status::Paused => return Err(Error::AttachPaused),
            _ => return Err(Error::AttachStopped),
        }
        let keys = parse_detach_keys(opts.detach_keys.as_deref().unwrap_or("ctrl-p,ctrl-q"))?;
        let sock = connect(&c.dir).map_err(|_| Error::NotAttachable(name_or_id.to_string()))?;
        self.attached(&c, sock, opts, keys)
    }

    /// `rrun start -a`: starts the container under its monitor, attached
    /// before it runs; a running one is attached to.
    pub fn start_attached(&self, name_or_id: &str, opts: &AttachOptions) -> Result<i32, Error> {
        let c = self.open_container(name_or_id)?;
        let now = self.after_previous_monitor(&c.record)?;
        if now.is_running() {
            return self.attach(name_or_id, opts);
        }
        let c = self.open_container(&now.id)?;
        let keys = parse_detach_keys(opts.detach_keys.as_deref().unwrap_or("ctrl-p,ctrl-q"))?;
        self.cleanup_stale(&c.record);
        self.start_detached(&c, true)?;
        let sock = connect(&c.dir).map_err(io_error(&c.dir.join(SOCKET)))?;
        self.attached(&c, sock, opts, keys)
    }

    fn attached(&self, c: &Container, sock: OwnedFd, opts: &AttachOptions, keys: Vec<u8>) -> Result<i32, Error> {
        let tty = c.spec.process().as_ref().and_then(|p| p.terminal()).unwrap_or(false);
        // our stdin is read for the detach keys even when the container takes no input
        let stdin_on = opts.stdin;
        let mut flags = WANT_STDOUT | WANT_STDERR;
        if stdin_on && c.record.open_stdin {
            flags |= WANT_STDIN;
        }
        if opts.close_stdin_at_eof {
            flags |= CLOSE_STDIN_AT_EOF;
        }
        let lost = |e: Errno| Error::Io { path: c.dir.join(SOCKET), source: e.into() };
        send(&sock, kind::HELLO, &[flags]).map_err(lost)?;
        let stdin = std::io::stdin();
        let _raw = (tty && stdin_on).then(|| RawMode::enter(stdin.as_fd()));
        let own_terminal =
            || launcher::window_size(stdin.as_fd()).or_else(|| launcher::window_size(std::io::stdout().as_fd()));
        if tty {
            if let Some((rows, cols)) = own_terminal() {
                send(&sock, kind::RESIZE, &resize_payload(rows, cols)).map_err(lost)?;
            }
        }
        let mut mask = SigSet::empty();
        if tty {
            mask.add(Signal::SIGWINCH);
        } else if opts.sig_proxy {
            PROXIED.iter().for_each(|s| mask.add(*s));
        }
        let mut old_mask = SigSet::empty();
        let _ = nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&mask), Some(&mut old_mask));
        let signals = SignalFd::new(&mask).map_err(|e| Error::Io { path: "signalfd".into(), source: e.into() })?;
        self.emit_container(&c.record, "attach", &[]);
        let result = self.attach_loop(c, &sock, &signals, stdin_on, c.record.open_stdin, keys);
        let _ = nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&old_mask), None);
        result
    }

    fn attach_loop(
        &self,
        c: &Container,
        sock: &OwnedFd,
        signals: &SignalFd,
        stdin_on: bool,
        forward_input: bool,
        keys: Vec<u8>,
    ) -> Result<i32, Error> {
        let lost = |e: Errno| Error::Io { path: c.dir.join(SOCKET), source: e.into() };
        let stdin = std::io::stdin();
        let mut stdin_open = stdin_on;
        let mut scanner = DetachScanner::new(keys);
        let mut frames = Frames::default();
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            let ready: Vec<PollFlags> = {
                let mut fds =
                    vec![PollFd::new(sock.as_fd(), PollFlags::POLLIN), PollFd::new(signals.as_fd(), PollFlags::POLLIN)];
                if stdin_open {
                    fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
                }
                match poll(&mut fds, PollTimeout::NONE) {
                    Ok(_) | Err(Errno::EINTR) => {}
                    Err(e) => return Err(lost(e)),
                }
                fds.iter().map(|f| f.revents().unwrap_or(PollFlags::empty())).collect()
            };
            if !ready[1].is_empty() {
                if let Ok(Some(info)) = signals.read_signal() {
                    if info.ssi_signo == libc::SIGWINCH as u32 {
                        let size = launcher::window_size(stdin.as_fd())
                            .or_else(|| launcher::window_size(std::io::stdout().as_fd()));
                        if let Some((rows, cols)) = size {
                            send(sock, kind::RESIZE, &resize_payload(rows, cols)).map_err(lost)?;
                        }
                    } else {
                        if let Some(sig) = crate::Signal::from_number(info.ssi_signo as i32) {
                            let _ = self.kill(&c.record.id, Some(sig));
                        }
                    }
                }
            }
            if stdin_open && !ready[2].is_empty() {
                match nix::unistd::read(stdin.as_raw_fd(), &mut buf) {
                    Ok(0) | Err(Errno::EIO) => {
                        stdin_open = false;
                        if forward_input {
                            send(sock, kind::EOF, &[]).map_err(lost)?;
                        }
                    }
                    Ok(n) => {
                        let mut pass = Vec::with_capacity(n);
                        let detached = scanner.feed(&buf[..n], &mut pass);
                        if forward_input && !pass.is_empty() {
                            send(sock, kind::INPUT, &pass).map_err(lost)?;
                        }
                        if detached {
                            self.emit_container(&c.record, "detach", &[]);
                            return Ok(0);
                        }
                    }
                    Err(Errno::EINTR) | Err(Errno::EAGAIN) => {}
                    Err(_) => stdin_open = false,
                }
            }
            if !ready[0].is_empty() {
                let n = match nix::unistd::read(sock.as_raw_fd(), &mut buf) {
                    Ok(n) => n,
                    Err(Errno::EINTR) | Err(Errno::EAGAIN) => continue,
                    Err(_) => 0,
                };
                if n == 0 {
                    // the monitor went away without a word: what does the record say?
                    return match self.container(&c.record.id) {
                        Ok(r) if !r.is_running() => Ok(r.exit_code.unwrap_or(125)),
                        _ => Err(Error::Conflict(format!("container {}: its monitor went away", c.record.name))),
                    };
                }
                frames.push(&buf[..n]);
                while let Ok(Some((k, payload))) = frames.next() {
                    let fd = match k {
                        kind::STDOUT => libc::STDOUT_FILENO,
                        kind::STDERR => libc::STDERR_FILENO,
                        kind::EXIT if payload.len() == 4 => {
                            return Ok(i32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]]));
                        }
                        kind::FAILED if !payload.is_empty() => {
                            return Err(Error::Launch(launcher::LaunchError::Container {
                                code: payload[0] as i32,
                                msg: String::from_utf8_lossy(&payload[1..]).into_owned(),
                            }));
                        }
                        _ => continue,
                    };
                    // SAFETY: the process's standard descriptors stay open while it runs.
                    let _ = launcher::write_all(unsafe { BorrowedFd::borrow_raw(fd) }, &payload);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_keys_parse_like_dockers() {
        assert_eq!(parse_detach_keys("ctrl-p,ctrl-q").unwrap(), [16, 17]);
        assert_eq!(parse_detach_keys("ctrl-a,x").unwrap(), [1, b'x']);
        assert_eq!(parse_detach_keys("ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_").unwrap(), [0, 27, 28, 29, 30, 31]);
        assert_eq!(parse_detach_keys("CTRL-Z").unwrap(), [26]);
        for bad in ["ctrl-", "ctrl-1", "ab", "", "ctrl-a,,x"] {
            assert!(parse_detach_keys(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_scanner_passes_everything_but_the_keys() {
        let mut s = DetachScanner::new(vec![16, 17]);
        let mut out = Vec::new();
        assert!(!s.feed(b"ls\n", &mut out));
        assert_eq!(out, b"ls\n");
        out.clear();
        // a lone Ctrl-P is held, then passed on when something else follows
        assert!(!s.feed(&[16], &mut out));
        assert!(out.is_empty());
        assert!(!s.feed(b"a", &mut out));
        assert_eq!(out, [16, b'a']);
        out.clear();
        // Ctrl-P Ctrl-P Ctrl-Q: the first is passed on, the pair detaches
        assert!(s.feed(&[b'x', 16, 16, 17, b'y'], &mut out));
        assert_eq!(out, [b'x', 16]);
        out.clear();
        // split across reads
        assert!(!s.feed(&[16], &mut out));
        assert!(s.feed(&[17], &mut out));
        assert!(out.is_empty());
    }

    #[test]
    fn frames_split_and_join() {
        let mut wire = Vec::new();
        frame(kind::HELLO, &[WANT_STDOUT], &mut wire);
        frame(kind::STDOUT, b"hello", &mut wire);
        frame(kind::EXIT, &7i32.to_be_bytes(), &mut wire);
        let mut f = Frames::default();
        let mut got = Vec::new();
        for chunk in wire.chunks(3) {
            f.push(chunk);
            while let Ok(Some(x)) = f.next() {
                got.push(x);
            }
        }
        assert_eq!(
            got,
            [
                (kind::HELLO, vec![WANT_STDOUT]),
                (kind::STDOUT, b"hello".to_vec()),
                (kind::EXIT, 7i32.to_be_bytes().to_vec())
            ]
        );
        let mut huge = Frames::default();
        huge.push(&[kind::INPUT, 0xff, 0xff, 0xff, 0xff]);
        assert!(huge.next().is_err());
    }
}
