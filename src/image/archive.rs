//! Importing images from disk: OCI image layouts (a directory or a tar of one,
//! as `skopeo copy oci-archive:` and `podman save --format oci-archive` write)
//! and docker-archive tars (`docker save`, `podman save`).
//!
//! Layers are streamed straight from the archive through the unpacker, several
//! at a time; the image becomes visible only after every layer is committed.

use super::{Descriptor, DescriptorExt, ImageConfig, ImageManifest, OciIndex, Platform, PlatformExt, MAX_JSON_SIZE};
use crate::digest::Digest;
use crate::reference::ImageRef;
use crate::store::Store;
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

pub use super::import::{ImportError, LoadedImage};
use super::import::{Importer, Plan, PlannedLayer, Source};

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
    /// Reads the archive's headers. An archive that is not a tar at all, one
    /// cut short and one corrupt further in are told apart, in one short line.
    fn index(path: &Path, origin: &str) -> Result<TarSource, ImportError> {
        let io_err = |source| ImportError::Io { origin: origin.to_string(), source };
        let file = File::open(path).map_err(io_err)?;
        let len = file.metadata().map_err(io_err)?.len();
        let mut archive = tar::Archive::new(file);
        let mut members = HashMap::new();
        let mut links = Vec::new();
        let mut seen = 0usize;
        let mut last_end = 0u64;
        let truncated = |detail: String| ImportError::Truncated { origin: origin.to_string(), detail };
        for entry in archive.entries().map_err(io_err)? {
            let entry = match entry {
                Ok(e) => e,
                Err(e) if seen == 0 => {
                    return Err(ImportError::NotArchive {
                        origin: origin.to_string(),
                        reason: format!(
                            "it is not a tar file ({}) nor a directory",
                            crate::text::printable(&e.to_string(), 60)
                        ),
                    })
                }
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof || e.to_string().contains("EOF") => {
                    return Err(truncated(format!("it ends at byte {len}, after {seen} members, within the next one")))
                }
                Err(e) => {
                    return Err(ImportError::Invalid {
                        origin: origin.to_string(),
                        what: format!("the tar data after {seen} members"),
                        reason: crate::text::printable(&e.to_string(), 80),
                    })
                }
            };
            seen += 1;
            let name = normalize_member(&String::from_utf8_lossy(&entry.path_bytes()));
            let end = entry.raw_file_position() + entry.size();
            last_end = end;
            if end > len {
                return Err(truncated(format!(
                    "member {} needs {end} bytes, the file has {len}",
                    crate::text::printable(&name, 80)
                )));
            }
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
        // a tar ends with zero blocks; one cut at a header boundary has none, and reads as shorter
        if seen > 0 && len < last_end.div_ceil(512) * 512 + 512 {
            return Err(truncated(format!(
                "it ends at byte {len}, after {seen} members, without the end-of-archive blocks"
            )));
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
pub fn load(store: &Store, path: &Path, default_name: Option<&str>) -> Result<Vec<LoadedImage>, ImportError> {
    load_with(store, path, default_name, None)
}

/// [`load`], telling `progress` of each layer as it is unpacked
/// (`LayerStarted`, `Bytes`, `LayerDone`) and of each image once it is in
/// the store (`Committed`), as a pull does.
pub fn load_with(
    store: &Store,
    path: &Path,
    default_name: Option<&str>,
    progress: Option<&crate::progress::ProgressFn>,
) -> Result<Vec<LoadedImage>, ImportError> {
    let origin = path.display().to_string();
    let io_err = |source| ImportError::Io { origin: origin.clone(), source };
    let meta = std::fs::metadata(path).map_err(io_err)?;
    let source: Box<dyn Source> = if meta.is_dir() {
        Box::new(DirSource(path.to_path_buf()))
    } else {
        Box::new(TarSource::index(path, &origin)?)
    };
    let stem = path
        .file_name()
        .map(|n| n.to_string_lossy().trim_end_matches(".tar").to_lowercase())
        .unwrap_or_else(|| "image".into());
    let default_name = default_name.map(str::to_string).unwrap_or_else(|| format!("localhost/{stem}"));
    let loader = Loader { origin: origin.clone(), source: source.as_ref() };
    let (format, plans) = if source.exists("oci-layout") && source.exists("index.json") {
        ("OCI layout (index.json)", loader.plan_oci(&default_name)?)
    } else if source.exists("manifest.json") {
        ("docker-archive (manifest.json)", loader.plan_docker()?)
    } else {
        return Err(ImportError::UnknownFormat { origin });
    };
    crate::step!(
        super::ARCHIVE_READ,
        path = %path.display(),
        format,
        images = plans.len(),
        layers = plans.iter().map(|p| p.layers.len()).sum::<usize>()
    );
    let mut loaded = Vec::new();
    for plan in plans {
        let image = Importer { store, progress, origin: origin.clone(), source: source.as_ref() }.import(plan)?;
        if let Some(p) = progress {
            let id = image.record.config.to_string();
            let name = image.names.first().cloned().unwrap_or_else(|| id.clone());
            p.emit(&crate::progress::PullEvent::Committed { image: name, id });
        }
        loaded.push(image);
    }
    Ok(loaded)
}

struct Loader<'a> {
    origin: String,
    source: &'a dyn Source,
}

impl Loader<'_> {
    fn read_json_member(&self, name: &str, what: &str) -> Result<Vec<u8>, ImportError> {
        let mut r = self.source.open(name).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => ImportError::Missing { origin: self.origin.clone(), what: what.to_string() },
            _ => ImportError::Io { origin: self.origin.clone(), source: e },
        })?;
        let mut buf = Vec::new();
        (&mut r)
            .take(MAX_JSON_SIZE + 1)
            .read_to_end(&mut buf)
            .map_err(|source| ImportError::Io { origin: self.origin.clone(), source })?;
        if buf.len() as u64 > MAX_JSON_SIZE {
            return Err(ImportError::TooLarge { origin: self.origin.clone(), what: what.to_string() });
        }
        Ok(buf)
    }

    fn parse<T: serde::de::DeserializeOwned>(&self, bytes: &[u8], what: &str) -> Result<T, ImportError> {
        serde_json::from_slice(bytes).map_err(|e| ImportError::Invalid {
            origin: self.origin.clone(),
            what: what.to_string(),
            reason: e.to_string(),
        })
    }

    fn invalid(&self, what: &str, reason: impl Into<String>) -> ImportError {
        ImportError::Invalid { origin: self.origin.clone(), what: what.to_string(), reason: reason.into() }
    }

    /// Reads a blob of the layout and checks it against its descriptor: its
    /// size (never reading past it) and its digest.
    fn read_verified_blob(&self, d: &Descriptor, what: &str) -> Result<Vec<u8>, ImportError> {
        if d.size() > MAX_JSON_SIZE {
            return Err(
                self.invalid(what, format!("its descriptor says {} bytes, more than {MAX_JSON_SIZE}", d.size()))
            );
        }
        let expected = d.sha256().map_err(|reason| self.invalid(what, reason))?;
        let name = format!("blobs/sha256/{}", expected.hex());
        let mut r = self.source.open(&name).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => ImportError::Missing { origin: self.origin.clone(), what: what.to_string() },
            _ => ImportError::Io { origin: self.origin.clone(), source: e },
        })?;
        let mut bytes = Vec::new();
        (&mut r)
            .take(d.size() + 1)
            .read_to_end(&mut bytes)
            .map_err(|source| ImportError::Io { origin: self.origin.clone(), source })?;
        super::check_size(d, bytes.len() as u64).map_err(|reason| self.invalid(what, reason))?;
        let actual = Digest::of(&bytes);
        if actual != expected {
            return Err(ImportError::Digest { origin: self.origin.clone(), what: what.to_string(), expected, actual });
        }
        Ok(bytes)
    }

    fn plan_oci(&self, default_name: &str) -> Result<Vec<Plan>, ImportError> {
        let index: OciIndex = super::parse_index(&self.read_json_member("index.json", "index.json")?)
            .map_err(|reason| self.invalid("index.json", reason))?;
        let mut plans = Vec::new();
        for desc in index.manifests() {
            let names = oci_names(desc, default_name).map_err(|reason| self.invalid("index.json", reason))?;
            let manifest_desc = self.choose_manifest(desc)?;
            let what = format!("manifest {}", manifest_desc.digest());
            let bytes = self.read_verified_blob(&manifest_desc, &what)?;
            let manifest_digest = Digest::of(&bytes);
            let manifest: ImageManifest =
                super::parse_manifest(&bytes).map_err(|reason| self.invalid(&what, reason))?;
            let what_cfg = format!("config {}", manifest.config().digest());
            let config_bytes = self.read_verified_blob(manifest.config(), &what_cfg)?;
            let config: ImageConfig = self.parse(&config_bytes, &what_cfg)?;
            if config.rootfs.diff_ids.len() != manifest.layers().len() {
                return Err(self.invalid(
                    &what,
                    format!(
                        "{} layers but the config lists {} diff-ids",
                        manifest.layers().len(),
                        config.rootfs.diff_ids.len()
                    ),
                ));
            }
            let layers = manifest
                .layers()
                .iter()
                .zip(&config.rootfs.diff_ids)
                .map(|(l, diff_id)| {
                    let blob = l.sha256().map_err(|reason| self.invalid(&what, reason))?;
                    Ok(PlannedLayer {
                        member: format!("blobs/sha256/{}", blob.hex()),
                        size: Some(l.size()),
                        blob: Some(blob),
                        media_type: Some(l.media().to_string()),
                        diff_id: diff_id.clone(),
                    })
                })
                .collect::<Result<_, ImportError>>()?;
            plans.push(Plan {
                names,
                repo_digests: Vec::new(),
                manifest: Some((manifest_digest, bytes)),
                config_bytes,
                config,
                layers,
            });
        }
        Ok(plans)
    }

    /// Follows nested indexes down to the manifest for this machine's platform.
    fn choose_manifest(&self, desc: &Descriptor) -> Result<Descriptor, ImportError> {
        let mut desc = desc.clone();
        for _ in 0..4 {
            if !super::is_index_type(desc.media()) {
                if !desc.media().is_empty() && !super::is_manifest_type(desc.media()) {
                    return Err(self.invalid(
                        &format!("descriptor of {}", desc.digest()),
                        format!("media type {:?} is neither an image manifest nor an index", desc.media()),
                    ));
                }
                return Ok(desc);
            }
            let what = format!("index {}", desc.digest());
            let index: OciIndex = super::parse_index(&self.read_verified_blob(&desc, &what)?)
                .map_err(|reason| self.invalid(&what, reason))?;
            let host = Platform::host();
            let chosen = index.manifests().iter().find(|m| m.platform().as_ref().is_some_and(|p| host.matches(p)));
            desc = match chosen {
                Some(m) => m.clone(),
                None => {
                    let available = index
                        .manifests()
                        .iter()
                        .filter_map(|m| m.platform().as_ref().map(|p| p.describe()))
                        .collect::<Vec<_>>()
                        .join(", ");
                    let wanted = host.describe();
                    return Err(ImportError::NoPlatform { origin: self.origin.clone(), wanted, available });
                }
            };
        }
        Err(self.invalid("index.json", "indexes nested too deeply"))
    }

    fn plan_docker(&self) -> Result<Vec<Plan>, ImportError> {
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
                    size: None,
                    blob: None,
                    media_type: None,
                    diff_id: diff_id.clone(),
                })
                .collect();
            plans.push(Plan { names, repo_digests: Vec::new(), manifest: None, config_bytes, config, layers });
        }
        Ok(plans)
    }
}

