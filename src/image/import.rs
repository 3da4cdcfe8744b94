//! Bringing an image's layers into the store from any source (an archive on
//! disk, a registry): each layer streamed once through the unpacker, several
//! at a time, all staged, and made visible together with the image record
//! under one exclusive lock, so a failed import leaves the store as it was.

use super::unpack::{unpack_layer, Compression, UnpackError, UnpackRequest};
use super::{ImageConfig, ImageRecord, LayerMeta, LayerRecord, MAX_JSON_SIZE};
use crate::digest::Digest;
use crate::store::{Store, StoreError};
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

/// Why an image archive or layout cannot be imported; `origin` names it as given.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// Reading the archive failed.
    #[error("{origin}: {source}")]
    Io {
        /// The archive or layout being imported, as given.
        origin: String,
        /// The underlying error.
        source: io::Error,
    },
    /// Neither an OCI layout nor a docker-archive.
    #[error("{origin}: not an image archive: expected an OCI layout (oci-layout, index.json) or a docker-archive (manifest.json)")]
    UnknownFormat {
        /// The archive or layout being imported, as given.
        origin: String,
    },
    /// A file the index or manifest names is not in the archive.
    #[error("{origin}: {what} is missing from the archive")]
    Missing {
        /// The archive or layout being imported, as given.
        origin: String,
        /// What was being read or checked.
        what: String,
    },
    /// A manifest, index or config that does not parse or breaks the format.
    #[error("{origin}: {what} is not valid: {reason}")]
    Invalid {
        /// The archive or layout being imported, as given.
        origin: String,
        /// What was being read or checked.
        what: String,
        /// What is wrong, or why it failed.
        reason: String,
    },
    /// A JSON document larger than rrun reads.
    #[error("{origin}: {what} is larger than {MAX_JSON_SIZE} bytes")]
    TooLarge {
        /// The archive or layout being imported, as given.
        origin: String,
        /// What was being read or checked.
        what: String,
    },
    /// A blob whose content does not match its digest.
    #[error("{origin}: {what}: digest mismatch, expected {expected}, content is {actual}")]
    Digest {
        /// The archive or layout being imported, as given.
        origin: String,
        /// What was being read or checked.
        what: String,
        /// The digest expected.
        expected: Digest,
        /// The digest of the content.
        actual: Digest,
    },
    /// The archive has no image for the platform asked for.
    #[error("{origin}: no image for platform {wanted}; the archive has: {available}")]
    NoPlatform {
        /// The archive or layout being imported, as given.
        origin: String,
        /// The platform asked for (`os/arch[/variant]`).
        wanted: String,
        /// The platforms it has.
        available: String,
    },
    /// Unpacking a layer failed.
    #[error("{origin}: {source}")]
    Unpack {
        /// The archive or layout being imported, as given.
        origin: String,
        /// The underlying error.
        source: UnpackError,
    },
    /// Writing into the store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The file is not a tar archive (or a directory).
    #[error("{origin}: not an image archive: {reason}")]
    NotArchive {
        /// The archive or layout being imported, as given.
        origin: String,
        /// What is wrong, or why it failed.
        reason: String,
    },
    /// The archive ends before its last entry does.
    #[error("{origin}: the archive is truncated: {detail}")]
    Truncated {
        /// The archive or layout being imported, as given.
        origin: String,
        /// Where it ends.
        detail: String,
    },
    /// The store's filesystem is full (ENOSPC or EDQUOT).
    #[error("{origin}: no space left on device in the store {} ({what})", store.display())]
    NoSpace {
        /// The archive or layout being imported, as given.
        origin: String,
        /// The store root.
        store: std::path::PathBuf,
        /// What was being written.
        what: String,
    },
}

impl ImportError {
    /// True when, somewhere down its causes, the error is ENOSPC or EDQUOT.
    pub fn is_no_space(&self) -> bool {
        no_space_in(self)
    }
}

/// True when `e` or one of its causes is an I/O error "no space left on
/// device" (or "disk quota exceeded"), however deep a reader wrapped it.
pub(crate) fn no_space_in(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = next {
        if let Some(io) = err.downcast_ref::<io::Error>() {
            if matches!(io.raw_os_error(), Some(libc::ENOSPC) | Some(libc::EDQUOT)) {
                return true;
            }
            if let Some(inner) = io.get_ref() {
                if no_space_in(inner) {
                    return true;
                }
            }
        }
        next = err.source();
    }
    false
}

