//! `cp`: files between a container and the host, or a tar stream, with
//! Docker's path rules — a directory copied into an existing directory goes
//! inside it, `SRC/.` copies its contents, a trailing slash on a path that is
//! not a directory is an error, `-L` follows a symlink that SRC names.
//!
//! Every path in the container is resolved inside its root
//! (`openat2(RESOLVE_IN_ROOT)`; `..` by its text, never above `/`), so no
//! symlink and no `..` in the container reaches a host file. On the host,
//! what is written lands beneath the destination directory and never
//! through a symlink (`RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`).

use super::fs::clean_relative;
use crate::image::layer_writer::{self, EntryMeta, Kind, Sink, TarSink, TreeError, WalkOptions, Walker};
use crate::securefs::{mkdir_all_in_root, open_beneath, open_in_root};
use crate::{Error, Rrun};
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{fstatat, FileStat, Mode, SFlag};
use std::ffi::{CString, OsStr, OsString};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// The host side of a copy: a path, or a tar stream (stdin into the
/// container, stdout out of it).
#[derive(Debug)]
pub enum CopyHost {
    /// A file or directory on the host.
    Path(PathBuf),
    /// A tar stream: read to copy into the container, written to copy out.
    Stream(File),
}

/// `cp` flags.
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct CopyOptions {
    /// `-a`: keep the source's owner instead of the destination's user.
    pub archive: bool,
    /// `-L`: follow a symlink that SRC names.
    pub follow_link: bool,
}

/// A path as the user gave it: cleaned, and what its end says.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Given {
    /// Relative to the root (`""`: the root itself), `.` and `..` resolved by the text.
    rel: PathBuf,
    /// Ends with `/`: must be a directory.
    slash: bool,
    /// Ends with `/.`: a directory's contents, not the directory.
    contents: bool,
}

impl Given {
    fn parse(path: &str) -> Given {
        let contents = path == "." || path.ends_with("/.");
        Given { rel: clean_relative(path), slash: contents || path.ends_with('/'), contents }
    }

    fn shown(&self) -> String {
        format!("/{}", self.rel.display())
    }
}

/// A host path made absolute from the working directory, as a `Given`.
fn host_given(p: &Path) -> Result<Given, String> {
    let text = p.to_string_lossy();
    let abs = if p.is_absolute() {
        text.into_owned()
    } else {
        let cwd = std::env::current_dir().map_err(|e| format!("the working directory: {e}"))?;
        let mut s = cwd.to_string_lossy().into_owned();
        s.push('/');
        s.push_str(&text);
        s
    };
    Ok(Given::parse(&abs))
}

/// Where a path leads: its parent directory, opened in the root, and its
/// name there (none for the root itself), with what is there, if anything.
struct Located {
    parent: Option<OwnedFd>,
    parent_rel: PathBuf,
    name: OsString,
    st: Option<FileStat>,
}

fn sys(what: &str) -> impl FnOnce(Errno) -> String + '_ {
    move |e| match e {
        Errno::ENOENT => format!("{what}: no such file or directory"),
        Errno::ENOTDIR => format!("{what}: not a directory"),
        e => format!("{what}: {e}"),
    }
}

/// Finds `rel` inside `root`, following a symlink at its end when `follow`
/// — inside the root too: an absolute target starts at the root, `..`
/// never climbs above it.
fn locate(root: BorrowedFd<'_>, rel: &Path, follow: bool, shown: &str) -> Result<Located, String> {
    let mut rel = rel.to_path_buf();
    for _ in 0..40 {
        let Some(name) = rel.file_name().map(OsStr::to_os_string) else {
            let st = nix::sys::stat::fstat(root.as_raw_fd()).map_err(sys(shown))?;
            return Ok(Located { parent: None, parent_rel: PathBuf::new(), name: OsString::new(), st: Some(st) });
        };
        let parent_rel = rel.parent().unwrap_or(Path::new("")).to_path_buf();
        let parent = open_in_root(root, &parent_rel, OFlag::O_RDONLY | OFlag::O_DIRECTORY).map_err(sys(shown))?;
        let st = match fstatat(Some(parent.as_raw_fd()), name.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => Some(st),
            Err(Errno::ENOENT) => None,
            Err(e) => return Err(sys(shown)(e)),
        };
        if let (true, Some(st)) = (follow, &st) {
            if st.st_mode & libc::S_IFMT == libc::S_IFLNK {
                let target = nix::fcntl::readlinkat(Some(parent.as_raw_fd()), name.as_os_str()).map_err(sys(shown))?;
                let target = Path::new(&target);
                let next = if target.is_absolute() { target.to_path_buf() } else { parent_rel.join(target) };
                rel = clean_relative(&next.to_string_lossy());
                continue;
            }
        }
        return Ok(Located { parent: Some(parent), parent_rel, name, st });
    }
    Err(format!("{shown}: too many levels of symbolic links"))
}

