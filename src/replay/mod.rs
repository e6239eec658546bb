//! `replay`: send a corpus over OTLP/HTTP at a precise open-loop rate and measure.
//!
//! ```text
//! corpus (mmap) ─► prepare (reader + workers: patch, compress) ─► pacer (own thread) ─► senders (tokio, hyper) ─► stats
//! ```
//!
//! [`run`] wires the stages: it fixes the schedule's start a little in the future so bodies
//! can be prepared ahead with their final timestamps, starts the senders on a tokio runtime and
//! the pacer on its own thread, and when the pacer stops (passes done, `--requests`,
//! `--duration`, or an interrupt) waits for requests in flight — up to `--timeout` after an
//! interrupt — and accounts any still unfinished as cancelled, so that
//! `scheduled == ok + failed + missed` always holds.

pub mod body;
pub mod classify;
pub mod closed;
pub mod connect;
pub mod exchange;
pub mod h1;
pub mod inflight;
pub mod pacer;
pub mod patch;
pub mod prepare;
pub mod retry;
pub mod schedule;
pub mod worker;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::corpus::Corpus;
use crate::stats::{Recorder, Stats};
pub use connect::{Protocol, Target};
pub use pacer::End;
pub use prepare::Compression;
pub use schedule::Rate;

/// How long before the schedule starts bodies are prepared (so the first ones are ready).
const LEAD: Duration = Duration::from_millis(300);

/// When to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stop {
    /// After this many requests.
    pub requests: Option<u64>,
    /// After this long.
    pub duration: Option<Duration>,
    /// After this many passes over the corpus (`None`: until another limit).
    pub loops: Option<u64>,
}

/// A validated `replay` invocation.
#[derive(Debug, Clone)]
pub struct ReplayPlan {
    /// The corpus file.
    pub corpus: PathBuf,
    /// Where and how to send.
    pub target: Target,
    /// The endpoint with secrets removed, for output.
    pub endpoint_display: String,
    /// `/v1/traces` was appended to a base URL given without a path.
    pub endpoint_appended: bool,
    /// Request headers with secret values redacted, for output.
    pub headers_display: Vec<(String, String)>,
    /// The platform preset.
    pub platform: String,
    /// Request rate (total across shards when sharded: this process sends its share).
    pub rate: Rate,
    /// Ramp-up.
    pub ramp_up: Duration,
    /// `--stages`: the load profile (total requests/s at each stage's end; empty: `rate`
    /// with `ramp_up`). `rate` is then the highest target, which sizes what is prepared ahead.
    pub stages: Vec<schedule::Stage>,
    /// `--stages` entries given in spans, traces or bytes a second, by index, converted by
    /// [`ReplayPlan::resolve_rate`].
    pub stages_in: Vec<(usize, RateIn)>,
    /// `--arrivals`.
    pub arrivals: schedule::Arrivals,
    /// `--timing`: at a rate, or as recorded on the corpus's timeline.
    pub timing: Timing,
    /// `--timing recorded`: the timeline of the records this process sends, set by
    /// [`ReplayPlan::resolve_rate`] from the corpus.
    pub recorded: Option<schedule::Recorded>,
    /// In-flight cap.
    pub max_in_flight: usize,
    /// Sender threads.
    pub threads: usize,
    /// Stop conditions.
    pub stop: Stop,
    /// Body compression.
    pub compression: Compression,
    /// Records per request.
    pub batch: u32,
    /// Shift times and remap IDs.
    pub rewrite: bool,
    /// `--id-key`: the key every pass's IDs are remapped with (a fresh one per run when absent).
    pub id_key: Option<u64>,
    /// `(k, n)`: send only slice k of n.
    pub shard: Option<(u64, u64)>,
    /// Where the JSON report goes (checked before the run).
    pub report: Option<crate::output::Output>,
    /// Where the HTML report goes (checked before the run).
    pub html: Option<crate::output::Output>,
    /// Where the sent log goes (next to the report unless `--no-sent`; checked before the run).
    pub sent: Option<crate::output::Output>,
    /// `--verify`: read back after the run.
    pub verify: Option<crate::verify::Settings>,
    /// `--rate` given in spans, traces or bytes a second: converted to `rate` (requests/s)
    /// from the corpus's own sizes by [`ReplayPlan::resolve_rate`].
    pub rate_in: Option<RateIn>,
    /// Exit 1 when the success rate is below this (percent).
    pub min_success: Option<f64>,
    /// No progress bar, no text report.
    pub quiet: bool,
    /// A status line this often when stderr is not a terminal (zero: none).
    pub progress_interval: Duration,
    /// The environment and `.env` variables that shaped the plan, names only.
    pub settings: Option<String>,
    /// Validate and print the plan only.
    pub dry_run: bool,
}

