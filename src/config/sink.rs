//! `traceblast sink` arguments → [`SinkPlan`]. Each error is one line naming the flag and the
//! value as typed: `--fail '429:1.5': probability must be between 0 and 1`.

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};

use crate::cli::SinkArgs;
use crate::sink::profile::PROFILE_NAMES;
use crate::sink::{Faults, Profile, SinkPlan, Stall};
use crate::units::{parse_bytes, parse_count, parse_duration};

/// Builds the `sink` plan.
pub fn sink_plan(a: &SinkArgs) -> Result<SinkPlan> {
    let profile = a
        .profile
        .as_deref()
        .map(|p| {
            Profile::parse(p).with_context(|| format!("--profile '{p}': unknown platform (one of {PROFILE_NAMES})"))
        })
        .transpose()?;
    let max = parse_bytes(&a.max_body).map_err(|e| anyhow!("--max-body {e}"))?;
    if max > u64::from(u32::MAX) {
        bail!("--max-body '{}' is too large: at most 4GiB", a.max_body);
    }
    let max_body = profile.and_then(Profile::max_body).map_or(max as usize, |p| p.min(max as usize));
    let faults = Faults {
        fail: a.fail.as_deref().map(parse_fail).transpose()?.unwrap_or_default(),
        retry_after: a.retry_after.as_deref().map(|s| duration("--retry-after", s)).transpose()?,
        latency: a.latency.as_deref().map(parse_latency).transpose()?,
        rate_limit: a.rate_limit.as_deref().map(parse_rate).transpose()?,
        reject_spans: a
            .reject_spans
            .as_deref()
            .map(|s| probability("--reject-spans", s, s))
            .transpose()?
            .unwrap_or(0.0),
        stall: a.stall.as_deref().map(parse_stall).transpose()?,
        conflict_on_duplicate: a.conflict_on_duplicate,
    };
    let until_idle = a.until_idle.as_deref().map(|s| duration("--until-idle", s)).transpose()?;
    if until_idle == Some(Duration::ZERO) {
        bail!("--until-idle '{}' must be longer than 0", a.until_idle.as_deref().unwrap_or_default());
    }
    let expect_spans =
        a.expect_spans.as_deref().map(|s| parse_count(s).map_err(|e| anyhow!("--expect-spans {e}"))).transpose()?;
    Ok(SinkPlan {
        listen: parse_listen(&a.listen)?,
        max_body,
        faults,
        profile,
        seed: a.seed,
        quiet: a.quiet,
        until_idle,
        expect_spans,
        summary: a.summary.as_deref().map(crate::output::Output::check).transpose().context("--summary")?,
        capture: 0,
    })
}

fn parse_listen(s: &str) -> Result<SocketAddr> {
    let bad = || format!("--listen '{s}' is not an address to listen on (HOST:PORT, e.g. 127.0.0.1:4318)");
    if let Ok(a) = s.trim().parse() {
        return Ok(a);
    }
    s.trim().to_socket_addrs().ok().and_then(|mut it| it.next()).with_context(bad)
}

fn duration(flag: &str, s: &str) -> Result<Duration> {
    parse_duration(s, crate::units::DAY).map_err(|e| anyhow!("{flag} {e}"))
}

/// A probability in [0, 1]; `whole` is the flag's full value for the message.
fn probability(flag: &str, whole: &str, p: &str) -> Result<f64> {
    let v: f64 = p.trim().parse().map_err(|_| anyhow!("{flag} '{whole}': '{p}' is not a probability (e.g. 0.05)"))?;
    if !(0.0..=1.0).contains(&v) {
        bail!("{flag} '{whole}': probability must be between 0 and 1");
    }
    Ok(v)
}

/// `429:0.1,503:0.05`.
pub fn parse_fail(s: &str) -> Result<Vec<(u16, f64)>> {
    let mut out: Vec<(u16, f64)> = Vec::new();
    for part in s.split(',') {
        let (status, p) =
            part.split_once(':').with_context(|| format!("--fail '{s}': '{part}' is not STATUS:PROBABILITY"))?;
        let status: u16 =
            status.trim().parse().map_err(|_| anyhow!("--fail '{s}': '{status}' is not an HTTP status"))?;
        if !(400..=599).contains(&status) {
            bail!("--fail '{s}': status {status} is not an error status (400-599)");
        }
        if out.iter().any(|(st, _)| *st == status) {
            bail!("--fail '{s}': status {status} is listed twice");
        }
        out.push((status, probability("--fail", s, p)?));
    }
    let sum: f64 = out.iter().map(|(_, p)| p).sum();
    if sum > 1.0 + 1e-9 {
        bail!("--fail '{s}': probabilities sum to {sum:.2}, at most 1");
    }
    Ok(out)
}

/// `20ms` or `5ms..50ms`.
pub fn parse_latency(s: &str) -> Result<(Duration, Duration)> {
    let (lo, hi) = match s.split_once("..") {
        Some((lo, hi)) => (duration("--latency", lo)?, duration("--latency", hi)?),
        None => {
            let d = duration("--latency", s)?;
            (d, d)
        }
    };
    if lo > hi {
        bail!("--latency '{s}': the minimum is larger than the maximum");
    }
    Ok((lo, hi))
}

