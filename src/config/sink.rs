//! `traceblast sink` arguments → [`SinkPlan`]. Each error is one line naming the flag and the
//! value as typed: `--fail '429:1.5': probability must be between 0 and 1`. Every number has
//! a stated bound (the constants below and in [`crate::sink::limits`], quoted by `--help`).

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};

use crate::cli::SinkArgs;
use crate::platform::profile::PROFILE_NAMES;
use crate::sink::limits::{self, Limits};
use crate::sink::{Faults, Profile, SinkPlan, Stall};
use crate::units::{DAY, parse_bytes, parse_count, parse_duration};

/// The largest `--max-body`: OTLP bodies are megabytes (platforms refuse above 10-20 MB).
pub const MAX_BODY: u64 = 1 << 30;
/// The longest `--latency`: beyond any exporter's timeout.
pub const MAX_LATENCY: Duration = Duration::from_secs(10 * 60);
/// The longest `--stall` (its DURATION; AFTER may be up to [`MAX_STALL_AFTER`]).
pub const MAX_STALL: Duration = Duration::from_secs(10 * 60);
/// The latest start of a `--stall`, counted from the first request.
pub const MAX_STALL_AFTER: Duration = DAY;
/// The longest `--retry-after`.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60 * 60);
/// The longest `--until-idle`.
pub const MAX_UNTIL_IDLE: Duration = DAY;
/// The slowest `--rate-limit`, per second (one an hour): the bucket's wait stays an hour at
/// most.
pub const MIN_RATE: f64 = 1.0 / 3600.0;
/// The fastest `--rate-limit`, per second.
pub const MAX_RATE: f64 = 10_000_000.0;

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
    if max > MAX_BODY {
        bail!("--max-body '{}' is too large: at most 1GiB", a.max_body);
    }
    let max_body = profile.and_then(Profile::max_body).map_or(max as usize, |p| p.min(max as usize));
    let faults = Faults {
        fail: a.fail.as_deref().map(parse_fail).transpose()?.unwrap_or_default(),
        retry_after: a.retry_after.as_deref().map(|s| duration("--retry-after", s, MAX_RETRY_AFTER)).transpose()?,
        latency: a.latency.as_deref().map(parse_latency).transpose()?,
        rate_limit: a.rate_limit.as_deref().map(|r| parse_rate("--rate-limit", r)).transpose()?,
        burst: a
            .burst
            .as_deref()
            .map(|b| {
                b.trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|n| (1..=10_000_000).contains(n))
                    .map(|n| n as f64)
                    .ok_or_else(|| anyhow!("--burst '{b}': expected a number of requests from 1 to 10000000"))
            })
            .transpose()?,
        capacity: a.capacity.as_deref().map(|r| parse_rate("--capacity", r)).transpose()?,
        reject_spans: a
            .reject_spans
            .as_deref()
            .map(|s| probability("--reject-spans", s, s))
            .transpose()?
            .unwrap_or(0.0),
        drop_traces: a.drop_traces.as_deref().map(|s| probability("--drop-traces", s, s)).transpose()?.unwrap_or(0.0),
        stall: a.stall.as_deref().map(parse_stall).transpose()?,
        conflict_on_duplicate: a.conflict_on_duplicate,
        store_rate: a.store_rate.as_deref().map(|r| parse_rate("--store-rate", r)).transpose()?,
    };
    let until_idle = a.until_idle.as_deref().map(|s| positive("--until-idle", s, MAX_UNTIL_IDLE)).transpose()?;
    let expect_spans =
        a.expect_spans.as_deref().map(|s| parse_count(s).map_err(|e| anyhow!("--expect-spans {e}"))).transpose()?;
    let grpc_listen = a.grpc_listen.as_deref().map(|g| parse_listen("--grpc-listen", g)).transpose()?;
    let limits = parse_limits(a, max_body)?;
    if grpc_listen.is_some() && limits.max_inflight_bytes < (max_body + crate::sink::FRAME_HEADER) as u64 {
        bail!(
            "--max-inflight-bytes '{}' is smaller than the largest gRPC body ({max_body} bytes of --max-body and a {}-byte frame header): such a call could never be read",
            a.max_inflight_bytes,
            crate::sink::FRAME_HEADER
        );
    }
    Ok(SinkPlan {
        listen: parse_listen("--listen", &a.listen)?,
        grpc_listen,
        max_body,
        faults,
        limits,
        profile,
        seed: a.seed,
        quiet: a.quiet,
        until_idle,
        expect_spans,
        summary: a.summary.as_deref().map(crate::output::Output::check).transpose().context("--summary")?,
        capture: 0,
    })
}

