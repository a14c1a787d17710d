//! `firewall-default-policy`: does the firewall deny incoming traffic by default?
//!
//! Reads the nftables ruleset (`nft -j list ruleset`), where iptables-nft and ufw
//! rules also show, and `ufw status verbose` when nftables does not deny. A
//! family denies by default when one of its input base chains has policy drop or
//! ends in an unconditional drop or reject: the packet must pass every base chain
//! of the hook. IPv6 counts only when the host has a non-loopback IPv6 address.

use serde_json::Value;

use super::{run_program, Finding};

const FIX: &str = "deny incoming by default and allow only the services you run: \
                   `ufw default deny incoming` or an nftables input chain with `policy drop;` \
                   (see examples/vps-hardening/README.md)";

/// The input chains of one address family, as seen.
#[derive(Debug, Default, PartialEq)]
struct FamilyPolicy {
    /// `family table chain: policy` of every input base chain.
    chains: Vec<String>,
    /// Whether one of them denies by default.
    denies: bool,
}

pub fn default_policy() -> Finding {
    let nft = run_program("nft", &["-j", "list", "ruleset"]);
    let ufw = || run_program("ufw", &["status", "verbose"]);
    let (v4, v6) = match &nft {
        Ok(out) if out.success => match input_policies(&out.stdout) {
            Ok(p) => p,
            Err(e) => return Finding::skip(format!("cannot read nft's ruleset: {e}")),
        },
        Ok(out) => {
            return match ufw() {
                Ok(u) if u.success => from_ufw(&u.stdout),
                _ => Finding::skip(format!(
                    "nft list ruleset failed: {} (run the audit as root)",
                    out.stderr.trim()
                )),
            }
        }
        Err(nft_error) => {
            return match ufw() {
                Ok(u) if u.success => from_ufw(&u.stdout),
                Ok(u) => Finding::skip(format!(
                    "{nft_error}; ufw status failed: {}",
                    u.stderr.trim()
                )),
                Err(ufw_error) => Finding::skip(format!("{nft_error}; {ufw_error}")),
            }
        }
    };
    let ipv6_matters = has_global_ipv6();
    if v4.denies && (v6.denies || !ipv6_matters) {
        return Finding::pass(describe(&v4, &v6, ipv6_matters));
    }
    // nftables accepts; ufw on iptables-legacy would not show there.
    if let Ok(u) = ufw() {
        if u.success && ufw_denies(&u.stdout) {
            return from_ufw(&u.stdout);
        }
    }
    Finding::fail(describe(&v4, &v6, ipv6_matters), FIX)
}

fn describe(v4: &FamilyPolicy, v6: &FamilyPolicy, ipv6_matters: bool) -> String {
    let one = |name: &str, p: &FamilyPolicy| {
        let verdict = if p.denies { "denies" } else { "accepts" };
        if p.chains.is_empty() {
            format!("{name}: no input chain, the kernel accepts")
        } else {
            format!("{name} {verdict} by default ({})", p.chains.join("; "))
        }
    };
    let mut text = one("IPv4", v4);
    if ipv6_matters {
        text.push_str(", ");
        text.push_str(&one("IPv6", v6));
    }
    text
}

/// The input policies of IPv4 and IPv6 in `nft -j list ruleset` output.
fn input_policies(json: &str) -> Result<(FamilyPolicy, FamilyPolicy), String> {
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
        let last_rule_denies = last_rule(items, family, table, name).is_some_and(denies_all);
        let denies = policy == "drop" || last_rule_denies;
        let seen = if last_rule_denies && policy != "drop" {
            format!("{family} {table} {name}: policy {policy}, last rule drops")
        } else {
            format!("{family} {table} {name}: policy {policy}")
        };
        let targets: &mut [&mut FamilyPolicy] = match family {
            "ip" => &mut [&mut v4],
            "ip6" => &mut [&mut v6],
            "inet" => &mut [&mut v4, &mut v6],
            _ => &mut [],
        };
        for t in targets.iter_mut() {
            t.chains.push(seen.clone());
            t.denies |= denies;
        }
    }
    Ok((v4, v6))
}

/// The last rule of a chain (rules are listed in order after their chain).
fn last_rule<'a>(items: &'a [Value], family: &str, table: &str, chain: &str) -> Option<&'a Value> {
    items.iter().rev().filter_map(|i| i.get("rule")).find(|r| {
        r.get("family").and_then(Value::as_str) == Some(family)
            && r.get("table").and_then(Value::as_str) == Some(table)
            && r.get("chain").and_then(Value::as_str) == Some(chain)
    })
}

/// A rule with no match that drops or rejects (counters and logging allowed).
fn denies_all(rule: &Value) -> bool {
    let Some(exprs) = rule.get("expr").and_then(Value::as_array) else {
        return false;
    };
    let passive = |e: &Value| e.get("counter").is_some() || e.get("log").is_some();
    let verdict = |e: &Value| e.get("drop").is_some() || e.get("reject").is_some();
    exprs.iter().any(verdict) && exprs.iter().all(|e| passive(e) || verdict(e))
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
          {"rule": {"family": "ip6", "table": "filter", "chain": "INPUT", "expr": [{"match": {"op": "==", "left": {"meta": {"key": "l4proto"}}, "right": "tcp"}}, {"accept": null}]}},
          {"rule": {"family": "ip6", "table": "filter", "chain": "INPUT", "expr": [{"counter": {"packets": 0, "bytes": 0}}, {"reject": null}]}}
        ]}"#;
        let (v4, v6) = input_policies(ruleset).unwrap();
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
        let (v4, v6) = input_policies(ruleset).unwrap();
        assert!(!v4.denies && !v6.denies);
        let (v4, _) = input_policies(r#"{"nftables": []}"#).unwrap();
        assert_eq!(v4, FamilyPolicy::default());
        assert!(describe(&v4, &v4, false).contains("no input chain"));
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
