//! The README's examples, run as a reader would run them: every line of the
//! blocks marked `<!-- readme-test: NAME -->`, in order, in `sh`, with
//! `rrun` on the PATH (this build), a store of the test's own (`RRUN_ROOT`),
//! and a local registry standing in for both `localhost:5000` and docker.io
//! (through a registries.conf mirror), seeded with the fixtures the lines pull.

mod common;
use common::reader::Reader;
use common::registry::tools_or_skip;
use common::*;
use std::path::Path;
use std::process::Command;

/// The lines of the README block marked `name`.
fn block(name: &str) -> Vec<String> {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let marker = format!("<!-- readme-test: {name} -->");
    let after = readme.split_once(&marker).unwrap_or_else(|| panic!("README has no {marker}")).1;
    let body = after.split_once("```sh\n").unwrap().1.split_once("```").unwrap().0;
    body.lines().filter(|l| !l.trim().is_empty()).map(String::from).collect()
}

/// Runs each line of the block `name`; an interactive one (`-it`) on a
/// pseudo-terminal, answered with `exit`.
fn run_block(reader: &Reader, name: &str) -> Vec<(String, String)> {
    let command = |line: &str| reader.command(line, 120);
    let mut outputs = Vec::new();
    for line in block(name) {
        if line.contains(" -it ") {
            let (code, out) = in_pty(command(&line), b"echo in-a-tty; exit\n", "in-a-tty");
            assert_eq!(code, Some(0), "README line {line:?} on a terminal: {out}");
            outputs.push((line, out));
            continue;
        }
        let out = command(&line).output().unwrap();
        assert!(
            out.status.success(),
            "README line {line:?} failed with {:?}\nstdout: {}\nstderr: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        outputs.push((line, String::from_utf8_lossy(&out.stdout).into_owned()));
    }
    outputs
}

/// What a line printed.
fn printed<'a>(outputs: &'a [(String, String)], starts: &str) -> &'a str {
    &outputs.iter().find(|(l, _)| l.starts_with(starts)).unwrap_or_else(|| panic!("no README line {starts:?}")).1
}

#[test]
fn every_readme_example_runs() {
    if !root_or_skip("every_readme_example_runs") || !tools_or_skip("every_readme_example_runs") {
        return;
    }
    let scratch = ScratchDir::new("readme");
    let reader = Reader::new(&scratch.path, "readme-store");
    let _cleanup = Cleanup;

    let out = run_block(&reader, "usage");
    assert!(printed(&out, "rrun run --rm busybox echo hello").starts_with("hello"));
    assert!(printed(&out, "rrun run --rm busybox ls -a /").lines().any(|l| l == ".."));
    assert!(printed(&out, "rrun run --rm -it busybox sh").contains("in-a-tty"));
    assert_eq!(printed(&out, "rrun run --rm alpine echo hi"), "hi\n");
    assert!(printed(&out, "rrun exec web ps -a").contains("httpd -f -p 8080"));
    let port = printed(&out, "rrun port api");
    assert!(port.starts_with("80/tcp -> 127.0.0.1:"), "{port}");
    let by_name = printed(&out, "rrun run --rm --network appnet").trim().to_string();
    assert!(by_name.len() == 12 && by_name.bytes().all(|b| b.is_ascii_hexdigit()), "api's hostname: {by_name:?}");
    assert_eq!(printed(&out, "rrun run --rm -v data:/data localhost/job:1").trim(), "V");
    assert!(printed(&out, "rrun run --rm --read-only -u nobody").starts_with("uid=65534(nobody)"));
    assert!(printed(&out, "rrun create --name later").lines().any(|l| l == "started later"));
    assert!(printed(&out, "rrun events --since 10m").lines().any(|l| l == "job"));

    let out = run_block(&reader, "oci");
    assert_eq!(printed(&out, "rrun oci run --bundle"), "hello from a bundle\n");
    let state = printed(&out, "rrun oci create --bundle");
    assert!(state.contains("\"id\": \"demo\""), "{state}");
}

/// The OCI example's container and bundle go, even when an assertion failed.
struct Cleanup;

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = Command::new(RRUN).args(["oci", "delete", "--force", "demo"]).output();
        let _ = std::fs::remove_dir_all("/tmp/bundle");
        for f in ["/tmp/v.txt", "/tmp/job.tar"] {
            let _ = std::fs::remove_file(f);
        }
    }
}

/// The README's Rust blocks are excerpts of the examples (which `tests/example.rs`
/// builds and runs): each block names its example in the sentence before it, and
/// every line of the block is a line of that example, so an excerpt cannot drift.
#[test]
fn every_rust_block_is_a_part_of_the_example_it_names() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let mut blocks = 0;
    let mut rest = readme.as_str();
    while let Some((before, after)) = rest.split_once("```rust\n") {
        let (body, next) = after.split_once("```").unwrap();
        let intro = before.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or_default();
        let example = intro
            .split('`')
            .find(|s| s.starts_with("examples/") && s.ends_with(".rs"))
            .unwrap_or_else(|| panic!("the sentence before a rust block names no examples/*.rs: {intro:?}"));
        let source = std::fs::read_to_string(root.join(example)).unwrap_or_else(|e| panic!("{example}: {e}"));
        let lines: std::collections::HashSet<&str> = source.lines().map(str::trim).collect();
        for line in body.lines().map(str::trim).filter(|l| !l.is_empty()) {
            assert!(lines.contains(line), "README shows {line:?}, which {example} does not have");
        }
        blocks += 1;
        rest = next;
    }
    assert!(blocks >= 4, "the library section shows one block per example: found {blocks}");
}
