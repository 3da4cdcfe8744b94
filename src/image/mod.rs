//! Images: the records the store keeps about them, manifests and configs,
//! import of OCI layouts and docker-archive tars (`archive`), and layer
//! unpacking with whiteouts (`unpack`).

pub mod archive;
pub mod import;
pub mod unpack;

use crate::digest::Digest;
use crate::reference::ImageRef;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const MEDIA_OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const MEDIA_OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const MEDIA_OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const MEDIA_DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const MEDIA_DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// Largest manifest or config accepted, so a hostile file cannot exhaust memory.
pub const MAX_JSON_SIZE: u64 = 8 * 1024 * 1024;

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
    pub manifest: Digest,
    pub config: Digest,
    /// Bottom layer first.
    pub layers: Vec<LayerRecord>,
    /// `created` from the image config (RFC 3339), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// Unpacked size in bytes (sum of the layers' tar sizes).
    pub size: u64,
}

impl ImageRecord {
    /// The image ID users see: the config digest, as Docker shows it.
    pub fn id(&self) -> &Digest {
        &self.config
    }

    pub fn diff_ids(&self) -> impl Iterator<Item = &Digest> {
        self.layers.iter().map(|l| &l.diff_id)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LayerRecord {
    /// Digest of the blob as stored (compressed or not).
    pub blob: Digest,
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
    /// Finds an image by name (`busybox`, `docker.io/library/busybox:latest`,
    /// `localhost/busybox`), by full manifest digest or by a unique prefix of its ID.
    pub fn lookup(&self, name: &str) -> Option<&ImageRecord> {
        self.lookup_digest(name).and_then(|d| self.images.get(&d))
    }

    /// The manifest digest `name` resolves to.
    pub fn lookup_digest(&self, name: &str) -> Option<Digest> {
        if let Some(d) = self.tag_for(name) {
            return Some(d);
        }
        let hex = name.strip_prefix("sha256:").unwrap_or(name);
        if hex.len() >= 3 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            let mut found =
                self.images.values().filter(|i| i.config.hex().starts_with(hex) || i.manifest.hex().starts_with(hex));
            if let (Some(one), None) = (found.next(), found.next()) {
                return Some(one.manifest.clone());
            }
        }
        None
    }

    /// The manifest digest a name (not an ID) points at, trying `localhost/NAME` for short names.
    pub fn tag_for(&self, name: &str) -> Option<Digest> {
        let r = ImageRef::parse(name).ok()?;
        if let Some(d) = &r.digest {
            return self.images.contains_key(d).then(|| d.clone());
        }
        self.tag_key(name).and_then(|k| self.tags.get(&k).cloned())
    }

    /// The key in `tags` that `name` matches, if any.
    pub fn tag_key(&self, name: &str) -> Option<String> {
        let r = ImageRef::parse(name).ok()?;
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(hex_char: char) -> ImageRecord {
        let d = |c: char| Digest::from_hex(&c.to_string().repeat(64)).unwrap();
        ImageRecord { manifest: d(hex_char), config: d('f'), layers: vec![], created: None, size: 0 }
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
}

/// A content descriptor as found in indexes and manifests (OCI and Docker schema 2 alike).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Descriptor {
    #[serde(rename = "mediaType", default)]
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl Platform {
    /// The platform of this machine, in OCI's spelling.
    pub fn host() -> Platform {
        let architecture = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "powerpc64" => "ppc64le",
            other => other,
        };
        let variant = (architecture == "arm64").then(|| "v8".to_string());
        Platform { architecture: architecture.into(), os: "linux".into(), variant }
    }

    /// True when `other` can run here (a missing variant matches any).
    pub fn matches(&self, other: &Platform) -> bool {
        self.os == other.os
            && self.architecture == other.architecture
            && match (&self.variant, &other.variant) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// An image index / manifest list.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IndexJson {
    #[serde(rename = "schemaVersion", default)]
    pub schema_version: u32,
    #[serde(rename = "mediaType", default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub manifests: Vec<Descriptor>,
}

/// An image manifest (OCI or Docker schema 2).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ManifestJson {
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    #[serde(rename = "mediaType", default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// The parts of an image config rrun reads (the rest is kept verbatim in the blob).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ImageConfig {
    #[serde(default)]
    pub created: Option<String>,
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub config: Option<ContainerConfig>,
    pub rootfs: RootFs,
}

/// The `config` object of an image config: how to run it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub env: Option<Vec<String>>,
    #[serde(default)]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default)]
    pub cmd: Option<Vec<String>>,
    #[serde(default)]
    pub working_dir: Option<String>,
    #[serde(default)]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub stop_signal: Option<String>,
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
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub test: Vec<String>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub interval: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub timeout: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub start_period: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retries: i64,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RootFs {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub diff_ids: Vec<Digest>,
}
