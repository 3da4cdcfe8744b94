//! Shared helpers for the integration tests: fixtures, a temporary store per
//! test, and running the `rrun` binary. These tests need root (namespaces,
//! mounts); without it they say so and skip. CI runs them as root.
#![allow(dead_code)]

pub mod registry;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

pub const RRUN: &str = env!("CARGO_BIN_EXE_rrun");

/// True when running as root; otherwise prints why the test is skipped.
pub fn root_or_skip(test: &str) -> bool {
    if nix::unistd::Uid::effective().is_root() {
        return true;
    }
    eprintln!("SKIP {test}: needs root (namespaces, mounts); CI runs the tests as root");
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

/// A temporary store root, removed (with everything under it) on drop.
pub struct TestRoot {
    pub path: PathBuf,
}

impl TestRoot {
    pub fn new(tag: &str) -> TestRoot {
        static N: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "rrun-it-{}-{}-{tag}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TestRoot { path }
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
    // SAFETY: the duplicated descriptors are handed to the child as its stdio.
    unsafe {
        cmd.stdin(Stdio::from_raw_fd(libc::dup(slave)))
            .stdout(Stdio::from_raw_fd(libc::dup(slave)))
            .stderr(Stdio::from_raw_fd(libc::dup(slave)));
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
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
