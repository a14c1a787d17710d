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
            let Some(before) = self.seen.insert(j.name().to_string(), now) else {
                continue;
            };
            // A restarted jail counts from zero again.
            let grew = (
                now.0.saturating_sub(before.0),
                now.1.saturating_sub(before.1),
            );
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
