//! Host ports of published container ports. netavark's rules send what
//! arrives at a host port to the container; rrun holds the port itself — a
//! socket bound to it, in the process that watches the container — so that
//! no other program or container takes it meanwhile, and a port in use is
//! refused before anything is set up. A port asked as 0 is the one the
//! kernel gives that socket (any free port, as Docker picks one).

use super::NetworkError;
use crate::container::PortMapping;
use crate::spec::PortRequest;
use nix::sys::socket::{bind, getsockname, socket, AddressFamily, SockFlag, SockType, SockaddrIn, SockaddrIn6};
use std::net::{IpAddr, Ipv4Addr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, OwnedFd};

/// Sockets bound to published host ports: the ports stay this process's
/// until it drops them (or exits).
#[derive(Debug, Default)]
pub struct Reservation {
    sockets: Vec<OwnedFd>,
}

/// A mapping as netavark takes it (one entry for a range of ports).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Forward {
    pub host_ip: String,
    pub host_port: u16,
    pub container_port: u16,
    pub range: u16,
    pub protocol: String,
}

fn in_use(ip: &str, port: u16, proto: &str, e: nix::errno::Errno) -> NetworkError {
    let shown = if ip.is_empty() { "0.0.0.0" } else { ip };
    let address =
        if shown.contains(':') { format!("[{shown}]:{port}/{proto}") } else { format!("{shown}:{port}/{proto}") };
    let reason = match e {
        nix::errno::Errno::EADDRINUSE => {
            "already in use (by another program, or another container's published port)".into()
        }
        nix::errno::Errno::EADDRNOTAVAIL => "the host has no such address".into(),
        nix::errno::Errno::EACCES => "permission denied".into(),
        other => other.desc().to_string(),
    };
    NetworkError::Port { address, reason }
}

/// Binds one socket to `ip:port` (`port` 0: any free one); returns it with its port.
fn bind_port(ip: &str, port: u16, proto: &str) -> Result<(OwnedFd, u16), NetworkError> {
    let typ = match proto {
        "udp" => SockType::Datagram,
        _ => SockType::Stream,
    };
    let addr: IpAddr = if ip.is_empty() {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    } else {
        ip.parse().map_err(|_| NetworkError::Port { address: ip.to_string(), reason: "not an IP address".into() })?
    };
    let family = if addr.is_ipv4() { AddressFamily::Inet } else { AddressFamily::Inet6 };
    let fd = socket(family, typ, SockFlag::SOCK_CLOEXEC, None).map_err(|e| in_use(ip, port, proto, e))?;
    let bound = match addr {
        IpAddr::V4(a) => bind(fd.as_raw_fd(), &SockaddrIn::from(SocketAddrV4::new(a, port))),
        IpAddr::V6(a) => bind(fd.as_raw_fd(), &SockaddrIn6::from(SocketAddrV6::new(a, port, 0, 0))),
    };
    bound.map_err(|e| in_use(ip, port, proto, e))?;
    let got = match addr {
        IpAddr::V4(_) => getsockname::<SockaddrIn>(fd.as_raw_fd()).map(|a| a.port()),
        IpAddr::V6(_) => getsockname::<SockaddrIn6>(fd.as_raw_fd()).map(|a| a.port()),
    }
    .map_err(|e| in_use(ip, port, proto, e))?;
    Ok((fd, got))
}

/// Reserves the host ports of `requests`: fixed ones as given, ranges of
/// choices at their first free port, 0 at any free port. Returns the
/// reservation, the mappings for netavark and, one per port, for the record.
pub fn reserve(requests: &[PortRequest]) -> Result<(Reservation, Vec<Forward>, Vec<PortMapping>), NetworkError> {
    let mut r = Reservation::default();
    let mut forwards = Vec::new();
    let mut mappings = Vec::new();
    for q in requests {
        let proto = q.protocol.as_str();
        if proto == "sctp" && q.host_port == 0 {
            return Err(NetworkError::Port {
                address: q.display(),
                reason: "an sctp port needs a host port of its own (rrun cannot pick one)".into(),
            });
        }
        let first = if q.host_port == 0 {
            let (fd, port) = bind_port(&q.host_ip, 0, proto)?;
            r.sockets.push(fd);
            port
        } else if q.host_port_end > q.host_port {
            // `-p 8000-8010:80`: the first free port of the range
            let mut last_err = None;
            let mut found = None;
            for p in q.host_port..=q.host_port_end {
                match bind_port(&q.host_ip, p, proto) {
                    Ok((fd, port)) => {
                        r.sockets.push(fd);
                        found = Some(port);
                        break;
                    }
                    Err(e) => last_err = Some(e),
                }
            }
            match found {
                Some(p) => p,
                None => return Err(last_err.expect("a range has a port")),
            }
        } else {
            for p in q.host_port..=q.host_port + (q.range - 1) {
                if proto != "sctp" {
                    r.sockets.push(bind_port(&q.host_ip, p, proto)?.0);
                }
            }
            q.host_port
        };
        record(q, first, &mut forwards, &mut mappings);
    }
    Ok((r, forwards, mappings))
}

