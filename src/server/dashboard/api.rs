//! The dashboard's questions, answered on the server thread as JSON.
//!
//! Reached through the control command `dashboard` (`["dashboard", "overview"]`,
//! `["dashboard", "bans", SEARCH, SORT, "asc"|"desc"]`, `["dashboard", "jail", NAME]`,
//! `["dashboard", "activity", "hour"|"day"|"week"]`), so the HTTP threads never
//! touch server state. Owns what the page is shown, not how: no markup here, and
//! every text goes out as a JSON string for the page to escape.

use std::collections::HashMap;
use std::net::IpAddr;

use ferroban_config::jail::Backend;
use ferroban_jail::Ban;
use serde_json::{json, Value};

use super::super::Server;
use super::activity::minute_of;

/// Addresses and networks in the top lists.
const TOP: usize = 10;
/// Rows of the bans table sent at most.
const BAN_ROWS: usize = 500;
/// Matched lines shown on a jail's page.
const RECENT_MATCHES: usize = 50;

/// A chart's time range: how many buckets of how many minutes, up to now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub name: &'static str,
    pub buckets: usize,
    pub step_minutes: i64,
    /// The label of the left end of the time axis.
    pub span: &'static str,
}

pub const RANGES: [Range; 3] = [
    Range {
        name: "hour",
        buckets: 60,
        step_minutes: 1,
        span: "-1h",
    },
    Range {
        name: "day",
        buckets: 96,
        step_minutes: 15,
        span: "-24h",
    },
    Range {
        name: "week",
        buckets: 168,
        step_minutes: 60,
        span: "-7d",
    },
];

pub fn range(name: &str) -> Option<Range> {
    RANGES.into_iter().find(|r| r.name == name)
}

/// Answer one `dashboard` command.
pub fn execute(server: &mut Server, words: &[&str]) -> Result<Value, String> {
    match words {
        ["overview"] => overview(server),
        ["bans", search, key, desc] => bans(server, search, key, desc),
        ["jail", name] => jail(server, name),
        ["activity", name] => {
            let r = range(name).ok_or_else(|| format!("no range {name:?}: hour, day or week"))?;
            activity(server, r)
        }
        _ => Err("dashboard: overview, bans, jail NAME or activity RANGE".into()),
    }
}

/// The jails with their failures and bans now and since the jail started
/// (`since`, epoch seconds: the server's start, or the reload that added the
/// jail; the totals are not kept across a restart, and `bans` counts the bans
/// restored at start), and the top offending addresses and networks in the
/// database.
fn overview(server: &Server) -> Result<Value, String> {
    let jails: Vec<Value> = server
        .jails
        .iter()
        .map(|j| {
            json!({
                "name": j.name(),
                "failed_now": j.tracker.currently_failed(),
                "failures": j.tracker.total_failed(),
                "banned": j.bans.len(),
                "bans": j.bans.total(),
                "since": j.started,
            })
        })
        .collect();
    let per_address = server.db.bans_per_address().map_err(|e| e.to_string())?;
    let counted: Vec<(IpAddr, u32)> = per_address
        .iter()
        .filter_map(|(ip, n)| Some((ip.parse().ok()?, *n)))
        .collect();
    let banned_now = |ip: &IpAddr| server.jails.iter().any(|j| j.bans.get(ip).is_some());
    let top_addresses: Vec<Value> = top(counted.iter().map(|(ip, n)| (*ip, *n, 1)))
        .into_iter()
        .map(|(ip, bans, _)| json!({"ip": ip.to_string(), "bans": bans, "banned_now": banned_now(&ip)}))
        .collect();
    let top_networks: Vec<Value> = top(counted.iter().map(|(ip, n)| (network(*ip), *n, 1)))
        .into_iter()
        .map(|((base, len), bans, addresses)| {
            json!({"network": format!("{base}/{len}"), "bans": bans, "addresses": addresses})
        })
        .collect();
    Ok(json!({
        "jails": jails,
        "top_addresses": top_addresses,
        "top_networks": top_networks,
    }))
}

/// The /24 of an IPv4 address, the /64 of an IPv6 one.
fn network(ip: IpAddr) -> (IpAddr, u8) {
    match ip {
        IpAddr::V4(v4) => (
            std::net::Ipv4Addr::from(u32::from(v4) & 0xffff_ff00).into(),
            24,
        ),
        IpAddr::V6(v6) => (
            std::net::Ipv6Addr::from(u128::from(v6) & (!0u128 << 64)).into(),
            64,
        ),
    }
}