fn is_dir(st: &FileStat) -> bool {
    st.st_mode & libc::S_IFMT == libc::S_IFDIR
}

/// What a copy reads: one entry of a directory, or a root.
enum SrcItem {
    Entry { parent: OwnedFd, name: OsString },
    Root(OwnedFd),
}

struct Src {
    item: SrcItem,
    is_dir: bool,
    contents: bool,
    /// The name it is copied under into a directory.
    base: OsString,
}

fn source(root: BorrowedFd<'_>, given: &Given, follow: bool, shown: &str) -> Result<Src, String> {
    // a trailing slash names the directory a symlink points at
    let loc = locate(root, &given.rel, follow || given.slash, shown)?;
    let st = loc.st.ok_or_else(|| format!("{shown}: no such file or directory"))?;
    let dir = is_dir(&st);
    if given.slash && !dir {
        return Err(format!("{shown}: not a directory"));
    }
    let base = given.rel.file_name().map(OsStr::to_os_string).unwrap_or_else(|| loc.name.clone());
    let item = match loc.parent {
        Some(parent) => SrcItem::Entry { parent, name: loc.name },
        None => SrcItem::Root(
            layer_writer::open_child(root, OsStr::new("."), OFlag::O_RDONLY | OFlag::O_DIRECTORY)
                .map_err(sys(shown))?,
        ),
    };
    // the root has no name to copy it under: its contents go
    let contents = given.contents || matches!(item, SrcItem::Root(_));
    Ok(Src { item, is_dir: dir, contents, base })
}

/// Where the source goes under the destination directory.
enum Placement {
    /// The source entry, under this name.
    As(PathBuf),
    /// What the source directory holds.
    Contents,
}

/// Docker's rules: the destination directory (relative to its root) and how the source lands in it.
fn plan(src: &Src, root: BorrowedFd<'_>, dest: &Given) -> Result<(PathBuf, Placement), String> {
    let shown = dest.shown();
    let loc = locate(root, &dest.rel, true, &shown)?;
    let here = loc.parent_rel.join(&loc.name);
    match &loc.st {
        Some(st) if is_dir(st) => {
            if src.is_dir && src.contents {
                Ok((here, Placement::Contents))
            } else {
                Ok((here, Placement::As(PathBuf::from(&src.base))))
            }
        }
        Some(_) if dest.slash => Err(format!("{shown}: not a directory")),
        Some(_) if src.is_dir => Err(format!("cannot copy a directory to a file: {shown}")),
        Some(_) => Ok((loc.parent_rel, Placement::As(PathBuf::from(&loc.name)))),
        None if dest.slash && !src.is_dir => Err(format!("{shown}: no such directory")),
        None if loc.parent.is_none() => Err(format!("{shown}: no such directory")),
        None => Ok((loc.parent_rel, Placement::As(PathBuf::from(&loc.name)))),
    }
}

/// The kernel filesystems mounted in a running container (its Spec's mounts
/// other than bind mounts: `/proc`, `/sys`, `/dev`, `--tmpfs`…), by device
/// and inode: a copy writes these directories without what they hold, as
/// Docker, whose copy sees the container's root and volumes only.
fn kernel_mounts(root: BorrowedFd<'_>, spec: &oci_spec::runtime::Spec) -> std::collections::HashSet<(u64, u64)> {
    spec.mounts()
        .iter()
        .flatten()
        .filter(|m| {
            let bind =
                m.typ().as_deref() == Some("bind") || m.options().iter().flatten().any(|o| o == "bind" || o == "rbind");
            !bind
        })
        .filter_map(|m| open_in_root(root, m.destination(), OFlag::O_PATH | OFlag::O_DIRECTORY).ok())
        .filter_map(|fd| nix::sys::stat::fstat(fd.as_raw_fd()).ok())
        .map(|st| (st.st_dev, st.st_ino))
        .collect()
}

