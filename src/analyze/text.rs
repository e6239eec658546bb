//! The drop report for people: what `traceblast analyze` prints without `--json`.

use std::fmt::Write as _;

use super::logs::LogReport;
use super::{MetricsReport, Report};
use crate::units::thousands;

/// The report for people.
pub fn report_text(r: &Report) -> String {
    let mut out = String::from("Collector drop analysis\n");
    let mut headline = Vec::new();
    if let Some(n) = r.spans_dropped.logs {
        headline.push(format!("{} (logs)", thousands(n)));
    }
    if let Some(m) = &r.metrics {
        headline.push(format!(
            "{} (metrics: {} send-failed + {} enqueue-failed)",
            thousands(m.spans_dropped),
            thousands(m.send_failed_spans),
            thousands(m.enqueue_failed_spans)
        ));
    }
    let _ = writeln!(out, "  spans dropped: {}", headline.join(" · "));
    if let (Some(name), Some(l)) = (&r.sources.logs, &r.logs) {
        out += &logs_text(name, l);
    }
    if let (Some(name), Some(m)) = (&r.sources.metrics, &r.metrics) {
        out += &metrics_text(name, m);
    }
    if !r.recommendations.is_empty() {
        out += "\nrecommendations\n";
        for rec in &r.recommendations {
            let cause =
                rec.cause.strip_prefix("http_").map_or_else(|| rec.cause.replace('_', " "), |s| format!("HTTP {s}"));
            let _ = writeln!(out, "  {cause}: {}", rec.advice);
        }
    }
    out
}

fn logs_text(name: &str, l: &LogReport) -> String {
    let mut out = format!(
        "\nlog {name}: {}, {}, {} skipped\n  {}, {} dropped\n",
        plural(l.lines, "line"),
        plural(l.records, "record"),
        thousands(l.unparsed),
        plural(l.drop_events, "drop line"),
        plural(l.spans_dropped, "span")
    );
    if l.drop_events > 0 {
        let _ = writeln!(out, "  {:<8}{:<24}{:>12}{:>15}  exporters", "status", "", "occurrences", "spans dropped");
        for s in &l.by_status {
            let reason = hyper::StatusCode::from_u16(s.status).ok().and_then(|c| c.canonical_reason()).unwrap_or("");
            let _ = writeln!(
                out,
                "  {:<8}{reason:<24}{:>12}{:>15}  {}",
                s.status,
                thousands(s.occurrences),
                thousands(s.spans_dropped),
                printable(&s.exporters.join(", "))
            );
        }
        let mut row = |label: &str, occurrences: u64, spans: u64| {
            if occurrences > 0 {
                let _ = writeln!(out, "  {label:<32}{:>12}{:>15}", thousands(occurrences), thousands(spans));
            }
        };
        row("no HTTP status", l.no_status.occurrences, l.no_status.spans_dropped);
        // Drop lines fall in exactly one of status / no status / queue full.
        let with_status = l.by_status.iter().fold(0u64, |a, s| a.saturating_add(s.occurrences));
        let queue_drops = l.drop_events.saturating_sub(with_status).saturating_sub(l.no_status.occurrences);
        row("sending queue full", queue_drops, l.queue_full.spans_dropped);
        if let Some(sample) = &l.no_status.sample {
            let _ = writeln!(out, "  no-status example: {}", printable(sample));
        }
    }
    let q = &l.queue_full;
    let m = &l.memory_limiter;
    let _ =
        writeln!(out, "  queue full: {} ({} dropped)", plural(q.occurrences, "line"), plural(q.spans_dropped, "span"));
    let _ = writeln!(
        out,
        "  memory limiter: {}, {}, {}",
        plural(m.soft_limit, "soft-limit line"),
        plural(m.hard_limit, "hard-limit line"),
        plural(m.refusals, "refusal")
    );
    let mut note = |label: &str, occurrences: u64, items: u64, what: &str| {
        if occurrences > 0 {
            let _ = writeln!(out, "  {label}: {}, {} {what}", plural(occurrences, "line"), thousands(items));
        }
    };
    note(
        "rejected back to receivers",
        l.rejected.occurrences,
        l.rejected.items,
        "spans (the sender got an error and may retry)",
    );
    note("partial success from the backend", l.partial_success.occurrences, l.partial_success.items, "spans rejected");
    note(
        "drops of other signals",
        l.other_signals.occurrences,
        l.other_signals.items,
        "items (metrics/logs, not counted above)",
    );
    if !l.retries.is_empty() {
        let _ = writeln!(out, "  retries the Collector scheduled (\"Will retry the request\"), before any drop:");
        for r in &l.retries {
            let status = r.status.map_or("no HTTP status".to_string(), |s| format!("HTTP {s}"));
            let _ = writeln!(out, "    {status:<16} occurrences {:>10}", thousands(r.occurrences));
        }
    }
    if l.saturated {
        out += SATURATED;
    }
    out
}

/// Printed under an input whose counts saturated.
const SATURATED: &str =
    "  note: some counts reached 18,446,744,073,709,551,615 (2^64 - 1) and stopped there: they are lower bounds\n";

/// Text from the input (exporter names, error samples) with control characters escaped, so a
/// log cannot move the cursor or recolour the terminal it is printed to.
fn printable(s: &str) -> String {
    s.chars().flat_map(|c| if c.is_control() { c.escape_default().collect::<Vec<_>>() } else { vec![c] }).collect()
}

fn metrics_text(name: &str, m: &MetricsReport) -> String {
    let mut out = format!("\nmetrics {name}: {} span counter series\n", m.series);
    let _ = writeln!(out, "  {:<32}{:>14}{:>14}{:>16}", "exporter", "sent", "send-failed", "enqueue-failed");
    for e in &m.exporters {
        let name = e.exporter.as_deref().map_or_else(|| "(no exporter label)".into(), printable);
        let _ = writeln!(
            out,
            "  {name:<32}{:>14}{:>14}{:>16}",
            thousands(e.sent),
            thousands(e.send_failed),
            thousands(e.enqueue_failed)
        );
    }
    if m.exporters.len() > 1 {
        let _ = writeln!(
            out,
            "  {:<32}{:>14}{:>14}{:>16}",
            "total",
            thousands(m.sent_spans),
            thousands(m.send_failed_spans),
            thousands(m.enqueue_failed_spans)
        );
    }
    let opt = |v: Option<u64>| v.map_or_else(|| "n/a".to_owned(), thousands);
    if m.receiver_accepted_spans.is_some() || m.receiver_refused_spans.is_some() {
        let _ = writeln!(
            out,
            "  receivers: {} accepted, {} refused",
            opt(m.receiver_accepted_spans),
            opt(m.receiver_refused_spans)
        );
    }
    if m.saturated {
        out += SATURATED;
    }
    out
}

/// `1 line`, `2 lines`, `1,024 spans`.
fn plural(n: u64, word: &str) -> String {
    format!("{} {word}{}", thousands(n), if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::Sources;

    #[test]
    fn saturation_is_said_and_control_characters_are_escaped() {
        let text = "otelcol_exporter_send_failed_spans_total{exporter=\"a\\u001b[2J\"} 1e30\n";
        let text = text.replace("\\u001b", "\u{1b}");
        let m = MetricsReport::parse(&text);
        let r = Report::new(Sources { logs: None, metrics: Some("m.prom".into()) }, None, Some(m));
        let out = report_text(&r);
        assert!(out.contains("  a\\u{1b}[2J "), "{out}");
        assert!(!out.contains('\u{1b}'), "{out}");
        assert!(out.ends_with(SATURATED), "{out}");
    }
}
