//! The sink's shared counters.
//!
//! Plain counters are atomics, so the hot path takes no lock for them; the sets of trace and
//! span IDs sit behind one mutex taken once per accepted request (not per span), which is also
//! what makes `--conflict-on-duplicate` atomic: the check for a known trace ID and the insert
//! of the request's IDs happen under the same lock.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::Notify;

use super::conns::Conns;
use super::decode::SpanKey;
use super::limits::Budget;
use super::summary::{FaultCounts, LimitCounts, Summary};
use super::{Captured, SinkPlan};

/// Statuses are counted in an array indexed by code; anything else lands in the last slot.
const STATUS_SLOTS: usize = 600;

/// How a request came: its listener and, on HTTP, its `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// OTLP/gRPC, on `--grpc-listen`.
    Grpc,
    /// OTLP/HTTP with a protobuf body.
    HttpProtobuf,
    /// OTLP/HTTP with a JSON body.
    HttpJson,
    /// HTTP whose `Content-Type` is neither (refused with 415, or before by route or profile).
    Http,
}

impl Protocol {
    const ALL: [Protocol; 4] = [Protocol::Grpc, Protocol::HttpProtobuf, Protocol::HttpJson, Protocol::Http];

    /// The name in the summary: replay's `--protocol` values, and `http` for the rest.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Grpc => "grpc",
            Protocol::HttpProtobuf => "http/protobuf",
            Protocol::HttpJson => "http/json",
            Protocol::Http => "http",
        }
    }
}

/// gRPC codes are 0 to 16.
const GRPC_CODES: usize = 17;

/// Trace and span IDs are random, so a multiply-fold of their bits hashes them well enough
/// and much faster than SipHash. (Deliberately colliding IDs only slow the sink down.)
#[derive(Default)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0 ^ v).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(29);
    }
    fn write_u128(&mut self, v: u128) {
        self.write_u64(v as u64 ^ (v >> 64) as u64);
    }
}

type IdSet<T> = HashSet<T, BuildHasherDefault<IdHasher>>;
type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;

/// What the sink stored of one trace: what its query endpoint answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TraceEntry {
    /// Spans with distinct span IDs.
    pub spans: u32,
    /// Span records, duplicates included.
    pub rows: u32,
    /// When its first span was stored (became visible), ms after the sink started.
    pub first_ms: u32,
}

/// The ID sets are split in shards by hash so that growing one rehashes 1/64 of the IDs:
/// at tens of millions of IDs a single set's resize would hold the lock (and every request)
/// for about a second, a pause the sink itself would add to the latencies being measured.
const SHARDS: usize = 64;

fn shard(h: u64) -> usize {
    (h.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58) as usize
}

struct Ids {
    traces: Vec<IdMap<u128, TraceEntry>>,
    spans: Vec<IdSet<u64>>,
    /// `--store-rate`: when the store is free to make the next span visible, ms after start.
    store_free_ms: f64,
}

impl Default for Ids {
    fn default() -> Self {
        Ids {
            traces: (0..SHARDS).map(|_| IdMap::default()).collect(),
            spans: (0..SHARDS).map(|_| IdSet::default()).collect(),
            store_free_ms: 0.0,
        }
    }
}

impl Ids {
    fn has_trace(&self, t: u128) -> bool {
        self.traces[shard(t as u64 ^ (t >> 64) as u64)].contains_key(&t)
    }
    fn trace(&mut self, t: u128, now_ms: u32) -> &mut TraceEntry {
        self.traces[shard(t as u64 ^ (t >> 64) as u64)]
            .entry(t)
            .or_insert(TraceEntry { first_ms: now_ms, ..Default::default() })
    }
    fn get_trace(&self, t: u128) -> Option<TraceEntry> {
        self.traces[shard(t as u64 ^ (t >> 64) as u64)].get(&t).copied()
    }
    /// False if the span ID was already there.
    fn insert_span(&mut self, s: u64) -> bool {
        self.spans[shard(s)].insert(s)
    }
    fn lens(&self) -> (u64, u64) {
        let n = |v: usize| v as u64;
        (n(self.traces.iter().map(HashMap::len).sum()), n(self.spans.iter().map(HashSet::len).sum()))
    }
}

