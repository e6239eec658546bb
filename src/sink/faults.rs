//! Fault injection: which requests the sink fails, delays, stalls or rate-limits.
//!
//! Every random choice comes from a ChaCha8 stream keyed by (seed, request sequence number):
//! request *n* gets the same latency, the same `--fail` outcome and the same rejected spans in
//! every run with the same seed, whatever happened to other requests. A run is therefore
//! reproducible given the order in which requests arrive. The generator is used directly
//! rather than through `synth::TraceRng` so the sink does not depend on trace synthesis.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};

/// The faults to inject (validated; see `config::sink`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Faults {
    /// `--fail`: (HTTP status, probability) pairs; probabilities sum to at most 1.
    pub fail: Vec<(u16, f64)>,
    /// `--retry-after`: the `Retry-After` of 429 and 503 answers.
    pub retry_after: Option<Duration>,
    /// `--latency`: each answer is delayed by a uniform draw in [min, max].
    pub latency: Option<(Duration, Duration)>,
    /// `--rate-limit`: accepted requests per second (token bucket).
    pub rate_limit: Option<f64>,
    /// `--burst`: the bucket's size in requests (default: one second of `rate_limit`).
    pub burst: Option<f64>,
    /// `--capacity`: requests served per second, one at a time in arrival order; above it
    /// requests queue and their latency grows without bound.
    pub capacity: Option<f64>,
    /// `--reject-spans`: share of spans reported as rejected in `partial_success`.
    pub reject_spans: f64,
    /// `--stall`: stop answering for a while.
    pub stall: Option<Stall>,
    /// `--conflict-on-duplicate`: 409 for a request with a trace ID accepted before.
    pub conflict_on_duplicate: bool,
    /// `--drop-traces`: share of traces acknowledged but never stored.
    pub drop_traces: f64,
    /// `--store-rate`: spans a second made visible to read-back queries, in arrival order;
    /// above it acknowledged spans wait and the visibility lag grows.
    pub store_rate: Option<f64>,
}

/// `--stall DURATION@AFTER`: no answers during [first request + after, … + duration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stall {
    /// How long the sink stops answering.
    pub duration: Duration,
    /// When the stall starts, counted from the first request.
    pub after: Duration,
}

impl Stall {
    /// How long a request arriving at `now` must wait, given when the first request came.
    pub fn wait(&self, first: Instant, now: Instant) -> Option<Duration> {
        let start = first + self.after;
        let end = start + self.duration;
        (now >= start && now < end).then(|| end - now)
    }
}

/// The random draws of one request.
pub struct RequestRng(ChaCha8Rng);

impl RequestRng {
    /// The stream of request number `seq` (0-based, in arrival order).
    pub fn new(seed: u64, seq: u64) -> Self {
        let mut r = ChaCha8Rng::seed_from_u64(seed);
        r.set_stream(seq);
        RequestRng(r)
    }

