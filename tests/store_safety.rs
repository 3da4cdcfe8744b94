//! The store under hostile or unusual inputs: images that list a layer twice.

mod common;
use common::podman::{Out, Podman, NEEDS};
use common::*;

#[test]
fn a_layer_listed_twice_runs_as_podman_runs_it() {
    if !root_or_skip("a_layer_listed_twice_runs_as_podman_runs_it")
        || !ensure_programs("a_layer_listed_twice_runs_as_podman_runs_it", NEEDS)
    {
        return;
    }
    // busybox, L (adds /dup/a), M (deletes it, adds /dup/b), L again: /dup/a is back
    let script = "ls /dup; cat /dup/a /dup/b";
    let r = TestRoot::new("duplayer");
    for archive in ["duplayer.tar", "duplayer-oci"] {
        r.ok(&["load", "-i", fixture(archive).to_str().unwrap()]);
        let rrun = r.run(&["run", "--rm", "duplayer", "sh", "-c", script]);
        assert!(rrun.status.success(), "{archive}: {}", String::from_utf8_lossy(&rrun.stderr));
        assert_eq!(
            String::from_utf8_lossy(&rrun.stdout),
            "a\nb\nfrom the repeated layer\nfrom the middle layer\n",
            "{archive}"
        );
    }
    let p = Podman::setup("duplayer-podman", &["duplayer.tar"]);
    let podman: Out = p.run(&["run", "--rm", "duplayer", "sh", "-c", script]);
    assert_eq!(podman.code, Some(0), "{podman:?}");
    let rrun = r.ok(&["run", "--rm", "duplayer", "sh", "-c", script]);
    assert_eq!(rrun, podman.stdout, "rrun and podman see the same filesystem");
}

/// Runs `sh -c SCRIPT` as nobody (65534) with no supplementary groups: (exit code, stderr).
fn as_nobody(script: &str) -> (Option<i32>, String) {
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--", "sh", "-c", script])
        .output()
        .expect("setpriv (util-linux)");
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn other_users_cannot_reach_unpacked_setuid_files_or_devices() {
    if !root_or_skip("other_users_cannot_reach_unpacked_setuid_files_or_devices") {
        return;
    }
    let r = TestRoot::new("perm");
    r.ok(&["load", "-i", fixture("multilayer.tar").to_str().unwrap()]);
    // the fixture's top layer holds a set-uid file and a character device (1:3, /dev/null's)
    let layers = r.path.join("layers");
    let find = |name: &str| {
        std::fs::read_dir(&layers)
            .unwrap()
            .flatten()
            .map(|e| e.path().join("diff/data").join(name))
            .find(|p| p.symlink_metadata().is_ok())
            .unwrap_or_else(|| panic!("no layer holds data/{name}"))
    };
    let (setuid, device) = (find("setuid"), find("null"));
    use std::os::unix::fs::PermissionsExt;
    assert_ne!(std::fs::metadata(&setuid).unwrap().permissions().mode() & 0o4000, 0, "the fixture's file is set-uid");
    // a local user can neither run or read the set-uid file, open the device, nor list the store
    for script in [
        format!("cat {} >/dev/null", setuid.display()),
        format!("{}", setuid.display()),
        format!("echo x > {}", device.display()),
        format!("ls {}", layers.display()),
        format!("ls {}", r.path.join("containers").display()),
    ] {
        let (code, err) = as_nobody(&script);
        assert_ne!(code, Some(0), "nobody ran {script:?}");
        assert!(err.contains("Permission denied"), "{script}: {err}");
    }
    // the same files are there for root
    assert!(std::fs::File::open(&setuid).is_ok());
    // a store left open (an older rrun, a chmod by hand) is closed again by the next command
    std::fs::set_permissions(&r.path, std::fs::Permissions::from_mode(0o755)).unwrap();
    r.ok(&["images"]);
    assert_eq!(std::fs::metadata(&r.path).unwrap().permissions().mode() & 0o777, 0o700);
    // containers still run, as other users too
    let out = r.ok(&["run", "--rm", "-u", "nobody", "multilayer", "cat", "/data/keep"]);
    assert_eq!(out, "kept\n");
}

#[test]
fn names_longer_than_docker_allows_are_refused_before_any_registry() {
    if !root_or_skip("names_longer_than_docker_allows_are_refused_before_any_registry") {
        return;
    }
    let r = TestRoot::new("longname");
    let name = format!("registry.invalid/{}", "a".repeat(300));
    let out = r.run(&["pull", &name]);
    assert_eq!(out.status.code(), Some(125));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("255 characters"), "{err}");
    assert!(!err.contains("connect") && !err.contains("resolve"), "no registry was asked: {err}");
}

