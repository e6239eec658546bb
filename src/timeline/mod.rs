//! `gen --shape sdk`: the export timeline of an instrumented application.
//!
//! A real agent application does not send one whole trace per request: each service
//! instance's BatchSpanProcessor exports spans as they *end*, in batches, mixing the spans of
//! every concurrent session, so children arrive before their parents and a long trace arrives
//! in pieces over several requests. This module simulates that: sessions (traces synthesized as
//! for any corpus) start as an arrival process ([`arrival`]); each service instance (one per
//! distinct resource) has its own simulated processor ([`bsp`]); every export becomes one
//! record, stamped with the time it is sent.
//!
//! Synthesis and encoding run in parallel, a wave of sessions at a time ([`session`]); the
//! simulation runs in order on one thread, in virtual time. After a wave it advances only up
//! to the earliest time a session not yet synthesized could start (every later span ends after
//! it), so what it emits does not depend on wave sizes or thread counts, and a longer corpus's
//! timeline begins with a shorter one's. Memory holds the sessions whose spans are still
//! queued, not the corpus.

pub mod arrival;
pub mod bsp;
pub mod session;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::Ordering;

use rayon::prelude::*;

use crate::corpus::format::TimelineMeta;
use crate::corpus::index::MAX_OFFSET_NS;
use crate::encode::{self, Group, Header, MIXED_SCENARIO, RecordMeta, TooSmall};
use crate::generate::{GenError, GenPlan, GenProgress, Lease, WorkerState};
use crate::synth::{EPOCH_NS, Synth};
pub use arrival::{Arrival, Starts};
pub use bsp::{Bsp, BspConfig};
use session::Session;

/// How `gen --shape sdk` lays out the timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelinePlan {
    /// When sessions start.
    pub arrival: Arrival,
    /// Every instance's processor.
    pub bsp: BspConfig,
}

/// A span waiting in a processor: (session, span position).
type Item = (u64, u32);

/// One service instance: what it sends with every export, and its processor.
struct Instance {
    header: Header,
    service: String,
    bsp: Bsp<Item>,
}

/// A session whose spans are not all exported or dropped yet.
struct Live {
    session: Session,
    /// Its start on the timeline, ns.
    start: u64,
    /// Instance of each of its resources.
    instances: Vec<usize>,
    /// Spans not yet exported or dropped.
    left: usize,
}

/// The simulated application: sessions, instances, and the exports made so far.
struct Simulator {
    bsp: BspConfig,
    seed: u64,
    max_request: usize,
    starts: Starts,
    live: HashMap<u64, Live>,
    /// Span ends to come: (time, session, span position); one per live session at most.
    ends: BinaryHeap<Reverse<(u64, u64, u32)>>,
    instances: Vec<Instance>,
    by_header: HashMap<Header, usize>,
    /// Exports not yet handed to the writer.
    out: Vec<Group>,
    last_export: u64,
    dropped_roots: u64,
}

impl Simulator {
    fn new(plan: &GenPlan, tl: &TimelinePlan) -> Simulator {
        Simulator {
            bsp: tl.bsp,
            max_request: plan.max_request_bytes,
            starts: Starts::new(tl.arrival, plan.seed),
            seed: plan.seed,
            live: HashMap::new(),
            ends: BinaryHeap::new(),
            instances: Vec::new(),
            by_header: HashMap::new(),
            out: Vec::new(),
            last_export: 0,
            dropped_roots: 0,
        }
    }

