//! Image references: parsing and normalizing names the way Docker does.
//!
//! `alpine` → `docker.io/library/alpine:latest`,
//! `quay.io/biocontainers/samtools:1.19--h50ea8bc_0` stays as it is,
//! `localhost:5000/x@sha256:…` names an image by digest.
//!
//! [`ImageRef`] is rrun's own parser, checked against
//! `oci_spec::distribution::Reference` in the tests (the same names are
//! accepted and split into the same registry, repository and tag), not built
//! on it, because:
//! - `Reference` compiles a large Unicode regular expression on first use
//!   (about 0.9 s in a debug build), a cost every rrun command would pay,
//!   since nearly every command parses a name;
//! - its rules conflict with Docker's where rrun follows Docker: it counts the
//!   255-character limit on the repository path alone (Docker, and rrun, on
//!   the whole normalised name, `docker.io/library/` included), keeps `registry-1.docker.io` as a
//!   registry of its own, accepts non-ASCII letters in a tag (its `\w` is
//!   Unicode, Go's is ASCII), and accepts any digest algorithm and upper-case
//!   hex, where rrun's store is sha256 only;
//! - its errors are bare kinds ("invalid reference format"), where rrun's say
//!   which part of the name is wrong.

use crate::digest::Digest;
use std::fmt;
use std::str::FromStr;

/// Registry used when a name has no domain.
pub const DEFAULT_REGISTRY: &str = "docker.io";
const DEFAULT_TAG: &str = "latest";
/// The longest name (registry and repository, normalised) Docker accepts.
const NAME_MAX: usize = 255;

/// Why an image name is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReferenceError {
    /// The name is not a valid image reference.
    #[error("invalid image reference {reference:?}: {reason}")]
    Invalid {
        /// The reference given.
        reference: String,
        /// What is wrong, or why it failed.
        reason: &'static str,
    },
}

/// A fully-qualified image reference.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ImageRef {
    /// Registry host, with port if any (`docker.io`, `localhost:5000`).
    pub registry: String,
    /// Repository path inside the registry (`library/alpine`).
    pub repository: String,
    /// Tag; `None` only when the reference names a digest and no tag.
    pub tag: Option<String>,
    /// The digest, when the reference names one (`@sha256:…`).
    pub digest: Option<Digest>,
}

impl ImageRef {
    /// Parses and normalizes a reference as typed by a user.
    pub fn parse(s: &str) -> Result<ImageRef, ReferenceError> {
        let bad = |reason| ReferenceError::Invalid { reference: s.to_string(), reason };
        if s.is_empty() {
            return Err(bad("empty name"));
        }
        if s.len() > 4096 {
            return Err(bad("name too long"));
        }
        let (name_tag, digest) = match s.split_once('@') {
            Some((n, d)) => (n, Some(d.parse::<Digest>().map_err(|_| bad("digest must be sha256:<64 hex digits>"))?)),
            None => (s, None),
        };
        // A tag is after the last ':' that follows the last '/', so `host:5000/x` is not a tag.
        let last_slash = name_tag.rfind('/').map(|i| i + 1).unwrap_or(0);
        let (name, tag) = match name_tag[last_slash..].rfind(':') {
            Some(i) => (&name_tag[..last_slash + i], Some(&name_tag[last_slash + i + 1..])),
            None => (name_tag, None),
        };
        if let Some(t) = tag {
            if !valid_tag(t) {
                return Err(bad("tag must be 1-128 characters of [A-Za-z0-9_.-], not starting with '.' or '-'"));
            }
        }
        let (registry, path) = match name.split_once('/') {
            Some((first, rest)) if first.contains('.') || first.contains(':') || first == "localhost" => {
                (first.to_string(), rest.to_string())
            }
            _ => (DEFAULT_REGISTRY.to_string(), name.to_string()),
        };
        if !valid_domain(&registry) {
            return Err(bad("invalid registry host"));
        }
        let registry = if registry == "index.docker.io" || registry == "registry-1.docker.io" {
            DEFAULT_REGISTRY.to_string()
        } else {
            registry
        };
        if path.is_empty() {
            return Err(bad("missing repository name"));
        }
        if !path.split('/').all(valid_path_component) {
            return Err(bad("repository name must be lowercase letters, digits and separators (. _ __ -) between '/'"));
        }
        let repository =
            if registry == DEFAULT_REGISTRY && !path.contains('/') { format!("library/{path}") } else { path };
        // Docker's limit, on the name as normalised (docker.io/library/… included, as Docker's
        // ParseNormalizedNamed checks it), before any registry is asked: a name that passes prints
        // as one that passes
        if registry.len() + 1 + repository.len() > NAME_MAX {
            return Err(bad("repository name must not be more than 255 characters"));
        }
        let tag = match (tag, &digest) {
            (Some(t), _) => Some(t.to_string()),
            (None, Some(_)) => None,
            (None, None) => Some(DEFAULT_TAG.to_string()),
        };
        Ok(ImageRef { registry, repository, tag, digest })
    }

