//! When each request is due: absolute offsets from the start, never chained sleeps.
//!
//! At a constant rate R, request *i* is due at `i / R`. With a ramp-up of T seconds the rate
//! grows linearly from 0 to R, so the number of requests due by time t is `R·t²/(2T)` during the
//! ramp and `R·T/2 + R·(t − T)` after it; inverting gives the due time of request *i*.

use std::time::Duration;

/// The request rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rate {
    /// Requests per second.
    PerSec(f64),
    /// As fast as the in-flight cap allows.
    Max,
}

/// Due times of an open-loop schedule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    /// Target rate after the ramp (requests/s).
    pub rate: f64,
    /// Ramp-up length (zero: full rate from the start).
    pub ramp: Duration,
}

impl Schedule {
    /// Offset from the start at which request `i` (0-based) is due.
    pub fn due(&self, i: u64) -> Duration {
        let i = i as f64;
        let r = self.rate;
        let t = self.ramp.as_secs_f64();
        let secs = if t > 0.0 && i < r * t / 2.0 {
            (2.0 * t * i / r).sqrt()
        } else if t > 0.0 {
            t + (i - r * t / 2.0) / r
        } else {
            i / r
        };
        // Saturate instead of panicking on absurd inputs (config keeps rates >= 0.001/s).
        Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX)
    }

    /// Number of requests due strictly before `elapsed`.
    pub fn due_before(&self, elapsed: Duration) -> u64 {
        let e = elapsed.as_secs_f64();
        let r = self.rate;
        let t = self.ramp.as_secs_f64();
        let n = if t > 0.0 && e < t {
            r * e * e / (2.0 * t)
        } else if t > 0.0 {
            r * t / 2.0 + r * (e - t)
        } else {
            r * e
        };
        // Count i with due(i) < elapsed: ceil(n), corrected for floating point at the edges.
        let mut k = n.ceil().max(0.0) as u64;
        while k > 0 && self.due(k - 1) >= elapsed {
            k -= 1;
        }
        while self.due(k) < elapsed {
            k += 1;
        }
        k
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_rate_is_exact() {
        let s = Schedule { rate: 1000.0, ramp: Duration::ZERO };
        assert_eq!(s.due(0), Duration::ZERO);
        assert_eq!(s.due(1000), Duration::from_secs(1));
        assert_eq!(s.due_before(Duration::from_secs(20)), 20_000);
        assert_eq!(s.due_before(Duration::from_millis(1)), 1);
    }

    #[test]
    fn ramp_reaches_full_rate_at_its_end() {
        let s = Schedule { rate: 100.0, ramp: Duration::from_secs(10) };
        // During the ramp the average rate is R/2: 500 requests in the first 10 s.
        assert_eq!(s.due_before(Duration::from_secs(10)), 500);
        let gap_early = s.due(11).as_secs_f64() - s.due(10).as_secs_f64();
        let gap_late = s.due(700).as_secs_f64() - s.due(699).as_secs_f64();
        assert!(gap_early > gap_late * 3.0);
        assert!((gap_late - 0.01).abs() < 1e-9);
        // Monotonic.
        for i in 0..2000 {
            assert!(s.due(i + 1) > s.due(i));
        }
    }
}
