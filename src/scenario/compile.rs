//! Validation: a parsed [`Scenario`] becomes a [`Compiled`] one, or an error naming the step.
//!
//! Every field is checked on its own here — required and misplaced fields, strings (length, no
//! control characters, tool-name characters), probabilities, and each distribution against its
//! field's limit on the largest value it can draw. [`super::bound`] then bounds the trace as a
//! whole before anything is generated.

use super::dist::{Dist, amount};
use super::limits::*;
use super::{Agent, CAgent, Compiled, Kind, Node, Op, Scenario, ScenarioError, Service, Step};

/// What a distribution measures: its limit and unit in messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quantity {
    /// Milliseconds of a step's `duration_ms`.
    Duration,
    /// Characters of a prompt.
    Chars,
    /// Characters of a tool result or a document: any draw is cut to `max_content_bytes`, so
    /// only the trace bound applies.
    CutChars,
    /// Tokens of a model call.
    Tokens,
    /// `repeat`.
    Repeat,
    /// `documents`.
    Documents,
}

impl Quantity {
    /// (largest allowed draw, how the limit reads).
    fn limit(self) -> (f64, &'static str) {
        match self {
            Quantity::Duration => (MAX_STEP_MS, "ms (24 h)"),
            Quantity::Chars => (MAX_PROMPT_CHARS, "characters (16 MiB)"),
            Quantity::CutChars => (f64::INFINITY, "characters"),
            Quantity::Tokens => (MAX_TOKENS, "tokens"),
            Quantity::Repeat => (MAX_REPEAT, "repetitions"),
            Quantity::Documents => (MAX_DOCUMENTS, "documents"),
        }
    }
}

/// Checks a scenario and resolves it for synthesis.
pub fn compile(s: &Scenario, origin: &str) -> Result<Compiled, ScenarioError> {
    let mut c = Compiler { origin, scenario: &s.name, services: Vec::new() };
    let ident = |v: &str| !v.is_empty() && v.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-');
    if !ident(&s.name) || s.name.len() > MAX_NAME_BYTES {
        return Err(c.err(format!("name must be 1 to {MAX_NAME_BYTES} ASCII letters, digits, '_' or '-'")));
    }
    if let Some(short) = &s.short
        && (!ident(short) || short.len() > MAX_NAME_BYTES)
    {
        return Err(
            c.err(format!("short = {short:?}: must be 1 to {MAX_NAME_BYTES} ASCII letters, digits, '_' or '-'"))
        );
    }
    c.text("description", &s.description, MAX_DESCRIPTION_BYTES)?;
    c.probability("scenario", "error_rate", s.error_rate)?;
    if !CONTENT_BYTES.contains(&s.max_content_bytes) {
        return Err(c.err(format!(
            "max_content_bytes = {}: must be between {} and {}",
            s.max_content_bytes,
            CONTENT_BYTES.start(),
            CONTENT_BYTES.end()
        )));
    }
    if s.steps.is_empty() {
        return Err(c.err("steps is empty: a scenario needs at least one step".into()));
    }
    c.service("service", &s.service)?;
    let agent = c.agent("agent", &s.agent)?;
    let steps = c.steps("steps", &s.steps, &agent, 0)?;
    let mut compiled =
        Compiled { source: s.clone(), min_failable: 0, services: c.services, agent, steps, bounds: Default::default() };
    compiled.bounds = super::bound::check(&compiled).map_err(|m| invalid(origin, &s.name, m))?;
    compiled.min_failable = min_failable(&compiled.steps);
    Ok(compiled)
}

fn invalid(origin: &str, scenario: &str, message: String) -> ScenarioError {
    ScenarioError::Invalid { origin: origin.to_string(), scenario: scenario.to_string(), message }
}

/// Splits `"POST /api/chat"` into method and route.
pub fn parse_entry(entry: &str) -> Option<(&str, &str)> {
    let (m, r) = entry.trim().split_once(' ')?;
    let r = r.trim();
    (!m.is_empty() && r.starts_with('/')).then_some((m, r))
}

/// Failable leaves that every trace runs at least: steps with probability 1, counted at their
/// minimum repetitions; for a parallel group, all branches run.
fn min_failable(nodes: &[Node]) -> u32 {
    nodes
        .iter()
        .filter(|n| n.probability >= 1.0)
        .map(|n| {
            let reps = n.repeat.min().round() as u32;
            let inner = match &n.op {
                Op::Agent { steps, .. } | Op::Parallel(steps) | Op::Sequence(steps) => min_failable(steps),
                _ => u32::from(n.failable()),
            };
            reps.saturating_mul(inner)
        })
        .fold(0u32, u32::saturating_add)
}

