//! The CDI spec file format (JSON or YAML), every version from 0.3.0 to
//! 1.1.0 (the current one), and the validation rules of the reference implementation
//! (github.com/cncf-tags/container-device-interface, `pkg/cdi`): names,
//! versions (a spec must declare at least the version whose fields it uses),
//! annotations, and each container edit.
//!
//! Unknown fields are errors, as the reference parses strictly. Every error
//! names the field by its path in the file (`devices[1].containerEdits.deviceNodes[0].permissions`).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Every version of the specification a spec may declare, oldest first
/// (0.1.0 and 0.2.0 predate the stable format: the reference refuses them too).
pub const VERSIONS: [&str; 8] = ["0.3.0", "0.4.0", "0.5.0", "0.6.0", "0.7.0", "0.8.0", "1.0.0", "1.1.0"];

/// One CDI spec file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    #[serde(rename = "cdiVersion")]
    pub version: String,
    /// `vendor/class`, e.g. `nvidia.com/gpu`.
    pub kind: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    pub devices: Vec<Device>,
    /// Edits for every container given at least one device of this spec.
    #[serde(rename = "containerEdits", default, skip_serializing_if = "Option::is_none")]
    pub container_edits: Option<ContainerEdits>,
}

/// One device of a spec, named `vendor/class=name`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Device {
    pub name: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(rename = "containerEdits", default)]
    pub container_edits: ContainerEdits,
}

/// Changes to a container's OCI Spec.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerEdits {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
    #[serde(rename = "deviceNodes", default, skip_serializing_if = "Vec::is_empty")]
    pub device_nodes: Vec<DeviceNode>,
    #[serde(rename = "netDevices", default, skip_serializing_if = "Vec::is_empty")]
    pub net_devices: Vec<NetDevice>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hooks: Vec<Hook>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mounts: Vec<Mount>,
    #[serde(rename = "intelRdt", default, skip_serializing_if = "Option::is_none")]
    pub intel_rdt: Option<IntelRdt>,
    #[serde(rename = "additionalGids", default, skip_serializing_if = "Vec::is_empty")]
    pub additional_gids: Vec<u32>,
}

impl ContainerEdits {
    pub fn is_empty(&self) -> bool {
        self.env.is_empty()
            && self.device_nodes.is_empty()
            && self.net_devices.is_empty()
            && self.hooks.is_empty()
            && self.mounts.is_empty()
            && self.intel_rdt.is_none()
            && self.additional_gids.is_empty()
    }

    /// Appends `other` (lists are concatenated; its intelRdt replaces this one's).
    pub fn append(&mut self, other: &ContainerEdits) {
        self.env.extend(other.env.iter().cloned());
        self.device_nodes.extend(other.device_nodes.iter().cloned());
        self.net_devices.extend(other.net_devices.iter().cloned());
        self.hooks.extend(other.hooks.iter().cloned());
        self.mounts.extend(other.mounts.iter().cloned());
        if other.intel_rdt.is_some() {
            self.intel_rdt = other.intel_rdt.clone();
        }
        self.additional_gids.extend(other.additional_gids.iter().copied());
    }
}

/// A device node to make in the container (and allow in its device cgroup).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceNode {
    /// Where the node is in the container.
    pub path: String,
    /// The node on the host whose type and numbers are taken (default: `path`).
    #[serde(rename = "hostPath", default, skip_serializing_if = "Option::is_none")]
    pub host_path: Option<String>,
    /// `b`, `c`, `u` or `p`; empty: the host node's.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub typ: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub major: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minor: Option<i64>,
    /// Permission bits; YAML written for the reference (YAML 1.1) may say `0666`.
    #[serde(rename = "fileMode", default, deserialize_with = "file_mode", skip_serializing_if = "Option::is_none")]
    pub file_mode: Option<u32>,
    /// Device cgroup access: some of `r`, `w`, `m` (empty: `rwm`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<u32>,
}

/// A mount to add (replacing one at the same place).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Mount {
    #[serde(rename = "hostPath")]
    pub host_path: String,
    #[serde(rename = "containerPath")]
    pub container_path: String,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub typ: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

/// An OCI hook to add.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Hook {
    /// `prestart`, `createRuntime`, `createContainer`, `startContainer`, `poststart` or `poststop`.
    #[serde(rename = "hookName")]
    pub hook_name: String,
    pub path: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<i64>,
}

