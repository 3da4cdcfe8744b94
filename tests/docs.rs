//! The book in docs/, run as a reader runs it: each chapter of
//! docs/SUMMARY.md, in order, every `sh` block of it in one root shell
//! started in the repository's top directory (as a reader types them into one
//! terminal), with this build's rrun, a store of the test's own and a local
//! registry for `localhost:5000` (tests/common/reader.rs). What the chapters
//! claim a command shows is checked against what it printed; and the book's
//! shape is checked too: every chapter listed, every code block marked with
//! its language, a "Try it" with `--explain` and source files that exist.

mod common;
use common::reader::Reader;
use common::registry::tools_or_skip;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

fn docs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docs")
}

/// The chapters SUMMARY.md links to, in its order.
fn chapters() -> Vec<String> {
    let summary = std::fs::read_to_string(docs().join("SUMMARY.md")).unwrap();
    summary
        .split("](")
        .skip(1)
        .filter_map(|s| s.split_once(')').map(|(f, _)| f.to_string()))
        .filter(|f| f.ends_with(".md"))
        .collect()
}

/// The code blocks of a Markdown file: (info string, body).
fn blocks(md: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut lines = md.lines();
    while let Some(line) = lines.next() {
        if let Some(info) = line.strip_prefix("```") {
            let body: Vec<&str> = lines.by_ref().take_while(|l| !l.starts_with("```")).collect();
            out.push((info.trim().to_string(), body.join("\n") + "\n"));
        }
    }
    out
}

#[test]
fn the_book_is_whole() {
    let listed = chapters();
    assert!(listed.len() >= 9, "the introduction and chapters 1-8: {listed:?}");
    let mut on_disk: Vec<String> = std::fs::read_dir(docs())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".md") && n != "SUMMARY.md")
        .collect();
    on_disk.sort();
    let mut sorted = listed.clone();
    sorted.sort();
    assert_eq!(sorted, on_disk, "every chapter in docs/ is in SUMMARY.md, and every entry exists");
    let src = Path::new(env!("CARGO_MANIFEST_DIR"));
    for ch in listed.iter().filter(|c| *c != "README.md") {
        let md = std::fs::read_to_string(docs().join(ch)).unwrap();
        for (info, body) in blocks(&md) {
            // a command is a `sh` block, and every `sh` block is run below: nothing unmarked slips by
            assert!(!info.is_empty(), "{ch}: a code block without its language:\n{body}");
        }
        assert!(blocks(&md).iter().any(|(i, _)| i == "sh"), "{ch} has no command");
        let try_it = md.split_once("## Try it").unwrap_or_else(|| panic!("{ch} has no Try it")).1;
        let try_it = try_it.split_once("\n## ").map(|(t, _)| t).unwrap_or(try_it);
        assert!(try_it.contains("--explain"), "{ch}: Try it uses --explain");
        let sources = md.split_once("## In the source").unwrap_or_else(|| panic!("{ch} points to no source")).1;
        let files: Vec<&str> = sources
            .split('`')
            .skip(1)
            .step_by(2)
            .filter(|w| w.starts_with("src/") || w.starts_with("tests/"))
            .collect();
        assert!(!files.is_empty(), "{ch}: In the source names no file");
        for f in files {
            let f = f.split(',').next().unwrap();
            assert!(src.join(f).exists(), "{ch}: {f} does not exist");
        }
    }
}

/// The book's scratch files, its OCI containers and its cgroup go, even when a chapter failed.
struct Cleanup;

impl Drop for Cleanup {
    fn drop(&mut self) {
        clean();
    }
}

