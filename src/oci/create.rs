//! `create`: a container from a bundle, its init process set up in its
//! namespaces and cgroup and left waiting on the exec FIFO until `start`;
//! and `run`, which is create + start + wait + delete.

use super::{io, load_bundle_spec, timestamp, OciError, Record, Runtime, Status};
use crate::cgroups;
use crate::launcher::{self, Child, LaunchConfig, OciLaunch, RootfsSource, StdioMode};
use oci_spec::runtime::{LinuxResources, Spec};
use std::path::{Path, PathBuf};
use tracing::{debug, warn};

/// `create`'s options, as runc spells them.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct CreateOptions {
    /// `--bundle`: the directory with `config.json` and the root filesystem.
    pub bundle: PathBuf,
    /// Where to write the init's PID once it is created.
    pub pid_file: Option<PathBuf>,
    /// A unix socket that receives the terminal's master side (`process.terminal`).
    pub console_socket: Option<PathBuf>,
    /// `--no-pivot`: move the root with `MS_MOVE` + chroot instead of
    /// `pivot_root` (for a root on a ramfs, where pivot_root fails).
    pub no_pivot: bool,
    /// `--no-new-keyring`: keep the caller's session keyring instead of a new one.
    pub no_new_keyring: bool,
    /// Descriptors 3..3+N passed on to the container's process.
    pub preserve_fds: u32,
}

impl CreateOptions {
    /// The options for the bundle at `bundle`, everything else as runc's defaults.
    pub fn new(bundle: impl Into<PathBuf>) -> CreateOptions {
        CreateOptions { bundle: bundle.into(), ..Default::default() }
    }
}

/// The cgroup path for a Spec: its `cgroupsPath`, in systemd's
/// `slice:prefix:name` form with `--systemd-cgroup` (turned into the path
/// systemd would use, since rrun drives the cgroup itself), or `rrun/<id>`.
pub(crate) fn cgroup_path(spec: &Spec, id: &str, systemd: bool) -> Result<String, OciError> {
    let given = spec.linux().as_ref().and_then(|l| l.cgroups_path().clone());
    let Some(path) = given.map(|p| p.to_string_lossy().into_owned()).filter(|p| !p.is_empty()) else {
        return Ok(format!("rrun/{id}"));
    };
    let parts: Vec<&str> = path.split(':').collect();
    if !systemd {
        if parts.len() == 3 && parts[0].ends_with(".slice") {
            return Err(OciError::Invalid(format!(
                "cgroupsPath {path:?} is in systemd's slice:prefix:name form: pass --systemd-cgroup"
            )));
        }
        return Ok(path);
    }
    let [slice, prefix, name] = parts.as_slice() else {
        return Err(OciError::Invalid(format!(
            "--systemd-cgroup: cgroupsPath {path:?} is not of the form slice:prefix:name"
        )));
    };
    // a-b.slice nests as /a.slice/a-b.slice, as systemd lays slices out
    let mut dir = String::new();
    let slice = if slice.is_empty() { "system.slice" } else { slice };
    let stem = slice.strip_suffix(".slice").unwrap_or(slice);
    let mut acc = String::new();
    for part in stem.split('-') {
        if !acc.is_empty() {
            acc.push('-');
        }
        acc.push_str(part);
        dir.push_str(&format!("/{acc}.slice"));
    }
    let unit = if name.ends_with(".slice") {
        name.to_string()
    } else if prefix.is_empty() {
        format!("{name}.scope")
    } else {
        format!("{prefix}-{name}.scope")
    };
    let out = format!("{dir}/{unit}");
    warn!(
        cgroups_path = %path,
        cgroup = %out,
        "--systemd-cgroup: rrun manages cgroups itself (no systemd unit is created); using the path systemd would use"
    );
    Ok(out)
}

impl Runtime {
    /// Creates the container from the bundle: when this returns, its init
    /// waits for [`start`](Runtime::start). Fails with [`OciError::Exists`],
    /// [`OciError::Bundle`]/[`OciError::Config`] for a bad bundle, or a launch
    /// error. From a process with other threads it refuses before it makes
    /// anything: `OciError::Launch(`[`LaunchError::MultiThreaded`](crate::LaunchError::MultiThreaded)`)`.
    pub fn create(&self, id: &str, opts: &CreateOptions) -> Result<(), OciError> {
        self.create_child(id, opts, false)?.detach();
        Ok(())
    }

    /// Creates, starts and waits for a container, then deletes it (unless
    /// `keep`); with `detach`, returns once it runs. Returns its exit code.
    /// Needs a single-threaded caller: from a process with other threads it
    /// returns `OciError::Launch(`[`LaunchError::MultiThreaded`](crate::LaunchError::MultiThreaded)`)`, as [`Runtime::create`].
    pub fn run(&self, id: &str, opts: &CreateOptions, detach: bool, keep: bool) -> Result<i32, OciError> {
        let child = self.create_child(id, opts, !detach)?;
        if let Err(e) = self.start(id) {
            drop(child);
            let _ = self.delete(id, true);
            return Err(e);
        }
        if detach {
            child.detach();
            return Ok(0);
        }
        let status = child.wait(true);
        if !keep {
            self.delete(id, true)?;
        }
        Ok(status?.code())
    }