/// The hook names of the OCI runtime spec, in the order a container meets them.
pub const HOOK_NAMES: [&str; 6] =
    ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"];

/// Intel RDT (resctrl) class of service.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IntelRdt {
    #[serde(rename = "closID", default, skip_serializing_if = "Option::is_none")]
    pub clos_id: Option<String>,
    #[serde(rename = "l3CacheSchema", default, skip_serializing_if = "Option::is_none")]
    pub l3_cache_schema: Option<String>,
    #[serde(rename = "memBwSchema", default, skip_serializing_if = "Option::is_none")]
    pub mem_bw_schema: Option<String>,
    /// 1.1.0: schemata lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schemata: Option<Vec<String>>,
    /// 1.1.0.
    #[serde(rename = "enableMonitoring", default, skip_serializing_if = "Option::is_none")]
    pub enable_monitoring: Option<bool>,
    /// Before 1.1.0.
    #[serde(rename = "enableCMT", default, skip_serializing_if = "Option::is_none")]
    pub enable_cmt: Option<bool>,
    /// Before 1.1.0.
    #[serde(rename = "enableMBM", default, skip_serializing_if = "Option::is_none")]
    pub enable_mbm: Option<bool>,
}

/// 1.1.0: a host network interface moved into the container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NetDevice {
    #[serde(rename = "hostInterfaceName")]
    pub host_interface_name: String,
    pub name: String,
}

/// `fileMode`: a number, or (YAML 1.1, as the reference reads it) an octal string like `0666`.
fn file_mode<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Mode {
        Number(u32),
        Text(String),
    }
    match Option::<Mode>::deserialize(d)? {
        None => Ok(None),
        Some(Mode::Number(n)) => Ok(Some(n)),
        Some(Mode::Text(s)) => {
            let digits = s.strip_prefix("0o").or_else(|| s.strip_prefix('0')).filter(|d| !d.is_empty());
            digits
                .and_then(|d| u32::from_str_radix(d, 8).ok())
                .map(Some)
                .ok_or_else(|| serde::de::Error::custom(format!("invalid file mode {s:?}: expected a number")))
        }
    }
}

/// What is wrong with a spec: the field (its path in the file; empty for the
/// whole file) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub field: String,
    pub reason: String,
}

impl Problem {
    fn new(field: impl Into<String>, reason: impl Into<String>) -> Problem {
        Problem { field: field.into(), reason: reason.into() }
    }
}

/// The format of a spec file, from its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Yaml,
}

impl Format {
    /// `.json` or `.yaml` (what the reference scans for); other files are not specs.
    pub fn of(path: &std::path::Path) -> Option<Format> {
        match path.extension()?.to_str()? {
            "json" => Some(Format::Json),
            "yaml" => Some(Format::Yaml),
            _ => None,
        }
    }
}

/// Parses a spec file's contents (no validation beyond the types).
pub fn parse(bytes: &[u8], format: Format) -> Result<Spec, Problem> {
    let result = match format {
        Format::Json => serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_slice(bytes))
            .map_err(|e| (e.path().to_string(), e.into_inner().to_string())),
        Format::Yaml => {
            let text = std::str::from_utf8(bytes).map_err(|e| Problem::new("", format!("not UTF-8: {e}")))?;
            serde_path_to_error::deserialize(serde_norway::Deserializer::from_str(text))
                .map_err(|e| (e.path().to_string(), e.into_inner().to_string()))
        }
    };
    result.map_err(|(path, msg)| {
        let field = if path == "." { String::new() } else { path };
        // the YAML parser names the field itself ("devices[0]: unknown field …"): once is enough
        let reason = match msg.split_once(": ") {
            Some((head, rest)) if !field.is_empty() && field.starts_with(head) => rest.to_string(),
            _ => msg,
        };
        Problem::new(field, reason)
    })
}

/// `major.minor.patch` as numbers.
fn version_key(v: &str) -> Option<(u32, u32, u32)> {
    let mut it = v.split('.').map(|p| p.parse::<u32>().ok());
    let key = (it.next()??, it.next()??, it.next()??);
    it.next().is_none().then_some(key)
}

