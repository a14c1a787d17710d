//! `firewall-default-policy`: does the firewall deny incoming traffic by default?
//!
//! Reads the nftables ruleset (`nft -j list ruleset`), where iptables-nft and ufw
//! rules also show, then the INPUT chain of iptables-legacy and ip6tables-legacy
//! for a family nftables does not deny (their rules sit on the same input hook
//! but never show in nft), and `ufw status verbose` when neither denies. A family
//! denies by default when one of its input base chains has policy drop or a rule
//! with no match that drops or rejects, and no rule with no match accepts before
//! it: such a rule lets every packet through that chain whatever its policy (a
//! match on the family alone, `meta nfproto ipv6`, is no match for that family). A
//! packet must pass every base chain of the hook, so one denying chain is enough.
//! IPv6 counts only when the host has a non-loopback IPv6 address.

use std::net::IpAddr;

use serde_json::Value;

use super::{run_program, Finding};

const FIX: &str = concat!(
    "deny incoming by default and allow only the services you run: \
     `ufw default deny incoming` or an nftables input chain with `policy drop;` (see ",
    hardening_guide!(),
    ")"
);

/// The input chains of one address family, as seen.
#[derive(Debug, Default, PartialEq)]
struct FamilyPolicy {
    /// `family table chain: policy` of every input base chain.
    chains: Vec<String>,
    /// Whether one of them denies by default.
    denies: bool,
    /// How to remove each rule that accepts every packet (a command).
    accept_all: Vec<String>,
    /// Why iptables-legacy's rules of this family could not be read.
    unread: Option<String>,
}

/// What a rule with no match does with every packet.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Verdict {
    Accept,
    Deny,
    /// A rule whose only matches cover a whole class of traffic (`tcp dport
    /// 0-65535`, `meta l4proto tcp`, `ip saddr 0.0.0.0/0`, `ct state new`) and
    /// accepts: incoming traffic of that class is not denied by default. Named
    /// for the `seen` text ("every TCP packet"). A drop with such matches
    /// denies only that class, and decides nothing here.
    AcceptAllOf(&'static str),
}

/// One input chain as read, from nftables or iptables-legacy.
#[derive(Debug)]
struct ChainReading {
    /// Its name, policy and the rule that decides, for the `seen` text.
    seen: String,
    /// Whether it denies every packet no earlier rule accepted.
    denies: bool,
    /// How to remove its rule that accepts every packet (a command).
    removal: Option<String>,
}

impl FamilyPolicy {
    fn add(&mut self, chain: &ChainReading) {
        self.chains.push(chain.seen.clone());
        self.denies |= chain.denies;
        self.accept_all.extend(chain.removal.clone());
    }
}

/// Judge an input chain, `head` naming it and its policy, from what each rule
/// does with every packet (`None`: it depends on the packet, or decides
/// nothing). The first rule with a verdict decides for every packet that
/// reaches it: the rules after it and the policy never see one. `removal` gives
/// the command that removes rule `i` (from 0).
fn judge(
    head: String,
    policy_drops: bool,
    verdicts: &[Option<Verdict>],
    removal: impl Fn(usize) -> String,
) -> ChainReading {
    let first = verdicts
        .iter()
        .enumerate()
        .find_map(|(i, v)| v.map(|v| (i, v)));
    match first {
        Some((i, Verdict::Accept)) => ChainReading {
            seen: format!("{head}, but rule {} accepts every packet", i + 1),
            denies: false,
            removal: Some(removal(i)),
        },
        Some((i, Verdict::AcceptAllOf(what))) => ChainReading {
            seen: format!("{head}, but rule {} accepts every {what}", i + 1),
            denies: false,
            removal: Some(removal(i)),
        },
        Some((i, Verdict::Deny)) if !policy_drops => {
            let which = if i + 1 == verdicts.len() {
                "last rule".to_string()
            } else {
                format!("rule {}", i + 1)
            };
            ChainReading {
                seen: format!("{head}, {which} drops"),
                denies: true,
                removal: None,
            }
        }
        _ => ChainReading {
            seen: head,
            denies: policy_drops,
            removal: None,
        },
    }
}

/// iptables-legacy for one family: the program and the kernel's list of its
/// tables in this network namespace.
struct Legacy {
    program: &'static str,
    tables: &'static str,
}

const IPTABLES_LEGACY: Legacy = Legacy {
    program: "iptables-legacy",
    tables: "/proc/net/ip_tables_names",
};
const IP6TABLES_LEGACY: Legacy = Legacy {
    program: "ip6tables-legacy",
    tables: "/proc/net/ip6_tables_names",
};

pub fn default_policy() -> Finding {
    let ipv6_matters = has_global_ipv6();
    let public = default_route_interfaces();
    let nft = match run_program("nft", &["-j", "list", "ruleset"]) {
        Ok(out) if out.success => match input_policies(&out.stdout, &iptables_nft_input, &public) {
            Ok(p) => Ok(p),
            Err(e) => return Finding::skip(format!("cannot read nft's ruleset: {e}")),
        },
        Ok(out) => Err(format!(
            "nft list ruleset failed: {} (run the audit as root)",
            out.stderr.trim()
        )),
        Err(e) => Err(e.to_string()),
    };
    let ufw = || run_program("ufw", &["status", "verbose"]);
    let (mut v4, mut v6) = match nft {
        Ok(policies) => policies,
        Err(nft_error) => {
            // Without nftables' view only a deny can be concluded: a legacy
            // chain that accepts says nothing about nftables' chains.
            let mut v4 = FamilyPolicy::default();
            let mut v6 = FamilyPolicy::default();
            add_legacy(&mut v4, &IPTABLES_LEGACY, &public);
            if ipv6_matters {
                add_legacy(&mut v6, &IP6TABLES_LEGACY, &public);
            }
            if v4.denies && (v6.denies || !ipv6_matters) {
                return Finding::pass(format!("{}; {nft_error}", describe(&v4, &v6, ipv6_matters)));
            }
            return match ufw() {
                Ok(u) if u.success => from_ufw(&u.stdout),
                Ok(u) => Finding::skip(format!(
                    "{nft_error}; ufw status failed: {}",
                    u.stderr.trim()
                )),
                Err(ufw_error) => Finding::skip(format!("{nft_error}; {ufw_error}")),
            };
        }
    };
    if !v4.denies {
        add_legacy(&mut v4, &IPTABLES_LEGACY, &public);
    }
    if !v6.denies && ipv6_matters {
        add_legacy(&mut v6, &IP6TABLES_LEGACY, &public);
    }
    let seen = describe(&v4, &v6, ipv6_matters);
    if v4.denies && (v6.denies || !ipv6_matters) {
        return Finding::pass(seen);
    }
    // Neither nftables nor iptables-legacy denies; ufw on an old backend might.
    if let Ok(u) = ufw() {
        if u.success && ufw_denies(&u.stdout) {
            return from_ufw(&u.stdout);
        }
    }
    let open: Vec<&FamilyPolicy> = [(&v4, true), (&v6, ipv6_matters)]
        .into_iter()
        .filter(|(p, matters)| *matters && !p.denies)
        .map(|(p, _)| p)
        .collect();
    // A family whose legacy rules could not be read may deny there.
    if open.iter().any(|p| p.unread.is_some()) {
        return Finding::skip(seen);
    }
    let removals: Vec<&str> = open
        .iter()
        .flat_map(|p| p.accept_all.iter().map(String::as_str))
        .collect();
    let fix = if removals.is_empty() {
        FIX.to_string()
    } else {
        format!(
            "remove the rule that accepts every packet (or all of a kind), or narrow its \
             match to the services you run ({}); {FIX}",
            removals.join(", ")
        )
    };
    Finding::fail(seen, fix)
}

