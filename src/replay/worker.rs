//! Connection workers: one per connection, taking requests from a [`Source`] (the pacer's
//! channel in the open loop, the preparation stage in the closed loop) and from the retry
//! queue, sending them, and recording each request's end in the worker's own recorder shard.
//!
//! An HTTP/1.1 worker carries one request at a time on its connection and drives that
//! connection's I/O while it waits for work, so a connection the server closed while idle is
//! noticed before it is reused. An HTTP/2 worker multiplexes up to its share of the in-flight
//! cap on one connection; when the connection ends (GOAWAY, an error) the worker opens one new
//! connection for all its requests, backing off after failures. A retryable answer goes to the
//! retry queue with its due time; the worker moves on.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use futures_util::stream::{FuturesUnordered, StreamExt};

use super::connect::{Conn, Connector, Target};
use super::exchange::{Attempt, Exchange, Tried};
use super::inflight::InFlight;
use super::prepare::Prepared;
use super::retry::{RetryQueue, backoff, next_attempt};
use crate::stats::{Completion, Outcome, Recorder, Shard};

/// A request released to the senders.
#[derive(Debug)]
pub struct Job {
    /// The body and its bookkeeping.
    pub prepared: Prepared,
    /// When it was due: its corrected latency counts from here.
    pub intended: Instant,
    /// Attempts made so far.
    pub attempts: u32,
    /// When the first attempt started.
    pub first_sent: Option<Instant>,
    /// Body bytes put on the wire so far.
    pub wire: u64,
    /// Times it found its connection closed before it went out (not attempts).
    pub not_sent: u8,
}

impl Job {
    /// A request due at `intended`, not yet attempted.
    pub fn new(prepared: Prepared, intended: Instant) -> Job {
        Job { prepared, intended, attempts: 0, first_sent: None, wire: 0, not_sent: 0 }
    }
}

/// Where workers take requests from.
pub trait Source: Send + Sync + 'static {
    /// The next request released to send, recorded as scheduled; `None` once no more come.
    /// Must be cancel-safe: a worker may drop the future to send a due retry instead.
    fn next(&self, shard: &Shard) -> impl Future<Output = Option<Job>> + Send;

    /// The next request if one is ready now: `Some(Some(job))`, `Some(None)` when no more
    /// come, `None` when the caller must wait.
    fn try_next(&self, shard: &Shard) -> Option<Option<Job>>;
}

/// The open loop's source: what the pacer released.
pub struct Paced(pub flume::Receiver<Job>);

impl Source for Paced {
    async fn next(&self, _: &Shard) -> Option<Job> {
        self.0.recv_async().await.ok()
    }

    fn try_next(&self, _: &Shard) -> Option<Option<Job>> {
        match self.0.try_recv() {
            Ok(job) => Some(Some(job)),
            Err(flume::TryRecvError::Empty) => None,
            Err(flume::TryRecvError::Disconnected) => Some(None),
        }
    }
}

/// An exchange in progress on a multiplexed connection: the request, what the attempt gave,
/// and the generation of the connection it went out on.
type Exchanging<'a> = std::pin::Pin<Box<dyn Future<Output = (Job, Tried, u64)> + Send + 'a>>;

/// What every worker of a run shares.
pub struct Senders {
    target: Arc<Target>,
    connector: Connector,
    /// Requests and answers.
    pub exchange: Exchange,
    /// The in-flight cap.
    pub inflight: Arc<InFlight>,
    retries: RetryQueue<Job>,
    /// No retry starts after this (`--duration` + `--timeout` from the start), when known.
    deadline: Option<Instant>,
    recorder: Arc<Recorder>,
    /// Set on an interrupt: no new retries.
    stop: Arc<AtomicBool>,
    /// Most requests one HTTP/2 connection carries at once.
    per_connection: usize,
    /// Where ended requests are listed (`RUN.sent.zst`), if anywhere.
    sent: Option<SentLog>,
}

