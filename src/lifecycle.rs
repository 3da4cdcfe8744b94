//! Container lifecycle on top of the store: create (record, rootfs dirs,
//! Spec), run in the foreground, remove.

use crate::container::{self, ContainerRecord, Status};
use crate::launcher::{self, LaunchConfig};
use crate::spec::{self, EtcFiles, NetworkMode, RunOptions, SpecInput};
use crate::{io_error, rootfs, Error, Rrun};
use std::path::{Path, PathBuf};
use tracing::{debug, info};

/// A created container, ready to start.
#[derive(Debug, Clone)]
pub struct Container {
    pub record: ContainerRecord,
    pub dir: PathBuf,
    pub spec: oci_spec::runtime::Spec,
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
            if let Some(mut rec) = container::read_record(&entry.path()) {
                rec.status = rec.effective_status();
                out.push(rec);
            }
        }
        out.sort_by(|a, b| b.created.cmp(&a.created));
        Ok(out)
    }

    /// Finds a container by name, full ID or unique ID prefix.
    pub fn container(&self, name_or_id: &str) -> Result<ContainerRecord, Error> {
        let all = self.containers()?;
        find(&all, name_or_id).cloned()
    }

    /// Creates a container from an image: its record, rootfs directories,
    /// `/etc` files and runtime Spec. Nothing runs yet.
    pub fn create(&self, image_name: &str, opts: &RunOptions) -> Result<Container, Error> {
        let image = self.image(image_name)?;
        if image.layers.is_empty() {
            return Err(Error::BadImage { image: image_name.to_string(), reason: "it has no layers".into() });
        }
        let config = self.image_config(&image)?;
        let run_config = config.config.clone().unwrap_or_default();
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
        let user_str = opts.user.clone().or(run_config.user.clone()).unwrap_or_default();
        let user = spec::resolve_user(&user_str, &String::from_utf8_lossy(&passwd), &String::from_utf8_lossy(&group))?;
        let hostname = match (&opts.hostname, opts.network) {
            (Some(h), _) => h.clone(),
            (None, NetworkMode::Host) if opts.network_explicit => nix::unistd::gethostname()
                .map(|h| h.to_string_lossy().into_owned())
                .unwrap_or_else(|_| id[..12].to_string()),
            (None, _) => id[..12].to_string(),
        };

        // build everything in staging, then rename into place under the lock
        let staging = self.store().staging("container")?;
        let sdir = staging.path().to_path_buf();
        let dir = self.store().container_dir(&id);
        for sub in ["upper", "work", "rootfs"] {
            let p = sdir.join(sub);
            std::fs::create_dir(&p).map_err(io_error(&p))?;
        }
        let etc =
            EtcFiles { hosts: dir.join("hosts"), hostname: dir.join("hostname"), resolv_conf: dir.join("resolv.conf") };
        let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        let hosts = if opts.network == NetworkMode::Host && opts.network_explicit {
            std::fs::read_to_string("/etc/hosts").unwrap_or_else(|_| spec::hosts_file(&hostname))
        } else {
            spec::hosts_file(&hostname)
        };
        write(&sdir.join("hosts"), hosts.as_bytes())?;
        write(&sdir.join("hostname"), format!("{hostname}\n").as_bytes())?;
        write(&sdir.join("resolv.conf"), spec::resolv_conf(&host_resolv, opts.network).as_bytes())?;
        for v in &opts.volumes {
            if !v.source.exists() {
                return Err(Error::Spec(spec::SpecError::Volume {
                    spec: format!("{}:{}", v.source.display(), v.destination.display()),
                    reason: "the host path does not exist",
                }));
            }
        }
        let oci = spec::build(&SpecInput {
            image: &run_config,
            options: opts,
            user: &user,
            hostname: &hostname,
            rootfs: &dir.join("rootfs"),
            etc: &etc,
        })?;
        let spec_json = serde_json::to_vec_pretty(&oci).expect("spec serializes");
        write(&sdir.join("config.json"), &spec_json)?;
        let record = ContainerRecord {
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
            cgroup: Vec::new(),
            oom_killed: false,
        };
        write(&sdir.join("container.json"), &serde_json::to_vec_pretty(&record).expect("record serializes"))?;

        let _lock = self.store().lock_exclusive()?;
        let existing = self.containers_unlocked()?;
        if let Some(other) = existing.iter().find(|c| c.name == name) {
            if other.auto_remove && other.status == Status::Exited {
                // a --rm container whose rrun was killed: finish its removal now
                self.store().remove_dir(&self.store().container_dir(&other.id))?;
            } else {
                return Err(Error::NameInUse { name, id: other.id.clone() });
            }
        }
        // the image may have been removed while we prepared
        if !self.store().read_index()?.images.contains_key(&image.manifest) {
            return Err(Error::ImageNotFound(image_name.to_string()));
        }
        self.store().commit(staging, None, &dir)?;
        info!(id = %id, name = %name, image = image_name, "container created");
        Ok(Container { record, dir, spec: oci })
    }

    /// Creates and runs a container in the foreground: signals are forwarded,
    /// the terminal relayed; returns the container's exit code (128+N for signal N).
    pub fn run(&self, image_name: &str, opts: &RunOptions) -> Result<i32, Error> {
        let c = self.create(image_name, opts)?;
        let result = self.start_foreground(&c, opts);
        if opts.remove {
            debug!(id = %c.record.id, "--rm: removing the container");
            self.store().remove_dir(&c.dir)?;
        }
        result
    }

    fn start_foreground(&self, c: &Container, opts: &RunOptions) -> Result<i32, Error> {
        let rootfs = rootfs::overlay(self.store(), &c.record.layers, &c.dir);
        let mut record = c.record.clone();
        let cgroup = crate::cgroups::create(&record.id)?;
        record.cgroup = cgroup.dirs();
        self.save_record(&c.dir, &record)?;
        let result = self.run_in_cgroup(c, opts, rootfs, cgroup.as_ref(), &mut record);
        // whatever happened, no process of the container survives it, and its cgroup goes
        let _ = cgroup.kill_all();
        if let Err(e) = cgroup.delete() {
            tracing::warn!(error = %e, "removing the container's cgroup");
        }
        result
    }

    fn run_in_cgroup(
        &self,
        c: &Container,
        opts: &RunOptions,
        rootfs: crate::launcher::RootfsSource,
        cgroup: &dyn crate::cgroups::Cgroup,
        record: &mut ContainerRecord,
    ) -> Result<i32, Error> {
        if let Some(r) = c.spec.linux().as_ref().and_then(|l| l.resources().as_ref()) {
            cgroup.apply(r)?;
        }
        let cfg = LaunchConfig {
            spec: &c.spec,
            rootfs,
            init: opts.init,
            stdin_null: !opts.interactive,
            cgroup: Some(cgroup),
        };
        let child = match launcher::spawn(&cfg) {
            Ok(child) => child,
            Err(e) => {
                record.status = Status::Exited;
                record.exit_code = Some(e.exit_code());
                record.finished_at = Some(container::now_rfc3339());
                self.save_record(&c.dir, record)?;
                return Err(e.into());
            }
        };
        record.status = Status::Running;
        record.pid = Some(child.pid());
        record.pid_start_time = container::process_start_time(child.pid());
        record.started_at = Some(container::now_rfc3339());
        self.save_record(&c.dir, record)?;
        let status = child.wait(opts.interactive);
        record.status = Status::Exited;
        record.finished_at = Some(container::now_rfc3339());
        record.exit_code = status.as_ref().ok().map(|s| s.code());
        record.oom_killed = cgroup.stats().map(|s| s.oom_kills > 0).unwrap_or(false);
        record.pid = None;
        record.pid_start_time = None;
        self.save_record(&c.dir, record)?;
        Ok(status?.code())
    }

    fn save_record(&self, dir: &Path, record: &ContainerRecord) -> Result<(), Error> {
        let bytes = serde_json::to_vec_pretty(record).expect("record serializes");
        Ok(self.store().write_atomic_volatile(&dir.join("container.json"), &bytes)?)
    }

    /// Removes a container and its rootfs. A running one is refused unless
    /// `force`, which kills it first.
    pub fn remove_container(&self, name_or_id: &str, force: bool) -> Result<String, Error> {
        let _lock = self.store().lock_exclusive()?;
        let all = self.containers_unlocked()?;
        let c = find(&all, name_or_id)?;
        if c.status == Status::Running {
            if !force {
                return Err(Error::ContainerRunning(name_or_id.to_string()));
            }
            if let (Some(pid), Some(start)) = (c.pid, c.pid_start_time) {
                if container::process_alive(pid, start) {
                    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
                    for _ in 0..200 {
                        if !container::process_alive(pid, start) {
                            break;
                        }
                        std::thread::sleep(std::time::Duration::from_millis(10));
                    }
                }
            }
        }
        self.store().remove_dir(&self.store().container_dir(&c.id))?;
        Ok(c.id.clone())
    }
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

fn write(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    std::fs::write(path, bytes).map_err(io_error(path))
}