/// One image imported from an archive, with the names it came with.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LoadedImage {
    /// The names it was tagged with (`repo:tag`).
    pub names: Vec<String>,
    /// The image as the store now has it.
    pub record: ImageRecord,
}

/// Where blobs are read from: a directory, an indexed tar file, a registry.
pub(crate) trait Source: Sync {
    fn open(&self, name: &str) -> io::Result<Box<dyn Read + Send + '_>>;
    fn exists(&self, name: &str) -> bool;
    /// Appends the rest of a partially downloaded blob to `partial`, for
    /// sources that can resume (a registry, with a Range request).
    fn complete_partial(&self, _name: &str, _partial: &Path, _size: Option<u64>) -> io::Result<bool> {
        Ok(false)
    }
    /// Whether blobs being received should be kept in `partial/` so that an
    /// interrupted import can resume (network sources).
    fn resumable(&self) -> bool {
        false
    }
}

/// One image to import: what the archive says, before any layer is read.
pub(crate) struct Plan {
    pub names: Vec<String>,
    /// `registry/repository@digest` references the image was pulled by.
    pub repo_digests: Vec<String>,
    /// Manifest bytes when the archive has one (OCI); built after the layers otherwise.
    pub manifest: Option<(Digest, Vec<u8>)>,
    pub config_bytes: Vec<u8>,
    pub config: ImageConfig,
    pub layers: Vec<PlannedLayer>,
}

pub(crate) struct PlannedLayer {
    pub member: String,
    /// Blob size, when the manifest says.
    pub size: Option<u64>,
    pub blob: Option<Digest>,
    pub media_type: Option<String>,
    pub diff_id: Digest,
}

/// Imports planned images from one source into the store.
pub(crate) struct Importer<'a> {
    pub store: &'a Store,
    pub progress: Option<&'a crate::progress::ProgressFn>,
    /// Where the image comes from, for errors: an archive path or a reference.
    pub origin: String,
    pub source: &'a dyn Source,
}

