//! The networking flags of `run` and `create`, parsed and checked:
//! `--network`, `-p/--publish`, `--expose`, `--add-host`, `--dns*`, `--ip`,
//! `--mac-address`, `--network-alias`. Pure functions; the `network` module
//! applies what they describe when the container starts.

use super::SpecError;
use serde::{Deserialize, Serialize};

/// `--network`: how the container is networked.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NetworkMode {
    /// A namespace of its own on a bridge network: `bridge` (the default
    /// network) or one made with `rrun network create`.
    Bridge(String),
    /// The host's network namespace.
    Host,
    /// A new namespace with only `lo`.
    None,
    /// Another container's network namespace (`container:NAME|ID`).
    Container(String),
    /// A namespace of its own connected by pasta (the `passt` package), an
    /// ordinary user's network: outbound traffic through the host's sockets,
    /// published ports forwarded by pasta.
    Pasta,
}

/// The name of the default bridge network (Docker's).
pub const DEFAULT_NETWORK: &str = "bridge";

impl Default for NetworkMode {
    fn default() -> Self {
        NetworkMode::Bridge(DEFAULT_NETWORK.into())
    }
}

impl NetworkMode {
    /// The container has a network namespace of its own (new, or made for it).
    pub fn is_own(&self) -> bool {
        matches!(self, NetworkMode::Bridge(_) | NetworkMode::None | NetworkMode::Pasta)
    }
}

impl std::fmt::Display for NetworkMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NetworkMode::Bridge(n) => f.write_str(n),
            NetworkMode::Host => f.write_str("host"),
            NetworkMode::None => f.write_str("none"),
            NetworkMode::Container(c) => write!(f, "container:{c}"),
            NetworkMode::Pasta => f.write_str("pasta"),
        }
    }
}

impl std::str::FromStr for NetworkMode {
    type Err = SpecError;
    fn from_str(s: &str) -> Result<Self, SpecError> {
        match s {
            "host" => Ok(NetworkMode::Host),
            "none" => Ok(NetworkMode::None),
            "pasta" => Ok(NetworkMode::Pasta),
            "default" => Ok(NetworkMode::default()),
            _ => match s.strip_prefix("container:") {
                Some(c) if !c.is_empty() => Ok(NetworkMode::Container(c.to_string())),
                Some(_) => Err(SpecError::Network(s.to_string())),
                None if valid_network_name(s) => Ok(NetworkMode::Bridge(s.to_string())),
                None => Err(SpecError::Network(s.to_string())),
            },
        }
    }
}

/// A network name, as Docker allows them: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`, at most 128 characters.
pub fn valid_network_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && b[0].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

/// One `-p` mapping, as asked: host address and port(s), container port(s), protocol.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortRequest {
    /// The host address to listen on; empty: every address (`0.0.0.0`).
    pub host_ip: String,
    /// The first host port; 0: any free port, chosen at start.
    pub host_port: u16,
    /// With one container port, the last host port it may take (`-p 8000-8010:80`:
    /// the first free one of the range); else `host_port`.
    pub host_port_end: u16,
    /// The (first) container port.
    pub container_port: u16,
    /// How many ports in a row are mapped (`-p 8000-8001:80-81`: 2).
    pub range: u16,
    /// `tcp`, `udp` or `sctp`.
    pub protocol: String,
}

impl PortRequest {
    /// As `-p` is written: `127.0.0.1:8080:80/tcp`.
    pub fn display(&self) -> String {
        let span = |a: u16, n: u16| if n > 1 { format!("{a}-{}", a + (n - 1)) } else { a.to_string() };
        let host = match (self.host_port, self.host_port_end) {
            (0, _) => String::new(),
            (a, b) if b > a && self.range == 1 => format!("{a}-{b}"),
            (a, _) => span(a, self.range),
        };
        let ip = if self.host_ip.contains(':') { format!("[{}]", self.host_ip) } else { self.host_ip.clone() };
        format!("{ip}:{host}:{}/{}", span(self.container_port, self.range), self.protocol)
    }
}

fn bad_publish(spec: &str, reason: impl Into<String>) -> SpecError {
    SpecError::Invalid { flag: "-p".into(), value: spec.to_string(), reason: reason.into() }
}

/// `N` or `N-M`: the first port and how many.
fn port_span(spec: &str, what: &str, text: &str) -> Result<(u16, u16), SpecError> {
    let port = |p: &str| -> Result<u16, SpecError> {
        match p.parse::<u32>() {
            Ok(n) if (1..=65535).contains(&n) => Ok(n as u16),
            _ => Err(bad_publish(spec, format!("invalid {what} port {p:?}: expected a number from 1 to 65535"))),
        }
    };
    match text.split_once('-') {
        None => Ok((port(text)?, 1)),
        Some((a, b)) => {
            let (a, b) = (port(a)?, port(b)?);
            if b < a {
                return Err(bad_publish(
                    spec,
                    format!("invalid {what} port range {text:?}: the end is below the start"),
                ));
            }
            Ok((a, b - a + 1))
        }
    }
}

/// An image's `ExposedPorts` key or an `--expose` value: `80`, `80/udp`, `8000-8002/tcp`.
pub fn parse_exposed(spec: &str) -> Result<Vec<(u16, String)>, SpecError> {
    let (ports, protocol) = match spec.rsplit_once('/') {
        Some((p, proto)) => (p, proto.to_ascii_lowercase()),
        None => (spec, "tcp".to_string()),
    };
    let bad = |reason: String| SpecError::Invalid { flag: "--expose".into(), value: spec.to_string(), reason };
    if !matches!(protocol.as_str(), "tcp" | "udp" | "sctp") {
        return Err(bad(format!("invalid protocol {protocol:?}: expected tcp, udp or sctp")));
    }
    let (first, count) = port_span(spec, "exposed", ports).map_err(|e| bad(e.to_string()))?;
    Ok((0..count).map(|i| (first + i, protocol.clone())).collect())
}

/// `--network-alias`: a name other containers of the network resolve.
pub fn check_alias(alias: &str) -> Result<(), SpecError> {
    let ok = !alias.is_empty()
        && alias.len() <= 253
        && alias.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        return Ok(());
    }
    Err(SpecError::Invalid {
        flag: "--network-alias".into(),
        value: alias.into(),
        reason: "expected letters, digits, '-', '_' and '.'".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_modes() {
        assert_eq!("host".parse::<NetworkMode>().unwrap(), NetworkMode::Host);
        assert_eq!("none".parse::<NetworkMode>().unwrap(), NetworkMode::None);
        assert_eq!("bridge".parse::<NetworkMode>().unwrap(), NetworkMode::default());
        assert_eq!("appnet".parse::<NetworkMode>().unwrap(), NetworkMode::Bridge("appnet".into()));
        assert_eq!("container:web".parse::<NetworkMode>().unwrap(), NetworkMode::Container("web".into()));
        assert_eq!("pasta".parse::<NetworkMode>().unwrap(), NetworkMode::Pasta);
        assert_eq!(NetworkMode::Pasta.to_string(), "pasta");
        assert!("container:".parse::<NetworkMode>().is_err());
        assert!("no such!".parse::<NetworkMode>().is_err());
        assert_eq!(NetworkMode::Container("x".into()).to_string(), "container:x");
    }

    #[test]
    fn aliases_and_exposed_ports() {
        assert!(check_alias("web.local").is_ok() && check_alias("a b").is_err());
        assert_eq!(parse_exposed("8000-8001/udp").unwrap(), [(8000, "udp".into()), (8001, "udp".into())]);
        assert!(parse_exposed("80/icmp").is_err());
    }
}
