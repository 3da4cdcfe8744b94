//! Images: the records the store keeps about them, manifests and configs,
//! import of OCI layouts and docker-archive tars (`archive`), and layer
//! unpacking with whiteouts (`unpack`).
//!
//! Manifests, indexes, descriptors, platforms and history steps are
//! `oci_spec::image`'s types ([`ImageManifest`], [`OciIndex`], [`Descriptor`],
//! [`Platform`], [`History`]);
//! what rrun adds is small: [`parse_manifest`] and [`parse_index`] check
//! what a document claims to be (schema 2 only, Docker schema 1 refused by
//! name, media types rrun reads, sha256 digests, sizes), [`DescriptorExt`]
//! and [`PlatformExt`] read them the way rrun needs, and [`to_json`] writes
//! one with sorted keys (oci-spec keeps annotations in a `HashMap`), so a
//! manifest rrun writes has the same bytes, hence the same digest, every time.
//! A manifest whose digest is known is never re-serialised: its original
//! bytes are what the store keeps and what digests are computed over.
//!
//! Kept as rrun's own types, not oci-spec's:
//! - [`ImageConfig`], [`ContainerConfig`], [`Healthcheck`]: oci-spec's
//!   `ImageConfiguration` and `Config` have no place for Docker's fields
//!   (`Healthcheck`, `Shell`, `OnBuild`, `container_config`…) and drop every
//!   field they do not know, so a config rrun derives (`commit`, `--change`)
//!   would lose them; they also refuse a config without `history` or with
//!   `"history": null`, which real images have, and turn `ExposedPorts` and
//!   `Volumes` into lists in `HashMap` order.
//! - [`RootFs`]: oci-spec's `diff_ids` are strings, rrun's are validated
//!   sha256 [`Digest`]s that name directories of the store.

pub mod archive;
pub mod change;
pub mod history;
pub mod import;
mod index_file;
pub mod inspect;
pub mod layer_writer;
pub mod save;
pub mod unpack;

#[cfg(test)]
mod proptests;

use crate::digest::Digest;
use crate::reference::ImageRef;
/// OCI's image index (also a Docker manifest list), named apart from the store's `ImageIndex` (below).
pub use oci_spec::image::ImageIndex as OciIndex;
pub use oci_spec::image::{Descriptor, History, ImageManifest, MediaType, Platform};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const MEDIA_OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const MEDIA_OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const MEDIA_OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const MEDIA_DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const MEDIA_DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

pub const MEDIA_DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";

/// The layer media types rrun unpacks (OCI and Docker, plain, gzip, zstd,
/// and the non-distributable and foreign kinds, which are layers all the same).
pub const LAYER_TYPES: [&str; 11] = [
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd",
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "application/vnd.docker.image.rootfs.diff.tar",
    "application/vnd.docker.image.rootfs.diff.tar.zstd",
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
    "application/vnd.docker.image.rootfs.foreign.diff.tar",
];

crate::steps! {
    IMAGE_LOOKUP: "image_lookup" in Image, syscall "read images/index.json", source "src/lifecycle/mod.rs",
        what "Find the image in the store",
        why "An image is content-addressed files: its name points (in images/index.json) to a manifest digest, and the manifest lists the config and the layers by digest. Nothing is downloaded here: the layers were unpacked once, when the image was pulled or loaded, and every container of the image shares them.";
    IMAGE_CONFIG: "image_config" in Image, syscall "read blobs/sha256/…", source "src/lifecycle/mod.rs",
        what "Read the image's config",
        why "The config is the image's recipe for a process: Entrypoint and Cmd become the process's arguments, Env its environment, WorkingDir and User where and as whom it runs. Its sha256 is checked against the digest the manifest names, so a tampered file is refused.";
    ARCHIVE_READ: "archive_read" in Image, syscall "open + read", source "src/image/archive.rs",
        what "Read the archive's index",
        why "An OCI layout (oci-layout, index.json, blobs/sha256/…) or a docker-archive (manifest.json and one tar per layer) says which manifests, configs and layers make each image; nothing is trusted before its digest is checked.";
    LAYER_UNPACK: "layer_unpack" in Image, syscall "read + openat2(RESOLVE_BENEATH) + write", source "src/image/unpack.rs, src/image/import.rs",
        what "Verify and unpack a layer",
        why "A layer is a tar of what one build step changed. As it streams, rrun hashes the compressed blob (its digest) and the uncompressed tar (its diff-id) and checks both, and creates each entry through a descriptor opened with openat2(RESOLVE_BENEATH), so `../` or a symlink cannot write outside the layer. A deleted file arrives as a `.wh.NAME` whiteout and becomes a 0:0 character device, the form overlayfs hides a lower file with; `.wh..wh..opq` marks a directory opaque (trusted.overlay.opaque=y).";
    LAYER_PRESENT: "layer_present" in Image, syscall "stat layers/…", source "src/image/import.rs",
        what "Find a layer already unpacked",
        why "Layers are stored by diff-id: one that another image already brought is not unpacked again. Images built on the same base share its layers on disk.";
    IMAGE_COMMIT: "image_commit" in Image, syscall "rename + write images/index.json", source "src/image/import.rs",
        what "Record the image in the store",
        why "Every layer was unpacked under tmp/ and verified first; renames make them visible at once, under the store's lock, and the names are written last: a crash never leaves half an image.";
}