// ------------------------------------------------------------------ descriptors, manifests, indexes

/// A copy of the busybox OCI layout to break: its index.json, and its blobs by digest.
struct Layout {
    dir: ScratchDir,
}

impl Layout {
    fn busybox(tag: &str) -> Layout {
        let dir = ScratchDir::new(tag);
        let status = std::process::Command::new("cp")
            .arg("-a")
            .arg(fixture("busybox-oci"))
            .arg(dir.path.join("layout"))
            .status()
            .unwrap();
        assert!(status.success());
        Layout { dir }
    }

    fn path(&self) -> std::path::PathBuf {
        self.dir.path.join("layout")
    }

    fn index(&self) -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(self.path().join("index.json")).unwrap()).unwrap()
    }

    fn set_index(&self, v: &serde_json::Value) {
        std::fs::write(self.path().join("index.json"), v.to_string()).unwrap();
    }

    fn blob(&self, digest: &str) -> Vec<u8> {
        std::fs::read(self.path().join("blobs/sha256").join(digest.trim_start_matches("sha256:"))).unwrap()
    }

    /// Stores `bytes` as a blob; returns its digest.
    fn put(&self, bytes: &[u8]) -> String {
        let d = rrun::Digest::of(bytes);
        std::fs::write(self.path().join("blobs/sha256").join(d.hex()), bytes).unwrap();
        d.to_string()
    }

    fn manifest(&self) -> serde_json::Value {
        serde_json::from_slice(&self.blob(self.index()["manifests"][0]["digest"].as_str().unwrap())).unwrap()
    }

    /// Replaces the manifest (stored as a new blob, index.json pointing at it with its true size).
    fn set_manifest(&self, m: &serde_json::Value) {
        let bytes = m.to_string().into_bytes();
        let digest = self.put(&bytes);
        let mut index = self.index();
        index["manifests"][0]["digest"] = digest.into();
        index["manifests"][0]["size"] = bytes.len().into();
        self.set_index(&index);
    }
}

