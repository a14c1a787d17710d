//! Following log files.
//!
//! One thread follows every file of every jail, so a file several jails watch is
//! read once. It wakes on inotify events for the files' directories (or every
//! [`TICK`] when polling, and to notice what inotify cannot see), reads what was
//! appended, and hands complete lines on. Rotation is handled both ways: when the
//! path names a new file, the rest of the old one is read first; when the file
//! shrinks or its first line changes (copytruncate), it is read again from the start.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, Receiver, Sender, TryRecvError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ferroban_db::FilePosition;
use inotify::{EventMask, Inotify, WatchMask};

use crate::{Encoding, Sink, SourceEvent};

/// How often files are looked at without an inotify event.
pub const TICK: Duration = Duration::from_millis(250);
/// Most bytes read from one file before other files get their turn.
const READ_CHUNK: usize = 1 << 20;
/// A line longer than this is cut (and the rest read as the next line).
const MAX_LINE: usize = 64 * 1024;

/// One `logpath` pattern to follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watch {
    /// A path or a glob.
    pub pattern: PathBuf,
    pub encoding: Encoding,
}

enum Control {
    SetWatches(Vec<Watch>),
    Stop,
}

/// The thread following files.
pub struct FileWatcher {
    control: Sender<Control>,
    thread: Option<JoinHandle<()>>,
}

impl FileWatcher {
    /// Start following `watches`, resuming files at `positions` (by path).
    pub fn start(
        watches: Vec<Watch>,
        positions: HashMap<String, FilePosition>,
        sink: Sink,
    ) -> FileWatcher {
        let (control, rx) = channel();
        let thread = std::thread::Builder::new()
            .name("ferroban-files".into())
            .spawn(move || Follower::new(watches, positions, sink).run(rx))
            .ok();
        FileWatcher { control, thread }
    }

    /// Follow a new set of patterns; files still matched keep their state.
    pub fn set_watches(&self, watches: Vec<Watch>) {
        let _ = self.control.send(Control::SetWatches(watches));
    }

    /// Stop and wait for the thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let _ = self.control.send(Control::Stop);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for FileWatcher {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The files a `logpath` pattern names now: the path itself, or the files a glob
/// matches.
pub fn expand(pattern: &Path) -> Vec<PathBuf> {
    let text = pattern.display().to_string();
    if !text.contains(['*', '?', '[']) {
        return vec![pattern.to_path_buf()];
    }
    glob::glob(&text)
        .map(|g| g.filter_map(Result::ok).filter(|p| p.is_file()).collect())
        .unwrap_or_default()
}

/// FNV-1a, to recognise a file by its first line.
fn hash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The hash of the first line of `file` (0 if it has no complete first line).
fn first_line_hash(file: &mut File) -> u64 {
    let mut buf = vec![0u8; 4096];
    let Ok(n) = read_at(file, 0, &mut buf) else {
        return 0;
    };
    match buf[..n].iter().position(|&b| b == b'\n') {
        Some(end) => hash(&buf[..end]),
        None if n == buf.len() => hash(&buf),
        None => 0,
    }
}

fn read_at(file: &mut File, offset: u64, buf: &mut [u8]) -> std::io::Result<usize> {
    use std::os::unix::fs::FileExt;
    file.read_at(buf, offset)
}

struct Tailed {
    path: PathBuf,
    encoding: Encoding,
    file: Option<File>,
    id: (u64, u64),
    /// Where the next read starts.
    offset: u64,
    first_hash: u64,
    /// Bytes of a line not finished yet.
    partial: Vec<u8>,
    /// Modification time at the last read (see `modified`).
    modified: i128,
}

impl Tailed {
    fn position(&self) -> FilePosition {
        FilePosition {
            path: self.path.display().to_string(),
            first_line_hash: self.first_hash,
            offset: self.offset - self.partial.len() as u64,
        }
    }

