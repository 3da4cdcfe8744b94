//! CDI devices (GPUs and others) on a machine with no GPU: synthetic CDI
//! specs whose device nodes are this host's spare character devices under
//! GPU names (`/dev/fuse` shown as `/dev/nvidia0`), a fake driver library
//! directory, environment, extra groups and hooks of every kind writing a
//! log. A container sees exactly those nodes, its device cgroup allows
//! exactly those (with their permissions), the library is mounted read-only,
//! the hooks run in the OCI order with a state naming the container's bundle.
//! The same through the OCI path: a bundle whose config.json has the edits
//! applied, and Podman applying CDI itself with rrun as its runtime.
//! `--gpus` is checked against a spec of kind `nvidia.com/gpu`, and broken
//! specs against the errors they must give.

mod common;
use common::*;
use serde_json::Value;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Character devices of this host that Docker's default device cgroup does
/// not allow, harmless to open: (path, major, minor).
fn spare_devices() -> Vec<(PathBuf, u64, u64)> {
    ["/dev/fuse", "/dev/loop-control", "/dev/kvm", "/dev/vhost-net"]
        .iter()
        .filter_map(|p| {
            let m = std::fs::metadata(p).ok()?;
            m.file_type()
                .is_char_device()
                .then(|| (PathBuf::from(p), libc::major(m.rdev()) as u64, libc::minor(m.rdev()) as u64))
        })
        .collect()
}

/// A synthetic vendor: spec directory, fake library, hook log.
struct Vendor {
    dir: ScratchDir,
    /// Host nodes behind `/dev/nvidia0` and `/dev/nvidia1`, and a third the container must not open.
    nodes: Vec<(PathBuf, u64, u64)>,
}

impl Vendor {
    /// None (having [`skip`]ped: a failure in CI) on a host without two spare devices.
    fn new(test: &str) -> Option<Vendor> {
        let nodes = spare_devices();
        if nodes.len() < 2 {
            skip(test, "this host has fewer than two of /dev/fuse, /dev/loop-control, /dev/kvm, /dev/vhost-net");
            return None;
        }
        let dir = ScratchDir::new(test);
        for sub in ["specs", "lib", "marker"] {
            std::fs::create_dir_all(dir.path.join(sub)).unwrap();
        }
        std::fs::write(dir.path.join("lib/libvendor.so.1"), "fake driver library\n").unwrap();
        Some(Vendor { dir, nodes })
    }

    fn specs(&self) -> PathBuf {
        self.dir.path.join("specs")
    }

    fn marker(&self) -> PathBuf {
        self.dir.path.join("marker")
    }

    /// The spec of `kind` at `version`, written as `file` in the spec directory.
    fn write_spec(&self, kind: &str, version: &str, file: &str) -> PathBuf {
        let (lib, marker) = (self.dir.path.join("lib"), self.marker());
        let (lib, marker) = (lib.display(), marker.display());
        let hook = |name: &str, script: &str| {
            format!("  - {{hookName: {name}, path: /bin/sh, args: [sh, -c, \"{script}\"], env: [\"PATH=/usr/bin:/bin\"]}}\n")
        };
        let (n0, (_, ma1, mi1)) = (&self.nodes[0].0.display(), &self.nodes[1]);
        let gids = if version >= "0.7.0" { "    additionalGids: [44]\n" } else { "" };
        let node0 = format!("{{path: /dev/nvidia0, hostPath: {n0}}}");
        let node1 = format!(
            "{{path: /dev/nvidia1, type: c, major: {ma1}, minor: {mi1}, fileMode: 0640, gid: 44, permissions: r}}"
        );
        let text = format!(
            "cdiVersion: \"{version}\"\nkind: {kind}\ncontainerEdits:\n  env: [\"VENDOR_SPEC=1\"]\n  mounts:\n  \
             - {{hostPath: {lib}, containerPath: /usr/lib/vendor, options: [ro, nosuid, nodev, bind]}}\n  \
             - {{hostPath: {marker}, containerPath: /cdi-marker, options: [rbind, rw]}}\n  hooks:\n{}{}{}{}{}\
             devices:\n\
             - name: \"0\"\n  containerEdits:\n    env: [\"GPU0=yes\"]\n    deviceNodes: [{node0}]\n\
             - name: \"1\"\n  containerEdits:\n    env: [\"GPU1=yes\"]\n    deviceNodes: [{node1}]\n{gids}\
             - name: all\n  containerEdits:\n    env: [\"GPU0=yes\", \"GPU1=yes\"]\n    deviceNodes: [{node0}, {node1}]\n{gids}",
            hook("createRuntime", &format!("echo createRuntime >> {marker}/hooks")),
            hook("createContainer", &format!("cat > {marker}/state.json; echo createContainer >> {marker}/hooks")),
            // in the container's namespaces, after pivot_root: its view of the marker directory
            hook("startContainer", "echo startContainer >> /cdi-marker/hooks"),
            hook("poststart", &format!("echo poststart >> {marker}/hooks")),
            hook("poststop", &format!("echo poststop >> {marker}/hooks")),
        );
        let path = self.specs().join(file);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// The hooks that ran, in order.
    fn hooks(&self) -> Vec<String> {
        std::fs::read_to_string(self.marker().join("hooks")).unwrap_or_default().lines().map(String::from).collect()
    }

    fn state(&self) -> Value {
        let text = std::fs::read_to_string(self.marker().join("state.json")).unwrap_or_default();
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("state.json {text:?}: {e}"))
    }

