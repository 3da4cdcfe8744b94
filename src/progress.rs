//! Progress of long transfers (pulls): typed [`PullEvent`]s handed to a
//! callback the embedder gives ([`ProgressFn`]); the library itself prints
//! nothing (the `rrun` command draws them as a line per layer).

use std::io::Read;
use std::sync::Arc;

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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn counting_reports_bytes() {
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
    }
}
