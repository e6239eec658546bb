//! The per-second series laid out for charts: seconds since the run's first second, which of
//! them are partial, and which points each kind of line draws.
//!
//! A run starts and ends mid-second, so its first and last seconds hold a fraction of a second's
//! traffic; drawn as rates they would dip at both ends of every chart. They are marked instead
//! (the charts shade them) and left out of the rate lines. The run's end is where its schedule
//! ended: the second in which the last request was due holds part of a second's schedule, and
//! the seconds after it only drain the requests still in flight. A second in which no request
//! completed is a gap in the completion lines, not a zero joined to its neighbours: a stalled
//! server must look like a stall, not like a dip.

use std::time::UNIX_EPOCH;

use crate::report::Report;
use crate::report::model::SeriesPoint;

/// Longest series (seconds) laid out densely, its empty seconds included; a longer one (only a
/// hostile or merged file gets there) keeps the seconds it has.
const MAX_DENSE_SECONDS: u64 = 7 * 24 * 3600;

/// One second of the run.
#[derive(Debug, Clone, Copy)]
pub struct Second<'a> {
    /// Seconds since [`Timeline::t0`].
    pub off: u64,
    /// The second's counts (`None`: nothing was due or completed in it).
    pub point: Option<&'a SeriesPoint>,
    /// The run started or ended inside this second: it holds less than a second of traffic.
    pub partial: bool,
}

impl Second<'_> {
    /// Requests (ok or failed) completed in this second.
    pub fn completed(&self) -> u64 {
        self.point.map_or(0, |p| p.ok.saturating_add(p.failed))
    }
}

/// The series by second since its first one.
#[derive(Debug, Clone)]
pub struct Timeline<'a> {
    /// Unix second of offset 0 (0 when the series is empty).
    pub t0: u64,
    /// Every second from the first to the last (or only those present past
    /// [`MAX_DENSE_SECONDS`]).
    pub seconds: Vec<Second<'a>>,
}

/// `(start, end)` of the run in Unix milliseconds, when `started_at` parses.
fn window_ms(r: &Report) -> Option<(u128, u128)> {
    let start = humantime::parse_rfc3339_weak(&r.run.started_at).ok()?.duration_since(UNIX_EPOCH).ok()?.as_millis();
    let d = r.run.duration_s;
    // A bound keeps the sum finite; `validate` already refuses absurd durations.
    let len = if d.is_finite() && d >= 0.0 { (d.min(1e12) * 1000.0).round() as u128 } else { return None };
    Some((start, start + len))
}

impl<'a> Timeline<'a> {
    /// The timeline of `r`'s series. Partial seconds are those not wholly inside the run
    /// (`run.started_at` to `started_at + duration_s`), without a start time that parses the
    /// first and the last second, and in any case the second the last request was due in and
    /// those after it (the schedule ended: they only drain). A series of one or two seconds is
    /// all partial.
    pub fn of(r: &'a Report) -> Self {
        let mut points: Vec<&SeriesPoint> = r.series.iter().collect();
        points.sort_by_key(|p| p.t);
        let (Some(first), Some(last)) = (points.first(), points.last()) else {
            return Timeline { t0: 0, seconds: Vec::new() };
        };
        let (t0, span) = (first.t, last.t - first.t);
        let mut seconds: Vec<Second> = if span <= MAX_DENSE_SECONDS {
            let mut it = points.iter().peekable();
            (0..=span)
                .map(|off| {
                    let mut point = None;
                    while let Some(p) = it.next_if(|p| p.t <= t0 + off) {
                        point = Some(*p);
                    }
                    Second { off, point, partial: false }
                })
                .collect()
        } else {
            points.iter().map(|p| Second { off: p.t - t0, point: Some(*p), partial: false }).collect()
        };
        let n = seconds.len();
        match window_ms(r) {
            _ if n <= 2 => seconds.iter_mut().for_each(|s| s.partial = true),
            Some((start, end)) => {
                for s in &mut seconds {
                    let from = u128::from(t0 + s.off) * 1000;
                    s.partial = from < start || from + 1000 > end;
                }
            }
            None => {
                seconds[0].partial = true;
                seconds[n - 1].partial = true;
            }
        }
        if let Some(end) = seconds.iter().rposition(|s| s.point.is_some_and(|p| p.scheduled > 0)) {
            seconds[end..].iter_mut().for_each(|s| s.partial = true);
        }
        Timeline { t0, seconds }
    }

    /// `(offset, f(point))` of the whole seconds that have counts: for quantities of the
    /// schedule (due, missed), where a zero is a real zero.
    pub fn due(&self, f: impl Fn(&SeriesPoint) -> f64) -> Vec<(f64, f64)> {
        self.points(|s| !s.partial, f)
    }

    /// `(offset, f(point))` of the whole seconds in which requests completed: for rates of
    /// completions (achieved, spans, bytes). Other seconds are gaps.
    pub fn done(&self, f: impl Fn(&SeriesPoint) -> f64) -> Vec<(f64, f64)> {
        self.points(|s| !s.partial && s.completed() > 0, f)
    }

