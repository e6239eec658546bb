//! Scenarios: the built-in ones, user files, validation and the traffic mix.
//!
//! A scenario file ([`model::Scenario`]) is what users write; [`compile`] checks it and turns
//! it into a [`Compiled`] scenario with resolved defaults and precomputed span names, which is
//! what synthesis runs. Validation errors name the scenario, the file and the step path
//! (`steps[2].steps[0]`), so a user knows which line to fix.

pub mod bound;
mod builtin;
mod compile;
mod dist;
pub mod limits;
mod mix;
pub mod model;
mod parse;

pub use bound::Bounds;
pub use builtin::{BUILTIN, builtin_sources};
pub use compile::{compile, parse_entry};
pub use dist::{Dist, FORMS};
pub use mix::{DEFAULT_MIX, Mix};
pub use model::{Agent, Kind, Scenario, Service, Step};
pub use parse::{load_file, parse};

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
    #[error("cannot read scenario file {path}: {cause}")]
    Io {
        /// The file.
        path: String,
        /// The operating system's message (part of this error's text, so printed once).
        cause: String,
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
    /// How large its traces are, expected and at the most.
    pub bounds: Bounds,
}

impl Compiled {
    /// The scenario's name.
    pub fn name(&self) -> &str {
        &self.source.name
    }
}

/// Base-62 alphabet used for generated identifiers.
pub const ALNUM: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

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
