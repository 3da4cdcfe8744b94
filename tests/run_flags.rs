//! `rrun run` flags and defaults as Docker users expect them, each checked
//! by what the process sees inside the container (or what the host shows):
//! no_new_privs, loopback, `--mount`, volumes, ulimits, /dev/shm, sysctls,
//! groups, stop signal and timeout, IPC/PID/UTS modes, cidfile, labels,
//! annotations, OOM score, cgroup limits.

mod common;
use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn code_out_err(out: std::process::Output) -> (i32, String, String) {
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `rrun run --rm EXTRA IMAGE sh -c SCRIPT`.
fn sh_in(r: &TestRoot, image: &str, extra: &[&str], script: &str) -> (i32, String, String) {
    let mut args = vec!["run", "--rm"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&[image, "sh", "-c", script]);
    code_out_err(r.run(&args))
}

fn inspect(r: &TestRoot, name: &str) -> Value {
    let v: Value = serde_json::from_str(&r.ok(&["inspect", name])).unwrap();
    v[0].clone()
}

fn volume_inspect(r: &TestRoot, name: &str) -> Value {
    let v: Value = serde_json::from_str(&r.ok(&["volume", "inspect", name])).unwrap();
    v[0].clone()
}

fn lines(s: &str) -> Vec<String> {
    s.lines().map(String::from).collect()
}

/// A static program that prints its effective uid, made setuid root, in a
/// directory of its own (bind-mounted into containers).
fn setuid_euid_helper(dir: &Path) -> Option<PathBuf> {
    if !ensure_programs("setuid helper", &[("gcc", "gcc")]) {
        return None;
    }
    std::fs::create_dir_all(dir).unwrap();
    let src = dir.join("euid.c");
    std::fs::write(
        &src,
        "#include <stdio.h>\n#include <unistd.h>\nint main(void){printf(\"euid=%d\\n\",(int)geteuid());return 0;}\n",
    )
    .unwrap();
    let bin = dir.join("euid");
    let out = std::process::Command::new("gcc").arg("-static").arg("-o").arg(&bin).arg(&src).output().unwrap();
    if !out.status.success() {
        let why = format!("gcc -static failed (is libc6-dev installed?): {}", String::from_utf8_lossy(&out.stderr));
        skip("setuid helper", why);
        return None;
    }
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o4755)).unwrap();
    Some(bin)
}

#[test]
fn no_new_privileges_is_off_by_default_and_a_security_opt() {
    if !root_or_skip("no_new_privileges_is_off_by_default_and_a_security_opt") {
        return;
    }
    let r = TestRoot::with_busybox("nnp");
    let helper_dir = r.path.join("helper");
    let Some(_) = setuid_euid_helper(&helper_dir) else { return };
    let bind = format!("{}:/helper:ro", helper_dir.display());
    // Docker's default: a setuid-root binary run by nobody becomes root
    let (code, out, err) =
        r.sh(&["-u", "nobody", "-v", &bind], "id -u; /helper/euid; grep NoNewPrivs /proc/self/status");
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "65534\neuid=0\nNoNewPrivs:\t0\n");
    for opt in ["no-new-privileges", "no-new-privileges=true", "no-new-privileges:true"] {
        let (code, out, err) = r.sh(
            &["-u", "nobody", "-v", &bind, "--security-opt", opt],
            "/helper/euid; grep NoNewPrivs /proc/self/status",
        );
        assert_eq!(code, 0, "{err}");
        assert_eq!(out, "euid=65534\nNoNewPrivs:\t1\n", "{opt}: setuid grants nothing");
    }
    let (_, out, _) = r.sh(&["--security-opt", "no-new-privileges=false"], "grep NoNewPrivs /proc/self/status");
    assert_eq!(out, "NoNewPrivs:\t0\n");
    let (code, _, err) = r.sh(&["--security-opt", "no-new-privileges=perhaps"], "true");
    assert_eq!(code, 125);
    assert!(err.contains("no-new-privileges=perhaps"), "{err}");
}

#[test]
fn network_none_has_loopback_up() {
    if !root_or_skip("network_none_has_loopback_up") {
        return;
    }
    let r = TestRoot::with_busybox("lo");
    let (code, out, err) = r.sh(
        &["--network", "none"],
        "ip link show lo | head -1; nc -l -p 5555 127.0.0.1 > /tmp/got & sleep 0.5; echo over-loopback | nc 127.0.0.1 5555; wait; cat /tmp/got",
    );
    assert_eq!(code, 0, "{err}");
    let first = out.lines().next().unwrap_or_default();
    assert!(first.contains("<LOOPBACK,UP"), "lo is up: {out}");
    assert!(out.ends_with("over-loopback\n"), "127.0.0.1 is reachable: {out}");
}

