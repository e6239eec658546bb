//! The per-trace random stream and the sampling routines built on it.
//!
//! Trace *i* draws from its own ChaCha8 stream: `seed_from_u64(seed)` with `set_stream(i)`.
//! No RNG is shared between traces, so output does not depend on thread count or order, and
//! any slice of a corpus can be generated on its own. The sampling routines (uniform, normal,
//! log-normal) are written here rather than taken from `rand_distr` so that the bytes a seed
//! produces are fixed by this crate's generator version, not by a dependency's algorithm.

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};

use crate::scenario::Dist;
use crate::scenario::limits::Z_MAX;

/// Random stream of one trace.
pub struct TraceRng(ChaCha8Rng);

impl TraceRng {
    /// The stream for trace `index` of a corpus generated with `seed`.
    pub fn for_trace(seed: u64, index: u64) -> Self {
        let mut r = ChaCha8Rng::seed_from_u64(seed);
        r.set_stream(index);
        TraceRng(r)
    }

    /// A stream for fixed tables built once per generator version (word banks).
    pub fn fixed(label: u64) -> Self {
        TraceRng(ChaCha8Rng::seed_from_u64(0x7472_6163_6562_6c73 ^ label))
    }

    /// 64 random bits.
    #[inline]
    pub fn u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    /// 32 random bits.
    #[inline]
    pub fn u32(&mut self) -> u32 {
        self.0.next_u32()
    }

    /// Fills `dst` with random bytes.
    #[inline]
    pub fn fill(&mut self, dst: &mut [u8]) {
        self.0.fill_bytes(dst)
    }

    /// Uniform in [0, 1) with 53 bits of precision.
    #[inline]
    pub fn unit(&mut self) -> f64 {
        (self.u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform integer in [0, n); n must be > 0. Lemire's multiply-shift (bias < 2^-32 for
    /// the small n used here, and deterministic, which is what matters).
    #[inline]
    pub fn below(&mut self, n: usize) -> usize {
        debug_assert!(n > 0);
        ((u64::from(self.u32()) * n as u64) >> 32) as usize
    }

    /// Picks one element of a non-empty slice.
    #[inline]
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// True with probability `p`.
    #[inline]
    pub fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.unit() < p
    }

    /// Standard normal by Box–Muller (one draw per call; no cached second value, so each call
    /// consumes the same amount of stream whatever came before). `u1` ≥ 2⁻⁵³ keeps every draw
    /// within ±8.5717, under [`Z_MAX`].
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.unit(); // (0, 1]
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// A sample of `d`. A log-normal draw is clamped at z = ±[`Z_MAX`], the bound scenario
    /// validation relies on ([`Dist::max`]); `normal` never reaches it, so the clamp changes no
    /// draw — it keeps the bound true should the normal draw ever change.
    pub fn sample(&mut self, d: &Dist) -> f64 {
        match *d {
            Dist::Const(v) => v,
            Dist::LogNormal { median, sigma } => {
                if sigma == 0.0 {
                    median
                } else {
                    median * (sigma * self.normal().clamp(-Z_MAX, Z_MAX)).exp()
                }
            }
            Dist::Uniform { min, max } => min + (max - min) * self.unit(),
        }
    }

    /// An integer sample of `d`: uniform ranges include both bounds, others round.
    pub fn sample_count(&mut self, d: &Dist) -> u64 {
        match *d {
            Dist::Uniform { min, max } => {
                let lo = min.round() as u64;
                let hi = max.round() as u64;
                lo + self.below((hi - lo + 1) as usize) as u64
            }
            _ => self.sample(d).round().max(0.0) as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_independent_of_each_other_and_reproducible() {
        let a: Vec<u64> = (0..4).map(|_| TraceRng::for_trace(42, 7).u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]), "same (seed, index) must repeat");
        let mut x = TraceRng::for_trace(42, 7);
        let mut y = TraceRng::for_trace(42, 8);
        assert_ne!(x.u64(), y.u64());
    }

    #[test]
    fn lognormal_median_is_close() {
        let mut r = TraceRng::for_trace(1, 1);
        let d = Dist::LogNormal { median: 100.0, sigma: 0.5 };
        let mut v: Vec<f64> = (0..20_001).map(|_| r.sample(&d)).collect();
        v.sort_by(f64::total_cmp);
        let med = v[10_000];
        assert!((med - 100.0).abs() < 3.0, "median {med}");
    }

    #[test]
    fn normal_draws_stay_inside_z_max() {
        // The most extreme draw: u1 = 1 - unit() at its smallest, 2^-53, and cos = ±1.
        let u1 = 1.0 - (((1u64 << 53) - 1) as f64 * (1.0 / (1u64 << 53) as f64));
        assert_eq!(u1, f64::EPSILON / 2.0);
        let extreme = (-2.0 * u1.ln()).sqrt();
        assert!(extreme < Z_MAX && Z_MAX - extreme < 1e-3, "extreme {extreme}, Z_MAX {Z_MAX}");
        let mut r = TraceRng::for_trace(5, 5);
        assert!((0..100_000).all(|_| r.normal().abs() < extreme + 1e-12));
    }

    #[test]
    fn uniform_count_hits_both_bounds() {
        let mut r = TraceRng::for_trace(3, 0);
        let d = Dist::Uniform { min: 1.0, max: 3.0 };
        let seen: std::collections::BTreeSet<u64> = (0..1000).map(|_| r.sample_count(&d)).collect();
        assert_eq!(seen.into_iter().collect::<Vec<_>>(), vec![1, 2, 3]);
    }
}
