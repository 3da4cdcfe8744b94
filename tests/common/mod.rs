//! Shared helpers for the integration tests: fixtures, a temporary store per
//! test, and running the `rrun` binary. These tests need root (namespaces,
//! mounts) and the programs scripts/test.sh installs. A test that cannot run
//! ends through [`skip`]: outside CI it says `SKIP` and passes; with `CI` set
//! (scripts/test.sh sets it) it fails, naming what was missing, so CI never
//! reports a pass that ran nothing. What no CI host can have (a GPU) is
//! `#[ignore]`d with its reason instead.
#![allow(dead_code)]

pub mod podman;
pub mod reader;
pub mod registry;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

pub const RRUN: &str = env!("CARGO_BIN_EXE_rrun");

/// True in CI: the environment variable `CI` is set to something other than
/// "", "0" or "false" (scripts/test.sh exports CI=1; CI services set it too).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false"))
}

/// `test` cannot run here, because `why`: outside CI this prints
/// `SKIP test: why` and returns (the caller then returns too); in CI it
/// panics with the reason: a test that ran nothing must not pass there.
#[track_caller]
pub fn skip(test: &str, why: impl std::fmt::Display) {
    if in_ci() {
        panic!("{test} cannot run: {why} (CI is set: every test must run there; unset CI to skip it)");
    }
    eprintln!("SKIP {test}: {why}");
}

/// True when running as root; otherwise [`skip`]s (a failure in CI).
#[track_caller]
pub fn root_or_skip(test: &str) -> bool {
    if nix::unistd::Uid::effective().is_root() {
        return true;
    }
    skip(test, "needs root (namespaces, mounts); CI runs the tests as root");
    false
}

/// The fixtures directory, built once per test binary by rootfs-fixtures/build.sh.
pub fn fixtures() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
        let out = manifest.join("rootfs-fixtures/out");
        let status = Command::new("bash")
            .arg(manifest.join("rootfs-fixtures/build.sh"))
            .arg(&out)
            .status()
            .expect("run rootfs-fixtures/build.sh");
        assert!(status.success(), "building fixtures failed");
        out
    })
}

pub fn fixture(name: &str) -> PathBuf {
    fixtures().join(name)
}

/// The busybox fixture's layers (its OCI layout), extracted into `dest` with
/// tar: an OCI bundle's rootfs made without rrun.
#[allow(dead_code)]
pub fn extract_busybox(dest: &Path) {
    let layout = fixture("busybox-oci");
    let read = |p: PathBuf| -> serde_json::Value { serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap() };
    let blob = |digest: &str| layout.join("blobs/sha256").join(digest.trim_start_matches("sha256:"));
    let index = read(layout.join("index.json"));
    let manifest = read(blob(index["manifests"][0]["digest"].as_str().unwrap()));
    std::fs::create_dir_all(dest).unwrap();
    for layer in manifest["layers"].as_array().unwrap() {
        let status =
            Command::new("tar").arg("-xf").arg(blob(layer["digest"].as_str().unwrap())).arg("-C").arg(dest).status();
        assert!(status.expect("run tar").success(), "extracting the busybox layer failed");
    }
}

/// A new directory under the temp dir named after `tag` (made unique by tempfile),
/// mode 0755, removed when the returned guard drops.
pub fn temp_dir(tag: &str) -> tempfile::TempDir {
    let tag: String = tag.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
    let dir =
        tempfile::Builder::new().prefix(&format!("rrun-it-{tag}-")).tempdir().expect("create a temporary directory");
    // 0755 as a plain mkdir makes it (tempfile's 0700 would keep out the ids a user namespace maps)
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod the temporary directory");
    dir
}

/// A temporary store root, removed (with everything under it) on drop.
pub struct TestRoot {
    pub path: PathBuf,
    dir: tempfile::TempDir,
}

impl TestRoot {
    pub fn new(tag: &str) -> TestRoot {
        let dir = temp_dir(tag);
        TestRoot { path: dir.path().to_path_buf(), dir }
    }

    /// A root with the busybox fixture loaded.
    pub fn with_busybox(tag: &str) -> TestRoot {
        let r = TestRoot::new(tag);
        r.ok(&["load", "-i", fixture("busybox.tar").to_str().unwrap()]);
        r
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(RRUN);
        c.arg("--root").arg(&self.path).args(args).stdin(Stdio::null());
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("run rrun")
    }

