//! Every limit a scenario file is held to, in one place.
//!
//! A scenario is data a user hands to `gen`; nothing in it may make one trace take unbounded
//! memory or time. Each field has a bound on its own, and [`super::bound`] then bounds the trace
//! as a whole: its spans, its bytes, the steps it runs and how long it lasts, both for the
//! expected trace and for the largest one the sampler can produce. The README's "Your own
//! scenarios" section states these numbers; keep the two in step.

/// Largest scenario file read, in bytes. The largest built-in is about 9 KB.
pub const MAX_FILE_BYTES: u64 = 1 << 20;

/// Spans in one trace, at the most. The built-ins' largest has about 80.
pub const MAX_SPANS: f64 = 100_000.0;

/// Bytes of one trace at the most (256 MB): its OTLP encoding, and also the text synthesis
/// writes for it (what a worker holds in memory). The built-ins' largest averages about 500 KB.
pub const MAX_TRACE_BYTES: f64 = 256e6;

/// Steps started in one trace at the most, counting `sequence` and `parallel` groups and steps
/// that a `probability` then skips: nested repeats of steps that make no span are still work.
pub const MAX_STEP_RUNS: f64 = 1_000_000.0;

/// Longest trace, in milliseconds (7 days). Span times are nanoseconds in 64 bits and every
/// trace ends at a fixed epoch, so a bound keeps every sum of durations from overflowing: every
/// span ends after it starts, and no start falls before 1970.
pub const MAX_TRACE_MS: f64 = 7.0 * 86_400_000.0;

/// Largest `duration_ms` draw of one step (24 h).
pub const MAX_STEP_MS: f64 = 86_400_000.0;

/// Deepest nesting of `steps` under the scenario's own (an agent, sequence or parallel step
/// opens a level).
pub const MAX_DEPTH: usize = 8;

/// Largest `repeat` draw.
pub const MAX_REPEAT: f64 = 1000.0;

/// Largest `documents` draw of a retrieval.
pub const MAX_DOCUMENTS: f64 = 1000.0;

/// Largest draw of a prompt's size in characters (`system_prompt_chars`, `user_prompt_chars`).
/// `result_chars` and `doc_chars` need no limit of their own: synthesis cuts every draw to
/// `max_content_bytes` (a document to its share of half of it).
pub const MAX_PROMPT_CHARS: f64 = (16u64 << 20) as f64;

/// Largest draw of a token count (`output_tokens`, `context_tokens`, `input_tokens`).
pub const MAX_TOKENS: f64 = 10_000_000.0;

/// Range of `max_content_bytes`.
pub const CONTENT_BYTES: std::ops::RangeInclusive<usize> = 1024..=16 << 20;

/// Range of an embeddings step's `dimensions`.
pub const DIMENSIONS: std::ops::RangeInclusive<u32> = 1..=65_536;

/// Tools one model answer asks for at the most (`tool_calls`).
pub const MAX_TOOL_CALLS: usize = 64;

/// Services (OTel resources) in one scenario; every trace carries all of them.
pub const MAX_SERVICES: usize = 64;

/// Longest name-like string: names, models, providers, tools, data sources, service fields,
/// `entry`. These are copied into span names and attributes of many spans.
pub const MAX_NAME_BYTES: usize = 256;

/// Longest description (scenario, agent, tool).
pub const MAX_DESCRIPTION_BYTES: usize = 1024;

/// Longest tool name; tool names also need `[A-Za-z0-9_-]`, as model APIs require, because they
/// are written unescaped into the JSON of `gen_ai.output.messages`.
pub const MAX_TOOL_NAME_BYTES: usize = 64;

/// Largest |z| of a standard normal draw, which shapes every log-normal draw as
/// `median · e^(sigma · z)`. The sampler's Box–Muller transform takes `u1` in [2⁻⁵³, 1], so
/// |z| ≤ √(−2 ln 2⁻⁵³) ≈ 8.5717 by construction; the sampler also clamps to this value, so the
/// largest log-normal draw is `median · e^(8.572 · sigma)` (sigma 0.3: × 13; sigma 1: × 5 300).
pub const Z_MAX: f64 = 8.572;
