//! The limit search as a self-contained page: the limit, latency and success against the rate
//! of each step, and the steps' table. Drawn with the report pages' SVG and page helpers.

use std::fmt::Write;

use super::report::LimitReport;
use crate::report::charts::latency_unit;
use crate::report::render::page::{page_end, page_start, section, table};
use crate::report::svg::{Axis, Chart, Line, Marks, esc};
use crate::units::thousands;
use crate::units::us;

/// The page.
pub fn page(r: &LimitReport) -> String {
    let mut o = page_start("traceblast limit");
    let _ = write!(
        o,
        "<header><h1>traceblast limit</h1><p class=\"note\">{} → {}</p><p id=\"limit\"><b>{}</b></p>\
         <p class=\"note\">objectives: {} · {} · {} steps of {} s (first {} s left out)</p></header>",
        esc(&r.corpus.path),
        esc(&r.run.endpoint),
        esc(&match r.limit_rps {
            Some(l) => format!(
                "limit {l:.1} req/s ({} spans/s){}",
                thousands(r.limit_spans_per_s.unwrap_or(0.0).round() as u64),
                r.failed_at_rps.map(|h| format!("; {h:.1} req/s did not meet the objectives")).unwrap_or_default()
            ),
            None => "no rate met the objectives".into(),
        }),
        esc(&r.slo),
        esc(r.ended_by.describe()),
        r.steps.len(),
        r.settings.step_s,
        r.settings.warmup_s
    );
    let mut steps: Vec<_> = r.steps.iter().collect();
    steps.sort_by(|a, b| a.rate.total_cmp(&b.rate));
    let top = steps.last().map_or(1.0, |s| s.rate);
    let x = Axis::linear(0.0, top, "requests/s asked for");
    let verdict = |pass: bool| if pass { "pass" } else { "FAIL" };
    let (div, unit) = latency_unit(steps.iter().map(|s| s.figures.p99_us as f64).fold(0.0, f64::max));
    let latency = |name: &str, color, get: fn(&super::Step) -> u64| Line {
        name: name.into(),
        color,
        dashed: false,
        points: steps.iter().map(|s| (s.rate, get(s) as f64 / div)).collect(),
        tips: steps
            .iter()
            .map(|s| format!("{:.1} req/s: {name} {} ({})", s.rate, us(get(s)), verdict(s.pass)))
            .collect(),
    };
    let lines = vec![latency("p50", "#1f6fd1", |s| s.figures.p50_us), latency("p99", "#d62728", |s| s.figures.p99_us)];
    let ymax = lines.iter().flat_map(|l| &l.points).map(|p| p.1).fold(0.0, f64::max);
    let chart = |id, title: &str, y: Axis, lines| Chart {
        id,
        title: title.into(),
        x: x.clone(),
        y,
        marks: Marks::Lines(lines),
        empty: "no step ran",
        bands: Vec::new(),
        join_within: None,
    };
    section(
        &mut o,
        "Latency by rate",
        "Corrected latency of each step's requests after its warm-up, by the rate the step asked for.",
        &chart("latency", "Latency by rate", Axis::linear(0.0, ymax, &format!("latency ({unit})")), lines),
    );
    let success = Line {
        name: "success".into(),
        color: "#2ca02c",
        dashed: false,
        points: steps.iter().map(|s| (s.rate, s.success)).collect(),
        tips: steps
            .iter()
            .map(|s| format!("{:.1} req/s: {:.2} % ok ({})", s.rate, s.success, verdict(s.pass)))
            .collect(),
    };
    section(
        &mut o,
        "Success by rate",
        "Requests answered ok, of those due after each step's warm-up (missed and failed count against it).",
        &chart("success", "Success by rate", Axis::linear(0.0, 100.0, "success (%)").tight(100.0), vec![success]),
    );
    let read_back = r.read_back();
    let rows: Vec<Vec<String>> =
        r.steps.iter().enumerate().map(|(i, s)| super::report::step_cells(i, s, read_back)).collect();
    table(&mut o, "Steps", &super::report::step_columns(read_back), &rows);
    page_end(&mut o);
    o
}