/// Fails when a fixed host port of `requests` is in use now (nothing is kept).
pub fn check_free(requests: &[PortRequest]) -> Result<(), NetworkError> {
    let fixed: Vec<PortRequest> = requests.iter().filter(|q| q.host_port != 0).cloned().collect();
    reserve(&fixed).map(|_| ())
}

/// Records request `q`, published from host port `first` on: the forward
/// (for netavark or pasta) and the mappings `port` and `inspect` show.
pub(super) fn record(q: &PortRequest, first: u16, forwards: &mut Vec<Forward>, mappings: &mut Vec<PortMapping>) {
    forwards.push(Forward {
        host_ip: q.host_ip.clone(),
        host_port: first,
        container_port: q.container_port,
        range: q.range,
        protocol: q.protocol.clone(),
    });
    for i in 0..q.range {
        mappings.push(PortMapping {
            container_port: q.container_port + i,
            protocol: q.protocol.clone(),
            host_ip: if q.host_ip.is_empty() { "0.0.0.0".into() } else { q.host_ip.clone() },
            host_port: first + i,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `-p 127.0.0.1:HOST:80[/udp]` (HOST 0: any free port).
    fn req(host: u16, protocol: &str) -> Vec<PortRequest> {
        span(host, host, 80, 1, protocol)
    }

    /// `-p 127.0.0.1:HOST[-END]:CONTAINER[-…]`: `range` ports in a row, or one of the host ports up to `end`.
    fn span(host: u16, end: u16, container: u16, range: u16, protocol: &str) -> Vec<PortRequest> {
        let (host_ip, protocol) = ("127.0.0.1".into(), protocol.into());
        vec![PortRequest { host_ip, host_port: host, host_port_end: end, container_port: container, range, protocol }]
    }

    #[test]
    fn ports_are_held_and_in_use_ones_refused() {
        let (held, fwd, maps) = reserve(&req(0, "tcp")).unwrap();
        let port = fwd[0].host_port;
        assert!(port > 0 && maps[0].host_port == port && maps[0].host_ip == "127.0.0.1");
        // while held, the same port is refused, by name
        let e = reserve(&req(port, "tcp")).unwrap_err().to_string();
        assert!(e.contains(&format!("127.0.0.1:{port}/tcp")) && e.contains("already in use"), "{e}");
        assert!(check_free(&req(port, "tcp")).is_err());
        // the same number over udp is another port
        assert!(reserve(&req(port, "udp")).is_ok());
        drop(held);
        let (_again, fwd, _) = reserve(&req(port, "tcp")).unwrap();
        assert_eq!(fwd[0].host_port, port, "free again once dropped");
    }

    #[test]
    fn ranges() {
        let (_a, fwd, _) = reserve(&req(0, "tcp")).unwrap();
        let p = fwd[0].host_port;
        if p >= 65000 {
            return;
        }
        // a range of choices skips the port in use
        let (_b, fwd2, maps) = reserve(&span(p, p + 5, 8080, 1, "tcp")).unwrap();
        assert!(fwd2[0].host_port > p && fwd2[0].host_port <= p + 5);
        assert_eq!((maps.len(), maps[0].container_port), (1, 8080));
        // a mapped range holds every port of it
        let (_c, fwd3, maps3) = reserve(&span(p + 20, p + 20, 90, 2, "tcp")).unwrap();
        assert_eq!((fwd3[0].range, maps3.len(), maps3[1].host_port, maps3[1].container_port), (2, 2, p + 21, 91));
        assert!(check_free(&span(p + 21, p + 21, 1, 1, "tcp")).is_err());
    }
}
