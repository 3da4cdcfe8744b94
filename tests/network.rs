//! Container networking with real traffic: published ports answered from
//! the host, names resolved between containers of a network, shared and
//! empty namespaces, and teardown that leaves nothing — after `rm -f`, after
//! the monitor is SIGKILLed, with 20 containers at once. Traffic goes only
//! to 127.0.0.1 and to containers on the bridges these tests create; every
//! wait is bounded. Each test's networks have subnets of their own
//! (10.86.2xx.0/24), so the tests can run side by side.
//!
//! netavark and aardvark-dns are installed with apt-get when missing;
//! without them (or without root) the tests say SKIP (and fail in CI).

mod common;
use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const LIBEXEC: [&str; 2] = ["/usr/libexec/podman", "/usr/lib/podman"];

fn installed(name: &str) -> bool {
    LIBEXEC.iter().any(|d| Path::new(d).join(name).is_file())
}

/// Root, netavark and aardvark-dns (installed when missing), iptables-save.
fn network_or_skip(test: &str) -> bool {
    if !root_or_skip(test) {
        return false;
    }
    static APT: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = APT.lock().unwrap_or_else(|e| e.into_inner());
    if !(installed("netavark") && installed("aardvark-dns")) && find_program("apt-get").is_some() {
        eprintln!("{test}: installing netavark aardvark-dns");
        let _ = Command::new("apt-get")
            .args(["install", "-y", "-qq", "--no-install-recommends", "netavark", "aardvark-dns", "iptables"])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .output();
    }
    if !(installed("netavark") && installed("aardvark-dns")) {
        skip(test, "netavark and aardvark-dns are not installed (apt-get install netavark aardvark-dns)");
        return false;
    }
    ensure_programs(test, &[("iptables-save", "iptables"), ("ip", "iproute2"), ("ss", "iproute2")])
}

/// A TCP port of 127.0.0.1 free now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// One HTTP GET of `/` at 127.0.0.1:port: the body, or None.
fn get(port: u16) -> Option<String> {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    out.split_once("\r\n\r\n").map(|(_, body)| body.to_string())
}

/// GETs until the body is `want` (the server may still be starting): 50 tries, 100 ms apart.
fn get_until(port: u16, want: &str) -> String {
    let mut last = None;
    for _ in 0..50 {
        last = get(port);
        if last.as_deref() == Some(want) {
            return want.to_string();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("127.0.0.1:{port} answered {last:?}, not {want:?}");
}

/// busybox httpd serving `body` on :80.
fn web(body: &str) -> String {
    format!("mkdir -p /www && echo {body} > /www/index.html && exec httpd -f -p 80 -h /www")
}

fn out_of(cmd: &str, args: &[&str]) -> String {
    let o = Command::new(find_program(cmd).unwrap_or_else(|| PathBuf::from(cmd))).args(args).output().unwrap();
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// What netavark made on the host that mentions `needles`: firewall rules,
/// interfaces, listeners, rrun's teardown files, leases and namespaces.
fn host_state(needles: &[String]) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let hit = |l: &str| needles.iter().any(|n| l.contains(n.as_str()));
    for l in out_of("iptables-save", &[]).lines().filter(|l| hit(l)) {
        lines.push(format!("iptables: {l}"));
    }
    for l in out_of("ip", &["-o", "link"]).lines().filter(|l| hit(l)) {
        lines.push(format!("link: {l}"));
    }
    for l in out_of("ss", &["-ltnu"]).lines().filter(|l| hit(l)) {
        lines.push(format!("listener: {l}"));
    }
    for dir in ["/run/rrun/.networks/containers", "/run/rrun/.networks/ipam", "/run/rrun/.netns"] {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(e.path()).unwrap_or_default();
            if hit(&name) || hit(&text) {
                lines.push(format!("{dir}/{name}"));
            }
        }
    }
    lines.sort();
    lines
}

/// `network inspect NAME`: (ID, bridge interface).
fn network_of(r: &TestRoot, name: &str) -> (String, String) {
    let v: serde_json::Value = serde_json::from_str(&r.ok(&["network", "inspect", name])).unwrap();
    (v[0]["Id"].as_str().unwrap().to_string(), v[0]["NetworkInterface"].as_str().unwrap().to_string())
}

fn inspect(r: &TestRoot, name: &str) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_str(&r.ok(&["inspect", name])).unwrap();
    v[0].clone()
}

