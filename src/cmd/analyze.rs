//! `traceblast analyze`: build the drop report from a Collector's log and/or metrics, then print
//! it as text for people or as JSON (the serialized [`crate::analyze::Report`]) for scripts;
//! with `--attach RUN.json`, keep its counts in the run's report too.

use std::process::ExitCode;

use crate::analyze::{Plan, text::report_text};
use crate::cli::AnalyzeArgs;
use crate::report::Render;

pub fn run(a: &AnalyzeArgs) -> anyhow::Result<ExitCode> {
    let plan = Plan::new(a.logs.as_deref(), a.metrics.as_deref())?;
    // The run report is read and its path checked before the (possibly long) analysis.
    let attach = match &a.attach {
        Some(path) => Some((crate::output::Output::check(path)?, super::report::load(path)?)),
        None => None,
    };
    let report = plan.run()?;
    if let Some((out, mut run)) = attach {
        run.collector = Some(crate::analyze::Drops::of(&report));
        out.write(crate::report::json::Json.render(&run).as_bytes())?;
        eprintln!("analyze: the Collector's drops are attached to {}", out.path().display());
    }
    if a.json {
        super::emit(serde_json::to_string_pretty(&report)? + "\n")?;
    } else {
        super::emit(report_text(&report))?;
    }
    Ok(ExitCode::SUCCESS)
}
