//! A failure's data as it leaves the filter, and Fail2ban's multi-line merge.
//!
//! Owns [`Merged`]: what Fail2ban's filter keeps in the dict of one failure, and of
//! one multi-line id (`<F-MLFID>`, an sshd connection) in its cache, with the names
//! its merge reads and writes (`nofail`, `mlfgained`, `mlfpending`, `users`,
//! `matches`, `nofail-matches`) held as fields beside the captured groups; and the
//! merge itself (Fail2ban's `Filter._mergeFailure`) on those fields. Fail2ban's dict
//! is made only when asked for ([`Merged::to_data`]: the tester's `-o` and `--json`,
//! an action's tags), not for each line merged.
//!
//! Why fields: a busy auth.log merges seven lines in ten, and a merge that looked each
//! flag up by name in the dict, dropped it, and copied the dict shared with the cache
//! cost more than the failregex search that found the line. It does not search, and
//! does not decide what a failure's id is (the engine does).

use std::collections::BTreeSet;
use std::sync::Arc;

use smallvec::SmallVec;

use crate::faildata::{FailData, Interned, Key, Line, Text, Value, NAMES};
use crate::mlfid::{self, MlfidCache};

/// The data of one failure, or of one multi-line id in the filter's cache (shared
/// with the last failure of that id, as Fail2ban shares the dict).
#[derive(Debug, Clone, Default)]
pub struct Merged {
    /// The captured groups (lower-case names, without `F-`), the prefregex's with
    /// them, and what the engine adds (`ip`); none of the names below.
    groups: FailData,
    /// `nofail`: `<F-NOFAIL>`'s value, or `mlfgained`'s when that set it.
    nofail: Option<Value>,
    /// `mlfgained`: `<F-MLFGAINED>`'s value.
    mlfgained: Option<Value>,
    /// `mlfpending`: a failregex of this id matched without an address yet.
    mlfpending: bool,
    /// `users`: every user the id's lines named, sorted; none: no `users` entry.
    users: SmallVec<[Text; 2]>,
    /// `matches`: the lines that make the failure.
    matches: Option<Vec<Line>>,
    /// `nofail-matches`: no-failure lines kept for a failure of the same id.
    nofail_matches: Option<Vec<Line>>,
    /// The order Fail2ban's dict holds the names in, where the filter records it.
    order: KeyOrder,
}

/// The order of the names in Fail2ban's dict of a failure: a Python dict keeps its
/// keys in the order they were first set, and one taken out (`pop`) and set again
/// goes last. Only `fail2ban-regex -o row` shows it (the filter records it only where
/// asked, see `Filter::records_key_order`): elsewhere this is `None`, and setting
/// or taking out a name costs a branch.
#[derive(Debug, Clone, Default)]
pub(crate) struct KeyOrder(Option<Vec<Key>>);

impl KeyOrder {
    /// The order of a new dict whose names were set in the order of `keys`.
    pub fn of(keys: impl IntoIterator<Item = Key>) -> KeyOrder {
        let mut order = KeyOrder(Some(Vec::new()));
        keys.into_iter().for_each(|k| order.set(k));
        order
    }

    /// `dict[name] = …`: a new name goes last, a known one keeps its place.
    fn set(&mut self, name: Key) {
        if let Some(keys) = &mut self.0 {
            if !keys.contains(&name) {
                keys.push(name);
            }
        }
    }

    /// `dict.pop(name)`.
    fn pop(&mut self, name: Key) {
        if let Some(keys) = &mut self.0 {
            keys.retain(|k| *k != name);
        }
    }

    /// Where `name` is (`None`: not recorded, or not there).
    fn position(&self, name: Key) -> Option<usize> {
        self.0.as_ref()?.iter().position(|k| *k == name)
    }
}

impl Merged {
    /// The lines that make this failure.
    pub fn matches(&self) -> &[Line] {
        self.matches.as_deref().unwrap_or(&[])
    }