fn describe(v4: &FamilyPolicy, v6: &FamilyPolicy, ipv6_matters: bool) -> String {
    let one = |name: &str, p: &FamilyPolicy| {
        let verdict = if p.denies { "denies" } else { "accepts" };
        let mut text = if p.chains.is_empty() {
            format!("{name}: no input chain in nftables or iptables-legacy, the kernel accepts")
        } else {
            format!("{name} {verdict} by default ({})", p.chains.join("; "))
        };
        if let Some(why) = &p.unread {
            text.push_str(&format!(" ({why})"));
        }
        text
    };
    let mut text = one("IPv4", v4);
    if ipv6_matters {
        text.push_str(", ");
        text.push_str(&one("IPv6", v6));
    } else {
        text.push_str("; IPv6 not checked: this host has no global IPv6 address");
    }
    text
}

/// The input policies of IPv4 and IPv6 in `nft -j list ruleset` output.
/// iptables-nft's matches (`-m conntrack --ctstate NEW`, `-m multiport`) show
/// there as `xt` expressions without their options: a chain of iptables-nft's
/// with such rules is read as `saved` gives it (its rules as `iptables -S` prints
/// them, for the family `ip` or `ip6`), where it gives as many. `public`: the
/// interfaces of the default routes, where an accept of every packet arriving
/// accepts the Internet's.
fn input_policies(
    json: &str,
    saved: &dyn Fn(&str) -> Option<Vec<String>>,
    public: &[String],
) -> Result<(FamilyPolicy, FamilyPolicy), String> {
    let doc: Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
    let items = doc
        .get("nftables")
        .and_then(Value::as_array)
        .ok_or("no \"nftables\" array")?;
    let mut v4 = FamilyPolicy::default();
    let mut v6 = FamilyPolicy::default();
    for chain in items.iter().filter_map(|i| i.get("chain")) {
        if chain.get("hook").and_then(Value::as_str) != Some("input") {
            continue;
        }
        let text = |k: &str| chain.get(k).and_then(Value::as_str).unwrap_or("");
        let (family, table, name) = (text("family"), text("table"), text("name"));
        let policy = chain
            .get("policy")
            .and_then(Value::as_str)
            .unwrap_or("accept");
        let rules = rules_of(items, family, table, name);
        let iptables_nft = (table, name) == ("filter", "INPUT") && rules.iter().any(has_xt_match);
        let saved_rules = iptables_nft
            .then(|| saved(family))
            .flatten()
            .filter(|lines| lines.len() == rules.len());
        let targets: &mut [(Ip, &mut FamilyPolicy)] = match family {
            "ip" => &mut [(Ip::V4, &mut v4)],
            "ip6" => &mut [(Ip::V6, &mut v6)],
            "inet" => &mut [(Ip::V4, &mut v4), (Ip::V6, &mut v6)],
            _ => &mut [],
        };
        for (ip, target) in targets.iter_mut() {
            let verdicts: Vec<Option<Verdict>> = match &saved_rules {
                Some(lines) => lines.iter().map(|l| legacy_verdict(l, public)).collect(),
                None => rules
                    .iter()
                    .map(|r| unconditional(r, *ip, public))
                    .collect(),
            };
            let head = format!("{family} {table} {name}: policy {policy}");
            let chain = judge(head, policy == "drop", &verdicts, |i| {
                match rules
                    .get(i)
                    .and_then(|r| r.get("handle"))
                    .and_then(Value::as_u64)
                {
                    Some(h) => format!("`nft delete rule {family} {table} {name} handle {h}`"),
                    None => format!("`nft -a list chain {family} {table} {name}` shows its handle"),
                }
            });
            target.add(&chain);
        }
    }
    Ok((v4, v6))
}

/// An address family, as an `inet` chain's rule may select it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Ip {
    V4,
    V6,
}

/// Whether the match expression `e` only selects an address family (`meta nfproto
/// ipv6`, `meta protocol ip6`): `Some(true)` when `ip`'s packets all pass it,
/// `Some(false)` when none do, `None` for any other expression.
fn family_selector(e: &Value, ip: Ip) -> Option<bool> {
    let m = e.get("match")?;
    let (left, right) = (m.get("left")?, m.get("right")?);
    let op = m.get("op").and_then(Value::as_str)?;
    let selected = match left.get("payload") {
        // `ip version 4`: in an `inet` chain it matches no IPv6 packet at all,
        // so only `==` selects a family
        Some(payload) if op == "==" => {
            let field = (
                payload.get("protocol")?.as_str()?,
                payload.get("field")?.as_str()?,
            );
            match (field, right.as_u64()?) {
                (("ip", "version"), 4) => Ip::V4,
                (("ip6", "version"), 6) => Ip::V6,
                _ => return None,
            }
        }
        Some(_) => return None,
        None => match (left.get("meta")?.get("key")?.as_str()?, right.as_str()?) {
            ("nfproto", "ipv4") | ("protocol", "ip") => Ip::V4,
            ("nfproto", "ipv6") | ("protocol", "ip6") => Ip::V6,
            _ => return None,
        },
    };
    match op {
        "==" => Some(selected == ip),
        "!=" => Some(selected != ip),
        _ => None,
    }
}

/// The rules of a chain, in order (nft lists them after their chain).
fn rules_of<'a>(items: &'a [Value], family: &str, table: &str, chain: &str) -> Vec<&'a Value> {
    items
        .iter()
        .filter_map(|i| i.get("rule"))
        .filter(|r| {
            r.get("family").and_then(Value::as_str) == Some(family)
                && r.get("table").and_then(Value::as_str) == Some(table)
                && r.get("chain").and_then(Value::as_str) == Some(chain)
        })
        .collect()
}

/// What a rule with no match does with every packet of family `ip`: only
/// counters, logging and comments besides an accept, drop or reject, and matches
/// that only select the family (`meta nfproto ipv6 accept` accepts every IPv6
/// packet, and no IPv4 one). A rule that accepts a whole class of traffic
/// (every TCP packet, every new connection) is [`Verdict::AcceptAllOf`] it.
/// Anything else (another match, a jump, a set update) is not evaluated, and
/// such a rule is not taken as deciding for every packet.
fn unconditional(rule: &Value, ip: Ip, public: &[String]) -> Option<Verdict> {
    let exprs = rule.get("expr").and_then(Value::as_array)?;
    if exprs.iter().any(|e| family_selector(e, ip) == Some(false)) {
        return None;
    }
    if let Some(verdict) = accepts_a_whole_class(exprs, ip, public) {
        return verdict;
    }
    let exprs: Vec<&Value> = exprs
        .iter()
        .filter(|e| family_selector(e, ip).is_none())
        .collect();
    let verdict = |e: &Value| {
        if e.get("accept").is_some() {
            Some(Verdict::Accept)
        } else if e.get("drop").is_some() || e.get("reject").is_some() {
            Some(Verdict::Deny)
        } else {
            None
        }
    };
    if !exprs.iter().all(|e| is_passive(e) || verdict(e).is_some()) {
        return None;
    }
    exprs.into_iter().find_map(verdict)
}

/// The interfaces of this host's default routes (IPv4 and IPv6), from the kernel:
/// where the Internet's packets arrive.
fn default_route_interfaces() -> Vec<String> {
    let read = |path| std::fs::read_to_string(path).unwrap_or_default();
    default_routes_in(&read("/proc/net/route"), &read("/proc/net/ipv6_route"))
}

