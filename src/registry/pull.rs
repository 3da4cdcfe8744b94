//! Pulling: resolve a reference (mirrors first) to a manifest for this
//! platform, fetch the config, then stream every layer from the registry
//! through the importer: download → digest → decompress → unpack, several
//! layers at once, resumable, all committed together.

use super::{Endpoint, RegistryClient, RegistryError};
use crate::digest::Digest;
use crate::image::import::{ImportError, Importer, LoadedImage, Plan, PlannedLayer, Source};
use crate::image::{
    Descriptor, DescriptorExt, ImageConfig, ImageManifest, OciIndex, Platform, PlatformExt, MAX_JSON_SIZE,
};
use crate::reference::ImageRef;
use crate::store::Store;
use std::io::{self, Read, Write};
use std::path::Path;
use tracing::{info, warn};

/// How [`Rrun::pull`](crate::Rrun::pull) chooses and reports.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct PullOptions {
    /// Platform to choose from a multi-arch index (default: this machine's).
    pub platform: Option<Platform>,
    /// Told of each step and of the bytes read ([`crate::progress::PullEvent`]); none: no events.
    pub progress: Option<crate::progress::ProgressFn>,
}

/// The API host of a registry (Docker Hub's API is not at docker.io).
pub(crate) fn api_host(host: &str) -> String {
    if host == "docker.io" {
        "registry-1.docker.io".into()
    } else {
        host.to_string()
    }
}

/// What a reference resolved to.
pub struct Resolved {
    pub endpoint: Endpoint,
    pub manifest: Vec<u8>,
    pub digest: Digest,
    pub parsed: ImageManifest,
    /// The digest of the index (manifest list) the manifest was chosen from, if any.
    pub index_digest: Option<Digest>,
}

impl RegistryClient {
    /// The endpoints for an image, mirrors first, with API hosts.
    pub fn endpoints(&self, image: &ImageRef) -> Vec<Endpoint> {
        self.opts
            .config
            .endpoints(&image.registry, &image.repository)
            .into_iter()
            .map(|mut e| {
                e.host = api_host(&e.host);
                e
            })
            .collect()
    }

    /// Finds the manifest of `image` for `platform`, trying each endpoint in turn.
    pub fn resolve(&self, image: &ImageRef, platform: &Platform) -> Result<Resolved, RegistryError> {
        let reference = match (&image.digest, &image.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => "latest".into(),
        };
        let name = image.to_string();
        let mut last = None;
        for ep in self.endpoints(image) {
            match self.resolve_at(&ep, &reference, &name, platform) {
                Ok(r) => return Ok(r),
                Err(e) if ep.mirror => {
                    warn!(mirror = %ep.host, error = %e, "mirror failed, trying the next endpoint");
                    last = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| RegistryError::Other(format!("{name}: no endpoint to pull from"))))
    }

    fn resolve_at(
        &self,
        ep: &Endpoint,
        reference: &str,
        name: &str,
        platform: &Platform,
    ) -> Result<Resolved, RegistryError> {
        let (mut bytes, mut media, mut digest) = self.get_manifest(ep, reference, name)?;
        let mut index_digest = None;
        let bad = |reason: String| RegistryError::Manifest { image: name.into(), reason };
        for _ in 0..3 {
            let json: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| bad(format!("not JSON: {e}")))?;
            if is_schema1(&json, &media) {
                return Err(RegistryError::Schema1 { image: name.into() });
            }
            // what the registry says it sent, and what the content says it is, must agree
            let inner = json.get("mediaType").and_then(|m| m.as_str()).unwrap_or("");
            let known = |m: &str| crate::image::is_index_type(m) || crate::image::is_manifest_type(m);
            if known(&media) && known(inner) && media != inner {
                return Err(bad(format!("the registry sent it as {media}, its content says {inner}")));
            }
            let is_index = crate::image::is_index_type(&media)
                || crate::image::is_index_type(inner)
                || (json.get("manifests").is_some() && !crate::image::is_manifest_type(&media));
            if !is_index {
                let parsed: ImageManifest = crate::image::parse_manifest(&bytes).map_err(bad)?;
                return Ok(Resolved { endpoint: ep.clone(), manifest: bytes, digest, parsed, index_digest });
            }
            let index: OciIndex = crate::image::parse_index(&bytes).map_err(bad)?;
            let chosen = index
                .manifests()
                .iter()
                .find(|m| m.platform().as_ref().is_some_and(|p| platform.matches(p)))
                .ok_or_else(|| RegistryError::NoPlatform {
                    image: name.into(),
                    wanted: platform.describe(),
                    available: index
                        .manifests()
                        .iter()
                        .filter_map(|m| m.platform().as_ref().map(|p| p.describe()))
                        .collect::<Vec<_>>()
                        .join(", "),
                })?;
            crate::step!(super::INDEX_CHOOSE, image = name, platform = %platform.describe(), manifest = %chosen.digest());
            if !chosen.media().is_empty() && !known(chosen.media()) {
                return Err(bad(format!(
                    "the index lists {} as {:?}, neither an image manifest nor an index",
                    chosen.digest(),
                    chosen.media()
                )));
            }
            // the digest a user pulls a multi-arch image by is the outermost index's
            index_digest.get_or_insert(digest.clone());
            (bytes, media, digest) = self.get_manifest(ep, chosen.digest().as_ref(), name)?;
            crate::image::check_size(chosen, bytes.len() as u64)
                .map_err(|r| bad(format!("manifest {}: {r}", chosen.digest())))?;
            if media.is_empty() {
                media = chosen.media().to_string();
            }
        }
        Err(RegistryError::Manifest { image: name.into(), reason: "indexes nested too deeply".into() })
    }