impl ReplayPlan {
    /// This process's rate: the total divided by the shard count.
    pub fn own_rate(&self) -> Rate {
        match (self.rate, self.shard) {
            (Rate::PerSec(r), Some((_, n))) => Rate::PerSec(r / n as f64),
            (r, _) => r,
        }
    }

    /// The count of shards this process's rates are divided by (1 unsharded).
    pub fn share(&self) -> f64 {
        self.shard.map_or(1.0, |(_, n)| n as f64)
    }

    /// This process's schedule (its shard's share of every rate); `None` at `--rate max`.
    pub fn schedule(&self) -> Option<schedule::Schedule> {
        if let Some(r) = &self.recorded {
            return Some(schedule::Schedule::recorded(r.clone()));
        }
        let share = self.share();
        let s = if self.stages.is_empty() {
            match self.own_rate() {
                Rate::PerSec(r) => schedule::Schedule::constant(r, self.ramp_up),
                Rate::Max => return None,
            }
        } else {
            let own: Vec<_> = self.stages.iter().map(|s| schedule::Stage { target: s.target / share, ..*s }).collect();
            schedule::Schedule::staged(&own)
        };
        // Each shard draws its own gaps: independent Poisson processes of rate r/n add up to
        // one of rate r, where shards with one seed would all send at the same instants.
        let arrivals = match (self.arrivals, self.shard) {
            (schedule::Arrivals::Poisson { seed }, Some((k, _))) => {
                schedule::Arrivals::Poisson { seed: seed ^ (k + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) }
            }
            (a, _) => a,
        };
        Some(s.with_arrivals(arrivals))
    }

    /// The target rate a report states: `--rate`, or over `--stages` their mean (requests due
    /// over the stages / their length); `None` at `--rate max`.
    pub fn target_rate(&self) -> Option<f64> {
        if self.stages.is_empty() {
            return match self.rate {
                Rate::PerSec(r) => Some(r),
                Rate::Max => None,
            };
        }
        let s = schedule::Schedule::staged(&self.stages);
        let len = s.staged_length().as_secs_f64();
        Some(s.expected_by(len) / len.max(f64::MIN_POSITIVE))
    }
}

/// When requests go out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Timing {
    /// At `--rate` or along `--stages`.
    Rate,
    /// At the records' recorded send times (a `gen --shape sdk` corpus), `speed` times faster.
    Recorded {
        /// `--speed`.
        speed: f64,
    },
}

/// What a `--rate` in another unit than requests counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateUnit {
    /// `spans/s`.
    Spans,
    /// `traces/s`.
    Traces,
    /// Request body bytes a second, before compression (`5MB/s`, `512KiB/s`).
    Bytes,
}

/// `--rate 2000spans/s`: the value and its unit, as given.
#[derive(Debug, Clone, PartialEq)]
pub struct RateIn {
    /// Per second.
    pub value: f64,
    /// Of what.
    pub unit: RateUnit,
    /// As given (for messages and the report).
    pub given: String,
}

impl ReplayPlan {
    /// Turns a `--rate` in spans, traces or bytes a second into requests a second, from the
    /// corpus's mean spans, traces and bytes per record (times `--batch`). Errors name the value
    /// and the rate it came to.
    pub fn resolve_rate(&mut self, corpus: &Corpus) -> Result<(), String> {
        if let Timing::Recorded { speed } = self.timing {
            let r = recorded(corpus, speed)?;
            self.rate = Rate::PerSec((r.mean_rate() * self.share()).clamp(0.001, crate::config::replay::MAX_RATE));
            self.recorded = Some(r);
            return Ok(());
        }
        if let Some(r) = &self.rate_in {
            self.rate = Rate::PerSec(r.requests_per_s(corpus, self.batch, "--rate", 0.001)?);
        }
        for (i, r) in &self.stages_in {
            let rps = r.requests_per_s(corpus, self.batch, "--stages", 0.0)?;
            self.stages[*i].target = rps;
        }
        if !self.stages.is_empty() {
            self.rate = Rate::PerSec(self.stages.iter().map(|s| s.target).fold(0.001, f64::max));
        }
        Ok(())
    }
}

