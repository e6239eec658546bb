//! `traceblast gen`.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::cli::GenArgs;
use crate::generate::{GenProgress, GenSummary};
use crate::units::{human_bytes, thousands};

pub fn run(a: &GenArgs) -> anyhow::Result<ExitCode> {
    let plan = crate::config::gen_plan(a, &crate::config::env::Env::default())?;
    let every = crate::units::parse_duration(&a.progress_interval, crate::units::DAY)
        .map_err(|e| anyhow::anyhow!("--progress-interval {e}"))?;
    let progress = Arc::new(GenProgress::default());
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    super::watch_signals(stop.clone(), "interrupted: stopping; the partial corpus is deleted (again to quit now)");
    let traces = plan.trace_range();
    let bytes = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let total = traces.end - traces.start;
    let show = crate::progress::enabled(a.quiet);
    let bar = crate::progress::gen_bar(total, bytes.clone(), show);
    let lines = (!show && !a.quiet && !every.is_zero()).then_some(every);
    let started = Instant::now();
    let mut next_line = lines.map(|every| started + every);
    let summary = std::thread::scope(|s| {
        let worker = s.spawn(|| crate::generate::run(&plan, &progress));
        while !worker.is_finished() {
            if stop.load(Ordering::Relaxed) {
                progress.stop.store(true, Ordering::Relaxed);
            }
            let done = progress.traces.load(Ordering::Relaxed);
            bar.set_position(done);
            bytes.store(progress.raw_bytes.load(Ordering::Relaxed), Ordering::Relaxed);
            if let (Some(at), Some(every)) = (next_line, lines)
                && Instant::now() >= at
            {
                eprintln!("{}", status_line(done, total, bytes.load(Ordering::Relaxed), started.elapsed()));
                next_line = Some(at + every);
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        worker.join().map_err(|p| anyhow::anyhow!("gen failed: {}", crate::replay::panic_message(p.as_ref())))
    })?;
    bar.finish_and_clear();
    let summary = match summary {
        Err(crate::generate::GenError::Interrupted) => {
            eprintln!("interrupted: no corpus written");
            return Ok(ExitCode::from(130));
        }
        other => other?,
    };
    if !a.quiet {
        super::emit(render_summary(&plan.output.path().display().to_string(), &summary))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `gen: 0:10 · 40,000/100,000 traces (40 %) · 4,000 traces/s · 150 MB/s raw · ETA 0:15`.
fn status_line(done: u64, total: u64, raw: u64, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64().max(1e-3);
    let rate = done as f64 / secs;
    let eta = if rate > 0.0 {
        format!(" · ETA {}s", ((total - done.min(total)) as f64 / rate).ceil())
    } else {
        String::new()
    };
    format!(
        "gen: {:.0} s · {}/{} traces ({:.0} %) · {:.0} traces/s · {:.0} MB/s raw{eta}",
        secs,
        thousands(done),
        thousands(total),
        done as f64 * 100.0 / total.max(1) as f64,
        rate,
        raw as f64 / 1e6 / secs
    )
}

/// The text summary printed after `gen`.
pub fn render_summary(path: &str, s: &GenSummary) -> String {
    let m = &s.meta;
    let t = &m.totals;
    let ratio = t.raw_bytes as f64 / s.file_bytes.max(1) as f64;
    let mut out = format!("traceblast gen: wrote {path}\n");
    let mut line = |k: &str, v: String| out.push_str(&format!("  {k:<12}{v}\n"));
    line("seed", m.seed.to_string());
    match &m.shard {
        Some(sh) => {
            line("traces", format!("{} (shard {sh} of {} in all)", thousands(t.traces), thousands(m.corpus_count)))
        }
        None => line("traces", thousands(t.traces)),
    }
    if let Some(tl) = &m.timeline {
        line(
            "timeline",
            format!(
                "{} sessions ({}), {} instance(s), {:.1} s; {} spans dropped by full queues",
                thousands(tl.sessions),
                tl.arrival,
                tl.instances,
                tl.length_ns as f64 / 1e9,
                thousands(tl.dropped_spans)
            ),
        );
    }
    line("spans", thousands(t.spans));
    line("requests", thousands(t.records));
    line("tokens", thousands(t.tokens));
    line("raw bytes", format!("{} ({})", thousands(t.raw_bytes), human_bytes(t.raw_bytes)));
    line("file bytes", format!("{} ({})", thousands(s.file_bytes), human_bytes(s.file_bytes)));
    line("ratio", format!("{ratio:.2}x"));
    line("seconds", format!("{:.2}", s.seconds));
    line("raw MB/s", format!("{:.1}", t.raw_bytes as f64 / 1e6 / s.seconds.max(1e-9)));
    line("traces/s", format!("{:.0}", t.traces as f64 / s.seconds.max(1e-9)));
    out.push_str("  scenarios:\n");
    for (name, st) in &s.per_scenario {
        out.push_str(&format!(
            "    {name:<24}{:>10} traces {:>8.1} spans/trace {:>9.1} KB/trace\n",
            thousands(st.traces),
            st.spans as f64 / st.traces.max(1) as f64,
            st.raw_bytes as f64 / 1e3 / st.traces.max(1) as f64
        ));
    }
    out
}
