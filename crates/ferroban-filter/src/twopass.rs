//! Captures of a match without back-tracking: two passes over a span already found.
//!
//! Owns a second compilation of a linear pattern (a Thompson NFA, ASCII classes) and
//! the capture search over a match span that a DFA has already found. It decides
//! whether and where a pattern matches only for a pattern anchored at the haystack's
//! start and ending at a line's end ([`TwoPass::search`]); for any other, the
//! `regex` crate's DFA does. It only serves ASCII haystacks.
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
//!    states: on log lines almost every step is a table look-up.
//! 2. **Forwards**, the automaton is walked once from the start of the span, taking
//!    at each branch the first alternative (in priority order) whose state is in the
//!    set of its position, and recording the capture positions met on the way. What
//!    the walk does between two bytes depends only on the state it is in, the set of
//!    the position and the byte's class, so those moves are remembered too: on log
//!    lines the walk is a table look-up per byte, not a few automaton states.
//!
//! Why that is exact: a back-tracker tries the alternatives of a branch in priority
//! order and keeps the first one from which a match can be reached; "a match can be
//! reached from this state at this position" is exactly membership in the backward
//! pass's set. So the walk takes the back-tracker's path (the leftmost-first one),
//! with no dead end explored. The one difference would be a loop that comes back to
//! the same state without consuming anything (an empty iteration), which the
//! back-tracker cuts: the walk notices any such return and gives the search back
//! to the back-tracker, as it does when its memory bound is reached.

use std::collections::HashMap;
use std::sync::Mutex;

use regex_automata::nfa::thompson::{self, State, NFA};
use regex_automata::util::look::{Look, LookSet};
use regex_automata::util::primitives::StateID;
use regex_automata::util::syntax;
use regex_syntax::hir::{literal, Hir};

/// At most this many literals begin the matches of a pattern whose first bytes are
/// compared before it is searched alone…
const FIRST_LITERALS: usize = 16;
/// …and each is at least this long (a shorter one tells few lines apart).
const FIRST_LITERAL_LEN: usize = 3;

/// Sets kept before the memory is cleared and the sets are made again.
const MAX_SETS: usize = 1024;

/// A step not made yet (no assertions can all hold: `Look` bits are below 2^18).
const NO_STEP: (u32, u32) = (u32::MAX, 0);

/// Capture slots kept for the remembered moves before the memory is cleared.
const MAX_MOVE_SLOTS: usize = 1 << 16;

/// Moves remembered (a power of two): a pattern's walks on log lines make a few
/// hundred different ones.
const MOVES: usize = 1024;

/// The groups' spans of a match, by group index (`None`: the group took no part).
pub type Spans = Vec<Option<(usize, usize)>>;

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

/// What the forward walk does from state `from` at a position: through the first
/// live alternative of each branch (writing the position into the capture slots it
/// passes) to a byte state, then across the byte, into `to` ([`MATCH`]: it reached
/// the match state instead). It depends only on the state, the position's set and
/// the byte's class (`place`, see [`Move::place`]), so it is remembered by them.
#[derive(Debug, Clone, Copy)]
struct Move {
    /// The state moved from and the place, as [`Move::key`] gives them.
    key: u64,
    to: u32,
    /// The slots passed, as a range of `Memory::move_slots`.
    slots: (u32, u32),
}

impl Move {
    /// A position's set and byte class in one number (classes are at most 257).
    fn place(set: u32, class: usize) -> u32 {
        set << 9 | class as u32
    }

    /// The set of a [`Move::place`]…
    fn set_of(place: u32) -> u32 {
        place >> 9
    }

    /// …and its byte class.
    fn class_of(place: u32) -> usize {
        (place & 511) as usize
    }

    /// The move from state `from` at `place`, in one number.
    fn key(from: u32, place: u32) -> u64 {
        u64::from(from) << 32 | u64::from(place)
    }

