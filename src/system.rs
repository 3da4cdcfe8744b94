//! What rrun is and where it runs: `rrun version` and `rrun info`.

use crate::container::Status;
use crate::{Error, Rrun};
use serde::Serialize;

/// The OCI runtime spec version rrun implements.
pub const OCI_SPEC_VERSION: &str = "1.0.2";

/// What this build of rrun is ([`Rrun::version`], `rrun version`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct VersionInfo {
    /// rrun's version (the crate's).
    pub version: &'static str,
    /// The git commit built (`unknown` outside a checkout).
    pub git_commit: &'static str,
    /// The OCI runtime spec version rrun implements.
    #[serde(rename = "OCISpecVersion")]
    pub oci_spec_version: &'static str,
    /// The Rust compiler that built it.
    pub rust_version: &'static str,
    /// The libseccomp rrun loads filters with (`unknown` when not found).
    pub libseccomp: String,
    /// The operating system (`linux`).
    pub os: &'static str,
    /// The host architecture, as OCI names it (`amd64`, `arm64`, …).
    pub arch: &'static str,
}

/// The version of this build.
fn version() -> VersionInfo {
    VersionInfo {
        version: env!("CARGO_PKG_VERSION"),
        git_commit: env!("RRUN_COMMIT"),
        oci_spec_version: OCI_SPEC_VERSION,
        rust_version: env!("RRUN_RUSTC_VERSION"),
        libseccomp: crate::launcher::seccomp::libseccomp_version().unwrap_or_else(|| "unknown".into()),
        os: std::env::consts::OS,
        arch: crate::spec::seccomp::host_arch(),
    }
}

/// `rrun info`: the host, the store and the runtime.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Info {
    /// The machine: kernel, CPUs, memory, cgroups, security options.
    pub host: HostInfo,
    /// The store: where it is and what it holds.
    pub store: StoreInfo,
    /// This build of rrun.
    pub version: VersionInfo,
}

/// The host part of `rrun info`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct HostInfo {
    /// The host's name (`gethostname`).
    pub hostname: String,
    /// The kernel release (`uname -r`).
    pub kernel: String,
    /// `PRETTY_NAME` of /etc/os-release.
    pub operating_system: String,
    /// The host architecture, as OCI names it (`amd64`, `arm64`, …).
    pub arch: &'static str,
    /// CPUs this process may use.
    #[serde(rename = "CPUs")]
    pub cpus: usize,
    /// `MemTotal` of /proc/meminfo, in bytes (0 when unreadable).
    pub mem_total: u64,
    /// `v1`, `v2`, `hybrid` or `none`.
    pub cgroup_version: &'static str,
    /// The controllers rrun can drive, with where each is mounted.
    pub cgroup_controllers: Vec<String>,
    /// `seccomp`, `apparmor`, `selinux`, `rootless` where they apply.
    pub security_options: Vec<String>,
    /// rrun runs as an ordinary user, or as root inside its rootless user namespace.
    pub rootless: bool,
    /// For an ordinary user: the rootless setup found, and what is missing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rootless_setup: Option<RootlessSetup>,
}

/// `rrun info` of an ordinary user: how its containers are isolated, and the
/// fix for each thing missing.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RootlessSetup {
    /// `ranges` (subordinate ids mapped) or `single-id`.
    pub id_mapping: &'static str,
    /// The user namespace's user ID maps, `container:host:count` each.
    pub uid_map: Vec<String>,
    /// The user namespace's group ID maps, `container:host:count` each.
    pub gid_map: Vec<String>,
    /// How container root filesystems are stacked.
    pub overlay: String,
    /// `none`, or where limits can be applied.
    pub cgroup_delegation: String,
    /// The network a container gets without `--network`, and the helper used.
    pub network: String,
    /// What is missing, each with its fix.
    pub missing: Vec<String>,
}

