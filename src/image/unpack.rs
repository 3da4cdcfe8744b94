//! Layer unpacking: one layer tar (gzip, zstd or plain) into a directory in
//! overlayfs form, verified against its blob digest and diff-id as it streams.
//!
//! Whiteouts become what overlayfs reads: `.wh.NAME` a `0:0` character device
//! `NAME`, `.wh..wh..opq` the xattr `trusted.overlay.opaque=y` on its directory.
//! Every entry is created through a descriptor of its parent directory that was
//! opened with no symlink and no `..` on the way, so an entry can never write
//! outside the layer directory; entries that try are refused with their path.

use crate::digest::{Digest, HashingReader, TeeReader};
use crate::securefs::open_beneath;
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{
    fchmod, fchmodat, futimens, mkdirat, mknodat, utimensat, FchmodatFlags, Mode, SFlag, UtimensatFlags,
};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchown, fchownat, linkat, symlinkat, unlinkat, Gid, Uid, UnlinkatFlags};
use std::ffi::{CString, OsStr};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// Why a layer could not be unpacked or verified.
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    /// An entry that could write outside the layer directory, or is malformed: an absolute
    /// or `..` path, a path through a symlink, a hardlink out of the layer, a link without a target.
    #[error("layer {layer}: refusing entry {path:?}: {reason}")]
    Rejected {
        /// The layer: its blob digest, or the archive path.
        layer: String,
        /// The entry's path as the tar has it.
        path: String,
        /// What is wrong with it (`path traverses a symlink`).
        reason: &'static str,
    },
    /// Creating an entry on disk failed (create, write, chown, symlink, set mtime…).
    #[error("layer {layer}: entry {path:?}: {op}: {source}")]
    Entry {
        /// The layer: its blob digest, or the archive path.
        layer: String,
        /// The entry's path, relative to the layer directory.
        path: String,
        /// The operation that failed (`create`, `write`, `set mtime`…).
        op: &'static str,
        /// The underlying error.
        source: io::Error,
    },
    /// Reading the blob failed, or it is not a valid (gzip, zstd or plain) tar.
    #[error("layer {layer}: reading the layer archive: {source}")]
    Read {
        /// The layer: its blob digest, or the archive path.
        layer: String,
        /// The underlying error.
        source: io::Error,
    },
    /// The blob's bytes do not hash to the digest the manifest gives.
    #[error("layer {layer}: blob digest mismatch: expected {expected}, content is {actual}")]
    BlobDigest {
        /// The layer: its blob digest, or the archive path.
        layer: String,
        /// The digest the manifest names.
        expected: Digest,
        /// The digest of the bytes read.
        actual: Digest,
    },
    /// The uncompressed tar does not hash to the diff-id the image config gives.
    #[error("layer {layer}: diff-id mismatch: image config says {expected}, content is {actual}")]
    DiffId {
        /// The layer: its blob digest, or the archive path.
        layer: String,
        /// The diff-id in the image config.
        expected: Digest,
        /// The digest of the uncompressed tar.
        actual: Digest,
    },
    /// The destination directory cannot be opened.
    #[error("layer {layer}: cannot open {path}: {source}")]
    Dest {
        /// The layer: its blob digest, or the archive path.
        layer: String,
        /// The destination directory.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
}

impl UnpackError {
    /// The layer the error is about.
    pub fn layer(&self) -> &str {
        match self {
            UnpackError::Rejected { layer, .. }
            | UnpackError::Entry { layer, .. }
            | UnpackError::Read { layer, .. }
            | UnpackError::BlobDigest { layer, .. }
            | UnpackError::DiffId { layer, .. }
            | UnpackError::Dest { layer, .. } => layer,
        }
    }
}

/// What the stream turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnpackedLayer {
    pub blob: Digest,
    pub blob_size: u64,
    pub diff_id: Digest,
    pub tar_size: u64,
    pub compression: Compression,
    /// Entries extracted, whiteouts turned into overlayfs's form, opaque directories.
    pub entries: u64,
    pub whiteouts: u64,
    pub opaque_dirs: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    /// Detects the compression from the first bytes of a blob.
    pub fn sniff(head: &[u8]) -> Compression {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }

    pub fn oci_media_type(self) -> &'static str {
        match self {
            Compression::None => "application/vnd.oci.image.layer.v1.tar",
            Compression::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
            Compression::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
        }
    }
}