    /// Where the move of `key` is remembered in `Memory::moves`.
    fn slot(key: u64) -> usize {
        // Fibonacci hashing: the high bits of the product mix every bit of the key
        (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - MOVES.trailing_zeros())) as usize
    }
}

/// [`Move::to`] when the walk reaches the match state.
const MATCH: u32 = u32::MAX;

/// A move not made yet (no state has this number).
const NO_MOVE: Move = Move {
    key: u64::MAX,
    to: MATCH,
    slots: (0, 0),
};

/// The kinds of byte the ASCII assertions tell apart (see [`LookTable`]): other, word
/// (`[0-9A-Za-z_]`), `\r`, `\n`, and no byte (the haystack's edge).
const LOOK_KINDS: usize = 5;
const EDGE: usize = LOOK_KINDS - 1;

/// The assertions that hold at a position, by the kinds of the bytes before and at
/// it: the ASCII assertions (`^`, `$`, their multi-line and CRLF forms, the ASCII word
/// boundaries) look at nothing else. Made once per pattern with the automaton's own
/// look matcher, so the bits are the matcher's; a search then reads one entry per
/// position instead of asking the matcher about each assertion.
#[derive(Debug)]
struct LookTable {
    /// Each byte's kind (`0..EDGE`).
    kind: [u8; 256],
    /// The assertions holding, by `before * LOOK_KINDS + at` kind.
    holding: [u32; LOOK_KINDS * LOOK_KINDS],
    /// Whether the assertions holding between two bytes depend on the byte before
    /// (as word boundaries and multi-line `^` do; Fail2ban's `^` and `$` do not)…
    before_matters: bool,
    /// …and when they do not, those holding before each byte.
    before_byte: [u32; 256],
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
    /// Each byte's class (bytes of a class take the same transitions)…
    class_of: [u8; 256],
    /// …and a byte of each class.
    class_bytes: Vec<u8>,
    /// The assertions the automaton uses, by the bytes around a position.
    looks: LookTable,
    /// See [`TwoPass::searches_alone`].
    searches_alone: bool,
    /// Literals one of which begins every match, when they are few and long enough
    /// to tell lines apart (see [`TwoPass::may_start_at`]).
    first_literals: Option<Vec<Box<[u8]>>>,
    /// 64-bit words in a set of states.
    words: usize,
    /// Byte classes (bytes no transition tells apart), and one more for the end.
    classes: usize,
    memory: Mutex<Memory>,
}

