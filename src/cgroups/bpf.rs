//! cgroup v2 has no devices controller: device access is decided by a
//! `BPF_PROG_TYPE_CGROUP_DEVICE` program attached to the cgroup. This module
//! compiles the Spec's device rules into such a program (as runc's
//! devicefilter does) and attaches it.
//!
//! The program reads `struct bpf_cgroup_dev_ctx { u32 access_type; u32 major;
//! u32 minor; }` (type in the low 16 bits of access_type, access in the high),
//! tries the rules from last to first — the last matching rule wins, as with
//! v1's devices.allow/deny — and denies what no rule matches.

use super::CgroupError;
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

/// One eBPF instruction.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn {
    code: u8,
    regs: u8,
    off: i16,
    imm: i32,
}

const fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn { code, regs: (src << 4) | dst, off, imm }
}

const LDX_W: u8 = 0x61; // dst = *(u32 *)(src + off)
const AND_K: u8 = 0x57; // dst &= imm
const RSH_K: u8 = 0x77; // dst >>= imm
const MOV_X: u8 = 0xbf; // dst = src
const MOV_K: u8 = 0xb7; // dst = imm
const JNE_K: u8 = 0x55; // if dst != imm goto +off
const JNE_X: u8 = 0x5d; // if dst != src goto +off
const EXIT: u8 = 0x95;

const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;
const ACC_MKNOD: i32 = 1;
const ACC_READ: i32 = 2;
const ACC_WRITE: i32 = 4;

fn access_mask(access: &str) -> i32 {
    access.chars().fold(0, |m, c| {
        m | match c {
            'm' => ACC_MKNOD,
            'r' => ACC_READ,
            'w' => ACC_WRITE,
            _ => 0,
        }
    })
}

/// Compiles device rules into a program: r2 = type, r3 = access, r4 = major, r5 = minor.
pub fn compile(rules: &[LinuxDeviceCgroup]) -> Result<Vec<Insn>, CgroupError> {
    let mut prog = vec![
        insn(LDX_W, 2, 1, 0, 0),
        insn(AND_K, 2, 0, 0, 0xffff),
        insn(LDX_W, 3, 1, 0, 0),
        insn(RSH_K, 3, 0, 0, 16),
        insn(LDX_W, 4, 1, 4, 0),
        insn(LDX_W, 5, 1, 8, 0),
    ];
    for rule in rules.iter().rev() {
        let mut block: Vec<Insn> = Vec::new();
        // each jump is patched to skip to the end of this rule's block
        let mut jumps = Vec::new();
        match rule.typ().unwrap_or(LinuxDeviceType::A) {
            LinuxDeviceType::A => {}
            LinuxDeviceType::B => {
                jumps.push(block.len());
                block.push(insn(JNE_K, 2, 0, 0, DEV_BLOCK));
            }
            LinuxDeviceType::C | LinuxDeviceType::U => {
                jumps.push(block.len());
                block.push(insn(JNE_K, 2, 0, 0, DEV_CHAR));
            }
            LinuxDeviceType::P => continue, // fifos are not device-controlled
        }
        let access = access_mask(rule.access().as_deref().unwrap_or("rwm"));
        if access == 0 {
            return Err(CgroupError::Invalid { what: rule.to_string(), reason: "no access (r, w, m) given".into() });
        }
        if access != ACC_MKNOD | ACC_READ | ACC_WRITE {
            // the requested access must be within the rule's
            block.push(insn(MOV_X, 1, 3, 0, 0));
            block.push(insn(AND_K, 1, 0, 0, access));
            jumps.push(block.len());
            block.push(insn(JNE_X, 1, 3, 0, 0));
        }
        if let Some(major) = rule.major().filter(|m| *m >= 0) {
            jumps.push(block.len());
            block.push(insn(JNE_K, 4, 0, 0, major as i32));
        }
        if let Some(minor) = rule.minor().filter(|m| *m >= 0) {
            jumps.push(block.len());
            block.push(insn(JNE_K, 5, 0, 0, minor as i32));
        }
        block.push(insn(MOV_K, 0, 0, 0, rule.allow() as i32));
        block.push(insn(EXIT, 0, 0, 0, 0));
        let len = block.len();
        let unconditional = jumps.is_empty();
        for j in jumps {
            block[j].off = (len - j - 1) as i16;
        }
        prog.extend(block);
        if unconditional {
            // it decides every access: earlier rules are unreachable, and the verifier refuses dead code
            return Ok(prog);
        }
    }
    prog.push(insn(MOV_K, 0, 0, 0, 0));
    prog.push(insn(EXIT, 0, 0, 0, 0));
    Ok(prog)
}

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

fn bpf(cmd: libc::c_long, attr: &mut [u8; 128]) -> std::io::Result<i32> {
    // SAFETY: attr is a zero-initialised bpf_attr of 128 bytes, which covers the fields of both commands used.
    let r = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr.as_mut_ptr(), attr.len() as u32) };
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(r as i32)
    }
}