    fn reset_marker(&self) {
        let _ = std::fs::remove_file(self.marker().join("hooks"));
        let _ = std::fs::remove_file(self.marker().join("state.json"));
    }

    /// What the container sees, one fact a line (run by `sh -c` in it).
    fn probe(&self) -> String {
        let other = self.nodes.get(2).map(|(_, ma, mi)| format!("{ma} {mi}")).unwrap_or_default();
        let (_, ma1, mi1) = &self.nodes[1];
        format!(
            r#"for d in /dev/nvidia0 /dev/nvidia1; do
  if [ -e $d ]; then set -- $(ls -ln $d); echo "$d $1 gid=$4 $5$6"; else echo "$d missing"; fi
done
echo "env VENDOR_SPEC=$VENDOR_SPEC GPU0=$GPU0 GPU1=$GPU1"
echo "lib $(cat /usr/lib/vendor/libvendor.so.1)"
touch /usr/lib/vendor/new 2>/dev/null && echo "lib writable" || echo "lib read-only"
echo "groups $(id -G)"
for d in /dev/nvidia0 /dev/nvidia1; do
  [ -c $d ] || continue
  (exec 3<$d) 2>/dev/null && echo "$d read allowed" || echo "$d read denied"
  (exec 3>$d) 2>/dev/null && echo "$d write allowed" || echo "$d write denied"
done
# nodes made in the container (on /dev, a tmpfs that allows device nodes): only the cgroup decides
mknod /dev/cdi-n1 c {ma1} {mi1} && {{ (exec 3</dev/cdi-n1) 2>/dev/null && echo "n1 numbers allowed" || echo "n1 numbers denied"; }}
if [ -n "{other}" ]; then mknod /dev/cdi-other c {other} && {{ (exec 3</dev/cdi-other) 2>/dev/null && echo "other allowed" || echo "other denied"; }}; else echo "other denied"; fi
"#
        )
    }

    /// The lines `probe` prints for a container given every device, whose `id -G` is `groups`.
    fn expect_all(&self, groups: &str) -> Vec<String> {
        let (_, ma0, mi0) = &self.nodes[0];
        let (_, ma1, mi1) = &self.nodes[1];
        let mut v = vec![
            format!("/dev/nvidia0 crw-rw-rw- gid=0 {ma0},{mi0}"),
            format!("/dev/nvidia1 crw-r----- gid=44 {ma1},{mi1}"),
            "env VENDOR_SPEC=1 GPU0=yes GPU1=yes".to_string(),
            "lib fake driver library".to_string(),
            "lib read-only".to_string(),
        ];
        v.push(format!("groups {groups}"));
        v.extend(
            [
                "/dev/nvidia0 read allowed",
                "/dev/nvidia0 write allowed",
                "/dev/nvidia1 read allowed",
                "/dev/nvidia1 write denied",
                "n1 numbers allowed",
                "other denied",
            ]
            .map(String::from),
        );
        v
    }
}

