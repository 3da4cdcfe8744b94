//! Launching from a multi-threaded process: the launcher forks without
//! exec, so the library refuses (`LaunchError::MultiThreaded`) before it
//! creates anything, and never hangs. Needs root (a store with busybox).

mod common;

use common::{root_or_skip, TestRoot};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

/// The container cgroups rrun made, in every hierarchy (`<hierarchy>/rrun/<id>`).
fn rrun_cgroups() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let base = Path::new("/sys/fs/cgroup");
    // rrun::cgroups::PARENT
    let mut parents = vec![base.join("rrun")];
    for h in std::fs::read_dir(base).into_iter().flatten().flatten() {
        parents.push(h.path().join("rrun"));
    }
    for p in parents {
        for e in std::fs::read_dir(&p).into_iter().flatten().flatten() {
            if e.path().is_dir() {
                out.push(e.path());
            }
        }
    }
    out.sort();
    out
}

/// Runs `f` on another thread; fails the test if it has not returned in 30 s.
fn within_30s<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(v) => v,
        Err(_) => panic!("{what} did not return within 30 s: a launch from a threaded process hangs"),
    }
}

fn assert_multithreaded(what: &str, r: Result<impl std::fmt::Debug, rrun::Error>) {
    match r {
        Err(rrun::Error::Launch(rrun::LaunchError::MultiThreaded { threads })) => {
            assert!(threads >= 2, "{what}: {threads} threads counted");
        }
        other => panic!("{what}: expected LaunchError::MultiThreaded, got {other:?}"),
    }
}

#[test]
fn run_from_a_four_worker_tokio_runtime_is_refused_cleanly() {
    if !root_or_skip("run_from_a_four_worker_tokio_runtime_is_refused_cleanly") {
        return;
    }
    let store = TestRoot::with_busybox("threads");
    let root = store.path.clone();
    let cgroups_before = rrun_cgroups();
    let results = within_30s("Rrun::run from tokio", move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build().unwrap();
        rt.block_on(async move {
            // one in a blocking section of a worker, one on the blocking pool
            let r1 = {
                let root = root.clone();
                tokio::task::block_in_place(move || {
                    let rrun = rrun::Rrun::open(&root).unwrap();
                    let opts = rrun::RunOptions::new(["true"]).remove(true);
                    rrun.run("busybox", &opts)
                })
            };
            let r2 = tokio::task::spawn_blocking(move || {
                let rrun = rrun::Rrun::open(&root).unwrap();
                let opts = rrun::RunOptions::new(["true"]);
                let detached = rrun.run_detached("busybox", &opts).map(|r| r.id);
                let exec = rrun.exec("no-such-container", &Default::default());
                let start = rrun.start("no-such-container").map(|r| r.id);
                let restart = rrun.restart("no-such-container", std::time::Duration::from_secs(1)).map(|r| r.id);
                (detached, exec, start, restart)
            })
            .await
            .unwrap();
            (r1, r2)
        })
    });
    let (run, (detached, exec, start, restart)) = results;
    let msg = match &run {
        Err(e) => e.to_string(),
        Ok(code) => panic!("run from a threaded process returned {code}"),
    };
    assert_multithreaded("run", run);
    assert_multithreaded("run -d", detached);
    assert_multithreaded("exec", exec);
    assert_multithreaded("start", start);
    assert_multithreaded("restart", restart);
    assert!(!msg.contains('\n'), "one line: {msg}");
    assert!(msg.contains("threads") && msg.contains("single-threaded process"), "says what to do: {msg}");
    // refused before anything was made: no record, no container directory, no cgroup
    let rrun = rrun::Rrun::open(&store.path).unwrap();
    assert!(rrun.containers().unwrap().is_empty(), "no container record is left");
    assert!(store.entries("containers").is_empty(), "no container directory: {:?}", store.entries("containers"));
    // (one test in this binary: no other test makes cgroups meanwhile; CI runs binaries one by one)
    assert_eq!(rrun_cgroups(), cgroups_before, "no cgroup is left");

    // the rrun binary is single-threaded at every launch: run, run -d, exec
    assert_eq!(store.ok(&["run", "--rm", "busybox", "echo", "ran"]), "ran\n");
    store.ok(&["run", "-d", "--name", "t", "busybox", "sleep", "60"]);
    assert_eq!(store.ok(&["exec", "t", "echo", "in"]), "in\n");
    store.ok(&["rm", "-f", "t"]);
}
