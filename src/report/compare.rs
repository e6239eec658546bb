//! `report compare`: runs side by side with deltas against the first, judged against optional
//! thresholds.
//!
//! One command serves two uses: a regression gate in CI (BASE is the main branch's run, NEW
//! the branch's; a crossed threshold exits 1) and "how do platforms compare" (the same corpus
//! and rate sent to several endpoints: each further run is compared with BASE). Latency is always
//! the corrected one: it is what users wait, and it does not hide a stalled server behind fewer
//! requests.
//!
//! A [`Comparison`] (two runs) and [`Comparisons`] (BASE and every other run) are plain data:
//! numbers and flags. The words and cells people read are the renderers' (`render::compared`).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::Report;
use super::round2;

/// Limits NEW is judged by. All are optional; none given means nothing can fail.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Thresholds {
    /// Largest allowed rise of the corrected p50, in percent of BASE's.
    pub max_p50_regression: Option<f64>,
    /// Largest allowed rise of the corrected p99, in percent of BASE's.
    pub max_p99_regression: Option<f64>,
    /// Smallest allowed success rate of NEW (ok / scheduled), percent.
    pub min_success: Option<f64>,
    /// Largest allowed error rate of NEW (failed / sent), percent.
    pub max_error_rate: Option<f64>,
    /// Smallest allowed ratio of NEW's achieved rate to BASE's.
    pub min_rate_ratio: Option<f64>,
}

/// What identifies one side of the comparison.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Side {
    /// The report file as given.
    pub file: String,
    /// When the run started.
    pub started_at: String,
    /// Seconds it lasted.
    pub duration_s: f64,
    /// Endpoint (redacted in the report).
    pub endpoint: String,
    /// Platform preset.
    pub platform: String,
    /// Target rate (`null`: max).
    pub target_rate: Option<f64>,
    /// Requests scheduled.
    pub scheduled: u64,
    /// Stopped by Ctrl-C or SIGTERM.
    pub interrupted: bool,
}

/// An integer quantity (count or µs) in both runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Count {
    /// In BASE.
    pub base: u64,
    /// In NEW.
    pub new: u64,
    /// `new - base`.
    pub delta: i64,
    /// `delta / base` in percent (`null` when BASE is 0 and NEW is not).
    pub change_pct: Option<f64>,
}

/// A real quantity (rate or percentage) in both runs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Value {
    /// In BASE.
    pub base: f64,
    /// In NEW.
    pub new: f64,
    /// `new - base` (percentage points for rates given in percent).
    pub delta: f64,
    /// `delta / base` in percent (`null` when BASE is 0 and NEW is not).
    pub change_pct: Option<f64>,
}

/// One scenario in both runs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ScenarioDelta {
    /// Requests scheduled.
    pub requests: Count,
    /// 2xx.
    pub ok: Count,
    /// Median corrected latency, µs.
    pub p50_us: Count,
    /// 99th percentile corrected latency, µs.
    pub p99_us: Count,
}

/// Both runs' verification: what the platforms stored of what they acknowledged, and how long
/// it took to become visible ([`crate::verify::VerifyReport::visibility_lag`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VerifyDelta {
    /// Where each was read back from.
    pub from: [String; 2],
    /// Traces acknowledged.
    pub acknowledged: Count,
    /// Traces stored whole.
    pub stored: Count,
    /// Acknowledged and not stored (missing, partial or only from an earlier run), percent.
    pub loss_percent: Value,
    /// Median visibility lag, ms (`null` where unmeasured).
    pub lag_p50_ms: Option<Count>,
    /// 99th percentile visibility lag, ms.
    pub lag_p99_ms: Option<Count>,
}

fn verify_delta(base: &Report, new: &Report) -> Option<VerifyDelta> {
    let (b, n) = (base.verify.as_ref()?, new.verify.as_ref()?);
    let (bl, nl) = (b.visibility_lag(), n.visibility_lag());
    let both = |f: fn(&crate::verify::Lag) -> u64| match (&bl, &nl) {
        (Some(x), Some(y)) => Some(count(f(x), f(y))),
        _ => None,
    };
    Some(VerifyDelta {
        from: [b.from.clone(), n.from.clone()],
        acknowledged: count(b.counts.acknowledged, n.counts.acknowledged),
        stored: count(b.counts.stored, n.counts.stored),
        loss_percent: value(b.loss_percent, n.loss_percent),
        lag_p50_ms: both(|l| l.p50),
        lag_p99_ms: both(|l| l.p99),
    })
}

