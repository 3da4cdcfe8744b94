//! rrun as an OCI runtime, on its own: the create/start handshake (exec
//! FIFO, PID file, console socket), hooks in order with the state on stdin,
//! exec, pause/resume/update/events/ps/list/features/spec, preserved
//! descriptors, and the known container escapes closed.

mod common;
use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A bundle (busybox rootfs + a config.json from `rrun spec`) and an OCI state root.
struct Bundle {
    dir: PathBuf,
    state: PathBuf,
    /// Holds `dir`: unmounted below and removed on drop, after the containers are deleted.
    _scratch: ScratchDir,
}

impl Bundle {
    fn new(tag: &str, args: &[&str]) -> Bundle {
        let scratch = ScratchDir::new(&format!("oci-{tag}"));
        let dir = scratch.path.clone();
        std::fs::create_dir_all(dir.join("rootfs")).unwrap();
        extract_busybox(&dir.join("rootfs"));
        let b = Bundle { state: dir.join("state"), dir, _scratch: scratch };
        let out = Command::new(RRUN).arg("spec").current_dir(&b.dir).output().unwrap();
        assert!(out.status.success(), "{out:?}");
        b.edit(|c| {
            c["process"]["terminal"] = false.into();
            c["process"]["args"] = args.iter().map(|a| Value::from(*a)).collect();
        });
        b
    }

