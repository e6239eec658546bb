//! The `gen` pipeline: synthesize → encode → compress → write, in parallel, in order.
//!
//! Work proceeds in *waves*. A wave synthesizes and encodes a batch of request groups in
//! parallel (rayon, one reusable `Trace` per worker), cuts the encoded records into frames of
//! about [`FRAME_TARGET`] raw bytes in corpus order, compresses the complete frames in
//! parallel, and appends them to the file; an unfinished frame carries over to the next wave.
//! Memory is bounded by one wave (tens of MB) whatever `--count` is, and the output depends
//! only on the inputs, never on thread count or timing: group *k* is always traces
//! `[k·N, (k+1)·N)`, frames are cut by size in order, and every trace has its own RNG stream.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rayon::prelude::*;

use crate::corpus::format::{FORMAT_VERSION, FRAME_TARGET, Meta, Totals};
use crate::corpus::writer::compress_frame;
use crate::corpus::{CorpusWriter, Index};
use crate::encode::{Group, RecordMeta, TooSmall, encode_group};
use crate::scenario::{Mix, ScenarioSet};
use crate::synth::{EPOCH_NS, GENERATOR_VERSION, Synth, Trace};

/// A validated `gen` invocation.
#[derive(Debug, Clone)]
pub struct GenPlan {
    /// Scenarios available.
    pub set: ScenarioSet,
    /// The mix.
    pub mix: Mix,
    /// The seed.
    pub seed: u64,
    /// Traces in the whole corpus.
    pub count: u64,
    /// `(k, n)`: write only shard k (0-based) of n.
    pub shard: Option<(u64, u64)>,
    /// Traces per request group.
    pub traces_per_request: u32,
    /// Largest record body.
    pub max_request_bytes: usize,
    /// zstd level.
    pub level: i32,
    /// The GenAI semantic conventions the traces follow.
    pub semconv: crate::synth::Semconv,
    /// Worker threads.
    pub threads: usize,
    /// Output file.
    pub output: crate::output::Output,
    /// Whole traces per request, or an SDK's export timeline.
    pub shape: Shape,
}

/// What a record holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    /// Whole traces (`--traces-per-request` of them).
    Traces,
    /// What an instrumented application's BatchSpanProcessors export, when (`--shape sdk`).
    Sdk(crate::timeline::TimelinePlan),
}

impl GenPlan {
    /// Request groups in the whole corpus.
    pub fn groups(&self) -> u64 {
        self.count.div_ceil(u64::from(self.traces_per_request))
    }

    /// The range of groups this invocation writes (all of them, or the shard's slice).
    pub fn group_range(&self) -> std::ops::Range<u64> {
        let g = self.groups();
        match self.shard {
            None => 0..g,
            Some((k, n)) => shard_range(g, k, n),
        }
    }

    /// The range of trace indexes this invocation writes.
    pub fn trace_range(&self) -> std::ops::Range<u64> {
        let n = u64::from(self.traces_per_request);
        let g = self.group_range();
        (g.start * n).min(self.count)..(g.end * n).min(self.count)
    }
}

#[cfg(test)]
impl GenPlan {
    /// A plan for tests: the built-in scenarios in `mix`, seed 42, `count` traces of whole
    /// traces, level 1, one thread, into `output`.
    pub(crate) fn for_tests(mix: &str, count: u64, output: &std::path::Path) -> GenPlan {
        let set = ScenarioSet::builtin();
        GenPlan {
            mix: Mix::parse(mix, &set).expect("a valid test mix"),
            set,
            seed: 42,
            count,
            shard: None,
            traces_per_request: 1,
            max_request_bytes: 4 << 20,
            level: 1,
            semconv: Default::default(),
            threads: 1,
            output: crate::output::Output::check(output).expect("a writable test output"),
            shape: Shape::Traces,
        }
    }
}

/// Slice `k` of `n` of `0..total`, as even as possible (earlier slices take the remainder).
pub fn shard_range(total: u64, k: u64, n: u64) -> std::ops::Range<u64> {
    let base = total / n;
    let extra = total % n;
    let start = k * base + k.min(extra);
    let len = base + u64::from(k < extra);
    start..start + len
}

/// Live counters for a progress display.
#[derive(Debug, Default)]
pub struct GenProgress {
    /// Traces done.
    pub traces: AtomicU64,
    /// Raw bytes encoded.
    pub raw_bytes: AtomicU64,
    /// Set to stop between waves (an interrupt): `run` returns `GenError::Interrupted` and the
    /// temporary file is deleted.
    pub stop: std::sync::atomic::AtomicBool,
}

