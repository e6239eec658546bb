//! `traceblast analyze`: build the drop report from a Collector's log and/or metrics, then print
//! it as text for people or as JSON (the serialized [`crate::analyze::Report`]) for scripts.

use std::process::ExitCode;

use crate::analyze::{Plan, text::report_text};
use crate::cli::AnalyzeArgs;

pub fn run(a: &AnalyzeArgs) -> anyhow::Result<ExitCode> {
    let plan = Plan::new(a.logs.as_deref(), a.metrics.as_deref())?;
    let report = plan.run()?;
    if a.json {
        super::emit(serde_json::to_string_pretty(&report)? + "\n")?;
    } else {
        super::emit(report_text(&report))?;
    }
    Ok(ExitCode::SUCCESS)
}
