//! The store under hostile or unusual inputs: images that list a layer twice.

mod common;
use common::podman::{Out, Podman, NEEDS};
use common::*;

#[test]
fn a_layer_listed_twice_runs_as_podman_runs_it() {
    if !root_or_skip("a_layer_listed_twice_runs_as_podman_runs_it")
        || !ensure_programs("a_layer_listed_twice_runs_as_podman_runs_it", NEEDS)
    {
        return;
    }
    // busybox, L (adds /dup/a), M (deletes it, adds /dup/b), L again: /dup/a is back
    let script = "ls /dup; cat /dup/a /dup/b";
    let r = TestRoot::new("duplayer");
    for archive in ["duplayer.tar", "duplayer-oci"] {
        r.ok(&["load", "-i", fixture(archive).to_str().unwrap()]);
        let rrun = r.run(&["run", "--rm", "duplayer", "sh", "-c", script]);
        assert!(rrun.status.success(), "{archive}: {}", String::from_utf8_lossy(&rrun.stderr));
        assert_eq!(
            String::from_utf8_lossy(&rrun.stdout),
            "a\nb\nfrom the repeated layer\nfrom the middle layer\n",
            "{archive}"
        );
    }
    let p = Podman::setup("duplayer-podman", &["duplayer.tar"]);
    let podman: Out = p.run(&["run", "--rm", "duplayer", "sh", "-c", script]);
    assert_eq!(podman.code, Some(0), "{podman:?}");
    let rrun = r.ok(&["run", "--rm", "duplayer", "sh", "-c", script]);
    assert_eq!(rrun, podman.stdout, "rrun and podman see the same filesystem");
}

/// Runs `sh -c SCRIPT` as nobody (65534) with no supplementary groups: (exit code, stderr).
fn as_nobody(script: &str) -> (Option<i32>, String) {
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--", "sh", "-c", script])
        .output()
        .expect("setpriv (util-linux)");
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn other_users_cannot_reach_unpacked_setuid_files_or_devices() {
    if !root_or_skip("other_users_cannot_reach_unpacked_setuid_files_or_devices") {
        return;
    }
    let r = TestRoot::new("perm");
    r.ok(&["load", "-i", fixture("multilayer.tar").to_str().unwrap()]);
    // the fixture's top layer holds a set-uid file and a character device (1:3, /dev/null's)
    let layers = r.path.join("layers");
    let find = |name: &str| {
        std::fs::read_dir(&layers)
            .unwrap()
            .flatten()
            .map(|e| e.path().join("diff/data").join(name))
            .find(|p| p.symlink_metadata().is_ok())
            .unwrap_or_else(|| panic!("no layer holds data/{name}"))
    };
    let (setuid, device) = (find("setuid"), find("null"));
    use std::os::unix::fs::PermissionsExt;
    assert_ne!(std::fs::metadata(&setuid).unwrap().permissions().mode() & 0o4000, 0, "the fixture's file is set-uid");
    // a local user can neither run or read the set-uid file, open the device, nor list the store
    for script in [
        format!("cat {} >/dev/null", setuid.display()),
        format!("{}", setuid.display()),
        format!("echo x > {}", device.display()),
        format!("ls {}", layers.display()),
        format!("ls {}", r.path.join("containers").display()),
    ] {
        let (code, err) = as_nobody(&script);
        assert_ne!(code, Some(0), "nobody ran {script:?}");
        assert!(err.contains("Permission denied"), "{script}: {err}");
    }
    // the same files are there for root
    assert!(std::fs::File::open(&setuid).is_ok());
    // a store left open (an older rrun, a chmod by hand) is closed again by the next command
    std::fs::set_permissions(&r.path, std::fs::Permissions::from_mode(0o755)).unwrap();
    r.ok(&["images"]);
    assert_eq!(std::fs::metadata(&r.path).unwrap().permissions().mode() & 0o777, 0o700);
    // containers still run, as other users too
    let out = r.ok(&["run", "--rm", "-u", "nobody", "multilayer", "cat", "/data/keep"]);
    assert_eq!(out, "kept\n");
}

#[test]
fn names_longer_than_docker_allows_are_refused_before_any_registry() {
    if !root_or_skip("names_longer_than_docker_allows_are_refused_before_any_registry") {
        return;
    }
    let r = TestRoot::new("longname");
    let name = format!("registry.invalid/{}", "a".repeat(300));
    let out = r.run(&["pull", &name]);
    assert_eq!(out.status.code(), Some(125));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("255 characters"), "{err}");
    assert!(!err.contains("connect") && !err.contains("resolve"), "no registry was asked: {err}");
}
