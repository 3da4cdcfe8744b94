//! Named steps: the words in which rrun says what it does to the kernel.
//!
//! Every kernel step of a container's life — a namespace, a mount,
//! `pivot_root`, a capability drop, the seccomp filter, `execve`, a cgroup
//! write — is one `tracing` event emitted with [`step!`](macro@crate::step). The
//! event names a [`Step`], declared once with [`steps!`](macro@crate::steps) next to
//! the code that performs it (what it does in one line, and why it is done),
//! and carries the step's real arguments as fields. `-vv` logs these events;
//! `--explain` narrates them (`explain`). With neither, tracing's level
//! filter skips each one at the cost of one load and one compare, and none
//! of its fields is even computed.
//!
//! A container's init is a forked copy of rrun: its steps happen in another
//! process, whose copy of the collected narration nobody reads. [`relay`]
//! carries them back: the launcher opens a relay before it forks (only when
//! someone collects), and the child sends each step's record over it.

use serde::{Deserialize, Serialize};

/// The phases of a container's life, in the order they begin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Names, manifests, configs and layers: what the store holds.
    Image,
    /// The container's own directories and the overlay that stacks the layers.
    Rootfs,
    /// The control group that limits and counts the container's processes.
    Cgroups,
    /// The new process and the namespaces it lives in.
    Namespaces,
    /// The container's mount table, built inside its mount namespace.
    Mounts,
    /// Who the process is: hostname, session, terminal, user, groups, directory.
    Identity,
    /// What the process may do: capabilities, no_new_privs, seccomp, limits.
    Security,
    /// The hand-over to the container's command, and the hooks around it.
    Exec,
    /// What happens once the container has exited.
    Cleanup,
}

impl Phase {
    /// Every phase, in the order a `run` goes through them.
    pub const ALL: [Phase; 9] = [
        Phase::Image,
        Phase::Rootfs,
        Phase::Cgroups,
        Phase::Namespaces,
        Phase::Mounts,
        Phase::Identity,
        Phase::Security,
        Phase::Exec,
        Phase::Cleanup,
    ];

    /// The lowercase name `--explain` prints (`namespaces`).
    pub fn name(self) -> &'static str {
        match self {
            Phase::Image => "image",
            Phase::Rootfs => "rootfs",
            Phase::Cgroups => "cgroups",
            Phase::Namespaces => "namespaces",
            Phase::Mounts => "mounts",
            Phase::Identity => "identity",
            Phase::Security => "security",
            Phase::Exec => "exec",
            Phase::Cleanup => "cleanup",
        }
    }
}

/// One named step: declared once, emitted by [`step!`](macro@crate::step) where it is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// A stable name (`pivot_root`), the key of `--explain=json` output.
    pub name: &'static str,
    /// The phase of a container's life it belongs to.
    pub phase: Phase,
    /// The system call (or the file written) that does it.
    pub syscall: &'static str,
    /// What it does, in one line.
    pub what: &'static str,
    /// Why: what it isolates or protects, and what would happen without it.
    pub why: &'static str,
    /// The source file that performs it.
    pub source: &'static str,
}