    /// True when the user typed no registry (so `localhost/NAME` may also be tried).
    pub fn is_short_name(input: &str) -> bool {
        match input.split_once('/') {
            Some((first, _)) => !(first.contains('.') || first.contains(':') || first == "localhost"),
            None => true,
        }
    }

    /// `registry/repository` without tag or digest.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The same name with another tag.
    pub fn with_tag(&self, tag: &str) -> ImageRef {
        ImageRef { tag: Some(tag.to_string()), digest: None, ..self.clone() }
    }
}

impl FromStr for ImageRef {
    type Err = ReferenceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ImageRef::parse(s)
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

fn valid_tag(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 128
        && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
        && !t.starts_with(['.', '-'])
}

fn valid_domain(d: &str) -> bool {
    let host = match d.rsplit_once(':') {
        Some((h, port)) => {
            if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
                return false;
            }
            h
        }
        None => d,
    };
    !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
fn valid_path_component(c: &str) -> bool {
    let b = c.as_bytes();
    if b.is_empty() || !is_alnum(b[0]) || !is_alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if is_alnum(b[i]) {
            i += 1;
            continue;
        }
        // a separator run: '.', '_', '__' or one or more '-'
        let start = i;
        while i < b.len() && !is_alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        if !(sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-')) {
            return false;
        }
    }
    true
}

