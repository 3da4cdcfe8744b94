//! Registry configuration, in the spirit of containers-registries.conf(5):
//!
//! ```toml
//! unqualified-search-registries = ["docker.io"]
//!
//! [[registry]]
//! prefix = "docker.io"            # which references this entry applies to
//! location = "docker.io"          # where they really live (a rewrite)
//! insecure = false                # plain HTTP / unverified TLS allowed
//!
//! [[registry.mirror]]             # tried first, in order
//! location = "localhost:5000"
//! insecure = true
//! ```
//! Read from `--registries-conf`, `$RRUN_REGISTRIES_CONF`, `/etc/rrun/registries.conf`,
//! or `/etc/containers/registries.conf`, the first that exists.

use super::RegistryError;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// `registries.conf` (containers-registries.conf(5)): search registries,
/// mirrors and insecure registries.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct RegistriesConf {
    /// `unqualified-search-registries`: where a short name (no registry) is looked up.
    #[serde(default)]
    pub unqualified_search_registries: Vec<String>,
    /// `[[registry]]` tables: per-registry location, mirrors, insecure.
    #[serde(default, rename = "registry")]
    pub registries: Vec<RegistryEntry>,
}

/// One `[[registry]]` table.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RegistryEntry {
    /// `prefix`: the references it applies to (`docker.io`, `example.com/team`); the
    /// longest match wins. Unset: `location`.
    #[serde(default)]
    pub prefix: Option<String>,
    /// `location`: where the matching repositories really are (`host[/path]`, the prefix
    /// replaced by it). Unset: `prefix`.
    #[serde(default)]
    pub location: Option<String>,
    /// `insecure`: plain HTTP or unverified TLS allowed for `location`.
    #[serde(default)]
    pub insecure: bool,
    /// `[[registry.mirror]]` tables: tried before `location`, in order.
    #[serde(default)]
    pub mirror: Vec<Mirror>,
}

/// One `[[registry.mirror]]` table.
#[derive(Debug, Clone, Deserialize)]
pub struct Mirror {
    /// `location`: the mirror's `host[/path]`.
    pub location: String,
    /// `insecure`: plain HTTP or unverified TLS allowed for this mirror.
    #[serde(default)]
    pub insecure: bool,
}

/// Where to fetch a repository from: a host and the repository path there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The registry host, with its port if any (`localhost:5000`).
    pub host: String,
    /// The repository path on that host (`library/alpine`).
    pub repository: String,
    /// Plain HTTP or unverified TLS allowed (the entry's or mirror's `insecure`).
    pub insecure: bool,
    /// It is a mirror, not the entry's `location`.
    pub mirror: bool,
}

impl RegistriesConf {
    /// The files read by default, in order: `$RRUN_REGISTRIES_CONF`,
    /// `/etc/rrun/registries.conf`, `/etc/containers/registries.conf`.
    pub fn default_paths() -> Vec<PathBuf> {
        let mut v = Vec::new();
        if let Some(p) = std::env::var_os("RRUN_REGISTRIES_CONF") {
            v.push(PathBuf::from(p));
        }
        v.push("/etc/rrun/registries.conf".into());
        v.push("/etc/containers/registries.conf".into());
        v
    }

    /// Loads `path`, or the first default file that exists, or nothing.
    pub fn load(path: Option<&Path>) -> Result<RegistriesConf, RegistryError> {
        let candidates = match path {
            Some(p) => vec![p.to_path_buf()],
            None => Self::default_paths(),
        };
        for p in candidates {
            match std::fs::read_to_string(&p) {
                Ok(text) => return Self::parse(&text).map_err(|reason| RegistryError::Config { path: p, reason }),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && path.is_none() => continue,
                Err(e) => return Err(RegistryError::Config { path: p, reason: e.to_string() }),
            }
        }
        Ok(RegistriesConf::default())
    }

    /// Parses a `registries.conf` (TOML); the error is the parser's message.
    pub fn parse(text: &str) -> Result<RegistriesConf, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// The entry whose prefix matches `host/repository` best.
    fn entry_for(&self, host: &str, repository: &str) -> Option<&RegistryEntry> {
        let full = format!("{host}/{repository}");
        self.registries
            .iter()
            .filter_map(|e| {
                let prefix = e.prefix.as_deref().or(e.location.as_deref())?;
                let hit = full == prefix
                    || full.starts_with(&format!("{prefix}/"))
                    || full.starts_with(&format!("{prefix}:"))
                    || host == prefix;
                hit.then_some((prefix.len(), e))
            })
            .max_by_key(|(n, _)| *n)
            .map(|(_, e)| e)
    }

