//! Control groups: one trait, two backends.
//!
//! The layout is read from `/proc/self/mountinfo`: pure v2 (a `cgroup2` mount
//! with controllers), pure v1, or hybrid (v1 controllers plus a v2 mount that
//! may own some, as on Debian with systemd's hybrid mode). Each controller is
//! driven where it is mounted; a limit whose controller is mounted nowhere is
//! an error, never silently dropped.
//!
//! v1 cgroups are created below the calling process's own cgroup in each
//! hierarchy (so a session's limits keep applying); v2 cgroups below the root
//! at `rrun/<id>` (v2 forbids enabling controllers under a cgroup that holds
//! processes). The directories are recorded with the container, so any later
//! rrun process finds them again.

pub mod bpf;
mod devices;
#[cfg(test)]
mod fixture;
pub mod none;
pub mod resctrl;
mod v1;
mod v2;

use oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

crate::steps! {
    CGROUP_CREATE: "cgroup_create" in Cgroups, syscall "mkdir", source "src/cgroups/v1.rs, src/cgroups/v2.rs",
        what "Create the container's cgroup",
        why "A cgroup is a directory in a cgroup filesystem: the processes listed in it share its limits and its accounting, and every child they fork stays in it. On cgroup v1 each controller (memory, cpu, pids, devices…) is a hierarchy of its own, so the container gets one directory in each; on v2 one directory holds them all.";
    CGROUP_CONTROLLERS: "cgroup_controllers" in Cgroups, syscall "write cgroup.subtree_control", source "src/cgroups/v2.rs",
        what "Enable controllers for the cgroups below",
        why "On cgroup v2 a controller works in a cgroup only if its parent enabled it for its children (+memory +cpu +pids…), level by level from the root.";
    CGROUP_WRITE: "cgroup_write" in Cgroups, syscall "write", source "src/cgroups/mod.rs, src/cgroups/v1.rs, src/cgroups/v2.rs",
        what "Write a cgroup control file",
        why "Limits are plain writes of control files (memory.limit_in_bytes or memory.max, cpu.cfs_quota_us or cpu.max, pids.max, devices.deny…): the kernel enforces them on every process of the cgroup, and nothing inside can raise them.";
    DEVICE_PROGRAM: "device_program" in Cgroups, syscall "bpf(BPF_PROG_LOAD) + bpf(BPF_PROG_ATTACH)", source "src/cgroups/bpf.rs",
        what "Attach the device access program",
        why "cgroup v2 has no devices.allow file: which device nodes may be opened is decided by a small BPF program, compiled from the device rules (deny everything, allow the standard nodes) and attached to the cgroup.";
    CGROUP_JOIN: "cgroup_join" in Cgroups, syscall "write tasks, cgroup.procs", source "src/cgroups/v1.rs, src/cgroups/v2.rs",
        what "Move the new process into the container's cgroup",
        why "\"0\" means the writing process itself: the process moves itself before it runs anything, so everything it forks is counted and limited. Done from inside, the move skips the global lock a move from outside waits on (an RCU grace period, 5–20 ms on cgroup v1).";
    CGROUP_KILL: "cgroup_kill" in Cleanup, syscall "kill(SIGKILL) / write cgroup.kill", source "src/cgroups/v1.rs, src/cgroups/v2.rs",
        what "Kill every process left in the cgroup",
        why "The cgroup is the reliable list of everything the container started, double-forked daemons included: whatever is left when its init ends is killed (frozen first on v1, so nothing can fork meanwhile).";
    CGROUP_DELETE: "cgroup_delete" in Cleanup, syscall "rmdir", source "src/cgroups/v1.rs, src/cgroups/v2.rs, src/cgroups/mod.rs",
        what "Remove the container's cgroup",
        why "An empty cgroup is removed with rmdir(2), its control files with it; one that still held a process could not be.";
}

