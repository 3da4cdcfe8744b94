//! rrun's runc-compatible CLI beside the reference runtimes: the same bundle
//! (the busybox fixture's rootfs, one `config.json` variation per row) is run
//! by `rrun`, `crun` and `runc`, and what the container printed is compared,
//! exactly or after a normalisation named in the row. Each row also checks
//! rrun's output against what the Spec asks for, so a row fails even where
//! no reference runtime is installed.
//!
//! Host notes (Debian 12, runc 1.1.5, crun 1.8.1, cgroup v1 "hybrid"):
//! * crun 1.8.1 refuses a hybrid cgroup layout whose v2 mount owns a
//!   controller: it runs in `unshare -m --propagation slave` with
//!   `/sys/fs/cgroup/unified` unmounted there (slave rather than private, so
//!   that its view of mount propagation is the host's, as rrun's and runc's).
//!   rrun and runc run as they are, except in rows with a host-side
//!   `prelude` (mounts only a test needs), which all three run in such a
//!   namespace so that the host's mount table is never touched.
//! * A reference runtime that lacks a feature, or differs from the
//!   runtime-spec, is left out of that row with the reason (`skip`); rrun is
//!   never left out.
//! * Root lacks CAP_SYS_RESOURCE here: no hard rlimit above the current one,
//!   no negative oomScoreAdj.

mod common;
use common::*;
use serde_json::{json, Value};
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Rt {
    Rrun,
    Crun,
    Runc,
}

impl Rt {
    fn name(self) -> &'static str {
        match self {
            Rt::Rrun => "rrun",
            Rt::Crun => "crun",
            Rt::Runc => "runc",
        }
    }

    /// rrun always; crun and runc when installed.
    fn available(self) -> bool {
        static CRUN: OnceLock<bool> = OnceLock::new();
        static RUNC: OnceLock<bool> = OnceLock::new();
        let probe = |name: &str| {
            let ok = Command::new(name).arg("--version").output().is_ok_and(|o| o.status.success());
            if !ok {
                // rows still run rrun against what the Spec asks for; in CI the comparison must happen
                skip(&format!("the {name} comparisons"), format!("{name} is not installed (apt-get install {name})"));
            }
            ok
        };
        match self {
            Rt::Rrun => true,
            Rt::Crun => *CRUN.get_or_init(|| probe("crun")),
            Rt::Runc => *RUNC.get_or_init(|| probe("runc")),
        }
    }
}

const RUNTIMES: [Rt; 3] = [Rt::Rrun, Rt::Crun, Rt::Runc];

/// What a runtime command did.
#[derive(Debug, Clone)]
struct Out {
    /// The exit code (128+N when killed by signal N); None when it timed out.
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// A test's directory: the rootfs (shared by the three runtimes), one bundle
/// and one state root per runtime. Every container it started is deleted
/// (`delete --force`) and the directory removed when it is dropped, whatever
/// the test's outcome.
struct Work {
    dir: PathBuf,
    rootfs: PathBuf,
    /// (runtime, id, prelude) of every container created.
    started: RefCell<Vec<(Rt, String, Option<String>)>>,
    tag: String,
    /// Holds `dir`.
    _scratch: ScratchDir,
}

impl Work {
    fn new(tag: &str) -> Work {
        let scratch = ScratchDir::new(&format!("oci-compat-{tag}"));
        let dir = scratch.path.clone();
        let rootfs = dir.join("rootfs");
        std::fs::create_dir_all(&rootfs).unwrap();
        let w = Work { dir, rootfs, started: RefCell::new(Vec::new()), tag: tag.to_string(), _scratch: scratch };
        extract_busybox(&w.rootfs);
        w
    }

    fn state_root(&self, rt: Rt) -> PathBuf {
        self.dir.join(format!("state-{}", rt.name()))
    }

    /// A unique container ID, remembered for the cleanup.
    fn id(&self, rt: Rt, prelude: Option<&str>) -> String {
        static N: AtomicUsize = AtomicUsize::new(0);
        let id = format!("oc{}-{}-{}-{}", std::process::id(), self.tag, N.fetch_add(1, Ordering::Relaxed), rt.name());
        self.started.borrow_mut().push((rt, id.clone(), prelude.map(str::to_string)));
        id
    }

    /// Writes `config` as the bundle of `rt` (root.path: the shared rootfs).
    fn bundle(&self, rt: Rt, config: &Value) -> PathBuf {
        let b = self.dir.join(format!("bundle-{}", rt.name()));
        std::fs::create_dir_all(&b).unwrap();
        let mut c = config.clone();
        c["root"]["path"] = json!(self.rootfs);
        std::fs::write(b.join("config.json"), serde_json::to_vec_pretty(&c).unwrap()).unwrap();
        b
    }

    /// `RUNTIME --root STATE ARGS…`; crun, and every runtime given a
    /// `prelude` (shell commands run first), in a mount namespace of their own.
    fn command(&self, rt: Rt, args: &[&str], prelude: Option<&str>) -> Command {
        self.command_in(rt, &self.state_root(rt), args, prelude)
    }

    fn command_in(&self, rt: Rt, root: &Path, args: &[&str], prelude: Option<&str>) -> Command {
        let program = if rt == Rt::Rrun { RRUN } else { rt.name() };
        let mut inner: Vec<String> = vec![program.into(), "--root".into(), root.display().to_string()];
        inner.extend(args.iter().map(|a| a.to_string()));
        let mut sh = String::new();
        if rt == Rt::Crun {
            sh.push_str("umount /sys/fs/cgroup/unified 2>/dev/null; ");
        }
        if let Some(p) = prelude {
            sh.push_str(p);
            sh.push_str(" && ");
        }
        if sh.is_empty() {
            let mut c = Command::new(&inner[0]);
            c.args(&inner[1..]);
            return c;
        }
        let mut c = Command::new("unshare");
        c.args(["-m", "--propagation", "slave", "sh", "-c"]).arg(format!("{sh}exec \"$@\"")).arg("sh").args(inner);
        c
    }

    /// Runs a command with its output in files (a created container's init
    /// keeps its stdio open: a pipe would never see EOF), for at most 20 s.
    fn exec(&self, mut cmd: Command) -> Out {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let (o, e) = (self.dir.join(format!("out-{n}")), self.dir.join(format!("err-{n}")));
        cmd.stdin(Stdio::null()).stdout(std::fs::File::create(&o).unwrap()).stderr(std::fs::File::create(&e).unwrap());
        let mut child = cmd.spawn().unwrap_or_else(|err| panic!("spawn {cmd:?}: {err}"));
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break Some(s);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        use std::os::unix::process::ExitStatusExt;
        Out {
            code: status.and_then(|s| s.code().or(s.signal().map(|n| 128 + n))),
            stdout: std::fs::read_to_string(&o).unwrap_or_default(),
            stderr: std::fs::read_to_string(&e).unwrap_or_default(),
        }
    }

    /// `run --bundle B ARGS… ID`, the files of `pass` given to the runtime as
    /// these descriptors (inherited, not close-on-exec).
    fn run_with(&self, rt: Rt, config: &Value, prelude: Option<&str>, args: &[&str], pass: &[(i32, PathBuf)]) -> Out {
        let b = self.bundle(rt, config);
        let id = self.id(rt, prelude);
        let mut all = vec!["run", "--bundle", b.to_str().unwrap()];
        all.extend_from_slice(args);
        all.push(&id);
        let mut cmd = self.command(rt, &all, prelude);
        let files: Vec<(i32, std::fs::File)> = pass
            .iter()
            .map(|(n, p)| (*n, std::fs::File::open(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))))
            .collect();
        give_fds(&mut cmd, &files);
        let out = self.exec(cmd);
        drop(files);
        out
    }

    /// `RUNTIME ARGS…` against this test's state root of `rt`.
    fn cli(&self, rt: Rt, args: &[&str]) -> Out {
        self.exec(self.command(rt, args, None))
    }
}

impl Drop for Work {
    fn drop(&mut self) {
        for (rt, id, prelude) in self.started.borrow().iter() {
            if self.state_root(*rt).join(id).exists() {
                let _ = self.exec(self.command(*rt, &["delete", "--force", id], prelude.as_deref()));
            }
            // a reference runtime's create that failed may leave its (empty) cgroups behind
            for d in cgroup_dirs(id) {
                let _ = std::fs::remove_dir(d);
            }
        }
        // then `_scratch` drops: what is mounted below `dir` is detached, the tree removed
    }
}

/// Gives the command each file as the descriptor number it is paired with.
/// The files must stay open until the command is spawned.
fn give_fds(cmd: &mut Command, files: &[(i32, std::fs::File)]) {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    if files.is_empty() {
        return;
    }
    let raw: Vec<(i32, i32)> = files.iter().map(|(n, f)| (*n, f.as_raw_fd())).collect();
    // SAFETY: dup2 and fcntl in the forked child before exec; the files outlive the spawn.
    unsafe {
        cmd.pre_exec(move || {
            for (n, fd) in &raw {
                if libc::dup2(*fd, *n) < 0 || libc::fcntl(*n, libc::F_SETFD, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
}

/// The configuration every row starts from: `runc spec`'s, with the
/// terminal off, a writable rootfs (rows that write do so in the /tmp tmpfs,
/// as the rootfs is shared by the runtimes) and a tmpfs on /tmp.
fn base_config(script: &str) -> Value {
    let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": { "uid": 0, "gid": 0 },
            "args": ["sh", "-c", format!("exec 2>&1; {script}")],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {
                "bounding": caps, "effective": caps, "permitted": caps, "ambient": caps
            },
            "rlimits": [{ "type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024 }],
            "noNewPrivileges": true
        },
        "root": { "path": "rootfs", "readonly": false },
        "hostname": "oci-compat",
        "mounts": [
            { "destination": "/proc", "type": "proc", "source": "proc" },
            { "destination": "/dev", "type": "tmpfs", "source": "tmpfs",
              "options": ["nosuid", "strictatime", "mode=755", "size=65536k"] },
            { "destination": "/dev/pts", "type": "devpts", "source": "devpts",
              "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] },
            { "destination": "/dev/shm", "type": "tmpfs", "source": "shm",
              "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
            { "destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
              "options": ["nosuid", "noexec", "nodev"] },
            { "destination": "/sys", "type": "sysfs", "source": "sysfs",
              "options": ["nosuid", "noexec", "nodev", "ro"] },
            { "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
              "options": ["nosuid", "noexec", "nodev", "relatime", "ro"] },
            { "destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev"] }
        ],
        "linux": {
            "resources": { "devices": [{ "allow": false, "access": "rwm" }] },
            "namespaces": [
                { "type": "pid" }, { "type": "network" }, { "type": "ipc" },
                { "type": "uts" }, { "type": "mount" }, { "type": "cgroup" }
            ],
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"
            ],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
        }
    })
}

/// One row of the table.
struct Row<'a> {
    name: &'a str,
    /// Shell commands run in the container (stderr goes to stdout).
    script: &'a str,
    /// Changes to the base configuration.
    config: &'a dyn Fn(&mut Value, &Work),
    /// Reference runtimes left out of this row, and why.
    skip: &'a [(Rt, &'a str)],
    /// Applied to every runtime's output before comparing.
    normalise: fn(&str) -> String,
    /// Host-side shell commands (in a private mount namespace) before each runtime.
    prelude: Option<&'a dyn Fn(&Work) -> String>,
    /// Arguments of `run` before the ID.
    args: &'a [&'a str],
    /// Files given to the runtime as these descriptors.
    pass: &'a [(i32, &'a str)],
}

impl Default for Row<'_> {
    fn default() -> Self {
        Row {
            name: "",
            script: "",
            config: &|_, _| {},
            skip: &[],
            normalise: |s| s.to_string(),
            prelude: None,
            args: &[],
            pass: &[],
        }
    }
}

/// Runs the row with every runtime, asserts that the reference runtimes
/// saw what rrun saw, and returns rrun's exit code, normalised output and stderr.
fn compare(w: &Work, row: &Row<'_>) -> (Option<i32>, String, String) {
    let mut config = base_config(row.script);
    (row.config)(&mut config, w);
    let prelude = row.prelude.map(|p| p(w));
    let mut results: Vec<(Rt, Out)> = Vec::new();
    for rt in RUNTIMES {
        if let Some((_, why)) = row.skip.iter().find(|(r, _)| *r == rt) {
            eprintln!("row {}: {} left out: {why}", row.name, rt.name());
            continue;
        }
        if !rt.available() {
            continue;
        }
        let pass: Vec<(i32, PathBuf)> = row.pass.iter().map(|(n, f)| (*n, w.dir.join(f))).collect();
        let out = w.run_with(rt, &config, prelude.as_deref(), row.args, &pass);
        if std::env::var_os("RRUN_OCI_COMPAT_VERBOSE").is_some() {
            eprintln!("row {} {} exit {:?}:\n{}{}", row.name, rt.name(), out.code, out.stdout, out.stderr);
        }
        results.push((rt, out));
    }
    let (_, rrun) = &results[0];
    assert!(rrun.code.is_some(), "row {}: rrun timed out\n{rrun:?}", row.name);
    let mine = (row.normalise)(&rrun.stdout);
    for (rt, out) in &results[1..] {
        let theirs = (row.normalise)(&out.stdout);
        assert!(
            out.code == rrun.code && theirs == mine,
            "row {}: rrun and {} differ\n--- rrun (exit {:?}):\n{mine}\n--- {} (exit {:?}):\n{theirs}\n--- rrun stderr:\n{}\n--- {} stderr:\n{}",
            row.name,
            rt.name(),
            rrun.code,
            rt.name(),
            out.code,
            rrun.stderr,
            rt.name(),
            out.stderr
        );
    }
    (rrun.code, mine, rrun.stderr.clone())
}

/// The row, run in a Work of its own; rrun must have succeeded.
fn row_ok(row: Row<'_>) -> String {
    let w = Work::new(row.name);
    let (code, out, _) = compare(&w, &row);
    assert_eq!(code, Some(0), "row {}: rrun failed:\n{out}", row.name);
    out
}

/// mountinfo lines with what legitimately differs between runs taken out:
/// mount and parent IDs and the device number go, propagation tags keep
/// their kind (`shared`, `master`) but not their peer-group numbers.
fn normalise_mountinfo(out: &str) -> String {
    let line = |l: &str| -> String {
        let Some((left, right)) = l.split_once(" - ") else { return l.to_string() };
        let f: Vec<&str> = left.split(' ').collect();
        if f.len() < 6 {
            return l.to_string();
        }
        let tags: Vec<&str> = f[6..].iter().map(|t| t.split(':').next().unwrap_or(t)).collect();
        format!("{} {} {} [{}] - {right}", f[3], f[4], f[5], tags.join(" "))
    };
    out.lines().map(line).collect::<Vec<_>>().join("\n")
}

fn set(config: &mut Value, path: &[&str], v: Value) {
    let mut at = config;
    for p in &path[..path.len() - 1] {
        at = &mut at[*p];
    }
    at[path[path.len() - 1]] = v;
}

fn push(config: &mut Value, path: &[&str], v: Value) {
    let mut at = config;
    for p in path {
        at = &mut at[*p];
    }
    at.as_array_mut().expect("an array").push(v);
}

macro_rules! root_test {
    ($name:ident) => {
        if !root_or_skip(stringify!($name)) {
            return;
        }
    };
}

