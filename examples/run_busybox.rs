//! Embedding rrun: load an image archive into a store and run a command in it.
//!
//! ```text
//! cargo run --example run_busybox -- [STORE] [ARCHIVE] [COMMAND...]
//! ```
//! Defaults: a store under /tmp, `rootfs-fixtures/out/busybox.tar`, `echo hello from rrun`.
//! Needs root (namespaces and mounts).

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let store = args.next().map(PathBuf::from).unwrap_or_else(|| std::env::temp_dir().join("rrun-example"));
    let archive = args.next().map(PathBuf::from).unwrap_or_else(|| PathBuf::from("rootfs-fixtures/out/busybox.tar"));
    let mut command: Vec<String> = args.collect();
    if command.is_empty() {
        command = vec!["echo".into(), "hello from rrun".into()];
    }

    let rrun = rrun::Rrun::open(&store)?;
    for image in rrun.load(&archive, None)? {
        eprintln!("loaded {} ({})", image.names.join(", "), image.record.id());
    }
    let options = rrun::RunOptions::new(command).remove(true);
    let code = rrun.run("busybox", &options)?;
    std::process::exit(code);
}
