//! Test fixtures: temporary directories laid out as the kernel lays out
//! cgroup filesystems, so the backends run without root (as youki's
//! libcgroups tests do).
//!
//! A plain directory is not a cgroup filesystem, and the fixture plays the
//! kernel's part where they differ:
//! - `mkdir` makes no control files: [`populate`](V1Tree::populate) writes
//!   those the kernel would make, with its defaults (on v2 only for the
//!   controllers the parent enabled in `cgroup.subtree_control`, as the
//!   kernel does);
//! - a write replaces a file's whole content, where the kernel takes one
//!   entry per write (`io.max`, `devices.allow`): [`Writes`] records every
//!   write in order;
//! - `rmdir` of a cgroup takes its control files with it, of a plain
//!   directory fails while they are there: [`unpopulate`] removes them (the
//!   kernel's part), and tests check the refusal before it;
//! - the kernel's answers (`freezer.state`, `cgroup.events`, an emptied
//!   `cgroup.procs` once a process dies) are written by the test.

use super::Layout;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// v1 control files of a hierarchy's controller, with the kernel's defaults.
fn v1_files(controller: &str) -> &'static [(&'static str, &'static str)] {
    match controller {
        "cpu" => &[
            ("cpu.shares", "1024"),
            ("cpu.cfs_period_us", "100000"),
            ("cpu.cfs_quota_us", "-1"),
            ("cpu.rt_period_us", "1000000"),
            ("cpu.rt_runtime_us", "0"),
            ("cpu.stat", "nr_periods 0\nnr_throttled 0\nthrottled_time 0\n"),
        ],
        "cpuacct" => &[("cpuacct.usage", "0"), ("cpuacct.stat", "user 0\nsystem 0\n")],
        // empty in a new cgroup: `V1::create` copies the parent's
        "cpuset" => &[],
        "memory" => &[
            ("memory.limit_in_bytes", "9223372036854771712"),
            ("memory.memsw.limit_in_bytes", "9223372036854771712"),
            ("memory.soft_limit_in_bytes", "9223372036854771712"),
            ("memory.kmem.limit_in_bytes", "9223372036854771712"),
            ("memory.kmem.tcp.limit_in_bytes", "9223372036854771712"),
            ("memory.swappiness", "60"),
            ("memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n"),
            ("memory.usage_in_bytes", "0"),
            ("memory.stat", "cache 0\nrss 0\n"),
        ],
        "pids" => &[("pids.max", "max"), ("pids.current", "0")],
        "blkio" => &[
            ("blkio.weight", "500"),
            ("blkio.weight_device", ""),
            ("blkio.leaf_weight", "500"),
            ("blkio.leaf_weight_device", ""),
            ("blkio.throttle.read_bps_device", ""),
            ("blkio.throttle.write_bps_device", ""),
            ("blkio.throttle.read_iops_device", ""),
            ("blkio.throttle.write_iops_device", ""),
        ],
        "devices" => &[("devices.list", "a *:* rwm\n"), ("devices.allow", ""), ("devices.deny", "")],
        "freezer" => &[("freezer.state", "THAWED")],
        "hugetlb" => &[("hugetlb.2MB.limit_in_bytes", "9223372036854771712"), ("hugetlb.2MB.usage_in_bytes", "0")],
        "net_cls" => &[("net_cls.classid", "0")],
        "net_prio" => &[("net_prio.ifpriomap", "lo 0\n")],
        _ => &[],
    }
}

/// v2 control files of a controller, with the kernel's defaults.
fn v2_files(controller: &str) -> &'static [(&'static str, &'static str)] {
    match controller {
        "cpu" => &[("cpu.weight", "100"), ("cpu.max", "max 100000"), ("cpu.max.burst", "0"), ("cpu.idle", "0")],
        "cpuset" => &[("cpuset.cpus", ""), ("cpuset.mems", "")],
        "io" => &[("io.weight", "default 100"), ("io.max", "")],
        "memory" => &[
            ("memory.max", "max"),
            ("memory.swap.max", "max"),
            ("memory.low", "0"),
            ("memory.high", "max"),
            ("memory.current", "0"),
            ("memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n"),
            ("memory.stat", "anon 0\nfile 0\n"),
        ],
        "pids" => &[("pids.max", "max"), ("pids.current", "0")],
        "hugetlb" => &[("hugetlb.2MB.max", "max"), ("hugetlb.2MB.rsvd.max", "max"), ("hugetlb.2MB.current", "0")],
        _ => &[],
    }
}