/// `BPF_PROG_LOAD` of a device program; `log`, when given, receives the verifier's report.
fn load(prog: &[Insn], log: Option<&mut [u8]>) -> std::io::Result<i32> {
    let license = c"GPL";
    let mut attr = [0u8; 128];
    attr[0..4].copy_from_slice(&BPF_PROG_TYPE_CGROUP_DEVICE.to_ne_bytes());
    attr[4..8].copy_from_slice(&(prog.len() as u32).to_ne_bytes());
    attr[8..16].copy_from_slice(&(prog.as_ptr() as u64).to_ne_bytes());
    attr[16..24].copy_from_slice(&(license.as_ptr() as u64).to_ne_bytes());
    if let Some(log) = log {
        attr[24..28].copy_from_slice(&1u32.to_ne_bytes()); // log_level
        attr[28..32].copy_from_slice(&(log.len() as u32).to_ne_bytes());
        attr[32..40].copy_from_slice(&(log.as_mut_ptr() as u64).to_ne_bytes());
    }
    attr[48..56].copy_from_slice(b"rrun_devices\0\0\0\0"[..8].try_into().expect("8 bytes"));
    attr[68..72].copy_from_slice(&BPF_CGROUP_DEVICE.to_ne_bytes());
    bpf(BPF_PROG_LOAD, &mut attr)
}

