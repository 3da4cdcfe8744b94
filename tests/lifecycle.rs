//! Detached containers without a daemon: `run -d` under a monitor, `ps`,
//! `logs`, `exec`, `stop`, `kill`, `pause`, `stats`, `inspect`, `start`,
//! `rm -f`, `container prune`, restart policies, and a truthful `ps` after
//! the monitor is killed.

mod common;
use common::*;
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, Instant};

fn inspect(r: &TestRoot, name: &str) -> Value {
    let v: Value = serde_json::from_str(&r.ok(&["inspect", name])).unwrap();
    v[0].clone()
}

fn ps_json(r: &TestRoot) -> Vec<Value> {
    serde_json::from_str::<Value>(&r.ok(&["ps", "-a", "--format", "json"])).unwrap().as_array().unwrap().clone()
}

/// Starts a detached container and returns its ID.
fn detach(r: &TestRoot, args: &[&str]) -> String {
    let mut a = vec!["run", "-d"];
    a.extend_from_slice(args);
    let id = r.ok(&a).trim().to_string();
    assert_eq!(id.len(), 64, "run -d prints the full ID: {id}");
    id
}

fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn alive(pid: i64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
}

#[test]
fn detached_run_logs_and_exec() {
    if !root_or_skip("detached_run_logs_and_exec") {
        return;
    }
    let r = TestRoot::with_busybox("detach");
    let id = detach(
        &r,
        &[
            "--name",
            "web",
            "--hostname",
            "webhost",
            "busybox",
            "sh",
            "-c",
            "echo out-1; echo err-1 >&2; sleep 0.3; echo out-2; exec sleep 60",
        ],
    );
    // the CLI returned while the container runs, and its output is neither ours nor lost
    let c = inspect(&r, "web");
    assert_eq!(c["State"]["Status"], "running", "{c}");
    assert_eq!(c["Id"], id.as_str());
    let pid = c["State"]["Pid"].as_i64().unwrap();
    assert!(alive(pid));
    let ps = r.ok(&["ps"]);
    assert!(ps.contains("Up ") && ps.contains("web"), "{ps}");
    wait_until("the second line is logged", Duration::from_secs(5), || r.ok(&["logs", "web"]).contains("out-2"));
    let out = r.run(&["logs", "web"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out-1\nout-2\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "err-1\n", "stderr stays stderr");
    assert_eq!(r.ok(&["logs", "--tail", "1", "web"]), "out-2\n");
    let stamped = r.ok(&["logs", "-t", "web"]);
    assert!(stamped.lines().all(|l| l.len() > 30 && l.contains("T") && l.contains("Z out-")), "{stamped}");
    // a unique ID prefix names it too
    assert_eq!(inspect(&r, &id[..5])["Name"], "/web");

    // exec: same PID namespace and hostname, the container's environment, exit codes travel
    let (code, out, err) = {
        let o = r.run(&[
            "exec",
            "-e",
            "EXTRA=yes",
            "web",
            "sh",
            "-c",
            "cat /proc/1/cmdline | tr '\\0' ' '; echo; hostname; echo $EXTRA $PATH; exit 3",
        ]);
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    assert_eq!(code, Some(3), "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0].trim(), "sleep 60", "PID 1 of the exec is the container's command");
    assert_eq!(lines[1], "webhost");
    assert!(lines[2].starts_with("yes /usr/local/sbin"), "{out}");
    let caps = r.ok(&["exec", "web", "grep", "CapEff", "/proc/self/status"]);
    assert_eq!(caps.split_whitespace().nth(1), Some("00000000a80425fb"), "the container's capabilities");
    let who = r.ok(&[
        "exec",
        "-u",
        "nobody",
        "-w",
        "/tmp",
        "web",
        "sh",
        "-c",
        "id -u; pwd; grep NoNewPrivs /proc/self/status",
    ]);
    assert_eq!(who, "65534\n/tmp\nNoNewPrivs:\t0\n", "the container's no_new_privs (off by default, as in Docker)");
    assert_eq!(r.run(&["exec", "web", "no-such-command"]).status.code(), Some(127));
    assert_eq!(r.run(&["exec", "nope", "true"]).status.code(), Some(125));
    // an exec'd process is in the container's cgroup
    let cg = r.ok(&["exec", "web", "cat", "/proc/self/cgroup"]);
    assert!(cg.lines().all(|l| l.ends_with(":/")), "the cgroup namespace is rooted at the container's cgroup: {cg}");
    // exec -it gets a terminal
    let (status, text) = in_pty(r.cmd(&["exec", "-it", "web", "sh"]), b"tty; exit 4\n", "/dev/pts/");
    assert_eq!(status, Some(4), "{text}");
    assert!(text.contains("/dev/pts/"), "{text}");

    r.ok(&["rm", "-f", "web"]);
    assert!(!alive(pid));
    assert!(r.entries("containers").is_empty());
}

#[test]
fn logs_follow_until_exit_and_rotate() {
    if !root_or_skip("logs_follow_until_exit_and_rotate") {
        return;
    }
    let r = TestRoot::with_busybox("follow");
    detach(
        &r,
        &[
            "--name",
            "counter",
            "--log-opt",
            "max-size=2k",
            "busybox",
            "sh",
            "-c",
            "for i in $(seq 1 60); do echo line-$i; sleep 0.02; done",
        ],
    );
    // -f returns by itself when the container exits, having printed every line still kept
    let started = Instant::now();
    let out = r.ok(&["logs", "-f", "counter"]);
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(out.ends_with("line-60\n"), "{out}");
    let c = inspect(&r, "counter");
    assert_eq!(c["State"]["Status"], "exited");
    assert_eq!(c["State"]["ExitCode"], 0);
    let log = Path::new(c["LogPath"].as_str().unwrap());
    assert!(std::fs::metadata(log).unwrap().len() <= 2048, "rotated at max-size");
    assert!(log.with_extension("log.1").exists(), "one rotated file is kept");
    let all: String = (1..=60).map(|i| format!("line-{i}\n")).collect();
    assert_eq!(out, all, "following from the start crossed the rotations without losing a line");
    let kept = r.ok(&["logs", "counter"]);
    assert!(kept.ends_with("line-60\n") && !kept.starts_with("line-1\n"), "the oldest lines were rotated away: {kept}");
    assert!(r.run(&["run", "-d", "--log-opt", "max-files=9", "busybox", "true"]).status.code() == Some(125));
}

#[test]
fn stop_waits_for_the_timeout_then_kills_everything() {
    if !root_or_skip("stop_waits_for_the_timeout_then_kills_everything") {
        return;
    }
    let r = TestRoot::with_busybox("stop");
    // PID 1 ignores SIGTERM (no handler), and a background child ignores it too
    detach(&r, &["--name", "stubborn", "busybox", "sh", "-c", "trap '' TERM; sleep 300 & while :; do sleep 1; done"]);
    let c = inspect(&r, "stubborn");
    let cgroups: Vec<String> =
        c["Cgroup"].as_array().unwrap().iter().map(|d| d.as_str().unwrap().to_string()).collect();
    let procs = Path::new(&cgroups[0]).join("cgroup.procs");
    wait_until("both processes run", Duration::from_secs(5), || {
        std::fs::read_to_string(&procs).unwrap().lines().count() >= 3
    });
    let pids: Vec<i64> = std::fs::read_to_string(&procs).unwrap().lines().map(|l| l.parse().unwrap()).collect();
    let t = Instant::now();
    r.ok(&["stop", "-t", "1", "stubborn"]);
    let took = t.elapsed();
    assert!(took >= Duration::from_secs(1), "stop waited for the timeout ({took:?})");
    assert!(took < Duration::from_secs(8), "then killed ({took:?})");
    let c = inspect(&r, "stubborn");
    assert_eq!(c["State"]["Status"], "exited");
    assert_eq!(c["State"]["ExitCode"], 137);
    assert!(pids.iter().all(|p| !alive(*p)), "every process of the container is gone");
    assert!(cgroups.iter().all(|d| !Path::new(d).exists()), "and its cgroup");

    // a container that handles SIGTERM stops at once with its own code
    detach(&r, &["--name", "polite", "busybox", "sh", "-c", "trap 'exit 7' TERM; while :; do sleep 0.1; done"]);
    let t = Instant::now();
    r.ok(&["stop", "polite"]);
    assert!(t.elapsed() < Duration::from_secs(5));
    assert_eq!(inspect(&r, "polite")["State"]["ExitCode"], 7);
    // no monitor is left once every container has exited
    for c in ps_json(&r) {
        if let Some(m) = c["monitor_pid"].as_i64() {
            wait_until("the monitor exits", Duration::from_secs(5), || !alive(m));
        }
    }
}

#[test]
fn killed_monitor_leaves_ps_truthful() {
    if !root_or_skip("killed_monitor_leaves_ps_truthful") {
        return;
    }
    let r = TestRoot::with_busybox("monkill");
    detach(&r, &["--name", "orphan", "busybox", "sleep", "300"]);
    let c = inspect(&r, "orphan");
    let (pid, monitor) = (c["State"]["Pid"].as_i64().unwrap(), c["State"]["MonitorPid"].as_i64().unwrap());
    assert_ne!(pid, monitor);
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(monitor as i32), nix::sys::signal::Signal::SIGKILL).unwrap();
    wait_until("the container dies with its monitor", Duration::from_secs(5), || !alive(pid));
    let ps = ps_json(&r);
    assert_eq!(ps[0]["status"], "exited", "never shown running: {:?}", ps[0]);
    assert!(!r.ok(&["ps"]).contains("orphan"));
    assert!(r.ok(&["ps", "-a"]).contains("Exited (137)"));
    // its cgroup is cleaned by the next command that touches it, and it can start again
    r.ok(&["start", "orphan"]);
    assert_eq!(inspect(&r, "orphan")["State"]["Status"], "running");
    r.ok(&["rm", "-f", "orphan"]);
    let cgroups: Vec<String> =
        c["Cgroup"].as_array().unwrap().iter().map(|d| d.as_str().unwrap().to_string()).collect();
    assert!(cgroups.iter().all(|d| !Path::new(d).exists()));
}

#[test]
fn pause_freezes_and_unpause_thaws() {
    if !root_or_skip("pause_freezes_and_unpause_thaws") {
        return;
    }
    let r = TestRoot::with_busybox("pause");
    let vol = r.path.join("vol");
    std::fs::create_dir_all(&vol).unwrap();
    let v = format!("{}:/out", vol.display());
    detach(
        &r,
        &[
            "--name",
            "ticker",
            "-v",
            &v,
            "busybox",
            "sh",
            "-c",
            "i=0; while :; do i=$((i+1)); echo $i > /out/n; sleep 0.05; done",
        ],
    );
    let count = || std::fs::read_to_string(vol.join("n")).unwrap_or_default().trim().parse::<u64>().unwrap_or(0);
    wait_until("the counter runs", Duration::from_secs(5), || count() > 2);
    r.ok(&["pause", "ticker"]);
    assert_eq!(inspect(&r, "ticker")["State"]["Status"], "paused");
    assert!(r.ok(&["ps"]).contains("(Paused)"));
    let frozen = count();
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(count(), frozen, "a paused container's counter does not advance");
    assert_eq!(r.run(&["exec", "ticker", "true"]).status.code(), Some(125), "exec into a paused container is refused");
    r.ok(&["unpause", "ticker"]);
    wait_until("the counter moves again", Duration::from_secs(5), || count() > frozen + 2);
    assert_eq!(inspect(&r, "ticker")["State"]["Status"], "running");
    // stats reads the cgroup's counters
    let stats: Value = serde_json::from_str(&r.ok(&["stats", "--no-stream", "--format", "json", "ticker"])).unwrap();
    assert!(stats[0]["pids"].as_u64().unwrap() >= 1, "{stats}");
    assert!(stats[0]["memory_usage"].as_u64().unwrap() > 0, "{stats}");
    let table = r.ok(&["stats", "--no-stream"]);
    assert!(table.contains("MEM USAGE / LIMIT") && table.contains("ticker"), "{table}");
    // a paused container still stops
    r.ok(&["pause", "ticker"]);
    r.ok(&["stop", "-t", "1", "ticker"]);
    assert_eq!(inspect(&r, "ticker")["State"]["Status"], "exited");
}

#[test]
fn oom_kill_is_inspected_and_limits_are_shown() {
    if !root_or_skip("oom_kill_is_inspected_and_limits_are_shown") {
        return;
    }
    let r = TestRoot::with_busybox("oomd");
    detach(
        &r,
        &[
            "--name",
            "hog",
            "-m",
            "16m",
            "--cpus",
            "0.5",
            "--pids-limit",
            "50",
            "busybox",
            "sh",
            "-c",
            "sleep 0.5; x=$(head -c 67108864 /dev/zero | tr '\\0' a)",
        ],
    );
    let c = inspect(&r, "hog");
    assert_eq!(c["HostConfig"]["Memory"], 16 << 20);
    assert_eq!(c["HostConfig"]["NanoCpus"], 500_000_000);
    assert_eq!(c["HostConfig"]["PidsLimit"], 50);
    wait_until("the hog is killed", Duration::from_secs(20), || inspect(&r, "hog")["State"]["Status"] == "exited");
    let c = inspect(&r, "hog");
    assert_eq!(c["State"]["OOMKilled"], true, "{c}");
    assert_eq!(c["State"]["ExitCode"], 137);
}

#[test]
fn restart_policies_and_start_again() {
    if !root_or_skip("restart_policies_and_start_again") {
        return;
    }
    let r = TestRoot::with_busybox("restart");
    detach(&r, &["--name", "flaky", "--restart", "on-failure:2", "busybox", "sh", "-c", "echo try; exit 3"]);
    wait_until("two restarts are done", Duration::from_secs(20), || {
        let c = inspect(&r, "flaky");
        c["State"]["Status"] == "exited" && c["RestartCount"] == 2 && c["State"]["MonitorPid"].is_null()
    });
    assert_eq!(r.ok(&["logs", "flaky"]), "try\ntry\ntry\n", "three runs in all");
    assert_eq!(inspect(&r, "flaky")["State"]["ExitCode"], 3);

    // always: a clean exit restarts too; stop ends it for good
    detach(&r, &["--name", "forever", "--restart", "always", "busybox", "sh", "-c", "sleep 0.2"]);
    wait_until("it restarted", Duration::from_secs(20), || {
        inspect(&r, "forever")["RestartCount"].as_u64().unwrap() >= 1
    });
    r.ok(&["stop", "-t", "1", "forever"]);
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(inspect(&r, "forever")["State"]["Status"], "exited", "stop is not undone by the policy");
    // a container that exits at once spends its time in the monitor's back-off: stop ends that too
    detach(&r, &["--name", "bouncer", "--restart", "always", "busybox", "true"]);
    wait_until("it bounced", Duration::from_secs(20), || inspect(&r, "bouncer")["RestartCount"].as_u64().unwrap() >= 2);
    r.ok(&["stop", "bouncer"]);
    let c = inspect(&r, "bouncer");
    assert!(c["State"]["MonitorPid"].is_null(), "the monitor is gone once stop returns: {c}");
    let count = c["RestartCount"].clone();
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(inspect(&r, "bouncer")["RestartCount"], count, "and no restart followed");
    assert_eq!(inspect(&r, "bouncer")["State"]["Status"], "exited");
    assert!(r.run(&["run", "-d", "--restart", "sometimes", "busybox", "true"]).status.code() == Some(125));

    // start: an exited container runs again on the same rootfs
    detach(
        &r,
        &["--name", "keeper", "busybox", "sh", "-c", "echo $((0$(cat /state 2>/dev/null)+1)) > /state; cat /state"],
    );
    wait_until("first run ends", Duration::from_secs(10), || inspect(&r, "keeper")["State"]["Status"] == "exited");
    r.ok(&["start", "keeper"]);
    wait_until("second run ends", Duration::from_secs(10), || {
        let c = inspect(&r, "keeper");
        c["State"]["Status"] == "exited" && r.ok(&["logs", "keeper"]).lines().count() == 2
    });
    assert_eq!(r.ok(&["logs", "keeper"]), "1\n2\n", "its upper layer was kept");
    let out = r.run(&["start", "-a", "keeper"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "3\n", "start -a runs it in the foreground");

    // prune removes what is not running; names are unique
    detach(&r, &["--name", "alive", "busybox", "sleep", "60"]);
    assert_eq!(r.run(&["run", "-d", "--name", "alive", "busybox", "true"]).status.code(), Some(125));
    let pruned = r.ok(&["container", "prune", "-f"]);
    assert!(pruned.starts_with("Deleted Containers:\n") && pruned.contains("Total reclaimed space: "), "{pruned}");
    assert_eq!(pruned.lines().filter(|l| l.len() == 64).count(), 4, "{pruned}");
    let left: Vec<String> = ps_json(&r).iter().map(|c| c["name"].as_str().unwrap().to_string()).collect();
    assert_eq!(left, ["alive"]);
    assert_eq!(r.run(&["rm", "alive"]).status.code(), Some(125), "a running container is not removed without -f");
}

#[test]
fn detached_rm_and_start_failures() {
    if !root_or_skip("detached_rm_and_start_failures") {
        return;
    }
    let r = TestRoot::with_busybox("drm");
    detach(&r, &["--rm", "--name", "gone", "busybox", "true"]);
    wait_until("--rm removed it", Duration::from_secs(10), || r.entries("containers").is_empty());
    // a command that cannot start is reported by run -d itself
    let out = r.run(&["run", "-d", "--name", "broken", "busybox", "/no/such/file"]);
    assert_eq!(out.status.code(), Some(127));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/no/such/file"));
    assert_eq!(inspect(&r, "broken")["State"]["Status"], "exited");
    let out = r.run(&["run", "-d", "--rm", "busybox", "/no/such/file"]);
    assert_eq!(out.status.code(), Some(127));
    assert_eq!(r.entries("containers").len(), 1, "the failed --rm container is gone");
    // two detached runs at once both succeed
    let a = r.cmd(&["run", "-d", "busybox", "sleep", "30"]).output().unwrap();
    let b = r.cmd(&["run", "-d", "busybox", "sleep", "30"]).output().unwrap();
    assert!(a.status.success() && b.status.success());
    assert_eq!(r.ok(&["ps", "-q"]).lines().count(), 2);
    assert_eq!(r.run(&["kill", "-s", "NOPE", "broken"]).status.code(), Some(125));
    for id in r.ok(&["ps", "-q"]).lines() {
        r.ok(&["kill", id]);
    }
    wait_until("killed containers exit", Duration::from_secs(10), || r.ok(&["ps", "-q"]).is_empty());
}