    /// Open the file at the path, resuming at `resume` if it is the same file.
    fn open(&mut self, resume: Option<&FilePosition>) -> std::io::Result<()> {
        let mut f = File::open(&self.path)?;
        let meta = f.metadata()?;
        self.id = (meta.dev(), meta.ino());
        self.first_hash = first_line_hash(&mut f);
        self.offset = match resume {
            Some(p) if p.first_line_hash == self.first_hash && p.offset <= meta.len() => p.offset,
            _ => 0,
        };
        self.partial.clear();
        self.file = Some(f);
        Ok(())
    }

    /// Read what was appended; complete lines go to `out`. Returns whether more is
    /// left to read.
    fn read_new(&mut self, out: &mut Vec<String>) -> std::io::Result<bool> {
        let Some(f) = self.file.as_mut() else {
            return Ok(false);
        };
        // Most wake-ups are for other files of the directory: nothing new here, and
        // then no buffer either.
        let available = f.metadata()?.len().saturating_sub(self.offset);
        if available == 0 {
            return Ok(false);
        }
        f.seek(SeekFrom::Start(self.offset))?;
        let mut buf = vec![0u8; (available as usize).min(READ_CHUNK)];
        let mut filled = 0;
        while filled < buf.len() {
            let n = f.read(&mut buf[filled..])?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        self.offset += filled as u64;
        if self.first_hash == 0 && filled > 0 {
            self.first_hash = first_line_hash(f);
        }
        let mut rest = &buf[..filled];
        while let Some(nl) = rest.iter().position(|&b| b == b'\n') {
            self.partial.extend_from_slice(&rest[..nl]);
            self.emit(out);
            rest = &rest[nl + 1..];
        }
        self.partial.extend_from_slice(rest);
        while self.partial.len() > MAX_LINE {
            let tail = self.partial.split_off(MAX_LINE);
            self.emit(out);
            self.partial = tail;
        }
        Ok(filled == READ_CHUNK)
    }

    fn emit(&mut self, out: &mut Vec<String>) {
        let mut line = std::mem::take(&mut self.partial);
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        out.push(self.encoding.decode(&line));
    }

    /// Look at the path and read: follow rotation, truncation and appends.
    fn check(&mut self, out: &mut Vec<String>, warn: &mut Vec<String>) -> bool {
        let meta = match std::fs::metadata(&self.path) {
            Ok(m) => m,
            Err(_) => {
                // Moved away and not recreated yet: finish the old file.
                let _ = self.read_new(out);
                return false;
            }
        };
        if self.file.is_none() || self.id != (meta.dev(), meta.ino()) {
            if self.file.is_some() {
                // Rotated by rename: the old file's last lines first.
                while let Ok(true) = self.read_new(out) {}
                let _ = self.read_new(out);
                if !self.partial.is_empty() {
                    self.emit(out);
                }
            }
            if let Err(e) = self.open(None) {
                warn.push(format!("cannot open {}: {e}", self.path.display()));
                self.file = None;
                return false;
            }
        } else if meta.len() == self.offset && modified(&meta) == self.modified {
            // The same file, untouched: most wake-ups are for another file of the
            // directory, and then nothing is read at all. (A copytruncate rewrite to
            // the same length shows in the modification time.)
            return false;
        } else if let Some(f) = self.file.as_mut() {
            // copytruncate: shorter than what was read, or another first line.
            let now_hash = if meta.len() > 0 {
                first_line_hash(f)
            } else {
                0
            };
            let rewritten = self.first_hash != 0 && now_hash != 0 && now_hash != self.first_hash;
            if meta.len() < self.offset || rewritten {
                self.offset = 0;
                self.partial.clear();
                self.first_hash = now_hash;
            }
        }
        self.modified = modified(&meta);
        match self.read_new(out) {
            Ok(more) => more,
            Err(e) => {
                warn.push(format!("cannot read {}: {e}", self.path.display()));
                false
            }
        }
    }
}

/// A file's modification time in nanoseconds.
fn modified(meta: &std::fs::Metadata) -> i128 {
    i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec())
}

struct Follower {
    watches: Vec<Watch>,
    files: Vec<Tailed>,
    resume: HashMap<String, FilePosition>,
    sink: Sink,
    inotify: Option<Inotify>,
    watched_dirs: HashSet<PathBuf>,
}

impl Follower {
    fn new(watches: Vec<Watch>, resume: HashMap<String, FilePosition>, sink: Sink) -> Follower {
        Follower {
            watches,
            files: Vec::new(),
            resume,
            sink,
            inotify: Inotify::init().ok(),
            watched_dirs: HashSet::new(),
        }
    }

