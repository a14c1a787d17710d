//! Fail2ban's protocol on the control socket: the conversation with a client
//! written for fail2ban-server (Debian's `fail2ban-client`, exporters, web UIs).
//!
//! Owns the translation both ways: a pickled request into ferroban's command
//! words (plus the requests only Fail2ban's client sends: the configuration stream
//! of `reload` and `start`, `server-status`, `echo`), and a command's result into
//! the Python values fail2ban-server answers with (tuples where it has tuples, its
//! exceptions for failures). It decodes with the data-only decoder and carries out
//! nothing itself: commands go to the server thread through `ask`.

use std::io::{BufRead, Write};

use ferroban_cli::fail2ban_protocol::{self, CLOSE};
use ferroban_cli::pickle::{self, PyValue};
use ferroban_cli::protocol::MAX_REQUEST;
use serde_json::Value;

use super::commands::{CommandError, Reply};

/// What a request asks for.
enum Request {
    /// A command for the server thread.
    Run(Vec<String>),
    /// A request answered here, without the server.
    Answer(PyValue),
}

/// Serve one connection until the client closes it, or the server goes away
/// (`ask` answers `None`).
pub fn converse(
    reader: &mut impl BufRead,
    writer: &mut impl Write,
    mut ask: impl FnMut(Vec<String>) -> Option<Reply>,
) {
    loop {
        let message = match fail2ban_protocol::read_message(reader, MAX_REQUEST) {
            Ok(Some(message)) => message,
            Ok(None) => return,
            Err(e) => {
                // Too long, or cut off: say why (if the client still listens) and close.
                let _ = writer.write_all(&fail2ban_protocol::encode_answer(Err(exception(
                    CommandError::BadValue(format!("bad request: {e}")),
                ))));
                return;
            }
        };
        if message == CLOSE {
            return;
        }
        let outcome = match pickle::decode_request(&message).map_err(|e| e.to_string()) {
            Err(why) => Err(exception(CommandError::BadValue(format!(
                "bad request: {why}"
            )))),
            Ok(value) => match translate(value) {
                Err(why) => Err(exception(CommandError::Invalid(why))),
                Ok(Request::Answer(value)) => Ok(value),
                Ok(Request::Run(words)) => match ask(words.clone()) {
                    None => return,
                    Some(reply) => reply.map(|v| shape(&words, &v)).map_err(exception),
                },
            },
        };
        if writer
            .write_all(&fail2ban_protocol::encode_answer(outcome))
            .is_err()
        {
            return;
        }
    }
}

