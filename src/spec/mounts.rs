//! `-v` and `--mount`: what a container mounts besides its image, as
//! Docker reads these flags. Named and anonymous volumes stay names here;
//! the lifecycle resolves them to host directories before the Spec is built.

use super::SpecError;
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

/// Where a mount's content comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountSource {
    /// A host path (`-v /host:/ctr`, `--mount type=bind`).
    Bind {
        /// The host path (absolute).
        path: PathBuf,
        /// `private`, `rprivate` (the default), `shared`, `rshared`, `slave` or `rslave`.
        propagation: Option<String>,
        /// `rbind` (the default) or `bind` (`bind-nonrecursive`, `bind-recursive=disabled`).
        recursive: bool,
        /// `bind-recursive=readonly`: sub-mounts are read-only too.
        recursive_readonly: bool,
    },
    /// A named volume, or an anonymous one (`name: None`) that gets a random name.
    Volume {
        /// The volume's name; `None` for an anonymous volume.
        name: Option<String>,
        /// Do not fill an empty volume with the image's content at the mount point.
        nocopy: bool,
        /// `volume-label`: labels of the volume when this creates it.
        labels: BTreeMap<String, String>,
    },
    /// `--mount type=tmpfs`.
    Tmpfs {
        /// `tmpfs-size`: the size limit in bytes (the kernel's default, half of RAM, when `None`).
        size: Option<i64>,
        /// `tmpfs-mode`: the root directory's permission bits (`0o1777`).
        mode: Option<u32>,
    },
}

/// One `-v` or `--mount`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountRequest {
    /// What is mounted: a host path, a named volume, a tmpfs.
    pub source: MountSource,
    /// Where in the container.
    pub destination: PathBuf,
    /// `:ro`/`readonly`.
    pub read_only: bool,
}

const PROPAGATIONS: [&str; 6] = ["private", "rprivate", "shared", "rshared", "slave", "rslave"];

/// Docker's rule for a local volume's name: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn valid_volume_name(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() >= 2
        && b.len() <= 255
        && b[0].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

/// Why a volume name is refused, in Docker's words.
pub fn volume_name_error(name: &str) -> String {
    format!(
        "{name:?} includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. \
         If you intended to pass a host directory, use absolute path"
    )
}

/// A container path: absolute, not `/`, no `..`; returned cleaned.
fn container_path(p: &str) -> Result<PathBuf, &'static str> {
    if !p.starts_with('/') {
        return Err("the container path must be absolute");
    }
    let path = Path::new(p);
    if path.components().any(|c| c == Component::ParentDir) {
        return Err("the container path must not contain '..'");
    }
    let clean: PathBuf = path.components().collect();
    if clean == Path::new("/") {
        return Err("cannot mount over the container's root");
    }
    Ok(clean)
}

impl MountRequest {
    /// `-v [SOURCE:]DESTINATION[:OPTIONS]`: SOURCE is an absolute host path
    /// (bind mount) or a volume name; without it, an anonymous volume.
    /// OPTIONS: `ro`, `rw`, `z`, `Z`, a propagation (binds), `nocopy` (volumes).
    pub fn from_volume_flag(s: &str) -> Result<MountRequest, SpecError> {
        let bad = |reason: &str| SpecError::Volume { spec: s.to_string(), reason: reason.to_string() };
        let parts: Vec<&str> = s.split(':').collect();
        let (src, dst, mode) = match parts.as_slice() {
            [dst] => (None, *dst, ""),
            // `/dst:ro` is a destination with a mode: volumes cannot have one
            [dst, m] if dst.starts_with('/') && m.split(',').all(is_volume_option) => {
                return Err(bad("expected [SOURCE:]CONTAINER-PATH[:OPTIONS]; an anonymous volume takes no options"))
            }
            [src, dst] => (Some(*src), *dst, ""),
            [src, dst, mode] => (Some(*src), *dst, *mode),
            _ => return Err(bad("expected [SOURCE:]CONTAINER-PATH[:OPTIONS]")),
        };
        let destination = container_path(dst).map_err(bad)?;
        let mut read_only = false;
        let mut propagation = None;
        let mut nocopy = false;
        for opt in mode.split(',').filter(|o| !o.is_empty()) {
            match opt {
                "ro" => read_only = true,
                "rw" => read_only = false,
                // SELinux relabelling and macOS consistency: nothing to do here
                "z" | "Z" | "consistent" | "cached" | "delegated" => {}
                "nocopy" => nocopy = true,
                p if PROPAGATIONS.contains(&p) => propagation = Some(p.to_string()),
                _ => {
                    return Err(bad(&format!(
                        "unknown option {opt:?}; expected ro, rw, z, Z, nocopy or a propagation ({})",
                        PROPAGATIONS.join(", ")
                    )))
                }
            }
        }
        let source = match src {
            None => MountSource::Volume { name: None, nocopy, labels: BTreeMap::new() },
            Some("") => return Err(bad("the source is empty")),
            Some(p) if p.starts_with('/') => {
                if nocopy {
                    return Err(bad("nocopy applies to volumes, not to a host path"));
                }
                MountSource::Bind { path: p.into(), propagation, recursive: true, recursive_readonly: false }
            }
            Some(name) => {
                if !valid_volume_name(name) {
                    return Err(bad(&volume_name_error(name)));
                }
                if propagation.is_some() {
                    return Err(bad("a propagation applies to host paths, not to volumes"));
                }
                MountSource::Volume { name: Some(name.to_string()), nocopy, labels: BTreeMap::new() }
            }
        };
        Ok(MountRequest { source, destination, read_only })
    }