#[test]
fn mount_flag_binds_tmpfs_and_refuses_bad_keys() {
    if !root_or_skip("mount_flag_binds_tmpfs_and_refuses_bad_keys") {
        return;
    }
    let r = TestRoot::with_busybox("mount");
    let scratch = ScratchDir::new("mount-src");
    let src = scratch.path.join("src");
    std::fs::create_dir_all(src.join("sub")).unwrap();
    std::fs::write(src.join("file"), "from host\n").unwrap();
    // a mount inside the source, shared, to see recursion and propagation
    nix::mount::mount(Some("tmpfs"), &src.join("sub"), Some("tmpfs"), nix::mount::MsFlags::empty(), None::<&str>)
        .unwrap();
    std::fs::write(src.join("sub/inner"), "in a submount\n").unwrap();
    nix::mount::mount(None::<&str>, &src.join("sub"), None::<&str>, nix::mount::MsFlags::MS_SHARED, None::<&str>)
        .unwrap();
    let s = src.display();

    let m = format!("type=bind,source={s},target=/m,readonly");
    let (code, out, err) = r.sh(
        &["--mount", &m],
        "cat /m/file /m/sub/inner; touch /m/x 2>/dev/null || echo read-only; grep ' /m/sub ' /proc/self/mountinfo",
    );
    assert_eq!(code, 0, "{err}");
    let l = lines(&out);
    assert_eq!(&l[..3], ["from host", "in a submount", "read-only"], "{out}");
    assert!(!l[3].contains("master:") && !l[3].contains("shared:"), "rprivate by default: {out}");
    let m = format!("type=bind,src={s},dst=/m,bind-nonrecursive");
    let (_, out, _) = r.sh(&["--mount", &m], "cat /m/file; ls /m/sub | wc -l");
    assert_eq!(out, "from host\n0\n", "without recursion the submount stays out");
    let m = format!("type=bind,src={s},destination=/m,bind-propagation=rslave");
    let (_, out, _) = r.sh(&["--mount", &m], "grep ' /m/sub ' /proc/self/mountinfo");
    assert!(out.contains("master:"), "rslave: a slave of the host's peer group: {out}");

    let (code, out, err) = r.sh(
        &["--mount", "type=tmpfs,target=/scratch,tmpfs-size=2m,tmpfs-mode=1770"],
        "stat -c %a /scratch; df -k /scratch | tail -1 | awk '{print $2}'; grep ' /scratch ' /proc/self/mountinfo",
    );
    assert_eq!(code, 0, "{err}");
    let l = lines(&out);
    assert_eq!((l[0].as_str(), l[1].as_str()), ("1770", "2048"), "{out}");
    assert!(l[2].contains("nosuid") && l[2].contains("nodev") && l[2].contains("noexec"), "{out}");

    for (bad, named) in [
        ("type=bind,source=/tmp,target=/m,foo=bar", "unexpected key 'foo' in 'foo=bar'"),
        ("type=bind,source=/tmp", "target is required"),
        ("type=bind,source=/tmp,target=/m,volume-nocopy", "cannot mix 'volume-nocopy' with mount type 'bind'"),
        ("type=volume,target=/m,volume-opt=type=nfs", "volume-opt"),
        ("type=tmpfs,target=/m,tmpfs-size=lots", "tmpfs-size"),
        ("type=bind,source=/no/such/dir,target=/m", "does not exist"),
        ("type=bind,source=/tmp,target=/m,readonly=maybe", "readonly"),
    ] {
        let (code, _, err) = r.sh(&["--mount", bad], "true");
        assert_eq!(code, 125, "{bad}");
        assert!(err.contains(named), "{bad}: {err}");
    }
    assert!(r.entries("containers").is_empty());
}