/// What `gen` did.
#[derive(Debug, Clone)]
pub struct GenSummary {
    /// The index as written.
    pub meta: Meta,
    /// File size.
    pub file_bytes: u64,
    /// Wall time.
    pub seconds: f64,
    /// Per-scenario (records, traces, spans, raw bytes) — from the record table.
    pub per_scenario: Vec<(String, ScenarioTotals)>,
}

/// Per-scenario totals.
pub type ScenarioTotals = crate::encode::ScenarioCounts;

/// Per-scenario totals of an index: counted per trace when gen recorded them (corpora whose
/// requests mix scenarios), else from the record table (exact when no record is mixed).
pub fn scenario_totals(index: &Index) -> Vec<(String, ScenarioTotals)> {
    if let Some(per) = &index.meta.per_scenario {
        return per.iter().map(|(k, v)| (k.clone(), *v)).collect();
    }
    let names = &index.meta.scenarios;
    let mut acc = vec![ScenarioTotals::default(); names.len() + 1];
    let r = &index.records;
    for i in 0..r.len() {
        let m = r.get(i);
        let slot = if (m.scenario as usize) < names.len() { m.scenario as usize } else { names.len() };
        let a = &mut acc[slot];
        a.records += 1;
        a.traces += u64::from(m.traces);
        a.spans += u64::from(m.spans);
        a.raw_bytes += u64::from(m.len);
    }
    names.iter().cloned().chain(std::iter::once("mixed".to_string())).zip(acc).filter(|(_, t)| t.records > 0).collect()
}

/// An error while generating.
#[derive(Debug, thiserror::Error)]
pub enum GenError {
    /// A trace could not be fit into `--max-request-bytes`.
    #[error(transparent)]
    TooSmall(#[from] TooSmall),
    /// `--shape sdk`: the timeline would outlast what a corpus index may hold.
    #[error(
        "--shape sdk: {what} {:.0} days into the timeline, past the {} days a timeline may last: lower --count, or raise --sessions-per-second or --concurrency",
        *at_ns as f64 / 86_400e9,
        crate::corpus::index::MAX_OFFSET_NS / 86_400_000_000_000
    )]
    TimelineTooLong {
        /// What falls too late (`session 31671 would start`).
        what: String,
        /// When, ns from the timeline's start.
        at_ns: u64,
    },
    /// Writing failed.
    #[error(transparent)]
    Write(#[from] crate::corpus::WriteError),
    /// Compression failed.
    #[error("compression failed: {0}")]
    Compress(std::io::Error),
    /// Stopped by an interrupt; nothing was written.
    #[error("interrupted: no corpus written")]
    Interrupted,
    /// The thread pool could not start.
    #[error("cannot start {threads} worker threads: {message}")]
    Threads {
        /// Requested threads.
        threads: usize,
        /// Why.
        message: String,
    },
}

/// Synthesizes and encodes group `g` of the corpus into `out`.
pub fn build_group<'s>(
    plan: &GenPlan,
    synth: &Synth<'s>,
    g: u64,
    traces: &mut Vec<Trace<'s>>,
    out: &mut Group,
    scratch: &mut Vec<u8>,
) -> Result<(), TooSmall> {
    let n = u64::from(plan.traces_per_request);
    let first = g * n;
    let last = ((g + 1) * n).min(plan.count);
    let k = (last - first) as usize;
    traces.resize_with(k.max(traces.len()), Trace::default);
    for (j, t) in traces.iter_mut().take(k).enumerate() {
        synth.trace(first + j as u64, t);
    }
    encode_group(&traces[..k], first, plan.max_request_bytes, out, scratch)
}

/// What one worker reuses from trace to trace (a complex trace's text arena is megabytes).
#[derive(Default)]
pub(crate) struct WorkerState<'s> {
    pub(crate) traces: Vec<Trace<'s>>,
    pub(crate) scratch: Vec<u8>,
}

/// A worker state borrowed for one rayon job; returned to the pool when the job ends.
pub(crate) struct Lease<'a, 's> {
    pool: &'a Mutex<Vec<WorkerState<'s>>>,
    state: Option<WorkerState<'s>>,
}

impl<'a, 's> Lease<'a, 's> {
    /// Borrows a state from `pool` (a new one when none is free).
    pub(crate) fn new(pool: &'a Mutex<Vec<WorkerState<'s>>>) -> Self {
        Lease { pool, state: Some(pool.lock().expect("not poisoned").pop().unwrap_or_default()) }
    }

    /// The borrowed state.
    pub(crate) fn get(&mut self) -> &mut WorkerState<'s> {
        self.state.as_mut().expect("leased")
    }
}

impl Drop for Lease<'_, '_> {
    fn drop(&mut self) {
        if let Some(s) = self.state.take() {
            self.pool.lock().expect("not poisoned").push(s);
        }
    }
}

