//! Measurement: every scheduled request ends in exactly one bucket (ok, failed, missed), and
//! latencies go into HdrHistograms.
//!
//! Latency is recorded twice: from the request's *intended* send time (corrected for
//! coordinated omission: a stalled server makes every request queued behind it late, and that
//! lateness is the users' experience) and from the actual first send (uncorrected, what most
//! load tools report). Pacer lateness — how late the pacer released a request against its
//! schedule — gets its own histogram. A per-second series keyed by wall-clock second makes
//! reports from several machines mergeable.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;

/// Largest latency recorded exactly, in µs (one hour); larger values are clamped.
pub const MAX_US: u64 = 3_600_000_000;

mod recorder;
pub use recorder::{LiveCounts, Recorder, Shard};

/// A latency histogram in microseconds with 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_US, 3).expect("valid bounds")
}

/// Largest latency the per-second histograms resolve (one minute; larger values are clamped).
const SECOND_MAX_US: u64 = 60_000_000;

/// A small histogram for per-second percentiles: 1 significant digit (values within ~6 %) up to a
/// minute, ~1.4 KB instead of ~27 KB, so an hour-long run holds ~5 MB of them, not ~100 MB.
fn second_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, SECOND_MAX_US, 1).expect("valid bounds")
}

/// Records `d` in µs, clamped to the histogram's range.
pub fn record(h: &mut Histogram<u64>, d: Duration) {
    let us = (d.as_micros() as u64).clamp(1, MAX_US);
    h.record(us).expect("value within bounds");
}

/// Why a request failed without an HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ErrorKind {
    /// No response within `--timeout`.
    Timeout,
    /// The connection could not be made (refused, DNS, TLS).
    Connect,
    /// The connection broke during the exchange.
    Io,
}

impl ErrorKind {
    /// Stable name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Timeout => "timeout",
            ErrorKind::Connect => "connection",
            ErrorKind::Io => "io",
        }
    }
}

/// Why a request got no answer, as precisely as the error says: what a user must fix differs
/// between a refused connection, a name that does not resolve and a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ErrorClass {
    /// Nothing listens at the address (ECONNREFUSED).
    Refused,
    /// The host name does not resolve.
    Dns,
    /// The server's certificate is not signed by a trusted authority.
    TlsUntrusted,
    /// The certificate is not valid for the host name.
    TlsName,
    /// The certificate has expired or is not valid yet.
    TlsExpired,
    /// Any other TLS failure: protocol version, handshake, alert.
    TlsProtocol,
    /// No connection within `--timeout`.
    ConnectTimeout,
    /// The connection failed otherwise (unreachable network, …).
    Connect,
    /// The peer reset the connection (ECONNRESET, broken pipe).
    Reset,
    /// The connection closed before the whole response arrived.
    Closed,
    /// A 2xx whose body is not the `ExportTraceServiceResponse` its content type announces.
    BadResponse,
    /// No response within `--timeout`.
    Timeout,
    /// Any other failure during the exchange.
    Io,
}

