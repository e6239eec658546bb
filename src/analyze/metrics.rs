//! Reading the Collector's own metrics (Prometheus text exposition, as served on `:8888/metrics`
//! or saved from it) for span counts that survive log rotation.
//!
//! The counters are `otelcol_exporter_{sent,send_failed,enqueue_failed}_spans` per `exporter`
//! label and `otelcol_receiver_{accepted,refused}_spans`. Collector versions differ in naming:
//! OpenCensus-era ones expose `otelcol_exporter_sent_spans`, OTel-SDK-era ones add the
//! Prometheus `_total` suffix, and OpenMetrics scrapes add `_created` series (timestamps, never
//! summed). Both names are accepted; if a text has both for one counter, the `_total` series
//! win so nothing is counted twice. Series of one counter with the same exporter (different
//! `service_instance_id`, `transport`, …) are summed.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Serialize;

/// Span counters from the Collector's metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MetricsReport {
    /// Per exporter label, sorted by name.
    pub exporters: Vec<ExporterSpans>,
    /// `otelcol_exporter_sent_spans` over all exporters.
    pub sent_spans: u64,
    /// `otelcol_exporter_send_failed_spans` over all exporters: dropped after retries.
    pub send_failed_spans: u64,
    /// `otelcol_exporter_enqueue_failed_spans` over all exporters: refused by a full queue.
    pub enqueue_failed_spans: u64,
    /// `send_failed_spans + enqueue_failed_spans`.
    pub spans_dropped: u64,
    /// `otelcol_receiver_accepted_spans` over all receivers, if present.
    pub receiver_accepted_spans: Option<u64>,
    /// `otelcol_receiver_refused_spans` over all receivers, if present.
    pub receiver_refused_spans: Option<u64>,
    /// Span counter series read; 0 means the text is not a Collector's metrics.
    pub series: u64,
    /// Some count reached 2^64 - 1 and stopped there (sums saturate rather than wrap): those
    /// counts are lower bounds.
    pub saturated: bool,
}

/// One exporter's span counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ExporterSpans {
    /// The `exporter` label (`otlphttp/braintrust`), or `None` for series without one.
    pub exporter: Option<String>,
    /// Spans sent successfully.
    pub sent: u64,
    /// Spans in failed sends (after retries).
    pub send_failed: u64,
    /// Spans refused by the sending queue.
    pub enqueue_failed: u64,
}

/// The counters read, by name without `_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Counter {
    Sent,
    SendFailed,
    EnqueueFailed,
    Accepted,
    Refused,
}

impl Counter {
    const ALL: [(Counter, &'static str); 5] = [
        (Counter::Sent, "otelcol_exporter_sent_spans"),
        (Counter::SendFailed, "otelcol_exporter_send_failed_spans"),
        (Counter::EnqueueFailed, "otelcol_exporter_enqueue_failed_spans"),
        (Counter::Accepted, "otelcol_receiver_accepted_spans"),
        (Counter::Refused, "otelcol_receiver_refused_spans"),
    ];

    /// The counter a metric name denotes, and whether it carried `_total`.
    fn from_name(name: &str) -> Option<(Counter, bool)> {
        let (base, total) = match name.strip_suffix("_total") {
            Some(b) => (b, true),
            None => (name, false),
        };
        Counter::ALL.iter().find(|(_, n)| *n == base).map(|(c, _)| (*c, total))
    }
}

impl MetricsReport {
    /// Reads an exposition text. Comments, other metrics and malformed lines are skipped.
    pub fn parse(text: &str) -> MetricsReport {
        // (counter, has _total) → its samples
        let mut sums: BTreeMap<(Counter, bool), Samples> = BTreeMap::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some(s) = Sample::parse(line) else {
                continue;
            };
            let Some(key) = Counter::from_name(s.name) else {
                continue;
            };
            if !s.value.is_finite() || s.value < 0.0 {
                continue;
            }
            let samples = sums.entry(key).or_default();
            samples.count += 1;
            *samples.by_exporter.entry(s.label("exporter").map(Cow::into_owned)).or_default() += s.value;
        }
        let mut report = MetricsReport::default();
        let mut exporters: BTreeMap<Option<String>, ExporterSpans> = BTreeMap::new();
        for (counter, _) in Counter::ALL {
            let Some(samples) = sums.remove(&(counter, true)).or_else(|| sums.remove(&(counter, false))) else {
                continue;
            };
            report.series += samples.count;
            for (exporter, v) in samples.by_exporter {
                // A sum past 2^64 (or an infinite one) converts to 2^64 - 1.
                let v = v.round() as u64;
                let into = match counter {
                    Counter::Sent => &mut row(&mut exporters, exporter).sent,
                    Counter::SendFailed => &mut row(&mut exporters, exporter).send_failed,
                    Counter::EnqueueFailed => &mut row(&mut exporters, exporter).enqueue_failed,
                    Counter::Accepted => report.receiver_accepted_spans.get_or_insert(0),
                    Counter::Refused => report.receiver_refused_spans.get_or_insert(0),
                };
                *into = into.saturating_add(v);
            }
        }
        report.exporters = exporters.into_values().collect();
        let total = |f: fn(&ExporterSpans) -> u64| report.exporters.iter().map(f).fold(0u64, u64::saturating_add);
        report.sent_spans = total(|e| e.sent);
        report.send_failed_spans = total(|e| e.send_failed);
        report.enqueue_failed_spans = total(|e| e.enqueue_failed);
        report.spans_dropped = report.send_failed_spans.saturating_add(report.enqueue_failed_spans);
        let r = &report;
        let counts = [r.sent_spans, r.send_failed_spans, r.enqueue_failed_spans, r.spans_dropped];
        let receivers = [r.receiver_accepted_spans, r.receiver_refused_spans].into_iter().flatten();
        report.saturated = counts.into_iter().chain(receivers).any(|n| n == u64::MAX);
        report
    }
}