/// Largest manifest or config accepted, so a hostile file cannot exhaust memory.
pub const MAX_JSON_SIZE: u64 = 8 * 1024 * 1024;

pub fn is_index_type(media: &str) -> bool {
    media == MEDIA_OCI_INDEX || media == MEDIA_DOCKER_LIST
}

pub fn is_manifest_type(media: &str) -> bool {
    media == MEDIA_OCI_MANIFEST || media == MEDIA_DOCKER_MANIFEST
}

/// A manifest's bytes, checked for what they claim to be: schema version 2
/// (Docker's schema 1 is refused by name), an image manifest and not an
/// index, a config and layers of media types rrun reads. Errors are one
/// readable reason.
pub fn parse_manifest(bytes: &[u8]) -> Result<ImageManifest, String> {
    let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
    let media = v.get("mediaType").and_then(|m| m.as_str()).unwrap_or("");
    if v.get("schemaVersion").and_then(|s| s.as_u64()) == Some(1) || media.contains("distribution.manifest.v1") {
        return Err("a Docker schema 1 manifest (deprecated since 2017), which rrun does not read".into());
    }
    if is_index_type(media) || (v.get("manifests").is_some() && v.get("layers").is_none()) {
        let media = if media.is_empty() { "no mediaType" } else { media };
        return Err(format!("an image index ({media}) where an image manifest was expected"));
    }
    if !media.is_empty() && !is_manifest_type(media) {
        return Err(format!("media type {media:?} is not an image manifest"));
    }
    match v.get("schemaVersion").and_then(|s| s.as_u64()) {
        Some(2) => {}
        Some(n) => return Err(format!("schemaVersion {n}: only 2 is supported")),
        None => return Err("no schemaVersion".into()),
    }
    let m: ImageManifest = serde_json::from_value(v).map_err(|e| e.to_string())?;
    let config = m.config();
    config.sha256()?;
    let config_media = config.media();
    if !config_media.is_empty() && config_media != MEDIA_OCI_CONFIG && config_media != MEDIA_DOCKER_CONFIG {
        return Err(format!(
            "config {} has media type {config_media:?}, which is not an image config",
            config.digest()
        ));
    }
    if config.size() > MAX_JSON_SIZE {
        return Err(format!("config {} claims {} bytes, more than {MAX_JSON_SIZE}", config.digest(), config.size()));
    }
    for l in m.layers() {
        l.sha256()?;
        if !l.media().is_empty() && !LAYER_TYPES.contains(&l.media()) {
            return Err(format!(
                "layer {} has media type {:?}, which is not a layer rrun unpacks",
                l.digest(),
                l.media()
            ));
        }
    }
    Ok(m)
}

/// An index's bytes (OCI image index or Docker manifest list), checked as
/// [`parse_manifest`] checks a manifest.
pub fn parse_index(bytes: &[u8]) -> Result<OciIndex, String> {
    let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
    let media = v.get("mediaType").and_then(|m| m.as_str()).unwrap_or("");
    if is_manifest_type(media) || (v.get("layers").is_some() && v.get("manifests").is_none()) {
        return Err(format!("an image manifest ({media}) where an image index was expected"));
    }
    if !media.is_empty() && !is_index_type(media) {
        return Err(format!("media type {media:?} is not an image index"));
    }
    match v.get("schemaVersion").and_then(|s| s.as_u64()) {
        Some(2) => {}
        Some(n) => return Err(format!("schemaVersion {n}: only 2 is supported")),
        None => return Err("no schemaVersion".into()),
    }
    let index: OciIndex = serde_json::from_value(v).map_err(|e| e.to_string())?;
    for m in index.manifests() {
        m.sha256()?;
    }
    Ok(index)
}

/// `actual` bytes were found where `desc` said `desc.size`: a mismatch is an error.
pub fn check_size(desc: &Descriptor, actual: u64) -> Result<(), String> {
    if desc.size() == actual {
        Ok(())
    } else {
        Err(format!("its descriptor says {} bytes, the content is {actual} bytes", desc.size()))
    }
}

