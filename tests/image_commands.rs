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
    let index_digest = rrun::Digest::of(&raw.stdout).to_string();
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
        assert_eq!(rrun::Digest::of(&data).hex(), member.trim_end_matches("/layer.tar"));
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

/// A Podman with storage and configuration of its own under a scratch
/// directory (as tests/engines.rs sets it up), rrun as its runtime.
struct PodmanStore {
    dir: ScratchDir,
}

impl PodmanStore {
    fn new() -> PodmanStore {
        let dir = ScratchDir::new("podman-store");
        common::podman::write_config(&dir.path, common::podman::Runtime::Rrun, "none");
        PodmanStore { dir }
    }

    fn run(&self, args: &[&str]) -> (Option<i32>, String, String) {
        output_of(common::podman::command(&self.dir.path, 120).args(args))
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(out.0, Some(0), "podman {args:?}: {}\n{}", out.1, out.2);
        out.1
    }
}

impl Drop for PodmanStore {
    fn drop(&mut self) {
        // containers (through rrun their processes and cgroups), images, then what is left running
        let ids = self.run(&["ps", "-aq", "--no-trunc"]).1;
        let _ = self.run(&["rm", "-af", "-t", "0"]);
        for id in ids.split_whitespace() {
            let _ = timed(20, RRUN).args(["delete", "--force", id]).output();
        }
        let _ = self.run(&["rmi", "-af"]);
        let d = self.dir.path.display().to_string();
        end_processes(&pids_mentioning(&d), std::time::Duration::from_secs(5));
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

    // an image without a name is dangling: a commit with no REPOSITORY makes one
    let id = r.ok(&["commit", "writer"]).trim().to_string();
    assert!(r.ok(&["images"]).lines().any(|l| l.starts_with("<none>") && l.contains(&id[7..19])));
    // a name is not dangling: pruning leaves the named images alone

    // no answer, or anything but y: nothing removed, exit 0
    for answer in ["", "n\n", "yes\n"] {
        let (code, out, err) = with_stdin(&r, &["image", "prune"], answer.as_bytes());
        assert_eq!(code, Some(0));
        let out = String::from_utf8_lossy(&out);
        assert!(out.starts_with("WARNING! This will remove all dangling images."), "{out}");
        assert!(out.ends_with("Are you sure you want to continue? [y/N] "), "{out}: nothing but the question");
        assert!(err.is_empty(), "{err}");
        assert!(r.ok(&["images"]).contains("<none>"));
    }
    let layers_before = r.entries("layers").len();
    let (code, out, _) = with_stdin(&r, &["image", "prune"], b"y\n");
    assert_eq!(code, Some(0));
    let out = String::from_utf8(out).unwrap();
    // the report follows the question on its line (the answer's newline went to stdin)
    let (_, out) = out.split_once("[y/N] ").unwrap();
    assert_eq!(out.lines().next(), Some("Deleted Images:"), "{out}");
    assert!(out.contains(&format!("\ndeleted: {id}\n\nTotal reclaimed space: ")), "{out}");
    assert!(!out.contains("untagged:"), "{out}");
    assert!(!out.contains("Total reclaimed space: 0B"), "{out}");
    assert!(!r.ok(&["images"]).contains("<none>"));
    assert_eq!(r.entries("layers").len(), layers_before - 1, "its own layer went, busybox's stayed");
    let images = r.ok(&["images"]);
    assert!(images.contains("busybox") && images.contains("multilayer"), "{images}");

    // nothing dangling left
    assert_eq!(r.ok(&["image", "prune", "-f"]), "Total reclaimed space: 0B\n");
    // -a: every image no container uses, its own layers and blobs too
    let out = r.ok(&["image", "prune", "-a", "-f"]);
    assert!(
        out.starts_with("Deleted Images:\nuntagged: docker.io/library/multilayer:latest\ndeleted: sha256:"),
        "{out}"
    );
    // its two layers unpacked (30720 bytes), their blobs as loaded (the same), its config and manifest
    assert!(out.ends_with("\n\nTotal reclaimed space: 62.86kB\n"), "{out}");
    assert!(r.ok(&["images"]).contains("busybox"), "a container uses busybox");
    assert_eq!(r.ok(&["image", "prune", "-a", "-f"]), "Total reclaimed space: 0B\n");

    // system prune: the stopped container, then (-a) the image it kept
    let (code, out, err) = with_stdin(&r, &["system", "prune", "-a"], b"Y\n");
    assert_eq!(code, Some(0), "{err}");
    let out = String::from_utf8(out).unwrap();
    assert!(out.starts_with("WARNING! This will remove:\n  - all stopped containers\n"), "{out}");
    assert!(out.contains("  - all images without at least one container associated to them\n"), "{out}");
    let (_, out) = out.split_once("[y/N] ").unwrap();
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

// ------------------------------------------------------------------ diff / export / commit / cp

/// What the container does to the multilayer image in the diff and commit tests.
const CHANGES: &str = "echo 1 >> /etc/passwd; echo new > /newfile; rm /bin/ls; mkdir -p /data/sub; \
                       touch /data/sub/f; rm -rf /olddir; mkdir /olddir; echo x > /olddir/y; ln -s /etc/shadow /x";

/// `rrun diff` of a container that ran CHANGES on the multilayer image (what `podman diff` prints for the same).
const EXPECTED_DIFF: [&str; 11] = [
    "C /bin",
    "D /bin/ls",
    "C /data",
    "A /data/sub",
    "A /data/sub/f",
    "C /etc",
    "C /etc/passwd",
    "A /newfile",
    "D /olddir",
    "A /olddir/y",
    "A /x",
];

/// Checks that rrun left no mount under the store (a stopped container's
/// overlay is mounted on its `rootfs/` in a helper's own mount namespace only).
fn no_mounts_left(r: &TestRoot) {
    let left = mounts_under(&r.path);
    assert!(left.is_empty(), "mounts left behind: {left:?}");
}

#[test]
fn diff_lists_what_a_container_changed() {
    if !root_or_skip("diff_lists_what_a_container_changed") {
        return;
    }
    let r = TestRoot::with_busybox("diff");
    r.ok(&["load", "-i", fixture("multilayer.tar").to_str().unwrap()]);
    // the runtime's own mount points (/etc/hosts, /etc/resolv.conf) are no change
    r.ok(&["run", "--name", "idle", "busybox", "true"]);
    assert_eq!(r.ok(&["diff", "idle"]), "");
    r.ok(&["run", "--name", "d1", "multilayer", "sh", "-c", CHANGES]);
    let out = r.ok(&["diff", "d1"]);
    assert_eq!(out.lines().collect::<Vec<_>>(), EXPECTED_DIFF, "{out}");
    let v = json(&r.ok(&["diff", "--format", "json", "d1"]));
    assert_eq!(v[1], serde_json::json!({"Path": "/bin/ls", "Kind": 2}));
    assert_eq!(v[3], serde_json::json!({"Path": "/data/sub", "Kind": 1}));
    assert_eq!(v[0], serde_json::json!({"Path": "/bin", "Kind": 0}));
    // a running container
    r.ok(&["run", "-d", "--name", "live", "busybox", "sh", "-c", "echo on > /live; mkdir /tmp/t; sleep 600"]);
    assert!(wait_for(std::time::Duration::from_secs(10), || r.ok(&["diff", "live"]).contains("A /live")));
    assert_eq!(r.ok(&["diff", "live"]), "A /live\nC /tmp\nA /tmp/t\n");
    let out = r.run(&["diff", "nothere"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(err_of(&out).contains("no such container: nothere"));
    r.ok(&["rm", "-f", "live"]);
    no_mounts_left(&r);

    // podman lists the same changes for the same commands
    if !ensure_programs("diff_lists_what_a_container_changed", &[("podman", "podman")]) {
        return;
    }
    let p = PodmanStore::new();
    p.ok(&["load", "-i", fixture("multilayer.tar").to_str().unwrap()]);
    p.ok(&["--runtime", RRUN, "run", "--name", "d1", "localhost/multilayer:latest", "sh", "-c", CHANGES]);
    let theirs = p.ok(&["diff", "d1"]);
    assert_eq!(theirs.lines().collect::<Vec<_>>(), EXPECTED_DIFF, "podman diff:\n{theirs}");
}

#[test]
fn export_writes_the_whole_root_of_stopped_and_running_containers() {
    if !root_or_skip("export_writes_the_whole_root_of_stopped_and_running_containers") {
        return;
    }
    let r = TestRoot::new("export");
    r.ok(&["load", "-i", fixture("multilayer.tar").to_str().unwrap()]);
    r.ok(&["run", "--name", "d1", "multilayer", "sh", "-c", CHANGES]);
    let tar = stdout_bytes(&r, &["export", "d1"]);
    let names = tar_names(&tar);
    for want in ["newfile", "olddir/y", "data/sub/f", "data/keep", "bin/busybox", "x"] {
        assert!(names.iter().any(|n| n.trim_end_matches('/') == want), "{want} missing: {names:?}");
    }
    for gone in ["bin/ls", "olddir/new", "data/remove-me"] {
        assert!(!names.iter().any(|n| n.trim_end_matches('/') == gone), "{gone} exported: {names:?}");
    }
    assert!(String::from_utf8(tar_member(&tar, "etc/passwd").unwrap()).unwrap().ends_with("\n1\n"));
    // -o writes a file, the same archive
    let dir = ScratchDir::new("export-out");
    let file = dir.path.join("d1.tar");
    r.ok(&["export", "-o", file.to_str().unwrap(), "d1"]);
    assert_eq!(tar_names(&std::fs::read(&file).unwrap()), names);
    no_mounts_left(&r);

    // running: its changes so far, and none of what is mounted on it (/proc, /dev, /etc/hosts)
    r.ok(&["run", "-d", "--name", "live", "multilayer", "sh", "-c", "echo on > /live; sleep 600"]);
    assert!(wait_for(std::time::Duration::from_secs(10), || r.ok(&["diff", "live"]).contains("A /live")));
    let tar = stdout_bytes(&r, &["export", "live"]);
    let names = tar_names(&tar);
    assert_eq!(tar_member(&tar, "live").unwrap(), b"on\n");
    assert!(names.iter().any(|n| n == "proc/"), "the mount point is there: {names:?}");
    assert!(!names.iter().any(|n| n.starts_with("proc/") && n != "proc/"), "but not /proc's contents");
    assert!(!names.iter().any(|n| n.starts_with("dev/") && n != "dev/"), "nor /dev's");
    assert_eq!(tar_member(&tar, "etc/hosts").unwrap_or_default(), b"", "the stub, not the bind-mounted file");
    assert!(r.ok(&["ps"]).contains("live"), "export leaves the container running");

    // a terminal is refused
    let mut cmd = Command::new(RRUN);
    cmd.arg("--root").arg(&r.path).args(["export", "d1"]);
    let (code, out) = in_pty(cmd, b"", "refusing");
    assert_eq!(code, Some(125), "{out}");
    assert!(out.contains("refusing to write an archive to a terminal"), "{out}");
    r.ok(&["rm", "-f", "live"]);
    no_mounts_left(&r);
}

#[test]
fn commit_makes_an_image_of_a_containers_changes() {
    if !root_or_skip("commit_makes_an_image_of_a_containers_changes") {
        return;
    }
    let r = TestRoot::new("commit");
    r.ok(&["load", "-i", fixture("multilayer.tar").to_str().unwrap()]);
    r.ok(&["run", "--name", "d1", "-e", "FROM_RUN=yes", "-w", "/data", "multilayer", "sh", "-c", CHANGES]);
    let layers_before = r.entries("layers").len();
    let id = r.ok(&[
        "commit",
        "-m",
        "a message",
        "-a",
        "Jane <jane@example.com>",
        "-c",
        r#"CMD ["cat", "/newfile"]"#,
        "-c",
        "ENV ADDED=by-change",
        "-c",
        "EXPOSE 8080",
        "-c",
        "LABEL stage=committed",
        "d1",
        "localhost/committed:1",
    ]);
    let id = id.trim();
    assert!(id.starts_with("sha256:") && id.len() == 71, "{id}");
    assert_eq!(r.entries("layers").len(), layers_before + 1, "the new layer is unpacked in the store");

    // the new image runs with the changes: added, changed, deleted
    assert_eq!(r.ok(&["run", "--rm", "localhost/committed:1"]), "new\n", "CMD from -c");
    let script = "test ! -e /bin/ls && echo ls-gone; ls /olddir; tail -1 /etc/passwd; cat /data/sub/f; \
                  readlink /x; echo $FROM_RUN $ADDED; pwd";
    assert_eq!(
        r.ok(&["run", "--rm", "localhost/committed:1", "sh", "-c", script]),
        "ls-gone\ny\n1\n/etc/shadow\nyes by-change\n/data\n"
    );
    let v = json(&r.ok(&["image", "inspect", "localhost/committed:1"]));
    let img = &v[0];
    assert_eq!(img["Id"], id);
    assert_eq!(img["Author"], "Jane <jane@example.com>");
    assert_eq!(img["Comment"], "a message");
    assert_eq!(img["Config"]["Cmd"], serde_json::json!(["cat", "/newfile"]));
    assert_eq!(img["Config"]["ExposedPorts"], serde_json::json!({"8080/tcp": {}}));
    assert_eq!(img["Config"]["Labels"]["stage"], "committed");
    assert_eq!(img["Config"]["WorkingDir"], "/data");
    assert_eq!(img["RootFS"]["Layers"].as_array().unwrap().len(), 4);
    let history = r.ok(&["history", "localhost/committed:1"]);
    let top = history.lines().nth(1).unwrap();
    assert!(top.starts_with(&id[7..19]) && top.contains("a message") && top.contains("sh -c echo 1"), "{history}");

    // the new layer holds only the changes, whiteouts included
    let saved = stdout_bytes(&r, &["save", "localhost/committed:1"]);
    let manifest = json(&String::from_utf8(tar_member(&saved, "manifest.json").unwrap()).unwrap());
    let top_layer = manifest[0]["Layers"][3].as_str().unwrap().to_string();
    let names = tar_names(&tar_member(&saved, &top_layer).unwrap());
    for want in ["bin/.wh.ls", "olddir/", "olddir/.wh..wh..opq", "olddir/y", "newfile", "etc/passwd", "x"] {
        assert!(names.iter().any(|n| n == want), "{want} missing from the layer: {names:?}");
    }
    assert!(!names.iter().any(|n| n == "etc/hosts" || n == "etc/resolv.conf"), "runtime stubs: {names:?}");
    assert!(!names.iter().any(|n| n.starts_with("bin/busybox")), "{names:?}");

    // without a name: a dangling image, which image prune removes
    let unnamed = r.ok(&["commit", "d1"]);
    assert!(r.ok(&["images"]).lines().any(|l| l.starts_with("<none>") && l.contains(&unnamed.trim()[7..19])));
    let out = r.ok(&["image", "prune", "-f"]);
    assert!(out.contains(&format!("deleted: {}", unnamed.trim())), "{out}");

    // a running container, paused while its layer is written (and running after)
    r.ok(&["run", "-d", "--name", "live", "multilayer", "sh", "-c", "echo on > /live; sleep 600"]);
    assert!(wait_for(std::time::Duration::from_secs(10), || r.ok(&["diff", "live"]).contains("A /live")));
    r.ok(&["commit", "live", "localhost/live:1"]);
    assert!(r.ok(&["ps"]).contains("Up"), "running again after the commit");
    r.ok(&["commit", "--pause=false", "-c", "CMD cat /live", "live", "localhost/live:2"]);
    assert_eq!(r.ok(&["run", "--rm", "localhost/live:2"]), "on\n", "shell form of -c CMD");
    let v = json(&r.ok(&["image", "inspect", "localhost/live:2"]));
    assert_eq!(v[0]["Config"]["Cmd"], serde_json::json!(["/bin/sh", "-c", "cat /live"]));

    // errors: bad change, unknown container, a digest as the name
    let out = r.run(&["commit", "-c", "RUN rm -rf /", "d1"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(err_of(&out).contains("RUN is not supported"), "{}", err_of(&out));
    assert_eq!(r.run(&["commit", "nothere"]).status.code(), Some(125));
    let out = r.run(&["commit", "d1", &format!("x@sha256:{}", "0".repeat(64))]);
    assert_eq!(out.status.code(), Some(125));
    r.ok(&["rm", "-f", "live"]);
    assert!(r.entries("tmp").is_empty(), "no staging left: {:?}", r.entries("tmp"));
    no_mounts_left(&r);
}

#[test]
fn committed_images_save_and_load_in_podman() {
    if !root_or_skip("committed_images_save_and_load_in_podman")
        || !ensure_programs("committed_images_save_and_load_in_podman", &[("podman", "podman")])
    {
        return;
    }
    let r = TestRoot::new("commit-podman");
    r.ok(&["load", "-i", fixture("multilayer.tar").to_str().unwrap()]);
    r.ok(&["run", "--name", "d1", "multilayer", "sh", "-c", CHANGES]);
    let id = r.ok(&["commit", "d1", "localhost/committed:1"]).trim().to_string();
    let dir = ScratchDir::new("commit-podman-out");
    let archive = dir.path.join("committed.tar");
    let oci = dir.path.join("committed-oci.tar");
    r.ok(&["save", "-o", archive.to_str().unwrap(), "localhost/committed:1"]);
    r.ok(&["save", "--format", "oci-archive", "-o", oci.to_str().unwrap(), "localhost/committed:1"]);
    let p = PodmanStore::new();
    for a in [&archive, &oci] {
        let out = p.ok(&["load", "-i", a.to_str().unwrap()]);
        assert!(out.contains("localhost/committed:1"), "{out}");
        let v = json(&p.ok(&["image", "inspect", "localhost/committed:1"]));
        assert_eq!(v[0]["Id"].as_str().unwrap(), id.trim_start_matches("sha256:"));
        assert_eq!(v[0]["RootFS"]["Layers"].as_array().unwrap().len(), 4);
        p.ok(&["rmi", "-af"]);
    }
    // and podman runs it (with rrun as its runtime): the changes are there
    p.ok(&["load", "-i", archive.to_str().unwrap()]);
    let out = p.ok(&[
        "--runtime",
        RRUN,
        "run",
        "--rm",
        "localhost/committed:1",
        "sh",
        "-c",
        "test ! -e /bin/ls && cat /newfile /olddir/y",
    ]);
    assert_eq!(out, "new\nx\n");
}

/// (uid, gid, mode) of one member of a tar stream.
fn tar_header(bytes: &[u8], name: &str) -> (u64, u64, u32) {
    let mut a = tar::Archive::new(bytes);
    for e in a.entries().unwrap() {
        let e = e.unwrap();
        if e.path().unwrap().to_string_lossy().trim_end_matches('/') == name {
            let h = e.header();
            return (h.uid().unwrap(), h.gid().unwrap(), h.mode().unwrap() & 0o7777);
        }
    }
    panic!("{name} is not in the archive")
}

/// Owner (uid, gid) of a host path, not following a symlink.
fn owner(p: &std::path::Path) -> (u32, u32) {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::symlink_metadata(p).unwrap();
    (m.uid(), m.gid())
}

/// `cp` both ways with a container `c`; `running` says whether it runs.
fn cp_both_ways(r: &TestRoot, c: &str, running: bool) {
    let dir = ScratchDir::new("cp-host-side");
    let d = |p: &str| dir.path.join(p);
    let ds = |p: &str| dir.path.join(p).display().to_string();
    let what = if running { "running" } else { "stopped" };
    // a file into an existing directory, and under a new name
    std::fs::create_dir(d("into")).unwrap();
    r.ok(&["cp", &format!("{c}:/data/keep"), &ds("into")]);
    assert_eq!(std::fs::read(d("into/keep")).unwrap(), b"kept\n", "{what}");
    r.ok(&["cp", &format!("{c}:/data/keep"), &ds("renamed")]);
    assert_eq!(std::fs::read(d("renamed")).unwrap(), b"kept\n", "{what}");
    // a directory into an existing one goes inside; to a new name it is created; /. copies its contents
    r.ok(&["cp", &format!("{c}:/data"), &ds("into")]);
    assert!(d("into/data/keep").is_file() && d("into/data/link").is_symlink(), "{what}");
    r.ok(&["cp", &format!("{c}:/data"), &ds("newdir")]);
    assert!(d("newdir/keep").is_file(), "{what}");
    std::fs::create_dir(d("contents")).unwrap();
    r.ok(&["cp", &format!("{c}:/data/."), &ds("contents")]);
    assert!(d("contents/keep").is_file() && !d("contents/data").exists(), "{what}");
    // owners: the invoking user's, or (-a) the source's
    assert_eq!(owner(&d("newdir/owned")), (0, 0), "{what}");
    r.ok(&["cp", "-a", &format!("{c}:/data/owned"), &ds("owned-a")]);
    assert_eq!(owner(&d("owned-a")), (1000, 50), "{what}");
    // a symlink is copied as one; -L copies what it points at (inside the container)
    r.ok(&["cp", &format!("{c}:/data/link"), &ds("link")]);
    assert_eq!(std::fs::read_link(d("link")).unwrap().to_str(), Some("keep"), "{what}");
    r.ok(&["cp", "-L", &format!("{c}:/data/link"), &ds("link-followed")]);
    assert_eq!(std::fs::read(d("link-followed")).unwrap(), b"kept\n", "{what}");
    // - : a tar stream on stdout
    let tar = stdout_bytes(r, &["cp", &format!("{c}:/data"), "-"]);
    assert_eq!(tar_member(&tar, "data/keep").unwrap(), b"kept\n", "{what}");

    // into the container: files, directories, a tar stream, owners
    std::fs::write(d("host.txt"), "from the host\n").unwrap();
    std::os::unix::fs::chown(d("host.txt"), Some(1234), Some(1234)).unwrap();
    std::fs::create_dir_all(d("tree/sub")).unwrap();
    std::fs::write(d("tree/sub/leaf"), "leaf\n").unwrap();
    r.ok(&["cp", &ds("host.txt"), &format!("{c}:/etc/")]);
    r.ok(&["cp", "-a", &ds("host.txt"), &format!("{c}:/tmp/kept-owner.txt")]);
    r.ok(&["cp", &ds("tree"), &format!("{c}:/copied-tree")]);
    r.ok(&["cp", &ds("tree"), &format!("{c}:/tmp")]);
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(7);
    h.set_mode(0o640);
    h.set_uid(77);
    h.set_entry_type(tar::EntryType::Regular);
    b.append_data(&mut h, "streamed/file", &b"stream\n"[..]).unwrap();
    let (code, _, err) = with_stdin(r, &["cp", "-", &format!("{c}:/tmp")], &b.into_inner().unwrap());
    assert_eq!(code, Some(0), "{what}: {err}");
    // what the container has now, read back as a tar of its root
    let tar = stdout_bytes(r, &["cp", &format!("{c}:/"), "-"]);
    let cat = |p: &str| String::from_utf8(tar_member(&tar, p).unwrap_or_default()).unwrap();
    assert_eq!(cat("etc/host.txt"), "from the host\n", "{what}");
    assert_eq!(cat("copied-tree/sub/leaf"), "leaf\n", "{what}");
    assert_eq!(cat("tmp/tree/sub/leaf"), "leaf\n", "{what}");
    assert_eq!(cat("tmp/streamed/file"), "stream\n", "{what}");
    // owners: the container's root, or (-a) the source's; modes as they were
    assert_eq!(tar_header(&tar, "etc/host.txt"), (0, 0, 0o644), "{what}");
    assert_eq!(tar_header(&tar, "tmp/kept-owner.txt"), (1234, 1234, 0o644), "{what}");
    assert_eq!(tar_header(&tar, "tmp/streamed/file"), (0, 0, 0o640), "{what}");
    if running {
        let seen = r.ok(&["exec", c, "sh", "-c", "cat /etc/host.txt /tmp/streamed/file"]);
        assert_eq!(seen, "from the host\nstream\n", "the running container sees the copies");
    }

    // errors, each naming what was wrong
    let fail = |args: &[&str], needle: &str| {
        let out = r.run(args);
        assert_eq!(out.status.code(), Some(125), "{what}: {args:?}");
        assert!(err_of(&out).contains(needle), "{what}: {args:?}: {}", err_of(&out));
    };
    fail(&["cp", &format!("{c}:/data/keep/"), &ds("x")], "not a directory");
    fail(&["cp", &format!("{c}:/nothing"), &ds("x")], "no such file or directory");
    fail(&["cp", &format!("{c}:/data"), &ds("renamed")], "cannot copy a directory to a file");
    fail(&["cp", &ds("host.txt"), &format!("{c}:/no/such/dir/")], "no such");
    fail(&["cp", &ds("host.txt"), &format!("{c}:/data/keep/")], "not a directory");
    fail(&["cp", &format!("{c}:/a"), &format!("{c}:/b")], "between containers");
    fail(&["cp", &ds("host.txt"), &ds("y")], "CONTAINER:PATH");
    fail(&["cp", "-", &format!("{c}:/data/keep")], "must be a directory");
    fail(&["cp", &ds("host.txt"), "nothere:/tmp"], "no such container: nothere");
}

#[test]
fn cp_copies_both_ways_in_stopped_and_running_containers() {
    if !root_or_skip("cp_copies_both_ways_in_stopped_and_running_containers") {
        return;
    }
    let r = TestRoot::new("cp");
    r.ok(&["load", "-i", fixture("multilayer.tar").to_str().unwrap()]);
    r.ok(&["run", "--name", "stopped", "multilayer", "true"]);
    cp_both_ways(&r, "stopped", false);
    no_mounts_left(&r);
    // a tar stream is not written to a terminal, nor read from one
    for args in [["cp", "stopped:/data", "-"], ["cp", "-", "stopped:/tmp"]] {
        let mut cmd = Command::new(RRUN);
        cmd.arg("--root").arg(&r.path).args(args);
        let (code, out) = in_pty(cmd, b"", "refusing");
        assert_eq!(code, Some(125), "{args:?}: {out}");
        assert!(out.contains("terminal"), "{out}");
    }
    r.ok(&["run", "-d", "--name", "running", "multilayer", "sleep", "600"]);
    cp_both_ways(&r, "running", true);
    r.ok(&["rm", "-f", "running"]);
    no_mounts_left(&r);
}

/// Symlinks and `..` in container paths never reach the host's files.
fn cp_stays_in_the_container(r: &TestRoot, c: &str, running: bool) {
    let dir = ScratchDir::new("cp-escape-host-side");
    let d = |p: &str| dir.path.join(p);
    let ds = |p: &str| dir.path.join(p).display().to_string();
    let host_shadow = std::fs::read("/etc/shadow").unwrap();
    let what = if running { "running" } else { "stopped" };
    for (src, follow) in [
        ("/x", true),
        ("/e/shadow", false),
        ("/x/../../etc/shadow", false),
        ("/rel", true),
        ("/up/etc/shadow", false),
        ("/up/../../../etc/shadow", true),
    ] {
        let out = d(&format!("got{}", src.replace('/', "_")));
        let mut args = vec!["cp"];
        if follow {
            args.push("-L");
        }
        let from = format!("{c}:{src}");
        let to = out.display().to_string();
        args.extend([from.as_str(), to.as_str()]);
        r.ok(&args);
        let got = std::fs::read(&out).unwrap();
        assert_eq!(got, b"container-shadow\n", "{what}: cp {args:?}");
        assert_ne!(got, host_shadow);
    }
    // without -L a symlink is copied as it is, pointing nowhere on the host's behalf
    r.ok(&["cp", &format!("{c}:/rel"), &ds("rel-link")]);
    assert_eq!(std::fs::read_link(d("rel-link")).unwrap().to_str(), Some("../../../../etc/shadow"));
    // a link to a host file the container lacks: nothing is read
    let out = r.run(&["cp", "-L", &format!("{c}:/hostonly"), &ds("hostonly")]);
    assert_eq!(out.status.code(), Some(125), "{what}");
    assert!(!d("hostonly").exists(), "{what}: the host's file was copied");
    // /x/../.. is the container's root, whatever /x points at
    r.ok(&["cp", &format!("{c}:/x/../.."), &ds("root")]);
    assert_eq!(std::fs::read(d("root/etc/shadow")).unwrap(), b"container-shadow\n", "{what}");
    assert!(!d("root/etc/debian_version").exists(), "{what}: host files in the copy");
    // writes through the same links land in the container
    std::fs::write(d("payload"), "payload\n").unwrap();
    for dest in ["/e/written-e", "/up/etc/written-up", "/x/../../etc/written-dotdot"] {
        r.ok(&["cp", &ds("payload"), &format!("{c}:{dest}")]);
    }
    for name in ["written-e", "written-up", "written-dotdot"] {
        assert!(!std::path::Path::new("/etc").join(name).exists(), "{what}: the host's /etc/{name} was written");
        let back = d(&format!("back-{name}"));
        r.ok(&["cp", &format!("{c}:/etc/{name}"), back.to_str().unwrap()]);
        assert_eq!(std::fs::read(&back).unwrap(), b"payload\n", "{what}");
    }
    // a tar stream cannot climb out either
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(1);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    b.append_link(&mut h, "esc", "/").unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_size(2);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    b.append_data(&mut h, "esc/etc/written-tar", &b"t\n"[..]).unwrap();
    let (code, _, err) = with_stdin(r, &["cp", "-", &format!("{c}:/tmp")], &b.into_inner().unwrap());
    assert_eq!(code, Some(0), "{what}: {err}");
    assert!(!std::path::Path::new("/etc/written-tar").exists(), "{what}: the host's /etc was written");
    r.ok(&["cp", &format!("{c}:/etc/written-tar"), &ds("back-tar")]);
    assert_eq!(std::fs::read(d("back-tar")).unwrap(), b"t\n");
}

#[test]
fn cp_never_reads_or_writes_host_files_through_container_paths() {
    if !root_or_skip("cp_never_reads_or_writes_host_files_through_container_paths") {
        return;
    }
    assert!(std::path::Path::new("/etc/shadow").exists() && std::path::Path::new("/etc/debian_version").exists());
    let r = TestRoot::with_busybox("cp-escape");
    let setup = "echo container-shadow > /etc/shadow; ln -s /etc/shadow /x; ln -s /etc /e; \
                 ln -s ../../../../etc/shadow /rel; ln -s / /up; ln -s /etc/debian_version /hostonly";
    r.ok(&["run", "--name", "stopped", "busybox", "sh", "-c", setup]);
    cp_stays_in_the_container(&r, "stopped", false);
    no_mounts_left(&r);
    r.ok(&["run", "-d", "--name", "running", "busybox", "sh", "-c", &format!("{setup}; sleep 600")]);
    assert!(wait_for(std::time::Duration::from_secs(10), || r.ok(&["diff", "running"]).contains("A /hostonly")));
    cp_stays_in_the_container(&r, "running", true);
    r.ok(&["rm", "-f", "running"]);
    no_mounts_left(&r);
}
