//! The smaller `run` flags, parsed as Docker parses them: `--ulimit`,
//! `--sysctl`, `--ipc`/`--pid`/`--uts`, `--label`/`--label-file`,
//! `--group-add`, `--oom-score-adj`, `--security-opt`.

use super::SpecError;
use oci_spec::runtime::{LinuxNamespaceType, PosixRlimitType};
use std::collections::BTreeMap;

fn invalid(flag: &str, value: &str, reason: impl Into<String>) -> SpecError {
    SpecError::Invalid { flag: flag.to_string(), value: value.to_string(), reason: reason.into() }
}

/// `--ulimit NAME=SOFT[:HARD]`; `-1` or `unlimited` is no limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ulimit {
    /// The resource, by Docker's name (`nofile`, `nproc`, …).
    pub name: String,
    /// `u64::MAX` (RLIM_INFINITY) when unlimited.
    pub soft: u64,
    /// The hard limit; `u64::MAX` when unlimited.
    pub hard: u64,
}

/// The resources `--ulimit` knows, by Docker's names.
pub const ULIMITS: [(&str, PosixRlimitType); 16] = [
    ("as", PosixRlimitType::RlimitAs),
    ("core", PosixRlimitType::RlimitCore),
    ("cpu", PosixRlimitType::RlimitCpu),
    ("data", PosixRlimitType::RlimitData),
    ("fsize", PosixRlimitType::RlimitFsize),
    ("locks", PosixRlimitType::RlimitLocks),
    ("memlock", PosixRlimitType::RlimitMemlock),
    ("msgqueue", PosixRlimitType::RlimitMsgqueue),
    ("nice", PosixRlimitType::RlimitNice),
    ("nofile", PosixRlimitType::RlimitNofile),
    ("nproc", PosixRlimitType::RlimitNproc),
    ("rss", PosixRlimitType::RlimitRss),
    ("rtprio", PosixRlimitType::RlimitRtprio),
    ("rttime", PosixRlimitType::RlimitRttime),
    ("sigpending", PosixRlimitType::RlimitSigpending),
    ("stack", PosixRlimitType::RlimitStack),
];

impl Ulimit {
    /// The OCI rlimit type of `name`.
    pub fn rlimit_type(&self) -> PosixRlimitType {
        ULIMITS.iter().find(|(n, _)| *n == self.name).map(|(_, t)| *t).expect("parsed names are known")
    }

    /// The `RLIMIT_*` number of the kernel.
    #[allow(clippy::unnecessary_cast)] // u32 with glibc, i32 with musl
    pub fn resource(&self) -> u32 {
        use PosixRlimitType::*;
        (match self.rlimit_type() {
            RlimitAs => libc::RLIMIT_AS,
            RlimitCore => libc::RLIMIT_CORE,
            RlimitCpu => libc::RLIMIT_CPU,
            RlimitData => libc::RLIMIT_DATA,
            RlimitFsize => libc::RLIMIT_FSIZE,
            RlimitLocks => libc::RLIMIT_LOCKS,
            RlimitMemlock => libc::RLIMIT_MEMLOCK,
            RlimitMsgqueue => libc::RLIMIT_MSGQUEUE,
            RlimitNice => libc::RLIMIT_NICE,
            RlimitNofile => libc::RLIMIT_NOFILE,
            RlimitNproc => libc::RLIMIT_NPROC,
            RlimitRss => libc::RLIMIT_RSS,
            RlimitRtprio => libc::RLIMIT_RTPRIO,
            RlimitRttime => libc::RLIMIT_RTTIME,
            RlimitSigpending => libc::RLIMIT_SIGPENDING,
            RlimitStack => libc::RLIMIT_STACK,
        }) as u32
    }
}

impl std::str::FromStr for Ulimit {
    type Err = SpecError;
    fn from_str(s: &str) -> Result<Self, SpecError> {
        let bad = |reason: String| invalid("--ulimit", s, reason);
        let (name, values) = s.split_once('=').ok_or_else(|| bad("expected NAME=SOFT[:HARD]".into()))?;
        if !ULIMITS.iter().any(|(n, _)| *n == name) {
            let names: Vec<&str> = ULIMITS.iter().map(|(n, _)| *n).collect();
            return Err(bad(format!("unknown limit {name:?}; known: {}", names.join(", "))));
        }
        let value = |v: &str| -> Result<u64, SpecError> {
            match v {
                "-1" | "unlimited" => Ok(u64::MAX),
                n => n.parse::<u64>().map_err(|_| bad(format!("{n:?} is not a number (or -1 for unlimited)"))),
            }
        };
        let (soft, hard) = match values.split(':').collect::<Vec<_>>().as_slice() {
            [soft] => (value(soft)?, value(soft)?),
            [soft, hard] => (value(soft)?, value(hard)?),
            _ => return Err(bad("too many values: expected SOFT[:HARD]".into())),
        };
        if soft > hard {
            let show = |v: u64| if v == u64::MAX { "unlimited".to_string() } else { v.to_string() };
            return Err(bad(format!(
                "the soft limit must be less than or equal to the hard limit: {} > {}",
                show(soft),
                show(hard)
            )));
        }
        Ok(Ulimit { name: name.to_string(), soft, hard })
    }
}

