//! Progress bars on stderr, only when stderr is a terminal (never in pipes, logs or CI).

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

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
        "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} traces  {per_sec}  {mbps}  ETA {eta}",
    )
    .expect("valid template")
    .with_key("mbps", move |_: &ProgressState, w: &mut dyn std::fmt::Write| {
        let secs = start.elapsed().as_secs_f64().max(1e-3);
        let _ = write!(w, "{:.0} MB/s raw", bytes.load(Ordering::Relaxed) as f64 / 1e6 / secs);
    });
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr_with_hz(4));
    bar.set_style(style);
    bar.enable_steady_tick(Duration::from_millis(250));
    bar
}