// 1. capabilities
#[test]
fn capabilities() {
    root_test!(capabilities);
    let out = row_ok(Row {
        name: "caps",
        script: "grep Cap /proc/self/status",
        config: &|c, _| {
            let s = json!(["CAP_CHOWN", "CAP_NET_ADMIN", "CAP_SYS_ADMIN"]);
            set(
                c,
                &["process", "capabilities"],
                json!({ "bounding": s, "effective": s, "permitted": s,
                        "inheritable": ["CAP_CHOWN", "CAP_NET_ADMIN"], "ambient": ["CAP_CHOWN"] }),
            );
        },
        ..Default::default()
    });
    // CHOWN = bit 0, NET_ADMIN = 12, SYS_ADMIN = 21
    assert_eq!(
        out,
        "CapInh:\t0000000000001001\nCapPrm:\t0000000000201001\nCapEff:\t0000000000201001\n\
         CapBnd:\t0000000000201001\nCapAmb:\t0000000000000001\n"
    );
    // a non-root user keeps across exec only its ambient set; an ambient capability that is
    // not inheritable cannot be raised, and runc and crun go on without it
    let out = row_ok(Row {
        name: "caps-user",
        script: "grep Cap /proc/self/status; id -u",
        config: &|c, _| {
            set(
                c,
                &["process", "capabilities"],
                json!({ "bounding": ["CAP_CHOWN", "CAP_NET_ADMIN", "CAP_SYS_ADMIN", "CAP_KILL"],
                        "effective": ["CAP_CHOWN"],
                        "permitted": ["CAP_CHOWN", "CAP_NET_ADMIN", "CAP_SYS_ADMIN"],
                        "inheritable": ["CAP_CHOWN"],
                        "ambient": ["CAP_CHOWN", "CAP_NET_ADMIN"] }),
            );
            set(c, &["process", "user"], json!({ "uid": 1000, "gid": 1000 }));
        },
        ..Default::default()
    });
    assert_eq!(
        out,
        "CapInh:\t0000000000000001\nCapPrm:\t0000000000000001\nCapEff:\t0000000000000001\n\
         CapBnd:\t0000000000201021\nCapAmb:\t0000000000000001\n1000\n"
    );
}

// 2. rlimits
#[test]
fn rlimits() {
    root_test!(rlimits);
    let out = row_ok(Row {
        name: "rlimits",
        script: "grep -E '^Max (open files|processes)' /proc/self/limits; ulimit -n; ulimit -Hn",
        config: &|c, _| {
            set(
                c,
                &["process", "rlimits"],
                json!([{ "type": "RLIMIT_NOFILE", "soft": 1000, "hard": 2000 },
                       { "type": "RLIMIT_NPROC", "soft": 500, "hard": 600 }]),
            );
        },
        ..Default::default()
    });
    let squeezed: Vec<String> = out.lines().map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")).collect();
    assert_eq!(squeezed, ["Max processes 500 600 processes", "Max open files 1000 2000 files", "1000", "2000"]);
}

// 3. mounts: a tmpfs with options, a read-only bind of a host directory, an rbind with
// rprivate, a bind of a single file. The host directory has a submount (made by the
// prelude in a private mount namespace) that only the rbind carries.
#[test]
fn mounts() {
    root_test!(mounts);
    let w = Work::new("mounts");
    let host = w.dir.join("hostdir");
    std::fs::create_dir_all(host.join("sub")).unwrap();
    std::fs::write(host.join("f"), "in hostdir\n").unwrap();
    std::fs::write(w.dir.join("hostfile"), "a single file\n").unwrap();
    // runc 1.1.5 gives a tmpfs the mode its mount point had: make that 0700 too
    std::fs::create_dir_all(w.rootfs.join("mnt/tmp")).unwrap();
    std::fs::set_permissions(w.rootfs.join("mnt/tmp"), std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let script = "grep ' /mnt/' /proc/self/mountinfo; stat -c '%a' /mnt/tmp; cat /mnt/file /mnt/ro/f; \
                  touch /mnt/ro/x; echo ro=$?; touch /mnt/rb/y && rm /mnt/rb/y; echo rb=$?; \
                  printf '#!/bin/sh\\necho ran\\n' >/mnt/tmp/s; chmod +x /mnt/tmp/s; /mnt/tmp/s; echo noexec=$?; \
                  head -c 2000000 /dev/zero >/mnt/tmp/big; echo size=$?; echo > /mnt/file; echo file=$?";
    let row = Row {
        name: "mounts",
        script,
        config: &|c, w| {
            let host = w.dir.join("hostdir");
            for m in [
                json!({ "destination": "/mnt/tmp", "type": "tmpfs", "source": "tmpfs",
                        "options": ["size=1m", "mode=0700", "noexec", "nosuid"] }),
                json!({ "destination": "/mnt/ro", "type": "bind", "source": host, "options": ["bind", "ro"] }),
                json!({ "destination": "/mnt/rb", "type": "bind", "source": host, "options": ["rbind", "rprivate"] }),
                json!({ "destination": "/mnt/file", "type": "bind", "source": w.dir.join("hostfile"),
                        "options": ["bind", "ro", "nosuid"] }),
            ] {
                push(c, &["mounts"], m);
            }
        },
        normalise: normalise_mountinfo,
        prelude: Some(&|w| format!("mount -t tmpfs -o size=64k hostsub '{}'", w.dir.join("hostdir/sub").display())),
        ..Default::default()
    };
    let (code, out, _) = compare(&w, &row);
    assert_eq!(code, Some(0), "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 5 + 12, "{out}");
    // (mount point, per-mount options, filesystem type and source); the host's own
    // filesystem for the binds
    // (mount point, the per-mount flags asked for, filesystem type and source); the binds
    // are of the host's own filesystem, and inherit whatever else its mount has (atime…)
    let mounts: Vec<(&str, String, String)> = lines[..5]
        .iter()
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            let flags: Vec<&str> =
                f[2].split(',').filter(|o| ["ro", "rw", "nosuid", "nodev", "noexec"].contains(o)).collect();
            let after = l.split_once(" - ").map(|(_, r)| r).unwrap_or_default();
            (f[1], flags.join(","), after.split(' ').take(2).collect::<Vec<_>>().join(" "))
        })
        .collect();
    let hostfs = mounts[1].2.clone();
    let m = |dest, flags: &str, fs: &str| (dest, flags.to_string(), fs.to_string());
    assert_eq!(
        mounts,
        [
            m("/mnt/tmp", "rw,nosuid,noexec", "tmpfs tmpfs"),
            m("/mnt/ro", "ro", &hostfs),
            m("/mnt/rb", "rw", &hostfs),
            m("/mnt/rb/sub", "rw", "tmpfs hostsub"),
            m("/mnt/file", "ro,nosuid", &hostfs),
        ]
    );
    assert!(lines[0].ends_with("size=1024k,mode=700"), "{}", lines[0]);
    assert_eq!(
        lines[5..].join("\n"),
        "700\na single file\nin hostdir\ntouch: /mnt/ro/x: Read-only file system\nro=1\nrb=0\n\
         sh: /mnt/tmp/s: Permission denied\nnoexec=126\nhead: standard output: I/O error\nsize=1\n\
         sh: can't create /mnt/file: Read-only file system\nfile=1"
    );
}

// 4. a user namespace
#[test]
fn user_namespace() {
    root_test!(user_namespace);
    let out = row_ok(Row {
        name: "userns",
        script: "cat /proc/self/uid_map /proc/self/gid_map; id; stat -c '%u:%g' /bin/busybox; \
                 grep -E '^(Uid|Gid):' /proc/self/status; touch /tmp/x && stat -c '%u:%g' /tmp/x",
        config: &|c, _| {
            push(c, &["linux", "namespaces"], json!({ "type": "user" }));
            set(c, &["linux", "uidMappings"], json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]));
            set(c, &["linux", "gidMappings"], json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]));
        },
        ..Default::default()
    });
    let squeezed: Vec<String> = out.lines().map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")).collect();
    assert_eq!(
        squeezed,
        [
            "0 100000 65536",
            "0 100000 65536",
            "uid=0(root) gid=0(root)",
            "65534:65534", // host root is not mapped: the rootfs belongs to the overflow id
            "Uid: 0 0 0 0",
            "Gid: 0 0 0 0",
            "0:0",
        ]
    );
}

// 5. hostname and domainname
#[test]
fn hostname_and_domainname() {
    root_test!(hostname_and_domainname);
    let out = row_ok(Row {
        name: "hostname",
        script: "hostname; cat /proc/sys/kernel/hostname",
        config: &|c, _| set(c, &["hostname"], json!("box1")),
        ..Default::default()
    });
    assert_eq!(out, "box1\nbox1\n");
    let out = row_ok(Row {
        name: "domainname",
        script: "cat /proc/sys/kernel/domainname",
        config: &|c, _| set(c, &["domainname"], json!("example.org")),
        skip: &[(Rt::Runc, "runc 1.1.5 ignores domainname (it came in runc 1.2): the container sees (none)")],
        ..Default::default()
    });
    assert_eq!(out, "example.org\n");
    // without a UTS namespace of its own the names would be the host's: refused
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let w = Work::new("hostname-refused");
    let row = Row {
        name: "hostname-without-uts",
        script: "echo ran",
        config: &|c, _| {
            c["linux"]["namespaces"].as_array_mut().unwrap().retain(|n| n["type"] != "uts");
            set(c, &["hostname"], json!(host.trim()));
        },
        ..Default::default()
    };
    let (code, out, err) = compare(&w, &row);
    assert_eq!((code, out.as_str()), (Some(1), ""), "{err}");
    assert!(err.contains("UTS namespace"), "{err}");
}

