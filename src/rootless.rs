//! Rootless: an ordinary user's rrun runs inside a user namespace where the
//! user is root.
//!
//! The namespace maps container root to the user and, when `/etc/subuid` and
//! `/etc/subgid` give the user subordinate ranges, ids 1..=N to that range
//! (written by the setuid helpers `newuidmap`/`newgidmap` of the `uidmap`
//! package). Without ranges it maps the one id ("single-id mode", like
//! Podman's `ignore_chown_errors`): files of other owners appear as the user
//! and chown to another id fails.
//!
//! Every rrun command of the user must see the same namespace (an `exec` joins
//! a container's namespaces, a `stop` signals its processes, an `rm` deletes
//! files of subordinate owners), so the first command leaves a tiny pause
//! process holding it, as Podman does, and later commands `setns` into it
//! (its PID is in `$XDG_RUNTIME_DIR/rrun/pause.pid`). Inside, rrun runs its
//! usual code: unpacking chowns, containers get their namespaces, mounts and
//! overlay (with `userxattr`). What differs is asked through [`active`], which
//! is `None` for root, so the root path does no extra work.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// What an ordinary user's rrun found and set up.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Rootless {
    /// The user's id on the host.
    pub uid: u32,
    /// The user's primary group on the host.
    pub gid: u32,
    /// The user's name.
    pub user: String,
    /// How the user namespace maps ids.
    pub mapping: Mapping,
    /// Where the pause process's PID file lives (`$XDG_RUNTIME_DIR/rrun`, or
    /// a private `/tmp/rrun-UID`).
    pub runtime_dir: PathBuf,
}

/// How the user namespace maps ids.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum Mapping {
    /// Container root is the user; ids 1.. are the subordinate ranges
    /// (host start, count) for uids and gids.
    Ranges {
        /// The subordinate uid range (host start, count).
        uids: (u32, u32),
        /// The subordinate gid range (host start, count).
        gids: (u32, u32),
    },
    /// Only the user's own id is mapped; the reason says what is missing.
    Single {
        /// What is missing for a full mapping (and how to add it).
        why: String,
    },
}

impl Mapping {
    /// How many container ids exist (root plus the subordinate range).
    pub fn size(&self) -> u32 {
        match self {
            Mapping::Ranges { uids, .. } => 1 + uids.1,
            Mapping::Single { .. } => 1,
        }
    }
}

/// The xattr overlayfs marks an opaque directory with: `trusted.overlay.opaque`
/// for root; rootless, `user.overlay.opaque`, which overlay mounted with
/// `userxattr` in a user namespace reads (trusted.* needs host root).
pub fn opaque_xattr() -> &'static std::ffi::CStr {
    if active().is_some() {
        c"user.overlay.opaque"
    } else {
        c"trusted.overlay.opaque"
    }
}

/// The fuse-overlayfs program to stack a rootless container's layers with,
/// when the kernel's overlayfs cannot be mounted in the user namespace
/// (before Linux 5.11, or where a distribution forbids it), or when
/// `RRUN_ROOTLESS_OVERLAY=fuse` asks for it. `None`: not installed.
pub fn fuse_overlayfs() -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into());
    std::env::split_paths(&path).map(|d| d.join("fuse-overlayfs")).find(|p| p.is_file())
}

/// True when `RRUN_ROOTLESS_OVERLAY=fuse` asks for fuse-overlayfs even where
/// the kernel's overlayfs would do.
pub fn fuse_overlay_wanted() -> bool {
    std::env::var_os("RRUN_ROOTLESS_OVERLAY").is_some_and(|v| v == "fuse")
}

/// The (inside, outside, count) triples of a `/proc/PID/uid_map`.
pub(crate) fn map_lines(text: &str) -> Vec<[u32; 3]> {
    text.lines()
        .filter_map(|l| {
            let v: Vec<u32> = l.split_whitespace().filter_map(|n| n.parse().ok()).collect();
            <[u32; 3]>::try_from(v).ok()
        })
        .collect()
}

impl Mapping {
    /// The uid map this mapping writes for the user `uid`.
    pub(crate) fn uid_lines(&self, uid: u32) -> Vec<[u32; 3]> {
        match self {
            Mapping::Ranges { uids, .. } => vec![[0, uid, 1], [1, uids.0, uids.1]],
            Mapping::Single { .. } => vec![[0, uid, 1]],
        }
    }
}