/// Walks the source into `sink` as `placement` says.
fn send(
    src: &Src,
    placement: &Placement,
    sink: &mut dyn Sink,
    no_descend: std::collections::HashSet<(u64, u64)>,
    shown: &str,
) -> Result<(), String> {
    let mut walker = Walker::new(WalkOptions { no_descend, ..Default::default() }, sink);
    let r = match (placement, &src.item) {
        (Placement::Contents, SrcItem::Root(fd)) => walker.walk_contents(fd.as_fd(), Path::new("")),
        (Placement::Contents, SrcItem::Entry { parent, name }) => {
            let dir = layer_writer::open_child(parent.as_fd(), name, OFlag::O_RDONLY | OFlag::O_DIRECTORY)
                .map_err(sys(shown))?;
            walker.walk_contents(dir.as_fd(), Path::new(""))
        }
        (Placement::As(p), SrcItem::Entry { parent, name }) => walker.walk_entry(parent.as_fd(), name, p),
        (Placement::As(p), SrcItem::Root(fd)) => walker.walk_dir_fd(fd.as_fd(), p),
    };
    r.map_err(|e| e.to_string())
}

/// The host's `/`, as a root to resolve host paths in.
fn host_root() -> Result<OwnedFd, String> {
    File::open("/").map(OwnedFd::from).map_err(|e| format!("open /: {e}"))
}

/// How a sink finds the directory an entry goes in.
enum Base<'a> {
    /// A container: `dir` inside `root`, every path resolved in the root.
    InRoot { root: BorrowedFd<'a>, dir: PathBuf },
    /// The host: beneath this directory, through no symlink.
    Beneath(OwnedFd),
}

/// Creates entries in a directory: what `cp` writes.
struct DirSink<'a> {
    base: Base<'a>,
    /// Owner of everything written (else the source's).
    owner: Option<(u32, u32)>,
    chown: bool,
    cache: Option<(PathBuf, OwnedFd)>,
    dir_times: Vec<(PathBuf, i64)>,
}

impl<'a> DirSink<'a> {
    fn new(base: Base<'a>, owner: Option<(u32, u32)>) -> DirSink<'a> {
        DirSink { base, owner, chown: nix::unistd::Uid::effective().is_root(), cache: None, dir_times: Vec::new() }
    }

    fn open_dir(&self, rel: &Path) -> nix::Result<OwnedFd> {
        let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY;
        match &self.base {
            Base::InRoot { root, dir } => open_in_root(*root, &dir.join(rel), flags),
            Base::Beneath(fd) => open_beneath(fd.as_fd(), rel, flags),
        }
    }

    /// The directory `rel`, made (with its parents) when missing: a tar stream need not list them.
    fn parent(&mut self, rel: &Path) -> Result<BorrowedFd<'_>, TreeError> {
        if !matches!(&self.cache, Some((p, _)) if p == rel) {
            let fd = match self.open_dir(rel) {
                Ok(fd) => fd,
                Err(Errno::ENOENT) => {
                    match &self.base {
                        Base::InRoot { root, dir } => {
                            mkdir_all_in_root(*root, &dir.join(rel), 0o755).map_err(TreeError::errno(rel, "mkdir"))?;
                        }
                        Base::Beneath(base) => {
                            let mut walked = PathBuf::new();
                            for c in rel.components() {
                                let at = open_beneath(base.as_fd(), &walked, OFlag::O_RDONLY | OFlag::O_DIRECTORY)
                                    .map_err(TreeError::errno(rel, "open directory"))?;
                                match nix::sys::stat::mkdirat(
                                    Some(at.as_raw_fd()),
                                    c.as_os_str(),
                                    Mode::from_bits_truncate(0o755),
                                ) {
                                    Ok(()) | Err(Errno::EEXIST) => {}
                                    Err(e) => return Err(TreeError::errno(rel, "mkdir")(e)),
                                }
                                walked.push(c);
                            }
                        }
                    }
                    self.open_dir(rel).map_err(TreeError::errno(rel, "open directory"))?
                }
                Err(Errno::ELOOP | Errno::EXDEV) => {
                    return Err(TreeError::Refused(format!("{}: the path goes through a symlink", rel.display())))
                }
                Err(e) => return Err(TreeError::errno(rel, "open directory")(e)),
            };
            self.cache = Some((rel.to_path_buf(), fd));
        }
        Ok(self.cache.as_ref().expect("just filled").1.as_fd())
    }