fn is_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        ImageRef::parse(s).unwrap().to_string()
    }

    #[test]
    fn normalizes_docker_hub_short_names() {
        assert_eq!(norm("alpine"), "docker.io/library/alpine:latest");
        assert_eq!(norm("alpine:3.19"), "docker.io/library/alpine:3.19");
        assert_eq!(norm("user/tool"), "docker.io/user/tool:latest");
        assert_eq!(norm("index.docker.io/library/busybox"), "docker.io/library/busybox:latest");
    }

    #[test]
    fn keeps_other_registries() {
        assert_eq!(
            norm("quay.io/biocontainers/samtools:1.19--h50ea8bc_0"),
            "quay.io/biocontainers/samtools:1.19--h50ea8bc_0"
        );
        assert_eq!(norm("nvcr.io/nvidia/cuda:12.4.1-base-ubuntu22.04"), "nvcr.io/nvidia/cuda:12.4.1-base-ubuntu22.04");
        assert_eq!(norm("localhost/busybox"), "localhost/busybox:latest");
        let r = ImageRef::parse("localhost:5000/team/tool").unwrap();
        assert_eq!(r.registry, "localhost:5000");
        assert_eq!(r.repository, "team/tool");
        assert_eq!(r.tag.as_deref(), Some("latest"));
    }

    #[test]
    fn digests() {
        let d = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let r = ImageRef::parse(&format!("localhost:5000/team/tool@{d}")).unwrap();
        assert_eq!(r.tag, None);
        assert_eq!(r.digest.unwrap().to_string(), d);
        let r = ImageRef::parse(&format!("busybox:1.36@{d}")).unwrap();
        assert_eq!(r.tag.as_deref(), Some("1.36"));
    }

    #[test]
    fn rejects_invalid_names() {
        for bad in ["", "UPPER", "a//b", "-a", "a:", "a:-x", "a@sha256:1234", "host:port/x", "a/b_", "a..b"] {
            assert!(ImageRef::parse(bad).is_err(), "{bad:?} should be rejected");
        }
        // 255 characters of name is Docker's limit, tag and digest aside
        let long = format!("localhost:5000/{}", "a".repeat(240));
        assert_eq!(long.len(), 255);
        assert!(ImageRef::parse(&format!("{long}:{}", "t".repeat(128))).is_ok());
        let err = ImageRef::parse(&format!("{long}a")).unwrap_err();
        assert!(err.to_string().contains("255 characters"), "{err}");
        assert!(ImageRef::parse(&"a".repeat(300)).is_err());
        // the limit is on the normalised name: docker.io/library/ counts
        assert!(ImageRef::parse(&"a".repeat(255 - "docker.io/library/".len())).is_ok());
        assert!(ImageRef::parse(&"a".repeat(256 - "docker.io/library/".len())).is_err());
    }

    /// The names both parsers accept read the same; the ones rrun refuses,
    /// oci-spec's `Reference` refuses too, except where it departs from
    /// Docker (the module's doc says where), each checked here.
    #[test]
    fn agrees_with_oci_spec_reference() {
        use oci_spec::distribution::Reference;
        let d = format!("sha256:{}", "e3".repeat(32));
        let same: Vec<String> = [
            "alpine",
            "alpine:3.19",
            "user/tool",
            "index.docker.io/library/busybox",
            "quay.io/biocontainers/samtools:1.19--h50ea8bc_0",
            "nvcr.io/nvidia/cuda:12.4.1-base-ubuntu22.04",
            "localhost/busybox",
            "localhost:5000/team/tool",
            "a__b/c-d.e---f:_x",
            "Example.COM:443/x/y",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([format!("localhost:5000/team/tool@{d}"), format!("busybox:1.36@{d}")])
        .collect();
        for name in &same {
            let ours = ImageRef::parse(name).unwrap();
            let theirs = Reference::try_from(name.as_str()).unwrap();
            assert_eq!(ours.registry, theirs.registry(), "{name}");
            assert_eq!(ours.repository, theirs.repository(), "{name}");
            assert_eq!(ours.tag.as_deref(), theirs.tag(), "{name}");
            assert_eq!(ours.digest.map(|d| d.to_string()).as_deref(), theirs.digest(), "{name}");
        }
        for bad in ["UPPER", "a//b", "-a", "a:", "a:-x", "a:.x", "a@sha256:1234", "host:port/x", "a/b_", "a..b", "a/-b"]
        {
            assert!(ImageRef::parse(bad).is_err(), "{bad:?}");
            assert!(Reference::try_from(bad).is_err(), "{bad:?}");
        }
        // where Reference departs from Docker, rrun follows Docker
        let hub = ImageRef::parse("registry-1.docker.io/busybox").unwrap();
        let theirs = Reference::try_from("registry-1.docker.io/busybox").unwrap();
        assert_eq!((hub.registry.as_str(), hub.repository.as_str()), ("docker.io", "library/busybox"));
        assert_eq!((theirs.registry(), theirs.repository()), ("registry-1.docker.io", "busybox"));
        let short = "a".repeat(250);
        assert!(ImageRef::parse(&short).is_err(), "docker.io/library/ makes 268");
        assert!(Reference::try_from(short.as_str()).is_err(), "library/ makes 258");
        let path_only = "a".repeat(240);
        assert!(ImageRef::parse(&path_only).is_err(), "docker.io/library/ makes 258");
        assert!(Reference::try_from(path_only.as_str()).is_ok(), "library/ makes 248: the path alone counts");
        let long = format!("localhost:5000/{}", "a".repeat(245));
        assert!(ImageRef::parse(&long).is_err(), "260 characters as typed");
        assert!(Reference::try_from(long.as_str()).is_ok(), "a 245-character repository");
        assert!(ImageRef::parse("a:t\u{e4}g").is_err() && Reference::try_from("a:t\u{e4}g").is_ok());
        let sha512 = format!("a@sha512:{}", "a".repeat(128));
        assert!(ImageRef::parse(&sha512).is_err() && Reference::try_from(sha512.as_str()).is_ok());
        let upper_hex = format!("a@sha256:{}", "A".repeat(64));
        assert!(ImageRef::parse(&upper_hex).is_err() && Reference::try_from(upper_hex.as_str()).is_ok());
    }

    #[test]
    fn short_name_detection() {
        assert!(ImageRef::is_short_name("busybox"));
        assert!(ImageRef::is_short_name("user/tool"));
        assert!(!ImageRef::is_short_name("localhost/x"));
        assert!(!ImageRef::is_short_name("quay.io/x"));
    }
}

