//! Stacking unpacked layers into a container rootfs (kernel overlayfs), and
//! reading a file through the stack before it is mounted.

use crate::digest::Digest;
use crate::securefs::open_beneath;
use crate::store::Store;
use nix::fcntl::OFlag;
use std::io::Read;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

/// How a container's root filesystem is provided (what [`crate::DryRun`] shows).
#[derive(Debug, Clone)]
pub enum RootfsSource {
    /// Layers stacked by overlayfs; `lowers` are relative to `layers_dir`, top first.
    Overlay {
        /// The store's directory of unpacked layers.
        layers_dir: PathBuf,
        /// The lower directories, top layer first, relative to `layers_dir`.
        lowers: Vec<String>,
        /// The container's writable layer.
        upper: PathBuf,
        /// Overlayfs's work directory (beside `upper`).
        work: PathBuf,
        /// Where the overlay is mounted.
        target: PathBuf,
    },
    /// A directory used as it is (an OCI bundle's rootfs).
    Directory(PathBuf),
}

impl RootfsSource {
    /// Where the root filesystem is (the overlay's mount point, or the directory).
    pub fn target(&self) -> &Path {
        match self {
            RootfsSource::Overlay { target, .. } => target,
            RootfsSource::Directory(p) => p,
        }
    }
}

/// The overlay for a container: image layers (top first) as lowerdirs, the
/// container's own `upper/` and `work/`, mounted on its `rootfs/`.
/// A layer listed twice (identical empty layers are common) is one lowerdir at
/// its topmost position: overlayfs refuses a directory twice (ELOOP), and the
/// upper copy already shows everything the lower one would.
pub fn overlay(store: &Store, layers_bottom_first: &[Digest], container_dir: &Path) -> RootfsSource {
    let mut seen = std::collections::HashSet::new();
    RootfsSource::Overlay {
        layers_dir: store.layers_dir(),
        lowers: layers_bottom_first
            .iter()
            .rev()
            .filter(|d| seen.insert(*d))
            .map(|d| format!("{}/diff", d.hex()))
            .collect(),
        upper: container_dir.join("upper"),
        work: container_dir.join("work"),
        target: container_dir.join("rootfs"),
    }
}

/// What one layer says about a path.
enum Found {
    File(Vec<u8>),
    /// Deleted here (whiteout) or hidden by an opaque directory above.
    Gone,
    NotHere,
}

/// Reads `rel` (like `etc/passwd`) as the merged rootfs would show it, from
/// the top layer down, honouring whiteouts and opaque directories. Symlinks
/// are not followed (they could point at the host); such a file reads as absent.
pub fn read_through_layers(layer_dirs_top_first: &[PathBuf], rel: &str, limit: u64) -> Option<Vec<u8>> {
    for dir in layer_dirs_top_first {
        match find_in_layer(dir, Path::new(rel), limit) {
            Found::File(b) => return Some(b),
            Found::Gone => return None,
            Found::NotHere => {}
        }
    }
    None
}

fn find_in_layer(layer: &Path, rel: &Path, limit: u64) -> Found {
    let Ok(root) = std::fs::File::open(layer) else {
        return Found::NotHere;
    };
    let mut prefix = PathBuf::new();
    let mut opaque_above = false;
    let comps: Vec<_> = rel.components().collect();
    for (i, c) in comps.iter().enumerate() {
        prefix.push(c);
        let Ok(meta) = std::fs::symlink_metadata(layer.join(&prefix)) else {
            return if opaque_above { Found::Gone } else { Found::NotHere };
        };
        if is_whiteout(&meta) {
            return Found::Gone;
        }
        if i + 1 < comps.len() {
            if !meta.is_dir() {
                return Found::NotHere;
            }
            if is_opaque(&layer.join(&prefix)) {
                opaque_above = true;
            }
        }
    }
    match open_beneath(root.as_fd(), rel, OFlag::O_RDONLY) {
        Ok(fd) => {
            let mut buf = Vec::new();
            let mut f = std::fs::File::from(fd);
            if f.metadata().map(|m| m.is_file()).unwrap_or(false) && (&mut f).take(limit).read_to_end(&mut buf).is_ok()
            {
                Found::File(buf)
            } else {
                Found::Gone
            }
        }
        Err(_) => Found::Gone,
    }
}

/// What one layer holds at a path.
enum InLayer {
    Here(std::fs::Metadata),
    /// Deleted here, or hidden by a whiteout, an opaque directory or a non-directory above it.
    Gone,
    NotHere,
}

