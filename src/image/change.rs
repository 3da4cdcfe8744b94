//! `commit -c`: Dockerfile instructions that change an image's config —
//! CMD, ENTRYPOINT, ENV, WORKDIR, USER, LABEL, EXPOSE, STOPSIGNAL, VOLUME —
//! in Dockerfile syntax (JSON arrays or shell form, quoted values).

use super::ContainerConfig;
use std::collections::BTreeMap;

/// A `commit -c` instruction that cannot be applied.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid change {change:?}: {reason}")]
pub struct ChangeError {
    /// The instruction as given (`CMD ["sh"`).
    pub change: String,
    /// What is wrong with it (unknown instruction, no arguments, bad JSON…).
    pub reason: String,
}

fn bad(change: &str, reason: impl Into<String>) -> ChangeError {
    ChangeError { change: change.to_string(), reason: reason.into() }
}

/// Applies one instruction to `config`.
pub fn apply(config: &mut ContainerConfig, change: &str) -> Result<(), ChangeError> {
    let trimmed = change.trim();
    let (instr, rest) = trimmed.split_once(char::is_whitespace).unwrap_or((trimmed, ""));
    let rest = rest.trim();
    let need_args = || if rest.is_empty() { Err(bad(change, "it needs arguments")) } else { Ok(()) };
    match instr.to_ascii_uppercase().as_str() {
        "CMD" => {
            need_args()?;
            config.cmd = Some(command(rest));
        }
        "ENTRYPOINT" => {
            need_args()?;
            config.entrypoint = Some(command(rest));
        }
        "ENV" => {
            need_args()?;
            let pairs = pairs(rest, change)?;
            let env = config.env.get_or_insert_with(Vec::new);
            for (k, v) in pairs {
                env.retain(|kv| kv.split_once('=').map_or(kv.as_str(), |(ek, _)| ek) != k);
                env.push(format!("{k}={v}"));
            }
        }
        "LABEL" => {
            need_args()?;
            let pairs = pairs(rest, change)?;
            let labels = config.labels.get_or_insert_with(BTreeMap::new);
            for (k, v) in pairs {
                labels.insert(k, v);
            }
        }
        "WORKDIR" => {
            need_args()?;
            let dir = unquote(rest);
            let dir = if dir.starts_with('/') {
                dir
            } else {
                // relative to the previous WORKDIR, as in a Dockerfile
                let base = config.working_dir.clone().filter(|w| !w.is_empty()).unwrap_or_else(|| "/".into());
                format!("{}/{dir}", base.trim_end_matches('/'))
            };
            config.working_dir = Some(dir);
        }
        "USER" => {
            need_args()?;
            config.user = Some(unquote(rest));
        }
        "STOPSIGNAL" => {
            need_args()?;
            config.stop_signal = Some(unquote(rest));
        }
        "EXPOSE" => {
            need_args()?;
            let mut new = Vec::new();
            for p in words(rest, change)? {
                new.extend(expose(&p).map_err(|r| bad(change, r))?);
            }
            let ports = config.exposed_ports.get_or_insert_with(BTreeMap::new);
            for port in new {
                ports.insert(port, serde_json::json!({}));
            }
        }
        "VOLUME" => {
            need_args()?;
            let list = match serde_json::from_str::<Vec<String>>(rest) {
                Ok(v) => v,
                Err(_) => words(rest, change)?,
            };
            let volumes = config.volumes.get_or_insert_with(BTreeMap::new);
            for v in list {
                volumes.insert(v, serde_json::json!({}));
            }
        }
        other => {
            return Err(bad(
                change,
                format!(
                    "{other} is not supported: expected CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME or WORKDIR"
                ),
            ))
        }
    }
    Ok(())
}

/// A JSON array is the exec form; anything else runs with `/bin/sh -c`.
fn command(rest: &str) -> Vec<String> {
    if rest.starts_with('[') {
        if let Ok(v) = serde_json::from_str::<Vec<String>>(rest) {
            return v;
        }
    }
    vec!["/bin/sh".into(), "-c".into(), rest.to_string()]
}

/// `80`, `53/udp`, `8000-8002/tcp` → `80/tcp`, …
fn expose(spec: &str) -> Result<Vec<String>, String> {
    let (ports, proto) = spec.split_once('/').unwrap_or((spec, "tcp"));
    let proto = proto.to_ascii_lowercase();
    if !["tcp", "udp", "sctp"].contains(&proto.as_str()) {
        return Err(format!("invalid protocol {proto:?} in {spec:?}"));
    }
    let num = |s: &str| s.parse::<u16>().map_err(|_| format!("invalid port {s:?}"));
    let (lo, hi) = match ports.split_once('-') {
        Some((a, b)) => (num(a)?, num(b)?),
        None => (num(ports)?, num(ports)?),
    };
    if hi < lo {
        return Err(format!("invalid port range {ports:?}"));
    }
    Ok((lo..=hi).map(|p| format!("{p}/{proto}")).collect())
}