/// What each run's Collector dropped, when both reports carry an analysis
/// (`traceblast analyze … --attach`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DropsDelta {
    /// Spans the log's drop lines threw away (`null` unless both analyses read a log).
    pub spans_dropped_log: Option<Count>,
    /// Spans the metrics count as dropped (`null` unless both read metrics).
    pub spans_dropped_metrics: Option<Count>,
    /// Spans dropped by cause (`http 429`, `queue full`, …); a cause one run lacks counts 0 there.
    pub by_cause: BTreeMap<String, Count>,
    /// Retries the Collectors scheduled.
    pub retries: Count,
}

fn drops_delta(base: &Report, new: &Report) -> Option<DropsDelta> {
    let (b, n) = (base.collector.as_ref()?, new.collector.as_ref()?);
    let both = |x: Option<u64>, y: Option<u64>| Some(count(x?, y?));
    let causes: BTreeSet<&String> = b.by_cause.keys().chain(n.by_cause.keys()).collect();
    let get = |d: &crate::analyze::Drops, k: &String| d.by_cause.get(k).copied().unwrap_or(0);
    Some(DropsDelta {
        spans_dropped_log: both(b.spans_dropped_log, n.spans_dropped_log),
        spans_dropped_metrics: both(b.spans_dropped_metrics, n.spans_dropped_metrics),
        by_cause: causes.into_iter().map(|k| (k.clone(), count(get(b, k), get(n, k)))).collect(),
        retries: count(b.retries, n.retries),
    })
}

/// Spans acknowledged per second of `r`'s run.
fn spans_per_s(r: &Report) -> f64 {
    round2(r.spans.ok as f64 / r.run.duration_s.max(1e-9))
}

/// What a threshold judges, serialized as the flag that set it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Judged {
    /// NEW's corrected p50 against BASE's, percent.
    #[serde(rename = "--max-p50-regression")]
    P50Regression,
    /// NEW's corrected p99 against BASE's, percent.
    #[serde(rename = "--max-p99-regression")]
    P99Regression,
    /// NEW's success rate, percent.
    #[serde(rename = "--min-success")]
    Success,
    /// NEW's error rate of sent requests, percent.
    #[serde(rename = "--max-error-rate")]
    ErrorRate,
    /// NEW's achieved rate over BASE's.
    #[serde(rename = "--min-rate-ratio")]
    RateRatio,
}

impl Judged {
    /// The flag that sets the threshold.
    pub fn flag(self) -> &'static str {
        match self {
            Judged::P50Regression => "--max-p50-regression",
            Judged::P99Regression => "--max-p99-regression",
            Judged::Success => "--min-success",
            Judged::ErrorRate => "--max-error-rate",
            Judged::RateRatio => "--min-rate-ratio",
        }
    }
}

/// One threshold and how NEW fared.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Check {
    /// What it judges (in JSON: the flag that set it, e.g. `--max-p99-regression`).
    #[serde(rename = "flag")]
    pub judged: Judged,
    /// Its value (percent, or a ratio for `--min-rate-ratio`).
    pub limit: f64,
    /// The measured value in the same unit (`null` when it cannot be computed).
    pub value: Option<f64>,
    /// Whether the limit was crossed (a value that cannot be computed crosses it).
    pub crossed: bool,
}

/// Two runs compared.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// The reference run.
    pub base: Side,
    /// The run judged.
    pub new: Side,
    /// `ok / scheduled`, percent.
    pub success_rate: Value,
    /// `failed / (ok + failed)`, percent.
    pub error_rate: Value,
    /// Requests released per second.
    pub achieved_rate: Value,
    /// 2xx answers per second.
    pub ok_per_s: Value,
    /// Spans acknowledged per second of the run (the load platforms compare at).
    pub spans_ok_per_s: Value,
    /// Corrected median, µs.
    pub p50_us: Count,
    /// Corrected 99th percentile, µs.
    pub p99_us: Count,
    /// Corrected 99.9th percentile, µs.
    pub p999_us: Count,
    /// Failures by non-2xx HTTP status (`"503"`), gRPC code (`"UNAVAILABLE"`), or class of
    /// failure without a status (`"refused"`, `"timeout"`, …).
    pub errors: BTreeMap<String, Count>,
    /// Per scenario, by name (a scenario missing from one run counts as zeros there).
    pub scenarios: BTreeMap<String, ScenarioDelta>,
    /// What each platform stored, when both reports were verified (`traceblast verify`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verify: Option<VerifyDelta>,
    /// What each run's Collector dropped, when both reports carry an analysis.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collector: Option<DropsDelta>,
    /// The thresholds given, in a fixed order.
    pub checks: Vec<Check>,
    /// No threshold crossed.
    pub passed: bool,
}

