//! Python pickles as plain data: a strict decoder and a small encoder.
//!
//! Owns the pickle byte format (protocols 2 to 5, and the text opcodes of 0 and 1
//! that carry plain values). It builds [`PyValue`]s — None, bools, ints, floats,
//! strings, bytes, lists, tuples, dicts and sets — and nothing else: an opcode
//! that names a class or calls something (GLOBAL, STACK_GLOBAL, REDUCE, BUILD,
//! INST, OBJ, NEWOBJ, NEWOBJ_EX, EXT1/2/4, PERSID, BINPERSID, out-of-band buffers)
//! makes the whole pickle an error. The one exception is [`decode_answer`], for the
//! client reading a Fail2ban server's answer: there a class named and applied to a
//! tuple (how Python pickles an exception) becomes the inert
//! [`PyValue::Exception`] — names and arguments, never looked up or run.
//!
//! Every length is checked against the bytes that are left before anything is
//! allocated, and the values built, their nesting and their expansion through the
//! memo are bounded, so no input makes the decoder use much more memory than the
//! input itself, recurse deeply, or loop. It does no I/O: framing is
//! [`crate::fail2ban_protocol`]'s.

use std::collections::HashMap;

/// A Python value as pickles carry it.
#[derive(Debug, Clone, PartialEq)]
pub enum PyValue {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    List(Vec<PyValue>),
    Tuple(Vec<PyValue>),
    /// Key/value pairs in their pickled order.
    Dict(Vec<(PyValue, PyValue)>),
    Set(Vec<PyValue>),
    /// An exception object, `module.name(*args)`: encoded for Fail2ban's clients,
    /// and decoded (as data only) from a Fail2ban server's answer. (Encoded, it is
    /// any such call: fail2ban-server answers a compiled regex as `re._compile`.)
    Exception {
        module: String,
        name: String,
        args: Vec<PyValue>,
    },
}

impl PyValue {
    /// A `str`.
    pub fn str(text: impl Into<String>) -> PyValue {
        PyValue::Str(text.into())
    }

    /// The text of a `str`, or `None`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            PyValue::Str(s) => Some(s),
            _ => None,
        }
    }
}

/// The most nested a decoded value may be (Fail2ban's deepest message, the
/// configuration stream of `reload`, is four levels deep).
pub const MAX_DEPTH: usize = 64;
/// The most values one pickle may build, counted after the memo's references are
/// expanded: far above what any Fail2ban configuration stream needs.
pub const MAX_VALUES: usize = 1 << 20;
/// The most bytes of text one pickle may build, after expansion, in total.
pub const MAX_TEXT: usize = 64 << 20;

/// Why a pickle was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PickleError {
    #[error("the pickle ends early (at byte {0})")]
    Truncated(usize),
    #[error(
        "opcode {name} at byte {at} would name a class or call something; refused, nothing was run"
    )]
    Forbidden { name: &'static str, at: usize },
    #[error("unknown or unsupported pickle opcode 0x{opcode:02x} at byte {at}")]
    Unsupported { opcode: u8, at: usize },
    #[error("pickle protocol {0} is not supported (2 to 5 are)")]
    Protocol(u8),
    #[error("malformed pickle at byte {at}: {why}")]
    Malformed { at: usize, why: &'static str },
    #[error("the pickle builds more than {what} allows; refused")]
    TooLarge { what: &'static str },
    #[error("the pickle nests deeper than {MAX_DEPTH} levels or refers to itself; refused")]
    TooDeep,
    #[error("data after the end of the pickle (at byte {0})")]
    Trailing(usize),
}

/// What the decoder may build besides plain data.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// Plain data only: every class reference is refused.
    Request,
    /// A class applied to a tuple becomes [`PyValue::Exception`] (never looked up).
    Answer,
}

/// Decode a request: plain data only.
pub fn decode_request(bytes: &[u8]) -> Result<PyValue, PickleError> {
    Decoder::new(bytes, Mode::Request).run()
}

/// Decode a server's answer: plain data, and exceptions as inert names and
/// arguments.
pub fn decode_answer(bytes: &[u8]) -> Result<PyValue, PickleError> {
    Decoder::new(bytes, Mode::Answer).run()
}

/// A decoded object, held in the decoder's arena so that the memo can share it
/// (and containers can grow after being memoized, as Python writes them).
enum Node {
    Leaf(PyValue),
    List(Vec<usize>),
    Tuple(Vec<usize>),
    Dict(Vec<(usize, usize)>),
    Set(Vec<usize>),
    /// `module.name`, only in answers, only until applied by REDUCE.
    Global(String, String),
    /// `module.name(*args)`, only in answers.
    Call(String, String, usize),
}

enum Slot {
    Mark,
    Node(usize),
}

struct Decoder<'a> {
    bytes: &'a [u8],
    pos: usize,
    mode: Mode,
    arena: Vec<Node>,
    stack: Vec<Slot>,
    memo: HashMap<u64, usize>,
    text: usize,
}

