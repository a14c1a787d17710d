//! ferroban's own configuration (`config/`, installed as `/etc/ferroban`), read as
//! the server reads it.

use std::path::{Path, PathBuf};

use ferroban_config::jail::load_jails;

/// A copy of the repository's `config/` with `jail_local` as its jail.local (`LOG`
/// in it names an empty log), in a directory of its own.
fn shipped_config_with(tag: &str, jail_local: &str) -> PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config");
    let dir = std::env::temp_dir().join(format!("ferroban-shipped-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let copied = std::process::Command::new("cp")
        .arg("-aL")
        .arg(&source)
        .arg(&dir)
        .status()
        .unwrap();
    assert!(copied.success(), "cp -aL {}", source.display());
    let _ = std::fs::remove_dir_all(dir.join("jail.d"));
    std::fs::write(dir.join("empty.log"), "").unwrap();
    std::fs::write(
        dir.join("jail.local"),
        jail_local.replace("LOG", &dir.join("empty.log").display().to_string()),
    )
    .unwrap();
    dir
}

#[test]
fn each_banaction_hangs_its_rules_from_its_own_default_chain() {
    // As Fail2ban's jail.conf does (`chain = <known/chain>`): nftables in its
    // f2b-chain, which the docs promise, iptables from the built-in INPUT.
    let dir = shipped_config_with(
        "chain",
        "[sshd]\nenabled = true\nlogpath = LOG\n\
         [sshd-iptables]\nenabled = true\nfilter = sshd\nlogpath = LOG\nbanaction = iptables-multiport\n",
    );
    let jails = load_jails(&dir).unwrap().jails;
    let chain_of = |jail: &str| {
        let j = jails.iter().find(|j| j.name == jail).unwrap();
        let action = j.actions.first().unwrap();
        (
            action.file.clone(),
            action.get("chain", None).map(str::to_string),
        )
    };
    assert_eq!(
        chain_of("sshd"),
        ("nftables".into(), Some("f2b-chain".into()))
    );
    assert_eq!(
        chain_of("sshd-iptables"),
        ("iptables-multiport".into(), Some("INPUT".into()))
    );
    std::fs::remove_dir_all(&dir).ok();
}
