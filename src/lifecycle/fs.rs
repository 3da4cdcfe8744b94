//! A container's filesystem seen from outside: `diff` (what it changed, from
//! its upper directory), `export` (its whole root as a tar), `commit` (its
//! changes as a new image layer). `copy` does `cp`.
//!
//! Nothing here mounts in rrun's own process: a stopped container's overlay
//! is mounted in a child with a private mount namespace, a running one is
//! reached through its own namespace (see `launcher::fsns`).

use super::Container;
use crate::container::{process_alive, ContainerRecord};
use crate::digest::Digest;
use crate::image::import::{Importer, Plan, PlannedLayer, Source};
use crate::image::layer_writer::{self, TarSink, TreeError, WalkOptions, Walker};
use crate::image::{self, ImageConfig, MEDIA_OCI_CONFIG};
use crate::launcher::fsns::{self, FsChildError};
use crate::reference::ImageRef;
use crate::{rootfs, Error, Rrun};
use serde::Serialize;
use std::collections::HashSet;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

/// Why copying files into or out of a container, or listing its changes, failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FsError {
    /// Walking or copying the container's files failed.
    #[error("container {container}: {source}")]
    Tree {
        /// The container.
        container: String,
        /// The underlying error.
        source: TreeError,
    },
    /// The helper that works inside the container's mount namespace failed.
    #[error("container {container}: {source}")]
    Child {
        /// The container.
        container: String,
        /// The underlying error.
        source: FsChildError,
    },
    /// The copy is not allowed (a read-only path, a running container that `cp` cannot enter).
    #[error("container {container}: {reason}")]
    Refused {
        /// The container.
        container: String,
        /// What is wrong, or why it failed.
        reason: String,
    },
    /// A `commit --change` instruction is invalid.
    #[error(transparent)]
    Change(#[from] image::change::ChangeError),
}

/// What happened to a path, numbered as Docker's API numbers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// Changed (content, metadata, or a directory's entries).
    Modified = 0,
    /// Created since the container started from its image.
    Added = 1,
    /// Removed (a whiteout in the container's layer).
    Deleted = 2,
}

impl ChangeKind {
    /// `C`, `A` or `D`, as `docker diff` prints it.
    pub fn letter(self) -> char {
        match self {
            ChangeKind::Modified => 'C',
            ChangeKind::Added => 'A',
            ChangeKind::Deleted => 'D',
        }
    }
}

impl Serialize for ChangeKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(*self as u8)
    }
}

/// One line of `rrun diff`: `{"Path": "/etc/passwd", "Kind": 0}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FsChange {
    /// The path in the container.
    pub path: String,
    /// What happened to it.
    pub kind: ChangeKind,
}

/// `commit` options.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct CommitOptions {
    /// `REPO[:TAG]` for the new image; none leaves it unnamed.
    pub reference: Option<String>,
    /// `-m`: the commit message (the image's `Comment`).
    pub message: Option<String>,
    /// `-a`: the image's author.
    pub author: Option<String>,
    /// Dockerfile instructions applied to the config (`-c`).
    pub changes: Vec<String>,
    /// Freeze a running container while its layer is written.
    pub pause: bool,
}