#[test]
fn named_volumes_are_created_filled_from_the_image_and_kept() {
    if !root_or_skip("named_volumes_are_created_filled_from_the_image_and_kept") {
        return;
    }
    let r = TestRoot::with_busybox("volumes");
    r.ok(&["load", "-i", fixture("multilayer.tar").to_str().unwrap()]);
    // first use: the volume is made, and the image's /data copied into it (whiteouts honoured)
    let (code, out, err) = sh_in(
        &r,
        "multilayer",
        &["-v", "data:/data"],
        "cd /data; ls; stat -c '%n %u:%g %a %h' owned setuid keep-hardlink; readlink link; stat -c %t,%T null; echo new > written",
    );
    assert_eq!(code, 0, "{err}");
    let l = lines(&out);
    assert!(!l.contains(&"remove-me".to_string()), "a whited-out file is not copied: {out}");
    assert!(l.contains(&"owned 1000:50 644 2".to_string()), "owner and hardlink kept: {out}");
    assert!(l.contains(&"setuid 0:0 4755 1".to_string()), "set-uid mode kept: {out}");
    assert!(l.contains(&"keep".to_string()), "{out}");
    assert!(l.contains(&"1,3".to_string()), "device node kept: {out}");
    let v = volume_inspect(&r, "data");
    assert_eq!(
        (v["Name"].as_str(), v["Driver"].as_str(), v["Scope"].as_str()),
        (Some("data"), Some("local"), Some("local"))
    );
    let mountpoint = PathBuf::from(v["Mountpoint"].as_str().unwrap());
    assert_eq!(mountpoint, r.path.join("volumes/data/_data"));
    assert_eq!(std::fs::read_to_string(mountpoint.join("written")).unwrap(), "new\n");
    assert_eq!(std::fs::read_link(mountpoint.join("link")).unwrap(), PathBuf::from("keep"));
    assert_eq!(getxattr(&mountpoint.join("xattr"), "user.rrun").as_deref(), Some(&b"fixture"[..]), "xattr kept");
    // the next container sees what the first wrote; a non-empty volume is not filled again
    std::fs::remove_file(mountpoint.join("keep")).unwrap();
    let (_, out, _) = sh_in(
        &r,
        "multilayer",
        &["-v", "data:/data:ro"],
        "cat /data/written; ls /data/keep 2>&1 | grep -c 'No such'; touch /data/x 2>&1 | grep -c Read-only",
    );
    assert_eq!(out, "new\n1\n1\n");
    // nocopy, by -v and by --mount: an empty volume stays empty
    let (_, out, _) = sh_in(&r, "multilayer", &["-v", "bare:/data:nocopy"], "ls -A /data | wc -l");
    assert_eq!(out.trim(), "0");
    let (_, out, _) =
        sh_in(&r, "multilayer", &["--mount", "source=bare2,target=/data,volume-nocopy"], "ls -A /data | wc -l");
    assert_eq!(out.trim(), "0");
    // --mount type=volume with labels for the new volume
    r.sh(&["--mount", "type=volume,src=labelled,dst=/v,volume-label=team=a"], "true");
    assert_eq!(volume_inspect(&r, "labelled")["Labels"]["team"], "a");
    assert_eq!(r.ok(&["volume", "ls", "-q"]), "bare\nbare2\ndata\nlabelled\n");
}