impl<'a> Decoder<'a> {
    fn new(bytes: &'a [u8], mode: Mode) -> Self {
        Decoder {
            bytes,
            pos: 0,
            mode,
            arena: Vec::new(),
            stack: Vec::new(),
            memo: HashMap::new(),
            text: 0,
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], PickleError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or(PickleError::Truncated(self.bytes.len()))?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn byte(&mut self) -> Result<u8, PickleError> {
        Ok(self.take(1)?[0])
    }

    fn le(&mut self, n: usize) -> Result<u64, PickleError> {
        let raw = self.take(n)?;
        Ok(raw
            .iter()
            .rev()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }

    /// A length prefix of `n` bytes, checked against what is left.
    fn length(&mut self, n: usize) -> Result<usize, PickleError> {
        let len = self.le(n)?;
        let left = (self.bytes.len() - self.pos) as u64;
        if len > left {
            return Err(PickleError::Truncated(self.bytes.len()));
        }
        Ok(len as usize)
    }

    /// A text argument ending in a newline (protocol 0 opcodes).
    fn line(&mut self) -> Result<&'a str, PickleError> {
        let rest = &self.bytes[self.pos..];
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or(PickleError::Truncated(self.bytes.len()))?;
        let at = self.pos;
        self.pos += end + 1;
        std::str::from_utf8(&rest[..end]).map_err(|_| PickleError::Malformed {
            at,
            why: "a text argument is not UTF-8",
        })
    }

    fn malformed(&self, why: &'static str) -> PickleError {
        PickleError::Malformed { at: self.pos, why }
    }

    fn add(&mut self, node: Node) -> Result<usize, PickleError> {
        if self.arena.len() >= MAX_VALUES {
            return Err(PickleError::TooLarge {
                what: "the value count",
            });
        }
        if let Node::Leaf(PyValue::Str(s)) = &node {
            self.count_text(s.len())?;
        } else if let Node::Leaf(PyValue::Bytes(b)) = &node {
            self.count_text(b.len())?;
        }
        self.arena.push(node);
        Ok(self.arena.len() - 1)
    }

    fn count_text(&mut self, n: usize) -> Result<(), PickleError> {
        self.text += n;
        if self.text > MAX_TEXT {
            return Err(PickleError::TooLarge {
                what: "the text limit",
            });
        }
        Ok(())
    }

    fn push(&mut self, node: Node) -> Result<(), PickleError> {
        let id = self.add(node)?;
        self.stack.push(Slot::Node(id));
        Ok(())
    }

    fn push_value(&mut self, value: PyValue) -> Result<(), PickleError> {
        self.push(Node::Leaf(value))
    }

    fn pop(&mut self) -> Result<usize, PickleError> {
        match self.stack.pop() {
            Some(Slot::Node(id)) => Ok(id),
            Some(Slot::Mark) => Err(self.malformed("a mark where a value was expected")),
            None => Err(self.malformed("the stack is empty")),
        }
    }

    fn top(&self) -> Result<usize, PickleError> {
        match self.stack.last() {
            Some(Slot::Node(id)) => Ok(*id),
            _ => Err(self.malformed("no value on the stack")),
        }
    }

    /// The values above the topmost mark, and the mark removed.
    fn pop_mark(&mut self) -> Result<Vec<usize>, PickleError> {
        let mark = self
            .stack
            .iter()
            .rposition(|s| matches!(s, Slot::Mark))
            .ok_or_else(|| self.malformed("no mark on the stack"))?;
        let items = self
            .stack
            .drain(mark + 1..)
            .map(|s| match s {
                Slot::Node(id) => id,
                Slot::Mark => unreachable!("the topmost mark was found above"),
            })
            .collect();
        self.stack.pop();
        Ok(items)
    }

    fn pop_n(&mut self, n: usize) -> Result<Vec<usize>, PickleError> {
        let mut items = (0..n).map(|_| self.pop()).collect::<Result<Vec<_>, _>>()?;
        items.reverse();
        Ok(items)
    }

    /// The memo index after a PUT or GET opcode: in text (`p`, `g`), in one byte
    /// (`q`, `h`) or in four (`r`, `j`).
    fn memo_key(&mut self, op: u8) -> Result<u64, PickleError> {
        match op {
            b'p' | b'g' => self
                .line()?
                .parse()
                .map_err(|_| self.malformed("a memo index is not a number")),
            b'q' | b'h' => self.le(1),
            _ => self.le(4),
        }
    }

    fn memo_put(&mut self, key: u64) -> Result<(), PickleError> {
        let id = self.top()?;
        if self.memo.len() >= MAX_VALUES {
            return Err(PickleError::TooLarge { what: "the memo" });
        }
        self.memo.insert(key, id);
        Ok(())
    }

    fn memo_get(&mut self, key: u64) -> Result<(), PickleError> {
        let id = *self
            .memo
            .get(&key)
            .ok_or_else(|| self.malformed("a memo entry that was never stored"))?;
        self.stack.push(Slot::Node(id));
        Ok(())
    }

    /// Add `items` to the list or set `target`.
    fn extend(&mut self, target: usize, items: Vec<usize>) -> Result<(), PickleError> {
        match &mut self.arena[target] {
            Node::List(v) | Node::Set(v) => {
                v.extend(items);
                Ok(())
            }
            _ => Err(self.malformed("appending to something that is not a list or set")),
        }
    }

    fn set_items(&mut self, target: usize, items: Vec<usize>) -> Result<(), PickleError> {
        if !items.len().is_multiple_of(2) {
            return Err(self.malformed("a dict item without its value"));
        }
        let pairs = items.chunks(2).map(|p| (p[0], p[1]));
        match &mut self.arena[target] {
            Node::Dict(v) => {
                v.extend(pairs);
                Ok(())
            }
            _ => Err(self.malformed("setting an item of something that is not a dict")),
        }
    }

    fn forbidden(&self, name: &'static str, at: usize) -> PickleError {
        PickleError::Forbidden { name, at }
    }

    /// A class reference: refused, except in answers.
    fn global(
        &mut self,
        module: &str,
        name: &str,
        op: &'static str,
        at: usize,
    ) -> Result<(), PickleError> {
        if self.mode == Mode::Request {
            return Err(self.forbidden(op, at));
        }
        // Python imports the module and looks the name up, which fails for anything
        // but dotted identifiers; and GLOBAL's form (re-encoded) holds each on a line.
        if !is_dotted_name(module) || !is_dotted_name(name) {
            return Err(PickleError::Malformed {
                at,
                why: "a class reference must be a dotted module name and a class name",
            });
        }
        self.count_text(module.len() + name.len())?;
        self.push(Node::Global(module.to_string(), name.to_string()))
    }

    fn reduce(&mut self, at: usize) -> Result<(), PickleError> {
        if self.mode == Mode::Request {
            return Err(self.forbidden("REDUCE", at));
        }
        let args = self.pop()?;
        let callable = self.pop()?;
        match (&self.arena[callable], &self.arena[args]) {
            (Node::Global(module, name), Node::Tuple(_)) => {
                let call = Node::Call(module.clone(), name.clone(), args);
                self.push(call)
            }
            _ => Err(self.forbidden("REDUCE", at)),
        }
    }

    fn text(&mut self, len_bytes: usize) -> Result<(), PickleError> {
        let len = self.length(len_bytes)?;
        let at = self.pos;
        let raw = self.take(len)?;
        let s = std::str::from_utf8(raw).map_err(|_| PickleError::Malformed {
            at,
            why: "a string is not UTF-8",
        })?;
        self.push_value(PyValue::Str(s.to_string()))
    }

    fn bytes(&mut self, len_bytes: usize) -> Result<(), PickleError> {
        let len = self.length(len_bytes)?;
        let raw = self.take(len)?.to_vec();
        self.push_value(PyValue::Bytes(raw))
    }

    fn old_string(&mut self, len_bytes: usize) -> Result<(), PickleError> {
        let len = self.length(len_bytes)?;
        let raw = self.take(len)?.to_vec();
        self.push_value(python2_str(raw))
    }

    fn long(&mut self, len_bytes: usize) -> Result<(), PickleError> {
        let len = self.length(len_bytes)?;
        if len > 8 {
            return Err(PickleError::TooLarge {
                what: "a 64-bit integer",
            });
        }
        let raw = self.take(len)?;
        let mut v: i64 = 0;
        for (i, &b) in raw.iter().enumerate() {
            v |= i64::from(b) << (8 * i);
        }
        if len > 0 && len < 8 && raw[len - 1] & 0x80 != 0 {
            v -= 1i64 << (8 * len);
        }
        self.push_value(PyValue::Int(v))
    }

    fn run(mut self) -> Result<PyValue, PickleError> {
        loop {
            if self.stack.len() > MAX_VALUES {
                return Err(PickleError::TooLarge { what: "the stack" });
            }
            let at = self.pos;
            let op = self.byte()?;
            match op {
                0x80 => {
                    let version = self.byte()?;
                    if !(2..=5).contains(&version) {
                        return Err(PickleError::Protocol(version));
                    }
                }
                // FRAME: a length hint for buffered readers; the data follows as usual.
                0x95 => {
                    self.take(8)?;
                }
                b'.' => break,
                b'(' => self.stack.push(Slot::Mark),
                b'0' => {
                    self.stack
                        .pop()
                        .ok_or_else(|| self.malformed("POP on an empty stack"))?;
                }
                b'1' => {
                    self.pop_mark()?;
                }
                b'2' => {
                    let id = self.top()?;
                    self.stack.push(Slot::Node(id));
                }
                b'N' => self.push_value(PyValue::None)?,
                0x88 => self.push_value(PyValue::Bool(true))?,
                0x89 => self.push_value(PyValue::Bool(false))?,
                b'I' => {
                    let value = match self.line()? {
                        "01" => PyValue::Bool(true),
                        "00" => PyValue::Bool(false),
                        digits => PyValue::Int(
                            digits
                                .parse()
                                .map_err(|_| self.malformed("INT is not a 64-bit integer"))?,
                        ),
                    };
                    self.push_value(value)?;
                }
                b'L' => {
                    let digits = self.line()?;
                    let digits = digits.strip_suffix('L').unwrap_or(digits);
                    let v = digits
                        .parse()
                        .map_err(|_| self.malformed("LONG is not a 64-bit integer"))?;
                    self.push_value(PyValue::Int(v))?;
                }
                b'J' => {
                    let v = self.le(4)? as u32 as i32;
                    self.push_value(PyValue::Int(i64::from(v)))?;
                }
                b'K' => {
                    let v = self.le(1)?;
                    self.push_value(PyValue::Int(v as i64))?;
                }
                b'M' => {
                    let v = self.le(2)?;
                    self.push_value(PyValue::Int(v as i64))?;
                }
                0x8a => self.long(1)?,
                0x8b => self.long(4)?,
                b'F' => {
                    let v = self
                        .line()?
                        .parse()
                        .map_err(|_| self.malformed("FLOAT is not a number"))?;
                    self.push_value(PyValue::Float(v))?;
                }
                b'G' => {
                    let raw = self.take(8)?;
                    let mut be = [0u8; 8];
                    be.copy_from_slice(raw);
                    self.push_value(PyValue::Float(f64::from_be_bytes(be)))?;
                }
                b'V' => {
                    let raw = self.line()?;
                    let s = raw_unicode_escape(raw)
                        .ok_or_else(|| self.malformed("a bad escape in UNICODE"))?;
                    self.push_value(PyValue::Str(s))?;
                }
                b'X' => self.text(4)?,
                // Python 2's str (written by protocols 0 to 2 and by other
                // languages' encoders): Python 3 reads it as text.
                b'U' => self.old_string(1)?,
                b'T' => self.old_string(4)?,
                b'S' => {
                    let quoted = self.line()?;
                    let raw = string_literal(quoted)
                        .ok_or_else(|| self.malformed("STRING is not a quoted string"))?;
                    self.push_value(python2_str(raw))?;
                }
                0x8c => self.text(1)?,
                0x8d => self.text(8)?,
                b'B' => self.bytes(4)?,
                b'C' => self.bytes(1)?,
                0x8e | 0x96 => self.bytes(8)?,
                b']' => self.push(Node::List(Vec::new()))?,
                b'l' => {
                    let items = self.pop_mark()?;
                    self.push(Node::List(items))?;
                }
                b'a' => {
                    let item = self.pop()?;
                    let list = self.top()?;
                    self.extend(list, vec![item])?;
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    let list = self.top()?;
                    self.extend(list, items)?;
                }
                b')' => self.push(Node::Tuple(Vec::new()))?,
                b't' => {
                    let items = self.pop_mark()?;
                    self.push(Node::Tuple(items))?;
                }
                0x85..=0x87 => {
                    let items = self.pop_n(usize::from(op - 0x84))?;
                    self.push(Node::Tuple(items))?;
                }
                b'}' => self.push(Node::Dict(Vec::new()))?,
                b'd' => {
                    let items = self.pop_mark()?;
                    let dict = self.add(Node::Dict(Vec::new()))?;
                    self.set_items(dict, items)?;
                    self.stack.push(Slot::Node(dict));
                }
                b's' => {
                    let pair = self.pop_n(2)?;
                    let dict = self.top()?;
                    self.set_items(dict, pair)?;
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    let dict = self.top()?;
                    self.set_items(dict, items)?;
                }
                0x8f => self.push(Node::Set(Vec::new()))?,
                0x90 => {
                    let items = self.pop_mark()?;
                    let set = self.top()?;
                    self.extend(set, items)?;
                }
                0x91 => {
                    let items = self.pop_mark()?;
                    self.push(Node::Set(items))?;
                }
                b'p' | b'q' | b'r' => {
                    let key = self.memo_key(op)?;
                    self.memo_put(key)?;
                }
                0x94 => {
                    let key = self.memo.len() as u64;
                    self.memo_put(key)?;
                }
                b'g' | b'h' | b'j' => {
                    let key = self.memo_key(op)?;
                    self.memo_get(key)?;
                }
                b'c' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    self.global(module, name, "GLOBAL", at)?;
                }
                0x93 => {
                    if self.mode == Mode::Request {
                        return Err(self.forbidden("STACK_GLOBAL", at));
                    }
                    let ids = self.pop_n(2)?;
                    let (module, name) = match (&self.arena[ids[0]], &self.arena[ids[1]]) {
                        (Node::Leaf(PyValue::Str(m)), Node::Leaf(PyValue::Str(n))) => {
                            (m.clone(), n.clone())
                        }
                        _ => return Err(self.malformed("STACK_GLOBAL needs two strings")),
                    };
                    self.global(&module, &name, "STACK_GLOBAL", at)?;
                }
                b'R' => self.reduce(at)?,
                _ => {
                    return Err(match forbidden_name(op) {
                        Some(name) => self.forbidden(name, at),
                        None => PickleError::Unsupported { opcode: op, at },
                    })
                }
            }
        }
        if self.pos != self.bytes.len() {
            return Err(PickleError::Trailing(self.pos));
        }
        let root = self.pop()?;
        if !self.stack.is_empty() {
            return Err(self.malformed("values left on the stack at STOP"));
        }
        let mut budget = MAX_VALUES;
        let mut text = MAX_TEXT;
        self.build(root, 0, &mut budget, &mut text)
    }