/// What the backward pass remembers between searches.
#[derive(Debug, Default)]
struct Memory {
    /// The sets of live states, as bitsets of `TwoPass::words` words each, one after
    /// the other by number.
    sets: Vec<u64>,
    numbers: HashMap<Box<[u64]>, u32>,
    /// The steps made, by set after and byte class: the assertions that held and
    /// the set before (`NO_STEP` when not made yet).
    steps: Vec<(u32, u32)>,
    /// The set and byte class (no byte at the span's end) of each position of the
    /// current span, as [`Move::place`] gives them.
    live: Vec<u32>,
    /// The capture slots of the current walk.
    slots: Vec<Option<usize>>,
    /// The forward walk's moves, each where [`Move::slot`] puts it (the last one
    /// made there).
    moves: Vec<Move>,
    /// The capture slots the moves pass, in runs.
    move_slots: Vec<u32>,
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
        let searches_alone = nfa.is_always_start_anchored() && ends_at_line_end;
        let first_literals = first_literals(&hir);
        let mut predecessors = vec![Vec::new(); nfa.states().len()];
        for (i, state) in nfa.states().iter().enumerate() {
            let from = StateID::new(i).ok()?;
            let mut add = |to: StateID| predecessors[to.as_usize()].push(from);
            match state {
                State::Union { alternates } => alternates.iter().for_each(|&a| add(a)),
                State::BinaryUnion { alt1, alt2 } => {
                    add(*alt1);
                    add(*alt2);
                }
                State::Capture { next, .. } | State::Look { next, .. } => add(*next),
                _ => {}
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
        let words = nfa.states().len().div_ceil(64);
        let classes = nfa.byte_classes().alphabet_len();
        Some(TwoPass {
            nfa,
            predecessors,
            walk,
            entered,
            passed_slots,
            class_of,
            class_bytes,
            looks,
            searches_alone,
            first_literals,
            words,
            classes,
            memory: Mutex::new(Memory::default()),
        })
    }

    /// The groups' spans (by group index) of the leftmost-first match that spans
    /// `hay[start..end]` exactly; `None` when this engine cannot tell (another
    /// thread holds its memory, or an empty loop) and the caller must search.
    pub fn captures(&self, hay: &[u8], start: usize, end: usize) -> Option<Spans> {
        self.both_passes(hay, start, end).flatten()
    }

    /// Whether [`TwoPass::search`] can stand in for the search of a match with a
    /// DFA: every match starts at the haystack's start (`\A`, or `^` of a single-line
    /// pattern) and ends at a line's end (`$`), so the backward pass over the rest of
    /// the haystack (beyond the match) is short.
    pub fn searches_alone(&self) -> bool {
        self.searches_alone
    }

    /// Whether a match of a pattern every match of which starts at the haystack's
    /// start could be found from `start`, by the literals every match begins with:
    /// `false` when none begins `hay[start..]`, `None` when the pattern has none
    /// worth checking. A few bytes compared, where finding out with a DFA reads the
    /// line up to where the match could end.
    pub fn may_start_at(&self, hay: &[u8], start: usize) -> Option<bool> {
        let rest = hay.get(start..)?;
        let literals = self.first_literals.as_ref()?;
        Some(literals.iter().any(|literal| rest.starts_with(literal)))
    }

    /// The groups' spans of the leftmost-first match in `hay[start..]`, with no span
    /// found beforehand, for a pattern every match of which starts at the haystack's
    /// start: `Some(None)` when there is no match, `None` when this engine cannot tell.
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
    pub fn search(&self, hay: &[u8], start: usize) -> Option<Option<Spans>> {
        self.both_passes(hay, start, hay.len())
    }

    /// The backward pass over `hay[start..end]`, then the forward walk from `start`:
    /// `Some(None)` when no match can start there, `None` when this engine cannot tell.
    fn both_passes(&self, hay: &[u8], start: usize, end: usize) -> Option<Option<Spans>> {
        let mut memory = self.memory()?;
        self.backward(&mut memory, hay, start, end);
        match self.starts_live(&memory) {
            true => self.forward(&mut memory, start).map(Some),
            false => Some(None),
        }
    }

    /// This engine's memory, cleared when full; `None` when another thread holds it.
    fn memory(&self) -> Option<std::sync::MutexGuard<'_, Memory>> {
        let mut memory = self.memory.try_lock().ok()?;
        if memory.sets.len() > MAX_SETS * self.words || memory.move_slots.len() > MAX_MOVE_SLOTS {
            *memory = Memory::default();
        }
        Some(memory)
    }

    /// Whether a match can be reached from the anchored start at the span's start
    /// (after [`TwoPass::backward`]).
    fn starts_live(&self, memory: &Memory) -> bool {
        let id = self.nfa.start_anchored().as_usize();
        let first = memory
            .live
            .first()
            .map(|&place| self.set(&memory.sets, Move::set_of(place)));
        first.is_some_and(|set| set[id / 64] >> (id % 64) & 1 == 1)
    }

