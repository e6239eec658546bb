//! The measurements of a run in shards: one per sender worker and one for the pacer, each
//! behind its own lock, summed by the progress thread and merged at the end.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use super::{Stats, add_histogram, histogram};

/// One shard of a [`Recorder`]: a sender worker (or the pacer) records into its own, so no
/// stage waits on a lock another holds — the pacer in particular never waits on a sender.
#[derive(Debug, Clone)]
pub struct Shard(Arc<Mutex<Stats>>);

impl Shard {
    /// Runs `f` on this shard's stats (uncontended but for the progress thread's reads).
    pub fn with<R>(&self, f: impl FnOnce(&mut Stats) -> R) -> R {
        f(&mut self.0.lock().expect("stats lock not poisoned"))
    }
}

/// What the progress display needs, summed over the shards.
#[derive(Debug, Clone)]
pub struct LiveCounts {
    /// Requests scheduled.
    pub scheduled: u64,
    /// Requests ok.
    pub ok: u64,
    /// Requests failed.
    pub failed: u64,
    /// Requests missed.
    pub missed: u64,
    /// Corrected latency p99, µs.
    pub p99_us: u64,
    /// Failures by class: count and first message.
    pub error_classes: BTreeMap<&'static str, (u64, String)>,
}

/// The measurements of a run, in shards: one per sender worker and one for the pacer.
#[derive(Debug)]
pub struct Recorder {
    start: Instant,
    start_wall: SystemTime,
    shards: Mutex<Vec<Shard>>,
    /// The counters when the stats were taken out: what `live` shows from then on (the
    /// progress thread may look once more after the end; emptied shards would read as zero).
    ended: Mutex<Option<LiveCounts>>,
}

impl Recorder {
    /// A recorder whose clock starts at `start`.
    pub fn new(start: Instant, start_wall: SystemTime) -> Self {
        Recorder { start, start_wall, shards: Mutex::new(Vec::new()), ended: Mutex::new(None) }
    }

    /// A new shard, included in every sum from now on.
    pub fn shard(&self) -> Shard {
        let s = Shard(Arc::new(Mutex::new(Stats::new(self.start, self.start_wall))));
        self.shards.lock().expect("not poisoned").push(s.clone());
        s
    }

    /// The counters the progress display shows, summed over the shards; the p99 (0 unless
    /// `with_p99`) merges every shard's histogram, which costs more than all the counters.
    pub fn live(&self, with_p99: bool) -> LiveCounts {
        // The `ended` lock is held while summing, so `take` cannot empty the shards halfway
        // through a sum (a status line as the run ended once read 0/50).
        let ended = self.ended.lock().expect("not poisoned");
        match ended.as_ref() {
            Some(ended) => ended.clone(),
            None => self.sum(with_p99),
        }
    }

    fn sum(&self, with_p99: bool) -> LiveCounts {
        let mut c = LiveCounts { scheduled: 0, ok: 0, failed: 0, missed: 0, p99_us: 0, error_classes: BTreeMap::new() };
        let mut corrected = with_p99.then(histogram);
        for shard in self.shards.lock().expect("not poisoned").iter() {
            shard.with(|s| {
                c.scheduled += s.scheduled;
                c.ok += s.ok;
                c.failed += s.failed;
                c.missed += s.missed;
                if let Some(h) = corrected.as_mut() {
                    add_histogram(h, &s.corrected);
                }
                for (k, (n, m)) in &s.error_classes {
                    let e = c.error_classes.entry(*k).or_default();
                    e.0 += n;
                    if e.1.is_empty() {
                        e.1 = m.clone();
                    }
                }
            });
        }
        if let Some(h) = corrected {
            c.p99_us = h.value_at_quantile(0.99);
        }
        c
    }

    /// The stats of every shard, summed (at the end of a run: the shards are left empty).
    pub fn take(&self) -> Stats {
        let mut ended = self.ended.lock().expect("not poisoned");
        if ended.is_none() {
            *ended = Some(self.sum(true));
        }
        let mut total = Stats::new(self.start, self.start_wall);
        for shard in self.shards.lock().expect("not poisoned").iter() {
            let s = shard.with(|s| std::mem::replace(s, Stats::new(self.start, self.start_wall)));
            total.merge(s);
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_counts_stay_at_their_totals_after_the_stats_are_taken() {
        let start = Instant::now();
        let r = Recorder::new(start, SystemTime::now());
        let shard = r.shard();
        shard.with(|s| {
            s.scheduled = 3;
            s.ok = 3;
        });
        let before = r.live(false);
        let taken = r.take();
        assert_eq!((taken.scheduled, taken.ok), (3, 3));
        let after = r.live(true);
        assert_eq!((before.scheduled, after.scheduled, after.ok), (3, 3, 3), "not the emptied shards' zeros");
    }
}