// 6. seccomp: errno actions, and a rule with an argument condition
#[test]
fn seccomp() {
    root_test!(seccomp);
    let out = row_ok(Row {
        name: "seccomp",
        script: "mkdir /tmp/x; echo mkdir=$?; linux32 true; echo linux32=$?; linux64 true; echo linux64=$?; \
                 ls -d /tmp/x; echo ls=$?",
        config: &|c, _| {
            set(
                c,
                &["linux", "seccomp"],
                json!({
                    "defaultAction": "SCMP_ACT_ALLOW",
                    "architectures": if cfg!(target_arch = "aarch64") {
                        json!(["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"])
                    } else {
                        json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"])
                    },
                    "syscalls": [
                        { "names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13 },
                        { "names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
                          "args": [{ "index": 0, "value": 8, "op": "SCMP_CMP_EQ" }] }
                    ]
                }),
            );
        },
        ..Default::default()
    });
    assert_eq!(
        out,
        "mkdir: can't create directory '/tmp/x': Permission denied\nmkdir=1\n\
         linux32: personality(0x8): Operation not permitted\nlinux32=1\nlinux64=0\n\
         ls: /tmp/x: No such file or directory\nls=1\n"
    );
}

// 7. sysctl, in the container's network and IPC namespaces
#[test]
fn sysctl() {
    root_test!(sysctl);
    let host_msgmax = std::fs::read_to_string("/proc/sys/kernel/msgmax").unwrap();
    let host_forward = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap();
    let out = row_ok(Row {
        name: "sysctl",
        script: "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/msgmax",
        config: &|c, _| set(c, &["linux", "sysctl"], json!({ "net.ipv4.ip_forward": "1", "kernel.msgmax": "4096" })),
        ..Default::default()
    });
    assert_eq!(out, "1\n4096\n");
    assert_eq!(std::fs::read_to_string("/proc/sys/kernel/msgmax").unwrap(), host_msgmax, "the host's is untouched");
    assert_eq!(std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap(), host_forward);
    // a sysctl of a namespace the container does not have of its own is the host's: refused
    // before anything runs (each asks for the host's current value, so that a runtime that
    // wrongly wrote it would change nothing)
    let host_swappiness = std::fs::read_to_string("/proc/sys/vm/swappiness").unwrap();
    let w = Work::new("sysctl-refused");
    for (key, value, without) in [
        ("net.ipv4.ip_forward", host_forward.trim(), "network"),
        ("kernel.msgmax", host_msgmax.trim(), "ipc"),
        ("vm.swappiness", host_swappiness.trim(), ""),
    ] {
        let row = Row {
            name: key,
            script: "echo ran",
            config: &|c, _| {
                c["linux"]["namespaces"].as_array_mut().unwrap().retain(|n| n["type"] != without);
                set(c, &["linux", "sysctl"], json!({ key: value }));
            },
            ..Default::default()
        };
        let (code, out, err) = compare(&w, &row);
        assert_eq!((code, out.as_str()), (Some(1), ""), "sysctl {key} without a {without} namespace: {err}");
        assert!(err.contains(key), "the error names {key}: {err}");
    }
}

// 8. user, group and additional groups
#[test]
fn user_and_groups() {
    root_test!(user_and_groups);
    let out = row_ok(Row {
        name: "user",
        script: "id; grep -E '^(Uid|Gid|Groups):' /proc/self/status",
        config: &|c, _| set(c, &["process", "user"], json!({ "uid": 1000, "gid": 1000, "additionalGids": [10, 20] })),
        ..Default::default()
    });
    let squeezed: Vec<String> = out.lines().map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")).collect();
    assert_eq!(
        squeezed,
        [
            "uid=1000(alice) gid=1000(alice) groups=10(wheel),20",
            "Uid: 1000 1000 1000 1000",
            "Gid: 1000 1000 1000 1000",
            "Groups: 10 20"
        ]
    );
}

// 9. masked and read-only paths
#[test]
fn masked_and_readonly_paths() {
    root_test!(masked_and_readonly_paths);
    let w = Work::new("masked");
    std::fs::write(w.rootfs.join("etc/secret"), "s3cret\n").unwrap();
    std::fs::create_dir_all(w.rootfs.join("etc/private")).unwrap();
    std::fs::write(w.rootfs.join("etc/private/a"), "a\n").unwrap();
    let row = Row {
        name: "masked",
        script: "cat /etc/secret | wc -c; ls -A /etc/private | wc -l; cat /proc/keys | wc -c; \
                 touch /etc/private/x; echo private=$?; touch /var/x; echo var=$?; \
                 echo 1 > /proc/sys/kernel/msgmax; echo sys=$?; grep -c . /proc/sys/kernel/msgmax; \
                 ls /not-there 2>/dev/null; echo done",
        config: &|c, _| {
            push(c, &["linux", "maskedPaths"], json!("/etc/secret"));
            push(c, &["linux", "maskedPaths"], json!("/etc/private"));
            push(c, &["linux", "maskedPaths"], json!("/not-there"));
            push(c, &["linux", "readonlyPaths"], json!("/var"));
        },
        ..Default::default()
    };
    let (code, out, _) = compare(&w, &row);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(
        out,
        "0\n0\n0\ntouch: /etc/private/x: Read-only file system\nprivate=1\ntouch: /var/x: Read-only file system\n\
         var=1\nsh: can't create /proc/sys/kernel/msgmax: Read-only file system\nsys=1\n1\ndone\n"
    );
}

// 10. environment and working directory (created when missing), HOME as the runtimes add it
#[test]
fn env_and_cwd() {
    root_test!(env_and_cwd);
    let out = row_ok(Row {
        name: "env",
        script: "env | sort; pwd",
        config: &|c, _| {
            set(c, &["process", "env"], json!(["PATH=/bin:/usr/bin", "FOO=bar baz", "EMPTY=", "EQ=a=b", "TERM=xterm"]));
            set(c, &["process", "cwd"], json!("/var/spool/new"));
        },
        ..Default::default()
    });
    assert_eq!(
        out,
        "EMPTY=\nEQ=a=b\nFOO=bar baz\nHOME=/root\nPATH=/bin:/usr/bin\nPWD=/var/spool/new\nSHLVL=1\nTERM=xterm\n\
         /var/spool/new\n"
    );
    let out = row_ok(Row {
        name: "env-home",
        script: "echo home=$HOME",
        config: &|c, _| {
            set(c, &["process", "env"], json!(["PATH=/bin"]));
            set(c, &["process", "user"], json!({ "uid": 1000, "gid": 1000 }));
        },
        ..Default::default()
    });
    assert_eq!(out, "home=/home/alice\n");
    let out = row_ok(Row {
        name: "env-nohome",
        script: "echo home=${HOME-unset}",
        config: &|c, _| {
            set(c, &["process", "env"], json!(["PATH=/bin"]));
            set(c, &["process", "user"], json!({ "uid": 4242, "gid": 4242 }));
        },
        skip: &[(Rt::Crun, "crun 1.8.1 leaves HOME unset for a uid without a passwd entry; runc sets /")],
        ..Default::default()
    });
    assert_eq!(out, "home=/\n");
}

// 11. oomScoreAdj
#[test]
fn oom_score_adj() {
    root_test!(oom_score_adj);
    let out = row_ok(Row {
        name: "oom",
        script: "cat /proc/self/oom_score_adj",
        config: &|c, _| set(c, &["process", "oomScoreAdj"], json!(500)),
        ..Default::default()
    });
    assert_eq!(out, "500\n");
}

// 12. noNewPrivileges
#[test]
fn no_new_privileges() {
    root_test!(no_new_privileges);
    for on in [true, false] {
        let out = row_ok(Row {
            name: if on { "nnp-true" } else { "nnp-false" },
            script: "grep NoNewPrivs /proc/self/status",
            config: &|c, _| set(c, &["process", "noNewPrivileges"], json!(on)),
            ..Default::default()
        });
        assert_eq!(out, format!("NoNewPrivs:\t{}\n", on as u8));
    }
}

// 13. a read-only rootfs, with a writable tmpfs on /tmp
#[test]
fn readonly_rootfs() {
    root_test!(readonly_rootfs);
    let out = row_ok(Row {
        name: "readonly",
        script: "touch /x; echo root=$?; touch /tmp/x; echo tmp=$?; \
                 awk '$5 == \"/\" { split($6, o, \",\"); print o[1] }' /proc/self/mountinfo",
        config: &|c, _| set(c, &["root", "readonly"], json!(true)),
        ..Default::default()
    });
    assert_eq!(out, "touch: /x: Read-only file system\nroot=1\ntmp=0\nro\n");
}

// 14. devices: one allowed by the device cgroup, one listed without an allow rule; the
// default devices stay usable under the Spec's "deny all"
#[test]
fn devices() {
    root_test!(devices);
    let out = row_ok(Row {
        name: "devices",
        script: "stat -c '%n %A %t:%T %u:%g' /dev/fuse /dev/kmsg2; (exec 3<>/dev/fuse) && echo fuse-opened; \
                 head -c1 /dev/kmsg2 >/dev/null; echo kmsg=$?; \
                 stat -c '%n %A %t:%T' /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty; \
                 echo x >/dev/null && echo null-ok; head -c 3 /dev/zero | wc -c; head -c 3 /dev/urandom | wc -c",
        config: &|c, _| {
            set(
                c,
                &["linux", "devices"],
                json!([
                    { "path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o640, "uid": 0, "gid": 0 },
                    { "path": "/dev/kmsg2", "type": "c", "major": 1, "minor": 11, "fileMode": 0o666, "uid": 1000, "gid": 10 }
                ]),
            );
            push(
                c,
                &["linux", "resources", "devices"],
                json!({ "allow": true, "type": "c", "major": 10, "minor": 229, "access": "rwm" }),
            );
        },
        ..Default::default()
    });
    assert_eq!(
        out,
        "/dev/fuse crw-r----- a:e5 0:0\n/dev/kmsg2 crw-rw-rw- 1:b 1000:10\nfuse-opened\n\
         head: /dev/kmsg2: Operation not permitted\nkmsg=1\n\
         /dev/null crw-rw-rw- 1:3\n/dev/zero crw-rw-rw- 1:5\n/dev/full crw-rw-rw- 1:7\n/dev/random crw-rw-rw- 1:8\n\
         /dev/urandom crw-rw-rw- 1:9\n/dev/tty crw-rw-rw- 5:0\nnull-ok\n3\n3\n"
    );
}

// 15. personality
#[test]
fn personality() {
    root_test!(personality);
    let out = row_ok(Row {
        name: "personality",
        script: "uname -m",
        config: &|c, _| set(c, &["linux", "personality"], json!({ "domain": "LINUX32" })),
        skip: &[(Rt::Runc, "runc 1.1.5 ignores linux.personality (it came in runc 1.2)")],
        ..Default::default()
    });
    if std::env::consts::ARCH == "x86_64" {
        assert_eq!(out, "i686\n");
    }
}

/// A shared tmpfs on the host side (in the runtime's private mount namespace), the source
/// of the propagation rows' mounts.
fn shared_source(w: &Work) -> String {
    let src = w.dir.join("shared-src");
    std::fs::create_dir_all(&src).unwrap();
    format!("mount -t tmpfs shared-src '{0}' && mount --make-shared '{0}'", src.display())
}

fn propagation_mounts(c: &mut Value, w: &Work) {
    let src = w.dir.join("shared-src");
    for (dest, prop) in [("/mnt/sh", "rshared"), ("/mnt/sl", "rslave"), ("/mnt/pr", "rprivate")] {
        push(c, &["mounts"], json!({ "destination": dest, "type": "bind", "source": src, "options": ["rbind", prop] }));
    }
}

/// `/` and /mnt/*: mount point and propagation tags.
const PROPAGATION: &str = "awk '$5 == \"/\" || $5 ~ /^\\/mnt\\// { t = \"\"; for (i = 7; $i != \"-\"; i++) \
                           { split($i, a, \":\"); t = t \" \" a[1] }; print $5 \":\" t }' /proc/self/mountinfo";

// 16. propagation of each mount, and rootfsPropagation
#[test]
fn mount_propagation() {
    root_test!(mount_propagation);
    let out = row_ok(Row {
        name: "propagation",
        script: PROPAGATION,
        config: &propagation_mounts,
        prelude: Some(&shared_source),
        skip: &[(
            Rt::Crun,
            "crun 1.8.1 makes every mount private after pivot_root, dropping the rshared and rslave the mounts ask for",
        )],
        ..Default::default()
    });
    // the namespace is rslave (the default): the copy of the shared source is a slave of the
    // host's peer group; rshared adds a peer group of its own, rprivate cuts both
    assert_eq!(out, "/:\n/mnt/sh: shared master\n/mnt/sl: master\n/mnt/pr:\n");
    let out = row_ok(Row {
        name: "propagation-rshared",
        script: PROPAGATION,
        config: &|c, w| {
            propagation_mounts(c, w);
            set(c, &["linux", "rootfsPropagation"], json!("rshared"));
        },
        prelude: Some(&shared_source),
        skip: &[(
            Rt::Runc,
            "runc 1.1.5 applies rootfsPropagation before pivot_root only, so / ends private, against \
             config-linux.md (shared: the rootfs mount belongs to a new peer group); runc 1.2 fixed it",
        )],
        ..Default::default()
    });
    assert_eq!(out, "/: shared\n/mnt/sh: shared\n/mnt/sl: shared master\n/mnt/pr: shared\n");
    let out = row_ok(Row {
        name: "propagation-rprivate",
        script: PROPAGATION,
        config: &|c, w| {
            propagation_mounts(c, w);
            set(c, &["linux", "rootfsPropagation"], json!("rprivate"));
        },
        prelude: Some(&shared_source),
        skip: &[(Rt::Crun, "crun 1.8.1 makes every mount private after pivot_root (see above)")],
        ..Default::default()
    });
    assert_eq!(out, "/:\n/mnt/sh: shared\n/mnt/sl:\n/mnt/pr:\n");
}

// 17. exit codes: the process's own, and 128+N for a process killed by signal N (without a
// PID namespace, since PID 1 cannot be killed from inside its namespace)
#[test]
fn exit_codes() {
    root_test!(exit_codes);
    for (name, script, pid_ns, expect) in
        [("exit42", "exit 42", true, 42), ("kill9", "kill -9 $$", false, 137), ("kill15", "kill -15 $$", false, 143)]
    {
        let w = Work::new(name);
        let row = Row {
            name,
            script,
            config: &|c, _| {
                if !pid_ns {
                    c["linux"]["namespaces"].as_array_mut().unwrap().retain(|n| n["type"] != "pid");
                }
            },
            ..Default::default()
        };
        let (code, _, _) = compare(&w, &row);
        assert_eq!(code, Some(expect), "row {name}");
    }
}

/// The container's status as `state` prints it, or the failed command.
fn status(w: &Work, rt: Rt, id: &str) -> Result<(String, i64), Out> {
    let out = w.cli(rt, &["state", id]);
    if out.code != Some(0) {
        return Err(out);
    }
    let v: Value =
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{} state: {e}: {}", rt.name(), out.stdout));
    Ok((v["status"].as_str().unwrap_or_default().to_string(), v["pid"].as_i64().unwrap_or(-1)))
}

/// State transitions and errors: every runtime takes the same steps; the exit codes
/// (and the statuses `state` reports) must match runc's, and rrun's messages say what went wrong.
#[test]
fn lifecycle_and_errors() {
    root_test!(lifecycle_and_errors);
    let w = Work::new("life");
    let mut seen: Vec<(Rt, Vec<String>)> = Vec::new();
    let rrun_errors: RefCell<Vec<(String, String)>> = RefCell::new(Vec::new());
    for rt in RUNTIMES.into_iter().filter(|rt| rt.available()) {
        let steps = RefCell::new(Vec::new());
        let config = {
            let mut c = base_config("sleep 30");
            c["process"]["args"] = json!(["sleep", "30"]);
            c
        };
        let b = w.bundle(rt, &config);
        let b = b.to_str().unwrap();
        let id = w.id(rt, None);
        let step = |what: &str, out: Out| {
            steps.borrow_mut().push(format!("{what}: exit {:?}", out.code));
            if rt == Rt::Rrun && out.code != Some(0) {
                rrun_errors.borrow_mut().push((what.to_string(), out.stderr.clone()));
            }
        };
        let st = |when: &str| {
            let s = status(&w, rt, &id).map(|(s, pid)| format!("{s} pid>0={}", pid > 0)).unwrap_or_default();
            if !when.is_empty() {
                steps.borrow_mut().push(format!("{when}: {s}"));
            }
            s
        };
        step("create", w.cli(rt, &["create", "--bundle", b, &id]));
        st("after create");
        step("create again", w.cli(rt, &["create", "--bundle", b, &id]));
        st("after create again");
        step("start", w.cli(rt, &["start", &id]));
        st("after start");
        step("start again", w.cli(rt, &["start", &id]));
        step("delete running", w.cli(rt, &["delete", &id]));
        st("after delete running");
        for verb in ["state", "start", "kill", "delete"] {
            step(&format!("{verb} unknown"), w.cli(rt, &[verb, "no-such-container"]));
        }
        step("kill KILL", w.cli(rt, &["kill", &id, "KILL"]));
        let deadline = Instant::now() + Duration::from_secs(5);
        while !st("").starts_with("stopped") && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        st("after kill");
        step("start stopped", w.cli(rt, &["start", &id]));
        step("delete stopped", w.cli(rt, &["delete", &id]));
        step("state deleted", w.cli(rt, &["state", &id]));
        // a malformed config.json: an error, and nothing left in the state root
        let bad = w.dir.join(format!("bad-bundle-{}", rt.name()));
        std::fs::create_dir_all(&bad).unwrap();
        std::fs::write(bad.join("config.json"), "{ \"ociVersion\": \"1.0.2\", bad json").unwrap();
        let root = w.dir.join(format!("bad-state-{}", rt.name()));
        let bad_id = w.id(rt, None);
        let create = w.command_in(rt, &root, &["create", "--bundle", bad.to_str().unwrap(), &bad_id], None);
        step("create malformed", w.exec(create));
        let left: Vec<String> = std::fs::read_dir(&root)
            .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        steps.borrow_mut().push(format!("left in the state root: {left:?}"));
        let steps = steps.into_inner();
        seen.push((rt, steps));
    }
    let rrun = &seen[0].1;
    let expect = [
        "create: exit Some(0)",
        "after create: created pid>0=true",
        "create again: exit Some(1)",
        "after create again: created pid>0=true",
        "start: exit Some(0)",
        "after start: running pid>0=true",
        "start again: exit Some(1)",
        "delete running: exit Some(1)",
        "after delete running: running pid>0=true",
        "state unknown: exit Some(1)",
        "start unknown: exit Some(1)",
        "kill unknown: exit Some(1)",
        "delete unknown: exit Some(1)",
        "kill KILL: exit Some(0)",
        "after kill: stopped pid>0=false",
        "start stopped: exit Some(1)",
        "delete stopped: exit Some(0)",
        "state deleted: exit Some(1)",
        "create malformed: exit Some(1)",
        "left in the state root: []",
    ];
    assert_eq!(rrun, &expect, "rrun's steps");
    for (rt, steps) in &seen[1..] {
        assert_eq!(steps, rrun, "{} and rrun took the steps differently", rt.name());
    }
    // each failure says why
    let rrun_errors = rrun_errors.into_inner();
    let says = |what: &str, words: &[&str]| {
        let (_, msg) = rrun_errors.iter().find(|(w, _)| w == what).unwrap_or_else(|| panic!("no error for {what}"));
        let low = msg.to_lowercase();
        assert!(words.iter().any(|w| low.contains(w)), "{what}: {msg:?} should say one of {words:?}");
    };
    says("create again", &["already exists"]);
    says("start again", &["running"]);
    says("delete running", &["not stopped", "running"]);
    for verb in ["state", "start", "kill", "delete"] {
        says(&format!("{verb} unknown"), &["does not exist", "no such container"]);
    }
    says("start stopped", &["stopped"]);
    says("state deleted", &["does not exist"]);
    says("create malformed", &["config.json"]);
}

/// `kill` and `start` of an unknown ID are runc's verbs too: the state root
/// must stay as it was (rrun's own CLI would make a store there).
#[test]
fn unknown_ids_leave_the_state_root_alone() {
    root_test!(unknown_ids_leave_the_state_root_alone);
    let w = Work::new("unknown");
    let root = w.state_root(Rt::Rrun);
    std::fs::create_dir_all(&root).unwrap();
    for verb in ["kill", "start", "ps", "pause", "exec"] {
        let out = w.cli(Rt::Rrun, &[verb, "no-such-container"]);
        // runc's exec reports its own failures with 255
        let want = if verb == "exec" { 255 } else { 1 };
        assert_eq!(out.code, Some(want), "{verb}: {out:?}");
        let left: Vec<_> = std::fs::read_dir(&root).unwrap().flatten().map(|e| e.file_name()).collect();
        assert!(left.is_empty(), "{verb} left {left:?} in the state root");
    }
}

// ------------------------------------------------------------------------------------------
// Conformance (issue 16): what the runtime spec and runc define, where rrun differed.
// ------------------------------------------------------------------------------------------

/// The seccomp profile's architectures for this machine.
fn seccomp_arches() -> Value {
    if cfg!(target_arch = "aarch64") {
        json!(["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"])
    } else {
        json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"])
    }
}

/// A profile that allows everything but `rules`.
fn seccomp_allow_but(rules: Value) -> Value {
    json!({ "defaultAction": "SCMP_ACT_ALLOW", "architectures": seccomp_arches(), "syscalls": rules })
}

// 18. descriptors: with --preserve-fds N only what the caller passed in 3..3+N reaches the
// process (none of the runtime's own: FIFO, sync socket); where close_range(2) is refused
// (a seccomp profile), the others are still closed
#[test]
fn descriptors_reach_the_process_only_when_passed() {
    root_test!(descriptors_reach_the_process_only_when_passed);
    let w = Work::new("fds");
    std::fs::write(w.dir.join("passed"), "through fd 3\n").unwrap();
    // fd 4 is a hole: the caller passes fd 3 only; ls's own directory descriptor takes 4
    let row = Row {
        name: "preserve-hole",
        script: "ls /proc/self/fd | sort -n | tr '\\n' ' '; echo; cat <&3",
        args: &["--preserve-fds", "2"],
        pass: &[(3, "passed")],
        skip: &[(
            Rt::Runc,
            "runc 1.1.5 passes its own descriptors (its state directory, an epoll) in the holes of 3..3+N",
        )],
        ..Default::default()
    };
    let (code, out, _) = compare(&w, &row);
    assert_eq!((code, out.as_str()), (Some(0), "0 1 2 3 4 \nthrough fd 3\n"));
    // an inherited descriptor without --preserve-fds, and close_range refused by the profile
    let row = Row {
        name: "close-range-refused",
        script: "ls /proc/self/fd | sort -n | tr '\\n' ' '",
        pass: &[(5, "passed"), (9, "passed")],
        config: &|c, _| {
            set(
                c,
                &["linux", "seccomp"],
                seccomp_allow_but(json!([{ "names": ["close_range"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1 }])),
            )
        },
        ..Default::default()
    };
    let (code, out, _) = compare(&w, &row);
    assert_eq!((code, out.as_str()), (Some(0), "0 1 2 3 "));
    // close_range refused as a kernel without it refuses it (ENOSYS): the same
    let row = Row {
        name: "close-range-enosys",
        script: "ls /proc/self/fd | sort -n | tr '\\n' ' '",
        pass: &[(5, "passed"), (9, "passed")],
        config: &|c, _| {
            set(
                c,
                &["linux", "seccomp"],
                seccomp_allow_but(json!([{ "names": ["close_range"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38 }])),
            )
        },
        ..Default::default()
    };
    let (code, out, _) = compare(&w, &row);
    assert_eq!((code, out.as_str()), (Some(0), "0 1 2 3 "));
}

// 19. the working directory is entered and checked before the seccomp filter: a profile
// that refuses getcwd (or hands it to an agent) does not fail or hang create; a directory
// only the process's user may enter is entered as that user
#[test]
fn working_directory_before_seccomp_and_as_the_user() {
    root_test!(working_directory_before_seccomp_and_as_the_user);
    let out = row_ok(Row {
        name: "cwd-getcwd-refused",
        script: "cd /tmp && echo in-tmp; busybox pwd; echo pwd=$?",
        config: &|c, _| {
            set(
                c,
                &["linux", "seccomp"],
                seccomp_allow_but(json!([{ "names": ["getcwd"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1 }])),
            );
            set(c, &["process", "cwd"], json!("/tmp"));
        },
        ..Default::default()
    });
    assert_eq!(out, "in-tmp\npwd: getcwd: Operation not permitted\npwd=1\n");
    // a user namespace whose root may not enter the directory (its owner is unmapped, its
    // group is the process's): runc and crun enter it as the process's user
    let w = Work::new("cwd-user");
    let private = w.rootfs.join("home/private");
    std::fs::create_dir_all(&private).unwrap();
    std::fs::write(private.join("file"), "").unwrap();
    std::os::unix::fs::chown(&private, Some(4242), Some(100_001)).unwrap();
    std::fs::set_permissions(&private, std::os::unix::fs::PermissionsExt::from_mode(0o070)).unwrap();
    let row = Row {
        name: "cwd-user",
        script: "pwd; ls; id -u",
        config: &|c, _| {
            push(c, &["linux", "namespaces"], json!({ "type": "user" }));
            set(c, &["linux", "uidMappings"], json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]));
            set(c, &["linux", "gidMappings"], json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]));
            set(c, &["process", "user"], json!({ "uid": 1, "gid": 1 }));
            set(c, &["process", "cwd"], json!("/home/private"));
        },
        ..Default::default()
    };
    let (code, out, _) = compare(&w, &row);
    assert_eq!((code, out.as_str()), (Some(0), "/home/private\nfile\n1\n"));
    // exec --user into a working directory the user may not enter: entered before the switch
    let w = Work::new("exec-user-cwd");
    std::fs::create_dir_all(w.rootfs.join("root")).unwrap();
    std::fs::set_permissions(w.rootfs.join("root"), std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let mut c = base_config("");
    c["process"]["args"] = json!(["sleep", "30"]);
    c["process"]["cwd"] = json!("/root");
    let seen =
        with_running(&w, &c, &[], |rt, id| w.cli(rt, &["exec", "--user", "1000:1000", id, "sh", "-c", "id -u; pwd"]));
    for (rt, out) in seen {
        // crun 1.8.1 falls back to / where the user may not enter the directory
        let want = if rt == Rt::Crun { "1000\n/\n" } else { "1000\n/root\n" };
        assert_eq!((out.code, out.stdout.as_str()), (Some(0), want), "{}: {out:?}", rt.name());
    }
}

// 20. AppArmor and SELinux: this host runs neither; a config that asks for a label is refused
#[test]
fn security_labels_the_host_lacks_are_refused() {
    root_test!(security_labels_the_host_lacks_are_refused);
    let apparmor = std::path::Path::new("/sys/kernel/security/apparmor").exists();
    let selinux = std::path::Path::new("/sys/fs/selinux/enforce").exists();
    for (name, path, value, words) in [
        ("apparmor", ["process", "apparmorProfile"], "docker-default", "AppArmor is not enabled"),
        ("selinux", ["process", "selinuxLabel"], "system_u:system_r:container_t:s0", "SELinux is not enabled"),
        ("mountlabel", ["linux", "mountLabel"], "system_u:object_r:container_file_t:s0", "SELinux is not enabled"),
    ] {
        if (name == "apparmor" && apparmor) || (name != "apparmor" && selinux) {
            eprintln!("row {name}: the host runs this module: the refusal is not tested here");
            continue;
        }
        let w = Work::new(name);
        let row = Row {
            name,
            script: "echo ran",
            config: &|c, _| set(c, &path, json!(value)),
            skip: if name == "mountlabel" {
                &[(Rt::Crun, "crun 1.8.1 drops a mountLabel it cannot apply")]
            } else {
                &[]
            },
            ..Default::default()
        };
        let (code, out, err) = compare(&w, &row);
        assert_eq!(code, Some(1), "{name}: {out}");
        assert!(err.contains(words) && err.contains(value), "{name}: {err}");
    }
}

/// A static C program built once (per test process) with the host's C
/// compiler, for what busybox cannot do, written into `dir` as `name`.
fn c_helper(name: &'static str, source: &'static str, dir: &Path) -> PathBuf {
    static BUILT: std::sync::Mutex<Vec<(&'static str, Vec<u8>)>> = std::sync::Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap();
    if !built.iter().any(|(n, _)| *n == name) {
        let tmp = temp_dir(&format!("oci-compat-cc-{name}"));
        let tmp = tmp.path();
        std::fs::write(tmp.join("src.c"), source).unwrap();
        let out =
            Command::new("cc").args(["-static", "-O2", "-o"]).arg(tmp.join("bin")).arg(tmp.join("src.c")).output();
        let bytes = std::fs::read(tmp.join("bin"));
        match (out, bytes) {
            (Ok(o), Ok(b)) if o.status.success() => built.push((name, b)),
            (other, _) => panic!("building {name} needs a C compiler with a static libc (cc -static): {other:?}"),
        }
    }
    let bytes = &built.iter().find(|(n, _)| *n == name).expect("built").1;
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    path
}

/// `sc N`: makes system call N and prints the result and errno (`sc 39` → `<pid> 0`),
/// written into `dir`.
fn syscall_helper(dir: &Path) -> PathBuf {
    c_helper(
        "sc",
        "#include <errno.h>\n#include <stdio.h>\n#include <stdlib.h>\n#include <unistd.h>\n\
         int main(int c, char **v) { long r = syscall(atol(v[1]), 0, 0, 0, 0, 0, 0);\n\
         printf(\"%ld %d\\n\", r, r < 0 ? errno : 0); return 0; }\n",
        dir,
    )
}

/// `below /proc/PID/ns/mnt`: enters that mount namespace, detaches the root the
/// runtime stacked on the namespace's own (`--no-pivot` moves the rootfs onto
/// `/`), enters again, and lists with listmount(2)/statmount(2) (Linux 6.8)
/// the mounts left underneath: `FSTYPE ROOT MOUNTPOINT` a line. Destroys the
/// container's view: for a container about to be deleted.
fn mounts_below_helper(dir: &Path) -> PathBuf {
    c_helper("below", include_str!("oci_compat_below.c"), dir)
}

/// Every syscall name of the native architecture the kernel headers list, but `except`.
fn all_syscalls_but(except: &[&str]) -> Vec<String> {
    let header = ["/usr/include/x86_64-linux-gnu/asm/unistd_64.h", "/usr/include/asm/unistd_64.h"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .expect("the kernel headers' unistd_64.h (linux-libc-dev)");
    header
        .lines()
        .filter_map(|l| l.strip_prefix("#define __NR_"))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| !except.contains(n))
        .map(String::from)
        .collect()
}

/// A seccomp agent (the `listenerPath` end of `SCMP_ACT_NOTIFY`) on a thread of the
/// test: for every notify descriptor it is sent, `mkdir`/`mkdirat` fail with
/// ENOMEDIUM and every other syscall goes on. It stops at its deadline.
struct Agent {
    path: PathBuf,
    states: std::sync::Arc<std::sync::Mutex<Vec<Value>>>,
}

impl Agent {
    fn start(path: PathBuf, deadline: Duration) -> Agent {
        let _ = std::fs::remove_file(&path);
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        listener.set_nonblocking(true).unwrap();
        let states = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = states.clone();
        let end = Instant::now() + deadline;
        std::thread::spawn(move || {
            while Instant::now() < end {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let seen = seen.clone();
                        std::thread::spawn(move || Agent::serve(stream, seen, end));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Agent { path, states }
    }

    fn serve(stream: std::os::unix::net::UnixStream, seen: std::sync::Arc<std::sync::Mutex<Vec<Value>>>, end: Instant) {
        use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
        use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
        stream.set_nonblocking(false).unwrap();
        let mut buf = vec![0u8; 65536];
        let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 4]);
        let (n, fd) = {
            let mut iov = [std::io::IoSliceMut::new(&mut buf)];
            let Ok(msg) = recvmsg::<()>(stream.as_raw_fd(), &mut iov, Some(&mut cmsg), MsgFlags::empty()) else {
                return;
            };
            let fd = msg.cmsgs().ok().and_then(|mut c| {
                c.find_map(|c| match c {
                    // SAFETY: SCM_RIGHTS just installed this descriptor in our table.
                    ControlMessageOwned::ScmRights(fds) => fds.first().map(|f| unsafe { OwnedFd::from_raw_fd(*f) }),
                    _ => None,
                })
            });
            (msg.bytes, fd)
        };
        if let Ok(v) = serde_json::from_slice::<Value>(&buf[..n]) {
            seen.lock().unwrap().push(v);
        }
        let Some(fd) = fd else { return };
        while Instant::now() < end {
            let mut pfd = [libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLIN, revents: 0 }];
            // SAFETY: poll on one pollfd we own.
            let r = unsafe { libc::poll(pfd.as_mut_ptr(), 1, 100) };
            if r <= 0 {
                continue;
            }
            if pfd[0].revents & libc::POLLHUP != 0 {
                return; // no process uses the filter any more
            }
            // SAFETY: zeroed plain-data structs filled by the kernel through the ioctls.
            let mut req: libc::seccomp_notif = unsafe { std::mem::zeroed() };
            if unsafe { libc::ioctl(fd.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_RECV, &mut req) } != 0 {
                continue;
            }
            let mut resp: libc::seccomp_notif_resp = unsafe { std::mem::zeroed() };
            resp.id = req.id;
            if req.data.nr == libc::SYS_mkdir as i32 || req.data.nr == libc::SYS_mkdirat as i32 {
                resp.error = -libc::ENOMEDIUM;
            } else {
                resp.flags = libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32;
            }
            // SAFETY: as above.
            unsafe { libc::ioctl(fd.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_SEND, &mut resp) };
        }
    }
}

fn notify_profile(names: &[&str], listener: &Path) -> Value {
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": seccomp_arches(),
        "listenerPath": listener,
        "listenerMetadata": "from-the-test",
        "syscalls": [{ "names": names, "action": "SCMP_ACT_NOTIFY" }]
    })
}

// 21. seccomp as runc's filter behaves: a syscall newer than the profile gets ENOSYS (libc
// then falls back) rather than the default action, defaultErrnoRet is the default's errno,
// and SCMP_ACT_NOTIFY reaches the agent for the init (also on write) and for exec
#[test]
fn seccomp_enosys_default_errno_and_notify() {
    root_test!(seccomp_enosys_default_errno_and_notify);
    let allow = all_syscalls_but(&["mkdir", "mkdirat"]);
    for (name, errno, mkdir_says) in [
        ("seccomp-enosys", None, "Operation not permitted"),
        ("seccomp-default-errno", Some(95), "Operation not supported"),
    ] {
        let w = Work::new(name);
        syscall_helper(&w.rootfs);
        let row = Row {
            name,
            script: "/sc 999; /sc 102; mkdir /tmp/x; echo mkdir=$?",
            config: &|c, _| {
                let mut p = json!({
                    "defaultAction": "SCMP_ACT_ERRNO",
                    "architectures": seccomp_arches(),
                    "syscalls": [{ "names": allow, "action": "SCMP_ACT_ALLOW" }]
                });
                if let Some(e) = errno {
                    p["defaultErrnoRet"] = json!(e);
                }
                set(c, &["linux", "seccomp"], p);
            },
            skip: &[(Rt::Crun, "crun 1.8.1 gives a syscall newer than the profile the default action, not ENOSYS")],
            ..Default::default()
        };
        let (code, out, _) = compare(&w, &row);
        assert_eq!(code, Some(0), "{name}: {out}");
        assert_eq!(
            out,
            format!("-1 38\n0 0\nmkdir: can't create directory '/tmp/x': {mkdir_says}\nmkdir=1\n"),
            "{name}"
        );
    }

    // notify: getcwd (checked by the runtime before the filter could hold it up), write (the
    // runtime's own writes after the filter, then the process's), mkdir (answered by the agent)
    let runc_write: &[(Rt, &str)] =
        &[(Rt::Runc, "runc 1.1.5 refuses SCMP_ACT_NOTIFY on write, which its init uses to sync (runc 1.2 allows it)")];
    for (name, names, script, expect, skip) in [
        ("notify-getcwd", vec!["getcwd"], "busybox pwd", "/tmp\n", &[][..]),
        ("notify-write", vec!["write"], "echo written", "written\n", runc_write),
        (
            "notify-mkdir",
            vec!["mkdir", "mkdirat"],
            "mkdir /tmp/x; echo mkdir=$?",
            "mkdir: can't create directory '/tmp/x': No medium found\nmkdir=1\n",
            &[][..],
        ),
    ] {
        let w = Work::new(name);
        let agent = Agent::start(w.dir.join("agent.sock"), Duration::from_secs(60));
        let row = Row {
            name,
            script,
            config: &|c, _| {
                set(c, &["linux", "seccomp"], notify_profile(&names, &agent.path));
                set(c, &["process", "cwd"], json!("/tmp"));
            },
            skip,
            ..Default::default()
        };
        let (code, out, _) = compare(&w, &row);
        assert_eq!((code, out.as_str()), (Some(0), expect), "{name}");
        let states = agent.states.lock().unwrap();
        assert!(!states.is_empty(), "{name}: the agent got no descriptor");
        let first = &states[0];
        assert_eq!(first["fds"], json!(["seccompFd"]), "{first}");
        assert_eq!(first["metadata"], "from-the-test", "{first}");
        assert!(first["state"]["id"].as_str().is_some_and(|i| i.ends_with("-rrun")), "{first}");
    }

    // an exec'd process is bound by the container's filter, agent included
    let w = Work::new("notify-exec");
    let agent = Agent::start(w.dir.join("agent.sock"), Duration::from_secs(60));
    let mut outs = Vec::new();
    for rt in RUNTIMES.into_iter().filter(|rt| rt.available()) {
        let mut c = base_config("");
        c["process"]["args"] = json!(["sleep", "30"]);
        set(&mut c, &["linux", "seccomp"], notify_profile(&["mkdir", "mkdirat"], &agent.path));
        let b = w.bundle(rt, &c);
        let id = w.id(rt, None);
        let created = w.cli(rt, &["create", "--bundle", b.to_str().unwrap(), &id]);
        assert_eq!(created.code, Some(0), "{}: {created:?}", rt.name());
        assert_eq!(w.cli(rt, &["start", &id]).code, Some(0));
        let out = w.cli(rt, &["exec", &id, "sh", "-c", "mkdir /tmp/y 2>&1; echo mkdir=$?"]);
        outs.push((rt, out.code, out.stdout));
        w.cli(rt, &["delete", "--force", &id]);
    }
    for (rt, code, out) in &outs {
        assert_eq!(
            (*code, out.as_str()),
            (Some(0), "mkdir: can't create directory '/tmp/y': No medium found\nmkdir=1\n"),
            "{}",
            rt.name()
        );
    }

    // no agent listening: create fails at once, saying so
    let w = Work::new("notify-noagent");
    let row = Row {
        name: "notify-noagent",
        script: "echo ran",
        config: &|c, w| set(c, &["linux", "seccomp"], notify_profile(&["mkdir"], &w.dir.join("nobody.sock"))),
        ..Default::default()
    };
    let (code, _, err) = compare(&w, &row);
    assert_eq!(code, Some(1));
    assert!(err.contains("failed to connect with seccomp agent"), "{err}");
}

/// `create` + `start` of `config` with every runtime, `f` run against each
/// running container, which is then deleted; returns what `f` returned, by runtime.
fn with_running<T>(w: &Work, config: &Value, create_args: &[&str], f: impl Fn(Rt, &str) -> T) -> Vec<(Rt, T)> {
    let mut out = Vec::new();
    for rt in RUNTIMES.into_iter().filter(|rt| rt.available()) {
        let b = w.bundle(rt, config);
        let id = w.id(rt, None);
        let mut args = vec!["create", "--bundle", b.to_str().unwrap()];
        args.extend_from_slice(create_args);
        args.push(&id);
        let created = w.cli(rt, &args);
        assert_eq!(created.code, Some(0), "{} create: {created:?}", rt.name());
        let started = w.cli(rt, &["start", &id]);
        assert_eq!(started.code, Some(0), "{} start: {started:?}", rt.name());
        out.push((rt, f(rt, &id)));
        w.cli(rt, &["delete", "--force", &id]);
    }
    out
}

/// A container's init PID, from `state`.
fn init_pid(w: &Work, rt: Rt, id: &str) -> i64 {
    status(w, rt, id).unwrap_or_else(|o| panic!("{} state {id}: {o:?}", rt.name())).1
}

// 22. namespaces: a PID namespace joined by path holds the process; without a mount
// namespace the process shares the runtime's and sees the rootfs by chroot (and mounts,
// which would be made on the host, are refused); a time namespace with clock offsets
#[test]
fn namespaces_by_path_inherited_and_time() {
    root_test!(namespaces_by_path_inherited_and_time);
    // A holds a PID namespace; B joins it by path under each runtime
    let w = Work::new("pidns");
    let mut a = base_config("");
    a["process"]["args"] = json!(["sleep", "60"]);
    let ab = w.bundle(Rt::Rrun, &a);
    let a_id = w.id(Rt::Rrun, None);
    assert_eq!(w.cli(Rt::Rrun, &["create", "--bundle", ab.to_str().unwrap(), &a_id]).code, Some(0));
    assert_eq!(w.cli(Rt::Rrun, &["start", &a_id]).code, Some(0));
    let a_pid = init_pid(&w, Rt::Rrun, &a_id);
    let a_ns = std::fs::read_link(format!("/proc/{a_pid}/ns/pid")).unwrap().display().to_string();
    let path = format!("/proc/{a_pid}/ns/pid");
    let row = Row {
        name: "pidns-path",
        script: "readlink /proc/self/ns/pid; tr '\\0' ' ' < /proc/1/cmdline; echo",
        config: &|c, _| {
            for ns in c["linux"]["namespaces"].as_array_mut().unwrap() {
                if ns["type"] == "pid" {
                    ns["path"] = json!(path);
                }
            }
        },
        ..Default::default()
    };
    let (code, out, _) = compare(&w, &row);
    assert_eq!(
        (code, out),
        (Some(0), format!("{a_ns}\nsleep 60 \n")),
        "the process and its /proc are in A's namespace"
    );

    // no mount namespace: chroot into the rootfs, nothing mounted
    let w = Work::new("nomntns");
    let no_mount_ns = |c: &mut Value| {
        c["linux"]["namespaces"].as_array_mut().unwrap().retain(|n| n["type"] != "mount");
    };
    let row = Row {
        name: "no-mount-ns",
        script: "ls /bin/busybox; ls /proc | wc -l",
        config: &|c, _| {
            no_mount_ns(c);
            set(c, &["mounts"], json!([]));
            set(c, &["linux", "maskedPaths"], json!([]));
            set(c, &["linux", "readonlyPaths"], json!([]));
        },
        skip: &[(
            Rt::Runc,
            "runc 1.1.5 needs a /proc in the rootfs to close descriptors, and makes a Spec's mounts in the host's namespace",
        )],
        ..Default::default()
    };
    let (code, out, _) = compare(&w, &row);
    assert_eq!((code, out.as_str()), (Some(0), "/bin/busybox\n0\n"));
    // rrun's process shares the runtime's mount namespace, rooted at the rootfs
    let mut c = base_config("");
    no_mount_ns(&mut c);
    c["process"]["args"] = json!(["sleep", "30"]);
    set(&mut c, &["mounts"], json!([]));
    set(&mut c, &["linux", "maskedPaths"], json!([]));
    set(&mut c, &["linux", "readonlyPaths"], json!([]));
    let b = w.bundle(Rt::Rrun, &c);
    let id = w.id(Rt::Rrun, None);
    assert_eq!(w.cli(Rt::Rrun, &["create", "--bundle", b.to_str().unwrap(), &id]).code, Some(0));
    let pid = init_pid(&w, Rt::Rrun, &id);
    assert_eq!(
        std::fs::read_link(format!("/proc/{pid}/ns/mnt")).unwrap(),
        std::fs::read_link("/proc/self/ns/mnt").unwrap()
    );
    assert_eq!(std::fs::read_link(format!("/proc/{pid}/root")).unwrap(), w.rootfs.canonicalize().unwrap());
    w.cli(Rt::Rrun, &["delete", "--force", &id]);
    // with mounts, refused by name before anything runs
    let mut c = base_config("echo ran");
    no_mount_ns(&mut c);
    let b = w.bundle(Rt::Rrun, &c);
    let id = w.id(Rt::Rrun, None);
    let out = w.cli(Rt::Rrun, &["run", "--bundle", b.to_str().unwrap(), &id]);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(out.stderr.contains("no mount namespace of its own") && out.stderr.contains("/proc"), "{out:?}");

    // a time namespace with offsets: runc 1.1.5 and crun 1.8.1 have no time namespace support
    let w = Work::new("timens");
    let row = Row {
        name: "time-offsets",
        script: "cat /proc/self/timens_offsets | tr -s ' '; cut -d. -f1 /proc/uptime",
        config: &|c, _| {
            push(c, &["linux", "namespaces"], json!({ "type": "time" }));
            set(
                c,
                &["linux", "timeOffsets"],
                json!({ "monotonic": { "secs": 86400, "nanosecs": 0 }, "boottime": { "secs": 1000000, "nanosecs": 5 } }),
            );
        },
        skip: &[
            (Rt::Runc, "runc 1.1.5 knows no time namespace (\"namespace time does not exist\")"),
            (Rt::Crun, "crun 1.8.1 fails a config with linux.timeOffsets"),
        ],
        ..Default::default()
    };
    let (code, out, _) = compare(&w, &row);
    assert_eq!(code, Some(0), "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(&lines[..2], ["monotonic 86400 0", "boottime 1000000 5"], "{out}");
    let uptime: u64 = lines[2].parse().unwrap();
    assert!(uptime >= 1_000_000, "boottime offset in /proc/uptime: {uptime}");
}

// 23. the process: umask, personality for exec'd processes too, the NUMA memory policy
// (runtime-spec 1.2), and what is refused (Intel RDT on a host without resctrl)
#[test]
fn umask_personality_memory_policy_and_intel_rdt() {
    root_test!(umask_personality_memory_policy_and_intel_rdt);
    let out = row_ok(Row {
        name: "umask",
        script: "grep Umask /proc/self/status; touch /tmp/f; stat -c %a /tmp/f",
        config: &|c, _| set(c, &["process", "user", "umask"], json!(0o077)),
        ..Default::default()
    });
    assert_eq!(out, "Umask:\t0077\n600\n");

    let w = Work::new("personality-exec");
    let mut c = base_config("");
    c["process"]["args"] = json!(["sleep", "30"]);
    set(&mut c, &["linux", "personality"], json!({ "domain": "LINUX32" }));
    let seen = with_running(&w, &c, &[], |rt, id| (rt, w.cli(rt, &["exec", id, "uname", "-m"])));
    for (rt, (_, out)) in seen {
        if rt == Rt::Runc {
            continue; // runc 1.1.5 ignores linux.personality (it came in runc 1.2)
        }
        if std::env::consts::ARCH == "x86_64" {
            assert_eq!((out.code, out.stdout.as_str()), (Some(0), "i686\n"), "{}", rt.name());
        }
    }

    let out = row_ok(Row {
        name: "memory-policy",
        script: "head -1 /proc/self/numa_maps | cut -d' ' -f2",
        config: &|c, _| set(c, &["linux", "memoryPolicy"], json!({ "mode": "MPOL_BIND", "nodes": "0" })),
        skip: &[
            (Rt::Runc, "runc 1.1.5 ignores linux.memoryPolicy (runtime-spec 1.2)"),
            (Rt::Crun, "crun 1.8.1 ignores linux.memoryPolicy (runtime-spec 1.2)"),
        ],
        ..Default::default()
    });
    assert_eq!(out, "bind:0\n");
    let w = Work::new("memory-policy-bad");
    let row = Row {
        name: "memory-policy-bad",
        script: "echo ran",
        config: &|c, _| set(c, &["linux", "memoryPolicy"], json!({ "mode": "MPOL_SOMETIMES", "nodes": "0" })),
        skip: &[(Rt::Runc, "ignores linux.memoryPolicy"), (Rt::Crun, "ignores linux.memoryPolicy")],
        ..Default::default()
    };
    let (code, _, err) = compare(&w, &row);
    assert_eq!(code, Some(1));
    assert!(err.contains("memoryPolicy") && err.contains("MPOL_SOMETIMES"), "{err}");

    if !std::path::Path::new("/sys/fs/resctrl/schemata").exists() {
        let w = Work::new("intel-rdt");
        let row = Row {
            name: "intel-rdt",
            script: "echo ran",
            config: &|c, _| set(c, &["linux", "intelRdt"], json!({ "closID": "x", "l3CacheSchema": "L3:0=f" })),
            skip: &[(Rt::Crun, "crun 1.8.1 drops an intelRdt it cannot apply")],
            ..Default::default()
        };
        let (code, _, err) = compare(&w, &row);
        assert_eq!(code, Some(1));
        assert!(err.contains("intelRdt") && err.contains("resctrl"), "{err}");
    }
}

// 24. the startContainer hook gets the process's environment when it names none
#[test]
fn start_container_hook_environment() {
    root_test!(start_container_hook_environment);
    let out = row_ok(Row {
        name: "hook-env",
        script: "grep -E '^(FOO|TERM)=' /tmp/hook.env",
        config: &|c, _| {
            set(c, &["process", "env"], json!(["PATH=/bin:/usr/bin", "FOO=bar", "TERM=xterm"]));
            set(
                c,
                &["hooks"],
                json!({ "startContainer": [{ "path": "/bin/sh", "args": ["sh", "-c", "env | sort > /tmp/hook.env"] }] }),
            );
        },
        ..Default::default()
    });
    assert_eq!(out, "FOO=bar\nTERM=xterm\n");
}

// 25. mounts: rootfsPropagation runbindable after pivot_root, a read-only /dev with its
// device nodes, --no-pivot without the host's /proc, and a bind source that only host root
// may reach in a user-namespaced container
#[test]
fn rootfs_propagation_readonly_dev_no_pivot_and_userns_binds() {
    root_test!(rootfs_propagation_readonly_dev_no_pivot_and_userns_binds);
    let out = row_ok(Row {
        name: "runbindable",
        script: "awk '$5 == \"/\" { print $7 }' /proc/self/mountinfo",
        config: &|c, _| set(c, &["linux", "rootfsPropagation"], json!("runbindable")),
        skip: &[
            (Rt::Runc, "runc 1.1.5 makes / unbindable before it binds the rootfs, which then fails with EINVAL"),
            (
                Rt::Crun,
                "crun 1.8.1 makes the tree unbindable before it masks paths with binds of /dev/null, which then fail",
            ),
        ],
        ..Default::default()
    });
    assert_eq!(out, "unbindable\n");
    let out = row_ok(Row {
        name: "readonly-dev",
        script:
            "grep ' /dev ' /proc/self/mountinfo | cut -d' ' -f6; ls /dev/null /dev/zero; touch /dev/x; echo touch=$?",
        config: &|c, _| c["mounts"][1]["options"].as_array_mut().unwrap().push(json!("ro")),
        ..Default::default()
    });
    assert_eq!(out, "ro,nosuid\n/dev/null\n/dev/zero\ntouch: /dev/x: Read-only file system\ntouch=1\n");

    // --no-pivot: below the rootfs moved onto /, the host's /proc and /sys are gone
    let w = Work::new("nopivot");
    let below = mounts_below_helper(&w.dir);
    let mut c = base_config("");
    c["process"]["args"] = json!(["sleep", "30"]);
    let left = with_running(&w, &c, &["--no-pivot"], |rt, id| {
        let pid = init_pid(&w, rt, id);
        let out = Command::new(&below).arg(format!("/proc/{pid}/ns/mnt")).output().expect("run the helper");
        assert!(out.status.success(), "{}: {out:?}", rt.name());
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.lines()
            .filter(|l| l.starts_with("proc / ") || l.starts_with("sysfs / "))
            .map(String::from)
            .collect::<Vec<_>>()
    });
    for (rt, l) in &left {
        assert!(l.is_empty(), "{}: the host's procfs or sysfs stays in the --no-pivot namespace: {l:?}", rt.name());
    }

    // a bind source under a directory only host root may search
    let w = Work::new("userns-bind");
    let private = w.dir.join("private");
    std::fs::create_dir_all(private.join("inner")).unwrap();
    std::fs::write(private.join("inner/f"), "reached\n").unwrap();
    std::fs::set_permissions(&private, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    std::fs::create_dir_all(w.rootfs.join("mnt/inner")).unwrap();
    let row = Row {
        name: "userns-bind",
        script: "cat /mnt/inner/f",
        config: &|c, w| {
            push(c, &["linux", "namespaces"], json!({ "type": "user" }));
            set(c, &["linux", "uidMappings"], json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]));
            set(c, &["linux", "gidMappings"], json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]));
            push(
                c,
                &["mounts"],
                json!({ "destination": "/mnt/inner", "type": "bind", "source": w.dir.join("private/inner"), "options": ["bind", "ro"] }),
            );
        },
        ..Default::default()
    };
    let (code, out, _) = compare(&w, &row);
    assert_eq!((code, out.as_str()), (Some(0), "reached\n"));
}

