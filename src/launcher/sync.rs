//! The parent ⇄ container-init channel: a SOCK_SEQPACKET pair, close-on-exec,
//! so a successful exec shows up on the parent's side as end-of-file.

use nix::errno::Errno;
use nix::sys::socket::{
    recvmsg, sendmsg, socketpair, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag, SockType,
};
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

pub fn pair() -> nix::Result<(OwnedFd, OwnedFd)> {
    socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_CLOEXEC)
}

pub enum Message {
    Pty(OwnedFd),
    Error {
        code: i32,
        msg: String,
    },
    /// The child's mounts are done: run the runtime's hooks (`createRuntime`), then answer.
    Hooks,
    /// Everything is ready; the child now waits on the exec FIFO (`create`).
    Created,
    /// The seccomp notify descriptor, for the filter's listenerPath.
    SeccompFd(OwnedFd),
    Eof,
}

fn send(sock: &OwnedFd, bytes: &[u8], fds: &[RawFd]) -> nix::Result<()> {
    let iov = [IoSlice::new(bytes)];
    let cmsg = [ControlMessage::ScmRights(fds)];
    let cmsgs: &[ControlMessage<'_>] = if fds.is_empty() { &[] } else { &cmsg };
    loop {
        match sendmsg::<()>(sock.as_raw_fd(), &iov, cmsgs, MsgFlags::MSG_NOSIGNAL, None) {
            Err(Errno::EINTR) => continue,
            r => return r.map(drop),
        }
    }
}

pub fn send_go(sock: &OwnedFd) -> nix::Result<()> {
    send(sock, b"G", &[])
}

/// Child → parent: mounts done, run the runtime hooks.
pub fn send_hooks(sock: &OwnedFd) -> nix::Result<()> {
    send(sock, b"H", &[])
}

/// Parent → child: the hooks ran; here is the container's state for its own hooks.
pub fn send_hooks_done(sock: &OwnedFd, state: &str) -> nix::Result<()> {
    let mut m = b"h".to_vec();
    m.extend_from_slice(state.as_bytes());
    send(sock, &m, &[])
}

/// Child: waits for [`send_hooks_done`]; returns the state JSON.
pub fn wait_hooks_done(sock: &OwnedFd) -> Option<String> {
    match recv_raw(sock) {
        Ok((b, _)) if b.first() == Some(&b'h') => Some(String::from_utf8_lossy(&b[1..]).into_owned()),
        _ => None,
    }
}

/// Child → parent: created, about to wait on the exec FIFO.
pub fn send_created(sock: &OwnedFd) -> nix::Result<()> {
    send(sock, b"C", &[])
}

pub fn send_seccomp_fd(sock: &OwnedFd, fd: &OwnedFd) -> nix::Result<()> {
    send(sock, b"S", &[fd.as_raw_fd()])
}

/// Parent → child, before "go": a bind mount's source, opened by rrun (see `mount_sources`).
pub fn send_mount_source(sock: &OwnedFd, index: usize, fd: &OwnedFd) -> nix::Result<()> {
    let mut m = b"M".to_vec();
    m.extend_from_slice(&(index as u32).to_le_bytes());
    send(sock, &m, &[fd.as_raw_fd()])
}

/// Child: one [`send_mount_source`]; None if rrun went away or sent something else.
pub fn recv_mount_source(sock: &OwnedFd) -> Option<(usize, OwnedFd)> {
    match recv_raw(sock) {
        Ok((b, Some(fd))) if b.len() == 5 && b[0] == b'M' => {
            Some((u32::from_le_bytes([b[1], b[2], b[3], b[4]]) as usize, fd))
        }
        _ => None,
    }
}

pub fn send_pty(sock: &OwnedFd, master: RawFd) -> nix::Result<()> {
    send(sock, b"T", &[master])
}

/// Parent → child: the terminal is where it goes (relayed, or at the console
/// socket), so the process may start writing to it.
pub fn send_pty_ack(sock: &OwnedFd) -> nix::Result<()> {
    send(sock, b"A", &[])
}

/// Child: waits for [`send_pty_ack`]; false if rrun went away.
pub fn wait_pty_ack(sock: &OwnedFd) -> bool {
    matches!(recv_raw(sock), Ok((b, _)) if b.first() == Some(&b'A'))
}

pub fn send_error(sock: &OwnedFd, code: i32, msg: &str) {
    let mut bytes = vec![b'E', code as u8];
    bytes.extend_from_slice(&msg.as_bytes()[..msg.len().min(4000)]);
    let _ = send(sock, &bytes, &[]);
}

/// Waits for the parent's go-ahead; false if the parent went away.
pub fn wait_go(sock: &OwnedFd) -> bool {
    matches!(recv_raw(sock), Ok((b, _)) if b.first() == Some(&b'G'))
}

fn recv_raw(sock: &OwnedFd) -> nix::Result<(Vec<u8>, Option<OwnedFd>)> {
    // room for a state JSON with its annotations
    let mut buf = vec![0u8; 256 * 1024];
    let mut cmsg = nix::cmsg_space!([RawFd; 1]);
    loop {
        let mut iov = [IoSliceMut::new(&mut buf)];
        match recvmsg::<()>(sock.as_raw_fd(), &mut iov, Some(&mut cmsg), MsgFlags::MSG_CMSG_CLOEXEC) {
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
            Ok(msg) => {
                let mut fd = None;
                for c in msg.cmsgs()? {
                    if let ControlMessageOwned::ScmRights(fds) = c {
                        for f in fds {
                            // SAFETY: SCM_RIGHTS just installed this descriptor in our table.
                            let owned = unsafe { OwnedFd::from_raw_fd(f) };
                            fd.get_or_insert(owned);
                        }
                    }
                }
                let n = msg.bytes;
                buf.truncate(n);
                return Ok((buf, fd));
            }
        }
    }
}

pub fn recv(sock: &OwnedFd) -> nix::Result<Message> {
    let (bytes, fd) = recv_raw(sock)?;
    match bytes.first() {
        None => Ok(Message::Eof),
        Some(b'T') => fd.map(Message::Pty).ok_or(Errno::EBADMSG),
        Some(b'H') => Ok(Message::Hooks),
        Some(b'S') => fd.map(Message::SeccompFd).ok_or(Errno::EBADMSG),
        Some(b'C') => Ok(Message::Created),
        Some(b'E') if bytes.len() >= 2 => {
            Ok(Message::Error { code: bytes[1] as i32, msg: String::from_utf8_lossy(&bytes[2..]).into_owned() })
        }
        _ => Err(Errno::EBADMSG),
    }
}
