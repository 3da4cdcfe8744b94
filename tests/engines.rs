//! Real engines drive rrun as their low-level (runc-compatible) runtime:
//! Debian's Podman (through conmon) and containerd (through
//! containerd-shim-runc-v2 and go-runc). Each test sets up an engine of its
//! own under a scratch directory — its own storage, configuration, socket and
//! state — loads the busybox fixture and checks what users see: output, exit
//! codes, detached containers with exec/stop/kill/rm, terminals, and that no
//! process, mount, state directory or cgroup is left behind. The engines are
//! installed with apt-get when missing; the tests say SKIP only when that is
//! impossible (not root, no apt-get, no package registry), and fail then in CI.
//!
//! Host quirks handled here, as in /work/shared/bench: no systemd (cgroupfs,
//! file events logger), a hard RLIMIT_NOFILE below Podman's default ulimits,
//! no container networking set up (netns none).

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// An engine command's limit: far above what it takes, short enough not to hang CI.
const CMD_SECS: u32 = 60;

fn assert_ran(what: &str, got: &(Option<i32>, String, String), code: i32) {
    assert_eq!(got.0, Some(code), "{what}: exit code {:?}, wanted {code}\nstdout: {}\nstderr: {}", got.0, got.1, got.2);
}

// ---------------------------------------------------------------- Podman

/// A Podman of the test's own: storage, configuration, lock files, events and
/// networks under a scratch directory, rrun as its runtime.
struct Podman {
    image: String,
    dir: ScratchDir,
}

impl Podman {
    fn setup() -> Podman {
        let dir = ScratchDir::new("podman");
        common::podman::write_config(&dir.path, common::podman::Runtime::Rrun, "none");
        let mut p = Podman { image: String::new(), dir };
        let load = p.run(&["load", "-i", fixture("busybox.tar").to_str().unwrap()]);
        assert_ran("podman load", &load, 0);
        p.image = load
            .1
            .lines()
            .find_map(|l| l.strip_prefix("Loaded image: ").or_else(|| l.strip_prefix("Loaded image(s): ")))
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|| panic!("podman load named no image: {}", load.1));
        p
    }

    /// `podman --runtime RRUN ARGS` in this Podman's configuration.
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = common::podman::command(&self.dir.path, CMD_SECS);
        c.arg("--runtime").arg(RRUN).args(args);
        c
    }

    fn run(&self, args: &[&str]) -> (Option<i32>, String, String) {
        output_of(&mut self.cmd(args))
    }

    fn inspect(&self, name: &str, format: &str) -> String {
        let out = self.run(&["inspect", "--format", format, name]);
        assert_ran(&format!("podman inspect {name}"), &out, 0);
        out.1.trim().to_string()
    }

    /// What must be gone once a container is removed: rrun's state and the cgroup.
    fn assert_cleaned(&self, id: &str) {
        let state = Path::new("/run/rrun").join(id);
        let cgroups = format!("libpod_parent/libpod-{id}");
        let ok = wait_for(Duration::from_secs(5), || !state.exists() && cgroup_dirs(&cgroups).is_empty());
        assert!(ok, "container {id} left {} or cgroups {:?}", state.display(), cgroup_dirs(&cgroups));
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        // everything the test made goes, even after a failed assertion: containers (and through
        // rrun their processes and cgroups), then conmon and cleanup processes, then mounts
        let ids = self.run(&["ps", "-aq", "--no-trunc"]).1;
        let _ = self.run(&["rm", "-af", "-t", "0"]);
        for id in ids.split_whitespace() {
            let _ = timed(20, RRUN).args(["delete", "--force", id]).output();
        }
        let _ = self.run(&["rmi", "-af"]);
        let d = self.dir.path.display().to_string();
        end_processes(&pids_mentioning(&d), Duration::from_secs(5));
        // ScratchDir's drop unmounts (storage's private bind mount, shm) and removes the rest
    }
}

