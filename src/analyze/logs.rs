//! Reading an OpenTelemetry Collector's own log to find out which spans it dropped, and why.
//!
//! Lines become records in the `record` module (either zap encoding, any prefix); here
//! the records of interest are counted. The texts matched are the Collector's own
//! (exporterhelper, otlphttp exporter, memory_limiter): the drop message carries a suffix in
//! some versions ("… Dropping data. Try enabling retry_on_failure …"), older versions say "No
//! more retries left. Dropping data.", and the exporter is named `name` (older) or
//! `otelcol.component.id` (newer), so matching is by substring and both field names are read.
//! Only lines that mention something of interest are parsed as JSON; the rest cost a few
//! substring scans.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, Read};

use serde::Serialize;

use super::record::{Record, Shape, strip_ansi};

/// What a Collector log says about dropped spans.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LogReport {
    /// Lines read.
    pub lines: u64,
    /// Lines that are Collector log records (console or JSON encoding).
    pub records: u64,
    /// Non-blank lines that are not records, or records of interest that do not parse (stack
    /// traces, truncated lines, other programs' output). Skipped.
    pub unparsed: u64,
    /// Trace drop lines ("… Dropping data …" with `dropped_items`).
    pub drop_events: u64,
    /// Sum of their `dropped_items`: spans the Collector threw away.
    pub spans_dropped: u64,
    /// Drops whose error names an HTTP status, most spans first.
    pub by_status: Vec<StatusDrops>,
    /// Drops whose error names no HTTP status (timeouts, DNS, refused connections).
    pub no_status: NoStatus,
    /// Lines saying the sending queue is full, and the spans those lines dropped.
    pub queue_full: QueueFull,
    /// memory_limiter warnings and refusals.
    pub memory_limiter: MemoryLimiter,
    /// "Exporting failed. Rejecting data." lines: the batch went back to the receiver as an
    /// error (the client may retry). Newer Collectors log this after a "Dropping data" line for
    /// the same batch when the queue is disabled, so these are not added to `spans_dropped`.
    pub rejected: Tally,
    /// "Partial success response" warnings: the backend accepted the request but dropped
    /// `dropped_spans` of it.
    pub partial_success: Tally,
    /// Drop or reject lines of the metrics or logs signal (`data_type`/`otelcol.signal` not
    /// `traces`); their items are not spans and are counted nowhere else.
    pub other_signals: Tally,
    /// "Exporting failed. Will retry the request after interval." lines, by the HTTP status
    /// their error names (`None`: no status, such as a timeout), most first: the backend
    /// pushing back before anything is dropped (the seed's `HTTP 429: Occurrences: 172`).
    pub retries: Vec<StatusRetries>,
    /// Some item count reached 2^64 - 1 and stopped there (sums saturate rather than wrap):
    /// those counts are lower bounds.
    pub saturated: bool,
}

/// Drops attributed to one HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusDrops {
    /// The status the backend answered.
    pub status: u16,
    /// Drop lines with this status.
    pub occurrences: u64,
    /// Sum of their `dropped_items`.
    pub spans_dropped: u64,
    /// Exporters that logged them, sorted.
    pub exporters: Vec<String>,
}

/// Retries the Collector scheduled for one HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusRetries {
    /// The status the backend answered (`null`: none).
    pub status: Option<u16>,
    /// "Will retry the request" lines with it.
    pub occurrences: u64,
}

/// Drops without an HTTP status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NoStatus {
    /// Drop lines.
    pub occurrences: u64,
    /// Sum of their `dropped_items`.
    pub spans_dropped: u64,
    /// The first such error text (shortened), to show what kind of failure it was.
    pub sample: Option<String>,
}

/// Full sending queues.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct QueueFull {
    /// Lines whose message or error says the sending queue is full.
    pub occurrences: u64,
    /// Spans dropped by those of them that are drop lines.
    pub spans_dropped: u64,
}

/// memory_limiter activity.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MemoryLimiter {
    /// "Memory usage is above soft limit. …" lines (refusing data, or forcing a GC).
    pub soft_limit: u64,
    /// "Memory usage is above hard limit. …" lines.
    pub hard_limit: u64,
    /// Lines carrying "data refused due to high memory usage".
    pub refusals: u64,
}

