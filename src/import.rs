//! `ferroban import-fail2ban [DBFILE]`: carry the bans of a Fail2ban installation
//! over to ferroban, for a migration (stop fail2ban, import, start ferroban).
//!
//! Owns the checks around the copy: ferroban's server must not be running (its
//! start is what puts the imported bans into the firewall), only valid addresses
//! are taken, and importing twice adds nothing. Reading Fail2ban's file and
//! writing ferroban's are the database crate's.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use ferroban_config::settings::ServerSettings;
use ferroban_db::{read_fail2ban_bans, Database};

/// Where Debian's fail2ban keeps its database.
pub const FAIL2BAN_DB: &str = "/var/lib/fail2ban/fail2ban.sqlite3";

/// Import from `source` (default [`FAIL2BAN_DB`]) into the database named by the
/// configuration in `confdir`; prints a summary.
pub fn import_fail2ban(confdir: &Path, socket: &Path, source: Option<&str>) -> Result<()> {
    if crate::socket_client::request(socket, &["ping".to_string()]).is_ok() {
        bail!(
            "ferroban is running (socket {}): stop it first (systemctl stop ferroban), import, \
             then start it; starting restores the imported bans into the firewall",
            socket.display()
        );
    }
    let source = PathBuf::from(source.unwrap_or(FAIL2BAN_DB));
    if !source.exists() {
        bail!(
            "{} does not exist: name Fail2ban's database (its dbfile in fail2ban.conf)",
            source.display()
        );
    }
    let settings = ServerSettings::load(confdir)?;
    let Some(target) = settings.dbfile else {
        bail!(
            "dbfile is :memory: in {}: there is no database to import into",
            confdir.display()
        );
    };
    let mut bans = read_fail2ban_bans(&source)?;
    let total = bans.len();
    // Only an address that parses can ever be banned; store it in its normal form.
    bans.retain_mut(|b| match b.ip.trim().parse::<IpAddr>() {
        Ok(ip) => {
            b.ip = ip.to_string();
            true
        }
        Err(_) => false,
    });
    let invalid = total - bans.len();
    if let Some(dir) = target.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut db = Database::open(Some(&target))?;
    let added = db.import_bans(&bans)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let in_force = bans
        .iter()
        .filter(|b| b.duration < 0.0 || b.start + b.duration > now)
        .count();
    let jails: BTreeSet<&str> = bans.iter().map(|b| b.jail.as_str()).collect();
    println!(
        "imported {added} of {total} bans from {} into {} ({in_force} still in force, jails: {}); \
         {} already there, {invalid} skipped (not an IP address)",
        source.display(),
        target.display(),
        jails.into_iter().collect::<Vec<_>>().join(", "),
        bans.len() - added,
    );
    println!("start ferroban to put the bans in force into the firewall; a jail's bans are restored when a jail of that name is enabled");
    Ok(())
}
