//! Container edits applied to an OCI Spec, exactly as the reference
//! implementation applies them (`ContainerEdits.Apply`): environment
//! (replacing a variable of the same name), device nodes (type and numbers
//! taken from the host node when the spec leaves them out, each allowed in
//! the device cgroup with its permissions), mounts (replacing one at the same
//! place, then every mount ordered parents first), hooks (appended to their
//! list), Intel RDT, and additional groups.

use super::schema::{ContainerEdits, DeviceNode};
use super::CdiError;
use oci_spec::runtime::{
    Hook, HookBuilder, LinuxDevice, LinuxDeviceBuilder, LinuxDeviceCgroupBuilder, LinuxDeviceType,
    LinuxIntelRdtBuilder, Mount, MountBuilder, Spec,
};
use std::path::{Component, Path};

fn edit(what: impl Into<String>, reason: impl Into<String>) -> CdiError {
    CdiError::Edit { what: what.into(), reason: reason.into() }
}

/// Applies `edits` to `spec`. `resctrl` is where the host mounts resctrl
/// (an `intelRdt` edit is refused without it). On error the Spec is unchanged.
pub fn apply(spec: &mut Spec, edits: &ContainerEdits, resctrl: Option<&Path>) -> Result<(), CdiError> {
    if let Some(nd) = edits.net_devices.first() {
        return Err(edit(
            format!("netDevices {}", nd.host_interface_name),
            "moving a host network interface into the container is not supported by rrun",
        ));
    }
    let mut process = spec.process().clone().unwrap_or_default();
    let mut env = process.env().clone().unwrap_or_default();
    for kv in &edits.env {
        let key = kv.split_once('=').map(|(k, _)| k).unwrap_or(kv);
        match env.iter_mut().find(|e| e.split_once('=').map(|(k, _)| k) == Some(key)) {
            Some(slot) => *slot = kv.clone(),
            None => env.push(kv.clone()),
        }
    }
    process.set_env(Some(env));

    let mut linux = spec.linux().clone().unwrap_or_default();
    let mut devices = linux.devices().clone().unwrap_or_default();
    let mut resources = linux.resources().clone().unwrap_or_default();
    let mut rules = resources.devices().clone().unwrap_or_default();
    let (uid, gid) = (process.user().uid(), process.user().gid());
    for n in &edits.device_nodes {
        let dev = device(n, uid, gid)?;
        if matches!(dev.typ(), LinuxDeviceType::B | LinuxDeviceType::C) {
            let access = n.permissions.clone().filter(|p| !p.is_empty()).unwrap_or_else(|| "rwm".into());
            rules.push(
                LinuxDeviceCgroupBuilder::default()
                    .allow(true)
                    .typ(dev.typ())
                    .major(dev.major())
                    .minor(dev.minor())
                    .access(access)
                    .build()
                    .map_err(|e| edit(format!("device node {}", n.path), e.to_string()))?,
            );
        }
        devices.retain(|d| d.path() != dev.path());
        devices.push(dev);
    }
    resources.set_devices(Some(rules));
    linux.set_resources(Some(resources));
    linux.set_devices(Some(devices));

    let mut mounts = spec.mounts().clone().unwrap_or_default();
    for m in &edits.mounts {
        let mut b = MountBuilder::default().source(&m.host_path).destination(&m.container_path);
        if let Some(t) = m.typ.as_deref().filter(|t| !t.is_empty()) {
            b = b.typ(t);
        }
        if !m.options.is_empty() {
            b = b.options(m.options.clone());
        }
        let mount = b.build().map_err(|e| edit(format!("mount {}", m.container_path), e.to_string()))?;
        mounts.retain(|x| x.destination() != mount.destination());
        mounts.push(mount);
    }
    if !edits.mounts.is_empty() {
        // the reference's order: by depth, parents first, equal depths as they were
        mounts.sort_by_key(|m: &Mount| depth(m.destination()));
    }

    let mut hooks = spec.hooks().clone().unwrap_or_default();
    for h in &edits.hooks {
        let mut b = HookBuilder::default().path(&h.path);
        if !h.args.is_empty() {
            b = b.args(h.args.clone());
        }
        if !h.env.is_empty() {
            b = b.env(h.env.clone());
        }
        if let Some(t) = h.timeout {
            b = b.timeout(t);
        }
        let hook = b.build().map_err(|e| edit(format!("{} hook {}", h.hook_name, h.path), e.to_string()))?;
        let push = |list: &Option<Vec<Hook>>| -> Option<Vec<Hook>> {
            let mut l = list.clone().unwrap_or_default();
            l.push(hook.clone());
            Some(l)
        };
        match h.hook_name.as_str() {
            #[allow(deprecated)]
            "prestart" => hooks.set_prestart(push(hooks.prestart())),
            "createRuntime" => hooks.set_create_runtime(push(hooks.create_runtime())),
            "createContainer" => hooks.set_create_container(push(hooks.create_container())),
            "startContainer" => hooks.set_start_container(push(hooks.start_container())),
            "poststart" => hooks.set_poststart(push(hooks.poststart())),
            "poststop" => hooks.set_poststop(push(hooks.poststop())),
            other => return Err(edit(format!("hook {}", h.path), format!("unknown hook name {other:?}"))),
        };
    }

    if let Some(r) = &edits.intel_rdt {
        if r.schemata.is_some() || r.enable_monitoring.is_some() {
            return Err(edit(
                "intelRdt",
                "schemata and enableMonitoring (CDI 1.1.0) are not supported; l3CacheSchema and memBwSchema are",
            ));
        }
        let mut b = LinuxIntelRdtBuilder::default();
        if let Some(v) = &r.clos_id {
            b = b.clos_id(v);
        }
        if let Some(v) = &r.l3_cache_schema {
            b = b.l3_cache_schema(v);
        }
        if let Some(v) = &r.mem_bw_schema {
            b = b.mem_bw_schema(v);
        }
        if let Some(v) = r.enable_cmt {
            b = b.enable_cmt(v);
        }
        if let Some(v) = r.enable_mbm {
            b = b.enable_mbm(v);
        }
        let rdt = b.build().map_err(|e| edit("intelRdt", e.to_string()))?;
        crate::cgroups::resctrl::check(&rdt, resctrl).map_err(|reason| edit("intelRdt", reason))?;
        linux.set_intel_rdt(Some(rdt));
    }

    let mut user = process.user().clone();
    let mut gids = user.additional_gids().clone().unwrap_or_default();
    for g in &edits.additional_gids {
        if *g != 0 && !gids.contains(g) {
            gids.push(*g);
        }
    }
    user.set_additional_gids(Some(gids));
    process.set_user(user);

    spec.set_process(Some(process));
    spec.set_linux(Some(linux));
    spec.set_mounts(Some(mounts));
    if !edits.hooks.is_empty() {
        spec.set_hooks(Some(hooks));
    }
    Ok(())
}

