//! Which command line is this: Docker's (rrun's own) or runc's?
//!
//! rrun answers to both. Docker's syntax is the default; runc's is chosen only
//! by unambiguous evidence, and only the arguments *before* the image or
//! container ID are looked at — everything after it belongs to the container,
//! as with Docker and Podman:
//!
//! - `rrun oci VERB …` is always runc's verb;
//! - a runc-only global flag (`--log`, `--log-format`, `--debug`,
//!   `--systemd-cgroup`, `--rootless`, `--criu`), or a verb only runc has
//!   (`state`, `delete`, `list`, `spec`, `features`, `resume`, …);
//! - for a verb both have, a flag before the ID that only runc's verb has
//!   (`--bundle`, `--console-socket`, `--pid-file`, `--preserve-fds`,
//!   `--process`…), where a flag only Docker's has means Docker;
//! - `ps ID` and `events ID` (Docker's take no ID);
//! - `start`, `kill`, `exec`, `pause`, `update` with `--root` naming an OCI state
//!   root (a directory that is not an rrun store), or an ID that exists in the
//!   OCI state root and is no container of the store;
//! - `run ID` / `create ID` with nothing after the ID, a `config.json` in the
//!   working directory (runc's default bundle) and no image of that name.
//!
//! What each verb's flags are, and which take a value, is read from the two
//! clap definitions, so the router cannot drift from the parsers.

use super::oci::OciCli;
use super::Cli;
use clap::CommandFactory;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The parser a command line goes to.
#[derive(Debug, PartialEq, Eq)]
pub enum Route {
    /// rrun's own, Docker-style command line.
    Docker,
    /// runc's command line; `strip` is the index of an `oci` word to drop first.
    Oci { strip: Option<usize> },
}

/// Where the runtime would look, given a `--root` (or none).
pub trait Probe {
    /// The store has an image of this name.
    fn image(&self, store_root: Option<&Path>, name: &str) -> bool;
    /// The store has a container of this name, ID or ID prefix.
    fn container(&self, store_root: Option<&Path>, name: &str) -> bool;
    /// The OCI state root has a container of this ID.
    fn oci_container(&self, oci_root: Option<&Path>, id: &str) -> bool;
    /// `path` is an existing directory that is not an rrun store.
    fn is_oci_root(&self, path: &Path) -> bool;
    /// The working directory holds a `config.json` (runc's default bundle).
    fn bundle_in_cwd(&self) -> bool;
}

/// The real filesystem, read without creating anything.
pub struct Filesystem;

impl Filesystem {
    fn store_root(root: Option<&Path>) -> PathBuf {
        root.map(Path::to_path_buf)
            .or_else(|| std::env::var_os("RRUN_ROOT").filter(|v| !v.is_empty()).map(PathBuf::from))
            .unwrap_or_else(rrun::Rrun::default_root)
    }
}

impl Probe for Filesystem {
    fn image(&self, root: Option<&Path>, name: &str) -> bool {
        rrun::Rrun::probe_image(&Self::store_root(root), name)
    }
    fn container(&self, root: Option<&Path>, name: &str) -> bool {
        rrun::Rrun::probe_container(&Self::store_root(root), name)
    }
    fn oci_container(&self, root: Option<&Path>, id: &str) -> bool {
        let root = root.map(Path::to_path_buf).unwrap_or_else(rrun::oci::Runtime::default_root);
        rrun::oci::Runtime::new(root, false).exists(id)
    }
    fn is_oci_root(&self, path: &Path) -> bool {
        path.is_dir() && !rrun::Rrun::store_exists(path)
    }
    fn bundle_in_cwd(&self) -> bool {
        Path::new("config.json").is_file()
    }
}

/// runc's global flags, which Docker's command line does not have.
const OCI_GLOBALS: &[&str] = &["--log", "--log-format", "--debug", "--systemd-cgroup", "--rootless", "--criu"];

/// One flag as a parser defines it.
#[derive(Clone, Copy)]
struct FlagInfo {
    takes_value: bool,
}

enum Flag<'a> {
    Long(&'a str),
    Short(char),
}