/// The tar stream inside a stored layer blob, whatever its compression.
pub fn decompressed<R: Read + Send + 'static>(blob: R) -> io::Result<Box<dyn Read + Send>> {
    let mut buffered = BufReader::with_capacity(256 * 1024, blob);
    Ok(match Compression::sniff(buffered.fill_buf()?) {
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(buffered)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(buffered)?),
        Compression::None => Box::new(buffered),
    })
}

/// What to check and where to put things.
pub struct UnpackRequest<'a> {
    /// Name used in errors (the blob digest, or the archive path).
    pub label: &'a str,
    /// The digest the blob's bytes must have (the manifest's); `None`: not checked.
    pub expected_blob: Option<&'a Digest>,
    /// The digest the uncompressed tar must have (the config's diff-id); `None`: not checked.
    pub expected_diff_id: Option<&'a Digest>,
    /// Directory to unpack into (created empty by the caller); `None` only verifies.
    pub dest: Option<&'a Path>,
    /// Where to keep a copy of the blob bytes as they pass.
    pub blob_copy: Option<File>,
}

/// Streams `blob` once: digest of the blob, decompression, digest of the tar
/// (the diff-id), and extraction into `dest`. On any error the caller discards
/// `dest` and the blob copy.
pub fn unpack_layer(blob: impl Read, req: UnpackRequest<'_>) -> Result<UnpackedLayer, UnpackError> {
    let layer = req.label.to_string();
    let read_err = |source| UnpackError::Read { layer: layer.clone(), source };
    let blob_hasher = HashingReader::new(blob);
    let copy: Box<dyn Write> = match req.blob_copy {
        Some(f) => Box::new(io::BufWriter::with_capacity(256 * 1024, f)),
        None => Box::new(io::sink()),
    };
    let mut buffered = BufReader::with_capacity(256 * 1024, TeeReader::new(blob_hasher, copy));
    let compression = Compression::sniff(buffered.fill_buf().map_err(read_err)?);
    let mut counts = (0, 0, 0);
    let tar_result = (|| {
        let decoder: Box<dyn Read + '_> = match compression {
            Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(&mut buffered)),
            Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(&mut buffered).map_err(read_err)?),
            Compression::None => Box::new(&mut buffered),
        };
        let mut tar_hasher = HashingReader::new(decoder);
        if let Some(dest) = req.dest {
            let mut ex = Extractor::new(dest, &layer)?;
            ex.extract_all(&mut tar_hasher)?;
            counts = (ex.entries, ex.whiteouts, ex.opaque_dirs);
        }
        let (d, n, _) = tar_hasher.finish().map_err(read_err)?;
        Ok::<_, UnpackError>((d, n))
    })();
    let (tar_digest, tar_size) = match tar_result {
        Ok(v) => v,
        Err(e) => {
            // a corrupt blob usually shows up first as a broken stream: when the rest of the
            // blob can be read, report the digest mismatch, which is the real cause
            if let Some(expected) = req.expected_blob {
                if io::copy(&mut buffered, &mut io::sink()).is_ok() {
                    let (hasher, _) = buffered.into_inner().into_parts();
                    if let Ok((actual, _, _)) = hasher.finish() {
                        if actual != *expected {
                            return Err(UnpackError::BlobDigest { layer, expected: expected.clone(), actual });
                        }
                    }
                }
            }
            return Err(e);
        }
    };
    let (hasher, mut copy) = buffered.into_inner().into_parts();
    let (blob_digest, blob_size, _) = hasher.finish().map_err(read_err)?;
    copy.flush().map_err(read_err)?;
    drop(copy);
    if let Some(expected) = req.expected_blob {
        if *expected != blob_digest {
            return Err(UnpackError::BlobDigest { layer, expected: expected.clone(), actual: blob_digest });
        }
    }
    if let Some(expected) = req.expected_diff_id {
        if *expected != tar_digest {
            return Err(UnpackError::DiffId { layer, expected: expected.clone(), actual: tar_digest });
        }
    }
    let (entries, whiteouts, opaque_dirs) = counts;
    Ok(UnpackedLayer {
        blob: blob_digest,
        blob_size,
        diff_id: tar_digest,
        tar_size,
        compression,
        entries,
        whiteouts,
        opaque_dirs,
    })
}

