//! Volumes: directories rrun keeps in its store and binds into containers
//! (`-v NAME:/path`, `--mount type=volume`, `rrun volume …`), as Docker's
//! `local` driver keeps them.
//!
//! ```text
//! volumes/                      0700: copied-up setuid files and device nodes stay out of other users' reach
//! volumes/<name>/_data/         the content, bound into containers
//! volumes/<name>/volume.json    {Name, Driver, Mountpoint, CreatedAt, Labels, Options, Scope}
//! ```
//! A volume is created whole (staged under `tmp/`, renamed into place under
//! the store lock). Which containers use it is in their records
//! ([`crate::container::VolumeUse`]): a volume in use by any container,
//! running or not, is not removed.

use crate::spec::mounts::{valid_volume_name, volume_name_error};
use crate::store::Store;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The label Docker (23+) gives anonymous volumes; `volume prune` without
/// `--all` removes only volumes that carry it.
pub const ANONYMOUS_LABEL: &str = "com.docker.volume.anonymous";

/// Why a named volume cannot be created, used or removed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VolumeError {
    /// A volume name or option that is not allowed.
    #[error("create {name}: {reason}")]
    Invalid {
        /// The volume.
        name: String,
        /// What is wrong, or why it failed.
        reason: String,
    },
    /// No volume of this name.
    #[error("get {0}: no such volume")]
    NotFound(String),
    /// Removing a volume that containers use (without force).
    #[error("remove {name}: volume is in use - [{containers}]")]
    InUse {
        /// The volume.
        name: String,
        /// The containers that use it.
        containers: String,
    },
    /// A volume driver other than `local`.
    #[error("volume driver {0:?} is not available: rrun has the local driver only")]
    Driver(String),
    /// A volume's metadata does not parse.
    #[error("volume {name}: {path}: {reason}")]
    Corrupt {
        /// The volume.
        name: String,
        /// The file or directory.
        path: PathBuf,
        /// What is wrong, or why it failed.
        reason: String,
    },
    /// A file operation on a volume failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Reading the store (the containers that use a volume) failed.
    #[error(transparent)]
    Store(Box<crate::store::StoreError>),
}

impl From<crate::store::StoreError> for VolumeError {
    fn from(e: crate::store::StoreError) -> Self {
        VolumeError::Store(Box::new(e))
    }
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> VolumeError + '_ {
    move |source| VolumeError::Io { path: path.to_path_buf(), source }
}

/// A volume, as `volume.json` and `docker volume inspect` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Volume {
    /// When it was created (RFC 3339).
    pub created_at: String,
    /// Always `local`.
    pub driver: String,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// Its `_data` directory in the store.
    pub mountpoint: PathBuf,
    /// Its name.
    pub name: String,
    /// The local driver's options (`type`, `o`, `device`).
    pub options: BTreeMap<String, String>,
    /// Always `local`.
    pub scope: String,
}

impl Volume {
    /// Created for a container (`-v /path`, an image's `Volumes`), not by name.
    pub fn is_anonymous(&self) -> bool {
        self.labels.contains_key(ANONYMOUS_LABEL)
    }

    /// The directory bound into containers: the host directory of a
    /// `type=none,o=bind,device=DIR` volume, else its `_data`.
    pub fn source(&self) -> PathBuf {
        match self.options.get("device") {
            Some(d) if self.options.get("o").is_some_and(|o| o == "bind" || o == "rbind") => PathBuf::from(d),
            _ => self.mountpoint.clone(),
        }
    }
}

/// What `volume create` (or a container) asks for.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct CreateVolume {
    /// None: a random 64-hex name.
    pub name: Option<String>,
    /// Only `local`.
    pub driver: Option<String>,
    /// `--label`s.
    pub labels: BTreeMap<String, String>,
    /// `-o`: the local driver's `type=none`, `o=bind`, `device=DIR` (bind a host directory).
    pub options: BTreeMap<String, String>,
}

/// `volumes/` of a store.
pub fn volumes_dir(store: &Store) -> PathBuf {
    store.root().join("volumes")
}

pub(crate) fn volume_dir(store: &Store, name: &str) -> PathBuf {
    volumes_dir(store).join(name)
}