    /// Reads a small blob (a config), never past the size its descriptor
    /// says, and checks its size and digest.
    pub fn get_small_blob(&self, ep: &Endpoint, desc: &Descriptor, image: &str) -> Result<Vec<u8>, RegistryError> {
        let digest = &desc.sha256().map_err(|reason| RegistryError::Manifest { image: image.into(), reason })?;
        if desc.size() > MAX_JSON_SIZE {
            return Err(RegistryError::Manifest {
                image: image.into(),
                reason: format!("config {digest} is too large: its descriptor says {} bytes", desc.size()),
            });
        }
        let mut bytes = Vec::new();
        self.open_blob(ep, digest, Some(desc.size()), 0)
            .take(desc.size() + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| RegistryError::Other(format!("{image}: blob {digest}: {e}")))?;
        crate::image::check_size(desc, bytes.len() as u64)
            .map_err(|r| RegistryError::Manifest { image: image.into(), reason: format!("config {digest}: {r}") })?;
        let actual = Digest::of(&bytes);
        if &actual != digest {
            return Err(RegistryError::Digest {
                image: image.into(),
                what: format!("config {digest}"),
                expected: digest.clone(),
                actual,
            });
        }
        Ok(bytes)
    }
}

/// Docker's schema 1 (signed JSON with `fsLayers`), which rrun does not read.
fn is_schema1(json: &serde_json::Value, media: &str) -> bool {
    json["schemaVersion"].as_u64() == Some(1) || media.starts_with("application/vnd.docker.distribution.manifest.v1")
}

/// Blobs of one repository, as a source for the importer.
struct RegistrySource<'a> {
    client: &'a RegistryClient,
    ep: Endpoint,
    sizes: std::collections::HashMap<String, u64>,
}

impl Source for RegistrySource<'_> {
    fn open(&self, name: &str) -> io::Result<Box<dyn Read + Send + '_>> {
        let digest: Digest = name.parse().map_err(io::Error::other)?;
        Ok(Box::new(self.client.open_blob(&self.ep, &digest, self.sizes.get(name).copied(), 0)))
    }
    fn exists(&self, _name: &str) -> bool {
        true
    }
    fn complete_partial(&self, name: &str, partial: &Path, size: Option<u64>) -> io::Result<bool> {
        let digest: Digest = name.parse().map_err(io::Error::other)?;
        let have = std::fs::metadata(partial)?.len();
        if size.is_some_and(|s| have >= s) {
            return Ok(true);
        }
        let mut f = std::fs::OpenOptions::new().append(true).open(partial)?;
        let r = self.client.open_blob(&self.ep, &digest, size, have);
        // the rest, and never more than the descriptor says (one byte over is caught by the importer)
        io::copy(&mut r.take(size.map_or(u64::MAX, |s| s - have + 1)), &mut f)?;
        f.flush()?;
        Ok(true)
    }
    fn resumable(&self) -> bool {
        true
    }
}

