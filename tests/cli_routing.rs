//! Docker's and runc's command lines through the real binary: the container's
//! own arguments never change how rrun reads its command line, runc's form is
//! taken on runc's evidence only, and `rrun oci VERB` always means runc.
//! (The unit table in src/cli/route.rs covers the decision line by line.)

mod common;
use common::*;
use std::path::Path;

fn text(out: &std::process::Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn container_arguments_that_look_like_runc_flags_reach_the_container() {
    if !root_or_skip("container_arguments_that_look_like_runc_flags_reach_the_container") {
        return;
    }
    let r = TestRoot::with_busybox("route-args");
    // `ls -a` lists . and ..
    let out = r.ok(&["run", "--rm", "busybox", "ls", "-a", "/"]);
    assert!(out.lines().any(|l| l == ".."), "ls -a ran in the container: {out}");
    // every runc-only flag, after the image, is the container's argument
    let out = r.ok(&[
        "run",
        "--rm",
        "busybox",
        "echo",
        "--bundle",
        "/b",
        "-b",
        "--console-socket",
        "--pid-file",
        "--preserve-fds",
        "--process",
        "-p",
        "--keep",
        "--cwd",
        "--all",
        "-a",
    ]);
    assert_eq!(
        out.trim(),
        "--bundle /b -b --console-socket --pid-file --preserve-fds --process -p --keep --cwd --all -a"
    );
    // rrun's own flags after the image are the container's too
    let out = r.ok(&["run", "--rm", "busybox", "echo", "--rm", "-d", "--name", "x"]);
    assert_eq!(out.trim(), "--rm -d --name x");
    // `--` ends rrun's flags
    let out = r.ok(&["run", "--rm", "--", "busybox", "echo", "-a"]);
    assert_eq!(out.trim(), "-a");
    // an unknown flag before the image is named, exit 125 as docker
    let out = r.run(&["run", "--rm", "--no-such-flag", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(125), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--no-such-flag"), "{}", text(&out));
}

#[test]
fn the_readme_detached_example_and_exec_with_flags() {
    if !root_or_skip("the_readme_detached_example_and_exec_with_flags") {
        return;
    }
    let r = TestRoot::with_busybox("route-readme");
    let out = r.run(&[
        "run",
        "-d",
        "--name",
        "web",
        "--memory",
        "256m",
        "--cpus",
        "0.5",
        "--pids-limit",
        "100",
        "--device",
        "/dev/fuse",
        "busybox",
        "httpd",
        "-f",
        "-p",
        "8080",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert_eq!(id.len(), 64, "run -d prints the ID: {id}");
    // `ps -a` and `-p` belong to the command run in the container
    let ps = r.ok(&["exec", "web", "ps", "-a"]);
    assert!(ps.contains("httpd -f -p 8080"), "{ps}");
    let ls = r.ok(&["exec", "web", "ls", "-l", "/dev/fuse"]);
    assert!(ls.starts_with('c'), "{ls}");
    r.ok(&["rm", "-f", "web"]);
}

/// Deletes an OCI container of the default state root, even when the test fails.
struct OciContainer(String);

impl Drop for OciContainer {
    fn drop(&mut self) {
        let _ = std::process::Command::new(RRUN).args(["oci", "delete", "--force", &self.0]).output();
    }
}

#[test]
fn an_oci_container_id_after_the_image_does_not_switch_to_runc() {
    if !root_or_skip("an_oci_container_id_after_the_image_does_not_switch_to_runc") {
        return;
    }
    let r = TestRoot::with_busybox("route-ociid");
    // a bundle of runc's default spec around the host's static busybox
    let bundle = r.path.join("bundle");
    std::fs::create_dir_all(bundle.join("rootfs/bin")).unwrap();
    std::fs::copy("/bin/busybox", bundle.join("rootfs/bin/busybox")).unwrap();
    std::os::unix::fs::symlink("busybox", bundle.join("rootfs/bin/sh")).unwrap();
    let spec = r.run(&["oci", "spec", "--bundle", bundle.to_str().unwrap()]);
    assert!(spec.status.success(), "rrun oci spec: {}", text(&spec));
    // runc's spec asks for a terminal; without a console socket the process takes none
    let config = bundle.join("config.json");
    let text_of = std::fs::read_to_string(&config).unwrap().replace("\"terminal\": true", "\"terminal\": false");
    std::fs::write(&config, text_of).unwrap();
    // an OCI container in the default state root, created (its init waits for `start`),
    // by runc's `create ID` from inside its bundle directory
    let id = format!("route-c1-{}", std::process::id());
    let guard = OciContainer(id.clone());
    let created = std::process::Command::new(RRUN)
        .current_dir(&bundle)
        .args(["oci", "create", &id])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(created.success());
    let state: serde_json::Value =
        serde_json::from_slice(&std::process::Command::new(RRUN).args(["state", &id]).output().unwrap().stdout)
            .unwrap();
    assert_eq!(state["status"], "created");
    // that ID as the container's argument: Docker's run, untouched
    let out = r.ok(&["run", "--rm", "busybox", "echo", &id]);
    assert_eq!(out.trim(), id);
    // Docker's exec with it after the container name
    r.ok(&["run", "-d", "--name", "web", "busybox", "sleep", "30"]);
    let out = r.ok(&["exec", "web", "echo", &id]);
    assert_eq!(out.trim(), id);
    r.ok(&["rm", "-f", "web"]);
    // the bare ID of a shared verb, known only to the OCI root: runc's kill
    let out = std::process::Command::new(RRUN).args(["kill", &id, "KILL"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    drop(guard);
    assert!(!Path::new("/run/rrun").join(&id).exists());
}

#[test]
fn runc_verbs_through_the_oci_group_and_engine_style_lines() {
    if !root_or_skip("runc_verbs_through_the_oci_group_and_engine_style_lines") {
        return;
    }
    let r = TestRoot::with_busybox("route-oci");
    let oci_root = r.path.join("state");
    std::fs::create_dir_all(&oci_root).unwrap();
    // `rrun oci features` is runc's JSON
    let out = r.run(&["oci", "features"]);
    assert!(out.status.success(), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["ociVersionMax"].is_string(), "{v}");
    // `rrun oci list` against an empty state root
    let out = std::process::Command::new(RRUN)
        .args(["oci", "--root", oci_root.to_str().unwrap(), "list", "-q"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(out.stdout.is_empty());
    // engines' form: --root of an OCI state root, then a shared verb: runc's errors and exit
    // codes (1; exec's runtime failures 255, as runc's)
    for (verb, code) in [("start", 1), ("kill", 1), ("pause", 1), ("exec", 255)] {
        let out = std::process::Command::new(RRUN)
            .args(["--root", oci_root.to_str().unwrap(), verb, "nosuch"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(code), "{verb}: {}", text(&out));
    }
    // Docker's `start` of a missing container is rrun's own error
    let out = r.run(&["start", "nosuch"]);
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such container"), "{}", text(&out));
}