    /// The files the patterns name now, with their encodings.
    fn expand(&self) -> Vec<(PathBuf, Encoding)> {
        let mut out: Vec<(PathBuf, Encoding)> = Vec::new();
        for w in &self.watches {
            for p in expand(&w.pattern) {
                if !out.iter().any(|(q, _)| *q == p) {
                    out.push((p, w.encoding));
                }
            }
        }
        out
    }

    /// Directories to watch: each pattern's deepest directory without a glob.
    fn watch_dirs(&mut self) {
        let Some(ino) = self.inotify.as_mut() else {
            return;
        };
        for w in &self.watches {
            let mut dir = w
                .pattern
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default();
            while dir.display().to_string().contains(['*', '?', '[']) {
                dir = dir.parent().map(Path::to_path_buf).unwrap_or_default();
            }
            if dir.as_os_str().is_empty() || self.watched_dirs.contains(&dir) || !dir.is_dir() {
                continue;
            }
            let mask = WatchMask::MODIFY
                | WatchMask::CREATE
                | WatchMask::MOVED_TO
                | WatchMask::MOVED_FROM
                | WatchMask::DELETE
                | WatchMask::CLOSE_WRITE
                | WatchMask::ATTRIB;
            if ino.watches().add(&dir, mask).is_ok() {
                self.watched_dirs.insert(dir);
            }
        }
    }

    fn sync_files(&mut self) {
        let wanted = self.expand();
        self.files
            .retain(|t| wanted.iter().any(|(p, _)| *p == t.path));
        for (path, encoding) in wanted {
            if self.files.iter().any(|t| t.path == path) || !path.exists() {
                continue;
            }
            let mut t = Tailed {
                path: path.clone(),
                encoding,
                file: None,
                id: (0, 0),
                offset: 0,
                first_hash: 0,
                partial: Vec::new(),
                modified: 0,
            };
            let resume = self.resume.remove(&path.display().to_string());
            if t.open(resume.as_ref()).is_ok() {
                self.files.push(t);
            }
        }
        self.watch_dirs();
    }

