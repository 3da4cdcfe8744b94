//! OCI distribution client: pull, push, catalog, login.
//!
//! One `RegistryClient` per command. It picks the endpoint (mirrors first),
//! the scheme (HTTPS; plain HTTP only for insecure or local registries), and
//! answers `401`s by reading the `WWW-Authenticate` challenge each time —
//! anonymous or credentialed bearer tokens from whatever realm it names,
//! or basic auth — then retries. Transient failures (5xx, 429, resets) are
//! retried with backoff; blob downloads resume from where they broke off.

pub mod auth;
pub mod config;
pub(crate) mod ops;
pub(crate) mod pull;
pub(crate) mod push;
mod transport;

pub use auth::{AuthFiles, Credential};
pub use config::{Endpoint, RegistriesConf};
pub use ops::SearchResult;
pub use pull::PullOptions;

use crate::digest::Digest;
use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;
use tracing::debug;

crate::steps! {
    MANIFEST_FETCH: "manifest_fetch" in Image, syscall "HTTP GET /v2/NAME/manifests/REF", source "src/registry/mod.rs",
        what "Fetch the manifest from the registry",
        why "The distribution protocol is plain HTTP: a manifest (or an index of manifests, one per platform) is asked for by tag or digest, with Accept headers naming the formats rrun reads. Its sha256 is its identity: pulled by digest, it is checked; pulled by tag, the digest is what the tag meant at that moment.";
    INDEX_CHOOSE: "index_choose" in Image, syscall "(in rrun)", source "src/registry/pull.rs",
        what "Choose this platform's manifest from the index",
        why "A multi-architecture image is an index listing one manifest per OS/architecture; rrun takes the one for this host (or --platform) and fetches it by digest.";
    CONFIG_FETCH: "config_fetch" in Image, syscall "HTTP GET /v2/NAME/blobs/DIGEST", source "src/registry/pull.rs",
        what "Fetch the image config blob",
        why "Blobs are addressed by digest alone: the config, then each layer, downloaded straight into the unpacker and verified as they stream.";
}

/// Why talking to a registry failed: each names the host or image.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// A registries configuration file does not parse.
    #[error("registry configuration {path}: {reason}")]
    Config {
        /// The file or directory.
        path: PathBuf,
        /// What is wrong, or why it failed.
        reason: String,
    },
    /// A credentials file (`auth.json`, Docker's `config.json`) does not parse.
    #[error("credentials file {path}: {reason}")]
    AuthFile {
        /// The file or directory.
        path: PathBuf,
        /// What is wrong, or why it failed.
        reason: String,
    },
    /// The TLS setup (certificates, keys) for a registry failed.
    #[error("{host}: TLS: {reason}")]
    Tls {
        /// The registry host.
        host: String,
        /// What is wrong, or why it failed.
        reason: String,
    },
    /// The registry cannot be reached.
    #[error("{host}: cannot connect: {reason}")]
    Connect {
        /// The registry host.
        host: String,
        /// What is wrong, or why it failed.
        reason: String,
    },
    /// The registry wants credentials: `no_credentials` when none are stored
    /// for `host` (a login would help); `hint` says more (`: …`, ` (…)`, or empty).
    #[error("{host}: authentication required{hint}")]
    Unauthorized {
        /// The registry host.
        host: String,
        /// More from the registry (may be empty).
        hint: String,
        /// No credentials are stored for the host.
        no_credentials: bool,
    },
    /// The repository, manifest or blob does not exist.
    #[error("{host}: {what}: not found")]
    NotFound {
        /// The registry host.
        host: String,
        /// What was asked for.
        what: String,
    },
    /// Another HTTP error from the registry.
    #[error("{host}: {what}: HTTP {status}: {body}")]
    Http {
        /// The registry host.
        host: String,
        /// What was asked for.
        what: String,
        /// The HTTP status.
        status: u16,
        /// The response body.
        body: String,
    },
    /// A manifest or index that does not parse or that rrun cannot use.
    #[error("{image}: {reason}")]
    Manifest {
        /// The image, as named.
        image: String,
        /// What is wrong, or why it failed.
        reason: String,
    },
    /// A Docker schema 1 manifest (not supported).
    #[error("{image}: Docker image schema 1 manifests are not supported (deprecated since 2017); push the image again with a current client")]
    Schema1 {
        /// The image, as named.
        image: String,
    },
    /// The index has no manifest for the platform asked for.
    #[error("{image}: no image for platform {wanted}; available: {available}")]
    NoPlatform {
        /// The image, as named.
        image: String,
        /// The platform asked for (`os/arch[/variant]`).
        wanted: String,
        /// The platforms it has.
        available: String,
    },
    /// A platform that is not `os/arch[/variant]`.
    #[error("invalid platform {0:?}: expected os/arch[/variant], like linux/arm64")]
    Platform(String),
    /// Downloaded content does not match its digest.
    #[error("{image}: {what} digest mismatch: expected {expected}, got {actual}")]
    Digest {
        /// The image, as named.
        image: String,
        /// The manifest or blob.
        what: String,
        /// The digest expected.
        expected: Digest,
        /// The digest of the content.
        actual: Digest,
    },
    /// The registry's answer is not what the distribution API says.
    #[error("{host}: {what}: {reason}")]
    Protocol {
        /// The registry host.
        host: String,
        /// What was asked for.
        what: String,
        /// What is wrong, or why it failed.
        reason: String,
    },
    /// Another failure, described.
    #[error("{0}")]
    Other(String),
    /// Unpacking a pulled image failed (boxed: a large error).
    #[error(transparent)]
    Import(Box<crate::image::import::ImportError>),
    /// Writing into the store failed.
    #[error(transparent)]
    Store(Box<crate::store::StoreError>),
}

