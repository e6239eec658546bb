//! When each request is due: absolute offsets from the start, never chained sleeps.
//!
//! A load profile is a rate that changes linearly within each stage (`--stages 30s:100,2m:500`
//! ramps from 0 to 100 requests/s over 30 s, then to 500 over 2 min), followed by a constant
//! tail rate (`--rate R`: the whole run; `--ramp-up T` is the stage `T:R` before it; after
//! `--stages` the tail is 0 and nothing more is due). `Λ(t)`, the number of requests due by
//! time t, is the integral of the rate: quadratic within a stage, so it inverts in closed form.
//! Request *i* sits at position `x_i` on the Λ axis and is due at `Λ⁻¹(x_i)`:
//!
//! - **uniform** arrivals: `x_i = i`, evenly spaced at every rate;
//! - **Poisson** arrivals: the gaps between positions are exponential (mean 1), so the arrival
//!   times are a Poisson process of the profile's rate. Positions come in blocks of
//!   [`BLOCK`]: block k holds exactly `BLOCK` arrivals in `[k·BLOCK, (k+1)·BLOCK)`, placed as
//!   the normalised sums of `BLOCK + 1` exponential draws (the order statistics of a Poisson
//!   process given its count) from the ChaCha8 stream k of the seed. Any request's due time is
//!   computed from its block alone (the preparation stage and the pacer ask out of step), the
//!   schedule is the same for the same seed, and over each block the rate is exactly the
//!   profile's: bursts and gaps happen, the run's achieved rate stays on target.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};

/// The request rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rate {
    /// Requests per second.
    PerSec(f64),
    /// As fast as the in-flight cap allows.
    Max,
}

/// One stage of a load profile: over `duration`, the rate moves linearly from the previous
/// stage's target (0 before the first) to `target` requests/s.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stage {
    /// How long the stage lasts.
    pub duration: Duration,
    /// Requests/s at its end.
    pub target: f64,
}

/// How requests are spread in time at a given rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Arrivals {
    /// Evenly spaced.
    #[default]
    Uniform,
    /// A Poisson process (exponential gaps), reproducible from its seed.
    Poisson {
        /// Seed of the gaps.
        seed: u64,
    },
}

impl Arrivals {
    /// `uniform` or `poisson`, as the report and `--arrivals` name it.
    pub fn name(self) -> &'static str {
        match self {
            Arrivals::Uniform => "uniform",
            Arrivals::Poisson { .. } => "poisson",
        }
    }
}

/// Arrivals per Poisson block (see the module's documentation).
pub const BLOCK: u64 = 4096;

/// A stage placed on the time axis.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Segment {
    /// Start, seconds from the schedule's start.
    t0: f64,
    /// Length, seconds.
    len: f64,
    /// Rate at its start and end.
    from: f64,
    to: f64,
    /// Requests due before it (Λ at `t0`).
    n0: f64,
}

impl Segment {
    /// Requests due within the whole segment.
    fn count(&self) -> f64 {
        (self.from + self.to) / 2.0 * self.len
    }

    /// Requests due within its first `tau` seconds.
    fn count_by(&self, tau: f64) -> f64 {
        let k = (self.to - self.from) / self.len;
        self.from * tau + k * tau * tau / 2.0
    }

    /// Seconds into the segment by which `m` requests are due (the inverse of `count_by`),
    /// in the form that stays exact when the rate starts at 0 or falls.
    fn time_of(&self, m: f64) -> f64 {
        if m <= 0.0 {
            return 0.0;
        }
        let k = (self.to - self.from) / self.len;
        let root = (self.from * self.from + 2.0 * k * m).max(0.0).sqrt();
        (2.0 * m / (self.from + root)).min(self.len)
    }
}

/// A recorded timeline (`--timing recorded`): request *i* is record `i mod n` of pass `i / n`,
/// due at `(pass · period + offset) / speed`.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    /// Send offsets of the records, ns from the first one's.
    offsets: Vec<u64>,
    /// One pass, ns: where the next pass's first record falls.
    period_ns: u64,
    /// `--speed`.
    speed: f64,
}

impl Recorded {
    /// Records sent at `offsets` (non-decreasing, ns), in passes of `period_ns` (more than the
    /// last offset's distance from the first), `speed` times faster than recorded.
    pub fn new(offsets: &[u64], period_ns: u64, speed: f64) -> Recorded {
        let first = offsets.first().copied().unwrap_or(0);
        let offsets: Vec<u64> = offsets.iter().map(|o| o - first).collect();
        let period_ns = period_ns.max(offsets.last().map_or(1, |l| l + 1));
        Recorded { offsets, period_ns, speed }
    }

