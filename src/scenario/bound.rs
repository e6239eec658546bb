//! How large a scenario's traces are, known before any is generated.
//!
//! [`check`] computes two sizes of a compiled scenario's traces: the **largest** trace the
//! sampler can produce (every step runs, every count and size takes its largest draw — see
//! [`Dist::max`]) and the **expected** one (means and probabilities). A scenario is refused when
//! its largest trace exceeds a limit of [`super::limits`] — spans, bytes, steps run, duration —
//! and the error names the deepest step whose own share already exceeds it, so a user sees
//! which `repeat` or size to lower. The expected trace never exceeds the largest, so it is then
//! within the limits too.
//!
//! The bytes follow what `synth` writes: every text it appends to a trace's arena (prompts,
//! each model call's copy of the conversation — at most `max_content_bytes`, or the request and
//! the newest message when those alone are longer —, answers, results, documents, errors) plus
//! a fixed allowance per span and per resource for what the encoding adds (keys, ids, times,
//! the scenario's names). The constants below are that rendering model; synth's tests check
//! that its writers stay within them, and the integration tests that real traces stay within
//! the bound.

use super::dist::{Dist, amount};
use super::limits::*;
use super::{CAgent, Compiled, Node, Op};
use crate::units::human_bytes;

/// Gap between sequential steps (and between repetitions).
pub const GAP_MS: Dist = Dist::LogNormal { median: 0.15, sigma: 0.5 };
/// Network time of a remote call before the server side starts.
pub const NET_MS: Dist = Dist::LogNormal { median: 0.6, sigma: 0.4 };
/// Overhead of the root agent span around its steps when requests enter through an HTTP server
/// span (`entry`); a delegated agent's overhead is its step's `duration_ms`.
pub const AGENT_OVERHEAD_MS: Dist = Dist::LogNormal { median: 0.4, sigma: 0.4 };
/// Shortest time any draw of a duration gives (synth never makes a span shorter than 1 µs).
pub const MIN_MS: f64 = 0.001;

/// Longest sentence of synth's text bank, with its trailing space (112 bytes today).
pub const SENTENCE_MAX: f64 = 160.0;
/// Prose asked for `n > 0` characters ends at the first sentence end at or past `n`, with at
/// most one paragraph break (`\n\n`, 4 bytes escaped) more: at most `n + PROSE_SLACK` bytes.
pub const PROSE_SLACK: f64 = SENTENCE_MAX + 4.0;
/// JSON around one message or part (`{"role":"user","parts":[{"type":"text","content":""}]}`,
/// a tool response with its call id, an output message with its finish reason).
pub const WRAP: f64 = 128.0;
/// A tool result asked for `n` characters is at most this much longer: its last entry's id,
/// title and snippet (a snippet is at least 40 characters).
pub const TOOL_RESULT_SLACK: f64 = 2.0 * PROSE_SLACK + 256.0;
/// One retrieved document's JSON without its content (`{"id":…,"score":…,"content":""}`).
pub const DOC_OVERHEAD: f64 = 96.0;
/// One tool call in an answer, without the tool's name: its id and arguments (a phrase of
/// one sentence, a place, a limit) and their JSON.
pub const TOOL_CALL_BYTES: f64 = SENTENCE_MAX + 192.0;
/// Largest `gen_ai.tool.definitions` entry, besides the tool's name (its parameter schema).
pub const TOOL_DEFINITION_BYTES: f64 = 224.0;
/// Text of a failing step: error type, a stack trace of at most 7 frames, the message.
pub const ERROR_BYTES: f64 = 2048.0 + 2.0 * MAX_NAME_BYTES as f64;
/// Text of an answer an agent gives when no model call of its own answered in text.
pub const FALLBACK_ANSWER: f64 = 600.0;
/// Encoded bytes of one span besides its text: field tags, ids, times, status, attribute keys,
/// and the scenario's strings it carries (names and descriptions, bounded by the limits).
pub const SPAN_BYTES_MAX: f64 = (12 * MAX_NAME_BYTES + 2 * MAX_DESCRIPTION_BYTES + 2048) as f64;
/// Encoded bytes of one resource: its 8 attributes and instrumentation scope.
pub const RESOURCE_BYTES_MAX: f64 = (10 * MAX_NAME_BYTES + 512) as f64;
/// Typical encoded bytes of one span besides its text, for the expected size.
const SPAN_BYTES_TYPICAL: f64 = 600.0;
/// Typical encoded bytes of one resource, for the expected size.
const RESOURCE_BYTES_TYPICAL: f64 = 400.0;
/// Typical overshoot of prose past the characters asked for: half a sentence (they average 70
/// bytes).
const PROSE_TYPICAL: f64 = 35.0;
/// Typical JSON around one message, for the expected size.
const WRAP_TYPICAL: f64 = 60.0;