impl From<crate::store::StoreError> for RegistryError {
    fn from(e: crate::store::StoreError) -> Self {
        RegistryError::Store(Box::new(e))
    }
}

/// Largest manifest accepted (the distribution spec's registries use 4 MiB).
pub const MAX_MANIFEST: u64 = 4 * 1024 * 1024;

const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json, \
application/vnd.docker.distribution.manifest.v1+prettyjws;q=0.5, application/vnd.docker.distribution.manifest.v1+json;q=0.5";

/// Settings of a client.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ClientOptions {
    /// Mirrors, insecure registries and search registries (`registries.conf`).
    pub config: RegistriesConf,
    /// Where credentials are read from.
    pub auth: AuthFiles,
    /// `Some(false)`: `--tls-verify=false` (HTTP or unverified TLS for every registry).
    pub tls_verify: Option<bool>,
    /// `--cert-dir`: directories of CA certificates and client keys.
    pub cert_dirs: Vec<PathBuf>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            config: RegistriesConf::default(),
            auth: AuthFiles::default_locations(),
            tls_verify: None,
            cert_dirs: transport::default_cert_dirs(),
        }
    }
}

/// A request body that can be sent again on retry.
#[derive(Clone)]
pub(crate) enum Body {
    Empty,
    Bytes(Vec<u8>, &'static str),
    File { path: PathBuf, offset: u64, len: u64 },
}

pub struct RegistryClient {
    opts: ClientOptions,
    agents: Mutex<HashMap<(String, bool), ureq::Agent>>,
    /// `host` → base URL (`https://host` or `http://host`) once known.
    bases: Mutex<HashMap<String, String>>,
    /// `(host, scope)` → bearer token.
    tokens: Mutex<HashMap<(String, String), String>>,
    /// Hosts that asked for basic auth.
    basic: Mutex<HashMap<String, bool>>,
}

impl RegistryClient {
    pub fn new(opts: ClientOptions) -> RegistryClient {
        RegistryClient {
            opts,
            agents: Mutex::new(HashMap::new()),
            bases: Mutex::new(HashMap::new()),
            tokens: Mutex::new(HashMap::new()),
            basic: Mutex::new(HashMap::new()),
        }
    }

    /// Configured insecure (or `--tls-verify=false`): plain HTTP allowed, certificates not checked.
    fn insecure(&self, ep_host: &str, ep_insecure: bool) -> bool {
        ep_insecure || self.opts.tls_verify == Some(false) || self.opts.config.insecure(ep_host)
    }

    fn agent(&self, host: &str, verify: bool) -> Result<ureq::Agent, RegistryError> {
        let mut agents = self.agents.lock().expect("agents lock");
        if let Some(a) = agents.get(&(host.to_string(), verify)) {
            return Ok(a.clone());
        }
        let a = transport::agent(transport::tls_config(host, verify, &self.opts.cert_dirs)?);
        agents.insert((host.to_string(), verify), a.clone());
        Ok(a)
    }

