//! Did it arrive? Reads back from the platform which of the traces a run sent are stored, with
//! how many spans, and how long after their acknowledgement they became visible.
//!
//! Input: the sent log ([`crate::sent`]). Every trace is looked up in rounds (batches of the
//! adapter's size) until each acknowledged trace is stored whole, or the stored count has not
//! grown for [`Settings::settle`], or [`Settings::wait`] is over. Traces whose requests all
//! failed are looked up too: a platform that commits a request it never answered in time
//! stores traces that were not acknowledged.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::platform::readback::{ReadBack, Stored};
use crate::sent::{SentLog, parse_id};
use crate::units::ms;

pub mod sample;

/// How `verify` polls.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Longest time spent polling.
    pub wait: Duration,
    /// Stop once the stored count has not grown for this long.
    pub settle: Duration,
    /// Pause between rounds.
    pub interval: Duration,
    /// Loss (percent of acknowledged spans) above which the exit code is 1.
    pub max_loss: f64,
    /// `replay --verify --sample N`: acknowledged traces a second looked up during the run.
    pub sample: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            wait: Duration::from_secs(120),
            settle: Duration::from_secs(15),
            interval: Duration::from_secs(1),
            max_loss: 0.0,
            sample: 5,
        }
    }
}

/// Parses `--max-loss` (a percent from 0 to 100).
pub fn parse_max_loss(s: &str) -> Result<f64, String> {
    let v: f64 =
        s.trim().trim_end_matches('%').parse().map_err(|_| "not a number (a percent, e.g. 0.1)".to_string())?;
    if !(0.0..=100.0).contains(&v) {
        return Err("out of range: a percent from 0 to 100".into());
    }
    Ok(v)
}

/// Trace counts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Counts {
    /// Traces in the sent log.
    pub sent: u64,
    /// Traces with spans in an acknowledged request.
    pub acknowledged: u64,
    /// Acknowledged traces stored with every acknowledged span.
    pub stored: u64,
    /// Acknowledged traces not found.
    pub missing: u64,
    /// Acknowledged traces found with fewer spans than acknowledged.
    pub partial: u64,
    /// Acknowledged traces found only as an earlier run stored them: their stored spans end
    /// well before this run sent them (a platform that keeps the first copy of an ID).
    pub stale: u64,
    /// Traces the platform holds a span of more than once.
    pub duplicated: u64,
    /// Traces whose requests all failed (timed out, refused, …) yet found stored.
    pub stored_not_acknowledged: u64,
    /// Spans acknowledged.
    pub spans_acknowledged: u64,
    /// Of those, spans stored.
    pub spans_stored: u64,
}

/// Percentiles of the visibility lag, ms.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Lag {
    /// Traces measured.
    pub traces: u64,
    /// `first_seen` (the platform says when it stored each trace) or `polling` (when a
    /// round first found it: an upper bound, at the resolution of the rounds).
    pub measured_by: String,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub max: u64,
}

/// One round's view.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// Seconds after the last acknowledgement.
    pub t_s: f64,
    /// Acknowledged spans stored so far.
    pub spans_stored: u64,
}

/// The `verify` section of a report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VerifyReport {
    /// The adapter read from: one of [`crate::platform::readback::READ_BACK`].
    pub from: String,
    /// All traces.
    #[serde(flatten)]
    pub counts: Counts,
    /// Acknowledged spans not stored, percent.
    pub loss_percent: f64,
    /// `--max-loss`.
    pub max_loss_percent: f64,
    /// `loss_percent <= max_loss_percent`.
    pub passed: bool,
    /// 2xx → visible, for the acknowledged traces found whole.
    pub lag_ms: Option<Lag>,
    /// 2xx → visible for the traces sampled during the run (`replay --verify --sample N`),
    /// looked up every 250 ms from their acknowledgement on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampled_lag_ms: Option<Lag>,
    /// Per scenario.
    pub scenarios: BTreeMap<String, Counts>,
    /// Stored spans after each round.
    pub curve: Vec<Point>,
    /// Rounds of lookups.
    pub rounds: u64,
    /// Seconds spent polling.
    pub waited_s: f64,
    /// `complete` (everything acknowledged found), `settled` (no growth for the settle time)
    /// or `wait` (the wait ran out).
    pub ended_by: String,
}