    /// The value of node `id` as a tree; shared nodes are copied, within the
    /// budgets, and a node that contains itself is refused by the depth bound.
    fn build(
        &self,
        id: usize,
        depth: usize,
        budget: &mut usize,
        text: &mut usize,
    ) -> Result<PyValue, PickleError> {
        if depth > MAX_DEPTH {
            return Err(PickleError::TooDeep);
        }
        *budget = budget.checked_sub(1).ok_or(PickleError::TooLarge {
            what: "the value count",
        })?;
        let all = |ids: &[usize], budget: &mut usize, text: &mut usize| {
            ids.iter()
                .map(|&c| self.build(c, depth + 1, budget, text))
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(match &self.arena[id] {
            Node::Leaf(v) => {
                let len = match v {
                    PyValue::Str(s) => s.len(),
                    PyValue::Bytes(b) => b.len(),
                    _ => 0,
                };
                *text = text.checked_sub(len).ok_or(PickleError::TooLarge {
                    what: "the text limit",
                })?;
                v.clone()
            }
            Node::List(ids) => PyValue::List(all(ids, budget, text)?),
            Node::Tuple(ids) => PyValue::Tuple(all(ids, budget, text)?),
            Node::Set(ids) => PyValue::Set(all(ids, budget, text)?),
            Node::Dict(pairs) => {
                let mut out = Vec::with_capacity(pairs.len());
                for &(k, v) in pairs {
                    out.push((
                        self.build(k, depth + 1, budget, text)?,
                        self.build(v, depth + 1, budget, text)?,
                    ));
                }
                PyValue::Dict(out)
            }
            Node::Call(module, name, args) => match self.build(*args, depth + 1, budget, text)? {
                PyValue::Tuple(args) => PyValue::Exception {
                    module: module.clone(),
                    name: name.clone(),
                    args,
                },
                _ => return Err(self.malformed("a class applied to something not a tuple")),
            },
            Node::Global(..) => return Err(self.malformed("a class reference left unapplied")),
        })
    }
}

/// The names of the opcodes that would name a class or call something.
fn forbidden_name(op: u8) -> Option<&'static str> {
    Some(match op {
        b'b' => "BUILD",
        b'i' => "INST",
        b'o' => "OBJ",
        0x81 => "NEWOBJ",
        0x92 => "NEWOBJ_EX",
        0x82 => "EXT1",
        0x83 => "EXT2",
        0x84 => "EXT4",
        b'P' => "PERSID",
        b'Q' => "BINPERSID",
        0x97 => "NEXT_BUFFER",
        0x98 => "READONLY_BUFFER",
        _ => return None,
    })
}