impl RateIn {
    /// This rate in requests/s of `corpus`, from its mean spans, traces or bytes per record
    /// (times `batch`); an error names `flag`, the value and what it came to.
    fn requests_per_s(&self, corpus: &Corpus, batch: u32, flag: &str, min: f64) -> Result<f64, String> {
        let t = &corpus.index.meta.totals;
        let records = t.records.max(1) as f64;
        let per_record = match self.unit {
            RateUnit::Spans => t.spans as f64 / records,
            RateUnit::Traces => t.traces as f64 / records,
            RateUnit::Bytes => t.raw_bytes as f64 / records,
        };
        let per_request = per_record * f64::from(batch.max(1));
        let rps = self.value / per_request.max(f64::MIN_POSITIVE);
        let max = crate::config::replay::MAX_RATE;
        if !(min..=max).contains(&rps) {
            return Err(format!(
                "{flag} {}: that is {rps:.4} requests/s of this corpus ({per_request:.1} a request); it must come to {min}..{max} requests/s",
                self.given
            ));
        }
        Ok(rps)
    }
}

/// The corpus's recorded timeline (`--shard` is refused with it: a timeline is one
/// application's traffic). A pass is the timeline's length: the next pass's first record
/// comes that long after this pass's.
fn recorded(corpus: &Corpus, speed: f64) -> Result<schedule::Recorded, String> {
    let (Some(t), Some(offsets)) = (&corpus.index.meta.timeline, &corpus.index.records.offset) else {
        return Err(format!(
            "--timing recorded: {} has no recorded timeline; make one with `traceblast gen --shape sdk`",
            corpus.path().display()
        ));
    };
    Ok(schedule::Recorded::new(offsets, t.length_ns, speed))
}

/// The record range this process sends, given the corpus and `--shard`.
pub fn record_range(corpus: &Corpus, shard: Option<(u64, u64)>) -> Result<std::ops::Range<u64>, String> {
    let n = corpus.records();
    let Some((k, total)) = shard else { return Ok(0..n) };
    let want = format!("{k}/{total}");
    match &corpus.index.meta.shard {
        // The file is already this machine's slice (gen --shard): send all of it.
        Some(s) if *s == want => Ok(0..n),
        Some(s) => Err(format!("{} holds shard {s} of a corpus, but --shard is {want}", corpus.path().display())),
        None => {
            // Cut as evenly as records allow, but never inside a trace split across records:
            // its parts must go out from one process, shifted by one delta.
            let even = crate::generate::shard_range(n, k, total);
            let traces = &corpus.index.records.traces;
            let align = |mut b: u64| {
                while b > 0 && b < n && traces[b as usize - 1] == 0 {
                    b += 1;
                }
                b
            };
            Ok(align(even.start)..align(even.end))
        }
    }
}

/// Requests prepared ahead of the pacer: about [`LOOK_AHEAD`] of the schedule (at least 64,
/// at most 4096). A fixed 4096 held minutes of requests at low rates — memory for nothing, and
/// a corpus changed under a slow run went unnoticed until long after.
fn look_ahead(rate: Rate) -> usize {
    match rate {
        Rate::PerSec(r) => ((r * LOOK_AHEAD.as_secs_f64()) as usize).clamp(64, 4096),
        Rate::Max => 4096,
    }
}

/// How far ahead of its due time a request is prepared, at most (see [`look_ahead`]).
const LOOK_AHEAD: Duration = Duration::from_secs(2);

/// What a run measured.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// All counters and histograms.
    pub stats: Stats,
    /// Why scheduling stopped.
    pub end: End,
    /// Wall-clock start of the schedule.
    pub started: SystemTime,
    /// From the schedule's start to the last completion.
    pub elapsed: Duration,
    /// Requests released per second between the first and the last release.
    pub achieved_rate: f64,
    /// Requests released (scheduled and not missed).
    pub released: u64,
    /// Whether the pacer ran with real-time priority.
    pub pacer_realtime: bool,
    /// Requests still unfinished at the end, counted as failed ("cancelled").
    pub cancelled: u64,
    /// The key IDs were remapped with (none with `--no-rewrite`).
    pub id_key: Option<u64>,
    /// Why the run stopped early when it failed ([`End::Failed`]): a corpus error, a thread
    /// that panicked. The report is still written; the command exits 2.
    pub error: Option<String>,
}

/// A key for remapping IDs, different in every run: a second run into the same platform never
/// resends an ID of the first (platforms drop or refuse spans whose IDs they have seen).
pub fn fresh_id_key() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    // RandomState is seeded from the operating system's randomness.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0));
    h.finish()
}

/// Live view for progress displays.
pub struct Live {
    /// The recorder being filled.
    pub recorder: Arc<Recorder>,
    /// Schedule start.
    pub start: Instant,
    /// Responses received so far (any status).
    pub responses: Arc<dyn Fn() -> usize + Send + Sync>,
}