/// Loads the program for `rules` and attaches it to the cgroup directory `dir`.
pub fn apply_device_rules(dir: &Path, rules: &[LinuxDeviceCgroup]) -> Result<(), CgroupError> {
    let prog = compile(rules)?;
    // without a log: a verifier log that fills its buffer fails the load (ENOSPC), however valid the program
    let fd = load(&prog, None).map_err(|e| {
        // load again, only to say why, with room for the verifier's whole report
        let mut log = vec![0u8; 1 << 20];
        let _ = load(&prog, Some(&mut log));
        let verifier = String::from_utf8_lossy(&log).trim_end_matches('\0').trim().to_string();
        CgroupError::Invalid { what: "device rules (BPF program load)".into(), reason: format!("{e} {verifier}") }
    })?;
    // SAFETY: BPF_PROG_LOAD returned a new descriptor that nothing else owns.
    let prog_fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let cg = std::fs::File::open(dir).map_err(super::io(dir, "open"))?;
    let mut attr = [0u8; 128];
    attr[0..4].copy_from_slice(&(cg.as_raw_fd() as u32).to_ne_bytes());
    attr[4..8].copy_from_slice(&(prog_fd.as_raw_fd() as u32).to_ne_bytes());
    attr[8..12].copy_from_slice(&BPF_CGROUP_DEVICE.to_ne_bytes());
    attr[12..16].copy_from_slice(&BPF_F_ALLOW_MULTI.to_ne_bytes());
    bpf(BPF_PROG_ATTACH, &mut attr).map_err(super::io(dir, "attach the device BPF program"))?;
    crate::step!(
        super::DEVICE_PROGRAM,
        cgroup = %dir.display(),
        rules = rules.len(),
        instructions = prog.len(),
        attach = "BPF_CGROUP_DEVICE"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxDeviceCgroupBuilder;

    fn rule(
        allow: bool,
        t: LinuxDeviceType,
        major: Option<i64>,
        minor: Option<i64>,
        access: &str,
    ) -> LinuxDeviceCgroup {
        let mut b = LinuxDeviceCgroupBuilder::default().allow(allow).typ(t).access(access);
        if let Some(m) = major {
            b = b.major(m);
        }
        if let Some(m) = minor {
            b = b.minor(m);
        }
        b.build().unwrap()
    }

    /// Interprets the compiled program, enough to check its decisions.
    fn run(prog: &[Insn], typ: i32, access: i32, major: i32, minor: i32) -> i64 {
        let mut r = [0i64; 11];
        let ctx = [((access << 16) | typ) as i64, major as i64, minor as i64];
        let mut pc = 0usize;
        loop {
            let i = prog[pc];
            let (dst, src) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
            pc += 1;
            match i.code {
                LDX_W => r[dst] = ctx[(i.off / 4) as usize],
                AND_K => r[dst] &= i.imm as i64,
                RSH_K => r[dst] >>= i.imm,
                MOV_X => r[dst] = r[src],
                MOV_K => r[dst] = i.imm as i64,
                JNE_K if r[dst] != i.imm as i64 => pc += i.off as usize,
                JNE_X if r[dst] != r[src] => pc += i.off as usize,
                JNE_K | JNE_X => {}
                EXIT => return r[0],
                other => panic!("unknown opcode {other:#x}"),
            }
        }
    }

    #[test]
    fn deny_all_then_allow_list() {
        let rules = vec![
            rule(false, LinuxDeviceType::A, None, None, "rwm"),
            rule(true, LinuxDeviceType::C, Some(1), Some(3), "rwm"), // /dev/null
            rule(true, LinuxDeviceType::C, Some(5), None, "rw"),     // ttys, any minor
            rule(false, LinuxDeviceType::C, Some(5), Some(1), "w"),  // but no writing to /dev/console
        ];
        let p = compile(&rules).unwrap();
        let (r, w, m) = (ACC_READ, ACC_WRITE, ACC_MKNOD);
        assert_eq!(run(&p, DEV_CHAR, r | w, 1, 3), 1, "/dev/null allowed");
        assert_eq!(run(&p, DEV_CHAR, m, 1, 3), 1);
        assert_eq!(run(&p, DEV_CHAR, r, 1, 5), 0, "/dev/zero not listed: denied");
        assert_eq!(run(&p, DEV_BLOCK, r, 1, 3), 0, "block 1:3 is another device");
        assert_eq!(run(&p, DEV_CHAR, r, 5, 0), 1, "5:* read allowed");
        assert_eq!(run(&p, DEV_CHAR, m, 5, 0), 0, "mknod not in rw");
        assert_eq!(run(&p, DEV_CHAR, w, 5, 1), 0, "the later deny wins");
        assert_eq!(run(&p, DEV_CHAR, r, 5, 1), 1);
    }

    #[test]
    fn a_catch_all_rule_ends_the_program() {
        // the kernel's verifier refuses unreachable instructions
        let p = compile(&[
            rule(true, LinuxDeviceType::C, Some(1), Some(3), "rwm"),
            rule(false, LinuxDeviceType::A, None, None, "rwm"),
        ])
        .unwrap();
        assert_eq!(p.len(), 6 + 2, "the allow rule before the catch-all deny is dropped");
        assert_eq!(run(&p, DEV_CHAR, ACC_READ, 1, 3), 0);
        let p = compile(&[rule(false, LinuxDeviceType::A, None, None, "rwm")]).unwrap();
        assert_eq!(p.len(), 8, "no default after an unconditional rule");
    }

    /// Skips (or, with `CI` set, fails) a test that cannot run here.
    fn cannot_run(test: &str, why: &str) {
        // in CI (CI set) a test that ran nothing must not pass
        let ci = std::env::var("CI").is_ok_and(|v| !matches!(v.trim(), "" | "0" | "false"));
        assert!(!ci, "{test} cannot run: {why} (CI is set)");
        eprintln!("SKIP {test}: {why}");
    }

    /// The program loaded into a real cgroup v2 directory, wherever a cgroup2
    /// hierarchy is mounted (on a hybrid host it has no controllers, but
    /// device programs need none), decides as the rules say.
    #[test]
    fn v2_device_program_denies_by_default() {
        let test = "v2_device_program_denies_by_default";
        if !nix::unistd::Uid::effective().is_root() {
            return cannot_run(test, "needs root (a cgroup and BPF_PROG_LOAD)");
        }
        let Some(root) = ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]
            .iter()
            .map(Path::new)
            .find(|p| p.join("cgroup.procs").exists() && !p.join("tasks").exists())
        else {
            return cannot_run(test, "no cgroup2 mount");
        };
        let probe = |rules: &[LinuxDeviceCgroup]| {
            let dir = root.join(format!("rrun-unit-bpf-{}-{}", std::process::id(), rules.len()));
            std::fs::create_dir_all(&dir).unwrap();
            let loaded = apply_device_rules(&dir, rules);
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!(
                    "echo $$ > {}/cgroup.procs; for d in zero null kmsg; do (: < /dev/$d) 2>/dev/null && echo $d-open || echo $d-denied; done",
                    dir.display()
                ))
                .output()
                .unwrap();
            let _ = std::fs::remove_dir(&dir);
            loaded.unwrap();
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        let c = |major: i64, minor: Option<i64>| rule(true, LinuxDeviceType::C, Some(major), minor, "rwm");
        let deny_all = rule(false, LinuxDeviceType::A, None, None, "rwm");
        assert_eq!(probe(&[deny_all.clone(), c(1, Some(3))]), "zero-denied\nnull-open\nkmsg-denied\n");
        // a list like Docker's default and more: a program too big for a small verifier log still loads
        let mut many = vec![deny_all];
        many.extend([(1, Some(3)), (1, Some(5)), (1, Some(7)), (1, Some(8)), (1, Some(9))].map(|(a, b)| c(a, b)));
        many.extend([(5, Some(0)), (5, Some(1)), (5, Some(2)), (136, None), (10, Some(200))].map(|(a, b)| c(a, b)));
        many.extend((0..20).map(|i| c(240, Some(i))));
        assert_eq!(probe(&many), "zero-open\nnull-open\nkmsg-denied\n");
        many.push(rule(true, LinuxDeviceType::C, Some(1), Some(11), "r"));
        assert_eq!(probe(&many), "zero-open\nnull-open\nkmsg-open\n", "an added rule allows /dev/kmsg");
    }
}
