//! The client end of the control socket: one request, one answer, in the protocol
//! of the server that listens there.
//!
//! Owns finding out which server that is — ferroban, or Fail2ban's own Python
//! `fail2ban-server` during a migration, told apart by the process listening on
//! the socket — and speaking its protocol, with a time limit on every step so
//! that no call hangs. What the words mean and how answers are shown is the
//! caller's.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ferroban_cli::fail2ban_protocol::{self, CLOSE, END};
use ferroban_cli::protocol;
use ferroban_cli::protocol::Refusal;
use serde_json::Value;

use crate::server::control::peer_credentials;

/// How long a request may wait for its answer by default (as long as
/// fail2ban-client waits).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest answer read from a Fail2ban server.
const MAX_ANSWER: usize = 64 << 20;

/// Send one command and return its result, waiting at most [`DEFAULT_TIMEOUT`].
pub fn request(socket: &Path, words: &[String]) -> Result<Value, ClientError> {
    request_within(socket, words, DEFAULT_TIMEOUT)
}

/// Send one command and return its result, waiting at most `timeout` for each
/// read and write.
pub fn request_within(
    socket: &Path,
    words: &[String],
    timeout: Duration,
) -> Result<Value, ClientError> {
    let stream = connect_within(socket, timeout).map_err(|e| match e.kind() {
        std::io::ErrorKind::TimedOut => ClientError::Timeout {
            socket: socket.to_path_buf(),
            seconds: timeout.as_secs_f64(),
            server: "a server that accepts no connection".into(),
        },
        _ => ClientError::Connect(socket.to_path_buf(), e),
    })?;
    stream
        .set_read_timeout(Some(timeout))
        .and_then(|_| stream.set_write_timeout(Some(timeout)))
        .map_err(ClientError::Io)?;
    let server = Listener::of(&stream);
    let asked = Asked {
        socket,
        server: &server,
        timeout,
    };
    match server {
        Listener::Fail2ban { .. } => asked.fail2ban(stream, words),
        Listener::Ferroban | Listener::Unknown(_) => asked.json(stream, words),
    }
}

/// The jails of the server listening on `socket` (Fail2ban's, or another
/// ferroban's), where its process runs in this process's network namespace: its
/// firewall is this one's. `None` when nothing answers there, when it runs in
/// another namespace, or when its answer has no jail list.
pub fn jails_sharing_this_firewall(socket: &Path) -> Option<Vec<String>> {
    let timeout = Duration::from_secs(2);
    let stream = connect_within(socket, timeout).ok()?;
    let pid = peer_credentials(&stream)?.pid;
    drop(stream);
    let namespace = |process: &str| std::fs::read_link(format!("/proc/{process}/ns/net")).ok();
    if pid <= 0 || namespace(&pid.to_string())? != namespace("self")? {
        return None;
    }
    let status = request_within(socket, &["status".to_string()], timeout).ok()?;
    let list = (status.as_array()?.iter())
        .find(|pair| pair.get(0).and_then(Value::as_str) == Some("Jail list"))?
        .get(1)?
        .as_str()?;
    let names = list.split(',').map(str::trim).filter(|n| !n.is_empty());
    Some(names.map(str::to_string).collect())
}

