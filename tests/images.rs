//! Loading images (all archive formats), listing, layer sharing, malicious
//! layers, and removal rules.

mod common;
use common::*;

#[test]
fn loads_docker_archive_oci_archive_and_oci_directory() {
    if !root_or_skip("loads_docker_archive_oci_archive_and_oci_directory") {
        return;
    }
    for f in ["busybox.tar", "busybox-oci.tar", "busybox-oci"] {
        let r = TestRoot::new("fmt");
        let out = r.ok(&["load", "-i", fixture(f).to_str().unwrap()]);
        assert_eq!(out.trim(), "Loaded image: docker.io/library/busybox:latest", "{f}");
        let (code, stdout, _) = r.sh(&[], "echo loaded-from-archive");
        assert_eq!((code, stdout.trim()), (0, "loaded-from-archive"), "{f}");
    }
}

#[test]
fn images_lists_table_and_json() {
    if !root_or_skip("images_lists_table_and_json") {
        return;
    }
    let r = TestRoot::with_busybox("images");
    let table = r.ok(&["images"]);
    let mut lines = table.lines();
    let header: Vec<&str> = lines.next().unwrap().split("   ").map(str::trim).filter(|s| !s.is_empty()).collect();
    assert_eq!(header, ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]);
    let row = lines.next().unwrap();
    assert!(row.starts_with("docker.io/library/busybox"), "{row}");
    assert!(row.contains("latest") && row.contains("ago") && row.contains("MB"), "{row}");

    let json: serde_json::Value = serde_json::from_str(&r.ok(&["images", "--format", "json"])).unwrap();
    let img = &json[0];
    assert_eq!(img["repository"], "docker.io/library/busybox");
    assert_eq!(img["tag"], "latest");
    assert!(img["id"].as_str().unwrap().starts_with("sha256:"));
    assert!(img["size"].as_u64().unwrap() > 1_000_000);
}

#[test]
fn layers_are_unpacked_once_and_shared() {
    if !root_or_skip("layers_are_unpacked_once_and_shared") {
        return;
    }
    let r = TestRoot::with_busybox("share");
    assert_eq!(r.entries("layers").len(), 1);
    let busybox_layer = r.entries("layers")[0].clone();
    let marker = r.path.join("layers").join(&busybox_layer).join("diff/etc/.rrun-marker");
    std::fs::write(&marker, "x").unwrap();
    r.ok(&["load", "-i", fixture("multilayer.tar").to_str().unwrap()]);
    // the multilayer image shares busybox's base layer: two new layers, the base untouched
    assert_eq!(r.entries("layers").len(), 3);
    assert!(marker.exists(), "an existing layer is reused, not unpacked again");
    // loading again changes nothing
    r.ok(&["load", "-i", fixture("multilayer-oci.tar").to_str().unwrap()]);
    assert_eq!(r.entries("layers").len(), 3);
    assert!(r.entries("tmp").is_empty(), "no staging left behind");
}

#[test]
fn unpack_keeps_metadata_and_converts_whiteouts() {
    if !root_or_skip("unpack_keeps_metadata_and_converts_whiteouts") {
        return;
    }
    use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
    let r = TestRoot::new("meta");
    r.ok(&["load", "-i", fixture("multilayer-oci").to_str().unwrap()]);
    let layers = r.entries("layers");
    // find the top layer: the one holding data/.wh.remove-me in overlay form
    let top = layers
        .iter()
        .map(|l| r.path.join("layers").join(l).join("diff"))
        .find(|d| d.join("data/owned").exists())
        .expect("top layer");
    let m = std::fs::symlink_metadata(top.join("data/remove-me")).unwrap();
    assert!(m.file_type().is_char_device() && m.rdev() == 0, "whiteout is a 0:0 char device");
    let owned = std::fs::metadata(top.join("data/owned")).unwrap();
    assert_eq!((owned.uid(), owned.gid()), (1000, 50));
    assert_eq!(owned.nlink(), 2, "hardlink kept");
    assert_eq!(std::fs::metadata(top.join("data/setuid")).unwrap().permissions().mode() & 0o7777, 0o4755);
    assert_eq!(std::fs::read_link(top.join("data/link")).unwrap().to_str(), Some("keep"));
    let dev = std::fs::symlink_metadata(top.join("data/null")).unwrap();
    assert!(dev.file_type().is_char_device() && dev.rdev() == nix::sys::stat::makedev(1, 3));
    assert_eq!(getxattr(&top.join("olddir"), "trusted.overlay.opaque").as_deref(), Some(&b"y"[..]));
    assert_eq!(getxattr(&top.join("data/xattr"), "user.rrun").as_deref(), Some(&b"fixture"[..]));
    let middle = layers
        .iter()
        .map(|l| r.path.join("layers").join(l).join("diff"))
        .find(|d| d.join("data/keep").exists())
        .expect("zstd layer");
    assert_eq!(std::fs::metadata(middle.join("data/keep")).unwrap().mtime(), 1234567890);
}