/// [`default_route_interfaces`] of the kernel's route tables as text:
/// `/proc/net/route` (a default route has destination and mask 0) and
/// `/proc/net/ipv6_route` (destination `::/0`; the last field is the interface).
fn default_routes_in(v4: &str, v6: &str) -> Vec<String> {
    let v4 = v4.lines().skip(1).filter_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.len() > 7 && f[1] == "00000000" && f[7] == "00000000").then(|| f[0])
    });
    let v6 = v6.lines().filter_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        let default = f.len() == 10 && f[0].bytes().all(|b| b == b'0') && f[1] == "00";
        default.then(|| f[9])
    });
    let mut names: Vec<String> = v4
        .chain(v6)
        .filter(|n| *n != "lo")
        .map(str::to_string)
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Whether an nft rule has an iptables match other than a comment (an `xt`
/// expression, whose options nft does not show).
fn has_xt_match(rule: &&Value) -> bool {
    let exprs = rule.get("expr").and_then(Value::as_array);
    exprs.is_some_and(|exprs| {
        exprs
            .iter()
            .any(|e| e.get("xt").is_some() && !is_passive(e))
    })
}

/// The rules of iptables-nft's `filter INPUT` chain of `family` (`ip`, `ip6`), as
/// `iptables -S INPUT` prints them.
fn iptables_nft_input(family: &str) -> Option<Vec<String>> {
    let program = match family {
        "ip" => "iptables-nft",
        "ip6" => "ip6tables-nft",
        _ => return None,
    };
    let out = run_program(program, &["-S", "INPUT"])
        .ok()
        .filter(|o| o.success)?;
    Some(appended_rules(&out.stdout))
}

/// The rules (`-A INPUT …` lines) of `iptables -S INPUT` output.
fn appended_rules(saved: &str) -> Vec<String> {
    let rules = saved.lines().filter(|l| l.starts_with("-A INPUT "));
    rules.map(str::to_string).collect()
}

/// The class of every packet arriving on a default route's interface.
const ON_PUBLIC_INTERFACE: &str = "packet arriving on the default route's interface";

/// Whether an interface match on `names` (`iifname { … }`, `-i`; or all but them,
/// `negated`) takes every packet arriving on an interface of `public`.
fn takes_a_public_interface(names: &[&str], negated: bool, public: &[String]) -> bool {
    public
        .iter()
        .any(|p| names.contains(&p.as_str()) != negated)
}

/// `class` for a match of `family` alone, judged for family `ip`: `Some(None)`,
/// no packet of it, when the families differ (see [`whole_class`]).
fn family_only(family: Ip, ip: Ip, class: &'static str) -> Option<Option<&'static str>> {
    Some((family == ip).then_some(class))
}

/// Whether the nft expression `e` leaves every packet's fate alone: a counter, a
/// log, or a comment. iptables-nft keeps `-m comment --comment X` as the xtables
/// match `{"xt": {"type": "match", "name": "comment"}}`, which matches every
/// packet (nft's own `comment "X"` is a key of the rule, not an expression).
fn is_passive(e: &Value) -> bool {
    let comment = e
        .get("xt")
        .and_then(|x| x.get("name"))
        .and_then(Value::as_str);
    e.get("counter").is_some() || e.get("log").is_some() || comment == Some("comment")
}

/// What a whole class of traffic an nft match expression lets through (see
/// [`Verdict::AcceptAllOf`]): `Some(Some(class))`, `Some(None)` when it matches
/// no packet of family `ip` (`ip saddr …` in an `inet` chain, for IPv6), `None`
/// for any other expression. The value compared with may be a set (`meta l4proto
/// { tcp, udp }`, `tcp dport { 1-1000, 1001-65535 }`): what its elements cover
/// together counts.
fn whole_class(e: &Value, ip: Ip, public: &[String]) -> Option<Option<&'static str>> {
    let m = e.get("match")?;
    let (op, left, right) = (m.get("op")?.as_str()?, m.get("left")?, m.get("right")?);
    let elements = elements(right);
    if op == "!=" {
        return all_but_class(left, &elements, ip, public);
    }
    if op != "==" && op != "in" {
        return None;
    }
    if is_syn_test(left, &elements) {
        return Some(Some("TCP connection attempt (SYN)"));
    }
    if let Some(payload) = left.get("payload") {
        let field = payload.get("field")?.as_str()?;
        let proto = payload.get("protocol")?.as_str()?;
        return match (proto, field) {
            ("tcp", "dport" | "sport") if every_port(&elements) => Some(Some("TCP packet")),
            ("udp", "dport" | "sport") if every_port(&elements) => Some(Some("UDP packet")),
            ("th", "dport" | "sport") if every_port(&elements) => Some(Some("TCP or UDP packet")),
            ("ip", "protocol") => family_only(Ip::V4, ip, protocols_class(&elements)?),
            ("ip6", "nexthdr") => family_only(Ip::V6, ip, protocols_class(&elements)?),
            ("ip", "saddr" | "daddr") if every_address(&elements) => {
                family_only(Ip::V4, ip, "IPv4 packet")
            }
            ("ip6", "saddr" | "daddr") if every_address(&elements) => {
                family_only(Ip::V6, ip, "IPv6 packet")
            }
            _ => None,
        };
    }
    if let Some(key) = left.get("meta").and_then(|m| m.get("key")?.as_str()) {
        return match key {
            "iifname" | "iif" if takes_a_public_interface(&names(&elements), false, public) => {
                Some(Some(ON_PUBLIC_INTERFACE))
            }
            "l4proto" => protocols_class(&elements).map(Some),
            "pkttype" if elements.iter().any(|e| e.as_str() == Some("host")) => {
                Some(Some("packet addressed to this host"))
            }
            _ => None,
        };
    }
    if left.get("ct").and_then(|c| c.get("key")?.as_str()) == Some("state") {
        let new = elements.iter().any(|e| e.as_str() == Some("new"));
        return new.then_some(Some("new connection"));
    }
    None
}

/// [`whole_class`] for a match that excludes what it names (`!=`): all but a few
/// ports or addresses are nearly every packet of the class, and every connection
/// state but `invalid` (or any that are not `new`) takes every new connection.
fn all_but_class(
    left: &Value,
    excluded: &[&Value],
    ip: Ip,
    public: &[String],
) -> Option<Option<&'static str>> {
    let meta = left.get("meta").and_then(|m| m.get("key")?.as_str());
    if matches!(meta, Some("iifname" | "iif")) {
        let takes = takes_a_public_interface(&names(excluded), true, public);
        return takes.then_some(Some(ON_PUBLIC_INTERFACE));
    }
    if left.get("ct").and_then(|c| c.get("key")?.as_str()) == Some("state") {
        let new_excluded = excluded.iter().any(|e| e.as_str() == Some("new"));
        return (!new_excluded).then_some(Some("new connection"));
    }
    let payload = left.get("payload")?;
    match (
        payload.get("protocol")?.as_str()?,
        payload.get("field")?.as_str()?,
    ) {
        ("tcp", "dport" | "sport") => Some(Some("TCP packet but to or from the ports it names")),
        ("udp", "dport" | "sport") => Some(Some("UDP packet but to or from the ports it names")),
        ("th", "dport" | "sport") => {
            Some(Some("TCP or UDP packet but to or from the ports it names"))
        }
        ("ip", "saddr" | "daddr") => family_only(
            Ip::V4,
            ip,
            "IPv4 packet but to or from the addresses it names",
        ),
        ("ip6", "saddr" | "daddr") => family_only(
            Ip::V6,
            ip,
            "IPv6 packet but to or from the addresses it names",
        ),
        _ => None,
    }
}

/// The names among a match's `elements` (interfaces, flags).
fn names<'a>(elements: &[&'a Value]) -> Vec<&'a str> {
    elements.iter().filter_map(|e| e.as_str()).collect()
}

/// Whether a match tests for the TCP SYN flag (`tcp flags syn`, `tcp flags &
/// (syn|ack) == syn`): what every new TCP connection begins with.
fn is_syn_test(left: &Value, elements: &[&Value]) -> bool {
    let flags = |v: &Value| {
        v.get("payload").is_some_and(|p| {
            p.get("protocol").and_then(Value::as_str) == Some("tcp")
                && p.get("field").and_then(Value::as_str) == Some("flags")
        })
    };
    let masked = left
        .get("&")
        .and_then(Value::as_array)
        .and_then(|parts| parts.first())
        .is_some_and(flags);
    (flags(left) || masked) && elements.iter().any(|e| e.as_str() == Some("syn"))
}

