//! Command-line definitions (clap derive). Only the shape of the arguments lives here: values
//! stay as typed, and `config` turns them into validated plans with errors that name the flag.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Scale-test OpenTelemetry ingestion with realistic, reproducible GenAI agent traces.
#[derive(Debug, Parser)]
#[command(name = "traceblast", version, propagate_version = true, max_term_width = 100)]
#[command(after_help = "Examples:
  traceblast demo                                    gen + replay against a built-in sink
  traceblast gen --seed 42 --count 100k -o corpus.zst
  traceblast inspect corpus.zst --verify
  traceblast scenarios show simple_query > mine.toml")]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Pre-render a reproducible corpus of GenAI agent traces as OTLP requests.
    Gen(GenArgs),
    /// Show a corpus's metadata and per-scenario totals; verify it; dump records as OTLP/JSON.
    Inspect(InspectArgs),
    /// List the available scenarios, or print one as TOML to copy and edit.
    Scenarios(ScenariosArgs),
    /// Explain why a Collector dropped spans: read its logs and/or its own metrics.
    Analyze(AnalyzeArgs),
    /// Receive OTLP/HTTP traces, count spans, traces and duplicates; inject faults.
    Sink(SinkArgs),
}

/// `traceblast gen`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  traceblast gen --seed 42 --count 100k -o corpus.zst
  traceblast gen --count 10k --mix simple=0.5,complex=0.5 -o mixed.zst
  traceblast gen --count 2k --scenarios mine.toml -o mine.zst
  traceblast gen --count 1M --shard 0/4 -o shard0.zst     (slice 0 of 4, for one machine)
  traceblast gen --count 5k --traces-per-request 10 --max-request-bytes 1MiB -o batched.zst")]
pub struct GenArgs {
    /// Random seed; the same seed and options give a byte-identical file.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Number of traces: 500, 10k, 2.5M.
    #[arg(long, default_value = "1000", allow_hyphen_values = true)]
    pub count: String,
    /// Output corpus file (written atomically).
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// Scenario mix, NAME=WEIGHT,... (weights sum to 1; short names simple, search, booking,
    /// complex work too). Default: simple_query=0.4,single_service_search=0.3,
    /// delegated_booking=0.2,multi_service_complex=0.1, or an even mix of --scenarios files.
    #[arg(long)]
    pub mix: Option<String>,
    /// Load user-defined scenarios from a TOML file (repeatable); see `traceblast scenarios`.
    #[arg(long = "scenarios", value_name = "FILE.toml")]
    pub scenarios: Vec<PathBuf>,
    /// Traces per HTTP request.
    #[arg(long, default_value_t = 1)]
    pub traces_per_request: u32,
    /// Largest request body; bigger traces are split by spans across requests.
    #[arg(long, default_value = "4MiB")]
    pub max_request_bytes: String,
    /// zstd compression level (1-19).
    #[arg(long, default_value_t = 3)]
    pub level: i32,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Write only slice K of N (0-based), e.g. 2/8, so each machine builds its own part.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    /// No progress bar and no summary.
    #[arg(short, long)]
    pub quiet: bool,
}

/// `traceblast inspect`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  traceblast inspect corpus.zst
  traceblast inspect corpus.zst --verify
  traceblast inspect corpus.zst --dump 0 | jq '.resourceSpans[0].scopeSpans[0].spans[0].name'")]
pub struct InspectArgs {
    /// The corpus file.
    pub corpus: PathBuf,
    /// Print metadata and totals as JSON.
    #[arg(long)]
    pub json: bool,
    /// Decompress and decode every record, checking checksums and the index.
    #[arg(long)]
    pub verify: bool,
    /// Print record N as OTLP/JSON.
    #[arg(long, value_name = "N")]
    pub dump: Option<u64>,
}

/// `traceblast scenarios`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  traceblast scenarios
  traceblast scenarios show delegated_booking > booking.toml
  traceblast scenarios --scenarios booking.toml")]