/// A Python 2 `str` as Python 3 reads it: text (Python insists on ASCII; any
/// UTF-8 is taken), else bytes.
fn python2_str(raw: Vec<u8>) -> PyValue {
    match String::from_utf8(raw) {
        Ok(text) => PyValue::Str(text),
        Err(e) => PyValue::Bytes(e.into_bytes()),
    }
}

/// The bytes of a quoted Python 2 string literal (`'a\'b'`, `"x\n"`): the
/// escapes `\\ \' \" \n \r \t \xHH` and octal `\ooo`.
fn string_literal(quoted: &str) -> Option<Vec<u8>> {
    let bytes = quoted.as_bytes();
    let (&first, &last) = (bytes.first()?, bytes.last()?);
    if bytes.len() < 2 || first != last || !matches!(first, b'\'' | b'"') {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut rest = bytes[1..bytes.len() - 1].iter().copied().peekable();
    while let Some(b) = rest.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        match rest.next()? {
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'x' => {
                let hex = [rest.next()?, rest.next()?];
                out.push(u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?);
            }
            d @ b'0'..=b'7' => {
                let mut value = u32::from(d - b'0');
                for _ in 0..2 {
                    match rest.peek() {
                        Some(&o @ b'0'..=b'7') => {
                            value = value * 8 + u32::from(o - b'0');
                            rest.next();
                        }
                        _ => break,
                    }
                }
                out.push(u8::try_from(value).ok()?);
            }
            quote @ (b'\\' | b'\'' | b'"') => out.push(quote),
            // Python keeps an unknown escape as written.
            other => out.extend([b'\\', other]),
        }
    }
    Some(out)
}

