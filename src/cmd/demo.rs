//! `traceblast demo`: the main job on one machine with nothing else running — generate a small
//! corpus, start the sink on a free port, replay into it at a modest rate, read back what the
//! sink stored (`replay --verify`), print the report and check that every span acknowledged was
//! received.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;

use crate::cli::{Cli, Command, DemoArgs};
use crate::config::env::Env;
use crate::corpus::Corpus;
use crate::units::thousands;

pub fn run(a: &DemoArgs) -> anyhow::Result<ExitCode> {
    crate::logging::init(log::LevelFilter::Info);
    let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
    let corpus_path = dir.path().join("demo.zst");

    // 1. gen, through the same validation as the command.
    let gen_args = match Cli::try_parse_from([
        "traceblast",
        "gen",
        "--seed",
        &a.seed.to_string(),
        "--count",
        &a.count,
        "-o",
        corpus_path.to_str().expect("temp paths are UTF-8"),
    ])
    .map_err(|e| anyhow::anyhow!("{}", e.render().to_string().lines().next().unwrap_or("bad arguments")))?
    .command
    {
        Command::Gen(g) => g,
        _ => unreachable!("parsed as gen"),
    };
    let gen_plan = crate::config::gen_plan(&gen_args, &Default::default())?;
    let summary = crate::generate::run(&gen_plan, &Default::default())?;
    let t = summary.meta.totals;
    super::emit(format!(
        "demo: generated {} traces ({} spans, {} requests, {}) in {:.2} s\n",
        thousands(t.traces),
        thousands(t.spans),
        thousands(t.records),
        crate::units::human_bytes(t.raw_bytes),
        summary.seconds
    ))?;

    // 2. sink on a free local port.
    let sink = crate::sink::spawn(crate::sink::SinkPlan::default()).context("cannot start the sink")?;
    let endpoint = format!("http://{}/v1/traces", sink.addr);
    super::emit(format!("demo: sink listening on {endpoint}; replaying at {} req/s\n\n", a.rate))?;

    // 3. replay, validated like the command (no environment: the demo is self-contained).
    let mut argv = vec![
        "traceblast".to_string(),
        "replay".into(),
        corpus_path.display().to_string(),
        "--endpoint".into(),
        endpoint,
        "--rate".into(),
        a.rate.clone(),
    ];
    // The report (in the temporary folder unless asked for) carries the sent log beside it, so
    // the run ends by reading back from the sink what it stored (`--verify`).
    let report_path = a.report.clone().unwrap_or_else(|| dir.path().join("demo.json"));
    argv.extend(["--report".into(), report_path.display().to_string(), "--verify".into()]);
    argv.extend(["--verify-wait".into(), "30s".into()]);
    if let Some(h) = &a.html {
        argv.extend(["--html".into(), h.display().to_string()]);
    }
    let replay_args = match Cli::try_parse_from(&argv)
        .map_err(|e| anyhow::anyhow!("{}", e.render().to_string().lines().next().unwrap_or("bad arguments")))?
        .command
    {
        Command::Replay(r) => r,
        _ => unreachable!("parsed as replay"),
    };
    let mut plan = crate::config::replay::plan(&replay_args, &Env::from_pairs(&[]))?;
    let corpus = Arc::new(Corpus::open(&corpus_path)?);
    plan.resolve_rate(&corpus).map_err(anyhow::Error::msg)?;
    let (report, code) = super::replay::execute(&plan, corpus)?;

    // 4. what arrived.
    let got = sink.shutdown();
    let delivered = got.unique_spans == report.spans.ok && got.duplicate_span_ids == 0;
    super::emit(format!(
        "\nsink received   {} requests · {} spans · {} unique traces · {} duplicate span IDs\ndelivery        {}\n",
        thousands(got.requests),
        thousands(got.spans),
        thousands(got.unique_traces),
        thousands(got.duplicate_span_ids),
        if delivered {
            format!(
                "every span acknowledged by the sink was received ({} of {})",
                thousands(got.unique_spans),
                thousands(report.spans.ok)
            )
        } else {
            format!(
                "MISMATCH: replay saw {} spans acknowledged, the sink counted {} unique",
                thousands(report.spans.ok),
                thousands(got.unique_spans)
            )
        }
    ))?;
    if !delivered {
        return Ok(ExitCode::from(1));
    }
    Ok(code)
}
