//! The HTML report: one self-contained page with the run's charts and tables.
//!
//! Everything is inline — styles, SVG charts drawn in Rust ([`super::svg`]), and a few lines of
//! script, on the page every HTML output shares ([`super::page`]) — and a Content-Security-Policy
//! forbids any fetch, so the page opens the same from
//! a laptop, a CI artifact or a mail attachment, offline. The script only records errors and
//! checks that each chart was laid out (`data-drawn` next to the `data-points` written here),
//! which the Chromium test in `tests/it/html.rs` reads back.
//!
//! Charts: throughput (target vs achieved per second), spans and bytes per second (what an
//! ingestion test is about), latency p50/p99 per second, status codes per second (stacked), all
//! with partial and stalled seconds shaded ([`super::timeline`] decides which), and the HDR
//! percentile distribution (corrected vs uncorrected) on a log "nines" axis, from the report's
//! serialized histograms. Then an Errors section (classes with sample messages, gRPC statuses)
//! and the tables, options in words ([`super::labels`]).

use std::fmt::Write;

use hdrhistogram::Histogram;

use super::charts::{
    bands, bytes_chart, bytes_per_s, latency_chart, latency_tip, latency_unit, line, no_rate_reason, per_s, time_chart,
    x_axis,
};
use super::labels::options_in_words;
use super::page::{kv, page_end, page_start, section, table};
use super::svg::{Axis, Chart, Layer, Line, Marks, esc};
use super::text::{counts, ended_by};
use super::timeline::Timeline;
use crate::report::model::{Percentiles, decode_histogram};
use crate::report::{Render, Report};
use crate::stats::ErrorClass;
use crate::units::us;
use crate::units::{human_bytes, thousands};

/// A self-contained HTML page.
pub struct Html;

/// Nines shown on the distribution's x axis: up to 99.999 % (x = 5).
const NINES: f64 = 5.0;
/// Points per nine on the distribution curve.
const STEPS_PER_NINE: usize = 20;

impl Render for Html {
    fn render(&self, r: &Report) -> String {
        let mut o = page_start(&format!("traceblast report — {} → {}", r.corpus.path, r.run.endpoint));
        header(&mut o, r);
        cards(&mut o, r);
        let t = Timeline::of(r);
        let shading = "Grey bands are partial seconds (the run started inside them, or its schedule ended and \
                       they only drain), left out of the rate lines; red bands are seconds in which no request completed, where the lines break.";
        section(
            &mut o,
            "Throughput",
            &format!(
                "Requests per second: due by the schedule (target) and completed (ok + failed), by wall-clock second. {shading}"
            ),
            &throughput(r, &t),
        );
        section(
            &mut o,
            "Spans per second",
            "Spans in the requests completed in each second that the server acknowledged (2xx, minus spans it \
             rejected): the ingestion rate.",
            &spans(r, &t),
        );
        section(
            &mut o,
            "Data per second",
            "Request body bytes, as sent on the wire (compressed), of the requests completed in each second.",
            &data(&t),
        );
        section(
            &mut o,
            "Latency over time",
            "Corrected latency (from the intended send time) of the requests completed in each second.",
            &latency(&t),
        );
        section(
            &mut o,
            "Status codes over time",
            "Final outcome of the requests completed in each second; \"no status\" is a timeout or a connection error.",
            &statuses(&t),
        );
        section(
            &mut o,
            "Latency distribution",
            "Latency at each percentile, from the full HdrHistograms. Corrected counts from the intended send time \
             (what users wait when the server stalls); uncorrected from the actual send (what most load tools report).",
            &distribution(r),
        );
        if let Some(v) = &r.verify {
            super::html_verify::section(&mut o, r, &t, v);
        }
        if let Some(d) = &r.collector {
            let rows: Vec<Vec<String>> = super::collector::rows(d).into_iter().map(Vec::from).collect();
            table(&mut o, &format!("Collector drops ({})", d.sources.join(", ")), &["", "spans or lines"], &rows);
        }
        errors(&mut o, r);
        tables(&mut o, r);
        metadata(&mut o, r);
        page_end(&mut o);
        o
    }
}

