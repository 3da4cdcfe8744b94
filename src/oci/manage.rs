//! `list`, `ps`, `pause`, `resume`, `update` and `events`.

use super::{io, OciError, OciRuntime, State, Status};
use oci_spec::runtime::LinuxResources;
use serde::Serialize;

/// One `events` line, as runc prints it.
#[derive(Debug, Clone, Serialize)]
pub struct ContainerEvent {
    #[serde(rename = "type")]
    pub typ: String,
    pub id: String,
    pub data: ContainerStatsData,
}

/// The `data` of a stats event, in runc's field names.
#[derive(Debug, Clone, Serialize, Default)]
pub struct ContainerStatsData {
    pub cpu: serde_json::Value,
    pub memory: serde_json::Value,
    pub pids: serde_json::Value,
}

impl OciRuntime {
    /// Every container of this root, sorted by ID.
    pub fn list(&self) -> Result<Vec<State>, OciError> {
        let mut out = Vec::new();
        let entries = match std::fs::read_dir(&self.root) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(OciError::Io { path: self.root.clone(), source: e }),
        };
        for e in entries.flatten() {
            let id = e.file_name().to_string_lossy().into_owned();
            if let Ok(s) = self.state(&id) {
                out.push(s);
            }
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    /// Host PIDs of the container's processes.
    pub fn pids(&self, id: &str) -> Result<Vec<i32>, OciError> {
        let rec = self.record(id)?;
        if self.status_of(&rec) == Status::Stopped {
            return Ok(Vec::new());
        }
        let mut pids = OciRuntime::cgroup(&rec).map(|c| c.pids()).unwrap_or_default();
        pids.sort_unstable();
        Ok(pids)
    }

    pub fn pause(&self, id: &str) -> Result<(), OciError> {
        let rec = self.record(id)?;
        let status = self.status_of(&rec);
        if status == Status::Stopped {
            return Err(OciError::NotRunning { id: id.to_string(), action: "pause" });
        }
        if !matches!(status, Status::Running | Status::Created) {
            return Err(OciError::WrongState { id: id.to_string(), action: "pause", status });
        }
        let cg = OciRuntime::cgroup(&rec).ok_or_else(|| OciError::Invalid(format!("container {id} has no cgroup")))?;
        Ok(cg.freeze()?)
    }

    pub fn resume(&self, id: &str) -> Result<(), OciError> {
        let rec = self.record(id)?;
        let status = self.status_of(&rec);
        if status != Status::Paused {
            return Err(OciError::WrongState { id: id.to_string(), action: "resume", status });
        }
        let cg = OciRuntime::cgroup(&rec).ok_or_else(|| OciError::Invalid(format!("container {id} has no cgroup")))?;
        Ok(cg.thaw()?)
    }

    /// Applies new limits to a live container and keeps them in its config.
    pub fn update(&self, id: &str, resources: &LinuxResources) -> Result<(), OciError> {
        let rec = self.record(id)?;
        let status = self.status_of(&rec);
        if status == Status::Stopped {
            return Err(OciError::WrongState { id: id.to_string(), action: "update", status });
        }
        let cg = OciRuntime::cgroup(&rec).ok_or_else(|| OciError::Invalid(format!("container {id} has no cgroup")))?;
        cg.apply(resources)?;
        let mut spec = self.config(id)?;
        let mut linux = spec.linux().clone().unwrap_or_default();
        linux.set_resources(Some(merge(linux.resources().clone().unwrap_or_default(), resources)));
        spec.set_linux(Some(linux));
        let path = self.dir(id)?.join("config.json");
        let bytes = serde_json::to_vec(&spec).expect("spec serializes");
        crate::store::write_file_atomic(&path, &bytes, false).map_err(io(&path))
    }

    /// One stats event from the container's cgroup counters.
    pub fn stats(&self, id: &str) -> Result<ContainerEvent, OciError> {
        let rec = self.record(id)?;
        let status = self.status_of(&rec);
        if status == Status::Stopped {
            return Err(OciError::WrongState { id: id.to_string(), action: "events", status });
        }
        let cg = OciRuntime::cgroup(&rec).ok_or_else(|| OciError::Invalid(format!("container {id} has no cgroup")))?;
        let s = cg.stats()?;
        Ok(ContainerEvent {
            typ: "stats".into(),
            id: id.to_string(),
            data: ContainerStatsData {
                cpu: serde_json::json!({ "usage": { "total": s.cpu_usage_ns } }),
                memory: serde_json::json!({ "usage": { "usage": s.memory_usage, "limit": s.memory_limit.unwrap_or(0) } }),
                pids: serde_json::json!({ "current": s.pids }),
            },
        })
    }
}

/// `update` replaces only what it names.
fn merge(mut base: LinuxResources, new: &LinuxResources) -> LinuxResources {
    if new.memory().is_some() {
        base.set_memory(*new.memory());
    }
    if new.cpu().is_some() {
        base.set_cpu(new.cpu().clone());
    }
    if new.pids().is_some() {
        base.set_pids(*new.pids());
    }
    if new.devices().is_some() {
        base.set_devices(new.devices().clone());
    }
    base
}
