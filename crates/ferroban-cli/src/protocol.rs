//! The control protocol: what travels on the control socket.
//!
//! A request is one line holding a JSON array of the command's words (the same
//! words `fail2ban-client` takes, such as `["set","sshd","banip","192.0.2.7"]`); the
//! answer is one line, `{"ok":true,"result":…}` or `{"ok":false,"error":"…"}`; a
//! refusal may also name the exception Fail2ban's server raises in its place
//! (`"exception":{"module":…,"name":…,"args":[…]}`), from which a client printing
//! as `fail2ban-client` makes that client's output.
//! Owns the encoding and decoding of both, and the request size limit; what the
//! words mean is the server's.

use serde_json::{json, Value};

use crate::fail2ban_protocol::{exception_text, from_json, to_json};
use crate::pickle::PyValue;
use crate::python;

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

/// A command the server refused: the message ferroban's client shows, and the
/// exception Fail2ban's server raises in its place (`PyValue::Exception`), when
/// there is one.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub message: String,
    pub exception: Option<PyValue>,
}

impl Refusal {
    /// A refusal with its message only.
    pub fn new(message: impl Into<String>) -> Refusal {
        Refusal {
            message: message.into(),
            exception: None,
        }
    }

    /// What `fail2ban-client` prints for it on standard output: its text for the
    /// exception (as its beautifier makes it), else the message.
    pub fn fail2ban_text(&self) -> String {
        match &self.exception {
            Some(PyValue::Exception { module, name, args }) => exception_text(module, name, args),
            _ => self.message.clone(),
        }
    }

    /// The exception's arguments as `fail2ban-client` logs them (`NOK: ('nope',)`).
    pub fn fail2ban_args(&self) -> String {
        let args = match &self.exception {
            Some(PyValue::Exception { args, .. }) => args.clone(),
            _ => vec![PyValue::str(self.message.as_str())],
        };
        python::repr(&PyValue::Tuple(args))
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// The answer line for a command's outcome (with its newline).
pub fn encode_reply(outcome: &Result<Value, Refusal>) -> String {
    let mut line = match outcome {
        Ok(v) => json!({"ok": true, "result": v}),
        Err(Refusal {
            message,
            exception: Some(PyValue::Exception { module, name, args }),
        }) => json!({
            "ok": false,
            "error": message,
            "exception": {
                "module": module,
                "name": name,
                "args": args.iter().map(to_json).collect::<Vec<_>>(),
            },
        }),
        Err(e) => json!({"ok": false, "error": e.message}),
    }
    .to_string();
    line.push('\n');
    line
}

/// A command's outcome from its answer line; `Err(None)` if the line is not an
/// answer at all.
pub fn decode_reply(line: &str) -> Result<Value, Option<Refusal>> {
    let v: Value = serde_json::from_str(line).map_err(|_| None)?;
    match v.get("ok").and_then(Value::as_bool) {
        Some(true) => Ok(v.get("result").cloned().unwrap_or(Value::Null)),
        Some(false) => {
            let text =
                |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_string);
            let exception = v.get("exception").and_then(|e| {
                Some(PyValue::Exception {
                    module: text(e, "module")?,
                    name: text(e, "name")?,
                    args: e.get("args")?.as_array()?.iter().map(from_json).collect(),
                })
            });
            Err(Some(Refusal {
                message: text(&v, "error").unwrap_or_else(|| "unknown error".into()),
                exception,
            }))
        }
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
        let ok: Result<Value, Refusal> = Ok(json!([1, "x"]));
        assert_eq!(decode_reply(&encode_reply(&ok)).unwrap(), json!([1, "x"]));
        let err: Result<Value, Refusal> = Err(Refusal::new("no jail"));
        assert_eq!(
            decode_reply(&encode_reply(&err)),
            Err(Some(Refusal::new("no jail")))
        );
        assert_eq!(decode_reply("garbage"), Err(None));
    }

    /// A refusal with Fail2ban's exception: both travel, and fail2ban-client's
    /// output is made from the exception.
    #[test]
    fn refusals_carry_fail2bans_exception() {
        let exception = |name: &str, arg: &str| PyValue::Exception {
            module: "builtins".into(),
            name: name.into(),
            args: vec![PyValue::str(arg)],
        };
        let unknown = Refusal {
            message: "Sorry but the jail 'nope' does not exist".into(),
            exception: Some(PyValue::Exception {
                module: "fail2ban.exceptions".into(),
                name: "UnknownJailException".into(),
                args: vec![PyValue::str("nope")],
            }),
        };
        let sent: Result<Value, Refusal> = Err(unknown.clone());
        let got = decode_reply(&encode_reply(&sent)).unwrap_err().unwrap();
        assert_eq!(got, unknown);
        assert_eq!(
            got.fail2ban_text(),
            "Sorry but the jail 'nope' does not exist"
        );
        assert_eq!(got.fail2ban_args(), "('nope',)");
        let missing = Refusal {
            message: "Invalid Action name: x".into(),
            exception: Some(exception("KeyError", "Invalid Action name: x")),
        };
        assert_eq!(missing.fail2ban_text(), "'Invalid Action name: x'");
        assert_eq!(Refusal::new("why").fail2ban_args(), "('why',)");
    }
}
