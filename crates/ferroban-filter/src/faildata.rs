//! Failure data: the named values a failure carries (captured groups, and what
//! merging a multi-line failure adds), as Fail2ban's failure dict holds them.
//!
//! Owns the value type and a small map from names to values kept in name order (the
//! order Fail2ban's tester prints them in). A failure has a dozen names at most, so
//! the map is a sorted vector: one allocation; every line builds a few of them. Names
//! are interned (`key`), so a look-up by an interned name compares pointers, not
//! bytes, and the map keeps a bit per name it holds (by the name's number): asking
//! for a name it has not (most of the names the merge asks for) reads one bit. Captured texts are short (an address, a user, a pid) and kept inline
//! ([`Text`]); matched lines are shared, not copied, as a multi-line failure grows.
//! It does not know what the names mean (the engine does).

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::fmt;
use std::sync::{Arc, LazyLock, Mutex};

/// A captured text: up to 24 bytes without an allocation.
pub type Text = compact_str::CompactString;

/// A matched line, shared between the failures and the multi-line cache that hold it.
pub type Line = Arc<str>;

/// A value in failure data: captured text, or what merging adds.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Text(Option<Text>),
    Lines(Vec<Line>),
    Set(BTreeSet<Text>),
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
/// Interned (see `key`): every line's data uses the same few names, and copying
/// or dropping one costs nothing (one pointer, no reference count to change). It
/// reads as the name (`&*key`).
#[derive(Clone, Copy)]
pub struct Key(&'static Interning);

/// What interning made of a name.
struct Interning {
    name: &'static str,
    /// Its first eight bytes, big-endian (zeros after a shorter name): names in the
    /// order of these numbers are in name order, but those that begin alike.
    prefix: u64,
    /// Its bit in the names a map holds: one of the first 64 names interned
    /// (in practice all), else 0 (none).
    bit: u64,
}

impl std::ops::Deref for Key {
    type Target = str;

    fn deref(&self) -> &str {
        self.0.name
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.name)
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.0.name, f)
    }
}

/// Keys are the same when they are the same interned name.
impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        same_key(*self, *other)
    }
}

impl Key {
    /// The name.
    pub fn name(self) -> &'static str {
        self.0.name
    }

    /// This name's place in name order relative to `other`'s: by the prefixes, which
    /// nearly always differ (a map is kept in this order, and searched by it).
    fn order(self, other: Key) -> Ordering {
        self.0
            .prefix
            .cmp(&other.0.prefix)
            .then_with(|| name_order(self.0.name, other.0.name))
    }
}

/// Every name made so far. Names come from filter definitions only (never from log
/// text), so the table stays as small as the configuration; each is kept for the
/// life of the process (leaked), which is what makes a [`Key`] free to copy.
static INTERNED: LazyLock<Mutex<Vec<Key>>> = LazyLock::new(Mutex::default);

/// The one shared key for `name`. Filters make their keys when they are built, not
/// per line: this takes a lock.
pub(crate) fn key(name: &str) -> Key {
    let mut interned = INTERNED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(k) = interned.iter().find(|k| k.0.name == name) {
        return *k;
    }
    let mut prefix = [0; 8];
    let head = &name.as_bytes()[..name.len().min(8)];
    prefix[..head.len()].copy_from_slice(head);
    let bit = u32::try_from(interned.len())
        .ok()
        .and_then(|n| 1u64.checked_shl(n))
        .unwrap_or(0);
    let k = Key(Box::leak(Box::new(Interning {
        name: Box::leak(name.into()),
        prefix: u64::from_be_bytes(prefix),
        bit,
    })));
    interned.push(k);
    k
}

/// Whether two keys are the same interned name (the same address).
fn same_key(a: Key, b: Key) -> bool {
    std::ptr::eq(a.0, b.0)
}

/// An interned name, to look values up by address. Only this crate makes them (from
/// `key`), so one can never miss an entry of the same name: every name in failure
/// data is interned.
#[derive(Debug, Clone)]
pub struct Interned(Key);

impl Interned {
    pub(crate) fn new(name: &str) -> Interned {
        Interned(key(name))
    }

    /// The shared key, for a value set under this name.
    pub(crate) fn key(&self) -> Key {
        self.0
    }
}

/// The names the engine reads or adds on every failure, interned once.
pub(crate) struct Names {
    pub dns: Interned,
    pub fid: Interned,
    pub ip: Interned,
    pub ip4: Interned,
    pub ip6: Interned,
    pub matches: Interned,
    pub mlfforget: Interned,
    pub mlfgained: Interned,
    pub mlfid: Interned,
    pub mlfpending: Interned,
    pub nofail: Interned,
    pub nofail_matches: Interned,
    pub user: Interned,
    pub users: Interned,
}

