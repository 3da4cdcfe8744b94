//! Importing images from disk: OCI image layouts (a directory or a tar of one,
//! as `skopeo copy oci-archive:` and `podman save --format oci-archive` write)
//! and docker-archive tars (`docker save`, `podman save`).
//!
//! Layers are streamed straight from the archive through the unpacker, several
//! at a time; the image becomes visible only after every layer is committed.

use super::unpack::{unpack_layer, Compression, UnpackError, UnpackRequest};
use super::{
    Descriptor, ImageConfig, ImageRecord, IndexJson, LayerMeta, LayerRecord, ManifestJson, Platform, MAX_JSON_SIZE,
};
use crate::digest::Digest;
use crate::reference::ImageRef;
use crate::store::{Store, StoreError};
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("{archive}: {source}")]
    Io { archive: PathBuf, source: io::Error },
    #[error("{archive}: not an image archive: expected an OCI layout (oci-layout, index.json) or a docker-archive (manifest.json)")]
    UnknownFormat { archive: PathBuf },
    #[error("{archive}: {what} is missing from the archive")]
    Missing { archive: PathBuf, what: String },
    #[error("{archive}: {what} is not valid: {reason}")]
    Invalid { archive: PathBuf, what: String, reason: String },
    #[error("{archive}: {what} is larger than {MAX_JSON_SIZE} bytes")]
    TooLarge { archive: PathBuf, what: String },
    #[error("{archive}: {what}: digest mismatch, expected {expected}, content is {actual}")]
    Digest { archive: PathBuf, what: String, expected: Digest, actual: Digest },
    #[error("{archive}: no image for platform {wanted}; the archive has: {available}")]
    NoPlatform { archive: PathBuf, wanted: Platform, available: String },
    #[error("{archive}: {source}")]
    Unpack { archive: PathBuf, source: UnpackError },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One image imported from an archive, with the names it came with.
#[derive(Debug, Clone)]
pub struct LoadedImage {
    pub names: Vec<String>,
    pub record: ImageRecord,
}

/// Where blobs are read from: a directory or an indexed tar file.
trait Source: Sync {
    fn open(&self, name: &str) -> io::Result<Box<dyn Read + Send + '_>>;
    fn exists(&self, name: &str) -> bool;
}

struct DirSource(PathBuf);

impl Source for DirSource {
    fn open(&self, name: &str) -> io::Result<Box<dyn Read + Send + '_>> {
        Ok(Box::new(File::open(self.0.join(name))?))
    }
    fn exists(&self, name: &str) -> bool {
        self.0.join(name).is_file()
    }
}

/// A tar file with a map from member name to (data offset, size), so members
/// are read in place, in any order, by several threads at once.
struct TarSource {
    path: PathBuf,
    members: HashMap<String, (u64, u64)>,
}

impl TarSource {
    fn index(path: &Path) -> io::Result<TarSource> {
        let mut archive = tar::Archive::new(File::open(path)?);
        let mut members = HashMap::new();
        let mut links = Vec::new();
        for entry in archive.entries()? {
            let entry = entry?;
            let name = normalize_member(&String::from_utf8_lossy(&entry.path_bytes()));
            match entry.header().entry_type() {
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    members.insert(name, (entry.raw_file_position(), entry.size()));
                }
                tar::EntryType::Symlink | tar::EntryType::Link => {
                    if let Some(target) = entry.link_name_bytes() {
                        let target = String::from_utf8_lossy(&target).into_owned();
                        let is_sym = entry.header().entry_type() == tar::EntryType::Symlink;
                        links.push((name, target, is_sym));
                    }
                }
                _ => {}
            }
        }
        // docker save deduplicates layers with links between member names
        for (name, target, is_sym) in links {
            let resolved = if is_sym {
                let dir = Path::new(&name).parent().unwrap_or(Path::new(""));
                normalize_member(&dir.join(&target).to_string_lossy())
            } else {
                normalize_member(&target)
            };
            if let Some(&pos) = members.get(&resolved) {
                members.insert(name, pos);
            }
        }
        Ok(TarSource { path: path.to_path_buf(), members })
    }
}

impl Source for TarSource {
    fn open(&self, name: &str) -> io::Result<Box<dyn Read + Send + '_>> {
        let &(offset, size) = self
            .members
            .get(&normalize_member(name))
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("{name} is not in the archive")))?;
        let mut f = File::open(&self.path)?;
        f.seek(SeekFrom::Start(offset))?;
        Ok(Box::new(f.take(size)))
    }
    fn exists(&self, name: &str) -> bool {
        self.members.contains_key(&normalize_member(name))
    }
}

