//! The man pages and completions `cargo run -p xtask -- docs DIR` generates: the
//! man pages' SYNOPSIS names each option's value and a FILES section says where
//! everything is; bash completes jail names from the running server, for
//! `ferroban` and under Fail2ban's names.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

mod common;
use common::wait_for;

const BIN: &str = env!("CARGO_BIN_EXE_ferroban");

struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn generate_docs(out: &Path) {
    let built = Command::new(env!("CARGO"))
        .args(["run", "-q", "-p", "xtask", "--", "docs"])
        .arg(out)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(built.success());
}

/// What bash's completion function `function` (from `script`) offers for `line`
/// (the word being completed is the last, possibly empty), with `bin` on PATH;
/// called with the arguments bash gives it (command, current word, previous word).
fn bash_completes(script: &Path, function: &str, bin: &Path, line: &[&str]) -> Vec<String> {
    let words: Vec<String> = line.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        "source '{}'\nCOMP_WORDS=({})\nCOMP_CWORD={}\n\
         {function} \"${{COMP_WORDS[0]}}\" \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        script.display(),
        words.join(" "),
        line.len() - 1
    );
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let o = Command::new("bash")
        .arg("-c")
        .arg(program)
        .env("PATH", path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

#[test]
fn man_pages_have_files_and_a_synopsis_with_values_and_bash_completes_jails() {
    let dir = std::env::temp_dir().join(format!("ferroban-docs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    generate_docs(&dir.join("docs"));
    let page = std::fs::read_to_string(dir.join("docs/man/ferroban-server.1")).unwrap();
    assert!(page.contains(r"[\fB\-s\fR \fISOCKET\fR]"), "{page}");
    assert!(
        page.contains(r"[\fB\-c\fR|\fB\-\-conf\fR \fIDIR\fR]"),
        "{page}"
    );
    for needle in [
        ".SH FILES",
        r"/var/lib/ferroban/ferroban.sqlite3",
        r"/run/ferroban/ferroban.sock",
        r"/tmp/ferroban\-UID/ferroban.sock",
        r"/var/log/ferroban.log",
    ] {
        assert!(page.contains(needle), "{needle}");
    }

    // A server with two jails, and the binary on PATH under both names.
    let conf = dir.join("conf");
    std::fs::create_dir_all(conf.join("filter.d")).unwrap();
    std::fs::write(
        conf.join("filter.d/t.conf"),
        "[Definition]\nfailregex = ^fail <HOST>$\n",
    )
    .unwrap();
    std::fs::write(dir.join("a.log"), "").unwrap();
    std::fs::write(
        conf.join("jail.local"),
        format!(
            "[DEFAULT]\nfilter = t\naction =\nlogpath = {}\n[sshd]\nenabled = true\n[web-auth]\nenabled = true\n",
            dir.join("a.log").display()
        ),
    )
    .unwrap();
    let socket = dir.join("s.sock");
    let _server = Server(
        Command::new(BIN)
            .args(["server", "-f", "--dbfile", ":memory:", "-c"])
            .arg(&conf)
            .arg("-s")
            .arg(&socket)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    assert!(
        wait_for(10, || Command::new(BIN)
            .arg("-s")
            .arg(&socket)
            .arg("ping")
            .output()
            .is_ok_and(|o| o.status.success())),
        "server did not start"
    );
    let bin: PathBuf = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for name in ["ferroban", "fail2ban-client"] {
        std::os::unix::fs::symlink(BIN, bin.join(name)).unwrap();
    }
    let sock = socket.to_str().unwrap();
    let completions = dir.join("docs/completions");
    let jails = ["sshd", "web-auth"];
    // (completion file, its function, the line, what it offers)
    let cases: [(&str, &str, &[&str], &[&str]); 4] = [
        (
            "ferroban.bash",
            "_ferroban_with_jails",
            &["ferroban", "-s", sock, "status", ""],
            &jails,
        ),
        (
            "ferroban.bash",
            "_ferroban_with_jails",
            &["ferroban", "-s", sock, "ban", "we"],
            &["web-auth"],
        ),
        (
            "fail2ban-client.bash",
            "_fail2ban_client_with_jails",
            &["fail2ban-client", "-s", sock, "status", ""],
            &jails,
        ),
        // Elsewhere clap's completion answers: subcommand names.
        (
            "ferroban.bash",
            "_ferroban_with_jails",
            &["ferroban", "statu"],
            &["status"],
        ),
    ];
    for (file, function, line, offered) in cases {
        assert_eq!(
            bash_completes(&completions.join(file), function, &bin, line),
            offered,
            "{line:?}"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}