#[test]
fn podman_runs_containers_with_rrun() {
    if !root_or_skip("podman_runs_containers_with_rrun")
        || !ensure_programs(
            "podman_runs_containers_with_rrun",
            &[
                ("podman", "podman"),
                ("conmon", "conmon"),
                ("/usr/lib/cni/loopback", "containernetworking-plugins"),
                ("timeout", "coreutils"),
            ],
        )
    {
        return;
    }
    let started = Instant::now();
    let p = Podman::setup();
    let img = p.image.clone();

    // create + start + delete, output through conmon
    let out = p.run(&["run", "--rm", &img, "echo", "hi"]);
    assert_ran("podman run echo hi", &out, 0);
    assert_eq!(out.1, "hi\n", "stderr: {}", out.2);

    // the container's exit code travels through conmon's exit file
    assert_ran("podman run sh -c 'exit 3'", &p.run(&["run", "--rm", &img, "sh", "-c", "exit 3"]), 3);

    // --read-only gives tmpfs mounts with runc's `tmpcopyup`: the image's files show through
    let out = p.run(&[
        "run",
        "--rm",
        "--read-only",
        "--tmpfs",
        "/etc:size=1m",
        &img,
        "sh",
        "-c",
        "grep -c root /etc/passwd; touch /etc/new /tmp/new && echo writable; touch /bin/x 2>/dev/null || echo ro-root",
    ]);
    assert_ran("podman run --read-only --tmpfs /etc", &out, 0);
    assert_eq!(out.1, "1\nwritable\nro-root\n", "stderr: {}", out.2);

    // a missing command: rrun's create fails with runc's message, which Podman reads from
    // the --log file (json) and turns into 127
    let out = p.run(&["run", "--rm", &img, "nosuchcmd"]);
    assert_ran("podman run nosuchcmd", &out, 127);
    assert!(out.2.contains("nosuchcmd") && out.2.contains("not found"), "{}", out.2);
    // one prefix, Podman's (the runtime's path), before the message as runc words it
    assert_eq!(
        out.2.trim_end(),
        format!(
            "Error: {RRUN}: exec: \"nosuchcmd\": executable file not found in $PATH: \
             OCI runtime attempted to invoke a command that was not found"
        )
    );
    // … and the json line rrun wrote is where Podman looks for it
    let out = p.run(&["create", "--name", "broken", &img, "nosuchcmd"]);
    assert_ran("podman create", &out, 0);
    let broken = out.1.trim().to_string();
    assert_ne!(p.run(&["start", "broken"]).0, Some(0));
    let log = find_file(&p.dir.path, "oci-log", &broken)
        .unwrap_or_else(|| panic!("no oci-log file of {broken} under {}", p.dir.path.display()));
    let text = std::fs::read_to_string(&log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
    let line: serde_json::Value = serde_json::from_str(text.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{}: not json lines ({e}): {text}", log.display()));
    assert_eq!(line["level"], "error", "{text}");
    assert!(line["msg"].as_str().unwrap_or_default().contains("nosuchcmd"), "{text}");
    assert_ran("podman rm broken", &p.run(&["rm", "broken"]), 0);
    p.assert_cleaned(&broken);

    // a detached container: exec (output, exit codes, options), pause, stop, rm
    let out = p.run(&["run", "-d", "--name", "web", &img, "sh", "-c", "trap 'exit 0' TERM; sleep 600 & wait"]);
    assert_ran("podman run -d", &out, 0);
    let web = out.1.trim().to_string();
    assert_eq!(p.inspect("web", "{{.State.Status}}"), "running");
    let pid: i32 = p.inspect("web", "{{.State.Pid}}").parse().unwrap();
    assert!(Path::new(&format!("/proc/{pid}")).exists(), "the container's PID {pid} is not a process");
    let out = p.run(&["exec", "web", "sh", "-c", "echo in-exec; exit 4"]);
    assert_ran("podman exec", &out, 4);
    assert_eq!(out.1, "in-exec\n");
    let out = p.run(&["exec", "-e", "K=V", "-u", "1000", "-w", "/tmp", "web", "sh", "-c", "echo $K $(id -u) $(pwd)"]);
    assert_ran("podman exec -e -u -w", &out, 0);
    assert_eq!(out.1, "V 1000 /tmp\n");
    let out = p.run(&["exec", "web", "nosuchcmd"]);
    assert_ran("podman exec nosuchcmd", &out, 127);
    // runc's words for a failed exec ("exec failed: …"), after Podman's one prefix
    assert!(
        out.2.starts_with(&format!("Error: {RRUN}: exec failed: exec: \"nosuchcmd\"")) && !out.2.contains("rrun: rrun"),
        "{}",
        out.2
    );
    assert_ran("podman pause", &p.run(&["pause", "web"]), 0);
    assert_eq!(p.inspect("web", "{{.State.Status}}"), "paused");
    assert_ran("podman unpause", &p.run(&["unpause", "web"]), 0);
    assert_eq!(p.inspect("web", "{{.State.Status}}"), "running");
    let t = Instant::now();
    assert_ran("podman stop", &p.run(&["stop", "-t", "10", "web"]), 0);
    assert!(t.elapsed() < Duration::from_secs(8), "stop took {:?}: SIGTERM did not reach the container", t.elapsed());
    assert_eq!(p.inspect("web", "{{.State.Status}}"), "exited");
    assert_eq!(p.inspect("web", "{{.State.ExitCode}}"), "0");
    assert!(!Path::new(&format!("/proc/{pid}")).exists() || wait_for(Duration::from_secs(2), || !alive(pid)));
    assert_ran("podman rm", &p.run(&["rm", "web"]), 0);
    p.assert_cleaned(&web);

    // podman kill sends SIGKILL through `rrun kill`
    let out = p.run(&["run", "-d", &img, "sleep", "600"]);
    assert_ran("podman run -d sleep", &out, 0);
    let sleeper = out.1.trim().to_string();
    assert_ran("podman kill", &p.run(&["kill", &sleeper]), 0);
    assert!(wait_for(Duration::from_secs(10), || p.inspect(&sleeper, "{{.State.Status}}") == "exited"));
    assert_eq!(p.inspect(&sleeper, "{{.State.ExitCode}}"), "137");
    assert_ran("podman rm", &p.run(&["rm", &sleeper]), 0);
    p.assert_cleaned(&sleeper);

    // a terminal: rrun hands the pty's master to conmon's --console-socket
    let (code, text) =
        in_pty(p.cmd(&["run", "--rm", "-t", &img, "sh", "-c", "tty; echo TTY-OK; exit 5"]), b"", "TTY-OK");
    assert!(text.contains("/dev/pts/0") && text.contains("TTY-OK"), "{text}");
    assert_eq!(code, Some(5), "{text}");
    let (code, text) = in_pty(p.cmd(&["run", "--rm", "-it", &img, "sh"]), b"echo typed-$((6*7)); exit 4\n", "typed-42");
    assert!(text.contains("typed-42"), "{text}");
    assert_eq!(code, Some(4), "{text}");
    // -t with no terminal on Podman's side still gets one in the container
    let out = p.run(&["run", "--rm", "-t", &img, "sh", "-c", "[ -t 0 ] && echo no-tty-here-but-one-there; exit 6"]);
    assert_ran("podman run -t (stdin not a terminal)", &out, 6);
    assert!(out.1.contains("no-tty-here-but-one-there"), "{}", out.1);
    // exec -t into a detached container
    let out = p.run(&["run", "-d", "-t", "--name", "tty", &img, "sh"]);
    assert_ran("podman run -d -t", &out, 0);
    let tty = out.1.trim().to_string();
    let out = p.run(&["exec", "-t", "tty", "sh", "-c", "tty; exit 7"]);
    assert_ran("podman exec -t", &out, 7);
    assert!(out.1.contains("/dev/pts/"), "{}", out.1);
    assert_ran("podman rm -f", &p.run(&["rm", "-f", "-t", "0", "tty"]), 0);
    p.assert_cleaned(&tty);

    let left = p.run(&["ps", "-aq"]);
    assert_eq!(left.1.trim(), "", "containers left: {}", left.1);
    eprintln!("podman_runs_containers_with_rrun: {:?}", started.elapsed());
}

/// A file named `name` below `dir` whose path contains `part`.
fn find_file(dir: &Path, name: &str, part: &str) -> Option<PathBuf> {
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        let path = e.path();
        let Ok(t) = e.file_type() else { continue };
        if t.is_dir() {
            if let Some(found) = find_file(&path, name, part) {
                return Some(found);
            }
        } else if e.file_name() == name && path.to_string_lossy().contains(part) {
            return Some(path);
        }
    }
    None
}

fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
}

