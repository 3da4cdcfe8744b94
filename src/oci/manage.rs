//! `list`, `ps`, `pause`, `resume`, `update` and `events`.

use super::{io, OciError, Runtime, State, Status};
use oci_spec::runtime::LinuxResources;
use serde::Serialize;

/// One `events` line, as runc prints it: `stats` (with data) or `oom`.
/// One event of `events`, as runc prints it (a JSON line).
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct ContainerEvent {
    /// `stats` or `oom`.
    #[serde(rename = "type")]
    pub typ: String,
    /// The container's ID.
    pub id: String,
    /// The counters, for a `stats` event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<ContainerStatsData>,
}

/// The `data` of a stats event, in runc's field names.
#[derive(Debug, Clone, Serialize, Default)]
#[non_exhaustive]
pub struct ContainerStatsData {
    /// `{"usage": {"total": NS}}`: CPU time used, in nanoseconds.
    pub cpu: serde_json::Value,
    /// `{"usage": {"usage": BYTES, "limit": BYTES}}` (limit 0: none).
    pub memory: serde_json::Value,
    /// `{"current": N}`: the number of processes.
    pub pids: serde_json::Value,
}

impl Runtime {
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
        let mut pids = Runtime::cgroup(&rec).map(|c| c.pids()).unwrap_or_default();
        pids.sort_unstable();
        Ok(pids)
    }

    /// Freezes the container's cgroup. Fails with [`OciError::NotRunning`]
    /// once it stopped, [`OciError::WrongState`] while paused already.
    pub fn pause(&self, id: &str) -> Result<(), OciError> {
        let rec = self.record(id)?;
        let status = self.status_of(&rec);
        if status == Status::Stopped {
            return Err(OciError::NotRunning { id: id.to_string(), action: "pause" });
        }
        if !matches!(status, Status::Running | Status::Created) {
            return Err(OciError::WrongState { id: id.to_string(), action: "pause", status });
        }
        let cg = Runtime::cgroup(&rec).ok_or_else(|| OciError::Invalid(format!("container {id} has no cgroup")))?;
        Ok(cg.freeze()?)
    }

    /// Thaws a paused container's cgroup; [`OciError::WrongState`] when it is not paused.
    pub fn resume(&self, id: &str) -> Result<(), OciError> {
        let rec = self.record(id)?;
        let status = self.status_of(&rec);
        if status != Status::Paused {
            return Err(OciError::WrongState { id: id.to_string(), action: "resume", status });
        }
        let cg = Runtime::cgroup(&rec).ok_or_else(|| OciError::Invalid(format!("container {id} has no cgroup")))?;
        Ok(cg.thaw()?)
    }

    /// Applies new limits to a live container and keeps them in its config.
    pub fn update(&self, id: &str, resources: &LinuxResources) -> Result<(), OciError> {
        let rec = self.record(id)?;
        let status = self.status_of(&rec);
        if status == Status::Stopped {
            return Err(OciError::WrongState { id: id.to_string(), action: "update", status });
        }
        let cg = Runtime::cgroup(&rec).ok_or_else(|| OciError::Invalid(format!("container {id} has no cgroup")))?;
        // device rules get runc's defaults, as at create
        cg.apply(&super::create::with_default_devices(resources))?;
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
        let cg = Runtime::cgroup(&rec).ok_or_else(|| OciError::Invalid(format!("container {id} has no cgroup")))?;
        let s = cg.stats()?;
        Ok(ContainerEvent {
            typ: "stats".into(),
            id: id.to_string(),
            data: Some(ContainerStatsData {
                cpu: serde_json::json!({ "usage": { "total": s.cpu_usage_ns } }),
                memory: serde_json::json!({ "usage": { "usage": s.memory_usage, "limit": s.memory_limit.unwrap_or(0) } }),
                pids: serde_json::json!({ "current": s.pids }),
            }),
        })
    }

    /// `events`: a stats event at once and every `interval`, and an `oom`
    /// event whenever the kernel's OOM killer strikes in the container, until
    /// it stops (runc's go on forever; a stopped container has no more events).
    pub fn events(
        &self,
        id: &str,
        interval: std::time::Duration,
        emit: &mut dyn FnMut(&ContainerEvent),
    ) -> Result<(), OciError> {
        let rec = self.record(id)?;
        let cg = Runtime::cgroup(&rec).ok_or_else(|| OciError::Invalid(format!("container {id} has no cgroup")))?;
        let mut ooms = cg.stats().map(|s| s.oom_kills).unwrap_or(0);
        let tick = std::time::Duration::from_millis(100).min(interval.max(std::time::Duration::from_millis(1)));
        let mut next_stats = std::time::Instant::now();
        loop {
            if self.status_of(&rec) == Status::Stopped {
                return Ok(());
            }
            let now = cg.stats().map(|s| s.oom_kills).unwrap_or(ooms);
            if now > ooms {
                ooms = now;
                emit(&ContainerEvent { typ: "oom".into(), id: id.to_string(), data: None });
            }
            if std::time::Instant::now() >= next_stats {
                match self.stats(id) {
                    Ok(ev) => emit(&ev),
                    Err(OciError::WrongState { .. }) => return Ok(()),
                    Err(e) => return Err(e),
                }
                next_stats += interval;
            }
            std::thread::sleep(tick);
        }
    }

    /// `ps ID [ps options]`: ps(1) run with the options (runc's default
    /// `-ef`), its header and the lines of the container's processes.
    pub fn ps_table(&self, id: &str, ps_args: &[String]) -> Result<String, OciError> {
        let pids = self.pids(id)?;
        let args: Vec<String> = if ps_args.is_empty() { vec!["-ef".into()] } else { ps_args.to_vec() };
        let out = std::process::Command::new("ps")
            .args(&args)
            .output()
            .map_err(|e| OciError::Invalid(format!("ps {}: {e}", args.join(" "))))?;
        if !out.status.success() {
            return Err(OciError::Invalid(format!(
                "ps {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let mut lines = text.lines();
        let header = lines.next().unwrap_or("");
        let col = header
            .split_whitespace()
            .position(|h| h == "PID")
            .ok_or_else(|| OciError::Invalid(format!("ps {}: no PID column in its output", args.join(" "))))?;
        let mut table = format!("{header}\n");
        for l in lines {
            let pid = l.split_whitespace().nth(col).and_then(|p| p.parse::<i32>().ok());
            if pid.is_some_and(|p| pids.contains(&p)) {
                table.push_str(l);
                table.push('\n');
            }
        }
        Ok(table)
    }
}

/// `update` replaces only what it names, field by field.
fn merge(mut base: LinuxResources, new: &LinuxResources) -> LinuxResources {
    use oci_spec::runtime::{LinuxCpu, LinuxMemory};
    if let Some(m) = new.memory() {
        let merged: LinuxMemory = merge_json(&base.memory().unwrap_or_default(), m);
        base.set_memory(Some(merged));
    }
    if let Some(c) = new.cpu() {
        let merged: LinuxCpu = merge_json(&base.cpu().clone().unwrap_or_default(), c);
        base.set_cpu(Some(merged));
    }
    if new.pids().is_some() {
        base.set_pids(*new.pids());
    }
    if let Some(b) = new.block_io() {
        base.set_block_io(Some(merge_json(&base.block_io().clone().unwrap_or_default(), b)));
    }
    if new.devices().is_some() {
        base.set_devices(new.devices().clone());
    }
    if new.hugepage_limits().is_some() {
        base.set_hugepage_limits(new.hugepage_limits().clone());
    }
    if new.network().is_some() {
        base.set_network(new.network().clone());
    }
    if new.unified().is_some() {
        base.set_unified(new.unified().clone());
    }
    base
}

/// The fields `new` sets laid over `base` (both serialize to JSON objects
/// that leave unset fields out).
fn merge_json<T: Serialize + serde::de::DeserializeOwned>(base: &T, new: &T) -> T {
    let mut b = serde_json::to_value(base).unwrap_or_default();
    if let (Some(bo), serde_json::Value::Object(no)) =
        (b.as_object_mut(), serde_json::to_value(new).unwrap_or_default())
    {
        for (k, v) in no {
            bo.insert(k, v);
        }
    }
    serde_json::from_value(b)
        .unwrap_or_else(|_| serde_json::from_value(serde_json::to_value(new).unwrap_or_default()).expect("round trip"))
}