    /// The base URL for `host`: HTTPS, or plain HTTP for an insecure or local
    /// (localhost, 127.0.0.0/8) registry that does not speak TLS. A local
    /// registry that does speak TLS must present a certificate we trust.
    fn base(&self, host: &str, insecure: bool) -> Result<String, RegistryError> {
        if let Some(b) = self.bases.lock().expect("bases lock").get(host) {
            return Ok(b.clone());
        }
        let https = format!("https://{host}");
        let base = if !insecure && !config::is_local(host) {
            https
        } else {
            match self.agent(host, !insecure)?.get(&format!("{https}/v2/")).call() {
                Ok(_) | Err(ureq::Error::Status(..)) => https,
                Err(ureq::Error::Transport(t)) if !insecure && t.to_string().contains("certificate") => {
                    return Err(RegistryError::Tls {
                        host: host.into(),
                        reason: format!(
                            "{t}: put its CA certificate in {}/{host}/ca.crt, or use --tls-verify=false",
                            self.opts.cert_dirs.first().map(|d| d.display().to_string()).unwrap_or_default()
                        ),
                    })
                }
                Err(ureq::Error::Transport(t)) => {
                    debug!(host, error = %t, "no TLS, using plain HTTP");
                    format!("http://{host}")
                }
            }
        };
        self.bases.lock().expect("bases lock").insert(host.to_string(), base.clone());
        Ok(base)
    }

    /// Sends a request, authenticating on 401 and retrying transient failures.
    pub(crate) fn send(
        &self,
        ep: &Endpoint,
        method: &str,
        path: &str,
        scope: &str,
        headers: &[(&str, &str)],
        body: Body,
    ) -> Result<ureq::Response, RegistryError> {
        let insecure = self.insecure(&ep.host, ep.insecure);
        let base = self.base(&ep.host, insecure)?;
        let url = if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else {
            format!("{base}{path}")
        };
        let agent = self.agent(&ep.host, !insecure)?;
        let mut authenticated_once = false;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let mut req = agent.request(method, &url);
            for (k, v) in headers {
                req = req.set(k, v);
            }
            if let Some(h) = self.auth_header(&ep.host, scope) {
                req = req.set("Authorization", &h);
            }
            let result = match &body {
                Body::Empty if method == "PUT" || method == "POST" || method == "PATCH" => req.send_bytes(&[]),
                Body::Empty => req.call(),
                Body::Bytes(b, ct) => req.set("Content-Type", ct).send_bytes(b),
                Body::File { path, offset, len } => {
                    let mut f = std::fs::File::open(path)
                        .map_err(|e| RegistryError::Other(format!("{}: {e}", path.display())))?;
                    std::io::Seek::seek(&mut f, std::io::SeekFrom::Start(*offset))
                        .map_err(|e| RegistryError::Other(format!("{}: {e}", path.display())))?;
                    req.set("Content-Type", "application/octet-stream")
                        .set("Content-Length", &len.to_string())
                        .send(f.take(*len))
                }
            };
            match result {
                Ok(resp) => return Ok(resp),
                Err(ureq::Error::Status(401, resp)) if !authenticated_once => {
                    authenticated_once = true;
                    // read the challenge every time: a registry may name another realm after a token expires
                    let challenge = resp.header("WWW-Authenticate").and_then(auth::parse_challenge);
                    self.authenticate(ep, scope, challenge)?;
                }
                Err(ureq::Error::Status(401, resp)) => {
                    let body = resp.into_string().unwrap_or_default();
                    return Err(self.unauthorized(&ep.host, &body));
                }
                Err(ureq::Error::Status(code, _)) if (code >= 500 || code == 429) && attempt < 4 => {
                    debug!(host = %ep.host, status = code, attempt, "transient error, retrying");
                    backoff(attempt);
                }
                Err(ureq::Error::Status(code, resp)) => {
                    let what = format!("{method} {path}");
                    let body: String = resp.into_string().unwrap_or_default().chars().take(300).collect();
                    if code == 404 {
                        return Err(RegistryError::NotFound { host: ep.host.clone(), what });
                    }
                    if code == 403 {
                        return Err(self.unauthorized(&ep.host, &body));
                    }
                    return Err(RegistryError::Http {
                        host: ep.host.clone(),
                        what,
                        status: code,
                        body: body.trim().to_string(),
                    });
                }
                Err(ureq::Error::Transport(t)) if attempt < 4 => {
                    debug!(host = %ep.host, error = %t, attempt, "transport error, retrying");
                    backoff(attempt);
                }
                Err(ureq::Error::Transport(t)) => {
                    return Err(RegistryError::Connect { host: ep.host.clone(), reason: t.to_string() })
                }
            }
        }
    }