fn lookup(cmd: Option<&clap::Command>, flag: &Flag<'_>) -> Option<FlagInfo> {
    let cmd = cmd?;
    if matches!(flag, Flag::Long("help") | Flag::Short('h')) && !cmd.is_disable_help_flag_set() {
        return Some(FlagInfo { takes_value: false });
    }
    cmd.get_arguments()
        .filter(|a| !a.is_positional())
        .find(|a| match flag {
            Flag::Long(l) => a.get_long() == Some(l) || a.get_all_aliases().is_some_and(|al| al.contains(l)),
            Flag::Short(c) => a.get_short() == Some(*c) || a.get_all_short_aliases().is_some_and(|al| al.contains(c)),
        })
        .map(|a| FlagInfo { takes_value: a.get_action().takes_values() })
}

/// Decides the parser for `args` (argv, program name first).
pub fn route(args: &[OsString], probe: &dyn Probe) -> Route {
    let args: Vec<String> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
    let mut root: Option<PathBuf> = None;
    let mut i = 1;
    // global flags, before the verb
    while i < args.len() {
        let a = args[i].as_str();
        if !a.starts_with('-') || a == "-" {
            break;
        }
        let name = a.split('=').next().unwrap_or(a);
        if OCI_GLOBALS.contains(&name) {
            return Route::Oci { strip: None };
        }
        if name == "--root" {
            let value = match a.split_once('=') {
                Some((_, v)) => v.to_string(),
                None => {
                    i += 1;
                    args.get(i).cloned().unwrap_or_default()
                }
            };
            root = Some(PathBuf::from(value));
        }
        i += 1;
    }
    let Some(verb) = args.get(i).map(String::as_str) else { return Route::Docker };
    if verb == "oci" {
        return Route::Oci { strip: Some(i) };
    }
    let docker = Cli::command();
    let oci = OciCli::command();
    let (d, o) = (docker.find_subcommand(verb), oci.find_subcommand(verb));
    match (d, o) {
        (_, None) => return Route::Docker,
        (None, Some(_)) => return Route::Oci { strip: None },
        _ => {}
    }
    // a verb both have: read its flags up to the first positional (the ID or image)
    let mut j = i + 1;
    let mut first_positional = None;
    'args: while j < args.len() {
        let a = args[j].as_str();
        if a == "--" {
            first_positional = (j + 1 < args.len()).then_some(j + 1);
            break;
        }
        if let Some(long) = a.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, _)) => (n, true),
                None => (long, false),
            };
            match evidence(d, o, &Flag::Long(name)) {
                Evidence::Docker => return Route::Docker,
                Evidence::Oci => return Route::Oci { strip: None },
                Evidence::Neutral(info) => {
                    j += if info.takes_value && !inline { 2 } else { 1 };
                    continue;
                }
            }
        }
        if a.len() > 1 && a.starts_with('-') {
            // a cluster of short flags (-it, -dit), the last one perhaps with its value (-uroot)
            for (k, c) in a.char_indices().skip(1) {
                match evidence(d, o, &Flag::Short(c)) {
                    Evidence::Docker => return Route::Docker,
                    Evidence::Oci => return Route::Oci { strip: None },
                    Evidence::Neutral(info) if info.takes_value => {
                        j += if k + c.len_utf8() == a.len() { 2 } else { 1 };
                        continue 'args;
                    }
                    Evidence::Neutral(_) => {}
                }
            }
            j += 1;
            continue;
        }
        first_positional = Some(j);
        break;
    }
    let Some(p) = first_positional else { return Route::Docker };
    let id = args[p].as_str();
    let oci_root = root.as_deref().filter(|r| probe.is_oci_root(r));
    let is_oci = match verb {
        // Docker's take no ID
        "ps" | "events" => true,
        "run" | "create" => p + 1 == args.len() && probe.bundle_in_cwd() && !probe.image(root.as_deref(), id),
        _ => oci_root.is_some() || (probe.oci_container(root.as_deref(), id) && !probe.container(root.as_deref(), id)),
    };
    if is_oci {
        Route::Oci { strip: None }
    } else {
        Route::Docker
    }
}

enum Evidence {
    Docker,
    Oci,
    Neutral(FlagInfo),
}

