//! `rrun run`: what a process sees inside the container.

mod common;
use common::*;
use std::time::{Duration, Instant};

#[test]
fn command_is_pid_1_and_sees_only_its_own_processes() {
    if !root_or_skip("command_is_pid_1_and_sees_only_its_own_processes") {
        return;
    }
    let r = TestRoot::with_busybox("pid");
    let my_pid = std::process::id();
    let (code, out, err) = r
        .sh(&[], &format!("echo $$; ls /proc | grep -cE '^[0-9]+$'; [ -e /proc/{my_pid} ] && echo host-visible; true"));
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "1", "the command is PID 1");
    let n: u32 = lines[1].parse().unwrap();
    assert!(n <= 3, "only the container's processes are in /proc, saw {n}");
    assert!(!out.contains("host-visible"));
    // with --init, PID 1 is the init and the command is its child
    let (code, out, _) = r.sh(
        &["--init"],
        "echo $$; cat /proc/1/comm >/dev/null 2>&1 || echo no-access-to-init; cat /proc/1/cmdline | tr '\\0' ' '",
    );
    assert_eq!(code, 0);
    assert_ne!(out.lines().next(), Some("1"), "with --init the command is not PID 1: {out}");
}

#[test]
fn init_reaps_zombies() {
    if !root_or_skip("init_reaps_zombies") {
        return;
    }
    let r = TestRoot::with_busybox("zombie");
    // the orphaned grandchild ends up a child of PID 1, which must collect it
    let script = "sh -c 'sleep 0.2 & exit 0'; sleep 1; ps -o stat,comm | grep -c '^Z' || true";
    let (code, out, err) = r.sh(&["--init"], script);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "0", "no zombies with --init");
}

#[test]
fn hostname_is_the_containers() {
    if !root_or_skip("hostname_is_the_containers") {
        return;
    }
    let r = TestRoot::with_busybox("host");
    let host = nix::unistd::gethostname().unwrap().into_string().unwrap();
    let (_, out, _) = r.sh(&[], "hostname; cat /etc/hostname; echo $HOSTNAME");
    let lines: Vec<&str> = out.lines().collect();
    assert_ne!(lines[0], host);
    assert_eq!(lines[0].len(), 12, "the default hostname is the short container ID");
    assert_eq!(lines[1], lines[0]);
    assert_eq!(lines[2], lines[0]);
    let (_, out, _) = r.sh(&["--hostname", "box.example"], "hostname; grep box.example /etc/hosts | wc -l");
    assert_eq!(out, "box.example\n1\n");
    // without CAP_SYS_ADMIN (Docker's default) the name cannot be changed, and the host's never is
    let (code, _, _) = r.sh(&[], "hostname changed-inside");
    assert_ne!(code, 0);
    assert_eq!(nix::unistd::gethostname().unwrap().into_string().unwrap(), host);
}

#[test]
fn host_root_is_not_visible() {
    if !root_or_skip("host_root_is_not_visible") {
        return;
    }
    let r = TestRoot::with_busybox("hostroot");
    let marker = format!("rrun-host-marker-{}", std::process::id());
    std::fs::write(format!("/tmp/{marker}"), "host").unwrap();
    let (code, out, _) = r.sh(&[], &format!(
        "ls /tmp/{marker} 2>/dev/null && echo visible; find / -xdev -name {marker} 2>/dev/null; grep -c ' / / ' /proc/self/mountinfo; cat /etc/hostname >/dev/null; ls /root /home"
    ));
    let _ = std::fs::remove_file(format!("/tmp/{marker}"));
    assert_eq!(code, 0);
    assert!(!out.contains("visible") && !out.contains(&marker), "{out}");
    assert!(r.entries("containers").is_empty(), "--rm removed the container");
}

