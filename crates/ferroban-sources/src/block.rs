//! Blocks of lines handed from the file reader to its consumer, and the pool they
//! come from.
//!
//! Owns the memory of lines in flight: a file is read in large blocks, each
//! decoded once as a whole (no string per line), and a block's buffer goes back to
//! the pool when the consumer drops it, to be filled again. The pool holds a fixed
//! number of buffers, so a reader faster than its consumer waits instead of
//! filling memory. It does not read files or decide where lines end.

use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

use crate::Encoding;

/// Complete lines of one file, decoded: each line is followed by `'\n'`.
pub struct LineBlock {
    text: String,
    /// Where the buffer goes when the block is dropped (none for a copy).
    home: Option<Sender<Vec<u8>>>,
}

impl LineBlock {
    /// The lines, each without its `'\n'` and a `'\r'` before it.
    pub fn lines(&self) -> impl Iterator<Item = &str> {
        self.ended_lines()
            .map(|line| line.strip_suffix('\n').unwrap_or(line))
    }

    /// The lines, each with the `'\n'` that ends it, where the consumer can search a
    /// line and its end in place (a filter's `$` sees the `'\n'`); a line ending in
    /// `"\r\n"` comes without both, as from [`LineBlock::lines`].
    pub fn ended_lines(&self) -> impl Iterator<Item = &str> {
        let mut start = 0;
        memchr::memchr_iter(b'\n', self.text.as_bytes()).map(move |end| {
            // Both ends are at '\n' bytes: character boundaries.
            let line = &self.text[start..=end];
            start = end + 1;
            line.strip_suffix("\r\n").unwrap_or(line)
        })
    }
}

impl Drop for LineBlock {
    fn drop(&mut self) {
        if let Some(home) = self.home.take() {
            // The pool is gone when the reader has stopped: then it is just freed.
            let _ = home.send(std::mem::take(&mut self.text).into_bytes());
        }
    }
}

impl Clone for LineBlock {
    /// A copy outside the pool (the pool's bound counts the original only).
    fn clone(&self) -> LineBlock {
        LineBlock {
            text: self.text.clone(),
            home: None,
        }
    }
}

impl PartialEq for LineBlock {
    fn eq(&self, other: &LineBlock) -> bool {
        self.text == other.text
    }
}

impl std::fmt::Debug for LineBlock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.lines()).finish()
    }
}

/// At most `size` buffers, each either being filled by the reader or held by the
/// consumer as a [`LineBlock`].
pub(crate) struct BlockPool {
    returned: Receiver<Vec<u8>>,
    home: Sender<Vec<u8>>,
    made: usize,
    size: usize,
}

impl BlockPool {
    pub(crate) fn new(size: usize) -> BlockPool {
        let (home, returned) = channel();
        BlockPool {
            returned,
            home,
            made: 0,
            size: size.max(1),
        }
    }

    /// An empty buffer: one given back, a new one while fewer than `size` exist, or
    /// else the next one given back. While waiting, `give_up` is asked every `poll`;
    /// `None` when it says yes.
    pub(crate) fn take(&mut self, poll: Duration, give_up: impl Fn() -> bool) -> Option<Vec<u8>> {
        let mut buffer = match self.returned.try_recv() {
            Ok(buffer) => buffer,
            Err(_) if self.made < self.size => {
                self.made += 1;
                Vec::new()
            }
            Err(_) => loop {
                match self.returned.recv_timeout(poll) {
                    Ok(buffer) => break buffer,
                    Err(RecvTimeoutError::Timeout) if !give_up() => {}
                    // The pool itself keeps a sender: disconnection cannot happen.
                    Err(_) => return None,
                }
            },
        };
        buffer.clear();
        Some(buffer)
    }

    /// Give back a buffer taken and not used.
    pub(crate) fn give_back(&self, buffer: Vec<u8>) {
        // The pool holds the receiver itself: this cannot fail.
        let _ = self.home.send(buffer);
    }

    /// The block of `bytes` (complete lines, each followed by `'\n'`), decoded; its
    /// buffer comes back here when it is dropped.
    pub(crate) fn block(&self, bytes: Vec<u8>, encoding: Encoding) -> LineBlock {
        LineBlock {
            text: encoding.decode_block(bytes),
            home: Some(self.home.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLL: Duration = Duration::from_millis(10);

    #[test]
    fn lines_come_without_their_ends() {
        let pool = BlockPool::new(1);
        let block = pool.block(b"one\r\n\ntwo\rx\n".to_vec(), Encoding::Utf8);
        assert_eq!(block.lines().collect::<Vec<_>>(), ["one", "", "two\rx"]);
        assert_eq!(
            block.ended_lines().collect::<Vec<_>>(),
            ["one", "\n", "two\rx\n"]
        );
    }

    #[test]
    fn a_full_pool_waits_for_a_block_to_be_dropped_and_reuses_its_buffer() {
        let mut pool = BlockPool::new(2);
        let first = pool.take(POLL, || false).expect("a new buffer");
        let first = pool.block(first, Encoding::Utf8);
        let mut second = pool.take(POLL, || false).expect("a second new buffer");
        second.extend_from_slice(&[b'x'; 1000]);
        let second = pool.block(second, Encoding::Utf8);
        assert!(
            pool.take(POLL, || true).is_none(),
            "both buffers are out: the third waits, and gives up when told"
        );
        let copy = second.clone();
        drop(second);
        let again = pool
            .take(POLL, || false)
            .expect("the dropped block's buffer");
        assert!(
            again.is_empty() && again.capacity() >= 1000,
            "reused, emptied"
        );
        drop(copy);
        assert!(
            pool.take(POLL, || true).is_none(),
            "a copy is outside the pool: dropping it frees nothing"
        );
        drop(first);
        assert!(pool.take(POLL, || true).is_some());
    }

    #[test]
    fn invalid_bytes_are_replaced_line_by_line_and_latin1_is_widened() {
        let pool = BlockPool::new(1);
        let utf8 = pool.block(b"caf\xc3\xa9\nbad \xc3\nok\n".to_vec(), Encoding::Utf8);
        assert_eq!(
            utf8.lines().collect::<Vec<_>>(),
            ["café", "bad \u{fffd}", "ok"],
            "a broken sequence never swallows the line end"
        );
        let latin1 = pool.block(b"caf\xe9\n".to_vec(), Encoding::Latin1);
        assert_eq!(latin1.lines().collect::<Vec<_>>(), ["café"]);
    }
}