/// A descriptor of content rrun has: `media` type, sha256 `digest`, `size` bytes.
pub fn descriptor(media: &str, digest: &Digest, size: u64) -> Descriptor {
    Descriptor::new(MediaType::from(media), size, digest.to_oci())
}

/// An OCI image manifest (schema 2, OCI media type) of `config` and `layers`.
pub fn new_manifest(
    config: Descriptor,
    layers: Vec<Descriptor>,
    annotations: Option<std::collections::HashMap<String, String>>,
) -> ImageManifest {
    let mut m = oci_spec::image::ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .config(config)
        .layers(layers)
        .build()
        .expect("schema version, config and layers are all a manifest needs");
    m.set_annotations(annotations);
    m
}

/// `value` (a manifest or an index rrun writes) as JSON with every object's
/// keys sorted: oci-spec keeps annotations in a `HashMap`, whose order would
/// otherwise change the bytes, and so the digest, from one run to the next.
pub fn to_json<T: Serialize>(value: &T) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(&serde_json::to_value(value)?)
}

/// What rrun reads from an `oci_spec` [`Descriptor`] beyond its getters.
pub trait DescriptorExt {
    /// The media type as text (Docker's types are `MediaType::Other`).
    fn media(&self) -> &str;
    /// The digest as rrun's sha256 [`Digest`]; another algorithm is an error
    /// naming it (every blob in the store is named by its sha256).
    fn sha256(&self) -> Result<Digest, String>;
    /// The value of annotation `key`, if the descriptor has it.
    fn annotation(&self, key: &str) -> Option<&str>;
}

impl DescriptorExt for Descriptor {
    fn media(&self) -> &str {
        self.media_type().as_ref()
    }

    fn sha256(&self) -> Result<Digest, String> {
        Digest::try_from(self.digest()).map_err(|e| e.to_string())
    }

    fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations().as_ref().and_then(|a| a.get(key)).map(String::as_str)
    }
}

/// What rrun needs of an `oci_spec` [`Platform`]: this machine's, matching,
/// and the `os/arch[/variant]` text users type and read.
pub trait PlatformExt {
    /// The platform of this machine, in OCI's spelling.
    fn host() -> Platform;
    /// `os/arch[/variant]` as given to `--platform`.
    fn new_named(os: &str, architecture: &str, variant: Option<&str>) -> Platform;
    /// True when `other` can run here (a missing variant matches any).
    fn matches(&self, other: &Platform) -> bool;
    /// `os/arch[/variant]`.
    fn describe(&self) -> String;
}

impl PlatformExt for Platform {
    fn host() -> Platform {
        let architecture = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "powerpc64" => "ppc64le",
            other => other,
        };
        let variant = (architecture == "arm64").then_some("v8");
        Platform::new_named("linux", architecture, variant)
    }

    fn new_named(os: &str, architecture: &str, variant: Option<&str>) -> Platform {
        let mut p = Platform::default();
        p.set_os(os.into());
        p.set_architecture(architecture.into());
        p.set_variant(variant.map(str::to_string));
        p
    }

    fn matches(&self, other: &Platform) -> bool {
        self.os() == other.os()
            && self.architecture() == other.architecture()
            && match (self.variant(), other.variant()) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
    }

    fn describe(&self) -> String {
        match self.variant() {
            Some(v) => format!("{}/{}/{v}", self.os(), self.architecture()),
            None => format!("{}/{}", self.os(), self.architecture()),
        }
    }
}

/// An OCI `org.opencontainers.image.ref.name`, as the image layout
/// specification writes its grammar: components of alphanumerics joined by
/// `-._:@+` or `--`, separated by `/`.
pub fn valid_ref_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 4096
        && name.split('/').all(|component| {
            let b = component.as_bytes();
            let sep = |c: u8| matches!(c, b'-' | b'.' | b'_' | b':' | b'@' | b'+');
            let mut i = 0;
            let mut need_alnum = true;
            while i < b.len() {
                if b[i].is_ascii_alphanumeric() {
                    need_alnum = false;
                    i += 1;
                } else if !need_alnum && b[i] == b'-' && b.get(i + 1) == Some(&b'-') {
                    need_alnum = true;
                    i += 2;
                } else if !need_alnum && sep(b[i]) {
                    need_alnum = true;
                    i += 1;
                } else {
                    return false;
                }
            }
            !need_alnum
        })
}

/// `images/index.json`: every image by manifest digest, and the names that point at them.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct ImageIndex {
    #[serde(default)]
    pub images: BTreeMap<Digest, ImageRecord>,
    /// `registry/repository:tag` → manifest digest.
    #[serde(default)]
    pub tags: BTreeMap<String, Digest>,
}

