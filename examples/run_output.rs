//! Embedding rrun: run a command in a container and capture what it writes
//! ([`rrun::Rrun::output`]), as `std::process::Command::output` does.
//!
//! ```text
//! cargo run --example run_output -- STORE ARCHIVE [COMMAND...]
//! ```
//! Loads the image archive (e.g. `rootfs-fixtures/out/busybox.tar`) into the
//! store, runs COMMAND (default: `echo hello`) in it, and prints the exit
//! code and the captured stdout and stderr. Needs root (namespaces and mounts).

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(store), Some(archive)) = (args.next(), args.next()) else {
        return Err("usage: run_output STORE ARCHIVE [COMMAND...]".into());
    };
    let mut command: Vec<String> = args.collect();
    if command.is_empty() {
        command = vec!["echo".into(), "hello".into()];
    }
    let rrun = rrun::Rrun::open(PathBuf::from(store))?;
    let image = rrun.load(archive.as_ref(), None)?.remove(0);
    let name = image.names.first().cloned().unwrap_or_else(|| image.record.config.to_string());

    let options = rrun::RunOptions::new(command).remove(true);
    let output = rrun.output(&name, &options)?;
    println!("status: {}", output.status);
    println!("stdout: {:?}", String::from_utf8_lossy(&output.stdout));
    println!("stderr: {:?}", String::from_utf8_lossy(&output.stderr));
    Ok(())
}
