//! Captures of a match without back-tracking: two passes over a span already found.
//!
//! Owns a second compilation of a linear pattern (a Thompson NFA, ASCII classes) and
//! the capture search over a match span that a DFA has already found. It decides
//! whether and where a pattern matches only for a pattern anchored at the haystack's
//! start, ending at a line's end or searched in a short haystack
//! ([`TwoPass::search`]); for any other, the `regex` crate's DFA does. It only
//! serves ASCII haystacks.
//!
//! Why: the `regex` crate finds captures with a bounded back-tracker, which walks the
//! automaton state by state and explores every branch that fails before the one that
//! succeeds: about 120 instructions per byte on Fail2ban's failregexes, ten times
//! what finding the match costs. Here:
//!
//! 1. **Backwards**, from the end of the span to its start, the set of automaton
//!    states from which the rest of the span can still reach a match is computed for
//!    each position. That set at a position depends only on the set at the next
//!    position, the byte and which assertions (`^`, `$`, `\b`…) hold there, so the
//!    sets and the steps between them are remembered, as a lazy DFA remembers its
//!    states, in a dense table: a row per set, a column per kind of position (see
//!    `Columns`), so a step is one table look-up.
//! 2. **Forwards**, the automaton is walked once from the start of the span, taking
//!    at each branch the first alternative (in priority order) whose state is in the
//!    set of its position, and recording the capture positions met on the way. What
//!    the walk does between two bytes depends on the state it is in and the byte's
//!    class, and at some branches on the set of the position; most moves on log
//!    lines need no set (the byte's class rules all alternatives but one out, see
//!    `TwoPass::closure`), so they are remembered in a dense table by state and
//!    class, and the others by state, set and class: on log lines the walk is a
//!    table look-up per byte, and one per run of literal bytes (a run of states
//!    each of which reads any byte into the next: in live states, the literal's).
//!
//! Why that is exact: a back-tracker tries the alternatives of a branch in priority
//! order and keeps the first one from which a match can be reached; "a match can be
//! reached from this state at this position" is exactly membership in the backward
//! pass's set. So the walk takes the back-tracker's path (the leftmost-first one),
//! with no dead end explored. A move made without the set decides each branch the
//! same way, by ruling out alternatives that cannot be live (see
//! `TwoPass::closure`); that is also why [`TwoPass::captures`] can walk before the
//! backward pass has run, and runs it only from where a set is first needed. The
//! one difference would be a loop that comes back to
//! the same state without consuming anything (an empty iteration), which the
//! back-tracker cuts: the walk notices any such return and gives the search back
//! to the back-tracker, as it does when its memory bound is reached.
//!
//! Both passes read a byte only through its class and what assertions see of it,
//! so a search of a whole haystack ([`TwoPass::search`]) is remembered by the
//! haystack's shape: a failregex's matches on a busy log (`Failed password for root
//! from 203.0.113.7 port 51234 ssh2`) differ mostly in digits, and come in a few
//! hundred shapes. One pass over the haystack (a table look-up a byte) and a hash
//! answer them, where the two passes cost four times that.

use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use regex_automata::nfa::thompson::{self, State, NFA};
use regex_automata::util::look::{Look, LookSet};
use regex_automata::util::primitives::StateID;
use regex_automata::util::syntax;
use regex_syntax::hir::{literal, Hir};

use crate::recent::{self, Recent};

/// At most this many literals begin the matches of a pattern whose first bytes are
/// compared before it is searched alone…
const FIRST_LITERALS: usize = 16;
/// …and each is at least this long (a shorter one tells few lines apart).
const FIRST_LITERAL_LEN: usize = 3;

/// Haystack bytes (from a search's start) up to which [`TwoPass::search`] stands in
/// for the DFA's search of a pattern whose matches may end before the line's end: a
/// failregex's content, say. Its backward pass reads the bytes after the match too, a
/// table look-up each, where the DFA would stop; on a short haystack that costs less
/// than the DFA's search does before it reads a byte…
const SHORT_HAY: usize = 256;

/// …when the pattern's matches leave at most this many bytes of the haystack after
/// them (as its last match did): a failregex's match runs to the content's end, or
/// nearly, where a date's leaves most of its line.
const SHORT_TAIL: usize = 32;

/// Literal bytes from which the forward walk crosses them in one move (a move out of
/// the table's fast loop costs about what four steps in it do).
const LITERAL_RUN: u32 = 4;

/// Shapes of haystacks (see [`TwoPass::search`]) whose searches are remembered, per
/// generation (between this and twice as many): a failregex's matches on a busy
/// log come in a few hundred shapes.
const SHAPES: usize = 512;

/// The bytes a shape begins with, before the haystack's own (see [`Shapes`]).
const SHAPE_HEAD: usize = 2;

/// Haystacks longer than this (from a search's start) are searched, not looked up
/// by their shape: `Recent` keeps no longer text (they seldom repeat one).
const MAX_SHAPE: usize = recent::MAX_TEXT - SHAPE_HEAD;

/// Sets kept before the memory is cleared and the sets are made again.
const MAX_SETS: usize = 1024;

/// Capture slots kept for the remembered moves before the memory is cleared.
const MAX_MOVE_SLOTS: usize = 1 << 16;

/// Moves that depend on a position's set remembered (a power of two): a pattern's
/// walks on log lines make a few hundred different ones.
const MOVES: usize = 1024;

/// A table entry not made yet.
const UNKNOWN: u32 = u32::MAX;

/// A position in a haystack, as a capture slot holds it: 32 bits, so that a match's
/// slots take half the room (most matches' groups then fit in place, see
/// `pattern::Groups`). Haystacks are shorter than [`UNSET`] (see
/// [`TwoPass::fits`]).
pub type Slot = u32;

/// A capture slot the walk has not passed (no position is this).
pub const UNSET: Slot = Slot::MAX;

/// A forward entry whose move depends on the position's set (see [`TwoPass::closure`]).
const NEEDS_SET: u32 = u32::MAX - 1;

/// Forward entries from here on are not the next row: [`UNKNOWN`], [`NEEDS_SET`], or
/// this plus the index of a move that passes capture slots or reaches the match.
const SPECIAL: u32 = 1 << 31;

/// The capture slots of a match: two per group, by group index (where the group
/// starts, where it ends), [`UNSET`] where the group took no part. A search writes
/// them into its caller's buffer, of [`TwoPass::slot_len`] slots (a buffer the
/// caller keeps: no allocation, and no copy, per search).
pub type Slots = [Slot];

/// A state as the forward walk reads it, in a few bytes: the automaton's states
/// hold what the walk needs behind a pointer or a search (the ranges of a class).
/// Numbers are state ids, of the state entered: a run of captures and assertions is
/// entered at its first capture (see [`Walk::Passes`]), or skipped when it has none.
#[derive(Debug, Clone, Copy)]
enum Walk {
    /// Reads a byte, into this state whichever byte it reads.
    Byte(u32),
    /// Reads a byte, into a state that depends on the byte (asked of the automaton).
    Bytes,
    /// The first of two alternatives that is live: the automaton's first alternative
    /// is tested (the second needs no test: one of the two is live), then the walk
    /// enters `first` or `second`.
    Split {
        test: u32,
        first: u32,
        second: u32,
    },
    /// The first of more alternatives that is live (asked of the automaton).
    Union,
    /// A run of captures and assertions (an assertion holds: the walk only enters
    /// live states): writes the position into `TwoPass::passed_slots[from..to]`,
    /// then goes on to the state after the run.
    Passes {
        from: u32,
        to: u32,
        next: u32,
    },
    Match,
    Fail,
}

