//! Scenarios: the built-in ones, user files, validation and the traffic mix.
//!
//! A scenario file ([`model::Scenario`]) is what users write; [`compile`] checks it and turns
//! it into a [`Compiled`] scenario with resolved defaults and precomputed span names, which is
//! what synthesis runs. Validation errors name the scenario, the file and the step path
//! (`steps[2].steps[0]`), so a user knows which line to fix.

mod builtin;
mod mix;
pub mod model;

pub use builtin::{BUILTIN, builtin_sources};
pub use mix::{DEFAULT_MIX, Mix};
pub use model::{Agent, Dist, Kind, Scenario, Service, Step};

use std::path::Path;

/// An error in a scenario file or set.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The TOML did not parse or did not fit the format.
    #[error("{origin}: {message}")]
    Parse {
        /// File name or `built-in NAME`.
        origin: String,
        /// The parser's message, with line and column.
        message: String,
    },
    /// The file parsed but a value is not allowed.
    #[error("{origin}: scenario '{scenario}': {message}")]
    Invalid {
        /// File name or `built-in NAME`.
        origin: String,
        /// The scenario's name.
        scenario: String,
        /// What is wrong and where.
        message: String,
    },
    /// Reading the file failed.
    #[error("cannot read scenario file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// An agent with defaults resolved.
#[derive(Debug, Clone)]
pub struct CAgent {
    /// `gen_ai.agent.name`.
    pub name: String,
    /// `gen_ai.agent.description`.
    pub description: String,
    /// `gen_ai.agent.id`, derived from the name so it is stable across traces.
    pub id: String,
    /// Default model.
    pub model: String,
    /// `gen_ai.provider.name`.
    pub provider: String,
    /// `invoke_agent {name}`.
    pub span_name: String,
    /// System prompt length.
    pub system_prompt_chars: Dist,
    /// Request length.
    pub user_prompt_chars: Dist,
}

/// A compiled step operation.
#[derive(Debug, Clone)]
pub enum Op {
    /// Chat completion.
    Llm {
        /// `gen_ai.request.model`.
        model: String,
        /// `gen_ai.provider.name`.
        provider: String,
        /// `chat {model}`.
        span_name: String,
        /// Answer tokens.
        output_tokens: Dist,
        /// Input tokens not carried as content.
        context_tokens: Dist,
        /// Tools requested in the answer.
        tool_calls: Vec<String>,
    },
    /// Tool execution.
    Tool {
        /// `gen_ai.tool.name`.
        tool: String,
        /// `gen_ai.tool.description`.
        description: String,
        /// `execute_tool {tool}`.
        span_name: String,
        /// Result size.
        result_chars: Dist,
        /// Share of the result passed back to the model.
        context_share: f64,
    },
    /// Retrieval.
    Retrieval {
        /// `gen_ai.data_source.id`.
        data_source: String,
        /// `retrieval {data_source}`.
        span_name: String,
        /// Document count.
        documents: Dist,
        /// Document size.
        doc_chars: Dist,
        /// Share of the documents' text passed to the model.
        context_share: f64,
    },
    /// Embeddings.
    Embeddings {
        /// Model.
        model: String,
        /// Provider (the calling agent's).
        provider: String,
        /// `embeddings {model}`.
        span_name: String,
        /// Vector size.
        dimensions: u32,
        /// Tokens embedded.
        input_tokens: Dist,
    },
    /// Delegation to another agent, possibly in another service (index into `services`).
    Agent {
        /// The agent.
        agent: CAgent,
        /// Its service when remote.
        service: Option<u16>,
        /// Its workflow.
        steps: Vec<Node>,
    },
    /// Concurrent branches.
    Parallel(Vec<Node>),
    /// Sequential group.
    Sequence(Vec<Node>),
}

/// A compiled step.
#[derive(Debug, Clone)]
pub struct Node {
    /// What it does.
    pub op: Op,
    /// Duration (or overhead for containers), ms.
    pub duration_ms: Dist,
    /// Probability it runs.
    pub probability: f64,
    /// Repetitions.
    pub repeat: Dist,
    /// Extra failure probability.
    pub error_rate: f64,
}

impl Node {
    /// Whether this step can be the one that fails (LLM, tool, retrieval, embeddings).
    pub fn failable(&self) -> bool {
        matches!(self.op, Op::Llm { .. } | Op::Tool { .. } | Op::Retrieval { .. } | Op::Embeddings { .. })
    }
}

