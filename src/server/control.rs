//! The control socket: a Unix socket that only root (or the server's own user)
//! may use.
//!
//! Owns the connection side of the protocols, chosen per connection by its first
//! byte: ferroban's JSON lines (one JSON array of words per line in, one JSON
//! object per line out: `{"ok": true, "result": …}` or `{"ok": false, "error":
//! "…"}`), or Fail2ban's pickles ([`super::fail2ban_wire`]). Created mode 0600;
//! each connection's peer credentials are checked as well, so a socket made
//! readable by mistake still refuses other users. Commands are carried out by the
//! server thread.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::io::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, SyncSender};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use ferroban_cli::fail2ban_protocol;
use ferroban_cli::protocol::{self, MAX_REQUEST};

use super::commands::{CommandError, Reply};
use super::{fail2ban_wire, Event};

/// Connections served at once; one more waits (unaccepted: the kernel queues it)
/// until one of them ends, as a client of a busy Fail2ban waits. Told it is busy
/// instead, it would be answered before it said anything, so in a protocol it
/// may not speak: Fail2ban's own client failed with "Connection reset by peer".
const MAX_CONNECTIONS: usize = 64;
/// A connection that sends nothing for this long is closed.
const IDLE: Duration = Duration::from_secs(30);

/// The credentials (pid, uid, gid) of the process at the other end of `stream`
/// (for a client: the server that listens; for the server: the client).
pub fn peer_credentials(stream: &UnixStream) -> Option<libc::ucred> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: cred and len are valid for writing and sized for SO_PEERCRED.
    let rc = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    (rc == 0).then_some(cred)
}

/// Bind the socket (mode 0600, its directory 0700 if created here).
pub fn bind(path: &Path) -> std::io::Result<UnixListener> {
    if let Some(dir) = path.parent() {
        if !dir.exists() {
            std::fs::create_dir_all(dir)?;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
    }
    if path.exists() {
        std::fs::remove_file(path)?;
    }
    // Created with no permissions for others from the first moment.
    // SAFETY: umask only changes this process's file creation mask.
    let old = unsafe { libc::umask(0o177) };
    let bound = UnixListener::bind(path);
    // SAFETY: restores the previous mask.
    unsafe { libc::umask(old) };
    let listener = bound?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

/// The connections being served, at most [`MAX_CONNECTIONS`].
#[derive(Default)]
struct Slots {
    open: Mutex<usize>,
    freed: Condvar,
}

impl Slots {
    /// Wait until fewer than [`MAX_CONNECTIONS`] are open, and take a slot.
    fn take(&self) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        while *open >= MAX_CONNECTIONS {
            open = self.freed.wait(open).unwrap_or_else(|e| e.into_inner());
        }
        *open += 1;
    }

    fn give_back(&self) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        *open = open.saturating_sub(1);
        self.freed.notify_one();
    }
}

/// Accept connections until the server goes away.
///
/// Other users are refused right here, without a thread of their own, so that
/// opening connections in a loop costs the server nothing lasting. Permitted
/// clients get a thread each, at most [`MAX_CONNECTIONS`] at once (the next is
/// accepted when one ends), and are closed after [`IDLE`] without a request.
pub fn serve(listener: UnixListener, events: SyncSender<Event>, socket: PathBuf) {
    let own_uid = ferroban_config::settings::current_uid();
    let slots = Arc::new(Slots::default());
    loop {
        slots.take();
        let Ok((mut stream, _)) = listener.accept() else {
            slots.give_back();
            continue;
        };
        if !socket.exists() {
            return;
        }
        if !peer_credentials(&stream).is_some_and(|c| c.uid == 0 || c.uid == own_uid) {
            refuse(
                &mut stream,
                "permission denied: only root may control ferroban",
            );
            slots.give_back();
            continue;
        }
        let events = events.clone();
        let slot = slots.clone();
        let spawned = std::thread::Builder::new()
            .name("ferroban-client".into())
            .spawn(move || {
                connection(stream, events);
                slot.give_back();
            });
        if spawned.is_err() {
            slots.give_back();
        }
    }
}

/// Answer `error` and close. What the client already sent is read (without
/// waiting) first, so that the answer is not lost to a reset.
fn refuse(stream: &mut UnixStream, error: &str) {
    if stream.set_nonblocking(true).is_ok() {
        let mut sink = [0u8; 4096];
        while matches!(std::io::Read::read(stream, &mut sink), Ok(n) if n > 0) {}
        let _ = stream.set_nonblocking(false);
    }
    let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
    let refused = Err(protocol::Refusal::new(error));
    let _ = stream.write_all(protocol::encode_reply(&refused).as_bytes());
}

fn connection(stream: UnixStream, events: SyncSender<Event>) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let _ = stream.set_read_timeout(Some(IDLE));
    let _ = writer.set_write_timeout(Some(IDLE));
    let mut reader = BufReader::new(std::io::Read::take(stream, MAX_REQUEST as u64));
    let first = match reader.fill_buf() {
        Ok([first, ..]) => *first,
        _ => return,
    };
    // The server thread's answer; `None` once it is gone.
    let ask =
        |words: Vec<String>| -> Option<Reply> {
            let (tx, rx) = channel();
            events.send(Event::Command { words, reply: tx }).ok()?;
            Some(rx.recv().unwrap_or_else(|_| {
                Err(CommandError::Failed("the server is shutting down".into()))
            }))
        };
    if fail2ban_protocol::speaks_fail2ban(first) {
        fail2ban_wire::converse(&mut reader, &mut writer, ask);
    } else {
        json_lines(&mut reader, &mut writer, ask);
    }
}

/// ferroban's own protocol: a JSON array of words per line, a JSON answer per line.
fn json_lines(
    reader: &mut impl BufRead,
    writer: &mut impl Write,
    ask: impl Fn(Vec<String>) -> Option<Reply>,
) {
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let outcome = match protocol::decode_request(&line) {
            Ok(words) => match ask(words) {
                Some(reply) => reply.map_err(|e| e.refusal()),
                None => return,
            },
            Err(e) => Err(protocol::Refusal::new(e)),
        };
        // One line in one write (formatting straight into the socket would send
        // every token as a packet of its own).
        if writer
            .write_all(protocol::encode_reply(&outcome).as_bytes())
            .is_err()
        {
            return;
        }
    }
}
