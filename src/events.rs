//! The event journal: what happened to containers and images, kept with no
//! daemon as one JSON object per line in `<store>/events.log`, shaped like
//! Docker's event messages. Every rrun process (the CLI, a container's
//! monitor) appends its events with `O_APPEND`, so lines of concurrent
//! writers never mix; past 1 MiB the journal is rotated to `events.log.1`
//! (one older file is kept). `rrun events` reads and follows it, `rrun wait`
//! finds the exit code of a container that removed itself (`--rm`) there.

use crate::filter::{FilterError, Filters};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The size past which the journal is rotated.
pub const MAX_SIZE: u64 = 1 << 20;

/// One event, with Docker's field names (`docker events --format json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Event {
    /// Deprecated copies Docker still sends for container events: the action, the ID, the image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The deprecated copy of the actor's ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The deprecated copy of the image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// `container` or `image`.
    #[serde(rename = "Type")]
    pub typ: String,
    /// `create`, `start`, `die`, `health_status: healthy`, `pull`, …
    #[serde(rename = "Action")]
    pub action: String,
    /// What the event is about: its ID and attributes (name, image, …).
    #[serde(rename = "Actor")]
    pub actor: Actor,
    /// Always `local`.
    pub scope: String,
    /// Seconds since the epoch.
    pub time: i64,
    /// Nanoseconds since the epoch.
    #[serde(rename = "timeNano")]
    pub time_nano: i64,
}

/// What an event is about: a container or image ID, and attributes (`name`, `image`, `exitCode`…).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// Docker's `Actor.ID`: the full container or image ID (or volume name, network…).
    #[serde(rename = "ID")]
    pub id: String,
    /// Docker's `Actor.Attributes`: `name`, `image`, `exitCode`, labels….
    #[serde(rename = "Attributes", default)]
    pub attributes: BTreeMap<String, String>,
}

/// Nanoseconds since the epoch, now.
pub fn now_ns() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)
}

impl Event {
    /// An event of `typ` happening now.
    pub fn new(typ: &str, action: &str, id: &str, attributes: BTreeMap<String, String>) -> Event {
        let time_nano = now_ns();
        let container = typ == "container";
        Event {
            status: container.then(|| action.to_string()),
            id: container.then(|| id.to_string()),
            from: if container { attributes.get("image").cloned() } else { None },
            typ: typ.to_string(),
            action: action.to_string(),
            actor: Actor { id: id.to_string(), attributes },
            scope: "local".into(),
            time: time_nano.div_euclid(1_000_000_000),
            time_nano,
        }
    }
}

/// The journal of a store.
#[derive(Debug, Clone)]
pub struct Journal {
    path: PathBuf,
}

fn rotated(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".1");
    PathBuf::from(p)
}