/// Why a cgroup cannot be made, limited or read; a limit that cannot be
/// applied is an error, never silently dropped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CgroupError {
    /// Reading or writing a cgroup file or directory failed.
    #[error("cgroup {path}: {op}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operation that failed.
        op: &'static str,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A limit needs a controller this host does not mount.
    #[error("cannot apply {what}: the {controller} cgroup controller is not available on this host")]
    NoController {
        /// The limit (`--memory`, …).
        what: String,
        /// The cgroup controller.
        controller: &'static str,
    },
    /// A limit's value is out of the kernel's range.
    #[error("invalid cgroup setting {what}: {reason}")]
    Invalid {
        /// The setting.
        what: String,
        /// What is wrong, or why it failed.
        reason: String,
    },
    /// No cgroup filesystem is mounted at all.
    #[error("no cgroup filesystem is mounted")]
    NotMounted,
    /// Rootless, and the host delegates no cgroup to the user.
    #[error("resource limits need cgroup v2 delegation: {what} cannot be applied without root: {why}")]
    NoDelegation {
        /// The limit (`--memory`, …).
        what: String,
        /// Why there is no delegated cgroup.
        why: String,
    },
    /// A weight (`--cpu-shares`, `--blkio-weight`) whose file this host's controller lacks.
    #[error("{what}: this host's {controller} cgroup has no weight file ({files}): {reason}")]
    MissingFile {
        /// The limit.
        what: String,
        /// The cgroup controller.
        controller: &'static str,
        /// The files looked for.
        files: &'static str,
        /// Why it cannot be converted.
        reason: &'static str,
    },
}

pub(crate) fn io(path: &Path, op: &'static str) -> impl FnOnce(std::io::Error) -> CgroupError {
    let path = path.to_path_buf();
    move |source| CgroupError::Io { path, op, source }
}

/// Where cgroups live on this host.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    /// v1 hierarchies: (controllers, mount point).
    pub v1: Vec<(Vec<String>, PathBuf)>,
    /// The cgroup2 mount and the controllers it owns.
    pub v2: Option<(PathBuf, Vec<String>)>,
}

impl Layout {
    /// Reads the layout of the calling process's mount namespace.
    pub fn detect() -> Result<Layout, CgroupError> {
        let info =
            std::fs::read_to_string("/proc/self/mountinfo").map_err(io(Path::new("/proc/self/mountinfo"), "read"))?;
        Ok(Layout::parse(&info, |p| std::fs::read_to_string(p.join("cgroup.controllers")).ok()))
    }

    fn parse(mountinfo: &str, controllers_of: impl Fn(&Path) -> Option<String>) -> Layout {
        let mut layout = Layout::default();
        for line in mountinfo.lines() {
            let Some((left, right)) = line.split_once(" - ") else { continue };
            let mount_point = left.split(' ').nth(4).unwrap_or("");
            let mut r = right.split(' ');
            let fstype = r.next().unwrap_or("");
            let _source = r.next();
            let options = r.next().unwrap_or("");
            match fstype {
                "cgroup2" => {
                    let mp = PathBuf::from(mount_point);
                    let ctrls = controllers_of(&mp).unwrap_or_default().split_whitespace().map(String::from).collect();
                    layout.v2 = Some((mp, ctrls));
                }
                "cgroup" => {
                    // every hierarchy, named ones (name=systemd) too: a container is put in all, as runc does
                    let ctrls: Vec<String> = options
                        .split(',')
                        .filter(|o| KNOWN_V1.contains(o) || o.starts_with("name=") || EXTRA_V1.contains(o))
                        .map(String::from)
                        .collect();
                    if !ctrls.is_empty() {
                        layout.v1.push((ctrls, PathBuf::from(mount_point)));
                    }
                }
                _ => {}
            }
        }
        layout
    }

