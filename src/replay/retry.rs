//! Retry policy, per the OTLP/HTTP specification: retry only 429, 502, 503, 504 and
//! connection failures; honour `Retry-After` (seconds or an HTTP-date); otherwise back off
//! exponentially with jitter. A `partial_success` or any other 4xx is final.
//!
//! A retry waits in the [`RetryQueue`], not in a worker: the worker goes on with other requests
//! and whichever worker is free when the retry is due sends it (a 429 storm used to idle every
//! connection for the length of its `Retry-After`). A retry is given up when it would start
//! after the run's deadline (`--duration` + `--timeout`) or after [`MAX_RETRY_TIME`] since the
//! request's first attempt.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use crate::stats::{ErrorClass, ErrorKind, Outcome};

/// First backoff.
const BASE: Duration = Duration::from_millis(200);
/// Longest backoff or honoured `Retry-After`.
const CAP: Duration = Duration::from_secs(30);

/// Longest time a request spends retrying, from its first attempt.
pub const MAX_RETRY_TIME: Duration = Duration::from_secs(300);

/// Whether an attempt that ended in `o` may be retried.
pub fn retryable(o: Outcome) -> bool {
    match o {
        Outcome::Status(s) => matches!(s, 429 | 502 | 503 | 504),
        // Whether a gRPC status is retryable depends on its RetryInfo: decided where it is read.
        Outcome::Grpc(c) => crate::grpc::retryable(c, false),
        // A certificate problem does not go away by retrying.
        // A certificate problem does not go away by retrying, and a malformed answer was an
        // answer (resending could store the spans twice).
        Outcome::Error(c) => {
            matches!(c.kind(), ErrorKind::Connect | ErrorKind::Io)
                && !matches!(
                    c,
                    ErrorClass::TlsUntrusted | ErrorClass::TlsName | ErrorClass::TlsExpired | ErrorClass::BadResponse
                )
        }
    }
}

/// Parses a `Retry-After` value: delay-seconds or an HTTP-date.
pub fn parse_retry_after(v: &str, now: SystemTime) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs).min(CAP));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO).min(CAP))
}

/// Backoff before retry number `retry` (1-based) without a `Retry-After`: 200 ms × 2^(retry−1),
/// capped, with "equal jitter" (half fixed, half random) from `unit` in [0, 1).
pub fn backoff(retry: u32, unit: f64) -> Duration {
    let exp = BASE.saturating_mul(1u32 << (retry.saturating_sub(1)).min(16)).min(CAP);
    exp / 2 + exp.mul_f64(unit.clamp(0.0, 1.0) / 2.0)
}

/// Requests waiting for their retry, earliest first.
#[derive(Debug)]
pub struct RetryQueue<T> {
    heap: Mutex<BinaryHeap<Reverse<Due<T>>>>,
    pushed: std::sync::atomic::AtomicU64,
    /// Retries waiting (read without the lock: usually none).
    waiting: std::sync::atomic::AtomicUsize,
    /// Woken when a retry is queued (a worker waiting for work may need to wait less).
    pub queued: tokio::sync::Notify,
}

/// A queued retry: its due time, then an insertion number so equal times keep their order.
#[derive(Debug)]
struct Due<T>(Instant, u64, T);

impl<T> PartialEq for Due<T> {
    fn eq(&self, o: &Self) -> bool {
        (self.0, self.1) == (o.0, o.1)
    }
}
impl<T> Eq for Due<T> {}
impl<T> PartialOrd for Due<T> {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl<T> Ord for Due<T> {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.0, self.1).cmp(&(o.0, o.1))
    }
}

impl<T> Default for RetryQueue<T> {
    fn default() -> Self {
        RetryQueue {
            heap: Mutex::new(BinaryHeap::new()),
            pushed: std::sync::atomic::AtomicU64::new(0),
            waiting: std::sync::atomic::AtomicUsize::new(0),
            queued: tokio::sync::Notify::new(),
        }
    }
}

impl<T> RetryQueue<T> {
    /// Queues `item` to be retried at `due`.
    pub fn push(&self, due: Instant, item: T) {
        let n = self.pushed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.heap.lock().expect("not poisoned").push(Reverse(Due(due, n, item)));
        self.waiting.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.queued.notify_waiters();
    }

