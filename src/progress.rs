//! Progress of long transfers (pulls): typed [`PullEvent`]s handed to a
//! callback the embedder gives ([`ProgressFn`]); the library itself prints
//! nothing. [`Progress`] and [`show_while`] are one user of them: a line per
//! layer with bytes and rate, redrawn on a terminal (the CLI's display).

use std::io::{IsTerminal, Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What a pull is doing, step by step, as its progress callback hears it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PullEvent {
    /// The reference resolved to this manifest, of `layers` layers.
    Resolved {
        /// The image as named.
        image: String,
        /// The manifest's digest.
        manifest: String,
        /// How many layers it has.
        layers: usize,
    },
    /// A layer's download (or its unpacking from a blob already here) began.
    LayerStarted {
        /// The layer's blob digest.
        digest: String,
        /// Its compressed size, when the manifest says.
        size: Option<u64>,
    },
    /// Bytes of a layer read so far.
    Bytes {
        /// The layer's blob digest.
        digest: String,
        /// Bytes read.
        done: u64,
        /// Its compressed size, when known.
        total: Option<u64>,
    },
    /// A layer was downloaded, verified against its digest and unpacked.
    LayerDone {
        /// The layer's blob digest.
        digest: String,
    },
    /// The image is in the store under its names.
    Committed {
        /// The image as named.
        image: String,
        /// Its ID (config digest).
        id: String,
    },
}

/// The embedder's progress callback ([`crate::registry::PullOptions::progress`]):
/// called from the pulling threads, so it must be quick and thread-safe.
#[derive(Clone)]
pub struct ProgressFn(pub Arc<dyn Fn(&PullEvent) + Send + Sync>);

impl ProgressFn {
    /// Wraps a closure.
    pub fn new(f: impl Fn(&PullEvent) + Send + Sync + 'static) -> ProgressFn {
        ProgressFn(Arc::new(f))
    }

    /// Hands it one event.
    pub fn emit(&self, event: &PullEvent) {
        (self.0)(event)
    }
}

impl std::fmt::Debug for ProgressFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProgressFn(..)")
    }
}

/// Shared counters, one per item (layer), drawn by [`show_while`]; fed by
/// [`PullEvent`]s ([`Progress::observe`]).
#[derive(Default)]
pub struct Progress {
    items: Mutex<Vec<Arc<Item>>>,
}

/// One layer's counters.
pub struct Item {
    label: String,
    total: Option<u64>,
    done: AtomicU64,
    finished: AtomicBool,
    started: Instant,
}

impl Progress {
    /// No items yet.
    pub fn new() -> Arc<Progress> {
        Arc::new(Progress::default())
    }

    fn add(&self, label: &str, total: Option<u64>) -> Arc<Item> {
        let item = Arc::new(Item {
            label: label.to_string(),
            total,
            done: AtomicU64::new(0),
            finished: AtomicBool::new(false),
            started: Instant::now(),
        });
        self.items.lock().expect("progress lock").push(item.clone());
        item
    }

    fn item(&self, digest: &str) -> Option<Arc<Item>> {
        self.items.lock().expect("progress lock").iter().find(|i| i.label == label(digest)).cloned()
    }

    /// Updates the counters from one event.
    pub fn observe(&self, event: &PullEvent) {
        match event {
            PullEvent::LayerStarted { digest, size } => {
                self.add(&label(digest), *size);
            }
            PullEvent::Bytes { digest, done, .. } => {
                if let Some(i) = self.item(digest) {
                    i.done.store(*done, Ordering::Relaxed);
                }
            }
            PullEvent::LayerDone { digest } => {
                if let Some(i) = self.item(digest) {
                    i.finished.store(true, Ordering::Relaxed);
                }
            }
            _ => {}
        }
    }

    fn render(&self) -> Vec<String> {
        self.items
            .lock()
            .expect("progress lock")
            .iter()
            .map(|i| {
                let done = i.done.load(Ordering::Relaxed);
                let secs = i.started.elapsed().as_secs_f64().max(0.001);
                let rate = done as f64 / secs;
                let status = if i.finished.load(Ordering::Relaxed) { "done" } else { "" };
                match i.total {
                    Some(t) => {
                        format!("{:<20} {:>9} / {:<9} {:>9}/s {status}", i.label, mb(done), mb(t), mb(rate as u64))
                    }
                    None => format!("{:<20} {:>9} {:>9}/s {status}", i.label, mb(done), mb(rate as u64)),
                }
            })
            .collect()
    }
}

