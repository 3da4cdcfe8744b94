//! Store garbage collection: a mark and sweep over the store's directories.
//!
//! **Mark.** Kept is every blob an image of the index names (manifest,
//! config, layer blobs), every unpacked layer an image or a container record
//! lists (a container keeps its layers after `rmi -f` of its image), every
//! staging directory whose process lives, and every partial download that is
//! being written or is less than a day old (a pull resumes from it).
//!
//! **Sweep.** Everything else under `layers/`, `blobs/sha256/`, `partial/`
//! and `tmp/`, the temporary files of atomic writes whose writer is dead
//! (`images/.index.json.tmp<PID>.<N>`, `containers/<id>/.container.json.tmp…`),
//! and container directories without a record.
//!
//! **Crash safety.** The sweep runs under the store's exclusive lock, which
//! every writer of the index takes, so nothing it sees as unreferenced can
//! become referenced meanwhile (an import re-checks, under the lock, that the
//! layers it found already present are still there). Each removal is one
//! `unlink`, or a `rename` of a directory under `tmp/` followed by its
//! deletion; `tmp/` entries of dead processes are removed by the next
//! command. A `kill -9` at any point therefore leaves a consistent store with
//! some garbage left, which the next sweep (every `rmi`, `image prune`,
//! `system prune`) removes.

use crate::digest::Digest;
use crate::image::{self, ImageIndex};
use crate::store::{tree_size, Store};
use crate::{ContainerRecord, Error, Rrun};
use serde::Serialize;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long an abandoned partial download is kept for a later pull to resume.
pub const PARTIAL_MAX_AGE: Duration = Duration::from_secs(24 * 3600);

/// What no image and no container references: what a sweep removes.
#[derive(Debug, Clone, Default)]
pub struct Garbage {
    /// Unpacked layers, with their (tar) size.
    pub layers: Vec<(PathBuf, u64)>,
    /// Blob files, with their size.
    pub blobs: Vec<(PathBuf, u64)>,
    /// Leftovers of killed processes: temporary files, staging directories,
    /// container directories without a record, abandoned partial downloads.
    pub stray: Vec<(PathBuf, u64)>,
}

/// `system df`'s account of the garbage: counts and the bytes a prune frees.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GarbageUsage {
    /// How many unpacked layers nothing references.
    pub layers: usize,
    /// How many blob files nothing references.
    pub blobs: usize,
    /// Temporary files, staging directories, record-less container directories, old partial downloads.
    pub stray: usize,
    /// Bytes a prune frees.
    pub size: u64,
}

impl Garbage {
    pub fn usage(&self) -> GarbageUsage {
        let all = || self.layers.iter().chain(&self.blobs).chain(&self.stray);
        GarbageUsage {
            layers: self.layers.len(),
            blobs: self.blobs.len(),
            stray: self.stray.len(),
            size: all().map(|(_, s)| s).sum(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.layers.is_empty() && self.blobs.is_empty() && self.stray.is_empty()
    }
}

/// Every blob and layer in use.
struct Marks {
    blobs: HashSet<Digest>,
    layers: HashSet<Digest>,
}

fn mark(index: &ImageIndex, containers: &[ContainerRecord]) -> Marks {
    let mut m = Marks { blobs: HashSet::new(), layers: HashSet::new() };
    for i in index.images.values() {
        m.blobs.insert(i.manifest.clone());
        m.blobs.insert(i.config.clone());
        for l in &i.layers {
            m.blobs.insert(l.blob.clone());
            m.layers.insert(l.diff_id.clone());
        }
    }
    for c in containers {
        m.layers.extend(c.layers.iter().cloned());
    }
    m
}

fn is_hex64(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The writer of a temporary file `.NAME.tmp<PID>.<N>` (see `store::write_file_atomic`).
fn temp_writer(name: &str) -> Option<i32> {
    let rest = name.strip_prefix('.')?;
    let (_, tail) = rest.rsplit_once(".tmp")?;
    tail.split('.').next()?.parse().ok()
}

/// A temporary file of a process that no longer runs.
fn dead_temp(name: &str) -> bool {
    temp_writer(name).is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists())
}

fn file_size(path: &Path) -> u64 {
    std::fs::symlink_metadata(path).map(|m| m.len()).unwrap_or(0)
}

fn entries(dir: &Path) -> Vec<(String, PathBuf)> {
    std::fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| (e.file_name().to_string_lossy().into_owned(), e.path())).collect())
        .unwrap_or_default()
}