pub struct ScenariosArgs {
    /// `show NAME` prints one scenario as TOML.
    #[command(subcommand)]
    pub action: Option<ScenariosAction>,
    /// Also load scenarios from these files.
    #[arg(long = "scenarios", value_name = "FILE.toml", global = true)]
    pub scenarios: Vec<PathBuf>,
}

/// `traceblast scenarios show`.
#[derive(Debug, Subcommand)]
pub enum ScenariosAction {
    /// Print a scenario as TOML (the format `--scenarios` reads).
    Show {
        /// Scenario name or short name.
        name: String,
    },
}

/// `traceblast analyze`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  docker compose logs otel-collector | traceblast analyze -
  traceblast analyze collector.log
  traceblast analyze --metrics http://localhost:8888/metrics
  traceblast analyze collector.log --metrics metrics.prom --json | jq .spans_dropped")]
pub struct AnalyzeArgs {
    /// Collector log file (console or JSON encoding); `-` reads stdin.
    #[arg(value_name = "LOGFILE|-")]
    pub logs: Option<String>,
    /// The Collector's own Prometheus metrics: an http(s):// URL (usually
    /// http://localhost:8888/metrics) or a saved exposition file.
    #[arg(long, value_name = "URL|FILE")]
    pub metrics: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `traceblast sink`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  traceblast sink                                         count what arrives at :4318 until Ctrl-C
  traceblast sink --until-idle 5s --summary sink.json     stop 5 s after the last request
  traceblast sink --expect-spans 100k --quiet             stop once 100,000 spans arrived
  traceblast sink --fail 429:0.1,503:0.05 --retry-after 2s --latency 5ms..50ms
  traceblast sink --rate-limit 500/s --stall 2s@10s       throttle; stop answering for 2 s, 10 s in
  traceblast sink --profile braintrust                    demand Braintrust's headers and limits")]
pub struct SinkArgs {
    /// Address to listen on (HOST:PORT; port 0 picks a free one, printed at start).
    #[arg(long, default_value = "127.0.0.1:4318", value_name = "HOST:PORT")]
    pub listen: String,
    /// Largest request body, checked compressed and again while decompressing (413 above).
    #[arg(long, default_value = "16MiB", value_name = "SIZE")]
    pub max_body: String,
    /// Answer these statuses with these probabilities, STATUS:P,... (e.g. 429:0.1,503:0.05).
    #[arg(long, value_name = "STATUS:P,...")]
    pub fail: Option<String>,
    /// Retry-After on 429 and 503 answers (whole seconds, rounded up).
    #[arg(long, value_name = "DURATION")]
    pub retry_after: Option<String>,
    /// Delay every answer: a duration (20ms) or a uniform range (5ms..50ms).
    #[arg(long, value_name = "D|MIN..MAX")]
    pub latency: Option<String>,
    /// Accept at most N requests per second (N/s or N/m; token bucket), 429 beyond.
    #[arg(long, value_name = "N/s")]
    pub rate_limit: Option<String>,
    /// Accept requests but report this share of their spans as rejected (partial_success).
    #[arg(long, value_name = "SHARE")]
    pub reject_spans: Option<String>,
    /// Stop answering for DURATION, starting AFTER the first request (requests wait).
    #[arg(long, value_name = "DURATION@AFTER")]
    pub stall: Option<String>,
    /// Answer 409 to a request with a trace ID received in an earlier accepted request.
    #[arg(long)]
    pub conflict_on_duplicate: bool,
    /// Require what a platform requires: braintrust, langsmith, langfuse, phoenix, honeycomb.
    #[arg(long, value_name = "PLATFORM")]
    pub profile: Option<String>,
    /// Seed of the fault draws; the same seed and request order give the same faults.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Stop after this long without a request (counted once the first request arrived).
    #[arg(long, value_name = "DURATION")]
    pub until_idle: Option<String>,
    /// Stop once this many spans were received (10k, 1M).
    #[arg(long, value_name = "N")]
    pub expect_spans: Option<String>,
    /// Also write the summary as JSON to this file (atomically).
    #[arg(long, value_name = "FILE.json")]
    pub summary: Option<PathBuf>,
    /// No per-second progress lines on stderr.
    #[arg(short, long)]
    pub quiet: bool,
}
