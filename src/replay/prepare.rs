//! Preparation of request bodies, off the pacing path, in a bounded pipeline.
//!
//! A reader thread walks the corpus slice pass after pass: it decompresses one frame at a time
//! from the memory map and cuts it into requests (`--batch` consecutive records each; a batch
//! never spans two passes). Each request then becomes its body: every timestamp shifted so the
//! trace ends at the request's send time, IDs remapped on passes after the first (see
//! [`super::patch`]), and compressed for `Content-Encoding` by worker threads. An uncompressed
//! body is not copied: it is the record's own bytes around small patched runs
//! ([`super::body::Body`]), built by the reader itself. The pacer takes bodies back in order.
//! Credits bound how many bytes and requests are prepared ahead, so memory stays flat however
//! large the corpus is.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use super::body::Body;
pub use super::patch::{Patch, id_keys};
use super::schedule::Schedule;
use crate::corpus::Corpus;
use crate::encode::MIXED_SCENARIO;
use crate::wire;

/// `Content-Encoding` of request bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Identity.
    None,
    /// gzip (flate2, default level), what OTel SDKs send.
    Gzip,
    /// zstd level 3.
    Zstd,
}

impl Compression {
    /// The header value, if any.
    pub fn header(self) -> Option<&'static str> {
        match self {
            Compression::None => None,
            Compression::Gzip => Some("gzip"),
            Compression::Zstd => Some("zstd"),
        }
    }
}

/// Which timestamps to aim at.
#[derive(Debug, Clone, Copy)]
pub enum TimeBase {
    /// Request *i* ends at `start + schedule.due(i)` (wall clock, Unix ns).
    Scheduled {
        /// Wall-clock start of the schedule, Unix ns.
        start_ns: u64,
        /// The schedule.
        schedule: Schedule,
    },
    /// The time the body is prepared (for `--rate max`, where due times are unknown).
    Now,
}

/// What the preparation stage needs to know.
#[derive(Debug, Clone)]
pub struct PrepareConfig {
    /// Records `[start, end)` of the corpus to send.
    pub records: std::ops::Range<u64>,
    /// Passes over the records (`None`: until stopped).
    pub passes: Option<u64>,
    /// Records per request.
    pub batch: u32,
    /// Shift times and remap IDs.
    pub rewrite: bool,
    /// Remap IDs on the first pass too, with this salt (`--fresh-ids`).
    pub first_pass_salt: Option<u64>,
    /// Corpus seed (keys the ID remapping).
    pub seed: u64,
    /// Epoch every corpus trace ends at.
    pub epoch_ns: u64,
    /// Time target.
    pub time: TimeBase,
    /// Body compression.
    pub compression: Compression,
    /// Worker threads (0: the reader prepares bodies itself).
    pub workers: usize,
    /// Bytes prepared ahead at most.
    pub max_ahead_bytes: usize,
    /// Requests prepared ahead at most.
    pub max_ahead: usize,
}

/// A request ready to send.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// Position in the schedule (0-based).
    pub seq: u64,
    /// Pass number (0-based).
    pub pass: u64,
    /// The body, compressed as configured.
    pub body: Body,
    /// Uncompressed size.
    pub raw_len: u64,
    /// Spans in it.
    pub spans: u32,
    /// Traces in it.
    pub traces: u32,
    /// Scenario id (255: mixed).
    pub scenario: u8,
}

/// Bounds the work prepared ahead of the pacer.
struct Credits {
    max_bytes: usize,
    max_items: usize,
    state: Mutex<(usize, usize)>,
    cv: Condvar,
    closed: AtomicBool,
    /// Whether the reader is blocked waiting for credits (only then does a release wake it).
    waiting: AtomicBool,
}

impl Credits {
    /// Waits until `bytes` more fit; false once closed.
    fn acquire(&self, bytes: usize) -> bool {
        let mut s = self.state.lock().expect("not poisoned");
        loop {
            if self.closed.load(Ordering::Relaxed) {
                return false;
            }
            let fits = s.1 == 0 || (s.0 + bytes <= self.max_bytes && s.1 < self.max_items);
            if fits {
                s.0 += bytes;
                s.1 += 1;
                return true;
            }
            self.waiting.store(true, Ordering::Relaxed);
            s = self.cv.wait_timeout(s, Duration::from_millis(50)).expect("not poisoned").0;
            self.waiting.store(false, Ordering::Relaxed);
        }
    }

