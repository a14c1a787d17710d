//! What travels through the engine: KV keys and values for bans, subjects and
//! payloads for failures, and the checks every received one passes.
//!
//! Owns the format (JSON payloads, `ORIGIN.JAIL.ADDRESS` keys) and the decision
//! whether a received message is well-formed, comes from whom it claims and has a
//! sane end time. It does not apply anything: that is the receiving jail's call.

use std::net::IpAddr;

use ferroban_config::fleet::is_fleet_token;
use serde::{Deserialize, Serialize};

use crate::{FleetBan, FleetFailure, FleetLift, Refusal};

/// Payloads larger than this are refused unread.
pub const MAX_PAYLOAD: usize = 1024;
/// An end time further ahead than this (ten years) is refused as absurd.
const MAX_AHEAD: f64 = 10.0 * 365.0 * 86_400.0;

/// A KV value: one ban (or its lifting) by its origin.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct BanValue {
    origin: String,
    jail: String,
    ip: String,
    start: f64,
    /// `None`: permanent.
    end: Option<f64>,
    /// `ban` or `unban`.
    op: String,
    /// The failures behind a ban. Added later: absent from the values of hosts
    /// that predate it, and ignored by them (unknown fields are skipped).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    failures: Option<u32>,
    /// The publishing process (see [`Publisher`]). Added later, like `failures`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    instance: Option<String>,
}

/// A failure message on the failures' stream.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct FailureValue {
    origin: String,
    jail: String,
    ip: String,
    time: f64,
    /// The publishing process (see [`Publisher`]). Added later, like a ban's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    instance: Option<String>,
}

/// Who publishes: the host's fleet name, and a random id of this process. Two
/// hosts given one name (a cloned configuration) write under the same keys; the
/// id is how each sees that the other exists (see [`publisher_instance`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publisher {
    pub name: String,
    pub instance: String,
}

impl Publisher {
    /// `name`, with an id of this process that no other process shares: 64 bits
    /// from the standard library's randomly keyed hasher, over the time and pid.
    pub fn new(name: &str) -> Publisher {
        use std::hash::{BuildHasher, Hasher};
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        hasher.write_u128(nanos);
        hasher.write_u32(std::process::id());
        Publisher {
            name: name.to_string(),
            instance: format!("{:016x}", hasher.finish()),
        }
    }
}

/// The id of the process that published `value` (a ban's or a failure's), when
/// it says; `None` for hosts that predate it or a value that is not ours to read.
pub fn publisher_instance(value: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Instance {
        instance: Option<String>,
    }
    serde_json::from_slice::<Instance>(value).ok()?.instance
}

/// An address as one KV key token (`.` and `:` are separators or not allowed).
fn address_token(ip: IpAddr) -> String {
    ip.to_string().replace(['.', ':'], "_")
}

/// The KV key of `origin`'s ban of `ip` in `jail`: its first token is the origin,
/// so subject permissions can keep each host to its own keys.
pub fn ban_key(origin: &str, jail: &str, ip: IpAddr) -> String {
    format!("{origin}.{jail}.{}", address_token(ip))
}

/// The subject failures of `origin`'s `jail` are published on.
pub fn failure_subject(bucket: &str, origin: &str, jail: &str) -> String {
    format!("{bucket}.fail.{origin}.{jail}")
}

/// The value of a ban in force until `end` (`None`: permanent), caused by
/// `failures`.
pub fn ban_value(
    origin: &Publisher,
    jail: &str,
    ip: IpAddr,
    start: f64,
    end: Option<f64>,
    failures: u32,
) -> Vec<u8> {
    encode_ban(BanValue {
        origin: origin.name.clone(),
        jail: jail.into(),
        ip: ip.to_string(),
        start,
        end,
        op: "ban".into(),
        failures: Some(failures),
        instance: Some(origin.instance.clone()),
    })
}

/// The value saying `origin` lifted its ban of `ip` in `jail`.
pub fn unban_value(origin: &Publisher, jail: &str, ip: IpAddr, at: f64) -> Vec<u8> {
    encode_ban(BanValue {
        origin: origin.name.clone(),
        jail: jail.into(),
        ip: ip.to_string(),
        start: at,
        end: Some(at),
        op: "unban".into(),
        failures: None,
        instance: Some(origin.instance.clone()),
    })
}

fn encode_ban(value: BanValue) -> Vec<u8> {
    serde_json::to_vec(&value).unwrap_or_default()
}

