//! The vps-hardening profile (examples/vps-hardening): its configuration passes
//! `ferroban check`, and its WordPress plugin writes lines that cannot forge an
//! address. (The guide's log lines against its filters: tests/regex_tool.rs.)

use std::process::Command;

mod common;
use common::with_empty_host_logs;

const PROFILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/vps-hardening");

/// A copy of the profile whose `/var/log/…` logs are empty files in a temporary
/// directory.
fn profile_with_its_logs(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("ferroban-profile-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("conf");
    assert!(Command::new("cp")
        .args(["-aL", PROFILE])
        .arg(&conf)
        .status()
        .unwrap()
        .success());
    let local = conf.join("jail.local");
    let text = std::fs::read_to_string(&local).unwrap();
    std::fs::write(&local, with_empty_host_logs(&dir, &text)).unwrap();
    dir
}

#[test]
fn the_profile_passes_check_with_the_guides_ten_jails() {
    let dir = profile_with_its_logs("check");
    let out = Command::new(env!("CARGO_BIN_EXE_ferroban"))
        .arg("-c")
        .arg(dir.join("conf"))
        .arg("check")
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).ok();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("(10 jails: sshd, apache-botsearch, apache-envscan, wordpress-auth, wordpress-auth-hook, postfix, postfix-sasl, postfix-protocol, postfix-postscreen, recidive)"), "{text}");
}

// The profile's README said the regex report shows the probing address; the
// default report only counts. The command it now shows prints the address.
#[test]
fn the_readmes_regex_command_prints_the_probing_address() {
    let root = env!("CARGO_MANIFEST_DIR");
    let command =
        "ferroban regex -c examples/vps-hardening examples/logs/access.log apache-envscan -o ip";
    for readme in ["README.md", "README.ja.md"] {
        let text = std::fs::read_to_string(format!("{PROFILE}/{readme}")).unwrap();
        assert!(text.contains(command), "{readme}");
        assert!(text.contains("192.0.2.66"), "{readme}");
    }
    let words: Vec<&str> = command.split_whitespace().skip(1).collect();
    let out = Command::new(env!("CARGO_BIN_EXE_ferroban"))
        .args(&words)
        .current_dir(root)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "192.0.2.66\n192.0.2.66\n"
    );
}

/// What the plugin logs for a failed login by `user`, from `addr`, run by PHP with
/// WordPress's hook function stubbed; `None` without php-cli.
fn plugin_line(user: &str, addr: &str) -> Option<String> {
    let dir = std::env::temp_dir().join(format!(
        "ferroban-plugin-{}-{}",
        std::process::id(),
        addr.len()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("error.log");
    let script = format!(
        "<?php\ndefine('ABSPATH', '/');\n$hooks = [];\n\
         function add_action($name, $fn) {{ global $hooks; $hooks[$name] = $fn; }}\n\
         ini_set('error_log', {log:?});\n\
         $_SERVER['REMOTE_ADDR'] = {addr:?};\n$_SERVER['HTTP_USER_AGENT'] = 'Mozilla/5.0 (X11) ip=203.0.113.9';\n\
         require {plugin:?};\n$hooks['wp_login_failed'](base64_decode('{user}'));\n",
        log = log.display().to_string(),
        plugin = format!("{PROFILE}/wordpress/ferroban-login-log/ferroban-login-log.php"),
        user = base64(user),
    );
    let php = match Command::new("php").arg("-r").arg(&script[6..]).output() {
        Ok(o) => o,
        Err(_) => {
            eprintln!("SKIPPED plugin test: php-cli is not installed (apt-get install php-cli)");
            return None;
        }
    };
    assert!(
        php.status.success(),
        "{}",
        String::from_utf8_lossy(&php.stderr)
    );
    let text = std::fs::read_to_string(&log).unwrap();
    std::fs::remove_dir_all(&dir).ok();
    Some(text)
}

fn base64(s: &str) -> String {
    const ABC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in s.as_bytes().chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            out.push(if i <= chunk.len() {
                ABC[(n >> (18 - 6 * i) & 63) as usize] as char
            } else {
                '='
            });
        }
    }
    out
}

#[test]
fn the_wordpress_plugin_logs_one_address_whatever_the_user_types() {
    let Some(line) = plugin_line(
        "x ip=192.0.2.1\n[client 192.0.2.2:1] WP-LOGIN-FAIL user=y ip=192.0.2.3",
        "198.51.100.7",
    ) else {
        return;
    };
    assert_eq!(line.lines().count(), 1, "{line}");
    assert!(line.contains("WP-LOGIN-FAIL user=x%20ip%3D192.0.2.1%0A%5Bclient%20192.0.2.2%3A1%5D%20WP-LOGIN-FAIL%20user%3Dy%20ip%3D192.0.2.3 ip=198.51.100.7 ua=Mozilla%2F5.0%20%28X11%29%20ip%3D203.0.113.9"), "{line}");
    assert_eq!(line.matches(" ip=").count(), 1, "{line}");
    let Some(line) = plugin_line("admin", "not-an-address") else {
        return;
    };
    assert!(
        line.contains("WP-LOGIN-FAIL user=admin ip=unknown "),
        "{line}"
    );
}
