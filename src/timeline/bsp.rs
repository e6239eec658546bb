//! One service instance's BatchSpanProcessor, simulated in virtual time.
//!
//! The model is the OTel SDK specification's, as the Java and Python SDKs implement it: ended
//! spans go into a bounded queue, and a span that ends while the queue holds `queue` spans is
//! dropped ("Queue is full, likely spans will be dropped"). One worker exports: it starts an
//! export as soon as the queue holds a full batch, or when the schedule delay has passed since
//! its last export ended (an idle worker wakes every delay, so a span ending into an empty queue
//! waits for the next tick); an export takes up to `batch` spans from the front of the queue and
//! lasts `export_ns`, during which spans keep queueing. Time is ns from the timeline's start; the
//! worker's first wake-up is given (instances are out of phase, as processes start apart).

use std::collections::VecDeque;

/// `OTEL_BSP_*`: the batch span processor's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BspConfig {
    /// `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` (512).
    pub batch: usize,
    /// `OTEL_BSP_MAX_QUEUE_SIZE` (2048).
    pub queue: usize,
    /// `OTEL_BSP_SCHEDULE_DELAY` (5 s), ns; at least 1.
    pub delay_ns: u64,
    /// How long one export call lasts, ns.
    pub export_ns: u64,
}

impl Default for BspConfig {
    fn default() -> Self {
        BspConfig { batch: 512, queue: 2048, delay_ns: 5_000_000_000, export_ns: 0 }
    }
}

/// The queue and the export worker of one instance.
#[derive(Debug)]
pub struct Bsp<T> {
    cfg: BspConfig,
    queue: VecDeque<T>,
    /// When the export in progress ends (the worker is free from then on).
    busy_until: u64,
    /// The worker's next scheduled wake-up.
    tick: u64,
    /// When the queue last reached a full batch, while it holds one.
    full_at: Option<u64>,
    /// Spans dropped because the queue was full.
    pub dropped: u64,
}

impl<T> Bsp<T> {
    /// A processor whose worker first wakes at `first_tick` (ns) and every delay after, until
    /// an export resets its schedule.
    pub fn new(cfg: BspConfig, first_tick: u64) -> Self {
        Bsp { cfg, queue: VecDeque::new(), busy_until: 0, tick: first_tick, full_at: None, dropped: 0 }
    }

    /// A span ends at `t`: queued, or dropped (false) when the queue is full. Call it only
    /// after every export [`Bsp::next_export`] put before `t` was taken.
    pub fn end(&mut self, t: u64, item: T) -> bool {
        if self.queue.len() >= self.cfg.queue {
            self.dropped += 1;
            return false;
        }
        if self.queue.is_empty() && self.tick < t {
            // The idle worker woke every delay with nothing to export.
            let d = self.cfg.delay_ns.max(1);
            self.tick += (t - self.tick).div_ceil(d) * d;
        }
        self.queue.push_back(item);
        if self.queue.len() >= self.cfg.batch && self.full_at.is_none() {
            self.full_at = Some(t);
        }
        true
    }

    /// When the next export starts, if anything is queued.
    pub fn next_export(&self) -> Option<u64> {
        if self.queue.is_empty() {
            return None;
        }
        Some(self.full_at.unwrap_or(self.tick).max(self.busy_until))
    }

    /// Starts the export due at `at` (from [`Bsp::next_export`]): its spans go to `out`.
    pub fn export(&mut self, at: u64, out: &mut Vec<T>) {
        let n = self.queue.len().min(self.cfg.batch);
        out.extend(self.queue.drain(..n));
        self.busy_until = at.saturating_add(self.cfg.export_ns);
        self.tick = self.busy_until.saturating_add(self.cfg.delay_ns);
        self.full_at = (self.queue.len() >= self.cfg.batch).then_some(at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn cfg(batch: usize, queue: usize, delay_ms: u64, export_ms: u64) -> BspConfig {
        BspConfig { batch, queue, delay_ns: delay_ms * MS, export_ns: export_ms * MS }
    }

    /// Feeds span ends (time, id) in order, exporting whatever falls due before each; returns
    /// the exports as (time, ids) and the drops.
    fn simulate(c: BspConfig, ends: &[(u64, u32)]) -> (Vec<(u64, Vec<u32>)>, u64) {
        let mut b = Bsp::new(c, c.delay_ns);
        let mut exports = Vec::new();
        let take = |b: &mut Bsp<u32>, before: u64, exports: &mut Vec<(u64, Vec<u32>)>| {
            while let Some(at) = b.next_export().filter(|&at| at < before) {
                let mut out = Vec::new();
                b.export(at, &mut out);
                exports.push((at, out));
            }
        };
        for &(t, id) in ends {
            take(&mut b, t, &mut exports);
            b.end(t, id);
        }
        take(&mut b, u64::MAX, &mut exports);
        (exports, b.dropped)
    }

    #[test]
    fn a_lone_span_waits_for_the_next_tick() {
        let (ex, dropped) = simulate(cfg(512, 2048, 5000, 0), &[(7000 * MS, 1)]);
        // Ticks at 5 s (empty) and 10 s: the span ended at 7 s goes at 10 s.
        assert_eq!(ex, vec![(10_000 * MS, vec![1])]);
        assert_eq!(dropped, 0);
    }

    #[test]
    fn a_full_batch_goes_at_once_and_resets_the_schedule() {
        let ends: Vec<(u64, u32)> = (0..5).map(|i| ((100 + i) * MS, i as u32)).collect();
        let (ex, _) = simulate(cfg(2, 100, 1000, 0), &ends);
        // Batches of 2 at the second and fourth end; the fifth waits a delay after the last export.
        assert_eq!(ex, vec![(101 * MS, vec![0, 1]), (103 * MS, vec![2, 3]), (1103 * MS, vec![4])]);
    }

    #[test]
    fn a_slow_export_fills_the_queue_and_drops_exactly_the_overflow() {
        // Batch 2, queue 4, each export 1 s: 10 spans end within 10 ms.
        let ends: Vec<(u64, u32)> = (0..10).map(|i| (i * MS, i as u32)).collect();
        let (ex, dropped) = simulate(cfg(2, 4, 5000, 1000), &ends);
        // At 1 ms the first batch leaves; the queue then holds spans 2..=5 and drops 6..=9.
        assert_eq!(dropped, 4);
        assert_eq!(ex, vec![(MS, vec![0, 1]), (1001 * MS, vec![2, 3]), (2001 * MS, vec![4, 5])]);
    }
}
