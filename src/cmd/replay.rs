//! `traceblast replay`: plan → (dry run | run with progress and signals) → reports → exit code.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::cli::ReplayArgs;
use crate::config::env::Env;
use crate::corpus::Corpus;
use crate::output::Output;
use crate::replay::{End, Live, Rate, ReplayPlan, RunResult};
use crate::report::model::{CorpusInfo, RunInfo};
use crate::report::{self, Render};
use crate::units::thousands;

/// How much of the slice (decompressed) `--dry-run` decodes: about a second of work.
const DRY_RUN_CHECK: u64 = 1 << 30;

/// The dry run's line on the records it decoded.
fn describe_check(c: crate::replay::prepare::Checked) -> String {
    if c.records == c.of {
        format!("  {:<16}all {} decoded: valid OTLP, spans as the index says\n", "records", thousands(c.of))
    } else {
        format!(
            "  {:<16}the first {} of {} decoded and valid ({} of data); the rest are checked as they are sent\n",
            "records",
            thousands(c.records),
            thousands(c.of),
            crate::units::human_bytes(DRY_RUN_CHECK)
        )
    }
}

/// After this long without any HTTP response, print one hint.
const NO_RESPONSE_HINT: Duration = Duration::from_secs(3);

pub fn run(a: &ReplayArgs) -> anyhow::Result<ExitCode> {
    let env = Env::load(a.env_file.as_deref())?;
    crate::logging::init(crate::config::replay::log_level(a, &env)?);
    let plan = crate::config::replay::plan(a, &env)?;
    let corpus = Arc::new(Corpus::open(&plan.corpus)?);
    let records = crate::replay::record_range(&corpus, plan.shard).map_err(anyhow::Error::msg)?;
    if plan.dry_run {
        let checked = crate::replay::prepare::check_slice(&corpus, records.clone(), DRY_RUN_CHECK)?;
        super::emit(describe(&plan, &corpus, &records) + &describe_check(checked))?;
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
    let show = crate::progress::enabled(plan.quiet);
    let total = expected_requests(plan, records.end - records.start);
    let bar = crate::progress::replay_bar(total, show);
    crate::progress::set_active(Some(&bar));
    let done = Arc::new(AtomicBool::new(false));
    let mut monitor = None;
    let result = crate::replay::run(plan, corpus.clone(), stop.clone(), |live| {
        monitor = Some(spawn_monitor(live, bar.clone(), plan.clone(), done.clone()));
    });
    done.store(true, Ordering::Relaxed);
    let monitor_failed = monitor.and_then(|m| m.join().err());
    bar.finish_and_clear();
    crate::progress::set_active(None);
    let mut result = result.map_err(anyhow::Error::msg)?;
    if let Some(p) = monitor_failed {
        result.end = End::Failed;
        result.error.get_or_insert(format!("the progress thread failed: {}", crate::replay::panic_message(p.as_ref())));
    }
    let rep = build_report(plan, &corpus, &result);
    write_reports(&rep, plan.report.as_ref(), plan.html.as_ref())?;
    if !plan.quiet {
        super::emit(report::text::Text.render(&rep))?;
    }
    if let Some(e) = &result.error {
        // Exit 2 with the cause, after the report of what was sent.
        anyhow::bail!("{e}");
    }
    let code = exit_code(plan, &result, &rep);
    Ok((rep, code))
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
pub fn write_reports(rep: &report::Report, json: Option<&Output>, html: Option<&Output>) -> anyhow::Result<()> {
    let mut pending = Vec::new();
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

/// Requests the run will schedule, when that is known in advance.
fn expected_requests(plan: &ReplayPlan, records: u64) -> Option<u64> {
    let per_pass = records.div_ceil(u64::from(plan.batch));
    let by_loops = plan.stop.loops.map(|l| l.saturating_mul(per_pass));
    let by_duration = match (plan.stop.duration, plan.own_rate()) {
        (Some(d), Rate::PerSec(r)) => {
            Some(crate::replay::schedule::Schedule { rate: r, ramp: plan.ramp_up }.due_before(d))
        }
        _ => None,
    };
    [by_loops, plan.stop.requests, by_duration].into_iter().flatten().min()
}

/// Updates the progress bar and prints the no-response hint once.
fn spawn_monitor(
    live: Live,
    bar: indicatif::ProgressBar,
    plan: ReplayPlan,
    done: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::Builder::new()
        .name("replay-progress".into())
        .spawn(move || {
            let mut hinted = false;
            let target = match plan.own_rate() {
                Rate::PerSec(r) => format!("of {r:.0}/s"),
                Rate::Max => "max".into(),
            };
            while !done.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(200));
                let (scheduled, ok, failed, missed, p99) = live
                    .recorder
                    .with(|s| (s.scheduled, s.ok, s.failed, s.missed, s.corrected.value_at_quantile(0.99)));
                let elapsed = Instant::now().saturating_duration_since(live.start).as_secs_f64().max(1e-3);
                if !hinted && elapsed > NO_RESPONSE_HINT.as_secs_f64() && scheduled > 0 && (live.responses)() == 0 {
                    hinted = true;
                    log::warn!(
                        "no response from {} after {:.0} s — is the collector running?",
                        plan.endpoint_display,
                        elapsed
                    );
                }
                let finished = ok + failed;
                bar.set_position(scheduled);
                bar.set_message(format!(
                    "{:.0}/s {target} · ok {:.1} % · p99 {} · errors {} · missed {}",
                    scheduled as f64 / elapsed,
                    if finished == 0 { 100.0 } else { ok as f64 * 100.0 / finished as f64 },
                    report::text::us(p99),
                    thousands(failed),
                    thousands(missed)
                ));
            }
        })
        .expect("spawn progress thread")
}

fn describe_stop(plan: &ReplayPlan) -> String {
    let mut parts = Vec::new();
    if let Some(r) = plan.stop.requests {
        parts.push(format!("{} requests", thousands(r)));
    }
    if let Some(d) = plan.stop.duration {
        parts.push(humantime::format_duration(d).to_string());
    }
    parts.push(match plan.stop.loops {
        Some(1) => "one pass".to_string(),
        Some(n) => format!("{n} passes"),
        None => "passes: unlimited".to_string(),
    });
    parts.join(", whichever first: ")
}

/// The `--dry-run` plan.
fn describe(plan: &ReplayPlan, corpus: &Corpus, records: &std::ops::Range<u64>) -> String {
    let m = &corpus.index.meta;
    let mut o = String::from("traceblast replay — dry run (nothing is sent)\n");
    let mut line = |k: &str, v: String| o.push_str(&format!("  {k:<16}{v}\n"));
    line(
        "corpus",
        format!(
            "{} (seed {}, {} traces, {} records, generator {})",
            plan.corpus.display(),
            m.seed,
            thousands(m.count),
            thousands(corpus.records()),
            m.generator_version
        ),
    );
    if let Some((k, n)) = plan.shard {
        line(
            "shard",
            format!("{k}/{n}: records {}..{} ({})", records.start, records.end, thousands(records.end - records.start)),
        );
    }
    line(
        "endpoint",
        format!(
            "{} (platform {}{})",
            plan.endpoint_display,
            plan.platform,
            if plan.target.http2 { ", HTTP/2" } else { ", HTTP/1.1" }
        ),
    );
    for (k, v) in &plan.headers_display {
        line("header", format!("{k}: {v}"));
    }
    let rate = match (plan.rate, plan.own_rate()) {
        (Rate::Max, _) => "max (as fast as --max-in-flight allows)".to_string(),
        (Rate::PerSec(t), Rate::PerSec(own)) if plan.shard.is_some() => {
            format!("{t} req/s in total, {own:.3} req/s from this shard")
        }
        (Rate::PerSec(t), _) => format!("{t} req/s"),
    };
    line("rate", rate);
    if !plan.ramp_up.is_zero() {
        line("ramp-up", humantime::format_duration(plan.ramp_up).to_string());
    }
    line("stop after", describe_stop(plan));
    if let Some(n) = expected_requests(plan, records.end - records.start) {
        line("requests", format!("{} expected", thousands(n)));
    }
    line(
        "in flight",
        format!(
            "at most {} over {} connection(s), {} sender thread(s); timeout {}",
            plan.max_in_flight,
            plan.target.connections,
            plan.threads,
            humantime::format_duration(plan.target.timeout)
        ),
    );
    line(
        "bodies",
        format!(
            "batch {} · compression {:?} · {}",
            plan.batch,
            plan.compression,
            if plan.rewrite { "times shifted to send time, fresh IDs after pass 1" } else { "sent as stored" }
        ),
    );
    line("retries", plan.target.retries.to_string());
    if let Some(p) = &plan.report {
        line("report", p.path().display().to_string());
    }
    if let Some(p) = &plan.html {
        line("html report", p.path().display().to_string());
    }
    o
}

fn options(plan: &ReplayPlan) -> BTreeMap<String, String> {
    let mut o = BTreeMap::new();
    let mut put = |k: &str, v: String| {
        o.insert(k.to_string(), v);
    };
    put(
        "rate",
        match plan.rate {
            Rate::PerSec(r) => r.to_string(),
            Rate::Max => "max".into(),
        },
    );
    put("ramp_up", humantime::format_duration(plan.ramp_up).to_string());
    put("stop", describe_stop(plan));
    put("max_in_flight", plan.max_in_flight.to_string());
    put("connections", plan.target.connections.to_string());
    put("threads", plan.threads.to_string());
    put("timeout", humantime::format_duration(plan.target.timeout).to_string());
    put("retries", plan.target.retries.to_string());
    put("compression", format!("{:?}", plan.compression).to_lowercase());
    put("batch", plan.batch.to_string());
    put("http2", plan.target.http2.to_string());
    put("rewrite", plan.rewrite.to_string());

    if let Some((k, n)) = plan.shard {
        put("shard", format!("{k}/{n}"));
    }
    o
}

/// The report model of a finished run.
pub fn build_report(plan: &ReplayPlan, corpus: &Corpus, r: &RunResult) -> report::Report {
    let m = &corpus.index.meta;
    let ctx = report::Context {
        run: RunInfo {
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
            endpoint: plan.endpoint_display.clone(),
            platform: plan.platform.clone(),
            headers: plan.headers_display.clone(),
            options: {
                let mut o = options(plan);
                if let Rate::PerSec(_) = plan.rate {
                    o.insert("pacer_priority".into(), if r.pacer_realtime { "realtime" } else { "normal" }.into());
                }
                o
            },
        },
        corpus: CorpusInfo {
            path: plan.corpus.display().to_string(),
            seed: m.seed,
            count: m.count,
            records: corpus.records(),
            scenario_set_hash: m.scenario_set_hash.clone(),
            generator_version: m.generator_version,
            mix: m.mix.clone(),
        },
        scenario_names: m.scenarios.clone(),
        target_rate: match plan.own_rate() {
            Rate::PerSec(x) => Some(x),
            Rate::Max => None,
        },
        achieved_rate: r.achieved_rate,
        interrupted: r.end == End::Stopped,
        cancelled: r.cancelled,
    };
    report::build(&r.stats, ctx)
}
