//! Reading Fail2ban's own database (`/var/lib/fail2ban/fail2ban.sqlite3`), for
//! `ferroban import-fail2ban` and for a server pointed at that file.
//!
//! Owns recognising Fail2ban's schema, and the translation of its `bips` table (its
//! newest ban per address and jail, with the ban count; Fail2ban 0.11 and later)
//! or, in older files, its `bans` table, into [`BanRecord`]s, and of its `logs`
//! table (where each jail had read its files and journal) into
//! [`Fail2banLogPosition`]s. The file is opened
//! read-only and never changed. Addresses are returned as written there: the
//! caller checks them.

use std::path::{Path, PathBuf};

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};

use crate::{failed, BanRecord, DbError};

/// Whether `path` holds Fail2ban's schema (its `fail2banDb` version table, or a
/// `bans` table with Fail2ban's `timeofban` column). A missing or empty file is
/// not Fail2ban's.
pub fn is_fail2ban_database(path: &Path) -> Result<bool, DbError> {
    has_table_where(
        path,
        // (ferroban's own `bans` has Fail2ban's columns too, beside `lifted_at`)
        "name = 'fail2banDb' OR (name = 'bans' AND sql LIKE '%timeofban%' \
         AND sql NOT LIKE '%lifted_at%')",
    )
}

/// Whether `path` holds ferroban's own schema (a `bans` table with its
/// `lifted_at` column): given where Fail2ban's database is expected, it is named
/// for what it is rather than failed on a missing column. A missing or empty file
/// is not.
pub fn is_ferroban_database(path: &Path) -> Result<bool, DbError> {
    has_table_where(path, "name = 'bans' AND sql LIKE '%lifted_at%'")
}

/// Whether the SQLite file at `path` (read only) has a table that `condition` (on
/// `sqlite_master`'s `name` and `sql`) picks. A missing or empty file has none.
fn has_table_where(path: &Path, condition: &str) -> Result<bool, DbError> {
    if std::fs::metadata(path).map_or(true, |m| m.len() == 0) {
        return Ok(false);
    }
    let shown = path.display().to_string();
    let err = |action| failed(&shown, action);
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(err("open to check its schema"))?;
    conn.query_row(
        &format!("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND ({condition})"),
        [],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n > 0)
    .map_err(err("check its schema"))
}

/// The file ferroban keeps its own bans in when its configuration names Fail2ban's
/// database: in the same directory, `ferroban.sqlite3` beside Fail2ban's usual
/// `fail2ban.sqlite3`, and `NAME.ferroban.sqlite3` beside any other `NAME.sqlite3`,
/// so that two configurations whose Fail2ban databases share a directory (a copy
/// under test beside the real one) never share ferroban's.
pub fn own_database_beside(fail2ban_db: &Path) -> PathBuf {
    let stem = fail2ban_db
        .file_stem()
        .and_then(|s| s.to_str())
        .filter(|s| *s != "fail2ban");
    match stem {
        Some(stem) => fail2ban_db.with_file_name(format!("{stem}.ferroban.sqlite3")),
        None => fail2ban_db.with_file_name(LEGACY_OWN_DATABASE),
    }
}

/// The one name [`own_database_beside`] gave, whatever Fail2ban's file was called,
/// before it told them apart.
pub const LEGACY_OWN_DATABASE: &str = "ferroban.sqlite3";

/// The `data` column as text: Fail2ban on Python 3 writes it as a BLOB of UTF-8
/// JSON, older versions and ferroban as TEXT.
fn data_text(value: ValueRef<'_>) -> String {
    match value {
        ValueRef::Text(bytes) | ValueRef::Blob(bytes) => {
            String::from_utf8_lossy(bytes).into_owned()
        }
        _ => String::new(),
    }
}

