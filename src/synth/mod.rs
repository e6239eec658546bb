//! Deterministic synthesis of GenAI agent traces.
//!
//! [`Synth::trace`] fills a [`Trace`] for trace index *i*: it opens the trace's own random
//! stream, picks the scenario from the mix, and runs the scenario's workflow
//! ([`build`]) — an agent span, its model calls, tools, retrievals and delegated agents — with
//! OTel GenAI semantic-convention attributes and structured message content. Output depends
//! only on (seed, i, scenario set, mix, [`GENERATOR_VERSION`]). This module knows nothing of
//! protobuf or files.

mod build;
pub mod content;
pub mod lexicon;
pub mod rng;
pub mod semconv;
mod steps;
pub mod text;
pub mod trace;

pub use rng::TraceRng;
pub use semconv::Semconv;
pub use trace::{Attr, EPOCH_NS, Event, Resource, Span, SpanKind, Str, Trace, Val};

use crate::scenario::{Mix, ScenarioSet};

/// Version of the synthesis algorithm. Bump it whenever the bytes produced for a given seed
/// change (templates, word lists, attribute sets, sampling); fixtures are regenerated with it.
pub const GENERATOR_VERSION: u32 = 2;

/// Generates traces of one scenario set and mix.
pub struct Synth<'s> {
    set: &'s ScenarioSet,
    mix: &'s Mix,
    seed: u64,
    semconv: Semconv,
}

impl<'s> Synth<'s> {
    /// A generator for `seed`.
    pub fn new(set: &'s ScenarioSet, mix: &'s Mix, seed: u64) -> Self {
        // Build the sentence bank before any timing starts.
        text::bank();
        Synth { set, mix, seed, semconv: Semconv::default() }
    }

    /// The same generator following `semconv` (default: [`Semconv::V1_41`]).
    pub fn with_semconv(self, semconv: Semconv) -> Self {
        Synth { semconv, ..self }
    }

    /// Fills `out` with trace `index` (previous contents are cleared).
    pub fn trace(&self, index: u64, out: &mut Trace<'s>) {
        out.clear();
        out.semconv = self.semconv;
        let mut rng = TraceRng::for_trace(self.seed, index);
        let scenario = self.mix.choose(rng.unit());
        build::run(&self.set.scenarios[scenario], scenario as u16, self.seed, &mut rng, out);
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }
}

#[cfg(test)]
mod tests;