/// `--ipc`, `--pid`, `--uts`: whose namespace the container uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum NamespaceMode {
    /// A new namespace of its own (the default).
    #[default]
    Private,
    /// `--ipc shareable`: its own, which other containers may join.
    Shareable,
    /// `--ipc none`: its own IPC namespace, without `/dev/shm`.
    None,
    /// The host's.
    Host,
    /// `container:NAME`: that running container's.
    Container(String),
}

impl NamespaceMode {
    /// Parses the value of `flag`; `ipc` also takes `shareable` and `none`.
    pub fn parse(flag: &str, s: &str) -> Result<NamespaceMode, SpecError> {
        Ok(match s {
            "" | "private" => NamespaceMode::Private,
            "host" => NamespaceMode::Host,
            "shareable" if flag == "--ipc" => NamespaceMode::Shareable,
            "none" if flag == "--ipc" => NamespaceMode::None,
            c if c.starts_with("container:") && c.len() > "container:".len() => {
                NamespaceMode::Container(c["container:".len()..].to_string())
            }
            _ => {
                let allowed = if flag == "--ipc" {
                    "private, shareable, none, host or container:NAME"
                } else {
                    "private, host or container:NAME"
                };
                return Err(invalid(flag, s, format!("expected {allowed}")));
            }
        })
    }

    /// True when the container gets a namespace of its own.
    pub fn is_own(&self) -> bool {
        matches!(self, NamespaceMode::Private | NamespaceMode::Shareable | NamespaceMode::None)
    }
}

impl std::fmt::Display for NamespaceMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NamespaceMode::Private => f.write_str("private"),
            NamespaceMode::Shareable => f.write_str("shareable"),
            NamespaceMode::None => f.write_str("none"),
            NamespaceMode::Host => f.write_str("host"),
            NamespaceMode::Container(c) => write!(f, "container:{c}"),
        }
    }
}

/// The IPC sysctls, which belong to the IPC namespace.
const IPC_SYSCTLS: [&str; 8] = [
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// The namespace a sysctl belongs to, as runc and Docker decide it: IPC ones
/// (`kernel.msg*`, `kernel.sem`, `kernel.shm*`, `fs.mqueue.*`), network ones
/// (`net.*`), `kernel.domainname` (UTS). Anything else is the host kernel's:
/// an error saying why.
pub fn sysctl_namespace(key: &str) -> Result<(LinuxNamespaceType, &'static str), String> {
    if IPC_SYSCTLS.contains(&key) || key.starts_with("fs.mqueue.") {
        Ok((LinuxNamespaceType::Ipc, "IPC"))
    } else if key.starts_with("net.") {
        Ok((LinuxNamespaceType::Network, "network"))
    } else if key == "kernel.domainname" {
        Ok((LinuxNamespaceType::Uts, "UTS"))
    } else if key == "kernel.hostname" {
        Err("sysctl kernel.hostname is not allowed: use the hostname field".into())
    } else {
        Err(format!("sysctl {key:?} is not in a namespace of the container's own: it would change the host"))
    }
}

/// `--oom-score-adj`: -1000..=1000.
pub fn check_oom_score_adj(n: i32) -> Result<i32, SpecError> {
    if (-1000..=1000).contains(&n) {
        Ok(n)
    } else {
        Err(invalid("--oom-score-adj", &n.to_string(), "must be between -1000 and 1000"))
    }
}

/// `--group-add`: group names (from the image's `/etc/group`) or numbers.
pub fn resolve_group_add(groups: &[String], group_file: &str) -> Result<Vec<u32>, SpecError> {
    let mut out = Vec::new();
    for g in groups {
        let gid = match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => group_file
                .lines()
                .filter(|l| !l.starts_with('#'))
                .find_map(|l| {
                    let f: Vec<&str> = l.split(':').collect();
                    (f.len() >= 3 && f[0] == g).then(|| f[2].parse::<u32>().ok()).flatten()
                })
                .ok_or_else(|| SpecError::UnknownGroup(g.clone()))?,
        };
        if !out.contains(&gid) {
            out.push(gid);
        }
    }
    Ok(out)
}