/// Core files of every v2 cgroup.
const V2_CORE: &[(&str, &str)] = &[
    ("cgroup.procs", ""),
    ("cgroup.threads", ""),
    ("cgroup.events", "populated 0\nfrozen 0\n"),
    ("cgroup.freeze", "0"),
    ("cgroup.kill", ""),
    ("cgroup.subtree_control", ""),
    ("cpu.stat", "usage_usec 0\nuser_usec 0\nsystem_usec 0\n"),
];

fn put(dir: &Path, files: &[(&str, &str)]) {
    for (f, v) in files {
        let p = dir.join(f);
        if !p.exists() {
            std::fs::write(&p, v).unwrap();
        }
    }
}

/// The content of a control file, trimmed.
pub fn cat(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.join(file).display()))
        .trim()
        .into()
}

/// Sets a control file as the kernel would answer it.
pub fn set(dir: &Path, file: &str, value: &str) {
    std::fs::write(dir.join(file), value).unwrap();
}

/// Removes the control files below `dir` (what the kernel's rmdir does), leaving the directories.
pub fn unpopulate(dir: &Path) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.file_type().unwrap().is_dir() {
            unpopulate(&e.path());
        } else {
            std::fs::remove_file(e.path()).unwrap();
        }
    }
}

/// A cgroup v2 filesystem: its root with `cgroup.controllers`.
pub struct V2Tree {
    _tmp: tempfile::TempDir,
    pub root: PathBuf,
    pub controllers: Vec<String>,
}

impl V2Tree {
    pub fn new(controllers: &[&str]) -> V2Tree {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("cgroup2");
        std::fs::create_dir(&root).unwrap();
        std::fs::write(root.join("cgroup.controllers"), controllers.join(" ")).unwrap();
        put(&root, V2_CORE);
        V2Tree { _tmp: tmp, root, controllers: controllers.iter().map(|c| c.to_string()).collect() }
    }

    pub fn layout(&self) -> Layout {
        Layout { v1: Vec::new(), v2: Some((self.root.clone(), self.controllers.clone())) }
    }

    /// Makes the control files of every directory from the root down to `dir`:
    /// the core ones, and those of the controllers each parent enabled.
    pub fn populate(&self, dir: &Path) {
        populate_v2(&self.root, dir);
    }
}

fn populate_v2(root: &Path, dir: &Path) {
    let rel = dir.strip_prefix(root).unwrap();
    let mut level = root.to_path_buf();
    for comp in rel.components() {
        let enabled = std::fs::read_to_string(level.join("cgroup.subtree_control")).unwrap_or_default();
        level.push(comp);
        put(&level, V2_CORE);
        let enabled: Vec<&str> = enabled.split_whitespace().map(|c| c.trim_start_matches('+')).collect();
        put(&level, &[("cgroup.controllers", &enabled.join(" "))]);
        for c in enabled {
            put(&level, v2_files(c));
        }
    }
}

/// A cgroup v1 layout: one mount per hierarchy, and a v2 mount on a hybrid host.
pub struct V1Tree {
    _tmp: tempfile::TempDir,
    pub layout: Layout,
}

impl V1Tree {
    /// Hierarchies by their controllers (`&["net_cls", "net_prio"]` is one
    /// mount with both), and the controllers of a v2 mount beside them.
    pub fn new(hierarchies: &[&[&str]], unified: Option<&[&str]>) -> V1Tree {
        let tmp = tempfile::tempdir().unwrap();
        let mut layout = Layout::default();
        for ctrls in hierarchies {
            let mount = tmp.path().join(ctrls.join(","));
            std::fs::create_dir(&mount).unwrap();
            put(&mount, &[("cgroup.procs", ""), ("tasks", "")]);
            for c in *ctrls {
                put(&mount, v1_files(c));
            }
            if ctrls.contains(&"cpuset") {
                put(&mount, &[("cpuset.cpus", "0-3"), ("cpuset.mems", "0")]);
            }
            layout.v1.push((ctrls.iter().map(|c| c.to_string()).collect(), mount));
        }
        if let Some(ctrls) = unified {
            let root = tmp.path().join("unified");
            std::fs::create_dir(&root).unwrap();
            std::fs::write(root.join("cgroup.controllers"), ctrls.join(" ")).unwrap();
            put(&root, V2_CORE);
            layout.v2 = Some((root, ctrls.iter().map(|c| c.to_string()).collect()));
        }
        V1Tree { _tmp: tmp, layout }
    }

    /// Every hierarchy rrun knows, each a mount of its own, net_cls and net_prio together.
    pub fn all() -> V1Tree {
        V1Tree::new(
            &[
                &["cpu", "cpuacct"],
                &["cpuset"],
                &["memory"],
                &["pids"],
                &["blkio"],
                &["devices"],
                &["freezer"],
                &["hugetlb"],
                &["net_cls", "net_prio"],
                &["name=systemd"],
            ],
            None,
        )
    }

