//! Writing a directory tree as a tar stream: a container's upper directory
//! as an OCI layer (`commit`: overlay whiteouts become `.wh.NAME` entries and
//! opaque directories `.wh..wh..opq`), a merged root filesystem (`export`),
//! or what `cp` copies.
//!
//! The tree is walked through directory descriptors (`openat` with
//! `O_NOFOLLOW`), never by path, so a symlink in the tree is written as a
//! symlink and never followed, wherever it points. The walk hands each entry
//! to a [`Sink`]: a tar stream here, a directory elsewhere (`cp`).

use crate::digest::{Digest, HashingWriter};
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{fstatat, FileStat, Mode};
use std::collections::{HashMap, HashSet};
use std::ffi::{CString, OsStr, OsString};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Why walking a tree, or writing an entry of it, failed.
#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    /// A system call on one entry failed (stat, open, read symlink, mkdir, chown…).
    #[error("{path}: {op}: {source}")]
    Io {
        /// The entry's path.
        path: String,
        /// The operation that failed (`open directory`, `read symlink`…).
        op: &'static str,
        /// The underlying error.
        source: io::Error,
    },
    /// The sink refused an entry (`cp` onto a path through a symlink, a directory over a
    /// non-directory…); the message says which and why.
    #[error("{0}")]
    Refused(String),
}

impl TreeError {
    /// A `map_err` adapter: an [`io::Error`] of `op` on `path` as [`TreeError::Io`].
    pub fn io<'a>(path: &'a Path, op: &'static str) -> impl FnOnce(io::Error) -> TreeError + 'a {
        move |source| TreeError::Io { path: path.display().to_string(), op, source }
    }
    /// A `map_err` adapter: an [`Errno`] of `op` on `path` as [`TreeError::Io`].
    pub fn errno<'a>(path: &'a Path, op: &'static str) -> impl FnOnce(Errno) -> TreeError + 'a {
        move |e| TreeError::Io { path: path.display().to_string(), op, source: e.into() }
    }
}

/// What kind of file an entry is (with its link target where it has one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link, with its target as stored (never followed).
    Symlink(PathBuf),
    /// Another name of a file written before, at this path (relative to the walk's root).
    HardLink(PathBuf),
    /// A character device (an overlay whiteout is a `0:0` one).
    Char,
    /// A block device.
    Block,
    /// A named pipe.
    Fifo,
}

/// An entry's metadata, as a tar header carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryMeta {
    /// What kind of file it is.
    pub kind: Kind,
    /// Permission bits with set-id and sticky bits.
    pub mode: u32,
    /// Owner user ID.
    pub uid: u32,
    /// Owner group ID.
    pub gid: u32,
    /// Modification time, seconds since the epoch.
    pub mtime: i64,
    /// Content length (regular files).
    pub size: u64,
    /// Device major number (character and block devices).
    pub dev_major: u32,
    /// Device minor number (character and block devices).
    pub dev_minor: u32,
    /// Extended attributes worth carrying: `user.*` and `security.capability`.
    pub xattrs: Vec<(String, Vec<u8>)>,
}

impl EntryMeta {
    fn from_stat(kind: Kind, st: &FileStat) -> EntryMeta {
        let rdev = st.st_rdev;
        EntryMeta {
            kind,
            mode: st.st_mode & 0o7777,
            uid: st.st_uid,
            gid: st.st_gid,
            mtime: st.st_mtime,
            size: 0,
            dev_major: libc::major(rdev),
            dev_minor: libc::minor(rdev),
            xattrs: Vec::new(),
        }
    }

    /// An empty regular file: a whiteout marker.
    fn marker(uid: u32, gid: u32, mode: u32, mtime: i64) -> EntryMeta {
        EntryMeta { kind: Kind::File, mode, uid, gid, mtime, size: 0, dev_major: 0, dev_minor: 0, xattrs: Vec::new() }
    }
}

/// Where walked entries go.
pub trait Sink {
    /// One entry at `path` (relative); `data` is the content of a regular file.
    fn entry(&mut self, path: &Path, meta: &EntryMeta, data: &mut dyn Read) -> Result<(), TreeError>;
}

/// Overlay's whiteout forms, converted to OCI's when asked.
pub const WHITEOUT_PREFIX: &str = ".wh.";
pub const OPAQUE_MARKER: &str = ".wh..wh..opq";