fn lines(s: &str) -> Vec<String> {
    s.lines().map(String::from).collect()
}

#[test]
fn cdi_devices_reach_the_container_with_their_nodes_cgroup_mounts_env_groups_and_hooks() {
    let test = "cdi_devices_reach_the_container";
    if !root_or_skip(test) {
        return;
    }
    let Some(v) = Vendor::new(test) else { return };
    v.write_spec("vendor.com/gpu", "0.7.0", "vendor.yaml");
    let r = TestRoot::with_busybox("cdi-all");
    let specs = v.specs();
    let specs = specs.to_str().unwrap();

    // every device: both nodes, spec and device edits, hooks in order
    let out = r.run(&[
        "run",
        "--name",
        "gpu",
        "--cdi-spec-dir",
        specs,
        "--device",
        "vendor.com/gpu=all",
        "busybox",
        "sh",
        "-c",
        &v.probe(),
    ]);
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "stdout: {stdout}\nstderr: {stderr}");
    // the image's /etc/group puts root in wheel (10); the spec adds 44
    assert_eq!(lines(&stdout), v.expect_all("0 10 44"), "stderr: {stderr}");
    assert_eq!(v.hooks(), ["createRuntime", "createContainer", "startContainer", "poststart", "poststop"]);
    // the state the hooks read names the container and its bundle, whose config.json has the edits
    let state = v.state();
    let id = r.ok(&["ps", "-aq", "--no-trunc"]).trim().to_string();
    assert_eq!(state["id"], id.as_str(), "{state}");
    assert_eq!(state["status"], "creating", "{state}");
    assert!(state["pid"].as_i64().unwrap_or(0) > 0, "{state}");
    let bundle = PathBuf::from(state["bundle"].as_str().unwrap());
    let config = std::fs::read_to_string(bundle.join("config.json")).unwrap();
    assert!(config.contains("/dev/nvidia1") && config.contains("/usr/lib/vendor"), "{config}");

    // one device: only its node, its env; the other's numbers are denied by the cgroup
    v.reset_marker();
    let (code, stdout, stderr) = r.sh(&["--cdi-spec-dir", specs, "--device", "vendor.com/gpu=0"], &v.probe());
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let (_, ma0, mi0) = &v.nodes[0];
    assert_eq!(
        lines(&stdout),
        [
            format!("/dev/nvidia0 crw-rw-rw- gid=0 {ma0},{mi0}"),
            "/dev/nvidia1 missing".into(),
            "env VENDOR_SPEC=1 GPU0=yes GPU1=".into(),
            "lib fake driver library".into(),
            "lib read-only".into(),
            "groups 0 10".into(),
            "/dev/nvidia0 read allowed".into(),
            "/dev/nvidia0 write allowed".into(),
            "n1 numbers denied".into(),
            "other denied".into(),
        ],
        "{stderr}"
    );
    // two names: the spec's edits once, each device's own
    v.reset_marker();
    let (code, stdout, stderr) =
        r.sh(&["--cdi-spec-dir", specs, "--device", "vendor.com/gpu=0", "--device", "vendor.com/gpu=1"], &v.probe());
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(lines(&stdout), v.expect_all("0 10 44"), "{stderr}");
    assert_eq!(v.hooks().iter().filter(|h| *h == "createContainer").count(), 1, "{:?}", v.hooks());

    // without CDI, the same numbers are denied: the allowance came from the spec
    let (ma1, mi1) = (v.nodes[1].1.to_string(), v.nodes[1].2.to_string());
    let (code, stdout, _) =
        r.sh(&[], &format!("mknod /dev/n c {ma1} {mi1} && (exec 3</dev/n) 2>/dev/null && echo allowed || echo denied"));
    assert_eq!((code, stdout.as_str()), (0, "denied\n"));

    // a detached container runs the hooks too
    v.reset_marker();
    let id = r.ok(&["run", "-d", "--cdi-spec-dir", specs, "--device", "vendor.com/gpu=1", "busybox", "true"]);
    r.ok(&["wait", id.trim()]);
    assert!(wait_for(Duration::from_secs(5), || v.hooks().len() == 5), "{:?}", v.hooks());
    assert_eq!(v.hooks(), ["createRuntime", "createContainer", "startContainer", "poststart", "poststop"]);
}