fn getxattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    let c = std::ffi::CString::new(path.to_str()?).ok()?;
    let n = std::ffi::CString::new(name).ok()?;
    let mut buf = vec![0u8; 256];
    // SAFETY: valid C strings and a buffer of the given length.
    let len = unsafe { libc::lgetxattr(c.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    (len >= 0).then(|| buf[..len as usize].to_vec())
}

#[test]
fn volume_commands_create_list_inspect_remove() {
    if !root_or_skip("volume_commands_create_list_inspect_remove") {
        return;
    }
    let r = TestRoot::with_busybox("volcmd");
    assert_eq!(r.ok(&["volume", "create", "--label", "env=test", "--label", "tier=db", "named"]), "named\n");
    let random = r.ok(&["volume", "create"]);
    let random = random.trim();
    assert!(random.len() == 64 && random.bytes().all(|b| b.is_ascii_hexdigit()), "{random}");
    assert_eq!(r.ok(&["volume", "create", "named"]), "named\n", "an existing volume is no error");
    let v = volume_inspect(&r, "named");
    assert_eq!(v["Labels"], serde_json::json!({"env": "test", "tier": "db"}));
    assert!(v["CreatedAt"].as_str().unwrap().ends_with('Z'));
    assert_eq!(v["Options"], serde_json::json!({}));
    let table = r.ok(&["volume", "ls"]);
    assert!(table.starts_with("DRIVER") && table.contains("VOLUME NAME"), "{table}");
    assert!(table.lines().any(|l| l.starts_with("local") && l.ends_with("named")), "{table}");
    let json = r.ok(&["volume", "ls", "--format", "json"]);
    let rows: Vec<Value> = json.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 2);
    let named = rows.iter().find(|r| r["Name"] == "named").unwrap();
    assert_eq!((named["Driver"].as_str(), named["Labels"].as_str()), (Some("local"), Some("env=test,tier=db")));
    assert_eq!(r.ok(&["volume", "ls", "-q", "-f", "label=env=test"]), "named\n");
    assert_eq!(r.ok(&["volume", "ls", "-q", "-f", "label=tier"]), "named\n");
    assert_eq!(r.ok(&["volume", "ls", "-q", "-f", "name=nam"]), "named\n");
    assert_eq!(r.ok(&["volume", "ls", "-q", "-f", "dangling=false"]), "");
    assert_eq!(r.run(&["volume", "ls", "-f", "colour=red"]).status.code(), Some(125));

    // in use by a stopped container: refused, with -f too (as Docker refuses)
    r.ok(&["run", "--name", "user", "-v", "named:/data", "busybox", "true"]);
    assert_eq!(r.ok(&["volume", "ls", "-q", "-f", "dangling=true"]), format!("{random}\n"));
    let id = inspect(&r, "user")["Id"].as_str().unwrap().to_string();
    let mounts = &inspect(&r, "user")["Mounts"];
    let m = mounts.as_array().unwrap().iter().find(|m| m["Destination"] == "/data").unwrap();
    assert_eq!(
        (m["Type"].as_str(), m["Name"].as_str(), m["RW"].as_bool()),
        (Some("volume"), Some("named"), Some(true))
    );
    for args in [&["volume", "rm", "named"][..], &["volume", "rm", "-f", "named"][..]] {
        let (code, _, err) = code_out_err(r.run(args));
        assert_eq!(code, 125, "{args:?}");
        assert!(err.contains("remove named: volume is in use") && err.contains(&id), "{err}");
    }
    r.ok(&["rm", "user"]);
    assert_eq!(r.ok(&["volume", "rm", "named", random]), format!("named\n{random}\n"));
    assert!(r.ok(&["volume", "ls", "-q"]).is_empty());
    let (code, _, err) = code_out_err(r.run(&["volume", "rm", "named"]));
    assert_eq!(code, 125);
    assert!(err.contains("no such volume"), "{err}");
    assert_eq!(r.run(&["volume", "rm", "-f", "named"]).status.code(), Some(0));
    let (code, out, _) = code_out_err(r.run(&["volume", "inspect", "named"]));
    assert_eq!((code, out.trim()), (125, "[]"));

    // the local driver: plain directories, or a bound host directory; nothing else
    let (code, _, err) = code_out_err(r.run(&["volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "tv"]));
    assert_eq!(code, 125);
    assert!(err.contains("type=tmpfs") && err.contains("not supported"), "{err}");
    let (code, _, err) = code_out_err(r.run(&["volume", "create", "--driver", "nfs", "nv"]));
    assert_eq!(code, 125);
    assert!(err.contains("\"nfs\""), "{err}");
    let (code, _, err) = code_out_err(r.run(&["volume", "create", "bad/name"]));
    assert_eq!(code, 125);
    assert!(err.contains("invalid characters"), "{err}");
    let host = r.path.join("hostdir");
    std::fs::create_dir_all(&host).unwrap();
    let device = format!("device={}", host.display());
    r.ok(&["volume", "create", "-o", "type=none", "-o", "o=bind", "-o", &device, "bound"]);
    r.sh(&["-v", "bound:/b"], "echo through-bind > /b/f");
    assert_eq!(std::fs::read_to_string(host.join("f")).unwrap(), "through-bind\n");
}

/// An OCI layout of the multilayer image whose config declares `Volumes: {"/data": {}}`, loaded as `withvol`.
fn load_image_with_volume(r: &TestRoot, dir: &Path) {
    use sha2::Digest as _;
    let src = fixture("multilayer-oci");
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    for e in std::fs::read_dir(src.join("blobs/sha256")).unwrap().flatten() {
        std::fs::copy(e.path(), blobs.join(e.file_name())).unwrap();
    }
    std::fs::copy(src.join("oci-layout"), dir.join("oci-layout")).unwrap();
    let read = |d: &str| -> Value {
        serde_json::from_slice(&std::fs::read(blobs.join(d.trim_start_matches("sha256:"))).unwrap()).unwrap()
    };
    let put = |v: &Value| -> (String, usize) {
        let bytes = serde_json::to_vec(v).unwrap();
        let hex = hex::encode(sha2::Sha256::digest(&bytes));
        std::fs::write(blobs.join(&hex), &bytes).unwrap();
        (format!("sha256:{hex}"), bytes.len())
    };
    let index: Value = serde_json::from_slice(&std::fs::read(src.join("index.json")).unwrap()).unwrap();
    let mut manifest = read(index["manifests"][0]["digest"].as_str().unwrap());
    let mut config = read(manifest["config"]["digest"].as_str().unwrap());
    config["config"]["Volumes"] = serde_json::json!({"/data": {}});
    let (cd, cs) = put(&config);
    manifest["config"]["digest"] = cd.into();
    manifest["config"]["size"] = cs.into();
    let (md, ms) = put(&manifest);
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": ms,
            "annotations": {"org.opencontainers.image.ref.name": "docker.io/library/withvol:latest"}
        }]
    });
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    r.ok(&["load", "-i", dir.to_str().unwrap()]);
}

fn anonymous_volumes(r: &TestRoot) -> Vec<String> {
    r.ok(&["volume", "ls", "-q", "-f", "label=com.docker.volume.anonymous"]).lines().map(String::from).collect()
}

