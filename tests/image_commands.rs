//! The image-side commands Docker users expect — lookup by every name, image
//! inspect, history, save/load (read back by podman and skopeo), prune,
//! system df, the `image` command group — and the container filesystem
//! commands diff, export, commit and cp.

mod common;
use common::registry::{tools_or_skip, Flavour, Registry};
use common::*;
use serde_json::Value;
use std::io::Write;
use std::process::{Command, Stdio};

fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

/// (exit code, stdout, stderr) of rrun with `input` on its stdin.
fn with_stdin(r: &TestRoot, args: &[&str], input: &[u8]) -> (Option<i32>, Vec<u8>, String) {
    let mut child =
        r.cmd(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("run rrun");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    // a writer thread: rrun may answer before it read everything
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    (out.status.code(), out.stdout, String::from_utf8_lossy(&out.stderr).into_owned())
}

fn stdout_bytes(r: &TestRoot, args: &[&str]) -> Vec<u8> {
    let out = r.run(args);
    assert!(out.status.success(), "rrun {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

fn err_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Names in a tar stream, in order.
fn tar_names(bytes: &[u8]) -> Vec<String> {
    let mut a = tar::Archive::new(bytes);
    a.entries().unwrap().map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned()).collect()
}

/// The content of one member of a tar stream.
fn tar_member(bytes: &[u8], name: &str) -> Option<Vec<u8>> {
    let mut a = tar::Archive::new(bytes);
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        if e.path().unwrap().to_string_lossy().trim_end_matches('/') == name.trim_end_matches('/') {
            let mut v = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut v).unwrap();
            return Some(v);
        }
    }
    None
}

// ------------------------------------------------------------------ lookup

