//! The scenario file format: the serde model behind `scenarios/*.toml`.
//!
//! A scenario describes one kind of user request handled by an agent: the services it crosses,
//! the agent's prompts, and a workflow of steps (LLM calls, tool calls, retrievals, embeddings,
//! delegation to another agent, parallel branches). Every number that varies is a [`Dist`], so
//! traces vary around the scenario's means instead of being copies. The built-in scenarios are
//! files of this same format, embedded in the binary (`traceblast scenarios show NAME`).

use serde::{Deserialize, Serialize};

use super::dist::Dist;

/// A service (one OTel resource) that spans belong to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// `service.name`.
    pub name: String,
    /// `service.version`.
    #[serde(default = "default_version")]
    pub version: String,
    /// `deployment.environment.name`.
    #[serde(default = "default_environment")]
    pub environment: String,
    /// `telemetry.sdk.language` (python, nodejs, go, java, …).
    #[serde(default = "default_language")]
    pub language: String,
    /// Instrumentation scope name of this service's spans.
    #[serde(default = "default_scope")]
    pub scope: String,
    /// Instrumentation scope version.
    #[serde(default = "default_scope_version")]
    pub scope_version: String,
    /// When set (`"POST /api/chat"`), requests enter the service through an HTTP server span
    /// with this method and route, parent of the agent span.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<String>,
}

/// An agent: the thing an `invoke_agent` span describes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Agent {
    /// `gen_ai.agent.name`.
    pub name: String,
    /// `gen_ai.agent.description`.
    #[serde(default)]
    pub description: String,
    /// Default model of this agent's LLM steps (`gen_ai.request.model`).
    pub model: String,
    /// `gen_ai.provider.name` of this agent's LLM steps.
    #[serde(default = "default_provider")]
    pub provider: String,
    /// Length in characters of the system instructions.
    pub system_prompt_chars: Dist,
    /// Length in characters of the request the agent receives.
    pub user_prompt_chars: Dist,
}

/// What a step does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A chat completion (`chat {model}`, CLIENT). Fields: `model`, `output_tokens`,
    /// `context_tokens`, `tool_calls`.
    Llm,
    /// A tool execution (`execute_tool {tool}`, INTERNAL). Fields: `tool`, `description`,
    /// `result_chars`.
    Tool,
    /// A retrieval (`retrieval {data_source}`, CLIENT). Fields: `data_source`, `documents`,
    /// `doc_chars`.
    Retrieval,
    /// An embeddings call (`embeddings {model}`, CLIENT). Fields: `model`, `dimensions`,
    /// `input_tokens`.
    Embeddings,
    /// Delegation to another agent with its own `steps` (`invoke_agent {agent}`). With
    /// `service`, the agent runs remotely: a CLIENT span here, then a server span and the
    /// agent's span in that service's resource.
    Agent,
    /// Child `steps` run concurrently; the step lasts as long as its slowest child.
    Parallel,
    /// Child `steps` run one after another (a branch of a `parallel`, a repeated group).
    Sequence,
}

impl Kind {
    /// The name used in scenario files.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Llm => "llm",
            Kind::Tool => "tool",
            Kind::Retrieval => "retrieval",
            Kind::Embeddings => "embeddings",
            Kind::Agent => "agent",
            Kind::Parallel => "parallel",
            Kind::Sequence => "sequence",
        }
    }
}

/// A workflow step as written in a scenario file. Which fields apply depends on `kind`;
/// [`super::compile`] rejects a missing required field or one that does not belong to the kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// What the step does.
    pub kind: Kind,
    /// Duration of the operation itself in milliseconds (for `agent`, `parallel` and
    /// `sequence`: overhead added around the children).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<Dist>,
    /// Probability that the step happens at all (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    /// How many times the step repeats (default 1; `{ min = 1, max = 3 }`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat: Option<Dist>,
    /// Extra probability that this step fails, on top of the scenario's `error_rate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_rate: Option<f64>,

    /// llm, embeddings: the model (llm: the agent's model when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// llm: tokens in the answer; an answer carries about four characters per token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<Dist>,
    /// llm: input tokens not carried as message content (tool definitions, cached context).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_tokens: Option<Dist>,
    /// llm: tools the model asks for in this answer (its finish reason is then `tool_call`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<String>>,

    /// tool: `gen_ai.tool.name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    /// tool: `gen_ai.tool.description`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// tool: characters of the tool's result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_chars: Option<Dist>,
    /// tool, retrieval: share (0–1) of the result the agent passes back to the model. At 1
    /// (the default) the whole result enters the conversation; below 1 the model gets a
    /// summary of that share of the characters, as agents that trim tool output do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_share: Option<f64>,

    /// retrieval: `gen_ai.data_source.id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_source: Option<String>,
    /// retrieval: number of documents returned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub documents: Option<Dist>,
    /// retrieval: characters per document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub doc_chars: Option<Dist>,

    /// embeddings: `gen_ai.embeddings.dimension.count` (default 1536).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<u32>,
    /// embeddings: input tokens embedded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<Dist>,

    /// agent: the delegated agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<Agent>,
    /// agent: the service the agent runs in; the caller's service when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<Service>,
    /// agent, parallel, sequence: child steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<Step>>,
}

/// A complete scenario file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Unique name, used in `--mix` and in `traceblast.scenario` on the root span.
    pub name: String,
    /// Optional short alias for `--mix` (`simple`, `search`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub short: Option<String>,
    /// One line on what the scenario models.
    #[serde(default)]
    pub description: String,
    /// Probability that a trace contains one failing step (status ERROR, `error.type`, an
    /// exception event).
    #[serde(default = "default_error_rate")]
    pub error_rate: f64,
    /// Largest content attribute carried, in bytes; longer histories are truncated by dropping
    /// the oldest messages, as instrumentations with attribute limits do.
    #[serde(default = "default_max_content")]
    pub max_content_bytes: usize,
    /// The service the request enters.
    pub service: Service,
    /// The agent that handles the request.
    pub agent: Agent,
    /// The agent's workflow.
    pub steps: Vec<Step>,
}

fn default_version() -> String {
    "1.0.0".into()
}
fn default_environment() -> String {
    "production".into()
}
fn default_language() -> String {
    "python".into()
}
fn default_scope() -> String {
    "traceblast.genai".into()
}
fn default_scope_version() -> String {
    "0.1.0".into()
}
fn default_provider() -> String {
    "openai".into()
}
fn default_error_rate() -> f64 {
    0.02
}
fn default_max_content() -> usize {
    48 * 1024
}