/// A mount's depth as the reference counts it: the separators of the clean path.
fn depth(p: &Path) -> usize {
    let normal = p.components().filter(|c| matches!(c, Component::Normal(_))).count();
    if p.is_absolute() {
        normal.max(1)
    } else {
        normal.saturating_sub(1)
    }
}

/// A device node of the Spec: what the CDI spec says, the rest from the host
/// node (`hostPath`, else `path`); without its own owner, the process's
/// (when not root), so that the container's user can open it.
fn device(n: &DeviceNode, uid: u32, gid: u32) -> Result<LinuxDevice, CdiError> {
    let host = n.host_path.as_deref().filter(|p| !p.is_empty()).unwrap_or(&n.path);
    let what = || format!("device node {}", n.path);
    let mut typ = n.typ.clone().filter(|t| !t.is_empty());
    let (mut major, mut minor) = (n.major.unwrap_or(0), n.minor.unwrap_or(0));
    let complete = typ.as_deref().is_some_and(|t| major != 0 || t == "p");
    if !complete {
        let (host_typ, host_major, host_minor) = host_node(host).map_err(|reason| edit(what(), reason))?;
        match typ.as_deref() {
            None => typ = Some(host_typ.to_string()),
            Some(t) if t != host_typ => {
                return Err(edit(
                    what(),
                    format!("the spec says type {t}, and the host's {host} is of type {host_typ}"),
                ))
            }
            Some(_) => {}
        }
        if major == 0 && typ.as_deref() != Some("p") {
            (major, minor) = (host_major, host_minor);
        }
    }
    let typ = match typ.as_deref() {
        Some("b") => LinuxDeviceType::B,
        Some("c") => LinuxDeviceType::C,
        Some("u") => LinuxDeviceType::U,
        Some("p") => LinuxDeviceType::P,
        other => return Err(edit(what(), format!("invalid type {other:?}"))),
    };
    let mut b = LinuxDeviceBuilder::default().path(&n.path).typ(typ).major(major).minor(minor);
    if let Some(m) = n.file_mode {
        b = b.file_mode(m);
    }
    match (n.uid, uid) {
        (Some(u), _) => b = b.uid(u),
        (None, u) if u > 0 => b = b.uid(u),
        _ => {}
    }
    match (n.gid, gid) {
        (Some(g), _) => b = b.gid(g),
        (None, g) if g > 0 => b = b.gid(g),
        _ => {}
    }
    b.build().map_err(|e| edit(what(), e.to_string()))
}