/// A validated scenario, ready for synthesis.
#[derive(Debug, Clone)]
pub struct Compiled {
    /// The scenario as written (for `scenarios show` and the set hash).
    pub source: Scenario,
    /// Services; index 0 is the entry service.
    pub services: Vec<Service>,
    /// The entry agent.
    pub agent: CAgent,
    /// The workflow.
    pub steps: Vec<Node>,
    /// Failable steps every trace runs at least (the trace-level error picks one of them).
    pub min_failable: u32,
}

impl Compiled {
    /// The scenario's name.
    pub fn name(&self) -> &str {
        &self.source.name
    }
}

/// Parses one scenario file's text.
pub fn parse(text: &str, origin: &str) -> Result<Scenario, ScenarioError> {
    toml::from_str::<Scenario>(text)
        .map_err(|e| ScenarioError::Parse { origin: origin.to_string(), message: one_line(&e.to_string()) })
}

/// Reads and parses a scenario file.
pub fn load_file(path: &Path) -> Result<Scenario, ScenarioError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| ScenarioError::Io { path: path.display().to_string(), source })?;
    parse(&text, &path.display().to_string())
}

/// toml's messages span several lines (a source excerpt with a caret); keep the first line,
/// which carries "line N, column M", plus the final explanation.
fn one_line(msg: &str) -> String {
    let lines: Vec<&str> = msg.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    match lines.as_slice() {
        [] => String::new(),
        [only] => only.to_string(),
        [first, .., last] => format!("{first} {last}"),
    }
}

/// A stable short id for an agent name (`asst_` + 24 base-62 characters of its hash).
fn agent_id(name: &str) -> String {
    let mut h = xxhash_rust::xxh3::xxh3_128(name.as_bytes());
    let mut s = String::from("asst_");
    for _ in 0..24 {
        s.push(ALNUM[(h % 62) as usize] as char);
        h /= 62;
    }
    s
}

/// Base-62 alphabet used for generated identifiers.
pub const ALNUM: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

struct Compiler<'a> {
    origin: &'a str,
    scenario: &'a str,
    services: Vec<Service>,
}

