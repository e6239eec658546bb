//! Collector drop analysis (`traceblast analyze`, a port of `analyze_collector_drops.sh`): when
//! spans sent through an OpenTelemetry Collector are missing at the backend, say how many the
//! Collector dropped, for which HTTP status, and what to change.
//!
//! Two independent inputs feed one [`Report`]. The Collector's log ([`logs`]) says *why*: its
//! exporterhelper "Exporting failed. Dropping data." lines carry the backend's answer and the
//! item count. Its own metrics ([`metrics`], fetched by [`crate::fetch`] or read from a file) say *how
//! many*, even after logs rotated. [`advice`] maps causes to changes; [`text`] renders the report
//! for people (`cmd::analyze` prints it, or the JSON).

pub mod advice;
pub mod drops;
pub mod logs;
pub mod metrics;
mod record;
pub mod text;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Serialize;

use crate::config::env::{open_input, read_input};
use crate::platform::redact_url;
pub use advice::Recommendation;
pub use drops::Drops;
pub use logs::LogReport;
pub use metrics::MetricsReport;

/// How long `--metrics http://…` may take.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the log comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogSource {
    /// `-`: standard input (`docker compose logs otel-collector | traceblast analyze -`).
    Stdin,
    /// A file.
    File(PathBuf),
}

/// Where the metrics come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetricsSource {
    /// An `http://` or `https://` URL, fetched once.
    Url(String),
    /// A saved exposition text.
    File(PathBuf),
}

/// The validated inputs of one analysis: at least one of the two.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The Collector log, if given.
    pub logs: Option<LogSource>,
    /// The Collector metrics, if given.
    pub metrics: Option<MetricsSource>,
}

impl Plan {
    /// Builds the plan from the arguments as typed (`LOGFILE|-`, `--metrics URL|FILE`).
    pub fn new(logs: Option<&str>, metrics: Option<&str>) -> Result<Plan> {
        if logs.is_none() && metrics.is_none() {
            bail!("nothing to analyze: give a Collector log (LOGFILE, or - for stdin) and/or --metrics URL|FILE");
        }
        let logs = logs.map(|l| if l == "-" { LogSource::Stdin } else { LogSource::File(l.into()) });
        let metrics = metrics.map(|m| {
            if m.starts_with("http://") || m.starts_with("https://") {
                MetricsSource::Url(m.to_owned())
            } else {
                MetricsSource::File(m.into())
            }
        });
        Ok(Plan { logs, metrics })
    }

    /// Reads the inputs and builds the report. Errors name the file or URL. A missing log file
    /// or an unreachable metrics URL fails before a long stdin is read.
    pub fn run(&self) -> Result<Report> {
        let log_reader: Option<Box<dyn BufRead>> = match &self.logs {
            None => None,
            Some(LogSource::Stdin) => Some(Box::new(std::io::stdin().lock())),
            Some(LogSource::File(p)) => {
                let f = open_input(p).with_context(|| format!("cannot open the log {}", p.display()))?;
                Some(Box::new(BufReader::with_capacity(1 << 16, f)))
            }
        };
        let metrics = self.metrics.as_ref().map(read_metrics).transpose()?;
        let logs = log_reader
            .map(|r| logs::scan(r).with_context(|| format!("reading the log {}", self.log_name().unwrap_or_default())))
            .transpose()?;
        if let Some(l) = &logs
            && l.records == 0
        {
            bail!(
                "{}: no Collector log records in {} lines (is this the Collector's own log? docker compose logs otel-collector)",
                self.log_name().unwrap_or_default(),
                crate::units::thousands(l.lines)
            );
        }
        let sources = Sources { logs: self.log_name(), metrics: self.metrics.as_ref().map(metrics_name) };
        Ok(Report::new(sources, logs, metrics))
    }