#[test]
fn images_are_found_by_every_name_and_by_digest_pulls() {
    if !root_or_skip("images_are_found_by_every_name_and_by_digest_pulls") || !tools_or_skip("by_digest") {
        return;
    }
    let r = TestRoot::new("bydigest");
    let reg = Registry::start(&r.path.join("registry"), Flavour::Open);
    reg.seed(&fixture("multiarch-oci"), "latest", "library/multi:latest");
    let auth = r.path.join("auth.json").display().to_string();
    let raw = Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{}/library/multi:latest", reg.host()))
        .output()
        .unwrap();
    assert!(raw.status.success(), "{}", err_of(&raw));
    let index_digest = rrun::digest::Digest::of(&raw.stdout).to_string();
    let index = json(&String::from_utf8_lossy(&raw.stdout));
    let amd64 =
        index["manifests"].as_array().unwrap().iter().find(|m| m["platform"]["architecture"] == "amd64").unwrap()
            ["digest"]
            .as_str()
            .unwrap()
            .to_string();
    let repo = format!("{}/library/multi", reg.host());

    // pulled by the index digest: the repository shows with TAG <none>
    let by_index = format!("{repo}@{index_digest}");
    let pulled = r.ok(&["pull", "-q", "--authfile", &auth, &by_index]);
    assert_eq!(pulled.trim(), amd64, "the manifest chosen for this machine");
    let table = r.ok(&["images"]);
    let row = table.lines().find(|l| l.starts_with(&repo)).unwrap_or_else(|| panic!("{table}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells[1], "<none>", "{row}");
    assert!(
        table.lines().all(|l| !l.split_whitespace().take(2).all(|c| c == "<none>")),
        "never <none> <none> for a by-digest pull:\n{table}"
    );
    let digests = r.ok(&["images", "--digests"]);
    assert!(digests.lines().next().unwrap().contains("DIGEST"));
    assert!(digests.contains(&index_digest), "{digests}");

    // by the index digest and by the manifest digest: the same image
    for name in [by_index.clone(), format!("{repo}@{amd64}")] {
        let out = r.ok(&["run", "--rm", "--pull", "never", &name, "cat", "/etc/arch"]);
        assert_eq!(out, "amd64\n", "{name}");
    }
    let v = json(&r.ok(&["image", "inspect", &by_index]));
    let id = v[0]["Id"].as_str().unwrap().to_string();
    assert_eq!(v[0]["RepoTags"], serde_json::json!([]));
    let rd: Vec<&str> = v[0]["RepoDigests"].as_array().unwrap().iter().map(|x| x.as_str().unwrap()).collect();
    assert!(rd.contains(&by_index.as_str()) && rd.contains(&format!("{repo}@{amd64}").as_str()), "{rd:?}");

    // IDs: short (>= 3 hex), 12, full with and without sha256:
    let hex = id.trim_start_matches("sha256:");
    for name in [&hex[..3], &hex[..12], hex, id.as_str()] {
        let v = json(&r.ok(&["image", "inspect", name]));
        assert_eq!(v[0]["Id"], id.as_str(), "{name}");
    }
    let out = r.run(&["image", "inspect", &hex[..2]]);
    assert_eq!(out.status.code(), Some(125), "two hex digits are no ID");
    // a digest that was never pulled is not found
    let other = format!("{repo}@sha256:{}", "0".repeat(64));
    assert_eq!(r.run(&["image", "inspect", &other]).status.code(), Some(125));

    // NAME means NAME:latest; NAME:TAG
    r.ok(&["pull", "-q", "--authfile", &auth, &format!("{repo}:latest")]);
    assert_eq!(json(&r.ok(&["image", "inspect", &repo]))[0]["Id"], id.as_str());
    assert_eq!(json(&r.ok(&["image", "inspect", &format!("{repo}:latest")]))[0]["Id"], id.as_str());
    let table = r.ok(&["images", "--no-trunc"]);
    assert!(table.contains(&id), "--no-trunc shows full IDs: {table}");
    assert_eq!(r.ok(&["images", "-q", "--no-trunc", &repo]).lines().next(), Some(id.as_str()));

    // removing the tag removes the digests the image was pulled by, and the image
    let out = r.ok(&["rmi", &format!("{repo}:latest")]);
    assert!(out.contains(&format!("Untagged: {repo}:latest")), "{out}");
    assert!(out.contains(&format!("Untagged: {by_index}")), "{out}");
    assert!(out.contains(&format!("Deleted: {id}")), "{out}");
    assert!(r.ok(&["images", "-q"]).is_empty());
    assert!(r.entries("layers").is_empty() && r.entries("blobs/sha256").is_empty(), "nothing of it is left");
}

// ------------------------------------------------------------------ inspect

#[test]
fn image_inspect_has_dockers_fields_and_inspect_finds_containers_first() {
    if !root_or_skip("image_inspect_has_dockers_fields_and_inspect_finds_containers_first") {
        return;
    }
    let r = TestRoot::with_busybox("inspect");
    let v = json(&r.ok(&["image", "inspect", "busybox"]));
    let img = &v[0];
    let id = img["Id"].as_str().unwrap().to_string();
    assert!(id.starts_with("sha256:") && id.len() == 71, "{id}");
    assert_eq!(img["RepoTags"], serde_json::json!(["docker.io/library/busybox:latest"]));
    assert_eq!(img["Config"]["Cmd"], serde_json::json!(["sh"]));
    assert_eq!(img["Config"]["WorkingDir"], "/");
    assert_eq!(img["Config"]["Labels"]["org.rrun.fixture"], "busybox");
    assert_eq!(img["Architecture"], "amd64");
    assert_eq!(img["Os"], "linux");
    assert_eq!(img["Created"], "2024-01-01T00:00:00Z");
    assert_eq!(img["RootFS"]["Type"], "layers");
    assert_eq!(img["RootFS"]["Layers"].as_array().unwrap().len(), 1);
    assert!(img["Size"].as_u64().unwrap() > 1_000_000);
    for key in ["RepoDigests", "Parent", "Comment", "Author", "GraphDriver"] {
        assert!(img.get(key).is_some(), "{key} missing");
    }
    // the JSON object starts with Id, as Docker's does
    assert!(r.ok(&["image", "inspect", "busybox"]).trim_start_matches(['[', '\n', ' ']).starts_with("{\n    \"Id\""));

    // without --type: an image when no container has the name
    assert_eq!(json(&r.ok(&["inspect", "busybox"]))[0]["Id"], id.as_str());
    // a container of that name comes first; --type picks
    r.ok(&["run", "--name", "busybox", "busybox", "true"]);
    let c = json(&r.ok(&["inspect", "busybox"]));
    assert_eq!(c[0]["Name"], "/busybox", "{c}");
    assert_eq!(json(&r.ok(&["inspect", "--type", "image", "busybox"]))[0]["Id"], id.as_str());
    assert_eq!(json(&r.ok(&["inspect", "--type", "container", "busybox"]))[0]["Name"], "/busybox");
    let out = r.run(&["inspect", "--type", "container", &id]);
    assert_eq!(out.status.code(), Some(125));
    // several at once, of both kinds
    let both = json(&r.ok(&["inspect", "busybox", &id]));
    assert_eq!(both.as_array().unwrap().len(), 2);
    // neither: Docker's words, exit 125
    let out = r.run(&["inspect", "nothing-by-this-name"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(err_of(&out).contains("no such object: nothing-by-this-name"), "{}", err_of(&out));
    let out = r.run(&["inspect", "--type", "volume", "busybox"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(err_of(&out).contains("--type"), "{}", err_of(&out));
}

// ------------------------------------------------------------------ history

#[test]
fn history_lists_steps_newest_first_with_layer_sizes() {
    if !root_or_skip("history_lists_steps_newest_first_with_layer_sizes") {
        return;
    }
    let r = TestRoot::new("history");
    r.ok(&["load", "-i", fixture("multilayer.tar").to_str().unwrap()]);
    let id = json(&r.ok(&["image", "inspect", "multilayer"]))[0]["Id"].as_str().unwrap().to_string();
    let out = r.ok(&["history", "multilayer"]);
    let lines: Vec<&str> = out.lines().collect();
    let header: Vec<&str> = lines[0].split("   ").map(str::trim).filter(|s| !s.is_empty()).collect();
    assert_eq!(header, ["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"]);
    assert_eq!(lines.len(), 4, "{out}");
    assert!(lines[1].starts_with(&id[7..19]), "the newest row is the image: {out}");
    assert!(lines[1].contains("whiteouts and replacements") && lines[1].contains("20.48kB"), "{out}");
    assert!(lines[2].starts_with("<missing>") && lines[2].contains("files to delete and replace"), "{out}");
    assert!(lines[3].starts_with("<missing>") && lines[3].contains("busybox") && lines[3].contains("2.14MB"), "{out}");
    assert!(lines[3].contains("ago"), "{out}");

    let raw = r.ok(&["history", "--human=false", "--no-trunc", "multilayer"]);
    assert!(raw.contains(&id) && raw.contains("2024-01-01T00:00:00Z") && raw.contains("2140160"), "{raw}");
    assert_eq!(
        r.ok(&["history", "-H=false", "-q", "multilayer"]).lines().collect::<Vec<_>>(),
        [&id[7..19], "<missing>", "<missing>"]
    );
    let v = json(&r.ok(&["image", "history", "--format", "json", "multilayer"]));
    assert_eq!(v[0]["Id"], id.as_str());
    assert_eq!(v[0]["Tags"], serde_json::json!(["docker.io/library/multilayer:latest"]));
    assert_eq!(v[2]["Size"], 2140160);
    assert_eq!(v[2]["Created"], 1704067200);
    assert_eq!(r.run(&["history", "nothere"]).status.code(), Some(125));
}

// ------------------------------------------------------------------ save / load

#[test]
fn save_writes_archives_that_rrun_loads_back() {
    if !root_or_skip("save_writes_archives_that_rrun_loads_back") {
        return;
    }
    let r = TestRoot::with_busybox("save");
    r.ok(&["load", "-i", fixture("multilayer-oci.tar").to_str().unwrap()]);
    r.ok(&["tag", "busybox", "localhost/mine:2"]);
    let dir = ScratchDir::new("save-out");

    // docker-archive (default): manifest.json, configs, one layer.tar per diff-id, shared layers once
    let docker = dir.path.join("both.tar");
    r.ok(&["save", "-o", docker.to_str().unwrap(), "busybox", "multilayer", "localhost/mine:2"]);
    let bytes = std::fs::read(&docker).unwrap();
    let names = tar_names(&bytes);
    let layer_tars: Vec<&String> = names.iter().filter(|n| n.ends_with("/layer.tar")).collect();
    assert_eq!(layer_tars.len(), 3, "the shared busybox layer once: {names:?}");
    let manifest = json(&String::from_utf8(tar_member(&bytes, "manifest.json").unwrap()).unwrap());
    assert_eq!(manifest.as_array().unwrap().len(), 2, "one entry per image: {manifest}");
    assert_eq!(
        manifest[0]["RepoTags"],
        serde_json::json!(["docker.io/library/busybox:latest", "localhost/mine:2"]),
        "{manifest}"
    );
    // each layer.tar is the uncompressed layer: its digest is the diff-id
    for l in manifest[1]["Layers"].as_array().unwrap() {
        let member = l.as_str().unwrap();
        let data = tar_member(&bytes, member).unwrap();
        assert_eq!(rrun::digest::Digest::of(&data).hex(), member.trim_end_matches("/layer.tar"));
    }
    assert!(!dir.path.read_dir().unwrap().any(|e| e.unwrap().file_name().to_string_lossy().starts_with('.')));

    // oci-archive: every name in index.json, blobs as stored
    let oci = dir.path.join("both-oci.tar");
    r.ok(&["save", "--format", "oci-archive", "-o", oci.to_str().unwrap(), "busybox", "multilayer"]);
    let obytes = std::fs::read(&oci).unwrap();
    let index = json(&String::from_utf8(tar_member(&obytes, "index.json").unwrap()).unwrap());
    let refs: Vec<&str> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["annotations"]["org.opencontainers.image.ref.name"].as_str().unwrap())
        .collect();
    assert_eq!(refs, ["docker.io/library/busybox:latest", "docker.io/library/multilayer:latest"]);
    assert_eq!(index["manifests"][1]["annotations"]["io.containerd.image.name"], "docker.io/library/multilayer:latest");
    assert!(tar_member(&obytes, "oci-layout").is_some());

    // to stdout, and loaded back from stdin, in a fresh store
    let piped = stdout_bytes(&r, &["save", "multilayer"]);
    for (archive, how) in
        [(std::fs::read(&docker).unwrap(), "docker file"), (obytes.clone(), "oci file"), (piped.clone(), "stdout")]
    {
        let fresh = TestRoot::new("save-load");
        let (code, out, err) = with_stdin(&fresh, &["load"], &archive);
        assert_eq!(code, Some(0), "{how}: {err}");
        assert!(String::from_utf8_lossy(&out).contains("Loaded image: docker.io/library/multilayer:latest"), "{how}");
        let out = fresh.ok(&["run", "--rm", "multilayer", "sh", "-c", "cat /data/keep; ls /olddir"]);
        assert_eq!(out, "kept\nnew\n", "{how}");
        assert!(fresh.entries("tmp").is_empty(), "{how}: the spooled archive is gone");
    }
    let fresh = TestRoot::new("load-dash");
    let (code, _, err) = with_stdin(&fresh, &["load", "-i", "-"], &piped);
    assert_eq!(code, Some(0), "{err}");
    // loading back into the same store: the same image, not a second record
    let (code, _, err) = with_stdin(&r, &["image", "load", "-q"], &std::fs::read(&docker).unwrap());
    assert_eq!(code, Some(0), "{err}");
    assert!(!r.ok(&["images"]).contains("<none>"), "{}", r.ok(&["images"]));

    // a terminal is refused, and nothing is written
    let mut save = Command::new(RRUN);
    save.arg("--root").arg(&r.path).args(["save", "busybox"]);
    let (code, out) = in_pty(save, b"", "refusing");
    assert_eq!(code, Some(125), "{out}");
    assert!(out.contains("refusing to write an archive to a terminal"), "{out}");
    assert!(out.len() < 400, "no archive bytes reached the terminal");
    let mut load = Command::new(RRUN);
    load.arg("--root").arg(&r.path).arg("load");
    let (code, out) = in_pty(load, b"", "refusing");
    assert_eq!(code, Some(125), "{out}");
    // errors name what was wrong, and leave no file
    let missing = dir.path.join("missing.tar");
    let out = r.run(&["save", "-o", missing.to_str().unwrap(), "busybox", "nothere"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(err_of(&out).contains("nothere"), "{}", err_of(&out));
    assert!(!missing.exists());
    let out = r.run(&["save", "--format", "zip", "busybox"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(err_of(&out).contains("zip"));
}

/// A Podman with storage of its own under a scratch directory (no containers run).
struct PodmanStore {
    dir: ScratchDir,
}

impl PodmanStore {
    fn new() -> PodmanStore {
        let dir = ScratchDir::new("podman-store");
        let d = dir.path.display();
        std::fs::write(
            dir.path.join("storage.conf"),
            format!("[storage]\ndriver = \"overlay\"\nrunroot = \"{d}/runroot\"\ngraphroot = \"{d}/root\"\n"),
        )
        .unwrap();
        std::fs::write(
            dir.path.join("containers.conf"),
            format!(
                "[engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n\
                 events_logfile_path = \"{d}/events.log\"\ntmp_dir = \"{d}/tmp\"\n"
            ),
        )
        .unwrap();
        std::fs::write(dir.path.join("registries.conf"), "unqualified-search-registries = []\n").unwrap();
        PodmanStore { dir }
    }

    fn run(&self, args: &[&str]) -> (Option<i32>, String, String) {
        let d = &self.dir.path;
        output_of(
            timed(120, "podman")
                .env("CONTAINERS_STORAGE_CONF", d.join("storage.conf"))
                .env("CONTAINERS_CONF", d.join("containers.conf"))
                .env("CONTAINERS_REGISTRIES_CONF", d.join("registries.conf"))
                .args(args),
        )
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(out.0, Some(0), "podman {args:?}: {}\n{}", out.1, out.2);
        out.1
    }
}

impl Drop for PodmanStore {
    fn drop(&mut self) {
        let _ = self.run(&["rmi", "-af"]);
        let _ = self.run(&["system", "reset", "-f"]);
        // ScratchDir unmounts what podman left and removes the rest
    }
}

fn skopeo_inspect(transport: &str) -> Value {
    let out = Command::new("skopeo").args(["inspect", transport]).output().unwrap();
    assert!(out.status.success(), "skopeo inspect {transport}: {}", err_of(&out));
    json(&String::from_utf8_lossy(&out.stdout))
}

#[test]
fn saved_archives_load_in_podman_and_read_in_skopeo() {
    if !root_or_skip("saved_archives_load_in_podman_and_read_in_skopeo")
        || !ensure_programs(
            "saved_archives_load_in_podman_and_read_in_skopeo",
            &[("podman", "podman"), ("skopeo", "skopeo")],
        )
    {
        return;
    }
    let r = TestRoot::with_busybox("podman-load");
    r.ok(&["load", "-i", fixture("multilayer-oci.tar").to_str().unwrap()]);
    let dir = ScratchDir::new("podman-archives");
    let docker = dir.path.join("both.tar");
    let oci = dir.path.join("multilayer-oci.tar");
    let oci_both = dir.path.join("both-oci.tar");
    r.ok(&["save", "-o", docker.to_str().unwrap(), "busybox", "multilayer"]);
    r.ok(&["save", "--format", "oci-archive", "-o", oci.to_str().unwrap(), "multilayer"]);
    r.ok(&["save", "--format", "oci-archive", "-o", oci_both.to_str().unwrap(), "busybox", "multilayer"]);
    let ids: Vec<String> = ["busybox", "multilayer"]
        .iter()
        .map(|n| json(&r.ok(&["image", "inspect", n]))[0]["Id"].as_str().unwrap().to_string())
        .collect();

    // skopeo reads each image of each archive
    let d = docker.display();
    let bb = skopeo_inspect(&format!("docker-archive:{d}:docker.io/library/busybox:latest"));
    assert_eq!(bb["Layers"].as_array().unwrap().len(), 1);
    let ml = skopeo_inspect(&format!("docker-archive:{d}:docker.io/library/multilayer:latest"));
    assert_eq!(ml["Layers"].as_array().unwrap().len(), 3);
    assert_eq!(skopeo_inspect(&format!("oci-archive:{}", oci.display()))["Layers"].as_array().unwrap().len(), 3);
    let o = skopeo_inspect(&format!("oci-archive:{}:docker.io/library/busybox:latest", oci_both.display()));
    assert_eq!(o["Layers"].as_array().unwrap().len(), 1);

    // podman loads both images of the docker-archive, and the OCI archive, under their names
    let p = PodmanStore::new();
    let out = p.ok(&["load", "-i", docker.to_str().unwrap()]);
    assert!(out.contains("docker.io/library/busybox:latest") && out.contains("docker.io/library/multilayer:latest"));
    let images = p.ok(&["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"]);
    assert!(images.contains(&format!("docker.io/library/busybox:latest {}", &ids[0][7..19])), "{images}");
    assert!(images.contains(&format!("docker.io/library/multilayer:latest {}", &ids[1][7..19])), "{images}");
    p.ok(&["rmi", "-af"]);
    let out = p.ok(&["load", "-i", oci.to_str().unwrap()]);
    assert!(out.contains("docker.io/library/multilayer:latest"), "{out}");
    let inspect = json(&p.ok(&["image", "inspect", "docker.io/library/multilayer:latest"]));
    assert_eq!(inspect[0]["Id"].as_str().unwrap(), ids[1].trim_start_matches("sha256:"));
}

// ------------------------------------------------------------------ prune and df

#[test]
fn prune_and_system_df_account_for_images_and_containers() {
    if !root_or_skip("prune_and_system_df_account_for_images_and_containers") {
        return;
    }
    let r = TestRoot::with_busybox("prune");
    r.ok(&["load", "-i", fixture("multilayer.tar").to_str().unwrap()]);
    r.ok(&["run", "--name", "writer", "busybox", "sh", "-c", "head -c 5000 /dev/zero > /data"]);

    let df = r.ok(&["system", "df"]);
    let rows: Vec<Vec<&str>> =
        df.lines().map(|l| l.split("   ").map(str::trim).filter(|s| !s.is_empty()).collect()).collect();
    assert_eq!(rows[0], ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]);
    assert_eq!(rows[1][..3], ["Images", "2", "1"], "{df}");
    assert_eq!(rows[2][..3], ["Containers", "1", "0"], "{df}");
    assert!(rows[2][3] == "5kB" && rows[2][4] == "5kB (100%)", "{df}");
    assert_eq!(rows[3], ["Local Volumes", "0", "0", "0B", "0B"]);
    assert_eq!(rows[4][0], "Build Cache");
    let v = json(&r.ok(&["system", "df", "--format", "json"]));
    assert_eq!(v[0]["Type"], "Images");
    assert_eq!(v[0]["Reclaimable"], 30720, "the multilayer image's own two layers: {v}");
    let verbose = r.ok(&["system", "df", "-v"]);
    assert!(verbose.contains("Images space usage:") && verbose.contains("SHARED SIZE"), "{verbose}");
    assert!(verbose.contains("Containers space usage:") && verbose.contains("writer"), "{verbose}");

    // an untagged image is dangling; a named one is not
    r.ok(&["tag", "multilayer", "localhost/extra:1"]);
    r.ok(&["rmi", "multilayer"]);
    r.ok(&["rmi", "localhost/extra:1"]);
    r.ok(&["load", "-i", fixture("multilayer-oci.tar").to_str().unwrap()]);
    let id = json(&r.ok(&["image", "inspect", "multilayer"]))[0]["Id"].as_str().unwrap().to_string();
    // its name taken away behind rrun's back: dangling
    let index_path = r.path.join("images/index.json");
    let mut index = json(&std::fs::read_to_string(&index_path).unwrap());
    index["tags"].as_object_mut().unwrap().remove("docker.io/library/multilayer:latest");
    std::fs::write(&index_path, serde_json::to_vec(&index).unwrap()).unwrap();
    assert!(r.ok(&["images"]).contains("<none>"));

    // no answer, or anything but y: nothing removed, exit 0
    for answer in ["", "n\n", "yes\n"] {
        let (code, out, err) = with_stdin(&r, &["image", "prune"], answer.as_bytes());
        assert_eq!(code, Some(0));
        assert!(err.contains("WARNING! This will remove all dangling images."), "{err}");
        assert!(err.contains("Are you sure you want to continue? [y/N] "), "{err}");
        assert!(out.is_empty(), "{}", String::from_utf8_lossy(&out));
        assert!(r.ok(&["images"]).contains("<none>"));
    }
    let layers_before = r.entries("layers").len();
    let (code, out, _) = with_stdin(&r, &["image", "prune"], b"y\n");
    assert_eq!(code, Some(0));
    let out = String::from_utf8(out).unwrap();
    assert!(out.starts_with("Deleted Images:\n"), "{out}");
    assert!(out.contains(&format!("deleted: {id}\n")), "{out}");
    assert!(out.contains("\n\nTotal reclaimed space: "), "{out}");
    assert!(!out.contains("Total reclaimed space: 0B"), "{out}");
    assert!(!r.ok(&["images"]).contains("<none>"));
    assert_eq!(r.entries("layers").len(), layers_before - 2, "its own layers went, busybox's stayed");
    assert!(r.ok(&["images"]).contains("busybox"));

    // nothing to prune
    assert_eq!(r.ok(&["image", "prune", "-f"]), "Total reclaimed space: 0B\n");
    // -a keeps images a container uses
    assert_eq!(r.ok(&["image", "prune", "-a", "-f"]), "Total reclaimed space: 0B\n");

    // system prune: the stopped container, then (-a) the image it kept
    let (code, out, err) = with_stdin(&r, &["system", "prune", "-a"], b"Y\n");
    assert_eq!(code, Some(0), "{err}");
    assert!(err.starts_with("WARNING! This will remove:\n  - all stopped containers\n"), "{err}");
    assert!(err.contains("  - all images without at least one container associated to them\n"), "{err}");
    let out = String::from_utf8(out).unwrap();
    assert!(out.starts_with("Deleted Containers:\n"), "{out}");
    assert!(out.contains("Deleted Images:\nuntagged: docker.io/library/busybox:latest\n"), "{out}");
    assert!(r.ok(&["ps", "-aq"]).is_empty());
    assert!(r.ok(&["images", "-q"]).is_empty());
    assert!(r.entries("layers").is_empty() && r.entries("blobs/sha256").is_empty());
}

#[test]
fn the_image_command_group_maps_onto_the_same_commands() {
    if !root_or_skip("the_image_command_group_maps_onto_the_same_commands") {
        return;
    }
    let r = TestRoot::new("group");
    r.ok(&["image", "load", "-i", fixture("busybox.tar").to_str().unwrap()]);
    assert_eq!(r.ok(&["image", "ls"]), r.ok(&["images"]));
    assert_eq!(r.ok(&["image", "list", "-q"]), r.ok(&["images", "-q"]));
    r.ok(&["image", "tag", "busybox", "localhost/copy:1"]);
    assert!(r.ok(&["images"]).contains("localhost/copy"));
    assert_eq!(r.ok(&["image", "history", "-q", "busybox"]), r.ok(&["history", "-q", "busybox"]));
    let a = stdout_bytes(&r, &["image", "save", "busybox"]);
    let b = stdout_bytes(&r, &["save", "busybox"]);
    assert_eq!(a, b, "the same archive, byte for byte");
    assert!(r.ok(&["image", "rm", "localhost/copy:1"]).contains("Untagged: localhost/copy:1"));
    r.ok(&["image", "tag", "busybox", "localhost/copy:2"]);
    assert!(r.ok(&["image", "remove", "localhost/copy:2"]).contains("Untagged"));
    assert_eq!(r.ok(&["image", "prune", "-f"]), "Total reclaimed space: 0B\n");
    let out = r.run(&["image", "pull", "--tls-verify=false", "127.0.0.1:1/nothing/here:1"]);
    assert_eq!(out.status.code(), Some(125), "image pull is pull: {}", err_of(&out));
    assert!(err_of(&out).contains("127.0.0.1:1"));
    let out = r.run(&["image", "push", "busybox", "127.0.0.1:1/nothing/here:1"]);
    assert_eq!(out.status.code(), Some(125));
}
