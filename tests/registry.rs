//! Pull, push, login, search and tag against a real registry
//! (Debian's docker-registry) on 127.0.0.1, seeded by skopeo.

mod common;
use common::registry::{tools_or_skip, Flavour, Proxy, Registry, PASS, USER};
use common::*;
use std::io::Write;
use std::time::{Duration, Instant};

fn setup(test: &str, flavour: Flavour) -> Option<(TestRoot, Registry)> {
    if !root_or_skip(test) || !tools_or_skip(test) {
        return None;
    }
    let r = TestRoot::new(test);
    let reg = Registry::start(&r.path.join("registry"), flavour);
    Some((r, reg))
}

/// rrun with the test's own credentials file and CA directory.
fn client_args(r: &TestRoot, reg: &Registry) -> Vec<String> {
    let mut v = vec!["--authfile".to_string(), r.path.join("auth.json").display().to_string()];
    if reg.flavour == Flavour::TlsToken {
        v.push("--cert-dir".into());
        v.push(reg.cert_dir().display().to_string());
    }
    v
}

fn with(cmd: &str, extra: &[String], args: &[&str]) -> Vec<String> {
    let mut v = vec![cmd.to_string()];
    v.extend(extra.iter().cloned());
    v.extend(args.iter().map(|s| s.to_string()));
    v
}

fn run_args(r: &TestRoot, args: &[String]) -> std::process::Output {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    r.run(&a)
}

fn ok_args(r: &TestRoot, args: &[String]) -> String {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    r.ok(&a)
}

#[test]
fn open_registry_pull_run_push_and_pull_into_a_fresh_store() {
    let Some((r, reg)) = setup("open_pull_push", Flavour::Open) else { return };
    reg.seed(&fixture("multilayer-oci"), "docker.io/library/multilayer:latest", "library/multilayer:1.0");
    let c = client_args(&r, &reg);
    let image = format!("{}/library/multilayer:1.0", reg.host());
    let digest = ok_args(&r, &with("pull", &c, &["-q", &image]));
    assert!(digest.trim().starts_with("sha256:"), "{digest}");
    assert_eq!(r.entries("layers").len(), 3);
    assert!(r.entries("tmp").is_empty() && r.entries("partial").iter().all(|p| p.ends_with(".lock")));
    let out = ok_args(&r, &with("run", &c, &["--rm", &image, "sh", "-c", "ls /olddir; cat /data/keep"]));
    assert_eq!(out, "new\nkept\n");

    // a second pull is a no-op on the layers
    let layer_dir = r.path.join("layers").join(&r.entries("layers")[0]);
    let inode = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&layer_dir).unwrap());
    ok_args(&r, &with("pull", &c, &["-q", &image]));
    assert_eq!(std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&layer_dir).unwrap()), inode);

    // tag and push under a new name; skopeo sees it; a fresh store pulls it back
    let pushed = format!("{}/me/copy:2.0", reg.host());
    r.ok(&["tag", &image, &pushed]);
    let pushed_digest = ok_args(&r, &with("push", &c, &[&pushed]));
    let inspect = reg.inspect("me/copy:2.0");
    assert_eq!(inspect["Digest"].as_str(), Some(pushed_digest.trim()));
    assert_eq!(inspect["Layers"].as_array().unwrap().len(), 3);
    let fresh = TestRoot::new("fresh");
    let c2 = client_args(&fresh, &reg);
    ok_args(&fresh, &with("pull", &c2, &["-q", &pushed]));
    assert_eq!(
        ok_args(&fresh, &with("run", &c2, &["--rm", &pushed, "cat", "/etc/motd/README"])),
        "replaced a regular file with a directory\n"
    );

    // a loaded docker-archive (uncompressed layers, generated manifest) pushes too
    r.ok(&["load", "-i", fixture("busybox.tar").to_str().unwrap()]);
    let bb = format!("{}/me/busybox:1.0", reg.host());
    r.ok(&["tag", "busybox", &bb]);
    ok_args(&r, &with("push", &c, &[&bb]));
    let fresh2 = TestRoot::new("fresh2");
    let c3 = client_args(&fresh2, &reg);
    assert_eq!(ok_args(&fresh2, &with("run", &c3, &["--rm", &bb, "echo", "via-registry"])), "via-registry\n");

    // catalog search
    let found = ok_args(&r, &with("search", &c, &[&format!("{}/", reg.host())]));
    for repo in ["library/multilayer", "me/copy", "me/busybox"] {
        assert!(found.contains(repo), "{found}");
    }
    let filtered = ok_args(&r, &with("search", &c, &["--format", "json", &format!("{}/copy", reg.host())]));
    let v: serde_json::Value = serde_json::from_str(&filtered).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1);

    // pull by digest
    let by_digest = format!("{}/library/multilayer@{}", reg.host(), digest.trim());
    let fresh3 = TestRoot::new("bydigest");
    let c4 = client_args(&fresh3, &reg);
    assert_eq!(ok_args(&fresh3, &with("pull", &c4, &["-q", &by_digest])).trim(), digest.trim());
    assert_eq!(ok_args(&fresh3, &with("run", &c4, &["--rm", &by_digest, "cat", "/data/keep"])), "kept\n");

    // errors name what was wrong
    let out = run_args(&r, &with("pull", &c, &["-q", &format!("{}/library/nothere:1", reg.host())]));
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not found"), "{out:?}");
    let out = run_args(&r, &with("pull", &c, &["-q", "127.0.0.1:1/x/y"]));
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("127.0.0.1:1"), "{out:?}");
}