/// Normalizes a tar entry path to its components. `Ok(None)` is the layer root itself.
pub fn clean_entry_path(raw: &[u8]) -> Result<Option<PathBuf>, &'static str> {
    if raw.first() == Some(&b'/') {
        return Err("absolute path");
    }
    let mut out = PathBuf::new();
    for comp in Path::new(OsStr::from_bytes(raw)).components() {
        match comp {
            Component::Normal(c) => out.push(c),
            Component::CurDir => {}
            Component::ParentDir => return Err("path contains '..'"),
            Component::RootDir | Component::Prefix(_) => return Err("absolute path"),
        }
    }
    Ok(if out.as_os_str().is_empty() { None } else { Some(out) })
}

const WHITEOUT_PREFIX: &str = ".wh.";
const OPAQUE_MARKER: &str = ".wh..wh..opq";

struct Extractor<'a> {
    layer: &'a str,
    root: OwnedFd,
    /// The parent directory of the last entry, reused while entries stay in it.
    parent_cache: Option<(PathBuf, OwnedFd)>,
    /// Directory mtimes, applied at the end (creating children changes them).
    dir_times: Vec<(PathBuf, i64)>,
    is_root: bool,
    buf: Vec<u8>,
    entries: u64,
    whiteouts: u64,
    opaque_dirs: u64,
}

struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: i64,
}

impl<'a> Extractor<'a> {
    fn new(dest: &Path, layer: &'a str) -> Result<Self, UnpackError> {
        let root = File::open(dest).map_err(|source| UnpackError::Dest {
            layer: layer.to_string(),
            path: dest.to_path_buf(),
            source,
        })?;
        Ok(Extractor {
            layer,
            root: root.into(),
            parent_cache: None,
            dir_times: Vec::new(),
            // single-id rootless: every file is the user's (chown to another id would fail)
            is_root: Uid::effective().is_root() && !crate::rootless::active().is_some_and(|r| r.single_id()),
            buf: vec![0; 128 * 1024],
            entries: 0,
            whiteouts: 0,
            opaque_dirs: 0,
        })
    }

    fn reject(&self, path: &[u8], reason: &'static str) -> UnpackError {
        UnpackError::Rejected {
            layer: self.layer.to_string(),
            path: String::from_utf8_lossy(path).into_owned(),
            reason,
        }
    }

