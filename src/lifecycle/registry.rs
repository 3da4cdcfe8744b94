//! The registry operations of the [`Rrun`] handle: pull, push, tag, login,
//! logout, search. The protocol is `registry`'s; this is the API layer's
//! part (the store's lock, the events journal, the crate's error).

use crate::image::import::LoadedImage;
use crate::reference::ImageRef;
use crate::registry::ops::login_host;
use crate::registry::{
    pull, push, ClientOptions, Credential, PullOptions, RegistryClient, RegistryError, SearchResult,
};
use crate::{Error, Rrun};

/// A registry error as the crate's: an import's or the store's failure
/// keeps its own variant, as when a load fails the same way.
fn lift(e: RegistryError) -> Error {
    match e {
        RegistryError::Import(e) => Error::Import(*e),
        RegistryError::Store(e) => Error::Store(*e),
        e => Error::Registry(e),
    }
}

impl Rrun {
    /// Pulls an image. A short name (`alpine`) is tried in each of the
    /// configured unqualified-search registries, Docker Hub by default.
    pub fn pull(&self, reference: &str, client: &ClientOptions, opts: &PullOptions) -> Result<LoadedImage, Error> {
        let client_ = RegistryClient::new(client.clone());
        let candidates: Vec<ImageRef> =
            if ImageRef::is_short_name(reference) && !client.config.unqualified_search_registries.is_empty() {
                client
                    .config
                    .unqualified_search_registries
                    .iter()
                    .map(|r| ImageRef::parse(&format!("{r}/{reference}")))
                    .collect::<Result<_, _>>()?
            } else {
                vec![ImageRef::parse(reference)?]
            };
        let mut last = None;
        for r in &candidates {
            match pull::pull(self.store(), &client_, r, opts).map_err(lift) {
                Ok(l) => {
                    self.emit_image("pull", &r.to_string(), &r.to_string());
                    return Ok(l);
                }
                Err(e) => {
                    tracing::debug!(image = %r, error = %e, "pull failed");
                    last = Some(e);
                }
            }
        }
        Err(last.expect("at least one candidate"))
    }

    /// Gives a local image another name.
    pub fn tag(&self, source: &str, target: &str) -> Result<(), Error> {
        let target = ImageRef::parse(target)?;
        if target.digest.is_some() {
            return Err(Error::Registry(RegistryError::Other(format!("cannot tag with a digest: {target}"))));
        }
        let _lock = self.store().lock_exclusive()?;
        let mut index = self.store().read_index()?;
        let manifest = index.lookup_digest(source).ok_or_else(|| Error::ImageNotFound(source.to_string()))?;
        let id = index.images.get(&manifest).map(|i| i.config.to_string()).unwrap_or_default();
        index.tags.insert(target.to_string(), manifest);
        self.store().write_index(&index)?;
        self.emit_image("tag", &id, &target.to_string());
        Ok(())
    }

    /// Pushes a local image (by name or ID) to `target` (default: its own name).
    pub fn push(
        &self,
        local: &str,
        target: Option<&str>,
        client: &ClientOptions,
    ) -> Result<crate::digest::Digest, Error> {
        let target = ImageRef::parse(target.unwrap_or(local))?;
        let (record, index) = {
            let _lock = self.store().lock_shared()?;
            let index = self.store().read_index()?;
            let record = index.lookup(local).cloned().ok_or_else(|| Error::ImageNotFound(local.to_string()))?;
            (record, index)
        };
        let client = RegistryClient::new(client.clone());
        push::push(self.store(), &client, &record, &index, &target).map_err(lift)
    }

    /// Checks credentials against `host` and stores them where podman and skopeo look.
    pub fn login(&self, host: &str, cred: &Credential, client: &ClientOptions) -> Result<(), Error> {
        let host = login_host(host);
        let files = client.auth.clone();
        // check with exactly these credentials: a client whose only auth file is a scratch one
        let scratch = std::env::temp_dir().join(format!("rrun-login-{}.json", std::process::id()));
        let probe_files = crate::registry::AuthFiles { read: vec![scratch.clone()], write: scratch.clone() };
        probe_files.store(&host, cred)?;
        let probe = RegistryClient::new(ClientOptions { auth: probe_files, ..client.clone() });
        let result = probe.ping(&pull::api_host(&host));
        let _ = std::fs::remove_file(&scratch);
        result?;
        files.store(&host, cred)?;
        Ok(())
    }

    /// Forgets the credentials for `host`; false if there were none.
    pub fn logout(&self, host: &str, client: &ClientOptions) -> Result<bool, Error> {
        Ok(client.auth.remove(&login_host(host))?)
    }

    /// `registry/` or `registry/term`: the registry's catalog (filtered);
    /// a bare term: Docker Hub's search.
    pub fn search(&self, term: &str, limit: usize, client: &ClientOptions) -> Result<Vec<SearchResult>, Error> {
        let c = RegistryClient::new(client.clone());
        match term.split_once('/') {
            Some((host, filter)) if host.contains('.') || host.contains(':') || host == "localhost" => {
                let repos = c.catalog(&pull::api_host(host))?;
                Ok(repos
                    .into_iter()
                    .filter(|r| r.contains(filter))
                    .take(limit)
                    .map(|r| SearchResult { name: format!("{host}/{r}"), description: String::new(), stars: 0 })
                    .collect())
            }
            _ => Ok(c
                .search_hub(term, limit)?
                .into_iter()
                .map(|(name, description, stars)| SearchResult {
                    name: format!("docker.io/{name}"),
                    description,
                    stars,
                })
                .collect()),
        }
    }
}