#[test]
fn gpus_map_onto_nvidia_cdi_names() {
    if !root_or_skip("gpus_map_onto_nvidia_cdi_names") {
        return;
    }
    let dir = ScratchDir::new("cdi-gpus");
    let devices: String = ["0", "1", "all"]
        .iter()
        .map(|n| format!("- name: \"{n}\"\n  containerEdits:\n    env: [\"NV_{n}=1\"]\n"))
        .collect();
    std::fs::write(
        dir.path.join("nvidia.yaml"),
        format!("cdiVersion: 0.5.0\nkind: nvidia.com/gpu\ndevices:\n{devices}"),
    )
    .unwrap();
    let r = TestRoot::with_busybox("cdi-gpus");
    let specs = dir.path.to_str().unwrap();
    let gpus = |extra: &[&str]| {
        let mut args = vec!["--cdi-spec-dir", specs];
        args.extend_from_slice(extra);
        let (code, out, err) = r.sh(&args, "env | grep -E '^(NV_|NVIDIA_)' | sort | tr '\\n' ' '");
        (code, out.trim().to_string(), err)
    };
    assert_eq!(gpus(&["--gpus", "all"]).1, "NV_all=1");
    assert_eq!(gpus(&["--gpus", "2"]).1, "NV_0=1 NV_1=1");
    assert_eq!(gpus(&["--gpus", "\"device=1\""]).1, "NV_1=1");
    assert_eq!(
        gpus(&["--gpus", "count=1,\"capabilities=compute,utility\""]).1,
        "NVIDIA_DRIVER_CAPABILITIES=compute,utility NV_0=1"
    );
    // --gpus and --device together
    assert_eq!(gpus(&["--gpus", "device=0", "--device", "nvidia.com/gpu=1"]).1, "NV_0=1 NV_1=1");
    let (code, _, err) = gpus(&["--gpus", "3"]);
    assert_eq!(code, 125, "{err}");
    assert!(err.contains("3 GPUs") && err.contains("nvidia.com/gpu=0, nvidia.com/gpu=1"), "{err}");
    let (code, _, err) = gpus(&["--gpus", "device=0,1"]);
    assert_eq!(code, 125, "{err}");
    assert!(err.contains("quote"), "{err}");
}