    fn entry_err(&self, path: &Path, op: &'static str) -> impl FnOnce(Errno) -> UnpackError + '_ {
        let path = path.display().to_string();
        move |e| UnpackError::Entry { layer: self.layer.to_string(), path, op, source: e.into() }
    }

    fn extract_all(&mut self, tar_stream: &mut impl Read) -> Result<(), UnpackError> {
        let mut archive = tar::Archive::new(tar_stream);
        let entries =
            archive.entries().map_err(|source| UnpackError::Read { layer: self.layer.to_string(), source })?;
        for entry in entries {
            let mut entry = entry.map_err(|source| UnpackError::Read { layer: self.layer.to_string(), source })?;
            self.extract_one(&mut entry)?;
            self.entries += 1;
        }
        self.apply_dir_times();
        Ok(())
    }

    fn extract_one<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<(), UnpackError> {
        use tar::EntryType as T;
        let raw_path = entry.path_bytes().into_owned();
        let kind = entry.header().entry_type();
        if matches!(kind, T::XGlobalHeader | T::XHeader | T::GNULongName | T::GNULongLink) {
            return Ok(());
        }
        let Some(rel) = clean_entry_path(&raw_path).map_err(|r| self.reject(&raw_path, r))? else {
            return Ok(()); // "./": the layer root keeps the mode we gave it
        };
        let header = entry.header();
        let meta = Meta {
            mode: header.mode().unwrap_or(0o644) & 0o7777,
            uid: header.uid().unwrap_or(0) as u32,
            gid: header.gid().unwrap_or(0) as u32,
            mtime: header.mtime().unwrap_or(0) as i64,
        };
        let parent_rel = rel.parent().unwrap_or(Path::new("")).to_path_buf();
        let name = rel.file_name().expect("cleaned path has a final component").to_os_string();
        let name_bytes = name.as_bytes();
        let parent = self.open_parent(&parent_rel, &raw_path)?;
        let parent = parent.as_raw_fd();

        if name_bytes.starts_with(WHITEOUT_PREFIX.as_bytes()) {
            return self.whiteout(parent, &rel, &name);
        }
        match kind {
            T::Regular | T::Continuous | T::GNUSparse => {
                self.remove_existing(parent, &rel, &name, true)?;
                let how = nix::fcntl::OpenHow::new()
                    .flags(OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC)
                    .mode(Mode::from_bits_truncate(meta.mode));
                let fd = nix::fcntl::openat2(parent, name.as_os_str(), how).map_err(self.entry_err(&rel, "create"))?;
                // SAFETY: openat2 returned a new descriptor that nothing else owns.
                let mut file = unsafe { File::from_raw_fd(fd) };
                self.copy_data(entry, &mut file, &rel)?;
                self.set_owner_mode_fd(file.as_fd(), &meta, &rel)?;
                self.apply_xattrs(entry, Some(file.as_fd()), &rel)?;
                let ts = TimeSpec::new(meta.mtime, 0);
                futimens(file.as_raw_fd(), &ts, &ts).map_err(self.entry_err(&rel, "set mtime"))?;
            }
            T::Directory => {
                match nix::sys::stat::fstatat(Some(parent), name.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW) {
                    Ok(st) if st.st_mode & libc::S_IFMT == libc::S_IFDIR => {}
                    Ok(_) => {
                        self.remove_existing(parent, &rel, &name, true)?;
                        self.mkdir(parent, &name, &meta, &rel)?;
                    }
                    Err(_) => self.mkdir(parent, &name, &meta, &rel)?,
                }
                let dir = open_beneath(self.root.as_fd(), &rel, OFlag::O_RDONLY | OFlag::O_DIRECTORY)
                    .map_err(self.entry_err(&rel, "open directory"))?;
                self.set_owner_mode_fd(dir.as_fd(), &meta, &rel)?;
                self.apply_xattrs(entry, Some(dir.as_fd()), &rel)?;
                self.dir_times.push((rel, meta.mtime));
            }
            T::Symlink => {
                let target =
                    entry.link_name_bytes().ok_or_else(|| self.reject(&raw_path, "symlink without a target"))?;
                let target = target.into_owned();
                self.remove_existing(parent, &rel, &name, true)?;
                symlinkat(OsStr::from_bytes(&target), Some(parent), name.as_os_str())
                    .map_err(self.entry_err(&rel, "symlink"))?;
                if self.needs_chown(&meta) {
                    fchownat(
                        Some(parent),
                        name.as_os_str(),
                        Some(Uid::from_raw(meta.uid)),
                        Some(Gid::from_raw(meta.gid)),
                        AtFlags::AT_SYMLINK_NOFOLLOW,
                    )
                    .map_err(self.entry_err(&rel, "chown"))?;
                }
                let ts = TimeSpec::new(meta.mtime, 0);
                utimensat(Some(parent), name.as_os_str(), &ts, &ts, UtimensatFlags::NoFollowSymlink)
                    .map_err(self.entry_err(&rel, "set mtime"))?;
            }
            T::Link => {
                let target =
                    entry.link_name_bytes().ok_or_else(|| self.reject(&raw_path, "hardlink without a target"))?;
                let target = target.into_owned();
                let target_rel = match clean_entry_path(&target) {
                    Ok(Some(t)) => t,
                    Ok(None) => return Err(self.reject(&raw_path, "hardlink to the layer root")),
                    Err(_) => return Err(self.reject(&raw_path, "hardlink target outside the layer")),
                };
                if target_rel == rel {
                    return Ok(());
                }
                let tparent_rel = target_rel.parent().unwrap_or(Path::new(""));
                let tname = target_rel.file_name().expect("cleaned path has a final component");
                let tparent = match open_beneath(self.root.as_fd(), tparent_rel, OFlag::O_PATH | OFlag::O_DIRECTORY) {
                    Ok(fd) => fd,
                    Err(Errno::ELOOP) | Err(Errno::EXDEV) => {
                        return Err(self.reject(&raw_path, "hardlink target traverses a symlink"))
                    }
                    Err(_) => return Err(self.reject(&raw_path, "hardlink target is not in this layer")),
                };
                self.remove_existing(parent, &rel, &name, true)?;
                match linkat(Some(tparent.as_raw_fd()), tname, Some(parent), name.as_os_str(), AtFlags::empty()) {
                    Ok(()) => {}
                    Err(Errno::ENOENT) => return Err(self.reject(&raw_path, "hardlink target is not in this layer")),
                    Err(e) => return Err(self.entry_err(&rel, "hardlink")(e)),
                }
            }
            T::Char | T::Block | T::Fifo => {
                self.remove_existing(parent, &rel, &name, true)?;
                let (sflag, dev) = match kind {
                    T::Char => (SFlag::S_IFCHR, device_number(entry)),
                    T::Block => (SFlag::S_IFBLK, device_number(entry)),
                    _ => (SFlag::S_IFIFO, 0),
                };
                match mknodat(Some(parent), name.as_os_str(), sflag, Mode::from_bits_truncate(meta.mode), dev) {
                    Ok(()) => {}
                    // rootless: no CAP_MKNOD, and a node of the image could not be opened anyway
                    // (the container's /dev comes from the host); skipped, as Docker and Podman do
                    Err(Errno::EPERM) if crate::rootless::active().is_some() => {
                        tracing::debug!(layer = self.layer, path = %rel.display(), "device node skipped (rootless)");
                        return Ok(());
                    }
                    Err(e) => return Err(self.entry_err(&rel, "mknod")(e)),
                }
                if self.needs_chown(&meta) {
                    fchownat(
                        Some(parent),
                        name.as_os_str(),
                        Some(Uid::from_raw(meta.uid)),
                        Some(Gid::from_raw(meta.gid)),
                        AtFlags::AT_SYMLINK_NOFOLLOW,
                    )
                    .map_err(self.entry_err(&rel, "chown"))?;
                }
                fchmodat(
                    Some(parent),
                    name.as_os_str(),
                    Mode::from_bits_truncate(meta.mode),
                    FchmodatFlags::FollowSymlink,
                )
                .map_err(self.entry_err(&rel, "chmod"))?;
                let ts = TimeSpec::new(meta.mtime, 0);
                utimensat(Some(parent), name.as_os_str(), &ts, &ts, UtimensatFlags::NoFollowSymlink)
                    .map_err(self.entry_err(&rel, "set mtime"))?;
            }
            _ => {
                tracing::warn!(layer = self.layer, path = %rel.display(), kind = ?kind, "skipping tar entry of unsupported type");
            }
        }
        Ok(())
    }

    /// Opens (creating missing directories) the parent of an entry, refusing
    /// any path through a symlink or a non-directory.
    fn open_parent(&mut self, parent_rel: &Path, raw: &[u8]) -> Result<BorrowedFd<'_>, UnpackError> {
        let hit = matches!(&self.parent_cache, Some((p, _)) if p == parent_rel);
        if !hit {
            let dir_flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY;
            let fd = match open_beneath(self.root.as_fd(), parent_rel, dir_flags) {
                Ok(fd) => fd,
                Err(Errno::ENOENT) => self.create_parents(parent_rel, raw)?,
                Err(Errno::ELOOP) | Err(Errno::EXDEV) => return Err(self.reject(raw, "path traverses a symlink")),
                Err(Errno::ENOTDIR) => return Err(self.reject(raw, "a parent of the path is not a directory")),
                Err(e) => return Err(self.entry_err(parent_rel, "open parent directory")(e)),
            };
            self.parent_cache = Some((parent_rel.to_path_buf(), fd));
        }
        Ok(self.parent_cache.as_ref().expect("just filled").1.as_fd())
    }