impl ErrorClass {
    /// Stable name used in reports (`error_classes`).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Refused => "refused",
            ErrorClass::Dns => "dns",
            ErrorClass::TlsUntrusted => "tls_untrusted",
            ErrorClass::TlsName => "tls_name_mismatch",
            ErrorClass::TlsExpired => "tls_expired",
            ErrorClass::TlsProtocol => "tls_protocol",
            ErrorClass::ConnectTimeout => "connect_timeout",
            ErrorClass::Connect => "connect",
            ErrorClass::Reset => "reset",
            ErrorClass::Closed => "closed",
            ErrorClass::BadResponse => "bad_response",
            ErrorClass::Timeout => "timeout",
            ErrorClass::Io => "io",
        }
    }

    /// Every class, in order.
    pub const ALL: [ErrorClass; 13] = [
        ErrorClass::Refused,
        ErrorClass::Dns,
        ErrorClass::TlsUntrusted,
        ErrorClass::TlsName,
        ErrorClass::TlsExpired,
        ErrorClass::TlsProtocol,
        ErrorClass::ConnectTimeout,
        ErrorClass::Connect,
        ErrorClass::Reset,
        ErrorClass::Closed,
        ErrorClass::BadResponse,
        ErrorClass::Timeout,
        ErrorClass::Io,
    ];

    /// The class named `name` ([`ErrorClass::as_str`]).
    pub fn from_name(name: &str) -> Option<ErrorClass> {
        Self::ALL.into_iter().find(|c| c.as_str() == name)
    }

    /// In words, for hints and text reports.
    pub fn describe(self) -> &'static str {
        match self {
            ErrorClass::Refused => "connection refused",
            ErrorClass::Dns => "host name not resolved",
            ErrorClass::TlsUntrusted => "TLS certificate not trusted",
            ErrorClass::TlsName => "TLS certificate not valid for the host name",
            ErrorClass::TlsExpired => "TLS certificate expired or not yet valid",
            ErrorClass::TlsProtocol => "TLS handshake failed",
            ErrorClass::ConnectTimeout => "timeout while connecting",
            ErrorClass::Connect => "connection failed",
            ErrorClass::Reset => "connection reset",
            ErrorClass::Closed => "connection closed mid-response",
            ErrorClass::BadResponse => "malformed response",
            ErrorClass::Timeout => "no response within --timeout",
            ErrorClass::Io => "I/O error",
        }
    }

    /// The coarse kind (the report's `errors` keys, and what retries look at).
    pub fn kind(self) -> ErrorKind {
        match self {
            ErrorClass::Timeout => ErrorKind::Timeout,
            ErrorClass::Reset | ErrorClass::Closed | ErrorClass::BadResponse | ErrorClass::Io => ErrorKind::Io,
            _ => ErrorKind::Connect,
        }
    }
}

/// How a sent request ended (after retries).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// An HTTP status (2xx is ok, anything else failed).
    Status(u16),
    /// A gRPC status code (0, OK, is ok).
    Grpc(tonic::Code),
    /// No status.
    Error(ErrorClass),
}

impl Outcome {
    /// `200`, `grpc UNAVAILABLE`, or the error class (`timeout`, …).
    pub fn name(self) -> String {
        match self {
            Outcome::Status(s) => s.to_string(),
            Outcome::Grpc(c) => format!("grpc {}", crate::grpc::code_name(c)),
            Outcome::Error(c) => c.as_str().to_string(),
        }
    }

    /// Whether this counts as ok.
    pub fn ok(self) -> bool {
        match self {
            Outcome::Status(s) => (200..300).contains(&s),
            Outcome::Grpc(c) => c == tonic::Code::Ok,
            Outcome::Error(_) => false,
        }
    }
}

/// One finished request.
#[derive(Debug, Clone)]
pub struct Completion {
    /// Scenario id of the request (255: mixed).
    pub scenario: u8,
    /// When it was due.
    pub intended: Instant,
    /// When the first attempt started.
    pub sent: Instant,
    /// When the last attempt finished.
    pub done: Instant,
    /// The final outcome.
    pub outcome: Outcome,
    /// Attempts made (1 + retries).
    pub attempts: u32,
    /// Body bytes put on the wire over all attempts.
    pub bytes_wire: u64,
    /// Uncompressed body bytes (once).
    pub bytes_raw: u64,
    /// Spans in the request.
    pub spans: u32,
    /// Traces in the request.
    pub traces: u32,
    /// `partial_success.rejected_spans` of a 2xx answer, as the server claimed it.
    pub rejected_spans: u64,
    /// With an error outcome, its message (secret-free: errors of the connection and TLS
    /// layers, which never carry headers or bodies).
    pub message: Option<String>,
}

/// Counters of one wall-clock second.
#[derive(Debug, Clone)]
pub struct Second {
    /// Requests due in this second.
    pub scheduled: u64,
    /// Requests that completed ok in this second.
    pub ok: u64,
    /// Requests that completed failed in this second.
    pub failed: u64,
    /// Requests due in this second that were missed.
    pub missed: u64,
    /// Final statuses of requests completed in this second (0 = no status).
    pub status: BTreeMap<u16, u64>,
    /// Body bytes sent by requests completed in this second.
    pub bytes: u64,
    /// Spans acknowledged by requests completed in this second.
    pub spans: u64,
    /// Corrected latency of requests completed in this second.
    pub latency: Histogram<u64>,
}

