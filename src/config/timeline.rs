//! `gen --shape sdk`: the simulated application's settings, from flags or `OTEL_BSP_*`.

use std::time::Duration;

use anyhow::{Result, bail};

use super::env::Env;
use crate::cli::{GenArgs, ShapeArg};
use crate::timeline::{Arrival, BspConfig, TimelinePlan};
use crate::units::{parse_count, parse_duration};

/// Most sessions a second (`--sessions-per-second`).
pub const MAX_SESSIONS_PER_SECOND: f64 = 1e6;
/// Most concurrent sessions (`--concurrency`).
pub const MAX_CONCURRENCY: u32 = 1_000_000;
/// Largest export batch: a record's trace count is a u16.
pub const MAX_BSP_BATCH: u64 = 65_535;
/// Largest processor queue.
pub const MAX_BSP_QUEUE: u64 = 1 << 24;
/// Longest schedule delay or export time.
pub const MAX_BSP_TIME: Duration = Duration::from_secs(3600);

/// The timeline settings of `a`, or `None` for `--shape traces` (then no timeline option may be
/// given). Flags win over `OTEL_BSP_*` in `env`.
pub fn timeline_plan(a: &GenArgs, env: &Env) -> Result<Option<TimelinePlan>> {
    if a.shape == ShapeArg::Traces {
        let given = [
            ("--sessions-per-second", a.sessions_per_second.is_some()),
            ("--concurrency", a.concurrency.is_some()),
            ("--bsp-batch", a.bsp_batch.is_some()),
            ("--bsp-queue", a.bsp_queue.is_some()),
            ("--bsp-delay", a.bsp_delay.is_some()),
            ("--bsp-export-time", a.bsp_export_time.is_some()),
        ];
        if let Some((flag, _)) = given.iter().find(|g| g.1) {
            bail!("{flag} shapes an SDK's export timeline: it needs --shape sdk");
        }
        return Ok(None);
    }
    if a.traces_per_request != 1 {
        bail!(
            "--traces-per-request {} does not apply to --shape sdk: the simulated processors decide what each request holds (--bsp-batch)",
            a.traces_per_request
        );
    }
    if let Some(s) = &a.shard {
        bail!("--shard {s} does not apply to --shape sdk: one timeline interleaves every session; generate it whole");
    }
    let arrival = match (a.concurrency, &a.sessions_per_second) {
        (Some(c), _) if !(1..=MAX_CONCURRENCY).contains(&c) => {
            bail!("--concurrency {c} must be between 1 and {MAX_CONCURRENCY}")
        }
        (Some(c), _) => Arrival::Concurrency(c),
        (None, Some(r)) => Arrival::Rate(sessions_per_second(r)?),
        (None, None) => Arrival::Rate(10.0),
    };
    let defaults = BspConfig::default();
    let batch = number(a.bsp_batch.as_deref(), "--bsp-batch", env, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", MAX_BSP_BATCH)?
        .unwrap_or(defaults.batch as u64);
    let queue = number(a.bsp_queue.as_deref(), "--bsp-queue", env, "OTEL_BSP_MAX_QUEUE_SIZE", MAX_BSP_QUEUE)?
        .unwrap_or(defaults.queue as u64);
    if batch > queue {
        bail!(
            "--bsp-batch {batch} is larger than --bsp-queue {queue}: a batch is taken from the queue (the SDKs refuse this too)"
        );
    }
    let delay = match (&a.bsp_delay, env.get("OTEL_BSP_SCHEDULE_DELAY")) {
        (Some(d), _) => time("--bsp-delay", d)?,
        (None, Some(ms)) => env_ms("OTEL_BSP_SCHEDULE_DELAY", &ms)?,
        (None, None) => Duration::from_nanos(defaults.delay_ns),
    };
    if delay < Duration::from_millis(1) {
        bail!("--bsp-delay {}: the schedule delay must be at least 1ms", a.bsp_delay.as_deref().unwrap_or("0"));
    }
    let export = a.bsp_export_time.as_deref().map(|d| time("--bsp-export-time", d)).transpose()?.unwrap_or_default();
    let bsp = BspConfig {
        batch: batch as usize,
        queue: queue as usize,
        delay_ns: delay.as_nanos() as u64,
        export_ns: export.as_nanos() as u64,
    };
    Ok(Some(TimelinePlan { arrival, bsp }))
}

fn sessions_per_second(r: &str) -> Result<f64> {
    let v: f64 = r.trim().trim_end_matches("/s").parse().map_err(|_| {
        anyhow::anyhow!("--sessions-per-second '{r}' is not a number of sessions a second (for example 20)")
    })?;
    if !(v.is_finite() && (0.001..=MAX_SESSIONS_PER_SECOND).contains(&v)) {
        bail!("--sessions-per-second {r} must be between 0.001 and {MAX_SESSIONS_PER_SECOND}");
    }
    Ok(v)
}

/// A count from `flag`, else from the variable `var`, within 1..=`max`.
fn number(flag_value: Option<&str>, flag: &str, env: &Env, var: &str, max: u64) -> Result<Option<u64>> {
    let (value, name) = match (flag_value, env.get(var)) {
        (Some(v), _) => (v.to_string(), flag),
        (None, Some(v)) => (v, var),
        (None, None) => return Ok(None),
    };
    let n = parse_count(&value).map_err(|e| anyhow::anyhow!("{name} {e}"))?;
    if !(1..=max).contains(&n) {
        bail!("{name} {value} must be between 1 and {max}");
    }
    Ok(Some(n))
}

fn time(flag: &str, s: &str) -> Result<Duration> {
    parse_duration(s, MAX_BSP_TIME).map_err(|e| anyhow::anyhow!("{flag} {e}"))
}

/// A variable in ms, as the SDKs read `OTEL_BSP_SCHEDULE_DELAY`.
fn env_ms(var: &str, v: &str) -> Result<Duration> {
    let ms: u64 = v.trim().parse().map_err(|_| anyhow::anyhow!("{var} '{v}' is not a whole number of milliseconds"))?;
    if ms == 0 || ms > MAX_BSP_TIME.as_millis() as u64 {
        bail!("{var} {v} must be between 1 and {} ms", MAX_BSP_TIME.as_millis());
    }
    Ok(Duration::from_millis(ms))
}
