//! Per-stage figures of a `--stages` run, derived from the per-second series: each wall-clock
//! second belongs to the stage its middle falls in (so a stage's figures are exact to half a
//! second at its edges; seconds before the first stage's end count in the first, seconds after
//! the last stage's start in the last, so the stages add up to the run), and its latency
//! percentiles come from that second's own histogram, merged — exact for the seconds counted,
//! in a single run and in a merge alike.

use hdrhistogram::Histogram;

use super::model::{Percentiles, SeriesPoint, StageReport, decode_histogram};

/// Fills the figures of `stages` (whose plan fields are set) from `series`, for a run whose
/// schedule started at `started_at` (RFC 3339).
pub fn fill(stages: &mut [StageReport], started_at: &str, series: &[SeriesPoint]) {
    let Ok(start) = humantime::parse_rfc3339_weak(started_at) else { return };
    let start = start.duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
    let last = stages.len().saturating_sub(1);
    for (i, st) in stages.iter_mut().enumerate() {
        let from = if i == 0 { f64::NEG_INFINITY } else { st.start_s };
        let to = if i == last { f64::INFINITY } else { st.end_s };
        let mut h = Histogram::<u64>::new(3).expect("valid precision");
        let (mut scheduled, mut ok, mut failed, mut missed) = (0u64, 0u64, 0u64, 0u64);
        for p in series {
            let mid = p.t as f64 + 0.5 - start;
            if mid < from || mid >= to {
                continue;
            }
            // Saturating: the series of a report file is not trusted to add up.
            scheduled = scheduled.saturating_add(p.scheduled);
            ok = ok.saturating_add(p.ok);
            failed = failed.saturating_add(p.failed);
            missed = missed.saturating_add(p.missed);
            if let Ok(s) = decode_histogram(&p.hist) {
                let _ = h.add(&s);
            }
        }
        // Per whole second given to the stage (those whose middle falls in it): its length
        // would count a second too few or too many where its edges fall inside seconds.
        let secs = |at: f64| (start + at - 0.5).ceil();
        let len = (secs(st.end_s) - secs(st.start_s)).max(1.0);
        let p = Percentiles::of(&h);
        st.scheduled = scheduled;
        st.ok = ok;
        st.failed = failed;
        st.missed = missed;
        st.achieved = super::round2((scheduled - missed.min(scheduled)) as f64 / len);
        st.ok_per_s = super::round2(ok as f64 / len);
        (st.p50_us, st.p90_us, st.p99_us, st.p999_us, st.max_us) = (p.p50, p.p90, p.p99, p.p999, p.max);
    }
}

/// The plan of each stage, figures empty: `(length s, target at its end)` in order, from 0.
pub fn planned(stages: &[(f64, f64)]) -> Vec<StageReport> {
    let (mut t, mut from) = (0.0, 0.0);
    stages
        .iter()
        .map(|&(len, to)| {
            let s = StageReport {
                start_s: t,
                end_s: t + len,
                from_rate: from,
                to_rate: to,
                expected: ((from + to) / 2.0 * len).round() as u64,
                ..StageReport::default()
            };
            (t, from) = (t + len, to);
            s
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::encode_histogram;

    fn second(t: u64, scheduled: u64, ok: u64, missed: u64, latency_us: u64) -> SeriesPoint {
        let mut h = Histogram::<u64>::new(3).unwrap();
        h.record_n(latency_us, ok).unwrap();
        SeriesPoint { t, scheduled, ok, missed, hist: encode_histogram(&h), ..SeriesPoint::default() }
    }

    #[test]
    fn rates_below_one_a_second_count_every_second_of_the_stage() {
        // 0.5/s over 4 s: requests in seconds 1000 and 1002 only; the rate is 2 over 4 s.
        let mut stages = planned(&[(4.0, 0.5)]);
        let series = [second(1000, 1, 1, 0, 1_000), second(1002, 1, 1, 0, 1_000)];
        fill(&mut stages, "1970-01-01T00:16:40.000Z", &series);
        assert_eq!((stages[0].achieved, stages[0].ok_per_s), (0.5, 0.5));
    }

    #[test]
    fn seconds_go_to_the_stage_their_middle_is_in() {
        let mut stages = planned(&[(2.0, 100.0), (3.0, 100.0)]);
        assert_eq!((stages[0].expected, stages[1].expected), (100, 300));
        // The schedule started at 1000.2: second 1000 (middle 0.3 s in) and 1001 are stage 1,
        // 1002 (middle 2.3 s) to 1004 stage 2, and so is 1005 (middle 5.3 s, past the end: the
        // last requests' answers).
        let series = [
            second(1000, 20, 20, 0, 1_000),
            second(1001, 80, 70, 10, 2_000),
            second(1002, 100, 100, 0, 50_000),
            second(1003, 100, 100, 0, 60_000),
            second(1004, 100, 90, 0, 70_000),
            second(1005, 0, 10, 0, 80_000),
        ];
        fill(&mut stages, "1970-01-01T00:16:40.200Z", &series);
        let s = &stages[0];
        assert_eq!((s.scheduled, s.ok, s.missed, s.achieved, s.ok_per_s), (100, 90, 10, 45.0, 45.0));
        // Released and ok per second of the seconds with requests due (three in stage 2; the
        // answers of second 1005 count, its second does not).
        assert!(s.p50_us.abs_diff(2_000) < 5 && s.max_us.abs_diff(2_000) < 5, "{s:?}");
        let s = &stages[1];
        assert_eq!((s.scheduled, s.ok, s.missed, s.achieved, s.ok_per_s), (300, 300, 0, 100.0, 100.0));
        assert!(s.p50_us.abs_diff(60_000) < 60 && s.max_us.abs_diff(80_000) < 80, "{s:?}");
    }
}
