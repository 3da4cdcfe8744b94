//! rrun as a Kubernetes runtime handler: a containerd of the test's own with
//! its CRI plugin on, driven through the CRI gRPC API as the kubelet drives it,
//! with the runtime handler `rrun` (containerd's runc v2 shim, `BinaryName` =
//! rrun) and, as the reference, `runc`. One pod per handler goes through
//! RunPodSandbox, two containers sharing the pod's network namespace (one serves
//! HTTP on 127.0.0.1, the other fetches it), ExecSync (also past its timeout), a streaming exec with a
//! terminal (websocket, `v4.channel.k8s.io`), Attach to a terminal container, ContainerStats,
//! UpdateContainerResources, a container killed over its memory limit
//! (`OOMKilled`), stop and removal of everything; then nothing may be left
//! (process, mount, cgroup, network namespace). What each handler showed is
//! compared step by step.
//!
//! Set-up the test makes itself, since this host reaches no registry and runs
//! no kubelet: the pause image is contrib/kubernetes/pause.c built static and
//! packed as an OCI archive here, the busybox fixture is imported with
//! `ctr -n k8s.io images import`, CNI is Debian's containernetworking-plugins
//! (bridge + host-local on a /24 of 10.92.0.0/16, a subnet of its own, no masquerade,
//! loopback) with a private config and IPAM directory. The async gRPC client
//! lives only in this test process, which never forks a container.

mod common;
use common::*;

/// The CRI v1 gRPC API (generated code, vendored: see its header).
#[allow(clippy::all, dead_code)]
mod cri {
    include!("cri/runtime.v1.rs");
}
use cri::runtime_service_client::RuntimeServiceClient;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tonic::transport::Channel;

/// Any one CRI call's limit: far above what it takes, short enough not to hang CI.
const CALL: Duration = Duration::from_secs(60);

/// The pods' bridge and /24 (of 10.92.0.0/16, apart from the host's routes and rrun's own
/// 10.86/10.87 networks), per process: a test and a benchmark may run side by side.
fn net() -> (String, String) {
    let n = std::process::id();
    (format!("rk8s{}", n % 100_000), format!("10.92.{}", n % 256))
}
const PAUSE_IMAGE: &str = "docker.io/rrun/pause:test";
const BUSYBOX: &str = "docker.io/library/busybox:latest";

/// A containerd with CRI on, everything under a scratch directory.
struct Cri {
    dir: ScratchDir,
    sock: PathBuf,
    daemon: Option<Child>,
    rt: tokio::runtime::Runtime,
    client: RuntimeServiceClient<Channel>,
    /// the cgroup parent of this test's pods
    cgroup_root: String,
}

impl Cri {
    fn start() -> Cri {
        let dir = ScratchDir::new("cri");
        let d = dir.path.display().to_string();
        let cgroup_root = format!("rrun-k8s-test-{}", std::process::id());
        std::fs::create_dir_all(dir.path.join("cni")).unwrap();
        let (bridge, subnet) = net();
        std::fs::write(
            dir.path.join("cni/10-rrun-test.conflist"),
            format!(
                r#"{{"cniVersion": "0.4.0", "name": "rrun-k8s-test", "plugins": [
  {{"type": "bridge", "bridge": "{bridge}", "isGateway": true, "ipMasq": false, "hairpinMode": true,
    "ipam": {{"type": "host-local", "ranges": [[{{"subnet": "{subnet}.0/24"}}]], "dataDir": "{d}/cni-ipam"}}}}]}}
"#
            ),
        )
        .unwrap();
        let runc = std::env::var("RRUN_K8S_RUNC").map(PathBuf::from).unwrap_or_else(|_| find_program("runc").unwrap());
        let config = dir.path.join("config.toml");
        std::fs::write(&config, containerd_config(&d, &runc.display().to_string(), &rrun_binary())).unwrap();
        let log = std::fs::File::create(dir.path.join("containerd.log")).unwrap();
        let daemon = Command::new(find_program("containerd").unwrap())
            .arg("-c")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start containerd");
        let sock = dir.path.join("containerd.sock");
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let up = wait_for(Duration::from_secs(30), || sock.exists());
        let client = up.then(|| rt.block_on(connect(&sock)).ok()).flatten();
        let cri = Cri {
            dir,
            sock,
            daemon: Some(daemon),
            rt,
            client: client.unwrap_or_else(|| RuntimeServiceClient::new(dummy_channel())),
            cgroup_root,
        };
        assert!(up, "containerd did not come up: {}", cri.log());
        // the CRI service answers once its plugin is initialised
        let ready = wait_for(Duration::from_secs(30), || {
            let mut c = cri.client.clone();
            cri.rt
                .block_on(async { tokio::time::timeout(CALL, c.version(cri::VersionRequest::default())).await })
                .is_ok_and(|r| r.is_ok())
        });
        assert!(ready, "containerd's CRI service did not answer: {}", cri.log());
        cri.import_images();
        cri
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path.join("containerd.log")).unwrap_or_default()
    }

    /// `ctr -a SOCK -n k8s.io ARGS`: the CRI plugin's namespace.
    fn ctr(&self, args: &[&str]) -> (Option<i32>, String, String) {
        output_of(timed(60, "ctr").arg("-a").arg(&self.sock).args(["-n", "k8s.io"]).args(args))
    }

    /// The pause image (contrib/kubernetes/pause.c, static) and the busybox fixture.
    fn import_images(&self) {
        let pause = self.dir.path.join("pause");
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/kubernetes/pause.c");
        let cc = output_of(timed(120, "cc").args(["-static", "-Os", "-o"]).arg(&pause).arg(&src));
        assert_eq!(cc.0, Some(0), "cc -static pause.c: {}", cc.2);
        let archive = self.dir.path.join("pause-oci.tar");
        write_oci_archive(&archive, PAUSE_IMAGE, &std::fs::read(&pause).unwrap());
        for tar in [archive, fixture("busybox-oci.tar")] {
            let out = self.ctr(&["images", "import", tar.to_str().unwrap()]);
            assert_eq!(out.0, Some(0), "ctr images import {}: {}", tar.display(), out.2);
        }
        let listed = self.ctr(&["images", "ls", "-q"]).1;
        assert!(listed.contains(PAUSE_IMAGE) && listed.contains(BUSYBOX), "images: {listed}");
    }

    /// One CRI call on the test's runtime, bounded in time.
    fn call<T, F>(&self, what: &str, f: impl FnOnce(RuntimeServiceClient<Channel>) -> F) -> T
    where
        F: std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    {
        self.try_call(f).unwrap_or_else(|e| panic!("{what}: {e}\ncontainerd log:\n{}", tail(&self.log(), 40)))
    }

    fn try_call<T, F>(&self, f: impl FnOnce(RuntimeServiceClient<Channel>) -> F) -> Result<T, String>
    where
        F: std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    {
        let fut = f(self.client.clone());
        match self.rt.block_on(async { tokio::time::timeout(CALL, fut).await }) {
            Ok(Ok(r)) => Ok(r.into_inner()),
            Ok(Err(status)) => Err(format!("{:?}: {}", status.code(), status.message())),
            Err(_) => Err(format!("no answer within {CALL:?}")),
        }
    }

    fn container_state(&self, id: &str) -> cri::ContainerStatus {
        let id = id.to_string();
        let r: cri::ContainerStatusResponse = self.call("ContainerStatus", |mut c| async move {
            c.container_status(cri::ContainerStatusRequest { container_id: id, verbose: false }).await
        });
        r.status.expect("ContainerStatus without a status")
    }
}

