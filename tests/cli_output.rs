//! What the listing and informational commands print: `--format` Go
//! templates, `--filter`, `-q`, `--no-trunc`, `--size`, `version`, `info`,
//! and the errors and hints of the Docker-style command line.

mod common;
use common::*;

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn ps_templates_filters_and_sizes() {
    if !root_or_skip("ps_templates_filters_and_sizes") {
        return;
    }
    let r = TestRoot::with_busybox("ps-format");
    let id_up = r.ok(&["run", "-d", "--name", "up", "busybox", "sleep", "30"]).trim().to_string();
    assert_eq!(
        r.run(&["run", "--name", "done3", "busybox", "sh", "-c", "echo 12345 > /big; exit 3"]).status.code(),
        Some(3)
    );
    r.ok(&["run", "--name", "done0", "busybox", "true"]);

    // Go templates with docker's field names
    let out = r.ok(&["ps", "--format", "{{.Names}} {{.State}}"]);
    assert_eq!(out, "up running\n");
    let out = r.ok(&["ps", "-a", "--format", "{{.Names}}"]);
    let mut names: Vec<&str> = out.lines().collect();
    names.sort();
    assert_eq!(names, ["done0", "done3", "up"]);
    let out = r.ok(&["ps", "--format", "{{json .}}"]);
    let row: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(row["ID"], &id_up[..12]);
    assert_eq!(row["Image"], "busybox");
    assert_eq!(row["Command"], "\"sleep 30\"");
    // `table` adds a header and aligns the tab-separated columns
    let out = r.ok(&["ps", "--format", "table {{.ID}}\t{{.Names}}"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "CONTAINER ID   NAMES");
    assert_eq!(lines[1], format!("{}   up", &id_up[..12]));
    // a bad template is refused with the reason, exit 125
    let bad = r.run(&["ps", "--format", "{{.NoSuchField}}"]);
    assert_eq!(bad.status.code(), Some(125));
    assert!(stderr(&bad).contains("NoSuchField"), "{}", stderr(&bad));

    // filters: alternatives within a key, conjunction across keys
    let names = |args: &[&str]| {
        let mut full = vec!["ps", "-a", "--format", "{{.Names}}"];
        full.extend_from_slice(args);
        let mut v: Vec<String> = r.ok(&full).lines().map(String::from).collect();
        v.sort();
        v
    };
    assert_eq!(names(&["--filter", "status=exited"]), ["done0", "done3"]);
    assert_eq!(names(&["--filter", "exited=3"]), ["done3"]);
    assert_eq!(names(&["-f", "status=running", "-f", "status=exited", "-f", "name=done"]), ["done0", "done3"]);
    assert_eq!(names(&["--filter", "ancestor=busybox"]).len(), 3);
    assert_eq!(names(&["--filter", &format!("id={}", &id_up[..6])]), ["up"]);
    assert!(names(&["--filter", "label=nosuch"]).is_empty());
    r.ok(&["run", "--name", "labelled", "--label", "tier=web", "--label", "team=a", "busybox", "true"]);
    assert_eq!(names(&["--filter", "label=tier=web"]), ["labelled"]);
    assert_eq!(names(&["--filter", "label=tier", "--filter", "label=team=a"]), ["labelled"]);
    assert!(names(&["--filter", "label=tier=db"]).is_empty());
    // the image's labels count too (the fixture is labelled org.rrun.fixture=busybox)
    assert_eq!(names(&["--filter", "label=org.rrun.fixture=busybox"]).len(), 4);
    let out = r.ok(&["ps", "-a", "--filter", "name=labelled", "--format", "{{.Labels}}"]);
    assert_eq!(out.trim(), "org.rrun.fixture=busybox,team=a,tier=web");
    r.ok(&["rm", "labelled"]);
    let bad = r.run(&["ps", "--filter", "status=sleeping"]);
    assert_eq!(bad.status.code(), Some(125));
    assert!(stderr(&bad).contains("status"), "{}", stderr(&bad));
    let bad = r.run(&["ps", "--filter", "colour=red"]);
    assert_eq!(bad.status.code(), Some(125));

    // -q, --no-trunc, -n, -l
    assert_eq!(r.ok(&["ps", "-q"]).trim(), &id_up[..12]);
    assert_eq!(r.ok(&["ps", "-q", "--no-trunc"]).trim(), id_up);
    assert_eq!(r.ok(&["ps", "-n", "2", "-q"]).lines().count(), 2);
    assert_eq!(r.ok(&["ps", "-l", "--format", "{{.Names}}"]).trim(), "done0");

    // --size: the writable layer holds the 6-byte file
    let out = r.ok(&["ps", "-a", "--size", "--filter", "name=done3", "--format", "{{.Size}}"]);
    assert!(out.starts_with("6B (virtual "), "{out}");
    let out = r.ok(&["ps", "-a", "-s"]);
    assert!(out.lines().next().unwrap().ends_with("SIZE"), "{out}");
    r.ok(&["rm", "-f", "up"]);
}

#[test]
fn version_and_info() {
    if !root_or_skip("version_and_info") {
        return;
    }
    let r = TestRoot::with_busybox("info");
    let out = r.ok(&["version"]);
    assert!(out.contains(&format!("Version:          {}", env!("CARGO_PKG_VERSION"))), "{out}");
    assert!(out.contains("OCI spec version: 1.0.2"), "{out}");
    assert_eq!(r.ok(&["version", "--format", "{{.Version}}"]).trim(), env!("CARGO_PKG_VERSION"));
    let v: serde_json::Value = serde_json::from_str(&r.ok(&["version", "--format", "json"])).unwrap();
    assert_eq!(v["OCISpecVersion"], "1.0.2");
    let long = r.ok(&["--version"]);
    assert!(long.starts_with(&format!("rrun {}\ncommit: ", env!("CARGO_PKG_VERSION"))), "{long}");
    assert!(long.contains("\nspec: 1.0.2\n"), "{long}");

    r.ok(&["run", "--name", "gone", "busybox", "true"]);
    let i: serde_json::Value = serde_json::from_str(&r.ok(&["info", "--format", "json"])).unwrap();
    assert_eq!(i["Store"]["Images"], 1);
    assert_eq!(i["Store"]["Containers"], 1);
    assert_eq!(i["Store"]["ContainersStopped"], 1);
    assert_eq!(i["Store"]["Root"], r.path.to_str().unwrap());
    let cg = i["Host"]["CgroupVersion"].as_str().unwrap();
    assert!(["v1", "v2", "hybrid"].contains(&cg), "{cg}");
    assert_eq!(r.ok(&["info", "--format", "{{.Store.Images}}/{{.Host.Arch}}"]).trim(), "1/amd64");
    let text = r.ok(&["info"]);
    assert!(text.contains("Images: 1") && text.contains("Cgroup version: "), "{text}");
}

#[test]
fn missing_images_get_a_hint_that_fits_the_name() {
    if !root_or_skip("missing_images_get_a_hint_that_fits_the_name") {
        return;
    }
    let r = TestRoot::new("hint");
    let out = r.run(&["run", "--pull=never", "--rm", "localhost:5000/team/tool:1", "true"]);
    assert_eq!(out.status.code(), Some(125));
    let err = stderr(&out);
    assert!(err.contains("not found") && err.contains("rrun pull localhost:5000/team/tool:1"), "{err}");
    assert!(!err.contains("rrun load"), "a registry name is pulled, not loaded: {err}");
    let out = r.run(&["run", "--pull=never", "--rm", "nosuchimage", "true"]);
    assert_eq!(out.status.code(), Some(125));
    let err = stderr(&out);
    assert!(err.contains("rrun pull nosuchimage") && err.contains("rrun load -i"), "{err}");
    // a missing ID: no pull advice
    let out = r.run(&["run", "--pull=never", "--rm", "0123456789ab", "true"]);
    assert_eq!(out.status.code(), Some(125));
    assert!(!stderr(&out).contains("hint"), "{}", stderr(&out));
}

#[test]
fn verbose_logs_carry_no_colour_codes_into_a_pipe() {
    if !root_or_skip("verbose_logs_carry_no_colour_codes_into_a_pipe") {
        return;
    }
    let r = TestRoot::with_busybox("ansi");
    let out = r.run(&["-vv", "run", "--rm", "busybox", "true"]);
    assert!(out.status.success());
    let err = stderr(&out);
    assert!(err.contains("pivot_root"), "-vv logs each step: {err}");
    assert!(!err.contains('\x1b'), "escape codes in a pipe: {err:?}");
}

#[test]
fn images_filters_and_templates() {
    if !root_or_skip("images_filters_and_templates") {
        return;
    }
    let r = TestRoot::with_busybox("images-format");
    r.ok(&["load", "-i", fixture("multilayer.tar").to_str().unwrap()]);
    r.ok(&["tag", "busybox", "localhost/team/tool:1.2"]);
    let list = |args: &[&str]| {
        let mut full = vec!["images", "--format", "{{.Repository}}:{{.Tag}}"];
        full.extend_from_slice(args);
        let mut v: Vec<String> = r.ok(&full).lines().map(String::from).collect();
        v.sort();
        v
    };
    assert_eq!(list(&[]).len(), 3);
    assert_eq!(list(&["--filter", "reference=busybox"]), ["docker.io/library/busybox:latest"]);
    assert_eq!(list(&["--filter", "reference=*/team/tool:1.*"]), ["localhost/team/tool:1.2"]);
    assert_eq!(list(&["-f", "reference=busy*", "-f", "reference=multi*"]).len(), 2);
    assert_eq!(list(&["--filter", "label=org.rrun.fixture=multilayer"]), ["docker.io/library/multilayer:latest"]);
    assert_eq!(list(&["--filter", "dangling=true"]), Vec::<String>::new());
    assert_eq!(list(&["--filter", "dangling=false"]).len(), 3);
    let bad = r.run(&["images", "--filter", "dangling=maybe"]);
    assert_eq!(bad.status.code(), Some(125));
    // a table template with docker's headers
    let out = r.ok(&["images", "--filter", "reference=busybox", "--format", "table {{.Repository}}\t{{.Size}}"]);
    assert!(out.starts_with("REPOSITORY "), "{out}");
    assert!(out.lines().nth(1).unwrap().starts_with("docker.io/library/busybox "), "{out}");
    // inspect -f, for images and containers
    assert_eq!(r.ok(&["image", "inspect", "-f", "{{.Config.Cmd}}", "busybox"]).trim(), "[sh]");
    assert_eq!(r.ok(&["inspect", "--format", "{{.Os}}/{{.Architecture}}", "busybox"]).trim(), "linux/amd64");
    r.ok(&["run", "--name", "five", "busybox", "sh", "-c", "exit 0"]);
    assert_eq!(r.ok(&["inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "five"]).trim(), "exited 0");
    // history through a template
    let out = r.ok(&["history", "--format", "{{.CreatedBy}}", "multilayer"]);
    assert_eq!(out.lines().next(), Some("whiteouts and replacements"), "{out}");
}

#[test]
fn the_container_and_system_groups() {
    if !root_or_skip("the_container_and_system_groups") {
        return;
    }
    let r = TestRoot::with_busybox("groups");
    // every container verb through `container …`
    let id = r.ok(&["container", "run", "-d", "--name", "g1", "busybox", "sleep", "30"]).trim().to_string();
    assert_eq!(r.ok(&["container", "ls", "-q", "--no-trunc"]).trim(), id);
    assert_eq!(r.ok(&["container", "list", "--format", "{{.Names}}"]).trim(), "g1");
    assert_eq!(r.ok(&["container", "exec", "g1", "echo", "-n", "in"]), "in");
    assert_eq!(r.ok(&["container", "inspect", "-f", "{{.State.Status}}", "g1"]).trim(), "running");
    // `container inspect` is containers only: an image name is not found
    let out = r.run(&["container", "inspect", "busybox"]);
    assert_eq!(out.status.code(), Some(125));
    r.ok(&["container", "pause", "g1"]);
    r.ok(&["container", "unpause", "g1"]);
    r.ok(&["container", "rename", "g1", "g2"]);
    assert!(r.ok(&["container", "top", "g2"]).contains("sleep 30"));
    r.ok(&["container", "stop", "-t", "1", "g2"]);
    assert_eq!(r.ok(&["container", "wait", "g2"]).trim(), "137");
    r.ok(&["container", "create", "--name", "g3", "busybox", "echo", "from-create"]);
    r.ok(&["container", "start", "-a", "g3"]);
    assert_eq!(r.ok(&["container", "logs", "g3"]), "from-create\n");
    assert!(r.ok(&["container", "diff", "g3"]).is_empty() || r.ok(&["container", "diff", "g3"]).contains('/'));
    // prune asks first: "n" keeps everything
    let mut ask = r.cmd(&["container", "prune"]);
    ask.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let mut child = ask.spawn().unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"n\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("Are you sure you want to continue? [y/N]"));
    assert_eq!(r.ok(&["ps", "-aq"]).lines().count(), 2, "nothing removed after 'n'");
    let out = r.ok(&["container", "prune", "-f"]);
    assert!(out.starts_with("Deleted Containers:"), "{out}");
    assert!(r.ok(&["ps", "-aq"]).is_empty());

    // system info, df, events
    let v: serde_json::Value = serde_json::from_str(&r.ok(&["system", "info", "--format", "json"])).unwrap();
    assert_eq!(v["Store"]["Images"], 1);
    r.ok(&["volume", "create", "vol1"]);
    let df = r.ok(&["system", "df", "--format", "{{.Type}}={{.TotalCount}}"]);
    assert_eq!(df, "Images=1\nContainers=0\nLocal Volumes=1\nBuild Cache=0\n");
    let out = r.ok(&["system", "df"]);
    assert!(out.starts_with("TYPE"), "{out}");
    let ev = r.ok(&[
        "system",
        "events",
        "--since",
        "1h",
        "--until",
        "0s",
        "--filter",
        "event=rename",
        "--format",
        "{{.Action}} {{.Actor.Attributes.name}}",
    ]);
    assert_eq!(ev.trim(), "rename g2");
    // volumes in templates, and system prune --volumes removes only unused anonymous ones
    assert_eq!(r.ok(&["volume", "ls", "--format", "{{.Name}} {{.Driver}}"]).trim(), "vol1 local");
    let out = r.ok(&["system", "prune", "-f", "--volumes"]);
    assert!(out.contains("Total reclaimed space"), "{out}");
    assert_eq!(r.ok(&["volume", "ls", "-q"]).trim(), "vol1", "a named volume is kept");
}