/// What the forward walk does from a state at a position: through the first live
/// alternative of each branch (writing the position into the capture slots it
/// passes) to a byte state, then across the byte, into the row `to` of
/// `Memory::forward` ([`MATCH`]: it reached the match state instead).
#[derive(Debug, Clone, Copy)]
struct Move {
    to: u32,
    /// The slots passed, as a range of `Memory::move_slots`.
    slots: (u32, u32),
    /// Bytes read after the first, for a move across a run of literal bytes (see
    /// [`TwoPass::literal_run`]).
    skip: u32,
}

/// [`Move::to`] when the walk reaches the match state.
const MATCH: u32 = u32::MAX;

/// A move not made yet, as `Memory::moves` holds it (no key is this).
const NO_MOVE: (u64, Move) = (
    u64::MAX,
    Move {
        to: MATCH,
        slots: (0, 0),
        skip: 0,
    },
);

/// A forward move to make: from `row` across a byte of `class` at `at` (`end`: no
/// byte) in `hay`, whose span ends at `end`.
#[derive(Clone, Copy)]
struct Walker<'a> {
    hay: &'a [u8],
    end: usize,
    at: usize,
    row: u32,
    class: usize,
}

/// Where the forward walk goes next.
enum Next {
    /// On from this row, after this many bytes more than the one read.
    Row(u32, u32),
    Matched,
}

/// What [`TwoPass::closure`] finds.
enum Closure {
    /// Through to a byte state that reads the byte into this state (or [`MATCH`]).
    Moved(u32),
    /// A branch whose live alternative only the position's set tells.
    NeedsSet,
}

/// The kinds of byte the ASCII assertions tell apart (see [`LookTable`]): other, word
/// (`[0-9A-Za-z_]`), `\r`, `\n`, and no byte (the haystack's edge).
const LOOK_KINDS: usize = 5;
const EDGE: usize = LOOK_KINDS - 1;

/// The assertions that hold at a position, by the kinds of the bytes before and at
/// it: the ASCII assertions (`^`, `$`, their multi-line and CRLF forms, the ASCII word
/// boundaries) look at nothing else. Made once per pattern with the automaton's own
/// look matcher, so the bits are the matcher's.
#[derive(Debug)]
struct LookTable {
    /// Each byte's kind (`0..EDGE`).
    kind: [u8; 256],
    /// The assertions holding, by `before * LOOK_KINDS + at` kind.
    holding: [u32; LOOK_KINDS * LOOK_KINDS],
    /// Whether the assertions holding between two bytes depend on the byte before
    /// (as word boundaries and multi-line `^` do; Fail2ban's `^` and `$` do not).
    before_matters: bool,
}

/// The columns of the backward pass's table: what, besides the set after it, the
/// set at a position depends on. That is the byte's class and the assertions
/// holding there, which depend on the kinds of the byte and of the byte before
/// (only whether there is one, when the kind of the byte before does not matter).
/// So a column is a byte's column (its class and kind) and a context (the kind
/// before); the span's end, where no byte is read, has a column for each pair of
/// kinds around it.
#[derive(Debug)]
struct Columns {
    /// Each byte's column, times `contexts` (context 0 added).
    of_byte: [u32; 256],
    /// The context a byte gives the byte after it.
    context_after: [u32; 256],
    /// Each byte's column (its place in `bytes`): what a haystack's shape is made
    /// of (see [`Shapes`]). It is `of_byte` divided by `contexts`, kept to spare a
    /// division a byte.
    shape_of: [u8; 256],
    /// Contexts: the kinds before (the last is the haystack's edge), or two
    /// (not the edge, the edge) when the kind before does not matter.
    contexts: usize,
    /// A byte of each byte column.
    bytes: Vec<u8>,
    /// Columns in all (a set's row in `Memory::steps`).
    stride: usize,
}

/// The two-pass capture engine of one pattern.
#[derive(Debug)]
pub struct TwoPass {
    nfa: NFA,
    /// For each state, the states with an empty transition to it (the reverse of
    /// unions, captures and assertions).
    predecessors: Vec<Vec<StateID>>,
    /// Each state as the forward walk reads it.
    walk: Vec<Walk>,
    /// The state the walk enters for each state (see [`Walk`]).
    entered: Vec<u32>,
    /// The capture slots of each [`Walk::Passes`], in runs.
    passed_slots: Vec<u32>,
    /// For each state, by byte class, whether some path of empty transitions from it
    /// reads a byte of the class or reaches the match state: bitsets of
    /// `class_words` words (see [`TwoPass::closure`]).
    may_take: Vec<u64>,
    class_words: usize,
    /// Each byte's class (bytes of a class take the same transitions)…
    class_of: [u8; 256],
    /// …and a byte of each class.
    class_bytes: Vec<u8>,
    /// The assertions the automaton uses, by the bytes around a position.
    looks: LookTable,
    columns: Columns,
    /// Every match starts at the haystack's start (`\A`, or `^` of a single-line
    /// pattern)…
    start_anchored: bool,
    /// …and ends at a line's end (`$`): see [`TwoPass::searches_alone`].
    ends_at_line_end: bool,
    /// The last match found left at most [`SHORT_TAIL`] bytes of its haystack after
    /// it (a hint for [`TwoPass::searches_alone`], that a search writes and reads
    /// without a lock: it decides how a match is found, never which).
    short_tail: AtomicBool,
    /// Literals one of which begins every match, when they are few and long enough
    /// to tell lines apart (see [`TwoPass::may_start_at`]).
    first_literals: Option<Vec<Box<[u8]>>>,
    /// 64-bit words in a set of states.
    words: usize,
    /// The automaton's capture slots (asked of it once: a call into it).
    slot_len: usize,
    /// Byte classes (bytes no transition tells apart), and one more for the end.
    classes: usize,
    /// The memory of callers that hold none of their own (see [`Lease`]).
    memory: Mutex<Memory>,
    /// This engine's number, which a [`Lease`] of its memory carries.
    id: u64,
}

/// Numbers of the engines made so far (see `TwoPass::id`).
static ENGINES: AtomicU64 = AtomicU64::new(1);

/// A two-pass engine's memory held by one caller: a filter that searches with the
/// same failregex line after line keeps one per failregex, and hands it to each
/// search. Why: the engine's own memory is behind a lock (callers may share an
/// engine across threads), and taking and releasing it are two locked instructions
/// a search, each of which waits for every write before it to be done.
///
/// A lease serves one engine: handed to another, it is emptied and serves that one.
#[derive(Debug, Default)]
pub struct Lease {
    /// The engine it serves (`TwoPass::id`; 0 before its first search).
    engine: u64,
    memory: Option<Memory>,
}

#[cfg(test)]
impl Lease {
    /// Whether a search has used this memory.
    pub(crate) fn is_used(&self) -> bool {
        self.memory.is_some()
    }
}

/// An engine's memory in use: its own, locked, or a caller's [`Lease`].
enum Held<'a> {
    Locked(MutexGuard<'a, Memory>),
    Leased(&'a mut Memory),
}

impl Deref for Held<'_> {
    type Target = Memory;

    fn deref(&self) -> &Memory {
        match self {
            Held::Locked(memory) => memory,
            Held::Leased(memory) => memory,
        }
    }
}

impl DerefMut for Held<'_> {
    fn deref_mut(&mut self) -> &mut Memory {
        match self {
            Held::Locked(memory) => &mut *memory,
            Held::Leased(memory) => memory,
        }
    }
}