/// What happened to the spans of an accepted request when they were recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Recorded {
    /// Spans counted as received.
    pub accepted: u64,
    /// Of those, spans whose span ID was seen before.
    pub duplicates: u64,
    /// Of those, spans acknowledged but never stored (`--drop-traces`).
    pub dropped: u64,
}

/// Shared counters of a running sink. Cheap to update from many connections at once.
pub struct SinkState {
    started: Instant,
    /// `started` on the wall clock, Unix ns.
    started_unix_ns: u128,
    requests: AtomicU64,
    by_status: Box<[AtomicU64]>,
    /// By [`Protocol`], in the order of `Protocol::ALL`.
    by_protocol: Box<[AtomicU64]>,
    by_grpc_code: Box<[AtomicU64]>,
    refused_by_status: Box<[AtomicU64]>,
    spans: AtomicU64,
    dropped_spans: AtomicU64,
    duplicates: AtomicU64,
    rejected_spans: AtomicU64,
    bytes_wire: AtomicU64,
    bytes_raw: AtomicU64,
    /// Unix ns of the first and last request (0: none yet).
    first_unix_ns: AtomicU64,
    last_unix_ns: AtomicU64,
    /// The first request's arrival on the monotonic clock (the stall is timed from it).
    first: std::sync::OnceLock<Instant>,
    /// Nanoseconds since `started` of the last arrival or answer, for `--until-idle`.
    last_activity_ns: AtomicU64,
    in_flight: AtomicU64,
    abandoned: AtomicU64,
    seq: AtomicU64,
    ids: Mutex<Ids>,
    /// `--store-rate` in spans a millisecond.
    store_per_ms: Option<f64>,
    fail: Box<[AtomicU64]>,
    rate_limited: AtomicU64,
    conflicts: AtomicU64,
    stalled: AtomicU64,
    delayed: AtomicU64,
    fail_statuses: Vec<u16>,
    stopped_by: Mutex<Option<String>>,
    capture: usize,
    /// The first `capture` requests, with their sequence numbers.
    captured: Mutex<Vec<(u64, Captured)>>,
    /// Woken whenever a request is answered, so stop conditions are checked promptly.
    pub(crate) answered: Notify,
    /// The open connections, under `--max-connections`.
    pub(crate) conns: Arc<Conns>,
    /// The bytes of bodies being read, under `--max-inflight-bytes`.
    pub(crate) budget: Budget,
    connections: AtomicU64,
    idle_closed: AtomicU64,
    header_timeouts: AtomicU64,
    evicted: AtomicU64,
    body_timeouts: AtomicU64,
    busy: AtomicU64,
}

fn counters(n: usize) -> Box<[AtomicU64]> {
    (0..n).map(|_| AtomicU64::new(0)).collect()
}

fn unix_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1).max(1)
}