    /// Whether its `nofail` is truthy: a no-failure match.
    pub fn is_nofail(&self) -> bool {
        self.nofail.as_ref().is_some_and(Value::truthy)
    }

    /// The captured text of `name` (with `nofail` and `mlfgained`, which may be one).
    pub fn text(&self, name: &str) -> Option<&str> {
        match name {
            "nofail" => self.nofail.as_ref().and_then(Value::text),
            "mlfgained" => self.mlfgained.as_ref().and_then(Value::text),
            _ => self.groups.text(name),
        }
    }

    /// The captured text of a group the engine reads on every failure (an address,
    /// the failure id).
    pub(crate) fn group_text(&self, name: &Interned) -> Option<&str> {
        self.groups.text(name)
    }

    /// A copy of [`Merged::group_text`].
    pub(crate) fn group_text_owned(&self, name: &Interned) -> Option<Text> {
        self.groups.text_owned(name)
    }

    /// Set a group the engine adds (`ip`).
    pub(crate) fn set_group(&mut self, name: &Interned, value: Value) {
        self.groups.insert(name.key(), value);
        self.order.set(name.key());
    }

    /// [`Merged::to_data`]'s names and values in the order of Fail2ban's dict, where
    /// the filter records it (see [`KeyOrder`]), else in name order.
    pub fn to_data_in_order(&self) -> Vec<(Key, Value)> {
        let mut fields: Vec<(Key, Value)> = self.to_data().into_keyed().collect();
        // stable: a name not recorded (none is, unless unrecorded) stays in name order
        fields.sort_by_key(|(k, _)| self.order.position(*k).unwrap_or(usize::MAX));
        fields
    }

    /// Fail2ban's dict of this failure: every name with its value, in name order.
    pub fn to_data(&self) -> FailData {
        let names = &*NAMES;
        let mut data = self.groups.clone();
        let mut set = |name: &Interned, value: Option<Value>| {
            if let Some(value) = value {
                data.insert(name.key(), value);
            }
        };
        set(&names.nofail, self.nofail.clone());
        set(&names.mlfgained, self.mlfgained.clone());
        set(&names.mlfpending, self.mlfpending.then_some(Value::Flag(1)));
        let users = (!self.users.is_empty())
            .then(|| Value::Set(self.users.iter().cloned().collect::<BTreeSet<_>>()));
        set(&names.users, users);
        set(&names.matches, self.matches.clone().map(Value::Lines));
        set(
            &names.nofail_matches,
            self.nofail_matches.clone().map(Value::Lines),
        );
        data
    }

    /// Add `user` to the id's users; how many there are.
    fn add_user(&mut self, user: Option<Text>) -> usize {
        if let Some(user) = user {
            if let Err(at) = self.users.binary_search(&user) {
                self.users.insert(at, user);
            }
        }
        self.users.len()
    }

    /// Whether its groups hold an address (see [`FailData::holds_address`]): then a
    /// match merged into it has an address for its id whatever it names itself (a
    /// group that takes no part leaves the earlier value), and no host name to resolve.
    fn holds_address(&self) -> bool {
        self.groups.holds_address()
    }

    /// How many users the id would have with `user`.
    fn users_with(&self, user: Option<&str>) -> usize {
        let new = user.is_some_and(|u| !self.users.iter().any(|known| known == u));
        self.users.len() + usize::from(new)
    }
}

/// The allocations of earlier failures, emptied, for the next ones' data.
#[derive(Debug, Default)]
pub(crate) struct Spares {
    /// Where the next failregex match's groups are read (taken, and put back).
    pub fail: FailData,
    /// An emptied vector for the next failure's matched lines.
    lines: Vec<Line>,
    /// Emptied data of failures that nothing holds any more.
    shared: Vec<Arc<Merged>>,
}

/// Emptied failure data kept for reuse (a line has nearly always one failure at
/// most; a few more cover the odd line with several).
const SPARE_SHARED: usize = 4;

