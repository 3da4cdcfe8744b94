//! `checkpoint` and `restore` with CRIU (`criu dump` / `criu restore`), as
//! runc's verbs: the images and CRIU's logs go to `--image-path` (default
//! `./checkpoint`) and `--work-path` (default: the image path); the
//! container's bind mounts are external mounts of the dump, bound back from
//! their sources at restore; `descriptors.json` in the images names what the
//! init's stdio were, and at restore the caller's stdio take their place.
//!
//! rrun runs the `criu` program (`--criu PATH`) rather than its RPC service;
//! its failures are reported as runc reports them (`criu failed: type DUMP …`),
//! with the log file and the first error CRIU wrote there.

use super::{io, load_bundle_spec, timestamp, OciError, Record, Runtime, Status};
use oci_spec::runtime::{Mount, Spec};
use std::path::{Path, PathBuf};
use std::process::Command;
use tracing::debug;

/// What `checkpoint` and `restore` share, as runc spells them: where the
/// images are, and the CRIU flags that must match on both sides.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct CriuOptions {
    /// `--image-path`: where CRIU's images are written or read (default `./checkpoint`).
    pub image_path: Option<PathBuf>,
    /// `--work-path`: where CRIU writes its logs (default: the image path).
    pub work_path: Option<PathBuf>,
    /// `--tcp-established`: checkpoint established TCP connections.
    pub tcp_established: bool,
    /// `--ext-unix-sk`: allow external unix sockets.
    pub ext_unix_sk: bool,
    /// `--shell-job`: allow a process attached to a terminal outside the container.
    pub shell_job: bool,
    /// `--file-locks`: checkpoint file locks.
    pub file_locks: bool,
    /// `--manage-cgroups-mode`: `soft`, `full`, `strict` or `ignore`.
    pub manage_cgroups_mode: Option<String>,
    /// `--empty-ns`: namespace types CRIU creates empty instead of restoring.
    pub empty_ns: Vec<String>,
    /// `--auto-dedup`: deduplicate pages against the parent images.
    pub auto_dedup: bool,
    /// `--lazy-pages`: leave memory pages to be fetched on demand.
    pub lazy_pages: bool,
}

impl CriuOptions {
    /// The `criu` flags these options turn on.
    fn flags(&self) -> impl Iterator<Item = String> + '_ {
        [
            (self.tcp_established, "--tcp-established"),
            (self.ext_unix_sk, "--ext-unix-sk"),
            (self.shell_job, "--shell-job"),
            (self.file_locks, "--file-locks"),
            (self.lazy_pages, "--lazy-pages"),
            (self.auto_dedup, "--auto-dedup"),
        ]
        .into_iter()
        .filter(|(on, _)| *on)
        .map(|(_, f)| f.to_string())
    }
}

/// `checkpoint`'s options, as runc spells them.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct CheckpointOptions {
    /// What checkpoint and restore share.
    pub criu: CriuOptions,
    /// `--parent-path`: a previous (pre-)dump this one is incremental on.
    pub parent_path: Option<PathBuf>,
    /// `--leave-running`: the container goes on after the checkpoint.
    pub leave_running: bool,
    /// `--status-fd`: a descriptor CRIU writes to once the dump is done (lazy pages).
    pub status_fd: Option<i32>,
    /// `--page-server`: `ADDRESS:PORT` of a CRIU page server to send memory to.
    pub page_server: Option<String>,
    /// `--pre-dump`: dump memory only, leaving the container running.
    pub pre_dump: bool,
}

/// `restore`'s options, as runc spells them.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct RestoreOptions {
    /// What checkpoint and restore share.
    pub criu: CriuOptions,
    /// `--bundle`: the container's bundle, as at `create`.
    pub bundle: PathBuf,
    /// `--pid-file`: where to write the restored init's PID.
    pub pid_file: Option<PathBuf>,
    /// `--console-socket`: where the terminal's master side goes.
    pub console_socket: Option<PathBuf>,
    /// `--detach`: return once the container runs.
    pub detach: bool,
    /// `--no-pivot`: as [`CreateOptions::no_pivot`](super::CreateOptions::no_pivot).
    pub no_pivot: bool,
    /// `--lsm-profile`: the LSM (AppArmor/SELinux) label to restore with.
    pub lsm_profile: Option<String>,
    /// `--lsm-mount-context`: the SELinux mount context to restore with.
    pub lsm_mount_context: Option<String>,
}

