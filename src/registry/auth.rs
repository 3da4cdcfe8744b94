//! Registry authentication: `WWW-Authenticate` challenges, and credentials
//! shared with podman, skopeo and docker (`auth.json`, `~/.docker/config.json`).

use super::RegistryError;
use base64::Engine;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// A parsed `WWW-Authenticate` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// `bearer` or `basic`, lowercased.
    pub scheme: String,
    pub params: BTreeMap<String, String>,
}

/// Parses `Bearer realm="https://auth/token",service="registry",scope="repository:x:pull"`.
pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = header.split_once(char::is_whitespace).unwrap_or((header, ""));
    let mut params = BTreeMap::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        let key: String = std::iter::from_fn(|| chars.next_if(|c| *c != '=' && *c != ',')).collect();
        if key.is_empty() {
            break;
        }
        if chars.next() != Some('=') {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        if let Some(n) = chars.next() {
                            value.push(n);
                        }
                    }
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            value = std::iter::from_fn(|| chars.next_if(|c| *c != ',')).collect::<String>().trim().to_string();
        }
        params.insert(key.trim().to_lowercase(), value);
    }
    Some(Challenge { scheme: scheme.to_lowercase(), params })
}

/// A username and password (or identity token) for one registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    /// The user name.
    pub username: String,
    /// The password or token.
    pub password: String,
}

impl std::fmt::Debug for Credential {
    // never print the password
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credential {{ username: {:?}, password: <redacted> }}", self.username)
    }
}

impl Credential {
    /// The `Authorization: Basic …` header value for it.
    pub fn basic_header(&self) -> String {
        let raw = format!("{}:{}", self.username, self.password);
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(raw))
    }
}

/// Where credentials are read from, in order, and the file `login` writes.
#[derive(Debug, Clone)]
pub struct AuthFiles {
    /// The files `lookup` reads, first match wins; missing or unreadable ones are skipped.
    pub read: Vec<PathBuf>,
    /// The file `login` and `logout` change (`$REGISTRY_AUTH_FILE`, else the runtime `auth.json`).
    pub write: PathBuf,
}

impl AuthFiles {
    /// `$REGISTRY_AUTH_FILE`, `$XDG_RUNTIME_DIR/containers/auth.json` (root:
    /// `/run/containers/0/auth.json`), then `~/.docker/config.json` (or `$DOCKER_CONFIG`).
    pub fn default_locations() -> AuthFiles {
        let runtime = match std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) {
            Some(dir) => PathBuf::from(dir).join("containers/auth.json"),
            None => PathBuf::from(format!("/run/containers/{}/auth.json", nix::unistd::Uid::effective())),
        };
        let docker = match std::env::var_os("DOCKER_CONFIG") {
            Some(d) => PathBuf::from(d).join("config.json"),
            None => std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default().join(".docker/config.json"),
        };
        match std::env::var_os("REGISTRY_AUTH_FILE").filter(|v| !v.is_empty()) {
            Some(f) => AuthFiles { read: vec![PathBuf::from(&f), runtime, docker], write: PathBuf::from(f) },
            None => AuthFiles { read: vec![runtime.clone(), docker], write: runtime },
        }
    }

    /// The credential for `host`, from the first file that has one.
    pub fn lookup(&self, host: &str) -> Option<Credential> {
        self.read.iter().find_map(|p| {
            let text = std::fs::read_to_string(p).ok()?;
            let json: serde_json::Value = serde_json::from_str(&text).ok()?;
            let auths = json.get("auths")?.as_object()?;
            auths.iter().find(|(k, _)| normalize_key(k) == normalize_key(host)).and_then(|(_, v)| decode_entry(v))
        })
    }

    /// Stores a credential for `host` in the writable file (mode 0600).
    pub fn store(&self, host: &str, cred: &Credential) -> Result<(), RegistryError> {
        let mut json = self.read_writable()?;
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", cred.username, cred.password));
        json["auths"][host] = serde_json::json!({ "auth": auth });
        self.write_back(&json)
    }

    /// Removes `host` from the writable file; false if it was not there.
    pub fn remove(&self, host: &str) -> Result<bool, RegistryError> {
        let mut json = self.read_writable()?;
        let removed = json
            .get_mut("auths")
            .and_then(|a| a.as_object_mut())
            .and_then(|a| {
                let key = a.keys().find(|k| normalize_key(k) == normalize_key(host)).cloned()?;
                a.remove(&key)
            })
            .is_some();
        if removed {
            self.write_back(&json)?;
        }
        Ok(removed)
    }

    fn read_writable(&self) -> Result<serde_json::Value, RegistryError> {
        let err = |reason: String| RegistryError::AuthFile { path: self.write.clone(), reason };
        let mut json = match std::fs::read_to_string(&self.write) {
            Ok(t) => serde_json::from_str(&t).map_err(|e| err(e.to_string()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => serde_json::json!({}),
            Err(e) => return Err(err(e.to_string())),
        };
        if !json.get("auths").is_some_and(|a| a.is_object()) {
            json["auths"] = serde_json::json!({});
        }
        Ok(json)
    }

    fn write_back(&self, json: &serde_json::Value) -> Result<(), RegistryError> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let err = |e: std::io::Error| RegistryError::AuthFile { path: self.write.clone(), reason: e.to_string() };
        if let Some(dir) = self.write.parent() {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let tmp = self.write.with_extension(format!("tmp{}", std::process::id()));
        let mut f =
            std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp).map_err(err)?;
        f.write_all(serde_json::to_string_pretty(json).expect("serializes").as_bytes()).map_err(err)?;
        std::fs::rename(&tmp, &self.write).map_err(err)
    }
}