/// One image in the store.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ImageRecord {
    /// The manifest's digest: how the store indexes the image.
    pub manifest: Digest,
    /// The config's digest: the image ID.
    pub config: Digest,
    /// Bottom layer first.
    pub layers: Vec<LayerRecord>,
    /// `created` from the image config (RFC 3339), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// Unpacked size in bytes (sum of the layers' tar sizes).
    pub size: u64,
    /// `registry/repository@sha256:…`: the digests the image was pulled by
    /// (an index's first, then its manifest's), as Docker's RepoDigests.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub repo_digests: Vec<String>,
}

impl ImageRecord {
    /// The image ID users see: the config digest, as Docker shows it.
    pub fn id(&self) -> &Digest {
        &self.config
    }

    /// The uncompressed digests (diff-ids) of its layers, bottom first.
    pub fn diff_ids(&self) -> impl Iterator<Item = &Digest> {
        self.layers.iter().map(|l| &l.diff_id)
    }
}

/// One layer of an [`ImageRecord`], as its manifest lists it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LayerRecord {
    /// Digest of the blob as stored (compressed or not).
    pub blob: Digest,
    /// The manifest's media type for the blob (`application/vnd.oci.image.layer.v1.tar+gzip`).
    pub media_type: String,
    /// Blob size in bytes.
    pub size: u64,
    /// Digest of the uncompressed tar.
    pub diff_id: Digest,
}

/// `layers/<hex>/meta.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LayerMeta {
    pub diff_id: Digest,
    /// Uncompressed tar size.
    pub size: u64,
}

impl ImageIndex {
    /// Finds an image by any name a user may give: `NAME[:TAG]`, `NAME@DIGEST`
    /// (manifest digest, or the index digest it was pulled by), a full ID
    /// (`sha256:<hex>` or bare 64 hex), or a unique prefix (>= 3 hex) of an ID.
    pub fn lookup(&self, name: &str) -> Option<&ImageRecord> {
        self.lookup_digest(name).and_then(|d| self.images.get(&d))
    }

    /// The manifest digest `name` resolves to.
    pub fn lookup_digest(&self, name: &str) -> Option<Digest> {
        let hex = name.strip_prefix("sha256:").unwrap_or(name);
        let is_hex = hex.len() >= 3 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        // a full ID is an ID even where it could also be a repository name
        if is_hex && hex.len() == 64 {
            if let Some(d) = self.by_id_prefix(hex).or_else(|| self.by_manifest_hex(hex)) {
                return Some(d);
            }
        }
        if let Some(d) = self.tag_for(name) {
            return Some(d);
        }
        if is_hex {
            return self.by_id_prefix(hex);
        }
        None
    }

    /// The image whose ID (config digest) starts with `hex`, if only one does.
    /// Two records may share a config (the same image under two manifests):
    /// that is still one ID, and the record with names wins.
    fn by_id_prefix(&self, hex: &str) -> Option<Digest> {
        let found: Vec<&ImageRecord> = self.images.values().filter(|i| i.config.hex().starts_with(hex)).collect();
        let first = found.first()?;
        if found.iter().any(|i| i.config != first.config) {
            return None;
        }
        let named = found.iter().find(|i| !self.names_of(&i.manifest).is_empty() || !i.repo_digests.is_empty());
        Some(named.unwrap_or(first).manifest.clone())
    }

    fn by_manifest_hex(&self, hex: &str) -> Option<Digest> {
        self.images.values().find(|i| i.manifest.hex() == hex).map(|i| i.manifest.clone())
    }

    /// The manifest digest a name (not an ID) points at, trying `localhost/NAME` for short names.
    pub fn tag_for(&self, name: &str) -> Option<Digest> {
        let r = ImageRef::parse(name).ok()?;
        if let Some(d) = &r.digest {
            return self.digest_ref(name, &r, d);
        }
        self.tag_key(name).and_then(|k| self.tags.get(&k).cloned())
    }

    /// `NAME@DIGEST`: a recorded repo digest of that repository first, then any
    /// image with that manifest digest, then one pulled by that digest elsewhere.
    fn digest_ref(&self, input: &str, r: &ImageRef, d: &Digest) -> Option<Digest> {
        let mut repos = vec![r.name()];
        if ImageRef::is_short_name(input) {
            if let Ok(local) = ImageRef::parse(&format!("localhost/{input}")) {
                repos.push(local.name());
            }
        }
        let wanted: Vec<String> = repos.iter().map(|repo| format!("{repo}@{d}")).collect();
        if let Some(i) = self.images.values().find(|i| i.repo_digests.iter().any(|rd| wanted.contains(rd))) {
            return Some(i.manifest.clone());
        }
        if self.images.contains_key(d) {
            return Some(d.clone());
        }
        let suffix = format!("@{d}");
        self.images.values().find(|i| i.repo_digests.iter().any(|rd| rd.ends_with(&suffix))).map(|i| i.manifest.clone())
    }