    fn log_name(&self) -> Option<String> {
        self.logs.as_ref().map(|l| match l {
            LogSource::Stdin => "-".to_owned(),
            LogSource::File(p) => p.display().to_string(),
        })
    }
}

/// Everything `analyze` found. Its JSON form is the `--json` output (keys documented in
/// README-analyze.md; `tests/it/analyze.rs` checks the shape).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The inputs as named by the user.
    pub sources: Sources,
    /// Spans dropped according to each input.
    pub spans_dropped: SpansDropped,
    /// What the log says, if a log was read.
    pub logs: Option<LogReport>,
    /// What the metrics say, if metrics were read.
    pub metrics: Option<MetricsReport>,
    /// What to change, one entry per cause seen.
    pub recommendations: Vec<Recommendation>,
}

/// The inputs, as displayed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sources {
    /// The log file path, `-` for stdin, or `None`.
    pub logs: Option<String>,
    /// The metrics URL or file path, or `None`.
    pub metrics: Option<String>,
}

/// The headline number, per input (they count differently, so they are not merged).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SpansDropped {
    /// Sum of `dropped_items` of trace drop lines.
    pub logs: Option<u64>,
    /// `send_failed + enqueue_failed` spans over all exporters.
    pub metrics: Option<u64>,
}

impl Report {
    /// Assembles a report from what was read.
    pub fn new(sources: Sources, logs: Option<LogReport>, metrics: Option<MetricsReport>) -> Report {
        let recommendations = advice::recommendations(logs.as_ref(), metrics.as_ref());
        let spans_dropped = SpansDropped {
            logs: logs.as_ref().map(|l| l.spans_dropped),
            metrics: metrics.as_ref().map(|m| m.spans_dropped),
        };
        Report { sources, spans_dropped, logs, metrics, recommendations }
    }
}

/// The metrics source as printed anywhere (messages, the report): a URL without its
/// credentials (user info, secret-looking query parameters).
fn metrics_name(m: &MetricsSource) -> String {
    match m {
        MetricsSource::Url(u) => redact_url(u),
        MetricsSource::File(p) => p.display().to_string(),
    }
}

fn read_metrics(source: &MetricsSource) -> Result<MetricsReport> {
    let name = metrics_name(source);
    let text = match source {
        MetricsSource::Url(url) => {
            crate::fetch::get_text(url, FETCH_TIMEOUT).with_context(|| format!("--metrics {name}"))?
        }
        MetricsSource::File(p) => {
            let bytes = read_input(p, crate::fetch::MAX_BODY as u64)
                .with_context(|| format!("--metrics: cannot read {}", p.display()))?;
            String::from_utf8_lossy(&bytes).into_owned()
        }
    };
    let report = MetricsReport::parse(&text);
    if report.series == 0 {
        bail!(
            "--metrics {name}: no otelcol_exporter_*_spans or otelcol_receiver_*_spans counters (is this the Collector's own metrics, usually :8888/metrics?)"
        );
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans() {
        let p = Plan::new(Some("-"), Some("http://localhost:8888/metrics")).unwrap();
        assert_eq!(p.logs, Some(LogSource::Stdin));
        assert_eq!(p.metrics, Some(MetricsSource::Url("http://localhost:8888/metrics".into())));
        let p = Plan::new(Some("c.log"), Some("saved.prom")).unwrap();
        assert_eq!(p.logs, Some(LogSource::File("c.log".into())));
        assert_eq!(p.metrics, Some(MetricsSource::File("saved.prom".into())));
        let e = Plan::new(None, None).unwrap_err().to_string();
        assert!(e.contains("LOGFILE") && e.contains("--metrics"), "{e}");
    }

    #[test]
    fn headline_per_source() {
        let logs = LogReport { spans_dropped: 5, ..Default::default() };
        let r = Report::new(Sources { logs: Some("-".into()), metrics: None }, Some(logs), None);
        assert_eq!(r.spans_dropped, SpansDropped { logs: Some(5), metrics: None });
    }
}