    /// The mount of the hierarchy holding `controller`.
    pub fn mount(&self, controller: &str) -> &Path {
        &self.layout.v1.iter().find(|(c, _)| c.iter().any(|x| x == controller)).unwrap().1
    }

    /// Makes the control files of the cgroup directories `dirs` (and of
    /// every level above them) as the kernel does on mkdir.
    pub fn populate(&self, dirs: &[PathBuf]) {
        for d in dirs {
            if let Some((root, _)) = self.layout.v2.as_ref().filter(|(r, _)| d.starts_with(r)) {
                populate_v2(root, d);
                continue;
            }
            let (ctrls, mount) = self.layout.v1.iter().find(|(_, m)| d.starts_with(m)).unwrap();
            let mut level = mount.clone();
            for comp in d.strip_prefix(mount).unwrap().components() {
                level.push(comp);
                put(&level, &[("cgroup.procs", ""), ("tasks", "")]);
                for c in ctrls {
                    put(&level, v1_files(c));
                }
            }
        }
    }
}

/// Every control-file write the backends make while it is alive on this
/// thread, in order: (file name, value). Reads the `cgroup_write` and
/// `cgroup_controllers` steps each write emits.
pub struct Writes {
    log: Arc<Mutex<Vec<(PathBuf, String)>>>,
    _guard: tracing::subscriber::DefaultGuard,
}

impl Writes {
    pub fn record() -> Writes {
        use tracing_subscriber::layer::SubscriberExt;
        let log = Arc::new(Mutex::new(Vec::new()));
        let subscriber = tracing_subscriber::registry().with(Recorder(log.clone()));
        Writes { log, _guard: tracing::subscriber::set_default(subscriber) }
    }

    /// The values written to `file` in `dir`, in order.
    pub fn to(&self, dir: &Path, file: &str) -> Vec<String> {
        let path = dir.join(file);
        self.log.lock().unwrap().iter().filter(|(p, _)| *p == path).map(|(_, v)| v.clone()).collect()
    }

    /// The files written, in order.
    pub fn files(&self) -> Vec<PathBuf> {
        self.log.lock().unwrap().iter().map(|(p, _)| p.clone()).collect()
    }
}

struct Recorder(Arc<Mutex<Vec<(PathBuf, String)>>>);

#[derive(Default)]
struct Fields {
    step: String,
    path: String,
    value: String,
}

impl tracing::field::Visit for Fields {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.record_debug(field, &format_args!("{value}"));
    }
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        let v = format!("{value:?}");
        match field.name() {
            "step" => self.step = v,
            "path" => self.path = v,
            "value" => self.value = v,
            _ => {}
        }
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Recorder {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        let mut f = Fields::default();
        event.record(&mut f);
        if f.step == "cgroup_write" || f.step == "cgroup_controllers" || f.step == "cgroup_join" {
            self.0.lock().unwrap().push((PathBuf::from(f.path), f.value));
        }
    }
}

/// A child process listed in fixture `cgroup.procs` files, as if it lived
/// in the cgroup: once it dies (a zombie, its PID not reusable until
/// reaped), a watcher empties the files, as the kernel drops a dead
/// process from its cgroup.
pub struct Child {
    child: Option<std::process::Child>,
}

impl Child {
    pub fn spawn(procs: &[PathBuf]) -> Child {
        let child = std::process::Command::new("sleep").arg("60").spawn().expect("spawn sleep");
        let pid = child.id();
        for f in procs {
            std::fs::write(f, format!("{pid}\n")).unwrap();
        }
        let procs = procs.to_vec();
        std::thread::spawn(move || {
            let stat = format!("/proc/{pid}/stat");
            loop {
                let s = std::fs::read_to_string(&stat).unwrap_or_default();
                // "PID (comm) STATE …"
                let state = s.rsplit_once(") ").and_then(|(_, r)| r.chars().next());
                if state.is_none_or(|c| c == 'Z' || c == 'X') {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            for f in procs {
                let _ = std::fs::write(f, "");
            }
        });
        Child { child: Some(child) }
    }

    pub fn pid(&self) -> i32 {
        self.child.as_ref().unwrap().id() as i32
    }

    /// Waits for it: the signal that ended it.
    pub fn reap(mut self) -> Option<i32> {
        use std::os::unix::process::ExitStatusExt;
        self.child.take().unwrap().wait().unwrap().signal()
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