impl Importer<'_> {
    /// Brings every layer of `plan` into the store (in parallel), then records
    /// the image. A full disk is said as such, naming the store.
    pub fn import(&self, plan: Plan) -> Result<LoadedImage, ImportError> {
        let name = plan.names.first().cloned().unwrap_or_else(|| "the image".into());
        self.import_plan(plan).map_err(|e| {
            if e.is_no_space() && !matches!(e, ImportError::NoSpace { .. }) {
                let what = match &e {
                    ImportError::Unpack { source, .. } => format!("unpacking {}", source.layer()),
                    _ => format!("storing {name}"),
                };
                ImportError::NoSpace { origin: self.origin.clone(), store: self.store.root().to_path_buf(), what }
            } else {
                e
            }
        })
    }

    fn import_plan(&self, plan: Plan) -> Result<LoadedImage, ImportError> {
        if let Some(loaded) = self.name_existing(&plan)? {
            return Ok(loaded);
        }
        // layers found in the store are not staged: a sweep may remove one before the lock is
        // taken, so under the lock each is checked again, and brought in again if it went
        let mut attempts = 0;
        let (imported, _lock) = loop {
            let imported = import_layers_parallel(self, &plan.layers)?;
            let lock = self.store.lock_exclusive()?;
            let gone = plan.layers.iter().zip(&imported).find(|(p, l)| !self.still_there(p, l));
            match gone {
                None => break (imported, lock),
                Some((p, _)) if attempts >= 2 => {
                    return Err(ImportError::Invalid {
                        origin: self.origin.clone(),
                        what: format!("layer {}", p.diff_id),
                        reason: "it was removed from the store while it was imported (a concurrent prune); try again"
                            .into(),
                    });
                }
                Some(_) => attempts += 1,
            }
        };
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
                let manifest = super::new_manifest(
                    super::descriptor(super::MEDIA_OCI_CONFIG, &config_digest, plan.config_bytes.len() as u64),
                    layers.iter().map(|l| super::descriptor(&l.media_type, &l.blob, l.size)).collect(),
                    None,
                );
                let bytes = super::to_json(&manifest).expect("manifest serializes");
                (Digest::of(&bytes), bytes)
            }
        };
        let mut record = ImageRecord {
            manifest: manifest_digest.clone(),
            config: config_digest.clone(),
            layers,
            created: plan.config.created.clone(),
            size,
            repo_digests: plan.repo_digests.clone(),
        };
        // everything is verified: make it visible, all under one lock (held since the check above)
        for (p, l) in plan.layers.iter().zip(imported) {
            self.commit_layer(&p.diff_id, l)?;
        }
        self.store.put_blob(&config_digest, &plan.config_bytes)?;
        self.store.put_blob(&manifest_digest, &manifest_bytes)?;
        let mut index = self.store.read_index()?;
        if let Some(old) = index.images.get(&manifest_digest) {
            // the same image pulled again, by another name or digest: it keeps what it had
            let mut digests = old.repo_digests.clone();
            digests.extend(record.repo_digests.iter().filter(|d| !old.repo_digests.contains(d)).cloned());
            record.repo_digests = digests;
        }
        index.images.insert(manifest_digest.clone(), record.clone());
        for n in &plan.names {
            index.tags.insert(n.clone(), manifest_digest.clone());
        }
        self.store.write_index(&index)?;
        crate::step!(
            super::IMAGE_COMMIT,
            manifest = %manifest_digest,
            config = %config_digest,
            names = %plan.names.join(" "),
            index = %self.store.root().join("images/index.json").display()
        );
        Ok(LoadedImage { names: plan.names, record })
    }

    /// An image without a manifest of its own (a docker-archive's) whose
    /// config the store already has, with every layer: the same image, which
    /// only gains the archive's names (as Docker, whose image ID is the config
    /// digest), so no second record of it appears.
    fn name_existing(&self, plan: &Plan) -> Result<Option<LoadedImage>, ImportError> {
        if plan.manifest.is_some() {
            return Ok(None);
        }
        let config = Digest::of(&plan.config_bytes);
        let _lock = self.store.lock_exclusive()?;
        let mut index = self.store.read_index()?;
        let Some(existing) = index
            .images
            .values()
            .find(|i| i.config == config && i.diff_ids().eq(plan.layers.iter().map(|l| &l.diff_id)))
        else {
            return Ok(None);
        };
        if !existing.diff_ids().all(|d| self.store.has_layer(d)) || !self.store.has_blob(&existing.manifest) {
            return Ok(None);
        }
        let record = existing.clone();
        for n in &plan.names {
            index.tags.insert(n.clone(), record.manifest.clone());
        }
        self.store.write_index(&index)?;
        tracing::info!(manifest = %record.manifest, names = ?plan.names, "image already in the store: named");
        Ok(Some(LoadedImage { names: plan.names.clone(), record }))
    }

    /// True when what `import_layer` found or staged for a layer is all still there.
    fn still_there(&self, p: &PlannedLayer, l: &ImportedLayer) -> bool {
        let staged = l.staged.as_ref();
        (self.store.has_layer(&p.diff_id) || staged.is_some_and(|s| s.new_layer))
            && (self.store.has_blob(&l.blob) || staged.is_some_and(|s| s.blob_file.is_some()))
    }

    fn layer_tar_size(&self, diff_id: &Digest) -> u64 {
        super::layer_size(self.store, diff_id)
    }

    /// Brings one layer into the store: its blob (kept as received) and its
    /// unpacked directory, skipping whatever is already there.
    fn import_layer(&self, layer: &PlannedLayer) -> Result<ImportedLayer, ImportError> {
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
            crate::step!(super::LAYER_PRESENT, diff_id = %layer.diff_id, path = %store.layer_dir(&layer.diff_id).display());
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
        // the blob copy goes to partial/<hex> for resumable sources (kept across a crash),
        // to the staging directory otherwise
        let mut partial_lock = None;
        let mut resumed = false;
        let blob_path = match (&layer.blob, self.source.resumable() && !have_blob) {
            (Some(d), true) => match store.lock_partial(d)? {
                Some((path, lock)) => {
                    partial_lock = Some(lock);
                    if std::fs::metadata(&path).map(|m| m.len() > 0).unwrap_or(false) {
                        tracing::info!(blob = %d, "resuming a partial download");
                        resumed = self
                            .source
                            .complete_partial(&layer.member, &path, layer.size)
                            .map_err(|e| ImportError::Io { origin: self.origin.clone(), source: e })?;
                    }
                    path
                }
                None => staging.path().join("blob"),
            },
            _ => staging.path().join("blob"),
        };
        let blob_copy =
            if have_blob || resumed { None } else { Some(File::create(&blob_path).map_err(io_err(&blob_path))?) };
        let layer_dir = staging.path().join("layer");
        let diff_dir = layer_dir.join("diff");
        if !have_layer {
            std::fs::create_dir_all(&diff_dir).map_err(io_err(&diff_dir))?;
        }
        let open_err = |e: io::Error| match e.kind() {
            io::ErrorKind::NotFound => {
                ImportError::Missing { origin: self.origin.clone(), what: format!("layer {}", layer.member) }
            }
            _ => ImportError::Io { origin: self.origin.clone(), source: e },
        };
        let reader: Box<dyn Read + Send + '_> = if resumed {
            Box::new(File::open(&blob_path).map_err(open_err)?)
        } else {
            self.source.open(&layer.member).map_err(open_err)?
        };
        // never more than the descriptor says: a hostile source cannot fill the disk
        let reader: Box<dyn Read + Send + '_> = match layer.size {
            Some(declared) => Box::new(Bounded { inner: reader, left: declared, declared, over: false }),
            None => reader,
        };
        let label = layer.blob.as_ref().map(|b| b.to_string()).unwrap_or_else(|| layer.member.clone());
        if let Some(p) = self.progress {
            p.emit(&crate::progress::PullEvent::LayerStarted { digest: label.clone(), size: layer.size });
        }
        let reader: Box<dyn Read + Send + '_> = match self.progress {
            Some(p) => Box::new(crate::progress::Counting::new(reader, p.clone(), &label, layer.size)),
            None => reader,
        };
        let result = unpack_layer(
            reader,
            UnpackRequest {
                label: &label,
                expected_blob: layer.blob.as_ref(),
                expected_diff_id: Some(&layer.diff_id),
                dest: (!have_layer).then_some(diff_dir.as_path()),
                blob_copy,
            },
        );
        if let (Some(p), Ok(_)) = (self.progress, &result) {
            p.emit(&crate::progress::PullEvent::LayerDone { digest: label.clone() });
        }
        let what = || format!("layer {label}");
        let out = match result {
            Ok(out) => out,
            Err(e) => {
                let oversize = find_in_chain::<Oversize>(&e).copied();
                // a blob that arrived whole but wrong is worthless; a cut-off one may resume
                if matches!(e, UnpackError::BlobDigest { .. } | UnpackError::DiffId { .. })
                    || oversize.is_some()
                    || partial_lock.is_none()
                {
                    let _ = std::fs::remove_file(&blob_path);
                }
                if let Some(o) = oversize {
                    return Err(ImportError::Invalid {
                        origin: self.origin.clone(),
                        what: what(),
                        reason: o.to_string(),
                    });
                }
                return Err(ImportError::Unpack { origin: self.origin.clone(), source: e });
            }
        };
        if let Some(declared) = layer.size.filter(|d| *d != out.blob_size) {
            let _ = std::fs::remove_file(&blob_path);
            return Err(ImportError::Invalid {
                origin: self.origin.clone(),
                what: what(),
                reason: format!("its descriptor says {declared} bytes, the blob is {} bytes", out.blob_size),
            });
        }
        if !have_layer {
            let meta = LayerMeta { diff_id: out.diff_id.clone(), size: out.tar_size };
            let meta_path = layer_dir.join("meta.json");
            std::fs::write(&meta_path, serde_json::to_vec(&meta).expect("meta serializes"))
                .map_err(io_err(&meta_path))?;
            crate::step!(
                super::LAYER_UNPACK,
                blob = %out.blob,
                compression = ?out.compression,
                diff_id = %out.diff_id,
                bytes = out.tar_size,
                entries = out.entries,
                whiteouts = out.whiteouts,
                opaque_dirs = out.opaque_dirs,
                into = %store.layer_dir(&layer.diff_id).join("diff").display()
            );
        }
        Ok(ImportedLayer {
            blob: out.blob,
            blob_size: out.blob_size,
            compression: out.compression,
            tar_size: out.tar_size,
            staged: Some(StagedLayer {
                staging,
                blob_file: (!have_blob).then_some(blob_path),
                new_layer: !have_layer,
                _partial_lock: partial_lock,
            }),
        })
    }

    /// Moves a staged blob and layer into place; the caller holds the exclusive lock.
    fn commit_layer(&self, diff_id: &Digest, l: ImportedLayer) -> Result<(), ImportError> {
        let Some(st) = l.staged else { return Ok(()) };
        if let Some(src) = &st.blob_file {
            let dest = self.store.blob_path(&l.blob);
            std::fs::rename(src, &dest).map_err(|source| StoreError::Io { path: dest.clone(), source })?;
        }
        if st.new_layer {
            self.store.commit(st.staging, Some("layer"), &self.store.layer_dir(diff_id))?;
        }
        Ok(())
    }
}