// ------------------------------------------------------------ containerd

/// A containerd of the test's own: root, state, socket and config under a
/// scratch directory, CRI off, a namespace of its own (so go-runc's state root
/// `/run/containerd/runc/<namespace>` is the test's too).
struct Containerd {
    ctr: PathBuf,
    ns: String,
    sock: PathBuf,
    daemon: Option<std::process::Child>,
    ids: std::cell::RefCell<Vec<String>>,
    dir: ScratchDir,
}

impl Containerd {
    fn start() -> Containerd {
        let dir = ScratchDir::new("containerd");
        let d = dir.path.display().to_string();
        let config = dir.path.join("config.toml");
        std::fs::write(
            &config,
            format!(
                "version = 2\nroot = \"{d}/root\"\nstate = \"{d}/state\"\n\
                 disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
                 [grpc]\n  address = \"{d}/containerd.sock\"\n\
                 [ttrpc]\n  address = \"{d}/containerd.sock.ttrpc\"\n"
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.path.join("containerd.log")).unwrap();
        let daemon = Command::new(find_program("containerd").unwrap())
            .arg("-c")
            .arg(&config)
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start containerd");
        let c = Containerd {
            ctr: find_program("ctr").unwrap(),
            ns: format!("rrun-test-{}", std::process::id()),
            sock: dir.path.join("containerd.sock"),
            daemon: Some(daemon),
            ids: Default::default(),
            dir,
        };
        let up = wait_for(Duration::from_secs(20), || c.run(&["version"]).0 == Some(0));
        assert!(up, "containerd did not come up: {}", c.log());
        c
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path.join("containerd.log")).unwrap_or_default()
    }

