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
use crate::corpus::{Corpus, CorpusError};
use crate::encode::{MIXED_SCENARIO, RecordMeta};

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
    /// The name users type and reports show: `none`, `gzip`, `zstd`.
    pub fn name(self) -> &'static str {
        self.header().unwrap_or("none")
    }

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
#[derive(Debug, Clone)]
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
    /// The run's ID key: every pass's IDs are remapped with keys drawn from it (`run.id_key`).
    /// Without one, the first pass keeps the stored IDs and later passes get keys of their own.
    pub id_key: Option<u64>,
    /// Corpus seed (keys the ID remapping).
    pub seed: u64,
    /// Epoch every corpus trace ends at.
    pub epoch_ns: u64,
    /// Time target.
    pub time: TimeBase,
    /// Body compression.
    pub compression: Compression,
    /// Transcode bodies to OTLP/JSON (`--protocol http/json`).
    pub json: bool,
    /// List each request's trace IDs as sent in [`Prepared::sent_traces`] (for the sent log).
    pub record_sent: bool,
    /// Worker threads (0: the reader prepares bodies itself).
    pub workers: usize,
    /// Bytes prepared ahead at most.
    pub max_ahead_bytes: usize,
    /// Requests prepared ahead at most.
    pub max_ahead: usize,
    /// Tests: the reader panics after cutting this many requests.
    #[cfg(test)]
    pub panic_after: Option<u64>,
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
    /// Each trace as sent, with its spans in this request and the Unix ms its timestamps
    /// were shifted to end at (empty unless [`PrepareConfig::record_sent`]).
    pub sent_traces: Vec<(u128, u32, u64)>,
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

/// Where a record sits in the corpus, for errors that name it.
#[derive(Debug, Clone, Copy)]
struct RecordAt {
    record: u64,
    frame: usize,
    /// Byte offset of the record's body in the frame's decompressed data.
    offset: u64,
}

/// A record of a request, with its patch when the reader keeps it (records looped from memory).
struct Part {
    record: Bytes,
    patch: Option<Arc<Patch>>,
    meta: RecordMeta,
    at: RecordAt,
    /// Wall-clock time (Unix ns) the record's trace ends at: the same for every part of a trace
    /// split across records, so children stay inside their parents however the parts are sent.
    target_ns: u64,
}

impl Part {
    /// The record's patch: the one kept by the reader, or found now; checked against the index.
    fn patch(&self, corpus: &Corpus) -> Result<std::borrow::Cow<'_, Patch>, CorpusError> {
        match &self.patch {
            Some(kept) => Ok(std::borrow::Cow::Borrowed(kept)),
            None => checked_patch(corpus, &self.record, self.meta, self.at).map(std::borrow::Cow::Owned),
        }
    }
}

/// Scans a record and checks it against its index entry: an error names the corpus, record
/// and byte offset.
fn checked_patch(corpus: &Corpus, record: &[u8], meta: RecordMeta, at: RecordAt) -> Result<Patch, CorpusError> {
    let bad = |offset: u64, m: String| corpus.record_error(at.frame, at.record, offset, m);
    let patch =
        Patch::scan(record).map_err(|e| bad(at.offset + e.offset as u64, format!("not valid OTLP: {}", e.what)))?;
    if patch.spans() != meta.spans {
        return Err(bad(at.offset, format!("holds {} spans, the index says {}", patch.spans(), meta.spans)));
    }
    Ok(patch)
}

/// A request cut from the corpus, before preparation.
struct Job {
    seq: u64,
    pass: u64,
    parts: Vec<Part>,
    raw_len: usize,
}

/// A prepared request or why request `seq` could not be prepared, keyed by `seq` (the
/// reader's own errors, which come after every request it cut, by `u64::MAX`).
type Ready = (u64, Result<Prepared, String>);