/// A count of lines and of the items they name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    /// Lines.
    pub occurrences: u64,
    /// Items (spans, or data points / log records for `other_signals`).
    pub items: u64,
}

/// Substrings that make a line worth parsing; any other line is only counted.
const NEEDLES: [&str; 7] =
    ["Dropping data", "Rejecting data", "queue is full", "Memory usage is above", REFUSED, PARTIAL, RETRY];
/// exporterhelper's retry sender, before it drops anything.
const RETRY: &str = "Will retry the request";
/// `memorylimiter.ErrDataRefused`, as it appears in errors returned upstream.
const REFUSED: &str = "data refused due to high memory usage";
/// The otlphttp exporter's warning for a partially accepted request.
const PARTIAL: &str = "Partial success response";
/// Longest error text kept as a sample.
const SAMPLE_CHARS: usize = 160;

/// Longest line parsed: a Collector's drop line is a few KB. Longer lines (a binary file, a
/// huge stack dump) are skipped and counted as unparsed, so memory stays bounded.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// Reads a whole log and reports what it says about drops. Only I/O errors fail.
pub fn scan(mut reader: impl BufRead) -> std::io::Result<LogReport> {
    let mut scan = Scan::default();
    let mut buf = Vec::with_capacity(8 << 10);
    loop {
        buf.clear();
        if (&mut reader).take(MAX_LINE_BYTES as u64 + 1).read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        if buf.len() > MAX_LINE_BYTES && !buf.ends_with(b"\n") {
            skip_line(&mut reader)?;
            scan.report.lines += 1;
            scan.report.unparsed += 1;
            continue;
        }
        scan.line(&String::from_utf8_lossy(&buf));
    }
    Ok(scan.finish())
}

/// Consumes the rest of the current line (through its newline), holding none of it.
fn skip_line(reader: &mut impl BufRead) -> std::io::Result<()> {
    loop {
        let available = reader.fill_buf()?;
        if available.is_empty() {
            return Ok(());
        }
        match available.iter().position(|b| *b == b'\n') {
            Some(i) => {
                reader.consume(i + 1);
                return Ok(());
            }
            None => {
                let n = available.len();
                reader.consume(n);
            }
        }
    }
}

/// Finds the HTTP status in an exporter error text, or `None`.
///
/// Recognised forms: otlphttp's "responded with HTTP Status Code 413" (also inside
/// `rpc error: … desc = …`), gRPC's "unexpected HTTP status code received from server: 503",
/// "HTTP status 400" (prometheusremotewrite), "server responded with 429" and raw status lines
/// ("HTTP/2.0 401 Unauthorized"). "Throttle (30s)" names a delay, not a status, and is skipped.
pub fn status_of(error: &str) -> Option<u16> {
    const MARKERS: [&str; 7] = [
        "http status code ",
        "received from server: ",
        "status code: ",
        "http status ",
        "responded with ",
        "http/1.1 ",
        "http/2.0 ",
    ];
    let lower = error.to_ascii_lowercase();
    MARKERS.iter().find_map(|m| lower.match_indices(m).find_map(|(i, _)| three_digit_status(&lower[i + m.len()..])))
}

/// A status at the start of `s`: exactly three digits in 100..=599.
fn three_digit_status(s: &str) -> Option<u16> {
    let b = s.as_bytes();
    if b.len() < 3 || !b[..3].iter().all(u8::is_ascii_digit) || b.get(3).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    s[..3].parse().ok().filter(|n| (100..600).contains(n))
}

/// The running totals while reading.
#[derive(Default)]
struct Scan {
    report: LogReport,
    /// status → (occurrences, spans, exporters)
    statuses: BTreeMap<u16, (u64, u64, BTreeSet<String>)>,
    /// status (or none) → "Will retry the request" lines
    retries: BTreeMap<Option<u16>, u64>,
}