#[test]
fn multi_arch_index_resolves_to_the_requested_platform() {
    let Some((r, reg)) = setup("multiarch", Flavour::Open) else { return };
    reg.seed(&fixture("multiarch-oci"), "latest", "library/multi:latest");
    let c = client_args(&r, &reg);
    let image = format!("{}/library/multi", reg.host());
    ok_args(&r, &with("pull", &c, &["-q", &image]));
    assert_eq!(ok_args(&r, &with("run", &c, &["--rm", "--pull", "never", &image, "cat", "/etc/arch"])), "amd64\n");
    ok_args(&r, &with("pull", &c, &["-q", "--platform", "linux/arm64", &image]));
    assert_eq!(ok_args(&r, &with("run", &c, &["--rm", "--pull", "never", &image, "cat", "/etc/arch"])), "arm64\n");
    let out = run_args(&r, &with("pull", &c, &["-q", "--platform", "linux/s390x", &image]));
    assert_eq!(out.status.code(), Some(125));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("linux/s390x") && err.contains("linux/amd64") && err.contains("linux/arm64"), "{err}");
}

#[test]
fn run_platform_is_checked_against_the_local_image_and_pulled_when_it_differs() {
    let Some((r, reg)) = setup("run_platform", Flavour::Open) else { return };
    reg.seed(&fixture("multiarch-oci"), "latest", "library/multi:latest");
    let c = client_args(&r, &reg);
    let image = format!("{}/library/multi", reg.host());
    ok_args(&r, &with("pull", &c, &["-q", &image]));
    // --pull=missing (the default): the local image is for another platform, so that platform's is pulled
    let arch = ok_args(&r, &with("run", &c, &["--rm", "--platform", "linux/arm64", &image, "cat", "/etc/arch"]));
    assert_eq!(arch, "arm64\n");
    assert_eq!(
        ok_args(
            &r,
            &with("run", &c, &["--rm", "--pull=never", "--platform", "linux/arm64", &image, "cat", "/etc/arch"])
        ),
        "arm64\n"
    );
    // --pull=never with the other platform: refused, saying what the local image is
    let out = run_args(&r, &with("run", &c, &["--rm", "--pull=never", "--platform", "linux/amd64", &image, "true"]));
    assert_eq!(out.status.code(), Some(125));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("wanted linux/amd64, actual: linux/arm64"), "{err}");
    // --pull=always pulls whatever is local
    assert_eq!(
        ok_args(
            &r,
            &with("run", &c, &["--rm", "--pull=always", "--platform", "linux/amd64", &image, "cat", "/etc/arch"])
        ),
        "amd64\n"
    );
}

