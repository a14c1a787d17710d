//! Following log files.
//!
//! One thread follows every file of every jail, so a file several jails watch is
//! read once. It wakes on inotify events for the files' directories (or every
//! [`TICK`] when polling, and to notice what inotify cannot see), reads what was
//! appended in large blocks, and hands the complete lines on as [`LineBlock`](crate::LineBlock)s
//! from a pool of [`BLOCKS_IN_FLIGHT`]: when the consumer is slower, reading waits
//! and the file holds the rest. Rotation is handled both ways: when the path names
//! a new file, the rest of the old one is read first; when the file shrinks or its
//! first line changes (copytruncate), it is read again from the start.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender, TryRecvError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ferroban_db::FilePosition;
use inotify::{EventMask, Inotify, WatchMask};

use crate::block::BlockPool;
use crate::{Encoding, Sink, SourceEvent};

/// How often files are looked at without an inotify event.
pub const TICK: Duration = Duration::from_millis(250);
/// Most bytes read from one file into one block, before other files get their
/// turn: large enough that reading costs little per line, small enough that the
/// blocks in flight stay a small part of the daemon's memory.
const READ_CHUNK: usize = 128 * 1024;
/// Blocks read and not yet done with by the consumer, at most: one being read, one
/// being matched, and some slack between them.
pub const BLOCKS_IN_FLIGHT: usize = 4;
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
    /// Set when stopping, for a thread waiting for a block to be given back.
    stopping: Arc<AtomicBool>,
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
        let stopping = Arc::new(AtomicBool::new(false));
        let output = Output {
            pool: BlockPool::new(BLOCKS_IN_FLIGHT),
            sink,
            stopping: stopping.clone(),
        };
        let thread = std::thread::Builder::new()
            .name("ferroban-files".into())
            .spawn(move || Follower::new(watches, positions, output).run(rx))
            .ok();
        FileWatcher {
            control,
            stopping,
            thread,
        }
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
        self.stopping.store(true, Ordering::Relaxed);
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

