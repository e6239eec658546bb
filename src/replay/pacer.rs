//! The pacer: releases requests at their absolute due times, on its own thread.
//!
//! tokio's timers have millisecond granularity, so a tokio-paced sender runs 1–2 ms late at
//! p99. The pacer instead sleeps on a plain thread until about 100 µs before a deadline and
//! spins the rest, then hands the request to the async senders. Deadlines are absolute
//! (`start + due(i)`), so lateness never accumulates. When `--max-in-flight` requests are
//! already in flight, a due request is counted as *missed* and skipped — never queued without
//! bound, never sent later in a burst.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::inflight::InFlight;
use super::prepare::{Next, PreparedStream};
use super::schedule::Schedule;
use super::worker::Job;
use crate::stats::Shard;

/// The last stretch before a deadline that is spun rather than slept.
const SPIN: Duration = Duration::from_micros(100);
/// Longest single sleep, so a stop request is noticed quickly.
const NAP: Duration = Duration::from_millis(20);

/// How the pacer runs.
#[derive(Debug, Clone)]
pub struct PacerConfig {
    /// When each request is due.
    pub schedule: Schedule,
    /// Time zero of the schedule.
    pub start: Instant,
    /// In-flight cap.
    pub max_in_flight: usize,
    /// Stop after this many requests.
    pub max_requests: Option<u64>,
    /// Stop scheduling after this long.
    pub duration: Option<Duration>,
}

/// Why the pacer stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// Every pass of the corpus was sent.
    Exhausted,
    /// `--requests` reached.
    Requests,
    /// `--duration` reached.
    Duration,
    /// Interrupted.
    Stopped,
    /// A stage failed (a corpus error, a thread that panicked): see [`super::RunResult::error`].
    Failed,
}

/// Asks for real-time (SCHED_FIFO) scheduling for the calling thread, at a low real-time
/// priority. On a loaded machine — the receiver under test often runs on the same cores — a
/// normal thread waking from its sleep can wait a scheduler time slice (milliseconds) for a
/// core; a real-time one preempts at once. The pacer sleeps most of the time and spins at most
/// [`SPIN`] per request, so it cannot monopolise a core (and Linux reserves 5 % for others).
/// Returns false (and the pacer runs at normal priority) without the permission (root,
/// CAP_SYS_NICE or an RLIMIT_RTPRIO).
pub fn try_realtime() -> bool {
    use thread_priority::{
        RealtimeThreadSchedulePolicy, ThreadPriority, ThreadSchedulePolicy, set_thread_priority_and_policy,
        thread_native_id,
    };
    let Ok(prio) = 10u8.try_into() else { return false };
    set_thread_priority_and_policy(
        thread_native_id(),
        ThreadPriority::Crossplatform(prio),
        ThreadSchedulePolicy::Realtime(RealtimeThreadSchedulePolicy::Fifo),
    )
    .is_ok()
}

/// Sleeps until `deadline` (sleep, then spin the last [`SPIN`]); false if `stop` was set.
pub fn sleep_until(deadline: Instant, stop: &AtomicBool) -> bool {
    loop {
        let now = Instant::now();
        if now >= deadline {
            return true;
        }
        let left = deadline - now;
        if left > SPIN {
            std::thread::sleep((left - SPIN).min(NAP));
            if stop.load(Ordering::Relaxed) {
                return false;
            }
        } else {
            while Instant::now() < deadline {
                std::hint::spin_loop();
            }
            return true;
        }
    }
}

/// What the pacer did.
#[derive(Debug, Clone)]
pub struct Paced {
    /// Why it stopped.
    pub end: End,
    /// Requests handed to the senders (not missed).
    pub released: u64,
    /// First and last release.
    pub window: Option<(Instant, Instant)>,
    /// Why the run failed, with [`End::Failed`].
    pub error: Option<String>,
}

impl Paced {
    /// Marks the run failed with `error` (the first error is kept).
    pub fn fail_with(&mut self, error: Option<String>) {
        if let Some(e) = error {
            self.end = End::Failed;
            self.error.get_or_insert(e);
        }
    }

    /// Requests released per second over the release window.
    pub fn achieved_rate(&self) -> f64 {
        match self.window {
            Some((a, b)) if self.released > 1 && b > a => (self.released - 1) as f64 / (b - a).as_secs_f64(),
            _ => 0.0,
        }
    }
}

/// Runs the schedule until an end condition. A failure of the preparation stage or of the
/// senders ends it with [`End::Failed`] and the error; what was scheduled so far stays counted.
pub fn run(
    cfg: PacerConfig,
    stream: &mut PreparedStream,
    jobs: &flume::Sender<Job>,
    inflight: &InFlight,
    recorder: &Shard,
    stop: &AtomicBool,
) -> Paced {
    let schedule = &cfg.schedule;
    let mut seq = 0u64;
    let mut last = Paced { end: End::Exhausted, released: 0, window: None, error: None };
    let done = |mut p: Paced, end| {
        p.end = end;
        p
    };
    let failed = |mut p: Paced, error: String| {
        p.end = End::Failed;
        p.error = Some(error);
        p
    };
    loop {
        if stop.load(Ordering::Relaxed) {
            return done(last, End::Stopped);
        }
        if cfg.max_requests.is_some_and(|n| seq >= n) {
            return done(last, End::Requests);
        }
        let due = schedule.due(seq);
        // Duration::MAX: past the last stage, nothing more is due.
        if due == Duration::MAX || cfg.duration.is_some_and(|limit| due >= limit) {
            return done(last, End::Duration);
        }
        let item = loop {
            match stream.next(NAP) {
                Ok(Next::Item(p)) => break p,
                Ok(Next::End) => return done(last, End::Exhausted),
                Ok(Next::Wait) if stop.load(Ordering::Relaxed) => return done(last, End::Stopped),
                Ok(Next::Wait) => {}
                Err(e) => return failed(last, e),
            }
        };
        let Some(intended) = cfg.start.checked_add(due) else {
            return done(last, End::Duration);
        };
        if !sleep_until(intended, stop) {
            return done(last, End::Stopped);
        }
        let now = Instant::now();
        recorder.with(|s| {
            s.lateness(now - intended);
            s.scheduled(item.scenario, intended, item.raw_len);
        });
        if !inflight.try_acquire(cfg.max_in_flight) {
            recorder.with(|s| s.missed(intended));
            seq += 1;
            continue;
        }
        let now = Instant::now();
        last.released += 1;
        last.window = Some((last.window.map_or(now, |w| w.0), now));
        if jobs.send(Job::new(item, intended)).is_err() {
            // Counted as cancelled at the end of the run (scheduled, never completed).
            inflight.release();
            return failed(last, "the sending tasks stopped unexpectedly".into());
        }
        seq += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sleep_until_is_not_early_and_honours_stop() {
        let stop = AtomicBool::new(false);
        let t = Instant::now() + Duration::from_millis(3);
        assert!(sleep_until(t, &stop));
        assert!(Instant::now() >= t);
        stop.store(true, Ordering::Relaxed);
        let far = Instant::now() + Duration::from_secs(60);
        let begun = Instant::now();
        assert!(!sleep_until(far, &stop));
        assert!(begun.elapsed() < Duration::from_secs(1));
    }
}