fn header(o: &mut String, r: &Report) {
    let _ = writeln!(
        o,
        "<h1>traceblast replay report</h1><div class=\"sub\"><code>{}</code> → <code>{}</code>{} · started {} · {:.2} s · ended: {}</div>",
        esc(&r.corpus.path),
        esc(&r.run.endpoint),
        if r.run.platform.is_empty() { String::new() } else { format!(" ({})", esc(&r.run.platform)) },
        esc(&r.run.started_at),
        r.run.duration_s,
        esc(&ended_by(&r.run.ended_by))
    );
    if r.interrupted {
        o.push_str("<div class=\"banner\">This run was <b>interrupted</b> (Ctrl-C or SIGTERM): the numbers cover the part that ran.</div>\n");
    }
    if let Some(e) = &r.run.error {
        let _ = writeln!(
            o,
            "<div class=\"banner\">This run <b>ended early on an error</b>: {}. The numbers cover the part that ran.</div>",
            esc(e)
        );
    }
    if !r.merged_from.is_empty() {
        let files: Vec<String> = r.merged_from.iter().map(|f| format!("<code>{}</code>", esc(f))).collect();
        let _ = writeln!(
            o,
            "<div class=\"banner\">Merged from {} reports: {}.</div>",
            r.merged_from.len(),
            files.join(", ")
        );
    }
    if r.requests.scheduled == 0 {
        o.push_str("<div class=\"banner\">No request was scheduled: there is nothing to chart.</div>\n");
    }
}

fn cards(o: &mut String, r: &Report) {
    let q = &r.requests;
    let c = &r.latency_us.corrected;
    let target = r.rate.target.map(|t| format!("target {t:.1}/s")).unwrap_or_else(|| "target: max".into());
    let items = [
        (thousands(q.scheduled), "requests scheduled".to_string()),
        (format!("{:.2} %", r.success_rate), format!("success ({} ok)", thousands(q.ok))),
        (format!("{:.1}/s", r.rate.achieved), format!("achieved · {target}")),
        (us(c.p50), "p50 latency (corrected)".into()),
        (us(c.p99), "p99 latency (corrected)".into()),
        (thousands(q.failed), format!("failed · {} missed", thousands(q.missed))),
    ];
    o.push_str("<div class=\"cards\">");
    for (value, label) in items {
        let _ = write!(o, "<div class=\"card\"><b>{}</b><span>{}</span></div>", esc(&value), esc(&label));
    }
    o.push_str("</div>\n");
}

fn throughput(r: &Report, t: &Timeline) -> Chart {
    let mut lines = vec![
        line("target (scheduled)", "#7f8c9a", true, t.due(|p| p.scheduled as f64), per_s(" scheduled")),
        line("achieved (ok + failed)", "#1f6fd1", false, t.done(|p| (p.ok + p.failed) as f64), per_s(" completed")),
    ];
    if r.requests.missed > 0 {
        lines.push(line("missed", "#d62728", false, t.due(|p| p.missed as f64), per_s(" missed")));
    }
    let mut c = time_chart("throughput", "Throughput per second", x_axis(t), "requests / s", lines, bands(t));
    c.empty = no_rate_reason(&[t]);
    c
}

fn spans(r: &Report, t: &Timeline) -> Chart {
    // Reports written before per-second span counts have zeros there: no line, and a note.
    let predates = r.spans.ok > 0 && r.series.iter().all(|p| p.spans == 0);
    let lines = if predates {
        Vec::new()
    } else {
        vec![line("spans acknowledged", "#9467bd", false, t.done(|p| p.spans as f64), per_s(" spans"))]
    };
    let mut c = time_chart("spans", "Spans acknowledged per second", x_axis(t), "spans / s", lines, bands(t));
    c.empty = if predates {
        "this report was written before per-second span counts were recorded"
    } else {
        no_rate_reason(&[t])
    };
    c
}

fn data(t: &Timeline) -> Chart {
    let l = line("sent (completed requests)", "#17becf", false, t.done(|p| p.bytes as f64), bytes_per_s);
    let mut c = bytes_chart("bytes", x_axis(t), vec![l], bands(t));
    c.empty = no_rate_reason(&[t]);
    c
}

fn latency(t: &Timeline) -> Chart {
    let lines = vec![
        line("p50", "#1f6fd1", false, t.completions(|p| p.p50_us as f64), latency_tip("p50")),
        line("p99", "#e8710a", false, t.completions(|p| p.p99_us as f64), latency_tip("p99")),
    ];
    latency_chart("latency", x_axis(t), lines, bands(t))
}

