//! Prometheus metrics: the per-jail counters the server keeps, their text
//! exposition, and the optional HTTP endpoint that serves them.
//!
//! Owns the counters that exist only for observation (lines offered to a jail,
//! unbans, action errors, processing latency). The HTTP listener (`super::http`)
//! serves the text, asking the server thread with the `metrics` command. Off
//! unless `metrics` is set in ferroban.conf; a bare port listens on loopback only.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Upper bounds of the latency histogram, in seconds.
const LATENCY_BUCKETS: [f64; 8] = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 1.0];

/// Counters of one jail that its other state does not already hold.
#[derive(Debug, Default, Clone)]
pub struct JailMetrics {
    pub lines: u64,
    pub unbans: u64,
    /// Batches of lines per latency bucket (the last is +Inf), their count and sum.
    latency_buckets: [u64; LATENCY_BUCKETS.len() + 1],
    latency_count: u64,
    latency_sum: f64,
}

impl JailMetrics {
    /// Count `lines` lines that took `elapsed` from being read to being decided.
    pub fn observe(&mut self, lines: usize, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        self.lines += lines as u64;
        let bucket = LATENCY_BUCKETS
            .iter()
            .position(|&b| secs <= b)
            .unwrap_or(LATENCY_BUCKETS.len());
        self.latency_buckets[bucket] += 1;
        self.latency_count += 1;
        self.latency_sum += secs;
    }
}

/// Failed firewall calls per jail, counted from the actions' reports (they arrive
/// on the actions' threads).
pub type ActionErrors = Arc<Mutex<HashMap<String, u64>>>;

/// One jail's figures for the exposition.
pub struct JailFigures<'a> {
    pub name: &'a str,
    pub metrics: &'a JailMetrics,
    pub failures: u64,
    pub bans: u64,
    pub banned: usize,
    pub action_errors: u64,
}

/// The Prometheus text format (version 0.0.4) of `jails`.
pub fn render(jails: &[JailFigures]) -> String {
    let mut out = String::new();
    let mut family =
        |name: &str, kind: &str, help: &str, value: &dyn Fn(&JailFigures) -> String| {
            let _ = writeln!(
                out,
                "# HELP ferroban_{name} {help}\n# TYPE ferroban_{name} {kind}"
            );
            for j in jails {
                let _ = writeln!(
                    out,
                    "ferroban_{name}{{jail=\"{}\"}} {}",
                    escape(j.name),
                    value(j)
                );
            }
        };
    family(
        "lines_read_total",
        "counter",
        "Log lines and journal entries offered to the jail's filter.",
        &|j| j.metrics.lines.to_string(),
    );
    family(
        "failures_total",
        "counter",
        "Failures the jail's filter found.",
        &|j| j.failures.to_string(),
    );
    family(
        "bans_total",
        "counter",
        "Bans made since start, restored ones included.",
        &|j| j.bans.to_string(),
    );
    family(
        "unbans_total",
        "counter",
        "Bans lifted since start, by expiry or by hand.",
        &|j| j.metrics.unbans.to_string(),
    );
    family("banned", "gauge", "Addresses banned now.", &|j| {
        j.banned.to_string()
    });
    family(
        "action_errors_total",
        "counter",
        "Firewall calls that failed (they are retried).",
        &|j| j.action_errors.to_string(),
    );
    let _ = writeln!(
        out,
        "# HELP ferroban_processing_latency_seconds From a batch of lines arriving at the server to the jail's decision on it.\n\
         # TYPE ferroban_processing_latency_seconds histogram"
    );
    for j in jails {
        let name = escape(j.name);
        let m = j.metrics;
        let mut cumulative = 0;
        for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
            cumulative += m.latency_buckets[i];
            let _ = writeln!(
                out,
                "ferroban_processing_latency_seconds_bucket{{jail=\"{name}\",le=\"{bound}\"}} {cumulative}"
            );
        }
        let _ = writeln!(
            out,
            "ferroban_processing_latency_seconds_bucket{{jail=\"{name}\",le=\"+Inf\"}} {}\n\
             ferroban_processing_latency_seconds_sum{{jail=\"{name}\"}} {}\n\
             ferroban_processing_latency_seconds_count{{jail=\"{name}\"}} {}",
            m.latency_count, m.latency_sum, m.latency_count
        );
    }
    out
}

/// A label value as the text format wants it.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_counts_buckets_cumulatively() {
        let mut m = JailMetrics::default();
        m.observe(10, Duration::from_micros(50));
        m.observe(5, Duration::from_millis(3));
        let text = render(&[JailFigures {
            name: "web\"1",
            metrics: &m,
            failures: 4,
            bans: 2,
            banned: 1,
            action_errors: 0,
        }]);
        assert!(
            text.contains("ferroban_lines_read_total{jail=\"web\\\"1\"} 15"),
            "{text}"
        );
        assert!(text.contains("le=\"0.0001\"} 1\n"), "{text}");
        assert!(text.contains("le=\"0.001\"} 1\n"), "{text}");
        assert!(text.contains("le=\"0.005\"} 2\n"), "{text}");
        assert!(text.contains("le=\"+Inf\"} 2\n"), "{text}");
        assert!(
            text.contains("ferroban_failures_total{jail=\"web\\\"1\"} 4"),
            "{text}"
        );
        assert!(text.contains("# TYPE ferroban_banned gauge"), "{text}");
    }
}
