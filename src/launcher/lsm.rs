//! Linux security modules: a process's AppArmor profile
//! (`process.apparmorProfile`) and SELinux label (`process.selinuxLabel`),
//! and the SELinux context of the container's mounts (`linux.mountLabel`).
//!
//! A label is applied where the host runs that module, and refused before
//! anything starts where it does not: a container that asked for confinement
//! never runs unconfined.

use super::{ChildError, LaunchError};
use oci_spec::runtime::Process;
use std::path::Path;

/// AppArmor is enabled (runc's test: the module says so and securityfs shows it).
pub fn apparmor_enabled() -> bool {
    Path::new("/sys/kernel/security/apparmor").is_dir()
        && std::fs::read_to_string("/sys/module/apparmor/parameters/enabled").is_ok_and(|s| s.trim() == "Y")
}

/// SELinux is enabled (selinuxfs is mounted, and the process has a context).
pub fn selinux_enabled() -> bool {
    Path::new("/sys/fs/selinux/enforce").exists()
        && std::fs::read_to_string("/proc/self/attr/current").is_ok_and(|s| {
            let s = s.trim_end_matches(['\0', '\n']);
            !s.is_empty() && s != "kernel" && s != "unconfined"
        })
}

fn set(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|s| !s.is_empty())
}

/// Refuses labels the host cannot apply (checked before the process starts).
pub fn check(process: &Process) -> Result<(), LaunchError> {
    if let Some(p) = set(process.apparmor_profile()) {
        if !apparmor_enabled() {
            return Err(LaunchError::Spec(format!(
                "process.apparmorProfile {p:?}: AppArmor is not enabled on this host \
                 (no /sys/kernel/security/apparmor); refusing to run the process without the profile"
            )));
        }
    }
    if let Some(l) = set(process.selinux_label()) {
        if !selinux_enabled() {
            return Err(LaunchError::Spec(format!(
                "process.selinuxLabel {l:?}: SELinux is not enabled on this host (no /sys/fs/selinux); \
                 refusing to run the process without the label"
            )));
        }
    }
    Ok(())
}

/// Refuses a `linux.mountLabel` the host cannot apply.
pub fn check_mount_label(mount_label: Option<&str>) -> Result<(), LaunchError> {
    if let Some(l) = mount_label.filter(|l| !l.is_empty()) {
        if !selinux_enabled() {
            return Err(LaunchError::Spec(format!(
                "linux.mountLabel {l:?}: SELinux is not enabled on this host (no /sys/fs/selinux); \
                 refusing to mount without the label"
            )));
        }
    }
    Ok(())
}

/// `mountLabel` as a mount option (`context="…"`), added to the data of
/// filesystems that take it, as runc does.
pub fn mount_data(data: &str, fstype: &str, mount_label: Option<&str>) -> String {
    let Some(label) = mount_label.filter(|l| !l.is_empty()) else { return data.to_string() };
    if !matches!(fstype, "tmpfs" | "devpts" | "mqueue" | "shm") || data.contains("context=") {
        return data.to_string();
    }
    let ctx = format!("context=\"{label}\"");
    if data.is_empty() {
        ctx
    } else {
        format!("{data},{ctx}")
    }
}

fn write_attr(paths: &[&str], value: &str, what: &str) -> Result<(), ChildError> {
    let mut last = None;
    for p in paths {
        match std::fs::write(p, value) {
            Ok(()) => {
                crate::step!(super::steps::LSM_LABEL, path = p, value, label = what);
                return Ok(());
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => last = Some(e),
            Err(e) => return Err(ChildError::setup(format!("{what}: write {p}: {e}"))),
        }
    }
    Err(ChildError::setup(format!(
        "{what}: {}",
        last.map(|e| e.to_string()).unwrap_or_else(|| "no attribute file".into())
    )))
}

/// Applies the process's labels for its exec (checked by [`check`] before).
pub(crate) fn apply(process: &Process) -> Result<(), ChildError> {
    if let Some(p) = set(process.apparmor_profile()) {
        write_attr(
            &["/proc/self/attr/apparmor/exec", "/proc/self/attr/exec"],
            &format!("exec {p}"),
            &format!("AppArmor profile {p}"),
        )?;
    }
    if let Some(l) = set(process.selinux_label()) {
        write_attr(&["/proc/self/attr/selinux/exec", "/proc/self/attr/exec"], l, &format!("SELinux label {l}"))?;
        // keys the process makes get its label too
        let _ = std::fs::write("/proc/self/attr/keycreate", l);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::ProcessBuilder;

    #[test]
    fn labels_the_host_lacks_are_refused_and_none_is_fine() {
        let plain = ProcessBuilder::default().build().unwrap();
        assert!(check(&plain).is_ok());
        assert!(check_mount_label(Some("")).is_ok());
        if !apparmor_enabled() {
            let p = ProcessBuilder::default().apparmor_profile("docker-default").build().unwrap();
            let e = check(&p).unwrap_err().to_string();
            assert!(e.contains("apparmorProfile") && e.contains("docker-default") && e.contains("not enabled"), "{e}");
        }
        if !selinux_enabled() {
            let p = ProcessBuilder::default().selinux_label("system_u:system_r:container_t:s0").build().unwrap();
            assert!(check(&p).unwrap_err().to_string().contains("SELinux"));
            assert!(check_mount_label(Some("system_u:object_r:container_file_t:s0")).is_err());
        }
    }

    #[test]
    fn mount_labels_go_to_filesystems_that_take_them() {
        assert_eq!(mount_data("size=1m", "tmpfs", Some("l:s0")), "size=1m,context=\"l:s0\"");
        assert_eq!(mount_data("", "mqueue", Some("l")), "context=\"l\"");
        assert_eq!(mount_data("", "proc", Some("l")), "");
        assert_eq!(mount_data("mode=755", "tmpfs", None), "mode=755");
    }
}
