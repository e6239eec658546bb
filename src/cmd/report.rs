//! `traceblast report`: reprint a saved report (text, and optionally HTML), compare runs,
//! merge shards' reports. Files are read and checked here; the work is in `report`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};

use super::replay::write_reports;
use crate::cli::{CompareArgs, MergeArgs, ReportAction, ReportArgs, ShowArgs};
use crate::config::env::read_input;
use crate::output::Output;
use crate::report::{self, Render, Report};

pub fn run(a: &ReportArgs) -> Result<ExitCode> {
    match &a.action {
        None => show(&a.show),
        Some(ReportAction::Show(s)) => show(s),
        Some(ReportAction::Compare(c)) => compare(c),
        Some(ReportAction::Merge(m)) => merge(m),
    }
}

/// Reads, parses and validates a report; errors name the file. A FIFO, a directory or a file
/// past `MAX_REPORT_BYTES` is refused before anything is read.
pub fn load(path: &Path) -> Result<Report> {
    let bytes =
        read_input(path, report::json::MAX_REPORT_BYTES).with_context(|| format!("cannot read {}", path.display()))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        anyhow::anyhow!(
            "{}: not a traceblast report (not UTF-8 text at byte {})",
            path.display(),
            e.utf8_error().valid_up_to()
        )
    })?;
    report::json::parse(&text, &path.display().to_string()).map_err(anyhow::Error::msg)
}

/// Checks an output path named by `flag` before any work.
fn output(flag: &str, path: &Path) -> Result<Output> {
    Output::check(path).with_context(|| flag.to_string())
}

fn show(a: &ShowArgs) -> Result<ExitCode> {
    let path = a.report.as_deref().context("a report file is needed: traceblast report FILE")?;
    let html = a.html.as_deref().map(|p| output("--html", p)).transpose()?;
    let r = load(path)?;
    write_reports(&r, None, html.as_ref(), None)?;
    super::emit(report::text::Text.render(&r))?;
    Ok(ExitCode::SUCCESS)
}

/// Exit 1 when a threshold is crossed: the comparison is printed (and its page written)
/// either way.
fn compare(a: &CompareArgs) -> Result<ExitCode> {
    let thresholds = crate::config::report::thresholds(a)?;
    let html = a.html.as_deref().map(|p| output("--html", p)).transpose()?;
    let runs = a.reports.iter().map(|p| Ok((p.display().to_string(), load(p)?))).collect::<Result<Vec<_>>>()?;
    let c = report::compare::compare_all(&runs, &thresholds);
    if let Some(out) = &html {
        let reports: Vec<Report> = runs.into_iter().map(|(_, r)| r).collect();
        out.write(report::html_compare::ComparePage { runs: &reports }.render(&c).as_bytes())?;
    }
    if a.json {
        super::emit(report::json::Json.render(&c))?;
    } else {
        super::emit(report::text::Text.render(&c))?;
    }
    Ok(if c.passed { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn merge(a: &MergeArgs) -> Result<ExitCode> {
    let json = output("--output", &a.output)?;
    let html = a.html.as_deref().map(|p| output("--html", p)).transpose()?;
    let inputs = a.reports.iter().map(|p| Ok((p.display().to_string(), load(p)?))).collect::<Result<Vec<_>>>()?;
    let merged = report::merge::merge(&inputs).map_err(anyhow::Error::msg)?;
    for w in &merged.warnings {
        eprintln!("warning: {w}");
    }
    write_reports(&merged.report, Some(&json), html.as_ref(), None)?;
    super::emit(report::text::Text.render(&merged.report))?;
    Ok(ExitCode::SUCCESS)
}
