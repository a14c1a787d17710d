//! Filling `<tag>`s into action commands.
//!
//! Static tags (the action's parameters, `<name>`, `<port>`, and family variants)
//! are substituted as text, recursively, as Fail2ban does. Dynamic tags (a ban's
//! `<ip>`, `<matches>`, `<F-USER>`, …) are substituted as text only when the value
//! has no character the shell treats specially; otherwise the tag becomes a
//! variable reference (`$f2bV_matches`) and the value travels in the environment,
//! where the shell never parses it.

use crate::BanTicket;
use ferroban_config::action::ActionDefinition;
use ferroban_config::tags::next_tag;

/// How often substitution may go round before it counts as a reference loop.
const MAX_ROUNDS: usize = 25;

/// Characters that make a value unsafe to place in a script as text.
fn needs_variable(value: &str) -> bool {
    value.chars().any(|c| {
        matches!(
            c,
            '\\' | '#'
                | '&'
                | ';'
                | '`'
                | '|'
                | '*'
                | '?'
                | '~'
                | '<'
                | '>'
                | '^'
                | '('
                | ')'
                | '['
                | ']'
                | '{'
                | '}'
                | '$'
                | '\''
                | '"'
                | '\n'
                | '\r'
        )
    })
}

/// A command ready to run: the script and the environment it needs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Script {
    pub text: String,
    pub env: Vec<(String, String)>,
}

/// Substitute the action's own parameters into `text` (for `family`).
pub fn substitute_static(
    action: &ActionDefinition,
    text: &str,
    family: Option<&str>,
) -> Result<String, String> {
    let mut cur = text.to_string();
    for _ in 0..MAX_ROUNDS {
        let mut out = String::with_capacity(cur.len());
        let mut last = 0;
        let mut changed = false;
        let mut pos = 0;
        while let Some((s, e)) = next_tag(&cur, pos) {
            let tag = &cur[s + 1..e - 1];
            let value = match tag {
                "br" => Some("\n"),
                "sp" => Some(" "),
                "family" => family,
                _ => action.get(tag, family),
            };
            if let Some(v) = value {
                out.push_str(&cur[last..s]);
                out.push_str(v);
                last = e;
                changed = true;
            }
            pos = e;
        }
        out.push_str(&cur[last..]);
        if !changed {
            return Ok(out);
        }
        cur = out;
    }
    Err(format!("tags in {text:?} refer to each other in a loop"))
}

/// The dynamic tags whose value is a ban's matched lines.
const MATCHED_LINES_TAGS: [&str; 3] = ["<matches>", "<ipmatches>", "<ipjailmatches>"];

/// Whether any command or parameter of `action` may put a ban's matched lines in a
/// command (directly or through a parameter that names the tag). A server keeps the
/// matched lines of the bans in force only for jails with such an action.
pub fn uses_matched_lines(action: &ActionDefinition) -> bool {
    action
        .options
        .iter()
        .any(|(_, value)| MATCHED_LINES_TAGS.iter().any(|tag| value.contains(tag)))
}

/// Whether any command or parameter of `action` may put a failure's captured
/// data in a command (`<F-USER>`, any `<F-NAME>`). Fail2ban takes that data from
/// the first failure of the offence; a server keeps it only for jails with such an
/// action.
pub fn uses_failure_fields(action: &ActionDefinition) -> bool {
    action
        .options
        .iter()
        .any(|(_, value)| value.contains("<F-"))
}

/// The value of a dynamic tag for `ticket`, if it is one.
fn dynamic_value(tag: &str, ticket: &BanTicket, hostname: &str) -> Option<String> {
    let matches = || ticket.matches.join("\n");
    Some(match tag {
        "ip" | "fid" => ticket.ip.to_string(),
        "family" => ticket.family().to_string(),
        "ip-rev" => reverse_name(ticket.ip),
        "failures" | "ipfailures" | "ipjailfailures" => ticket.failures.to_string(),
        "time" => format!("{:.6}", ticket.time)
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string(),
        "bantime" => format!("{}", ticket.bantime as i64),
        "bancount" => ticket.bancount.to_string(),
        "matches" | "ipmatches" | "ipjailmatches" => matches(),
        "restored" => u8::from(ticket.restored).to_string(),
        "fq-hostname" | "sh-hostname" => hostname.to_string(),
        _ => {
            let name = tag.strip_prefix("F-")?;
            let key = name.to_lowercase();
            ticket
                .fields
                .iter()
                .find(|(k, _)| k.to_lowercase() == key || k.to_lowercase() == format!("f-{key}"))
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        }
    })
}

