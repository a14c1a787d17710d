//! A small evaluator for the Python arithmetic Fail2ban's options allow.
//!
//! Owns two uses of it: durations (`bantime = 1h30m`, `1d - 6h`, `3600*24`, turned into
//! an expression the way Fail2ban's `str2seconds` does) and `bantime.formula`
//! (`ban.Time * math.exp(float(ban.Count+1)*banFactor)/math.exp(1*banFactor)`).
//! Only numbers, named variables, arithmetic, comparisons, `x if c else y`,
//! `and`/`or`/`not` and a few pure functions exist: nothing can reach the system.

use std::fmt;

/// Why an expression was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message} in {text:?}")]
pub struct ExprError {
    pub text: String,
    pub message: String,
}

/// A parsed expression, ready to be evaluated many times.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    node: Node,
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Num(f64),
    Var(String),
    Call(String, Vec<Node>),
    Neg(Box<Node>),
    Not(Box<Node>),
    Bin(Op, Box<Node>, Box<Node>),
    If(Box<Node>, Box<Node>, Box<Node>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Add,
    Sub,
    Mul,
    Div,
    FloorDiv,
    Mod,
    Pow,
    Shl,
    Shr,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    And,
    Or,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(f64),
    Name(String),
    Sym(&'static str),
}

const SYMBOLS: [&str; 20] = [
    "**", "//", "<<", ">>", "<=", ">=", "==", "!=", "+", "-", "*", "/", "%", "<", ">", "(", ")",
    ",", "[", "]",
];

/// Longest allowed expression text, to keep parsing bounded.
const MAX_LEN: usize = 4096;
/// Deepest allowed nesting.
const MAX_DEPTH: usize = 64;

fn tokenize(text: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c.is_ascii_digit() || (c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit))
        {
            let start = i;
            while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.' || b[i] == b'_') {
                i += 1;
            }
            if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
                let mut j = i + 1;
                if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
                    j += 1;
                }
                if j < b.len() && b[j].is_ascii_digit() {
                    i = j;
                    while i < b.len() && b[i].is_ascii_digit() {
                        i += 1;
                    }
                }
            }
            let s: String = text[start..i].chars().filter(|&c| c != '_').collect();
            let n = s.parse::<f64>().map_err(|_| format!("bad number {s:?}"))?;
            out.push(Tok::Num(n));
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'.') {
                i += 1;
            }
            out.push(Tok::Name(text[start..i].to_string()));
        } else {
            let sym = SYMBOLS
                .iter()
                .find(|s| text[i..].starts_with(**s))
                .ok_or_else(|| {
                    format!(
                        "unexpected character {:?}",
                        &text[i..].chars().next().unwrap_or(' ')
                    )
                })?;
            out.push(Tok::Sym(sym));
            i += sym.len();
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
    depth: usize,
}