impl Comparison {
    /// The flags of the crossed thresholds.
    pub fn crossed(&self) -> Vec<&'static str> {
        self.checks.iter().filter(|c| c.crossed).map(|c| c.judged.flag()).collect()
    }
}

/// BASE and every further run compared with it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparisons {
    /// BASE against each further run, in the order given.
    pub pairs: Vec<Comparison>,
    /// Each run's own read-back and Collector figures, BASE first (a pair holds them only when
    /// both of its runs have them; the table of several runs shows each run's as it is).
    #[serde(skip)]
    pub own: Vec<Own>,
    /// No threshold crossed by any run.
    pub passed: bool,
}

/// What one run's report says of what was stored and what the Collector dropped, where measured.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Own {
    /// Its read-back.
    pub verify: Option<OwnStored>,
    /// Its Collector's drops.
    pub collector: Option<crate::analyze::Drops>,
}

/// One run's read-back figures.
#[derive(Debug, Clone, PartialEq)]
pub struct OwnStored {
    /// The adapter read from.
    pub from: String,
    /// Traces acknowledged.
    pub acknowledged: u64,
    /// Traces stored whole.
    pub stored: u64,
    /// Acknowledged spans not stored, percent.
    pub loss_percent: f64,
    /// Visibility lag ([`crate::verify::VerifyReport::visibility_lag`]), ms.
    pub lag_p50_ms: Option<u64>,
    /// 99th percentile.
    pub lag_p99_ms: Option<u64>,
}

impl Own {
    fn of(r: &Report) -> Own {
        let verify = r.verify.as_ref().map(|v| OwnStored {
            from: v.from.clone(),
            acknowledged: v.counts.acknowledged,
            stored: v.counts.stored,
            loss_percent: v.loss_percent,
            lag_p50_ms: v.visibility_lag().map(|l| l.p50),
            lag_p99_ms: v.visibility_lag().map(|l| l.p99),
        });
        Own { verify, collector: r.collector.clone() }
    }
}

impl Comparisons {
    /// Every run's side, BASE first.
    pub fn sides(&self) -> Vec<&Side> {
        self.pairs.first().map(|p| &p.base).into_iter().chain(self.pairs.iter().map(|p| &p.new)).collect()
    }
}

/// Compares every run of `runs` (file, report) after the first with the first; at least two.
pub fn compare_all(runs: &[(String, Report)], t: &Thresholds) -> Comparisons {
    let (base_file, base) = &runs[0];
    let pairs: Vec<Comparison> = runs[1..].iter().map(|(file, r)| compare(base_file, base, file, r, t)).collect();
    let passed = pairs.iter().all(|p| p.passed);
    Comparisons { pairs, own: runs.iter().map(|(_, r)| Own::of(r)).collect(), passed }
}

fn change_pct(base: f64, new: f64) -> Option<f64> {
    if base == 0.0 { (new == 0.0).then_some(0.0) } else { Some(round2((new - base) / base * 100.0)) }
}

fn count(base: u64, new: u64) -> Count {
    let delta = (i128::from(new) - i128::from(base)).clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64;
    Count { base, new, delta, change_pct: change_pct(base as f64, new as f64) }
}

fn value(base: f64, new: f64) -> Value {
    Value { base, new, delta: round2(new - base), change_pct: change_pct(base, new) }
}

/// `failed / (ok + failed)` in percent; 0 when nothing was sent.
pub fn error_rate(r: &Report) -> f64 {
    let sent = r.requests.ok + r.requests.failed;
    if sent == 0 { 0.0 } else { round2(r.requests.failed as f64 * 100.0 / sent as f64) }
}