    /// The entry of `repo_digests` that a `NAME@DIGEST` reference names exactly, if any.
    pub fn repo_digest_key(&self, name: &str) -> Option<String> {
        let r = ImageRef::parse(name).ok()?;
        let d = r.digest.as_ref()?;
        let mut candidates = vec![format!("{}@{d}", r.name())];
        if ImageRef::is_short_name(name) {
            if let Ok(local) = ImageRef::parse(&format!("localhost/{name}")) {
                candidates.push(format!("{}@{d}", local.name()));
            }
        }
        candidates.into_iter().find(|c| self.images.values().any(|i| i.repo_digests.contains(c)))
    }

    /// The key in `tags` that `name` matches, if any.
    pub fn tag_key(&self, name: &str) -> Option<String> {
        let r = ImageRef::parse(name).ok()?;
        if r.digest.is_some() {
            return None;
        }
        let full = r.to_string();
        if self.tags.contains_key(&full) {
            return Some(full);
        }
        if ImageRef::is_short_name(name) {
            let local = ImageRef::parse(&format!("localhost/{name}")).ok()?.to_string();
            if self.tags.contains_key(&local) {
                return Some(local);
            }
        }
        None
    }

    /// Names pointing at `manifest`.
    pub fn names_of(&self, manifest: &Digest) -> Vec<&str> {
        self.tags.iter().filter(|(_, d)| *d == manifest).map(|(n, _)| n.as_str()).collect()
    }

    /// True when an image has neither a name nor a digest it was pulled by:
    /// `<none>:<none>`, what `image prune` removes.
    pub fn is_dangling(&self, image: &ImageRecord) -> bool {
        image.repo_digests.is_empty() && self.names_of(&image.manifest).is_empty()
    }
}

