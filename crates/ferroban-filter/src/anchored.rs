//! Linear patterns whose every match starts the haystack (`^…`), on a deterministic
//! automaton read from a start position until it dies: for one pattern, where its
//! leftmost-first match ends and how many bytes decided it; for several
//! ([`AnchoredDfa::all_of`]), which of them match there.
//!
//! Owns that automaton, built from a pattern's Unicode form (the meaning of the
//! pattern), or from its ASCII form for ASCII text (on which the two agree), and a
//! table of its own whose walk is a class look-up and a table look-up per byte (see
//! [`Table`]). It does not capture groups and does not search where a match could
//! start anywhere.
//!
//! Why the table is made as it is walked: a fully built automaton for a filter's
//! failregex heads together takes about 200 million instructions to build (most of a
//! filter's start-up) and holds thousands of states that log lines never reach. Here
//! a state's row is made the first time a walk reaches it, by the `regex-automata`
//! crate's lazy automaton, and kept; walks read the table without a lock, so the
//! one lock is taken only where a row or a move is new. The table is bounded: past
//! its bound (or when the lazy automaton would have to forget states) it stops
//! growing and a walk that needs a new move cannot tell, which every caller already
//! handles (as at a non-ASCII byte).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

use regex_automata::hybrid::dfa::{Cache, Config, DFA};
use regex_automata::hybrid::LazyStateID;
use regex_automata::nfa::thompson;
use regex_automata::util::start;
use regex_automata::{Anchored, MatchKind};
use regex_syntax::hir::{Hir, Look};

/// A deterministic automaton for linear patterns whose every match starts with `\A`.
#[derive(Debug)]
pub struct AnchoredDfa {
    table: Table,
    /// The start state at the haystack's start (nothing before it to look at), where
    /// nearly every walk begins, then after each byte, for a walk from inside the
    /// haystack: entries as the table's, [`UNKNOWN`] until first needed.
    starts: Box<[AtomicU32; 257]>,
    /// What makes new rows and moves (the slow path).
    maker: Mutex<Maker>,
    patterns: usize,
}

/// Where every match of an automaton's patterns must be, which decides where it is
/// read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Anchor {
    /// Anywhere: its caller walks it only from where a match must start.
    None,
    /// At the haystack's start (`\A`): read forwards from there.
    Start,
    /// At the haystack's end (`\z`, or `(?m:$)` for one line): read backwards from
    /// there.
    End,
}

/// The automaton's transitions as far as walks have needed them: a row of `stride`
/// entries per state (a column per byte class, the last for the haystack's end),
/// each [`UNKNOWN`] until made, then the row offset of the next state, flagged
/// [`MATCH`] for a match state, or the dead or quit state's (a byte the automaton cannot
/// read). A row's entries are written [`UNKNOWN`] when the row is made: the table is
/// allocated zeroed, and a row no walk reaches is never written (no resident
/// memory). Row 0 is no state's; the dead and quit states have rows 1 and 2, all of
/// whose moves stay there.
#[derive(Debug)]
struct Table {
    next: Box<[AtomicU32]>,
    /// Each byte's column.
    column_of: [u8; 256],
    stride: u32,
    /// The patterns each match state reports, by row number: a bit per pattern, in
    /// two words.
    reported: Box<[AtomicU32]>,
}

/// What only the slow path touches, under the automaton's lock.
#[derive(Debug)]
struct Maker {
    lazy: DFA,
    cache: Cache,
    /// A byte of each column but the last (the haystack's end).
    column_bytes: Vec<u8>,
    /// The lazy automaton's state of each row from [`FIRST_ROW`] on…
    state_of_row: Vec<LazyStateID>,
    /// …and each state's row offset.
    row_of: HashMap<LazyStateID, u32>,
    /// Rows the table has room for.
    max_rows: usize,
}

/// A table entry not made yet (all flags set: one comparison, `< MATCH`, tells a
/// move to a made state that is neither a match, dead nor quit one).
const UNKNOWN: u32 = u32::MAX;
/// The flag of an entry whose state is a match state…
const MATCH: u32 = 1 << 30;
/// …and of the dead and quit states' entries.
const STOP: u32 = 1 << 31;
/// The row offset in an entry.
const ROW: u32 = MATCH - 1;
/// The first row of a state the lazy automaton made (after the unused, dead and
/// quit rows).
const FIRST_ROW: usize = 3;
/// A table's rows at most, whatever its size bound: its allocation is reserved
/// whole (the rows no walk reaches take address space, not memory). The stock sshd
/// filter's failregex heads make 256–1,023 rows over the 1,000,000-line benchmark
/// (normal to aggressive mode), of 1,834 states in normal mode's whole automaton.
const MAX_ROWS: usize = 1 << 13;
/// The most patterns one automaton reports (two words of bits per match state).
const MAX_PATTERNS: usize = 64;

/// Bounds on one automaton (its table and the lazy automaton's memory): a date
/// template or a prefregex head takes well under a megabyte…
const ONE_PATTERN_LIMIT: usize = 4 << 20;
/// …and a filter's failregex heads together a few.
const PATTERNS_LIMIT: usize = 8 << 20;

impl AnchoredDfa {
    /// The automaton for a linear pattern (Rust syntax), when its matches all start
    /// with `\A`.
    pub fn of(source: &str) -> Option<AnchoredDfa> {
        AnchoredDfa::of_source(source, true)
    }