pub fn failure_value(origin: &Publisher, jail: &str, ip: IpAddr, time: f64) -> Vec<u8> {
    serde_json::to_vec(&FailureValue {
        origin: origin.name.clone(),
        jail: jail.into(),
        ip: ip.to_string(),
        time,
        instance: Some(origin.instance.clone()),
    })
    .unwrap_or_default()
}

/// A received KV entry, understood.
#[derive(Debug, PartialEq)]
pub enum Received {
    Ban(FleetBan),
    Lift(FleetLift),
}

/// Who a key or subject says published it (for counting a refusal against it).
pub fn claimed_origin(key: &str) -> &str {
    key.split('.').next().unwrap_or("")
}

/// Check and read a KV entry `key` = `value` at `now`.
pub fn read_ban(key: &str, value: &[u8], now: f64) -> Result<Received, Refusal> {
    if value.len() > MAX_PAYLOAD {
        return Err(Refusal::Oversized);
    }
    let v: BanValue = serde_json::from_slice(value).map_err(|_| Refusal::Malformed)?;
    if v.origin != claimed_origin(key) {
        return Err(Refusal::Impersonation);
    }
    if !is_fleet_token(&v.origin) || !is_fleet_token(&v.jail) {
        return Err(Refusal::Malformed);
    }
    let ip: IpAddr = v.ip.trim().parse().map_err(|_| Refusal::BadAddress)?;
    if key != ban_key(&v.origin, &v.jail, ip) {
        return Err(Refusal::Malformed);
    }
    match v.op.as_str() {
        "unban" => Ok(Received::Lift(FleetLift {
            origin: v.origin,
            jail: v.jail,
            ip,
        })),
        "ban" => {
            if !v.start.is_finite() || v.end.is_some_and(|e| !e.is_finite()) {
                return Err(Refusal::Malformed);
            }
            match v.end {
                Some(end) if end <= now => Err(Refusal::Expired),
                Some(end) if end > now + MAX_AHEAD => Err(Refusal::FarFuture),
                _ => Ok(Received::Ban(FleetBan {
                    origin: v.origin,
                    jail: v.jail,
                    ip,
                    start: v.start,
                    end: v.end,
                    failures: v.failures,
                })),
            }
        }
        _ => Err(Refusal::Malformed),
    }
}

/// The origin token of a failure subject (`BUCKET.fail.ORIGIN.JAIL`).
pub fn subject_origin(subject: &str) -> &str {
    subject.split('.').nth(2).unwrap_or("")
}

