//! `--filter KEY=VALUE` as docker reads it: [`Filters`], which the events
//! filter ([`crate::EventFilter`]) is made of and listings match against.
//!
//! Values of one key are alternatives (`status=exited --filter status=created`
//! lists both), different keys must all match, and every `label` filter must
//! match (as docker does). Each user knows its keys; an unknown key or a
//! malformed value is refused by name rather than ignored.

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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(specs: &[&str]) -> Result<Filters, FilterError> {
        Filters::parse(&specs.iter().map(|s| s.to_string()).collect::<Vec<_>>(), &["status", "name", "label"])
    }

    #[test]
    fn syntax_and_keys_are_checked() {
        assert!(matches!(parse(&["status"]), Err(FilterError::Syntax(_))));
        assert!(matches!(parse(&["colour=red"]), Err(FilterError::Key { .. })));
        let f = parse(&["status=exited", "STATUS=created", "label=a=b"]).unwrap();
        assert_eq!(f.get("status"), ["exited", "created"]);
        assert_eq!(f.get("label"), ["a=b"], "the value keeps its own '='");
        assert!(!f.is_empty() && parse(&[]).unwrap().is_empty());
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