/// Connect, giving up after `timeout`: a server that accepts nothing fills its
/// queue, and then a plain connect would wait for ever.
fn connect_within(socket: &Path, timeout: Duration) -> std::io::Result<UnixStream> {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::io::FromRawFd;

    let path = socket.as_os_str().as_bytes();
    // SAFETY: sockaddr_un is plain data; all zeroes is a valid value.
    let mut address: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    if path.len() >= address.sun_path.len() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the socket path is too long",
        ));
    }
    address.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (to, from) in address.sun_path.iter_mut().zip(path) {
        *to = *from as libc::c_char;
    }
    // SAFETY: creates a new descriptor, owned by the UnixStream made from it below.
    let fd = unsafe {
        libc::socket(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
            0,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh socket nobody else owns; the stream closes it.
    let stream = unsafe { UnixStream::from_raw_fd(fd) };
    let deadline = std::time::Instant::now() + timeout;
    loop {
        // SAFETY: address is initialised and its size is given.
        let rc = unsafe {
            libc::connect(
                fd,
                (&address as *const libc::sockaddr_un).cast(),
                std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t,
            )
        };
        if rc == 0 {
            break;
        }
        let error = std::io::Error::last_os_error();
        match error.kind() {
            // The server's queue is full (a Unix socket says so instead of waiting).
            std::io::ErrorKind::WouldBlock if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            std::io::ErrorKind::WouldBlock => {
                return Err(std::io::Error::new(std::io::ErrorKind::TimedOut, error))
            }
            std::io::ErrorKind::Interrupted => {}
            _ => return Err(error),
        }
    }
    stream.set_nonblocking(false)?;
    Ok(stream)
}

/// The process listening on the socket, as far as it can be told.
enum Listener {
    Ferroban,
    /// Fail2ban's Python server: its pid and command line.
    Fail2ban {
        pid: i32,
        command: String,
    },
    /// Not known (another pid namespace, or /proc not readable): what is known.
    Unknown(String),
}

impl Listener {
    /// A Python interpreter is Fail2ban's server (ferroban is never one); any
    /// other program is taken to speak ferroban's protocol.
    fn of(stream: &UnixStream) -> Listener {
        let Some(pid) = peer_credentials(stream).map(|c| c.pid).filter(|&p| p > 0) else {
            return Listener::Unknown("a server whose process cannot be seen".into());
        };
        let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok();
        let command = std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|raw| {
                String::from_utf8_lossy(&raw)
                    .split('\0')
                    .filter(|w| !w.is_empty())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default();
        // The executable's name; its first word when /proc hides the link.
        let program = exe
            .unwrap_or_else(|| PathBuf::from(command.split(' ').next().unwrap_or_default()))
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if program.starts_with("python") {
            Listener::Fail2ban { pid, command }
        } else if program.starts_with("ferroban") || program.starts_with("fail2ban-server") {
            Listener::Ferroban
        } else {
            Listener::Unknown(format!("pid {pid}: {command}"))
        }
    }

    fn describe(&self) -> String {
        match self {
            Listener::Ferroban => "ferroban".into(),
            Listener::Fail2ban { pid, command } => {
                format!("a Python server, spoken to as Fail2ban's; pid {pid}: {command}")
            }
            Listener::Unknown(what) => what.clone(),
        }
    }
}

/// One request under way.
struct Asked<'a> {
    socket: &'a Path,
    server: &'a Listener,
    timeout: Duration,
}

impl Asked<'_> {
    /// An I/O error, with a time-out said as such.
    fn failed(&self, e: std::io::Error) -> ClientError {
        match e.kind() {
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => ClientError::Timeout {
                socket: self.socket.to_path_buf(),
                seconds: self.timeout.as_secs_f64(),
                server: self.server.describe(),
            },
            _ => ClientError::Io(e),
        }
    }

    /// ferroban's JSON lines.
    fn json(&self, stream: UnixStream, words: &[String]) -> Result<Value, ClientError> {
        let mut writer = Sender(stream.try_clone().map_err(ClientError::Io)?);
        let sent = writer.write_all(protocol::encode_request(words).as_bytes());
        let mut line = String::new();
        // A refusal may arrive although the request could not be sent whole.
        let read = BufReader::new(stream).read_line(&mut line);
        if line.is_empty() {
            sent.map_err(|e| self.failed(e))?;
            read.map_err(|e| self.failed(e))?;
        }
        protocol::decode_reply(&line).map_err(|e| match e {
            Some(error) => ClientError::Server(error),
            None => ClientError::Protocol(line.clone()),
        })
    }

    /// Fail2ban's pickles, to a Python fail2ban-server.
    fn fail2ban(&self, stream: UnixStream, words: &[String]) -> Result<Value, ClientError> {
        // Fail2ban's reload carries the configuration as its own client read it, in
        // its server's internal form; sent bare, its server fails with a Python
        // error about missing arguments.
        if words.first().is_some_and(|w| w == "reload") {
            return Err(ClientError::Server(Refusal::new(format!(
                "a reload of Fail2ban's own server is sent by Fail2ban's client, which reads \
                 the configuration for it: run /usr/bin/fail2ban-client -s {} reload",
                self.socket.display()
            ))));
        }
        let mut writer = Sender(stream.try_clone().map_err(ClientError::Io)?);
        // Fail2ban knows no "extended" status (it would log a warning and answer
        // the basic one).
        let words = match words {
            [status, jail, flavour] if status == "status" && flavour == "extended" => &words[..2],
            _ => words,
        };
        writer
            .write_all(&fail2ban_protocol::encode_request(words))
            .map_err(|e| self.failed(e))?;
        let answer = fail2ban_protocol::read_message(&mut BufReader::new(stream), MAX_ANSWER)
            .map_err(|e| self.failed(e))?
            .ok_or_else(|| ClientError::Protocol("the server closed the connection".into()))?;
        let _ = writer.write_all(&[CLOSE, END].concat());
        fail2ban_protocol::decode_answer(&answer)
            .map_err(|e| ClientError::Protocol(e.to_string()))?
            .map_err(ClientError::Server)
    }
}

/// The writing end of a connection, which never raises SIGPIPE: a server that hung
/// up is an error to report, while the client lets SIGPIPE end it quietly when its
/// own output is closed (`ferroban banned | grep -q ADDR`).
struct Sender(UnixStream);

impl Write for Sender {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        use std::os::fd::AsRawFd;
        // SAFETY: the descriptor is the stream's, open while `self` lives; `bytes`
        // is valid for `bytes.len()` bytes. `send` honours the stream's write timeout.
        let sent = unsafe {
            libc::send(
                self.0.as_raw_fd(),
                bytes.as_ptr().cast(),
                bytes.len(),
                libc::MSG_NOSIGNAL,
            )
        };
        usize::try_from(sent).map_err(|_| std::io::Error::last_os_error())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Why a client request failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot connect to {0}: {1} (is the server running? are you root?)")]
    Connect(PathBuf, std::io::Error),
    #[error("{0}")]
    Io(std::io::Error),
    #[error("no answer from {socket} within {seconds} s (the server there: {server})")]
    Timeout {
        socket: PathBuf,
        seconds: f64,
        server: String,
    },
    #[error("unexpected answer from the server: {0:?}")]
    Protocol(String),
    #[error("{0}")]
    Server(Refusal),
}
