//! rrun: a daemonless container runtime.
//!
//! The flow, one module per step:
//! `reference` (names) → `store` (content-addressed blobs and layers) →
//! `image` (archives, manifests, layer unpacking) → `rootfs` (overlay) →
//! `spec` (image config + options → OCI runtime Spec) → `launcher`
//! (namespaces, mounts, pivot_root, capabilities, exec).
//!
//! [`Rrun`] is the handle the CLI and embedding programs use:
//! ```no_run
//! let rrun = rrun::Rrun::open("/tmp/rrun-root")?;
//! rrun.load(std::path::Path::new("busybox.tar"), None)?;
//! let opts = rrun::RunOptions::new(["echo", "hi"]).remove(true);
//! let out = rrun.output("busybox", &opts)?; // or `run`: the container's streams are the caller's
//! assert_eq!((out.status, out.stdout.as_slice()), (0, &b"hi\n"[..]));
//! # Ok::<(), rrun::Error>(())
//! ```
//!
//! ## Layers
//!
//! Modules depend one way: a module names only modules of its own layer or
//! below, never one above (it is passed data or a callback instead), and the
//! graph has no cycle. The top layer is the API: the crate root's [`Rrun`]
//! and [`Error`], and the files that hold `impl Rrun` blocks. A test reads
//! src/ and checks every `crate::`/`super::` path against this diagram
//! (`LAYERS`), top first:
//!
//! ```text
//! explain (every layer's STEPS, for --explain)
//! crate (Rrun, Error), lifecycle, events, gc, images, system
//! oci (the runc-compatible runtime)
//! container, network, volume, logs, filter
//! launcher
//! cdi, spec
//! rootfs
//! registry
//! image
//! store
//! cgroups
//! text, timespec, progress, steps, digest, reference, securefs, procfs, signal, stdio, rootless (facts: who, id ranges, dirs)
//! ```

#![warn(missing_docs)]

pub(crate) mod cdi;
pub(crate) mod cgroups;
pub(crate) mod container;
pub(crate) mod digest;
pub(crate) mod events;
pub mod explain;
pub(crate) mod filter;
pub(crate) mod gc;
pub(crate) mod image;
pub(crate) mod images;
pub(crate) mod launcher;
mod lifecycle;
pub(crate) mod logs;
pub(crate) mod network;
pub mod oci;
pub(crate) mod procfs;
pub use oci_spec;
pub(crate) mod progress;
pub use lifecycle::{
    AttachOptions, Container, ContainerSize, ContainerStats, ExecOptions, LogOptions, RunOutcome, RunningProcess,
    TopOutput, UpdateOptions,
};
pub use lifecycle::{ChangeKind, CommitOptions, CopyHost, CopyOptions, FsChange, FsError};
pub use lifecycle::{
    ContainerConfig, ContainerInspect, ContainerState, EndpointSettings, GraphDriver, HostConfig, IpamConfig,
    LogConfig, MountPoint, NetworkSettings, PortBinding, RestartPolicyConfig, Ulimit,
};
pub(crate) mod reference;
pub(crate) mod registry;
pub(crate) mod rootfs;
pub(crate) mod rootless;
pub(crate) mod securefs;
mod signal;
pub(crate) mod spec;
mod stdio;
pub(crate) mod steps;
pub(crate) mod store;
pub(crate) mod system;
pub(crate) mod text;
pub(crate) mod timespec;
pub(crate) mod volume;

/// The layers of the diagram in the crate docs, bottom first; `crate` is the
/// crate root's own items. `layering`'s test checks src/ against it.
#[cfg(test)]
const LAYERS: &[&[&str]] = &[
    &[
        "text",
        "timespec",
        "progress",
        "steps",
        "digest",
        "reference",
        "securefs",
        "procfs",
        "signal",
        "stdio",
        "rootless",
    ],
    &["cgroups"],
    &["store"],
    &["image"],
    &["registry"],
    &["rootfs"],
    &["cdi", "spec"],
    &["launcher"],
    &["container", "network", "volume", "logs", "filter"],
    &["oci"],
    &["crate", "lifecycle", "events", "gc", "images", "system"],
    &["explain"],
];

#[cfg(test)]
mod layering;