/// The expected and the largest value of a trace measure.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Estimate {
    /// Mean over traces (an estimate: means of products are taken as products of means).
    pub expected: f64,
    /// Largest value any draw can give.
    pub max: f64,
}

/// The size of one scenario's traces.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Bounds {
    /// Spans per trace.
    pub spans: Estimate,
    /// Bytes per trace: the largest bounds both the OTLP encoding of the whole trace and the
    /// text synthesis writes for it; the expected one estimates the encoding.
    pub bytes: Estimate,
    /// Steps started per trace, at the most.
    pub step_runs: f64,
    /// Duration of the trace in milliseconds, at the most.
    pub duration_ms: f64,
}

/// The largest share of a trace one step (or list of steps) accounts for, its spans' expected
/// count alongside.
#[derive(Debug, Clone, Copy, Default)]
struct Totals {
    spans: f64,
    spans_expected: f64,
    runs: f64,
    ms: f64,
    bytes: f64,
}

impl Totals {
    /// Both run in turn (the gap between them is the caller's).
    fn then(self, o: Totals) -> Totals {
        Totals {
            spans: self.spans + o.spans,
            spans_expected: self.spans_expected + o.spans_expected,
            runs: self.runs + o.runs,
            ms: self.ms + o.ms,
            bytes: self.bytes + o.bytes,
        }
    }
}

/// Bounds `sc`'s traces, or says which step makes them too large.
pub fn check(sc: &Compiled) -> Result<Bounds, String> {
    let m = Model::new(sc);
    let steps = m.list("steps", &sc.steps)?;
    let root = m.root_totals(steps);
    m.limit("the whole trace", &root)?;
    let bytes_expected = Walk::run(&m);
    Ok(Bounds {
        spans: Estimate { expected: root.spans_expected, max: root.spans },
        bytes: Estimate { expected: bytes_expected, max: root.bytes },
        step_runs: root.runs,
        duration_ms: root.ms,
    })
}

/// Sizes that hold for the whole scenario: the content cap and the largest prompt, request
/// message, message and answer of any agent or step.
struct Model<'a> {
    sc: &'a Compiled,
    cap: f64,
    system: f64,
    request: f64,
    message: f64,
    answer: f64,
}

/// Prose of `n` characters asked for (`content::text` asks for at least one).
fn text_max(n: f64) -> f64 {
    n.max(1.0) + PROSE_SLACK
}

fn each_node<'a>(nodes: &'a [Node], f: &mut impl FnMut(&'a Node)) {
    for n in nodes {
        f(n);
        if let Op::Agent { steps, .. } | Op::Parallel(steps) | Op::Sequence(steps) = &n.op {
            each_node(steps, f);
        }
    }
}

impl<'a> Model<'a> {
    fn new(sc: &'a Compiled) -> Self {
        let cap = sc.source.max_content_bytes as f64;
        let mut agents: Vec<&CAgent> = vec![&sc.agent];
        let mut answer = FALLBACK_ANSWER + PROSE_SLACK;
        each_node(&sc.steps, &mut |n| match &n.op {
            Op::Agent { agent, .. } => agents.push(agent),
            Op::Llm { output_tokens, .. } => answer = answer.max(Self::answer_text(cap, output_tokens)),
            _ => {}
        });
        let system = agents.iter().map(|a| text_max(a.system_prompt_chars.max())).fold(0.0, f64::max);
        let request = agents.iter().map(|a| text_max(a.user_prompt_chars.max()) + WRAP).fold(0.0, f64::max);
        let mut m = Model { sc, cap, system, request, message: 0.0, answer };
        // The largest message any step adds to a conversation (an agent's answer handed back
        // is one too).
        let mut message = request.max(answer + 2.0 * WRAP);
        each_node(&sc.steps, &mut |n| message = message.max(m.message_max(n)));
        m.message = message;
        m
    }

    /// Text of a plain answer: `output_tokens` × 4 characters, at most half the content cap.
    fn answer_text(cap: f64, output_tokens: &Dist) -> f64 {
        text_max((output_tokens.count_max().max(1.0) * 4.0).min((cap / 2.0).floor()))
    }