/// Listens on a unix socket for a console: returns the terminal's master side.
fn console_listener(path: &Path) -> std::thread::JoinHandle<Option<std::os::fd::OwnedFd>> {
    let _ = std::fs::remove_file(path);
    let listener = std::os::unix::net::UnixListener::bind(path).unwrap();
    std::thread::spawn(move || {
        use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
        use std::os::fd::{AsRawFd, FromRawFd};
        let (stream, _) = listener.accept().ok()?;
        let mut buf = [0u8; 256];
        let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 1]);
        let mut iov = [std::io::IoSliceMut::new(&mut buf)];
        let msg = recvmsg::<()>(stream.as_raw_fd(), &mut iov, Some(&mut cmsg), MsgFlags::empty()).ok()?;
        msg.cmsgs().ok()?.find_map(|c| match c {
            // SAFETY: SCM_RIGHTS just installed this descriptor in our table.
            ControlMessageOwned::ScmRights(fds) => {
                fds.first().map(|f| unsafe { std::os::fd::OwnedFd::from_raw_fd(*f) })
            }
            _ => None,
        })
    })
}

/// What a terminal shows until its process ends (or 10 s).
fn read_terminal(master: std::os::fd::OwnedFd) -> String {
    use std::io::Read;
    let mut f = std::fs::File::from(master);
    let mut out = Vec::new();
    let mut buf = [0u8; 1024];
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        match f.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&out).replace("\r\n", "\n")
}

