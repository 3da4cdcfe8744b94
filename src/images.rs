//! The image operations of the [`Rrun`] handle beyond pull/push/tag:
//! inspect (and `inspect` of any object), history, save, load from a stream,
//! prune and disk usage. The work is in `image::*`; this joins it with the
//! store's lock and with the containers that keep images and layers in use.

use crate::digest::Digest;
use crate::image::history::HistoryEntry;
use crate::image::inspect::ImageInspect;
use crate::image::save::{ArchiveFormat, SaveImage};
use crate::image::{self, ImageIndex, PlatformExt};
use crate::{io_error, Error, LoadedImage, Rrun, Status};
use serde::Serialize;
use std::collections::HashSet;
use std::io::{Read, Write};
use std::path::Path;

/// What `rrun inspect --type` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ObjectType {
    /// A container.
    Container,
    /// An image.
    Image,
}

impl std::str::FromStr for ObjectType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "container" => Ok(ObjectType::Container),
            "image" => Ok(ObjectType::Image),
            other => Err(format!("invalid --type {other:?}: expected container or image")),
        }
    }
}

/// What `rrun inspect` found: a container or an image, each in Docker's shape.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum InspectObject {
    /// A container ([`Rrun::inspect`]).
    Container(Box<crate::ContainerInspect>),
    /// An image ([`Rrun::inspect_image`]).
    Image(Box<ImageInspect>),
}

/// One line of what a prune removed, as Docker's API has it: `{"Untagged": name}` or `{"Deleted": id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum ImageDeleteItem {
    /// A name (`repo:tag`, `repo@digest`) removed.
    Untagged(String),
    /// An image deleted, by ID.
    Deleted(String),
}

impl std::fmt::Display for ImageDeleteItem {
    /// As `docker rmi` prints it: `Untagged: NAME`, `Deleted: ID`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ImageDeleteItem::Untagged(n) => write!(f, "Untagged: {n}"),
            ImageDeleteItem::Deleted(d) => write!(f, "Deleted: {d}"),
        }
    }
}

/// What `image prune` and `system prune` removed.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct PruneReport {
    /// The IDs of the containers removed.
    pub containers_deleted: Vec<String>,
    /// The names untagged and images deleted.
    pub images_deleted: Vec<ImageDeleteItem>,
    /// Volumes removed (`system prune --volumes`).
    pub volumes_deleted: Vec<String>,
    /// Networks no container used (`system prune`).
    pub networks_deleted: Vec<String>,
    /// Bytes freed: container layers, unpacked image layers and blobs.
    pub space_reclaimed: u64,
}

/// One image in `system df -v`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageUsage {
    /// `registry/repository`, or `<none>`.
    pub repository: String,
    /// The tag, or `<none>`.
    pub tag: String,
    /// Image ID (config digest).
    pub id: Digest,
    /// When the image was built (RFC 3339, from its config), if it says.
    pub created: Option<String>,
    /// Unpacked size of all its layers, in bytes.
    pub size: u64,
    /// The part of `size` in layers other images use too.
    pub shared_size: u64,
    /// The part of `size` in layers only this image uses (`size - shared_size`).
    pub unique_size: u64,
    /// Containers created from it.
    pub containers: usize,
}

/// One container in `system df -v`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerUsage {
    /// The 64-hex container ID.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The image as the user named it.
    pub image: String,
    /// The command it runs: entrypoint and arguments.
    pub command: Vec<String>,
    /// When it was created (RFC 3339).
    pub created: String,
    /// Where it is in its life; running and paused ones count as active.
    pub status: Status,
    /// Bytes the container wrote (its upper layer).
    pub size_rw: u64,
}

/// One volume in `system df -v`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct VolumeUsage {
    /// The volume's name.
    pub name: String,
    /// Containers that mount it.
    pub links: usize,
    /// Bytes of its content.
    pub size: u64,
}

