//! `traceblast limit`: replay's plan for the target, then a search of steps, each a real replay
//! run at one rate; the report (text, JSON, HTML) of every step and the limit found.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::cli::LimitArgs;
use crate::config::env::Env;
use crate::corpus::Corpus;
use crate::limit::report::{LimitReport, step_head, step_line};
use crate::limit::{self, Ended, Figures, Settings, Stored};
use crate::platform::readback::Source;
use crate::replay::{Rate, ReplayPlan, RunResult, Stop};
use crate::report::stages;
use crate::sent::SentWriter;
use crate::verify;

pub fn run(a: &LimitArgs) -> anyhow::Result<ExitCode> {
    let env = Env::load(a.replay.env_file.as_deref())?;
    crate::logging::init(crate::config::replay::log_level(&a.replay, &env)?);
    let (settings, slo, readback) = crate::config::limit::settings(a)?;
    // Read-back is the search's (each step's sent log goes to a temporary folder): the plan is
    // replay's without it, so replay's own --verify rules (a --report beside it) do not apply.
    let mut replay = a.replay.clone();
    (replay.verify, replay.verify_wait, replay.sample) = (false, None, None);
    let mut plan = crate::config::replay::plan(&replay, &env)?;
    let corpus = Arc::new(Corpus::open(&plan.corpus)?);
    // Where each step is read back from is settled before any traffic (a platform without a
    // read-back API fails now).
    let readback = readback.map(|s| Readback::new(&plan, s)).transpose()?;
    let (json, html) = (plan.report.take(), plan.html.take());
    // Steps are measured, not kept: no sent log, no bar, no text report of their own.
    (plan.sent, plan.verify, plan.quiet) = (None, None, true);
    let stop = Arc::new(AtomicBool::new(false));
    super::watch_signals(
        stop.clone(),
        "interrupted: finishing this step's requests in flight, then writing the report",
    );
    let quiet = a.replay.quiet;
    if !quiet {
        eprintln!(
            "limit: {} → {}: objectives {slo}; steps of {} from {} req/s{}",
            plan.corpus.display(),
            plan.endpoint_display,
            humantime::format_duration(settings.step),
            settings.start,
            settings.budget.map(|b| format!(", within {}", humantime::format_duration(b))).unwrap_or_default()
        );
        eprintln!("limit: {}", step_head(readback.is_some()));
    }
    let began = Instant::now();
    let mut n = 0;
    let outcome = limit::search(
        &settings,
        &slo,
        |rate| step(&plan, &corpus, rate, &settings, &stop, readback.as_ref()),
        || stop.load(Ordering::Relaxed),
        |s| {
            if !quiet {
                eprintln!("limit: {}", step_line(n, s, readback.is_some()));
            }
            n += 1;
        },
    );
    let error = outcome.error.clone();
    let rep = report(&plan, &corpus, &settings, &slo, outcome, began.elapsed());
    write(&rep, json.as_ref(), html.as_ref())?;
    if !quiet {
        super::emit(crate::limit::report::text(&rep))?;
    }
    if let Some(e) = error {
        // Exit 2 with the cause, after the report of the steps that ran.
        anyhow::bail!("a step could not run: {e}");
    }
    Ok(match (rep.ended_by, rep.limit_rps) {
        (Ended::Interrupted, _) => ExitCode::from(130),
        (_, None) => ExitCode::from(1),
        _ => ExitCode::SUCCESS,
    })
}

/// How every step is read back: from where, with which settings, its sent log kept in a
/// folder that lives as long as the search.
struct Readback {
    source: Source,
    settings: verify::Settings,
    dir: tempfile::TempDir,
}

impl Readback {
    fn new(plan: &ReplayPlan, settings: verify::Settings) -> anyhow::Result<Readback> {
        let source = super::verify::source_for(
            &plan.endpoint_display,
            &plan.platform,
            &plan.headers_display,
            &super::verify::Overrides::default(),
        )?;
        let dir = tempfile::Builder::new().prefix("traceblast-limit").tempdir()?;
        // A second Ctrl-C exits at once, without destructors: the folder goes then too.
        crate::output::track(dir.path());
        Ok(Readback { source, settings, dir })
    }