/// What the two passes remember between searches.
#[derive(Debug)]
struct Memory {
    /// The sets of live states, as bitsets of `TwoPass::words` words each, one after
    /// the other by number.
    sets: Vec<u64>,
    numbers: HashMap<Box<[u64]>, u32>,
    /// The backward steps made: a row of `Columns::stride` per set (the set after),
    /// by column, the row of the set before ([`UNKNOWN`] when not made yet).
    steps: Vec<u32>,
    /// The row in `steps` of the set of each position of the current span (from
    /// its start on; longer when an earlier span was).
    live: Vec<u32>,
    /// Each state's row in `forward` ([`UNKNOWN`]: none yet)…
    rows: Vec<u32>,
    /// …and each row's state.
    row_states: Vec<u32>,
    /// The forward walk's moves that depend only on the state and the byte's class:
    /// a row of `TwoPass::classes` per state walked from, by class, the row moved to,
    /// or [`SPECIAL`] and up (see there).
    forward: Vec<u32>,
    /// The moves of the forward entries that pass capture slots or reach the match.
    special: Vec<Move>,
    /// The moves that depend on the position's set too, by [`move_key`], each where
    /// [`move_slot`] puts it (the last one made there).
    moves: Vec<(u64, Move)>,
    /// The capture slots the moves pass, in runs.
    move_slots: Vec<u32>,
    /// Searches remembered by the shape of their haystack (kept when the rest is
    /// cleared: they do not depend on it).
    shapes: Shapes,
}

/// What [`TwoPass::search`] found in the haystacks of recent shapes: a shape is
/// the column (see [`Columns`]) of each byte from the search's start, after a byte
/// telling whether the search starts the haystack and the column of the byte before
/// it. Each answer is the capture slots of the match, as offsets from the search's
/// start (`u16::MAX`: a group that took no part), or `None`: no match.
#[derive(Debug)]
struct Shapes {
    found: Recent<Option<Box<[u16]>>>,
    /// The shape being looked up (kept to reuse its allocation).
    key: Vec<u8>,
}

impl Memory {
    /// An empty memory for the two passes over `nfa`: its fixed-size parts made
    /// once, not on every search.
    fn new(nfa: &NFA) -> Memory {
        Memory {
            sets: Vec::new(),
            numbers: HashMap::new(),
            steps: Vec::new(),
            live: Vec::new(),
            rows: vec![UNKNOWN; nfa.states().len()],
            row_states: Vec::new(),
            forward: Vec::new(),
            special: Vec::new(),
            moves: vec![NO_MOVE; MOVES],
            move_slots: Vec::new(),
            shapes: Shapes {
                found: Recent::new(SHAPES),
                key: Vec::new(),
            },
        }
    }
}

impl TwoPass {
    /// The engine for `pattern` (Rust syntax, compiled with ASCII classes as the
    /// `regex` crate's ASCII form is); `None` if it does not compile, or asks for a
    /// Unicode word boundary (`(?u:\b)`), which this engine does not serve.
    pub fn new(pattern: &str) -> Option<TwoPass> {
        let hir =
            syntax::parse_with(pattern, &syntax::Config::new().unicode(false).utf8(false)).ok()?;
        let nfa = thompson::Compiler::new()
            .configure(thompson::Config::new().utf8(false).shrink(false))
            .build_from_hir(&hir)
            .ok()?;
        let ends_at_line_end = hir.properties().look_set_suffix().contains_anchor();
        let start_anchored = nfa.is_always_start_anchored();
        // only read by `may_start_at`, for a pattern searched alone
        let first_literals = start_anchored.then(|| first_literals(&hir)).flatten();
        let mut predecessors = vec![Vec::new(); nfa.states().len()];
        for (i, state) in nfa.states().iter().enumerate() {
            let from = StateID::new(i).ok()?;
            for to in empty_successors(state) {
                predecessors[to.as_usize()].push(from);
            }
        }
        let (walk, entered, passed_slots) = walk_table(&nfa)?;
        let mut class_of = [0; 256];
        let mut class_bytes = vec![0; nfa.byte_classes().alphabet_len()];
        for byte in 0..=u8::MAX {
            let class = nfa.byte_classes().get(byte);
            class_of[usize::from(byte)] = class;
            class_bytes[usize::from(class)] = byte;
        }
        let looks = LookTable::new(&nfa)?;
        let columns = Columns::new(&class_of, &looks);
        let words = nfa.states().len().div_ceil(64);
        let classes = nfa.byte_classes().alphabet_len();
        let class_words = classes.div_ceil(64);
        let may_take = may_take_table(&nfa, &class_of, classes, &looks);
        let memory = Mutex::new(Memory::new(&nfa));
        let slot_len = nfa.group_info().slot_len();
        Some(TwoPass {
            nfa,
            predecessors,
            walk,
            entered,
            passed_slots,
            may_take,
            class_words,
            class_of,
            class_bytes,
            looks,
            columns,
            start_anchored,
            ends_at_line_end,
            short_tail: AtomicBool::new(true),
            first_literals,
            words,
            slot_len,
            classes,
            memory,
            id: ENGINES.fetch_add(1, Ordering::Relaxed),
        })
    }

    /// The capture slots of the pattern's groups (the whole match's included): the
    /// length of the [`Slots`] a search fills.
    pub fn slot_len(&self) -> usize {
        self.slot_len
    }

    /// The capture slots of the leftmost-first match that spans `hay[start..end]`
    /// exactly, into `slots` (of [`TwoPass::slot_len`]); `false` when this engine
    /// cannot tell (another thread holds its memory, or an empty loop, or `slots` is
    /// not that long) and the caller must search.
    ///
    /// A match spans the span, so the anchored start is live at its start and the
    /// walk can begin before any set is known: the backward pass runs only when a
    /// move needs a set, and then only from that position to the span's end (the
    /// sets there depend on nothing before them). A span whose moves all need no
    /// set (see `TwoPass::closure`) is walked once, forwards.
    ///
    /// `lease`: the caller's own memory for this engine, if it keeps one.
    pub fn captures(
        &self,
        hay: &[u8],
        start: usize,
        end: usize,
        slots: &mut Slots,
        lease: Option<&mut Lease>,
    ) -> bool {
        if !TwoPass::fits(hay) {
            return false;
        }
        self.note_tail(hay.len().saturating_sub(end));
        let Some(mut memory) = self.memory(lease) else {
            return false;
        };
        self.forward(&mut memory, hay, start, end, None, slots)
            .is_some()
    }

    /// Whether positions in `hay` fit in a [`Slot`] (all but [`UNSET`]): a haystack of
    /// 4 GiB or more is left to the caller's other engines.
    pub fn fits(hay: &[u8]) -> bool {
        hay.len() < UNSET as usize
    }

    /// Remember whether a match left a short tail of its haystack (`tail` bytes)
    /// after it (see [`TwoPass::searches_alone`]).
    fn note_tail(&self, tail: usize) {
        let short = tail <= SHORT_TAIL;
        // written only when it changes: searches on other threads read it
        if self.short_tail.load(Ordering::Relaxed) != short {
            self.short_tail.store(short, Ordering::Relaxed);
        }
    }

    /// Whether every match starts at the haystack's start: [`TwoPass::search`]
    /// finds the match of such a pattern only.
    pub fn is_start_anchored(&self) -> bool {
        self.start_anchored
    }

