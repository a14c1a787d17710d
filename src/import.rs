//! Fail2ban's database on the way in: `ferroban import-fail2ban [DBFILE]`, and a
//! server whose configuration names Fail2ban's database (an `/etc/fail2ban` kept
//! as it is).
//!
//! Owns the checks around the copy: ferroban's server must not be running for the
//! command (its start is what puts the imported bans into the firewall), only
//! valid addresses are taken, importing twice adds nothing, and Fail2ban's file is
//! never written: ferroban keeps its bans in a database of its own beside it. Where
//! Fail2ban had read its logs up to comes along, so that ferroban does not count
//! again what Fail2ban counted.
//! Reading Fail2ban's file and writing ferroban's are the database crate's.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use ferroban_config::settings::ServerSettings;
use ferroban_db::{
    is_fail2ban_database, is_ferroban_database, own_database_beside, read_fail2ban_bans,
    read_fail2ban_log_positions, Database, FilePosition,
};
use md5::{Digest, Md5};
use sha1::Sha1;

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
    /// Log files and journals whose reading resumes where Fail2ban's stopped.
    pub log_positions: usize,
}

impl std::fmt::Display for Imported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "imported {} of {} bans ({} still in force, jails: {}); {} already there, \
             {} skipped (not an IP address); {} {} where Fail2ban stopped reading",
            self.added,
            self.total,
            self.in_force,
            self.jails.join(", "),
            self.already_there,
            self.not_an_address,
            self.log_positions,
            match self.log_positions {
                1 => "log resumes",
                _ => "logs resume",
            }
        )
    }
}

/// Copy every ban of Fail2ban's database `source` into `db`, and where its jails
/// had read their logs up to.
pub fn import_database(source: &Path, db: &mut Database) -> Result<Imported> {
    if source.exists() && !is_fail2ban_database(source)? {
        let what = if is_ferroban_database(source)? {
            "ferroban's own ban database"
        } else {
            "not a database of Fail2ban's"
        };
        bail!(
            "{} is {what}: give the file Fail2ban's dbfile names (by default {FAIL2BAN_DB})",
            source.display()
        );
    }
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
    let log_positions = import_log_positions(source, db)?;
    if let Some(stamp) = stamp_of(source) {
        db.set_import_stamp(&stamp_key(source), &stamp)?;
    }
    Ok(Imported {
        added,
        total,
        in_force,
        already_there: bans.len() - added,
        not_an_address: total - bans.len(),
        jails: jails.into_iter().map(str::to_string).collect(),
        log_positions,
    })
}

/// The name a Fail2ban database's stamp is kept under: its path as given.
fn stamp_key(source: &Path) -> String {
    source.display().to_string()
}

/// What tells whether Fail2ban wrote its database `path` since it was imported:
/// its size and time of change (Fail2ban changes the file itself: no WAL).
fn stamp_of(path: &Path) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    let changed = meta
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    Some(format!("{} {}", meta.len(), changed.as_nanos()))
}

/// Whether Fail2ban wrote its database `source` since `db` last imported it. One
/// imported before stamps were kept is taken as it is now: importing it again
/// could bring back a ban lifted here by hand and purged since.
fn changed_since_import(source: &Path, db: &mut Database) -> Result<bool> {
    let key = stamp_key(source);
    let Some(now) = stamp_of(source) else {
        return Ok(false);
    };
    Ok(match db.import_stamp(&key)? {
        Some(then) => then != now,
        None => {
            db.set_import_stamp(&key, &now)?;
            false
        }
    })
}