pub(crate) static NAMES: LazyLock<Names> = LazyLock::new(|| Names {
    dns: Interned::new("dns"),
    fid: Interned::new("fid"),
    ip: Interned::new("ip"),
    ip4: Interned::new("ip4"),
    ip6: Interned::new("ip6"),
    matches: Interned::new("matches"),
    mlfforget: Interned::new("mlfforget"),
    mlfgained: Interned::new("mlfgained"),
    mlfid: Interned::new("mlfid"),
    mlfpending: Interned::new("mlfpending"),
    nofail: Interned::new("nofail"),
    nofail_matches: Interned::new("nofail-matches"),
    user: Interned::new("user"),
    users: Interned::new("users"),
});

/// A name to look a value up by: any text (found by bisection), or an [`Interned`]
/// one (found by its address).
pub trait Name {
    /// The index of the entry with this name in `data`, if there is one.
    fn index_in(&self, data: &FailData) -> Option<usize>;
}

impl Name for str {
    fn index_in(&self, data: &FailData) -> Option<usize> {
        let entries = &data.entries;
        entries.binary_search_by(|(k, _)| name_order(k, self)).ok()
    }
}

impl Name for Interned {
    fn index_in(&self, data: &FailData) -> Option<usize> {
        data.index_of_key(self.0)
    }
}

/// Names and their values, in name order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FailData {
    entries: Vec<(Key, Value)>,
    /// The bits (see [`Key`]) of the names in `entries`.
    present: u64,
}

impl FailData {
    /// Whether the interned `key` may be in `entries` (it is, when it has a bit).
    fn may_have(&self, key: Key) -> bool {
        key.0.bit == 0 || self.present & key.0.bit != 0
    }

    /// Where the interned `key` is in `entries`.
    fn index_of_key(&self, key: Key) -> Option<usize> {
        if !self.may_have(key) {
            return None;
        }
        self.entries.iter().position(|(k, _)| same_key(*k, key))
    }

    /// Take note that `key` is in `entries` now.
    fn mark(&mut self, key: Key) {
        self.present |= key.0.bit;
    }

    /// The value of `name`.
    pub fn get<N: Name + ?Sized>(&self, name: &N) -> Option<&Value> {
        let i = name.index_in(self)?;
        Some(&self.entries[i].1)
    }

    /// The captured text of `name` (see [`Value::text`]).
    pub fn text<N: Name + ?Sized>(&self, name: &N) -> Option<&str> {
        self.get(name).and_then(Value::text)
    }

    /// Whether `name` is there and truthy (see [`Value::truthy`]).
    pub fn truthy<N: Name + ?Sized>(&self, name: &N) -> bool {
        self.get(name).is_some_and(Value::truthy)
    }

    /// Where `name` is, or where it goes to keep the names in order.
    fn slot(&self, name: Key) -> Result<usize, usize> {
        match self.index_of_key(name) {
            Some(i) => Ok(i),
            None => self.entries.binary_search_by(|(k, _)| k.order(name)),
        }
    }

    /// Set `name` to `value`.
    pub(crate) fn insert(&mut self, name: Key, value: Value) {
        match self.slot(name) {
            Ok(i) => self.entries[i].1 = value,
            Err(i) => {
                self.entries.insert(i, (name, value));
                self.mark(name);
            }
        }
    }

    /// The value of `name`, set to `make()` first if it has none.
    pub(crate) fn get_or_insert_with(
        &mut self,
        name: Key,
        make: impl FnOnce() -> Value,
    ) -> &mut Value {
        let i = match self.slot(name) {
            Ok(i) => i,
            Err(i) => {
                self.entries.insert(i, (name, make()));
                self.mark(name);
                i
            }
        };
        &mut self.entries[i].1
    }

    /// Take `name` out.
    pub(crate) fn remove<N: Name + ?Sized>(&mut self, name: &N) -> Option<Value> {
        let i = name.index_in(self)?;
        let (key, value) = self.entries.remove(i);
        self.present &= !key.0.bit;
        Some(value)
    }

    /// Add the names of `defaults` this has not, with their values there.
    pub(crate) fn add_missing(&mut self, defaults: &FailData) {
        for &(k, ref v) in &defaults.entries {
            if let Err(i) = self.slot(k) {
                self.entries.insert(i, (k, v.clone()));
                self.mark(k);
            }
        }
    }

    /// Set each name of `other` to its value there, but the values `keep_mine` says
    /// this keeps its own for; `other` is left empty (its allocation kept). Both are
    /// in name order, so this is one walk over the two, not a search per name.
    pub(crate) fn update_from(&mut self, other: &mut FailData, keep_mine: impl Fn(&Value) -> bool) {
        let mut at = 0;
        for (name, value) in other.entries.drain(..) {
            if keep_mine(&value) {
                continue;
            }
            // names before `name` stay as they are (the same key, compared by address
            // first, spares the text comparison when the names are the same)
            while at < self.entries.len()
                && !same_key(self.entries[at].0, name)
                && self.entries[at].0.order(name) == Ordering::Less
            {
                at += 1;
            }
            match self.entries.get_mut(at) {
                Some(entry) if same_key(entry.0, name) => entry.1 = value,
                _ => {
                    self.entries.insert(at, (name, value));
                    self.mark(name);
                }
            }
            at += 1;
        }
    }

