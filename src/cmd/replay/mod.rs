//! `traceblast replay`: plan → (dry run | run with progress and signals) → reports → exit code.

mod monitor;
mod plan;

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;

use crate::cli::ReplayArgs;
use crate::config::env::Env;
use crate::corpus::Corpus;
use crate::output::Output;
use crate::replay::{End, Rate, ReplayPlan, RunResult};
use crate::report::model::{CorpusInfo, RunInfo};
use crate::report::{self, Render};
use crate::units::thousands;

pub fn run(a: &ReplayArgs) -> anyhow::Result<ExitCode> {
    let env = Env::load(a.env_file.as_deref())?;
    crate::logging::init(crate::config::replay::log_level(a, &env)?);
    let mut plan = crate::config::replay::plan(a, &env)?;
    let corpus = Arc::new(Corpus::open(&plan.corpus)?);
    plan.resolve_rate(&corpus).map_err(anyhow::Error::msg)?;
    let records = crate::replay::record_range(&corpus, plan.shard).map_err(anyhow::Error::msg)?;
    if plan.dry_run {
        let checked = crate::replay::prepare::check_slice(&corpus, records.clone(), plan::DRY_RUN_CHECK)?;
        super::emit(plan::describe(&plan, &corpus, &records) + &plan::describe_check(checked))?;
        return Ok(ExitCode::SUCCESS);
    }
    let (_, code) = execute(&plan, corpus)?;
    Ok(code)
}

/// Runs a validated plan with progress and signal handling, writes and prints the reports;
/// returns the report and the exit code (`demo` reuses this).
pub fn execute(plan: &ReplayPlan, corpus: Arc<Corpus>) -> anyhow::Result<(report::Report, ExitCode)> {
    let records = crate::replay::record_range(&corpus, plan.shard).map_err(anyhow::Error::msg)?;
    if plan.target.insecure {
        log::warn!(
            "--insecure: TLS certificates are not verified; anyone on the path can read the traffic and the API key"
        );
    }
    let stop = Arc::new(AtomicBool::new(false));
    super::watch_signals(stop.clone(), "interrupted: stopping; waiting for requests in flight (again to quit now)");
    let estimate = plan::estimate(plan, &corpus, &records);
    if !plan.quiet {
        crate::progress::println_above(&format!("replay: {}", plan::summary_line(plan, &estimate)));
        if let Some(s) = &plan.settings {
            crate::progress::println_above(&format!("replay: settings {s}"));
        }
    }
    for w in plan::warnings(plan, &estimate, records.end - records.start) {
        log::warn!("{w}");
    }
    let show = crate::progress::enabled(plan.quiet);
    let bar = crate::progress::replay_bar(estimate.requests, show);
    crate::progress::set_active(Some(&bar));
    let done = Arc::new(AtomicBool::new(false));
    let hinted = Arc::new(AtomicBool::new(false));
    let lines = (!show && !plan.quiet && !plan.progress_interval.is_zero()).then_some(plan.progress_interval);
    let mut monitor = None;
    // With --verify, where to read back is settled before sending (a platform without a
    // read-back API fails now, not after the run), and --sample starts its thread.
    let verify_source = match &plan.verify {
        Some(_) => Some(super::verify::source_for(
            &plan.endpoint_display,
            &plan.platform,
            &plan.headers_display,
            &super::verify::Overrides::default(),
        )?),
        None => None,
    };
    let (tap, sampler) = match (&plan.verify, &verify_source) {
        (Some(s), Some(source)) => super::verify::start_sampler(s, source)?,
        _ => (None, None),
    };
    let sent_writer = plan
        .sent
        .as_ref()
        .map(|o| crate::sent::SentWriter::start(o, plan.rewrite, corpus.index.meta.scenarios.clone(), tap))
        .transpose()?;
    let sent_tx = sent_writer.as_ref().map(crate::sent::SentWriter::sender);
    let result = crate::replay::run(
        plan,
        corpus.clone(),
        stop.clone(),
        |live| {
            let m = monitor::Monitor {
                live,
                plan: plan.clone(),
                schedule: plan.schedule(),
                total: estimate.requests,
                bar: bar.clone(),
                lines,
                done: done.clone(),
                hinted: hinted.clone(),
            };
            monitor = Some(m.spawn());
        },
        sent_tx,
    );
    done.store(true, Ordering::Relaxed);
    let monitor_failed = match monitor {
        Some(Ok(m)) => m.join().err().map(|p| crate::replay::panic_message(p.as_ref())),
        Some(Err(e)) => Some(e.to_string()),
        None => None,
    };
    bar.finish_and_clear();
    crate::progress::set_active(None);
    // The run and the monitor (whose response counter holds the senders) have ended: every
    // handle on the log is gone, so it is complete.
    let sent_log = sent_writer.map(crate::sent::SentWriter::finish).transpose()?;
    let mut result = result.map_err(anyhow::Error::msg)?;
    if let Some(p) = monitor_failed {
        result.end = End::Failed;
        result.error.get_or_insert(format!("the progress thread failed: {p}"));
    }
    if result.stats.ok == 0 {
        hint_why_nothing_succeeded(plan, &result, hinted.load(Ordering::Relaxed));
    }
    let mut rep = build_report(plan, &corpus, &result);
    write_reports(&rep, plan.report.as_ref(), plan.html.as_ref(), sent_log)?;
    if !plan.quiet {
        super::emit(report::text::Text.render(&rep))?;
    }
    let sampled = super::verify::finish_sampler(sampler)?;
    let verified = match (&plan.verify, &plan.sent, &plan.report, &verify_source) {
        (Some(s), Some(sent), Some(out), Some(source)) if result.error.is_none() && result.end != End::Stopped => {
            let v = super::verify::check(sent.path(), source, s, plan.quiet, sampled, Some(&stop))?;
            super::emit(crate::verify::text(&v))?;
            rep.verify = Some(v);
            out.write(report::json::Json.render(&rep).as_bytes())?;
            rep.verify.as_ref().map(super::verify::exit_code)
        }
        _ => None,
    };
    if let Some(e) = &result.error {
        // Exit 2 with the cause, after the report of what was sent.
        anyhow::bail!("{e}");
    }
    let code = exit_code(plan, &result, &rep);
    match verified {
        Some(v) if code == ExitCode::SUCCESS => Ok((rep, v)),
        _ => Ok((rep, code)),
    }
}