// 26. terminals: owned by the process's user (its group stays devpts's tty group), sized
// as process.consoleSize asks, for the init and for an exec'd process
#[test]
fn terminal_owner_and_size() {
    root_test!(terminal_owner_and_size);
    let w = Work::new("tty");
    for rt in RUNTIMES.into_iter().filter(|rt| rt.available()) {
        let mut c = base_config("");
        c["process"]["terminal"] = json!(true);
        c["process"]["user"] = json!({ "uid": 1000, "gid": 1000 });
        c["process"]["consoleSize"] = json!({ "height": 33, "width": 77 });
        c["process"]["args"] = json!(["sh", "-c", "stat -c '%u %g' $(tty); stty size; sleep 30"]);
        let b = w.bundle(rt, &c);
        let id = w.id(rt, None);
        let sock = w.dir.join(format!("console-{}.sock", rt.name()));
        let got = console_listener(&sock);
        let created =
            w.cli(rt, &["create", "--bundle", b.to_str().unwrap(), "--console-socket", sock.to_str().unwrap(), &id]);
        assert_eq!(created.code, Some(0), "{}: {created:?}", rt.name());
        let master = got.join().unwrap().expect("a terminal");
        assert_eq!(w.cli(rt, &["start", &id]).code, Some(0));
        // an exec'd process with a terminal of its own
        let process = w.dir.join(format!("process-{}.json", rt.name()));
        std::fs::write(
            &process,
            serde_json::to_vec(&json!({
                "terminal": true, "user": { "uid": 1000, "gid": 1000 }, "cwd": "/",
                "consoleSize": { "height": 20, "width": 60 },
                "env": ["PATH=/bin:/usr/bin"],
                "args": ["sh", "-c", "stat -c '%u %g' $(tty); stty size"]
            }))
            .unwrap(),
        )
        .unwrap();
        let sock2 = w.dir.join(format!("console2-{}.sock", rt.name()));
        let got2 = console_listener(&sock2);
        let out = w.cli(
            rt,
            &[
                "exec",
                "--detach",
                "--console-socket",
                sock2.to_str().unwrap(),
                "--process",
                process.to_str().unwrap(),
                &id,
            ],
        );
        assert_eq!(out.code, Some(0), "{}: {out:?}", rt.name());
        let exec_text = read_terminal(got2.join().unwrap().expect("a terminal for exec"));
        w.cli(rt, &["kill", &id, "KILL"]);
        let init_text = read_terminal(master);
        assert!(init_text.starts_with("1000 5\n33 77\n"), "{}: init's terminal: {init_text:?}", rt.name());
        assert_eq!(exec_text, "1000 5\n20 60\n", "{}: exec's terminal", rt.name());
        w.cli(rt, &["delete", "--force", &id]);
    }
}

