//! rrun as an ordinary user: the tests (run as root, as CI does) create two
//! unprivileged users, one with subordinate id ranges in /etc/subuid and
//! /etc/subgid and one without, and run a copy of the rrun binary as them
//! (with `setpriv`), each test with its own XDG_DATA_HOME and XDG_RUNTIME_DIR.

mod common;

use common::{ensure_programs, find_program, fixture, root_or_skip, RRUN};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, OnceLock};

/// The user with subordinate ranges, and the one without.
const RANGES_USER: &str = "rrun-rootless-test";
const SINGLE_USER: &str = "rrun-rootless-1id";

/// One test's view of a user: ids, home, and the test's own XDG directories.
struct AsUser {
    name: String,
    uid: u32,
    gid: u32,
    home: PathBuf,
    /// XDG_DATA_HOME and XDG_RUNTIME_DIR, or None for the fallbacks.
    xdg: Option<(PathBuf, PathBuf)>,
    bin: PathBuf,
}

/// A directory every user can traverse with the rrun binary and the fixture
/// archives (the build tree under /work may not be reachable by them).
fn shared_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        use std::os::unix::fs::PermissionsExt;
        // those of earlier test runs go (a killed run leaves its own)
        let prefix = "rrun-rootless-bin-";
        for e in std::fs::read_dir(std::env::temp_dir()).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(pid) = name.strip_prefix(prefix).and_then(|p| p.parse::<u32>().ok()) {
                if !Path::new(&format!("/proc/{pid}")).exists() {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        let dir = std::env::temp_dir().join(format!("{prefix}{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        for (from, name) in [
            (PathBuf::from(RRUN), "rrun"),
            (fixture("busybox.tar"), "busybox.tar"),
            (fixture("multilayer.tar"), "multilayer.tar"),
        ] {
            let to = dir.join(name);
            let _ = std::fs::remove_file(&to);
            let mode = if name == "rrun" { 0o755 } else { 0o644 };
            // a hard link costs no space; a copy where that is not possible or not readable
            let linked = std::fs::hard_link(&from, &to).is_ok()
                && std::fs::metadata(&to).is_ok_and(|m| m.permissions().mode() & mode == mode);
            if !linked {
                let _ = std::fs::remove_file(&to);
                std::fs::copy(&from, &to).unwrap();
                std::fs::set_permissions(&to, std::fs::Permissions::from_mode(mode)).unwrap();
            }
        }
        dir
    })
}

/// Rewrites `file` without the lines of `user`, or adds `user:start:count`
/// when `add` is given and the user has no line.
/// The first range of `/etc/subuid`-style `text` that belongs to `user` (by
/// name or by numeric id): (start, count), as rrun reads it.
fn subordinate_range(text: &str, user: &str, id: u32) -> Option<(u32, u32)> {
    text.lines().find_map(|line| {
        let mut f = line.trim().split(':');
        let (owner, start, count) = (f.next()?, f.next()?, f.next()?);
        if owner != user && owner.parse::<u32>().ok() != Some(id) {
            return None;
        }
        let (start, count) = (start.trim().parse().ok()?, count.trim().parse::<u32>().ok()?);
        (count > 0).then_some((start, count))
    })
}

fn edit_subid(file: &str, user: &str, add: Option<(u32, u32)>) {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let has = text.lines().any(|l| l.split(':').next() == Some(user));
    let new = match add {
        Some(_) if has => return,
        Some((start, count)) => {
            format!("{text}{}{user}:{start}:{count}\n", if text.ends_with('\n') || text.is_empty() { "" } else { "\n" })
        }
        None if !has => return,
        None => text.lines().filter(|l| l.split(':').next() != Some(user)).map(|l| format!("{l}\n")).collect(),
    };
    let tmp = format!("{file}.rrun-test");
    std::fs::write(&tmp, new).unwrap();
    std::fs::rename(&tmp, file).unwrap();
}

/// Makes sure `name` exists (with a home) and has, or has not, subordinate ranges.
fn ensure_user(name: &str, ranges: bool) -> (u32, u32, PathBuf) {
    static SETUP: Mutex<()> = Mutex::new(());
    let _guard = SETUP.lock().unwrap_or_else(|e| e.into_inner());
    if nix::unistd::User::from_name(name).unwrap().is_none() {
        let st = Command::new("useradd").args(["-m", "-s", "/bin/sh", name]).status().unwrap();
        assert!(st.success(), "useradd {name}");
    }
    let u = nix::unistd::User::from_name(name).unwrap().unwrap();
    // a range far from useradd's usual ones, for a user the host gave none
    let range = ranges.then_some((700000 + (u.uid.as_raw() % 100) * 65536, 65536));
    edit_subid("/etc/subuid", name, range);
    edit_subid("/etc/subgid", name, range);
    (u.uid.as_raw(), u.gid.as_raw(), u.dir)
}

impl AsUser {
    /// `test`'s user: None (the test skips) without root or uidmap.
    fn new(test: &str, name: &str, ranges: bool) -> Option<AsUser> {
        if !root_or_skip(test)
            || !ensure_programs(test, &[("newuidmap", "uidmap"), ("newgidmap", "uidmap"), ("setpriv", "util-linux")])
        {
            return None;
        }
        let (uid, gid, home) = ensure_user(name, ranges);
        let base = home.join(format!("rrun-test-{}-{test}", std::process::id()));
        let runtime = PathBuf::from(format!("/tmp/rrun-test-rt-{}-{test}", std::process::id()));
        for d in [&base, &runtime] {
            let _ = std::fs::remove_dir_all(d);
            std::fs::create_dir_all(d).unwrap();
            std::os::unix::fs::chown(d, Some(uid), Some(gid)).unwrap();
        }
        let bin = shared_dir().join("rrun");
        Some(AsUser { name: name.into(), uid, gid, home, xdg: Some((base, runtime)), bin })
    }

