//! Writing images from the store as archives other tools load: a
//! docker-archive (`docker save`: `manifest.json`, the config, one
//! uncompressed `layer.tar` per diff-id) or an OCI archive (a tar of an OCI
//! image layout, as `skopeo copy oci-archive:` writes), several images in one.
//!
//! Blobs are kept as pulled (usually gzip); a docker-archive needs the
//! uncompressed tars, so each layer is decompressed as it is written and
//! checked against its diff-id on the way.

use super::unpack::decompressed;
use super::{DescriptorExt, ImageManifest, ImageRecord, MediaType, MEDIA_OCI_CONFIG, MEDIA_OCI_MANIFEST};
use crate::digest::{Digest, HashingReader};
use crate::store::Store;
use std::collections::HashMap;
use std::io::{self, Read, Write};

/// Why an image archive cannot be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SaveError {
    /// Writing the archive failed.
    #[error("writing the archive: {0}")]
    Write(#[source] io::Error),
    /// Reading a blob or layer of the image from the store failed.
    #[error("image {image}: {what}: {source}")]
    Read {
        /// The image, as named.
        image: String,
        /// What was being read or checked.
        what: String,
        /// The underlying error.
        source: io::Error,
    },
    /// A blob of the image does not match its digest or does not parse.
    #[error("image {image}: {what} is corrupt in the store: {reason}")]
    Corrupt {
        /// The image, as named.
        image: String,
        /// What was being read or checked.
        what: String,
        /// What is wrong, or why it failed.
        reason: String,
    },
    /// A format name that is neither `docker-archive` nor `oci-archive`.
    #[error("unknown archive format {0:?}: expected docker-archive or oci-archive")]
    Format(String),
}

/// The kinds of archive `save` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ArchiveFormat {
    /// `docker save`'s format: `manifest.json` and one directory per layer.
    #[default]
    DockerArchive,
    /// An OCI image layout in a tar.
    OciArchive,
}

impl std::str::FromStr for ArchiveFormat {
    type Err = SaveError;
    fn from_str(s: &str) -> Result<Self, SaveError> {
        match s {
            "docker-archive" => Ok(ArchiveFormat::DockerArchive),
            "oci-archive" => Ok(ArchiveFormat::OciArchive),
            other => Err(SaveError::Format(other.to_string())),
        }
    }
}

/// One image to write, with the names it is saved under (none when given by ID).
#[derive(Debug, Clone)]
pub struct SaveImage {
    pub record: ImageRecord,
    pub names: Vec<String>,
}

/// Writes `images` to `out` as one archive. The caller holds the store's
/// shared lock, so no blob goes away while it is read.
pub fn write_archive(
    store: &Store,
    images: &[SaveImage],
    format: ArchiveFormat,
    out: &mut dyn Write,
) -> Result<(), SaveError> {
    let images = merge_same_images(images);
    let mut w = ArchiveWriter { tar: tar::Builder::new(out), dirs: Vec::new() };
    match format {
        ArchiveFormat::DockerArchive => write_docker(store, &images, &mut w)?,
        ArchiveFormat::OciArchive => write_oci(store, &images, &mut w)?,
    }
    w.tar.into_inner().map_err(SaveError::Write)?.flush().map_err(SaveError::Write)
}

/// An image named twice (`save busybox busybox:latest x`) is written once, with both names.
fn merge_same_images(images: &[SaveImage]) -> Vec<SaveImage> {
    let mut out: Vec<SaveImage> = Vec::new();
    for img in images {
        match out.iter_mut().find(|o| o.record.manifest == img.record.manifest) {
            Some(o) => {
                for n in &img.names {
                    if !o.names.contains(n) {
                        o.names.push(n.clone());
                    }
                }
            }
            None => out.push(img.clone()),
        }
    }
    out
}

struct ArchiveWriter<'a> {
    tar: tar::Builder<&'a mut dyn Write>,
    /// Directories already written.
    dirs: Vec<String>,
}

impl ArchiveWriter<'_> {
    fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(size);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h
    }

    fn dir(&mut self, path: &str) -> Result<(), SaveError> {
        if self.dirs.iter().any(|d| d == path) {
            return Ok(());
        }
        self.dirs.push(path.to_string());
        let mut h = Self::header(tar::EntryType::Directory, 0o755, 0);
        self.tar.append_data(&mut h, format!("{path}/"), io::empty()).map_err(SaveError::Write)
    }

    fn file(&mut self, path: &str, bytes: &[u8]) -> Result<(), SaveError> {
        let mut h = Self::header(tar::EntryType::Regular, 0o644, bytes.len() as u64);
        self.tar.append_data(&mut h, path, bytes).map_err(SaveError::Write)
    }

    /// Copies `size` bytes of `data` into an entry, and fails (the archive is
    /// then incomplete) when `data` has fewer.
    fn file_from(&mut self, path: &str, size: u64, data: &mut dyn Read) -> Result<u64, SaveError> {
        let mut h = Self::header(tar::EntryType::Regular, 0o644, size);
        let mut counted = Counted { inner: data.take(size), n: 0 };
        self.tar.append_data(&mut h, path, &mut counted).map_err(SaveError::Write)?;
        Ok(counted.n)
    }
}

