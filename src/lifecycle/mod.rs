//! Container lifecycle on top of the store, with no daemon: create (record,
//! rootfs dirs, Spec), run in the foreground, remove. `monitor` runs
//! containers detached, `attach` connects to them, `health` checks them,
//! `control` stops, kills, pauses, updates and inspects them, `exec`
//! starts more processes in them. Each operation is recorded in the event
//! journal (`events`).

mod attach;
mod control;
mod copy;
mod exec;
mod fs;
mod health;
mod inspect;
mod monitor;
mod net;
mod networks;
mod plan;
mod registry;
mod spawn;
mod steps;
mod update;
mod volumes;

pub use attach::AttachOptions;
pub use control::{ContainerStats, LogOptions, TopOutput};
pub use copy::{CopyHost, CopyOptions};
pub use exec::{ExecOptions, RunningProcess};
pub use fs::{ChangeKind, CommitOptions, FsChange, FsError};
pub use inspect::{
    ContainerConfig, ContainerInspect, ContainerState, EndpointSettings, GraphDriver, HostConfig, IpamConfig,
    LogConfig, MountPoint, NetworkSettings, PortBinding, RestartPolicyConfig, Ulimit,
};
pub use plan::{DryRun, PlannedVolume};
pub use spawn::RunningContainer;
pub use steps::STEPS;
pub use update::UpdateOptions;

use crate::container::{self, update_record, ContainerRecord, Status};
use crate::launcher::{self, Child, ExitStatus, LaunchConfig, StdinMode, StdioMode, Stream};
use crate::spec::{self, EtcFiles, NetworkMode, RunOptions, SpecInput, Streams};
use crate::{io_error, rootfs, Error, Rrun};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tracing::info;

/// Created in a container's directory by `stop` and `rm -f`: its monitor must not restart it.
pub(crate) const STOP_MARKER: &str = "stop-requested";

/// What a container takes on disk (`ps --size`).
#[derive(Debug, Clone, Copy, serde::Serialize)]
#[non_exhaustive]
pub struct ContainerSize {
    /// Its writable (upper) layer, in bytes.
    pub writable: u64,
    /// The image's layers and the writable layer, in bytes.
    pub root_fs: u64,
}

/// How a foreground container ended (`run`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunOutcome {
    /// The container's exit code (128+N for signal N).
    pub code: i32,
    /// The kernel's OOM killer killed a process of it.
    pub oom_killed: bool,
    /// Its memory limit in bytes, if it had one.
    pub memory_limit: Option<u64>,
}

/// A created container, ready to start.
#[derive(Debug, Clone)]
pub struct Container {
    /// What the store keeps about it.
    pub record: ContainerRecord,
    /// Its directory in the store (`containers/<id>/`).
    pub dir: PathBuf,
    /// Its OCI runtime spec (`config.json`).
    pub spec: oci_spec::runtime::Spec,
    /// The cgroup its record already names, when this process created it to run it.
    pub(crate) planned: Option<crate::cgroups::Planned>,
}

impl Rrun {
    /// All container records (stale "running" ones reported as exited).
    pub fn containers(&self) -> Result<Vec<ContainerRecord>, Error> {
        let _lock = self.store().lock_shared()?;
        self.containers_unlocked()
    }