    /// The same user without XDG variables: rrun's fallbacks.
    fn without_xdg(test: &str, name: &str, ranges: bool) -> Option<AsUser> {
        let mut u = AsUser::new(test, name, ranges)?;
        if let Some((base, runtime)) = u.xdg.take() {
            let _ = std::fs::remove_dir_all(base);
            let _ = std::fs::remove_dir_all(runtime);
        }
        u.cleanup();
        Some(u)
    }

    fn store(&self) -> PathBuf {
        match &self.xdg {
            Some((base, _)) => base.join("rrun"),
            None => self.home.join(".local/share/rrun"),
        }
    }

    fn runtime_dir(&self) -> PathBuf {
        match &self.xdg {
            Some((_, runtime)) => runtime.join("rrun"),
            None => PathBuf::from(format!("/tmp/rrun-{}", self.uid)),
        }
    }

    /// rrun as this user, with a clean environment.
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("setpriv");
        c.arg(format!("--reuid={}", self.uid))
            .arg(format!("--regid={}", self.gid))
            .arg("--init-groups")
            .arg("--")
            .arg(&self.bin)
            .args(args)
            .env_clear()
            .env("HOME", &self.home)
            .env("USER", &self.name)
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .current_dir("/")
            .stdin(Stdio::null());
        if let Some((data, runtime)) = &self.xdg {
            c.env("XDG_DATA_HOME", data).env("XDG_RUNTIME_DIR", runtime);
        }
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("run rrun as the user")
    }

    /// Runs and asserts success; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "rrun {args:?} as {} failed with {:?}\nstdout: {}\nstderr: {}",
            self.name,
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn load(&self, archive: &str) {
        let path = shared_dir().join(archive);
        self.ok(&["load", "-i", path.to_str().unwrap()]);
    }

    /// `run --rm busybox sh -c SCRIPT`: (code, stdout, stderr).
    fn sh(&self, extra: &[&str], script: &str) -> (i32, String, String) {
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

    /// The pause process holding the user's namespace, from its PID file.
    fn pause_pid(&self) -> Option<i32> {
        let text = std::fs::read_to_string(self.runtime_dir().join("pause.pid")).ok()?;
        text.split_whitespace().next()?.parse().ok()
    }

    /// Removes the user's containers, kills the pause process, and deletes
    /// the test's store and runtime directories.
    fn cleanup(&self) {
        if self.store().exists() {
            let ids = self.run(&["ps", "-aq"]);
            for id in String::from_utf8_lossy(&ids.stdout).split_whitespace() {
                let _ = self.run(&["rm", "-f", id]);
            }
        }
        if let Some(pid) = self.pause_pid() {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
        }
        match &self.xdg {
            Some((base, runtime)) => {
                let _ = std::fs::remove_dir_all(base);
                let _ = std::fs::remove_dir_all(runtime);
            }
            None => {
                let _ = std::fs::remove_dir_all(self.store());
                let _ = std::fs::remove_dir_all(self.runtime_dir());
            }
        }
    }
}

impl Drop for AsUser {
    fn drop(&mut self) {
        self.cleanup();
    }
}

#[test]
fn user_with_ranges_runs_and_manages_containers() {
    let Some(u) = AsUser::new("lifecycle", RANGES_USER, true) else { return };
    u.load("busybox.tar");
    assert!(u.ok(&["images"]).contains("busybox"), "images lists the loaded image");
    assert!(u.store().join("images/index.json").is_file(), "the store is in $XDG_DATA_HOME/rrun");
    assert_eq!(std::fs::metadata(u.store()).unwrap().uid(), u.uid, "the store belongs to the user");

    // foreground: root inside, the user's ids mapped, chown to another id works
    let (code, out, err) =
        u.sh(&[], "id -u; cat /proc/self/uid_map; touch /tmp/f && chown 1000:1000 /tmp/f && stat -c '%u %g' /tmp/f");
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "0", "id inside is root");
    let map: Vec<Vec<&str>> = lines[1..3].iter().map(|l| l.split_whitespace().collect()).collect();
    let uid = u.uid.to_string();
    assert_eq!(map[0], ["0", uid.as_str(), "1"], "container root is the user");
    assert_eq!(map[1][0], "1");
    assert_eq!(map[1][2], "65536", "1.. is the subordinate range");
    assert_eq!(lines[3], "1000 1000");
    assert!(!err.contains("WARNING"), "no single-id warning with ranges: {err}");
    assert!(u.runtime_dir().join("pause.pid").is_file(), "state under $XDG_RUNTIME_DIR/rrun");

    // detached: ps, logs, exec, inspect, stop, rm
    let id = u.ok(&[
        "run",
        "-d",
        "--name",
        "t",
        "busybox",
        "sh",
        "-c",
        "echo started; touch /f; chown 1000:50 /f; sleep 60",
    ]);
    let id = id.trim().to_string();
    let ps = u.ok(&["ps"]);
    assert!(ps.lines().any(|l| l.starts_with(&id[..12]) && l.ends_with(" t")), "ps shows t: {ps}");
    let mut logs = String::new();
    for _ in 0..50 {
        logs = u.ok(&["logs", "t"]);
        if logs.contains("started") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(logs, "started\n");
    assert_eq!(u.ok(&["exec", "t", "id", "-u"]), "0\n");
    assert_eq!(u.ok(&["exec", "t", "stat", "-c", "%u %g", "/f"]), "1000 50\n");
    // on the host the file belongs to the subordinate id 1000 maps to
    let upper = u.store().join("containers").join(&id).join("upper/f");
    let md = std::fs::metadata(&upper).unwrap_or_else(|e| panic!("{}: {e}", upper.display()));
    let sub = nix::unistd::User::from_name(&u.name).unwrap().unwrap();
    let start = subordinate_range(&std::fs::read_to_string("/etc/subuid").unwrap(), &sub.name, u.uid).unwrap().0;
    assert_eq!(md.uid(), start + 999, "container uid 1000 is subordinate id start+999 on the host");
    let inspect: serde_json::Value = serde_json::from_str(&u.ok(&["inspect", "t"])).unwrap();
    assert_eq!(inspect[0]["State"]["Running"], true, "{inspect}");
    u.ok(&["stop", "-t", "1", "t"]);
    let inspect: serde_json::Value = serde_json::from_str(&u.ok(&["inspect", "t"])).unwrap();
    assert_eq!(inspect[0]["State"]["Running"], false, "{inspect}");
    u.ok(&["rm", "t"]);
    assert_eq!(u.ok(&["ps", "-aq"]), "", "rm removed it");
    assert!(!u.store().join("containers").join(&id).exists(), "its files (some of subordinate owners) are gone");
}

