//! Docker's container lifecycle commands through the real binary: `create`
//! and `start [-a]`, logs of every container (`--log-driver`, `run -a`),
//! `attach` over pipes and a terminal with detach keys, health checks,
//! `wait`, `restart`, `rename`, `top`, `port`, `update`, the event journal,
//! and exit code 125 for rrun's own errors.

mod common;
use common::*;
use serde_json::Value;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn inspect(r: &TestRoot, name: &str) -> Value {
    let v: Value = serde_json::from_str(&r.ok(&["inspect", name])).unwrap();
    v[0].clone()
}

/// Starts a detached container and returns its ID.
fn detach(r: &TestRoot, args: &[&str]) -> String {
    let mut a = vec!["run", "-d"];
    a.extend_from_slice(args);
    let id = r.ok(&a).trim().to_string();
    assert_eq!(id.len(), 64, "run -d prints the full ID: {id}");
    id
}

fn wait_until(what: &str, timeout: Duration, f: impl FnMut() -> bool) {
    assert!(wait_for(timeout, f), "timed out waiting until {what}");
}

/// (exit code, stdout, stderr) of `rrun ARGS`.
fn run3(r: &TestRoot, args: &[&str]) -> (Option<i32>, String, String) {
    output_of(&mut r.cmd(args))
}

fn status(r: &TestRoot, name: &str) -> String {
    inspect(r, name)["State"]["Status"].as_str().unwrap_or_default().to_string()
}

/// A process whose stdout and stderr are read into a buffer by a thread.
struct Session {
    child: Child,
    out: Arc<Mutex<Vec<u8>>>,
}

