//! The limit search's report: its model (what `--report` writes as JSON) and its text (the
//! page is [`super::html`]).

use std::fmt::Write;

use serde::Serialize;

use super::{Ended, Outcome, Settings, Step, Stored};
use crate::report::model::{CorpusInfo, RunInfo};
use crate::units::thousands;
use crate::units::us;

/// The settings in the report, in seconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SettingsReport {
    /// First rate.
    pub start_rps: f64,
    /// Highest rate.
    pub max_rps: f64,
    /// Step-up factor.
    pub factor: f64,
    /// Precision (a fraction).
    pub precision: f64,
    /// Each step's length.
    pub step_s: f64,
    /// Left out of each step.
    pub warmup_s: f64,
    /// Between steps.
    pub cooldown_s: f64,
    /// Time budget.
    pub budget_s: Option<f64>,
}

impl From<&Settings> for SettingsReport {
    fn from(s: &Settings) -> Self {
        SettingsReport {
            start_rps: s.start,
            max_rps: s.max,
            factor: s.factor,
            precision: s.precision,
            step_s: s.step.as_secs_f64(),
            warmup_s: s.warmup.as_secs_f64(),
            cooldown_s: s.cooldown.as_secs_f64(),
            budget_s: s.budget.map(|b| b.as_secs_f64()),
        }
    }
}

/// The report of a limit search.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LimitReport {
    /// `traceblast <version>`.
    pub tool: String,
    /// Always `limit` (a replay report has none).
    pub kind: &'static str,
    /// The objectives.
    pub slo: String,
    /// The highest rate that met them (requests/s).
    pub limit_rps: Option<f64>,
    /// The same in spans/s, from the corpus's mean spans per request.
    pub limit_spans_per_s: Option<f64>,
    /// The lowest rate above it that did not.
    pub failed_at_rps: Option<f64>,
    /// Why the search stopped.
    pub ended_by: Ended,
    /// With `ended_by: error`, why a step could not run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Seconds the search took.
    pub elapsed_s: f64,
    /// How it searched.
    pub settings: SettingsReport,
    /// Target and options of the steps (secrets redacted).
    pub run: RunInfo,
    /// The corpus.
    pub corpus: CorpusInfo,
    /// Every step.
    pub steps: Vec<Step>,
}

impl LimitReport {
    /// The report of `o`, searched with `s` against `slo` (`spans_per_request`: the corpus's mean).
    pub fn new(
        o: Outcome,
        s: &Settings,
        slo: &super::Slo,
        spans_per_request: f64,
        run: RunInfo,
        corpus: CorpusInfo,
        elapsed_s: f64,
    ) -> Self {
        LimitReport {
            tool: format!("traceblast {}", env!("CARGO_PKG_VERSION")),
            kind: "limit",
            slo: slo.to_string(),
            limit_rps: o.limit.map(round2),
            limit_spans_per_s: o.limit.map(|l| round2(l * spans_per_request)),
            failed_at_rps: o.failed_at.map(round2),
            ended_by: o.ended_by,
            error: o.error,
            elapsed_s: round2(elapsed_s),
            settings: s.into(),
            run,
            corpus,
            steps: o.steps,
        }
    }
}

impl LimitReport {
    /// Whether any step was read back from the platform (its table then shows loss and lag).
    pub fn read_back(&self) -> bool {
        self.steps.iter().any(|s| s.figures.stored.is_some())
    }
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// The columns of the steps' table, in text and on the page: loss and lag when the steps were
/// read back from the platform.
pub fn step_columns(read_back: bool) -> Vec<&'static str> {
    let mut c = vec!["step", "rate/s", "sent/s", "success", "p50", "p99", "missed"];
    if read_back {
        c.extend(["loss", "lag p99"]);
    }
    c.push("verdict");
    c
}

/// Step `i`'s cells under [`step_columns`].
pub fn step_cells(i: usize, s: &Step, read_back: bool) -> Vec<String> {
    let f = &s.figures;
    let mut c = vec![
        (i + 1).to_string(),
        format!("{:.1}", s.rate),
        format!("{:.1}", f.achieved),
        format!("{:.2} %", s.success),
        us(f.p50_us),
        us(f.p99_us),
        thousands(f.missed),
    ];
    if read_back {
        let stored = f.stored.as_ref();
        c.push(stored.and_then(|st| st.loss_percent).map_or("-".into(), |l| format!("{l:.2} %")));
        // As `lag.p99` judges it: traces still not visible count as later than any measured.
        c.push(match stored.map(Stored::lag_p99) {
            Some(Ok(ms)) => us(ms.saturating_mul(1000)),
            Some(Err(why)) if why.starts_with("beyond") => "beyond".into(),
            _ => "-".into(),
        });
    }
    c.push(verdict(s));
    c
}