    fn create_parents(&self, parent_rel: &Path, raw: &[u8]) -> Result<OwnedFd, UnpackError> {
        let mut dir = open_beneath(self.root.as_fd(), Path::new(""), OFlag::O_RDONLY | OFlag::O_DIRECTORY)
            .map_err(self.entry_err(parent_rel, "open layer root"))?;
        for comp in parent_rel.components() {
            let Component::Normal(c) = comp else { continue };
            match mkdirat(Some(dir.as_raw_fd()), c, Mode::from_bits_truncate(0o755)) {
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(e) => return Err(self.entry_err(parent_rel, "create parent directory")(e)),
            }
            dir = match open_beneath(dir.as_fd(), Path::new(c), OFlag::O_RDONLY | OFlag::O_DIRECTORY) {
                Ok(fd) => fd,
                Err(Errno::ELOOP) | Err(Errno::EXDEV) => return Err(self.reject(raw, "path traverses a symlink")),
                Err(Errno::ENOTDIR) => return Err(self.reject(raw, "a parent of the path is not a directory")),
                Err(e) => return Err(self.entry_err(parent_rel, "open parent directory")(e)),
            };
        }
        Ok(dir)
    }

    /// Removes whatever the layer already has at `name` (a later entry of the
    /// same layer wins). Directories are only removed when `replace_dir`.
    fn remove_existing(&mut self, parent: i32, rel: &Path, name: &OsStr, replace_dir: bool) -> Result<(), UnpackError> {
        match nix::sys::stat::fstatat(Some(parent), name, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Err(Errno::ENOENT) => Ok(()),
            Err(e) => Err(self.entry_err(rel, "stat")(e)),
            Ok(st) if st.st_mode & libc::S_IFMT == libc::S_IFDIR => {
                if !replace_dir {
                    return Err(self.reject(rel.as_os_str().as_bytes(), "a directory cannot be replaced here"));
                }
                // forget the cached parent if it lives inside the tree we remove
                if matches!(&self.parent_cache, Some((p, _)) if p.starts_with(rel)) {
                    self.parent_cache = None;
                }
                let dir = open_beneath(self.root.as_fd(), rel, OFlag::O_RDONLY | OFlag::O_DIRECTORY)
                    .map_err(self.entry_err(rel, "open directory to replace"))?;
                let path = crate::securefs::fd_path(&dir);
                let real = std::fs::read_link(&path).map_err(|e| UnpackError::Entry {
                    layer: self.layer.to_string(),
                    path: rel.display().to_string(),
                    op: "resolve directory to replace",
                    source: e,
                })?;
                drop(dir);
                std::fs::remove_dir_all(&real).map_err(|e| UnpackError::Entry {
                    layer: self.layer.to_string(),
                    path: rel.display().to_string(),
                    op: "remove directory",
                    source: e,
                })
            }
            Ok(_) => unlinkat(Some(parent), name, UnlinkatFlags::NoRemoveDir).map_err(self.entry_err(rel, "unlink")),
        }
    }

