//! Time charts shared by the report page ([`super::html`]) and the compare page
//! ([`super::html_compare`]): per-second rates (requests, spans, bytes) and latency, built from
//! [`Timeline`] points. The pages choose the runs, names and colours; this module scales the
//! values to a readable unit, writes the tooltips and shades the partial and stalled seconds.

use std::time::{Duration, UNIX_EPOCH};

use super::svg::{Axis, Band, Chart, Line, Marks, number};
use super::timeline::Timeline;
use crate::units::us;
use crate::units::{human_bytes, thousands};

/// At most this many stretches of stalled seconds are shaded (a run with a sparse schedule has
/// a gap every other second; shading them all would bury the chart).
const MAX_STALL_BANDS: usize = 200;

/// A line with a tooltip per point, `t+12 s: 1,234 completed/s` (`tip` formats a y value).
pub fn line(
    name: &str,
    color: &'static str,
    dashed: bool,
    points: Vec<(f64, f64)>,
    tip: impl Fn(f64) -> String,
) -> Line {
    let tips = points.iter().map(|(x, y)| format!("t+{} s: {}", number(*x), tip(*y))).collect();
    Line { name: name.into(), color, dashed, points, tips }
}

/// `n/s` with thousands separators: the tooltip of a count rate.
pub fn per_s(what: &'static str) -> impl Fn(f64) -> String {
    move |v| format!("{}{what}/s", thousands(v.round().max(0.0) as u64))
}

/// Bytes per second in words: the tooltip of a data rate.
pub fn bytes_per_s(v: f64) -> String {
    format!("{}/s", human_bytes(v.round().max(0.0) as u64))
}

/// The time axis of one run: seconds since its first second.
pub fn x_axis(t: &Timeline) -> Axis {
    let start = humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(t.t0));
    let title = if t.seconds.is_empty() { "seconds".to_string() } else { format!("seconds since {start}") };
    seconds_axis(t.span(), &title)
}

/// A time axis from 0 to `span` seconds.
pub fn seconds_axis(span: u64, title: &str) -> Axis {
    let span = (span as f64).max(1.0);
    Axis::linear(0.0, span, title).tight(span)
}

/// Shading for `t`: its partial seconds, and the stretches in which no request completed.
pub fn bands(t: &Timeline) -> Vec<Band> {
    let mut out: Vec<Band> = t
        .runs(|s| s.partial)
        .into_iter()
        .map(|(a, b)| Band {
            from: a as f64 - 0.5,
            to: b as f64 + 0.5,
            class: "partial",
            tip: format!(
                "{}: partial ({}); left out of the rate lines",
                seconds(a, b),
                if a == 0 {
                    "the run started inside it"
                } else {
                    "the schedule ended inside or before it: requests still completing"
                }
            ),
        })
        .collect();
    let stalls = t.runs(|s| !s.partial && s.completed() == 0);
    if stalls.len() <= MAX_STALL_BANDS {
        out.extend(stalls.into_iter().map(|(a, b)| Band {
            from: a as f64 - 0.5,
            to: b as f64 + 0.5,
            class: "stall",
            tip: format!("{}: no request completed", seconds(a, b)),
        }));
    }
    out
}

/// What a rate chart of `runs` shows when it has no point: a run of under two whole seconds has
/// only partial seconds, which the rate lines leave out.
pub fn no_rate_reason(runs: &[&Timeline]) -> &'static str {
    if runs.iter().any(|t| !t.seconds.is_empty()) && runs.iter().all(|t| t.seconds.iter().all(|s| s.partial)) {
        "no whole second to draw a rate from: the run lasted under two seconds (see the totals)"
    } else {
        "no per-second data"
    }
}

/// `t+3 s`, or `t+3 to t+5 s`.
fn seconds(a: u64, b: u64) -> String {
    if a == b { format!("t+{a} s") } else { format!("t+{a} to t+{b} s") }
}

/// A chart of lines over seconds; points one second apart are joined, farther ones are not.
pub fn time_chart(id: &'static str, title: &str, x: Axis, y_title: &str, lines: Vec<Line>, bands: Vec<Band>) -> Chart {
    let top = lines.iter().flat_map(|l| &l.points).map(|p| p.1).fold(0.0, f64::max);
    Chart {
        id,
        title: title.into(),
        x,
        y: Axis::linear(0.0, top, y_title),
        marks: Marks::Lines(lines),
        empty: "no per-second data",
        bands,
        join_within: Some(1.0),
    }
}