impl Drop for Cri {
    fn drop(&mut self) {
        // whatever a failed scenario left: pods (and through them containers), then containerd,
        // shims, the runtimes' state, cgroups, the bridge
        if let Ok(r) =
            self.try_call(|mut c| async move { c.list_pod_sandbox(cri::ListPodSandboxRequest::default()).await })
        {
            for pod in r.items {
                let id = pod.id.clone();
                let _ = self.try_call(|mut c| async move {
                    c.stop_pod_sandbox(cri::StopPodSandboxRequest { pod_sandbox_id: id }).await
                });
                let id = pod.id.clone();
                let _ = self.try_call(|mut c| async move {
                    c.remove_pod_sandbox(cri::RemovePodSandboxRequest { pod_sandbox_id: id }).await
                });
                // libcni's cache of a pod whose network teardown failed
                for e in std::fs::read_dir("/var/lib/cni/results").into_iter().flatten().flatten() {
                    if e.file_name().to_string_lossy().contains(&pod.id) {
                        let _ = std::fs::remove_file(e.path());
                    }
                }
            }
        }
        if let Some(mut daemon) = self.daemon.take() {
            end_processes(&[daemon.id() as i32], Duration::from_secs(5));
            let _ = daemon.wait();
        }
        end_processes(&pids_mentioning(&self.sock.display().to_string()), Duration::from_secs(2));
        for handler in ["rrun", "runc"] {
            let root = self.dir.path.join("runtime-root").join(handler).join("k8s.io");
            for e in std::fs::read_dir(&root).into_iter().flatten().flatten() {
                let id = e.file_name().to_string_lossy().to_string();
                let bin = if handler == "rrun" { PathBuf::from(rrun_binary()) } else { find_program("runc").unwrap() };
                let _ = timed(20, bin).arg("--root").arg(&root).args(["delete", "--force", &id]).output();
            }
        }
        remove_cgroup_tree(&self.cgroup_root);
        let _ = output_of(timed(10, "ip").args(["link", "del", &net().0]));
        // ScratchDir's drop unmounts the snapshots and shm mounts and removes the rest
    }
}

fn remove_cgroup_tree(rel: &str) {
    fn rm(dir: &Path) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                rm(&e.path());
            }
        }
        let _ = std::fs::remove_dir(dir);
    }
    for d in cgroup_dirs(rel) {
        rm(&d);
    }
}

/// containerd's configuration: the CRI plugin with the local pause image, cgroupfs and CNI,
/// then the runtimes exactly as contrib/containerd/rrun.toml documents them.
/// `restrict_oom_score_adj`: this host's root lacks CAP_SYS_RESOURCE, so the pause
/// container's oom_score_adj -998 would be refused (by runc as by rrun).
fn containerd_config(d: &str, runc: &str, rrun: &str) -> String {
    // the repo's documented runtimes, verbatim but for the binaries and a state root of the test's own
    let contrib = Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/containerd/rrun.toml");
    let contrib = std::fs::read_to_string(&contrib).unwrap_or_else(|e| panic!("{}: {e}", contrib.display()));
    let mut runtimes = String::new();
    for line in contrib.lines().filter(|l| !l.starts_with("version")) {
        let line = match line.trim() {
            "BinaryName = \"/usr/local/bin/rrun\"" => {
                format!("      BinaryName = \"{rrun}\"\n      Root = \"{d}/runtime-root/rrun\"")
            }
            "BinaryName = \"/usr/sbin/runc\"" => {
                format!("      BinaryName = \"{runc}\"\n      Root = \"{d}/runtime-root/runc\"")
            }
            _ => line.to_string(),
        };
        runtimes.push_str(&line);
        runtimes.push('\n');
    }
    assert!(
        runtimes.contains(&format!("Root = \"{d}/runtime-root/rrun\"")),
        "contrib/containerd/rrun.toml names no /usr/local/bin/rrun"
    );
    // benches/kubernetes.sh adds crun (it runs containerd where crun accepts the cgroups)
    let crun = match std::env::var("RRUN_K8S_CRUN") {
        Ok(bin) if !bin.is_empty() => format!(
            "  [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.crun]\n\
             \x20   runtime_type = \"io.containerd.runc.v2\"\n\
             \x20   [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.crun.options]\n\
             \x20     BinaryName = \"{bin}\"\n      SystemdCgroup = false\n      Root = \"{d}/runtime-root/crun\"\n"
        ),
        _ => String::new(),
    };
    format!(
        "version = 2\nroot = \"{d}/root\"\nstate = \"{d}/state\"\n\
         [grpc]\n  address = \"{d}/containerd.sock\"\n\
         [ttrpc]\n  address = \"{d}/containerd.sock.ttrpc\"\n\
         [plugins.\"io.containerd.grpc.v1.cri\"]\n\
         \x20 sandbox_image = \"{PAUSE_IMAGE}\"\n\
         \x20 stream_server_address = \"127.0.0.1\"\n\
         \x20 stream_server_port = \"0\"\n\
         \x20 netns_mounts_under_state_dir = true\n\
         \x20 restrict_oom_score_adj = true\n\
         [plugins.\"io.containerd.grpc.v1.cri\".cni]\n\
         \x20 bin_dir = \"/usr/lib/cni\"\n  conf_dir = \"{d}/cni\"\n  max_conf_num = 1\n\
         {runtimes}{crun}"
    )
}

/// The rrun the handler `rrun` runs: this build's, or `RRUN_K8S_BIN` (the bench's release build).
fn rrun_binary() -> String {
    std::env::var("RRUN_K8S_BIN").ok().filter(|b| !b.is_empty()).unwrap_or_else(|| RRUN.to_string())
}