/// The type (`b`, `c`, `p`) and numbers of a node on the host (following symlinks).
fn host_node(path: &str) -> Result<(&'static str, i64, i64), String> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let meta = std::fs::metadata(path).map_err(|e| format!("the host's {path}: {e}"))?;
    let ft = meta.file_type();
    let rdev = meta.rdev();
    let numbers = (libc::major(rdev) as i64, libc::minor(rdev) as i64);
    if ft.is_char_device() {
        Ok(("c", numbers.0, numbers.1))
    } else if ft.is_block_device() {
        Ok(("b", numbers.0, numbers.1))
    } else if ft.is_fifo() {
        Ok(("p", 0, 0))
    } else {
        Err(format!("the host's {path} is not a device node"))
    }
}

#[cfg(test)]
mod tests {
    use super::super::schema::{self, Format};
    use super::*;

    fn edits(yaml: &str) -> ContainerEdits {
        let text = format!("cdiVersion: 0.7.0\nkind: vendor.com/gpu\ndevices:\n- name: a\n  containerEdits:\n{yaml}");
        let spec = schema::parse(text.as_bytes(), Format::Yaml).unwrap_or_else(|p| panic!("{p:?}\n{text}"));
        schema::validate(&spec).unwrap_or_else(|p| panic!("{p:?}\n{text}"));
        spec.devices[0].container_edits.clone()
    }

    fn base() -> Spec {
        let mut spec = Spec::default();
        let mut p = spec.process().clone().unwrap();
        p.set_env(Some(vec!["PATH=/bin".into(), "A=image".into()]));
        spec.set_process(Some(p));
        spec
    }

    #[test]
    fn nodes_take_what_the_spec_omits_from_the_host() {
        let e = edits(
            "    deviceNodes:\n    - {path: /dev/nvidia0, hostPath: /dev/null, permissions: rw}\n    - {path: /dev/nvidia1, type: c, major: 195, minor: 1, fileMode: 0640, gid: 44}\n    - {path: /dev/zero}\n",
        );
        let mut spec = base();
        apply(&mut spec, &e, None).unwrap();
        let linux = spec.linux().as_ref().unwrap();
        let devs: Vec<String> = linux
            .devices()
            .iter()
            .flatten()
            .map(|d| {
                format!(
                    "{} {:?} {}:{} {:?} {:?} {:?}",
                    d.path().display(),
                    d.typ(),
                    d.major(),
                    d.minor(),
                    d.file_mode(),
                    d.uid(),
                    d.gid()
                )
            })
            .collect();
        assert_eq!(
            devs,
            [
                "/dev/nvidia0 C 1:3 None None None",
                "/dev/nvidia1 C 195:1 Some(416) None Some(44)",
                "/dev/zero C 1:5 None None None"
            ]
        );
        let rules: Vec<String> =
            linux.resources().as_ref().unwrap().devices().iter().flatten().map(|r| r.to_string()).collect();
        assert_eq!(rules[rules.len() - 3..], ["c 1:3 rw", "c 195:1 rwm", "c 1:5 rwm"]);

        // the process's own user owns nodes that name no owner
        let mut spec = base();
        let mut p = spec.process().clone().unwrap();
        let mut u = p.user().clone();
        u.set_uid(1000);
        u.set_gid(1000);
        p.set_user(u);
        spec.set_process(Some(p));
        apply(&mut spec, &edits("    deviceNodes: [{path: /dev/x, hostPath: /dev/null, uid: 5}]\n"), None).unwrap();
        let d = &spec.linux().as_ref().unwrap().devices().as_ref().unwrap()[0];
        assert_eq!((d.uid(), d.gid()), (Some(5), Some(1000)));

        for (yaml, want) in [
            ("    deviceNodes: [{path: /dev/x, hostPath: /dev/null, type: b}]\n", "type b"),
            ("    deviceNodes: [{path: /dev/x, hostPath: /nonexistent/dev}]\n", "/nonexistent/dev"),
            ("    deviceNodes: [{path: /dev/x, hostPath: /etc/hostname}]\n", "not a device node"),
        ] {
            let mut spec = base();
            let before = spec.clone();
            let err = apply(&mut spec, &edits(yaml), None).unwrap_err().to_string();
            assert!(err.contains("device node /dev/x") && err.contains(want), "{err}");
            assert_eq!(spec, before, "a failed apply changes nothing");
        }
    }

