//! The host's network configuration: `$RRUN_NETWORK_CONF`, else
//! `/etc/rrun/network.conf` (TOML; every key optional):
//!
//! ```toml
//! default_network = "bridge"        # --network when none is given: bridge, host or none
//! default_subnet = "10.87.0.0/16"   # the default bridge network's subnet
//! default_interface = "rrun0"       # and its bridge interface on the host
//! subnet_pool = "10.86.0.0/16"      # `network create` takes /24s from here
//! netavark = "/usr/lib/podman/netavark"
//! aardvark_dns = "/usr/lib/podman/aardvark-dns"
//! ```
//! The defaults stay clear of Docker's (172.17.0.0/16) and Podman's
//! (10.88.0.0/16, 10.89.x.0/24) subnets; a subnet that overlaps one of the
//! host's routes is refused when it would be set up.

use super::ipv4::Ipv4Net;
use super::NetworkError;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HostConfig {
    pub default_network: String,
    pub default_subnet: Ipv4Net,
    pub default_interface: String,
    pub subnet_pool: Ipv4Net,
    pub netavark: Option<PathBuf>,
    pub aardvark_dns: Option<PathBuf>,
}

impl Default for HostConfig {
    fn default() -> Self {
        HostConfig {
            default_network: "bridge".into(),
            default_subnet: "10.87.0.0/16".parse().expect("a valid subnet"),
            default_interface: "rrun0".into(),
            subnet_pool: "10.86.0.0/16".parse().expect("a valid subnet"),
            netavark: None,
            aardvark_dns: None,
        }
    }
}

/// Where netavark and aardvark-dns are installed (Debian's and Fedora's places).
const LIBEXEC: [&str; 4] =
    ["/usr/libexec/podman", "/usr/lib/podman", "/usr/local/libexec/podman", "/usr/local/lib/podman"];

impl HostConfig {
    /// The configuration file in use: `$RRUN_NETWORK_CONF`, else `/etc/rrun/network.conf`.
    pub fn path() -> PathBuf {
        std::env::var_os("RRUN_NETWORK_CONF")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/etc/rrun/network.conf"))
    }

    /// Reads the configuration; a missing file gives the defaults.
    pub fn load() -> Result<HostConfig, NetworkError> {
        let path = Self::path();
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::parse(&text, &path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(HostConfig::default()),
            Err(e) => Err(NetworkError::Config { path, reason: e.to_string() }),
        }
    }

    pub fn parse(text: &str, path: &Path) -> Result<HostConfig, NetworkError> {
        let bad = |reason: String| NetworkError::Config { path: path.to_path_buf(), reason };
        let c: HostConfig = toml::from_str(text).map_err(|e| bad(e.to_string().trim().replace('\n', " ")))?;
        if !matches!(c.default_network.as_str(), "bridge" | "host" | "none") {
            return Err(bad(format!("default_network {:?}: expected bridge, host or none", c.default_network)));
        }
        if !valid_interface(&c.default_interface) {
            return Err(bad(format!(
                "default_interface {:?}: at most 15 letters, digits, '-' or '_'",
                c.default_interface
            )));
        }
        if c.default_subnet.prefix() > 30 || c.subnet_pool.prefix() > 24 {
            return Err(bad("default_subnet must be /30 or larger, subnet_pool /24 or larger".into()));
        }
        Ok(c)
    }

    fn find(configured: &Option<PathBuf>, name: &str) -> Result<PathBuf, NetworkError> {
        if let Some(p) = configured {
            return if p.is_file() { Ok(p.clone()) } else { Err(NetworkError::Missing(p.display().to_string())) };
        }
        LIBEXEC
            .iter()
            .map(|d| Path::new(d).join(name))
            .chain(["/usr/local/bin", "/usr/bin"].iter().map(|d| Path::new(d).join(name)))
            .find(|p| p.is_file())
            .ok_or_else(|| NetworkError::Missing(name.to_string()))
    }

    /// The netavark binary.
    pub fn netavark(&self) -> Result<PathBuf, NetworkError> {
        Self::find(&self.netavark, "netavark")
    }

    /// The aardvark-dns binary.
    pub fn aardvark_dns(&self) -> Result<PathBuf, NetworkError> {
        Self::find(&self.aardvark_dns, "aardvark-dns")
    }
}

/// A host interface name: at most 15 bytes (IFNAMSIZ less the NUL).
pub fn valid_interface(name: &str) -> bool {
    !name.is_empty() && name.len() <= 15 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        let p = Path::new("/etc/rrun/network.conf");
        assert_eq!(HostConfig::parse("", p).unwrap(), HostConfig::default());
        let c = HostConfig::parse("default_network = \"none\"\ndefault_subnet = \"10.99.0.0/24\"\n", p).unwrap();
        assert_eq!((c.default_network.as_str(), c.default_subnet.to_string()), ("none", "10.99.0.0/24".into()));
        for (text, says) in [
            ("default_network = \"nat\"", "default_network"),
            ("default_subnet = \"10.99.0.1/24\"", "host bits"),
            ("default_interface = \"a-very-long-bridge-name\"", "default_interface"),
            ("colour = \"blue\"", "unknown field"),
        ] {
            let e = HostConfig::parse(text, p).unwrap_err().to_string();
            assert!(e.contains(says) && e.contains("/etc/rrun/network.conf"), "{text}: {e}");
        }
    }
}