    /// Applies the dates of the directories written, deepest first (writing in them changed them).
    fn finish(&mut self) {
        for (rel, mtime) in std::mem::take(&mut self.dir_times).into_iter().rev() {
            if let Ok(fd) = self.open_dir(&rel) {
                let ts = nix::sys::time::TimeSpec::new(mtime, 0);
                let _ = nix::sys::stat::futimens(fd.as_raw_fd(), &ts, &ts);
            }
        }
    }
}

fn set_xattrs(fd: BorrowedFd<'_>, xattrs: &[(String, Vec<u8>)], path: &Path) {
    for (k, v) in xattrs {
        let Ok(c) = CString::new(k.as_str()) else { continue };
        // SAFETY: fd is open, c is NUL-terminated, v is a valid slice.
        let rc = unsafe { libc::fsetxattr(fd.as_raw_fd(), c.as_ptr(), v.as_ptr().cast(), v.len(), 0) };
        if rc != 0 {
            tracing::warn!(path = %path.display(), xattr = k, error = %Errno::last(), "extended attribute not copied");
        }
    }
}

impl Sink for DirSink<'_> {
    fn entry(&mut self, path: &Path, meta: &EntryMeta, data: &mut dyn Read) -> Result<(), TreeError> {
        let Some(name) = path.file_name().map(OsStr::to_os_string) else { return Ok(()) };
        let parent_rel = path.parent().unwrap_or(Path::new("")).to_path_buf();
        let (uid, gid) = self.owner.unwrap_or((meta.uid, meta.gid));
        let chown = self.chown;
        let mode = Mode::from_bits_truncate(meta.mode);
        // a hard link's target is another entry written before
        let link_target = match &meta.kind {
            Kind::HardLink(t) => {
                let tparent = t.parent().unwrap_or(Path::new("")).to_path_buf();
                let tname = t.file_name().ok_or_else(|| TreeError::Refused(format!("{}: bad link", path.display())))?;
                Some((self.open_dir(&tparent).map_err(TreeError::errno(t, "open link target"))?, tname.to_os_string()))
            }
            _ => None,
        };
        let parent = self.parent(&parent_rel)?;
        let pfd = parent.as_raw_fd();
        let existing = match fstatat(Some(pfd), name.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => Some(st),
            Err(Errno::ENOENT) => None,
            Err(e) => return Err(TreeError::errno(path, "stat")(e)),
        };
        let errno = |op| TreeError::errno(path, op);
        if let Kind::Dir = meta.kind {
            match &existing {
                Some(st) if is_dir(st) => {}
                Some(_) => {
                    return Err(TreeError::Refused(format!(
                        "cannot overwrite non-directory {} with a directory",
                        path.display()
                    )))
                }
                None => nix::sys::stat::mkdirat(Some(pfd), name.as_os_str(), Mode::from_bits_truncate(0o700))
                    .map_err(errno("mkdir"))?,
            }
            let dir = layer_writer::open_child(parent, &name, OFlag::O_RDONLY | OFlag::O_DIRECTORY)
                .map_err(errno("open directory"))?;
            if chown {
                nix::unistd::fchown(dir.as_raw_fd(), Some(uid.into()), Some(gid.into())).map_err(errno("chown"))?;
            }
            nix::sys::stat::fchmod(dir.as_raw_fd(), mode).map_err(errno("chmod"))?;
            set_xattrs(dir.as_fd(), &meta.xattrs, path);
            self.dir_times.push((path.to_path_buf(), meta.mtime));
            return Ok(());
        }
        match &existing {
            Some(st) if is_dir(st) => {
                return Err(TreeError::Refused(format!(
                    "cannot overwrite directory {} with a non-directory",
                    path.display()
                )))
            }
            Some(_) => nix::unistd::unlinkat(Some(pfd), name.as_os_str(), nix::unistd::UnlinkatFlags::NoRemoveDir)
                .map_err(errno("replace"))?,
            None => {}
        }
        let ts = nix::sys::time::TimeSpec::new(meta.mtime, 0);
        match &meta.kind {
            Kind::File => {
                let how = nix::fcntl::OpenHow::new()
                    .flags(OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC)
                    .mode(Mode::from_bits_truncate(0o600));
                let fd = nix::fcntl::openat2(pfd, name.as_os_str(), how).map_err(errno("create"))?;
                // SAFETY: openat2 returned a new descriptor that nothing else owns.
                let mut file = unsafe { File::from_raw_fd(fd) };
                io::copy(data, &mut file).map_err(TreeError::io(path, "write"))?;
                if chown {
                    nix::unistd::fchown(file.as_raw_fd(), Some(uid.into()), Some(gid.into()))
                        .map_err(errno("chown"))?;
                }
                nix::sys::stat::fchmod(file.as_raw_fd(), mode).map_err(errno("chmod"))?;
                set_xattrs(file.as_fd(), &meta.xattrs, path);
                nix::sys::stat::futimens(file.as_raw_fd(), &ts, &ts).map_err(errno("set mtime"))?;
                return Ok(());
            }
            Kind::HardLink(_) => {
                let (tdir, tname) = link_target.expect("resolved above");
                nix::unistd::linkat(
                    Some(tdir.as_raw_fd()),
                    tname.as_os_str(),
                    Some(pfd),
                    name.as_os_str(),
                    AtFlags::empty(),
                )
                .map_err(errno("hard link"))?;
                return Ok(());
            }
            Kind::Symlink(target) => {
                nix::unistd::symlinkat(target.as_os_str(), Some(pfd), name.as_os_str()).map_err(errno("symlink"))?
            }
            Kind::Char | Kind::Block | Kind::Fifo => {
                let (kind, dev) = match meta.kind {
                    Kind::Char => (SFlag::S_IFCHR, libc::makedev(meta.dev_major, meta.dev_minor)),
                    Kind::Block => (SFlag::S_IFBLK, libc::makedev(meta.dev_major, meta.dev_minor)),
                    _ => (SFlag::S_IFIFO, 0),
                };
                nix::sys::stat::mknodat(Some(pfd), name.as_os_str(), kind, mode, dev).map_err(errno("mknod"))?;
                nix::sys::stat::fchmodat(
                    Some(pfd),
                    name.as_os_str(),
                    mode,
                    nix::sys::stat::FchmodatFlags::FollowSymlink,
                )
                .map_err(errno("chmod"))?;
            }
            Kind::Dir => unreachable!("handled above"),
        }
        if chown {
            nix::unistd::fchownat(
                Some(pfd),
                name.as_os_str(),
                Some(uid.into()),
                Some(gid.into()),
                AtFlags::AT_SYMLINK_NOFOLLOW,
            )
            .map_err(errno("chown"))?;
        }
        nix::sys::stat::utimensat(
            Some(pfd),
            name.as_os_str(),
            &ts,
            &ts,
            nix::sys::stat::UtimensatFlags::NoFollowSymlink,
        )
        .map_err(errno("set mtime"))
    }
}

