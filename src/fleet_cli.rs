//! `ferroban fleet`: the fleet as an operator sees it, and `ferroban fleet
//! nats-config NAME=PASSWORD...`, which prints nats-server's authorization block.
//!
//! Owns only the presentation; the figures come from the server (`["fleet"]`) and
//! the permissions from ferroban-fleet's `authz`.

use std::path::Path;

use anyhow::{bail, Context, Result};
use ferroban_config::fleet::FleetSettings;
use ferroban_fleet::authz;
use serde_json::Value;

use crate::server::log::time_text;

const DEFAULT_BUCKET: &str = "ferroban";

/// `ferroban fleet nats-config [--bucket B] [--stdin] NAME=PASSWORD...`: the bucket
/// is the one given, else the configuration's, else `ferroban`. With `--stdin` the
/// pairs are also read from standard input, one a line, so that the passwords stay
/// out of the process list and the shell's history.
pub fn nats_config(confdir: &Path, args: &[String]) -> Result<i32> {
    const USAGE: &str =
        "usage: ferroban fleet nats-config [--bucket BUCKET] [--stdin] NAME=PASSWORD...";
    let mut bucket: Option<String> = None;
    let mut pairs = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--bucket" => match it.next() {
                Some(b) => bucket = Some(b.clone()),
                None => bail!("--bucket needs the bucket's name; {USAGE}"),
            },
            "--stdin" => pairs.extend(pairs_in(std::io::stdin().lock())?),
            _ => match a.strip_prefix("--bucket=") {
                Some(b) => bucket = Some(b.to_string()),
                // a host's name never starts with `-`: an option misspelt
                None if a.starts_with('-') => bail!("unknown option {a:?}; {USAGE}"),
                None => pairs.push(a.clone()),
            },
        }
    }
    if pairs.is_empty() {
        bail!("{USAGE}");
    }
    let bucket = match bucket {
        Some(b) => b,
        // The configuration's bucket: a [Fleet] that does not load is not skipped,
        // or the block would be made for another bucket than the hosts use.
        None => FleetSettings::load(confdir)
            .with_context(|| {
                format!(
                    "the bucket is [Fleet] bucket of {}, which does not load (mend it, or \
                     give --bucket)",
                    confdir.display()
                )
            })?
            .map_or_else(|| DEFAULT_BUCKET.to_string(), |s| s.bucket),
    };
    let hosts = authz::parse_hosts(&pairs)?;
    print!("{}", authz::authorization_block(&bucket, &hosts)?);
    Ok(0)
}

/// The `NAME=PASSWORD` lines of `input` (blank lines skipped; a password keeps its
/// inner and trailing spaces, only the line end is taken off).
fn pairs_in(input: impl std::io::BufRead) -> Result<Vec<String>> {
    let mut pairs = Vec::new();
    for line in input.lines() {
        // lines() takes off "\n" and "\r\n" both
        let line = line?;
        if !line.trim().is_empty() {
            pairs.push(line);
        }
    }
    Ok(pairs)
}