    /// Whether [`TwoPass::search`] can stand in for the search of a match with a
    /// DFA, in a haystack of `rest` bytes from the search's start: every match
    /// starts at the haystack's start (`\A`, or `^` of a single-line pattern), and
    /// either ends at a line's end (`$`), so the backward pass over the rest of the
    /// haystack (beyond the match) is short, or the haystack is short and the last
    /// match left little of its haystack after it (see `SHORT_HAY`,
    /// `SHORT_TAIL`). (Where a match may end anywhere, the pass would read all the
    /// haystack: a date template `^[^\[]*\[…` on an access log line costs more so
    /// than the DFA finding its end.)
    pub fn searches_alone(&self, rest: usize) -> bool {
        self.is_start_anchored()
            && (self.ends_at_line_end
                || rest <= SHORT_HAY && self.short_tail.load(Ordering::Relaxed))
    }

    /// Whether a match of a pattern every match of which starts at the haystack's
    /// start could be found from `start`, by the literals every match begins with:
    /// `false` when none begins `hay[start..]`, `None` when the pattern has none
    /// worth checking. A few bytes compared, where finding out with a DFA reads the
    /// line up to where the match could end.
    pub fn may_start_at(&self, hay: &[u8], start: usize) -> Option<bool> {
        let rest = hay.get(start..)?;
        let literals = self.first_literals.as_ref()?;
        // the first bytes compared first: most literals differ there (no call)
        let begins = |literal: &[u8]| rest.first() == literal.first() && rest.starts_with(literal);
        Some(literals.iter().any(|literal| begins(literal)))
    }

    /// The capture slots of the leftmost-first match in `hay[start..]`, with no span
    /// found beforehand, for a pattern every match of which starts at the haystack's
    /// start, into `slots` (of [`TwoPass::slot_len`]): `Some(true)` when there is a
    /// match, `Some(false)` when there is none, `None` when this engine cannot tell.
    ///
    /// Why that is exact: the backward pass runs from the haystack's end, where only
    /// the match state is live; the match state is live at every position, so a state
    /// is live at a position exactly when some match (ending anywhere) can be reached
    /// from it there. Every match starts at the haystack's start, and the leftmost-first
    /// match is the first the back-tracker reaches from the anchored start state at
    /// `start`: there is one exactly when that state is live there (at `start > 0`
    /// the start assertion holds nowhere a match could start, as with the `regex`
    /// crate's `find_at`). The walk stops at the first match state it reaches, and
    /// takes at each branch the first alternative from which a match can be reached,
    /// as the back-tracker keeps the first alternative that reaches one: the same
    /// match, with the same groups.
    ///
    /// A search is remembered by the shape of the haystack from `start` (see
    /// `Shapes`), and a haystack of a shape seen recently is not searched. Why that
    /// is exact: both passes read a byte only through its column (its class and its
    /// kind for the assertions), and the start only through whether it is the
    /// haystack's and the column of the byte before; the span ends at the haystack's
    /// end. So two haystacks of the same shape take the same steps, through the same
    /// sets, and get the same slots at the same offsets.
    ///
    /// `lease`: the caller's own memory for this engine, if it keeps one.
    pub fn search(
        &self,
        hay: &[u8],
        start: usize,
        slots: &mut Slots,
        lease: Option<&mut Lease>,
    ) -> Option<bool> {
        if !TwoPass::fits(hay) {
            return None;
        }
        let mut memory = self.memory(lease)?;
        let memory = &mut *memory;
        let end = hay.len();
        let rest = hay.get(start..)?;
        let miss = if rest.len() <= MAX_SHAPE && slots.len() == self.slot_len {
            let Shapes { found, key } = &mut memory.shapes;
            let before = start.checked_sub(1).and_then(|before| hay.get(before));
            self.columns.shape_into(key, before.copied(), rest);
            let recalled = found.with(key, |found| match found {
                Some(offsets) => {
                    for (slot, &offset) in slots.iter_mut().zip(offsets.iter()) {
                        *slot = match offset {
                            u16::MAX => UNSET,
                            // within the haystack, which fits (see `fits`)
                            offset => (start + offset as usize) as Slot,
                        };
                    }
                    true
                }
                None => false,
            });
            match recalled {
                Ok(matched) => {
                    // the whole match's end
                    if let Some(&match_end) = slots.get(1).filter(|_| matched) {
                        self.note_tail(end.saturating_sub(match_end as usize));
                    }
                    return Some(matched);
                }
                Err(miss) => Some(miss),
            }
        } else {
            None
        };
        let matched = self.search_anew(memory, hay, start, slots)?;
        if let Some(miss) = miss {
            let offsets = matched.then(|| {
                let offset = |&slot: &Slot| match slot {
                    UNSET => u16::MAX,
                    // within the haystack, of at most `MAX_SHAPE` bytes
                    at => (at as usize - start) as u16,
                };
                slots.iter().map(offset).collect()
            });
            let Shapes { found, key } = &mut memory.shapes;
            found.insert(miss, key, offsets);
        }
        Some(matched)
    }

    /// [`TwoPass::search`] with both passes.
    fn search_anew(
        &self,
        memory: &mut Memory,
        hay: &[u8],
        start: usize,
        slots: &mut Slots,
    ) -> Option<bool> {
        let end = hay.len();
        self.backward(memory, hay, start, end);
        if !self.starts_live(memory) {
            return Some(false);
        }
        let match_end = self.forward(memory, hay, start, end, Some(start), slots)?;
        self.note_tail(end.saturating_sub(match_end));
        Some(true)
    }

    /// This engine's memory, cleared when full: the caller's `lease`, else its own;
    /// `None` when another thread holds that.
    fn memory<'a>(&'a self, lease: Option<&'a mut Lease>) -> Option<Held<'a>> {
        let mut memory = match lease {
            Some(lease) => {
                if lease.engine != self.id {
                    lease.engine = self.id;
                    lease.memory = None;
                }
                Held::Leased(lease.memory.get_or_insert_with(|| Memory::new(&self.nfa)))
            }
            None => Held::Locked(self.memory.try_lock().ok()?),
        };
        if memory.sets.len() > MAX_SETS * self.words || memory.move_slots.len() > MAX_MOVE_SLOTS {
            let cleared = Memory::new(&self.nfa);
            memory.shapes = std::mem::replace(&mut *memory, cleared).shapes;
        }
        Some(memory)
    }

    /// Whether a match can be reached from the anchored start at the span's start
    /// (after [`TwoPass::backward`]).
    fn starts_live(&self, memory: &Memory) -> bool {
        let id = self.nfa.start_anchored().as_usize();
        let first = memory.live.first().map(|&row| self.set(&memory.sets, row));
        first.is_some_and(|set| set[id / 64] >> (id % 64) & 1 == 1)
    }

    /// Fill `memory.live` with the row of the set of each position of
    /// `hay[start..=end]`.
    fn backward(&self, memory: &mut Memory, hay: &[u8], start: usize, end: usize) {
        let mut live = std::mem::take(&mut memory.live);
        // only grown: each position is written before it is read
        if live.len() <= end - start {
            live.resize(end - start + 1, 0);
        }
        // the set after the span's end: empty (number 0, made first)
        if memory.sets.is_empty() {
            self.number(memory, vec![0; self.words].into_boxed_slice());
        }
        let (columns, looks) = (&self.columns, &self.looks);
        // the span's end, where no byte is read, then its bytes, last first
        let kind_at = hay.get(end).map_or(EDGE, |&b| looks.kind(b));
        let span = &hay[..end];
        let kind_before = span.last().map_or(EDGE, |&b| looks.kind(b));
        let mut row = self.advance(memory, 0, columns.at_end(kind_before, kind_at));
        live[end - start] = row;
        // the first byte of the haystack has none before it: a context of its own
        let inner = start.max(1);
        if inner < end {
            let (live, span) = (&mut live[inner - start..end - start], &span[inner - 1..]);
            row = match self.looks.before_matters {
                true => self.backward_bytes::<true>(memory, live, span, row),
                false => self.backward_bytes::<false>(memory, live, span, row),
            };
        }
        if start == 0 && end > 0 {
            row = self.advance(memory, row, columns.at_haystack_start(span[0]));
            live[0] = row;
        }
        memory.live = live;
    }

