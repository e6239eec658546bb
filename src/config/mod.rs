//! From what the user typed to validated plans.
//!
//! Every check that can fail on user input happens here, before any work starts, and each
//! error names the flag and the value (`--count '0' must be at least 1`). The plans are plain
//! data the pipeline stages run from.

pub mod env;
pub mod limit;
pub mod profile;
pub mod replay;
pub mod report;
pub mod sink;
pub mod timeline;

use anyhow::{Context, Result, bail};

use crate::cli::GenArgs;
use crate::generate::GenPlan;
use crate::scenario::{BUILTIN, DEFAULT_MIX, Mix, ScenarioSet};
use crate::units::{parse_bytes, parse_count};

/// Parses `K/N` (0-based K < N).
pub fn parse_shard(flag: &str, s: &str) -> Result<(u64, u64)> {
    let (k, n) = s.split_once('/').with_context(|| format!("{flag} '{s}' is not K/N (for example 0/4)"))?;
    let k: u64 = k.trim().parse().with_context(|| format!("{flag} '{s}': K is not a number"))?;
    let n: u64 = n.trim().parse().with_context(|| format!("{flag} '{s}': N is not a number"))?;
    if n == 0 || k >= n {
        bail!("{flag} '{s}': need 0 <= K < N (K is 0-based)");
    }
    Ok((k, n))
}

/// Builds the `gen` plan.
pub fn gen_plan(a: &GenArgs, env: &env::Env) -> Result<GenPlan> {
    let shape = match timeline::timeline_plan(a, env)? {
        Some(t) => crate::generate::Shape::Sdk(t),
        None => crate::generate::Shape::Traces,
    };
    let count = parse_count(&a.count).map_err(|e| anyhow::anyhow!("--count {e}"))?;
    let set = ScenarioSet::with_files(&a.scenarios)?;
    let mix = match &a.mix {
        Some(m) => Mix::parse(m, &set).map_err(anyhow::Error::msg)?,
        None if !a.scenarios.is_empty() => {
            let user: Vec<usize> = (BUILTIN.len()..set.scenarios.len()).collect();
            Mix::uniform(&user)
        }
        None => Mix::parse(DEFAULT_MIX, &set).map_err(anyhow::Error::msg)?,
    };
    if a.traces_per_request == 0 || a.traces_per_request > u32::from(u16::MAX) {
        bail!("--traces-per-request {} must be between 1 and 65535", a.traces_per_request);
    }
    let max = parse_bytes(&a.max_request_bytes).map_err(|e| anyhow::anyhow!("--max-request-bytes {e}"))?;
    if !(1024..=crate::corpus::index::MAX_RECORD_BYTES).contains(&max) {
        bail!("--max-request-bytes {} must be between 1KiB and 256MiB", a.max_request_bytes);
    }
    if !(1..=22).contains(&a.level) {
        bail!("--level {} must be between 1 and 22", a.level);
    }
    let threads = match a.threads {
        Some(0) => bail!("--threads 0: need at least 1"),
        Some(t) => t,
        None => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
    };
    let shard = a.shard.as_deref().map(|s| parse_shard("--shard", s)).transpose()?;
    let semconv = crate::synth::Semconv::parse(&a.semconv).map_err(anyhow::Error::msg)?;
    if set.scenarios.len() > usize::from(crate::encode::MIXED_SCENARIO) {
        bail!("too many scenarios ({}): at most 254", set.scenarios.len());
    }
    Ok(GenPlan {
        set,
        mix,
        seed: a.seed,
        count,
        shard,
        traces_per_request: a.traces_per_request,
        max_request_bytes: max as usize,
        level: a.level,
        semconv,
        threads,
        output: crate::output::Output::check(&a.output).context("--output")?,
        shape,
    })
}
