//! The on-disk, content-addressed store and its lock.
//!
//! ```text
//! blobs/sha256/<hex>        manifests, configs and layer blobs exactly as received
//! layers/<diff-id hex>/     one unpacked layer: diff/ (overlay form) + meta.json
//! images/index.json         images by manifest digest, and name:tag → manifest digest
//! containers/<id>/          container.json, config.json (the Spec), upper/, work/, rootfs/
//! volumes/<name>/           _data/ and volume.json: named and anonymous volumes (see `volume`)
//! tmp/                      staging: every write lands here first and is renamed into place
//! lock                      flock(2): shared to read, exclusive to change the indexes
//! ```
//! A crash at any point leaves either the old state or the new one, plus garbage
//! under `tmp/` that the next process removes once its owner is gone.

use crate::digest::Digest;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// Why the store cannot be read or written: each names the path.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A file operation in the store failed.
    #[error("store {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The image index (or another JSON file of the store) does not parse.
    #[error("store index {path} is corrupt: {source}")]
    Corrupt {
        /// The file or directory.
        path: PathBuf,
        /// The parse error.
        source: serde_json::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> StoreError + '_ {
    move |source| StoreError::Io { path: path.to_path_buf(), source }
}

/// Handle on a store directory.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

/// A held flock on the store; released on drop.
pub struct StoreLock {
    _lock: nix::fcntl::Flock<File>,
}

static STAGING_SEQ: AtomicU32 = AtomicU32::new(0);

/// A directory under `tmp/` that is removed on drop unless it was committed.
pub struct Staging {
    path: PathBuf,
    committed: bool,
}

impl Staging {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            let _ = remove_tree(&self.path);
        }
    }
}

impl Store {
    /// Opens (creating if needed) the store at `root`, and clears staging
    /// directories left by processes that no longer exist.
    pub fn open(root: impl Into<PathBuf>) -> Result<Store, StoreError> {
        let root: PathBuf = root.into();
        for sub in ["blobs/sha256", "layers", "images", "containers", "tmp", "partial"] {
            let p = root.join(sub);
            fs::create_dir_all(&p).map_err(io_err(&p))?;
        }
        private_dir(&root)?;
        let store = Store { root };
        store.clear_orphaned_staging();
        Ok(store)
    }

    /// The store's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// True when `root` holds an rrun store (its lock file and blob directory).
    pub fn exists_at(root: &Path) -> bool {
        root.join("lock").is_file() && root.join("blobs").is_dir()
    }

    /// The store at `root` if one is there, without creating or cleaning anything:
    /// for read-only probes that must leave a directory as they found it.
    pub fn existing(root: &Path) -> Option<Store> {
        Store::exists_at(root).then(|| Store { root: root.to_path_buf() })
    }

    fn lock(&self, arg: nix::fcntl::FlockArg) -> Result<StoreLock, StoreError> {
        let path = self.root.join("lock");
        let file = open_lock_file(&path)?;
        let lock = nix::fcntl::Flock::lock(file, arg)
            .map_err(|(_, e)| StoreError::Io { path: path.clone(), source: e.into() })?;
        Ok(StoreLock { _lock: lock })
    }

    /// Lock for reading indexes; many readers at once.
    pub fn lock_shared(&self) -> Result<StoreLock, StoreError> {
        self.lock(nix::fcntl::FlockArg::LockShared)
    }

    /// Lock for changing indexes; held briefly, never across a container's life.
    pub fn lock_exclusive(&self) -> Result<StoreLock, StoreError> {
        self.lock(nix::fcntl::FlockArg::LockExclusive)
    }

    /// Claims `partial/<hex>`, where a blob being downloaded is kept so an
    /// interrupted pull can resume. `None` when another process holds it.
    pub fn lock_partial(&self, digest: &Digest) -> Result<Option<(PathBuf, StoreLock)>, StoreError> {
        let dir = self.root.join("partial");
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        match self.try_lock_partial(digest.hex())? {
            Some(lock) => Ok(Some((dir.join(digest.hex()), lock))),
            None => Ok(None),
        }
    }

