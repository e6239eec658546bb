//! Integration tests: one binary, one module per command or capability, shared helpers in
//! `util`. Tests run the real `traceblast` binary where the user-facing behaviour (exit codes,
//! one-line errors, files left behind) is what is being checked.

mod analyze;
mod closed_loop;
mod collector;
mod completions;
mod demo;
mod deploy;
mod first_hour;
mod fixtures;
mod generate;
mod hostile_corpus;
mod html;
mod inspect;
mod limit;
mod mlflow_genai;
mod outputs;
mod phoenix_genai;
mod png;
mod profiles;
mod protocols;
mod readback;
mod real_servers;
mod replay;
mod report;
mod scenario;
mod semconv;
mod servers;
mod shards;
mod sink;
mod split_traces;
mod timeline;
mod tls;
mod util;
mod verify;
