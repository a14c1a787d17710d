//! Failure data: the named values a failure carries (captured groups, and what
//! merging a multi-line failure adds), as Fail2ban's failure dict holds them.
//!
//! Owns the value type and a small map from names to values kept in name order (the
//! order Fail2ban's tester prints them in). A failure has a dozen names at most, all
//! known when its filter is built: the filter's [`Layout`] lists them in name order,
//! and a map is a slot per name of its layout, so setting, reading or taking a name
//! out is an index, not a search, and nothing moves. Names are interned (`key`), so
//! a name's slot is read from a table by the name's number. Captured texts are short
//! (an address, a user, a pid) and kept inline ([`Text`]); matched lines are shared,
//! not copied, as a multi-line failure grows. It does not know what the names mean
//! (the engine does).

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

    /// `slot` set to the captured text `text` (`None`: a group that took no part in
    /// the match), written in place (see [`put_text`]).
    pub(crate) fn put_captured(slot: &mut Option<Value>, text: Option<&str>) {
        if let (Value::Text(place), Some(text)) = (slot.insert(Value::Text(None)), text) {
            put_text(place, text);
        }
    }
}

/// `place` set to a [`Text`] of `text`, written where it is kept.
///
/// Why not `Some(Text::from(text))` moved there: a short text is made in a buffer of
/// its own, byte by byte, and the move reads that buffer back a word at a time
/// before those writes are done; each such read waits for them (a failed
/// store-to-load forward, about 15 cycles). A line's few captures cost 4 % of the
/// tester's time on sshd's lines that way. Written in place, nothing reads them back
/// until they are long done.
pub(crate) fn put_text(place: &mut Option<Text>, text: &str) {
    if text.len() > std::mem::size_of::<Text>() {
        // on the heap: the text is made whole words at a time
        *place = Some(Text::from(text));
    } else {
        place.insert(Text::const_new("")).push_str(text);
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
    /// Its number: names are numbered as they are interned.
    number: usize,
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
    let k = Key(Box::leak(Box::new(Interning {
        name: Box::leak(name.into()),
        prefix: u64::from_be_bytes(prefix),
        number: interned.len(),
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

impl Names {
    /// Every one of them.
    pub fn all(&self) -> impl Iterator<Item = Key> + '_ {
        [
            &self.dns,
            &self.fid,
            &self.ip,
            &self.ip4,
            &self.ip6,
            &self.matches,
            &self.mlfforget,
            &self.mlfgained,
            &self.mlfid,
            &self.mlfpending,
            &self.nofail,
            &self.nofail_matches,
            &self.user,
            &self.users,
        ]
        .into_iter()
        .map(Interned::key)
    }
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
/// one (found by its number).
pub trait Name {
    /// The slot of this name in `data`'s layout, if the layout has it.
    fn slot_in(&self, data: &FailData) -> Option<usize>;
}

impl Name for str {
    fn slot_in(&self, data: &FailData) -> Option<usize> {
        let names = &data.layout.names;
        names.binary_search_by(|k| name_order(k, self)).ok()
    }
}

impl Name for Key {
    fn slot_in(&self, data: &FailData) -> Option<usize> {
        data.layout.slot(*self)
    }
}

impl Name for Interned {
    fn slot_in(&self, data: &FailData) -> Option<usize> {
        data.layout.slot(self.0)
    }
}

/// The names a map may hold, in name order, each with its slot: a filter makes one
/// (its regexes' names and those merging adds) and all its maps share it. Made once
/// per list of names and kept for the life of the process, as names are.
pub struct Layout {
    names: Vec<Key>,
    /// The slot of each name by its number (see `Interning`); [`Layout::NONE`] for
    /// a name not in the layout.
    slots: Vec<u32>,
}

impl Layout {
    const NONE: u32 = u32::MAX;

    /// The slot of `key`, if the layout has it.
    #[inline]
    pub(crate) fn slot(&self, key: Key) -> Option<usize> {
        match self.slots.get(key.0.number) {
            Some(&slot) if slot != Layout::NONE => usize::try_from(slot).ok(),
            _ => None,
        }
    }

    /// The one layout of `names` (in any order, repeats allowed).
    pub(crate) fn of(names: impl IntoIterator<Item = Key>) -> &'static Layout {
        let mut names: Vec<Key> = names.into_iter().collect();
        names.sort_by(|a, b| a.order(*b));
        names.dedup_by(|a, b| same_key(*a, *b));
        if names.is_empty() {
            return &EMPTY_LAYOUT;
        }
        static LAYOUTS: LazyLock<Mutex<Vec<&'static Layout>>> = LazyLock::new(Mutex::default);
        let mut layouts = LAYOUTS.lock().unwrap_or_else(|e| e.into_inner());
        let same = |l: &&&Layout| {
            l.names.len() == names.len() && l.names.iter().zip(&names).all(|(a, b)| a == b)
        };
        if let Some(layout) = layouts.iter().find(same) {
            return layout;
        }
        let mut slots = vec![Layout::NONE; names.iter().map(|k| k.0.number + 1).max().unwrap_or(0)];
        for (slot, k) in (0..).zip(&names) {
            slots[k.0.number] = slot;
        }
        let layout: &'static Layout = Box::leak(Box::new(Layout { names, slots }));
        layouts.push(layout);
        layout
    }

    /// This layout with `key` added.
    fn with(&self, key: Key) -> &'static Layout {
        Layout::of(self.names.iter().copied().chain([key]))
    }
}

/// The layout of no names, an empty map's: taken without a lock (an empty map is
/// made, as a placeholder, for every line).
static EMPTY_LAYOUT: Layout = Layout {
    names: Vec::new(),
    slots: Vec::new(),
};

impl fmt::Debug for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.names).finish()
    }
}

/// Names and their values, in name order: a slot per name of its layout.
#[derive(Clone)]
pub struct FailData {
    layout: &'static Layout,
    /// As many as the layout has names, or none before the first value is set.
    values: Vec<Option<Value>>,
}

impl Default for FailData {
    fn default() -> FailData {
        FailData::with_layout(&EMPTY_LAYOUT)
    }
}

impl FailData {
    /// An empty map of the names of `layout` (others may be set: the map then takes
    /// a layout with them).
    pub(crate) fn with_layout(layout: &'static Layout) -> FailData {
        FailData {
            layout,
            values: Vec::new(),
        }
    }

    /// The value of `name`.
    #[inline]
    pub fn get<N: Name + ?Sized>(&self, name: &N) -> Option<&Value> {
        self.values.get(name.slot_in(self)?)?.as_ref()
    }

    /// The captured text of `name` (see [`Value::text`]).
    pub fn text<N: Name + ?Sized>(&self, name: &N) -> Option<&str> {
        self.get(name).and_then(Value::text)
    }

    /// Whether it holds an address (`ip4` or `ip6`): a failure id that is no host
    /// name to resolve.
    pub(crate) fn holds_address(&self) -> bool {
        self.text(&NAMES.ip4).is_some() || self.text(&NAMES.ip6).is_some()
    }

    /// A copy of the captured text of `name` (a short one's bytes as they are kept:
    /// see [`put_text`]).
    pub(crate) fn text_owned<N: Name + ?Sized>(&self, name: &N) -> Option<Text> {
        match self.get(name)? {
            Value::Text(text) => text.clone(),
            _ => None,
        }
    }

    /// Whether `name` is there and truthy (see [`Value::truthy`]).
    pub fn truthy<N: Name + ?Sized>(&self, name: &N) -> bool {
        self.get(name).is_some_and(Value::truthy)
    }

    /// The slot of `name`, the layout first extended with the name if it has not it.
    #[inline]
    fn slot_mut(&mut self, name: Key) -> &mut Option<Value> {
        let slot = match self.layout.slot(name) {
            Some(slot) => slot,
            None => self.extend_layout(name),
        };
        &mut self.made_slots()[slot]
    }

    /// Take the layout with `name` added, the values moved to their new slots; the
    /// slot of `name`. Not on the way of a filter's maps (their layout has every
    /// name their filter sets).
    #[cold]
    fn extend_layout(&mut self, name: Key) -> usize {
        let layout = self.layout.with(name);
        let mut values = vec![None; layout.names.len()];
        for (k, v) in self.layout.names.iter().zip(self.values.drain(..)) {
            if let (Some(slot), Some(v)) = (layout.slot(*k), v) {
                values[slot] = Some(v);
            }
        }
        self.values = values;
        self.layout = layout;
        layout.slot(name).unwrap_or_default()
    }

    /// The slots, as many as the layout has names (none are made before the first
    /// value is set).
    #[inline]
    fn made_slots(&mut self) -> &mut [Option<Value>] {
        if self.values.is_empty() {
            self.values.resize(self.layout.names.len(), None);
        }
        &mut self.values
    }

    /// Set `name` to `value`.
    #[inline]
    pub(crate) fn insert(&mut self, name: Key, value: Value) {
        *self.slot_mut(name) = Some(value);
    }

    /// `name` set to the captured text `text` if it has no value (see
    /// [`Value::put_captured`]).
    pub(crate) fn add_captured(&mut self, name: Key, text: Option<&str>) {
        let slot = self.slot_mut(name);
        if slot.is_none() {
            Value::put_captured(slot, text);
        }
    }

    /// The value of `name`, set to `make()` first if it has none.
    pub(crate) fn get_or_insert_with(
        &mut self,
        name: Key,
        make: impl FnOnce() -> Value,
    ) -> &mut Value {
        self.slot_mut(name).get_or_insert_with(make)
    }

    /// Take `name` out.
    #[inline]
    pub(crate) fn remove<N: Name + ?Sized>(&mut self, name: &N) -> Option<Value> {
        let slot = name.slot_in(self)?;
        self.values.get_mut(slot)?.take()
    }

    /// Add the names of `defaults` this has not, with their values there.
    pub(crate) fn add_missing(&mut self, defaults: &FailData) {
        if !std::ptr::eq(self.layout, defaults.layout) {
            for (k, v) in defaults.iter_keys() {
                self.get_or_insert_with(*k, || v.clone());
            }
            return;
        }
        if defaults.values.is_empty() {
            return;
        }
        for (mine, theirs) in self.made_slots().iter_mut().zip(&defaults.values) {
            if let (None, Some(v)) = (&mine, theirs) {
                *mine = Some(v.clone());
            }
        }
    }

    /// Set each name of `other` to its value there, but the values `keep_mine` says
    /// this keeps its own for; `other` is left empty (its allocation kept).
    pub(crate) fn update_from(&mut self, other: &mut FailData, keep_mine: impl Fn(&Value) -> bool) {
        if other.values.is_empty() {
            return;
        }
        if !std::ptr::eq(self.layout, other.layout) {
            let names = other.layout.names.iter();
            for (k, theirs) in names.zip(other.values.iter_mut()) {
                match theirs.take() {
                    Some(v) if !keep_mine(&v) => self.insert(*k, v),
                    _ => {}
                }
            }
            return;
        }
        for (mine, theirs) in self.made_slots().iter_mut().zip(other.values.iter_mut()) {
            match theirs.take() {
                Some(v) if !keep_mine(&v) => *mine = Some(v),
                _ => {}
            }
        }
    }

    /// Empty it, keeping its allocation and layout.
    pub(crate) fn clear(&mut self) {
        self.values.iter_mut().for_each(|v| *v = None);
    }

    pub fn is_empty(&self) -> bool {
        self.values.iter().all(Option::is_none)
    }

    /// Whether it has slots made (an allocation) to fill.
    pub(crate) fn has_room(&self) -> bool {
        !self.values.is_empty()
    }

    /// Names and values, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&&'static str, &Value)> {
        self.iter_keys().map(|(k, v)| (&k.0.name, v))
    }

    /// Names and values, in name order, taken out of the map.
    pub(crate) fn into_keyed(self) -> impl Iterator<Item = (Key, Value)> {
        let names: &'static [Key] = &self.layout.names;
        let values = self.values.into_iter();
        names.iter().zip(values).filter_map(|(k, v)| Some((*k, v?)))
    }

    /// [`FailData::iter`] with the interned names.
    fn iter_keys(&self) -> impl Iterator<Item = (&'static Key, &Value)> {
        let names: &'static [Key] = &self.layout.names;
        names
            .iter()
            .zip(&self.values)
            .filter_map(|(k, v)| Some((k, v.as_ref()?)))
    }

    /// This map emptied and given `layout`: its slots, to be filled by the layout's
    /// slot numbers ([`Layout::slot`]). The map's allocation is kept: a map
    /// refilled per line allocates once.
    pub(crate) fn emptied(&mut self, layout: &'static Layout) -> &mut [Option<Value>] {
        if std::ptr::eq(self.layout, layout) {
            self.clear();
        } else {
            *self = FailData::with_layout(layout);
        }
        self.made_slots()
    }
}