async fn connect(sock: &Path) -> Result<RuntimeServiceClient<Channel>, tonic::transport::Error> {
    let sock = sock.to_path_buf();
    let channel = tonic::transport::Endpoint::try_from("http://[::]:50051")?
        .connect_timeout(Duration::from_secs(10))
        .connect_with_connector(tower::service_fn(move |_: tonic::transport::Uri| {
            let sock = sock.clone();
            async move {
                Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(tokio::net::UnixStream::connect(sock).await?))
            }
        }))
        .await?;
    Ok(RuntimeServiceClient::new(channel))
}

/// A channel that is never used (the struct needs a client before the assertion that fails).
fn dummy_channel() -> Channel {
    tonic::transport::Endpoint::from_static("http://127.0.0.1:9").connect_lazy()
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

// ------------------------------------------------------------ the pause image

fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b))
}

/// An OCI archive (as `ctr images import` reads) of one uncompressed layer holding `/pause`.
fn write_oci_archive(path: &Path, name: &str, pause: &[u8]) {
    let mut layer = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(pause.len() as u64);
    h.set_mode(0o755);
    h.set_mtime(1704067200);
    h.set_entry_type(tar::EntryType::Regular);
    layer.append_data(&mut h, "pause", pause).unwrap();
    let layer = layer.into_inner().unwrap();
    let layer_digest = sha256_hex(&layer);
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
        "config": {"Entrypoint": ["/pause"], "User": "65535:65535"},
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{layer_digest}")]},
    }))
    .unwrap();
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": format!("sha256:{}", sha256_hex(&config)), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": format!("sha256:{layer_digest}"), "size": layer.len()}],
    }))
    .unwrap();
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "digest": format!("sha256:{}", sha256_hex(&manifest)), "size": manifest.len(),
                       "annotations": {"org.opencontainers.image.ref.name": name}}],
    }))
    .unwrap();
    let mut out = tar::Builder::new(std::fs::File::create(path).unwrap());
    let mut add = |name: String, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(1704067200);
        out.append_data(&mut h, name, data).unwrap();
    };
    add("oci-layout".into(), br#"{"imageLayoutVersion":"1.0.0"}"#);
    add("index.json".into(), &index);
    for blob in [&layer, &config, &manifest] {
        add(format!("blobs/sha256/{}", sha256_hex(blob)), blob);
    }
    out.into_inner().unwrap();
}

// ------------------------------------------------------------ streaming exec

/// The websocket side of the CRI streaming server (`v4.channel.k8s.io`): each
/// message starts with its channel (1 stdout, 2 stderr, 3 the final status).
/// `input` goes to stdin (channel 0) once connected. Returns what the terminal showed and
/// the exit code the status names (an attach's status is Success: its code is the container's).
fn stream(url: &str, input: &[u8]) -> (String, i32) {
    use tungstenite::client::IntoClientRequest;
    let ws_url = url.replacen("http://", "ws://", 1);
    let host = ws_url.trim_start_matches("ws://").split('/').next().unwrap().to_string();
    let mut req = ws_url.as_str().into_client_request().unwrap();
    req.headers_mut().insert("Sec-WebSocket-Protocol", "v4.channel.k8s.io".parse().unwrap());
    let tcp = std::net::TcpStream::connect(&host).unwrap_or_else(|e| panic!("connect {host}: {e}"));
    tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let (mut ws, _) = tungstenite::client(req, tcp).unwrap_or_else(|e| panic!("websocket {ws_url}: {e}"));
    if !input.is_empty() {
        let msg = [&[0u8][..], input].concat();
        ws.send(tungstenite::Message::Binary(msg.into())).unwrap_or_else(|e| panic!("websocket send: {e}"));
    }
    let (mut out, mut status) = (Vec::new(), String::new());
    loop {
        match ws.read() {
            Ok(tungstenite::Message::Binary(m)) if !m.is_empty() => match m[0] {
                1 | 2 => out.extend_from_slice(&m[1..]),
                3 => status.push_str(&String::from_utf8_lossy(&m[1..])),
                _ => {}
            },
            Ok(tungstenite::Message::Close(_)) => break,
            Ok(_) => {}
            Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => break,
            Err(tungstenite::Error::Protocol(tungstenite::error::ProtocolError::ResetWithoutClosingHandshake)) => break,
            Err(e) => panic!("websocket read: {e}"),
        }
    }
    // v4: {"status":"Success"} or a Failure whose causes name the ExitCode
    let code = if status.is_empty() {
        panic!("no status on the error channel; output: {}", String::from_utf8_lossy(&out))
    } else {
        let v: serde_json::Value = serde_json::from_str(&status).unwrap_or_else(|e| panic!("status {status}: {e}"));
        if v["status"] == "Success" {
            0
        } else {
            v["details"]["causes"]
                .as_array()
                .and_then(|c| c.iter().find(|c| c["reason"] == "ExitCode"))
                .and_then(|c| c["message"].as_str())
                .and_then(|m| m.parse().ok())
                .unwrap_or_else(|| panic!("status without an exit code: {status}"))
        }
    };
    (String::from_utf8_lossy(&out).replace('\r', ""), code)
}

// ------------------------------------------------------------ the scenario

/// The lines of a CRI log file (`TIMESTAMP STREAM TAG MESSAGE`), as `STREAM MESSAGE`.
fn cri_log(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(|l| {
            let f: Vec<&str> = l.splitn(4, ' ').collect();
            assert!(f.len() == 4 && chrono::DateTime::parse_from_rfc3339(f[0]).is_ok(), "not a CRI log line: {l:?}");
            assert!(f[2] == "F" || f[2] == "P", "not a CRI log tag: {l:?}");
            format!("{} {}", f[1], f[3])
        })
        .collect()
}

fn container_config(
    name: &str,
    args: &[&str],
    log: &str,
    mem: i64,
    pid_mode: cri::NamespaceMode,
) -> cri::ContainerConfig {
    cri::ContainerConfig {
        metadata: Some(cri::ContainerMetadata { name: name.into(), attempt: 0 }),
        image: Some(cri::ImageSpec { image: BUSYBOX.into(), ..Default::default() }),
        command: args.iter().map(|s| s.to_string()).collect(),
        log_path: log.into(),
        linux: Some(cri::LinuxContainerConfig {
            resources: Some(cri::LinuxContainerResources {
                memory_limit_in_bytes: mem,
                cpu_shares: 256,
                ..Default::default()
            }),
            security_context: Some(cri::LinuxContainerSecurityContext {
                namespace_options: Some(cri::NamespaceOption {
                    network: cri::NamespaceMode::Pod as i32,
                    pid: pid_mode as i32,
                    ipc: cri::NamespaceMode::Pod as i32,
                    ..Default::default()
                }),
                ..Default::default()
            }),
        }),
        ..Default::default()
    }
}

/// What one handler showed, step by step (compared between handlers).
type Observed = BTreeMap<&'static str, String>;

