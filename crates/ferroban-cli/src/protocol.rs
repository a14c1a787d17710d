//! The control protocol: what travels on the control socket.
//!
//! A request is one line holding a JSON array of the command's words (the same
//! words `fail2ban-client` takes, such as `["set","sshd","banip","192.0.2.7"]`); the
//! answer is one line, `{"ok":true,"result":…}` or `{"ok":false,"error":"…"}`.
//! Owns the encoding and decoding of both, and the request size limit; what the
//! words mean is the server's.

use serde_json::{json, Value};

/// The longest request line accepted, in bytes.
pub const MAX_REQUEST: usize = 16 << 20;

/// The request line for `words` (with its newline).
pub fn encode_request(words: &[String]) -> String {
    let mut line = Value::from(words.to_vec()).to_string();
    line.push('\n');
    line
}

/// The words of a request line, or why it is not one.
pub fn decode_request(line: &str) -> Result<Vec<String>, String> {
    if line.len() >= MAX_REQUEST {
        return Err(format!("bad request: longer than {MAX_REQUEST} bytes"));
    }
    match serde_json::from_str::<Vec<String>>(line.trim()) {
        Ok(words) if !words.is_empty() => Ok(words),
        _ => Err("bad request: expected a JSON array of words".to_string()),
    }
}

/// The answer line for a command's outcome (with its newline).
pub fn encode_reply(outcome: &Result<Value, String>) -> String {
    let mut line = match outcome {
        Ok(v) => json!({"ok": true, "result": v}),
        Err(e) => json!({"ok": false, "error": e}),
    }
    .to_string();
    line.push('\n');
    line
}

/// A command's outcome from its answer line; `Err(None)` if the line is not an
/// answer at all.
pub fn decode_reply(line: &str) -> Result<Value, Option<String>> {
    let v: Value = serde_json::from_str(line).map_err(|_| None)?;
    match v.get("ok").and_then(Value::as_bool) {
        Some(true) => Ok(v.get("result").cloned().unwrap_or(Value::Null)),
        Some(false) => Err(Some(
            v.get("error")
                .and_then(Value::as_str)
                .unwrap_or("unknown error")
                .to_string(),
        )),
        None => Err(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_replies_round_trip() {
        let words = vec!["set".to_string(), "a\n\"b".into(), "\u{0}".into()];
        assert_eq!(decode_request(&encode_request(&words)).unwrap(), words);
        assert!(decode_request("[]").is_err());
        assert!(decode_request("[1]").is_err());
        assert!(decode_request(&"x".repeat(MAX_REQUEST))
            .unwrap_err()
            .contains("longer"));
        let ok: Result<Value, String> = Ok(json!([1, "x"]));
        assert_eq!(decode_reply(&encode_reply(&ok)).unwrap(), json!([1, "x"]));
        let err: Result<Value, String> = Err("no jail".into());
        assert_eq!(
            decode_reply(&encode_reply(&err)),
            Err(Some("no jail".into()))
        );
        assert_eq!(decode_reply("garbage"), Err(None));
    }
}