/// Python's raw-unicode-escape: text as is, except `\uXXXX` and `\UXXXXXXXX`.
fn raw_unicode_escape(raw: &str) -> Option<String> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let width = match after.as_bytes().first() {
            Some(b'u') => 4,
            Some(b'U') => 8,
            _ => {
                out.push('\\');
                rest = after;
                continue;
            }
        };
        let hex = after.get(1..1 + width)?;
        out.push(char::from_u32(u32::from_str_radix(hex, 16).ok()?)?);
        rest = &after[1 + width..];
    }
    out.push_str(rest);
    Some(out)
}

/// Whether `text` is a Python dotted name (`builtins`, `fail2ban.server.jail`,
/// `Outer.Inner`): identifiers separated by dots.
fn is_dotted_name(text: &str) -> bool {
    text.split('.').all(|part| {
        let mut chars = part.chars();
        chars
            .next()
            .is_some_and(|first| first == '_' || first.is_alphabetic())
            && chars.all(|c| c == '_' || c.is_alphanumeric())
    })
}

/// Pickle `value` with protocol 4 (Python 3.4 and later read it), unframed.
pub fn encode(value: &PyValue) -> Vec<u8> {
    let mut out = vec![0x80, 4];
    write(&mut out, value);
    out.push(b'.');
    out
}

