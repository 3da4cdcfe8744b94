//! Docker's `--gpus` (`all`, `2`, `'"device=0,1"'`, `count=2,capabilities=compute`)
//! mapped onto NVIDIA's CDI names (`nvidia.com/gpu=…`), as Docker and
//! Podman map it when they use CDI.

use super::{CdiError, Registry};

/// The CDI kind `--gpus` selects from (`nvidia-ctk cdi generate` writes it).
pub const NVIDIA_GPU_KIND: &str = "nvidia.com/gpu";

/// One `--gpus` value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GpuRequest {
    /// What was given, for errors.
    pub value: String,
    /// `count=` or `device=` (or a bare `all` or number): which GPUs.
    pub which: Gpus,
    /// `capabilities=`: the driver capabilities asked for (Docker adds `gpu`).
    pub capabilities: Vec<String>,
}

/// Which GPUs a request selects.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Gpus {
    /// `all`, `count=all` or `count=-1`.
    #[default]
    All,
    /// The first N, by index.
    Count(u32),
    /// By index or UUID (`device=0,GPU-…`).
    Devices(Vec<String>),
}

/// The capabilities NVIDIA's container toolkit knows.
const CAPABILITIES: [&str; 8] = ["gpu", "compute", "compat32", "graphics", "utility", "video", "display", "all"];

/// Splits Docker's CSV: commas separate fields, except inside double quotes.
fn csv_fields(value: &str) -> Result<Vec<String>, String> {
    let mut fields = vec![String::new()];
    let mut quoted = false;
    for c in value.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(String::new()),
            c => fields.last_mut().expect("one field at least").push(c),
        }
    }
    if quoted {
        return Err("an unterminated quote".into());
    }
    Ok(fields)
}

impl std::str::FromStr for GpuRequest {
    type Err = CdiError;
    /// Docker's syntax: CSV fields `count=N|all`, `device=ID,ID` (quoted, for
    /// the commas), `capabilities=…`, `driver=nvidia`; a bare `all` or number is a count.
    fn from_str(value: &str) -> Result<GpuRequest, CdiError> {
        let bad = |reason: String| CdiError::Gpus { value: value.to_string(), reason };
        let count = |s: &str| -> Result<Gpus, CdiError> {
            match s {
                "all" | "-1" => Ok(Gpus::All),
                n => n.parse::<u32>().map(Gpus::Count).map_err(|_| bad(format!("count {s:?} must be a number or all"))),
            }
        };
        let mut req = GpuRequest { value: value.to_string(), ..Default::default() };
        let (mut which_count, mut devices) = (None, None);
        let mut seen = std::collections::HashSet::new();
        for field in csv_fields(value).map_err(bad)? {
            let (key, val) = match field.split_once('=') {
                Some((k, v)) => (k, Some(v)),
                None => ("count", None),
            };
            if !seen.insert(key.to_string()) {
                return Err(bad(match key {
                    "count" if devices.is_some() || val.is_none() => {
                        "count is given twice (quote a device list: --gpus '\"device=0,1\"')".to_string()
                    }
                    _ => format!("{key} is given twice"),
                }));
            }
            match (key, val) {
                ("count", None) => which_count = Some(count(&field)?),
                ("count", Some(v)) => which_count = Some(count(v)?),
                ("device", Some(v)) => {
                    let ids: Vec<String> = v.split(',').map(|s| s.trim().to_string()).collect();
                    if ids.iter().any(String::is_empty) {
                        return Err(bad("an empty device ID".into()));
                    }
                    devices = Some(ids);
                }
                ("capabilities", Some(v)) => {
                    for c in v.split(',').map(str::trim) {
                        if !CAPABILITIES.contains(&c) {
                            return Err(bad(format!(
                                "unknown capability {c:?}: expected some of {}",
                                CAPABILITIES.join(", ")
                            )));
                        }
                        if c != "gpu" && !req.capabilities.iter().any(|x| x == c) {
                            req.capabilities.push(c.to_string());
                        }
                    }
                }
                ("driver", Some("nvidia")) => {}
                ("driver", Some(d)) => return Err(bad(format!("driver {d:?}: only nvidia GPUs are supported"))),
                ("options", Some(_)) => return Err(bad("driver options are not supported with CDI".into())),
                (k, _) => {
                    return Err(bad(format!("unexpected key {k:?}: expected count, device, capabilities or driver")))
                }
            }
        }
        req.which = match (which_count, devices) {
            (Some(_), Some(_)) => {
                return Err(bad(
                    "a count and a device list cannot be combined (quote the device list: --gpus '\"device=0,1\"')"
                        .into(),
                ))
            }
            (Some(c), None) => c,
            (None, Some(ids)) => Gpus::Devices(ids),
            // as Docker: no count and no devices is one GPU
            (None, None) => Gpus::Count(1),
        };
        Ok(req)
    }
}

