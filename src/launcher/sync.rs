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

/// The largest message: room for a state JSON with its annotations.
const MAX_MESSAGE: usize = 256 * 1024;

/// One message and the descriptor it carried. A message longer than
/// [`MAX_MESSAGE`] (cut by the kernel) is EMSGSIZE; one with more
/// descriptors than the one any message carries is EBADMSG.
fn recv_raw(sock: &OwnedFd) -> nix::Result<(Vec<u8>, Option<OwnedFd>)> {
    let mut buf = vec![0u8; MAX_MESSAGE];
    // room for more descriptors than a message carries, so that extra ones are received and closed
    let mut cmsg = nix::cmsg_space!([RawFd; 8]);
    loop {
        let mut iov = [IoSliceMut::new(&mut buf)];
        match recvmsg::<()>(sock.as_raw_fd(), &mut iov, Some(&mut cmsg), MsgFlags::MSG_CMSG_CLOEXEC) {
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
            Ok(msg) => {
                let mut fd = None;
                let mut count = 0;
                // more than 8 (MSG_CTRUNC): garbled
                for c in msg.cmsgs().map_err(|_| Errno::EBADMSG)? {
                    if let ControlMessageOwned::ScmRights(fds) = c {
                        for f in fds {
                            // SAFETY: SCM_RIGHTS just installed this descriptor in our table (owned,
                            // it is closed if it is not the one kept).
                            let owned = unsafe { OwnedFd::from_raw_fd(f) };
                            count += 1;
                            fd.get_or_insert(owned);
                        }
                    }
                }
                if count > 1 {
                    return Err(Errno::EBADMSG);
                }
                if msg.flags.contains(MsgFlags::MSG_TRUNC) {
                    return Err(Errno::EMSGSIZE);
                }
                if msg.flags.contains(MsgFlags::MSG_CTRUNC) {
                    return Err(Errno::EBADMSG);
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    fn pipe() -> (OwnedFd, OwnedFd) {
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap()
    }

    /// `fd` (received) and `write_end` (sent) are the same pipe: bytes written to it come out of `read_end`.
    fn same_pipe(fd: &OwnedFd, read_end: &OwnedFd) {
        nix::unistd::write(fd, b"through").unwrap();
        let mut buf = [0u8; 16];
        let n = nix::unistd::read(read_end.as_raw_fd(), &mut buf).unwrap();
        assert_eq!(&buf[..n], b"through");
        let flags = nix::fcntl::fcntl(fd.as_raw_fd(), nix::fcntl::FcntlArg::F_GETFD).unwrap();
        assert!(flags & libc::FD_CLOEXEC != 0, "a received descriptor is close-on-exec");
    }

    fn raw(sock: &OwnedFd, bytes: &[u8], fds: &[RawFd]) {
        send(sock, bytes, fds).unwrap();
    }

    #[test]
    fn the_pair_is_close_on_exec() {
        let (a, b) = pair().unwrap();
        for s in [&a, &b] {
            let flags = nix::fcntl::fcntl(s.as_raw_fd(), nix::fcntl::FcntlArg::F_GETFD).unwrap();
            assert!(flags & libc::FD_CLOEXEC != 0);
        }
    }

    #[test]
    fn go_hooks_created_and_acks_arrive_as_sent() {
        let (parent, child) = pair().unwrap();
        send_go(&parent).unwrap();
        assert!(wait_go(&child));
        send_hooks(&child).unwrap();
        assert!(matches!(recv(&parent), Ok(Message::Hooks)));
        let state = r#"{"ociVersion":"1.0.2","id":"c1","pid":42,"annotations":{"k":"v ü"}}"#;
        send_hooks_done(&parent, state).unwrap();
        assert_eq!(wait_hooks_done(&child).as_deref(), Some(state));
        send_created(&child).unwrap();
        assert!(matches!(recv(&parent), Ok(Message::Created)));
        send_pty_ack(&parent).unwrap();
        assert!(wait_pty_ack(&child));
    }

    #[test]
    fn a_large_state_fits_in_one_message() {
        let (parent, child) = pair().unwrap();
        let state = format!("{{\"annotations\":{{\"big\":\"{}\"}}}}", "x".repeat(200 * 1024));
        send_hooks_done(&parent, &state).unwrap();
        assert_eq!(wait_hooks_done(&child), Some(state));
    }

    #[test]
    fn an_error_carries_its_code_and_message() {
        let (parent, child) = pair().unwrap();
        send_error(&child, 127, "exec: \"nope\": executable file not found in $PATH");
        match recv(&parent) {
            Ok(Message::Error { code, msg }) => {
                assert_eq!(code, 127);
                assert_eq!(msg, "exec: \"nope\": executable file not found in $PATH");
            }
            _ => panic!("not an error message"),
        }
        // a long one is cut at 4000 bytes, even inside a character, and still read
        send_error(&child, 125, &"é".repeat(3000));
        match recv(&parent) {
            Ok(Message::Error { code: 125, msg }) => assert!(msg.len() <= 4002 && msg.starts_with("éé")),
            _ => panic!("not an error message"),
        }
    }

    #[test]
    fn end_of_file_when_the_other_side_is_gone() {
        let (parent, child) = pair().unwrap();
        drop(child);
        assert!(matches!(recv(&parent), Ok(Message::Eof)));
        let (parent, child) = pair().unwrap();
        drop(parent);
        assert!(!wait_go(&child), "no go from a parent that went away");
        assert!(wait_hooks_done(&child).is_none());
        assert!(!wait_pty_ack(&child));
        assert!(recv_mount_source(&child).is_none());
    }

    #[test]
    fn descriptors_pass_with_scm_rights() {
        let (parent, child) = pair().unwrap();
        let (r, w) = pipe();
        send_pty(&child, w.as_raw_fd()).unwrap();
        match recv(&parent) {
            Ok(Message::Pty(fd)) => same_pipe(&fd, &r),
            _ => panic!("no terminal"),
        }
        let (r, w) = pipe();
        send_seccomp_fd(&child, &w).unwrap();
        match recv(&parent) {
            Ok(Message::SeccompFd(fd)) => same_pipe(&fd, &r),
            _ => panic!("no seccomp descriptor"),
        }
        let (r, w) = pipe();
        send_mount_source(&parent, 7, &w).unwrap();
        let (index, fd) = recv_mount_source(&child).expect("a mount source");
        assert_eq!(index, 7);
        same_pipe(&fd, &r);
    }

    #[test]
    fn garbled_messages_are_errors_not_panics() {
        let (parent, child) = pair().unwrap();
        // a terminal or a seccomp descriptor without its descriptor
        raw(&child, b"T", &[]);
        assert_eq!(recv(&parent).err(), Some(Errno::EBADMSG));
        raw(&child, b"S", &[]);
        assert_eq!(recv(&parent).err(), Some(Errno::EBADMSG));
        // an unknown kind, an error without its code
        raw(&child, b"Z whatever", &[]);
        assert_eq!(recv(&parent).err(), Some(Errno::EBADMSG));
        raw(&child, b"E", &[]);
        assert_eq!(recv(&parent).err(), Some(Errno::EBADMSG));
        // something else where a go, an ack, the hooks' answer or a mount source is awaited
        raw(&parent, b"X", &[]);
        assert!(!wait_go(&child));
        raw(&parent, b"G", &[]);
        assert!(!wait_pty_ack(&child));
        raw(&parent, b"G", &[]);
        assert!(wait_hooks_done(&child).is_none());
        let (_r, w) = pipe();
        raw(&parent, b"M\x01\x00", &[w.as_raw_fd()]);
        assert!(recv_mount_source(&child).is_none(), "a mount source with a short index");
        raw(&parent, b"M\x01\x00\x00\x00", &[]);
        assert!(recv_mount_source(&child).is_none(), "a mount source without its descriptor");
        // the channel still works after each
        send_created(&child).unwrap();
        assert!(matches!(recv(&parent), Ok(Message::Created)));
    }

    #[test]
    fn an_oversized_message_is_emsgsize_and_the_next_one_reads() {
        let (parent, child) = pair().unwrap();
        // SEQPACKET keeps a datagram whole up to the socket's send buffer: raise it
        let size = MAX_MESSAGE + 4096;
        nix::sys::socket::setsockopt(&child, nix::sys::socket::sockopt::SndBuf, &(size * 2)).unwrap();
        let mut big = vec![b'E', 125];
        big.resize(size, b'x');
        match send(&child, &big, &[]) {
            Ok(()) => {
                assert_eq!(recv(&parent).err(), Some(Errno::EMSGSIZE));
                send_created(&child).unwrap();
                assert!(matches!(recv(&parent), Ok(Message::Created)));
            }
            // a kernel whose limit is below ours cannot even send it: nothing to read
            Err(e) => assert_eq!(e, Errno::EMSGSIZE),
        }
    }

    #[test]
    fn more_descriptors_than_a_message_carries_is_garbled() {
        let (parent, child) = pair().unwrap();
        let (_r1, w1) = pipe();
        let (_r2, w2) = pipe();
        let (_r3, w3) = pipe();
        raw(&child, b"T", &[w1.as_fd().as_raw_fd(), w2.as_raw_fd()]);
        assert_eq!(recv(&parent).err(), Some(Errno::EBADMSG));
        // more than the control buffer holds: cut by the kernel (MSG_CTRUNC)
        raw(&child, b"T", &[w1.as_raw_fd(); 12]);
        assert_eq!(recv(&parent).err(), Some(Errno::EBADMSG));
        raw(&child, b"T", &[w1.as_raw_fd(), w2.as_raw_fd(), w3.as_raw_fd()]);
        assert_eq!(recv(&parent).err(), Some(Errno::EBADMSG));
    }
}
