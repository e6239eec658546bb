//! The one builder of a report's figures. A run's [`Stats`] and the reports `merge` adds up are
//! first turned into [`Totals`] — counts, maps and histograms, nothing derived — and [`fn@derive`]
//! computes every other field from them: percentiles, ratios, averages, rates, the encoded
//! histograms and the stage figures. A merged report is thereby the report of one run that
//! measured everything, with no second derivation to drift from the first.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use super::model::*;
use super::{scenario_name, stages};
use crate::stats::{Second, Stats};

/// A sum of histograms; `None` until one with samples is added (an empty one adds nothing).
#[derive(Debug, Clone, Default)]
pub struct HistSum(Option<Histogram<u64>>);

impl HistSum {
    /// `h` on its own (a copy; nothing when it is empty).
    pub fn of(h: &Histogram<u64>) -> Self {
        HistSum((!h.is_empty()).then(|| h.clone()))
    }

    /// Adds `h`. Histograms of one traceblast share their layout, so this adds counts bucket
    /// by bucket (exact); a different layout is re-recorded value by value.
    pub fn add(&mut self, h: Histogram<u64>) -> Result<(), String> {
        if h.is_empty() {
            return Ok(());
        }
        // hdrhistogram saturates its counters silently, and V2 cannot encode a count past
        // 2^63 - 1 (encoding would fail): a sum that could reach either is refused instead.
        if self.0.as_ref().is_some_and(|sum| sum.len().checked_add(h.len()).is_none_or(|n| n > i64::MAX as u64)) {
            return Err("the histograms' counts add up to more than 2^63 - 1".into());
        }
        match &mut self.0 {
            None => {
                let mut h = h;
                h.auto(true);
                self.0 = Some(h);
            }
            Some(sum) => sum.add(&h).map_err(|e| format!("cannot add this histogram: {e:?}"))?,
        }
        Ok(())
    }

    /// Percentiles of the sum (all zero when empty).
    pub fn percentiles(&self) -> Percentiles {
        self.0.as_ref().map(Percentiles::of).unwrap_or_default()
    }

    /// The sum encoded. The overall and per-scenario histograms are always in a report: an
    /// empty one is written as an empty [`crate::stats::histogram`]; a second's `hist` is
    /// left out (`""`) when it has no samples.
    fn encode(&self, always: bool) -> String {
        match &self.0 {
            Some(h) => encode_histogram(h),
            None if always => encode_histogram(&crate::stats::histogram()),
            None => String::new(),
        }
    }
}

/// One scenario's sums.
#[derive(Debug, Clone, Default)]
pub struct ScenarioTotals {
    /// Requests scheduled.
    pub requests: u64,
    /// Requests ok.
    pub ok: u64,
    /// Uncompressed bytes of its requests (the report states their average).
    pub raw_bytes: u64,
    /// Corrected latency, µs.
    pub latency: HistSum,
}

/// One wall-clock second's sums (a [`SeriesPoint`] without its percentiles).
#[derive(Debug, Clone, Default)]
pub struct SecondTotals {
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
    /// Spans acknowledged by requests completed in this second.
    pub spans: u64,
    /// Final statuses of completions in this second (`"0"`: no status).
    pub status: BTreeMap<String, u64>,
    /// Corrected latency of completions in this second, µs.
    pub latency: HistSum,
}

/// Everything a report is derived from, as sums: what adds up across the shards of a run.
#[derive(Debug, Clone, Default)]
pub struct Totals {
    /// Outcome counts (`cancelled` is part of `failed`).
    pub requests: Requests,
    /// Body bytes on the wire, all attempts.
    pub bytes_sent: u64,
    /// Uncompressed body bytes of sent requests.
    pub bytes_raw: u64,
    /// Acknowledged and rejected spans.
    pub spans: Spans,
    /// Traces in ok requests.
    pub traces: Traces,
    /// Final HTTP status of each sent request, by code.
    pub status: BTreeMap<String, u64>,
    /// Failures without a status, by kind.
    pub errors: BTreeMap<String, u64>,
    /// Failures without a status, by class: count and the first message seen.
    pub error_classes: BTreeMap<String, ErrorClassReport>,
    /// Final gRPC status of each request, by code name.
    pub grpc_status: BTreeMap<String, u64>,
    /// Latency from the intended send time, µs.
    pub corrected: HistSum,
    /// Latency from the first attempt, µs.
    pub uncorrected: HistSum,
    /// Pacer lateness, µs.
    pub lateness: HistSum,
    /// By scenario name.
    pub scenarios: BTreeMap<String, ScenarioTotals>,
    /// By Unix second.
    pub seconds: BTreeMap<u64, SecondTotals>,
}