    /// `foreground`: the caller waits for the process, so a terminal may be
    /// relayed by it instead of going to a console socket.
    fn create_child(&self, id: &str, opts: &CreateOptions, foreground: bool) -> Result<Child, OciError> {
        launcher::ensure_single_threaded()?;
        let dir = self.dir(id)?;
        std::fs::create_dir_all(&self.root).map_err(io(&self.root))?;
        match std::fs::create_dir(&dir) {
            // like runc's: others may pass through (to the FIFO) but not list it
            Ok(()) => {
                use std::os::unix::fs::PermissionsExt;
                let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o711));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Err(OciError::Exists(id.to_string())),
            Err(e) => return Err(OciError::Io { path: dir, source: e }),
        }
        let result = self.create_in(id, &dir, opts, foreground);
        if result.is_err() {
            // nothing of a failed create stays behind
            let _ = std::fs::remove_dir_all(&dir);
        }
        result
    }

    fn create_in(&self, id: &str, dir: &Path, opts: &CreateOptions, foreground: bool) -> Result<Child, OciError> {
        // paths the caller gave are relative to its working directory, which is left for the bundle
        let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
        let opts = &CreateOptions {
            pid_file: opts.pid_file.as_deref().map(absolute),
            console_socket: opts.console_socket.as_deref().map(absolute),
            ..opts.clone()
        };
        let bundle = opts
            .bundle
            .canonicalize()
            .map_err(|e| OciError::Bundle { bundle: opts.bundle.clone(), reason: format!("cannot open it: {e}") })?;
        let (mut spec, extras) = load_bundle_spec(&bundle.join("config.json"))?;
        let root_path = spec.root().as_ref().map(|r| r.path().clone()).ok_or_else(|| OciError::Bundle {
            bundle: bundle.clone(),
            reason: "config.json has no root.path".into(),
        })?;
        let rootfs = bundle.join(root_path);
        if !rootfs.is_dir() {
            return Err(OciError::Bundle {
                bundle,
                reason: format!("the root filesystem {} is not a directory", rootfs.display()),
            });
        }
        let rootfs = rootfs.canonicalize().map_err(io(&rootfs))?;
        let process = spec.process().clone().ok_or_else(|| OciError::Bundle {
            bundle: bundle.clone(),
            reason: "config.json has no process to run".into(),
        })?;
        let terminal = process.terminal().unwrap_or(false);
        if terminal && opts.console_socket.is_none() && !foreground {
            return Err(OciError::Invalid(
                "process.terminal is true: --console-socket is needed to receive the terminal".into(),
            ));
        }
        // socket activation: systemd's LISTEN_FDS descriptors go on to the process, which is PID 1
        let mut preserve_fds = opts.preserve_fds;
        if let Some(n) = std::env::var("LISTEN_FDS").ok().and_then(|v| v.parse::<u32>().ok()).filter(|n| *n > 0) {
            preserve_fds += n;
            let mut p = process.clone();
            let mut env = p.env().clone().unwrap_or_default();
            env.retain(|e| !e.starts_with("LISTEN_FDS=") && !e.starts_with("LISTEN_PID="));
            env.push(format!("LISTEN_FDS={n}"));
            env.push("LISTEN_PID=1".into());
            p.set_env(Some(env));
            spec.set_process(Some(p));
        }
        let config = dir.join("config.json");
        let bytes = serde_json::to_vec(&spec).expect("spec serializes");
        std::fs::write(&config, bytes).map_err(io(&config))?;
        let fifo = dir.join("exec.fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o622))
            .map_err(|e| OciError::Io { path: fifo.clone(), source: e.into() })?;
        crate::step!(
            super::OCI_BUNDLE,
            bundle = %bundle.display(),
            rootfs = %rootfs.display(),
            state = %dir.display(),
            fifo = %fifo.display()
        );

        let cgroup = cgroups::create_at(&cgroup_path(&spec, id, self.systemd_cgroup)?)?;
        // a cgroup that exists already: never one that is frozen (the init would hang in it);
        // one with processes is used, but theirs are not rrun's to kill if create fails
        if cgroup.is_frozen() {
            return Err(OciError::Invalid("container's cgroup unexpectedly frozen".into()));
        }
        let foreign = cgroup.pids().len();
        if foreign > 0 {
            warn!(id, "container's cgroup is not empty: {foreign} process(es) found");
        }
        let mut rec = Record {
            id: id.to_string(),
            bundle: bundle.clone(),
            rootfs: rootfs.clone(),
            pid: 0,
            pid_start_time: None,
            created: timestamp(),
            cgroup: cgroup.dirs(),
            annotations: spec.annotations().clone().unwrap_or_default(),
            started_at: None,
            shared_cgroup: foreign > 0,
        };
        let launched = (|| {
            if let Some(r) = spec.linux().as_ref().and_then(|l| l.resources().as_ref()) {
                cgroup.apply(&with_default_devices(r))?;
            }
            self.save(&rec)?;
            // relative mount sources are relative to the bundle
            std::env::set_current_dir(&bundle).map_err(io(&bundle))?;
            let state = |pid: i32| Runtime::hook_state(&rec, pid, Status::Creating);
            let cfg = LaunchConfig {
                spec: &spec,
                rootfs: RootfsSource::Directory(rootfs.clone()),
                init: false,
                stdio: StdioMode::Inherit,
                cgroup: Some(cgroup.as_ref()),
                // volumes are the engine's business
                engine: Default::default(),
                oci: Some(OciLaunch {
                    exec_fifo: &fifo,
                    preserve_fds,
                    no_pivot: opts.no_pivot,
                    keyring: (!opts.no_new_keyring).then(|| id.to_string()),
                    state: &state,
                    console_socket: opts.console_socket.as_deref(),
                    memory_policy: extras.memory_policy.clone(),
                }),
            };
            Ok::<_, OciError>(launcher::spawn(&cfg)?)
        })();
        let child = match launched {
            Ok(c) => c,
            Err(e) => {
                if foreign == 0 {
                    let _ = cgroup.kill_all();
                    let _ = cgroup.delete();
                }
                return Err(e);
            }
        };
        rec.pid = child.pid();
        rec.pid_start_time = crate::container::process_start_time(rec.pid);
        self.save(&rec)?;
        if let Some(pid_file) = &opts.pid_file {
            write_pid_file(pid_file, rec.pid)?;
        }
        debug!(id, pid = rec.pid, "container created; its init waits for start");
        Ok(child)
    }
}