/// The samples of one counter name.
#[derive(Default)]
struct Samples {
    /// Samples read.
    count: u64,
    /// Their sum per `exporter` label.
    by_exporter: BTreeMap<Option<String>, f64>,
}

/// The row of one exporter, created empty on first use.
fn row(rows: &mut BTreeMap<Option<String>, ExporterSpans>, exporter: Option<String>) -> &mut ExporterSpans {
    rows.entry(exporter.clone()).or_insert_with(|| ExporterSpans { exporter, ..Default::default() })
}

/// Label names and (unescaped) values, in order.
type Labels<'a> = Vec<(&'a str, Cow<'a, str>)>;

/// One sample line: `name{label="value",…} value [timestamp]`.
#[derive(Debug, PartialEq)]
struct Sample<'a> {
    name: &'a str,
    labels: Labels<'a>,
    value: f64,
}

impl<'a> Sample<'a> {
    fn parse(line: &'a str) -> Option<Sample<'a>> {
        let end = line.find(|c: char| c == '{' || c.is_ascii_whitespace()).unwrap_or(line.len());
        let name = &line[..end];
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
            return None;
        }
        let mut rest = &line[end..];
        let mut labels = Vec::new();
        if let Some(body) = rest.strip_prefix('{') {
            let (parsed, after) = parse_labels(body)?;
            labels = parsed;
            rest = after;
        }
        let value = rest.split_ascii_whitespace().next()?;
        let value = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().ok()?,
        };
        Some(Sample { name, labels, value })
    }

    fn label(&self, key: &str) -> Option<Cow<'a, str>> {
        self.labels.iter().find(|(k, _)| *k == key).map(|(_, v)| v.clone())
    }
}

/// Parses `k="v",k2="v2"}` (after the `{`), unescaping `\\`, `\"` and `\n` in values.
/// Returns the labels and the text after the closing brace.
fn parse_labels(mut s: &str) -> Option<(Labels<'_>, &str)> {
    let mut labels = Vec::new();
    loop {
        s = s.trim_start();
        if let Some(after) = s.strip_prefix('}') {
            return Some((labels, after));
        }
        let (key, after) = s.split_once('=')?;
        let key = key.trim();
        let body = after.trim_start().strip_prefix('"')?;
        let (value, after) = quoted(body)?;
        labels.push((key, value));
        s = after.trim_start();
        s = s.strip_prefix(',').unwrap_or(s);
    }
}

