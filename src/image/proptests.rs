//! Property tests (proptest; `PROPTEST_CASES`, 256 by default, bounds each) of what
//! rrun reads from outside: manifests, indexes and configs (any bytes, any JSON:
//! an `Err` with a reason, never a panic) and layer tars (hostile paths, `..`,
//! absolute paths, symlink chains, hard links, whiteouts, long names: nothing is
//! ever written outside the layer directory; a valid tree unpacks to itself).

use super::unpack::{unpack_layer, UnpackRequest};
use super::{parse_index, parse_manifest, ImageConfig, LAYER_TYPES, MEDIA_OCI_CONFIG, MEDIA_OCI_INDEX};
use crate::digest::Digest;
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

// ---- manifests, indexes, configs ----

/// Keys that manifests, indexes and configs use, and some that they do not.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "schemaVersion",
            "mediaType",
            "config",
            "layers",
            "manifests",
            "digest",
            "size",
            "platform",
            "architecture",
            "os",
            "variant",
            "rootfs",
            "diff_ids",
            "type",
            "history",
            "annotations",
            "Env",
            "Cmd",
            "Healthcheck",
        ])
        .prop_map(String::from),
        "[a-zA-Z]{1,8}",
    ]
}

/// Any JSON value, biased towards what a manifest holds.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        Just(Value::from(2)),
        Just(Value::from(1)),
        prop::sample::select(LAYER_TYPES.to_vec()).prop_map(Value::from),
        Just(Value::from(MEDIA_OCI_CONFIG)),
        Just(Value::from(MEDIA_OCI_INDEX)),
        "[0-9a-f]{64}".prop_map(|h| Value::from(format!("sha256:{h}"))),
        any::<String>().prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 64, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Value::Array),
            btree_map(key(), inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn descriptor(media: &'static str) -> impl Strategy<Value = Value> {
    // a config larger than MAX_JSON_SIZE is refused: sizes of configs stay below it
    let max = if media == MEDIA_OCI_CONFIG { super::MAX_JSON_SIZE } else { 1 << 40 };
    ("[0-9a-f]{64}", 0..=max)
        .prop_map(move |(h, size)| json!({"mediaType": media, "digest": format!("sha256:{h}"), "size": size}))
}

/// A valid OCI image manifest.
fn manifest() -> impl Strategy<Value = Value> {
    (descriptor(MEDIA_OCI_CONFIG), vec(prop::sample::select(LAYER_TYPES.to_vec()).prop_flat_map(descriptor), 0..5))
        .prop_map(|(config, layers)| {
            json!({"schemaVersion": 2, "mediaType": super::MEDIA_OCI_MANIFEST, "config": config, "layers": layers})
        })
}

/// A valid OCI image index.
fn index() -> impl Strategy<Value = Value> {
    let platform = (prop::sample::select(vec!["amd64", "arm64", "s390x"]), proptest::option::of("v[5-8]"));
    vec((descriptor(super::MEDIA_OCI_MANIFEST), proptest::option::of(platform)), 0..5).prop_map(|ms| {
        let manifests: Vec<Value> = ms
            .into_iter()
            .map(|(mut d, p)| {
                if let Some((arch, variant)) = p {
                    d["platform"] = json!({"architecture": arch, "os": "linux"});
                    if let Some(v) = variant {
                        d["platform"]["variant"] = v.into();
                    }
                }
                d
            })
            .collect();
        json!({"schemaVersion": 2, "mediaType": MEDIA_OCI_INDEX, "manifests": manifests})
    })
}

/// `v` with the value at one path (chosen by `pick`) replaced by `with`.
fn mutate(v: &mut Value, pick: &[usize], with: Value) {
    let mut at = v;
    for (depth, i) in pick.iter().enumerate() {
        let next = match at {
            Value::Object(m) if !m.is_empty() => {
                let k = m.keys().nth(i % m.len()).unwrap().clone();
                m.get_mut(&k).unwrap()
            }
            Value::Array(a) if !a.is_empty() => {
                let n = a.len();
                &mut a[i % n]
            }
            _ => break,
        };
        if depth + 1 == pick.len() {
            *next = with;
            return;
        }
        at = next;
    }
}

/// Every parser of what a registry or an archive hands rrun, on `bytes`: none may panic,
/// and every error says something.
fn parse_all(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Err(e) = parse_manifest(bytes) {
        prop_assert!(!e.is_empty());
    }
    if let Err(e) = parse_index(bytes) {
        prop_assert!(!e.is_empty());
    }
    if let Err(e) = serde_json::from_slice::<ImageConfig>(bytes) {
        prop_assert!(!e.to_string().is_empty());
    }
    Ok(())
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_a_parser(bytes in vec(any::<u8>(), 0..512)) {
        parse_all(&bytes)?;
    }

    #[test]
    fn arbitrary_json_never_panics_a_parser(v in json_value()) {
        parse_all(&serde_json::to_vec(&v).unwrap())?;
    }

    /// A valid manifest parses to what it says; with any one value replaced by any JSON,
    /// parsing still ends in Ok or Err.
    #[test]
    fn manifests_parse_and_mutants_never_panic(m in manifest(), pick in vec(any::<usize>(), 1..4), with in json_value()) {
        let bytes = serde_json::to_vec(&m).unwrap();
        let parsed = parse_manifest(&bytes).map_err(TestCaseError::fail)?;
        prop_assert_eq!(parsed.config().digest().to_string(), m["config"]["digest"].as_str().unwrap());
        let layers: Vec<String> = parsed.layers().iter().map(|l| l.digest().to_string()).collect();
        let want: Vec<&str> = m["layers"].as_array().unwrap().iter().map(|l| l["digest"].as_str().unwrap()).collect();
        prop_assert_eq!(layers, want);
        prop_assert!(parse_index(&bytes).is_err(), "a manifest is not an index");
        let mut mutant = m.clone();
        mutate(&mut mutant, &pick, with);
        parse_all(&serde_json::to_vec(&mutant).unwrap())?;
    }

    #[test]
    fn indexes_parse_and_mutants_never_panic(ix in index(), pick in vec(any::<usize>(), 1..5), with in json_value()) {
        let bytes = serde_json::to_vec(&ix).unwrap();
        let parsed = parse_index(&bytes).map_err(TestCaseError::fail)?;
        prop_assert_eq!(parsed.manifests().len(), ix["manifests"].as_array().unwrap().len());
        prop_assert!(parse_manifest(&bytes).is_err(), "an index is not a manifest");
        let mut mutant = ix.clone();
        mutate(&mut mutant, &pick, with);
        parse_all(&serde_json::to_vec(&mutant).unwrap())?;
    }
}

// ---- layer tars ----

/// Where a hostile path or link target points: the directory beside the layer.
const OUTSIDE: &str = "@OUTSIDE@";

#[derive(Debug, Clone)]
enum Kind {
    Dir,
    File(Vec<u8>),
    Symlink(String),
    /// A hard link to a path (hostile tars) or to the n-th file before it (valid trees).
    Hardlink(String),
}

/// A GNU tar header for `path`; names and link targets over 100 bytes go first as
/// GNU long-name/long-link entries. Paths are written as they are (the tar crate's
/// `set_path` would refuse `..` and absolute paths, which these tests need).
fn append(b: &mut tar::Builder<Vec<u8>>, path: &[u8], kind: &Kind) {
    fn long(b: &mut tar::Builder<Vec<u8>>, entry: tar::EntryType, name: &[u8]) {
        let mut h = tar::Header::new_gnu();
        h.as_old_mut().name[..13].copy_from_slice(b"././@LongLink");
        h.set_entry_type(entry);
        h.set_mode(0o644);
        h.set_size(name.len() as u64 + 1);
        h.set_cksum();
        let mut data = name.to_vec();
        data.push(0);
        b.append(&h, &data[..]).unwrap();
    }
    let mut h = tar::Header::new_gnu();
    let (entry, mode, data, link): (_, _, &[u8], Option<&[u8]>) = match kind {
        Kind::Dir => (tar::EntryType::Directory, 0o755, &[], None),
        Kind::File(d) => (tar::EntryType::Regular, 0o644, d, None),
        Kind::Symlink(t) => (tar::EntryType::Symlink, 0o777, &[], Some(t.as_bytes())),
        Kind::Hardlink(t) => (tar::EntryType::Link, 0o644, &[], Some(t.as_bytes())),
    };
    if path.len() > 100 {
        long(b, tar::EntryType::GNULongName, path);
    }
    let n = path.len().min(100);
    h.as_old_mut().name[..n].copy_from_slice(&path[..n]);
    if let Some(l) = link {
        if l.len() > 100 {
            long(b, tar::EntryType::GNULongLink, l);
        }
        let n = l.len().min(100);
        h.as_old_mut().linkname[..n].copy_from_slice(&l[..n]);
    }
    h.set_entry_type(entry);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(1_700_000_000);
    h.set_size(data.len() as u64);
    h.set_cksum();
    b.append(&h, data).unwrap();
}

fn tar_of(entries: &[(String, Kind)], outside: &Path) -> Vec<u8> {
    let out = outside.to_str().unwrap();
    let mut b = tar::Builder::new(Vec::new());
    for (path, kind) in entries {
        let kind = match kind {
            Kind::Symlink(t) => Kind::Symlink(t.replace(OUTSIDE, out)),
            Kind::Hardlink(t) => Kind::Hardlink(t.replace(OUTSIDE, out)),
            k => k.clone(),
        };
        append(&mut b, path.replace(OUTSIDE, out).as_bytes(), &kind);
    }
    b.into_inner().unwrap()
}

/// A path as a hostile layer might write it: `..`, `.`, empty components, absolute
/// paths into the directory beside the layer, whiteout names, long components.
fn hostile_path() -> impl Strategy<Value = String> {
    let component = prop_oneof![
        4 => prop::sample::select(vec!["a", "b", "l1", "l2"]).prop_map(String::from),
        2 => Just("..".to_string()),
        1 => Just(".".to_string()),
        1 => Just(String::new()),
        1 => prop::sample::select(vec![".wh.a", ".wh.b", ".wh..wh..opq", ".wh..."]).prop_map(String::from),
        1 => "[a-z]{90,160}",
    ];
    (prop_oneof![4 => Just(""), 1 => Just("/"), 2 => Just("@OUTSIDE@/")], vec(component, 1..5))
        .prop_map(|(prefix, cs)| format!("{prefix}{}", cs.join("/")))
}

fn hostile_entry() -> impl Strategy<Value = (String, Kind)> {
    let kind = prop_oneof![
        2 => Just(Kind::Dir),
        3 => vec(any::<u8>(), 0..64).prop_map(Kind::File),
        3 => hostile_path().prop_map(Kind::Symlink),
        2 => prop_oneof![hostile_path(), Just(format!("{OUTSIDE}/victim"))].prop_map(Kind::Hardlink),
    ];
    (hostile_path(), kind)
}

/// Every entry below `dir` (not following symlinks): relative path → metadata.
fn walk(dir: &Path) -> BTreeMap<String, std::fs::Metadata> {
    fn go(root: &Path, dir: &Path, out: &mut BTreeMap<String, std::fs::Metadata>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let md = std::fs::symlink_metadata(e.path()).unwrap();
            let rel = e.path().strip_prefix(root).unwrap().to_str().unwrap().to_string();
            if md.is_dir() {
                go(root, &e.path(), out);
            }
            out.insert(rel, md);
        }
    }
    let mut out = BTreeMap::new();
    go(dir, dir, &mut out);
    out
}

