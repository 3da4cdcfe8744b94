//! `--filter` of the listing commands (`ps`, `images`, `volume ls`): which
//! keys each takes and what a row must be to pass, over the library's
//! [`Filters`] (values of one key are alternatives, keys must all match).

use rrun::{ContainerRecord, FilterError, Filters, Status, Volume};

/// The keys `ps --filter` knows.
pub const CONTAINER_KEYS: &[&str] =
    &["id", "name", "label", "status", "exited", "ancestor", "before", "since", "health"];

/// Docker's container states, as `status=` takes them.
const STATUSES: &[&str] = &["created", "restarting", "running", "removing", "paused", "exited", "dead"];

/// What a container filter needs beyond the record.
pub struct ContainerFacts<'a> {
    /// The container's labels.
    pub labels: &'a dyn Fn(&str) -> Option<&'a str>,
    /// The container's health (`starting`, `healthy`, `unhealthy`, or `none`).
    pub health: &'a str,
    /// Does `image` (a name or ID the user gave) name the container's image?
    pub is_ancestor: &'a dyn Fn(&str) -> bool,
    /// Creation time of another container (for `before`/`since`), by name or ID.
    pub created_of: &'a dyn Fn(&str) -> Option<String>,
}

/// The keys `images --filter` knows.
pub const IMAGE_KEYS: &[&str] = &["dangling", "reference", "label", "before", "since"];

/// What an image filter needs beyond the listing's row.
pub struct ImageFacts<'a> {
    /// The image's labels (from its config).
    pub labels: &'a dyn Fn(&str) -> Option<&'a str>,
    /// Creation time of another image (for `before`/`since`), by name or ID.
    pub created_of: &'a dyn Fn(&str) -> Option<String>,
}

/// The keys `volume ls --filter` knows.
pub const VOLUME_KEYS: &[&str] = &["dangling", "name", "label", "driver"];