/// The value of a quoted string whose opening quote is already consumed, and the rest.
fn quoted(s: &str) -> Option<(Cow<'_, str>, &str)> {
    let bytes = s.as_bytes();
    let mut i = 0;
    let mut owned: Option<String> = None;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                let v = owned.map_or(Cow::Borrowed(&s[..i]), Cow::Owned);
                return Some((v, &s[i + 1..]));
            }
            b'\\' => {
                let out = owned.get_or_insert_with(|| s[..i].to_owned());
                match bytes.get(i + 1)? {
                    b'n' => out.push('\n'),
                    b'\\' => out.push('\\'),
                    b'"' => out.push('"'),
                    _ => {
                        // Keep an unknown escape as written; the escaped character may be
                        // several bytes long, so step over the whole character.
                        let c = s[i + 1..].chars().next()?;
                        out.push('\\');
                        out.push(c);
                        i += 1 + c.len_utf8();
                        continue;
                    }
                }
                i += 2;
            }
            _ => {
                let len = s[i..].chars().next()?.len_utf8();
                if let Some(out) = owned.as_mut() {
                    out.push_str(&s[i..i + len]);
                }
                i += len;
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaped_multibyte_characters_in_labels_do_not_panic() {
        let r = MetricsReport::parse("otelcol_exporter_sent_spans_total{exporter=\"a\\\u{e9}b\"} 5\n");
        assert_eq!(r.sent_spans, 5);
    }

    #[test]
    fn samples() {
        let s = Sample::parse(r#"otelcol_exporter_sent_spans_total{exporter="otlphttp/braintrust",service_name="otelcol-contrib"} 1.5e+03 1736936625000"#).unwrap();
        assert_eq!((s.name, s.value), ("otelcol_exporter_sent_spans_total", 1500.0));
        assert_eq!(s.label("exporter").as_deref(), Some("otlphttp/braintrust"));
        let s = Sample::parse(r#"m{a="x\"y\\z\n,}", b = "é" ,} 2"#).unwrap();
        assert_eq!(s.labels, vec![("a", Cow::Owned("x\"y\\z\n,}".to_string())), ("b", Cow::Borrowed("é"))]);
        assert_eq!(Sample::parse("up 1").unwrap().labels, vec![]);
        assert_eq!(Sample::parse("m +Inf").unwrap().value, f64::INFINITY);
        for bad in [r#"m{a="unterminated} 1"#, "m{a=1} 2", "m", "m abc", "bad-name 1", r#"m{a="x" 3"#] {
            assert_eq!(Sample::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn total_suffix_and_plain_names_both_read() {
        let plain = MetricsReport::parse("otelcol_exporter_send_failed_spans{exporter=\"e\"} 7\n");
        let total = MetricsReport::parse("otelcol_exporter_send_failed_spans_total{exporter=\"e\"} 7\n");
        assert_eq!(plain, total);
        assert_eq!((plain.send_failed_spans, plain.spans_dropped, plain.series), (7, 7, 1));
    }

    #[test]
    fn total_wins_over_plain_and_created_is_ignored() {
        let text = "\
            otelcol_exporter_sent_spans{exporter=\"e\"} 100\n\
            otelcol_exporter_sent_spans_total{exporter=\"e\"} 90\n\
            otelcol_exporter_sent_spans_created{exporter=\"e\"} 1.7369e+09\n";
        let r = MetricsReport::parse(text);
        assert_eq!((r.sent_spans, r.series), (90, 1));
    }

    #[test]
    fn sums_across_label_sets_and_keeps_exporters_apart() {
        let text = "\
            # HELP otelcol_exporter_sent_spans_total Number of spans successfully sent to destination.\n\
            # TYPE otelcol_exporter_sent_spans_total counter\n\
            otelcol_exporter_sent_spans_total{exporter=\"a\",service_instance_id=\"1\"} 10\n\
            otelcol_exporter_sent_spans_total{exporter=\"a\",service_instance_id=\"2\"} 5\n\
            otelcol_exporter_sent_spans_total{exporter=\"b\"} 1\n\
            otelcol_exporter_enqueue_failed_spans_total{exporter=\"a\"} 3\n\
            otelcol_exporter_send_failed_spans_total 4\n\
            otelcol_receiver_accepted_spans_total{receiver=\"otlp\",transport=\"grpc\"} 20\n\
            otelcol_receiver_accepted_spans_total{receiver=\"otlp\",transport=\"http\"} 2\n\
            otelcol_exporter_queue_size{exporter=\"a\"} 999\n\
            otelcol_exporter_sent_metric_points_total{exporter=\"a\"} 999\n\
            otelcol_exporter_sent_spans_total{exporter=\"a\"} NaN\n\
            garbage line\n";
        let r = MetricsReport::parse(text);
        let e = |name: Option<&str>, sent, send_failed, enqueue_failed| ExporterSpans {
            exporter: name.map(str::to_owned),
            sent,
            send_failed,
            enqueue_failed,
        };
        assert_eq!(r.exporters, vec![e(None, 0, 4, 0), e(Some("a"), 15, 0, 3), e(Some("b"), 1, 0, 0)]);
        assert_eq!((r.sent_spans, r.send_failed_spans, r.enqueue_failed_spans, r.spans_dropped), (16, 4, 3, 7));
        assert_eq!((r.receiver_accepted_spans, r.receiver_refused_spans), (Some(22), None));
        assert_eq!(r.series, 7);
    }

    #[test]
    fn sums_saturate_and_say_so() {
        let text = "\
            otelcol_exporter_send_failed_spans_total{exporter=\"a\"} 1.8e19\n\
            otelcol_exporter_enqueue_failed_spans_total{exporter=\"a\"} 1e19\n\
            otelcol_receiver_refused_spans_total 1e308\n\
            otelcol_receiver_refused_spans_total 1e308\n";
        let r = MetricsReport::parse(text);
        assert_eq!(
            (r.send_failed_spans, r.enqueue_failed_spans),
            (18_000_000_000_000_000_000, 10_000_000_000_000_000_000)
        );
        assert_eq!((r.spans_dropped, r.receiver_refused_spans), (u64::MAX, Some(u64::MAX)));
        assert!(r.saturated);
        assert!(!MetricsReport::parse("otelcol_exporter_sent_spans 5\n").saturated);
    }

    #[test]
    fn not_collector_metrics() {
        assert_eq!(MetricsReport::parse("<html>nope</html>\nup 1\n").series, 0);
    }
}
