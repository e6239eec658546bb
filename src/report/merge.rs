//! `report merge`: one report from the reports of several shards of one run.
//!
//! A large test sends from several machines (`replay --shard K/N`), each writing its own
//! report. Merging must give the report one machine would have written had it measured
//! everything, so nothing here averages percentiles: the serialized HdrHistograms are decoded,
//! added, and every figure is derived from the sums by the builder a run's report uses
//! ([`mod@super::build`]) — merged percentiles equal those of one histogram of all samples. The
//! per-second series is aligned on wall-clock seconds (`t`), which is why `stats` keys it by Unix
//! second rather than by offset from the start.
//!
//! Shards run at the same time, so rates add up: the targets (each shard sends rate/N) and
//! the achieved rates are summed; `ok_per_s` is recomputed over the merged time window.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use super::Report;
use super::build::{HistSum, ReportFrame, Totals, derive};
use super::model::*;

/// A merged report and what the caller should hear about it.
#[derive(Debug, Clone)]
pub struct Merged {
    /// The merged report.
    pub report: Report,
    /// Inputs that look like they were not shards of one run (merged anyway).
    pub warnings: Vec<String>,
}

/// Adds the histogram `encoded` (empty: nothing) into `sum`; errors are prefixed with
/// `origin()`.
fn add_histogram(sum: &mut HistSum, encoded: &str, origin: impl Fn() -> String) -> Result<(), String> {
    if encoded.is_empty() {
        return Ok(());
    }
    let h = decode_histogram(encoded).map_err(|e| format!("{}: {e}", origin()))?;
    sum.add(h).map_err(|e| format!("{}: {e}", origin()))
}

/// Distinct values in order of first appearance, joined with `, `.
fn unify<'a>(values: impl IntoIterator<Item = &'a str>) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for v in values {
        if !seen.contains(&v) {
            seen.push(v);
        }
    }
    seen.join(", ")
}

/// `into += v`, or an error naming `file` and the field when the sum passes 2^64 − 1.
fn add(into: &mut u64, v: u64, file: &str, field: impl std::fmt::Display) -> Result<(), String> {
    *into = into.checked_add(v).ok_or_else(|| format!("{file}: {field}: the sum over the inputs passes 2^64 - 1"))?;
    Ok(())
}

fn add_counts(
    into: &mut BTreeMap<String, u64>,
    from: &BTreeMap<String, u64>,
    file: &str,
    field: &str,
) -> Result<(), String> {
    for (k, v) in from {
        add(into.entry(k.clone()).or_default(), *v, file, format_args!("{field}.{k}"))?;
    }
    Ok(())
}

/// `scheduled == ok + failed + missed`: every scheduled request ends in exactly one of them. A
/// report where they disagree was edited or damaged, and its sums would be wrong.
fn check_outcomes(file: &str, q: &Requests) -> Result<(), String> {
    let ended = q.ok.checked_add(q.failed).and_then(|s| s.checked_add(q.missed));
    if ended != Some(q.scheduled) {
        return Err(format!(
            "{file}: requests.scheduled is {} but ok + failed + missed is {} + {} + {} (every scheduled request ends in exactly one)",
            q.scheduled, q.ok, q.failed, q.missed
        ));
    }
    Ok(())
}

/// `(start, end)` of a run, when its start time parses.
fn window(r: &Report) -> Option<(SystemTime, SystemTime)> {
    let start = humantime::parse_rfc3339_weak(&r.run.started_at).ok()?;
    let len = Duration::try_from_secs_f64(r.run.duration_s.max(0.0)).ok()?;
    Some((start, start.checked_add(len)?))
}

/// The stages of shards of one `--stages` run: the same windows, their targets summed (each
/// shard's report states its share). Reports without stages merge without them.
fn merged_stages(inputs: &[(String, Report)]) -> Result<Vec<StageReport>, String> {
    let (first_file, first) = &inputs[0];
    let mut stages: Vec<StageReport> = first.stages.clone();
    for (file, r) in &inputs[1..] {
        let same = r.stages.len() == stages.len()
            && r.stages
                .iter()
                .zip(&stages)
                .all(|(a, b)| (a.start_s - b.start_s).abs() < 1e-3 && (a.end_s - b.end_s).abs() < 1e-3);
        if !same {
            return Err(format!("{first_file} and {file} ran different --stages: merge shards of one run"));
        }
    }
    for (i, st) in stages.iter_mut().enumerate() {
        st.from_rate = inputs.iter().map(|(_, r)| r.stages[i].from_rate).sum();
        st.to_rate = inputs.iter().map(|(_, r)| r.stages[i].to_rate).sum();
        st.expected = 0;
        for (file, r) in inputs {
            add(&mut st.expected, r.stages[i].expected, file, format_args!("stages[{i}].expected"))?;
        }
    }
    Ok(stages)
}