/// Property tests (proptest; `PROPTEST_CASES`, 256 by default, bounds each).
#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    /// A repository path component: `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
    fn component() -> impl Strategy<Value = String> {
        "[a-z0-9]{1,8}((\\.|_|__|-{1,3})[a-z0-9]{1,8}){0,3}"
    }

    /// A registry host as typed: a name with a dot, `localhost`, or either with a port.
    fn registry() -> impl Strategy<Value = String> {
        let host = prop_oneof![
            Just("localhost".to_string()),
            "[a-z0-9]([a-z0-9-]{0,6}[a-z0-9])?(\\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,6}[a-zA-Z0-9])?){1,3}",
        ];
        (host, proptest::option::of(1u32..65536)).prop_map(|(h, port)| match port {
            Some(p) => format!("{h}:{p}"),
            None => h,
        })
    }

    fn tag() -> impl Strategy<Value = String> {
        "[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
    }

    fn digest() -> impl Strategy<Value = String> {
        "[0-9a-f]{64}".prop_map(|h| format!("sha256:{h}"))
    }

    /// (registry as typed, path, tag, digest): the parts of a valid reference.
    fn valid_parts() -> impl Strategy<Value = (Option<String>, Vec<String>, Option<String>, Option<String>)> {
        (
            proptest::option::of(registry()),
            proptest::collection::vec(component(), 1..4),
            proptest::option::of(tag()),
            proptest::option::of(digest()),
        )
            .prop_map(|(reg, mut path, tag, digest)| {
                // without a registry, a first component with a dot would be read as one (Docker's rule)
                if reg.is_none() && path.len() > 1 {
                    path[0] = path[0].replace('.', "-");
                }
                (reg, path, tag, digest)
            })
    }

    fn typed(reg: &Option<String>, path: &[String], tag: &Option<String>, digest: &Option<String>) -> String {
        let mut s = String::new();
        if let Some(r) = reg {
            s.push_str(r);
            s.push('/');
        }
        s.push_str(&path.join("/"));
        if let Some(t) = tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = digest {
            s.push('@');
            s.push_str(d);
        }
        s
    }

    proptest! {
        /// Whatever is typed, parsing answers Ok or an error that names the input.
        #[test]
        fn parse_never_panics(s in any::<String>()) {
            if let Err(e) = ImageRef::parse(&s) {
                let ReferenceError::Invalid { reference, .. } = &e;
                prop_assert_eq!(reference, &s);
            }
        }

        /// The same, for strings made of the characters references are made of.
        #[test]
        fn parse_never_panics_on_reference_alphabets(s in "[a-zA-Z0-9:/@._-]{0,300}") {
            let _ = ImageRef::parse(&s);
        }

        /// A reference that parses prints as one that parses to the same reference
        /// (long names too: Docker's 255-character limit is on the normalised name).
        #[test]
        fn what_parses_prints_as_itself(s in "[a-z0-9:/@._-]{1,80}|[a-z]{1,4}(/[a-z]{60,64}){3,4}|[a-z]{200,256}") {
            if let Ok(r) = ImageRef::parse(&s) {
                let printed = r.to_string();
                prop_assert_eq!(ImageRef::parse(&printed), Ok(r.clone()), "{} printed as {}", s, printed);
                prop_assert_eq!(printed.clone(), ImageRef::parse(&printed).unwrap().to_string());
            }
        }

        /// Generated valid references parse, follow Docker's normalisation, and round-trip.
        #[test]
        fn valid_references_round_trip((reg, path, tag, digest) in valid_parts()) {
            let s = typed(&reg, &path, &tag, &digest);
            let r = ImageRef::parse(&s).map_err(|e| TestCaseError::fail(format!("{s}: {e}")))?;
            // the registry: as typed, docker.io when none was
            let want_registry = match reg.as_deref() {
                None | Some("index.docker.io") | Some("registry-1.docker.io") => DEFAULT_REGISTRY.to_string(),
                Some(r) => r.to_string(),
            };
            prop_assert_eq!(&r.registry, &want_registry);
            // Docker Hub's official images live under library/
            let joined = path.join("/");
            let want_repo = if r.registry == DEFAULT_REGISTRY && path.len() == 1 {
                format!("library/{joined}")
            } else {
                joined
            };
            prop_assert_eq!(&r.repository, &want_repo);
            // no tag means latest, unless a digest names the image
            let want_tag = match (&tag, &digest) {
                (Some(t), _) => Some(t.clone()),
                (None, Some(_)) => None,
                (None, None) => Some("latest".to_string()),
            };
            prop_assert_eq!(&r.tag, &want_tag);
            prop_assert_eq!(r.digest.as_ref().map(|d| d.to_string()), digest);
            // printed, it parses back to itself, and printing is stable
            let printed = r.to_string();
            prop_assert_eq!(ImageRef::parse(&printed), Ok(r.clone()));
            prop_assert!(!ImageRef::is_short_name(&printed), "{}", printed);
            prop_assert_eq!(ImageRef::is_short_name(&s), reg.is_none());
        }

        /// An upper-case letter in the repository, or an invalid tag, is refused.
        #[test]
        fn invalid_parts_are_refused(
            (reg, mut path, _, _) in valid_parts(),
            upper in "[A-Z]",
            bad_tag in "[.-][A-Za-z0-9_.-]{0,10}|[A-Za-z0-9_.-]{129,140}",
        ) {
            let s = typed(&reg, &path, &Some(bad_tag), &None);
            prop_assert!(ImageRef::parse(&s).is_err(), "{}", s);
            let last = path.len() - 1;
            path[last].push_str(&upper);
            let s = typed(&reg, &path, &None, &None);
            prop_assert!(ImageRef::parse(&s).is_err(), "{}", s);
        }
    }
}
