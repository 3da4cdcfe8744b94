//! Resource limits bite: memory (OOM kill recorded), pids, CPU quota, and the
//! v2 device program. Run on this host's layout (v1 or hybrid here; the v2
//! backend is exercised under a pure-v2 kernel by scripts/v2-vm.sh).

mod common;
use common::*;
use std::time::{Duration, Instant};

fn ps_json(r: &TestRoot) -> serde_json::Value {
    serde_json::from_str(&r.ok(&["ps", "-a", "--format", "json"])).unwrap()
}

#[test]
fn memory_limit_oom_kills_and_is_recorded() {
    if !root_or_skip("memory_limit_oom_kills_and_is_recorded") {
        return;
    }
    let r = TestRoot::with_busybox("oom");
    // 64 MB of 'a's in a shell variable needs far more than 16 MB
    let out = r.run(&[
        "run",
        "--name",
        "hog",
        "-m",
        "16m",
        "busybox",
        "sh",
        "-c",
        "x=$(head -c 67108864 /dev/zero | tr '\\0' a); echo survived",
    ]);
    assert_eq!(out.status.code(), Some(137), "{out:?}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("survived"));
    let ps = ps_json(&r);
    assert_eq!(ps[0]["oom_killed"], true, "{ps}");
    assert_eq!(ps[0]["exit_code"], 137);
    // its cgroup is gone
    for d in ps[0]["cgroup"].as_array().unwrap() {
        assert!(!std::path::Path::new(d.as_str().unwrap()).exists(), "cgroup {d} left behind");
    }
    // within the limit all is well, and nothing is marked
    let out = r.run(&[
        "run",
        "--name",
        "fine",
        "-m",
        "64m",
        "busybox",
        "sh",
        "-c",
        "x=$(head -c 1048576 /dev/zero | tr '\\0' a); echo fine",
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(ps_json(&r).as_array().unwrap().iter().find(|c| c["name"] == "fine").unwrap()["oom_killed"], false);
}

#[test]
fn pids_limit_stops_a_fork_loop() {
    if !root_or_skip("pids_limit_stops_a_fork_loop") {
        return;
    }
    let r = TestRoot::with_busybox("pids");
    // a subshell forks until fork fails; the outer shell then counts processes with builtins only
    let script = "(i=0; while [ $i -lt 50 ]; do sleep 5 & i=$((i+1)); done) 2>/dev/null; \
                  n=0; for p in /proc/[0-9]*; do n=$((n+1)); done; echo $n";
    let (code, out, err) = r.sh(&["--pids-limit", "10"], script);
    assert_eq!(code, 0, "{err}");
    let n: u32 = out.trim().parse().unwrap();
    assert!((5..=10).contains(&n), "the fork loop must stop at 10 processes, saw {n}");
    let (_, out, _) = r.sh(&[], script);
    assert_eq!(out.trim(), "51", "without a limit all 50 start (plus the shell)");
}

#[test]
fn cpus_quota_holds_a_busy_loop_near_half_a_cpu() {
    if !root_or_skip("cpus_quota_holds_a_busy_loop_near_half_a_cpu") {
        return;
    }
    let r = TestRoot::with_busybox("cpu");
    let mut child = r
        .cmd(&["run", "--rm", "--name", "busy", "--cpus", "0.5", "busybox", "sh", "-c", "while :; do :; done"])
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let dir = loop {
        let ps = ps_json(&r);
        if let Some(d) =
            ps.as_array().and_then(|a| a.first()).and_then(|c| c["cgroup"].as_array().cloned()).and_then(|dirs| {
                let has = |f: &str| {
                    dirs.iter()
                        .filter_map(|d| d.as_str())
                        .find(|d| std::path::Path::new(d).join(f).exists())
                        .map(String::from)
                };
                has("cpuacct.usage").or_else(|| has("cgroup.controllers"))
            })
        {
            if ps[0]["status"] == "running" {
                break std::path::PathBuf::from(d);
            }
        }
        assert!(Instant::now() < deadline, "container did not start");
        std::thread::sleep(Duration::from_millis(50));
    };
    let usage_ns = || -> u64 {
        if let Ok(v) = std::fs::read_to_string(dir.join("cpuacct.usage")) {
            return v.trim().parse().unwrap();
        }
        let stat = std::fs::read_to_string(dir.join("cpu.stat")).unwrap();
        stat.lines().find_map(|l| l.strip_prefix("usage_usec ")).unwrap().trim().parse::<u64>().unwrap() * 1000
    };
    std::thread::sleep(Duration::from_millis(500));
    let (u0, t0) = (usage_ns(), Instant::now());
    std::thread::sleep(Duration::from_secs(3));
    let (u1, t1) = (usage_ns(), Instant::now());
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGKILL).unwrap();
    child.wait().unwrap();
    let share = (u1 - u0) as f64 / (t1 - t0).as_nanos() as f64;
    assert!((0.3..=0.7).contains(&share), "a busy loop under --cpus 0.5 used {share:.2} CPUs");
}

#[test]
fn device_cgroup_allows_only_the_standard_nodes() {
    if !root_or_skip("device_cgroup_allows_only_the_standard_nodes") {
        return;
    }
    let r = TestRoot::with_busybox("devices");
    // a node the container creates itself (CAP_MKNOD) is still not openable: the cgroup decides;
    // /dev/fuse (10:229) is not in the default list
    let probe = "mknod /tmp/fuse c 10 229 && { (: <> /tmp/fuse) 2>/dev/null && echo fuse-open || echo fuse-denied; }; \
                 head -c 1 /dev/zero | wc -c";
    let (code, out, err) = r.sh(&[], probe);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "fuse-denied\n1\n");
    let (_, out, err) = r.sh(&["--device-cgroup-rule", "c 10:229 rw"], probe);
    assert_eq!(out, "fuse-open\n1\n", "an added rule allows it: {err}");
    let (code, _, err) = r.sh(&["--device-cgroup-rule", "q 1:1 r"], "true");
    assert_eq!(code, 125);
    assert!(err.contains("q 1:1 r"), "{err}");
}

#[test]
fn device_flag_adds_the_node_and_allows_it() {
    if !root_or_skip("device_flag_adds_the_node_and_allows_it") {
        return;
    }
    let r = TestRoot::with_busybox("devflag");
    let (code, out, err) =
        r.sh(&["--device", "/dev/fuse"], "ls -l /dev/fuse | cut -c1; (: <> /dev/fuse) && echo fuse-open");
    assert_eq!((code, out.as_str()), (0, "c\nfuse-open\n"), "{err}");
    // renamed, read-only: reading opens, writing is denied by the cgroup
    let (code, out, err) = r.sh(
        &["--device", "/dev/fuse:/dev/myfuse:r"],
        "(: < /dev/myfuse) && echo read-ok; (: <> /dev/myfuse) 2>/dev/null && echo rw-ok || echo rw-denied",
    );
    assert_eq!((code, out.as_str()), (0, "read-ok\nrw-denied\n"), "{err}");
    let (code, _, err) = r.sh(&["--device", "/dev/no-such-device"], "true");
    assert_eq!(code, 125);
    assert!(err.contains("/dev/no-such-device"), "{err}");
    let (code, _, err) = r.sh(&["--device", "/etc/passwd"], "true");
    assert_eq!(code, 125, "{err}");
}

#[test]
fn every_limit_flag_reaches_its_control_file() {
    if !root_or_skip("every_limit_flag_reaches_its_control_file") {
        return;
    }
    let r = TestRoot::with_busybox("limits");
    let id = r
        .ok(&[
            "run",
            "-d",
            "--name",
            "limited",
            "--memory",
            "64m",
            "--memory-reservation",
            "32m",
            "--cpu-shares",
            "512",
            "--cpuset-cpus",
            "0",
            "--cpus",
            "1.5",
            "--pids-limit",
            "77",
            "busybox",
            "sleep",
            "60",
        ])
        .trim()
        .to_string();
    let inspect: serde_json::Value = serde_json::from_str(&r.ok(&["inspect", &id])).unwrap();
    let dirs: Vec<std::path::PathBuf> =
        inspect[0]["Cgroup"].as_array().unwrap().iter().map(|d| d.as_str().unwrap().into()).collect();
    let read = |file: &str| -> String {
        let d = dirs.iter().find(|d| d.join(file).exists()).unwrap_or_else(|| panic!("no cgroup dir has {file}"));
        std::fs::read_to_string(d.join(file)).unwrap().trim().to_string()
    };
    if dirs[0].join("cgroup.controllers").exists() {
        assert_eq!(read("memory.max"), (64u64 << 20).to_string());
        assert_eq!(read("memory.low"), (32u64 << 20).to_string());
        assert_eq!(read("cpu.max"), "150000 100000");
        assert_eq!(read("cpuset.cpus"), "0");
        assert_eq!(read("pids.max"), "77");
    } else {
        assert_eq!(read("memory.limit_in_bytes"), (64u64 << 20).to_string());
        assert_eq!(read("memory.soft_limit_in_bytes"), (32u64 << 20).to_string());
        assert_eq!(read("cpu.shares"), "512");
        assert_eq!((read("cpu.cfs_quota_us"), read("cpu.cfs_period_us")), ("150000".into(), "100000".into()));
        assert_eq!(read("cpuset.cpus"), "0");
        assert_eq!(read("pids.max"), "77");
        // swap accounting is often off on v1: then only the default (twice the memory) is accepted
        if dirs.iter().any(|d| d.join("memory.memsw.limit_in_bytes").exists()) {
            assert_eq!(read("memory.memsw.limit_in_bytes"), (128u64 << 20).to_string());
        }
    }
    r.ok(&["rm", "-f", "limited"]);
    assert!(dirs.iter().all(|d| !d.exists()));
    // invalid values are refused before anything runs, naming the flag
    for (flag, value) in [("--memory", "lots"), ("--cpus", "0"), ("--cpuset-cpus", "a-b"), ("--memory", "1k")] {
        let out = r.run(&["run", "--rm", flag, value, "busybox", "true"]);
        assert_eq!(out.status.code(), Some(125), "{flag} {value}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(flag),
            "{flag}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