    /// Wait for an inotify event or the tick; returns whether a file was created,
    /// moved or deleted in a watched directory (then the globs are expanded again).
    fn wait(&mut self) -> bool {
        let Some(ino) = self.inotify.as_mut() else {
            std::thread::sleep(TICK);
            return false;
        };
        let mut pfd = libc::pollfd {
            fd: ino.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, for the duration of the call.
        let ready = unsafe { libc::poll(&mut pfd, 1, TICK.as_millis() as i32) };
        if ready <= 0 {
            return false;
        }
        let mut buf = [0u8; 8192];
        let appeared =
            EventMask::CREATE | EventMask::MOVED_TO | EventMask::MOVED_FROM | EventMask::DELETE;
        let mut changed = false;
        while let Ok(events) = ino.read_events(&mut buf) {
            let mut n = 0;
            for e in events {
                n += 1;
                changed |= e.mask.intersects(appeared);
            }
            if n == 0 {
                break;
            }
        }
        changed
    }

    fn run(mut self, control: Receiver<Control>) {
        self.sync_files();
        let mut last_sync = Instant::now();
        loop {
            match control.try_recv() {
                Ok(Control::SetWatches(w)) => {
                    for t in &self.files {
                        self.resume
                            .insert(t.path.display().to_string(), t.position());
                    }
                    self.files.clear();
                    self.watches = w;
                    self.sync_files();
                }
                Ok(Control::Stop) | Err(TryRecvError::Disconnected) => return,
                Err(TryRecvError::Empty) => {}
            }
            let mut more = false;
            for i in 0..self.files.len() {
                let mut lines = Vec::new();
                let mut warnings = Vec::new();
                more |= self.files[i].check(&mut lines, &mut warnings);
                for w in warnings {
                    if !(self.sink)(SourceEvent::Warning(w)) {
                        return;
                    }
                }
                if !lines.is_empty() {
                    let t = &self.files[i];
                    let event = SourceEvent::Lines {
                        path: t.path.clone(),
                        lines,
                        position: t.position(),
                    };
                    if !(self.sink)(event) {
                        return;
                    }
                }
            }
            if more {
                continue;
            }
            let files_changed = self.wait();
            if files_changed || last_sync.elapsed() >= TICK * 4 {
                self.sync_files();
                last_sync = Instant::now();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::mpsc::{sync_channel, Receiver};

    fn collect(rx: &Receiver<SourceEvent>, want: usize) -> Vec<String> {
        let mut got = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        while got.len() < want && Instant::now() < deadline {
            if let Ok(SourceEvent::Lines { lines, .. }) =
                rx.recv_timeout(Duration::from_millis(100))
            {
                got.extend(lines);
            }
        }
        got
    }

    fn append(path: &Path, text: &str) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    fn watcher(
        dir: &Path,
        pattern: &str,
        resume: HashMap<String, FilePosition>,
    ) -> (FileWatcher, Receiver<SourceEvent>) {
        let (tx, rx) = sync_channel(16);
        let w = FileWatcher::start(
            vec![Watch {
                pattern: dir.join(pattern),
                encoding: Encoding::Utf8,
            }],
            resume,
            Box::new(move |e| tx.send(e).is_ok()),
        );
        (w, rx)
    }

    fn tempdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("ferroban-files-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn appends_partial_lines_and_both_rotations() {
        let d = tempdir("rot");
        let log = d.join("a.log");
        append(&log, "one\ntw");
        let (w, rx) = watcher(&d, "a.log", HashMap::new());
        assert_eq!(collect(&rx, 1), vec!["one"]);
        append(&log, "o\r\nthree\n");
        assert_eq!(
            collect(&rx, 2),
            vec!["two", "three"],
            "a line is handed on when finished"
        );
        // rename and create: the old file's last line is not lost
        append(&log, "four\n");
        std::fs::rename(&log, d.join("a.log.1")).unwrap();
        append(&d.join("a.log.1"), "five\n");
        append(&log, "six\n");
        let got = collect(&rx, 3);
        assert!(
            got.contains(&"four".to_string()) && got.contains(&"six".to_string()),
            "{got:?}"
        );
        // copytruncate
        std::fs::write(&log, "").unwrap();
        append(&log, "seven\n");
        assert_eq!(collect(&rx, 1), vec!["seven"]);
        w.stop();
        std::fs::remove_dir_all(&d).ok();
    }

    #[test]
    fn globs_pick_up_new_files_and_resume_positions() {
        let d = tempdir("glob");
        append(&d.join("x.log"), "old\nnew\n");
        let mut resume = HashMap::new();
        let mut f = File::open(d.join("x.log")).unwrap();
        resume.insert(
            d.join("x.log").display().to_string(),
            FilePosition {
                path: String::new(),
                first_line_hash: first_line_hash(&mut f),
                offset: 4,
            },
        );
        let (w, rx) = watcher(&d, "*.log", resume);
        assert_eq!(collect(&rx, 1), vec!["new"], "resumes after what was read");
        append(&d.join("y.log"), "later\n");
        assert_eq!(collect(&rx, 1), vec!["later"]);
        w.stop();
        std::fs::remove_dir_all(&d).ok();
    }
}