/// The oldest version that has every field this spec uses, and the first
/// field that needs it (the reference's `MinimumRequiredVersion`).
pub fn minimum_version(spec: &Spec) -> (&'static str, String) {
    let mut needed: (&'static str, String) = ("0.3.0", String::new());
    let mut need = |v: &'static str, field: String| {
        if version_key(v) > version_key(needed.0) {
            needed = (v, field);
        }
    };
    let scopes = spec.container_edits.iter().map(|e| ("containerEdits".to_string(), e)).chain(
        spec.devices.iter().enumerate().map(|(i, d)| (format!("devices[{i}].containerEdits"), &d.container_edits)),
    );
    for (scope, e) in scopes {
        if let Some(i) = e.mounts.iter().position(|m| m.typ.as_deref().is_some_and(|t| !t.is_empty())) {
            need("0.4.0", format!("{scope}.mounts[{i}].type"));
        }
        if let Some(i) = e.device_nodes.iter().position(|n| n.host_path.as_deref().is_some_and(|p| !p.is_empty())) {
            need("0.5.0", format!("{scope}.deviceNodes[{i}].hostPath"));
        }
        if let Some(rdt) = &e.intel_rdt {
            need("0.7.0", format!("{scope}.intelRdt"));
            if rdt.schemata.is_some() {
                need("1.1.0", format!("{scope}.intelRdt.schemata"));
            }
            if rdt.enable_monitoring.is_some() {
                need("1.1.0", format!("{scope}.intelRdt.enableMonitoring"));
            }
        }
        if !e.additional_gids.is_empty() {
            need("0.7.0", format!("{scope}.additionalGids"));
        }
        if !e.net_devices.is_empty() {
            need("1.1.0", format!("{scope}.netDevices"));
        }
    }
    for (i, d) in spec.devices.iter().enumerate() {
        if d.name.chars().next().is_some_and(|c| !c.is_ascii_alphabetic()) {
            need("0.5.0", format!("devices[{i}].name"));
        }
        if !d.annotations.is_empty() {
            need("0.6.0", format!("devices[{i}].annotations"));
        }
    }
    if !spec.annotations.is_empty() {
        need("0.6.0", "annotations".into());
    }
    if spec.kind.split_once('/').is_some_and(|(_, class)| class.contains('.')) {
        need("0.6.0", "kind".into());
    }
    needed
}

/// `vendor/class` of a kind, when it has that shape.
pub fn parse_kind(kind: &str) -> Option<(&str, &str)> {
    let (vendor, class) = kind.split_once('/')?;
    (!vendor.is_empty() && !class.is_empty() && !class.contains('/')).then_some((vendor, class))
}

/// `vendor/class=name`, when it has that shape (not a host path).
pub fn parse_qualified(name: &str) -> Option<(&str, &str, &str)> {
    if name.starts_with('/') {
        return None;
    }
    let (kind, dev) = name.split_once('=')?;
    if dev.is_empty() || dev.contains('=') {
        return None;
    }
    let (vendor, class) = parse_kind(kind)?;
    Some((vendor, class, dev))
}

/// A vendor or class name: a letter, then letters, digits, `_`, `-` and `.`, ending with a letter or digit.
pub fn check_vendor_or_class(what: &str, name: &str) -> Result<(), String> {
    let first = name.chars().next().ok_or_else(|| format!("empty {what} name"))?;
    if !first.is_ascii_alphabetic() {
        return Err(format!("{what} name {name:?} must start with a letter"));
    }
    if !name.ends_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(format!("{what} name {name:?} must end with a letter or digit"));
    }
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || "_-.".contains(*c))) {
        return Err(format!("invalid character {c:?} in {what} name {name:?}"));
    }
    Ok(())
}

/// A device name: a letter or digit, then letters, digits, `_`, `-`, `.` and `:`, ending with a letter or digit.
pub fn check_device_name(name: &str) -> Result<(), String> {
    let first = name.chars().next().ok_or("empty device name")?;
    if !first.is_ascii_alphanumeric() {
        return Err(format!("device name {name:?} must start with a letter or digit"));
    }
    if !name.ends_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(format!("device name {name:?} must end with a letter or digit"));
    }
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || "_-.:".contains(*c))) {
        return Err(format!("invalid character {c:?} in device name {name:?}"));
    }
    Ok(())
}

