//! One configuration file, parsed: sections of `key = value` entries.
//!
//! Owns the line grammar of Fail2ban's INI dialect (Python `configparser` rules):
//! `[section]` headers, `key = value` or `key: value`, indented continuation lines,
//! full-line `#`/`;` comments, inline ` ;` comments, lower-cased keys, a UTF-8 BOM.
//! It does not merge files or interpolate values.

use std::path::{Path, PathBuf};

use crate::ConfigError;

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub file: PathBuf,
    pub line: usize,
}

/// One value with its origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub value: String,
    pub origin: Origin,
}

/// An ordered map of lower-cased keys to entries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Section {
    entries: Vec<(String, Entry)>,
}

impl Section {
    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, e)| e)
    }
    pub fn insert(&mut self, key: String, entry: Entry) {
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = entry,
            None => self.entries.push((key, entry)),
        }
    }
    pub fn contains(&self, key: &str) -> bool {
        self.get(key).is_some()
    }
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _)| k.as_str())
    }
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Entry)> {
        self.entries.iter().map(|(k, e)| (k.as_str(), e))
    }
}

/// A parsed file: `[DEFAULT]` and the other sections in order.
#[derive(Debug, Clone, Default)]
pub struct IniFile {
    pub defaults: Section,
    pub sections: Vec<(String, Section)>,
}

impl IniFile {
    pub fn section(&self, name: &str) -> Option<&Section> {
        self.sections
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, s)| s)
    }
}