    /// `--mount type=bind|volume|tmpfs,source=…,target=…,…` (Docker's CSV syntax).
    pub fn from_mount_flag(s: &str) -> Result<MountRequest, SpecError> {
        let bad = |reason: String| SpecError::Mount { spec: s.to_string(), reason };
        let mut typ = "volume".to_string();
        let mut source: Option<String> = None;
        let mut target: Option<String> = None;
        let mut read_only = false;
        let mut propagation = None;
        let mut recursive = true;
        let mut recursive_readonly = false;
        let mut nocopy = false;
        let mut labels = BTreeMap::new();
        let mut size = None;
        let mut mode = None;
        // which type the options given belong to, to refuse mixing them
        let mut bind_opt = None;
        let mut volume_opt = None;
        let mut tmpfs_opt = None;
        for field in csv_fields(s).map_err(|r| bad(r.into()))? {
            let (key, value) = match field.split_once('=') {
                Some((k, v)) => (k.to_ascii_lowercase(), Some(v.to_string())),
                None => (field.to_ascii_lowercase(), None),
            };
            let need =
                |v: Option<String>| v.ok_or_else(|| bad(format!("invalid field '{field}' must be a key=value pair")));
            let boolean = |v: Option<String>| match v.as_deref() {
                None => Ok(true),
                Some(b) => {
                    parse_bool(b).ok_or_else(|| bad(format!("invalid value for {key}: {b:?} (expected true or false)")))
                }
            };
            match key.as_str() {
                "type" => typ = need(value)?,
                "source" | "src" => source = Some(need(value)?),
                "target" | "dst" | "destination" => target = Some(need(value)?),
                "readonly" | "ro" => read_only = boolean(value)?,
                "consistency" => {
                    need(value)?;
                }
                "bind-propagation" => {
                    let p = need(value)?;
                    if !PROPAGATIONS.contains(&p.as_str()) {
                        return Err(bad(format!("invalid bind-propagation {p:?}: expected one of {}", PROPAGATIONS.join(", "))));
                    }
                    propagation = Some(p);
                    bind_opt = Some(key.clone());
                }
                "bind-nonrecursive" => {
                    recursive = !boolean(value)?;
                    bind_opt = Some(key.clone());
                }
                "bind-recursive" => {
                    match need(value)?.as_str() {
                        "enabled" | "writable" => recursive = true,
                        "disabled" => recursive = false,
                        "readonly" => recursive_readonly = true,
                        other => {
                            return Err(bad(format!(
                                "invalid bind-recursive {other:?}: expected enabled, disabled, writable or readonly"
                            )))
                        }
                    }
                    bind_opt = Some(key.clone());
                }
                "volume-nocopy" => {
                    nocopy = boolean(value)?;
                    volume_opt = Some(key.clone());
                }
                "volume-label" => {
                    let kv = need(value)?;
                    let (k, v) = kv.split_once('=').unwrap_or((&kv, ""));
                    labels.insert(k.to_string(), v.to_string());
                    volume_opt = Some(key.clone());
                }
                "volume-driver" => {
                    let d = need(value)?;
                    if d != "local" {
                        return Err(bad(format!("volume driver {d:?} is not available: rrun has the local driver only")));
                    }
                    volume_opt = Some(key.clone());
                }
                "volume-opt" => {
                    return Err(bad(
                        "volume-opt is not supported: rrun's local volumes are plain directories and take no driver options"
                            .into(),
                    ))
                }
                "tmpfs-size" => {
                    size = Some(super::resources::parse_bytes("--mount tmpfs-size", &need(value)?)?);
                    tmpfs_opt = Some(key.clone());
                }
                "tmpfs-mode" => {
                    let m = need(value)?;
                    mode = Some(
                        u32::from_str_radix(&m, 8)
                            .ok()
                            .filter(|m| *m <= 0o7777)
                            .ok_or_else(|| bad(format!("invalid tmpfs-mode {m:?}: expected an octal mode like 1777")))?,
                    );
                    tmpfs_opt = Some(key.clone());
                }
                _ => return Err(bad(format!("unexpected key '{key}' in '{field}'"))),
            }
        }
        let target = target.ok_or_else(|| bad("target is required".into()))?;
        let destination = container_path(&target).map_err(|r| bad(r.into()))?;
        let mix = |opt: &Option<String>, kind: &str| match opt {
            Some(o) if kind != typ => Err(bad(format!("cannot mix '{o}' with mount type '{typ}'"))),
            _ => Ok(()),
        };
        mix(&bind_opt, "bind")?;
        mix(&volume_opt, "volume")?;
        mix(&tmpfs_opt, "tmpfs")?;
        let source = match typ.as_str() {
            "bind" => {
                let path = source.filter(|s| !s.is_empty()).ok_or_else(|| {
                    bad("invalid mount config for type \"bind\": field Source must not be empty".into())
                })?;
                if !path.starts_with('/') {
                    return Err(bad(format!(
                        "invalid mount config for type \"bind\": {path:?} is not an absolute path"
                    )));
                }
                MountSource::Bind { path: path.into(), propagation, recursive, recursive_readonly }
            }
            "volume" => match source.filter(|s| !s.is_empty()) {
                Some(name) if !valid_volume_name(&name) => return Err(bad(volume_name_error(&name))),
                name => MountSource::Volume { name, nocopy, labels },
            },
            "tmpfs" => {
                if source.is_some_and(|s| !s.is_empty()) {
                    return Err(bad(
                        "invalid mount config for type \"tmpfs\": field Source must not be specified".into()
                    ));
                }
                MountSource::Tmpfs { size, mode }
            }
            other => return Err(bad(format!("invalid mount type {other:?}: expected bind, volume or tmpfs"))),
        };
        Ok(MountRequest { source, destination, read_only })
    }