// 27. runc's command line: `spec` writes runc's config (field by field, but the hostname),
// `run ID` from inside a bundle with a --root that does not exist yet, -h on every verb,
// --version, and errors as runc shows them (logrus lines on stderr or in --log, --debug)
#[test]
fn command_line_as_runc() {
    root_test!(command_line_as_runc);
    let w = Work::new("cli");
    // spec
    for rootless in [false, true] {
        let mut texts = Vec::new();
        for rt in [Rt::Rrun, Rt::Runc] {
            if !rt.available() {
                continue;
            }
            let d = w.dir.join(format!("spec-{}-{rootless}", rt.name()));
            std::fs::create_dir_all(&d).unwrap();
            let mut args = vec!["spec", "--bundle", d.to_str().unwrap()];
            if rootless {
                args.push("--rootless");
            }
            let out = w.cli(rt, &args);
            assert_eq!(out.code, Some(0), "{} spec: {out:?}", rt.name());
            let mut v: Value = serde_json::from_slice(&std::fs::read(d.join("config.json")).unwrap()).unwrap();
            assert_eq!(v["hostname"], rt.name(), "each runtime names the host after itself");
            v["hostname"] = json!("");
            texts.push(v);
        }
        if texts.len() == 2 {
            assert_eq!(texts[0], texts[1], "rrun spec{} and runc's", if rootless { " --rootless" } else { "" });
        }
        assert_eq!(texts[0]["process"]["terminal"], true);
    }
    // a second spec is refused, and says why
    let d = w.dir.join("spec-rrun-false");
    let out = w.cli(Rt::Rrun, &["spec", "--bundle", d.to_str().unwrap()]);
    assert_eq!(out.code, Some(1));
    assert!(out.stderr.contains("exists"), "{out:?}");

    // `run ID` / `create ID` in the bundle directory, --root not made yet
    for rt in RUNTIMES.into_iter().filter(|rt| rt.available()) {
        let b = w.bundle(rt, &base_config("echo from-the-bundle"));
        let root = w.dir.join(format!("new-root-{}", rt.name()));
        let id = w.id(rt, None);
        let mut cmd = w.command_in(rt, &root, &["run", &id], None);
        cmd.current_dir(&b);
        let out = w.exec(cmd);
        assert_eq!((out.code, out.stdout.as_str()), (Some(0), "from-the-bundle\n"), "{}: {out:?}", rt.name());
        assert!(root.is_dir(), "{}: the state root was made", rt.name());
        let id = w.id(rt, None);
        let mut cmd = w.command_in(rt, &root, &["create", &id], None);
        cmd.current_dir(&b);
        assert_eq!(w.exec(cmd).code, Some(0), "{} create ID in the bundle", rt.name());
        let state = w.exec(w.command_in(rt, &root, &["state", &id], None));
        assert!(state.stdout.contains("\"created\""), "{}: {state:?}", rt.name());
        w.exec(w.command_in(rt, &root, &["delete", "--force", &id], None));
    }

    // -h and --help on every verb: the verb's help, exit 0
    for verb in [
        "create",
        "start",
        "run",
        "state",
        "kill",
        "delete",
        "exec",
        "ps",
        "list",
        "pause",
        "resume",
        "update",
        "events",
        "features",
        "spec",
        "checkpoint",
        "restore",
    ] {
        for flag in ["-h", "--help"] {
            let out = w.exec({
                let mut c = Command::new(RRUN);
                c.args(["oci", verb, flag]);
                c
            });
            assert_eq!(out.code, Some(0), "{verb} {flag}: {out:?}");
            assert!(out.stdout.contains("Usage:") && out.stdout.contains(verb), "{verb} {flag}: {}", out.stdout);
        }
    }
    // --version, shaped like runc's
    let out = w.exec({
        let mut c = Command::new(RRUN);
        c.args(["oci", "--version"]);
        c
    });
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(lines[0].starts_with("rrun version "), "{}", out.stdout);
    for (i, key) in [(1, "commit: "), (2, "spec: 1."), (4, "libseccomp: ")] {
        assert!(lines.get(i).is_some_and(|l| l.starts_with(key)), "{}", out.stdout);
    }

    // errors: a logrus line on stderr; with --log, the line there and the bare message on stderr
    let errors = |rt: Rt, extra: &[&str]| -> Out {
        let mut args = extra.to_vec();
        args.extend_from_slice(&["state", "no-such-container"]);
        w.cli(rt, &args)
    };
    for rt in [Rt::Rrun, Rt::Runc].into_iter().filter(|rt| rt.available()) {
        let out = errors(rt, &[]);
        assert_eq!(out.code, Some(1));
        let line = out.stderr.trim_end();
        assert!(line.starts_with("time=\"") && line.contains(" level=error msg=\""), "{}: {line}", rt.name());
        assert!(line.contains("does not exist"), "{}: {line}", rt.name());
        let out = errors(rt, &["--log-format", "json"]);
        let j: Value =
            serde_json::from_str(out.stderr.trim()).unwrap_or_else(|e| panic!("{}: {e}: {out:?}", rt.name()));
        assert_eq!(j["level"], "error");
        let log = w.dir.join(format!("{}.log", rt.name()));
        let out = errors(rt, &["--log", log.to_str().unwrap()]);
        assert!(!out.stderr.contains("level=") && out.stderr.contains("does not exist"), "{}: {out:?}", rt.name());
        let logged = std::fs::read_to_string(&log).unwrap();
        assert!(logged.contains("level=error msg=\"") && logged.contains("does not exist"), "{}: {logged}", rt.name());
    }
    // --debug: the launcher's steps in the log, in the log's format
    let log = w.dir.join("debug.json");
    let b = w.bundle(Rt::Rrun, &base_config("true"));
    let id = w.id(Rt::Rrun, None);
    let out = w.cli(
        Rt::Rrun,
        &[
            "--debug",
            "--log",
            log.to_str().unwrap(),
            "--log-format",
            "json",
            "run",
            "--bundle",
            b.to_str().unwrap(),
            &id,
        ],
    );
    assert_eq!(out.code, Some(0), "{out:?}");
    let lines: Vec<Value> =
        std::fs::read_to_string(&log).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(lines.iter().any(|l| l["level"] == "debug" && l["syscall"] == "pivot_root"), "{lines:?}");
}