/// How to walk.
#[derive(Debug, Clone, Default)]
pub struct WalkOptions {
    /// Write overlay whiteouts (0:0 character devices, `trusted.overlay.opaque`
    /// directories) as OCI whiteout entries: for a container's upper directory.
    pub whiteouts: bool,
    /// Entries (paths as written) to leave out, with everything below them.
    pub skip: HashSet<PathBuf>,
    /// Directories (device, inode) written without what they hold: the
    /// kernel filesystems mounted in a running container (`/proc`, `/sys`…).
    pub no_descend: HashSet<(u64, u64)>,
}

/// Walks trees into a sink, depth first, each directory's entries in byte order.
pub struct Walker<'a> {
    opts: WalkOptions,
    sink: &'a mut dyn Sink,
    /// (device, inode) of files with several names → the path written first.
    links: HashMap<(u64, u64), PathBuf>,
}

impl<'a> Walker<'a> {
    pub fn new(opts: WalkOptions, sink: &'a mut dyn Sink) -> Walker<'a> {
        Walker { opts, sink, links: HashMap::new() }
    }

    /// Every entry inside the directory `dir`, named under `prefix` (empty: at the top).
    pub fn walk_contents(&mut self, dir: BorrowedFd<'_>, prefix: &Path) -> Result<(), TreeError> {
        for name in sorted_names(dir, prefix)? {
            let path = prefix.join(&name);
            self.walk_entry(dir, &name, &path)?;
        }
        Ok(())
    }

    /// The directory `dir` itself, written as `path`, and everything in it.
    pub fn walk_dir_fd(&mut self, dir: BorrowedFd<'_>, path: &Path) -> Result<(), TreeError> {
        let st = nix::sys::stat::fstat(dir.as_raw_fd()).map_err(TreeError::errno(path, "stat"))?;
        let mut meta = EntryMeta::from_stat(Kind::Dir, &st);
        meta.xattrs = read_xattrs(dir);
        self.sink.entry(path, &meta, &mut io::empty())?;
        self.walk_contents(dir, path)
    }

    /// The entry `name` of directory `parent` (and everything under it), written as `path`.
    pub fn walk_entry(&mut self, parent: BorrowedFd<'_>, name: &OsStr, path: &Path) -> Result<(), TreeError> {
        if self.opts.skip.contains(path) {
            return Ok(());
        }
        let st = fstatat(Some(parent.as_raw_fd()), name, AtFlags::AT_SYMLINK_NOFOLLOW)
            .map_err(TreeError::errno(path, "stat"))?;
        match st.st_mode & libc::S_IFMT {
            libc::S_IFDIR => {
                let dir = open_child(parent, name, OFlag::O_RDONLY | OFlag::O_DIRECTORY)
                    .map_err(TreeError::errno(path, "open directory"))?;
                let mut meta = EntryMeta::from_stat(Kind::Dir, &st);
                meta.xattrs = read_xattrs(dir.as_fd());
                self.sink.entry(path, &meta, &mut io::empty())?;
                if self.opts.whiteouts && is_opaque(dir.as_fd()) {
                    let m = EntryMeta::marker(st.st_uid, st.st_gid, meta.mode & 0o777, st.st_mtime);
                    self.sink.entry(&path.join(OPAQUE_MARKER), &m, &mut io::empty())?;
                }
                if self.opts.no_descend.contains(&(st.st_dev, st.st_ino)) {
                    return Ok(());
                }
                self.walk_contents(dir.as_fd(), path)
            }
            libc::S_IFREG => {
                if st.st_nlink > 1 {
                    let key = (st.st_dev, st.st_ino);
                    if let Some(first) = self.links.get(&key) {
                        let meta = EntryMeta::from_stat(Kind::HardLink(first.clone()), &st);
                        return self.sink.entry(path, &meta, &mut io::empty());
                    }
                    self.links.insert(key, path.to_path_buf());
                }
                let file = open_child(parent, name, OFlag::O_RDONLY | OFlag::O_NONBLOCK)
                    .map_err(TreeError::errno(path, "open"))?;
                let mut meta = EntryMeta::from_stat(Kind::File, &st);
                meta.size = st.st_size as u64;
                meta.xattrs = read_xattrs(file.as_fd());
                let mut data = ExactReader { inner: File::from(file), left: meta.size };
                self.sink.entry(path, &meta, &mut data)
            }
            libc::S_IFLNK => {
                let target = nix::fcntl::readlinkat(Some(parent.as_raw_fd()), name)
                    .map_err(TreeError::errno(path, "read symlink"))?;
                let meta = EntryMeta::from_stat(Kind::Symlink(PathBuf::from(target)), &st);
                self.sink.entry(path, &meta, &mut io::empty())
            }
            libc::S_IFCHR if self.opts.whiteouts && st.st_rdev == 0 => {
                let mut marker = OsString::from(WHITEOUT_PREFIX);
                marker.push(name);
                let m = EntryMeta::marker(st.st_uid, st.st_gid, st.st_mode & 0o777, st.st_mtime);
                self.sink.entry(&path.with_file_name(marker), &m, &mut io::empty())
            }
            libc::S_IFCHR => self.sink.entry(path, &EntryMeta::from_stat(Kind::Char, &st), &mut io::empty()),
            libc::S_IFBLK => self.sink.entry(path, &EntryMeta::from_stat(Kind::Block, &st), &mut io::empty()),
            libc::S_IFIFO => self.sink.entry(path, &EntryMeta::from_stat(Kind::Fifo, &st), &mut io::empty()),
            _ => {
                tracing::debug!(path = %path.display(), "skipping a socket");
                Ok(())
            }
        }
    }
}

/// Opens an entry of `parent` without following a symlink at it.
pub fn open_child(parent: BorrowedFd<'_>, name: &OsStr, flags: OFlag) -> nix::Result<OwnedFd> {
    let fd = nix::fcntl::openat(
        Some(parent.as_raw_fd()),
        name,
        flags | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    // SAFETY: openat returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The names in a directory, in byte order.
pub fn sorted_names(dir: BorrowedFd<'_>, path: &Path) -> Result<Vec<OsString>, TreeError> {
    // Dir takes the descriptor it reads: give it its own duplicate
    let dup = nix::unistd::dup(dir.as_raw_fd()).map_err(TreeError::errno(path, "dup"))?;
    let mut d = nix::dir::Dir::from_fd(dup).map_err(TreeError::errno(path, "read directory"))?;
    let mut names = Vec::new();
    for e in d.iter() {
        let e = e.map_err(TreeError::errno(path, "read directory"))?;
        let n = e.file_name().to_bytes();
        if n != b"." && n != b".." {
            names.push(OsStr::from_bytes(n).to_os_string());
        }
    }
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    Ok(names)
}

/// True when the directory carries overlay's opaque mark.
pub fn is_opaque(dir: BorrowedFd<'_>) -> bool {
    let mut v = [0u8; 2];
    let name = crate::rootless::opaque_xattr();
    // SAFETY: dir is open; the name is NUL-terminated; v is writable for its length.
    let n = unsafe { libc::fgetxattr(dir.as_raw_fd(), name.as_ptr(), v.as_mut_ptr().cast(), v.len()) };
    n == 1 && v[0] == b'y'
}

/// The extended attributes an image layer carries (`user.*`, `security.capability`).
fn read_xattrs(fd: BorrowedFd<'_>) -> Vec<(String, Vec<u8>)> {
    let mut names = vec![0u8; 4096];
    // SAFETY: fd is open; names is writable for its length.
    let n = unsafe { libc::flistxattr(fd.as_raw_fd(), names.as_mut_ptr().cast(), names.len()) };
    if n <= 0 {
        return Vec::new();
    }
    let mut out = Vec::new();
    for name in names[..n as usize].split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let Ok(key) = std::str::from_utf8(name) else { continue };
        if !(key.starts_with("user.") || key == "security.capability")
            || (key.starts_with("user.overlay.") && crate::rootless::active().is_some())
        {
            continue;
        }
        let Ok(c) = CString::new(name) else { continue };
        let mut value = vec![0u8; 65536];
        // SAFETY: fd is open; c is NUL-terminated; value is writable for its length.
        let len = unsafe { libc::fgetxattr(fd.as_raw_fd(), c.as_ptr(), value.as_mut_ptr().cast(), value.len()) };
        if len >= 0 {
            value.truncate(len as usize);
            out.push((key.to_string(), value));
        }
    }
    out
}

/// Exactly `left` bytes of a file whose size was taken before it was read:
/// a file that shrank meanwhile (a running container writes) is padded with
/// zeros, one that grew is cut, so the tar header stays true.
struct ExactReader {
    inner: File,
    left: u64,
}

impl Read for ExactReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        let want = buf.len().min(self.left.min(usize::MAX as u64) as usize);
        let n = match self.inner.read(&mut buf[..want])? {
            0 => {
                buf[..want].fill(0);
                want
            }
            n => n,
        };
        self.left -= n as u64;
        Ok(n)
    }
}