    /// The backward pass over the bytes of `span` but its first (the byte before
    /// the first of them), from the set of row `after` after them: fills `live`
    /// (one entry per byte) and returns the row of the set before them. Made for
    /// patterns whose assertions look at the byte before and for those that do not
    /// (most: then the column is the byte's alone, one look-up less per byte).
    fn backward_bytes<const BEFORE_MATTERS: bool>(
        &self,
        memory: &mut Memory,
        live: &mut [u32],
        span: &[u8],
        mut row: u32,
    ) -> u32 {
        // `live[i]` is the set at `span[i + 1]`, the byte after `span[i]`
        let span = &span[..=live.len()];
        let column = |i: usize| {
            let mut column = self.columns.of_byte[usize::from(span[i])];
            if BEFORE_MATTERS {
                column += self.columns.context_after[usize::from(span[i - 1])];
            }
            column
        };
        let mut i = live.len();
        while i > 0 {
            // the steps remembered, in a loop that only reads the table (no call)
            let steps = &memory.steps;
            while i > 0 {
                match steps.get((row + column(i)) as usize) {
                    Some(&before) if before != UNKNOWN => row = before,
                    _ => break,
                }
                i -= 1;
                live[i] = row;
            }
            if i > 0 {
                row = self.advance(memory, row, column(i));
                i -= 1;
                live[i] = row;
            }
        }
        row
    }

    /// The row of the set before the set of row `after` across `column`:
    /// remembered (the common case, inline), or made and remembered.
    #[inline(always)]
    fn advance(&self, memory: &mut Memory, after: u32, column: u32) -> u32 {
        let index = (after + column) as usize;
        match memory.steps.get(index) {
            Some(&row) if row != UNKNOWN => row,
            _ => self.make_step(memory, index, after, column),
        }
    }

    /// [`TwoPass::advance`] not remembered yet: made, and remembered at `index`.
    #[cold]
    #[inline(never)]
    fn make_step(&self, memory: &mut Memory, index: usize, after: u32, column: u32) -> u32 {
        let (byte, holding) = self.columns.context(column as usize, &self.looks);
        let bits = self.step(self.set(&memory.sets, after), byte, holding);
        let row = self.number(memory, bits) * self.columns.stride as u32;
        memory.steps[index] = row;
        row
    }

    /// The states from which a match can be reached at a position, from the set of
    /// the next position (`after`), the byte there (256: none, the span ends) and the
    /// assertions holding there.
    fn step(&self, after: &[u64], byte: u16, holding: u32) -> Box<[u64]> {
        let contains =
            |set: &[u64], id: StateID| set[id.as_usize() / 64] >> (id.as_usize() % 64) & 1 == 1;
        let mut live = vec![0u64; self.words].into_boxed_slice();
        let mut pending = Vec::new();
        for (i, state) in self.nfa.states().iter().enumerate() {
            let reaches = match state {
                State::Match { .. } => true,
                _ => u8::try_from(byte)
                    .ok()
                    .and_then(|b| next_on_byte(state, b))
                    .is_some_and(|next| contains(after, next)),
            };
            if reaches {
                live[i / 64] |= 1 << (i % 64);
                pending.push(i);
            }
        }
        let holds = LookSet { bits: holding };
        while let Some(i) = pending.pop() {
            for &from in &self.predecessors[i] {
                let f = from.as_usize();
                if live[f / 64] >> (f % 64) & 1 == 1 {
                    continue;
                }
                if let State::Look { look, .. } = self.nfa.state(from) {
                    if !holds.contains(*look) {
                        continue;
                    }
                }
                live[f / 64] |= 1 << (f % 64);
                pending.push(f);
            }
        }
        live
    }

    /// The number of a set, made if new.
    fn number(&self, memory: &mut Memory, bits: Box<[u64]>) -> u32 {
        if let Some(&n) = memory.numbers.get(&bits) {
            return n;
        }
        memory.sets.extend_from_slice(&bits);
        let count = memory.sets.len() / self.words;
        let n = count as u32 - 1;
        memory.numbers.insert(bits, n);
        memory.steps.resize(count * self.columns.stride, UNKNOWN);
        n
    }