/// `./a/../b//c` → `b/c` (names inside the archive, never paths on the host).
fn normalize_member(name: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for p in name.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

/// Imports every image in the archive at `path` into `store`. Names that are
/// only a tag (an OCI `ref.name` of `latest`) are put under `default_name`,
/// or `localhost/<file stem>` when none is given.
pub fn load(store: &Store, path: &Path, default_name: Option<&str>) -> Result<Vec<LoadedImage>, ArchiveError> {
    let archive = path.to_path_buf();
    let io_err = |source| ArchiveError::Io { archive: archive.clone(), source };
    let meta = std::fs::metadata(path).map_err(io_err)?;
    let source: Box<dyn Source> = if meta.is_dir() {
        Box::new(DirSource(path.to_path_buf()))
    } else {
        Box::new(TarSource::index(path).map_err(io_err)?)
    };
    let stem = path
        .file_name()
        .map(|n| n.to_string_lossy().trim_end_matches(".tar").to_lowercase())
        .unwrap_or_else(|| "image".into());
    let default_name = default_name.map(str::to_string).unwrap_or_else(|| format!("localhost/{stem}"));
    let loader = Loader { store, archive: archive.clone(), source: source.as_ref() };
    let plans = if source.exists("oci-layout") && source.exists("index.json") {
        loader.plan_oci(&default_name)?
    } else if source.exists("manifest.json") {
        loader.plan_docker()?
    } else {
        return Err(ArchiveError::UnknownFormat { archive });
    };
    let mut loaded = Vec::new();
    for plan in plans {
        loaded.push(loader.import(plan)?);
    }
    Ok(loaded)
}

/// One image to import: what the archive says, before any layer is read.
struct Plan {
    names: Vec<String>,
    /// Manifest bytes when the archive has one (OCI); built after the layers otherwise.
    manifest: Option<(Digest, Vec<u8>)>,
    config_bytes: Vec<u8>,
    config: ImageConfig,
    layers: Vec<PlannedLayer>,
}

struct PlannedLayer {
    member: String,
    blob: Option<Digest>,
    media_type: Option<String>,
    diff_id: Digest,
}

struct Loader<'a> {
    store: &'a Store,
    archive: PathBuf,
    source: &'a dyn Source,
}