impl Journal {
    /// The journal at `path` (created by the first event).
    pub fn at(path: PathBuf) -> Journal {
        Journal { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn open_append(&self) -> io::Result<File> {
        OpenOptions::new().create(true).append(true).mode(0o600).open(&self.path)
    }

    /// Appends one event (one `write` of one line), rotating a full journal first.
    pub fn append(&self, event: &Event) -> io::Result<()> {
        let mut line = serde_json::to_vec(event).expect("events serialize");
        line.push(b'\n');
        let mut file = self.open_append()?;
        if file.metadata()?.len() + line.len() as u64 > MAX_SIZE {
            // one writer rotates: the others, locked out, find the path renamed and reopen it
            let lock = nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
                .map_err(|(_, e)| io::Error::from(e))?;
            let same =
                std::fs::metadata(&self.path).is_ok_and(|m| m.ino() == lock.metadata().map(|l| l.ino()).unwrap_or(0));
            if same && lock.metadata()?.len() + line.len() as u64 > MAX_SIZE {
                std::fs::rename(&self.path, rotated(&self.path))?;
            }
            drop(lock);
            file = self.open_append()?;
        }
        file.write_all(&line)
    }

    /// Every event still kept, oldest first (the rotated file first).
    pub fn read_all(&self) -> io::Result<Vec<Event>> {
        crate::logs::read(&self.path, None)
    }

    /// Every event kept, and a follower that goes on exactly after the last
    /// one read: nothing appended in between is lost or seen twice.
    pub fn read_and_follow(&self) -> io::Result<(Vec<Event>, Follower)> {
        crate::logs::read_and_follow(&self.path, None)
    }

    #[cfg(test)]
    /// A reader of the events appended from now on.
    pub fn follow(&self) -> Follower {
        Follower::from_end(&self.path)
    }
}

/// Follows the journal as it grows, across rotations.
pub type Follower = crate::logs::Follower<Event>;

/// The keys `events --filter` knows.
pub const EVENT_KEYS: &[&str] = &["container", "event", "image", "type", "label"];

/// `--filter` of `rrun events`: `container=`, `event=`, `image=`, `type=`,
/// `label=`, read by [`Filters`]' rules (values of one key are alternatives;
/// different keys, and every label, must match).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter(Filters);

impl EventFilter {
    /// Parses `KEY=VALUE` arguments.
    pub fn parse(args: &[String]) -> Result<EventFilter, FilterError> {
        let f = Filters::parse(args, EVENT_KEYS)?;
        if let Some(v) = f.get("type").iter().find(|v| !matches!(v.as_str(), "container" | "image" | "network")) {
            return Err(FilterError::Value {
                key: "type".into(),
                value: v.clone(),
                reason: "rrun has container, image and network events".into(),
            });
        }
        Ok(EventFilter(f))
    }

    /// Docker's rules: `container` matches the ID or name by prefix, `event`
    /// the action (`health_status` any health status), `image` the image's
    /// ID or name with or without its tag.
    pub fn matches(&self, e: &Event) -> bool {
        let f = &self.0;
        let attr = |k: &str| e.actor.attributes.get(k).map(String::as_str).unwrap_or("");
        let name = if e.typ == "container" { attr("name") } else { "" };
        let prefix = |v: &str, sources: &[&str]| sources.iter().any(|s| !s.is_empty() && s.starts_with(v));
        let strip = |s: &str| -> String {
            match s.rsplit_once(':') {
                Some((repo, tag)) if !tag.contains('/') => repo.to_string(),
                _ => s.to_string(),
            }
        };
        let image_name = if e.typ == "image" { attr("name") } else { attr("image") };
        let (id_s, name_s) = (strip(&e.actor.id), strip(image_name));
        f.any("container", |v| e.typ == "container" && prefix(v, &[&e.actor.id, name]))
            && f.any("event", |v| match v {
                // actions that carry a suffix (`health_status: healthy`, `exec_start: sh`)
                "health_status" | "exec_create" | "exec_start" => e.action.starts_with(v),
                _ => e.action == v,
            })
            && f.any("image", |v| [e.actor.id.as_str(), image_name, &id_s, &name_s].contains(&v))
            && f.any("type", |v| v == e.typ)
            && f.labels_match(|k| e.actor.attributes.get(k).map(String::as_str))
    }
}

/// What `rrun events` asks for.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct EventOptions {
    /// Past events from this time on (nanoseconds since the epoch); without it, only new ones.
    pub since: Option<i64>,
    /// Stop at this time; without it, follow until the sink says stop.
    pub until: Option<i64>,
    /// `--filter`: which events are passed on.
    pub filter: EventFilter,
}

impl crate::Rrun {
    /// The store's event journal.
    pub(crate) fn journal(&self) -> Journal {
        Journal::at(self.store().root().join("events.log"))
    }

    /// Records an event; a journal that cannot be written never fails the operation itself.
    pub(crate) fn emit(&self, typ: &str, action: &str, id: &str, attributes: BTreeMap<String, String>) {
        if let Err(e) = self.journal().append(&Event::new(typ, action, id, attributes)) {
            tracing::warn!(error = %e, action, "recording an event");
        }
    }

    /// A container event, with its image and name (and `extra` attributes).
    pub(crate) fn emit_container(&self, c: &crate::ContainerRecord, action: &str, extra: &[(&str, String)]) {
        let mut attrs = BTreeMap::from([("image".to_string(), c.image.clone()), ("name".to_string(), c.name.clone())]);
        attrs.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
        self.emit("container", action, &c.id, attrs);
    }

    /// An image event: `id` is the image's ID (or the reference pulled), `name` the name concerned.
    pub(crate) fn emit_image(&self, action: &str, id: &str, name: &str) {
        self.emit("image", action, id, BTreeMap::from([("name".to_string(), name.to_string())]));
    }

