//! `--explain` and `--dry-run`: every named step rrun declares appears in
//! the narration of a run that exercises it; the narration leaves the
//! container's own output alone, is plain text off a terminal and coloured
//! on one; a dry run prints the spec `create` would write and leaves nothing
//! behind.

mod common;
use common::registry::{tools_or_skip, Flavour, Registry};
use common::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The step records of a narration: the JSON lines on stderr (or a terminal).
fn narration(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| l.starts_with("{\""))
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("step").is_some() && v.get("why").is_some())
        .collect()
}

fn step_names(records: &[Value]) -> BTreeSet<String> {
    records.iter().filter_map(|r| r["step"].as_str().map(String::from)).collect()
}

/// Runs rrun with `args` against `root`; asserts success; returns the narration.
fn explained(root: &TestRoot, args: &[&str]) -> Vec<Value> {
    let out = root.run(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "rrun {args:?}: {:?}\n{stderr}", out.status.code());
    let n = narration(&stderr);
    assert!(!n.is_empty(), "rrun {args:?} narrated nothing:\n{stderr}");
    n
}

/// A runc-style config: the process `args`, Docker-like mounts, its own namespaces.
fn base_config(args: &[&str]) -> Value {
    let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": { "uid": 0, "gid": 0 },
            "args": args,
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "cwd": "/",
            "capabilities": { "bounding": caps, "effective": caps, "permitted": caps },
            "rlimits": [{ "type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024 }],
            "noNewPrivileges": true
        },
        "root": { "path": "rootfs", "readonly": false },
        "hostname": "explained",
        "mounts": [
            { "destination": "/proc", "type": "proc", "source": "proc" },
            { "destination": "/dev", "type": "tmpfs", "source": "tmpfs",
              "options": ["nosuid", "strictatime", "mode=755", "size=65536k"] },
            { "destination": "/dev/pts", "type": "devpts", "source": "devpts",
              "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] },
            { "destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"] },
            { "destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev"] }
        ],
        "linux": {
            "namespaces": [
                { "type": "pid" }, { "type": "network" }, { "type": "ipc" },
                { "type": "uts" }, { "type": "mount" }, { "type": "cgroup" }
            ],
            "maskedPaths": ["/proc/kcore", "/proc/keys", "/sys/firmware"],
            "readonlyPaths": ["/proc/sys", "/proc/sysrq-trigger"]
        }
    })
}

/// An OCI bundle in `dir`: the busybox rootfs and `config`.
fn bundle(dir: &Path, config: &Value) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    if !dir.join("rootfs/bin/busybox").exists() {
        extract_busybox(&dir.join("rootfs"));
    }
    std::fs::write(dir.join("config.json"), serde_json::to_vec_pretty(config).unwrap()).unwrap();
    dir.to_path_buf()
}

/// `rrun --explain=json oci run [extra] --bundle B ID` with its own OCI state root.
fn oci_run(state: &Path, b: &Path, id: &str, extra: &[&str]) -> Vec<Value> {
    let mut c = timed(60, RRUN);
    c.arg("--explain=json").args(["oci", "--root"]).arg(state).arg("run").args(extra).arg("--bundle").arg(b).arg(id);
    let (code, out, err) = output_of(&mut c);
    let _ = Command::new(RRUN).args(["oci", "--root"]).arg(state).args(["delete", "--force", id]).output();
    assert_eq!(code, Some(0), "oci run {id}: {out}\n{err}");
    let n = narration(&err);
    assert!(!n.is_empty(), "oci run {id} narrated nothing: {err}");
    n
}

/// Accepts one connection on a unix socket and keeps the descriptor it is sent
/// (a console's master side, a seccomp notify descriptor) until joined.
fn fd_listener(path: &Path) -> std::thread::JoinHandle<Option<std::os::fd::OwnedFd>> {
    let _ = std::fs::remove_file(path);
    let listener = std::os::unix::net::UnixListener::bind(path).unwrap();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
        use std::os::fd::{AsRawFd, FromRawFd};
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let stream = loop {
            match listener.accept() {
                Ok((s, _)) => break s,
                Err(_) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(10))
                }
                Err(_) => return None,
            }
        };
        stream.set_nonblocking(false).unwrap();
        let mut buf = vec![0u8; 65536];
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