/// One row of `system df`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UsageSummary {
    /// The `TYPE` column: `Images`, `Containers`, `Local Volumes` or `Build Cache`.
    #[serde(rename = "Type")]
    pub kind: String,
    /// The `TOTAL` column: how many there are.
    pub total_count: usize,
    /// The `ACTIVE` column: images with a container, running or paused containers,
    /// volumes a container mounts.
    pub active: usize,
    /// The `SIZE` column, in bytes.
    pub size: u64,
    /// The `RECLAIMABLE` column: bytes a prune could free.
    pub reclaimable: u64,
}

/// Disk usage of images, containers, volumes and the build cache.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DiskUsage {
    /// Unpacked size of every layer in the store, each counted once.
    pub layers_size: u64,
    /// Every image: one row per name, an untagged one once (as `<none>`).
    pub images: Vec<ImageUsage>,
    /// Every container.
    pub containers: Vec<ContainerUsage>,
    /// Every volume.
    pub volumes: Vec<VolumeUsage>,
    /// Unpacked size of the layers no container's image needs.
    pub images_reclaimable: u64,
    /// What no image and no container references (layers, blobs, leftovers
    /// of killed commands): counted in the Images row, removed by a prune.
    pub unreferenced: crate::gc::GarbageUsage,
}

impl DiskUsage {
    /// `system df`'s table: Images, Containers, Local Volumes, Build Cache.
    pub fn summary(&self) -> Vec<UsageSummary> {
        let row = |kind: &str, total_count, active, size, reclaimable| UsageSummary {
            kind: kind.to_string(),
            total_count,
            active,
            size,
            reclaimable,
        };
        let running = |c: &&ContainerUsage| matches!(c.status, Status::Running | Status::Paused);
        vec![
            row(
                "Images",
                self.images.iter().map(|i| &i.id).collect::<HashSet<_>>().len(),
                self.images.iter().filter(|i| i.containers > 0).map(|i| &i.id).collect::<HashSet<_>>().len(),
                self.layers_size + self.unreferenced.size,
                self.images_reclaimable + self.unreferenced.size,
            ),
            row(
                "Containers",
                self.containers.len(),
                self.containers.iter().filter(running).count(),
                self.containers.iter().map(|c| c.size_rw).sum(),
                self.containers.iter().filter(|c| !running(c)).map(|c| c.size_rw).sum(),
            ),
            row(
                "Local Volumes",
                self.volumes.len(),
                self.volumes.iter().filter(|v| v.links > 0).count(),
                self.volumes.iter().map(|v| v.size).sum(),
                self.volumes.iter().filter(|v| v.links == 0).map(|v| v.size).sum(),
            ),
            row("Build Cache", 0, 0, 0, 0),
        ]
    }
}

impl Rrun {
    /// The platform an image is for, from its config (`os/architecture[/variant]`).
    pub fn image_platform(&self, name: &str) -> Result<image::Platform, Error> {
        let record = self.image(name)?;
        let config = self.image_config(&record)?;
        Ok(image::Platform::new_named(&config.os, &config.architecture, config.variant.as_deref()))
    }

    /// `--platform` with `--pull=never`: the local image must be for that
    /// platform, or the error says what it is for.
    pub fn check_image_platform(&self, name: &str, wanted: &image::Platform) -> Result<(), Error> {
        let actual = self.image_platform(name)?;
        if wanted.matches(&actual) {
            return Ok(());
        }
        Err(Error::PlatformMismatch { image: name.to_string(), wanted: wanted.describe(), actual: actual.describe() })
    }

    /// An image as `docker image inspect` shows it.
    pub fn inspect_image(&self, name: &str) -> Result<ImageInspect, Error> {
        let (record, index) = self.image_and_index(name)?;
        let config = self.image_config(&record)?;
        let tags = index.names_of(&record.manifest).into_iter().map(String::from).collect();
        let dirs: Vec<_> = record.diff_ids().map(|d| self.store().layer_dir(d).join("diff")).collect();
        Ok(image::inspect::build(&record, &config, tags, &dirs))
    }