fn scenario(cri: &Cri, handler: &str) -> Observed {
    let mut seen = Observed::new();
    let t0 = Instant::now();
    let logs = cri.dir.path.join("logs").join(handler);
    std::fs::create_dir_all(&logs).unwrap();
    let cgroup_parent = format!("/{}/pod-{handler}", cri.cgroup_root);
    let pod_config = cri::PodSandboxConfig {
        metadata: Some(cri::PodSandboxMetadata {
            name: format!("web-{handler}"),
            uid: format!("uid-{handler}-{}", std::process::id()),
            namespace: "default".into(),
            attempt: 0,
        }),
        hostname: format!("pod-{handler}"),
        log_directory: logs.display().to_string(),
        linux: Some(cri::LinuxPodSandboxConfig {
            cgroup_parent: cgroup_parent.clone(),
            sysctls: [("net.ipv4.ip_local_port_range".to_string(), "20000 30000".to_string())].into(),
            security_context: Some(cri::LinuxSandboxSecurityContext {
                namespace_options: Some(cri::NamespaceOption {
                    network: cri::NamespaceMode::Pod as i32,
                    pid: cri::NamespaceMode::Container as i32,
                    ipc: cri::NamespaceMode::Pod as i32,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };

    // RunPodSandbox: the pause container holds the pod's namespaces, CNI gives it an address
    let (pc, h) = (pod_config.clone(), handler.to_string());
    let pod: cri::RunPodSandboxResponse = cri.call("RunPodSandbox", |mut c| async move {
        c.run_pod_sandbox(cri::RunPodSandboxRequest { config: Some(pc), runtime_handler: h }).await
    });
    let pod_id = pod.pod_sandbox_id;
    let pid = pod_id.clone();
    let status: cri::PodSandboxStatusResponse = cri.call("PodSandboxStatus", |mut c| async move {
        c.pod_sandbox_status(cri::PodSandboxStatusRequest { pod_sandbox_id: pid, verbose: true }).await
    });
    let st = status.status.clone().unwrap();
    seen.insert("sandbox state", format!("{:?}", st.state()));
    let ip = st.network.as_ref().map(|n| n.ip.clone()).unwrap_or_default();
    let subnet = net().1;
    assert!(ip.starts_with(&format!("{subnet}.")), "{handler}: the pod's address {ip:?} is not on {subnet}.0/24");
    let info: serde_json::Value =
        serde_json::from_str(status.info.get("info").map(String::as_str).unwrap_or("{}")).unwrap();
    assert_eq!(info["runtimeHandler"], handler, "{handler}: {info}");
    let netns = info["runtimeSpec"]["linux"]["namespaces"]
        .as_array()
        .and_then(|a| a.iter().find(|n| n["type"] == "network"))
        .and_then(|n| n["path"].as_str())
        .unwrap_or_else(|| panic!("{handler}: no network namespace path in {info}"))
        .to_string();
    let pause_pid = info["pid"].as_i64().unwrap_or(0) as i32;
    assert!(pause_pid > 0, "{handler}: no pause pid in {info}");
    // (the runtime's start may return before the pause process has exec'd)
    let cmdline = || {
        let raw = std::fs::read(format!("/proc/{pause_pid}/cmdline")).unwrap_or_default();
        String::from_utf8_lossy(&raw).trim_end_matches('\0').to_string()
    };
    wait_for(Duration::from_secs(5), || cmdline() == "/pause");
    seen.insert("pause process", cmdline());

    // two containers in the pod's network namespace: a server on 127.0.0.1 and a client
    let create = |name: &str, args: &[&str], mem: i64, pid_mode: cri::NamespaceMode| -> String {
        let (pid, pc) = (pod_id.clone(), pod_config.clone());
        let mut config = container_config(name, args, &format!("{name}.log"), mem, pid_mode);
        if name == "client" {
            // as a restricted pod runs: a user, no capabilities, no_new_privs, read-only root,
            // containerd's default seccomp profile
            let sc = config.linux.as_mut().unwrap().security_context.as_mut().unwrap();
            sc.run_as_user = Some(cri::Int64Value { value: 1000 });
            sc.readonly_rootfs = true;
            sc.no_new_privs = true;
            sc.capabilities = Some(cri::Capability { drop_capabilities: vec!["ALL".into()], ..Default::default() });
            sc.seccomp = Some(cri::SecurityProfile {
                profile_type: cri::security_profile::ProfileType::RuntimeDefault as i32,
                ..Default::default()
            });
        }
        let r: cri::CreateContainerResponse = cri.call(&format!("CreateContainer {name}"), |mut c| async move {
            c.create_container(cri::CreateContainerRequest {
                pod_sandbox_id: pid,
                config: Some(config),
                sandbox_config: Some(pc),
            })
            .await
        });
        r.container_id
    };
    let start = |id: &str| {
        let id = id.to_string();
        let _: cri::StartContainerResponse = cri.call("StartContainer", |mut c| async move {
            c.start_container(cri::StartContainerRequest { container_id: id }).await
        });
    };
    let server = create(
        "server",
        &[
            "sh",
            "-c",
            "mkdir -p /www && echo hello-from-$(hostname) > /www/index.html && \
             trap 'exit 0' TERM; httpd -f -p 127.0.0.1:8080 -h /www & wait",
        ],
        128 << 20,
        cri::NamespaceMode::Container,
    );
    // the client shares the pod's PID namespace (the pause process is its PID 1)
    let client = create(
        "client",
        &[
            "sh",
            "-c",
            "for i in $(seq 1 50); do wget -q -O - http://127.0.0.1:8080/ && break; sleep 0.1; done; \
             echo to-stderr >&2; exec sleep 3600",
        ],
        64 << 20,
        cri::NamespaceMode::Pod,
    );
    // a terminal container for Attach
    let tty_config = cri::ContainerConfig {
        tty: true,
        stdin: true,
        ..container_config("tty", &["sh"], "tty.log", 0, cri::NamespaceMode::Container)
    };
    let (pid, pc) = (pod_id.clone(), pod_config.clone());
    let r: cri::CreateContainerResponse = cri.call("CreateContainer tty", |mut c| async move {
        c.create_container(cri::CreateContainerRequest {
            pod_sandbox_id: pid,
            config: Some(tty_config),
            sandbox_config: Some(pc),
        })
        .await
    });
    let tty = r.container_id;
    start(&server);
    start(&client);
    start(&tty);
    let client_log = logs.join("client.log");
    let fetched = wait_for(Duration::from_secs(15), || cri_log(&client_log).len() >= 2);
    assert!(fetched, "{handler}: the client's log shows no fetch: {:?}", cri_log(&client_log));
    // stdout and stderr come through two pipes: their order in the file is not the program's
    let mut lines = cri_log(&client_log);
    lines.sort();
    seen.insert("client log (CRI format)", lines.join(" | "));
    assert_eq!(lines, ["stderr to-stderr".to_string(), format!("stdout hello-from-pod-{handler}")], "{handler}");
    for id in [&server, &client] {
        let s = cri.container_state(id);
        assert_eq!(s.state(), cri::ContainerState::ContainerRunning, "{handler}: {s:?}");
    }
    seen.insert("containers running", "server, client".into());
    // … run by the handler's binary: its state directory (the shim's --root) names them
    let state = cri.dir.path.join("runtime-root").join(handler).join("k8s.io");
    for id in [&pod_id, &server, &client] {
        assert!(state.join(id).is_dir(), "{handler}: no state of {id} in {}", state.display());
    }

    // ExecSync: exit code, stdout and stderr apart
    let id = client.clone();
    let r: cri::ExecSyncResponse = cri.call("ExecSync", |mut c| async move {
        c.exec_sync(cri::ExecSyncRequest {
            container_id: id,
            cmd: [
                "sh",
                "-c",
                "wget -q -O - http://127.0.0.1:8080/; tr -d '\\0' < /proc/1/cmdline; echo; \
                 id -u; grep -E '^(Seccomp|NoNewPrivs|CapEff):' /proc/self/status | tr -s '\\t' ' '; \
                 cat /proc/sys/net/ipv4/ip_local_port_range | tr -s '\\t' ' '; touch /x 2>/dev/null || echo ro; \
                 echo err >&2; exit 3",
            ]
            .map(String::from)
            .to_vec(),
            timeout: 20,
        })
        .await
    });
    let exec_sync = format!(
        "code {} stdout {:?} stderr {:?}",
        r.exit_code,
        String::from_utf8_lossy(&r.stdout),
        String::from_utf8_lossy(&r.stderr)
    );
    assert_eq!(
        (r.exit_code, String::from_utf8_lossy(&r.stdout).as_ref(), String::from_utf8_lossy(&r.stderr).as_ref()),
        (
            3,
            format!(
                "hello-from-pod-{handler}\n/pause\n1000\nCapEff: 0000000000000000\nNoNewPrivs: 1\nSeccomp: 2\n\
                 20000 30000\nro\n"
            )
            .as_str(),
            "err\n"
        ),
        "{handler}: ExecSync"
    );
    seen.insert("ExecSync", exec_sync);
    // in the server's own PID namespace its shell is PID 1
    let id = server.clone();
    let r: cri::ExecSyncResponse = cri.call("ExecSync server", |mut c| async move {
        c.exec_sync(cri::ExecSyncRequest {
            container_id: id,
            cmd: ["sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '; hostname"].map(String::from).to_vec(),
            timeout: 20,
        })
        .await
    });
    seen.insert("ExecSync server", format!("code {} {:?}", r.exit_code, String::from_utf8_lossy(&r.stdout)));
    assert_eq!(r.exit_code, 0, "{handler}: {:?}", String::from_utf8_lossy(&r.stderr));

    // ExecSync past its timeout (as a probe's): an error, and the exec'd process is killed
    let id = server.clone();
    let t = Instant::now();
    let r = cri.try_call(|mut c| async move {
        c.exec_sync(cri::ExecSyncRequest {
            container_id: id,
            cmd: ["sleep", "31313"].map(String::from).to_vec(),
            timeout: 1,
        })
        .await
    });
    let err = r.expect_err("ExecSync past its timeout succeeded");
    assert!(t.elapsed() < Duration::from_secs(20), "{handler}: ExecSync timeout took {:?}", t.elapsed());
    let gone = wait_for(Duration::from_secs(10), || pids_mentioning("sleep 31313").is_empty());
    assert!(gone, "{handler}: the timed-out exec still runs: {:?}", pids_mentioning("sleep 31313"));
    seen.insert("ExecSync past its timeout", err.replace(&server, "ID"));

    // streaming Exec with a terminal, through the streaming server's websocket (stdin on, as
    // `kubectl exec -it`: containerd 1.6 relays no terminal output without it, whatever the runtime)
    let id = client.clone();
    let r: cri::ExecResponse = cri.call("Exec", |mut c| async move {
        c.exec(cri::ExecRequest {
            container_id: id,
            cmd: ["sh", "-c", "tty; echo answer-$((6*7)); exit 5"].map(String::from).to_vec(),
            tty: true,
            stdin: true,
            stdout: true,
            stderr: false,
        })
        .await
    });
    let (text, code) = stream(&r.url, b"");
    assert!(text.contains("/dev/pts/") && text.contains("answer-42"), "{handler}: exec -t showed {text:?}");
    assert_eq!(code, 5, "{handler}: exec -t: {text:?}");
    seen.insert("Exec (tty, websocket)", format!("code {code}, tty {}", text.contains("/dev/pts/")));

    // Attach to the terminal container's shell: typed input, its output, its exit code
    let id = tty.clone();
    let r: cri::AttachResponse = cri.call("Attach", |mut c| async move {
        c.attach(cri::AttachRequest { container_id: id, stdin: true, tty: true, stdout: true, stderr: false }).await
    });
    let (text, _) = stream(&r.url, b"tty; echo attached-$((6*7)); exit 7\n");
    assert!(text.contains("attached-42") && text.contains("/dev/pts/"), "{handler}: attach showed {text:?}");
    let done =
        wait_for(Duration::from_secs(10), || cri.container_state(&tty).state() == cri::ContainerState::ContainerExited);
    let s = cri.container_state(&tty);
    assert!(done && s.exit_code == 7, "{handler}: after attach: {s:?}");
    seen.insert("Attach (tty, websocket)", format!("exit {}, output {}", s.exit_code, text.contains("attached-42")));

    // ContainerStats: the shim reads the container's cgroup
    let id = server.clone();
    let r: cri::ContainerStatsResponse = cri.call("ContainerStats", |mut c| async move {
        c.container_stats(cri::ContainerStatsRequest { container_id: id }).await
    });
    let stats = r.stats.unwrap_or_default();
    let mem = stats.memory.and_then(|m| m.working_set_bytes).map(|v| v.value).unwrap_or(0);
    let cpu = stats.cpu.and_then(|c| c.usage_core_nano_seconds).map(|v| v.value).unwrap_or(0);
    assert!(mem > 0 && cpu > 0, "{handler}: ContainerStats memory {mem} cpu {cpu}");
    seen.insert("ContainerStats", "memory and cpu > 0".into());

    // UpdateContainerResources: the new memory limit is in the container's cgroup
    let id = server.clone();
    let _: cri::UpdateContainerResourcesResponse = cri.call("UpdateContainerResources", |mut c| async move {
        c.update_container_resources(cri::UpdateContainerResourcesRequest {
            container_id: id,
            linux: Some(cri::LinuxContainerResources {
                memory_limit_in_bytes: 96 << 20,
                cpu_shares: 512,
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
    });
    let cg = format!("{cgroup_parent}/{server}");
    let read = |ctl: &str, file: &str| {
        std::fs::read_to_string(format!("/sys/fs/cgroup/{ctl}/{cg}/{file}"))
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|e| format!("{file}: {e}"))
    };
    let limits = format!("{} {}", read("memory", "memory.limit_in_bytes"), read("cpu", "cpu.shares"));
    assert_eq!(limits, format!("{} 512", 96 << 20), "{handler}: the cgroup after UpdateContainerResources");
    seen.insert("UpdateContainerResources", limits);
    // raised again (memory+swap before memory, or the kernel refuses), with a CPU quota and a cpuset
    let id = server.clone();
    let _: cri::UpdateContainerResourcesResponse = cri.call("UpdateContainerResources 2", |mut c| async move {
        c.update_container_resources(cri::UpdateContainerResourcesRequest {
            container_id: id,
            linux: Some(cri::LinuxContainerResources {
                memory_limit_in_bytes: 256 << 20,
                memory_swap_limit_in_bytes: 256 << 20,
                cpu_shares: 512,
                cpu_period: 100_000,
                cpu_quota: 50_000,
                cpuset_cpus: "0".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
    });
    let memsw = Path::new("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes").exists();
    let limits = format!(
        "{} {} {} {} {}",
        read("memory", "memory.limit_in_bytes"),
        if memsw { read("memory", "memory.memsw.limit_in_bytes") } else { (256u64 << 20).to_string() },
        read("cpu", "cpu.cfs_period_us"),
        read("cpu", "cpu.cfs_quota_us"),
        read("cpuset", "cpuset.cpus")
    );
    assert_eq!(limits, format!("{0} {0} 100000 50000 0", 256 << 20), "{handler}: the cgroup after the second update");
    seen.insert("UpdateContainerResources 2", limits);

    // a container over its memory limit: OOMKilled
    let hog = create("hog", &["sh", "-c", "a=x; while :; do a=$a$a; done"], 32 << 20, cri::NamespaceMode::Container);
    start(&hog);
    let exited =
        wait_for(Duration::from_secs(30), || cri.container_state(&hog).state() == cri::ContainerState::ContainerExited);
    let s = cri.container_state(&hog);
    assert!(exited, "{handler}: the memory hog still runs: {s:?}");
    seen.insert("over the memory limit", format!("exit {} reason {}", s.exit_code, s.reason));
    assert_eq!((s.exit_code, s.reason.as_str()), (137, "OOMKilled"), "{handler}: {s:?}");

    // StopContainer: SIGTERM reaches the server's shell, which exits 0 at once; the client's
    // sleep (not PID 1 in the pod's PID namespace) dies of it (143)
    let t = Instant::now();
    for id in [&server, &client] {
        let id = id.to_string();
        let _: cri::StopContainerResponse = cri.call("StopContainer", |mut c| async move {
            c.stop_container(cri::StopContainerRequest { container_id: id, timeout: 10 }).await
        });
    }
    let (s, c) = (cri.container_state(&server), cri.container_state(&client));
    seen.insert(
        "stopped",
        format!("server exit {} {}, client exit {} {}", s.exit_code, s.reason, c.exit_code, c.reason),
    );
    assert_eq!((s.exit_code, c.exit_code), (0, 143), "{handler}: server {s:?}\nclient {c:?}");
    assert!(t.elapsed() < Duration::from_secs(15), "{handler}: StopContainer took {:?}", t.elapsed());
    for id in [&server, &client, &hog, &tty] {
        let id = id.to_string();
        let _: cri::RemoveContainerResponse = cri.call("RemoveContainer", |mut c| async move {
            c.remove_container(cri::RemoveContainerRequest { container_id: id }).await
        });
    }
    let pid = pod_id.clone();
    let _: cri::StopPodSandboxResponse = cri.call("StopPodSandbox", |mut c| async move {
        c.stop_pod_sandbox(cri::StopPodSandboxRequest { pod_sandbox_id: pid }).await
    });
    let pid = pod_id.clone();
    let _: cri::RemovePodSandboxResponse = cri.call("RemovePodSandbox", |mut c| async move {
        c.remove_pod_sandbox(cri::RemovePodSandboxRequest { pod_sandbox_id: pid }).await
    });

    // nothing left: processes (pause, shim), mounts, cgroups, the network namespace, state
    let ids = [&pod_id, &server, &client, &hog, &tty];
    let clean = wait_for(Duration::from_secs(10), || {
        ids.iter().all(|id| pids_mentioning(id).is_empty() && cgroup_dirs(&format!("{cgroup_parent}/{id}")).is_empty())
            && !Path::new(&format!("/proc/{pause_pid}")).exists()
    });
    assert!(
        clean,
        "{handler}: left processes {:?} or cgroups {:?}",
        ids.iter().flat_map(|id| pids_mentioning(id)).collect::<Vec<_>>(),
        ids.iter().flat_map(|id| cgroup_dirs(&format!("{cgroup_parent}/{id}"))).collect::<Vec<_>>()
    );
    let mounts: Vec<PathBuf> = mounts_under(Path::new("/"))
        .into_iter()
        .filter(|m| ids.iter().any(|id| m.to_string_lossy().contains(id.as_str())) || m == Path::new(&netns))
        .collect();
    assert!(mounts.is_empty(), "{handler}: mounts left: {mounts:?}");
    assert!(!Path::new(&netns).exists(), "{handler}: the pod's netns {netns} is left");
    let cni_cache: Vec<_> = std::fs::read_dir("/var/lib/cni/results")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(&pod_id))
        .map(|e| e.path())
        .collect();
    assert!(cni_cache.is_empty(), "{handler}: CNI results left: {cni_cache:?}");
    let state = cri.dir.path.join("runtime-root").join(handler).join("k8s.io");
    let left: Vec<_> = std::fs::read_dir(&state).into_iter().flatten().flatten().map(|e| e.file_name()).collect();
    assert!(left.is_empty(), "{handler}: runtime state left in {}: {left:?}", state.display());
    seen.insert("after removal", "no process, mount, cgroup, netns or state".into());
    host_pod(cri, handler, &mut seen);
    eprintln!("{handler}: scenario in {:?}", t0.elapsed());
    seen
}

/// A pod in the host's network and PID namespaces with a privileged container, as node
/// agents (CNI daemons, kube-proxy) run: what it sees of the host, and that it goes cleanly.
fn host_pod(cri: &Cri, handler: &str, seen: &mut Observed) {
    let cgroup_parent = format!("/{}/host-{handler}", cri.cgroup_root);
    let host_ns = cri::NamespaceOption {
        network: cri::NamespaceMode::Node as i32,
        pid: cri::NamespaceMode::Node as i32,
        ipc: cri::NamespaceMode::Node as i32,
        ..Default::default()
    };
    let pod_config = cri::PodSandboxConfig {
        metadata: Some(cri::PodSandboxMetadata {
            name: format!("agent-{handler}"),
            uid: format!("agent-{handler}-{}", std::process::id()),
            namespace: "kube-system".into(),
            attempt: 0,
        }),
        linux: Some(cri::LinuxPodSandboxConfig {
            cgroup_parent: cgroup_parent.clone(),
            security_context: Some(cri::LinuxSandboxSecurityContext {
                namespace_options: Some(host_ns),
                privileged: true,
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let (pc, h) = (pod_config.clone(), handler.to_string());
    let pod = cri
        .call("RunPodSandbox (host)", |mut c| async move {
            c.run_pod_sandbox(cri::RunPodSandboxRequest { config: Some(pc), runtime_handler: h }).await
        })
        .pod_sandbox_id;
    let mut config = container_config("agent", &["sleep", "3600"], "", 0, cri::NamespaceMode::Node);
    let sc = config.linux.as_mut().unwrap().security_context.as_mut().unwrap();
    sc.privileged = true;
    sc.namespace_options.as_mut().unwrap().network = cri::NamespaceMode::Node as i32;
    sc.namespace_options.as_mut().unwrap().ipc = cri::NamespaceMode::Node as i32;
    let (pid, pc) = (pod.clone(), pod_config.clone());
    let id = cri
        .call("CreateContainer (privileged)", |mut c| async move {
            c.create_container(cri::CreateContainerRequest {
                pod_sandbox_id: pid,
                config: Some(config),
                sandbox_config: Some(pc),
            })
            .await
        })
        .container_id;
    let cid = id.clone();
    let _: cri::StartContainerResponse = cri.call("StartContainer (privileged)", |mut c| async move {
        c.start_container(cri::StartContainerRequest { container_id: cid }).await
    });
    // the host's namespaces (as links), all capabilities, the host's devices, a writable /sys
    let host = |ns: &str| std::fs::read_link(format!("/proc/self/ns/{ns}")).unwrap().display().to_string();
    let script = "for ns in net pid ipc; do [ $(readlink /proc/self/ns/$ns) = \"$(eval echo \\$$ns)\" ] && echo host-$ns; done; \
         grep CapEff /proc/self/status | tr -s '\\t' ' '; [ -e /dev/kmsg ] && echo dev-kmsg; \
         grep -q ' /sys sysfs rw' /proc/self/mounts && echo sys-rw".to_string();
    let cid = id.clone();
    let r: cri::ExecSyncResponse = cri.call("ExecSync (privileged)", |mut c| async move {
        c.exec_sync(cri::ExecSyncRequest {
            container_id: cid,
            cmd: vec![
                "env".into(),
                format!("net={}", host("net")),
                format!("pid={}", host("pid")),
                format!("ipc={}", host("ipc")),
                "sh".into(),
                "-c".into(),
                script,
            ],
            timeout: 20,
        })
        .await
    });
    let out = String::from_utf8_lossy(&r.stdout).to_string();
    seen.insert(
        "privileged, host namespaces",
        format!("code {} {out:?} {:?}", r.exit_code, String::from_utf8_lossy(&r.stderr)),
    );
    // every capability the host's root has (this host's lacks CAP_SYS_RESOURCE)
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let caps =
        status.lines().find(|l| l.starts_with("CapBnd:")).unwrap().split_whitespace().nth(1).unwrap().to_string();
    assert_eq!(
        (r.exit_code, out.as_str()),
        (0, format!("host-net\nhost-pid\nhost-ipc\nCapEff: {caps}\ndev-kmsg\nsys-rw\n").as_str()),
        "{handler}: privileged container: {:?}",
        String::from_utf8_lossy(&r.stderr)
    );
    let pid = pod.clone();
    let _: cri::StopPodSandboxResponse = cri.call("StopPodSandbox (host)", |mut c| async move {
        c.stop_pod_sandbox(cri::StopPodSandboxRequest { pod_sandbox_id: pid }).await
    });
    let pid = pod.clone();
    let _: cri::RemovePodSandboxResponse = cri.call("RemovePodSandbox (host)", |mut c| async move {
        c.remove_pod_sandbox(cri::RemovePodSandboxRequest { pod_sandbox_id: pid }).await
    });
    let clean = wait_for(Duration::from_secs(10), || {
        [&pod, &id]
            .iter()
            .all(|i| pids_mentioning(i).is_empty() && cgroup_dirs(&format!("{cgroup_parent}/{i}")).is_empty())
    });
    assert!(clean, "{handler}: the host pod left processes or cgroups");
}

#[test]
fn cri_pod_lifecycle_rrun_and_runc() {
    const T: &str = "cri_pod_lifecycle_rrun_and_runc";
    if !root_or_skip(T)
        || !ensure_programs(
            T,
            &[
                ("containerd", "containerd"),
                ("ctr", "containerd"),
                ("containerd-shim-runc-v2", "containerd"),
                ("runc", "runc"),
                ("/usr/lib/cni/bridge", "containernetworking-plugins"),
                ("/usr/lib/cni/host-local", "containernetworking-plugins"),
                ("/usr/lib/cni/loopback", "containernetworking-plugins"),
                ("cc", "gcc"),
                ("ip", "iproute2"),
                ("timeout", "coreutils"),
            ],
        )
    {
        return;
    }
    let cri = Cri::start();
    // RRUN_CRI_ONLY=rrun|runc runs one handler (to debug one runtime)
    let only = std::env::var("RRUN_CRI_ONLY").unwrap_or_default();
    let runc = if only == "rrun" { Observed::new() } else { scenario(&cri, "runc") };
    let rrun = if only == "runc" { Observed::new() } else { scenario(&cri, "rrun") };
    let mut differ = Vec::new();
    for (step, want) in &runc {
        let got = rrun.get(step).cloned().unwrap_or_default();
        eprintln!("{step:28} runc: {want}\n{:28} rrun: {got}", "");
        let normalize = |s: &str| s.replace("pod-runc", "pod-HANDLER").replace("pod-rrun", "pod-HANDLER");
        if normalize(want) != normalize(&got) {
            differ.push(format!("{step}: runc {want:?}, rrun {got:?}"));
        }
    }
    assert!(differ.is_empty(), "rrun and runc differ:\n{}", differ.join("\n"));
    let log = cri.log();
    // (the timed-out ExecSync is logged as an error, as the test asked for it)
    let errors: Vec<&str> =
        log.lines().filter(|l| l.contains("level=error") && !l.contains("timeout 1s exceeded")).collect();
    assert!(errors.is_empty(), "containerd logged errors:\n{}", errors.join("\n"));
}

// ------------------------------------------------------------ benchmark (benches/kubernetes.sh)

/// A pod of one container (`sleep`), created and started through CRI; returns when it runs.
async fn start_pod(
    mut c: RuntimeServiceClient<Channel>,
    handler: String,
    name: String,
    parent: String,
) -> Result<String, String> {
    let pod_config = cri::PodSandboxConfig {
        metadata: Some(cri::PodSandboxMetadata {
            name: name.clone(),
            uid: name.clone(),
            namespace: "bench".into(),
            attempt: 0,
        }),
        linux: Some(cri::LinuxPodSandboxConfig { cgroup_parent: parent, ..Default::default() }),
        ..Default::default()
    };
    let e = |s: tonic::Status| format!("{name}: {}", s.message());
    let pod = c
        .run_pod_sandbox(cri::RunPodSandboxRequest { config: Some(pod_config.clone()), runtime_handler: handler })
        .await
        .map_err(e)?
        .into_inner()
        .pod_sandbox_id;
    let config = container_config("c", &["sleep", "3600"], "", 0, cri::NamespaceMode::Container);
    let id = c
        .create_container(cri::CreateContainerRequest {
            pod_sandbox_id: pod.clone(),
            config: Some(config),
            sandbox_config: Some(pod_config),
        })
        .await
        .map_err(e)?
        .into_inner()
        .container_id;
    c.start_container(cri::StartContainerRequest { container_id: id.clone() }).await.map_err(e)?;
    let s = c.container_status(cri::ContainerStatusRequest { container_id: id, verbose: false }).await.map_err(e)?;
    let running = s.into_inner().status.is_some_and(|s| s.state() == cri::ContainerState::ContainerRunning);
    if running {
        Ok(pod)
    } else {
        Err(format!("{name}: not running after StartContainer"))
    }
}

fn remove_pods(cri: &Cri, pods: &[String]) {
    for pod in pods {
        let id = pod.clone();
        let _: cri::StopPodSandboxResponse = cri.call("StopPodSandbox", |mut c| async move {
            c.stop_pod_sandbox(cri::StopPodSandboxRequest { pod_sandbox_id: id }).await
        });
        let id = pod.clone();
        let _: cri::RemovePodSandboxResponse = cri.call("RemovePodSandbox", |mut c| async move {
            c.remove_pod_sandbox(cri::RemovePodSandboxRequest { pod_sandbox_id: id }).await
        });
    }
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Pod start latency (RunPodSandbox + CreateContainer + StartContainer until it runs) and a
/// burst of 20 pods started at once, per handler, handlers alternating; medians and ratios to
/// runc. Run by benches/kubernetes.sh (`--ignored`): env RRUN_K8S_HANDLERS (runc,rrun[,crun]),
/// RRUN_K8S_BIN / RRUN_K8S_RUNC / RRUN_K8S_CRUN (the handlers' binaries),
/// RRUN_K8S_N (single pods per handler, 15), RRUN_K8S_BURSTS (bursts per handler, 3).
#[test]
#[ignore = "a benchmark: benches/kubernetes.sh runs it"]
fn cri_pod_start_bench() {
    if !root_or_skip("cri_pod_start_bench") {
        return;
    }
    let env = |k: &str, d: &str| std::env::var(k).ok().filter(|v| !v.is_empty()).unwrap_or_else(|| d.to_string());
    let handlers: Vec<String> = env("RRUN_K8S_HANDLERS", "runc,rrun").split(',').map(String::from).collect();
    let n: usize = env("RRUN_K8S_N", "15").parse().unwrap();
    let bursts: usize = env("RRUN_K8S_BURSTS", "3").parse().unwrap();
    const BURST: usize = 20;
    let cri = Cri::start();
    let mut single: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    let mut burst: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    let mut k = 0;
    // one warm-up pod per handler (shim binaries, image snapshots, page cache)
    for round in 0..n + 1 {
        for h in &handlers {
            k += 1;
            let (hh, name, parent) = (h.clone(), format!("b{k}-{h}"), format!("/{}/b{k}", cri.cgroup_root));
            let t = Instant::now();
            let pod = cri.try_call(|c| async move {
                start_pod(c, hh, name, parent).await.map(tonic::Response::new).map_err(tonic::Status::internal)
            });
            let dt = t.elapsed().as_secs_f64() * 1000.0;
            let pod = pod.unwrap_or_else(|e| panic!("{h}: {e}\n{}", tail(&cri.log(), 30)));
            if round > 0 {
                single.entry(h).or_default().push(dt);
            }
            remove_pods(&cri, &[pod]);
        }
    }
    for _ in 0..bursts {
        for h in &handlers {
            let t = Instant::now();
            let _in_runtime = cri.rt.enter();
            let mut set = tokio::task::JoinSet::new();
            for _ in 0..BURST {
                k += 1;
                let (c, hh, name, parent) =
                    (cri.client.clone(), h.clone(), format!("b{k}-{h}"), format!("/{}/b{k}", cri.cgroup_root));
                set.spawn(start_pod(c, hh, name, parent));
            }
            let pods: Vec<Result<String, String>> = cri
                .rt
                .block_on(async { tokio::time::timeout(Duration::from_secs(300), set.join_all()).await })
                .expect("the burst took over 300 s");
            let dt = t.elapsed().as_secs_f64() * 1000.0;
            let (ok, failed): (Vec<_>, Vec<_>) = pods.into_iter().partition(|p| p.is_ok());
            let ok: Vec<String> = ok.into_iter().map(Result::unwrap).collect();
            remove_pods(&cri, &ok);
            assert!(failed.is_empty(), "{h}: pods failed in the burst: {failed:?}");
            burst.entry(h).or_default().push(dt);
        }
    }
    let base_single = median(single.get_mut("runc").map(|v| v.as_mut_slice()).unwrap_or(&mut [1.0]));
    let base_burst = median(burst.get_mut("runc").map(|v| v.as_mut_slice()).unwrap_or(&mut [1.0]));
    println!(
        "{:8} {:>22} {:>10} {:>24} {:>10}",
        "handler", "pod start median (ms)", "vs runc", "20-pod burst median (ms)", "vs runc"
    );
    for h in &handlers {
        let s = median(single.get_mut(h.as_str()).map(|v| v.as_mut_slice()).unwrap_or(&mut []));
        let b = median(burst.get_mut(h.as_str()).map(|v| v.as_mut_slice()).unwrap_or(&mut []));
        println!("{h:8} {s:>22.1} {:>9.2}x {b:>24.1} {:>9.2}x", s / base_single, b / base_burst);
    }
    println!(
        "({n} single pods and {bursts} bursts of {BURST} per handler, handlers alternating; rrun: {})",
        rrun_binary()
    );
}