/// The image and work directories: given, or `./checkpoint`; made 0700.
fn dirs(image: Option<&Path>, work: Option<&Path>) -> Result<(PathBuf, PathBuf), OciError> {
    let cwd = std::env::current_dir().map_err(io(Path::new(".")))?;
    let image = cwd.join(image.unwrap_or(Path::new("checkpoint")));
    let work = work.map(|w| cwd.join(w)).unwrap_or_else(|| image.clone());
    for d in [&image, &work] {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(d).map_err(io(d))?;
    }
    Ok((image, work))
}

fn manage_cgroups_mode(mode: Option<&str>) -> Result<&str, OciError> {
    match mode.unwrap_or("soft") {
        m @ ("soft" | "full" | "strict" | "ignore") => Ok(m),
        other => {
            Err(OciError::Invalid(format!("invalid --manage-cgroups-mode {other:?}: soft, full, strict or ignore")))
        }
    }
}

fn empty_ns(names: &[String]) -> Result<Vec<String>, OciError> {
    names
        .iter()
        .map(|n| match n.as_str() {
            "network" | "net" => Ok("--empty-ns".to_string() + "\0net"),
            other => Err(OciError::Invalid(format!("--empty-ns {other:?}: only network is supported (as with runc)"))),
        })
        .collect()
}

/// Bind mounts are outside the dump: CRIU is told their destination, and at
/// restore where to bind them from.
fn is_bind(m: &Mount) -> bool {
    m.typ().as_deref() == Some("bind") || m.options().iter().flatten().any(|o| o == "bind" || o == "rbind")
}

/// The first error line CRIU wrote to its log.
fn first_error(log: &Path) -> Option<String> {
    std::fs::read_to_string(log).ok()?.lines().find(|l| l.contains("Error (")).map(|l| l.trim().to_string())
}

/// Starts CRIU with `args` (an option and its value joined by a NUL).
fn run_criu(criu: &Path, kind: &str, args: &[String]) -> Result<std::process::Child, OciError> {
    debug!(criu = %criu.display(), ?args, "run CRIU");
    let mut cmd = Command::new(criu);
    for a in args {
        cmd.args(a.split('\0'));
    }
    cmd.stdout(std::process::Stdio::null());
    cmd.spawn().map_err(|e| {
        OciError::Invalid(format!("criu failed: type {kind}: cannot run {}: {e} (is CRIU installed?)", criu.display()))
    })
}

/// A failed CRIU run in runc's words, with the log and the first error in it.
fn criu_failed(kind: &str, status: std::process::ExitStatus, log: &Path) -> OciError {
    let first = first_error(log).map(|e| format!(": {e}")).unwrap_or_default();
    OciError::Invalid(format!("criu failed: type {kind} ({status})\nlog file: {}{first}", log.display()))
}

impl Runtime {
    /// Checkpoints a running container into its image directory; without
    /// `leave_running` (or with `pre_dump`) it stops, and its state goes.
    pub fn checkpoint(&self, id: &str, criu: &Path, o: &CheckpointOptions) -> Result<(), OciError> {
        let rec = self.record(id)?;
        let status = self.status_of(&rec);
        if status != Status::Running && status != Status::Paused {
            return Err(OciError::NotRunning { id: id.to_string(), action: "checkpoint" });
        }
        let mode = manage_cgroups_mode(o.criu.manage_cgroups_mode.as_deref())?;
        let empty = empty_ns(&o.criu.empty_ns)?;
        if o.status_fd.is_some() && !o.criu.lazy_pages {
            return Err(OciError::Invalid("--status-fd needs --lazy-pages".into()));
        }
        let page_server = match &o.page_server {
            Some(ps) => {
                let (addr, port) = ps
                    .rsplit_once(':')
                    .ok_or_else(|| OciError::Invalid(format!("--page-server {ps:?}: expected ADDRESS:PORT")))?;
                port.parse::<u16>().map_err(|_| OciError::Invalid(format!("--page-server {ps:?}: bad port")))?;
                Some((addr.to_string(), port.to_string()))
            }
            None => None,
        };
        let (image, work) = dirs(o.criu.image_path.as_deref(), o.criu.work_path.as_deref())?;
        let spec = self.config(id)?;
        // what the init's stdio were, for restore (runc's descriptors.json)
        let fds: Vec<String> = (0..3)
            .map(|n| {
                std::fs::read_link(format!("/proc/{}/fd/{n}", rec.pid))
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|_| "/dev/null".into())
            })
            .collect();
        let descriptors = image.join("descriptors.json");
        std::fs::write(&descriptors, serde_json::to_vec(&fds).expect("serializes")).map_err(io(&descriptors))?;