/// The ordered stream of prepared requests, for the pacer.
pub struct PreparedStream {
    rx: flume::Receiver<Ready>,
    corpus: Arc<Corpus>,
    /// Arrived out of order; an error waits here until every request before it was taken, so
    /// a failure stops the run exactly after the last good request.
    pending: BTreeMap<u64, Result<Prepared, String>>,
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
            match self.pending.remove(&self.next) {
                Some(Ok(p)) => {
                    self.next += 1;
                    self.credits.release(p.raw_len as usize);
                    return Ok(Next::Item(p));
                }
                Some(Err(e)) => return Err(e),
                None => {}
            }
            if self.done {
                // Only an error can be left (the reader's, after its last request).
                return match self.pending.pop_first() {
                    Some((_, Err(e))) => Err(e),
                    _ => Ok(Next::End),
                };
            }
            match self.rx.recv_timeout(wait) {
                Ok((seq, r)) => {
                    self.pending.insert(seq, r);
                }
                Err(flume::RecvTimeoutError::Timeout) => return Ok(Next::Wait),
                Err(flume::RecvTimeoutError::Disconnected) => {
                    // Every thread has let go of the channel: a panic must not end the stream
                    // as if the corpus were done.
                    self.done = true;
                    self.stop()?;
                }
            }
        }
    }

    /// Stops the reader and workers and waits for them; a thread that panicked is an error
    /// naming the corpus (reported once).
    pub fn stop(&mut self) -> Result<(), String> {
        self.credits.close();
        let mut failed = None;
        for t in self.threads.drain(..) {
            if let Err(panic) = t.join() {
                let what = super::panic_message(panic.as_ref());
                failed.get_or_insert(format!(
                    "{}: the thread preparing requests failed ({what}); the run stopped",
                    self.corpus.path().display()
                ));
            }
        }
        failed.map_or(Ok(()), Err)
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
    rx: flume::Receiver<Ready>,
    credits: Arc<Credits>,
}

impl AsyncPrepared {
    /// The next request if one is ready: `Some(None)` when every pass is done, `None` when
    /// none is ready yet.
    pub fn try_next(&self) -> Option<Option<Result<Prepared, String>>> {
        match self.rx.try_recv() {
            Ok((_, item)) => {
                if let Ok(p) = &item {
                    self.credits.release(p.raw_len as usize);
                }
                Some(Some(item))
            }
            Err(flume::TryRecvError::Empty) => None,
            Err(flume::TryRecvError::Disconnected) => Some(None),
        }
    }

    /// The next ready request; `None` when every pass is done.
    pub async fn next(&self) -> Option<Result<Prepared, String>> {
        let (_, item) = self.rx.recv_async().await.ok()?;
        if let Ok(p) = &item {
            self.credits.release(p.raw_len as usize);
        }
        Some(item)
    }
}