// The public API: the handle, what its methods take and give, and the errors.
pub use cdi::DeviceInfo as CdiDevice;
pub use container::{ContainerRecord, HealthStatus, PortMapping, RestartPolicy, Status};
pub use digest::Digest;
pub use events::{Event, EventFilter, EventOptions};
pub use filter::Filters;
pub use image::import::LoadedImage;
pub use image::inspect::ImageInspect;
pub use image::save::ArchiveFormat;
pub use image::{Healthcheck, ImageConfig, ImageRecord, Platform, PlatformExt};
pub use images::{ImageDeleteItem, InspectObject, ObjectType, PruneReport};
pub use launcher::Stream;
pub use lifecycle::RunningContainer;
pub use lifecycle::{DryRun, PlannedVolume};
pub use logs::LogEntry;
pub use network::{CreateNetwork, NetworkInfo};
pub use progress::{ProgressFn, PullEvent};
pub use reference::ImageRef;
pub use registry::{ClientOptions, Credential, PullOptions, RegistriesConf};
pub use rootfs::RootfsSource;
pub use rootless::{Mapping, Rootless, RootlessError};
pub use signal::{ParseSignalError, Signal};
pub use spec::network::{parse_exposed, parse_publish};
pub use spec::resources::parse_bytes;
pub use spec::resources::Limits;
pub use spec::{MountRequest, NamespaceMode, NetworkMode, RunOptions, Streams, Tmpfs};
pub use spec::{PortRequest, SeccompChoice};
pub use stdio::{Output, Stdio};
pub use system::{CdiDevices, VersionInfo};
pub use volume::{CreateVolume, Volume};

// The types inside those: records, reports and option values.
pub use cdi::gpus::{GpuRequest, Gpus};
pub use container::{
    Endpoint as ContainerEndpoint, Health, HealthResult, NetworkAttachment, NetworkRequest, VolumeUse,
};
pub use events::Actor;
pub use gc::GarbageUsage;
pub use image::history::HistoryEntry;
pub use image::inspect::{GraphDriver as ImageGraphDriver, InspectConfig, InspectRootFs, Metadata as ImageMetadata};
pub use image::{ContainerConfig as ImageRunConfig, LayerRecord, RootFs as ImageRootFs};
pub use images::{ContainerUsage, DiskUsage, ImageUsage, UsageSummary, VolumeUsage};
pub use registry::config::{Mirror, RegistryEntry};
pub use registry::{AuthFiles, Endpoint as RegistryEndpoint, SearchResult};
pub use spec::resources::DeviceRequest;
pub use spec::{LogDriver, MountSource, Ulimit as UlimitOption};
pub use system::{HostInfo, Info as SystemInfo, RootlessSetup, StoreInfo};
pub use volume::Pruned as PrunedVolumes;

// What the variants of [`Error`] carry: each module's own error, with its context.
pub use cdi::CdiError;
pub use cgroups::CgroupError;
pub use digest::DigestError;
pub use filter::FilterError;
pub use image::change::ChangeError;
pub use image::import::ImportError;
pub use image::layer_writer::TreeError;
pub use image::save::SaveError;
pub use image::unpack::UnpackError;
pub use launcher::fsns::FsChildError;
pub use launcher::LaunchError;
pub use network::NetworkError;
pub use reference::ReferenceError;
pub use registry::RegistryError;
pub use spec::SpecError;
pub use store::StoreError;
pub use volume::VolumeError;

use image::MAX_JSON_SIZE;
use std::path::{Path, PathBuf};
use store::Store;