/// The channel to the sent log's writer ([`crate::sent::SentWriter`]).
pub type SentLog = flume::Sender<crate::sent::Ended>;

impl Senders {
    /// Sending state for `target`.
    pub fn new(
        target: Arc<Target>,
        recorder: Arc<Recorder>,
        inflight: Arc<InFlight>,
        deadline: Option<Instant>,
        stop: Arc<AtomicBool>,
        max_in_flight: usize,
        sent: Option<SentLog>,
    ) -> Arc<Senders> {
        let per_connection = max_in_flight.div_ceil(target.connections.max(1)).max(1);
        Arc::new(Senders {
            connector: Connector::new(target.clone()),
            exchange: Exchange::new(target.clone()),
            target,
            inflight,
            retries: RetryQueue::default(),
            deadline,
            recorder,
            stop,
            per_connection,
            sent,
        })
    }

    /// Runs `workers` connection workers until the source ends and every request finished;
    /// a worker that panicked is an error.
    pub async fn run<S: Source>(self: Arc<Self>, source: Arc<S>, workers: usize) -> Result<(), String> {
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..workers.max(1) {
            let (me, source, shard) = (self.clone(), source.clone(), self.recorder.shard());
            tasks.spawn(async move {
                if me.target.http2 {
                    me.multiplexed(&*source, shard).await
                } else {
                    me.sequential(&*source, shard).await
                }
            });
        }
        let mut first = Ok(());
        while let Some(joined) = tasks.join_next().await {
            let failed = match joined {
                Ok(r) => r,
                Err(e) if e.is_cancelled() => Ok(()),
                Err(e) => Err(format!("a sending task failed: {e}")),
            };
            if let (Err(e), Ok(())) = (failed, &first) {
                first = Err(e);
                // The failed worker's requests never release their in-flight places, which the
                // others would wait for: stop them; what they had in flight is counted cancelled.
                tasks.abort_all();
            }
        }
        first
    }

