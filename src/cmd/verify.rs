//! `traceblast verify RUN.json`: reads the run's sent log, reads back from the platform, prints
//! what arrived and writes the report with its `verify` section.

use std::process::ExitCode;

use anyhow::{Context, anyhow};

use crate::cli::VerifyArgs;
use crate::platform::readback::{self, Source};
use crate::report::{self, Render};
use crate::verify::{self, Settings, VerifyReport};

pub fn run(a: &VerifyArgs) -> anyhow::Result<ExitCode> {
    crate::logging::init(log::LevelFilter::Info);
    let shown = a.run.display().to_string();
    let text = crate::input::read_input(&a.run, report::json::MAX_REPORT_BYTES)
        .with_context(|| format!("cannot read {shown}"))?;
    let mut rep = report::json::parse(&String::from_utf8_lossy(&text), &shown).map_err(anyhow::Error::msg)?;
    let out = crate::output::Output::check(a.report.as_deref().unwrap_or(&a.run))?;
    let mut s = Settings::default();
    let dur = |flag: &str, v: &Option<String>| -> anyhow::Result<Option<std::time::Duration>> {
        v.as_deref()
            .map(|v| crate::units::parse_duration(v, crate::units::DAY).map_err(|e| anyhow!("{flag} {v}: {e}")))
            .transpose()
    };
    if let Some(w) = dur("--wait", &a.wait)? {
        s.wait = w;
    }
    if let Some(w) = dur("--settle", &a.settle)? {
        s.settle = w;
    }
    if let Some(m) = &a.max_loss {
        s.max_loss = verify::parse_max_loss(m).map_err(|e| anyhow!("--max-loss {m}: {e}"))?;
    }
    let overrides = Overrides {
        from: a.from.clone(),
        url: a.url.clone(),
        project: a.project.clone(),
        experiment: a.experiment.clone(),
    };
    let source = source_for(&rep.run.endpoint, &rep.run.platform, &rep.run.headers, &overrides)?;
    let sent = a.sent.clone().unwrap_or_else(|| crate::sent::sidecar_of(&a.run));
    let v = check(&sent, &source, &s, a.quiet, None, None)?;
    rep.verify = Some(v.clone());
    out.write(report::json::Json.render(&rep).as_bytes())?;
    super::emit(verify::text(&v))?;
    Ok(exit_code(&v))
}

/// What the command line says about the platform, over what the report says.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub from: Option<String>,
    pub url: Option<String>,
    pub project: Option<String>,
    pub experiment: Option<String>,
}

/// Where to read back: the run's `endpoint`, `platform` and shown `headers` (the routing ones
/// are shown as they are), under what the command line says (`o`).
pub fn source_for(
    endpoint: &str,
    platform: &str,
    headers: &[(String, String)],
    o: &Overrides,
) -> anyhow::Result<Source> {
    let base = match &o.url {
        Some(u) => readback::base_of(u).map_err(|e| anyhow!("--url {e}"))?,
        None => readback::base_of(endpoint).map_err(|e| anyhow!("the run's endpoint: {e}"))?,
    };
    let header = |name: &str| {
        headers.iter().find(|(k, v)| k.eq_ignore_ascii_case(name) && v != "<redacted>").map(|(_, v)| v.clone())
    };
    // A preset named after a read-back adapter (`phoenix-local` reads back as `phoenix`).
    let preset = platform.strip_suffix("-local").unwrap_or(platform);
    let from = match &o.from {
        Some(f) if readback::READ_BACK.contains(&f.as_str()) => f.clone(),
        Some(f) => anyhow::bail!("--from {f:?}: use one of {}", readback::READ_BACK.join(", ")),
        None if readback::READ_BACK.contains(&preset) => preset.to_string(),
        None => readback::detect(&base, &[]).map_err(anyhow::Error::msg)?.to_string(),
    };
    Ok(Source {
        headers: readback::credentials(&from),
        project: o
            .project
            .clone()
            .or_else(|| header("x-project-name"))
            .or_else(|| bt_project(header("x-bt-parent")))
            .unwrap_or_else(|| "default".into()),
        experiment: o.experiment.clone().or_else(|| header("x-mlflow-experiment-id")),
        from,
        base,
    })
}

/// The project of Braintrust's `x-bt-parent: project_name:NAME` (or `project_id:ID`).
fn bt_project(parent: Option<String>) -> Option<String> {
    let p = parent?;
    ["project_name:", "project_id:"].iter().find_map(|k| p.strip_prefix(k)).map(str::to_string)
}

/// Reads the sent log at `sent` and verifies it against `source`.
pub fn check(
    sent: &std::path::Path,
    source: &Source,
    s: &Settings,
    quiet: bool,
    sampled: Option<std::collections::HashMap<u128, verify::sample::Sampled>>,
    stop: Option<&std::sync::atomic::AtomicBool>,
) -> anyhow::Result<VerifyReport> {
    let log = crate::sent::read(sent).map_err(anyhow::Error::msg)?;
    let platform = readback::open(source).map_err(anyhow::Error::msg)?;
    if !quiet {
        crate::progress::println_above(&format!(
            "verify: reading back {} requests' traces from {} at {}",
            crate::units::thousands(log.requests.len() as u64),
            source.from,
            crate::platform::redact_url(&source.base)
        ));
    }
    verify::run(&log, platform.as_ref(), s, sampled, stop, |line| {
        if !quiet {
            crate::progress::println_above(line);
        }
    })
    .map_err(anyhow::Error::msg)
}

/// With `--sample N`: the thread looking up acknowledged traces during the run, and the tap the
/// sent log feeds it through.
pub fn start_sampler(
    s: &Settings,
    source: &Source,
) -> anyhow::Result<(Option<flume::Sender<crate::sent::Sent>>, Option<verify::sample::Sampler>)> {
    if s.sample == 0 {
        return Ok((None, None));
    }
    let (tx, rx) = flume::bounded(10_000);
    let sampler =
        verify::sample::Sampler::start(source.clone(), s.sample, rx).context("cannot start the sampling thread")?;
    Ok((Some(tx), Some(sampler)))
}

/// What the sampling thread measured; its failure to read from the platform is a warning (the
/// sweep after the run still measures), its panic an error.
pub fn finish_sampler(
    sampler: Option<verify::sample::Sampler>,
) -> anyhow::Result<Option<std::collections::HashMap<u128, verify::sample::Sampled>>> {
    match sampler.map(verify::sample::Sampler::finish).transpose().map_err(anyhow::Error::msg)? {
        Some(Err(e)) => {
            log::warn!("sampling the visibility lag during the run failed: {e}");
            Ok(None)
        }
        Some(Ok(s)) => Ok(Some(s)),
        None => Ok(None),
    }
}

/// 0 within `--max-loss`, else 1 (with the reason on stderr); 130 when interrupted.
pub fn exit_code(v: &VerifyReport) -> ExitCode {
    if v.ended_by == "interrupted" {
        return ExitCode::from(130);
    }
    if v.passed {
        return ExitCode::SUCCESS;
    }
    log::error!(
        "{:.3} % of acknowledged spans were not stored ({} of {}), above --max-loss {} %",
        v.loss_percent,
        v.counts.spans_acknowledged - v.counts.spans_stored,
        v.counts.spans_acknowledged,
        v.max_loss_percent
    );
    ExitCode::from(1)
}