/// The answer to `["fleet"]`, for people. The figures of received bans and
/// lifts are written as the sum they make, so that none reads as a loss.
pub fn status_text(v: &Value) -> String {
    if v["configured"] != Value::Bool(true) {
        return "Fleet: not configured (no [Fleet] section)".into();
    }
    let count = |k: &str| v[k].as_u64().unwrap_or(0);
    let connected = v["connected"] == Value::Bool(true);
    let name = v["name"].as_str().unwrap_or("");
    // the login too, where it is not the name (which the engine then refuses)
    let login = match v["user"].as_str() {
        Some(user) if user != name => format!(" (login {user})"),
        _ => String::new(),
    };
    let mut out = vec![format!(
        "Fleet: {} {} as {name}{login}",
        if connected {
            "connected to"
        } else {
            "NOT connected to"
        },
        v["url"].as_str().unwrap_or(""),
    )];
    if !connected {
        if let Some(why) = v["last_error"].as_str() {
            let at = v["last_error_at"]
                .as_f64()
                .map_or_else(String::new, |t| format!(" ({})", time_text(t)));
            out.push(format!("|- Last error{at}: {why}"));
        }
    }
    // A clone of this host's [Fleet] section: a problem while connected too.
    if let Some(why) = v["twin"].as_str() {
        let at = v["twin_at"]
            .as_f64()
            .map_or_else(String::new, |t| format!(" ({})", time_text(t)));
        out.push(format!("|- Twin{at}: {why}"));
    }
    out.push(format!("|- Outbox: {}", count("outbox")));
    out.push(format!(
        "|- Published: {} confirmed by the engine, {} unconfirmed",
        count("published"),
        count("unconfirmed")
    ));
    out.push(format!(
        "|- Received: {} bans and lifts = {} applied + {} already held + {} lifts + {} refused",
        count("received"),
        count("applied"),
        count("already_held"),
        count("lifts"),
        count("refused_received")
    ));
    out.push(format!(
        "|- Failures received: {} (this host's own included), {} refused",
        count("failures_received"),
        count("failures_refused")
    ));
    let refused: Vec<String> = v["refused"]
        .as_object()
        .map(|m| m.iter().map(|(k, n)| format!("{k} {n}")).collect())
        .unwrap_or_default();
    out.push(format!(
        "|- Refused: {}",
        if refused.is_empty() {
            "none".to_string()
        } else {
            refused.join(", ")
        }
    ));
    let hosts = v["hosts"].as_array().cloned().unwrap_or_default();
    if hosts.is_empty() {
        out.push("`- Hosts: none heard of yet".into());
    } else {
        out.push("`- Hosts:".into());
    }
    for (i, h) in hosts.iter().enumerate() {
        out.push(format!(
            "   {} {}  bans {}  last seen {}",
            if i + 1 == hosts.len() { "`-" } else { "|-" },
            h["name"].as_str().unwrap_or(""),
            h["bans"].as_u64().unwrap_or(0),
            h["last_seen"]
                .as_f64()
                .map_or_else(|| "never".to_string(), time_text)
        ));
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::{pairs_in, status_text};
    use serde_json::json;

    #[test]
    fn pairs_are_read_one_a_line_with_their_spaces() {
        let input = "web1=long random 1\n\nweb2=pw two \r\n";
        assert_eq!(
            pairs_in(input.as_bytes()).unwrap(),
            ["web1=long random 1", "web2=pw two "]
        );
    }

    #[test]
    fn the_text_gives_the_reason_when_not_connected_and_the_sum_of_what_was_received() {
        let v = json!({
            "configured": true, "connected": false, "url": "nats://e:4222", "name": "web3",
            "last_error": "opening bucket ferroban: timed out; [Fleet] name = web3 probably does not match",
            "last_error_at": 0.0,
            "outbox": 1, "published": 7, "unconfirmed": 1,
            "received": 12, "applied": 10, "already_held": 1, "lifts": 0, "refused_received": 1,
            "failures_received": 5, "failures_refused": 2,
            "refused": {"ignored": 1, "ahead_of_clock": 2}, "hosts": [],
        });
        let text = status_text(&v);
        assert!(
            text.contains("NOT connected to nats://e:4222 as web3"),
            "{text}"
        );
        assert!(
            text.contains("|- Last error (") && text.contains("probably does not match"),
            "{text}"
        );
        assert!(
            text.contains("|- Received: 12 bans and lifts = 10 applied + 1 already held + 0 lifts + 1 refused"),
            "{text}"
        );
        assert!(
            text.contains("|- Published: 7 confirmed by the engine, 1 unconfirmed"),
            "{text}"
        );
        assert!(text.ends_with("`- Hosts: none heard of yet"), "{text}");
        let mut connected = v.clone();
        connected["connected"] = json!(true);
        assert!(
            !status_text(&connected).contains("Last error"),
            "only when not connected"
        );
        assert!(!status_text(&connected).contains("Twin"));
        assert!(!status_text(&connected).contains("(login"));
        let mut mismatched = v.clone();
        mismatched["user"] = json!("web2");
        assert!(
            status_text(&mismatched)
                .contains("NOT connected to nats://e:4222 as web3 (login web2)"),
            "{}",
            status_text(&mismatched)
        );
        connected["twin"] = json!("another host publishes as \"web3\": …");
        connected["twin_at"] = json!(0.0);
        assert!(
            status_text(&connected).contains("|- Twin (")
                && status_text(&connected).contains("another host publishes"),
            "a twin is shown while connected too"
        );
    }
}