impl Drop for PreparedStream {
    fn drop(&mut self) {
        let _ = self.stop();
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
                            let seq = job.seq;
                            let r = build(&corpus, &cfg, job);
                            let failed = r.is_err();
                            out_tx.send((seq, r)).is_ok() && !failed
                        } else {
                            job_tx.send(job).is_ok()
                        }
                    };
                    if let Err(e) = read(&corpus, &cfg, &credits, &mut deliver) {
                        let _ = out_tx.send((u64::MAX, Err(e.to_string())));
                    }
                })
                .expect("spawn reader"),
        );
    }
    for i in 0..cfg.workers {
        let (corpus, cfg, job_rx, out_tx) = (corpus.clone(), cfg.clone(), job_rx.clone(), out_tx.clone());
        threads.push(
            std::thread::Builder::new()
                .name(format!("replay-prep-{i}"))
                .spawn(move || {
                    for job in job_rx {
                        let seq = job.seq;
                        let r = build(&corpus, &cfg, job);
                        if out_tx.send((seq, r)).is_err() {
                            return;
                        }
                    }
                })
                .expect("spawn worker"),
        );
    }
    drop(out_tx);
    PreparedStream { rx: out_rx, corpus, pending: BTreeMap::new(), next: 0, credits, threads, done: false }
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
) -> Result<(), CorpusError> {
    let mut frame_reader = crate::corpus::FrameReader::new()
        .map_err(|e| CorpusError::Io { path: corpus.path().display().to_string(), cause: e.to_string() })?;
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
    let timeline = index.records.offset.is_some();
    while cfg.passes.is_none_or(|p| pass < p) {
        let mut batch: Vec<Part> = Vec::with_capacity(cfg.batch as usize);
        // The time the trace being read ends at, while its parts continue into later records.
        let mut open_trace: Option<u64> = None;
        for (k, &f) in frames.iter().enumerate() {
            let data = match &cache[k] {
                Some(d) => d.clone(),
                None => {
                    let mut data = Vec::new();
                    corpus.decompress_frame(f, &mut frame_reader, &mut data)?;
                    let data = Bytes::from(data);
                    if cache_all {
                        cache[k] = Some(data.clone());
                    }
                    data
                }
            };
            let mut slices = Vec::new();
            corpus.for_each_record(f, &data, |r, meta, body| {
                if cfg.records.contains(&r) {
                    let offset = (body.as_ptr() as usize - data.as_ptr() as usize) as u64;
                    slices.push((data.slice_ref(body), meta, RecordAt { record: r, frame: f, offset }));
                }
                Ok(())
            })?;
            for (record, meta, at) in slices {
                let patch = if keep_patches {
                    let slot = &mut patches[(at.record - cfg.records.start) as usize];
                    if slot.is_none() {
                        *slot = Some(Arc::new(checked_patch(corpus, &record, meta, at)?));
                    }
                    slot.clone()
                } else {
                    None
                };
                // A timeline's record is moved on its own: its spans end as long before its send
                // as they did on the timeline (the record's offset).
                let target_ns = match timeline {
                    true => target_ns(cfg, seq).saturating_sub(meta.offset_ns),
                    false => *open_trace.get_or_insert_with(|| target_ns(cfg, seq)),
                };
                // A record with no trace ending in it is an early part of a split trace.
                if meta.traces > 0 {
                    open_trace = None;
                }
                #[cfg(test)]
                injected_panic(cfg, seq);
                batch.push(Part { record, patch, meta, at, target_ns });
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

/// The wall-clock time a trace sent in request `seq` ends at: its due time, or now at
/// `--rate max` (the reader runs at most the preparation window ahead of sending).
fn target_ns(cfg: &PrepareConfig, seq: u64) -> u64 {
    match &cfg.time {
        TimeBase::Scheduled { start_ns, schedule } => {
            start_ns.saturating_add(u64::try_from(schedule.due(seq).as_nanos()).unwrap_or(u64::MAX))
        }
        TimeBase::Now => now_ns(),
    }
}

/// Sends one request to the workers; false when the pipeline is stopping.
fn emit(batch: &mut Vec<Part>, seq: &mut u64, pass: u64, credits: &Credits, jobs: &mut dyn FnMut(Job) -> bool) -> bool {
    let raw_len: usize = batch.iter().map(|p| p.record.len()).sum();
    if !credits.acquire(raw_len) {
        return false;
    }
    let job = Job { seq: *seq, pass, raw_len, parts: std::mem::take(batch) };
    *seq += 1;
    jobs(job)
}

/// Tests: the reader panics after cutting `panic_after` requests.
#[cfg(test)]
fn injected_panic(cfg: &PrepareConfig, seq: u64) {
    if cfg.panic_after.is_some_and(|n| seq >= n) {
        panic!("injected reader panic");
    }
}

fn now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
}

/// What [`check_slice`] checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checked {
    /// Records decoded and checked.
    pub records: u64,
    /// Records of the slice.
    pub of: u64,
}

/// Decodes the records `range` of `corpus` as replay will (the wire scan every patch needs,
/// spans counted against the index), frame by frame, until `max_raw` decompressed bytes were
/// checked. The first malformed record is an error naming the file, record and byte offset.
pub fn check_slice(corpus: &Corpus, range: std::ops::Range<u64>, max_raw: u64) -> Result<Checked, CorpusError> {
    let mut reader = crate::corpus::FrameReader::new()
        .map_err(|e| CorpusError::Io { path: corpus.path().display().to_string(), cause: e.to_string() })?;
    let index = &corpus.index;
    let (mut checked, mut raw, mut data) = (0u64, 0u64, Vec::new());
    let first = index.frames.partition_point(|f| f.first_record + f.records <= range.start);
    for f in (first..index.frames.len()).take_while(|&f| index.frames[f].first_record < range.end) {
        if raw >= max_raw {
            break;
        }
        corpus.decompress_frame(f, &mut reader, &mut data)?;
        raw += data.len() as u64;
        corpus.for_each_record(f, &data, |r, meta, body| {
            if range.contains(&r) {
                let offset = (body.as_ptr() as usize - data.as_ptr() as usize) as u64;
                checked_patch(corpus, body, meta, RecordAt { record: r, frame: f, offset })?;
                checked += 1;
            }
            Ok(())
        })?;
    }
    Ok(Checked { records: checked, of: range.end - range.start })
}

/// A request (one or several concatenated `ExportTraceServiceRequest` records: protobuf
/// messages concatenate) as OTLP/JSON: hex IDs, 64-bit integers as strings, enums as numbers.
fn to_json(raw: &[u8]) -> Result<Vec<u8>, String> {
    let req = crate::otlp::decode_request(raw).map_err(|e| e.to_string())?;
    serde_json::to_vec(&crate::otlp::json::request_to_json(&req)).map_err(|e| e.to_string())
}

/// Worker: job → body.
fn build(corpus: &Corpus, cfg: &PrepareConfig, job: Job) -> Result<Prepared, String> {
    let keys = id_keys(cfg.seed, job.pass, cfg.id_key);
    let delta = |p: &Part| p.target_ns.wrapping_sub(cfg.epoch_ns);
    let compress_err = |what: &str, e: std::io::Error| format!("cannot compress request {} with {what}: {e}", job.seq);
    // For compression and JSON: the records copied into one buffer and patched in place.
    let patched_copy = || -> Result<Vec<u8>, String> {
        let mut raw = Vec::with_capacity(job.raw_len);
        for p in &job.parts {
            let at = raw.len();
            raw.extend_from_slice(&p.record);
            if cfg.rewrite {
                p.patch(corpus).map_err(|e| e.to_string())?.apply(&mut raw[at..], delta(p), keys);
            } else if p.patch.is_none() {
                // Sent as stored, but still checked: a malformed record is never sent.
                checked_patch(corpus, &p.record, p.meta, p.at).map_err(|e| e.to_string())?;
            }
        }
        if cfg.json {
            raw = to_json(&raw).map_err(|e| format!("request {}: cannot transcode to OTLP/JSON: {e}", job.seq))?;
        }
        Ok(raw)
    };
    let body = match cfg.compression {
        Compression::Gzip => {
            let raw = patched_copy()?;
            let mut enc =
                flate2::write::GzEncoder::new(Vec::with_capacity(raw.len() / 4), flate2::Compression::default());
            enc.write_all(&raw).map_err(|e| compress_err("gzip", e))?;
            Body::from(Bytes::from(enc.finish().map_err(|e| compress_err("gzip", e))?))
        }
        Compression::Zstd => {
            let raw = patched_copy()?;
            Body::from(Bytes::from(zstd::bulk::compress(&raw, 3).map_err(|e| compress_err("zstd", e))?))
        }
        Compression::None if cfg.json => Body::from(Bytes::from(patched_copy()?)),
        // Uncompressed: the corpus's bytes go out as they are, around the patched fields.
        Compression::None => {
            let mut pieces = Vec::new();
            for p in &job.parts {
                let patch = p.patch(corpus).map_err(|e| e.to_string())?;
                if cfg.rewrite {
                    patch.splice(&p.record, delta(p), keys, &mut pieces);
                } else {
                    pieces.push(p.record.clone());
                }
            }
            Body::from_pieces(pieces)
        }
    };
    let first = job.parts[0].meta.scenario;
    let mut sent_traces: Vec<(u128, u32, u64)> = Vec::new();
    let timeline = corpus.index.records.offset.is_some();
    if cfg.record_sent {
        for p in &job.parts {
            let patch = p.patch(corpus).map_err(|e| e.to_string())?;
            // Every corpus trace ends at the epoch: shifted, at the part's target. A timeline's
            // spans end before their record is sent, each trace's when its latest span in the
            // record ends (as stored, shifted like every timestamp).
            let whole_end_ms = if cfg.rewrite { p.target_ns } else { cfg.epoch_ns } / 1_000_000;
            let shift = if cfg.rewrite { delta(p) } else { 0 };
            let ends = patch.trace_ends().map(|e| match timeline {
                true => e.wrapping_add(shift) / 1_000_000,
                false => whole_end_ms,
            });
            for ((id, n), end_ms) in patch.traces_sent(if cfg.rewrite { keys } else { None }).zip(ends) {
                match sent_traces.iter_mut().find(|t| t.0 == id) {
                    Some(t) => {
                        t.1 = t.1.saturating_add(n);
                        t.2 = t.2.max(end_ms);
                    }
                    None => sent_traces.push((id, n, end_ms)),
                }
            }
        }
    }
    Ok(Prepared {
        sent_traces,
        seq: job.seq,
        pass: job.pass,
        body,
        raw_len: job.raw_len as u64,
        spans: job.parts.iter().map(|p| p.meta.spans).sum(),
        traces: job.parts.iter().map(|p| u32::from(p.meta.traces)).sum(),
        scenario: if job.parts.iter().all(|p| p.meta.scenario == first) { first } else { MIXED_SCENARIO },
    })
}

#[cfg(test)]
mod tests;