    fn release(&self, bytes: usize) {
        let mut s = self.state.lock().expect("not poisoned");
        s.0 = s.0.saturating_sub(bytes);
        s.1 = s.1.saturating_sub(1);
        // Wake the reader only once half the window is free: it then refills in one run
        // instead of a thread wake-up per request (measured: two context switches per request
        // at `--rate max` without this).
        if self.waiting.load(Ordering::Relaxed) && s.0 <= self.max_bytes / 2 && s.1 <= self.max_items / 2 {
            self.cv.notify_all();
        }
    }

    fn close(&self) {
        self.closed.store(true, Ordering::Relaxed);
        self.cv.notify_all();
    }
}

/// A record of a request, with its patch when the reader keeps it (records looped from memory).
struct Part {
    record: Bytes,
    patch: Option<Arc<Patch>>,
}

impl Part {
    /// The record's patch: the one kept by the reader, or found now.
    fn patch(&self) -> Result<std::borrow::Cow<'_, Patch>, wire::WireError> {
        match &self.patch {
            Some(kept) => Ok(std::borrow::Cow::Borrowed(kept)),
            None => Patch::scan(&self.record).map(std::borrow::Cow::Owned),
        }
    }
}

/// A request cut from the corpus, before preparation.
struct Job {
    seq: u64,
    pass: u64,
    parts: Vec<Part>,
    spans: u32,
    traces: u32,
    scenario: u8,
    raw_len: usize,
}

/// The ordered stream of prepared requests, for the pacer.
pub struct PreparedStream {
    rx: flume::Receiver<Result<Prepared, String>>,
    pending: BTreeMap<u64, Prepared>,
    next: u64,
    credits: Arc<Credits>,
    threads: Vec<std::thread::JoinHandle<()>>,
    done: bool,
}

/// What [`PreparedStream::next`] returns.
pub enum Next {
    /// The next request in order.
    Item(Prepared),
    /// Nothing within the wait; ask again.
    Wait,
    /// All passes are done.
    End,
}

impl PreparedStream {
    /// The next request in schedule order, waiting at most `wait`.
    pub fn next(&mut self, wait: Duration) -> Result<Next, String> {
        loop {
            if let Some(p) = self.pending.remove(&self.next) {
                self.next += 1;
                self.credits.release(p.raw_len as usize);
                return Ok(Next::Item(p));
            }
            if self.done {
                return Ok(Next::End);
            }
            match self.rx.recv_timeout(wait) {
                Ok(Ok(p)) => {
                    self.pending.insert(p.seq, p);
                }
                Ok(Err(e)) => return Err(e),
                Err(flume::RecvTimeoutError::Timeout) => return Ok(Next::Wait),
                Err(flume::RecvTimeoutError::Disconnected) => self.done = true,
            }
        }
    }

