//! Command-line definitions (clap derive). Only the shape of the arguments lives here: values
//! stay as typed, and `config` turns them into validated plans with errors that name the flag.

use std::path::PathBuf;

use clap::builder::{PossibleValue, TypedValueParser};
use clap::{Args, Parser, Subcommand, ValueHint};

mod generate;
mod limit;
mod verify;
pub use generate::{GenArgs, ShapeArg};
pub use limit::LimitArgs;
pub use verify::VerifyArgs;

/// A value parser that accepts any string but offers `values` to shell completions. The value
/// is validated later by `config`, whose errors name the flag *or* the variable it came from
/// (a clap-validated flag could not share one message with its environment variable).
#[derive(Debug, Clone, Copy)]
pub struct Suggest(pub &'static [&'static str]);

impl TypedValueParser for Suggest {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        clap::builder::StringValueParser::new().parse_ref(cmd, arg, value)
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(self.0.iter().map(|v| PossibleValue::new(*v))))
    }
}

/// `--compression` values.
pub const COMPRESSIONS: &[&str] = &["none", "gzip", "zstd"];
/// `--log-level` values.
pub const LOG_LEVELS: &[&str] = &["error", "warning", "info", "debug"];
/// Completions for `--mix`: each built-in scenario alone (the flag takes NAME=WEIGHT,...).
pub const MIX_EXAMPLES: &[&str] =
    &["simple_query=1", "single_service_search=1", "delegated_booking=1", "multi_service_complex=1"];

/// Scale-test OpenTelemetry ingestion with realistic, reproducible GenAI agent traces.
#[derive(Debug, Parser)]
#[command(name = "traceblast", version, propagate_version = true, max_term_width = 100, arg_required_else_help = true)]
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
    /// Send a corpus over OTLP/HTTP at a precise open-loop rate and report what happened.
    Replay(Box<ReplayArgs>),
    /// The whole job on one machine: gen a small corpus, start a sink, replay into it, report.
    Demo(DemoArgs),
    /// Show a corpus's metadata and per-scenario totals; verify it; dump records as OTLP/JSON.
    Inspect(InspectArgs),
    /// List the available scenarios, or print one as TOML to copy and edit.
    Scenarios(ScenariosArgs),
    /// Explain why a Collector dropped spans: read its logs and/or its own metrics.
    Analyze(AnalyzeArgs),
    /// Reprint a replay report, render it as HTML, compare two runs, or merge shards' reports.
    Report(ReportArgs),
    /// Print a shell completion script: traceblast completions bash > /etc/bash_completion.d/traceblast
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Receive OTLP/HTTP traces, count spans, traces and duplicates; inject faults.
    Sink(Box<SinkArgs>),
    /// Did it arrive? Read back from the platform which acknowledged traces it stored, and when.
    Verify(VerifyArgs),
    /// Find the highest request rate an endpoint sustains within objectives (success, latency).
    Limit(Box<LimitArgs>),
}

/// `traceblast replay`. Options without a flag fall back to `TRACEBLAST_*` variables (and the
/// OTel SDK's `OTEL_EXPORTER_OTLP_*`), from the environment or a `.env` file.
#[derive(Debug, Clone, Args)]
#[command(after_help = "Examples:
  traceblast replay corpus.zst --rate 100
  traceblast replay corpus.zst --rate 500 --duration 5m --ramp-up 30s --report run.json --html run.html
  traceblast replay corpus.zst --stages 30s:100,2m:500,30s:0 --arrivals poisson --report run.json
  traceblast replay corpus.zst --rate 2000spans/s --duration 1m  (spans, traces or bytes a second)
  traceblast replay corpus.zst --rate max --connections 16 --max-in-flight 16
  traceblast replay corpus.zst --platform braintrust --rate 20 --dry-run
  traceblast replay corpus.zst --endpoint http://collector:4318/v1/traces --compression gzip --retries 3
  traceblast replay corpus.zst --rate 1000 --shard 2/8          (this machine sends slice 2 of 8 at 125/s)
  traceblast replay app.zst --timing recorded --speed 2         (a gen --shape sdk timeline, twice as fast)