    /// The lock of `partial/<hex>`, if nobody holds it. The sweep removes an
    /// idle lock file while holding it: a lock taken on a file that was
    /// removed meanwhile is dropped and taken again on the new one.
    fn try_lock_partial(&self, hex: &str) -> Result<Option<StoreLock>, StoreError> {
        use std::os::unix::fs::MetadataExt;
        let lock_path = self.root.join("partial").join(format!("{hex}.lock"));
        loop {
            let file = open_lock_file(&lock_path)?;
            let lock = match nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock) {
                Ok(lock) => lock,
                Err((_, nix::errno::Errno::EWOULDBLOCK)) => return Ok(None),
                Err((_, e)) => return Err(StoreError::Io { path: lock_path, source: e.into() }),
            };
            let held = lock.metadata().map(|m| m.ino()).ok();
            if fs::metadata(&lock_path).map(|m| m.ino()).ok() == held {
                return Ok(Some(StoreLock { _lock: lock }));
            }
        }
    }

    /// True when nobody downloads into `partial/<hex>` now (a download
    /// holds its lock file; without one, there is none).
    pub(crate) fn partial_idle(&self, hex: &str) -> bool {
        !self.root.join("partial").join(format!("{hex}.lock")).exists()
            || matches!(self.try_lock_partial(hex), Ok(Some(_)))
    }

    /// Removes `partial/<hex>` and its lock file while holding that lock;
    /// false (nothing removed) when a download holds it.
    pub(crate) fn remove_partial(&self, hex: &str) -> Result<bool, StoreError> {
        let dir = self.root.join("partial");
        let Some(lock) = self.try_lock_partial(hex)? else { return Ok(false) };
        for path in [dir.join(hex), dir.join(format!("{hex}.lock"))] {
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(StoreError::Io { path, source: e }),
            }
        }
        drop(lock);
        Ok(true)
    }

    /// True when the process that made the staging entry `path` (under
    /// `tmp/`, named `PID.START.N-label`) still runs.
    pub(crate) fn staging_owner_alive(&self, path: &Path) -> bool {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let mut parts = name.splitn(3, '.');
        match (parts.next().map(str::parse::<i32>), parts.next().map(str::parse::<u64>)) {
            (Some(Ok(pid)), Some(Ok(start))) => crate::procfs::process_alive(pid, start),
            // not named by an owner: nobody's
            _ => false,
        }
    }

    /// `blobs/sha256/<hex>`: where the blob with this digest is.
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root.join("blobs/sha256").join(digest.hex())
    }

    /// True when the store has the blob.
    pub fn has_blob(&self, digest: &Digest) -> bool {
        self.blob_path(digest).is_file()
    }

    /// `layers/`: the unpacked layers.
    pub fn layers_dir(&self) -> PathBuf {
        self.root.join("layers")
    }

    /// `layers/<hex>`: the unpacked layer with this diff-id.
    pub fn layer_dir(&self, diff_id: &Digest) -> PathBuf {
        self.layers_dir().join(diff_id.hex())
    }

    /// A layer counts as present once its directory was renamed into place
    /// (its `meta.json` is written before the rename).
    pub fn has_layer(&self, diff_id: &Digest) -> bool {
        self.layer_dir(diff_id).join("meta.json").is_file()
    }

    /// `containers/`: one directory per container.
    pub fn containers_dir(&self) -> PathBuf {
        self.root.join("containers")
    }

    /// `containers/<id>/`.
    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.containers_dir().join(id)
    }

    /// A fresh staging directory, named after this process so that others can
    /// tell when it is orphaned.
    pub fn staging(&self, label: &str) -> Result<Staging, StoreError> {
        let pid = std::process::id();
        let seq = STAGING_SEQ.fetch_add(1, Ordering::Relaxed);
        let start = crate::procfs::process_start_time(pid as i32).unwrap_or(0);
        let path = self.root.join("tmp").join(format!("{pid}.{start}.{seq}-{label}"));
        fs::create_dir(&path).map_err(io_err(&path))?;
        Ok(Staging { path, committed: false })
    }

    /// Renames a staged directory (or file inside one) into place. Returns false,
    /// discarding the staged copy, when `dest` already exists (another process won).
    pub fn commit(&self, mut staging: Staging, inner: Option<&str>, dest: &Path) -> Result<bool, StoreError> {
        let src = match inner {
            Some(name) => staging.path.join(name),
            None => staging.path.clone(),
        };
        match fs::rename(&src, dest) {
            Ok(()) => {
                if inner.is_none() {
                    staging.committed = true;
                }
                Ok(true)
            }
            Err(e) if matches!(e.raw_os_error(), Some(libc::EEXIST) | Some(libc::ENOTEMPTY)) => Ok(false),
            Err(e) => Err(StoreError::Io { path: dest.to_path_buf(), source: e }),
        }
    }

    /// Writes `bytes` to `path` atomically (staged beside it, fsynced, renamed).
    pub fn write_atomic(&self, path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
        write_file_atomic(path, bytes, true).map_err(io_err(path))
    }

    /// Stores a small blob (manifest, config) after checking its digest.
    pub fn put_blob(&self, digest: &Digest, bytes: &[u8]) -> Result<(), StoreError> {
        let path = self.blob_path(digest);
        if path.is_file() {
            return Ok(());
        }
        debug_assert_eq!(&Digest::of(bytes), digest);
        self.write_atomic(&path, bytes)
    }

    /// Reads a whole blob (its digest is not checked here).
    pub fn read_blob(&self, digest: &Digest) -> Result<Vec<u8>, StoreError> {
        let path = self.blob_path(digest);
        fs::read(&path).map_err(io_err(&path))
    }

    /// Removes a directory tree by first renaming it under `tmp/`, so that it
    /// disappears from its place atomically even if the removal is interrupted.
    pub fn remove_dir(&self, path: &Path) -> Result<(), StoreError> {
        let staging = self.staging("remove")?;
        let grave = staging.path.join("x");
        match fs::rename(path, &grave) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StoreError::Io { path: path.to_path_buf(), source: e }),
        }
        // `staging` drops here and removes the tree.
    }

    fn clear_orphaned_staging(&self) {
        let Ok(entries) = fs::read_dir(self.root.join("tmp")) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let mut parts = name.to_str().unwrap_or_default().splitn(3, '.');
            let named = parts.next().is_some_and(|p| p.parse::<i32>().is_ok())
                && parts.next().is_some_and(|s| s.parse::<u64>().is_ok());
            // entries named otherwise are the sweep's (`gc`), which may judge them
            if named && !self.staging_owner_alive(&entry.path()) {
                tracing::debug!(path = %entry.path().display(), "removing orphaned staging directory");
                let _ = remove_tree(&entry.path());
            }
        }
    }
}