/// When no request succeeded, one line on why: nothing answered (the most common error class and
/// its message), or everything was 404 (the path used).
fn hint_why_nothing_succeeded(plan: &ReplayPlan, r: &RunResult, hinted: bool) {
    let s = &r.stats;
    let answered: u64 = s.status.values().sum::<u64>() + s.grpc_status.values().sum::<u64>();
    if answered == 0 && s.scheduled > s.missed && !hinted {
        log::warn!("{}", monitor::no_response_hint(&plan.endpoint_display, &s.error_classes, None));
    } else if answered > 0 && s.status.get(&404) == Some(&answered) {
        let path = plan.target.uri.path();
        log::warn!(
            "every answer was 404 Not Found: nothing takes OTLP traces at {path} on {}. Collectors take POST /v1/traces; platforms mount it under a prefix (--platform NAME sets it)",
            plan.target.uri.authority().map_or("the server", |a| a.as_str())
        );
    }
}

/// 130 when interrupted; 1 when no request succeeded (unless `--min-success 0`) or the success
/// rate is below `--min-success`; else 0.
fn exit_code(plan: &ReplayPlan, result: &RunResult, rep: &report::Report) -> ExitCode {
    if result.end == End::Stopped {
        return ExitCode::from(130);
    }
    let success = report::compare::exact_success(rep);
    match plan.min_success {
        None if rep.requests.ok == 0 => {
            log::error!(
                "no request succeeded ({} scheduled): exit 1 (--min-success 0 accepts a run without success)",
                thousands(rep.requests.scheduled)
            );
            ExitCode::from(1)
        }
        Some(min) if success < min => {
            log::error!("success rate {:.2} % is below --min-success {min} %", rep.success_rate);
            ExitCode::from(1)
        }
        _ => ExitCode::SUCCESS,
    }
}

/// Writes the JSON report and the HTML page of `rep`: both, or (on a failure) neither.
pub fn write_reports(
    rep: &report::Report,
    json: Option<&Output>,
    html: Option<&Output>,
    sent_log: Option<crate::output::Pending>,
) -> anyhow::Result<()> {
    let mut pending: Vec<crate::output::Pending> = sent_log.into_iter().collect();
    for (out, text) in [(json, report::json::Json.render(rep)), (html, report::html::Html.render(rep))]
        .into_iter()
        .filter_map(|(o, t)| o.map(|o| (o, t)))
    {
        let mut p = out.create()?;
        p.write_all(text.as_bytes()).with_context(|| format!("cannot write {}", out.path().display()))?;
        pending.push(p);
    }
    crate::output::commit_all(pending)?;
    Ok(())
}

/// The run description of `plan` (target, redacted headers, options), before a run fills in
/// its times and end.
pub fn run_info(plan: &ReplayPlan) -> RunInfo {
    RunInfo {
        endpoint: plan.endpoint_display.clone(),
        platform: plan.platform.clone(),
        headers: plan.headers_display.clone(),
        options: plan::options(plan),
        ..RunInfo::default()
    }
}

/// The corpus as reports describe it.
pub fn corpus_info(plan: &ReplayPlan, corpus: &Corpus) -> CorpusInfo {
    let m = &corpus.index.meta;
    CorpusInfo {
        path: plan.corpus.display().to_string(),
        seed: m.seed,
        count: m.count,
        records: corpus.records(),
        scenario_set_hash: m.scenario_set_hash.clone(),
        generator_version: m.generator_version,
        mix: m.mix.clone(),
    }
}

/// The report model of a finished run.
pub fn build_report(plan: &ReplayPlan, corpus: &Corpus, r: &RunResult) -> report::Report {
    let mut run = RunInfo {
        started_at: humantime::format_rfc3339_millis(r.started).to_string(),
        duration_s: (r.elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
        ended_by: match r.end {
            End::Exhausted => "corpus",
            End::Requests => "requests",
            End::Duration => "duration",
            End::Stopped => "interrupted",
            End::Failed => "error",
        }
        .into(),
        error: r.error.clone(),
        id_key: r.id_key.map(|k| format!("{k:016x}")),
        ..run_info(plan)
    };
    if let Rate::PerSec(_) = plan.rate {
        run.options.insert("pacer_priority".into(), if r.pacer_realtime { "realtime" } else { "normal" }.into());
    }
    let ctx = report::Context {
        run,
        corpus: corpus_info(plan, corpus),
        scenario_names: corpus.index.meta.scenarios.clone(),
        target_rate: plan.target_rate().map(|r| r / plan.share()),
        stages: report::stages::planned(
            &plan.stages.iter().map(|s| (s.duration.as_secs_f64(), s.target / plan.share())).collect::<Vec<_>>(),
        ),
        achieved_rate: r.achieved_rate,
        interrupted: r.end == End::Stopped,
        cancelled: r.cancelled,
    };
    report::build(&r.stats, ctx)
}
