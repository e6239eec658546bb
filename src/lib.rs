//! traceblast: scale-test OpenTelemetry ingestion with realistic, reproducible GenAI agent
//! traces.
//!
//! The work is split so that the cost of *making* traffic never pollutes the measurement of
//! *ingesting* it: `gen` renders traces once into a corpus file; `replay` sends that file at a
//! precise rate and measures; `sink` receives and counts, so delivery can be checked end to end.
//!
//! # Layout
//!
//! Data flows one way; no stage imports a later one.
//!
//! ```text
//! gen:     scenario ─► synth ─► encode ─► corpus::writer                       (generate.rs drives it)
//! replay:  corpus::reader ─► replay::prepare ─► replay::pacer ─► replay::sender ─► stats ─► report
//! sink:    server ─► conns/limits ─► body ─► decode ─► faults ─► state ─► summary (sink/server.rs drives it)
//! ```
//!
//! - [`cli`] — clap definitions only; [`config`] — arguments → validated plans.
//! - [`scenario`] — the scenario file format, built-in scenarios, validation, the mix.
//! - [`synth`] — deterministic span-tree synthesis, message text, GenAI attributes.
//! - [`encode`] — spans → OTLP protobuf records (request groups, splitting).
//! - [`corpus`] — the corpus file: index format, atomic writer, memory-mapped reader.
//! - [`generate`] — the parallel, ordered gen pipeline.
//! - [`replay`] — schedule, preparation pipeline, pacer thread, HTTP senders, retries.
//! - [`stats`] — outcome counters and HdrHistograms; [`report`] — the report model, its one
//!   builder (sums → figures, for a run and a merge), its renderers (text, JSON, HTML), and
//!   `report compare` / `report merge` on saved reports.
//! - [`platform`] — presets for Braintrust, LangSmith, Langfuse, Phoenix, Honeycomb, plain OTLP.
//! - [`otlp`] — the OTLP trace messages (opentelemetry-proto's) and our OTLP/JSON mapping.
//! - [`grpc`] — OTLP/gRPC pieces shared by sink and replay: raw-bytes codec, status mapping, retries.
//! - [`analyze`] — Collector drop analysis: its logs and `:8888/metrics` → a report.
//! - [`sink`] — OTLP/HTTP receiver: counts spans, traces and duplicate IDs; injects faults;
//!   emulates platforms' header and size checks.
//! - [`wire`] — zero-copy scan of encoded OTLP requests (replay patching, sink counting).
//! - [`input`] — the one opener of input files; [`output`] — the one atomic writer of outputs.
//! - [`cmd`] — command handlers that print results; [`units`], [`progress`] — helpers.

pub mod analyze;
pub mod cli;
pub mod cmd;
pub mod config;
pub mod corpus;
pub mod encode;
pub mod fetch;
pub mod generate;
pub mod grpc;
pub mod input;
pub mod limit;
pub mod logging;
pub mod otlp;
pub mod output;
pub mod platform;
pub mod progress;
pub mod replay;
pub mod report;
pub mod scenario;
pub mod sent;
pub mod sink;
pub mod stats;
pub mod synth;
pub mod timeline;
pub mod units;
pub mod verify;
pub mod wire;
