//! The Container Device Interface (CDI): how GPUs and other devices reach a
//! container. A vendor's tool (`nvidia-ctk cdi generate`, AMD's, Intel's…)
//! writes spec files describing each device (`nvidia.com/gpu=0`) as edits to
//! a container's OCI Spec: device nodes, mounts of the driver's libraries,
//! environment, hooks, extra groups. rrun reads them from `/etc/cdi` and
//! `/var/run/cdi` (later directories win), resolves the names asked for
//! (`--device nvidia.com/gpu=all`, `--gpus`), and applies their edits to
//! the Spec that `spec` built, before the launcher runs it.
//!
//! `schema` is the file format and its validation, `edits` applies edits to
//! a Spec, `gpus` reads Docker's `--gpus`.

pub mod edits;
pub mod gpus;
pub mod schema;

pub use gpus::GpuRequest;
pub use schema::ContainerEdits;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

/// Where specs are looked for, lowest priority first: static specs written
/// by an administrator or package, then those generated at boot.
pub const DEFAULT_SPEC_DIRS: [&str; 2] = ["/etc/cdi", "/var/run/cdi"];

/// A spec file larger than this is refused (NVIDIA's are a few hundred KiB).
const MAX_SPEC_SIZE: u64 = 16 << 20;

/// Why a CDI device cannot be used: each names the spec file, field or device.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CdiError {
    /// A CDI spec file breaks the specification's rules.
    #[error("CDI spec {}: {}", file.display(), field_reason(field, reason))]
    Spec {
        /// The spec file.
        file: PathBuf,
        /// The field, by its path in the file.
        field: String,
        /// What is wrong, or why it failed.
        reason: String,
    },
    /// A spec directory cannot be read.
    #[error("CDI spec directory {}: {reason}", dir.display())]
    Dir {
        /// The spec directory.
        dir: PathBuf,
        /// What is wrong, or why it failed.
        reason: String,
    },
    /// Two spec files of one directory define the same device.
    #[error("CDI device {name} is defined in both {} and {} (same directory: neither is used)", first.display(), second.display())]
    Conflict {
        /// The device (`vendor/class=name`).
        name: String,
        /// The first file that defines it.
        first: PathBuf,
        /// The second file that defines it.
        second: PathBuf,
    },
    /// A device name that is not `vendor/class=name`.
    #[error("invalid CDI device name {name:?}: {reason}")]
    Name {
        /// The name given.
        name: String,
        /// What is wrong, or why it failed.
        reason: String,
    },
    /// No spec file defines the device.
    #[error("unknown CDI device {name}: {}{}", available_text(available, dirs), broken_text(broken))]
    Unknown {
        /// The device asked for.
        name: String,
        /// The devices the specs define.
        available: Vec<String>,
        /// The directories searched.
        dirs: Vec<PathBuf>,
        /// Spec files that could not be read.
        broken: Vec<String>,
    },
    /// A `--gpus` value that does not parse or names no GPU.
    #[error("invalid --gpus {value:?}: {reason}")]
    Gpus {
        /// The value given.
        value: String,
        /// What is wrong, or why it failed.
        reason: String,
    },
    /// A device's container edits cannot be applied to the spec.
    #[error("CDI {what}: {reason}")]
    Edit {
        /// The edit (a device node, mount, hook…).
        what: String,
        /// What is wrong, or why it failed.
        reason: String,
    },
}

fn field_reason(field: &str, reason: &str) -> String {
    if field.is_empty() {
        reason.to_string()
    } else {
        format!("{field}: {reason}")
    }
}

fn available_text(available: &[String], dirs: &[PathBuf]) -> String {
    if available.is_empty() {
        let dirs: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
        format!("no CDI devices are defined (spec directories: {})", dirs.join(", "))
    } else {
        format!("available: {}", available.join(", "))
    }
}

fn broken_text(broken: &[String]) -> String {
    if broken.is_empty() {
        String::new()
    } else {
        format!("; spec files with errors: {}", broken.join("; "))
    }
}

/// A spec file that passed every check.
#[derive(Debug, Clone)]
pub struct LoadedSpec {
    pub path: PathBuf,
    /// The index of its directory: a later directory overrides an earlier one.
    pub priority: usize,
    pub spec: schema::Spec,
}