    fn whiteout(&mut self, parent: i32, rel: &Path, name: &OsStr) -> Result<(), UnpackError> {
        let name_bytes = name.as_bytes();
        if name_bytes == OPAQUE_MARKER.as_bytes() {
            let parent_fd = parent;
            let opaque = crate::rootless::opaque_xattr().to_string_lossy();
            set_xattr_fd(parent_fd, &opaque, b"y").map_err(self.entry_err(rel, "mark directory opaque"))?;
            self.opaque_dirs += 1;
            return Ok(());
        }
        if name_bytes.starts_with(b".wh..wh.") {
            return Ok(()); // aufs bookkeeping (.wh..wh.plnk and friends): nothing to do
        }
        let hidden = OsStr::from_bytes(&name_bytes[WHITEOUT_PREFIX.len()..]);
        if hidden.is_empty() || hidden == "." || hidden == ".." {
            return Err(self.reject(rel.as_os_str().as_bytes(), "malformed whiteout"));
        }
        let hidden_rel = rel.with_file_name(hidden);
        self.remove_existing(parent, &hidden_rel, hidden, true)?;
        self.whiteouts += 1;
        mknodat(Some(parent), hidden, SFlag::S_IFCHR, Mode::empty(), 0)
            .map_err(self.entry_err(&hidden_rel, "create whiteout"))
    }

    fn mkdir(&self, parent: i32, name: &OsStr, meta: &Meta, rel: &Path) -> Result<(), UnpackError> {
        mkdirat(Some(parent), name, Mode::from_bits_truncate(meta.mode | 0o700)).map_err(self.entry_err(rel, "mkdir"))
    }

    fn needs_chown(&self, meta: &Meta) -> bool {
        self.is_root && (meta.uid != 0 || meta.gid != 0)
    }

    fn set_owner_mode_fd(&self, fd: BorrowedFd<'_>, meta: &Meta, rel: &Path) -> Result<(), UnpackError> {
        if self.needs_chown(meta) {
            fchown(fd.as_raw_fd(), Some(Uid::from_raw(meta.uid)), Some(Gid::from_raw(meta.gid)))
                .map_err(self.entry_err(rel, "chown"))?;
        }
        // chown clears set-id bits and umask trims the creation mode: set it exactly
        fchmod(fd.as_raw_fd(), Mode::from_bits_truncate(meta.mode)).map_err(self.entry_err(rel, "chmod"))
    }

