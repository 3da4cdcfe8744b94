//! Docker's spelling of option values, read into the library's types: the
//! flags of `run`/`create` (`-p`, `--add-host`, `--sysctl`, `--label`,
//! `--security-opt`, `-e`, …), durations and `--since`/`--until` times,
//! `--platform`. Pure functions; the library checks what needs the image or
//! the host (namespaced sysctls, `--oom-score-adj`, aliases) when it runs.

use rrun::{Platform, PlatformExt, RegistryError, SeccompChoice, SpecError};
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

fn invalid(flag: &str, value: &str, reason: impl Into<String>) -> SpecError {
    SpecError::Invalid { flag: flag.to_string(), value: value.to_string(), reason: reason.into() }
}

/// `s` with control characters escaped, cut to about `max` characters: for an error message.
fn printable(s: &str, max: usize) -> String {
    let mut out = String::new();
    for (n, c) in s.chars().enumerate() {
        if n >= max {
            out.push('…');
            break;
        }
        match c {
            c if c.is_control() => out.extend(c.escape_default()),
            c => out.push(c),
        }
    }
    out
}

/// Nanoseconds since the epoch, now (what `--since 10m` counts back from).
pub fn now_ns() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)
}

/// `--add-host NAME:IP` (or `NAME=IP`); the IP may be `host-gateway`: the
/// container's gateway, which is the host on its bridge.
pub fn parse_add_host(spec: &str) -> Result<(String, String), SpecError> {
    let bad =
        |reason: &str| SpecError::Invalid { flag: "--add-host".into(), value: spec.into(), reason: reason.into() };
    let (name, ip) = match (spec.split_once('='), spec.split_once(':')) {
        (Some((n, i)), _) if !n.contains(':') => (n, i),
        (_, Some((n, i))) => (n, i),
        _ => return Err(bad("expected NAME:IP")),
    };
    let ip = ip.trim_start_matches('[').trim_end_matches(']');
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("the host name is empty or has spaces"));
    }
    if ip != "host-gateway" && ip.parse::<IpAddr>().is_err() {
        return Err(bad("expected an IP address or host-gateway after the name"));
    }
    Ok((name.to_string(), ip.to_string()))
}

/// `--dns IP`.
pub fn parse_dns(spec: &str) -> Result<IpAddr, SpecError> {
    spec.parse::<IpAddr>().map_err(|_| SpecError::Invalid {
        flag: "--dns".into(),
        value: spec.into(),
        reason: "expected an IP address".into(),
    })
}

/// `--ip`: an IPv4 address (it must lie in the network's subnet, checked at start).
pub fn parse_ip(spec: &str) -> Result<Ipv4Addr, SpecError> {
    spec.parse::<Ipv4Addr>().map_err(|_| SpecError::Invalid {
        flag: "--ip".into(),
        value: spec.into(),
        reason: "expected an IPv4 address".into(),
    })
}

/// `--mac-address`: six hex pairs; a unicast address (even first octet).
pub fn parse_mac(spec: &str) -> Result<String, SpecError> {
    let bad =
        |reason: &str| SpecError::Invalid { flag: "--mac-address".into(), value: spec.into(), reason: reason.into() };
    let parts: Vec<&str> = spec.split(':').collect();
    if parts.len() != 6 || parts.iter().any(|p| p.len() != 2 || !p.bytes().all(|b| b.is_ascii_hexdigit())) {
        return Err(bad("expected six hex pairs, like 02:42:ac:11:00:02"));
    }
    let first = u8::from_str_radix(parts[0], 16).unwrap_or(1);
    if first & 1 == 1 {
        return Err(bad("a multicast address (odd first octet) cannot be an interface's"));
    }
    Ok(spec.to_ascii_lowercase())
}

/// `--sysctl K=V`, its syntax (the library checks that the name is of a
/// namespace the container has of its own).
pub fn parse_sysctl(s: &str) -> Result<(String, String), SpecError> {
    let (k, v) = s.split_once('=').ok_or_else(|| invalid("--sysctl", s, "expected NAME=VALUE"))?;
    if k.is_empty() || k.contains('/') || k.contains("..") {
        return Err(invalid("--sysctl", s, "expected NAME=VALUE with a dotted name like net.ipv4.ip_forward"));
    }
    Ok((k.to_string(), v.to_string()))
}