impl Rootless {
    /// True when only the user's own id is mapped.
    pub fn single_id(&self) -> bool {
        matches!(self.mapping, Mapping::Single { .. })
    }

    /// The one warning of single-id mode: what is lost and how to fix it.
    pub fn single_id_warning(&self) -> Option<String> {
        let Mapping::Single { why } = &self.mapping else { return None };
        Some(format!(
            "rootless with a single id ({why}): every file in the container belongs to root, and chown to any \
             other user or group fails; to map 65536 ids, as root give the user a free range, e.g. `usermod --add-subuids \
             100000-165535 --add-subgids 100000-165535 {}`, and install the uidmap package",
            self.user
        ))
    }
}

/// Why an ordinary user's setup (user namespace, pause process) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RootlessError {
    /// A file or process operation failed.
    #[error("rootless setup: {what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Anything else: the message says what.
    #[error("rootless setup: {0}")]
    Other(String),
}

pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> RootlessError {
    let what = what.into();
    move |source| RootlessError::Io { what, source }
}

static ACTIVE: OnceLock<Rootless> = OnceLock::new();

/// The rootless setup this process runs in, or `None` (root, or a library
/// user that never entered the user namespace, see
/// [`launcher::userns::enter`](crate::launcher::userns::enter)).
pub fn active() -> Option<&'static Rootless> {
    ACTIVE.get()
}

/// Records `setup` as this process's rootless setup, once it runs in the
/// user namespace (the first setup recorded stays).
pub(crate) fn set_active(setup: Rootless) -> &'static Rootless {
    ACTIVE.get_or_init(|| setup)
}

/// Where runtime state lives (the OCI verbs' default `--root`, the seccomp
/// cache): `/run/rrun` for root, `$XDG_RUNTIME_DIR/rrun` otherwise.
pub fn state_dir() -> PathBuf {
    if !nix::unistd::Uid::effective().is_root() || active().is_some() {
        if let Some(x) = std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) {
            return PathBuf::from(x).join("rrun");
        }
    }
    PathBuf::from("/run/rrun")
}

/// The first range of `/etc/subuid`-style `text` that belongs to `user` (by
/// name or by numeric id): (start, count).
pub fn subordinate_range(text: &str, user: &str, id: u32) -> Option<(u32, u32)> {
    text.lines().find_map(|line| {
        let mut f = line.trim().split(':');
        let (owner, start, count) = (f.next()?, f.next()?, f.next()?);
        if owner != user && owner.parse::<u32>().ok() != Some(id) {
            return None;
        }
        let (start, count) = (start.trim().parse().ok()?, count.trim().parse::<u32>().ok()?);
        (count > 0).then_some((start, count))
    })
}

/// What the user's id mapping would be, without creating anything.
pub fn probe() -> Rootless {
    let uid = nix::unistd::getuid().as_raw();
    let gid = nix::unistd::getgid().as_raw();
    let user =
        nix::unistd::User::from_uid(uid.into()).ok().flatten().map(|u| u.name).unwrap_or_else(|| uid.to_string());
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let uids = subordinate_range(&read("/etc/subuid"), &user, uid);
    let gids = subordinate_range(&read("/etc/subgid"), &user, uid);
    let helper = |name: &str| {
        ["/usr/bin", "/bin", "/usr/sbin", "/sbin", "/usr/local/bin"]
            .iter()
            .map(|d| Path::new(d).join(name))
            .find(|p| p.is_file())
    };
    let mapping = match (uids, gids) {
        (Some(uids), Some(gids)) if helper("newuidmap").is_some() && helper("newgidmap").is_some() => {
            Mapping::Ranges { uids, gids }
        }
        (Some(_), Some(_)) => Mapping::Single { why: "newuidmap/newgidmap are not installed".into() },
        (None, _) => Mapping::Single { why: format!("no range for {user} in /etc/subuid") },
        (_, None) => Mapping::Single { why: format!("no range for {user} in /etc/subgid") },
    };
    Rootless { uid, gid, user, mapping, runtime_dir: runtime_dir(uid) }
}

/// `$XDG_RUNTIME_DIR/rrun` when that is set, else `/tmp/rrun-UID`.
fn runtime_dir(uid: u32) -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) {
        Some(x) => PathBuf::from(x).join("rrun"),
        None => PathBuf::from(format!("/tmp/rrun-{uid}")),
    }
}