/// True when `/` is a shared mount here (pivot_root then needs its parent made private).
fn root_is_shared() -> bool {
    std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default().lines().any(|l| {
        let f: Vec<&str> = l.split(' ').collect();
        f.get(4) == Some(&"/") && f.iter().skip(6).take_while(|x| **x != "-").any(|x| x.starts_with("shared:"))
    })
}

#[test]
fn every_named_step_appears_in_the_narration_of_a_run() {
    if !root_or_skip("every_named_step_appears_in_the_narration_of_a_run") {
        return;
    }
    let declared: BTreeSet<String> = rrun::explain::steps().iter().map(|s| s.name.to_string()).collect();
    let scratch = ScratchDir::new("explain-steps");
    let mut seen = BTreeSet::new();
    let mut saw = |records: Vec<Value>| seen.extend(step_names(&records));

    // images: a load, the same layer loaded again, and a pull of a multi-platform image
    let r = TestRoot::new("explain-steps-store");
    saw(explained(&r, &["load", "--explain=json", "-i", fixture("busybox.tar").to_str().unwrap()]));
    saw(explained(
        &r,
        &["--explain=json", "load", "-i", fixture("busybox-oci.tar").to_str().unwrap(), "localhost/again"],
    ));
    let registry_steps = ["manifest_fetch", "index_choose", "config_fetch"];
    let _registry = if tools_or_skip("every_named_step_appears_in_the_narration_of_a_run (pull)") {
        let reg = Registry::start(&scratch.path.join("registry"), Flavour::Open);
        reg.seed(&fixture("multiarch-oci"), "latest", "team/tool:1.0");
        saw(explained(&r, &["pull", "-q", "--explain=json", &format!("{}/team/tool:1.0", reg.host())]));
        Some(reg)
    } else {
        None
    };

    // rrun's own run: flags that take every optional step
    let host_dir = scratch.path.join("host");
    std::fs::create_dir_all(&host_dir).unwrap();
    let ro_bind = format!("{}:/hostdir:ro", host_dir.display());
    let records = explained(
        &r,
        &[
            "run",
            "--rm",
            "--explain=json",
            "--init",
            "--network",
            "none",
            "--read-only",
            "--tmpfs",
            "/ro:ro",
            "-w",
            "/new/dir",
            "-v",
            "explain-etc:/etc",
            "-v",
            &ro_bind,
            "--sysctl",
            "kernel.msgmax=65536",
            "--oom-score-adj",
            "100",
            "--security-opt",
            "no-new-privileges",
            "--memory",
            "64m",
            "busybox",
            "true",
        ],
    );
    let first = |name: &str| records.iter().find(|r| r["step"] == name).unwrap_or_else(|| panic!("no {name}"));
    assert_eq!(first("pivot_root")["process"], "container", "the init's steps come back to rrun");
    assert_eq!(first("pivot_root")["pid"], 1, "the init is PID 1 of its namespace");
    assert_eq!(first("clone")["process"], "rrun");
    assert!(first("clone")["args"]["flags"].as_str().unwrap().contains("CLONE_NEWNET"), "--network none");
    assert_eq!(first("oom_score_adj")["args"]["value"], 100);
    assert!(first("execve")["args"]["argv"].as_str().unwrap().contains("true"));
    let order: Vec<&str> = records.iter().filter_map(|r| r["step"].as_str()).collect();
    let at = |s: &str| order.iter().position(|x| *x == s).unwrap();
    assert!(at("clone") < at("pivot_root") && at("pivot_root") < at("execve") && at("execve") < at("wait"));
    assert!(at("wait") < at("remove_container"), "cleanup comes last: {order:?}");
    saw(records);
    let _ = r.run(&["volume", "rm", "explain-etc"]);

    // a terminal
    let mut c = r.cmd(&["run", "--rm", "-t", "--explain=json", "busybox", "true"]);
    c.env("RRUN_ROOT", &r.path);
    let (code, out) = in_pty(c, b"", "\"wait\"");
    assert_eq!(code, Some(0), "{out}");
    saw(narration(&out));

    // the default bridge network with a published port: set up before the start, torn down after
    // where rrun looks for it (src/network/config.rs): $PATH or podman's helper directories
    let bridged = find_program("netavark").is_some()
        || ["/usr/libexec/podman", "/usr/lib/podman", "/usr/local/libexec/podman", "/usr/local/lib/podman"]
            .iter()
            .any(|d| Path::new(d).join("netavark").is_file());
    if !bridged {
        skip("every_named_step_appears_in_the_narration_of_a_run (bridge steps)", "netavark is not installed");
    }
    if bridged {
        let records = explained(&r, &["run", "--rm", "--explain=json", "-p", "127.0.0.1::80", "busybox", "true"]);
        let order: Vec<&str> = records.iter().filter_map(|r| r["step"].as_str()).collect();
        let at = |s: &str| order.iter().position(|x| *x == s).unwrap_or_else(|| panic!("no {s} in {order:?}"));
        assert!(at("ports_reserve") < at("netns_create") && at("netns_create") < at("netavark_setup"));
        assert!(at("netavark_setup") < at("clone") && at("execve") < at("netavark_teardown"), "{order:?}");
        saw(records);
    }

    // a detached container's monitor, and exec into it
    saw(explained(&r, &["run", "-d", "--explain=json", "--name", "explained", "busybox", "sleep", "60"]));
    saw(explained(&r, &["exec", "--explain=json", "explained", "true"]));
    let _ = r.run(&["rm", "-f", "explained"]);

    // the OCI runtime: a user namespace with bind and idmapped sources
    let state = scratch.path.join("state");
    let mut c = base_config(&["true"]);
    c["linux"]["namespaces"].as_array_mut().unwrap().push(json!({ "type": "user" }));
    c["linux"]["uidMappings"] = json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]);
    c["linux"]["gidMappings"] = json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]);
    let mounts = c["mounts"].as_array_mut().unwrap();
    mounts.push(json!({ "destination": "/bound", "type": "bind", "source": host_dir, "options": ["rbind"] }));
    mounts.push(json!({ "destination": "/mapped", "type": "bind", "source": host_dir, "options": ["rbind", "idmap"] }));
    // the container's root is not the rootfs owner's: its mount points are made beforehand
    let b = bundle(&scratch.path.join("b-userns"), &c);
    for d in ["bound", "mapped"] {
        std::fs::create_dir_all(b.join("rootfs").join(d)).unwrap();
    }
    saw(oci_run(&state, &b, "explain-userns", &[]));

    // everything else a spec may ask for, with a console socket and a seccomp agent
    let console = scratch.path.join("console.sock");
    let agent = scratch.path.join("agent.sock");
    let (console_fd, agent_fd) = (fd_listener(&console), fd_listener(&agent));
    let mut c = base_config(&["true"]);
    c["process"]["terminal"] = json!(true);
    c["process"]["consoleSize"] = json!({ "height": 24, "width": 80 });
    c["process"]["oomScoreAdj"] = json!(10);
    c["process"]["ioPriority"] = json!({ "class": "IOPRIO_CLASS_BE", "priority": 4 });
    c["process"]["scheduler"] = json!({ "policy": "SCHED_OTHER", "nice": 1 });
    if std::fs::read_to_string("/sys/module/apparmor/parameters/enabled").is_ok_and(|v| v.trim() == "Y") {
        c["process"]["apparmorProfile"] = json!("unconfined");
    }
    c["domainname"] = json!("example.org");
    let hook = json!([{ "path": "/bin/true", "args": ["true"] }]);
    c["hooks"] = json!({
        "prestart": hook, "createRuntime": hook, "createContainer": hook,
        "startContainer": hook, "poststart": hook, "poststop": hook
    });
    let linux = c["linux"].as_object_mut().unwrap();
    linux.insert(
        "namespaces".into(),
        json!([
            { "type": "pid" }, { "type": "network" }, { "type": "ipc" }, { "type": "uts" },
            { "type": "mount" }, { "type": "cgroup" }, { "type": "time" }
        ]),
    );
    linux.insert("timeOffsets".into(), json!({ "monotonic": { "secs": 86400, "nanosecs": 0 } }));
    linux.insert("personality".into(), json!({ "domain": "LINUX" }));
    linux.insert("rootfsPropagation".into(), json!("rslave"));
    linux.insert("memoryPolicy".into(), json!({ "mode": "MPOL_BIND", "nodes": "0" }));
    linux.insert(
        "seccomp".into(),
        json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": if cfg!(target_arch = "aarch64") {
                json!(["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"])
            } else {
                json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"])
            },
            "listenerPath": agent,
            "syscalls": [{ "names": ["acct"], "action": "SCMP_ACT_NOTIFY" }]
        }),
    );
    let mounts = c["mounts"].as_array_mut().unwrap();
    mounts.push(json!({ "destination": "/etc", "type": "tmpfs", "source": "tmpfs", "options": ["tmpcopyup"] }));
    mounts.push(json!({ "destination": "/ro", "type": "tmpfs", "source": "tmpfs", "options": ["ro"] }));
    mounts.push(json!({ "destination": "/rro", "type": "bind", "source": host_dir, "options": ["rbind", "rro"] }));
    let b = bundle(&scratch.path.join("b-all"), &c);
    saw(oci_run(&state, &b, "explain-all", &["--console-socket", console.to_str().unwrap()]));
    assert!(console_fd.join().unwrap().is_some(), "the console socket got the terminal");
    assert!(agent_fd.join().unwrap().is_some(), "the agent got the notify descriptor");

    // --no-pivot, and a container without a mount namespace of its own (chroot)
    saw(oci_run(
        &state,
        &bundle(&scratch.path.join("b-nopivot"), &base_config(&["true"])),
        "explain-np",
        &["--no-pivot"],
    ));
    let mut c = base_config(&["true"]);
    c["linux"]["namespaces"].as_array_mut().unwrap().retain(|n| n["type"] != "mount");
    c["mounts"] = json!([]);
    c["linux"]["maskedPaths"] = json!([]);
    c["linux"]["readonlyPaths"] = json!([]);
    saw(oci_run(&state, &bundle(&scratch.path.join("b-nomnt"), &c), "explain-nomnt", &[]));

    // what only some hosts do, each with the reason
    let unified = Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let mut not_here: Vec<(&str, &str)> = vec![(
        "cgroup_controllers",
        "written only while a level of the hierarchy lacks a controller rrun uses (cgroup v2)",
    )];
    if unified {
        not_here.push(("cgroup_join", "cgroup v2: the process is born in its cgroup (clone3)"));
    } else {
        not_here.push(("clone_into_cgroup", "cgroup v1: clone3(CLONE_INTO_CGROUP) is cgroup v2's"));
        not_here.push(("device_program", "cgroup v1: the device rules are devices.allow/deny writes"));
    }
    // rootless only: tests/rootless.rs and docs/10-rootless.md run them as a user
    not_here.push(("mount_fuse_overlay", "rootless only, where the kernel refuses overlayfs in a user namespace"));
    for s in ["pasta_netns", "pasta_start", "pasta_stop"] {
        not_here.push((s, "rootless only: an ordinary user's network (root's is netavark's bridge)"));
    }
    // tests/cdi.rs joins a resctrl class where the host has one; this run asks for none
    not_here.push(("rdt_join", "only a spec with intelRdt (a CDI device) joins a resctrl class of service"));
    if !bridged {
        for s in ["ports_reserve", "address_lease", "netns_create", "netavark_setup", "netavark_teardown"] {
            not_here.push((s, "no netavark on this host: bridge networking is refused"));
        }
    }
    if !root_is_shared() {
        not_here.push(("parent_private", "the host's / is not a shared mount"));
    }
    if !std::fs::read_to_string("/sys/module/apparmor/parameters/enabled").is_ok_and(|v| v.trim() == "Y") {
        not_here.push(("lsm_label", "the host runs no AppArmor (nor SELinux): rrun refuses labels it cannot apply"));
    }
    if _registry.is_none() {
        not_here.extend(registry_steps.map(|s| (s, "no docker-registry or skopeo to pull from (see the SKIP above)")));
    }
    let undeclared: Vec<&String> = seen.difference(&declared).collect();
    assert!(undeclared.is_empty(), "steps emitted but not declared: {undeclared:?}");
    let missing: Vec<&String> = declared.difference(&seen).filter(|s| !not_here.iter().any(|(n, _)| n == s)).collect();
    assert!(missing.is_empty(), "declared steps no narration showed: {missing:?} (seen: {seen:?})");
    for (name, why) in &not_here {
        if !seen.contains(*name) {
            eprintln!("not on this host: {name}: {why}");
        }
    }
}

