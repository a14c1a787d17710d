//! Reading Fail2ban's own database (`/var/lib/fail2ban/fail2ban.sqlite3`), for
//! `ferroban import-fail2ban`.
//!
//! Owns only the translation of Fail2ban's `bips` table (its newest ban per address
//! and jail, with the ban count; Fail2ban 0.11 and later) or, in older files, its
//! `bans` table, into [`BanRecord`]s. The file is opened read-only and never
//! changed. Addresses are returned as written there: the caller checks them.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use crate::{failed, BanRecord, DbError};

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
                r.get::<_, Option<String>>(5)?,
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
        rec.read_data(data.as_deref().unwrap_or(""));
        out.push(rec);
    }
    Ok(out)
}
