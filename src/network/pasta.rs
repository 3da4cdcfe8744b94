//! An ordinary user's network: [pasta](https://passt.top) (the `passt`
//! package), Podman's rootless default. A user cannot make bridges, veths or
//! firewall rules; pasta needs none of them. It puts a tap interface into
//! the container's network namespace, copies the host's address and routes
//! onto it (`--config-net`), and carries the container's traffic through
//! ordinary sockets of the user's on the host; each published port is a
//! socket pasta listens on (`-t`/`-u`) and forwards into the namespace.
//!
//! The steps, each undone by [`super::attach::down`] through the container's
//! teardown file (the same file and lock as a bridge network's, under the
//! user's runtime directory), written first:
//!
//! 1. a process that holds a new network namespace (`launcher::netns::spawn_holder`:
//!    an ordinary user cannot bind-mount one on a file), its PID in `<ID>.holder`;
//!    the container's namespace path is a link to its `/proc/PID/ns/net`;
//! 2. `pasta --config-net … --netns /proc/PID/ns/net --pid <ID>.pasta`, which
//!    sets the namespace up and stays in the background.
//!
//! Teardown kills both; pasta, given a `/proc` path, would not notice the
//! namespace go on its own.

use super::attach::{self, State};
use super::netavark::Options;
use super::ports::Forward;
use super::NetworkError;
use crate::container::PortMapping;
use crate::launcher::netns;
use crate::spec::PortRequest;
use std::path::{Path, PathBuf};
use tracing::{debug, info, warn};

/// Where pasta is looked for.
const DIRS: [&str; 4] = ["/usr/bin", "/usr/local/bin", "/bin", "/usr/sbin"];

/// The pasta binary, if installed.
pub fn binary() -> Option<PathBuf> {
    DIRS.iter().map(|d| Path::new(d).join("pasta")).find(|p| p.is_file())
}

/// Why pasta cannot be used here, with the fix; None when it can.
pub fn unavailable() -> Option<String> {
    if binary().is_none() {
        return Some("pasta is not installed (as root: apt-get install passt)".into());
    }
    if let Err(e) = std::fs::OpenOptions::new().read(true).write(true).open("/dev/net/tun") {
        return Some(format!(
            "pasta needs /dev/net/tun, which this user cannot open ({e}): as root, chmod 0666 /dev/net/tun \
             (udev's usual mode)"
        ));
    }
    None
}

/// pasta's port specification of one published mapping:
/// `[ADDRESS/]HOSTPORT[-END]:PORT[-END]`.
pub fn port_spec(f: &Forward) -> String {
    let range = |first: u16| {
        if f.range > 1 {
            format!("{first}-{}", first + (f.range - 1))
        } else {
            first.to_string()
        }
    };
    let addr = if f.host_ip.is_empty() { String::new() } else { format!("{}/", f.host_ip) };
    format!("{addr}{}:{}", range(f.host_port), range(f.container_port))
}

/// pasta's arguments for a namespace at `netns`: the network configured from
/// the host's, the published ports forwarded in, nothing of the host's own
/// loopback reachable from the container (`-T none -U none --no-map-gw`, as
/// Podman does).
pub fn args(forwards: &[Forward], netns: &Path, pid_file: &Path) -> Vec<String> {
    let mut a: Vec<String> =
        ["--config-net", "--quiet", "--no-map-gw", "-T", "none", "-U", "none"].into_iter().map(String::from).collect();
    for (flag, proto) in [("-t", "tcp"), ("-u", "udp")] {
        let specs: Vec<String> = forwards.iter().filter(|f| f.protocol == proto).map(port_spec).collect();
        if specs.is_empty() {
            a.extend([flag.to_string(), "none".to_string()]);
        }
        for s in specs {
            a.extend([flag.to_string(), s]);
        }
    }
    a.extend(["--pid".into(), pid_file.display().to_string()]);
    a.extend(["--netns".into(), netns.display().to_string()]);
    a
}