fn write(out: &mut Vec<u8>, value: &PyValue) {
    match value {
        PyValue::None => out.push(b'N'),
        PyValue::Bool(true) => out.push(0x88),
        PyValue::Bool(false) => out.push(0x89),
        PyValue::Int(v) => match i32::try_from(*v) {
            Ok(small) => {
                out.push(b'J');
                out.extend(small.to_le_bytes());
            }
            Err(_) => {
                out.extend([0x8a, 8]);
                out.extend(v.to_le_bytes());
            }
        },
        PyValue::Float(v) => {
            out.push(b'G');
            out.extend(v.to_be_bytes());
        }
        PyValue::Str(s) => {
            out.push(b'X');
            out.extend((s.len() as u32).to_le_bytes());
            out.extend(s.as_bytes());
        }
        PyValue::Bytes(b) => {
            out.push(b'B');
            out.extend((b.len() as u32).to_le_bytes());
            out.extend(b);
        }
        PyValue::List(items) => {
            out.push(b']');
            write_marked(out, items, b'e');
        }
        PyValue::Tuple(items) => write_tuple(out, items),
        PyValue::Set(items) => {
            out.push(0x8f);
            write_marked(out, items, 0x90);
        }
        PyValue::Dict(pairs) => {
            out.push(b'}');
            if !pairs.is_empty() {
                out.push(b'(');
                for (k, v) in pairs {
                    write(out, k);
                    write(out, v);
                }
                out.push(b'u');
            }
        }
        PyValue::Exception { module, name, args } => {
            out.push(b'c');
            out.extend(module.as_bytes());
            out.push(b'\n');
            out.extend(name.as_bytes());
            out.push(b'\n');
            write_tuple(out, args);
            out.push(b'R');
        }
    }
}

fn write_tuple(out: &mut Vec<u8>, items: &[PyValue]) {
    out.push(b'(');
    items.iter().for_each(|v| write(out, v));
    out.push(b't');
}