Configuration: flags > environment > .env (never overrides a real variable).
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_EXPORTER_OTLP_ENDPOINT (+/v1/traces),
  OTEL_EXPORTER_OTLP_HEADERS, OTEL_EXPORTER_OTLP_TRACES_HEADERS (k=v,k2=v2),
  OTEL_EXPORTER_OTLP_COMPRESSION, OTEL_EXPORTER_OTLP_TIMEOUT (ms), OTEL_PLATFORM, LOG_LEVEL,
  TRACEBLAST_ENDPOINT, TRACEBLAST_RATE, TRACEBLAST_DURATION, TRACEBLAST_REQUESTS, TRACEBLAST_LOOPS,
  TRACEBLAST_RAMP_UP, TRACEBLAST_STAGES, TRACEBLAST_ARRIVALS, TRACEBLAST_MAX_IN_FLIGHT, TRACEBLAST_CONNECTIONS, TRACEBLAST_TIMEOUT,
  TRACEBLAST_COMPRESSION, TRACEBLAST_RETRIES, TRACEBLAST_BATCH, TRACEBLAST_HTTP2, TRACEBLAST_REPORT,
  TRACEBLAST_HTML, TRACEBLAST_MIN_SUCCESS, TRACEBLAST_THREADS, TRACEBLAST_ID_KEY.
