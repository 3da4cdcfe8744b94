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