/// Docker Hub appears under several names in auth files.
fn normalize_key(k: &str) -> String {
    let k = k.trim_start_matches("https://").trim_start_matches("http://");
    let host = k.split('/').next().unwrap_or(k);
    match host {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => "docker.io".into(),
        h => h.to_string(),
    }
}

fn decode_entry(v: &serde_json::Value) -> Option<Credential> {
    if let Some(auth) = v.get("auth").and_then(|a| a.as_str()).filter(|a| !a.is_empty()) {
        let raw = base64::engine::general_purpose::STANDARD.decode(auth).ok()?;
        let raw = String::from_utf8(raw).ok()?;
        let (u, p) = raw.split_once(':')?;
        return Some(Credential { username: u.into(), password: p.into() });
    }
    let token = v.get("identitytoken").and_then(|t| t.as_str())?;
    Some(Credential { username: "<token>".into(), password: token.into() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_parse() {
        let c = parse_challenge(r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull""#).unwrap();
        assert_eq!(c.scheme, "bearer");
        assert_eq!(c.params["realm"], "https://auth.docker.io/token");
        assert_eq!(c.params["service"], "registry.docker.io");
        assert_eq!(c.params["scope"], "repository:library/alpine:pull");
        let c = parse_challenge(r#"Basic realm="Registry Realm""#).unwrap();
        assert_eq!((c.scheme.as_str(), c.params["realm"].as_str()), ("basic", "Registry Realm"));
        let c = parse_challenge(r#"Bearer realm=https://nvcr.io/proxy_auth,scope="repository:a/b:pull,push""#).unwrap();
        assert_eq!(c.params["realm"], "https://nvcr.io/proxy_auth");
        assert_eq!(c.params["scope"], "repository:a/b:pull,push");
    }

    #[test]
    fn auth_files_round_trip_and_share_docker_names() {
        let dir_tmp = tempfile::tempdir().unwrap();
        let dir = dir_tmp.path().to_path_buf();
        let files =
            AuthFiles { read: vec![dir.join("auth.json"), dir.join("docker.json")], write: dir.join("auth.json") };
        assert!(files.lookup("localhost:5000").is_none());
        let cred = Credential { username: "u".into(), password: "p:w".into() };
        files.store("localhost:5000", &cred).unwrap();
        assert_eq!(files.lookup("localhost:5000"), Some(cred.clone()));
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(dir.join("auth.json")).unwrap().permissions().mode() & 0o777, 0o600);
        std::fs::write(dir.join("docker.json"), r#"{"auths":{"https://index.docker.io/v1/":{"auth":"ZDpw"}}}"#)
            .unwrap();
        assert_eq!(files.lookup("docker.io").unwrap().username, "d");
        assert!(files.remove("localhost:5000").unwrap());
        assert!(!files.remove("localhost:5000").unwrap());
        assert!(files.lookup("localhost:5000").is_none());
        assert!(!format!("{cred:?}").contains("p:w"), "passwords are never printed");
    }
}
