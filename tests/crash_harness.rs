//! Fault injection: `rrun` is killed with SIGKILL at random points of `load`,
//! `pull`, `run --rm`, `run -d`, `rm -f`, `rmi` and `commit`. After each kill:
//! the next command succeeds (and finishes what the killed one left:
//! a `--rm` container is gone), and once everything is removed and the store
//! pruned, `system df` shows nothing unreferenced and no cgroup directory,
//! mount or process of any container remains, nor a file in the store.
//!
//! Every rrun runs in a cgroup of its own (in each v1 hierarchy: the jail), so
//! the containers' cgroups, their monitors and processes are found there
//! whatever else runs on the host. `RRUN_CRASH_KILLS` kills per operation
//! (3 by default; `benches/crash.sh` runs 30), `RRUN_CRASH_SEED` repeats a run,
//! `RRUN_CRASH_BIN` tests another rrun binary.
//! Each operation prints `CRASH op=… kills=… leaks=… secs=…`; any leak fails.

mod common;
use common::registry::{tools_or_skip, Flavour, Registry};
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The rrun under test: this build's, or `RRUN_CRASH_BIN` (to compare with another build).
fn rrun_bin() -> String {
    std::env::var("RRUN_CRASH_BIN").unwrap_or_else(|_| RRUN.to_string())
}

fn kills_per_op() -> usize {
    std::env::var("RRUN_CRASH_KILLS").ok().and_then(|v| v.parse().ok()).unwrap_or(3)
}

/// xorshift64*: reproducible delays from a printed seed.
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        let seed = std::env::var("RRUN_CRASH_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or_else(|| {
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1
        });
        eprintln!("crash harness: RRUN_CRASH_SEED={seed}");
        Rng(seed)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n.max(1)
    }
}

/// A cgroup in every v1 hierarchy that the rrun processes run in: what they
/// and their containers leave behind is all below it.
struct Jail {
    dirs: Vec<PathBuf>,
}

impl Jail {
    fn new(tag: &str) -> Option<Jail> {
        let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let mounts: Vec<PathBuf> = info
            .lines()
            .filter_map(|l| {
                let (left, right) = l.split_once(" - ")?;
                let mount = left.split(' ').nth(4)?;
                (right.split(' ').next()? == "cgroup").then(|| PathBuf::from(mount))
            })
            .collect();
        if mounts.is_empty() {
            return None;
        }
        let name = format!("rrun-crash-{}-{tag}", std::process::id());
        let dirs: Vec<PathBuf> = mounts.iter().map(|m| m.join(&name)).collect();
        for (m, d) in mounts.iter().zip(&dirs) {
            std::fs::create_dir_all(d).unwrap();
            for f in ["cpuset.cpus", "cpuset.mems"] {
                if let Ok(v) = std::fs::read_to_string(m.join(f)) {
                    std::fs::write(d.join(f), v.trim()).unwrap();
                }
            }
        }
        Some(Jail { dirs })
    }