    #[test]
    fn env_mounts_hooks_and_groups() {
        let e = edits(concat!(
            "    env: [\"A=cdi\", \"B=1\"]\n",
            "    mounts:\n",
            "    - {hostPath: /usr/lib/vendor, containerPath: /usr/lib/vendor, options: [ro, nosuid, nodev, bind]}\n",
            "    - {hostPath: /tmp/new-proc, containerPath: /proc, type: bind, options: [rbind]}\n",
            "    - {hostPath: /bin/x, containerPath: /x}\n",
            "    hooks:\n",
            "    - {hookName: createContainer, path: /usr/bin/nvidia-ctk, args: [nvidia-ctk, hook, update-ldcache], env: [\"K=V\"], timeout: 5}\n",
            "    - {hookName: poststop, path: /bin/true}\n",
            "    - {hookName: createRuntime, path: /bin/true}\n",
            "    additionalGids: [44, 0, 44, 107]\n",
        ));
        let mut spec = base();
        apply(&mut spec, &e, None).unwrap();
        let p = spec.process().as_ref().unwrap();
        assert_eq!(p.env().as_ref().unwrap(), &["PATH=/bin", "A=cdi", "B=1"]);
        assert_eq!(p.user().additional_gids().as_ref().unwrap(), &[44, 107]);
        let mounts: Vec<String> =
            spec.mounts().iter().flatten().map(|m| m.destination().display().to_string()).collect();
        let pos = |d: &str| mounts.iter().position(|x| x == d).unwrap_or_else(|| panic!("{d} in {mounts:?}"));
        assert_eq!(mounts.iter().filter(|d| *d == "/proc").count(), 1, "replaced: {mounts:?}");
        assert!(pos("/x") < pos("/dev/pts") && pos("/dev") < pos("/usr/lib/vendor"), "parents first: {mounts:?}");
        let vendor = spec.mounts().iter().flatten().find(|m| m.destination() == Path::new("/usr/lib/vendor")).unwrap();
        assert_eq!((vendor.typ(), vendor.options().as_ref().unwrap()[0].as_str()), (&None, "ro"));
        let proc_mount = spec.mounts().iter().flatten().find(|m| m.destination() == Path::new("/proc")).unwrap();
        assert_eq!(proc_mount.source().as_deref(), Some(Path::new("/tmp/new-proc")));
        let hooks = spec.hooks().as_ref().unwrap();
        let cc = &hooks.create_container().as_ref().unwrap()[0];
        assert_eq!(cc.path(), Path::new("/usr/bin/nvidia-ctk"));
        assert_eq!(cc.args().as_ref().unwrap()[1], "hook");
        assert_eq!((cc.env().as_ref().unwrap()[0].as_str(), cc.timeout()), ("K=V", Some(5)));
        assert_eq!(hooks.poststop().as_ref().unwrap().len(), 1);
        assert_eq!(hooks.create_runtime().as_ref().unwrap().len(), 1);
        assert!(hooks.start_container().is_none());
    }

    #[test]
    fn what_rrun_cannot_do_is_refused() {
        let mut spec = base();
        let e = apply(&mut spec, &edits("    intelRdt: {closID: gpu, l3CacheSchema: \"L3:0=f\"}\n"), None).unwrap_err();
        assert!(e.to_string().contains("intelRdt") && e.to_string().contains("resctrl"), "{e}");
        let mut net = edits("    env: [A=1]\n");
        net.net_devices.push(schema::NetDevice { host_interface_name: "eth1".into(), name: "n1".into() });
        assert!(apply(&mut spec, &net, None).unwrap_err().to_string().contains("eth1"));
        // with resctrl and the class of service there, the Spec names it
        let root_tmp = tempfile::tempdir().unwrap();
        let root = root_tmp.path().to_path_buf();
        std::fs::create_dir_all(root.join("gpu")).unwrap();
        std::fs::write(root.join("gpu/tasks"), "").unwrap();
        std::fs::write(root.join("gpu/schemata"), "").unwrap();
        apply(&mut spec, &edits("    intelRdt: {closID: gpu, l3CacheSchema: \"L3:0=f\"}\n"), Some(&root)).unwrap();
        let rdt = spec.linux().as_ref().unwrap().intel_rdt().clone().unwrap();
        assert_eq!((rdt.clos_id().as_deref(), rdt.l3_cache_schema().as_deref()), (Some("gpu"), Some("L3:0=f")));
        assert_eq!(depth(Path::new("/")), 1);
        assert_eq!(depth(Path::new("/a")), 1);
        assert_eq!(depth(Path::new("/a/b/")), 2);
    }
}
