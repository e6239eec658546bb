//! Service-level objectives a rate must meet: `success>=99.9%,p99<=1s,missed==0`.
//!
//! Terms: `success` (ok / requests due, percent), `p50` `p90` `p99` `p999` `max` (corrected
//! latency: a duration, `250ms`, `1.5s`), `missed` and `failed` (counts, or a percent of the
//! requests due), `retries` (count), `rate` (requests released / target, percent: a load
//! generator that cannot keep up fails it), and what the platform stored of the step, read back
//! after it: `loss` (acknowledged spans not stored, percent) and `lag.p50` `lag.p90` `lag.p99`
//! `lag.max` (acknowledgement to visibility, a duration). Operators `>=`, `<=`, `>`, `<`, `==`.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

/// What a step measured, over its window after the warm-up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Figures {
    /// Target requests/s.
    pub target: f64,
    /// Requests released a second.
    pub achieved: f64,
    /// Requests due in the window.
    pub scheduled: u64,
    /// Ok answers in the window.
    pub ok: u64,
    /// Failed in the window.
    pub failed: u64,
    /// Missed (in-flight cap full) in the window.
    pub missed: u64,
    /// Retries over the whole step.
    pub retries: u64,
    /// Corrected latency percentiles of requests completed in the window, µs.
    pub p50_us: u64,
    /// 90th.
    pub p90_us: u64,
    /// 99th.
    pub p99_us: u64,
    /// 99.9th.
    pub p999_us: u64,
    /// Largest.
    pub max_us: u64,
    /// What the platform stored of the step, when it was read back.
    pub stored: Option<Stored>,
}

/// A step's read-back: loss and visibility lag over all of its traces (warm-up included: the
/// platform is asked about every trace the step sent).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Stored {
    /// Acknowledged spans not stored, percent (`None`: nothing was acknowledged to lose).
    pub loss_percent: Option<f64>,
    /// Traces acknowledged.
    pub acknowledged: u64,
    /// Of those, visible whole by the end of the read-back.
    pub visible: u64,
    /// Visibility lag percentiles of the visible ones, ms.
    pub lag_p50_ms: Option<u64>,
    /// 90th.
    pub lag_p90_ms: Option<u64>,
    /// 99th.
    pub lag_p99_ms: Option<u64>,
    /// Largest.
    pub lag_max_ms: Option<u64>,
}

impl Figures {
    /// ok / (ok + failed + missed), percent (100 with nothing due).
    pub fn success(&self) -> f64 {
        let all = self.ok + self.failed + self.missed;
        if all == 0 { 100.0 } else { self.ok as f64 * 100.0 / all as f64 }
    }

    fn share(&self, n: u64) -> f64 {
        let all = self.ok + self.failed + self.missed;
        if all == 0 { 0.0 } else { n as f64 * 100.0 / all as f64 }
    }
}

impl Stored {
    /// The p99 of the visibility lag over every acknowledged trace, as `lag.p99` judges it.
    pub fn lag_p99(&self) -> Result<u64, String> {
        Quantile::P99.lag_of(self)
    }
}

/// A measured quantity.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Metric {
    Success,
    Latency(Quantile),
    Missed,
    Failed,
    Retries,
    Rate,
    /// Platform side: acknowledged spans not stored.
    Loss,
    /// Platform side: acknowledgement to visibility.
    Lag(Quantile),
}

/// A latency percentile of [`Figures`].
#[derive(Debug, Clone, Copy, PartialEq)]
enum Quantile {
    P50,
    P90,
    P99,
    P999,
    Max,
}

impl Quantile {
    fn of(self, f: &Figures) -> u64 {
        match self {
            Quantile::P50 => f.p50_us,
            Quantile::P90 => f.p90_us,
            Quantile::P99 => f.p99_us,
            Quantile::P999 => f.p999_us,
            Quantile::Max => f.max_us,
        }
    }