/// The rootless setup of the calling user (as [`crate::rootless::probe`]
/// finds it), on a host whose cgroup layout is `layout`.
pub fn rootless_setup(layout: &str) -> RootlessSetup {
    use crate::rootless::Mapping;
    let r = crate::rootless::active().cloned().unwrap_or_else(crate::rootless::probe);
    let mut missing = Vec::new();
    let (id_mapping, uid_map, gid_map) = match &r.mapping {
        Mapping::Ranges { uids, gids } => (
            "ranges",
            vec![format!("0:{}:1", r.uid), format!("1:{}:{}", uids.0, uids.1)],
            vec![format!("0:{}:1", r.gid), format!("1:{}:{}", gids.0, gids.1)],
        ),
        Mapping::Single { .. } => {
            missing.extend(r.single_id_warning());
            ("single-id", vec![format!("0:{}:1", r.uid)], vec![format!("0:{}:1", r.gid)])
        }
    };
    let kernel = nix::sys::utsname::uname()
        .ok()
        .and_then(|u| {
            let rel = u.release().to_string_lossy().into_owned();
            let mut n = rel.split(|c: char| !c.is_ascii_digit()).filter_map(|x| x.parse::<u32>().ok());
            Some((n.next()?, n.next()?))
        })
        .unwrap_or((0, 0));
    let fuse = crate::rootless::fuse_overlayfs();
    let overlay = match (&fuse, kernel >= (5, 11)) {
        (Some(f), _) if crate::rootless::fuse_overlay_wanted() => {
            format!("fuse-overlayfs ({}), as RRUN_ROOTLESS_OVERLAY=fuse asks", f.display())
        }
        (_, true) => "kernel overlayfs in the user namespace (userxattr; fuse-overlayfs where it is refused)".into(),
        (Some(f), false) => format!(
            "fuse-overlayfs ({}): kernel {}.{} cannot mount overlayfs in a user namespace (5.11 can)",
            f.display(),
            kernel.0,
            kernel.1
        ),
        (None, false) => {
            missing.push(format!(
                "kernel {}.{} cannot mount overlayfs in a user namespace (5.11 can): install fuse-overlayfs",
                kernel.0, kernel.1
            ));
            "unavailable: overlayfs in a user namespace needs Linux 5.11, or fuse-overlayfs".to_string()
        }
    };
    let delegation = match crate::cgroups::Layout::detect().map(|l| crate::cgroups::delegated(&l)) {
        Ok(Ok(dir)) => format!("{} (cgroup v2, delegated: limits work)", dir.display()),
        Ok(Err(why)) => {
            missing.push(format!("resource limits (--memory, --cpus, --pids-limit…): {why}"));
            "none".to_string()
        }
        Err(_) => {
            missing.push(format!(
                "resource limits (--memory, --cpus, --pids-limit…): {}",
                crate::cgroups::none::why(layout)
            ));
            "none".to_string()
        }
    };
    let network = match crate::network::pasta::unavailable() {
        None => "pasta (a network namespace of its own, connected through pasta; -p forwarded by it)".to_string(),
        Some(why) => {
            missing.push(format!("outbound network and -p: {why}; until then --network host shares the host's"));
            format!("a network namespace of its own with loopback only (or --network host): {why}")
        }
    };
    RootlessSetup { id_mapping, uid_map, gid_map, overlay, cgroup_delegation: delegation, network, missing }
}

/// The store part of `rrun info`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StoreInfo {
    /// The store's directory (`--root`).
    pub root: std::path::PathBuf,
    /// The OCI state root of runc's verbs.
    pub oci_root: std::path::PathBuf,
    /// How container root filesystems are stacked: always `overlay`.
    pub graph_driver: &'static str,
    /// How many images the store holds (one per manifest, however many names).
    pub images: usize,
    /// How many containers exist, in any state.
    pub containers: usize,
    /// How many are running.
    pub containers_running: usize,
    /// How many are paused.
    pub containers_paused: usize,
    /// How many are created or exited.
    pub containers_stopped: usize,
}

/// The CDI devices of the spec directories ([`Rrun::cdi_devices`], `rrun cdi list`).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CdiDevices {
    /// The devices, by name.
    pub devices: Vec<crate::CdiDevice>,
    /// The spec files that could not be read, and why (their devices are left out).
    pub errors: Vec<crate::CdiError>,
}