    /// [`AnchoredDfa::of`] for ASCII text: the automaton stops (cannot tell) at the
    /// first non-ASCII byte it reads.
    pub fn ascii_of(source: &str) -> Option<AnchoredDfa> {
        AnchoredDfa::of_source(source, false)
    }

    /// [`AnchoredDfa::ascii_of`] for a pattern whose matches need not start with
    /// `\A`, for a caller that walks it only from where its match must start (see
    /// `pattern::LeadingRun`): [`AnchoredDfa::match_end`] is then its anchored search.
    pub fn ascii_walked_from_match_start(source: &str) -> Option<AnchoredDfa> {
        let hir = AnchoredDfa::parse(source, false)?;
        AnchoredDfa::build(
            &[hir],
            MatchKind::LeftmostFirst,
            false,
            ONE_PATTERN_LIMIT,
            Anchor::None,
        )
    }

    /// The automaton reporting every one of `patterns` (parsed with ASCII classes,
    /// at most 64) that matches from the start, when all their matches start with
    /// `\A`; it stops at the first non-ASCII byte it reads, as
    /// [`AnchoredDfa::ascii_of`]'s.
    pub fn all_of(patterns: &[Hir]) -> Option<AnchoredDfa> {
        AnchoredDfa::build(
            patterns,
            MatchKind::All,
            false,
            PATTERNS_LIMIT,
            Anchor::Start,
        )
    }

    /// The automaton of `pattern` (parsed with ASCII classes) read backwards, for
    /// [`AnchoredDfa::matches_at_end`], when all its matches end with `\z` or
    /// `(?m:$)`; it stops at the first non-ASCII byte it reads.
    pub fn reversed(pattern: &Hir) -> Option<AnchoredDfa> {
        let patterns = std::slice::from_ref(pattern);
        AnchoredDfa::build(
            patterns,
            MatchKind::All,
            false,
            ONE_PATTERN_LIMIT,
            Anchor::End,
        )
    }

    fn of_source(source: &str, unicode: bool) -> Option<AnchoredDfa> {
        let hir = AnchoredDfa::parse(source, unicode)?;
        AnchoredDfa::build(
            &[hir],
            MatchKind::LeftmostFirst,
            unicode,
            ONE_PATTERN_LIMIT,
            Anchor::Start,
        )
    }

    fn parse(source: &str, unicode: bool) -> Option<Hir> {
        regex_syntax::ParserBuilder::new()
            .unicode(unicode)
            .utf8(unicode)
            .build()
            .parse(source)
            .ok()
    }

    /// The automaton for `patterns`, only when their every match is anchored as
    /// `anchor` says (at the start: a walk from inside the haystack is then a search
    /// for a match there, which `\A` rules out; at the end: it reads backwards).
    fn build(
        patterns: &[Hir],
        kind: MatchKind,
        unicode: bool,
        size_limit: usize,
        anchor: Anchor,
    ) -> Option<AnchoredDfa> {
        let anchored = |hir: &Hir| match anchor {
            Anchor::None => true,
            Anchor::Start => hir.properties().look_set_prefix().contains(Look::Start),
            Anchor::End => ends_anchored(hir),
        };
        if !patterns.iter().all(anchored) {
            return None;
        }
        if patterns.len() > MAX_PATTERNS {
            return None;
        }
        let mut config = Config::new()
            .match_kind(kind)
            .unicode_word_boundary(true)
            .cache_capacity(size_limit);
        if !unicode {
            config = (0x80..=0xFF).fold(config, |c, byte| c.quit(byte, true));
        }
        let nfa = thompson::Compiler::new()
            .configure(
                thompson::Config::new()
                    .utf8(unicode)
                    .reverse(anchor == Anchor::End)
                    // (a reverse automaton takes none; a walk reads none either)
                    .which_captures(match anchor {
                        Anchor::End => thompson::WhichCaptures::None,
                        _ => thompson::WhichCaptures::All,
                    }),
            )
            .build_many_from_hir(patterns)
            .ok()?;
        let lazy = DFA::builder().configure(config).build_from_nfa(nfa).ok()?;
        let classes = lazy.byte_classes();
        let stride = classes.alphabet_len();
        let column_bytes: Vec<u8> = classes
            .representatives(..)
            .filter_map(|unit| unit.as_u8())
            .collect();
        let mut column_of = [0u8; 256];
        for (byte, column) in column_of.iter_mut().enumerate() {
            *column = classes.get(byte as u8);
        }
        let max_rows = (size_limit / 4 / stride).clamp(FIRST_ROW + 1, MAX_ROWS);
        let next = zeroed(max_rows * stride);
        let (dead, quit) = (AnchoredDfa::dead(stride), AnchoredDfa::quit(stride));
        for (row, entry) in [(1, dead), (2, quit)] {
            next[row * stride..(row + 1) * stride]
                .iter()
                .for_each(|e| e.store(entry, Ordering::Relaxed));
        }
        let table = Table {
            next,
            column_of,
            stride: u32::try_from(stride).ok()?,
            reported: zeroed(2 * max_rows),
        };
        let maker = Maker {
            cache: lazy.create_cache(),
            lazy,
            column_bytes,
            state_of_row: Vec::new(),
            row_of: HashMap::new(),
            max_rows,
        };
        Some(AnchoredDfa {
            table,
            starts: Box::new(std::array::from_fn(|_| AtomicU32::new(UNKNOWN))),
            patterns: patterns.len(),
            maker: Mutex::new(maker),
        })
    }