fn unpack(tar: &[u8], dest: &Path) -> Result<super::unpack::UnpackedLayer, super::unpack::UnpackError> {
    let req = UnpackRequest {
        label: "proptest",
        expected_blob: None,
        expected_diff_id: None,
        dest: Some(dest),
        blob_copy: None,
    };
    unpack_layer(tar, req)
}

proptest! {
    /// Whatever a layer holds, unpacking it ends (Ok or Err) and leaves everything
    /// outside the layer directory as it was: the directory beside it keeps its one
    /// file, unchanged and with no new hard link, and nothing else appears.
    #[test]
    fn hostile_layers_never_write_outside(entries in vec(hostile_entry(), 1..20)) {
        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path().join("layer");
        let outside = tmp.path().join("outside");
        std::fs::create_dir(&dest).unwrap();
        std::fs::create_dir(&outside).unwrap();
        std::fs::write(outside.join("victim"), b"victim\n").unwrap();
        let before = std::fs::metadata(outside.join("victim")).unwrap();
        let tar = tar_of(&entries, &outside);
        let _ = unpack(&tar, &dest);
        let names: Vec<String> =
            std::fs::read_dir(tmp.path()).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
        prop_assert_eq!(names.len(), 2, "beside the layer: {:?}", names);
        let left: Vec<String> = walk(&outside).into_keys().collect();
        prop_assert_eq!(left, vec!["victim".to_string()]);
        let after = std::fs::metadata(outside.join("victim")).unwrap();
        prop_assert_eq!(std::fs::read(outside.join("victim")).unwrap(), b"victim\n".to_vec());
        prop_assert_eq!((after.nlink(), after.mode(), after.uid(), after.mtime()), (1, before.mode(), before.uid(), before.mtime()));
        // and nothing in the layer is a hard link to it
        for (path, md) in walk(&dest) {
            prop_assert!(md.ino() != after.ino() || md.dev() != after.dev(), "{} is the victim", path);
        }
    }

}