impl Rrun {
    /// What this build of rrun is: its version, commit, and the libseccomp it uses.
    pub fn version() -> VersionInfo {
        version()
    }

    /// The CDI devices the spec files of `dirs` define (empty: the default
    /// directories, `/etc/cdi` and `/var/run/cdi`). Needs no store.
    pub fn cdi_devices(dirs: &[std::path::PathBuf]) -> CdiDevices {
        let dirs = if dirs.is_empty() { crate::cdi::Registry::default_dirs() } else { dirs.to_vec() };
        let reg = crate::cdi::Registry::load(&dirs);
        CdiDevices { devices: reg.devices(), errors: reg.errors().to_vec() }
    }

    /// Everything `rrun info` shows.
    pub fn info(&self) -> Result<Info, Error> {
        let containers = self.containers()?;
        let count = |s: &[Status]| containers.iter().filter(|c| s.contains(&c.status)).count();
        let images = {
            let _lock = self.store().lock_shared()?;
            self.store().read_index()?.images.len()
        };
        let uname = nix::sys::utsname::uname().ok();
        let os = std::fs::read_to_string("/etc/os-release")
            .ok()
            .and_then(|t| {
                t.lines().find_map(|l| l.strip_prefix("PRETTY_NAME=").map(|v| v.trim_matches('"').to_string()))
            })
            .unwrap_or_else(|| "unknown".into());
        let layout = crate::cgroups::Layout::detect().unwrap_or_default();
        let mut controllers: Vec<String> = layout.v1.iter().flat_map(|(c, _)| c.clone()).collect();
        if let Some((_, v2)) = &layout.v2 {
            controllers.extend(v2.iter().cloned());
        }
        controllers.retain(|c| !c.starts_with("name="));
        controllers.sort();
        controllers.dedup();
        let rootless = !nix::unistd::Uid::effective().is_root() || crate::rootless::active().is_some();
        let mut security = vec!["seccomp".to_string()];
        if std::path::Path::new("/sys/kernel/security/apparmor").exists() {
            security.push("apparmor".into());
        }
        if std::path::Path::new("/sys/fs/selinux/enforce").exists() {
            security.push("selinux".into());
        }
        if rootless {
            security.push("rootless".into());
        }
        Ok(Info {
            host: HostInfo {
                hostname: nix::unistd::gethostname().map(|h| h.to_string_lossy().into_owned()).unwrap_or_default(),
                kernel: uname.as_ref().map(|u| u.release().to_string_lossy().into_owned()).unwrap_or_default(),
                operating_system: os,
                arch: crate::spec::seccomp::host_arch(),
                cpus: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
                mem_total: mem_total().unwrap_or(0),
                cgroup_version: layout.describe(),
                cgroup_controllers: controllers,
                security_options: security,
                rootless,
                rootless_setup: rootless.then(|| rootless_setup(layout.describe())),
            },
            store: StoreInfo {
                root: self.store().root().to_path_buf(),
                oci_root: crate::oci::Runtime::default_root(),
                graph_driver: "overlay",
                images,
                containers: containers.len(),
                containers_running: count(&[Status::Running]),
                containers_paused: count(&[Status::Paused]),
                containers_stopped: count(&[Status::Exited, Status::Created]),
            },
            version: version(),
        })
    }
}

/// `MemTotal` of /proc/meminfo, in bytes.
fn mem_total() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kb: u64 =
        text.lines().find_map(|l| l.strip_prefix("MemTotal:"))?.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    #[test]
    fn version_names_this_build() {
        let v = super::version();
        assert_eq!(v.version, env!("CARGO_PKG_VERSION"));
        assert_eq!(v.oci_spec_version, "1.0.2");
        assert!(!v.rust_version.is_empty());
        assert!(v.libseccomp.split('.').count() == 3 || v.libseccomp == "unknown");
        assert!(super::mem_total().unwrap() > 0);
    }
}
