//! The server's HTTP listener: `/metrics`, and with `dashboard = true` the
//! dashboard's page and API.
//!
//! Owns the socket side of HTTP: one short-lived thread per connection (at most
//! [`MAX_CONNECTIONS`] at once), a bounded request read (head and body), the
//! headers every answer carries, and the link to the server thread. It never
//! touches server state: it asks the server thread through the event channel,
//! like a client on the control socket. What a path means is the dashboard's
//! business (`super::dashboard`), not this module's.

use std::borrow::Cow;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{channel, SyncSender};
use std::sync::Arc;
use std::time::Duration;

use super::dashboard::Dashboard;
use super::Event;

/// Connections served at once; more are answered 503 at once.
const MAX_CONNECTIONS: usize = 16;
/// The request line and headers, at most.
const MAX_HEAD: usize = 8 * 1024;
/// A request body, at most (the dashboard's writes are a few dozen bytes).
const MAX_BODY: usize = 4 * 1024;
/// How long a client may take to send its request, or to take the answer.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the server thread may take to answer.
const SERVER_TIMEOUT: Duration = Duration::from_secs(10);

/// One HTTP request, read whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// The path without the query.
    pub path: String,
    /// What follows `?`, undecoded.
    pub query: String,
    /// Names in lower case.
    headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub peer: SocketAddr,
}

impl Request {
    /// The first header called `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The decoded value of `key` in the query.
    pub fn query_value(&self, key: &str) -> Option<String> {
        self.query.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k == key).then(|| percent_decode(v))
        })
    }
}

/// `%XX` and `+` decoded; malformed escapes are kept as written.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One answer.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub headers: Vec<(&'static str, String)>,
    pub body: Cow<'static, [u8]>,
}

impl Response {
    pub fn new(
        status: u16,
        content_type: &'static str,
        body: impl Into<Cow<'static, [u8]>>,
    ) -> Self {
        Response {
            status,
            content_type,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    pub fn text(status: u16, body: impl Into<String>) -> Self {
        Response::new(
            status,
            "text/plain; charset=utf-8",
            body.into().into_bytes(),
        )
    }

    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        Response::new(status, "application/json", value.to_string().into_bytes())
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        415 => "Unsupported Media Type",
        421 => "Misdirected Request",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

/// Why the server thread gave no value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AskError {
    /// The command was refused (no such jail, a bad argument): the asker's fault.
    Refused(String),
    /// The server is stopping or did not answer in time.
    Unavailable(&'static str),
}

impl AskError {
    /// The HTTP status that says so.
    pub fn status(&self) -> u16 {
        match self {
            AskError::Refused(_) => 400,
            AskError::Unavailable(_) => 503,
        }
    }
}

impl std::fmt::Display for AskError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AskError::Refused(why) => f.write_str(why),
            AskError::Unavailable(why) => f.write_str(why),
        }
    }
}

/// The way to the server thread.
#[derive(Clone)]
pub struct ServerLink {
    events: SyncSender<Event>,
}

impl ServerLink {
    /// Carry out a control command on the server thread.
    pub fn ask(&self, words: &[&str]) -> Result<serde_json::Value, AskError> {
        let (reply, answer) = channel();
        let asked = Event::Command {
            words: words.iter().map(|w| w.to_string()).collect(),
            reply,
        };
        self.events
            .send(asked)
            .map_err(|_| AskError::Unavailable("the server is stopping"))?;
        answer
            .recv_timeout(SERVER_TIMEOUT)
            .map_err(|_| AskError::Unavailable("the server did not answer"))?
            .map_err(|e| AskError::Refused(e.to_string()))
    }
}

/// What the listener serves.
pub struct Routes {
    pub server: ServerLink,
    /// `None`: only the metrics.
    pub dashboard: Option<Dashboard>,
}

impl Routes {
    pub fn new(events: SyncSender<Event>, dashboard: Option<Dashboard>) -> Routes {
        Routes {
            server: ServerLink { events },
            dashboard,
        }
    }

    fn route(&self, request: &Request) -> Response {
        let metrics_path =
            request.path == "/metrics" || (request.path == "/" && self.dashboard.is_none());
        if metrics_path && request.method == "GET" {
            return match self.server.ask(&["metrics"]) {
                Ok(serde_json::Value::String(text)) => {
                    Response::new(200, "text/plain; version=0.0.4", text.into_bytes())
                }
                Ok(_) | Err(_) => Response::text(503, "the server did not answer\n"),
            };
        }
        match &self.dashboard {
            Some(d) => d.handle(request, &self.server),
            None => Response::text(404, "only GET /metrics is served here\n"),
        }
    }
}