    /// The dead state's entry in a table of `stride` columns…
    fn dead(stride: usize) -> u32 {
        STOP | stride as u32
    }

    /// …and the quit state's.
    fn quit(stride: usize) -> u32 {
        STOP | (2 * stride as u32)
    }

    /// The number of bytes of `hay` read until the automaton died, if it did (`None`
    /// also when it cannot tell, as [`AnchoredDfa::match_end`]).
    pub fn deciding_prefix_len(&self, hay: &[u8]) -> Option<usize> {
        self.walk(hay, 0, |_, _| {})?.died_at
    }

    /// The end of the leftmost-first match of `hay` from `start` (a match starts there
    /// or nowhere), `Some(None)` when there is none; `None` when the automaton cannot
    /// tell (it stopped at a non-ASCII byte it cannot read, or needed a move its full
    /// table cannot make).
    ///
    /// Why its own walk: a pattern with optional parts (a prefregex's head) passes
    /// match states on and off along a line, and a branch per match state would be
    /// mispredicted at each; here the last match end is kept by a select, and the one
    /// branch per byte (a made move or not) is nearly always taken the same way.
    #[inline]
    pub fn match_end(&self, hay: &[u8], start: usize) -> Option<Option<usize>> {
        let row = self.first_row(hay, start)?;
        let walk = self.match_walk(hay, start, row, None)?;
        self.match_end_after(hay, walk)
    }

    /// [`AnchoredDfa::match_end`] from `hay`'s start, where the walk of its first
    /// [`PREFIX_LEN`] bytes is taken from `walks` when a haystack beginning with the
    /// same bytes was walked recently (and kept there when not).
    #[inline]
    pub fn match_end_remembered(
        &self,
        hay: &[u8],
        walks: &mut PrefixWalks<MatchWalk>,
    ) -> Option<Option<usize>> {
        let Some(prefix) = PrefixWalks::<MatchWalk>::prefix_of(hay) else {
            return self.match_end(hay, 0);
        };
        let walk = walks.get_or_walk(prefix, || {
            let head = hay.get(..PREFIX_LEN)?;
            self.match_walk(head, 0, self.first_row(head, 0)?, None)
        })?;
        let walk = match walk.died {
            false => self.match_walk(hay, PREFIX_LEN, walk.row, walk.match_end)?,
            true => walk,
        };
        self.match_end_after(hay, walk)
    }

    /// The walk of [`AnchoredDfa::match_end`] from `start` in the state of `row`,
    /// with the match end seen so far; `None` when it cannot tell.
    ///
    /// Why its own walk: a pattern with optional parts (a prefregex's head) passes
    /// match states on and off along a line, and a branch per match state would be
    /// mispredicted at each; here the last match end is kept by a select, and the one
    /// branch per byte (a made move or not) is nearly always taken the same way.
    #[inline(always)]
    fn match_walk(
        &self,
        hay: &[u8],
        start: usize,
        mut row: u32,
        match_end: Option<usize>,
    ) -> Option<MatchWalk> {
        const NO_MATCH: usize = usize::MAX;
        let table = &self.table;
        let mut match_end = match_end.unwrap_or(NO_MATCH);
        let (next, column_of) = (&*table.next, &table.column_of);
        let mut died = false;
        for (at, &byte) in (start..).zip(hay.get(start..)?) {
            let column = u32::from(column_of[usize::from(byte)]);
            let mut entry = Table::entry_in(next, row, column);
            if entry >= STOP {
                if entry == UNKNOWN {
                    entry = self.make(row, column)?;
                }
                if entry >= STOP {
                    if entry == AnchoredDfa::quit(table.stride as usize) {
                        return None;
                    }
                    died = true;
                    break;
                }
            }
            // a move into a match state: a match ending at `at` (seen one byte late)
            match_end = if entry & MATCH != 0 { at } else { match_end };
            row = entry & ROW;
        }
        let match_end = (match_end != NO_MATCH).then_some(match_end);
        Some(MatchWalk {
            row,
            match_end,
            died,
        })
    }

    /// [`AnchoredDfa::match_end`]'s answer once its walk read all of `hay` (or died).
    #[inline(always)]
    fn match_end_after(&self, hay: &[u8], walk: MatchWalk) -> Option<Option<usize>> {
        if !walk.died && self.at_end(walk.row)? & MATCH != 0 {
            return Some(Some(hay.len()));
        }
        Some(walk.match_end)
    }

    /// Call `matched` with each pattern matching `hay` from its start; `false` when
    /// the automaton cannot tell (as [`AnchoredDfa::match_end`]).
    #[inline]
    pub fn each_match(&self, hay: &[u8], matched: impl FnMut(usize)) -> bool {
        let mut matched = matched;
        match self.each_match_in_prefix(hay, hay.len(), &mut matched) {
            Some(Some(resume)) => self.each_match_resumed(hay, hay.len(), resume, matched),
            Some(None) => true,
            None => false,
        }
    }