        let kind = if o.pre_dump { "PRE_DUMP" } else { "DUMP" };
        let log = work.join(if o.pre_dump { "pre-dump.log" } else { "dump.log" });
        let mut args: Vec<String> = vec![
            if o.pre_dump { "pre-dump" } else { "dump" }.into(),
            format!("--tree\0{}", rec.pid),
            format!("--images-dir\0{}", image.display()),
            format!("--work-dir\0{}", work.display()),
            format!("--log-file\0{}", log.display()),
            "-v4".into(),
            format!("--root\0{}", rec.rootfs.display()),
            format!("--manage-cgroups={mode}"),
        ];
        let flag = |on: bool, f: &str, args: &mut Vec<String>| {
            if on {
                args.push(f.into())
            }
        };
        flag(o.leave_running || o.pre_dump, "--leave-running", &mut args);
        flag(o.pre_dump, "--track-mem", &mut args);
        args.extend(o.criu.flags());
        if let Some(fd) = o.status_fd {
            args.push(format!("--status-fd\0{fd}"));
        }
        if let Some((addr, port)) = page_server {
            args.push("--page-server".into());
            args.push(format!("--address\0{addr}"));
            args.push(format!("--port\0{port}"));
        }
        if let Some(p) = &o.parent_path {
            args.push(format!("--prev-images-dir\0{}", p.display()));
        }
        for m in spec.mounts().iter().flatten().filter(|m| is_bind(m)) {
            let d = m.destination().display();
            args.push(format!("--external\0mnt[{d}]:{d}"));
        }
        args.extend(empty);
        let st = run_criu(criu, kind, &args)?.wait().map_err(|e| OciError::Invalid(format!("criu: {e}")))?;
        if !st.success() {
            return Err(criu_failed(kind, st, &log));
        }
        if !(o.leave_running || o.pre_dump) {
            self.delete(id, true)?;
        }
        Ok(())
    }

    /// Restores a container from its images and bundle; returns its exit
    /// code (0 at once with `detach`).
    pub fn restore(&self, id: &str, criu: &Path, o: &RestoreOptions) -> Result<i32, OciError> {
        let dir = self.dir(id)?;
        let mode = manage_cgroups_mode(o.criu.manage_cgroups_mode.as_deref())?.to_string();
        let empty = empty_ns(&o.criu.empty_ns)?;
        if o.lsm_profile.is_some() || o.lsm_mount_context.is_some() {
            // the labels must be applicable, as for create
            let mut p = oci_spec::runtime::Process::default();
            p.set_apparmor_profile(o.lsm_profile.as_ref().and_then(|l| l.strip_prefix("apparmor:").map(String::from)));
            p.set_selinux_label(o.lsm_profile.as_ref().and_then(|l| l.strip_prefix("selinux:").map(String::from)));
            crate::launcher::lsm::check(&p)?;
            crate::launcher::lsm::check_mount_label(o.lsm_mount_context.as_deref())?;
        }
        let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
        let pid_file = o.pid_file.as_deref().map(absolute);
        let (image, work) = dirs(o.criu.image_path.as_deref(), o.criu.work_path.as_deref())?;
        if !image.join("inventory.img").exists() {
            return Err(OciError::Invalid(format!("{}: no checkpoint images here (inventory.img)", image.display())));
        }
        let bundle = o
            .bundle
            .canonicalize()
            .map_err(|e| OciError::Bundle { bundle: o.bundle.clone(), reason: format!("cannot open it: {e}") })?;
        let (spec, _) = load_bundle_spec(&bundle.join("config.json"))?;
        let rootfs = bundle.join(spec.root().as_ref().map(|r| r.path().clone()).unwrap_or_default());
        std::fs::create_dir_all(self.root()).map_err(io(self.root()))?;
        match std::fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Err(OciError::Exists(id.to_string())),
            Err(e) => return Err(OciError::Io { path: dir, source: e }),
        }
        let result = self.restore_in(id, &dir, criu, o, &spec, &bundle, &rootfs, &image, &work, &mode, empty, pid_file);
        if result.is_err() {
            let _ = std::fs::remove_dir_all(&dir);
        }
        result
    }

    #[allow(clippy::too_many_arguments)]
    fn restore_in(
        &self,
        id: &str,
        dir: &Path,
        criu: &Path,
        o: &RestoreOptions,
        spec: &Spec,
        bundle: &Path,
        rootfs: &Path,
        image: &Path,
        work: &Path,
        mode: &str,
        empty: Vec<String>,
        pid_file: Option<PathBuf>,
    ) -> Result<i32, OciError> {
        let config = dir.join("config.json");
        std::fs::write(&config, serde_json::to_vec(spec).expect("spec serializes")).map_err(io(&config))?;
        let cgroup = crate::cgroups::create_at(&super::create::cgroup_path(spec, id, self.systemd_cgroup)?)?;
        let mut rec = Record {
            id: id.to_string(),
            bundle: bundle.to_path_buf(),
            rootfs: rootfs.to_path_buf(),
            pid: 0,
            pid_start_time: None,
            created: timestamp(),
            cgroup: cgroup.dirs(),
            annotations: spec.annotations().clone().unwrap_or_default(),
            started_at: Some(timestamp()),
            shared_cgroup: false,
        };
        let restored = (|| {
            if let Some(r) = spec.linux().as_ref().and_then(|l| l.resources().as_ref()) {
                cgroup.apply(&super::create::with_default_devices(r))?;
            }
            self.save(&rec)?;
            let log = work.join("restore.log");
            let pidfile = work.join("restore.pid");
            let _ = std::fs::remove_file(&pidfile);
            let mut args: Vec<String> = vec![
                "restore".into(),
                format!("--images-dir\0{}", image.display()),
                format!("--work-dir\0{}", work.display()),
                format!("--log-file\0{}", log.display()),
                "-v4".into(),
                format!("--root\0{}", rootfs.display()),
                // detached, CRIU lets go of it; else it is rrun's child, to wait for
                if o.detach { "--restore-detached" } else { "--restore-sibling" }.into(),
                format!("--pidfile\0{}", pidfile.display()),
                format!("--manage-cgroups={mode}"),
            ];
            args.extend(o.criu.flags());
            if let Some(p) = &o.lsm_profile {
                args.push(format!("--lsm-profile\0{p}"));
            }
            if let Some(c) = &o.lsm_mount_context {
                args.push(format!("--lsm-mount-context\0{c}"));
            }
            for m in spec.mounts().iter().flatten().filter(|m| is_bind(m)) {
                let src = m.source().as_ref().map(|s| bundle.join(s)).unwrap_or_default();
                args.push(format!("--external\0mnt[{}]:{}", m.destination().display(), src.display()));
            }
            // the init's stdio pipes become the caller's (runc's --inherit-fd)
            let saved: Vec<String> = std::fs::read(image.join("descriptors.json"))
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or_default();
            for (n, target) in saved.iter().enumerate().filter(|(_, t)| t.starts_with("pipe:")) {
                args.push(format!("--inherit-fd\0fd[{n}]:{target}"));
            }
            args.extend(empty);
            let st = run_criu(criu, "RESTORE", &args)?.wait().map_err(|e| OciError::Invalid(format!("criu: {e}")))?;
            if !st.success() {
                return Err(criu_failed("RESTORE", st, &log));
            }
            let pid: i32 = std::fs::read_to_string(&pidfile)
                .ok()
                .and_then(|p| p.trim().parse().ok())
                .ok_or_else(|| OciError::Invalid(format!("criu restore wrote no PID to {}", pidfile.display())))?;
            Ok::<i32, OciError>(pid)
        })();
        let pid = match restored {
            Ok(p) => p,
            Err(e) => {
                let _ = cgroup.kill_all();
                let _ = cgroup.delete();
                return Err(e);
            }
        };
        rec.pid = pid;
        rec.pid_start_time = crate::container::process_start_time(pid);
        self.save(&rec)?;
        if let Some(p) = &pid_file {
            super::create::write_pid_file(p, pid)?;
        }
        if o.detach {
            return Ok(0);
        }
        // --restore-sibling: the restored init is rrun's child
        let code = match nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None) {
            Ok(nix::sys::wait::WaitStatus::Exited(_, c)) => c,
            Ok(nix::sys::wait::WaitStatus::Signaled(_, s, _)) => 128 + s as i32,
            _ => 0,
        };
        self.delete(id, true)?;
        Ok(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_checked_before_criu_runs() {
        assert_eq!(manage_cgroups_mode(None).unwrap(), "soft");
        assert_eq!(manage_cgroups_mode(Some("strict")).unwrap(), "strict");
        assert!(manage_cgroups_mode(Some("loose")).unwrap_err().to_string().contains("soft, full, strict"));
        assert_eq!(empty_ns(&["network".into()]).unwrap(), vec!["--empty-ns\0net".to_string()]);
        assert!(empty_ns(&["pid".into()]).is_err());
    }

    #[test]
    fn the_first_criu_error_is_quoted() {
        let d_tmp = tempfile::tempdir().unwrap();
        let d = d_tmp.path().to_path_buf();
        let log = d.join("dump.log");
        std::fs::write(&log, "(00.01) hello\n(00.02) Error (criu/vdso.c:613): vdso: Failed to fill self vdso symtable\n(00.03) Error (x): later\n").unwrap();
        let e = first_error(&log).unwrap();
        assert_eq!(e, "(00.02) Error (criu/vdso.c:613): vdso: Failed to fill self vdso symtable");
    }
}