/// A stable short id for an agent name (`asst_` + 24 base-62 characters of its hash).
fn agent_id(name: &str) -> String {
    let mut h = xxhash_rust::xxh3::xxh3_128(name.as_bytes());
    let mut s = String::from("asst_");
    for _ in 0..24 {
        s.push(super::ALNUM[(h % 62) as usize] as char);
        h /= 62;
    }
    s
}

struct Compiler<'a> {
    origin: &'a str,
    scenario: &'a str,
    services: Vec<Service>,
}

impl Compiler<'_> {
    fn err(&self, message: String) -> ScenarioError {
        invalid(self.origin, self.scenario, message)
    }

    /// A distribution of `quantity`: valid, and no draw above the quantity's limit.
    fn dist(&self, at: &str, field: &str, d: &Dist, quantity: Quantity) -> Result<Dist, ScenarioError> {
        d.check().map_err(|m| self.err(format!("{at}.{field} = {d}: {m}")))?;
        let (limit, unit) = quantity.limit();
        let top = if matches!(quantity, Quantity::Repeat | Quantity::Documents) { d.count_max() } else { d.max() };
        if top > limit {
            let why = match d {
                Dist::LogNormal { .. } => format!(" (a log-normal draws up to median × e^({Z_MAX} × sigma))"),
                _ => String::new(),
            };
            return Err(self.err(format!(
                "{at}.{field} = {d}: draws up to {}{why}; the limit is {} {unit}",
                amount(top),
                amount(limit)
            )));
        }
        Ok(*d)
    }

    fn probability(&self, at: &str, field: &str, p: f64) -> Result<f64, ScenarioError> {
        if (0.0..=1.0).contains(&p) {
            Ok(p)
        } else {
            Err(self.err(format!("{at}.{field} = {p}: must be between 0 and 1")))
        }
    }

    /// A string copied into spans: at most `max` bytes, no control characters.
    fn text(&self, at: &str, v: &str, max: usize) -> Result<(), ScenarioError> {
        if v.len() > max {
            return Err(self.err(format!("{at} is {} bytes long: at most {max}", v.len())));
        }
        if let Some(ch) = v.chars().find(|c| c.is_control()) {
            return Err(self.err(format!("{at} holds the control character {:?}: not allowed", ch)));
        }
        Ok(())
    }

    /// A name-like string: non-empty, at most [`MAX_NAME_BYTES`].
    fn name(&self, at: &str, v: &str) -> Result<(), ScenarioError> {
        if v.trim().is_empty() {
            return Err(self.err(format!("{at} is empty")));
        }
        self.text(at, v, MAX_NAME_BYTES)
    }

    /// A tool name: `[A-Za-z0-9_-]{1,64}`, as model APIs take, since it is written into JSON.
    fn tool_name(&self, at: &str, v: &str) -> Result<(), ScenarioError> {
        let ok = (1..=MAX_TOOL_NAME_BYTES).contains(&v.len())
            && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if ok {
            Ok(())
        } else {
            Err(self.err(format!(
                "{at} = {v:?}: a tool name is 1 to {MAX_TOOL_NAME_BYTES} ASCII letters, digits, '_' or '-'"
            )))
        }
    }

    fn agent(&self, at: &str, a: &Agent) -> Result<CAgent, ScenarioError> {
        self.name(&format!("{at}.name"), &a.name)?;
        self.name(&format!("{at}.model"), &a.model)?;
        self.name(&format!("{at}.provider"), &a.provider)?;
        self.text(&format!("{at}.description"), &a.description, MAX_DESCRIPTION_BYTES)?;
        Ok(CAgent {
            name: a.name.clone(),
            description: a.description.clone(),
            id: agent_id(&a.name),
            model: a.model.clone(),
            provider: a.provider.clone(),
            span_name: format!("invoke_agent {}", a.name),
            system_prompt_chars: self.dist(at, "system_prompt_chars", &a.system_prompt_chars, Quantity::Chars)?,
            user_prompt_chars: self.dist(at, "user_prompt_chars", &a.user_prompt_chars, Quantity::Chars)?,
        })
    }

    fn service(&mut self, at: &str, s: &Service) -> Result<u16, ScenarioError> {
        self.name(&format!("{at}.name"), &s.name)?;
        for (field, v) in [
            ("version", &s.version),
            ("environment", &s.environment),
            ("language", &s.language),
            ("scope", &s.scope),
            ("scope_version", &s.scope_version),
        ] {
            self.text(&format!("{at}.{field}"), v, MAX_NAME_BYTES)?;
        }
        if let Some(e) = &s.entry {
            self.text(&format!("{at}.entry"), e, MAX_NAME_BYTES)?;
            parse_entry(e).ok_or_else(|| self.err(format!("{at}.entry = {e:?}: expected \"METHOD /route\"")))?;
        }
        if let Some(i) = self.services.iter().position(|x| x.name == s.name) {
            if &self.services[i] != s {
                return Err(self.err(format!("{at}: service '{}' is defined twice with different settings", s.name)));
            }
            return Ok(i as u16);
        }
        if self.services.len() == MAX_SERVICES {
            return Err(self.err(format!("{at}: more than {MAX_SERVICES} services")));
        }
        self.services.push(s.clone());
        Ok((self.services.len() - 1) as u16)
    }

    fn steps(&mut self, at: &str, steps: &[Step], agent: &CAgent, depth: usize) -> Result<Vec<Node>, ScenarioError> {
        if depth > MAX_DEPTH {
            return Err(self.err(format!("{at}: steps nest deeper than {MAX_DEPTH} levels")));
        }
        steps.iter().enumerate().map(|(i, s)| self.step(&format!("{at}[{i}]"), s, agent, depth)).collect()
    }

    /// The fields present on `s` that a step of its kind does not take.
    fn misplaced(&self, at: &str, s: &Step) -> Result<(), ScenarioError> {
        let kind = s.kind;
        let allowed: &[&str] = match kind {
            Kind::Llm => &["model", "output_tokens", "context_tokens", "tool_calls"],
            Kind::Tool => &["tool", "description", "result_chars", "context_share"],
            Kind::Retrieval => &["data_source", "documents", "doc_chars", "context_share"],
            Kind::Embeddings => &["model", "dimensions", "input_tokens"],
            Kind::Agent => &["agent", "service", "steps"],
            Kind::Parallel | Kind::Sequence => &["steps"],
        };
        let present = [
            ("model", s.model.is_some()),
            ("output_tokens", s.output_tokens.is_some()),
            ("context_tokens", s.context_tokens.is_some()),
            ("tool_calls", s.tool_calls.is_some()),
            ("tool", s.tool.is_some()),
            ("description", s.description.is_some()),
            ("result_chars", s.result_chars.is_some()),
            ("context_share", s.context_share.is_some()),
            ("data_source", s.data_source.is_some()),
            ("documents", s.documents.is_some()),
            ("doc_chars", s.doc_chars.is_some()),
            ("dimensions", s.dimensions.is_some()),
            ("input_tokens", s.input_tokens.is_some()),
            ("agent", s.agent.is_some()),
            ("service", s.service.is_some()),
            ("steps", s.steps.is_some()),
        ];
        match present.iter().find(|(field, is)| *is && !allowed.contains(field)) {
            Some((field, _)) => Err(self.err(format!(
                "{at}: `{field}` does not apply to a step of kind = \"{}\" (it takes: {})",
                kind.as_str(),
                allowed.join(", ")
            ))),
            None => Ok(()),
        }
    }

    /// `duration_ms`: bounded, and for a step that is one span of its own, never 0.
    fn duration(&self, at: &str, s: &Step) -> Result<Dist, ScenarioError> {
        let Some(d) = &s.duration_ms else { return Ok(Dist::Const(0.0)) };
        let d = self.dist(at, "duration_ms", d, Quantity::Duration)?;
        let leaf = matches!(s.kind, Kind::Llm | Kind::Tool | Kind::Retrieval | Kind::Embeddings);
        if leaf && !matches!(d, Dist::LogNormal { .. }) && d.min() <= 0.0 {
            return Err(self.err(format!(
                "{at}.duration_ms = {d}: a step's span lasts a positive time; every value must be > 0 (0.001 is 1 µs)"
            )));
        }
        Ok(d)
    }

    /// Errs unless `present`: a step of its kind needs `field`.
    fn need(&self, at: &str, s: &Step, present: bool, field: &str) -> Result<(), ScenarioError> {
        if present { Ok(()) } else { Err(self.err(format!("{at}: kind = \"{}\" needs `{field}`", s.kind.as_str()))) }
    }

    fn step(&mut self, at: &str, s: &Step, agent: &CAgent, depth: usize) -> Result<Node, ScenarioError> {
        self.misplaced(at, s)?;
        let repeat = self.dist(at, "repeat", s.repeat.as_ref().unwrap_or(&Dist::Const(1.0)), Quantity::Repeat)?;
        let duration_ms = self.duration(at, s)?;
        let probability = self.probability(at, "probability", s.probability.unwrap_or(1.0))?;
        let error_rate = self.probability(at, "error_rate", s.error_rate.unwrap_or(0.0))?;
        let op = match s.kind {
            Kind::Llm => self.llm(at, s, agent)?,
            Kind::Tool | Kind::Retrieval | Kind::Embeddings => self.leaf(at, s, agent)?,
            Kind::Agent => {
                self.need(at, s, s.agent.is_some(), "agent")?;
                self.need(at, s, s.steps.is_some(), "steps")?;
                let sub = self.agent(&format!("{at}.agent"), s.agent.as_ref().unwrap())?;
                let service = match &s.service {
                    Some(svc) => Some(self.service(&format!("{at}.service"), svc)?),
                    None => None,
                };
                let steps = self.steps(&format!("{at}.steps"), s.steps.as_ref().unwrap(), &sub, depth + 1)?;
                Op::Agent { agent: sub, service, steps }
            }
            Kind::Parallel | Kind::Sequence => {
                self.need(at, s, s.steps.as_ref().is_some_and(|v| !v.is_empty()), "steps")?;
                let steps = self.steps(&format!("{at}.steps"), s.steps.as_ref().unwrap(), agent, depth + 1)?;
                if s.kind == Kind::Parallel { Op::Parallel(steps) } else { Op::Sequence(steps) }
            }
        };
        Ok(Node { op, duration_ms, probability, repeat, error_rate })
    }

    fn llm(&self, at: &str, s: &Step, agent: &CAgent) -> Result<Op, ScenarioError> {
        self.need(at, s, s.output_tokens.is_some(), "output_tokens")?;
        if let Some(m) = &s.model {
            self.name(&format!("{at}.model"), m)?;
        }
        let tool_calls = s.tool_calls.clone().unwrap_or_default();
        if tool_calls.len() > MAX_TOOL_CALLS {
            let n = tool_calls.len();
            return Err(self.err(format!("{at}.tool_calls names {n} tools: at most {MAX_TOOL_CALLS} per answer")));
        }
        for (i, t) in tool_calls.iter().enumerate() {
            self.tool_name(&format!("{at}.tool_calls[{i}]"), t)?;
        }
        let model = s.model.clone().unwrap_or_else(|| agent.model.clone());
        let context_tokens = s.context_tokens.unwrap_or(Dist::Const(0.0));
        Ok(Op::Llm {
            span_name: format!("chat {model}"),
            model,
            provider: agent.provider.clone(),
            output_tokens: self.dist(at, "output_tokens", s.output_tokens.as_ref().unwrap(), Quantity::Tokens)?,
            context_tokens: self.dist(at, "context_tokens", &context_tokens, Quantity::Tokens)?,
            tool_calls,
        })
    }

    /// A tool, retrieval or embeddings step.
    fn leaf(&self, at: &str, s: &Step, agent: &CAgent) -> Result<Op, ScenarioError> {
        let context_share = self.probability(at, "context_share", s.context_share.unwrap_or(1.0))?;
        let need = |present: bool, field: &str| self.need(at, s, present, field);
        Ok(match s.kind {
            Kind::Tool => {
                need(s.tool.is_some(), "tool")?;
                need(s.result_chars.is_some(), "result_chars")?;
                let tool = s.tool.clone().unwrap();
                self.tool_name(&format!("{at}.tool"), &tool)?;
                let description = s.description.clone().unwrap_or_default();
                self.text(&format!("{at}.description"), &description, MAX_DESCRIPTION_BYTES)?;
                Op::Tool {
                    span_name: format!("execute_tool {tool}"),
                    tool,
                    description,
                    result_chars: self.dist(
                        at,
                        "result_chars",
                        s.result_chars.as_ref().unwrap(),
                        Quantity::CutChars,
                    )?,
                    context_share,
                }
            }
            Kind::Retrieval => {
                need(s.data_source.is_some(), "data_source")?;
                need(s.documents.is_some(), "documents")?;
                need(s.doc_chars.is_some(), "doc_chars")?;
                let data_source = s.data_source.clone().unwrap();
                self.name(&format!("{at}.data_source"), &data_source)?;
                Op::Retrieval {
                    span_name: format!("retrieval {data_source}"),
                    data_source,
                    documents: self.dist(at, "documents", s.documents.as_ref().unwrap(), Quantity::Documents)?,
                    doc_chars: self.dist(at, "doc_chars", s.doc_chars.as_ref().unwrap(), Quantity::CutChars)?,
                    context_share,
                }
            }
            _ => {
                need(s.model.is_some(), "model")?;
                need(s.input_tokens.is_some(), "input_tokens")?;
                let model = s.model.clone().unwrap();
                self.name(&format!("{at}.model"), &model)?;
                let dimensions = s.dimensions.unwrap_or(1536);
                if !DIMENSIONS.contains(&dimensions) {
                    let (lo, hi) = (DIMENSIONS.start(), DIMENSIONS.end());
                    return Err(self.err(format!("{at}.dimensions = {dimensions}: must be between {lo} and {hi}")));
                }
                Op::Embeddings {
                    span_name: format!("embeddings {model}"),
                    model,
                    provider: agent.provider.clone(),
                    dimensions,
                    input_tokens: self.dist(at, "input_tokens", s.input_tokens.as_ref().unwrap(), Quantity::Tokens)?,
                }
            }
        })
    }
}