impl Session {
    /// `cmd` with stdin a pipe (or none), stdout and stderr collected together.
    fn piped(mut cmd: Command, stdin: bool) -> Session {
        cmd.stdin(if stdin { Stdio::piped() } else { Stdio::null() }).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let out = Arc::new(Mutex::new(Vec::new()));
        for mut pipe in
            [Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>, Box::new(child.stderr.take().unwrap())]
        {
            let out = out.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = pipe.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    out.lock().unwrap().extend_from_slice(&buf[..n]);
                }
            });
        }
        Session { child, out }
    }

    fn send(&mut self, bytes: &[u8]) {
        let stdin = self.child.stdin.as_mut().unwrap();
        stdin.write_all(bytes).unwrap();
        stdin.flush().unwrap();
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.out.lock().unwrap()).into_owned()
    }

    fn expect(&self, what: &str) {
        let ok = wait_for(Duration::from_secs(10), || self.text().contains(what));
        assert!(ok, "expected {what:?} in the output, got {:?}", self.text());
    }

    /// The exit code, within `timeout` (the process is killed after it).
    fn exit_code(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        panic!("still running after {timeout:?}; output: {:?}", self.text());
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A process on a new pseudo-terminal, read by a thread; input is typed when asked.
struct Pty {
    child: Child,
    master: std::fs::File,
    out: Arc<Mutex<Vec<u8>>>,
}

impl Pty {
    fn spawn(mut cmd: Command) -> Pty {
        use std::os::fd::{AsRawFd, FromRawFd};
        let pty =
            nix::pty::openpty(Some(&nix::pty::Winsize { ws_row: 30, ws_col: 100, ws_xpixel: 0, ws_ypixel: 0 }), None)
                .unwrap();
        let slave = pty.slave.as_raw_fd();
        // SAFETY: the duplicated descriptors are handed to the child as its stdio.
        unsafe {
            cmd.stdin(Stdio::from_raw_fd(libc::dup(slave)))
                .stdout(Stdio::from_raw_fd(libc::dup(slave)))
                .stderr(Stdio::from_raw_fd(libc::dup(slave)));
        }
        let child = cmd.spawn().unwrap();
        drop(cmd);
        drop(pty.slave);
        let master = std::fs::File::from(pty.master);
        let mut reader = master.try_clone().unwrap();
        let out = Arc::new(Mutex::new(Vec::new()));
        let o = out.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                o.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Pty { child, master, out }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.master.write_all(bytes).unwrap();
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.out.lock().unwrap()).into_owned()
    }

    fn expect(&self, what: &str) {
        let ok = wait_for(Duration::from_secs(10), || self.text().contains(what));
        assert!(ok, "expected {what:?} on the terminal, got {:?}", self.text());
    }

    fn exit_code(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        panic!("still running after {timeout:?}; terminal: {:?}", self.text());
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The container's cgroup directories.
fn cgroup_dirs_of(r: &TestRoot, name: &str) -> Vec<PathBuf> {
    inspect(r, name)["Cgroup"].as_array().unwrap().iter().map(|d| PathBuf::from(d.as_str().unwrap())).collect()
}

/// The first of `files` found in the container's cgroup directories.
fn cgroup_value(r: &TestRoot, name: &str, files: &[&str]) -> String {
    for d in cgroup_dirs_of(r, name) {
        for f in files {
            if let Ok(v) = std::fs::read_to_string(d.join(f)) {
                return v.trim().to_string();
            }
        }
    }
    panic!("none of {files:?} in the cgroup of {name}");
}

/// The events recorded so far, as json objects.
fn events(r: &TestRoot, filters: &[&str]) -> Vec<Value> {
    let mut args = vec!["events", "--since", "1", "--until", "0s", "--format", "json"];
    for f in filters {
        args.extend_from_slice(&["--filter", f]);
    }
    r.ok(&args).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn actions(evs: &[Value]) -> Vec<String> {
    evs.iter().map(|e| e["Action"].as_str().unwrap().to_string()).collect()
}

#[test]
fn create_then_start_detached_or_attached() {
    if !root_or_skip("create_then_start_detached_or_attached") {
        return;
    }
    let r = TestRoot::with_busybox("create");
    let id = r.ok(&["create", "--name", "made", "busybox", "sh", "-c", "echo hi-$0 -a; exit 3"]);
    let id = id.trim();
    assert_eq!(id.len(), 64, "create prints the full ID: {id}");
    assert_eq!(status(&r, "made"), "created");
    assert!(r.ok(&["ps", "-a"]).contains("Created"));
    assert!(!r.ok(&["ps"]).contains(" made\n"), "a created container does not run");
    // start: detached, under a monitor; the arguments after the image were the container's
    r.ok(&["start", "made"]);
    assert_eq!(r.ok(&["wait", "made"]), "3\n");
    assert_eq!(r.ok(&["logs", "made"]), "hi-sh -a\n");
    // start -a: attached to its output, with its exit code; logged too
    let (code, out, _) = run3(&r, &["start", "-a", "made"]);
    assert_eq!((code, out.as_str()), (Some(3), "hi-sh -a\n"));
    assert_eq!(r.ok(&["logs", "made"]), "hi-sh -a\nhi-sh -a\n");
    // create --rm: removed once it exits after a start
    r.ok(&["create", "--rm", "--name", "gone", "busybox", "true"]);
    assert_eq!(status(&r, "gone"), "created", "--rm removes only after a run");
    r.ok(&["start", "gone"]);
    wait_until("the --rm container is removed", Duration::from_secs(10), || {
        r.run(&["inspect", "gone"]).status.code() == Some(125)
    });
    // start -ai: stdin reaches it, and its end of input too
    r.ok(&["create", "-i", "--name", "reader", "busybox", "sh", "-c", "read a; echo got=$a; cat; echo done"]);
    let mut s = Session::piped(r.cmd(&["start", "-ai", "reader"]), true);
    s.send(b"first\nsecond\n");
    drop(s.child.stdin.take());
    assert_eq!(s.exit_code(Duration::from_secs(10)), Some(0));
    assert_eq!(s.text(), "got=first\nsecond\ndone\n");
    // create has no -d (start runs it detached), and checks its flags as run does
    assert_eq!(r.run(&["create", "-d", "busybox", "true"]).status.code(), Some(125));
    assert_eq!(r.run(&["create", "--no-such-flag", "busybox"]).status.code(), Some(125));
    assert_eq!(r.run(&["create", "--pull=never", "no-such-image"]).status.code(), Some(125));
    let mut evs = actions(&events(&r, &["container=made"]));
    assert!(evs.contains(&"attach".to_string()), "start -a attached: {evs:?}");
    evs.retain(|a| a != "attach");
    assert_eq!(evs, ["create", "start", "die", "start", "die"], "{evs:?}");
}

#[test]
fn every_container_is_logged() {
    if !root_or_skip("every_container_is_logged") {
        return;
    }
    let r = TestRoot::with_busybox("fglog");
    // foreground without a terminal: stdout and stderr shown apart, and logged apart
    let (code, out, err) = run3(&r, &["run", "--name", "fg", "busybox", "sh", "-c", "echo out; echo err >&2; exit 2"]);
    assert_eq!((code, out.as_str(), err.as_str()), (Some(2), "out\n", "err\n"));
    let logs = r.run(&["logs", "fg"]);
    assert_eq!(String::from_utf8_lossy(&logs.stdout), "out\n");
    assert_eq!(String::from_utf8_lossy(&logs.stderr), "err\n");
    let log: Value = serde_json::from_str(
        std::fs::read_to_string(inspect(&r, "fg")["LogPath"].as_str().unwrap()).unwrap().lines().next().unwrap(),
    )
    .unwrap();
    assert!(log["stream"].is_string() && log["time"].is_string(), "json-file lines: {log}");
    // -i: stdin still reaches the container directly
    let mut c = r.cmd(&["run", "-i", "--name", "fgi", "busybox", "sh", "-c", "read x; echo read=$x"]);
    c.stdin(Stdio::piped()).stdout(Stdio::piped());
    let mut child = c.spawn().unwrap();
    child.stdin.take().unwrap().write_all(b"typed\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "read=typed\n");
    assert_eq!(r.ok(&["logs", "fgi"]), "read=typed\n");
    // with a terminal: relayed to it and logged
    let (code, text) =
        in_pty(r.cmd(&["run", "-t", "--name", "fgt", "busybox", "sh", "-c", "echo tty-out"]), b"", "tty-out");
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("tty-out"), "{text}");
    assert!(r.ok(&["logs", "fgt"]).contains("tty-out"));
    // a reader that goes away ends the container's writes, not rrun (which still cleans up)
    let mut c = r.cmd(&["run", "--rm", "busybox", "yes"]);
    c.stdout(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut first = [0u8; 2];
    child.stdout.as_mut().unwrap().read_exact(&mut first).unwrap();
    drop(child.stdout.take());
    let started = Instant::now();
    let status = child.wait().unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
    // busybox's yes ends on EPIPE (1), another program of SIGPIPE (141): as when it writes to the pipe itself
    assert!(matches!(status.code(), Some(1) | Some(141)), "{status:?}");
    wait_until("the --rm container is gone", Duration::from_secs(5), || r.entries("containers").len() == 3);
    // --log-driver none: nothing kept, and logs says so in docker's words
    let (code, out, _) = run3(&r, &["run", "--log-driver", "none", "--name", "quiet", "busybox", "echo", "shown"]);
    assert_eq!((code, out.as_str()), (Some(0), "shown\n"));
    let (code, _, err) = run3(&r, &["logs", "quiet"]);
    assert_eq!(code, Some(125));
    assert!(err.contains("configured logging driver does not support reading"), "{err}");
    assert_eq!(inspect(&r, "quiet")["HostConfig"]["LogConfig"]["Type"], "none");
    let dir = Path::new(inspect(&r, "quiet")["LogPath"].as_str().unwrap()).to_path_buf();
    assert!(!dir.exists(), "no log file for --log-driver none");
    let id = detach(&r, &["--log-driver", "none", "busybox", "echo", "x"]);
    assert_eq!(r.ok(&["wait", &id]), "0\n");
    assert_eq!(r.run(&["logs", &id]).status.code(), Some(125));
    assert_eq!(r.run(&["run", "--log-driver", "syslog", "busybox", "true"]).status.code(), Some(125));
    // --log-opt still sets the rotation
    r.ok(&["run", "--log-opt", "max-size=1k", "--name", "rot", "busybox", "sh", "-c", "seq 1 500"]);
    assert!(std::fs::metadata(inspect(&r, "rot")["LogPath"].as_str().unwrap()).unwrap().len() <= 1024);
}

#[test]
fn run_attach_picks_the_streams_shown() {
    if !root_or_skip("run_attach_picks_the_streams_shown") {
        return;
    }
    let r = TestRoot::with_busybox("runattach");
    let script = "echo out; echo err >&2";
    let (code, out, err) = run3(&r, &["run", "-a", "STDOUT", "--name", "o", "busybox", "sh", "-c", script]);
    assert_eq!((code, out.as_str(), err.as_str()), (Some(0), "out\n", ""));
    let (_, out, err) = run3(&r, &["run", "-a", "stderr", "--name", "e", "busybox", "sh", "-c", script]);
    assert_eq!((out.as_str(), err.as_str()), ("", "err\n"));
    let (_, out, err) = run3(&r, &["run", "-a", "stdout", "-a", "stderr", "busybox", "sh", "-c", script]);
    assert_eq!((out.as_str(), err.as_str()), ("out\n", "err\n"));
    // what is not shown is still logged
    let logs = r.run(&["logs", "o"]);
    assert_eq!(String::from_utf8_lossy(&logs.stderr), "err\n");
    let logs = r.run(&["logs", "e"]);
    assert_eq!(String::from_utf8_lossy(&logs.stdout), "out\n");
    // -a STDIN with -i: input flows, output not shown
    let mut c = r.cmd(&["run", "-i", "-a", "stdin", "--name", "in", "busybox", "sh", "-c", "read x; echo $x"]);
    c.stdin(Stdio::piped()).stdout(Stdio::piped());
    let mut child = c.spawn().unwrap();
    child.stdin.take().unwrap().write_all(b"quietly\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!((out.status.code(), out.stdout.as_slice()), (Some(0), b"".as_slice()));
    assert_eq!(r.ok(&["logs", "in"]), "quietly\n");
    let (code, _, err) = run3(&r, &["run", "-a", "stdlog", "busybox", "true"]);
    assert_eq!(code, Some(125));
    assert!(err.contains("STDIN, STDOUT and STDERR"), "{err}");
    let (code, _, err) = run3(&r, &["run", "-d", "-a", "stdout", "busybox", "true"]);
    assert_eq!(code, Some(125));
    assert!(err.contains("Conflicting options: -a and -d"), "{err}");
}

#[test]
fn attach_over_pipes() {
    if !root_or_skip("attach_over_pipes") {
        return;
    }
    let r = TestRoot::with_busybox("attachpipe");
    let script = "echo ready; while read l; do echo \"got $l\"; echo \"err $l\" >&2; [ \"$l\" = quit ] && exit 7; done";
    let id = detach(&r, &["-i", "--name", "cat", "busybox", "sh", "-c", script]);
    let sock = r.path.join("containers").join(&id).join("attach.sock");
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    let meta = std::fs::metadata(&sock).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o600, "only root may attach");
    // input reaches the container; both streams come back
    let mut s = Session::piped(r.cmd(&["attach", "cat"]), true);
    s.send(b"hello\n");
    s.expect("got hello\n");
    s.expect("err hello\n");
    assert!(!s.text().contains("ready"), "attach shows new output only");
    // Ctrl-P Ctrl-Q detaches, printing nothing, and the container goes on
    s.send(&[0x10, 0x11]);
    assert_eq!(s.exit_code(Duration::from_secs(5)), Some(0));
    assert_eq!(s.text().len(), "got hello\nerr hello\n".len(), "nothing else: {:?}", s.text());
    assert_eq!(status(&r, "cat"), "running");
    // a lone Ctrl-P is passed on; custom keys in docker's syntax
    let mut s = Session::piped(r.cmd(&["attach", "--detach-keys", "ctrl-a,x", "cat"]), true);
    s.send(b"a\x10b\n");
    s.expect("got a\x10b\n");
    s.send(b"\x01x");
    assert_eq!(s.exit_code(Duration::from_secs(5)), Some(0));
    assert_eq!(status(&r, "cat"), "running");
    // two clients at once both see the output; the container's exit ends both with its code
    let mut watcher = Session::piped(r.cmd(&["attach", "--no-stdin", "cat"]), false);
    let mut s = Session::piped(r.cmd(&["attach", "cat"]), true);
    // once both are there (what one types, both see), the container ends
    wait_until("both clients see the output", Duration::from_secs(10), || {
        s.send(b"ping\n");
        std::thread::sleep(Duration::from_millis(100));
        s.text().contains("got ping") && watcher.text().contains("got ping")
    });
    s.send(b"quit\n");
    assert_eq!(s.exit_code(Duration::from_secs(10)), Some(7));
    assert_eq!(watcher.exit_code(Duration::from_secs(10)), Some(7));
    assert!(watcher.text().contains("got quit"), "{}", watcher.text());
    let logs = r.ok(&["logs", "cat"]);
    for line in ["ready", "got hello", "got a\x10b", "got ping", "got quit"] {
        assert!(logs.lines().any(|l| l == line), "{line} logged: {logs}");
    }
    // a stopped container cannot be attached to
    let (code, _, err) = run3(&r, &["attach", "cat"]);
    assert_eq!(code, Some(125));
    assert!(err.contains("You cannot attach to a stopped container, start it first"), "{err}");
    assert_eq!(r.run(&["attach", "nosuch"]).status.code(), Some(125));
    assert_eq!(r.run(&["attach", "--detach-keys", "ctrl-", "cat"]).status.code(), Some(125));
    // a container started without -i takes no input, but its output is attached to
    detach(
        &r,
        &[
            "--name",
            "ticker",
            "busybox",
            "sh",
            "-c",
            "trap 'echo got-term; exit 3' TERM; while :; do echo tick; sleep 0.2; done",
        ],
    );
    let mut s = Session::piped(r.cmd(&["attach", "--sig-proxy=false", "ticker"]), true);
    s.expect("tick\n");
    s.send(&[0x10, 0x11]);
    assert_eq!(s.exit_code(Duration::from_secs(5)), Some(0));
    // with --sig-proxy (the default), a signal to attach reaches the container
    let s = Session::piped(r.cmd(&["attach", "ticker"]), true);
    s.expect("tick\n");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(s.child.id() as i32), nix::sys::signal::Signal::SIGTERM).unwrap();
    let mut s = s;
    assert_eq!(s.exit_code(Duration::from_secs(10)), Some(3), "the container's trap ran: {}", s.text());
    assert!(s.text().contains("got-term"), "{}", s.text());
    assert_eq!(status(&r, "ticker"), "exited");
    let evs = actions(&events(&r, &["container=cat"]));
    assert!(evs.iter().filter(|a| *a == "attach").count() >= 4 && evs.contains(&"detach".to_string()), "{evs:?}");
}

#[test]
fn attach_on_a_terminal() {
    if !root_or_skip("attach_on_a_terminal") {
        return;
    }
    let r = TestRoot::with_busybox("attachtty");
    detach(&r, &["-it", "--name", "sh", "busybox", "sh"]);
    let mut t = Pty::spawn(r.cmd(&["attach", "sh"]));
    std::thread::sleep(Duration::from_millis(300));
    t.send(b"echo hi-$((40+2)); stty size\r");
    t.expect("hi-42");
    t.expect("30 100"); // the client's window size reached the container's terminal
    t.send(&[0x10, 0x11]);
    assert_eq!(t.exit_code(Duration::from_secs(5)), Some(0));
    assert_eq!(status(&r, "sh"), "running", "detached, not stopped");
    assert!(r.ok(&["logs", "sh"]).contains("hi-42"), "the terminal's output is logged");
    let mut t = Pty::spawn(r.cmd(&["attach", "sh"]));
    std::thread::sleep(Duration::from_millis(300));
    t.send(b"tty; exit 5\r");
    t.expect("/dev/pts/");
    assert_eq!(t.exit_code(Duration::from_secs(10)), Some(5));
    assert_eq!(status(&r, "sh"), "exited");
    // start -ai of a created -it container: a terminal, the keys detach, attach comes back
    r.ok(&["create", "-it", "--name", "ti", "busybox", "sh"]);
    let mut t = Pty::spawn(r.cmd(&["start", "-ai", "ti"]));
    std::thread::sleep(Duration::from_millis(300));
    t.send(b"echo in-$((1+1))-start\r");
    t.expect("in-2-start");
    t.send(&[0x10, 0x11]);
    assert_eq!(t.exit_code(Duration::from_secs(5)), Some(0));
    assert_eq!(status(&r, "ti"), "running");
    let mut t = Pty::spawn(r.cmd(&["attach", "ti"]));
    std::thread::sleep(Duration::from_millis(300));
    t.send(b"exit 6\r");
    assert_eq!(t.exit_code(Duration::from_secs(10)), Some(6));
    // start -a of a running container attaches to it
    detach(&r, &["-it", "--name", "again", "busybox", "sh"]);
    let mut t = Pty::spawn(r.cmd(&["start", "-ai", "again"]));
    std::thread::sleep(Duration::from_millis(300));
    t.send(b"exit 9\r");
    assert_eq!(t.exit_code(Duration::from_secs(10)), Some(9));
}

/// A docker-archive of the busybox fixture whose config has `healthcheck`, loaded as `hc:latest`.
fn load_image_with_healthcheck(r: &TestRoot, healthcheck: Value) {
    let dir = r.path.join("hc-image");
    std::fs::create_dir_all(&dir).unwrap();
    let status = Command::new("tar").arg("-xf").arg(fixture("busybox.tar")).arg("-C").arg(&dir).status().unwrap();
    assert!(status.success());
    let manifest_path = dir.join("manifest.json");
    let mut manifest: Value = serde_json::from_slice(&std::fs::read(&manifest_path).unwrap()).unwrap();
    let old = manifest[0]["Config"].as_str().unwrap().to_string();
    let mut config: Value = serde_json::from_slice(&std::fs::read(dir.join(&old)).unwrap()).unwrap();
    config["config"]["Healthcheck"] = healthcheck;
    let bytes = serde_json::to_vec(&config).unwrap();
    let name = format!("{}.json", rrun::Digest::of(&bytes).hex());
    std::fs::remove_file(dir.join(&old)).unwrap();
    std::fs::write(dir.join(&name), &bytes).unwrap();
    manifest[0]["Config"] = Value::String(name);
    manifest[0]["RepoTags"] = serde_json::json!(["hc:latest"]);
    std::fs::write(&manifest_path, serde_json::to_vec(&manifest).unwrap()).unwrap();
    let tar = r.path.join("hc.tar");
    assert!(Command::new("tar").arg("-cf").arg(&tar).arg("-C").arg(&dir).arg(".").status().unwrap().success());
    r.ok(&["load", "-i", tar.to_str().unwrap()]);
}

#[test]
fn health_checks() {
    if !root_or_skip("health_checks") {
        return;
    }
    let r = TestRoot::with_busybox("health");
    detach(
        &r,
        &[
            "--name",
            "h",
            "--health-cmd",
            "test -e /tmp/ok && echo fine",
            "--health-interval",
            "1s",
            "--health-retries",
            "2",
            "busybox",
            "sleep",
            "60",
        ],
    );
    let c = inspect(&r, "h");
    assert_eq!(c["State"]["Health"]["Status"], "starting");
    assert_eq!(c["Config"]["Healthcheck"]["Test"], serde_json::json!(["CMD-SHELL", "test -e /tmp/ok && echo fine"]));
    assert_eq!(c["Config"]["Healthcheck"]["Interval"], 1_000_000_000i64);
    assert!(r.ok(&["ps"]).contains("(health: starting)"), "{}", r.ok(&["ps"]));
    // two failures in a row (the retries) make it unhealthy; the monitor runs them every second
    wait_until("unhealthy", Duration::from_secs(10), || inspect(&r, "h")["State"]["Health"]["Status"] == "unhealthy");
    let h = inspect(&r, "h")["State"]["Health"].clone();
    assert!(h["FailingStreak"].as_u64().unwrap() >= 2, "{h}");
    let last = h["Log"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["ExitCode"], 1, "{h}");
    assert!(last["Start"].is_string() && last["End"].is_string(), "{h}");
    assert!(r.ok(&["ps"]).contains("(unhealthy)"));
    // it passes: healthy, with the check's output kept
    r.ok(&["exec", "h", "touch", "/tmp/ok"]);
    wait_until("healthy", Duration::from_secs(10), || inspect(&r, "h")["State"]["Health"]["Status"] == "healthy");
    let h = inspect(&r, "h")["State"]["Health"].clone();
    assert_eq!(h["FailingStreak"], 0);
    assert_eq!(h["Log"].as_array().unwrap().last().unwrap()["Output"], "fine\n");
    assert!(r.ok(&["ps"]).contains("(healthy)"));
    wait_until("five results are kept", Duration::from_secs(10), || {
        inspect(&r, "h")["State"]["Health"]["Log"].as_array().unwrap().len() == 5
    });
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(inspect(&r, "h")["State"]["Health"]["Log"].as_array().unwrap().len(), 5, "and no more");
    // healthcheck run: one check now, exit 0 or 1
    let (code, out, _) = run3(&r, &["healthcheck", "run", "h"]);
    assert_eq!((code, out.as_str()), (Some(0), ""));
    r.ok(&["exec", "h", "rm", "/tmp/ok"]);
    let (code, out, _) = run3(&r, &["healthcheck", "run", "h"]);
    assert_eq!((code, out.as_str()), (Some(1), "unhealthy\n"));
    let evs = actions(&events(&r, &["container=h", "event=health_status"]));
    assert!(
        evs.starts_with(&["health_status: unhealthy".to_string(), "health_status: healthy".to_string()]),
        "{evs:?}"
    );
    // a check that outlives its timeout fails
    detach(
        &r,
        &[
            "--name",
            "slow",
            "--health-cmd",
            "sleep 5",
            "--health-interval",
            "1s",
            "--health-timeout",
            "200ms",
            "--health-retries",
            "1",
            "busybox",
            "sleep",
            "60",
        ],
    );
    wait_until("the slow check times out", Duration::from_secs(10), || {
        inspect(&r, "slow")["State"]["Health"]["Status"] == "unhealthy"
    });
    let log = inspect(&r, "slow")["State"]["Health"]["Log"][0].clone();
    assert_eq!(log["ExitCode"], -1);
    assert!(log["Output"].as_str().unwrap().contains("Health check exceeded timeout (200ms)"), "{log}");
    // the image's Healthcheck, CMD form; --no-healthcheck turns it off; flags override fields
    load_image_with_healthcheck(
        &r,
        serde_json::json!({"Test": ["CMD", "test", "-e", "/bin/sh"], "Interval": 500_000_000i64, "Retries": 1}),
    );
    detach(&r, &["--name", "img", "hc", "sleep", "60"]);
    wait_until("the image's check passes", Duration::from_secs(10), || {
        inspect(&r, "img")["State"]["Health"]["Status"] == "healthy"
    });
    detach(&r, &["--name", "off", "--no-healthcheck", "hc", "sleep", "60"]);
    let off = inspect(&r, "off");
    assert!(off["State"]["Health"].is_null() && off["Config"]["Healthcheck"].is_null(), "{off}");
    assert!(!r.ok(&["ps"]).lines().any(|l| l.ends_with(" off") && l.contains("health")));
    assert_eq!(r.run(&["healthcheck", "run", "off"]).status.code(), Some(125), "no check to run");
    detach(&r, &["--name", "over", "--health-cmd", "exit 1", "--health-retries", "3", "hc", "sleep", "60"]);
    let hc = inspect(&r, "over")["Config"]["Healthcheck"].clone();
    assert_eq!(
        (hc["Test"][0].as_str(), hc["Interval"].as_i64(), hc["Retries"].as_i64()),
        (Some("CMD-SHELL"), Some(500_000_000), Some(3))
    );
    // docker's checks of the flags
    for bad in [
        vec!["--no-healthcheck", "--health-cmd", "true"],
        vec!["--health-retries", "-1"],
        vec!["--health-interval", "soon"],
    ] {
        let mut args = vec!["run", "--rm"];
        args.extend(bad.iter().copied());
        args.extend(["busybox", "true"]);
        assert_eq!(r.run(&args).status.code(), Some(125), "{bad:?}");
    }
    assert_eq!(r.run(&["healthcheck", "run", "nosuch"]).status.code(), Some(125));
}

#[test]
fn wait_restart_and_rename() {
    if !root_or_skip("wait_restart_and_rename") {
        return;
    }
    let r = TestRoot::with_busybox("wait");
    // wait blocks until the container exits and prints its code; an exited one at once
    detach(&r, &["--name", "a", "busybox", "sh", "-c", "sleep 1; exit 4"]);
    detach(&r, &["--name", "b", "busybox", "sh", "-c", "exit 5"]);
    let t = Instant::now();
    assert_eq!(r.ok(&["wait", "a", "b"]), "4\n5\n");
    assert!(t.elapsed() >= Duration::from_millis(500), "it waited for a");
    assert_eq!(status(&r, "a"), "exited");
    let t = Instant::now();
    assert_eq!(r.ok(&["wait", "b"]), "5\n");
    assert!(t.elapsed() < Duration::from_secs(2));
    // a --rm container's code comes from its die event
    detach(&r, &["--rm", "--name", "brief", "busybox", "sh", "-c", "sleep 0.5; exit 6"]);
    assert_eq!(r.ok(&["wait", "brief"]), "6\n");
    let (code, out, err) = run3(&r, &["wait", "b", "nosuch"]);
    assert_eq!((code, out.as_str()), (Some(125), "5\n"), "{err}");
    // restart: stop, then start again on the same rootfs
    detach(
        &r,
        &["--name", "svc", "busybox", "sh", "-c", "echo started; trap 'exit 0' TERM; while :; do sleep 0.1; done"],
    );
    let pid = inspect(&r, "svc")["State"]["Pid"].as_i64().unwrap();
    assert_eq!(r.ok(&["restart", "-t", "5", "svc"]), "svc\n");
    let c = inspect(&r, "svc");
    assert_eq!(c["State"]["Status"], "running");
    assert_ne!(c["State"]["Pid"].as_i64().unwrap(), pid, "a new process");
    wait_until("the second run logged", Duration::from_secs(5), || r.ok(&["logs", "svc"]) == "started\nstarted\n");
    // an exited container is started; a --rm one survives its restart
    r.ok(&["restart", "a"]);
    assert_eq!(r.ok(&["wait", "a"]), "4\n");
    detach(&r, &["--rm", "--name", "keep", "busybox", "sleep", "60"]);
    r.ok(&["restart", "-t", "0", "keep"]);
    assert_eq!(status(&r, "keep"), "running", "restart is not the exit that removes it");
    let evs = actions(&events(&r, &["container=svc"]));
    let count = |a: &str| evs.iter().filter(|x| *x == a).count();
    assert_eq!((count("create"), count("start"), count("die"), count("restart")), (1, 2, 1, 1), "{evs:?}");
    // rename: docker's rules
    r.ok(&["rename", "svc", "svc2"]);
    assert_eq!(inspect(&r, "svc2")["Name"], "/svc2");
    assert_eq!(r.run(&["inspect", "svc"]).status.code(), Some(125));
    let (code, _, err) = run3(&r, &["rename", "svc2", "keep"]);
    assert_eq!(code, Some(125));
    assert!(err.contains("already in use"), "{err}");
    let (code, _, err) = run3(&r, &["rename", "svc2", "svc2"]);
    assert_eq!(code, Some(125));
    assert!(err.contains("same name"), "{err}");
    assert_eq!(r.run(&["rename", "svc2", "-bad/name"]).status.code(), Some(125));
    assert_eq!(r.run(&["rename", "nosuch", "x"]).status.code(), Some(125));
    let renamed = events(&r, &["event=rename"]);
    assert_eq!(renamed.len(), 1);
    assert_eq!(renamed[0]["Actor"]["Attributes"]["oldName"], "/svc");
    assert_eq!(renamed[0]["Actor"]["Attributes"]["name"], "svc2");
    // the monitor keeps working under the new name
    r.ok(&["stop", "svc2"]);
    assert_eq!(status(&r, "svc2"), "exited");
}

#[test]
fn top_and_port() {
    if !root_or_skip("top_and_port") {
        return;
    }
    let r = TestRoot::with_busybox("top");
    detach(&r, &["--name", "t", "busybox", "sh", "-c", "sleep 1000 & exec sleep 1001"]);
    let procs = cgroup_dirs_of(&r, "t")[0].join("cgroup.procs");
    wait_until("both processes run", Duration::from_secs(5), || {
        std::fs::read_to_string(&procs).unwrap().lines().count() >= 2
    });
    let out = r.ok(&["top", "t"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
    );
    assert!(lines[0].starts_with(&format!("{:<20}{:<20}", "UID", "PID")), "docker's column layout: {out}");
    assert_eq!(lines.len(), 3, "only the container's processes: {out}");
    assert!(
        lines.iter().any(|l| l.ends_with("sleep 1001")) && lines.iter().any(|l| l.ends_with("sleep 1000")),
        "{out}"
    );
    let pids: Vec<String> = std::fs::read_to_string(&procs).unwrap().lines().map(String::from).collect();
    for l in &lines[1..] {
        assert!(pids.contains(&l.split_whitespace().nth(1).unwrap().to_string()), "{l} is not the container's");
    }
    // ps options pass through
    let out = r.ok(&["top", "t", "-o", "pid,comm"]);
    assert_eq!(out.lines().next().unwrap().split_whitespace().collect::<Vec<_>>(), ["PID", "COMMAND"]);
    assert!(out.lines().skip(1).all(|l| l.ends_with("sleep")), "{out}");
    assert_eq!(r.run(&["top", "t", "-o", "comm"]).status.code(), Some(125), "no PID column");
    // port: nothing published yet
    assert_eq!(run3(&r, &["port", "t"]), (Some(0), String::new(), String::new()));
    let (code, _, err) = run3(&r, &["port", "t", "80"]);
    assert_eq!(code, Some(125));
    assert!(err.contains("No public port '80/tcp' published for t"), "{err}");
    assert_eq!(r.run(&["port", "nosuch"]).status.code(), Some(125));
    // what networking will record, printed as docker prints it
    r.ok(&["stop", "-t", "0", "t"]);
    assert_eq!(r.run(&["top", "t"]).status.code(), Some(125), "not running");
    let id = inspect(&r, "t")["Id"].as_str().unwrap().to_string();
    let record = r.path.join("containers").join(&id).join("container.json");
    let mut rec: Value = serde_json::from_slice(&std::fs::read(&record).unwrap()).unwrap();
    assert_eq!(rec["ports"], serde_json::json!([]));
    rec["ports"] = serde_json::json!([
        {"container_port": 80, "protocol": "tcp", "host_ip": "0.0.0.0", "host_port": 8080},
        {"container_port": 80, "protocol": "tcp", "host_ip": "::", "host_port": 8080},
        {"container_port": 53, "protocol": "udp", "host_ip": "127.0.0.1", "host_port": 5353},
    ]);
    std::fs::write(&record, serde_json::to_vec(&rec).unwrap()).unwrap();
    assert_eq!(r.ok(&["port", "t"]), "80/tcp -> 0.0.0.0:8080\n80/tcp -> [::]:8080\n53/udp -> 127.0.0.1:5353\n");
    assert_eq!(r.ok(&["port", "t", "80/tcp"]), "0.0.0.0:8080\n[::]:8080\n");
    assert_eq!(r.ok(&["port", "t", "53/udp"]), "127.0.0.1:5353\n");
    assert_eq!(r.run(&["port", "t", "53"]).status.code(), Some(125));
    assert_eq!(inspect(&r, "t")["NetworkSettings"]["Ports"]["80/tcp"][0]["HostPort"], "8080");
}

#[test]
fn update_changes_limits_now_and_for_the_next_start() {
    if !root_or_skip("update_changes_limits_now_and_for_the_next_start") {
        return;
    }
    let r = TestRoot::with_busybox("update");
    detach(&r, &["--name", "u", "-m", "64m", "busybox", "sleep", "60"]);
    let memory = |r: &TestRoot| cgroup_value(r, "u", &["memory.max", "memory.limit_in_bytes"]);
    assert_eq!(memory(&r), (64u64 << 20).to_string());
    assert_eq!(r.ok(&["update", "--memory", "32m", "--pids-limit", "20", "--cpus", "0.5", "u"]), "u\n");
    assert_eq!(memory(&r), (32u64 << 20).to_string(), "applied to the running container");
    assert_eq!(cgroup_value(&r, "u", &["pids.max"]), "20");
    let quota = cgroup_value(&r, "u", &["cpu.max", "cpu.cfs_quota_us"]);
    assert!(quota == "50000" || quota.starts_with("50000 "), "{quota}");
    let hc = inspect(&r, "u")["HostConfig"].clone();
    assert_eq!(
        (hc["Memory"].as_i64(), hc["PidsLimit"].as_i64(), hc["NanoCpus"].as_i64()),
        (Some(32 << 20), Some(20), Some(500_000_000))
    );
    assert_eq!(hc["MemorySwap"], 128 << 20, "the swap limit set at run is kept");
    // docker's rule: above the swap limit, the swap limit must change too
    let (code, _, err) = run3(&r, &["update", "-m", "256m", "u"]);
    assert_eq!(code, Some(125));
    assert!(err.contains("update the memoryswap at the same time"), "{err}");
    r.ok(&["update", "-m", "256m", "--memory-swap", "512m", "u"]);
    assert_eq!(memory(&r), (256u64 << 20).to_string());
    // run's checks
    assert_eq!(r.run(&["update", "-m", "1m", "u"]).status.code(), Some(125));
    assert_eq!(r.run(&["update", "--cpus", "0", "u"]).status.code(), Some(125));
    assert_eq!(r.run(&["update", "--cpuset-cpus", "x", "u"]).status.code(), Some(125));
    assert_eq!(r.run(&["update", "u"]).status.code(), Some(125), "no flags");
    assert_eq!(r.run(&["update", "-m", "64m", "nosuch"]).status.code(), Some(125));
    // kept for the next start
    r.ok(&["stop", "-t", "0", "u"]);
    r.ok(&["start", "u"]);
    assert_eq!(memory(&r), (256u64 << 20).to_string());
    assert_eq!(cgroup_value(&r, "u", &["pids.max"]), "20");
    // --restart: the monitor follows the new policy
    r.ok(&["update", "--restart", "on-failure:1", "u"]);
    assert_eq!(inspect(&r, "u")["HostConfig"]["RestartPolicy"]["Name"], "on-failure");
    r.ok(&["kill", "u"]);
    wait_until("restarted once", Duration::from_secs(10), || {
        let c = inspect(&r, "u");
        c["RestartCount"] == 1 && c["State"]["Status"] == "running"
    });
    assert_eq!(r.run(&["update", "--restart", "sometimes", "u"]).status.code(), Some(125));
    detach(&r, &["--rm", "--name", "auto", "busybox", "sleep", "60"]);
    let (code, _, err) = run3(&r, &["update", "--restart", "always", "auto"]);
    assert_eq!(code, Some(125));
    assert!(err.contains("AutoRemove"), "{err}");
    // a created container: kept for its first start
    r.ok(&["create", "--name", "later", "busybox", "sleep", "60"]);
    r.ok(&["update", "--pids-limit", "33", "later"]);
    r.ok(&["start", "later"]);
    assert_eq!(cgroup_value(&r, "later", &["pids.max"]), "33");
    assert!(actions(&events(&r, &["container=u"])).contains(&"update".to_string()));
}

#[test]
fn the_event_journal() {
    if !root_or_skip("the_event_journal") {
        return;
    }
    let r = TestRoot::with_busybox("events");
    // a follower started first sees what happens next, as it happens
    let follower = Session::piped(r.cmd(&["events", "--filter", "container=ev"]), false);
    std::thread::sleep(Duration::from_millis(300));
    let id = detach(&r, &["--name", "ev", "busybox", "sh", "-c", "sleep 0.3; exit 3"]);
    follower.expect(&format!("container die {id} (exitCode=3, image=busybox, name=ev)"));
    drop(follower);
    r.ok(&["rm", "ev"]);
    r.ok(&["tag", "busybox", "localhost/other:1"]);
    r.ok(&["rmi", "localhost/other:1"]);
    let out = r.ok(&["events", "--since", "1h", "--until", "0s"]);
    let line = out.lines().find(|l| l.contains(" container start ")).unwrap();
    // docker's line: time with nanoseconds, type, action, ID, sorted attributes
    let (time, rest) = line.split_once(' ').unwrap();
    assert_eq!(time.len(), 30, "{line}");
    assert!(time.as_bytes()[10] == b'T' && time.as_bytes()[19] == b'.', "{line}");
    assert_eq!(rest, format!("container start {id} (image=busybox, name=ev)"));
    let all = actions(&events(&r, &[]));
    for want in ["load", "create", "start", "die", "tag", "untag", "destroy"] {
        assert!(all.contains(&want.to_string()), "{want} in {all:?}");
    }
    let images = events(&r, &["type=image"]);
    assert!(images.iter().all(|e| e["Type"] == "image"));
    assert!(images.iter().any(|e| e["Action"] == "tag" && e["Actor"]["Attributes"]["name"] == "localhost/other:1"));
    let dies = events(&r, &["event=die"]);
    assert_eq!(dies.len(), 1);
    assert_eq!(dies[0]["Actor"]["Attributes"]["exitCode"], "3");
    assert_eq!((dies[0]["status"].as_str(), dies[0]["from"].as_str()), (Some("die"), Some("busybox")));
    assert!(dies[0]["timeNano"].as_i64().unwrap() / 1_000_000_000 == dies[0]["time"].as_i64().unwrap());
    assert!(events(&r, &["container=nosuch"]).is_empty());
    // both bounds in the past: prints and exits; a future --until: streams until then
    let t = Instant::now();
    r.ok(&["events", "--since", "1h", "--until", "1s"]);
    assert!(t.elapsed() < Duration::from_secs(3));
    let until = (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap() + Duration::from_secs(2))
        .as_secs();
    let t = Instant::now();
    r.ok(&["events", "--until", &until.to_string()]);
    assert!(t.elapsed() >= Duration::from_millis(900) && t.elapsed() < Duration::from_secs(6), "{:?}", t.elapsed());
    assert_eq!(r.run(&["events", "--filter", "bogus=1"]).status.code(), Some(125));
    assert_eq!(r.run(&["events", "--since", "yesterday"]).status.code(), Some(125));
    // the journal is one file of json lines, bounded in size
    let journal = std::fs::read_to_string(r.path.join("events.log")).unwrap();
    assert!(journal.lines().all(|l| serde_json::from_str::<Value>(l).is_ok()));
}

#[test]
fn errors_end_with_125() {
    if !root_or_skip("errors_end_with_125") {
        return;
    }
    let r = TestRoot::with_busybox("codes");
    for verb in ["rm", "stop", "kill", "start", "pause", "unpause", "wait", "restart", "inspect", "logs", "top", "port"]
    {
        let (code, _, err) = run3(&r, &[verb, "nosuch"]);
        assert_eq!(code, Some(125), "{verb}: {err}");
        assert!(err.contains("nosuch"), "{verb} names the container: {err}");
    }
    // one missing among several: the others are done, and the exit code says one failed
    r.ok(&["create", "--name", "one", "busybox", "true"]);
    let (code, out, _) = run3(&r, &["rm", "one", "nosuch"]);
    assert_eq!((code, out.as_str()), (Some(125), "one\n"));
    assert!(r.entries("containers").is_empty());
}
