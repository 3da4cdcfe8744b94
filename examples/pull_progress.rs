//! Embedding rrun: pull an image from a registry, hearing its progress
//! through a callback ([`rrun::PullOptions::progress`]) instead of
//! a drawn progress bar.
//!
//! ```text
//! cargo run --example pull_progress -- STORE REFERENCE
//! ```
//! e.g. `STORE 127.0.0.1:5000/library/busybox:latest` (a registry on
//! localhost is spoken to over plain HTTP). Prints one line per step: the
//! manifest resolved, each layer started and done, the image committed.
//! Needs root for the default store's permissions only if STORE asks.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(store), Some(reference)) = (args.next(), args.next()) else {
        return Err("usage: pull_progress STORE REFERENCE".into());
    };
    let rrun = rrun::Rrun::open(PathBuf::from(store))?;

    let bytes = Arc::new(AtomicU64::new(0));
    let counted = bytes.clone();
    let mut options = rrun::PullOptions::default();
    options.progress = Some(rrun::ProgressFn::new(move |event| {
        use rrun::PullEvent;
        // called from the pulling threads: layers may interleave
        match event {
            PullEvent::Resolved { image, layers, .. } => println!("resolved {image}: {layers} layers"),
            PullEvent::LayerStarted { digest, size } => println!("layer {digest}: {} bytes", size.unwrap_or(0)),
            PullEvent::Bytes { .. } => {
                counted.fetch_add(1, Ordering::Relaxed);
            }
            PullEvent::LayerDone { digest } => println!("layer {digest}: done"),
            PullEvent::Committed { image, id } => println!("committed {image} as {id}"),
            _ => {}
        }
    }));
    let client = rrun::ClientOptions::default();
    let image = rrun.pull(&reference, &client, &options)?;
    println!("pulled {} ({} byte reports)", image.record.manifest, bytes.load(Ordering::Relaxed));
    Ok(())
}