    /// Endpoints to try for `host/repository`, mirrors first.
    pub fn endpoints(&self, host: &str, repository: &str) -> Vec<Endpoint> {
        let Some(entry) = self.entry_for(host, repository) else {
            return vec![Endpoint { host: host.into(), repository: repository.into(), insecure: false, mirror: false }];
        };
        let full = format!("{host}/{repository}");
        let prefix = entry.prefix.as_deref().or(entry.location.as_deref()).unwrap_or(host);
        // the part of the name below the prefix, re-rooted at each location
        let rest = full.strip_prefix(prefix).unwrap_or(&full).trim_start_matches('/');
        let at = |location: &str, insecure: bool, mirror: bool| {
            let (h, path) = location.split_once('/').unwrap_or((location, ""));
            let repo = if path.is_empty() {
                if prefix == host {
                    repository.to_string()
                } else {
                    rest.to_string()
                }
            } else if prefix == host {
                format!("{path}/{repository}")
            } else {
                format!("{path}/{rest}")
            };
            Endpoint { host: h.to_string(), repository: repo, insecure, mirror }
        };
        let mut v: Vec<Endpoint> = entry.mirror.iter().map(|m| at(&m.location, m.insecure, true)).collect();
        let location = entry.location.as_deref().unwrap_or(prefix);
        v.push(at(location, entry.insecure, false));
        v
    }

    /// True when the configuration allows plain HTTP or unverified TLS for `host`.
    pub fn insecure(&self, host: &str) -> bool {
        self.registries.iter().any(|e| {
            e.insecure
                && e.location.as_deref().or(e.prefix.as_deref()).is_some_and(|l| l.split('/').next() == Some(host))
        }) || self
            .registries
            .iter()
            .flat_map(|e| &e.mirror)
            .any(|m| m.insecure && m.location.split('/').next() == Some(host))
    }
}

/// Hosts that may always be spoken to over plain HTTP: localhost and 127.0.0.0/8.
pub fn is_local(host: &str) -> bool {
    let name = host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host);
    let name = name.trim_start_matches('[').trim_end_matches(']');
    name == "localhost" || name == "::1" || name.parse::<std::net::Ipv4Addr>().is_ok_and(|a| a.octets()[0] == 127)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONF: &str = r#"
unqualified-search-registries = ["docker.io", "quay.io"]

[[registry]]
prefix = "docker.io"
location = "docker.io"

[[registry.mirror]]
location = "localhost:5000"
insecure = true

[[registry]]
prefix = "example.com/team"
location = "registry.internal:443/mirror/team"
insecure = true
"#;

    #[test]
    fn mirrors_come_first_and_locations_rewrite() {
        let c = RegistriesConf::parse(CONF).unwrap();
        assert_eq!(c.unqualified_search_registries, ["docker.io", "quay.io"]);
        let e = c.endpoints("docker.io", "library/alpine");
        assert_eq!(e.len(), 2);
        assert_eq!(
            (e[0].host.as_str(), e[0].repository.as_str(), e[0].insecure, e[0].mirror),
            ("localhost:5000", "library/alpine", true, true)
        );
        assert_eq!((e[1].host.as_str(), e[1].repository.as_str(), e[1].mirror), ("docker.io", "library/alpine", false));
        let e = c.endpoints("example.com", "team/tool");
        assert_eq!((e[0].host.as_str(), e[0].repository.as_str()), ("registry.internal:443", "mirror/team/tool"));
        let e = c.endpoints("quay.io", "x/y");
        assert_eq!(
            e,
            vec![Endpoint { host: "quay.io".into(), repository: "x/y".into(), insecure: false, mirror: false }]
        );
        assert!(c.insecure("localhost:5000"));
        assert!(!c.insecure("docker.io"));
    }

    #[test]
    fn local_hosts() {
        assert!(is_local("localhost:5000"));
        assert!(is_local("127.0.0.1:5000"));
        assert!(is_local("127.1.2.3"));
        assert!(!is_local("10.0.0.1:5000"));
        assert!(!is_local("quay.io"));
    }

    #[test]
    fn bad_config_is_an_error() {
        assert!(RegistriesConf::parse("[[registry]]\nprefix = 3").is_err());
    }
}
