//! Embedding rrun's runc-compatible layer ([`rrun::oci::Runtime`]): create a
//! container from an OCI bundle (a `rootfs/` and a `config.json`, as
//! `rrun spec` writes one), start it, wait for it to stop, delete it.
//!
//! ```text
//! cargo run --example oci_runtime -- STATE_ROOT BUNDLE ID
//! ```
//! The container's process writes to this program's stdout and stderr.
//! Needs root (namespaces and mounts).

use std::path::PathBuf;
use std::time::{Duration, Instant};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(root), Some(bundle), Some(id)) = (args.next(), args.next(), args.next()) else {
        return Err("usage: oci_runtime STATE_ROOT BUNDLE ID".into());
    };
    let runtime = rrun::oci::Runtime::new(PathBuf::from(root), false);
    let options = rrun::oci::CreateOptions::new(bundle);
    runtime.create(&id, &options)?;
    println!("state: {}", runtime.state(&id)?.status);

    runtime.start(&id)?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while runtime.state(&id)?.status != rrun::oci::Status::Stopped {
        if Instant::now() > deadline {
            runtime.kill(&id, Some(rrun::Signal::KILL), true)?;
            return Err("the container did not stop within 30 s".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    println!("state: {}", runtime.state(&id)?.status);
    runtime.delete(&id, false)?;
    println!("deleted: {}", !runtime.exists(&id));
    Ok(())
}