    pub(crate) fn containers_unlocked(&self) -> Result<Vec<ContainerRecord>, Error> {
        let dir = self.store().containers_dir();
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&dir).map_err(io_error(&dir))?.flatten() {
            if let Some(rec) = container::read_record(&entry.path()) {
                out.push(rec.resolved());
            }
        }
        out.sort_by(|a, b| b.created.cmp(&a.created));
        Ok(out)
    }

    /// Bytes a container adds to its image (its upper layer), and its whole
    /// root filesystem (image and upper layer), as `ps --size` shows them.
    pub fn container_size(&self, c: &ContainerRecord) -> Result<ContainerSize, Error> {
        let upper = self.store().container_dir(&c.id).join("upper");
        let writable = crate::store::tree_size(&upper);
        let image = self.image(&c.image_manifest.to_string()).map(|i| i.size).unwrap_or(0);
        Ok(ContainerSize { writable, root_fs: writable + image })
    }

    /// Finds a container by name, full ID or unique ID prefix.
    pub fn container(&self, name_or_id: &str) -> Result<ContainerRecord, Error> {
        let all = self.containers()?;
        find(&all, name_or_id).cloned()
    }

    /// Creates a container from an image: its record, rootfs directories,
    /// `/etc` files, volumes and runtime Spec. Nothing runs yet, so any
    /// process may call it; [`Rrun::start`] runs it.
    pub fn create(&self, image_name: &str, opts: &RunOptions) -> Result<Container, Error> {
        self.create_as(image_name, opts, false)
    }

    /// [`Rrun::create`]; with `owned`, the calling process goes on to run the
    /// container: the record names it as the container's owner and names the
    /// cgroup it will make, before anything exists, so that if this process
    /// is killed, the next command finds what to clean up (see `reconcile`).
    pub(crate) fn create_as(&self, image_name: &str, opts: &RunOptions, owned: bool) -> Result<Container, Error> {
        // --cidfile: taken before anything is made (an existing one is refused), written once created
        let cidfile =
            match &opts.cidfile {
                Some(path) => Some(std::fs::OpenOptions::new().write(true).create_new(true).open(path).map_err(
                    |e| match e.kind() {
                        std::io::ErrorKind::AlreadyExists => Error::CidFileExists(path.clone()),
                        _ => Error::Io { path: path.clone(), source: e },
                    },
                )?),
                None => None,
            };
        let mut new_volumes = Vec::new();
        let result = self.create_inner(image_name, opts, &mut new_volumes, owned, false);
        match (&result, cidfile, &opts.cidfile) {
            (Ok(c), Some(mut f), Some(path)) => {
                use std::io::Write;
                f.write_all(c.record.id.as_bytes()).map_err(io_error(path))?;
            }
            (Err(_), _, Some(path)) => {
                let _ = std::fs::remove_file(path);
            }
            _ => {}
        }
        if result.is_err() {
            // anonymous volumes made for a container that does not exist
            self.remove_anonymous_volumes(&new_volumes);
        }
        result
    }

    /// `dry`: only work out the container (`--dry-run`): nothing is written,
    /// no volume is made; the Container returned was never created.
    fn create_inner(
        &self,
        image_name: &str,
        opts: &RunOptions,
        new_volumes: &mut Vec<container::VolumeUse>,
        owned: bool,
        dry: bool,
    ) -> Result<Container, Error> {
        let image = self.image(image_name)?;
        if image.layers.is_empty() {
            return Err(Error::BadImage { image: image_name.to_string(), reason: "it has no layers".into() });
        }
        crate::step!(
            crate::image::IMAGE_LOOKUP,
            name = image_name,
            manifest = %image.manifest,
            config = %image.config,
            layers = image.layers.len()
        );
        let config = self.image_config(&image)?;
        let run_config = config.config.clone().unwrap_or_default();
        crate::step!(
            crate::image::IMAGE_CONFIG,
            path = %self.store().blob_path(&image.config).display(),
            entrypoint = %json(&run_config.entrypoint),
            cmd = %json(&run_config.cmd),
            env = %json(&run_config.env),
            working_dir = run_config.working_dir.as_deref().unwrap_or(""),
            user = run_config.user.as_deref().unwrap_or("")
        );
        let id = container::new_id();
        let name = match &opts.name {
            Some(n) if !container::valid_name(n) => return Err(Error::InvalidName(n.clone())),
            Some(n) => n.clone(),
            None => container::generated_name(&id),
        };
        let layer_dirs: Vec<PathBuf> =
            image.layers.iter().rev().map(|l| self.store().layer_dir(&l.diff_id).join("diff")).collect();
        let passwd = rootfs::read_through_layers(&layer_dirs, "etc/passwd", 4 << 20).unwrap_or_default();
        let group = rootfs::read_through_layers(&layer_dirs, "etc/group", 4 << 20).unwrap_or_default();
        let group = String::from_utf8_lossy(&group);
        let user_str = opts.user.clone().or(run_config.user.clone()).unwrap_or_default();
        let mut user = spec::resolve_user(&user_str, &String::from_utf8_lossy(&passwd), &group)?;
        for gid in spec::options::resolve_group_add(&opts.group_add, &group)? {
            if !user.additional_gids.contains(&gid) {
                user.additional_gids.push(gid);
            }
        }
        check_ulimits(&opts.ulimits)?;
        if let Some(adj) = opts.oom_score_adj {
            check_oom_score_adj(adj)?;
        }
        if let Some(s) = &opts.stop_signal {
            s.parse::<crate::Signal>().map_err(|e| Error::InvalidSignal(e.0))?;
        }
        let (mut joined, joined_hostname) = self.joined_namespaces(opts)?;
        // --network: checked now (an unknown network or a port in use creates nothing)
        let net = self.choose_network(opts, &run_config, &id, owned)?;
        if let Some(path) = &net.netns {
            joined.push((oci_spec::runtime::LinuxNamespaceType::Network, path.clone()));
        }
        let host_name =
            || nix::unistd::gethostname().map(|h| h.to_string_lossy().into_owned()).unwrap_or_else(|_| id[..12].into());
        let hostname = match (&opts.hostname, &net.mode, &opts.uts) {
            (Some(h), _, _) => h.clone(),
            (None, _, spec::NamespaceMode::Host) => host_name(),
            (None, _, spec::NamespaceMode::Container(_)) => joined_hostname.unwrap_or_else(host_name),
            (None, NetworkMode::Host, _) => host_name(),
            // the network's owner's name, as Docker gives it
            (None, NetworkMode::Container(_), _) => {
                net.other.as_ref().and_then(|(h, _)| h.clone()).unwrap_or_else(|| id[..12].to_string())
            }
            (None, _, _) => id[..12].to_string(),
        };

        // -v, --mount and the image's Volumes: volumes are named (anonymous ones randomly) and made
        let mut opts = opts.clone();
        opts.network = net.mode.clone();
        for path in run_config.volumes.iter().flat_map(|v| v.keys()) {
            let taken = opts.mounts.iter().map(|m| &m.destination).chain(opts.tmpfs.iter().map(|t| &t.destination));
            match spec::MountRequest::from_volume_flag(path) {
                Ok(m) if !taken.clone().any(|d| *d == m.destination) => opts.mounts.push(m),
                Ok(_) => {}
                Err(e) => tracing::warn!(image = image_name, volume = %path, error = %e, "image volume ignored"),
            }
        }
        let mut volume_dirs = BTreeMap::new();
        let mut volumes = Vec::new();
        for m in opts.mounts.iter_mut() {
            match &mut m.source {
                spec::MountSource::Bind { path, .. } if !path.exists() => {
                    return Err(Error::Spec(spec::SpecError::Volume {
                        spec: format!("{}:{}", path.display(), m.destination.display()),
                        reason: "the host path does not exist".into(),
                    }));
                }
                spec::MountSource::Volume { name, nocopy, labels } => {
                    let anonymous = name.is_none();
                    let mut labels = labels.clone();
                    if anonymous {
                        labels.insert(crate::volume::ANONYMOUS_LABEL.into(), String::new());
                    }
                    let req = crate::volume::CreateVolume { name: name.clone(), labels, ..Default::default() };
                    let (v, created) =
                        if dry { crate::volume::planned(self.store(), &req)? } else { self.ensure_volume(&req)? };
                    *name = Some(v.name.clone());
                    let used = container::VolumeUse {
                        name: v.name.clone(),
                        destination: m.destination.clone(),
                        anonymous,
                        read_only: m.read_only,
                        copy_up: !*nocopy,
                    };
                    if created && anonymous {
                        new_volumes.push(used.clone());
                    }
                    volume_dirs.insert(v.name.clone(), v.source());
                    volumes.push(used);
                }
                _ => {}
            }
        }
        let opts = &opts;
        let dir = self.store().container_dir(&id);
        let etc =
            EtcFiles { hosts: dir.join("hosts"), hostname: dir.join("hostname"), resolv_conf: dir.join("resolv.conf") };
        let (hosts, resolv) = self.initial_etc(&net, &hostname)?;
        let devices = opts.limits.devices.iter().map(host_device).collect::<Result<Vec<_>, _>>()?;
        let seccomp = seccomp_profile(opts)?;
        let mut oci = spec::build(&SpecInput {
            image: &run_config,
            options: opts,
            user: &user,
            hostname: &hostname,
            rootfs: &dir.join("rootfs"),
            etc: &etc,
            devices: &devices,
            seccomp,
            volume_dirs: &volume_dirs,
            joined: &joined,
        })?;
        // CDI devices (--device VENDOR/CLASS=NAME, --gpus): their specs' edits
        for problem in crate::cdi::inject(&mut oci, &opts.cdi_devices, &opts.gpus, &opts.cdi_spec_dirs)? {
            tracing::warn!("{problem}");
        }
        if crate::rootless::active().is_some() {
            // refused before anything exists, rather than by the cgroup at start
            let resources = oci.linux().as_ref().and_then(|l| l.resources().as_ref());
            if let Some(flag) = resources.and_then(crate::cgroups::none::first_limit) {
                // unless a cgroup v2 subtree is delegated to the user, where limits work
                let why = match crate::cgroups::Layout::detect() {
                    Ok(l) => crate::cgroups::delegated(&l).err(),
                    Err(_) => Some(crate::cgroups::none::why("none")),
                };
                if let Some(why) = why {
                    return Err(crate::cgroups::CgroupError::NoDelegation { what: flag.into(), why }.into());
                }
            }
        }
        let me = std::process::id() as i32;
        let planned = if owned && !dry { Some(crate::cgroups::plan(&id)?) } else { None };
        let record = ContainerRecord {
            restart_policy: opts.restart,
            restart_count: 0,
            stop_signal: opts.stop_signal.clone().or(run_config.stop_signal.clone()),
            stop_timeout: opts.stop_timeout,
            labels: spec::options::merge_labels(run_config.labels.as_ref(), &opts.labels),
            volumes,
            init: opts.init,
            log_max_size: opts.log_max_size.unwrap_or(crate::logs::DEFAULT_MAX_SIZE),
            paused: false,
            error: None,
            monitor_pid: owned.then_some(me),
            monitor_start_time: if owned { container::process_start_time(me) } else { None },
            id: id.clone(),
            name: name.clone(),
            image: image_name.to_string(),
            image_manifest: image.manifest.clone(),
            image_id: image.config.clone(),
            layers: image.layers.iter().map(|l| l.diff_id.clone()).collect(),
            command: oci.process().as_ref().and_then(|p| p.args().clone()).unwrap_or_default(),
            created: container::now_rfc3339(),
            auto_remove: opts.remove,
            status: Status::Created,
            pid: None,
            pid_start_time: None,
            exit_code: None,
            started_at: None,
            finished_at: None,
            cgroup: planned.as_ref().map(|p| p.dirs().to_vec()).unwrap_or_default(),
            oom_killed: false,
            log_driver: opts.log_driver,
            open_stdin: opts.interactive,
            healthcheck: health::resolve(run_config.healthcheck.as_ref(), opts.healthcheck.as_ref()),
            health: None,
            ports: Vec::new(),
            network: net.request,
            network_state: None,
            endpoints: Vec::new(),
        };
        if dry {
            return Ok(Container { record, dir, spec: oci, planned });
        }

        // build everything in staging, then rename into place under the lock
        let staging = self.store().staging("container")?;
        let sdir = staging.path().to_path_buf();
        for sub in ["upper", "work", "rootfs"] {
            let p = sdir.join(sub);
            std::fs::create_dir(&p).map_err(io_error(&p))?;
        }
        crate::step!(
            steps::CONTAINER_DIRS,
            upper = %dir.join("upper").display(),
            work = %dir.join("work").display(),
            rootfs = %dir.join("rootfs").display()
        );
        write(&sdir.join("hosts"), hosts.as_bytes())?;
        write(&sdir.join("hostname"), format!("{hostname}\n").as_bytes())?;
        write(&sdir.join("resolv.conf"), resolv.as_bytes())?;
        crate::step!(steps::ETC_FILES, dir = %dir.display(), hostname = %hostname, files = "hosts hostname resolv.conf");
        let spec_json = serde_json::to_vec_pretty(&oci).expect("spec serializes");
        write(&sdir.join("config.json"), &spec_json)?;
        crate::step!(
            steps::WRITE_SPEC,
            path = %dir.join("config.json").display(),
            args = %json(&oci.process().as_ref().and_then(|p| p.args().clone()).unwrap_or_default()),
            bytes = spec_json.len()
        );
        write(&sdir.join("container.json"), &serde_json::to_vec_pretty(&record).expect("record serializes"))?;

        let _lock = self.store().lock_exclusive()?;
        let existing = self.containers_unlocked()?;
        if let Some(other) = existing.iter().find(|c| c.name == name) {
            if other.auto_remove && other.status == Status::Exited && !other.monitor_alive() {
                // a --rm container whose rrun was killed: finish its removal now
                self.cleanup_stale(other);
                self.store().remove_dir(&self.store().container_dir(&other.id))?;
            } else {
                return Err(Error::NameInUse { name, id: other.id.clone() });
            }
        }
        // the image, or a volume, may have been removed while we prepared
        if !self.store().read_index()?.images.contains_key(&image.manifest) {
            return Err(Error::ImageNotFound(image_name.to_string()));
        }
        if let Some(gone) = record.volumes.iter().find(|v| self.volume_unlocked(&v.name).is_err()) {
            return Err(crate::volume::VolumeError::NotFound(gone.name.clone()).into());
        }
        self.store().commit(staging, None, &dir)?;
        drop(_lock);
        info!(id = %id, name = %name, image = image_name, "container created");
        self.emit_container(&record, "create", &[]);
        Ok(Container { record, dir, spec: oci, planned })
    }

    /// Creates and runs a container in the foreground: signals are forwarded,
    /// the terminal relayed, the output logged; returns the container's exit
    /// code (128+N for signal N).
    /// From a process with other threads it returns
    /// `Error::Launch(`[`LaunchError::MultiThreaded`](crate::LaunchError::MultiThreaded)`)`
    /// before it creates anything.
    pub fn run(&self, image_name: &str, opts: &RunOptions) -> Result<i32, Error> {
        self.run_outcome(image_name, opts).map(|o| o.code)
    }

    /// [`Rrun::run`], saying also whether the kernel's OOM killer ended the
    /// container, and its memory limit (the CLI tells the user why it died).
    /// From a process with other threads it returns
    /// `Error::Launch(`[`LaunchError::MultiThreaded`](crate::LaunchError::MultiThreaded)`)`
    /// before it creates anything.
    pub fn run_outcome(&self, image_name: &str, opts: &RunOptions) -> Result<RunOutcome, Error> {
        let shown = match opts.stdio {
            crate::Stdio::Null => Shown::Nowhere,
            crate::Stdio::Piped => return Err(pipes_refused("run")),
            _ => Shown::Streams(opts.attach.unwrap_or(Streams { stdin: opts.interactive, stdout: true, stderr: true })),
        };
        self.run_shown(image_name, opts, shown)
    }

    /// Creates and runs a container in the foreground as [`Rrun::run`] does,
    /// and returns all it wrote to stdout and stderr with its exit code,
    /// whatever [`RunOptions::stdio`] says (stdin: the caller's with
    /// `interactive`, else `/dev/null`). Both streams are read while it runs:
    /// a container that writes much to either never blocks.
    /// From a process with other threads it returns
    /// `Error::Launch(`[`LaunchError::MultiThreaded`](crate::LaunchError::MultiThreaded)`)`
    /// before it creates anything.
    pub fn output(&self, image_name: &str, opts: &RunOptions) -> Result<crate::Output, Error> {
        let mut out = crate::Output::default();
        let outcome = self.run_shown(image_name, opts, Shown::Buffers(&mut out.stdout, &mut out.stderr))?;
        out.status = outcome.code;
        Ok(out)
    }

    fn run_shown(&self, image_name: &str, opts: &RunOptions, shown: Shown<'_>) -> Result<RunOutcome, Error> {
        crate::launcher::ensure_single_threaded()?;
        let with_tty;
        let opts = if opts.stdio == crate::Stdio::Pty && !opts.tty {
            with_tty = RunOptions { tty: true, ..opts.clone() };
            &with_tty
        } else {
            opts
        };
        let c = self.create_as(image_name, opts, true)?;
        let result = self.start_foreground(&c, opts.interactive, shown);
        let oom_killed = result.is_ok() && container::read_record(&c.dir).is_some_and(|r| r.oom_killed);
        if opts.remove {
            self.destroy(&c.record);
            self.remove_anonymous_volumes(&c.record.volumes);
        }
        let memory_limit = c
            .spec
            .linux()
            .as_ref()
            .and_then(|l| l.resources().as_ref())
            .and_then(|r| r.memory().as_ref())
            .and_then(|m| m.limit())
            .filter(|l| *l > 0)
            .map(|l| l as u64);
        result.map(|code| RunOutcome { code, oom_killed, memory_limit })
    }

    /// Removes a container that has ended, and says so in the journal.
    pub(crate) fn destroy(&self, c: &ContainerRecord) {
        crate::step!(steps::REMOVE_CONTAINER, path = %self.store().container_dir(&c.id).display());
        match self.store().remove_dir(&self.store().container_dir(&c.id)) {
            Ok(()) => {
                self.emit_container(c, "destroy", &[]);
                self.collect_orphaned_layers(c);
            }
            Err(e) => tracing::warn!(id = %c.id, error = %e, "removing the container"),
        }
    }

    /// Runs a created (or exited) container with this process as its
    /// monitor: its output goes to `streams` of this process (and to its
    /// log), relayed through pipes by this process, which waits anyway.
    fn start_foreground(&self, c: &Container, interactive: bool, mut shown: Shown<'_>) -> Result<i32, Error> {
        // a container this process created to run already names it as its owner
        if c.record.monitor_pid != Some(std::process::id() as i32) {
            self.claim_monitor(c)?;
        }
        let mut log = self.open_log(c)?;
        let interactive = interactive && shown.stdin();
        let relayed = log.is_some() || shown.relayed();
        let stdio = match (relayed, interactive) {
            (true, true) => StdioMode::Capture(StdinMode::Inherit),
            (true, false) => StdioMode::Capture(StdinMode::Null),
            (false, true) => StdioMode::Inherit,
            (false, false) => StdioMode::NullStdin,
        };
        let result = self.run_to_exit(
            c,
            stdio,
            || {},
            |child| {
                // a reader of our output that goes away must not end us, the container's parent
                launcher::process::ignore_sigpipe();
                child.wait_output(interactive, &mut |stream, bytes| {
                    if let Some(l) = log.as_mut() {
                        let _ = l.write(stream, bytes);
                    }
                    shown.write(stream, bytes)
                })
            },
        );
        if let Some(l) = log.as_mut() {
            let _ = l.flush_partial();
        }
        result
    }

    /// Records the calling process as the one that watches the container;
    /// fails when the container is gone (the next command removed a `--rm`
    /// container whose creator was killed before this monitor took over).
    fn claim_monitor(&self, c: &Container) -> Result<(), Error> {
        let me = std::process::id() as i32;
        self.update(&c.dir, |r| {
            r.monitor_pid = Some(me);
            r.monitor_start_time = container::process_start_time(me);
        })?
        .ok_or_else(|| Error::ContainerNotFound(c.record.id.clone()))?;
        Ok(())
    }

    /// One run of a container, start to exit: its cgroup and limits, the
    /// launch, the record kept current, `wait` until it exits, then every
    /// process of it killed and its cgroup removed, whatever happened.
    fn run_to_exit(
        &self,
        c: &Container,
        stdio: StdioMode,
        on_started: impl FnOnce(),
        wait: impl FnOnce(Child) -> Result<ExitStatus, launcher::LaunchError>,
    ) -> Result<i32, Error> {
        let (child, launched) = self.launch(c, stdio)?;
        on_started();
        let status = wait(child);
        self.finish_run(c, launched, status)
    }

    /// The first half of [`Rrun::run_to_exit`]: its cgroup and limits, its
    /// network, the launch, the record saying it runs, its poststart hooks.
    /// What the launch made is torn down again when it fails; once it
    /// succeeds, [`Rrun::finish_run`] must follow the container's exit.
    pub(crate) fn launch(&self, c: &Container, stdio: StdioMode) -> Result<(Child, Launched), Error> {
        // the record names the cgroup before it exists: a crash from here on leaves it named
        let planned = match &c.planned {
            // this process created the container to run it, and its record says so already
            Some(p) if c.record.monitor_pid == Some(std::process::id() as i32) => p.clone(),
            _ => {
                let p = crate::cgroups::plan(&c.record.id)?;
                let dirs = p.dirs().to_vec();
                self.update(&c.dir, |r| {
                    r.cgroup = dirs;
                    r.paused = false;
                    r.oom_killed = false;
                    r.error = None;
                })?
                .ok_or_else(|| Error::ContainerNotFound(c.record.id.clone()))?;
                p
            }
        };
        let dirs = planned.dirs().to_vec();
        let cgroup = match planned.create() {
            Ok(cg) => cg,
            Err(e) => {
                // what was made of it goes again
                if let Some(cg) = crate::cgroups::open(&dirs) {
                    let _ = cg.delete();
                }
                return Err(e.into());
            }
        };
        // the state hooks read: rrun's container directory is its bundle (config.json)
        let identity = launcher::hooks::HookIdentity {
            id: c.record.id.clone(),
            bundle: c.dir.clone(),
            annotations: c.spec.annotations().clone().unwrap_or_default().into_iter().collect(),
        };
        let hooks = c.spec.hooks().clone().unwrap_or_default();
        let mut launched = Launched { cgroup, network: None, identity, hooks };
        // its network, set up below and torn down after it ended, whatever happened
        let result = (|| {
            if let Some(r) = c.spec.linux().as_ref().and_then(|l| l.resources().as_ref()) {
                launched.cgroup.apply(r)?;
            }
            launched.network = self.network_up(c)?;
            // volumes still to fill with the image's content: as the record says now (a restart finds them done)
            let volumes = container::read_record(&c.dir).map(|r| r.volumes).unwrap_or_default();
            let cfg = LaunchConfig {
                spec: &c.spec,
                rootfs: rootfs::overlay(self.store(), &c.record.layers, &c.dir),
                init: c.record.init,
                stdio,
                cgroup: Some(launched.cgroup.as_ref()),
                oci: None,
                engine: launcher::EngineSteps {
                    copy_up: volumes.iter().filter(|v| v.copy_up).map(|v| v.destination.clone()).collect(),
                    hook_identity: Some(launched.identity.clone()),
                },
            };
            let child = match launcher::spawn(&cfg) {
                Ok(child) => child,
                Err(e) => {
                    let msg = e.to_string();
                    self.update(&c.dir, |r| {
                        r.status = Status::Exited;
                        r.exit_code = Some(e.exit_code());
                        r.finished_at = Some(container::now_rfc3339());
                        r.error = Some(msg);
                    })?;
                    return Err(e.into());
                }
            };
            let pid = child.pid();
            let rec = self.update(&c.dir, |r| {
                r.status = Status::Running;
                r.pid = Some(pid);
                r.pid_start_time = container::process_start_time(pid);
                r.started_at = Some(container::now_rfc3339());
                r.finished_at = None;
                r.exit_code = None;
                // copied up (or found full) on this first start: never again
                r.volumes.iter_mut().for_each(|v| v.copy_up = false);
            })?;
            let Some(rec) = rec else {
                // removed while it started: it does not run without a record (killed below, with its cgroup)
                return Err(Error::ContainerNotFound(c.record.id.clone()));
            };
            self.emit_container(&rec, "start", &[]);
            // as the runtime spec says: a failing poststart hook is a warning, the others and the container go on
            let poststart = launched.hooks.poststart().clone().unwrap_or_default();
            for e in launcher::hooks::run_all(&poststart, &launched.identity.state(Some(pid), "running"), "poststart") {
                tracing::warn!("{e}");
            }
            Ok(child)
        })();
        match result {
            Ok(child) => Ok((child, launched)),
            Err(e) => {
                self.tear_down(c, launched);
                Err(e)
            }
        }
    }

    /// The second half of [`Rrun::run_to_exit`], once the container's init
    /// was reaped (`status`): its exit recorded and journalled, its network
    /// torn down, every process of it killed, its cgroup removed, its
    /// poststop hooks run. Returns its exit code.
    pub(crate) fn finish_run(
        &self,
        c: &Container,
        mut launched: Launched,
        status: Result<ExitStatus, launcher::LaunchError>,
    ) -> Result<i32, Error> {
        let result = (|| {
            let oom = launched.cgroup.stats().map(|s| s.oom_kills > 0).unwrap_or(false);
            let rec = self.update(&c.dir, |r| {
                r.status = Status::Exited;
                r.finished_at = Some(container::now_rfc3339());
                r.exit_code = status.as_ref().ok().map(|s| s.code());
                r.oom_killed = oom;
                r.paused = false;
                r.pid = None;
                r.pid_start_time = None;
            })?;
            if let Some(rec) = &rec {
                if oom {
                    self.emit_container(rec, "oom", &[]);
                }
                let code = rec.exit_code.unwrap_or(-1).to_string();
                self.emit_container(rec, "die", &[("exitCode", code)]);
            }
            // the exit is recorded first, as Docker shows it at once (netavark's teardown takes a
            // few hundred ms); a start waits for this monitor, and a teardown by rm is idempotent
            self.network_down(c, launched.network.take());
            Ok(status?.code())
        })();
        self.tear_down(c, launched);
        result
    }

    /// After a run (or a failed start): no process of the container
    /// survives it, its cgroup goes, its network is torn down (when the run
    /// ended before its wait), and its poststop hooks run (a failure is a warning).
    fn tear_down(&self, c: &Container, launched: Launched) {
        let Launched { cgroup, network, identity, hooks } = launched;
        let _ = cgroup.kill_all();
        if let Err(e) = cgroup.delete() {
            tracing::warn!(error = %e, "removing the container's cgroup");
        }
        self.network_down(c, network);
        let poststop = hooks.poststop().clone().unwrap_or_default();
        for e in launcher::hooks::run_all(&poststop, &identity.state(None, "stopped"), "poststop") {
            tracing::warn!("{e}");
        }
    }

    /// `--ipc/--pid/--uts container:NAME`: the namespace files of that running
    /// container's init, and its hostname (for a shared UTS namespace).
    #[allow(clippy::type_complexity)]
    fn joined_namespaces(
        &self,
        opts: &RunOptions,
    ) -> Result<(Vec<(oci_spec::runtime::LinuxNamespaceType, PathBuf)>, Option<String>), Error> {
        use oci_spec::runtime::LinuxNamespaceType as T;
        let mut out = Vec::new();
        let mut hostname = None;
        for (mode, typ, file) in [(&opts.ipc, T::Ipc, "ipc"), (&opts.pid, T::Pid, "pid"), (&opts.uts, T::Uts, "uts")] {
            let spec::NamespaceMode::Container(name) = mode else { continue };
            let other = self.open_container(name)?;
            let pid = other
                .record
                .pid
                .filter(|_| other.record.is_running())
                .ok_or_else(|| Error::ContainerNotRunning(name.clone()))?;
            if typ == T::Uts {
                hostname = other.spec.hostname().clone();
            }
            out.push((typ, PathBuf::from(format!("/proc/{pid}/ns/{file}"))));
        }
        Ok((out, hostname))
    }

    /// Changes a container's record (see [`container::update_record`]).
    fn update(&self, dir: &Path, change: impl FnOnce(&mut ContainerRecord)) -> Result<Option<ContainerRecord>, Error> {
        update_record(dir, change).map_err(io_error(dir))
    }

    /// A container's record (as it truly stands), directory and Spec.
    pub fn open_container(&self, name_or_id: &str) -> Result<Container, Error> {
        let record = self.container(name_or_id)?;
        let dir = self.store().container_dir(&record.id);
        let path = dir.join("config.json");
        let bytes = std::fs::read(&path).map_err(io_error(&path))?;
        let spec = serde_json::from_slice(&bytes).map_err(|e| Error::Io {
            path: path.clone(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        })?;
        Ok(Container { record, dir, spec, planned: None })
    }

    /// Removes a container and its rootfs. A running one is refused unless
    /// `force`, which kills every process in it first.
    pub fn remove_container(&self, name_or_id: &str, force: bool) -> Result<String, Error> {
        self.remove_container_with(name_or_id, force, false)
    }

    /// [`Rrun::remove_container`]; with `volumes` (`rm -v`), its anonymous
    /// volumes go too (named ones stay, as with Docker).
    pub fn remove_container_with(&self, name_or_id: &str, force: bool, volumes: bool) -> Result<String, Error> {
        let c = self.container(name_or_id)?;
        let dir = self.store().container_dir(&c.id);
        // a monitor may be starting it (its record still says created): with -f, it is stopped too
        let mut attempts = 0;
        loop {
            let now = crate::container::read_record(&dir).map(ContainerRecord::resolved);
            let Some(now) = now else { return Err(Error::ContainerNotFound(name_or_id.to_string())) };
            if starting_or_running(&now) {
                if !force {
                    return Err(Error::ContainerRunning(name_or_id.to_string()));
                }
                self.kill_all_and_wait(&now)?;
            } else if force && now.monitor_alive() && now.monitor_pid != Some(std::process::id() as i32) {
                // its monitor is still finishing (tearing its network down, backing off to restart): waited for
                self.kill_all_and_wait(&now)?;
            }
            self.cleanup_stale(&now);
            // removed under the record's lock, which a monitor takes to claim the container and to
            // record its start: no monitor can start it once this looked
            let _lock = self.store().lock_exclusive()?;
            let Some((held, rec)) = crate::container::lock_record(&dir).map_err(io_error(&dir))? else {
                return Err(Error::ContainerNotFound(name_or_id.to_string()));
            };
            if starting_or_running(&rec.clone().resolved()) {
                attempts += 1;
                if !force || attempts > 3 {
                    return Err(Error::ContainerRunning(name_or_id.to_string()));
                }
                continue;
            }
            self.store().remove_dir(&dir)?;
            drop(held);
            break;
        }
        self.emit_container(&c, "destroy", &[]);
        if volumes {
            self.remove_anonymous_volumes(&c.volumes);
        }
        self.collect_orphaned_layers(&c);
        Ok(c.id.clone())
    }
}