    /// The next request: a due retry first, else the source's next, while an idle HTTP/1.1
    /// connection is watched. `None` when the source has ended and nothing is in flight.
    async fn next_job(
        &self,
        source: &impl Source,
        shard: &Shard,
        done: &mut bool,
        conn: &mut Option<Conn>,
    ) -> Option<Job> {
        // The fast path, taken by almost every request at a high rate: a due retry, or a
        // request ready at once — no registration, no timer, no select.
        if let Ok(job) = self.retries.pop_due(Instant::now()) {
            return Some(job);
        }
        if !*done {
            match source.try_next(shard) {
                Some(Some(job)) => return Some(job),
                Some(None) => *done = true,
                None => {}
            }
        }
        loop {
            // Registered before looking, so a retry queued or a request finished meanwhile
            // wakes this wait.
            let queued = self.retries.queued.notified();
            let (_waiting, released) = self.inflight.watch();
            tokio::pin!(queued, released);
            queued.as_mut().enable();
            released.as_mut().enable();
            let next_due = match self.retries.pop_due(Instant::now()) {
                Ok(job) => return Some(job),
                Err(at) => at,
            };
            if *done && self.inflight.current() == 0 {
                return None;
            }
            let until_due = async {
                match next_due {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            let idle_close = async {
                match conn.as_mut() {
                    Some(c) => c.closed().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                () = until_due => {}
                job = source.next(shard), if !*done => match job {
                    Some(job) => return Some(job),
                    None => *done = true,
                },
                () = &mut queued => {}
                () = &mut released, if *done => {}
                () = idle_close => {
                    log::debug!("the server closed an idle connection");
                    *conn = None;
                }
            }
        }
    }

    /// HTTP/1.1: one request at a time on this worker's connection.
    async fn sequential(&self, source: &impl Source, shard: Shard) -> Result<(), String> {
        let mut conn: Option<Conn> = None;
        let mut done = false;
        while let Some(mut job) = self.next_job(source, &shard, &mut done, &mut conn).await {
            job.first_sent.get_or_insert_with(Instant::now);
            let attempt = self.attempt_on(&mut conn, &job).await;
            self.after(job, attempt, &shard);
        }
        Ok(())
    }

    /// One attempt on `conn` (opened first if needed). A kept-alive connection found closed
    /// as the request went out is replaced once, at once: that was not the server's answer.
    async fn attempt_on(&self, conn: &mut Option<Conn>, job: &Job) -> Attempt {
        // One --timeout for the whole attempt: connecting (and reconnecting) included.
        let deadline = tokio::time::Instant::now() + self.target.timeout;
        for _ in 0..2 {
            if conn.as_ref().is_none_or(|c| !c.is_usable()) {
                match self.connector.connect(deadline).await {
                    Ok(c) => *conn = Some(c),
                    Err(f) => return Attempt::failed(f, false),
                }
            }
            let c = conn.as_mut().expect("connected above");
            match self.exchange.attempt(c, &job.prepared.body, deadline).await {
                Tried::Done { attempt, usable } => {
                    if !usable {
                        *conn = None;
                    }
                    return attempt;
                }
                Tried::NotSent => {
                    log::debug!("a kept-alive connection was closed by the server; reconnecting");
                    *conn = None;
                }
            }
        }
        Attempt::failed(
            (crate::stats::ErrorClass::Closed, "the connection closed twice before the request was sent".into()),
            false,
        )
    }

    /// HTTP/2: up to `per_connection` requests at once on one connection, reopened once for
    /// all of them when it ends.
    async fn multiplexed(&self, source: &impl Source, shard: Shard) -> Result<(), String> {
        // The connection and its generation: an exchange that finds its connection dead resets
        // it only if it is still the current one (not one opened since, for other requests).
        let mut conn: Option<(Conn, u64)> = None;
        let mut generation = 0u64;
        // Nothing to watch while waiting: an HTTP/2 connection's own task sees its end.
        let mut unwatched: Option<Conn> = None;
        let mut done = false;
        let mut failures = 0u32;
        let mut running: FuturesUnordered<Exchanging<'_>> = FuturesUnordered::new();
        loop {
            let take = running.len() < self.per_connection;
            tokio::select! {
                biased;
                Some((job, tried, sent_on)) = running.next() => {
                    let usable = match &tried {
                        Tried::Done { usable, .. } => *usable,
                        Tried::NotSent => false,
                    };
                    if !usable && conn.as_ref().is_some_and(|(_, g)| *g == sent_on) {
                        conn = None;
                    }
                    match tried {
                        Tried::Done { attempt, .. } => self.after(job, attempt, &shard),
                        Tried::NotSent => self.not_sent(job, &shard),
                    }
                }
                job = self.next_job(source, &shard, &mut done, &mut unwatched), if take => {
                    let Some(mut job) = job else {
                        if running.is_empty() { return Ok(()); }
                        continue;
                    };
                    job.first_sent.get_or_insert_with(Instant::now);
                    let reconnect = conn.as_ref().is_none_or(|(c, _)| !c.is_usable());
                    if reconnect && failures > 0 {
                        tokio::time::sleep(backoff(failures, 0.5)).await;
                    }
                    // One --timeout for the whole attempt: connecting included.
                    let deadline = tokio::time::Instant::now() + self.target.timeout;
                    if reconnect {
                        match self.connector.connect(deadline).await {
                            Ok(c) => {
                                failures = 0;
                                generation += 1;
                                conn = Some((c, generation));
                            }
                            Err(f) => {
                                failures += 1;
                                self.after(job, Attempt::failed(f, false), &shard);
                                continue;
                            }
                        }
                    }
                    let (mut own, current) = match &conn {
                        Some((Conn::H2(send), g)) => (Conn::H2(send.clone()), *g),
                        Some((Conn::Grpc(channel), g)) => (Conn::Grpc(channel.clone()), *g),
                        _ => unreachable!("an HTTP/2 worker holds HTTP/2 connections"),
                    };
                    running.push(Box::pin(async move {
                        let tried = self.exchange.attempt(&mut own, &job.prepared.body, deadline).await;
                        (job, tried, current)
                    }));
                }
                else => {
                    if done && running.is_empty() { return Ok(()); }
                }
            }
        }
    }

    /// A request that never went out (its connection was found closed): sent again at once on
    /// a fresh connection, not counted as an attempt — twice at most, then it counts as one.
    fn not_sent(&self, mut job: Job, shard: &Shard) {
        job.not_sent += 1;
        if job.not_sent <= 2 {
            self.retries.push(Instant::now(), job);
            return;
        }
        let f = (crate::stats::ErrorClass::Closed, "the connection closed before the request was sent".into());
        self.after(job, Attempt::failed(f, false), shard);
    }

    /// After an attempt: queue a retry (it keeps its in-flight slot), or record the end.
    fn after(&self, mut job: Job, a: Attempt, shard: &Shard) {
        job.attempts += 1;
        let p = &job.prepared;
        if a.body_sent {
            job.wire += p.body.len() as u64;
        }
        if !a.outcome.ok() {
            match (&a.outcome, &a.message) {
                (Outcome::Status(s), _) => log::debug!("request {} attempt {}: status {s}", p.seq, job.attempts),
                (Outcome::Grpc(c), m) => log::debug!(
                    "request {} attempt {}: gRPC {} ({})",
                    p.seq,
                    job.attempts,
                    crate::grpc::code_name(*c),
                    m.as_deref().unwrap_or_default()
                ),
                (Outcome::Error(c), m) => log::debug!(
                    "request {} attempt {}: {} ({})",
                    p.seq,
                    job.attempts,
                    c.describe(),
                    m.as_deref().unwrap_or_default()
                ),
            }
        }
        let now = Instant::now();
        if job.attempts <= self.target.retries && a.retryable && !self.stop.load(Ordering::Relaxed) {
            let wait = a.retry_after.unwrap_or_else(|| backoff(job.attempts, jitter(p.seq, job.attempts)));
            let first = job.first_sent.unwrap_or(now);
            if let Some(at) = next_attempt(now, wait, first, self.deadline) {
                self.retries.push(at, job);
                return;
            }
            log::debug!("request {}: no retry after {wait:?}: past the run's end or the retry budget", p.seq);
        }
        let c = Completion {
            scenario: p.scenario,
            intended: job.intended,
            sent: job.first_sent.unwrap_or(now),
            done: now,
            outcome: a.outcome,
            attempts: job.attempts,
            bytes_wire: job.wire,
            bytes_raw: if job.wire > 0 { p.raw_len } else { 0 },
            spans: p.spans,
            traces: p.traces,
            rejected_spans: a.rejected_spans,
            message: a.message,
        };
        shard.with(|s| s.complete(&c));
        if let Some(log) = &self.sent {
            // The writer outlives the senders; a send fails only if it failed, which its
            // `finish` reports. Formatting is the writer's: only the trace list moves here.
            let at_unix_ms = crate::sent::unix_ms_now();
            let took = now.saturating_duration_since(c.sent).as_millis() as u64;
            let _ = log.send(crate::sent::Ended {
                seq: job.prepared.seq,
                sent_unix_ms: at_unix_ms.saturating_sub(took),
                at_unix_ms,
                outcome: c.outcome,
                scenario: c.scenario,
                traces: std::mem::take(&mut job.prepared.sent_traces),
            });
        }
        self.inflight.release();
    }

    /// Requests that got any HTTP answer.
    pub fn responses(&self) -> usize {
        self.exchange.responses.load(Ordering::Relaxed)
    }
}

/// A number in [0, 1) from a request and its attempt (equal jitter for the backoff): spread
/// retries of requests that failed together, reproducibly.
fn jitter(seq: u64, attempt: u32) -> f64 {
    let mut x = seq.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ u64::from(attempt).wrapping_mul(0xBF58_476D_1CE4_E5B9) | 1;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    (x >> 11) as f64 / (1u64 << 53) as f64
}