/// A sink that writes a tar stream (GNU headers, PAX for extended attributes).
pub struct TarSink<W: Write> {
    builder: tar::Builder<W>,
}

impl<W: Write> TarSink<W> {
    pub fn new(out: W) -> TarSink<W> {
        TarSink { builder: tar::Builder::new(out) }
    }

    /// Ends the archive and returns the writer.
    pub fn into_inner(self) -> io::Result<W> {
        self.builder.into_inner()
    }
}

impl<W: Write> Sink for TarSink<W> {
    fn entry(&mut self, path: &Path, meta: &EntryMeta, data: &mut dyn Read) -> Result<(), TreeError> {
        let werr = TreeError::io(path, "write to the archive");
        let mut h = tar::Header::new_gnu();
        h.set_mode(meta.mode);
        h.set_uid(meta.uid as u64);
        h.set_gid(meta.gid as u64);
        h.set_mtime(meta.mtime.max(0) as u64);
        h.set_size(0);
        if !meta.xattrs.is_empty() {
            let keys: Vec<String> = meta.xattrs.iter().map(|(k, _)| format!("SCHILY.xattr.{k}")).collect();
            let pax = keys.iter().zip(&meta.xattrs).map(|(k, (_, v))| (k.as_str(), v.as_slice()));
            self.builder.append_pax_extensions(pax).map_err(TreeError::io(path, "write to the archive"))?;
        }
        let result = match &meta.kind {
            Kind::Dir => {
                h.set_entry_type(tar::EntryType::Directory);
                let mut p = path.as_os_str().to_os_string();
                p.push("/");
                self.builder.append_data(&mut h, p, io::empty())
            }
            Kind::File => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(meta.size);
                self.builder.append_data(&mut h, path, data)
            }
            Kind::Symlink(target) => {
                h.set_entry_type(tar::EntryType::Symlink);
                self.builder.append_link(&mut h, path, target)
            }
            Kind::HardLink(target) => {
                h.set_entry_type(tar::EntryType::Link);
                self.builder.append_link(&mut h, path, target)
            }
            Kind::Char | Kind::Block | Kind::Fifo => {
                h.set_entry_type(match meta.kind {
                    Kind::Char => tar::EntryType::Char,
                    Kind::Block => tar::EntryType::Block,
                    _ => tar::EntryType::Fifo,
                });
                h.set_device_major(meta.dev_major).map_err(TreeError::io(path, "device number"))?;
                h.set_device_minor(meta.dev_minor).map_err(TreeError::io(path, "device number"))?;
                self.builder.append_data(&mut h, path, io::empty())
            }
        };
        result.map_err(werr)
    }
}