#[test]
fn capabilities_are_dockers_default_set() {
    if !root_or_skip("capabilities_are_dockers_default_set") {
        return;
    }
    let r = TestRoot::with_busybox("caps");
    let (_, out, _) =
        r.sh(&[], "grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb)' /proc/self/status; grep NoNewPrivs /proc/self/status");
    // CHOWN DAC_OVERRIDE FOWNER FSETID KILL SETGID SETUID SETPCAP NET_BIND_SERVICE NET_RAW SYS_CHROOT MKNOD AUDIT_WRITE SETFCAP
    let docker = "00000000a80425fb";
    for (set, want) in [
        ("CapEff", docker),
        ("CapPrm", docker),
        ("CapBnd", docker),
        ("CapInh", "0000000000000000"),
        ("CapAmb", "0000000000000000"),
    ] {
        let line = out.lines().find(|l| l.starts_with(set)).unwrap();
        assert_eq!(line.split_whitespace().nth(1), Some(want), "{set}: {out}");
    }
    assert!(out.contains("NoNewPrivs:\t0"), "off by default, as in Docker: {out}");
    // a capability outside the set is refused
    let (code, _, _) = r.sh(&[], "mount -t tmpfs none /mnt");
    assert_ne!(code, 0, "CAP_SYS_ADMIN is not granted");
}

#[test]
fn users_groups_and_environment() {
    if !root_or_skip("users_groups_and_environment") {
        return;
    }
    let r = TestRoot::with_busybox("user");
    let (code, out, err) = r.sh(&["-u", "alice"], "id; echo $HOME; grep CapEff /proc/self/status");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("uid=1000(alice) gid=1000(alice) groups=10(wheel),50(staff)"), "{out}");
    assert!(out.contains("/home/alice"));
    assert!(out.contains("CapEff:\t0000000000000000"), "a non-root user has no effective capabilities");
    let (_, out, _) = r.sh(&["-u", "4321:50"], "id -u; id -g");
    assert_eq!(out, "4321\n50\n");
    let (code, _, err) = r.sh(&["-u", "nobody-such"], "true");
    assert_eq!(code, 125);
    assert!(err.contains("nobody-such"), "{err}");

    let env_file = r.path.join("env");
    std::fs::write(&env_file, "# comment\nFROM_FILE=yes\nBOTH=file\n").unwrap();
    let (_, out, _) = r.sh(
        &["--env-file", env_file.to_str().unwrap(), "-e", "BOTH=flag", "-e", "EMPTY=", "-w", "/srv/work"],
        "echo $FROM_FILE $BOTH [$EMPTY] $PWD; echo $PATH",
    );
    assert_eq!(out.lines().next(), Some("yes flag [] /srv/work"));
    assert!(out.contains("/usr/bin"));
}