/// Feeds a tar stream's entries to `sink`; paths that leave the destination are refused.
fn untar(input: &mut dyn Read, sink: &mut dyn Sink) -> Result<(), String> {
    use tar::EntryType as T;
    let mut archive = tar::Archive::new(input);
    let entries = archive.entries().map_err(|e| format!("read the tar stream: {e}"))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("read the tar stream: {e}"))?;
        let raw = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw).into_owned();
        let Some(path) =
            crate::image::unpack::clean_entry_path(&raw).map_err(|r| format!("refusing tar entry {shown:?}: {r}"))?
        else {
            continue;
        };
        let h = entry.header();
        let link = || -> Result<PathBuf, String> {
            let l = entry.link_name_bytes().ok_or_else(|| format!("tar entry {shown:?}: a link without a target"))?;
            Ok(PathBuf::from(OsStr::from_bytes(&l)))
        };
        let kind = match h.entry_type() {
            T::Regular | T::Continuous => Kind::File,
            T::Directory => Kind::Dir,
            T::Symlink => Kind::Symlink(link()?),
            T::Link => {
                let target = link()?;
                let clean = crate::image::unpack::clean_entry_path(target.as_os_str().as_bytes())
                    .ok()
                    .flatten()
                    .ok_or_else(|| format!("refusing tar entry {shown:?}: its link leaves the destination"))?;
                Kind::HardLink(clean)
            }
            T::Char => Kind::Char,
            T::Block => Kind::Block,
            T::Fifo => Kind::Fifo,
            T::XGlobalHeader | T::XHeader | T::GNULongName | T::GNULongLink => continue,
            other => {
                tracing::warn!(entry = %shown, kind = ?other, "skipping a tar entry of an unsupported type");
                continue;
            }
        };
        let mut xattrs = Vec::new();
        if let Ok(Some(exts)) = entry.pax_extensions() {
            for ext in exts.flatten() {
                if let Some(k) = ext.key().ok().and_then(|k| k.strip_prefix("SCHILY.xattr.")) {
                    if k.starts_with("user.") || k == "security.capability" {
                        xattrs.push((k.to_string(), ext.value_bytes().to_vec()));
                    }
                }
            }
        }
        let h = entry.header();
        let meta = EntryMeta {
            kind,
            mode: h.mode().unwrap_or(0o644) & 0o7777,
            uid: h.uid().unwrap_or(0) as u32,
            gid: h.gid().unwrap_or(0) as u32,
            mtime: h.mtime().unwrap_or(0) as i64,
            size: entry.size(),
            dev_major: h.device_major().ok().flatten().unwrap_or(0),
            dev_minor: h.device_minor().ok().flatten().unwrap_or(0),
            xattrs,
        };
        sink.entry(&path, &meta, &mut entry).map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn refused(c: &super::Container, reason: String) -> Error {
    super::FsError::Refused { container: c.record.name.clone(), reason }.into()
}