/// Merges `inputs` (file name, report): their sums added up, then every figure derived from
/// them as for one run. Errors name the file and the field.
pub fn merge(inputs: &[(String, Report)]) -> Result<Merged, String> {
    let Some((_, first)) = inputs.first() else {
        return Err("nothing to merge".into());
    };
    let mut totals = Totals::default();
    let (mut target, mut achieved, mut interrupted) = (Some(0.0), 0.0, false);
    for (file, r) in inputs {
        add_report(&mut totals, file, r)?;
        target = target.zip(r.rate.target).map(|(a, b)| a + b);
        achieved += r.rate.achieved;
        interrupted |= r.interrupted;
    }
    let frame = ReportFrame {
        run: run_info(inputs),
        corpus: CorpusInfo { path: unify(inputs.iter().map(|(_, r)| r.corpus.path.as_str())), ..first.corpus.clone() },
        target_rate: target,
        achieved_rate: achieved,
        interrupted,
        stages: merged_stages(inputs)?,
        merged_from: inputs.iter().map(|(f, _)| f.clone()).collect(),
    };
    let m = derive(totals, frame);
    // Sums of valid reports can still leave the bounds a report is read with (rates past
    // `MAX_REAL`, histograms past the bucket budget): never write what could not be read back.
    super::validate::validate(&m).map_err(|e| format!("the merged report would be invalid: {e}"))?;
    Ok(Merged { report: m, warnings: warnings(inputs) })
}

/// Checks `r` (from `file`) and adds its sums into `t`.
fn add_report(t: &mut Totals, file: &str, r: &Report) -> Result<(), String> {
    let q = &r.requests;
    check_outcomes(file, q)?;
    let s = &mut t.requests;
    for (into, v, field) in [
        (&mut s.scheduled, q.scheduled, "requests.scheduled"),
        (&mut s.ok, q.ok, "requests.ok"),
        (&mut s.failed, q.failed, "requests.failed"),
        (&mut s.missed, q.missed, "requests.missed"),
        (&mut s.retries, q.retries, "requests.retries"),
        (&mut s.cancelled, q.cancelled, "requests.cancelled"),
        (&mut t.bytes_sent, r.bytes.sent, "bytes.sent"),
        (&mut t.bytes_raw, r.bytes.raw, "bytes.raw"),
        (&mut t.spans.ok, r.spans.ok, "spans.ok"),
        (&mut t.spans.rejected, r.spans.rejected, "spans.rejected"),
        (&mut t.spans.rejected_claimed, r.spans.rejected_claimed, "spans.rejected_claimed"),
        (&mut t.traces.ok, r.traces.ok, "traces.ok"),
    ] {
        add(into, v, file, field)?;
    }
    add_counts(&mut t.status, &r.status, file, "status")?;
    add_counts(&mut t.errors, &r.errors, file, "errors")?;
    add_counts(&mut t.grpc_status, &r.grpc_status, file, "grpc_status")?;
    for (class, e) in &r.error_classes {
        let into = t.error_classes.entry(class.clone()).or_default();
        add(&mut into.count, e.count, file, format_args!("error_classes.{class}.count"))?;
        if into.sample.is_empty() {
            into.sample = e.sample.clone();
        }
    }
    let h = &r.histograms;
    add_histogram(&mut t.corrected, &h.corrected, || format!("{file}: histograms.corrected"))?;
    add_histogram(&mut t.uncorrected, &h.uncorrected, || format!("{file}: histograms.uncorrected"))?;
    add_histogram(&mut t.lateness, &h.lateness, || format!("{file}: histograms.lateness"))?;
    add_scenarios(t, file, r)?;
    add_series(t, file, &r.series)
}