/// Reads one volume's record.
pub(crate) fn read(store: &Store, name: &str) -> Result<Volume, VolumeError> {
    if !valid_volume_name(name) {
        return Err(VolumeError::NotFound(name.to_string()));
    }
    let path = volume_dir(store, name).join("volume.json");
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(VolumeError::NotFound(name.into())),
        Err(e) => return Err(VolumeError::Io { path, source: e }),
    };
    serde_json::from_slice(&bytes).map_err(|e| VolumeError::Corrupt { name: name.into(), path, reason: e.to_string() })
}

/// Every volume of the store, by name.
pub(crate) fn list(store: &Store) -> Result<Vec<Volume>, VolumeError> {
    let dir = volumes_dir(store);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(VolumeError::Io { path: dir, source: e }),
    };
    let mut out: Vec<Volume> =
        entries.flatten().filter_map(|e| e.file_name().to_str().and_then(|n| read(store, n).ok())).collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Checks the local driver's options: none, or a bind of a host directory.
fn check_options(name: &str, options: &BTreeMap<String, String>) -> Result<(), VolumeError> {
    if options.is_empty() {
        return Ok(());
    }
    let bad = |reason: String| VolumeError::Invalid { name: name.to_string(), reason };
    if let Some(k) = options.keys().find(|k| !matches!(k.as_str(), "type" | "o" | "device")) {
        return Err(bad(format!("unknown driver option {k:?}: the local driver takes type, o and device")));
    }
    let (typ, o, device) = (options.get("type"), options.get("o"), options.get("device"));
    match (typ.map(String::as_str), o.map(String::as_str), device) {
        (Some("none"), Some("bind" | "rbind"), Some(d)) => {
            if !d.starts_with('/') || !Path::new(d).is_dir() {
                return Err(bad(format!("device {d:?} must be an existing host directory (an absolute path)")));
            }
            Ok(())
        }
        _ => Err(bad(format!(
            "the local driver in rrun binds host directories only (-o type=none -o o=bind -o device=DIR); \
             mounting a filesystem (type={}) is not supported",
            typ.map(String::as_str).unwrap_or("?")
        ))),
    }
}

/// The volume `req` names: the existing one of that name (`false`), or the
/// one to make (`true`), checked and not made yet (its `created_at` empty).
/// An anonymous one gets a fresh name.
fn resolve(store: &Store, req: &CreateVolume) -> Result<(Volume, bool), VolumeError> {
    if let Some(d) = req.driver.as_deref().filter(|d| *d != "local") {
        return Err(VolumeError::Driver(d.to_string()));
    }
    let name = match &req.name {
        Some(n) if !valid_volume_name(n) => {
            return Err(VolumeError::Invalid { name: n.clone(), reason: volume_name_error(n) })
        }
        Some(n) => n.clone(),
        None => crate::digest::random_hex(),
    };
    if let Ok(v) = read(store, &name) {
        return Ok((v, false));
    }
    check_options(&name, &req.options)?;
    let volume = Volume {
        created_at: String::new(),
        driver: "local".into(),
        labels: req.labels.clone(),
        mountpoint: volume_dir(store, &name).join("_data"),
        name,
        options: req.options.clone(),
        scope: "local".into(),
    };
    Ok((volume, true))
}

/// Creates a volume; the caller holds the store's exclusive lock. An existing
/// one of that name is returned as it is (`false`), as Docker does.
pub(crate) fn create_locked(store: &Store, req: &CreateVolume) -> Result<(Volume, bool), VolumeError> {
    let mut volume = match resolve(store, req)? {
        (v, true) => v,
        existing => return Ok(existing),
    };
    let root = volumes_dir(store);
    if !root.is_dir() {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&root).map_err(io_error(&root))?;
    }
    volume.created_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let name = volume.name.clone();
    let dir = volume_dir(store, &name);
    let staging = store.staging("volume")?;
    let data = staging.path().join("_data");
    std::fs::create_dir(&data).map_err(io_error(&data))?;
    let json = staging.path().join("volume.json");
    std::fs::write(&json, serde_json::to_vec_pretty(&volume).expect("volume serializes")).map_err(io_error(&json))?;
    if !store.commit(staging, None, &dir)? {
        return Ok((read(store, &name)?, false));
    }
    tracing::info!(volume = %name, "volume created");
    Ok((volume, true))
}