    /// Uniform in [0, 1) with 53 bits of precision.
    pub fn unit(&mut self) -> f64 {
        (self.0.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// What the per-request draws decided, before the body is looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Draw {
    /// Delay before answering.
    pub latency: Duration,
    /// Index into [`Faults::fail`] of the status to answer, if any.
    pub fail: Option<usize>,
}

impl Faults {
    /// Draws latency and the `--fail` outcome for one request. Always draws the same number
    /// of values so the span-rejection draws that follow line up across runs.
    pub fn draw(&self, rng: &mut RequestRng) -> Draw {
        let (u_latency, u_fail) = (rng.unit(), rng.unit());
        let latency = match self.latency {
            Some((lo, hi)) => lo + (hi - lo).mul_f64(u_latency),
            None => Duration::ZERO,
        };
        let mut acc = 0.0;
        let fail = self.fail.iter().position(|&(_, p)| {
            acc += p;
            u_fail < acc
        });
        Draw { latency, fail }
    }

    /// Whether the next span is rejected (`--reject-spans`).
    pub fn reject_span(&self, rng: &mut RequestRng) -> bool {
        self.reject_spans > 0.0 && rng.unit() < self.reject_spans
    }

    /// Whether trace `t` is dropped silently (`--drop-traces`): decided by the trace ID alone,
    /// so every span of a trace shares the fate, whichever request carries it.
    pub fn drop_trace(&self, t: u128) -> bool {
        if self.drop_traces <= 0.0 {
            return false;
        }
        let mut x = (t as u64 ^ (t >> 64) as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        x ^= x >> 29;
        x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x ^= x >> 32;
        ((x >> 11) as f64 / (1u64 << 53) as f64) < self.drop_traces
    }

    /// The `Retry-After` value for a refused request: `--retry-after`, else `fallback`.
    /// Whole seconds, rounded up (the header takes an integer).
    pub fn retry_after_secs(&self, fallback: Duration) -> u64 {
        let d = self.retry_after.unwrap_or(fallback);
        d.as_secs() + u64::from(d.subsec_nanos() > 0)
    }
}

/// A token bucket of `rate` tokens per second holding at most `burst` tokens (at least 1;
/// default one second of the rate), full at start. The caller passes the clock so tests
/// control it.
#[derive(Debug)]
pub struct TokenBucket {
    rate: f64,
    capacity: f64,
    state: Mutex<(f64, Option<Instant>)>,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(rate: f64, burst: Option<f64>) -> Self {
        let capacity = burst.unwrap_or(rate).max(1.0);
        TokenBucket { rate, capacity, state: Mutex::new((capacity, None)) }
    }

    /// Takes a token at `now`, or says how long until one is available.
    pub fn take(&self, now: Instant) -> Result<(), Duration> {
        let mut s = self.state.lock().expect("token bucket lock");
        let (tokens, last) = &mut *s;
        if let Some(prev) = *last {
            let dt = now.saturating_duration_since(prev).as_secs_f64();
            *tokens = (*tokens + dt * self.rate).min(self.capacity);
        }
        *last = Some(now);
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *tokens) / self.rate))
        }
    }
}

/// `--capacity`: a server that handles one request at a time, each taking `1/rate` seconds,
/// in arrival order — a queue whose wait is zero below the rate and grows without bound above
/// it: the knee a limit search must find. The caller passes the clock.
#[derive(Debug)]
pub struct Queue {
    service: Duration,
    free_at: Mutex<Option<Instant>>,
}

impl Queue {
    /// A server of `rate` requests a second, idle.
    pub fn new(rate: f64) -> Self {
        Queue { service: Duration::from_secs_f64(1.0 / rate), free_at: Mutex::new(None) }
    }

