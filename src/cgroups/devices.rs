//! The v1 device controller's state and the fewest writes that take a
//! cgroup from one rule list to another (runc's "minimal transitions").
//!
//! A v1 `devices` cgroup holds a default (allow or deny everything) and a
//! list of exceptions; `devices.list` shows it (`a *:* rwm` alone: allow all;
//! otherwise the allowed exceptions under a default of deny). Writing a
//! wildcard rule resets it, which for an instant denies (or allows) every
//! device to the running container. Updating rules the way a new cgroup gets
//! them ("deny all", then each allow) therefore makes a running container's
//! `open("/dev/null")` fail now and then; instead only the rules that change
//! are written, and the reset only when the default itself changes.

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};
use std::collections::BTreeMap;

/// (type, major, minor): `a`, `b` or `c`; `None` is `*`.
type Key = (char, Option<i64>, Option<i64>);

/// A devices cgroup: its default and its exceptions with their access.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Emulator {
    default_allow: bool,
    exceptions: BTreeMap<Key, String>,
}

fn typ(t: Option<LinuxDeviceType>) -> char {
    match t {
        Some(LinuxDeviceType::B) => 'b',
        Some(LinuxDeviceType::C) | Some(LinuxDeviceType::U) => 'c',
        _ => 'a',
    }
}

fn norm_access(a: &str) -> String {
    ['r', 'w', 'm'].iter().filter(|c| a.contains(**c)).collect()
}

fn num(n: Option<i64>) -> String {
    n.map(|n| n.to_string()).unwrap_or_else(|| "*".into())
}

/// One line for `devices.allow` / `devices.deny`.
fn line(k: &Key, access: &str) -> String {
    if k.0 == 'a' {
        return "a *:* rwm".into();
    }
    format!("{} {}:{} {}", k.0, num(k.1), num(k.2), access)
}

impl Emulator {
    /// A new cgroup below a parent that allows everything.
    pub fn allow_all() -> Emulator {
        Emulator { default_allow: true, exceptions: BTreeMap::new() }
    }

    /// Reads `devices.list`.
    pub fn from_list(list: &str) -> Emulator {
        let mut e = Emulator { default_allow: false, exceptions: BTreeMap::new() };
        for l in list.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let mut parts = l.split_whitespace();
            let (t, nums, access) =
                (parts.next().unwrap_or("a"), parts.next().unwrap_or("*:*"), parts.next().unwrap_or(""));
            let (ma, mi) = nums.split_once(':').unwrap_or(("*", "*"));
            let parse = |s: &str| s.parse::<i64>().ok();
            if t == "a" && ma == "*" && mi == "*" && norm_access(access) == "rwm" {
                return Emulator::allow_all();
            }
            e.exceptions.insert((t.chars().next().unwrap_or('a'), parse(ma), parse(mi)), norm_access(access));
        }
        e
    }

    /// Applies rules in order, as the kernel would.
    pub fn apply(&mut self, rules: &[LinuxDeviceCgroup]) {
        for r in rules {
            let k: Key = (typ(r.typ()), r.major(), r.minor());
            let access = norm_access(r.access().as_deref().unwrap_or("rwm"));
            if k.0 == 'a' {
                // a wildcard of every type resets the cgroup
                self.default_allow = r.allow();
                self.exceptions.clear();
                continue;
            }
            if r.allow() != self.default_allow {
                let cur = self.exceptions.entry(k).or_default();
                let merged: String =
                    ['r', 'w', 'm'].iter().filter(|c| cur.contains(**c) || access.contains(**c)).collect();
                *cur = merged;
            } else if let Some(cur) = self.exceptions.get_mut(&k) {
                let left: String = cur.chars().filter(|c| !access.contains(*c)).collect();
                if left.is_empty() {
                    self.exceptions.remove(&k);
                } else {
                    *cur = left;
                }
            }
        }
    }

    /// The writes (file, line) that turn `self` into `target`.
    pub fn transition(&self, target: &Emulator) -> Vec<(&'static str, String)> {
        let (to_exception, to_default) =
            if target.default_allow { ("devices.deny", "devices.allow") } else { ("devices.allow", "devices.deny") };
        let mut out = Vec::new();
        let start: &BTreeMap<Key, String> = if self.default_allow != target.default_allow {
            out.push((to_default, "a *:* rwm".to_string()));
            &BTreeMap::new()
        } else {
            &self.exceptions
        };
        // first what the target adds (a running process keeps its devices), then what it drops
        for (k, access) in &target.exceptions {
            let have = start.get(k).map(String::as_str).unwrap_or("");
            let add: String = access.chars().filter(|c| !have.contains(*c)).collect();
            if !add.is_empty() {
                out.push((to_exception, line(k, &add)));
            }
        }
        for (k, have) in start {
            let keep = target.exceptions.get(k).map(String::as_str).unwrap_or("");
            let drop: String = have.chars().filter(|c| !keep.contains(*c)).collect();
            if !drop.is_empty() {
                out.push((to_default, line(k, &drop)));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxDeviceCgroupBuilder;

    fn rule(allow: bool, t: Option<LinuxDeviceType>, ma: Option<i64>, mi: Option<i64>, a: &str) -> LinuxDeviceCgroup {
        let mut b = LinuxDeviceCgroupBuilder::default().allow(allow).access(a);
        if let Some(t) = t {
            b = b.typ(t);
        }
        if let Some(m) = ma {
            b = b.major(m);
        }
        if let Some(m) = mi {
            b = b.minor(m);
        }
        b.build().unwrap()
    }

    fn engine_rules(extra: &[LinuxDeviceCgroup]) -> Vec<LinuxDeviceCgroup> {
        let mut v = vec![rule(false, None, None, None, "rwm")];
        v.push(rule(true, Some(LinuxDeviceType::C), Some(1), Some(3), "rwm"));
        v.push(rule(true, Some(LinuxDeviceType::C), Some(1), Some(5), "rwm"));
        v.extend_from_slice(extra);
        v
    }

    #[test]
    fn the_same_rules_again_write_nothing() {
        let mut now = Emulator::allow_all();
        now.apply(&engine_rules(&[]));
        let mut target = Emulator::allow_all();
        target.apply(&engine_rules(&[]));
        assert!(now.transition(&target).is_empty());
        // as read back from devices.list
        let listed = Emulator::from_list("c 1:3 rwm\nc 1:5 rwm\n");
        assert_eq!(listed, now);
        assert!(listed.transition(&target).is_empty());
    }

    #[test]
    fn only_the_difference_is_written_and_a_reset_only_when_the_default_changes() {
        let now = Emulator::from_list("c 1:3 rwm\nc 1:5 rwm\n");
        let mut target = Emulator::allow_all();
        target.apply(&engine_rules(&[rule(true, Some(LinuxDeviceType::C), Some(10), Some(229), "rw")]));
        target.apply(&[rule(false, Some(LinuxDeviceType::C), Some(1), Some(5), "w")]);
        assert_eq!(
            now.transition(&target),
            vec![("devices.allow", "c 10:229 rw".to_string()), ("devices.deny", "c 1:5 w".to_string())]
        );
        // from allow-all to a deny list: the reset comes first
        let t = Emulator::allow_all().transition(&target);
        assert_eq!(t[0], ("devices.deny", "a *:* rwm".to_string()));
        assert_eq!(t.len(), 4);
        // back to allow-all: one write
        assert_eq!(now.transition(&Emulator::allow_all()), vec![("devices.allow", "a *:* rwm".to_string())]);
        assert_eq!(Emulator::from_list("a *:* rwm\n"), Emulator::allow_all());
    }
}