/// `500/s`, `30/m` (also `/sec`, `/min`) → requests per second.
pub fn parse_rate(s: &str) -> Result<f64> {
    let bad = || anyhow!("--rate-limit '{s}' is not a rate (e.g. 500/s or 30/m)");
    let (n, unit) = s.split_once('/').ok_or_else(bad)?;
    let n: f64 = n.trim().parse().map_err(|_| bad())?;
    let per = match unit.trim() {
        "s" | "sec" | "second" => 1.0,
        "m" | "min" | "minute" => 60.0,
        _ => return Err(bad()),
    };
    if !n.is_finite() || n <= 0.0 {
        bail!("--rate-limit '{s}' must be more than 0");
    }
    Ok(n / per)
}

/// `2s@10s`.
pub fn parse_stall(s: &str) -> Result<Stall> {
    let (d, after) = s.split_once('@').with_context(|| format!("--stall '{s}' is not DURATION@AFTER (e.g. 2s@10s)"))?;
    let stall = Stall { duration: duration("--stall", d)?, after: duration("--stall", after)? };
    if stall.duration.is_zero() {
        bail!("--stall '{s}': the stall must last longer than 0");
    }
    Ok(stall)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err<T: std::fmt::Debug>(r: Result<T>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn fail_lists() {
        assert_eq!(parse_fail("429:0.1,503:0.05").unwrap(), [(429, 0.1), (503, 0.05)]);
        assert_eq!(err(parse_fail("429:1.5")), "--fail '429:1.5': probability must be between 0 and 1");
        assert_eq!(err(parse_fail("429")), "--fail '429': '429' is not STATUS:PROBABILITY");
        assert_eq!(err(parse_fail("abc:0.1")), "--fail 'abc:0.1': 'abc' is not an HTTP status");
        assert_eq!(err(parse_fail("200:0.1")), "--fail '200:0.1': status 200 is not an error status (400-599)");
        assert_eq!(
            err(parse_fail("429:0.6,503:0.6")),
            "--fail '429:0.6,503:0.6': probabilities sum to 1.20, at most 1"
        );
        assert_eq!(err(parse_fail("429:0.1,429:0.2")), "--fail '429:0.1,429:0.2': status 429 is listed twice");
        assert!(err(parse_fail("429:x")).contains("'x' is not a probability"));
    }

    #[test]
    fn latency_rate_and_stall() {
        let ms = Duration::from_millis;
        assert_eq!(parse_latency("20ms").unwrap(), (ms(20), ms(20)));
        assert_eq!(parse_latency("5ms..50ms").unwrap(), (ms(5), ms(50)));
        assert_eq!(err(parse_latency("50ms..5ms")), "--latency '50ms..5ms': the minimum is larger than the maximum");
        assert!(err(parse_latency("soon")).starts_with("--latency 'soon'"));
        assert_eq!(parse_rate("500/s").unwrap(), 500.0);
        assert_eq!(parse_rate("30/m").unwrap(), 0.5);
        assert_eq!(err(parse_rate("500")), "--rate-limit '500' is not a rate (e.g. 500/s or 30/m)");
        assert_eq!(err(parse_rate("0/s")), "--rate-limit '0/s' must be more than 0");
        assert_eq!(parse_stall("2s@10s").unwrap(), Stall { duration: ms(2000), after: ms(10_000) });
        assert_eq!(err(parse_stall("2s")), "--stall '2s' is not DURATION@AFTER (e.g. 2s@10s)");
        assert_eq!(err(parse_stall("0s@1s")), "--stall '0s@1s': the stall must last longer than 0");
    }

    fn args(extra: &[&str]) -> SinkArgs {
        use clap::Parser;
        let mut argv = vec!["traceblast", "sink"];
        argv.extend_from_slice(extra);
        match crate::cli::Cli::parse_from(argv).command {
            crate::cli::Command::Sink(a) => a,
            _ => unreachable!(),
        }
    }

    #[test]
    fn plans_from_arguments() {
        let p = sink_plan(&args(&[])).unwrap();
        assert_eq!(p.listen, "127.0.0.1:4318".parse().unwrap());
        assert_eq!(p.max_body, 16 << 20);
        assert_eq!(p.faults, Faults::default());
        assert!(!p.quiet);
        let p =
            sink_plan(&args(&["--profile", "braintrust", "--reject-spans", "0.01", "--expect-spans", "10k"])).unwrap();
        assert_eq!(p.max_body, 10_000_000, "Braintrust's limit wins over the default");
        assert_eq!(p.faults.reject_spans, 0.01);
        assert_eq!(p.expect_spans, Some(10_000));
        let p = sink_plan(&args(&["--profile", "braintrust", "--max-body", "1MiB"])).unwrap();
        assert_eq!(p.max_body, 1 << 20, "a smaller --max-body still applies");
        assert_eq!(
            err(sink_plan(&args(&["--profile", "datadog"]))),
            "--profile 'datadog': unknown platform (one of braintrust, langsmith, langfuse, phoenix, honeycomb)"
        );
        assert!(err(sink_plan(&args(&["--listen", "nowhere"]))).starts_with("--listen 'nowhere'"));
        assert_eq!(err(sink_plan(&args(&["--until-idle", "0s"]))), "--until-idle '0s' must be longer than 0");
        assert!(err(sink_plan(&args(&["--reject-spans", "2"]))).contains("between 0 and 1"));
        assert!(err(sink_plan(&args(&["--expect-spans", "0"]))).starts_with("--expect-spans '0'"));
    }
}
