//! Fail2ban's socket protocol, the second language of the control socket.
//!
//! A request is a pickled list of words followed by [`END`]; the answer is a
//! pickled `(code, result)` (code 0, or 1 with an exception as the result)
//! followed by [`END`]; [`CLOSE`] then [`END`] ends the conversation. Owns the
//! framing, which connections speak it, and the translation between pickled
//! values and the JSON values ferroban's commands use. The pickle format itself is
//! [`crate::pickle`]'s; what a command answers is the server's.

use std::io::{BufRead, Read};

use serde_json::Value;

use crate::pickle::{self, PyValue};
use crate::protocol::Refusal;
use crate::python;

/// Ends every message, both ways.
pub const END: &[u8] = b"<F2B_END_COMMAND>";
/// Sent (followed by [`END`]) by a client that is done.
pub const CLOSE: &[u8] = b"<F2B_CLOSE_COMMAND>";

/// Whether a connection that starts with `byte` speaks Fail2ban's protocol: a
/// pickle of protocol 2 or later starts with 0x80; a list pickled without a
/// protocol header (protocols 0 and 1, and some other languages' encoders) with
/// `]` or `(`; and a client may close at once (`<F2B_CLOSE_COMMAND>`). ferroban's
/// JSON lines start with `[`, `{` or blanks, and anything else is answered as JSON.
pub fn speaks_fail2ban(byte: u8) -> bool {
    matches!(byte, 0x80 | b'<' | b']' | b'(')
}

/// One message: the bytes before the next [`END`]; `None` at the end of the
/// stream. A message longer than `limit` bytes is an error (`InvalidData`), and
/// so is a stream that ends inside a message.
pub fn read_message(reader: &mut impl BufRead, limit: usize) -> std::io::Result<Option<Vec<u8>>> {
    let mut message = Vec::new();
    let mut bounded = reader.take(limit as u64 + END.len() as u64);
    loop {
        let before = message.len();
        let n = bounded.read_until(b'>', &mut message)?;
        if message.ends_with(END) {
            message.truncate(message.len() - END.len());
            return Ok(Some(message));
        }
        if n == 0 {
            if before == 0 {
                return Ok(None);
            }
            let why = if message.len() >= limit {
                format!("a request longer than {limit} bytes")
            } else {
                "the stream ended inside a request".to_string()
            };
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, why));
        }
    }
}

/// The bytes of a request for `words`.
pub fn encode_request(words: &[String]) -> Vec<u8> {
    let list = PyValue::List(words.iter().map(PyValue::str).collect());
    let mut bytes = pickle::encode(&list);
    bytes.extend(END);
    bytes
}

/// The bytes of an answer: `(0, result)`, or `(1, exception)`.
pub fn encode_answer(outcome: Result<PyValue, PyValue>) -> Vec<u8> {
    let (code, value) = match outcome {
        Ok(v) => (0, v),
        Err(e) => (1, e),
    };
    let mut bytes = pickle::encode(&PyValue::Tuple(vec![PyValue::Int(code), value]));
    bytes.extend(END);
    bytes
}

/// A server's answer (without its [`END`]) as ferroban's client takes it: the
/// result as JSON, or the refusal (with the server's exception).
pub fn decode_answer(message: &[u8]) -> Result<Result<Value, Refusal>, pickle::PickleError> {
    Ok(match pickle::decode_answer(message)? {
        PyValue::Tuple(pair) => match pair.as_slice() {
            [PyValue::Int(0), result] => Ok(to_json(result)),
            [_, exception @ PyValue::Exception { module, name, args }] => Err(Refusal {
                message: exception_text(module, name, args),
                exception: Some(exception.clone()),
            }),
            [_, other] => Err(Refusal::new(python::str(other))),
            _ => Err(Refusal::new(format!("unexpected answer {pair:?}"))),
        },
        // fail2ban-server answers a message it cannot read with a bare string.
        other => Err(Refusal::new(python::str(&other))),
    })
}

/// What Fail2ban's client prints for an exception from the server (its
/// beautifier's `beautifyError`, then Python's `str()` of the exception).
pub fn exception_text(module: &str, name: &str, args: &[PyValue]) -> String {
    match (name, args.first()) {
        ("UnknownJailException", Some(PyValue::Str(jail))) => {
            format!("Sorry but the jail '{jail}' does not exist")
        }
        ("DuplicateJailException", Some(PyValue::Str(jail))) => {
            format!("The jail '{jail}' already exists")
        }
        ("IndexError", _) => "Sorry but the command is invalid".to_string(),
        _ => python::str(&PyValue::Exception {
            module: module.to_string(),
            name: name.to_string(),
            args: args.to_vec(),
        }),
    }
}