    /// `rrun inspect`: a container or an image. Without a type, a container
    /// of that name or ID first, then an image, as Docker does.
    pub fn inspect_object(&self, name: &str, kind: Option<ObjectType>) -> Result<InspectObject, Error> {
        let image = || self.inspect_image(name).map(|i| InspectObject::Image(Box::new(i)));
        let container = || self.inspect(name).map(|c| InspectObject::Container(Box::new(c)));
        match kind {
            Some(ObjectType::Container) => container(),
            Some(ObjectType::Image) => image(),
            None => match container() {
                Err(Error::ContainerNotFound(_)) => image().map_err(|e| match e {
                    Error::ImageNotFound(_) => Error::NoSuchObject(name.to_string()),
                    e => e,
                }),
                Err(ambiguous @ Error::AmbiguousContainer { .. }) => image().map_err(|_| ambiguous),
                other => other,
            },
        }
    }

    /// An image's history, newest step first.
    pub fn history(&self, name: &str) -> Result<Vec<HistoryEntry>, Error> {
        let (record, index) = self.image_and_index(name)?;
        let config = self.image_config(&record)?;
        let tags = index.names_of(&record.manifest).into_iter().map(String::from).collect();
        Ok(image::history::entries(&record, &config, tags, |d| image::layer_size(self.store(), d)))
    }

    fn image_and_index(&self, name: &str) -> Result<(image::ImageRecord, ImageIndex), Error> {
        let _lock = self.store().lock_shared()?;
        let index = self.store().read_index()?;
        let record = index.lookup(name).cloned().ok_or_else(|| Error::ImageNotFound(name.to_string()))?;
        Ok((record, index))
    }

    /// Writes the named images as one archive to `out`. An image named by
    /// `NAME[:TAG]` is saved under that name; by ID or digest, unnamed.
    pub fn save(&self, names: &[String], format: ArchiveFormat, out: &mut dyn Write) -> Result<(), Error> {
        let _lock = self.store().lock_shared()?;
        let index = self.store().read_index()?;
        let mut images = Vec::new();
        for n in names {
            let record = index.lookup(n).cloned().ok_or_else(|| Error::ImageNotFound(n.clone()))?;
            images.push(SaveImage { record, names: index.tag_key(n).into_iter().collect() });
        }
        Ok(image::save::write_archive(self.store(), &images, format, out)?)
    }

