//! `traceblast verify`'s arguments.

use clap::Args;
use clap::ValueHint;
use std::path::PathBuf;

/// `traceblast verify`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  traceblast replay corpus.zst --endpoint http://127.0.0.1:6006/v1/traces --report run.json
  traceblast verify run.json                      (reads run.sent.zst; the platform is detected)
  traceblast verify run.json --from phoenix --project default --wait 5m
  traceblast verify run.json --from mlflow --experiment 0 --max-loss 0.1
  traceblast verify run.json --from sink --report verified.json
  traceblast verify run.json --from jaeger --url http://127.0.0.1:16686

Exit codes: 0 loss within --max-loss, 1 more lost, 2 bad input or the platform cannot be read.")]
pub struct VerifyArgs {
    /// The report `replay --report` wrote; its sent log (RUN.sent.zst) sits beside it.
    #[arg(value_name = "RUN.json", value_hint = ValueHint::FilePath)]
    pub run: PathBuf,
    /// The sent log, if not beside the report.
    #[arg(long, value_name = "FILE")]
    pub sent: Option<PathBuf>,
    /// Read back from: sink, phoenix, mlflow, jaeger, tempo, langfuse, langsmith or braintrust
    /// [default: the run's --platform, else detected among sink, phoenix and mlflow].
    #[arg(long, value_name = "PLATFORM")]
    pub from: Option<String>,
    /// The platform's base URL [default: scheme, host and port of the run's endpoint].
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// Phoenix or Braintrust project [default: the run's x-project-name or x-bt-parent header,
    /// else default].
    #[arg(long)]
    pub project: Option<String>,
    /// MLflow experiment ID [default: the run's x-mlflow-experiment-id header].
    #[arg(long)]
    pub experiment: Option<String>,
    /// Longest time to wait for the platform to store what it acknowledged [default: 2m].
    #[arg(long, value_name = "DURATION")]
    pub wait: Option<String>,
    /// Stop once the stored count has not grown for this long [default: 15s].
    #[arg(long, value_name = "DURATION")]
    pub settle: Option<String>,
    /// The share of acknowledged spans (percent) that may be missing [default: 0].
    #[arg(long, value_name = "PERCENT", allow_hyphen_values = true)]
    pub max_loss: Option<String>,
    /// Write the report with its verify section here [default: RUN.json itself].
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// No progress lines.
    #[arg(short, long)]
    pub quiet: bool,
}