/// Labels merged in order: the image's, then each later list's (later wins).
pub fn merge_labels<'a>(
    image: Option<&BTreeMap<String, String>>,
    given: impl IntoIterator<Item = &'a (String, String)>,
) -> BTreeMap<String, String> {
    let mut out = image.cloned().unwrap_or_default();
    for (k, v) in given {
        out.insert(k.clone(), v.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulimits_parse_like_docker() {
        let u: Ulimit = "nofile=1024:2048".parse().unwrap();
        assert_eq!((u.name.as_str(), u.soft, u.hard), ("nofile", 1024, 2048));
        assert_eq!(u.rlimit_type(), PosixRlimitType::RlimitNofile);
        assert_eq!(i64::from(u.resource()), libc::RLIMIT_NOFILE as i64);
        let u: Ulimit = "core=0".parse().unwrap();
        assert_eq!((u.soft, u.hard), (0, 0));
        let u: Ulimit = "memlock=-1:-1".parse().unwrap();
        assert_eq!((u.soft, u.hard), (u64::MAX, u64::MAX));
        let u: Ulimit = "stack=8192:unlimited".parse().unwrap();
        assert_eq!((u.soft, u.hard), (8192, u64::MAX));
        let e = "nofile=2048:1024".parse::<Ulimit>().unwrap_err().to_string();
        assert!(e.contains("2048 > 1024"), "{e}");
        assert!("nofile=-1:1024".parse::<Ulimit>().unwrap_err().to_string().contains("unlimited > 1024"));
        assert!("bogus=1".parse::<Ulimit>().unwrap_err().to_string().contains("unknown limit \"bogus\""));
        assert!("nofile".parse::<Ulimit>().unwrap_err().to_string().contains("NAME=SOFT[:HARD]"));
        assert!("nofile=1:2:3".parse::<Ulimit>().is_err());
        assert!("nofile=many".parse::<Ulimit>().unwrap_err().to_string().contains("\"many\""));
        assert!("nofile=-2".parse::<Ulimit>().is_err());
    }

    #[test]
    fn namespace_modes() {
        assert_eq!(NamespaceMode::parse("--ipc", "").unwrap(), NamespaceMode::Private);
        assert_eq!(NamespaceMode::parse("--ipc", "shareable").unwrap(), NamespaceMode::Shareable);
        assert_eq!(NamespaceMode::parse("--ipc", "none").unwrap(), NamespaceMode::None);
        assert_eq!(NamespaceMode::parse("--pid", "host").unwrap(), NamespaceMode::Host);
        assert_eq!(NamespaceMode::parse("--uts", "container:web").unwrap(), NamespaceMode::Container("web".into()));
        assert!(NamespaceMode::parse("--pid", "shareable").is_err(), "shareable is an IPC mode");
        assert!(NamespaceMode::parse("--pid", "container:").is_err());
        let e = NamespaceMode::parse("--uts", "bogus").unwrap_err().to_string();
        assert!(e.contains("--uts") && e.contains("bogus"), "{e}");
        assert!(NamespaceMode::Shareable.is_own() && !NamespaceMode::Host.is_own());
        assert_eq!(NamespaceMode::Container("x".into()).to_string(), "container:x");
    }

    #[test]
    fn sysctls_must_be_namespaced() {
        assert_eq!(sysctl_namespace("kernel.sem").unwrap().0, LinuxNamespaceType::Ipc);
        assert_eq!(sysctl_namespace("net.core.somaxconn").unwrap().0, LinuxNamespaceType::Network);
    }

    #[test]
    fn labels_groups_and_scores() {
        let file = [("a".to_string(), "1".to_string()), ("b".to_string(), "2".to_string())];
        let image = BTreeMap::from([("a".to_string(), "image".to_string()), ("i".to_string(), "x".to_string())]);
        let merged = merge_labels(Some(&image), &file);
        assert_eq!(merged.get("a").map(String::as_str), Some("1"), "given labels win over the image's");
        assert_eq!(merged.get("i").map(String::as_str), Some("x"));
        let group = "root:x:0:\nstaff:x:50:alice\n";
        assert_eq!(resolve_group_add(&["staff".into(), "1234".into(), "50".into()], group).unwrap(), [50, 1234]);
        assert_eq!(resolve_group_add(&["nope".into()], group), Err(SpecError::UnknownGroup("nope".into())));
        assert_eq!(check_oom_score_adj(-500).unwrap(), -500);
        assert!(check_oom_score_adj(1001).is_err());
    }
}