    /// `ctr -a SOCKET -n NAMESPACE ARGS`.
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = timed(CMD_SECS, &self.ctr);
        c.arg("-a").arg(&self.sock).args(["-n", &self.ns]).args(args);
        c
    }

    fn run(&self, args: &[&str]) -> (Option<i32>, String, String) {
        output_of(&mut self.cmd(args))
    }

    /// `ctr run --runc-binary RRUN [OPTS] IMAGE ID ARGS…`.
    fn ctr_run(&self, opts: &[&str], image: &str, id: &str, args: &[&str]) -> Command {
        self.ids.borrow_mut().push(id.to_string());
        let mut a = vec!["run", "--runc-binary", RRUN];
        a.extend_from_slice(opts);
        a.extend_from_slice(&[image, id]);
        a.extend_from_slice(args);
        self.cmd(&a)
    }

    /// go-runc's `--root` for this namespace.
    fn runc_root(&self) -> PathBuf {
        Path::new("/run/containerd/runc").join(&self.ns)
    }

    fn task_status(&self, id: &str) -> Option<String> {
        let out = self.run(&["task", "ls"]).1;
        out.lines().find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.first() == Some(&id)).then(|| f.last().unwrap_or(&"").to_string())
        })
    }

    fn assert_cleaned(&self, id: &str) {
        let state = self.runc_root().join(id);
        let cgroups = format!("{}/{id}", self.ns);
        let ok = wait_for(Duration::from_secs(5), || !state.exists() && cgroup_dirs(&cgroups).is_empty());
        assert!(ok, "container {id} left {} or cgroups {:?}", state.display(), cgroup_dirs(&cgroups));
        let listed = self.run(&["containers", "ls", "-q"]).1;
        assert!(!listed.lines().any(|l| l.trim() == id), "containerd still lists {id}");
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        let ids = self.ids.borrow().clone();
        for id in &ids {
            let _ = output_of(self.cmd(&["task", "kill", "-s", "KILL", id]).env("CTR_TIMEOUT", "1"));
            let _ = self.run(&["task", "delete", id]);
            let _ = self.run(&["containers", "rm", id]);
        }
        if let Some(mut daemon) = self.daemon.take() {
            end_processes(&[daemon.id() as i32], Duration::from_secs(5));
            let _ = daemon.wait();
        }
        // shims outlive containerd: any still there was left by a failure
        end_processes(&pids_mentioning(&self.sock.display().to_string()), Duration::from_secs(2));
        for id in &ids {
            let _ = timed(20, RRUN).arg("--root").arg(self.runc_root()).args(["delete", "--force", id]).output();
        }
        let _ = std::fs::remove_dir_all(self.runc_root());
        // the namespace's parent cgroup (containerd's cgroupsPath is /NAMESPACE/ID)
        for d in cgroup_dirs(&self.ns) {
            let _ = std::fs::remove_dir(d);
        }
        // ScratchDir's drop unmounts the snapshots and removes the rest
    }
}

