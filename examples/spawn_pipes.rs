//! Embedding rrun: a container whose streams the program holds
//! ([`rrun::Rrun::spawn`]), as `std::process::Command::spawn` gives a `Child`.
//!
//! ```text
//! cargo run --example spawn_pipes -- STORE ARCHIVE
//! ```
//! Loads the image archive (e.g. `rootfs-fixtures/out/busybox.tar`), then:
//! spawns a shell with piped stdin, stdout and stderr (read from a thread
//! while it runs) and waits for it; spawns one and drops it without waiting
//! (it is killed and cleaned up); spawns one with a terminal whose window
//! size it sets; and starts a process with a terminal in a detached
//! container ([`rrun::Rrun::exec_spawn`]). Needs root (namespaces and mounts).

use std::io::{Read, Write};
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(store), Some(archive)) = (args.next(), args.next()) else {
        return Err("usage: spawn_pipes STORE ARCHIVE".into());
    };
    let rrun = rrun::Rrun::open(PathBuf::from(store))?;
    let image = rrun.load(archive.as_ref(), None)?.remove(0);
    let name = image.names.first().cloned().unwrap_or_else(|| image.record.config.to_string());

    // pipes: write its stdin, read its stdout here and its stderr on another thread
    let script = "read x; echo got $x; echo err >&2; exit 3";
    let options = rrun::RunOptions::new(["sh", "-c", script]).remove(true).stdio(rrun::Stdio::Piped);
    let mut child = rrun.spawn(&name, &options)?;
    let id = child.id().to_string();
    let mut stderr = child.stderr.take().expect("piped stderr");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        stderr.read_to_string(&mut s).map(|_| s)
    });
    child.stdin.take().expect("piped stdin").write_all(b"hello\n")?; // dropped: end-of-file
    let mut out = String::new();
    child.stdout.take().expect("piped stdout").read_to_string(&mut out)?;
    let status = child.wait()?; // while the reader thread may still run
    let err = reader.join().expect("reader thread")?;
    println!("stdout: {}", out.trim_end());
    println!("stderr: {}", err.trim_end());
    println!("status: {status}");
    println!("removed: {}", rrun.container(&id).is_err());

    // dropped without wait: killed, reaped, its run ended
    let options = rrun::RunOptions::new(["sleep", "60"]).stdio(rrun::Stdio::Piped);
    let child = rrun.spawn(&name, &options)?;
    let (id, pid) = (child.id().to_string(), child.pid());
    drop(child);
    let record = rrun.container(&id)?;
    println!("dropped: {id} {pid} {:?} {:?}", record.status, record.exit_code);
    rrun.remove_container(&id, false)?;

    // a terminal: the program holds its master and sets its size
    let options = rrun::RunOptions::new(["sh", "-c", "read x; tty; stty size"]).remove(true).stdio(rrun::Stdio::Pty);
    let mut child = rrun.spawn(&name, &options)?;
    let mut pty = child.pty.take().expect("a terminal");
    child.set_window_size(33, 77)?;
    pty.write_all(b"go\n")?;
    let shown = read_terminal(&mut pty);
    println!("spawn status: {}", child.wait()?);
    for line in shown.lines().map(str::trim).filter(|l| l.starts_with("/dev/") || l.starts_with(char::is_numeric)) {
        println!("spawn tty: {line}");
    }

    // a terminal for a process started in a detached container
    let container = rrun.run_detached(&name, &rrun::RunOptions::new(["sleep", "60"]))?;
    let exec = rrun::ExecOptions::new(["sh", "-c", "tty; stty size"]).stdio(rrun::Stdio::Pty);
    let mut process = rrun.exec_spawn(&container.id, &exec)?;
    let mut pty = process.pty.take().expect("a terminal");
    let shown = read_terminal(&mut pty);
    println!("exec status: {}", process.wait()?);
    for line in shown.lines().map(str::trim).filter(|l| l.starts_with("/dev/")) {
        println!("exec tty: {line}");
    }
    rrun.remove_container(&container.id, true)?;
    Ok(())
}

/// All a terminal shows until its last process closed it (reading the
/// master fails with EIO then).
fn read_terminal(pty: &mut std::fs::File) -> String {
    let mut shown = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = pty.read(&mut buf) {
        if n == 0 {
            break;
        }
        shown.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&shown).into_owned()
}