/// Parse the text of `file`.
pub fn parse(file: &Path, text: &str) -> Result<IniFile, ConfigError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut ini = IniFile::default();
    // (section index or None for DEFAULT), current key, and its lines
    let mut current: Option<Option<usize>> = None;
    let mut key: Option<String> = None;
    let mut lines: Vec<String> = Vec::new();
    let mut key_line = 0;
    let mut indent_level = usize::MAX;
    let err = |line: usize, message: String, hint: &str| ConfigError::at(file, line, message, hint);

    let flush = |ini: &mut IniFile,
                 current: Option<Option<usize>>,
                 key: &mut Option<String>,
                 lines: &mut Vec<String>,
                 key_line: usize| {
        if let (Some(sec), Some(k)) = (current, key.take()) {
            let value = lines.join("\n").trim_end().to_string();
            let entry = Entry {
                value,
                origin: Origin {
                    file: file.to_path_buf(),
                    line: key_line,
                },
            };
            match sec {
                None => ini.defaults.insert(k, entry),
                Some(i) => ini.sections[i].1.insert(k, entry),
            }
        }
        lines.clear();
    };

    for (n, raw) in text.lines().enumerate() {
        let lineno = n + 1;
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        let stripped = raw.trim();
        let is_comment = stripped.starts_with('#') || stripped.starts_with(';');
        let mut content = raw;
        if !is_comment {
            // inline comment: ';' preceded by whitespace
            let bytes = raw.as_bytes();
            if let Some(p) = (1..bytes.len())
                .find(|&i| bytes[i] == b';' && (bytes[i - 1] as char).is_whitespace())
            {
                content = &raw[..p];
            }
        }
        let value = if is_comment { "" } else { content.trim() };
        if value.is_empty() {
            if !is_comment && key.is_some() && content.len() == raw.len() {
                // an empty line inside a value is kept (trailing ones are trimmed)
                lines.push(String::new());
            }
            continue;
        }
        let cur_indent = raw.len() - raw.trim_start().len();
        if current.is_some() && key.is_some() && cur_indent > indent_level {
            lines.push(value.to_string());
            continue;
        }
        indent_level = cur_indent;
        if value.starts_with('[') {
            if let Some(end) = value.rfind(']').filter(|&e| e > 1) {
                flush(&mut ini, current, &mut key, &mut lines, key_line);
                let name = &value[1..end];
                if name == "DEFAULT" {
                    current = Some(None);
                } else {
                    // Fail2ban's parser is strict: a section twice in one file stops
                    // it (DEFAULT may repeat).
                    if ini.sections.iter().any(|(s, _)| s == name) {
                        return Err(err(
                            lineno,
                            format!("section [{name}] is already in this file"),
                            "merge the two sections into one (Fail2ban refuses to start with both)",
                        ));
                    }
                    ini.sections.push((name.to_string(), Section::default()));
                    let idx = ini.sections.len() - 1;
                    current = Some(Some(idx));
                }
                continue;
            }
            if !value.contains(['=', ':', ']']) {
                return Err(err(
                    lineno,
                    format!("section header {value:?} has no closing `]`"),
                    "write the section name between brackets, e.g. [sshd]",
                ));
            }
        }
        if current.is_none() {
            return Err(err(
                lineno,
                format!("a line before any [section] header: {value:?}"),
                "start the file with a section such as [Definition] or [DEFAULT]",
            ));
        }
        let Some(sep) = value.find(['=', ':']) else {
            return Err(err(
                lineno,
                format!("expected `key = value`, found {value:?}"),
                "indent the line to continue the previous value, or comment it out with #",
            ));
        };
        let k = value[..sep].trim_end();
        if k.is_empty() {
            return Err(err(
                lineno,
                format!("missing key before {:?}", &value[sep..sep + 1]),
                "write `key = value`",
            ));
        }
        flush(&mut ini, current, &mut key, &mut lines, key_line);
        let k = k.to_lowercase();
        let section = match current {
            Some(Some(i)) => Some(&ini.sections[i]),
            _ => None,
        };
        let (name, entries) = section.map_or(("DEFAULT", &ini.defaults), |(n, s)| (n.as_str(), s));
        if let Some(first) = entries.get(&k) {
            // as Fail2ban's strict parser: it refuses to start
            return Err(err(
                lineno,
                format!(
                    "option {k:?} is already set in [{name}] of this file (line {})",
                    first.origin.line
                ),
                "keep one of the two lines; a value that overrides another belongs in a .local file",
            ));
        }
        key = Some(k);
        key_line = lineno;
        lines.push(value[sep + 1..].trim().to_string());
    }
    flush(&mut ini, current, &mut key, &mut lines, key_line);
    Ok(ini)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Result<IniFile, ConfigError> {
        parse(Path::new("t.conf"), text)
    }

    #[test]
    fn values_continuations_comments() {
        let ini = p("\u{feff}# head\n[DEFAULT]\nA = 1 ; note\n[Definition]\nfailregex = one\n    two\n\n  # comment\n    three\nignoreregex =\nx: y;z\n").unwrap();
        assert_eq!(ini.defaults.get("a").unwrap().value, "1");
        let d = ini.section("Definition").unwrap();
        assert_eq!(d.get("failregex").unwrap().value, "one\ntwo\n\nthree");
        assert_eq!(d.get("ignoreregex").unwrap().value, "");
        assert_eq!(d.get("x").unwrap().value, "y;z");
        assert_eq!(d.get("failregex").unwrap().origin.line, 5);
    }

    #[test]
    fn an_option_or_section_twice_in_one_file_is_refused_as_fail2ban_refuses_it() {
        let e = p("[sshd]\nmaxretry = 3\nfindtime = 1\nMaxRetry = 7\n").unwrap_err();
        assert_eq!(e.line, 4);
        assert!(
            e.message
                .contains("\"maxretry\" is already set in [sshd] of this file (line 2)"),
            "{e}"
        );
        let e = p("[DEFAULT]\na = 1\n[x]\nb = 1\n[DEFAULT]\na = 2\n").unwrap_err();
        assert_eq!(e.line, 6, "{e}");
        let e = p("[a]\nx = 1\n[b]\ny = 1\n[a]\nz = 1\n").unwrap_err();
        assert_eq!(e.line, 5);
        assert!(
            e.message.contains("section [a] is already in this file"),
            "{e}"
        );
        // [DEFAULT] may repeat, and the same option in two sections is no repeat
        let ini = p("[DEFAULT]\na = 1\n[x]\na = 2\n[DEFAULT]\nb = 3\n").unwrap();
        assert_eq!(ini.defaults.get("b").unwrap().value, "3");
    }

    #[test]
    fn errors_name_file_and_line() {
        let e = p("key = v\n").unwrap_err();
        assert_eq!(e.line, 1);
        assert!(e.to_string().contains("t.conf:1"), "{e}");
        let e = p("[a]\nx = 1\njunk line\n").unwrap_err();
        assert_eq!(e.line, 3);
        // a header without its `]` is named as one, first in a file or further down
        for (text, line) in [("[sshd\nenabled = true\n", 1), ("[a]\nx = 1\n[sshd\n", 3)] {
            let e = p(text).unwrap_err();
            assert_eq!(e.line, line, "{e}");
            assert!(e.message.contains("\"[sshd\" has no closing `]`"), "{e}");
        }
    }
}
