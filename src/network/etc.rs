//! The container's `/etc/hosts` and `/etc/resolv.conf` (bound into it from
//! its directory), written for its network: Docker's content.

use std::net::IpAddr;

/// `/etc/hosts`: the loopback names, `--add-host` entries, then the
/// container's own name on its address (`127.0.1.1` without a network).
pub fn hosts(hostname: &str, own_ip: Option<IpAddr>, extra: &[(String, IpAddr)]) -> String {
    let mut s = String::from(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n\
         ff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n",
    );
    for (name, ip) in extra {
        s.push_str(&format!("{ip}\t{name}\n"));
    }
    match own_ip {
        Some(ip) => s.push_str(&format!("{ip}\t{hostname}\n")),
        None => s.push_str(&format!("127.0.1.1\t{hostname}\n")),
    }
    s
}

/// What a container's `/etc/resolv.conf` is made of.
#[derive(Debug, Clone, Default)]
pub struct Resolv<'a> {
    /// The host's `/etc/resolv.conf`.
    pub host: &'a str,
    /// The network's DNS server (aardvark-dns at the gateway), first.
    pub network_servers: &'a [IpAddr],
    /// `--dns`: these instead of the host's servers.
    pub servers: &'a [IpAddr],
    /// `--dns-search`: these instead of the host's (`.`: none).
    pub search: &'a [String],
    /// `--dns-option`: these instead of the host's.
    pub options: &'a [String],
    /// The host's network namespace: its loopback servers (a local resolver) are reachable.
    pub host_network: bool,
}

/// `/etc/resolv.conf`: nameservers (the network's, then `--dns` or the
/// host's reachable ones), search domains and options (given, else the host's).
pub fn resolv(r: &Resolv<'_>) -> String {
    let mut servers: Vec<String> = r.network_servers.iter().map(|s| s.to_string()).collect();
    let mut search: Vec<String> = Vec::new();
    let mut options: Vec<String> = Vec::new();
    for line in r.host.lines() {
        let mut w = line.split_whitespace();
        match w.next() {
            Some("nameserver") if r.servers.is_empty() => {
                if let Some(a) = w.next() {
                    // in a namespace of its own, the host's loopback resolver is out of reach
                    let loopback = a.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
                    if r.host_network || !loopback {
                        servers.push(a.to_string());
                    }
                }
            }
            Some("search") | Some("domain") if r.search.is_empty() => search.extend(w.map(String::from)),
            Some("options") if r.options.is_empty() => options.extend(w.map(String::from)),
            _ => {}
        }
    }
    servers.extend(r.servers.iter().map(|s| s.to_string()));
    if !r.search.is_empty() {
        search = r.search.iter().filter(|s| *s != ".").cloned().collect();
    }
    if !r.options.is_empty() {
        options = r.options.to_vec();
    }
    servers.dedup();
    let mut out = String::new();
    if !search.is_empty() {
        out.push_str(&format!("search {}\n", search.join(" ")));
    }
    for s in servers {
        out.push_str(&format!("nameserver {s}\n"));
    }
    if !options.is_empty() {
        out.push_str(&format!("options {}\n", options.join(" ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: &str = "# comment\nnameserver 127.0.0.53\nnameserver 10.0.0.2\nsearch lan corp\noptions edns0\n";

    #[test]
    fn hosts_as_docker_writes_it() {
        let h = hosts("abc", Some("10.87.0.2".parse().unwrap()), &[("db".into(), "10.0.0.5".parse().unwrap())]);
        assert!(h.starts_with("127.0.0.1\tlocalhost\n"));
        assert!(h.ends_with("10.0.0.5\tdb\n10.87.0.2\tabc\n"), "{h}");
        assert!(hosts("abc", None, &[]).ends_with("127.0.1.1\tabc\n"));
    }

    #[test]
    fn resolv_for_each_network() {
        // the default bridge: the host's, less its loopback resolver
        let r = resolv(&Resolv { host: HOST, ..Default::default() });
        assert_eq!(r, "search lan corp\nnameserver 10.0.0.2\noptions edns0\n");
        // a network with DNS: aardvark-dns first, the host's servers after it
        let gw: Vec<IpAddr> = vec!["10.86.0.1".parse().unwrap()];
        let r = resolv(&Resolv { host: HOST, network_servers: &gw, ..Default::default() });
        assert_eq!(r, "search lan corp\nnameserver 10.86.0.1\nnameserver 10.0.0.2\noptions edns0\n");
        // --dns, --dns-search, --dns-option replace the host's
        let dns: Vec<IpAddr> = vec!["1.1.1.1".parse().unwrap()];
        let search = vec!["example.com".to_string()];
        let opts = vec!["ndots:2".to_string()];
        let r = resolv(&Resolv { host: HOST, servers: &dns, search: &search, options: &opts, ..Default::default() });
        assert_eq!(r, "search example.com\nnameserver 1.1.1.1\noptions ndots:2\n");
        let none = vec![".".to_string()];
        assert!(!resolv(&Resolv { host: HOST, search: &none, ..Default::default() }).contains("search"));
        // the host's network keeps its local resolver
        let r = resolv(&Resolv { host: HOST, host_network: true, ..Default::default() });
        assert!(r.contains("nameserver 127.0.0.53\n"));
    }
}