/// A launched container's run, between [`Rrun::launch`] and
/// [`Rrun::finish_run`]: what its end tears down.
pub(crate) struct Launched {
    cgroup: Box<dyn crate::cgroups::Cgroup>,
    network: Option<crate::network::attach::Up>,
    identity: launcher::hooks::HookIdentity,
    hooks: oci_spec::runtime::Hooks,
}

/// Where a foreground run's output goes.
enum Shown<'a> {
    /// This process's stdout and stderr, those chosen (`-a`); stdin with `interactive` if chosen.
    Streams(Streams),
    /// Nowhere (its log still gets it); stdin is `/dev/null`.
    Nowhere,
    /// Into these buffers (stdout, stderr).
    Buffers(&'a mut Vec<u8>, &'a mut Vec<u8>),
}

impl Shown<'_> {
    /// The caller's stdin may be the container's.
    fn stdin(&self) -> bool {
        !matches!(self, Shown::Nowhere)
    }

    /// rrun must read the container's output (not all of it goes to this process's own descriptors).
    fn relayed(&self) -> bool {
        match self {
            Shown::Streams(s) => !s.stdout || !s.stderr,
            Shown::Nowhere | Shown::Buffers(..) => true,
        }
    }

    /// Passes on what the container wrote; false once its reader went away.
    fn write(&mut self, stream: Stream, bytes: &[u8]) -> bool {
        match self {
            Shown::Streams(streams) => {
                let (shown, fd) = match stream {
                    Stream::Stdout => (streams.stdout, libc::STDOUT_FILENO),
                    Stream::Stderr => (streams.stderr, libc::STDERR_FILENO),
                };
                // SAFETY: the process's standard descriptors stay open while it runs.
                !shown || launcher::write_all(unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) }, bytes).is_ok()
            }
            Shown::Nowhere => true,
            Shown::Buffers(out, err) => {
                match stream {
                    Stream::Stdout => out.extend_from_slice(bytes),
                    Stream::Stderr => err.extend_from_slice(bytes),
                }
                true
            }
        }
    }
}