/// What a flag of a shared verb says: only one parser knows it, or both do.
/// A flag neither knows is left to Docker's parser, which names it in its error.
fn evidence(docker: Option<&clap::Command>, oci: Option<&clap::Command>, flag: &Flag<'_>) -> Evidence {
    match (lookup(docker, flag), lookup(oci, flag)) {
        (Some(_), None) | (None, None) => Evidence::Docker,
        (None, Some(_)) => Evidence::Oci,
        (Some(info), Some(_)) => Evidence::Neutral(info),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// A filesystem as a table: which images, containers and OCI IDs exist.
    #[derive(Default)]
    struct World {
        images: HashSet<&'static str>,
        containers: HashSet<&'static str>,
        oci: HashSet<&'static str>,
        oci_roots: HashSet<&'static str>,
        bundle_in_cwd: bool,
    }

    impl Probe for World {
        fn image(&self, _: Option<&Path>, name: &str) -> bool {
            self.images.contains(name)
        }
        fn container(&self, _: Option<&Path>, name: &str) -> bool {
            self.containers.contains(name)
        }
        fn oci_container(&self, _: Option<&Path>, id: &str) -> bool {
            self.oci.contains(id)
        }
        fn is_oci_root(&self, path: &Path) -> bool {
            self.oci_roots.contains(path.to_str().unwrap())
        }
        fn bundle_in_cwd(&self) -> bool {
            self.bundle_in_cwd
        }
    }

    fn world() -> World {
        World {
            images: ["busybox"].into(),
            containers: ["web", "both"].into(),
            oci: ["c1", "both", "e1"].into(),
            oci_roots: ["/run/podman-runtime", "/run/containerd/runc/k8s.io"].into(),
            bundle_in_cwd: false,
        }
    }

    fn argv(line: &str) -> Vec<OsString> {
        std::iter::once("rrun").chain(line.split_whitespace()).map(OsString::from).collect()
    }

    const D: Route = Route::Docker;
    const O: Route = Route::Oci { strip: None };

    #[test]
    fn docker_lines_with_flag_like_container_arguments_stay_docker() {
        let w = world();
        for line in [
            "run -d --name web --memory 256m --cpus 0.5 --pids-limit 100 --device /dev/fuse busybox httpd -f -p 8080",
            "run --rm busybox ls -a /",
            "run --rm busybox ls --all",
            "run --rm busybox sh -c 'cd --cwd'",
            "run --rm busybox tar -b 20 -cf /dev/null /",
            "run --rm busybox echo --keep --bundle /b --console-socket /s --pid-file /p",
            "run --rm busybox echo --preserve-fds 3 --process p.json --no-pivot",
            "run --rm -it busybox sh",
            "run --rm -e A=1 -v /srv:/srv:ro -w /srv busybox ls",
            "run --rm -u 1000 busybox id -a",
            "run --rm busybox c1",
            "run --rm busybox both",
            "run busybox --rm",
            "run -d busybox sleep 100",
            "run --rm --entrypoint sh busybox -c 'echo -p'",
            "run --rm --security-opt seccomp=unconfined busybox true",
            "run --rm --memory-swap -1 busybox true",
            "run --rm --pull=never busybox true",
            "run --rm -- busybox -a",
            "exec web ps -a",
            "exec -it web sh",
            "exec -e K=V -u root -w /tmp web sh -c 'ls -a'",
            "exec -d web sleep 5 --bundle x",
            "exec web c1",
            "kill web",
            "kill -s HUP web",
            "kill --signal=USR1 web db",
            "start web",
            "start -a web",
            "start -ai web",
            "pause web",
            "ps",
            "ps -a",
            "ps -aq",
            "ps --all --format json",
            "--root /tmp/store run --rm busybox true",
            "--root /tmp/store ps -a",
            "-v run --rm busybox true",
            "images",
            "pull busybox",
            "logs -f web",
            "rm -f web",
            "stop -t 1 web",
            "inspect web",
            // verbs runc has too, read as Docker's when nothing says runc
            "create --name x busybox",
            "create busybox sh -c 'echo -a'",
            "create --rm -it busybox sh",
            "update --memory 64m web",
            "update --cpus 1 web",
            "update -m 64m --restart always web",
            "events",
            "events --since 10m --filter container=web",
            "events --format json",
            "--help",
            "run --help",
            "",
        ] {
            assert_eq!(route(&argv(line), &w), D, "{line}");
        }
    }

    #[test]
    fn runc_lines_as_engines_send_them_are_runc() {
        let w = world();
        for line in [
            // Podman (conmon) and containerd (go-runc) pass their state root and log first
            "--root /run/podman-runtime --log /l --log-format json --systemd-cgroup create --bundle /b --pid-file /p c9",
            "--root /run/containerd/runc/k8s.io --log /l --log-format json create --bundle /b --pid-file /p --console-socket /s c9",
            "--root /run/podman-runtime start c9",
            "--root /run/podman-runtime kill c9 9",
            "--root /run/podman-runtime kill --all c9 KILL",
            "--root /run/podman-runtime exec --process /p.json --detach --pid-file /p c9",
            "--root /run/podman-runtime exec c9 sh",
            "--root /run/podman-runtime pause c9",
            "--root /run/podman-runtime update --resources - c9",
            "--root /run/podman-runtime state c9",
            "--root /run/podman-runtime delete --force c9",
            "--debug state c9",
            "--systemd-cgroup kill c9",
            "--rootless true state c9",
            "--criu /usr/sbin/criu checkpoint c9",
            "--log=/l start c9",
            // runc's own verbs and flags
            "create --bundle /b c9",
            "create -b /b c9",
            "create --console-socket /s --bundle /b c9",
            "create --pid-file /p c9",
            "create --no-pivot c9",
            "create --preserve-fds 2 c9",
            "run --bundle /b c9",
            "run -b /b -d --pid-file /p c9",
            "run --keep c9",
            "run --no-subreaper c9",
            "run --preserve-fds 1 --bundle /b f1",
            "exec --process /p.json c1",
            "exec -p /p.json c1",
            "exec --cwd /tmp c1 ls",
            "exec --tty --console-socket /s c1 sh",
            "exec --cap CAP_KILL c1 sh",
            "exec --preserve-fds 1 c1 sh",
            "exec c1 sh -c 'ls -a'",
            "kill --all c1 KILL",
            "kill -a c1",
            "kill c1",
            "kill c1 KILL",
            "start c1",
            "pause c1",
            "exec e1 ps -a",
            "ps c1",
            "ps --format json c1",
            "ps c1 -e -x",
            "events c1",
            "events --stats c1",
            "events --interval 1s c1",
            "update --resources /r.json c1",
            "update -r /r.json c1",
            "update --cpu-share 100 c1",
            "state c1",
            "delete c1",
            "delete -f c1",
            "list",
            "list -q",
            "features",
            "spec",
            "spec --rootless",
            "resume c1",
            "checkpoint c1",
            "restore c1",
        ] {
            assert_eq!(route(&argv(line), &w), O, "{line}");
        }
    }

    #[test]
    fn the_oci_group_is_always_runc() {
        let w = world();
        assert_eq!(route(&argv("oci run web"), &w), Route::Oci { strip: Some(1) });
        assert_eq!(route(&argv("--root /tmp/x oci kill web"), &w), Route::Oci { strip: Some(3) });
        assert_eq!(route(&argv("oci ps web"), &w), Route::Oci { strip: Some(1) });
    }

    #[test]
    fn ambiguous_lines_read_as_docker() {
        let w = world();
        // a container of both worlds: Docker's reading wins
        assert_eq!(route(&argv("kill both"), &w), D);
        assert_eq!(route(&argv("start both"), &w), D);
        // an OCI ID only after the image or container name does not count
        assert_eq!(route(&argv("exec web c1"), &w), D);
        assert_eq!(route(&argv("run --rm busybox echo c1"), &w), D);
    }

    #[test]
    fn run_and_create_in_a_bundle_directory() {
        let mut w = world();
        w.bundle_in_cwd = true;
        // runc's `run ID` from inside the bundle, --root not yet made
        assert_eq!(route(&argv("--root /tmp/new-oci-root run c42"), &w), O);
        assert_eq!(route(&argv("create c42"), &w), O);
        assert_eq!(route(&argv("run -d c42"), &w), O);
        // an image of that name, a command after it, or a Docker flag: Docker's
        assert_eq!(route(&argv("run busybox"), &w), D);
        assert_eq!(route(&argv("run c42 sh"), &w), D);
        assert_eq!(route(&argv("run --rm c42"), &w), D);
        w.bundle_in_cwd = false;
        assert_eq!(route(&argv("run c42"), &w), D);
    }

    #[test]
    fn real_filesystem_probe_creates_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        std::fs::create_dir_all(&dir).unwrap();
        let fs = Filesystem;
        assert!(fs.is_oci_root(&dir));
        assert!(!fs.container(Some(&dir), "web"));
        assert!(!fs.image(Some(&dir), "busybox"));
        assert!(!fs.is_oci_root(&dir.join("missing")));
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "probing left files behind");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