/// Creates `dir` (0700) if missing and checks it is the user's own and
/// writable by nobody else: a fallback under /tmp could have been made by
/// someone else. (The OCI verbs' `--root`, the same directory under
/// `$XDG_RUNTIME_DIR`, may be readable by others.)
pub(crate) fn private_dir(dir: &Path, uid: u32) -> Result<(), RootlessError> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    match std::fs::DirBuilder::new().mode(0o700).recursive(true).create(dir) {
        Ok(()) => {}
        Err(e) => return Err(io(format!("create {}", dir.display()))(e)),
    }
    let md = std::fs::symlink_metadata(dir).map_err(io(format!("stat {}", dir.display())))?;
    if !md.is_dir() || md.uid() != uid || md.mode() & 0o022 != 0 {
        return Err(RootlessError::Other(format!(
            "{} is not a directory only uid {uid} may write (owner {}, mode {:o}); remove it or set XDG_RUNTIME_DIR",
            dir.display(),
            md.uid(),
            md.mode() & 0o7777
        )));
    }
    Ok(())
}

/// Writes `file` (`uid_map` or `gid_map`) of process `pid`'s new user
/// namespace as an ordinary user may: a map of the caller's own id directly
/// (denying setgroups first, for a gid map, as the kernel requires), any
/// other through the setuid helper newuidmap/newgidmap, which checks it
/// against /etc/subuid and /etc/subgid.
pub fn write_id_map(pid: i32, file: &str, map: &str) -> Result<(), String> {
    let own = if file == "gid_map" { nix::unistd::getegid().as_raw() } else { nix::unistd::geteuid().as_raw() };
    let triples: Vec<[u32; 3]> = map
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Vec<u32> = l.split_whitespace().filter_map(|n| n.parse().ok()).collect();
            <[u32; 3]>::try_from(v).map_err(|_| format!("bad id map line {l:?}"))
        })
        .collect::<Result<_, _>>()?;
    if let [[_, host, 1]] = triples[..] {
        if host == own {
            if file == "gid_map" {
                std::fs::write(format!("/proc/{pid}/setgroups"), "deny").map_err(|e| format!("deny setgroups: {e}"))?;
            }
            return std::fs::write(format!("/proc/{pid}/{file}"), map).map_err(|e| e.to_string());
        }
    }
    let helper = if file == "gid_map" { "newgidmap" } else { "newuidmap" };
    let out = std::process::Command::new(helper)
        .arg(pid.to_string())
        .args(triples.iter().flatten().map(|n| n.to_string()))
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("run {helper} (the uidmap package): {e}"))?;
    if !out.status.success() {
        return Err(format!("{helper}: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subordinate_ranges_by_name_or_id() {
        let text = "alice:100000:65536\n# c\n1001:200000:1000\nbob:300000:0\n";
        assert_eq!(subordinate_range(text, "alice", 1000), Some((100000, 65536)));
        assert_eq!(subordinate_range(text, "carol", 1001), Some((200000, 1000)));
        assert_eq!(subordinate_range(text, "bob", 1002), None, "an empty range is no range");
        assert_eq!(subordinate_range(text, "dave", 1003), None);
    }

    #[test]
    fn a_namespace_is_reused_only_with_the_same_map() {
        let ranges = Mapping::Ranges { uids: (100000, 65536), gids: (100000, 65536) };
        let proc_map = "         0       1001          1\n         1     100000      65536\n";
        assert_eq!(map_lines(proc_map), ranges.uid_lines(1001));
        assert_ne!(map_lines(proc_map), Mapping::Single { why: String::new() }.uid_lines(1001));
        assert_ne!(map_lines(""), ranges.uid_lines(1001), "an unmapped namespace is not reused");
    }

    #[test]
    fn single_id_warning_names_the_fix() {
        let r = Rootless {
            uid: 1000,
            gid: 1000,
            user: "alice".into(),
            mapping: Mapping::Single { why: "no range for alice in /etc/subuid".into() },
            runtime_dir: "/tmp/x".into(),
        };
        let w = r.single_id_warning().unwrap();
        assert!(w.contains("usermod --add-subuids") && w.contains("alice") && w.contains("chown"), "{w}");
        assert_eq!(r.mapping.size(), 1);
        let r = Rootless { mapping: Mapping::Ranges { uids: (1, 5), gids: (1, 5) }, ..r };
        assert!(r.single_id_warning().is_none());
        assert_eq!(r.mapping.size(), 6);
    }
}
