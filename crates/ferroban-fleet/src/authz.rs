//! `ferroban fleet nats-config`: nats-server's `authorization { … }` block for a
//! fleet, one user per host.
//!
//! Owns the least-privilege subject permissions: a host may publish bans only
//! under its own name (`$KV.BUCKET.HOST.>`) and failures only on its own subject,
//! may call exactly the JetStream API subjects that reading the bucket and the
//! stream needs (never `$JS.>` or `$JS.API.>` wholesale), and receives replies
//! only on its own inbox prefix. Passwords are bcrypt-hashed.

use ferroban_config::fleet::is_fleet_token;

/// bcrypt's work factor (nats-server's own `passwd` tool uses 11).
const BCRYPT_COST: u32 = 11;

#[derive(Debug, thiserror::Error)]
pub enum AuthzError {
    #[error("{0:?} is not NAME=PASSWORD")]
    NotAPair(String),
    #[error("host name {0:?}: use letters, digits, '-' and '_' only (at most 64)")]
    BadName(String),
    #[error("host {0:?}: empty password")]
    EmptyPassword(String),
    #[error("host {0:?} is named twice")]
    Duplicate(String),
    #[error("bucket {0:?}: use letters, digits, '-' and '_' only")]
    BadBucket(String),
    #[error("hashing the password of {0:?}: {1}")]
    Hash(String, bcrypt::BcryptError),
}

/// The inbox prefix of `host`: replies to its requests arrive only there.
pub fn inbox_prefix(host: &str) -> String {
    format!("_INBOX_{host}")
}

/// The stream that carries failures, named after the bucket.
pub fn failures_stream(bucket: &str) -> String {
    format!("{bucket}_failures")
}

/// The subjects `host` may publish to.
pub fn publish_subjects(bucket: &str, host: &str) -> Vec<String> {
    let mut subjects = vec![
        format!("$KV.{bucket}.{host}.>"),
        format!("{bucket}.fail.{host}.>"),
    ];
    for stream in [format!("KV_{bucket}"), failures_stream(bucket)] {
        subjects.extend([
            // Creating is needed when the engine lost its storage; a stream
            // that exists is not changed by it.
            format!("$JS.API.STREAM.CREATE.{stream}"),
            format!("$JS.API.STREAM.INFO.{stream}"),
            format!("$JS.API.CONSUMER.CREATE.{stream}"),
            format!("$JS.API.CONSUMER.CREATE.{stream}.>"),
            format!("$JS.API.CONSUMER.INFO.{stream}.>"),
            format!("$JS.API.CONSUMER.DELETE.{stream}.>"),
            // Flow-control answers of the ordered consumers that read it.
            format!("$JS.FC.{stream}.>"),
        ]);
    }
    subjects
}

/// Parse `NAME=PASSWORD` arguments.
pub fn parse_hosts(args: &[String]) -> Result<Vec<(String, String)>, AuthzError> {
    let mut hosts: Vec<(String, String)> = Vec::new();
    for arg in args {
        let (name, password) = arg
            .split_once('=')
            .ok_or_else(|| AuthzError::NotAPair(arg.clone()))?;
        if !is_fleet_token(name) {
            return Err(AuthzError::BadName(name.into()));
        }
        if password.is_empty() {
            return Err(AuthzError::EmptyPassword(name.into()));
        }
        if hosts.iter().any(|(n, _)| n == name) {
            return Err(AuthzError::Duplicate(name.into()));
        }
        hosts.push((name.into(), password.into()));
    }
    Ok(hosts)
}

/// Quote `text` as a nats-server configuration string.
fn quoted(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_default()
}

/// The `authorization { … }` block for `hosts` (name, password) sharing `bucket`.
pub fn authorization_block(bucket: &str, hosts: &[(String, String)]) -> Result<String, AuthzError> {
    if !is_fleet_token(bucket) {
        return Err(AuthzError::BadBucket(bucket.into()));
    }
    let mut out = String::from("authorization {\n  users = [\n");
    for (name, password) in hosts {
        let hash = bcrypt::hash_with_result(password, BCRYPT_COST)
            .map_err(|e| AuthzError::Hash(name.clone(), e))?
            .format_for_version(bcrypt::Version::TwoA);
        let publish: Vec<String> = publish_subjects(bucket, name)
            .iter()
            .map(|s| quoted(s))
            .collect();
        out.push_str(&format!(
            "    {{\n      user: {}\n      password: {}\n      permissions: {{\n        \
             publish: {{ allow: [{}] }}\n        subscribe: {{ allow: [{}] }}\n      }}\n    }}\n",
            quoted(name),
            quoted(&hash),
            publish.join(", "),
            quoted(&format!("{}.>", inbox_prefix(name))),
        ));
    }
    out.push_str("  ]\n}\n");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_host_publishes_only_under_its_own_name_and_never_js_wholesale() {
        let hosts = parse_hosts(&["web1=pw1".into(), "web2=pw2".into()]).unwrap();
        let block = authorization_block("ferroban", &hosts).unwrap();
        assert!(block.starts_with("authorization {"));
        assert!(block.contains("\"$KV.ferroban.web1.>\""));
        assert!(block.contains("\"$KV.ferroban.web2.>\""));
        assert!(!block.contains("pw1") && !block.contains("pw2"), "{block}");
        for s in publish_subjects("ferroban", "web1") {
            assert!(!s.starts_with("$JS.>") && s != "$JS.API.>", "{s}");
            assert!(!s.contains("web2"), "{s}");
            assert!(
                !s.starts_with("$KV.") || s.starts_with("$KV.ferroban.web1."),
                "{s}"
            );
        }
        let hash_line = block.lines().find(|l| l.contains("password")).unwrap();
        let hash: String = serde_json::from_str(hash_line.split_once(": ").unwrap().1).unwrap();
        assert!(bcrypt::verify("pw1", &hash).unwrap());
    }

    #[test]
    fn bad_arguments_are_refused() {
        assert!(matches!(
            parse_hosts(&["web1".into()]),
            Err(AuthzError::NotAPair(_))
        ));
        assert!(matches!(
            parse_hosts(&["web.1=x".into()]),
            Err(AuthzError::BadName(_))
        ));
        assert!(matches!(
            parse_hosts(&["a=x".into(), "a=y".into()]),
            Err(AuthzError::Duplicate(_))
        ));
        assert!(matches!(
            parse_hosts(&["a=".into()]),
            Err(AuthzError::EmptyPassword(_))
        ));
    }
}