/// The store's root is the owner's alone (0700): unpacked layers and container
/// roots hold the images' setuid binaries and device nodes, which no other host
/// user may reach through it (the CVE-2021-41103 class). A root found more open
/// (made by an older rrun, or by hand) is closed again.
fn private_dir(root: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let meta = fs::metadata(root).map_err(io_err(root))?;
    if meta.mode() & 0o077 != 0 && meta.uid() == nix::unistd::Uid::effective().as_raw() {
        fs::set_permissions(root, fs::Permissions::from_mode(meta.mode() & 0o7700)).map_err(io_err(root))?;
    }
    Ok(())
}

fn open_lock_file(path: &Path) -> Result<File, StoreError> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
        .map_err(io_err(path))
}

/// Bytes held by the files under `dir` (apparent sizes, each hard-linked inode
/// once), symlinks not followed, unreadable entries skipped: what
/// `du --apparent-size -s` says, for `ps --size` and `system df`.
pub fn tree_size(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut seen = std::collections::HashSet::new();
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let Ok(m) = e.path().symlink_metadata() else { continue };
            if m.is_dir() {
                stack.push(e.path());
            } else if m.nlink() < 2 || seen.insert((m.dev(), m.ino())) {
                total += m.len();
            }
        }
    }
    total
}

