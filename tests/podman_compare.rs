//! rrun's Docker-style commands beside Podman's, row by row: the same command
//! line through `podman` (Debian's, with runc, in a configuration of the
//! test's own) and `rrun` (a temporary store), both with the busybox fixture
//! loaded, comparing exit codes, stdout (IDs, times and column spacing
//! normalised) and effects (what a later command sees). Rows where rrun
//! deliberately differs say why, and compare what still must agree.
//!
//! `COMPARE_ROWS=network` runs only the rows whose description contains "network".
//!
//! Podman is installed with apt-get when missing; without it (or without
//! root) the test says SKIP (and fails in CI).

mod common;
use common::podman::{Out, Podman};
use common::*;
use std::path::{Path, PathBuf};

/// How a row's two results are compared.
enum Check {
    /// The same exit code and the same normalised stdout.
    Same,
    /// The same exit code and the same normalised stdout lines, in any order.
    SameLines,
    /// The same exit code; stdout differs on purpose (the reason).
    Code(&'static str),
    /// The same exit code, and then this command prints the same in both (the effect).
    Effect(&'static [&'static str]),
    /// As `Effect`, but the command's own output differs on purpose (the reason).
    EffectOnly(&'static [&'static str], &'static str),
    /// A comparison of its own; the reason rrun differs from Podman.
    Custom(fn(&Out, &Out) -> Result<(), String>, &'static str),
    /// The same exit code, then these files under each side's `{dir}` hold the
    /// same (a `.tar`: the same member names).
    Files(&'static [&'static str]),
}

struct Row {
    what: &'static str,
    /// Run in both before the row (each must succeed in both).
    setup: &'static [&'static [&'static str]],
    args: &'static [&'static str],
    check: Check,
}

/// One command-line tool with the fixture loaded.
trait Side {
    fn name(&self) -> &'static str;
    fn run(&self, args: &[&str]) -> Out;
    /// A directory of this side's own, `{dir}` in a row (host files: cp, save, export, cidfile).
    fn dir(&self) -> PathBuf;
    /// Removes every container and volume.
    fn clear(&self);
}

struct PodmanSide(Podman);

impl Side for PodmanSide {
    fn name(&self) -> &'static str {
        "podman"
    }
    fn run(&self, args: &[&str]) -> Out {
        self.0.run(args)
    }
    fn dir(&self) -> PathBuf {
        self.0.dir.path.join("files")
    }
    fn clear(&self) {
        let _ = self.0.run(&["rm", "-af", "-t", "0"]);
        let _ = self.0.run(&["volume", "prune", "-f"]);
        let _ = self.0.run(&["network", "prune", "-f"]);
    }
}

struct Rrun {
    root: TestRoot,
}

impl Side for Rrun {
    fn name(&self) -> &'static str {
        "rrun"
    }
    fn dir(&self) -> PathBuf {
        self.root.path.with_extension("files")
    }
    fn clear(&self) {
        for id in self.run(&["ps", "-aq"]).stdout.split_whitespace() {
            let _ = self.run(&["rm", "-f", id]);
        }
        let _ = self.run(&["volume", "prune", "-af"]);
        let _ = self.run(&["network", "prune", "-f"]);
    }
    fn run(&self, args: &[&str]) -> Out {
        let mut c = timed(60, RRUN);
        c.arg("--root").arg(&self.root.path).args(args);
        Out::of(c)
    }
}

impl Drop for Rrun {
    fn drop(&mut self) {
        self.clear();
        let _ = std::fs::remove_dir_all(self.dir());
    }
}

/// IDs, digests, times and column spacing replaced by placeholders.
fn normalise(s: &str) -> String {
    let mut out = Vec::new();
    // podman shows the fixture by its fully qualified name, docker as the user named it
    let s = s.replace("localhost/busybox:latest", "busybox").replace("docker.io/library/busybox:latest", "busybox");
    for line in s.lines() {
        let words: Vec<String> = line.split_whitespace().map(normalise_word).collect();
        let mut l = words.join(" ");
        for (from, to) in
            [("Less than a second", "<T>"), ("About a minute", "<T>"), ("About an hour", "<T>"), ("An hour", "<T>")]
        {
            l = l.replace(from, to);
        }
        // "<n> seconds" and the like
        let mut w: Vec<&str> = l.split(' ').collect();
        for i in 1..w.len() {
            if w[i - 1].parse::<u64>().is_ok() && is_unit(w[i]) {
                w[i - 1] = "<T>";
                w[i] = "";
            }
        }
        out.push(w.into_iter().filter(|x| !x.is_empty()).collect::<Vec<_>>().join(" "));
    }
    out.join("\n")
}

fn is_unit(w: &str) -> bool {
    let w = w.trim_end_matches('s');
    ["second", "minute", "hour", "day", "week", "month", "year"].contains(&w)
}

fn normalise_word(w: &str) -> String {
    let hex = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
    let core = w.trim_matches(|c: char| c == '"' || c == ',' || c == '(' || c == ')');
    let bare = core.strip_prefix("sha256:").unwrap_or(core);
    if (bare.len() == 64 || bare.len() == 12) && hex(bare) {
        return w.replace(core, "<ID>");
    }
    if chrono::DateTime::parse_from_rfc3339(core).is_ok() {
        return w.replace(core, "<TIME>");
    }
    w.to_string()
}

fn compare(row: &Row, p: &Out, r: &Out) -> Result<(), String> {
    let same_code = || {
        if p.code == r.code {
            Ok(())
        } else {
            Err(format!("exit codes differ: podman {:?}, rrun {:?}", p.code, r.code))
        }
    };
    match &row.check {
        Check::Same | Check::Effect(_) => {
            same_code()?;
            let (a, b) = (normalise(&p.stdout), normalise(&r.stdout));
            if a != b {
                return Err(format!("stdout differs:\n--- podman\n{a}\n--- rrun\n{b}"));
            }
            Ok(())
        }
        Check::SameLines => {
            same_code()?;
            let sorted = |s: &str| {
                let mut v: Vec<String> = normalise(s).lines().map(String::from).collect();
                v.sort();
                v
            };
            let (a, b) = (sorted(&p.stdout), sorted(&r.stdout));
            if a != b {
                return Err(format!("stdout lines differ:\n--- podman\n{a:?}\n--- rrun\n{b:?}"));
            }
            Ok(())
        }
        Check::Files(_) | Check::EffectOnly(..) => same_code(),
        Check::Code(why) => same_code().map_err(|e| format!("{e} (stdout is not compared: {why})")),
        Check::Custom(f, why) => f(p, r).map_err(|e| format!("{e} (compared so because {why})")),
    }
}

/// Does the row make containers or volumes (so both sides are emptied after it)?
fn leaves_things(row: &Row) -> bool {
    let makes = |a: &[&str]| matches!(a.first(), Some(&"run") | Some(&"create") | Some(&"volume") | Some(&"network"));
    makes(row.args) || row.setup.iter().any(|s| makes(s))
}

/// The row's arguments for one side: `{img}` the fixture, `{dir}` the side's directory.
fn substitute(args: &[&str], dir: &Path) -> Vec<String> {
    args.iter().map(|a| a.replace("{img}", "busybox").replace("{dir}", dir.to_str().unwrap())).collect()
}

/// What a file under `{dir}` holds, for comparison: a tar's sorted member names, else its text.
fn file_view(path: &Path) -> Result<String, String> {
    if path.extension().is_some_and(|e| e == "tar") {
        let out = std::process::Command::new("tar").arg("-tf").arg(path).output().map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!("tar -tf {}: {}", path.display(), String::from_utf8_lossy(&out.stderr)));
        }
        let mut names: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.trim_start_matches("./").trim_end_matches('/').to_string())
            .filter(|l| !l.is_empty() && l != ".")
            .collect();
        names.sort();
        return Ok(names.join("\n"));
    }
    std::fs::read_to_string(path).map(|t| normalise(&t)).map_err(|e| format!("{}: {e}", path.display()))
}

