//! Progress bars on stderr, only when stderr is a terminal (never in pipes, logs or CI).

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

/// How often a status line is printed when stderr is not a terminal (`--progress-interval`).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);

/// The bar currently drawn, so log lines can be printed above it without tearing it.
static ACTIVE: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// Registers `bar` as the one drawn (or clears it with `None`).
pub fn set_active(bar: Option<&ProgressBar>) {
    *ACTIVE.lock().expect("not poisoned") = bar.cloned();
}

/// Prints a line on stderr, above the active progress bar if there is one.
pub fn println_above(line: &str) {
    match ACTIVE.lock().expect("not poisoned").as_ref() {
        Some(bar) if !bar.is_hidden() => bar.suspend(|| eprintln!("{line}")),
        _ => eprintln!("{line}"),
    }
}

/// Whether progress output should be drawn.
pub fn enabled(quiet: bool) -> bool {
    !quiet && std::io::stderr().is_terminal()
}

/// A bar counting traces, showing traces/s, raw MB/s (from `bytes`) and the ETA.
pub fn gen_bar(total: u64, bytes: Arc<AtomicU64>, show: bool) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let start = Instant::now();
    let style = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} traces  {tps}  {mbps}  ETA {eta}",
    )
    .expect("valid template")
    .with_key("tps", |s: &ProgressState, w: &mut dyn std::fmt::Write| {
        let _ = write!(w, "{:.0} traces/s", s.per_sec());
    })
    .with_key("mbps", move |_: &ProgressState, w: &mut dyn std::fmt::Write| {
        let secs = start.elapsed().as_secs_f64().max(1e-3);
        let _ = write!(w, "{:.0} MB/s raw", bytes.load(Ordering::Relaxed) as f64 / 1e6 / secs);
    });
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr_with_hz(4));
    bar.set_style(style);
    bar.enable_steady_tick(Duration::from_millis(250));
    bar
}

/// A bar for replay: a spinner line whose message the caller updates (rates, ok %, p99, ETA).
pub fn replay_bar(total: Option<u64>, show: bool) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr_with_hz(4));
    // The message carries the ETA, computed from the schedule (indicatif's extrapolates).
    let template = if total.is_some() {
        "{spinner} [{elapsed_precise}] {bar:20} {pos}/{len} · {msg}"
    } else {
        "{spinner} [{elapsed_precise}] {pos} requests · {msg}"
    };
    bar.set_style(ProgressStyle::with_template(template).expect("valid template"));
    bar.enable_steady_tick(Duration::from_millis(250));
    bar
}
