//! Python's way of printing values, as Fail2ban's tools print them: `str()` and
//! `repr()` of the values its protocol carries ([`PyValue`]), of text and of
//! floats (`fail2ban-client`'s answers and errors, `fail2ban-regex -o row`).
//! Owns the text only, not what is printed when.

use crate::pickle::PyValue;

/// Python's `str()` of a value: text as it is, an exception as its message,
/// anything else as [`repr`].
pub fn str(value: &PyValue) -> String {
    match value {
        PyValue::Str(s) => s.clone(),
        PyValue::Exception { name, args, .. } => match args.as_slice() {
            [] => String::new(),
            // a KeyError shows its key as Python writes it
            [key] if name == "KeyError" => repr(key),
            [one] => str(one),
            many => repr(&PyValue::Tuple(many.to_vec())),
        },
        other => repr(other),
    }
}

/// Python's `repr()` of a value (`[{'sshd': ['192.0.2.1']}]`, `('nope',)`, `None`).
pub fn repr(value: &PyValue) -> String {
    let items = |items: &[PyValue]| items.iter().map(repr).collect::<Vec<_>>().join(", ");
    match value {
        PyValue::None => "None".into(),
        PyValue::Bool(true) => "True".into(),
        PyValue::Bool(false) => "False".into(),
        PyValue::Int(v) => v.to_string(),
        PyValue::Float(v) => float(*v),
        PyValue::Str(s) => repr_str(s),
        PyValue::Bytes(b) => format!("b{}", repr_str(&String::from_utf8_lossy(b))),
        PyValue::List(v) => format!("[{}]", items(v)),
        PyValue::Tuple(v) if v.len() == 1 => format!("({},)", items(v)),
        PyValue::Tuple(v) => format!("({})", items(v)),
        PyValue::Set(v) if v.is_empty() => "set()".into(),
        PyValue::Set(v) => format!("{{{}}}", items(v)),
        PyValue::Dict(pairs) => {
            let pairs: Vec<String> = pairs
                .iter()
                .map(|(k, v)| format!("{}: {}", repr(k), repr(v)))
                .collect();
            format!("{{{}}}", pairs.join(", "))
        }
        PyValue::Exception { name, args, .. } => format!("{name}({})", items(args)),
    }
}

/// Python's `repr()` of text: single quotes, or double ones when it holds a
/// single quote and no double one; backslashes, the quote and control characters
/// escaped.
pub fn repr_str(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut r = String::with_capacity(s.len() + 2);
    r.push(quote);
    for c in s.chars() {
        match c {
            '\\' => r.push_str("\\\\"),
            '\n' => r.push_str("\\n"),
            '\r' => r.push_str("\\r"),
            '\t' => r.push_str("\\t"),
            c if c == quote => {
                r.push('\\');
                r.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                r.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => r.push(c),
        }
    }
    r.push(quote);
    r
}

/// Python's `str()` (and `repr()`) of a float: a whole number keeps its `.0`
/// (`1771804800.0`), others their shortest exact digits (`1771804800.25`).
pub fn float(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e16 {
        format!("{f:.1}")
    } else {
        format!("{f}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_floats_as_python_prints_them() {
        assert_eq!(repr_str("it's"), "\"it's\"");
        assert_eq!(repr_str("a'\"b\\\n"), "'a\\'\"b\\\\\\n'");
        assert_eq!(repr_str("\u{1}é"), "'\\x01é'");
        assert_eq!(float(1771804800.0), "1771804800.0");
        assert_eq!(float(1771804800.25), "1771804800.25");
        assert_eq!(float(0.5), "0.5");
    }

    #[test]
    fn values_as_python_prints_them() {
        let banned = PyValue::List(vec![PyValue::Dict(vec![(
            PyValue::str("sshd"),
            PyValue::List(vec![PyValue::str("192.0.2.1"), PyValue::str("2001:db8::1")]),
        )])]);
        assert_eq!(repr(&banned), "[{'sshd': ['192.0.2.1', '2001:db8::1']}]");
        assert_eq!(
            repr(&PyValue::Tuple(vec![PyValue::str("nope")])),
            "('nope',)"
        );
        assert_eq!(repr(&PyValue::Set(vec![])), "set()");
        assert_eq!(str(&PyValue::None), "None");
        assert_eq!(str(&PyValue::Float(600.0)), "600.0");
        assert_eq!(str(&PyValue::str("as is")), "as is");
        let exception = |name: &str, args: Vec<PyValue>| PyValue::Exception {
            module: "builtins".into(),
            name: name.into(),
            args,
        };
        let key = exception("KeyError", vec![PyValue::str("Invalid Action name: x")]);
        assert_eq!(str(&key), "'Invalid Action name: x'");
        let value = exception("ValueError", vec![PyValue::str("not a count")]);
        assert_eq!(str(&value), "not a count");
        assert_eq!(repr(&value), "ValueError('not a count')");
    }
}