    /// Stops the reader and workers.
    pub fn stop(&mut self) {
        self.credits.close();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl PreparedStream {
    /// An unordered, async view for `--rate max`: senders take bodies as they become ready,
    /// without a pacer thread in between (no schedule means order carries no meaning).
    pub fn take_async(&mut self) -> AsyncPrepared {
        AsyncPrepared { rx: self.rx.clone(), credits: self.credits.clone() }
    }
}

/// Prepared requests for async consumers, in whatever order they are ready.
#[derive(Clone)]
pub struct AsyncPrepared {
    rx: flume::Receiver<Result<Prepared, String>>,
    credits: Arc<Credits>,
}

impl AsyncPrepared {
    /// The next ready request; `None` when every pass is done.
    pub async fn next(&self) -> Option<Result<Prepared, String>> {
        let item = self.rx.recv_async().await.ok()?;
        if let Ok(p) = &item {
            self.credits.release(p.raw_len as usize);
        }
        Some(item)
    }
}

impl Drop for PreparedStream {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts the reader and workers.
pub fn start(corpus: Arc<Corpus>, cfg: PrepareConfig) -> PreparedStream {
    let credits = Arc::new(Credits {
        max_bytes: cfg.max_ahead_bytes,
        max_items: cfg.max_ahead,
        state: Mutex::new((0, 0)),
        cv: Condvar::new(),
        closed: AtomicBool::new(false),
        waiting: AtomicBool::new(false),
    });
    let (job_tx, job_rx) = flume::bounded::<Job>(cfg.workers.max(1) * 4);
    let (out_tx, out_rx) = flume::unbounded();
    let cfg = Arc::new(cfg);
    let mut threads = Vec::new();
    {
        let (corpus, cfg, credits, out_tx) = (corpus.clone(), cfg.clone(), credits.clone(), out_tx.clone());
        threads.push(
            std::thread::Builder::new()
                .name("replay-read".into())
                .spawn(move || {
                    // Without workers (no compression: a copy and a patch are cheap), the reader
                    // builds bodies itself and saves a thread hand-off per request.
                    let inline = cfg.workers == 0;
                    let mut deliver = |job: Job| {
                        if inline {
                            let r = build(&cfg, job);
                            let failed = r.is_err();
                            out_tx.send(r).is_ok() && !failed
                        } else {
                            job_tx.send(job).is_ok()
                        }
                    };
                    if let Err(e) = read(&corpus, &cfg, &credits, &mut deliver) {
                        let _ = out_tx.send(Err(e));
                    }
                })
                .expect("spawn reader"),
        );
    }
    for i in 0..cfg.workers {
        let (cfg, job_rx, out_tx) = (cfg.clone(), job_rx.clone(), out_tx.clone());
        threads.push(
            std::thread::Builder::new()
                .name(format!("replay-prep-{i}"))
                .spawn(move || {
                    for job in job_rx {
                        let r = build(&cfg, job);
                        if out_tx.send(r).is_err() {
                            return;
                        }
                    }
                })
                .expect("spawn worker"),
        );
    }
    drop(out_tx);
    PreparedStream { rx: out_rx, pending: BTreeMap::new(), next: 0, credits, threads, done: false }
}

/// Largest slice (decompressed) kept in memory across passes. A slice that fits is
/// decompressed once and looped from memory; a larger one is streamed from the map on every
/// pass, so memory stays bounded whatever the corpus size.
pub const CACHE_BUDGET: u64 = 128 << 20;

/// Reader: frames → requests, pass after pass.
fn read(
    corpus: &Corpus,
    cfg: &PrepareConfig,
    credits: &Credits,
    jobs: &mut dyn FnMut(Job) -> bool,
) -> Result<(), String> {
    let mut dec = zstd::bulk::Decompressor::new().map_err(|e| e.to_string())?;
    let index = &corpus.index;
    let first_frame = index.frames.partition_point(|f| f.first_record + f.records <= cfg.records.start);
    let frames: Vec<usize> =
        (first_frame..index.frames.len()).take_while(|&f| index.frames[f].first_record < cfg.records.end).collect();
    let slice_raw: u64 = frames.iter().map(|&f| index.frames[f].raw_len).sum();
    let cache_all = cfg.passes != Some(1) && slice_raw <= CACHE_BUDGET;
    let mut cache: Vec<Option<Bytes>> = vec![None; frames.len()];
    // The patch of every record of a kept slice, found on the first pass.
    let keep_patches = cache_all && cfg.rewrite;
    let mut patches: Vec<Option<Arc<Patch>>> =
        if keep_patches { vec![None; (cfg.records.end - cfg.records.start) as usize] } else { Vec::new() };
    let mut seq = 0u64;
    let mut pass = 0u64;
    while cfg.passes.is_none_or(|p| pass < p) {
        let mut batch: Vec<(Part, crate::encode::RecordMeta)> = Vec::with_capacity(cfg.batch as usize);
        for (k, &f) in frames.iter().enumerate() {
            let data = match &cache[k] {
                Some(d) => d.clone(),
                None => {
                    let mut data = Vec::new();
                    corpus.decompress_frame(f, &mut dec, &mut data).map_err(|e| e.to_string())?;
                    let data = Bytes::from(data);
                    if cache_all {
                        cache[k] = Some(data.clone());
                    }
                    data
                }
            };
            let mut slices = Vec::new();
            corpus
                .for_each_record(f, &data, |r, meta, body| {
                    if cfg.records.contains(&r) {
                        slices.push((r, data.slice_ref(body), meta));
                    }
                    Ok(())
                })
                .map_err(|e| e.to_string())?;
            for (r, record, meta) in slices {
                let patch = if keep_patches {
                    let slot = &mut patches[(r - cfg.records.start) as usize];
                    if slot.is_none() {
                        *slot = Some(Arc::new(Patch::scan(&record).map_err(|e| format!("record {r}: {e}"))?));
                    }
                    slot.clone()
                } else {
                    None
                };
                batch.push((Part { record, patch }, meta));
                if batch.len() == cfg.batch as usize && !emit(&mut batch, &mut seq, pass, credits, jobs) {
                    return Ok(());
                }
            }
        }
        if !batch.is_empty() && !emit(&mut batch, &mut seq, pass, credits, jobs) {
            return Ok(());
        }
        pass += 1;
        if cfg.records.is_empty() {
            return Ok(());
        }
    }
    Ok(())
}

/// Sends one request to the workers; false when the pipeline is stopping.
fn emit(
    batch: &mut Vec<(Part, crate::encode::RecordMeta)>,
    seq: &mut u64,
    pass: u64,
    credits: &Credits,
    jobs: &mut dyn FnMut(Job) -> bool,
) -> bool {
    let raw_len: usize = batch.iter().map(|(p, _)| p.record.len()).sum();
    if !credits.acquire(raw_len) {
        return false;
    }
    let first = batch[0].1.scenario;
    let job = Job {
        seq: *seq,
        pass,
        spans: batch.iter().map(|(_, m)| m.spans).sum(),
        traces: batch.iter().map(|(_, m)| u32::from(m.traces)).sum(),
        scenario: if batch.iter().all(|(_, m)| m.scenario == first) { first } else { MIXED_SCENARIO },
        raw_len,
        parts: batch.drain(..).map(|(b, _)| b).collect(),
    };
    *seq += 1;
    jobs(job)
}

fn now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
}

/// Worker: job → body.
fn build(cfg: &PrepareConfig, job: Job) -> Result<Prepared, String> {
    let rewrite = cfg.rewrite.then(|| {
        let target = match cfg.time {
            TimeBase::Scheduled { start_ns, schedule } => start_ns + schedule.due(job.seq).as_nanos() as u64,
            TimeBase::Now => now_ns(),
        };
        (target.wrapping_sub(cfg.epoch_ns), id_keys(cfg.seed, job.pass, cfg.first_pass_salt))
    });
    let bad = |e: wire::WireError| format!("request {} (pass {}): {e}", job.seq, job.pass);
    // For compression: the records copied into one buffer and patched in place.
    let patched_copy = || -> Result<Vec<u8>, String> {
        let mut raw = Vec::with_capacity(job.raw_len);
        for p in &job.parts {
            let at = raw.len();
            raw.extend_from_slice(&p.record);
            if let Some((delta, keys)) = rewrite {
                p.patch().map_err(bad)?.apply(&mut raw[at..], delta, keys);
            }
        }
        Ok(raw)
    };
    let body = match (cfg.compression, rewrite) {
        (Compression::Gzip, _) => {
            let raw = patched_copy()?;
            let mut enc =
                flate2::write::GzEncoder::new(Vec::with_capacity(raw.len() / 4), flate2::Compression::default());
            enc.write_all(&raw).map_err(|e| e.to_string())?;
            Body::from(Bytes::from(enc.finish().map_err(|e| e.to_string())?))
        }
        (Compression::Zstd, _) => {
            Body::from(Bytes::from(zstd::bulk::compress(&patched_copy()?, 3).map_err(|e| e.to_string())?))
        }
        // Uncompressed: the corpus's bytes go out as they are, around the patched fields.
        (Compression::None, Some((delta, keys))) => {
            let mut pieces = Vec::new();
            for p in &job.parts {
                p.patch().map_err(bad)?.splice(&p.record, delta, keys, &mut pieces);
            }
            Body::from_pieces(pieces)
        }
        (Compression::None, None) => Body::from_pieces(job.parts.into_iter().map(|p| p.record).collect()),
    };
    Ok(Prepared {
        seq: job.seq,
        pass: job.pass,
        body,
        raw_len: job.raw_len as u64,
        spans: job.spans,
        traces: job.traces,
        scenario: job.scenario,
    })
}

#[cfg(test)]
mod tests;