#[test]
fn layers_keep_owners_whiteouts_and_opaque_dirs_as_a_user() {
    let Some(u) = AsUser::new("layers", RANGES_USER, true) else { return };
    u.load("multilayer.tar");
    let out = u.ok(&[
        "run",
        "--rm",
        "multilayer",
        "sh",
        "-c",
        "ls /olddir; ls /data | tr '\\n' ' '; echo; ls -d /gone-dir 2>&1; stat -c '%u %g' /data/owned /home/alice; cat /data/owned",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "new", "the opaque directory hides the lower files: {out}");
    assert!(!lines[1].contains("remove-me") && lines[1].contains("keep "), "the whiteout hides remove-me: {out}");
    assert!(lines[2].contains("No such file"), "the whited-out directory is gone: {out}");
    assert_eq!(lines[3], "1000 50", "files the image owns by uid 1000 appear as 1000: {out}");
    assert_eq!(lines[4], "1000 1000");
    assert_eq!(lines[5], "owned by 1000:50");
    // the image's setuid file gives no more than the user had: on the host it is the user's,
    // behind a store directory other users cannot traverse
    assert_eq!(std::fs::metadata(u.store()).unwrap().mode() & 0o077, 0, "the store is private");
    let layers = u.store().join("layers");
    let setuid: Vec<PathBuf> = std::fs::read_dir(&layers)
        .unwrap()
        .flatten()
        .map(|e| e.path().join("diff/data/setuid"))
        .filter(|p| p.exists())
        .collect();
    assert_eq!(setuid.len(), 1, "{setuid:?}");
    let md = std::fs::metadata(&setuid[0]).unwrap();
    assert_eq!((md.uid(), md.mode() & 0o4000), (u.uid, 0o4000), "setuid to the user only");
}

/// fuse-overlayfs installed and /dev/fuse open to users (udev's mode 0666; a
/// host without udev may leave it 0600), as scripts/test.sh sets it up.
fn fuse_overlayfs_or_skip(test: &str) -> bool {
    if !ensure_programs(test, &[("fuse-overlayfs", "fuse-overlayfs")]) {
        return false;
    }
    use std::os::unix::fs::PermissionsExt;
    match std::fs::metadata("/dev/fuse") {
        Ok(md) => {
            if md.permissions().mode() & 0o666 != 0o666 {
                std::fs::set_permissions("/dev/fuse", std::fs::Permissions::from_mode(0o666)).unwrap();
            }
            true
        }
        Err(_) => {
            common::skip(test, "no /dev/fuse");
            false
        }
    }
}

#[test]
fn fuse_overlayfs_stacks_the_layers_where_the_kernel_would_not() {
    let Some(u) = AsUser::new("fuse", RANGES_USER, true) else { return };
    if !fuse_overlayfs_or_skip("fuse_overlayfs_stacks_the_layers_where_the_kernel_would_not") {
        return;
    }
    u.load("multilayer.tar");
    // this kernel mounts overlayfs in a user namespace: the fallback is asked for, as on an older one
    let out = u
        .cmd(&[
            "run",
            "--rm",
            "--network",
            "none",
            "multilayer",
            "sh",
            "-c",
            "grep ' / ' /proc/mounts | cut -d' ' -f3; ls /olddir; ls /data | tr '\\n' ' '; echo; \
             ls -d /gone-dir 2>&1; stat -c '%u %g' /data/owned; rm /data/owned; touch /new; ls /data /new | tr '\\n' ' '",
        ])
        .env("RRUN_ROOTLESS_OVERLAY", "fuse")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "fuse.fuse-overlayfs", "the root is fuse-overlayfs: {text}");
    assert_eq!(lines[1], "new", "the opaque directory hides the lower files: {text}");
    assert!(!lines[2].contains("remove-me") && lines[2].contains("keep "), "the whiteout hides remove-me: {text}");
    assert!(lines[3].contains("No such file"), "the whited-out directory is gone: {text}");
    assert_eq!(lines[4], "1000 50", "owners as the image says: {text}");
    assert!(!lines[5].contains("owned") && lines[5].contains("/new"), "writes go to the upper layer: {text}");
    // the daemon ended with the container: nothing of the user's still serves a mount
    assert_eq!(u.ok(&["ps", "-aq"]), "");
    let left = common::pids_mentioning(u.store().to_str().unwrap());
    assert!(left.is_empty(), "fuse-overlayfs still runs: {left:?}");
}