/// Text widths of [`step_columns`] but the last (the verdict, left-aligned).
const WIDTHS: [usize; 9] = [4, 10, 10, 11, 10, 10, 8, 9, 10];

/// Cells as a text line: right-aligned under their heading, the verdict last.
fn line(cells: &[impl AsRef<str>]) -> String {
    let Some((verdict, rest)) = cells.split_last() else { return String::new() };
    let mut o = String::new();
    for (i, (c, w)) in rest.iter().zip(WIDTHS).enumerate() {
        let _ = write!(o, "{}{:>w$}", if i == 0 { "" } else { " " }, c.as_ref());
    }
    let _ = write!(o, "   {}", verdict.as_ref());
    o
}

/// The heading of [`step_line`]s.
pub fn step_head(read_back: bool) -> String {
    line(&step_columns(read_back))
}

/// One step as a line: the progress line and a row of the text table.
pub fn step_line(i: usize, s: &Step, read_back: bool) -> String {
    line(&step_cells(i, s, read_back))
}

/// `pass`, or `FAIL:` and the objectives the step broke.
pub fn verdict(s: &Step) -> String {
    if s.pass { "pass".to_string() } else { format!("FAIL: {}", s.broken.join("; ")) }
}

/// The text report.
pub fn text(r: &LimitReport) -> String {
    let mut o = String::new();
    let platform = if r.run.platform.is_empty() { String::new() } else { format!(" ({})", r.run.platform) };
    let _ = writeln!(o, "traceblast limit: {} → {}{platform}", r.corpus.path, r.run.endpoint);
    let _ = writeln!(o, "  objectives      {}", r.slo);
    let limit = match (r.limit_rps, r.limit_spans_per_s) {
        (Some(l), Some(sp)) => format!("{l:.1} req/s ({} spans/s at this corpus's mean)", thousands(sp.round() as u64)),
        _ => "none: no rate met the objectives".into(),
    };
    let above = r.failed_at_rps.map(|h| format!("; {h:.1} req/s did not")).unwrap_or_default();
    let _ = writeln!(o, "  limit           {limit}{above}");
    let _ = writeln!(o, "  ended           {}", r.ended_by.describe());
    if let Some(e) = &r.error {
        let _ = writeln!(o, "  ERROR           {e}");
    }
    let s = &r.settings;
    let _ = writeln!(
        o,
        "  steps           {} of {} s (the first {} s of each left out), {:.0} s in all",
        r.steps.len(),
        s.step_s,
        s.warmup_s,
        r.elapsed_s
    );
    let read_back = r.read_back();
    let _ = writeln!(o, "  {}", step_head(read_back));
    for (i, st) in r.steps.iter().enumerate() {
        let _ = writeln!(o, "  {}", step_line(i, st, read_back));
    }
    o.push_str(&chart(&r.steps));
    o
}

/// Widest bar of [`chart`].
const BAR: usize = 40;

/// The steps by rate as a bar chart of their p99 (scaled to the largest), with success and the
/// verdict: where latency turns up against where the objectives broke.
pub fn chart(steps: &[Step]) -> String {
    if steps.len() < 2 {
        return String::new();
    }
    let mut by_rate: Vec<&Step> = steps.iter().collect();
    by_rate.sort_by(|a, b| a.rate.total_cmp(&b.rate));
    let top = by_rate.iter().map(|s| s.figures.p99_us).max().unwrap_or(0).max(1);
    let mut o = format!("  p99 by rate (the longest bar is {})\n", us(top));
    for s in by_rate {
        let n = (s.figures.p99_us as f64 / top as f64 * BAR as f64).round() as usize;
        let bar = "█".repeat(n.max(usize::from(s.figures.p99_us > 0)));
        let _ = writeln!(
            o,
            "  {:>10.1}/s  {bar:<BAR$} {:>10} {:>9.2} %  {}",
            s.rate,
            us(s.figures.p99_us),
            s.success,
            if s.pass { "pass" } else { "FAIL" }
        );
    }
    o
}