/// Can `ip:port` be listened on now, as pasta will (`SO_REUSEADDR`: a
/// connection of an earlier container in TIME_WAIT does not hold it)?
fn listenable(ip: &str, port: u16, proto: &str) -> Result<u16, NetworkError> {
    let shown = if ip.is_empty() { "0.0.0.0" } else { ip };
    let addr = if shown.contains(':') { format!("[{shown}]:{port}") } else { format!("{shown}:{port}") };
    let got = match proto {
        "udp" => std::net::UdpSocket::bind(&addr).and_then(|s| s.local_addr()),
        _ => std::net::TcpListener::bind(&addr).and_then(|s| s.local_addr()),
    };
    got.map(|a| a.port()).map_err(|e| NetworkError::Port {
        address: format!("{addr}/{proto}"),
        reason: if e.kind() == std::io::ErrorKind::AddrInUse {
            "already in use (by another program, or another container's published port)".into()
        } else {
            e.to_string()
        },
    })
}

/// The host ports of `publish` as pasta will listen on them: fixed ones
/// checked free, a range of choices at its first free port, 0 at any free
/// port. Returns the mappings for pasta and, one per port, for the record.
pub fn choose_ports(publish: &[PortRequest]) -> Result<(Vec<Forward>, Vec<PortMapping>), NetworkError> {
    let mut forwards = Vec::new();
    let mut mappings = Vec::new();
    for q in publish {
        let proto = q.protocol.as_str();
        if proto == "sctp" {
            return Err(NetworkError::Port { address: q.display(), reason: "pasta forwards tcp and udp only".into() });
        }
        let first = if q.host_port == 0 {
            listenable(&q.host_ip, 0, proto)?
        } else if q.host_port_end > q.host_port {
            let mut found = Err(NetworkError::Port { address: q.display(), reason: "no port of the range".into() });
            for p in q.host_port..=q.host_port_end {
                found = listenable(&q.host_ip, p, proto);
                if found.is_ok() {
                    break;
                }
            }
            found?
        } else {
            for p in q.host_port..=q.host_port + (q.range - 1) {
                listenable(&q.host_ip, p, proto)?;
            }
            q.host_port
        };
        super::ports::record(q, first, &mut forwards, &mut mappings);
    }
    Ok((forwards, mappings))
}

/// The files of a container's pasta network, beside its teardown file.
fn holder_file(container: &str) -> PathBuf {
    attach::state_path(container).with_extension("holder")
}
fn pasta_file(container: &str) -> PathBuf {
    attach::state_path(container).with_extension("pasta")
}
fn log_file(container: &str) -> PathBuf {
    attach::state_path(container).with_extension("pasta.log")
}