/// How waiting for the senders ended.
struct Drained {
    /// An interrupt came before or during the wait.
    interrupted: bool,
    /// A sender task panicked.
    error: Option<String>,
}

/// Waits for the senders to finish the requests in flight: without a deadline (each request has
/// its own timeout and bounded retries) until `stop` is set — by an interrupt before or during
/// this wait — then for at most `timeout`.
fn drain(
    runtime: &tokio::runtime::Runtime,
    task: tokio::task::JoinHandle<Result<(), String>>,
    stop: &AtomicBool,
    timeout: Duration,
) -> Drained {
    let failed = |r: Result<Result<(), String>, tokio::task::JoinError>| match r {
        Ok(r) => r.err(),
        Err(e) => Some(format!("the sending tasks failed: {e}")),
    };
    runtime.block_on(async {
        tokio::pin!(task);
        loop {
            if stop.load(Ordering::Relaxed) {
                let error = tokio::time::timeout(timeout, &mut task).await.ok().and_then(failed);
                return Drained { interrupted: true, error };
            }
            tokio::select! {
                r = &mut task => return Drained { interrupted: false, error: failed(r) },
                () = tokio::time::sleep(Duration::from_millis(50)) => {}
            }
        }
    })
}

/// The runtime the connection workers run on. One thread (the default on up to 3 cores) is a
/// current-thread runtime driven by the thread that runs the plan: no work-stealing queues, no
/// hand-off between a worker thread and the thread waiting for it (measured at `--rate max` on
/// simple_query against rotel: 28–29 µs of CPU per request against 31–35 µs with a one-worker
/// multi-thread runtime, and 7–10 % more requests/s).
fn sending_runtime(threads: usize) -> Result<tokio::runtime::Runtime, String> {
    let built = if threads <= 1 {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("replay-send")
            .enable_all()
            .build()
    };
    built.map_err(|e| format!("cannot start the async runtime: {e}"))
}

/// The message of a thread's panic.
pub(crate) fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown cause".into())
}

