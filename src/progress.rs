//! Progress of long transfers (pulls, loads): one line per layer with bytes
//! and rate, redrawn on a terminal; nothing at all otherwise.

use std::io::{IsTerminal, Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Shared counters, one per item (layer).
#[derive(Default)]
pub struct Progress {
    items: Mutex<Vec<Arc<Item>>>,
}

pub struct Item {
    label: String,
    total: Option<u64>,
    done: AtomicU64,
    finished: AtomicBool,
    started: Instant,
}

impl Item {
    pub fn finish(&self) {
        self.finished.store(true, Ordering::Relaxed);
    }
}

impl Progress {
    pub fn new() -> Arc<Progress> {
        Arc::new(Progress::default())
    }

    pub fn add(&self, label: &str, total: Option<u64>) -> Arc<Item> {
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

fn mb(b: u64) -> String {
    format!("{:.1} MB", b as f64 / 1e6)
}

/// Counts bytes read into an item.
pub struct Counting<R> {
    inner: R,
    item: Arc<Item>,
}

impl<R> Counting<R> {
    pub fn new(inner: R, item: Arc<Item>) -> Self {
        Counting { inner, item }
    }
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.item.done.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Redraws `progress` on stderr every 200 ms while `f` runs, when stderr is a
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
