//! Pushing: upload the blobs the registry lacks (mounting them from another
//! repository of the same registry when one has them), then the manifest.

use super::{Body, Endpoint, RegistryClient, RegistryError};
use crate::digest::Digest;
use crate::image::{ImageIndex, ImageRecord};
use crate::reference::ImageRef;
use crate::store::Store;
use tracing::{debug, info};

/// Blobs up to this size go in one PUT; larger ones in PATCH chunks of this size.
const CHUNK: u64 = 16 * 1024 * 1024;

impl RegistryClient {
    fn blob_exists(&self, ep: &Endpoint, scope: &str, digest: &Digest) -> Result<bool, RegistryError> {
        match self.send(ep, "HEAD", &format!("/v2/{}/blobs/{digest}", ep.repository), scope, &[], Body::Empty) {
            Ok(_) => Ok(true),
            Err(RegistryError::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Uploads one blob from `path` (or mounts it from `from`). Returns "mounted", "uploaded" or "exists".
    fn upload_blob(
        &self,
        ep: &Endpoint,
        digest: &Digest,
        path: &std::path::Path,
        from: Option<&str>,
    ) -> Result<&'static str, RegistryError> {
        let mut scope = format!("repository:{}:pull,push", ep.repository);
        if let Some(f) = from {
            scope.push_str(&format!(" repository:{f}:pull"));
        }
        if self.blob_exists(ep, &scope, digest)? {
            return Ok("exists");
        }
        let mut start = format!("/v2/{}/blobs/uploads/", ep.repository);
        if let Some(f) = from {
            start.push_str(&format!("?mount={digest}&from={f}"));
        }
        let resp = self.send(ep, "POST", &start, &scope, &[], Body::Empty)?;
        if resp.status() == 201 {
            return Ok("mounted");
        }
        let mut location = self.location(ep, &resp, "start upload")?;
        let size = std::fs::metadata(path).map_err(|e| RegistryError::Other(format!("{}: {e}", path.display())))?.len();
        if size > CHUNK {
            let mut offset = 0;
            while offset < size {
                let len = CHUNK.min(size - offset);
                let range = format!("{}-{}", offset, offset + len - 1);
                let resp = self.send(
                    ep,
                    "PATCH",
                    &location,
                    &scope,
                    &[("Content-Range", &range)],
                    Body::File { path: path.to_path_buf(), offset, len },
                )?;
                location = self.location(ep, &resp, "upload chunk")?;
                offset += len;
            }
            let sep = if location.contains('?') { '&' } else { '?' };
            self.send(ep, "PUT", &format!("{location}{sep}digest={digest}"), &scope, &[], Body::Empty)?;
        } else {
            let sep = if location.contains('?') { '&' } else { '?' };
            self.send(
                ep,
                "PUT",
                &format!("{location}{sep}digest={digest}"),
                &scope,
                &[],
                Body::File { path: path.to_path_buf(), offset: 0, len: size },
            )?;
        }
        Ok("uploaded")
    }

    fn location(&self, ep: &Endpoint, resp: &ureq::Response, what: &str) -> Result<String, RegistryError> {
        resp.header("Location").map(str::to_string).ok_or_else(|| RegistryError::Protocol {
            host: ep.host.clone(),
            what: what.into(),
            reason: "no Location header".into(),
        })
    }
}

/// Another repository of the same registry that holds `blob`, to mount from.
fn mount_source(index: &ImageIndex, target: &ImageRef, blob: &Digest) -> Option<String> {
    index.tags.iter().find_map(|(name, manifest)| {
        let r = ImageRef::parse(name).ok()?;
        if r.registry != target.registry || r.repository == target.repository {
            return None;
        }
        let img = index.images.get(manifest)?;
        img.layers.iter().any(|l| &l.blob == blob).then_some(r.repository)
    })
}

/// Pushes a local image to `target`; returns the manifest digest.
pub fn push(
    store: &Store,
    client: &RegistryClient,
    image: &ImageRecord,
    index: &ImageIndex,
    target: &ImageRef,
) -> Result<Digest, RegistryError> {
    let ep = client
        .endpoints(target)
        .into_iter()
        .find(|e| !e.mirror)
        .ok_or_else(|| RegistryError::Other(format!("{target}: no endpoint to push to")))?;
    let scope = format!("repository:{}:pull,push", ep.repository);
    for layer in &image.layers {
        let path = store.blob_path(&layer.blob);
        if !path.is_file() {
            return Err(RegistryError::Other(format!("{target}: layer blob {} is not in the local store", layer.blob)));
        }
        let from = mount_source(index, target, &layer.blob);
        let how = client.upload_blob(&ep, &layer.blob, &path, from.as_deref())?;
        info!(blob = %layer.blob, how, "layer");
    }
    let how = client.upload_blob(&ep, &image.config, &store.blob_path(&image.config), None)?;
    debug!(config = %image.config, how, "config");
    let manifest = store.read_blob(&image.manifest)?;
    let media = serde_json::from_slice::<serde_json::Value>(&manifest)
        .ok()
        .and_then(|v| v["mediaType"].as_str().map(str::to_string))
        .unwrap_or_else(|| crate::image::MEDIA_OCI_MANIFEST.to_string());
    let reference = target.tag.clone().unwrap_or_else(|| image.manifest.to_string());
    let media: &'static str = if media == crate::image::MEDIA_DOCKER_MANIFEST {
        crate::image::MEDIA_DOCKER_MANIFEST
    } else {
        crate::image::MEDIA_OCI_MANIFEST
    };
    client.send(
        &ep,
        "PUT",
        &format!("/v2/{}/manifests/{reference}", ep.repository),
        &scope,
        &[],
        Body::Bytes(manifest, media),
    )?;
    info!(target = %target, manifest = %image.manifest, "pushed");
    Ok(image.manifest.clone())
}
