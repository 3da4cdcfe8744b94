//! `--filter KEY=VALUE` as docker reads it, for listing commands.
//!
//! Values of one key are alternatives (`status=exited --filter status=created`
//! lists both), different keys must all match, and every `label` filter must
//! match (as docker does). Each listing knows its keys; an unknown key or a
//! malformed value is refused by name rather than ignored.

use crate::container::{ContainerRecord, Status};
use std::collections::BTreeMap;

/// Why a `--filter` value is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum FilterError {
    /// A `--filter` value without `=`.
    #[error("invalid filter {0:?}: expected KEY=VALUE")]
    Syntax(String),
    /// A filter key the command does not know.
    #[error("invalid filter key {key:?}: expected one of {allowed}")]
    Key {
        /// The filter key.
        key: String,
        /// The keys this command accepts.
        allowed: String,
    },
    /// A filter value that does not parse for its key.
    #[error("invalid filter value {key}={value:?}: {reason}")]
    Value {
        /// The filter key.
        key: String,
        /// The value given.
        value: String,
        /// What is wrong, or why it failed.
        reason: String,
    },
}

/// Parsed `--filter` flags: key → the values given for it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters(BTreeMap<String, Vec<String>>);

impl Filters {
    /// Parses `KEY=VALUE` strings, refusing keys not in `allowed`.
    pub fn parse(specs: &[String], allowed: &[&str]) -> Result<Filters, FilterError> {
        let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for s in specs {
            let (k, v) = s.split_once('=').ok_or_else(|| FilterError::Syntax(s.clone()))?;
            let k = k.trim().to_ascii_lowercase();
            if !allowed.contains(&k.as_str()) {
                return Err(FilterError::Key { key: k, allowed: allowed.join(", ") });
            }
            map.entry(k).or_default().push(v.to_string());
        }
        Ok(Filters(map))
    }

    /// True when no filter was given.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The values given for `key`.
    pub fn get(&self, key: &str) -> &[String] {
        self.0.get(key).map(Vec::as_slice).unwrap_or(&[])
    }

    /// True when `key` was not given, or `test` accepts one of its values.
    pub fn any(&self, key: &str, test: impl Fn(&str) -> bool) -> bool {
        self.0.get(key).is_none_or(|vs| vs.iter().any(|v| test(v)))
    }

    /// `label=KEY` or `label=KEY=VALUE`: every one must be among `labels`.
    pub fn labels_match<'a>(&self, mut labels: impl FnMut(&str) -> Option<&'a str>) -> bool {
        self.get("label").iter().all(|f| match f.split_once('=') {
            Some((k, v)) => labels(k) == Some(v),
            None => labels(f).is_some(),
        })
    }

    /// A boolean filter value (`dangling=true`).
    pub fn bool_value(key: &str, value: &str) -> Result<bool, FilterError> {
        match value.to_ascii_lowercase().as_str() {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            _ => Err(FilterError::Value {
                key: key.into(),
                value: value.into(),
                reason: "expected true or false".into(),
            }),
        }
    }
}

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

impl Filters {
    /// Checks the values of the container keys before any listing.
    pub fn validate_container(&self) -> Result<(), FilterError> {
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
    pub fn container_matches(&self, c: &ContainerRecord, facts: &ContainerFacts<'_>) -> bool {
        let status = match c.status {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Exited => "exited",
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

impl Filters {
    /// Checks `dangling=` values (images, volumes) before any listing.
    pub fn validate_dangling(&self) -> Result<(), FilterError> {
        for v in self.get("dangling") {
            Filters::bool_value("dangling", v)?;
        }
        Ok(())
    }

    /// Does the image row (`repository`, `tag`, `created`) pass every filter?
    /// `reference` is a glob (`busy*`, `*/tool:1.*`) matched against the name
    /// as stored and as Docker shows it (`docker.io/library/` left out).
    pub fn image_matches(&self, repository: &str, tag: &str, created: Option<&str>, facts: &ImageFacts<'_>) -> bool {
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
}

/// The keys `volume ls --filter` knows.
pub const VOLUME_KEYS: &[&str] = &["dangling", "name", "label", "driver"];

impl Filters {
    /// Does the volume pass every filter? `dangling` means no container uses it.
    pub fn volume_matches(&self, v: &crate::volume::Volume, in_use: bool) -> bool {
        self.any("dangling", |d| Filters::bool_value("dangling", d).is_ok_and(|d| d != in_use))
            && self.any("name", |n| v.name.contains(n))
            && self.any("driver", |d| v.driver == d)
            && self.labels_match(|k| v.labels.get(k).map(String::as_str))
    }
}

/// Go's `path.Match`: `*` is any run of characters but '/', `?` one of them.
pub fn glob(pattern: &str, name: &str) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(specs: &[&str]) -> Result<Filters, FilterError> {
        Filters::parse(&specs.iter().map(|s| s.to_string()).collect::<Vec<_>>(), CONTAINER_KEYS)
    }

    #[test]
    fn syntax_and_keys_are_checked() {
        assert!(matches!(parse(&["status"]), Err(FilterError::Syntax(_))));
        assert!(matches!(parse(&["colour=red"]), Err(FilterError::Key { .. })));
        let f = parse(&["status=exited", "STATUS=created", "label=a=b"]).unwrap();
        assert_eq!(f.get("status"), ["exited", "created"]);
        assert_eq!(f.get("label"), ["a=b"], "the value keeps its own '='");
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

    #[test]
    fn alternatives_within_a_key_and_all_labels() {
        let f = parse(&["status=exited", "status=created"]).unwrap();
        assert!(f.any("status", |v| v == "created"));
        assert!(!f.any("status", |v| v == "running"));
        assert!(f.any("name", |_| false), "a key not given passes");
        let labels = |k: &str| match k {
            "a" => Some("1"),
            "b" => Some("2"),
            _ => None,
        };
        assert!(parse(&["label=a", "label=b=2"]).unwrap().labels_match(labels));
        assert!(!parse(&["label=a", "label=c"]).unwrap().labels_match(labels));
        assert!(!parse(&["label=a=2"]).unwrap().labels_match(labels));
        assert_eq!(Filters::bool_value("dangling", "TRUE"), Ok(true));
        assert!(Filters::bool_value("dangling", "yes").is_err());
    }
}
