//! `traceblast limit`: the highest request rate an endpoint sustains within a set of
//! objectives ([`slo::Slo`]).
//!
//! The search runs steps of a fixed rate, each held for `step` with its first `warmup`
//! excluded from the figures: a coarse step-up (×`factor` from `start` until a step fails or
//! `max` is reached; ÷`factor` from `start` while it fails), then a bisection between the highest
//! passing and the lowest failing rate until they are within `precision` of each other, the
//! step budget is spent or the time budget would be exceeded. How a step is run is the
//! caller's ([`search`] takes it as a function): the command runs a real replay, the tests
//! also a model.

pub mod html;
pub mod report;
pub mod slo;

use std::time::{Duration, Instant};

use serde::Serialize;

pub use slo::{Figures, Slo, Stored};

/// How the search proceeds.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The first rate tried (requests/s).
    pub start: f64,
    /// The highest rate tried.
    pub max: f64,
    /// The step-up factor (> 1).
    pub factor: f64,
    /// Stop once (lowest failing − highest passing) / highest passing is at most this.
    pub precision: f64,
    /// How long each step sends.
    pub step: Duration,
    /// The start of each step left out of its figures.
    pub warmup: Duration,
    /// Pause between steps, for the target to drain what the last one left.
    pub cooldown: Duration,
    /// Stop before a step that would end past this, from the search's start (its read-back's
    /// longest wait included).
    pub budget: Option<Duration>,
    /// The longest read-back after a step (`--verify-wait`; zero when steps are not read back).
    pub readback_wait: Duration,
    /// Most steps.
    pub max_steps: u32,
}

/// The lowest rate the search goes down to when nothing passes.
pub const FLOOR: f64 = 0.01;

/// One step and its verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    /// Requests/s asked for.
    pub rate: f64,
    /// What it measured after the warm-up.
    #[serde(flatten)]
    pub figures: Figures,
    /// Success rate, percent.
    pub success: f64,
    /// It met every objective.
    pub pass: bool,
    /// The objectives it broke, in words.
    pub broken: Vec<String>,
    /// Seconds from the search's start to the step's start.
    pub at_s: f64,
}

/// Why the search stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ended {
    /// Passing and failing rates within the precision.
    Precision,
    /// `max` passed: the limit is at least that.
    Max,
    /// Nothing passed down to [`FLOOR`].
    Floor,
    /// The time budget.
    Budget,
    /// The step budget.
    Steps,
    /// Interrupted.
    Interrupted,
    /// A step could not be run or measured (see [`Outcome::error`]).
    Error,
}

impl Ended {
    /// In words.
    pub fn describe(self) -> &'static str {
        match self {
            Ended::Precision => "the passing and failing rates are within --precision",
            Ended::Max => "--max-rate passed: the limit is at least that",
            Ended::Floor => "no rate passed, down to 0.01 req/s",
            Ended::Budget => "--budget reached before --precision",
            Ended::Steps => "--max-steps reached before --precision",
            Ended::Interrupted => "interrupted",
            Ended::Error => "a step failed",
        }
    }
}

/// What the search found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    /// The highest passing rate (requests/s), if any passed.
    pub limit: Option<f64>,
    /// The lowest failing rate above it, if any failed.
    pub failed_at: Option<f64>,
    /// Why it stopped.
    pub ended_by: Ended,
    /// Every step in order.
    pub steps: Vec<Step>,
    /// Why a step could not run, with [`Ended::Error`].
    pub error: Option<String>,
}

/// A step's run failed (not an objective: the step could not be measured).
pub type StepError = String;

/// Runs the search: `run(rate)` sends one step and returns its figures, `stopped()` says an
/// interrupt came, `seen(step)` is told each verdict (progress). A step that fails to run ends
/// the search with [`Ended::Error`] and the steps so far.
pub fn search(
    s: &Settings,
    slo: &Slo,
    mut run: impl FnMut(f64) -> Result<Figures, StepError>,
    stopped: impl Fn() -> bool,
    mut seen: impl FnMut(&Step),
) -> Outcome {
    let mut error = None;
    let began = Instant::now();
    let (mut lo, mut hi): (Option<f64>, Option<f64>) = (None, None);
    let mut steps: Vec<Step> = Vec::new();
    let mut rate = s.start.min(s.max);
    let ended = loop {
        if stopped() {
            break Ended::Interrupted;
        }
        if steps.len() as u32 >= s.max_steps {
            break Ended::Steps;
        }
        let per_step = s.step + s.readback_wait + if steps.is_empty() { Duration::ZERO } else { s.cooldown };
        if s.budget.is_some_and(|b| began.elapsed() + per_step > b) {
            break Ended::Budget;
        }
        if !steps.is_empty() && !pause(s.cooldown, &stopped) {
            break Ended::Interrupted;
        }
        let at_s = began.elapsed().as_secs_f64();
        let figures = match run(rate) {
            Ok(f) => f,
            Err(e) => {
                error = Some(e);
                break Ended::Error;
            }
        };
        if stopped() {
            break Ended::Interrupted;
        }
        let broken = slo.broken(&figures);
        let step = Step { rate, figures, success: figures.success(), pass: broken.is_empty(), broken, at_s };
        seen(&step);
        if step.pass {
            lo = Some(lo.map_or(rate, |l| l.max(rate)));
        } else {
            hi = Some(hi.map_or(rate, |h| h.min(rate)));
        }
        steps.push(step);
        match next_rate(s, lo, hi) {
            Next::Try(r) => rate = r,
            Next::Done(e) => break e,
        }
    };
    Outcome { limit: lo, failed_at: hi, ended_by: ended, steps, error }
}

/// Sleeps `d` in short naps, false as soon as `stopped()` says so (Ctrl-C during a cooldown).
fn pause(d: Duration, stopped: &impl Fn() -> bool) -> bool {
    let end = Instant::now() + d;
    while let Some(left) = end.checked_duration_since(Instant::now()).filter(|l| !l.is_zero()) {
        if stopped() {
            return false;
        }
        std::thread::sleep(left.min(Duration::from_millis(50)));
    }
    !stopped()
}

enum Next {
    Try(f64),
    Done(Ended),
}

/// The next rate from the highest pass and lowest failure so far.
fn next_rate(s: &Settings, lo: Option<f64>, hi: Option<f64>) -> Next {
    match (lo, hi) {
        // Everything passed so far: step up, or stop at the ceiling.
        (Some(l), None) if l >= s.max => Next::Done(Ended::Max),
        (Some(l), None) => Next::Try((l * s.factor).min(s.max)),
        // Nothing passed yet: step down.
        (None, Some(h)) if h / s.factor < FLOOR => Next::Done(Ended::Floor),
        (None, Some(h)) => Next::Try(h / s.factor),
        (Some(l), Some(h)) if (h - l) / l <= s.precision => Next::Done(Ended::Precision),
        (Some(l), Some(h)) => Next::Try((l + h) / 2.0),
        (None, None) => Next::Try(s.start),
    }
}

#[cfg(test)]
mod tests;