    /// True when the v2 hierarchy should be used: it owns the memory, pids or cpu controller.
    pub fn is_unified(&self) -> bool {
        self.v2.as_ref().is_some_and(|(_, c)| c.iter().any(|x| x == "memory" || x == "pids" || x == "cpu"))
            || (self.v1.is_empty() && self.v2.is_some())
    }

    pub fn describe(&self) -> &'static str {
        match (self.v1.is_empty(), &self.v2) {
            (true, Some(_)) => "v2",
            (false, Some(_)) => "hybrid",
            (false, None) => "v1",
            (true, None) => "none",
        }
    }
}

/// v1 controllers rrun sets no limits with, but puts containers in.
const EXTRA_V1: [&str; 5] = ["net_prio", "perf_event", "rdma", "misc", "debug"];

const KNOWN_V1: [&str; 10] =
    ["cpu", "cpuacct", "cpuset", "memory", "pids", "freezer", "devices", "blkio", "hugetlb", "net_cls"];

/// Counters read from a container's cgroup.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Stats {
    /// CPU time used by all processes, nanoseconds.
    pub cpu_usage_ns: u64,
    pub memory_usage: u64,
    /// `None` when unlimited.
    pub memory_limit: Option<u64>,
    pub pids: u64,
    pub oom_kills: u64,
}

/// What every backend can do with one container's cgroup.
pub trait Cgroup: std::fmt::Debug {
    /// The directories this cgroup occupies (recorded with the container).
    fn dirs(&self) -> Vec<PathBuf>;
    /// Moves a process (and its future children) into the cgroup (rrun's
    /// own processes join with `join_self`; the fixtures' tests use this).
    #[cfg(test)]
    fn add_process(&self, pid: i32) -> Result<(), CgroupError>;
    /// Moves the calling process, single-threaded and just forked, into the
    /// cgroup. Cheaper than adding a process from outside: on v1, a
    /// thread moving itself (`0` into `tasks`) skips the global threadgroup
    /// lock, whose RCU grace period costs 5–20 ms per container start.
    fn join_self(&self) -> Result<(), CgroupError>;
    /// A descriptor of the cgroup for `clone3(CLONE_INTO_CGROUP)`, which
    /// starts a child directly inside it (v2 only).
    fn clone_into(&self) -> Option<std::os::fd::OwnedFd> {
        None
    }
    /// Applies limits; an unsupported one is an error.
    fn apply(&self, resources: &LinuxResources) -> Result<(), CgroupError>;
    fn freeze(&self) -> Result<(), CgroupError>;
    fn thaw(&self) -> Result<(), CgroupError>;
    fn is_frozen(&self) -> bool;
    /// Process IDs in the cgroup.
    fn pids(&self) -> Vec<i32>;
    /// SIGKILLs every process in the cgroup and waits until it is empty.
    fn kill_all(&self) -> Result<(), CgroupError>;
    fn stats(&self) -> Result<Stats, CgroupError>;
    /// Removes the cgroup (after `kill_all`).
    fn delete(&self) -> Result<(), CgroupError>;
}

/// Checks limits the kernel would refuse with a bare EINVAL, so the error names
/// the setting and its range instead of a control file (both backends call it first).
pub fn validate(r: &LinuxResources) -> Result<(), CgroupError> {
    let bad = |what: &str, value: &dyn std::fmt::Display, reason: &str| {
        Err(CgroupError::Invalid { what: format!("{what} {value}"), reason: reason.to_string() })
    };
    if let Some(m) = r.memory() {
        for (what, v) in
            [("memory.limit", m.limit()), ("memory.swap", m.swap()), ("memory.reservation", m.reservation())]
        {
            if let Some(v) = v.filter(|v| *v < -1) {
                return bad(what, &v, "must be -1 (unlimited) or a number of bytes");
            }
        }
    }
    if let Some(c) = r.cpu() {
        if let Some(q) = c.quota().filter(|q| *q != -1 && *q < 1000) {
            return bad("cpu.quota", &q, "must be -1 (unlimited) or at least 1000 microseconds");
        }
        if let Some(p) = c.period().filter(|p| !(1000..=1_000_000).contains(p)) {
            return bad("cpu.period", &p, "must be between 1000 and 1000000 microseconds");
        }
    }
    if let Some(w) = r.block_io().as_ref().and_then(|b| b.weight()).filter(|w| *w != 0 && !(10..=1000).contains(w)) {
        return bad("blockIO.weight", &w, "must be between 10 and 1000 (0: unset)");
    }
    Ok(())
}