/// [`crate::Stdio::Piped`] given to a method that returns no handle to hold the pipes.
pub(crate) fn pipes_refused(method: &str) -> Error {
    Error::Spec(spec::SpecError::Invalid {
        flag: "stdio".into(),
        value: "Piped".into(),
        reason: format!("{method} hands no pipes to its caller: use spawn or exec_spawn (or output, exec_output)"),
    })
}

/// True while a container runs, or its live monitor is about to start it.
fn starting_or_running(c: &ContainerRecord) -> bool {
    c.is_running()
        || (c.status == Status::Created && c.monitor_alive() && c.monitor_pid != Some(std::process::id() as i32))
}

/// `--ulimit`: a hard limit above rrun's own cannot be set without
/// CAP_SYS_RESOURCE (the kernel would refuse it at start); refused now, clearly.
fn check_ulimits(ulimits: &[spec::Ulimit]) -> Result<(), Error> {
    let can_raise = caps::has_cap(None, caps::CapSet::Effective, caps::Capability::CAP_SYS_RESOURCE).unwrap_or(false);
    let show = |v: u64| if v == libc::RLIM_INFINITY { "unlimited".to_string() } else { v.to_string() };
    for u in ulimits {
        let mut own = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: getrlimit writes one rlimit into `own`, which lives across the call.
        if unsafe { libc::getrlimit(u.resource() as _, &mut own) } != 0 {
            continue;
        }
        if u.hard > own.rlim_max && !can_raise {
            return Err(Error::Spec(spec::SpecError::Invalid {
                flag: "--ulimit".into(),
                value: format!("{}={}:{}", u.name, show(u.soft), show(u.hard)),
                reason: format!(
                    "the hard limit is above rrun's own hard {} limit ({}), and raising it needs CAP_SYS_RESOURCE",
                    u.name,
                    show(own.rlim_max)
                ),
            }));
        }
    }
    Ok(())
}