impl Spares {
    /// Spares whose first match's groups are read into `fail`.
    pub fn new(fail: FailData) -> Spares {
        Spares {
            fail,
            ..Spares::default()
        }
    }

    /// Keep the allocations of a failure's data if nothing else holds it (not the
    /// multi-line cache, not the caller).
    pub fn recycle(&mut self, mut shared: Arc<Merged>) {
        // Most failures' data is held by the multi-line cache too: told by a load,
        // before `get_mut`'s locked compare-and-swap would tell it.
        if Arc::strong_count(&shared) > 1 {
            return;
        }
        let Some(merged) = Arc::get_mut(&mut shared) else {
            return;
        };
        if self.lines.capacity() == 0 {
            if let Some(mut lines) = merged.matches.take() {
                lines.clear();
                self.lines = lines;
            }
        }
        // everything emptied but the groups' slots, whose allocation is kept
        let mut groups = std::mem::take(&mut merged.groups);
        groups.clear();
        *merged = Merged {
            groups,
            ..Merged::default()
        };
        if self.shared.len() < SPARE_SHARED {
            self.shared.push(shared);
        }
    }

    /// A new failure's data with `groups`, then given the rest by `fill`, in the data
    /// of an earlier failure when one was kept; the emptied groups it replaces become
    /// the spare `fail`, where the next match's groups are read, when that has less
    /// room. (Filled here, where it is known to be unshared: each `Arc::make_mut`
    /// after it would be another locked compare-and-swap.)
    fn share(&mut self, mut groups: FailData, fill: impl FnOnce(&mut Merged)) -> Arc<Merged> {
        if let Some(mut shared) = self.shared.pop() {
            if let Some(merged) = Arc::get_mut(&mut shared) {
                std::mem::swap(&mut merged.groups, &mut groups);
                if !self.fail.has_room() && groups.has_room() {
                    self.fail = groups;
                }
                fill(merged);
                return shared;
            }
        }
        let mut merged = Merged {
            groups,
            ..Merged::default()
        };
        fill(&mut merged);
        Arc::new(merged)
    }

    /// A vector of `lines`, in a kept allocation when there is one.
    fn lines(&mut self, lines: impl Iterator<Item = Line>) -> Vec<Line> {
        let mut vec = std::mem::take(&mut self.lines);
        vec.extend(lines);
        vec
    }
}

/// The multi-line cache: each id's data, shared with its last failure; `None` for
/// an id whose entry was taken.
pub(crate) type Cache = MlfidCache<Option<Arc<Merged>>>;

/// A failure without a multi-line id: its groups and the lines it matched.
/// `order`: the order of `fail`'s names (see [`KeyOrder`]).
pub(crate) fn single(
    spares: &mut Spares,
    mut fail: FailData,
    mut order: KeyOrder,
    matched: impl Iterator<Item = Line>,
) -> Arc<Merged> {
    let names = &*NAMES;
    let nofail = fail.remove(&names.nofail);
    let mlfgained = fail.remove(&names.mlfgained);
    let matches = Some(spares.lines(matched));
    order.set(names.matches.key());
    spares.share(fail, |merged| {
        merged.nofail = nofail;
        merged.mlfgained = mlfgained;
        merged.matches = matches;
        merged.order = order;
    })
}

/// Whether `fail`, of the multi-line id `mlfid`, ends its connection
/// (`F-MLFFORGET`), is no failure by itself (`F-NOFAIL` or `F-MLFGAINED`), and
/// stays no failure when merged: neither pending failures of the id (which a
/// gained login clears) nor a second user make it one. Such a merge leaves nothing
/// behind but the id forgotten, which is done here; a caller that drops what is no
/// failure (the daemon) then need not merge. The connection-closing lines of a
/// busy auth.log, a quarter of its lines, are these. Decided as [`merge`] decides.
pub(crate) fn forgets_as_no_failure(
    cache: &mut Cache,
    spares: &mut Spares,
    mlfid: &str,
    fail: &FailData,
) -> bool {
    let names = &*NAMES;
    let gained = fail.truthy(&names.mlfgained);
    let no_failure = gained || fail.truthy(&names.nofail);
    if !no_failure || !fail.truthy(&names.mlfforget) || fail.truthy(&names.mlfpending) {
        return false;
    }
    let user = fail.text(&names.user).filter(|u| !u.is_empty());
    forgets_ending(cache, spares, mlfid, gained, Some(user), || true) == Some(true)
}