/// The [`TOP`] keys with the most bans, summing (bans, addresses) per key; ties
/// in key order, so that the list does not jump between refreshes.
fn top<K: Ord + std::hash::Hash + Copy>(
    items: impl Iterator<Item = (K, u32, u32)>,
) -> Vec<(K, u32, u32)> {
    let mut sums: HashMap<K, (u32, u32)> = HashMap::new();
    for (key, bans, addresses) in items {
        let s = sums.entry(key).or_default();
        s.0 += bans;
        s.1 += addresses;
    }
    let mut list: Vec<(K, u32, u32)> = sums.into_iter().map(|(k, (b, a))| (k, b, a)).collect();
    list.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    list.truncate(TOP);
    list
}

/// The order of the bans table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BanOrder {
    Address,
    Jail,
    Start,
    /// By end; permanent bans last.
    TimeLeft,
    Count,
    /// By the failures behind a ban.
    Failures,
    /// Local bans first, then by origin host.
    Origin,
}

impl BanOrder {
    fn parse(key: &str) -> Result<BanOrder, String> {
        Ok(match key {
            "ip" => BanOrder::Address,
            "jail" => BanOrder::Jail,
            "start" => BanOrder::Start,
            "left" => BanOrder::TimeLeft,
            "count" => BanOrder::Count,
            "failures" => BanOrder::Failures,
            "origin" => BanOrder::Origin,
            _ => {
                return Err(format!(
                    "cannot sort bans by {key:?}: ip, jail, start, left, count, failures or origin"
                ))
            }
        })
    }

    fn compare(self, a: &(&str, &Ban), b: &(&str, &Ban)) -> std::cmp::Ordering {
        let end = |b: &Ban| b.end().unwrap_or(f64::INFINITY);
        match self {
            BanOrder::Address => a.1.ip.cmp(&b.1.ip),
            BanOrder::Jail => a.0.cmp(b.0).then(a.1.ip.cmp(&b.1.ip)),
            BanOrder::Start => a.1.start.total_cmp(&b.1.start),
            BanOrder::TimeLeft => end(a.1).total_cmp(&end(b.1)),
            BanOrder::Count => a.1.count.cmp(&b.1.count),
            BanOrder::Failures => a.1.failures.cmp(&b.1.failures).then(a.1.ip.cmp(&b.1.ip)),
            BanOrder::Origin => a.1.origin.cmp(&b.1.origin).then(a.1.ip.cmp(&b.1.ip)),
        }
    }
}

/// The bans in force whose address or jail contains `search`, sorted by `key`
/// (`desc`: "desc" or "asc"), at most [`BAN_ROWS`] of them (address, jail,
/// start, end or `null` for never, ban count (`null` for a fleet ban), the
/// failures behind it (`null` when unknown), origin host or `null` for a
/// local ban); with how many there are in all
/// and the jails' names for the ban form. Filtered and cut here, so that a
/// million bans do not travel to the page every few seconds.
fn bans(server: &Server, search: &str, key: &str, desc: &str) -> Result<Value, String> {
    let order = BanOrder::parse(key)?;
    let search = search.trim().to_lowercase();
    let mut matched: Vec<(&str, &Ban)> = server
        .jails
        .iter()
        .flat_map(|j| j.bans.iter().map(move |b| (j.name(), b)))
        .filter(|(jail, b)| {
            search.is_empty()
                || jail.to_lowercase().contains(&search)
                || b.ip.to_string().contains(&search)
        })
        .collect();
    let cmp = |a: &(&str, &Ban), b: &(&str, &Ban)| {
        let o = order.compare(a, b);
        if desc == "desc" {
            o.reverse()
        } else {
            o
        }
    };
    let matched_total = matched.len();
    let shown = matched_total.min(BAN_ROWS);
    if matched_total > shown {
        matched.select_nth_unstable_by(shown, cmp);
        matched.truncate(shown);
    }
    matched.sort_by(cmp);
    let rows: Vec<Value> = matched
        .iter()
        .map(|(jail, b)| {
            json!({
                "ip": b.ip.to_string(),
                "jail": jail,
                "start": b.start as i64,
                "end": b.end().map(|e| e as i64),
                // A received ban's count is its origin's business (here it
                // is 0: it does not count towards this host's increments);
                // its failures are the origin's (0 for a ban made by hand
                // there, and from hosts that predate the field).
                "count": b.origin.is_none().then_some(b.count),
                "failures": b.failures,
                "origin": b.origin.as_deref(),
            })
        })
        .collect();
    let total: usize = server.jails.iter().map(|j| j.bans.len()).sum();
    let jails: Vec<&str> = server.jails.iter().map(|j| j.name()).collect();
    Ok(json!({
        "now": super::super::now() as i64,
        "jails": jails,
        "total": total,
        "matched": matched_total,
        "bans": rows,
    }))
}