/// The parent of every container cgroup [`plan`] places: `rrun`.
pub const PARENT: &str = "rrun";

/// Creates a cgroup at an OCI `cgroupsPath`: an absolute path is taken from
/// each hierarchy's root; a relative one from rrun's own cgroup on v1, and
/// from the root on v2 (where a cgroup holding rrun cannot have children
/// with controllers).
pub fn create_at(path: &str) -> Result<Box<dyn Cgroup>, CgroupError> {
    plan_at(path)?.create()
}

/// A cgroup decided but not made yet: its directories can be recorded first
/// (a record names them before they exist, so a crash never leaves one unnamed).
#[derive(Debug, Clone)]
pub struct Planned {
    /// Rootless without a delegated cgroup: no cgroup at all.
    none: bool,
    layout: Layout,
    rel: PathBuf,
    absolute: bool,
    dirs: Vec<PathBuf>,
    /// Rootless with a delegated cgroup v2 subtree: the cgroup is made below it.
    base: Option<PathBuf>,
}

impl Planned {
    /// The directories [`Planned::create`] makes.
    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// Makes the cgroup.
    pub fn create(self) -> Result<Box<dyn Cgroup>, CgroupError> {
        if self.none {
            return Ok(Box::new(none::NoCgroup { why: why_not(&self.layout) }));
        }
        if let Some(base) = &self.base {
            let available = read(base, "cgroup.controllers").unwrap_or_default();
            let available: Vec<String> = available.split_whitespace().map(String::from).collect();
            return Ok(Box::new(v2::V2::create_below(base, &available, &self.rel, &v2::WANTED)?));
        }
        if self.layout.is_unified() {
            let (root, ctrls) = self.layout.v2.clone().ok_or(CgroupError::NotMounted)?;
            Ok(Box::new(v2::V2::create(&root, &ctrls, &self.rel)?))
        } else {
            Ok(Box::new(v1::V1::create(&self.layout, &self.rel, self.absolute)?))
        }
    }
}

/// Where container `id`'s cgroup goes on this host's layout (`rrun/<id>`), without making it.
pub fn plan(id: &str) -> Result<Planned, CgroupError> {
    plan_at(&format!("{PARENT}/{id}"))
}

/// Where `create_at(path)` would make a cgroup, without making it.
pub fn plan_at(path: &str) -> Result<Planned, CgroupError> {
    let rel = Path::new(path.trim_start_matches('/'));
    if rel.as_os_str().is_empty() || rel.components().any(|c| !matches!(c, std::path::Component::Normal(_))) {
        return Err(CgroupError::Invalid {
            what: format!("cgroupsPath {path:?}"),
            reason: "expected a path of plain names".into(),
        });
    }
    let absolute = path.starts_with('/');
    let layout = Layout::detect()?;
    tracing::debug!(layout = layout.describe(), path, "cgroup layout");
    if crate::rootless::active().is_some() || !nix::unistd::Uid::effective().is_root() {
        // an ordinary user's rrun makes its containers' cgroups below a cgroup v2 subtree delegated to
        // the user; without one (or as the OCI runtime called by the user) no cgroup: limits are refused
        if crate::rootless::active().is_some() && !absolute {
            if let Ok(base) = delegated(&layout) {
                let dirs = vec![base.join(rel)];
                return Ok(Planned { none: false, layout, rel: rel.to_path_buf(), absolute, dirs, base: Some(base) });
            }
        }
        return Ok(Planned { none: true, layout, rel: rel.to_path_buf(), absolute, dirs: Vec::new(), base: None });
    }
    let dirs = if layout.is_unified() {
        let (root, _) = layout.v2.as_ref().ok_or(CgroupError::NotMounted)?;
        vec![root.join(rel)]
    } else if !layout.v1.is_empty() {
        // every v1 hierarchy, and on a hybrid host the v2 one too (as `create` makes them)
        let mut dirs: Vec<PathBuf> = v1::V1::dirs_for(&layout, rel, absolute).into_iter().map(|(_, d)| d).collect();
        dirs.extend(v1::V1::unified_dir_for(&layout, rel, absolute));
        dirs
    } else {
        return Err(CgroupError::NotMounted);
    };
    Ok(Planned { none: false, layout, rel: rel.to_path_buf(), absolute, dirs, base: None })
}