impl Compiler<'_> {
    fn err(&self, message: String) -> ScenarioError {
        ScenarioError::Invalid { origin: self.origin.to_string(), scenario: self.scenario.to_string(), message }
    }

    fn dist(&self, at: &str, field: &str, d: &Dist) -> Result<Dist, ScenarioError> {
        d.check().map_err(|m| self.err(format!("{at}.{field}: {m}")))?;
        Ok(*d)
    }

    fn probability(&self, at: &str, field: &str, p: f64) -> Result<f64, ScenarioError> {
        if (0.0..=1.0).contains(&p) {
            Ok(p)
        } else {
            Err(self.err(format!("{at}.{field} = {p}: must be between 0 and 1")))
        }
    }

    fn agent(&self, at: &str, a: &Agent) -> Result<CAgent, ScenarioError> {
        if a.name.trim().is_empty() {
            return Err(self.err(format!("{at}.name is empty")));
        }
        if a.model.trim().is_empty() {
            return Err(self.err(format!("{at}.model is empty")));
        }
        Ok(CAgent {
            name: a.name.clone(),
            description: a.description.clone(),
            id: agent_id(&a.name),
            model: a.model.clone(),
            provider: a.provider.clone(),
            span_name: format!("invoke_agent {}", a.name),
            system_prompt_chars: self.dist(at, "system_prompt_chars", &a.system_prompt_chars)?,
            user_prompt_chars: self.dist(at, "user_prompt_chars", &a.user_prompt_chars)?,
        })
    }

    fn service(&mut self, at: &str, s: &Service) -> Result<u16, ScenarioError> {
        if s.name.trim().is_empty() {
            return Err(self.err(format!("{at}.name is empty")));
        }
        if let Some(e) = &s.entry {
            parse_entry(e).ok_or_else(|| self.err(format!("{at}.entry = {e:?}: expected \"METHOD /route\"")))?;
        }
        if let Some(i) = self.services.iter().position(|x| x.name == s.name) {
            if &self.services[i] != s {
                return Err(self.err(format!("{at}: service '{}' is defined twice with different settings", s.name)));
            }
            return Ok(i as u16);
        }
        self.services.push(s.clone());
        Ok((self.services.len() - 1) as u16)
    }

    fn steps(&mut self, at: &str, steps: &[Step], agent: &CAgent, depth: usize) -> Result<Vec<Node>, ScenarioError> {
        if depth > 8 {
            return Err(self.err(format!("{at}: steps nest deeper than 8 levels")));
        }
        steps.iter().enumerate().map(|(i, s)| self.step(&format!("{at}[{i}]"), s, agent, depth)).collect()
    }

    fn step(&mut self, at: &str, s: &Step, agent: &CAgent, depth: usize) -> Result<Node, ScenarioError> {
        let kind = s.kind;
        // Which optional fields each kind accepts.
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
        for (field, is) in present {
            if is && !allowed.contains(&field) {
                return Err(self.err(format!(
                    "{at}: `{field}` does not apply to a step of kind = \"{}\" (it takes: {})",
                    kind.as_str(),
                    allowed.join(", ")
                )));
            }
        }
        let need = |v: bool, field: &str| -> Result<(), ScenarioError> {
            if v { Ok(()) } else { Err(self.err(format!("{at}: kind = \"{}\" needs `{field}`", kind.as_str()))) }
        };
        let repeat = self.dist(at, "repeat", s.repeat.as_ref().unwrap_or(&Dist::Const(1.0)))?;
        if repeat.mean() > 1000.0 {
            return Err(self.err(format!("{at}.repeat: more than 1000 repetitions")));
        }
        let duration_ms = self.dist(at, "duration_ms", s.duration_ms.as_ref().unwrap_or(&Dist::Const(0.0)))?;
        let probability = self.probability(at, "probability", s.probability.unwrap_or(1.0))?;
        let error_rate = self.probability(at, "error_rate", s.error_rate.unwrap_or(0.0))?;
        let context_share = self.probability(at, "context_share", s.context_share.unwrap_or(1.0))?;
        let op = match kind {
            Kind::Llm => {
                need(s.output_tokens.is_some(), "output_tokens")?;
                let model = s.model.clone().unwrap_or_else(|| agent.model.clone());
                Op::Llm {
                    span_name: format!("chat {model}"),
                    model,
                    provider: agent.provider.clone(),
                    output_tokens: self.dist(at, "output_tokens", s.output_tokens.as_ref().unwrap())?,
                    context_tokens: self.dist(
                        at,
                        "context_tokens",
                        s.context_tokens.as_ref().unwrap_or(&Dist::Const(0.0)),
                    )?,
                    tool_calls: s.tool_calls.clone().unwrap_or_default(),
                }
            }
            Kind::Tool => {
                need(s.tool.is_some(), "tool")?;
                need(s.result_chars.is_some(), "result_chars")?;
                let tool = s.tool.clone().unwrap();
                Op::Tool {
                    span_name: format!("execute_tool {tool}"),
                    tool,
                    description: s.description.clone().unwrap_or_default(),
                    result_chars: self.dist(at, "result_chars", s.result_chars.as_ref().unwrap())?,
                    context_share,
                }
            }
            Kind::Retrieval => {
                need(s.data_source.is_some(), "data_source")?;
                need(s.documents.is_some(), "documents")?;
                need(s.doc_chars.is_some(), "doc_chars")?;
                let data_source = s.data_source.clone().unwrap();
                Op::Retrieval {
                    span_name: format!("retrieval {data_source}"),
                    data_source,
                    documents: self.dist(at, "documents", s.documents.as_ref().unwrap())?,
                    doc_chars: self.dist(at, "doc_chars", s.doc_chars.as_ref().unwrap())?,
                    context_share,
                }
            }
            Kind::Embeddings => {
                need(s.model.is_some(), "model")?;
                need(s.input_tokens.is_some(), "input_tokens")?;
                let model = s.model.clone().unwrap();
                Op::Embeddings {
                    span_name: format!("embeddings {model}"),
                    model,
                    provider: agent.provider.clone(),
                    dimensions: s.dimensions.unwrap_or(1536),
                    input_tokens: self.dist(at, "input_tokens", s.input_tokens.as_ref().unwrap())?,
                }
            }
            Kind::Agent => {
                need(s.agent.is_some(), "agent")?;
                need(s.steps.is_some(), "steps")?;
                let sub = self.agent(&format!("{at}.agent"), s.agent.as_ref().unwrap())?;
                let service = match &s.service {
                    Some(svc) => Some(self.service(&format!("{at}.service"), svc)?),
                    None => None,
                };
                let steps = self.steps(&format!("{at}.steps"), s.steps.as_ref().unwrap(), &sub, depth + 1)?;
                Op::Agent { agent: sub, service, steps }
            }
            Kind::Parallel | Kind::Sequence => {
                need(s.steps.as_ref().is_some_and(|v| !v.is_empty()), "steps")?;
                let steps = self.steps(&format!("{at}.steps"), s.steps.as_ref().unwrap(), agent, depth + 1)?;
                if kind == Kind::Parallel { Op::Parallel(steps) } else { Op::Sequence(steps) }
            }
        };
        Ok(Node { op, duration_ms, probability, repeat, error_rate })
    }
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
            reps * inner
        })
        .sum()
}