/// The values a match compares with: an anonymous set's elements (`{"set": […]}`),
/// a list of flags (`ct state new,established`), or the one value.
fn elements(right: &Value) -> Vec<&Value> {
    match right {
        Value::Array(many) => many.iter().collect(),
        _ => match right.get("set") {
            Some(Value::Array(set)) => set.iter().collect(),
            Some(one) => vec![one],
            None => vec![right],
        },
    }
}

/// The class of packets of the transport protocols among `elements` (names or
/// numbers): every TCP packet, every UDP packet, or both; `None` when neither is
/// among them (`icmp` alone is not a class this check looks for).
fn protocols_class(elements: &[&Value]) -> Option<&'static str> {
    let has = |name: &str, number: u64| {
        elements
            .iter()
            .any(|e| e.as_str() == Some(name) || e.as_u64() == Some(number))
    };
    match (has("tcp", 6), has("udp", 17)) {
        (true, true) => Some("TCP or UDP packet"),
        (true, false) => Some("TCP packet"),
        (false, true) => Some("UDP packet"),
        (false, false) => None,
    }
}

/// Whether ports and port ranges `elements` together cover every port 1–65535.
fn every_port(elements: &[&Value]) -> bool {
    let spans = elements
        .iter()
        .filter_map(|e| match e.get("range").and_then(Value::as_array) {
            Some(r) => Some((r.first()?.as_u64()?, r.get(1)?.as_u64()?)),
            None => e.as_u64().map(|port| (port, port)),
        })
        .collect();
    spans_cover_every_port(spans)
}

/// Whether the port spans `(low, high)` together cover every port 1–65535.
fn spans_cover_every_port(mut spans: Vec<(u64, u64)>) -> bool {
    spans.sort_unstable();
    // The first port not covered yet (port 0 carries no traffic).
    let mut next = 1;
    for (low, high) in spans {
        if low > next {
            break;
        }
        next = next.max(high + 1);
    }
    next > 65_535
}

/// Whether `elements` hold every address of a family: a `/0` prefix, or the range
/// from the family's first address to its last (`0.0.0.0-255.255.255.255`).
fn every_address(elements: &[&Value]) -> bool {
    let whole_range = |r: &Vec<Value>| {
        let ends: Option<Vec<IpAddr>> = r.iter().map(|a| a.as_str()?.parse().ok()).collect();
        match ends.as_deref() {
            Some([IpAddr::V4(low), IpAddr::V4(high)]) => {
                u32::from(*low) == 0 && u32::from(*high) == u32::MAX
            }
            Some([IpAddr::V6(low), IpAddr::V6(high)]) => {
                u128::from(*low) == 0 && u128::from(*high) == u128::MAX
            }
            _ => false,
        }
    };
    elements.iter().any(|e| {
        e.get("prefix").and_then(|p| p.get("len")?.as_u64()) == Some(0)
            || e.get("range")
                .and_then(Value::as_array)
                .is_some_and(whole_range)
    })
}

/// A rule that accepts a whole class of traffic (see [`Verdict::AcceptAllOf`]):
/// `Some(verdict)` when its matches are all [`whole_class`] ones (the verdict
/// `None` when one matches no packet of `ip`'s family, or it does not accept);
/// `None` when it has another match, or none.
fn accepts_a_whole_class(exprs: &[Value], ip: Ip, public: &[String]) -> Option<Option<Verdict>> {
    let mut classes = Vec::new();
    let mut accepts = false;
    for e in exprs.iter().filter(|e| family_selector(e, ip).is_none()) {
        if let Some(class) = whole_class(e, ip, public) {
            classes.push(class);
        } else if e.get("accept").is_some() {
            accepts = true;
        } else if !is_passive(e) {
            return None;
        }
    }
    let first = *classes.first()?;
    if !accepts || classes.contains(&None) {
        return Some(None);
    }
    Some(first.map(Verdict::AcceptAllOf))
}

/// Add iptables-legacy's INPUT chain of one family to `p`. The kernel lists the
/// legacy tables of this network namespace in /proc/net/ip{,6}_tables_names; when
/// there is no `filter` table there, nothing is filtered there, and the program
/// is not run: it would make the table (and load its module) just to list it.
fn add_legacy(p: &mut FamilyPolicy, legacy: &Legacy, public: &[String]) {
    match std::fs::read_to_string(legacy.tables) {
        Ok(names) if names.lines().any(|l| l.trim() == "filter") => {}
        Ok(_) => return,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
        Err(e) => {
            p.unread = Some(format!("cannot read {}: {e}", legacy.tables));
            return;
        }
    }
    match run_program(legacy.program, &["-S", "INPUT"]) {
        Ok(out) if out.success => p.add(&legacy_input(legacy.program, &out.stdout, public)),
        Ok(out) => {
            p.unread = Some(format!(
                "{} -S INPUT failed: {}",
                legacy.program,
                out.stderr.trim()
            ))
        }
        Err(e) => p.unread = Some(format!("{} has a filter table, but {e}", legacy.tables)),
    }
}

/// Read `PROGRAM -S INPUT` output: the `-P INPUT POLICY` line and the rules
/// (`-A INPUT ... -j TARGET`), numbered as `PROGRAM -D INPUT N` takes them.
fn legacy_input(program: &str, rules: &str, public: &[String]) -> ChainReading {
    let policy = rules
        .lines()
        .find_map(|l| l.strip_prefix("-P INPUT "))
        .map_or("ACCEPT", str::trim);
    let head = format!("{program} filter INPUT: policy {policy}");
    let verdicts: Vec<Option<Verdict>> = rules
        .lines()
        .filter(|l| l.starts_with("-A INPUT "))
        .map(|rule| legacy_verdict(rule, public))
        .collect();
    judge(head, policy == "DROP", &verdicts, |i| {
        format!("`{program} -D INPUT {}`", i + 1)
    })
}

/// What an `-A INPUT ...` rule does with every packet. iptables prints the
/// matches before the target, so a rule whose first option is `-j` has no match;
/// `-m comment --comment TEXT` before it matches every packet and changes
/// nothing (an accept-all rule with a comment still accepts all).
fn legacy_verdict(rule: &str, public: &[String]) -> Option<Verdict> {
    let words = save_words(rule)?;
    let [append, chain, rest @ ..] = words.as_slice() else {
        return None;
    };
    if append != "-A" || chain != "INPUT" {
        return None;
    }
    let mut rest = rest;
    // the whole class of traffic the rule's matches leave (see Verdict::AcceptAllOf)
    let mut class = None;
    loop {
        match rest {
            [m, name, tail @ ..] if m == "-m" && name == "comment" => rest = tail,
            [option, _text, tail @ ..] if option == "--comment" => rest = tail,
            // `-p tcp` loads the tcp match, which `-S` prints as `-m tcp`
            [m, name, tail @ ..] if m == "-m" && matches!(name.as_str(), "tcp" | "udp") => {
                rest = tail
            }
            [p, proto, tail @ ..] if p == "-p" => {
                class = Some(match proto.as_str() {
                    "tcp" | "6" => "TCP packet",
                    "udp" | "17" => "UDP packet",
                    _ => return None,
                });
                rest = tail;
            }
            [port, ports, tail @ ..] if port == "--dport" || port == "--sport" => {
                legacy_every_port(ports)?;
                rest = tail;
            }
            [m, multiport, option, ports, tail @ ..]
                if m == "-m"
                    && multiport == "multiport"
                    && matches!(option.as_str(), "--dports" | "--sports" | "--ports") =>
            {
                legacy_every_port(ports)?;
                rest = tail;
            }
            [address, any, tail @ ..]
                if (address == "-s" || address == "-d") && any.ends_with("/0") =>
            {
                rest = tail
            }
            // the interface of a default route (or every one but some others)
            [i, name, tail @ ..]
                if i == "-i" && takes_a_public_interface(&[name], false, public) =>
            {
                class = class.or(Some(ON_PUBLIC_INTERFACE));
                rest = tail;
            }
            [not, i, name, tail @ ..]
                if not == "!" && i == "-i" && takes_a_public_interface(&[name], true, public) =>
            {
                class = class.or(Some(ON_PUBLIC_INTERFACE));
                rest = tail;
            }
            [m, module, option, states, tail @ ..]
                if m == "-m"
                    && matches!(
                        (module.as_str(), option.as_str()),
                        ("conntrack", "--ctstate") | ("state", "--state")
                    ) =>
            {
                if !states.split(',').any(|s| s == "NEW") {
                    return None;
                }
                class = class.or(Some("new connection"));
                rest = tail;
            }
            [j, target, ..] if j == "-j" => {
                return match (target.as_str(), class) {
                    ("ACCEPT", Some(class)) => Some(Verdict::AcceptAllOf(class)),
                    ("ACCEPT", None) => Some(Verdict::Accept),
                    // a drop of one class denies only that class
                    (_, Some(_)) => None,
                    ("DROP" | "REJECT", None) => Some(Verdict::Deny),
                    _ => None,
                };
            }
            _ => return None,
        }
    }
}

