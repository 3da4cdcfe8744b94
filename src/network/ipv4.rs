//! IPv4 subnets (`10.87.0.0/16`): parsing, membership, overlap, and the
//! host's routes (`/proc/net/route`), which a new subnet must not overlap.

use std::net::Ipv4Addr;

/// An IPv4 subnet: its network address and prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ipv4Net {
    addr: Ipv4Addr,
    prefix: u8,
}

impl Ipv4Net {
    /// `addr/prefix`; refused when `addr` has host bits set (`10.0.0.1/24`).
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Result<Ipv4Net, String> {
        if prefix > 32 {
            return Err(format!("prefix /{prefix} is over 32"));
        }
        let net = Ipv4Net { addr, prefix };
        if net.network() != addr {
            return Err(format!("{addr}/{prefix} has host bits set: the subnet is {}/{prefix}", net.network()));
        }
        Ok(net)
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    fn mask(&self) -> u32 {
        if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(self.prefix))
        }
    }

    /// The network address (all host bits 0).
    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) & self.mask())
    }

    /// The broadcast address (all host bits 1).
    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) | !self.mask())
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == u32::from(self.network())
    }

    pub fn overlaps(&self, other: &Ipv4Net) -> bool {
        self.contains(other.network()) || other.contains(self.network())
    }

    /// The `n`th address of the subnet (0: the network address); None past its end.
    pub fn nth(&self, n: u32) -> Option<Ipv4Addr> {
        let size = 1u64 << (32 - u32::from(self.prefix));
        (u64::from(n) < size).then(|| Ipv4Addr::from(u32::from(self.network()) + n))
    }

    /// Addresses a container may have: all but the network and broadcast addresses.
    pub fn hosts(&self) -> impl Iterator<Item = Ipv4Addr> + '_ {
        let first = u32::from(self.network()) + 1;
        let last = u32::from(self.broadcast()).saturating_sub(1);
        (first..=last).map(Ipv4Addr::from)
    }

    /// The `n`th subnet of length `prefix` inside this one.
    pub fn subnet(&self, prefix: u8, n: u32) -> Option<Ipv4Net> {
        if prefix < self.prefix || prefix > 32 {
            return None;
        }
        let count = 1u64 << (prefix - self.prefix);
        if u64::from(n) >= count {
            return None;
        }
        let step = if prefix == 0 { 0 } else { 1u32 << (32 - u32::from(prefix)) };
        Some(Ipv4Net { addr: Ipv4Addr::from(u32::from(self.network()) + n * step), prefix })
    }
}

impl std::fmt::Display for Ipv4Net {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl std::str::FromStr for Ipv4Net {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (a, p) = s.split_once('/').ok_or_else(|| format!("{s:?} is not ADDRESS/PREFIX"))?;
        let addr: Ipv4Addr = a.parse().map_err(|_| format!("{a:?} is not an IPv4 address"))?;
        let prefix: u8 = p.parse().map_err(|_| format!("{p:?} is not a prefix length"))?;
        Ipv4Net::new(addr, prefix)
    }
}

impl serde::Serialize for Ipv4Net {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Ipv4Net {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// One IPv4 route of the host: where it leads, and through which interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub interface: String,
    pub destination: Ipv4Net,
}

/// The host's IPv4 routes (`/proc/net/route` of this network namespace),
/// the default route left out.
pub fn host_routes() -> Vec<Route> {
    std::fs::read_to_string("/proc/net/route").map(|t| parse_routes(&t)).unwrap_or_default()
}

/// Parses `/proc/net/route`: addresses and masks are little-endian hex.
pub fn parse_routes(text: &str) -> Vec<Route> {
    let mut out = Vec::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 8 {
            continue;
        }
        // the kernel prints the address as it lies in memory, read as a native u32
        let hex = |s: &str| u32::from_str_radix(s, 16).ok().map(|v| Ipv4Addr::from(v.to_ne_bytes()));
        let (Some(dst), Some(mask)) = (hex(f[1]), hex(f[7])) else { continue };
        let prefix = u32::from(mask).leading_ones() as u8;
        if prefix == 0 {
            continue;
        }
        if let Ok(destination) = Ipv4Net::new(Ipv4Addr::from(u32::from(dst) & u32::from(mask)), prefix) {
            out.push(Route { interface: f[0].to_string(), destination });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnets() {
        let n: Ipv4Net = "10.87.0.0/16".parse().unwrap();
        assert!(n.contains("10.87.255.1".parse().unwrap()) && !n.contains("10.88.0.1".parse().unwrap()));
        assert_eq!(n.nth(1), Some("10.87.0.1".parse().unwrap()));
        assert_eq!(n.broadcast(), "10.87.255.255".parse::<Ipv4Addr>().unwrap());
        assert_eq!(n.subnet(24, 3).unwrap().to_string(), "10.87.3.0/24");
        assert_eq!(n.subnet(24, 256), None);
        assert!(n.overlaps(&"10.87.3.0/24".parse().unwrap()));
        assert!(!n.overlaps(&"10.86.0.0/16".parse().unwrap()));
        assert!("10.87.0.1/16".parse::<Ipv4Net>().unwrap_err().contains("host bits"));
        assert!("10.87.0.0".parse::<Ipv4Net>().is_err());
        let small: Ipv4Net = "10.0.0.0/30".parse().unwrap();
        assert_eq!(small.hosts().map(|a| a.to_string()).collect::<Vec<_>>(), ["10.0.0.1", "10.0.0.2"]);
    }

    #[test]
    #[cfg(target_endian = "little")]
    fn proc_net_route() {
        let text = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
                    eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
                    eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n\
                    rrun0\t0000570A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n";
        let r = parse_routes(text);
        assert_eq!(r.len(), 2, "the default route is left out");
        assert_eq!((r[0].interface.as_str(), r[0].destination.to_string()), ("eth0", "192.0.2.0/24".into()));
        assert_eq!(r[1].destination.to_string(), "10.87.0.0/16");
    }
}