proptest! {
    // each case unpacks into a fresh directory: a quarter of PROPTEST_CASES (64 of the default
    // 256) keeps it under ~10 s on a loaded two-core machine
    #![proptest_config(ProptestConfig { cases: (ProptestConfig::default().cases / 4).max(16), ..ProptestConfig::default() })]

    /// A valid tree (directories, files, symlinks with any relative target, hard links
    /// to earlier files, long names, and, as root, whiteouts) unpacks to exactly itself,
    /// and the diff-id and size are those of the tar.
    #[test]
    fn valid_trees_unpack_to_themselves(spec in vec((vec("[a-z]{1,6}|[a-z]{100,140}", 1..4), 0u8..5, vec(any::<u8>(), 0..48), "[a-z./]{1,30}"), 1..16)) {
        let as_root = nix::unistd::Uid::effective().is_root();
        // the tree: parents first, no path both a file and a directory
        let mut tree: BTreeMap<String, Kind> = BTreeMap::new();
        let mut whiteouts = Vec::new();
        for (components, which, data, target) in spec {
            let path = components.join("/");
            let ancestors: Vec<String> = (1..components.len()).map(|n| components[..n].join("/")).collect();
            if tree.contains_key(&path) || ancestors.iter().any(|a| !matches!(tree.get(a), None | Some(Kind::Dir))) {
                continue;
            }
            if tree.keys().any(|k| k.starts_with(&format!("{path}/"))) && which != 0 {
                continue;
            }
            for a in ancestors {
                tree.entry(a).or_insert(Kind::Dir);
            }
            let kind = match which {
                0 => Kind::Dir,
                1 | 2 => Kind::File(data),
                3 => match target.trim_start_matches('/') {
                    "" => Kind::Symlink("x".into()),
                    t => Kind::Symlink(t.into()),
                },
                _ => {
                    // a hard link to a file written before it (in the tar's order), else a file
                    match tree.iter().rev().find(|(k, v)| **k < path && matches!(v, Kind::File(_))) {
                        Some((k, _)) => Kind::Hardlink(k.clone()),
                        None => Kind::File(data),
                    }
                }
            };
            if as_root && which == 0 {
                whiteouts.push(format!("{path}/.wh.gone"));
            }
            tree.insert(path, kind);
        }
        prop_assume!(!tree.is_empty());
        // a whiteout of a name the same layer also creates would contradict it
        whiteouts.retain(|w| !tree.contains_key(&w.replace(".wh.", "")));
        // a hard link's target must precede it in the tar: BTreeMap order is the tar's order
        let mut entries: Vec<(String, Kind)> = tree.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        entries.extend(whiteouts.iter().map(|w| (w.clone(), Kind::File(Vec::new()))));
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path().join("layer");
        std::fs::create_dir(&dest).unwrap();
        let tar = tar_of(&entries, tmp.path());
        let unpacked = unpack(&tar, &dest).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(unpacked.diff_id, Digest::of(&tar));
        prop_assert_eq!(unpacked.tar_size, tar.len() as u64);
        prop_assert_eq!(unpacked.whiteouts, whiteouts.len() as u64);
        let found = walk(&dest);
        let mut want: Vec<String> = tree.keys().cloned().collect();
        want.extend(whiteouts.iter().map(|w| w.replace(".wh.", "")));
        want.sort();
        prop_assert_eq!(found.keys().cloned().collect::<Vec<_>>(), want);
        for (path, kind) in &tree {
            let md = &found[path];
            match kind {
                Kind::Dir => prop_assert!(md.is_dir(), "{}", path),
                Kind::File(d) => {
                    prop_assert!(md.is_file(), "{}", path);
                    prop_assert_eq!(&std::fs::read(dest.join(path)).unwrap(), d);
                }
                Kind::Symlink(t) => {
                    prop_assert!(md.file_type().is_symlink(), "{}", path);
                    prop_assert_eq!(std::fs::read_link(dest.join(path)).unwrap(), Path::new(t));
                }
                Kind::Hardlink(t) => {
                    prop_assert_eq!((md.ino(), md.dev()), (found[t].ino(), found[t].dev()), "{} links {}", path, t);
                }
            }
        }
        for w in &whiteouts {
            let md = &found[&w.replace(".wh.", "")];
            prop_assert!(md.file_type().is_char_device() && md.rdev() == 0, "{}: a 0:0 character device", w);
        }
    }
}