    /// Every directory below the jail (containers' cgroups, `rrun/`) and every process in it.
    fn contents(&self) -> (Vec<PathBuf>, Vec<i32>) {
        let mut dirs = Vec::new();
        let mut pids = Vec::new();
        let mut stack: Vec<PathBuf> = self.dirs.clone();
        while let Some(d) = stack.pop() {
            pids.extend(
                std::fs::read_to_string(d.join("cgroup.procs"))
                    .unwrap_or_default()
                    .lines()
                    .filter_map(|l| l.trim().parse::<i32>().ok()),
            );
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    stack.push(e.path());
                }
            }
            if !self.dirs.contains(&d) {
                dirs.push(d);
            }
        }
        pids.sort();
        pids.dedup();
        (dirs, pids)
    }

    /// Ends whatever is left in the jail (after a failed check) and removes it.
    fn clear(&self) {
        for _ in 0..50 {
            let (dirs, pids) = self.contents();
            for p in &pids {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(*p), nix::sys::signal::Signal::SIGKILL);
            }
            let mut dirs = dirs;
            dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
            for d in dirs {
                let _ = std::fs::remove_dir(d);
            }
            if self.contents() == (vec![], vec![]) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Jail {
    fn drop(&mut self) {
        self.clear();
        for d in &self.dirs {
            let _ = std::fs::remove_dir(d);
        }
    }
}

struct Harness {
    root: TestRoot,
    jail: Option<Jail>,
    rng: Rng,
    leaks: Vec<String>,
}

impl Harness {
    fn new(tag: &str) -> Harness {
        Harness { root: TestRoot::new(tag), jail: Jail::new(tag), rng: Rng::new(), leaks: Vec::new() }
    }

    /// `rrun --root STORE ARGS`, started inside the jail.
    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new("sh");
        let cgroups: Vec<String> =
            self.jail.iter().flat_map(|j| j.dirs.iter().map(|d| d.display().to_string())).collect();
        c.arg("-c")
            .arg(r#"for d in $RRUN_CRASH_JAIL; do echo $$ > "$d/cgroup.procs" || exit 99; done; exec "$@""#)
            .arg("sh")
            .arg(rrun_bin())
            .arg("--root")
            .arg(&self.root.path)
            .args(args)
            .env("RRUN_CRASH_JAIL", cgroups.join(" "))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        c
    }

    /// Runs a command to its end: (exit code, stdout, stderr).
    fn run(&self, args: &[&str]) -> (Option<i32>, String, String) {
        let mut c = self.command(args);
        c.stdout(Stdio::piped());
        output_of(&mut c)
    }

    /// Runs a command that must succeed; returns its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let (code, out, err) = self.run(args);
        assert_eq!(code, Some(0), "rrun {args:?}: {err}");
        out
    }

    /// The next command after a kill: it must succeed, else it is counted.
    fn next_ok(&mut self, op: &str, args: &[&str]) -> String {
        let (code, out, err) = self.run(args);
        if code != Some(0) {
            self.leaks.push(format!("{op}: the next command `{}` failed ({code:?}): {}", args.join(" "), err.trim()));
        }
        out
    }

    /// Starts `args` and SIGKILLs it after `delay`; true when it was killed
    /// before it ended on its own.
    fn kill_after(&self, args: &[&str], delay: Duration) -> bool {
        let mut child: Child = self.command(args).spawn().unwrap();
        let deadline = Instant::now() + delay;
        while Instant::now() < deadline {
            if child.try_wait().unwrap().is_some() {
                return false;
            }
            std::thread::sleep(Duration::from_micros(200).min(deadline.saturating_duration_since(Instant::now())));
        }
        let killed = child.try_wait().unwrap().is_none() && child.kill().is_ok();
        let _ = child.wait();
        killed
    }

    /// How long `args` takes when nobody kills it (setup run before).
    fn duration_of(&self, args: &[&str]) -> Duration {
        let t = Instant::now();
        let (code, _, err) = self.run(args);
        assert_eq!(code, Some(0), "rrun {args:?}: {err}");
        t.elapsed()
    }

    /// Checks that no container's cgroup, process or mount is left, counting each as a leak.
    fn check_resources(&mut self, op: &str, when: &str) {
        if let Some(j) = &self.jail {
            let (dirs, pids) = j.contents();
            // the jail's `rrun/` parent itself may stay; a container's cgroup below it may not
            let leaked: Vec<&PathBuf> = dirs.iter().filter(|d| d.file_name().is_some_and(|n| n != "rrun")).collect();
            if !leaked.is_empty() {
                self.leaks.push(format!("{op} ({when}): cgroups left: {leaked:?}"));
            }
            if !pids.is_empty() {
                let cmds: Vec<String> = pids
                    .iter()
                    .map(|p| {
                        std::fs::read_to_string(format!("/proc/{p}/cmdline")).unwrap_or_default().replace('\0', " ")
                    })
                    .collect();
                self.leaks.push(format!("{op} ({when}): processes left: {pids:?} {cmds:?}"));
            }
        }
        let mounts = mounts_under(&self.root.path);
        if !mounts.is_empty() {
            self.leaks.push(format!("{op} ({when}): mounts left: {mounts:?}"));
        }
        // bridge networking: a teardown file stays until netavark has removed the veth, the
        // port rules and the lease; none may name a container this store no longer has
        let ours: std::collections::BTreeSet<String> =
            self.ok(&["ps", "-aq", "--no-trunc"]).lines().map(String::from).collect();
        let store = std::fs::canonicalize(&self.root.path).unwrap_or(self.root.path.clone());
        for entry in std::fs::read_dir("/run/rrun/.networks/containers").into_iter().flatten().flatten() {
            let Ok(state) =
                serde_json::from_slice::<serde_json::Value>(&std::fs::read(entry.path()).unwrap_or_default())
            else {
                continue;
            };
            let (Some(from), Some(id)) = (state["store"].as_str(), state["container"].as_str()) else { continue };
            let from = std::fs::canonicalize(from).unwrap_or(PathBuf::from(from));
            if from == store && !ours.contains(id) {
                let netns = Path::new("/run/rrun/.netns").join(id).exists();
                self.leaks.push(format!("{op} ({when}): network of {id} not torn down (namespace left: {netns})"));
            }
        }
        if let Some(j) = &self.jail {
            j.clear();
        }
        unmount_under(&self.root.path);
    }

    /// Removes every container and image, prunes, and checks that the store
    /// is empty: `system df` shows nothing unreferenced, no file is left.
    fn check_store(&mut self, op: &str) {
        for id in self.ok(&["ps", "-aq"]).lines() {
            self.ok(&["rm", "-f", id]);
        }
        for id in self.ok(&["images", "-q"]).lines().collect::<std::collections::BTreeSet<_>>() {
            let (code, _, err) = self.run(&["rmi", "-f", id]);
            // an image under several names goes with the first
            assert!(code == Some(0) || err.contains("not found"), "rmi -f {id}: {err}");
        }
        self.ok(&["system", "prune", "-a", "-f"]);
        let df: serde_json::Value =
            serde_json::from_str(&self.ok(&["system", "df", "-v", "--format", "json"])).unwrap();
        if df["Unreferenced"]["Size"] != 0 || df["LayersSize"] != 0 {
            self.leaks.push(format!("{op}: system df after system prune: {}", df["Unreferenced"]));
        }
        for sub in ["containers", "layers", "blobs/sha256", "tmp", "partial"] {
            let left = self.root.entries(sub);
            if !left.is_empty() {
                self.leaks.push(format!("{op}: {sub}/ keeps {left:?}"));
            }
        }
        let images: Vec<String> = self.root.entries("images").into_iter().filter(|n| n != "index.json").collect();
        if !images.is_empty() {
            self.leaks.push(format!("{op}: images/ keeps {images:?}"));
        }
        self.check_resources(op, "after removing everything");
    }

    /// Kills `args` at random points of its run `kills` times: `setup`
    /// prepares each try, `recover` is what a user does next (it must
    /// succeed), then everything is checked. Returns (kills, tries).
    fn crash(
        &mut self,
        op: &str,
        args: &[&str],
        setup: &dyn Fn(&Harness),
        recover: &dyn Fn(&mut Harness),
    ) -> (usize, usize) {
        let started = Instant::now();
        let wanted = kills_per_op();
        // how long it takes unkilled: the median of three runs
        let mut runs: Vec<Duration> = (0..3)
            .map(|_| {
                setup(self);
                let d = self.duration_of(args);
                recover(self);
                self.check_store(op);
                d
            })
            .collect();
        runs.sort();
        let full = runs[1];
        let leaks_before = self.leaks.len();
        let (mut kills, mut tries) = (0, 0);
        while kills < wanted && tries < wanted * 4 {
            tries += 1;
            setup(self);
            // anywhere from the start to a little past the usual end
            let delay = Duration::from_micros(self.rng.below(full.as_micros() as u64 * 11 / 10 + 1));
            if self.kill_after(args, delay) {
                kills += 1;
            }
            recover(self);
            self.check_resources(op, "after the next command");
            self.check_store(op);
        }
        let leaks = self.leaks.len() - leaks_before;
        eprintln!(
            "CRASH op={op:?} kills={kills} tries={tries} leaks={leaks} secs={:.1} (an unkilled run: {:.0} ms)",
            started.elapsed().as_secs_f64(),
            full.as_secs_f64() * 1000.0
        );
        (kills, tries)
    }
}

