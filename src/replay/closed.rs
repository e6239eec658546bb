//! `--rate max`: a closed loop. Each connection takes the next ready request as soon as it is
//! free (with HTTP/2, up to `--max-in-flight` at once), with no pacer thread in between — as
//! wrk does — so no schedule and no thread hand-off per request. A request is due when it is
//! taken.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::pacer::End;
use super::prepare::{AsyncPrepared, Prepared};
use super::sender::{Conn, Job, Senders};

/// The first and last take of a closed-loop run, and why taking stopped.
pub type TakeOutcome = (Option<(Instant, Instant)>, Option<End>);

/// Limits of a closed-loop (`--rate max`) run.
pub struct ClosedLoop {
    /// Schedule start (for `--duration`).
    pub start: Instant,
    /// `--requests`.
    pub max_requests: Option<u64>,
    /// `--duration`.
    pub duration: Option<Duration>,
    /// Interrupt flag.
    pub stop: Arc<std::sync::atomic::AtomicBool>,
    /// `--max-in-flight`.
    pub max_in_flight: usize,
    /// Requests taken so far.
    pub taken: std::sync::atomic::AtomicU64,
    /// First and last take, and why taking stopped.
    pub outcome: Mutex<TakeOutcome>,
    /// An error from preparation.
    pub error: Mutex<Option<String>>,
}

impl ClosedLoop {
    /// Takes the next request, or says why not.
    async fn take(&self, source: &AsyncPrepared) -> Option<Prepared> {
        use End;
        let end = |e: End| {
            self.outcome.lock().expect("not poisoned").1.get_or_insert(e);
            None
        };
        if self.stop.load(Ordering::Relaxed) {
            return end(End::Stopped);
        }
        if self.duration.is_some_and(|d| self.start.elapsed() >= d) {
            return end(End::Duration);
        }
        let n = self.taken.fetch_add(1, Ordering::Relaxed);
        if self.max_requests.is_some_and(|m| n >= m) {
            return end(End::Requests);
        }
        match source.next().await {
            Some(Ok(p)) => {
                let now = Instant::now();
                let mut o = self.outcome.lock().expect("not poisoned");
                o.0 = Some((o.0.map_or(now, |w| w.0), now));
                Some(p)
            }
            Some(Err(e)) => {
                *self.error.lock().expect("not poisoned") = Some(e);
                self.stop.store(true, Ordering::Relaxed);
                end(End::Stopped)
            }
            None => end(End::Exhausted),
        }
    }
}

impl Senders {
    /// Runs the closed loop until the source ends or a limit is reached.
    pub async fn run_closed(self: Arc<Self>, source: AsyncPrepared, limits: Arc<ClosedLoop>) -> Result<(), String> {
        let workers =
            if self.target.http2 { self.target.connections } else { self.target.connections.min(limits.max_in_flight) };
        let permits = Arc::new(tokio::sync::Semaphore::new(limits.max_in_flight));
        let mut tasks = Vec::new();
        for _ in 0..workers.max(1) {
            let (me, source, limits, permits) = (self.clone(), source.clone(), limits.clone(), permits.clone());
            tasks.push(tokio::spawn(async move {
                let mut conn: Option<Conn> = None;
                let mut spawned = tokio::task::JoinSet::new();
                loop {
                    let permit = permits.clone().acquire_owned().await.expect("semaphore open");
                    let Some(prepared) = limits.take(&source).await else { break };
                    let intended = Instant::now();
                    me.recorder.with(|s| s.scheduled(prepared.scenario, intended, prepared.raw_len));
                    me.inflight.count.fetch_add(1, Ordering::SeqCst);
                    let job = Job { prepared, intended };
                    if me.target.http2 {
                        if conn.as_ref().is_none_or(|c| !c.is_usable()) {
                            conn = me.connect().await.ok();
                        }
                        let mut own = match &conn {
                            Some(Conn::H2(s)) => Some(Conn::H2(s.clone())),
                            _ => None,
                        };
                        let me2 = me.clone();
                        spawned.spawn(async move {
                            me2.handle(&mut own, job).await;
                            drop(permit);
                        });
                        super::sender::reap(&mut spawned)?;
                    } else {
                        me.handle(&mut conn, job).await;
                        drop(permit);
                    }
                }
                super::sender::join_set(spawned).await
            }));
        }
        super::sender::join_tasks(tasks).await
    }
}