/// Pulls `image` into `store`.
pub fn pull(
    store: &Store,
    client: &RegistryClient,
    image: &ImageRef,
    opts: &PullOptions,
) -> Result<LoadedImage, RegistryError> {
    let platform = opts.platform.clone().unwrap_or_else(Platform::host);
    let name = image.to_string();
    let resolved = client.resolve(image, &platform)?;
    let ep = resolved.endpoint.clone();
    let m = &resolved.parsed;
    let config_bytes = client.get_small_blob(&ep, m.config(), &name)?;
    crate::step!(
        super::CONFIG_FETCH,
        url = %format!("{}/v2/{}/blobs/{}", ep.host, ep.repository, m.config().digest()),
        bytes = config_bytes.len()
    );
    let config: ImageConfig = serde_json::from_slice(&config_bytes).map_err(|e| RegistryError::Manifest {
        image: name.clone(),
        reason: format!("config {}: {e}", m.config().digest()),
    })?;
    if config.rootfs.diff_ids.len() != m.layers().len() {
        return Err(RegistryError::Manifest {
            image: name,
            reason: format!(
                "{} layers but the config lists {} diff-ids",
                m.layers().len(),
                config.rootfs.diff_ids.len()
            ),
        });
    }
    let layers = m
        .layers()
        .iter()
        .zip(&config.rootfs.diff_ids)
        .map(|(l, diff_id)| {
            let blob = l.sha256().map_err(|reason| RegistryError::Manifest { image: name.clone(), reason })?;
            Ok(PlannedLayer {
                member: blob.to_string(),
                size: Some(l.size()),
                blob: Some(blob),
                media_type: Some(l.media().to_string()),
                diff_id: diff_id.clone(),
            })
        })
        .collect::<Result<_, RegistryError>>()?;
    let names = if image.tag.is_some() { vec![image.to_string()] } else { Vec::new() };
    let repo_digests = repo_digests(image, &resolved);
    let plan = Plan {
        names,
        repo_digests,
        manifest: Some((resolved.digest.clone(), resolved.manifest.clone())),
        config_bytes,
        config,
        layers,
    };
    let source = RegistrySource {
        client,
        ep: ep.clone(),
        sizes: m.layers().iter().map(|l| (l.digest().to_string(), l.size())).collect(),
    };
    if let Some(p) = &opts.progress {
        let layers = plan.layers.len();
        p.emit(&crate::progress::PullEvent::Resolved {
            image: name.clone(),
            manifest: resolved.digest.to_string(),
            layers,
        });
    }
    let importer = Importer { store, progress: opts.progress.as_ref(), origin: name.clone(), source: &source };
    let loaded = importer.import(plan).map_err(|e: ImportError| RegistryError::Import(Box::new(e)))?;
    if let Some(p) = &opts.progress {
        p.emit(&crate::progress::PullEvent::Committed { image: name.clone(), id: loaded.record.config.to_string() });
    }
    info!(image = %name, from = %ep.host, manifest = %resolved.digest, "pulled");
    Ok(loaded)
}

/// `registry/repository@digest` for what a pull resolved: the index it went
/// through (the digest Docker shows for a multi-arch image) and the manifest.
fn repo_digests(image: &ImageRef, resolved: &Resolved) -> Vec<String> {
    let repo = image.name();
    resolved.index_digest.iter().chain([&resolved.digest]).map(|d| format!("{repo}@{d}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema1_is_recognized() {
        let v1 = serde_json::json!({"schemaVersion": 1, "name": "x", "fsLayers": []});
        assert!(is_schema1(&v1, ""));
        assert!(is_schema1(&serde_json::json!({}), "application/vnd.docker.distribution.manifest.v1+prettyjws"));
        let oci = serde_json::json!({"schemaVersion": 2});
        assert!(!is_schema1(&oci, "application/vnd.oci.image.manifest.v1+json"));
        assert!(!is_schema1(&oci, "application/vnd.docker.distribution.manifest.v2+json"));
    }

    #[test]
    fn docker_hub_api_host() {
        assert_eq!(api_host("docker.io"), "registry-1.docker.io");
        assert_eq!(api_host("quay.io"), "quay.io");
    }
}