/// A layer as its line shows it: its digest, shortened as Docker shows it.
fn label(digest: &str) -> String {
    let hex = digest.split_once(':').map_or(digest, |(_, h)| h);
    hex.chars().take(12).collect()
}

fn mb(b: u64) -> String {
    format!("{:.1} MB", b as f64 / 1e6)
}

/// Counts the bytes of a layer read through it, reporting them as [`PullEvent::Bytes`].
pub(crate) struct Counting<R> {
    inner: R,
    sink: ProgressFn,
    digest: String,
    total: Option<u64>,
    done: u64,
    reported: u64,
}

impl<R> Counting<R> {
    /// Counts what is read from `inner`, a layer of `total` bytes.
    pub(crate) fn new(inner: R, sink: ProgressFn, digest: &str, total: Option<u64>) -> Self {
        Counting { inner, sink, digest: digest.to_string(), total, done: 0, reported: 0 }
    }
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.done += n as u64;
        // an event per 64 KiB read, and at the end
        if n == 0 || self.done - self.reported >= 64 << 10 {
            self.reported = self.done;
            let event = PullEvent::Bytes { digest: self.digest.clone(), done: self.done, total: self.total };
            self.sink.emit(&event);
        }
        Ok(n)
    }
}

/// Redraws `progress` on stderr every 200 ms while `f` runs (the CLI's pull display), when stderr is a
/// terminal and `quiet` is off; otherwise just runs `f`. The drawing thread is
/// joined before returning.
pub fn show_while<T>(progress: &Arc<Progress>, quiet: bool, f: impl FnOnce() -> T) -> T {
    if quiet || !std::io::stderr().is_terminal() {
        return f();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let drawer = {
        let (p, stop) = (progress.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut drawn = 0;
            loop {
                let stopping = stop.load(Ordering::Relaxed);
                let lines = p.render();
                let mut err = std::io::stderr().lock();
                if drawn > 0 {
                    let _ = write!(err, "\x1b[{drawn}A");
                }
                for l in &lines {
                    let _ = writeln!(err, "\x1b[2K{l}");
                }
                drawn = lines.len();
                if stopping {
                    break;
                }
                drop(err);
                std::thread::sleep(Duration::from_millis(200));
            }
        })
    };
    let out = f();
    stop.store(true, Ordering::Relaxed);
    let _ = drawer.join();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counting_reports_bytes_and_progress_follows_the_events() {
        let events = Arc::new(Mutex::new(Vec::new()));
        let seen = events.clone();
        let sink = ProgressFn::new(move |e| seen.lock().unwrap().push(e.clone()));
        let data = vec![7u8; 200 << 10];
        let mut r = Counting::new(&data[..], sink, "sha256:0123456789abcdef", Some(data.len() as u64));
        std::io::copy(&mut r, &mut std::io::sink()).unwrap();
        let events = events.lock().unwrap();
        let last = events.last().unwrap();
        let total = Some(data.len() as u64);
        assert_eq!(*last, PullEvent::Bytes { digest: "sha256:0123456789abcdef".into(), done: 200 << 10, total });
        assert!(events.len() >= 3, "{} events", events.len());

        let p = Progress::new();
        p.observe(&PullEvent::LayerStarted { digest: "sha256:0123456789abcdef".into(), size: Some(2_000_000) });
        p.observe(&PullEvent::Bytes { digest: "sha256:0123456789abcdef".into(), done: 1_000_000, total: None });
        assert!(p.render()[0].starts_with("0123456789ab"), "{:?}", p.render());
        assert!(p.render()[0].contains("1.0 MB / 2.0 MB"), "{:?}", p.render());
        p.observe(&PullEvent::LayerDone { digest: "sha256:0123456789abcdef".into() });
        assert!(p.render()[0].ends_with("done"), "{:?}", p.render());
    }
}