#[test]
fn unknown_devices_and_broken_specs_are_clear_errors() {
    let root = nix::unistd::Uid::effective().is_root();
    let dir = ScratchDir::new("cdi-broken");
    let write = |name: &str, text: &str| std::fs::write(dir.path.join(name), text).unwrap();
    write("good.yaml", "cdiVersion: 0.6.0\nkind: vendor.com/gpu\ndevices:\n- {name: \"0\", containerEdits: {env: [A=1]}}\n- {name: \"1\", containerEdits: {env: [A=2]}}\n");
    write("broken.yaml", "cdiVersion: 0.6.0\nkind: vendor.com/tpu\ndevices:\n- name: t0\n  containerEdits:\n    deviceNodes: [{path: /dev/t0, permissions: rwx}]\n");
    write(
        "typo.json",
        r#"{"cdiVersion": "0.6.0", "kind": "vendor.com/npu", "devices": [{"name": "n0", "containerEdits": {"deviceNodes": [{"path": "/dev/n0", "major": "one"}]}}]}"#,
    );
    write("README.txt", "not a spec: ignored\n");
    let specs = dir.path.to_str().unwrap();
    let broken = dir.path.join("broken.yaml");
    let typo = dir.path.join("typo.json");

    // `cdi list` shows what works and warns about the rest, naming file and field
    let list = output_of(Command::new(RRUN).args(["cdi", "list", "--cdi-spec-dir", specs]));
    assert_eq!(list.0, Some(0), "{list:?}");
    assert_eq!(
        lines(&list.1),
        [
            "NAME               SPEC FILE".to_string(),
            format!("vendor.com/gpu=0   {}", dir.path.join("good.yaml").display()),
            format!("vendor.com/gpu=1   {}", dir.path.join("good.yaml").display()),
        ]
    );
    assert!(
        list.2.contains(&format!("{}: devices[0].containerEdits.deviceNodes[0].permissions", broken.display())),
        "{}",
        list.2
    );
    assert!(
        list.2.contains(&format!("{}: devices[0].containerEdits.deviceNodes[0].major", typo.display())),
        "{}",
        list.2
    );
    let json = output_of(Command::new(RRUN).args(["cdi", "list", "--format", "json", "--cdi-spec-dir", specs]));
    let rows: Vec<Value> = json.1.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 2, "{}", json.1);
    assert_eq!(rows[0]["Name"], "vendor.com/gpu=0");
    assert_eq!(rows[0]["Kind"], "vendor.com/gpu");
    assert_eq!(rows[0]["CDIVersion"], "0.6.0");
    let quiet = output_of(Command::new(RRUN).args(["cdi", "list", "-q", "--cdi-spec-dir", specs]));
    assert_eq!(quiet.1, "vendor.com/gpu=0\nvendor.com/gpu=1\n");

    if !root {
        skip("the run half of unknown_devices_and_broken_specs_are_clear_errors", "needs root");
        return;
    }
    let r = TestRoot::with_busybox("cdi-broken");
    let run = |device: &str| {
        let out = r.run(&["run", "--rm", "--cdi-spec-dir", specs, "--device", device, "busybox", "true"]);
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    // an unknown name: one line, what is available, and what could not be read
    let (code, err) = run("vendor.com/gpu=9");
    assert_eq!(code, Some(125), "{err}");
    let err_line = err.lines().find(|l| l.starts_with("rrun: unknown")).unwrap_or_else(|| panic!("{err}"));
    assert!(
        err_line
            .starts_with("rrun: unknown CDI device vendor.com/gpu=9: available: vendor.com/gpu=0, vendor.com/gpu=1;"),
        "{err}"
    );
    assert!(err_line.contains("broken.yaml: devices[0].containerEdits.deviceNodes[0].permissions"), "{err}");
    // the device of a broken spec: the error names its file and field
    let (code, err) = run("vendor.com/tpu=t0");
    assert_eq!(code, Some(125), "{err}");
    assert!(
        err.contains(&format!(
            "{}: devices[0].containerEdits.deviceNodes[0].permissions: invalid permissions \"rwx\"",
            broken.display()
        )),
        "{err}"
    );
    // not a qualified name
    let (code, err) = run("vendor.com/gpu=");
    assert_eq!(code, Some(125), "{err}");
    assert!(err.contains("invalid CDI device name \"vendor.com/gpu=\""), "{err}");
    let out = r.run(&["run", "--rm", "--gpus", "nope", "busybox", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid --gpus \"nope\""), "{out:?}");
    // nothing of it stays behind
    assert_eq!(r.ok(&["ps", "-aq"]), "");
}