/// A colour per status code: greens for 2xx, oranges for 4xx, reds for 5xx, grey for none.
fn status_color(code: &str, nth_in_class: usize) -> &'static str {
    const OK: [&str; 3] = ["#2ca02c", "#78c679", "#1b7837"];
    const CLIENT: [&str; 4] = ["#ff7f0e", "#f2b447", "#c7a000", "#b35806"];
    const SERVER: [&str; 4] = ["#d62728", "#f08080", "#8c2d04", "#e7298a"];
    const OTHER: [&str; 2] = ["#9467bd", "#17becf"];
    match code.as_bytes().first() {
        _ if code == "0" => "#8a8f98",
        Some(b'2') => OK[nth_in_class % OK.len()],
        Some(b'4') => CLIENT[nth_in_class % CLIENT.len()],
        Some(b'5') => SERVER[nth_in_class % SERVER.len()],
        _ => OTHER[nth_in_class % OTHER.len()],
    }
}

fn statuses(t: &Timeline) -> Chart {
    let mut codes: Vec<&str> =
        t.seconds.iter().filter_map(|s| s.point).flat_map(|p| p.status.keys().map(String::as_str)).collect();
    codes.sort_by_key(|c| (*c == "0", c.to_string()));
    codes.dedup();
    let mut per_class = std::collections::HashMap::new();
    let layers: Vec<Layer> = codes
        .iter()
        .map(|code| {
            let nth = per_class.entry(code.as_bytes()[0]).or_insert(0usize);
            let color = status_color(code, *nth);
            *nth += 1;
            Layer {
                name: if *code == "0" { "no status".into() } else { code.to_string() },
                color,
                values: t
                    .seconds
                    .iter()
                    .map(|s| s.point.and_then(|p| p.status.get(*code)).copied().unwrap_or(0) as f64)
                    .collect(),
            }
        })
        .collect();
    let top = t.seconds.iter().filter_map(|s| s.point).map(|p| p.status.values().sum::<u64>()).max().unwrap_or(0);
    let mut x = x_axis(t);
    x.min = -0.5;
    x.max += 0.5;
    Chart {
        id: "status",
        title: "Status codes per second".into(),
        x,
        y: Axis::linear(0.0, top as f64, "responses / s"),
        marks: Marks::Stacked {
            x: t.seconds.iter().map(|s| s.off as f64).collect(),
            labels: t
                .seconds
                .iter()
                .map(|s| format!("t+{} s{}", s.off, if s.partial { " (partial second)" } else { "" }))
                .collect(),
            layers,
        },
        empty: "no request completed",
        bands: bands(t),
        join_within: None,
    }
}

/// `(nines, latency µs)` along the curve: x = -log10(1 - q), from q = 0 to 99.999 %.
fn percentile_curve(h: &Histogram<u64>) -> Vec<(f64, u64)> {
    if h.is_empty() {
        return Vec::new();
    }
    let n = (NINES as usize) * STEPS_PER_NINE;
    (0..=n)
        .map(|i| {
            let x = i as f64 / STEPS_PER_NINE as f64;
            (x, h.value_at_quantile(1.0 - 10f64.powf(-x)))
        })
        .collect()
}

/// "99.9 %" for x = 3 nines.
fn percentile_label(x: f64) -> String {
    let p = 100.0 * (1.0 - 10f64.powf(-x));
    let decimals = (x.ceil() as usize).saturating_sub(2);
    format!("{p:.decimals$} %")
}

fn distribution(r: &Report) -> Chart {
    let curve = |s: &str| decode_histogram(s).map(|h| percentile_curve(&h)).unwrap_or_default();
    let corrected = curve(&r.histograms.corrected);
    let uncorrected = curve(&r.histograms.uncorrected);
    let max_us = corrected.iter().chain(&uncorrected).map(|p| p.1).max().unwrap_or(0) as f64;
    let (div, unit) = latency_unit(max_us);
    let line = |name: &str, color: &'static str, dashed: bool, pts: &[(f64, u64)]| Line {
        name: name.into(),
        color,
        dashed,
        points: pts.iter().map(|(x, v)| (*x, *v as f64 / div)).collect(),
        tips: pts.iter().map(|(x, v)| format!("{}: {name} {}", percentile_label(*x), us(*v))).collect(),
    };
    let ticks = (0..=NINES as usize)
        .map(|i| (i as f64, if i == 0 { "0 %".to_string() } else { percentile_label(i as f64) }))
        .collect();
    Chart {
        id: "distribution",
        title: "Latency by percentile".into(),
        x: Axis { min: 0.0, max: NINES, ticks, title: "percentile (log scale of nines)".into() },
        y: Axis::linear(0.0, max_us / div, &format!("latency ({unit})")),
        marks: Marks::Lines(vec![
            line("corrected", "#1f6fd1", false, &corrected),
            line("uncorrected", "#e8710a", true, &uncorrected),
        ]),
        empty: "no latency samples",
        bands: Vec::new(),
        join_within: None,
    }
}

