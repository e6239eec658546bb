//! Reports: one model ([`model::Report`]) and one builder ([`mod@build`]): a run's [`Stats`], or
//! the reports a merge adds up, become sums ([`build::Totals`]) from which [`build::derive`]
//! computes every figure (per-stage ones by [`stages`]). The renderers live under [`render`], one
//! per output format behind [`Render`] ([`text`], [`json`], [`html`], whose charts are drawn by
//! [`svg`] from the series as [`timeline`] lays it out, with [`charts`] shared by the pages;
//! [`labels`] puts the run's options in words). Saved reports can be compared ([`compare`]:
//! deltas and thresholds for a CI gate, also as a page: [`html_compare`]) and merged ([`merge`]:
//! shards of one run, exactly). `report` knows nothing of HTTP or corpora: callers
//! hand it the run description already redacted.

pub mod build;
pub mod compare;
pub mod histogram;
pub mod merge;
pub mod model;
pub mod render;
pub mod stages;
pub mod validate;

pub use render::{charts, html, html_compare, json, labels, svg, text, timeline};

use crate::stats::Stats;
pub use build::percent;
pub(crate) use build::round2;
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

/// Builds the report of a run: its sums, then every figure derived from them by
/// [`build::derive`] (as a merge does).
pub fn build(stats: &Stats, ctx: Context) -> Report {
    let totals = build::Totals::of_run(stats, &ctx.scenario_names, ctx.cancelled);
    let frame = build::ReportFrame {
        run: ctx.run,
        corpus: ctx.corpus,
        target_rate: ctx.target_rate,
        achieved_rate: ctx.achieved_rate,
        interrupted: ctx.interrupted,
        stages: ctx.stages,
        merged_from: Vec::new(),
    };
    build::derive(totals, frame)
}