    /// Runs `p` writing its sent log (and sampling the lag with `--sample`), then reads back what
    /// the platform stored of it. An interrupted step is not read back.
    fn run(
        &self,
        p: &ReplayPlan,
        corpus: &Arc<Corpus>,
        stop: &Arc<AtomicBool>,
    ) -> anyhow::Result<(RunResult, Option<Stored>)> {
        let out = crate::output::Output::check(&self.dir.path().join("step.sent"))?;
        let (tap, sampler) = super::verify::start_sampler(&self.settings, &self.source)?;
        let writer = SentWriter::start(&out, p.rewrite, corpus.index.meta.scenarios.clone(), tap)?;
        let r = crate::replay::run(p, corpus.clone(), stop.clone(), |_| {}, Some(writer.sender()));
        crate::output::commit_all(vec![writer.finish()?])?;
        let sampled = super::verify::finish_sampler(sampler)?;
        let r = r.map_err(anyhow::Error::msg)?;
        if stop.load(Ordering::Relaxed) || r.error.is_some() {
            return Ok((r, None));
        }
        let v = super::verify::check(out.path(), &self.source, &self.settings, true, sampled, Some(stop))?;
        if v.ended_by == "interrupted" {
            return Ok((r, None));
        }
        let lag = v.visibility_lag();
        let c = &v.counts;
        let stored = Stored {
            loss_percent: (c.spans_acknowledged > 0).then_some(v.loss_percent),
            acknowledged: c.acknowledged,
            visible: c.stored,
            lag_p50_ms: lag.map(|l| l.p50),
            lag_p90_ms: lag.map(|l| l.p90),
            lag_p99_ms: lag.map(|l| l.p99),
            lag_max_ms: lag.map(|l| l.max),
        };
        Ok((r, Some(stored)))
    }
}

impl Drop for Readback {
    fn drop(&mut self) {
        crate::output::untrack(self.dir.path());
    }
}

/// One step: `plan` at `rate` for `--step`, measured after `--warmup` (and read back, with
/// `readback`).
fn step(
    plan: &ReplayPlan,
    corpus: &Arc<Corpus>,
    rate: f64,
    s: &Settings,
    stop: &Arc<AtomicBool>,
    readback: Option<&Readback>,
) -> Result<Figures, String> {
    let mut p = plan.clone();
    (p.rate, p.rate_in, p.ramp_up) = (Rate::PerSec(rate), None, Duration::ZERO);
    p.stages.clear();
    p.stages_in.clear();
    p.stop = Stop { duration: Some(s.step), requests: None, loops: None };
    let (r, stored) = match readback {
        Some(rb) => rb.run(&p, corpus, stop).map_err(|e| format!("{e:#}"))?,
        None => (crate::replay::run(&p, corpus.clone(), stop.clone(), |_| {}, None)?, None),
    };
    if let Some(e) = r.error {
        return Err(e);
    }
    let achieved = r.achieved_rate;
    let rep = super::replay::build_report(&p, corpus, &r);
    // A step nobody answered measures the network, not the target: the search would otherwise
    // halve its way down to the floor against a server that is gone.
    let answered: u64 = rep.status.values().sum::<u64>() + rep.grpc_status.values().sum::<u64>();
    if answered == 0 && rep.requests.scheduled > rep.requests.missed {
        let why = rep.error_classes.iter().max_by_key(|(_, e)| e.count).map(|(c, e)| format!("{c}: {}", e.sample));
        return Err(format!(
            "no request of the step at {rate:.1} req/s got an answer from {} ({})",
            p.endpoint_display,
            why.unwrap_or_else(|| "no error recorded".into())
        ));
    }
    let (warm, rest) = (s.warmup.as_secs_f64(), (s.step - s.warmup).as_secs_f64());
    let mut w = stages::planned(&[(warm, rate), (rest, rate)]);
    stages::fill(&mut w, &rep.run.started_at, &rep.series);
    let m = &w[1];
    Ok(Figures {
        target: rate,
        // Released over the whole step (exact; the window's figure is whole seconds).
        achieved,
        scheduled: m.scheduled,
        ok: m.ok,
        failed: m.failed,
        missed: m.missed,
        retries: rep.requests.retries,
        p50_us: m.p50_us,
        p90_us: m.p90_us,
        p99_us: m.p99_us,
        p999_us: m.p999_us,
        max_us: m.max_us,
        stored,
    })
}

/// The search's report: the steps' target, options and corpus as a replay report states them.
fn report(
    plan: &ReplayPlan,
    corpus: &Corpus,
    s: &Settings,
    slo: &limit::Slo,
    o: limit::Outcome,
    elapsed: Duration,
) -> LimitReport {
    let t = &corpus.index.meta.totals;
    let spans_per_request = t.spans as f64 / t.records.max(1) as f64 * f64::from(plan.batch.max(1));
    let mut run = super::replay::run_info(plan);
    run.duration_s = elapsed.as_secs_f64();
    run.options.remove("rate");
    run.options.remove("stop");
    run.options.remove("ramp_up");
    LimitReport::new(o, s, slo, spans_per_request, run, super::replay::corpus_info(plan, corpus), elapsed.as_secs_f64())
}

/// Writes the JSON and the HTML of `rep`: both, or neither.
fn write(
    rep: &LimitReport,
    json: Option<&crate::output::Output>,
    html: Option<&crate::output::Output>,
) -> anyhow::Result<()> {
    use std::io::Write;
    let mut pending = Vec::new();
    let json_text = serde_json::to_string_pretty(rep)? + "\n";
    for (out, text) in [(json, json_text), (html, crate::limit::html::page(rep))] {
        if let Some(out) = out {
            let mut p = out.create()?;
            p.write_all(text.as_bytes())?;
            pending.push(p);
        }
    }
    crate::output::commit_all(pending)?;
    Ok(())
}