fn percentile_row(name: &str, p: &Percentiles) -> Vec<String> {
    let mut row = vec![name.to_string(), thousands(p.count)];
    row.extend([p.p50, p.p90, p.p95, p.p99, p.p999, p.max].map(us));
    row
}

fn tables(o: &mut String, r: &Report) {
    let l = &r.latency_us;
    table(
        o,
        "Latency",
        &["", "samples", "p50", "p90", "p95", "p99", "p99.9", "max"],
        &[
            percentile_row("corrected", &l.corrected),
            percentile_row("uncorrected", &l.uncorrected),
            percentile_row("pacer lateness", &r.pacer_lateness_us),
        ],
    );
    let scenarios: Vec<Vec<String>> = r
        .scenarios
        .iter()
        .map(|(name, s)| {
            vec![
                name.clone(),
                thousands(s.requests),
                thousands(s.ok),
                us(s.p50_us),
                us(s.p99_us),
                human_bytes(s.avg_bytes.round() as u64),
            ]
        })
        .collect();
    table(o, "Scenarios", &["scenario", "requests", "ok", "p50", "p99", "avg request"], &scenarios);
    if !r.stages.is_empty() {
        table(o, "Stages", &super::stages::COLUMNS, &super::stages::rows(r).map(Vec::from).collect::<Vec<_>>());
    }
    let q = &r.requests;
    let mut outcomes: Vec<Vec<String>> = vec![
        vec!["ok".into(), thousands(q.ok)],
        vec!["failed".into(), thousands(q.failed)],
        vec!["missed (in-flight cap full)".into(), thousands(q.missed)],
        vec!["retries".into(), thousands(q.retries)],
    ];
    outcomes.extend(r.status.iter().map(|(k, v)| vec![format!("HTTP {k}"), thousands(*v)]));
    outcomes.extend(r.errors.iter().map(|(k, v)| vec![format!("error: {k}"), thousands(*v)]));
    outcomes.extend([
        vec!["bytes sent".into(), human_bytes(r.bytes.sent)],
        vec!["spans ok".into(), thousands(r.spans.ok)],
        vec!["spans rejected (partial success)".into(), thousands(r.spans.rejected)],
        vec!["traces ok".into(), thousands(r.traces.ok)],
    ]);
    table(o, "Outcomes", &["", "count"], &outcomes);
}

/// Failures without a status by class with a sample message each, the gRPC statuses, and a
/// note when the server's partial-success counts could not be trusted.
fn errors(o: &mut String, r: &Report) {
    let _ = write!(o, "<section id=\"errors\"><h2>Errors</h2>");
    if r.spans.rejected_claimed > 0 {
        let _ = write!(
            o,
            "<p class=\"note\">The server claimed {} more rejected spans than its requests carried; they were \
             counted as the requests' own spans (its partial-success counts cannot be trusted).</p>",
            thousands(r.spans.rejected_claimed)
        );
    }
    if r.error_classes.is_empty() {
        let line = if r.errors.is_empty() {
            "No request failed without a status.".to_string()
        } else {
            format!("Failures without a status: {}.", counts(&r.errors))
        };
        let _ = write!(o, "<p class=\"note\">{}</p>", esc(&line));
    } else {
        o.push_str(
            "<table class=\"errors\"><tr><th>error</th><th>class</th><th>requests</th><th>sample message</th></tr>",
        );
        for (class, e) in &r.error_classes {
            let what = ErrorClass::from_name(class).map_or(class.as_str(), |c| c.describe());
            let _ = write!(
                o,
                "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td class=\"sample\"><code>{}</code></td></tr>",
                esc(what),
                esc(class),
                thousands(e.count),
                esc(&e.sample)
            );
        }
        o.push_str("</table>");
    }
    o.push_str("</section>\n");
    if !r.grpc_status.is_empty() {
        let rows: Vec<Vec<String>> = r.grpc_status.iter().map(|(k, v)| vec![k.clone(), thousands(*v)]).collect();
        table(o, "gRPC status", &["status", "requests"], &rows);
    }
}