fn clean() {
    {
        for (runtime, state) in [(RRUN, "/tmp/book/state"), ("runc", "/tmp/book/runc")] {
            for id in ["demo", "engine-demo", "explained", "later"] {
                let _ = Command::new(runtime).args(["--root", state, "delete", "--force", id]).output();
            }
        }
        for cg in ["/sys/fs/cgroup/pids/book", "/sys/fs/cgroup/book"] {
            let _ = std::fs::remove_dir(cg);
        }
        unmount_under(Path::new("/tmp/book"));
        let _ = std::fs::remove_dir_all("/tmp/book");
        let _ = std::fs::remove_file("/tmp/book-spec.txt");
        let _ = std::fs::remove_file("/tmp/book-manifest.json");
        // chapter 10's user: its processes (the pause process, pasta), then the user and its ranges
        if Command::new("id").arg("book-user").output().is_ok_and(|o| o.status.success()) {
            let _ = Command::new("pkill").args(["-KILL", "-u", "book-user"]).output();
            std::thread::sleep(std::time::Duration::from_millis(500));
            let _ = Command::new("userdel").arg("book-user").output();
        }
        // chapter 9's namespaces made by hand (the veth pair goes with them)
        for ns in ["book-a", "book-b"] {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}

#[test]
fn every_command_of_the_book_runs() {
    if !root_or_skip("every_command_of_the_book_runs") || !tools_or_skip("every_command_of_the_book_runs") {
        return;
    }
    let tools = [
        ("jq", "jq"),
        ("curl", "curl"),
        ("getfattr", "attr"),
        ("runc", "runc"),
        ("capsh", "libcap2-bin"),
        ("setpriv", "util-linux"),
        ("nsenter", "util-linux"),
        ("ip", "iproute2"),
        ("zstd", "zstd"),
        ("iptables", "iptables"),
        ("busybox", "busybox-static"),
        ("newuidmap", "uidmap"),
        ("pasta", "passt"),
        ("useradd", "passwd"),
    ];
    if !ensure_programs("every_command_of_the_book_runs", &tools) {
        return;
    }
    clean(); // what an interrupted run left
    let _cleanup = Cleanup;
    let scratch = ScratchDir::new("docs");
    let reader = Reader::new(&scratch.path, "docs-store");
    let mut printed = Vec::new();
    for ch in chapters() {
        let md = std::fs::read_to_string(docs().join(&ch)).unwrap();
        let mut script = String::from("set -e\n");
        for (i, (_, body)) in blocks(&md).iter().filter(|(info, _)| info == "sh").enumerate() {
            script.push_str(&format!("echo '### {ch}, command block {}' >&2\n{body}", i + 1));
        }
        let out = reader.command(&script, 600).output().unwrap();
        let (stdout, stderr) =
            (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned());
        assert!(
            out.status.success(),
            "{ch} failed with {:?} at {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
            out.status.code(),
            stderr.lines().rfind(|l| l.starts_with("### ")).unwrap_or("its start")
        );
        printed.push((ch, stdout + &stderr));
    }
    // what the chapters say the commands show
    let of = |ch: &str| &printed.iter().find(|(c, _)| c.starts_with(ch)).unwrap().1;
    let c1 = of("01-");
    assert!(c1.contains(".wh.remove-me") && c1.contains(".wh..wh..opq"), "the top layer's whiteouts: {c1}");
    assert!(c1.contains("0, 0") && c1.contains("trusted.overlay.opaque=\"y\""), "rrun's overlayfs form: {c1}");
    assert!(c1.contains("refused, as it should be") && c1.contains("2 whiteouts, 1 opaque"), "{c1}");
    let c2 = of("02-");
    assert!(c2.contains("from the layer above\nthe base's motd"), "the top lowerdir wins: {c2}");
    assert!(c2.contains("A /hello.txt") && c2.contains("D /etc/group"), "{c2}");
    let c3 = of("03-");
    assert!(c3.contains("book-demo") && c3.contains("my PID is 1") && c3.contains("state DOWN"), "{c3}");
    assert!(c3.contains("PID 1 on "), "{c3}");
    let c4 = of("04-");
    assert!(c4.contains("/ now holds: bin dev etc"), "{c4}");
    assert!(c4.contains("Read-only file system"), "{c4}");
    let c5 = of("05-");
    assert!(c5.contains("a fork was refused") && c5.contains("max 1") && c5.contains("refused at the limit"), "{c5}");
    assert!(c5.contains("67108864"), "{c5}");
    let c6 = of("06-");
    for said in ["refused: no CAP_CHOWN", "refused by seccomp", "allowed without a profile", "mkdir refused"] {
        assert!(c6.contains(said), "{said}: {c6}");
    }
    assert!(c6.contains("NoNewPrivs:\t1") && c6.contains("cap_chown"), "{c6}");
    let c7 = of("07-");
    assert_eq!(c7.matches("hello from a bundle").count(), 3, "rrun, runc, then create and start: {c7}");
    assert!(c7.contains("\"created\"") && c7.contains("\"stopped\"") && c7.contains("wait_start"), "{c7}");
    let c8 = of("08-");
    let digest = |label: &str| c8.lines().find_map(|l| l.strip_prefix(label)).map(str::trim).unwrap().to_string();
    assert_eq!(digest("asked for "), digest("received "), "{c8}");
    assert!(c8.contains("{\"name\":\"book/busybox\",\"tags\":[\"1\"]}"), "{c8}");
    assert!(c8.contains("Choose this platform's manifest from the index"), "{c8}");
    let c9 = of("09-");
    assert!(c9.contains("1 packets received") && c9.contains("10.199.0.0/24 dev book-vb"), "by hand: {c9}");
    assert!(c9.contains("80/tcp -> 127.0.0.1:") && c9.contains("hello from book-web"), "the published port: {c9}");
    assert!(c9.contains("default via 10.87.0.1 dev eth0") && c9.contains("-j DNAT --to-destination 10.87."), "{c9}");
    assert!(c9.contains("no rule left for port"), "teardown: {c9}");
    assert!(c9.contains("nameserver 10.86.") && c9.contains("hello from book-db"), "names on booknet: {c9}");
    for step in ["ports_reserve", "address_lease", "netns_create", "netavark_setup", "cleanup netavark_teardown"] {
        assert!(c9.contains(step), "{step}: {c9}");
    }
    let c10 = of("10-");
    assert!(c10.contains("shadow is owned by 65534") && c10.contains("still refused"), "by hand: {c10}");
    let expected = c10.lines().find_map(|l| l.strip_prefix("expected: ")).unwrap_or_else(|| panic!("{c10}"));
    assert!(c10.contains(&format!("on the host: {expected}")) && c10.contains("inside: 1000"), "{c10}");
    assert!(c10.contains("refused without a delegated cgroup"), "{c10}");
    assert!(c10.contains("hello from a rootless container"), "pasta's published port: {c10}");
    for step in ["pasta_netns", "pasta_start", "pasta_stop"] {
        assert!(c10.contains(step), "{step}: {c10}");
    }
    assert!(c10.contains("no range left for book-user"), "{c10}");
}