/// Words split at unquoted whitespace; quotes removed, backslash escapes kept literal.
fn words(s: &str, change: &str) -> Result<Vec<String>, ChangeError> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (Some(q), c) if c == q => quote = None,
            (q, '\\') if q != Some('\'') => {
                in_word = true;
                match chars.next() {
                    Some(n) => cur.push(n),
                    None => cur.push('\\'),
                }
            }
            (_, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err(bad(change, "unterminated quote"));
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

fn unquote(s: &str) -> String {
    words(s, s).ok().filter(|w| w.len() == 1).and_then(|mut w| w.pop()).unwrap_or_else(|| s.to_string())
}

/// `K=V K2="v 2"`, or the old form `K some value`.
fn pairs(rest: &str, change: &str) -> Result<Vec<(String, String)>, ChangeError> {
    let first = rest.split_whitespace().next().unwrap_or("");
    if !first.contains('=') {
        let (k, v) = rest.split_once(char::is_whitespace).ok_or_else(|| bad(change, "expected KEY=VALUE"))?;
        return Ok(vec![(k.to_string(), unquote(v.trim()))]);
    }
    words(rest, change)?
        .into_iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(bad(change, format!("expected KEY=VALUE, got {w:?}"))),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied(changes: &[&str]) -> ContainerConfig {
        let mut c = ContainerConfig {
            env: Some(vec!["PATH=/bin".into(), "A=old".into()]),
            working_dir: Some("/srv".into()),
            ..Default::default()
        };
        for ch in changes {
            apply(&mut c, ch).unwrap();
        }
        c
    }

    #[test]
    fn dockerfile_instructions_change_the_config() {
        let c = applied(&[
            r#"CMD ["echo", "hi there"]"#,
            "ENTRYPOINT /bin/run --flag",
            r#"ENV A=new B="two words" C=x\ y"#,
            "env LEGACY some value",
            r#"LABEL version=1.0 "quoted key"=v"#,
            "WORKDIR sub",
            "USER nobody:nogroup",
            "EXPOSE 80 53/udp 8000-8001",
            "STOPSIGNAL SIGQUIT",
            r#"VOLUME ["/data"]"#,
            "VOLUME /cache /logs",
        ]);
        assert_eq!(c.cmd, Some(vec!["echo".to_string(), "hi there".into()]));
        assert_eq!(c.entrypoint, Some(vec!["/bin/sh".to_string(), "-c".into(), "/bin/run --flag".into()]));
        assert_eq!(
            c.env.unwrap(),
            ["PATH=/bin", "A=new", "B=two words", "C=x y", "LEGACY=some value"].map(String::from).to_vec()
        );
        let labels = c.labels.unwrap();
        assert_eq!((labels["version"].as_str(), labels["quoted key"].as_str()), ("1.0", "v"));
        assert_eq!(c.working_dir.as_deref(), Some("/srv/sub"));
        assert_eq!(c.user.as_deref(), Some("nobody:nogroup"));
        let ports: Vec<&String> = c.exposed_ports.as_ref().unwrap().keys().collect();
        assert_eq!(ports, ["53/udp", "80/tcp", "8000/tcp", "8001/tcp"]);
        assert_eq!(c.stop_signal.as_deref(), Some("SIGQUIT"));
        assert_eq!(c.volumes.unwrap().keys().collect::<Vec<_>>(), ["/cache", "/data", "/logs"]);
    }

    #[test]
    fn bad_changes_are_refused_with_the_reason() {
        let mut c = ContainerConfig::default();
        assert!(apply(&mut c, "RUN echo hi").unwrap_err().reason.contains("RUN is not supported"));
        assert!(apply(&mut c, "CMD").unwrap_err().reason.contains("arguments"));
        assert!(apply(&mut c, "EXPOSE 80/xyz").unwrap_err().reason.contains("protocol"));
        assert!(apply(&mut c, "EXPOSE 99999").unwrap_err().reason.contains("port"));
        assert!(apply(&mut c, r#"ENV A="open"#).unwrap_err().reason.contains("quote"));
        assert!(apply(&mut c, "ENV =x").is_err());
        assert_eq!(c, ContainerConfig::default(), "a refused change changes nothing");
    }
}