#[test]
fn the_narration_is_text_on_stderr_and_leaves_the_output_alone() {
    if !root_or_skip("the_narration_is_text_on_stderr_and_leaves_the_output_alone") {
        return;
    }
    let r = TestRoot::with_busybox("explain-text");
    let out = r.run(&["run", "--rm", "--explain", "busybox", "echo", "hi"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hi\n", "the container's output is its own");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains('\x1b'), "no colour into a pipe: {err}");
    let phases = [
        "── IMAGE",
        "── ROOTFS",
        "── CGROUPS",
        "── NAMESPACES",
        "── MOUNTS",
        "── IDENTITY",
        "── SECURITY",
        "── EXEC",
        "── CLEANUP",
    ];
    let pos: Vec<usize> = phases.iter().map(|p| err.find(p).unwrap_or_else(|| panic!("no {p} in\n{err}"))).collect();
    assert!(pos.windows(2).all(|w| w[0] < w[1]), "phases in order: {err}");
    assert!(err.contains("  1. Find the image in the store"), "{err}");
    assert!(err.contains("Make the rootfs the root — in the container, pid 1"), "{err}");
    assert!(err.contains("$ pivot_root: new_root=. put_old=."), "{err}");
    assert!(err.contains("[src/launcher/mounts.rs]"), "each step names its source: {err}");
    // wrapped at 100 columns off a terminal: only an unbreakable word (a long path) may stick out
    for line in err.lines().filter(|l| l.chars().count() > 100) {
        assert!(line.trim().split(' ').any(|w| w.chars().count() > 60), "not wrapped: {line:?}");
    }
    // no narration without the flag
    let out = r.run(&["run", "--rm", "busybox", "echo", "hi"]);
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    // json: one object a line, numbered in order
    let out = r.run(&["run", "--rm", "--explain=json", "busybox", "true"]);
    let n = narration(&String::from_utf8_lossy(&out.stderr));
    assert!(n.len() > 50, "{n:?}");
    assert!(n.iter().enumerate().all(|(i, r)| r["n"] == i + 1 && r["phase"].is_string() && r["source"].is_string()));
    // a bad format is a usage error
    let out = r.run(&["run", "--rm", "--explain=yaml", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(125));
}

#[test]
fn on_a_terminal_the_narration_is_coloured() {
    if !root_or_skip("on_a_terminal_the_narration_is_coloured") {
        return;
    }
    let r = TestRoot::with_busybox("explain-tty");
    let c = r.cmd(&["run", "--rm", "--explain", "busybox", "true"]);
    let (code, out) = in_pty(c, b"", "logs the same events");
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("\x1b[1m") && out.contains("\x1b[0m"), "{out}");
    // NO_COLOR turns it off
    let mut c = r.cmd(&["run", "--rm", "--explain", "busybox", "true"]);
    c.env("NO_COLOR", "1");
    let (_, out) = in_pty(c, b"", "logs the same events");
    assert!(!out.contains('\x1b'), "{out}");
}

#[test]
fn oci_verbs_are_explained_without_touching_runcs_command_line() {
    if !root_or_skip("oci_verbs_are_explained_without_touching_runcs_command_line") {
        return;
    }
    let scratch = ScratchDir::new("explain-oci");
    let state = scratch.path.join("state");
    let b = bundle(&scratch.path.join("b"), &base_config(&["sleep", "30"]));
    // stderr to a file: the init `create` leaves waiting keeps its descriptors
    let err_file = scratch.path.join("stderr");
    let oci = |env: Option<&str>, args: &[&str]| {
        let mut c = timed(30, RRUN);
        c.args(args).stdout(std::process::Stdio::null());
        c.stderr(std::fs::File::create(&err_file).unwrap());
        if let Some(e) = env {
            c.env("RRUN_EXPLAIN", e);
        }
        let code = c.status().unwrap().code();
        (code, String::new(), std::fs::read_to_string(&err_file).unwrap())
    };
    let root = state.to_str().unwrap();
    let (code, _, err) =
        oci(None, &["--explain=json", "--root", root, "create", "--bundle", b.to_str().unwrap(), "explain-c"]);
    assert_eq!(code, Some(0), "{err}");
    let records = narration(&err);
    let steps = step_names(&records);
    assert!(steps.contains("oci_bundle") && steps.contains("created") && steps.contains("pivot_root"), "{steps:?}");
    assert!(!steps.contains("execve"), "create returns before the exec: {steps:?}");
    assert_eq!(records.last().unwrap()["step"], "wait_start", "the init waits for start last");
    let (code, _, err) = oci(Some("json"), &["--root", root, "start", "explain-c"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(step_names(&narration(&err)), BTreeSet::from(["oci_start".to_string()]));
    let (code, _, err) = oci(Some("text"), &["oci", "--root", root, "delete", "--force", "explain-c"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("── CLEANUP") && err.contains("Remove the container's state"), "{err}");
    // runc's own verbs know no --explain: it stays an error there, as in runc
    let (code, _, err) = oci(None, &["oci", "--root", root, "state", "--explain", "x"]);
    assert_eq!(code, Some(1), "{err}");
}

/// What a dry run must not leave: the store's entries, the cgroups, the mounts.
fn traces(r: &TestRoot) -> (Vec<String>, Vec<String>, Vec<String>, Vec<PathBuf>, usize) {
    let rrun_cgroups: Vec<PathBuf> = cgroup_dirs("rrun")
        .into_iter()
        .flat_map(|d| std::fs::read_dir(d).into_iter().flatten().flatten().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap().lines().count();
    (r.entries("containers"), r.entries("volumes"), r.entries("tmp"), rrun_cgroups, mounts)
}

#[test]
fn a_dry_run_prints_what_create_would_write_and_leaves_nothing() {
    if !root_or_skip("a_dry_run_prints_what_create_would_write_and_leaves_nothing") {
        return;
    }
    let r = TestRoot::with_busybox("explain-dry");
    let host = ScratchDir::new("explain-dry-host");
    let bind = format!("{}:/hosttmp:ro", host.path.display());
    let flags =
        ["--memory", "32m", "-e", "K=V", "-w", "/work", "-v", &bind, "-v", "dryvol:/data", "--cap-drop", "NET_RAW"];
    let before = traces(&r);
    let mut args = vec!["run", "--dry-run", "--name", "dry", "--cidfile", "/nonexistent/cid"];
    args.extend(flags);
    args.extend(["busybox", "echo", "hi"]);
    let out = r.ok(&args);
    assert_eq!(traces(&r), before, "a dry run leaves nothing: no container, volume, staging, cgroup or mount");
    assert!(r.ok(&["ps", "-a", "-q"]).is_empty());
    assert!(out.contains("\nmount -t overlay overlay -o lowerdir="), "{out}");
    assert!(out.contains("/data") && out.contains("volume dryvol, would be created"), "{out}");
    assert!(out.contains("Nothing was created"), "{out}");
    let id = out.split("config.json of container ").nth(1).unwrap()[..12].to_string();
    let json_text = &out[out.find("\n{").unwrap() + 1..out.find("\n}\n").unwrap() + 2];
    let dry: Value = serde_json::from_str(json_text).unwrap();
    assert_eq!(dry["process"]["args"], json!(["echo", "hi"]));
    assert_eq!(dry["linux"]["resources"]["memory"]["limit"], 33554432);

    // the very spec `create` writes, but for the container's ID and name
    let mut args = vec!["create", "--name", "real"];
    args.extend(flags);
    args.extend(["busybox", "echo", "hi"]);
    let real_id = r.ok(&args).trim().to_string();
    let written: Value =
        serde_json::from_slice(&std::fs::read(r.path.join("containers").join(&real_id).join("config.json")).unwrap())
            .unwrap();
    let full_dry_id = dry["root"]["path"].as_str().unwrap().split('/').rev().nth(1).unwrap().to_string();
    assert!(full_dry_id.starts_with(&id));
    let renamed = json_text.replace(&full_dry_id, &real_id).replace(&id, &real_id[..12]);
    // capability sets are sets: their order in the lists is not the spec's business
    let sorted = |mut v: Value| {
        for set in ["bounding", "effective", "inheritable", "permitted", "ambient"] {
            if let Some(a) = v["process"]["capabilities"][set].as_array_mut() {
                a.sort_by_key(|c| c.to_string());
            }
        }
        v
    };
    assert_eq!(sorted(serde_json::from_str::<Value>(&renamed).unwrap()), sorted(written));

    // a dry run pulls nothing, whatever --pull says: a missing image is an error, and nothing is made
    let before = traces(&r);
    let out = r.run(&["run", "--dry-run", "--pull=always", "nosuch.example/none:1", "true"]);
    assert_eq!(out.status.code(), Some(125), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("not found"), "{out:?}");
    assert_eq!(traces(&r), before);
}
