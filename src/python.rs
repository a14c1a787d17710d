//! Python's way of printing values, as Fail2ban's tools print them (`fail2ban-client`
//! answers, `fail2ban-regex -o row`): owns the text only, not what is printed when.

/// Python's `repr()` of a string: single quotes, or double ones when it holds a
/// single quote and no double one; backslashes, the quote and control characters
/// escaped.
pub fn py_repr(s: &str) -> String {
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
pub fn py_float(f: f64) -> String {
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
    fn strings_and_floats_as_python_prints_them() {
        assert_eq!(py_repr("it's"), "\"it's\"");
        assert_eq!(py_repr("a'\"b\\\n"), "'a\\'\"b\\\\\\n'");
        assert_eq!(py_repr("\u{1}é"), "'\\x01é'");
        assert_eq!(py_float(1771804800.0), "1771804800.0");
        assert_eq!(py_float(1771804800.25), "1771804800.25");
        assert_eq!(py_float(0.5), "0.5");
    }
}