fn parse_listen(flag: &str, s: &str) -> Result<SocketAddr> {
    let bad = || format!("{flag} '{s}' is not an address to listen on (HOST:PORT, e.g. 127.0.0.1:4318)");
    if let Ok(a) = s.trim().parse() {
        return Ok(a);
    }
    s.trim().to_socket_addrs().ok().and_then(|mut it| it.next()).with_context(bad)
}

fn duration(flag: &str, s: &str, max: Duration) -> Result<Duration> {
    parse_duration(s, max).map_err(|e| anyhow!("{flag} {e}"))
}

/// A duration longer than 0 and at most `max`.
fn positive(flag: &str, s: &str, max: Duration) -> Result<Duration> {
    let d = duration(flag, s, max)?;
    if d.is_zero() {
        bail!("{flag} '{s}' must be longer than 0");
    }
    Ok(d)
}

/// `--max-connections`, `--header-timeout`, `--idle-timeout`, `--max-inflight-bytes`;
/// `max_body` is the largest body (a body of that size must fit in the budget).
fn parse_limits(a: &SinkArgs, max_body: usize) -> Result<Limits> {
    let conns = parse_count(&a.max_connections).map_err(|e| anyhow!("--max-connections {e}"))?;
    if conns > limits::MAX_CONNECTIONS {
        bail!("--max-connections '{}' is too large: at most {}", a.max_connections, limits::MAX_CONNECTIONS);
    }
    let bytes = parse_bytes(&a.max_inflight_bytes).map_err(|e| anyhow!("--max-inflight-bytes {e}"))?;
    if bytes > limits::MAX_INFLIGHT_BYTES {
        bail!("--max-inflight-bytes '{}' is too large: at most 64GiB", a.max_inflight_bytes);
    }
    if bytes < max_body as u64 {
        bail!(
            "--max-inflight-bytes '{}' is smaller than the largest body ({max_body} bytes, --max-body): such a body could never be read",
            a.max_inflight_bytes
        );
    }
    Ok(Limits {
        max_connections: conns as usize,
        header_timeout: positive("--header-timeout", &a.header_timeout, limits::MAX_HEADER_TIMEOUT)?,
        idle_timeout: positive("--idle-timeout", &a.idle_timeout, limits::MAX_IDLE_TIMEOUT)?,
        max_inflight_bytes: bytes,
    })
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
        Some((lo, hi)) => (duration("--latency", lo, MAX_LATENCY)?, duration("--latency", hi, MAX_LATENCY)?),
        None => {
            let d = duration("--latency", s, MAX_LATENCY)?;
            (d, d)
        }
    };
    if lo > hi {
        bail!("--latency '{s}': the minimum is larger than the maximum");
    }
    Ok((lo, hi))
}

/// `500/s`, `30/m`, `2/h` (also `/sec`, `/min`, `/hour`) → requests per second, between
/// [`MIN_RATE`] and [`MAX_RATE`].
pub fn parse_rate(flag: &str, s: &str) -> Result<f64> {
    let bad = || anyhow!("{flag} '{s}' is not a rate (e.g. 500/s, 30/m or 2/h)");
    let (n, unit) = s.split_once('/').ok_or_else(bad)?;
    let n: f64 = n.trim().parse().map_err(|_| bad())?;
    let per = match unit.trim() {
        "s" | "sec" | "second" => 1.0,
        "m" | "min" | "minute" => 60.0,
        "h" | "hour" => 3600.0,
        _ => return Err(bad()),
    };
    if n.is_nan() || n <= 0.0 {
        bail!("{flag} '{s}' must be more than 0");
    }
    let rate = n / per;
    if !(MIN_RATE..=MAX_RATE).contains(&rate) {
        bail!("{flag} '{s}' is out of range: from 1/h to 10000000/s");
    }
    Ok(rate)
}

