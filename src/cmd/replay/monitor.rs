//! Progress while replay runs: a bar on a terminal, a status line every `--progress-interval`
//! elsewhere (CI, a Kubernetes pod, a file), and the hint when nothing answers.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::replay::{Live, Rate, ReplayPlan};
use crate::units::{clock, thousands};

/// After this long without any HTTP response, print one hint (a run that ends sooner without
/// a success gets the hint at its end).
const NO_RESPONSE_HINT: Duration = Duration::from_secs(3);

/// What the monitor shows.
pub struct Monitor {
    /// The run's live counters.
    pub live: Live,
    /// The plan (endpoint, rate, stop conditions).
    pub plan: ReplayPlan,
    /// The plan's schedule, built once (`None` at `--rate max`).
    pub schedule: Option<crate::replay::schedule::Schedule>,
    /// Requests the run schedules, when known.
    pub total: Option<u64>,
    /// The bar drawn on a terminal (hidden otherwise).
    pub bar: indicatif::ProgressBar,
    /// Status lines every this long when no bar is drawn (`None`: none).
    pub lines: Option<Duration>,
    /// Set when the run is over.
    pub done: Arc<AtomicBool>,
    /// Set once the no-response hint was printed (the end of the run prints it otherwise).
    pub hinted: Arc<AtomicBool>,
}

/// Counters read once per update.
struct Now {
    scheduled: u64,
    ok: u64,
    failed: u64,
    missed: u64,
    p99: u64,
    elapsed: Duration,
}

impl Monitor {
    /// Runs on its own thread until `done`.
    pub fn spawn(self) -> std::io::Result<std::thread::JoinHandle<()>> {
        std::thread::Builder::new().name("replay-progress".into()).spawn(move || self.run())
    }

    fn run(self) {
        let mut next_line = self.lines.map(|every| self.live.start + every);
        // The p99 merges every shard's histogram: once a second is enough for a display.
        let (mut p99, mut p99_at) = (0, Instant::now());
        while !self.done.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(100));
            let fresh = p99_at.elapsed() >= Duration::from_secs(1);
            let mut now = self.now(fresh);
            if fresh {
                (p99, p99_at) = (now.p99, Instant::now());
            }
            now.p99 = p99;
            let silent = now.scheduled > 0 && (self.live.responses)() == 0;
            if silent && now.elapsed > NO_RESPONSE_HINT && !self.hinted.swap(true, Ordering::Relaxed) {
                let errors = self.live.recorder.live(false).error_classes;
                log::warn!("{}", no_response_hint(&self.plan.endpoint_display, &errors, Some(now.elapsed)));
            }
            self.bar.set_position(now.scheduled);
            self.bar.set_message(self.message(&now));
            if let (Some(at), Some(every)) = (next_line, self.lines)
                && Instant::now() >= at
            {
                crate::progress::println_above(&format!(
                    "replay: {} · {} · {}",
                    clock(now.elapsed),
                    self.count(&now),
                    self.message(&now)
                ));
                next_line = Some(at + every);
            }
        }
    }

    fn now(&self, with_p99: bool) -> Now {
        let c = self.live.recorder.live(with_p99);
        let (scheduled, ok, failed, missed, p99) = (c.scheduled, c.ok, c.failed, c.missed, c.p99_us);
        Now { scheduled, ok, failed, missed, p99, elapsed: Instant::now().saturating_duration_since(self.live.start) }
    }

    /// `120/1,000 requests (12 %)`.
    fn count(&self, n: &Now) -> String {
        match self.total {
            Some(t) if t > 0 => {
                format!(
                    "{}/{} requests ({:.0} %)",
                    thousands(n.scheduled),
                    thousands(t),
                    n.scheduled as f64 * 100.0 / t as f64
                )
            }
            _ => format!("{} requests", thousands(n.scheduled)),
        }
    }

    /// Rate, success, p99, errors, missed and the time left.
    fn message(&self, n: &Now) -> String {
        let secs = n.elapsed.as_secs_f64().max(1e-3);
        let target = match (self.plan.own_rate(), self.plan.stages.is_empty()) {
            (Rate::PerSec(r), true) => format!("of {r:.0}/s"),
            // Stages: the profile's rate now, which the average so far trails on a ramp.
            (Rate::PerSec(_), false) => match &self.schedule {
                Some(s) => format!("(target now {:.0}/s)", s.rate_at(secs)),
                None => String::new(),
            },
            (Rate::Max, _) => "max".into(),
        };
        let finished = n.ok + n.failed;
        let mut m = format!(
            "{:.0}/s {target} · ok {:.1} % · p99 {} · errors {} · missed {}",
            n.scheduled as f64 / secs,
            if finished == 0 { 100.0 } else { n.ok as f64 * 100.0 / finished as f64 },
            crate::units::us(n.p99),
            thousands(n.failed),
            thousands(n.missed)
        );
        if let Some(left) = self.time_left(n) {
            m += &format!(" · ETA {}", clock(left));
        }
        m
    }

    /// Exact from the schedule at a fixed rate (ramp included); from `--duration` at `--rate
    /// max`; unknown otherwise.
    fn time_left(&self, n: &Now) -> Option<Duration> {
        let by_duration = self.plan.stop.duration.map(|d| d.saturating_sub(n.elapsed));
        let by_schedule = match (&self.schedule, self.total) {
            (Some(s), Some(t)) if t > 0 => Some(s.due(t - 1).saturating_sub(n.elapsed)),
            _ => None,
        };
        [by_schedule, by_duration].into_iter().flatten().min()
    }
}

/// `no response from URL after 3 s (12 × connection refused: …) — is the collector running?`,
/// naming the most common error class and its sample message.
pub fn no_response_hint(
    endpoint: &str,
    errors: &std::collections::BTreeMap<&'static str, (u64, String)>,
    after: Option<Duration>,
) -> String {
    let mut h = format!("no response from {endpoint}");
    if let Some(t) = after {
        h += &format!(" after {:.0} s", t.as_secs_f64());
    }
    if let Some((class, (n, sample))) = errors.iter().max_by_key(|(_, (n, _))| *n) {
        let what = crate::stats::ErrorClass::from_name(class).map_or(*class, |c| c.describe());
        h += &format!(" ({} × {what}: {sample})", thousands(*n));
    }
    h + " — is the collector running?"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clocks() {
        assert_eq!(clock(Duration::from_secs(5)), "0:05");
        assert_eq!(clock(Duration::from_secs(125)), "2:05");
        assert_eq!(clock(Duration::from_secs(3723)), "1:02:03");
    }
}
