//! Each embedding example (examples/*.rs) builds and runs, and prints what it should.

mod common;
use common::*;

#[test]
fn run_busybox_example_loads_and_runs() {
    if !root_or_skip("run_busybox_example_loads_and_runs") {
        return;
    }
    let example = example("run_busybox");
    let r = TestRoot::new("example");
    let out = std::process::Command::new(&example)
        .arg(&r.path)
        .arg(fixture("busybox.tar"))
        .args(["sh", "-c", "echo hello from $(hostname | wc -c) chars; exit 5"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello from 13 chars\n");
    assert_eq!(out.status.code(), Some(5));
    assert!(String::from_utf8_lossy(&out.stderr).contains("loaded docker.io/library/busybox:latest"));
}

/// The built example `name`. Every example is built once, by the first test
/// to ask (one cargo at a time: two linking the same file would break it).
fn example(name: &str) -> std::path::PathBuf {
    static BUILT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let exe = std::env::current_exe().unwrap();
    let built = BUILT.get_or_init(|| {
        std::process::Command::new(env!("CARGO"))
            .args(["build", "--examples", "--manifest-path"])
            .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
            .args(exe.to_str().unwrap().contains("/release/").then_some("--release"))
            .status()
            .unwrap()
            .success()
    });
    assert!(built, "building the examples");
    let path = exe.parent().unwrap().parent().unwrap().join("examples").join(name);
    assert!(path.exists(), "{}", path.display());
    path
}

#[test]
fn run_output_example_captures_both_streams_and_the_code() {
    if !root_or_skip("run_output_example_captures_both_streams_and_the_code") {
        return;
    }
    let r = TestRoot::new("example-output");
    let out = std::process::Command::new(example("run_output"))
        .arg(&r.path)
        .arg(fixture("busybox.tar"))
        .args(["sh", "-c", "echo to out; echo to err >&2; exit 4"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "status: 4\nstdout: \"to out\\n\"\nstderr: \"to err\\n\"\n",
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn detached_exec_example_execs_reads_the_log_and_stops() {
    if !root_or_skip("detached_exec_example_execs_reads_the_log_and_stops") {
        return;
    }
    let r = TestRoot::new("example-exec");
    let out =
        std::process::Command::new(example("detached_exec")).arg(&r.path).arg(fixture("busybox.tar")).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "running: true");
    assert_eq!(lines[1], "exec status: 3");
    assert!(lines[2].starts_with("exec stdout: in ") && lines[2].len() == "exec stdout: in ".len() + 12, "{stdout}");
    assert_eq!(lines[3], "exec stderr: oops");
    assert_eq!(lines[4], "spawn echoed: piped");
    assert_eq!(lines[5], "spawn status: 0");
    assert_eq!(lines[6], "log: started");
    assert_eq!(lines[7], "stopped: true");
}

#[test]
fn pull_progress_example_reports_each_step_through_its_callback() {
    let test = "pull_progress_example_reports_each_step_through_its_callback";
    if !root_or_skip(test) || !common::registry::tools_or_skip(test) {
        return;
    }
    let r = TestRoot::new("example-pull");
    let reg = common::registry::Registry::start(&r.path.join("registry"), common::registry::Flavour::Open);
    reg.seed(&fixture("multilayer-oci"), "docker.io/library/multilayer:latest", "library/multilayer:1.0");
    let image = format!("{}/library/multilayer:1.0", reg.host());
    let out =
        std::process::Command::new(example("pull_progress")).arg(r.path.join("store")).arg(&image).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], format!("resolved {image}: 3 layers"), "{stdout}");
    assert_eq!(lines.iter().filter(|l| l.starts_with("layer sha256:") && l.ends_with(" bytes")).count(), 3, "{stdout}");
    assert_eq!(lines.iter().filter(|l| l.starts_with("layer sha256:") && l.ends_with(": done")).count(), 3, "{stdout}");
    assert!(lines[lines.len() - 2].starts_with(&format!("committed {image} as sha256:")), "{stdout}");
    let last = lines[lines.len() - 1];
    assert!(last.starts_with("pulled sha256:") && !last.ends_with("(0 byte reports)"), "{stdout}");
}

#[test]
fn oci_runtime_example_creates_starts_and_deletes_a_bundle() {
    if !root_or_skip("oci_runtime_example_creates_starts_and_deletes_a_bundle") {
        return;
    }
    let r = TestRoot::new("example-oci");
    let bundle = r.path.join("bundle");
    extract_busybox(&bundle.join("rootfs"));
    let spec = std::process::Command::new(RRUN).arg("spec").current_dir(&bundle).output().unwrap();
    assert!(spec.status.success(), "{spec:?}");
    let config_path = bundle.join("config.json");
    let mut config: serde_json::Value = serde_json::from_slice(&std::fs::read(&config_path).unwrap()).unwrap();
    config["process"]["terminal"] = false.into();
    config["process"]["args"] = serde_json::json!(["echo", "hello from the bundle"]);
    std::fs::write(&config_path, serde_json::to_vec_pretty(&config).unwrap()).unwrap();
    let id = format!("example-{}", std::process::id());
    let out = std::process::Command::new(example("oci_runtime"))
        .arg(r.path.join("state"))
        .arg(&bundle)
        .arg(&id)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout, "state: created\nhello from the bundle\nstate: stopped\ndeleted: true\n");
}

#[test]
fn spawn_pipes_example_holds_the_streams_a_terminal_and_cleans_up() {
    if !root_or_skip("spawn_pipes_example_holds_the_streams_a_terminal_and_cleans_up") {
        return;
    }
    let r = TestRoot::new("example-spawn");
    let out = std::process::Command::new(example("spawn_pipes"))
        .arg(&r.path)
        .arg(fixture("busybox.tar"))
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[..4], ["stdout: got hello", "stderr: err", "status: 3", "removed: true"], "{stdout}");
    // dropped without wait: killed (SIGKILL: 137), reaped, its cgroup gone
    let dropped: Vec<&str> = lines[4].strip_prefix("dropped: ").expect(&stdout).split(' ').collect();
    let (id, pid) = (dropped[0], dropped[1]);
    assert_eq!(dropped[2..], ["Exited", "Some(137)"], "{stdout}");
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists(), "process {pid} survived its drop");
    assert!(cgroup_dirs(&format!("rrun/{id}")).is_empty(), "{:?}", cgroup_dirs(&format!("rrun/{id}")));
    assert_eq!(lines[5], "spawn status: 0", "{stdout}");
    assert!(lines[6].starts_with("spawn tty: /dev/pts/"), "{stdout}");
    assert_eq!(lines[7], "spawn tty: 33 77", "{stdout}");
    assert_eq!(lines[8], "exec status: 0", "{stdout}");
    assert!(lines[9].starts_with("exec tty: /dev/pts/"), "{stdout}");
    assert_eq!(lines.len(), 10, "{stdout}");
    assert!(std::fs::read_dir(r.path.join("containers")).unwrap().next().is_none(), "containers left: {stdout}");
}