    /// The set of row `row` of `steps` in `sets` (a memory's).
    fn set<'a>(&self, sets: &'a [u64], row: u32) -> &'a [u64] {
        let n = row as usize / self.columns.stride;
        &sets[n * self.words..][..self.words]
    }

    /// Walk from the anchored start (live at `start`) to `end`, taking the first live
    /// alternative of each branch, writing the capture slots passed into `slots`
    /// (all of them: [`UNSET`] where none is passed); returns where the match ends. `live_from`: the position of the first set in
    /// `Memory::live`, if the backward pass has run (else it runs when a move first
    /// needs a set).
    fn forward(
        &self,
        memory: &mut Memory,
        hay: &[u8],
        start: usize,
        end: usize,
        mut live_from: Option<usize>,
        slots: &mut Slots,
    ) -> Option<usize> {
        if slots.len() != self.slot_len() {
            return None;
        }
        slots.fill(UNSET);
        let first = *self.entered.get(self.nfa.start_anchored().as_usize())?;
        let mut row = self.row_of(memory, first)?;
        let span = hay.get(..end)?;
        // the class of the byte at a position; the span's end, where no byte is
        // read, has a class of its own
        let class_at = |at: usize| match span.get(at) {
            Some(&byte) => usize::from(self.class_of[usize::from(byte)]),
            None => self.classes - 1,
        };
        let mut at = start;
        loop {
            // the common case: moves the state and the class decide, that pass no
            // capture slot, in a loop that only reads the table (no call)
            let forward = &memory.forward;
            while at < end {
                match forward.get(row as usize + class_at(at)) {
                    Some(&entry) if entry < SPECIAL => row = entry,
                    _ => break,
                }
                at += 1;
            }
            let walk = Walker {
                hay,
                end,
                at,
                row,
                class: class_at(at),
            };
            match self.special_move(memory, slots, walk, &mut live_from)? {
                Next::Matched => return Some(at),
                // at the span's end only the match state can be reached
                Next::Row(..) if at == end => return None,
                // a literal run is only entered where the span holds it (the walk
                // is in live states), but a bound is checked, not assumed
                Next::Row(next, skip) if at + 1 + skip as usize <= end => {
                    row = next;
                    at += skip as usize;
                }
                Next::Row(..) => return None,
            }
            at += 1;
        }
    }

    /// The forward move of `walk` whose entry in `Memory::forward` is not a row:
    /// made if new, asked of the position's set if it depends on it (after the
    /// backward pass from there, if it has not run: see `live_from` in
    /// [`TwoPass::forward`]), then taken (writing the capture slots it passes).
    #[inline(always)]
    fn special_move(
        &self,
        memory: &mut Memory,
        slots: &mut Slots,
        walk: Walker,
        live_from: &mut Option<usize>,
    ) -> Option<Next> {
        let index = walk.row as usize + walk.class;
        let mut entry = *memory.forward.get(index)?;
        if entry == UNKNOWN {
            entry = self.make_entry(memory, walk.row, walk.class)?;
        }
        if entry < SPECIAL {
            return Some(Next::Row(entry, 0));
        }
        // a move remembered by state and class that passes capture slots or reaches
        // the match ([`NEEDS_SET`] is far beyond the moves made), or one that needs
        // the position's set
        let taken = match memory.special.get((entry - SPECIAL) as usize) {
            Some(&taken) => taken,
            None => {
                let from = match *live_from {
                    Some(from) => from,
                    None => {
                        self.backward(memory, walk.hay, walk.at, walk.end);
                        *live_from.insert(walk.at)
                    }
                };
                self.move_by_set(memory, walk.row, walk.class, walk.at - from)?
            }
        };
        take(&memory.move_slots, slots, taken, walk.at)
    }

    /// The entry of `Memory::forward` for the move from `row` across a byte of
    /// `class`, made: the row moved to, [`NEEDS_SET`], or [`SPECIAL`] plus the
    /// index of the move in `Memory::special`.
    #[cold]
    #[inline(never)]
    fn make_entry(&self, memory: &mut Memory, row: u32, class: usize) -> Option<u32> {
        let entry = match self.make_move(memory, row, class, None)? {
            None => NEEDS_SET,
            Some(made) if made.skip > 0 => {
                memory.special.push(made);
                SPECIAL + (memory.special.len() - 1) as u32
            }
            Some(made) if made.slots.0 == made.slots.1 && made.to != MATCH => made.to,
            Some(made) => {
                memory.special.push(made);
                SPECIAL + (memory.special.len() - 1) as u32
            }
        };
        *memory.forward.get_mut(row as usize + class)? = entry;
        Some(entry)
    }

    /// The move from `row` across a byte of `class` at the `offset`th position of
    /// `Memory::live`, for a move that depends on the position's set: remembered
    /// (inline), or made and remembered.
    #[inline(always)]
    fn move_by_set(
        &self,
        memory: &mut Memory,
        row: u32,
        class: usize,
        offset: usize,
    ) -> Option<Move> {
        let live = *memory.live.get(offset)?;
        let key = move_key(row, live, class);
        match memory.moves.get(move_slot(key))? {
            &(remembered, taken) if remembered == key => Some(taken),
            _ => self.make_move_by_set(memory, row, class, live),
        }
    }

    /// [`TwoPass::move_by_set`] not remembered yet: made, and remembered.
    #[cold]
    #[inline(never)]
    fn make_move_by_set(
        &self,
        memory: &mut Memory,
        row: u32,
        class: usize,
        live: u32,
    ) -> Option<Move> {
        let made = self.make_move(memory, row, class, Some(live))??;
        let key = move_key(row, live, class);
        *memory.moves.get_mut(move_slot(key))? = (key, made);
        Some(made)
    }

    /// The move from `row` across a byte of `class`, with the set of row `live` at
    /// the position or without one: `Some(None)` when it needs one, `None` when the
    /// walk fails or goes round an empty loop. The capture slots passed are appended
    /// to `Memory::move_slots`.
    fn make_move(
        &self,
        memory: &mut Memory,
        row: u32,
        class: usize,
        live: Option<u32>,
    ) -> Option<Option<Move>> {
        let from = *memory.row_states.get(row as usize / self.classes)?;
        if class < self.classes - 1 {
            if let Some((skip, to)) = self.literal_run(from) {
                let to = self.row_of(memory, to)?;
                let slots = (0, 0);
                return Some(Some(Move { to, slots, skip }));
            }
        }
        let Memory {
            sets, move_slots, ..
        } = memory;
        let slots_from = move_slots.len();
        let set = live.map(|live| self.set(sets, live));
        let to = match self.closure(from, class, set, move_slots)? {
            Closure::Moved(to) => to,
            Closure::NeedsSet => {
                move_slots.truncate(slots_from);
                return Some(None);
            }
        };
        let slots = (slots_from as u32, move_slots.len() as u32);
        let to = match to {
            MATCH => MATCH,
            state => self.row_of(memory, state)?,
        };
        Some(Some(Move { to, slots, skip: 0 }))
    }

    /// A run of at least [`LITERAL_RUN`] byte states from `from`, each of which reads
    /// any byte into the next (literal text: the walk is in live states, so the bytes
    /// are the literal's): the bytes after the first, and the state after the run.
    /// Walked as one move, it is one look-up, not one per byte, each in another row.
    fn literal_run(&self, from: u32) -> Option<(u32, u32)> {
        let mut state = from;
        let mut bytes = 0;
        while let Some(&Walk::Byte(next)) = self.walk.get(state as usize) {
            state = next;
            bytes += 1;
            if bytes as usize > self.walk.len() {
                return None;
            }
        }
        (bytes >= LITERAL_RUN).then(|| (bytes - 1, state))
    }

    /// The row of `state` in `Memory::forward`, made if new.
    fn row_of(&self, memory: &mut Memory, state: u32) -> Option<u32> {
        let row = memory.rows.get_mut(state as usize)?;
        if *row == UNKNOWN {
            *row = memory.forward.len() as u32;
            memory
                .forward
                .resize(memory.forward.len() + self.classes, UNKNOWN);
            memory.row_states.push(state);
        }
        Some(*row)
    }

    /// The walk from state `from` across a byte of `class` (`self.classes - 1`: no
    /// byte, the span's end): through the first live alternative of each branch to a
    /// byte state, which reads the byte, or to the match state. The capture slots
    /// passed are appended to `move_slots`. `None` when the walk fails or goes round
    /// an empty loop.
    ///
    /// Without the position's set (`set` is `None`), a branch is decided only where
    /// the byte's class decides it: an alternative is live only if some path of
    /// empty transitions from it reads a byte of the class or reaches the match
    /// state (`may_take`), and the walk is only in live states, so one of the
    /// alternatives of a branch is live. So an alternative that cannot take the
    /// class is not the first live one, and one that alone can take it is. Where
    /// more than one can, the walk needs the set ([`Closure::NeedsSet`]). The walk
    /// takes the same path with or without the set, and on log lines most moves need
    /// none: they are remembered by state and class alone.
    fn closure(
        &self,
        from: u32,
        class: usize,
        set: Option<&[u64]>,
        move_slots: &mut Vec<u32>,
    ) -> Option<Closure> {
        let live = |set: &[u64], id: u32| {
            set.get(id as usize / 64)
                .is_some_and(|w| w >> (id % 64) & 1 == 1)
        };
        let may_take = |id: u32| {
            self.may_take
                .get(id as usize * self.class_words + class / 64)
                .is_some_and(|w| w >> (class % 64) & 1 == 1)
        };
        let end = self.classes - 1;
        let mut state = from as usize;
        // States passed: more than all of them is an empty loop.
        for _ in 0..=self.walk.len() {
            state = match *self.walk.get(state)? {
                Walk::Byte(next) if class < end => next as usize,
                Walk::Bytes if class < end => {
                    let byte = *self.class_bytes.get(class)?;
                    let next = next_on_byte(self.nfa.state(StateID::new(state).ok()?), byte)?;
                    *self.entered.get(next.as_usize())? as usize
                }
                Walk::Byte(_) | Walk::Bytes | Walk::Fail => return None,
                Walk::Split {
                    test,
                    first,
                    second,
                } => {
                    let take_first = match set {
                        Some(set) => live(set, test),
                        None if !may_take(test) => false,
                        None if !may_take(second) => true,
                        None => return Some(Closure::NeedsSet),
                    };
                    state = match take_first {
                        true => first as usize,
                        false => second as usize,
                    };
                    continue;
                }
                Walk::Union => {
                    let State::Union { alternates } = self.nfa.state(StateID::new(state).ok()?)
                    else {
                        return None;
                    };
                    let alt = match set {
                        Some(set) => alternates.iter().find(|&&a| live(set, a.as_u32()))?,
                        None => {
                            let mut takers = alternates.iter().filter(|&&a| may_take(a.as_u32()));
                            let alt = takers.next()?;
                            if takers.next().is_some() {
                                return Some(Closure::NeedsSet);
                            }
                            alt
                        }
                    };
                    state = *self.entered.get(alt.as_usize())? as usize;
                    continue;
                }
                Walk::Passes { from, to, next } => {
                    move_slots
                        .extend_from_slice(self.passed_slots.get(from as usize..to as usize)?);
                    state = next as usize;
                    continue;
                }
                Walk::Match => MATCH as usize,
            };
            return Some(Closure::Moved(state as u32));
        }
        None
    }
}