impl SinkState {
    /// Fresh counters for a sink running `plan`.
    pub fn new(plan: &SinkPlan) -> Self {
        let fail_statuses: Vec<u16> = plan.faults.fail.iter().map(|(s, _)| *s).collect();
        SinkState {
            started: Instant::now(),
            started_unix_ns: u128::from(unix_ns()),
            requests: AtomicU64::new(0),
            by_status: counters(STATUS_SLOTS),
            by_protocol: counters(Protocol::ALL.len()),
            by_grpc_code: counters(GRPC_CODES),
            refused_by_status: counters(STATUS_SLOTS),
            spans: AtomicU64::new(0),
            dropped_spans: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            rejected_spans: AtomicU64::new(0),
            bytes_wire: AtomicU64::new(0),
            bytes_raw: AtomicU64::new(0),
            first_unix_ns: AtomicU64::new(0),
            last_unix_ns: AtomicU64::new(0),
            first: std::sync::OnceLock::new(),
            last_activity_ns: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            abandoned: AtomicU64::new(0),
            seq: AtomicU64::new(0),
            ids: Mutex::new(Ids::default()),
            store_per_ms: plan.faults.store_rate.map(|r| r / 1000.0),
            fail: counters(fail_statuses.len()),
            rate_limited: AtomicU64::new(0),
            conflicts: AtomicU64::new(0),
            stalled: AtomicU64::new(0),
            delayed: AtomicU64::new(0),
            fail_statuses,
            stopped_by: Mutex::new(None),
            capture: plan.capture,
            captured: Mutex::new(Vec::new()),
            answered: Notify::new(),
            conns: Conns::new(plan.limits),
            budget: Budget::new(plan.limits.max_inflight_bytes),
            connections: AtomicU64::new(0),
            idle_closed: AtomicU64::new(0),
            header_timeouts: AtomicU64::new(0),
            evicted: AtomicU64::new(0),
            body_timeouts: AtomicU64::new(0),
            busy: AtomicU64::new(0),
        }
    }

    /// A request arrived: returns its sequence number (arrival order, from 0) and the first
    /// request's arrival time.
    pub(crate) fn arrive(&self) -> (u64, Instant) {
        let now = Instant::now();
        let first = *self.first.get_or_init(|| now);
        let ns = unix_ns();
        let _ = self.first_unix_ns.compare_exchange(0, ns, Relaxed, Relaxed);
        self.last_unix_ns.fetch_max(ns, Relaxed);
        self.in_flight.fetch_add(1, Relaxed);
        self.touch();
        (self.seq.fetch_add(1, Relaxed), first)
    }

    fn touch(&self) {
        self.last_activity_ns.fetch_max(self.started.elapsed().as_nanos() as u64, Relaxed);
    }

    /// A request that came by `protocol` was answered with `status` (and gRPC `code`);
    /// `refused_spans` spans it carried were not taken.
    pub(crate) fn answer(&self, status: u16, refused_spans: u64, protocol: Protocol, code: Option<tonic::Code>) {
        let slot = usize::from(status).min(STATUS_SLOTS - 1);
        self.requests.fetch_add(1, Relaxed);
        self.by_status[slot].fetch_add(1, Relaxed);
        self.by_protocol[protocol as usize].fetch_add(1, Relaxed);
        if let Some(c) = code {
            self.by_grpc_code[(c as usize).min(GRPC_CODES - 1)].fetch_add(1, Relaxed);
        }
        if refused_spans > 0 {
            self.refused_by_status[slot].fetch_add(refused_spans, Relaxed);
        }
        self.touch();
        self.answered.notify_waiters();
    }

    /// A request left, answered or abandoned by its client; pairs with [`Self::arrive`].
    pub(crate) fn leave(&self, answered: bool) {
        if !answered {
            self.abandoned.fetch_add(1, Relaxed);
        }
        self.touch();
        self.in_flight.fetch_sub(1, Relaxed);
    }

    pub(crate) fn add_bytes(&self, wire: u64, raw: u64) {
        self.bytes_wire.fetch_add(wire, Relaxed);
        self.bytes_raw.fetch_add(raw, Relaxed);
    }

