//! `traceblast gen`'s arguments.

use std::path::PathBuf;

use clap::{Args, ValueHint};

use super::{MIX_EXAMPLES, Suggest};

/// `traceblast gen`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  traceblast gen --seed 42 --count 100k -o corpus.zst
  traceblast gen --count 10k --mix simple=0.5,complex=0.5 -o mixed.zst
  traceblast gen --count 2k --scenarios mine.toml -o mine.zst
  traceblast gen --count 1M --shard 0/4 -o shard0.zst     (slice 0 of 4, for one machine)
  traceblast gen --count 5k --traces-per-request 10 --max-request-bytes 1MiB -o batched.zst
  traceblast gen --count 10k --shape sdk --sessions-per-second 20 -o app.zst   (an SDK's export timeline)
  traceblast gen --count 10k --shape sdk --concurrency 8 --bsp-delay 1s --bsp-batch 100 -o seed.zst

--shape sdk reads OTEL_BSP_SCHEDULE_DELAY, OTEL_BSP_MAX_EXPORT_BATCH_SIZE and OTEL_BSP_MAX_QUEUE_SIZE
from the environment when the flags are not given.")]
pub struct GenArgs {
    /// Random seed; the same seed and options give a byte-identical file.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Number of traces: 500, 10k, 2.5M.
    #[arg(long, default_value = "1000", allow_hyphen_values = true)]
    pub count: String,
    /// Output corpus file (written atomically).
    #[arg(short, long, value_name = "FILE", value_hint = ValueHint::FilePath)]
    pub output: PathBuf,
    /// Scenario mix, NAME=WEIGHT,... (weights sum to 1; short names simple, search, booking,
    /// complex work too). Default: simple_query=0.4,single_service_search=0.3,
    /// delegated_booking=0.2,multi_service_complex=0.1, or an even mix of --scenarios files.
    #[arg(long, value_parser = Suggest(MIX_EXAMPLES), hide_possible_values = true)]
    pub mix: Option<String>,
    /// Load user-defined scenarios from a TOML file (repeatable); see `traceblast scenarios`.
    #[arg(long = "scenarios", value_name = "FILE.toml", value_hint = ValueHint::FilePath)]
    pub scenarios: Vec<PathBuf>,
    /// Traces per HTTP request.
    #[arg(long, default_value_t = 1)]
    pub traces_per_request: u32,
    /// Largest request body; bigger traces are split by spans across requests.
    #[arg(long, default_value = "4MiB")]
    pub max_request_bytes: String,
    /// zstd compression level (1-22).
    #[arg(long, default_value_t = 3)]
    pub level: i32,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Write only slice K of N (0-based), e.g. 2/8, so each machine builds its own part.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    /// What a request holds: `traces` (whole traces, --traces-per-request of them) or `sdk`
    /// (what an instrumented app's BatchSpanProcessors export, when: spans as they end, batched
    /// per service instance, each record stamped with its send time; replay it with
    /// `--timing recorded`).
    #[arg(long, value_enum, default_value = "traces")]
    pub shape: ShapeArg,
    /// --shape sdk: sessions (traces) start as a Poisson process of this rate [default: 10].
    #[arg(long, value_name = "R", conflicts_with = "concurrency")]
    pub sessions_per_second: Option<String>,
    /// --shape sdk: C workers each run one session after another, instead of --sessions-per-second.
    #[arg(long, value_name = "C")]
    pub concurrency: Option<u32>,
    /// --shape sdk: largest export batch, in spans [env OTEL_BSP_MAX_EXPORT_BATCH_SIZE; default 512].
    #[arg(long, value_name = "N")]
    pub bsp_batch: Option<String>,
    /// --shape sdk: the processor's queue, in spans; a span ending into a full queue is dropped
    /// [env OTEL_BSP_MAX_QUEUE_SIZE; default 2048].
    #[arg(long, value_name = "N")]
    pub bsp_queue: Option<String>,
    /// --shape sdk: delay between two exports [env OTEL_BSP_SCHEDULE_DELAY in ms; default 5s].
    #[arg(long, value_name = "DURATION")]
    pub bsp_delay: Option<String>,
    /// --shape sdk: how long one export call takes (spans queue meanwhile, and drop once the
    /// queue is full) [default: 0].
    #[arg(long, value_name = "DURATION")]
    pub bsp_export_time: Option<String>,
    /// GenAI semantic conventions to follow: 1.41 (semantic-conventions v1.41.1, the last
    /// release holding them) or genai-dev (semantic-conventions-genai's gen-ai-dev/1.42.0-dev).
    #[arg(long, value_name = "VERSION", default_value = crate::synth::Semconv::V1_41.name())]
    pub semconv: String,
    /// No progress bar and no summary.
    #[arg(short, long)]
    pub quiet: bool,
    /// When stderr is not a terminal (CI, a pod, a file), print a status line this often; 0
    /// turns it off.
    #[arg(long, value_name = "DURATION", default_value = "10s")]
    pub progress_interval: String,
}

/// `gen --shape`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ShapeArg {
    /// Whole traces per request.
    Traces,
    /// An SDK's export timeline.
    Sdk,
}