/// ferroban's words for a decoded request.
fn translate(value: PyValue) -> Result<Request, String> {
    let items = match value {
        PyValue::List(items) | PyValue::Tuple(items) => items,
        _ => return Err("a request is a list of words".into()),
    };
    let Some(command) = items.first().and_then(PyValue::as_str) else {
        return Err("a request starts with a command word".into());
    };
    Ok(match command {
        // `['reload', JAIL or '--all', OPTIONS, STREAM]`: the stream is the
        // configuration as the Python client read it; ferroban reads its own.
        "reload" => {
            let mut words = vec!["reload".to_string()];
            if let Some(jail) = items.get(1).and_then(PyValue::as_str) {
                if jail != "--all" {
                    words.push(jail.to_string());
                }
            }
            if let Some(PyValue::List(options)) = items.get(2) {
                let known = ["--unban", "--restart", "--if-exists"];
                words.extend(
                    options
                        .iter()
                        .filter_map(PyValue::as_str)
                        .filter(|o| known.contains(o))
                        .map(String::from),
                );
            }
            Request::Run(words)
        }
        // Sent by the Python client after it started a server: the configuration
        // (which ferroban has already read from disk), then a readiness question.
        "server-stream" => Request::Answer(PyValue::None),
        "server-status" => Request::Answer(PyValue::str("Server ready")),
        // Fail2ban's pause of this connection alone (the server reads on), at most
        // an hour here
        "sleep" => {
            let seconds = items
                .get(1)
                .and_then(PyValue::as_str)
                .and_then(|s| s.trim().parse::<f64>().ok())
                .filter(|s| s.is_finite() && *s >= 0.0)
                .ok_or("sleep takes a number of seconds")?;
            std::thread::sleep(std::time::Duration::from_secs_f64(seconds.min(3600.0)));
            Request::Answer(PyValue::None)
        }
        // Fail2ban's client sends a jail's settings one by one with `multi-set`
        // in the stream it reads itself; sent alone, it is `set`.
        "multi-set" => Request::Run(
            std::iter::once(Some("set".to_string()))
                .chain(items[1..].iter().map(fail2ban_protocol::word))
                .collect::<Option<_>>()
                .ok_or("multi-set takes words only")?,
        ),
        "echo" => Request::Answer(PyValue::List(items[1..].to_vec())),
        // Tools written for Fail2ban's socket check its version, not ferroban's.
        "version" => Request::Answer(PyValue::str(ferroban_config::jail::FAIL2BAN_COMPAT_VERSION)),
        // fail2ban-server knows no "extended" status and answers the basic one;
        // Fail2ban's clients get exactly that shape, or its `short` flavor (without
        // the banned addresses).
        "status" => {
            let short = items.get(2).and_then(PyValue::as_str) == Some("short");
            let words: Option<Vec<String>> =
                items.iter().take(2).map(fail2ban_protocol::word).collect();
            let mut words = words.ok_or("status takes a jail name")?;
            if short {
                words.push("short".into());
            }
            Request::Run(words)
        }
        _ => Request::Run(
            items
                .iter()
                .map(fail2ban_protocol::word)
                .collect::<Option<_>>()
                .ok_or_else(|| format!("{command} takes words only"))?,
        ),
    })
}

/// A command's result in the Python shape fail2ban-server gives it.
fn shape(words: &[String], result: &Value) -> PyValue {
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    match (w.as_slice(), result) {
        // [("Number of jail", 1), ("Jail list", "sshd")]
        (["status"], _) => pairs(result),
        // [("Filter", [(name, value), …]), ("Actions", [(name, value), …])]
        (["status", _] | ["status", _, "short"], Value::Array(sections)) => PyValue::List(
            sections
                .iter()
                .map(|section| match section.as_array().map(Vec::as_slice) {
                    Some([name, rows]) => {
                        PyValue::Tuple(vec![fail2ban_protocol::from_json(name), pairs(rows)])
                    }
                    _ => fail2ban_protocol::from_json(section),
                })
                .collect(),
        ),
        // (pattern, name)
        (["get" | "set", _, "datepattern", ..], Value::Array(pair)) => {
            PyValue::Tuple(pair.iter().map(fail2ban_protocol::from_json).collect())
        }
        // a compiled regex, as Python pickles one: `re._compile(pattern, re.UNICODE)`
        (["get", _, "action", _, "ESCAPE_CRE" | "ESCAPE_VN_CRE"], Value::String(pattern)) => {
            PyValue::Exception {
                module: "re".into(),
                name: "_compile".into(),
                args: vec![PyValue::str(pattern.as_str()), PyValue::Int(32)],
            }
        }
        _ => fail2ban_protocol::from_json(result),
    }
}

/// A JSON list of `[name, value]` pairs as a list of tuples.
fn pairs(rows: &Value) -> PyValue {
    match rows {
        Value::Array(rows) => PyValue::List(
            rows.iter()
                .map(|row| match row {
                    Value::Array(pair) => {
                        PyValue::Tuple(pair.iter().map(fail2ban_protocol::from_json).collect())
                    }
                    other => fail2ban_protocol::from_json(other),
                })
                .collect(),
        ),
        other => fail2ban_protocol::from_json(other),
    }
}

/// The exception fail2ban-server would answer for `error` (see
/// [`CommandError::exception`]).
fn exception(error: CommandError) -> PyValue {
    error.exception()
}