impl Loader<'_> {
    fn read_json_member(&self, name: &str, what: &str) -> Result<Vec<u8>, ArchiveError> {
        let mut r = self.source.open(name).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => ArchiveError::Missing { archive: self.archive.clone(), what: what.to_string() },
            _ => ArchiveError::Io { archive: self.archive.clone(), source: e },
        })?;
        let mut buf = Vec::new();
        (&mut r)
            .take(MAX_JSON_SIZE + 1)
            .read_to_end(&mut buf)
            .map_err(|source| ArchiveError::Io { archive: self.archive.clone(), source })?;
        if buf.len() as u64 > MAX_JSON_SIZE {
            return Err(ArchiveError::TooLarge { archive: self.archive.clone(), what: what.to_string() });
        }
        Ok(buf)
    }

    fn parse<T: serde::de::DeserializeOwned>(&self, bytes: &[u8], what: &str) -> Result<T, ArchiveError> {
        serde_json::from_slice(bytes).map_err(|e| ArchiveError::Invalid {
            archive: self.archive.clone(),
            what: what.to_string(),
            reason: e.to_string(),
        })
    }

    fn invalid(&self, what: &str, reason: impl Into<String>) -> ArchiveError {
        ArchiveError::Invalid { archive: self.archive.clone(), what: what.to_string(), reason: reason.into() }
    }

    /// Reads a blob of the layout and checks it against its digest.
    fn read_verified_blob(&self, d: &Descriptor, what: &str) -> Result<Vec<u8>, ArchiveError> {
        let bytes = self.read_json_member(&format!("blobs/sha256/{}", d.digest.hex()), what)?;
        let actual = Digest::of(&bytes);
        if actual != d.digest {
            return Err(ArchiveError::Digest {
                archive: self.archive.clone(),
                what: what.to_string(),
                expected: d.digest.clone(),
                actual,
            });
        }
        Ok(bytes)
    }

    fn plan_oci(&self, default_name: &str) -> Result<Vec<Plan>, ArchiveError> {
        let index: IndexJson = self.parse(&self.read_json_member("index.json", "index.json")?, "index.json")?;
        let mut plans = Vec::new();
        for desc in &index.manifests {
            let names = oci_names(desc, default_name);
            let manifest_desc = self.choose_manifest(desc)?;
            let what = format!("manifest {}", manifest_desc.digest);
            let bytes = self.read_verified_blob(&manifest_desc, &what)?;
            let manifest: ManifestJson = self.parse(&bytes, &what)?;
            let what_cfg = format!("config {}", manifest.config.digest);
            let config_bytes = self.read_verified_blob(&manifest.config, &what_cfg)?;
            let config: ImageConfig = self.parse(&config_bytes, &what_cfg)?;
            if config.rootfs.diff_ids.len() != manifest.layers.len() {
                return Err(self.invalid(
                    &what,
                    format!(
                        "{} layers but the config lists {} diff-ids",
                        manifest.layers.len(),
                        config.rootfs.diff_ids.len()
                    ),
                ));
            }
            let layers = manifest
                .layers
                .iter()
                .zip(&config.rootfs.diff_ids)
                .map(|(l, diff_id)| PlannedLayer {
                    member: format!("blobs/sha256/{}", l.digest.hex()),
                    blob: Some(l.digest.clone()),
                    media_type: Some(l.media_type.clone()),
                    diff_id: diff_id.clone(),
                })
                .collect();
            plans.push(Plan {
                names,
                manifest: Some((manifest_desc.digest.clone(), bytes)),
                config_bytes,
                config,
                layers,
            });
        }
        Ok(plans)
    }

    /// Follows nested indexes down to the manifest for this machine's platform.
    fn choose_manifest(&self, desc: &Descriptor) -> Result<Descriptor, ArchiveError> {
        let mut desc = desc.clone();
        for _ in 0..4 {
            let is_index = desc.media_type == super::MEDIA_OCI_INDEX || desc.media_type == super::MEDIA_DOCKER_LIST;
            if !is_index {
                return Ok(desc);
            }
            let what = format!("index {}", desc.digest);
            let index: IndexJson = self.parse(&self.read_verified_blob(&desc, &what)?, &what)?;
            let host = Platform::host();
            let chosen = index.manifests.iter().find(|m| m.platform.as_ref().is_some_and(|p| host.matches(p)));
            desc = match chosen {
                Some(m) => m.clone(),
                None => {
                    let available = index
                        .manifests
                        .iter()
                        .filter_map(|m| m.platform.as_ref().map(|p| p.to_string()))
                        .collect::<Vec<_>>()
                        .join(", ");
                    return Err(ArchiveError::NoPlatform { archive: self.archive.clone(), wanted: host, available });
                }
            };
        }
        Err(self.invalid("index.json", "indexes nested too deeply"))
    }

    fn plan_docker(&self) -> Result<Vec<Plan>, ArchiveError> {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Entry {
            config: String,
            #[serde(default)]
            repo_tags: Option<Vec<String>>,
            layers: Vec<String>,
        }
        let entries: Vec<Entry> =
            self.parse(&self.read_json_member("manifest.json", "manifest.json")?, "manifest.json")?;
        let mut plans = Vec::new();
        for e in entries {
            let what = format!("config {}", e.config);
            let config_bytes = self.read_json_member(&e.config, &what)?;
            let config: ImageConfig = self.parse(&config_bytes, &what)?;
            if config.rootfs.diff_ids.len() != e.layers.len() {
                return Err(self.invalid(
                    "manifest.json",
                    format!("{} layers but the config lists {} diff-ids", e.layers.len(), config.rootfs.diff_ids.len()),
                ));
            }
            let mut names = Vec::new();
            for t in e.repo_tags.unwrap_or_default() {
                let r = ImageRef::parse(&t).map_err(|err| self.invalid("manifest.json RepoTags", err.to_string()))?;
                names.push(r.to_string());
            }
            let layers = e
                .layers
                .iter()
                .zip(&config.rootfs.diff_ids)
                .map(|(member, diff_id)| PlannedLayer {
                    member: member.clone(),
                    blob: None,
                    media_type: None,
                    diff_id: diff_id.clone(),
                })
                .collect();
            plans.push(Plan { names, manifest: None, config_bytes, config, layers });
        }
        Ok(plans)
    }

    /// Brings every layer of `plan` into the store (in parallel), then records the image.
    fn import(&self, plan: Plan) -> Result<LoadedImage, ArchiveError> {
        let imported = import_layers_parallel(self, &plan.layers)?;
        let layers: Vec<LayerRecord> = plan
            .layers
            .iter()
            .zip(&imported)
            .map(|(p, l)| LayerRecord {
                blob: l.blob.clone(),
                media_type: p.media_type.clone().unwrap_or_else(|| l.compression.oci_media_type().to_string()),
                size: l.blob_size,
                diff_id: p.diff_id.clone(),
            })
            .collect();
        let size = imported.iter().map(|l| l.tar_size).sum();
        let config_digest = Digest::of(&plan.config_bytes);
        let (manifest_digest, manifest_bytes) = match plan.manifest {
            Some(m) => m,
            None => {
                let manifest = ManifestJson {
                    schema_version: 2,
                    media_type: Some(super::MEDIA_OCI_MANIFEST.to_string()),
                    config: Descriptor {
                        media_type: super::MEDIA_OCI_CONFIG.to_string(),
                        digest: config_digest.clone(),
                        size: plan.config_bytes.len() as u64,
                        annotations: Default::default(),
                        platform: None,
                    },
                    layers: layers
                        .iter()
                        .map(|l| Descriptor {
                            media_type: l.media_type.clone(),
                            digest: l.blob.clone(),
                            size: l.size,
                            annotations: Default::default(),
                            platform: None,
                        })
                        .collect(),
                    annotations: Default::default(),
                };
                let bytes = serde_json::to_vec(&manifest).expect("manifest serializes");
                (Digest::of(&bytes), bytes)
            }
        };
        let record = ImageRecord {
            manifest: manifest_digest.clone(),
            config: config_digest.clone(),
            layers,
            created: plan.config.created.clone(),
            size,
        };
        // everything is verified: make it visible, all under one lock
        let _lock = self.store.lock_exclusive()?;
        for (p, l) in plan.layers.iter().zip(imported) {
            self.commit_layer(&p.diff_id, l)?;
        }
        self.store.put_blob(&config_digest, &plan.config_bytes)?;
        self.store.put_blob(&manifest_digest, &manifest_bytes)?;
        let mut index = self.store.read_index()?;
        index.images.insert(manifest_digest.clone(), record.clone());
        for n in &plan.names {
            index.tags.insert(n.clone(), manifest_digest.clone());
        }
        self.store.write_index(&index)?;
        tracing::info!(manifest = %manifest_digest, names = ?plan.names, "image loaded");
        Ok(LoadedImage { names: plan.names, record })
    }

    fn layer_tar_size(&self, diff_id: &Digest) -> u64 {
        std::fs::read(self.store.layer_dir(diff_id).join("meta.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<LayerMeta>(&b).ok())
            .map(|m| m.size)
            .unwrap_or(0)
    }

    /// Brings one layer into the store: its blob (kept as received) and its
    /// unpacked directory, skipping whatever is already there.
    fn import_layer(&self, layer: &PlannedLayer) -> Result<ImportedLayer, ArchiveError> {
        let store = self.store;
        let have_layer = store.has_layer(&layer.diff_id);
        let have_blob = layer.blob.as_ref().is_some_and(|b| store.has_blob(b));
        if have_layer && have_blob {
            let blob = layer.blob.clone().expect("checked");
            let path = store.blob_path(&blob);
            let mut head = [0u8; 4];
            let mut f = File::open(&path).map_err(|source| StoreError::Io { path: path.clone(), source })?;
            let n = f.read(&mut head).unwrap_or(0);
            let blob_size = f.metadata().map(|m| m.len()).unwrap_or(0);
            tracing::debug!(diff_id = %layer.diff_id, "layer already present");
            return Ok(ImportedLayer {
                blob,
                blob_size,
                compression: Compression::sniff(&head[..n]),
                tar_size: self.layer_tar_size(&layer.diff_id),
                staged: None,
            });
        }
        let staging = store.staging("layer")?;
        let io_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| StoreError::Io { path, source }
        };
        let blob_path = staging.path().join("blob");
        let blob_copy = if have_blob { None } else { Some(File::create(&blob_path).map_err(io_err(&blob_path))?) };
        let layer_dir = staging.path().join("layer");
        let diff_dir = layer_dir.join("diff");
        if !have_layer {
            std::fs::create_dir_all(&diff_dir).map_err(io_err(&diff_dir))?;
        }
        let reader = self.source.open(&layer.member).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => {
                ArchiveError::Missing { archive: self.archive.clone(), what: format!("layer {}", layer.member) }
            }
            _ => ArchiveError::Io { archive: self.archive.clone(), source: e },
        })?;
        let label = layer.blob.as_ref().map(|b| b.to_string()).unwrap_or_else(|| layer.member.clone());
        let out = unpack_layer(
            reader,
            UnpackRequest {
                label: &label,
                expected_blob: layer.blob.as_ref(),
                expected_diff_id: Some(&layer.diff_id),
                dest: (!have_layer).then_some(diff_dir.as_path()),
                blob_copy,
            },
        )
        .map_err(|source| ArchiveError::Unpack { archive: self.archive.clone(), source })?;
        if !have_layer {
            let meta = LayerMeta { diff_id: out.diff_id.clone(), size: out.tar_size };
            let meta_path = layer_dir.join("meta.json");
            std::fs::write(&meta_path, serde_json::to_vec(&meta).expect("meta serializes"))
                .map_err(io_err(&meta_path))?;
            tracing::info!(diff_id = %layer.diff_id, bytes = out.tar_size, "layer unpacked");
        }
        Ok(ImportedLayer {
            blob: out.blob,
            blob_size: out.blob_size,
            compression: out.compression,
            tar_size: out.tar_size,
            staged: Some(StagedLayer { staging, new_blob: !have_blob, new_layer: !have_layer }),
        })
    }

    /// Moves a staged blob and layer into place; the caller holds the exclusive lock.
    fn commit_layer(&self, diff_id: &Digest, l: ImportedLayer) -> Result<(), ArchiveError> {
        let Some(st) = l.staged else { return Ok(()) };
        if st.new_blob {
            let dest = self.store.blob_path(&l.blob);
            std::fs::rename(st.staging.path().join("blob"), &dest)
                .map_err(|source| StoreError::Io { path: dest.clone(), source })?;
        }
        if st.new_layer {
            self.store.commit(st.staging, Some("layer"), &self.store.layer_dir(diff_id))?;
        }
        Ok(())
    }
}