/// A blob read stopped at the size its descriptor declares: one byte more is an error.
struct Bounded<R> {
    inner: R,
    left: u64,
    declared: u64,
    over: bool,
}

/// The error a [`Bounded`] read ends with when the blob goes on past its size.
#[derive(Debug, Clone, Copy)]
struct Oversize {
    declared: u64,
}

impl std::fmt::Display for Oversize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "its descriptor says {} bytes, the blob goes on past them: reading stopped there", self.declared)
    }
}

impl std::error::Error for Oversize {}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let oversize = || io::Error::new(io::ErrorKind::InvalidData, Oversize { declared: self.declared });
        if self.over {
            // sticky: a reader that retries (a digest check reading "the rest") must not see an end
            return Err(oversize());
        }
        if self.left == 0 {
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => {
                    self.over = true;
                    Err(oversize())
                }
            };
        }
        let want = buf.len().min(self.left.min(usize::MAX as u64) as usize);
        let n = self.inner.read(&mut buf[..want])?;
        self.left -= n as u64;
        Ok(n)
    }
}

/// The first error of type `T` among `e` and its causes (through I/O errors' inner errors too).
fn find_in_chain<'a, T: std::error::Error + 'static>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a T> {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = next {
        if let Some(t) = err.downcast_ref::<T>() {
            return Some(t);
        }
        if let Some(inner) = err.downcast_ref::<io::Error>().and_then(|io| io.get_ref()) {
            if let Some(t) = find_in_chain::<T>(inner) {
                return Some(t);
            }
        }
        next = err.source();
    }
    None
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
    /// A verified blob to rename into `blobs/` (in staging, or in `partial/`).
    blob_file: Option<std::path::PathBuf>,
    new_layer: bool,
    _partial_lock: Option<crate::store::StoreLock>,
}