    /// Records the spans of a request that is being accepted, skipping those for which
    /// `reject` (called once per span, in order) says yes. With `conflict` set, a request
    /// carrying a trace ID already recorded is refused (`None`) and nothing of it is recorded.
    /// Spans of traces `drop` says yes to are accepted but not stored (a silent loss).
    pub(crate) fn record(
        &self,
        keys: &[SpanKey],
        conflict: bool,
        mut reject: impl FnMut() -> bool,
        drop_trace: impl Fn(u128) -> bool,
    ) -> Option<Recorded> {
        let now_ms = u32::try_from(self.started.elapsed().as_millis()).unwrap_or(u32::MAX);
        let mut ids = self.ids.lock().expect("ID sets lock");
        if conflict && keys.iter().any(|k| ids.has_trace(k.trace)) {
            return None;
        }
        let mut r = Recorded::default();
        for k in keys {
            if reject() {
                continue;
            }
            r.accepted += 1;
            if drop_trace(k.trace) {
                r.dropped += 1;
                continue;
            }
            let fresh = ids.insert_span(k.span);
            let visible_ms = match self.store_per_ms {
                // One span at a time at the store's rate, after those before it.
                Some(per_ms) => {
                    ids.store_free_ms = ids.store_free_ms.max(f64::from(now_ms)) + 1.0 / per_ms;
                    ids.store_free_ms.min(f64::from(u32::MAX)) as u32
                }
                None => now_ms,
            };
            let t = ids.trace(k.trace, visible_ms);
            t.rows = t.rows.saturating_add(1);
            if fresh {
                t.spans = t.spans.saturating_add(1);
            } else {
                r.duplicates += 1;
            }
        }
        drop(ids);
        self.spans.fetch_add(r.accepted, Relaxed);
        self.dropped_spans.fetch_add(r.dropped, Relaxed);
        self.duplicates.fetch_add(r.duplicates, Relaxed);
        self.rejected_spans.fetch_add(keys.len() as u64 - r.accepted, Relaxed);
        Some(r)
    }

    pub(crate) fn count_fail(&self, index: usize) {
        self.fail[index].fetch_add(1, Relaxed);
    }
    pub(crate) fn count_rate_limited(&self) {
        self.rate_limited.fetch_add(1, Relaxed);
    }
    pub(crate) fn count_conflict(&self) {
        self.conflicts.fetch_add(1, Relaxed);
    }
    pub(crate) fn count_stalled(&self) {
        self.stalled.fetch_add(1, Relaxed);
    }
    pub(crate) fn count_delayed(&self) {
        self.delayed.fetch_add(1, Relaxed);
    }
    pub(crate) fn count_connection(&self) {
        self.connections.fetch_add(1, Relaxed);
    }
    pub(crate) fn count_idle_closed(&self) {
        self.idle_closed.fetch_add(1, Relaxed);
    }
    pub(crate) fn count_header_timeout(&self) {
        self.header_timeouts.fetch_add(1, Relaxed);
    }
    pub(crate) fn count_evicted(&self) {
        self.evicted.fetch_add(1, Relaxed);
    }
    pub(crate) fn count_body_timeout(&self) {
        self.body_timeouts.fetch_add(1, Relaxed);
    }
    pub(crate) fn count_busy(&self) {
        self.busy.fetch_add(1, Relaxed);
    }

    /// Spans counted as received so far.
    pub fn spans(&self) -> u64 {
        self.spans.load(Relaxed)
    }

