//! Bad input gets one readable line naming what was wrong, and rrun's own
//! exit code: 125 on Docker's command line, 1 on runc's. Never a panic, a raw
//! control-file error or a wall of bytes.

mod common;
use common::*;
use std::process::{Command, Output};

/// The exit code and stderr; asserts stderr is short, one error line (plus an
/// optional hint), and has no panic in it.
fn failed(out: &Output) -> (Option<i32>, String) {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!err.contains("panicked"), "a panic: {err}");
    // the error itself; hints and clap's "For more information…" pointer aside
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("hint: ") && !l.starts_with("For more information"))
        .collect();
    assert_eq!(lines.len(), 1, "one error line: {err:?}");
    assert!(err.len() < 400, "a short message: {err:?}");
    (out.status.code(), err)
}

#[test]
fn resource_flags_are_checked_before_any_cgroup_is_written() {
    if !root_or_skip("resource_flags_are_checked_before_any_cgroup_is_written") {
        return;
    }
    let r = TestRoot::with_busybox("errs-limits");
    for (flags, says) in [
        (&["--cpus", "NaN"][..], "--cpus \"NaN\""),
        (&["--cpus", "0"], "--cpus"),
        (&["--memory", "99999999999g"], "too large"),
        (&["--memory", "1k"], "the minimum is 6m"),
        (&["--memory", "lots"], "--memory \"lots\""),
        (&["--memory", "-1"], "--memory \"-1\""),
        (&["--cpuset-cpus", "99"], "CPUs this host does not have online"),
        (&["--cpuset-cpus", "1-0"], "--cpuset-cpus \"1-0\""),
        (&["--pids-limit", "many"], "many"),
        (&["--blkio-weight", "5"], "between 10 and 1000"),
    ] {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["busybox", "true"]);
        let (code, err) = failed(&r.run(&args));
        assert_eq!(code, Some(125), "{flags:?}: {err}");
        assert!(err.contains(says), "{flags:?} should say {says:?}: {err}");
        assert!(!err.contains("/sys/fs/cgroup"), "{flags:?}: a raw cgroup error: {err}");
    }
    // nothing was left behind by the refused runs
    assert!(r.ok(&["ps", "-aq"]).is_empty());
}

#[test]
fn oci_limits_and_ids_are_named_in_runc_errors() {
    if !root_or_skip("oci_limits_and_ids_are_named_in_runc_errors") {
        return;
    }
    let r = TestRoot::new("errs-oci");
    let bundle = r.path.join("bundle");
    std::fs::create_dir_all(bundle.join("rootfs/bin")).unwrap();
    std::fs::copy("/bin/busybox", bundle.join("rootfs/bin/busybox")).unwrap();
    std::os::unix::fs::symlink("busybox", bundle.join("rootfs/bin/sh")).unwrap();
    let state = r.path.join("state");
    let oci = |args: &[&str]| {
        Command::new(RRUN).arg("--root").arg(&state).args(args).stdin(std::process::Stdio::null()).output().unwrap()
    };
    assert!(oci(&["spec", "--bundle", bundle.to_str().unwrap()]).status.success());
    let path = bundle.join("config.json");
    let mut config: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    config["process"]["terminal"] = false.into();
    config["linux"]["resources"]["memory"] = serde_json::json!({ "limit": -5 });
    std::fs::write(&path, config.to_string()).unwrap();
    let (code, err) = failed(&oci(&["create", "--bundle", bundle.to_str().unwrap(), "m5"]));
    assert_eq!(code, Some(1));
    assert!(err.contains("memory.limit -5"), "{err}");
    assert!(!err.contains("memory.limit_in_bytes"), "a raw control-file error: {err}");
    // an ID longer than a file name
    let long = "a".repeat(300);
    let (code, err) = failed(&oci(&["create", "--bundle", bundle.to_str().unwrap(), &long]));
    assert_eq!(code, Some(1));
    assert!(err.contains("at most 255") && !err.contains("os error"), "{err}");
}
