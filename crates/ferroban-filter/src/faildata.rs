//! Failure data: the named values a failure carries (captured groups, and what
//! merging a multi-line failure adds), as Fail2ban's failure dict holds them.
//!
//! Owns the value type and a small map from names to values kept in name order (the
//! order Fail2ban's tester prints them in). A failure has a dozen names at most, so
//! the map is a sorted vector: one allocation, searched by bisection; every line
//! builds a few of them. It does not know what the names mean (the engine does).

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::sync::{Arc, LazyLock};

/// A value in failure data: captured text, or what merging adds.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Text(Option<String>),
    Lines(Vec<String>),
    Set(BTreeSet<String>),
    Flag(i64),
}

impl Value {
    /// Python truthiness: set, non-empty, non-zero.
    pub fn truthy(&self) -> bool {
        match self {
            Value::Text(t) => t.as_deref().is_some_and(|s| !s.is_empty()),
            Value::Lines(l) => !l.is_empty(),
            Value::Set(s) => !s.is_empty(),
            Value::Flag(f) => *f != 0,
        }
    }

    /// The captured text, if this is captured text that took part in the match.
    pub fn text(&self) -> Option<&str> {
        match self {
            Value::Text(t) => t.as_deref(),
            _ => None,
        }
    }
}

/// A name in failure data: a group's (lower-case, without `F-`) or one merging adds.
/// Shared, not copied: every line's data uses the same few names.
pub type Key = Arc<str>;

/// The names merging adds, made once.
static ADDED_KEYS: LazyLock<[Key; 6]> = LazyLock::new(|| {
    [
        "matches",
        "mlfpending",
        "ip",
        "nofail",
        "nofail-matches",
        "users",
    ]
    .map(Key::from)
});

/// The shared key for a name merging adds.
pub(crate) fn key(name: &str) -> Key {
    match ADDED_KEYS.iter().find(|k| &***k == name) {
        Some(k) => k.clone(),
        None => Key::from(name),
    }
}

/// Names and their values, in name order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FailData {
    entries: Vec<(Key, Value)>,
}

impl FailData {
    /// Where `name` is, or would be inserted.
    fn position(&self, name: &str) -> Result<usize, usize> {
        self.entries.binary_search_by(|(k, _)| name_order(k, name))
    }

    /// The value of `name`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        let i = self.position(name).ok()?;
        Some(&self.entries[i].1)
    }

    /// The captured text of `name` (see [`Value::text`]).
    pub fn text(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(Value::text)
    }

    /// Whether `name` is there and truthy (see [`Value::truthy`]).
    pub fn truthy(&self, name: &str) -> bool {
        self.get(name).is_some_and(Value::truthy)
    }

    /// Set `name` to `value`.
    pub fn insert(&mut self, name: Key, value: Value) {
        match self.position(&name) {
            Ok(i) => self.entries[i].1 = value,
            Err(i) => self.entries.insert(i, (name, value)),
        }
    }

    /// The value of `name`, set to `make()` first if it has none.
    pub fn get_or_insert_with(&mut self, name: Key, make: impl FnOnce() -> Value) -> &mut Value {
        let i = match self.position(&name) {
            Ok(i) => i,
            Err(i) => {
                self.entries.insert(i, (name, make()));
                i
            }
        };
        &mut self.entries[i].1
    }

    /// Take `name` out.
    pub fn remove(&mut self, name: &str) -> Option<Value> {
        let i = self.position(name).ok()?;
        Some(self.entries.remove(i).1)
    }

    /// Add the names of `defaults` this has not, with their values there.
    pub fn add_missing(&mut self, defaults: FailData) {
        for (k, v) in defaults.entries {
            if let Err(i) = self.position(&k) {
                self.entries.insert(i, (k, v));
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Names and values, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&Key, &Value)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    /// A map of `entries` given in name order, each name once.
    pub(crate) fn from_sorted(entries: impl Iterator<Item = (Key, Value)>) -> FailData {
        let entries: Vec<_> = entries.collect();
        debug_assert!(entries.windows(2).all(|w| w[0].0 < w[1].0));
        FailData { entries }
    }
}

/// The order of names (that of `str`), byte by byte: names are short and differ
/// early, where a `memcmp` call would cost more than the comparison.
fn name_order(a: &str, b: &str) -> Ordering {
    a.bytes().cmp(b.bytes())
}

impl IntoIterator for FailData {
    type Item = (Key, Value);
    type IntoIter = std::vec::IntoIter<(Key, Value)>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_names_in_order_and_one_value_each() {
        let mut d = FailData::default();
        d.insert(key("users"), Value::Flag(1));
        d.insert(Key::from("ip4"), Value::Text(Some("192.0.2.1".into())));
        d.insert(Key::from("dns"), Value::Text(None));
        d.insert(key("users"), Value::Flag(2));
        let names: Vec<&str> = d.iter().map(|(k, _)| &**k).collect();
        assert_eq!(names, ["dns", "ip4", "users"]);
        assert_eq!(d.get("users"), Some(&Value::Flag(2)));
        assert_eq!(d.text("ip4"), Some("192.0.2.1"));
        assert_eq!(d.text("dns"), None);
        assert!(!d.truthy("dns"));
        let mut defaults = FailData::default();
        defaults.insert(Key::from("ip4"), Value::Text(Some("192.0.2.2".into())));
        defaults.insert(Key::from("alt_user"), Value::Text(Some("x".into())));
        d.add_missing(defaults);
        assert_eq!(
            d.text("ip4"),
            Some("192.0.2.1"),
            "a name it has keeps its value"
        );
        assert_eq!(d.iter().next().map(|(k, _)| &**k), Some("alt_user"));
        assert_eq!(d.remove("dns"), Some(Value::Text(None)));
        assert_eq!(d.remove("dns"), None);
        *d.get_or_insert_with(key("nofail"), || Value::Flag(0)) = Value::Flag(5);
        assert!(d.truthy("nofail"));
        assert_eq!(d.into_iter().count(), 4);
    }
}