#[test]
fn descriptors_manifests_and_names_are_checked_on_load() {
    if !root_or_skip("descriptors_manifests_and_names_are_checked_on_load") {
        return;
    }
    let r = TestRoot::new("validate");
    let load = |l: &Layout| {
        let out = r.run(&["load", "-i", l.path().to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(125), "loaded: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        err
    };
    let real = Layout::busybox("validate-real");
    let manifest_size = real.index()["manifests"][0]["size"].as_u64().unwrap();
    let layer_size = real.manifest()["layers"][0]["size"].as_u64().unwrap();
    let config_size = real.manifest()["config"]["size"].as_u64().unwrap();
    let huge = 1u64 << 63;

    // the manifest's descriptor in index.json
    for size in [0, manifest_size - 1, manifest_size + 1, huge] {
        let l = Layout::busybox("validate");
        let mut index = l.index();
        index["manifests"][0]["size"] = size.into();
        l.set_index(&index);
        let err = load(&l);
        assert!(err.contains("descriptor says"), "manifest size {size}: {err}");
    }
    // the layer's and the config's descriptors in the manifest
    for size in [0, layer_size - 1, layer_size + 1, huge] {
        let l = Layout::busybox("validate");
        let mut m = l.manifest();
        m["layers"][0]["size"] = size.into();
        l.set_manifest(&m);
        let err = load(&l);
        assert!(err.contains(&format!("descriptor says {size} bytes")), "layer size {size}: {err}");
    }
    for size in [0, config_size - 1, config_size + 1, huge] {
        let l = Layout::busybox("validate");
        let mut m = l.manifest();
        m["config"]["size"] = size.into();
        l.set_manifest(&m);
        let err = load(&l);
        assert!(err.contains("descriptor says") || err.contains("claims"), "config size {size}: {err}");
    }
    // schema 1, an index where a manifest is expected (and the reverse), media types
    let l = Layout::busybox("validate");
    let mut m = l.manifest();
    m["schemaVersion"] = 1.into();
    l.set_manifest(&m);
    assert!(load(&l).contains("schema 1"));

    let l = Layout::busybox("validate");
    let mut m = l.manifest();
    m["mediaType"] = "application/vnd.oci.image.index.v1+json".into();
    l.set_manifest(&m);
    assert!(load(&l)
        .contains("an image index (application/vnd.oci.image.index.v1+json) where an image manifest was expected"));

    let l = Layout::busybox("validate");
    let mut index = l.index();
    index["manifests"][0]["mediaType"] = "application/vnd.oci.image.index.v1+json".into();
    l.set_index(&index);
    assert!(load(&l).contains("where an image index was expected"));

    let l = Layout::busybox("validate");
    let mut m = l.manifest();
    m["layers"][0]["mediaType"] = "text/plain".into();
    l.set_manifest(&m);
    assert!(load(&l).contains("\"text/plain\", which is not a layer rrun unpacks"));

    let l = Layout::busybox("validate");
    let mut m = l.manifest();
    m["config"]["mediaType"] = "application/vnd.example.thing+json".into();
    l.set_manifest(&m);
    assert!(load(&l).contains("which is not an image config"));

    // an invalid ref.name is refused by name, not loaded unnamed
    for bad in ["bad name", "x;rm -rf", "-lead", "Upper/Case:1"] {
        let l = Layout::busybox("validate");
        let mut index = l.index();
        index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] = bad.into();
        l.set_index(&index);
        let err = load(&l);
        assert!(
            err.contains("org.opencontainers.image.ref.name") && err.contains("is not a valid name"),
            "{bad}: {err}"
        );
    }
    assert!(r.ok(&["images", "-q"]).is_empty(), "nothing was loaded");
    assert!(r.entries("layers").is_empty() && r.entries("blobs/sha256").is_empty(), "nothing was kept");
    // the untouched layout loads
    r.ok(&["load", "-i", real.path().to_str().unwrap()]);
}

/// A registry that serves one image whose layer blob never ends (its
/// descriptor says 100 bytes), and whose config is one byte larger than its
/// descriptor says when `config_short` is set. Returns its address.
/// Bytes of the files under `dir` (symlinks not followed; none when it is missing).
fn bytes_under(dir: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|e| match e.path().symlink_metadata() {
            Ok(m) if m.is_dir() => bytes_under(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

fn hostile_registry(config: Vec<u8>, config_short: bool) -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let config_digest = rrun::Digest::of(&config).to_string();
    let config_size = config.len() - usize::from(config_short);
    let layer = format!("sha256:{}", "e".repeat(64));
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_size},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer, "size": 100}],
    })
    .to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let manifest = manifest.clone();
            let config = config.clone();
            let config_digest = config_digest.clone();
            std::thread::spawn(move || {
                // a TLS hello first (rrun tries HTTPS before plain HTTP): refused at once
                let mut first_byte = [0u8; 1];
                if stream.peek(&mut first_byte).is_err() || first_byte[0] == 0x16 {
                    return;
                }
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut first = String::new();
                let _ = reader.read_line(&mut first);
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                }
                let path = first.split(' ').nth(1).unwrap_or("").to_string();
                let mut out = stream;
                let respond = |out: &mut std::net::TcpStream, ctype: &str, body: &[u8]| {
                    let _ = write!(
                        out,
                        "HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = out.write_all(body);
                };
                if path.contains("/manifests/") {
                    respond(&mut out, "application/vnd.oci.image.manifest.v1+json", manifest.as_bytes());
                } else if path.ends_with(&config_digest) {
                    respond(&mut out, "application/octet-stream", &config);
                } else if path.contains("/blobs/") {
                    // 1 GiB announced, zeros for as long as the client reads
                    let _ = write!(
                        out,
                        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        1u64 << 30
                    );
                    let chunk = vec![0u8; 64 * 1024];
                    while out.write_all(&chunk).is_ok() {}
                } else {
                    respond(&mut out, "application/json", b"{}");
                }
            });
        }
    });
    addr
}