    /// The earliest retry if it is due at `now`; else when the earliest is due.
    pub fn pop_due(&self, now: Instant) -> Result<T, Option<Instant>> {
        if self.waiting.load(std::sync::atomic::Ordering::SeqCst) == 0 {
            return Err(None);
        }
        let mut h = self.heap.lock().expect("not poisoned");
        match h.peek() {
            Some(Reverse(Due(at, ..))) if *at <= now => {
                self.waiting.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                Ok(h.pop().expect("peeked").0.2)
            }
            Some(Reverse(Due(at, ..))) => Err(Some(*at)),
            None => Err(None),
        }
    }

    /// Every queued retry, due or not (a run that stops takes them out as failures).
    pub fn drain(&self) -> Vec<T> {
        let mut h = self.heap.lock().expect("not poisoned");
        self.waiting.store(0, std::sync::atomic::Ordering::SeqCst);
        h.drain().map(|Reverse(d)| d.2).collect()
    }

    /// Retries waiting.
    pub fn len(&self) -> usize {
        self.waiting.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Whether no retry waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// When a request's next attempt may start: after the wait (its `Retry-After`, else the
/// backoff), unless that is past the run's deadline or [`MAX_RETRY_TIME`] after its first
/// attempt — then `None`: the last outcome is final.
pub fn next_attempt(now: Instant, wait: Duration, first: Instant, deadline: Option<Instant>) -> Option<Instant> {
    let at = now.checked_add(wait)?;
    let budget = first.checked_add(MAX_RETRY_TIME)?;
    (at <= budget && deadline.is_none_or(|d| at <= d)).then_some(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_transient_outcomes_retry() {
        for s in [429, 502, 503, 504] {
            assert!(retryable(Outcome::Status(s)), "{s}");
        }
        for s in [200, 400, 401, 403, 404, 409, 413, 415, 500] {
            assert!(!retryable(Outcome::Status(s)), "{s}");
        }
        assert!(retryable(Outcome::Error(ErrorClass::Refused)));
        assert!(retryable(Outcome::Error(ErrorClass::Reset)));
        assert!(!retryable(Outcome::Error(ErrorClass::Timeout)));
        assert!(!retryable(Outcome::Error(ErrorClass::TlsUntrusted)));
        assert!(!retryable(Outcome::Error(ErrorClass::BadResponse)));
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("2", now), Some(Duration::from_secs(2)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(5));
        assert_eq!(parse_retry_after(&later, now), Some(Duration::from_secs(5)));
        let past = httpdate::fmt_http_date(now - Duration::from_secs(5));
        assert_eq!(parse_retry_after(&past, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("99999", now), Some(CAP));
    }

    #[test]
    fn backoff_grows_with_jitter_bounds() {
        assert_eq!(backoff(1, 0.0), Duration::from_millis(100));
        let top = backoff(1, 0.999_999);
        assert!(top > Duration::from_millis(199) && top < Duration::from_millis(200), "{top:?}");
        assert!(backoff(3, 0.5) > backoff(2, 0.5));
        assert!(backoff(40, 1.0) <= CAP);
    }

    #[test]
    fn retries_come_out_earliest_first_and_only_when_due() {
        let q = RetryQueue::default();
        let t0 = Instant::now();
        q.push(t0 + Duration::from_millis(30), "b");
        q.push(t0 + Duration::from_millis(10), "a");
        q.push(t0 + Duration::from_millis(30), "c");
        assert_eq!(q.pop_due(t0), Err(Some(t0 + Duration::from_millis(10))));
        assert_eq!(q.pop_due(t0 + Duration::from_millis(10)), Ok("a"));
        let mut later: Vec<_> = [q.pop_due(t0 + Duration::from_secs(1)), q.pop_due(t0 + Duration::from_secs(1))]
            .into_iter()
            .map(|r| r.unwrap())
            .collect();
        later.sort();
        assert_eq!(later, vec!["b", "c"]);
        assert_eq!(q.pop_due(t0), Err(None));
    }

    #[test]
    fn a_retry_never_starts_past_the_deadline_or_the_budget() {
        let t0 = Instant::now();
        let d = Some(t0 + Duration::from_secs(12));
        assert_eq!(next_attempt(t0, Duration::from_secs(2), t0, d), Some(t0 + Duration::from_secs(2)));
        assert_eq!(next_attempt(t0, Duration::from_secs(60), t0, d), None, "Retry-After 60 in a 2 s run");
        assert_eq!(next_attempt(t0 + MAX_RETRY_TIME, Duration::from_secs(1), t0, None), None, "the retry budget");
    }
}
