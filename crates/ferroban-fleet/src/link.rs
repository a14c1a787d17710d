//! The fleet thread: the one connection to the engine.
//!
//! Owns the NATS client, on a current-thread tokio runtime inside a thread of its
//! own, and its sessions: connect (backing off while the engine is away, saying
//! so once), open the bucket and the failures' stream (creating them when the
//! engine is new or lost its storage), watch the bucket (snapshot, then live),
//! read the failures, publish what the server hands over. The server only ever
//! sends it [`FleetCommand`]s on an unbounded channel, so it never waits on the
//! network; received messages are checked here ([`crate::wire`]) and handed back
//! in batches through the sink. It must not decide whether a ban applies here.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::{self, consumer, kv, stream};
use async_nats::{ConnectOptions, HeaderMap, ServerAddr};
use ferroban_config::fleet::{FleetAuth, FleetSettings};
use futures_util::{FutureExt, StreamExt};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

use crate::authz::{failures_stream, inbox_prefix};
use crate::limits::Complaints;
use crate::wire::{self, Publisher, Received};
use crate::{
    count_refusal, FleetCommand, FleetEvent, Level, Outgoing, Refusal, Refused, SharedStats,
};

/// Where the fleet thread hands its events (the server's queue). It may block
/// while the server is busy: that only slows reading from the engine.
pub type Sink = Arc<dyn Fn(FleetEvent) -> bool + Send + Sync>;

/// The engine refuses larger values outright (ours are far smaller).
const MAX_VALUE_SIZE: i32 = 4096;
/// How long stopping waits for the fleet thread (the server may no longer be
/// reading its events, so it must not wait forever).
const STOP_WAIT: Duration = Duration::from_secs(3);
/// Publications whose acks are awaited together (below the client's limit of
/// acks in flight).
const ACK_CHUNK: usize = 1000;
/// Received entries handed over at once, at most.
const BATCH: usize = 4096;
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(8);
/// How long the engine has to answer a request or store a publication. Generous:
/// when many hosts (re)connect at once, nats-server spends its time checking
/// bcrypt hashes, and giving up early only makes every host try again.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Failures are kept this long in the engine (longer than any useful findtime).
const FAILURES_MAX_AGE: Duration = Duration::from_secs(86_400);
/// After an outage, this host's bans made this long before it began are published
/// again: the engine may have lost its last writes when it was killed.
const REPUBLISH_MARGIN: f64 = 60.0;
/// Failures kept while the engine is away, at most (the oldest go first).
const HELD_FAILURES: usize = 10_000;
/// A message under this host's name but from another process counts as a twin's
/// only when the engine stored it this long after this process started: the
/// entries of this host's former runs are older, even with the engine's clock
/// somewhat ahead of this host's.
const TWIN_MARGIN: f64 = 10.0;

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn epoch(t: time::OffsetDateTime) -> f64 {
    t.unix_timestamp_nanos() as f64 / 1e9
}

/// How far back failures matter to this host, in seconds: what its jails'
/// `fleet`, `fleetmaxretry` and `findtime` ask for.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Lookback {
    /// The failures read from the stream when the link starts: the longest
    /// `findtime` of the jails that count the fleet's failures. `None` when no
    /// jail does: the stream is then not read at all.
    pub counted: Option<f64>,
    /// The failures kept while the engine is away, published once it returns if
    /// still this recent: the longest `findtime` of the jails that publish their
    /// failures.
    pub published: f64,
}

/// The running fleet thread.
pub struct FleetLink {
    commands: UnboundedSender<FleetCommand>,
    /// Closed when the thread ends.
    finished: std::sync::mpsc::Receiver<()>,
}

impl FleetLink {
    /// Start the thread.
    pub fn start(
        settings: FleetSettings,
        lookback: Lookback,
        sink: Sink,
        stats: SharedStats,
    ) -> std::io::Result<FleetLink> {
        let (commands, orders) = unbounded_channel();
        let (finished_tx, finished) = std::sync::mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("ferroban-fleet".into())
            .spawn(move || {
                let _finished = finished_tx;
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                match runtime {
                    Ok(rt) => rt.block_on(
                        Link {
                            publisher: Publisher::new(&settings.name),
                            started: now(),
                            twins: HashSet::new(),
                            settings,
                            lookback,
                            sink,
                            stats,
                            kv_created: None,
                            failures_created: None,
                            failures_next: None,
                            down_since: None,
                            held_failures: VecDeque::new(),
                            complaints: Arc::default(),
                        }
                        .run(orders),
                    ),
                    Err(e) => {
                        sink(FleetEvent::Log(
                            Level::Error,
                            format!(
                                "fleet: cannot start its runtime: {e}; running without the fleet"
                            ),
                        ));
                    }
                }
            })?;
        Ok(FleetLink { commands, finished })
    }

    /// Hand a command over; never blocks.
    pub fn send(&self, command: FleetCommand) {
        let _ = self.commands.send(command);
    }

    /// Stop the thread: what was handed over before is published first, for at
    /// most `STOP_WAIT`; the outbox keeps whatever the engine did not confirm.
    pub fn stop(self) {
        self.send(FleetCommand::Stop);
        let _ = self.finished.recv_timeout(STOP_WAIT);
    }
}

/// Why a session ended.
enum End {
    /// The server asked to stop.
    Stop,
    /// The engine went away or refused; `connected`: it had been reached;
    /// `configuration`: not the network but a setting to fix (the engine refused
    /// this host's login or replies, this host does not trust its certificate, a
    /// TLS file is missing), which `why` says, and which is not logged as the
    /// engine being unreachable.
    Lost {
        why: String,
        connected: bool,
        configuration: bool,
    },
}

fn lost(connected: bool) -> impl Fn(String) -> End {
    move |why| End::Lost {
        why,
        connected,
        configuration: false,
    }
}

struct Link {
    settings: FleetSettings,
    /// This host's name and this process's id, in every value it publishes.
    publisher: Publisher,
    /// When this process started (see [`TWIN_MARGIN`]).
    started: f64,
    /// The ids of other processes seen publishing under this host's name, each
    /// reported once.
    twins: HashSet<String>,
    lookback: Lookback,
    sink: Sink,
    stats: SharedStats,
    /// When the bucket's stream was created, as last seen: a different value
    /// means the engine lost its storage.
    kv_created: Option<f64>,
    failures_created: Option<f64>,
    /// The next failure to read (stream sequence), to resume without counting twice.
    failures_next: Option<u64>,
    down_since: Option<f64>,
    /// Failures handed over while the engine was away: published when it
    /// returns, if still within the longest `findtime`.
    held_failures: VecDeque<HeldFailure>,
    complaints: Arc<Mutex<Complaints>>,
}