/// The unpacked (tar) size of a layer in the store, from its `meta.json`; 0 when unknown.
pub fn layer_size(store: &crate::store::Store, diff_id: &Digest) -> u64 {
    std::fs::read(store.layer_dir(diff_id).join("meta.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<LayerMeta>(&b).ok())
        .map(|m| m.size)
        .unwrap_or(0)
}

/// `registry/repository` of a `registry/repository@sha256:…` entry.
pub fn repo_of_digest(repo_digest: &str) -> &str {
    repo_digest.rsplit_once('@').map(|(r, _)| r).unwrap_or(repo_digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(hex_char: char) -> ImageRecord {
        let d = |c: char| Digest::from_hex(&c.to_string().repeat(64)).unwrap();
        ImageRecord {
            manifest: d(hex_char),
            config: d('f'),
            layers: vec![],
            created: None,
            size: 0,
            repo_digests: vec![],
        }
    }

    #[test]
    fn lookup_by_name_short_name_and_id_prefix() {
        let mut idx = ImageIndex::default();
        let r = record('a');
        idx.images.insert(r.manifest.clone(), r.clone());
        idx.tags.insert("docker.io/library/busybox:latest".into(), r.manifest.clone());
        idx.tags.insert("localhost/tool:1".into(), r.manifest.clone());
        assert_eq!(idx.lookup("busybox"), Some(&r));
        assert_eq!(idx.lookup("docker.io/library/busybox"), Some(&r));
        assert_eq!(idx.lookup("tool:1"), Some(&r));
        assert_eq!(idx.lookup("fff"), Some(&r), "ID prefix");
        assert_eq!(idx.lookup(&format!("sha256:{}", "a".repeat(64))), Some(&r));
        assert_eq!(idx.lookup("alpine"), None);
        assert_eq!(idx.names_of(&r.manifest).len(), 2);
    }

    #[test]
    fn lookup_by_digest_index_digest_and_ids() {
        let d = |c: char| Digest::from_hex(&c.to_string().repeat(64)).unwrap();
        let mut idx = ImageIndex::default();
        // pulled by digest: no tag, the index digest and the manifest digest recorded
        let mut pulled = record('a');
        pulled.config = Digest::from_hex(&format!("abce{}", "0".repeat(60))).unwrap();
        pulled.repo_digests =
            vec![format!("127.0.0.1:5000/team/tool@{}", d('c')), format!("127.0.0.1:5000/team/tool@{}", d('a'))];
        idx.images.insert(pulled.manifest.clone(), pulled.clone());
        let mut other = record('b');
        other.config = Digest::from_hex(&format!("abcd{}", "0".repeat(60))).unwrap();
        idx.images.insert(other.manifest.clone(), other.clone());
        idx.tags.insert("docker.io/library/other:1".into(), other.manifest.clone());

        assert_eq!(idx.lookup(&format!("127.0.0.1:5000/team/tool@{}", d('c'))), Some(&pulled), "index digest");
        assert_eq!(idx.lookup(&format!("127.0.0.1:5000/team/tool@{}", d('a'))), Some(&pulled), "manifest digest");
        assert_eq!(idx.lookup(&format!("other@{}", d('b'))), Some(&other), "manifest digest, any repository");
        assert_eq!(idx.lookup(&format!("127.0.0.1:5000/team/tool@{}", d('9'))), None);
        assert_eq!(idx.lookup("127.0.0.1:5000/team/tool"), None, "no tag: not found by :latest");
        assert_eq!(idx.lookup("abce"), Some(&pulled), "short ID");
        assert_eq!(idx.lookup("abc"), None, "a prefix of two IDs is ambiguous");
        assert_eq!(idx.lookup("ab"), None, "too short");
        assert_eq!(idx.lookup("abX"), None);
        assert_eq!(idx.lookup(pulled.config.hex()), Some(&pulled), "bare 64 hex");
        assert_eq!(idx.lookup(&pulled.config.to_string()), Some(&pulled), "full ID");
        assert_eq!(idx.lookup("other"), None, "other has only tag 1");
        assert_eq!(idx.lookup("other:1"), Some(&other));
        idx.tags.remove("docker.io/library/other:1");
        assert_eq!(idx.lookup("abcd"), Some(&other));
        assert!(idx.is_dangling(&other) && !idx.is_dangling(&pulled));
        assert_eq!(
            idx.repo_digest_key(&format!("127.0.0.1:5000/team/tool@{}", d('c'))).as_deref(),
            Some(pulled.repo_digests[0].as_str())
        );
        assert_eq!(repo_of_digest(&pulled.repo_digests[0]), "127.0.0.1:5000/team/tool");
    }

    #[test]
    fn manifests_and_indexes_are_what_they_claim() {
        let cfg = format!(r#"{{"mediaType":"{MEDIA_OCI_CONFIG}","digest":"{}","size":2}}"#, Digest::of(b"{}"));
        let good = format!(r#"{{"schemaVersion":2,"mediaType":"{MEDIA_OCI_MANIFEST}","config":{cfg},"layers":[]}}"#);
        assert!(parse_manifest(good.as_bytes()).is_ok());
        let v1 = r#"{"schemaVersion":1,"name":"x","fsLayers":[]}"#;
        assert!(parse_manifest(v1.as_bytes()).unwrap_err().contains("schema 1"));
        let index = format!(r#"{{"schemaVersion":2,"mediaType":"{MEDIA_OCI_INDEX}","manifests":[]}}"#);
        assert!(parse_manifest(index.as_bytes()).unwrap_err().contains("an image index"));
        assert!(parse_index(index.as_bytes()).is_ok());
        assert!(parse_index(good.as_bytes()).unwrap_err().contains("an image manifest"));
        let v3 = good.replace(r#""schemaVersion":2"#, r#""schemaVersion":3"#);
        assert!(parse_manifest(v3.as_bytes()).unwrap_err().contains("schemaVersion 3"));
        let odd_layer = good.replace(
            r#""layers":[]"#,
            &format!(r#""layers":[{{"mediaType":"text/plain","digest":"{}","size":1}}]"#, Digest::of(b"x")),
        );
        assert!(parse_manifest(odd_layer.as_bytes()).unwrap_err().contains("text/plain"));
        let odd_config = good.replace(MEDIA_OCI_CONFIG, "application/vnd.example+json");
        assert!(parse_manifest(odd_config.as_bytes()).unwrap_err().contains("not an image config"));
    }

    #[test]
    fn docker_manifests_parse_with_their_media_types_and_unknown_fields() {
        let (cfg, layer) = (Digest::of(b"{}"), Digest::of(b"layer"));
        let docker = format!(
            r#"{{"schemaVersion":2,"mediaType":"{MEDIA_DOCKER_MANIFEST}","x-extra":{{"a":1}},
               "config":{{"mediaType":"{MEDIA_DOCKER_CONFIG}","digest":"{cfg}","size":2}},
               "layers":[{{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","digest":"{layer}","size":5,"urls":["https://x"]}}]}}"#
        );
        let m = parse_manifest(docker.as_bytes()).unwrap();
        assert_eq!(m.media_type().as_ref().map(|t| t.as_ref()), Some(MEDIA_DOCKER_MANIFEST));
        assert_eq!(
            (m.config().media(), m.config().sha256(), m.config().size()),
            (MEDIA_DOCKER_CONFIG, Ok(cfg.clone()), 2)
        );
        assert_eq!(m.layers()[0].media(), "application/vnd.docker.image.rootfs.diff.tar.gzip");
        assert_eq!(m.layers()[0].sha256(), Ok(layer));
        // a digest of another algorithm is refused by name: the store is sha256 only
        let sha512 = docker.replace(&Digest::of(b"layer").to_string(), &format!("sha512:{}", "a".repeat(128)));
        assert!(parse_manifest(sha512.as_bytes()).unwrap_err().contains("only sha256"));
        let index = format!(
            r#"{{"schemaVersion":2,"mediaType":"{MEDIA_DOCKER_LIST}","manifests":[{{"mediaType":"{MEDIA_DOCKER_MANIFEST}",
               "digest":"sha512:{}","size":1,"platform":{{"architecture":"amd64","os":"linux"}}}}]}}"#,
            "b".repeat(128)
        );
        assert!(parse_index(index.as_bytes()).unwrap_err().contains("only sha256"));
        let missing_size = format!(
            r#"{{"schemaVersion":2,"config":{{"mediaType":"{MEDIA_OCI_CONFIG}","digest":"{cfg}"}},"layers":[]}}"#
        );
        assert!(parse_manifest(missing_size.as_bytes()).unwrap_err().contains("size"));
    }

    #[test]
    fn manifests_rrun_writes_have_the_same_bytes_every_time() {
        let config = descriptor(MEDIA_OCI_CONFIG, &Digest::of(b"{}"), 2);
        let layer = descriptor(LAYER_TYPES[1], &Digest::of(b"l"), 1);
        let annotations: std::collections::HashMap<String, String> =
            (0..16).map(|i| (format!("k{i}"), format!("v{i}"))).collect();
        let first = to_json(&new_manifest(config.clone(), vec![layer.clone()], Some(annotations.clone()))).unwrap();
        let mut reversed: std::collections::HashMap<String, String> = std::collections::HashMap::new();
        for (k, v) in annotations.iter().collect::<BTreeMap<_, _>>().into_iter().rev() {
            reversed.insert(k.clone(), v.clone());
        }
        let again = to_json(&new_manifest(config, vec![layer], Some(reversed))).unwrap();
        assert_eq!(first, again);
        let text = String::from_utf8(first.clone()).unwrap();
        assert!(text.find("\"k0\"").unwrap() < text.find("\"k1\"").unwrap(), "{text}");
        let parsed = parse_manifest(&first).unwrap();
        assert_eq!(parsed.schema_version(), 2);
        assert_eq!(parsed.media_type().as_ref().map(|t| t.as_ref()), Some(MEDIA_OCI_MANIFEST));
        assert_eq!(parsed.layers()[0].media(), LAYER_TYPES[1]);
        assert_eq!(parsed.annotations().as_ref().map(|a| a.len()), Some(16));
    }

    #[test]
    fn platforms_match_and_read_as_os_arch_variant() {
        let arm = Platform::new_named("linux", "arm64", Some("v8"));
        assert_eq!(arm.describe(), "linux/arm64/v8");
        assert!(arm.matches(&Platform::new_named("linux", "arm64", None)), "a missing variant matches any");
        assert!(!arm.matches(&Platform::new_named("linux", "arm64", Some("v9"))));
        assert!(!arm.matches(&Platform::new_named("linux", "amd64", None)));
        assert!(!arm.matches(&Platform::new_named("windows", "arm64", Some("v8"))));
        let host = Platform::host();
        assert_eq!(host.os().to_string(), "linux");
        assert!(host.matches(&host));
        let json: Platform = serde_json::from_str(r#"{"architecture":"arm","os":"linux","variant":"v7"}"#).unwrap();
        assert_eq!(json.describe(), "linux/arm/v7");
    }

    #[test]
    fn ref_names_follow_the_layout_grammar() {
        for ok in ["latest", "v1.2", "docker.io/library/busybox:1.36", "a--b", "x@sha256:abc", "1.0+build"] {
            assert!(valid_ref_name(ok), "{ok}");
        }
        for bad in ["", "bad name", "-x", "x-", "a//b", "a/", "x;rm", "tag\n", "ü"] {
            assert!(!valid_ref_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn configs_keep_what_rrun_does_not_read() {
        let json = r#"{"architecture":"amd64","os":"linux","history":null,"rootfs":{"type":"layers","diff_ids":[]},
                       "container_config":{"Hostname":"x"},"config":{"Cmd":["sh"],"Healthcheck":{"Test":["NONE"]},"Env":null}}"#;
        let c: ImageConfig = serde_json::from_str(json).unwrap();
        assert!(c.history.is_empty());
        let again: serde_json::Value = serde_json::to_value(&c).unwrap();
        assert_eq!(again["container_config"]["Hostname"], "x");
        assert_eq!(again["config"]["Healthcheck"]["Test"][0], "NONE");
        assert_eq!(again["config"]["Cmd"][0], "sh");
        assert!(again["config"].get("Env").is_none(), "absent fields stay absent");
    }

    #[test]
    fn history_steps_read_as_oci_spec_history() {
        let json = r#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},
                       "history":[{"created_by":"ENV A=1","empty_layer":true},{"created_by":"ADD x","empty_layer":null},
                                  {"created":"2024-01-01T00:00:00Z","author":"me","comment":"c","empty_layer":false}]}"#;
        let c: ImageConfig = serde_json::from_str(json).unwrap();
        let steps: Vec<_> = c.history.iter().map(|h| (h.created_by().as_deref(), h.empty_layer())).collect();
        assert_eq!(steps, [(Some("ENV A=1"), Some(true)), (Some("ADD x"), None), (None, Some(false))]);
        assert_eq!(c.history[2].author().as_deref(), Some("me"));
        let again = serde_json::to_value(&c).unwrap();
        assert_eq!(again["history"][0]["empty_layer"], true);
        assert!(again["history"][1].get("empty_layer").is_none());
        assert_eq!(again["history"][2]["created"], "2024-01-01T00:00:00Z");
    }

    #[test]
    fn a_short_id_shared_by_two_records_of_one_config_is_one_image() {
        let mut idx = ImageIndex::default();
        let a = record('a');
        let mut b = record('b');
        b.config = a.config.clone();
        idx.images.insert(a.manifest.clone(), a.clone());
        idx.images.insert(b.manifest.clone(), b.clone());
        idx.tags.insert("localhost/b:latest".into(), b.manifest.clone());
        assert_eq!(idx.lookup("fff"), Some(&b), "the named record wins");
    }
}

/// An image config: what rrun reads, typed, and every other field kept as it
/// came (`extra`), so that a config rrun derives (`commit`) loses nothing.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ImageConfig {
    /// When the image was built (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// Who built it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// The CPU architecture (`amd64`, `arm64`).
    #[serde(default)]
    pub architecture: String,
    /// The architecture's variant (`v8`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// The operating system (`linux`).
    #[serde(default)]
    pub os: String,
    /// How to run it: user, env, entrypoint, cmd, ….
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<ContainerConfig>,
    /// Its layers, by their uncompressed digests.
    pub rootfs: RootFs,
    /// How each layer was made (`docker history`).
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "null_as_default")]
    pub history: Vec<History>,
    /// Fields rrun does not interpret, kept as they came.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// `null` read as the type's default (configs written by some tools have `"history": null`).
fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// The `config` object of an image config: how to run it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    /// `USER`: who the process runs as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// `EXPOSE`: `port/proto` keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, serde_json::Value>>,
    /// `ENV`: `K=V` entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
    /// `ENTRYPOINT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    /// `CMD`: the entrypoint's default arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    /// `VOLUME`: paths keys; each gets an anonymous volume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<BTreeMap<String, serde_json::Value>>,
    /// `WORKDIR`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// `LABEL`s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// `STOPSIGNAL`: what `stop` sends first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    /// Fields rrun does not interpret (Healthcheck, Shell, OnBuild…), kept as they came.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
    /// How to tell whether a container of the image is healthy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Healthcheck>,
}

/// A health check, as image configs and `docker inspect` write it: the test
/// (`["CMD", args…]`, `["CMD-SHELL", "command"]`, `["NONE"]`, or empty to
/// inherit the image's) and durations in nanoseconds (0: the default).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct Healthcheck {
    /// The check: `["CMD", args…]`, `["CMD-SHELL", "command"]`, `["NONE"]` (none), or empty (inherit).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub test: Vec<String>,
    /// Between checks (default 30 s).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub interval: i64,
    /// How long one check may take (default 30 s).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub timeout: i64,
    /// Failures in this time after start do not count (default 0).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub start_period: i64,
    /// Failures in a row that make the container unhealthy (default 3).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retries: i64,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

/// The image config's `rootfs`: its layers by uncompressed digest.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RootFs {
    /// `type`: always `layers` in a valid config.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// `diff_ids`: the digests of the uncompressed layer tars, bottom first.
    #[serde(default)]
    pub diff_ids: Vec<Digest>,
}