    /// The volume's name, for a volume mount.
    pub fn volume_name(&self) -> Option<&str> {
        match &self.source {
            MountSource::Volume { name, .. } => name.as_deref(),
            _ => None,
        }
    }
}

fn is_volume_option(o: &str) -> bool {
    matches!(o, "ro" | "rw" | "z" | "Z" | "nocopy" | "consistent" | "cached" | "delegated") || PROPAGATIONS.contains(&o)
}

/// Go's strconv.ParseBool, which Docker uses for `--mount` booleans.
fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// The fields of one CSV record (`"a,b"` quoting as Docker's encoding/csv allows).
fn csv_fields(s: &str) -> Result<Vec<String>, &'static str> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                cur.push('"');
            }
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    if quoted {
        return Err("unterminated quote");
    }
    out.push(cur);
    Ok(out.into_iter().map(|f| f.trim().to_string()).filter(|f| !f.is_empty()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Result<MountRequest, SpecError> {
        MountRequest::from_volume_flag(s)
    }

    fn m(s: &str) -> Result<MountRequest, SpecError> {
        MountRequest::from_mount_flag(s)
    }

    fn err(r: Result<MountRequest, SpecError>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn volume_flag_binds_names_and_anonymous() {
        let b = v("/data:/mnt:ro").unwrap();
        assert_eq!(b.destination, PathBuf::from("/mnt"));
        assert!(b.read_only);
        assert!(
            matches!(&b.source, MountSource::Bind { path, recursive: true, propagation: None, .. } if path == Path::new("/data"))
        );
        let b = v("/data:/mnt:rshared,rw").unwrap();
        assert!(!b.read_only);
        assert!(matches!(&b.source, MountSource::Bind { propagation: Some(p), .. } if p == "rshared"));
        let n = v("cache:/var/cache:nocopy").unwrap();
        assert_eq!(n.volume_name(), Some("cache"));
        assert!(matches!(n.source, MountSource::Volume { nocopy: true, .. }));
        let a = v("/scratch").unwrap();
        assert!(matches!(a.source, MountSource::Volume { name: None, nocopy: false, .. }));
        assert_eq!(a.destination, PathBuf::from("/scratch"));
        assert!(err(v("/data:/mnt/../x")).contains(".."));
        assert!(err(v("./rel:/x")).contains("invalid characters for a local volume name"));
        assert!(err(v("x:/y")).contains("invalid characters"), "one character is too short a name");
        assert!(err(v("/data:mnt")).contains("absolute"));
        assert!(err(v("/data:/")).contains("root"));
        assert!(err(v("/data:/mnt:bogus")).contains("\"bogus\""));
        assert!(err(v("/data:ro")).contains("anonymous volume takes no options"));
        assert!(err(v("vol:/x:rshared")).contains("propagation"));
        assert!(err(v("/h:/x:nocopy")).contains("nocopy"));
        assert!(v("a:b:c:d").is_err());
    }

    #[test]
    fn mount_flag_parses_dockers_keys() {
        let b = m("type=bind,source=/src,target=/dst,readonly,bind-propagation=rslave").unwrap();
        assert!(b.read_only);
        assert!(matches!(&b.source, MountSource::Bind { path, propagation: Some(p), recursive: true, .. }
            if path == Path::new("/src") && p == "rslave"));
        let b = m("type=bind,src=/src,dst=/dst,ro=false,bind-nonrecursive").unwrap();
        assert!(!b.read_only);
        assert!(matches!(b.source, MountSource::Bind { recursive: false, .. }));
        let b = m("type=bind,src=/s,destination=/d,bind-recursive=readonly,ro=1").unwrap();
        assert!(matches!(b.source, MountSource::Bind { recursive_readonly: true, .. }));
        let vol = m("source=data,target=/data,volume-nocopy=true,volume-label=a=b,volume-driver=local").unwrap();
        match vol.source {
            MountSource::Volume { name, nocopy, labels } => {
                assert_eq!(name.as_deref(), Some("data"));
                assert!(nocopy);
                assert_eq!(labels.get("a").map(String::as_str), Some("b"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(m("type=volume,target=/anon").unwrap().source, MountSource::Volume { name: None, .. }));
        let t = m("type=tmpfs,target=/t,tmpfs-size=1m,tmpfs-mode=1770").unwrap();
        assert_eq!(t.source, MountSource::Tmpfs { size: Some(1 << 20), mode: Some(0o1770) });
        assert!(m("\"type=bind\",\"source=/a,b\",target=/x").is_ok(), "CSV quoting");
    }

    #[test]
    fn mount_flag_errors_name_the_bad_key() {
        assert!(err(m("type=bind,source=/a,target=/b,foo=bar")).contains("unexpected key 'foo' in 'foo=bar'"));
        assert!(err(m("type=bind,source=/a")).contains("target is required"));
        assert!(err(m("type=bind,target=/b")).contains("Source must not be empty"));
        assert!(err(m("type=bind,source=rel,target=/b")).contains("absolute"));
        assert!(err(m("type=tmpfs,source=/a,target=/b")).contains("must not be specified"));
        assert!(err(m("type=bind,source=/a,target=/b,volume-nocopy"))
            .contains("cannot mix 'volume-nocopy' with mount type 'bind'"));
        assert!(err(m("type=volume,target=/b,tmpfs-size=1m")).contains("'tmpfs-size'"));
        assert!(err(m("type=volume,target=/b,volume-opt=type=nfs")).contains("volume-opt"));
        assert!(err(m("type=volume,target=/b,volume-driver=nfs")).contains("\"nfs\""));
        assert!(err(m("type=bind,source=/a,target=/b,readonly=maybe")).contains("readonly"));
        assert!(err(m("type=npipe,source=/a,target=/b")).contains("\"npipe\""));
        assert!(err(m("type=tmpfs,target=/b,tmpfs-mode=999")).contains("tmpfs-mode"));
        assert!(err(m("type=bind,source=/a,target=/b,bind-propagation=sideways")).contains("sideways"));
        assert!(err(m("type=bind,source=/a,target=/b,\"unterminated")).contains("quote"));
        assert!(err(m("type,source=/a,target=/b")).contains("'type'"));
    }
}