/// `--label K=V` (`K` alone: an empty value).
pub fn parse_label(s: &str) -> Result<(String, String), SpecError> {
    let (k, v) = s.split_once('=').unwrap_or((s, ""));
    if k.is_empty() {
        return Err(invalid("--label", s, "the name must not be empty"));
    }
    Ok((k.to_string(), v.to_string()))
}

/// A `--label-file`: `K=V` lines; blank lines and `#` comments skipped.
pub fn parse_label_file(content: &str) -> Result<Vec<(String, String)>, SpecError> {
    content.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(parse_label).collect()
}

/// `--annotation K=V`.
pub fn parse_annotation(s: &str) -> Result<(String, String), SpecError> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(invalid("--annotation", s, "expected KEY=VALUE")),
    }
}

/// `--blkio-weight`: 10..=1000 (0 leaves the default).
pub fn check_blkio_weight(n: u16) -> Result<Option<u16>, SpecError> {
    match n {
        0 => Ok(None),
        10..=1000 => Ok(Some(n)),
        _ => Err(invalid("--blkio-weight", &n.to_string(), "must be between 10 and 1000")),
    }
}

/// What `--security-opt` asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecurityOptions {
    pub seccomp: SeccompChoice,
    pub no_new_privileges: bool,
}

/// `--security-opt seccomp=unconfined|FILE`, `no-new-privileges[=true|false]`
/// (also with `:` as Docker once wrote it), `label=disable` (no SELinux here).
pub fn parse_security_opts(opts: &[String]) -> Result<SecurityOptions, SpecError> {
    let mut out = SecurityOptions::default();
    for o in opts {
        match o.split_once(['=', ':']) {
            Some(("seccomp", v)) => out.seccomp = v.parse()?,
            None if o == "no-new-privileges" => out.no_new_privileges = true,
            Some(("no-new-privileges", v)) => {
                out.no_new_privileges = match v {
                    "true" | "1" => true,
                    "false" | "0" => false,
                    _ => return Err(SpecError::SecurityOpt(o.clone())),
                }
            }
            Some(("label", "disable")) => {}
            _ => return Err(SpecError::SecurityOpt(o.clone())),
        }
    }
    Ok(out)
}

/// Parses an `--env-file`: `K=V` lines, `K` alone takes the host's value, `#` comments.
pub fn parse_env_file(content: &str, host_env: impl Fn(&str) -> Option<String>) -> Result<Vec<String>, SpecError> {
    let mut out = Vec::new();
    for line in content.lines() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        out.push(expand_env(line, &host_env)?);
    }
    Ok(out)
}

/// `-e K=V` stays; `-e K` takes the host's value (and is dropped if the host has none).
pub fn expand_env(kv: &str, host_env: impl Fn(&str) -> Option<String>) -> Result<String, SpecError> {
    match kv.split_once('=') {
        Some(("", _)) => Err(SpecError::Env(kv.to_string())),
        Some(_) => Ok(kv.to_string()),
        None if kv.is_empty() => Err(SpecError::Env(kv.to_string())),
        None => Ok(format!("{kv}={}", host_env(kv).unwrap_or_default())),
    }
}

/// A Go duration: a sequence of decimal numbers with units `ns`, `us`
/// (or `µs`), `ms`, `s`, `m`, `h`; `0` alone is zero. No sign.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("invalid duration {s:?}: expected e.g. 30s, 1m30s, 500ms or 1.5h");
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err(bad());
    }
    let mut rest = s;
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(bad)?;
        let number: f64 = rest[..num_len].parse().map_err(|_| bad())?;
        rest = &rest[num_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let nanos_per = match &rest[..unit_len] {
            "ns" => 1e0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        total += number * nanos_per;
    }
    if !total.is_finite() || total > u64::MAX as f64 {
        return Err(bad());
    }
    Ok(Duration::from_nanos(total as u64))
}