/// A failure waiting for the engine.
struct HeldFailure {
    jail: String,
    ip: IpAddr,
    time: f64,
}

impl Link {
    fn log(&self, level: Level, text: String) {
        (self.sink)(FleetEvent::Log(level, text));
    }

    fn set_connected(&self, connected: bool) {
        if let Ok(mut s) = self.stats.lock() {
            s.connected = connected;
        }
    }

    /// Keep why the engine could not be reached, for `ferroban fleet`.
    fn set_last_error(&self, why: &str) {
        if let Ok(mut s) = self.stats.lock() {
            s.last_error = Some((why.to_string(), now()));
        }
    }

    async fn run(mut self, mut orders: UnboundedReceiver<FleetCommand>) {
        let mut backoff = FIRST_BACKOFF;
        let mut said_down = false;
        // What the last warning said: a reconnection refused for a reason of
        // configuration (a password rotated on the engine) is told even after
        // the loss of the session was.
        let mut told: Option<String> = None;
        loop {
            let end = self.session(&mut orders, &mut said_down).await;
            self.set_connected(false);
            let (why, connected, configuration) = match end {
                End::Stop => return,
                End::Lost {
                    why,
                    connected,
                    configuration,
                } => (why, connected, configuration),
            };
            self.set_last_error(&why);
            if connected {
                backoff = FIRST_BACKOFF;
            }
            self.down_since.get_or_insert_with(now);
            let newly_refused = configuration && told.as_deref() != Some(why.as_str());
            if !said_down || newly_refused {
                said_down = true;
                told = Some(why.clone());
                // Not the engine being away: `why` says what to fix.
                let what = if configuration {
                    format!("fleet: {why}")
                } else {
                    format!("fleet: engine unreachable ({why})")
                };
                self.log(
                    Level::Warning,
                    format!(
                        "{what}; local banning goes on, bans wait in the outbox, \
                         reconnecting with backoff"
                    ),
                );
            }
            let wait = tokio::time::sleep(jittered(backoff));
            tokio::pin!(wait);
            loop {
                tokio::select! {
                    _ = &mut wait => break,
                    order = orders.recv() => match order {
                        None | Some(FleetCommand::Stop) => return,
                        Some(FleetCommand::Failure { jail, ip, time }) => {
                            self.hold_failure(HeldFailure { jail, ip, time });
                        }
                        // The outbox keeps bans.
                        Some(FleetCommand::Publish(_)) => {}
                    },
                }
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    /// Log in to the engine; a failure says why in words an administrator can act
    /// on ([`connect_error`]).
    async fn connect(
        &self,
        events: UnboundedSender<async_nats::Event>,
    ) -> Result<async_nats::Client, End> {
        let failed = |why: String| End::Lost {
            why,
            connected: false,
            configuration: false,
        };
        let s = &self.settings;
        let mut options = ConnectOptions::new()
            .name(format!("ferroban {}", s.name))
            .custom_inbox_prefix(inbox_prefix(&s.name))
            .connection_timeout(CONNECT_TIMEOUT)
            // One try per server, then the client gives up: a lost session ends
            // and `run` reconnects with its own jittered backoff. Left unbounded,
            // the dropped client went on reconnecting by itself (every 4 s, without
            // jitter) while it could not log in, each try a bcrypt check for the
            // engine.
            .max_reconnects(s.urls.len().max(1))
            .event_callback(move |e| {
                let events = events.clone();
                async move {
                    let _ = events.send(e);
                }
            });
        options = match &s.auth {
            FleetAuth::None => options,
            FleetAuth::UserPassword { user, password } => {
                options.user_and_password(user.clone(), password.clone())
            }
            FleetAuth::Token(t) => options.token(t.clone()),
            // A file this host cannot read or use is a setting to fix, not the
            // engine being away.
            FleetAuth::Credentials(path) => {
                options
                    .credentials_file(path)
                    .await
                    .map_err(|e| End::Lost {
                        why: format!(
                            "cannot use [Fleet] credentials = {} ({e}): give a NATS .creds \
                             file (user JWT and NKey seed, as nsc writes it) readable by \
                             ferroban",
                            path.display()
                        ),
                        connected: false,
                        configuration: true,
                    })?
            }
        };
        if let Some(ca) = &s.tls_ca {
            options = options.add_root_certificates(ca.clone()).require_tls(true);
        }
        if let (Some(cert), Some(key)) = (&s.tls_cert, &s.tls_key) {
            options = options.add_client_certificate(cert.clone(), key.clone());
        }
        let addrs: Vec<ServerAddr> = s
            .urls
            .iter()
            .map(|u| u.parse().map_err(|e| format!("url {u}: {e}")))
            .collect::<Result<_, String>>()
            .map_err(failed)?;
        options.connect(addrs).await.map_err(|e| {
            let (why, configuration) = connect_error(s, &e);
            End::Lost {
                why,
                connected: false,
                configuration,
            }
        })
    }

    /// One connection, from connecting to losing it (or being told to stop).
    async fn session(
        &mut self,
        orders: &mut UnboundedReceiver<FleetCommand>,
        said_down: &mut bool,
    ) -> End {
        let (events_tx, mut events) = unbounded_channel();
        let client = match self.connect(events_tx).await {
            Ok(c) => c,
            Err(end) => return end,
        };
        let js = jetstream::ContextBuilder::new()
            .timeout(REQUEST_TIMEOUT)
            .build(client.clone());
        let inbox = inbox_prefix(&self.settings.name);
        let mismatch = name_mismatch_hint(&self.settings);
        // `why`, with the hint that the name may not be the login's, where it may not
        let or_mismatch = |why: String, joint: &str| match &mismatch {
            Some(hint) => format!("{why}{joint}{hint}"),
            None => why,
        };
        let bucket = self.settings.bucket.clone();
        let granted = match &self.settings.auth {
            FleetAuth::Credentials(_) => "the user JWT's permissions were made for",
            _ => {
                "the engine's authorization block was made for (ferroban fleet nats-config \
                  --bucket)"
            }
        };
        // The engine answers a subscription to an inbox this login may not read
        // with an error at once, while the request itself would only time out
        // (10 s) and read as an overloaded engine: the error ends the attempt.
        let opened = {
            // Opening borrows `self`: what the engine says meanwhile is logged
            // through these.
            let (complaints, sink) = (self.complaints.clone(), self.sink.clone());
            // Err: why, and whether the engine refused (rather than failed).
            let opening = async {
                let kv = self.open_bucket(&js).await.map_err(|e| (e, false))?;
                let failures = self
                    .open_failures(&js, &client)
                    .await
                    .map_err(|e| (e, false))?;
                Ok::<_, (String, bool)>((kv, failures))
            };
            tokio::pin!(opening);
            loop {
                tokio::select! {
                    o = &mut opening => break o,
                    Some(event) = events.recv() => {
                        // Losing the connection fails the requests themselves.
                        let async_nats::Event::ServerError(e) = event else {
                            continue;
                        };
                        if let Some(text) = inbox_violation(&e, &inbox) {
                            break Err((
                                or_mismatch(format!("the engine refused this host's replies: {text}"), "; "),
                                true,
                            ));
                        }
                        // Its request refused, the same request would only time out.
                        if let Some(text) = publish_violation(&e) {
                            break Err((
                                or_mismatch(format!(
                                    "the engine refused a publication of this host: {text}; \
                                     check that [Fleet] bucket = {bucket} is the bucket {granted}",
                                ), ", else "),
                                true,
                            ));
                        }
                        complain(&complaints, &sink, "engine", format!("fleet: the engine says: {e}"));
                    }
                }
            }
        };
        let opened = opened.map_err(|(why, refused)| {
            // A request that times out right after logging in is, far more often
            // than an overloaded engine, replies the login may not receive.
            if !refused && why.contains("timed out") {
                (or_mismatch(why, "; if this repeats, "), refused)
            } else {
                (why, refused)
            }
        });
        let (kv, mut failures) = match opened {
            Ok(o) => o,
            Err((why, refused)) => {
                return End::Lost {
                    why,
                    connected: false,
                    configuration: refused,
                }
            }
        };
        // With one message per key (history 1), reading the whole stream in order
        // gives the same snapshot as "last per subject", which nats-server 2.9
        // serves far more slowly for 100,000 keys.
        let mut watch = match kv.watch_all_from_revision(1).await {
            Ok(w) => w,
            Err(e) => {
                return End::Lost {
                    why: format!("watching the bucket: {e}"),
                    connected: true,
                    configuration: false,
                }
            }
        };
        if *said_down {
            *said_down = false;
            self.log(Level::Notice, "fleet: connected to the engine again".into());
        } else {
            self.log(
                Level::Info,
                format!(
                    "fleet: connected to {} as {}",
                    self.settings.urls_for_display(),
                    self.settings.name
                ),
            );
        }
        self.set_connected(true);
        self.down_since = None;
        self.publish_held_failures(&js).await;
        let lost = lost(true);
        loop {
            tokio::select! {
                event = events.recv() => match event {
                    None | Some(async_nats::Event::Disconnected) | Some(async_nats::Event::Closed) => {
                        return lost("connection lost".into());
                    }
                    Some(async_nats::Event::ServerError(e)) => {
                        let text = match inbox_violation(&e, &inbox) {
                            Some(text) => or_mismatch(text, "; "),
                            None => e.to_string(),
                        };
                        self.complain("engine", format!("fleet: the engine says: {text}"));
                    }
                    Some(_) => {}
                },
                order = orders.recv() => {
                    // Failures come one a log line: those queued behind one go
                    // out with it, their acks awaited together. Bounded: the
                    // order that ended the batch is not a failure.
                    let mut order = order;
                    loop {
                        match order {
                            None | Some(FleetCommand::Stop) => {
                                let _ = client.flush().await;
                                return End::Stop;
                            }
                            Some(FleetCommand::Publish(items)) => {
                                self.publish(&js, items).await;
                                break;
                            }
                            Some(FleetCommand::Failure { jail, ip, time }) => {
                                let (batch, next) =
                                    queued_failures(HeldFailure { jail, ip, time }, orders);
                                self.publish_failures(&js, batch).await;
                                match next {
                                    Some(next) => order = Some(next),
                                    None => break,
                                }
                            }
                        }
                    }
                }
                entry = watch.next() => match ready_batch(entry, &mut watch, "bucket watch") {
                    Ok(batch) => self.received_entries(batch),
                    Err(why) => return lost(why),
                },
                message = next_or_never(&mut failures) => {
                    let Some(stream) = failures.as_mut() else {
                        continue;
                    };
                    match ready_batch(message, stream, "failures stream") {
                        Ok(batch) => self.received_failures(batch),
                        Err(why) => return lost(why),
                    }
                }
            }
        }
    }

    /// Publish `failures`, their acks awaited by [`ACK_CHUNK`] (one task and one
    /// lock of the figures per chunk, not per failure).
    async fn publish_failures(
        &self,
        js: &jetstream::Context,
        failures: impl IntoIterator<Item = HeldFailure>,
    ) {
        let mut pending = Vec::new();
        for f in failures {
            pending.extend(
                self.send_failure(js, &f.jail, f.ip, f.time)
                    .await
                    .map(|a| (None, a)),
            );
            if pending.len() == ACK_CHUNK {
                self.await_acks(std::mem::take(&mut pending));
            }
        }
        self.await_acks(pending);
    }

    /// Publish a failure; its ack to await, `None` when it could not be sent
    /// (counted as unconfirmed).
    async fn send_failure(
        &self,
        js: &jetstream::Context,
        jail: &str,
        ip: IpAddr,
        time: f64,
    ) -> Option<jetstream::context::PublishAckFuture> {
        let name = &self.settings.name;
        let subject = wire::failure_subject(&self.settings.bucket, name, jail);
        let value = wire::failure_value(&self.publisher, jail, ip, time);
        match js.publish(subject, value.into()).await {
            Ok(ack) => Some(ack),
            Err(_) => {
                self.count_unconfirmed(1);
                None
            }
        }
    }

    fn count_unconfirmed(&self, n: u64) {
        if let Ok(mut s) = self.stats.lock() {
            s.unconfirmed += n;
        }
    }

    /// Keep a failure for when the engine returns; beyond [`HELD_FAILURES`] the
    /// oldest is dropped (an attack large enough to fill it bans locally anyway).
    fn hold_failure(&mut self, failure: HeldFailure) {
        if self.held_failures.len() == HELD_FAILURES {
            self.held_failures.pop_front();
        }
        self.held_failures.push_back(failure);
    }

    /// Publish the failures kept during the outage that are still within the
    /// longest `findtime` of the jails that publish them (each receiver then
    /// counts only those within its jail's own).
    async fn publish_held_failures(&mut self, js: &jetstream::Context) {
        let since = now() - self.lookback.published;
        let held = std::mem::take(&mut self.held_failures);
        self.publish_failures(js, held.into_iter().filter(|f| f.time >= since))
            .await;
    }

    /// Open the bucket (creating it on a new or wiped engine) and tell the server
    /// what to publish again.
    async fn open_bucket(&mut self, js: &jetstream::Context) -> Result<kv::Store, String> {
        let bucket = &self.settings.bucket;
        // The bucket's stream is made here rather than by create_key_value, which
        // first reads account figures in a form nats-server 2.9 does not send.
        let stream = js
            .get_or_create_stream(bucket_stream(bucket))
            .await
            .map_err(|e| format!("opening bucket {bucket}: {e}"))?;
        let flaws = stream_flaws(&stream.cached_info().config, None);
        if !flaws.is_empty() {
            let why = format!(
                "fleet: the engine's bucket {bucket} was made {} (by ferroban before \
                 2026-12-05, by hand, or by a member after the engine lost its storage): \
                 bans can vanish from it. Make it anew: stop nats-server, remove the stream \
                 directory KV_{bucket} under its store_dir (jetstream/$G/streams/), start \
                 it; the hosts publish their bans in force again",
                flaws.join(", ")
            );
            self.set_last_error(&why);
            self.log(Level::Error, why);
        }
        let store = js
            .get_key_value(bucket.as_str())
            .await
            .map_err(|e| format!("opening bucket {bucket}: {e}"))?;
        let created = epoch(store.stream.cached_info().created);
        let republish_since = match self.kv_created {
            Some(seen) if seen == created => {
                Some(self.down_since.unwrap_or_else(now) - REPUBLISH_MARGIN)
            }
            _ => None,
        };
        if self.kv_created.is_some_and(|seen| seen != created) {
            self.log(
                Level::Warning,
                "fleet: the engine's bucket is new (its storage was lost); publishing this \
                 host's bans in force again"
                    .into(),
            );
        }
        self.kv_created = Some(created);
        (self.sink)(FleetEvent::Connected { republish_since });
        Ok(store)
    }

    /// Open the failures' stream (which a publishing host needs too) and, when a
    /// jail here counts the fleet's failures, an ordered consumer on it, resuming
    /// after the last failure read when the stream is the same.
    async fn open_failures(
        &mut self,
        js: &jetstream::Context,
        client: &async_nats::Client,
    ) -> Result<Option<consumer::push::Ordered>, String> {
        let bucket = &self.settings.bucket;
        let name = failures_stream(bucket);
        let stream = js
            .get_or_create_stream(stream::Config {
                name: name.clone(),
                description: Some("ferroban: failures for fleet-wide counting".into()),
                subjects: vec![format!("{bucket}.fail.>")],
                max_age: FAILURES_MAX_AGE,
                storage: stream::StorageType::File,
                ..Default::default()
            })
            .await
            .map_err(|e| format!("opening stream {name}: {e}"))?;
        // what the jails counting the fleet's failures read back (at most what
        // ferroban makes the stream keep)
        let counted = Duration::from_secs_f64(self.lookback.counted.unwrap_or(0.0).max(0.0));
        let kept = counted.min(FAILURES_MAX_AGE);
        let flaws = stream_flaws(&stream.cached_info().config, Some(kept));
        if !flaws.is_empty() {
            let why = format!(
                "fleet: the engine's stream {name} was made {} (by hand, or by a member \
                 after the engine lost its storage): failures counted across the fleet can \
                 vanish from it. Make it anew: stop nats-server, remove the stream directory \
                 {name} under its store_dir (jetstream/$G/streams/), start it",
                flaws.join(", ")
            );
            self.set_last_error(&why);
            self.log(Level::Error, why);
        }
        let created = epoch(stream.cached_info().created);
        if self.failures_created != Some(created) {
            self.failures_created = Some(created);
            self.failures_next = None;
        }
        let Some(counted) = self.lookback.counted else {
            return Ok(None);
        };
        let deliver_policy = match self.failures_next {
            Some(start_sequence) => consumer::DeliverPolicy::ByStartSequence { start_sequence },
            None => consumer::DeliverPolicy::ByStartTime {
                start_time: time::OffsetDateTime::now_utc()
                    - Duration::from_secs_f64(counted.max(0.0)),
            },
        };
        let consumer = stream
            .create_consumer(consumer::push::OrderedConfig {
                deliver_subject: client.new_inbox(),
                filter_subject: format!("{bucket}.fail.>"),
                deliver_policy,
                ..Default::default()
            })
            .await
            .map_err(|e| format!("reading stream {name}: {e}"))?;
        consumer
            .messages()
            .await
            .map(Some)
            .map_err(|e| format!("reading stream {name}: {e}"))
    }

    /// Publish bans, lifts and ends; outbox ids come back once the engine stored
    /// them, on a task of their own so that waiting does not hold up the watch.
    async fn publish(&mut self, js: &jetstream::Context, items: Vec<(Option<i64>, Outgoing)>) {
        let name = &self.settings.name;
        let prefix = format!("$KV.{}.", self.settings.bucket);
        let mut pending = Vec::with_capacity(ACK_CHUNK);
        for (id, item) in items {
            let sent = match item {
                Outgoing::Ban {
                    jail,
                    ip,
                    start,
                    end,
                    failures,
                } => {
                    let key = wire::ban_key(name, &jail, ip);
                    let value = wire::ban_value(&self.publisher, &jail, ip, start, end, failures);
                    js.publish(prefix.clone() + &key, value.into()).await
                }
                Outgoing::Unban { jail, ip, at } => {
                    let key = wire::ban_key(name, &jail, ip);
                    let value = wire::unban_value(&self.publisher, &jail, ip, at);
                    js.publish(prefix.clone() + &key, value.into()).await
                }
                Outgoing::Ended { jail, ip } => {
                    let key = wire::ban_key(name, &jail, ip);
                    let mut headers = HeaderMap::new();
                    headers.insert("KV-Operation", "DEL");
                    js.publish_with_headers(prefix.clone() + &key, headers, Default::default())
                        .await
                }
            };
            match sent {
                Ok(ack) => pending.push((id, ack)),
                Err(_) => self.count_unconfirmed(1),
            }
            // The client holds a bounded number of acks in flight: they are
            // awaited while publishing goes on, else it would wait for itself.
            if pending.len() == ACK_CHUNK {
                self.await_acks(std::mem::take(&mut pending));
            }
        }
        self.await_acks(pending);
        if let Ok(mut s) = self.stats.lock() {
            s.hosts.insert(name.clone(), now());
        }
    }

    /// Wait for the engine's acks on a task of its own; the outbox ids of what it
    /// stored go back to the server and what it stored counts as published, the
    /// rest as unconfirmed (logged once a minute). `Published` thus never counts
    /// a publication still waiting in the outbox.
    fn await_acks(&self, pending: Vec<(Option<i64>, jetstream::context::PublishAckFuture)>) {
        if pending.is_empty() {
            return;
        }
        let sink = self.sink.clone();
        let stats = self.stats.clone();
        let complaints = self.complaints.clone();
        tokio::spawn(async move {
            let mut stored = Vec::new();
            let mut confirmed = 0;
            let mut refused = 0;
            for (id, ack) in pending {
                match ack.await {
                    Ok(_) => {
                        confirmed += 1;
                        stored.extend(id);
                    }
                    Err(_) => refused += 1,
                }
            }
            if let Ok(mut s) = stats.lock() {
                s.published += confirmed;
                s.unconfirmed += refused;
            }
            if !stored.is_empty() {
                sink(FleetEvent::Published(stored));
            }
            if refused > 0 {
                let log = complaints
                    .lock()
                    .is_ok_and(|mut c| c.should_log("publish", now()));
                if log {
                    sink(FleetEvent::Log(
                        Level::Warning,
                        format!(
                            "fleet: the engine did not confirm {refused} publications (refused: \
                             is [Fleet] name this host's login? or no answer in time); bans and \
                             lifts among them stay in the outbox and are sent again within a minute"
                        ),
                    ));
                }
            }
        });
    }

    /// Count and (at most once a minute per origin) log a refusal.
    fn complain(&self, origin: &str, text: String) {
        complain(&self.complaints, &self.sink, origin, text);
    }

    fn refuse(&self, origin: &str, kind: Refused, why: Refusal, what: &str) {
        count_refusal(&self.stats, kind, why);
        self.complain(
            origin,
            format!(
                "fleet: refused {what} from {origin:?}: {} (more are counted, logged once a \
                 minute per origin)",
                why.as_str()
            ),
        );
    }

    /// Report, once per process, another process that publishes under this
    /// host's name (`value`, which the engine stored at `stored`): two hosts given
    /// one `[Fleet] name`, as a cloned configuration does. Each skips the other's
    /// bans as its own and their failures count as one host's, so the fleet
    /// protects neither, without any other sign.
    fn check_twin(&mut self, value: &[u8], stored: f64) {
        if stored <= self.started + TWIN_MARGIN {
            return;
        }
        let Some(instance) = wire::publisher_instance(value) else {
            return;
        };
        if instance == self.publisher.instance || !self.twins.insert(instance) {
            return;
        }
        let name = &self.settings.name;
        let why = format!(
            "another host publishes as {name:?}: two hosts have [Fleet] name = {name} (a \
             cloned configuration?), so neither applies the other's bans and their \
             failures count as one host's; give each host a name and login of its own"
        );
        self.set_last_error(&why);
        if let Ok(mut s) = self.stats.lock() {
            s.twin = Some((why.clone(), now()));
        }
        self.log(Level::Error, format!("fleet: {why}"));
    }

    /// Note when hosts were last active (`seen`: host, time of its latest
    /// message); a host's time only ever moves forward.
    fn note_hosts(&self, seen: HashMap<String, f64>) {
        if let Ok(mut s) = self.stats.lock() {
            for (host, t) in seen {
                let last = s.hosts.entry(host).or_insert(t);
                *last = last.max(t);
            }
        }
    }

    fn received_entries(&mut self, entries: Vec<kv::Entry>) {
        let t = now();
        let mut bans = Vec::new();
        let mut lifts = Vec::new();
        let mut seen: HashMap<String, f64> = HashMap::new();
        let mut received = 0;
        let mut lifted = 0;
        for e in entries {
            // A deleted or purged entry never lifts a ban: only its origin's
            // explicit unban does.
            if e.operation != kv::Operation::Put {
                continue;
            }
            let origin = wire::claimed_origin(&e.key);
            if origin == self.settings.name {
                self.check_twin(&e.value, epoch(e.created));
                continue;
            }
            received += 1;
            match wire::read_ban(&e.key, &e.value, t) {
                Ok(Received::Ban(b)) => bans.push(b),
                Ok(Received::Lift(l)) => {
                    lifted += 1;
                    lifts.push(l);
                }
                Err(why) => {
                    self.refuse(origin, Refused::Entry, why, &format!("entry {:?}", e.key));
                    continue;
                }
            }
            if let Some(at) = seen_at(epoch(e.created), t) {
                let last = seen.entry(origin.to_string()).or_insert(at);
                *last = last.max(at);
            }
        }
        self.note_hosts(seen);
        if let Ok(mut s) = self.stats.lock() {
            s.received += received;
            s.lifts += lifted;
        }
        if !bans.is_empty() {
            (self.sink)(FleetEvent::Bans(bans));
        }
        if !lifts.is_empty() {
            (self.sink)(FleetEvent::Lifts(lifts));
        }
    }

    /// Failures read from the stream, live or read back after a (re)start: each
    /// marks its origin as seen when the engine stored it, not when it was read
    /// here (see [`seen_at`]).
    fn received_failures(&mut self, messages: Vec<jetstream::Message>) {
        let t = now();
        let mut failures = Vec::new();
        let mut seen: HashMap<String, f64> = HashMap::new();
        if let Ok(mut s) = self.stats.lock() {
            s.failures_received += messages.len() as u64;
        }
        for m in messages {
            let stored = match m.info() {
                Ok(info) => {
                    self.failures_next = Some(info.stream_sequence + 1);
                    Some(epoch(info.published))
                }
                Err(_) => None,
            };
            let subject = m.subject.as_str();
            match wire::read_failure(subject, &m.payload) {
                Ok(f) => {
                    if f.origin == self.settings.name {
                        self.check_twin(&m.payload, stored.unwrap_or(f.time));
                    }
                    if let Some(at) = seen_at(stored.unwrap_or(f.time), t) {
                        let last = seen.entry(f.origin.clone()).or_insert(at);
                        *last = last.max(at);
                    }
                    failures.push(f);
                }
                Err(why) => {
                    let origin = wire::subject_origin(subject).to_string();
                    self.refuse(&origin, Refused::Failure, why, "a failure");
                }
            }
        }
        self.note_hosts(seen);
        if !failures.is_empty() {
            (self.sink)(FleetEvent::Failures(failures));
        }
    }
}

/// When a host was last active, from the time of one of its messages: when the
/// engine stored it (a ban's entry, a failure), or the failure's own time when the
/// engine did not say. Never later than `now`: an engine or a member whose clock
/// is ahead must not make a host look active in the future. A restart or
/// reconnection reads old messages back, so the time they are read is never
/// used. `None` for a time that is not a number.
fn seen_at(message_time: f64, now: f64) -> Option<f64> {
    message_time.is_finite().then(|| message_time.min(now))
}

/// `first` and the failures queued behind it (up to [`ACK_CHUNK`] in all), and
/// the order that ended them, if any (never a failure; `None`: none queued).
fn queued_failures(
    first: HeldFailure,
    orders: &mut UnboundedReceiver<FleetCommand>,
) -> (Vec<HeldFailure>, Option<FleetCommand>) {
    let mut batch = vec![first];
    while batch.len() < ACK_CHUNK {
        match orders.try_recv() {
            Ok(FleetCommand::Failure { jail, ip, time }) => {
                batch.push(HeldFailure { jail, ip, time });
            }
            Ok(other) => return (batch, Some(other)),
            // Empty, or the server gone (its next recv says so).
            Err(_) => break,
        }
    }
    (batch, None)
}

/// The next item of `stream`, or never when there is no stream.
async fn next_or_never<S: futures_util::Stream + Unpin>(stream: &mut Option<S>) -> Option<S::Item> {
    match stream {
        Some(s) => s.next().await,
        None => std::future::pending().await,
    }
}

/// The item just received and whatever else `stream` has ready (up to [`BATCH`]),
/// so that a snapshot reaches the server in large batches; an error or the end
/// of the stream ends the session.
fn ready_batch<S, T, E>(
    first: Option<Result<T, E>>,
    stream: &mut S,
    what: &str,
) -> Result<Vec<T>, String>
where
    S: futures_util::Stream<Item = Result<T, E>> + Unpin,
    E: std::fmt::Display,
{
    let mut batch = Vec::new();
    let mut next = first;
    loop {
        match next {
            Some(Ok(item)) => batch.push(item),
            Some(Err(e)) => return Err(format!("{what}: {e}")),
            None => return Err(format!("{what} ended")),
        }
        if batch.len() >= BATCH {
            return Ok(batch);
        }
        match stream.next().now_or_never() {
            Some(n) => next = n,
            None => return Ok(batch),
        }
    }
}

/// Log `text` as a WARNING, at most once a minute per `origin`.
fn complain(complaints: &Mutex<Complaints>, sink: &Sink, origin: &str, text: String) {
    let log = complaints
        .lock()
        .is_ok_and(|mut c| c.should_log(origin, now()));
    if log {
        sink(FleetEvent::Log(Level::Warning, text));
    }
}

/// Why logging in to the engine failed, in words to act on, and whether it is a
/// matter of configuration rather than the network (see [`End::Lost`]). The
/// client's own text repeats itself (`authorization violation: nats:
/// authorization violation`) and names neither the login nor the setting to
/// check, and a certificate it does not trust reads as an IO error.
fn connect_error(settings: &FleetSettings, error: &async_nats::ConnectError) -> (String, bool) {
    use async_nats::ConnectErrorKind;
    let text = error.to_string();
    if error.kind() == ConnectErrorKind::AuthorizationViolation {
        let why = match &settings.auth {
            FleetAuth::UserPassword { user, .. } => format!(
                "the engine refused user {user:?}'s login (authorization violation): check \
                 [Fleet] user and password against the engine's configuration"
            ),
            FleetAuth::Token(_) => "the engine refused this host's token (authorization \
                 violation): check [Fleet] token against the engine's configuration"
                .to_string(),
            FleetAuth::Credentials(path) => format!(
                "the engine refused the login of {} (authorization violation): check \
                 [Fleet] credentials against the engine's accounts",
                path.display()
            ),
            FleetAuth::None => "the engine refused a login without credentials \
                 (authorization violation): set [Fleet] user and password (or token, or \
                 credentials)"
                .to_string(),
        };
        return (why, true);
    }
    // A TLS hello answered in NATS's plain protocol (its INFO line).
    if text.contains("InvalidContentType") {
        return (
            format!(
                "the engine does not answer TLS on this address ({text}): use a nats:// url, \
                 or enable tls on the engine (a tls {{ cert_file, key_file }} block)"
            ),
            true,
        );
    }
    if text.contains("UnknownIssuer") {
        let fix = match &settings.tls_ca {
            None => "set tls_ca in [Fleet] to the CA that signed it (that CA's certificate, \
                     PEM)"
                .to_string(),
            Some(ca) => format!(
                "it is not signed by the CA of [Fleet] tls_ca = {}: set tls_ca to the CA that \
                 signed it",
                ca.display()
            ),
        };
        return (
            format!("this host does not trust the engine's certificate ({text}): {fix}"),
            true,
        );
    }
    // The engine verifies clients (nats-server's `verify: true`) and refused this
    // one's certificate, or its lack of one: Go's TLS says only "bad certificate".
    if text.contains("BadCertificate") || text.contains("CertificateRequired") {
        let why = match &settings.tls_cert {
            None => format!(
                "the engine asks for a client certificate and this host has none ({text}): \
                 set tls_cert and tls_key in [Fleet] to a certificate signed by the CA the \
                 engine verifies clients with (its tls ca_file)"
            ),
            Some(cert) => format!(
                "the engine refused this host's client certificate, [Fleet] tls_cert = {} \
                 ({text}): it must be signed by the CA the engine verifies clients with (its \
                 tls ca_file), be in date and allow client authentication (extendedKeyUsage \
                 clientAuth)",
                cert.display()
            ),
        };
        return (why, true);
    }
    // rustls names it `NotValidForName`, or (newer) says "not valid for name …;
    // certificate is only valid for …"
    if text.contains("NotValidForName") || text.contains("not valid for name") {
        return (
            format!(
                "the engine's certificate does not name the host this host reached it at \
                 ({text}): its subjectAltName must hold the name or address of [Fleet] url"
            ),
            true,
        );
    }
    if error.kind() == ConnectErrorKind::Tls && text.contains("No such file") {
        return (
            format!("{text}: a file of [Fleet] tls_ca, tls_cert or tls_key does not exist"),
            true,
        );
    }
    // Which server it is: several may be listed, and the client's words name none.
    (format!("{text}, at {}", settings.urls_for_display()), false)
}

/// The text of `error` when it is the engine refusing a subscription to this
/// host's inbox (`inbox`, `_INBOX_NAME`): the login is not `NAME`'s.
fn inbox_violation(error: &async_nats::ServerError, inbox: &str) -> Option<String> {
    let async_nats::ServerError::Other(text) = error else {
        return None;
    };
    let prefix = format!("{inbox}.");
    let at = text.find(&prefix)? + prefix.len();
    if !text.to_lowercase().contains("permissions violation") {
        return None;
    }
    // The inbox's random part changes at every attempt: left out, the same refusal
    // reads the same, and is logged once.
    let token = text[at..].find(['.', '"', ' ']).unwrap_or(text.len() - at);
    Some(format!("{}…{}", &text[..at], &text[at + token..]))
}

/// The text of `error` when it is the engine refusing a publication (a
/// request) of this host's login.
fn publish_violation(error: &async_nats::ServerError) -> Option<String> {
    let async_nats::ServerError::Other(text) = error else {
        return None;
    };
    text.to_lowercase()
        .contains("permissions violation for publish")
        .then(|| text.clone())
}

/// What to say when the engine keeps this host's replies from it: the
/// authorization block lets each user receive only on `_INBOX_ITSUSER.>`
/// ([`crate::authz`]), so `[Fleet] name` must be the login's user. `None` where it
/// is: a user and password login of the host's own name.
fn name_mismatch_hint(settings: &FleetSettings) -> Option<String> {
    let name = &settings.name;
    let user = match &settings.auth {
        FleetAuth::UserPassword { user, .. } if user == name => return None,
        FleetAuth::UserPassword { user, .. } => format!(" ({user})"),
        // No authorization block: the permissions are the user JWT's.
        FleetAuth::Credentials(path) => {
            return Some(format!(
                "the user JWT of [Fleet] credentials = {} must allow what the entry of {name} \
                 in `ferroban fleet nats-config` allows (nsc add user --allow-pub … \
                 --allow-sub …): publish under {name}'s subjects, and receive replies on {}.>",
                path.display(),
                inbox_prefix(name)
            ))
        }
        _ => String::new(),
    };
    Some(format!(
        "[Fleet] name = {name} probably does not match the login's user{user}: the \
         authorization block of `ferroban fleet nats-config` lets each user receive replies \
         only on _INBOX_<its user>.> and publish only under its own name, and this host \
         asks for replies on {}.>",
        inbox_prefix(name)
    ))
}

/// The stream behind the KV bucket, as a KV bucket of history 1 is made: one
/// message per key, deletes as markers, values small; but without rollups, which a
/// KV bucket allows for its purge: a `Nats-Rollup: all` header on a member's own
/// key would purge every member's (ferroban never purges).
fn bucket_stream(bucket: &str) -> stream::Config {
    stream::Config {
        name: format!("KV_{bucket}"),
        description: Some("ferroban: bans in force, one key per origin, jail and address".into()),
        subjects: vec![format!("$KV.{bucket}.>")],
        max_messages_per_subject: 1,
        max_message_size: MAX_VALUE_SIZE,
        storage: stream::StorageType::File,
        allow_rollup: false,
        deny_delete: true,
        deny_purge: true,
        allow_direct: true,
        discard: stream::DiscardPolicy::New,
        num_replicas: 1,
        ..Default::default()
    }
}

/// What in a stream's `config` lets what it holds vanish before its time: rollups
/// (any member's message could purge everything), or a limit that drops messages
/// (an age limit only when shorter than `kept`, what must stay; any, without it).
fn stream_flaws(config: &stream::Config, kept: Option<Duration>) -> Vec<String> {
    let mut flaws = Vec::new();
    if config.allow_rollup {
        flaws.push(
            "allowing rollups (any member can purge what every host published with one message)"
                .to_string(),
        );
    }
    if !config.max_age.is_zero() && kept.is_none_or(|kept| config.max_age < kept) {
        flaws.push(format!("with max_age {:?}", config.max_age));
    }
    if config.max_messages > 0 {
        flaws.push(format!("with max_msgs {}", config.max_messages));
    }
    if config.max_bytes > 0 {
        flaws.push(format!("with max_bytes {}", config.max_bytes));
    }
    flaws
}

/// `base` shortened by up to a half at random, so that a fleet does not come back
/// all at once.
fn jittered(base: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let fraction = 0.5 + f64::from(nanos % 1000) / 2000.0;
    base.mul_f64(fraction)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_inbox_reads_the_same_whatever_its_random_part() {
        let refusal = |token: &str| {
            async_nats::ServerError::Other(format!(
                "Permissions Violation for Subscription to \"_INBOX_web3.{token}.*\""
            ))
        };
        let first = inbox_violation(&refusal("5nNt8SpkAv5otKqZnZ9WFf"), "_INBOX_web3");
        assert_eq!(
            first.as_deref(),
            Some("Permissions Violation for Subscription to \"_INBOX_web3.….*\"")
        );
        assert_eq!(first, inbox_violation(&refusal("Zq1"), "_INBOX_web3"));
        assert_eq!(inbox_violation(&refusal("x"), "_INBOX_web2"), None);
    }

    fn failure(i: usize) -> FleetCommand {
        FleetCommand::Failure {
            jail: "t".into(),
            ip: IpAddr::from([192, 0, 2, (i % 250) as u8]),
            time: i as f64,
        }
    }

    fn held(i: usize) -> HeldFailure {
        match failure(i) {
            FleetCommand::Failure { jail, ip, time } => HeldFailure { jail, ip, time },
            _ => unreachable!(),
        }
    }

    fn settings(auth: FleetAuth, tls_ca: Option<&str>) -> FleetSettings {
        FleetSettings {
            urls: vec!["tls://engine.example:4222".into()],
            name: "web2".into(),
            auth,
            tls_ca: tls_ca.map(Into::into),
            tls_cert: None,
            tls_key: None,
            bucket: "ferroban".into(),
            hostrate: 1,
            totalrate: 1,
            secret_file: None,
        }
    }

    #[test]
    fn a_refused_login_names_the_user_and_what_to_check() {
        use async_nats::{ConnectError, ConnectErrorKind};
        let refused = ConnectError::with_source(
            ConnectErrorKind::AuthorizationViolation,
            "nats: authorization violation",
        );
        let user = FleetAuth::UserPassword {
            user: "web2".into(),
            password: "wrong".into(),
        };
        let (why, configuration) = connect_error(&settings(user, None), &refused);
        assert!(configuration);
        assert_eq!(
            why,
            "the engine refused user \"web2\"'s login (authorization violation): check [Fleet] \
             user and password against the engine's configuration"
        );
        let (why, _) = connect_error(&settings(FleetAuth::Token("t".into()), None), &refused);
        assert!(why.contains("check [Fleet] token"), "{why}");
        // A connection that fails is not a refusal, and keeps the client's words.
        let io =
            ConnectError::with_source(ConnectErrorKind::Io, "Connection refused (os error 111)");
        let (why, configuration) = connect_error(&settings(FleetAuth::None, None), &io);
        assert!(!configuration);
        assert_eq!(
            why,
            "IO error: Connection refused (os error 111), at tls://engine.example:4222"
        );
    }

    #[test]
    fn a_tls_url_on_a_plain_engine_says_to_use_nats_or_enable_tls() {
        use async_nats::{ConnectError, ConnectErrorKind};
        // what rustls says of the engine's plain INFO line (seen against nats-server 2.9)
        let plain = ConnectError::with_source(
            ConnectErrorKind::Io,
            "received corrupt message of type InvalidContentType",
        );
        let (why, configuration) = connect_error(&settings(FleetAuth::None, None), &plain);
        assert!(configuration);
        assert!(
            why.starts_with("the engine does not answer TLS on this address")
                && why.contains("use a nats:// url"),
            "{why}"
        );
    }

    #[test]
    fn an_untrusted_engine_certificate_says_to_set_tls_ca() {
        use async_nats::{ConnectError, ConnectErrorKind};
        let untrusted = ConnectError::with_source(
            ConnectErrorKind::Io,
            "invalid peer certificate: UnknownIssuer",
        );
        let (why, configuration) = connect_error(&settings(FleetAuth::None, None), &untrusted);
        assert!(configuration);
        assert_eq!(
            why,
            "this host does not trust the engine's certificate (IO error: invalid peer \
             certificate: UnknownIssuer): set tls_ca in [Fleet] to the CA that signed it (that \
             CA's certificate, PEM)"
        );
        let (why, _) = connect_error(
            &settings(FleetAuth::None, Some("/etc/ferroban/other-ca.pem")),
            &untrusted,
        );
        assert!(
            why.contains("not signed by the CA of [Fleet] tls_ca = /etc/ferroban/other-ca.pem"),
            "{why}"
        );
        let misnamed = ConnectError::with_source(
            ConnectErrorKind::Io,
            "invalid peer certificate: NotValidForName",
        );
        let (why, _) = connect_error(&settings(FleetAuth::None, None), &misnamed);
        assert!(why.contains("subjectAltName"), "{why}");
        // as the rustls async-nats uses words it (tests/fleet.rs gets it from a
        // real nats-server)
        let misnamed = ConnectError::with_source(
            ConnectErrorKind::Io,
            "invalid peer certificate: certificate not valid for name \"localhost\"; \
             certificate is only valid for DnsName(\"engine.example\")",
        );
        let (why, configuration) = connect_error(&settings(FleetAuth::None, None), &misnamed);
        assert!(why.contains("subjectAltName") && configuration, "{why}");
        let missing = ConnectError::with_source(
            ConnectErrorKind::Tls,
            "No such file or directory (os error 2)",
        );
        let (why, _) = connect_error(&settings(FleetAuth::None, None), &missing);
        assert!(why.ends_with("a file of [Fleet] tls_ca, tls_cert or tls_key does not exist"));
    }

    #[test]
    fn a_host_is_seen_when_its_message_was_stored_never_later_than_now() {
        // A failure read back at a restart, stored an hour ago: seen an hour ago.
        assert_eq!(seen_at(1_000.0, 4_600.0), Some(1_000.0));
        // An engine (or a member) whose clock is ahead: seen now, not in the future.
        assert_eq!(seen_at(5_000.0, 4_600.0), Some(4_600.0));
        assert_eq!(seen_at(f64::NAN, 4_600.0), None);
        assert_eq!(seen_at(f64::INFINITY, 4_600.0), None);
    }

    #[test]
    fn queued_failures_go_out_together_up_to_the_order_that_ends_them() {
        let (tx, mut rx) = unbounded_channel();
        for i in 1..4 {
            tx.send(failure(i)).unwrap();
        }
        tx.send(FleetCommand::Publish(Vec::new())).unwrap();
        tx.send(failure(4)).unwrap();
        let (batch, next) = queued_failures(held(0), &mut rx);
        let times: Vec<f64> = batch.iter().map(|f| f.time).collect();
        assert_eq!(times, [0.0, 1.0, 2.0, 3.0]);
        assert!(matches!(next, Some(FleetCommand::Publish(_))), "{next:?}");
        // The failure after the publication is the next batch, alone.
        let Ok(FleetCommand::Failure { jail, ip, time }) = rx.try_recv() else {
            panic!("the failure after the publication is still queued");
        };
        let (batch, next) = queued_failures(HeldFailure { jail, ip, time }, &mut rx);
        assert_eq!(batch.len(), 1);
        assert!(next.is_none());
    }

    #[test]
    fn a_batch_of_failures_holds_at_most_one_chunk_of_acks() {
        let (tx, mut rx) = unbounded_channel();
        for i in 1..ACK_CHUNK + 10 {
            tx.send(failure(i)).unwrap();
        }
        let (batch, next) = queued_failures(held(0), &mut rx);
        assert_eq!(batch.len(), ACK_CHUNK);
        assert!(next.is_none());
        let (rest, _) = queued_failures(held(0), &mut rx);
        assert_eq!(rest.len(), 1 + 10, "the ten left were still queued");
    }
}