/// The names an index.json entry gives its image; an invalid
/// `org.opencontainers.image.ref.name` is refused (the reason says which).
fn oci_names(desc: &Descriptor, default_name: &str) -> Result<Vec<String>, String> {
    if let Some(full) = desc.annotation("io.containerd.image.name") {
        if let Ok(r) = ImageRef::parse(full) {
            return Ok(vec![r.to_string()]);
        }
    }
    let Some(name) = desc.annotation("org.opencontainers.image.ref.name") else { return Ok(Vec::new()) };
    let bad = |why: String| {
        format!("org.opencontainers.image.ref.name {:?} is not a valid name: {why}", crate::text::printable(name, 80))
    };
    if !super::valid_ref_name(name) {
        return Err(bad("expected letters and digits joined by - . _ : @ + or --, in /-separated parts".into()));
    }
    let full =
        if name.contains('/') || name.contains(':') { name.to_string() } else { format!("{default_name}:{name}") };
    ImageRef::parse(&full).map(|r| vec![r.to_string()]).map_err(|e| bad(e.to_string()))
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
        let mut d = super::super::descriptor(super::super::MEDIA_OCI_MANIFEST, &Digest::of(b""), 0);
        let annotate = |d: &mut Descriptor, key: &str, value: &str| {
            let mut a = d.annotations().clone().unwrap_or_default();
            a.insert(key.into(), value.into());
            d.set_annotations(Some(a));
        };
        annotate(&mut d, "org.opencontainers.image.ref.name", "latest");
        assert_eq!(oci_names(&d, "localhost/busybox-oci").unwrap(), vec!["localhost/busybox-oci:latest"]);
        annotate(&mut d, "org.opencontainers.image.ref.name", "docker.io/library/busybox:1.36");
        assert_eq!(oci_names(&d, "x").unwrap(), vec!["docker.io/library/busybox:1.36"]);
        for bad in ["no spaces", "UPPER/Case:x", "x;y"] {
            annotate(&mut d, "org.opencontainers.image.ref.name", bad);
            let e = oci_names(&d, "x").unwrap_err();
            assert!(e.contains("is not a valid name"), "{bad}: {e}");
        }
        annotate(&mut d, "io.containerd.image.name", "quay.io/a/b:c");
        assert_eq!(oci_names(&d, "x").unwrap(), vec!["quay.io/a/b:c"]);
    }
}