impl Default for Second {
    fn default() -> Self {
        Second {
            scheduled: 0,
            ok: 0,
            failed: 0,
            missed: 0,
            status: BTreeMap::new(),
            bytes: 0,
            spans: 0,
            latency: second_histogram(),
        }
    }
}

/// Per-scenario accumulators.
#[derive(Debug, Clone)]
pub struct ScenarioStats {
    /// Requests scheduled.
    pub requests: u64,
    /// Requests ok.
    pub ok: u64,
    /// Uncompressed bytes of its requests.
    pub raw_bytes: u64,
    /// Corrected latency.
    pub latency: Histogram<u64>,
}

impl Default for ScenarioStats {
    fn default() -> Self {
        ScenarioStats { requests: 0, ok: 0, raw_bytes: 0, latency: histogram() }
    }
}

/// Everything measured in a run.
#[derive(Debug, Clone)]
pub struct Stats {
    /// Monotonic origin of the run.
    pub start: Instant,
    /// Wall-clock time of `start`.
    pub start_wall: SystemTime,
    /// Requests the schedule produced.
    pub scheduled: u64,
    /// 2xx.
    pub ok: u64,
    /// Non-2xx or no response.
    pub failed: u64,
    /// Skipped because the in-flight cap was full.
    pub missed: u64,
    /// Attempts beyond the first.
    pub retries: u64,
    /// Final HTTP status per request (failed and ok).
    pub status: BTreeMap<u16, u64>,
    /// Final gRPC status per request, by code name (`OK`, `UNAVAILABLE`, …).
    pub grpc_status: BTreeMap<&'static str, u64>,
    /// Failures without a status, by kind.
    pub errors: BTreeMap<&'static str, u64>,
    /// Failures without a status, by class: count and the first message seen.
    pub error_classes: BTreeMap<&'static str, (u64, String)>,
    /// Spans in ok requests minus rejected ones.
    pub spans_ok: u64,
    /// Traces in ok requests.
    pub traces_ok: u64,
    /// `partial_success.rejected_spans`, summed (each clamped to its request's spans).
    pub rejected_spans: u64,
    /// Rejected spans servers claimed beyond the spans of their request (clamped away above).
    pub rejected_claimed: u64,
    /// Body bytes on the wire (all attempts).
    pub bytes_wire: u64,
    /// Uncompressed body bytes of sent requests.
    pub bytes_raw: u64,
    /// Latency from the intended send time.
    pub corrected: Histogram<u64>,
    /// Latency from the first attempt.
    pub uncorrected: Histogram<u64>,
    /// How late the pacer released requests.
    pub lateness: Histogram<u64>,
    /// By scenario id.
    pub scenarios: BTreeMap<u8, ScenarioStats>,
    /// By Unix second.
    pub series: BTreeMap<u64, Second>,
}

impl Stats {
    /// Empty stats starting now.
    pub fn new(start: Instant, start_wall: SystemTime) -> Self {
        Stats {
            start,
            start_wall,
            scheduled: 0,
            ok: 0,
            failed: 0,
            missed: 0,
            retries: 0,
            status: BTreeMap::new(),
            grpc_status: BTreeMap::new(),
            errors: BTreeMap::new(),
            error_classes: BTreeMap::new(),
            spans_ok: 0,
            traces_ok: 0,
            rejected_spans: 0,
            rejected_claimed: 0,
            bytes_wire: 0,
            bytes_raw: 0,
            corrected: histogram(),
            uncorrected: histogram(),
            lateness: histogram(),
            scenarios: BTreeMap::new(),
            series: BTreeMap::new(),
        }
    }

    /// The Unix second an instant falls in.
    pub fn second_of(&self, t: Instant) -> u64 {
        let wall =
            if t >= self.start { self.start_wall + (t - self.start) } else { self.start_wall - (self.start - t) };
        wall.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
    }

    fn sec(&mut self, t: Instant) -> &mut Second {
        let s = self.second_of(t);
        self.series.entry(s).or_default()
    }