    /// The step's visibility lag at this percentile over every acknowledged trace, ms. A trace
    /// not visible by the end of the read-back is later than any measured: when more than
    /// `1 − q` of them are, the percentile is beyond the read-back (an error saying so); when
    /// fewer, it is at most the largest lag measured, which is taken (P999 also reads as the
    /// largest: verify's lag has no 99.9th).
    fn lag_of(self, s: &Stored) -> Result<u64, String> {
        if s.acknowledged == 0 {
            return Err("unmeasured: nothing acknowledged".into());
        }
        let unseen = s.acknowledged - s.visible.min(s.acknowledged);
        let q = match self {
            Quantile::P50 => 0.5,
            Quantile::P90 => 0.9,
            Quantile::P99 => 0.99,
            Quantile::P999 | Quantile::Max => 1.0,
        };
        if unseen as f64 > (1.0 - q) * s.acknowledged as f64 {
            return Err(format!(
                "beyond the read-back: {unseen} of {} acknowledged traces not visible",
                s.acknowledged
            ));
        }
        let v = match self {
            _ if unseen > 0 => s.lag_max_ms,
            Quantile::P50 => s.lag_p50_ms,
            Quantile::P90 => s.lag_p90_ms,
            Quantile::P99 => s.lag_p99_ms,
            Quantile::P999 | Quantile::Max => s.lag_max_ms,
        };
        v.ok_or_else(|| "unmeasured: no trace became visible".into())
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Ge,
    Le,
    Gt,
    Lt,
    Eq,
}

/// How a term's value reads: a percent, a duration (µs) or a count.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Unit {
    Percent,
    Micros,
    Count,
}

/// One term, as given.
#[derive(Debug, Clone, PartialEq)]
pub struct Term {
    name: String,
    metric: Metric,
    op: Op,
    value: f64,
    unit: Unit,
    text: String,
}

/// The objectives, all of which a rate must meet.
#[derive(Debug, Clone, PartialEq)]
pub struct Slo(Vec<Term>);

impl fmt::Display for Slo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t: Vec<&str> = self.0.iter().map(|t| t.text.as_str()).collect();
        f.write_str(&t.join(","))
    }
}

/// Most terms in one `--slo`.
const MAX_TERMS: usize = 32;

impl Slo {
    /// Parses `success>=99.9%,p99<=1s`; an error names the term.
    pub fn parse(s: &str) -> Result<Slo, String> {
        let terms: Vec<&str> = s.split(',').map(str::trim).collect();
        if terms.len() > MAX_TERMS {
            return Err(format!("{} terms; at most {MAX_TERMS}", terms.len()));
        }
        terms
            .into_iter()
            .map(|t| parse_term(t).map_err(|why| format!("'{t}': {why}")))
            .collect::<Result<_, _>>()
            .map(Slo)
    }

    /// Whether a term judges what the platform stored: every step is then read back.
    pub fn needs_readback(&self) -> bool {
        self.0.iter().any(|t| matches!(t.metric, Metric::Loss | Metric::Lag(_)))
    }

    /// The terms `f` breaks, each in words (`p99 1.20 s > 1s`); empty when it meets them all.
    pub fn broken(&self, f: &Figures) -> Vec<String> {
        self.0.iter().filter_map(|t| t.broken(f)).collect()
    }
}

