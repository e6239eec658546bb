//! `traceblast limit`'s search settings and objectives, checked before any traffic.

use std::time::Duration;

use anyhow::{Result, anyhow, bail};

use crate::cli::LimitArgs;
use crate::limit::{Settings, Slo};
use crate::units::parse_duration;

/// The objectives when `--slo` is not given.
pub const DEFAULT_SLO: &str = "success>=99.9%,p99<=1s,missed==0";

/// Replay's options the search sets itself, refused when given.
fn refused(a: &LimitArgs) -> Option<&'static str> {
    let r = &a.replay;
    [
        (r.rate.is_some(), "--rate (the search sets it: --start-rate, --max-rate)"),
        (r.stages.is_some(), "--stages"),
        (r.duration.is_some(), "--duration (each step lasts --step)"),
        (r.requests.is_some(), "--requests"),
        (r.loops.is_some(), "--loops (steps loop the corpus)"),
        (r.ramp_up.is_some(), "--ramp-up"),
        (r.timing.is_some(), "--timing (the search sets the rate)"),
        (r.speed.is_some(), "--speed"),
        (r.shard.is_some(), "--shard"),
        (r.max_loss.is_some(), "--max-loss (use --slo 'loss<=…')"),
        (r.min_success.is_some(), "--min-success (use --slo 'success>=…')"),
        (r.dry_run, "--dry-run"),
    ]
    .into_iter()
    .find_map(|(given, what)| given.then_some(what))
}

fn number(flag: &str, v: &Option<String>, default: f64, range: std::ops::RangeInclusive<f64>) -> Result<f64> {
    let Some(s) = v else { return Ok(default) };
    let t = s.trim();
    // Only --precision reads a percentage (5% = 0.05).
    let n = match t.strip_suffix('%') {
        Some(p) if flag == "--precision" => p.trim().parse::<f64>().ok().map(|p| p / 100.0),
        _ => t.parse::<f64>().ok(),
    };
    n.filter(|n| range.contains(n))
        .ok_or_else(|| anyhow!("{flag} '{s}': expected a number from {} to {}", range.start(), range.end()))
}

fn time(flag: &str, v: &Option<String>, default: Duration, max: Duration) -> Result<Duration> {
    v.as_deref().map_or(Ok(default), |s| parse_duration(s, max).map_err(|e| anyhow!("{flag} {e}")))
}

/// The search settings and objectives of `a`, and how each step is read back from the platform
/// (`Some` when an objective is on loss or lag, or `--verify` is given).
pub fn settings(a: &LimitArgs) -> Result<(Settings, Slo, Option<crate::verify::Settings>)> {
    if let Some(what) = refused(a) {
        bail!("limit does not take {what}");
    }
    let slo_text = a.slo.as_deref().unwrap_or(DEFAULT_SLO);
    let slo = Slo::parse(slo_text).map_err(|e| anyhow!("--slo {e}"))?;
    let step = time("--step", &a.step, Duration::from_secs(30), Duration::from_secs(3600))?;
    if step < Duration::from_secs(2) {
        bail!(
            "--step '{}' is shorter than 2s: a step needs whole seconds after its warm-up",
            a.step.as_deref().unwrap_or("")
        );
    }
    let warmup = time("--warmup", &a.warmup, step / 5, step)?;
    if warmup + Duration::from_secs(1) > step {
        bail!(
            "--warmup '{}' leaves less than 1s of --step {} to measure",
            a.warmup.as_deref().unwrap_or(""),
            fmt(step)
        );
    }
    let start = number("--start-rate", &a.start_rate, 10.0, 0.01..=10_000_000.0)?;
    let max = number("--max-rate", &a.max_rate, 100_000.0, 0.01..=10_000_000.0)?;
    if max < start {
        bail!("--max-rate {max} is below --start-rate {start}");
    }
    let mut s = Settings {
        start,
        max,
        factor: number("--factor", &a.factor, 2.0, 1.1..=10.0)?,
        precision: number("--precision", &a.precision, 0.05, 0.01..=1.0)?,
        step,
        warmup,
        cooldown: time("--cooldown", &a.cooldown, Duration::from_secs(5), Duration::from_secs(600))?,
        budget: a
            .budget
            .as_deref()
            .map(|b| parse_duration(b, Duration::from_secs(7 * 86_400)).map_err(|e| anyhow!("--budget {e}")))
            .transpose()?,
        readback_wait: Duration::ZERO,
        max_steps: match &a.max_steps {
            None => 30,
            Some(v) => v
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=200).contains(n))
                .ok_or_else(|| anyhow!("--max-steps '{v}': expected a whole number from 1 to 200"))?,
        },
    };
    let readback = (slo.needs_readback() || a.replay.verify)
        .then(|| crate::config::replay::verify_flags(&a.replay))
        .transpose()?;
    s.readback_wait = readback.as_ref().map_or(Duration::ZERO, |r| r.wait);
    Ok((s, slo, readback))
}

fn fmt(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}