/// One device as `rrun cdi list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeviceInfo {
    /// `vendor/class=name`.
    #[serde(rename = "Name")]
    pub name: String,
    /// `vendor/class`.
    #[serde(rename = "Kind")]
    pub kind: String,
    /// The spec file that defines it.
    #[serde(rename = "SpecFile")]
    pub spec_file: PathBuf,
    /// The CDI spec version of that file.
    #[serde(rename = "CDIVersion")]
    pub cdi_version: String,
}

/// Every spec found in the spec directories, and every device they define.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    dirs: Vec<PathBuf>,
    specs: Vec<LoadedSpec>,
    /// Qualified name → (spec, device) indexes.
    devices: BTreeMap<String, (usize, usize)>,
    /// Files (and directories) that could not be used, and conflicts.
    errors: Vec<CdiError>,
}

impl Registry {
    /// The default spec directories.
    pub fn default_dirs() -> Vec<PathBuf> {
        DEFAULT_SPEC_DIRS.iter().map(PathBuf::from).collect()
    }

    /// Reads every `.json` and `.yaml` file directly in `dirs` (in name
    /// order; a missing directory is no error). A file that fails to parse
    /// or validate is left out and recorded in [`Registry::errors`]; the
    /// others are used. A device defined in two directories is the later
    /// one's; defined twice in one directory, it is neither's.
    pub fn load(dirs: &[PathBuf]) -> Registry {
        let mut reg = Registry { dirs: dirs.to_vec(), ..Default::default() };
        for (priority, dir) in dirs.iter().enumerate() {
            let entries = match std::fs::read_dir(dir) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    reg.errors.push(CdiError::Dir { dir: dir.clone(), reason: e.to_string() });
                    continue;
                }
            };
            let mut files: Vec<PathBuf> = entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| schema::Format::of(p).is_some() && !p.is_dir())
                .collect();
            files.sort();
            for path in files {
                match read_spec(&path) {
                    Ok(spec) => reg.specs.push(LoadedSpec { path, priority, spec }),
                    Err(e) => reg.errors.push(e),
                }
            }
        }
        // a later directory replaces a device; the same directory twice is a conflict (unless a later one settles it)
        let mut conflicts: BTreeMap<String, (PathBuf, PathBuf)> = BTreeMap::new();
        for (si, s) in reg.specs.iter().enumerate() {
            for (di, d) in s.spec.devices.iter().enumerate() {
                let name = format!("{}={}", s.spec.kind, d.name);
                match reg.devices.get(&name) {
                    Some(&(other, _)) if reg.specs[other].priority == s.priority => {
                        conflicts.insert(name, (reg.specs[other].path.clone(), s.path.clone()));
                    }
                    _ => {
                        conflicts.remove(&name);
                        reg.devices.insert(name, (si, di));
                    }
                }
            }
        }
        for (name, (first, second)) in conflicts {
            reg.devices.remove(&name);
            reg.errors.push(CdiError::Conflict { name, first, second });
        }
        reg
    }

    /// Every usable device, by name.
    pub fn devices(&self) -> Vec<DeviceInfo> {
        self.devices
            .iter()
            .map(|(name, &(si, _))| {
                let s = &self.specs[si];
                DeviceInfo {
                    name: name.clone(),
                    kind: s.spec.kind.clone(),
                    spec_file: s.path.clone(),
                    cdi_version: s.spec.version.clone(),
                }
            })
            .collect()
    }

    /// What could not be used: broken spec files, unreadable directories, conflicts.
    pub fn errors(&self) -> &[CdiError] {
        &self.errors
    }

    fn device(&self, name: &str) -> Option<(&LoadedSpec, &schema::Device)> {
        let &(si, di) = self.devices.get(name)?;
        let s = &self.specs[si];
        Some((s, &s.spec.devices[di]))
    }

    /// The edits of `names` merged as the reference merges them: for each
    /// device in order, its spec's edits (the first time that spec is
    /// met), then its own. A name given twice counts once.
    pub fn edits_for(&self, names: &[String]) -> Result<ContainerEdits, CdiError> {
        let mut out = ContainerEdits::default();
        let mut specs_seen = HashSet::new();
        let mut names_seen = HashSet::new();
        for name in names {
            if !names_seen.insert(name.as_str()) {
                continue;
            }
            schema::check_qualified(name).map_err(|reason| CdiError::Name { name: name.clone(), reason })?;
            let Some((s, d)) = self.device(name) else { return Err(self.unknown(name)) };
            if specs_seen.insert(&s.path) {
                if let Some(e) = &s.spec.container_edits {
                    out.append(e);
                }
            }
            out.append(&d.container_edits);
        }
        Ok(out)
    }

    /// The error for a name no usable spec defines: what is defined instead,
    /// and the files that could not be read (the device may be in one).
    fn unknown(&self, name: &str) -> CdiError {
        if let Some(c) = self.errors.iter().find(|e| matches!(e, CdiError::Conflict { name: n, .. } if n == name)) {
            return c.clone();
        }
        CdiError::Unknown {
            name: name.to_string(),
            available: self.devices.keys().cloned().collect(),
            dirs: self.dirs.clone(),
            broken: self
                .errors
                .iter()
                .filter(|e| !matches!(e, CdiError::Conflict { .. }))
                .map(|e| e.to_string().trim_start_matches("CDI spec ").to_string())
                .collect(),
        }
    }

    /// Names of the devices of `kind`, in order: numbered ones (`0`, `1`, …)
    /// by number, then the others by name.
    pub fn names_of_kind(&self, kind: &str) -> Vec<String> {
        let prefix = format!("{kind}=");
        let mut names: Vec<&str> = self.devices.keys().filter_map(|n| n.strip_prefix(&prefix)).collect();
        names.sort_by_key(|n| (n.parse::<u64>().map_err(|_| n.to_string()), n.to_string()));
        names.into_iter().map(|n| format!("{prefix}{n}")).collect()
    }
}