/// Adds the scenarios of `r` (from `file`): counts, uncompressed bytes, histograms.
fn add_scenarios(t: &mut Totals, file: &str, r: &Report) -> Result<(), String> {
    for (name, sc) in &r.scenarios {
        let into = t.scenarios.entry(name.clone()).or_default();
        add(&mut into.requests, sc.requests, file, format_args!("scenarios.{name}.requests"))?;
        add(&mut into.ok, sc.ok, file, format_args!("scenarios.{name}.ok"))?;
        // The run divided an integer sum by `requests`: multiplying back recovers it.
        let raw = (sc.avg_bytes * sc.requests as f64).round();
        if raw >= u64::MAX as f64 {
            return Err(format!("{file}: scenarios.{name}: avg_bytes × requests passes 2^64 - 1"));
        }
        add(&mut into.raw_bytes, raw as u64, file, format_args!("scenarios.{name}.avg_bytes × requests"))?;
    }
    for (name, enc) in &r.histograms.scenarios {
        let into = &mut t.scenarios.entry(name.clone()).or_default().latency;
        add_histogram(into, enc, || format!("{file}: histograms.scenarios.{name}"))?;
    }
    Ok(())
}

/// Adds the per-second series of `file`, aligned on wall-clock seconds.
fn add_series(t: &mut Totals, file: &str, series: &[SeriesPoint]) -> Result<(), String> {
    for p in series {
        let into = t.seconds.entry(p.t).or_default();
        let field = |f: &str| format!("series (t = {}).{f}", p.t);
        add(&mut into.scheduled, p.scheduled, file, field("scheduled"))?;
        add(&mut into.ok, p.ok, file, field("ok"))?;
        add(&mut into.failed, p.failed, file, field("failed"))?;
        add(&mut into.missed, p.missed, file, field("missed"))?;
        add(&mut into.bytes, p.bytes, file, field("bytes"))?;
        add(&mut into.spans, p.spans, file, field("spans"))?;
        add_counts(&mut into.status, &p.status, file, &field("status"))?;
        add_histogram(&mut into.latency, &p.hist, || format!("{file}: series (t = {}).hist", p.t))?;
    }
    Ok(())
}

/// What the caller should hear about inputs that do not look like shards of one run.
fn warnings(inputs: &[(String, Report)]) -> Vec<String> {
    let (first_file, first) = &inputs[0];
    let mut warnings = Vec::new();
    // What was read back or analysed describes one shard's traffic, not the merged run's.
    for (file, r) in inputs {
        for (has, what, again) in [
            (r.verify.is_some(), "verify section", "each shard's verify figures stay in its own report"),
            (r.collector.is_some(), "collector section", "attach the Collector's analysis to the merged report"),
        ] {
            if has {
                warnings.push(format!("{file}'s {what} is not merged ({again})"));
            }
        }
    }
    for (file, r) in &inputs[1..] {
        let (a, b) = (&first.corpus, &r.corpus);
        if (a.seed, a.count, &a.scenario_set_hash) != (b.seed, b.count, &b.scenario_set_hash) {
            warnings.push(format!(
                "{first_file} and {file} replayed different corpora (seed {} vs {}, {} vs {} traces, scenario set {} vs {}); \
                 the merged corpus section shows {first_file}'s",
                a.seed, b.seed, a.count, b.count, a.scenario_set_hash, b.scenario_set_hash
            ));
        }
    }
    let windows: Option<Vec<_>> = inputs.iter().map(|(_, r)| window(r)).collect();
    if let Some(w) = windows {
        let latest_start = w.iter().map(|w| w.0).max();
        let earliest_end = w.iter().map(|w| w.1).min();
        if latest_start > earliest_end {
            warnings
                .push("the runs do not all overlap in time: their rates are summed as if they had run at once".into());
        }
    }
    warnings
}