    /// Fill `memory.live` with the set of each position of `hay[start..=end]`.
    fn backward(&self, memory: &mut Memory, hay: &[u8], start: usize, end: usize) {
        let mut live = std::mem::take(&mut memory.live);
        live.clear();
        live.resize(end - start + 1, 0);
        // the set after the span's end: empty (number 0, made first)
        if memory.sets.is_empty() {
            self.number(memory, vec![0; self.words].into_boxed_slice());
        }
        let (classes, looks) = (self.classes, &self.looks);
        // the span's end, where no byte is read, then its bytes, last first
        let kind_at = hay.get(end).map_or(EDGE, |&b| looks.kind(b));
        let span = &hay[..end];
        let kind_before = span.last().map_or(EDGE, |&b| looks.kind(b));
        let holding = looks.holding(kind_before, kind_at);
        let mut after = self.advance(memory, 0, classes - 1, 256, holding);
        live[end - start] = Move::place(after, classes - 1);
        for at in (start..end).rev() {
            let byte = span[at];
            let class = usize::from(self.class_of[usize::from(byte)]);
            let holding = match at {
                0 => looks.holding(EDGE, looks.kind(byte)),
                _ => looks.between(span[at - 1], byte),
            };
            after = self.advance(memory, after, class, u16::from(byte), holding);
            live[at - start] = Move::place(after, class);
        }
        memory.live = live;
    }

    /// The set before `after` across a byte of `class` (`byte`, 256 for none) with
    /// the assertions `holding` there: remembered (the common case, inline), or made
    /// and remembered.
    #[inline(always)]
    fn advance(
        &self,
        memory: &mut Memory,
        after: u32,
        class: usize,
        byte: u16,
        holding: u32,
    ) -> u32 {
        let index = after as usize * self.classes + class;
        match memory.steps.get(index) {
            Some(&(looks, set)) if looks == holding => set,
            _ => self.make_step(memory, index, after, byte, holding),
        }
    }

    /// [`TwoPass::advance`] not remembered yet: made, and remembered at `index`.
    #[cold]
    #[inline(never)]
    fn make_step(
        &self,
        memory: &mut Memory,
        index: usize,
        after: u32,
        byte: u16,
        holding: u32,
    ) -> u32 {
        let bits = self.step(self.set(&memory.sets, after), byte, holding);
        let set = self.number(memory, bits);
        memory.steps[index] = (holding, set);
        set
    }

    /// The states from which a match can be reached at a position, from the set of
    /// the next position (`after`), the byte there (256: none, the span ends) and the
    /// assertions holding there.
    fn step(&self, after: &[u64], byte: u16, holding: u32) -> Box<[u64]> {
        let contains =
            |set: &[u64], id: StateID| set[id.as_usize() / 64] >> (id.as_usize() % 64) & 1 == 1;
        let mut live = vec![0u64; self.words].into_boxed_slice();
        let mut pending = Vec::new();
        let next_on_byte = |state: &State| -> Option<StateID> {
            let b = u8::try_from(byte).ok()?;
            match state {
                State::ByteRange { trans } => trans.matches_byte(b).then_some(trans.next),
                State::Sparse(sparse) => sparse.matches_byte(b),
                State::Dense(dense) => dense.matches_byte(b),
                _ => None,
            }
        };
        for (i, state) in self.nfa.states().iter().enumerate() {
            let reaches = match state {
                State::Match { .. } => true,
                _ => next_on_byte(state).is_some_and(|next| contains(after, next)),
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
        memory.steps.resize(count * self.classes, NO_STEP);
        n
    }

    /// The set numbered `n` in `sets` (a memory's).
    fn set<'a>(&self, sets: &'a [u64], n: u32) -> &'a [u64] {
        &sets[n as usize * self.words..][..self.words]
    }

    /// Walk from the anchored start (live at `start`), taking the first live
    /// alternative of each branch.
    fn forward(&self, memory: &mut Memory, start: usize) -> Option<Spans> {
        let Memory {
            sets,
            live,
            slots,
            moves,
            move_slots,
            ..
        } = memory;
        slots.clear();
        slots.resize(self.nfa.group_info().slot_len(), None);
        moves.resize(MOVES, NO_MOVE);
        let moves = &mut moves[..MOVES];
        let mut id = *self.entered.get(self.nfa.start_anchored().as_usize())?;
        for (at, &place) in (start..).zip(live.iter()) {
            let key = Move::key(id, place);
            let slot = Move::slot(key);
            let mut step = moves[slot];
            if step.key != key {
                step = self.closure(sets, id, place, move_slots)?;
                moves[slot] = step;
            }
            if step.slots.0 != step.slots.1 {
                for &slot in move_slots.get(step.slots.0 as usize..step.slots.1 as usize)? {
                    if let Some(s) = slots.get_mut(slot as usize) {
                        *s = Some(at);
                    }
                }
            }
            if step.to == MATCH {
                let mut spans = Vec::with_capacity(slots.len() / 2);
                for pair in slots.chunks_exact(2) {
                    spans.push(pair[0].zip(pair[1]));
                }
                return Some(spans);
            }
            id = step.to;
        }
        // the span's end passed without reaching the match state
        None
    }