/// Check and read a failure message published on `subject`.
pub fn read_failure(subject: &str, value: &[u8]) -> Result<FleetFailure, Refusal> {
    if value.len() > MAX_PAYLOAD {
        return Err(Refusal::Oversized);
    }
    let v: FailureValue = serde_json::from_slice(value).map_err(|_| Refusal::Malformed)?;
    if v.origin != subject_origin(subject) {
        return Err(Refusal::Impersonation);
    }
    if !is_fleet_token(&v.origin) || !is_fleet_token(&v.jail) {
        return Err(Refusal::Malformed);
    }
    if subject.split('.').nth(3) != Some(v.jail.as_str()) || !v.time.is_finite() {
        return Err(Refusal::Malformed);
    }
    let ip: IpAddr = v.ip.trim().parse().map_err(|_| Refusal::BadAddress)?;
    Ok(FleetFailure {
        origin: v.origin,
        jail: v.jail,
        ip,
        time: v.time,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: f64 = 1_000_000.0;

    fn by(name: &str) -> Publisher {
        Publisher::new(name)
    }

    /// Each process has an id of its own, which its bans, lifts and failures
    /// carry; the values of hosts that predate it carry none.
    #[test]
    fn every_value_names_the_process_that_published_it() {
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let (first, twin) = (by("web1"), by("web1"));
        assert_ne!(first.instance, twin.instance);
        assert_eq!(first.instance.len(), 16);
        let values = [
            ban_value(&first, "sshd", ip, NOW, None, 3),
            unban_value(&first, "sshd", ip, NOW),
            failure_value(&first, "sshd", ip, NOW),
        ];
        for value in values {
            assert_eq!(publisher_instance(&value), Some(first.instance.clone()));
        }
        let old = br#"{"origin":"web1","jail":"sshd","ip":"192.0.2.7","time":1,"op":"ban"}"#;
        assert_eq!(publisher_instance(old), None);
        assert_eq!(publisher_instance(b"not json"), None);
    }

    #[test]
    fn bans_and_lifts_go_round() {
        let ip: IpAddr = "2001:db8::7".parse().unwrap();
        let key = ban_key("web2", "sshd", ip);
        assert_eq!(key, "web2.sshd.2001_db8__7");
        let value = ban_value(&by("web2"), "sshd", ip, NOW, Some(NOW + 60.0), 5);
        assert_eq!(
            read_ban(&key, &value, NOW),
            Ok(Received::Ban(FleetBan {
                origin: "web2".into(),
                jail: "sshd".into(),
                ip,
                start: NOW,
                end: Some(NOW + 60.0),
                failures: Some(5),
            }))
        );
        let lift = unban_value(&by("web2"), "sshd", ip, NOW);
        assert!(matches!(
            read_ban(&key, &lift, NOW + 1.0),
            Ok(Received::Lift(_))
        ));
        let permanent = ban_value(&by("web2"), "sshd", ip, NOW, None, 3);
        assert!(matches!(
            read_ban(&key, &permanent, NOW),
            Ok(Received::Ban(_))
        ));
    }

    #[test]
    fn values_without_failures_still_read_and_the_new_field_is_only_added() {
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let key = ban_key("web2", "sshd", ip);
        // As hosts from before the `failures` field write it (times with a
        // fraction, as JSON numbers compare by their written form).
        let (start, end) = (NOW + 0.5, NOW + 60.5);
        let old = format!(
            r#"{{"origin":"web2","jail":"sshd","ip":"192.0.2.7","start":{start},"end":{end},"op":"ban"}}"#
        );
        match read_ban(&key, old.as_bytes(), NOW) {
            Ok(Received::Ban(b)) => assert_eq!(b.failures, None),
            other => panic!("{other:?}"),
        }
        // What such a host reads from us: every field it knows, as before.
        let new: serde_json::Value =
            serde_json::from_slice(&ban_value(&by("web2"), "sshd", ip, start, Some(end), 4))
                .unwrap();
        let old: serde_json::Value = serde_json::from_str(&old).unwrap();
        for (field, value) in old.as_object().unwrap() {
            assert_eq!(&new[field], value, "{field}");
        }
        assert_eq!(new["failures"], 4);
        let lift: serde_json::Value =
            serde_json::from_slice(&unban_value(&by("web2"), "sshd", ip, NOW)).unwrap();
        assert!(lift.get("failures").is_none(), "{lift}");
    }

    #[test]
    fn bad_entries_are_refused_with_their_reason() {
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let key = ban_key("web2", "sshd", ip);
        let cases: Vec<(String, Vec<u8>, Refusal)> = vec![
            (key.clone(), b"not json".to_vec(), Refusal::Malformed),
            (key.clone(), vec![b' '; MAX_PAYLOAD + 1], Refusal::Oversized),
            (
                ban_key("web1", "sshd", ip),
                ban_value(&by("web2"), "sshd", ip, NOW, Some(NOW + 60.0), 3),
                Refusal::Impersonation,
            ),
            (
                key.clone(),
                ban_value(&by("web2"), "sshd", ip, NOW - 100.0, Some(NOW - 1.0), 3),
                Refusal::Expired,
            ),
            (
                key.clone(),
                ban_value(&by("web2"), "sshd", ip, NOW, Some(NOW + 1e10), 3),
                Refusal::FarFuture,
            ),
            (
                key.clone(),
                br#"{"origin":"web2","jail":"sshd","ip":"999.1.1.1","start":1,"end":null,"op":"ban"}"#.to_vec(),
                Refusal::BadAddress,
            ),
            (
                key.clone(),
                ban_value(&by("web2"), "nginx", ip, NOW, Some(NOW + 60.0), 3),
                Refusal::Malformed,
            ),
            (
                "we\u{1b}[2J.sshd.192_0_2_7".to_string(),
                ban_value(&by("we\u{1b}[2J"), "sshd", ip, NOW, Some(NOW + 60.0), 3),
                Refusal::Malformed,
            ),
        ];
        for (key, value, want) in cases {
            assert_eq!(read_ban(&key, &value, NOW), Err(want), "{key}");
        }
    }

    #[test]
    fn failures_go_round_and_origin_must_match_the_subject() {
        let ip: IpAddr = "192.0.2.9".parse().unwrap();
        let subject = failure_subject("ferroban", "web1", "sshd");
        let value = failure_value(&by("web1"), "sshd", ip, NOW);
        let f = read_failure(&subject, &value).unwrap();
        assert_eq!((f.origin.as_str(), f.ip, f.time), ("web1", ip, NOW));
        let forged = failure_value(&by("web2"), "sshd", ip, NOW);
        assert_eq!(read_failure(&subject, &forged), Err(Refusal::Impersonation));
        assert_eq!(read_failure(&subject, b"{}"), Err(Refusal::Malformed));
    }
}
