//! Intel RDT (and AMD's QoS) through the kernel's resctrl filesystem: a
//! Spec's `linux.intelRdt` puts the container in a class of service, a
//! directory under `/sys/fs/resctrl` whose `schemata` sets its share of the
//! L3 cache and memory bandwidth and whose `tasks` lists its processes.
//!
//! rrun joins classes of service that exist (`closID`, made by the
//! administrator, as CDI specs name them); it writes the Spec's schemata into
//! them but does not create or remove them, and refuses monitoring groups.
//! A host without resctrl (no RDT in the CPU, or not mounted) is refused
//! clearly, never ignored.

use oci_spec::runtime::LinuxIntelRdt;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

/// Where resctrl is mounted in this mount namespace, if it is.
pub fn mount_point() -> Option<PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    parse_mount_point(&info)
}

fn parse_mount_point(mountinfo: &str) -> Option<PathBuf> {
    mountinfo.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        let point = left.split_whitespace().nth(4)?;
        (right.split_whitespace().next()? == "resctrl").then(|| PathBuf::from(point))
    })
}

/// The class of service `rdt` names under the resctrl mount `root`, checked:
/// resctrl is there, the group exists, no monitoring is asked for.
pub fn check(rdt: &LinuxIntelRdt, root: Option<&Path>) -> Result<PathBuf, String> {
    let root = root.ok_or(
        "this host has no resctrl filesystem (Intel RDT or AMD QoS): the CPU lacks it, or it is not \
         mounted (mount -t resctrl resctrl /sys/fs/resctrl)",
    )?;
    if *rdt.enable_cmt() == Some(true) || *rdt.enable_mbm() == Some(true) {
        return Err("enableCMT and enableMBM (monitoring groups) are not supported".into());
    }
    let id = rdt.clos_id().as_deref().filter(|id| !id.is_empty()).ok_or_else(|| {
        format!(
            "a closID naming a class of service under {} is needed (rrun joins them, it does not make them)",
            root.display()
        )
    })?;
    if id == "." || id == ".." || id.contains(['/', '\n']) || id.len() >= 4096 {
        return Err(format!("invalid closID {id:?}"));
    }
    let group = root.join(id);
    if !group.join("tasks").is_file() || !group.join("schemata").is_file() {
        return Err(format!(
            "class of service {id:?} does not exist under {} (create it with mkdir {} and write its schemata)",
            root.display(),
            group.display()
        ));
    }
    Ok(group)
}

/// Checks `rdt`, writes its schemata into its group, and opens the group's
/// `tasks` file: the container's init writes `0` (itself) there before it
/// runs anything.
pub fn prepare(rdt: &LinuxIntelRdt, root: Option<&Path>) -> Result<OwnedFd, String> {
    let group = check(rdt, root)?;
    let schemata = group.join("schemata");
    for line in [rdt.l3_cache_schema(), rdt.mem_bw_schema()].into_iter().flatten() {
        // each write sets the resources its line names; the kernel refuses a malformed line
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(&schemata)
            .map_err(|e| format!("open {}: {e}", schemata.display()))?;
        f.write_all(format!("{}\n", line.trim_end()).as_bytes())
            .map_err(|e| format!("write {line:?} to {}: {e}", schemata.display()))?;
    }
    let tasks = group.join("tasks");
    let f =
        std::fs::OpenOptions::new().write(true).open(&tasks).map_err(|e| format!("open {}: {e}", tasks.display()))?;
    Ok(OwnedFd::from(f))
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxIntelRdtBuilder;

    #[test]
    fn the_mount_point_comes_from_mountinfo() {
        let info =
            "22 1 0:21 / /sys rw - sysfs sysfs rw\n40 22 0:38 / /sys/fs/resctrl rw,relatime - resctrl resctrl rw\n";
        assert_eq!(parse_mount_point(info), Some(PathBuf::from("/sys/fs/resctrl")));
        assert_eq!(parse_mount_point("22 1 0:21 / /sys rw - sysfs sysfs rw\n"), None);
    }

    #[test]
    fn classes_of_service_are_joined_not_made() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_path_buf();
        let group = root.join("gpu-clos");
        std::fs::create_dir_all(&group).unwrap();
        std::fs::write(group.join("schemata"), "").unwrap();
        std::fs::write(group.join("tasks"), "").unwrap();
        let rdt = |id: Option<&str>| {
            let mut b = LinuxIntelRdtBuilder::default().l3_cache_schema("L3:0=ff").mem_bw_schema("MB:0=50");
            if let Some(id) = id {
                b = b.clos_id(id);
            }
            b.build().unwrap()
        };
        let e = check(&rdt(Some("gpu-clos")), None).unwrap_err();
        assert!(e.contains("no resctrl filesystem"), "{e}");
        assert!(check(&rdt(None), Some(&root)).unwrap_err().contains("closID"));
        assert!(check(&rdt(Some("other")), Some(&root)).unwrap_err().contains("does not exist"));
        assert!(check(&rdt(Some("..")), Some(&root)).unwrap_err().contains("invalid closID"));
        let monitored = LinuxIntelRdtBuilder::default().clos_id("gpu-clos").enable_cmt(true).build().unwrap();
        assert!(check(&monitored, Some(&root)).unwrap_err().contains("monitoring"));
        let fd = prepare(&rdt(Some("gpu-clos")), Some(&root)).unwrap();
        nix::unistd::write(&fd, b"0").unwrap();
        assert_eq!(std::fs::read_to_string(group.join("tasks")).unwrap(), "0");
        // a plain file keeps the last line written; resctrl merges them
        assert_eq!(std::fs::read_to_string(group.join("schemata")).unwrap(), "MB:0=50\n");
    }
}