fn write_marked(out: &mut Vec<u8>, items: &[PyValue], op: u8) {
    if !items.is_empty() {
        out.push(b'(');
        items.iter().for_each(|v| write(out, v));
        out.push(op);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::process::{Command, Stdio};

    /// Run python3 with `script` (stdin as `data`), returning its stdout; `None`
    /// (after saying SKIPPED) when there is no python3.
    fn python(script: &str, data: &[u8]) -> Option<Vec<u8>> {
        let Ok(mut child) = Command::new("python3")
            .args(["-c", script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
        else {
            eprintln!("SKIPPED: python3 is not installed");
            return None;
        };
        child.stdin.take().unwrap().write_all(data).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "python3 failed on {script}");
        Some(out.stdout)
    }

    /// The pickles python3 writes for each Python expression with its protocol
    /// (one python3 run for all).
    fn pickled_each(cases: &[(&str, u8)]) -> Option<Vec<Vec<u8>>> {
        let script = "import json, os, pickle, sys\n\
                      for expr, protocol in json.load(sys.stdin):\n    \
                      print(pickle.dumps(eval(expr), protocol).hex())";
        let cases = serde_json::to_vec(cases).unwrap();
        let out = python(script, &cases)?;
        Some(String::from_utf8(out).unwrap().lines().map(unhex).collect())
    }

    /// The bytes a line of hex digits (Python's `bytes.hex()`) stands for.
    fn unhex(line: &str) -> Vec<u8> {
        (0..line.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&line[i..i + 2], 16).unwrap())
            .collect()
    }

    fn pickled(expr: &str, protocol: u8) -> Option<Vec<u8>> {
        pickled_each(&[(expr, protocol)]).map(|mut all| all.remove(0))
    }

    fn s(text: &str) -> PyValue {
        PyValue::str(text)
    }

    #[test]
    fn every_protocol_from_2_to_5_decodes_what_python_writes() {
        let expr = r#"(lambda shared: ["set", "jail", 1, -2, 255, 65536, 2**40, -2**63, 0.5, True, False, None,
            ("t", 1), (), (1,), (1, 2), (1, 2, 3), {"k": [1]}, {}, "\u00fc\u65e5", "x" * 300, shared, shared,
            [[]]])([1])"#;
        let mut expected = vec![
            s("set"),
            s("jail"),
            PyValue::Int(1),
            PyValue::Int(-2),
            PyValue::Int(255),
            PyValue::Int(65536),
            PyValue::Int(1 << 40),
            PyValue::Int(i64::MIN),
            PyValue::Float(0.5),
            PyValue::Bool(true),
            PyValue::Bool(false),
            PyValue::None,
            PyValue::Tuple(vec![s("t"), PyValue::Int(1)]),
            PyValue::Tuple(vec![]),
            PyValue::Tuple(vec![PyValue::Int(1)]),
            PyValue::Tuple(vec![PyValue::Int(1), PyValue::Int(2)]),
            PyValue::Tuple(vec![PyValue::Int(1), PyValue::Int(2), PyValue::Int(3)]),
            PyValue::Dict(vec![(s("k"), PyValue::List(vec![PyValue::Int(1)]))]),
            PyValue::Dict(vec![]),
            s("\u{fc}\u{65e5}"),
            s(&"x".repeat(300)),
            PyValue::List(vec![PyValue::Int(1)]),
            PyValue::List(vec![PyValue::Int(1)]),
            PyValue::List(vec![PyValue::List(vec![])]),
        ];
        let Some(all) = pickled_each(&[(expr, 2), (expr, 3), (expr, 4), (expr, 5)]) else {
            return;
        };
        for (bytes, protocol) in all.iter().zip(2..) {
            let got = decode_request(bytes);
            assert_eq!(
                got,
                Ok(PyValue::List(expected.clone())),
                "protocol {protocol}"
            );
        }
        // Bytes have an opcode from protocol 3, sets from 4 (before, Python names
        // a class for them, which is refused).
        let expr = r#"[b"by", {7}, frozenset([3])]"#;
        expected = vec![
            PyValue::Bytes(b"by".to_vec()),
            PyValue::Set(vec![PyValue::Int(7)]),
            PyValue::Set(vec![PyValue::Int(3)]),
        ];
        let Some(all) = pickled_each(&[(expr, 4), (expr, 5), (r#"b"by""#, 3)]) else {
            return;
        };
        assert_eq!(decode_request(&all[0]), Ok(PyValue::List(expected.clone())));
        assert_eq!(decode_request(&all[1]), Ok(PyValue::List(expected)));
        assert_eq!(decode_request(&all[2]), Ok(PyValue::Bytes(b"by".to_vec())));
    }

    #[test]
    fn python_2_strings_and_headerless_lists_read_as_python_3_reads_them() {
        // What Python 2 and other languages' encoders (Go's og-rek) write; python3
        // cannot write these opcodes, so it is asked to read them instead.
        let cases: [&[u8]; 3] = [
            b"(lp0\nS'status'\np1\naS'it\\'s\\n\\x41\\101\\q'\np2\na.",
            b"\x80\x02]q\x00(U\x06statusq\x01T\x03\x00\x00\x00appq\x02e.",
            b"](U\x04pingK\x01e.",
        ];
        let expected = [
            PyValue::List(vec![s("status"), s("it's\nAA\\q")]),
            PyValue::List(vec![s("status"), s("app")]),
            PyValue::List(vec![s("ping"), PyValue::Int(1)]),
        ];
        let hex: Vec<String> = cases
            .iter()
            .map(|c| c.iter().map(|b| format!("{b:02x}")).collect())
            .collect();
        let script = "import pickle, sys\n\
                      for line in sys.stdin: print(repr(pickle.loads(bytes.fromhex(line))))";
        let Some(out) = python(script, hex.join("\n").as_bytes()) else {
            return;
        };
        let python_says = String::from_utf8(out).unwrap();
        assert_eq!(
            python_says,
            "['status', \"it's\\nAA\\\\q\"]\n['status', 'app']\n['ping', 1]\n"
        );
        for (case, want) in cases.iter().zip(expected) {
            assert_eq!(decode_request(case), Ok(want));
        }
    }

    #[test]
    fn anything_that_names_a_class_or_calls_is_refused() {
        let evil = "type('E', (), {'__reduce__': lambda self: (os.system, ('touch /tmp/ferroban-pwned',))})()";
        let mut cases: Vec<(&str, u8)> = (0..=5).map(|protocol| (evil, protocol)).collect();
        // Exceptions, bytes in protocol 2 (`_codecs.encode`), bytearrays, objects.
        cases.extend([
            ("KeyError('x')", 4),
            ("b'x'", 2),
            ("bytearray(b'x')", 4),
            ("__import__('collections').OrderedDict()", 5),
        ]);
        let Some(all) = pickled_each(&cases) else {
            return;
        };
        for (bytes, case) in all.iter().zip(&cases) {
            let err = decode_request(bytes).unwrap_err();
            assert!(
                matches!(err, PickleError::Forbidden { .. }),
                "{case:?}: {err}"
            );
        }
        for op in [
            b'b', b'i', b'o', 0x81, 0x92, 0x82, 0x83, 0x84, b'P', b'Q', 0x97, 0x98,
        ] {
            assert!(matches!(
                decode_request(&[0x80, 5, b'N', op, b'.']),
                Err(PickleError::Forbidden { .. })
            ));
        }
    }

    #[test]
    fn an_exception_in_an_answer_is_read_as_names_only() {
        let Some(bytes) = pickled("(1, KeyError('nope'))", 5) else {
            return;
        };
        let expected = PyValue::Tuple(vec![
            PyValue::Int(1),
            PyValue::Exception {
                module: "builtins".into(),
                name: "KeyError".into(),
                args: vec![s("nope")],
            },
        ]);
        assert_eq!(decode_answer(&bytes), Ok(expected));
        assert!(matches!(
            decode_request(&bytes),
            Err(PickleError::Forbidden {
                name: "STACK_GLOBAL",
                ..
            })
        ));
    }

    #[test]
    fn a_class_reference_must_be_dotted_names() {
        // Python's own pickler writes an exception of a class in any module it finds
        // in sys.modules, whatever the module's name: one per line, its hex.
        let script = r#"import pickle, sys, types
for module, qualname in [("fail2ban.server", "Jail.Error"), ("_x1", "Été"),
                         ("\x08\x08\x01\n", "E"), ("1a", "E")]:
    holder = types.ModuleType(module)
    outer, _, name = qualname.rpartition(".")
    cls = type(name, (Exception,), {"__module__": module, "__qualname__": qualname})
    if outer:
        setattr(holder, outer, type(outer, (), {name: cls}))
    else:
        setattr(holder, name, cls)
    sys.modules[module] = holder
    sys.modules.setdefault(module.partition(".")[0], holder)
    print(pickle.dumps(cls("x"), 4).hex())"#;
        let Some(out) = python(script, b"") else {
            return;
        };
        let answers: Vec<_> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|line| decode_answer(&unhex(line)))
            .collect();
        let exception = |module: &str, name: &str| PyValue::Exception {
            module: module.into(),
            name: name.into(),
            args: vec![s("x")],
        };
        assert_eq!(answers.len(), 4);
        assert_eq!(answers[0], Ok(exception("fail2ban.server", "Jail.Error")));
        assert_eq!(answers[1], Ok(exception("_x1", "Été")));
        // What the fuzzer found: a module with a newline, whose GLOBAL form (as
        // re-encoded) would have split it; and a module no import can name.
        for refused in &answers[2..] {
            assert!(
                matches!(refused, Err(PickleError::Malformed { .. })),
                "{refused:?}"
            );
        }
    }

    #[test]
    fn nesting_self_reference_and_memo_expansion_are_bounded() {
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 5), "]".repeat(MAX_DEPTH + 5));
        let cycle = "(lambda l: (l.append(l), l)[1])([])";
        // Ten levels of ten references each: 10^10 values if expanded.
        let laughs =
            "(lambda f: f(f, 10))(lambda f, n: ['x' * 100] if n == 0 else [f(f, n - 1)] * 10)";
        let Some(all) = pickled_each(&[(&deep, 4), (cycle, 4), (laughs, 4)]) else {
            return;
        };
        assert_eq!(decode_request(&all[0]), Err(PickleError::TooDeep));
        assert_eq!(decode_request(&all[1]), Err(PickleError::TooDeep));
        let bomb = &all[2];
        assert!(bomb.len() < 4096);
        assert!(matches!(
            decode_request(bomb),
            Err(PickleError::TooLarge { .. })
        ));
        // Marks with nothing closing them, deeper than any stack should go, stay data.
        let mut marks = vec![0x80, 4];
        marks.extend(std::iter::repeat_n(b'(', 1 << 16));
        assert!(decode_request(&marks).is_err());
    }

    #[test]
    fn huge_lengths_and_truncation_are_errors() {
        for op in [b'X', b'B'] {
            let huge = [0x80, 4, op, 0xff, 0xff, 0xff, 0xff, b'a', b'.'];
            assert!(matches!(
                decode_request(&huge),
                Err(PickleError::Truncated(_))
            ));
        }
        let huge8 = [
            0x80, 4, 0x8d, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, b'.',
        ];
        assert!(matches!(
            decode_request(&huge8),
            Err(PickleError::Truncated(_))
        ));
        let Some(bytes) = pickled("['set', 'sshd', 'banip', '192.0.2.1', 0.1, {'a': (1,)}]", 5)
        else {
            return;
        };
        for cut in 0..bytes.len() {
            assert!(decode_request(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut trailing = bytes.clone();
        trailing.push(b'N');
        assert!(matches!(
            decode_request(&trailing),
            Err(PickleError::Trailing(_))
        ));
        assert_eq!(
            decode_request(&[0x80, 6, b'N', b'.']),
            Err(PickleError::Protocol(6))
        );
    }

    #[test]
    fn python_reads_what_is_encoded() {
        let value = PyValue::Tuple(vec![
            PyValue::Int(1),
            PyValue::List(vec![
                PyValue::None,
                PyValue::Bool(true),
                PyValue::Int(-5),
                PyValue::Int(1 << 40),
                PyValue::Float(2.5),
                s("\u{fc}"),
                PyValue::Bytes(vec![0, 1]),
                PyValue::Tuple(vec![s("a"), PyValue::List(vec![])]),
                PyValue::Dict(vec![(s("k"), PyValue::Set(vec![PyValue::Int(3)]))]),
                PyValue::Exception {
                    module: "builtins".into(),
                    name: "ValueError".into(),
                    args: vec![s("bad")],
                },
            ]),
        ]);
        let Some(text) = python(
            "import pickle, sys\nprint(repr(pickle.loads(sys.stdin.buffer.read())))",
            &encode(&value),
        ) else {
            return;
        };
        assert_eq!(
            String::from_utf8(text).unwrap().trim(),
            "(1, [None, True, -5, 1099511627776, 2.5, 'ü', b'\\x00\\x01', ('a', []), {'k': {3}}, ValueError('bad')])"
        );
        assert_eq!(decode_answer(&encode(&value)), Ok(value));
    }
}
