//! `smtp-auth-port-25`: does the mail server offer AUTH to strangers on port 25?
//!
//! Speaks just enough SMTP to see (greeting, EHLO, QUIT) with the SMTP server on
//! `--smtp` (default 127.0.0.1:25), and notes whether Postfix runs postscreen in
//! front of it (`postconf -M`, which honours `MAIL_CONFIG`). Port 25 is where
//! other servers deliver; submission (587/465) is where users log in, so AUTH on
//! 25 only invites password guessing. No TLS is spoken: a server that offers
//! STARTTLS is judged on what it offers before it (AUTH after TLS is not checked).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use super::{run_program, Finding, Scope};

/// How long the server may take to greet (postscreen waits several seconds
/// before its greeting on purpose) and to answer EHLO.
const SMTP_TIMEOUT: Duration = Duration::from_secs(15);

pub fn auth_on_port_25(ctx: &Scope) -> Finding {
    let addr: SocketAddr = match ctx.smtp.to_socket_addrs().map(|mut a| a.next()) {
        Ok(Some(a)) => a,
        _ => return Finding::skip(format!("cannot read the address {}", ctx.smtp)),
    };
    let postscreen = postscreen_note();
    match ehlo(addr, SMTP_TIMEOUT) {
        Ok(extensions) => judge(addr, &extensions, &postscreen),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            Finding::pass(format!("no SMTP server on {addr}{postscreen}"))
        }
        Err(e) => Finding::skip(format!("SMTP on {addr}: {e}")),
    }
}

/// The finding for the EHLO `extensions` of the server on `addr`. AUTH is looked
/// for before STARTTLS only: a server that offers STARTTLS may offer AUTH after
/// it, which would take TLS to see.
fn judge(addr: SocketAddr, extensions: &[String], postscreen: &str) -> Finding {
    let offers = |name: &str| {
        extensions.iter().find(|e| {
            let upper = e.to_ascii_uppercase();
            // `AUTH=LOGIN` is how Postfix offers AUTH to old clients.
            upper == name
                || upper.starts_with(&format!("{name} "))
                || upper.starts_with(&format!("{name}="))
        })
    };
    match offers("AUTH") {
        Some(line) => Finding::warn(
            format!("{addr} offers {line}{postscreen}"),
            concat!(
                "offer AUTH only on submission: in Postfix's main.cf \
                 `smtpd_sasl_auth_enable = no`, and `-o smtpd_sasl_auth_enable=yes` on the \
                 submission/smtps lines of master.cf (see ",
                hardening_guide!(),
                ")"
            ),
        ),
        None if offers("STARTTLS").is_some() => Finding::pass(format!(
            "{addr} does not offer AUTH before STARTTLS (it offers STARTTLS; AUTH after TLS is \
             not checked){postscreen}"
        )),
        None => Finding::pass(format!("{addr} does not offer AUTH{postscreen}")),
    }
}

/// Greet, send EHLO, and return the extensions the server lists; the greeting and
/// the answer to EHLO must come within `timeout`.
fn ehlo(addr: SocketAddr, timeout: Duration) -> std::io::Result<Vec<String>> {
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    let deadline = Instant::now() + timeout;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    let in_time = |what: &str| {
        let what = format!("no {what} within {} s", timeout.as_secs_f64());
        move |e: std::io::Error| match e.kind() {
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => protocol_error(what),
            _ => e,
        }
    };
    let greeting = reply(&mut reader, deadline).map_err(in_time("greeting"))?;
    if !greeting.first().is_some_and(|l| l.starts_with("220")) {
        return Err(protocol_error(format!("greeting {greeting:?}")));
    }
    writer.write_all(b"EHLO audit.ferroban.invalid\r\n")?;
    let answer = reply(&mut reader, deadline).map_err(in_time("answer to EHLO"))?;
    let _ = writer.write_all(b"QUIT\r\n");
    if !answer.first().is_some_and(|l| l.starts_with("250")) {
        return Err(protocol_error(format!("EHLO answered {answer:?}")));
    }
    Ok(answer
        .iter()
        .skip(1)
        .map(|l| l[4.min(l.len())..].to_string())
        .collect())
}

/// One SMTP reply: its lines (`250-…` continued, `250 …` last), within `deadline`.
fn reply(reader: &mut BufReader<TcpStream>, deadline: Instant) -> std::io::Result<Vec<String>> {
    let mut lines = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || lines.len() > 100 {
            return Err(protocol_error("no complete reply in time".into()));
        }
        reader.get_ref().set_read_timeout(Some(left))?;
        let mut line = String::new();
        if std::io::Read::by_ref(reader)
            .take(1024)
            .read_line(&mut line)?
            == 0
        {
            return Err(protocol_error("the server closed the connection".into()));
        }
        let line = line.trim_end().to_string();
        let last = line.as_bytes().get(3) != Some(&b'-');
        lines.push(line);
        if last {
            return Ok(lines);
        }
    }
}

fn protocol_error(what: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what)
}

/// `; postscreen on` / `; postscreen off` when Postfix is installed, else nothing.
fn postscreen_note() -> String {
    match run_program("postconf", &["-M", "smtp/inet"]) {
        Ok(out) if out.success => {
            if out.stdout.split_whitespace().any(|w| w == "postscreen") {
                "; postscreen on".into()
            } else {
                "; postscreen off (the guide runs it on port 25)".into()
            }
        }
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::Status;
    use super::*;

    fn extensions(lines: &[&str]) -> Vec<String> {
        lines.iter().map(|l| l.to_string()).collect()
    }

    #[test]
    fn auth_before_starttls_only_is_what_is_checked() {
        let addr: SocketAddr = "127.0.0.1:25".parse().unwrap();
        let f = judge(
            addr,
            &extensions(&["PIPELINING", "STARTTLS", "8BITMIME"]),
            "",
        );
        assert_eq!(f.status, Status::Pass);
        assert_eq!(
            f.seen,
            "127.0.0.1:25 does not offer AUTH before STARTTLS (it offers STARTTLS; AUTH after \
             TLS is not checked)"
        );
        let f = judge(addr, &extensions(&["PIPELINING"]), "; postscreen on");
        assert_eq!(f.seen, "127.0.0.1:25 does not offer AUTH; postscreen on");
        let f = judge(addr, &extensions(&["STARTTLS", "AUTH PLAIN LOGIN"]), "");
        assert_eq!(f.status, Status::Warn);
        assert!(f.seen.contains("offers AUTH PLAIN LOGIN"), "{}", f.seen);
        let f = judge(addr, &extensions(&["AUTH=LOGIN"]), "");
        assert_eq!(f.status, Status::Warn);
    }

    #[test]
    fn a_server_that_never_greets_is_named_so() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let silent = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            std::thread::sleep(Duration::from_millis(600));
            drop(stream);
        });
        let e = ehlo(addr, Duration::from_millis(200)).unwrap_err();
        assert_eq!(e.to_string(), "no greeting within 0.2 s");
        silent.join().unwrap();
    }
}
