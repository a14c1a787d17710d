//! Failures and bans per jail and minute, for the dashboard's charts.
//!
//! Owns the step from the jails' running totals to per-minute counts in the
//! database: it remembers the totals it last saw, and once a minute (or when the
//! dashboard asks) writes what they grew by. It adds nothing to the per-line path
//! (the jails count anyway) and keeps a week of minutes; it does not read them back.

use std::collections::HashMap;

use ferroban_actions::Severity;
use ferroban_db::{Activity, Database};

use super::super::jail::Jail;
use super::super::log::{Component, Logger};

/// The longest chart is a week; an hour more covers its first bucket.
pub const KEPT_MINUTES: i64 = 7 * 24 * 60 + 60;

/// The epoch minute of `epoch` seconds.
pub fn minute_of(epoch: f64) -> i64 {
    (epoch / 60.0).floor() as i64
}

/// Totals seen and counts not written yet.
#[derive(Debug, Default)]
pub struct ActivityRecorder {
    /// Per jail: (failures, bans) totals when last looked at.
    seen: HashMap<String, (u64, u64)>,
    /// Per jail: what the totals grew by since the last write.
    pending: HashMap<String, (u64, u64)>,
    /// The minute the pending counts belong to.
    minute: i64,
    /// Whether writing fails now (said once, not every minute).
    failing: bool,
}

impl ActivityRecorder {
    /// Take what the jails counted since the last look. A jail seen for the first
    /// time only sets its baseline: bans restored at start are not new activity.
    fn observe(&mut self, jails: &[Jail]) {
        for j in jails {
            let now = (j.tracker.total_failed(), j.bans.total());
            // Looked up before inserting: this runs after every round of events,
            // and a name is copied only for a jail not seen before.
            let Some(before) = self.seen.get_mut(j.name()) else {
                self.seen.insert(j.name().to_string(), now);
                continue;
            };
            // A restarted jail counts from zero again.
            let grew = (
                now.0.saturating_sub(before.0),
                now.1.saturating_sub(before.1),
            );
            *before = now;
            if grew != (0, 0) {
                let p = self.pending.entry(j.name().to_string()).or_default();
                p.0 += grew.0;
                p.1 += grew.1;
            }
        }
    }

    /// Called by the server thread after each round of events: once the minute
    /// is over, write its counts and forget minutes older than a week.
    pub fn tick(&mut self, jails: &[Jail], db: &mut Database, now: f64, log: &Logger) {
        self.observe(jails);
        let minute = minute_of(now);
        if minute != self.minute {
            self.write(db, log);
            self.minute = minute;
            if let Err(e) = db.purge_activity(minute - KEPT_MINUTES) {
                log.log(Component::Database, Severity::Error, &e.to_string());
            }
        }
    }

    /// Write what was counted so far (before the dashboard reads the charts).
    pub fn flush(&mut self, jails: &[Jail], db: &mut Database, log: &Logger) {
        self.observe(jails);
        self.write(db, log);
    }

    fn write(&mut self, db: &mut Database, log: &Logger) {
        if self.pending.is_empty() {
            return;
        }
        let counts: Vec<Activity> = self
            .pending
            .iter()
            .map(|(jail, &(failures, bans))| Activity {
                jail: jail.clone(),
                failures,
                bans,
            })
            .collect();
        match db.add_activity(self.minute, &counts) {
            Ok(()) => {
                self.pending.clear();
                self.failing = false;
            }
            // Kept, and written with a later minute once the database takes it.
            Err(e) if !self.failing => {
                self.failing = true;
                log.log(
                    Component::Database,
                    Severity::Error,
                    &format!("{e}; the dashboard's counts are kept until it works again"),
                );
            }
            Err(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::jail::test_jail;
    use super::*;
    use ferroban_config::settings::LogTarget;
    use ferroban_jail::Ban;

    fn ban(ip: &str) -> Ban {
        Ban {
            ip: ip.parse().unwrap(),
            start: 0.0,
            duration: -1.0,
            count: 1,
            failures: 1,
            matches: vec![],
            fields: vec![],
            origin: None,
            restored: false,
        }
    }

    #[test]
    fn counts_what_grew_per_minute_but_not_what_was_restored() {
        let dir = std::env::temp_dir().join(format!("ferroban-activity-{}", std::process::id()));
        let mut jails = vec![test_jail(&dir, "^fail from <HOST>$", "maxretry = 9\n")];
        let log = Logger::open(&LogTarget::File(dir.join("log")), Severity::Critical).unwrap();
        let mut db = Database::open(None).unwrap();
        let mut rec = ActivityRecorder::default();
        let t0 = 6_000_000.0;
        let failures = |jails: &mut Vec<Jail>, n| {
            for _ in 0..n {
                let line = "fail from 192.0.2.1";
                jails[0].process_line(line, Some(t0), t0, true, &log, &mut Vec::new());
            }
        };
        let totals = |db: &Database| {
            db.activity(0, 1_000_000_000)
                .unwrap()
                .iter()
                .map(|b| (b.activity.failures, b.activity.bans))
                .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
        };
        // Restored at start: the baseline, not activity.
        jails[0].bans.insert(ban("192.0.2.9"));
        rec.tick(&jails, &mut db, t0, &log);
        failures(&mut jails, 2);
        jails[0].bans.insert(ban("192.0.2.1"));
        rec.tick(&jails, &mut db, t0 + 1.0, &log);
        assert_eq!(totals(&db), (0, 0), "written once the minute is over");
        rec.flush(&jails, &mut db, &log);
        assert_eq!(totals(&db), (2, 1), "or when the dashboard asks");
        let minute = minute_of(t0);
        assert_eq!(db.activity(minute, 1).unwrap()[0].bucket, 0);
        failures(&mut jails, 3);
        rec.tick(&jails, &mut db, t0 + 60.0, &log);
        assert_eq!(totals(&db), (5, 1));
        rec.tick(&jails, &mut db, t0 + 61.0, &log);
        assert_eq!(totals(&db), (5, 1), "nothing counted twice");
        std::fs::remove_dir_all(&dir).ok();
    }
}
