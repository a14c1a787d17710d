//! What was found in recently searched texts, to answer a text seen again without
//! searching it.
//!
//! Owns a bounded map from a text to what a search of it gave. Why it pays: a log
//! repeats the same texts often: sshd's `check pass; user unknown`, a brute-forcer's
//! identical PAM line for each attempt (nearly half the failregex searches of a busy
//! auth.log), a connection's `host sshd[pid]: ` prefix on each of its lines (four
//! prefregex searches in five). It does not search, and it does not know whether a
//! remembered answer is still right: the caller stores only answers that depend on
//! the text it names alone.

use ahash::AHashMap as HashMap;

/// Longer texts are not remembered (they seldom repeat, and would cost memory).
const MAX_TEXT: usize = 512;

/// Recent texts and their answers, in two generations: a text looked up in the older
/// one moves to the newer, and when the newer is full the older is dropped. Between
/// `generation` and twice as many recent texts are remembered.
#[derive(Debug)]
pub struct Recent<V> {
    newer: HashMap<Box<str>, V>,
    older: HashMap<Box<str>, V>,
    generation: usize,
}

impl<V> Recent<V> {
    /// A memory of `generation` texts per generation.
    pub fn new(generation: usize) -> Self {
        Recent {
            newer: HashMap::new(),
            older: HashMap::new(),
            generation,
        }
    }

    /// `read` of the answer remembered for `text`, if it was seen recently.
    pub fn with<R>(&mut self, text: &str, read: impl FnOnce(&V) -> R) -> Option<R> {
        if let Some(answer) = self.newer.get(text) {
            return Some(read(answer));
        }
        let (key, answer) = self.older.remove_entry(text)?;
        let result = read(&answer);
        self.insert_new(key, answer);
        Some(result)
    }

    /// Remember the answer for `text` (unless it is too long to be worth it).
    pub fn insert(&mut self, text: &str, answer: V) {
        if text.len() <= MAX_TEXT {
            self.insert_new(text.into(), answer);
        }
    }

    /// Forget everything.
    pub fn clear(&mut self) {
        self.newer.clear();
        self.older.clear();
    }

    fn insert_new(&mut self, key: Box<str>, answer: V) {
        if self.newer.len() >= self.generation {
            // the dropped generation's table is kept (cleared) for the next one: no
            // growing it again from nothing
            std::mem::swap(&mut self.older, &mut self.newer);
            self.newer.clear();
        }
        self.newer.insert(key, answer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_recent_texts_and_forgets_old_ones() {
        const GENERATION: usize = 8;
        let mut recent = Recent::new(GENERATION);
        recent.insert("a", 3);
        let get = |recent: &mut Recent<usize>, text: &str| recent.with(text, |n| *n);
        assert_eq!(get(&mut recent, "a"), Some(3));
        assert!(get(&mut recent, "b").is_none());
        // "a" is kept while it is asked for; texts not asked for again are dropped
        for i in 0..4 * GENERATION {
            recent.insert(&i.to_string(), i);
            if i % (GENERATION / 2) == 0 {
                assert!(get(&mut recent, "a").is_some(), "after {i} insertions");
            }
        }
        assert!(get(&mut recent, "0").is_none());
        let last = 4 * GENERATION - 1;
        assert_eq!(get(&mut recent, &last.to_string()), Some(last));
        recent.insert(&"x".repeat(MAX_TEXT + 1), 0);
        assert!(get(&mut recent, &"x".repeat(MAX_TEXT + 1)).is_none());
        recent.clear();
        assert!(get(&mut recent, "a").is_none());
    }
}