    /// Runs rrun and asserts success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "rrun {args:?} failed with {:?}\nstdout: {}\nstderr: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// `rrun run --rm busybox sh -c SCRIPT`: (exit code, stdout, stderr).
    pub fn sh(&self, extra: &[&str], script: &str) -> (i32, String, String) {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["busybox", "sh", "-c", script]);
        let out = self.run(&args);
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Names of the entries directly under `sub` of the store.
    pub fn entries(&self, sub: &str) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.path.join(sub))
            .map(|rd| rd.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        v.sort();
        v
    }
}

/// Runs `cmd` with a new pseudo-terminal as its stdio, types `input`, and
/// reads what it prints until it exits (having printed `until`) or 10 s pass.
pub fn in_pty(mut cmd: Command, input: &[u8], until: &str) -> (Option<i32>, String) {
    use std::io::{Read, Write};
    use std::os::fd::{AsRawFd, FromRawFd};
    let pty = nix::pty::openpty(None, None).unwrap();
    let slave = pty.slave.as_raw_fd();
    // close-on-exec, all of them: a process another test thread starts meanwhile must not keep
    // the terminal open (the master would then never see its end)
    for fd in [slave, pty.master.as_raw_fd()] {
        let _ = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC));
    }
    // SAFETY: the duplicated descriptors are handed to the child as its stdio.
    unsafe {
        cmd.stdin(Stdio::from_raw_fd(libc::fcntl(slave, libc::F_DUPFD_CLOEXEC, 0)))
            .stdout(Stdio::from_raw_fd(libc::fcntl(slave, libc::F_DUPFD_CLOEXEC, 0)))
            .stderr(Stdio::from_raw_fd(libc::fcntl(slave, libc::F_DUPFD_CLOEXEC, 0)));
    }
    let mut child = cmd.spawn().unwrap();
    drop(cmd); // it holds our copies of the slave: the master must see EOF when the child ends
    drop(pty.slave);
    let mut master = std::fs::File::from(pty.master);
    master.write_all(input).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        match master.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
        if child.try_wait().unwrap().is_some() && String::from_utf8_lossy(&out).contains(until) {
            break;
        }
    }
    let status = child.wait().unwrap();
    (status.code(), String::from_utf8_lossy(&out).into_owned())
}

impl Drop for TestRoot {
    fn drop(&mut self) {
        // detached containers of a failed test must not outlive it (processes, cgroups)
        if let Ok(r) = rrun::Rrun::open(&self.path) {
            for c in r.containers().unwrap_or_default() {
                let _ = r.remove_container(&c.id, true);
            }
        }
        // then `dir` drops and removes the tree
    }
}

/// Where `program` is installed: `$PATH`, then the sbin directories (which a
/// non-login root shell may lack); a path is taken as it is.
pub fn find_program(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        return Path::new(program).is_file().then(|| PathBuf::from(program));
    }
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .filter(|d| !d.is_empty())
        .chain(["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"])
        .map(|d| Path::new(d).join(program))
        .find(|p| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        });
    found
}

/// Makes sure each `(program, Debian package)` is installed, installing the
/// missing packages with apt-get (as root; one test at a time). Returns false,
/// having [`skip`]ped (a failure in CI), only when that is impossible.
pub fn ensure_programs(test: &str, needs: &[(&str, &str)]) -> bool {
    static APT: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = APT.lock().unwrap_or_else(|e| e.into_inner());
    let missing = |needs: &[(&str, &str)]| -> Vec<String> {
        let mut pkgs: Vec<String> =
            needs.iter().filter(|(prog, _)| find_program(prog).is_none()).map(|(_, pkg)| pkg.to_string()).collect();
        pkgs.dedup();
        pkgs
    };
    let pkgs = missing(needs);
    if pkgs.is_empty() {
        return true;
    }
    if !nix::unistd::Uid::effective().is_root() {
        skip(test, format!("{} not installed, and installing needs root", pkgs.join(" ")));
        return false;
    }
    if find_program("apt-get").is_none() {
        skip(test, format!("{} not installed, and there is no apt-get to install them", pkgs.join(" ")));
        return false;
    }
    eprintln!("{test}: installing {}", pkgs.join(" "));
    let apt = |args: &[&str]| {
        Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null())
            .output()
            .map(|o| (o.status.success(), String::from_utf8_lossy(&o.stderr).into_owned()))
            .unwrap_or_else(|e| (false, e.to_string()))
    };
    let (_, update_err) = apt(&["update", "-qq"]);
    let mut args = vec!["install", "-y", "-qq", "--no-install-recommends"];
    args.extend(pkgs.iter().map(String::as_str));
    let (ok, err) = apt(&args);
    let still = missing(needs);
    if !ok || !still.is_empty() {
        skip(
            test,
            format!(
                "could not install {} (apt-get update: {}; install: {})",
                still.join(" "),
                update_err.trim(),
                err.trim()
            ),
        );
        return false;
    }
    true
}