#[test]
fn anonymous_volumes_come_and_go_with_their_containers() {
    if !root_or_skip("anonymous_volumes_come_and_go_with_their_containers") {
        return;
    }
    let r = TestRoot::with_busybox("anon");
    let scratch = ScratchDir::new("anon-image");
    load_image_with_volume(&r, &scratch.path);

    // the image's Volumes: an anonymous volume, filled from the image; --rm removes it
    let (code, out, err) = sh_in(&r, "withvol", &[], "cat /data/keep; grep -c ' /data ' /proc/self/mountinfo");
    assert_eq!((code, out.as_str()), (0, "kept\n1\n"), "{err}");
    assert!(anonymous_volumes(&r).is_empty(), "run --rm removed its anonymous volume");
    // kept without --rm, removed by rm -v
    r.ok(&["run", "--name", "a1", "withvol", "true"]);
    let anon = anonymous_volumes(&r);
    assert_eq!(anon.len(), 1, "{anon:?}");
    assert_eq!(anon[0].len(), 64);
    let m =
        inspect(&r, "a1")["Mounts"].as_array().unwrap().iter().find(|m| m["Destination"] == "/data").cloned().unwrap();
    assert_eq!((m["Type"].as_str(), m["Name"].as_str()), (Some("volume"), Some(anon[0].as_str())));
    r.ok(&["rm", "-v", "a1"]);
    assert!(anonymous_volumes(&r).is_empty(), "rm -v removed it");
    // a named volume at the same path replaces the image's; rm -v keeps named volumes
    r.ok(&["run", "--name", "a2", "-v", "mine:/data", "-v", "/scratch", "withvol", "true"]);
    assert_eq!(anonymous_volumes(&r).len(), 1, "only /scratch is anonymous");
    r.ok(&["rm", "-v", "a2"]);
    assert_eq!(r.ok(&["volume", "ls", "-q"]), "mine\n");

    // prune: anonymous unused ones only, all unused ones with -a; asks unless -f
    r.ok(&["run", "--name", "a3", "busybox", "true"]);
    r.ok(&["run", "--name", "a4", "-v", "/x", "busybox", "true"]);
    r.ok(&["rm", "a4"]); // its anonymous volume stays, unused
    r.ok(&["run", "--name", "a5", "-v", "/y", "-v", "used:/u", "busybox", "true"]);
    assert_eq!(anonymous_volumes(&r).len(), 2);
    let mut prune = r.cmd(&["volume", "prune"]);
    prune.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped());
    let mut child = prune.spawn().unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), b"n\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with(
        "WARNING! This will remove anonymous local volumes not used by at least one container.\nAre you sure you want to continue? [y/N] "
    ));
    assert_eq!(anonymous_volumes(&r).len(), 2, "answered no: nothing removed");
    let out = r.ok(&["volume", "prune", "-f"]);
    assert!(out.starts_with("Deleted Volumes:\n") && out.contains("Total reclaimed space:"), "{out}");
    let left = anonymous_volumes(&r);
    assert_eq!(left.len(), 1, "the one a5 uses stays");
    assert_eq!(r.ok(&["volume", "ls", "-q", "-f", "name=mine"]), "mine\n", "named volumes stay without -a");
    r.ok(&["volume", "prune", "-f", "-a"]);
    let mut all: Vec<String> = r.ok(&["volume", "ls", "-q"]).lines().map(String::from).collect();
    all.sort();
    let mut want = vec![left[0].clone(), "used".to_string()];
    want.sort();
    assert_eq!(all, want, "-a: the unused named volume went too; those in use stay");
}

#[test]
fn ulimits_reach_the_process() {
    if !root_or_skip("ulimits_reach_the_process") {
        return;
    }
    let r = TestRoot::with_busybox("ulimit");
    let (code, out, err) = r.sh(
        &[
            "--ulimit",
            "nofile=512:1024",
            "--ulimit",
            "nproc=100:200",
            "--ulimit",
            "core=0",
            "--ulimit",
            "memlock=65536",
            "--ulimit",
            "stack=4194304",
        ],
        "ulimit -n; ulimit -Hn; ulimit -u; ulimit -Hu; ulimit -c; ulimit -l; ulimit -s",
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "512\n1024\n100\n200\n0\n64\n4096\n");
    // a hard limit above rrun's own cannot be raised without CAP_SYS_RESOURCE (this host's root lacks it)
    let mut own = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit fills `own`.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut own) }, 0);
    let held = caps::has_cap(None, caps::CapSet::Effective, caps::Capability::CAP_SYS_RESOURCE).unwrap();
    if own.rlim_max != libc::RLIM_INFINITY && !held {
        let above = format!("nofile=1024:{}", own.rlim_max + 1);
        let (code, _, err) = r.sh(&["--ulimit", &above], "true");
        assert_eq!(code, 125);
        assert!(
            err.contains("--ulimit") && err.contains("CAP_SYS_RESOURCE") && err.contains(&own.rlim_max.to_string()),
            "{err}"
        );
    }
    for (bad, named) in [("bogus=1", "bogus"), ("nofile=2048:1024", "2048 > 1024"), ("nofile", "NAME=SOFT[:HARD]")] {
        let (code, _, err) = r.sh(&["--ulimit", bad], "true");
        assert_eq!(code, 125, "{bad}");
        assert!(err.contains(named), "{bad}: {err}");
    }
}