/// A layer written by [`write_layer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenLayer {
    /// Digest and size of the gzip blob.
    pub blob: Digest,
    pub blob_size: u64,
    /// Digest and size of the uncompressed tar.
    pub diff_id: Digest,
    pub tar_size: u64,
}

/// Writes the tree under `dir` as a gzip-compressed layer tar into `out`,
/// hashing both the tar (diff-id) and the blob as they are written.
pub fn write_layer(dir: &Path, opts: WalkOptions, out: File) -> Result<WrittenLayer, TreeError> {
    let root = File::open(dir).map_err(TreeError::io(dir, "open"))?;
    let blob = HashingWriter::new(io::BufWriter::with_capacity(1 << 20, out));
    let gz = flate2::write::GzEncoder::new(blob, flate2::Compression::default());
    let mut sink = TarSink::new(HashingWriter::new(gz));
    Walker::new(opts, &mut sink).walk_contents(root.as_fd(), Path::new(""))?;
    let werr = TreeError::io(dir, "write the layer");
    let tar = sink.into_inner().map_err(werr)?;
    let (diff_id, tar_size, gz) = tar.finish();
    let blob = gz.finish().map_err(TreeError::io(dir, "write the layer"))?;
    let (blob, blob_size, buffered) = blob.finish();
    let file = buffered.into_inner().map_err(|e| TreeError::io(dir, "write the layer")(e.into_error()))?;
    file.sync_all().map_err(TreeError::io(dir, "write the layer"))?;
    Ok(WrittenLayer { blob, blob_size, diff_id, tar_size })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// A new directory under the temp dir (tempfile: unique, removed on drop, failed tests too).
    fn tempdir(name: &str) -> tempfile::TempDir {
        tempfile::Builder::new().prefix(&format!("rrun-layerw-{name}-")).tempdir().unwrap()
    }

    fn entries(tar_bytes: &[u8]) -> Vec<(String, tar::EntryType, String, Vec<u8>)> {
        let mut a = tar::Archive::new(tar_bytes);
        a.entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                let path = e.path().unwrap().to_string_lossy().into_owned();
                let link = e.link_name().unwrap().map(|l| l.to_string_lossy().into_owned()).unwrap_or_default();
                let kind = e.header().entry_type();
                let mut data = Vec::new();
                e.read_to_end(&mut data).unwrap();
                (path, kind, link, data)
            })
            .collect()
    }

    #[test]
    fn trees_become_tars_without_following_symlinks() {
        let dir_guard = tempdir("tree");
        let dir = dir_guard.path().to_path_buf();
        std::fs::create_dir_all(dir.join("b/deep")).unwrap();
        std::fs::write(dir.join("b/deep/file"), b"content").unwrap();
        std::fs::hard_link(dir.join("b/deep/file"), dir.join("a-link")).unwrap();
        symlink("/etc", dir.join("b/etc")).unwrap();
        nix::unistd::mkfifo(&dir.join("fifo"), Mode::from_bits_truncate(0o600)).unwrap();
        let root = File::open(&dir).unwrap();
        let mut sink = TarSink::new(Vec::new());
        Walker::new(WalkOptions::default(), &mut sink).walk_contents(root.as_fd(), Path::new("")).unwrap();
        let got = entries(&sink.into_inner().unwrap());
        let names: Vec<&str> = got.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(names, ["a-link", "b/", "b/deep/", "b/deep/file", "b/etc", "fifo"]);
        assert_eq!(got[0].3, b"content", "the first name of a file carries the data");
        assert_eq!((got[3].1, got[3].2.as_str()), (tar::EntryType::Link, "a-link"));
        assert_eq!((got[4].1, got[4].2.as_str()), (tar::EntryType::Symlink, "/etc"));
        assert_eq!(got[5].1, tar::EntryType::Fifo);

        // one entry under another name, and skipped paths
        let mut sink = TarSink::new(Vec::new());
        let opts = WalkOptions { skip: [PathBuf::from("renamed/deep")].into(), ..Default::default() };
        Walker::new(opts, &mut sink).walk_entry(root.as_fd(), OsStr::new("b"), Path::new("renamed")).unwrap();
        let got = entries(&sink.into_inner().unwrap());
        let names: Vec<&str> = got.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(names, ["renamed/", "renamed/etc"]);
    }

    #[test]
    fn overlay_whiteouts_become_oci_whiteouts() {
        if !nix::unistd::Uid::effective().is_root() {
            // in CI (CI set) a test that ran nothing must not pass
            let ci = std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false"));
            assert!(!ci, "overlay_whiteouts_become_oci_whiteouts cannot run: whiteouts need root (mknod, trusted.* xattrs) (CI is set)");
            eprintln!("SKIP overlay_whiteouts_become_oci_whiteouts: whiteouts need root (mknod, trusted.* xattrs)");
            return;
        }
        let dir_guard = tempdir("whiteouts");
        let dir = dir_guard.path().to_path_buf();
        std::fs::create_dir_all(dir.join("etc/opaque")).unwrap();
        std::fs::write(dir.join("etc/opaque/kept"), b"x").unwrap();
        nix::sys::stat::mknod(&dir.join("etc/gone"), nix::sys::stat::SFlag::S_IFCHR, Mode::empty(), 0).unwrap();
        let c = CString::new(dir.join("etc/opaque").as_os_str().as_bytes()).unwrap();
        // SAFETY: NUL-terminated strings and a one-byte value.
        let rc = unsafe { libc::setxattr(c.as_ptr(), c"trusted.overlay.opaque".as_ptr(), b"y".as_ptr().cast(), 1, 0) };
        assert_eq!(rc, 0);
        let out_guard = tempdir("blob");
        let out = out_guard.path().join("blob");
        let opts = WalkOptions { whiteouts: true, ..Default::default() };
        let written = write_layer(&dir, opts, File::create(&out).unwrap()).unwrap();
        let blob = std::fs::read(&out).unwrap();
        assert_eq!((Digest::of(&blob), blob.len() as u64), (written.blob.clone(), written.blob_size));
        let mut tar = Vec::new();
        flate2::read::GzDecoder::new(&blob[..]).read_to_end(&mut tar).unwrap();
        assert_eq!((Digest::of(&tar), tar.len() as u64), (written.diff_id, written.tar_size));
        let names: Vec<String> = entries(&tar).into_iter().map(|e| e.0).collect();
        assert_eq!(names, ["etc/", "etc/.wh.gone", "etc/opaque/", "etc/opaque/.wh..wh..opq", "etc/opaque/kept"]);
    }
}