#[test]
fn every_spec_version_parses_and_later_directories_win() {
    let dir = ScratchDir::new("cdi-versions");
    let (etc, run) = (dir.path.join("etc"), dir.path.join("run"));
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::create_dir_all(&run).unwrap();
    // each version with the fields it brought
    let versions = ["0.3.0", "0.4.0", "0.5.0", "0.6.0", "0.7.0", "0.8.0", "1.0.0", "1.1.0"];
    for v in versions {
        let class = format!("v{}", v.replace('.', ""));
        let mut edits = vec!["env: [\"V=1\"]".to_string()];
        if v >= "0.4.0" {
            edits.push("mounts: [{hostPath: /lib, containerPath: /lib2, type: bind, options: [rbind, ro]}]".into());
        }
        if v >= "0.5.0" {
            edits.push("deviceNodes: [{path: /dev/x, hostPath: /dev/null}]".into());
        }
        if v >= "0.7.0" {
            edits.push("additionalGids: [44]".into());
        }
        if v >= "1.1.0" {
            edits.push("intelRdt: {closID: c1, schemata: [\"L3:0=f\"]}".into());
        }
        let annotations = if v >= "0.6.0" { "annotations: {\"vendor.com/generated-by\": test}\n" } else { "" };
        let edits: String = edits.iter().map(|e| format!("    {e}\n")).collect();
        let text = format!("cdiVersion: \"{v}\"\nkind: vendor.com/{class}\n{annotations}devices:\n- name: d0\n  containerEdits:\n{edits}");
        std::fs::write(etc.join(format!("{class}.yaml")), text).unwrap();
    }
    // the same device in /var/run/cdi (here: the second directory) replaces /etc/cdi's
    std::fs::write(
        run.join("override.json"),
        r#"{"cdiVersion": "0.3.0", "kind": "vendor.com/v030", "devices": [{"name": "d0", "containerEdits": {"env": ["V=2"]}}]}"#,
    )
    .unwrap();
    let out = output_of(
        Command::new(RRUN)
            .args(["cdi", "list", "--format", "json", "--cdi-spec-dir"])
            .arg(&etc)
            .arg("--cdi-spec-dir")
            .arg(&run),
    );
    assert_eq!(out.0, Some(0), "{out:?}");
    assert_eq!(out.2, "", "every version parses and validates");
    let rows: Vec<Value> = out.1.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let got: Vec<(String, String)> = rows
        .iter()
        .map(|r| (r["Name"].as_str().unwrap().to_string(), r["CDIVersion"].as_str().unwrap().to_string()))
        .collect();
    let want: Vec<(String, String)> =
        versions.iter().map(|v| (format!("vendor.com/v{}=d0", v.replace('.', "")), v.to_string())).collect();
    assert_eq!(got, want);
    let v030 = rows.iter().find(|r| r["Name"] == "vendor.com/v030=d0").unwrap();
    assert_eq!(v030["SpecFile"], run.join("override.json").to_str().unwrap());
    // a spec that understates its version is refused, naming the field that needs more
    std::fs::write(
        etc.join("old.yaml"),
        "cdiVersion: 0.5.0\nkind: vendor.com/old\ndevices:\n- {name: d0, containerEdits: {additionalGids: [44]}}\n",
    )
    .unwrap();
    let out = output_of(Command::new(RRUN).args(["cdi", "list", "--cdi-spec-dir"]).arg(&etc));
    assert!(
        out.2.contains("old.yaml: devices[0].containerEdits.additionalGids: needs cdiVersion 0.7.0 or later, and the spec declares 0.5.0"),
        "{}",
        out.2
    );
}

#[test]
fn intel_rdt_without_resctrl_or_its_class_is_refused() {
    if !root_or_skip("intel_rdt_without_resctrl_or_its_class_is_refused") {
        return;
    }
    let dir = ScratchDir::new("cdi-rdt");
    std::fs::write(
        dir.path.join("rdt.yaml"),
        "cdiVersion: 0.7.0\nkind: vendor.com/cache\ndevices:\n- {name: half, containerEdits: {intelRdt: {closID: rrun-test-no-such-clos, l3CacheSchema: \"L3:0=f\"}}}\n",
    )
    .unwrap();
    let r = TestRoot::with_busybox("cdi-rdt");
    let (code, _, err) =
        r.sh(&["--cdi-spec-dir", dir.path.to_str().unwrap(), "--device", "vendor.com/cache=half"], "true");
    assert_eq!(code, 125, "{err}");
    // this host: no resctrl, or no such class of service
    assert!(
        err.contains("CDI intelRdt: this host has no resctrl filesystem")
            || err.contains("class of service \"rrun-test-no-such-clos\" does not exist"),
        "{err}"
    );
    assert_eq!(r.ok(&["ps", "-aq"]), "");
}