/// A request's word as Fail2ban's server reads it: text as is, other scalars as
/// Python's `str()` writes them; `None` for a nested value.
pub fn word(value: &PyValue) -> Option<String> {
    match value {
        PyValue::Str(s) => Some(s.clone()),
        PyValue::Bytes(_)
        | PyValue::List(_)
        | PyValue::Tuple(_)
        | PyValue::Dict(_)
        | PyValue::Set(_)
        | PyValue::Exception { .. } => None,
        scalar => Some(python::str(scalar)),
    }
}

/// A pickled value as JSON: tuples and sets become arrays, dict keys text.
pub fn to_json(value: &PyValue) -> Value {
    match value {
        PyValue::None => Value::Null,
        PyValue::Bool(b) => Value::Bool(*b),
        PyValue::Int(v) => Value::from(*v),
        PyValue::Float(v) => Value::from(*v),
        PyValue::Str(s) => Value::String(s.clone()),
        PyValue::Bytes(b) => Value::String(String::from_utf8_lossy(b).into_owned()),
        PyValue::List(items) | PyValue::Tuple(items) | PyValue::Set(items) => {
            Value::Array(items.iter().map(to_json).collect())
        }
        PyValue::Dict(pairs) => Value::Object(
            pairs
                .iter()
                .map(|(k, v)| (python::str(k), to_json(v)))
                .collect(),
        ),
        PyValue::Exception { module, name, args } => {
            Value::String(exception_text(module, name, args))
        }
    }
}

/// A JSON value as the Python value Fail2ban's server would answer: arrays are
/// lists (the caller makes tuples where Fail2ban has them).
pub fn from_json(value: &Value) -> PyValue {
    match value {
        Value::Null => PyValue::None,
        Value::Bool(b) => PyValue::Bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => PyValue::Int(i),
            None => PyValue::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => PyValue::str(s.as_str()),
        Value::Array(items) => PyValue::List(items.iter().map(from_json).collect()),
        Value::Object(map) => PyValue::Dict(
            map.iter()
                .map(|(k, v)| (PyValue::str(k.as_str()), from_json(v)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_split_at_the_end_marker_only() {
        let mut stream: Vec<u8> = b"a>b".to_vec();
        stream.extend(END);
        stream.extend(CLOSE);
        stream.extend(END);
        stream.extend(b"partial");
        let mut reader = std::io::BufReader::new(stream.as_slice());
        assert_eq!(
            read_message(&mut reader, 100).unwrap(),
            Some(b"a>b".to_vec())
        );
        assert_eq!(
            read_message(&mut reader, 100).unwrap(),
            Some(CLOSE.to_vec())
        );
        assert!(
            read_message(&mut reader, 100).is_err(),
            "a stream ending inside a message"
        );
        assert_eq!(read_message(&mut reader, 100).unwrap(), None);
        let long = [vec![b'x'; 200], END.to_vec()].concat();
        let err = read_message(&mut std::io::BufReader::new(long.as_slice()), 100).unwrap_err();
        assert!(err.to_string().contains("longer than 100"), "{err}");
    }

    #[test]
    fn answers_read_as_fail2ban_client_shows_them() {
        let ok = encode_answer(Ok(PyValue::List(vec![PyValue::Tuple(vec![
            PyValue::str("Number of jail"),
            PyValue::Int(1),
        ])])));
        let body = &ok[..ok.len() - END.len()];
        assert_eq!(
            decode_answer(body).unwrap(),
            Ok(serde_json::json!([["Number of jail", 1]]))
        );
        let unknown = encode_answer(Err(PyValue::Exception {
            module: "fail2ban.exceptions".into(),
            name: "UnknownJailException".into(),
            args: vec![PyValue::str("nope")],
        }));
        let refused = decode_answer(&unknown[..unknown.len() - END.len()])
            .unwrap()
            .unwrap_err();
        assert_eq!(refused.message, "Sorry but the jail 'nope' does not exist");
        assert_eq!(refused.fail2ban_args(), "('nope',)");
        assert_eq!(word(&PyValue::Float(0.1)).as_deref(), Some("0.1"));
        assert_eq!(word(&PyValue::Float(1.0)).as_deref(), Some("1.0"));
        assert_eq!(word(&PyValue::List(vec![])), None);
        let request = encode_request(&["status".to_string()]);
        assert_eq!(
            crate::pickle::decode_request(&request[..request.len() - END.len()]),
            Ok(PyValue::List(vec![PyValue::str("status")]))
        );
    }
}