    /// The walk's move from state `id` at a position whose set and byte class
    /// (`self.classes - 1`: no byte) are `place`: through the first live
    /// alternative of each branch to a byte state, which reads the byte, or to the
    /// match state. The capture slots passed are appended to `move_slots`. `None`
    /// when the walk fails or goes round an empty loop.
    #[cold]
    #[inline(never)]
    fn closure(
        &self,
        sets: &[u64],
        id: u32,
        place: u32,
        move_slots: &mut Vec<u32>,
    ) -> Option<Move> {
        let class = Move::class_of(place);
        let set = sets.get(Move::set_of(place) as usize * self.words..)?;
        let contains = |id: u32| {
            set.get(id as usize / 64)
                .is_some_and(|w| w >> (id % 64) & 1 == 1)
        };
        let slots_from = move_slots.len() as u32;
        let mut state = id as usize;
        // States passed: more than all of them is an empty loop.
        for _ in 0..=self.walk.len() {
            state = match *self.walk.get(state)? {
                Walk::Byte(next) if class < self.classes - 1 => next as usize,
                Walk::Bytes if class < self.classes - 1 => {
                    let byte = *self.class_bytes.get(class)?;
                    let next = match self.nfa.state(StateID::new(state).ok()?) {
                        State::Sparse(sparse) => sparse.matches_byte(byte)?,
                        State::Dense(dense) => dense.matches_byte(byte)?,
                        _ => return None,
                    };
                    *self.entered.get(next.as_usize())? as usize
                }
                Walk::Byte(_) | Walk::Bytes | Walk::Fail => return None,
                Walk::Split {
                    test,
                    first,
                    second,
                } => {
                    state = match contains(test) {
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
                    let alt = alternates.iter().find(|&&a| contains(a.as_u32()))?;
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
            let slots = (slots_from, move_slots.len() as u32);
            return Some(Move {
                key: Move::key(id, place),
                to: state as u32,
                slots,
            });
        }
        None
    }
}

/// Literals one of which begins every match of `hir`, if there are at most
/// [`FIRST_LITERALS`] of them and none is shorter than [`FIRST_LITERAL_LEN`].
fn first_literals(hir: &Hir) -> Option<Vec<Box<[u8]>>> {
    let mut extractor = literal::Extractor::new();
    extractor.kind(literal::ExtractKind::Prefix);
    let seq = extractor.extract(hir);
    let literals = seq.literals()?;
    let worth = literals.len() <= FIRST_LITERALS
        && literals
            .iter()
            .all(|l| l.as_bytes().len() >= FIRST_LITERAL_LEN);
    worth.then(|| literals.iter().map(|l| l.as_bytes().into()).collect())
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
        let mut before_byte = [0u32; 256];
        for (byte, bits) in before_byte.iter_mut().enumerate() {
            *bits = holding[usize::from(kind[byte])];
        }
        Some(LookTable {
            kind,
            holding,
            before_matters,
            before_byte,
        })
    }

    /// The assertions holding between the bytes `before` and `at`.
    #[inline(always)]
    fn between(&self, before: u8, at: u8) -> u32 {
        match self.before_matters {
            true => self.holding(self.kind(before), self.kind(at)),
            false => self.before_byte[usize::from(at)],
        }
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
