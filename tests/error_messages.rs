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

#[test]
fn negative_numbers_are_values_with_their_range_said() {
    if !root_or_skip("negative_numbers_are_values_with_their_range_said") {
        return;
    }
    let r = TestRoot::with_busybox("errs-negative");
    for (args, says) in [
        (&["stop", "-t", "-1", "nothing"][..], "-1 is out of range: expected 0 or more seconds"),
        (&["restart", "--time", "-5", "nothing"], "-5 is out of range: expected 0 or more seconds"),
        (&["run", "--rm", "--stop-timeout", "-1", "busybox", "true"], "-1 is out of range"),
        (&["run", "--rm", "--memory", "-1", "busybox", "true"], "a size cannot be negative"),
        (&["run", "--rm", "--cpus", "-1", "busybox", "true"], "--cpus \"-1\""),
    ] {
        let (code, err) = failed(&r.run(args));
        assert_eq!(code, Some(125), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?} should say {says:?}: {err}");
        assert!(!err.contains("unexpected argument"), "{args:?}: taken for a flag: {err}");
    }
}

#[test]
fn archives_that_are_not_tar_or_cut_short_say_so() {
    if !root_or_skip("archives_that_are_not_tar_or_cut_short_say_so") {
        return;
    }
    let r = TestRoot::new("errs-archives");
    // bytes of every value, escape sequences and invalid UTF-8 among them
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let noise: Vec<u8> = (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    let random = r.path.join("random.bin");
    std::fs::write(&random, &noise).unwrap();
    let (code, err) = failed(&r.run(&["load", "-i", random.to_str().unwrap()]));
    assert_eq!(code, Some(125));
    assert!(err.contains("not an image archive: it is not a tar file"), "{err}");
    assert!(!err.chars().any(|c| c.is_control() && c != '\n' || c == '\u{fffd}'), "raw bytes shown: {err:?}");

    let whole = std::fs::read(fixture("busybox.tar")).unwrap();
    // cut inside the layer's data, and at a header boundary (no end-of-archive blocks)
    for cut in [100_000, 1024] {
        let short = r.path.join(format!("cut-{cut}.tar"));
        std::fs::write(&short, &whole[..cut]).unwrap();
        let (code, err) = failed(&r.run(&["load", "-i", short.to_str().unwrap()]));
        assert_eq!(code, Some(125));
        assert!(err.contains("the archive is truncated"), "{cut}: {err}");
        assert!(!err.contains("EOF"), "{cut}: {err}");
    }
    assert!(r.entries("layers").is_empty() && r.entries("blobs/sha256").is_empty(), "nothing was kept");
}

#[test]
fn a_full_disk_is_named_as_such_with_the_store() {
    if !root_or_skip("a_full_disk_is_named_as_such_with_the_store") {
        return;
    }
    let dir = ScratchDir::new("errs-enospc");
    let root = dir.path.join("store");
    std::fs::create_dir_all(&root).unwrap();
    // room for the store's files, not for the 2 MB layer and its copy
    let status = Command::new("mount").args(["-t", "tmpfs", "-o", "size=3m", "tmpfs"]).arg(&root).status().unwrap();
    assert!(status.success());
    let out = Command::new(RRUN)
        .arg("--root")
        .arg(&root)
        .args(["load", "-i", fixture("busybox.tar").to_str().unwrap()])
        .output()
        .unwrap();
    let (code, err) = failed(&out);
    assert_eq!(code, Some(125));
    assert!(err.contains(&format!("no space left on device in the store {}", root.display())), "{err}");
    assert!(err.contains("unpacking"), "{err}");
    assert!(!err.contains("reading the layer archive"), "{err}");
    // what the failed load staged is gone: the store is as it was
    let used: Vec<String> = std::fs::read_dir(root.join("layers"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(used.is_empty(), "{used:?}");
}

#[test]
fn a_container_the_oom_killer_ends_says_so() {
    if !root_or_skip("a_container_the_oom_killer_ends_says_so") {
        return;
    }
    let r = TestRoot::with_busybox("errs-oom");
    let out = r.run(&[
        "run",
        "--rm",
        "--memory",
        "32m",
        "busybox",
        "sh",
        "-c",
        "x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo ${#x}",
    ]);
    let (code, err) = failed(&out);
    assert_eq!(code, Some(137), "{err}");
    assert_eq!(err.trim(), "rrun: container killed by the kernel OOM killer: memory limit 32m");
}

#[test]
fn platforms_are_checked_against_the_local_image() {
    if !root_or_skip("platforms_are_checked_against_the_local_image") {
        return;
    }
    let r = TestRoot::with_busybox("errs-platform");
    for flags in [&["--platform", "bogus"][..], &["--platform", "linux/ARM64"], &["--platform", "linux/arm64/v8/x"]] {
        let mut args = vec!["run", "--rm", "--pull=never"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["busybox", "true"]);
        let (code, err) = failed(&r.run(&args));
        assert_eq!(code, Some(125), "{flags:?}");
        assert!(err.contains("invalid platform"), "{flags:?}: {err}");
    }
    // the fixture is the host's busybox: the other of amd64 and arm64 is not it
    let own = {
        use rrun::PlatformExt as _;
        rrun::Platform::host().architecture().to_string()
    };
    let other = if own == "amd64" { "arm64" } else { "amd64" };
    let (wanted, own) = (format!("linux/{other}"), format!("linux/{own}"));
    let (code, err) = failed(&r.run(&["run", "--rm", "--pull=never", "--platform", &wanted, "busybox", "true"]));
    assert_eq!(code, Some(125));
    let says = format!("does not match the specified platform: wanted {wanted}, actual: {own}");
    assert!(err.contains(&says), "{err}");
    // the image's own platform runs
    r.ok(&["run", "--rm", "--pull=never", "--platform", &own, "busybox", "true"]);
}

#[test]
fn refusals_that_force_overrides_say_so_on_the_command_line_only() {
    if !root_or_skip("refusals_that_force_overrides_say_so_on_the_command_line_only") {
        return;
    }
    let r = TestRoot::with_busybox("errs-force");
    let created = r.run(&["create", "--name", "held", "busybox", "true"]);
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let id = String::from_utf8_lossy(&created.stdout).trim().to_string();
    let (code, err) = failed(&r.run(&["rmi", "busybox"]));
    assert_eq!(code, Some(125));
    assert_eq!(
        err.trim(),
        format!("rrun: image busybox is in use by container {}: remove the container first, or use -f", &id[..12])
    );
    // the library's error names what is wrong, without the command line's advice
    let rrun = rrun::Rrun::open(&r.path).unwrap();
    let e = rrun.remove_image("busybox", false).unwrap_err();
    assert_eq!(e.to_string(), format!("image busybox is in use by container {}", &id[..12]));
}