/// Runs the plan. `stop` interrupts it (first Ctrl-C); `live` receives the recorder once
/// sending starts.
pub fn run(
    plan: &ReplayPlan,
    corpus: Arc<Corpus>,
    stop: Arc<AtomicBool>,
    live: impl FnOnce(Live),
    sent: Option<flume::Sender<crate::sent::Ended>>,
) -> Result<RunResult, String> {
    let records = record_range(&corpus, plan.shard)?;
    let rate = plan.own_rate();
    // With a fixed rate the schedule starts a little ahead so the first bodies are prepared with
    // their final timestamps; at --rate max there is no schedule to prepare for.
    let lead = if rate == Rate::Max { Duration::ZERO } else { LEAD };
    let start = Instant::now() + lead;
    let start_wall = SystemTime::now() + lead;
    let start_ns = start_wall.duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
    let id_key = plan.rewrite.then(|| plan.id_key.unwrap_or_else(fresh_id_key));
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    // gRPC compresses in tonic's encoder, at send time: prepared bodies go out raw.
    let compression = if plan.target.protocol == Protocol::Grpc { Compression::None } else { plan.compression };
    let json = plan.target.protocol == Protocol::HttpJson;
    let stream_cfg = prepare::PrepareConfig {
        records,
        passes: plan.stop.loops,
        batch: plan.batch,
        rewrite: plan.rewrite,
        id_key,
        seed: corpus.index.meta.seed,
        epoch_ns: corpus.index.meta.epoch_ns,
        time: match rate {
            Rate::PerSec(_) => prepare::TimeBase::Scheduled {
                start_ns,
                schedule: plan.schedule().expect("a numeric rate has a schedule"),
            },
            Rate::Max => prepare::TimeBase::Now,
        },
        compression,
        json,
        // Compressing or transcoding costs more than a thread hand-off: workers do it.
        workers: if compression == Compression::None && !json { 0 } else { cores.clamp(1, 4) },
        record_sent: sent.is_some(),
        max_ahead_bytes: 64 << 20,
        max_ahead: look_ahead(rate),
        #[cfg(test)]
        panic_after: None,
    };
    let mut stream = prepare::start(corpus, stream_cfg);
    let recorder = Arc::new(Recorder::new(start, start_wall));
    let inflight = Arc::new(inflight::InFlight::default());
    let runtime = sending_runtime(plan.threads)?;
    // No retry starts after the scheduled end plus one timeout (unknown without --duration).
    let deadline = plan.stop.duration.map(|d| start + d + plan.target.timeout);
    let target = Arc::new(plan.target.clone());
    let senders = worker::Senders::new(
        target.clone(),
        recorder.clone(),
        inflight.clone(),
        deadline,
        stop.clone(),
        plan.max_in_flight,
        sent,
    );
    let s2 = senders.clone();
    live(Live { recorder: recorder.clone(), start, responses: Arc::new(move || s2.responses()) });

    let pacer_realtime = AtomicBool::new(false);
    let mut paced = match rate {
        Rate::PerSec(_) => {
            let (job_tx, job_rx) = flume::unbounded();
            let send_task = runtime.spawn(senders.clone().run(Arc::new(worker::Paced(job_rx)), target.connections));
            let pacer_shard = recorder.shard();
            let pacer_cfg = pacer::PacerConfig {
                schedule: plan.schedule().expect("a numeric rate has a schedule"),
                start,
                max_in_flight: plan.max_in_flight,
                max_requests: plan.stop.requests,
                duration: plan.stop.duration,
            };
            // The pacer runs on its own thread while this one drives the senders (a
            // current-thread runtime runs its tasks only inside `block_on`). Whatever the pacer
            // did, it drops its end of the channel when it stops: nothing more is scheduled, and
            // the senders finish what is in flight (an error stops the run, but requests already
            // sent are still accounted).
            let (paced, drained) = std::thread::scope(|scope| {
                let pacer = std::thread::Builder::new().name("replay-pacer".into()).spawn_scoped(scope, || {
                    let realtime = pacer::try_realtime();
                    if !realtime {
                        log::debug!("the pacer runs at normal priority (no permission for real-time scheduling): lateness can rise when the machine is loaded");
                    }
                    pacer_realtime.store(realtime, Ordering::Relaxed);
                    let jobs = job_tx;
                    pacer::run(pacer_cfg, &mut stream, &jobs, &inflight, &pacer_shard, &stop)
                })
                .map_err(|e| format!("cannot start the pacer thread: {e}"));
                let drained = drain(&runtime, send_task, &stop, plan.target.timeout);
                let paced = pacer.and_then(|pacer| {
                    pacer.join().map_err(|p| format!("the pacer thread failed: {}", panic_message(p.as_ref())))
                });
                (paced, drained)
            });
            let mut paced =
                paced.unwrap_or_else(|e| pacer::Paced { end: End::Failed, released: 0, window: None, error: Some(e) });
            if drained.interrupted && paced.end != End::Failed {
                paced.end = End::Stopped;
            }
            paced.fail_with(drained.error);
            paced
        }
        Rate::Max => {
            let limits = Arc::new(closed::ClosedLoop {
                prepared: stream.take_async(),
                start,
                max_requests: plan.stop.requests,
                duration: plan.stop.duration,
                stop: stop.clone(),
                max_in_flight: plan.max_in_flight,
                inflight: inflight.clone(),
                taken: Default::default(),
                outcome: Default::default(),
                error: Default::default(),
            });
            // HTTP/1.1 carries one request per connection: more connections than the cap idle.
            let workers = if target.http2 { target.connections } else { target.connections.min(plan.max_in_flight) };
            let send_task = runtime.spawn(senders.clone().run(limits.clone(), workers));
            // Wait for the senders; once interrupted, give requests in flight --timeout.
            let drained = drain(&runtime, send_task, &stop, plan.target.timeout);
            let (window, end) = *limits.outcome.lock().expect("not poisoned");
            let end = if drained.interrupted { End::Stopped } else { end.unwrap_or(End::Exhausted) };
            let released = limits.taken.load(Ordering::Relaxed).min(plan.stop.requests.unwrap_or(u64::MAX));
            let mut paced = pacer::Paced { end, released, window, error: None };
            paced.fail_with(limits.error.lock().expect("not poisoned").take());
            paced.fail_with(drained.error);
            paced
        }
    };
    // A preparation thread that panicked ends the run as failed even if the stream looked done.
    paced.fail_with(stream.stop().err());
    let end = paced.end;
    runtime.shutdown_timeout(Duration::from_millis(100));
    // Take the stats out rather than clone them: a long run holds a histogram per second.
    let mut stats = recorder.take();
    let cancelled = stats.scheduled.saturating_sub(stats.accounted());
    if cancelled > 0 {
        stats.failed += cancelled;
        *stats.errors.entry("cancelled").or_default() += cancelled;
    }
    Ok(RunResult {
        stats,
        end,
        started: start_wall,
        elapsed: Instant::now().saturating_duration_since(start),
        achieved_rate: paced.achieved_rate(),
        pacer_realtime: pacer_realtime.load(Ordering::Relaxed),
        released: paced.released,
        cancelled,
        id_key,
        error: paced.error,
    })
}