/// A fully qualified device name, checked: (vendor, class, name).
pub fn check_qualified(name: &str) -> Result<(&str, &str, &str), String> {
    let (vendor, class, dev) =
        parse_qualified(name).ok_or_else(|| "expected VENDOR/CLASS=NAME (e.g. nvidia.com/gpu=0)".to_string())?;
    check_vendor_or_class("vendor", vendor)?;
    check_vendor_or_class("class", class)?;
    check_device_name(dev)?;
    Ok((vendor, class, dev))
}

/// Annotations as Kubernetes checks them: qualified keys, at most 256 KiB in all.
fn check_annotations(field: &str, annotations: &BTreeMap<String, String>) -> Result<(), Problem> {
    let mut total = 0usize;
    for (k, v) in annotations {
        total += k.len() + v.len();
        let (prefix, name) = match k.rsplit_once('/') {
            Some((p, n)) => (Some(p), n),
            None => (None, k.as_str()),
        };
        let bad = |reason: String| Problem::new(format!("{field}.{k}"), reason);
        let name_ok = !name.is_empty()
            && name.len() <= 63
            && name.starts_with(|c: char| c.is_ascii_alphanumeric())
            && name.ends_with(|c: char| c.is_ascii_alphanumeric())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if !name_ok {
            return Err(bad(
                "an annotation name is at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
                    .into(),
            ));
        }
        if let Some(p) = prefix {
            let label_ok = |l: &str| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                    && l.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                    && l.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            };
            if p.len() > 253 || !p.split('.').all(label_ok) {
                return Err(bad(format!(
                    "the prefix {p:?} is not a DNS subdomain (lowercase, at most 253 characters)"
                )));
            }
        }
    }
    if total > 256 * 1024 {
        return Err(Problem::new(field, "annotations are larger than 256 KiB in all"));
    }
    Ok(())
}

fn check_env(field: &str, env: &[String]) -> Result<(), Problem> {
    for (i, kv) in env.iter().enumerate() {
        if kv.split_once('=').is_none_or(|(k, _)| k.is_empty()) {
            return Err(Problem::new(
                format!("{field}[{i}]"),
                format!("invalid environment variable {kv:?}: expected NAME=VALUE"),
            ));
        }
    }
    Ok(())
}

/// The reference's checks of one set of container edits.
pub fn check_edits(scope: &str, e: &ContainerEdits) -> Result<(), Problem> {
    check_env(&format!("{scope}.env"), &e.env)?;
    for (i, n) in e.device_nodes.iter().enumerate() {
        let f = format!("{scope}.deviceNodes[{i}]");
        if n.path.is_empty() {
            return Err(Problem::new(format!("{f}.path"), "empty device path"));
        }
        if let Some(t) = &n.typ {
            if !matches!(t.as_str(), "" | "b" | "c" | "u" | "p") {
                return Err(Problem::new(
                    format!("{f}.type"),
                    format!("invalid device type {t:?}: expected b, c, u or p"),
                ));
            }
        }
        if let Some(p) = &n.permissions {
            if !p.chars().all(|c| "rwm".contains(c)) {
                return Err(Problem::new(
                    format!("{f}.permissions"),
                    format!("invalid permissions {p:?}: expected some of r, w and m"),
                ));
            }
        }
    }
    for (i, h) in e.hooks.iter().enumerate() {
        let f = format!("{scope}.hooks[{i}]");
        if !HOOK_NAMES.contains(&h.hook_name.as_str()) {
            return Err(Problem::new(
                format!("{f}.hookName"),
                format!("invalid hook name {:?}: expected one of {}", h.hook_name, HOOK_NAMES.join(", ")),
            ));
        }
        if h.path.is_empty() {
            return Err(Problem::new(format!("{f}.path"), "empty hook path"));
        }
        check_env(&format!("{f}.env"), &h.env)?;
    }
    for (i, m) in e.mounts.iter().enumerate() {
        let f = format!("{scope}.mounts[{i}]");
        if m.host_path.is_empty() {
            return Err(Problem::new(format!("{f}.hostPath"), "empty host path"));
        }
        if m.container_path.is_empty() {
            return Err(Problem::new(format!("{f}.containerPath"), "empty container path"));
        }
    }
    if let Some(rdt) = &e.intel_rdt {
        if let Some(id) = &rdt.clos_id {
            if id.len() >= 4096 || id == "." || id == ".." || id.contains(['/', '\n']) {
                return Err(Problem::new(
                    format!("{scope}.intelRdt.closID"),
                    format!("invalid class of service {id:?}"),
                ));
            }
        }
    }
    let mut hosts = std::collections::HashSet::new();
    let mut names = std::collections::HashSet::new();
    for (i, d) in e.net_devices.iter().enumerate() {
        let f = format!("{scope}.netDevices[{i}]");
        if d.host_interface_name.is_empty() {
            return Err(Problem::new(format!("{f}.hostInterfaceName"), "empty interface name"));
        }
        if d.name.is_empty() {
            return Err(Problem::new(format!("{f}.name"), "empty interface name"));
        }
        if !hosts.insert(&d.host_interface_name) || !names.insert(&d.name) {
            return Err(Problem::new(f, "the same interface is named twice"));
        }
    }
    Ok(())
}