Exit codes: 0 done; 1 done but no request succeeded, or --min-success missed; 2 bad input, or
the run stopped on an error (the report so far is still written, ended_by: error); 130 interrupted.")]
pub struct ReplayArgs {
    /// The corpus file (from `traceblast gen`).
    #[arg(value_hint = ValueHint::FilePath)]
    pub corpus: std::path::PathBuf,
    /// OTLP/HTTP traces endpoint [default: http://localhost:4318/v1/traces, or the platform's].
    #[arg(long)]
    pub endpoint: Option<String>,
    /// OTLP transport: http/protobuf, http/json or grpc (or OTEL_EXPORTER_OTLP_TRACES_PROTOCOL,
    /// OTEL_EXPORTER_OTLP_PROTOCOL) [default: http/protobuf; grpc's endpoint: localhost:4317].
    #[arg(long, value_parser = Suggest(&crate::replay::Protocol::NAMES), hide_possible_values = true)]
    pub protocol: Option<String>,
    /// Platform preset: otlp, phoenix, phoenix-local, mlflow, langfuse, langsmith, braintrust,
    /// honeycomb (or OTEL_PLATFORM).
    #[arg(long, value_parser = Suggest(&crate::platform::PLATFORMS), hide_possible_values = true)]
    pub platform: Option<String>,
    /// Requests per second (a number, or `max` for as fast as --max-in-flight allows), or spans,
    /// traces or body bytes a second (2000spans/s, 100traces/s, 5MB/s: converted from the
    /// corpus's mean sizes) [default: 10].
    #[arg(long, allow_hyphen_values = true)]
    pub rate: Option<String>,
    /// Stop scheduling after this long (30s, 5m, 1h). Implies --loops inf unless --loops is given.
    #[arg(long, allow_hyphen_values = true)]
    pub duration: Option<String>,
    /// Stop after this many requests. Implies --loops inf unless --loops is given.
    #[arg(long, allow_hyphen_values = true)]
    pub requests: Option<String>,
    /// Passes over the corpus: a number or `inf` [default: 1]. Passes after the first get fresh IDs.
    #[arg(long, allow_hyphen_values = true)]
    pub loops: Option<String>,
    /// Grow the rate linearly from 0 to --rate over this long.
    #[arg(long, allow_hyphen_values = true)]
    pub ramp_up: Option<String>,
    /// A load profile instead of --rate: DURATION:RATE stages, the rate moving linearly from the
    /// previous stage's (0 at first) to each one's by its end; the run ends with the last stage
    /// (30s:100,2m:500,30s:0; rates as --rate takes them: 10s:2000spans/s).
    #[arg(long, allow_hyphen_values = true, conflicts_with_all = ["rate", "ramp_up", "duration"])]
    pub stages: Option<String>,
    /// How requests are spread at a rate: uniform (evenly spaced) or poisson (exponential gaps,
    /// reproducible with --seed) [default: uniform].
    #[arg(long, value_parser = ["uniform", "poisson"], ignore_case = true)]
    pub arrivals: Option<String>,
    /// When requests go out: `rate` (--rate or --stages) or `recorded` (each record at the time
    /// it was exported on the timeline of a `gen --shape sdk` corpus, looping with fresh IDs)
    /// [default: rate].
    #[arg(long, value_parser = ["rate", "recorded"], ignore_case = true)]
    pub timing: Option<String>,
    /// With --timing recorded: play the timeline this many times faster (0.5 is half speed).
    #[arg(long, allow_hyphen_values = true)]
    pub speed: Option<String>,
    /// Seed of --arrivals poisson (or TRACEBLAST_ARRIVALS=poisson): the same seed gives the same
    /// schedule [default: 1; each --shard draws its own from it].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Most requests in flight; a request due when the cap is full is counted as missed [default: 256].
    #[arg(long, allow_hyphen_values = true)]
    pub max_in_flight: Option<String>,
    /// Connections (HTTP/1.1: one request at a time each) [default: 64; with --http2: 2].
    #[arg(long, allow_hyphen_values = true)]
    pub connections: Option<String>,
    /// Threads that send and receive [default: half the cores, 1 to 4].
    #[arg(long, allow_hyphen_values = true)]
    pub threads: Option<String>,
    /// Per-attempt timeout [default: 10s].
    #[arg(long, allow_hyphen_values = true)]
    pub timeout: Option<String>,
    /// Extra request header 'name: value' (repeatable).
    #[arg(long = "header", short = 'H', value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// Content-Encoding of bodies: none, gzip, zstd [default: none].
    #[arg(long, value_parser = Suggest(COMPRESSIONS), hide_possible_values = true)]
    pub compression: Option<String>,
    /// Retries of 429/502/503/504 and connection errors, honouring Retry-After [default: 0].
    #[arg(long, allow_hyphen_values = true)]
    pub retries: Option<String>,
    /// Send N consecutive records as one request [default: 1].
    #[arg(long, allow_hyphen_values = true)]
    pub batch: Option<String>,
    /// Write the JSON report here (counts, percentiles, series, histograms).
    #[arg(long, value_hint = ValueHint::FilePath)]
    pub report: Option<std::path::PathBuf>,
    /// Write the report as one self-contained HTML page (charts and tables; works offline).
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Do not write the sent log (RUN.sent.zst next to --report RUN.json: every request's
    /// trace IDs as sent, for `traceblast verify`).
    #[arg(long)]
    pub no_sent: bool,
    /// After the run, read back from the platform what it stored (as `traceblast verify`
    /// does; needs --report). Exit 1 when more is lost than --max-loss.
    #[arg(long)]
    pub verify: bool,
    /// With --verify: how long to wait for the platform to store what it acknowledged
    /// [default: 2m].
    #[arg(long, value_name = "DURATION", requires = "verify")]
    pub verify_wait: Option<String>,
    /// With --verify: the share of acknowledged spans (percent) that may be missing
    /// [default: 0].
    #[arg(long, value_name = "PERCENT", requires = "verify", allow_hyphen_values = true)]
    pub max_loss: Option<String>,
    /// With --verify: acknowledged traces a second (at most 1000; 0: none) looked up during
    /// the run every 250 ms, for a visibility lag measured as it happens [default: 5].
    #[arg(long, value_name = "N", requires = "verify", allow_hyphen_values = true)]
    pub sample: Option<String>,
    /// Exit 1 when fewer than P percent of requests succeed (e.g. 99.5). Without it, a run in
    /// which no request succeeded exits 1; `--min-success 0` accepts that too.
    #[arg(long, allow_hyphen_values = true)]
    pub min_success: Option<String>,
    /// Send only slice K of N (0-based); --rate is the total over all N.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    /// Use HTTP/2 (h2 over TLS, h2c over plain TCP).
    #[arg(long)]
    pub http2: bool,
    /// Phoenix project the spans go to (sent as x-project-name) [default: PHOENIX_PROJECT_NAME
    /// with --platform phoenix-local, else Phoenix's default].
    #[arg(long)]
    pub project: Option<String>,
    /// MLflow experiment the traces go to, by ID or by name (a name is looked up, and created
    /// through MLflow's REST API when missing; sent as x-mlflow-experiment-id) [default:
    /// MLFLOW_EXPERIMENT_ID with --platform mlflow, else 0].
    #[arg(long)]
    pub experiment: Option<String>,
    /// Send records exactly as stored: no timestamp shift, no ID remapping.
    #[arg(long)]
    pub no_rewrite: bool,
    /// Remap IDs with this key (16 hex digits, from a report's run.id_key) to resend a run's
    /// exact IDs. Default: a fresh key per run, so a second run never resends an ID of the first.
    #[arg(long, value_name = "HEX")]
    pub id_key: Option<String>,
    /// Accepted for compatibility: fresh IDs on every pass are now the default.
    #[arg(long, hide = true)]
    pub fresh_ids: bool,
    /// Show the values of the headers given with --header, OTEL_EXPORTER_OTLP_HEADERS or a
    /// platform preset in the dry run and the reports (values that look secret stay redacted).
    #[arg(long)]
    pub show_headers: bool,
    /// Do not verify TLS certificates (prints a warning).
    #[arg(long)]
    pub insecure: bool,
    /// Validate everything and print the plan; send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// No progress bar and no text report (errors and warnings still print).
    #[arg(short, long)]
    pub quiet: bool,
    /// When stderr is not a terminal (CI, a pod, a file), print a status line this often; 0
    /// turns it off [default: 10s].
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub progress_interval: Option<String>,
    /// error, warning, info or debug (or LOG_LEVEL) [default: info].
    #[arg(long, value_parser = Suggest(LOG_LEVELS), hide_possible_values = true)]
    pub log_level: Option<String>,
    /// Read this .env file instead of ./.env.
    #[arg(long, value_hint = ValueHint::FilePath)]
    pub env_file: Option<std::path::PathBuf>,
}

/// `traceblast demo`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  traceblast demo
  traceblast demo --count 2k --rate 200 --html demo.html")]
pub struct DemoArgs {
    /// Traces to generate.
    #[arg(long, default_value = "300")]
    pub count: String,
    /// Requests per second.
    #[arg(long, default_value = "100")]
    pub rate: String,
    /// Random seed of the corpus.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Also write the JSON report here.
    #[arg(long)]
    pub report: Option<std::path::PathBuf>,
    /// Also write the HTML report here.
    #[arg(long)]
    pub html: Option<std::path::PathBuf>,
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
  traceblast analyze collector.log --metrics metrics.prom --json | jq .spans_dropped
  traceblast analyze collector.log --attach run.json      then: traceblast report compare base.json run.json")]
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
    /// Also add what the Collector dropped to this saved run report (its `collector` section,
    /// rewritten atomically), for `report` and `report compare`.
    #[arg(long, value_name = "RUN.json")]
    pub attach: Option<std::path::PathBuf>,
}

/// `traceblast report`. A report file is reprinted by `traceblast report FILE` (or
/// `traceblast report show FILE`); `compare` and `merge` are subcommands. The two forms do not
/// mix: options of the first form are rejected after a subcommand, and a report file named
/// `show`, `compare` or `merge` is given with a directory (`./compare`).
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
#[command(after_help = "Examples:
  traceblast report run.json                                 reprint the text report
  traceblast report run.json --html run.html                 and write it as an HTML page
  traceblast report compare main.json branch.json --max-p99-regression 10% --min-success 99.5%
  traceblast report compare langfuse.json phoenix.json --json
  traceblast report merge shard0.json shard1.json shard2.json -o all.json --html all.html

Exit codes: 0 done; 1 `compare` crossed a threshold; 2 bad input (a missing file, a file that is
not a report, an unsupported report_version, a bad threshold).")]
pub struct ReportArgs {
    /// `show`, `compare` or `merge`; without one, the arguments are those of `show`.
    #[command(subcommand)]
    pub action: Option<ReportAction>,
    /// `traceblast report FILE [--html OUT]`.
    #[command(flatten)]
    pub show: ShowArgs,
}

/// `traceblast report [show] FILE`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// A report written by `replay --report` or `report merge`.
    #[arg(value_name = "REPORT.json", required = true)]
    pub report: Option<PathBuf>,
    /// Also write the report as one self-contained HTML page (charts and tables; works offline).
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
}