/// Synthesizes and encodes groups `range` in parallel, in order.
fn build_wave<'s>(
    plan: &GenPlan,
    synth: &Synth<'s>,
    range: std::ops::Range<u64>,
    progress: &GenProgress,
    workers: &Mutex<Vec<WorkerState<'s>>>,
) -> Result<Vec<Group>, TooSmall> {
    range
        .into_par_iter()
        .map_init(
            || Lease::new(workers),
            |lease, g| {
                let st = lease.get();
                let mut out = Group::default();
                build_group(plan, synth, g, &mut st.traces, &mut out, &mut st.scratch)?;
                progress.traces.fetch_add(u64::from(out.traces), Ordering::Relaxed);
                progress.raw_bytes.fetch_add(out.records.iter().map(|r| u64::from(r.len)).sum(), Ordering::Relaxed);
                Ok(out)
            },
        )
        .collect()
}

/// Cuts the ordered stream of groups into frames of at least [`FRAME_TARGET`] raw bytes.
#[derive(Default)]
struct FrameCutter {
    pending: Vec<Group>,
    raw: usize,
}

impl FrameCutter {
    /// Adds a group; returns a frame when one is complete.
    fn push(&mut self, g: Group) -> Option<Vec<Group>> {
        self.raw += g.bytes.len();
        self.pending.push(g);
        if self.raw >= FRAME_TARGET {
            self.raw = 0;
            return Some(std::mem::take(&mut self.pending));
        }
        None
    }

    /// The last, possibly short, frame.
    fn finish(&mut self) -> Option<Vec<Group>> {
        self.raw = 0;
        (!self.pending.is_empty()).then(|| std::mem::take(&mut self.pending))
    }
}