/// `Some(())` when iptables' port list `ports` (`1:1000,1001:65535`, as `-S`
/// prints `--dport` and multiport's `--dports`) covers every port.
fn legacy_every_port(ports: &str) -> Option<()> {
    let spans = ports
        .split(',')
        .map(|span| {
            let (low, high) = span.split_once(':').unwrap_or((span, span));
            Some((low.parse().ok()?, high.parse().ok()?))
        })
        .collect::<Option<Vec<(u64, u64)>>>()?;
    spans_cover_every_port(spans).then_some(())
}

/// The words of an `iptables -S` line. iptables quotes a value that has spaces
/// or quotes in double quotes, escaping `"` and `\` with a backslash
/// (`--comment "allow \"all\""`). None for a quote left open.
fn save_words(line: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let Some(&first) = chars.peek() else {
            return Some(words);
        };
        let mut word = String::new();
        if first == '"' {
            chars.next();
            loop {
                match chars.next()? {
                    '"' => break,
                    '\\' => word.push(chars.next()?),
                    c => word.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                word.push(c);
            }
        }
        words.push(word);
    }
}

fn ufw_denies(status: &str) -> bool {
    status.contains("Status: active")
        && status.lines().any(|l| {
            l.starts_with("Default:")
                && (l.contains("deny (incoming)") || l.contains("reject (incoming)"))
        })
}

fn from_ufw(status: &str) -> Finding {
    let default = status
        .lines()
        .find(|l| l.starts_with("Default:"))
        .unwrap_or("no default policy shown");
    let state = status
        .lines()
        .find(|l| l.starts_with("Status:"))
        .unwrap_or("Status: unknown");
    let seen = format!("ufw {state}, {default}");
    if ufw_denies(status) {
        Finding::pass(seen)
    } else {
        Finding::fail(seen, FIX)
    }
}