// ---------------------------------------------------------------- the rows

/// `ps`' COMMAND column: docker quotes the command (rrun does), podman does not.
fn same_but_quoted_command(p: &Out, r: &Out) -> Result<(), String> {
    if p.code != r.code {
        return Err(format!("exit codes differ: podman {:?}, rrun {:?}", p.code, r.code));
    }
    let strip = |s: &str| normalise(s).replace('"', "");
    if strip(&p.stdout) != strip(&r.stdout) {
        return Err(format!("differ:\n--- podman\n{}\n--- rrun\n{}", normalise(&p.stdout), normalise(&r.stdout)));
    }
    Ok(())
}

/// Both failed, rrun with 125 (its own error, as the README documents), and both named the container.
fn both_fail_rrun_125(p: &Out, r: &Out) -> Result<(), String> {
    if p.code == Some(0) || r.code != Some(125) {
        return Err(format!("podman {:?}, rrun {:?} (wanted rrun 125): {}", p.code, r.code, r.stderr));
    }
    if !r.stderr.contains("nosuch") {
        return Err(format!("rrun's error does not name the container: {}", r.stderr));
    }
    Ok(())
}

#[rustfmt::skip]
const ROWS: &[Row] = &[
    // ---- run: output, exit codes, arguments
    Row { what: "run echo", setup: &[], args: &["run", "--rm", "{img}", "echo", "hello"], check: Check::Same },
    Row { what: "run exit code", setup: &[], args: &["run", "--rm", "{img}", "sh", "-c", "exit 3"], check: Check::Same },
    Row { what: "run missing command", setup: &[], args: &["run", "--rm", "{img}", "nosuchcmd"], check: Check::Code("the error text is each runtime's own") },
    Row { what: "run not executable", setup: &[], args: &["run", "--rm", "{img}", "/etc/passwd"], check: Check::Code("the error text is each runtime's own") },
    Row { what: "run flag-like args", setup: &[], args: &["run", "--rm", "{img}", "ls", "-a", "/"], check: Check::SameLines },
    Row { what: "run args after image", setup: &[], args: &["run", "--rm", "{img}", "echo", "--rm", "-p", "8080", "--bundle"], check: Check::Same },
    Row { what: "run --entrypoint", setup: &[], args: &["run", "--rm", "--entrypoint", "echo", "{img}", "a", "b"], check: Check::Same },
    Row { what: "run -e", setup: &[], args: &["run", "--rm", "-e", "FOO=bar", "{img}", "sh", "-c", "echo $FOO"], check: Check::Same },
    Row { what: "run -w", setup: &[], args: &["run", "--rm", "-w", "/tmp", "{img}", "pwd"], check: Check::Same },
    Row { what: "run -w missing dir", setup: &[], args: &["run", "--rm", "-w", "/made/here", "{img}", "pwd"], check: Check::Custom(workdir_made, "docker makes a missing working directory; podman 4.3 refuses it (126)") },
    Row { what: "run -u uid:gid", setup: &[], args: &["run", "--rm", "-u", "1000:1000", "{img}", "id"], check: Check::Custom(same_uid_gid, "podman adds the primary group as a supplementary one; docker and runc, with an explicit group, add none") },
    Row { what: "run -u name", setup: &[], args: &["run", "--rm", "-u", "nobody", "{img}", "id", "-un"], check: Check::Same },
    Row { what: "run -u unknown", setup: &[], args: &["run", "--rm", "-u", "nosuchuser", "{img}", "id"], check: Check::Custom(both_fail, "podman ends with 126 (its runtime failed), rrun with 125: it refuses before any runtime step") },
    Row { what: "run --hostname", setup: &[], args: &["run", "--rm", "--hostname", "box1", "{img}", "hostname"], check: Check::Same },
    Row { what: "run --read-only", setup: &[], args: &["run", "--rm", "--read-only", "{img}", "sh", "-c", "touch /x 2>/dev/null; echo $?"], check: Check::Same },
    Row { what: "run --tmpfs", setup: &[], args: &[ "run", "--rm", "--read-only", "--tmpfs", "/scratch", "{img}", "sh", "-c", "touch /scratch/x && echo ok", ], check: Check::Same },
    Row { what: "run -v bind ro", setup: &[], args: &[ "run", "--rm", "-v", "/etc:/hostetc:ro", "{img}", "sh", "-c", "test -f /hostetc/hostname && touch /hostetc/x 2>/dev/null; echo $?", ], check: Check::Same },
    Row { what: "run --cap-drop", setup: &[], args: &["run", "--rm", "--cap-drop", "CHOWN", "{img}", "sh", "-c", "chown 1 /tmp 2>/dev/null; echo $?"], check: Check::Same },
    Row { what: "run --cap-add", setup: &[], args: &["run", "--rm", "--cap-add", "NET_ADMIN", "{img}", "sh", "-c", "grep CapEff /proc/self/status"], check: Check::Same },
    Row { what: "run default caps", setup: &[], args: &["run", "--rm", "{img}", "sh", "-c", "grep -E 'Cap(Eff|Bnd)' /proc/self/status"], check: Check::Same },
    Row { what: "run --privileged caps", setup: &[], args: &[ "run", "--rm", "--privileged", "{img}", "sh", "-c", "grep -c . /proc/self/status >/dev/null; grep CapBnd /proc/self/status", ], check: Check::Same },
    Row { what: "run seccomp filter on", setup: &[], args: &["run", "--rm", "{img}", "sh", "-c", "grep Seccomp: /proc/self/status"], check: Check::Same },
    Row { what: "run seccomp=unconfined", setup: &[], args: &[ "run", "--rm", "--security-opt", "seccomp=unconfined", "{img}", "sh", "-c", "grep Seccomp: /proc/self/status", ], check: Check::Same },
    Row { what: "run pid 1", setup: &[], args: &["run", "--rm", "{img}", "sh", "-c", "echo $$"], check: Check::Same },
    Row { what: "run masked paths", setup: &[], args: &["run", "--rm", "{img}", "sh", "-c", "wc -c < /proc/kcore; touch /proc/sys/x 2>/dev/null; echo $?"], check: Check::Same },
    Row { what: "run --memory", setup: &[], args: &[ "run", "--rm", "--memory", "64m", "{img}", "sh", "-c", "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max", ], check: Check::Same },
    Row { what: "run --pids-limit", setup: &[], args: &[ "run", "--rm", "--pids-limit", "50", "{img}", "sh", "-c", "cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max", ], check: Check::Same },
    Row { what: "run --cpus", setup: &[], args: &[ "run", "--rm", "--cpus", "0.5", "{img}", "sh", "-c", "cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us", ], check: Check::Same },
    Row { what: "run --cpuset-cpus", setup: &[], args: &["run", "--rm", "--cpuset-cpus", "0", "{img}", "sh", "-c", "cat /sys/fs/cgroup/cpuset/cpuset.cpus"], check: Check::Same },
    Row { what: "run --network none", setup: &[], args: &["run", "--rm", "--network", "none", "{img}", "sh", "-c", "ls /sys/class/net"], check: Check::Same },
    Row { what: "run -i stdin closed", setup: &[], args: &["run", "--rm", "-i", "{img}", "cat"], check: Check::Same },
    Row { what: "run --name in use", setup: &[&["create", "--name", "dup", "{img}", "true"]], args: &["run", "--name", "dup", "{img}", "true"], check: Check::Code("the error text is each runtime's own") },
    Row { what: "run bad --memory", setup: &[], args: &["run", "--rm", "--memory", "lots", "{img}", "true"], check: Check::Code("the error text is each runtime's own") },
    Row { what: "run unknown flag", setup: &[], args: &["run", "--rm", "--no-such-flag", "{img}", "true"], check: Check::Code("clap's and cobra's usage errors differ in wording") },
    Row { what: "run --rm leaves nothing", setup: &[], args: &["run", "--rm", "--name", "gone", "{img}", "true"], check: Check::Effect(&["ps", "-a", "--format", "{{.Names}}"]) },
    // ---- detached containers
    Row { what: "run -d then ps names", setup: &[&["run", "-d", "--name", "d1", "{img}", "sleep", "60"]], args: &["ps", "--format", "{{.Names}} {{.Image}}"], check: Check::Same },
    Row { what: "exec", setup: &[&["run", "-d", "--name", "e1", "{img}", "sleep", "60"]], args: &["exec", "e1", "sh", "-c", "echo $$ >/dev/null; cat /proc/1/cmdline | tr '\\0' ' '"], check: Check::Same },
    Row { what: "exec ps -a", setup: &[&["run", "-d", "--name", "e2", "{img}", "sleep", "60"]], args: &["exec", "e2", "ps", "-o", "comm"], check: Check::SameLines },
    Row { what: "exec exit code", setup: &[&["run", "-d", "--name", "e3", "{img}", "sleep", "60"]], args: &["exec", "e3", "sh", "-c", "exit 4"], check: Check::Same },
    Row { what: "exec -e -u -w", setup: &[&["run", "-d", "--name", "e4", "{img}", "sleep", "60"]], args: &["exec", "-e", "A=1", "-u", "nobody", "-w", "/tmp", "e4", "sh", "-c", "echo $A $(id -un) $(pwd)"], check: Check::Same },
    Row { what: "exec missing command", setup: &[&["run", "-d", "--name", "e5", "{img}", "sleep", "60"]], args: &["exec", "e5", "nosuchcmd"], check: Check::Code("the error text is each runtime's own") },
    Row { what: "exec stopped", setup: &[&["create", "--name", "e6", "{img}", "true"]], args: &["exec", "e6", "true"], check: Check::Custom(both_fail, "podman exits 255 (its exec session failed), rrun 125 like every own error") },
    Row { what: "logs", setup: &[&["run", "--name", "l1", "{img}", "sh", "-c", "echo one; echo two"]], args: &["logs", "l1"], check: Check::Same },
    Row { what: "logs --tail", setup: &[&["run", "--name", "l2", "{img}", "sh", "-c", "echo one; echo two; echo three"]], args: &["logs", "--tail", "2", "l2"], check: Check::Same },
    Row { what: "logs stderr", setup: &[&["run", "--name", "l3", "{img}", "sh", "-c", "echo out; echo err >&2"]], args: &["logs", "l3"], check: Check::Same },
    Row { what: "stop", setup: &[&["run", "-d", "--name", "s1", "{img}", "sleep", "60"]], args: &["stop", "-t", "1", "s1"], check: Check::Effect(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]) },
    Row { what: "kill", setup: &[&["run", "-d", "--name", "k1", "{img}", "sleep", "60"]], args: &["kill", "k1"], check: Check::Effect(&["inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", "k1"]) },
    Row { what: "kill -s", setup: &[&["run", "-d", "--name", "k2", "{img}", "sleep", "60"]], args: &["kill", "-s", "TERM", "k2"], check: Check::Effect(&["inspect", "--format", "{{.State.Status}}", "k2"]) },
    Row { what: "pause", setup: &[&["run", "-d", "--name", "p1", "{img}", "sleep", "60"]], args: &["pause", "p1"], check: Check::Effect(&["inspect", "--format", "{{.State.Status}} {{.State.Paused}}", "p1"]) },
    Row { what: "unpause", setup: &[&["run", "-d", "--name", "p2", "{img}", "sleep", "60"], &["pause", "p2"]], args: &["unpause", "p2"], check: Check::Effect(&["inspect", "--format", "{{.State.Status}} {{.State.Paused}}", "p2"]) },
    Row { what: "rm running refused", setup: &[&["run", "-d", "--name", "r1", "{img}", "sleep", "60"]], args: &["rm", "r1"], check: Check::Custom(both_fail_running, "podman's exit code for a running container is 2, rrun's 125") },
    Row { what: "rm -f", setup: &[&["run", "-d", "--name", "r2", "{img}", "sleep", "60"]], args: &["rm", "-f", "r2"], check: Check::Effect(&["ps", "-a", "--format", "{{.Names}}"]) },
    Row { what: "start created", setup: &[&["create", "--name", "c1", "{img}", "sh", "-c", "echo started"]], args: &["start", "c1"], check: Check::Effect(&["wait", "c1"]) },
    Row { what: "start -a", setup: &[&["create", "--name", "c2", "{img}", "sh", "-c", "echo attached; exit 2"]], args: &["start", "-a", "c2"], check: Check::Same },
    Row { what: "ps -a after exit", setup: &[&["run", "--name", "x1", "{img}", "sh", "-c", "exit 7"]], args: &["ps", "-a", "--format", "{{.Names}} {{.Status}}"], check: Check::Same },
    Row { what: "ps -a table", setup: &[&["run", "--name", "x2", "{img}", "echo", "hi"]], args: &["ps", "-a"], check: Check::Custom(same_but_quoted_command, "docker quotes the COMMAND column; podman does not") },
    Row { what: "ps -q", setup: &[&["run", "-d", "--name", "q1", "{img}", "sleep", "60"]], args: &["ps", "-q"], check: Check::Same },
    Row { what: "ps --filter status", setup: &[&["run", "--name", "f1", "{img}", "true"], &["run", "-d", "--name", "f2", "{img}", "sleep", "60"]], args: &["ps", "-a", "--filter", "status=exited", "--format", "{{.Names}}"], check: Check::Same },
    Row { what: "ps --filter name", setup: &[&["run", "--name", "fa", "{img}", "true"], &["run", "--name", "fb", "{img}", "true"]], args: &["ps", "-a", "--filter", "name=fa", "--format", "{{.Names}}"], check: Check::Same },
    Row { what: "ps --filter exited", setup: &[&["run", "--name", "g1", "{img}", "sh", "-c", "exit 1"], &["run", "--name", "g0", "{img}", "true"]], args: &["ps", "-a", "--filter", "exited=1", "--format", "{{.Names}}"], check: Check::Same },
    Row { what: "ps --filter ancestor", setup: &[&["run", "--name", "an", "{img}", "true"]], args: &["ps", "-a", "--filter", "ancestor=82da2c2fc7cb981377788e82c956122bbe4da01d69e0a411e8e7535325c0c506", "--format", "{{.Names}}"], check: Check::Same },
    Row { what: "ps --no-trunc -q", setup: &[&["run", "-d", "--name", "nt", "{img}", "sleep", "60"]], args: &["ps", "-q", "--no-trunc"], check: Check::Same },
    Row { what: "ps -n", setup: &[&["run", "--name", "n1", "{img}", "true"], &["run", "--name", "n2", "{img}", "true"]], args: &["ps", "-n", "1", "--format", "{{.Names}}"], check: Check::Same },
    Row { what: "ps --format json parses", setup: &[&["run", "--name", "j1", "{img}", "true"]], args: &["ps", "-a", "--format", "json"], check: Check::Custom(both_json_arrays_of_one, "each prints its own JSON shape (podman's and rrun's records)") },
    Row { what: "inspect template", setup: &[&["run", "--name", "i1", "{img}", "sh", "-c", "exit 5"]], args: &["inspect", "--format", "{{.State.Status}} {{.State.ExitCode}} {{.Name}}", "i1"], check: Check::Custom(same_but_slash_name, "docker's .Name starts with '/', podman's does not") },
    Row { what: "images -q", setup: &[], args: &["images", "-q"], check: Check::Same },
    Row { what: "rmi in use refused", setup: &[&["create", "--name", "u1", "{img}", "true"]], args: &["rmi", "{img}"], check: Check::Custom(both_fail, "exit codes differ (podman 2, rrun 125)") },
    // ---- lifecycle verbs
    Row { what: "create then start -a", setup: &[&["create", "--name", "cs", "{img}", "sh", "-c", "echo created; exit 4"]], args: &["start", "-a", "cs"], check: Check::Same },
    Row { what: "create state", setup: &[&["create", "--name", "cst", "{img}", "true"]], args: &["ps", "-a", "--format", "{{.Names}} {{.Status}}"], check: Check::Same },
    Row { what: "wait", setup: &[&["run", "-d", "--name", "w1", "{img}", "sh", "-c", "sleep 0.3; exit 6"]], args: &["wait", "w1"], check: Check::Same },
    Row { what: "restart", setup: &[&["run", "-d", "--name", "rs", "{img}", "sleep", "60"]], args: &["restart", "-t", "1", "rs"], check: Check::Effect(&["ps", "--format", "{{.Names}}"]) },
    Row { what: "rename", setup: &[&["run", "-d", "--name", "old", "{img}", "sleep", "60"]], args: &["rename", "old", "new"], check: Check::Effect(&["ps", "--format", "{{.Names}}"]) },
    Row { what: "rename to a taken name", setup: &[&["create", "--name", "ra", "{img}", "true"], &["create", "--name", "rb", "{img}", "true"]], args: &["rename", "ra", "rb"], check: Check::Custom(both_fail, "the error text is each runtime's own") },
    Row { what: "top", setup: &[&["run", "-d", "--name", "tp", "{img}", "sleep", "60"]], args: &["top", "tp"], check: Check::Custom(top_lists_the_command, "podman's columns are its own (USER PID PPID %CPU ELAPSED…), docker's are ps -ef's (UID PID PPID C STIME…)") },
    Row { what: "port without published ports", setup: &[&["run", "-d", "--name", "pt", "{img}", "sleep", "60"]], args: &["port", "pt"], check: Check::Same },
    Row { what: "update --memory", setup: &[&["run", "-d", "--name", "up", "--memory", "64m", "{img}", "sleep", "60"]], args: &["update", "--memory", "128m", "--memory-swap", "256m", "up"], check: Check::EffectOnly(&["exec", "up", "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes"], "docker prints the names given (rrun too), podman the IDs") },
    Row { what: "stats --no-stream", setup: &[&["run", "-d", "--name", "st", "{img}", "sleep", "60"]], args: &["stats", "--no-stream", "--format", "{{.Name}}", "st"], check: Check::Same },
    Row { what: "healthcheck", setup: &[&["run", "-d", "--name", "hc", "--health-cmd", "test -e /etc/passwd", "{img}", "sleep", "60"]], args: &["healthcheck", "run", "hc"], check: Check::Same },
    Row { what: "logs of a foreground run", setup: &[&["run", "--name", "fg", "{img}", "echo", "in the log"]], args: &["logs", "fg"], check: Check::Same },
    Row { what: "run -a stdout", setup: &[], args: &["run", "--rm", "-a", "stdout", "{img}", "sh", "-c", "echo out; echo err >&2"], check: Check::Same },
    Row { what: "--log-driver none", setup: &[&["run", "--name", "nl", "--log-driver", "none", "{img}", "echo", "x"]], args: &["logs", "nl"], check: Check::Custom(both_fail, "the error text is each runtime's own") },
    // ---- run flags
    Row { what: "no_new_privs off by default", setup: &[], args: &["run", "--rm", "{img}", "sh", "-c", "grep NoNewPrivs /proc/self/status"], check: Check::Same },
    Row { what: "--security-opt no-new-privileges", setup: &[], args: &["run", "--rm", "--security-opt", "no-new-privileges", "{img}", "sh", "-c", "grep NoNewPrivs /proc/self/status"], check: Check::Same },
    Row { what: "--network none has lo up", setup: &[], args: &["run", "--rm", "--network", "none", "{img}", "sh", "-c", "cat /sys/class/net/lo/operstate; cat /sys/class/net/lo/flags"], check: Check::Same },
    Row { what: "--ulimit", setup: &[], args: &["run", "--rm", "--ulimit", "nofile=512:1024", "--ulimit", "nproc=100:200", "{img}", "sh", "-c", "ulimit -n; ulimit -Hn; ulimit -u"], check: Check::Same },
    Row { what: "--shm-size", setup: &[], args: &["run", "--rm", "--shm-size", "8m", "{img}", "sh", "-c", "df -k /dev/shm | tail -1 | awk '{print $2}'"], check: Check::Same },
    Row { what: "--sysctl", setup: &[], args: &["run", "--rm", "--sysctl", "kernel.msgmax=9000", "{img}", "cat", "/proc/sys/kernel/msgmax"], check: Check::Same },
    Row { what: "--group-add", setup: &[], args: &["run", "--rm", "--group-add", "staff", "--group-add", "1234", "{img}", "id", "-G"], check: Check::Same },
    Row { what: "--stop-signal", setup: &[&["run", "-d", "--name", "ss", "--stop-signal", "SIGUSR1", "{img}", "sleep", "60"]], args: &["inspect", "--format", "{{.Config.StopSignal}}", "ss"], check: Check::Custom(same_word_or_signal_number, "podman shows the number, docker and rrun the name") },
    Row { what: "--stop-timeout", setup: &[&["create", "--name", "sto", "--stop-timeout", "3", "{img}", "true"]], args: &["inspect", "--format", "{{.Config.StopTimeout}}", "sto"], check: Check::Same },
    Row { what: "--pid host", setup: &[], args: &["run", "--rm", "--pid", "host", "{img}", "sh", "-c", "test -e /proc/1/comm && cat /proc/1/comm | grep -vc sh"], check: Check::Same },
    Row { what: "--ipc host", setup: &[], args: &["run", "--rm", "--ipc", "host", "{img}", "sh", "-c", "readlink /proc/self/ns/ipc"], check: Check::Custom(ipc_is_the_hosts, "the namespace's inode is the host's in both") },
    Row { what: "--uts host", setup: &[], args: &["run", "--rm", "--uts", "host", "{img}", "hostname"], check: Check::Same },
    Row { what: "--pid container:", setup: &[&["run", "-d", "--name", "pidsrc", "{img}", "sleep", "60"]], args: &["run", "--rm", "--pid", "container:pidsrc", "{img}", "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '"], check: Check::Same },
    Row { what: "--label and --filter label", setup: &[&["create", "--name", "lb", "--label", "tier=web", "{img}", "true"], &["create", "--name", "nolb", "{img}", "true"]], args: &["ps", "-a", "--filter", "label=tier=web", "--format", "{{.Names}}"], check: Check::Same },
    Row { what: "--label in inspect", setup: &[&["create", "--name", "li", "--label", "tier=db", "{img}", "true"]], args: &["inspect", "--format", "{{index .Config.Labels \"tier\"}}", "li"], check: Check::Same },
    Row { what: "--annotation", setup: &[&["create", "--name", "an1", "--annotation", "org.example/key=v1", "{img}", "true"]], args: &["inspect", "--format", "{{index .HostConfig.Annotations \"org.example/key\"}}", "an1"], check: Check::Custom(annotation_where_docker_has_it, "docker keeps annotations in HostConfig.Annotations (rrun too); podman in Config.Annotations") },
    Row { what: "--oom-score-adj", setup: &[], args: &["run", "--rm", "--oom-score-adj", "500", "{img}", "cat", "/proc/self/oom_score_adj"], check: Check::Same },
    Row { what: "--memory-reservation", setup: &[], args: &["run", "--rm", "--memory", "64m", "--memory-reservation", "32m", "{img}", "cat", "/sys/fs/cgroup/memory/memory.soft_limit_in_bytes"], check: Check::Same },
    Row { what: "--memory-swap", setup: &[], args: &["run", "--rm", "--memory", "64m", "--memory-swap", "128m", "{img}", "cat", "/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes"], check: Check::Same },
    Row { what: "--cpu-shares", setup: &[], args: &["run", "--rm", "--cpu-shares", "512", "{img}", "cat", "/sys/fs/cgroup/cpu/cpu.shares"], check: Check::Same },
    Row { what: "--cidfile", setup: &[], args: &["run", "--rm", "--cidfile", "{dir}/cid", "{img}", "true"], check: Check::Custom(both_ok, "the file holds each container's own ID; both write one (checked in tests/run_flags.rs)") },
    Row { what: "--mount type=tmpfs", setup: &[], args: &["run", "--rm", "--mount", "type=tmpfs,target=/scratch,tmpfs-size=1m", "{img}", "sh", "-c", "grep /scratch /proc/mounts | cut -d' ' -f1,2,3"], check: Check::Same },
    Row { what: "--mount type=bind ro", setup: &[], args: &["run", "--rm", "--mount", "type=bind,source=/etc,target=/h,readonly", "{img}", "sh", "-c", "touch /h/x 2>/dev/null; echo $?"], check: Check::Same },
    Row { what: "-v named volume", setup: &[&["run", "--rm", "-v", "data1:/data", "{img}", "sh", "-c", "echo kept > /data/f"]], args: &["run", "--rm", "-v", "data1:/data", "{img}", "cat", "/data/f"], check: Check::Same },
    Row { what: "volume copy-up", setup: &[], args: &["run", "--rm", "-v", "etcvol:/etc", "{img}", "sh", "-c", "ls /etc | head -3"], check: Check::Same },
    Row { what: "--mount type=volume", setup: &[], args: &["run", "--rm", "--mount", "type=volume,source=mv1,target=/m", "{img}", "sh", "-c", "grep -c ' /m ' /proc/mounts"], check: Check::Same },
    // ---- networks (both through netavark: Podman's default network and rrun's are bridges)
    Row { what: "default network: an address and a route", setup: &[], args: &["run", "--rm", "{img}", "sh", "-c", "ls /sys/class/net; ip route | grep -c '^default via'"], check: Check::SameLines },
    Row { what: "run -p picks a host port, port reports it", setup: &[&["run", "-d", "--name", "pp", "-p", "127.0.0.1::80", "{img}", "sleep", "60"]], args: &["port", "pp"], check: Check::Custom(same_port_shape, "each picks its own free host port") },
    Row { what: "run -p on --network none", setup: &[], args: &["run", "--rm", "--network", "none", "-p", "8080:80", "{img}", "true"], check: Check::Custom(podman_drops_ports_docker_refuses, "Docker refuses (125, conflicting options), as rrun does; podman 4.3 drops the ports with a warning") },
    Row { what: "run -P publishes --expose", setup: &[&["run", "-d", "--name", "pex", "--expose", "8000", "-P", "{img}", "sleep", "60"]], args: &["port", "pex"], check: Check::Custom(same_exposed_port_shape, "each picks its own free host port") },
    Row { what: "ps PORTS", setup: &[&["run", "-d", "--name", "pps", "-p", "127.0.0.1::80", "{img}", "sleep", "60"]], args: &["ps", "--filter", "name=pps", "--format", "{{.Ports}}"], check: Check::Custom(same_ports_column, "each picks its own free host port") },
    Row { what: "inspect NetworkSettings", setup: &[&["run", "-d", "--name", "nset", "{img}", "sleep", "60"]], args: &["inspect", "--format", "{{json .NetworkSettings}}", "nset"], check: Check::Custom(network_settings_alike, "the default networks differ by name and subnet: podman's is podman (10.88.0.0/16), rrun's bridge (10.87.0.0/16), as Docker's is bridge") },
    Row { what: "hostname is the short ID", setup: &[], args: &["run", "--rm", "{img}", "hostname"], check: Check::Same },
    Row { what: "own name in /etc/hosts is its address", setup: &[], args: &["run", "--rm", "--hostname", "h2", "{img}", "sh", "-c", r#"[ "$(hostname -i)" = "$(ip -4 -o addr show eth0 | sed 's/.*inet \([0-9.]*\).*/\1/')" ] && echo same"#], check: Check::Same },
    Row { what: "--dns-search and --dns-option", setup: &[], args: &["run", "--rm", "--dns-search", "corp.example", "--dns-option", "ndots:2", "{img}", "sh", "-c", "grep -E '^(search|options)' /etc/resolv.conf"], check: Check::Same },
    // -w: a random container ID in the hosts file may hold "db" (e.g. 3fdb…)
    Row { what: "--add-host", setup: &[], args: &["run", "--rm", "--add-host", "db:10.0.0.5", "{img}", "grep", "-w", "db", "/etc/hosts"], check: Check::Same },
    Row { what: "--dns", setup: &[], args: &["run", "--rm", "--dns", "10.0.0.9", "{img}", "grep", "nameserver", "/etc/resolv.conf"], check: Check::Same },
    Row { what: "--hostname in /etc/hosts", setup: &[], args: &["run", "--rm", "--hostname", "h1", "{img}", "sh", "-c", "grep -c h1 /etc/hosts"], check: Check::Same },
    Row { what: "network create", setup: &[], args: &["network", "create", "nc1"], check: Check::EffectOnly(&["network", "ls", "--filter", "name=nc1", "--format", "{{.Name}} {{.Driver}}"], "docker and rrun print the new network's ID, podman its name") },
    Row { what: "names resolve on a user network", setup: &[&["network", "create", "dn1"], &["run", "-d", "--name", "dnweb", "--network", "dn1", "{img}", "sh", "-c", "mkdir /www && echo by-name > /www/index.html && exec httpd -f -p 80 -h /www"]], args: &["run", "--rm", "--network", "dn1", "{img}", "sh", "-c", "for i in $(seq 50); do wget -qO- http://dnweb/ 2>/dev/null && break; sleep 0.1; done"], check: Check::Same },
    Row { what: "--network container:", setup: &[&["run", "-d", "--name", "netsrc", "--hostname", "srchost", "{img}", "sleep", "60"]], args: &["run", "--rm", "--network", "container:netsrc", "{img}", "sh", "-c", "ls /sys/class/net"], check: Check::SameLines },
    Row { what: "network rm in use", setup: &[&["network", "create", "nr1"], &["create", "--name", "nru", "--network", "nr1", "{img}", "true"]], args: &["network", "rm", "nr1"], check: Check::Custom(both_fail, "podman exits 2, rrun 125") },
    Row { what: "network rm", setup: &[&["network", "create", "nr2"]], args: &["network", "rm", "nr2"], check: Check::EffectOnly(&["network", "ls", "--filter", "name=nr2", "-q"], "each prints the name given") },
    Row { what: "network connect", setup: &[&["network", "create", "cn1"], &["run", "-d", "--name", "cnc", "{img}", "sleep", "60"]], args: &["network", "connect", "cn1", "cnc"], check: Check::Effect(&["exec", "cnc", "ls", "/sys/class/net"]) },
    Row { what: "network disconnect", setup: &[&["network", "create", "dc1"], &["network", "create", "dc2"], &["run", "-d", "--name", "dcc", "--network", "dc1", "{img}", "sleep", "60"], &["network", "connect", "dc2", "dcc"]], args: &["network", "disconnect", "dc2", "dcc"], check: Check::Effect(&["exec", "dcc", "ls", "/sys/class/net"]) },
    Row { what: "--network-alias resolves", setup: &[&["network", "create", "al1"], &["run", "-d", "--name", "alsrv", "--network", "al1", "--network-alias", "db", "{img}", "sh", "-c", "mkdir /www && echo by-alias > /www/index.html && exec httpd -f -p 80 -h /www"]], args: &["run", "--rm", "--network", "al1", "{img}", "sh", "-c", "for i in $(seq 50); do wget -qO- http://db/ 2>/dev/null && break; sleep 0.1; done"], check: Check::Same },
    Row { what: "network create --internal", setup: &[&["network", "create", "--internal", "in1"]], args: &["network", "inspect", "--format", "{{.Name}} {{.Driver}} {{.Internal}}", "in1"], check: Check::Same },
    Row { what: "--internal: no default route", setup: &[&["network", "create", "--internal", "in2"]], args: &["run", "--rm", "--network", "in2", "{img}", "sh", "-c", "ip route | grep -c default"], check: Check::Same },
    Row { what: "network inspect", setup: &[&["network", "create", "ni2"]], args: &["network", "inspect", "ni2"], check: Check::Custom(both_json_arrays_of_one, "podman 4.3 has its own field names (name, subnets), rrun Docker's (Name, IPAM)") },
    Row { what: "network ls", setup: &[], args: &["network", "ls"], check: Check::Custom(network_ls_table, "podman's default network is podman, Docker's and rrun's bridge (with host and none); Docker and rrun add SCOPE") },
    Row { what: "network prune", setup: &[&["network", "create", "np1"]], args: &["network", "prune", "-f"], check: Check::EffectOnly(&["network", "ls", "--filter", "name=np1", "-q"], "Docker and rrun print Deleted Networks: first") },
    // ---- volumes
    Row { what: "volume create", setup: &[], args: &["volume", "create", "vc1"], check: Check::Effect(&["volume", "ls", "--format", "{{.Name}} {{.Driver}}"]) },
    Row { what: "volume inspect", setup: &[&["volume", "create", "vi1"]], args: &["volume", "inspect", "--format", "{{.Name}} {{.Driver}} {{.Scope}}", "vi1"], check: Check::Same },
    Row { what: "volume rm", setup: &[&["volume", "create", "vr1"]], args: &["volume", "rm", "vr1"], check: Check::Effect(&["volume", "ls", "-q"]) },
    Row { what: "volume rm in use", setup: &[&["create", "--name", "vu", "-v", "vu1:/x", "{img}", "true"]], args: &["volume", "rm", "vu1"], check: Check::Custom(both_fail, "podman exits 2, rrun 125") },
    Row { what: "volume ls --filter", setup: &[&["volume", "create", "--label", "k=v", "vf1"], &["volume", "create", "vf2"]], args: &["volume", "ls", "--filter", "label=k=v", "--format", "{{.Name}}"], check: Check::Same },
    // ---- images
    Row { what: "images --format", setup: &[], args: &["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"], check: Check::Same },
    Row { what: "image ls -q", setup: &[], args: &["image", "ls", "-q"], check: Check::Same },
    Row { what: "image inspect -f", setup: &[], args: &["image", "inspect", "-f", "{{.Config.Cmd}} {{.Os}} {{.Architecture}}", "{img}"], check: Check::Same },
    Row { what: "inspect --type image", setup: &[], args: &["inspect", "--type", "image", "--format", "{{.Id}}", "{img}"], check: Check::Custom(same_id_hex, "podman prints the bare hex ID, docker and rrun sha256:HEX") },
    Row { what: "history", setup: &[], args: &["history", "--format", "{{.CreatedBy}}", "{img}"], check: Check::Same },
    Row { what: "history -q", setup: &[], args: &["history", "-q", "{img}"], check: Check::Same },
    Row { what: "save docker-archive", setup: &[], args: &["save", "-o", "{dir}/img.tar", "{img}"], check: Check::Files(&[]) },
    Row { what: "save then load", setup: &[&["save", "-o", "{dir}/img.tar", "{img}"]], args: &["load", "-i", "{dir}/img.tar"], check: Check::Custom(both_loaded, "each prints the name as it stores it") },
    Row { what: "image prune -f", setup: &[], args: &["image", "prune", "-f"], check: Check::EffectOnly(&["images", "-q"], "docker prints 'Total reclaimed space: 0B' (rrun too), podman nothing") },
    Row { what: "tag", setup: &[], args: &["tag", "{img}", "localhost/other:1"], check: Check::Effect(&["images", "--format", "{{.Tag}}"]) },
    Row { what: "rmi by tag", setup: &[], args: &["rmi", "localhost/other:1"], check: Check::Effect(&["images", "--format", "{{.Repository}}:{{.Tag}}"]) },
    Row { what: "rmi a tag", setup: &[&["tag", "{img}", "localhost/gone:1"]], args: &["rmi", "localhost/gone:1"], check: Check::Effect(&["images", "-q", "--filter", "reference=localhost/gone"]) },
    // ---- container filesystems
    Row { what: "diff", setup: &[&["run", "--name", "df1", "{img}", "sh", "-c", "echo x > /tmp/new; rm /etc/group; echo y >> /etc/passwd"]], args: &["diff", "df1"], check: Check::SameLines },
    Row { what: "cp out of a container", setup: &[&["run", "--name", "cp1", "{img}", "sh", "-c", "mkdir /d; echo one > /d/a; echo two > /d/b"]], args: &["cp", "cp1:/d", "{dir}/d"], check: Check::Files(&["d/a", "d/b"]) },
    Row { what: "cp into a container", setup: &[&["run", "--name", "cpsrc", "{img}", "sh", "-c", "echo hello-cp > /f"], &["cp", "cpsrc:/f", "{dir}/f"], &["create", "--name", "cp2", "{img}", "cat", "/x"], &["cp", "{dir}/f", "cp2:/x"]], args: &["start", "-a", "cp2"], check: Check::Same },
    Row { what: "export", setup: &[&["create", "--name", "ex1", "{img}", "true"]], args: &["export", "-o", "{dir}/root.tar", "ex1"], check: Check::Files(&["root.tar"]) },
    Row { what: "commit and run", setup: &[&["run", "--name", "cm1", "{img}", "sh", "-c", "echo committed > /made"], &["commit", "cm1", "localhost/committed:1"]], args: &["run", "--rm", "localhost/committed:1", "cat", "/made"], check: Check::Same },
    // ---- system
    Row { what: "system df types", setup: &[], args: &["system", "df", "--format", "{{.Type}}"], check: Check::Custom(df_types, "docker and rrun list Build Cache too; podman has none") },
    Row { what: "info --format", setup: &[], args: &["info", "--format", "json"], check: Check::Custom(both_json, "each describes its own host, store and runtime") },
    Row { what: "version", setup: &[], args: &["version"], check: Check::Custom(both_ok, "each names itself") },
    // ---- errors on missing containers: rrun ends with 125, as the README documents
    Row { what: "rm missing", setup: &[], args: &["rm", "nosuch"], check: Check::Custom(both_fail_rrun_125, "podman exits 1 for rm; rrun 125 like every own error") },
    Row { what: "stop missing", setup: &[], args: &["stop", "nosuch"], check: Check::Custom(both_fail_rrun_125, "") },
    Row { what: "kill missing", setup: &[], args: &["kill", "nosuch"], check: Check::Custom(both_fail_rrun_125, "") },
    Row { what: "logs missing", setup: &[], args: &["logs", "nosuch"], check: Check::Custom(both_fail_rrun_125, "") },
    Row { what: "exec missing", setup: &[], args: &["exec", "nosuch", "true"], check: Check::Custom(both_fail_rrun_125, "") },
    Row { what: "inspect missing", setup: &[], args: &["inspect", "nosuch"], check: Check::Custom(both_fail_rrun_125, "") },
    Row { what: "start missing", setup: &[], args: &["start", "nosuch"], check: Check::Custom(both_fail_rrun_125, "") },
    Row { what: "pause missing", setup: &[], args: &["pause", "nosuch"], check: Check::Custom(both_fail_rrun_125, "") },
];

/// `port`: `80/tcp -> 127.0.0.1:N` in both, each its own N.
fn same_port_shape(p: &Out, r: &Out) -> Result<(), String> {
    both_ok(p, r)?;
    for (side, o) in [("podman", p), ("rrun", r)] {
        let port = o.stdout.trim().strip_prefix("80/tcp -> 127.0.0.1:").and_then(|n| n.parse::<u16>().ok());
        if port.is_none_or(|n| n == 0) {
            return Err(format!("{side}: {:?}", o.stdout));
        }
    }
    Ok(())
}

/// `port` after `-P --expose 8000`: `8000/tcp -> 0.0.0.0:N` in both, each its own N.
fn same_exposed_port_shape(p: &Out, r: &Out) -> Result<(), String> {
    both_ok(p, r)?;
    for (side, o) in [("podman", p), ("rrun", r)] {
        let port = o.stdout.trim().strip_prefix("8000/tcp -> 0.0.0.0:").and_then(|n| n.parse::<u16>().ok());
        if port.is_none_or(|n| n == 0) {
            return Err(format!("{side}: {:?}", o.stdout));
        }
    }
    Ok(())
}

/// `ps --format {{.Ports}}`: `127.0.0.1:N->80/tcp` in both, each its own N.
fn same_ports_column(p: &Out, r: &Out) -> Result<(), String> {
    both_ok(p, r)?;
    for (side, o) in [("podman", p), ("rrun", r)] {
        let port = o.stdout.trim().strip_prefix("127.0.0.1:").and_then(|s| s.strip_suffix("->80/tcp"));
        if port.and_then(|n| n.parse::<u16>().ok()).is_none_or(|n| n == 0) {
            return Err(format!("{side}: {:?}", o.stdout));
        }
    }
    Ok(())
}

/// `run --network none -p`: podman runs it without the ports, rrun refuses as Docker does.
fn podman_drops_ports_docker_refuses(p: &Out, r: &Out) -> Result<(), String> {
    if p.code != Some(0) || !p.stderr.contains("Port mappings have been discarded") {
        return Err(format!("podman {:?}: {}", p.code, p.stderr));
    }
    if r.code != Some(125) || !r.stderr.contains("conflicting options") || r.stderr.lines().count() != 1 {
        return Err(format!("rrun {:?}: {}", r.code, r.stderr));
    }
    Ok(())
}

/// `inspect --format '{{json .NetworkSettings}}'` of a container on the default
/// network: every key podman has, rrun has too (top level and per network); one
/// network each, an address in its gateway's subnet, the same prefix length and
/// MAC address form, no ports.
fn network_settings_alike(p: &Out, r: &Out) -> Result<(), String> {
    both_ok(p, r)?;
    let parse = |side: &str, o: &Out| -> Result<serde_json::Value, String> {
        serde_json::from_str(&o.stdout).map_err(|e| format!("{side}: {e}: {}", o.stdout))
    };
    let (pv, rv) = (parse("podman", p)?, parse("rrun", r)?);
    let keys = |v: &serde_json::Value| -> Vec<String> {
        v.as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default()
    };
    let missing = |a: &serde_json::Value, b: &serde_json::Value| -> Vec<String> {
        keys(a).into_iter().filter(|k| b.get(k).is_none()).collect()
    };
    let one =
        |v: &serde_json::Value| v["Networks"].as_object().filter(|m| m.len() == 1).map(|m| m.values().next().cloned());
    let (Some(Some(pn)), Some(Some(rn))) = (one(&pv), one(&rv)) else {
        return Err(format!("not one network each: podman {pv}, rrun {rv}"));
    };
    let gone = [missing(&pv, &rv), missing(&pn, &rn)].concat();
    if !gone.is_empty() {
        return Err(format!("rrun lacks podman's keys {gone:?}: {rv}"));
    }
    for (side, v) in [("podman", &pv), ("rrun", &rv)] {
        let ip: std::net::Ipv4Addr =
            v["IPAddress"].as_str().unwrap_or("").parse().map_err(|e| format!("{side}: {e}"))?;
        let gw: std::net::Ipv4Addr = v["Gateway"].as_str().unwrap_or("").parse().map_err(|e| format!("{side}: {e}"))?;
        let len = v["IPPrefixLen"].as_u64().unwrap_or(0) as u32;
        let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
        let mac = v["MacAddress"].as_str().unwrap_or("");
        if len != 16 || u32::from(ip) & mask != u32::from(gw) & mask || ip == gw {
            return Err(format!("{side}: {ip}/{len} beside gateway {gw}"));
        }
        if mac.len() != 17 || mac.split(':').count() != 6 || v["Ports"] != serde_json::json!({}) {
            return Err(format!("{side}: MAC {mac:?}, ports {}", v["Ports"]));
        }
    }
    Ok(())
}

/// `network ls`: the same header (Docker adds SCOPE), and the default network a bridge in both.
fn network_ls_table(p: &Out, r: &Out) -> Result<(), String> {
    both_ok(p, r)?;
    let rows = |o: &Out| normalise(&o.stdout).lines().map(String::from).collect::<Vec<_>>();
    let (pr, rr) = (rows(p), rows(r));
    if pr.first().map(String::as_str) != Some("NETWORK ID NAME DRIVER")
        || rr.first().map(String::as_str) != Some("NETWORK ID NAME DRIVER SCOPE")
    {
        return Err(format!("headers: podman {:?}, rrun {:?}", pr.first(), rr.first()));
    }
    if !pr.contains(&"<ID> podman bridge".to_string())
        || !["<ID> bridge bridge local", "<ID> host host local", "<ID> none null local"]
            .iter()
            .all(|l| rr.contains(&l.to_string()))
    {
        return Err(format!("rows: podman {pr:?}, rrun {rr:?}"));
    }
    Ok(())
}

fn both_ok(p: &Out, r: &Out) -> Result<(), String> {
    if p.code != Some(0) || r.code != Some(0) {
        return Err(format!("podman {:?}, rrun {:?}: {}", p.code, r.code, r.stderr));
    }
    Ok(())
}

fn both_json(p: &Out, r: &Out) -> Result<(), String> {
    both_ok(p, r)?;
    for (side, o) in [("podman", p), ("rrun", r)] {
        serde_json::from_str::<serde_json::Value>(&o.stdout).map_err(|e| format!("{side}: {e}"))?;
    }
    Ok(())
}

fn top_lists_the_command(p: &Out, r: &Out) -> Result<(), String> {
    both_ok(p, r)?;
    for (side, o) in [("podman", p), ("rrun", r)] {
        if !o.stdout.lines().skip(1).any(|l| l.contains("sleep 60")) || !o.stdout.contains("PID") {
            return Err(format!("{side}: {}", o.stdout));
        }
    }
    Ok(())
}

fn same_word_or_signal_number(p: &Out, r: &Out) -> Result<(), String> {
    both_ok(p, r)?;
    let (a, b) = (p.stdout.trim(), r.stdout.trim());
    if a == b || (a == "10" && b == "SIGUSR1") {
        return Ok(());
    }
    Err(format!("podman {a:?}, rrun {b:?}"))
}

fn ipc_is_the_hosts(p: &Out, r: &Out) -> Result<(), String> {
    both_ok(p, r)?;
    let host = std::fs::read_link("/proc/self/ns/ipc").unwrap().display().to_string();
    if p.stdout.trim() != host || r.stdout.trim() != host {
        return Err(format!("host {host}, podman {:?}, rrun {:?}", p.stdout, r.stdout));
    }
    Ok(())
}

fn annotation_where_docker_has_it(p: &Out, r: &Out) -> Result<(), String> {
    if r.code != Some(0) || r.stdout.trim() != "v1" || p.code != Some(125) || !p.stderr.contains("Annotations") {
        return Err(format!("podman {:?} {:?}, rrun {:?} {:?}", p.code, p.stderr, r.code, r.stdout));
    }
    Ok(())
}

fn same_id_hex(p: &Out, r: &Out) -> Result<(), String> {
    both_ok(p, r)?;
    if r.stdout.trim().strip_prefix("sha256:") != Some(p.stdout.trim()) {
        return Err(format!("podman {:?}, rrun {:?}", p.stdout, r.stdout));
    }
    Ok(())
}

fn both_loaded(p: &Out, r: &Out) -> Result<(), String> {
    both_ok(p, r)?;
    if !p.stdout.contains("busybox") || !r.stdout.contains("busybox") {
        return Err(format!("podman {:?}, rrun {:?}", p.stdout, r.stdout));
    }
    Ok(())
}

fn df_types(p: &Out, r: &Out) -> Result<(), String> {
    both_ok(p, r)?;
    if format!("{}Build Cache\n", p.stdout) != r.stdout {
        return Err(format!("podman {:?}, rrun {:?}", p.stdout, r.stdout));
    }
    Ok(())
}

fn same_uid_gid(p: &Out, r: &Out) -> Result<(), String> {
    let ids = |s: &str| s.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
    if p.code != r.code || ids(&p.stdout) != ids(&r.stdout) || r.stdout.contains("groups=") {
        return Err(format!("podman {:?} {:?}, rrun {:?} {:?}", p.code, p.stdout, r.code, r.stdout));
    }
    Ok(())
}

fn workdir_made(p: &Out, r: &Out) -> Result<(), String> {
    if p.code != Some(126) || r.code != Some(0) || r.stdout != "/made/here\n" {
        return Err(format!("podman {:?}, rrun {:?} {:?}", p.code, r.code, r.stdout));
    }
    Ok(())
}

fn both_fail_running(p: &Out, r: &Out) -> Result<(), String> {
    if p.code == Some(0) || r.code != Some(125) || !r.stderr.contains("running") {
        return Err(format!("podman {:?}, rrun {:?}: {}", p.code, r.code, r.stderr));
    }
    Ok(())
}

fn both_fail(p: &Out, r: &Out) -> Result<(), String> {
    if p.code == Some(0) || r.code != Some(125) {
        return Err(format!("podman {:?}, rrun {:?}: {}", p.code, r.code, r.stderr));
    }
    Ok(())
}

fn both_json_arrays_of_one(p: &Out, r: &Out) -> Result<(), String> {
    for (side, o) in [("podman", p), ("rrun", r)] {
        let v: serde_json::Value = serde_json::from_str(&o.stdout).map_err(|e| format!("{side}: {e}: {}", o.stdout))?;
        if v.as_array().map(Vec::len) != Some(1) {
            return Err(format!("{side}: not an array of one: {v}"));
        }
    }
    Ok(())
}

fn same_but_slash_name(p: &Out, r: &Out) -> Result<(), String> {
    if p.code != r.code || normalise(&p.stdout) != normalise(&r.stdout).replace(" /", " ") {
        return Err(format!("podman {:?} {:?}, rrun {:?} {:?}", p.code, p.stdout, r.code, r.stdout));
    }
    Ok(())
}

#[test]
fn docker_style_commands_match_podman() {
    if !root_or_skip("docker_style_commands_match_podman")
        || !ensure_programs("docker_style_commands_match_podman", common::podman::NEEDS)
    {
        return;
    }
    let podman = PodmanSide(Podman::setup("cmp-podman", &["busybox.tar"]));
    let rrun = Rrun { root: TestRoot::with_busybox("cmp-rrun") };
    let sides: [&dyn Side; 2] = [&podman, &rrun];
    let mut failures = Vec::new();
    // COMPARE_ROWS=text: only the rows whose description contains it (while working on some)
    let only = std::env::var("COMPARE_ROWS").unwrap_or_default();
    'rows: for row in ROWS.iter().filter(|r| r.what.contains(only.as_str())) {
        for side in sides {
            let _ = std::fs::remove_dir_all(side.dir());
            std::fs::create_dir_all(side.dir()).unwrap();
        }
        for step in row.setup {
            let outs: Vec<Out> = sides.iter().map(|s| s.run(&refs(&substitute(step, &s.dir())))).collect();
            // a setup step may end as the container does (`run … exit 7`), the same in both
            if outs[0].code != outs[1].code || outs.iter().any(|o| o.code.is_none_or(|c| c >= 125)) {
                let said: Vec<String> = sides.iter().zip(&outs).map(|(s, o)| format!("{}: {o:?}", s.name())).collect();
                failures.push(format!("[{}] setup {step:?} differs or failed: {}", row.what, said.join("; ")));
                sides.iter().for_each(|s| s.clear());
                continue 'rows;
            }
        }
        let (pa, ra) = (substitute(row.args, &podman.dir()), substitute(row.args, &rrun.dir()));
        let (p, r) = (podman.run(&refs(&pa)), rrun.run(&refs(&ra)));
        let mut result = compare(row, &p, &r);
        match (&result, &row.check) {
            (Ok(()), Check::Effect(probe) | Check::EffectOnly(probe, _)) => {
                let (pe, re) = (
                    podman.run(&refs(&substitute(probe, &podman.dir()))),
                    rrun.run(&refs(&substitute(probe, &rrun.dir()))),
                );
                let why = match &row.check {
                    Check::EffectOnly(_, why) => format!(" (its own output is not compared: {why})"),
                    _ => String::new(),
                };
                result = compare(&Row { what: row.what, setup: &[], args: probe, check: Check::Same }, &pe, &re)
                    .map_err(|e| format!("after it, {probe:?}: {e}{why}"));
            }
            (Ok(()), Check::Files(files)) => {
                for f in *files {
                    let (a, b) = (file_view(&podman.dir().join(f)), file_view(&rrun.dir().join(f)));
                    if a != b {
                        result = Err(format!("{f} differs:\n--- podman\n{a:?}\n--- rrun\n{b:?}"));
                        break;
                    }
                }
            }
            _ => {}
        }
        if let Err(e) = result {
            failures.push(format!(
                "[{}] {ra:?}: {e}\n  podman stderr: {}\n  rrun stderr: {}",
                row.what,
                p.stderr.trim(),
                r.stderr.trim()
            ));
        }
        if leaves_things(row) {
            sides.iter().for_each(|s| s.clear());
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows differ from podman:\n{}",
        failures.len(),
        ROWS.len(),
        failures.join("\n\n")
    );
    assert!(ROWS.len() >= 80, "the comparison covers {} rows", ROWS.len());
}

fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}