/// Where Fail2ban's jails had read their logs up to, taken as where ferroban
/// starts reading them: a file whose first line is still the one Fail2ban hashed
/// resumes at Fail2ban's offset (the furthest, when several jails read it), and a
/// jail's journal at Fail2ban's time. Lines Fail2ban counted are then not counted
/// again, and an address an administrator unbanned is not banned again for them.
/// A position ferroban already has is kept. Returns how many were taken.
fn import_log_positions(source: &Path, db: &mut Database) -> Result<usize> {
    let mut files: BTreeMap<String, u64> = BTreeMap::new();
    let mut journals = 0;
    for read in read_fail2ban_log_positions(source)? {
        if read.path == "systemd-journal" {
            let key = crate::server::journal_source(&read.jail);
            if db.cursor(&key)?.is_none() && db.journal_start(&key)?.is_none() {
                db.set_journal_start(&key, read.position)?;
                journals += 1;
            }
            continue;
        }
        let same_file = read
            .first_line_md5
            .as_deref()
            .is_some_and(|hash| first_line_hashes_to(Path::new(&read.path), hash));
        if same_file {
            let offset = files.entry(read.path).or_default();
            *offset = (*offset).max(read.position.max(0.0) as u64);
        }
    }
    let mut positions: Vec<FilePosition> = Vec::new();
    for (path, offset) in files {
        if db.position(&path)?.is_none() {
            positions.extend(ferroban_sources::files::position_at(
                Path::new(&path),
                offset,
            ));
        }
    }
    db.set_positions(&positions)?;
    Ok(positions.len() + journals)
}

/// Whether the first line of the file at `path`, with its line end, has the hash
/// Fail2ban recorded for it (hex): SHA-1 on Python 3, where Fail2ban's MD5 probe
/// fails and it falls back to SHA-1, MD5 in older files. `false` when the file
/// cannot be read or has no complete first line.
fn first_line_hashes_to(path: &Path, recorded: &str) -> bool {
    /// Longer first lines are not a log's.
    const MOST: u64 = 1 << 20;
    let Ok(file) = std::fs::File::open(path) else {
        return false;
    };
    let mut line = Vec::new();
    let read = BufReader::new(file.take(MOST)).read_until(b'\n', &mut line);
    if read.is_err() || !line.ends_with(b"\n") {
        return false;
    }
    let digest: Vec<u8> = match recorded.len() {
        40 => Sha1::digest(&line).to_vec(),
        32 => Md5::digest(&line).to_vec(),
        _ => return false,
    };
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    hex.eq_ignore_ascii_case(recorded)
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
    let is_fail2bans = fail2bans.is_some();
    let done = match fail2bans {
        Some(source) if first_start => {
            let imported = import_database(&source, &mut db)?;
            format!("first start on it: {imported} into")
        }
        // Fail2ban ran on it again since: its new bans are taken too (importing
        // adds only what is not there; bans lifted here stay lifted)
        Some(source) if changed_since_import(&source, &mut db)? => {
            let imported = import_database(&source, &mut db)?;
            format!("Fail2ban wrote it since the last import: {imported} into")
        }
        Some(_) => "its bans were imported before (at the first start, or by \
             import-fail2ban); ferroban keeps its own in"
            .to_string(),
        None => "ferroban keeps its own in".to_string(),
    };
    // A file that is not (yet) Fail2ban's is named for what it is: the place
    // Fail2ban's own settings give (its fail2ban.conf or fail2ban.local).
    let what = match is_fail2bans {
        true => "is Fail2ban's database and is never written to",
        false => {
            "is set where Fail2ban reads it too (fail2ban.conf or fail2ban.local), so \
             ferroban leaves that file to Fail2ban"
        }
    };
    let mut note = format!(
        "dbfile {} {what}; {done} {} (set dbfile in ferroban.local to choose another file)",
        configured.display(),
        own.display()
    );
    let legacy = own.with_file_name(ferroban_db::LEGACY_OWN_DATABASE);
    if first_start && legacy != own && legacy.exists() {
        note.push_str(&format!(
            ". An earlier ferroban kept the bans of every Fail2ban database in this \
             directory in {}: if they are this configuration's, stop ferroban and move \
             that file to {}",
            legacy.display(),
            own.display()
        ));
    }
    Ok((db, Some(note)))
}

