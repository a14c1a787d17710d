//! `<tag>` substitution between option values (Fail2ban's `substituteRecursiveTags`).
//!
//! Owns the rule that an option value may name another option as `<name>`: the
//! reference is replaced by that option's value, recursively, until nothing known is
//! left. Unknown tags (such as `<HOST>`) stay as they are for the regex layer. It does
//! not read files.

use crate::ConfigError;
use std::path::Path;

/// How often one tag may be substituted inside one value before it counts as a loop.
const MAX_TAG_REPLACE_COUNT: usize = 25;
/// Values are not allowed to grow past this through substitution.
const MAX_VALUE_LEN: usize = 1 << 20;

/// Find the next `<name>` (no spaces or angle brackets inside) at or after `from`:
/// its byte span, brackets included.
pub fn next_tag(s: &str, from: usize) -> Option<(usize, usize)> {
    let mut i = from;
    while let Some(lt) = s[i..].find('<') {
        let start = i + lt;
        let body = &s[start + 1..];
        let end = body.find(['<', '>', ' ']);
        match end {
            Some(e) if e > 0 && body.as_bytes()[e] == b'>' => {
                return Some((start, start + 1 + e + 1))
            }
            _ => i = start + 1,
        }
    }
    None
}

/// Substitute `<tag>`s of every value in `tags` (ordered name → value). Tags named in
/// `ignore` are left alone; `lookup` supplies values for names not in `tags`.
pub fn substitute(
    tags: &mut [(String, String)],
    ignore: &[String],
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    let mut done: Vec<String> = Vec::new();
    let mut counts: Vec<(String, Vec<(String, usize)>)> = Vec::new();
    loop {
        let mut again = false;
        for idx in 0..tags.len() {
            let tag = tags[idx].0.clone();
            if ignore.contains(&tag) || done.contains(&tag) {
                continue;
            }
            let original = tags[idx].1.clone();
            let mut value = original.clone();
            let mut rplc: Vec<(String, usize)> = counts
                .iter()
                .find(|c| c.0 == tag)
                .map(|c| c.1.clone())
                .unwrap_or_default();
            let mut m = next_tag(&value, 0);
            while let Some((s, e)) = m {
                let rtag = value[s + 1..e - 1].to_string();
                if ignore.contains(&rtag) {
                    m = next_tag(&value, e);
                    continue;
                }
                let count = rplc.iter().find(|c| c.0 == rtag).map_or(0, |c| c.1);
                if rtag == tag || count > MAX_TAG_REPLACE_COUNT {
                    return Err(ConfigError::at(
                        Path::new(&format!("<option {tag}>")),
                        0,
                        format!("option {tag:?} refers to itself through <{rtag}> and cannot be resolved"),
                        "remove the circular <tag> reference",
                    ));
                }
                let repl = tags
                    .iter()
                    .find(|(k, _)| *k == rtag)
                    .map(|(_, v)| v.clone())
                    .or_else(|| lookup(&rtag));
                let Some(repl) = repl else {
                    m = next_tag(&value, e);
                    continue;
                };
                value = value.replace(&format!("<{rtag}>"), &repl);
                if value.len() > MAX_VALUE_LEN {
                    return Err(ConfigError::at(
                        Path::new(&format!("<option {tag}>")),
                        0,
                        format!("option {tag:?} grows beyond 1 MiB through <tag> substitution"),
                        "check the <tag> references",
                    ));
                }
                match rplc.iter_mut().find(|c| c.0 == rtag) {
                    Some(c) => c.1 += 1,
                    None => rplc.push((rtag, 1)),
                }
                m = next_tag(&value, s);
            }
            if value != original {
                if next_tag(&value, 0).is_some() {
                    match counts.iter_mut().find(|c| c.0 == tag) {
                        Some(c) => c.1 = rplc,
                        None => counts.push((tag.clone(), rplc)),
                    }
                    again = true;
                }
                tags[idx].1 = value.clone();
            }
            if !value.contains('<') {
                done.push(tag);
            }
        }
        if !again {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_tags_and_unknown_ones() {
        let mut t = vec![
            (
                "failregex".to_string(),
                "<pre> from <HOST> <mode-re>".to_string(),
            ),
            ("pre".to_string(), "sshd<pid>:".to_string()),
            ("mode".to_string(), "normal".to_string()),
            ("mode-re".to_string(), "<mdre-<mode>>".to_string()),
        ];
        let lookup = |n: &str| match n {
            "pid" => Some("\\[\\d+\\]".to_string()),
            "mdre-normal" => Some("N".to_string()),
            _ => None,
        };
        substitute(&mut t, &[], &lookup).unwrap();
        assert_eq!(t[0].1, "sshd\\[\\d+\\]: from <HOST> N");
    }

    #[test]
    fn self_reference_is_an_error() {
        let mut t = vec![("a".to_string(), "x<a>".to_string())];
        assert!(substitute(&mut t, &[], &|_| None).is_err());
    }
}