struct Counted<R> {
    inner: R,
    n: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.n += n as u64;
        Ok(n)
    }
}

/// A small blob (config, manifest) from the store, checked against its digest.
fn read_verified(store: &Store, image: &str, digest: &Digest, what: &str) -> Result<Vec<u8>, SaveError> {
    let path = store.blob_path(digest);
    let bytes = std::fs::read(&path).map_err(|source| SaveError::Read {
        image: image.to_string(),
        what: format!("{what} {digest}"),
        source,
    })?;
    let actual = Digest::of(&bytes);
    if &actual != digest {
        return Err(SaveError::Corrupt {
            image: image.to_string(),
            what: format!("{what} {digest}"),
            reason: format!("its content is {actual}"),
        });
    }
    Ok(bytes)
}

fn image_label(img: &SaveImage) -> String {
    img.names.first().cloned().unwrap_or_else(|| img.record.config.to_string())
}

fn write_docker(store: &Store, images: &[SaveImage], w: &mut ArchiveWriter<'_>) -> Result<(), SaveError> {
    #[derive(serde::Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Entry {
        config: String,
        repo_tags: Option<Vec<String>>,
        layers: Vec<String>,
    }
    let mut manifest = Vec::new();
    let mut written: Vec<Digest> = Vec::new();
    for img in images {
        let label = image_label(img);
        let config = read_verified(store, &label, &img.record.config, "config")?;
        let config_name = format!("{}.json", img.record.config.hex());
        if !written.contains(&img.record.config) {
            w.file(&config_name, &config)?;
            written.push(img.record.config.clone());
        }
        let mut layers = Vec::new();
        for l in &img.record.layers {
            let dir = l.diff_id.hex().to_string();
            let member = format!("{dir}/layer.tar");
            if !written.contains(&l.diff_id) {
                w.dir(&dir)?;
                write_layer_tar(store, &label, l, &member, w)?;
                written.push(l.diff_id.clone());
            }
            layers.push(member);
        }
        let repo_tags = (!img.names.is_empty()).then(|| img.names.clone());
        manifest.push(Entry { config: config_name, repo_tags, layers });
    }
    w.file("manifest.json", &serde_json::to_vec(&manifest).expect("manifest serializes"))
}

/// The layer's uncompressed tar, decompressed from its stored blob and
/// checked against its diff-id (and size) while it is written.
fn write_layer_tar(
    store: &Store,
    image: &str,
    layer: &super::LayerRecord,
    member: &str,
    w: &mut ArchiveWriter<'_>,
) -> Result<(), SaveError> {
    let what = format!("layer {}", layer.diff_id);
    let open = || -> Result<HashingReader<Box<dyn Read + Send>>, SaveError> {
        let path = store.blob_path(&layer.blob);
        let file = std::fs::File::open(&path).map_err(|source| SaveError::Read {
            image: image.to_string(),
            what: format!("{what} (blob {})", layer.blob),
            source,
        })?;
        let tar = decompressed(file).map_err(|source| SaveError::Read {
            image: image.to_string(),
            what: what.clone(),
            source,
        })?;
        Ok(HashingReader::new(tar))
    };
    let read_err = |source| SaveError::Read { image: image.to_string(), what: what.clone(), source };
    // the unpacked size is in the layer's meta.json; without it, count it first
    let mut size = super::layer_size(store, &layer.diff_id);
    if size == 0 {
        let (_, n, _) = open()?.finish().map_err(read_err)?;
        size = n;
    }
    let mut tar = open()?;
    let copied = w.file_from(member, size, &mut tar)?;
    let (actual, total, _) = tar.finish().map_err(read_err)?;
    if copied != size || total != size {
        return Err(SaveError::Corrupt {
            image: image.to_string(),
            what,
            reason: format!("its tar is {total} bytes, the store recorded {size}"),
        });
    }
    if actual != layer.diff_id {
        return Err(SaveError::Corrupt { image: image.to_string(), what, reason: format!("its content is {actual}") });
    }
    Ok(())
}

/// OCI's media type for a layer of any (Docker or OCI) media type.
pub fn oci_layer_media_type(media: &str) -> &'static str {
    match media {
        m if m.ends_with("+zstd") || m.ends_with(".zstd") => "application/vnd.oci.image.layer.v1.tar+zstd",
        m if m.ends_with("+gzip") || m.ends_with(".gzip") => "application/vnd.oci.image.layer.v1.tar+gzip",
        "" => "application/vnd.oci.image.layer.v1.tar+gzip",
        _ => "application/vnd.oci.image.layer.v1.tar",
    }
}

