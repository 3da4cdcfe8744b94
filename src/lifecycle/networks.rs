//! The network operations of the [`Rrun`] handle: `network create`, `ls`,
//! `inspect`, `rm`, `prune`. What a network is lives in `network`; this is
//! the API layer's part (the store's lock, its containers, the events journal).

use crate::network::config::HostConfig;
use crate::network::{
    attach, bridge, create_locked, default_network, find, list_own, network_path, register, special_network,
    unregister, CreateNetwork, NetworkDef, NetworkError, NetworkInfo,
};
use crate::{io_error, Error, Rrun};
use std::collections::BTreeMap;

impl Rrun {
    /// `network create`: a bridge network of this store, with a subnet of its own.
    pub fn network_create(&self, req: &CreateNetwork) -> Result<NetworkInfo, Error> {
        let cfg = HostConfig::load()?;
        let def = {
            let _lock = self.store().lock_exclusive()?;
            // one create at a time on the host: two stores' new networks get different subnets
            let _net = attach::NetLock::take()?;
            let def = create_locked(self.store(), &cfg, req)?;
            register(self.store(), &def);
            def
        };
        tracing::info!(network = %def.name, subnet = %def.subnet, "network created");
        self.emit_network("create", &def, &[]);
        Ok(NetworkInfo::of(&def, &[]))
    }

    /// Every network: the pre-defined `bridge`, `host` and `none`, then the store's by name.
    pub fn networks(&self) -> Result<Vec<NetworkInfo>, Error> {
        let cfg = HostConfig::load()?;
        let (own, containers) = {
            let _lock = self.store().lock_shared()?;
            (list_own(self.store())?, self.containers_unlocked()?)
        };
        let mut all = vec![default_network(&cfg), special_network("host", "host"), special_network("none", "null")];
        all.extend(own);
        Ok(all.iter().map(|n| NetworkInfo::of(n, &containers)).collect())
    }

    /// One network by name, ID or ID prefix.
    pub fn network(&self, name_or_id: &str) -> Result<NetworkInfo, Error> {
        let cfg = HostConfig::load()?;
        let _lock = self.store().lock_shared()?;
        let def = find(self.store(), &cfg, name_or_id)?;
        Ok(NetworkInfo::of(&def, &self.containers_unlocked()?))
    }

    /// `network rm`: refused for the pre-defined networks and while a
    /// container of the store (in any state) is on it. Returns its name.
    pub fn network_remove(&self, name_or_id: &str) -> Result<String, Error> {
        let cfg = HostConfig::load()?;
        let def = {
            let _lock = self.store().lock_exclusive()?;
            let def = find(self.store(), &cfg, name_or_id)?;
            if def.is_predefined() {
                return Err(NetworkError::Predefined(def.name).into());
            }
            let users: Vec<String> = self
                .containers_unlocked()?
                .into_iter()
                .filter(|c| c.network.networks.iter().any(|a| a.name == def.name))
                .map(|c| c.name)
                .collect();
            if !users.is_empty() {
                return Err(NetworkError::InUse { name: def.name, containers: users.join(", ") }.into());
            }
            let path = network_path(self.store(), &def.name);
            std::fs::remove_file(&path).map_err(io_error(&path))?;
            unregister(&def);
            def
        };
        self.emit_network("destroy", &def, &[]);
        Ok(def.name)
    }

    /// `network prune`: removes the store's networks no container uses, and
    /// tears down what containers of removed stores left set up on the host.
    pub fn network_prune(&self) -> Result<Vec<String>, Error> {
        attach::sweep_orphans();
        let own = {
            let _lock = self.store().lock_shared()?;
            list_own(self.store())?
        };
        let mut removed = Vec::new();
        for n in own {
            match self.network_remove(&n.name) {
                Ok(name) => removed.push(name),
                Err(Error::Network(NetworkError::InUse { .. } | NetworkError::NotFound(_))) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(removed)
    }

    /// A network event in the journal (`type=network`).
    pub(crate) fn emit_network(&self, action: &str, n: &NetworkDef, extra: &[(&str, String)]) {
        let mut attrs = BTreeMap::from([("name".to_string(), n.name.clone()), ("type".to_string(), n.driver.clone())]);
        attrs.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
        self.emit("network", action, &n.id, attrs);
    }

    /// The store's network `name` as a container joins it (the default `bridge` too).
    pub(crate) fn bridge_network(&self, cfg: &HostConfig, name: &str) -> Result<NetworkDef, Error> {
        let _lock = self.store().lock_shared()?;
        Ok(bridge(self.store(), cfg, name)?)
    }
}