/// Go's `path.Match`: `*` is any run of characters but '/', `?` one of them.
fn glob(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pattern.chars().collect(), name.chars().collect());
    // (pattern index, name index) of the last `*`, to backtrack to
    let (mut pi, mut ni, mut star) = (0, 0, None::<(usize, usize)>);
    while ni < n.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ni));
                pi += 1;
            }
            Some(&c) if c == n[ni] || (c == '?' && n[ni] != '/') => {
                pi += 1;
                ni += 1;
            }
            _ => match star {
                // the star takes one more character, never a '/'
                Some((sp, sn)) if n[sn] != '/' => {
                    star = Some((sp, sn + 1));
                    pi = sp + 1;
                    ni = sn + 1;
                }
                _ => return false,
            },
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// The listings' checks and matching, on parsed `--filter` flags.
pub trait ListingFilters {
    /// Checks the values of the container keys before any listing.
    fn validate_container(&self) -> Result<(), FilterError>;
    /// Does the container pass every filter?
    fn container_matches(&self, c: &ContainerRecord, facts: &ContainerFacts<'_>) -> bool;
    /// Checks `dangling=` values (images, volumes) before any listing.
    fn validate_dangling(&self) -> Result<(), FilterError>;
    /// Does the image row (`repository`, `tag`, `created`) pass every filter?
    fn image_matches(&self, repository: &str, tag: &str, created: Option<&str>, facts: &ImageFacts<'_>) -> bool;
    /// Does the volume pass every filter? `dangling` means no container uses it.
    fn volume_matches(&self, v: &Volume, in_use: bool) -> bool;
}

impl ListingFilters for Filters {
    /// Checks the values of the container keys before any listing.
    fn validate_container(&self) -> Result<(), FilterError> {
        for v in self.get("status") {
            if !STATUSES.contains(&v.as_str()) {
                return Err(FilterError::Value {
                    key: "status".into(),
                    value: v.clone(),
                    reason: format!("expected one of {}", STATUSES.join(", ")),
                });
            }
        }
        for v in self.get("exited") {
            if v.parse::<i32>().is_err() {
                return Err(FilterError::Value {
                    key: "exited".into(),
                    value: v.clone(),
                    reason: "expected an exit code".into(),
                });
            }
        }
        for v in self.get("health") {
            if !["starting", "healthy", "unhealthy", "none"].contains(&v.as_str()) {
                return Err(FilterError::Value {
                    key: "health".into(),
                    value: v.clone(),
                    reason: "expected starting, healthy, unhealthy or none".into(),
                });
            }
        }
        Ok(())
    }

    /// Does the container pass every filter?
    fn container_matches(&self, c: &ContainerRecord, facts: &ContainerFacts<'_>) -> bool {
        let status = match c.status {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Exited => "exited",
            _ => "unknown",
        };
        let created_before = |other: &str, before: bool| {
            (facts.created_of)(other).is_some_and(|t| if before { c.created < t } else { c.created > t })
        };
        self.any("id", |v| c.id.starts_with(v))
            && self.any("name", |v| c.name.contains(v.trim_start_matches('/')))
            && self.any("status", |v| v == status)
            && self.any("exited", |v| c.status == Status::Exited && v.parse().ok() == c.exit_code)
            && self.any("ancestor", |v| (facts.is_ancestor)(v))
            && self.any("before", |v| created_before(v, true))
            && self.any("since", |v| created_before(v, false))
            && self.any("health", |v| v == facts.health)
            && self.labels_match(|k| (facts.labels)(k))
    }
    /// Checks `dangling=` values (images, volumes) before any listing.
    fn validate_dangling(&self) -> Result<(), FilterError> {
        for v in self.get("dangling") {
            Filters::bool_value("dangling", v)?;
        }
        Ok(())
    }

    /// Does the image row (`repository`, `tag`, `created`) pass every filter?
    /// `reference` is a glob (`busy*`, `*/tool:1.*`) matched against the name
    /// as stored and as Docker shows it (`docker.io/library/` left out).
    fn image_matches(&self, repository: &str, tag: &str, created: Option<&str>, facts: &ImageFacts<'_>) -> bool {
        let dangling = repository == "<none>";
        let names = || {
            let mut v = vec![repository.to_string(), format!("{repository}:{tag}")];
            if let Some(short) = repository.strip_prefix("docker.io/library/").or(repository.strip_prefix("docker.io/"))
            {
                v.push(short.to_string());
                v.push(format!("{short}:{tag}"));
            }
            v
        };
        let created_before = |other: &str, before: bool| {
            (facts.created_of)(other).zip(created).is_some_and(|(t, mine)| {
                if before {
                    mine < t.as_str()
                } else {
                    mine > t.as_str()
                }
            })
        };
        self.any("dangling", |v| Filters::bool_value("dangling", v).is_ok_and(|d| d == dangling))
            && self.any("reference", |pat| !dangling && names().iter().any(|n| glob(pat, n)))
            && self.any("before", |v| created_before(v, true))
            && self.any("since", |v| created_before(v, false))
            && self.labels_match(|k| (facts.labels)(k))
    }
    /// Does the volume pass every filter? `dangling` means no container uses it.
    fn volume_matches(&self, v: &Volume, in_use: bool) -> bool {
        self.any("dangling", |d| Filters::bool_value("dangling", d).is_ok_and(|d| d != in_use))
            && self.any("name", |n| v.name.contains(n))
            && self.any("driver", |d| v.driver == d)
            && self.labels_match(|k| v.labels.get(k).map(String::as_str))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(specs: &[&str]) -> Result<Filters, FilterError> {
        Filters::parse(&specs.iter().map(|s| s.to_string()).collect::<Vec<_>>(), CONTAINER_KEYS)
    }

    #[test]
    fn container_keys_and_values_are_checked() {
        assert!(matches!(parse(&["colour=red"]), Err(FilterError::Key { .. })));
        assert!(parse(&["status=gone"]).unwrap().validate_container().is_err());
        assert!(parse(&["exited=x"]).unwrap().validate_container().is_err());
        assert!(parse(&["exited=0", "health=healthy"]).unwrap().validate_container().is_ok());
    }

    #[test]
    fn globs_as_go_matches_paths() {
        assert!(glob("busy*", "busybox"));
        assert!(glob("busybox:*", "busybox:latest"));
        assert!(glob("*/tool:1.?", "team/tool:1.2"));
        assert!(!glob("busy*", "library/busybox"), "a star does not cross '/'");
        assert!(!glob("b?x", "box/"));
        assert!(glob("*", ""));
        assert!(!glob("a", "ab"));
    }

    #[test]
    fn image_rows_filter_by_name_and_danglingness() {
        let f = |specs: &[&str]| {
            Filters::parse(&specs.iter().map(|s| s.to_string()).collect::<Vec<_>>(), IMAGE_KEYS).unwrap()
        };
        let facts = ImageFacts { labels: &|_| None, created_of: &|_| Some("2024-06-01T00:00:00Z".into()) };
        let row = |f: &Filters, repo: &str| f.image_matches(repo, "latest", Some("2024-01-01T00:00:00Z"), &facts);
        assert!(row(&f(&["reference=busybox"]), "docker.io/library/busybox"));
        assert!(row(&f(&["reference=busy*:latest"]), "docker.io/library/busybox"));
        assert!(!row(&f(&["reference=alpine"]), "docker.io/library/busybox"));
        assert!(row(&f(&["dangling=true"]), "<none>"));
        assert!(!row(&f(&["dangling=true"]), "docker.io/library/busybox"));
        assert!(row(&f(&["dangling=false"]), "docker.io/library/busybox"));
        assert!(row(&f(&["before=other"]), "localhost/x"));
        assert!(!row(&f(&["since=other"]), "localhost/x"));
        assert!(f(&["dangling=maybe"]).validate_dangling().is_err());
    }
}