/// A `--since`/`--until` value as nanoseconds since the epoch: a duration
/// counts back from `now_ns` (`10m` is ten minutes ago), a number is a Unix
/// timestamp (`1700000000`, `1700000000.5`), anything else a date and time
/// (`2024-01-02T03:04:05Z`, `2024-01-02T03:04:05.5+01:00`, or in local time
/// `2024-01-02T03:04:05`, `2024-01-02T03:04`, `2024-01-02`).
pub fn parse_timestamp(s: &str, now_ns: i64) -> Result<i64, String> {
    let bad = || format!("failed to parse value as time or duration: {s:?}");
    if let Ok(d) = parse_duration(s) {
        return Ok(now_ns.saturating_sub(d.as_nanos().min(i64::MAX as u128) as i64));
    }
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
        let secs: i64 = secs.parse().map_err(|_| bad())?;
        if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let nanos: i64 = if frac.is_empty() { 0 } else { format!("{frac:0<9}").parse().map_err(|_| bad())? };
        return secs.checked_mul(1_000_000_000).and_then(|v| v.checked_add(nanos)).ok_or_else(bad);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return t.timestamp_nanos_opt().ok_or_else(bad);
    }
    use chrono::TimeZone;
    let naive = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M"))
        .or_else(|_| {
            chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").map(|d| d.and_hms_opt(0, 0, 0).expect("midnight"))
        })
        .map_err(|_| bad())?;
    let local = chrono::Local.from_local_datetime(&naive).earliest().ok_or_else(bad)?;
    local.timestamp_nanos_opt().ok_or_else(bad)
}

/// Parses `--platform os/arch[/variant]` (each part lowercase letters,
/// digits and `_`; `x86_64` and `aarch64` read as OCI's `amd64` and `arm64`).
pub fn parse_platform(s: &str) -> Result<Platform, RegistryError> {
    let word = |p: &&str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    let parts: Vec<&str> = s.split('/').collect();
    if !(2..=3).contains(&parts.len()) || !parts.iter().all(word) {
        return Err(RegistryError::Platform(printable(s, 80)));
    }
    let architecture = match parts[1] {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        a => a,
    };
    Ok(Platform::new_named(parts[0], architecture, parts.get(2).copied()))
}