impl Scan {
    fn line(&mut self, raw: &str) {
        self.report.lines += 1;
        let line = strip_ansi(raw.trim_end_matches(['\n', '\r']));
        let shape = Shape::of(&line);
        match shape {
            Shape::Blank => return,
            Shape::Other => {
                self.report.unparsed += 1;
                return;
            }
            Shape::Console { .. } | Shape::Json(_) => {}
        }
        if !NEEDLES.iter().any(|n| line.contains(n)) {
            self.report.records += 1;
            return;
        }
        match Record::parse(&shape) {
            Some(rec) if self.record(&rec) => self.report.records += 1,
            _ => self.report.unparsed += 1,
        }
    }

    /// Counts one record of interest; `false` if it is a drop line without a usable
    /// `dropped_items` (then nothing is counted).
    fn record(&mut self, rec: &Record) -> bool {
        let r = &mut self.report;
        let msg = rec.msg.as_str();
        let error = rec.str(&["error"]).unwrap_or("");
        let memory = msg.starts_with("Memory usage");
        let drop = msg.contains("Dropping data") && !memory;
        let reject = msg.contains("Rejecting data");
        let items = if drop {
            match rec.count(&["dropped_items"]) {
                Some(n) => n,
                None => return false,
            }
        } else if reject {
            rec.count(&["rejected_items", "dropped_items"]).unwrap_or(0)
        } else {
            0
        };
        let traces = rec.str(&["otelcol.signal", "data_type"]).is_none_or(|s| s == "traces");
        if (drop || reject) && !traces {
            r.other_signals.occurrences += 1;
            r.other_signals.items = r.other_signals.items.saturating_add(items);
            return true;
        }
        let queue_full = msg.contains("queue is full") || error.contains("queue is full");
        if queue_full {
            r.queue_full.occurrences += 1;
        }
        if drop {
            r.drop_events += 1;
            r.spans_dropped = r.spans_dropped.saturating_add(items);
            if queue_full {
                r.queue_full.spans_dropped = r.queue_full.spans_dropped.saturating_add(items);
            } else if let Some(status) = status_of(error) {
                let e = self.statuses.entry(status).or_default();
                e.0 += 1;
                e.1 = e.1.saturating_add(items);
                if let Some(name) = rec.str(&["otelcol.component.id", "name"]) {
                    e.2.insert(name.to_owned());
                }
            } else {
                r.no_status.occurrences += 1;
                r.no_status.spans_dropped = r.no_status.spans_dropped.saturating_add(items);
                r.no_status.sample.get_or_insert_with(|| shorten(error));
            }
        } else if reject {
            r.rejected.occurrences += 1;
            r.rejected.items = r.rejected.items.saturating_add(items);
        }
        if msg.contains("Memory usage is above soft limit") {
            r.memory_limiter.soft_limit += 1;
        }
        if msg.contains("Memory usage is above hard limit") {
            r.memory_limiter.hard_limit += 1;
        }
        if msg.contains(REFUSED) || error.contains(REFUSED) {
            r.memory_limiter.refusals += 1;
        }
        if msg.contains(RETRY) {
            *self.retries.entry(status_of(error)).or_default() += 1;
        }
        if msg.contains(PARTIAL) {
            r.partial_success.occurrences += 1;
            let n = rec.count(&["dropped_spans"]).unwrap_or(0);
            r.partial_success.items = r.partial_success.items.saturating_add(n);
        }
        true
    }

    fn finish(mut self) -> LogReport {
        let mut by_status: Vec<StatusDrops> = self
            .statuses
            .into_iter()
            .map(|(status, (occurrences, spans_dropped, ex))| StatusDrops {
                status,
                occurrences,
                spans_dropped,
                exporters: ex.into_iter().collect(),
            })
            .collect();
        by_status.sort_by(|a, b| b.spans_dropped.cmp(&a.spans_dropped).then(a.status.cmp(&b.status)));
        self.report.by_status = by_status;
        let mut retries: Vec<StatusRetries> =
            self.retries.into_iter().map(|(status, occurrences)| StatusRetries { status, occurrences }).collect();
        retries.sort_by(|a, b| b.occurrences.cmp(&a.occurrences).then(a.status.cmp(&b.status)));
        self.report.retries = retries;
        let r = &self.report;
        let items = [
            r.spans_dropped,
            r.no_status.spans_dropped,
            r.queue_full.spans_dropped,
            r.rejected.items,
            r.partial_success.items,
            r.other_signals.items,
        ];
        let saturated = items.into_iter().chain(r.by_status.iter().map(|s| s.spans_dropped)).any(|n| n == u64::MAX);
        self.report.saturated = saturated;
        self.report
    }
}