fn getxattr(path: &std::path::Path, name: &str) -> Option<Vec<u8>> {
    let c = std::ffi::CString::new(path.to_str()?).ok()?;
    let n = std::ffi::CString::new(name).ok()?;
    let mut buf = vec![0u8; 256];
    // SAFETY: valid C strings and a buffer of the given length.
    let len = unsafe { libc::lgetxattr(c.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    (len >= 0).then(|| buf[..len as usize].to_vec())
}

#[test]
fn malicious_layers_are_refused_and_nothing_is_written() {
    if !root_or_skip("malicious_layers_are_refused_and_nothing_is_written") {
        return;
    }
    let cases = [
        ("evil-dotdot", "path contains '..'", "../../../../../../../../tmp/rrun-evil-dotdot", "/tmp/rrun-evil-dotdot"),
        ("evil-abs", "absolute path", "/tmp/rrun-evil-abs", "/tmp/rrun-evil-abs"),
        ("evil-symlink", "traverses a symlink", "escape/pwned", "/tmp/rrun-evil-symlink/pwned"),
        ("evil-hardlink", "outside the layer", "passwd-link", "/tmp/rrun-evil-hardlink"),
    ];
    let _ = std::fs::create_dir_all("/tmp/rrun-evil-symlink");
    let passwd_links_before =
        std::fs::metadata("/etc/passwd").map(|m| std::os::unix::fs::MetadataExt::nlink(&m)).unwrap();
    for (name, reason, entry, host_path) in cases {
        for suffix in [".tar", "-oci.tar", "-oci"] {
            let r = TestRoot::with_busybox(name);
            let index_before = std::fs::read(r.path.join("images/index.json")).unwrap();
            let layers_before = r.entries("layers");
            let blobs_before = r.entries("blobs/sha256");
            let archive = fixture(&format!("{name}{suffix}"));
            let out = r.run(&["load", "-i", archive.to_str().unwrap()]);
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(125), "{name}{suffix} must be refused: {err}");
            assert!(err.contains(reason), "{name}{suffix}: error should say {reason:?}: {err}");
            assert!(err.contains(entry), "{name}{suffix}: error should name the entry {entry:?}: {err}");
            assert!(err.contains("layer "), "{name}{suffix}: error should name the layer: {err}");
            assert!(!std::path::Path::new(host_path).exists(), "{name}{suffix} wrote {host_path}");
            // the store is exactly as before: same index, layers, blobs, and no staging
            assert_eq!(std::fs::read(r.path.join("images/index.json")).unwrap(), index_before);
            assert_eq!(r.entries("layers"), layers_before);
            assert_eq!(r.entries("blobs/sha256"), blobs_before);
            assert!(r.entries("tmp").is_empty(), "{name}{suffix}: staging left: {:?}", r.entries("tmp"));
        }
    }
    let passwd_links_after =
        std::fs::metadata("/etc/passwd").map(|m| std::os::unix::fs::MetadataExt::nlink(&m)).unwrap();
    assert_eq!(passwd_links_before, passwd_links_after, "no hardlink to the host's /etc/passwd");
    assert!(std::fs::read_dir("/tmp/rrun-evil-symlink").unwrap().next().is_none());
}

#[test]
fn corrupt_and_unknown_archives_get_clear_errors() {
    if !root_or_skip("corrupt_and_unknown_archives_get_clear_errors") {
        return;
    }
    let r = TestRoot::new("corrupt");
    // a layout whose layer blob was tampered with
    let tampered = r.path.join("tampered");
    copy_dir(&fixture("busybox-oci"), &tampered);
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tampered.join("index.json")).unwrap()).unwrap();
    let mdigest = index["manifests"][0]["digest"].as_str().unwrap().trim_start_matches("sha256:").to_string();
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tampered.join("blobs/sha256").join(&mdigest)).unwrap()).unwrap();
    let layer = manifest["layers"][0]["digest"].as_str().unwrap().trim_start_matches("sha256:").to_string();
    let lpath = tampered.join("blobs/sha256").join(&layer);
    let mut bytes = std::fs::read(&lpath).unwrap();
    let last = bytes.len() - 20;
    bytes[last] ^= 0xff;
    std::fs::write(&lpath, bytes).unwrap();
    let out = r.run(&["load", "-i", tampered.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(125));
    assert!(err.contains(&layer), "the error names the bad blob: {err}");
    assert!(r.entries("layers").is_empty() && r.entries("tmp").is_empty(), "nothing kept of a bad blob");
    assert!(!r.entries("blobs/sha256").contains(&layer));
    assert_eq!(r.ok(&["images", "-q"]), "");

    let junk = r.path.join("junk.tar");
    std::fs::write(&junk, b"not a tar").unwrap();
    let out = r.run(&["load", "-i", junk.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("junk.tar"));
    let out = r.run(&["load", "-i", "/nonexistent/x.tar"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/x.tar"));
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), &dst).unwrap();
        }
    }
}