    /// A 401's error: whether credentials are stored for `host`, and the registry's body.
    fn unauthorized(&self, host: &str, body: &str) -> RegistryError {
        let detail = if body.trim().is_empty() {
            String::new()
        } else {
            format!(" ({})", body.trim().chars().take(200).collect::<String>())
        };
        let stored = self.opts.auth.lookup(host).is_some();
        let hint = if stored { format!(": the stored credentials were refused{detail}") } else { detail };
        RegistryError::Unauthorized { host: host.to_string(), hint, no_credentials: !stored }
    }

    fn auth_header(&self, host: &str, scope: &str) -> Option<String> {
        if let Some(t) = self.tokens.lock().expect("tokens lock").get(&(host.to_string(), scope.to_string())) {
            return Some(format!("Bearer {t}"));
        }
        if self.basic.lock().expect("basic lock").contains_key(host) {
            return self.opts.auth.lookup(host).map(|c| c.basic_header());
        }
        None
    }

    /// Answers a challenge: fetches a bearer token (anonymous, or with the
    /// stored credentials) from the realm it names, or switches to basic auth.
    fn authenticate(
        &self,
        ep: &Endpoint,
        scope: &str,
        challenge: Option<auth::Challenge>,
    ) -> Result<(), RegistryError> {
        let cred = self.opts.auth.lookup(&ep.host);
        let Some(ch) = challenge else {
            return Err(RegistryError::Unauthorized {
                host: ep.host.clone(),
                hint: ": the registry sent no WWW-Authenticate challenge".into(),
                no_credentials: false,
            });
        };
        match ch.scheme.as_str() {
            "basic" => {
                if cred.is_none() {
                    return Err(RegistryError::Unauthorized {
                        host: ep.host.clone(),
                        hint: String::new(),
                        no_credentials: true,
                    });
                }
                self.basic.lock().expect("basic lock").insert(ep.host.clone(), true);
                Ok(())
            }
            "bearer" => {
                let realm = ch.params.get("realm").ok_or_else(|| RegistryError::Protocol {
                    host: ep.host.clone(),
                    what: "WWW-Authenticate".into(),
                    reason: "bearer challenge without a realm".into(),
                })?;
                let mut query: Vec<(String, String)> = Vec::new();
                if let Some(s) = ch.params.get("service") {
                    query.push(("service".into(), s.clone()));
                }
                let wanted = if scope.is_empty() {
                    ch.params.get("scope").cloned().unwrap_or_default()
                } else {
                    scope.to_string()
                };
                for s in wanted.split(' ').filter(|s| !s.is_empty()) {
                    query.push(("scope".into(), s.to_string()));
                }
                // the realm may be on another host and scheme; verify TLS unless this registry is insecure
                let realm_host =
                    realm.split("://").nth(1).and_then(|r| r.split('/').next()).unwrap_or(&ep.host).to_string();
                let insecure = self.insecure(&ep.host, ep.insecure);
                let agent = self.agent(&realm_host, !insecure)?;
                let mut req = agent.get(realm);
                for (k, v) in &query {
                    req = req.query(k, v);
                }
                if let Some(c) = &cred {
                    req = req.set("Authorization", &c.basic_header());
                }
                debug!(realm = %realm, scope = %wanted, with_credentials = cred.is_some(), "fetching a bearer token");
                let resp = match req.call() {
                    Ok(r) => r,
                    Err(ureq::Error::Status(code, _)) if code == 401 || code == 403 => {
                        return Err(RegistryError::Unauthorized {
                            host: ep.host.clone(),
                            hint: if cred.is_some() {
                                ": the token service refused the stored credentials".into()
                            } else {
                                String::new()
                            },
                            no_credentials: cred.is_none(),
                        })
                    }
                    Err(e) => {
                        return Err(RegistryError::Connect {
                            host: realm_host,
                            reason: format!("token service {realm}: {e}"),
                        })
                    }
                };
                let json: serde_json::Value = resp.into_json().map_err(|e| RegistryError::Protocol {
                    host: ep.host.clone(),
                    what: format!("token from {realm}"),
                    reason: e.to_string(),
                })?;
                let token =
                    json.get("token").or_else(|| json.get("access_token")).and_then(|t| t.as_str()).ok_or_else(
                        || RegistryError::Protocol {
                            host: ep.host.clone(),
                            what: format!("token from {realm}"),
                            reason: "no token in the answer".into(),
                        },
                    )?;
                self.tokens
                    .lock()
                    .expect("tokens lock")
                    .insert((ep.host.clone(), scope.to_string()), token.to_string());
                Ok(())
            }
            other => Err(RegistryError::Unauthorized {
                host: ep.host.clone(),
                hint: format!(": unsupported auth scheme {other}"),
                no_credentials: false,
            }),
        }
    }