#[test]
fn containerd_runs_containers_with_rrun() {
    if !root_or_skip("containerd_runs_containers_with_rrun")
        || !ensure_programs(
            "containerd_runs_containers_with_rrun",
            &[
                ("containerd", "containerd"),
                ("ctr", "containerd"),
                ("containerd-shim-runc-v2", "containerd"),
                ("timeout", "coreutils"),
            ],
        )
    {
        return;
    }
    let started = Instant::now();
    let c = Containerd::start();
    let out = c.run(&["images", "import", fixture("busybox-oci.tar").to_str().unwrap()]);
    assert_ran("ctr images import", &out, 0);
    let images = c.run(&["images", "ls", "-q"]).1;
    let img = images
        .lines()
        .map(str::trim)
        .find(|l| l.contains("busybox"))
        .unwrap_or_else(|| panic!("no busybox image after the import: {images}"))
        .to_string();

    // go-runc's create (--root, --log json, --pid-file), start, delete; the shim reaps the init
    let out = output_of(&mut c.ctr_run(&["--rm"], &img, "echo", &["echo", "hi"]));
    assert_ran("ctr run echo hi", &out, 0);
    assert_eq!(out.1, "hi\n", "stderr: {}", out.2);
    c.assert_cleaned("echo");

    // short-lived commands, many times: start must not lose a race with the init's exit
    for i in 0..5 {
        let id = format!("exit3-{i}");
        let out = output_of(&mut c.ctr_run(&["--rm"], &img, &id, &["sh", "-c", "exit 3"]));
        assert_ran("ctr run sh -c 'exit 3'", &out, 3);
        c.assert_cleaned(&id);
    }

    // a failed create: the shim reports the message rrun wrote to --log as json
    let out = output_of(&mut c.ctr_run(&["--rm"], &img, "missing", &["nosuchcmd"]));
    assert_ne!(out.0, Some(0), "{out:?}");
    assert!(out.2.contains("nosuchcmd") && out.2.contains("not found"), "{}", out.2);
    let _ = c.run(&["containers", "rm", "missing"]);
    c.assert_cleaned("missing");

    // detached: exec (go-runc's exec --process --detach --pid-file), pause, kill, delete
    let out = output_of(&mut c.ctr_run(&["-d"], &img, "web", &["sh", "-c", "trap 'exit 0' TERM; sleep 600 & wait"]));
    assert_ran("ctr run -d", &out, 0);
    assert_eq!(c.task_status("web").as_deref(), Some("RUNNING"));
    let out = c.run(&["task", "exec", "--exec-id", "e1", "web", "sh", "-c", "echo in-exec; exit 4"]);
    assert_ran("ctr task exec", &out, 4);
    assert_eq!(out.1, "in-exec\n");
    let out = c.run(&["task", "exec", "--exec-id", "e2", "web", "nosuchcmd"]);
    assert_ne!(out.0, Some(0), "{out:?}");
    assert!(out.2.contains("nosuchcmd"), "{}", out.2);
    let ps = c.run(&["task", "ps", "web"]);
    assert_ran("ctr task ps", &ps, 0);
    assert!(ps.1.lines().count() >= 2, "{}", ps.1);
    assert_ran("ctr task pause", &c.run(&["task", "pause", "web"]), 0);
    assert_eq!(c.task_status("web").as_deref(), Some("PAUSED"));
    assert_ran("ctr task resume", &c.run(&["task", "resume", "web"]), 0);
    assert_eq!(c.task_status("web").as_deref(), Some("RUNNING"));
    assert_ran("ctr task kill", &c.run(&["task", "kill", "web"]), 0);
    assert!(
        wait_for(Duration::from_secs(10), || c.task_status("web").as_deref() == Some("STOPPED")),
        "the task did not stop on SIGTERM: {:?}",
        c.task_status("web")
    );
    assert_ran("ctr task delete", &c.run(&["task", "delete", "web"]), 0);
    assert_ran("ctr containers rm", &c.run(&["containers", "rm", "web"]), 0);
    c.assert_cleaned("web");

    // kill -s KILL of a process that ignores SIGTERM
    let out = output_of(&mut c.ctr_run(&["-d"], &img, "sleeper", &["sleep", "600"]));
    assert_ran("ctr run -d sleep", &out, 0);
    assert_ran("ctr task kill -s KILL", &c.run(&["task", "kill", "-s", "KILL", "sleeper"]), 0);
    assert!(wait_for(Duration::from_secs(10), || c.task_status("sleeper").as_deref() == Some("STOPPED")));
    let out = c.run(&["task", "delete", "sleeper"]);
    assert_ran("ctr task delete", &out, 0);
    assert_ran("ctr containers rm", &c.run(&["containers", "rm", "sleeper"]), 0);
    c.assert_cleaned("sleeper");

    // a container in the host's PID namespace: once its init exits, the shim kills what is
    // left in its cgroup with `kill --all ID 9` on the stopped container
    let host_pid_ns = format!("pid:/proc/{}/ns/pid", std::process::id());
    let out = output_of(&mut c.ctr_run(
        &["--rm", "--with-ns", &host_pid_ns],
        &img,
        "hostpid",
        &["sh", "-c", "sleep 3131 & echo started"],
    ));
    assert_ran("ctr run --with-ns pid:HOST", &out, 0);
    assert_eq!(out.1, "started\n");
    assert!(
        wait_for(Duration::from_secs(5), || pids_mentioning("sleep 3131").is_empty()),
        "the container's orphan outlived it: {:?}\n{}",
        pids_mentioning("sleep 3131"),
        c.log()
    );
    c.assert_cleaned("hostpid");

    // a terminal through the shim's console socket
    let (code, text) =
        in_pty(c.ctr_run(&["--rm", "-t"], &img, "tty", &["sh", "-c", "tty; echo TTY-OK; exit 6"]), b"", "TTY-OK");
    assert!(text.contains("/dev/pts/0") && text.contains("TTY-OK"), "{text}");
    assert_eq!(code, Some(6), "{text}");
    c.assert_cleaned("tty");

    assert!(!c.log().contains("level=error msg=\"failed to"), "containerd logged errors:\n{}", c.log());
    eprintln!("containerd_runs_containers_with_rrun: {:?}", started.elapsed());
}