    /// Empty it, keeping its allocation.
    pub(crate) fn clear(&mut self) {
        self.entries.clear();
        self.present = 0;
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Names it has room for without growing.
    pub(crate) fn capacity(&self) -> usize {
        self.entries.capacity()
    }

    /// Names and values, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&&'static str, &Value)> {
        self.entries.iter().map(|(k, v)| (&k.0.name, v))
    }

    /// This map emptied, then filled with `entries` given in name order, each name
    /// once (interned), with room for `capacity` names in all (what merging adds
    /// too). The map's allocation is kept: a map refilled per line allocates once.
    pub(crate) fn refill_sorted(
        &mut self,
        capacity: usize,
        entries: impl Iterator<Item = (Key, Value)>,
    ) {
        self.clear();
        self.entries.reserve(capacity.max(entries.size_hint().0));
        for (k, v) in entries {
            self.mark(k);
            self.entries.push((k, v));
        }
        debug_assert!(self.entries.windows(2).all(|w| *w[0].0 < *w[1].0));
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
        d.insert(key("ip4"), Value::Text(Some("192.0.2.1".into())));
        d.insert(key("dns"), Value::Text(None));
        d.insert(key("users"), Value::Flag(2));
        let names: Vec<&str> = d.iter().map(|(k, _)| &**k).collect();
        assert_eq!(names, ["dns", "ip4", "users"]);
        assert_eq!(d.get("users"), Some(&Value::Flag(2)));
        assert_eq!(
            d.get(&Interned::new("users")),
            Some(&Value::Flag(2)),
            "an interned key finds the same entry"
        );
        assert!(same_key(key("ip4"), key(&String::from("ip4"))));
        assert_eq!(d.text("ip4"), Some("192.0.2.1"));
        assert_eq!(d.text("dns"), None);
        assert!(!d.truthy("dns"));
        let mut defaults = FailData::default();
        defaults.insert(key("ip4"), Value::Text(Some("192.0.2.2".into())));
        defaults.insert(key("alt_user"), Value::Text(Some("x".into())));
        d.add_missing(&defaults);
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

    #[test]
    fn names_beyond_the_presence_bits_are_found_by_search() {
        let names: Vec<Key> = (0..70).map(|i| key(&format!("many_{i:02}"))).collect();
        let late = names[69];
        assert_eq!(late.0.bit, 0, "interned after 69 others at least: no bit");
        let mut d = FailData::default();
        d.insert(names[0], Value::Flag(1));
        d.insert(late, Value::Flag(2));
        let late_name = Interned(late);
        assert_eq!(d.get(&late_name), Some(&Value::Flag(2)));
        assert!(d.truthy(&late_name));
        assert_eq!(d.remove(&late_name), Some(Value::Flag(2)));
        assert_eq!(d.get(&late_name), None);
        assert_eq!(d.get(&Interned(names[0])), Some(&Value::Flag(1)));
    }

    #[test]
    fn keys_order_as_their_names_do() {
        let names = [
            "a",
            "ab",
            "abcdefgh",
            "abcdefgha",
            "abcdefghi",
            "abcdefgi",
            "alt_user",
            "b",
            "ip4",
            "ip6",
            "nofail",
            "nofail-matches",
            "user",
            "users",
        ];
        for x in names {
            for y in names {
                assert_eq!(key(x).order(key(y)), x.cmp(y), "{x:?} against {y:?}");
            }
        }
    }

    #[test]
    fn update_from_sets_new_names_in_order_and_keeps_what_it_is_told_to() {
        let text = |t: &str| Value::Text(Some(t.into()));
        let mut cached = FailData::default();
        cached.insert(key("ip4"), text("192.0.2.1"));
        cached.insert(key("user"), text("root"));
        cached.insert(key("users"), Value::Flag(1));
        let mut new = FailData::default();
        new.insert(key("alt_user"), text("a"));
        new.insert(key("ip4"), text("192.0.2.9"));
        new.insert(key("mlfid"), text("sshd[1]"));
        new.insert(key("user"), Value::Text(None));
        new.insert(key("zz"), Value::Flag(2));
        cached.update_from(&mut new, |v| matches!(v, Value::Text(None)));
        assert!(new.is_empty(), "the values moved out");
        let names: Vec<&str> = cached.iter().map(|(k, _)| &**k).collect();
        assert_eq!(names, ["alt_user", "ip4", "mlfid", "user", "users", "zz"]);
        assert_eq!(cached.text("ip4"), Some("192.0.2.9"), "replaced");
        assert_eq!(cached.text("user"), Some("root"), "kept: told to");
        assert_eq!(cached.get("zz"), Some(&Value::Flag(2)));
    }
}