/// Every error the library returns, with the failing module's context.
///
/// The module variants (`Store` … `Network`, `Save`, `Fs`) wrap that module's
/// own error; the others are the handle's refusals. New variants may come, so
/// a `match` needs a wildcard arm.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing the store (blobs, layers, the image index, container
    /// records) failed, or its lock could not be taken.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// An image archive or layout could not be imported (`load`, `import`).
    #[error(transparent)]
    Import(#[from] image::import::ImportError),
    /// The options and the image config do not make a valid runtime spec.
    #[error(transparent)]
    Spec(#[from] spec::SpecError),
    /// Starting the container's process failed: a namespace, mount, identity
    /// or exec step; also [`LaunchError::MultiThreaded`] when the calling
    /// process has other threads.
    #[error(transparent)]
    Launch(#[from] launcher::LaunchError),
    /// An image name is not a valid reference.
    #[error(transparent)]
    Reference(#[from] reference::ReferenceError),
    /// Talking to a registry failed: connection, authentication, protocol, digest check.
    #[error(transparent)]
    Registry(#[from] registry::RegistryError),
    /// Creating, limiting or reading a container's cgroup failed.
    #[error(transparent)]
    Cgroup(#[from] cgroups::CgroupError),
    /// A `--filter` value is not understood.
    #[error(transparent)]
    Filter(#[from] filter::FilterError),
    /// Creating, using or removing a named volume failed.
    #[error(transparent)]
    Volume(#[from] volume::VolumeError),
    /// A CDI device (`--device vendor/class=name`, `--gpus`) is unknown or its spec is invalid.
    #[error(transparent)]
    Cdi(#[from] cdi::CdiError),
    /// Setting up or tearing down a container's network, or managing a named network, failed.
    #[error(transparent)]
    Network(#[from] network::NetworkError),
    /// No image in the store has this name or ID.
    #[error("image {0} not found in the local store")]
    ImageNotFound(String),
    /// An image in the store is unreadable: its config blob is corrupt or not valid JSON.
    #[error("image {image}: {reason}")]
    BadImage {
        /// The image's manifest digest.
        image: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No container has this name, ID or ID prefix.
    #[error("no such container: {0}")]
    ContainerNotFound(String),
    /// The name given is a prefix of several container IDs.
    #[error("container name {name:?} is ambiguous: it is a prefix of several container IDs")]
    AmbiguousContainer {
        /// The name or ID prefix given.
        name: String,
    },
    /// A container name (`--name`, `rename`) has characters Docker does not allow.
    #[error("invalid container name {0:?}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")]
    InvalidName(String),
    /// Another container has this name already.
    #[error("the container name {name:?} is already in use by container {id}")]
    NameInUse {
        /// The name asked for.
        name: String,
        /// The ID of the container that has it.
        id: String,
    },
    /// A container uses the image (removing it needs `force`).
    #[error("image {image} is in use by container {container}")]
    ImageInUse {
        /// The image as named by the caller.
        image: String,
        /// The short ID of a container that uses it.
        container: String,
    },
    /// The image is removed by ID but has several names (removing it needs `force`).
    #[error("image {image}: it is referenced by {} names ({})", .names.len(), .names.join(", "))]
    ImageHasNames {
        /// The image ID as given.
        image: String,
        /// Its names (`repo:tag`).
        names: Vec<String>,
    },
    /// The image found is for another platform than the one asked for.
    #[error(
        "image {image}: it was found but does not match the specified platform: wanted {wanted}, actual: {actual}"
    )]
    PlatformMismatch {
        /// The image as named by the caller.
        image: String,
        /// The platform asked for (`os/arch[/variant]`).
        wanted: String,
        /// The image's platform.
        actual: String,
    },
    /// The container runs (removing it needs `force`).
    #[error("container {0} is running")]
    ContainerRunning(String),
    /// The operation needs a running container (exec, pause, top, …).
    #[error("container {0} is not running")]
    ContainerNotRunning(String),
    /// The container is paused and the operation needs it unpaused.
    #[error("container {0} is paused: unpause it first")]
    ContainerPaused(String),
    /// `unpause` of a container that is not paused.
    #[error("container {0} is not paused")]
    ContainerNotPaused(String),
    /// A signal name or number that is not a signal.
    #[error("invalid signal {0:?}")]
    InvalidSignal(String),
    /// The `--cidfile` exists already (Docker refuses to overwrite it).
    #[error("container ID file found, make sure the other container isn't running or delete {}", .0.display())]
    CidFileExists(PathBuf),
    /// `inspect` found no image, container, volume or network of this name.
    #[error("no such object: {0}")]
    NoSuchObject(String),
    /// Writing an image archive (`save`) failed.
    #[error(transparent)]
    Save(#[from] image::save::SaveError),
    /// Copying files into or out of a container (`cp`), or reading its changes (`diff`), failed.
    #[error(transparent)]
    Fs(#[from] lifecycle::FsError),
    /// `attach` to a container that is not running.
    #[error("You cannot attach to a stopped container, start it first")]
    AttachStopped,
    /// `attach` to a paused container.
    #[error("You cannot attach to a paused container, unpause it first")]
    AttachPaused,
    /// `attach` to a container that runs in the foreground of another rrun.
    #[error("container {0} runs in the foreground of the rrun that started it: only containers started detached (run -d, start) can be attached")]
    NotAttachable(String),
    /// A `--detach-keys` value that is not a key sequence.
    #[error("invalid detach keys {keys:?}: {reason}")]
    DetachKeys {
        /// The value given.
        keys: String,
        /// What is wrong with it.
        reason: String,
    },
    /// `logs` of a container whose log driver keeps nothing to read (`none`).
    #[error("configured logging driver does not support reading")]
    LogsNotReadable,
    /// A health check was asked of a container whose image and options define none.
    #[error("container {0} has no health check")]
    NoHealthcheck(String),
    /// `port` asked for a container port that is not published.
    #[error("No public port '{port}' published for {container}")]
    NoPublicPort {
        /// The port asked for (`80/tcp`).
        port: String,
        /// The container as named by the caller.
        container: String,
    },
    /// Running `ps` for `top` failed, or its output had no PID column.
    #[error("top: {0}")]
    Top(String),
    /// A request Docker refuses as conflicting, in Docker's words.
    #[error("{0}")]
    Conflict(String),
    /// A file operation of the handle itself failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The system's error.
        source: std::io::Error,
    },
}

impl Error {
    /// The exit code the CLI ends with: the launcher's 126/127 where the
    /// command could not run, 125 for rrun's own failures.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Launch(e) => e.exit_code(),
            _ => 125,
        }
    }
}

/// Puts this process into the calling user's rootless user namespace, as
/// the `rrun` command does at start for an ordinary user: joins the one a
/// pause process holds, or creates it (and the pause process). Afterwards the
/// process is root in that namespace and [`Rrun`] works on the user's store.
/// Call it first thing, while the process has one thread (it forks), and only
/// when not root. Returns what it found and set up.
pub fn enter_user_namespace() -> Result<&'static Rootless, RootlessError> {
    launcher::userns::enter()
}

/// Applies the edits of CDI devices (`vendor.com/class=name`, or `=all`) to
/// an OCI runtime `spec`, as an engine does before handing the spec to a
/// runtime: device nodes, mounts, environment, hooks. `dirs` are the spec
/// directories (empty: `/etc/cdi` and `/var/run/cdi`). Returns the problems
/// of spec files it could not read (their devices are left out), for the
/// caller to warn about; on error the spec is unchanged.
pub fn cdi_inject(
    spec: &mut oci_spec::runtime::Spec,
    devices: &[String],
    dirs: &[PathBuf],
) -> Result<Vec<CdiError>, CdiError> {
    cdi::inject(spec, devices, &[], dirs)
}

pub(crate) fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io { path: path.to_path_buf(), source }
}

/// One row of `rrun images`.
#[derive(Debug, Clone, serde::Serialize)]
#[non_exhaustive]
pub struct ImageSummary {
    /// `registry/repository`, or `<none>`.
    pub repository: String,
    /// The tag, or `<none>`.
    pub tag: String,
    /// Image ID (config digest).
    pub id: Digest,
    /// The manifest's digest: what the store indexes the image by.
    pub manifest: Digest,
    /// When the image was built (RFC 3339, from its config), if it says.
    pub created: Option<String>,
    /// Unpacked size in bytes.
    pub size: u64,
    /// The digest this repository pulled the image by (`docker images --digests`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<Digest>,
}

/// What removing an image did: the names and digests it lost, the image
/// deleted once none was left, and the bytes that freed.
#[derive(Debug, Clone, Default, serde::Serialize)]
#[non_exhaustive]
pub struct ImageRemoval {
    /// The names (`repo:tag`, `repo@digest`) removed.
    pub untagged: Vec<String>,
    /// The image ID, when the image itself was deleted.
    pub deleted: Option<Digest>,
    /// Bytes freed (layers and blobs no image or container uses any more).
    pub reclaimed: u64,
}

impl ImageRemoval {
    /// What it removed, in Docker's order: each name untagged, then the image deleted.
    pub fn items(&self) -> Vec<images::ImageDeleteItem> {
        let untagged = self.untagged.iter().map(|n| images::ImageDeleteItem::Untagged(n.clone()));
        untagged.chain(self.deleted.iter().map(|d| images::ImageDeleteItem::Deleted(d.to_string()))).collect()
    }
}

/// A handle on an rrun store: images, layers and containers.
#[derive(Debug, Clone)]
pub struct Rrun {
    store: Store,
}

impl Rrun {
    /// `/var/lib/rrun` for root, `$XDG_DATA_HOME/rrun` (or `~/.local/share/rrun`) otherwise.
    pub fn default_root() -> PathBuf {
        if nix::unistd::Uid::effective().is_root() && rootless::active().is_none() {
            return PathBuf::from("/var/lib/rrun");
        }
        if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
            return PathBuf::from(x).join("rrun");
        }
        // without $HOME, the user's home from the password database (rootless: the real uid)
        let home = std::env::var_os("HOME").filter(|v| !v.is_empty()).map(PathBuf::from).unwrap_or_else(|| {
            let uid = rootless::active().map_or_else(nix::unistd::getuid, |r| r.uid.into());
            nix::unistd::User::from_uid(uid).ok().flatten().map_or_else(|| PathBuf::from("/tmp"), |u| u.dir)
        });
        home.join(".local/share/rrun")
    }

    /// True when `root` holds an rrun store (its lock file and blob directory).
    /// Creates nothing: the command line's routing asks it.
    pub fn store_exists(root: &Path) -> bool {
        Store::exists_at(root)
    }

    /// True when the store at `root` (if there is one) has an image called `name`.
    /// Creates nothing and takes no lock: the command line's routing asks it.
    pub fn probe_image(root: &Path, name: &str) -> bool {
        Store::existing(root).and_then(|s| s.read_index().ok()).is_some_and(|i| i.lookup(name).is_some())
    }

    /// True when the store at `root` (if there is one) has a container whose
    /// name, ID or ID prefix is `name`. Creates nothing and takes no lock.
    pub fn probe_container(root: &Path, name: &str) -> bool {
        let Some(store) = Store::existing(root) else { return false };
        let Ok(entries) = std::fs::read_dir(store.containers_dir()) else { return false };
        entries.flatten().any(|e| {
            let id = e.file_name();
            let id = id.to_string_lossy();
            id.starts_with(name) || container::read_record(&e.path()).is_some_and(|r| r.name == name)
        })
    }

    /// Opens (creating if needed) the store at `root`, and finishes what
    /// killed rrun processes left undone (see [`Rrun::reconcile`]).
    pub fn open(root: impl Into<PathBuf>) -> Result<Rrun, Error> {
        let rrun = Rrun { store: Store::open(root)? };
        if let Err(e) = rrun.reconcile() {
            tracing::warn!(error = %e, "cleaning up after killed rrun processes");
        }
        Ok(rrun)
    }

    /// The store underneath.
    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    /// Imports the images of an OCI layout (directory or tar) or docker-archive tar.
    pub fn load(&self, path: &Path, default_name: Option<&str>) -> Result<Vec<LoadedImage>, Error> {
        let loaded = image::archive::load(&self.store, path, default_name)?;
        for l in &loaded {
            let id = l.record.config.to_string();
            self.emit_image("load", &id, l.names.first().map(String::as_str).unwrap_or(&id));
        }
        Ok(loaded)
    }

    /// Every image name in the store (and untagged images once, as `<none>`).
    pub fn images(&self) -> Result<Vec<ImageSummary>, Error> {
        let index = {
            let _lock = self.store.lock_shared()?;
            self.store.read_index()?
        };
        let mut out = Vec::new();
        for rec in index.images.values() {
            let digest_of = |repo: &str| {
                rec.repo_digests
                    .iter()
                    .find(|rd| image::repo_of_digest(rd) == repo)
                    .and_then(|rd| rd.rsplit_once('@')?.1.parse().ok())
            };
            let row = |repository: String, tag: String| ImageSummary {
                digest: digest_of(&repository),
                repository,
                tag,
                id: rec.config.clone(),
                manifest: rec.manifest.clone(),
                created: rec.created.clone(),
                size: rec.size,
            };
            let names = index.names_of(&rec.manifest);
            let mut repos: Vec<&str> = Vec::new();
            for n in &names {
                let (repo, tag) = n.rsplit_once(':').unwrap_or((n, "<none>"));
                repos.push(repo);
                out.push(row(repo.to_string(), tag.to_string()));
            }
            // pulled by digest: the repository shows, with no tag (as in Docker)
            for rd in &rec.repo_digests {
                let repo = image::repo_of_digest(rd);
                if !repos.contains(&repo) {
                    repos.push(repo);
                    out.push(row(repo.to_string(), "<none>".into()));
                }
            }
            if repos.is_empty() {
                out.push(row("<none>".into(), "<none>".into()));
            }
        }
        out.sort_by(|a, b| b.created.cmp(&a.created).then(a.repository.cmp(&b.repository)));
        Ok(out)
    }

    /// Finds an image by name or ID.
    pub fn image(&self, name: &str) -> Result<ImageRecord, Error> {
        let _lock = self.store.lock_shared()?;
        self.store.read_index()?.lookup(name).cloned().ok_or_else(|| Error::ImageNotFound(name.to_string()))
    }

    /// Reads and parses an image's config blob.
    pub fn image_config(&self, image: &ImageRecord) -> Result<ImageConfig, Error> {
        let bytes = self.store.read_blob(&image.config)?;
        if bytes.len() as u64 > MAX_JSON_SIZE || Digest::of(&bytes) != image.config {
            return Err(Error::BadImage {
                image: image.manifest.to_string(),
                reason: format!("config blob {} is corrupt", image.config),
            });
        }
        serde_json::from_slice(&bytes).map_err(|e| Error::BadImage {
            image: image.manifest.to_string(),
            reason: format!("config blob {}: {e}", image.config),
        })
    }

    /// Removes a name, and the image once no name points at it (with `force`,
    /// an image given by ID loses all its names). Refuses while a container
    /// uses the image, unless `force`. Says what it untagged, deleted and
    /// freed ([`ImageRemoval::items`]: Docker's `Untagged`/`Deleted` lines).
    pub fn remove_image(&self, name: &str, force: bool) -> Result<ImageRemoval, Error> {
        let _lock = self.store.lock_exclusive()?;
        let mut index = self.store.read_index()?;
        let manifest = index.lookup_digest(name).ok_or_else(|| Error::ImageNotFound(name.to_string()))?;
        if !force {
            if let Some(c) = self.containers_unlocked()?.into_iter().find(|c| c.image_manifest == manifest) {
                return Err(Error::ImageInUse { image: name.to_string(), container: c.id[..12].to_string() });
            }
        }
        let names: Vec<String> = index.names_of(&manifest).into_iter().map(String::from).collect();
        let mut out = ImageRemoval::default();
        if let Some(key) = index.tag_key(name) {
            index.tags.remove(&key);
            out.untagged.push(key);
        } else if let Some(key) = index.repo_digest_key(name) {
            if let Some(rec) = index.images.get_mut(&manifest) {
                rec.repo_digests.retain(|d| d != &key);
            }
            out.untagged.push(key);
        } else if names.len() > 1 && !force {
            return Err(Error::ImageHasNames { image: name.to_string(), names });
        } else {
            for n in names {
                index.tags.remove(&n);
                out.untagged.push(n);
            }
        }
        let id = index.images.get(&manifest).map(|i| i.config.to_string()).unwrap_or_default();
        // once no tag is left, the digests it was pulled by go too, and the image
        if index.names_of(&manifest).is_empty() {
            if let Some(rec) = index.images.remove(&manifest) {
                for d in &rec.repo_digests {
                    if !out.untagged.contains(d) {
                        out.untagged.push(d.clone());
                    }
                }
                out.deleted = Some(rec.config.clone());
                self.store.write_index(&index)?;
                // what no image and no container uses any more goes (and what a killed run left)
                out.reclaimed = self.collect_garbage()?;
                out.untagged.iter().for_each(|n| self.emit_image("untag", &id, n));
                self.emit_image("delete", &id, &id);
                return Ok(out);
            }
        }
        self.store.write_index(&index)?;
        out.reclaimed = self.collect_garbage()?;
        out.untagged.iter().for_each(|n| self.emit_image("untag", &id, n));
        Ok(out)
    }
}