fn side(file: &str, r: &Report) -> Side {
    Side {
        file: file.to_string(),
        started_at: r.run.started_at.clone(),
        duration_s: r.run.duration_s,
        endpoint: r.run.endpoint.clone(),
        platform: r.run.platform.clone(),
        target_rate: r.rate.target,
        scheduled: r.requests.scheduled,
        interrupted: r.interrupted,
    }
}

/// Failures by key: non-2xx HTTP statuses (`503`), gRPC codes other than OK (`UNAVAILABLE`),
/// and failures without a status by class (`refused`, `timeout`, `tls_untrusted`, …; by kind —
/// `timeout`, `connection`, `io` — in reports older than the classes), plus `cancelled`.
fn failures(r: &Report) -> BTreeMap<String, u64> {
    let statuses = r.status.iter().filter(|(k, _)| !k.starts_with('2'));
    let grpc = r.grpc_status.iter().filter(|(k, _)| k.as_str() != "OK");
    let mut out: BTreeMap<String, u64> = statuses.chain(grpc).map(|(k, v)| (k.clone(), *v)).collect();
    if r.error_classes.is_empty() {
        out.extend(r.errors.iter().map(|(k, v)| (k.clone(), *v)));
    } else {
        out.extend(r.error_classes.iter().map(|(k, e)| (k.clone(), e.count)));
        out.extend(r.errors.get_key_value("cancelled").map(|(k, v)| (k.clone(), *v)));
    }
    out
}

/// Compares NEW (`new`, read from `new_file`) with BASE and applies the thresholds.
pub fn compare(base_file: &str, base: &Report, new_file: &str, new: &Report, t: &Thresholds) -> Comparison {
    let (bl, nl) = (&base.latency_us.corrected, &new.latency_us.corrected);
    let (bf, nf) = (failures(base), failures(new));
    let errors = bf
        .keys()
        .chain(nf.keys())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .map(|k| (k.clone(), count(bf.get(k).copied().unwrap_or(0), nf.get(k).copied().unwrap_or(0))))
        .collect();
    let names: BTreeSet<&String> = base.scenarios.keys().chain(new.scenarios.keys()).collect();
    let scenarios = names
        .into_iter()
        .map(|name| {
            let (b, n) = (
                base.scenarios.get(name).copied().unwrap_or_default(),
                new.scenarios.get(name).copied().unwrap_or_default(),
            );
            let d = ScenarioDelta {
                requests: count(b.requests, n.requests),
                ok: count(b.ok, n.ok),
                p50_us: count(b.p50_us, n.p50_us),
                p99_us: count(b.p99_us, n.p99_us),
            };
            (name.clone(), d)
        })
        .collect();
    let mut c = Comparison {
        base: side(base_file, base),
        new: side(new_file, new),
        success_rate: value(base.success_rate, new.success_rate),
        error_rate: value(error_rate(base), error_rate(new)),
        achieved_rate: value(base.rate.achieved, new.rate.achieved),
        ok_per_s: value(base.rate.ok_per_s, new.rate.ok_per_s),
        spans_ok_per_s: value(spans_per_s(base), spans_per_s(new)),
        verify: verify_delta(base, new),
        collector: drops_delta(base, new),
        p50_us: count(bl.p50, nl.p50),
        p99_us: count(bl.p99, nl.p99),
        p999_us: count(bl.p999, nl.p999),
        errors,
        scenarios,
        checks: Vec::new(),
        passed: true,
    };
    c.checks = checks(&c, t, new);
    c.passed = c.checks.iter().all(|k| !k.crossed);
    c
}

fn regression(judged: Judged, limit: f64, d: &Count) -> Check {
    // Judge the exact change, not the rounded one shown (+10.004 % crosses a 10 % limit).
    let exact = (d.base > 0).then(|| (d.new as f64 - d.base as f64) / d.base as f64 * 100.0).or(d.change_pct);
    Check { judged, limit, value: d.change_pct, crossed: exact.is_none_or(|p| p > limit) }
}

/// `ok / scheduled` in percent, unrounded (100 when nothing was scheduled).
pub fn exact_success(r: &Report) -> f64 {
    if r.requests.scheduled == 0 { 100.0 } else { r.requests.ok as f64 * 100.0 / r.requests.scheduled as f64 }
}

