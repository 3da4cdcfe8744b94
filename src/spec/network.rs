//! The networking flags of `run` and `create`, parsed and checked:
//! `--network`, `-p/--publish`, `--expose`, `--add-host`, `--dns*`, `--ip`,
//! `--mac-address`, `--network-alias`. Pure functions; the `network` module
//! applies what they describe when the container starts.

use super::SpecError;
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

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

/// Parses one `-p/--publish` value, Docker's syntax:
/// `[IP:][HOSTPORT[-END]:]CONTAINERPORT[-END][/tcp|udp|sctp]` (`IP::PORT`:
/// any host port on that address; an IPv6 address in brackets). A container
/// range without host ports becomes one mapping per port, each given any free host port.
pub fn parse_publish(spec: &str) -> Result<Vec<PortRequest>, SpecError> {
    let (rest, protocol) = match spec.rsplit_once('/') {
        Some((r, p)) => (r, p.to_ascii_lowercase()),
        None => (spec, "tcp".to_string()),
    };
    if !matches!(protocol.as_str(), "tcp" | "udp" | "sctp") {
        return Err(bad_publish(spec, format!("invalid protocol {protocol:?}: expected tcp, udp or sctp")));
    }
    // the address: bracketed IPv6, or what comes before the last two colons
    let (ip, ports) = if let Some(after) = rest.strip_prefix('[') {
        let (ip, tail) =
            after.split_once(']').ok_or_else(|| bad_publish(spec, "an unclosed '[' around the address"))?;
        let tail = tail.strip_prefix(':').ok_or_else(|| bad_publish(spec, "expected ':' after the address"))?;
        (ip.to_string(), tail.to_string())
    } else {
        let parts: Vec<&str> = rest.split(':').collect();
        match parts.len() {
            1 | 2 => (String::new(), rest.to_string()),
            3 => (parts[0].to_string(), format!("{}:{}", parts[1], parts[2])),
            _ => return Err(bad_publish(spec, "expected [IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL]")),
        }
    };
    if !ip.is_empty() && ip.parse::<IpAddr>().is_err() {
        return Err(bad_publish(spec, format!("invalid IP address {ip:?}")));
    }
    let host_ip = match ip.as_str() {
        "0.0.0.0" => String::new(),
        _ => ip,
    };
    let (host, container) = match ports.split_once(':') {
        Some((h, c)) => (h, c),
        None => ("", ports.as_str()),
    };
    if container.is_empty() {
        return Err(bad_publish(spec, "no container port"));
    }
    let (cport, crange) = port_span(spec, "container", container)?;
    if host.is_empty() {
        // any free host port for each container port
        return Ok((0..crange)
            .map(|i| PortRequest {
                host_ip: host_ip.clone(),
                host_port: 0,
                host_port_end: 0,
                container_port: cport + i,
                range: 1,
                protocol: protocol.clone(),
            })
            .collect());
    }
    let (hport, hrange) = port_span(spec, "host", host)?;
    if crange > 1 && hrange != crange {
        return Err(bad_publish(
            spec,
            format!("invalid ranges: {hrange} host ports for {crange} container ports (they must be as many)"),
        ));
    }
    let (range, end) = if crange == 1 { (1, hport + (hrange - 1)) } else { (crange, hport) };
    if u32::from(cport) + u32::from(range) - 1 > 65535 || u32::from(hport) + u32::from(range) - 1 > 65535 {
        return Err(bad_publish(spec, "the range goes past port 65535"));
    }
    Ok(vec![PortRequest { host_ip, host_port: hport, host_port_end: end, container_port: cport, range, protocol }])
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

    fn one(spec: &str) -> PortRequest {
        let v = parse_publish(spec).unwrap();
        assert_eq!(v.len(), 1, "{spec}");
        v.into_iter().next().unwrap()
    }

    #[test]
    fn publish_forms_read_as_docker_reads_them() {
        let p = one("127.0.0.1:8080:80");
        assert_eq!((p.host_ip.as_str(), p.host_port, p.container_port, p.range), ("127.0.0.1", 8080, 80, 1));
        assert_eq!(p.protocol, "tcp");
        let p = one("8080:80/udp");
        assert_eq!((p.host_ip.as_str(), p.host_port, p.protocol.as_str()), ("", 8080, "udp"));
        let p = one("80");
        assert_eq!((p.host_port, p.container_port), (0, 80), "a random host port");
        let p = one("127.0.0.1::80");
        assert_eq!((p.host_ip.as_str(), p.host_port), ("127.0.0.1", 0));
        let p = one("0.0.0.0:80:80");
        assert_eq!(p.host_ip, "", "0.0.0.0 is every address");
        let p = one("[::1]:8080:80");
        assert_eq!(p.host_ip, "::1");
        let p = one("8000-8001:80-81");
        assert_eq!((p.host_port, p.container_port, p.range), (8000, 80, 2));
        let p = one("8000-8010:80");
        assert_eq!((p.host_port, p.host_port_end, p.range), (8000, 8010, 1), "one free port of the range");
        let v = parse_publish("80-82").unwrap();
        assert_eq!(v.iter().map(|p| p.container_port).collect::<Vec<_>>(), [80, 81, 82]);
        assert_eq!(one("127.0.0.1:8080:80").display(), "127.0.0.1:8080:80/tcp");
        assert_eq!(one("8000-8001:80-81/udp").display(), ":8000-8001:80-81/udp");
    }

    #[test]
    fn malformed_publish_is_refused_by_name() {
        for (spec, says) in [
            ("99999:1", "invalid host port \"99999\""),
            ("a:b", "invalid container port \"b\""),
            ("1-3:1-2", "invalid ranges"),
            ("80/xyz", "protocol"),
            ("1.2.3:80:80", "invalid IP address"),
            ("8080:", "no container port"),
            ("0:80", "invalid host port \"0\""),
            ("5-2:80", "below the start"),
            ("a:b:c:d", "expected [IP:]"),
            ("65535-65535:65535", ""),
        ] {
            match parse_publish(spec) {
                Err(e) => assert!(e.to_string().contains(says), "{spec}: {e}"),
                Ok(v) => assert!(says.is_empty(), "{spec} was accepted: {v:?}"),
            }
        }
        let e = parse_publish("99999:1").unwrap_err().to_string();
        assert!(e.starts_with("invalid -p \"99999:1\""), "{e}");
    }

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