#[test]
fn a_hostile_registry_cannot_fill_the_disk_or_bend_a_descriptor() {
    if !root_or_skip("a_hostile_registry_cannot_fill_the_disk_or_bend_a_descriptor") {
        return;
    }
    let l = Layout::busybox("hostile");
    let config = l.blob(l.manifest()["config"]["digest"].as_str().unwrap());
    let r = TestRoot::new("hostile");
    let host = hostile_registry(config.clone(), false);
    let started = std::time::Instant::now();
    let out = r.run(&["pull", &format!("{host}/evil/endless:1")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(125), "{err}");
    assert!(err.contains("its descriptor says 100 bytes, the blob goes on past them"), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "it stopped reading at once");
    let kept: u64 = ["partial", "blobs/sha256", "tmp"].iter().map(|d| bytes_under(&r.path.join(d))).sum();
    assert!(kept <= 101 + config.len() as u64, "{kept} bytes kept");
    assert!(r.entries("layers").is_empty());

    // a config longer than its descriptor says
    let host = hostile_registry(config, true);
    let out = r.run(&["pull", &format!("{host}/evil/config:1")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(125), "{err}");
    assert!(err.contains("its descriptor says"), "{err}");
}

// ------------------------------------------------------------------ garbage collection

#[test]
fn a_sweep_removes_what_nothing_references_and_df_shows_it() {
    if !root_or_skip("a_sweep_removes_what_nothing_references_and_df_shows_it") {
        return;
    }
    let r = TestRoot::with_busybox("sweep");
    r.ok(&["load", "-i", fixture("multilayer.tar").to_str().unwrap()]);
    let hex = |c: char| c.to_string().repeat(64);
    // what killed commands leave: a layer and a blob no image lists, a half-written index,
    // a container directory with no record, a staging directory of a dead process, old downloads
    let layer = r.path.join("layers").join(hex('a'));
    std::fs::create_dir_all(layer.join("diff")).unwrap();
    std::fs::write(layer.join("diff/file"), vec![0u8; 1000]).unwrap();
    std::fs::write(layer.join("meta.json"), format!(r#"{{"diff_id":"sha256:{}","size":1000}}"#, hex('a'))).unwrap();
    std::fs::write(r.path.join("blobs/sha256").join(hex('b')), vec![1u8; 10]).unwrap();
    std::fs::write(r.path.join("images/.index.json.tmp999999999.0"), b"{\"ima").unwrap();
    std::fs::create_dir_all(r.path.join("containers").join(hex('c')).join("upper")).unwrap();
    std::fs::create_dir_all(r.path.join("tmp/999999999.1.0-layer/diff")).unwrap();
    std::fs::write(r.path.join("partial").join(hex('d')), vec![2u8; 50]).unwrap();
    let two_days_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(2 * 24 * 3600);
    std::fs::File::options()
        .write(true)
        .open(r.path.join("partial").join(hex('d')))
        .unwrap()
        .set_modified(two_days_ago)
        .unwrap();
    std::fs::write(r.path.join("partial").join(hex('f')), vec![3u8; 50]).unwrap(); // fresh: a pull resumes it
    std::fs::write(r.path.join("partial").join(format!("{}.lock", hex('9'))), b"").unwrap();

    let df: serde_json::Value = serde_json::from_str(&r.ok(&["system", "df", "-v", "--format", "json"])).unwrap();
    let u = &df["Unreferenced"];
    assert_eq!((u["Layers"].as_u64(), u["Blobs"].as_u64()), (Some(1), Some(1)), "{u}");
    assert!(u["Stray"].as_u64().unwrap() >= 4, "{u}");
    assert!(u["Size"].as_u64().unwrap() >= 1000 + 10 + 50, "{u}");
    let verbose = r.ok(&["system", "df", "-v"]);
    assert!(verbose.contains("Unreferenced store data"), "{verbose}");

    // any rmi sweeps (here of a name only: the image stays)
    r.ok(&["tag", "busybox", "localhost/other:1"]);
    r.ok(&["rmi", "localhost/other:1"]);
    let df: serde_json::Value = serde_json::from_str(&r.ok(&["system", "df", "-v", "--format", "json"])).unwrap();
    assert_eq!(df["Unreferenced"]["Size"], 0, "{}", df["Unreferenced"]);
    assert!(!layer.exists() && !r.path.join("blobs/sha256").join(hex('b')).exists());
    assert_eq!(r.entries("tmp"), Vec::<String>::new());
    assert_eq!(r.entries("containers"), Vec::<String>::new());
    assert_eq!(r.entries("partial"), vec![hex('f')], "the fresh download is kept");
    assert_eq!(r.entries("images"), vec!["index.json"]);
    // the images are whole
    r.ok(&["run", "--rm", "multilayer", "cat", "/data/keep"]);
    r.ok(&["run", "--rm", "busybox", "true"]);
}

#[test]
fn an_image_removed_under_a_container_is_swept_when_the_container_goes() {
    if !root_or_skip("an_image_removed_under_a_container_is_swept_when_the_container_goes") {
        return;
    }
    let r = TestRoot::with_busybox("rmi-f");
    r.ok(&["create", "--name", "keep", "busybox", "true"]);
    r.ok(&["rmi", "-f", "busybox"]);
    assert!(r.ok(&["images", "-q"]).is_empty());
    assert!(!r.entries("layers").is_empty(), "the container's layers stay");
    // it still runs, and its layers are not garbage while it exists
    let out = r.run(&["start", "-a", "keep"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let df: serde_json::Value = serde_json::from_str(&r.ok(&["system", "df", "-v", "--format", "json"])).unwrap();
    assert_eq!(df["Unreferenced"]["Layers"], 0, "{df}");
    r.ok(&["rm", "keep"]);
    assert!(r.entries("layers").is_empty(), "{:?}", r.entries("layers"));
    assert!(r.entries("blobs/sha256").is_empty(), "{:?}", r.entries("blobs/sha256"));
}

// ------------------------------------------------------------------ records before resources

/// The cgroup directories a container's record names.
fn cgroups_of(r: &TestRoot, id: &str) -> Vec<std::path::PathBuf> {
    let rec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(r.path.join("containers").join(id).join("container.json")).unwrap())
            .unwrap();
    rec["cgroup"].as_array().unwrap().iter().map(|d| d.as_str().unwrap().into()).collect()
}

/// Starts `rrun ARGS` and waits until its container runs: (the process, the container's ID).
fn started(r: &TestRoot, args: &[&str]) -> (std::process::Child, String) {
    let child = r.cmd(args).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap();
    let mut id = String::new();
    assert!(
        wait_for(std::time::Duration::from_secs(10), || {
            id = r.ok(&["ps", "-q", "--no-trunc"]).trim().to_string();
            !id.is_empty()
        }),
        "the container did not start"
    );
    (child, id)
}

#[test]
fn what_a_killed_rrun_leaves_is_finished_by_the_next_command() {
    if !root_or_skip("what_a_killed_rrun_leaves_is_finished_by_the_next_command") {
        return;
    }
    let r = TestRoot::with_busybox("killed");
    // run --rm in the foreground, killed: the container dies with it, the next command removes it
    let (mut rrun, id) = started(&r, &["run", "--rm", "busybox", "sleep", "30"]);
    let dirs = cgroups_of(&r, &id);
    assert!(dirs.iter().all(|d| d.is_dir()), "{dirs:?}");
    rrun.kill().unwrap();
    rrun.wait().unwrap();
    assert_eq!(r.ok(&["ps", "-aq"]), "", "the --rm container is gone");
    assert!(dirs.iter().all(|d| !d.exists()), "its cgroups are gone: {dirs:?}");

    // without --rm: exited, killed (137), its cgroups gone
    let (mut rrun, id) = started(&r, &["run", "--name", "fg", "busybox", "sleep", "30"]);
    let dirs = cgroups_of(&r, &id);
    rrun.kill().unwrap();
    rrun.wait().unwrap();
    let status = r.ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
    assert!(status.starts_with("fg Exited (137)"), "{status}");
    assert!(dirs.iter().all(|d| !d.exists()), "{dirs:?}");
    r.ok(&["rm", "fg"]);

    // a detached --rm container whose monitor is killed
    let id = r.ok(&["run", "-d", "--rm", "busybox", "sleep", "30"]).trim().to_string();
    let dirs = cgroups_of(&r, &id);
    let rec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(r.path.join("containers").join(&id).join("container.json")).unwrap())
            .unwrap();
    let monitor = rec["monitor_pid"].as_i64().unwrap() as i32;
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(monitor), nix::sys::signal::Signal::SIGKILL).unwrap();
    assert!(wait_for(std::time::Duration::from_secs(5), || !std::path::Path::new(&format!("/proc/{monitor}")).exists()));
    assert_eq!(r.ok(&["ps", "-aq"]), "");
    assert!(dirs.iter().all(|d| !d.exists()), "{dirs:?}");
}
