//! `rrun update`: new limits for a container — applied to its cgroup at
//! once when it runs, and kept in its `config.json` so that its next start
//! has them too — and a new restart policy.

use crate::container::{ContainerRecord, RestartPolicy};
use crate::spec::resources::{self, Limits};
use crate::{cgroups, io_error, Error, Rrun};

/// What `rrun update` changes; what it leaves out stays as it is.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct UpdateOptions {
    /// New resource limits; the fields left `None` keep their value.
    pub limits: Limits,
    /// `--restart`: a new restart policy.
    pub restart: Option<RestartPolicy>,
}

impl Rrun {
    /// Changes a container's limits and restart policy.
    pub fn update_container(&self, name_or_id: &str, opts: &UpdateOptions) -> Result<ContainerRecord, Error> {
        let mut c = self.open_container(name_or_id)?;
        if opts.restart.is_some_and(|p| p != RestartPolicy::No) && c.record.auto_remove {
            return Err(Error::Conflict(
                "Restart policy cannot be updated because AutoRemove is enabled for the container".into(),
            ));
        }
        let mut linux = c.spec.linux().clone().unwrap_or_default();
        let (delta, merged) = resources::update(&linux.resources().clone().unwrap_or_default(), &opts.limits)?;
        if c.record.is_running() {
            if let Some(cg) = cgroups::open(&c.record.cgroup) {
                cg.apply(&delta)?;
            }
        }
        linux.set_resources(Some(merged));
        c.spec.set_linux(Some(linux));
        let path = c.dir.join("config.json");
        let bytes = serde_json::to_vec_pretty(&c.spec).expect("spec serializes");
        crate::store::write_file_atomic(&path, &bytes, true).map_err(io_error(&path))?;
        let rec = match opts.restart {
            Some(policy) => self.update(&c.dir, |r| r.restart_policy = policy)?.unwrap_or(c.record),
            None => c.record,
        };
        self.emit_container(&rec, "update", &[]);
        Ok(rec)
    }
}