/// Runs the plan. `progress` is updated as traces are encoded.
pub fn run(plan: &GenPlan, progress: &Arc<GenProgress>) -> Result<GenSummary, GenError> {
    let started = Instant::now();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(plan.threads)
        .thread_name(|i| format!("gen-{i}"))
        .build()
        .map_err(|e| GenError::Threads { threads: plan.threads, message: e.to_string() })?;
    let synth = Synth::new(&plan.set, &plan.mix, plan.seed).with_semconv(plan.semconv);
    let (written, timeline) = match &plan.shape {
        Shape::Traces => {
            (pool.install(|| write_corpus(plan, progress, &mut traces_waves(plan, &synth, progress)))?, None)
        }
        Shape::Sdk(tl) => {
            let mut sim = crate::timeline::Waves::new(plan, tl, &synth, progress);
            let written = pool.install(|| write_corpus(plan, progress, &mut |workers| sim.next(workers)))?;
            (written, Some(sim.finish()))
        }
    };
    let Written { writer, tokens, per_scenario } = written;
    let traces = plan.trace_range();
    let count = match &timeline {
        Some(_) => writer.totals().traces,
        None => traces.end - traces.start,
    };
    let meta = Meta {
        format_version: FORMAT_VERSION,
        generator_version: GENERATOR_VERSION,
        seed: plan.seed,
        count,
        first_trace: traces.start,
        corpus_count: if timeline.is_some() { count } else { plan.count },
        shard: plan.shard.map(|(k, n)| format!("{k}/{n}")),
        scenario_set_hash: format!("{:016x}", plan.set.hash()),
        scenarios: plan.set.names().iter().map(|s| s.to_string()).collect(),
        mix: plan.mix.describe(&plan.set),
        epoch_ns: EPOCH_NS,
        traces_per_request: plan.traces_per_request,
        max_request_bytes: plan.max_request_bytes as u64,
        level: plan.level,
        semconv: Some(plan.semconv.name().to_string()),
        schema_url: Some(plan.semconv.schema_url().to_string()),
        totals: Totals { tokens, ..Totals::default() },
        // Only a corpus with mixed records needs them (the record table is exact otherwise).
        per_scenario: writer
            .has_mixed_records()
            .then(|| per_scenario.iter().map(|(id, c)| (plan.set.names()[usize::from(*id)].to_string(), *c)).collect()),
        timeline,
    };
    let (file_bytes, index) = writer.finish(meta)?;
    Ok(GenSummary {
        per_scenario: scenario_totals(&index),
        meta: index.meta,
        file_bytes,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// The request groups of a corpus of whole traces, wave by wave: each wave synthesizes and
/// encodes a batch of groups in parallel. Wave size adapts to the observed group size so a wave
/// holds about 4 frames per thread; the first is sized by the largest trace the mix can produce
/// (scenario::bound), and never below one group per thread: a wave of 64 groups of a 100 MB
/// scenario held 6 GB.
fn traces_waves<'a, 's>(
    plan: &'a GenPlan,
    synth: &'a Synth<'s>,
    progress: &'a GenProgress,
) -> impl FnMut(&Mutex<Vec<WorkerState<'s>>>) -> Result<Option<Vec<Group>>, GenError> + Send + 'a {
    let groups = plan.group_range();
    let mut next = groups.start;
    let largest = plan.mix.entries.iter().map(|&(id, _)| plan.set.scenarios[id].bounds.bytes.max).fold(1.0, f64::max)
        * f64::from(plan.traces_per_request);
    let min_wave = plan.threads.max(1) as u64;
    let mut wave = ((FRAME_TARGET * 4 * plan.threads.max(1)) as f64 / largest).clamp(min_wave as f64, 64.0) as u64;
    move |workers| {
        let end = (next + wave).min(groups.end);
        if next == end {
            return Ok(None);
        }
        let built = build_wave(plan, synth, next..end, progress, workers)?;
        let wave_raw: usize = built.iter().map(|g| g.bytes.len()).sum();
        let avg = (wave_raw / built.len().max(1)).max(1);
        wave = ((FRAME_TARGET * 4 * plan.threads.max(1)) / avg).clamp(min_wave as usize, 100_000) as u64;
        next = end;
        Ok(Some(built))
    }
}

/// What [`write_corpus`] wrote, before the index.
struct Written {
    writer: CorpusWriter,
    tokens: u64,
    per_scenario: std::collections::BTreeMap<u8, ScenarioTotals>,
}

/// The producer of a corpus's groups, in order, one wave per call (`None`: done). It runs on
/// the rayon pool and may borrow the reusable worker states.
pub(crate) type Produce<'p, 's> =
    dyn FnMut(&Mutex<Vec<WorkerState<'s>>>) -> Result<Option<Vec<Group>>, GenError> + Send + 'p;

/// Cuts the groups `produce` makes into frames, compresses them and writes them in order.
/// Frames cut from one wave are compressed *while* the next wave is produced (the two halves
/// overlap instead of waiting on each other), and a writer thread appends them, so file I/O
/// never stalls the workers. Runs inside the rayon pool.
fn write_corpus<'s>(
    plan: &GenPlan,
    progress: &GenProgress,
    produce: &mut Produce<'_, 's>,
) -> Result<Written, GenError> {
    let writer = CorpusWriter::create(&plan.output, matches!(plan.shape, Shape::Sdk(_)))?;
    let mut tokens = 0u64;
    let mut per_scenario: std::collections::BTreeMap<u8, ScenarioTotals> = Default::default();
    let mut cutter = FrameCutter::default();
    let level = plan.level;
    let mut ready: Vec<Vec<Group>> = Vec::new();
    let workers: Mutex<Vec<WorkerState<'s>>> = Mutex::new(Vec::new());
    let (to_writer, frames_in) = std::sync::mpsc::sync_channel::<(Vec<u8>, u64, Vec<Group>)>(2 * plan.threads);
    let writer = std::thread::scope(|scope| -> Result<CorpusWriter, GenError> {
        let handle = scope.spawn(move || -> Result<CorpusWriter, GenError> {
            let mut writer = writer;
            for (bytes, raw, groups) in frames_in {
                let metas: Vec<RecordMeta> = groups.iter().flat_map(|g| g.records.iter().copied()).collect();
                writer.write_frame(&bytes, raw, &metas)?;
            }
            Ok(writer)
        });
        let work = (|| -> Result<(), GenError> {
            loop {
                if progress.stop.load(Ordering::Relaxed) {
                    return Err(GenError::Interrupted);
                }
                let (compressed, built) = rayon::join(
                    || ready.par_iter().map(|f| compress_frame(f, level)).collect::<Result<Vec<_>, _>>(),
                    || produce(&workers),
                );
                for (f, (bytes, raw)) in ready.drain(..).zip(compressed.map_err(GenError::Compress)?) {
                    if to_writer.send((bytes, raw, f)).is_err() {
                        return Ok(()); // the writer failed; its error is reported below
                    }
                }
                let Some(built) = built? else {
                    ready.extend(cutter.finish());
                    if ready.is_empty() {
                        return Ok(());
                    }
                    continue;
                };
                for g in built {
                    tokens += g.tokens;
                    for (id, c) in &g.scenarios {
                        per_scenario.entry(*id).or_default().add(c);
                    }
                    ready.extend(cutter.push(g));
                }
            }
        })();
        drop(to_writer);
        let writer = handle.join().expect("writer thread does not panic")?;
        work?;
        Ok(writer)
    })?;
    Ok(Written { writer, tokens, per_scenario })
}
