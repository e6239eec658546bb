//! What a saved report must satisfy before `report`, `report --html`, `compare` or `merge` work
//! on it: every histogram decodes (and all of them together fit [`MAX_REPORT_BUCKETS`]), the
//! per-second series is in order and within the dates a report can print, and every real
//! number is finite and within [`MAX_REAL`]. A report that fails names the field.

use super::Report;
use super::histogram::{declared_buckets, decode_histogram};

/// Most histogram buckets one report may declare in all (8 bytes each: 1 GiB) — what merging it
/// holds in memory at once. traceblast's per-second histograms have 368 buckets, so this is
/// about 100 hours of per-second series.
pub const MAX_REPORT_BUCKETS: u64 = 1 << 27;

/// The last second a report's dates may name: 9999-12-31T23:59:59Z (RFC 3339 has four-digit
/// years).
pub const MAX_UNIX_SECOND: u64 = 253_402_300_799;

/// Largest rate, byte average, percentage or duration a report may hold: far above any real
/// run, low enough that sums over any number of merged reports stay finite.
pub const MAX_REAL: f64 = 1e15;

/// Checks `r`; errors are `field: what is wrong`.
pub fn validate(r: &Report) -> Result<(), String> {
    reals(r)?;
    if let Some(d) = &r.collector {
        d.validate()?;
    }
    let mut last = None;
    for (i, p) in r.series.iter().enumerate() {
        if p.t > MAX_UNIX_SECOND {
            return Err(format!("series[{i}].t {} is after the year 9999", p.t));
        }
        if last.is_some_and(|l| p.t <= l) {
            return Err(format!("series[{i}].t {} does not follow {} (seconds must increase)", p.t, last.unwrap_or(0)));
        }
        last = Some(p.t);
    }
    let h = &r.histograms;
    let named = [("corrected", &h.corrected), ("uncorrected", &h.uncorrected), ("lateness", &h.lateness)];
    let main = named.into_iter().map(|(n, s)| (format!("histograms.{n}"), s));
    let scenarios = h.scenarios.iter().map(|(n, s)| (format!("histograms.scenarios.{n}"), s));
    let series = r.series.iter().map(|p| (format!("series (t = {}).hist", p.t), &p.hist));
    let all: Vec<(String, &String)> = main.chain(scenarios).chain(series).filter(|(_, s)| !s.is_empty()).collect();
    // The sizes first (from the headers, nothing allocated), then the decoding.
    let mut total = 0u64;
    for (field, encoded) in &all {
        total += declared_buckets(encoded).map_err(|e| format!("{field}: {e}"))?;
        if total > MAX_REPORT_BUCKETS {
            return Err(format!(
                "{field}: the report's histograms declare more than {MAX_REPORT_BUCKETS} buckets in all (1 GiB)"
            ));
        }
    }
    for (field, encoded) in &all {
        decode_histogram(encoded).map_err(|e| format!("{field}: {e}"))?;
    }
    Ok(())
}

/// Every `f64` of the report: finite, 0 to [`MAX_REAL`].
fn reals(r: &Report) -> Result<(), String> {
    let mut all: Vec<(String, f64)> = vec![
        ("success_rate".into(), r.success_rate),
        ("rate.achieved".into(), r.rate.achieved),
        ("rate.ok_per_s".into(), r.rate.ok_per_s),
        ("bytes.per_request".into(), r.bytes.per_request),
        ("run.duration_s".into(), r.run.duration_s),
        ("latency_us.corrected.mean".into(), r.latency_us.corrected.mean),
        ("latency_us.uncorrected.mean".into(), r.latency_us.uncorrected.mean),
        ("pacer_lateness_us.mean".into(), r.pacer_lateness_us.mean),
    ];
    all.extend(r.rate.target.map(|t| ("rate.target".to_string(), t)));
    all.extend(r.scenarios.iter().map(|(n, s)| (format!("scenarios.{n}.avg_bytes"), s.avg_bytes)));
    for (i, s) in r.stages.iter().enumerate() {
        if s.end_s < s.start_s {
            return Err(format!("stages[{i}] ends ({}) before it starts ({})", s.end_s, s.start_s));
        }
        all.extend(
            [
                ("start_s", s.start_s),
                ("end_s", s.end_s),
                ("from_rate", s.from_rate),
                ("to_rate", s.to_rate),
                ("achieved", s.achieved),
                ("ok_per_s", s.ok_per_s),
            ]
            .map(|(k, v)| (format!("stages[{i}].{k}"), v)),
        );
    }
    for (field, v) in all {
        if !(0.0..=MAX_REAL).contains(&v) {
            let v = if v.abs() < 1e9 { v.to_string() } else { format!("{v:e}") };
            return Err(format!("{field} is {v}, outside 0 to {MAX_REAL:e}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::{SeriesPoint, encode_histogram};

    fn second(t: u64) -> SeriesPoint {
        SeriesPoint { t, ..Default::default() }
    }

    #[test]
    fn series_must_increase_and_stay_printable() {
        let mut r = Report { series: vec![second(10), second(11)], ..Default::default() };
        assert_eq!(validate(&r), Ok(()));
        r.series.push(second(11));
        assert_eq!(validate(&r).unwrap_err(), "series[2].t 11 does not follow 11 (seconds must increase)");
        r.series[2].t = MAX_UNIX_SECOND + 1;
        assert_eq!(validate(&r).unwrap_err(), "series[2].t 253402300800 is after the year 9999");
    }

    #[test]
    fn every_histogram_must_decode_and_all_fit_the_budget() {
        let mut r = Report::default();
        r.histograms.scenarios.insert("simple".into(), "!!".into());
        assert!(validate(&r).unwrap_err().starts_with("histograms.scenarios.simple: histogram is not base64"));
        r.histograms.scenarios.clear();
        r.series = vec![SeriesPoint { t: 5, hist: "AAAA".into(), ..Default::default() }];
        assert_eq!(
            validate(&r).unwrap_err(),
            "series (t = 5).hist: histogram is 3 bytes, shorter than its 40-byte header"
        );
        // 200 histograms of 819,200 buckets each declare more than the budget.
        let wide = encode_histogram(&hdrhistogram::Histogram::new_with_bounds(1, 1 << 62, 4).unwrap());
        r.series = (0..200).map(|t| SeriesPoint { t, hist: wide.clone(), ..Default::default() }).collect();
        let e = validate(&r).unwrap_err();
        assert!(e.ends_with("the report's histograms declare more than 134217728 buckets in all (1 GiB)"), "{e}");
    }

    #[test]
    fn reals_are_finite_and_bounded() {
        let mut r = Report::default();
        r.rate.target = Some(-1.0);
        assert_eq!(validate(&r).unwrap_err(), "rate.target is -1, outside 0 to 1e15");
        r.rate.target = None;
        r.bytes.per_request = 1e300;
        assert_eq!(validate(&r).unwrap_err(), "bytes.per_request is 1e300, outside 0 to 1e15");
        r.bytes.per_request = 1.0;
        r.stages = crate::report::stages::planned(&[(2.0, 1e308)]);
        assert_eq!(validate(&r).unwrap_err(), "stages[0].to_rate is 1e308, outside 0 to 1e15");
        r.stages[0].to_rate = 1.0;
        r.stages[0].end_s = -1.0;
        assert_eq!(validate(&r).unwrap_err(), "stages[0] ends (-1) before it starts (0)");
    }
}
