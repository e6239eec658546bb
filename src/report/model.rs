//! The report model shared by every renderer (text, JSON, HTML) and by `report merge`.
//!
//! It holds the run's counters, percentiles and per-second series, plus the histograms
//! themselves (HdrHistogram V2, base64) so that reports from several machines can be merged
//! exactly: merged percentiles equal those of one histogram of all samples.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

pub use super::histogram::{decode_histogram, encode_histogram};

/// Version of the report's JSON shape; bumped when a key changes meaning or disappears.
pub const REPORT_VERSION: u32 = 1;

/// Percentiles of one histogram, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    /// Samples.
    pub count: u64,
    /// Smallest.
    pub min: u64,
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 95th percentile.
    pub p95: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Largest.
    pub max: u64,
}

impl Percentiles {
    /// Percentiles of `h` (all zero when empty).
    pub fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Percentiles::default();
        }
        Percentiles {
            count: h.len(),
            min: h.min(),
            mean: (h.mean() * 10.0).round() / 10.0,
            p50: h.value_at_quantile(0.50),
            p90: h.value_at_quantile(0.90),
            p95: h.value_at_quantile(0.95),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
        }
    }
}

/// Request outcome counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requests {
    /// Requests the schedule produced.
    pub scheduled: u64,
    /// 2xx.
    pub ok: u64,
    /// Non-2xx, no response, or cancelled at an interrupt.
    pub failed: u64,
    /// Skipped because `--max-in-flight` requests were in flight.
    pub missed: u64,
    /// Attempts beyond the first.
    pub retries: u64,
    /// In flight when an interrupt's grace period ended (part of `failed`).
    pub cancelled: u64,
}

/// Rates in requests per second.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct RateReport {
    /// The target (`null` for `--rate max`).
    pub target: Option<f64>,
    /// Requests released per second between the first and the last release.
    pub achieved: f64,
    /// 2xx answers per second over the run.
    pub ok_per_s: f64,
}

/// Latency percentiles.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// From the intended send time (coordinated-omission-correct).
    pub corrected: Percentiles,
    /// From the actual first send.
    pub uncorrected: Percentiles,
}

/// Byte counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Bytes {
    /// Body bytes on the wire, all attempts.
    pub sent: u64,
    /// Uncompressed body bytes of sent requests.
    pub raw: u64,
    /// `sent` per sent request.
    pub per_request: f64,
}

/// Span and trace counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spans {
    /// Spans in 2xx requests, minus those the server rejected.
    pub ok: u64,
    /// `partial_success.rejected_spans`, summed (each clamped to its request's spans).
    pub rejected: u64,
    /// Rejected spans servers claimed beyond the spans of their request (clamped away from
    /// `rejected`): a server whose partial-success counts cannot be trusted. Absent when 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub rejected_claimed: u64,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// One class of failure without a status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorClassReport {
    /// Requests that ended in it.
    pub count: u64,
    /// The first error message of the class, one line.
    pub sample: String,
}

/// Trace counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Traces {
    /// Traces in 2xx requests.
    pub ok: u64,
}

/// One scenario's results.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ScenarioReport {
    /// Requests scheduled.
    pub requests: u64,
    /// 2xx.
    pub ok: u64,
    /// Median corrected latency, µs.
    pub p50_us: u64,
    /// 99th percentile corrected latency, µs.
    pub p99_us: u64,
    /// Uncompressed bytes per request.
    pub avg_bytes: f64,
}

/// One wall-clock second.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SeriesPoint {
    /// Unix second.
    pub t: u64,
    /// Requests due in this second.
    pub scheduled: u64,
    /// Requests that completed ok in this second.
    pub ok: u64,
    /// Requests that completed failed in this second.
    pub failed: u64,
    /// Requests due in this second that were missed.
    pub missed: u64,
    /// Body bytes of requests completed in this second.
    pub bytes: u64,
    /// Spans acknowledged by requests completed in this second (absent in reports before it).
    #[serde(default)]
    pub spans: u64,
    /// Median corrected latency of completions in this second, µs.
    pub p50_us: u64,
    /// 99th percentile of the same, µs.
    pub p99_us: u64,
    /// Final statuses of completions in this second (`"0"`: no status).
    pub status: BTreeMap<String, u64>,
    /// That second's latency histogram (HdrHistogram V2, base64), for exact merging.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hist: String,
}