    /// [`AnchoredDfa::each_match`], where the walk of `hay`'s first [`PREFIX_LEN`]
    /// bytes is taken from `walks` when a haystack beginning with the same bytes was
    /// walked recently (and kept there when not).
    #[inline]
    pub fn each_match_remembered(
        &self,
        hay: &[u8],
        walks: &mut PrefixWalks<EachMatchWalk>,
        mut matched: impl FnMut(usize),
    ) -> bool {
        let Some(prefix) = PrefixWalks::<EachMatchWalk>::prefix_of(hay) else {
            return self.each_match(hay, matched);
        };
        let walk = walks.get_or_walk(prefix, || {
            let mut reported = 0u64;
            let resume =
                self.each_match_in_prefix(hay, PREFIX_LEN, |i| reported |= 1 << (i % 64))?;
            Some(EachMatchWalk { reported, resume })
        });
        let Some(walk) = walk else {
            return false;
        };
        let mut reported = walk.reported;
        while reported != 0 {
            matched(reported.trailing_zeros() as usize);
            reported &= reported - 1;
        }
        match walk.resume {
            Some(resume) => self.each_match_resumed(hay, PREFIX_LEN, resume, matched),
            None => true,
        }
    }

    /// [`AnchoredDfa::each_match`] over the first `len` bytes of `hay` only: where
    /// the walk left off, to go on from with [`AnchoredDfa::each_match_resumed`]
    /// (`Some(None)`: it died there, every match reported); `None` when it cannot
    /// tell.
    ///
    /// Why: the walk is deterministic, so haystacks that begin with the same bytes
    /// leave it in the same state after them, with the same matches reported; a
    /// caller that remembers where a prefix left it starts there (an auth.log's
    /// lines begin with a few dozen texts, whose moves are a chain of table reads).
    #[inline]
    pub fn each_match_in_prefix(
        &self,
        hay: &[u8],
        len: usize,
        matched: impl FnMut(usize),
    ) -> Option<Option<Resume>> {
        let (mut matched, mut noted) = (matched, None);
        let walk = self.walk(hay.get(..len)?, 0, |row, _| {
            // a state reached again (a match extending) reports the same patterns
            if noted != Some(row) {
                noted = Some(row);
                self.report(row, &mut matched);
            }
        })?;
        Some(walk.died_at.is_none().then_some(Resume(walk.row)))
    }

    /// Go on with a walk of `hay` from byte `from`, where
    /// [`AnchoredDfa::each_match_in_prefix`] of its first `from` bytes (or of another
    /// haystack's same bytes) left it; as [`AnchoredDfa::each_match`].
    #[inline]
    pub fn each_match_resumed(
        &self,
        hay: &[u8],
        from: usize,
        resume: Resume,
        matched: impl FnMut(usize),
    ) -> bool {
        let (mut matched, mut noted) = (matched, None);
        let mut note_once = |row: u32| {
            if noted != Some(row) {
                noted = Some(row);
                self.report(row, &mut matched);
            }
        };
        let Some(walk) = self.walk_from_row(hay, from, resume.0, |row, _| note_once(row)) else {
            return false;
        };
        if walk.died_at.is_none() {
            let Some(end) = self.at_end(walk.row) else {
                return false;
            };
            if end & MATCH != 0 {
                note_once(end & ROW);
            }
        }
        true
    }

    /// Report the patterns of the match state of `row` to `matched`.
    #[inline(always)]
    fn report(&self, row: u32, matched: &mut impl FnMut(usize)) {
        let mut reported = self.table.reported(row);
        while reported != 0 {
            matched(reported.trailing_zeros() as usize);
            reported &= reported - 1;
        }
    }

    /// Whether the pattern of an automaton made by [`AnchoredDfa::reversed`] matches
    /// a suffix of `hay`: `hay` is read from its end backwards until a match is seen
    /// or the automaton dies. `None` when it cannot tell (a non-ASCII byte, or a move
    /// the full table cannot make).
    #[inline]
    pub fn matches_at_end(&self, hay: &[u8]) -> Option<bool> {
        let table = &self.table;
        // one pattern: every match state is its
        let reports = |entry: u32| entry & MATCH != 0;
        // no byte after the end: the start state of a walk from the haystack's end
        let mut row = self.first_row(&[], 0)?;
        let (next, column_of) = (&*table.next, &table.column_of);
        for &byte in hay.iter().rev() {
            let column = u32::from(column_of[usize::from(byte)]);
            let mut entry = Table::entry_in(next, row, column);
            if entry == UNKNOWN {
                entry = self.make(row, column)?;
            }
            if entry & STOP != 0 {
                return (entry != AnchoredDfa::quit(table.stride as usize)).then_some(false);
            }
            // seen one byte late, as forwards: the state after this byte holds a
            // match of the bytes read before it
            if reports(entry) {
                return Some(true);
            }
            row = entry & ROW;
        }
        Some(reports(self.at_end(row)?))
    }

    /// How many patterns the automaton reports.
    pub fn pattern_len(&self) -> usize {
        self.patterns
    }

    /// Read `hay` from `start` until the automaton dies or the haystack ends, calling
    /// `matched` with each match state's row and the end of its match; `None` when it
    /// stops at a byte it cannot read (or needs a move the full table cannot make).
    #[inline]
    fn walk(&self, hay: &[u8], start: usize, matched: impl FnMut(u32, usize)) -> Option<Walk> {
        let row = self.first_row(hay, start)?;
        self.walk_from_row(hay, start, row, matched)
    }

