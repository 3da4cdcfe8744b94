//! A real registry (Debian's `docker-registry`) on a free 127.0.0.1 port, in
//! three flavours: open HTTP, htpasswd basic auth, TLS with a private CA and
//! token auth served by a small token server in the test. Plus a TCP proxy
//! that can throttle and records what clients asked for.
#![allow(dead_code)]

use base64::Engine;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const USER: &str = "rrun";
pub const PASS: &str = "s3cret-pass";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Flavour {
    Open,
    Basic,
    TlsToken,
}

pub struct Registry {
    pub dir: PathBuf,
    pub port: u16,
    pub flavour: Flavour,
    child: Child,
    token_server: Option<TokenServer>,
}

/// True when the tools the registry tests need are installed; otherwise
/// [`super::skip`]s (a failure in CI).
#[track_caller]
pub fn tools_or_skip(test: &str) -> bool {
    let missing: Vec<&str> =
        ["docker-registry", "skopeo", "htpasswd", "openssl"].into_iter().filter(|t| which(t).is_none()).collect();
    if missing.is_empty() {
        return true;
    }
    super::skip(
        test,
        format!("missing {missing:?} (scripts/test.sh installs docker-registry skopeo apache2-utils openssl)"),
    );
    false
}

fn which(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?.to_str()?.split(':').map(|d| Path::new(d).join(tool)).find(|p| p.is_file())
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn sh(cmd: &str) {
    let out = Command::new("bash").arg("-c").arg(cmd).output().unwrap();
    assert!(out.status.success(), "{cmd}: {}", String::from_utf8_lossy(&out.stderr));
}

impl Registry {
    pub fn start(dir: &Path, flavour: Flavour) -> Registry {
        std::fs::create_dir_all(dir).unwrap();
        let port = free_port();
        let mut config = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.join("data").display()
        );
        let mut token_server = None;
        match flavour {
            Flavour::Open => {}
            Flavour::Basic => {
                sh(&format!("htpasswd -Bbn {USER} {PASS} > {}", dir.join("htpasswd").display()));
                config.push_str(&format!(
                    "auth:\n  htpasswd:\n    realm: rrun-test\n    path: {}\n",
                    dir.join("htpasswd").display()
                ));
            }
            Flavour::TlsToken => {
                let d = dir.display();
                sh(&format!(
                    "cd {d} && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj /CN=rrun-test-ca 2>/dev/null \
                     && openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj /CN=127.0.0.1 2>/dev/null \
                     && printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\nextendedKeyUsage=serverAuth\\n' > ext \
                     && openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out srv.crt -days 2 -extfile ext 2>/dev/null \
                     && openssl req -x509 -newkey rsa:2048 -nodes -keyout token.key -out token.crt -days 2 -subj /CN=rrun-test-token 2>/dev/null"
                ));
                let ts = TokenServer::start(dir);
                config.push_str(&format!(
                    "  tls:\n    certificate: {d}/srv.crt\n    key: {d}/srv.key\nauth:\n  token:\n    realm: http://127.0.0.1:{}/token\n    service: rrun-test-registry\n    issuer: rrun-test-issuer\n    rootcertbundle: {d}/token.crt\n",
                    ts.port
                ));
                // the client trusts the registry's CA through a certs.d-style directory
                let certs = dir.join("certs.d").join(format!("127.0.0.1:{port}"));
                std::fs::create_dir_all(&certs).unwrap();
                std::fs::copy(dir.join("ca.crt"), certs.join("ca.crt")).unwrap();
                token_server = Some(ts);
            }
        }
        std::fs::write(dir.join("config.yml"), config).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(dir.join("config.yml"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("registry.log")).unwrap())
            .spawn()
            .expect("start docker-registry");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "registry did not start: {}",
                std::fs::read_to_string(dir.join("registry.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Registry { dir: dir.to_path_buf(), port, flavour, child, token_server }
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn cert_dir(&self) -> PathBuf {
        self.dir.join("certs.d")
    }

    /// Pushes an OCI layout image with skopeo (an independent client).
    pub fn seed(&self, layout: &Path, tag: &str, repo: &str) {
        let mut args = vec!["copy".to_string(), "-q".into(), "--all".into()];
        args.extend(self.skopeo_access("--dest-"));
        args.push(format!("oci:{}:{tag}", layout.display()));
        args.push(format!("docker://{}/{repo}", self.host()));
        let out = Command::new("skopeo").args(&args).output().unwrap();
        assert!(out.status.success(), "skopeo {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// skopeo's TLS and credential flags for this registry (`prefix` is `--` or `--dest-`).
    fn skopeo_access(&self, prefix: &str) -> Vec<String> {
        match self.flavour {
            Flavour::Open => vec![format!("{prefix}tls-verify=false")],
            Flavour::Basic => vec![format!("{prefix}tls-verify=false"), format!("{prefix}creds={USER}:{PASS}")],
            Flavour::TlsToken => vec![
                format!("{prefix}cert-dir={}", self.cert_dir().join(self.host()).display()),
                format!("{prefix}creds={USER}:{PASS}"),
            ],
        }
    }

    /// `skopeo inspect` of an image in this registry, as JSON.
    pub fn inspect(&self, repo: &str) -> serde_json::Value {
        let mut args = vec!["inspect".to_string()];
        args.extend(self.skopeo_access("--"));
        args.push(format!("docker://{}/{repo}", self.host()));
        let out = Command::new("skopeo").args(&args).output().unwrap();
        assert!(out.status.success(), "skopeo {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// The file holding a blob in the registry's storage.
    pub fn blob_file(&self, hex: &str) -> PathBuf {
        self.dir.join("data/docker/registry/v2/blobs/sha256").join(&hex[..2]).join(hex).join("data")
    }

    pub fn token_requests(&self) -> Vec<String> {
        self.token_server.as_ref().map(|t| t.log.lock().unwrap().clone()).unwrap_or_default()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A token service as the distribution spec describes: `GET /token?service&scope`
/// with basic auth; answers a JWT signed (RS256, x5c) with a key the registry trusts.
/// Valid credentials get the actions asked for; anonymous requests get none.
struct TokenServer {
    port: u16,
    log: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl TokenServer {
    fn start(dir: &Path) -> TokenServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let log = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (dir, log2, stop2) = (dir.to_path_buf(), log.clone(), stop.clone());
        listener.set_nonblocking(true).unwrap();
        std::thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((s, _)) => {
                        s.set_nonblocking(false).unwrap();
                        let _ = serve_token(s, &dir, &log2);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        TokenServer { port, log, stop }
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn b64url(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

fn serve_token(mut s: TcpStream, dir: &Path, log: &Mutex<Vec<String>>) -> std::io::Result<()> {
    let mut reader = BufReader::new(s.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut authorized = false;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        if line.trim().is_empty() {
            break;
        }
        if let Some(v) =
            line.strip_prefix("Authorization: Basic ").or_else(|| line.strip_prefix("authorization: Basic "))
        {
            let decoded = base64::engine::general_purpose::STANDARD.decode(v.trim()).unwrap_or_default();
            authorized = decoded == format!("{USER}:{PASS}").as_bytes();
        }
    }
    let path = request_line.split_whitespace().nth(1).unwrap_or("");
    log.lock().unwrap().push(format!("{path} authorized={authorized}"));
    let query = path.split_once('?').map(|(_, q)| q).unwrap_or("");
    let mut access = Vec::new();
    for (k, v) in query.split('&').filter_map(|kv| kv.split_once('=')) {
        if k != "scope" {
            continue;
        }
        let v = v.replace("%3A", ":").replace("%2F", "/").replace("%2C", ",");
        let parts: Vec<&str> = v.split(':').collect();
        if parts.len() == 3 && authorized {
            access.push(serde_json::json!({"type": parts[0], "name": parts[1], "actions": parts[2].split(',').collect::<Vec<_>>()}));
        }
    }
    if !authorized && query.contains("account=") {
        s.write_all(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")?;
        return Ok(());
    }
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let der =
        Command::new("openssl").args(["x509", "-outform", "der", "-in"]).arg(dir.join("token.crt")).output()?.stdout;
    let header = serde_json::json!({"typ": "JWT", "alg": "RS256", "x5c": [base64::engine::general_purpose::STANDARD.encode(der)]});
    let claims = serde_json::json!({
        "iss": "rrun-test-issuer", "sub": if authorized { USER } else { "" }, "aud": "rrun-test-registry",
        "exp": now + 300, "nbf": now - 10, "iat": now, "jti": format!("{now}-{}", std::process::id()), "access": access,
    });
    let signing_input = format!("{}.{}", b64url(header.to_string().as_bytes()), b64url(claims.to_string().as_bytes()));
    let mut child = Command::new("openssl")
        .args(["dgst", "-sha256", "-sign"])
        .arg(dir.join("token.key"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    child.stdin.take().unwrap().write_all(signing_input.as_bytes())?;
    let sig = child.wait_with_output()?.stdout;
    let token = format!("{signing_input}.{}", b64url(&sig));
    let body = serde_json::json!({"token": token, "expires_in": 300}).to_string();
    write!(
        s,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    Ok(())
}

/// A TCP proxy in front of a registry: optionally slows responses down, and
/// records the request heads it forwards (to see Range requests).
pub struct Proxy {
    pub port: u16,
    pub requests: Arc<Mutex<Vec<String>>>,
    /// Bytes per second from server to client; 0 = unlimited.
    pub rate: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl Proxy {
    pub fn start(target_port: u16, rate: u64) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let rate = Arc::new(AtomicU64::new(rate));
        let stop = Arc::new(AtomicBool::new(false));
        let (req2, rate2, stop2) = (requests.clone(), rate.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                let Ok((client, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                client.set_nonblocking(false).unwrap();
                let Ok(server) = TcpStream::connect(("127.0.0.1", target_port)) else { continue };
                let (req3, rate3, stop3) = (req2.clone(), rate2.clone(), stop2.clone());
                let (mut c_read, mut s_write) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                std::thread::spawn(move || {
                    let mut buf = [0u8; 16 * 1024];
                    while let Ok(n) = c_read.read(&mut buf) {
                        if n == 0 {
                            break;
                        }
                        req3.lock().unwrap().push(String::from_utf8_lossy(&buf[..n]).into_owned());
                        if s_write.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = s_write.shutdown(std::net::Shutdown::Write);
                });
                let (mut s_read, mut c_write) = (server, client);
                std::thread::spawn(move || {
                    let mut buf = [0u8; 16 * 1024];
                    while let Ok(n) = s_read.read(&mut buf) {
                        if n == 0 || stop3.load(Ordering::Relaxed) {
                            break;
                        }
                        let r = rate3.load(Ordering::Relaxed);
                        if r > 0 {
                            std::thread::sleep(Duration::from_secs_f64(n as f64 / r as f64));
                        }
                        if c_write.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = c_write.shutdown(std::net::Shutdown::Both);
                });
            }
        });
        Proxy { port, requests, rate, stop }
    }

    pub fn saw(&self, needle: &str) -> bool {
        self.requests.lock().unwrap().iter().any(|r| r.contains(needle))
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
