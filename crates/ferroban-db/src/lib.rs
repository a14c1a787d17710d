//! The ban database: what must survive a restart or a `kill -9`.
//!
//! Owns the SQLite file (WAL journal, so a killed process loses no committed
//! transaction): every ban made (jail, address, start, duration, ban count, the
//! failures and matched lines), bans lifted by hand, and how far each log file and
//! journal has been read. It answers three questions: which bans are still in force,
//! how often an address was banned before, and where to resume reading. Bans
//! received from the fleet are kept with their origin host; the fleet's outbox
//! holds what this host has yet to publish. It does not decide anything.
//!
//! For the dashboard it also keeps failures and bans per jail and minute (the
//! `activity` table, purged after a week by the caller) and answers how often each
//! address was banned.

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};

mod fail2ban;
pub use fail2ban::{
    is_fail2ban_database, is_ferroban_database, own_database_beside, read_fail2ban_bans,
    read_fail2ban_log_positions, Fail2banLogPosition, LEGACY_OWN_DATABASE,
};

/// A database error, with what was being done.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("ban database {path}: {action}: {source}")]
    Sqlite {
        path: String,
        action: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    /// ferroban was pointed at Fail2ban's own file, which it must never change.
    #[error(
        "{path} is Fail2ban's database, which ferroban never writes to: set dbfile in \
         ferroban.local to a file of ferroban's own (such as {beside})"
    )]
    Fail2banDatabase { path: String, beside: String },
}

fn failed(path: &str, action: &'static str) -> impl Fn(rusqlite::Error) -> DbError {
    let path = path.to_string();
    move |source| DbError::Sqlite {
        path: path.clone(),
        action,
        source,
    }
}

/// A ban as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct BanRecord {
    pub jail: String,
    /// The address as text (always a parsed address when written by ferroban).
    pub ip: String,
    pub start: f64,
    /// Seconds; negative means permanent.
    pub duration: f64,
    pub count: u32,
    pub failures: u32,
    pub matches: Vec<String>,
    pub fields: Vec<(String, String)>,
    /// The fleet host the ban came from; `None` for this host's own bans.
    pub origin: Option<String>,
}

/// What the fleet's outbox holds for one address: a ban to publish, or the
/// lifting of one.
#[derive(Debug, Clone, PartialEq)]
pub enum OutboxKind {
    /// A ban in force until `end` (`None`: permanent).
    Ban { start: f64, end: Option<f64> },
    /// A ban lifted by hand at `at`.
    Unban { at: f64 },
}

/// A row of the fleet's outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEntry {
    /// Row id (ignored when adding).
    pub id: i64,
    pub jail: String,
    pub ip: String,
    pub kind: OutboxKind,
}

impl BanRecord {
    /// The `data` column: failures, matched lines and captured fields as JSON.
    /// Written by hand because it is built once per ban, 100,000 times for a large
    /// client ban, and a `serde_json::Value` tree costs several allocations per field.
    fn data(&self) -> String {
        let text = |v: &str| serde_json::to_string(v).unwrap_or_else(|_| "\"\"".into());
        let matches: Vec<String> = self.matches.iter().map(|m| text(m)).collect();
        let fields: Vec<String> = self
            .fields
            .iter()
            .map(|(k, v)| format!("[{},{}]", text(k), text(v)))
            .collect();
        format!(
            "{{\"failures\":{},\"matches\":[{}],\"fields\":[{}]}}",
            self.failures,
            matches.join(","),
            fields.join(",")
        )
    }
}

/// The matched lines of a `data` column (parsed): this database's texts, or
/// Fail2ban's lists of the pieces of a line; none where they are unreadable.
fn matched_lines_in(data: &serde_json::Value) -> Vec<String> {
    data["matches"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|m| match m {
                    serde_json::Value::String(s) => Some(s.clone()),
                    serde_json::Value::Array(parts) => {
                        Some(parts.iter().filter_map(|p| p.as_str()).collect::<String>())
                    }
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

impl BanRecord {
    /// Fill failures, matches and fields from a `data` column: the inverse of
    /// [`BanRecord::data`]. Also reads Fail2ban's, whose matches may be lists of
    /// the pieces of a line; what is missing or unreadable stays empty.
    fn read_data(&mut self, data: &str) {
        let data: serde_json::Value = serde_json::from_str(data).unwrap_or_default();
        self.failures = data["failures"]
            .as_u64()
            .unwrap_or(0)
            .min(u64::from(u32::MAX)) as u32;
        self.matches = matched_lines_in(&data);
        self.fields = data["fields"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|kv| {
                        Some((kv[0].as_str()?.to_string(), kv[1].as_str()?.to_string()))
                    })
                    .collect()
            })
            .unwrap_or_default();
    }
}

/// Where a log file was read up to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePosition {
    pub path: String,
    /// A hash of the file's first line, to tell a rotated file from the same one.
    pub first_line_hash: u64,
    pub offset: u64,
}

/// A ban lifted here (see [`Database::lifted_bans`]).
#[derive(Debug, Clone, PartialEq)]
pub struct LiftedBan {
    pub jail: String,
    pub ip: String,
    /// The host it was received from; `None` for this host's own.
    pub origin: Option<String>,
    /// When it was last lifted.
    pub at: f64,
}