    fn edit(&self, f: impl FnOnce(&mut Value)) {
        let p = self.dir.join("config.json");
        let mut c: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        f(&mut c);
        std::fs::write(&p, serde_json::to_vec_pretty(&c).unwrap()).unwrap();
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(RRUN);
        c.arg("--root").arg(&self.state).args(args).stdin(Stdio::null());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "rrun {args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    }

    fn state(&self, id: &str) -> Value {
        serde_json::from_str(&self.ok(&["state", id])).unwrap()
    }

    /// `create` with the container's stdout and stderr in a file (it outlives rrun).
    fn create(&self, id: &str, extra: &[&str]) -> PathBuf {
        let out = self.dir.join(format!("{id}.out"));
        let f = std::fs::File::create(&out).unwrap();
        let mut args = vec!["create", "--bundle", self.dir.to_str().unwrap()];
        args.extend_from_slice(extra);
        args.push(id);
        let st = self.cmd(&args).stdout(f.try_clone().unwrap()).stderr(f).status().unwrap();
        assert!(st.success(), "create {id}: {}", std::fs::read_to_string(&out).unwrap_or_default());
        out
    }
}

impl Drop for Bundle {
    fn drop(&mut self) {
        if let Ok(out) = self.cmd(&["list", "-q"]).output() {
            for id in String::from_utf8_lossy(&out.stdout).lines() {
                let _ = self.cmd(&["delete", "--force", id]).output();
            }
        }
        // then `_scratch` drops: what is mounted below the bundle is detached, the tree removed
    }
}

/// Gives the command `file` as its descriptor 3 (inherited, not close-on-exec).
fn pass_as_fd3(cmd: &mut Command, file: &std::fs::File) {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let raw = file.as_raw_fd();
    // SAFETY: dup2 in the forked child before exec; dup2 onto itself keeps close-on-exec, so clear it.
    unsafe {
        cmd.pre_exec(move || {
            if libc::dup2(raw, 3) < 0 || libc::fcntl(3, libc::F_SETFD, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

fn wait(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn create_waits_for_start_and_the_pid_file_names_the_init() {
    if !root_or_skip("create_waits_for_start_and_the_pid_file_names_the_init") {
        return;
    }
    let b = Bundle::new("lifecycle", &["sh", "-c", "echo started; sleep 30"]);
    let pid_file = b.dir.join("pid");
    let out = b.create("c1", &["--pid-file", pid_file.to_str().unwrap()]);
    let st = b.state("c1");
    assert_eq!(st["status"], "created");
    assert_eq!(st["ociVersion"], "1.0.2");
    assert_eq!(st["bundle"], b.dir.canonicalize().unwrap().to_str().unwrap());
    let pid: i64 = std::fs::read_to_string(&pid_file).unwrap().trim().parse().unwrap();
    assert_eq!(st["pid"], pid, "the PID file names the init");
    // the init has not run the command yet: it waits on the FIFO, as rrun (not sh)
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "");
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_eq!(comm.trim(), "rrun");
    b.ok(&["start", "c1"]);
    wait("the command prints", Duration::from_secs(5), || std::fs::read_to_string(&out).unwrap() == "started\n");
    assert_eq!(b.state("c1")["status"], "running");
    let ps: Vec<i64> = serde_json::from_str(&b.ok(&["ps", "--format", "json", "c1"])).unwrap();
    assert!(ps.contains(&pid), "{ps:?}");
    let list: Value = serde_json::from_str(&b.ok(&["list", "--format", "json"])).unwrap();
    assert_eq!(list[0]["id"], "c1");
    assert_eq!(b.ok(&["list", "-q"]), "c1\n");
    // pause, resume; update; one stats event
    b.ok(&["pause", "c1"]);
    assert_eq!(b.state("c1")["status"], "paused");
    b.ok(&["resume", "c1"]);
    assert_eq!(b.state("c1")["status"], "running");
    b.ok(&["update", "--pids-limit", "33", "c1"]);
    let ev: Value = serde_json::from_str(b.ok(&["events", "--stats", "c1"]).trim()).unwrap();
    assert_eq!((ev["type"].as_str(), ev["id"].as_str()), (Some("stats"), Some("c1")));
    assert!(ev["data"]["pids"]["current"].as_u64().unwrap() >= 1, "{ev}");
    // a running container is not deleted without --force; a second start is refused
    let out = b.run(&["delete", "c1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not stopped"), "{out:?}");
    assert_eq!(b.run(&["start", "c1"]).status.code(), Some(1));
    b.ok(&["kill", "c1", "KILL"]);
    wait("it stops", Duration::from_secs(5), || b.state("c1")["status"] == "stopped");
    assert_eq!(b.state("c1")["pid"], 0);
    assert_eq!(b.run(&["kill", "c1"]).status.code(), Some(1), "a stopped container cannot be signalled");
    b.ok(&["delete", "c1"]);
    let out = b.run(&["state", "c1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));
    assert!(b.ok(&["list", "-q"]).is_empty());
    b.ok(&["delete", "--force", "c1"]); // gone already: fine with --force, as with runc
}

#[test]
fn hooks_run_in_order_with_the_state() {
    if !root_or_skip("hooks_run_in_order_with_the_state") {
        return;
    }
    let b = Bundle::new("hooks", &["sh", "-c", "echo process >> /hooks.log"]);
    let log = b.dir.join("rootfs/hooks.log");
    let hook = |name: &str, in_container: bool| {
        // createContainer and startContainer hooks run in the container's mount namespace
        let target =
            if in_container && name == "startContainer" { "/hooks.log".to_string() } else { log.display().to_string() };
        serde_json::json!({
            "path": "/bin/sh",
            "args": ["sh", "-c", format!("read -r s; echo \"{name} $(echo \"$s\" | grep -o '\"status\":\"[a-z]*\"')\" >> {target}")],
        })
    };
    b.edit(|c| {
        c["root"]["readonly"] = false.into();
        c["hooks"] = serde_json::json!({
            "createRuntime": [hook("createRuntime", false)],
            "createContainer": [hook("createContainer", true)],
            "startContainer": [hook("startContainer", true)],
            "poststart": [hook("poststart", false)],
            "poststop": [hook("poststop", false)],
        });
    });
    b.create("h1", &[]);
    b.ok(&["start", "h1"]);
    wait("the process ran", Duration::from_secs(5), || b.state("h1")["status"] == "stopped");
    b.ok(&["delete", "h1"]);
    let lines: Vec<String> = std::fs::read_to_string(&log).unwrap().lines().map(String::from).collect();
    let names: Vec<&str> = lines.iter().map(|l| l.split(' ').next().unwrap()).collect();
    // poststart may race the short-lived process; everything else is ordered
    let expected_order = ["createRuntime", "createContainer", "startContainer", "poststop"];
    let seen: Vec<&str> = names.iter().copied().filter(|n| expected_order.contains(n)).collect();
    assert_eq!(seen, expected_order, "{lines:?}");
    assert!(names.contains(&"process") && names.contains(&"poststart"), "{lines:?}");
    assert!(lines.iter().any(|l| l == "createRuntime \"status\":\"creating\""), "{lines:?}");
    assert!(lines.iter().any(|l| l == "poststop \"status\":\"stopped\""), "{lines:?}");

    // a failing createRuntime hook fails create, and leaves nothing behind
    b.edit(|c| c["hooks"] = serde_json::json!({ "createRuntime": [{ "path": "/bin/false" }] }));
    let out = b.run(&["create", "--bundle", b.dir.to_str().unwrap(), "h2"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("createRuntime hook"), "{out:?}");
    assert!(b.ok(&["list", "-q"]).is_empty());
}

/// Listens on a unix socket and returns the first descriptor sent to it.
fn console_listener(path: &Path) -> std::thread::JoinHandle<Option<(String, std::os::fd::OwnedFd)>> {
    let listener = std::os::unix::net::UnixListener::bind(path).unwrap();
    std::thread::spawn(move || {
        use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
        use std::os::fd::{AsRawFd, FromRawFd};
        let (stream, _) = listener.accept().ok()?;
        let mut buf = [0u8; 256];
        let mut cmsg = nix::cmsg_space!([std::os::fd::RawFd; 1]);
        let mut iov = [std::io::IoSliceMut::new(&mut buf)];
        let msg = recvmsg::<()>(stream.as_raw_fd(), &mut iov, Some(&mut cmsg), MsgFlags::empty()).ok()?;
        let fd = msg.cmsgs().ok()?.find_map(|c| match c {
            // SAFETY: SCM_RIGHTS just installed this descriptor in our table.
            ControlMessageOwned::ScmRights(fds) => {
                fds.first().map(|f| unsafe { std::os::fd::OwnedFd::from_raw_fd(*f) })
            }
            _ => None,
        })?;
        let n = msg.bytes;
        Some((String::from_utf8_lossy(&buf[..n]).into_owned(), fd))
    })
}

#[test]
fn the_terminal_goes_to_the_console_socket() {
    if !root_or_skip("the_terminal_goes_to_the_console_socket") {
        return;
    }
    use std::io::{Read, Write};
    let b = Bundle::new("console", &["sh"]);
    b.edit(|c| c["process"]["terminal"] = true.into());
    // without a console socket, a terminal cannot be handed over
    let out = b.run(&["create", "--bundle", b.dir.to_str().unwrap(), "t0"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("console-socket"), "{out:?}");
    let sock = b.dir.join("console.sock");
    let got = console_listener(&sock);
    b.ok(&["create", "--bundle", b.dir.to_str().unwrap(), "--console-socket", sock.to_str().unwrap(), "t1"]);
    let (name, master) = got.join().unwrap().expect("a terminal arrived");
    assert!(name.starts_with("/dev/pts/"), "{name}");
    b.ok(&["start", "t1"]);
    let mut m = std::fs::File::from(master);
    m.write_all(b"tty; echo $((6*7)); exit\n").unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 1024];
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline && !String::from_utf8_lossy(&out).contains("42") {
        match m.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&out);
    assert!(text.contains("/dev/pts/0") && text.contains("42"), "{text}");
}

#[test]
fn exec_joins_the_container_and_detaches_with_a_pid_file() {
    if !root_or_skip("exec_joins_the_container_and_detaches_with_a_pid_file") {
        return;
    }
    let b = Bundle::new("exec", &["sleep", "30"]);
    b.edit(|c| c["root"]["readonly"] = false.into());
    b.create("e1", &[]);
    b.ok(&["start", "e1"]);
    let out = b.run(&["exec", "e1", "sh", "-c", "hostname; tr '\\0' ' ' < /proc/1/cmdline; exit 5"]);
    assert_eq!(out.status.code(), Some(5));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "rrun\nsleep 30 ");
    // the --process form, detached, with a PID file
    let process = b.dir.join("process.json");
    let spec: Value = serde_json::from_slice(&std::fs::read(b.dir.join("config.json")).unwrap()).unwrap();
    let mut p = spec["process"].clone();
    p["args"] = serde_json::json!(["sh", "-c", "echo $$ > /detached; sleep 30"]);
    std::fs::write(&process, serde_json::to_vec(&p).unwrap()).unwrap();
    let pid_file = b.dir.join("exec.pid");
    // detached, the process keeps the descriptors it was given: not our pipes, or we would wait for it
    let st = b
        .cmd(&[
            "exec",
            "--process",
            process.to_str().unwrap(),
            "--detach",
            "--pid-file",
            pid_file.to_str().unwrap(),
            "e1",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let host_pid: i32 = std::fs::read_to_string(&pid_file).unwrap().trim().parse().unwrap();
    wait("the detached process runs", Duration::from_secs(5), || b.dir.join("rootfs/detached").exists());
    assert!(Path::new(&format!("/proc/{host_pid}")).exists());
    let pids: Vec<i32> = serde_json::from_str(&b.ok(&["ps", "--format", "json", "e1"])).unwrap();
    let cg = std::fs::read_to_string(format!("/proc/{host_pid}/cgroup")).unwrap_or_default();
    let stat = std::fs::read_to_string(format!("/proc/{host_pid}/stat")).unwrap_or_default();
    assert!(pids.contains(&host_pid), "the exec'd process is in the container's cgroup: {pids:?} {cg} {stat}");
    // kill --all reaches it too
    b.ok(&["kill", "--all", "e1", "KILL"]);
    wait("all gone", Duration::from_secs(5), || b.state("e1")["status"] == "stopped");
    wait("the exec'd process is gone", Duration::from_secs(5), || {
        std::fs::read_to_string(format!("/proc/{host_pid}/stat")).map(|s| s.contains(") Z ")).unwrap_or(true)
    });
}

#[test]
fn preserved_descriptors_and_nothing_else_reach_the_container() {
    if !root_or_skip("preserved_descriptors_and_nothing_else_reach_the_container") {
        return;
    }
    let b = Bundle::new("fds", &["sh", "-c", "ls /proc/self/fd | sort -n | tr '\\n' ' '; cat <&3"]);
    let secret = b.dir.join("passed");
    std::fs::write(&secret, "through fd 3\n").unwrap();
    let file = std::fs::File::open(&secret).unwrap();
    let mut cmd = b.cmd(&["run", "--bundle", b.dir.to_str().unwrap(), "--preserve-fds", "1", "f1"]);
    pass_as_fd3(&mut cmd, &file);
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{out:?}");
    // 0, 1, 2, 3 (preserved) and ls's own directory descriptor: no host descriptor leaked
    assert_eq!(String::from_utf8_lossy(&out.stdout), "0 1 2 3 4 through fd 3\n");
    let b2 = Bundle::new("fds2", &["sh", "-c", "ls /proc/self/fd | sort -n | tr '\\n' ' '"]);
    let out = b2.run(&["run", "--bundle", b2.dir.to_str().unwrap(), "f2"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "0 1 2 3 ", "only stdio (and ls's own) without --preserve-fds");
}

#[test]
fn known_escapes_are_closed() {
    if !root_or_skip("known_escapes_are_closed") {
        return;
    }
    // CVE-2019-5736: while it waits for start, the init is rrun itself; nothing in the
    // container may open its /proc/PID/exe (the host's rrun binary)
    let b = Bundle::new("exe", &["sleep", "30"]);
    b.create("x1", &[]);
    let out = b.run(&["exec", "x1", "sh", "-c", "readlink /proc/1/exe; cat /proc/1/exe > /dev/null && echo opened"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("opened") && !text.contains("rrun"), "the host binary is reachable: {text}");
    b.ok(&["delete", "--force", "x1"]);

    // CVE-2024-21626: a working directory through a leaked descriptor is outside the root
    for n in 3..8 {
        let b = Bundle::new(&format!("cwd{n}"), &["pwd"]);
        b.edit(|c| c["process"]["cwd"] = format!("/proc/self/fd/{n}").into());
        let out = b.run(&["run", "--bundle", b.dir.to_str().unwrap(), "w"]);
        assert!(!out.status.success(), "cwd /proc/self/fd/{n} must fail: {out:?}");
        assert!(!String::from_utf8_lossy(&out.stdout).starts_with('/'), "{out:?}");
    }

    // CVE-2021-30465: a mount target through a symlink planted in the image stays inside the rootfs
    let host_scratch = ScratchDir::new("oci-host");
    let host_dir = host_scratch.path.clone();
    let probe = format!("grep -c ' {} .* - tmpfs ' /proc/self/mountinfo", host_dir.display());
    let b = Bundle::new("symlink", &["sh", "-c", &probe]);
    std::os::unix::fs::symlink(&host_dir, b.dir.join("rootfs/evil")).unwrap();
    b.edit(|c| {
        c["mounts"].as_array_mut().unwrap().push(serde_json::json!({
            "destination": "/evil", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]
        }));
    });
    let out = b.run(&["run", "--bundle", b.dir.to_str().unwrap(), "s"]);
    // the symlink resolved inside the rootfs: the tmpfs landed at <rootfs><host_dir>, not on the host
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "1\n", "the container sees its tmpfs where the link points");
    assert!(std::fs::read_dir(&host_dir).unwrap().next().is_none(), "nothing was written to the host directory");
    let in_root = b.dir.join("rootfs").join(host_dir.strip_prefix("/").unwrap());
    assert!(in_root.is_dir(), "the mount point was made inside the rootfs: {}", in_root.display());
    drop(host_scratch);

    // /proc replaced by a symlink in the image: refused, not trusted
    let b = Bundle::new("proc", &["true"]);
    let _ = std::fs::remove_dir_all(b.dir.join("rootfs/proc"));
    std::os::unix::fs::symlink("/tmp", b.dir.join("rootfs/proc")).unwrap();
    let out = b.run(&["run", "--bundle", b.dir.to_str().unwrap(), "p"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("symlink"), "{out:?}");
    assert!(b.ok(&["list", "-q"]).is_empty(), "nothing left behind");
}

#[test]
fn runc_mount_options_tmpcopyup_and_recursive_read_only() {
    if !root_or_skip("runc_mount_options_tmpcopyup_and_recursive_read_only") {
        return;
    }
    let host_scratch = ScratchDir::new("oci-rro");
    let host = host_scratch.path.clone();
    std::fs::create_dir_all(host.join("sub")).unwrap();
    let b = Bundle::new(
        "runcopts",
        &[
            "sh",
            "-c",
            "grep -c root /etc/passwd; touch /etc/x && echo etc-writable; touch /data/sub/x 2>/dev/null || echo rro",
        ],
    );
    // a submount under the bind source: `rro` must reach it too (a plain `ro` would not)
    let sub_mounted =
        Command::new("mount").args(["-t", "tmpfs", "tmpfs"]).arg(host.join("sub")).status().unwrap().success();
    b.edit(|c| {
        let m = c["mounts"].as_array_mut().unwrap();
        m.push(serde_json::json!({"destination": "/etc", "type": "tmpfs", "source": "tmpfs", "options": ["tmpcopyup", "size=1m"]}));
        m.push(serde_json::json!({"destination": "/data", "type": "bind", "source": host, "options": ["rbind", "rro"]}));
    });
    let out = b.run(&["run", "--bundle", b.dir.to_str().unwrap(), "m1"]);
    if sub_mounted {
        let _ = Command::new("umount").arg(host.join("sub")).status();
    }
    drop(host_scratch);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "1\netc-writable\nrro\n");
    assert!(!b.dir.join("rootfs/etc/x").exists(), "the write went to the tmpfs, not the image");
}

#[test]
fn idmapped_bind_mounts_show_host_owners_through_the_user_namespace() {
    if !root_or_skip("idmapped_bind_mounts_show_host_owners_through_the_user_namespace") {
        return;
    }
    use std::os::unix::fs::chown;
    let host_scratch = ScratchDir::new("oci-idmap");
    let host = host_scratch.path.clone();
    std::fs::write(host.join("by-root"), "x").unwrap();
    std::fs::write(host.join("by-1000"), "x").unwrap();
    chown(host.join("by-1000"), Some(1000), Some(1000)).unwrap();
    let b = Bundle::new(
        "idmap",
        &[
            "sh",
            "-c",
            "stat -c '%u %n' /plain/by-root /plain/by-1000 /mapped/by-root /mapped/by-1000; touch /mapped/new",
        ],
    );
    // the rootfs belongs to host root, unmapped in the container: its mount points must be there
    for d in ["plain", "mapped"] {
        std::fs::create_dir_all(b.dir.join("rootfs").join(d)).unwrap();
    }
    b.edit(|c| {
        c["root"]["readonly"] = false.into();
        c["linux"]["namespaces"].as_array_mut().unwrap().push(serde_json::json!({"type": "user"}));
        c["linux"]["uidMappings"] = serde_json::json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        c["linux"]["gidMappings"] = serde_json::json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        let m = c["mounts"].as_array_mut().unwrap();
        // a user namespace cannot mount sysfs of a network namespace it does not own
        m.retain(|m| m["destination"] != "/sys" && m["destination"] != "/sys/fs/cgroup");
        m.push(serde_json::json!({"destination": "/plain", "type": "bind", "source": host, "options": ["rbind"]}));
        m.push(serde_json::json!({"destination": "/mapped", "type": "bind", "source": host, "options": ["rbind", "idmap"]}));
    });
    let out = b.run(&["run", "--bundle", b.dir.to_str().unwrap(), "i1"]);
    let new_owner = std::fs::metadata(host.join("new")).map(|m| std::os::unix::fs::MetadataExt::uid(&m));
    drop(host_scratch);
    assert!(out.status.success(), "{out:?}");
    // without idmap, host root is unmapped (overflow uid) and 1000 too; idmapped, they are 0 and 1000
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "65534 /plain/by-root\n65534 /plain/by-1000\n0 /mapped/by-root\n1000 /mapped/by-1000\n"
    );
    assert_eq!(new_owner.unwrap(), 0, "the container's root writes as host root through the idmapped mount");
}

#[test]
fn features_spec_and_bad_input() {
    if !root_or_skip("features_spec_and_bad_input") {
        return;
    }
    let b = Bundle::new("misc", &["true"]);
    let f: Value = serde_json::from_str(&b.ok(&["features"])).unwrap();
    assert_eq!(f["ociVersionMax"], "1.0.2");
    assert_eq!(f["linux"]["seccomp"]["enabled"], true);
    // spec refuses to overwrite; --rootless adds a user namespace
    assert_eq!(b.cmd(&["spec"]).current_dir(&b.dir).output().unwrap().status.code(), Some(1));
    let d = b.dir.join("rootless");
    std::fs::create_dir_all(&d).unwrap();
    b.ok(&["spec", "--rootless", "--bundle", d.to_str().unwrap()]);
    let c: Value = serde_json::from_slice(&std::fs::read(d.join("config.json")).unwrap()).unwrap();
    assert!(c["linux"]["namespaces"].as_array().unwrap().iter().any(|n| n["type"] == "user"));
    // bad input: clear errors, exit 1, nothing left in the state root
    for (what, config) in [
        ("not json", "{oops"),
        ("no root", r#"{"ociVersion":"1.0.2","process":{"args":["true"],"cwd":"/","user":{"uid":0,"gid":0}}}"#),
    ] {
        let bad = b.dir.join(format!("bad-{}", what.replace(' ', "-")));
        std::fs::create_dir_all(&bad).unwrap();
        std::fs::write(bad.join("config.json"), config).unwrap();
        let out = b.run(&["create", "--bundle", bad.to_str().unwrap(), "bad"]);
        assert_eq!(out.status.code(), Some(1), "{what}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("config.json"), "{what}: {out:?}");
    }
    assert_eq!(b.run(&["create", "--bundle", "/no/such/bundle", "x"]).status.code(), Some(1));
    assert_eq!(b.run(&["create", "--bundle", b.dir.to_str().unwrap(), "a/b"]).status.code(), Some(1));
    assert!(b.ok(&["list", "-q"]).is_empty());
    // --log gets the error as a json line
    let log = b.dir.join("log.json");
    let out = b.run(&["--log", log.to_str().unwrap(), "--log-format", "json", "state", "ghost"]);
    assert_eq!(out.status.code(), Some(1));
    let line: Value = serde_json::from_str(std::fs::read_to_string(&log).unwrap().lines().last().unwrap()).unwrap();
    assert_eq!(line["level"], "error");
    assert!(line["msg"].as_str().unwrap().contains("ghost"));
}

#[test]
fn namespaces_by_path_listen_fds_and_update_from_a_file() {
    if !root_or_skip("namespaces_by_path_listen_fds_and_update_from_a_file") {
        return;
    }
    // A runs; B joins A's network and UTS namespaces by path (as a pod's containers do)
    let a = Bundle::new("ns-a", &["sleep", "30"]);
    a.edit(|c| c["hostname"] = "pod-a".into());
    a.create("a", &[]);
    a.ok(&["start", "a"]);
    let pid = a.state("a")["pid"].as_i64().unwrap();
    let b = Bundle::new("ns-b", &["sh", "-c", "hostname; readlink /proc/self/ns/net"]);
    b.edit(|c| {
        c.as_object_mut().unwrap().remove("hostname");
        for ns in c["linux"]["namespaces"].as_array_mut().unwrap() {
            let t = ns["type"].as_str().unwrap().to_string();
            if t == "network" || t == "uts" {
                let file = if t == "network" { "net" } else { "uts" };
                ns["path"] = format!("/proc/{pid}/ns/{file}").into();
            }
        }
    });
    let out = b.run(&["run", "--bundle", b.dir.to_str().unwrap(), "b"]);
    assert!(out.status.success(), "{out:?}");
    let a_net = std::fs::read_link(format!("/proc/{pid}/ns/net")).unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), format!("pod-a\n{}\n", a_net.display()));

    // update --resources FILE: the new limit reaches the cgroup and the saved config
    let res = a.dir.join("resources.json");
    std::fs::write(&res, r#"{"pids":{"limit":42}}"#).unwrap();
    a.ok(&["update", "--resources", res.to_str().unwrap(), "a"]);
    let record: Value = serde_json::from_slice(&std::fs::read(a.state.join("a/state.json")).unwrap()).unwrap();
    let pids_max = record["cgroup"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|d| std::fs::read_to_string(Path::new(d.as_str().unwrap()).join("pids.max")).ok())
        .expect("a cgroup with pids.max");
    assert_eq!(pids_max.trim(), "42");
    std::fs::write(&res, "{not json").unwrap();
    assert_eq!(a.run(&["update", "--resources", res.to_str().unwrap(), "a"]).status.code(), Some(1));
    a.ok(&["delete", "--force", "a"]);

    // socket activation: LISTEN_FDS descriptors reach the process, which is told it is their PID 1
    let l = Bundle::new("listen", &["sh", "-c", "echo $LISTEN_FDS $LISTEN_PID; cat <&3"]);
    let passed = l.dir.join("passed");
    std::fs::write(&passed, "fd three\n").unwrap();
    let file = std::fs::File::open(&passed).unwrap();
    let mut cmd = l.cmd(&["run", "--bundle", l.dir.to_str().unwrap(), "l1"]);
    cmd.env("LISTEN_FDS", "1");
    pass_as_fd3(&mut cmd, &file);
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "1 1\nfd three\n");
}

#[test]
fn a_new_network_namespace_has_loopback_up_as_with_runc() {
    if !root_or_skip("a_new_network_namespace_has_loopback_up_as_with_runc") {
        return;
    }
    let b = Bundle::new(
        "loopback",
        &[
            "sh",
            "-c",
            // a server on 127.0.0.1 answers (busybox nc's listener can drop what it was sent)
            "ip link show lo | head -1; mkdir /dev/shm/www && echo reachable > /dev/shm/www/index.html && \
             httpd -p 127.0.0.1:5555 -h /dev/shm/www && \
             for i in $(seq 100); do wget -qO- http://127.0.0.1:5555/ 2>/dev/null && break; sleep 0.05; done",
        ],
    );
    let out = b.run(&["run", "--bundle", b.dir.to_str().unwrap(), "lo1"]);
    assert!(out.status.success(), "{out:?}");
    let ours = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(ours.starts_with("1: lo: <LOOPBACK,UP") && ours.ends_with("reachable\n"), "{ours}");
    // runc adds a loopback network to every new network namespace: the same view
    if let Some(runc) = find_program("runc") {
        let out = std::process::Command::new(runc)
            .arg("--root")
            .arg(b.dir.join("runc-state"))
            .args(["run", "--bundle", b.dir.to_str().unwrap(), "lo2"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(out.status.success(), "runc: {out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), ours, "rrun and runc show lo alike");
    }
}

#[test]
fn a_pid_namespace_joined_by_path_holds_the_process() {
    if !root_or_skip("a_pid_namespace_joined_by_path_holds_the_process") {
        return;
    }
    let a = Bundle::new("pid-a", &["sleep", "30"]);
    a.create("a", &[]);
    a.ok(&["start", "a"]);
    let pid = a.state("a")["pid"].as_i64().unwrap();
    let b = Bundle::new("pid-b", &["sh", "-c", "readlink /proc/self/ns/pid; echo $$; ps -o comm | grep -c '^sleep'"]);
    b.edit(|c| {
        for ns in c["linux"]["namespaces"].as_array_mut().unwrap() {
            if ns["type"] == "pid" {
                ns["path"] = format!("/proc/{pid}/ns/pid").into();
            }
        }
    });
    let out = b.run(&["run", "--bundle", b.dir.to_str().unwrap(), "b"]);
    assert!(out.status.success(), "{out:?}");
    let a_pid_ns = std::fs::read_link(format!("/proc/{pid}/ns/pid")).unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], a_pid_ns.display().to_string(), "the init itself is in A's PID namespace: {stdout}");
    assert_ne!(lines[1], "1", "A's sleep is PID 1 there: {stdout}");
    assert_eq!(lines[2], "1", "and visible: {stdout}");
    a.ok(&["delete", "--force", "a"]);
}