/// `traceblast report` subcommands.
#[derive(Debug, Subcommand)]
pub enum ReportAction {
    /// Reprint a report (the same as `traceblast report FILE`).
    Show(ShowArgs),
    /// Print runs side by side with deltas against the first; exit 1 when a threshold is crossed.
    Compare(CompareArgs),
    /// Merge reports of shards of one run into one report (counts summed, histograms added).
    Merge(MergeArgs),
}

/// `traceblast report compare`. Thresholds judge NEW — each run after BASE — (against BASE for
/// the relative ones); all are optional.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  traceblast report compare main.json branch.json --max-p99-regression 10% --min-success 99.5%
  traceblast report compare braintrust.json langsmith.json --html compare.html
  traceblast report compare phoenix.json mlflow.json collector.json --json     each against the first")]
pub struct CompareArgs {
    /// BASE, the reference run (the main branch, or the first platform), then the run or runs
    /// judged against it (NEW; at most 8 runs in all).
    #[arg(value_name = "BASE.json NEW.json", num_args = 2..=8, required = true)]
    pub reports: Vec<PathBuf>,
    /// Fail when NEW's corrected p50 is more than PCT percent above BASE's (e.g. 10%).
    #[arg(long, value_name = "PCT", allow_hyphen_values = true)]
    pub max_p50_regression: Option<String>,
    /// Fail when NEW's corrected p99 is more than PCT percent above BASE's (e.g. 10%).
    #[arg(long, value_name = "PCT", allow_hyphen_values = true)]
    pub max_p99_regression: Option<String>,
    /// Fail when NEW's success rate (ok / scheduled) is below PCT percent (e.g. 99.5%).
    #[arg(long, value_name = "PCT")]
    pub min_success: Option<String>,
    /// Fail when more than PCT percent of NEW's sent requests failed (non-2xx or no answer).
    #[arg(long, value_name = "PCT")]
    pub max_error_rate: Option<String>,
    /// Fail when NEW's achieved rate is below RATIO times BASE's (0.95 or 95%).
    #[arg(long, value_name = "RATIO", allow_hyphen_values = true)]
    pub min_rate_ratio: Option<String>,
    /// Print the comparison as JSON.
    #[arg(long)]
    pub json: bool,
    /// Also write the comparison as an HTML page: the thresholds as a table, both runs' charts
    /// overlaid (throughput, spans/s, data/s, latency). The text or JSON is printed as usual.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
}