/// A layer brought in by `import_layer`, staged but not yet visible in the store.
struct ImportedLayer {
    blob: Digest,
    blob_size: u64,
    compression: Compression,
    tar_size: u64,
    staged: Option<StagedLayer>,
}

struct StagedLayer {
    staging: crate::store::Staging,
    new_blob: bool,
    new_layer: bool,
}

/// Imports layers with a few worker threads (joined before returning: the
/// launcher never forks while they exist). Stops at the first error.
fn import_layers_parallel(loader: &Loader<'_>, layers: &[PlannedLayer]) -> Result<Vec<ImportedLayer>, ArchiveError> {
    let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).min(layers.len()).max(1);
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let results: Mutex<Vec<Option<Result<_, ArchiveError>>>> = Mutex::new((0..layers.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= layers.len() || failed.load(Ordering::Relaxed) {
                    break;
                }
                let r = loader.import_layer(&layers[i]);
                if r.is_err() {
                    failed.store(true, Ordering::Relaxed);
                }
                results.lock().expect("no panics while held")[i] = Some(r);
            });
        }
    });
    let results = results.into_inner().expect("threads joined");
    // a layer is skipped only after another failed: report that failure
    let mut out = Vec::with_capacity(layers.len());
    let mut skipped = false;
    for r in results {
        match r {
            Some(Ok(v)) => out.push(v),
            Some(Err(e)) => return Err(e),
            None => skipped = true,
        }
    }
    debug_assert!(!skipped, "layers are skipped only after a failure");
    Ok(out)
}