impl Parser {
    fn peek_sym(&self, s: &str) -> bool {
        matches!(self.toks.get(self.pos), Some(Tok::Sym(x)) if *x == s)
    }
    fn peek_name(&self, s: &str) -> bool {
        matches!(self.toks.get(self.pos), Some(Tok::Name(x)) if x == s)
    }
    fn expect_sym(&mut self, s: &str) -> Result<(), String> {
        if self.peek_sym(s) {
            self.pos += 1;
            Ok(())
        } else {
            Err(format!("expected {s:?}"))
        }
    }
    fn nest(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err("expression nested too deeply".into());
        }
        Ok(())
    }

    fn ternary(&mut self) -> Result<Node, String> {
        self.nest()?;
        let then = self.or()?;
        let node = if self.peek_name("if") {
            self.pos += 1;
            let cond = self.or()?;
            if !self.peek_name("else") {
                return Err("expected 'else'".into());
            }
            self.pos += 1;
            let other = self.ternary()?;
            Node::If(Box::new(cond), Box::new(then), Box::new(other))
        } else {
            then
        };
        self.depth -= 1;
        Ok(node)
    }

    fn or(&mut self) -> Result<Node, String> {
        let mut left = self.and()?;
        while self.peek_name("or") {
            self.pos += 1;
            left = Node::Bin(Op::Or, Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Node, String> {
        let mut left = self.not()?;
        while self.peek_name("and") {
            self.pos += 1;
            left = Node::Bin(Op::And, Box::new(left), Box::new(self.not()?));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Node, String> {
        if self.peek_name("not") {
            self.pos += 1;
            self.nest()?;
            let inner = self.not()?;
            self.depth -= 1;
            return Ok(Node::Not(Box::new(inner)));
        }
        self.binary(0)
    }

    /// Binary operators by precedence level, loosest first.
    fn binary(&mut self, level: usize) -> Result<Node, String> {
        const LEVELS: [&[(&str, Op)]; 4] = [
            &[
                ("<=", Op::Le),
                (">=", Op::Ge),
                ("==", Op::Eq),
                ("!=", Op::Ne),
                ("<", Op::Lt),
                (">", Op::Gt),
            ],
            &[("<<", Op::Shl), (">>", Op::Shr)],
            &[("+", Op::Add), ("-", Op::Sub)],
            &[
                ("*", Op::Mul),
                ("//", Op::FloorDiv),
                ("/", Op::Div),
                ("%", Op::Mod),
            ],
        ];
        if level == LEVELS.len() {
            return self.unary();
        }
        let mut left = self.binary(level + 1)?;
        'outer: loop {
            for (sym, op) in LEVELS[level] {
                if self.peek_sym(sym) {
                    self.pos += 1;
                    let right = self.binary(level + 1)?;
                    left = Node::Bin(*op, Box::new(left), Box::new(right));
                    continue 'outer;
                }
            }
            return Ok(left);
        }
    }

    fn unary(&mut self) -> Result<Node, String> {
        if self.peek_sym("-") || self.peek_sym("+") {
            let neg = self.peek_sym("-");
            self.pos += 1;
            self.nest()?;
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(if neg {
                Node::Neg(Box::new(inner))
            } else {
                inner
            });
        }
        let base = self.atom()?;
        if self.peek_sym("**") {
            self.pos += 1;
            self.nest()?;
            let exp = self.unary()?;
            self.depth -= 1;
            return Ok(Node::Bin(Op::Pow, Box::new(base), Box::new(exp)));
        }
        Ok(base)
    }

    fn atom(&mut self) -> Result<Node, String> {
        match self.toks.get(self.pos).cloned() {
            Some(Tok::Num(n)) => {
                self.pos += 1;
                Ok(Node::Num(n))
            }
            Some(Tok::Name(name)) => {
                self.pos += 1;
                if self.peek_sym("(") {
                    self.pos += 1;
                    let mut args = Vec::new();
                    if !self.peek_sym(")") {
                        loop {
                            args.push(self.ternary()?);
                            if self.peek_sym(",") {
                                self.pos += 1;
                                continue;
                            }
                            break;
                        }
                    }
                    self.expect_sym(")")?;
                    check_function(&name, args.len())?;
                    Ok(Node::Call(name, args))
                } else {
                    Ok(Node::Var(name))
                }
            }
            Some(Tok::Sym("(")) => {
                self.pos += 1;
                let inner = self.ternary()?;
                self.expect_sym(")")?;
                Ok(inner)
            }
            Some(Tok::Sym(s)) => Err(format!("unexpected {s:?}")),
            None => Err("unexpected end".into()),
        }
    }
}

fn check_function(name: &str, argc: usize) -> Result<(), String> {
    let ok = match name {
        "math.exp" | "math.log" | "math.sqrt" | "math.ceil" | "math.floor" | "float" | "int"
        | "abs" | "round" => argc == 1,
        "math.pow" => argc == 2,
        "min" | "max" => argc >= 1,
        _ => return Err(format!("unknown function {name:?}")),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("wrong number of arguments for {name}"))
    }
}

impl Expr {
    /// Parse Python-style arithmetic.
    pub fn parse(text: &str) -> Result<Expr, ExprError> {
        let err = |message: String| ExprError {
            text: text.to_string(),
            message,
        };
        if text.len() > MAX_LEN {
            return Err(err("expression too long".into()));
        }
        let toks = tokenize(text).map_err(err)?;
        let mut p = Parser {
            toks,
            pos: 0,
            depth: 0,
        };
        let node = p.ternary().map_err(err)?;
        if p.pos != p.toks.len() {
            return Err(err("unexpected text after the expression".into()));
        }
        Ok(Expr { node })
    }

    /// Evaluate with the variables `vars` gives (`None`: unknown variable).
    pub fn eval(&self, vars: &dyn Fn(&str) -> Option<f64>) -> Result<f64, String> {
        eval(&self.node, vars)
    }
}

fn truth(v: f64) -> bool {
    v != 0.0 && !v.is_nan()
}

fn eval(node: &Node, vars: &dyn Fn(&str) -> Option<f64>) -> Result<f64, String> {
    Ok(match node {
        Node::Num(n) => *n,
        Node::Var(name) => match name.as_str() {
            "True" => 1.0,
            "False" => 0.0,
            "math.pi" => std::f64::consts::PI,
            "math.e" => std::f64::consts::E,
            _ => vars(name).ok_or_else(|| format!("unknown name {name:?}"))?,
        },
        Node::Neg(a) => -eval(a, vars)?,
        Node::Not(a) => f64::from(u8::from(!truth(eval(a, vars)?))),
        Node::If(c, t, e) => {
            if truth(eval(c, vars)?) {
                eval(t, vars)?
            } else {
                eval(e, vars)?
            }
        }
        Node::Call(name, args) => {
            let vals = args
                .iter()
                .map(|a| eval(a, vars))
                .collect::<Result<Vec<f64>, String>>()?;
            let x = vals.first().copied().unwrap_or(0.0);
            match name.as_str() {
                "math.exp" => x.exp(),
                "math.log" => x.ln(),
                "math.sqrt" => x.sqrt(),
                "math.ceil" => x.ceil(),
                "math.floor" | "int" => {
                    if name == "int" {
                        x.trunc()
                    } else {
                        x.floor()
                    }
                }
                "math.pow" => x.powf(vals[1]),
                "float" => x,
                "abs" => x.abs(),
                "round" => x.round(),
                "min" => vals.iter().copied().fold(f64::INFINITY, f64::min),
                "max" => vals.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                _ => return Err(format!("unknown function {name:?}")),
            }
        }
        Node::Bin(op, a, b) => {
            let x = eval(a, vars)?;
            match op {
                Op::And if !truth(x) => return Ok(x),
                Op::Or if truth(x) => return Ok(x),
                _ => {}
            }
            let y = eval(b, vars)?;
            match op {
                Op::Add => x + y,
                Op::Sub => x - y,
                Op::Mul => x * y,
                Op::Div | Op::FloorDiv | Op::Mod if y == 0.0 => {
                    return Err("division by zero".into())
                }
                Op::Div => x / y,
                Op::FloorDiv => (x / y).floor(),
                Op::Mod => x - y * (x / y).floor(),
                Op::Pow => x.powf(y),
                Op::Shl => x.trunc() * 2f64.powf(y.trunc().clamp(0.0, 1023.0)),
                Op::Shr => (x.trunc() / 2f64.powf(y.trunc().clamp(0.0, 1023.0))).floor(),
                Op::Lt => f64::from(u8::from(x < y)),
                Op::Le => f64::from(u8::from(x <= y)),
                Op::Gt => f64::from(u8::from(x > y)),
                Op::Ge => f64::from(u8::from(x >= y)),
                Op::Eq => f64::from(u8::from(x == y)),
                Op::Ne => f64::from(u8::from(x != y)),
                Op::And | Op::Or => y,
            }
        }
    })
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.node)
    }
}