/// The cgroup v2 subtree delegated to the calling user, where an ordinary
/// user's containers get their cgroups: the topmost directory on the way up
/// from this process's own cgroup (`/proc/self/cgroup`) that the user owns
/// with its `cgroup.procs` and `cgroup.subtree_control` — as systemd
/// delegates `user@UID.service`, or as root does by hand (mkdir + chown of
/// the directory, `cgroup.procs`, `cgroup.subtree_control`,
/// `cgroup.threads`). Else why there is none, with the fix.
pub fn delegated(layout: &Layout) -> Result<PathBuf, String> {
    let (root, _) = match (&layout.v2, layout.v1.is_empty()) {
        (Some(v2), true) => v2,
        _ => return Err(none::why(layout.describe())),
    };
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let own = own.lines().find_map(|l| l.strip_prefix("0::")).unwrap_or("/").trim().to_string();
    delegated_from(root, &own, nix::unistd::geteuid().as_raw(), |p| {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(p).ok().map(|m| m.uid())
    })
}

/// [`delegated`] with the cgroup root, the process's own cgroup, the user
/// (as this process sees ids) and the owner of a path given.
fn delegated_from(root: &Path, own: &str, uid: u32, owner: impl Fn(&Path) -> Option<u32>) -> Result<PathBuf, String> {
    let own_dir = root.join(own.trim_start_matches('/'));
    let mine = |d: &Path| ["", "cgroup.procs", "cgroup.subtree_control"].iter().all(|f| owner(&d.join(f)) == Some(uid));
    let mut found = None;
    let mut dir = own_dir.clone();
    while dir != root && dir.starts_with(root) && mine(&dir) {
        found = Some(dir.clone());
        dir = match dir.parent() {
            Some(p) => p.to_path_buf(),
            None => break,
        };
    }
    let no = |what: String| {
        Err(format!(
            "{what}; as root, delegate a directory to the user (mkdir, then chown it and its cgroup.procs, \
             cgroup.subtree_control and cgroup.threads, as systemd's Delegate=yes does) and start rrun in a cgroup \
             below it"
        ))
    };
    match found {
        None => no(format!("rrun runs in cgroup {own}, which the user does not own (no delegated cgroup v2 subtree)")),
        Some(d) if d == own_dir => no(format!(
            "rrun runs in the delegated cgroup {} itself, whose controllers cgroup v2 cannot hand down while it \
             holds processes",
            d.display()
        )),
        Some(d) => Ok(d),
    }
}

/// Why an ordinary user's container gets no cgroup on this layout.
pub fn why_not(layout: &Layout) -> String {
    delegated(layout).err().unwrap_or_else(|| none::why(layout.describe()))
}