    /// [`AnchoredDfa::walk`] from the state of `row` rather than a start state.
    #[inline(always)]
    fn walk_from_row(
        &self,
        hay: &[u8],
        start: usize,
        mut row: u32,
        mut matched: impl FnMut(u32, usize),
    ) -> Option<Walk> {
        let table = &self.table;
        // Held here, not read through `self` at each byte: `self` holds a lock, so the
        // compiler cannot tell that the table's address and length stay the same.
        let (next, column_of) = (&*table.next, &table.column_of);
        for (at, &byte) in (start..).zip(hay.get(start..)?) {
            let column = u32::from(column_of[usize::from(byte)]);
            let mut entry = Table::entry_in(next, row, column);
            // a state made before and not a match, dead or quit one: the common case
            if entry < MATCH {
                row = entry;
                continue;
            }
            if entry == UNKNOWN {
                entry = self.make(row, column)?;
                if entry < MATCH {
                    row = entry;
                    continue;
                }
            }
            // A match is seen one byte late: the state after the byte at `at`
            // holds a match ending at `at`.
            if entry & STOP != 0 {
                if entry == AnchoredDfa::quit(table.stride as usize) {
                    return None;
                }
                let died_at = Some(at + 1);
                return Some(Walk { row, died_at });
            }
            row = entry & ROW;
            matched(row, at);
        }
        let died_at = None;
        Some(Walk { row, died_at })
    }

    /// The row a walk of `hay` from `start` begins in (a start state is never a match
    /// state: a match is seen one byte late); `None` when the automaton cannot start
    /// there (it quits on the byte before).
    #[inline(always)]
    fn first_row(&self, hay: &[u8], start: usize) -> Option<u32> {
        let look_behind = match start.checked_sub(1) {
            None => None,
            Some(before) => Some(*hay.get(before)?),
        };
        let first = self.start(look_behind)?;
        if first == AnchoredDfa::quit(self.table.stride as usize) {
            return None;
        }
        Some(first & ROW)
    }

    /// The entry of the move from `row` at the haystack's end, made if new.
    fn at_end(&self, row: u32) -> Option<u32> {
        let column = self.table.stride - 1;
        match self.table.entry(row, column) {
            UNKNOWN => self.make(row, column),
            entry => Some(entry),
        }
    }

    /// The entry of the start state after `look_behind` (at the haystack's start
    /// when `None`), made if new.
    #[inline(always)]
    fn start(&self, look_behind: Option<u8>) -> Option<u32> {
        let slot = self
            .starts
            .get(look_behind.map_or(0, |b| usize::from(b) + 1))?;
        match slot.load(Ordering::Acquire) {
            UNKNOWN => self.make_start(slot, look_behind),
            entry => Some(entry),
        }
    }

    /// [`AnchoredDfa::start`] not made yet: made by the lazy automaton, kept in `slot`.
    #[cold]
    #[inline(never)]
    fn make_start(&self, slot: &AtomicU32, look_behind: Option<u8>) -> Option<u32> {
        let mut maker = self.maker.lock().ok()?;
        let config = start::Config::new()
            .anchored(Anchored::Yes)
            .look_behind(look_behind);
        let Maker { lazy, cache, .. } = &mut *maker;
        let entry = match lazy.start_state(cache, &config) {
            Ok(id) => self.entry_of(&mut maker, id)?,
            // a start the automaton cannot take (a byte it quits on before it): it
            // cannot tell, as at a quit byte
            Err(_) => AnchoredDfa::quit(self.table.stride as usize),
        };
        slot.store(entry, Ordering::Release);
        Some(entry)
    }

    /// The entry of the move from `row` across `column`, not made yet: made by the
    /// lazy automaton and kept; `None` when the table is full.
    #[cold]
    #[inline(never)]
    fn make(&self, row: u32, column: u32) -> Option<u32> {
        let mut maker = self.maker.lock().ok()?;
        // another thread may have made it meanwhile
        let made = self.table.entry(row, column);
        if made != UNKNOWN {
            return Some(made);
        }
        if maker.forgot_states() {
            return None;
        }
        let stride = self.table.stride;
        let number = ((row / stride) as usize).checked_sub(FIRST_ROW)?;
        let from = *maker.state_of_row.get(number)?;
        let Maker {
            lazy,
            cache,
            column_bytes,
            ..
        } = &mut *maker;
        let to = match column_bytes.get(column as usize) {
            Some(&byte) => lazy.next_state(cache, from, byte),
            None => lazy.next_eoi_state(cache, from),
        };
        let entry = self.entry_of(&mut maker, to.ok()?)?;
        self.table
            .next
            .get((row + column) as usize)?
            .store(entry, Ordering::Release);
        Some(entry)
    }

    /// The entry of the lazy automaton's state `id`, its row made if new (`None`
    /// when the table is full, or the automaton forgot the states of the rows).
    fn entry_of(&self, maker: &mut Maker, id: LazyStateID) -> Option<u32> {
        let stride = self.table.stride as usize;
        if id.is_dead() {
            return Some(AnchoredDfa::dead(stride));
        }
        if id.is_quit() {
            return Some(AnchoredDfa::quit(stride));
        }
        if maker.forgot_states() {
            return None;
        }
        let row = match maker.row_of.get(&id) {
            Some(&row) => row,
            None => {
                let number = FIRST_ROW + maker.state_of_row.len();
                if number >= maker.max_rows {
                    return None;
                }
                if id.is_match() {
                    let reported = (0..maker.lazy.match_len(&maker.cache, id))
                        .map(|i| maker.lazy.match_pattern(&maker.cache, id, i).as_usize());
                    self.table.report(number, reported);
                }
                let row = u32::try_from(number * stride).ok()?;
                let entries = self
                    .table
                    .next
                    .get(number * stride..(number + 1) * stride)?;
                entries
                    .iter()
                    .for_each(|e| e.store(UNKNOWN, Ordering::Relaxed));
                maker.state_of_row.push(id);
                maker.row_of.insert(id, row);
                row
            }
        };
        Some(if id.is_match() { row | MATCH } else { row })
    }
}