    /// The parts of an answer: its text, or its tool calls.
    fn parts_max(&self, output_tokens: &Dist, tool_calls: &[String]) -> f64 {
        if tool_calls.is_empty() {
            Self::answer_text(self.cap, output_tokens) + WRAP
        } else {
            tool_calls.iter().map(|t| TOOL_CALL_BYTES + t.len() as f64).sum()
        }
    }

    /// A tool's result text, cut to the content cap.
    fn result_max(&self, result_chars: &Dist) -> f64 {
        result_chars.max().min(self.cap) + TOOL_RESULT_SLACK
    }

    /// (documents, their content in all) of a retrieval: each document is cut to an equal
    /// share of half the content cap.
    fn documents_max(&self, documents: &Dist, doc_chars: &Dist) -> (f64, f64) {
        let n = documents.count_max();
        (n, (n * doc_chars.max()).min((self.cap / 2.0).floor()) + n * PROSE_SLACK)
    }

    /// The largest message step `n` adds to its agent's conversation.
    fn message_max(&self, n: &Node) -> f64 {
        match &n.op {
            Op::Llm { output_tokens, tool_calls, .. } => self.parts_max(output_tokens, tool_calls) + WRAP,
            Op::Tool { result_chars, .. } => self.result_max(result_chars) + PROSE_SLACK + WRAP,
            Op::Retrieval { documents, doc_chars, .. } => {
                let (n, content) = self.documents_max(documents, doc_chars);
                64.0 + 4.0 * n + content + WRAP
            }
            _ => 0.0,
        }
    }

    /// Text one run of `n` writes, besides what its child steps write.
    fn own_bytes(&self, n: &Node) -> f64 {
        match &n.op {
            Op::Llm { model, output_tokens, tool_calls, .. } => {
                // The conversation: all of it under the cap, else the request and the newest
                // message at least.
                let input = self.cap.max(self.request + self.message + 3.0) + 2.0;
                let answer = if tool_calls.is_empty() { Self::answer_text(self.cap, output_tokens) } else { 0.0 };
                let parts = self.parts_max(output_tokens, tool_calls);
                // System instructions, answer, its part, output messages, history entry, ids.
                input
                    + self.system
                    + WRAP
                    + answer
                    + 3.0 * parts
                    + 2.0 * WRAP
                    + 128.0
                    + model.len() as f64
                    + tool_calls.iter().map(|t| TOOL_DEFINITION_BYTES + t.len() as f64).sum::<f64>()
                    + ERROR_BYTES
            }
            Op::Tool { result_chars, .. } => {
                let r = self.result_max(result_chars);
                // Call id and arguments, the result, a summary of it, the message, an error.
                SENTENCE_MAX + 256.0 + r + 2.0 * (r + PROSE_SLACK) + WRAP + 2.0 * ERROR_BYTES
            }
            Op::Retrieval { documents, doc_chars, .. } => {
                let (n, content) = self.documents_max(documents, doc_chars);
                let json = 2.0 + n * DOC_OVERHEAD + content;
                let context = 64.0 + 4.0 * n + content;
                SENTENCE_MAX + json + 2.0 * context + WRAP + ERROR_BYTES
            }
            Op::Embeddings { .. } => ERROR_BYTES,
            Op::Agent { agent, service, .. } => {
                let http = service.map_or(0.0, |i| self.http_bytes(i));
                // Its conversation's prompts, a fallback answer, the answer handed back.
                text_max(agent.system_prompt_chars.max())
                    + self.request * 2.0
                    + FALLBACK_ANSWER
                    + PROSE_SLACK
                    + 2.0 * self.answer
                    + 3.0 * WRAP
                    + http
            }
            Op::Parallel(_) | Op::Sequence(_) => 0.0,
        }
    }

    /// Method, route, host and span name of a server span of service `i`.
    fn http_bytes(&self, i: u16) -> f64 {
        let svc = &self.sc.services[i as usize];
        let entry = svc.entry.as_deref().map_or(24, str::len);
        (2 * entry + svc.name.len() + 16) as f64
    }