/// `traceblast report merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Reports to merge: two or more, usually one per `--shard` of the same run.
    #[arg(value_name = "REPORT.json", num_args = 2.., required = true)]
    pub reports: Vec<PathBuf>,
    /// The merged JSON report (written atomically).
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// Also write the merged report as an HTML page.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
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
    /// Also serve OTLP/gRPC (TraceService/Export, HTTP/2) on this address (HOST:PORT; port 0
    /// picks a free one, printed at start). Off by default; 4317 is OTLP/gRPC's usual port.
    #[arg(long, value_name = "HOST:PORT")]
    pub grpc_listen: Option<String>,
    /// Largest request body (on gRPC, the largest message), checked compressed and again while
    /// decompressing (413, or RESOURCE_EXHAUSTED, above); at most 1GiB.
    #[arg(long, default_value_t = format!("{}MiB", crate::sink::DEFAULT_MAX_BODY >> 20), value_name = "SIZE")]
    pub max_body: String,
    /// Most connections open at once, 1 to 1000000 (lowered to fit the open-files limit).
    /// At the cap the connection idle the longest is closed to make room; when all are busy,
    /// new ones wait to be accepted.
    #[arg(long, default_value_t = crate::sink::limits::DEFAULT_MAX_CONNECTIONS.to_string(), value_name = "N")]
    pub max_connections: String,
    /// Close a connection whose request head is not complete this long after its first byte;
    /// also how long a body may wait for room in --max-inflight-bytes (503 after). At most 5m.
    #[arg(long, default_value_t = humantime::format_duration(crate::sink::limits::DEFAULT_HEADER_TIMEOUT).to_string(), value_name = "DURATION")]
    pub header_timeout: String,
    /// Close a connection after this long without a request in progress; answer 408 to a
    /// body that pauses this long. At most 1h.
    #[arg(long, default_value_t = humantime::format_duration(crate::sink::limits::DEFAULT_IDLE_TIMEOUT).to_string(), value_name = "DURATION")]
    pub idle_timeout: String,
    /// Bytes of request bodies held at once over all connections; a body waits for room.
    /// At least --max-body, at most 64GiB.
    #[arg(long, default_value_t = format!("{}MiB", crate::sink::limits::DEFAULT_MAX_INFLIGHT_BYTES >> 20), value_name = "SIZE")]
    pub max_inflight_bytes: String,
    /// Answer these statuses with these probabilities, STATUS:P,... (e.g. 429:0.1,503:0.05).
    #[arg(long, value_name = "STATUS:P,...")]
    pub fail: Option<String>,
    /// Retry-After on 429 and 503 answers (whole seconds, rounded up); at most 1h.
    #[arg(long, value_name = "DURATION")]
    pub retry_after: Option<String>,
    /// Delay every answer: a duration (20ms) or a uniform range (5ms..50ms); at most 10m.
    #[arg(long, value_name = "D|MIN..MAX")]
    pub latency: Option<String>,
    /// Accept at most N requests per second (N/s, N/m or N/h, from 1/h to 10000000/s; token
    /// bucket), 429 beyond.
    #[arg(long, value_name = "N/s")]
    pub rate_limit: Option<String>,
    /// Size of --rate-limit's token bucket: requests accepted at once after a pause, 1 to
    /// 10000000 [default: one second of the rate].
    #[arg(long, value_name = "N", requires = "rate_limit")]
    pub burst: Option<String>,
    /// Serve at most N requests a second (N/s, N/m, N/h), one at a time in arrival order: above
    /// it requests queue and latency grows without bound (a server's knee, for `limit`).
    #[arg(long, value_name = "N/s")]
    pub capacity: Option<String>,
    /// Accept requests but report this share of their spans as rejected (partial_success).
    #[arg(long, value_name = "SHARE")]
    pub reject_spans: Option<String>,
    /// Acknowledge every span but silently store none of this share of traces (chosen by
    /// trace ID): the loss only `traceblast verify` reveals (the query endpoint
    /// GET /api/traces/ID does not find them).
    #[arg(long, value_name = "SHARE")]
    pub drop_traces: Option<String>,
    /// Store at most N acknowledged spans a second (N/s, N/m, N/h), in arrival order: beyond it
    /// spans wait, and the visibility lag `verify` measures grows (a platform that acknowledges
    /// fast but stores slowly). A trace is found once the store reaches its first span.
    #[arg(long, value_name = "N/s")]
    pub store_rate: Option<String>,
    /// Stop answering for DURATION (at most 10m), starting AFTER (at most 1day) the first
    /// request; requests wait.
    #[arg(long, value_name = "DURATION@AFTER")]
    pub stall: Option<String>,
    /// Answer 409 to a request with a trace ID received in an earlier accepted request.
    #[arg(long)]
    pub conflict_on_duplicate: bool,
    /// Require what a platform requires: phoenix, langfuse, langsmith, braintrust, honeycomb;
    /// also answer the platform's path (/otel/v1/traces, /api/public/otel/v1/traces).
    #[arg(long, value_name = "PLATFORM", value_parser = Suggest(&crate::platform::profile::NAMES), hide_possible_values = true)]
    pub profile: Option<String>,
    /// Seed of the fault draws; the same seed and request order give the same faults.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Stop after this long without a request (counted once the first request arrived); at
    /// most 1day.
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