impl Maker {
    /// Whether the lazy automaton has forgotten its states (its memory was full, and
    /// it cleared it): the rows' states are no longer its, a state id may now name
    /// another state, so the table stops growing and no move from a row is asked
    /// of it again.
    fn forgot_states(&self) -> bool {
        self.cache.clear_count() != 0
    }
}

impl Table {
    /// The entry of the move from `row` across `column`.
    fn entry(&self, row: u32, column: u32) -> u32 {
        Table::entry_in(&self.next, row, column)
    }

    /// [`Table::entry`] in the table's entries `next`.
    #[inline(always)]
    fn entry_in(next: &[AtomicU32], row: u32, column: u32) -> u32 {
        // Acquire: a move made by another thread is read with what it leads to
        let entry = next.get((row + column) as usize);
        entry.map_or(UNKNOWN, |e| e.load(Ordering::Acquire))
    }

    /// Note the patterns that the match state of row number `number` reports (before
    /// any move to it is published).
    fn report(&self, number: usize, patterns: impl Iterator<Item = usize>) {
        for pattern in patterns.filter(|&p| p < MAX_PATTERNS) {
            if let Some(word) = self.reported.get(2 * number + pattern / 32) {
                word.fetch_or(1 << (pattern % 32), Ordering::Relaxed);
            }
        }
    }

    /// The patterns the match state of row offset `row` reports: a bit each.
    fn reported(&self, row: u32) -> u64 {
        let number = (row / self.stride) as usize;
        let word = |w: usize| {
            let word = self.reported.get(2 * number + w);
            word.map_or(0, |b| u64::from(b.load(Ordering::Relaxed)))
        };
        word(0) | word(1) << 32
    }
}

/// Whether every match of `hir` ends where `\z` or `(?m:$)` holds: what
/// [`AnchoredDfa::reversed`] takes.
pub(crate) fn ends_anchored(hir: &Hir) -> bool {
    let suffix = hir.properties().look_set_suffix();
    suffix.contains(Look::End) || suffix.contains(Look::EndLF)
}

/// `len` atomics, all zero: allocated zeroed, so that the pages of a large table
/// that walks never reach are never touched (no resident memory).
fn zeroed(len: usize) -> Box<[AtomicU32]> {
    let zeroed = Box::<[AtomicU32]>::new_zeroed_slice(len);
    // SAFETY: an `AtomicU32` has the in-memory representation of a `u32`, for which
    // all zero bytes is a valid value.
    unsafe { zeroed.assume_init() }
}

/// Where a walk of [`AnchoredDfa::each_match_in_prefix`] left off: a state of the
/// automaton (the table's rows are never taken back, so it stays valid).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resume(u32);

/// The bytes of a haystack's start whose walk [`PrefixWalks`] remembers.
pub const PREFIX_LEN: usize = 16;
/// …as words.
const PREFIX_WORDS: usize = PREFIX_LEN / 8;
/// How many prefixes are remembered (a table indexed by their hash, a newer one
/// taking an older one's place).
const PREFIX_WALKS: usize = 256;

/// The first [`PREFIX_LEN`] bytes of a haystack, as words.
type Prefix = [u64; PREFIX_WORDS];

/// One automaton's walks over the first [`PREFIX_LEN`] bytes of recent haystacks
/// (from their start): what each walk found there and where it was after them.
///
/// Why: a walk is a chain of table reads, one per byte, each waiting for the one
/// before, and the table of a filter like sshd's is too large for the closest cache;
/// an auth.log's lines begin with a few dozen texts (`Failed password `,
/// `Connection closed`, ` host sshd[812]:`), so most walks start with the same bytes,
/// and where they leave the automaton is one look-up here. Exact: the automaton
/// reads those bytes from the same start state whatever follows them. The walks of
/// one automaton only: its states are rows of its own table. The table (some 10 KB)
/// is made on first use: a jail whose log stays quiet, or a filter without the
/// automaton, holds none.
#[derive(Debug)]
pub struct PrefixWalks<T> {
    walks: Vec<Option<(Prefix, T)>>,
}

impl<T: Copy> Default for PrefixWalks<T> {
    fn default() -> PrefixWalks<T> {
        PrefixWalks { walks: Vec::new() }
    }
}

impl<T: Copy> PrefixWalks<T> {
    /// The first [`PREFIX_LEN`] bytes of `hay`, if it has that many.
    fn prefix_of(hay: &[u8]) -> Option<Prefix> {
        let bytes = hay.get(..PREFIX_LEN)?;
        let mut words = [0; PREFIX_WORDS];
        for (word, chunk) in words.iter_mut().zip(bytes.chunks_exact(8)) {
            *word = u64::from_le_bytes(chunk.try_into().ok()?);
        }
        Some(words)
    }