/// ferroban's database for the configuration in `confdir` (see [`database_place`]).
fn own_database(settings: &ServerSettings, confdir: &Path) -> Result<PathBuf> {
    match database_place(settings)? {
        Some((own, _)) => Ok(own),
        None => bail!(
            "dbfile is :memory: in {}: there is no database to import into",
            confdir.display()
        ),
    }
}

/// The Fail2ban database to import when none is named: the dbfile of Fail2ban's
/// own files in the configuration (`fail2ban.conf`/`.local`: a copy of
/// `/etc/fail2ban` may give ferroban another dbfile in `ferroban.local`), else
/// [`FAIL2BAN_DB`].
fn fail2bans_database(confdir: &Path) -> Result<PathBuf> {
    let configured = ServerSettings::fail2bans_dbfile(confdir)?;
    Ok(configured.unwrap_or_else(|| PathBuf::from(FAIL2BAN_DB)))
}

/// `ferroban import-fail2ban`: import from `source` (default: see
/// [`fail2bans_database`]) into
/// the database of the configuration in `confdir`; prints a summary.
pub fn import_fail2ban(confdir: &Path, socket: &Path, source: Option<&str>) -> Result<()> {
    if crate::socket_client::request(socket, &["ping".to_string()]).is_ok() {
        bail!(
            "a server answers on {} (ferroban, or Fail2ban itself): stop it first (systemctl \
             stop ferroban, or systemctl stop fail2ban), import, then start ferroban; starting \
             restores the imported bans into the firewall",
            socket.display()
        );
    }
    let settings = ServerSettings::load(confdir)?;
    let source = match source {
        Some(named) => PathBuf::from(named),
        None => fail2bans_database(confdir)?,
    };
    if !source.exists() {
        bail!(
            "{} does not exist: name Fail2ban's database (its dbfile in fail2ban.conf)",
            source.display()
        );
    }
    let target = own_database(&settings, confdir)?;
    if let Some(dir) = target.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut db = Database::open(Some(&target))?;
    let imported = import_database(&source, &mut db)?;
    println!(
        "{imported}: from {} into {}",
        source.display(),
        target.display()
    );
    println!("start ferroban to put the bans in force into the firewall; a jail's bans are restored when a jail of that name is enabled");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A dbfile set in Fail2ban's settings where no database is yet: ferroban
    /// keeps its own beside it, and its note no longer calls the place Fail2ban's
    /// database (a newcomer's fail2ban.local named a file that did not exist).
    #[test]
    fn a_fail2ban_dbfile_with_nothing_there_is_not_called_fail2bans_database() {
        let dir = std::env::temp_dir().join(format!("ferroban-place-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut settings = ServerSettings::defaults_for(&dir);
        settings.dbfile = Some(dir.join("new.sqlite3"));
        settings.dbfile_is_fail2bans = true;
        let (_db, note) = open_server_database(&settings).unwrap();
        let note = note.unwrap();
        assert!(
            note.contains("is set where Fail2ban reads it too")
                && !note.contains("is Fail2ban's database")
                && note.contains("new.ferroban.sqlite3"),
            "{note}"
        );
        assert!(
            !dir.join("new.sqlite3").exists(),
            "Fail2ban's place stays free"
        );
        std::fs::remove_dir_all(&dir).ok();
    }

    /// Only the file's size and time of change are read here: any file serves.
    #[test]
    fn a_database_is_imported_again_only_when_it_changed_since() {
        let dir = std::env::temp_dir().join(format!("ferroban-stamp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let source = dir.join("fail2ban.sqlite3");
        std::fs::write(&source, "one").unwrap();
        let mut db = Database::open(None).unwrap();
        // imported before stamps were kept: taken as it is, and stamped
        assert!(!changed_since_import(&source, &mut db).unwrap());
        assert!(db.import_stamp(&stamp_key(&source)).unwrap().is_some());
        assert!(!changed_since_import(&source, &mut db).unwrap());
        std::fs::write(&source, "one more").unwrap();
        assert!(changed_since_import(&source, &mut db).unwrap());
        std::fs::remove_dir_all(&dir).ok();
    }
}