/// `--oom-score-adj`: below rrun's own score only with CAP_SYS_RESOURCE
/// (the kernel would refuse the write at start); refused now, clearly.
fn check_oom_score_adj(adj: i32) -> Result<(), Error> {
    spec::options::check_oom_score_adj(adj)?;
    let own: i32 = std::fs::read_to_string("/proc/self/oom_score_adj")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(i32::MIN);
    let can = caps::has_cap(None, caps::CapSet::Effective, caps::Capability::CAP_SYS_RESOURCE).unwrap_or(false);
    if adj < own && !can {
        return Err(Error::Spec(spec::SpecError::Invalid {
            flag: "--oom-score-adj".into(),
            value: adj.to_string(),
            reason: format!("lowering the OOM score below rrun's own ({own}) needs CAP_SYS_RESOURCE"),
        }));
    }
    Ok(())
}

fn find<'a>(all: &'a [ContainerRecord], name_or_id: &str) -> Result<&'a ContainerRecord, Error> {
    if let Some(c) = all.iter().find(|c| c.name == name_or_id || c.id == name_or_id) {
        return Ok(c);
    }
    let mut prefixed = all.iter().filter(|c| !name_or_id.is_empty() && c.id.starts_with(name_or_id));
    match (prefixed.next(), prefixed.next()) {
        (Some(c), None) => Ok(c),
        (Some(_), Some(_)) => Err(Error::AmbiguousContainer { name: name_or_id.to_string() }),
        _ => Err(Error::ContainerNotFound(name_or_id.to_string())),
    }
}