/// A bundle of the busybox fixture: rootfs and the `rrun spec` config.
fn bundle(dir: &Path, args: &[&str]) -> oci_spec::runtime::Spec {
    std::fs::create_dir_all(dir.join("rootfs")).unwrap();
    extract_busybox(&dir.join("rootfs"));
    let out = Command::new(RRUN).arg("spec").current_dir(dir).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let mut c: Value = serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
    c["process"]["terminal"] = false.into();
    c["process"]["args"] = args.iter().map(|a| Value::from(*a)).collect();
    // as engines give it (runc's template leaves it out): the probe makes nodes
    for set in ["bounding", "effective", "permitted"] {
        c["process"]["capabilities"][set].as_array_mut().unwrap().push("CAP_MKNOD".into());
    }
    serde_json::from_value(c).unwrap()
}

#[test]
fn the_oci_path_honours_every_field_cdi_produces() {
    let test = "the_oci_path_honours_every_field_cdi_produces";
    if !root_or_skip(test) {
        return;
    }
    let Some(v) = Vendor::new(test) else { return };
    v.write_spec("vendor.com/gpu", "0.7.0", "vendor.yaml");
    let dir = v.dir.path.join("bundle");
    let state = v.dir.path.join("state");
    let probe = v.probe();
    let mut spec = bundle(&dir, &["sh", "-c", &probe]);
    // as engines send it: deny every device, the runtime adds the standard ones, CDI its own
    let mut linux = spec.linux().clone().unwrap();
    let mut resources = linux.resources().clone().unwrap_or_default();
    resources.set_devices(Some(vec![oci_spec::runtime::LinuxDeviceCgroupBuilder::default()
        .allow(false)
        .access("rwm")
        .build()
        .unwrap()]));
    linux.set_resources(Some(resources));
    spec.set_linux(Some(linux));
    // what an engine does: the CDI edits applied to the config it hands the runtime
    let warnings = rrun::cdi_inject(&mut spec, &["vendor.com/gpu=all".to_string()], &[v.specs()]).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    std::fs::write(dir.join("config.json"), serde_json::to_vec_pretty(&spec).unwrap()).unwrap();
    let out = output_of(timed(60, RRUN).arg("--root").arg(&state).args(["run", "--bundle"]).arg(&dir).arg("cdi-oci"));
    assert_eq!(out.0, Some(0), "{out:?}");
    // as runc: the groups are exactly the config's (no /etc/group lookup)
    assert_eq!(lines(&out.1), v.expect_all("0 44"), "stderr: {}", out.2);
    // create → start → delete: every hook, those of one step in their order
    let hooks = v.hooks();
    let pos = |h: &str| hooks.iter().position(|x| x == h).unwrap_or_else(|| panic!("{h} did not run: {hooks:?}"));
    assert_eq!(hooks.len(), 5, "{hooks:?}");
    assert!(pos("createRuntime") < pos("createContainer"), "{hooks:?}");
    assert!(pos("createContainer") < pos("startContainer") && pos("createContainer") < pos("poststart"), "{hooks:?}");
    assert_eq!(hooks.last().map(String::as_str), Some("poststop"), "{hooks:?}");
    assert_eq!(v.state()["bundle"], dir.to_str().unwrap());

    // intelRdt in a config: refused clearly on a host without resctrl (or without that class)
    let mut c: Value = serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
    c["linux"]["intelRdt"] = serde_json::json!({"closID": "rrun-test-no-such-clos"});
    c["hooks"] = Value::Null;
    std::fs::write(dir.join("config.json"), serde_json::to_vec(&c).unwrap()).unwrap();
    let out = output_of(timed(60, RRUN).arg("--root").arg(&state).args(["run", "--bundle"]).arg(&dir).arg("cdi-rdt"));
    assert_ne!(out.0, Some(0), "{out:?}");
    assert!(out.2.contains("intelRdt:") && (out.2.contains("resctrl") || out.2.contains("does not exist")), "{out:?}");
}

/// Podman applies CDI itself (`--device vendor/class=name`), from /etc/cdi
/// and /var/run/cdi (Podman 4.3 has no setting for other directories): the
/// test's spec goes to /var/run/cdi under a vendor name of its own, and
/// leaves with the test.
struct RunCdiSpec {
    path: PathBuf,
    made_dir: bool,
}