/// Whether the host has an IPv6 address outside loopback and link-local.
fn has_global_ipv6() -> bool {
    std::fs::read_to_string("/proc/net/if_inet6").is_ok_and(|text| {
        text.lines().any(|l| {
            let addr = l.split_whitespace().next().unwrap_or("");
            addr != "00000000000000000000000000000001" && !addr.starts_with("fe80")
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_drop_policy_or_a_final_drop_rule_denies() {
        let ruleset = r#"{"nftables": [
          {"metainfo": {"version": "1.0.6"}},
          {"chain": {"family": "inet", "table": "f2b-table", "name": "f2b-chain", "hook": "input", "prio": -1, "policy": "accept", "type": "filter"}},
          {"chain": {"family": "ip", "table": "filter", "name": "INPUT", "hook": "input", "prio": 0, "policy": "drop", "type": "filter"}},
          {"chain": {"family": "ip6", "table": "filter", "name": "INPUT", "hook": "input", "prio": 0, "policy": "accept", "type": "filter"}},
          {"rule": {"family": "ip6", "table": "filter", "chain": "INPUT", "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 22}}, {"accept": null}]}},
          {"rule": {"family": "ip6", "table": "filter", "chain": "INPUT", "expr": [{"counter": {"packets": 0, "bytes": 0}}, {"reject": null}]}}
        ]}"#;
        let (v4, v6) = input_policies(ruleset, &|_| None, &[]).unwrap();
        assert!(v4.denies && v6.denies, "{v4:?} {v6:?}");
        assert_eq!(v4.chains.len(), 2);
        assert!(v6.chains[1].contains("last rule drops"));
    }

    #[test]
    fn accept_everywhere_or_no_chain_accepts() {
        let ruleset = r#"{"nftables": [
          {"chain": {"family": "inet", "table": "filter", "name": "input", "hook": "input", "prio": 0, "policy": "accept", "type": "filter"}},
          {"rule": {"family": "inet", "table": "filter", "chain": "input", "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 25}}, {"drop": null}]}}
        ]}"#;
        let (v4, v6) = input_policies(ruleset, &|_| None, &[]).unwrap();
        assert!(!v4.denies && !v6.denies);
        let (v4, _) = input_policies(r#"{"nftables": []}"#, &|_| None, &[]).unwrap();
        assert_eq!(v4, FamilyPolicy::default());
        assert!(describe(&v4, &v4, false).contains("no input chain"));
        // a family left out is said to be left out
        assert!(describe(&v4, &v4, false)
            .ends_with("IPv6 not checked: this host has no global IPv6 address"));
        assert!(!describe(&v4, &v4, true).contains("not checked"));
    }

    #[test]
    fn a_rule_accepting_everything_undoes_a_drop_policy() {
        let ruleset = r#"{"nftables": [
          {"chain": {"family": "inet", "table": "filter", "name": "input", "hook": "input", "prio": 0, "policy": "drop", "type": "filter"}},
          {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 4, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 22}}, {"accept": null}]}},
          {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 5, "expr": [{"counter": {"packets": 0, "bytes": 0}}, {"accept": null}]}},
          {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 6, "expr": [{"drop": null}]}}
        ]}"#;
        let (v4, v6) = input_policies(ruleset, &|_| None, &[]).unwrap();
        assert!(!v4.denies && !v6.denies, "{v4:?}");
        assert_eq!(
            v4.chains,
            ["inet filter input: policy drop, but rule 2 accepts every packet"]
        );
        assert_eq!(
            v4.accept_all,
            ["`nft delete rule inet filter input handle 5`"]
        );
        // A jump is not evaluated: it decides nothing here.
        let jump = r#"{"nftables": [
          {"chain": {"family": "ip", "table": "t", "name": "in", "hook": "input", "policy": "drop"}},
          {"rule": {"family": "ip", "table": "t", "chain": "in", "expr": [{"jump": {"target": "other"}}]}}
        ]}"#;
        let (v4, _) = input_policies(jump, &|_| None, &[]).unwrap();
        assert!(v4.denies && v4.accept_all.is_empty(), "{v4:?}");
    }

    #[test]
    fn iptables_legacy_input_is_read() {
        let drop = legacy_input(
            "iptables-legacy",
            "-P INPUT DROP\n-A INPUT -i lo -j ACCEPT\n",
            &[],
        );
        assert!(drop.denies);
        assert_eq!(drop.seen, "iptables-legacy filter INPUT: policy DROP");
        let open = legacy_input(
            "iptables-legacy",
            "-P INPUT DROP\n-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n-A INPUT -j ACCEPT\n",
            &[],
        );
        assert!(!open.denies);
        assert!(
            open.seen.ends_with("rule 2 accepts every packet"),
            "{}",
            open.seen
        );
        assert_eq!(
            open.removal.as_deref(),
            Some("`iptables-legacy -D INPUT 2`")
        );
        let reject = legacy_input(
            "ip6tables-legacy",
            "-P INPUT ACCEPT\n-A INPUT -j REJECT --reject-with icmp6-port-unreachable\n",
            &[],
        );
        assert!(reject.denies, "{}", reject.seen);
        assert!(!legacy_input("iptables-legacy", "-P INPUT ACCEPT\n", &[]).denies);
    }

    /// A drop policy undone by a rule whose match covers a whole class of
    /// traffic (all TCP, every new connection) was a PASS: only rules with no
    /// match at all were seen as accepting. The rules are made by the real nft.
    #[test]
    fn a_rule_accepting_a_whole_class_of_traffic_undoes_the_drop_policy() {
        let Some(ns) = Netns::new("nft_class", &["ip", "nft"]) else {
            return;
        };
        let chain = |rule: &str| {
            ns.fresh_inet_input_dropping();
            let mut words = vec![
                "add", "rule", "inet", "filter", "input", "iif", "lo", "accept",
            ];
            ns.run("nft", &words);
            words.truncate(5);
            words.extend(rule.split_whitespace());
            ns.run("nft", &words);
            input_policies(&ns.run("nft", &["-j", "list", "ruleset"]), &|_| None, &[]).unwrap()
        };
        let head = "inet filter input: policy drop, but rule 2 accepts every";
        for (rule, v4_class, v6_class) in [
            (
                "tcp dport 0-65535 accept",
                Some("TCP packet"),
                Some("TCP packet"),
            ),
            (
                "th dport 1-65535 counter accept",
                Some("TCP or UDP packet"),
                Some("TCP or UDP packet"),
            ),
            (
                "meta l4proto udp accept",
                Some("UDP packet"),
                Some("UDP packet"),
            ),
            ("ip protocol tcp accept", Some("TCP packet"), None),
            ("ip saddr 0.0.0.0/0 accept", Some("IPv4 packet"), None),
            ("ip6 saddr ::/0 accept", None, Some("IPv6 packet")),
            (
                "ct state new,established,related accept",
                Some("new connection"),
                Some("new connection"),
            ),
            (
                "meta pkttype host accept",
                Some("packet addressed to this host"),
                Some("packet addressed to this host"),
            ),
            // The same classes written with sets.
            (
                "meta l4proto { tcp, udp } accept",
                Some("TCP or UDP packet"),
                Some("TCP or UDP packet"),
            ),
            (
                "meta l4proto { icmp, tcp } accept",
                Some("TCP packet"),
                Some("TCP packet"),
            ),
            (
                "ct state { new, established } accept",
                Some("new connection"),
                Some("new connection"),
            ),
            (
                "tcp dport { 1-1000, 1001-65535 } accept",
                Some("TCP packet"),
                Some("TCP packet"),
            ),
            (
                "udp dport { 1-1000, 999-40000, 40001-65535, 53 } accept",
                Some("UDP packet"),
                Some("UDP packet"),
            ),
            (
                "ip protocol { tcp, udp } accept",
                Some("TCP or UDP packet"),
                None,
            ),
            ("ip6 nexthdr { udp } accept", None, Some("UDP packet")),
            (
                "ip saddr { 0.0.0.0/1, 128.0.0.0/1 } accept",
                Some("IPv4 packet"),
                None,
            ),
            (
                "ip saddr 0.0.0.0-255.255.255.255 accept",
                Some("IPv4 packet"),
                None,
            ),
            // A whole family, every connection state but one that is not new, all
            // but a few ports or addresses, every SYN: each passed before.
            ("ip version 4 accept", Some("packet"), None),
            ("ip6 version 6 accept", None, Some("packet")),
            (
                "ct state != invalid accept",
                Some("new connection"),
                Some("new connection"),
            ),
            (
                "tcp dport != 22 accept",
                Some("TCP packet but to or from the ports it names"),
                Some("TCP packet but to or from the ports it names"),
            ),
            (
                "ip saddr != 10.0.0.1 accept",
                Some("IPv4 packet but to or from the addresses it names"),
                None,
            ),
            (
                "tcp flags syn accept",
                Some("TCP connection attempt (SYN)"),
                Some("TCP connection attempt (SYN)"),
            ),
            (
                "tcp flags & (syn | ack) == syn accept",
                Some("TCP connection attempt (SYN)"),
                Some("TCP connection attempt (SYN)"),
            ),
        ] {
            let (v4, v6) = chain(rule);
            for (family, class) in [(&v4, v4_class), (&v6, v6_class)] {
                match class {
                    Some(class) => {
                        assert!(!family.denies, "{rule}: {family:?}");
                        assert_eq!(family.chains, [format!("{head} {class}")], "{rule}");
                        assert_eq!(family.accept_all.len(), 1, "{rule}");
                    }
                    None => assert!(family.denies, "{rule}: the other family: {family:?}"),
                }
            }
        }
        // a part of a class, or a class dropped, decides nothing for every packet
        for rule in [
            "tcp dport 1024-65535 accept",
            "ct state established,related accept",
            "meta l4proto icmp accept",
            "ip saddr 10.0.0.0/8 accept",
            "tcp dport 0-65535 drop",
            "tcp dport { 1-1000, 1002-65535 } accept",
            "meta l4proto { icmp, ipv6-icmp } accept",
            "ct state { established, related } accept",
            "ip saddr { 10.0.0.0/8, 192.168.0.0/16 } accept",
            "ct state != new accept",
            "tcp dport != 22 drop",
            "ip version != 4 accept",
        ] {
            let (v4, v6) = chain(rule);
            assert!(v4.denies && v6.denies, "{rule}: {v4:?} {v6:?}");
        }
    }

    /// An accept of every packet arriving on the default route's interface accepts
    /// the Internet's; on another interface (a LAN's), it decides nothing here.
    /// The routes are the kernel's, in a namespace with a default route (IPv4 and
    /// IPv6) on `v0` and none on its peer `v1`; the rules are made by the real nft
    /// and iptables-legacy.
    #[test]
    fn accepting_the_default_routes_interface_undoes_the_drop_policy() {
        let Some(ns) = Netns::new("iif", &["ip", "nft", "iptables-legacy"]) else {
            return;
        };
        for command in [
            "ip link add v0 type veth peer name v1",
            "ip link set v0 up",
            "ip link set v1 up",
            "ip addr add 192.0.2.2/24 dev v0",
            "ip route add default via 192.0.2.1 dev v0",
            "ip -6 addr add 2001:db8::2/64 dev v0 nodad",
            "ip -6 route add default via 2001:db8::1 dev v0",
        ] {
            let words: Vec<&str> = command.split_whitespace().collect();
            ns.run(words[0], &words[1..]);
        }
        let routes = |path: &str| ns.run("cat", &[path]);
        let public = default_routes_in(&routes("/proc/net/route"), &routes("/proc/net/ipv6_route"));
        assert_eq!(public, ["v0"]);
        let head = "policy drop, but rule 1 accepts every";
        for (rule, open) in [
            ("iifname \"v0\" accept", true),
            ("iifname { \"v0\" } counter accept", true),
            ("iifname \"v1\" accept", false),
            ("iifname { \"v0\", \"v1\" } accept", true),
            ("iifname != \"lo\" accept", true),
            ("iifname != \"v0\" accept", false),
            ("iifname \"v0\" drop", false),
        ] {
            ns.fresh_inet_input_dropping();
            let mut words = vec!["add", "rule", "inet", "filter", "input"];
            words.extend(rule.split_whitespace());
            ns.run("nft", &words);
            let json = ns.run("nft", &["-j", "list", "ruleset"]);
            let (v4, v6) = input_policies(&json, &|_| None, &public).unwrap();
            for family in [&v4, &v6] {
                assert_eq!(!family.denies, open, "{rule}: {family:?}");
            }
            if open {
                let seen = format!("inet filter input: {head} {ON_PUBLIC_INTERFACE}");
                assert_eq!(v4.chains, [seen], "{rule}");
            }
        }
        ns.run("nft", &["flush", "ruleset"]);
        for (rule, open) in [
            ("-i v0 -j ACCEPT", true),
            ("! -i lo -j ACCEPT", true),
            ("-i v0 -p tcp -j ACCEPT", true),
            ("-i v1 -j ACCEPT", false),
            ("! -i v0 -j ACCEPT", false),
            ("-i v0 -j DROP", false),
        ] {
            let rules = ns.legacy_input_dropping_but(rule);
            let chain = legacy_input("iptables-legacy", &rules, &public);
            assert_eq!(!chain.denies, open, "{rule}: {rules}");
            if rule == "-i v0 -j ACCEPT" {
                let seen = format!("iptables-legacy filter INPUT: policy DROP, but rule 1 accepts every {ON_PUBLIC_INTERFACE}");
                assert_eq!(chain.seen, seen);
            }
        }
    }

    /// Debian's `iptables` is iptables-nft, whose matches nft shows as `xt`
    /// expressions without their options: `--ctstate NEW` and a multiport list of
    /// every port were read as matching nothing, and a drop policy they undo was a
    /// PASS. Such a chain is now read as iptables-nft prints it.
    #[test]
    fn iptables_nft_rules_accepting_a_whole_class_undo_the_drop_policy() {
        let Some(ns) = Netns::new("nft_xt", &["ip", "nft", "iptables-nft"]) else {
            return;
        };
        for (rule, class) in [
            (
                "-m conntrack --ctstate NEW -j ACCEPT",
                Some("new connection"),
            ),
            (
                "-m state --state NEW,ESTABLISHED -j ACCEPT",
                Some("new connection"),
            ),
            (
                "-p tcp -m multiport --dports 1:1000,1001:65535 -j ACCEPT",
                Some("TCP packet"),
            ),
            ("-m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT", None),
            ("-p tcp -m multiport --dports 22,80 -j ACCEPT", None),
        ] {
            let ipt = |args: &[&str]| ns.run("iptables-nft", args);
            ipt(&["-F", "INPUT"]);
            ipt(&["-P", "INPUT", "DROP"]);
            ipt(&["-A", "INPUT", "-i", "lo", "-j", "ACCEPT"]);
            let mut args = vec!["-A", "INPUT"];
            args.extend(rule.split_whitespace());
            ipt(&args);
            let json = ns.run("nft", &["-j", "list", "ruleset"]);
            let saved =
                |family: &str| (family == "ip").then(|| appended_rules(&ipt(&["-S", "INPUT"])));
            let (v4, _) = input_policies(&json, &saved, &[]).unwrap();
            match class {
                Some(class) => {
                    assert!(!v4.denies, "{rule}: {v4:?}");
                    let seen =
                        format!("ip filter INPUT: policy drop, but rule 2 accepts every {class}");
                    assert_eq!(v4.chains, [seen], "{rule}");
                }
                None => assert!(v4.denies, "{rule}: {v4:?}"),
            }
            // without iptables-nft's view, its matches decide nothing (as before)
            let (blind, _) = input_policies(&json, &|_| None, &[]).unwrap();
            assert!(blind.denies, "{rule}: {blind:?}");
        }
    }

    #[test]
    fn legacy_rules_accepting_a_whole_class_undo_the_drop_policy() {
        // the rules as the real iptables-legacy prints them back (`-S INPUT`)
        let Some(ns) = Netns::new("legacy_class", &["ip", "iptables-legacy"]) else {
            return;
        };
        let chain_with = |rule: &str| {
            let rules = ns.legacy_input_dropping_but(rule);
            (legacy_input("iptables-legacy", &rules, &[]), rules)
        };
        for (rule, class) in [
            ("-p tcp -j ACCEPT", "TCP packet"),
            ("-p udp --dport 0:65535 -j ACCEPT", "UDP packet"),
            (
                "-m conntrack --ctstate NEW,RELATED,ESTABLISHED -j ACCEPT",
                "new connection",
            ),
            ("-m state --state NEW -j ACCEPT", "new connection"),
            (
                "-p tcp -m multiport --dports 1:1000,1001:65535 -j ACCEPT",
                "TCP packet",
            ),
        ] {
            let (chain, rules) = chain_with(rule);
            assert!(!chain.denies, "{rule}: {rules}");
            assert!(
                chain
                    .seen
                    .ends_with(&format!("rule 1 accepts every {class}")),
                "{}: {rules}",
                chain.seen
            );
            assert_eq!(
                chain.removal.as_deref(),
                Some("`iptables-legacy -D INPUT 1`")
            );
        }
        let (accept_all, rules) = chain_with("-s 0.0.0.0/0 -j ACCEPT");
        assert!(
            accept_all.seen.ends_with("rule 1 accepts every packet"),
            "{}: {rules}",
            accept_all.seen
        );
        for rule in [
            "-p tcp --dport 22 -j ACCEPT",
            "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
            "-p tcp --dport 1024:65535 -j ACCEPT",
            "-p tcp -j DROP",
            "-p icmp -j ACCEPT",
            "-p tcp -m multiport --dports 1:1000,1002:65535 -j ACCEPT",
            "-p udp -m multiport --dports 53,123 -j ACCEPT",
        ] {
            let (chain, rules) = chain_with(rule);
            assert!(chain.denies, "{rule}: {} ({rules})", chain.seen);
        }
    }

    /// A network namespace made for one test and deleted on drop, so that the
    /// rules below are made by the real tools and read back as they print them,
    /// without touching the host's firewall.
    struct Netns(String);

    impl Netns {
        /// Only `table inet filter` with an input chain of policy drop, made anew.
        fn fresh_inet_input_dropping(&self) {
            self.run("nft", &["flush", "ruleset"]);
            self.run("nft", &["add", "table", "inet", "filter"]);
            let chain = "{ type filter hook input priority 0; policy drop; }";
            self.run("nft", &["add", "chain", "inet", "filter", "input", chain]);
        }

        /// iptables-legacy's INPUT chain made anew with policy DROP and `rule`
        /// alone, as `iptables-legacy -S INPUT` prints it back.
        fn legacy_input_dropping_but(&self, rule: &str) -> String {
            let ipt = |args: &[&str]| self.run("iptables-legacy", args);
            ipt(&["-F", "INPUT"]);
            ipt(&["-P", "INPUT", "DROP"]);
            let mut args = vec!["-A", "INPUT"];
            args.extend(rule.split_whitespace());
            ipt(&args);
            ipt(&["-S", "INPUT"])
        }

        /// None, after saying why the test is skipped, when this is not root or
        /// a tool is missing.
        fn new(test: &str, tools: &[&str]) -> Option<Netns> {
            let missing: Vec<&str> = tools
                .iter()
                .copied()
                .filter(|t| {
                    std::process::Command::new(t)
                        .arg("--version")
                        .output()
                        .is_err()
                })
                .collect();
            // SAFETY: geteuid has no preconditions and cannot fail.
            if unsafe { libc::geteuid() } != 0 || !missing.is_empty() {
                eprintln!("SKIPPED {test}: needs root and {tools:?} (missing: {missing:?})");
                return None;
            }
            let name = format!("fbfw-{}-{test:.20}", std::process::id());
            let added = std::process::Command::new("ip")
                .args(["netns", "add", &name])
                .status();
            if !added.is_ok_and(|s| s.success()) {
                eprintln!("SKIPPED {test}: cannot create a network namespace");
                return None;
            }
            Some(Netns(name))
        }

        /// The output of `program args` run in the namespace; it must succeed.
        fn run(&self, program: &str, args: &[&str]) -> String {
            let out = std::process::Command::new("ip")
                .args(["netns", "exec", &self.0, program])
                .args(args)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{program} {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).into_owned()
        }
    }

    impl Drop for Netns {
        fn drop(&mut self) {
            let _ = std::process::Command::new("ip")
                .args(["netns", "del", &self.0])
                .status();
        }
    }

    /// An iptables rule with no match but a comment: it accepts every packet.
    const ACCEPT_ALL_WITH_A_COMMENT: &[&str] = &[
        "-A",
        "INPUT",
        "-m",
        "comment",
        "--comment",
        "allow all",
        "-j",
        "ACCEPT",
    ];

    #[test]
    fn a_commented_accept_all_rule_in_iptables_legacy_accepts_all() {
        let test = "legacy_comment";
        let Some(ns) = Netns::new(test, &["ip", "iptables-legacy"]) else {
            return;
        };
        let ipt = |args: &[&str]| ns.run("iptables-legacy", args);
        ipt(&["-P", "INPUT", "DROP"]);
        // A match and a comment: it decides only for port 22.
        ipt(&["-A", "INPUT", "-p", "tcp", "--dport", "22"]);
        ipt(&[
            "-A",
            "INPUT",
            "-p",
            "tcp",
            "--dport",
            "22",
            "-m",
            "comment",
            "--comment",
            "ssh",
            "-j",
            "ACCEPT",
        ]);
        ipt(ACCEPT_ALL_WITH_A_COMMENT);
        let rules = ipt(&["-S", "INPUT"]);
        assert!(
            rules.contains("-A INPUT -m comment --comment \"allow all\" -j ACCEPT"),
            "{rules}"
        );
        let open = legacy_input("iptables-legacy", &rules, &[]);
        assert!(!open.denies, "{rules}");
        assert_eq!(
            open.seen,
            "iptables-legacy filter INPUT: policy DROP, but rule 3 accepts every packet"
        );
        assert_eq!(
            open.removal.as_deref(),
            Some("`iptables-legacy -D INPUT 3`")
        );
        // A comment with quotes and a backslash, on a rule that drops.
        ipt(&["-F", "INPUT"]);
        ipt(&["-P", "INPUT", "ACCEPT"]);
        ipt(&["-A", "INPUT", "-i", "lo", "-j", "ACCEPT"]);
        ipt(&[
            "-A",
            "INPUT",
            "-m",
            "comment",
            "--comment",
            "drop \"all\" \\ else",
            "-j",
            "DROP",
        ]);
        let rules = ipt(&["-S", "INPUT"]);
        let closed = legacy_input("iptables-legacy", &rules, &[]);
        assert!(closed.denies, "{rules}");
        assert_eq!(
            closed.seen,
            "iptables-legacy filter INPUT: policy ACCEPT, last rule drops"
        );
        let words = rules.lines().last().and_then(save_words);
        assert_eq!(
            words.as_deref().and_then(|w| w.get(5)).map(String::as_str),
            Some("drop \"all\" \\ else"),
            "{rules}"
        );
    }

    #[test]
    fn a_commented_accept_all_rule_in_nftables_accepts_all() {
        let test = "nft_comment";
        let Some(ns) = Netns::new(test, &["ip", "nft", "iptables-nft"]) else {
            return;
        };
        // iptables-nft keeps `-m comment` as an xtables match in nftables.
        let ipt = |args: &[&str]| ns.run("iptables-nft", args);
        ipt(&["-P", "INPUT", "DROP"]);
        ipt(&[
            "-A",
            "INPUT",
            "-m",
            "recent",
            "--rcheck",
            "--name",
            "t",
            "-m",
            "comment",
            "--comment",
            "x",
            "-j",
            "ACCEPT",
        ]);
        ipt(ACCEPT_ALL_WITH_A_COMMENT);
        let ruleset = ns.run("nft", &["-j", "list", "ruleset"]);
        assert!(ruleset.contains(r#""name": "comment""#), "{ruleset}");
        let (v4, v6) = input_policies(&ruleset, &|_| None, &[]).unwrap();
        assert!(!v4.denies, "{v4:?}\n{ruleset}");
        assert_eq!(
            v4.chains,
            ["ip filter INPUT: policy drop, but rule 2 accepts every packet"],
            "{ruleset}"
        );
        assert_eq!(v4.accept_all.len(), 1);
        assert!(
            v4.accept_all[0].starts_with("`nft delete rule ip filter INPUT handle "),
            "{v4:?}"
        );
        assert_eq!(v6, FamilyPolicy::default());
        // nft's own comment, on a rule that only counts and accepts.
        ns.fresh_inet_input_dropping();
        ns.run(
            "nft",
            &[
                "add", "rule", "inet", "filter", "input", "counter", "accept", "comment", "\"all\"",
            ],
        );
        let ruleset = ns.run("nft", &["-j", "list", "ruleset"]);
        assert!(ruleset.contains(r#""comment": "all""#), "{ruleset}");
        let (v4, v6) = input_policies(&ruleset, &|_| None, &[]).unwrap();
        assert!(!v4.denies && !v6.denies, "{v4:?}\n{ruleset}");
        assert_eq!(
            v6.chains,
            ["inet filter input: policy drop, but rule 1 accepts every packet"]
        );
    }

    // Before, an inet chain with policy drop and `meta nfproto ipv6 accept` passed
    // as "IPv6 denies by default".
    #[test]
    fn a_rule_accepting_one_family_undoes_the_drop_policy_for_that_family() {
        let Some(ns) = Netns::new("nft_family", &["ip", "nft"]) else {
            return;
        };
        ns.fresh_inet_input_dropping();
        let rule = |words: &[&str]| {
            let mut args = vec!["add", "rule", "inet", "filter", "input"];
            args.extend(words);
            ns.run("nft", &args);
        };
        rule(&["meta", "nfproto", "ipv4", "tcp", "dport", "22", "accept"]);
        rule(&["meta", "nfproto", "ipv6", "counter", "accept"]);
        let ruleset = ns.run("nft", &["-j", "list", "ruleset"]);
        let (v4, v6) = input_policies(&ruleset, &|_| None, &[]).unwrap();
        assert!(v4.denies, "{v4:?}\n{ruleset}");
        assert_eq!(v4.chains, ["inet filter input: policy drop"], "{ruleset}");
        assert!(!v6.denies, "{v6:?}\n{ruleset}");
        assert_eq!(
            v6.chains,
            ["inet filter input: policy drop, but rule 2 accepts every packet"],
            "{ruleset}"
        );
        assert!(
            v6.accept_all[0].starts_with("`nft delete rule inet filter input handle "),
            "{v6:?}"
        );
    }

    #[test]
    fn iptables_save_words_are_unquoted() {
        assert_eq!(
            save_words(r#"-A INPUT -m comment --comment "a \"b\" \\c" -j ACCEPT"#),
            Some(
                [
                    "-A",
                    "INPUT",
                    "-m",
                    "comment",
                    "--comment",
                    r#"a "b" \c"#,
                    "-j",
                    "ACCEPT"
                ]
                .map(String::from)
                .to_vec()
            )
        );
        assert_eq!(save_words(r#"-A INPUT --comment "open"#), None);
        assert_eq!(legacy_verdict(r#"-A INPUT --comment "open"#, &[]), None);
        // No text, still a match of every packet.
        assert_eq!(
            legacy_verdict("-A INPUT -m comment -j ACCEPT", &[]),
            Some(Verdict::Accept)
        );
        assert_eq!(legacy_verdict("-A OTHER -j ACCEPT", &[]), None);
        assert_eq!(legacy_verdict("-A INPUT -j LOG", &[]), None);
    }

    #[test]
    fn ufw_status_is_read() {
        let active = "Status: active\nLogging: on (low)\nDefault: deny (incoming), allow (outgoing), disabled (routed)\n";
        assert_eq!(from_ufw(active).status, super::super::Status::Pass);
        let open = "Status: active\nDefault: allow (incoming), allow (outgoing)\n";
        assert_eq!(from_ufw(open).status, super::super::Status::Fail);
        assert_eq!(
            from_ufw("Status: inactive\n").status,
            super::super::Status::Fail
        );
    }
}
