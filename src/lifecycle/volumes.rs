//! The volume operations of the [`Rrun`] handle: `volume create`, `ls`,
//! `inspect`, `rm`, `prune`, and the volumes containers mount. What a volume
//! is lives in `volume`; this is the API layer's part (the store's lock, the
//! containers that use a volume).

use crate::volume::{create_locked, list, read, volume_dir, CreateVolume, Pruned, Volume, VolumeError};
use crate::{Error, Rrun};

impl Rrun {
    /// `volume create`: a new volume, or the existing one of that name.
    pub fn volume_create(&self, req: &CreateVolume) -> Result<Volume, Error> {
        let _lock = self.store().lock_exclusive()?;
        Ok(create_locked(self.store(), req)?.0)
    }

    /// A volume a container mounts: created when missing. True when it was.
    pub(crate) fn ensure_volume(&self, req: &CreateVolume) -> Result<(Volume, bool), Error> {
        let _lock = self.store().lock_exclusive()?;
        Ok(create_locked(self.store(), req)?)
    }

    /// Every volume, by name.
    pub fn volumes(&self) -> Result<Vec<Volume>, Error> {
        let _lock = self.store().lock_shared()?;
        Ok(list(self.store())?)
    }

    /// Every volume with the IDs of the containers (any state) that use it.
    pub fn volumes_with_users(&self) -> Result<Vec<(Volume, Vec<String>)>, Error> {
        let _lock = self.store().lock_shared()?;
        let containers = self.containers_unlocked()?;
        Ok(list(self.store())?
            .into_iter()
            .map(|v| {
                let users = containers
                    .iter()
                    .filter(|c| c.volumes.iter().any(|u| u.name == v.name))
                    .map(|c| c.id.clone())
                    .collect();
                (v, users)
            })
            .collect())
    }

    /// One volume by name.
    pub fn volume(&self, name: &str) -> Result<Volume, Error> {
        let _lock = self.store().lock_shared()?;
        Ok(read(self.store(), name)?)
    }

    /// One volume by name; the caller holds the store lock.
    pub(crate) fn volume_unlocked(&self, name: &str) -> Result<Volume, Error> {
        Ok(read(self.store(), name)?)
    }

    /// IDs of the containers (any state) that use volume `name`.
    pub fn volume_users(&self, name: &str) -> Result<Vec<String>, Error> {
        let _lock = self.store().lock_shared()?;
        self.volume_users_unlocked(name)
    }

    fn volume_users_unlocked(&self, name: &str) -> Result<Vec<String>, Error> {
        Ok(self
            .containers_unlocked()?
            .into_iter()
            .filter(|c| c.volumes.iter().any(|v| v.name == name))
            .map(|c| c.id)
            .collect())
    }

    /// `volume rm`: refused while any container, running or not, uses it
    /// (with `force` too, as Docker refuses); `force` makes a missing volume no error.
    pub fn volume_remove(&self, name: &str, force: bool) -> Result<(), Error> {
        let _lock = self.store().lock_exclusive()?;
        if let Err(e) = read(self.store(), name) {
            return match e {
                VolumeError::NotFound(_) if force => Ok(()),
                e => Err(e.into()),
            };
        }
        let users = self.volume_users_unlocked(name)?;
        if !users.is_empty() {
            return Err(VolumeError::InUse { name: name.to_string(), containers: users.join(", ") }.into());
        }
        self.store().remove_dir(&volume_dir(self.store(), name))?;
        tracing::info!(volume = %name, "volume removed");
        Ok(())
    }

    /// `volume prune`: removes the volumes no container uses — only
    /// anonymous ones unless `all`.
    pub fn volume_prune(&self, all: bool) -> Result<Pruned, Error> {
        let _lock = self.store().lock_exclusive()?;
        let containers = self.containers_unlocked()?;
        let mut out = Pruned::default();
        for v in list(self.store())? {
            if !(all || v.is_anonymous()) || containers.iter().any(|c| c.volumes.iter().any(|u| u.name == v.name)) {
                continue;
            }
            let dir = volume_dir(self.store(), &v.name);
            let size = crate::store::tree_size(&dir.join("_data"));
            self.store().remove_dir(&dir)?;
            out.space += size;
            out.volumes.push(v.name);
        }
        Ok(out)
    }

    /// Removes the anonymous volumes of a removed container that no other container uses.
    pub(crate) fn remove_anonymous_volumes(&self, used: &[crate::container::VolumeUse]) {
        for u in used.iter().filter(|u| u.anonymous) {
            match self.volume_remove(&u.name, true) {
                Ok(()) | Err(Error::Volume(VolumeError::InUse { .. })) => {}
                Err(e) => tracing::warn!(volume = %u.name, error = %e, "removing an anonymous volume"),
            }
        }
    }
}