fn reverse_name(ip: std::net::IpAddr) -> String {
    match ip {
        std::net::IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.", o[3], o[2], o[1], o[0])
        }
        std::net::IpAddr::V6(v6) => {
            let mut s = String::new();
            for b in v6.octets().iter().rev() {
                s.push_str(&format!("{:x}.{:x}.", b & 0xf, b >> 4));
            }
            s
        }
    }
}

/// Fill the ban's tags into `text`; `suffix` keeps variable names apart when
/// several bans share one script.
pub fn substitute_dynamic(
    text: &str,
    ticket: &BanTicket,
    hostname: &str,
    suffix: &str,
    env: &mut Vec<(String, String)>,
) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    let mut pos = 0;
    while let Some((s, e)) = next_tag(text, pos) {
        let tag = &text[s + 1..e - 1];
        if let Some(value) = dynamic_value(tag, ticket, hostname) {
            out.push_str(&text[last..s]);
            if needs_variable(&value) {
                let var: String = format!("f2bV_{tag}{suffix}")
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                    .collect();
                out.push('$');
                out.push_str(&var);
                if !env.iter().any(|(k, _)| *k == var) {
                    env.push((var, value));
                }
            } else {
                out.push_str(&value);
            }
            last = e;
        }
        pos = e;
    }
    out.push_str(&text[last..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action() -> ActionDefinition {
        ActionDefinition {
            name: "t".into(),
            file: "t".into(),
            files: vec![],
            options: vec![
                (
                    "actionban".into(),
                    "add <set> <ip> # <matches> <F-USER>".into(),
                ),
                ("set".into(), "v4-<name>".into()),
                ("set?family=inet6".into(), "v6-<name>".into()),
                ("name".into(), "web".into()),
                ("loop".into(), "<loop>".into()),
            ],
            init_options: vec![],
        }
    }

    #[test]
    fn an_action_uses_matched_lines_through_any_of_its_tags_or_parameters() {
        assert!(uses_matched_lines(&action()));
        let with = |options: &[(&str, &str)]| ActionDefinition {
            options: options
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..action()
        };
        let through_a_parameter = with(&[
            ("actionban", "mail -s <name> root <<< \"<body>\""),
            ("body", "Lines: <ipjailmatches>"),
        ]);
        assert!(uses_matched_lines(&through_a_parameter));
        let in_the_unban = with(&[("actionban", "true"), ("actionunban", "log <ipmatches>")]);
        assert!(uses_matched_lines(&in_the_unban));
        let firewall_only = with(&[
            ("actionban", "nft add element inet f2b <set> { <ip> }"),
            ("set", "addr-set-<name>"),
            ("actionunban", "echo <F-USER> <failures> <ipjailfailures>"),
        ]);
        assert!(!uses_matched_lines(&firewall_only));
    }

    fn ticket(ip: &str, matches: &[&str], user: &str) -> BanTicket {
        BanTicket {
            failures: 3,
            time: 1700000000.5,
            bantime: 3600.0,
            matches: matches.iter().map(|s| (*s).into()).collect(),
            fields: vec![("user".into(), user.into())],
            ..crate::test_ticket(ip)
        }
    }

    #[test]
    fn static_tags_follow_the_family() {
        let a = action();
        let cmd = a.get("actionban", None).unwrap();
        assert_eq!(
            substitute_static(&a, cmd, Some("inet4")).unwrap(),
            "add v4-web <ip> # <matches> <F-USER>"
        );
        assert_eq!(
            substitute_static(&a, cmd, Some("inet6")).unwrap(),
            "add v6-web <ip> # <matches> <F-USER>"
        );
        assert!(substitute_static(&a, "<loop>", None).is_err());
        assert_eq!(
            substitute_static(&a, "a<br>b<sp>c", None).unwrap(),
            "a\nb c"
        );
    }

    #[test]
    fn hostile_values_travel_as_variables() {
        let mut env = Vec::new();
        let t = ticket(
            "192.0.2.1",
            &["x'; touch /tmp/p; echo '", "$(id)`id`\nrm"],
            "plain",
        );
        let s = substitute_dynamic("add <ip> <matches> <F-USER>", &t, "h", "", &mut env);
        assert_eq!(s, "add 192.0.2.1 $f2bV_matches plain");
        assert_eq!(
            env,
            vec![(
                "f2bV_matches".to_string(),
                "x'; touch /tmp/p; echo '\n$(id)`id`\nrm".to_string()
            )]
        );
        let mut env = Vec::new();
        let t = ticket("2001:db8::1", &[], "a;b");
        assert_eq!(
            substitute_dynamic("<F-USER> <ip-rev>", &t, "h", "_7", &mut env)
                .split(' ')
                .next(),
            Some("$f2bV_F_USER_7")
        );
        assert_eq!(env[0].1, "a;b");
    }
}
