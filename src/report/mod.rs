//! Reports: one model ([`model::Report`]), built from a run's [`Stats`] here (per-stage figures
//! by [`stages`]), and the renderers under [`render`], one per output format behind [`Render`]
//! ([`text`], [`json`], [`html`], whose charts are drawn by [`svg`] from the series as
//! [`timeline`] lays it out, with [`charts`] shared by the pages; [`labels`] puts the run's
//! options in words). Saved reports can be compared ([`compare`]:
//! deltas and thresholds for a CI gate, also as a page: [`html_compare`]) and merged
//! ([`merge`]: shards of one run, exactly). `report` knows nothing of HTTP or corpora: callers
//! hand it the run description already redacted.

pub mod compare;
pub mod histogram;
pub mod merge;
pub mod model;
pub mod render;
pub mod stages;
pub mod validate;

use std::collections::BTreeMap;

pub use render::{charts, html, html_compare, json, labels, svg, text, timeline};

use crate::stats::Stats;
pub use model::Report;
use model::*;

/// An output format. `T` is what is rendered: a [`Report`] by default, or a
/// [`compare::Comparison`] of two.
pub trait Render<T = Report> {
    /// `r` in this format.
    fn render(&self, r: &T) -> String;
}

/// What the caller knows that the stats do not.
#[derive(Debug, Clone)]
pub struct Context {
    /// Run configuration, redacted.
    pub run: RunInfo,
    /// The corpus.
    pub corpus: CorpusInfo,
    /// Scenario names by id (255 is "mixed").
    pub scenario_names: Vec<String>,
    /// Target rate (`None` for max).
    pub target_rate: Option<f64>,
    /// Achieved release rate.
    pub achieved_rate: f64,
    /// Interrupted.
    pub interrupted: bool,
    /// Cancelled requests (already in `stats.failed`).
    pub cancelled: u64,
    /// `--stages`: each stage's plan ([`stages::planned`]); the figures are derived here.
    pub stages: Vec<StageReport>,
}

/// The name of scenario id `id`.
pub fn scenario_name(names: &[String], id: u8) -> String {
    names.get(id as usize).cloned().unwrap_or_else(|| "mixed".to_string())
}

/// Builds the report of a run.
pub fn build(stats: &Stats, ctx: Context) -> Report {
    let duration = ctx.run.duration_s.max(1e-9);
    let sent = stats.ok + stats.failed - ctx.cancelled;
    let scenarios = stats
        .scenarios
        .iter()
        .map(|(id, s)| {
            let p = Percentiles::of(&s.latency);
            (
                scenario_name(&ctx.scenario_names, *id),
                ScenarioReport {
                    requests: s.requests,
                    ok: s.ok,
                    p50_us: p.p50,
                    p99_us: p.p99,
                    avg_bytes: s.raw_bytes as f64 / s.requests.max(1) as f64,
                },
            )
        })
        .collect();
    let series = stats
        .series
        .iter()
        .map(|(t, s)| {
            let p = Percentiles::of(&s.latency);
            SeriesPoint {
                t: *t,
                scheduled: s.scheduled,
                ok: s.ok,
                failed: s.failed,
                missed: s.missed,
                bytes: s.bytes,
                spans: s.spans,
                p50_us: p.p50,
                p99_us: p.p99,
                status: s.status.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
                hist: if s.latency.is_empty() { String::new() } else { encode_histogram(&s.latency) },
            }
        })
        .collect::<Vec<_>>();
    let mut stage_reports = ctx.stages;
    stages::fill(&mut stage_reports, &ctx.run.started_at, &series);
    let histograms = Histograms {
        corrected: encode_histogram(&stats.corrected),
        uncorrected: encode_histogram(&stats.uncorrected),
        lateness: encode_histogram(&stats.lateness),
        scenarios: stats
            .scenarios
            .iter()
            .map(|(id, s)| (scenario_name(&ctx.scenario_names, *id), encode_histogram(&s.latency)))
            .collect(),
    };
    Report {
        report_version: REPORT_VERSION,
        tool: format!("traceblast {}", env!("CARGO_PKG_VERSION")),
        interrupted: ctx.interrupted,
        requests: Requests {
            scheduled: stats.scheduled,
            ok: stats.ok,
            failed: stats.failed,
            missed: stats.missed,
            retries: stats.retries,
            cancelled: ctx.cancelled,
        },
        success_rate: percent(stats.ok, stats.scheduled),
        rate: RateReport {
            target: ctx.target_rate,
            achieved: round2(ctx.achieved_rate),
            ok_per_s: round2(stats.ok as f64 / duration),
        },
        latency_us: Latency {
            corrected: Percentiles::of(&stats.corrected),
            uncorrected: Percentiles::of(&stats.uncorrected),
        },
        pacer_lateness_us: Percentiles::of(&stats.lateness),
        bytes: Bytes {
            sent: stats.bytes_wire,
            raw: stats.bytes_raw,
            per_request: round2(stats.bytes_wire as f64 / sent.max(1) as f64),
        },
        spans: Spans { ok: stats.spans_ok, rejected: stats.rejected_spans, rejected_claimed: stats.rejected_claimed },
        traces: Traces { ok: stats.traces_ok },
        status: stats.status.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        errors: stats.errors.iter().map(|(k, v)| (k.to_string(), *v)).collect::<BTreeMap<_, _>>(),
        error_classes: stats
            .error_classes
            .iter()
            .map(|(k, (count, sample))| (k.to_string(), ErrorClassReport { count: *count, sample: sample.clone() }))
            .collect(),
        grpc_status: stats.grpc_status.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        scenarios,
        series,
        stages: stage_reports,
        histograms,
        run: ctx.run,
        corpus: ctx.corpus,
        merged_from: Vec::new(),
        verify: None,
    }
}

/// `part / whole` in percent with two decimals (100 when `whole` is 0).
pub fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 { 100.0 } else { round2(part as f64 * 100.0 / whole as f64) }
}

/// `v` rounded to two decimals (reports keep rates and ratios readable).
pub(crate) fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}