/// Maps are equal when they hold the same names with the same values (whatever
/// their layouts).
impl PartialEq for FailData {
    fn eq(&self, other: &FailData) -> bool {
        self.iter().eq(other.iter())
    }
}

impl fmt::Debug for FailData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// The order of names (that of `str`), byte by byte: names are short and differ
/// early, where a `memcmp` call would cost more than the comparison.
fn name_order(a: &str, b: &str) -> Ordering {
    a.bytes().cmp(b.bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_written_in_place_is_the_text_whatever_its_length_and_what_was_there() {
        let long = "2001:db8:85a3::8a2e:370:7334 and more";
        for text in ["", "a", "192.0.2.1", "exactly-twenty-four-byte", "éé", long] {
            for before in [None, Some(Text::from("old")), Some(Text::from(long))] {
                let mut place = before.clone();
                put_text(&mut place, text);
                assert_eq!(place.as_deref(), Some(text), "{text:?} over {before:?}");
            }
        }
        let mut slot = Some(Value::Flag(3));
        Value::put_captured(&mut slot, Some("bob"));
        assert_eq!(slot, Some(Value::Text(Some("bob".into()))));
        Value::put_captured(&mut slot, None);
        assert_eq!(slot, Some(Value::Text(None)));
        let mut d = FailData::default();
        d.add_captured(key("user"), Some("alice"));
        d.add_captured(key("user"), Some("mallory"));
        d.add_captured(key("ip4"), None);
        assert_eq!(d.text_owned(&key("user")).as_deref(), Some("alice"));
        assert_eq!(d.get(&key("ip4")), Some(&Value::Text(None)));
        assert_eq!(d.text_owned(&key("ip4")), None);
    }

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
        assert_eq!(d.iter().count(), 4);
    }

    #[test]
    fn a_map_takes_a_layout_with_the_names_it_is_given() {
        let names: Vec<Key> = (0..70).map(|i| key(&format!("many_{i:02}"))).collect();
        let layout = Layout::of(names[..60].iter().copied());
        assert!(std::ptr::eq(
            layout,
            Layout::of(names[..60].iter().rev().copied())
        ));
        let mut d = FailData::with_layout(layout);
        d.insert(names[0], Value::Flag(1));
        assert!(std::ptr::eq(d.layout, layout), "a name of its layout");
        let late = Interned(names[69]);
        assert_eq!(d.get(&late), None, "not in the layout: none");
        d.insert(late.key(), Value::Flag(2));
        assert_eq!(d.layout.names.len(), 61, "a layout with the name added");
        assert_eq!(d.get(&late), Some(&Value::Flag(2)));
        assert_eq!(
            d.get(&Interned(names[0])),
            Some(&Value::Flag(1)),
            "moved over"
        );
        let mut other = FailData::with_layout(layout);
        other.insert(names[1], Value::Flag(3));
        d.update_from(&mut other, |_| false);
        assert!(other.is_empty());
        assert_eq!(
            d.get("many_01"),
            Some(&Value::Flag(3)),
            "from another layout"
        );
        assert_eq!(d.remove(&late), Some(Value::Flag(2)));
        assert_eq!(d.get(&late), None);
        let names: Vec<&str> = d.iter().map(|(k, _)| &**k).collect();
        assert_eq!(names, ["many_00", "many_01"]);
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