/// Imports layers with a few worker threads (joined before returning: the
/// launcher never forks while they exist). Stops at the first error.
fn import_layers_parallel(loader: &Importer<'_>, layers: &[PlannedLayer]) -> Result<Vec<ImportedLayer>, ImportError> {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    // downloads wait on the network as much as on the CPU: a few more workers than cores
    let wanted = if loader.source.resumable() { cores.max(4) } else { cores };
    let workers = wanted.min(layers.len()).max(1);
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let results: Mutex<Vec<Option<Result<_, ImportError>>>> = Mutex::new((0..layers.len()).map(|_| None).collect());
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

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(declared: u64, data: &[u8]) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        Bounded { inner: data, left: declared, declared, over: false }.read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn bounded_reads_stop_at_the_declared_size() {
        assert_eq!(read_all(5, b"hello").unwrap(), b"hello");
        assert_eq!(read_all(9, b"hello").unwrap(), b"hello", "a short blob is for the size check to see");
        let e = read_all(4, b"hello").unwrap_err();
        assert!(find_in_chain::<Oversize>(&e).is_some(), "{e}");
        // the error stays: a second read of "the rest" does not find an end
        let mut b = Bounded { inner: &b"hello"[..], left: 0, declared: 0, over: false };
        let mut buf = [0u8; 8];
        assert!(b.read(&mut buf).is_err());
        assert!(b.read(&mut buf).is_err());
    }

    #[test]
    fn a_full_disk_is_found_however_deep() {
        let enospc = io::Error::from_raw_os_error(libc::ENOSPC);
        let wrapped = io::Error::other(enospc);
        let e = ImportError::Unpack {
            origin: "x".into(),
            source: UnpackError::Read { layer: "l".into(), source: wrapped },
        };
        assert!(e.is_no_space());
        let other = ImportError::Io { origin: "x".into(), source: io::Error::from_raw_os_error(libc::EIO) };
        assert!(!other.is_no_space());
    }
}