/// [`forgets_as_no_failure`] for a match known to end its connection as no failure
/// (`gained`: by `F-MLFGAINED`) with no pending mark of its own, given its user
/// (`None`: not known, the match's groups not read). `None` when that user would
/// decide: the id has an entry and the user is not known. `names_address`: whether
/// the match names an address, asked only where its id's entry holds none (see
/// [`Merged::holds_address`]); where it does not, nothing is decided.
pub(crate) fn forgets_ending(
    cache: &mut Cache,
    spares: &mut Spares,
    mlfid: &str,
    gained: bool,
    user: Option<Option<&str>>,
    names_address: impl FnOnce() -> bool,
) -> Option<bool> {
    let Some(entry) = cache.get(mlfid, mlfid::clock()) else {
        // nothing to merge with, and a forgetting failure is not remembered
        return Some(names_address());
    };
    let Some(cached) = entry.as_deref() else {
        return Some(false);
    };
    if cached.users_with(user?) > 1 || (!gained && cached.mlfpending) {
        return Some(false);
    }
    if !cached.holds_address() && !names_address() {
        return Some(false);
    }
    forget_looked_up(cache, spares, mlfid);
    Some(true)
}

/// What merging a failure that ends the connection of `mlfid` (`F-MLFFORGET`, no
/// `F-NOFAIL` or `F-MLFGAINED`) leaves in the cache: the id's entry forgotten, looked
/// up first as [`merge`] looks it up (which forgets an expired one too). Done where
/// the entry holds an address (see [`Merged::holds_address`]) or `names_address`
/// says the match names one; whether it was.
pub(crate) fn forget(
    cache: &mut Cache,
    spares: &mut Spares,
    mlfid: &str,
    names_address: impl FnOnce() -> bool,
) -> bool {
    match cache.get(mlfid, mlfid::clock()) {
        Some(Some(cached)) => {
            let forgets = cached.holds_address() || names_address();
            if forgets {
                forget_looked_up(cache, spares, mlfid);
            }
            forgets
        }
        // an entry without data is one being merged: [`merge`] leaves it
        _ => names_address(),
    }
}

/// Forget the entry of `mlfid`, which holds data: the connection's data, held by
/// nothing else now, serves the next new id's.
fn forget_looked_up(cache: &mut Cache, spares: &mut Spares, mlfid: &str) {
    if let Some(Some(forgotten)) = cache.unset(mlfid) {
        spares.recycle(forgotten);
    }
}