fn checks(c: &Comparison, t: &Thresholds, new: &Report) -> Vec<Check> {
    let mut out = Vec::new();
    if let Some(limit) = t.max_p50_regression {
        out.push(regression(Judged::P50Regression, limit, &c.p50_us));
    }
    if let Some(limit) = t.max_p99_regression {
        out.push(regression(Judged::P99Regression, limit, &c.p99_us));
    }
    if let Some(limit) = t.min_success {
        let crossed = exact_success(new) < limit;
        out.push(Check { judged: Judged::Success, limit, value: Some(c.success_rate.new), crossed });
    }
    if let Some(limit) = t.max_error_rate {
        let sent = new.requests.ok + new.requests.failed;
        let crossed = sent > 0 && new.requests.failed as f64 * 100.0 / sent as f64 > limit;
        out.push(Check { judged: Judged::ErrorRate, limit, value: Some(c.error_rate.new), crossed });
    }
    if let Some(limit) = t.min_rate_ratio {
        let value = rate_ratio(&c.achieved_rate);
        out.push(Check { judged: Judged::RateRatio, limit, value, crossed: value.is_none_or(|r| r < limit) });
    }
    out
}

/// NEW's achieved rate over BASE's, to four decimals (`None` when BASE achieved nothing).
pub fn rate_ratio(a: &Value) -> Option<f64> {
    (a.base > 0.0).then(|| (a.new / a.base * 10_000.0).round() / 10_000.0)
}