#[test]
fn corrupted_blob_fails_clearly_and_stores_nothing() {
    let Some((r, reg)) = setup("corrupt_blob", Flavour::Open) else { return };
    reg.seed(&fixture("big-oci"), "docker.io/library/big:latest", "library/big:latest");
    let inspect = reg.inspect("library/big:latest");
    let layer = inspect["Layers"][1].as_str().unwrap().trim_start_matches("sha256:").to_string();
    let file = reg.blob_file(&layer);
    let mut bytes = std::fs::read(&file).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x55;
    std::fs::write(&file, bytes).unwrap();
    let c = client_args(&r, &reg);
    let out = run_args(&r, &with("pull", &c, &["-q", &format!("{}/library/big", reg.host())]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(125), "{err}");
    assert!(err.contains(&layer), "the error names the blob: {err}");
    assert!(err.contains("library/big"), "and the image: {err}");
    assert!(r.entries("layers").is_empty(), "nothing unpacked is kept");
    assert!(!r.entries("blobs/sha256").contains(&layer));
    assert!(!r.path.join("partial").join(&layer).exists(), "a blob that arrived wrong is not kept for resuming");
    assert!(r.ok(&["images", "-q"]).is_empty());
}

#[test]
fn killed_pull_resumes_with_a_range_request() {
    let Some((r, reg)) = setup("resume", Flavour::Open) else { return };
    reg.seed(&fixture("big-oci"), "docker.io/library/big:latest", "library/big:latest");
    let big_layer =
        reg.inspect("library/big:latest")["Layers"][1].as_str().unwrap().trim_start_matches("sha256:").to_string();
    // 1 MB/s: the 6 MB layer takes seconds, long enough to kill the pull midway
    let proxy = Proxy::start(reg.port, 1_000_000);
    let image = format!("127.0.0.1:{}/library/big", proxy.port);
    let c = client_args(&r, &reg);
    let args = with("pull", &c, &["-q", &image]);
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut child = r.cmd(&a).spawn().unwrap();
    let partial = r.path.join("partial").join(&big_layer);
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::fs::metadata(&partial).map(|m| m.len()).unwrap_or(0) < 1_500_000 {
        assert!(Instant::now() < deadline, "the download did not progress");
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap(); // SIGKILL: no cleanup at all
    child.wait().unwrap();
    let have = std::fs::metadata(&partial).unwrap().len();
    assert!(have > 0);
    assert!(r.ok(&["images", "-q"]).is_empty(), "an interrupted pull adds no image");

    proxy.rate.store(0, std::sync::atomic::Ordering::Relaxed);
    proxy.requests.lock().unwrap().clear();
    ok_args(&r, &with("pull", &c, &["-q", &image]));
    assert!(
        proxy.saw("Range: bytes="),
        "the second pull asked only for the rest: {:?}",
        proxy.requests.lock().unwrap().iter().filter(|x| x.contains("blobs")).collect::<Vec<_>>()
    );
    assert!(!partial.exists(), "the finished blob moved into the store");
    assert!(r.entries("blobs/sha256").contains(&big_layer));
    assert_eq!(
        ok_args(&r, &with("run", &c, &["--rm", &image, "sh", "-c", "wc -c < /big/random.bin"])).trim(),
        "6291456"
    );
}

#[test]
fn basic_auth_login_pull_push_logout() {
    let Some((r, reg)) = setup("basic_auth", Flavour::Basic) else { return };
    reg.seed(&fixture("busybox-oci"), "docker.io/library/busybox:latest", "team/busybox:1");
    let c = client_args(&r, &reg);
    let image = format!("{}/team/busybox:1", reg.host());
    // without credentials: a clear error that says how to log in
    let out = run_args(&r, &with("pull", &c, &["-q", &image]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(125));
    assert!(err.contains("rrun login"), "{err}");
    // a wrong password is refused and not stored
    let wrong = login(&r, &c, &reg.host(), "not-the-password");
    assert_ne!(wrong.status.code(), Some(0));
    assert!(!String::from_utf8_lossy(&wrong.stderr).contains("not-the-password"), "passwords are never printed");
    assert!(
        !r.path.join("auth.json").exists()
            || !std::fs::read_to_string(r.path.join("auth.json")).unwrap().contains(&reg.host())
    );
    // the right one is stored, 0600, in auth.json format
    let good = login(&r, &c, &reg.host(), PASS);
    assert!(good.status.success(), "{good:?}");
    let auth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(r.path.join("auth.json")).unwrap()).unwrap();
    assert!(auth["auths"][reg.host()]["auth"].is_string());
    ok_args(&r, &with("pull", &c, &["-q", &image]));
    let pushed = format!("{}/team/pushed:1", reg.host());
    r.ok(&["tag", &image, &pushed]);
    ok_args(&r, &with("push", &c, &[&pushed]));
    assert!(reg.inspect("team/pushed:1")["Digest"].is_string());
    // skopeo reads the credentials rrun stored
    let out = std::process::Command::new("skopeo")
        .args(["inspect", "--tls-verify=false", "--authfile"])
        .arg(r.path.join("auth.json"))
        .arg(format!("docker://{pushed}"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = ok_args(&r, &with("logout", &c, &[&reg.host()]));
    assert!(out.contains("Removed"));
    let out = run_args(&r, &with("pull", &c, &["-q", &image]));
    assert_eq!(out.status.code(), Some(125));
}

fn login(r: &TestRoot, c: &[String], host: &str, password: &str) -> std::process::Output {
    let args = with("login", c, &["-u", USER, "--password-stdin", host]);
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut child = r
        .cmd(&a)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn tls_registry_with_token_auth() {
    let Some((r, reg)) = setup("tls_token", Flavour::TlsToken) else { return };
    reg.seed(&fixture("busybox-oci"), "docker.io/library/busybox:latest", "private/busybox:1");
    let c = client_args(&r, &reg);
    let image = format!("{}/private/busybox:1", reg.host());
    // an unknown CA is refused with a hint, not silently bypassed
    let out = r.run(&["pull", "-q", "--authfile", r.path.join("auth.json").to_str().unwrap(), &image]);
    assert_eq!(out.status.code(), Some(125));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("certificate") || err.contains("TLS"), "{err}");
    // anonymous tokens grant nothing here
    let out = run_args(&r, &with("pull", &c, &["-q", &image]));
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("rrun login"));
    assert!(login(&r, &c, &reg.host(), PASS).status.success());
    ok_args(&r, &with("pull", &c, &["-q", &image]));
    assert!(
        reg.token_requests()
            .iter()
            .any(|l| l.contains("scope=repository%3Aprivate%2Fbusybox%3Apull") && l.ends_with("authorized=true")),
        "a token for the pull scope was asked with the credentials: {:?}",
        reg.token_requests()
    );
    assert_eq!(ok_args(&r, &with("run", &c, &["--rm", &image, "echo", "over-tls"])), "over-tls\n");
    let pushed = format!("{}/private/pushed:1", reg.host());
    r.ok(&["tag", &image, &pushed]);
    ok_args(&r, &with("push", &c, &[&pushed]));
    assert!(reg.inspect("private/pushed:1")["Digest"].is_string());
}

#[test]
fn short_names_pull_from_a_docker_io_mirror() {
    let Some((r, reg)) = setup("mirror", Flavour::Open) else { return };
    reg.seed(&fixture("busybox-oci"), "docker.io/library/busybox:latest", "library/alpine:latest");
    let conf = r.path.join("registries.conf");
    std::fs::write(
        &conf,
        format!("unqualified-search-registries = [\"docker.io\"]\n\n[[registry]]\nprefix = \"docker.io\"\nlocation = \"docker.io\"\n\n[[registry.mirror]]\nlocation = \"{}\"\ninsecure = true\n", reg.host()),
    )
    .unwrap();
    let mut c = client_args(&r, &reg);
    c.push("--registries-conf".into());
    c.push(conf.display().to_string());
    ok_args(&r, &with("pull", &c, &["-q", "alpine"]));
    let images = r.ok(&["images"]);
    assert!(images.contains("docker.io/library/alpine"), "{images}");
    assert_eq!(ok_args(&r, &with("run", &c, &["--rm", "alpine", "echo", "hi"])), "hi\n");
    // run pulls a missing image by itself
    let fresh = TestRoot::new("mirror-run");
    let mut c2 = client_args(&fresh, &reg);
    c2.push("--registries-conf".into());
    c2.push(conf.display().to_string());
    assert_eq!(ok_args(&fresh, &with("run", &c2, &["--rm", "alpine", "echo", "pulled-by-run"])), "pulled-by-run\n");
    let out = run_args(&fresh, &with("run", &c2, &["--rm", "--pull", "never", "nosuch", "true"]));
    assert_eq!(out.status.code(), Some(125));
}