    /// `GET /v2/`: checks that the registry answers and that the stored (or given) credentials work.
    pub fn ping(&self, host: &str) -> Result<(), RegistryError> {
        let ep = Endpoint { host: host.to_string(), repository: String::new(), insecure: false, mirror: false };
        self.send(&ep, "GET", "/v2/", "", &[], Body::Empty).map(drop)
    }

    /// Fetches a manifest (or index) by tag or digest: `(bytes, media type, digest)`.
    pub fn get_manifest(
        &self,
        ep: &Endpoint,
        reference: &str,
        image: &str,
    ) -> Result<(Vec<u8>, String, Digest), RegistryError> {
        let scope = pull_scope(&ep.repository);
        let resp = self.send(
            ep,
            "GET",
            &format!("/v2/{}/manifests/{reference}", ep.repository),
            &scope,
            &[("Accept", MANIFEST_ACCEPT)],
            Body::Empty,
        )?;
        let media = resp.header("Content-Type").unwrap_or("").split(';').next().unwrap_or("").trim().to_string();
        let mut bytes = Vec::new();
        resp.into_reader()
            .take(MAX_MANIFEST + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| RegistryError::Connect { host: ep.host.clone(), reason: e.to_string() })?;
        if bytes.len() as u64 > MAX_MANIFEST {
            return Err(RegistryError::Manifest {
                image: image.into(),
                reason: format!("manifest larger than {MAX_MANIFEST} bytes"),
            });
        }
        let digest = Digest::of(&bytes);
        crate::step!(
            MANIFEST_FETCH,
            url = %format!("{}/v2/{}/manifests/{reference}", ep.host, ep.repository),
            media_type = %media,
            digest = %digest,
            bytes = bytes.len()
        );
        if let Ok(expected) = reference.parse::<Digest>() {
            if expected != digest {
                return Err(RegistryError::Digest {
                    image: image.into(),
                    what: "manifest".into(),
                    expected,
                    actual: digest,
                });
            }
        }
        Ok((bytes, media, digest))
    }

    /// Opens a blob for reading; reconnects with a Range request if the transfer breaks.
    pub(crate) fn open_blob(&self, ep: &Endpoint, digest: &Digest, size: Option<u64>, offset: u64) -> BlobReader<'_> {
        BlobReader { client: self, ep: ep.clone(), digest: digest.clone(), size, offset, inner: None, failures: 0 }
    }

    /// Repository names of the registry's catalog (all pages).
    pub fn catalog(&self, host: &str) -> Result<Vec<String>, RegistryError> {
        let ep = Endpoint { host: host.to_string(), repository: String::new(), insecure: false, mirror: false };
        let mut out = Vec::new();
        let mut path = "/v2/_catalog?n=1000".to_string();
        for _ in 0..1000 {
            let resp = self.send(&ep, "GET", &path, "registry:catalog:*", &[], Body::Empty)?;
            let next = resp.header("Link").and_then(parse_next_link);
            let json: serde_json::Value = resp.into_json().map_err(|e| RegistryError::Protocol {
                host: host.into(),
                what: "catalog".into(),
                reason: e.to_string(),
            })?;
            out.extend(
                json["repositories"].as_array().into_iter().flatten().filter_map(|r| r.as_str().map(String::from)),
            );
            match next {
                Some(n) => path = n,
                None => break,
            }
        }
        Ok(out)
    }

    /// Docker Hub's search API (`rrun search NAME`).
    pub fn search_hub(&self, term: &str, limit: usize) -> Result<Vec<(String, String, u64)>, RegistryError> {
        let agent = self.agent("index.docker.io", true)?;
        let resp = agent
            .get("https://index.docker.io/v1/search")
            .query("q", term)
            .query("n", &limit.to_string())
            .call()
            .map_err(|e| RegistryError::Connect { host: "index.docker.io".into(), reason: e.to_string() })?;
        let json: serde_json::Value = resp.into_json().map_err(|e| RegistryError::Protocol {
            host: "index.docker.io".into(),
            what: "search".into(),
            reason: e.to_string(),
        })?;
        Ok(json["results"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| {
                (
                    r["name"].as_str().unwrap_or("").to_string(),
                    r["description"].as_str().unwrap_or("").to_string(),
                    r["star_count"].as_u64().unwrap_or(0),
                )
            })
            .collect())
    }
}