/// The unit values up to `max` read best in, from `units` (divisor, name) smallest first.
fn unit(max: f64, units: &[(f64, &'static str)]) -> (f64, &'static str) {
    units.iter().rev().find(|(div, _)| max >= 2.0 * div).or(units.first()).copied().unwrap_or((1.0, ""))
}

/// The unit latencies up to `max_us` read best in: (divisor, name).
pub fn latency_unit(max_us: f64) -> (f64, &'static str) {
    unit(max_us, &[(1.0, "µs"), (1e3, "ms"), (1e6, "s")])
}

/// `lines` divided by the unit their largest value reads best in; the unit's name.
fn scaled(mut lines: Vec<Line>, unit_of: fn(f64) -> (f64, &'static str)) -> (Vec<Line>, &'static str) {
    let max = lines.iter().flat_map(|l| &l.points).map(|p| p.1).fold(0.0, f64::max);
    let (div, name) = unit_of(max);
    for l in &mut lines {
        l.points.iter_mut().for_each(|p| p.1 /= div);
    }
    (lines, name)
}

/// Bytes-per-second lines (values in bytes/s) in KB/s, MB/s or GB/s.
pub fn bytes_chart(id: &'static str, x: Axis, lines: Vec<Line>, bands: Vec<Band>) -> Chart {
    let (lines, name) = scaled(lines, |max| unit(max, &[(1.0, "B"), (1e3, "KB"), (1e6, "MB"), (1e9, "GB")]));
    time_chart(id, "Data sent per second", x, &format!("{name} / s (request bodies, as sent)"), lines, bands)
}

/// Latency lines (values in µs) in µs, ms or s.
pub fn latency_chart(id: &'static str, x: Axis, lines: Vec<Line>, bands: Vec<Band>) -> Chart {
    let (lines, name) = scaled(lines, latency_unit);
    let mut c = time_chart(id, "Latency p50 and p99 per second", x, &format!("latency ({name})"), lines, bands);
    c.empty = "no request completed";
    c
}

/// The tooltip of a latency in µs.
pub fn latency_tip(name: &'static str) -> impl Fn(f64) -> String {
    move |v| format!("{name} {}", us(v.round().max(0.0) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_follow_the_largest_value() {
        assert_eq!(latency_unit(1_500.0), (1.0, "µs"));
        assert_eq!(latency_unit(250_000.0), (1e3, "ms"));
        assert_eq!(latency_unit(3e6), (1e6, "s"));
        let l = line("a", "#000", false, vec![(0.0, 2.5e6), (1.0, 5e6)], bytes_per_s);
        let c = bytes_chart("b", seconds_axis(1, "s"), vec![l], vec![]);
        assert_eq!(c.y.title, "MB / s (request bodies, as sent)");
        let Marks::Lines(lines) = &c.marks else { panic!("lines") };
        assert_eq!(lines[0].points, [(0.0, 2.5), (1.0, 5.0)]);
        assert_eq!(lines[0].tips[1], "t+1 s: 5.00 MB/s", "tooltips keep the exact value");
    }

    #[test]
    fn bands_shade_partial_seconds_and_stalls_up_to_a_bound() {
        use crate::report::Report;
        use crate::report::model::SeriesPoint;
        let second = |t: u64, ok: u64| SeriesPoint { t, scheduled: 1, ok, ..Default::default() };
        let mut r = Report::default();
        r.run.started_at = "2026-11-18T11:06:40.400Z".into();
        r.run.duration_s = 10.0;
        let t0 = 1_795_000_000;
        r.series = (0..8).map(|i| second(t0 + i, u64::from(!(3..5).contains(&i)))).collect();
        let t = Timeline::of(&r);
        let shown: Vec<(&str, f64, f64)> = bands(&t).iter().map(|b| (b.class, b.from, b.to)).collect();
        assert_eq!(shown, [("partial", -0.5, 0.5), ("partial", 6.5, 7.5), ("stall", 2.5, 4.5)]);
        assert_eq!(bands(&t)[2].tip, "t+3 to t+4 s: no request completed");
        // A stall every other second, over and over: too many to shade.
        r.series = (0..(2 * MAX_STALL_BANDS as u64 + 10)).map(|i| second(t0 + i, i % 2)).collect();
        r.run.duration_s = r.series.len() as f64;
        let t = Timeline::of(&r);
        assert!(bands(&t).iter().all(|b| b.class == "partial"));
    }
}