/// Merge a failure with what is known of its multi-line id (Fail2ban's
/// `_mergeFailure`): `F-NOFAIL`, `F-MLFFORGET`, `F-MLFGAINED`, users and matches.
/// The flags are Fail2ban's: 1 no failure, 2 forget the id, 4 the id's last line
/// was no failure, 8 a gained login. `order`: the order of `fail`'s names, which the
/// merge changes as Fail2ban's changes its dict's (see [`KeyOrder`]).
pub(crate) fn merge(
    cache: &mut Cache,
    spares: &mut Spares,
    mlfid: &str,
    mut fail: FailData,
    mut order: KeyOrder,
    matched: impl Iterator<Item = Line>,
) -> Arc<Merged> {
    let names = &*NAMES;
    let mut nofail = fail.remove(&names.nofail);
    let mlfgained = fail.remove(&names.mlfgained);
    let mut flags = 0u8;
    if mlfgained.as_ref().is_some_and(Value::truthy) {
        flags |= 8 | 1;
        if !nofail.as_ref().is_some_and(Value::truthy) {
            nofail = mlfgained.clone();
            order.set(names.nofail.key());
        }
    } else if nofail.as_ref().is_some_and(Value::truthy) {
        flags |= 1;
    }
    if fail.remove(&names.mlfforget).is_some_and(|v| v.truthy()) {
        flags |= 2;
    }
    order.pop(names.mlfforget.key());
    let user = fail.text_owned(&names.user).filter(|u| !u.is_empty());
    let now = mlfid::clock();
    // Taken out of the cache, not copied: the entry (looked up once) is given the
    // merged failure at the end, or forgotten.
    let mut entry = cache.get(mlfid, now);
    let cached = entry.as_mut().and_then(|cached| cached.take());
    let was_cached = cached.is_some();
    // (a new id's data is made with `fail` as its groups; a known id's is given them)
    let (mut shared, fail) = match cached {
        Some(shared) => (shared, Some(fail)),
        None => (spares.share(fail, |_| {}), None),
    };
    // changed in place: copied only when the last failure of this id is still held
    // somewhere
    let merged = Arc::make_mut(&mut shared);
    let user_named = user.is_some();
    let users = match fail {
        Some(mut fail) => {
            let users = merged.add_user(user);
            if user_named {
                merged.order.set(names.users.key());
            }
            if merged.nofail.take().is_some_and(|v| v.truthy()) {
                flags |= 4;
            }
            if merged.mlfgained.take().is_some_and(|v| v.truthy()) {
                flags |= 4;
            }
            merged.order.pop(names.nofail.key());
            merged.order.pop(names.mlfgained.key());
            if flags & 8 != 0 {
                merged.mlfpending = false;
                merged.order.pop(names.mlfpending.key());
            }
            if flags & 4 == 0 && !merged.mlfpending {
                if let Some(mut lines) = merged.matches.take() {
                    lines.clear();
                    spares.lines = lines;
                }
                merged.order.pop(names.matches.key());
            }
            if let KeyOrder(Some(keys)) = &order {
                let value_of = |k: Key| match k {
                    k if k == names.nofail.key() => nofail.as_ref(),
                    k if k == names.mlfgained.key() => mlfgained.as_ref(),
                    k => fail.get(&k),
                };
                for k in keys.iter().filter(|k| value_of(**k).is_some_and(took_part)) {
                    merged.order.set(*k);
                }
            }
            merged.groups.update_from(&mut fail, |v| !took_part(v));
            merged.nofail = nofail.filter(took_part);
            merged.mlfgained = mlfgained.filter(took_part);
            spares.fail = fail;
            users
        }
        // stored at the end (unless forgotten), with the merged failure
        None => {
            merged.nofail = nofail;
            merged.mlfgained = mlfgained;
            merged.order = order;
            if flags & 2 == 0 {
                if user_named {
                    merged.order.set(names.users.key());
                }
                merged.add_user(user)
            } else {
                0
            }
        }
    };
    // Fail2ban takes `mlfpending` out whatever it held
    merged.order.pop(names.mlfpending.key());
    if std::mem::take(&mut merged.mlfpending) || users > 1 {
        merged.nofail = None;
        merged.mlfgained = None;
        merged.order.pop(names.nofail.key());
        merged.order.pop(names.mlfgained.key());
        flags &= !(8 | 1);
    }
    if flags & 1 == 0 {
        merged.order.pop(names.nofail_matches.key());
        merged.order.set(names.matches.key());
        let mut lines = merged
            .nofail_matches
            .take()
            .unwrap_or_else(|| std::mem::take(&mut spares.lines));
        if let Some(earlier) = merged.matches.take() {
            if lines.is_empty() {
                // the empty one (the spare, or none) is kept for the next failure
                spares.lines = std::mem::replace(&mut lines, earlier);
            } else {
                lines.extend(earlier);
            }
        }
        if flags & 8 == 0 {
            lines.extend(matched);
        }
        merged.matches = Some(lines);
    } else if flags & 3 == 1 {
        merged.order.set(names.nofail_matches.key());
        let mut lines = merged
            .nofail_matches
            .take()
            .unwrap_or_else(|| std::mem::take(&mut spares.lines));
        lines.extend(matched);
        merged.nofail_matches = Some(lines);
    }
    // The cache holds the same (shared) data as the failure, as in Fail2ban.
    match entry.filter(|_| was_cached) {
        Some(_) if flags & 2 != 0 => {
            cache.unset(mlfid);
        }
        Some(entry) => *entry = Some(shared.clone()),
        None if flags & 2 == 0 => cache.set(mlfid, Some(shared.clone()), now),
        None => {}
    }
    shared
}

