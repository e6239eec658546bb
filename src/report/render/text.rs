//! The text report printed at the end of a run (and by `traceblast report run.json`).

use std::fmt::Write;

use crate::report::model::Percentiles;
use crate::report::{Render, Report};
use crate::units::{human_bytes, thousands, us};

/// Plain text for a terminal.
pub struct Text;

fn row(p: &Percentiles) -> String {
    [p.p50, p.p90, p.p95, p.p99, p.p999, p.max].iter().map(|v| format!("{:>10}", us(*v))).collect()
}

/// Why a run ended, in words (the JSON keeps the key: `corpus`, `requests`, …).
pub fn ended_by(key: &str) -> String {
    match key {
        "corpus" => "the corpus was sent".into(),
        "requests" => "--requests reached".into(),
        "duration" => "--duration reached".into(),
        "interrupted" => "interrupted by Ctrl-C or SIGTERM".into(),
        "error" => "stopped on an error".into(),
        // Merged reports join the inputs' keys: shown as they are.
        other => other.into(),
    }
}

/// "200 ×19,998 · 503 ×2".
pub fn counts(m: &std::collections::BTreeMap<String, u64>) -> String {
    if m.is_empty() {
        return "none".into();
    }
    m.iter().map(|(k, v)| format!("{k} ×{}", thousands(*v))).collect::<Vec<_>>().join(" · ")
}

impl Render for Text {
    fn render(&self, r: &Report) -> String {
        let mut o = String::new();
        let q = &r.requests;
        let run = &r.run;
        let _ = writeln!(
            o,
            "traceblast replay{}: {} → {}{}",
            if r.interrupted { " (INTERRUPTED)" } else { "" },
            r.corpus.path,
            run.endpoint,
            if run.platform.is_empty() { String::new() } else { format!(" ({})", run.platform) }
        );
        let _ = writeln!(
            o,
            "  duration        {:.2} s (ended: {}), started {}",
            run.duration_s,
            ended_by(&run.ended_by),
            run.started_at
        );
        if let Some(e) = &run.error {
            let _ = writeln!(o, "  ENDED EARLY     {e}");
        }
        if !r.merged_from.is_empty() {
            let _ = writeln!(o, "  merged from     {} reports: {}", r.merged_from.len(), r.merged_from.join(", "));
        }
        let _ = writeln!(
            o,
            "  requests        {} scheduled · {} ok · {} failed · {} missed · {} retries{}",
            thousands(q.scheduled),
            thousands(q.ok),
            thousands(q.failed),
            thousands(q.missed),
            thousands(q.retries),
            if q.cancelled > 0 { format!(" · {} cancelled", thousands(q.cancelled)) } else { String::new() }
        );
        let _ = writeln!(o, "  success rate    {:.2} %", r.success_rate);
        let target = r.rate.target.map(|t| format!("{t:.1} req/s target")).unwrap_or_else(|| "max rate".into());
        let _ = writeln!(
            o,
            "  throughput      {target} · {:.1} req/s achieved · {:.1} ok/s",
            r.rate.achieved, r.rate.ok_per_s
        );
        let _ = writeln!(
            o,
            "  latency         {:>10}{:>10}{:>10}{:>10}{:>10}{:>10}",
            "p50", "p90", "p95", "p99", "p99.9", "max"
        );
        let _ = writeln!(o, "    corrected     {}", row(&r.latency_us.corrected));
        let _ = writeln!(o, "    uncorrected   {}", row(&r.latency_us.uncorrected));
        let l = &r.pacer_lateness_us;
        let _ = writeln!(o, "  pacer lateness  p50 {} · p99 {} · max {}", us(l.p50), us(l.p99), us(l.max));
        let b = &r.bytes;
        let _ = writeln!(
            o,
            "  data            {} sent ({} per request) · {} raw · {} spans ok · {} traces ok{}",
            human_bytes(b.sent),
            human_bytes(b.per_request as u64),
            human_bytes(b.raw),
            thousands(r.spans.ok),
            thousands(r.traces.ok),
            if r.spans.rejected > 0 {
                format!(" · {} spans rejected (partial success)", thousands(r.spans.rejected))
            } else {
                String::new()
            }
        );
        if r.spans.rejected_claimed > 0 {
            let _ = writeln!(
                o,
                "  NOTE            the server claimed {} more rejected spans than its requests carried (counted as the requests' spans)",
                thousands(r.spans.rejected_claimed)
            );
        }
        if !r.status.is_empty() || r.grpc_status.is_empty() {
            let _ = writeln!(o, "  status          {}", counts(&r.status));
        }
        if !r.grpc_status.is_empty() {
            let _ = writeln!(o, "  gRPC status     {}", counts(&r.grpc_status));
        }
        if !r.errors.is_empty() {
            let _ = writeln!(o, "  errors          {}", counts(&r.errors));
            for (class, e) in &r.error_classes {
                let what = crate::stats::ErrorClass::from_name(class).map_or(class.as_str(), |c| c.describe());
                let _ = writeln!(o, "    {what} ×{}: {}", thousands(e.count), e.sample);
            }
        }
        if !r.scenarios.is_empty() {
            let _ = writeln!(
                o,
                "  {:<26}{:>10}{:>10}{:>12}{:>12}{:>10}",
                "scenario", "requests", "ok", "p50", "p99", "avg KB"
            );
            for (name, s) in &r.scenarios {
                let _ = writeln!(
                    o,
                    "    {name:<24}{:>10}{:>10}{:>12}{:>12}{:>10.1}",
                    thousands(s.requests),
                    thousands(s.ok),
                    us(s.p50_us),
                    us(s.p99_us),
                    s.avg_bytes / 1e3
                );
            }
        }
        stages(&mut o, r);
        if let Some(v) = &r.verify {
            o.push_str(&crate::verify::text(v));
        }
        if let Some(d) = &r.collector {
            o.push_str(&super::collector::text(d));
        }
        o
    }
}

