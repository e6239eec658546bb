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
pub mod closed;
pub mod pacer;
pub mod patch;
pub mod prepare;
pub mod retry;
pub mod schedule;
pub mod sender;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::corpus::Corpus;
use crate::stats::{Recorder, Stats};
pub use pacer::End;
pub use prepare::Compression;
pub use schedule::Rate;
pub use sender::Target;

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
    /// Request headers with secret values redacted, for output.
    pub headers_display: Vec<(String, String)>,
    /// The platform preset.
    pub platform: String,
    /// Request rate (total across shards when sharded: this process sends its share).
    pub rate: Rate,
    /// Ramp-up.
    pub ramp_up: Duration,
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
    /// Remap IDs on the first pass too (a fresh key per run).
    pub fresh_ids: bool,
    /// `(k, n)`: send only slice k of n.
    pub shard: Option<(u64, u64)>,
    /// Where the JSON report goes (checked before the run).
    pub report: Option<crate::output::Output>,
    /// Where the HTML report goes (checked before the run).
    pub html: Option<crate::output::Output>,
    /// Exit 1 when the success rate is below this (percent).
    pub min_success: Option<f64>,
    /// No progress bar, no text report.
    pub quiet: bool,
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
        None => Ok(crate::generate::shard_range(n, k, total)),
    }
}

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
    /// ID salt used with `--fresh-ids`.
    pub id_salt: Option<u64>,
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

/// Waits for the senders to finish the requests in flight: without a deadline (each request has
/// its own timeout and bounded retries) until `stop` is set — by an interrupt before or during
/// this wait — then for at most `timeout`. Returns whether it was interrupted.
fn drain(
    runtime: &tokio::runtime::Runtime,
    task: tokio::task::JoinHandle<()>,
    stop: &AtomicBool,
    timeout: Duration,
) -> bool {
    runtime.block_on(async {
        tokio::pin!(task);
        loop {
            if stop.load(Ordering::Relaxed) {
                let _ = tokio::time::timeout(timeout, &mut task).await;
                return true;
            }
            tokio::select! {
                _ = &mut task => return false,
                () = tokio::time::sleep(Duration::from_millis(50)) => {}
            }
        }
    })
}

/// Runs the plan. `stop` interrupts it (first Ctrl-C); `live` receives the recorder once
/// sending starts.
pub fn run(
    plan: &ReplayPlan,
    corpus: Arc<Corpus>,
    stop: Arc<AtomicBool>,
    live: impl FnOnce(Live),
) -> Result<RunResult, String> {
    let records = record_range(&corpus, plan.shard)?;
    let rate = plan.own_rate();
    // With a fixed rate the schedule starts a little ahead so the first bodies are prepared with
    // their final timestamps; at --rate max there is no schedule to prepare for.
    let lead = if rate == Rate::Max { Duration::ZERO } else { LEAD };
    let start = Instant::now() + lead;
    let start_wall = SystemTime::now() + lead;
    let start_ns = start_wall.duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
    let id_salt = plan.fresh_ids.then(|| start_ns ^ u64::from(std::process::id()));
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    let stream_cfg = prepare::PrepareConfig {
        records,
        passes: plan.stop.loops,
        batch: plan.batch,
        rewrite: plan.rewrite,
        first_pass_salt: id_salt,
        seed: corpus.index.meta.seed,
        epoch_ns: corpus.index.meta.epoch_ns,
        time: match rate {
            Rate::PerSec(r) => {
                prepare::TimeBase::Scheduled { start_ns, schedule: schedule::Schedule { rate: r, ramp: plan.ramp_up } }
            }
            Rate::Max => prepare::TimeBase::Now,
        },
        compression: plan.compression,
        workers: if plan.compression == Compression::None { 0 } else { cores.clamp(1, 4) },
        max_ahead_bytes: 64 << 20,
        max_ahead: 4096,
    };
    let mut stream = prepare::start(corpus, stream_cfg);
    let recorder = Arc::new(Recorder::new(start, start_wall));
    let inflight = Arc::new(sender::InFlight::default());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(plan.threads)
        .thread_name("replay-send")
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let senders = sender::Senders::new(Arc::new(plan.target.clone()), recorder.clone(), inflight.clone());
    let s2 = senders.clone();
    live(Live { recorder: recorder.clone(), start, responses: Arc::new(move || s2.responses.load(Ordering::Relaxed)) });

    let pacer_realtime = AtomicBool::new(false);
    let paced = match rate {
        Rate::PerSec(_) => {
            let (job_tx, job_rx) = flume::unbounded();
            let send_task = runtime.spawn(senders.clone().run(job_rx));
            let pacer_cfg = pacer::PacerConfig {
                rate,
                ramp: plan.ramp_up,
                start,
                max_in_flight: plan.max_in_flight,
                max_requests: plan.stop.requests,
                duration: plan.stop.duration,
            };
            let paced = std::thread::scope(|scope| {
                std::thread::Builder::new()
                    .name("replay-pacer".into())
                    .spawn_scoped(scope, || {
                        let realtime = pacer::try_realtime();
                        if !realtime {
                            log::debug!("the pacer runs at normal priority (no permission for real-time scheduling): lateness can rise when the machine is loaded");
                        }
                        pacer_realtime.store(realtime, Ordering::Relaxed);
                        let r = pacer::run(pacer_cfg, &mut stream, &job_tx, &inflight, &recorder, &stop);
                        stream.stop();
                        r
                    })
                    .expect("spawn pacer")
                    .join()
                    .expect("pacer does not panic")
            })?;
            drop(job_tx);
            let mut paced = paced;
            if drain(&runtime, send_task, &stop, plan.target.timeout) {
                paced.end = End::Stopped;
            }
            paced
        }
        Rate::Max => {
            let limits = Arc::new(closed::ClosedLoop {
                start,
                max_requests: plan.stop.requests,
                duration: plan.stop.duration,
                stop: stop.clone(),
                max_in_flight: plan.max_in_flight,
                taken: Default::default(),
                outcome: Default::default(),
                error: Default::default(),
            });
            let send_task = runtime.spawn(senders.clone().run_closed(stream.take_async(), limits.clone()));
            // Wait for the senders; once interrupted, give requests in flight --timeout.
            let interrupted = drain(&runtime, send_task, &stop, plan.target.timeout);
            stream.stop();
            if let Some(e) = limits.error.lock().expect("not poisoned").take() {
                return Err(e);
            }
            let (window, end) = *limits.outcome.lock().expect("not poisoned");
            let end = if interrupted { End::Stopped } else { end.unwrap_or(End::Exhausted) };
            pacer::Paced { end, released: recorder.with(|s| s.scheduled), window }
        }
    };
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
        id_salt,
    })
}