/// The garbage in `store`, given what references things (no lock is taken:
/// the caller holds one, exclusive when it goes on to sweep).
fn find(store: &Store, index: &ImageIndex, containers: &[ContainerRecord]) -> Garbage {
    let marks = mark(index, containers);
    let mut g = Garbage::default();
    for (name, path) in entries(&store.layers_dir()) {
        match Digest::from_hex(&name) {
            Ok(d) if marks.layers.contains(&d) => {}
            Ok(d) => g.layers.push((path, image::layer_size(store, &d))),
            Err(_) => g.layers.push((path, 0)),
        }
    }
    for (name, path) in entries(&store.root().join("blobs/sha256")) {
        if is_hex64(&name) {
            if !Digest::from_hex(&name).is_ok_and(|d| marks.blobs.contains(&d)) {
                let size = file_size(&path);
                g.blobs.push((path, size));
            }
        } else if temp_writer(&name).is_some() {
            // blobs and the index are written under the exclusive lock, which the caller holds (or
            // a shared one): whoever wrote this temporary file is gone, whatever its PID is now
            let size = file_size(&path);
            g.stray.push((path, size));
        }
    }
    for (name, path) in entries(&store.root().join("images")) {
        if name != "index.json" && temp_writer(&name).is_some() {
            let size = file_size(&path);
            g.stray.push((path, size));
        }
    }
    for (_, path) in entries(&store.containers_dir()) {
        if crate::container::read_record(&path).is_none() {
            let size = tree_size(&path);
            g.stray.push((path, size));
            continue;
        }
        for (name, p) in entries(&path) {
            if dead_temp(&name) {
                let size = file_size(&p);
                g.stray.push((p, size));
            }
        }
    }
    for (_, path) in entries(&store.root().join("tmp")) {
        if !store.staging_owner_alive(&path) {
            let size = tree_size(&path);
            g.stray.push((path, size));
        }
    }
    let partial = store.root().join("partial");
    for (name, path) in entries(&partial) {
        if let Some(hex) = name.strip_suffix(".lock") {
            // the lock of a download that is no longer there, which nobody holds
            if is_hex64(hex) && !partial.join(hex).exists() && store.partial_idle(hex) {
                g.stray.push((path, 0));
            }
        } else if is_hex64(&name) {
            let old = std::fs::metadata(&path)
                .and_then(|m| m.modified())
                .is_ok_and(|t| t.elapsed().is_ok_and(|age| age > PARTIAL_MAX_AGE));
            if old && store.partial_idle(&name) {
                let size = file_size(&path);
                g.stray.push((path, size));
            }
        }
    }
    g
}

/// Removes what `find` found; returns the bytes freed. The caller holds the exclusive lock.
fn sweep(store: &Store, garbage: &Garbage) -> Result<u64, Error> {
    let mut freed = 0;
    for (path, size) in &garbage.layers {
        // renamed under tmp/ first: a layer is there whole, or not at all
        store.remove_dir(path)?;
        tracing::debug!(layer = %path.display(), "removed an unreferenced layer");
        freed += size;
    }
    let partial = store.root().join("partial");
    for (path, size) in garbage.blobs.iter().chain(&garbage.stray) {
        if path.parent() == Some(partial.as_path()) {
            // a download and its lock go together, under that lock: a pull never loses one it resumes
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            if !store.remove_partial(name.trim_end_matches(".lock"))? {
                continue;
            }
        } else if std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
            store.remove_dir(path)?;
        } else {
            match std::fs::remove_file(path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(crate::io_error(path)(e)),
            }
        }
        tracing::debug!(path = %path.display(), "removed unreferenced store data");
        freed += size;
    }
    Ok(freed)
}

impl Rrun {
    /// Mark and sweep of the whole store (see the module's documentation);
    /// returns the bytes freed. The caller holds the exclusive lock.
    pub(crate) fn collect_garbage(&self) -> Result<u64, Error> {
        let index = self.store().read_index()?;
        let containers = self.containers_unlocked()?;
        let garbage = find(self.store(), &index, &containers);
        if garbage.is_empty() {
            return Ok(0);
        }
        tracing::info!(
            layers = garbage.layers.len(),
            blobs = garbage.blobs.len(),
            stray = garbage.stray.len(),
            "sweeping the store"
        );
        sweep(self.store(), &garbage)
    }

    /// What a sweep would remove now (`system df`).
    pub(crate) fn garbage(&self) -> Result<Garbage, Error> {
        let _lock = self.store().lock_shared()?;
        let index = self.store().read_index()?;
        let containers = self.containers_unlocked()?;
        Ok(find(self.store(), &index, &containers))
    }

    /// Sweeps the store under its exclusive lock (`image prune` and `system
    /// prune` do it after removing images; so does every `rmi`).
    pub fn sweep_store(&self) -> Result<u64, Error> {
        let _lock = self.store().lock_exclusive()?;
        self.collect_garbage()
    }