impl VerifyReport {
    /// The truest visibility lag measured: the sweep's when the platform said when it stored each
    /// trace (`first_seen`, every trace), else the one sampled during the run, else the sweep's
    /// by polling (an upper bound: polling starts after the run).
    pub fn visibility_lag(&self) -> Option<&Lag> {
        let exact = self.lag_ms.as_ref().filter(|l| l.measured_by == "first_seen");
        exact.or(self.sampled_lag_ms.as_ref()).or(self.lag_ms.as_ref())
    }
}

/// What was sent of one trace.
#[derive(Debug, Clone, Default)]
struct Expected {
    acked_spans: u32,
    other_spans: u32,
    scenario: String,
    /// The last acknowledgement of a request carrying it, Unix ms.
    acked_at: u64,
    /// The latest span end as sent, Unix ms.
    end: u64,
}

/// A stored trace whose latest span ends this long before the latest end sent was stored by an
/// earlier run (the timestamps of a copy of this run agree to the millisecond; an earlier run
/// shifted them to its own, earlier send times).
const STALE_SLACK_MS: u64 = 1_000;

/// Every trace of the log, by ID.
fn expected(log: &SentLog) -> HashMap<u128, Expected> {
    let mut m: HashMap<u128, Expected> = HashMap::new();
    for r in &log.requests {
        for (hex, n, end) in &r.traces {
            let Some(id) = parse_id(hex) else { continue };
            let e = m.entry(id).or_insert_with(|| Expected { scenario: r.scenario.clone(), ..Default::default() });
            e.end = e.end.max(*end);
            if r.ok {
                e.acked_spans = e.acked_spans.saturating_add(*n);
                e.acked_at = e.acked_at.max(r.at_unix_ms);
            } else {
                e.other_spans = e.other_spans.saturating_add(*n);
            }
        }
    }
    m
}

/// Polls `platform` for the traces of `log` and reports; `progress` gets a line per round. When
/// `stop` is set (Ctrl-C), it ends after the round under way (`ended_by: interrupted`).
pub fn run(
    log: &SentLog,
    platform: &dyn ReadBack,
    s: &Settings,
    sampled: Option<HashMap<u128, sample::Sampled>>,
    stop: Option<&std::sync::atomic::AtomicBool>,
    mut progress: impl FnMut(&str),
) -> Result<VerifyReport, String> {
    let want = expected(log);
    let last_ack = want.values().map(|e| e.acked_at).max().unwrap_or(0);
    let mut found: HashMap<u128, Stored> = HashMap::new();
    // When each acknowledged trace was first found whole (Unix ms).
    let mut visible: HashMap<u128, u64> = HashMap::new();
    let mut stale: std::collections::HashSet<u128> = std::collections::HashSet::new();
    let mut ids: Vec<u128> = want.keys().copied().collect();
    ids.sort_unstable();
    let start = Instant::now();
    let (mut rounds, mut curve, mut last_growth, mut last_total) = (0u64, Vec::new(), Instant::now(), u64::MAX);
    let ended_by = loop {
        rounds += 1;
        let pending: Vec<u128> = ids
            .iter()
            .copied()
            .filter(|id| {
                stale.contains(id)
                    || found.get(id).is_none_or(|f| f.spans < want[id].acked_spans + want[id].other_spans)
            })
            .collect();
        for chunk in pending.chunks(platform.batch().max(1)) {
            let now = crate::sent::unix_ms_now();
            for (id, st) in platform.lookup(chunk)? {
                let Some(w) = want.get(&id) else { continue };
                let earlier = st.latest_end_unix_ms.is_some_and(|end| end + STALE_SLACK_MS < w.end);
                if log.header.times_shifted && earlier {
                    stale.insert(id);
                    found.insert(id, st);
                    continue;
                }
                stale.remove(&id);
                if w.acked_spans > 0 && st.spans >= w.acked_spans {
                    visible.entry(id).or_insert(st.first_seen_unix_ms.unwrap_or(now));
                }
                found.insert(id, st);
            }
        }
        let stored = spans_stored(&want, &found, &stale);
        let t_s = (crate::sent::unix_ms_now().saturating_sub(last_ack)) as f64 / 1e3;
        curve.push(Point { t_s, spans_stored: stored });
        let complete = want.iter().all(|(id, w)| w.acked_spans == 0 || visible.contains_key(id));
        progress(&format!(
            "verify: round {rounds} · {} of {} acknowledged traces stored whole · {:.0} s",
            crate::units::thousands(visible.len() as u64),
            crate::units::thousands(want.values().filter(|w| w.acked_spans > 0).count() as u64),
            start.elapsed().as_secs_f64()
        ));
        let total: u64 = found.values().map(|f| u64::from(f.rows)).sum();
        if total != last_total {
            (last_total, last_growth) = (total, Instant::now());
        }
        if complete {
            break "complete";
        }
        if stop.is_some_and(|s| s.load(std::sync::atomic::Ordering::Relaxed)) {
            break "interrupted";
        }
        if last_growth.elapsed() >= s.settle {
            break "settled";
        }
        if start.elapsed() + s.interval >= s.wait {
            break "wait";
        }
        std::thread::sleep(s.interval);
    };
    let mut rep = summarize(&want, &found, &stale, &visible, platform.name(), s.max_loss);
    if let Some(sampled) = sampled {
        // A sampled trace the run ended before seeing is timed by the sweep's round.
        let lags = sampled
            .iter()
            .filter_map(|(id, t)| Some(t.seen_at.or(visible.get(id).copied())?.saturating_sub(t.acked_at)));
        rep.sampled_lag_ms = lag(lags.collect(), "sampling");
    }
    rep.curve = curve;
    rep.rounds = rounds;
    rep.waited_s = start.elapsed().as_secs_f64();
    rep.ended_by = ended_by.into();
    Ok(rep)
}

