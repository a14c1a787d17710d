//! ferroban's filter engine: Fail2ban filters, run exactly as Fail2ban runs them.
//!
//! The data path inside this crate: a line goes to the [`date`] detector (which finds
//! and cuts out its timestamp), then to the [`engine::Filter`] (prefregex, failregex,
//! ignoreregex over a multi-line buffer), whose regexes are Fail2ban's Python syntax
//! with [`tags`] expanded, translated by [`pyre`] and compiled by [`pattern`] onto a
//! linear-time engine wherever possible (captures by [`twopass`], without
//! back-tracking). Out come failures: the host or failure id,
//! the time and the captured fields. Counting and banning live elsewhere.

mod anchored;
pub mod candidates;
pub mod date;
pub mod engine;
pub mod faildata;
mod host_branch;
mod merge;
pub mod mlfid;
pub mod pattern;
pub mod prefilter;
pub mod pyre;
pub mod recent;
pub mod tags;
pub mod twopass;
pub mod unfold;

pub use engine::{
    expanded_regex, Failure, Failures, Filter, FilterError, LineResult, PendingMatch,
};
pub use faildata::{FailData, Value};