#[test]
fn shm_size_and_ipc_none_shape_dev_shm() {
    if !root_or_skip("shm_size_and_ipc_none_shape_dev_shm") {
        return;
    }
    let r = TestRoot::with_busybox("shm");
    let size = "df -k /dev/shm | tail -1 | awk '{print $2}'";
    assert_eq!(r.sh(&[], size).1, "65536\n", "Docker's 64 MiB by default");
    assert_eq!(r.sh(&["--shm-size", "128m"], size).1, "131072\n");
    let (_, out, _) = r.sh(&["--ipc", "none"], "grep -c ' /dev/shm ' /proc/self/mountinfo");
    assert_eq!(out.trim(), "0", "--ipc none: no /dev/shm mount");
    let (code, _, err) = r.sh(&["--shm-size", "big"], "true");
    assert_eq!(code, 125);
    assert!(err.contains("--shm-size"), "{err}");
}

#[test]
fn sysctls_are_set_in_the_containers_own_namespaces_only() {
    if !root_or_skip("sysctls_are_set_in_the_containers_own_namespaces_only") {
        return;
    }
    let r = TestRoot::with_busybox("sysctl");
    let host_shmmax = std::fs::read_to_string("/proc/sys/kernel/shmmax").unwrap();
    let (code, out, err) = r.sh(
        &["--network", "none", "--sysctl", "net.ipv4.ip_forward=1", "--sysctl", "kernel.shmmax=65536"],
        "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmax",
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "1\n65536\n");
    assert_eq!(std::fs::read_to_string("/proc/sys/kernel/shmmax").unwrap(), host_shmmax, "the host's is untouched");
    // a bridged container's network namespace is its own too
    let host_rp = std::fs::read_to_string("/proc/sys/net/ipv4/conf/all/rp_filter").unwrap();
    let flipped = if host_rp.trim() == "2" { "1" } else { "2" };
    let (code, out, err) = r.sh(
        &["--sysctl", &format!("net.ipv4.conf.all.rp_filter={flipped}")],
        "cat /proc/sys/net/ipv4/conf/all/rp_filter",
    );
    assert_eq!((code, out.trim()), (0, flipped), "{err}");
    assert_eq!(std::fs::read_to_string("/proc/sys/net/ipv4/conf/all/rp_filter").unwrap(), host_rp);
    for (args, named) in [
        (&["--sysctl", "vm.swappiness=1"][..], "vm.swappiness"),
        (&["--network", "host", "--sysctl", "net.ipv4.ip_forward=1"][..], "--network host"),
        (&["--ipc", "host", "--sysctl", "kernel.shmmax=1"][..], "--ipc host"),
        (&["--sysctl", "kernel.shmmax"][..], "NAME=VALUE"),
    ] {
        let (code, _, err) = r.sh(args, "true");
        assert_eq!(code, 125, "{args:?}");
        assert!(err.contains(named), "{args:?}: {err}");
    }
}

#[test]
fn group_add_gives_more_groups() {
    if !root_or_skip("group_add_gives_more_groups") {
        return;
    }
    let r = TestRoot::with_busybox("groups");
    let (code, out, err) = r.sh(&["-u", "nobody", "--group-add", "staff", "--group-add", "4242"], "id -G");
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "65534 50 4242\n", "the image's staff group, and a number");
    let (code, _, err) = r.sh(&["--group-add", "no-such-group"], "true");
    assert_eq!(code, 125);
    assert!(err.contains("no-such-group"), "{err}");
}

#[test]
fn stop_signal_and_stop_timeout_drive_stop() {
    if !root_or_skip("stop_signal_and_stop_timeout_drive_stop") {
        return;
    }
    let r = TestRoot::with_busybox("stopsig");
    r.ok(&[
        "run",
        "-d",
        "--name",
        "usr1",
        "--stop-signal",
        "SIGUSR1",
        "busybox",
        "sh",
        "-c",
        "trap 'echo got-usr1; exit 7' USR1; echo ready; while :; do sleep 0.1; done",
    ]);
    assert!(wait_for(Duration::from_secs(10), || r.ok(&["logs", "usr1"]).contains("ready")));
    r.ok(&["stop", "usr1"]);
    assert_eq!(r.ok(&["logs", "usr1"]), "ready\ngot-usr1\n");
    let c = inspect(&r, "usr1");
    assert_eq!((c["State"]["ExitCode"].as_i64(), c["Config"]["StopSignal"].as_str()), (Some(7), Some("SIGUSR1")));

    // PID 1 without a handler ignores SIGTERM: stop waits --stop-timeout, not 10 s, then kills
    r.ok(&["run", "-d", "--name", "stubborn", "--stop-timeout", "1", "busybox", "sleep", "60"]);
    assert_eq!(inspect(&r, "stubborn")["Config"]["StopTimeout"].as_u64(), Some(1));
    let t0 = Instant::now();
    r.ok(&["stop", "stubborn"]);
    let took = t0.elapsed();
    assert!(took >= Duration::from_millis(900) && took < Duration::from_secs(6), "stop took {took:?}");
    assert_eq!(inspect(&r, "stubborn")["State"]["ExitCode"].as_i64(), Some(137));
    let (code, _, err) = r.sh(&["--stop-signal", "SIGNOPE"], "true");
    assert_eq!(code, 125);
    assert!(err.contains("SIGNOPE"), "{err}");
}