/// The open database.
pub struct Database {
    conn: Connection,
    path: String,
    /// Whether the page cache was grown for large batches and not yet given back.
    large_cache: bool,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS bans (
    jail TEXT NOT NULL,
    ip TEXT NOT NULL,
    start REAL NOT NULL,
    duration REAL NOT NULL,
    count INTEGER NOT NULL,
    lifted_at REAL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS bans_ip ON bans (ip, jail);
-- No index on start (databases before 0.1 had one): it cost a sixth of a
-- 100,000-ban insert, and only the restore at start-up sorts by it.
DROP INDEX IF EXISTS bans_start;
CREATE TABLE IF NOT EXISTS positions (
    path TEXT PRIMARY KEY,
    first_line_hash INTEGER NOT NULL,
    offset INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS cursors (
    source TEXT PRIMARY KEY,
    cursor TEXT NOT NULL
);
-- Where a journal source without a cursor starts (Fail2ban's time, on taking over).
CREATE TABLE IF NOT EXISTS journal_starts (
    source TEXT PRIMARY KEY,
    time REAL NOT NULL
);
-- Failures and bans per jail and minute (epoch minutes), for the dashboard's charts.
CREATE TABLE IF NOT EXISTS activity (
    minute INTEGER NOT NULL,
    jail TEXT NOT NULL,
    failures INTEGER NOT NULL,
    bans INTEGER NOT NULL,
    PRIMARY KEY (minute, jail)
);
-- Fail2ban databases imported, each with the size and time of change it had then:
-- a start on one imports again only what Fail2ban wrote since.
CREATE TABLE IF NOT EXISTS imports (
    source TEXT PRIMARY KEY,
    stamp TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS fleet_outbox (
    id INTEGER PRIMARY KEY,
    jail TEXT NOT NULL,
    ip TEXT NOT NULL,
    op TEXT NOT NULL,
    start REAL NOT NULL,
    end REAL
);
";

/// Failures and bans of one jail in some minutes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activity {
    pub jail: String,
    pub failures: u64,
    pub bans: u64,
}

/// Failures and bans of one jail in one bucket of a time range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityBucket {
    /// Which bucket, from 0 (the oldest).
    pub bucket: usize,
    pub activity: Activity,
}

/// The page cache, in KiB (SQLite's negative form): the daemon writes a few rows
/// at a time and reads the bans once at start, so SQLite's 2 MB default would be
/// most of its memory.
const SMALL_CACHE_KIB: i64 = -256;
/// Batches above this many rows (100,000 bans from the client) get a larger page
/// cache for the length of their transaction.
const LARGE_BATCH: usize = 1000;
const LARGE_BATCH_CACHE_KIB: i64 = -32768;

impl Database {
    /// Open (creating if needed) the database at `path`; `None` keeps it in memory.
    /// Fail2ban's own database is refused before anything is written to it.
    pub fn open(path: Option<&Path>) -> Result<Database, DbError> {
        let shown = path.map_or(":memory:".to_string(), |p| p.display().to_string());
        let err = |action| failed(&shown, action);
        if let Some(p) = path {
            if is_fail2ban_database(p)? {
                return Err(DbError::Fail2banDatabase {
                    path: shown,
                    beside: own_database_beside(p).display().to_string(),
                });
            }
        }
        let conn = match path {
            Some(p) => {
                if let Some(dir) = p.parent() {
                    let _ = std::fs::create_dir_all(dir);
                }
                Connection::open(p).map_err(err("open"))?
            }
            None => Connection::open_in_memory().map_err(err("open"))?,
        };
        if let Some(p) = path {
            // Bans and matched lines are nobody else's business.
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o600));
        }
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err("set WAL mode"))?;
        // In WAL mode NORMAL survives a killed process; only power loss can drop the
        // last transactions.
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(err("set synchronous"))?;
        conn.pragma_update(None, "cache_size", SMALL_CACHE_KIB)
            .map_err(err("set cache size"))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(err("set busy timeout"))?;
        conn.execute_batch(SCHEMA).map_err(err("create tables"))?;
        add_origin_column(&conn).map_err(err("add the origin column"))?;
        add_fail2ban_view(&conn).map_err(err("add Fail2ban's columns and view"))?;
        Ok(Database {
            conn,
            path: shown,
            large_cache: false,
        })
    }

    /// The file this database is kept in (`:memory:` for none).
    pub fn path(&self) -> &str {
        &self.path
    }