    /// The walk of `prefix`, remembered or made now by `walk`; `None` when the
    /// automaton cannot tell (not remembered).
    fn get_or_walk(&mut self, prefix: Prefix, walk: impl FnOnce() -> Option<T>) -> Option<T> {
        let folded = prefix.iter().fold(0u64, |h, w| (h ^ w).rotate_left(29));
        let slot = (folded.wrapping_mul(0x9E37_79B9_7F4A_7C15)
            >> (64 - PREFIX_WALKS.trailing_zeros())) as usize;
        if self.walks.is_empty() {
            self.walks.resize(PREFIX_WALKS, None);
        }
        let entry = self.walks.get_mut(slot)?;
        if let Some((_, known)) = entry.filter(|(known, _)| *known == prefix) {
            return Some(known);
        }
        let made = walk()?;
        *entry = Some((prefix, made));
        Some(made)
    }
}

/// What [`AnchoredDfa::each_match`] found in a haystack's first bytes.
#[derive(Debug, Clone, Copy)]
pub struct EachMatchWalk {
    /// The patterns matched there, a bit each.
    reported: u64,
    /// Where to go on from (`None`: it died there).
    resume: Option<Resume>,
}

/// Where [`AnchoredDfa::match_end`]'s walk got to.
#[derive(Debug, Clone, Copy)]
pub struct MatchWalk {
    /// The row of the state after the last byte read.
    row: u32,
    /// The end of the last match seen.
    match_end: Option<usize>,
    /// It died (read no further).
    died: bool,
}

/// Where [`AnchoredDfa::walk`] got to.
struct Walk {
    /// The row of the state after the last byte read.
    row: u32,
    /// The number of bytes of the haystack read when the automaton died, if it did.
    died_at: Option<usize>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_remembered_prefix_walk_ends_where_a_whole_walk_ends() {
        // a prefregex head's shape: optional parts, match states on and off
        let dfa =
            AnchoredDfa::ascii_of(r"^\s*(?:\S+ )?sshd(?:\[\d+\])?:\s+(?:error: PAM: )?").unwrap();
        let mut walks = PrefixWalks::default();
        let mut hays: Vec<String> = [
            " vps sshd[3775]: Failed password",
            " vps sshd[3775]: error: PAM: Authentication failure",
            " vps sshd[3775]: error: PAM",
            // a match ending within the first 16 bytes, and one ending at the end
            "sshd: x y z w v u t",
            // …and the walk going on past them to die with no later match
            "sshd: error: PAMx y",
            "sshd:  error: PAM: x",
            " vps sshd[3775]:",
            " vps sshd[3775]: ",
            " vps sshd[377",
            // dead within the prefix, and after it
            " vps cron[3775]: (root) CMD",
            " vps sshd[3775]x",
            " vps sshd[3775]: \u{e9}rror",
            " vps sshd[37\u{e9}5]: error",
        ]
        .into_iter()
        .map(String::from)
        .collect();
        // more prefixes than are remembered, with different walks
        hays.extend((0..3 * PREFIX_WALKS).map(|i| match i % 3 {
            0 => format!(" h sshd[{i:06}]: Failed"),
            1 => format!(" h cron[{i:06}]: CMD"),
            _ => format!(" h sshd[{i:06}]: error: PAM: x"),
        }));
        for round in 0..2 {
            for hay in &hays {
                let remembered = dfa.match_end_remembered(hay.as_bytes(), &mut walks);
                assert_eq!(
                    remembered,
                    dfa.match_end(hay.as_bytes(), 0),
                    "{hay:?}, round {round}"
                );
            }
        }
    }

    #[test]
    fn anchored_patterns_only() {
        assert!(AnchoredDfa::of(r"a+").is_none());
        let dfa = AnchoredDfa::of(r"^(?:ab|a)c?").unwrap();
        assert_eq!(dfa.match_end(b"abcd", 0), Some(Some(3)));
        assert_eq!(dfa.match_end(b"ad", 0), Some(Some(1)));
        // the end of the haystack completes a match
        assert_eq!(dfa.match_end(b"abc", 0), Some(Some(3)));
        assert_eq!(dfa.match_end(b"a", 0), Some(Some(1)));
        assert_eq!(dfa.match_end(b"xab", 0), Some(None));
        // `^` holds at the haystack's start only
        assert_eq!(dfa.match_end(b"xab", 1), Some(None));
        // the match is reported at the byte after it; the automaton dies at the next
        assert_eq!(dfa.deciding_prefix_len(b"abcde"), Some(5));
        assert_eq!(dfa.deciding_prefix_len(b"abcd"), None);
        let word = AnchoredDfa::of(r"^\w+\b").unwrap();
        assert_eq!(word.match_end(b"ab c", 0), Some(Some(2)));
        // a Unicode word boundary's automaton stops at the first non-ASCII byte
        assert_eq!(word.match_end("ab é".as_bytes(), 0), None);
        // so does the ASCII form's at any it reads (the byte after a match included)
        let ascii = AnchoredDfa::ascii_of(r"^\S+").unwrap();
        assert_eq!(ascii.match_end(b"ab c", 0), Some(Some(2)));
        assert_eq!(ascii.match_end("aé c".as_bytes(), 0), None);
        assert_eq!(ascii.match_end("ab é".as_bytes(), 0), None);
    }