impl Rrun {
    /// `cp CONTAINER:SRC DEST` (or `-`: a tar stream of SRC on `dest`).
    pub fn copy_from_container(
        &self,
        container: &str,
        src: &str,
        dest: CopyHost,
        opts: &CopyOptions,
    ) -> Result<(), Error> {
        let c = self.open_container(container)?;
        let given = Given::parse(src);
        let shown = given.shown();
        let owner =
            if opts.archive { None } else { Some((nix::unistd::geteuid().as_raw(), nix::unistd::getegid().as_raw())) };
        let host_dest = match &dest {
            CopyHost::Path(p) => Some(host_given(p).map_err(|reason| refused(&c, reason))?),
            CopyHost::Stream(_) => None,
        };
        let running = c.record.is_running();
        self.with_container_root(&c, |root| {
            let source = source(root, &given, opts.follow_link, &shown)?;
            let kernel = if running { kernel_mounts(root, &c.spec) } else { Default::default() };
            match &dest {
                CopyHost::Stream(out) => {
                    let placement =
                        if source.contents { Placement::Contents } else { Placement::As(PathBuf::from(&source.base)) };
                    let mut sink = TarSink::new(io::BufWriter::with_capacity(1 << 20, out));
                    send(&source, &placement, &mut sink, kernel, &shown)?;
                    let mut w = sink.into_inner().map_err(|e| format!("write the tar stream: {e}"))?;
                    w.flush().map_err(|e| format!("write the tar stream: {e}"))
                }
                CopyHost::Path(p) => {
                    let host = host_root()?;
                    let dest = host_dest.as_ref().expect("made for a path");
                    let (dir, placement) = plan(&source, host.as_fd(), dest)?;
                    let base = open_in_root(host.as_fd(), &dir, OFlag::O_RDONLY | OFlag::O_DIRECTORY)
                        .map_err(sys(&p.display().to_string()))?;
                    let mut sink = DirSink::new(Base::Beneath(base), owner);
                    let r = send(&source, &placement, &mut sink, kernel, &shown);
                    sink.finish();
                    r
                }
            }
        })
    }

