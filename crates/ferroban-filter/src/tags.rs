//! Fail2ban's regex tags: `<HOST>`, `<ADDR>`, `<IP4>`, `<IP6>`, `<DNS>`, `<CIDR>`,
//! `<SUBNET>`, `<SKIPLINES>`, `<F-ID/>`, and the capturing `<F-NAME>…</F-NAME>` pairs.
//!
//! Owns the expansion of those tags into Python-syntax regex text (the same groups
//! Fail2ban defines: `ip4`, `ip6`, `dns`, `cidr`, `fid`, `skiplinesN`, lower-cased
//! `F-` names). It does not compile anything.

/// An IPv4 address as Fail2ban recognises it in a log line.
const IP4: &str = r"(?:\d{1,3}\.){3}\d{1,3}";
/// An IPv6 address, written as Fail2ban writes it (`pyre` runs its look-behind
/// in linear form).
pub const IP6: &str = r"(?:[0-9a-fA-F]{1,4}::?|::){1,7}(?:[0-9a-fA-F]{1,4}|(?<=:):)";

fn ipv4_group() -> String {
    format!(r"(?:::f{{4,6}}:)?(?P<ip4>{IP4})")
}
fn ipv6_group() -> String {
    format!(r"(?P<ip6>{IP6})")
}
const DNS_GROUP: &str = r"(?P<dns>[\w\-.^_]*\w)";
const CIDR_GROUP: &str = r"(?P<cidr>\d+)";

fn addr() -> String {
    format!(r"\[?(?:{}|{})\]?", ipv4_group(), ipv6_group())
}
fn host() -> String {
    format!(r"(?:{}|{DNS_GROUP})", addr())
}
fn subnet() -> String {
    format!(
        r"\[?(?:{}|{})(?:/{CIDR_GROUP})?\]?",
        ipv4_group(),
        ipv6_group()
    )
}

/// The regex group name for a capturing `F-NAME` tag.
fn group_name(tag: &str) -> String {
    let lower = tag.to_ascii_lowercase();
    match lower.as_str() {
        "id" => "fid".to_string(),
        "port" => "fport".to_string(),
        _ => lower,
    }
}

/// Expand all tags of `regex`. `use_dns = "no"` makes `<HOST>` match addresses only.
pub fn expand(regex: &str, use_dns: &str) -> String {
    let mut out = String::with_capacity(regex.len() + 64);
    let mut open: Vec<String> = Vec::new();
    let mut skiplines = 0;
    let mut rest = regex;
    while let Some(lt) = rest.find('<') {
        out.push_str(&rest[..lt]);
        let after = &rest[lt..];
        let Some(len) = tag_len(after) else {
            out.push('<');
            rest = &after[1..];
            continue;
        };
        let tag = &after[..len];
        let name = &tag[1..len - 1];
        let replacement = match name {
            "HOST" if use_dns == "no" => Some(addr()),
            "HOST" => Some(host()),
            "SKIPLINES" => {
                let r = format!(r"\n(?P<skiplines{skiplines}>(?:(?:.*\n)*?))");
                skiplines += 1;
                Some(r)
            }
            "IP4" | "F-IP4/" => Some(ipv4_group()),
            "IP6" | "F-IP6/" => Some(ipv6_group()),
            "ADDR" | "F-ADDR/" => Some(addr()),
            "CIDR" | "F-CIDR/" => Some(CIDR_GROUP.to_string()),
            "SUBNET" | "F-SUBNET/" => Some(subnet()),
            "DNS" | "F-DNS/" => Some(DNS_GROUP.to_string()),
            "F-ID/" => Some(r"(?P<fid>\S+)".to_string()),
            "F-PORT/" => Some(r"(?P<fport>\w+)".to_string()),
            _ => custom_tag(name, &mut open),
        };
        match replacement {
            Some(r) => out.push_str(&r),
            None => out.push_str(tag),
        }
        rest = &after[len..];
    }
    out.push_str(rest);
    out
}

/// `<F-NAME>` opens a group named `name`; `</F-NAME>` closes it if it was opened.
fn custom_tag(name: &str, open: &mut Vec<String>) -> Option<String> {
    let (closing, body) = match name.strip_prefix('/') {
        Some(b) => (true, b),
        None => (false, name),
    };
    let tn = body.strip_prefix("F-")?;
    if tn.is_empty()
        || !tn
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_' || c == '-')
    {
        return None;
    }
    if closing {
        return open.iter().any(|o| o == tn).then(|| ")".to_string());
    }
    open.push(tn.to_string());
    Some(format!("(?P<{}>", group_name(tn)))
}

/// Length of a tag `</?[\w\-]+/?>` at the start of `s`, if there is one.
fn tag_len(s: &str) -> Option<usize> {
    let mut it = s.char_indices().skip(1).peekable();
    if let Some(&(_, '/')) = it.peek() {
        it.next();
    }
    let mut body = 0;
    while let Some(&(_, c)) = it.peek() {
        if c.is_alphanumeric() || c == '_' || c == '-' {
            body += 1;
            it.next();
        } else {
            break;
        }
    }
    if body == 0 {
        return None;
    }
    if let Some(&(_, '/')) = it.peek() {
        it.next();
    }
    match it.next() {
        Some((i, '>')) => Some(i + 1),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pattern::{Mode, Pattern};

    fn host_of(re: &str, line: &str) -> Option<String> {
        let p = Pattern::new(&expand(re, "yes"), Mode::SingleLine).unwrap();
        let g = p.search(line)?;
        for n in ["ip4", "ip6", "dns"] {
            if let Some((s, e)) = p.group_index(n).and_then(|i| g.get(i)) {
                return Some(line[s..e].to_string());
            }
        }
        None
    }

    #[test]
    fn host_tag_matches_addresses_and_names() {
        let cases = [
            ("1.2.3.4", Some("1.2.3.4")),
            ("::ffff:1.2.3.4", Some("1.2.3.4")),
            ("2001:db8::1", Some("2001:db8::1")),
            ("[2001:db8::]", Some("2001:db8::")),
            ("example.com", Some("example.com")),
            ("-", None),
        ];
        for (written, host) in cases {
            let line = format!("from {written} port");
            assert_eq!(
                host_of("from <HOST> port", &line).as_deref(),
                host,
                "{line}"
            );
        }
        // <HOST> without DNS names: addresses only
        let addr_only = Pattern::new(&expand("from <HOST> port", "no"), Mode::SingleLine).unwrap();
        assert!(addr_only.search("from example.com port").is_none());
        assert!(!Pattern::new(&expand("<HOST>", "yes"), Mode::SingleLine)
            .unwrap()
            .is_backtracking());
    }

    #[test]
    fn custom_tags() {
        let e = expand("user <F-USER>\\S+</F-USER> <F-ID/> </F-NOPE>", "yes");
        assert_eq!(e, r"user (?P<user>\S+) (?P<fid>\S+) </F-NOPE>");
        assert_eq!(
            expand("a<SKIPLINES>b<SKIPLINES>", "yes")
                .matches("skiplines")
                .count(),
            2
        );
        assert_eq!(expand("<not a tag> <x", "yes"), "<not a tag> <x");
    }
}