/// The image's manifest as OCI: the stored one when it is OCI already, else
/// (a Docker schema 2 manifest) the same config and blobs under OCI media types.
pub fn oci_manifest(store: &Store, image: &str, record: &ImageRecord) -> Result<(Digest, Vec<u8>), SaveError> {
    let stored = read_verified(store, image, &record.manifest, "manifest")?;
    let parsed: ImageManifest = serde_json::from_slice(&stored).map_err(|e| SaveError::Corrupt {
        image: image.to_string(),
        what: format!("manifest {}", record.manifest),
        reason: e.to_string(),
    })?;
    let is_oci = match parsed.media_type() {
        Some(m) => m.as_ref() == MEDIA_OCI_MANIFEST,
        None => parsed.config().media() == MEDIA_OCI_CONFIG,
    };
    if is_oci {
        return Ok((record.manifest.clone(), stored));
    }
    let retyped = |d: &super::Descriptor, media: &str| {
        let mut d = d.clone();
        d.set_media_type(MediaType::from(media));
        d
    };
    let converted = super::new_manifest(
        retyped(parsed.config(), MEDIA_OCI_CONFIG),
        parsed.layers().iter().map(|l| retyped(l, oci_layer_media_type(l.media()))).collect(),
        parsed.annotations().clone(),
    );
    let bytes = super::to_json(&converted).expect("manifest serializes");
    Ok((Digest::of(&bytes), bytes))
}

fn write_oci(store: &Store, images: &[SaveImage], w: &mut ArchiveWriter<'_>) -> Result<(), SaveError> {
    // manifests first: index.json names them, and goes before the blobs
    let mut descriptors = Vec::new();
    let mut manifests = Vec::new();
    for img in images {
        let label = image_label(img);
        let (digest, bytes) = oci_manifest(store, &label, &img.record)?;
        let desc = |annotations: Option<HashMap<String, String>>| {
            let mut d = super::descriptor(MEDIA_OCI_MANIFEST, &digest, bytes.len() as u64);
            d.set_annotations(annotations);
            d
        };
        if img.names.is_empty() {
            descriptors.push(desc(None));
        }
        // one entry per name, as podman and skopeo name images in a layout
        for n in &img.names {
            let mut a = HashMap::new();
            a.insert("org.opencontainers.image.ref.name".to_string(), n.clone());
            a.insert("io.containerd.image.name".to_string(), n.clone());
            descriptors.push(desc(Some(a)));
        }
        manifests.push((label, digest, bytes));
    }
    let index = oci_spec::image::ImageIndexBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageIndex)
        .manifests(descriptors)
        .build()
        .expect("schema version and manifests are all an index needs");
    w.file("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    w.file("index.json", &super::to_json(&index).expect("index serializes"))?;
    w.dir("blobs")?;
    w.dir("blobs/sha256")?;
    let mut written: Vec<Digest> = Vec::new();
    for (img, (label, digest, bytes)) in images.iter().zip(&manifests) {
        for l in &img.record.layers {
            if written.contains(&l.blob) {
                continue;
            }
            let path = store.blob_path(&l.blob);
            let read_err =
                |source| SaveError::Read { image: label.clone(), what: format!("layer blob {}", l.blob), source };
            let file = std::fs::File::open(&path).map_err(read_err)?;
            let size = file.metadata().map_err(read_err)?.len();
            let mut hashing = HashingReader::new(file);
            w.file_from(&format!("blobs/sha256/{}", l.blob.hex()), size, &mut hashing)?;
            let (actual, n, _) = hashing.finish().map_err(read_err)?;
            if actual != l.blob || n != size {
                return Err(SaveError::Corrupt {
                    image: label.clone(),
                    what: format!("layer blob {}", l.blob),
                    reason: format!("its content is {actual}"),
                });
            }
            written.push(l.blob.clone());
        }
        if !written.contains(&img.record.config) {
            let config = read_verified(store, label, &img.record.config, "config")?;
            w.file(&format!("blobs/sha256/{}", img.record.config.hex()), &config)?;
            written.push(img.record.config.clone());
        }
        if !written.contains(digest) {
            w.file(&format!("blobs/sha256/{}", digest.hex()), bytes)?;
            written.push(digest.clone());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_media_types_map_to_oci() {
        assert_eq!(
            oci_layer_media_type("application/vnd.docker.image.rootfs.diff.tar.gzip"),
            "application/vnd.oci.image.layer.v1.tar+gzip"
        );
        assert_eq!(
            oci_layer_media_type("application/vnd.docker.image.rootfs.diff.tar"),
            "application/vnd.oci.image.layer.v1.tar"
        );
        assert_eq!(
            oci_layer_media_type("application/vnd.oci.image.layer.v1.tar+zstd"),
            "application/vnd.oci.image.layer.v1.tar+zstd"
        );
        assert_eq!("oci-archive".parse::<ArchiveFormat>().unwrap(), ArchiveFormat::OciArchive);
        assert!("tar".parse::<ArchiveFormat>().is_err());
    }
}