/// [`merge`] of a failure `fail` of the multi-line id `mlfid`, for a caller that
/// reads no failure's data, where the match makes no name take part that makes it no
/// failure or changes how it merges, and names an address of its own (see
/// `Rx::counted_slots`): the merge gives a failure whatever the id holds, and of
/// what it leaves in the cache this leaves what later merges decide by (the id's
/// users, no pending failure, its address; `fail` holds only those groups that take
/// part and its user).
pub(crate) fn count_failure(
    cache: &mut Cache,
    spares: &mut Spares,
    mlfid: &str,
    mut fail: FailData,
) {
    let names = &*NAMES;
    let user = fail.text_owned(&names.user).filter(|u| !u.is_empty());
    let now = mlfid::clock();
    match cache.get(mlfid, now) {
        Some(Some(cached)) => {
            let merged = Arc::make_mut(cached);
            merged.add_user(user);
            merged.nofail = None;
            merged.mlfgained = None;
            merged.mlfpending = false;
            merged.groups.update_from(&mut fail, |v| !took_part(v));
            spares.fail = fail;
        }
        // a new id (or one being merged, which the merge takes as new)
        _ => {
            let merged = spares.share(fail, |merged| {
                merged.add_user(user);
            });
            cache.set(mlfid, Some(merged), now);
        }
    }
}

/// Whether a group took part in its match: one that did not leaves the earlier
/// value when merged.
fn took_part(value: &Value) -> bool {
    !matches!(value, Value::Text(None))
}

/// Set the group `name` (one the engine adds) in a failure's data `merged`, and in
/// the cached entry of its multi-line id `mlfid` where that is the same data: Fail2ban
/// sets it in the dict its cache shares with the failure, and the id's later
/// failures start from that dict (their rows show the name where it was set first,
/// and its value where they set none).
pub(crate) fn set_shared(
    cache: &mut Cache,
    mlfid: Option<&str>,
    merged: &mut Arc<Merged>,
    name: &Interned,
    value: Value,
) {
    let shared = |slot: &&mut Option<Arc<Merged>>| {
        (slot.as_ref()).is_some_and(|cached| Arc::ptr_eq(cached, merged))
    };
    match mlfid.and_then(|id| cache.peek_mut(id)).filter(shared) {
        Some(slot) => {
            // the cache's handle let go, the data is changed in place, then shared again
            *slot = None;
            Arc::make_mut(merged).set_group(name, value);
            *slot = Some(Arc::clone(merged));
        }
        None => Arc::make_mut(merged).set_group(name, value),
    }
}

/// Note in the cache that a failregex of `mlfid` matched without an address (the
/// failure waits for one): `mlfpending`.
pub(crate) fn note_pending(cache: &mut Cache, mlfid: &str) {
    if let Some(Some(cached)) = cache.peek_mut(mlfid) {
        let cached = Arc::make_mut(cached);
        cached.mlfpending = true;
        cached.order.set(NAMES.mlfpending.key());
    }
}
