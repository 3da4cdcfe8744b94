//! `run --dry-run`: the container `run` would make, worked out by the very
//! code that makes it (`create` with nothing written), so the plan cannot
//! differ from what a run does.

use crate::launcher::RootfsSource;
use crate::spec::RunOptions;
use crate::{rootfs, Error, Rrun};
use std::path::PathBuf;

/// What `run` would do with an image and options, and nothing done.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DryRun {
    /// The ID the container would have had (a new one at each run).
    pub id: String,
    /// The name it would have had.
    pub name: String,
    /// `containers/<id>/`, not created.
    pub container_dir: PathBuf,
    /// The OCI runtime spec, as `config.json` would hold it.
    pub spec: oci_spec::runtime::Spec,
    /// The overlay: layers (top first, absolute), upper, work, mount point.
    pub rootfs: RootfsSource,
    /// The volumes it would mount.
    pub volumes: Vec<PlannedVolume>,
}

/// A volume the container would mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedVolume {
    /// The volume's name.
    pub name: String,
    /// Where it is mounted in the container.
    pub destination: PathBuf,
    /// Where its files are on the host.
    pub source: PathBuf,
    /// It does not exist yet: `run` would create it.
    pub new: bool,
    /// It is anonymous (`-v /path`, an image's `VOLUME`): removed with the container by `--rm`.
    pub anonymous: bool,
}

impl Rrun {
    /// Works out the container `run` would start — spec, overlay, mounts,
    /// volumes — creating nothing: no record, no directory, no volume, no
    /// cgroup. The image must be in the store (a dry run pulls nothing).
    pub fn dry_run(&self, image_name: &str, opts: &RunOptions) -> Result<DryRun, Error> {
        let c = self.create_inner(image_name, opts, &mut Vec::new(), false, true)?;
        let rootfs = match rootfs::overlay(self.store(), &c.record.layers, &c.dir) {
            RootfsSource::Overlay { layers_dir, lowers, upper, work, target } => RootfsSource::Overlay {
                lowers: lowers.iter().map(|l| layers_dir.join(l).display().to_string()).collect(),
                layers_dir,
                upper,
                work,
                target,
            },
            other => other,
        };
        let volumes = c
            .record
            .volumes
            .iter()
            .map(|v| {
                let existing = self.volume(&v.name).ok();
                PlannedVolume {
                    name: v.name.clone(),
                    destination: v.destination.clone(),
                    source: existing
                        .as_ref()
                        .map(|e| e.source())
                        .unwrap_or_else(|| crate::volume::volumes_dir(self.store()).join(&v.name).join("_data")),
                    new: existing.is_none(),
                    anonymous: v.anonymous,
                }
            })
            .collect();
        Ok(DryRun { id: c.record.id, name: c.record.name, container_dir: c.dir, spec: c.spec, rootfs, volumes })
    }
}