    /// Requests answered so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Relaxed)
    }

    /// How long nothing has happened (no arrival, no answer, none in flight); `None` before
    /// the first request.
    pub fn idle_for(&self) -> Option<Duration> {
        self.first.get()?;
        if self.in_flight.load(Relaxed) > 0 {
            return Some(Duration::ZERO);
        }
        let last = Duration::from_nanos(self.last_activity_ns.load(Relaxed));
        Some(self.started.elapsed().saturating_sub(last))
    }

    /// Notes why the sink stopped (the first reason given wins).
    pub fn set_stopped_by(&self, why: &str) {
        self.stopped_by.lock().expect("stop reason lock").get_or_insert_with(|| why.to_string());
    }

    /// Whether request `seq` is among those to capture.
    pub(crate) fn wants_capture(&self, seq: u64) -> bool {
        seq < self.capture as u64
    }

    pub(crate) fn capture(&self, seq: u64, c: Captured) {
        self.captured.lock().expect("capture lock").push((seq, c));
    }

    /// The captured requests in arrival order.
    pub fn captured(&self) -> Vec<Captured> {
        let mut v = self.captured.lock().expect("capture lock").clone();
        v.sort_by_key(|(seq, _)| *seq);
        v.into_iter().map(|(_, c)| c).collect()
    }

    /// What was stored of trace `t`, and the Unix ms its first span was stored at.
    pub fn stored_trace(&self, t: u128) -> Option<(TraceEntry, u64)> {
        let e = self.ids.lock().expect("ID sets lock").get_trace(t)?;
        // Under `--store-rate`, a trace is found once the store has reached it.
        let now_ms = u32::try_from(self.started.elapsed().as_millis()).unwrap_or(u32::MAX);
        if e.first_ms > now_ms {
            return None;
        }
        let started_unix_ms = (self.started_unix_ns / 1_000_000) as u64;
        Some((e, started_unix_ms + u64::from(e.first_ms)))
    }

    /// A snapshot of the counters.
    pub fn summary(&self) -> Summary {
        let by_status = |c: &[AtomicU64]| -> BTreeMap<u16, u64> {
            c.iter()
                .enumerate()
                .filter_map(|(code, n)| Some((code as u16, n.load(Relaxed))).filter(|(_, n)| *n > 0))
                .collect()
        };
        let (unique_traces, unique_spans) = { self.ids.lock().expect("ID sets lock").lens() };
        let time = |ns: u64| {
            (ns > 0).then(|| humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_nanos(ns)).to_string())
        };
        let (first, last) = (self.first_unix_ns.load(Relaxed), self.last_unix_ns.load(Relaxed));
        let refused_spans_by_status = by_status(&self.refused_by_status);
        let mut fail = BTreeMap::new();
        for (status, n) in self.fail_statuses.iter().zip(self.fail.iter()) {
            *fail.entry(*status).or_insert(0) += n.load(Relaxed);
        }
        let by_protocol = Protocol::ALL
            .iter()
            .zip(self.by_protocol.iter())
            .map(|(p, n)| (p.name().to_string(), n.load(Relaxed)))
            .filter(|(_, n)| *n > 0)
            .collect();
        let by_code = self
            .by_grpc_code
            .iter()
            .enumerate()
            .map(|(c, n)| (crate::grpc::code_name(tonic::Code::from_i32(c as i32)).to_string(), n.load(Relaxed)))
            .filter(|(_, n)| *n > 0)
            .collect();
        Summary {
            requests: self.requests.load(Relaxed),
            requests_by_status: by_status(&self.by_status),
            requests_by_protocol: by_protocol,
            grpc_requests_by_code: by_code,
            abandoned: self.abandoned.load(Relaxed),
            spans: self.spans.load(Relaxed),
            unique_traces,
            unique_spans,
            duplicate_span_ids: self.duplicates.load(Relaxed),
            dropped_spans: self.dropped_spans.load(Relaxed),
            rejected_spans: self.rejected_spans.load(Relaxed),
            refused_spans: refused_spans_by_status.values().sum(),
            refused_spans_by_status,
            bytes_wire: self.bytes_wire.load(Relaxed),
            bytes_raw: self.bytes_raw.load(Relaxed),
            seconds: self.started.elapsed().as_secs_f64(),
            active_seconds: (last.saturating_sub(first)) as f64 / 1e9,
            first_request: time(first),
            last_request: time(last),
            faults: FaultCounts {
                fail,
                rate_limit: self.rate_limited.load(Relaxed),
                conflict: self.conflicts.load(Relaxed),
                stall: self.stalled.load(Relaxed),
                latency: self.delayed.load(Relaxed),
                reject_spans: self.rejected_spans.load(Relaxed),
            },
            limits: LimitCounts {
                connections: self.connections.load(Relaxed),
                connections_peak: self.conns.peak() as u64,
                idle_closed: self.idle_closed.load(Relaxed),
                header_timeouts: self.header_timeouts.load(Relaxed),
                evicted: self.evicted.load(Relaxed),
                body_timeouts: self.body_timeouts.load(Relaxed),
                busy: self.busy.load(Relaxed),
                body_bytes_peak: self.budget.peak(),
            },
            stopped_by: self.stopped_by.lock().expect("stop reason lock").clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::sink::faults::Faults;

    fn state(fail: &[u16]) -> SinkState {
        let faults = Faults { fail: fail.iter().map(|s| (*s, 0.1)).collect(), ..Default::default() };
        SinkState::new(&SinkPlan { faults, ..Default::default() })
    }

    fn key(t: u8, s: u8) -> SpanKey {
        SpanKey { trace: u128::from(t), span: u64::from(s) }
    }

    #[test]
    fn counts_unique_and_duplicate_ids() {
        let st = state(&[]);
        let r = st.record(&[key(1, 1), key(1, 2), key(1, 2)], false, || false, |_| false).unwrap();
        assert_eq!(r, Recorded { accepted: 3, duplicates: 1, dropped: 0 });
        let mut second = [false, true].into_iter();
        let r = st.record(&[key(2, 1), key(2, 3)], false, || second.next().unwrap(), |_| false).unwrap();
        assert_eq!(r, Recorded { accepted: 1, duplicates: 1, dropped: 0 });
        let s = st.summary();
        assert_eq!((s.spans, s.unique_traces, s.unique_spans, s.duplicate_span_ids), (4, 2, 2, 2));
        assert_eq!(s.rejected_spans, 1);
    }

    #[test]
    fn sharded_sets_count_like_one_set() {
        let st = state(&[]);
        let keys: Vec<SpanKey> =
            (0..10_000u64).map(|i| SpanKey { trace: u128::from(i / 10) << 64 | 1, span: i % 7000 }).collect();
        let r = st.record(&keys, false, || false, |_| false).unwrap();
        assert_eq!(r, Recorded { accepted: 10_000, duplicates: 3000, dropped: 0 });
        let s = st.summary();
        assert_eq!((s.unique_traces, s.unique_spans), (1000, 7000));
    }

    #[test]
    fn conflict_refuses_a_known_trace_and_records_nothing() {
        let st = state(&[]);
        st.record(&[key(1, 1)], true, || false, |_| false).unwrap();
        assert_eq!(st.record(&[key(2, 2), key(1, 3)], true, || false, |_| false), None);
        // Trace 2 was not recorded by the refused request.
        assert!(st.record(&[key(2, 4)], true, || false, |_| false).is_some());
        assert_eq!(st.summary().spans, 2);
    }

    #[test]
    fn statuses_refusals_and_idle_time() {
        let st = state(&[429, 503]);
        assert_eq!(st.idle_for(), None);
        let (seq, _) = st.arrive();
        assert_eq!(seq, 0);
        assert_eq!(st.idle_for(), Some(Duration::ZERO), "in flight");
        st.count_fail(1);
        st.answer(503, 7, Protocol::Grpc, Some(tonic::Code::Unavailable));
        st.leave(true);
        let _ = st.arrive();
        st.leave(false);
        assert!(st.idle_for().is_some());
        let s = st.summary();
        assert_eq!(s.requests_by_status, BTreeMap::from([(503, 1)]));
        assert_eq!(s.requests_by_protocol, BTreeMap::from([("grpc".to_string(), 1)]));
        assert_eq!(s.grpc_requests_by_code, BTreeMap::from([("UNAVAILABLE".to_string(), 1)]));
        assert_eq!((s.requests, s.abandoned), (1, 1));
        assert_eq!(s.refused_spans_by_status, BTreeMap::from([(503, 7)]));
        assert_eq!(s.refused_spans, 7);
        assert_eq!(s.faults.fail, BTreeMap::from([(429, 0), (503, 1)]));
        assert!(s.first_request.is_some() && s.first_request == s.last_request);
    }
}
