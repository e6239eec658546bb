//! The report page's "Did it arrive?" section: acknowledged spans against the spans `verify`
//! found stored, for a report that carries a `verify` section.

use super::charts::{line, seconds_axis, time_chart, x_axis};
use super::svg::Chart;
use super::timeline::Timeline;
use crate::report::Report;
use crate::units::thousands;
use crate::verify::VerifyReport;

/// The section, after the charts of the run.
pub(super) fn section(o: &mut String, r: &Report, t: &Timeline, v: &VerifyReport) {
    super::page::section(
        o,
        "Did it arrive?",
        &format!(
            "Spans acknowledged (2xx, cumulative) against spans the platform ({}) was found to hold by \
             traceblast verify, round by round after the run. {} of {} acknowledged traces stored whole, {} missing, \
             {} partial, {} only from an earlier run; loss {:.3} %.",
            v.from,
            thousands(v.counts.stored),
            thousands(v.counts.acknowledged),
            thousands(v.counts.missing),
            thousands(v.counts.partial),
            thousands(v.counts.stale),
            v.loss_percent
        ),
        &arrived(r, t, v),
    );
}

/// Acknowledged spans, cumulative per second of the run, against the spans found stored after
/// each verify round (its `t_s` counts from the last acknowledgement, about the run's end).
fn arrived(r: &Report, t: &Timeline, v: &VerifyReport) -> Chart {
    let mut total = 0.0;
    let acked: Vec<(f64, f64)> = t
        .seconds
        .iter()
        .map(|s| {
            total += s.point.map_or(0.0, |p| p.spans as f64);
            (s.off as f64, total)
        })
        .collect();
    let end = r.run.duration_s;
    let stored: Vec<(f64, f64)> = v.curve.iter().map(|p| (end + p.t_s, p.spans_stored as f64)).collect();
    let span = stored.last().map_or(0.0, |p| p.0).max(t.span() as f64).ceil() as u64;
    let lines = vec![
        line("acknowledged (cumulative)", "#9467bd", false, acked, |v| format!("{} spans", thousands(v as u64))),
        line("stored (verify rounds)", "#2ca02c", false, stored, |v| format!("{} spans", thousands(v as u64))),
    ];
    let mut c = time_chart(
        "arrived",
        "Spans acknowledged and stored",
        seconds_axis(span, &x_axis(t).title),
        "spans",
        lines,
        Vec::new(),
    );
    c.join_within = None;
    c
}