#[test]
fn rmi_refuses_while_a_container_uses_the_image_unless_forced() {
    if !root_or_skip("rmi_refuses_while_a_container_uses_the_image_unless_forced") {
        return;
    }
    let r = TestRoot::with_busybox("rmi");
    r.ok(&["run", "--name", "keeper", "busybox", "true"]);
    let out = r.run(&["rmi", "busybox"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("in use by container"), "{out:?}");
    assert!(r.ok(&["images"]).contains("busybox"));
    // removing the container frees the image
    r.ok(&["rm", "keeper"]);
    let out = r.ok(&["rmi", "busybox"]);
    assert!(out.contains("Untagged: docker.io/library/busybox:latest") && out.contains("Deleted: sha256:"), "{out}");
    assert!(r.entries("layers").is_empty(), "unused layers are removed");
    assert!(!r.ok(&["images"]).contains("busybox"));

    // -f removes it even with a container
    r.ok(&["load", "-i", fixture("busybox.tar").to_str().unwrap()]);
    r.ok(&["run", "--name", "keeper2", "busybox", "true"]);
    r.ok(&["rmi", "-f", "busybox"]);
    assert!(!r.ok(&["images"]).contains("busybox"));
    assert_eq!(r.entries("layers").len(), 1, "the container still holds its layer");
    r.ok(&["rm", "keeper2"]);
    let out = r.run(&["rmi", "busybox"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("not found"));
}

#[test]
fn concurrent_loads_of_the_same_image_both_succeed() {
    if !root_or_skip("concurrent_loads_of_the_same_image_both_succeed") {
        return;
    }
    let r = TestRoot::new("concurrent-load");
    let children: Vec<_> = ["multilayer.tar", "multilayer-oci.tar", "multilayer-oci"]
        .iter()
        .map(|f| r.cmd(&["load", "-i", fixture(f).to_str().unwrap()]).spawn().unwrap())
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    assert_eq!(r.entries("layers").len(), 3);
    assert!(r.entries("tmp").is_empty());
    let (code, out, _) = {
        let o = r.run(&["run", "--rm", "multilayer", "cat", "/olddir/new"]);
        (o.status.code(), String::from_utf8_lossy(&o.stdout).into_owned(), ())
    };
    assert_eq!((code, out.trim()), (Some(0), "only this is visible"));
}

#[test]
fn a_closed_stdout_ends_rrun_quietly() {
    if !root_or_skip("a_closed_stdout_ends_rrun_quietly") {
        return;
    }
    let r = TestRoot::with_busybox("epipe");
    let mut child =
        r.cmd(&["images"]).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    drop(child.stdout.take()); // like `rrun images | head -0`
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked") && !err.contains("Broken pipe"), "{err}");
}

#[test]
fn load_reports_progress_through_the_pull_callback() {
    if !root_or_skip("load_reports_progress_through_the_pull_callback") {
        return;
    }
    let r = TestRoot::new("load-progress");
    let rrun = rrun::Rrun::open(&r.path).unwrap();
    let events = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = events.clone();
    let progress = rrun::ProgressFn::new(move |e| seen.lock().unwrap().push(e.clone()));
    let loaded = rrun.load_with_progress(&fixture("multilayer-oci"), None, &progress).unwrap();
    let events = events.lock().unwrap();
    use rrun::PullEvent as P;
    let started = events.iter().filter(|e| matches!(e, P::LayerStarted { .. })).count();
    let done = events.iter().filter(|e| matches!(e, P::LayerDone { .. })).count();
    assert_eq!((started, done), (loaded[0].record.layers.len(), loaded[0].record.layers.len()), "{events:?}");
    assert!(events.iter().any(|e| matches!(e, P::Bytes { done, .. } if *done > 0)), "{events:?}");
    let id = loaded[0].record.config.to_string();
    assert!(matches!(events.last(), Some(P::Committed { id: i, .. }) if *i == id), "{events:?}");
}