    /// After a container is gone: when its image was removed while it
    /// existed (`rmi -f`), the layers only it kept are swept.
    pub(crate) fn collect_orphaned_layers(&self, c: &ContainerRecord) {
        let image_gone = {
            let Ok(_lock) = self.store().lock_shared() else { return };
            self.store().read_index().is_ok_and(|i| !i.images.contains_key(&c.image_manifest))
        };
        if image_gone {
            if let Err(e) = self.sweep_store() {
                tracing::warn!(error = %e, "sweeping the layers of a removed image");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_files_name_their_writer() {
        assert_eq!(temp_writer(".index.json.tmp1234.5"), Some(1234));
        assert_eq!(temp_writer(".container.json.tmp77.0"), Some(77));
        assert_eq!(temp_writer("index.json"), None);
        assert_eq!(temp_writer(".index.json.tmpX.1"), None);
        assert!(dead_temp(".index.json.tmp999999999.0"));
        assert!(!dead_temp(&format!(".index.json.tmp{}.0", std::process::id())));
    }

    /// A new directory under the temp dir (tempfile: unique, removed on drop, failed tests too).
    fn tempdir(name: &str) -> tempfile::TempDir {
        tempfile::Builder::new().prefix(&format!("rrun-gc-test-{name}-")).tempdir().unwrap()
    }

    #[test]
    fn sweep_keeps_what_is_referenced_and_removes_the_rest() {
        let root_guard = tempdir("sweep");
        let root = root_guard.path().to_path_buf();
        let store = Store::open(&root).unwrap();
        let d = |c: char| Digest::from_hex(&c.to_string().repeat(64)).unwrap();
        // an image: manifest a, config b, one layer (blob c, diff-id d)
        let mut index = ImageIndex::default();
        index.images.insert(
            d('a'),
            image::ImageRecord {
                manifest: d('a'),
                config: d('b'),
                layers: vec![image::LayerRecord { blob: d('c'), media_type: String::new(), size: 3, diff_id: d('d') }],
                created: None,
                size: 0,
                repo_digests: vec![],
            },
        );
        for c in ['a', 'b', 'c', 'e'] {
            std::fs::write(store.blob_path(&d(c)), b"xyz").unwrap();
        }
        for c in ['d', 'f', '1'] {
            std::fs::create_dir_all(store.layer_dir(&d(c)).join("diff")).unwrap();
            let meta = image::LayerMeta { diff_id: d(c), size: 10 };
            std::fs::write(store.layer_dir(&d(c)).join("meta.json"), serde_json::to_vec(&meta).unwrap()).unwrap();
        }
        // a killed index write, a staging directory of a dead process, a record-less container directory
        std::fs::write(root.join("images/.index.json.tmp999999999.3"), b"{").unwrap();
        std::fs::create_dir_all(root.join("tmp/999999999.1.0-layer/diff")).unwrap();
        std::fs::create_dir_all(root.join("containers/abc/upper")).unwrap();
        // a partial download in progress (its lock held) and a fresh one: both kept
        let (partial, lock) = store.lock_partial(&d('7')).unwrap().unwrap();
        std::fs::write(&partial, b"part").unwrap();
        std::fs::write(root.join("partial").join("8".repeat(64)), b"part").unwrap();
        // an idle lock of a finished download: swept
        std::fs::write(root.join("partial").join(format!("{}.lock", "9".repeat(64))), b"").unwrap();

        // a container keeps layer f although no image lists it
        let container: ContainerRecord = serde_json::from_value(serde_json::json!({
            "id": "x", "name": "x", "image": "gone", "image_manifest": d('5'), "image_id": d('6'),
            "layers": [d('f')], "command": [], "created": "", "auto_remove": false, "status": "exited"
        }))
        .unwrap();
        let g = find(&store, &index, &[container]);
        let names = |v: &[(PathBuf, u64)]| {
            let mut n: Vec<String> =
                v.iter().map(|(p, _)| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
            n.sort();
            n
        };
        assert_eq!(names(&g.layers), vec!["1".repeat(64)]);
        assert_eq!(names(&g.blobs), vec!["e".repeat(64)]);
        let mut stray = vec![
            ".index.json.tmp999999999.3".to_string(),
            "999999999.1.0-layer".into(),
            format!("{}.lock", "9".repeat(64)),
            "abc".into(),
        ];
        stray.sort();
        assert_eq!(names(&g.stray), stray);
        assert_eq!(g.usage().size, 10 + 3 + 1);
        assert_eq!(sweep(&store, &g).unwrap(), 14);
        assert!(find(&store, &index, &[]).layers.len() == 1, "without the container, its layer is garbage");
        assert!(store.has_layer(&d('d')) && store.has_blob(&d('c')));
        assert!(partial.exists() && root.join("partial").join("8".repeat(64)).exists());
        drop(lock);
    }
}
