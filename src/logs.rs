//! Container logs: what a detached container writes, kept as Docker's
//! json-file driver keeps it — one JSON object per line with the text, the
//! stream it came from and when — in `containers/<id>/container.log`, rotated
//! to `container.log.1` when it passes a size limit.

use crate::launcher::Stream;
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Seek, SeekFrom, Write};
use std::marker::PhantomData;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// One line of output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    /// The text, with its newline (none on a line cut at the length limit or at exit).
    pub log: String,
    /// The stream it was written to.
    pub stream: Stream,
    /// RFC 3339 with nanoseconds, UTC.
    pub time: String,
}

/// The default size at which a log is rotated (`--log-opt max-size`).
pub const DEFAULT_MAX_SIZE: u64 = 10 << 20;
/// A line longer than this is written in pieces, as Docker does at 16 KiB.
const MAX_LINE: usize = 16 * 1024;

/// The rotated predecessor of a log file.
fn rotated(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".1");
    PathBuf::from(p)
}

/// Appends a container's output to its log, a line at a time; the lines
/// of one chunk of output are written together.
pub struct LogWriter {
    path: PathBuf,
    file: File,
    size: u64,
    max_size: u64,
    /// Unfinished lines of stdout and stderr.
    partial: [Vec<u8>; 2],
    /// Encoded entries not yet written.
    pending: Vec<u8>,
}

/// A [`LogEntry`] as written, borrowing its parts.
#[derive(Serialize)]
struct EntryRef<'a> {
    log: &'a str,
    stream: Stream,
    time: &'a str,
}

impl LogWriter {
    /// Opens (appending to) the log at `path`; `max_size` 0 never rotates.
    pub fn open(path: &Path, max_size: u64) -> io::Result<LogWriter> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let size = file.metadata()?.len();
        Ok(LogWriter {
            path: path.to_path_buf(),
            file,
            size,
            max_size,
            partial: [Vec::new(), Vec::new()],
            pending: Vec::new(),
        })
    }

    /// Takes a chunk of output; its complete lines are written at once, with
    /// the time it was read.
    pub fn write(&mut self, stream: Stream, mut bytes: &[u8]) -> io::Result<()> {
        let time = crate::timespec::now_rfc3339();
        let slot = stream as usize;
        let result = (|| {
            while let Some(nl) = bytes.iter().position(|b| *b == b'\n') {
                if self.partial[slot].is_empty() {
                    self.emit(stream, &bytes[..=nl], &time)?;
                } else {
                    let mut line = std::mem::take(&mut self.partial[slot]);
                    line.extend_from_slice(&bytes[..=nl]);
                    self.emit(stream, &line, &time)?;
                }
                bytes = &bytes[nl + 1..];
            }
            self.partial[slot].extend_from_slice(bytes);
            if self.partial[slot].len() >= MAX_LINE {
                let line = std::mem::take(&mut self.partial[slot]);
                self.emit(stream, &line, &time)?;
            }
            Ok(())
        })();
        result.and(self.write_pending())
    }

    /// Writes what is left of unfinished lines (the container exited).
    pub fn flush_partial(&mut self) -> io::Result<()> {
        let time = crate::timespec::now_rfc3339();
        for stream in [Stream::Stdout, Stream::Stderr] {
            let line = std::mem::take(&mut self.partial[stream as usize]);
            if !line.is_empty() {
                self.emit(stream, &line, &time)?;
            }
        }
        self.write_pending()
    }

    fn emit(&mut self, stream: Stream, line: &[u8], time: &str) -> io::Result<()> {
        let start = self.pending.len();
        let entry = EntryRef { log: &String::from_utf8_lossy(line), stream, time };
        serde_json::to_writer(&mut self.pending, &entry).expect("log entry serializes");
        self.pending.push(b'\n');
        let len = (self.pending.len() - start) as u64;
        if self.max_size > 0 && self.size > 0 && self.size + len > self.max_size {
            // the entries before this one go to the file being rotated away
            let this = self.pending.split_off(start);
            self.write_pending()?;
            self.rotate()?;
            self.pending = this;
        }
        self.size += len;
        Ok(())
    }

    fn write_pending(&mut self) -> io::Result<()> {
        let result = self.file.write_all(&self.pending);
        self.pending.clear();
        result
    }

    /// `container.log` becomes `container.log.1` (replacing the older one).
    fn rotate(&mut self) -> io::Result<()> {
        std::fs::rename(&self.path, rotated(&self.path))?;
        self.file = OpenOptions::new().create(true).append(true).open(&self.path)?;
        self.size = 0;
        Ok(())
    }
}

