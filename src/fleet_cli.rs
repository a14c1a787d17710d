//! `ferroban fleet`: the fleet as an operator sees it, and `ferroban fleet
//! nats-config NAME=PASSWORD...`, which prints nats-server's authorization block.
//!
//! Owns only the presentation; the figures come from the server (`["fleet"]`) and
//! the permissions from ferroban-fleet's `authz`.

use std::path::Path;

use anyhow::{bail, Result};
use ferroban_config::fleet::FleetSettings;
use ferroban_fleet::authz;
use serde_json::Value;

use crate::server::log::time_text;

const DEFAULT_BUCKET: &str = "ferroban";

/// `ferroban fleet nats-config [--bucket B] NAME=PASSWORD...`: the bucket is the
/// one given, else the configuration's, else `ferroban`.
pub fn nats_config(confdir: &Path, args: &[String]) -> Result<i32> {
    let mut bucket: Option<String> = None;
    let mut pairs = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--bucket" => bucket = it.next().cloned(),
            _ => pairs.push(a.clone()),
        }
    }
    if pairs.is_empty() {
        bail!("usage: ferroban fleet nats-config [--bucket BUCKET] NAME=PASSWORD...");
    }
    let bucket = match bucket {
        Some(b) => b,
        None => FleetSettings::load(confdir)
            .ok()
            .flatten()
            .map_or_else(|| DEFAULT_BUCKET.to_string(), |s| s.bucket),
    };
    let hosts = authz::parse_hosts(&pairs)?;
    print!("{}", authz::authorization_block(&bucket, &hosts)?);
    Ok(0)
}

/// The answer to `["fleet"]`, for people.
pub fn status_text(v: &Value) -> String {
    if v["configured"] != Value::Bool(true) {
        return "Fleet: not configured (no [Fleet] section)".into();
    }
    let count = |k: &str| v[k].as_u64().unwrap_or(0);
    let mut out = vec![
        format!(
            "Fleet: {} {} as {}",
            if v["connected"] == Value::Bool(true) {
                "connected to"
            } else {
                "NOT connected to"
            },
            v["url"].as_str().unwrap_or(""),
            v["name"].as_str().unwrap_or("")
        ),
        format!("|- Outbox: {}", count("outbox")),
        format!(
            "|- Received: {}, applied: {}",
            count("received"),
            count("applied")
        ),
    ];
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
    out.push("`- Hosts:".into());
    let hosts = v["hosts"].as_array().cloned().unwrap_or_default();
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
