//! `traceblast limit`'s arguments: replay's, flattened, and how to search.

use clap::Args;

use super::ReplayArgs;

/// `traceblast limit`: replay's target options, and how to search.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  traceblast limit corpus.zst --endpoint http://127.0.0.1:4318/v1/traces
  traceblast limit corpus.zst --slo 'success>=99.9%,p99<=1s,missed==0' --step 30s --report limit.json --html limit.html
  traceblast limit corpus.zst --platform phoenix-local --slo 'p99<=500ms' --start-rate 5 --budget 15m
  traceblast limit corpus.zst --platform phoenix-local --slo 'success>=99.9%,loss<=0.1%,lag.p99<=30s'

The search: steps of --step at one rate each (the first --warmup of each left out of its
figures), doubling from --start-rate until a step breaks an objective, then halving the gap
between the highest passing and the lowest failing rate until they are within --precision.
Objectives: success (%), p50 p90 p99 p999 max (durations), missed and failed (counts or %),
retries (count), rate (% of the target released); and what the platform stored, read back after
each step as `verify` does: loss (% of acknowledged spans not stored), lag.p50 lag.p90 lag.p99
lag.max (acknowledgement to visibility, durations). A loss or lag objective (or --verify) reads
back every step (with --verify: --verify-wait bounds it, --sample N measures the lag during the
step); a platform that acknowledges fast but stores slowly then fails. Operators >= <= > < ==.
Replay's options set the target and the traffic (--endpoint, --platform, -H, --protocol,
--connections, --max-in-flight, --compression, --batch, --arrivals...); --report and --html
write the search's report. Exit codes: 0 a limit was found; 1 no rate met the objectives;
2 bad input or a step that could not run; 130 interrupted (the report so far is written).")]
pub struct LimitArgs {
    /// What to send and where (replay's options; --rate, --stages, --duration, --requests,
    /// --loops, --ramp-up, --shard, --max-loss and --min-success are the search's to set).
    #[command(flatten)]
    pub replay: ReplayArgs,
    /// Objectives every step must meet, comma-separated [default: success>=99.9%,p99<=1s,missed==0].
    #[arg(long)]
    pub slo: Option<String>,
    /// How long each step sends (at least 2s, at most 1h) [default: 30s].
    #[arg(long, allow_hyphen_values = true)]
    pub step: Option<String>,
    /// The start of each step left out of its figures (less than --step) [default: a fifth of --step].
    #[arg(long, allow_hyphen_values = true)]
    pub warmup: Option<String>,
    /// Pause between steps, for the target to drain (at most 10m) [default: 5s].
    #[arg(long, allow_hyphen_values = true)]
    pub cooldown: Option<String>,
    /// Stop once the lowest failing rate is within this of the highest passing one (1% to 100%)
    /// [default: 5%].
    #[arg(long, allow_hyphen_values = true)]
    pub precision: Option<String>,
    /// The first rate tried, requests/s (0.01 to 10000000) [default: 10].
    #[arg(long, allow_hyphen_values = true)]
    pub start_rate: Option<String>,
    /// The highest rate tried, requests/s [default: 100000].
    #[arg(long, allow_hyphen_values = true)]
    pub max_rate: Option<String>,
    /// The step-up factor (1.1 to 10) [default: 2].
    #[arg(long, allow_hyphen_values = true)]
    pub factor: Option<String>,
    /// Stop before a step that would end past this long (at most 7 days) [default: none].
    #[arg(long, allow_hyphen_values = true)]
    pub budget: Option<String>,
    /// Most steps (1 to 200) [default: 30].
    #[arg(long, allow_hyphen_values = true)]
    pub max_steps: Option<String>,
}