fn parse_term(t: &str) -> Result<Term, String> {
    let at = t.find(['<', '>', '=']).ok_or("expected NAME OP VALUE (p99<=1s, success>=99.9%)")?;
    let (name, rest) = (t[..at].trim().to_ascii_lowercase(), &t[at..]);
    let (op, value) = [(">=", Op::Ge), ("<=", Op::Le), ("==", Op::Eq), (">", Op::Gt), ("<", Op::Lt)]
        .into_iter()
        .find_map(|(s, op)| rest.strip_prefix(s).map(|v| (op, v.trim())))
        .ok_or("the operator is one of >=, <=, >, <, ==")?;
    let metric = match name.as_str() {
        "success" => Metric::Success,
        "p50" => Metric::Latency(Quantile::P50),
        "p90" => Metric::Latency(Quantile::P90),
        "p99" => Metric::Latency(Quantile::P99),
        "p999" | "p99.9" => Metric::Latency(Quantile::P999),
        "max" => Metric::Latency(Quantile::Max),
        "missed" => Metric::Missed,
        "failed" | "errors" => Metric::Failed,
        "retries" => Metric::Retries,
        "rate" => Metric::Rate,
        "loss" => Metric::Loss,
        "lag.p50" => Metric::Lag(Quantile::P50),
        "lag.p90" => Metric::Lag(Quantile::P90),
        "lag.p99" | "lag" => Metric::Lag(Quantile::P99),
        "lag.max" => Metric::Lag(Quantile::Max),
        _ => {
            return Err(format!(
                "unknown measure '{name}' (success, p50, p90, p99, p999, max, missed, failed, retries, rate, loss, \
                 lag.p50, lag.p90, lag.p99, lag.max)"
            ));
        }
    };
    let percent = value.strip_suffix('%');
    let (value, unit) = match metric {
        Metric::Success | Metric::Rate | Metric::Loss => {
            let v = percent.unwrap_or(value).trim().parse::<f64>().ok().filter(|v| (0.0..=100.0).contains(v));
            (v.ok_or("expected a percentage from 0 to 100 (99.9%)")?, Unit::Percent)
        }
        Metric::Latency(_) | Metric::Lag(_) => {
            let d = crate::units::parse_duration(value, Duration::from_secs(3600))?;
            (d.as_micros() as f64, Unit::Micros)
        }
        Metric::Missed | Metric::Failed if percent.is_some() => {
            let v = percent.unwrap_or_default().trim().parse::<f64>().ok().filter(|v| (0.0..=100.0).contains(v));
            (v.ok_or("expected a percentage from 0 to 100")?, Unit::Percent)
        }
        Metric::Missed | Metric::Failed | Metric::Retries => {
            let v = value.parse::<u64>().ok().filter(|v| *v <= 1_000_000_000_000);
            (v.ok_or("expected a count (0, 10) or, for missed and failed, a percentage")? as f64, Unit::Count)
        }
    };
    Ok(Term { name, metric, op, value, unit, text: t.split_whitespace().collect() })
}

impl Term {
    /// The measured value in the term's unit, or why there is none (not read back, nothing
    /// acknowledged, traces still not visible), which breaks the term: an unmeasured platform
    /// cannot vouch.
    fn measure(&self, f: &Figures) -> Result<f64, String> {
        let stored = || f.stored.ok_or_else(|| "unmeasured: not read back".to_string());
        Ok(match (self.metric, self.unit) {
            (Metric::Loss, _) => stored()?.loss_percent.ok_or("unmeasured: nothing acknowledged")?,
            (Metric::Lag(q), _) => q.lag_of(&stored()?)? as f64 * 1000.0,
            (Metric::Success, _) => f.success(),
            (Metric::Latency(q), _) => q.of(f) as f64,
            (Metric::Missed, Unit::Percent) => f.share(f.missed),
            (Metric::Failed, Unit::Percent) => f.share(f.failed),
            (Metric::Missed, _) => f.missed as f64,
            (Metric::Failed, _) => f.failed as f64,
            (Metric::Retries, _) => f.retries as f64,
            (Metric::Rate, _) => {
                if f.target > 0.0 {
                    f.achieved * 100.0 / f.target
                } else {
                    100.0
                }
            }
        })
    }