    /// Requests a second on average.
    pub fn mean_rate(&self) -> f64 {
        self.offsets.len() as f64 / (self.period_ns as f64 / 1e9) * self.speed
    }

    /// Recorded ns (the timeline's own clock) `t` seconds into the replay.
    fn recorded_ns(&self, t: f64) -> f64 {
        t * 1e9 * self.speed
    }

    /// Offset of request `i` on the timeline's clock, ns (0 for an empty timeline — a `--shard`
    /// whose slice holds no record — which sends nothing: its stream ends at once).
    fn at(&self, i: u64) -> f64 {
        let n = self.offsets.len() as u64;
        if n == 0 {
            return 0.0;
        }
        (i / n) as f64 * self.period_ns as f64 + self.offsets[(i % n) as usize] as f64
    }

    /// Requests on the timeline before (`strict`) or by recorded time `x` ns.
    fn count(&self, x: f64, strict: bool) -> u64 {
        if x < 0.0 || self.offsets.is_empty() {
            return 0;
        }
        let pass = (x / self.period_ns as f64).floor();
        let rest = x - pass * self.period_ns as f64;
        let within = self.offsets.partition_point(|&o| if strict { (o as f64) < rest } else { (o as f64) <= rest });
        (pass as u64).saturating_mul(self.offsets.len() as u64).saturating_add(within as u64)
    }
}

/// Due times of an open-loop schedule.
#[derive(Debug)]
pub struct Schedule {
    /// A recorded timeline instead of a rate profile.
    recorded: Option<Arc<Recorded>>,
    segments: Arc<[Segment]>,
    /// Rate after the last segment (0: nothing more is due).
    tail: f64,
    arrivals: Arrivals,
    /// The Poisson block last computed: its number and its positions.
    block: Mutex<Option<(u64, Vec<f64>)>>,
}

impl Clone for Schedule {
    fn clone(&self) -> Self {
        Schedule {
            recorded: self.recorded.clone(),
            segments: self.segments.clone(),
            tail: self.tail,
            arrivals: self.arrivals,
            block: Mutex::new(None),
        }
    }
}

impl PartialEq for Schedule {
    fn eq(&self, o: &Self) -> bool {
        self.recorded == o.recorded && self.segments == o.segments && self.tail == o.tail && self.arrivals == o.arrivals
    }
}

impl Schedule {
    /// `rate` requests/s, reached by a linear ramp over `ramp` (zero: from the start).
    pub fn constant(rate: f64, ramp: Duration) -> Schedule {
        let stages: &[Stage] = if ramp.is_zero() { &[] } else { &[Stage { duration: ramp, target: rate }] };
        Schedule::build(stages, rate)
    }

    /// The stages in order, from 0 requests/s; nothing is due after the last.
    pub fn staged(stages: &[Stage]) -> Schedule {
        Schedule::build(stages, 0.0)
    }

    fn build(stages: &[Stage], tail: f64) -> Schedule {
        let (mut t0, mut n0, mut from) = (0.0, 0.0, 0.0);
        let mut segments = Vec::with_capacity(stages.len());
        for s in stages {
            let len = s.duration.as_secs_f64();
            if len > 0.0 {
                let seg = Segment { t0, len, from, to: s.target, n0 };
                n0 += seg.count();
                t0 += len;
                segments.push(seg);
            }
            from = s.target;
        }
        Schedule {
            recorded: None,
            segments: segments.into(),
            tail,
            arrivals: Arrivals::Uniform,
            block: Mutex::new(None),
        }
    }

    /// Each request at its recorded time.
    pub fn recorded(r: Recorded) -> Schedule {
        Schedule { recorded: Some(Arc::new(r)), ..Schedule::build(&[], 0.0) }
    }

    /// The same profile with other arrivals.
    pub fn with_arrivals(mut self, a: Arrivals) -> Schedule {
        self.arrivals = a;
        self
    }

    /// Seconds the stages last (zero without stages).
    pub fn staged_length(&self) -> Duration {
        self.segments.last().map_or(Duration::ZERO, |s| Duration::from_secs_f64(s.t0 + s.len))
    }

    /// Requests due over the stages (Λ at their end).
    fn staged_count(&self) -> f64 {
        self.segments.last().map_or(0.0, |s| s.n0 + s.count())
    }