    /// Starts the next session (sessions come in index order); refused past the longest
    /// timeline an index holds (which also keeps `EPOCH_NS + start` from overflowing).
    fn add(&mut self, mut session: Session) -> Result<(), GenError> {
        let start = self.starts.next(session.duration);
        if start > MAX_OFFSET_NS {
            return Err(GenError::TimelineTooLong {
                what: format!("session {} would start", session.index),
                at_ns: start,
            });
        }
        session.start_at(EPOCH_NS + start);
        let instances = session
            .headers
            .iter()
            .zip(&session.services)
            .map(|(h, service)| {
                *self.by_header.entry(h.clone()).or_insert_with(|| {
                    self.instances.push(Instance {
                        header: h.clone(),
                        service: service.clone(),
                        bsp: Bsp::new(self.bsp, first_tick(self.seed, self.instances.len(), self.bsp.delay_ns)),
                    });
                    self.instances.len() - 1
                })
            })
            .collect();
        if let Some(first) = session.spans.first() {
            self.ends.push(Reverse((start + first.end, session.index, 0)));
        }
        let left = session.spans.len();
        if left > 0 {
            self.live.insert(session.index, Live { session, start, instances, left });
        }
        Ok(())
    }

    /// Runs every span end and export before `horizon` (spans first when they tie).
    fn run_until(&mut self, horizon: u64) -> Result<(), GenError> {
        loop {
            let span = self.ends.peek().map(|Reverse(e)| *e).filter(|e| e.0 < horizon);
            let export = (0..self.instances.len())
                .filter_map(|k| self.instances[k].bsp.next_export().map(|t| (t, k)))
                .min()
                .filter(|e| e.0 < horizon);
            match (span, export) {
                (Some(s), e) if e.is_none_or(|e| s.0 <= e.0) => self.end_span(s),
                (_, Some((t, k))) => self.export(t, k)?,
                _ => return Ok(()),
            }
        }
    }

    /// Span `pos` of session `j` ends at `t`: into its instance's queue, or dropped.
    fn end_span(&mut self, (t, j, pos): (u64, u64, u32)) {
        self.ends.pop();
        let live = self.live.get_mut(&j).expect("a queued end has its session");
        let span = live.session.spans[pos as usize];
        let k = live.instances[usize::from(span.resource)];
        if let Some(next) = live.session.spans.get(pos as usize + 1) {
            self.ends.push(Reverse((live.start + next.end, j, pos + 1)));
        }
        if !self.instances[k].bsp.end(t, (j, pos)) {
            self.dropped_roots += u64::from(span.root);
            self.done_with(j, 1);
        }
    }

    /// One fewer span of session `j` is pending (`n` of them).
    fn done_with(&mut self, j: u64, n: usize) {
        let live = self.live.get_mut(&j).expect("pending spans have their session");
        live.left -= n;
        if live.left == 0 {
            self.live.remove(&j);
        }
    }

    /// Instance `k` exports at `t`: one record, or several if it exceeds `--max-request-bytes`.
    fn export(&mut self, t: u64, k: usize) -> Result<(), GenError> {
        if t > MAX_OFFSET_NS {
            return Err(GenError::TimelineTooLong { what: "an export would go out".into(), at_ns: t });
        }
        let mut items = Vec::new();
        self.instances[k].bsp.export(t, &mut items);
        self.last_export = t;
        let overhead = encode::export_overhead(&self.instances[k].header);
        let mut group = Group::default();
        let bytes: usize = items.iter().map(|(j, pos)| self.live[j].session.spans[*pos as usize].len as usize).sum();
        group.bytes.reserve(bytes + (overhead + 10) * (1 + bytes / self.max_request));
        let mut chunk: Vec<Item> = Vec::new();
        let mut size = overhead;
        for &(j, pos) in &items {
            let len = self.live[&j].session.spans[pos as usize].len as usize;
            if overhead + len > self.max_request {
                let e = TooSmall { max: self.max_request, trace: j, span: pos as usize, need: overhead + len };
                return Err(e.into());
            }
            if size + len > self.max_request {
                self.record(&mut group, k, t, &chunk);
                chunk.clear();
                size = overhead;
            }
            size += len;
            chunk.push((j, pos));
        }
        if !chunk.is_empty() {
            self.record(&mut group, k, t, &chunk);
        }
        for (j, _) in items {
            self.done_with(j, 1);
        }
        self.out.push(group);
        Ok(())
    }