pub(crate) fn pull_scope(repo: &str) -> String {
    format!("repository:{repo}:pull")
}

fn backoff(attempt: u32) {
    std::thread::sleep(Duration::from_millis(200 * 2u64.pow(attempt.min(5))));
}

/// `<…/v2/_catalog?last=x&n=100>; rel="next"` → the path.
fn parse_next_link(h: &str) -> Option<String> {
    let (url, rel) = h.split_once(';')?;
    if !rel.contains("next") {
        return None;
    }
    Some(url.trim().trim_start_matches('<').trim_end_matches('>').to_string())
}

/// A blob download that survives broken connections: on an error or an early
/// end it reconnects with `Range: bytes=<offset>-` (up to 5 times, backing off).
pub(crate) struct BlobReader<'a> {
    client: &'a RegistryClient,
    ep: Endpoint,
    digest: Digest,
    size: Option<u64>,
    offset: u64,
    inner: Option<Box<dyn Read + Send + Sync>>,
    failures: u32,
}

impl BlobReader<'_> {
    fn connect(&mut self) -> std::io::Result<()> {
        let path = format!("/v2/{}/blobs/{}", self.ep.repository, self.digest);
        let range = format!("bytes={}-", self.offset);
        let headers: Vec<(&str, &str)> = if self.offset > 0 { vec![("Range", range.as_str())] } else { vec![] };
        let resp = self
            .client
            .send(&self.ep, "GET", &path, &pull_scope(&self.ep.repository), &headers, Body::Empty)
            .map_err(std::io::Error::other)?;
        let ignored_range = self.offset > 0 && resp.status() == 200;
        let mut reader = resp.into_reader();
        if ignored_range {
            // the server sent the whole blob again: skip what we already have
            std::io::copy(&mut (&mut reader).take(self.offset), &mut std::io::sink())?;
        }
        if self.offset > 0 {
            debug!(digest = %self.digest, offset = self.offset, "resumed blob download");
        }
        self.inner = Some(reader);
        Ok(())
    }
}

impl Read for BlobReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            if self.inner.is_none() {
                // a registry error (404, 401…) is final; transport errors were retried inside send
                self.connect()?;
            }
            let r = self.inner.as_mut().expect("connected").read(buf);
            match r {
                Ok(0) if self.size.is_some_and(|s| self.offset < s) => {
                    // the connection ended before the blob did
                    self.fail(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "connection closed early"))?;
                }
                Ok(n) => {
                    self.offset += n as u64;
                    return Ok(n);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => self.fail(e)?,
            }
        }
    }
}

impl BlobReader<'_> {
    fn fail(&mut self, e: std::io::Error) -> std::io::Result<()> {
        self.failures += 1;
        self.inner = None;
        if self.failures > 5 {
            return Err(e);
        }
        debug!(digest = %self.digest, offset = self.offset, error = %e, "blob transfer broke, resuming");
        backoff(self.failures);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_links() {
        assert_eq!(
            parse_next_link(r#"</v2/_catalog?last=b&n=2>; rel="next""#).as_deref(),
            Some("/v2/_catalog?last=b&n=2")
        );
        assert_eq!(parse_next_link(r#"</x>; rel="prev""#), None);
    }
}
