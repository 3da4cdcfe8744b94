//! The pull display: a line per layer with bytes and rate, redrawn on a
//! terminal while a pull runs, fed by the library's [`PullEvent`]s.

use rrun::PullEvent;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
    fn progress_follows_the_events() {
        let p = Progress::new();
        p.observe(&PullEvent::LayerStarted { digest: "sha256:0123456789abcdef".into(), size: Some(2_000_000) });
        p.observe(&PullEvent::Bytes { digest: "sha256:0123456789abcdef".into(), done: 1_000_000, total: None });
        assert!(p.render()[0].starts_with("0123456789ab"), "{:?}", p.render());
        assert!(p.render()[0].contains("1.0 MB / 2.0 MB"), "{:?}", p.render());
        p.observe(&PullEvent::LayerDone { digest: "sha256:0123456789abcdef".into() });
        assert!(p.render()[0].ends_with("done"), "{:?}", p.render());
    }
}