/// Declares a module's steps: one `const` per step and `STEPS`, all of them
/// in the order they usually run.
///
/// ```ignore
/// steps! {
///     PIVOT_ROOT: "pivot_root" in Mounts, syscall "pivot_root", source "src/launcher/mounts.rs",
///         what "Make the rootfs the root",
///         why "…";
/// }
/// ```
#[macro_export]
#[doc(hidden)] // exported only so that every module can reach it as `crate::steps!`
macro_rules! steps {
    ($(
        $(#[$meta:meta])*
        $id:ident : $name:literal in $phase:ident, syscall $syscall:literal, source $source:literal,
            what $what:literal,
            why $why:literal;
    )*) => {
        $(
            $(#[$meta])*
            pub(crate) const $id: $crate::steps::Step = $crate::steps::Step {
                name: $name,
                phase: $crate::steps::Phase::$phase,
                syscall: $syscall,
                what: $what,
                why: $why,
                source: $source,
            };
        )*
        /// Every step declared here, in the order they usually run.
        pub const STEPS: &[$crate::steps::Step] = &[$($id),*];
    };
}

/// Emits a step: a DEBUG event naming the [`Step`], with its arguments as
/// fields (`step!(mounts::PIVOT_ROOT, new_root = ".", put_old = ".")`).
#[macro_export]
#[doc(hidden)] // exported only so that every module can reach it as `crate::step!`
macro_rules! step {
    ($step:expr) => {
        ::tracing::debug!(step = $step.name, syscall = $step.syscall, "{}", $step.what)
    };
    ($step:expr, $($fields:tt)+) => {
        ::tracing::debug!(step = $step.name, syscall = $step.syscall, $($fields)+, "{}", $step.what)
    };
}

/// One emitted step: what the narration is made of.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The step's name.
    pub step: String,
    /// Its arguments, in the order the event gave them.
    pub args: Vec<(String, serde_json::Value)>,
    /// Wall-clock nanoseconds (CLOCK_REALTIME: the one clock a time namespace does not shift).
    pub at: u64,
    /// Which process did it: `rrun`, `container` (the init, or a process exec'd into a
    /// container, before it execs) or `monitor` (a detached container's).
    pub process: String,
    /// Its PID as it sees itself (1 for a container's init in its new PID namespace).
    pub pid: u32,
}

impl Record {
    /// A record of `step` happening now, in this process (its role and PID).
    pub fn now(step: String, args: Vec<(String, serde_json::Value)>) -> Record {
        let at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        Record { step, args, at, process: relay::role().to_string(), pid: std::process::id() }
    }
}

/// Carries the records of forked children back to the process that narrates.
///
/// A SOCK_SEQPACKET pair: the narrating process keeps the read end, the
/// child gets the write end (close-on-exec: it closes when the child execs)
/// and sends one record per message, never blocking (a full queue drops a
/// record rather than hold up a container) and never raising SIGPIPE (the
/// reader may be gone: `rrun oci create` returns while its init waits).
pub mod relay {
    use super::Record;
    use std::os::fd::{AsRawFd, OwnedFd, RawFd};
    use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
    use std::sync::Mutex;

    static COLLECTING: AtomicBool = AtomicBool::new(false);
    /// The write end, in a child that relays (-1: this process narrates itself).
    static SENDER: AtomicI32 = AtomicI32::new(-1);
    static ROLE: Mutex<&'static str> = Mutex::new("rrun");
    static READERS: Mutex<Vec<OwnedFd>> = Mutex::new(Vec::new());

    /// Called by whoever collects the steps of this process (`explain`).
    pub fn set_collecting() {
        COLLECTING.store(true, Ordering::Relaxed);
    }

    /// True when this process's steps are collected (here or by a parent).
    pub fn collecting() -> bool {
        COLLECTING.load(Ordering::Relaxed)
    }

    /// This process's role in a narration.
    pub fn role() -> &'static str {
        *ROLE.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Before a fork: the write end for the child, when steps are collected
    /// and this process narrates them itself (a child that already relays
    /// passes its own relay on to its children, which inherit it).
    pub fn open() -> Option<OwnedFd> {
        if !collecting() || SENDER.load(Ordering::Relaxed) >= 0 {
            return None;
        }
        use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
        let (reader, writer) =
            socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_CLOEXEC).ok()?;
        // room for a few hundred records before the narrator reads them
        let size: libc::c_int = 4 << 20;
        for opt in [libc::SO_SNDBUFFORCE, libc::SO_SNDBUF] {
            // SAFETY: setsockopt reads one c_int we own; failure only leaves the default size.
            let rc = unsafe {
                libc::setsockopt(
                    writer.as_raw_fd(),
                    libc::SOL_SOCKET,
                    opt,
                    (&size as *const libc::c_int).cast(),
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                )
            };
            if rc == 0 {
                break;
            }
        }
        READERS.lock().unwrap_or_else(|e| e.into_inner()).push(reader);
        Some(writer)
    }

    /// In a forked child: its role in the narration, and the relay [`open`]
    /// made for it (None: it inherited its parent's, or nobody narrates).
    pub fn adopt(writer: Option<OwnedFd>, role: &'static str) {
        if !collecting() {
            return;
        }
        *ROLE.lock().unwrap_or_else(|e| e.into_inner()) = role;
        if let Some(writer) = writer {
            // the narrator's read ends are not the child's to read
            drop(std::mem::take(&mut *READERS.lock().unwrap_or_else(|e| e.into_inner())));
            let fd: RawFd = std::os::fd::IntoRawFd::into_raw_fd(writer);
            SENDER.store(fd, Ordering::Relaxed);
        }
    }

    /// True in a child whose records go to its parent.
    pub fn sending() -> bool {
        SENDER.load(Ordering::Relaxed) >= 0
    }

    /// Sends a record to the narrator; false when it could not (no relay, a full queue, no reader).
    pub fn send(record: &Record) -> bool {
        let fd = SENDER.load(Ordering::Relaxed);
        fd >= 0 && send_on(fd, record)
    }

    fn send_on(fd: RawFd, record: &Record) -> bool {
        let Ok(bytes) = serde_json::to_vec(record) else { return false };
        // SAFETY: send(2) reads `bytes`, which lives across the call.
        let rc = unsafe { libc::send(fd, bytes.as_ptr().cast(), bytes.len(), libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL) };
        rc == bytes.len() as isize
    }

    /// Every record the children have sent so far (never blocks).
    pub fn drain() -> Vec<Record> {
        let readers = READERS.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::new();
        for r in readers.iter() {
            read_available(r, &mut out);
        }
        out
    }

    fn read_available(reader: &OwnedFd, out: &mut Vec<Record>) {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            // SAFETY: recv(2) writes at most buf.len() bytes into buf, which we own.
            let n = unsafe { libc::recv(reader.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) };
            if n <= 0 {
                return;
            }
            if let Ok(rec) = serde_json::from_slice::<Record>(&buf[..n as usize]) {
                out.push(rec);
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn records_cross_a_relay_whole_and_in_order() {
            use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
            let (reader, writer) =
                socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_CLOEXEC).unwrap();
            let sent: Vec<Record> = (0..3)
                .map(|i| {
                    Record::now(
                        format!("s{i}"),
                        vec![("path".into(), serde_json::json!(format!("/x/{i}"))), ("n".into(), serde_json::json!(i))],
                    )
                })
                .collect();
            for r in &sent {
                assert!(send_on(writer.as_raw_fd(), r));
            }
            let mut got = Vec::new();
            read_available(&reader, &mut got);
            assert_eq!(got, sent);
            // nobody reads any more: the sender is told, and lives (no SIGPIPE)
            drop(reader);
            assert!(!send_on(writer.as_raw_fd(), &sent[0]));
            // a process that narrates itself sends nothing
            assert!(!send(&sent[0]) || sending());
        }
    }
}