    /// Appends to `group` the record of `chunk`, sent at `t` by instance `k`.
    fn record(&self, group: &mut Group, k: usize, t: u64, chunk: &[Item]) {
        let spans: Vec<&[u8]> = chunk.iter().map(|&(j, pos)| self.live[&j].session.span_bytes(pos as usize)).collect();
        let len = encode::export_request(&mut group.bytes, &self.instances[k].header, &spans) as u32;
        let mut meta = RecordMeta { len, spans: chunk.len() as u32, traces: 0, scenario: 0, offset_ns: t };
        let mut seen: Vec<u8> = Vec::new();
        for &(j, pos) in chunk {
            let s = &self.live[&j].session;
            let span = s.spans[pos as usize];
            meta.traces += u16::from(span.root);
            if !seen.contains(&s.scenario) {
                seen.push(s.scenario);
            }
            let c = group.counts(s.scenario);
            c.spans += 1;
            c.traces += u64::from(span.root);
            c.raw_bytes += u64::from(span.len);
        }
        meta.scenario = if seen.len() == 1 { seen[0] } else { MIXED_SCENARIO };
        for s in seen {
            group.counts(s).records += 1;
        }
        group.records.push(meta);
        group.traces += u32::from(meta.traces);
    }
}

/// Feeds `gen`'s writer: one wave of sessions per call, then the exports it made.
pub struct Waves<'a, 's> {
    plan: &'a GenPlan,
    tl: &'a TimelinePlan,
    synth: &'a Synth<'s>,
    progress: &'a GenProgress,
    sim: Simulator,
    next: u64,
    wave: u64,
    tokens: u64,
    done: bool,
}

impl<'a, 's> Waves<'a, 's> {
    /// The timeline of `plan`'s sessions.
    pub fn new(plan: &'a GenPlan, tl: &'a TimelinePlan, synth: &'a Synth<'s>, progress: &'a GenProgress) -> Self {
        let wave = plan.threads.max(1) as u64 * 4;
        Waves { plan, tl, synth, progress, sim: Simulator::new(plan, tl), next: 0, wave, tokens: 0, done: false }
    }

    /// The exports up to the next wave's horizon (all of them after the last wave); `None`
    /// when done.
    pub(crate) fn next(&mut self, workers: &Mutex<Vec<WorkerState<'s>>>) -> Result<Option<Vec<Group>>, GenError> {
        if self.done {
            return Ok(None);
        }
        let end = (self.next + self.wave).min(self.plan.count);
        let sessions = self.synthesize(self.next..end, workers);
        let bytes: usize = sessions.iter().map(|s| s.bytes.len()).sum();
        // About four frames of spans per thread a wave.
        let avg = (bytes / sessions.len().max(1)).max(1);
        self.wave = ((encode_target(self.plan) / avg) as u64).clamp(self.plan.threads.max(1) as u64, 10_000);
        for s in sessions {
            self.tokens += s.tokens;
            self.sim.add(s)?;
        }
        self.next = end;
        let horizon = if end == self.plan.count {
            self.done = true;
            u64::MAX
        } else {
            self.sim.starts.horizon()
        };
        self.sim.run_until(horizon)?;
        let mut groups = std::mem::take(&mut self.sim.out);
        if let Some(g) = groups.first_mut() {
            g.tokens = std::mem::take(&mut self.tokens);
        }
        Ok(Some(groups))
    }

    /// Synthesizes and encodes sessions `range` in parallel, in order.
    fn synthesize(&self, range: std::ops::Range<u64>, workers: &Mutex<Vec<WorkerState<'s>>>) -> Vec<Session> {
        let sessions: Vec<Session> = range
            .into_par_iter()
            .map_init(
                || Lease::new(workers),
                |lease, j| {
                    let st = lease.get();
                    st.traces.resize_with(st.traces.len().max(1), Default::default);
                    self.synth.trace(j, &mut st.traces[0]);
                    Session::from_trace(&st.traces[0], j, &mut st.scratch)
                },
            )
            .collect();
        self.progress.traces.fetch_add(sessions.len() as u64, Ordering::Relaxed);
        let bytes: usize = sessions.iter().map(|s| s.bytes.len()).sum();
        self.progress.raw_bytes.fetch_add(bytes as u64, Ordering::Relaxed);
        sessions
    }

