//! Visibility lag measured *during* a run (`replay --verify --sample N`): up to N acknowledged
//! traces a second are taken from the sent log as they are acknowledged and looked up every
//! [`POLL`] until each is stored whole. The final sweep after the run can only say a trace was
//! visible by the round that found it (and verify starts after the run); sampled traces are
//! seen within a poll of becoming visible.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::platform::readback::{self, Source};
use crate::sent::{Sent, parse_id};

/// How often the sampled traces are looked up.
pub const POLL: Duration = Duration::from_millis(250);
/// Most sampled traces waiting to be seen (a platform far behind would otherwise grow the set).
const MAX_PENDING: usize = 10_000;
/// Most traces sampled in a run (memory stays a few MB however long it runs).
const MAX_SAMPLED: usize = 100_000;

/// A sampled trace: when its last request was acknowledged, its spans, and when it was first
/// found whole (Unix ms).
#[derive(Debug, Clone, Copy, Default)]
pub struct Sampled {
    /// Unix ms of the 2xx.
    pub acked_at: u64,
    /// Spans acknowledged.
    pub spans: u32,
    /// Unix ms it was first found whole (`None`: not yet).
    pub seen_at: Option<u64>,
}

/// The sampler thread.
pub struct Sampler {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<Result<HashMap<u128, Sampled>, String>>,
}

impl Sampler {
    /// Starts sampling `per_sec` traces a second of those `rx` delivers, reading from `source`.
    pub fn start(source: Source, per_sec: u32, rx: flume::Receiver<Sent>) -> std::io::Result<Sampler> {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let s = stop.clone();
        let thread =
            std::thread::Builder::new().name("verify-sample".into()).spawn(move || run(&source, per_sec, &rx, &s))?;
        Ok(Sampler { stop, thread })
    }

    /// Stops sampling and returns every sampled trace (seen or not): `Ok(Err)` when reading
    /// from the platform failed (the run goes on without a sampled lag), `Err` when the thread
    /// panicked (a bug: the command fails).
    pub fn finish(self) -> Result<Result<HashMap<u128, Sampled>, String>, String> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread
            .join()
            .map_err(|p| format!("the sampling thread failed ({})", crate::replay::panic_message(p.as_ref())))
    }
}

fn run(
    source: &Source,
    per_sec: u32,
    rx: &flume::Receiver<Sent>,
    stop: &std::sync::atomic::AtomicBool,
) -> Result<HashMap<u128, Sampled>, String> {
    let platform = readback::open(source)?;
    let mut all: HashMap<u128, Sampled> = HashMap::new();
    let (mut second, mut taken, mut pending) = (Instant::now(), 0u32, 0usize);
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        let next = Instant::now() + POLL;
        // Take newly acknowledged traces, at most `per_sec` a second.
        for s in rx.try_iter() {
            if second.elapsed() >= Duration::from_secs(1) {
                (second, taken) = (Instant::now(), 0);
            }
            if !s.ok || taken >= per_sec || pending >= MAX_PENDING || all.len() >= MAX_SAMPLED {
                continue;
            }
            for (hex, n, _) in &s.traces {
                if let (Some(id), true) = (parse_id(hex), taken < per_sec) {
                    taken += 1;
                    let e = all.entry(id).or_insert_with(|| {
                        pending += 1;
                        Sampled::default()
                    });
                    e.acked_at = e.acked_at.max(s.at_unix_ms);
                    e.spans = e.spans.saturating_add(*n);
                }
            }
        }
        let waiting: Vec<u128> = all.iter().filter(|(_, v)| v.seen_at.is_none()).map(|(id, _)| *id).collect();
        for chunk in waiting.chunks(platform.batch().max(1)) {
            let now = crate::sent::unix_ms_now();
            for (id, st) in platform.lookup(chunk)? {
                if let Some(e) = all.get_mut(&id).filter(|e| st.spans >= e.spans && e.seen_at.is_none()) {
                    e.seen_at = Some(st.first_seen_unix_ms.unwrap_or(now));
                    pending -= 1;
                }
            }
        }
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    Ok(all)
}