/// The cgroups below rrun's parent cgroup (`rrun/`, where `create` makes
/// containers' cgroups for this process) in every hierarchy, by name: each
/// name with its directories. Used to find cgroups that no record names.
pub fn children_of_parent() -> Vec<(String, Vec<PathBuf>)> {
    let Ok(layout) = Layout::detect() else { return Vec::new() };
    let parents: Vec<PathBuf> = if layout.is_unified() {
        layout.v2.iter().map(|(root, _)| root.join(PARENT)).collect()
    } else {
        let parent = Path::new(PARENT);
        let mut dirs: Vec<PathBuf> = v1::V1::dirs_for(&layout, parent, false).into_iter().map(|(_, d)| d).collect();
        dirs.extend(v1::V1::unified_dir_for(&layout, parent, false));
        dirs
    };
    let mut out: std::collections::BTreeMap<String, Vec<PathBuf>> = Default::default();
    for parent in parents {
        let Ok(entries) = std::fs::read_dir(&parent) else { continue };
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                out.entry(e.file_name().to_string_lossy().into_owned()).or_default().push(e.path());
            }
        }
    }
    out.into_iter().collect()
}

/// Re-opens a container's cgroup from the directories recorded at creation.
pub fn open(dirs: &[PathBuf]) -> Option<Box<dyn Cgroup>> {
    open_with(dirs, || Layout::detect().unwrap_or_default())
}

/// [`open`], with the layout (needed for v1 only, where each directory's
/// controllers are those of the mount it lies in) read only when needed.
fn open_with(dirs: &[PathBuf], layout: impl FnOnce() -> Layout) -> Option<Box<dyn Cgroup>> {
    let first = dirs.first()?;
    if first.join("cgroup.controllers").exists()
        || (first.join("cgroup.procs").exists() && !first.join("tasks").exists())
    {
        Some(Box::new(v2::V2::open(first)))
    } else {
        Some(Box::new(v1::V1::open_in(&layout(), dirs)))
    }
}

/// Docker's `--blkio-weight` (10..1000) on cgroup v2's `io.weight` scale (1..10000), as runc converts it.
pub fn blkio_to_io_weight(w: u16) -> u64 {
    1 + (u64::from(w).saturating_sub(10)) * 9999 / 990
}

/// The controllers of the hierarchy a cgroup directory lies in: a v1
/// mount's, or for a v2 directory those it may use.
pub fn hierarchy_controllers(dir: &Path) -> Vec<String> {
    if let Some(c) = read(dir, "cgroup.controllers") {
        return c.split_whitespace().map(String::from).collect();
    }
    Layout::detect()
        .unwrap_or_default()
        .v1
        .into_iter()
        .filter(|(_, m)| dir.starts_with(m))
        .max_by_key(|(_, m)| m.as_os_str().len())
        .map(|(c, _)| c)
        .unwrap_or_default()
}

/// Writes a control file, with the path and value in the error.
pub(crate) fn write(dir: &Path, file: &str, value: &str) -> Result<(), CgroupError> {
    write_as(&CGROUP_WRITE, dir, file, value)
}

/// [`write`](fn@write), narrated as `step`.
pub(crate) fn write_as(step: &crate::steps::Step, dir: &Path, file: &str, value: &str) -> Result<(), CgroupError> {
    let path = dir.join(file);
    crate::step!(step, path = %path.display(), value);
    std::fs::write(&path, value).map_err(|source| CgroupError::Io { path, op: "write", source })
}

pub(crate) fn read(dir: &Path, file: &str) -> Option<String> {
    std::fs::read_to_string(dir.join(file)).ok().map(|s| s.trim().to_string())
}

pub(crate) fn read_pids(file: &Path) -> Vec<i32> {
    std::fs::read_to_string(file).unwrap_or_default().lines().filter_map(|l| l.trim().parse().ok()).collect()
}

/// The cgroups directly below `dir`. A cgroup filesystem counts them in the
/// directory's link count (2 + subdirectories): one stat spares listing
/// every control file when there are none, the usual case.
fn sub_cgroups(dir: &Path) -> Vec<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    if std::fs::metadata(dir).is_ok_and(|m| m.nlink() <= 2) {
        return Vec::new();
    }
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect()
}