/// The per-stage table of a `--stages` run.
fn stages(o: &mut String, r: &Report) {
    if r.stages.is_empty() {
        return;
    }
    let _ = writeln!(
        o,
        "  {:<18}{:>16}{:>10}{:>10}{:>10}{:>9}{:>11}{:>11}",
        "stage", "target req/s", "due", "sent/s", "ok/s", "missed", "p50", "p99"
    );
    for [n, window, target, due, sent, ok, missed, p50, p99] in super::stages::rows(r) {
        let _ = writeln!(
            o,
            "    {:<16}{target:>16}{due:>10}{sent:>10}{ok:>10}{missed:>9}{p50:>11}{p99:>11}",
            format!("{n} {window}")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        assert_eq!(us(850), "850 µs");
        assert_eq!(us(1_250), "1.25 ms");
        assert_eq!(us(2_500_000), "2.50 s");
        assert_eq!(us(12_000_000), "12.0 s");
    }

    #[test]
    fn text_never_prints_debug_forms_or_empty_parentheses() {
        let mut r = Report { interrupted: true, ..Default::default() };
        r.run.ended_by = "interrupted".into();
        let c = crate::report::compare::compare("a.json", &r, "b.json", &r, &Default::default());
        let several = crate::report::compare::compare_all(
            &[("a.json".into(), r.clone()), ("b.json".into(), r.clone()), ("c.json".into(), r.clone())],
            &Default::default(),
        );
        for text in [Text.render(&r), Text.render(&c), Text.render(&several)] {
            for debug in ["()", "None", "Some(", "\"", "{", "_"] {
                assert!(!text.contains(debug), "{debug:?} in:\n{text}");
            }
        }
        assert!(Text.render(&r).contains("(ended: interrupted by Ctrl-C or SIGTERM)"));
    }
}