// 28. the verbs as engines and scripts use them: kill 0 (alive?), kill of a detached
// container, exec's exit codes (the process's; 255 for the runtime's own failures, a paused
// container included), exec --process without a user, exec --cgroup, a relative --pid-file,
// ps with ps(1) options and as json
#[test]
fn verbs_as_runc_callers_use_them() {
    root_test!(verbs_as_runc_callers_use_them);
    let w = Work::new("verbs");
    let mut c = base_config("");
    c["process"]["args"] = json!(["sleep", "60"]);
    let mut seen: Vec<(Rt, Vec<String>)> = Vec::new();
    for rt in RUNTIMES.into_iter().filter(|rt| rt.available()) {
        let b = w.bundle(rt, &c);
        let id = w.id(rt, None);
        let mut steps = Vec::new();
        let mut step = |what: &str, out: &Out| steps.push(format!("{what}: {:?}", out.code));
        // detached, with a PID file relative to the caller's directory
        let cwd = w.dir.join(format!("cwd-{}", rt.name()));
        std::fs::create_dir_all(&cwd).unwrap();
        let mut cmd =
            w.command(rt, &["run", "--detach", "--bundle", b.to_str().unwrap(), "--pid-file", "init.pid", &id], None);
        cmd.current_dir(&cwd);
        let out = w.exec(cmd);
        step("run -d", &out);
        let pid = init_pid(&w, rt, &id);
        if rt != Rt::Crun {
            // crun 1.8.1 writes a relative --pid-file in the bundle directory
            let written: i64 =
                std::fs::read_to_string(cwd.join("init.pid")).unwrap_or_default().trim().parse().unwrap_or(-1);
            assert_eq!(written, pid, "{}: the PID file is where the caller is", rt.name());
        }
        step("kill 0", &w.cli(rt, &["kill", &id, "0"]));
        step("exec exit 7", &w.cli(rt, &["exec", &id, "sh", "-c", "exit 7"]));
        step("exec not found", &w.cli(rt, &["exec", &id, "no-such-command"]));
        step("exec bad cwd", &w.cli(rt, &["exec", "--cwd", "/no/such/dir", &id, "true"]));
        // a process.json without a user: root
        let p = w.dir.join(format!("p-{}.json", rt.name()));
        std::fs::write(&p, r#"{"args": ["sh", "-c", "id -u; exit 3"], "cwd": "/", "env": ["PATH=/bin"]}"#).unwrap();
        let out = w.cli(rt, &["exec", "--process", p.to_str().unwrap(), &id]);
        step(&format!("exec --process without user {:?}", out.stdout), &out);
        // a sub-cgroup made in the container's cgroup (by the host here)
        let dirs: Vec<PathBuf> = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
            .unwrap()
            .lines()
            .filter_map(|l| {
                let mut p = l.splitn(3, ':');
                let (_, ctrls, path) = (p.next()?, p.next()?, p.next()?);
                (ctrls == "memory").then(|| PathBuf::from("/sys/fs/cgroup/memory").join(path.trim_start_matches('/')))
            })
            .collect();
        let sub = dirs[0].join("sub");
        std::fs::create_dir_all(&sub).unwrap();
        let out = w.cli(rt, &["exec", "--cgroup", "memory:sub", &id, "sh", "-c", "grep memory /proc/self/cgroup"]);
        step(&format!("exec --cgroup memory:sub ends in /sub: {}", out.stdout.trim_end().ends_with("/sub")), &out);
        step("exec --cgroup missing", &w.cli(rt, &["exec", "--cgroup", "memory:nope", &id, "true"]));
        // ps: ps(1)'s output of the container's processes, or their PIDs
        let out = w.cli(rt, &["ps", &id, "-o", "pid,comm"]);
        step(
            &format!(
                "ps -o pid,comm {:?}",
                out.stdout.lines().map(|l| l.split_whitespace().last().unwrap_or("")).collect::<Vec<_>>()
            ),
            &out,
        );
        let out = w.cli(rt, &["ps", "--format", "json", &id]);
        let pids: Vec<i64> = serde_json::from_str(&out.stdout).unwrap_or_default();
        step(&format!("ps json has the init: {}", pids.contains(&pid)), &out);
        // paused: exec refused unless --ignore-paused
        step("pause", &w.cli(rt, &["pause", &id]));
        step("exec paused", &w.cli(rt, &["exec", &id, "true"]));
        step("resume", &w.cli(rt, &["resume", &id]));
        step("kill KILL", &w.cli(rt, &["kill", &id, "KILL"]));
        wait_for(Duration::from_secs(5), || status(&w, rt, &id).is_ok_and(|(s, _)| s == "stopped"));
        step("kill 0 stopped", &w.cli(rt, &["kill", &id, "0"]));
        step("delete", &w.cli(rt, &["delete", &id]));
        let _ = std::fs::remove_dir(&sub);
        seen.push((rt, steps));
    }
    let expect = [
        "run -d: Some(0)",
        "kill 0: Some(0)",
        "exec exit 7: Some(7)",
        "exec not found: Some(255)",
        "exec bad cwd: Some(255)",
        "exec --process without user \"0\\n\": Some(3)",
        "exec --cgroup memory:sub ends in /sub: true: Some(0)",
        "exec --cgroup missing: Some(255)",
        "ps -o pid,comm [\"COMMAND\", \"sleep\"]: Some(0)",
        "ps json has the init: true: Some(0)",
        "pause: Some(0)",
        "exec paused: Some(255)",
        "resume: Some(0)",
        "kill KILL: Some(0)",
        "kill 0 stopped: Some(1)",
        "delete: Some(0)",
    ];
    for (rt, steps) in &seen {
        let mut want: Vec<String> = expect.iter().map(|s| s.to_string()).collect();
        if *rt == Rt::Crun {
            // crun 1.8.1: exec --cgroup is ignored on a v1 host; ps takes no ps(1) options; a
            // refused exec into a paused container exits 1
            for (i, s) in [
                (6, "exec --cgroup memory:sub ends in /sub: false: Some(0)"),
                (7, "exec --cgroup missing: Some(0)"),
                (8, "ps -o pid,comm []: Some(1)"),
                (11, "exec paused: Some(1)"),
            ] {
                want[i] = s.to_string();
            }
        }
        assert_eq!(steps, &want, "{}", rt.name());
    }
}

// 29. hooks: a failing poststart or poststop hook is a warning, the other hooks and the
// lifecycle go on (runtime spec); a failing hook's error says "error running hook"
#[test]
fn failing_hooks_warn_or_fail_as_the_spec_says() {
    root_test!(failing_hooks_warn_or_fail_as_the_spec_says);
    let w = Work::new("hooks");
    let row = Row {
        name: "hooks-continue",
        script: "echo process",
        config: &|c, w| {
            let log = w.dir.join("hooks.log");
            let then = |what: &str| json!({ "path": "/bin/sh", "args": ["sh", "-c", format!("echo {what} >> {}", log.display())] });
            set(
                c,
                &["hooks"],
                json!({
                    "poststart": [{ "path": "/bin/false" }, then("poststart-after-failure")],
                    "poststop": [{ "path": "/bin/false" }, then("poststop-after-failure")]
                }),
            );
        },
        skip: &[(Rt::Runc, "runc 1.1.5 fails run on a failed poststart hook, against the runtime spec")],
        ..Default::default()
    };
    let log = w.dir.join("hooks.log");
    let (code, out, err) = compare(&w, &row);
    assert_eq!((code, out.as_str()), (Some(0), "process\n"));
    assert!(err.contains("level=warning") && err.contains("error running poststart hook #0"), "{err}");
    let ran = std::fs::read_to_string(&log).unwrap();
    let per_runtime = ["poststart-after-failure", "poststop-after-failure"];
    let runs = ran.lines().count() / 2;
    assert_eq!(ran, per_runtime.map(|l| format!("{l}\n")).concat().repeat(runs), "{ran}");
    assert!(runs >= 1);
    // a failing createRuntime hook fails create, in runc's words
    let row = Row {
        name: "hooks-fail",
        script: "echo process",
        config: &|c, _| set(c, &["hooks"], json!({ "createRuntime": [{ "path": "/bin/false" }] })),
        skip: &[(Rt::Crun, "crun 1.8.1 exits 255 on a failed hook")],
        ..Default::default()
    };
    let (code, _, err) = compare(&w, &row);
    assert_eq!(code, Some(1));
    assert!(err.contains("error running hook"), "{err}");
}

// 30. events: stats at once and every interval, an "oom" event when the OOM killer strikes in
// the container; rrun's stream ends with the container
#[test]
fn events_stream_and_report_oom() {
    root_test!(events_stream_and_report_oom);
    let w = Work::new("events");
    let mut c = base_config("");
    c["process"]["args"] = json!(["sh", "-c", "sleep 1; tail /dev/zero; sleep 2"]);
    set(&mut c, &["linux", "resources", "memory"], json!({ "limit": 16 << 20, "swap": 16 << 20 }));
    for rt in [Rt::Rrun, Rt::Runc].into_iter().filter(|rt| rt.available()) {
        let b = w.bundle(rt, &c);
        let id = w.id(rt, None);
        assert_eq!(w.cli(rt, &["create", "--bundle", b.to_str().unwrap(), &id]).code, Some(0));
        let out_file = w.dir.join(format!("events-{}", rt.name()));
        let mut events = w
            .command(rt, &["events", "--interval", "1s", &id], None)
            .stdout(std::fs::File::create(&out_file).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(w.cli(rt, &["start", &id]).code, Some(0));
        let got_oom = wait_for(Duration::from_secs(15), || {
            std::fs::read_to_string(&out_file).unwrap_or_default().lines().any(|l| l.contains("\"oom\""))
        });
        // runc's stream goes on; rrun's ends with the container
        let ended = rt == Rt::Rrun && wait_for(Duration::from_secs(10), || events.try_wait().ok().flatten().is_some());
        let _ = events.kill();
        let _ = events.wait();
        let text = std::fs::read_to_string(&out_file).unwrap();
        assert!(got_oom, "{}: no oom event: {text}", rt.name());
        let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert!(lines.iter().any(|l| l["type"] == "stats" && l["id"] == id.as_str()), "{}: {text}", rt.name());
        assert!(lines.iter().any(|l| l["type"] == "oom" && l["id"] == id.as_str()), "{}: {text}", rt.name());
        if rt == Rt::Rrun {
            assert!(ended, "rrun events goes on after the container stopped");
        }
        w.cli(rt, &["delete", "--force", &id]);
    }
}

/// The (major, minor) of the block device holding `path`.
fn block_device_of(path: &Path) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    let dev = std::fs::metadata(path).unwrap().dev();
    (libc::major(dev) as u64, libc::minor(dev) as u64)
}

/// This host's v1 hierarchies (mount points) and its v2 mount, if any.
fn cgroup_mounts() -> (Vec<PathBuf>, Option<PathBuf>) {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let mut v1 = Vec::new();
    let mut v2 = None;
    for l in info.lines() {
        let Some((left, right)) = l.split_once(" - ") else { continue };
        let mp = PathBuf::from(left.split(' ').nth(4).unwrap_or(""));
        match right.split(' ').next() {
            Some("cgroup") => v1.push(mp),
            Some("cgroup2") => v2 = Some(mp),
            _ => {}
        }
    }
    (v1, v2)
}

// 31. cgroup v1 resources are applied where their controller is mounted and refused, naming
// it, where not: memory swappiness and the OOM killer, blkio weight (BFQ's here) and
// throttles, hugetlb (on the v2 mount of this hybrid host), net_cls and net_prio
#[test]
fn cgroup_v1_resources_applied_or_refused() {
    root_test!(cgroup_v1_resources_applied_or_refused);
    let (v1, _) = cgroup_mounts();
    if v1.is_empty() {
        skip(
            "cgroup_v1_resources_applied_or_refused",
            "no cgroup v1 hierarchies here: scripts/v2-vm/checks.sh covers cgroup v2",
        );
        return;
    }
    let w = Work::new("v1res");
    let (major, minor) = block_device_of(&w.rootfs);
    let dev = format!("{major}:{minor}");
    let out = {
        let row = Row {
            name: "v1-memory-blkio",
            script: "cat /sys/fs/cgroup/memory/memory.swappiness; grep oom_kill_disable /sys/fs/cgroup/memory/memory.oom_control; \
                     cat /sys/fs/cgroup/blkio/blkio.throttle.read_bps_device /sys/fs/cgroup/blkio/blkio.throttle.write_iops_device",
            config: &|c, _| {
                set(c, &["linux", "resources", "memory"], json!({ "swappiness": 10, "disableOOMKiller": true }));
                set(
                    c,
                    &["linux", "resources", "blockIO"],
                    json!({
                        "throttleReadBpsDevice": [{ "major": major, "minor": minor, "rate": 1048576 }],
                        "throttleWriteIOPSDevice": [{ "major": major, "minor": minor, "rate": 100 }]
                    }),
                );
            },
            ..Default::default()
        };
        let (code, out, _) = compare(&w, &row);
        assert_eq!(code, Some(0), "{out}");
        out
    };
    assert_eq!(out, format!("10\noom_kill_disable 1\n{dev} 1048576\n{dev} 100\n"));
    // the weight: CFQ's blkio.weight is gone from this kernel; BFQ's takes it (as with runc)
    let bfq =
        v1.iter().any(|m| m.join("rrun").join("blkio.bfq.weight").exists() || m.join("blkio.bfq.weight").exists());
    let w = Work::new("v1-blkio-weight");
    let row = Row {
        name: "v1-blkio-weight",
        script: "cat /sys/fs/cgroup/blkio/blkio.bfq.weight 2>/dev/null || cat /sys/fs/cgroup/blkio/blkio.weight",
        config: &|c, _| set(c, &["linux", "resources", "blockIO"], json!({ "weight": 500 })),
        skip: &[(Rt::Crun, "crun 1.8.1 writes blkio.weight only, which this kernel does not have")],
        ..Default::default()
    };
    let (code, out, err) = compare(&w, &row);
    if bfq || code == Some(0) {
        assert_eq!((code, out.as_str()), (Some(0), "500\n"), "{err}");
    } else {
        assert!(err.contains("blkio"), "{err}");
    }
    // hugetlb: where it is mounted (v1, or v2 on this hybrid host)
    let w = Work::new("hugetlb");
    let row = Row {
        name: "hugetlb",
        script: "cat /sys/fs/cgroup/unified/hugetlb.2MB.max 2>/dev/null || cat /sys/fs/cgroup/hugetlb/hugetlb.2MB.limit_in_bytes",
        config: &|c, _| set(c, &["linux", "resources", "hugepageLimits"], json!([{ "pageSize": "2MB", "limit": 4194304 }])),
        skip: &[
            (Rt::Runc, "runc 1.1.5 cannot set hugetlb on the v2 mount of a hybrid host (\"could not join or create cgroup\")"),
            (Rt::Crun, "crun 1.8.1 refuses hybrid hosts; without the v2 mount there is no hugetlb hierarchy"),
        ],
        ..Default::default()
    };
    let (code, out, err) = compare(&w, &row);
    if std::path::Path::new("/sys/fs/cgroup/hugetlb").exists()
        || std::fs::read_to_string("/sys/fs/cgroup/unified/cgroup.controllers").is_ok_and(|c| c.contains("hugetlb"))
    {
        assert_eq!((code, out.as_str()), (Some(0), "4194304\n"), "{err}");
    } else {
        assert_eq!(code, Some(1));
        assert!(err.contains("hugetlb"), "{err}");
    }
    // net_cls and net_prio, not mounted here: refused by name
    for (name, what, controller) in [
        ("net-cls", json!({ "classID": 1048577 }), "net_cls"),
        ("net-prio", json!({ "priorities": [{ "name": "lo", "priority": 5 }] }), "net_prio"),
    ] {
        if v1.iter().any(|m| m.to_string_lossy().contains(controller)) {
            eprintln!("row {name}: {controller} is mounted here: the refusal is not tested");
            continue;
        }
        let w = Work::new(name);
        let row = Row {
            name,
            script: "echo ran",
            config: &|c, _| set(c, &["linux", "resources", "network"], what.clone()),
            ..Default::default()
        };
        let (code, _, err) = compare(&w, &row);
        assert_eq!(code, Some(1), "{name}");
        assert!(err.contains(controller), "{name}: {err}");
    }
}

/// Makes `rel` in every cgroup hierarchy (cpuset's filled in); returns the directories.
fn make_cgroup(rel: &str) -> Vec<PathBuf> {
    let (v1, v2) = cgroup_mounts();
    let mut dirs = Vec::new();
    for m in v1.iter().chain(v2.iter()) {
        let d = m.join(rel);
        std::fs::create_dir_all(&d).unwrap();
        for f in ["cpuset.cpus", "cpuset.mems"] {
            if d.join(f).exists() && std::fs::read_to_string(d.join(f)).unwrap_or_default().trim().is_empty() {
                std::fs::write(d.join(f), std::fs::read_to_string(m.join(f)).unwrap().trim()).unwrap();
            }
        }
        dirs.push(d);
    }
    dirs
}

fn remove_cgroup(dirs: &[PathBuf]) {
    for d in dirs {
        for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
            if e.path().is_dir() {
                let _ = std::fs::remove_dir(e.path());
            }
        }
        let _ = std::fs::remove_dir(d);
    }
}