    /// A request was scheduled (due at `intended`) with `lateness` against its schedule.
    pub fn scheduled(&mut self, scenario: u8, intended: Instant, raw_bytes: u64) {
        self.scheduled += 1;
        let sc = self.scenarios.entry(scenario).or_default();
        sc.requests += 1;
        sc.raw_bytes += raw_bytes;
        self.sec(intended).scheduled += 1;
    }

    /// The pacer released a request `late` after its due time.
    pub fn lateness(&mut self, late: Duration) {
        record(&mut self.lateness, late);
    }

    /// A scheduled request was skipped because the in-flight cap was full.
    pub fn missed(&mut self, intended: Instant) {
        self.missed += 1;
        self.sec(intended).missed += 1;
    }

    /// A sent request finished.
    pub fn complete(&mut self, c: &Completion) {
        let corrected = c.done.saturating_duration_since(c.intended);
        let uncorrected = c.done.saturating_duration_since(c.sent);
        record(&mut self.corrected, corrected);
        record(&mut self.uncorrected, uncorrected);
        self.retries += u64::from(c.attempts.saturating_sub(1));
        self.bytes_wire += c.bytes_wire;
        self.bytes_raw += c.bytes_raw;
        let ok = c.outcome.ok();
        // The per-second series counts by HTTP status: a gRPC code under its HTTP equivalent,
        // a failure without a status under 0.
        let second_code = match c.outcome {
            Outcome::Status(s) => {
                *self.status.entry(s).or_default() += 1;
                s
            }
            Outcome::Grpc(g) => {
                *self.grpc_status.entry(crate::grpc::code_name(g)).or_default() += 1;
                crate::grpc::http_for_code(g)
            }
            Outcome::Error(class) => {
                *self.errors.entry(class.kind().as_str()).or_default() += 1;
                let e = self.error_classes.entry(class.as_str()).or_default();
                e.0 += 1;
                if e.1.is_empty() {
                    e.1 = sample(c.message.as_deref().unwrap_or(class.describe()));
                }
                0
            }
        };
        if ok {
            // A server may claim more rejected spans than the request carried (40,000 of 207
            // was seen); only the request's own can have been rejected.
            let rejected = c.rejected_spans.min(u64::from(c.spans));
            self.ok += 1;
            self.spans_ok += u64::from(c.spans) - rejected;
            self.traces_ok += u64::from(c.traces);
            self.rejected_spans += rejected;
            self.rejected_claimed += c.rejected_spans - rejected;
        } else {
            self.failed += 1;
        }
        let sc = self.scenarios.entry(c.scenario).or_default();
        record(&mut sc.latency, corrected);
        if ok {
            sc.ok += 1;
        }
        let s = self.sec(c.done);
        if ok {
            s.ok += 1;
        } else {
            s.failed += 1;
        }
        *s.status.entry(second_code).or_default() += 1;
        s.bytes += c.bytes_wire;
        if ok {
            s.spans += u64::from(c.spans) - c.rejected_spans.min(u64::from(c.spans));
        }
        s.latency.record((corrected.as_micros() as u64).clamp(1, SECOND_MAX_US)).expect("value within bounds");
    }

    /// Requests accounted for: always equal to `scheduled` once in-flight requests finish.
    pub fn accounted(&self) -> u64 {
        self.ok + self.failed + self.missed
    }
}

/// A message bounded for a report: one line, at most 200 characters.
fn sample(m: &str) -> String {
    let line = m.lines().next().unwrap_or_default();
    match line.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &line[..i]),
        None => line.to_string(),
    }
}

/// Adds `b` into `a` (same layout: bucket by bucket; otherwise value by value).
pub(crate) fn add_histogram(a: &mut Histogram<u64>, b: &Histogram<u64>) {
    if b.is_empty() {
        return;
    }
    if a.add(b).is_err() {
        for v in b.iter_recorded() {
            let _ = a.record_n(v.value_iterated_to(), v.count_at_value());
        }
    }
}

impl Second {
    fn merge(&mut self, o: Second) {
        self.scheduled += o.scheduled;
        self.ok += o.ok;
        self.failed += o.failed;
        self.missed += o.missed;
        for (k, v) in o.status {
            *self.status.entry(k).or_default() += v;
        }
        self.bytes += o.bytes;
        self.spans += o.spans;
        add_histogram(&mut self.latency, &o.latency);
    }
}

