//! Fail2ban's database on the way in: `ferroban import-fail2ban [DBFILE]`, and a
//! server whose configuration names Fail2ban's database (an `/etc/fail2ban` kept
//! as it is).
//!
//! Owns the checks around the copy: ferroban's server must not be running for the
//! command (its start is what puts the imported bans into the firewall), only
//! valid addresses are taken, importing twice adds nothing, and Fail2ban's file is
//! never written: ferroban keeps its bans in a database of its own beside it.
//! Reading Fail2ban's file and writing ferroban's are the database crate's.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use ferroban_config::settings::ServerSettings;
use ferroban_db::{is_fail2ban_database, own_database_beside, read_fail2ban_bans, Database};

/// Where Debian's fail2ban keeps its database.
pub const FAIL2BAN_DB: &str = "/var/lib/fail2ban/fail2ban.sqlite3";

/// What one import did.
#[derive(Debug)]
pub struct Imported {
    pub added: usize,
    pub total: usize,
    pub in_force: usize,
    pub already_there: usize,
    pub not_an_address: usize,
    pub jails: Vec<String>,
}

impl std::fmt::Display for Imported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "imported {} of {} bans ({} still in force, jails: {}); {} already there, \
             {} skipped (not an IP address)",
            self.added,
            self.total,
            self.in_force,
            self.jails.join(", "),
            self.already_there,
            self.not_an_address
        )
    }
}

/// Copy every ban of Fail2ban's database `source` into `db`.
pub fn import_bans(source: &Path, db: &mut Database) -> Result<Imported> {
    let mut bans = read_fail2ban_bans(source)?;
    let total = bans.len();
    // Only an address that parses can ever be banned; store it in its normal form.
    bans.retain_mut(|b| match b.ip.trim().parse::<IpAddr>() {
        Ok(ip) => {
            b.ip = ip.to_string();
            true
        }
        Err(_) => false,
    });
    let added = db.import_bans(&bans)?;
    let now = crate::server::now();
    let in_force = bans
        .iter()
        .filter(|b| b.duration < 0.0 || b.start + b.duration > now)
        .count();
    let jails: BTreeSet<&str> = bans.iter().map(|b| b.jail.as_str()).collect();
    Ok(Imported {
        added,
        total,
        in_force,
        already_there: bans.len() - added,
        not_an_address: total - bans.len(),
        jails: jails.into_iter().map(str::to_string).collect(),
    })
}

/// Where ferroban keeps its bans for `settings`' dbfile (`None`: in memory), and
/// Fail2ban's database to import from on the first start when the dbfile is
/// Fail2ban's. ferroban never writes Fail2ban's database, nor creates one where
/// Fail2ban's configuration puts it (Fail2ban could not start on it later): it
/// keeps its own file beside it.
fn database_place(settings: &ServerSettings) -> Result<Option<(PathBuf, Option<PathBuf>)>> {
    let Some(configured) = &settings.dbfile else {
        return Ok(None);
    };
    if is_fail2ban_database(configured)? {
        let source = Some(configured.clone());
        return Ok(Some((own_database_beside(configured), source)));
    }
    // Fail2ban's place with nothing there yet (a host where Fail2ban never ran).
    // A file ferroban made there before it kept away is still used.
    let empty = std::fs::metadata(configured).map_or(true, |m| m.len() == 0);
    if settings.dbfile_is_fail2bans && empty {
        return Ok(Some((own_database_beside(configured), None)));
    }
    Ok(Some((configured.clone(), None)))
}

/// The database the server keeps its bans in (see [`database_place`]), and a
/// note for the log when the configuration named Fail2ban's database: on the
/// first start ferroban fills its own with Fail2ban's bans.
pub fn open_server_database(settings: &ServerSettings) -> Result<(Database, Option<String>)> {
    let Some((own, fail2bans)) = database_place(settings)? else {
        return Ok((Database::open(None)?, None));
    };
    let first_start = !own.exists();
    let mut db = Database::open(Some(&own))?;
    let Some(configured) = settings.dbfile.as_deref().filter(|c| *c != own) else {
        return Ok((db, None));
    };
    let done = match fail2bans {
        Some(source) if first_start => {
            let imported = import_bans(&source, &mut db)?;
            format!("first start on it: {imported} into")
        }
        Some(_) => {
            "its bans were imported on the first start; ferroban keeps its own in".to_string()
        }
        None => "ferroban keeps its own in".to_string(),
    };
    let note = format!(
        "dbfile {} is Fail2ban's database and is never written to; {done} {} \
         (set dbfile in ferroban.local to choose another file)",
        configured.display(),
        own.display()
    );
    Ok((db, Some(note)))
}

/// ferroban's database for the configuration in `confdir` (see [`database_place`]).
fn own_database(confdir: &Path) -> Result<PathBuf> {
    let settings = ServerSettings::load(confdir)?;
    match database_place(&settings)? {
        Some((own, _)) => Ok(own),
        None => bail!(
            "dbfile is :memory: in {}: there is no database to import into",
            confdir.display()
        ),
    }
}

/// `ferroban import-fail2ban`: import from `source` (default [`FAIL2BAN_DB`]) into
/// the database of the configuration in `confdir`; prints a summary.
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
    let target = own_database(confdir)?;
    if let Some(dir) = target.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut db = Database::open(Some(&target))?;
    let imported = import_bans(&source, &mut db)?;
    println!(
        "{imported}: from {} into {}",
        source.display(),
        target.display()
    );
    println!("start ferroban to put the bans in force into the firewall; a jail's bans are restored when a jail of that name is enabled");
    Ok(())
}