    /// Passes the events that match to `sink`, oldest first: with `since`,
    /// the kept ones from then on; then, unless `until` has passed, new ones
    /// as they are recorded, until `until` or until `sink` returns false.
    pub fn events(&self, opts: &EventOptions, sink: &mut dyn FnMut(&Event) -> bool) -> Result<(), crate::Error> {
        let journal = self.journal();
        let io = |e| crate::Error::Io { path: journal.path().to_path_buf(), source: e };
        let in_range = |e: &Event| opts.until.is_none_or(|u| e.time_nano <= u) && opts.filter.matches(e);
        let (past, mut follower) = journal.read_and_follow().map_err(io)?;
        if let Some(since) = opts.since {
            for e in past.iter().filter(|e| e.time_nano >= since && in_range(e)) {
                if !sink(e) {
                    return Ok(());
                }
            }
        }
        loop {
            // what was recorded until `until` is still read once after it passed
            let last = opts.until.is_some_and(|u| now_ns() > u);
            for e in follower.poll().map_err(io)?.iter().filter(|e| in_range(e)) {
                if !sink(e) {
                    return Ok(());
                }
            }
            if last {
                return Ok(());
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(typ: &str, action: &str, id: &str, attrs: &[(&str, &str)]) -> Event {
        Event::new(typ, action, id, attrs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    fn filter(args: &[&str]) -> EventFilter {
        EventFilter::parse(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn events_serialize_like_docker() {
        let e = ev("container", "start", "abc", &[("image", "busybox"), ("name", "web")]);
        let v: serde_json::Value = serde_json::to_value(&e).unwrap();
        assert_eq!(v["Type"], "container");
        assert_eq!(v["Action"], "start");
        assert_eq!(v["Actor"]["ID"], "abc");
        assert_eq!(v["Actor"]["Attributes"]["name"], "web");
        assert_eq!(
            (v["status"].as_str(), v["id"].as_str(), v["from"].as_str()),
            (Some("start"), Some("abc"), Some("busybox"))
        );
        assert_eq!(v["time"].as_i64().unwrap(), v["timeNano"].as_i64().unwrap() / 1_000_000_000);
        let i = serde_json::to_value(ev("image", "pull", "busybox:latest", &[("name", "busybox")])).unwrap();
        assert!(i.get("status").is_none() && i.get("from").is_none(), "{i}");
    }

    #[test]
    fn filters_match_as_docker_s() {
        let start = ev("container", "start", "0123abcd", &[("image", "busybox:latest"), ("name", "web")]);
        let health = ev("container", "health_status: healthy", "0123abcd", &[("image", "busybox"), ("name", "web")]);
        let pull = ev("image", "pull", "busybox:latest", &[("name", "busybox:latest")]);
        assert!(filter(&[]).matches(&start) && filter(&[]).matches(&pull));
        assert!(filter(&["container=web"]).matches(&start));
        assert!(filter(&["container=0123"]).matches(&start), "ID prefix");
        assert!(!filter(&["container=db"]).matches(&start));
        assert!(!filter(&["container=web"]).matches(&pull), "a container filter leaves image events out");
        assert!(filter(&["container=db", "container=web"]).matches(&start), "values of one key: any");
        assert!(!filter(&["container=web", "event=stop"]).matches(&start), "keys: all");
        assert!(filter(&["event=health_status"]).matches(&health));
        assert!(!filter(&["event=health"]).matches(&health));
        assert!(filter(&["image=busybox"]).matches(&start) && filter(&["image=busybox"]).matches(&pull));
        assert!(filter(&["type=image"]).matches(&pull) && !filter(&["type=image"]).matches(&start));
        assert!(filter(&["label=name=web"]).matches(&start));
        assert!(EventFilter::parse(&["bogus=1".into()]).is_err());
        assert!(EventFilter::parse(&["container".into()]).is_err());
        assert!(EventFilter::parse(&["type=volume".into()]).is_err());
    }

    #[test]
    fn journal_appends_follows_and_rotates() {
        let dir_tmp = tempfile::tempdir().unwrap();
        let dir = dir_tmp.path().to_path_buf();
        let j = Journal::at(dir.join("events.log"));
        assert!(j.read_all().unwrap().is_empty());
        let mut f = j.follow();
        j.append(&ev("container", "create", "a", &[])).unwrap();
        j.append(&ev("container", "start", "a", &[])).unwrap();
        let seen: Vec<String> = f.poll().unwrap().into_iter().map(|e| e.action).collect();
        assert_eq!(seen, ["create", "start"]);
        // past MAX_SIZE the journal rotates; a follower crosses the rotation
        let big = "x".repeat(4000);
        let mut n = 0;
        while !rotated(j.path()).exists() {
            j.append(&ev("container", "die", &big, &[])).unwrap();
            n += 1;
            if n % 50 == 0 {
                assert_eq!(f.poll().unwrap().len(), 50);
            }
        }
        let rest = f.poll().unwrap();
        assert_eq!(rest.len(), n % 50);
        assert!(std::fs::metadata(j.path()).unwrap().len() < MAX_SIZE);
        let all = j.read_all().unwrap();
        assert_eq!(all.len(), 2 + n, "nothing lost in the rotation");
    }
}