    /// One step, repeated: its share of the trace, checked against the limits.
    fn node(&self, at: &str, n: &Node) -> Result<Totals, String> {
        if n.probability <= 0.0 {
            return Ok(Totals { runs: 1.0, ..Totals::default() });
        }
        let own_spans = match &n.op {
            Op::Agent { service: Some(_), .. } => 3.0,
            Op::Llm { .. } | Op::Tool { .. } | Op::Retrieval { .. } | Op::Embeddings { .. } | Op::Agent { .. } => 1.0,
            Op::Parallel(_) | Op::Sequence(_) => 0.0,
        };
        let over = n.duration_ms.max().max(MIN_MS);
        let inner = match &n.op {
            Op::Sequence(steps) => self.list(&format!("{at}.steps"), steps)?,
            Op::Parallel(steps) => {
                let mut t = Totals::default();
                for (i, s) in steps.iter().enumerate() {
                    let c = self.node(&format!("{at}.steps[{i}]"), s)?;
                    t = Totals { ms: t.ms.max(c.ms), ..t.then(Totals { ms: 0.0, ..c }) };
                }
                self.limit(&format!("{at}.steps"), &t)?;
                t
            }
            Op::Agent { steps, service, .. } => {
                let mut t = self.list(&format!("{at}.steps"), steps)?;
                if service.is_some() {
                    t.ms += 2.5 * NET_MS.max();
                }
                t
            }
            _ => Totals::default(),
        };
        let once = Totals {
            spans: inner.spans + own_spans,
            spans_expected: inner.spans_expected + own_spans,
            runs: inner.runs + 1.0,
            ms: inner.ms + over,
            bytes: inner.bytes + self.own_bytes(n) + own_spans * SPAN_BYTES_MAX,
        };
        let reps = n.repeat.count_max();
        let t = Totals {
            spans: reps * once.spans,
            spans_expected: n.probability * n.repeat.count_mean() * once.spans_expected,
            runs: 1.0 + reps * once.runs,
            ms: reps * once.ms + (reps - 1.0).max(0.0) * GAP_MS.max(),
            bytes: reps * once.bytes,
        };
        self.limit(at, &t)?;
        Ok(t)
    }

    /// Steps one after another (a sequence, an agent's steps, the scenario's).
    fn list(&self, at: &str, nodes: &[Node]) -> Result<Totals, String> {
        let mut t = Totals::default();
        for (i, n) in nodes.iter().enumerate() {
            t = t.then(self.node(&format!("{at}[{i}]"), n)?);
        }
        t.ms += (nodes.len().saturating_sub(1)) as f64 * GAP_MS.max();
        if nodes.len() > 1 {
            self.limit(at, &t)?;
        }
        Ok(t)
    }

    /// The whole trace: the scenario's steps inside the root agent span (and its HTTP server
    /// span), every service's resource.
    fn root_totals(&self, steps: Totals) -> Totals {
        let sc = self.sc;
        let entry = sc.services[0].entry.is_some();
        let spans = 1.0 + f64::from(u8::from(entry));
        let services = sc.services.len() as f64;
        let (over, http) =
            if entry { (AGENT_OVERHEAD_MS.max() + NET_MS.max(), self.http_bytes(0)) } else { (MIN_MS, 0.0) };
        // Conversation id, per service an instance id and host name, the root agent's
        // prompts and fallback answer.
        let text = 32.0 + 64.0 * services + self.system + 2.0 * self.request + FALLBACK_ANSWER + PROSE_SLACK + http;
        Totals {
            spans: steps.spans + spans,
            spans_expected: steps.spans_expected + spans,
            runs: steps.runs,
            ms: steps.ms + over,
            bytes: steps.bytes + text + spans * SPAN_BYTES_MAX + services * RESOURCE_BYTES_MAX,
        }
    }

    /// Refuses `t` when one of its measures exceeds its limit; `at` names the step.
    fn limit(&self, at: &str, t: &Totals) -> Result<(), String> {
        let why = if t.spans > MAX_SPANS {
            format!(
                "up to {} spans per trace (expected {}); the limit is {}",
                count(t.spans),
                count(t.spans_expected),
                amount(MAX_SPANS)
            )
        } else if t.runs > MAX_STEP_RUNS {
            format!(
                "starts up to {} steps per trace (groups and steps skipped by probability count); the limit is {}",
                count(t.runs),
                amount(MAX_STEP_RUNS)
            )
        } else if t.bytes > MAX_TRACE_BYTES {
            format!("up to {} per trace; the limit is {}", bytes(t.bytes), human_bytes(MAX_TRACE_BYTES as u64))
        } else if t.ms > MAX_TRACE_MS {
            format!("lasts up to {} per trace; the limit is {}", days(t.ms), days(MAX_TRACE_MS))
        } else {
            return Ok(());
        };
        Err(format!("{at}: {why}"))
    }
}

fn count(v: f64) -> String {
    amount(v.round())
}

fn bytes(v: f64) -> String {
    if v < 1e18 { human_bytes(v as u64) } else { format!("{} bytes", amount(v)) }
}

