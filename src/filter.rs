//! `--filter KEY=VALUE` as docker reads it, for listing commands.
//!
//! Values of one key are alternatives (`status=exited --filter status=created`
//! lists both), different keys must all match, and every `label` filter must
//! match (as docker does). Each listing knows its keys; an unknown key or a
//! malformed value is refused by name rather than ignored.

use crate::container::{ContainerRecord, Status};
use std::collections::BTreeMap;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FilterError {
    #[error("invalid filter {0:?}: expected KEY=VALUE")]
    Syntax(String),
    #[error("invalid filter key {key:?}: expected one of {allowed}")]
    Key { key: String, allowed: String },
    #[error("invalid filter value {key}={value:?}: {reason}")]
    Value { key: String, value: String, reason: String },
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