    /// `(offset, f(point))` of every second in which requests completed, partial ones
    /// included: for per-completion quantities (latency), which a short second does not bias.
    pub fn completions(&self, f: impl Fn(&SeriesPoint) -> f64) -> Vec<(f64, f64)> {
        self.points(|s| s.completed() > 0, f)
    }

    fn points(&self, keep: impl Fn(&Second) -> bool, f: impl Fn(&SeriesPoint) -> f64) -> Vec<(f64, f64)> {
        self.seconds.iter().filter(|s| keep(s)).filter_map(|s| s.point.map(|p| (s.off as f64, f(p)))).collect()
    }

    /// Runs of consecutive seconds `(first, last)` offsets for which `pick` holds.
    pub fn runs(&self, pick: impl Fn(&Second) -> bool) -> Vec<(u64, u64)> {
        let mut out: Vec<(u64, u64)> = Vec::new();
        for s in self.seconds.iter().filter(|s| pick(s)) {
            match out.last_mut() {
                Some(last) if last.1 + 1 == s.off => last.1 = s.off,
                _ => out.push((s.off, s.off)),
            }
        }
        out
    }

    /// The last offset (0 when empty).
    pub fn span(&self) -> u64 {
        self.seconds.last().map_or(0, |s| s.off)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run whose schedule ends with second `T + 4` (nothing due after it).
    fn report(started_at: &str, duration_s: f64, seconds: &[(u64, u64)]) -> Report {
        let mut r = Report::default();
        r.run.started_at = started_at.into();
        r.run.duration_s = duration_s;
        let due = |t: u64| if t <= T + 4 { 5 } else { 0 };
        r.series =
            seconds.iter().map(|&(t, ok)| SeriesPoint { t, scheduled: due(t), ok, ..Default::default() }).collect();
        r
    }

    fn partial(t: &Timeline) -> Vec<u64> {
        t.seconds.iter().filter(|s| s.partial).map(|s| s.off).collect()
    }

    // 1_795_000_000 is 2026-11-18T11:06:40Z.
    const T: u64 = 1_795_000_000;

    #[test]
    fn the_seconds_the_run_starts_and_ends_in_are_partial() {
        let secs: Vec<(u64, u64)> = (0..7).map(|i| (T + i, 3)).collect();
        let r = report("2026-11-18T11:06:40.400Z", 6.2, &secs);
        let t = Timeline::of(&r);
        assert_eq!(partial(&t), [0, 4, 5, 6], "starts at .4 s; the last request is due in 4; 5 and 6 drain");
        assert_eq!(t.done(|p| p.ok as f64), [(1.0, 3.0), (2.0, 3.0), (3.0, 3.0)]);
        assert_eq!(t.completions(|p| p.ok as f64).len(), 7, "latency keeps partial seconds");
        // A run starting on a whole second: only the schedule's end is partial.
        let r = report("2026-11-18T11:06:40Z", 7.0, &secs);
        assert_eq!(partial(&Timeline::of(&r)), [4, 5, 6]);
        // A run ending (by its duration) before its schedule does: the second it ended in.
        let r = report("2026-11-18T11:06:40Z", 2.5, &secs);
        assert_eq!(partial(&Timeline::of(&r)), [2, 3, 4, 5, 6]);
        // Without a start time: the first and the last second, and the schedule's end.
        let r = report("not a time", 5.0, &secs);
        assert_eq!(partial(&Timeline::of(&r)), [0, 4, 5, 6]);
    }

    #[test]
    fn a_series_of_one_or_two_seconds_is_all_partial() {
        for n in [1, 2] {
            let secs: Vec<(u64, u64)> = (0..n).map(|i| (T + i, 3)).collect();
            let r = report("2026-11-18T11:06:40Z", n as f64, &secs);
            let t = Timeline::of(&r);
            assert_eq!(partial(&t).len(), n as usize);
            assert!(t.done(|p| p.ok as f64).is_empty() && t.due(|p| p.scheduled as f64).is_empty());
        }
        assert!(Timeline::of(&Report::default()).seconds.is_empty());
    }

    #[test]
    fn seconds_without_completions_are_gaps_but_zeros_of_a_kind_are_drawn() {
        // Second 2 is a stall (due, nothing completed); second 3 is absent from the series.
        let mut r = report("2026-11-18T11:06:40.500Z", 5.0, &[(T, 1), (T + 1, 4), (T + 2, 0), (T + 4, 4), (T + 5, 2)]);
        r.series.iter_mut().for_each(|p| p.scheduled = 5);
        let t = Timeline::of(&r);
        assert_eq!(t.seconds.len(), 6, "empty seconds are laid out");
        assert_eq!(partial(&t), [0, 5]);
        assert_eq!(t.done(|p| p.ok as f64), [(1.0, 4.0), (4.0, 4.0)], "no point for 2 or 3");
        assert_eq!(t.due(|p| p.missed as f64), [(1.0, 0.0), (2.0, 0.0), (4.0, 0.0)], "missed 0 is drawn");
        assert_eq!(t.runs(|s| !s.partial && s.completed() == 0), [(2, 3)]);
        assert_eq!(t.runs(|s| s.partial), [(0, 0), (5, 5)]);
    }
}