/// Serve connections on `listener` for as long as the process runs.
pub fn serve(listener: TcpListener, routes: Routes) {
    let routes = Arc::new(routes);
    let active = Arc::new(AtomicUsize::new(0));
    for mut stream in listener.incoming().flatten() {
        if active.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            active.fetch_sub(1, Ordering::SeqCst);
            let _ = stream.set_write_timeout(Some(CLIENT_TIMEOUT));
            let _ = write_response(&mut stream, &Response::text(503, "too many connections\n"));
            continue;
        }
        let (routes, done) = (routes.clone(), active.clone());
        let spawned = std::thread::Builder::new()
            .name("ferroban-http".into())
            .spawn(move || {
                answer(stream, &routes);
                done.fetch_sub(1, Ordering::SeqCst);
            });
        if spawned.is_err() {
            active.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// Read one request on `stream` and answer it.
fn answer(mut stream: TcpStream, routes: &Routes) {
    // A client that sends nothing, or sends slowly, must not hold a thread long.
    let _ = stream.set_read_timeout(Some(CLIENT_TIMEOUT));
    let _ = stream.set_write_timeout(Some(CLIENT_TIMEOUT));
    let Ok(peer) = stream.peer_addr() else {
        return;
    };
    let response = match read_request(&mut stream, peer) {
        Ok(request) => routes.route(&request),
        Err(refusal) => refusal,
    };
    let _ = write_response(&mut stream, &response);
}

/// Read a request head and its body (by `Content-Length`), within the bounds.
/// The error is the answer to give.
pub fn read_request(stream: &mut impl Read, peer: SocketAddr) -> Result<Request, Response> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        if buf.len() > MAX_HEAD {
            return Err(Response::text(431, "request head too large\n"));
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return Err(Response::text(400, "incomplete request\n")),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = std::str::from_utf8(&buf[..head_end])
        .map_err(|_| Response::text(400, "the request head is not UTF-8\n"))?;
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or("").split(' ');
    let (Some(method), Some(target)) = (first.next(), first.next()) else {
        return Err(Response::text(400, "malformed request line\n"));
    };
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length = match headers.iter().find(|(n, _)| n == "content-length") {
        Some((_, v)) => v
            .parse::<usize>()
            .map_err(|_| Response::text(400, "bad Content-Length\n"))?,
        None => 0,
    };
    if length > MAX_BODY {
        return Err(Response::text(413, "request body too large\n"));
    }
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return Err(Response::text(400, "incomplete body\n")),
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    body.truncate(length);
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    Ok(Request {
        method: method.to_string(),
        path: path.to_string(),
        query: query.to_string(),
        headers,
        body,
        peer,
    })
}

/// Write `response` with the headers every answer carries: no sniffing, no
/// framing, no referrer, and never a CORS header.
fn write_response(stream: &mut impl Write, response: &Response) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\
         X-Content-Type-Options: nosniff\r\nX-Frame-Options: DENY\r\nReferrer-Policy: no-referrer\r\n",
        response.status,
        reason(response.status),
        response.content_type,
        response.body.len()
    );
    for (name, value) in &response.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(&response.body)?;
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer() -> SocketAddr {
        "127.0.0.1:4000".parse().unwrap()
    }

    /// A reader that hands out its bytes a few at a time, as a slow client does.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            let n = self.0.len().min(out.len()).min(7);
            out[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn reads_head_and_body_in_pieces() {
        let raw = b"POST /api/ban?x=a%20b&j=web+1 HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\n{\"a\"}extra";
        let r = read_request(&mut Trickle(raw), peer()).unwrap();
        assert_eq!(r.method, "POST");
        assert_eq!(r.path, "/api/ban");
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.body, b"{\"a\"}");
        assert_eq!(r.query_value("x").as_deref(), Some("a b"));
        assert_eq!(r.query_value("j").as_deref(), Some("web 1"));
        assert_eq!(r.query_value("none"), None);
    }

    #[test]
    fn refuses_oversized_and_incomplete_requests() {
        let huge = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(MAX_HEAD));
        assert_eq!(
            read_request(&mut Trickle(huge.as_bytes()), peer())
                .unwrap_err()
                .status,
            431
        );
        let big_body = format!(
            "POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
            MAX_BODY + 1
        );
        assert_eq!(
            read_request(&mut Trickle(big_body.as_bytes()), peer())
                .unwrap_err()
                .status,
            413
        );
        let short = b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc";
        assert_eq!(
            read_request(&mut Trickle(short), peer())
                .unwrap_err()
                .status,
            400
        );
        assert_eq!(
            read_request(&mut Trickle(b"GET /"), peer())
                .unwrap_err()
                .status,
            400
        );
    }

    #[test]
    fn malformed_escapes_stay_as_written() {
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("%3Cb%3E"), "<b>");
    }

    #[test]
    fn answers_carry_the_protective_headers_and_no_cors() {
        let mut out = Vec::new();
        write_response(
            &mut out,
            &Response::text(200, "hi").with_header("Content-Security-Policy", "default-src 'none'"),
        )
        .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
        assert!(
            text.contains("X-Content-Type-Options: nosniff\r\n"),
            "{text}"
        );
        assert!(text.contains("Content-Security-Policy: default-src 'none'\r\n"));
        assert!(!text.to_lowercase().contains("access-control"), "{text}");
        assert!(text.ends_with("\r\n\r\nhi"));
    }
}