/// The first `SAMPLE_CHARS` characters of an error text, with an ellipsis if cut.
fn shorten(error: &str) -> String {
    match error.char_indices().nth(SAMPLE_CHARS) {
        Some((i, _)) => format!("{}…", &error[..i]),
        None => error.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    const URL: &str = "https://api.braintrust.dev/otel/v1/traces";

    fn report(text: &str) -> LogReport {
        scan(text.as_bytes()).expect("in-memory read")
    }

    fn console_drop(error: &str, items: u64) -> String {
        format!(
            "2025-01-15T10:23:45.123Z\terror\texporterhelper/queue_sender.go:92\tExporting failed. Dropping data.\t\
             {{\"kind\": \"exporter\", \"data_type\": \"traces\", \"name\": \"otlphttp/braintrust\", \"error\": {}, \"dropped_items\": {items}}}\n",
            Value::from(error)
        )
    }

    fn json_drop(error: &str, items: u64) -> String {
        format!(
            "{{\"level\":\"error\",\"ts\":1736936625.123,\"caller\":\"internal/queue_sender.go:57\",\"msg\":\"Exporting failed. Dropping data.\",\
             \"otelcol.component.id\":\"otlphttp/braintrust\",\"otelcol.component.kind\":\"exporter\",\"otelcol.signal\":\"traces\",\
             \"error\":{},\"dropped_items\":{items}}}\n",
            Value::from(error)
        )
    }

    fn http(status: u16) -> String {
        format!(
            "not retryable error: Permanent error: rpc error: code = Unknown desc = error exporting items, request to {URL} responded with HTTP Status Code {status}, Message=x, Details=[]"
        )
    }

    #[test]
    fn status_from_collector_error_texts() {
        assert_eq!(status_of(&http(413)), Some(413));
        assert_eq!(
            status_of(&format!(
                "Permanent error: error exporting items, request to {URL} responded with HTTP Status Code 400"
            )),
            Some(400)
        );
        let throttled = format!(
            "no more retries left: Throttle (30s), error: rpc error: code = ResourceExhausted desc = error exporting items, request to {URL} responded with HTTP Status Code 429"
        );
        assert_eq!(status_of(&throttled), Some(429));
        let grpc = "max elapsed time expired rpc error: code = Unavailable desc = unexpected HTTP status code received from server: 503 (Service Unavailable)";
        assert_eq!(status_of(grpc), Some(503));
        assert_eq!(status_of("Permanent error: \"HTTP/2.0 401 Unauthorized\\r\\nContent-Length: 0\""), Some(401));
        assert_eq!(status_of("server responded with 429"), Some(429));
        assert_eq!(
            status_of("Permanent error: remote write returned HTTP status 400 Bad Request; err = <nil>"),
            Some(400)
        );
        for none in [
            "Throttle (500ms), error: boom",
            "context deadline exceeded",
            "status code 4130",
            "HTTP Status Code 999",
            "",
        ] {
            assert_eq!(status_of(none), None, "{none}");
        }
    }

    #[test]
    fn console_encoding_with_compose_prefix_and_stack_trace() {
        let text = format!(
            "otel-collector-1  | 2025-01-15T10:23:40.200Z\tinfo\tservice@v0.104.0/service.go:234\tEverything is ready. Begin running and processing data.\n\
             otel-collector-1  | {}\
             otel-collector-1  | go.opentelemetry.io/collector/exporter/exporterhelper.newQueueSender.func1\n\
             otel-collector-1  | \tgo.opentelemetry.io/collector/exporter@v0.104.0/exporterhelper/queue_sender.go:92\n\
             \n",
            console_drop(&http(413), 512)
        );
        let r = report(&text);
        assert_eq!((r.lines, r.records, r.unparsed), (5, 2, 2));
        assert_eq!((r.drop_events, r.spans_dropped), (1, 512));
        assert_eq!(
            r.by_status,
            vec![StatusDrops {
                status: 413,
                occurrences: 1,
                spans_dropped: 512,
                exporters: vec!["otlphttp/braintrust".into()]
            }]
        );
    }

    #[test]
    fn json_encoding_with_newer_field_names() {
        let text = json_drop(&http(409), 128) + &json_drop(&http(409), 64) + &json_drop(&http(503), 10);
        let r = report(&text);
        assert_eq!((r.records, r.unparsed, r.drop_events, r.spans_dropped), (3, 0, 3, 202));
        let got: Vec<(u16, u64, u64)> =
            r.by_status.iter().map(|s| (s.status, s.occurrences, s.spans_dropped)).collect();
        assert_eq!(got, vec![(409, 2, 192), (503, 1, 10)]);
        assert_eq!(r.by_status[0].exporters, vec!["otlphttp/braintrust".to_string()]);
    }

    #[test]
    fn drop_message_variants_and_signals() {
        let old = "2022-11-28T17:36:33.657Z\terror\texporterhelper/queued_retry.go:176\tExporting failed. No more retries left. Dropping data.\t\
                   {\"kind\": \"exporter\", \"data_type\": \"traces\", \"name\": \"otlp\", \"error\": \"max elapsed time expired rpc error: code = DeadlineExceeded desc = context deadline exceeded\", \"dropped_items\": 7}\n";
        let suffix = "{\"level\":\"error\",\"msg\":\"Exporting failed. Dropping data. Try enabling sending_queue to survive temporary failures.\",\"error\":\"HTTP Status Code 502\",\"dropped_items\":3}\n";
        let metrics = "{\"level\":\"error\",\"msg\":\"Exporting failed. Dropping data.\",\"otelcol.signal\":\"metrics\",\"error\":\"x\",\"dropped_items\":30}\n";
        let r = report(&format!("{old}{suffix}{metrics}"));
        assert_eq!((r.drop_events, r.spans_dropped), (2, 10));
        assert_eq!((r.no_status.occurrences, r.no_status.spans_dropped), (1, 7));
        assert!(r.no_status.sample.as_deref().unwrap().starts_with("max elapsed time expired"));
        assert_eq!(r.by_status[0].status, 502);
        assert_eq!(r.other_signals, Tally { occurrences: 1, items: 30 });
    }

    #[test]
    fn queue_full_memory_limiter_rejects_and_partial_success() {
        let text = "\
            2025-01-15T10:24:00.000Z\terror\texporterhelper/queue_sender.go:128\tDropping data because sending_queue is full. Try increasing queue_size.\t{\"kind\": \"exporter\", \"data_type\": \"traces\", \"name\": \"otlphttp/braintrust\", \"dropped_items\": 200}\n\
            {\"level\":\"error\",\"msg\":\"Exporting failed. Rejecting data.\",\"otelcol.signal\":\"traces\",\"error\":\"sending queue is full\",\"rejected_items\":512}\n\
            2025-01-15T10:24:01.000Z\twarn\tmemorylimiter/memorylimiter.go:222\tMemory usage is above soft limit. Refusing data.\t{\"cur_mem_mib\": 6543}\n\
            2025-01-15T10:24:01.500Z\tinfo\tmemorylimiter/memorylimiter.go:200\tMemory usage is above soft limit. Forcing a GC.\t{\"cur_mem_mib\": 6601}\n\
            2025-01-15T10:24:02.000Z\twarn\tmemorylimiter/memorylimiter.go:190\tMemory usage is above hard limit. Forcing a GC.\t{\"cur_mem_mib\": 7100}\n\
            2025-01-15T10:24:03.000Z\tinfo\tinternal/retry_sender.go:126\tExporting failed. Will retry the request after interval.\t{\"name\": \"otlp/gateway\", \"error\": \"rpc error: code = Unavailable desc = data refused due to high memory usage\", \"interval\": \"5.2s\"}\n\
            {\"level\":\"warn\",\"msg\":\"Partial success response\",\"message\":\"2 spans rejected\",\"dropped_spans\":2}\n";
        let r = report(text);
        assert_eq!((r.records, r.unparsed), (7, 0));
        assert_eq!((r.drop_events, r.spans_dropped), (1, 200));
        assert_eq!(r.queue_full, QueueFull { occurrences: 2, spans_dropped: 200 });
        assert!(r.by_status.is_empty());
        assert_eq!(r.rejected, Tally { occurrences: 1, items: 512 });
        assert_eq!(r.memory_limiter, MemoryLimiter { soft_limit: 2, hard_limit: 1, refusals: 1 });
        assert_eq!(r.partial_success, Tally { occurrences: 1, items: 2 });
    }

    #[test]
    fn malformed_lines_are_skipped() {
        let text = "\
            just some text\n\
            {\"level\":\"error\",\"msg\":\"Exporting failed. Dropping data.\",\"dropped_items\":\n\
            2025-01-15T10:23:45.123Z\terror\tx.go:1\tExporting failed. Dropping data.\t{\"kind\": \"exporter\", \"dropped_items\": 5\n\
            2025-01-15T10:23:45.123Z\terror\tx.go:1\tExporting failed. Dropping data.\t{\"error\": \"HTTP Status Code 413\"}\n\
            2025-01-15T10:23:45.123Z\terror\tx.go:1\tExporting failed. Dropping data.\t{\"dropped_items\": \"many\"}\n\
            {\"level\":\"error\",\"msg\":7,\"dropped_items\":1,\"x\":\"Dropping data\"}\n\
            \u{1b}[31mnot\tlevel\tat all\n\
            \u{0}\u{1}\u{fffd}\n";
        let r = report(text);
        assert_eq!((r.lines, r.records, r.unparsed, r.drop_events, r.spans_dropped), (8, 0, 8, 0, 0));
        // Invalid UTF-8 is read lossily, never an error.
        let r = scan(&b"\xff\xfe garbage\n"[..]).unwrap();
        assert_eq!(r.unparsed, 1);
    }

    #[test]
    fn colour_codes_and_crlf_are_stripped() {
        let line = "\u{1b}[36motel-collector-1  |\u{1b}[0m 2025-01-15T10:23:45.123Z\t\u{1b}[31merror\u{1b}[0m\tx.go:1\tExporting failed. Dropping data.\t{\"error\": \"HTTP Status Code 429\", \"dropped_items\": 9}\r\n";
        let r = report(line);
        assert_eq!((r.records, r.spans_dropped, r.by_status[0].status), (1, 9, 429));
    }

    #[test]
    fn item_sums_saturate_and_say_so() {
        let r = report(&(json_drop(&http(413), u64::MAX - 1) + &json_drop(&http(413), 5)));
        assert_eq!((r.drop_events, r.spans_dropped, r.by_status[0].spans_dropped), (2, u64::MAX, u64::MAX));
        assert!(r.saturated);
        assert!(!report(&json_drop(&http(413), 5)).saturated);
        let huge = "{\"level\":\"error\",\"msg\":\"Exporting failed. Dropping data.\",\"dropped_items\":1e30}\n";
        assert!(report(huge).saturated, "a count past 2^64 is read as 2^64 - 1, and said so");
    }

    #[test]
    fn an_endless_line_is_skipped_without_being_held() {
        let long = format!("{}\n{}", "x".repeat(MAX_LINE_BYTES + 10), json_drop(&http(429), 3));
        let r = report(&long);
        assert_eq!((r.lines, r.unparsed, r.records, r.spans_dropped), (2, 1, 1, 3));
        let r = report(&"y".repeat(MAX_LINE_BYTES * 2));
        assert_eq!((r.lines, r.unparsed), (1, 1), "a last line without a newline");
    }

    #[test]
    fn long_samples_are_shortened() {
        assert_eq!(shorten(&"é".repeat(200)).chars().count(), SAMPLE_CHARS + 1);
        assert_eq!(shorten("short"), "short");
    }
}