/// Acknowledged spans stored, summed over the traces.
fn spans_stored(
    want: &HashMap<u128, Expected>,
    found: &HashMap<u128, Stored>,
    stale: &std::collections::HashSet<u128>,
) -> u64 {
    want.iter()
        .filter(|(id, _)| !stale.contains(id))
        .map(|(id, w)| u64::from(found.get(id).map_or(0, |f| f.spans.min(w.acked_spans))))
        .sum()
}

fn summarize(
    want: &HashMap<u128, Expected>,
    found: &HashMap<u128, Stored>,
    stale: &std::collections::HashSet<u128>,
    visible: &HashMap<u128, u64>,
    from: &str,
    max_loss: f64,
) -> VerifyReport {
    let mut all = Counts::default();
    let mut scenarios: BTreeMap<String, Counts> = BTreeMap::new();
    for (id, w) in want {
        let f = found.get(id);
        let sc = scenarios.entry(w.scenario.clone()).or_default();
        for c in [&mut all, sc] {
            c.sent += 1;
            if f.is_some_and(|f| f.rows > f.spans) {
                c.duplicated += 1;
            }
            if w.acked_spans == 0 {
                c.stored_not_acknowledged += u64::from(f.is_some_and(|f| f.spans > 0));
                continue;
            }
            c.acknowledged += 1;
            c.spans_acknowledged += u64::from(w.acked_spans);
            if stale.contains(id) {
                c.stale += 1;
                continue;
            }
            let got = f.map_or(0, |f| f.spans);
            c.spans_stored += u64::from(got.min(w.acked_spans));
            match got {
                0 => c.missing += 1,
                n if n < w.acked_spans => c.partial += 1,
                _ => c.stored += 1,
            }
        }
    }
    let lost = all.spans_acknowledged - all.spans_stored;
    let loss_percent =
        if all.spans_acknowledged == 0 { 0.0 } else { lost as f64 * 100.0 / all.spans_acknowledged as f64 };
    let first_seen = found.values().any(|f| f.first_seen_unix_ms.is_some());
    let lags: Vec<u64> = visible.iter().map(|(id, at)| at.saturating_sub(want[id].acked_at)).collect();
    let lag_ms = lag(lags, if first_seen { "first_seen" } else { "polling" });
    VerifyReport {
        from: from.into(),
        counts: all,
        loss_percent,
        max_loss_percent: max_loss,
        passed: loss_percent <= max_loss,
        lag_ms,
        scenarios,
        ..Default::default()
    }
}