/// The Spec's resources with runc's default device rules appended: the
/// standard nodes (null, zero, full, random, urandom, tty, console, ptmx,
/// pts, tun) and mknod of any node stay allowed whatever the engine's rules
/// say. Podman, for one, sends only "deny all" and counts on the runtime for
/// the rest (without them `podman run -t` cannot open /dev/ptmx).
pub(crate) fn with_default_devices(r: &LinuxResources) -> LinuxResources {
    let mut r = r.clone();
    if let Some(rules) = r.devices().as_ref().filter(|d| !d.is_empty()) {
        let mut rules = rules.clone();
        rules.extend(crate::spec::resources::default_device_rules().into_iter().filter(|d| d.allow()));
        r.set_devices(Some(rules));
    }
    r
}

/// Writes a PID file atomically (an engine may read it at any moment).
pub(crate) fn write_pid_file(path: &Path, pid: i32) -> Result<(), OciError> {
    crate::store::write_file_atomic(path, pid.to_string().as_bytes(), false).map_err(io(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec_with(path: Option<&str>) -> Spec {
        let mut spec = Spec::default();
        if let Some(p) = path {
            let mut linux = spec.linux().clone().unwrap_or_default();
            linux.set_cgroups_path(Some(p.into()));
            spec.set_linux(Some(linux));
        }
        spec
    }

    #[test]
    fn the_standard_devices_stay_allowed_after_an_engines_rules() {
        use oci_spec::runtime::{LinuxDeviceCgroupBuilder, LinuxResourcesBuilder};
        // Podman's whole list: deny everything
        let deny = LinuxDeviceCgroupBuilder::default().allow(false).access("rwm").build().unwrap();
        let r = LinuxResourcesBuilder::default().devices(vec![deny]).build().unwrap();
        let rules = with_default_devices(&r).devices().clone().unwrap();
        assert!(!rules[0].allow(), "the engine's rules come first");
        let allows = |major: i64, minor: i64| {
            rules.iter().any(|d| {
                d.allow() && d.major() == Some(major) && d.minor().is_none_or(|m| m == minor) && d.access().is_some()
            })
        };
        assert!(allows(5, 2), "ptmx");
        assert!(allows(136, 7), "pts");
        assert!(allows(1, 3), "null");
        // no device rules at all: nothing to add (every device is allowed already)
        assert!(with_default_devices(&LinuxResources::default()).devices().is_none());
    }

    #[test]
    fn cgroup_paths_follow_runc() {
        assert_eq!(cgroup_path(&spec_with(None), "x", false).unwrap(), "rrun/x");
        assert_eq!(cgroup_path(&spec_with(Some("/a/b")), "x", false).unwrap(), "/a/b");
        assert_eq!(
            cgroup_path(&spec_with(Some("machine-libpod.slice:libpod:abc")), "x", true).unwrap(),
            "/machine.slice/machine-libpod.slice/libpod-abc.scope"
        );
        assert_eq!(
            cgroup_path(&spec_with(Some("system.slice:ctr:7")), "x", true).unwrap(),
            "/system.slice/ctr-7.scope"
        );
        assert!(cgroup_path(&spec_with(Some("/not/systemd")), "x", true).is_err());
        assert!(cgroup_path(&spec_with(Some("user.slice:p:n")), "x", false).is_err());
    }
}
