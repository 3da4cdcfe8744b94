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