/// Take the forward move `taken` at position `at`: write the position into the
/// capture slots it passes (of `move_slots`, into `slots`), and tell where the walk
/// goes next.
#[inline(always)]
fn take(move_slots: &[u32], slots: &mut Slots, taken: Move, at: usize) -> Option<Next> {
    if taken.slots.0 != taken.slots.1 {
        for &slot in move_slots.get(taken.slots.0 as usize..taken.slots.1 as usize)? {
            if let Some(s) = slots.get_mut(slot as usize) {
                // within the haystack, which fits (see `TwoPass::fits`)
                *s = at as Slot;
            }
        }
    }
    Some(match taken.to {
        MATCH => Next::Matched,
        to => Next::Row(to, taken.skip),
    })
}

/// The move from forward row `row`, at a position whose set has the row `live` in
/// `Memory::steps`, across a byte of class `class`, in one number: rows of
/// `Memory::steps` are apart by more columns than there are classes.
fn move_key(row: u32, live: u32, class: usize) -> u64 {
    u64::from(row) << 32 | (u64::from(live) + class as u64)
}

/// Where the move of `key` is remembered in `Memory::moves`.
fn move_slot(key: u64) -> usize {
    // Fibonacci hashing: the high bits of the product mix every bit of the key
    (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - MOVES.trailing_zeros())) as usize
}

/// The state `state` reads `byte` into, if it is a byte state that reads it.
pub(crate) fn next_on_byte(state: &State, byte: u8) -> Option<StateID> {
    match state {
        State::ByteRange { trans } => trans.matches_byte(byte).then_some(trans.next),
        State::Sparse(sparse) => sparse.matches_byte(byte),
        State::Dense(dense) => dense.matches_byte(byte),
        _ => None,
    }
}

/// The states `state` has an empty transition to (unions, captures, assertions).
fn empty_successors(state: &State) -> Vec<StateID> {
    match state {
        State::Union { alternates } => alternates.to_vec(),
        State::BinaryUnion { alt1, alt2 } => vec![*alt1, *alt2],
        State::Capture { next, .. } | State::Look { next, .. } => vec![*next],
        _ => Vec::new(),
    }
}

/// For each state of `nfa`, the byte classes (of `classes`, by `class_of`) some path
/// of empty transitions from it reads, or reaches the match state through
/// assertions that can hold before a byte of the class (the end, where no byte is
/// read, takes every assertion): bitsets of `classes.div_ceil(64)` words, one after
/// the other. A superset of the classes a live state can take is what
/// [`TwoPass::closure`] needs; the assertions make it smaller where it matters most,
/// at the `$` after a loop that takes any byte (`.+$`): the loop's exit is not live
/// where a byte other than a line's end follows.
fn may_take_table(nfa: &NFA, class_of: &[u8; 256], classes: usize, looks: &LookTable) -> Vec<u64> {
    let words = classes.div_ceil(64);
    let states = nfa.states();
    // the classes before which each assertion can hold, with any kind before
    let may_hold = |look: Look| {
        let mut bits = vec![0u64; words];
        let end = classes - 1;
        bits[end / 64] |= 1 << (end % 64);
        for byte in 0..=u8::MAX {
            let at = looks.kind(byte);
            if (0..LOOK_KINDS).any(|before| looks.holding(before, at) & look.as_repr() != 0) {
                let class = usize::from(class_of[usize::from(byte)]);
                bits[class / 64] |= 1 << (class % 64);
            }
        }
        bits
    };
    let mut table = vec![0u64; states.len() * words];
    // each state's empty transitions, with the classes they let through
    let mut successors = Vec::with_capacity(states.len());
    for (i, state) in states.iter().enumerate() {
        let own = &mut table[i * words..][..words];
        let mut add = |class: usize| own[class / 64] |= 1 << (class % 64);
        match state {
            State::Match { .. } => (0..classes).for_each(&mut add),
            _ => (0..=u8::MAX)
                .filter(|&byte| next_on_byte(state, byte).is_some())
                .for_each(|byte| add(usize::from(class_of[usize::from(byte)]))),
        }
        let through = match state {
            State::Look { look, .. } => may_hold(*look),
            _ => vec![u64::MAX; words],
        };
        successors.push((empty_successors(state), through));
    }
    // what a state's empty transitions lead to, until nothing is added (loops of
    // empty transitions take more than one round)
    let mut changed = true;
    while changed {
        changed = false;
        for (i, (next, through)) in successors.iter().enumerate().rev() {
            for n in next {
                for (w, &through) in through.iter().enumerate() {
                    let (from, to) = (n.as_usize() * words + w, i * words + w);
                    let added = table[from] & through & !table[to];
                    if added != 0 {
                        table[to] |= added;
                        changed = true;
                    }
                }
            }
        }
    }
    table
}

impl Columns {
    /// The columns of a pattern with these byte classes and assertions.
    fn new(class_of: &[u8; 256], looks: &LookTable) -> Columns {
        let contexts = match looks.before_matters {
            true => LOOK_KINDS,
            false => 2,
        };
        let mut bytes: Vec<u8> = Vec::new();
        let mut of_byte = [0u32; 256];
        let mut context_after = [0u32; 256];
        let mut shape_of = [0u8; 256];
        for byte in 0..=u8::MAX {
            let same = |&b: &u8| {
                class_of[usize::from(b)] == class_of[usize::from(byte)]
                    && looks.kind(b) == looks.kind(byte)
            };
            let column = match bytes.iter().position(same) {
                Some(column) => column,
                None => {
                    bytes.push(byte);
                    bytes.len() - 1
                }
            };
            of_byte[usize::from(byte)] = (column * contexts) as u32;
            // at most 256 columns, one per byte
            shape_of[usize::from(byte)] = column as u8;
            if looks.before_matters {
                context_after[usize::from(byte)] = looks.kind(byte) as u32;
            }
        }
        let stride = bytes.len() * contexts + LOOK_KINDS * LOOK_KINDS;
        Columns {
            of_byte,
            context_after,
            shape_of,
            contexts,
            bytes,
            stride,
        }
    }

    /// The shape (see [`Shapes`]) of the haystack `rest` searched from its start,
    /// after the byte `before` (none: the start is the haystack's), into `key`.
    fn shape_into(&self, key: &mut Vec<u8>, before: Option<u8>, rest: &[u8]) {
        key.clear();
        let head: [u8; SHAPE_HEAD] = match before {
            Some(before) => [1, self.shape_of[usize::from(before)]],
            None => [0, 0],
        };
        key.extend(head);
        key.extend(rest.iter().map(|&byte| self.shape_of[usize::from(byte)]));
    }

    /// The column of the haystack's first byte (the edge before it).
    fn at_haystack_start(&self, byte: u8) -> u32 {
        self.of_byte[usize::from(byte)] + (self.contexts - 1) as u32
    }