/// `timeout -k 5 SECS PROGRAM`: a command that cannot hang a test (killed
/// after `secs`, exit code 124).
pub fn timed(secs: u32, program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut c = Command::new("timeout");
    c.args(["-k", "5", &secs.to_string()]).arg(program).stdin(Stdio::null());
    c
}

/// Runs `cmd`: (exit code, stdout, stderr).
pub fn output_of(cmd: &mut Command) -> (Option<i32>, String, String) {
    let out = cmd.output().unwrap_or_else(|e| panic!("run {cmd:?}: {e}"));
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Polls `f` every 50 ms until it is true (true) or `timeout` passed (false).
pub fn wait_for(timeout: std::time::Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Mount points at or below `dir` in this mount namespace, deepest first.
pub fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let unescape = |s: &str| -> String {
        // mountinfo writes space, tab, newline and backslash as \ooo
        let b = s.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'\\' && i + 3 < b.len() && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
                out.push(u8::from_str_radix(&s[i + 1..i + 4], 8).unwrap_or(b'?'));
                i += 4;
            } else {
                out.push(b[i]);
                i += 1;
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    };
    let mut v: Vec<PathBuf> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(|m| PathBuf::from(unescape(m))))
        .filter(|m| m.starts_with(dir))
        .collect();
    v.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    v.dedup();
    v
}

/// Detaches every mount at or below `dir`, deepest first.
pub fn unmount_under(dir: &Path) {
    for _ in 0..3 {
        let mounts = mounts_under(dir);
        if mounts.is_empty() {
            return;
        }
        for m in mounts {
            let _ = nix::mount::umount2(&m, nix::mount::MntFlags::MNT_DETACH);
        }
    }
}

/// PIDs of the processes (other than this one) whose command line contains
/// `needle`, e.g. a test's scratch directory: what an engine it started left running.
pub fn pids_mentioning(needle: &str) -> Vec<i32> {
    let me = std::process::id() as i32;
    let Ok(rd) = std::fs::read_dir("/proc") else { return Vec::new() };
    rd.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| *pid != me)
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).replace('\0', " ").contains(needle))
        })
        .collect()
}

/// Sends SIGTERM to each of `pids`, waits up to `grace` for them to go, then SIGKILLs the rest.
pub fn end_processes(pids: &[i32], grace: std::time::Duration) {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    for p in pids {
        let _ = kill(Pid::from_raw(*p), Signal::SIGTERM);
    }
    let gone = |p: &i32| {
        std::fs::read_to_string(format!("/proc/{p}/stat")).map_or(true, |s| s.contains(") Z ") || s.contains(") X "))
    };
    wait_for(grace, || pids.iter().all(gone));
    for p in pids.iter().filter(|p| !gone(p)) {
        let _ = kill(Pid::from_raw(*p), Signal::SIGKILL);
    }
}

/// Directories named `rel` (relative to a hierarchy's root) in every cgroup
/// hierarchy mounted on this host: what a container's cgroup leaves behind.
pub fn cgroup_dirs(rel: &str) -> Vec<PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    info.lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let fstype = right.split(' ').next()?;
            let mountpoint = left.split(' ').nth(4)?;
            (fstype == "cgroup" || fstype == "cgroup2").then(|| PathBuf::from(mountpoint))
        })
        .map(|m| m.join(rel.trim_start_matches('/')))
        .filter(|p| p.is_dir())
        .collect()
}

/// A scratch directory under the temp dir: on drop, whatever is mounted
/// below it is unmounted and then it is removed.
pub struct ScratchDir {
    pub path: PathBuf,
    dir: tempfile::TempDir,
}

impl ScratchDir {
    pub fn new(tag: &str) -> ScratchDir {
        let dir = temp_dir(tag);
        ScratchDir { path: dir.path().to_path_buf(), dir }
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        // before `dir` drops and removes the tree: never descend into a mount
        unmount_under(&self.path);
    }
}