/// The seccomp profile of a container: Docker's default for its capabilities
/// (the profile opens up what a capability grants), a file's, or none.
fn seccomp_profile(opts: &RunOptions) -> Result<Option<oci_spec::runtime::LinuxSeccomp>, Error> {
    use spec::seccomp::{default_profile, host_arch, load_profile_file};
    let choice = if opts.privileged && opts.seccomp == spec::SeccompChoice::Default {
        &spec::SeccompChoice::Unconfined
    } else {
        &opts.seccomp
    };
    let caps = spec::capabilities(opts)?;
    let bad = |e: spec::seccomp::ProfileError| Error::Spec(spec::SpecError::Build(e.to_string()));
    Ok(match choice {
        spec::SeccompChoice::Unconfined => None,
        spec::SeccompChoice::Default => Some(default_profile(caps.iter(), host_arch()).map_err(bad)?),
        spec::SeccompChoice::File(p) => Some(load_profile_file(p, caps.iter(), host_arch()).map_err(bad)?),
    })
}

/// What the host says about a `--device` node (following symlinks, as Docker does).
fn host_device(req: &spec::resources::DeviceRequest) -> Result<spec::resources::HostDevice, Error> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let bad = |reason| {
        Error::Spec(spec::SpecError::Limit { flag: "--device".into(), value: req.host.display().to_string(), reason })
    };
    let meta = std::fs::metadata(&req.host).map_err(|_| bad("no such device on the host"))?;
    let typ = if meta.file_type().is_char_device() {
        oci_spec::runtime::LinuxDeviceType::C
    } else if meta.file_type().is_block_device() {
        oci_spec::runtime::LinuxDeviceType::B
    } else {
        return Err(bad("not a character or block device"));
    };
    let rdev = meta.rdev();
    Ok(spec::resources::HostDevice {
        request: req.clone(),
        typ,
        major: libc::major(rdev) as i64,
        minor: libc::minor(rdev) as i64,
        mode: meta.mode(),
        uid: meta.uid(),
        gid: meta.gid(),
    })
}

/// A value as JSON, as a narration shows it (`null` for none).
fn json(v: &impl serde::Serialize) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

pub(crate) fn write(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    std::fs::write(path, bytes).map_err(io_error(path))
}

/// Replaces a file whole (a rename): what a container binds is never half-written.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    crate::store::write_file_atomic(path, bytes, false).map_err(io_error(path))
}
