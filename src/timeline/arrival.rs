//! When sessions start: a Poisson process of a given rate, or a fixed number of workers that
//! each run one session after another (as a load script's workers do).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::synth::TraceRng;

/// How sessions arrive.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Arrival {
    /// A Poisson process: sessions a second, on average.
    Rate(f64),
    /// This many workers, each starting its next session when the last one ends.
    Concurrency(u32),
}

impl Arrival {
    /// As the corpus metadata and `inspect` show it.
    pub fn describe(&self) -> String {
        match self {
            Arrival::Rate(r) => format!("sessions-per-second {r}"),
            Arrival::Concurrency(c) => format!("concurrency {c}"),
        }
    }
}

/// The RNG stream of the arrival gaps: past any trace index a corpus can hold, so the gaps
/// never share a stream with a trace.
const ARRIVAL_STREAM: u64 = u64::MAX;

/// Start times of sessions 0, 1, 2, … in order (ns from the timeline's start).
pub struct Starts {
    arrival: Arrival,
    rng: TraceRng,
    /// Rate: the next session's start.
    next: u64,
    /// Concurrency: when each worker is free, and its number (ties go to the lowest).
    workers: BinaryHeap<Reverse<(u64, u32)>>,
}

impl Starts {
    /// The starts for `seed`: the same seed gives the same starts, whatever the count.
    pub fn new(arrival: Arrival, seed: u64) -> Starts {
        let workers = match arrival {
            Arrival::Concurrency(c) => (0..c).map(|w| Reverse((0, w))).collect(),
            Arrival::Rate(_) => BinaryHeap::new(),
        };
        Starts { arrival, rng: TraceRng::for_trace(seed, ARRIVAL_STREAM), next: 0, workers }
    }

    /// The start of the next session, which lasts `duration` ns.
    pub fn next(&mut self, duration: u64) -> u64 {
        match self.arrival {
            Arrival::Rate(r) => {
                let at = self.next;
                // −ln U with U uniform in (0, 1]: an exponential gap of mean 1/r seconds.
                let u = ((self.rng.u64() >> 11) + 1) as f64 / (1u64 << 53) as f64;
                self.next = at.saturating_add((-u.ln() / r * 1e9) as u64);
                at
            }
            Arrival::Concurrency(_) => {
                let Reverse((at, w)) = self.workers.pop().expect("at least one worker");
                self.workers.push(Reverse((at.saturating_add(duration), w)));
                at
            }
        }
    }

    /// No session after those already started can start before this.
    pub fn horizon(&self) -> u64 {
        match self.arrival {
            Arrival::Rate(_) => self.next,
            Arrival::Concurrency(_) => self.workers.peek().map_or(u64::MAX, |Reverse((t, _))| *t),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_start_a_session_when_theirs_ends() {
        let mut s = Starts::new(Arrival::Concurrency(2), 1);
        assert_eq!([s.next(10), s.next(4), s.next(3), s.next(1)], [0, 0, 4, 7]);
        assert_eq!(s.horizon(), 8);
    }

    #[test]
    fn poisson_starts_keep_their_rate_and_do_not_depend_on_durations() {
        let (mut a, mut b) = (Starts::new(Arrival::Rate(50.0), 7), Starts::new(Arrival::Rate(50.0), 7));
        let starts: Vec<u64> = (0..10_000).map(|i| a.next(i)).collect();
        assert!(starts.iter().zip(0..).all(|(&t, i)| t == b.next(i * 1000)));
        assert!(starts.windows(2).all(|w| w[0] <= w[1]));
        let rate = 9_999.0 / (starts[9_999] as f64 / 1e9);
        assert!((rate - 50.0).abs() < 2.0, "{rate} sessions/s");
    }
}
