//! The embedding example builds (cargo test builds examples) and runs.

mod common;
use common::*;

#[test]
fn run_busybox_example_loads_and_runs() {
    if !root_or_skip("run_busybox_example_loads_and_runs") {
        return;
    }
    // target/<profile>/deps/example-… → target/<profile>/examples/run_busybox
    let exe = std::env::current_exe().unwrap();
    let example = exe.parent().unwrap().parent().unwrap().join("examples/run_busybox");
    if !example.exists() {
        // `cargo test` builds examples; a filtered run (`--test example`) may not have
        let status = std::process::Command::new(env!("CARGO"))
            .args(["build", "--example", "run_busybox", "--manifest-path"])
            .args(exe.to_str().unwrap().contains("/release/").then_some("--release"))
            .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
            .status()
            .unwrap();
        assert!(status.success());
    }
    assert!(example.exists(), "{}", example.display());
    let r = TestRoot::new("example");
    let out = std::process::Command::new(&example)
        .arg(&r.path)
        .arg(fixture("busybox.tar"))
        .args(["sh", "-c", "echo hello from $(hostname | wc -c) chars; exit 5"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello from 13 chars\n");
    assert_eq!(out.status.code(), Some(5));
    assert!(String::from_utf8_lossy(&out.stderr).contains("loaded docker.io/library/busybox:latest"));
}

/// The built example `name` (built now if a filtered test run did not build it).
fn example(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().unwrap().parent().unwrap().join("examples").join(name);
    let status = std::process::Command::new(env!("CARGO"))
        .args(["build", "--example", name, "--manifest-path"])
        .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
        .args(exe.to_str().unwrap().contains("/release/").then_some("--release"))
        .status()
        .unwrap();
    assert!(status.success(), "building example {name}");
    assert!(path.exists(), "{}", path.display());
    path
}

#[test]
fn run_output_example_captures_both_streams_and_the_code() {
    if !root_or_skip("run_output_example_captures_both_streams_and_the_code") {
        return;
    }
    let r = TestRoot::new("example-output");
    let out = std::process::Command::new(example("run_output"))
        .arg(&r.path)
        .arg(fixture("busybox.tar"))
        .args(["sh", "-c", "echo to out; echo to err >&2; exit 4"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "status: 4\nstdout: \"to out\\n\"\nstderr: \"to err\\n\"\n",
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn detached_exec_example_execs_reads_the_log_and_stops() {
    if !root_or_skip("detached_exec_example_execs_reads_the_log_and_stops") {
        return;
    }
    let r = TestRoot::new("example-exec");
    let out =
        std::process::Command::new(example("detached_exec")).arg(&r.path).arg(fixture("busybox.tar")).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "running: true");
    assert_eq!(lines[1], "exec status: 3");
    assert!(lines[2].starts_with("exec stdout: in ") && lines[2].len() == "exec stdout: in ".len() + 12, "{stdout}");
    assert_eq!(lines[3], "exec stderr: oops");
    assert_eq!(lines[4], "log: started");
    assert_eq!(lines[5], "stopped: true");
}