/// A jail's filter, actions, options, recent matched lines and log positions.
fn jail(server: &Server, name: &str) -> Result<Value, String> {
    let j = server
        .jails
        .iter()
        .find(|j| j.name() == name)
        .ok_or_else(|| format!("no jail {name:?}"))?;
    let c = &j.config;
    // From the database: the bans in force keep their lines in memory only where
    // an action uses them. A ban holds a few lines: that many bans are enough.
    let recent = server
        .db
        .latest_matched_lines(name, RECENT_MATCHES)
        .map_err(|e| e.to_string())?;
    let matches: Vec<Value> = recent
        .iter()
        .flat_map(|(ip, start, lines)| {
            lines
                .iter()
                .rev()
                .map(move |line| json!({"ip": ip, "time": start, "line": line}))
        })
        .take(RECENT_MATCHES)
        .collect();
    let sources = if j.is_journal() {
        let cursor = server
            .db
            .cursor(&crate::server::journal_source(name))
            .ok()
            .flatten();
        json!({"journal": {"matches": c.filter.journalmatch, "cursor": cursor}})
    } else {
        let files: Vec<Value> = c
            .logpaths
            .iter()
            .flat_map(|p| ferroban_sources::files::expand(p))
            .map(|p| {
                let path = p.display().to_string();
                let size = std::fs::metadata(&p).ok().map(|m| m.len());
                let position = server.db.position(&path).ok().flatten().map(|p| p.offset);
                json!({"path": path, "size": size, "position": position})
            })
            .collect();
        json!({"files": files})
    };
    let increment =
        j.policy.increment.as_ref().map(
            |i| json!({"factor": i.factor, "maxtime": i.maxtime, "overalljails": i.overalljails}),
        );
    Ok(json!({
        "name": name,
        "filter": {
            "name": c.filter.name,
            "failregex": c.filter.failregex,
            "ignoreregex": c.filter.ignoreregex,
            "datepattern": c.filter.datepattern,
        },
        "actions": c.actions.iter().map(|a| a.name.clone()).collect::<Vec<_>>(),
        "options": {
            "backend": match c.backend {
                Backend::Inotify => "auto",
                Backend::Polling => "polling",
                Backend::Systemd { .. } => "systemd",
            },
            "maxretry": c.maxretry,
            "findtime": c.findtime,
            "bantime": j.policy.bantime,
            "bantime.increment": increment,
            "ignoreip": j.ignore.entries(),
            "ignoreself": c.ignoreself,
            "usedns": c.usedns,
            "logencoding": c.logencoding,
        },
        // `failures` and `bans` count from `since`, the jail's start (see overview).
        "counts": {
            "failed_now": j.tracker.currently_failed(),
            "failures": j.tracker.total_failed(),
            "banned": j.bans.len(),
            "bans": j.bans.total(),
            "since": j.started,
        },
        "matches": matches,
        "sources": sources,
    }))
}

/// Failures and bans per jail in the buckets of `range`, oldest first.
fn activity(server: &mut Server, range: Range) -> Result<Value, String> {
    server
        .activity
        .flush(&server.jails, &mut server.db, &server.log);
    let now_minute = minute_of(super::super::now());
    let since = now_minute - range.buckets as i64 * range.step_minutes + 1;
    let rows = server
        .db
        .activity(since, range.step_minutes)
        .map_err(|e| e.to_string())?;
    let mut jails: HashMap<String, (Vec<u64>, Vec<u64>)> = server
        .jails
        .iter()
        .map(|j| {
            (
                j.name().to_string(),
                (vec![0; range.buckets], vec![0; range.buckets]),
            )
        })
        .collect();
    for row in rows.into_iter().filter(|r| r.bucket < range.buckets) {
        let (failures, bans) = jails
            .entry(row.activity.jail)
            .or_insert_with(|| (vec![0; range.buckets], vec![0; range.buckets]));
        failures[row.bucket] += row.activity.failures;
        bans[row.bucket] += row.activity.bans;
    }
    let mut names: Vec<&String> = jails.keys().collect();
    names.sort();
    let series: Vec<Value> = names
        .into_iter()
        .map(|n| json!({"jail": n, "failures": jails[n].0, "bans": jails[n].1}))
        .collect();
    Ok(json!({
        "range": range.name,
        "span": range.span,
        "start": since * 60,
        "step": range.step_minutes * 60,
        "series": series,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_are_the_v4_slash_24_and_the_v6_slash_64() {
        let n = |s: &str| {
            let (base, len) = network(s.parse().unwrap());
            format!("{base}/{len}")
        };
        assert_eq!(n("192.0.2.77"), "192.0.2.0/24");
        assert_eq!(n("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64");
    }

    #[test]
    fn top_sums_per_key_and_breaks_ties_by_key() {
        let items = [("b", 2, 1), ("a", 2, 1), ("c", 1, 1), ("c", 2, 1)];
        assert_eq!(
            top(items.into_iter()),
            vec![("c", 3, 2), ("a", 2, 1), ("b", 2, 1)]
        );
        let many = (0..30u32).map(|i| (i, i, 1));
        let t = top(many);
        assert_eq!(t.len(), TOP);
        assert_eq!(t[0], (29, 29, 1));
    }
}
