//! `--rate max`: a closed loop. A worker takes the next ready request as soon as the in-flight
//! cap has room — no pacer thread in between, as wrk does — so no schedule and no thread
//! hand-off per request. A request is due when it is taken.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::inflight::InFlight;
use super::pacer::End;
use super::prepare::{AsyncPrepared, Prepared};
use super::worker::{Job, Source};
use crate::stats::Shard;

/// The first and last take of a closed-loop run, and why taking stopped.
pub type TakeOutcome = (Option<(Instant, Instant)>, Option<End>);

/// The closed loop's source: prepared requests, as the in-flight cap allows, until a limit.
pub struct ClosedLoop {
    /// Prepared requests, in whatever order they are ready.
    pub prepared: AsyncPrepared,
    /// Schedule start (for `--duration`).
    pub start: Instant,
    /// `--requests`.
    pub max_requests: Option<u64>,
    /// `--duration`.
    pub duration: Option<Duration>,
    /// Interrupt flag.
    pub stop: Arc<AtomicBool>,
    /// `--max-in-flight`.
    pub max_in_flight: usize,
    /// The in-flight cap's counter.
    pub inflight: Arc<InFlight>,
    /// Requests taken so far.
    pub taken: AtomicU64,
    /// First and last take, and why taking stopped.
    pub outcome: Mutex<TakeOutcome>,
    /// An error from preparation.
    pub error: Mutex<Option<String>>,
}

/// An in-flight slot taken for a request not yet handed out: given back if the take is
/// abandoned (a worker dropped the future to send a due retry).
struct Slot<'a>(Option<&'a InFlight>);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        if let Some(f) = self.0 {
            f.release();
        }
    }
}

impl ClosedLoop {
    fn end(&self, e: End) -> Option<Job> {
        self.outcome.lock().expect("not poisoned").1.get_or_insert(e);
        None
    }
}

impl ClosedLoop {
    /// The limits that end taking, checked before a request is taken.
    fn ended(&self) -> Option<End> {
        if self.stop.load(Ordering::Relaxed) {
            Some(End::Stopped)
        } else if self.duration.is_some_and(|d| self.start.elapsed() >= d) {
            Some(End::Duration)
        } else if self.max_requests.is_some_and(|m| self.taken.load(Ordering::Relaxed) >= m) {
            Some(End::Requests)
        } else {
            None
        }
    }

    /// Turns what preparation gave into a job (with a slot already taken).
    fn accept(&self, item: Option<Result<Prepared, String>>, shard: &Shard, slot: &mut Slot<'_>) -> Option<Job> {
        match item {
            Some(Ok(p)) => {
                let n = self.taken.fetch_add(1, Ordering::Relaxed);
                if self.max_requests.is_some_and(|m| n >= m) {
                    return self.end(End::Requests);
                }
                let now = Instant::now();
                {
                    let mut o = self.outcome.lock().expect("not poisoned");
                    o.0 = Some((o.0.map_or(now, |w| w.0), now));
                }
                shard.with(|s| s.scheduled(p.scenario, now, p.raw_len));
                slot.0 = None;
                Some(Job::new(p, now))
            }
            Some(Err(e)) => {
                *self.error.lock().expect("not poisoned") = Some(e);
                self.stop.store(true, Ordering::Relaxed);
                self.end(End::Failed)
            }
            None => self.end(End::Exhausted),
        }
    }
}

impl Source for ClosedLoop {
    async fn next(&self, shard: &Shard) -> Option<Job> {
        self.inflight.acquire(self.max_in_flight).await;
        let mut slot = Slot(Some(&self.inflight));
        if let Some(e) = self.ended() {
            return self.end(e);
        }
        let item = self.prepared.next().await;
        self.accept(item, shard, &mut slot)
    }

    fn try_next(&self, shard: &Shard) -> Option<Option<Job>> {
        if !self.inflight.try_acquire(self.max_in_flight) {
            return None;
        }
        let mut slot = Slot(Some(&self.inflight));
        if let Some(e) = self.ended() {
            return Some(self.end(e));
        }
        let item = self.prepared.try_next()?;
        Some(self.accept(item, shard, &mut slot))
    }
}