/// Removes a file or a directory tree, whatever it is; missing is fine.
pub(crate) fn remove_tree(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path).or_else(|e| {
            // A read-only directory inside (chmod 0555 in a layer) blocks removal: open it up and retry.
            make_writable(path);
            fs::remove_dir_all(path).map_err(|_| e)
        }),
        Ok(_) => fs::remove_file(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

fn make_writable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(m) = fs::symlink_metadata(path) {
        if m.is_dir() {
            let _ = fs::set_permissions(path, fs::Permissions::from_mode(0o700));
            if let Ok(rd) = fs::read_dir(path) {
                for e in rd.flatten() {
                    make_writable(&e.path());
                }
            }
        }
    }
}

/// Writes a file via a temporary sibling and rename(2), so readers see the old or the new content.
pub(crate) fn write_file_atomic(path: &Path, bytes: &[u8], durable: bool) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp{}.{}",
        path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default(),
        std::process::id(),
        STAGING_SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut f = OpenOptions::new().write(true).create_new(true).mode(0o644).open(&tmp)?;
        f.write_all(bytes)?;
        if durable {
            f.sync_data()?;
        }
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_size_counts_hardlinks_once() {
        let dir_tmp = tempfile::tempdir().unwrap();
        let dir = dir_tmp.path().to_path_buf();
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("a"), [0u8; 10]).unwrap();
        std::fs::hard_link(dir.join("a"), dir.join("sub/b")).unwrap();
        std::fs::write(dir.join("sub/c"), [0u8; 5]).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", dir.join("link")).unwrap();
        let link_len = std::fs::symlink_metadata(dir.join("link")).unwrap().len();
        assert_eq!(tree_size(&dir), 15 + link_len);
    }

    /// A new directory under the temp dir (tempfile: unique, removed on drop, failed tests too).
    fn tempdir(name: &str) -> tempfile::TempDir {
        tempfile::Builder::new().prefix(&format!("rrun-store-test-{name}-")).tempdir().unwrap()
    }

    #[test]
    fn staging_is_removed_unless_committed() {
        let root_guard = tempdir("staging");
        let root = root_guard.path().to_path_buf();
        let store = Store::open(&root).unwrap();
        let s = store.staging("a").unwrap();
        let p = s.path().to_path_buf();
        fs::write(p.join("f"), b"x").unwrap();
        drop(s);
        assert!(!p.exists());

        let s = store.staging("b").unwrap();
        fs::write(s.path().join("f"), b"x").unwrap();
        let dest = root.join("layers/committed");
        assert!(store.commit(s, None, &dest).unwrap());
        assert_eq!(fs::read(dest.join("f")).unwrap(), b"x");

        // a second commit to the same place loses, and its copy is discarded
        let s = store.staging("c").unwrap();
        fs::write(s.path().join("g"), b"y").unwrap();
        let p = s.path().to_path_buf();
        fs::create_dir(dest.join("sub")).unwrap();
        assert!(!store.commit(s, None, &dest).unwrap());
        assert!(!p.exists());
    }

    #[test]
    fn orphaned_staging_from_dead_processes_is_cleared() {
        let root_guard = tempdir("orphans");
        let root = root_guard.path().to_path_buf();
        Store::open(&root).unwrap();
        // pid 0 / start 1 never names a live process
        let orphan = root.join("tmp/999999999.1.0-unpack");
        fs::create_dir_all(orphan.join("diff")).unwrap();
        let mine = Store::open(&root).unwrap().staging("live").unwrap();
        Store::open(&root).unwrap();
        assert!(!orphan.exists());
        assert!(mine.path().exists(), "a live process's staging dir is kept");
        drop(mine);
    }

    #[test]
    fn atomic_write_replaces_content() {
        let root_guard = tempdir("atomic");
        let root = root_guard.path().to_path_buf();
        fs::create_dir_all(&root).unwrap();
        let f = root.join("index.json");
        write_file_atomic(&f, b"one", true).unwrap();
        write_file_atomic(&f, b"two", false).unwrap();
        assert_eq!(fs::read(&f).unwrap(), b"two");
        assert_eq!(fs::read_dir(&root).unwrap().count(), 1, "no temporary file left behind");
    }
}