    /// What the corpus metadata says about the timeline.
    pub fn finish(self) -> TimelineMeta {
        let mut dropped_by_service: BTreeMap<String, u64> = BTreeMap::new();
        for i in &self.sim.instances {
            if i.bsp.dropped > 0 {
                *dropped_by_service.entry(i.service.clone()).or_default() += i.bsp.dropped;
            }
        }
        let b = self.tl.bsp;
        TimelineMeta {
            sessions: self.plan.count,
            arrival: self.tl.arrival.describe(),
            bsp_batch: b.batch as u32,
            bsp_queue: b.queue as u32,
            bsp_delay_ms: b.delay_ns / 1_000_000,
            bsp_export_ms: b.export_ns / 1_000_000,
            instances: self.sim.instances.len() as u32,
            dropped_spans: dropped_by_service.values().sum(),
            dropped_by_service,
            dropped_roots: self.sim.dropped_roots,
            length_ns: self.sim.last_export + b.delay_ns.max(1),
        }
    }
}

/// When instance `k`'s worker first wakes: in `(0, delay]`, drawn from the seed. The instances'
/// processes started at different times, so their schedules are out of phase; on one grid every
/// instance would export at the same instants, a burst no real fleet makes.
fn first_tick(seed: u64, k: usize, delay_ns: u64) -> u64 {
    // Streams counted down from below the arrival gaps' (u64::MAX): never a trace's.
    let mut rng = crate::synth::TraceRng::for_trace(seed, u64::MAX - 1 - k as u64);
    1 + rng.u64() % delay_ns.max(1)
}

/// Bytes of spans a wave aims at: about four frames per thread.
fn encode_target(plan: &GenPlan) -> usize {
    crate::corpus::format::FRAME_TARGET * 4 * plan.threads.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(dir: &std::path::Path) -> GenPlan {
        GenPlan { seed: 1, ..GenPlan::for_tests("simple_query=1", 1, &dir.join("c.zst")) }
    }

    #[test]
    fn instances_wake_out_of_phase_within_one_delay() {
        let delay = 5_000_000_000;
        let ticks: Vec<u64> = (0..9).map(|k| first_tick(42, k, delay)).collect();
        assert!(ticks.iter().all(|&t| (1..=delay).contains(&t)), "{ticks:?}");
        let distinct: std::collections::HashSet<_> = ticks.iter().collect();
        assert_eq!(distinct.len(), ticks.len(), "{ticks:?}");
        assert_eq!(ticks, (0..9).map(|k| first_tick(42, k, delay)).collect::<Vec<_>>(), "the same for the seed");
    }

    #[test]
    fn a_timeline_longer_than_an_index_may_hold_is_refused_while_generating() {
        let dir = tempfile::tempdir().unwrap();
        let plan = plan(dir.path());
        let synth = Synth::new(&plan.set, &plan.mix, plan.seed);
        let mut t = crate::synth::Trace::default();
        synth.trace(0, &mut t);
        // 0.001 sessions a second: a year of sessions is about 31,600 of them.
        let tl = TimelinePlan { arrival: Arrival::Rate(0.001), bsp: BspConfig::default() };
        let mut sim = Simulator::new(&plan, &tl);
        let mut refused = None;
        for j in 0..100_000u64 {
            if let Err(e) =
                sim.add(Session::from_trace(&t, j, &mut Vec::new())).and_then(|()| sim.run_until(sim.starts.horizon()))
            {
                refused = Some((j, e));
                break;
            }
        }
        let (j, e) = refused.expect("a timeline of 100,000 sessions at 0.001/s lasts three years");
        assert!((25_000..40_000).contains(&j), "refused at session {j}");
        let msg = e.to_string();
        assert!(msg.contains(&format!("session {j} would start")) && msg.contains("--count"), "{msg}");
        assert!(sim.out.iter().flat_map(|g| &g.records).all(|r| r.offset_ns <= MAX_OFFSET_NS));
    }
}