/// The volume a container would use (`--dry-run`): the existing one of that
/// name (`false`), or the one [`create_locked`] would make, checked the same
/// way and not made (`true`). An anonymous one gets a name it will not keep.
pub(crate) fn planned(store: &Store, req: &CreateVolume) -> Result<(Volume, bool), VolumeError> {
    resolve(store, req)
}

/// What `volume prune` removed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Pruned {
    /// Names of the volumes removed.
    pub volumes: Vec<String>,
    /// Bytes freed.
    pub space: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store in a new temporary directory, removed when the returned guard drops.
    fn temp_store(tag: &str) -> (Store, PathBuf, tempfile::TempDir) {
        let tmp = tempfile::Builder::new().prefix(&format!("rrun-volume-unit-{tag}-")).tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        (Store::open(&dir).unwrap(), dir, tmp)
    }

    #[test]
    fn create_is_whole_and_idempotent() {
        let (store, dir, _tmp) = temp_store("create");
        let req = CreateVolume {
            name: Some("data".into()),
            labels: BTreeMap::from([("a".into(), "b".into())]),
            ..Default::default()
        };
        let (v, created) = create_locked(&store, &req).unwrap();
        assert!(created);
        assert_eq!((v.driver.as_str(), v.scope.as_str()), ("local", "local"));
        assert_eq!(v.mountpoint, dir.join("volumes/data/_data"));
        assert!(v.mountpoint.is_dir());
        assert_eq!(read(&store, "data").unwrap(), v);
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(dir.join("volumes")).unwrap().permissions().mode() & 0o777, 0o700);
        let (again, created) =
            create_locked(&store, &CreateVolume { name: Some("data".into()), ..Default::default() }).unwrap();
        assert!(!created);
        assert_eq!(again.labels, v.labels, "an existing volume is returned as it is");
        let (anon, _) = create_locked(&store, &CreateVolume::default()).unwrap();
        assert_eq!(anon.name.len(), 64);
        assert_eq!(list(&store).unwrap().len(), 2);
        assert!(std::fs::read_dir(dir.join("tmp")).unwrap().next().is_none(), "nothing left in staging");
    }

    #[test]
    fn bad_names_drivers_and_options_are_refused() {
        let (store, dir, _tmp) = temp_store("refuse");
        let named = |n: &str| CreateVolume { name: Some(n.into()), ..Default::default() };
        let e = create_locked(&store, &named("a/b")).unwrap_err().to_string();
        assert!(e.contains("invalid characters"), "{e}");
        let e = create_locked(&store, &CreateVolume { driver: Some("nfs".into()), ..named("ok1") })
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"nfs\""), "{e}");
        let opts = |kv: &[(&str, &str)]| kv.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let tmpfs = CreateVolume { options: opts(&[("type", "tmpfs"), ("device", "tmpfs")]), ..named("ok2") };
        let e = create_locked(&store, &tmpfs).unwrap_err().to_string();
        assert!(e.contains("type=tmpfs") && e.contains("not supported"), "{e}");
        let unknown = CreateVolume { options: opts(&[("size", "1m")]), ..named("ok3") };
        assert!(create_locked(&store, &unknown).unwrap_err().to_string().contains("\"size\""));
        let host = dir.join("host");
        std::fs::create_dir_all(&host).unwrap();
        let bind = CreateVolume {
            options: opts(&[("type", "none"), ("o", "bind"), ("device", host.to_str().unwrap())]),
            ..named("bound")
        };
        let (v, _) = create_locked(&store, &bind).unwrap();
        assert_eq!(v.source(), host, "a bind volume's content is the host directory");
        let missing = CreateVolume {
            options: opts(&[("type", "none"), ("o", "bind"), ("device", "/no/such/dir")]),
            ..named("ok4")
        };
        assert!(create_locked(&store, &missing).is_err());
        assert!(matches!(read(&store, "nope"), Err(VolumeError::NotFound(_))));
    }
}