/// Every ban recorded in Fail2ban's database at `path`, in force or not (ended bans
/// still carry the ban count that `bantime.increment` builds on).
pub fn read_fail2ban_bans(path: &Path) -> Result<Vec<BanRecord>, DbError> {
    let shown = path.display().to_string();
    let err = |action| failed(&shown, action);
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(err("open Fail2ban's database"))?;
    let has_bips: bool = conn
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'bips'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| n > 0)
        .map_err(err("look for the bips table"))?;
    // Fail2ban before 0.11 had no ban time or count per row: -2 marks "unknown", and
    // such bans are imported as ended.
    let sql = if has_bips {
        "SELECT jail, ip, timeofban, bantime, bancount, data FROM bips ORDER BY timeofban"
    } else {
        "SELECT jail, ip, timeofban, -2, 1, data FROM bans ORDER BY timeofban"
    };
    let mut stmt = conn.prepare(sql).map_err(err("read Fail2ban's bans"))?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, f64>(2)?,
                r.get::<_, f64>(3)?,
                r.get::<_, i64>(4)?,
                data_text(r.get_ref(5)?),
            ))
        })
        .map_err(err("read Fail2ban's bans"))?;
    let mut out = Vec::new();
    for row in rows {
        let (jail, ip, start, duration, count, data) = row.map_err(err("read a ban"))?;
        let mut rec = BanRecord {
            jail,
            ip,
            start,
            // Unknown duration: already over, so never restored.
            duration: if duration == -2.0 { 0.0 } else { duration },
            count: count.clamp(1, i64::from(u32::MAX)) as u32,
            failures: 0,
            matches: Vec::new(),
            fields: Vec::new(),
            origin: None,
        };
        rec.read_data(&data);
        out.push(rec);
    }
    Ok(out)
}

/// Where a jail of Fail2ban had read a log, as its `logs` table says.
#[derive(Debug, Clone, PartialEq)]
pub struct Fail2banLogPosition {
    pub jail: String,
    /// The file's path, or `systemd-journal` for the journal.
    pub path: String,
    /// A file's: the hash (hex; SHA-1 on Python 3, MD5 before) of its first line
    /// with its line end, which tells the same file from a rotated one. The
    /// journal's: the time read up to, as text.
    pub first_line_md5: Option<String>,
    /// A file's: the byte offset read up to. The journal's: the time read up to
    /// (seconds since the epoch).
    pub position: f64,
}

/// Every log position in Fail2ban's database at `path` (none in a file without a
/// `logs` table).
pub fn read_fail2ban_log_positions(path: &Path) -> Result<Vec<Fail2banLogPosition>, DbError> {
    let shown = path.display().to_string();
    let err = |action| failed(&shown, action);
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(err("open Fail2ban's database"))?;
    let has_logs: bool = conn
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'logs'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| n > 0)
        .map_err(err("look for the logs table"))?;
    if !has_logs {
        return Ok(Vec::new());
    }
    let mut stmt = conn
        .prepare("SELECT jail, path, firstlinemd5, lastfilepos FROM logs")
        .map_err(err("read Fail2ban's log positions"))?;
    let rows = stmt
        .query_map([], |r| {
            Ok(Fail2banLogPosition {
                jail: r.get(0)?,
                path: r.get(1)?,
                first_line_md5: r.get(2)?,
                position: r.get::<_, Option<f64>>(3)?.unwrap_or(0.0),
            })
        })
        .map_err(err("read Fail2ban's log positions"))?;
    rows.collect::<Result<_, _>>()
        .map_err(err("read a log position"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ferroban_s_own_database_is_named_after_fail2ban_s() {
        let beside = |f: &str| own_database_beside(Path::new(f));
        assert_eq!(
            beside("/var/lib/fail2ban/fail2ban.sqlite3"),
            Path::new("/var/lib/fail2ban/ferroban.sqlite3")
        );
        assert_eq!(
            beside("/srv/f2b/test.sqlite3"),
            Path::new("/srv/f2b/test.ferroban.sqlite3")
        );
        assert_ne!(beside("/srv/f2b/a.sqlite3"), beside("/srv/f2b/b.sqlite3"));
    }
}
