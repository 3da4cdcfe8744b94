//! What the registry operations of the `Rrun` handle (pull, push, tag,
//! login, logout, search) share with the command line: search results, and
//! the host a login is stored under.

/// One search result.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SearchResult {
    /// The repository, with its registry host (`docker.io/library/alpine`).
    pub name: String,
    /// Docker Hub's short description (empty for other registries).
    pub description: String,
    /// Docker Hub's star count (0 for other registries).
    pub stars: u64,
}

/// `https://index.docker.io/v1/` and friends → `docker.io`; a bare host stays.
pub(crate) fn login_host(h: &str) -> String {
    let h = h.trim_start_matches("https://").trim_start_matches("http://");
    let h = h.split('/').next().unwrap_or(h);
    match h {
        "index.docker.io" | "registry-1.docker.io" => "docker.io".into(),
        other => other.to_string(),
    }
}