fn fixture_str(name: &str) -> String {
    fixture(name).display().to_string()
}

fn has_image(h: &Harness, name: &str) -> bool {
    h.run(&["image", "inspect", name]).0 == Some(0)
}

#[test]
fn killed_at_random_points_nothing_is_lost_or_leaked() {
    if !root_or_skip("killed_at_random_points_nothing_is_lost_or_leaked") {
        return;
    }
    let mut h = Harness::new("crash");
    if h.jail.is_none() {
        // the rest still runs: only its cgroup and process checks are left out
        skip(
            "killed_at_random_points_nothing_is_lost_or_leaked (cgroup and process leak checks)",
            "no cgroup v1 hierarchy here: cgroups and processes are checked by the store only",
        );
    }
    let big = fixture_str("big.tar");
    let busybox = fixture_str("busybox.tar");
    let load_busybox = |h: &Harness| {
        if !has_image(h, "busybox") {
            h.ok(&["load", "-i", &busybox]);
        }
    };

    // load: the next `images` works, and loading again completes the image
    h.crash("load", &["load", "-i", &big], &|_| {}, &|h| {
        h.next_ok("load", &["images"]);
        h.next_ok("load", &["load", "-i", &big]);
        h.next_ok("load", &["run", "--rm", "big", "true"]);
    });

    // run --rm: the next command finds no container left, and nothing of it
    h.crash("run --rm", &["run", "--rm", "busybox", "sh", "-c", "sleep 0.05"], &load_busybox, &|h| {
        let left = h.next_ok("run --rm", &["ps", "-aq"]);
        if !left.trim().is_empty() {
            h.leaks.push(format!("run --rm: the next command still lists {left:?}"));
        }
        h.check_resources("run --rm", "after the next command");
    });

    // run -d: whatever state it is in, rm -f removes it whole
    h.crash("run -d", &["run", "-d", "busybox", "sleep", "60"], &load_busybox, &|h| {
        for id in h.next_ok("run -d", &["ps", "-aq"]).lines() {
            h.next_ok("run -d", &["rm", "-f", id]);
        }
    });

    // rm -f of a running container: the next rm -f (if it is still there) finishes
    h.crash(
        "rm -f",
        &["rm", "-f", "victim"],
        &|h| {
            load_busybox(h);
            h.ok(&["run", "-d", "--name", "victim", "busybox", "sleep", "60"]);
        },
        &|h| {
            if h.next_ok("rm -f", &["ps", "-a", "--format", "{{.Names}}"]).lines().any(|n| n == "victim") {
                h.next_ok("rm -f", &["rm", "-f", "victim"]);
            }
        },
    );

    // rmi: the next rmi (if the image is still there) removes it; the prune sweeps the rest
    h.crash(
        "rmi",
        &["rmi", "big"],
        &|h| {
            if !has_image(h, "big") {
                h.ok(&["load", "-i", &big]);
            }
        },
        &|h| {
            h.next_ok("rmi", &["images"]);
            if has_image(h, "big") {
                h.next_ok("rmi", &["rmi", "big"]);
            }
        },
    );

    // commit: the next commit works
    h.crash(
        "commit",
        &["commit", "src", "localhost/committed:1"],
        &|h| {
            load_busybox(h);
            if h.run(&["inspect", "src"]).0 != Some(0) {
                h.ok(&["run", "--name", "src", "busybox", "sh", "-c", "head -c 300000 /dev/urandom > /data"]);
            }
        },
        &|h| {
            h.next_ok("commit", &["images"]);
            h.next_ok("commit", &["commit", "src", "localhost/committed:2"]);
        },
    );

    // pull from a local registry: the next pull completes (resuming what was downloaded)
    if tools_or_skip("killed_at_random_points_nothing_is_lost_or_leaked (pull)") {
        let regdir = temp_dir("crash-registry");
        let reg = Registry::start(regdir.path(), Flavour::Open);
        reg.seed(&fixture("big-oci"), "docker.io/library/big:latest", "crash/big:1");
        let image = format!("{}/crash/big:1", reg.host());
        h.crash("pull", &["pull", &image], &|_| {}, &|h| {
            h.next_ok("pull", &["images"]);
            h.next_ok("pull", &["pull", &image]);
        });
        drop(reg);
    }

    assert!(h.leaks.is_empty(), "{} leaks:\n{}", h.leaks.len(), h.leaks.join("\n"));
}