    /// [`Rrun::save`] into `path`, which appears only once the archive is complete.
    pub fn save_to_file(&self, names: &[String], format: ArchiveFormat, path: &Path) -> Result<(), Error> {
        let file_name = path.file_name().ok_or_else(|| Error::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name"),
        })?;
        let tmp = path.with_file_name(format!(".{}.rrun-{}", file_name.to_string_lossy(), std::process::id()));
        let result = (|| {
            let file = std::fs::File::create(&tmp).map_err(io_error(&tmp))?;
            let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
            self.save(names, format, &mut w)?;
            let file = w.into_inner().map_err(|e| Error::Io { path: tmp.clone(), source: e.into_error() })?;
            file.sync_all().map_err(io_error(&tmp))?;
            std::fs::rename(&tmp, path).map_err(io_error(path))
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }

    /// [`Rrun::load`], handing `progress` what a pull hands it, without
    /// `Resolved`: each layer's `LayerStarted`, `Bytes` and `LayerDone` as it
    /// is unpacked (from the unpacking threads), and each image's
    /// `Committed` once it is in the store.
    pub fn load_with_progress(
        &self,
        path: &Path,
        default_name: Option<&str>,
        progress: &crate::progress::ProgressFn,
    ) -> Result<Vec<LoadedImage>, Error> {
        let loaded = image::archive::load_with(self.store(), path, default_name, Some(progress))?;
        for l in &loaded {
            let id = l.record.config.to_string();
            self.emit_image("load", &id, l.names.first().map(String::as_str).unwrap_or(&id));
        }
        Ok(loaded)
    }

    /// Loads an archive read from a stream (`rrun load < FILE`): it is kept
    /// under the store's `tmp/` while it is imported, since layers are read
    /// from it in place and in parallel.
    pub fn load_reader(&self, input: &mut dyn Read, default_name: Option<&str>) -> Result<Vec<LoadedImage>, Error> {
        let staging = self.store().staging("load")?;
        let path = staging.path().join("stdin.tar");
        let mut file = std::fs::File::create(&path).map_err(io_error(&path))?;
        std::io::copy(input, &mut file).map_err(io_error(&path))?;
        drop(file);
        self.load(&path, default_name)
    }

    /// Removes images no container uses: dangling ones (no name, no digest),
    /// or with `all` every such image; and the layers and blobs they leave unused.
    pub fn prune_images(&self, all: bool) -> Result<PruneReport, Error> {
        let _lock = self.store().lock_exclusive()?;
        let mut index = self.store().read_index()?;
        let used: HashSet<Digest> = self.containers_unlocked()?.into_iter().map(|c| c.image_manifest).collect();
        let victims: Vec<Digest> = index
            .images
            .values()
            .filter(|i| !used.contains(&i.manifest) && (all || index.is_dangling(i)))
            .map(|i| i.manifest.clone())
            .collect();
        let mut report = PruneReport::default();
        for m in &victims {
            for n in index.names_of(m).into_iter().map(String::from).collect::<Vec<_>>() {
                index.tags.remove(&n);
                report.images_deleted.push(ImageDeleteItem::Untagged(n));
            }
            let Some(rec) = index.images.remove(m) else { continue };
            for d in &rec.repo_digests {
                report.images_deleted.push(ImageDeleteItem::Untagged(d.clone()));
            }
            report.images_deleted.push(ImageDeleteItem::Deleted(rec.config.to_string()));
        }
        if !victims.is_empty() {
            self.store().write_index(&index)?;
        }
        // then a sweep of the whole store: the images' layers and blobs, and what killed commands left
        report.space_reclaimed += self.collect_garbage()?;
        Ok(report)
    }

    /// `system prune`: stopped containers, then dangling images (with `all`,
    /// every image no container uses).
    pub fn system_prune(&self, all: bool, volumes: bool) -> Result<PruneReport, Error> {
        // containers first: the images only they used become unused
        let containers = self.system_prune_containers()?;
        let mut report = self.prune_images(all)?;
        report.containers_deleted = containers.containers_deleted;
        report.space_reclaimed += containers.space_reclaimed;
        // as docker: the networks no container uses
        report.networks_deleted = self.network_prune()?;
        if volumes {
            // as docker: the anonymous volumes no container uses
            let pruned = self.volume_prune(false)?;
            report.volumes_deleted = pruned.volumes;
            report.space_reclaimed += pruned.space;
        }
        Ok(report)
    }

    /// Removes every container that is not running: their IDs and the bytes their layers held.
    pub fn system_prune_containers(&self) -> Result<PruneReport, Error> {
        let sizes: Vec<(String, u64)> = self
            .containers()?
            .into_iter()
            .filter(|c| !c.is_running())
            .map(|c| {
                let size = crate::store::tree_size(&self.store().container_dir(&c.id).join("upper"));
                (c.id, size)
            })
            .collect();
        let removed = self.prune_containers()?;
        let freed: u64 = sizes.iter().filter(|(id, _)| removed.contains(id)).map(|(_, s)| s).sum();
        Ok(PruneReport { containers_deleted: removed, space_reclaimed: freed, ..Default::default() })
    }

    /// What images and containers hold on disk, and what a prune could free.
    pub fn disk_usage(&self) -> Result<DiskUsage, Error> {
        let (index, containers) = {
            let _lock = self.store().lock_shared()?;
            (self.store().read_index()?, self.containers_unlocked()?)
        };
        let mut layer_users: std::collections::HashMap<&Digest, usize> = std::collections::HashMap::new();
        for rec in index.images.values() {
            for d in rec.diff_ids().collect::<HashSet<_>>() {
                *layer_users.entry(d).or_default() += 1;
            }
        }
        let size_of = |d: &Digest| image::layer_size(self.store(), d);
        let layers_size: u64 = layer_users.keys().map(|d| size_of(d)).sum();
        // layers a container needs stay, whatever image holds them
        let mut needed: HashSet<&Digest> = containers.iter().flat_map(|c| c.layers.iter()).collect();
        let active: HashSet<&Digest> = containers.iter().map(|c| &c.image_manifest).collect();
        for rec in index.images.values().filter(|r| active.contains(&r.manifest)) {
            needed.extend(rec.diff_ids());
        }
        let needed_size: u64 = needed.iter().filter(|d| layer_users.contains_key(*d)).map(|d| size_of(d)).sum();
        let summaries = self.images()?;
        let images = summaries
            .iter()
            .filter_map(|s| {
                let rec = index.images.get(&s.manifest)?;
                let distinct: HashSet<&Digest> = rec.diff_ids().collect();
                let shared_size: u64 =
                    distinct.iter().filter(|d| layer_users.get(*d).copied().unwrap_or(0) > 1).map(|d| size_of(d)).sum();
                let size: u64 = distinct.iter().map(|d| size_of(d)).sum();
                Some(ImageUsage {
                    repository: s.repository.clone(),
                    tag: s.tag.clone(),
                    id: s.id.clone(),
                    created: s.created.clone(),
                    size,
                    shared_size,
                    unique_size: size - shared_size,
                    containers: containers.iter().filter(|c| c.image_manifest == rec.manifest).count(),
                })
            })
            .collect();
        let containers = containers
            .iter()
            .map(|c| ContainerUsage {
                id: c.id.clone(),
                name: c.name.clone(),
                image: c.image.clone(),
                command: c.command.clone(),
                created: c.created.clone(),
                status: c.status,
                size_rw: crate::store::tree_size(&self.store().container_dir(&c.id).join("upper")),
            })
            .collect();
        let volumes = self
            .volumes_with_users()?
            .into_iter()
            .map(|(v, users)| VolumeUsage {
                size: crate::store::tree_size(&v.mountpoint),
                name: v.name,
                links: users.len(),
            })
            .collect();
        Ok(DiskUsage {
            layers_size,
            images,
            containers,
            volumes,
            images_reclaimable: layers_size.saturating_sub(needed_size),
            unreferenced: self.garbage()?.usage(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_types_and_summary_rows() {
        assert_eq!("image".parse::<ObjectType>(), Ok(ObjectType::Image));
        assert!("volume".parse::<ObjectType>().is_err());
        let usage = DiskUsage {
            layers_size: 100,
            images_reclaimable: 40,
            images: vec![],
            containers: vec![ContainerUsage {
                id: "a".into(),
                name: "n".into(),
                image: "i".into(),
                command: vec![],
                created: String::new(),
                status: Status::Exited,
                size_rw: 7,
            }],
            volumes: vec![
                VolumeUsage { name: "used".into(), links: 1, size: 3 },
                VolumeUsage { name: "free".into(), links: 0, size: 4 },
            ],
            unreferenced: Default::default(),
        };
        let rows = usage.summary();
        let kinds: Vec<&str> = rows.iter().map(|r| r.kind.as_str()).collect();
        assert_eq!(kinds, ["Images", "Containers", "Local Volumes", "Build Cache"]);
        assert_eq!((rows[0].size, rows[0].reclaimable), (100, 40));
        let with_garbage = DiskUsage {
            unreferenced: crate::gc::GarbageUsage { layers: 1, blobs: 2, stray: 0, size: 60 },
            ..usage.clone()
        };
        assert_eq!((with_garbage.summary()[0].size, with_garbage.summary()[0].reclaimable), (160, 100));
        assert_eq!((rows[1].total_count, rows[1].active, rows[1].size, rows[1].reclaimable), (1, 0, 7, 7));
        assert_eq!((rows[2].total_count, rows[2].active, rows[2].size, rows[2].reclaimable), (2, 1, 7, 4));
        let item = serde_json::to_value(ImageDeleteItem::Untagged("x".into())).unwrap();
        assert_eq!(item, serde_json::json!({"Untagged": "x"}));
    }

    #[test]
    fn removal_items_print_as_docker_rmi() {
        let removal = crate::ImageRemoval {
            untagged: vec!["busybox:latest".into(), "busybox@sha256:ab".into()],
            deleted: Some(format!("sha256:{}", "c".repeat(64)).parse().unwrap()),
            reclaimed: 5,
        };
        let lines: Vec<String> = removal.items().iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            ["Untagged: busybox:latest", "Untagged: busybox@sha256:ab", &format!("Deleted: sha256:{}", "c".repeat(64))]
        );
    }
}