/// Every complete entry of the json-lines file at `path` (its rotated part
/// first), the last `tail` only when given: a container's log, the event journal.
pub fn read<T: serde::de::DeserializeOwned>(path: &Path, tail: Option<usize>) -> io::Result<Vec<T>> {
    let mut out = Vec::new();
    for p in [rotated(path), path.to_path_buf()] {
        match File::open(&p) {
            Ok(f) => {
                parse_into(&mut BufReader::new(f), &mut out)?;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    if let Some(n) = tail {
        out.drain(..out.len().saturating_sub(n));
    }
    Ok(out)
}

fn parse_into<T: serde::de::DeserializeOwned>(r: &mut impl BufRead, out: &mut Vec<T>) -> io::Result<u64> {
    let mut consumed = 0;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = r.read_until(b'\n', &mut line)?;
        // a line still being written has no newline yet: leave it for the next read
        if n == 0 || line.last() != Some(&b'\n') {
            return Ok(consumed);
        }
        consumed += n as u64;
        if let Ok(e) = serde_json::from_slice::<T>(&line) {
            out.push(e);
        }
    }
}

/// Every complete entry of the log (the last `tail` only when given), and a
/// follower that goes on exactly after them: a rotation while they are read
/// neither loses nor repeats an entry.
pub fn read_and_follow<T: serde::de::DeserializeOwned>(
    path: &Path,
    tail: Option<usize>,
) -> io::Result<(Vec<T>, Follower<T>)> {
    loop {
        let current = match File::open(path) {
            Ok(f) => Some(f),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        let inode = match &current {
            Some(f) => f.metadata()?.ino(),
            None => 0,
        };
        let mut out = Vec::new();
        match File::open(rotated(path)) {
            // rotated after we opened it: what we hold is the rotated file now; again
            Ok(f) if current.is_some() && f.metadata()?.ino() == inode => continue,
            Ok(f) => {
                parse_into(&mut BufReader::new(f), &mut out)?;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let mut follower =
            Follower { path: path.to_path_buf(), file: current, inode, offset: 0, _entries: PhantomData };
        follower.read_new(&mut out)?;
        if let Some(n) = tail {
            out.drain(..out.len().saturating_sub(n));
        }
        return Ok((out, follower));
    }
}

/// Follows a json-lines file as it grows (`logs -f`, `events`), across rotations.
pub struct Follower<T = LogEntry> {
    path: PathBuf,
    file: Option<File>,
    inode: u64,
    offset: u64,
    _entries: PhantomData<fn() -> T>,
}

impl<T: serde::de::DeserializeOwned> Follower<T> {
    #[cfg(test)]
    /// Starts at the current end of the file: [`read`] gave what came before.
    pub fn from_end(path: &Path) -> Follower<T> {
        let mut f = Follower { path: path.to_path_buf(), file: None, inode: 0, offset: 0, _entries: PhantomData };
        if let Ok(file) = File::open(path) {
            let meta = file.metadata().ok();
            f.inode = meta.as_ref().map(|m| m.ino()).unwrap_or(0);
            // only whole lines were read before: start after the last newline
            f.offset = last_line_end(&file, meta.map(|m| m.len()).unwrap_or(0));
            f.file = Some(file);
        }
        f
    }

    /// The entries written since the last call.
    pub fn poll(&mut self) -> io::Result<Vec<T>> {
        let mut out = Vec::new();
        self.read_new(&mut out)?;
        // rotated: the old file is finished (read its rest above); go on with the new one
        let current = std::fs::metadata(&self.path).map(|m| m.ino()).unwrap_or(self.inode);
        if current != self.inode || self.file.is_none() {
            if let Ok(file) = File::open(&self.path) {
                self.inode = file.metadata()?.ino();
                self.file = Some(file);
                self.offset = 0;
                self.read_new(&mut out)?;
            }
        }
        Ok(out)
    }

    fn read_new(&mut self, out: &mut Vec<T>) -> io::Result<()> {
        if let Some(file) = &mut self.file {
            file.seek(SeekFrom::Start(self.offset))?;
            self.offset += parse_into(&mut BufReader::new(file), out)?;
        }
        Ok(())
    }
}

#[cfg(test)]
fn last_line_end(file: &File, len: u64) -> u64 {
    use std::io::Read;
    let start = len.saturating_sub(MAX_LINE as u64 * 8);
    let mut tail = Vec::new();
    let mut f = file;
    if f.seek(SeekFrom::Start(start)).is_err() || f.take(len - start).read_to_end(&mut tail).is_err() {
        return len;
    }
    tail.iter().rposition(|b| *b == b'\n').map(|i| start + i as u64 + 1).unwrap_or(start)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `container.log` in a new temporary directory, removed when the returned guard drops.
    fn tmp(name: &str) -> (PathBuf, tempfile::TempDir) {
        let d = tempfile::Builder::new().prefix(&format!("rrun-logs-{name}-")).tempdir().unwrap();
        (d.path().join("container.log"), d)
    }

    #[test]
    fn lines_are_split_tagged_and_kept_in_order() {
        let (path, _tmp) = tmp("lines");
        let mut w = LogWriter::open(&path, 0).unwrap();
        w.write(Stream::Stdout, b"hel").unwrap();
        w.write(Stream::Stderr, b"oops\n").unwrap();
        w.write(Stream::Stdout, b"lo\nworld\nno newline").unwrap();
        w.flush_partial().unwrap();
        let got: Vec<(String, Stream)> =
            read::<LogEntry>(&path, None).unwrap().into_iter().map(|e| (e.log, e.stream)).collect();
        assert_eq!(
            got,
            vec![
                ("oops\n".into(), Stream::Stderr),
                ("hello\n".into(), Stream::Stdout),
                ("world\n".into(), Stream::Stdout),
                ("no newline".into(), Stream::Stdout)
            ]
        );
        assert_eq!(read::<LogEntry>(&path, Some(2)).unwrap().len(), 2);
    }

    #[test]
    fn rotation_keeps_one_old_file_and_following_crosses_it() {
        let (path, _tmp) = tmp("rotate");
        let mut w = LogWriter::open(&path, 400).unwrap();
        let mut follow = Follower::<LogEntry>::from_end(&path);
        let mut seen = Vec::new();
        for i in 0..40 {
            w.write(Stream::Stdout, format!("line {i}\n").as_bytes()).unwrap();
            if i % 3 == 0 {
                seen.extend(follow.poll().unwrap().into_iter().map(|e| e.log));
            }
        }
        seen.extend(follow.poll().unwrap().into_iter().map(|e| e.log));
        assert!(std::fs::metadata(&path).unwrap().len() <= 400);
        assert!(rotated(&path).exists());
        let kept = read::<LogEntry>(&path, None).unwrap();
        assert_eq!(kept.last().unwrap().log, "line 39\n");
        assert!(kept.len() < 40, "older lines were rotated away");
        let want: Vec<String> = (0..40).map(|i| format!("line {i}\n")).collect();
        assert_eq!(seen, want, "a follower polling often enough sees every line once");
    }

    #[test]
    fn reading_then_following_gives_each_entry_once() {
        let (path, _tmp) = tmp("readfollow");
        let mut w = LogWriter::open(&path, 300).unwrap();
        for i in 0..8 {
            w.write(Stream::Stdout, format!("early {i}\n").as_bytes()).unwrap();
        }
        assert!(rotated(&path).exists(), "the early lines span a rotation");
        let (past, mut follower) = read_and_follow::<LogEntry>(&path, None).unwrap();
        let (tail, _) = read_and_follow::<LogEntry>(&path, Some(2)).unwrap();
        assert_eq!(tail.iter().map(|e| e.log.as_str()).collect::<Vec<_>>(), ["early 6\n", "early 7\n"]);
        w.write(Stream::Stdout, b"late 0\nlate 1\n").unwrap();
        let seen: Vec<String> = past.into_iter().chain(follower.poll().unwrap()).map(|e| e.log).collect();
        let early = seen.iter().filter(|l| l.starts_with("early")).count();
        assert_eq!(&seen[early..], ["late 0\n", "late 1\n"], "{seen:?}");
        assert_eq!(seen.iter().collect::<std::collections::HashSet<_>>().len(), seen.len(), "none twice: {seen:?}");
        let (none, _) = read_and_follow::<LogEntry>(&path.with_file_name("missing.log"), None).unwrap();
        assert!(none.is_empty());
    }

    #[test]
    fn long_lines_are_cut() {
        let (path, _tmp) = tmp("long");
        let mut w = LogWriter::open(&path, 0).unwrap();
        w.write(Stream::Stdout, &vec![b'x'; MAX_LINE + 10]).unwrap();
        w.write(Stream::Stdout, b"\n").unwrap();
        let e = read::<LogEntry>(&path, None).unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!((e[0].log.len(), e[1].log.as_str()), (MAX_LINE + 10, "\n"), "the long line ends an entry by itself");
    }
}