    /// The column of the span's end, between bytes of these kinds.
    fn at_end(&self, kind_before: usize, kind_at: usize) -> u32 {
        (self.bytes.len() * self.contexts + kind_before * LOOK_KINDS + kind_at) as u32
    }

    /// The byte a column reads (256: none) and the assertions holding there.
    fn context(&self, column: usize, looks: &LookTable) -> (u16, u32) {
        let byte_columns = self.bytes.len() * self.contexts;
        match self.bytes.get(column / self.contexts) {
            Some(&byte) if column < byte_columns => {
                let context = column % self.contexts;
                let before = match context == self.contexts - 1 {
                    true => EDGE,
                    // any kind but the edge, when the kind before does not matter
                    false => context,
                };
                (u16::from(byte), looks.holding(before, looks.kind(byte)))
            }
            _ => {
                let kinds = column - byte_columns;
                (256, looks.holding(kinds / LOOK_KINDS, kinds % LOOK_KINDS))
            }
        }
    }
}

/// Literals one of which begins every match of `hir`, if at most [`FIRST_LITERALS`]
/// of them, none shorter than [`FIRST_LITERAL_LEN`], do.
///
/// The extractor's literals each begin some matches, and together all; so does any
/// set of their prefixes that holds a prefix of each. Too many literals are made
/// fewer that way: a literal that another begins is left out (the other begins
/// whatever it begins), then all are cut shorter until few enough are left.
fn first_literals(hir: &Hir) -> Option<Vec<Box<[u8]>>> {
    let mut extractor = literal::Extractor::new();
    extractor.kind(literal::ExtractKind::Prefix);
    let seq = extractor.extract(hir);
    let mut literals: Vec<&[u8]> = seq.literals()?.iter().map(|l| l.as_bytes()).collect();
    let mut cut = literals.iter().map(|l| l.len()).max()?;
    loop {
        literals = without_extensions(literals.iter().map(|l| &l[..l.len().min(cut)]));
        if literals.iter().any(|l| l.len() < FIRST_LITERAL_LEN) {
            return None;
        }
        if literals.len() <= FIRST_LITERALS {
            return Some(literals.iter().map(|&l| l.into()).collect());
        }
        cut -= 1;
    }
}

/// `literals` without those another one begins (duplicates kept once), sorted.
fn without_extensions<'a>(literals: impl Iterator<Item = &'a [u8]>) -> Vec<&'a [u8]> {
    let mut sorted: Vec<&[u8]> = literals.collect();
    // a literal sorts right before the literals it begins
    sorted.sort_unstable();
    let mut kept: Vec<&[u8]> = Vec::with_capacity(sorted.len());
    for literal in sorted {
        if !kept.last().is_some_and(|last| literal.starts_with(last)) {
            kept.push(literal);
        }
    }
    kept
}

/// The forward walk's view of `nfa`: each state as the walk reads it, the state
/// the walk enters for each state and the capture slots of the runs of captures and
/// assertions; `None` if captures and assertions alone make a cycle (a Thompson
/// automaton has none).
fn walk_table(nfa: &NFA) -> Option<(Vec<Walk>, Vec<u32>, Vec<u32>)> {
    let states = nfa.states();
    let mut passed_slots = Vec::new();
    // each state's run: the slots it writes and the state after it
    let mut runs = Vec::with_capacity(states.len());
    for i in 0..states.len() {
        let from = passed_slots.len() as u32;
        let mut next = StateID::new(i).ok()?;
        let mut passed = 0;
        loop {
            next = match nfa.state(next) {
                State::Capture { slot, next, .. } => {
                    passed_slots.push(slot.as_u32());
                    *next
                }
                State::Look { next, .. } => *next,
                _ => break,
            };
            passed += 1;
            if passed > states.len() {
                return None;
            }
        }
        runs.push((from, passed_slots.len() as u32, next.as_u32()));
    }
    let entered: Vec<u32> = runs
        .iter()
        .enumerate()
        .map(|(i, &(from, to, next))| match from == to {
            true => next,
            false => i as u32,
        })
        .collect();
    let enter = |id: StateID| entered[id.as_usize()];
    let walk = states
        .iter()
        .zip(&runs)
        .map(|(state, &(from, to, next))| match state {
            State::ByteRange { trans } => Walk::Byte(enter(trans.next)),
            State::Sparse(sparse) => match sparse.transitions.first() {
                Some(first) if sparse.transitions.iter().all(|t| t.next == first.next) => {
                    Walk::Byte(enter(first.next))
                }
                _ => Walk::Bytes,
            },
            State::Dense(_) => Walk::Bytes,
            State::BinaryUnion { alt1, alt2 } => Walk::Split {
                test: alt1.as_u32(),
                first: enter(*alt1),
                second: enter(*alt2),
            },
            State::Union { .. } => Walk::Union,
            State::Capture { .. } | State::Look { .. } => Walk::Passes { from, to, next },
            State::Match { .. } => Walk::Match,
            State::Fail => Walk::Fail,
        })
        .collect();
    Some((walk, entered, passed_slots))
}

impl LookTable {
    /// The table of the assertions `nfa` uses, if all are ASCII ones (as they are
    /// with ASCII classes).
    fn new(nfa: &NFA) -> Option<LookTable> {
        let looks: Vec<Look> = nfa.look_set_any().iter().collect();
        let matcher = nfa.look_matcher();
        let ascii = looks.iter().all(|look| {
            matches!(
                look,
                Look::Start
                    | Look::End
                    | Look::StartCRLF
                    | Look::EndCRLF
                    | Look::WordAscii
                    | Look::WordAsciiNegate
                    | Look::WordStartAscii
                    | Look::WordEndAscii
                    | Look::WordStartHalfAscii
                    | Look::WordEndHalfAscii
            ) || matches!(look, Look::StartLF | Look::EndLF)
                && matcher.get_line_terminator() == b'\n'
        });
        if !ascii {
            return None;
        }
        // one byte of each kind, in kind order
        const EXAMPLES: [u8; EDGE] = [b' ', b'a', b'\r', b'\n'];
        let mut kind = [0u8; 256];
        for (byte, k) in kind.iter_mut().enumerate() {
            let byte = byte as u8;
            *k = match byte {
                b'\r' => 2,
                b'\n' => 3,
                _ if byte.is_ascii_alphanumeric() || byte == b'_' => 1,
                _ => 0,
            };
        }
        let mut holding = [0u32; LOOK_KINDS * LOOK_KINDS];
        for (i, bits) in holding.iter_mut().enumerate() {
            let (before, after) = (i / LOOK_KINDS, i % LOOK_KINDS);
            // the position between the two kinds' example bytes, either one left out
            // at an edge
            let hay: Vec<u8> = [before, after]
                .iter()
                .filter_map(|&k| EXAMPLES.get(k).copied())
                .collect();
            let at = usize::from(before != EDGE);
            *bits = looks
                .iter()
                .filter(|&&look| matcher.matches(look, &hay, at))
                .fold(0, |bits, look| bits | look.as_repr());
        }
        // the same for every kind of byte before as for the first (the edge apart)?
        let before_matters = (0..EDGE).any(|before| {
            (0..LOOK_KINDS).any(|at| holding[before * LOOK_KINDS + at] != holding[at])
        });
        Some(LookTable {
            kind,
            holding,
            before_matters,
        })
    }

    /// The kind of a byte.
    fn kind(&self, byte: u8) -> usize {
        usize::from(self.kind[usize::from(byte)])
    }

    /// The assertions holding between bytes of these kinds.
    fn holding(&self, kind_before: usize, kind_at: usize) -> u32 {
        self.holding[kind_before * LOOK_KINDS + kind_at]
    }
}