/// Checks a scenario and resolves it for synthesis.
pub fn compile(s: &Scenario, origin: &str) -> Result<Compiled, ScenarioError> {
    let mut c = Compiler { origin, scenario: &s.name, services: Vec::new() };
    if s.name.is_empty() || !s.name.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-') {
        return Err(c.err("name must be non-empty ASCII letters, digits, '_' or '-'".into()));
    }
    c.probability("scenario", "error_rate", s.error_rate)?;
    if !(1024..=16 << 20).contains(&s.max_content_bytes) {
        return Err(c.err(format!("max_content_bytes = {}: must be between 1024 and 16777216", s.max_content_bytes)));
    }
    if s.steps.is_empty() {
        return Err(c.err("steps is empty: a scenario needs at least one step".into()));
    }
    c.service("service", &s.service)?;
    let agent = c.agent("agent", &s.agent)?;
    let steps = c.steps("steps", &s.steps, &agent, 0)?;
    Ok(Compiled { source: s.clone(), min_failable: min_failable(&steps), services: c.services, agent, steps })
}

/// The scenarios available to a run: the built-ins, then user files in the order given.
#[derive(Debug, Clone)]
pub struct ScenarioSet {
    /// All scenarios; the index is the scenario id stored in corpora.
    pub scenarios: Vec<Compiled>,
}

impl ScenarioSet {
    /// The built-in scenarios only.
    pub fn builtin() -> Self {
        let scenarios = builtin_sources()
            .iter()
            .map(|(name, text)| {
                let origin = format!("built-in {name}");
                let s = parse(text, &origin).expect("built-in scenarios parse");
                compile(&s, &origin).expect("built-in scenarios are valid")
            })
            .collect();
        ScenarioSet { scenarios }
    }

    /// The built-ins plus the scenarios in `files`.
    pub fn with_files(files: &[std::path::PathBuf]) -> Result<Self, ScenarioError> {
        let mut set = Self::builtin();
        for f in files {
            let origin = f.display().to_string();
            let s = load_file(f)?;
            let compiled = compile(&s, &origin)?;
            if let Some(clash) = set.scenarios.iter().find(|x| {
                x.name() == s.name
                    || x.source.short.as_deref() == Some(s.name.as_str())
                    || (s.short.is_some() && x.source.short == s.short)
            }) {
                return Err(ScenarioError::Invalid {
                    origin,
                    scenario: s.name.clone(),
                    message: format!("name or short name is already used by scenario '{}'", clash.name()),
                });
            }
            set.scenarios.push(compiled);
        }
        Ok(set)
    }

    /// Index of the scenario called `name` (full or short name).
    pub fn find(&self, name: &str) -> Option<usize> {
        self.scenarios.iter().position(|s| s.name() == name || s.source.short.as_deref() == Some(name))
    }

    /// The names, for error messages.
    pub fn names(&self) -> Vec<&str> {
        self.scenarios.iter().map(|s| s.name()).collect()
    }

    /// A hash of every scenario's definition, in order: corpora record it so two files can be
    /// told apart even when seeds and counts agree.
    pub fn hash(&self) -> u64 {
        let canon = serde_json::to_vec(&self.scenarios.iter().map(|s| &s.source).collect::<Vec<_>>())
            .expect("scenarios serialize");
        xxhash_rust::xxh3::xxh3_64(&canon)
    }
}

#[cfg(test)]
mod tests;
