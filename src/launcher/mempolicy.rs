//! `linux.memoryPolicy` (runtime-spec 1.2): the NUMA memory policy of the
//! container's process, set with set_mempolicy(2) before exec; its children
//! inherit it.

use super::ChildError;
use serde::Deserialize;

/// The Spec's `linux.memoryPolicy`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct MemoryPolicy {
    pub mode: String,
    #[serde(default)]
    pub nodes: Option<String>,
    #[serde(default)]
    pub flags: Vec<String>,
}

/// What set_mempolicy(2) takes: mode with flags, and the node mask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    mode: i32,
    mask: Vec<libc::c_ulong>,
}

const BITS: usize = libc::c_ulong::BITS as usize;

impl MemoryPolicy {
    /// Checks the names and the node list (before the container starts).
    pub fn resolve(&self) -> Result<Resolved, String> {
        let mut mode = match self.mode.as_str() {
            "MPOL_DEFAULT" => 0,
            "MPOL_PREFERRED" => 1,
            "MPOL_BIND" => 2,
            "MPOL_INTERLEAVE" => 3,
            "MPOL_LOCAL" => 4,
            "MPOL_PREFERRED_MANY" => 5,
            "MPOL_WEIGHTED_INTERLEAVE" => 6,
            other => return Err(format!("linux.memoryPolicy: unknown mode {other:?}")),
        };
        for f in &self.flags {
            mode |= match f.as_str() {
                "MPOL_F_NUMA_BALANCING" => 1 << 13,
                "MPOL_F_RELATIVE_NODES" => 1 << 14,
                "MPOL_F_STATIC_NODES" => 1 << 15,
                other => return Err(format!("linux.memoryPolicy: unknown flag {other:?}")),
            };
        }
        let mut mask: Vec<libc::c_ulong> = Vec::new();
        for part in self.nodes.as_deref().unwrap_or("").split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let bad = || format!("linux.memoryPolicy: invalid nodes {:?}", self.nodes.as_deref().unwrap_or(""));
            let (a, b) = part.split_once('-').unwrap_or((part, part));
            let (a, b): (usize, usize) = (a.trim().parse().map_err(|_| bad())?, b.trim().parse().map_err(|_| bad())?);
            if a > b || b >= 4096 {
                return Err(bad());
            }
            for n in a..=b {
                if mask.len() <= n / BITS {
                    mask.resize(n / BITS + 1, 0);
                }
                mask[n / BITS] |= 1 << (n % BITS);
            }
        }
        let needs_nodes = matches!(mode & 0xff, 2 | 3 | 5 | 6);
        if needs_nodes && mask.is_empty() {
            return Err(format!("linux.memoryPolicy: {} needs nodes", self.mode));
        }
        if matches!(mode & 0xff, 0 | 4) && !mask.is_empty() {
            return Err(format!("linux.memoryPolicy: {} takes no nodes", self.mode));
        }
        Ok(Resolved { mode, mask })
    }
}

/// set_mempolicy(2) for this process.
pub(crate) fn apply(p: &Resolved) -> Result<(), ChildError> {
    let maxnode = if p.mask.is_empty() { 0 } else { p.mask.len() * BITS + 1 };
    let ptr = if p.mask.is_empty() { std::ptr::null() } else { p.mask.as_ptr() };
    crate::step!(super::steps::MEMORY_POLICY, mode = %format!("{:#x}", p.mode));
    // SAFETY: the mask holds maxnode-1 bits (or is NULL with maxnode 0), as set_mempolicy reads it.
    let rc = unsafe { libc::syscall(libc::SYS_set_mempolicy, p.mode, ptr, maxnode) };
    if rc != 0 {
        return Err(ChildError::setup(format!(
            "set_mempolicy (linux.memoryPolicy): {}",
            std::io::Error::last_os_error()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(mode: &str, nodes: Option<&str>, flags: &[&str]) -> MemoryPolicy {
        MemoryPolicy {
            mode: mode.into(),
            nodes: nodes.map(String::from),
            flags: flags.iter().map(|f| f.to_string()).collect(),
        }
    }

    #[test]
    fn policies_resolve_to_the_kernels_numbers() {
        let r = p("MPOL_BIND", Some("0-2,5"), &["MPOL_F_STATIC_NODES"]).resolve().unwrap();
        assert_eq!(r.mode, 2 | (1 << 15));
        assert_eq!(r.mask, vec![0b100111]);
        assert_eq!(p("MPOL_LOCAL", None, &[]).resolve().unwrap().mask, Vec::<libc::c_ulong>::new());
        assert_eq!(p("MPOL_INTERLEAVE", Some("64"), &[]).resolve().unwrap().mask, vec![0, 1]);
        for bad in [
            p("MPOL_NOPE", None, &[]),
            p("MPOL_BIND", None, &[]),
            p("MPOL_BIND", Some("3-1"), &[]),
            p("MPOL_BIND", Some("x"), &[]),
            p("MPOL_DEFAULT", Some("0"), &[]),
            p("MPOL_BIND", Some("0"), &["MPOL_F_WHAT"]),
        ] {
            assert!(bad.resolve().is_err(), "{bad:?}");
        }
    }
}