fn metadata(o: &mut String, r: &Report) {
    let run = &r.run;
    let c = &r.corpus;
    let target = r.rate.target.map(|t| format!("{} req/s", crate::units::trim_rate(t))).unwrap_or_else(|| "max".into());
    let mut rows = vec![
        ("started at".to_string(), run.started_at.clone()),
        ("duration".into(), format!("{:.3} s", run.duration_s)),
        ("ended".into(), ended_by(&run.ended_by)),
        ("endpoint".into(), run.endpoint.clone()),
        ("platform".into(), run.platform.clone()),
        ("rate".into(), format!("{target} target · {} achieved · {} ok/s", r.rate.achieved, r.rate.ok_per_s)),
        ("tool".into(), format!("{} (report_version {})", r.tool, r.report_version)),
    ];
    if !r.merged_from.is_empty() {
        rows.push(("merged from".into(), r.merged_from.join(", ")));
    }
    kv(o, "Run", &rows);
    kv(
        o,
        "Corpus",
        &[
            ("path".into(), c.path.clone()),
            ("seed".into(), c.seed.to_string()),
            ("traces".into(), thousands(c.count)),
            ("records".into(), thousands(c.records)),
            ("scenario-set hash".into(), c.scenario_set_hash.clone()),
            ("generator version".into(), c.generator_version.to_string()),
            ("mix".into(), c.mix.clone()),
        ],
    );
    kv(o, "Options", &options_in_words(&run.options));
    kv(o, "Headers (secrets redacted)", &run.headers);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::SeriesPoint;

    #[test]
    fn percentile_axis_reads_in_nines() {
        assert_eq!(percentile_label(1.0), "90 %");
        assert_eq!(percentile_label(3.0), "99.9 %");
        assert_eq!(percentile_label(5.0), "99.999 %");
        let mut h = crate::stats::histogram();
        for v in 1..=100_000u64 {
            h.record(v).unwrap();
        }
        let curve = percentile_curve(&h);
        assert_eq!(curve.len(), 101);
        assert!(curve.windows(2).all(|w| w[0].1 <= w[1].1), "a percentile curve never goes down");
        assert_eq!(curve[20].1, h.value_at_quantile(0.9));
        assert!(percentile_curve(&crate::stats::histogram()).is_empty());
    }

    #[test]
    fn an_empty_interrupted_report_still_renders_every_section() {
        let html = Html.render(&Report { interrupted: true, ..Default::default() });
        for id in ["throughput", "spans", "bytes", "latency", "status", "distribution"] {
            assert!(html.contains(&format!(r#"id="{id}" data-points="0""#)), "{id}");
        }
        assert!(html.contains("No request was scheduled") && html.contains("<b>interrupted</b>"));
        assert!(!html.contains("http://") && !html.contains("https://"), "nothing is fetched");
    }

    #[test]
    fn errors_show_their_class_count_and_escaped_sample() {
        let mut r = Report::default();
        r.errors.insert("connect".into(), 3);
        r.error_classes.insert(
            "refused".into(),
            crate::report::model::ErrorClassReport { count: 3, sample: "connect <127.0.0.1:9>: refused & gone".into() },
        );
        r.grpc_status.insert("unavailable".into(), 2);
        r.spans.rejected_claimed = 7;
        r.run.ended_by = "interrupted".into();
        r.run.options.insert("max_in_flight".into(), "64".into());
        let html = Html.render(&r);
        assert!(html.contains("<td>connection refused</td><td><code>refused</code></td><td>3</td>"), "{html}");
        assert!(html.contains("connect &lt;127.0.0.1:9&gt;: refused &amp; gone"));
        assert!(html.contains("<h2>gRPC status</h2>") && html.contains("<td>unavailable</td><td>2</td>"));
        assert!(html.contains("claimed 7 more rejected spans"));
        assert!(html.contains("<td>most in flight</td><td><code>64</code></td>") && !html.contains("max_in_flight"));
        assert!(!html.contains("ended by interrupted") && html.contains("ended: interrupted"));
    }

    #[test]
    fn a_report_from_before_per_second_spans_says_so() {
        let mut r = Report::default();
        r.run.started_at = "2026-11-18T11:06:40.400Z".into();
        r.run.duration_s = 5.0;
        r.spans.ok = 400;
        r.series = (0..6)
            .map(|i| SeriesPoint { t: 1_795_000_000 + i, scheduled: 10, ok: 10, bytes: 5000, ..Default::default() })
            .collect();
        let html = Html.render(&r);
        assert!(html.contains(r#"id="spans" data-points="0""#));
        assert!(html.contains("written before per-second span counts were recorded"));
        assert!(html.contains(r#"id="bytes" data-points="4""#), "seconds 1 to 4 are whole");
    }
}
