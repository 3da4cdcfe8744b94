//! Embedding rrun: start a container detached, run a command in it and
//! capture its output ([`rrun::Rrun::exec_output`]), run another with piped
//! streams ([`rrun::Rrun::exec_spawn`]), read the container's log, then stop
//! and remove it.
//!
//! ```text
//! cargo run --example detached_exec -- STORE ARCHIVE
//! ```
//! Loads the image archive (e.g. `rootfs-fixtures/out/busybox.tar`) into the
//! store. Needs root (namespaces and mounts).

use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::Duration;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(store), Some(archive)) = (args.next(), args.next()) else {
        return Err("usage: detached_exec STORE ARCHIVE".into());
    };
    let rrun = rrun::Rrun::open(PathBuf::from(store))?;
    let image = rrun.load(archive.as_ref(), None)?.remove(0);
    let name = image.names.first().cloned().unwrap_or_else(|| image.record.config.to_string());

    let options = rrun::RunOptions::new(["sh", "-c", "echo started; exec sleep 60"]);
    let container = rrun.run_detached(&name, &options)?;
    println!("running: {}", container.is_running());

    let exec = rrun::ExecOptions::new(["sh", "-c", "echo in $(hostname); echo oops >&2; exit 3"]);
    let output = rrun.exec_output(&container.id, &exec)?;
    println!("exec status: {}", output.status);
    println!("exec stdout: {}", String::from_utf8_lossy(&output.stdout).trim_end());
    println!("exec stderr: {}", String::from_utf8_lossy(&output.stderr).trim_end());

    // a process with piped streams, as std::process::Child
    let mut cat = rrun.exec_spawn(&container.id, &rrun::ExecOptions::new(["cat"]).stdio(rrun::Stdio::Piped))?;
    cat.stdin.take().expect("piped stdin").write_all(b"piped\n")?; // dropped: cat reads end-of-file
    let mut echoed = String::new();
    cat.stdout.take().expect("piped stdout").read_to_string(&mut echoed)?;
    println!("spawn echoed: {}", echoed.trim_end());
    println!("spawn status: {}", cat.wait()?);

    let mut log = String::new();
    rrun.logs(&container.id, &rrun::LogOptions::default(), &mut |entry| log.push_str(&entry.log))?;
    println!("log: {}", log.trim_end());

    let stopped = rrun.stop(&container.id, Duration::from_secs(1))?;
    println!("stopped: {}", !stopped.is_running());
    rrun.remove_container(&container.id, false)?;
    Ok(())
}