#[test]
fn entrypoint_and_command_resolution() {
    if !root_or_skip("entrypoint_and_command_resolution") {
        return;
    }
    let r = TestRoot::with_busybox("entry");
    assert_eq!(r.ok(&["run", "--rm", "--entrypoint", "echo", "busybox", "from", "entrypoint"]), "from entrypoint\n");
    // the image's Cmd is `sh`: with stdin closed it exits 0 at once
    assert_eq!(r.run(&["run", "--rm", "busybox"]).status.code(), Some(0));
    let out = r.run(&["run", "--rm", "busybox", "no-such-command"]);
    assert_eq!(out.status.code(), Some(127));
    assert!(String::from_utf8_lossy(&out.stderr).contains("executable file not found"));
    let out = r.run(&["run", "--rm", "busybox", "/etc/passwd"]);
    assert_eq!(out.status.code(), Some(126));
    let out = r.run(&["run", "--rm", "busybox", "/no/such/file"]);
    assert_eq!(out.status.code(), Some(127));
    let out = r.run(&["run", "--rm", "no-such-image", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-image"));
    let out = r.run(&["run", "--rm", "-w", "relative", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(125));
    let out = r.run(&["run", "--bogus-flag", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(r.entries("containers").is_empty(), "failed runs with --rm leave nothing");
}

#[test]
fn exit_codes_and_signals_travel() {
    if !root_or_skip("exit_codes_and_signals_travel") {
        return;
    }
    let r = TestRoot::with_busybox("exit");
    for code in [0, 1, 3, 42, 255] {
        assert_eq!(r.sh(&[], &format!("exit {code}")).0, code);
    }
    // killed by a signal: 128 + N
    assert_eq!(r.sh(&["--init"], "kill -9 $$").0, 137);

    // a signal sent to rrun reaches the container
    let mut child = r
        .cmd(&[
            "run",
            "--rm",
            "--name",
            "sig",
            "busybox",
            "sh",
            "-c",
            "trap 'echo got-term; exit 42' TERM; echo ready; while true; do sleep 0.05; done",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut buf = [0u8; 6];
    std::io::Read::read_exact(&mut stdout, &mut buf).unwrap();
    assert_eq!(&buf, b"ready\n");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGTERM).unwrap();
    let status = child.wait().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    assert_eq!(status.code(), Some(42));
    assert_eq!(rest, "got-term\n");
}

#[test]
fn read_only_paths_masked_paths_and_read_only_rootfs() {
    if !root_or_skip("read_only_paths_masked_paths_and_read_only_rootfs") {
        return;
    }
    let r = TestRoot::with_busybox("ro");
    let (code, out, _) = r.sh(&[], "echo 1 > /proc/sys/kernel/domainname && echo wrote; touch /sys/x 2>/dev/null && echo wrote-sys; wc -c < /proc/timer_list; ls /sys/firmware | wc -l; touch /ok && echo rw-root");
    assert_eq!(code, 0);
    assert!(!out.contains("wrote"), "read-only paths refuse writes: {out}");
    assert!(out.contains("rw-root"), "the rootfs is writable by default");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(&lines[0..2], ["0", "0"], "masked paths are empty");

    let (code, out, _) = r.sh(&["--read-only", "--tmpfs", "/scratch"], "touch /x 2>/dev/null || echo ro-root; touch /scratch/y && echo tmpfs-rw; grep ' /scratch ' /proc/mounts | grep -c noexec");
    assert_eq!(code, 0);
    assert_eq!(out, "ro-root\ntmpfs-rw\n1\n");
}

#[test]
fn upper_layers_delete_and_hide_files() {
    if !root_or_skip("upper_layers_delete_and_hide_files") {
        return;
    }
    let r = TestRoot::new("layers");
    r.ok(&["load", "-i", fixture("multilayer.tar").to_str().unwrap()]);
    let out = r.ok(&[
        "run", "--rm", "multilayer", "sh", "-c",
        "ls /data; echo --; ls /olddir; echo --; cat /etc/motd/README; cat /dir-to-file; ls /gone-dir 2>&1 >/dev/null | grep -c 'No such'; cat /data/link",
    ]);
    let parts: Vec<&str> = out.split("--\n").collect();
    let data: Vec<&str> = parts[0].lines().collect();
    assert!(!data.contains(&"remove-me"), "a file deleted by an upper layer is absent: {data:?}");
    assert!(data.contains(&"keep") && data.contains(&"owned"));
    assert_eq!(parts[1].lines().collect::<Vec<_>>(), ["new"], "an opaque dir shows only the upper content");
    assert_eq!(parts[2], "replaced a regular file with a directory\nwas a directory\n1\nkept\n");
}

#[test]
fn volumes_work_both_ways_and_read_only() {
    if !root_or_skip("volumes_work_both_ways_and_read_only") {
        return;
    }
    let r = TestRoot::with_busybox("vol");
    let host = r.path.join("vol");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("from-host"), "hello from host\n").unwrap();
    let spec = format!("{}:/mnt/data", host.display());
    let (code, out, err) =
        r.sh(&["-v", &spec], "cat /mnt/data/from-host; echo from-container > /mnt/data/from-container");
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "hello from host\n");
    assert_eq!(std::fs::read_to_string(host.join("from-container")).unwrap(), "from-container\n");
    let ro = format!("{}:/mnt/data:ro", host.display());
    let (_, out, _) = r.sh(&["-v", &ro], "cat /mnt/data/from-host; touch /mnt/data/nope 2>/dev/null || echo refused");
    assert_eq!(out, "hello from host\nrefused\n");
    assert!(!host.join("nope").exists());
    // a single file
    let file = format!("{}:/etc/motd-from-host:ro", host.join("from-host").display());
    assert_eq!(r.sh(&["-v", &file], "cat /etc/motd-from-host").1, "hello from host\n");
    // bad specs are clear errors
    // (a bare name is a named volume, as in Docker: tests/run_flags.rs)
    let (code, _, err) = r.sh(&["-v", "./relative:/x"], "true");
    assert_eq!(code, 125);
    assert!(err.contains("./relative:/x") && err.contains("absolute path"), "{err}");
    let (code, _, err) = r.sh(&["-v", "/no/such/dir:/x"], "true");
    assert_eq!(code, 125);
    assert!(err.contains("does not exist"), "{err}");
}

#[test]
fn network_none_has_only_loopback() {
    if !root_or_skip("network_none_has_only_loopback") {
        return;
    }
    let r = TestRoot::with_busybox("net");
    let (_, out, _) = r.sh(&["--network", "none"], "ls /sys/class/net");
    assert_eq!(out.trim(), "lo");
    let (code, _, err) = r.sh(&["--network", "bridge0"], "true");
    assert_eq!(code, 125);
    assert!(err.contains("bridge0"));
}

#[test]
fn concurrent_runs_of_the_same_image_both_succeed() {
    if !root_or_skip("concurrent_runs_of_the_same_image_both_succeed") {
        return;
    }
    let r = TestRoot::with_busybox("concurrent");
    let children: Vec<_> = (0..4)
        .map(|i| {
            r.cmd(&[
                "run",
                "--rm",
                "busybox",
                "sh",
                "-c",
                &format!("echo $$ > /tmp/me; sleep 0.3; echo run-{i} $(cat /tmp/me)"),
            ])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    for (i, c) in children.into_iter().enumerate() {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success());
        assert_eq!(String::from_utf8_lossy(&out.stdout), format!("run-{i} 1\n"), "each container has its own /tmp");
    }
    assert!(r.entries("containers").is_empty());
}

#[test]
fn named_containers_persist_until_removed() {
    if !root_or_skip("named_containers_persist_until_removed") {
        return;
    }
    let r = TestRoot::with_busybox("names");
    assert_eq!(
        r.run(&["run", "--name", "web", "busybox", "sh", "-c", "echo data > /kept; exit 7"]).status.code(),
        Some(7)
    );
    let ps = r.ok(&["ps", "-a"]);
    assert!(ps.contains("web") && ps.contains("Exited (7)"), "{ps}");
    let out = r.run(&["run", "--name", "web", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already in use"));
    let out = r.run(&["run", "--name", "bad/name", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(125));
    r.ok(&["rm", "web"]);
    assert!(r.entries("containers").is_empty());
    let out = r.run(&["rm", "web"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such container"));
}

#[test]
fn killed_rrun_leaves_nothing_that_breaks_the_next_run() {
    if !root_or_skip("killed_rrun_leaves_nothing_that_breaks_the_next_run") {
        return;
    }
    let r = TestRoot::with_busybox("crash");
    let mut child = r
        .cmd(&["run", "--rm", "--name", "crashy", "busybox", "sh", "-c", "echo up; sleep 30"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut buf = [0u8; 3];
    std::io::Read::read_exact(child.stdout.as_mut().unwrap(), &mut buf).unwrap();
    // the container may print before rrun has recorded its PID
    let deadline = Instant::now() + Duration::from_secs(5);
    let ps = loop {
        let ps: serde_json::Value = serde_json::from_str(&r.ok(&["ps", "--format", "json"])).unwrap();
        if ps[0]["pid"].is_i64() || Instant::now() > deadline {
            break ps;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let pid = ps[0]["pid"].as_i64().unwrap() as i32;
    let cgroups: Vec<String> = ps[0]["cgroup"].as_array().unwrap().iter().map(|d| d.as_str().unwrap().into()).collect();
    assert!(!cgroups.is_empty());
    child.kill().unwrap();
    child.wait().unwrap();
    // the container dies with its parent
    let start = Instant::now();
    while std::path::Path::new(&format!("/proc/{pid}")).exists() && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}/status")).exists() || {
            let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            s.contains("zombie")
        }
    );
    let ps = r.ok(&["ps", "-a"]);
    assert!(!ps.contains("Up "), "a dead container is never shown running: {ps}");
    // the same name can be used again, and the store works
    assert_eq!(r.ok(&["run", "--rm", "--name", "crashy", "busybox", "echo", "again"]), "again\n");
    assert!(r.entries("containers").is_empty());
    assert!(cgroups.iter().all(|d| !std::path::Path::new(d).exists()), "the dead container's cgroup was removed");
}

#[test]
fn interactive_terminal() {
    if !root_or_skip("interactive_terminal") {
        return;
    }
    let r = TestRoot::with_busybox("tty");
    let (status, text) = in_pty(
        r.cmd(&["run", "--rm", "-it", "busybox", "sh"]),
        b"tty; [ -t 0 ] && echo is-a-terminal; echo $((6*7)); exit 9\n",
        "42",
    );
    assert!(text.contains("/dev/pts/0"), "{text}");
    assert!(text.contains("is-a-terminal"), "{text}");
    assert!(text.contains("42"), "{text}");
    assert_eq!(status, Some(9));
}

#[test]
fn seccomp_and_capability_options() {
    if !root_or_skip("seccomp_and_capability_options") {
        return;
    }
    let r = TestRoot::with_busybox("secopts");
    // Docker's default profile: filter on, unshare refused even with CAP_SYS_ADMIN's help absent
    let (code, out, err) = r.sh(&[], "grep Seccomp: /proc/self/status; unshare -u true 2>/dev/null; echo $?");
    assert_eq!((code, out.as_str()), (0, "Seccomp:\t2\n1\n"), "{err}");
    // with CAP_SYS_ADMIN the profile lets unshare through, as Docker's does
    let (_, out, err) = r.sh(&["--cap-add", "SYS_ADMIN"], "unshare -u true; echo $?");
    assert_eq!(out, "0\n", "{err}");
    let (_, out, _) = r.sh(&["--security-opt", "seccomp=unconfined"], "grep Seccomp: /proc/self/status");
    assert_eq!(out, "Seccomp:\t0\n");
    // a profile file: Docker's format, refusing mkdir with EACCES
    let profile = r.path.join("profile.json");
    std::fs::write(
        &profile,
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":13}]}"#,
    )
    .unwrap();
    let opt = format!("seccomp={}", profile.display());
    let (_, out, _) = r.sh(&["--security-opt", &opt], "mkdir /tmp/x 2>&1; echo $?");
    assert!(out.contains("Permission denied") && out.ends_with("1\n"), "{out}");
    // capabilities: drop, add, all
    let (_, out, _) = r.sh(&["--cap-drop", "ALL", "--cap-add", "chown"], "grep CapEff /proc/self/status");
    assert_eq!(out, "CapEff:\t0000000000000001\n");
    let (_, out, _) = r.sh(&["--cap-drop", "NET_RAW"], "grep CapEff /proc/self/status");
    assert_eq!(out, "CapEff:\t00000000a80405fb\n", "Docker's set without CAP_NET_RAW (bit 13)");
    let (_, out, _) = r.sh(&["--privileged"], "grep -E 'Seccomp:' /proc/self/status; cat /proc/kcore >/dev/null 2>&1; ls /dev | grep -c . >/dev/null; echo ok");
    assert_eq!(out, "Seccomp:\t0\nok\n");
    let (code, _, err) = r.sh(&["--cap-add", "BOGUS"], "true");
    assert_eq!(code, 125);
    assert!(err.contains("BOGUS"), "{err}");
    let (code, _, err) = r.sh(&["--security-opt", "apparmor=x"], "true");
    assert_eq!(code, 125);
    assert!(err.contains("apparmor=x"), "{err}");
}