impl Stats {
    /// Adds `o` (another shard of the same run: same start) into these stats.
    pub fn merge(&mut self, o: Stats) {
        self.scheduled += o.scheduled;
        self.ok += o.ok;
        self.failed += o.failed;
        self.missed += o.missed;
        self.retries += o.retries;
        self.rejected_claimed += o.rejected_claimed;
        for (k, v) in o.status {
            *self.status.entry(k).or_default() += v;
        }
        for (k, v) in o.grpc_status {
            *self.grpc_status.entry(k).or_default() += v;
        }
        for (k, v) in o.errors {
            *self.errors.entry(k).or_default() += v;
        }
        for (k, (n, sample)) in o.error_classes {
            let e = self.error_classes.entry(k).or_default();
            e.0 += n;
            if e.1.is_empty() {
                e.1 = sample;
            }
        }
        self.spans_ok += o.spans_ok;
        self.traces_ok += o.traces_ok;
        self.rejected_spans += o.rejected_spans;
        self.bytes_wire += o.bytes_wire;
        self.bytes_raw += o.bytes_raw;
        add_histogram(&mut self.corrected, &o.corrected);
        add_histogram(&mut self.uncorrected, &o.uncorrected);
        add_histogram(&mut self.lateness, &o.lateness);
        for (id, sc) in o.scenarios {
            let mine = self.scenarios.entry(id).or_default();
            mine.requests += sc.requests;
            mine.ok += sc.ok;
            mine.raw_bytes += sc.raw_bytes;
            add_histogram(&mut mine.latency, &sc.latency);
        }
        for (t, sec) in o.series {
            self.series.entry(t).or_default().merge(sec);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn completion(start: Instant, intended_ms: u64, sent_ms: u64, done_ms: u64, outcome: Outcome) -> Completion {
        Completion {
            scenario: 0,
            intended: start + Duration::from_millis(intended_ms),
            sent: start + Duration::from_millis(sent_ms),
            done: start + Duration::from_millis(done_ms),
            outcome,
            attempts: 1,
            bytes_wire: 100,
            bytes_raw: 300,
            spans: 5,
            traces: 1,
            rejected_spans: 0,
            message: None,
        }
    }

    #[test]
    fn every_request_lands_in_one_bucket() {
        let start = Instant::now();
        let mut s = Stats::new(start, SystemTime::now());
        for i in 0..10 {
            s.scheduled(0, start + Duration::from_millis(i * 10), 300);
        }
        for i in 0..6 {
            s.complete(&completion(start, i * 10, i * 10, i * 10 + 5, Outcome::Status(200)));
        }
        s.complete(&completion(start, 60, 60, 70, Outcome::Status(503)));
        s.complete(&completion(start, 70, 70, 80, Outcome::Error(ErrorClass::Timeout)));
        s.missed(start + Duration::from_millis(80));
        s.missed(start + Duration::from_millis(90));
        assert_eq!((s.scheduled, s.ok, s.failed, s.missed), (10, 6, 2, 2));
        assert_eq!(s.accounted(), s.scheduled);
        assert_eq!(s.status.get(&503), Some(&1));
        assert_eq!(s.errors.get("timeout"), Some(&1));
        assert_eq!(s.spans_ok, 30);
        let per_second: u64 = s.series.values().map(|x| x.ok + x.failed + x.missed).sum();
        assert_eq!(per_second, 10);
    }

    #[test]
    fn corrected_latency_includes_the_wait_before_sending() {
        let start = Instant::now();
        let mut s = Stats::new(start, SystemTime::now());
        // Due at 0, sent at 900 ms (stuck behind a stall), answered at 1000 ms.
        s.complete(&completion(start, 0, 900, 1000, Outcome::Status(200)));
        assert!(s.corrected.value_at_quantile(0.5) >= 999_000);
        let u = s.uncorrected.value_at_quantile(0.5);
        assert!((99_000..=101_000).contains(&u), "{u}");
    }
}
