//! Podman as the reference for Docker-style behaviour: Debian's podman with
//! runc, in a configuration of the test's own (storage, config, events under
//! a scratch directory), bridge networking through netavark like rrun's
//! default (its network definitions in the scratch directory too), and the host's
//! quirks handled (no systemd: cgroupfs and a file events logger; no
//! CAP_SYS_RESOURCE: ulimits at most the hard limit).

use super::*;
use std::path::PathBuf;

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

pub struct Podman {
    pub dir: ScratchDir,
    podman: PathBuf,
}

impl Podman {
    /// A Podman of its own with `archives` (fixture names, e.g. "busybox.tar") loaded.
    pub fn setup(tag: &str, archives: &[&str]) -> Podman {
        let dir = ScratchDir::new(tag);
        let d = dir.path.display().to_string();
        let (_, hard) = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).unwrap();
        let nofile = hard.min(1 << 20);
        std::fs::write(
            dir.path.join("storage.conf"),
            format!(
                "[storage]\ndriver = \"overlay\"\nrunroot = \"{d}/runroot\"\ngraphroot = \"{d}/root\"\n\
                 [storage.options.overlay]\nmountopt = \"nodev\"\n"
            ),
        )
        .unwrap();
        std::fs::write(
            dir.path.join("containers.conf"),
            format!(
                "[engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n\
                 events_logfile_path = \"{d}/events.log\"\ntmp_dir = \"{d}/tmp\"\nvolume_path = \"{d}/volumes\"\n\
                 lock_type = \"file\"\nruntime = \"runc\"\n\
                 [containers]\nnetns = \"bridge\"\nlog_driver = \"k8s-file\"\n\
                 default_ulimits = [\"nofile={nofile}:{nofile}\", \"nproc=4096:4096\"]\n\
                 [network]\nnetwork_config_dir = \"{d}/net\"\n"
            ),
        )
        .unwrap();
        std::fs::write(dir.path.join("registries.conf"), "unqualified-search-registries = []\n").unwrap();
        let p = Podman { podman: find_program("podman").unwrap(), dir };
        for a in archives {
            let load = p.run(&["load", "-i", fixture(a).to_str().unwrap()]);
            assert_eq!(load.code, Some(0), "podman load {a}: {load:?}");
        }
        p
    }

    /// `podman ARGS` in this configuration, bounded in time.
    pub fn cmd(&self, args: &[&str]) -> std::process::Command {
        let d = &self.dir.path;
        let mut c = timed(60, &self.podman);
        c.env("CONTAINERS_STORAGE_CONF", d.join("storage.conf"))
            .env("CONTAINERS_CONF", d.join("containers.conf"))
            .env("CONTAINERS_REGISTRIES_CONF", d.join("registries.conf"))
            .args(args);
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