/// Runs and thresholds the comparison's tests and its renderers' tests share.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;
    use crate::report::model::{Percentiles, ScenarioReport};

    pub fn run(ok: u64, failed: u64, p50: u64, p99: u64, achieved: f64) -> Report {
        let mut r = Report::default();
        r.requests.scheduled = ok + failed;
        r.requests.ok = ok;
        r.requests.failed = failed;
        r.success_rate = crate::report::percent(ok, ok + failed);
        r.rate.achieved = achieved;
        r.latency_us.corrected = Percentiles { count: ok + failed, p50, p99, p999: p99 * 2, ..Default::default() };
        r.status.insert("200".into(), ok);
        if failed > 0 {
            r.status.insert("503".into(), failed);
        }
        r.scenarios.insert(
            "simple_query".into(),
            ScenarioReport { requests: ok + failed, ok, p50_us: p50, p99_us: p99, avg_bytes: 1.0 },
        );
        r
    }

    /// Every threshold, each just below what `run(1000, 0, 500, 1000, 100.0)` →
    /// `run(995, 5, 550, 1100, 95.0)` reaches: all crossed.
    pub fn past() -> Thresholds {
        Thresholds {
            max_p50_regression: Some(9.99),
            max_p99_regression: Some(9.99),
            min_success: Some(99.51),
            max_error_rate: Some(0.49),
            min_rate_ratio: Some(0.951),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::{past, run};
    use super::*;

    #[test]
    fn spans_a_second_and_what_each_platform_stored() {
        use crate::verify::{Counts, Lag, VerifyReport};
        let verified = |from: &str, stored, loss, p99| VerifyReport {
            from: from.into(),
            counts: Counts { acknowledged: 100, stored, ..Counts::default() },
            loss_percent: loss,
            sampled_lag_ms: Some(Lag { p50: p99 / 2, p99, ..Lag::default() }),
            ..VerifyReport::default()
        };
        let (mut a, mut b) = (run(100, 0, 500, 1000, 10.0), run(100, 0, 500, 1000, 10.0));
        (a.spans.ok, b.spans.ok, a.run.duration_s, b.run.duration_s) = (5_000, 5_000, 10.0, 20.0);
        let c = compare("a", &a, "b", &b, &Thresholds::default());
        assert_eq!((c.spans_ok_per_s.base, c.spans_ok_per_s.new), (500.0, 250.0));
        assert_eq!(c.verify, None, "only when both were verified");
        (a.verify, b.verify) = (Some(verified("sink", 100, 0.0, 200)), Some(verified("phoenix", 90, 10.0, 30_000)));
        let v = compare("a", &a, "b", &b, &Thresholds::default()).verify.unwrap();
        assert_eq!(v.from, ["sink", "phoenix"]);
        assert_eq!((v.stored.delta, v.loss_percent.delta), (-10, 10.0));
        assert_eq!(v.lag_p99_ms.unwrap(), Count { base: 200, new: 30_000, delta: 29_800, change_pct: Some(14_900.0) });
        let text = crate::report::Render::render(
            &crate::report::text::Text,
            &compare("a", &a, "b", &b, &Thresholds::default()),
        );
        assert!(text.contains("stored (verify: sink / phoenix)") && text.contains("visibility lag p99"), "{text}");
    }

    #[test]
    fn deltas_and_failures_by_status() {
        let c =
            compare("a", &run(1000, 0, 500, 1000, 100.0), "b", &run(990, 10, 550, 1500, 95.0), &Thresholds::default());
        assert_eq!(c.p50_us, Count { base: 500, new: 550, delta: 50, change_pct: Some(10.0) });
        assert_eq!(c.p99_us.change_pct, Some(50.0));
        assert_eq!(c.success_rate.delta, -1.0);
        assert_eq!(c.error_rate.new, 1.0);
        assert_eq!(c.achieved_rate.change_pct, Some(-5.0));
        assert_eq!(c.errors.keys().collect::<Vec<_>>(), ["503"], "2xx is not an error");
        assert_eq!(c.errors["503"].delta, 10);
        assert_eq!(c.scenarios["simple_query"].ok.delta, -10);
        assert!(c.passed && c.checks.is_empty());
    }

    #[test]
    fn failures_by_class_and_grpc_code() {
        use crate::report::model::ErrorClassReport;
        let mut r = run(10, 6, 500, 1000, 10.0);
        r.status.remove("503");
        r.errors = [("connection".to_string(), 3), ("io".to_string(), 1), ("cancelled".to_string(), 1)].into();
        r.error_classes = [("refused", 3), ("reset", 1)]
            .map(|(k, n)| (k.to_string(), ErrorClassReport { count: n, sample: String::new() }))
            .into();
        r.grpc_status = [("OK".to_string(), 10), ("UNAVAILABLE".to_string(), 1)].into();
        let c = compare("a", &run(10, 0, 500, 1000, 10.0), "b", &r, &Thresholds::default());
        let new: Vec<(&str, u64)> = c.errors.iter().map(|(k, v)| (k.as_str(), v.new)).collect();
        assert_eq!(new, [("UNAVAILABLE", 1), ("cancelled", 1), ("refused", 3), ("reset", 1)]);
        // A report from before the classes: by kind.
        r.error_classes.clear();
        let c = compare("a", &run(10, 0, 500, 1000, 10.0), "b", &r, &Thresholds::default());
        assert_eq!(c.errors.keys().collect::<Vec<_>>(), ["UNAVAILABLE", "cancelled", "connection", "io"]);
    }

    #[test]
    fn thresholds_cross_exactly_past_their_limit() {
        let base = run(1000, 0, 500, 1000, 100.0);
        let new = run(995, 5, 550, 1100, 95.0);
        let at_limit = Thresholds {
            max_p50_regression: Some(10.0),
            max_p99_regression: Some(10.0),
            min_success: Some(99.5),
            max_error_rate: Some(0.5),
            min_rate_ratio: Some(0.95),
        };
        let c = compare("a", &base, "b", &new, &at_limit);
        assert!(c.passed, "{:#?}", c.checks);
        let c = compare("a", &base, "b", &new, &past());
        assert_eq!(
            c.crossed(),
            ["--max-p50-regression", "--max-p99-regression", "--min-success", "--max-error-rate", "--min-rate-ratio"]
        );
        let values: Vec<Option<f64>> = c.checks.iter().map(|k| k.value).collect();
        assert_eq!(values, [Some(10.0), Some(10.0), Some(99.5), Some(0.5), Some(0.95)]);
    }

    #[test]
    fn a_base_without_samples_cannot_vouch_for_new() {
        let empty = Report::default();
        let t = Thresholds { max_p99_regression: Some(10.0), min_rate_ratio: Some(0.9), ..Default::default() };
        let c = compare("a", &empty, "b", &run(10, 0, 500, 900, 10.0), &t);
        assert_eq!(c.checks.iter().map(|k| (k.value, k.crossed)).collect::<Vec<_>>(), [(None, true), (None, true)]);
        let c = compare("a", &empty, "b", &empty, &Thresholds { max_p99_regression: Some(10.0), ..t });
        assert!(!c.checks[0].crossed, "0 → 0 is no regression");
    }
}