fn stat_in_layer(layer: &Path, rel: &Path) -> InLayer {
    let comps: Vec<_> = rel.components().collect();
    let mut prefix = PathBuf::new();
    let mut opaque_above = false;
    for (i, c) in comps.iter().enumerate() {
        prefix.push(c);
        let Ok(meta) = std::fs::symlink_metadata(layer.join(&prefix)) else {
            return if opaque_above { InLayer::Gone } else { InLayer::NotHere };
        };
        if is_whiteout(&meta) {
            return InLayer::Gone;
        }
        if i + 1 == comps.len() {
            return InLayer::Here(meta);
        }
        if !meta.is_dir() {
            return InLayer::Gone;
        }
        if is_opaque(&layer.join(&prefix)) {
            opaque_above = true;
        }
    }
    InLayer::NotHere
}

/// The metadata of `rel` as the stacked layers (top first) show it, without
/// following symlinks; `None` when no layer has it or a whiteout hides it.
pub fn stat_through_layers(layer_dirs_top_first: &[PathBuf], rel: &Path) -> Option<std::fs::Metadata> {
    for dir in layer_dirs_top_first {
        match stat_in_layer(dir, rel) {
            InLayer::Here(m) => return Some(m),
            InLayer::Gone => return None,
            InLayer::NotHere => {}
        }
    }
    None
}

fn is_whiteout(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    meta.file_type().is_char_device() && meta.rdev() == 0
}

fn is_opaque(dir: &Path) -> bool {
    let Ok(c) = std::ffi::CString::new(std::os::unix::ffi::OsStrExt::as_bytes(dir.as_os_str())) else {
        return false;
    };
    let mut v = [0u8; 2];
    let name = crate::rootless::opaque_xattr();
    // SAFETY: c and name are NUL-terminated and v is a writable buffer of the given length.
    let n = unsafe { libc::lgetxattr(c.as_ptr(), name.as_ptr(), v.as_mut_ptr().cast(), v.len()) };
    n == 1 && v[0] == b'y'
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn reads_top_layer_first_and_honours_whiteouts() {
        let base_tmp = tempfile::tempdir().unwrap();
        let base = base_tmp.path().to_path_buf();
        let (l1, l2, l3) = (base.join("l1"), base.join("l2"), base.join("l3"));
        for l in [&l1, &l2, &l3] {
            fs::create_dir_all(l.join("etc")).unwrap();
        }
        fs::write(l1.join("etc/passwd"), "bottom").unwrap();
        fs::write(l1.join("etc/group"), "bottom").unwrap();
        fs::write(l2.join("etc/passwd"), "middle").unwrap();
        let layers = vec![l3.clone(), l2.clone(), l1.clone()];
        assert_eq!(read_through_layers(&layers, "etc/passwd", 1 << 20).unwrap(), b"middle");
        assert_eq!(read_through_layers(&layers, "etc/group", 1 << 20).unwrap(), b"bottom");
        assert_eq!(read_through_layers(&layers, "etc/shadow", 1 << 20), None);
        if nix::unistd::Uid::effective().is_root() {
            nix::sys::stat::mknod(
                &l3.join("etc/group"),
                nix::sys::stat::SFlag::S_IFCHR,
                nix::sys::stat::Mode::empty(),
                0,
            )
            .unwrap();
            assert_eq!(read_through_layers(&layers, "etc/group", 1 << 20), None, "whiteout hides the lower file");
            assert!(stat_through_layers(&layers, Path::new("etc/group")).is_none());
            // an opaque directory hides what lies below it
            fs::create_dir_all(l2.join("opq")).unwrap();
            fs::create_dir_all(l1.join("opq")).unwrap();
            fs::write(l1.join("opq/below"), "x").unwrap();
            fs::write(l2.join("opq/mine"), "x").unwrap();
            let c = std::ffi::CString::new(l2.join("opq").into_os_string().into_encoded_bytes()).unwrap();
            // SAFETY: NUL-terminated strings and a one-byte value.
            let rc =
                unsafe { libc::setxattr(c.as_ptr(), c"trusted.overlay.opaque".as_ptr(), b"y".as_ptr().cast(), 1, 0) };
            assert_eq!(rc, 0);
            assert!(stat_through_layers(&layers, Path::new("opq/mine")).is_some());
            assert!(stat_through_layers(&layers, Path::new("opq/below")).is_none());
        }
        assert!(stat_through_layers(&layers, Path::new("etc/passwd")).is_some_and(|m| m.len() == 6));
        assert!(stat_through_layers(&layers, Path::new("etc/nothing")).is_none());
    }
}