    /// Takes the next turn for a request arriving at `now`: how long until it is served
    /// (its wait in the queue plus its own service time).
    pub fn turn(&self, now: Instant) -> Duration {
        let mut free = self.free_at.lock().unwrap_or_else(|p| p.into_inner());
        let start = free.map_or(now, |f| f.max(now));
        let done = start + self.service;
        *free = Some(done);
        done - now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_depend_only_on_seed_and_sequence() {
        let f = Faults { fail: vec![(429, 0.3), (503, 0.2)], ..Default::default() };
        let run = |seed| (0..1000).map(|n| f.draw(&mut RequestRng::new(seed, n)).fail).collect::<Vec<_>>();
        let a = run(42);
        assert_eq!(a, run(42));
        assert_ne!(a, run(43));
        let n429 = a.iter().filter(|x| **x == Some(0)).count();
        let n503 = a.iter().filter(|x| **x == Some(1)).count();
        assert!((250..350).contains(&n429), "{n429}");
        assert!((150..250).contains(&n503), "{n503}");
        // Request 500 decides the same alone as after 499 others.
        assert_eq!(f.draw(&mut RequestRng::new(42, 500)).fail, a[500]);
    }

    #[test]
    fn latency_stays_in_range_and_certain_failure_always_fails() {
        let (lo, hi) = (Duration::from_millis(5), Duration::from_millis(50));
        let f = Faults { latency: Some((lo, hi)), fail: vec![(503, 1.0)], ..Default::default() };
        for n in 0..500 {
            let d = f.draw(&mut RequestRng::new(1, n));
            assert!(d.latency >= lo && d.latency <= hi, "{:?}", d.latency);
            assert_eq!(d.fail, Some(0));
        }
        let fixed = Faults { latency: Some((lo, lo)), ..Default::default() };
        assert_eq!(fixed.draw(&mut RequestRng::new(1, 0)).latency, lo);
        assert_eq!(fixed.draw(&mut RequestRng::new(1, 0)).fail, None);
    }

    #[test]
    fn reject_share_is_close_to_the_probability() {
        let f = Faults { reject_spans: 0.1, ..Default::default() };
        let mut rng = RequestRng::new(42, 0);
        let rejected = (0..10_000).filter(|_| f.reject_span(&mut rng)).count();
        assert!((900..1100).contains(&rejected), "{rejected}");
        let none = Faults::default();
        assert!(!(0..1000).any(|_| none.reject_span(&mut rng)));
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        let f = Faults::default();
        assert_eq!(f.retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(f.retry_after_secs(Duration::from_secs(2)), 2);
        let g = Faults { retry_after: Some(Duration::from_millis(2500)), ..Default::default() };
        assert_eq!(g.retry_after_secs(Duration::from_millis(1)), 3);
    }

    #[test]
    fn a_queue_waits_only_above_its_rate() {
        let q = Queue::new(100.0);
        let t0 = Instant::now();
        // Below capacity (every 20 ms at 10 ms of service): each waits only its own service.
        for i in 0..5 {
            assert_eq!(q.turn(t0 + Duration::from_millis(20 * i)), Duration::from_millis(10));
        }
        // At 200/s (every 5 ms) the wait grows by 5 ms a request.
        let t1 = t0 + Duration::from_secs(1);
        let waits: Vec<_> = (0..4).map(|i| q.turn(t1 + Duration::from_millis(5 * i))).collect();
        let ms = |v: u64| Duration::from_millis(v);
        assert_eq!(waits, [ms(10), ms(15), ms(20), ms(25)]);
    }

    #[test]
    fn a_burst_sets_the_bucket_size() {
        let b = TokenBucket::new(100.0, Some(3.0));
        let t = Instant::now();
        assert!((0..3).all(|_| b.take(t).is_ok()));
        assert!(b.take(t).is_err(), "three tokens, then the rate");
        assert!(b.take(t + Duration::from_millis(10)).is_ok());
    }

    #[test]
    fn token_bucket_allows_one_second_of_burst_then_the_rate() {
        let b = TokenBucket::new(10.0, None);
        let t0 = Instant::now();
        for _ in 0..10 {
            assert_eq!(b.take(t0), Ok(()));
        }
        let wait = b.take(t0).unwrap_err();
        assert!((wait.as_secs_f64() - 0.1).abs() < 1e-9, "{wait:?}");
        // 100 ms later one token has come back, and only one.
        let t1 = t0 + Duration::from_millis(100);
        assert_eq!(b.take(t1), Ok(()));
        assert!(b.take(t1).is_err());
        // A long pause refills to capacity, not beyond.
        let t2 = t1 + Duration::from_secs(60);
        assert_eq!((0..20).filter(|_| b.take(t2).is_ok()).count(), 10);
        // Rates below 1/s still let one request through.
        let slow = TokenBucket::new(0.5, None);
        assert_eq!(slow.take(t0), Ok(()));
        assert_eq!(slow.take(t0).unwrap_err(), Duration::from_secs(2));
    }

    #[test]
    fn stall_window_holds_requests_until_its_end() {
        let s = Stall { duration: Duration::from_secs(2), after: Duration::from_secs(10) };
        let t0 = Instant::now();
        assert_eq!(s.wait(t0, t0 + Duration::from_secs(9)), None);
        assert_eq!(s.wait(t0, t0 + Duration::from_secs(10)), Some(Duration::from_secs(2)));
        assert_eq!(s.wait(t0, t0 + Duration::from_millis(11_500)), Some(Duration::from_millis(500)));
        assert_eq!(s.wait(t0, t0 + Duration::from_secs(12)), None);
    }
}
