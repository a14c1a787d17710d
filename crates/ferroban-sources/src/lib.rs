//! Where log lines come from: files followed as they grow, and the systemd journal.
//!
//! Owns reading: following files through rotation (rename-and-create and
//! copytruncate), finding files that appear later under a glob, resuming where the
//! last run stopped, and turning journal entries into lines the way Fail2ban formats
//! them. Each source runs on its own thread and hands batches of complete lines to a
//! sink. It does not match, count or ban; it never drops a complete line.

mod block;
pub mod files;
pub mod journal;

pub use block::LineBlock;

use std::path::PathBuf;

use ferroban_db::FilePosition;

/// What a source hands to its sink.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceEvent {
    /// New complete lines of a file; `position` is where reading resumes after them.
    Lines {
        path: PathBuf,
        lines: LineBlock,
        position: FilePosition,
    },
    /// New journal entries of a jail's journal source, formatted as lines with their
    /// own time; `cursor` is where reading resumes after them.
    Journal {
        source: String,
        entries: Vec<(String, f64)>,
        cursor: Option<String>,
    },
    /// A problem worth logging (a file that cannot be read, journalctl missing, …).
    Warning(String),
}

/// Receives events; returns `false` when nobody listens any more (the source stops).
pub type Sink = Box<dyn FnMut(SourceEvent) -> bool + Send>;

/// How the bytes of a log are decoded (`logencoding`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// UTF-8, invalid sequences replaced (`auto`, `utf-8`).
    Utf8,
    /// ISO-8859-1: every byte is one character.
    Latin1,
}

impl Encoding {
    /// The encoding for a `logencoding` value (`None`: not supported).
    pub fn from_name(name: &str) -> Option<Encoding> {
        match name.trim().to_lowercase().replace('_', "-").as_str() {
            "auto" | "utf-8" | "utf8" | "ascii" | "us-ascii" => Some(Encoding::Utf8),
            "latin-1" | "latin1" | "iso-8859-1" | "iso8859-1" | "iso88591" | "l1" => {
                Some(Encoding::Latin1)
            }
            _ => None,
        }
    }

    /// `bytes` as text. Valid UTF-8 (and ASCII as Latin-1) keeps its buffer: the
    /// common case copies nothing.
    pub fn decode_block(self, bytes: Vec<u8>) -> String {
        if all_ascii(&bytes) {
            // SAFETY: ASCII is valid UTF-8 (and reads the same in both encodings).
            return unsafe { String::from_utf8_unchecked(bytes) };
        }
        match self {
            Encoding::Latin1 => bytes.iter().map(|&b| char::from(b)).collect(),
            Encoding::Utf8 => String::from_utf8(bytes)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
        }
    }
}

/// Whether every byte is ASCII. Nearly every log is: this test costs a fraction of
/// a UTF-8 validation (the compiler makes it a vector loop, as it cannot the
/// standard `is_ascii`, which stops at the first byte that is not).
fn all_ascii(bytes: &[u8]) -> bool {
    bytes.iter().fold(0u8, |seen, &byte| seen | byte) < 0x80
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_ascii_answers_as_is_ascii_wherever_a_high_byte_is() {
        for len in [0, 1, 15, 16, 63, 64, 65, 200] {
            let ascii = vec![b'x'; len];
            assert!(all_ascii(&ascii));
            for at in 0..len {
                for high in [0x80, 0xc3, 0xff] {
                    let mut bytes = ascii.clone();
                    bytes[at] = high;
                    assert_eq!(all_ascii(&bytes), bytes.is_ascii(), "{len} {at} {high:#x}");
                }
            }
        }
    }

    #[test]
    fn blocks_decode_as_the_standard_decoders_do() {
        let texts: [&[u8]; 4] = [b"plain\n", b"caf\xc3\xa9\n", b"bad \xc3\n", b"\x7f\x80\n"];
        for bytes in texts {
            assert_eq!(
                Encoding::Utf8.decode_block(bytes.to_vec()),
                String::from_utf8_lossy(bytes)
            );
            let widened: String = bytes.iter().map(|&b| char::from(b)).collect();
            assert_eq!(Encoding::Latin1.decode_block(bytes.to_vec()), widened);
        }
    }
}