fn err_of(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn published_ports_answer_from_the_host() {
    if !network_or_skip("published_ports_answer_from_the_host") {
        return;
    }
    let r = TestRoot::with_busybox("net-publish");
    let (p1, p2) = (free_port(), free_port());
    // two containers, each its own :80, on two host ports
    let id1 = r.ok(&[
        "run",
        "-d",
        "--name",
        "one",
        "-p",
        &format!("127.0.0.1:{p1}:80"),
        "busybox",
        "sh",
        "-c",
        &web("first"),
    ]);
    assert_eq!(id1.trim().len(), 64, "only the ID when stdout is no terminal: {id1:?}");
    r.ok(&["run", "-d", "--name", "two", "-p", &format!("127.0.0.1:{p2}:80"), "busybox", "sh", "-c", &web("second")]);
    assert_eq!(get_until(p1, "first\n"), "first\n");
    assert_eq!(get_until(p2, "second\n"), "second\n");
    assert_eq!(r.ok(&["port", "one"]), format!("80/tcp -> 127.0.0.1:{p1}\n"));
    // the port stays the container's while it runs: another one cannot take it
    let o = r.run(&["run", "-d", "-p", &format!("127.0.0.1:{p1}:80"), "busybox", "true"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(err_of(&o).contains(&format!("127.0.0.1:{p1}/tcp")) && err_of(&o).contains("in use"), "{}", err_of(&o));
    // -p 80: any free host port, which `port` reports
    r.ok(&["run", "-d", "--name", "any", "-p", "127.0.0.1::80", "busybox", "sh", "-c", &web("anyport")]);
    let mapped = r.ok(&["port", "any", "80/tcp"]);
    let port: u16 = mapped.trim().rsplit_once(':').unwrap().1.parse().unwrap();
    assert!(mapped.starts_with("127.0.0.1:") && port > 0, "{mapped}");
    assert_eq!(get_until(port, "anyport\n"), "anyport\n");
    // ps shows it, inspect says where the container is
    let ps = r.ok(&["ps", "--format", "{{.Names}} {{.Ports}}"]);
    assert!(ps.lines().any(|l| l == format!("one 127.0.0.1:{p1}->80/tcp")), "{ps}");
    let c = inspect(&r, "one");
    let ns = &c["NetworkSettings"];
    let ip = ns["IPAddress"].as_str().unwrap();
    assert!(ip.starts_with("10.87."), "the default bridge's subnet: {ns}");
    assert_eq!(ns["Gateway"], "10.87.0.1");
    assert_eq!(ns["Networks"]["bridge"]["IPAddress"], ip);
    assert_eq!(ns["MacAddress"].as_str().unwrap().len(), 17);
    assert_eq!(ns["Ports"]["80/tcp"][0]["HostPort"], p1.to_string());
    assert_eq!(c["HostConfig"]["NetworkMode"], "bridge");
    assert_eq!(c["HostConfig"]["PortBindings"]["80/tcp"][0]["HostPort"], p1.to_string());
    // in the container: its own address and name
    let hosts = r.ok(&["exec", "one", "cat", "/etc/hosts"]);
    assert!(hosts.lines().any(|l| l == format!("{ip}\t{}", &id1.trim()[..12])), "{hosts}");
    let addrs = r.ok(&["exec", "one", "ip", "addr", "show", "eth0"]);
    assert!(addrs.contains(&format!("inet {ip}/16")), "{addrs}");
    // stopped: no ports, no address; the host port is free again
    r.ok(&["stop", "-t", "0", "one"]);
    assert_eq!(r.ok(&["port", "one"]), "");
    assert_eq!(inspect(&r, "one")["NetworkSettings"]["IPAddress"], "");
    assert!(std::net::TcpListener::bind(("127.0.0.1", p1)).is_ok(), "the port is released");
    // started again, it is reachable again
    r.ok(&["start", "one"]);
    assert_eq!(get_until(p1, "first\n"), "first\n");
    for c in ["one", "two", "any"] {
        r.ok(&["rm", "-f", c]);
    }
    assert!(get(p2).is_none(), "nothing answers once removed");
}

#[test]
fn run_d_on_a_terminal_says_where_to_reach_it() {
    if !network_or_skip("run_d_on_a_terminal_says_where_to_reach_it") {
        return;
    }
    let r = TestRoot::with_busybox("net-tty");
    let p = free_port();
    let (code, out) = in_pty(
        r.cmd(&["run", "-d", "--name", "t", "-p", &format!("127.0.0.1:{p}:80"), "busybox", "sleep", "60"]),
        b"",
        "reachable",
    );
    assert_eq!(code, Some(0), "{out}");
    let lines: Vec<&str> = out.lines().map(|l| l.trim_end_matches('\r')).collect();
    assert_eq!(lines.len(), 2, "{out:?}");
    assert_eq!(lines[0].len(), 64);
    assert_eq!(lines[1], format!("reachable at 127.0.0.1:{p} \u{2192} 80/tcp"));
    r.ok(&["rm", "-f", "t"]);
}

#[test]
fn containers_of_a_network_find_each_other_by_name() {
    if !network_or_skip("containers_of_a_network_find_each_other_by_name") {
        return;
    }
    let r = TestRoot::with_busybox("net-dns");
    r.ok(&["network", "create", "--subnet", "10.86.201.0/24", "--label", "app=demo", "appnet"]);
    let ls = r.ok(&["network", "ls", "--format", "{{.Name}} {{.Driver}}"]);
    assert_eq!(ls, "bridge bridge\nhost host\nnone null\nappnet bridge\n");
    r.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "--network",
        "appnet",
        "--network-alias",
        "www",
        "busybox",
        "sh",
        "-c",
        &web("by-name"),
    ]);
    // by name and by alias, through aardvark-dns at the gateway
    let script =
        "for i in $(seq 50); do wget -qO- http://web/ 2>/dev/null && break; sleep 0.1; done; wget -qO- http://www/; \
                  head -1 /etc/resolv.conf";
    let (code, out, err) = r.sh(&["--network", "appnet"], script);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "by-name\nby-name\nnameserver 10.86.201.1\n");
    let net: serde_json::Value = serde_json::from_str(&r.ok(&["network", "inspect", "appnet"])).unwrap();
    assert_eq!(net[0]["IPAM"]["Config"][0]["Subnet"], "10.86.201.0/24");
    assert_eq!(net[0]["Labels"]["app"], "demo");
    let users = net[0]["Containers"].as_object().unwrap();
    assert_eq!(users.len(), 1);
    let web_ip = users.values().next().unwrap()["IPv4Address"].as_str().unwrap().to_string();
    assert!(web_ip.starts_with("10.86.201.") && web_ip.ends_with("/24"), "{web_ip}");
    let web_ip = web_ip.trim_end_matches("/24").to_string();

    // the default bridge has no DNS for containers (Docker's rule): its gateway answers no query
    r.ok(&["run", "-d", "--name", "plain", "busybox", "sh", "-c", &web("on-the-bridge")]);
    let plain_ip = inspect(&r, "plain")["NetworkSettings"]["IPAddress"].as_str().unwrap().to_string();
    let (code, _, err) = r.sh(&["--dns", "10.87.0.1"], "wget -qO- http://plain/");
    assert_ne!(code, 0, "resolved on the default bridge: {err}");
    assert!(err.contains("bad address 'plain'"), "{err}");
    // unless --add-host names it
    let (code, out, err) =
        r.sh(&["--dns", "10.87.0.1", "--add-host", &format!("plain:{plain_ip}")], "wget -qO- http://plain/");
    assert_eq!((code, out.as_str()), (0, "on-the-bridge\n"), "{err}");
    // a user network's name is unknown outside it, too
    let (code, _, err) = r.sh(&["--dns", "10.87.0.1"], "wget -qO- http://web/");
    assert!(code != 0 && err.contains("bad address"), "{err}");

    // the network is in use: not removed
    let o = r.run(&["network", "rm", "appnet"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(err_of(&o).contains("in use") && err_of(&o).contains("web"), "{}", err_of(&o));
    assert_eq!(err_of(&o).lines().count(), 1, "one line: {}", err_of(&o));
    assert!(r.ok(&["network", "ls", "-q"]).lines().count() == 4);

    // connect and disconnect a running container
    r.ok(&["network", "create", "--subnet", "10.86.202.0/24", "second"]);
    r.ok(&["network", "connect", "--alias", "api", "second", "web"]);
    let eth1 = r.ok(&["exec", "web", "ip", "addr", "show", "eth1"]);
    assert!(eth1.contains("inet 10.86.202."), "{eth1}");
    // aardvark-dns learns the alias when netavark signals it, just after connect returns: a few tries
    let (code, out, err) = r.sh(
        &["--network", "second"],
        "for i in $(seq 30); do wget -qO- http://api/ 2>/dev/null && exit; sleep 0.1; done; wget -qO- http://api/",
    );
    assert_eq!((code, out.as_str()), (0, "by-name\n"), "{err}");
    assert!(inspect(&r, "web")["NetworkSettings"]["Networks"]["second"]["IPAddress"]
        .as_str()
        .unwrap()
        .starts_with("10.86.202."));
    r.ok(&["network", "disconnect", "second", "web"]);
    assert_ne!(r.run(&["exec", "web", "ip", "addr", "show", "eth1"]).status.code(), Some(0), "eth1 is gone");
    let (code, out, _) = r.sh(&["--network", "appnet"], &format!("wget -qO- http://{web_ip}/"));
    assert_eq!((code, out.as_str()), (0, "by-name\n"), "eth0 is still there");
    r.ok(&["rm", "-f", "web", "plain"]);
    r.ok(&["network", "rm", "appnet", "second"]);
    assert_eq!(r.ok(&["network", "ls", "--filter", "type=custom", "-q"]), "");
    // each step is in the journal
    let events = r.ok(&[
        "events",
        "--since",
        "10m",
        "--until",
        "0s",
        "--filter",
        "type=network",
        "--format",
        "{{.Action}} {{.Actor.Attributes.name}}",
    ]);
    let want =
        ["create appnet", "create second", "connect second", "disconnect second", "destroy appnet", "destroy second"];
    assert_eq!(events.lines().collect::<Vec<_>>(), want, "{events}");
}

#[test]
fn shared_and_empty_network_namespaces() {
    if !network_or_skip("shared_and_empty_network_namespaces") {
        return;
    }
    let r = TestRoot::with_busybox("net-share");
    let id = r.ok(&["run", "-d", "--name", "web", "--hostname", "webhost", "busybox", "sh", "-c", &web("shared")]);
    let ip = inspect(&r, "web")["NetworkSettings"]["IPAddress"].as_str().unwrap().to_string();
    // --network container:web: web's interfaces, its loopback and its name
    let script = "for i in $(seq 50); do wget -qO- http://127.0.0.1/ 2>/dev/null && break; sleep 0.1; done; \
                  ip addr show eth0 | grep -o 'inet [0-9./]*'; hostname; tail -1 /etc/hosts";
    let (code, out, err) = r.sh(&["--network", "container:web"], script);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, format!("shared\ninet {ip}/16\nwebhost\n{ip}\twebhost\n"));
    let joined = r.ok(&["run", "-d", "--network", &format!("container:{}", &id[..12]), "busybox", "sleep", "60"]);
    let net_of = |pid: i64| std::fs::read_link(format!("/proc/{pid}/ns/net")).unwrap();
    let pid_of = |name: &str| inspect(&r, name)["State"]["Pid"].as_i64().unwrap();
    assert_eq!(net_of(pid_of(joined.trim())), net_of(pid_of("web")), "the same namespace");
    assert_eq!(inspect(&r, joined.trim())["HostConfig"]["NetworkMode"], format!("container:{}", id.trim()));
    // a stopped container's network cannot be joined
    r.ok(&["create", "--name", "idle", "busybox", "true"]);
    let o = r.run(&["run", "--rm", "--network", "container:idle", "busybox", "true"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(err_of(&o).contains("not running"), "{}", err_of(&o));
    // --network none: only lo, and no address besides 127.0.0.1
    let (code, out, err) = r.sh(&["--network", "none"], "ls /sys/class/net; ip addr | grep -c 'inet '");
    assert_eq!((code, out.as_str()), (0, "lo\n1\n"), "{err}");
    // -p needs a network of the container's own
    let o = r.run(&["run", "--rm", "--network", "none", "-p", "8080:80", "busybox", "true"]);
    assert_eq!(o.status.code(), Some(125));
    r.ok(&["rm", "-f", "web", joined.trim()]);
}

#[test]
fn dns_and_hosts_flags() {
    if !network_or_skip("dns_and_hosts_flags") {
        return;
    }
    let r = TestRoot::with_busybox("net-flags");
    let (code, out, err) = r.sh(
        &[
            "--dns",
            "10.0.0.9",
            "--dns-search",
            "example.com",
            "--dns-option",
            "ndots:2",
            "--add-host",
            "db:10.0.0.5",
            "--add-host",
            "gw:host-gateway",
            "--hostname",
            "box",
        ],
        "cat /etc/resolv.conf; grep -v -e localhost -e ip6- /etc/hosts; hostname",
    );
    assert_eq!(code, 0, "{err}");
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("search example.com"));
    assert_eq!(lines.next(), Some("nameserver 10.0.0.9"));
    assert_eq!(lines.next(), Some("options ndots:2"));
    assert_eq!(lines.next(), Some("10.0.0.5\tdb"));
    assert_eq!(lines.next(), Some("10.87.0.1\tgw"), "host-gateway: the bridge's gateway");
    assert!(lines.next().is_some_and(|l| l.starts_with("10.87.") && l.ends_with("\tbox")), "{out}");
    assert_eq!(lines.next(), Some("box"));
    // --ip and --mac-address on a user network; -P with --expose
    r.ok(&["network", "create", "--subnet", "10.86.203.0/24", "fixed"]);
    let (code, out, err) = r.sh(
        &["--network", "fixed", "--ip", "10.86.203.77", "--mac-address", "02:42:0a:56:cb:4d"],
        "ip addr show eth0 | grep -o -e 'inet [0-9./]*' -e 'ether [0-9a-f:]*'",
    );
    assert_eq!((code, out.as_str()), (0, "ether 02:42:0a:56:cb:4d\ninet 10.86.203.77/24\n"), "{err}");
    r.ok(&[
        "run",
        "-d",
        "--name",
        "exp",
        "--network",
        "fixed",
        "-P",
        "--expose",
        "80",
        "--expose",
        "5000/udp",
        "busybox",
        "sh",
        "-c",
        &web("published-all"),
    ]);
    let ports = r.ok(&["port", "exp"]);
    assert_eq!(ports.lines().count(), 2, "{ports}");
    let tcp: u16 = r.ok(&["port", "exp", "80"]).trim().rsplit_once(':').unwrap().1.parse().unwrap();
    assert!(r.ok(&["port", "exp", "5000/udp"]).starts_with("0.0.0.0:"));
    assert_eq!(get_until(tcp, "published-all\n"), "published-all\n");
    // --ip outside the network, or on the default bridge, is refused by name
    let o = r.run(&["run", "--rm", "--network", "fixed", "--ip", "10.1.1.1", "busybox", "true"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(err_of(&o).contains("10.1.1.1") && err_of(&o).contains("subnet"), "{}", err_of(&o));
    assert_eq!(r.run(&["run", "--rm", "--ip", "10.87.0.50", "busybox", "true"]).status.code(), Some(125));
    r.ok(&["rm", "-f", "exp"]);
}

#[test]
fn bad_input_is_one_line_and_creates_nothing() {
    if !network_or_skip("bad_input_is_one_line_and_creates_nothing") {
        return;
    }
    let r = TestRoot::with_busybox("net-bad");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = taken.local_addr().unwrap().port();
    let busy_spec = format!("127.0.0.1:{busy}:80");
    let cases: Vec<(Vec<&str>, String)> = vec![
        (vec!["run", "--rm", "-p", "99999:1", "busybox", "true"], "invalid host port \"99999\"".into()),
        (vec!["run", "--rm", "-p", "a:b", "busybox", "true"], "invalid container port \"b\"".into()),
        (vec!["run", "--rm", "-p", "1-3:1-2", "busybox", "true"], "invalid ranges".into()),
        (vec!["run", "-d", "-p", &busy_spec, "busybox", "true"], format!("127.0.0.1:{busy}/tcp: already in use")),
        (vec!["run", "--rm", "--network", "nosuch", "busybox", "true"], "network nosuch not found".into()),
        (vec!["create", "--network", "nosuch", "busybox", "true"], "network nosuch not found".into()),
        (vec!["run", "--rm", "--network", "bad name", "busybox", "true"], "invalid network mode".into()),
        (vec!["run", "--rm", "--network", "container:nosuch", "busybox", "true"], "no such container: nosuch".into()),
        (vec!["network", "create", "--subnet", "10.86.204.1/24", "x"], "host bits".into()),
        (vec!["network", "create", "--subnet", "10.87.5.0/24", "x"], "overlaps the default bridge network".into()),
        (vec!["network", "rm", "bridge"], "pre-defined network".into()),
        (vec!["network", "rm", "nosuch"], "network nosuch not found".into()),
        (vec!["network", "connect", "nosuch", "x"], "network nosuch not found".into()),
    ];
    for (args, says) in &cases {
        let o = r.run(args);
        let err = err_of(&o);
        assert_eq!(o.status.code(), Some(125), "{args:?}: {err}");
        assert!(err.contains(says.as_str()), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: one line: {err}");
    }
    // nothing half-created: no container, no network, nothing set up on the host
    assert_eq!(r.ok(&["ps", "-aq"]), "");
    assert_eq!(r.ok(&["network", "ls", "-q"]).lines().count(), 3);
    assert!(host_state(&[format!("dport {busy}")]).is_empty());
    drop(taken);
}

/// A host without netavark (here: a configuration naming a netavark that is
/// not there): a bridged container is refused with one line that says what
/// to install, before anything is made; `--network host` and `none` work.
#[test]
fn without_netavark_bridges_are_refused_clearly_and_host_and_none_work() {
    if !root_or_skip("without_netavark_bridges_are_refused_clearly_and_host_and_none_work") {
        return;
    }
    let r = TestRoot::with_busybox("net-missing");
    let conf = r.path.join("network.conf");
    std::fs::write(&conf, "netavark = \"/nonexistent/netavark\"\naardvark_dns = \"/nonexistent/aardvark-dns\"\n")
        .unwrap();
    let run = |args: &[&str]| r.cmd(args).env("RRUN_NETWORK_CONF", &conf).output().unwrap();
    for args in [
        &["run", "--rm", "busybox", "true"][..],
        &["run", "-d", "-p", "127.0.0.1::80", "busybox", "sleep", "9"],
        &["run", "--rm", "--network", "bridge", "busybox", "true"],
    ] {
        let o = run(args);
        let err = err_of(&o);
        assert_eq!(o.status.code(), Some(125), "{args:?}: {err}");
        assert!(err.contains("bridge networking needs netavark"), "{args:?}: {err}");
        assert!(err.contains("apt-get install netavark aardvark-dns"), "{args:?}: {err}");
        assert!(err.contains("/nonexistent/netavark"), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: one line: {err}");
    }
    assert_eq!(r.ok(&["ps", "-aq"]), "", "no container is left half-made");
    let o = run(&["run", "--rm", "--network", "none", "busybox", "ls", "/sys/class/net"]);
    assert_eq!((o.status.code(), String::from_utf8_lossy(&o.stdout).as_ref()), (Some(0), "lo\n"), "{}", err_of(&o));
    // --network host: the host's interfaces, its default route's among them
    let o = run(&["run", "--rm", "--network", "host", "busybox", "cat", "/proc/net/dev"]);
    assert_eq!(o.status.code(), Some(0), "{}", err_of(&o));
    let seen = String::from_utf8_lossy(&o.stdout).into_owned();
    let route = std::fs::read_to_string("/proc/net/route").unwrap();
    let default_dev = route.lines().skip(1).find(|l| l.split_whitespace().nth(1) == Some("00000000"));
    let want = default_dev.and_then(|l| l.split_whitespace().next()).unwrap_or("lo");
    assert!(seen.lines().any(|l| l.trim_start().starts_with(&format!("{want}:"))), "{want} in {seen}");
}

/// Kills the monitor of a container with a published port, then `rm -f`:
/// the namespace, veth, bridge, firewall rules, lease, DNS entry and host
/// port all go.
#[test]
fn killed_monitor_then_rm_leaves_nothing() {
    if !network_or_skip("killed_monitor_then_rm_leaves_nothing") {
        return;
    }
    let r = TestRoot::with_busybox("net-kill");
    r.ok(&["network", "create", "--subnet", "10.86.205.0/24", "killnet"]);
    let (net_id, bridge) = network_of(&r, "killnet");
    let p = free_port();
    let needles = vec![
        "10.86.205.".to_string(),
        format!("dport {p}"),
        format!(":{p} "),
        bridge.clone(),
        net_id.clone(),
        net_id[..12].to_string(),
    ];
    let before = host_state(&needles);
    assert!(before.is_empty(), "{before:#?}");
    let id = r.ok(&[
        "run",
        "-d",
        "--name",
        "victim",
        "--network",
        "killnet",
        "-p",
        &format!("127.0.0.1:{p}:80"),
        "busybox",
        "sh",
        "-c",
        &web("doomed"),
    ]);
    let id = id.trim().to_string();
    let mut needles = needles;
    needles.push(id.clone());
    assert_eq!(get_until(p, "doomed\n"), "doomed\n");
    let during = host_state(&needles);
    for want in
        ["iptables:", "link:", "/run/rrun/.networks/containers/", "/run/rrun/.networks/ipam/", "/run/rrun/.netns/"]
    {
        assert!(during.iter().any(|l| l.starts_with(want)), "no {want} while it runs: {during:#?}");
    }
    let aardvark = Path::new("/run/rrun/.networks/netavark/aardvark-dns").join(format!("rrun-{}", &net_id[..12]));
    assert!(std::fs::read_to_string(&aardvark).unwrap_or_default().contains(&id), "its DNS entry");
    let c = inspect(&r, "victim");
    let (pid, monitor) = (c["State"]["Pid"].as_i64().unwrap(), c["State"]["MonitorPid"].as_i64().unwrap());
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(monitor as i32), nix::sys::signal::Signal::SIGKILL).unwrap();
    assert!(
        wait_for(Duration::from_secs(5), || !Path::new(&format!("/proc/{pid}")).exists()),
        "the init dies with its monitor"
    );
    r.ok(&["rm", "-f", "victim"]);
    assert_eq!(host_state(&needles), before);
    assert!(!std::fs::read_to_string(&aardvark).unwrap_or_default().contains(&id), "its DNS entry is gone");
    assert!(!Path::new(&format!("/sys/class/net/{bridge}")).exists(), "the bridge went with its last container");
    assert!(std::net::TcpListener::bind(("127.0.0.1", p)).is_ok(), "the host port is free");
    assert!(get(p).is_none());
}

/// A foreground `rrun run -p` SIGKILLed: the next command cleans up.
#[test]
fn killed_foreground_run_is_cleaned_up_by_the_next_command() {
    if !network_or_skip("killed_foreground_run_is_cleaned_up_by_the_next_command") {
        return;
    }
    let r = TestRoot::with_busybox("net-fg");
    r.ok(&["network", "create", "--subnet", "10.86.206.0/24", "fgnet"]);
    let (net_id, bridge) = network_of(&r, "fgnet");
    let p = free_port();
    let needles = vec!["10.86.206.".to_string(), format!("dport {p}"), bridge.clone(), net_id.clone()];
    let mut child = r
        .cmd(&[
            "run",
            "--name",
            "fg",
            "--network",
            "fgnet",
            "-p",
            &format!("127.0.0.1:{p}:80"),
            "busybox",
            "sh",
            "-c",
            &web("fg"),
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    assert_eq!(get_until(p, "fg\n"), "fg\n");
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!host_state(&needles).is_empty(), "left set up by the killed rrun");
    let ps = r.ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
    assert!(ps.starts_with("fg Exited (137)"), "{ps}");
    assert_eq!(host_state(&needles), Vec::<String>::new(), "the next command tore it down");
    assert!(std::net::TcpListener::bind(("127.0.0.1", p)).is_ok());
    r.ok(&["rm", "fg"]);
}

/// 20 containers started and removed at once on one network: every one
/// gets its own address, and nothing is left.
#[test]
fn twenty_containers_at_once_leave_no_state() {
    if !network_or_skip("twenty_containers_at_once_leave_no_state") {
        return;
    }
    let r = TestRoot::with_busybox("net-twenty");
    r.ok(&["network", "create", "--subnet", "10.86.207.0/24", "crowd"]);
    let (net_id, bridge) = network_of(&r, "crowd");
    let needles = vec!["10.86.207.".to_string(), bridge.clone(), net_id.clone()];
    let ips: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..20)
            .map(|i| {
                let r = &r;
                s.spawn(move || {
                    let name = format!("c{i}");
                    let o = r.run(&["run", "-d", "--name", &name, "--network", "crowd", "busybox", "sleep", "60"]);
                    assert!(o.status.success(), "{name}: {}", err_of(&o));
                    let ip = inspect(r, &name)["NetworkSettings"]["IPAddress"].as_str().unwrap().to_string();
                    let o = r.run(&["rm", "-f", &name]);
                    assert!(o.status.success(), "rm {name}: {}", err_of(&o));
                    ip
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(ips.iter().all(|ip| ip.starts_with("10.86.207.")), "{ips:?}");
    assert_eq!(host_state(&needles), Vec::<String>::new());
    assert!(!Path::new(&format!("/sys/class/net/{bridge}")).exists());
    assert_eq!(r.ok(&["ps", "-aq"]), "");
    // all at once, then all removed at once
    let names: Vec<String> = (0..20).map(|i| format!("d{i}")).collect();
    std::thread::scope(|s| {
        for n in &names {
            let r = &r;
            s.spawn(move || r.ok(&["run", "-d", "--name", n, "--network", "crowd", "busybox", "sleep", "60"]));
        }
    });
    let mut ips: Vec<String> =
        names.iter().map(|n| inspect(&r, n)["NetworkSettings"]["IPAddress"].as_str().unwrap().to_string()).collect();
    ips.sort();
    ips.dedup();
    assert_eq!(ips.len(), 20, "20 different addresses: {ips:?}");
    std::thread::scope(|s| {
        for n in &names {
            let r = &r;
            s.spawn(move || r.ok(&["rm", "-f", n]));
        }
    });
    assert_eq!(host_state(&needles), Vec::<String>::new());
    r.ok(&["network", "rm", "crowd"]);
}