    fn err(&self, action: &'static str) -> impl Fn(rusqlite::Error) -> DbError + '_ {
        failed(&self.path, action)
    }

    /// Run `sql` once per item, all in one transaction (all or none).
    fn execute_each<T>(
        &mut self,
        sql: &str,
        action: &'static str,
        items: &[T],
        run: impl Fn(&mut rusqlite::CachedStatement<'_>, &T) -> rusqlite::Result<usize>,
    ) -> Result<(), DbError> {
        let err = failed(&self.path, action);
        if items.len() > LARGE_BATCH && !self.large_cache {
            // A large batch in the small page cache would spill pages to the WAL
            // again and again before the commit; give it room. The room stays
            // while batches keep coming (a join of 100,000 fleet bans is dozens of
            // them) and goes back in `release_memory`.
            self.large_cache = self
                .conn
                .pragma_update(None, "cache_size", LARGE_BATCH_CACHE_KIB)
                .is_ok();
        }
        (|| {
            let tx = self.conn.transaction().map_err(&err)?;
            {
                let mut stmt = tx.prepare_cached(sql).map_err(&err)?;
                for item in items {
                    run(&mut stmt, item).map_err(&err)?;
                }
            }
            tx.commit().map_err(&err)
        })()
    }

    /// Give back the page cache large batches grew (call in a quiet moment).
    pub fn release_memory(&mut self) {
        if self.large_cache {
            self.large_cache = false;
            let _ = self.conn.pragma_update(None, "cache_size", SMALL_CACHE_KIB);
            let _ = self.conn.execute_batch("PRAGMA shrink_memory");
        }
    }

    /// Record bans, all or none.
    pub fn add_bans(&mut self, bans: &[BanRecord]) -> Result<(), DbError> {
        self.execute_each(
            "INSERT INTO bans (jail, ip, start, duration, count, data, origin) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            "record bans",
            bans,
            |stmt, b| {
                stmt.execute(params![b.jail, b.ip, b.start, b.duration, b.count, b.data(), b.origin])
            },
        )
    }

    /// Add bans made elsewhere (imported from Fail2ban), skipping any already here
    /// with the same jail, address and start, so that importing twice changes
    /// nothing. Returns how many were added.
    pub fn import_bans(&mut self, bans: &[BanRecord]) -> Result<usize, DbError> {
        let err = failed(&self.path, "import bans");
        let tx = self.conn.transaction().map_err(&err)?;
        let mut added = 0;
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO bans (jail, ip, start, duration, count, data)
                     SELECT ?1, ?2, ?3, ?4, ?5, ?6
                     WHERE NOT EXISTS (SELECT 1 FROM bans WHERE jail = ?1 AND ip = ?2 AND start = ?3)",
                )
                .map_err(&err)?;
            for b in bans {
                added += stmt
                    .execute(params![
                        b.jail,
                        b.ip,
                        b.start,
                        b.duration,
                        b.count,
                        b.data()
                    ])
                    .map_err(&err)?;
            }
        }
        tx.commit().map_err(&err)?;
        Ok(added)
    }

    /// Mark bans of `ip` (in `jail`, or every jail) as lifted by hand at `now`, so
    /// that they are not restored; they still count for `bantime.increment`.
    pub fn lift(&mut self, jail: Option<&str>, ips: &[String], now: f64) -> Result<(), DbError> {
        self.execute_each(
            "UPDATE bans SET lifted_at = ?1 WHERE ip = ?2 AND lifted_at IS NULL AND (?3 IS NULL OR jail = ?3)",
            "lift bans",
            ips,
            |stmt, ip| stmt.execute(params![now, ip, jail]),
        )
    }

    /// Forget the ban counts of `ips` in `jail` (of every address when `None`),
    /// as Fail2ban deletes them from its database on an unban by hand: those bans
    /// no longer lengthen the next one (`bantime.increment`). The rows stay until
    /// purged: the fleet reads which bans were lifted here and when.
    pub fn forget_ban_counts(&mut self, jail: &str, ips: Option<&[String]>) -> Result<(), DbError> {
        match ips {
            Some(ips) => self.execute_each(
                "UPDATE bans SET count = 0 WHERE jail = ?1 AND ip = ?2",
                "forget ban counts",
                ips,
                |stmt, ip| stmt.execute(params![jail, ip]),
            ),
            None => self
                .conn
                .execute("UPDATE bans SET count = 0 WHERE jail = ?1", params![jail])
                .map(drop)
                .map_err(self.err("forget ban counts")),
        }
    }