impl Registry {
    /// The CDI names `--gpus` requests select, in order, and the
    /// environment they add (`NVIDIA_DRIVER_CAPABILITIES`, as Docker's
    /// NVIDIA driver sets it).
    pub fn gpu_devices(&self, reqs: &[GpuRequest]) -> Result<(Vec<String>, Vec<String>), CdiError> {
        let mut names: Vec<String> = Vec::new();
        let mut capabilities: Vec<String> = Vec::new();
        let known = self.names_of_kind(NVIDIA_GPU_KIND);
        let indexed: Vec<&String> =
            known.iter().filter(|n| n[NVIDIA_GPU_KIND.len() + 1..].parse::<u64>().is_ok()).collect();
        for req in reqs {
            let bad = |reason: String| CdiError::Gpus { value: req.value.clone(), reason };
            let selected: Vec<String> = match &req.which {
                Gpus::All => vec![format!("{NVIDIA_GPU_KIND}=all")],
                Gpus::Count(0) => Vec::new(),
                Gpus::Count(n) if (*n as usize) <= indexed.len() => {
                    indexed.iter().take(*n as usize).map(|s| s.to_string()).collect()
                }
                Gpus::Count(n) => {
                    return Err(bad(format!(
                        "{n} GPUs asked for, and the CDI specs define {} by index{}",
                        indexed.len(),
                        if indexed.is_empty() {
                            " (generate a spec with `nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml`)"
                                .to_string()
                        } else {
                            format!(": {}", indexed.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "))
                        }
                    )))
                }
                Gpus::Devices(ids) => ids.iter().map(|id| format!("{NVIDIA_GPU_KIND}={id}")).collect(),
            };
            for n in selected {
                if !names.contains(&n) {
                    names.push(n);
                }
            }
            for c in &req.capabilities {
                if !capabilities.contains(c) {
                    capabilities.push(c.clone());
                }
            }
        }
        let env = if capabilities.is_empty() {
            Vec::new()
        } else {
            vec![format!("NVIDIA_DRIVER_CAPABILITIES={}", capabilities.join(","))]
        };
        Ok((names, env))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: &str) -> Result<GpuRequest, String> {
        v.parse::<GpuRequest>().map_err(|e| e.to_string())
    }

    #[test]
    fn docker_syntax() {
        assert_eq!(parse("all").unwrap().which, Gpus::All);
        assert_eq!(parse("count=all").unwrap().which, Gpus::All);
        assert_eq!(parse("2").unwrap().which, Gpus::Count(2));
        assert_eq!(parse("count=1,driver=nvidia").unwrap().which, Gpus::Count(1));
        assert_eq!(parse("\"device=0,2\"").unwrap().which, Gpus::Devices(vec!["0".into(), "2".into()]));
        assert_eq!(parse("device=GPU-3a23c669-1f69").unwrap().which, Gpus::Devices(vec!["GPU-3a23c669-1f69".into()]));
        let r = parse("all,\"capabilities=compute,utility\"").unwrap();
        assert_eq!((r.which, r.capabilities), (Gpus::All, vec!["compute".to_string(), "utility".to_string()]));
        assert_eq!(parse("capabilities=gpu").unwrap().which, Gpus::Count(1), "no count and no devices: one GPU");
        let e = parse("device=0,1").unwrap_err();
        assert!(e.contains("quote"), "{e}");
        assert!(parse("count=x").is_err());
        assert!(parse("driver=amd").unwrap_err().contains("only nvidia"));
        assert!(parse("options=a=b").is_err());
        assert!(parse("mode=1").unwrap_err().contains("unexpected key"));
        assert!(parse("capabilities=fly").unwrap_err().contains("unknown capability"));
        assert!(parse("\"device=0").unwrap_err().contains("quote"));
    }

    #[test]
    fn requests_map_onto_nvidia_names() {
        let d = super::super::tests::Dir::new("gpus");
        let devs: String = ["0", "1", "GPU-aa", "all"]
            .iter()
            .map(|n| format!("  - name: \"{n}\"\n    containerEdits: {{env: [\"N={n}\"]}}\n"))
            .collect();
        d.write("nvidia.yaml", &format!("cdiVersion: 0.5.0\nkind: nvidia.com/gpu\ndevices:\n{devs}"));
        let reg = Registry::load(std::slice::from_ref(&d.0));
        let names = |v: &[&str]| {
            let reqs: Vec<GpuRequest> = v.iter().map(|s| s.parse().unwrap()).collect();
            reg.gpu_devices(&reqs).map_err(|e| e.to_string())
        };
        assert_eq!(names(&["all"]).unwrap().0, ["nvidia.com/gpu=all"]);
        assert_eq!(names(&["2"]).unwrap().0, ["nvidia.com/gpu=0", "nvidia.com/gpu=1"]);
        assert_eq!(
            names(&["\"device=1,GPU-aa\"", "device=1"]).unwrap().0,
            ["nvidia.com/gpu=1", "nvidia.com/gpu=GPU-aa"]
        );
        assert!(names(&["0"]).unwrap().0.is_empty());
        let e = names(&["3"]).unwrap_err();
        assert!(e.contains("3 GPUs") && e.contains("nvidia.com/gpu=0, nvidia.com/gpu=1"), "{e}");
        let (_, env) = names(&["all,capabilities=utility", "\"capabilities=compute,utility\""]).unwrap();
        assert_eq!(env, ["NVIDIA_DRIVER_CAPABILITIES=utility,compute"]);
        let none = Registry::load(&[]);
        assert!(none.gpu_devices(&["1".parse().unwrap()]).unwrap_err().to_string().contains("nvidia-ctk cdi generate"));
    }
}