    fn copy_data(&mut self, from: &mut impl Read, to: &mut File, rel: &Path) -> Result<(), UnpackError> {
        loop {
            let n = match from.read(&mut self.buf) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => return Err(UnpackError::Read { layer: self.layer.to_string(), source }),
            };
            to.write_all(&self.buf[..n]).map_err(|source| UnpackError::Entry {
                layer: self.layer.to_string(),
                path: rel.display().to_string(),
                op: "write",
                source,
            })?;
        }
    }

    fn apply_xattrs<R: Read>(
        &self,
        entry: &mut tar::Entry<'_, R>,
        fd: Option<BorrowedFd<'_>>,
        rel: &Path,
    ) -> Result<(), UnpackError> {
        let Some(fd) = fd else { return Ok(()) };
        let Ok(Some(exts)) = entry.pax_extensions() else {
            return Ok(());
        };
        for ext in exts.flatten() {
            let Ok(key) = ext.key() else { continue };
            let Some(name) = key.strip_prefix("SCHILY.xattr.") else {
                continue;
            };
            // overlay's own xattrs must come from whiteouts only, never from image content
            // (rootless, overlay reads its own from user.overlay.*: those are skipped too)
            let overlays_own = name.starts_with("user.overlay.") && crate::rootless::active().is_some();
            if !(name.starts_with("user.") || name == "security.capability") || overlays_own {
                tracing::debug!(layer = self.layer, path = %rel.display(), xattr = name, "skipping xattr");
                continue;
            }
            set_xattr_fd(fd.as_raw_fd(), name, ext.value_bytes()).map_err(self.entry_err(rel, "set xattr"))?;
        }
        Ok(())
    }

    fn apply_dir_times(&mut self) {
        for (rel, mtime) in self.dir_times.drain(..).rev() {
            if let Ok(fd) = open_beneath(self.root.as_fd(), &rel, OFlag::O_RDONLY | OFlag::O_DIRECTORY) {
                let ts = TimeSpec::new(mtime, 0);
                let _ = futimens(fd.as_raw_fd(), &ts, &ts);
            }
        }
    }
}

fn device_number<R: Read>(entry: &tar::Entry<'_, R>) -> libc::dev_t {
    let h = entry.header();
    let major = h.device_major().ok().flatten().unwrap_or(0);
    let minor = h.device_minor().ok().flatten().unwrap_or(0);
    libc::makedev(major, minor)
}