/// Is this `--device` value a CDI name (`vendor/class=name`) rather than a host path?
pub fn is_cdi_name(value: &str) -> bool {
    !value.starts_with('/') && value.contains('=')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_dns_ip_mac() {
        assert_eq!(parse_add_host("db:10.0.0.5").unwrap(), ("db".into(), "10.0.0.5".into()));
        assert_eq!(parse_add_host("db=10.0.0.5").unwrap(), ("db".into(), "10.0.0.5".into()));
        assert_eq!(parse_add_host("v6:::1").unwrap(), ("v6".into(), "::1".into()));
        assert_eq!(parse_add_host("gw:host-gateway").unwrap().1, "host-gateway");
        assert!(parse_add_host("nocolon").is_err());
        assert!(parse_add_host("db:notanip").is_err());
        assert!(parse_dns("1.1.1.1").is_ok() && parse_dns("one").is_err());
        assert!(parse_ip("10.1.2.3").is_ok() && parse_ip("::1").is_err());
        assert_eq!(parse_mac("02:42:AC:11:00:02").unwrap(), "02:42:ac:11:00:02");
        assert!(parse_mac("01:00:5e:00:00:01").is_err(), "multicast");
        assert!(parse_mac("02:42:ac:11:00").is_err());
    }

    #[test]
    fn sysctl_syntax() {
        assert_eq!(parse_sysctl("net.ipv4.ip_forward=1").unwrap(), ("net.ipv4.ip_forward".into(), "1".into()));
        assert!(parse_sysctl("kernel.shmmax=65536").is_ok());
        assert!(parse_sysctl("fs.mqueue.msg_max=20").is_ok());
        assert!(parse_sysctl("net.ipv4.ip_forward").unwrap_err().to_string().contains("NAME=VALUE"));
        assert!(parse_sysctl("net/../x=1").is_err());
    }

    #[test]
    fn labels_annotations_and_weights() {
        assert_eq!(parse_label("a=b=c").unwrap(), ("a".into(), "b=c".into()));
        assert_eq!(parse_label("flag").unwrap(), ("flag".into(), String::new()));
        assert!(parse_label("=v").is_err());
        let file = parse_label_file("# comment\n\na=1\n  b=2\n").unwrap();
        assert_eq!(file, [("a".to_string(), "1".to_string()), ("b".to_string(), "2".to_string())]);
        assert_eq!(parse_annotation("k=v").unwrap(), ("k".into(), "v".into()));
        assert!(parse_annotation("k").is_err());
        assert_eq!(check_blkio_weight(0).unwrap(), None);
        assert_eq!(check_blkio_weight(500).unwrap(), Some(500));
        assert!(check_blkio_weight(5).unwrap_err().to_string().contains("between 10 and 1000"));
    }
    #[test]
    fn security_opts() {
        let o = |v: &[&str]| parse_security_opts(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert!(!o(&[]).unwrap().no_new_privileges, "off by default, as in Docker");
        assert!(o(&["no-new-privileges"]).unwrap().no_new_privileges);
        assert!(o(&["no-new-privileges=true"]).unwrap().no_new_privileges);
        assert!(o(&["no-new-privileges:true"]).unwrap().no_new_privileges);
        assert!(!o(&["no-new-privileges", "no-new-privileges=false"]).unwrap().no_new_privileges);
        assert!(o(&["no-new-privileges=maybe"]).is_err());
        assert_eq!(o(&["seccomp=unconfined"]).unwrap().seccomp, SeccompChoice::Unconfined);
        assert!(o(&["label=disable"]).is_ok());
        assert!(o(&["apparmor=x"]).is_err());
    }

    #[test]
    fn env_flags_and_files() {
        assert_eq!(expand_env("X", |_| Some("host".into())).unwrap(), "X=host");
        assert!(expand_env("=v", |_| None).is_err());
        let parsed = parse_env_file("# comment\nA=1\n\nB\n", |k| (k == "B").then(|| "b".into())).unwrap();
        assert_eq!(parsed, ["A=1", "B=b"]);
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("1.5h").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        assert_eq!(parse_duration("2us").unwrap(), Duration::from_micros(2));
        for bad in ["", "10", "s", "1x", "-1s", "1.2.3s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn timestamps_like_docker() {
        let now = 1_700_000_000_000_000_000;
        assert_eq!(parse_timestamp("10m", now).unwrap(), now - 600_000_000_000);
        assert_eq!(parse_timestamp("0s", now).unwrap(), now);
        assert_eq!(parse_timestamp("1700000000", now).unwrap(), 1_700_000_000_000_000_000);
        assert_eq!(parse_timestamp("1700000000.25", now).unwrap(), 1_700_000_000_250_000_000);
        assert_eq!(parse_timestamp("2023-11-14T22:13:20Z", now).unwrap(), 1_700_000_000_000_000_000);
        assert_eq!(parse_timestamp("2023-11-14T23:13:20.5+01:00", now).unwrap(), 1_700_000_000_500_000_000);
        assert!(parse_timestamp("2023-11-14", now).is_ok());
        assert!(parse_timestamp("2023-11-14T22:13", now).is_ok());
        assert!(parse_timestamp("yesterday", now).is_err());
        assert!(parse_timestamp("1.2.3", now).is_err());
    }

    #[test]
    fn platforms_parse() {
        assert_eq!(parse_platform("linux/arm64").unwrap().describe(), "linux/arm64");
        assert_eq!(parse_platform("linux/arm/v7").unwrap().variant().as_deref(), Some("v7"));
        assert!(parse_platform("arm64").is_err());
        assert!(parse_platform("linux/").is_err());
        assert!(parse_platform("bogus").is_err());
        assert!(parse_platform("linux/ARM64").is_err());
        assert!(parse_platform("linux/amd64/v2/x").is_err());
        assert_eq!(parse_platform("linux/x86_64").unwrap().architecture().to_string(), "amd64");
    }

    #[test]
    fn cdi_names() {
        assert!(is_cdi_name("nvidia.com/gpu=0") && !is_cdi_name("/dev/fuse") && !is_cdi_name("/dev/x=y"));
    }
}