/// `--device VENDOR/CLASS=NAME` and `--gpus`: reads the specs of `dirs`
/// (the default ones when empty), resolves the names (`devices` first, then
/// the GPUs), and applies their edits to `spec`. Returns the problems of
/// spec files it could not read, for the caller to warn about.
pub fn inject(
    spec: &mut oci_spec::runtime::Spec,
    devices: &[String],
    gpus: &[GpuRequest],
    dirs: &[PathBuf],
) -> Result<Vec<CdiError>, CdiError> {
    if devices.is_empty() && gpus.is_empty() {
        return Ok(Vec::new());
    }
    let dirs = if dirs.is_empty() { Registry::default_dirs() } else { dirs.to_vec() };
    let reg = Registry::load(&dirs);
    let (gpu_names, gpu_env) = reg.gpu_devices(gpus)?;
    let names: Vec<String> = devices.iter().cloned().chain(gpu_names).collect();
    let mut edits = reg.edits_for(&names)?;
    edits.env.extend(gpu_env);
    edits::apply(spec, &edits, crate::cgroups::resctrl::mount_point().as_deref())?;
    Ok(reg.errors)
}

/// Reads, parses and validates one spec file.
pub fn read_spec(path: &Path) -> Result<schema::Spec, CdiError> {
    let err = |field: &str, reason: String| CdiError::Spec { file: path.to_path_buf(), field: field.into(), reason };
    let format = schema::Format::of(path).ok_or_else(|| err("", "not a .json or .yaml file".into()))?;
    let meta = std::fs::metadata(path).map_err(|e| err("", e.to_string()))?;
    if meta.len() > MAX_SPEC_SIZE {
        return Err(err("", format!("larger than {} MiB", MAX_SPEC_SIZE >> 20)));
    }
    let bytes = std::fs::read(path).map_err(|e| err("", e.to_string()))?;
    let spec = schema::parse(&bytes, format).map_err(|p| err(&p.field, p.reason))?;
    schema::validate(&spec).map_err(|p| err(&p.field, p.reason))?;
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A new temporary directory and its path; the guard removes it on drop.
    pub(crate) struct Dir(pub PathBuf, #[allow(dead_code)] tempfile::TempDir);
    impl Dir {
        pub fn new(tag: &str) -> Dir {
            let t = tempfile::Builder::new().prefix(&format!("rrun-cdi-{tag}-")).tempdir().unwrap();
            Dir(t.path().to_path_buf(), t)
        }
        pub fn write(&self, name: &str, text: &str) -> PathBuf {
            let p = self.0.join(name);
            std::fs::write(&p, text).unwrap();
            p
        }
    }

    fn spec(kind: &str, devices: &[(&str, &str)]) -> String {
        let devs: Vec<String> = devices
            .iter()
            .map(|(n, env)| format!("  - name: \"{n}\"\n    containerEdits:\n      env: [\"{env}\"]\n"))
            .collect();
        format!(
            "cdiVersion: 0.6.0\nkind: {kind}\ncontainerEdits:\n  env: [\"SPEC={kind}\"]\ndevices:\n{}",
            devs.concat()
        )
    }

    #[test]
    fn later_directories_override_and_conflicts_drop_the_device() {
        let (etc, run) = (Dir::new("etc"), Dir::new("run"));
        etc.write("a.yaml", &spec("vendor.com/gpu", &[("0", "FROM=etc"), ("1", "FROM=etc")]));
        run.write(
            "b.json",
            &serde_json::to_string(
                &schema::parse(spec("vendor.com/gpu", &[("0", "FROM=run")]).as_bytes(), schema::Format::Yaml).unwrap(),
            )
            .unwrap(),
        );
        // same directory, same name: a conflict
        etc.write("c.yaml", &spec("vendor.com/nic", &[("x", "N=1")]));
        etc.write("d.yaml", &spec("vendor.com/nic", &[("x", "N=2"), ("y", "N=3")]));
        etc.write("notes.txt", "not a spec");
        etc.write("broken.yaml", "cdiVersion: 0.6.0\nkind: vendor.com/tpu\ndevices:\n- name: t0\n  containerEdits:\n    deviceNodes: [{path: /dev/t0, permissions: rwx}]\n");
        let reg = Registry::load(&[etc.0.clone(), run.0.clone(), PathBuf::from("/nonexistent/cdi")]);
        let names: Vec<String> = reg.devices().into_iter().map(|d| d.name).collect();
        assert_eq!(names, ["vendor.com/gpu=0", "vendor.com/gpu=1", "vendor.com/nic=y"]);
        let gpu0 = reg.devices().into_iter().find(|d| d.name == "vendor.com/gpu=0").unwrap();
        assert_eq!(gpu0.spec_file, run.0.join("b.json"));
        assert_eq!(reg.edits_for(&["vendor.com/gpu=0".into()]).unwrap().env, ["SPEC=vendor.com/gpu", "FROM=run"]);
        // spec edits once per spec, then each device's, in the order asked
        let e =
            reg.edits_for(&["vendor.com/gpu=1".into(), "vendor.com/nic=y".into(), "vendor.com/gpu=1".into()]).unwrap();
        assert_eq!(e.env, ["SPEC=vendor.com/gpu", "FROM=etc", "SPEC=vendor.com/nic", "N=3"]);
        let errors: Vec<String> = reg.errors().iter().map(|e| e.to_string()).collect();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(
            errors.iter().any(
                |e| e.contains("broken.yaml") && e.contains("devices[0].containerEdits.deviceNodes[0].permissions")
            ),
            "{errors:?}"
        );
        // a conflicting name says so; an unknown one lists what exists and what is broken
        let e = reg.edits_for(&["vendor.com/nic=x".into()]).unwrap_err().to_string();
        assert!(e.contains("c.yaml") && e.contains("d.yaml"), "{e}");
        let e = reg.edits_for(&["vendor.com/gpu=7".into()]).unwrap_err().to_string();
        assert!(
            e.starts_with(
                "unknown CDI device vendor.com/gpu=7: available: vendor.com/gpu=0, vendor.com/gpu=1, vendor.com/nic=y"
            ),
            "{e}"
        );
        assert!(e.contains("broken.yaml: devices[0]") && !e.contains('\n'), "{e}");
        let e = reg.edits_for(&["vendor.com/gpu".into()]).unwrap_err();
        assert!(matches!(e, CdiError::Name { .. }), "{e}");
        let empty = Registry::load(&[PathBuf::from("/nonexistent/cdi")]);
        let e = empty.edits_for(&["vendor.com/gpu=0".into()]).unwrap_err().to_string();
        assert!(e.contains("no CDI devices are defined (spec directories: /nonexistent/cdi)"), "{e}");
    }

    #[test]
    fn names_of_a_kind_sort_numbers_first() {
        let d = Dir::new("kind");
        d.write(
            "n.yaml",
            &spec("nvidia.com/gpu", &[("all", "A=1"), ("10", "A=1"), ("2", "A=1"), ("GPU-abc", "A=1"), ("0", "A=1")]),
        );
        let reg = Registry::load(std::slice::from_ref(&d.0));
        assert_eq!(
            reg.names_of_kind("nvidia.com/gpu"),
            [
                "nvidia.com/gpu=0",
                "nvidia.com/gpu=2",
                "nvidia.com/gpu=10",
                "nvidia.com/gpu=GPU-abc",
                "nvidia.com/gpu=all"
            ]
        );
    }
}