#[test]
fn single_id_user_runs_with_one_warning() {
    let Some(u) = AsUser::new("single", SINGLE_USER, false) else { return };
    u.load("busybox.tar");
    let (code, out, err) = u.sh(&[], "id -u; cat /proc/self/uid_map; touch /tmp/f; chown 1000 /tmp/f; echo chown=$?");
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "0");
    let uid = u.uid.to_string();
    assert_eq!(lines[1].split_whitespace().collect::<Vec<_>>(), ["0", uid.as_str(), "1"], "only the user is mapped");
    assert_eq!(lines[2], "chown=1", "chown to an unmapped id fails");
    assert_eq!(err.matches("WARNING").count(), 1, "one warning: {err}");
    assert!(err.contains("single id") && err.contains("usermod --add-subuids") && err.contains(&u.name), "{err}");
    // the image's files of other owners appear as root
    u.load("multilayer.tar");
    let out = u.ok(&["run", "--rm", "multilayer", "stat", "-c", "%u", "/data/owned"]);
    assert_eq!(out, "0\n");
}

#[test]
fn limits_are_refused_clearly_without_delegation() {
    let Some(u) = AsUser::new("limits", RANGES_USER, true) else { return };
    u.load("busybox.tar");
    for flags in [&["--memory", "64m"][..], &["--pids-limit", "10"], &["--cpus", "0.5"]] {
        let (code, _, err) = u.sh(flags, "true");
        assert_eq!(code, 125, "{flags:?}: {err}");
        assert!(err.starts_with("rrun: resource limits need cgroup v2 delegation: "), "{flags:?}: {err}");
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(!err.contains("Permission denied"), "{err}");
    }
    assert_eq!(u.ok(&["ps", "-aq"]), "", "nothing was left behind");
    // and without limits, no cgroup is needed
    assert_eq!(u.sh(&[], "true").0, 0);
}

/// pasta installed and /dev/net/tun open to users (udev's mode 0666; a host
/// without udev may leave it 0600): the test's setup, as scripts/test.sh does.
fn pasta_or_skip(test: &str) -> bool {
    if !ensure_programs(test, &[("pasta", "passt")]) {
        return false;
    }
    use std::os::unix::fs::PermissionsExt;
    if let Ok(md) = std::fs::metadata("/dev/net/tun") {
        if md.permissions().mode() & 0o666 != 0o666 {
            std::fs::set_permissions("/dev/net/tun", std::fs::Permissions::from_mode(0o666)).unwrap();
        }
        true
    } else {
        common::skip(test, "no /dev/net/tun");
        false
    }
}