/// Seconds per unit, by the spellings Fail2ban accepts (checked in this order).
const UNITS: [(&[&str], f64); 7] = [
    (&["days", "day", "da", "dd", "d"], 86_400.0),
    (&["weeks", "week", "wee", "we", "ww", "w"], 604_800.0),
    (&["months", "month", "mon", "mo"], 2_629_800.0),
    (&["years", "year", "yea", "ye", "yy", "y"], 31_557_600.0),
    (&["seconds", "second", "sec", "se", "ss", "s"], 1.0),
    (&["minutes", "minute", "min", "mi", "mm", "m"], 60.0),
    (&["hours", "hour", "hou", "ho", "hh", "h"], 3600.0),
];

/// Seconds in a duration as Fail2ban writes them: `600`, `10m`, `1h30m`, `1d 2h`,
/// `1year-6mo`, `3600*24`, `-1` (permanent; also spelled `permanent`).
pub fn parse_duration(text: &str) -> Result<f64, ExprError> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("permanent") || t.eq_ignore_ascii_case("forever") {
        return Ok(-1.0);
    }
    let err = |message: &str| ExprError {
        text: text.to_string(),
        message: message.to_string(),
    };
    if t.is_empty() {
        return Err(err("empty duration"));
    }
    // Units become multiplications; a number after a unit or after blanks that follow
    // a number starts a new term to add ("1h30m" = 1*3600 + 30*60).
    let mut expr = String::new();
    let mut chars = t.char_indices().peekable();
    let mut prev: Option<char> = None;
    // A term ended (a unit, or a number then blanks): a number now starts a new one.
    let mut term_ended = false;
    while let Some((i, c)) = chars.next() {
        if c.is_ascii_alphabetic() {
            let end = t[i..]
                .find(|c: char| !c.is_ascii_alphabetic())
                .map_or(t.len(), |e| i + e);
            let word = t[i..end].to_ascii_lowercase();
            let after_number = prev.is_some_and(|p| p.is_ascii_digit() || p.is_whitespace());
            let factor = UNITS
                .iter()
                .find(|(names, _)| names.contains(&word.as_str()))
                .map(|(_, f)| *f);
            match factor {
                Some(f) if after_number => expr.push_str(&format!("*{f}")),
                _ => {
                    return Err(err(&format!(
                        "unknown unit {word:?}; use s, m, h, d, w, mo or y"
                    )))
                }
            }
            while chars.peek().is_some_and(|(j, _)| *j < end) {
                chars.next();
            }
            prev = Some('x');
            term_ended = true;
            continue;
        }
        if c.is_whitespace() {
            term_ended |= prev.is_some_and(|p| p.is_ascii_digit());
        } else {
            if c.is_ascii_digit() && term_ended {
                expr.push('+');
            }
            term_ended = false;
            expr.push(c);
        }
        prev = Some(c);
    }
    let e = Expr::parse(&expr).map_err(|e| err(&e.message))?;
    let v = e.eval(&|_| None).map_err(|m| err(&m))?;
    if !v.is_finite() {
        return Err(err("not a finite duration"));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dur(s: &str) -> f64 {
        parse_duration(s).unwrap()
    }

    #[test]
    fn durations_in_every_spelling() {
        assert_eq!(dur("600"), 600.0);
        assert_eq!(dur("10m"), 600.0);
        assert_eq!(dur("1h"), 3600.0);
        assert_eq!(dur("24h"), 86400.0);
        assert_eq!(dur("7d"), 7.0 * 86400.0);
        assert_eq!(dur("1w"), 7.0 * 86400.0);
        assert_eq!(dur("1mo"), 2_629_800.0);
        assert_eq!(dur("1y"), 31_557_600.0);
        assert_eq!(dur("1h30m"), 5400.0);
        assert_eq!(dur("0d 1h 30m"), 5400.0);
        assert_eq!(dur("1hour+30min"), 5400.0);
        assert_eq!(dur("1year-6mo"), 15_778_800.0);
        assert_eq!(dur("6 months"), 15_778_800.0);
        assert_eq!(dur("3600*24"), 86400.0);
        assert_eq!(dur("-1"), -1.0);
        assert_eq!(dur("permanent"), -1.0);
        assert_eq!(dur("30s"), 30.0);
    }

    #[test]
    fn bad_durations_are_refused() {
        for bad in ["", "1 fortnight", "h", "1h)", "__import__('os')", "1/0"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn bantime_formulas() {
        let vars = |n: &str| match n {
            "ban.Time" => Some(600.0),
            "ban.Count" => Some(3.0),
            "banFactor" => Some(2.0),
            _ => None,
        };
        let f = |s: &str| Expr::parse(s).unwrap().eval(&vars).unwrap();
        assert_eq!(
            f("ban.Time * (1<<(ban.Count if ban.Count<20 else 20)) * banFactor"),
            600.0 * 8.0 * 2.0
        );
        let exp = f("ban.Time * math.exp(float(ban.Count+1)*banFactor)/math.exp(1*banFactor)");
        assert!((exp - 600.0 * (6.0f64).exp()).abs() < 1e-6);
        assert_eq!(f("max(1, 2, 3) - min(4, 5) ** 2"), -13.0);
        assert_eq!(f("not 0 and 7 or 9"), 7.0);
        assert!(Expr::parse("os.system('x')").is_err());
        assert!(Expr::parse(&"(".repeat(200)).is_err());
        assert!(Expr::parse("x").unwrap().eval(&vars).is_err());
    }
}
