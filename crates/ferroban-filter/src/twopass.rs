//! Captures of a match without back-tracking: two passes over a span already found.
//!
//! Owns a second compilation of a linear pattern (a Thompson NFA, ASCII classes) and
//! the capture search over a match span that a DFA has already found. It does not
//! decide whether or where a pattern matches (the `regex` crate's DFA does), and it
//! only serves ASCII haystacks.
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
//!    set of its position, and recording the capture positions met on the way.
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

/// Sets kept before the memory is cleared and the sets are made again.
const MAX_SETS: usize = 1024;

/// A step not made yet (no assertions can all hold: `Look` bits are below 2^18).
const NO_STEP: (u32, u32) = (u32::MAX, 0);

/// The two-pass capture engine of one pattern.
#[derive(Debug)]
pub struct TwoPass {
    nfa: NFA,
    /// For each state, the states with an empty transition to it (the reverse of
    /// unions, captures and assertions).
    predecessors: Vec<Vec<StateID>>,
    /// The assertions the automaton uses.
    looks: Vec<Look>,
    /// 64-bit words in a set of states.
    words: usize,
    /// Byte classes (bytes no transition tells apart), and one more for the end.
    classes: usize,
    memory: Mutex<Memory>,
}

/// What the backward pass remembers between searches.
#[derive(Debug, Default)]
struct Memory {
    /// The sets of live states, as bitsets, by number.
    sets: Vec<Box<[u64]>>,
    numbers: HashMap<Box<[u64]>, u32>,
    /// The steps made, by set after and byte class: the assertions that held and
    /// the set before (`NO_STEP` when not made yet).
    steps: Vec<(u32, u32)>,
    /// The set of each position of the current span.
    live: Vec<u32>,
}

impl TwoPass {
    /// The engine for `pattern` (Rust syntax, compiled with ASCII classes as the
    /// `regex` crate's ASCII form is); `None` if it does not compile.
    pub fn new(pattern: &str) -> Option<TwoPass> {
        let nfa = thompson::Compiler::new()
            .syntax(syntax::Config::new().unicode(false).utf8(false))
            .configure(thompson::Config::new().utf8(false).shrink(false))
            .build(pattern)
            .ok()?;
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
        let looks = nfa.look_set_any().iter().collect();
        let words = nfa.states().len().div_ceil(64);
        let classes = nfa.byte_classes().alphabet_len();
        Some(TwoPass {
            nfa,
            predecessors,
            looks,
            words,
            classes,
            memory: Mutex::new(Memory::default()),
        })
    }

    /// The groups' spans (by group index) of the leftmost-first match that spans
    /// `hay[start..end]` exactly; `None` when this engine cannot tell (another
    /// thread holds its memory, or an empty loop) and the caller must search.
    pub fn captures(
        &self,
        hay: &[u8],
        start: usize,
        end: usize,
    ) -> Option<Vec<Option<(usize, usize)>>> {
        let mut memory = self.memory.try_lock().ok()?;
        let memory = &mut *memory;
        if memory.sets.len() > MAX_SETS {
            *memory = Memory::default();
        }
        self.backward(memory, hay, start, end);
        self.forward(memory, hay, start)
    }

    /// Fill `memory.live` with the set of each position of `hay[start..=end]`.
    fn backward(&self, memory: &mut Memory, hay: &[u8], start: usize, end: usize) {
        memory.live.clear();
        memory.live.resize(end - start + 1, 0);
        // the set after the span's end: empty (number 0, made first)
        let mut after = match memory.sets.is_empty() {
            true => self.number(memory, vec![0; self.words].into_boxed_slice()),
            false => 0,
        };
        for at in (start..=end).rev() {
            let (byte, class) = match at < end {
                true => (
                    u16::from(hay[at]),
                    usize::from(self.nfa.byte_classes().get(hay[at])),
                ),
                false => (256, self.classes - 1),
            };
            let holding = self.holding(hay, at);
            let index = after as usize * self.classes + class;
            let set = match memory.steps[index] {
                (looks, set) if looks == holding => set,
                _ => {
                    let bits = self.step(&memory.sets[after as usize], byte, holding);
                    let set = self.number(memory, bits);
                    memory.steps[index] = (holding, set);
                    set
                }
            };
            memory.live[at - start] = set;
            after = set;
        }
    }

    /// The assertions (of those the automaton uses) that hold at `at`, as bits.
    fn holding(&self, hay: &[u8], at: usize) -> u32 {
        if self.looks.is_empty() {
            return 0;
        }
        let matcher = self.nfa.look_matcher();
        self.looks
            .iter()
            .filter(|&&look| matcher.matches(look, hay, at))
            .fold(0, |bits, look| bits | look.as_repr())
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
        let n = memory.sets.len() as u32;
        memory.sets.push(bits.clone());
        memory.numbers.insert(bits, n);
        memory
            .steps
            .resize(memory.sets.len() * self.classes, NO_STEP);
        n
    }

    /// Walk from the anchored start, taking the first live alternative of each branch.
    fn forward(
        &self,
        memory: &Memory,
        hay: &[u8],
        start: usize,
    ) -> Option<Vec<Option<(usize, usize)>>> {
        let live = |at: usize, id: StateID| {
            let set = &memory.sets[memory.live[at - start] as usize];
            set[id.as_usize() / 64] >> (id.as_usize() % 64) & 1 == 1
        };
        let mut slots: Vec<Option<usize>> = vec![None; self.nfa.group_info().slot_len()];
        let mut id = self.nfa.start_anchored();
        let mut at = start;
        // States passed since the last byte: more than all of them is an empty loop.
        let mut without_byte = 0;
        if !live(at, id) {
            return None;
        }
        loop {
            without_byte += 1;
            if without_byte > self.nfa.states().len() {
                return None;
            }
            id = match self.nfa.state(id) {
                State::ByteRange { trans } => {
                    if !trans.matches_byte(*hay.get(at)?) {
                        return None;
                    }
                    at += 1;
                    without_byte = 0;
                    trans.next
                }
                State::Sparse(sparse) => {
                    let next = sparse.matches_byte(*hay.get(at)?)?;
                    at += 1;
                    without_byte = 0;
                    next
                }
                State::Dense(dense) => {
                    let next = dense.matches_byte(*hay.get(at)?)?;
                    at += 1;
                    without_byte = 0;
                    next
                }
                State::Look { next, .. } => *next,
                State::Union { alternates } => *alternates.iter().find(|&&a| live(at, a))?,
                State::BinaryUnion { alt1, alt2 } => match live(at, *alt1) {
                    true => *alt1,
                    false => *alt2,
                },
                State::Capture { next, slot, .. } => {
                    if let Some(s) = slots.get_mut(slot.as_usize()) {
                        *s = Some(at);
                    }
                    *next
                }
                State::Match { .. } => break,
                State::Fail => return None,
            };
        }
        Some(
            slots
                .chunks(2)
                .map(|pair| match pair {
                    [Some(a), Some(b)] => Some((*a, *b)),
                    _ => None,
                })
                .collect(),
        )
    }
}