    #[test]
    fn the_table_walks_as_the_regex_crate_matches() {
        // from every position (the start states after each kind of byte), with word
        // boundaries, line anchors and a pattern that can never match (a dead start)
        let hays = [
            "ab cd\nab-x",
            "a",
            "",
            "\nab",
            "x_ab ab",
            "ab\r\nab",
            "abcde ",
            "abcdx",
            "abd",
        ];
        for source in [
            r"^ab\b",
            r"^(?:a|ab)(?:c|\b)",
            r"^ab(?m:$)",
            r"^\Bab",
            r"^[^\s\S]",
            // match states reached, left and reached again along a walk
            r"^a(?:bc)?(?:de)?",
            r"^a(?:b|bcd)?(?:e|x)? ?",
        ] {
            let dfa = AnchoredDfa::of(source).unwrap();
            let re = regex::bytes::Regex::new(source).unwrap();
            for hay in hays.map(str::as_bytes) {
                for start in 0..=hay.len() {
                    // a match found from `start` by the regex crate starts there
                    let expected = re.find_at(hay, start).filter(|m| m.start() == start);
                    let got = dfa.match_end(hay, start);
                    assert_eq!(
                        got,
                        Some(expected.map(|m| m.end())),
                        "{source} {hay:?} {start}"
                    );
                }
            }
        }
        // several patterns at once report each of theirs that matches
        let parse = |p| {
            let parsed = regex_syntax::ParserBuilder::new()
                .unicode(false)
                .build()
                .parse(p);
            parsed.expect("the test's patterns parse")
        };
        let heads: Vec<Hir> = [r"^ab", r"^a\b", r"^abc", r"^x"].map(parse).into();
        let all = AnchoredDfa::all_of(&heads).unwrap();
        assert_eq!(all.pattern_len(), 4);
        let reported = |hay: &str| {
            let mut found = Vec::new();
            all.each_match(hay.as_bytes(), |i| found.push(i))
                .then_some(found)
        };
        assert_eq!(reported("abc"), Some(vec![0, 2]));
        assert_eq!(reported("a b"), Some(vec![1]));
        assert_eq!(reported("ab"), Some(vec![0]));
        assert_eq!(reported("y"), Some(vec![]));
        assert_eq!(reported("aé"), None);
    }

    /// Rows made so far (beyond the unused, dead and quit ones).
    fn rows_made(dfa: &AnchoredDfa) -> usize {
        dfa.maker.lock().unwrap().state_of_row.len()
    }

    #[test]
    fn rows_are_made_as_walks_reach_them_and_then_only_read() {
        let dfa = AnchoredDfa::of(r"^(?:ab+c|x[0-9]{1,3}y)").unwrap();
        assert_eq!(rows_made(&dfa), 0);
        assert_eq!(dfa.match_end(b"abbbc", 0), Some(Some(5)));
        let made = rows_made(&dfa);
        // the states of `ab+c` on this line only, not those of the other branch
        assert!((1..=6).contains(&made), "{made} rows");
        assert_eq!(dfa.match_end(b"abbbbbbbc!", 0), Some(Some(9)));
        assert_eq!(rows_made(&dfa), made, "a walk over rows made makes none");
        assert_eq!(dfa.match_end(b"x12y", 0), Some(Some(4)));
        assert!(rows_made(&dfa) > made);
    }

    #[test]
    fn a_full_table_answers_what_it_holds_and_cannot_tell_the_rest() {
        let dfa = AnchoredDfa::of(r"^(?:ab+c|x[0-9]{1,3}y)").unwrap();
        assert_eq!(dfa.match_end(b"abbc", 0), Some(Some(4)));
        let made = rows_made(&dfa);
        dfa.maker.lock().unwrap().max_rows = FIRST_ROW + made;
        // a walk that needs a new state cannot tell…
        assert_eq!(dfa.match_end(b"x12y", 0), None);
        assert_eq!(dfa.deciding_prefix_len(b"x12y"), None);
        // …one over the states made still can, as before
        assert_eq!(dfa.match_end(b"abbbbc", 0), Some(Some(6)));
        assert_eq!(rows_made(&dfa), made);
    }

    #[test]
    fn walks_on_several_threads_make_and_read_the_same_table() {
        // threads race to make the rows and moves of lines none has seen; each answer
        // must be the regex crate's, whichever thread made what it read
        let source = r"^(?:user [a-z]{1,8} from \d{1,3}(?:\.\d{1,3}){3}|port \d+)(?: ssh2)?";
        let dfa = AnchoredDfa::ascii_of(source).unwrap();
        let re = regex::bytes::Regex::new(source).unwrap();
        let lines: Vec<String> = (0..400)
            .map(|i| match i % 3 {
                0 => format!(
                    "user {} from 10.{}.{}.{} ssh2",
                    "abcdefghij".get(..i % 9).unwrap_or(""),
                    i % 256,
                    i / 7,
                    i % 13
                ),
                1 => format!("port {i}{}", if i % 2 == 0 { " ssh2" } else { "" }),
                _ => format!("user x from 1.2.3 port {i}"),
            })
            .collect();
        std::thread::scope(|scope| {
            for offset in 0..4 {
                let (dfa, re, lines) = (&dfa, &re, &lines);
                scope.spawn(move || {
                    for line in lines.iter().cycle().skip(offset * 97).take(lines.len()) {
                        let expected = re.find(line.as_bytes()).map(|m| m.end());
                        assert_eq!(dfa.match_end(line.as_bytes(), 0), Some(expected), "{line}");
                    }
                });
            }
        });
    }
}