fn oci_names(desc: &Descriptor, default_name: &str) -> Vec<String> {
    if let Some(full) = desc.annotations.get("io.containerd.image.name") {
        if let Ok(r) = ImageRef::parse(full) {
            return vec![r.to_string()];
        }
    }
    match desc.annotations.get("org.opencontainers.image.ref.name") {
        Some(name) if name.contains('/') || name.contains(':') => {
            ImageRef::parse(name).map(|r| vec![r.to_string()]).unwrap_or_default()
        }
        Some(tag) => ImageRef::parse(&format!("{default_name}:{tag}")).map(|r| vec![r.to_string()]).unwrap_or_default(),
        None => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_names_are_normalized() {
        assert_eq!(normalize_member("./blobs/sha256/ab"), "blobs/sha256/ab");
        assert_eq!(normalize_member("a/../b//c"), "b/c");
    }

    #[test]
    fn oci_ref_names() {
        let mut d = Descriptor {
            media_type: String::new(),
            digest: Digest::of(b""),
            size: 0,
            annotations: Default::default(),
            platform: None,
        };
        d.annotations.insert("org.opencontainers.image.ref.name".into(), "latest".into());
        assert_eq!(oci_names(&d, "localhost/busybox-oci"), vec!["localhost/busybox-oci:latest"]);
        d.annotations.insert("org.opencontainers.image.ref.name".into(), "docker.io/library/busybox:1.36".into());
        assert_eq!(oci_names(&d, "x"), vec!["docker.io/library/busybox:1.36"]);
        d.annotations.insert("io.containerd.image.name".into(), "quay.io/a/b:c".into());
        assert_eq!(oci_names(&d, "x"), vec!["quay.io/a/b:c"]);
    }
}