/// The merged run description: the earliest start to the latest end; values that differ
/// between inputs are listed, separated by commas.
fn run_info(inputs: &[(String, Report)]) -> RunInfo {
    let runs: Vec<&RunInfo> = inputs.iter().map(|(_, r)| &r.run).collect();
    let windows: Option<Vec<_>> = inputs.iter().map(|(_, r)| window(r)).collect();
    let (started_at, duration_s) = match windows {
        Some(w) => {
            let start = w.iter().map(|w| w.0).min().expect("at least one input");
            let end = w.iter().map(|w| w.1).max().expect("at least one input");
            let secs = end.duration_since(start).unwrap_or_default().as_secs_f64();
            (humantime::format_rfc3339_millis(start).to_string(), (secs * 1000.0).round() / 1000.0)
        }
        None => (runs[0].started_at.clone(), runs.iter().map(|r| r.duration_s).fold(0.0, f64::max)),
    };
    let mut headers: Vec<(String, String)> = Vec::new();
    for h in runs.iter().flat_map(|r| &r.headers) {
        if !headers.contains(h) {
            headers.push(h.clone());
        }
    }
    let keys: std::collections::BTreeSet<&String> = runs.iter().flat_map(|r| r.options.keys()).collect();
    let options = keys
        .into_iter()
        .map(|k| (k.clone(), unify(runs.iter().filter_map(|r| r.options.get(k)).map(String::as_str))))
        .collect();
    RunInfo {
        started_at,
        duration_s,
        ended_by: unify(runs.iter().map(|r| r.ended_by.as_str())),
        error: Some(unify(runs.iter().filter_map(|r| r.error.as_deref()))).filter(|e| !e.is_empty()),
        id_key: Some(unify(runs.iter().filter_map(|r| r.id_key.as_deref()))).filter(|k| !k.is_empty()),
        endpoint: unify(runs.iter().map(|r| r.endpoint.as_str())),
        platform: unify(runs.iter().map(|r| r.platform.as_str())),
        headers,
        options,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::report::{Context, build};
    use crate::stats::{Completion, Outcome, Stats};

    fn context(rate: f64) -> Context {
        Context {
            run: RunInfo { started_at: "2026-01-01T00:00:00.000Z".into(), duration_s: 10.0, ..Default::default() },
            corpus: CorpusInfo::default(),
            scenario_names: vec!["a".into(), "b".into()],
            target_rate: Some(rate),
            achieved_rate: rate,
            interrupted: false,
            cancelled: 0,
            stages: Vec::new(),
        }
    }

    /// Request `i` of a made-up run: due at i × 7 ms, answered after a latency that varies
    /// widely (so percentiles land in many buckets), one in 50 failing.
    fn request(s: &mut Stats, start: Instant, i: u64) {
        let due = start + Duration::from_millis(i * 7);
        s.scheduled((i % 2) as u8, due, 1000 + i);
        let latency =
            Duration::from_micros(200 + (i * 7919) % 90_000 + if i.is_multiple_of(97) { 2_000_000 } else { 0 });
        let outcome = if i.is_multiple_of(50) { Outcome::Status(503) } else { Outcome::Status(200) };
        s.complete(&Completion {
            scenario: (i % 2) as u8,
            intended: due,
            sent: due + Duration::from_micros(i % 300),
            done: due + latency,
            outcome,
            attempts: 1,
            bytes_wire: 500,
            bytes_raw: 1000 + i,
            spans: 5,
            traces: 1,
            rejected_spans: 0,
            message: None,
        });
        s.lateness(Duration::from_micros(i % 300));
    }

    #[test]
    fn merged_percentiles_equal_those_of_all_samples() {
        let start = Instant::now();
        let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let (mut all, mut even, mut odd) = (Stats::new(start, wall), Stats::new(start, wall), Stats::new(start, wall));
        for i in 0..3000 {
            request(&mut all, start, i);
            request(if i % 2 == 0 { &mut even } else { &mut odd }, start, i);
        }
        let one = build(&all, context(100.0));
        let shards =
            [("even.json".to_string(), build(&even, context(50.0))), ("odd.json".into(), build(&odd, context(50.0)))];
        let m = merge(&shards).unwrap().report;
        assert_eq!(m.requests, one.requests);
        assert_eq!(m.latency_us, one.latency_us);
        assert_eq!(m.pacer_lateness_us, one.pacer_lateness_us);
        assert_eq!(m.status, one.status);
        assert_eq!(m.scenarios, one.scenarios);
        assert_eq!(m.series, one.series, "per-second counts, percentiles and histograms");
        assert_eq!(
            decode_histogram(&m.histograms.corrected).unwrap(),
            decode_histogram(&one.histograms.corrected).unwrap()
        );
        assert_eq!((m.rate.target, m.rate.achieved), (Some(100.0), 100.0));
        assert_eq!((m.bytes, m.spans, m.traces, m.success_rate), (one.bytes, one.spans, one.traces, one.success_rate));
        assert_eq!(m.merged_from, ["even.json", "odd.json"]);
    }

    #[test]
    fn series_align_on_wall_clock_seconds_and_metadata_lists_differences() {
        let point = |t, ok| SeriesPoint { t, ok, scheduled: ok, ..Default::default() };
        let mut a = Report { series: vec![point(10, 1), point(11, 2)], ..Default::default() };
        a.run.started_at = "2026-01-01T00:00:00.000Z".into();
        a.run.duration_s = 2.0;
        a.run.options.insert("shard".into(), "0/2".into());
        a.run.endpoint = "http://x".into();
        let mut b = Report { series: vec![point(11, 3), point(12, 4)], ..a.clone() };
        b.run.started_at = "2026-01-01T00:00:01.000Z".into();
        b.run.options.insert("shard".into(), "1/2".into());
        b.rate.target = None;
        let m = merge(&[("a".into(), a), ("b".into(), b)]).unwrap();
        assert_eq!(m.report.series.iter().map(|p| (p.t, p.ok)).collect::<Vec<_>>(), [(10, 1), (11, 5), (12, 4)]);
        assert_eq!(m.report.run.options["shard"], "0/2, 1/2");
        assert_eq!(m.report.run.endpoint, "http://x");
        assert_eq!((m.report.run.started_at.as_str(), m.report.run.duration_s), ("2026-01-01T00:00:00.000Z", 3.0));
        assert_eq!(m.report.rate.target, None, "a shard at --rate max makes the total max");
        assert!(m.warnings.is_empty(), "{:?}", m.warnings);
    }

    #[test]
    fn stages_of_shards_sum_their_targets_and_are_refilled_from_the_merged_series() {
        // Unix seconds 1767225600.. = 2026-01-01T00:00:00Z; stages 0-2 s and 2-4 s.
        let point = |t: u64, ok: u64| SeriesPoint { t: 1_767_225_600 + t, ok, scheduled: ok, ..Default::default() };
        let mut a =
            Report { series: vec![point(0, 5), point(1, 10), point(2, 20), point(3, 20)], ..Default::default() };
        a.run.started_at = "2026-01-01T00:00:00.000Z".into();
        a.run.duration_s = 4.0;
        a.stages = super::super::stages::planned(&[(2.0, 10.0), (2.0, 20.0)]);
        let b = a.clone();
        let m = merge(&[("a".into(), a.clone()), ("b".into(), b)]).unwrap().report;
        let got: Vec<_> = m.stages.iter().map(|s| (s.to_rate, s.expected, s.scheduled)).collect();
        assert_eq!(got, [(20.0, 20, 30), (40.0, 60, 80)], "targets summed, figures from the merged seconds");
        let mut c = a.clone();
        c.stages.pop();
        let e = merge(&[("a".into(), a), ("c".into(), c)]).unwrap_err();
        assert_eq!(e, "a and c ran different --stages: merge shards of one run");
    }

    #[test]
    fn outcomes_must_add_up_and_sums_must_fit() {
        let mut r = Report::default();
        (r.requests.scheduled, r.requests.ok, r.requests.failed, r.requests.missed) = (10, 7, 2, 0);
        let e = merge(&[("a.json".into(), Report::default()), ("b.json".into(), r.clone())]).unwrap_err();
        assert_eq!(
            e,
            "b.json: requests.scheduled is 10 but ok + failed + missed is 7 + 2 + 0 (every scheduled request ends in exactly one)"
        );
        r.requests.missed = 1;
        r.bytes.sent = u64::MAX;
        let e = merge(&[("a.json".into(), r.clone()), ("b.json".into(), r.clone())]).unwrap_err();
        assert_eq!(e, "b.json: bytes.sent: the sum over the inputs passes 2^64 - 1");
        r.bytes.sent = 0;
        r.status.insert("200".into(), u64::MAX);
        let e = merge(&[("a.json".into(), r.clone()), ("b.json".into(), r.clone())]).unwrap_err();
        assert_eq!(e, "b.json: status.200: the sum over the inputs passes 2^64 - 1");
        r.status.clear();
        let mut h = crate::stats::histogram();
        h.record_n(1000, i64::MAX as u64).unwrap();
        r.histograms.corrected = encode_histogram(&h);
        let e = merge(&[("a.json".into(), r.clone()), ("b.json".into(), r)]).unwrap_err();
        assert_eq!(e, "b.json: histograms.corrected: the histograms' counts add up to more than 2^63 - 1");
    }

    #[test]
    fn a_merge_that_could_not_be_read_back_is_refused() {
        let mut r = Report::default();
        r.rate.achieved = 9e14;
        let e = merge(&[("a.json".into(), r.clone()), ("b.json".into(), r)]).unwrap_err();
        assert_eq!(e, "the merged report would be invalid: rate.achieved is 1.8e15, outside 0 to 1e15");
    }

    #[test]
    fn a_damaged_histogram_is_named() {
        let mut r = Report::default();
        r.histograms.uncorrected = "!!".into();
        let e = merge(&[("a.json".into(), Report::default()), ("b.json".into(), r)]).unwrap_err();
        assert!(e.starts_with("b.json: histograms.uncorrected: histogram is not base64"), "{e}");
    }
}