    /// Bans lifted here (received from the fleet, or this host's own), kept until
    /// purged: one per jail, address and origin, with when it was last lifted.
    pub fn lifted_bans(&self) -> Result<Vec<LiftedBan>, DbError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT jail, ip, origin, MAX(lifted_at) FROM bans
                 WHERE lifted_at IS NOT NULL
                 GROUP BY jail, ip, origin",
            )
            .map_err(self.err("read lifted bans"))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(LiftedBan {
                    jail: r.get(0)?,
                    ip: r.get(1)?,
                    origin: r.get(2)?,
                    at: r.get(3)?,
                })
            })
            .map_err(self.err("read lifted bans"))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(self.err("read lifted bans"))
    }

    /// The latest start of each address's bans in each jail since `since`: (jail,
    /// address, start).
    pub fn latest_bans_since(&self, since: f64) -> Result<Vec<(String, String, f64)>, DbError> {
        let mut stmt = self
            .conn
            .prepare("SELECT jail, ip, MAX(start) FROM bans WHERE start >= ?1 GROUP BY jail, ip")
            .map_err(self.err("read recent bans"))?;
        let rows = stmt
            .query_map(params![since], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(self.err("read recent bans"))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(self.err("read recent bans"))
    }

    /// The matched lines of the last `bans` bans recorded in `jail` that have any,
    /// the latest first: (address, start, lines). Read from the end of the table
    /// (rows are appended as bans are made), so a jail with recent bans is found
    /// without reading them all.
    pub fn latest_matched_lines(
        &self,
        jail: &str,
        bans: usize,
    ) -> Result<Vec<(String, f64, Vec<String>)>, DbError> {
        let err = self.err("read matched lines");
        // Bans set by hand have none: `[]` in this database's own data.
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT ip, start, data FROM bans
                 WHERE jail = ?1 AND data NOT LIKE '%\"matches\":[]%'
                 ORDER BY rowid DESC",
            )
            .map_err(&err)?;
        let mut rows = stmt.query(params![jail]).map_err(&err)?;
        let mut out = Vec::new();
        while out.len() < bans {
            let Some(row) = rows.next().map_err(&err)? else {
                break;
            };
            let data = row.get::<_, String>(2).map_err(&err)?;
            let lines = matched_lines_in(&serde_json::from_str(&data).unwrap_or_default());
            if !lines.is_empty() {
                out.push((row.get(0).map_err(&err)?, row.get(1).map_err(&err)?, lines));
            }
        }
        Ok(out)
    }

    /// The bans in force at `now` (the newest per jail and address), oldest first.
    pub fn bans_in_force(&self, now: f64) -> Result<Vec<BanRecord>, DbError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT jail, ip, start, duration, count, data, origin FROM bans
                 WHERE lifted_at IS NULL AND (duration < 0 OR start + duration > ?1)
                 ORDER BY start",
            )
            .map_err(self.err("prepare restore"))?;
        let rows = stmt
            .query_map(params![now], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, f64>(2)?,
                    r.get::<_, f64>(3)?,
                    r.get::<_, u32>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, Option<String>>(6)?,
                ))
            })
            .map_err(self.err("read bans"))?;
        let mut out: Vec<BanRecord> = Vec::new();
        let mut index: std::collections::HashMap<(String, String), usize> = Default::default();
        for row in rows {
            let (jail, ip, start, duration, count, data, origin) =
                row.map_err(self.err("read ban"))?;
            let mut rec = BanRecord {
                jail,
                ip,
                start,
                duration,
                count,
                failures: 0,
                matches: Vec::new(),
                fields: Vec::new(),
                origin,
            };
            rec.read_data(&data);
            match index.get(&(rec.jail.clone(), rec.ip.clone())) {
                Some(&i) => out[i] = rec,
                None => {
                    index.insert((rec.jail.clone(), rec.ip.clone()), out.len());
                    out.push(rec);
                }
            }
        }
        Ok(out)
    }

    /// Put entries in the fleet's outbox; returns their row ids, in order.
    pub fn add_to_outbox(&mut self, entries: &[OutboxEntry]) -> Result<Vec<i64>, DbError> {
        let err = failed(&self.path, "add to the fleet outbox");
        let tx = self.conn.transaction().map_err(&err)?;
        let mut ids = Vec::with_capacity(entries.len());
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO fleet_outbox (jail, ip, op, start, end) VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .map_err(&err)?;
            for e in entries {
                let (op, start, end) = match e.kind {
                    OutboxKind::Ban { start, end } => ("ban", start, end),
                    OutboxKind::Unban { at } => ("unban", at, None),
                };
                stmt.execute(params![e.jail, e.ip, op, start, end])
                    .map_err(&err)?;
                ids.push(tx.last_insert_rowid());
            }
        }
        tx.commit().map_err(&err)?;
        Ok(ids)
    }

    /// Everything in the fleet's outbox, oldest first.
    pub fn outbox(&self) -> Result<Vec<OutboxEntry>, DbError> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, jail, ip, op, start, end FROM fleet_outbox ORDER BY id")
            .map_err(self.err("prepare outbox"))?;
        let rows = stmt
            .query_map([], |r| {
                let op: String = r.get(3)?;
                let start: f64 = r.get(4)?;
                Ok(OutboxEntry {
                    id: r.get(0)?,
                    jail: r.get(1)?,
                    ip: r.get(2)?,
                    kind: if op == "unban" {
                        OutboxKind::Unban { at: start }
                    } else {
                        OutboxKind::Ban {
                            start,
                            end: r.get(5)?,
                        }
                    },
                })
            })
            .map_err(self.err("read outbox"))?;
        rows.collect::<Result<_, _>>()
            .map_err(self.err("read outbox"))
    }

    /// How many entries wait in the fleet's outbox.
    pub fn outbox_len(&self) -> Result<usize, DbError> {
        self.conn
            .query_row("SELECT COUNT(*) FROM fleet_outbox", [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n as usize)
            .map_err(self.err("count outbox"))
    }

    /// Remove outbox entries the engine stored.
    pub fn remove_from_outbox(&mut self, ids: &[i64]) -> Result<(), DbError> {
        self.execute_each(
            "DELETE FROM fleet_outbox WHERE id = ?1",
            "empty the fleet outbox",
            ids,
            |stmt, id| stmt.execute(params![id]),
        )
    }

    /// Whether the database holds any ban of `ip` in `jail`, in force or not (until
    /// purged), whatever its count: a hand ban, a ban received from the fleet, a
    /// ban whose count an unban by hand forgot.
    pub fn has_banned(&self, ip: &str, jail: &str) -> Result<bool, DbError> {
        self.conn
            .prepare_cached("SELECT EXISTS(SELECT 1 FROM bans WHERE ip = ?1 AND jail = ?2)")
            .and_then(|mut s| s.query_row(params![ip, jail], |r| r.get::<_, bool>(0)))
            .map_err(self.err("look a ban up"))
    }

    /// How often `ip` was banned (in `jail`, or in any jail), by the highest count
    /// recorded.
    pub fn ban_count(&self, ip: &str, jail: Option<&str>) -> Result<u32, DbError> {
        self.conn
            .prepare_cached(
                "SELECT MAX(count) FROM bans WHERE ip = ?1 AND (?2 IS NULL OR jail = ?2)",
            )
            .and_then(|mut s| s.query_row(params![ip, jail], |r| r.get::<_, Option<u32>>(0)))
            .map(|c| c.unwrap_or(0))
            .map_err(self.err("count bans"))
    }

    /// Each address `jail` banned, with the highest count and the latest start of
    /// its bans recorded (Fail2ban's `getBan` of an address and jail, for all of
    /// them at once).
    pub fn ban_history(&self, jail: &str) -> Result<Vec<(String, u32, f64)>, DbError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT ip, MAX(count), MAX(start) FROM bans WHERE jail = ?1 GROUP BY ip",
            )
            .map_err(self.err("read the ban history"))?;
        let rows = stmt
            .query_map(params![jail], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .and_then(|rows| rows.collect())
            .map_err(self.err("read the ban history"));
        rows
    }

    /// The jails this database holds bans of (in force or ended, until purged).
    pub fn jails_with_bans(&self) -> Result<Vec<String>, DbError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT DISTINCT jail FROM bans")
            .map_err(self.err("read the jails"))?;
        let rows = stmt
            .query_map([], |r| r.get(0))
            .and_then(|rows| rows.collect())
            .map_err(self.err("read the jails"));
        rows
    }

    /// Delete bans that ended (or were lifted) before `before`.
    pub fn purge(&mut self, before: f64) -> Result<usize, DbError> {
        self.conn
            .execute(
                "DELETE FROM bans WHERE (lifted_at IS NOT NULL AND lifted_at < ?1)
                 OR (duration >= 0 AND start + duration < ?1)",
                params![before],
            )
            .map_err(self.err("purge"))
    }

    /// Add `counts` to the activity of `minute` (epoch minutes), all or none.
    pub fn add_activity(&mut self, minute: i64, counts: &[Activity]) -> Result<(), DbError> {
        self.execute_each(
            "INSERT INTO activity (minute, jail, failures, bans) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (minute, jail) DO UPDATE SET
             failures = failures + excluded.failures, bans = bans + excluded.bans",
            "record activity",
            counts,
            |stmt, a| stmt.execute(params![minute, a.jail, a.failures, a.bans]),
        )
    }

    /// The activity from minute `since` on, summed per jail in buckets of `step`
    /// minutes (bucket 0 starts at `since`).
    pub fn activity(&self, since: i64, step: i64) -> Result<Vec<ActivityBucket>, DbError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT jail, (minute - ?1) / ?2, SUM(failures), SUM(bans) FROM activity
                 WHERE minute >= ?1 GROUP BY jail, (minute - ?1) / ?2",
            )
            .map_err(self.err("prepare activity"))?;
        let rows = stmt
            .query_map(params![since, step.max(1)], |r| {
                Ok(ActivityBucket {
                    bucket: r.get::<_, i64>(1)?.max(0) as usize,
                    activity: Activity {
                        jail: r.get(0)?,
                        failures: r.get::<_, i64>(2)?.max(0) as u64,
                        bans: r.get::<_, i64>(3)?.max(0) as u64,
                    },
                })
            })
            .map_err(self.err("read activity"))?;
        rows.collect::<Result<_, _>>()
            .map_err(self.err("read activity"))
    }

    /// Delete the activity of minutes before `before`.
    pub fn purge_activity(&mut self, before: i64) -> Result<usize, DbError> {
        self.conn
            .execute("DELETE FROM activity WHERE minute < ?1", params![before])
            .map_err(self.err("purge activity"))
    }

    /// Every address in the database with how many bans it has there (ended ones
    /// included, until they are purged).
    pub fn bans_per_address(&self) -> Result<Vec<(String, u32)>, DbError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT ip, COUNT(*) FROM bans GROUP BY ip")
            .map_err(self.err("prepare ban counts"))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(self.err("read ban counts"))?;
        rows.collect::<Result<_, _>>()
            .map_err(self.err("read ban counts"))
    }

    /// Where `path` was read up to.
    pub fn position(&self, path: &str) -> Result<Option<FilePosition>, DbError> {
        self.conn
            .query_row(
                "SELECT path, first_line_hash, offset FROM positions WHERE path = ?1",
                params![path],
                |r| {
                    Ok(FilePosition {
                        path: r.get(0)?,
                        first_line_hash: r.get::<_, i64>(1)? as u64,
                        offset: r.get::<_, i64>(2)? as u64,
                    })
                },
            )
            .optional()
            .map_err(self.err("read position"))
    }

    /// Store read positions, all or none.
    pub fn set_positions(&mut self, positions: &[FilePosition]) -> Result<(), DbError> {
        self.execute_each(
            "INSERT OR REPLACE INTO positions (path, first_line_hash, offset) VALUES (?1, ?2, ?3)",
            "store positions",
            positions,
            |stmt, p| stmt.execute(params![p.path, p.first_line_hash as i64, p.offset as i64]),
        )
    }

    /// The journal cursor stored for `source`.
    pub fn cursor(&self, source: &str) -> Result<Option<String>, DbError> {
        self.keyed(
            "SELECT cursor FROM cursors WHERE source = ?1",
            source,
            "read cursor",
        )
    }

    pub fn set_cursor(&mut self, source: &str, cursor: &str) -> Result<(), DbError> {
        self.set_keyed(
            "INSERT OR REPLACE INTO cursors (source, cursor) VALUES (?1, ?2)",
            source,
            cursor,
            "store cursor",
        )
    }

    /// The time (seconds since the epoch) journal `source` is read from while it
    /// has no cursor: where Fail2ban had read it up to, when its database was
    /// imported.
    pub fn journal_start(&self, source: &str) -> Result<Option<f64>, DbError> {
        self.keyed(
            "SELECT time FROM journal_starts WHERE source = ?1",
            source,
            "read journal start",
        )
    }

    pub fn set_journal_start(&mut self, source: &str, time: f64) -> Result<(), DbError> {
        self.set_keyed(
            "INSERT OR REPLACE INTO journal_starts (source, time) VALUES (?1, ?2)",
            source,
            time,
            "store journal start",
        )
    }

    /// The stamp (size and time of change) Fail2ban's database `source` had when
    /// it was last imported; `None` if it never was, or before stamps were kept.
    pub fn import_stamp(&self, source: &str) -> Result<Option<String>, DbError> {
        self.keyed(
            "SELECT stamp FROM imports WHERE source = ?1",
            source,
            "read import stamp",
        )
    }

    pub fn set_import_stamp(&mut self, source: &str, stamp: &str) -> Result<(), DbError> {
        self.set_keyed(
            "INSERT OR REPLACE INTO imports (source, stamp) VALUES (?1, ?2)",
            source,
            stamp,
            "store import stamp",
        )
    }

    /// The value `select` (one column, by `?1`) reads for `key` in a table of one
    /// value per key; `None` where it has none.
    fn keyed<T: rusqlite::types::FromSql>(
        &self,
        select: &str,
        key: &str,
        action: &'static str,
    ) -> Result<Option<T>, DbError> {
        self.conn
            .query_row(select, params![key], |r| r.get(0))
            .optional()
            .map_err(self.err(action))
    }

    /// Store `value` for `key` with `replace` (`?1` the key, `?2` the value).
    fn set_keyed(
        &mut self,
        replace: &str,
        key: &str,
        value: impl rusqlite::ToSql,
        action: &'static str,
    ) -> Result<(), DbError> {
        self.conn
            .execute(replace, params![key, value])
            .map(drop)
            .map_err(self.err(action))
    }
}