/// What a report states but does not sum: given by the caller, not derived.
#[derive(Debug, Clone, Default)]
pub struct ReportFrame {
    /// Run configuration, redacted; its `duration_s` is what `rate.ok_per_s` divides by.
    pub run: RunInfo,
    /// The corpus.
    pub corpus: CorpusInfo,
    /// Target rate (`None` for max).
    pub target_rate: Option<f64>,
    /// Achieved release rate.
    pub achieved_rate: f64,
    /// Stopped by Ctrl-C or SIGTERM.
    pub interrupted: bool,
    /// `--stages`: each stage's plan ([`stages::planned`]); [`fn@derive`] fills the figures.
    pub stages: Vec<StageReport>,
    /// The reports a merge combined (empty for a single run).
    pub merged_from: Vec<String>,
}

/// `map` with its keys as strings (the report's keys).
fn keyed<K: ToString>(map: &BTreeMap<K, u64>) -> BTreeMap<String, u64> {
    map.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

impl Totals {
    /// The sums of a run: scenario ids named by `names`, `cancelled` requests (already in
    /// `stats.failed`).
    pub fn of_run(stats: &Stats, names: &[String], cancelled: u64) -> Totals {
        let s = stats;
        Totals {
            requests: Requests {
                scheduled: s.scheduled,
                ok: s.ok,
                failed: s.failed,
                missed: s.missed,
                retries: s.retries,
                cancelled,
            },
            bytes_sent: s.bytes_wire,
            bytes_raw: s.bytes_raw,
            spans: Spans { ok: s.spans_ok, rejected: s.rejected_spans, rejected_claimed: s.rejected_claimed },
            traces: Traces { ok: s.traces_ok },
            status: keyed(&s.status),
            errors: keyed(&s.errors),
            error_classes: s
                .error_classes
                .iter()
                .map(|(k, (count, sample))| (k.to_string(), ErrorClassReport { count: *count, sample: sample.clone() }))
                .collect(),
            grpc_status: keyed(&s.grpc_status),
            corrected: HistSum::of(&s.corrected),
            uncorrected: HistSum::of(&s.uncorrected),
            lateness: HistSum::of(&s.lateness),
            scenarios: s
                .scenarios
                .iter()
                .map(|(id, sc)| {
                    let totals = ScenarioTotals {
                        requests: sc.requests,
                        ok: sc.ok,
                        raw_bytes: sc.raw_bytes,
                        latency: HistSum::of(&sc.latency),
                    };
                    (scenario_name(names, *id), totals)
                })
                .collect(),
            seconds: s.series.iter().map(|(t, sec)| (*t, SecondTotals::of(sec))).collect(),
        }
    }
}

impl SecondTotals {
    fn of(s: &Second) -> Self {
        SecondTotals {
            scheduled: s.scheduled,
            ok: s.ok,
            failed: s.failed,
            missed: s.missed,
            bytes: s.bytes,
            spans: s.spans,
            status: keyed(&s.status),
            latency: HistSum::of(&s.latency),
        }
    }

    /// The series point of second `t`.
    fn point(self, t: u64) -> SeriesPoint {
        let p = self.latency.percentiles();
        SeriesPoint {
            t,
            scheduled: self.scheduled,
            ok: self.ok,
            failed: self.failed,
            missed: self.missed,
            bytes: self.bytes,
            spans: self.spans,
            p50_us: p.p50,
            p99_us: p.p99,
            hist: self.latency.encode(false),
            status: self.status,
        }
    }
}

impl ScenarioTotals {
    fn report(&self) -> ScenarioReport {
        let p = self.latency.percentiles();
        ScenarioReport {
            requests: self.requests,
            ok: self.ok,
            p50_us: p.p50,
            p99_us: p.p99,
            avg_bytes: self.raw_bytes as f64 / self.requests.max(1) as f64,
        }
    }
}

/// The report of `t` in `frame`: every field that is not a sum is computed here.
pub fn derive(t: Totals, frame: ReportFrame) -> Report {
    let q = t.requests;
    // Sent: answered or failed, less those cancelled in flight. Saturating: the counts of a
    // report file are checked to add up, not to be consistent with `cancelled`.
    let sent = q.ok.saturating_add(q.failed).saturating_sub(q.cancelled);
    let series: Vec<SeriesPoint> = t.seconds.into_iter().map(|(sec, s)| s.point(sec)).collect();
    let mut stage_reports = frame.stages;
    stages::fill(&mut stage_reports, &frame.run.started_at, &series);
    let histograms = Histograms {
        corrected: t.corrected.encode(true),
        uncorrected: t.uncorrected.encode(true),
        lateness: t.lateness.encode(true),
        scenarios: t.scenarios.iter().map(|(name, s)| (name.clone(), s.latency.encode(true))).collect(),
    };
    Report {
        report_version: REPORT_VERSION,
        tool: format!("traceblast {}", env!("CARGO_PKG_VERSION")),
        interrupted: frame.interrupted,
        requests: q,
        success_rate: percent(q.ok, q.scheduled),
        rate: RateReport {
            target: frame.target_rate,
            achieved: round2(frame.achieved_rate),
            ok_per_s: round2(q.ok as f64 / frame.run.duration_s.max(1e-9)),
        },
        latency_us: Latency { corrected: t.corrected.percentiles(), uncorrected: t.uncorrected.percentiles() },
        pacer_lateness_us: t.lateness.percentiles(),
        bytes: Bytes {
            sent: t.bytes_sent,
            raw: t.bytes_raw,
            per_request: round2(t.bytes_sent as f64 / sent.max(1) as f64),
        },
        spans: t.spans,
        traces: t.traces,
        status: t.status,
        errors: t.errors,
        error_classes: t.error_classes,
        grpc_status: t.grpc_status,
        scenarios: t.scenarios.iter().map(|(name, s)| (name.clone(), s.report())).collect(),
        series,
        stages: stage_reports,
        histograms,
        run: frame.run,
        corpus: frame.corpus,
        merged_from: frame.merged_from,
        verify: None,
        collector: None,
    }
}

/// `part / whole` in percent with two decimals (100 when `whole` is 0).
pub fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 { 100.0 } else { round2(part as f64 * 100.0 / whole as f64) }
}