/// A path as a container sees it, `..` and `.` resolved by the text alone
/// (never above `/`), without its leading `/`: `/a/../b/./c` → `b/c`.
pub(crate) fn clean_relative(path: &str) -> PathBuf {
    let mut out = PathBuf::new();
    for c in Path::new(path).components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

impl Rrun {
    /// The image layers of a container, top first.
    fn lower_dirs(&self, c: &ContainerRecord) -> Vec<PathBuf> {
        c.layers.iter().rev().map(|d| self.store().layer_dir(d).join("diff")).collect()
    }

    /// What the runtime itself created in the upper directory: empty files
    /// and directories where the Spec mounts something (`/etc/hosts`, a
    /// volume's mount point) that the image does not have. Not the
    /// container's doing, so not part of its changes.
    fn runtime_stubs(&self, c: &Container) -> HashSet<PathBuf> {
        use nix::fcntl::OFlag;
        let Ok(upper) = std::fs::File::open(c.dir.join("upper")) else { return HashSet::new() };
        let lower = self.lower_dirs(&c.record);
        c.spec
            .mounts()
            .iter()
            .flatten()
            .map(|m| clean_relative(&m.destination().to_string_lossy()))
            .filter(|rel| !rel.as_os_str().is_empty())
            .filter(|rel| {
                // looked up without following a symlink, and not opened: the container made what is in upper/
                let open = |flags| crate::securefs::open_beneath(upper.as_fd(), rel, flags | OFlag::O_NOFOLLOW);
                let Ok(fd) = open(OFlag::O_PATH) else { return false };
                let Ok(st) = nix::sys::stat::fstat(fd.as_raw_fd()) else { return false };
                let empty = match st.st_mode & libc::S_IFMT {
                    libc::S_IFDIR => open(OFlag::O_RDONLY | OFlag::O_DIRECTORY)
                        .is_ok_and(|d| layer_writer::sorted_names(d.as_fd(), rel).is_ok_and(|n| n.is_empty())),
                    libc::S_IFREG => st.st_size == 0,
                    _ => false,
                };
                empty && rootfs::stat_through_layers(&lower, rel).is_none()
            })
            .collect()
    }

    /// What the container changed in its filesystem, as `docker diff` lists
    /// it: `A` added, `C` changed, `D` deleted, parents before children.
    pub fn diff(&self, name_or_id: &str) -> Result<Vec<FsChange>, Error> {
        let c = self.open_container(name_or_id)?;
        let walk = DiffWalk { lower: self.lower_dirs(&c.record), skip: self.runtime_stubs(&c) };
        let err = |source| FsError::Tree { container: name_or_id.to_string(), source };
        let upper_path = c.dir.join("upper");
        let upper = std::fs::File::open(&upper_path).map_err(|e| err(TreeError::io(&upper_path, "open")(e)))?;
        Ok(walk.dir(upper.as_fd(), Path::new("")).map_err(err)?)
    }

    /// Runs `work` on the container's root filesystem: a running container's
    /// through `/proc/PID/root`, in this process; a stopped one's overlay
    /// mounted in a child with a private mount namespace.
    pub(crate) fn with_container_root(
        &self,
        c: &Container,
        work: impl FnOnce(BorrowedFd<'_>) -> Result<(), String>,
    ) -> Result<(), Error> {
        let name = c.record.name.clone();
        let child_err = |source| FsError::Child { container: name.clone(), source };
        if let Some(root) = self.running_root(&c.record, "root")? {
            let dir =
                open_dir_at(root.as_fd()).map_err(|reason| FsError::Refused { container: name.clone(), reason })?;
            return work(dir.as_fd()).map_err(|m| child_err(FsChildError::Failed(m)).into());
        }
        let src = rootfs::overlay(self.store(), &c.record.layers, &c.dir);
        fsns::with_mounted_rootfs(&src, work).map_err(|e| child_err(e).into())
    }

    /// `/proc/PID/<what>` of a running container's init, opened and checked
    /// to belong to it still; `None` when the container does not run.
    fn running_root(&self, c: &ContainerRecord, what: &str) -> Result<Option<OwnedFd>, Error> {
        let (Some(pid), Some(start)) = (c.pid, c.pid_start_time) else { return Ok(None) };
        if !c.is_running() || !process_alive(pid, start) {
            return Ok(None);
        }
        let path = PathBuf::from(format!("/proc/{pid}/{what}"));
        let fd = std::fs::File::open(&path).map_err(crate::io_error(&path))?;
        // opened while the process was still the container's init (not a reused PID)
        if !process_alive(pid, start) {
            return Ok(None);
        }
        Ok(Some(fd.into()))
    }

    /// Writes the container's whole root filesystem as a tar stream (`docker
    /// export`): the image layers and its changes, without what is mounted
    /// on top (`/proc`, volumes).
    pub fn export(&self, name_or_id: &str, out: &std::fs::File) -> Result<(), Error> {
        let c = self.open_container(name_or_id)?;
        let work = |root: BorrowedFd<'_>| -> Result<(), String> {
            let mut sink = TarSink::new(io::BufWriter::with_capacity(1 << 20, out));
            Walker::new(WalkOptions::default(), &mut sink)
                .walk_contents(root, Path::new(""))
                .map_err(|e| e.to_string())?;
            let mut w = sink.into_inner().map_err(|e| format!("write the archive: {e}"))?;
            w.flush().map_err(|e| format!("write the archive: {e}"))
        };
        let child_err = |source| FsError::Child { container: name_or_id.to_string(), source };
        match self.running_root(&c.record, "ns/mnt")? {
            Some(ns) => fsns::with_namespace_root(ns.as_fd(), work).map_err(|e| child_err(e).into()),
            None => {
                let src = rootfs::overlay(self.store(), &c.record.layers, &c.dir);
                fsns::with_mounted_rootfs(&src, work).map_err(|e| child_err(e).into())
            }
        }
    }

    /// [`Rrun::export`] into `path`, which appears only once the archive is complete.
    pub fn export_to_file(&self, name_or_id: &str, path: &Path) -> Result<(), Error> {
        let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let tmp = path.with_file_name(format!(".{file_name}.rrun-{}", std::process::id()));
        let result = (|| {
            let file = std::fs::File::create(&tmp).map_err(crate::io_error(&tmp))?;
            self.export(name_or_id, &file)?;
            file.sync_all().map_err(crate::io_error(&tmp))?;
            std::fs::rename(&tmp, path).map_err(crate::io_error(path))
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }

    /// Makes a new image of the container's image plus its changes (`docker
    /// commit`): the upper directory becomes one more layer (whiteouts as
    /// `.wh.` entries), the config gets the container's environment and
    /// working directory, the `-c` changes and a history entry. Returns the
    /// new image ID.
    pub fn commit(&self, name_or_id: &str, opts: &CommitOptions) -> Result<Digest, Error> {
        let c = self.open_container(name_or_id)?;
        let refused = |reason: String| FsError::Refused { container: name_or_id.to_string(), reason };
        let names = match &opts.reference {
            Some(r) => {
                let parsed = ImageRef::parse(r)?;
                if parsed.digest.is_some() {
                    return Err(refused(format!("cannot commit to a digest: {r}")).into());
                }
                vec![parsed.to_string()]
            }
            None => Vec::new(),
        };
        let base = {
            let _lock = self.store().lock_shared()?;
            self.store().read_index()?.images.get(&c.record.image_manifest).cloned()
        }
        .ok_or_else(|| refused(format!("its image {} was removed: commit needs it", c.record.image)))?;
        let mut config: ImageConfig = self.image_config(&base)?;
        let mut run = config.config.clone().unwrap_or_default();
        container_settings(&mut run, &c.spec);
        for ch in &opts.changes {
            image::change::apply(&mut run, ch).map_err(FsError::from)?;
        }

        // the layer: the upper directory, written while the container is frozen
        let staging = self.store().staging("commit")?;
        let blob_path = staging.path().join("layer.tar.gz");
        let file = std::fs::File::create(&blob_path).map_err(crate::io_error(&blob_path))?;
        let walk = WalkOptions { whiteouts: true, skip: self.runtime_stubs(&c), ..Default::default() };
        let frozen = self.freeze_for_commit(&c.record, opts.pause)?;
        let written = layer_writer::write_layer(&c.dir.join("upper"), walk, file);
        if let Some(cg) = frozen {
            cg.thaw()?;
        }
        let written = written.map_err(|source| FsError::Tree { container: name_or_id.to_string(), source })?;

        let now = crate::container::now_rfc3339();
        config.created = Some(now.clone());
        config.author = opts.author.clone();
        match &opts.message {
            Some(m) => config.extra.insert("comment".into(), serde_json::Value::String(m.clone())),
            None => config.extra.remove("comment"),
        };
        config.config = Some(run);
        config.rootfs.kind = "layers".into();
        config.rootfs.diff_ids.push(written.diff_id.clone());
        let mut step = image::History::default();
        step.set_created(Some(now));
        step.set_created_by(Some(c.record.command.join(" ")));
        step.set_author(opts.author.clone());
        step.set_comment(opts.message.clone());
        config.history.push(step);
        let config_bytes = serde_json::to_vec(&config).expect("config serializes");
        // (media type, blob, size) of every layer, the new one last
        let mut layers: Vec<(String, Digest, u64)> = base
            .layers
            .iter()
            .map(|l| (image::save::oci_layer_media_type(&l.media_type).to_string(), l.blob.clone(), l.size))
            .collect();
        layers.push(("application/vnd.oci.image.layer.v1.tar+gzip".into(), written.blob.clone(), written.blob_size));
        let manifest = image::new_manifest(
            image::descriptor(MEDIA_OCI_CONFIG, &Digest::of(&config_bytes), config_bytes.len() as u64),
            layers.iter().map(|(media, blob, size)| image::descriptor(media, blob, *size)).collect(),
            None,
        );
        let manifest_bytes = image::to_json(&manifest).expect("manifest serializes");
        let planned = layers
            .iter()
            .zip(&config.rootfs.diff_ids)
            .map(|((media, blob, size), diff_id)| PlannedLayer {
                member: if *blob == written.blob {
                    blob_path.display().to_string()
                } else {
                    self.store().blob_path(blob).display().to_string()
                },
                size: Some(*size),
                blob: Some(blob.clone()),
                media_type: Some(media.clone()),
                diff_id: diff_id.clone(),
            })
            .collect();
        let plan = Plan {
            names,
            repo_digests: Vec::new(),
            manifest: Some((Digest::of(&manifest_bytes), manifest_bytes)),
            config_bytes,
            config,
            layers: planned,
        };
        // stored as an import is: the new layer unpacked into layers/, all committed together
        let loaded = Importer {
            store: self.store(),
            progress: None,
            origin: format!("commit of {}", c.record.name),
            source: &FileSource,
        }
        .import(plan)?;
        drop(staging);
        Ok(loaded.record.config)
    }

    /// Freezes a running, unpaused container when asked; the caller thaws it.
    fn freeze_for_commit(
        &self,
        c: &ContainerRecord,
        pause: bool,
    ) -> Result<Option<Box<dyn crate::cgroups::Cgroup>>, Error> {
        if !pause || c.status != crate::Status::Running {
            return Ok(None);
        }
        let Some(cg) = crate::cgroups::open(&c.cgroup) else { return Ok(None) };
        cg.freeze()?;
        Ok(Some(cg))
    }
}

/// The container's own settings that a commit keeps: its environment (less
/// what the runtime adds for each run) and working directory.
fn container_settings(run: &mut image::ContainerConfig, spec: &oci_spec::runtime::Spec) {
    let Some(process) = spec.process().as_ref() else { return };
    let image_env: Vec<String> = run.env.clone().unwrap_or_default();
    let in_image = |k: &str| image_env.iter().any(|kv| kv.split_once('=').map_or(kv.as_str(), |(ek, _)| ek) == k);
    let env: Vec<String> = process
        .env()
        .iter()
        .flatten()
        .filter(|kv| {
            let k = kv.split_once('=').map_or(kv.as_str(), |(k, _)| k);
            k != "HOSTNAME" && (!matches!(k, "HOME" | "TERM") || in_image(k))
        })
        .cloned()
        .collect();
    if !env.is_empty() {
        run.env = Some(env);
    }
    let cwd = process.cwd().to_string_lossy().into_owned();
    if cwd != "/" || run.working_dir.is_some() {
        run.working_dir = Some(cwd);
    }
}

/// Blobs named by their path: the store's, and the layer a commit just wrote.
struct FileSource;

impl Source for FileSource {
    fn open(&self, name: &str) -> io::Result<Box<dyn Read + Send + '_>> {
        Ok(Box::new(std::fs::File::open(name)?))
    }
    fn exists(&self, name: &str) -> bool {
        Path::new(name).is_file()
    }
}

/// An `O_RDONLY` directory descriptor for the directory `fd` names.
fn open_dir_at(fd: BorrowedFd<'_>) -> Result<OwnedFd, String> {
    layer_writer::open_child(
        fd,
        std::ffi::OsStr::new("."),
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_DIRECTORY,
    )
    .map_err(|e| format!("open the container's root: {e}"))
}

/// Walks a container's upper directory against its image layers, through
/// directory descriptors (what the container made there is never followed).
struct DiffWalk {
    /// Image layers, top first.
    lower: Vec<PathBuf>,
    /// What the runtime created (mount points), left out.
    skip: HashSet<PathBuf>,
}

impl DiffWalk {
    fn change(rel: &Path, kind: ChangeKind) -> FsChange {
        FsChange { path: format!("/{}", rel.display()), kind }
    }

    /// The changes in directory `dir` (at `rel` in the upper directory) and
    /// below, in Docker's order: each directory's entries by name, parents first.
    fn dir(&self, dir: BorrowedFd<'_>, rel: &Path) -> Result<Vec<FsChange>, TreeError> {
        use nix::fcntl::{AtFlags, OFlag};
        let mut out = Vec::new();
        for name in layer_writer::sorted_names(dir, rel)? {
            let child = rel.join(&name);
            if self.skip.contains(&child) {
                continue;
            }
            let st = nix::sys::stat::fstatat(Some(dir.as_raw_fd()), name.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW)
                .map_err(TreeError::errno(&child, "stat"))?;
            let kind = st.st_mode & libc::S_IFMT;
            if kind == libc::S_IFCHR && st.st_rdev == 0 {
                out.push(Self::change(&child, ChangeKind::Deleted));
                continue;
            }
            let lower = rootfs::stat_through_layers(&self.lower, &child);
            if kind != libc::S_IFDIR {
                let kind = if lower.is_some() { ChangeKind::Modified } else { ChangeKind::Added };
                out.push(Self::change(&child, kind));
                continue;
            }
            let sub = layer_writer::open_child(dir, &name, OFlag::O_RDONLY | OFlag::O_DIRECTORY)
                .map_err(TreeError::errno(&child, "open directory"))?;
            let below = self.dir(sub.as_fd(), &child)?;
            let own = match &lower {
                None => Some(ChangeKind::Added),
                // deleted and made again: what the image had there is gone
                Some(_) if layer_writer::is_opaque(sub.as_fd()) => Some(ChangeKind::Deleted),
                Some(l) if !l.is_dir() => Some(ChangeKind::Modified),
                Some(l) if (l.mode(), l.uid(), l.gid()) != (st.st_mode, st.st_uid, st.st_gid) => {
                    Some(ChangeKind::Modified)
                }
                // unchanged itself: listed only as the parent of a change
                Some(_) => (!below.is_empty()).then_some(ChangeKind::Modified),
            };
            if let Some(kind) = own {
                out.push(Self::change(&child, kind));
            }
            out.extend(below);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_paths_are_cleaned_by_their_text() {
        assert_eq!(clean_relative("/x/../.."), PathBuf::from(""));
        assert_eq!(clean_relative("/a/./b/../c/"), PathBuf::from("a/c"));
        assert_eq!(clean_relative("../../etc/shadow"), PathBuf::from("etc/shadow"));
        assert_eq!(clean_relative("etc"), PathBuf::from("etc"));
    }

    #[test]
    fn a_commit_keeps_the_containers_environment_and_workdir() {
        let spec: oci_spec::runtime::Spec = serde_json::from_value(serde_json::json!({
            "ociVersion": "1.0.2",
            "process": {
                "cwd": "/srv",
                "args": ["sh"],
                "user": {"uid": 0, "gid": 0},
                "env": ["PATH=/bin", "HOSTNAME=abc", "HOME=/root", "A=from-run", "TERM=xterm"]
            }
        }))
        .unwrap();
        let mut run = image::ContainerConfig { env: Some(vec!["PATH=/bin".into()]), ..Default::default() };
        container_settings(&mut run, &spec);
        assert_eq!(run.env.unwrap(), ["PATH=/bin", "A=from-run"]);
        assert_eq!(run.working_dir.as_deref(), Some("/srv"));
    }

    #[test]
    fn changes_serialize_as_dockers_api() {
        let c = FsChange { path: "/etc".into(), kind: ChangeKind::Deleted };
        assert_eq!(serde_json::to_value(&c).unwrap(), serde_json::json!({"Path": "/etc", "Kind": 2}));
        assert_eq!(ChangeKind::Added.letter(), 'A');
    }
}
