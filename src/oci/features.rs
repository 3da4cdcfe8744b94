//! `features` (what this runtime supports, runtime-spec features.md) and
//! `spec` (a starting config.json, as `runc spec` writes it).

use oci_spec::runtime::Spec;
use serde_json::{json, Value};

/// The mount options `mount_one` understands.
const MOUNT_OPTIONS: &[&str] = &[
    "async",
    "atime",
    "bind",
    "defaults",
    "dev",
    "diratime",
    "dirsync",
    "exec",
    "mand",
    "noatime",
    "nodev",
    "nodiratime",
    "noexec",
    "nomand",
    "norelatime",
    "nostrictatime",
    "nosuid",
    "private",
    "rbind",
    "relatime",
    "remount",
    "ro",
    "rprivate",
    "rshared",
    "rslave",
    "runbindable",
    "rw",
    "shared",
    "slave",
    "strictatime",
    "suid",
    "sync",
    "unbindable",
];

/// The runtime-spec features document for rrun.
pub fn features() -> Value {
    let caps: Vec<String> = caps::all().iter().map(|c| c.to_string()).collect();
    json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": super::OCI_VERSION,
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": MOUNT_OPTIONS,
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"],
            "capabilities": caps,
            "cgroup": { "v1": true, "v2": true, "systemd": false, "systemdUser": false, "rdma": false },
            "seccomp": {
                "enabled": true,
                "actions": [
                    "SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD",
                    "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP",
                ],
                "operators": [
                    "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ",
                    "SCMP_CMP_NE",
                ],
                "archs": [
                    "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM", "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32",
                    "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64",
                    "SCMP_ARCH_PPC64LE", "SCMP_ARCH_RISCV64", "SCMP_ARCH_S390", "SCMP_ARCH_S390X", "SCMP_ARCH_X32",
                    "SCMP_ARCH_X86", "SCMP_ARCH_X86_64",
                ],
                "knownFlags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_LOG"],
                "supportedFlags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_LOG"],
            },
            "apparmor": { "enabled": crate::launcher::lsm::apparmor_enabled() },
            "selinux": { "enabled": crate::launcher::lsm::selinux_enabled() },
            // an existing class of service (closID) is joined where the host mounts resctrl
            "intelRdt": { "enabled": crate::cgroups::resctrl::mount_point().is_some() },
            "memoryPolicy": {
                "modes": [
                    "MPOL_DEFAULT", "MPOL_BIND", "MPOL_INTERLEAVE", "MPOL_WEIGHTED_INTERLEAVE", "MPOL_PREFERRED",
                    "MPOL_PREFERRED_MANY", "MPOL_LOCAL",
                ],
                "flags": ["MPOL_F_NUMA_BALANCING", "MPOL_F_RELATIVE_NODES", "MPOL_F_STATIC_NODES"],
            },
            "mountExtensions": { "idmap": { "enabled": true } },
        },
        "annotations": {
            "org.opencontainers.runc.checkpoint.enabled": "true",
            "io.github.rrun.version": env!("CARGO_PKG_VERSION"),
        },
    })
}

/// A starting `config.json`, exactly as `runc spec` writes it (a shell on a
/// terminal, a read-only `rootfs`, the usual namespaces and mounts), but for
/// the hostname; with `rootless`, as `runc spec --rootless`: a user namespace
/// mapping root to the caller, no network namespace, /sys bound from the host.
pub fn default_spec_text(rootless: bool) -> String {
    if !rootless {
        return include_str!("spec.json").to_string();
    }
    let uid = nix::unistd::Uid::current().as_raw();
    let gid = nix::unistd::Gid::current().as_raw();
    include_str!("spec-rootless.json")
        .replace("\"hostID\": 4294967294", &format!("\"hostID\": {uid}"))
        .replace("\"hostID\": 4294967295", &format!("\"hostID\": {gid}"))
}

/// [`default_spec_text`] as a Spec.
pub fn default_spec(rootless: bool) -> Spec {
    serde_json::from_str(&default_spec_text(rootless)).expect("the built-in spec parses")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_name_what_rrun_does() {
        let f = features();
        assert_eq!(f["ociVersionMax"], super::super::OCI_VERSION);
        assert!(f["linux"]["namespaces"].as_array().unwrap().iter().any(|n| n == "user"));
        assert!(f["linux"]["capabilities"].as_array().unwrap().iter().any(|c| c == "CAP_SYS_ADMIN"));
        assert!(f["hooks"].as_array().unwrap().len() == 6);
    }

    #[test]
    fn default_specs_parse_back() {
        for rootless in [false, true] {
            let s = default_spec(rootless);
            let text = serde_json::to_string(&s).unwrap();
            let back: Spec = serde_json::from_str(&text).unwrap();
            assert_eq!(back.process().as_ref().unwrap().args().as_ref().unwrap()[0], "sh");
            let ns: Vec<_> =
                back.linux().as_ref().unwrap().namespaces().as_ref().unwrap().iter().map(|n| n.typ()).collect();
            assert_eq!(ns.contains(&oci_spec::runtime::LinuxNamespaceType::User), rootless);
            assert_eq!(back.process().as_ref().unwrap().terminal(), Some(true), "runc's spec asks for a terminal");
            let uid = nix::unistd::Uid::current().as_raw();
            if rootless {
                let maps = back.linux().as_ref().unwrap().uid_mappings().clone().unwrap();
                assert_eq!(maps[0].host_id(), uid);
            }
        }
    }
}