// 32. a cgroup that exists already: a frozen one is refused (its init would hang); one with
// processes is used, with a warning, and its processes are not the container's to kill;
// `delete --force` takes sub-cgroups (and their processes) along
#[test]
fn existing_cgroups_and_sub_cgroups() {
    root_test!(existing_cgroups_and_sub_cgroups);
    let (v1, _) = cgroup_mounts();
    let Some(freezer) = v1.iter().find(|m| m.ends_with("freezer")).cloned() else {
        skip("existing_cgroups_and_sub_cgroups", "no v1 freezer here: scripts/v2-vm/checks.sh covers cgroup v2");
        return;
    };
    let w = Work::new("cgexisting");
    let rel = format!("rrun-test-frozen-{}", std::process::id());
    let dirs = make_cgroup(&rel);
    std::fs::write(freezer.join(&rel).join("freezer.state"), "FROZEN").unwrap();
    let row = Row {
        name: "frozen-cgroup",
        script: "echo ran",
        config: &|c, _| set(c, &["linux", "cgroupsPath"], json!(format!("/{rel}"))),
        skip: &[(Rt::Crun, "crun 1.8.1 starts the container in the frozen cgroup, where it hangs")],
        ..Default::default()
    };
    let (code, _, err) = compare(&w, &row);
    std::fs::write(freezer.join(&rel).join("freezer.state"), "THAWED").unwrap();
    assert_eq!(code, Some(1));
    assert!(err.contains("container's cgroup unexpectedly frozen"), "{err}");
    // busy: a process of the host's in it
    let mut sleeper = Command::new("sleep").arg("60").spawn().unwrap();
    for d in &dirs {
        std::fs::write(d.join("cgroup.procs"), sleeper.id().to_string()).unwrap();
    }
    let b = w.bundle(Rt::Rrun, &{
        let mut c = base_config("echo ran");
        set(&mut c, &["linux", "cgroupsPath"], json!(format!("/{rel}")));
        c
    });
    let id = w.id(Rt::Rrun, None);
    let out = w.cli(Rt::Rrun, &["run", "--bundle", b.to_str().unwrap(), &id]);
    let alive = sleeper.try_wait().unwrap().is_none();
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    remove_cgroup(&dirs);
    assert_eq!((out.code, out.stdout.as_str()), (Some(0), "ran\n"), "{out:?}");
    assert!(out.stderr.contains("container's cgroup is not empty: 1 process(es) found"), "{out:?}");
    assert!(alive, "the host's process in the cgroup was killed with the container");

    // delete --force with a sub-cgroup holding an exec'd process
    let w = Work::new("subcg");
    let mut c = base_config("");
    c["process"]["args"] = json!(["sleep", "60"]);
    let left = with_running(&w, &c, &[], |rt, id| {
        let pid = init_pid(&w, rt, id);
        let own: Vec<PathBuf> = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
            .unwrap()
            .lines()
            .filter_map(|l| {
                let mut p = l.splitn(3, ':');
                let (_, ctrls, path) = (p.next()?, p.next()?, p.next()?);
                let ctrl = ctrls.split(',').find(|c| ["memory", "pids", "cpu", "freezer"].contains(c))?;
                let mount = v1
                    .iter()
                    .find(|m| m.file_name().is_some_and(|n| n.to_string_lossy().split(',').any(|x| x == ctrl)))?;
                Some(mount.join(path.trim_start_matches('/')))
            })
            .collect();
        let pidfile = w.dir.join(format!("exec-{}.pid", rt.name()));
        let out = w.cli(rt, &["exec", "--detach", "--pid-file", pidfile.to_str().unwrap(), id, "sleep", "60"]);
        assert_eq!(out.code, Some(0), "{}: {out:?}", rt.name());
        let exec_pid = std::fs::read_to_string(&pidfile).unwrap().trim().to_string();
        for d in &own {
            std::fs::create_dir_all(d.join("sub")).unwrap();
            std::fs::write(d.join("sub/cgroup.procs"), &exec_pid).unwrap();
        }
        let out = w.cli(rt, &["delete", "--force", id]);
        let gone = wait_for(Duration::from_secs(5), || {
            std::fs::read_to_string(format!("/proc/{exec_pid}/stat")).map(|s| s.contains(") Z ")).unwrap_or(true)
        });
        (out.code, own.iter().filter(|d| d.exists()).cloned().collect::<Vec<_>>(), gone)
    });
    for (rt, (code, dirs, gone)) in left {
        assert_eq!(code, Some(0), "{}: delete --force", rt.name());
        assert!(dirs.is_empty(), "{}: cgroups left: {dirs:?}", rt.name());
        assert!(gone, "{}: the process in the sub-cgroup lives on", rt.name());
    }
}

/// A process's cgroup directory in the v1 hierarchy holding `controller`.
fn v1_dir_of(pid: i64, controller: &str) -> Option<PathBuf> {
    let (v1, _) = cgroup_mounts();
    std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?.lines().find_map(|l| {
        let mut p = l.splitn(3, ':');
        let (_, ctrls, path) = (p.next()?, p.next()?, p.next()?);
        ctrls.split(',').any(|c| c == controller).then_some(())?;
        let mount = v1
            .iter()
            .find(|m| m.file_name().is_some_and(|n| n.to_string_lossy().split(',').any(|x| x == controller)))?;
        Some(mount.join(path.trim_start_matches('/')))
    })
}

// 33. update: memory (-1 is unlimited; swap after memory in the order the kernel accepts),
// the CPU period alone, an invalid period refused, quota -1, real-time period and runtime,
// pids -1, the blkio weight; and device rules changed by minimal transitions, so that a
// process using /dev/null never sees it denied
#[test]
fn update_limits_as_runc() {
    root_test!(update_limits_as_runc);
    let (v1, _) = cgroup_mounts();
    if v1.is_empty() {
        skip("update_limits_as_runc", "no cgroup v1 hierarchies here: scripts/v2-vm/checks.sh covers cgroup v2");
        return;
    }
    let w = Work::new("update");
    let mut c = base_config("");
    c["process"]["args"] = json!(["sleep", "60"]);
    let steps: Vec<(&str, Vec<&str>, &str, &[&str])> = vec![
        ("memory -1", vec!["--memory", "-1"], "memory", &["memory.limit_in_bytes"]),
        (
            "memory+swap",
            vec!["--memory", "67108864", "--memory-swap", "134217728"],
            "memory",
            &["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"],
        ),
        (
            "memory up past swap",
            vec!["--memory", "268435456", "--memory-swap", "536870912"],
            "memory",
            &["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"],
        ),
        ("reservation", vec!["--memory-reservation", "33554432"], "memory", &["memory.soft_limit_in_bytes"]),
        ("period alone", vec!["--cpu-period", "50000"], "cpu", &["cpu.cfs_period_us", "cpu.cfs_quota_us"]),
        ("invalid period", vec!["--cpu-period", "500"], "cpu", &["cpu.cfs_period_us"]),
        ("quota", vec!["--cpu-quota", "20000"], "cpu", &["cpu.cfs_quota_us"]),
        ("quota -1", vec!["--cpu-quota", "-1"], "cpu", &["cpu.cfs_quota_us"]),
        ("shares", vec!["--cpu-share", "512"], "cpu", &["cpu.shares"]),
        (
            "rt",
            vec!["--cpu-rt-period", "900000", "--cpu-rt-runtime", "500"],
            "cpu",
            &["cpu.rt_period_us", "cpu.rt_runtime_us"],
        ),
        ("cpuset", vec!["--cpuset-cpus", "0"], "cpuset", &["cpuset.cpus"]),
        ("pids", vec!["--pids-limit", "77"], "pids", &["pids.max"]),
        ("pids -1", vec!["--pids-limit", "-1"], "pids", &["pids.max"]),
    ];
    let seen = with_running(&w, &c, &[], |rt, id| {
        let pid = init_pid(&w, rt, id);
        let mut out = Vec::new();
        for (name, args, controller, files) in &steps {
            let mut a = vec!["update"];
            a.extend_from_slice(args);
            a.push(id);
            let r = w.cli(rt, &a);
            let dir = v1_dir_of(pid, controller).unwrap();
            let values: Vec<String> = files
                .iter()
                .map(|f| {
                    std::fs::read_to_string(dir.join(f)).map(|v| v.trim().to_string()).unwrap_or_else(|e| e.to_string())
                })
                .collect();
            out.push(format!("{name}: exit {:?} {}", r.code, values.join(" ")));
        }
        out
    });
    let rrun = &seen[0].1;
    let g = 1 << 30;
    assert_eq!(rrun[0], "memory -1: exit Some(0) 9223372036854771712", "{rrun:#?}");
    assert_eq!(rrun[2], format!("memory up past swap: exit Some(0) {} {}", g / 4, g / 2));
    assert_eq!(rrun[5], "invalid period: exit Some(1) 50000");
    assert_eq!(rrun[9], "rt: exit Some(0) 900000 500");
    assert_eq!(rrun[12], "pids -1: exit Some(0) max");
    for (rt, s) in &seen[1..] {
        let mut want = rrun.clone();
        if *rt == Rt::Crun {
            // crun 1.8.1 takes no negative numbers on its command line
            want[7] = "quota -1: exit Some(1) 20000".into();
            want[12] = "pids -1: exit Some(1) 77".into();
        }
        assert_eq!(s, &want, "{} and rrun", rt.name());
    }

    // device rules: the same rules again (and one more) while a process writes /dev/null
    let w = Work::new("update-devices");
    let mut c = base_config("");
    c["process"]["args"] = json!(["sleep", "60"]);
    let rules = json!({ "devices": [
        { "allow": false, "access": "rwm" },
        { "allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm" },
        { "allow": true, "type": "c", "major": 1, "minor": 5, "access": "rwm" }
    ]});
    set(&mut c, &["linux", "resources"], rules.clone());
    let res = w.dir.join("devices.json");
    let mut more = rules.clone();
    more["devices"]
        .as_array_mut()
        .unwrap()
        .push(json!({ "allow": true, "type": "c", "major": 10, "minor": 229, "access": "rw" }));
    let seen = with_running(&w, &c, &[], |rt, id| {
        let log = format!("/tmp/loop-{}", rt.name());
        let out = w.cli(
            rt,
            &["exec", "--detach", id, "sh", "-c", &format!("while echo > /dev/null; do :; done; echo denied > {log}")],
        );
        assert_eq!(out.code, Some(0), "{}: {out:?}", rt.name());
        for i in 0..40 {
            std::fs::write(&res, serde_json::to_vec(if i == 39 { &more } else { &rules }).unwrap()).unwrap();
            let u = w.cli(rt, &["update", "--resources", res.to_str().unwrap(), id]);
            assert_eq!(u.code, Some(0), "{}: {u:?}", rt.name());
        }
        let denied = w.cli(rt, &["exec", id, "cat", &log]).stdout;
        let list = v1_dir_of(init_pid(&w, rt, id), "devices")
            .map(|d| std::fs::read_to_string(d.join("devices.list")).unwrap_or_default())
            .unwrap_or_default();
        (denied, list)
    });
    for (rt, (denied, list)) in seen {
        if rt == Rt::Crun {
            // crun 1.8.1 writes "deny all" and then each rule: /dev/null is denied in between
            continue;
        }
        assert_eq!(denied, "", "{}: /dev/null was denied during an update", rt.name());
        if rt == Rt::Rrun {
            assert!(list.lines().any(|l| l == "c 10:229 rw") && list.lines().any(|l| l == "c 1:3 rwm"), "{list}");
        }
    }
}

// 34. checkpoint and restore with CRIU: runc's verbs and flags. Where CRIU can work (`criu
// check`), a round trip; where it cannot (this VM's kernel: "vdso: Failed to fill self vdso
// symtable"), the options, the image and work directories, and the error as runc reports it
#[test]
fn checkpoint_and_restore_with_criu() {
    root_test!(checkpoint_and_restore_with_criu);
    if find_program("criu").is_none() {
        // the rest still runs: option errors, and the error rrun reports as runc does
        skip("checkpoint_and_restore_with_criu (the CRIU part)", "criu is not installed (apt-get install criu)");
    }
    let criu_works = Command::new("criu").arg("check").output().is_ok_and(|o| o.status.success());
    let w = Work::new("criu");
    let mut c = base_config("");
    c["process"]["args"] = json!(["sh", "-c", "i=0; while :; do i=$((i+1)); echo $i > /tmp/count; sleep 0.1; done"]);
    for rt in [Rt::Rrun, Rt::Runc].into_iter().filter(|rt| rt.available()) {
        let b = w.bundle(rt, &c);
        let id = w.id(rt, None);
        // not running yet: nothing to checkpoint
        assert_eq!(w.cli(rt, &["create", "--bundle", b.to_str().unwrap(), &id]).code, Some(0));
        let out = w.cli(rt, &["checkpoint", "--image-path", w.dir.join("never").to_str().unwrap(), &id]);
        assert_eq!(out.code, Some(1), "{}: checkpoint of a created container: {out:?}", rt.name());
        assert_eq!(w.cli(rt, &["start", &id]).code, Some(0));
        if rt == Rt::Rrun {
            let out = w.cli(rt, &["checkpoint", "--manage-cgroups-mode", "loose", &id]);
            assert_eq!(out.code, Some(1));
            assert!(out.stderr.contains("manage-cgroups-mode") && out.stderr.contains("soft"), "{out:?}");
            let out = w.cli(rt, &["checkpoint", "--page-server", "nowhere", &id]);
            assert!(out.code == Some(1) && out.stderr.contains("ADDRESS:PORT"), "{out:?}");
        }
        let image = w.dir.join(format!("image-{}", rt.name()));
        let work = w.dir.join(format!("work-{}", rt.name()));
        let out = w.cli(
            rt,
            &[
                "checkpoint",
                "--image-path",
                image.to_str().unwrap(),
                "--work-path",
                work.to_str().unwrap(),
                "--file-locks",
                &id,
            ],
        );
        assert!(image.is_dir() && work.is_dir(), "{}: the image and work directories", rt.name());
        assert!(image.join("descriptors.json").is_file(), "{}: descriptors.json", rt.name());
        if criu_works {
            assert_eq!(out.code, Some(0), "{}: {out:?}", rt.name());
            assert!(status(&w, rt, &id).is_err(), "{}: checkpointed and gone", rt.name());
            let out = w.cli(
                rt,
                &[
                    "restore",
                    "--detach",
                    "--image-path",
                    image.to_str().unwrap(),
                    "--work-path",
                    work.to_str().unwrap(),
                    "--bundle",
                    b.to_str().unwrap(),
                    &id,
                ],
            );
            assert_eq!(out.code, Some(0), "{}: restore: {out:?}", rt.name());
            assert_eq!(status(&w, rt, &id).unwrap().0, "running", "{}", rt.name());
        } else {
            // CRIU fails: the error is runc's, the log is named, and the container runs on
            assert_eq!(out.code, Some(1), "{}: {out:?}", rt.name());
            assert!(out.stderr.contains("criu failed: type DUMP"), "{}: {}", rt.name(), out.stderr);
            assert!(out.stderr.contains(&work.join("dump.log").display().to_string()), "{}: {}", rt.name(), out.stderr);
            assert!(work.join("dump.log").is_file());
            assert_eq!(status(&w, rt, &id).unwrap().0, "running", "{}: a failed dump leaves it running", rt.name());
            if rt == Rt::Rrun {
                let log = std::fs::read_to_string(work.join("dump.log")).unwrap();
                let first = log.lines().find(|l| l.contains("Error (")).unwrap_or_default();
                assert!(out.stderr.contains(first.trim()), "the first CRIU error is quoted: {}", out.stderr);
                // restore: images that are not there, then CRIU's own failure; nothing stays behind
                let id2 = w.id(rt, None);
                let empty = w.dir.join("no-images");
                let out = w.cli(
                    rt,
                    &["restore", "--image-path", empty.to_str().unwrap(), "--bundle", b.to_str().unwrap(), &id2],
                );
                assert!(out.code == Some(1) && out.stderr.contains("no checkpoint images"), "{out:?}");
                std::fs::write(image.join("inventory.img"), b"").unwrap();
                let out = w.cli(
                    rt,
                    &[
                        "restore",
                        "--image-path",
                        image.to_str().unwrap(),
                        "--work-path",
                        work.to_str().unwrap(),
                        "--bundle",
                        b.to_str().unwrap(),
                        &id2,
                    ],
                );
                assert!(out.code == Some(1) && out.stderr.contains("criu failed: type RESTORE"), "{out:?}");
                assert!(status(&w, rt, &id2).is_err(), "a failed restore leaves no container");
                assert!(cgroup_dirs(&format!("rrun/{id2}")).is_empty(), "a failed restore leaves no cgroup");
            }
        }
        w.cli(rt, &["delete", "--force", &id]);
    }
    // the default image path is ./checkpoint
    let b = w.bundle(Rt::Rrun, &c);
    let id = w.id(Rt::Rrun, None);
    assert_eq!(w.cli(Rt::Rrun, &["run", "--detach", "--bundle", b.to_str().unwrap(), &id]).code, Some(0));
    let cwd = w.dir.join("cwd");
    std::fs::create_dir_all(&cwd).unwrap();
    let mut cmd = w.command(Rt::Rrun, &["checkpoint", "--leave-running", &id], None);
    cmd.current_dir(&cwd);
    let out = w.exec(cmd);
    assert!(cwd.join("checkpoint/descriptors.json").is_file(), "{out:?}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(cwd.join("checkpoint")).unwrap().permissions().mode() & 0o777, 0o700);
    assert_eq!(status(&w, Rt::Rrun, &id).unwrap().0, "running", "--leave-running");
}