fn set_xattr_fd(fd: i32, name: &str, value: &[u8]) -> nix::Result<()> {
    let cname = CString::new(name).map_err(|_| Errno::EINVAL)?;
    // SAFETY: fd is open, cname is NUL-terminated, value is a valid slice.
    let rc = unsafe { libc::fsetxattr(fd, cname.as_ptr(), value.as_ptr().cast(), value.len(), 0) };
    Errno::result(rc).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_paths_are_normalized() {
        assert_eq!(clean_entry_path(b"./etc/passwd").unwrap(), Some(PathBuf::from("etc/passwd")));
        assert_eq!(clean_entry_path(b"etc//x/./y/").unwrap(), Some(PathBuf::from("etc/x/y")));
        assert_eq!(clean_entry_path(b"./").unwrap(), None);
        assert_eq!(clean_entry_path(b".").unwrap(), None);
    }

    #[test]
    fn escaping_entry_paths_are_refused() {
        assert_eq!(clean_entry_path(b"../etc/passwd"), Err("path contains '..'"));
        assert_eq!(clean_entry_path(b"a/../../b"), Err("path contains '..'"));
        assert_eq!(clean_entry_path(b"/etc/passwd"), Err("absolute path"));
    }

    #[test]
    fn blobs_decompress_whatever_their_compression() {
        let tar = tar_of(|b| file(b, "x", b"data"));
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar).unwrap();
        let gz = gz.finish().unwrap();
        let zst = zstd::stream::encode_all(&tar[..], 1).unwrap();
        for blob in [tar.clone(), gz, zst] {
            let mut out = Vec::new();
            decompressed(io::Cursor::new(blob)).unwrap().read_to_end(&mut out).unwrap();
            assert_eq!(out, tar);
        }
    }

    #[test]
    fn compression_is_sniffed() {
        assert_eq!(Compression::sniff(&[0x1f, 0x8b, 8]), Compression::Gzip);
        assert_eq!(Compression::sniff(&[0x28, 0xb5, 0x2f, 0xfd, 0]), Compression::Zstd);
        assert_eq!(Compression::sniff(b"etc/passwd\0"), Compression::None);
    }

    fn tar_of(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        build(&mut b);
        b.into_inner().unwrap()
    }

    fn file(b: &mut tar::Builder<Vec<u8>>, path: &str, data: &[u8]) {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(1_700_000_000);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, path, data).unwrap();
    }

    /// A new directory under the temp dir (tempfile: unique, removed on drop, failed tests too).
    fn tempdir(name: &str) -> tempfile::TempDir {
        tempfile::Builder::new().prefix(&format!("rrun-unpack-{name}-")).tempdir().unwrap()
    }

    #[test]
    fn unpacks_and_verifies_gzip_layer() {
        let tar = tar_of(|b| {
            file(b, "etc/motd", b"hello\n");
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_size(0);
            h.set_mode(0o777);
            b.append_link(&mut h, "etc/link", "/etc/motd").unwrap();
        });
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar).unwrap();
        let blob = gz.finish().unwrap();
        let dest_guard = tempdir("gz");
        let dest = dest_guard.path().to_path_buf();
        let out = unpack_layer(
            &blob[..],
            UnpackRequest {
                label: "test",
                expected_blob: Some(&Digest::of(&blob)),
                expected_diff_id: Some(&Digest::of(&tar)),
                dest: Some(&dest),
                blob_copy: None,
            },
        )
        .unwrap();
        assert_eq!(out.compression, Compression::Gzip);
        assert_eq!(std::fs::read(dest.join("etc/motd")).unwrap(), b"hello\n");
        assert_eq!(std::fs::read_link(dest.join("etc/link")).unwrap(), PathBuf::from("/etc/motd"));
        use std::os::unix::fs::MetadataExt;
        assert_eq!(std::fs::metadata(dest.join("etc/motd")).unwrap().mtime(), 1_700_000_000);

        // a wrong diff-id is caught
        let dest2_guard = tempdir("gz-bad");
        let dest2 = dest2_guard.path().to_path_buf();
        let err = unpack_layer(
            &blob[..],
            UnpackRequest {
                label: "test",
                expected_blob: None,
                expected_diff_id: Some(&Digest::of(b"other")),
                dest: Some(&dest2),
                blob_copy: None,
            },
        )
        .unwrap_err();
        assert!(matches!(err, UnpackError::DiffId { .. }), "{err}");
    }

    #[test]
    fn write_through_symlink_is_refused() {
        let outside_guard = tempdir("outside");
        let outside = outside_guard.path().to_path_buf();
        let tar = tar_of(|b| {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_size(0);
            b.append_link(&mut h, "escape", outside.to_str().unwrap()).unwrap();
            file(b, "escape/pwned", b"x");
        });
        let dest_guard = tempdir("symlink");
        let dest = dest_guard.path().to_path_buf();
        let err = unpack_layer(
            &tar[..],
            UnpackRequest {
                label: "evil",
                expected_blob: None,
                expected_diff_id: None,
                dest: Some(&dest),
                blob_copy: None,
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("escape/pwned"), "{err}");
        assert!(err.to_string().contains("symlink"), "{err}");
        assert!(!outside.join("pwned").exists());
    }

    #[test]
    fn later_entry_replaces_earlier_in_same_layer() {
        let tar = tar_of(|b| {
            file(b, "a/inner", b"1");
            file(b, "a", b"now a file");
            file(b, "f", b"old");
            file(b, "f", b"new");
        });
        let dest_guard = tempdir("replace");
        let dest = dest_guard.path().to_path_buf();
        unpack_layer(
            &tar[..],
            UnpackRequest {
                label: "t",
                expected_blob: None,
                expected_diff_id: None,
                dest: Some(&dest),
                blob_copy: None,
            },
        )
        .unwrap();
        assert_eq!(std::fs::read(dest.join("a")).unwrap(), b"now a file");
        assert_eq!(std::fs::read(dest.join("f")).unwrap(), b"new");
    }
}