/// Databases written before the fleet have no `origin` column; add it.
fn add_origin_column(conn: &Connection) -> rusqlite::Result<()> {
    let has = conn
        .prepare("SELECT 1 FROM pragma_table_info('bans') WHERE name = 'origin'")?
        .exists([])?;
    if !has {
        conn.execute_batch("ALTER TABLE bans ADD COLUMN origin TEXT")?;
    }
    Ok(())
}

/// Fail2ban's names for what tools and scripts read from the database `get
/// dbfile` names: its `bans` columns `timeofban`, `bantime` and `bancount` (computed
/// from ferroban's own, never stored), and its `bips` table (each address's latest
/// ban in a jail, not lifted by hand) as a view. `data` is already Fail2ban's JSON
/// (`matches`, `failures`).
fn add_fail2ban_view(conn: &Connection) -> rusqlite::Result<()> {
    let has = conn
        .prepare("SELECT 1 FROM pragma_table_xinfo('bans') WHERE name = 'timeofban'")?
        .exists([])?;
    if !has {
        conn.execute_batch(
            "ALTER TABLE bans ADD COLUMN timeofban INTEGER
                 GENERATED ALWAYS AS (CAST(start AS INTEGER)) VIRTUAL;
             ALTER TABLE bans ADD COLUMN bantime INTEGER
                 GENERATED ALWAYS AS (CAST(duration AS INTEGER)) VIRTUAL;
             ALTER TABLE bans ADD COLUMN bancount INTEGER
                 GENERATED ALWAYS AS (count) VIRTUAL;",
        )?;
    }
    conn.execute_batch(
        "CREATE VIEW IF NOT EXISTS bips AS
             SELECT ip, jail, timeofban, bantime, bancount, data FROM bans AS b
             WHERE lifted_at IS NULL
               AND start = (SELECT MAX(start) FROM bans WHERE ip = b.ip AND jail = b.jail);",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(jail: &str, ip: &str, start: f64, duration: f64, count: u32) -> BanRecord {
        BanRecord {
            jail: jail.into(),
            ip: ip.into(),
            start,
            duration,
            count,
            failures: 3,
            matches: vec!["a line".into()],
            fields: vec![("user".into(), "root".into())],
            origin: None,
        }
    }

    #[test]
    fn bans_survive_reopening() {
        let dir = std::env::temp_dir().join(format!("ferroban-db-{}", std::process::id()));
        let path = dir.join("bans.sqlite3");
        let _ = std::fs::remove_file(&path);
        {
            let mut db = Database::open(Some(&path)).unwrap();
            db.add_bans(&[
                rec("ssh", "192.0.2.1", 1000.0, 100.0, 1),
                rec("ssh", "192.0.2.2", 1000.0, -1.0, 1),
                rec("web", "192.0.2.1", 1000.0, 10.0, 1),
                rec("ssh", "192.0.2.1", 1050.0, 400.0, 2),
            ])
            .unwrap();
        }
        let mut db = Database::open(Some(&path)).unwrap();
        let live = db.bans_in_force(1020.0).unwrap();
        assert_eq!(live.len(), 2, "{live:?}");
        let a = live.iter().find(|b| b.ip == "192.0.2.1").unwrap();
        assert_eq!((a.start, a.count), (1050.0, 2), "newest ban of the address");
        assert_eq!(a.matches, vec!["a line"]);
        assert_eq!(a.fields, vec![("user".to_string(), "root".to_string())]);
        assert_eq!(db.ban_count("192.0.2.1", Some("ssh")).unwrap(), 2);
        assert_eq!(db.ban_count("192.0.2.1", Some("web")).unwrap(), 1);
        assert_eq!(db.ban_count("192.0.2.1", None).unwrap(), 2);
        assert_eq!(db.ban_count("192.0.2.9", None).unwrap(), 0);
        let mut history = db.ban_history("ssh").unwrap();
        history.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            history.first().map(|h| (h.0.as_str(), h.1)),
            Some(("192.0.2.1", 2))
        );
        assert!(db.ban_history("nosuchjail").unwrap().is_empty());
        db.lift(Some("ssh"), &["192.0.2.2".into()], 1030.0).unwrap();
        assert_eq!(db.bans_in_force(1030.0).unwrap().len(), 1);
        assert_eq!(
            db.ban_count("192.0.2.2", None).unwrap(),
            1,
            "lifted bans still count"
        );
        assert_eq!(db.purge(2000.0).unwrap(), 4);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_ban_of_count_zero_is_a_ban_held() {
        let mut db = Database::open(None).unwrap();
        // a ban received from the fleet (count 0), and one whose count an unban
        // by hand forgot
        let received = BanRecord {
            origin: Some("web2".into()),
            ..rec("ssh", "192.0.2.1", 1000.0, 100.0, 0)
        };
        db.add_bans(&[received, rec("ssh", "192.0.2.2", 1000.0, 100.0, 1)])
            .unwrap();
        db.forget_ban_counts("ssh", Some(&["192.0.2.2".into()]))
            .unwrap();
        assert_eq!(db.ban_count("192.0.2.1", Some("ssh")).unwrap(), 0);
        assert_eq!(db.ban_count("192.0.2.2", Some("ssh")).unwrap(), 0);
        assert!(db.has_banned("192.0.2.1", "ssh").unwrap());
        assert!(db.has_banned("192.0.2.2", "ssh").unwrap());
        assert!(!db.has_banned("192.0.2.1", "web").unwrap());
        assert!(!db.has_banned("192.0.2.3", "ssh").unwrap());
    }

    #[test]
    fn the_latest_matched_lines_of_a_jail_come_newest_first_lifted_or_not() {
        let mut db = Database::open(None).unwrap();
        let with_lines = |ip: &str, start: f64, line: &str| BanRecord {
            matches: vec![line.into(), format!("{line} again")],
            ..rec("ssh", ip, start, 100.0, 1)
        };
        db.add_bans(&[
            with_lines("192.0.2.1", 1000.0, "first"),
            rec("web", "192.0.2.2", 1001.0, 100.0, 1),
            with_lines("192.0.2.3", 1002.0, "second"),
            // set by hand: no lines
            BanRecord {
                matches: vec![],
                ..rec("ssh", "192.0.2.4", 1003.0, 100.0, 1)
            },
            with_lines("192.0.2.5", 1004.0, "third"),
        ])
        .unwrap();
        db.lift(Some("ssh"), &["192.0.2.5".into()], 1005.0).unwrap();
        let lines = db.latest_matched_lines("ssh", 2).unwrap();
        assert_eq!(
            lines,
            vec![
                (
                    "192.0.2.5".to_string(),
                    1004.0,
                    vec!["third".to_string(), "third again".into()]
                ),
                (
                    "192.0.2.3".to_string(),
                    1002.0,
                    vec!["second".to_string(), "second again".into()]
                ),
            ]
        );
        assert_eq!(db.latest_matched_lines("ssh", 10).unwrap().len(), 3);
        assert_eq!(db.latest_matched_lines("web", 10).unwrap().len(), 1);
        assert!(db.latest_matched_lines("mail", 10).unwrap().is_empty());
    }

    #[test]
    fn matched_text_of_any_kind_comes_back_unchanged_from_large_batches() {
        let mut db = Database::open(None).unwrap();
        let hostile = "quote \" backslash \\ tab\t nl\n nul\u{0} é 🙂 ]},{\"x\":1";
        let mut bans: Vec<BanRecord> = (0..LARGE_BATCH as u32 + 5)
            .map(|i| {
                rec(
                    "web",
                    &format!("10.0.{}.{}", i / 256, i % 256),
                    1000.0,
                    100.0,
                    1,
                )
            })
            .collect();
        bans[7].matches = vec![hostile.to_string(), String::new()];
        bans[7].fields = vec![(hostile.to_string(), "v\"".to_string())];
        db.add_bans(&bans).unwrap();
        let live = db.bans_in_force(1010.0).unwrap();
        assert_eq!(live.len(), bans.len());
        let back = live.iter().find(|b| b.ip == bans[7].ip).unwrap();
        assert_eq!(back, &bans[7]);
    }

    #[test]
    fn activity_adds_up_per_minute_and_buckets_and_is_purged() {
        let mut db = Database::open(None).unwrap();
        let act = |jail: &str, failures, bans| Activity {
            jail: jail.into(),
            failures,
            bans,
        };
        db.add_activity(100, &[act("ssh", 3, 1), act("web", 1, 0)])
            .unwrap();
        db.add_activity(100, &[act("ssh", 2, 1)]).unwrap();
        db.add_activity(104, &[act("ssh", 7, 0)]).unwrap();
        db.add_activity(90, &[act("ssh", 50, 50)]).unwrap();
        let mut got = db.activity(100, 3).unwrap();
        got.sort_by(|a, b| (&a.activity.jail, a.bucket).cmp(&(&b.activity.jail, b.bucket)));
        assert_eq!(
            got,
            vec![
                ActivityBucket {
                    bucket: 0,
                    activity: act("ssh", 5, 2)
                },
                ActivityBucket {
                    bucket: 1,
                    activity: act("ssh", 7, 0)
                },
                ActivityBucket {
                    bucket: 0,
                    activity: act("web", 1, 0)
                },
            ]
        );
        assert_eq!(db.purge_activity(100).unwrap(), 1);
        assert_eq!(db.activity(0, 1000).unwrap().len(), 2);
    }

    #[test]
    fn bans_per_address_counts_every_jail_and_ended_bans() {
        let mut db = Database::open(None).unwrap();
        db.add_bans(&[
            rec("ssh", "192.0.2.1", 1000.0, 10.0, 1),
            rec("web", "192.0.2.1", 1000.0, 10.0, 1),
            rec("ssh", "192.0.2.1", 2000.0, 10.0, 2),
            rec("ssh", "2001:db8::1", 2000.0, 10.0, 1),
        ])
        .unwrap();
        let mut got = db.bans_per_address().unwrap();
        got.sort();
        assert_eq!(
            got,
            vec![("192.0.2.1".to_string(), 3), ("2001:db8::1".to_string(), 1)]
        );
    }

    #[test]
    fn fleet_bans_keep_their_origin_and_the_outbox_empties_by_id() {
        let mut db = Database::open(None).unwrap();
        let mut received = rec("sshd", "192.0.2.7", 1000.0, 100.0, 0);
        received.origin = Some("web2".into());
        db.add_bans(&[received.clone(), rec("sshd", "192.0.2.8", 1000.0, 100.0, 1)])
            .unwrap();
        let live = db.bans_in_force(1010.0).unwrap();
        let back = live.iter().find(|b| b.ip == "192.0.2.7").unwrap();
        assert_eq!(back.origin.as_deref(), Some("web2"));
        assert_eq!(
            live.iter().find(|b| b.ip == "192.0.2.8").unwrap().origin,
            None
        );

        let entry = |ip: &str, kind| OutboxEntry {
            id: 0,
            jail: "sshd".into(),
            ip: ip.into(),
            kind,
        };
        let ids = db
            .add_to_outbox(&[
                entry(
                    "192.0.2.8",
                    OutboxKind::Ban {
                        start: 1000.0,
                        end: Some(1100.0),
                    },
                ),
                entry(
                    "192.0.2.9",
                    OutboxKind::Ban {
                        start: 1000.0,
                        end: None,
                    },
                ),
                entry("192.0.2.8", OutboxKind::Unban { at: 1050.0 }),
            ])
            .unwrap();
        assert_eq!(ids.len(), 3);
        assert_eq!(db.outbox_len().unwrap(), 3);
        db.remove_from_outbox(&ids[..2]).unwrap();
        let left = db.outbox().unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].id, ids[2]);
        assert_eq!(left[0].kind, OutboxKind::Unban { at: 1050.0 });
    }

    #[test]
    fn a_database_from_before_the_fleet_gets_the_origin_column() {
        let dir = std::env::temp_dir().join(format!("ferroban-db-old-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("old.sqlite3");
        let _ = std::fs::remove_file(&path);
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "CREATE TABLE bans (jail TEXT NOT NULL, ip TEXT NOT NULL, start REAL NOT NULL,
                 duration REAL NOT NULL, count INTEGER NOT NULL, lifted_at REAL, data TEXT NOT NULL);
                 INSERT INTO bans VALUES ('sshd', '192.0.2.1', 1000, 100, 1, NULL, '{}');",
            )
            .unwrap();
        }
        let db = Database::open(Some(&path)).unwrap();
        let live = db.bans_in_force(1010.0).unwrap();
        assert_eq!(live.len(), 1);
        assert_eq!(live[0].origin, None);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn positions_and_cursors() {
        let mut db = Database::open(None).unwrap();
        assert_eq!(db.position("/var/log/x").unwrap(), None);
        let p = FilePosition {
            path: "/var/log/x".into(),
            first_line_hash: u64::MAX - 3,
            offset: 1234,
        };
        db.set_positions(std::slice::from_ref(&p)).unwrap();
        assert_eq!(db.position("/var/log/x").unwrap(), Some(p));
        db.set_cursor("sshd", "s=abc").unwrap();
        assert_eq!(db.cursor("sshd").unwrap().as_deref(), Some("s=abc"));
    }
}