/// Connects the container's namespace through pasta (see the module's
/// steps). Returns the published ports. On failure, whatever was made goes.
pub fn up(store: &Path, container: &str, publish: &[PortRequest]) -> Result<Vec<PortMapping>, NetworkError> {
    if let Some(why) = unavailable() {
        return Err(NetworkError::Conflict(format!("--network pasta: {why}")));
    }
    let bin = binary().expect("checked");
    if !publish.is_empty() {
        crate::step!(super::PORTS_RESERVE, ports = publish.len());
    }
    // host ports chosen (0: any free one) and checked free; pasta binds them itself
    let (forwards, mappings) = choose_ports(publish)?;
    let lock = attach::NetLock::take()?;
    let netns = attach::netns_path(container);
    let state = State {
        store: store.to_path_buf(),
        container: container.to_string(),
        netns: netns.clone(),
        networks: Vec::new(),
        options: Options {
            container_id: container.to_string(),
            container_name: String::new(),
            networks: Default::default(),
            network_info: Default::default(),
            port_mappings: forwards.clone(),
        },
        pasta: true,
    };
    let made = (|| {
        attach::write_state(&state)?;
        crate::step!(super::PASTA_NETNS, holder = %holder_file(container).display());
        let holder = netns::spawn_holder(&holder_file(container))?;
        let target = PathBuf::from(format!("/proc/{holder}/ns/net"));
        let sys = |op: String| move |e: std::io::Error| NetworkError::Sys { op, reason: e.to_string() };
        if let Some(dir) = netns.parent() {
            std::fs::create_dir_all(dir).map_err(sys(format!("create {}", dir.display())))?;
        }
        let _ = std::fs::remove_file(&netns);
        std::os::unix::fs::symlink(&target, &netns).map_err(sys(format!("link {}", netns.display())))?;
        let args = args(&forwards, &target, &pasta_file(container));
        crate::step!(super::PASTA_START, netns = %target.display(), ports = forwards.len());
        debug!(program = %bin.display(), args = %args.join(" "), "pasta");
        let log = std::fs::File::create(log_file(container)).map_err(sys("create pasta's log".into()))?;
        let status = std::process::Command::new(&bin)
            .args(&args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .status()
            .map_err(sys(format!("run {}", bin.display())))?;
        if !status.success() {
            let text = std::fs::read_to_string(log_file(container)).unwrap_or_default();
            let text: Vec<&str> = text.lines().filter(|l| !l.contains("to syslog") && !l.trim().is_empty()).collect();
            return Err(NetworkError::Sys {
                op: format!("pasta {}", args.join(" ")),
                reason: format!("{status}: {}", text.join("; ")),
            });
        }
        info!(container, holder, "network set up by pasta");
        Ok(())
    })();
    drop(lock);
    if let Err(e) = made {
        if let Err(e2) = attach::down(&Default::default(), container, false) {
            warn!(container, error = %e2, "tearing down a pasta network whose setup failed");
        }
        return Err(e);
    }
    Ok(mappings)
}

/// Kills the process whose PID `file` holds when its name is one of
/// `names` (a PID reused by another program is left alone), and removes the file.
fn kill_from(file: &Path, names: &[&str]) {
    let pid = std::fs::read_to_string(file).ok().and_then(|t| t.trim().parse::<i32>().ok());
    if let Some(pid) = pid.filter(|p| *p > 0) {
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if names.iter().any(|n| comm.trim().starts_with(n)) {
            debug!(pid, name = comm.trim(), "kill");
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
        }
    }
    let _ = std::fs::remove_file(file);
}

/// Undoes [`up`] for `state` (under the network lock): pasta and the
/// namespace's holder killed, their files and the namespace link removed.
pub(super) fn down(state: &State) {
    crate::step!(super::PASTA_STOP, container = %state.container);
    // pasta runs as passt (or passt.avx2) once started
    kill_from(&pasta_file(&state.container), &["passt", "pasta"]);
    kill_from(&holder_file(&state.container), &[netns::HOLDER_NAME]);
    let _ = std::fs::remove_file(log_file(&state.container));
    if std::fs::symlink_metadata(&state.netns).is_ok_and(|m| m.file_type().is_symlink()) {
        let _ = std::fs::remove_file(&state.netns);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fwd(ip: &str, host: u16, ctr: u16, range: u16, proto: &str) -> Forward {
        Forward { host_ip: ip.into(), host_port: host, container_port: ctr, range, protocol: proto.into() }
    }

    #[test]
    fn port_specs_in_pastas_syntax() {
        assert_eq!(port_spec(&fwd("127.0.0.1", 8080, 80, 1, "tcp")), "127.0.0.1/8080:80");
        assert_eq!(port_spec(&fwd("", 8000, 90, 3, "tcp")), "8000-8002:90-92");
        assert_eq!(port_spec(&fwd("::1", 53, 53, 1, "udp")), "::1/53:53");
    }

    #[test]
    fn ports_chosen_as_pasta_listens() {
        // `-p 127.0.0.1:HOST:80/PROTOCOL` (HOST 0: any free port)
        let req = |host: u16, protocol: &str| {
            let (host_ip, protocol) = ("127.0.0.1".into(), protocol.into());
            [PortRequest { host_ip, host_port: host, host_port_end: host, container_port: 80, range: 1, protocol }]
        };
        let (f, m) = choose_ports(&req(0, "tcp")).unwrap();
        assert!(f[0].host_port > 0 && m[0].host_port == f[0].host_port && m[0].host_ip == "127.0.0.1");
        let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = held.local_addr().unwrap().port();
        let e = choose_ports(&req(port, "tcp")).unwrap_err().to_string();
        assert!(e.contains(&format!("127.0.0.1:{port}/tcp")) && e.contains("already in use"), "{e}");
        assert!(choose_ports(&req(5000, "sctp")).is_err(), "sctp is refused");
    }

    #[test]
    fn arguments_forward_only_what_is_published() {
        let a = args(&[fwd("127.0.0.1", 8080, 80, 1, "tcp")], Path::new("/proc/9/ns/net"), Path::new("/r/x.pasta"));
        let s = a.join(" ");
        assert!(s.starts_with("--config-net --quiet --no-map-gw -T none -U none"), "{s}");
        assert!(s.contains("-t 127.0.0.1/8080:80 -u none"), "{s}");
        assert!(s.ends_with("--pid /r/x.pasta --netns /proc/9/ns/net"), "{s}");
        let none = args(&[], Path::new("/n"), Path::new("/p")).join(" ");
        assert!(none.contains("-t none -u none"), "nothing forwarded by default (pasta's own default is auto): {none}");
    }
}
