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

use hashbrown::HashTable;

/// Longer texts are not remembered (they seldom repeat, and would cost memory).
const MAX_TEXT: usize = 512;

/// Recent texts and their answers, in two generations: a text looked up in the older
/// one moves to the newer, and when the newer is full the older is dropped. Between
/// `generation` and twice as many recent texts are remembered.
///
/// A text is hashed once per look-up and insertion: both generations are probed with
/// that hash, and an answer inserted for the text last looked up in vain takes it
/// too (a look-up of a new text, then its insertion, is the usual pair).
#[derive(Debug)]
pub struct Recent<V> {
    newer: HashTable<(Box<str>, V)>,
    older: HashTable<(Box<str>, V)>,
    generation: usize,
    hasher: ahash::RandomState,
    /// The text last looked up in vain, and its hash.
    missed: String,
    missed_hash: Option<u64>,
}

impl<V> Recent<V> {
    /// A memory of `generation` texts per generation.
    pub fn new(generation: usize) -> Self {
        Recent {
            newer: HashTable::new(),
            older: HashTable::new(),
            generation,
            hasher: ahash::RandomState::new(),
            missed: String::new(),
            missed_hash: None,
        }
    }

    /// `read` of the answer remembered for `text`, if it was seen recently.
    pub fn with<R>(&mut self, text: &str, read: impl FnOnce(&V) -> R) -> Option<R> {
        let hash = self.hasher.hash_one(text);
        let same = |(key, _): &(Box<str>, V)| **key == *text;
        if let Some((_, answer)) = self.newer.find(hash, same) {
            return Some(read(answer));
        }
        let Ok(entry) = self.older.find_entry(hash, same) else {
            if text.len() <= MAX_TEXT {
                self.missed.clear();
                self.missed.push_str(text);
                self.missed_hash = Some(hash);
            }
            return None;
        };
        let ((key, answer), _) = entry.remove();
        let result = read(&answer);
        self.insert_new(hash, key, answer);
        Some(result)
    }

    /// Remember the answer for `text` (unless it is too long to be worth it).
    pub fn insert(&mut self, text: &str, answer: V) {
        if text.len() > MAX_TEXT {
            return;
        }
        let hash = match self.missed_hash.take() {
            Some(hash) if self.missed == text => hash,
            _ => self.hasher.hash_one(text),
        };
        let same = |(key, _): &(Box<str>, V)| **key == *text;
        if let Some((_, remembered)) = self.newer.find_mut(hash, same) {
            *remembered = answer;
            return;
        }
        self.insert_new(hash, text.into(), answer);
    }

    /// Forget everything.
    pub fn clear(&mut self) {
        self.newer.clear();
        self.older.clear();
    }

    /// Insert a text not in the newer generation, with its hash.
    fn insert_new(&mut self, hash: u64, key: Box<str>, answer: V) {
        if self.newer.len() >= self.generation {
            // the dropped generation's table is kept (cleared) for the next one: no
            // growing it again from nothing
            std::mem::swap(&mut self.older, &mut self.newer);
            self.newer.clear();
        }
        let hasher = &self.hasher;
        self.newer
            .insert_unique(hash, (key, answer), |(key, _)| hasher.hash_one(&**key));
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

    #[test]
    fn an_insertion_after_a_look_up_in_vain_is_found_under_its_own_text() {
        let mut recent = Recent::new(8);
        let get = |recent: &mut Recent<usize>, text: &str| recent.with(text, |n| *n);
        assert!(get(&mut recent, "a").is_none());
        recent.insert("a", 1);
        assert_eq!(get(&mut recent, "a"), Some(1));
        // another text than the one looked up last: hashed for itself
        assert!(get(&mut recent, "b").is_none());
        recent.insert("c", 3);
        assert!(get(&mut recent, "b").is_none());
        assert_eq!(get(&mut recent, "c"), Some(3));
        // a text remembered again takes the new answer
        recent.insert("c", 4);
        assert_eq!(get(&mut recent, "c"), Some(4));
    }
}