    /// Λ(t): requests due by `t` seconds (fractional).
    pub fn expected_by(&self, t: f64) -> f64 {
        if let Some(r) = &self.recorded {
            return r.count(r.recorded_ns(t), false) as f64;
        }
        for s in self.segments.iter() {
            if t < s.t0 + s.len {
                return s.n0 + s.count_by((t - s.t0).max(0.0));
            }
        }
        let end = self.segments.last().map_or(0.0, |s| s.t0 + s.len);
        self.staged_count() + self.tail * (t - end).max(0.0)
    }

    /// The profile's rate `t` seconds in (requests/s).
    pub fn rate_at(&self, t: f64) -> f64 {
        if self.recorded.is_some() {
            // The timeline's own rate over the second around `t`.
            return self.expected_by(t + 0.5) - self.expected_by(t - 0.5);
        }
        for s in self.segments.iter() {
            if t < s.t0 + s.len {
                return s.from + (s.to - s.from) * ((t - s.t0).max(0.0) / s.len);
            }
        }
        self.tail
    }

    /// Λ⁻¹(x): the time by which `x` requests are due (infinite if never).
    fn time_of(&self, x: f64) -> f64 {
        for s in self.segments.iter() {
            if x < s.n0 + s.count() {
                return s.t0 + s.time_of(x - s.n0);
            }
        }
        let end = self.segments.last().map_or(0.0, |s| s.t0 + s.len);
        if self.tail > 0.0 { end + (x - self.staged_count()).max(0.0) / self.tail } else { f64::INFINITY }
    }

    /// Position of request `i` on the Λ axis.
    fn position(&self, i: u64) -> f64 {
        match self.arrivals {
            Arrivals::Uniform => i as f64,
            Arrivals::Poisson { seed } => {
                let (k, j) = (i / BLOCK, (i % BLOCK) as usize);
                self.with_block(seed, k, |b| b[j])
            }
        }
    }

    /// Runs `f` on the positions of Poisson block `k` (computed unless it was the last one).
    fn with_block<T>(&self, seed: u64, k: u64, f: impl FnOnce(&[f64]) -> T) -> T {
        let mut cache = self.block.lock().unwrap_or_else(|p| p.into_inner());
        if cache.as_ref().is_none_or(|c| c.0 != k) {
            *cache = Some((k, poisson_block(seed, k)));
        }
        f(&cache.as_ref().expect("filled above").1)
    }

    /// Offset from the start at which request `i` (0-based) is due; `Duration::MAX` if never
    /// (past the last stage).
    pub fn due(&self, i: u64) -> Duration {
        if let Some(r) = &self.recorded {
            return Duration::try_from_secs_f64(r.at(i) / 1e9 / r.speed).unwrap_or(Duration::MAX);
        }
        // Saturate instead of panicking on absurd inputs (config keeps rates >= 0.001/s).
        Duration::try_from_secs_f64(self.time_of(self.position(i))).unwrap_or(Duration::MAX)
    }

    /// Number of requests due strictly before `elapsed`.
    pub fn due_before(&self, elapsed: Duration) -> u64 {
        if let Some(r) = &self.recorded {
            return r.count(r.recorded_ns(elapsed.as_secs_f64()), true);
        }
        let x = self.expected_by(elapsed.as_secs_f64());
        let guess = match self.arrivals {
            Arrivals::Uniform => x.ceil().max(0.0),
            Arrivals::Poisson { seed } => {
                let k = (x / BLOCK as f64).floor().max(0.0) as u64;
                let within = self.with_block(seed, k, |b| b.partition_point(|&p| p < x));
                (k * BLOCK + within as u64) as f64
            }
        };
        // Count i with due(i) < elapsed, corrected for floating point at the edges.
        let mut k = guess.min(u64::MAX as f64) as u64;
        while k > 0 && self.due(k - 1) >= elapsed {
            k -= 1;
        }
        while self.due(k) < elapsed {
            k += 1;
        }
        k
    }
}

/// The positions of Poisson block `k` of `seed`: `BLOCK` increasing values in
/// `[k·BLOCK, (k+1)·BLOCK)` with exponential gaps, normalised to fill the block.
fn poisson_block(seed: u64, k: u64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(k);
    // −ln U with U uniform in (0, 1]: an exponential draw of mean 1.
    let mut exp = || -(((rng.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64).ln();
    let mut sums = Vec::with_capacity(BLOCK as usize);
    let mut s = 0.0;
    for _ in 0..BLOCK {
        s += exp();
        sums.push(s);
    }
    let total = s + exp();
    let (base, n) = ((k * BLOCK) as f64, BLOCK as f64);
    sums.iter().map(|v| base + n * v / total).collect()
}

#[cfg(test)]
mod tests;