impl Drop for RunCdiSpec {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        if self.made_dir {
            let _ = std::fs::remove_dir(self.path.parent().unwrap());
        }
    }
}

#[test]
fn podman_applies_cdi_and_rrun_as_its_runtime_honours_it() {
    let test = "podman_applies_cdi_and_rrun_as_its_runtime_honours_it";
    if !root_or_skip(test)
        || !ensure_programs(test, &[("podman", "podman"), ("conmon", "conmon"), ("timeout", "coreutils")])
    {
        return;
    }
    let Some(v) = Vendor::new(test) else { return };
    // Podman 4.3 reads CDI specs up to version 0.5.0 (no additionalGids)
    let kind = format!("rrun-test-{}.example.com/gpu", std::process::id());
    let spec = v.write_spec(&kind, "0.5.0", "spec.yaml");
    let run_dir = Path::new("/var/run/cdi");
    let made_dir = !run_dir.exists();
    std::fs::create_dir_all(run_dir).unwrap();
    let installed = RunCdiSpec { path: run_dir.join(format!("rrun-test-{}.yaml", std::process::id())), made_dir };
    std::fs::copy(&spec, &installed.path).unwrap();

    let d = v.dir.path.join("podman");
    std::fs::create_dir_all(&d).unwrap();
    let ds = d.display();
    common::podman::write_config(&d, common::podman::Runtime::Rrun, "none");
    let podman = |args: &[&str]| {
        let mut c = common::podman::command(&d, 60);
        c.arg("--runtime").arg(RRUN).args(args);
        output_of(&mut c)
    };
    type Out = (Option<i32>, String, String);
    struct Cleanup<'a>(&'a dyn Fn(&[&str]) -> Out, String);
    impl Drop for Cleanup<'_> {
        fn drop(&mut self) {
            let _ = (self.0)(&["rm", "-af", "-t", "0"]);
            let _ = (self.0)(&["rmi", "-af"]);
            end_processes(&pids_mentioning(&self.1), Duration::from_secs(5));
        }
    }
    let _cleanup = Cleanup(&podman, ds.to_string());
    let load = podman(&["load", "-i", fixture("busybox.tar").to_str().unwrap()]);
    assert_eq!(load.0, Some(0), "{load:?}");
    let image = load
        .1
        .lines()
        .find_map(|l| l.strip_prefix("Loaded image: "))
        .unwrap_or("localhost/busybox:latest")
        .trim()
        .to_string();

    let out = podman(&["run", "--rm", "--device", &format!("{kind}=all"), &image, "sh", "-c", &v.probe()]);
    assert_eq!(out.0, Some(0), "{out:?}");
    // Podman's groups from the image (wheel); additionalGids needs CDI 0.7.0, newer than Podman 4.3's
    assert_eq!(lines(&out.1), v.expect_all("0 10"), "stderr: {}", out.2);
    // the hooks Podman put in the config: rrun create, start and delete run them
    assert!(wait_for(Duration::from_secs(10), || v.hooks().len() == 5), "{:?}", v.hooks());
    let hooks = v.hooks();
    let pos = |h: &str| hooks.iter().position(|x| x == h).unwrap_or_else(|| panic!("{h} did not run: {hooks:?}"));
    assert!(
        pos("createRuntime") < pos("createContainer") && pos("createContainer") < pos("startContainer"),
        "{hooks:?}"
    );
    assert!(pos("createContainer") < pos("poststart") && pos("poststart") < pos("poststop"), "{hooks:?}");
    assert!(v.state()["bundle"].as_str().unwrap_or_default().contains("userdata"), "{}", v.state());

    // one device
    v.reset_marker();
    let out = podman(&["run", "--rm", "--device", &format!("{kind}=0"), &image, "sh", "-c", &v.probe()]);
    assert_eq!(out.0, Some(0), "{out:?}");
    let got = lines(&out.1);
    assert_eq!(got[1], "/dev/nvidia1 missing", "{got:?}");
    assert!(
        got.contains(&"n1 numbers denied".to_string()) && got.contains(&"/dev/nvidia0 read allowed".to_string()),
        "{got:?}"
    );
}
