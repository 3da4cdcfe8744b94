//! Podman as the reference for Docker-style behaviour: Debian's podman with
//! runc, in a configuration of the test's own (storage, config, events under
//! a scratch directory), bridge networking through netavark like rrun's
//! default (its network definitions in the scratch directory too), and the host's
//! quirks handled (no systemd: cgroupfs and a file events logger; no
//! CAP_SYS_RESOURCE: ulimits at most the hard limit).

use super::*;
use std::path::Path;

/// What a command printed and how it ended.
#[derive(Debug, Clone)]
pub struct Out {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    pub fn of(mut c: std::process::Command) -> Out {
        let (code, stdout, stderr) = output_of(&mut c);
        Out { code, stdout, stderr }
    }
}

/// The programs the reference needs, as (program, Debian package), for `ensure_programs`.
pub const NEEDS: &[(&str, &str)] =
    &[("podman", "podman"), ("conmon", "conmon"), ("runc", "runc"), ("timeout", "coreutils")];

/// The OCI runtime a scratch Podman runs containers with.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    /// Debian's runc: Podman as the reference.
    Runc,
    /// This build's rrun: Podman as an engine driving rrun.
    Rrun,
}

/// Writes a Podman configuration of its own under `dir` (storage,
/// containers.conf with `runtime` and `netns` — "bridge" or "none" —,
/// registries.conf): cgroupfs and a file events logger (no systemd here),
/// ulimits at most the hard limit (no CAP_SYS_RESOURCE; Podman's default
/// nofile is 1048576, and it caps its own nproc at 32768).
pub fn write_config(dir: &Path, runtime: Runtime, netns: &str) {
    let d = dir.display();
    let (_, hard) = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).unwrap();
    let nofile = hard.min(1 << 20);
    std::fs::write(
        dir.join("storage.conf"),
        format!(
            "[storage]\ndriver = \"overlay\"\nrunroot = \"{d}/runroot\"\ngraphroot = \"{d}/root\"\n\
             [storage.options.overlay]\nmountopt = \"nodev\"\n"
        ),
    )
    .unwrap();
    let runtime = match runtime {
        Runtime::Runc => "runtime = \"runc\"\n".to_string(),
        Runtime::Rrun => format!(
            "runtime = \"rrun\"\nruntime_supports_json = [\"crun\", \"runc\", \"rrun\"]\n\
             [engine.runtimes]\nrrun = [\"{RRUN}\"]\n"
        ),
    };
    std::fs::write(
        dir.join("containers.conf"),
        format!(
            "[engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n\
             events_logfile_path = \"{d}/events.log\"\ntmp_dir = \"{d}/tmp\"\nvolume_path = \"{d}/volumes\"\n\
             lock_type = \"file\"\n{runtime}\
             [containers]\nnetns = \"{netns}\"\nlog_driver = \"k8s-file\"\n\
             default_ulimits = [\"nofile={nofile}:{nofile}\", \"nproc=4096:4096\"]\n\
             [network]\nnetwork_config_dir = \"{d}/net\"\n"
        ),
    )
    .unwrap();
    std::fs::write(dir.join("registries.conf"), "unqualified-search-registries = []\n").unwrap();
}

/// `podman` with the configuration [`write_config`] wrote under `dir`, killed after `secs`.
pub fn command(dir: &Path, secs: u32) -> std::process::Command {
    let mut c = timed(secs, find_program("podman").expect("podman is installed"));
    c.env("CONTAINERS_STORAGE_CONF", dir.join("storage.conf"))
        .env("CONTAINERS_CONF", dir.join("containers.conf"))
        .env("CONTAINERS_REGISTRIES_CONF", dir.join("registries.conf"));
    c
}

pub struct Podman {
    pub dir: ScratchDir,
}

impl Podman {
    /// A Podman of its own with `archives` (fixture names, e.g. "busybox.tar") loaded.
    pub fn setup(tag: &str, archives: &[&str]) -> Podman {
        let dir = ScratchDir::new(tag);
        write_config(&dir.path, Runtime::Runc, "bridge");
        let p = Podman { dir };
        for a in archives {
            let load = p.run(&["load", "-i", fixture(a).to_str().unwrap()]);
            assert_eq!(load.code, Some(0), "podman load {a}: {load:?}");
        }
        p
    }

    /// `podman ARGS` in this configuration, bounded in time.
    pub fn cmd(&self, args: &[&str]) -> std::process::Command {
        let d = &self.dir.path;
        let mut c = command(d, 60);
        c.args(args);
        c
    }

    pub fn run(&self, args: &[&str]) -> Out {
        Out::of(self.cmd(args))
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = self.run(&["rm", "-af", "-t", "0"]);
        let _ = self.run(&["volume", "prune", "-f"]);
        let _ = self.run(&["rmi", "-af"]);
        end_processes(&pids_mentioning(&self.dir.path.display().to_string()), std::time::Duration::from_secs(5));
        // ScratchDir's drop unmounts what is left and removes the rest
    }
}