fn days(ms: f64) -> String {
    let h = ms / 3_600_000.0;
    if h < 48.0 { format!("{h:.1} h") } else { format!("{} days", amount((h / 24.0 * 10.0).round() / 10.0)) }
}

/// The expected encoded size: a walk through the workflow in synthesis order with means,
/// weighting each step by its probability and mean repetitions, so that each model call
/// copies the conversation as it stands then (up to the content cap). The walk visits at most
/// [`MAX_STEP_RUNS`] steps, which [`check`] has bounded before.
struct Walk<'m, 'a> {
    m: &'m Model<'a>,
    bytes: f64,
}

/// One agent's conversation: its system prompt and the size of its messages, as
/// `input_messages` counts them.
struct Conv {
    system: f64,
    total: f64,
}

fn text_mean(d: &Dist) -> f64 {
    d.mean().max(1.0) + PROSE_TYPICAL
}

impl Walk<'_, '_> {
    fn run(m: &Model<'_>) -> f64 {
        let sc = m.sc;
        let entry = sc.services[0].entry.is_some();
        let mut w = Walk { m, bytes: 0.0 };
        w.bytes += (1.0 + f64::from(u8::from(entry))) * SPAN_BYTES_TYPICAL;
        w.bytes += sc.services.len() as f64 * RESOURCE_BYTES_TYPICAL;
        let mut conv = Self::conv(&sc.agent);
        w.nodes(&sc.steps, &mut conv, 1.0);
        w.bytes
    }

    fn conv(a: &CAgent) -> Conv {
        Conv { system: text_mean(&a.system_prompt_chars), total: 3.0 + text_mean(&a.user_prompt_chars) + WRAP_TYPICAL }
    }

    fn nodes(&mut self, nodes: &[Node], conv: &mut Conv, w: f64) {
        for n in nodes {
            if n.probability <= 0.0 {
                continue;
            }
            let w = w * n.probability;
            let reps = n.repeat.count_mean();
            let mut i = 0.0;
            while i < reps {
                self.exec(n, conv, w * (reps - i).min(1.0));
                i += 1.0;
            }
        }
    }

    fn exec(&mut self, n: &Node, conv: &mut Conv, w: f64) {
        let cap = self.m.cap;
        let (bytes, message) = match &n.op {
            Op::Sequence(steps) | Op::Parallel(steps) => {
                self.nodes(steps, conv, w);
                return;
            }
            Op::Agent { agent, service, steps } => {
                let mut sub = Self::conv(agent);
                self.nodes(steps, &mut sub, w);
                let spans = if service.is_some() { 3.0 } else { 1.0 };
                let http = service.map_or(0.0, |i| self.m.http_bytes(i));
                (spans * SPAN_BYTES_TYPICAL + http, 400.0 + WRAP_TYPICAL)
            }
            Op::Llm { output_tokens, tool_calls, .. } => {
                let parts = if tool_calls.is_empty() {
                    (output_tokens.count_mean().max(1.0) * 4.0).min(cap / 2.0) + PROSE_TYPICAL + WRAP_TYPICAL
                } else {
                    tool_calls.iter().map(|t| 150.0 + t.len() as f64).sum()
                };
                let input = conv.total.min(cap);
                let defs: f64 = tool_calls.iter().map(|t| 200.0 + t.len() as f64).sum();
                (SPAN_BYTES_TYPICAL + conv.system + 30.0 + input + parts + defs + WRAP_TYPICAL, parts + WRAP_TYPICAL)
            }
            Op::Tool { result_chars, context_share, description, .. } => {
                let r = result_chars.mean().min(cap) + PROSE_TYPICAL;
                let bytes = SPAN_BYTES_TYPICAL + 100.0 + r + description.len() as f64;
                (bytes, r * context_share + WRAP_TYPICAL)
            }
            Op::Retrieval { documents, doc_chars, context_share, .. } => {
                let k = documents.count_mean();
                let content = (k * doc_chars.mean()).min(cap / 2.0) + k * PROSE_TYPICAL;
                (
                    SPAN_BYTES_TYPICAL + 60.0 + k * 70.0 + content,
                    38.0 + 4.0 * k + content * context_share + WRAP_TYPICAL,
                )
            }
            Op::Embeddings { .. } => (SPAN_BYTES_TYPICAL, 0.0),
        };
        self.bytes += w * bytes;
        if message > 0.0 {
            conv.total += w * (message + 1.0);
        }
    }
}