/// Percentiles of `lags` (ms), `None` when empty.
fn lag(mut lags: Vec<u64>, measured_by: &str) -> Option<Lag> {
    lags.sort_unstable();
    let pct = |q: f64| lags[((lags.len() as f64 * q).ceil() as usize).clamp(1, lags.len()) - 1];
    (!lags.is_empty()).then(|| Lag {
        traces: lags.len() as u64,
        measured_by: measured_by.into(),
        p50: pct(0.5),
        p90: pct(0.9),
        p99: pct(0.99),
        max: *lags.last().expect("not empty"),
    })
}

/// The text block printed after a verification.
pub fn text(v: &VerifyReport) -> String {
    use crate::units::thousands as n;
    let c = &v.counts;
    let mut out = format!("verify ({}, {} rounds over {:.0} s, ended: {})\n", v.from, v.rounds, v.waited_s, v.ended_by);
    out += &format!(
        "  traces   {} sent · {} acknowledged · {} stored · {} missing · {} partial · {} duplicated · {} stored although not acknowledged\n",
        n(c.sent),
        n(c.acknowledged),
        n(c.stored),
        n(c.missing),
        n(c.partial),
        n(c.duplicated),
        n(c.stored_not_acknowledged)
    );
    if c.acknowledged > 0 && c.missing == c.acknowledged {
        out += &format!(
            "           none of them was found: is {} reading from where the run sent them (its --url, --project or --experiment)?\n",
            v.from
        );
    }
    if c.stale > 0 {
        out += &format!(
            "           {} acknowledged traces are there only as an earlier run stored them (the platform kept the first copy of their IDs)\n",
            n(c.stale)
        );
    }
    out += &format!(
        "  spans    {} of {} acknowledged stored · loss {:.3} % (max {} %): {}\n",
        n(c.spans_stored),
        n(c.spans_acknowledged),
        v.loss_percent,
        v.max_loss_percent,
        if v.passed { "ok" } else { "FAILED" }
    );
    for l in v.sampled_lag_ms.iter().chain(&v.lag_ms) {
        out += &format!(
            "  lag      2xx → visible ({} traces, by {}): p50 {} · p90 {} · p99 {} · max {}\n",
            n(l.traces),
            l.measured_by,
            ms(l.p50),
            ms(l.p90),
            ms(l.p99),
            ms(l.max)
        );
    }
    if v.scenarios.len() > 1 {
        for (name, s) in &v.scenarios {
            out += &format!(
                "  {name:<24} {} acknowledged · {} stored · {} missing · {} partial\n",
                n(s.acknowledged),
                n(s.stored),
                n(s.missing),
                n(s.partial)
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sent::{Header, Sent};
    use crate::units::DAY;

    struct Fake(HashMap<u128, Stored>);
    impl ReadBack for Fake {
        fn name(&self) -> &'static str {
            "fake"
        }
        fn batch(&self) -> usize {
            2
        }
        fn lookup(&self, ids: &[u128]) -> Result<HashMap<u128, Stored>, String> {
            assert!(ids.len() <= 2);
            Ok(ids.iter().filter_map(|id| self.0.get(id).map(|s| (*id, *s))).collect())
        }
    }

    fn req(ok: bool, at: u64, traces: &[(u128, u32)]) -> Sent {
        // Each trace ends 10 ms before its request was sent.
        Sent {
            seq: 0,
            sent_unix_ms: at - 10,
            at_unix_ms: at,
            ok,
            outcome: if ok { "200" } else { "timeout" }.into(),
            scenario: "s".into(),
            traces: traces.iter().map(|&(id, n)| (crate::sent::hex_id(id), n, at - 20)).collect(),
        }
    }

    #[test]
    fn every_class_is_counted_exactly() {
        let log = SentLog {
            header: Header { format: crate::sent::FORMAT.into(), version: 1, times_shifted: true },
            requests: vec![
                req(true, 1000, &[(1, 3), (2, 3)]),
                req(true, 1000, &[(3, 2), (4, 5)]),
                req(false, 1500, &[(5, 4), (6, 1)]),
            ],
        };
        let stored = |spans, rows| Stored { spans, rows, first_seen_unix_ms: Some(1250), latest_end_unix_ms: None };
        let fake = Fake(HashMap::from([(1, stored(3, 3)), (2, stored(2, 2)), (4, stored(5, 6)), (5, stored(4, 4))]));
        let s = Settings { settle: Duration::ZERO, interval: Duration::ZERO, ..Default::default() };
        let v = run(&log, &fake, &s, None, None, |_| {}).unwrap();
        let c = &v.counts;
        assert_eq!((c.sent, c.acknowledged, c.stored, c.missing, c.partial), (6, 4, 2, 1, 1));
        assert_eq!((c.duplicated, c.stored_not_acknowledged), (1, 1));
        assert_eq!((c.spans_acknowledged, c.spans_stored), (13, 10));
        assert!((v.loss_percent - 300.0 / 13.0).abs() < 1e-9, "{}", v.loss_percent);
        assert!(!v.passed);
        let lag = v.lag_ms.unwrap();
        assert_eq!((lag.traces, lag.p50, lag.max, lag.measured_by.as_str()), (2, 250, 250, "first_seen"));
        assert_eq!(v.ended_by, "settled");
    }

    #[test]
    fn an_interrupt_ends_the_poll_after_its_round() {
        let log = SentLog {
            header: Header { format: crate::sent::FORMAT.into(), version: 1, times_shifted: false },
            requests: vec![req(true, 1000, &[(1, 3)])],
        };
        // Nothing is ever stored, and the wait is a day: only the interrupt ends it.
        let s = Settings { settle: DAY, wait: DAY, interval: Duration::ZERO, ..Default::default() };
        let stop = std::sync::atomic::AtomicBool::new(true);
        let v = run(&log, &Fake(HashMap::new()), &s, None, Some(&stop), |_| {}).unwrap();
        assert_eq!((v.ended_by.as_str(), v.rounds, v.counts.missing), ("interrupted", 1, 1));
    }

    #[test]
    fn max_loss_is_a_percent() {
        assert_eq!(parse_max_loss("0.5"), Ok(0.5));
        assert_eq!(parse_max_loss("2%"), Ok(2.0));
        assert!(parse_max_loss("101").unwrap_err().contains("out of range"));
        assert!(parse_max_loss("x").is_err());
    }

    #[test]
    fn a_trace_stored_by_an_earlier_run_is_stale_not_stored() {
        let log = SentLog {
            header: Header { format: crate::sent::FORMAT.into(), version: 1, times_shifted: true },
            requests: vec![req(true, 100_000, &[(1, 2), (2, 2)])],
        };
        let stored = |end| Stored { spans: 2, rows: 2, first_seen_unix_ms: None, latest_end_unix_ms: Some(end) };
        // Trace 1 ends a minute before this run's copy; trace 2 as this run's copy.
        let fake = Fake(HashMap::from([(1, stored(40_000)), (2, stored(99_980))]));
        let s = Settings { settle: Duration::ZERO, interval: Duration::ZERO, ..Default::default() };
        let v = run(&log, &fake, &s, None, None, |_| {}).unwrap();
        let c = &v.counts;
        assert_eq!((c.acknowledged, c.stored, c.stale, c.missing), (2, 1, 1, 0));
        assert_eq!((c.spans_acknowledged, c.spans_stored), (4, 2));
        // Without shifted times (--no-rewrite) nothing can be told apart: both count as stored.
        let log = SentLog { header: Header { times_shifted: false, ..log.header.clone() }, ..log };
        let v = run(&log, &fake, &s, None, None, |_| {}).unwrap();
        assert_eq!((v.counts.stored, v.counts.stale), (2, 0));
    }
}