/// The position of byte `offset` of the file at `path` as the tailer records it,
/// for a position learnt elsewhere (Fail2ban's database); never past the file's
/// end. `None` when the file cannot be read.
pub fn position_at(path: &Path, offset: u64) -> Option<FilePosition> {
    let mut file = File::open(path).ok()?;
    let len = file.metadata().ok()?.len();
    Some(FilePosition {
        path: path.display().to_string(),
        first_line_hash: first_line_hash(&mut file),
        offset: offset.min(len),
    })
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
    /// Why the last read failed, if it did: told once, not at every tick.
    read_error: Option<String>,
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

    /// Read what was appended, at most [`READ_CHUNK`] bytes, and add its complete
    /// lines to `block`, each followed by `'\n'`. The bytes after the last line end
    /// wait for the rest of their line (cut into lines of [`MAX_LINE`] when longer).
    /// Returns whether more is left to read.
    fn read_new(&mut self, block: &mut Vec<u8>) -> std::io::Result<bool> {
        let Some(f) = self.file.as_mut() else {
            return Ok(false);
        };
        // Most wake-ups are for other files of the directory: nothing new here.
        let available = f.metadata()?.len().saturating_sub(self.offset);
        if available == 0 {
            return Ok(false);
        }
        let want = (available as usize).min(READ_CHUNK);
        let start = block.len();
        // Room for the longest unfinished line and a chunk, made once: a pooled
        // buffer keeps its size, and is not copied into a larger one when the
        // line carried over is longer than the last one. Exactly: doubling would
        // keep twice it.
        block.reserve_exact((MAX_LINE + READ_CHUNK).saturating_sub(start));
        block.extend_from_slice(&self.partial);
        block.reserve_exact(want);
        // Straight into the buffer's spare room, which is never zeroed first.
        let filled = match f
            .seek(SeekFrom::Start(self.offset))
            .and_then(|_| (&*f).take(want as u64).read_to_end(block))
        {
            Ok(n) => n,
            Err(e) => {
                block.truncate(start);
                return Err(e);
            }
        };
        self.offset += filled as u64;
        if self.first_hash == 0 && filled > 0 {
            self.first_hash = first_line_hash(f);
        }
        let mut end = memchr::memrchr(b'\n', &block[start..]).map_or(start, |i| start + i + 1);
        while block.len() - end > MAX_LINE {
            block.insert(end + MAX_LINE, b'\n');
            end += MAX_LINE + 1;
        }
        self.partial.clear();
        self.partial.extend_from_slice(&block[end..]);
        block.truncate(end);
        Ok(filled == READ_CHUNK)
    }

    /// Add the unfinished last line to `block` as a line of its own: the file was
    /// rotated away, and nothing more will be written to it.
    fn finish_line(&mut self, block: &mut Vec<u8>) {
        if !self.partial.is_empty() {
            block.append(&mut self.partial);
            block.push(b'\n');
        }
    }

    /// Look at the path and read: follow rotation, truncation and appends. Returns
    /// whether more is left to read.
    fn check(&mut self, out: &mut Output) -> Result<bool, Stopped> {
        let meta = match std::fs::metadata(&self.path) {
            Ok(m) => m,
            Err(_) => {
                // Moved away and not recreated yet: finish the old file.
                out.read(self)?;
                return Ok(false);
            }
        };
        if self.file.is_none() || self.id != (meta.dev(), meta.ino()) {
            if self.file.is_some() {
                // Rotated by rename: the old file's last lines first.
                while out.read(self)? {}
                out.finish_line(self)?;
            }
            if let Err(e) = self.open(None) {
                self.file = None;
                out.warn(format!("cannot open {}: {e}", self.path.display()))?;
                return Ok(false);
            }
        } else if meta.len() == self.offset && modified(&meta) == self.modified {
            // The same file, untouched: most wake-ups are for another file of the
            // directory, and then nothing is read at all. (A copytruncate rewrite to
            // the same length shows in the modification time.)
            return Ok(false);
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
        out.read(self)
    }
}

/// The reader stops: told to, or nobody takes its events any more.
struct Stopped;

/// Where lines go: blocks from the pool, filled by a file, handed to the sink.
struct Output {
    pool: BlockPool,
    sink: Sink,
    stopping: Arc<AtomicBool>,
}

impl Output {
    /// A buffer from the pool, waiting for one when all are in flight.
    fn buffer(&mut self) -> Result<Vec<u8>, Stopped> {
        let stopping = &self.stopping;
        self.pool
            .take(TICK, || stopping.load(Ordering::Relaxed))
            .ok_or(Stopped)
    }

    /// Read what `file` has new and hand its lines on. Returns whether more is left.
    fn read(&mut self, file: &mut Tailed) -> Result<bool, Stopped> {
        let mut bytes = self.buffer()?;
        let read = file.read_new(&mut bytes);
        self.hand_on(file, bytes)?;
        match read {
            Ok(more) => {
                file.read_error = None;
                Ok(more)
            }
            // Each tick tries again; the same failure is told only once.
            Err(e) if file.read_error.as_deref() == Some(&e.to_string()) => Ok(false),
            Err(e) => {
                file.read_error = Some(e.to_string());
                self.warn(format!(
                    "cannot read {}: {e} (said once until it changes)",
                    file.path.display()
                ))
                .map(|()| false)
            }
        }
    }

    /// Hand on the unfinished last line of `file`, which was rotated away.
    fn finish_line(&mut self, file: &mut Tailed) -> Result<(), Stopped> {
        let mut bytes = self.buffer()?;
        file.finish_line(&mut bytes);
        self.hand_on(file, bytes)
    }

    /// Hand `bytes` (complete lines of `file`) on as a block; an empty buffer goes
    /// straight back to the pool.
    fn hand_on(&mut self, file: &Tailed, bytes: Vec<u8>) -> Result<(), Stopped> {
        if bytes.is_empty() {
            self.pool.give_back(bytes);
            return Ok(());
        }
        self.send(SourceEvent::Lines {
            path: file.path.clone(),
            lines: self.pool.block(bytes, file.encoding),
            position: file.position(),
        })
    }

    fn warn(&mut self, warning: String) -> Result<(), Stopped> {
        self.send(SourceEvent::Warning(warning))
    }

    fn send(&mut self, event: SourceEvent) -> Result<(), Stopped> {
        if (self.sink)(event) {
            Ok(())
        } else {
            Err(Stopped)
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
    output: Output,
    inotify: Option<Inotify>,
    watched_dirs: HashSet<PathBuf>,
}

impl Follower {
    fn new(watches: Vec<Watch>, resume: HashMap<String, FilePosition>, output: Output) -> Follower {
        Follower {
            watches,
            files: Vec::new(),
            resume,
            output,
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
                read_error: None,
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
            for file in &mut self.files {
                match file.check(&mut self.output) {
                    Ok(m) => more |= m,
                    Err(Stopped) => return,
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
                got.extend(lines.lines().map(String::from));
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

    /// Stop following and remove the test's directory.
    fn finish(w: FileWatcher, d: &Path) {
        w.stop();
        std::fs::remove_dir_all(d).ok();
    }

    /// A new directory `tag` whose `a.log` starts with `text`, followed from its
    /// start: (the directory, the log, the watcher, its events).
    fn follow_new(tag: &str, text: &str) -> (PathBuf, PathBuf, FileWatcher, Receiver<SourceEvent>) {
        let d = tempdir(tag);
        let log = d.join("a.log");
        append(&log, text);
        let (w, rx) = watcher(&d, "a.log", HashMap::new());
        (d, log, w, rx)
    }

    fn tempdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("ferroban-files-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// A path that cannot be read (here a directory: each read fails with EISDIR)
    /// is tried at every tick, but its failure is told once, not four times a second.
    #[test]
    fn a_read_that_keeps_failing_is_told_once() {
        let d = tempdir("unreadable");
        std::fs::create_dir_all(d.join("a.log")).unwrap();
        let (w, rx) = watcher(&d, "a.log", HashMap::new());
        let mut warnings = Vec::new();
        let until = std::time::Instant::now() + Duration::from_millis(1500);
        while let Some(left) = until.checked_duration_since(std::time::Instant::now()) {
            if let Ok(SourceEvent::Warning(w)) = rx.recv_timeout(left) {
                warnings.push(w);
            }
        }
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("Is a directory"), "{warnings:?}");
        finish(w, &d);
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
        finish(w, &d);
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
        finish(w, &d);
    }

    #[test]
    fn a_slow_consumer_holds_the_reader_back_and_loses_no_line() {
        let lines: Vec<String> = (0..60_000)
            .map(|i| format!("line {i:06} {}", "x".repeat(40)))
            .collect();
        let text = lines.join("\n") + "\n";
        assert!(text.len() > READ_CHUNK * (BLOCKS_IN_FLIGHT + 2));
        let (d, _, w, rx) = follow_new("slow", &text);
        // Nothing is dropped: every block is still held here.
        let mut held = Vec::new();
        while let Ok(event) = rx.recv_timeout(Duration::from_millis(500)) {
            held.push(event);
        }
        assert_eq!(
            held.len(),
            BLOCKS_IN_FLIGHT,
            "the reader waits while all its blocks are held"
        );
        let mut got: Vec<String> = Vec::new();
        for event in held.drain(..) {
            if let SourceEvent::Lines { lines, .. } = event {
                got.extend(lines.lines().map(String::from));
            }
        }
        got.extend(collect(&rx, lines.len() - got.len()));
        assert_eq!(got, lines, "every line once, in order");
        finish(w, &d);
    }

    #[test]
    fn an_unfinished_line_longer_than_the_limit_is_cut() {
        let whole = "w".repeat(MAX_LINE + 10);
        let (d, log, w, rx) = follow_new("long", &format!("{whole}\n"));
        assert_eq!(
            collect(&rx, 1),
            vec![whole.clone()],
            "a finished line is whole"
        );
        let unfinished = "u".repeat(2 * MAX_LINE + 5);
        append(&log, &unfinished);
        let got = collect(&rx, 2);
        assert_eq!(got, vec!["u".repeat(MAX_LINE), "u".repeat(MAX_LINE)]);
        append(&log, "\n");
        assert_eq!(
            collect(&rx, 1),
            vec!["uuuuu"],
            "the rest ends with its line"
        );
        finish(w, &d);
    }
}