/// Every check of the reference (`Spec.validate`), in its order.
pub fn validate(spec: &Spec) -> Result<(), Problem> {
    if !VERSIONS.contains(&spec.version.as_str()) {
        return Err(Problem::new(
            "cdiVersion",
            format!("unknown version {:?}: expected one of {}", spec.version, VERSIONS.join(", ")),
        ));
    }
    let declared = version_key(&spec.version);
    let (min, field) = minimum_version(spec);
    if version_key(min) > declared {
        return Err(Problem::new(
            field,
            format!("needs cdiVersion {min} or later, and the spec declares {}", spec.version),
        ));
    }
    // runtime-spec 1.3 replaced enableCMT/enableMBM with enableMonitoring
    if declared >= version_key("1.1.0") {
        let scopes = spec.container_edits.iter().map(|e| ("containerEdits".to_string(), e)).chain(
            spec.devices.iter().enumerate().map(|(i, d)| (format!("devices[{i}].containerEdits"), &d.container_edits)),
        );
        for (scope, e) in scopes {
            if let Some(rdt) = &e.intel_rdt {
                for (name, set) in [("enableCMT", rdt.enable_cmt), ("enableMBM", rdt.enable_mbm)] {
                    if set.is_some() {
                        return Err(Problem::new(
                            format!("{scope}.intelRdt.{name}"),
                            format!("not valid in cdiVersion {} (use enableMonitoring)", spec.version),
                        ));
                    }
                }
            }
        }
    }
    let (vendor, class) = parse_kind(&spec.kind)
        .ok_or_else(|| Problem::new("kind", format!("invalid kind {:?}: expected VENDOR/CLASS", spec.kind)))?;
    check_vendor_or_class("vendor", vendor).map_err(|r| Problem::new("kind", r))?;
    check_vendor_or_class("class", class).map_err(|r| Problem::new("kind", r))?;
    check_annotations("annotations", &spec.annotations)?;
    if let Some(e) = &spec.container_edits {
        check_edits("containerEdits", e)?;
    }
    if spec.devices.is_empty() {
        return Err(Problem::new("devices", "a spec must define at least one device"));
    }
    let mut seen = std::collections::HashSet::new();
    for (i, d) in spec.devices.iter().enumerate() {
        let f = format!("devices[{i}]");
        check_device_name(&d.name).map_err(|r| Problem::new(format!("{f}.name"), r))?;
        check_annotations(&format!("{f}.annotations"), &d.annotations)?;
        if d.container_edits.is_empty() {
            return Err(Problem::new(format!("{f}.containerEdits"), "a device must have container edits"));
        }
        check_edits(&format!("{f}.containerEdits"), &d.container_edits)?;
        if !seen.insert(d.name.as_str()) {
            return Err(Problem::new(format!("{f}.name"), format!("device {:?} is defined twice", d.name)));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal spec of each version, as YAML, with the fields that version added.
    fn spec_of_version(v: &str) -> String {
        let key = version_key(v).unwrap();
        let mut nodes = vec!["{path: /dev/x0}"];
        if key >= (0, 5, 0) {
            nodes.push("{path: /dev/x1, hostPath: /dev/null}");
        }
        let mut edits = vec!["env: [\"A=1\"]".to_string(), format!("deviceNodes: [{}]", nodes.join(", "))];
        if key >= (0, 4, 0) {
            edits.push("mounts: [{hostPath: /lib/x, containerPath: /lib/x, type: bind, options: [ro, bind]}]".into());
        }
        let mut top = String::new();
        if key >= (0, 6, 0) {
            top.push_str("annotations: {\"vendor.example/a\": b}\n");
        }
        if key >= (0, 7, 0) {
            edits.push("additionalGids: [44]".into());
            edits.push("intelRdt: {closID: clos1}".into());
        }
        if key >= (1, 1, 0) {
            edits.push("netDevices: [{hostInterfaceName: eth1, name: net1}]".into());
        }
        let edits: String = edits.iter().map(|e| format!("      {e}\n")).collect();
        format!(
            "cdiVersion: \"{v}\"\nkind: vendor.com/gpu\n{top}devices:\n  - name: gpu0\n    containerEdits:\n{edits}"
        )
    }

    #[test]
    fn every_version_parses_and_validates() {
        for v in VERSIONS {
            let text = spec_of_version(v);
            let spec = parse(text.as_bytes(), Format::Yaml).unwrap_or_else(|p| panic!("{v}: {p:?}\n{text}"));
            validate(&spec).unwrap_or_else(|p| panic!("{v}: {p:?}\n{text}"));
            assert_eq!(spec.version, v);
            // the same spec as JSON
            let json = serde_json::to_vec(&spec).unwrap();
            assert_eq!(parse(&json, Format::Json).unwrap(), spec, "{v}");
        }
    }

    #[test]
    fn a_spec_must_declare_the_version_of_the_fields_it_uses() {
        let spec = parse(spec_of_version("0.7.0").replace("\"0.7.0\"", "\"0.5.0\"").as_bytes(), Format::Yaml).unwrap();
        let p = validate(&spec).unwrap_err();
        assert_eq!(p.field, "devices[0].containerEdits.intelRdt");
        assert!(p.reason.contains("needs cdiVersion 0.7.0") && p.reason.contains("0.5.0"), "{p:?}");
        let spec = parse(spec_of_version("1.1.0").replace("\"1.1.0\"", "\"1.0.0\"").as_bytes(), Format::Yaml).unwrap();
        let p = validate(&spec).unwrap_err();
        assert_eq!(p.field, "devices[0].containerEdits.netDevices");
        let unknown =
            parse(spec_of_version("0.3.0").replace("\"0.3.0\"", "\"0.9.0\"").as_bytes(), Format::Yaml).unwrap();
        assert_eq!(validate(&unknown).unwrap_err().field, "cdiVersion");
        // a device name starting with a digit came with 0.5.0
        let mut s = parse(spec_of_version("0.3.0").as_bytes(), Format::Yaml).unwrap();
        s.devices[0].name = "0".into();
        assert_eq!(validate(&s).unwrap_err().field, "devices[0].name");
        s.version = "0.5.0".into();
        validate(&s).unwrap();
        // a class with a dot came with 0.6.0
        s.kind = "vendor.com/gpu.x".into();
        assert_eq!(validate(&s).unwrap_err().field, "kind");
    }

    #[test]
    fn errors_name_the_field() {
        let bad = "cdiVersion: 0.6.0\nkind: vendor.com/gpu\ndevices:\n- name: a\n  containerEdits:\n    deviceNodes:\n    - path: /dev/a\n      permissions: rwx\n";
        let p = validate(&parse(bad.as_bytes(), Format::Yaml).unwrap()).unwrap_err();
        assert_eq!(p.field, "devices[0].containerEdits.deviceNodes[0].permissions");
        assert!(p.reason.contains("rwx"), "{p:?}");
        let typo =
            "cdiVersion: 0.6.0\nkind: vendor.com/gpu\ndevices:\n- name: a\n  containerEdits:\n    deviceNode: []\n";
        let p = parse(typo.as_bytes(), Format::Yaml).unwrap_err();
        assert!(p.field.starts_with("devices[0].containerEdits"), "{p:?}");
        assert!(p.reason.contains("unknown field `deviceNode`"), "{p:?}");
        let p = parse(br#"{"cdiVersion": "0.6.0", "kind": "v.com/c", "devices": [{"name": "a", "containerEdits": {"deviceNodes": [{"path": "/d", "major": "x"}]}}]}"#, Format::Json).unwrap_err();
        assert_eq!(p.field, "devices[0].containerEdits.deviceNodes[0].major");
        let p = parse(b"kind: v.com/c\ndevices: []\n", Format::Yaml).unwrap_err();
        assert_eq!(p.field, "");
        assert!(p.reason.contains("cdiVersion"), "{p:?}");
        for (edit, field) in [
            ("env: [\"=x\"]", "devices[0].containerEdits.env[0]"),
            ("hooks: [{hookName: preStart, path: /x}]", "devices[0].containerEdits.hooks[0].hookName"),
            ("hooks: [{hookName: poststop, path: \"\"}]", "devices[0].containerEdits.hooks[0].path"),
            ("mounts: [{hostPath: \"\", containerPath: /x}]", "devices[0].containerEdits.mounts[0].hostPath"),
            ("deviceNodes: [{path: /d, type: x}]", "devices[0].containerEdits.deviceNodes[0].type"),
            ("intelRdt: {closID: \"a/b\"}", "devices[0].containerEdits.intelRdt.closID"),
        ] {
            let text = format!(
                "cdiVersion: 0.7.0\nkind: vendor.com/gpu\ndevices:\n- name: a\n  containerEdits:\n    {edit}\n"
            );
            let p = validate(&parse(text.as_bytes(), Format::Yaml).unwrap()).unwrap_err();
            assert_eq!(p.field, field, "{edit}: {p:?}");
        }
        let empty = "cdiVersion: 0.6.0\nkind: vendor.com/gpu\ndevices:\n- name: a\n";
        assert_eq!(
            validate(&parse(empty.as_bytes(), Format::Yaml).unwrap()).unwrap_err().field,
            "devices[0].containerEdits"
        );
        let none = "cdiVersion: 0.6.0\nkind: vendor.com/gpu\ndevices: []\n";
        assert_eq!(validate(&parse(none.as_bytes(), Format::Yaml).unwrap()).unwrap_err().field, "devices");
        let twice = "cdiVersion: 0.6.0\nkind: vendor.com/gpu\ndevices:\n- {name: a, containerEdits: {env: [A=1]}}\n- {name: a, containerEdits: {env: [A=2]}}\n";
        assert_eq!(validate(&parse(twice.as_bytes(), Format::Yaml).unwrap()).unwrap_err().field, "devices[1].name");
        let annotation = "cdiVersion: 0.6.0\nkind: vendor.com/gpu\nannotations: {\"Bad Key\": x}\ndevices:\n- {name: a, containerEdits: {env: [A=1]}}\n";
        assert_eq!(
            validate(&parse(annotation.as_bytes(), Format::Yaml).unwrap()).unwrap_err().field,
            "annotations.Bad Key"
        );
    }

    #[test]
    fn file_modes_read_as_the_reference_reads_them() {
        let node = |m: &str| {
            let text = format!("cdiVersion: 0.3.0\nkind: v.com/c\ndevices:\n- name: a\n  containerEdits:\n    deviceNodes: [{{path: /d, fileMode: {m}}}]\n");
            parse(text.as_bytes(), Format::Yaml).map(|s| s.devices[0].container_edits.device_nodes[0].file_mode)
        };
        assert_eq!(node("0666").unwrap(), Some(0o666), "YAML 1.1 octal, as the Go reference reads it");
        assert_eq!(node("0o640").unwrap(), Some(0o640));
        assert_eq!(node("438").unwrap(), Some(0o666));
        assert!(node("rw").is_err());
    }

    #[test]
    fn names_are_checked_as_the_reference_checks_them() {
        assert_eq!(check_qualified("nvidia.com/gpu=0").unwrap(), ("nvidia.com", "gpu", "0"));
        assert_eq!(check_qualified("vendor.com/class=GPU-1a2b:mig-1.2").unwrap().2, "GPU-1a2b:mig-1.2");
        assert!(check_qualified("/dev/null").is_err());
        assert!(check_qualified("nvidia.com/gpu").is_err());
        assert!(check_qualified("nvidia.com=0").is_err());
        assert!(check_qualified("1vendor.com/gpu=0").is_err(), "a vendor starts with a letter");
        assert!(check_qualified("vendor.com/gpu-=0").is_err(), "a class ends with a letter or digit");
        assert!(check_qualified("vendor.com/gpu=a b").is_err());
        assert!(check_qualified("vendor.com/gpu=a:").is_err());
        assert!(parse_qualified("a/b/c=d").is_none());
        assert!(parse_qualified("a/b=c=d").is_none());
    }
}