/// The processes of a cgroup and of every cgroup below it.
pub(crate) fn read_pids_tree(dir: &Path) -> Vec<i32> {
    let mut pids = read_pids(&dir.join("cgroup.procs"));
    for sub in sub_cgroups(dir) {
        pids.extend(read_pids_tree(&sub));
    }
    pids
}

/// Removes a cgroup and every cgroup below it (made by `exec --cgroup` users
/// or the container itself), the deepest first.
pub(crate) fn rmdir_tree(dir: &Path) -> Result<(), CgroupError> {
    for sub in sub_cgroups(dir) {
        rmdir_tree(&sub)?;
    }
    rmdir(dir)
}

/// Removes a cgroup directory, retrying briefly while the kernel releases it.
pub(crate) fn rmdir(dir: &Path) -> Result<(), CgroupError> {
    for _ in 0..100 {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => std::thread::sleep(std::time::Duration::from_millis(10)),
            Err(source) => return Err(CgroupError::Io { path: dir.to_path_buf(), op: "rmdir", source }),
        }
    }
    Err(CgroupError::Io {
        path: dir.to_path_buf(),
        op: "rmdir",
        source: std::io::Error::from_raw_os_error(libc::EBUSY),
    })
}

/// Kills until `pids()` is empty (processes may fork while we kill).
pub(crate) fn kill_until_empty(cg: &dyn Cgroup) {
    for _ in 0..500 {
        let pids = cg.pids();
        if pids.is_empty() {
            return;
        }
        for p in pids {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(p), nix::sys::signal::Signal::SIGKILL);
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// `--cpus 0.5` → (quota, period) in µs.
pub fn cpus_to_quota(cpus: f64) -> (i64, u64) {
    let period = 100_000u64;
    ((cpus * period as f64).round() as i64, period)
}

/// v1 `cpu.shares` (2..262144) → v2 `cpu.weight` (1..10000), as runc converts.
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 100;
    }
    1 + ((shares.clamp(2, 262_144) - 2) * 9999) / 262_142
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delegated_subtree_is_the_topmost_the_user_owns() {
        let root = Path::new("/sys/fs/cgroup");
        // the user owns /deleg and below (with its files); the process is in /deleg/shell
        let owner = |p: &Path| Some(if p.starts_with("/sys/fs/cgroup/deleg") { 1000 } else { 0 });
        assert_eq!(delegated_from(root, "/deleg/shell", 1000, owner).unwrap(), root.join("deleg"));
        // systemd: user@1000.service is delegated, the process in a scope below it
        let sd = |p: &Path| {
            Some(if p.starts_with("/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service") { 1000 } else { 0 })
        };
        let own = "/user.slice/user-1000.slice/user@1000.service/app.slice/run-x.scope";
        assert_eq!(
            delegated_from(root, own, 1000, sd).unwrap(),
            root.join("user.slice/user-1000.slice/user@1000.service")
        );
        // a login session's scope is root's: none
        let e = delegated_from(root, "/user.slice/user-1000.slice/session-1.scope", 1000, sd).unwrap_err();
        assert!(e.contains("does not own") && e.contains("chown"), "{e}");
        // in the delegated directory itself: its controllers cannot go down
        let e = delegated_from(root, "/deleg", 1000, owner).unwrap_err();
        assert!(e.contains("itself"), "{e}");
        // a directory the user owns whose cgroup.procs is root's is not delegated
        let half =
            |p: &Path| Some(if p.starts_with("/sys/fs/cgroup/d") && !p.ends_with("cgroup.procs") { 1000 } else { 0 });
        assert!(delegated_from(root, "/d/x", 1000, half).is_err());
    }

    #[test]
    fn limits_the_kernel_would_refuse_are_named() {
        let res = |json: &str| -> LinuxResources { serde_json::from_str(json).unwrap() };
        for (json, named) in [
            (r#"{"memory":{"limit":-5}}"#, "memory.limit -5"),
            (r#"{"memory":{"limit":67108864,"swap":-2}}"#, "memory.swap -2"),
            (r#"{"cpu":{"quota":10}}"#, "cpu.quota 10"),
            (r#"{"cpu":{"period":10}}"#, "cpu.period 10"),
            (r#"{"blockIO":{"weight":5}}"#, "blockIO.weight 5"),
        ] {
            let e = validate(&res(json)).unwrap_err().to_string();
            assert!(e.contains(named), "{json}: {e}");
        }
        for json in [
            r#"{"memory":{"limit":-1,"swap":-1}}"#,
            r#"{"cpu":{"quota":-1,"period":100000}}"#,
            r#"{"blockIO":{"weight":0}}"#,
        ] {
            assert!(validate(&res(json)).is_ok(), "{json}");
        }
    }

    #[test]
    fn blkio_weights_convert_to_io_weights() {
        assert_eq!(blkio_to_io_weight(10), 1);
        assert_eq!(blkio_to_io_weight(500), 4950);
        assert_eq!(blkio_to_io_weight(1000), 10000);
    }

    #[test]
    fn a_plan_creates_on_its_layout() {
        let planned = |layout: Layout, dirs: Vec<PathBuf>| Planned {
            none: false,
            layout,
            rel: PathBuf::from("rrun/c1"),
            absolute: true,
            dirs,
            base: None,
        };
        // v2: one directory, the controllers enabled above it
        let v2 = fixture::V2Tree::new(&["memory", "pids"]);
        let cg = planned(v2.layout(), vec![v2.root.join("rrun/c1")]).create().unwrap();
        assert_eq!(cg.dirs(), vec![v2.root.join("rrun/c1")]);
        assert_eq!(fixture::cat(&v2.root, "cgroup.subtree_control"), "+memory +pids");
        // v1: one per hierarchy
        let v1 = fixture::V1Tree::new(&[&["memory"], &["pids"]], None);
        let cg = planned(v1.layout.clone(), Vec::new()).create().unwrap();
        assert_eq!(cg.dirs(), vec![v1.mount("memory").join("rrun/c1"), v1.mount("pids").join("rrun/c1")]);
        assert!(cg.dirs().iter().all(|d| d.is_dir()));
        // no cgroup at all (rootless, nothing delegated): a limit is refused, nothing made
        let cg = Planned { none: true, ..planned(v1.layout.clone(), Vec::new()) }.create().unwrap();
        assert!(cg.dirs().is_empty());
        let r: LinuxResources = serde_json::from_str(r#"{"pids":{"limit":5}}"#).unwrap();
        assert!(matches!(cg.apply(&r), Err(CgroupError::NoDelegation { .. })));
    }

    const HYBRID: &str = "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn hybrid_layout_uses_v1_unless_v2_owns_the_main_controllers() {
        let l = Layout::parse(HYBRID, |_| Some("hugetlb".into()));
        assert_eq!(l.describe(), "hybrid");
        assert!(!l.is_unified());
        assert_eq!(l.v1.len(), 4, "name=systemd is a hierarchy too");
        let l = Layout::parse(HYBRID, |_| Some("memory pids".into()));
        assert!(l.is_unified());
    }

    #[test]
    fn pure_v2() {
        let l = Layout::parse("25 1 0:22 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n", |_| {
            Some("cpuset cpu memory pids".into())
        });
        assert_eq!(l.describe(), "v2");
        assert!(l.is_unified());
    }

    #[test]
    fn conversions() {
        assert_eq!(cpus_to_quota(0.5), (50_000, 100_000));
        assert_eq!(cpus_to_quota(1.5), (150_000, 100_000));
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(262_144), 10_000);
    }
}