/// One stage of a `--stages` load profile: its plan and what happened in it (by the
/// wall-clock seconds whose middle falls in it; see `report::stages`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StageReport {
    /// Seconds from the schedule's start to the stage's start.
    pub start_s: f64,
    /// And to its end.
    pub end_s: f64,
    /// Target requests/s at its start.
    pub from_rate: f64,
    /// Target requests/s at its end.
    pub to_rate: f64,
    /// Requests the profile puts in it.
    pub expected: u64,
    /// Requests due in its seconds.
    pub scheduled: u64,
    /// Completed ok in its seconds.
    pub ok: u64,
    /// Completed failed in its seconds.
    pub failed: u64,
    /// Due in its seconds and missed.
    pub missed: u64,
    /// Requests released a second (scheduled − missed over its length).
    pub achieved: f64,
    /// Ok answers a second.
    pub ok_per_s: f64,
    /// Corrected latency of requests completed in it, µs.
    pub p50_us: u64,
    /// 90th percentile, µs.
    pub p90_us: u64,
    /// 99th percentile, µs.
    pub p99_us: u64,
    /// 99.9th percentile, µs.
    pub p999_us: u64,
    /// Largest, µs.
    pub max_us: u64,
}

/// Serialized histograms.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Histograms {
    /// Corrected latency.
    pub corrected: String,
    /// Uncorrected latency.
    pub uncorrected: String,
    /// Pacer lateness.
    pub lateness: String,
    /// Corrected latency per scenario.
    pub scenarios: BTreeMap<String, String>,
}

/// Where the traffic came from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CorpusInfo {
    /// File path as given.
    pub path: String,
    /// Seed.
    pub seed: u64,
    /// Traces in the file.
    pub count: u64,
    /// Records in the file.
    pub records: u64,
    /// Scenario-set hash.
    pub scenario_set_hash: String,
    /// Generator version.
    pub generator_version: u32,
    /// Mix.
    pub mix: String,
}

/// How the run was configured (secrets redacted).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// RFC 3339 start of the schedule.
    pub started_at: String,
    /// Seconds from the schedule's start to the last completion.
    pub duration_s: f64,
    /// Why scheduling stopped: `corpus`, `requests`, `duration`, `interrupted` or `error`.
    pub ended_by: String,
    /// With `ended_by: error`, what failed (the command exited 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The key trace and span IDs were remapped with (16 hex digits): `replay --id-key` with it
    /// resends this run's exact IDs. Absent with `--no-rewrite` (IDs sent as stored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_key: Option<String>,
    /// Endpoint, without credentials.
    pub endpoint: String,
    /// Platform preset.
    pub platform: String,
    /// Headers sent, secret values replaced by `<redacted>`.
    pub headers: Vec<(String, String)>,
    /// Every option that shaped the traffic.
    pub options: BTreeMap<String, String>,
}

/// A replay report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// [`REPORT_VERSION`].
    pub report_version: u32,
    /// `traceblast <version>`.
    pub tool: String,
    /// Stopped by Ctrl-C or SIGTERM.
    pub interrupted: bool,
    /// Run configuration.
    pub run: RunInfo,
    /// The corpus.
    pub corpus: CorpusInfo,
    /// Outcome counts: `scheduled == ok + failed + missed`.
    pub requests: Requests,
    /// `ok / scheduled`, percent.
    pub success_rate: f64,
    /// Rates.
    pub rate: RateReport,
    /// Latency percentiles, µs.
    pub latency_us: Latency,
    /// Pacer lateness percentiles, µs.
    pub pacer_lateness_us: Percentiles,
    /// Bytes.
    pub bytes: Bytes,
    /// Spans.
    pub spans: Spans,
    /// Traces.
    pub traces: Traces,
    /// Final HTTP status of each sent request, by code.
    pub status: BTreeMap<String, u64>,
    /// Failures without a status: `timeout`, `connection`, `io`, `cancelled`.
    pub errors: BTreeMap<String, u64>,
    /// Failures without a status by class (`refused`, `dns`, `tls_untrusted`, …), with a
    /// sample message each. Absent when there were none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub error_classes: BTreeMap<String, ErrorClassReport>,
    /// Final gRPC status of each request, by code name (`--protocol grpc`). Absent otherwise.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub grpc_status: BTreeMap<String, u64>,
    /// Per scenario.
    pub scenarios: BTreeMap<String, ScenarioReport>,
    /// Per wall-clock second.
    pub series: Vec<SeriesPoint>,
    /// Per stage of a `--stages` run (absent otherwise).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<StageReport>,
    /// Histograms for exact merging.
    pub histograms: Histograms,
    /// The reports `report merge` combined into this one (empty for a single run). Absent from
    /// the JSON of a single run, so older readers see the same keys.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged_from: Vec<String>,
    /// What the platform stored of what was acknowledged (`traceblast verify`, `replay
    /// --verify`). Absent until verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<crate::verify::VerifyReport>,
    /// What the Collector in front dropped (`traceblast analyze LOG --attach RUN.json`). Absent
    /// until attached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collector: Option<crate::analyze::Drops>,
}