    /// `cp SRC CONTAINER:DEST` (or `-`: a tar stream from `src` extracted into DEST).
    pub fn copy_to_container(
        &self,
        src: CopyHost,
        container: &str,
        dest: &str,
        opts: &CopyOptions,
    ) -> Result<(), Error> {
        let c = self.open_container(container)?;
        let given = Given::parse(dest);
        let shown = given.shown();
        let owner = if opts.archive { None } else { Some((0, 0)) };
        let host_src = match &src {
            CopyHost::Path(p) => Some(host_given(p).map_err(|reason| refused(&c, reason))?),
            CopyHost::Stream(_) => None,
        };
        self.with_container_root(&c, |root| match src {
            CopyHost::Stream(mut input) => {
                let loc = locate(root, &given.rel, true, &shown)?;
                if !loc.st.as_ref().is_some_and(is_dir) {
                    return Err(format!("destination {shown} must be a directory"));
                }
                let dir = loc.parent_rel.join(&loc.name);
                let mut sink = DirSink::new(Base::InRoot { root, dir }, owner);
                let r = untar(&mut input, &mut sink);
                sink.finish();
                r
            }
            CopyHost::Path(p) => {
                let host = host_root()?;
                let hgiven = host_src.as_ref().expect("made for a path");
                let source = source(host.as_fd(), hgiven, opts.follow_link, &p.display().to_string())?;
                let (dir, placement) = plan(&source, root, &given)?;
                let mut sink = DirSink::new(Base::InRoot { root, dir }, owner);
                let r = send(&source, &placement, &mut sink, Default::default(), &p.display().to_string());
                sink.finish();
                r
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_paths_say_what_their_end_means() {
        assert_eq!(Given::parse("/etc/"), Given { rel: "etc".into(), slash: true, contents: false });
        assert_eq!(Given::parse("/etc/."), Given { rel: "etc".into(), slash: true, contents: true });
        assert_eq!(Given::parse("/x/../.."), Given { rel: "".into(), slash: false, contents: false });
        assert_eq!(Given::parse("rel/file"), Given { rel: "rel/file".into(), slash: false, contents: false });
    }

    /// A scratch directory, removed when the returned guard drops.
    fn tempdir(name: &str) -> (PathBuf, tempfile::TempDir) {
        let tmp = tempfile::Builder::new().prefix(&format!("rrun-copy-{name}-")).tempdir().unwrap();
        (tmp.path().to_path_buf(), tmp)
    }

    /// Copies `src` to `dest` inside one root, as `cp` would between two.
    fn copy(root: &Path, src: &str, dest: &str, follow: bool) -> Result<(), String> {
        let fd = File::open(root).unwrap();
        let source = source(fd.as_fd(), &Given::parse(src), follow, src)?;
        let (dir, placement) = plan(&source, fd.as_fd(), &Given::parse(dest))?;
        let mut sink = DirSink::new(Base::InRoot { root: fd.as_fd(), dir }, None);
        send(&source, &placement, &mut sink, Default::default(), src)
    }

    #[test]
    fn dockers_path_rules() {
        let (root, _tmp) = tempdir("rules");
        std::fs::create_dir_all(root.join("src/sub")).unwrap();
        std::fs::write(root.join("src/sub/f"), "f").unwrap();
        std::fs::write(root.join("file"), "data").unwrap();
        std::fs::create_dir_all(root.join("existing")).unwrap();
        std::os::unix::fs::symlink("/file", root.join("link")).unwrap();
        // a directory into an existing directory goes inside it
        copy(&root, "/src", "/existing", false).unwrap();
        assert_eq!(std::fs::read(root.join("existing/src/sub/f")).unwrap(), b"f");
        // SRC/. copies the contents
        copy(&root, "/src/.", "/existing", false).unwrap();
        assert_eq!(std::fs::read(root.join("existing/sub/f")).unwrap(), b"f");
        // to a new name: the directory is created with the contents
        copy(&root, "/src", "/new", false).unwrap();
        assert_eq!(std::fs::read(root.join("new/sub/f")).unwrap(), b"f");
        // a file: into a directory, or as a new name, or over a file
        copy(&root, "/file", "/existing/", false).unwrap();
        assert_eq!(std::fs::read(root.join("existing/file")).unwrap(), b"data");
        copy(&root, "/file", "/renamed", false).unwrap();
        copy(&root, "/src/sub/f", "/renamed", false).unwrap();
        assert_eq!(std::fs::read(root.join("renamed")).unwrap(), b"f");
        // errors
        assert!(copy(&root, "/file/", "/x", false).unwrap_err().contains("not a directory"));
        assert!(copy(&root, "/file", "/renamed/", false).unwrap_err().contains("not a directory"));
        assert!(copy(&root, "/file", "/missing/", false).unwrap_err().contains("no such directory"));
        assert!(copy(&root, "/file", "/missing/deeper", false).unwrap_err().contains("no such file"));
        assert!(copy(&root, "/src", "/renamed", false).unwrap_err().contains("cannot copy a directory to a file"));
        assert!(copy(&root, "/nothing", "/x", false).unwrap_err().contains("no such file"));
        // a symlink is copied as a symlink, unless -L
        copy(&root, "/link", "/link-copy", false).unwrap();
        assert_eq!(std::fs::read_link(root.join("link-copy")).unwrap(), Path::new("/file"));
        copy(&root, "/link", "/link-followed", true).unwrap();
        assert_eq!(std::fs::read(root.join("link-followed")).unwrap(), b"data");
    }

    #[test]
    fn symlinks_and_dotdot_stay_inside_the_root() {
        let (base, _tmp) = tempdir("escape");
        let root = base.join("root");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(root.join("etc/secret"), "inside").unwrap();
        std::fs::write(base.join("secret"), "outside").unwrap();
        std::os::unix::fs::symlink(base.join("secret"), root.join("abs")).unwrap();
        std::os::unix::fs::symlink("../../../../secret", root.join("rel")).unwrap();
        std::os::unix::fs::symlink(&base, root.join("up")).unwrap();
        // the host's file is never what is read: absolute targets start at the root
        assert!(copy(&root, "/abs", "/got-abs", true).unwrap_err().contains("no such file"));
        assert!(copy(&root, "/rel", "/got-rel", true).unwrap_err().contains("no such file"));
        assert!(copy(&root, "/up/secret", "/got-up", true).unwrap_err().contains("no such file"));
        copy(&root, "/../../etc/secret", "/got-dotdot", false).unwrap();
        assert_eq!(std::fs::read(root.join("got-dotdot")).unwrap(), b"inside");
        // and nothing is written through them
        std::os::unix::fs::symlink("/", root.join("slash")).unwrap();
        copy(&root, "/etc/secret", "/slash/written", false).unwrap();
        assert!(root.join("written").exists() && !Path::new("/written").exists());
    }

    #[test]
    fn tar_entries_leaving_the_destination_are_refused() {
        let (root, _tmp) = tempdir("untar");
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(1);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, "ok/file", &b"x"[..]).unwrap();
        let good = b.into_inner().unwrap();
        let fd = File::open(&root).unwrap();
        let mut sink = DirSink::new(Base::InRoot { root: fd.as_fd(), dir: PathBuf::new() }, Some((0, 0)));
        untar(&mut &good[..], &mut sink).unwrap();
        assert_eq!(std::fs::read(root.join("ok/file")).unwrap(), b"x");
        // a hand-made header with ../ in its name
        let mut evil = good.clone();
        evil[..7].copy_from_slice(b"../../e");
        let mut h = tar::Header::from_byte_slice(&evil[..512]).clone();
        h.set_cksum();
        evil[..512].copy_from_slice(h.as_bytes());
        let err = untar(&mut &evil[..], &mut sink).unwrap_err();
        assert!(err.contains("refusing") && err.contains(".."), "{err}");
    }
}