/// `v` rounded to two decimals (reports keep rates and ratios readable).
pub(crate) fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant, SystemTime};

    use super::*;
    use crate::report::merge::merge;
    use crate::report::{Context, build};
    use crate::stats::{Completion, ErrorClass, Outcome};

    fn context(rate: f64, cancelled: u64) -> Context {
        Context {
            run: RunInfo { started_at: "2027-01-15T08:00:00.000Z".into(), duration_s: 12.0, ..Default::default() },
            corpus: CorpusInfo { path: "c.zst".into(), seed: 7, ..Default::default() },
            scenario_names: vec!["a".into(), "b".into(), "idle".into()],
            target_rate: Some(rate),
            achieved_rate: rate,
            interrupted: false,
            cancelled,
            stages: stages::planned(&[(6.0, rate / 2.0), (6.0, rate)]),
        }
    }

    /// Request `i` of a made-up run with a bit of everything: two scenarios, statuses, gRPC
    /// codes, errors, rejected spans, misses, and a scenario (`idle`) whose requests all miss.
    fn request(s: &mut Stats, start: Instant, i: u64) {
        let due = start + Duration::from_millis(i * 4);
        let scenario = if i.is_multiple_of(31) { 2 } else { (i % 2) as u8 };
        s.scheduled(scenario, due, 900 + i % 37);
        if scenario == 2 || i.is_multiple_of(23) {
            s.missed(due);
            return;
        }
        let outcome = match i % 40 {
            0 => Outcome::Status(503),
            1 => Outcome::Grpc(tonic::Code::Unavailable),
            2 => Outcome::Grpc(tonic::Code::Ok),
            3 => Outcome::Error(ErrorClass::Timeout),
            4 => Outcome::Error(ErrorClass::Refused),
            _ => Outcome::Status(200),
        };
        let latency = Duration::from_micros(150 + (i * 6151) % 70_000);
        s.complete(&Completion {
            scenario,
            intended: due,
            sent: due + Duration::from_micros(i % 200),
            done: due + latency,
            outcome,
            attempts: 1 + u32::from(i.is_multiple_of(7)),
            bytes_wire: 400 + i % 13,
            bytes_raw: 900 + i % 37,
            spans: 6,
            traces: 2,
            rejected_spans: if i.is_multiple_of(11) { 9 } else { 0 },
            message: None,
        });
        s.lateness(Duration::from_micros(i % 250));
    }

    /// Asserts `a == b` naming the first key that differs (a report prints as 50 KB).
    fn assert_same(a: &Report, b: &Report, what: &str) {
        let (ja, jb) = (serde_json::to_value(a).unwrap(), serde_json::to_value(b).unwrap());
        for (key, v) in ja.as_object().unwrap() {
            assert!(jb.get(key) == Some(v), "{what}: {key} differs:\n{v}\n{}", jb[key]);
        }
        assert!(a == b, "{what}: same JSON, different reports");
    }

    #[test]
    fn a_run_and_a_merge_derive_the_same_report() {
        let start = Instant::now();
        let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let (mut all, mut even, mut odd) = (Stats::new(start, wall), Stats::new(start, wall), Stats::new(start, wall));
        for i in 0..2500 {
            request(&mut all, start, i);
            request(if i.is_multiple_of(2) { &mut even } else { &mut odd }, start, i);
        }
        let one = build(&all, context(200.0, 3));
        // `idle` has requests and no latency: its histogram is written empty, in both.
        assert!(!one.histograms.scenarios["idle"].is_empty() && one.scenarios["idle"].p99_us == 0);
        // Alone, a report merges into itself: every field derived again from its sums.
        let mut again = merge(&[("one.json".into(), one.clone())]).unwrap().report;
        assert_eq!(again.merged_from, ["one.json"]);
        again.merged_from.clear();
        assert_same(&again, &one, "one report merged alone");
        // Halves of the run merge into the report of the whole run, field for field.
        let halves = [
            ("even.json".to_string(), build(&even, context(100.0, 1))),
            ("odd.json".to_string(), build(&odd, context(100.0, 2))),
        ];
        let mut merged = merge(&halves).unwrap().report;
        merged.merged_from.clear();
        assert_same(&merged, &one, "halves merged");
    }
}