#[test]
fn ipc_pid_and_uts_modes() {
    if !root_or_skip("ipc_pid_and_uts_modes") {
        return;
    }
    let r = TestRoot::with_busybox("nsmodes");
    let host_ns = |t: &str| std::fs::read_link(format!("/proc/self/ns/{t}")).unwrap().display().to_string();
    let host_name = nix::unistd::gethostname().unwrap().into_string().unwrap();
    let script = "readlink /proc/self/ns/ipc; readlink /proc/self/ns/uts; hostname; cat /etc/hostname";
    let (code, out, err) = r.sh(&["--ipc", "host", "--uts", "host"], script);
    assert_eq!(code, 0, "{err}");
    assert_eq!(lines(&out), [host_ns("ipc"), host_ns("uts"), host_name.clone(), host_name.clone()]);
    let (_, out, _) = r.sh(&["--ipc", "shareable"], "readlink /proc/self/ns/ipc");
    assert_ne!(out.trim(), host_ns("ipc"), "shareable is a namespace of its own");
    let me = std::process::id();
    let (_, out, _) =
        r.sh(&["--pid", "host"], &format!("test -d /proc/{me} && echo sees-host; test $$ != 1 && echo not-pid-1"));
    assert_eq!(out, "sees-host\nnot-pid-1\n");

    // container:NAME joins that running container's namespaces
    r.ok(&["run", "-d", "--name", "donor", "--hostname", "donorhost", "busybox", "sleep", "60"]);
    let pid = inspect(&r, "donor")["State"]["Pid"].as_i64().unwrap();
    let donor_ns = |t: &str| std::fs::read_link(format!("/proc/{pid}/ns/{t}")).unwrap().display().to_string();
    let (code, out, err) = r.sh(
        &["--ipc", "container:donor", "--pid", "container:donor", "--uts", "container:donor"],
        "readlink /proc/self/ns/ipc; readlink /proc/self/ns/pid; hostname; cat /etc/hostname; ps -o comm | grep -c '^sleep'",
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(lines(&out), [donor_ns("ipc"), donor_ns("pid"), "donorhost".into(), "donorhost".into(), "1".into()]);
    let donor_id = inspect(&r, "donor")["Id"].as_str().unwrap().to_string();
    r.ok(&["run", "--name", "joiner", "--ipc", "container:donor", "--pid", "host", "busybox", "true"]);
    let hc = &inspect(&r, "joiner")["HostConfig"];
    assert_eq!(hc["IpcMode"].as_str(), Some(format!("container:{donor_id}").as_str()));
    assert_eq!((hc["PidMode"].as_str(), hc["UTSMode"].as_str()), (Some("host"), Some("private")));
    r.ok(&["rm", "-f", "donor", "joiner"]);
    for (args, named) in [
        (&["--ipc", "container:donor"][..], "donor"),
        (&["--pid", "container:nobody-here"][..], "nobody-here"),
        (&["--uts", "host", "--hostname", "x"][..], "conflicting options"),
        (&["--pid", "shareable"][..], "--pid"),
    ] {
        let (code, _, err) = r.sh(args, "true");
        assert_eq!(code, 125, "{args:?}");
        assert!(err.contains(named), "{args:?}: {err}");
    }
}

#[test]
fn cidfile_labels_and_annotations() {
    if !root_or_skip("cidfile_labels_and_annotations") {
        return;
    }
    let r = TestRoot::with_busybox("cidlabel");
    let cidfile = r.path.join("cid");
    let labels = r.path.join("labels");
    std::fs::write(&labels, "# team labels\nteam=infra\nshared=from-file\n").unwrap();
    r.ok(&[
        "run",
        "--name",
        "lab",
        "--cidfile",
        cidfile.to_str().unwrap(),
        "-l",
        "shared=from-flag",
        "--label-file",
        labels.to_str().unwrap(),
        "--label",
        "org.rrun.fixture=mine",
        "--annotation",
        "org.example.note=hello",
        "busybox",
        "true",
    ]);
    let c = inspect(&r, "lab");
    let id = c["Id"].as_str().unwrap();
    assert_eq!(std::fs::read_to_string(&cidfile).unwrap(), id, "the full ID");
    assert_eq!(
        c["Config"]["Labels"],
        serde_json::json!({"org.rrun.fixture": "mine", "shared": "from-flag", "team": "infra"}),
        "given labels over the image's, flags over the file"
    );
    assert_eq!(c["HostConfig"]["Annotations"]["org.example.note"], "hello");
    let spec: Value =
        serde_json::from_slice(&std::fs::read(r.path.join("containers").join(id).join("config.json")).unwrap())
            .unwrap();
    assert_eq!(spec["annotations"]["org.example.note"], "hello");
    // an existing cidfile is refused before anything is made, and left as it was
    let before = r.entries("containers");
    let (code, _, err) = code_out_err(r.run(&["run", "--cidfile", cidfile.to_str().unwrap(), "busybox", "true"]));
    assert_eq!(code, 125);
    assert!(err.contains("container ID file found") && err.contains(cidfile.to_str().unwrap()), "{err}");
    assert_eq!(std::fs::read_to_string(&cidfile).unwrap(), id);
    assert_eq!(r.entries("containers"), before);
    let (code, _, err) = r.sh(&["--annotation", "no-value"], "true");
    assert_eq!(code, 125);
    assert!(err.contains("no-value"), "{err}");
}

#[test]
fn oom_score_adj_and_negative_values_parse() {
    if !root_or_skip("oom_score_adj_and_negative_values_parse") {
        return;
    }
    let r = TestRoot::with_busybox("oom");
    assert_eq!(r.sh(&["--oom-score-adj", "500"], "cat /proc/self/oom_score_adj").1, "500\n");
    // a negative number is the flag's value, not an unknown flag
    let (code, out, err) = r.sh(&["--oom-score-adj", "-500"], "cat /proc/self/oom_score_adj");
    if caps::has_cap(None, caps::CapSet::Effective, caps::Capability::CAP_SYS_RESOURCE).unwrap() {
        assert_eq!((code, out.as_str()), (0, "-500\n"), "{err}");
    } else {
        assert_eq!(code, 125);
        assert!(err.contains("--oom-score-adj \"-500\"") && err.contains("CAP_SYS_RESOURCE"), "{err}");
    }
    let (code, _, err) = r.sh(&["--oom-score-adj", "1001"], "true");
    assert_eq!(code, 125);
    assert!(err.contains("between -1000 and 1000"), "{err}");
}

/// The value of a control file in one of the container's cgroup directories.
fn cgroup_value(dirs: &[PathBuf], file: &str) -> Option<String> {
    dirs.iter().find_map(|d| std::fs::read_to_string(d.join(file)).ok()).map(|s| s.trim().to_string())
}

#[test]
fn resource_flags_reach_the_cgroup_files() {
    if !root_or_skip("resource_flags_reach_the_cgroup_files") {
        return;
    }
    let r = TestRoot::with_busybox("cgflags");
    let out = r.run(&[
        "run",
        "-d",
        "--name",
        "limited",
        "--memory",
        "64m",
        "--memory-swap",
        "128m",
        "--memory-reservation",
        "32m",
        "--cpu-shares",
        "512",
        "--blkio-weight",
        "300",
        "busybox",
        "sleep",
        "30",
    ]);
    let (code, _, err) = code_out_err(out);
    if code != 0 {
        // a host without a weight file says which files it looked for
        assert!(err.contains("--blkio-weight") && err.contains("weight"), "{err}");
        skip("the cgroup file checks of resource_flags_reach_the_cgroup_files", err);
        return;
    }
    let dirs: Vec<PathBuf> = serde_json::from_value(inspect(&r, "limited")["Cgroup"].clone()).unwrap();
    if let Some(v) = cgroup_value(&dirs, "memory.soft_limit_in_bytes") {
        // cgroup v1
        assert_eq!(v, (32u64 << 20).to_string());
        assert_eq!(cgroup_value(&dirs, "memory.limit_in_bytes").unwrap(), (64u64 << 20).to_string());
        if let Some(sw) = cgroup_value(&dirs, "memory.memsw.limit_in_bytes") {
            assert_eq!(sw, (128u64 << 20).to_string());
        }
        assert_eq!(cgroup_value(&dirs, "cpu.shares").unwrap(), "512");
        let w = cgroup_value(&dirs, "blkio.bfq.weight").or_else(|| cgroup_value(&dirs, "blkio.weight")).unwrap();
        assert!(w == "300" || w == "default 300", "{w}");
    } else {
        assert_eq!(cgroup_value(&dirs, "memory.low").unwrap(), (32u64 << 20).to_string());
        assert_eq!(cgroup_value(&dirs, "memory.swap.max").unwrap(), (64u64 << 20).to_string());
        assert_eq!(cgroup_value(&dirs, "cpu.weight").unwrap(), "20");
        let w = cgroup_value(&dirs, "io.bfq.weight").or_else(|| cgroup_value(&dirs, "io.weight")).unwrap();
        assert!(w.contains("300") || w.contains("2930"), "{w}");
    }
    r.ok(&["rm", "-f", "limited"]);
    // -1 is a value of --memory-swap (unlimited swap), not a flag
    let (code, _, err) = r.sh(&["--memory", "64m", "--memory-swap", "-1"], "true");
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = r.sh(&["--blkio-weight", "5"], "true");
    assert_eq!(code, 125);
    assert!(err.contains("between 10 and 1000"), "{err}");
    // --cpuset-mems, as update takes it too
    let (code, out, err) = r.sh(
        &["--cpuset-mems", "0"],
        "cat /sys/fs/cgroup/cpuset/cpuset.mems 2>/dev/null || cat /sys/fs/cgroup/cpuset.mems",
    );
    assert_eq!((code, out.trim()), (0, "0"), "{err}");
}