    fn broken(&self, f: &Figures) -> Option<String> {
        let v = match self.measure(f) {
            Ok(v) => v,
            Err(why) => return Some(format!("{} {why} (wanted {})", self.name, self.text)),
        };
        let ok = match self.op {
            Op::Ge => v >= self.value,
            Op::Le => v <= self.value,
            Op::Gt => v > self.value,
            Op::Lt => v < self.value,
            Op::Eq => (v - self.value).abs() < 1e-9,
        };
        let shown = match self.unit {
            Unit::Percent => format!("{v:.2} %"),
            Unit::Micros => crate::units::us(v as u64),
            Unit::Count => format!("{v}"),
        };
        (!ok).then(|| format!("{} {shown} (wanted {})", self.name, self.text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures() -> Figures {
        Figures {
            target: 100.0,
            achieved: 99.0,
            scheduled: 1000,
            ok: 990,
            failed: 8,
            missed: 2,
            retries: 3,
            p50_us: 2_000,
            p99_us: 1_200_000,
            max_us: 2_000_000,
            ..Figures::default()
        }
    }

    #[test]
    fn terms_hold_or_say_why_not() {
        let f = figures();
        let slo =
            Slo::parse("success>=99.9%, p99<=1s, missed==0, failed<1%, rate>=98%, retries<=3, p50 < 5ms").unwrap();
        assert_eq!(slo.to_string(), "success>=99.9%,p99<=1s,missed==0,failed<1%,rate>=98%,retries<=3,p50<5ms");
        assert_eq!(
            slo.broken(&f),
            ["success 99.00 % (wanted success>=99.9%)", "p99 1.20 s (wanted p99<=1s)", "missed 2 (wanted missed==0)"]
        );
        assert!(Slo::parse("success>=99%,p99<=2s,failed<=8").unwrap().broken(&f).is_empty());
    }

    #[test]
    fn platform_terms_judge_what_was_read_back() {
        let slo = Slo::parse("loss<=0.1%,lag.p99<=30s,success>=99%").unwrap();
        assert!(slo.needs_readback() && !Slo::parse("p99<=1s").unwrap().needs_readback());
        let mut f = figures();
        assert_eq!(
            slo.broken(&f)[..2],
            [
                "loss unmeasured: not read back (wanted loss<=0.1%)",
                "lag.p99 unmeasured: not read back (wanted lag.p99<=30s)"
            ]
        );
        let read = |loss: f64, visible: u64, p99: u64, max: u64| Stored {
            loss_percent: Some(loss),
            acknowledged: 1000,
            visible,
            lag_p99_ms: Some(p99),
            lag_max_ms: Some(max),
            ..Stored::default()
        };
        f.stored = Some(read(0.1, 1000, 30_000, 90_000));
        assert!(slo.broken(&f).is_empty(), "both exactly at their bound: {:?}", slo.broken(&f));
        f.stored = Some(read(0.11, 1000, 30_001, 90_000));
        assert_eq!(slo.broken(&f), ["loss 0.11 % (wanted loss<=0.1%)", "lag.p99 30.0 s (wanted lag.p99<=30s)"]);
        // Traces still not visible are later than any measured: a few, and the p99 is at most
        // the largest lag; more than 1 %, and it is beyond what the read-back saw.
        f.stored = Some(read(0.0, 995, 1_000, 29_000));
        assert!(slo.broken(&f).is_empty(), "{:?}", slo.broken(&f));
        f.stored = Some(read(0.0, 995, 1_000, 31_000));
        assert_eq!(slo.broken(&f), ["lag.p99 31.0 s (wanted lag.p99<=30s)"]);
        f.stored = Some(read(0.0, 989, 1_000, 2_000));
        assert_eq!(
            slo.broken(&f),
            ["lag.p99 beyond the read-back: 11 of 1000 acknowledged traces not visible (wanted lag.p99<=30s)"]
        );
        // Nothing acknowledged: nothing to lose, nothing to time — neither can vouch.
        f.stored = Some(Stored { loss_percent: None, ..Stored::default() });
        assert_eq!(
            slo.broken(&f)[..2],
            [
                "loss unmeasured: nothing acknowledged (wanted loss<=0.1%)",
                "lag.p99 unmeasured: nothing acknowledged (wanted lag.p99<=30s)"
            ]
        );
    }

    #[test]
    fn errors_name_the_term() {
        for (bad, want) in [
            ("p99<=soon", "'p99<=soon': 'soon' is not a duration"),
            ("succes>=99", "'succes>=99': unknown measure 'succes'"),
            ("success>=120%", "'success>=120%': expected a percentage"),
            ("p99", "'p99': expected NAME OP VALUE"),
            ("p99=>1s", "'p99=>1s': the operator is one of"),
            ("missed==-1", "'missed==-1': expected a count"),
            ("loss<=200%", "'loss<=200%': expected a percentage"),
            ("lag.p95<=1s", "'lag.p95<=1s': unknown measure 'lag.p95'"),
        ] {
            let e = Slo::parse(bad).unwrap_err();
            assert!(e.starts_with(want), "{bad}: {e}");
        }
    }
}
