//! What was found in recently searched texts, to answer a text seen again without
//! searching it.
//!
//! Owns a bounded map from a text to what a search of it gave. Why it pays: a log
//! repeats the same texts often: sshd's `check pass; user unknown`, a brute-forcer's
//! identical PAM line for each attempt (nearly half the failregex searches of a busy
//! auth.log), a connection's `host sshd[pid]: ` prefix on each of its lines (four
//! prefregex searches in five), and the shape of a failregex's match (the byte
//! classes its automaton reads, see `twopass`) more often still. A text here is any
//! string of bytes. It does not search, and it does not know whether a remembered
//! answer is still right: the caller stores only answers that depend on the text it
//! names alone.

use std::hash::BuildHasher as _;

use hashbrown::HashTable;

/// Longer texts are not remembered (they seldom repeat, and would cost memory).
pub const MAX_TEXT: usize = 512;

/// Recent texts and their answers, in two generations: a text looked up in the older
/// one moves to the newer, and when the newer is full the older is dropped. Between
/// `generation` and twice as many recent texts are remembered.
///
/// A text is hashed once: both generations are probed with that hash, and a look-up
/// in vain hands it over ([`Miss`]) for the insertion of the text's answer (a look-up
/// of a new text, then its insertion, is the usual pair).
#[derive(Debug)]
pub struct Recent<V> {
    newer: Generation<V>,
    older: Generation<V>,
    generation: usize,
    hasher: foldhash::fast::RandomState,
}

/// One generation: its answers, each with the place of its text in `texts`. The
/// texts of a generation are stored end to end in one buffer, kept (cleared) when
/// the generation is dropped: remembering a text allocates nothing once the strings
/// have grown.
#[derive(Debug)]
struct Generation<V> {
    answers: HashTable<(TextSpan, V)>,
    texts: Vec<u8>,
}

/// Where a remembered text is in its generation's `texts`.
type TextSpan = std::ops::Range<usize>;

impl<V> Generation<V> {
    fn new() -> Self {
        Generation {
            answers: HashTable::new(),
            texts: Vec::new(),
        }
    }

    fn clear(&mut self) {
        self.answers.clear();
        self.texts.clear();
    }
}

/// A text looked up in vain, by its hash: its answer is inserted with
/// [`Recent::insert`] before anything else is inserted.
#[derive(Debug)]
#[must_use]
pub struct Miss {
    hash: u64,
}

impl<V> Recent<V> {
    /// A memory of `generation` texts per generation.
    pub fn new(generation: usize) -> Self {
        Recent {
            newer: Generation::new(),
            older: Generation::new(),
            generation,
            hasher: foldhash::fast::RandomState::default(),
        }
    }

    /// `read` of the answer remembered for `text`, if it was seen recently; else the
    /// miss, to insert the answer with.
    pub fn with<R>(&mut self, text: &[u8], read: impl FnOnce(&V) -> R) -> Result<R, Miss> {
        let hash = self.hasher.hash_one(text);
        let newer = &self.newer;
        let same = |(span, _): &(TextSpan, V)| newer.texts[span.clone()] == *text;
        if let Some((_, answer)) = newer.answers.find(hash, same) {
            return Ok(read(answer));
        }
        let older = &mut self.older;
        let same = |(span, _): &(TextSpan, V)| older.texts[span.clone()] == *text;
        let Ok(entry) = older.answers.find_entry(hash, same) else {
            return Err(Miss { hash });
        };
        let ((_, answer), _) = entry.remove();
        let result = read(&answer);
        self.insert_new(hash, text, answer);
        Ok(result)
    }

    /// Remember the answer for `text`, just looked up in vain (unless it is too long
    /// to be worth it).
    pub fn insert(&mut self, miss: Miss, text: &[u8], answer: V) {
        debug_assert_eq!(
            miss.hash,
            self.hasher.hash_one(text),
            "the miss of another text"
        );
        if text.len() <= MAX_TEXT {
            self.insert_new(miss.hash, text, answer);
        }
    }

    /// Forget everything.
    pub fn clear(&mut self) {
        self.newer.clear();
        self.older.clear();
    }

    /// Insert a text not in the newer generation, with its hash.
    fn insert_new(&mut self, hash: u64, text: &[u8], answer: V) {
        if self.newer.answers.len() >= self.generation {
            // the dropped generation's table and string are kept (cleared) for the
            // next one: no growing them again from nothing
            std::mem::swap(&mut self.older, &mut self.newer);
            self.newer.clear();
        }
        let Generation { answers, texts } = &mut self.newer;
        let span = texts.len()..texts.len() + text.len();
        texts.extend_from_slice(text);
        let hasher = &self.hasher;
        answers.insert_unique(hash, (span, answer), |(span, _)| {
            hasher.hash_one(&texts[span.clone()])
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The answer remembered for `text`; else `answer` is remembered.
    fn get_or_remember(recent: &mut Recent<usize>, text: &str, answer: usize) -> Option<usize> {
        let text = text.as_bytes();
        match recent.with(text, |n| *n) {
            Ok(n) => Some(n),
            Err(miss) => {
                recent.insert(miss, text, answer);
                None
            }
        }
    }

    #[test]
    fn remembers_recent_texts_and_forgets_old_ones() {
        const GENERATION: usize = 8;
        let mut recent = Recent::new(GENERATION);
        assert_eq!(get_or_remember(&mut recent, "a", 3), None);
        assert_eq!(get_or_remember(&mut recent, "a", 0), Some(3));
        // "a" is kept while it is asked for; texts not asked for again are dropped
        for i in 0..4 * GENERATION {
            assert_eq!(get_or_remember(&mut recent, &i.to_string(), i), None);
            if i % (GENERATION / 2) == 0 {
                assert_eq!(
                    get_or_remember(&mut recent, "a", 0),
                    Some(3),
                    "after {i} insertions"
                );
            }
        }
        assert_eq!(get_or_remember(&mut recent, "0", 0), None);
        let last = 4 * GENERATION - 1;
        assert_eq!(
            get_or_remember(&mut recent, &last.to_string(), 0),
            Some(last)
        );
        // too long to be remembered
        let long = "x".repeat(MAX_TEXT + 1);
        assert_eq!(get_or_remember(&mut recent, &long, 1), None);
        assert_eq!(get_or_remember(&mut recent, &long, 1), None);
        recent.clear();
        assert_eq!(get_or_remember(&mut recent, "a", 5), None);
        assert_eq!(get_or_remember(&mut recent, "a", 0), Some(5));
    }
}