/// A free TCP port on 127.0.0.1 (free when this returns).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `GET /PATH` on 127.0.0.1:PORT, a few tries while the server starts: the body.
fn http_get(port: u16, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    for _ in 0..50 {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            s.set_read_timeout(Some(std::time::Duration::from_secs(5))).unwrap();
            let _ = s.write_all(format!("GET /{path} HTTP/1.0\r\nHost: x\r\n\r\n").as_bytes());
            let mut buf = String::new();
            let _ = s.read_to_string(&mut buf);
            if let Some((head, body)) = buf.split_once("\r\n\r\n") {
                if head.starts_with("HTTP/1.") && head.contains(" 200 ") {
                    return Some(body.to_string());
                }
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    None
}

#[test]
fn network_is_pasta_by_default_and_none_or_host_on_request() {
    let Some(u) = AsUser::new("network", RANGES_USER, true) else { return };
    if !pasta_or_skip("network") {
        return;
    }
    u.load("busybox.tar");
    let ifaces = |extra: &[&str]| {
        let (code, out, err) = u.sh(extra, "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '");
        assert_eq!(code, 0, "{err}");
        out.lines().map(String::from).collect::<Vec<_>>()
    };
    // pasta: an interface besides lo, with an IPv4 address and a default route (no traffic is sent anywhere)
    let (code, out, err) = u.sh(&[], "ip -4 -o addr show; echo ROUTES; ip route");
    assert_eq!(code, 0, "{err}");
    let (addrs, routes) = out.split_once("ROUTES").unwrap();
    let ext: Vec<&str> = addrs.lines().filter(|l| !l.contains(" lo ")).collect();
    assert_eq!(ext.len(), 1, "one interface of pasta's with an address: {out}");
    assert!(ext[0].contains(" inet "), "{out}");
    assert!(routes.lines().any(|l| l.starts_with("default via ")), "a default route: {out}");
    assert_eq!(ifaces(&["--network", "none"]), ["lo"], "--network none: loopback only");
    let host = || -> Vec<String> {
        let text = std::fs::read_to_string("/proc/net/dev").unwrap();
        text.lines().skip(2).map(|l| l.split(':').next().unwrap().trim().to_string()).collect()
    };
    // other tests' interfaces may come and go meanwhile: those there before and after must be seen, and no other
    let before = host();
    let seen = ifaces(&["--network", "host"]);
    let after = host();
    assert!(before.iter().filter(|i| after.contains(i)).all(|i| seen.contains(i)), "{seen:?} {before:?}");
    assert!(seen.iter().all(|i| before.contains(i) || after.contains(i)), "--network host: {seen:?} {before:?}");
    // bridges need root (netavark): one clear line, nothing made
    let (code, _, err) = u.sh(&["--network", "bridge"], "true");
    assert_eq!(code, 125, "{err}");
    assert!(err.contains("need root (netavark)") && err.contains("--network pasta"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let (code, _, err) = u.sh(&["--network", "none", "-p", "127.0.0.1:18080:80"], "true");
    assert_eq!(code, 125, "{err}");
    assert!(err.contains("--network none"), "{err}");
    assert_eq!(u.ok(&["ps", "-aq"]), "", "nothing was left behind");
    assert!(u.ok(&["info"]).contains("pasta"), "info names the network");
}

/// The PIDs in a running pasta container's files: (pasta, the namespace's holder).
fn pasta_pids(u: &AsUser, id: &str) -> (i32, i32) {
    let dir = u.runtime_dir().join("networks/containers");
    let read = |ext: &str| -> i32 {
        let t = std::fs::read_to_string(dir.join(format!("{id}.{ext}"))).unwrap();
        t.trim().parse().unwrap()
    };
    (read("pasta"), read("holder"))
}

fn gone(pid: i32) -> bool {
    for _ in 0..50 {
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        if state.is_empty() || state.rsplit_once(") ").is_some_and(|(_, r)| r.starts_with('Z')) {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    false
}

#[test]
fn published_port_through_pasta_and_nothing_left_after_rm_or_a_killed_monitor() {
    let Some(u) = AsUser::new("pasta-port", RANGES_USER, true) else { return };
    if !pasta_or_skip("pasta-port") {
        return;
    }
    u.load("busybox.tar");
    let port = free_port();
    let publish = format!("127.0.0.1:{port}:80");
    let id = u.ok(&["run", "-d", "--name", "web", "-p", &publish, "busybox", "httpd", "-f", "-p", "80", "-h", "/etc"]);
    let id = id.trim();
    let body = http_get(port, "hostname").expect("an answer through pasta's published port");
    assert_eq!(body.trim(), &id[..12], "the container's httpd answered");
    assert_eq!(u.ok(&["port", "web"]).trim(), format!("80/tcp -> 127.0.0.1:{port}"));
    let (pasta, holder) = pasta_pids(&u, id);
    let runtime = u.runtime_dir();
    let netns_link = runtime.join("netns").join(id);
    assert!(netns_link.is_symlink(), "the namespace is named by a link to its holder's");
    u.ok(&["rm", "-f", "web"]);
    assert!(gone(pasta) && gone(holder), "pasta and the holder end with the container");
    assert!(!netns_link.exists() && !netns_link.is_symlink());
    assert!(std::net::TcpListener::bind(("127.0.0.1", port)).is_ok(), "the host port is free again");

    // a monitor killed with SIGKILL: the next command ends pasta and the holder
    let id = u.ok(&["run", "-d", "-p", &publish, "busybox", "httpd", "-f", "-p", "80", "-h", "/etc"]);
    let id = id.trim().to_string();
    assert!(http_get(port, "hostname").is_some());
    let (pasta, holder) = pasta_pids(&u, &id);
    let monitor: i32 = u.ok(&["inspect", "-f", "{{.State.MonitorPid}}", &id]).trim().parse().unwrap();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(monitor), nix::sys::signal::Signal::SIGKILL).unwrap();
    assert!(gone(monitor));
    let ps = u.ok(&["ps", "-a", "--format", "{{.Status}}"]);
    assert!(ps.starts_with("Exited"), "{ps}");
    assert!(gone(pasta) && gone(holder), "the next command ended pasta and the holder");
    assert!(!runtime.join("networks/containers").join(format!("{id}.json")).exists(), "teardown file gone");
    assert!(std::net::TcpListener::bind(("127.0.0.1", port)).is_ok(), "the host port is free again");
    u.ok(&["rm", &id]);
}

#[test]
fn single_id_user_gets_pasta_too() {
    let Some(u) = AsUser::new("pasta-1id", SINGLE_USER, false) else { return };
    if !pasta_or_skip("pasta-1id") {
        return;
    }
    u.load("busybox.tar");
    let port = free_port();
    let publish = format!("127.0.0.1:{port}:80");
    u.ok(&["run", "-d", "--name", "web", "-p", &publish, "busybox", "httpd", "-f", "-p", "80", "-h", "/etc"]);
    assert!(http_get(port, "hostname").is_some(), "an answer through pasta as a user without ranges");
    u.ok(&["rm", "-f", "web"]);
}

#[test]
fn a_bind_mount_gives_no_more_than_the_user_had() {
    let Some(u) = AsUser::new("bind", RANGES_USER, true) else { return };
    u.load("busybox.tar");
    let tmp = common::temp_dir("rootless-bind");
    let dir = tmp.path().to_path_buf();
    let file = dir.join("rootfile");
    std::fs::write(&file, "root's\n").unwrap();
    let vol = format!("{}:/h", dir.display());
    let (code, out, err) = u.sh(
        &["-v", &vol],
        "cat /h/rootfile; stat -c %u /h/rootfile; echo x >> /h/rootfile || echo append-refused; \
         touch /h/new || echo create-refused; chmod 666 /h/rootfile || echo chmod-refused",
    );
    let _ = (code, &err);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "root's");
    assert_eq!(lines[1], "65534", "host root is unmapped: nobody");
    assert!(out.contains("append-refused") && out.contains("create-refused") && out.contains("chmod-refused"), "{out}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "root's\n");
    assert!(!dir.join("new").exists());
    assert_eq!(std::fs::metadata(&file).unwrap().mode() & 0o777, 0o644);
}

#[test]
fn default_paths_without_xdg_variables() {
    let Some(u) = AsUser::without_xdg("fallback", RANGES_USER, true) else { return };
    u.load("busybox.tar");
    assert!(u.home.join(".local/share/rrun/images/index.json").is_file(), "the store is in ~/.local/share/rrun");
    let rt = PathBuf::from(format!("/tmp/rrun-{}", u.uid));
    let md = std::fs::metadata(&rt).unwrap();
    assert_eq!((md.uid(), md.mode() & 0o777), (u.uid, 0o700), "a private runtime directory under /tmp");
    assert!(rt.join("pause.pid").is_file());
    assert_eq!(u.sh(&[], "echo hi").1, "hi\n");
    // without $HOME too: the home of the password database
    let out = u.cmd(&["images", "--format", "json"]).env_remove("HOME").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("busybox"), "{out:?}");
}

/// A busybox bundle owned by the user, its config from `rrun spec --rootless`
/// with `args` and no terminal.
fn rootless_bundle(u: &AsUser, dir: &Path, args: &[&str]) {
    let rootfs = dir.join("rootfs");
    std::fs::create_dir_all(&rootfs).unwrap();
    let unpacked = dir.join("archive");
    std::fs::create_dir_all(&unpacked).unwrap();
    let tar = |args: &[&std::ffi::OsStr]| assert!(Command::new("tar").args(args).status().unwrap().success());
    tar(&["xf".as_ref(), fixture("busybox.tar").as_os_str(), "-C".as_ref(), unpacked.as_os_str()]);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(unpacked.join("manifest.json")).unwrap()).unwrap();
    for layer in manifest[0]["Layers"].as_array().unwrap() {
        let layer = unpacked.join(layer.as_str().unwrap());
        tar(&["xf".as_ref(), layer.as_os_str(), "-C".as_ref(), rootfs.as_os_str()]);
    }
    std::fs::remove_dir_all(&unpacked).unwrap();
    let st = Command::new("chown").arg("-R").arg(format!("{}:{}", u.uid, u.gid)).arg(dir).status().unwrap();
    assert!(st.success());
    let mut spec = u.cmd(&["spec", "--rootless"]);
    spec.current_dir(dir);
    assert!(spec.status().unwrap().success(), "rrun spec --rootless as the user");
    let path = dir.join("config.json");
    let mut config: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    config["process"]["terminal"] = false.into();
    config["process"]["args"] = args.into();
    std::fs::write(&path, serde_json::to_vec(&config).unwrap()).unwrap();
}

#[test]
fn oci_rootless_bundle_runs_under_rrun_as_under_runc() {
    let Some(u) = AsUser::new("oci", RANGES_USER, true) else { return };
    if !ensure_programs("oci_rootless_bundle_runs_under_rrun_as_under_runc", &[("runc", "runc")]) {
        return;
    }
    let runtime = u.xdg.as_ref().unwrap().1.clone();
    let dir = u.xdg.as_ref().unwrap().0.join("bundle");
    std::fs::create_dir_all(&dir).unwrap();
    rootless_bundle(
        &u,
        &dir,
        &["sh", "-c", "id -u; cat /proc/self/uid_map; hostname; touch /x 2>/dev/null || echo read-only"],
    );
    let runc = find_program("runc").unwrap();
    // the same verb line for both runtimes, as the user, in the bundle
    let verb = |rt: &str, args: &[&str]| -> Output {
        let (program, root) = match rt {
            "runc" => (runc.clone(), runtime.join("runc")),
            _ => (u.bin.clone(), runtime.join("rrun")),
        };
        let mut c = u.cmd(&[]);
        c.env("PATH", "/usr/local/sbin:/usr/sbin:/usr/local/bin:/usr/bin:/bin");
        let mut argv: Vec<std::ffi::OsString> = c.get_args().map(|a| a.to_os_string()).collect();
        let at = argv.iter().position(|a| a == u.bin.as_os_str()).unwrap();
        argv.truncate(at);
        argv.push(program.into_os_string());
        argv.extend(["--root".into(), root.into_os_string()]);
        argv.extend(args.iter().map(|a| std::ffi::OsString::from(*a)));
        let mut cmd = Command::new("setpriv");
        cmd.args(argv).env_clear().envs(c.get_envs().filter_map(|(k, v)| Some((k, v?)))).current_dir(&dir);
        if args[0] == "create" {
            // the created init keeps its stdio: a pipe would never reach EOF
            cmd.stdout(Stdio::null());
            let err = dir.join(format!("{rt}-create.err"));
            cmd.stderr(std::fs::File::create(&err).unwrap());
            let status = cmd.stdin(Stdio::null()).status().unwrap();
            return Output { status, stdout: Vec::new(), stderr: std::fs::read(&err).unwrap_or_default() };
        }
        cmd.stdin(Stdio::null()).output().unwrap()
    };
    // the created containers go whatever happens
    struct Delete<'a>(&'a dyn Fn(&str, &[&str]) -> Output);
    impl Drop for Delete<'_> {
        fn drop(&mut self) {
            for rt in ["runc", "rrun"] {
                let _ = (self.0)(rt, &["delete", "-f", "c1"]);
            }
        }
    }
    let _delete = Delete(&verb);
    let text = |o: &Output| String::from_utf8_lossy(&o.stdout).into_owned();
    let runc_run = verb("runc", &["run", "r1"]);
    let rrun_run = verb("rrun", &["run", "r1"]);
    assert_eq!(runc_run.status.code(), Some(0), "{}", String::from_utf8_lossy(&runc_run.stderr));
    assert_eq!(rrun_run.status.code(), Some(0), "{}", String::from_utf8_lossy(&rrun_run.stderr));
    assert_eq!(text(&rrun_run), text(&runc_run), "rrun run prints what runc run prints");
    let uid = u.uid.to_string();
    assert!(text(&rrun_run).starts_with(&format!("0\n         0 {:>10}          1\n", uid)), "{}", text(&rrun_run));

    // the user's subordinate ranges in the bundle's maps: both runtimes write them with
    // newuidmap/newgidmap
    let mut config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
    let subid = |file: &str| subordinate_range(&std::fs::read_to_string(file).unwrap(), &u.name, u.uid).unwrap();
    let (subuid, subgid) = (subid("/etc/subuid"), subid("/etc/subgid"));
    config["linux"]["uidMappings"] = serde_json::json!([
        {"containerID": 0, "hostID": u.uid, "size": 1},
        {"containerID": 1, "hostID": subuid.0, "size": subuid.1}
    ]);
    config["linux"]["gidMappings"] = serde_json::json!([
        {"containerID": 0, "hostID": u.gid, "size": 1},
        {"containerID": 1, "hostID": subgid.0, "size": subgid.1}
    ]);
    // a file of subordinate owners on the host is theirs in the container
    let owned = dir.join("rootfs/owned");
    std::fs::write(&owned, "x").unwrap();
    std::os::unix::fs::chown(&owned, Some(subuid.0 + 999), Some(subgid.0 + 49)).unwrap();
    config["process"]["args"] =
        serde_json::json!(["sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map; stat -c '%u %g' /owned"]);
    std::fs::write(dir.join("config.json"), serde_json::to_vec(&config).unwrap()).unwrap();
    let runc_run = verb("runc", &["run", "r2"]);
    let rrun_run = verb("rrun", &["run", "r2"]);
    assert_eq!(runc_run.status.code(), Some(0), "{}", String::from_utf8_lossy(&runc_run.stderr));
    assert_eq!(rrun_run.status.code(), Some(0), "{}", String::from_utf8_lossy(&rrun_run.stderr));
    assert_eq!(text(&rrun_run), text(&runc_run), "the same maps as runc's");
    assert_eq!(text(&rrun_run).lines().count(), 5, "{}", text(&rrun_run));
    assert!(text(&rrun_run).ends_with("1000 50\n"), "{}", text(&rrun_run));

    // create, state, start, exec, kill, delete: the same answers
    let mut config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
    config["process"]["args"] = serde_json::json!(["sleep", "60"]);
    std::fs::write(dir.join("config.json"), serde_json::to_vec(&config).unwrap()).unwrap();
    let status = |rt: &str| -> String {
        let o = verb(rt, &["state", "c1"]);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_default();
        v["status"].as_str().unwrap_or("gone").to_string()
    };
    for rt in ["runc", "rrun"] {
        let o = verb(rt, &["create", "c1"]);
        assert!(o.status.success(), "{rt} create: {}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(status(rt), "created", "{rt}");
        assert!(verb(rt, &["start", "c1"]).status.success(), "{rt} start");
        assert_eq!(status(rt), "running", "{rt}");
        let o = verb(rt, &["exec", "c1", "sh", "-c", "id -u; cat /proc/1/cmdline | tr '\\0' ' '"]);
        assert!(o.status.success(), "{rt} exec: {}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(text(&o), "0\nsleep 60 ", "{rt} exec joins the container");
        assert!(verb(rt, &["kill", "c1", "KILL"]).status.success(), "{rt} kill");
        let mut st = String::new();
        for _ in 0..50 {
            st = status(rt);
            if st == "stopped" {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        assert_eq!(st, "stopped", "{rt}");
        assert!(verb(rt, &["delete", "c1"]).status.success(), "{rt} delete");
        assert_eq!(status(rt), "gone", "{rt}");
    }
    // the OCI verbs made $XDG_RUNTIME_DIR/rrun (0755): rrun's own commands share it
    assert!(u.ok(&["info"]).contains("Rootless: true"));
}

#[test]
fn info_reports_the_rootless_setup_and_the_fixes() {
    let Some(ranges) = AsUser::new("info", RANGES_USER, true) else { return };
    let Some(single) = AsUser::new("info-single", SINGLE_USER, false) else { return };
    let text = ranges.ok(&["info"]);
    assert!(text.contains("Rootless: true"), "{text}");
    let sub = subordinate_range(&std::fs::read_to_string("/etc/subuid").unwrap(), RANGES_USER, ranges.uid).unwrap();
    let map = format!("Id mapping: ranges (uids 0:{}:1 1:{}:{};", ranges.uid, sub.0, sub.1);
    assert!(text.contains(&map), "{text}");
    assert!(text.contains("Overlay: kernel overlayfs in the user namespace (userxattr"), "{text}");
    assert!(text.contains("Cgroup delegation: none"), "{text}");
    assert!(text.contains("Missing: resource limits"), "{text}");
    assert!(!text.contains("usermod"), "nothing to fix in the id mapping: {text}");
    assert!(text.contains(&format!("Root: {}", ranges.store().display())), "{text}");

    let json: serde_json::Value = serde_json::from_str(&single.ok(&["info", "--format", "json"])).unwrap();
    let setup = &json["Host"]["RootlessSetup"];
    assert_eq!(setup["IdMapping"], "single-id", "{json}");
    assert_eq!(setup["UidMap"], serde_json::json!([format!("0:{}:1", single.uid)]));
    let missing = setup["Missing"].to_string();
    assert!(missing.contains("usermod --add-subuids") && missing.contains(SINGLE_USER), "{missing}");
    assert_eq!(json["Host"]["Rootless"], true);
}

#[test]
fn pull_run_and_push_with_a_local_registry_as_a_user() {
    let Some(u) = AsUser::new("pull", RANGES_USER, true) else { return };
    if !common::registry::tools_or_skip("pull_run_and_push_with_a_local_registry_as_a_user") {
        return;
    }
    let regdir = common::temp_dir("rootless-registry");
    let reg = common::registry::Registry::start(regdir.path(), common::registry::Flavour::Open);
    reg.seed(&fixture("multilayer-oci"), "docker.io/library/multilayer:latest", "library/multilayer:1.0");
    let image = format!("{}/library/multilayer:1.0", reg.host());

    // a pull killed at once leaves a store the next pull and run use
    let mut killed = u.cmd(&["pull", "-q", &image]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(30));
    let _ = killed.kill();
    let _ = killed.wait();
    let digest = u.ok(&["pull", "-q", &image]);
    assert!(digest.trim().starts_with("sha256:"), "{digest}");
    let out = u.ok(&["run", "--rm", &image, "sh", "-c", "ls /olddir; stat -c '%u %g' /data/owned; id -u"]);
    assert_eq!(out, "new\n1000 50\n0\n");

    // a foreground run killed with SIGKILL takes its container with it; rm cleans up
    let mut run = u.cmd(&["run", "--name", "k", &image, "sleep", "60"]).stdout(Stdio::null()).spawn().unwrap();
    let mut running = false;
    for _ in 0..100 {
        if u.ok(&["ps", "-q"]).lines().count() == 1 {
            running = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(running, "the container started");
    run.kill().unwrap();
    run.wait().unwrap();
    let mut gone = false;
    for _ in 0..100 {
        if u.ok(&["ps", "-q"]).is_empty() {
            gone = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(gone, "no container runs after its rrun was killed: {}", u.ok(&["ps", "-a"]));
    u.ok(&["rm", "k"]);

    // push under a new name: the registry has it
    let pushed = format!("{}/me/copy:2.0", reg.host());
    u.ok(&["tag", &image, &pushed]);
    let pushed_digest = u.ok(&["push", &pushed]);
    assert_eq!(reg.inspect("me/copy:2.0")["Digest"].as_str(), Some(pushed_digest.trim()));
    drop(reg);
}

#[test]
fn interactive_terminal_as_a_user() {
    let Some(u) = AsUser::new("tty", RANGES_USER, true) else { return };
    u.load("busybox.tar");
    let cmd = u.cmd(&["run", "--rm", "-it", "busybox", "sh"]);
    let (code, out) = common::in_pty(cmd, b"echo uid=$(id -u) tty=$(tty); exit 3\n", "uid=");
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("uid=0 tty=/dev/pts/0"), "{out}");
}

#[test]
fn ranges_given_later_take_effect_at_the_next_command() {
    const USER: &str = "rrun-rootless-chg";
    let Some(u) = AsUser::new("later", USER, false) else { return };
    u.load("busybox.tar");
    let lines = |u: &AsUser| {
        let (code, out, err) = u.sh(&[], "cat /proc/self/uid_map");
        assert_eq!(code, 0, "{err}");
        out.lines().count()
    };
    assert_eq!(lines(&u), 1, "single id");
    ensure_user(USER, true);
    assert_eq!(lines(&u), 2, "the next command maps the new range");
    let (_, out, err) = u.sh(&[], "touch /tmp/f && chown 1000 /tmp/f && stat -c %u /tmp/f");
    assert_eq!(out, "1000\n", "{err}");
    assert!(!err.contains("WARNING"), "{err}");
    ensure_user(USER, false);
}

#[test]
fn diff_commit_rmi_and_a_container_user_of_a_subordinate_id() {
    let Some(u) = AsUser::new("commit", RANGES_USER, true) else { return };
    u.load("multilayer.tar");
    u.ok(&[
        "run",
        "--name",
        "cm",
        "multilayer",
        "sh",
        "-c",
        "rm /data/keep; rm -rf /olddir; mkdir /olddir; echo n2 > /olddir/n2; mkdir /home/alice/x; chown 1000:1000 /home/alice/x",
    ]);
    let diff = u.ok(&["diff", "cm"]);
    for line in ["D /data/keep", "D /olddir", "A /olddir/n2", "A /home/alice/x"] {
        assert!(diff.lines().any(|l| l == line), "{line} in {diff}");
    }
    u.ok(&["commit", "cm", "committed:1"]);
    // the committed layer keeps the deletion, the opaque directory and the owner
    let out = u.ok(&["run", "--rm", "committed:1", "sh", "-c", "ls /data /olddir; stat -c '%u %g' /home/alice/x"]);
    assert!(!out.contains("keep\n") && out.contains("/olddir:\nn2\n") && out.ends_with("1000 1000\n"), "{out}");
    u.ok(&["rm", "cm"]);
    assert!(u.ok(&["rmi", "committed:1"]).contains("Deleted:"));

    // a container process of a subordinate id: exec as it, stop and rm reach it
    u.load("busybox.tar");
    u.ok(&["run", "-d", "--name", "u", "-u", "1000:1000", "busybox", "sleep", "100"]);
    assert_eq!(u.ok(&["exec", "u", "id", "-u"]), "1000\n");
    u.ok(&["stop", "-t", "1", "u"]);
    let inspect: serde_json::Value = serde_json::from_str(&u.ok(&["inspect", "u"])).unwrap();
    assert_eq!(inspect[0]["State"]["Running"], false, "{inspect}");
    u.ok(&["rm", "u"]);
}