/// `2s@10s`.
pub fn parse_stall(s: &str) -> Result<Stall> {
    let (d, after) = s.split_once('@').with_context(|| format!("--stall '{s}' is not DURATION@AFTER (e.g. 2s@10s)"))?;
    let stall =
        Stall { duration: duration("--stall", d, MAX_STALL)?, after: duration("--stall", after, MAX_STALL_AFTER)? };
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
        assert_eq!(parse_rate("--rate-limit", "500/s").unwrap(), 500.0);
        assert_eq!(parse_rate("--rate-limit", "30/m").unwrap(), 0.5);
        assert_eq!(
            err(parse_rate("--rate-limit", "500")),
            "--rate-limit '500' is not a rate (e.g. 500/s, 30/m or 2/h)"
        );
        assert_eq!(err(parse_rate("--rate-limit", "0/s")), "--rate-limit '0/s' must be more than 0");
        assert_eq!(parse_stall("2s@10s").unwrap(), Stall { duration: ms(2000), after: ms(10_000) });
        assert_eq!(err(parse_stall("2s")), "--stall '2s' is not DURATION@AFTER (e.g. 2s@10s)");
        assert_eq!(err(parse_stall("0s@1s")), "--stall '0s@1s': the stall must last longer than 0");
    }

    fn args(extra: &[&str]) -> SinkArgs {
        use clap::Parser;
        let mut argv = vec!["traceblast", "sink"];
        argv.extend_from_slice(extra);
        match crate::cli::Cli::parse_from(argv).command {
            crate::cli::Command::Sink(a) => *a,
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
            "--profile 'datadog': unknown platform (one of phoenix, langfuse, langsmith, braintrust, honeycomb)"
        );
        assert!(err(sink_plan(&args(&["--listen", "nowhere"]))).starts_with("--listen 'nowhere'"));
        assert_eq!(err(sink_plan(&args(&["--until-idle", "0s"]))), "--until-idle '0s' must be longer than 0");
        assert!(err(sink_plan(&args(&["--reject-spans", "2"]))).contains("between 0 and 1"));
        assert!(err(sink_plan(&args(&["--expect-spans", "0"]))).starts_with("--expect-spans '0'"));
    }

    #[test]
    fn limits_have_defaults_and_bounds() {
        let p = sink_plan(&args(&[])).unwrap();
        assert_eq!(p.limits, Limits::default(), "clap's defaults are the library's");
        let p = sink_plan(&args(&[
            "--max-connections",
            "10k",
            "--header-timeout",
            "2s",
            "--idle-timeout",
            "1m",
            "--max-inflight-bytes",
            "1GiB",
        ]))
        .unwrap();
        let want = Limits {
            max_connections: 10_000,
            header_timeout: Duration::from_secs(2),
            idle_timeout: Duration::from_secs(60),
            max_inflight_bytes: 1 << 30,
        };
        assert_eq!(p.limits, want);
        let p = sink_plan(&args(&["--profile", "braintrust", "--max-inflight-bytes", "10MB"])).unwrap();
        assert_eq!(p.limits.max_inflight_bytes, 10_000_000, "enough for Braintrust's 10 MB bodies");
        for (flags, message) in [
            (&["--max-connections", "0"][..], "--max-connections '0' must be at least 1"),
            (&["--max-connections", "2M"], "--max-connections '2M' is too large: at most 1000000"),
            (&["--max-connections", "1.5"], "--max-connections '1.5' is not a whole number"),
            (&["--header-timeout", "0s"], "--header-timeout '0s' must be longer than 0"),
            (&["--header-timeout", "6m"], "--header-timeout '6m' is longer than the maximum, 5m"),
            (&["--idle-timeout", "2h"], "--idle-timeout '2h' is longer than the maximum, 1h"),
            (&["--idle-timeout", "1e30"], "--idle-timeout '1e30' is longer than the maximum, 1h"),
            (&["--max-inflight-bytes", "65GiB"], "--max-inflight-bytes '65GiB' is too large: at most 64GiB"),
            (
                &["--max-inflight-bytes", "8MiB"],
                "--max-inflight-bytes '8MiB' is smaller than the largest body (16777216 bytes, --max-body): such a body could never be read",
            ),
            (&["--max-body", "2GiB"], "--max-body '2GiB' is too large: at most 1GiB"),
        ] {
            assert_eq!(err(sink_plan(&args(flags))), message, "{flags:?}");
        }
    }

    #[test]
    fn every_duration_and_rate_has_a_maximum() {
        for (flags, message) in [
            (&["--latency", "11m"][..], "--latency '11m' is longer than the maximum, 10m"),
            (&["--latency", "1ms..1e20"], "--latency '1e20' is longer than the maximum, 10m"),
            (&["--retry-after", "2h"], "--retry-after '2h' is longer than the maximum, 1h"),
            (&["--stall", "11m@1s"], "--stall '11m' is longer than the maximum, 10m"),
            (&["--stall", "1s@2days"], "--stall '2days' is longer than the maximum, 1day"),
            (&["--until-idle", "1e300"], "--until-idle '1e300' is longer than the maximum, 1day"),
            (&["--until-idle", "0s"], "--until-idle '0s' must be longer than 0"),
            (&["--rate-limit", "1e-9/s"], "--rate-limit '1e-9/s' is out of range: from 1/h to 10000000/s"),
            (&["--rate-limit", "inf/s"], "--rate-limit 'inf/s' is out of range: from 1/h to 10000000/s"),
            (&["--rate-limit", "NaN/s"], "--rate-limit 'NaN/s' must be more than 0"),
            (&["--expect-spans", "1e16"], "--expect-spans '1e16' is too large"),
        ] {
            assert_eq!(err(sink_plan(&args(flags))), message, "{flags:?}");
        }
        // The bounds themselves are accepted.
        let p = sink_plan(&args(&["--latency", "10m", "--stall", "10m@1day", "--rate-limit", "1/h"])).unwrap();
        assert_eq!(p.faults.latency, Some((MAX_LATENCY, MAX_LATENCY)));
        assert_eq!(p.faults.rate_limit, Some(MIN_RATE));
        assert_eq!(parse_rate("--rate-limit", "10000000/s").unwrap(), MAX_RATE);
    }

    #[test]
    fn help_states_every_maximum() {
        use clap::CommandFactory;
        let mut cmd = crate::cli::Cli::command();
        let help = cmd.find_subcommand_mut("sink").unwrap().render_long_help().to_string();
        let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
        let d = |d: Duration| humantime::format_duration(d).to_string();
        for needle in [
            format!("at most {}", d(MAX_LATENCY)),
            format!("(at most {})", d(MAX_STALL)),
            format!("(at most {})", d(MAX_STALL_AFTER)),
            format!("at most {}", d(MAX_RETRY_AFTER)),
            format!("most {}", d(MAX_UNTIL_IDLE)),
            format!("At most {}", d(limits::MAX_HEADER_TIMEOUT)),
            format!("At most {}", d(limits::MAX_IDLE_TIMEOUT)),
            format!("1 to {}", limits::MAX_CONNECTIONS),
            format!("at most {}GiB", limits::MAX_INFLIGHT_BYTES >> 30),
            format!("at most {}GiB", MAX_BODY >> 30),
            format!("from 1/h to {MAX_RATE}/s"),
            "[default: 10s]".to_string(),
            "[default: 30s]".to_string(),
            "[default: 4096]".to_string(),
            "[default: 128MiB]".to_string(),
            "[default: 16MiB]".to_string(),
        ] {
            assert!(help.contains(&needle), "--help does not say {needle:?}:\n{help}");
        }
    }
}
