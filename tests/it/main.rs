//! Integration tests: one binary, one module per command or capability, shared helpers in
//! `util`. Tests run the real `traceblast` binary where the user-facing behaviour (exit codes,
//! one-line errors, files left behind) is what is being checked.

mod analyze;
mod collector;
mod completions;
mod demo;
mod deploy;
mod fixtures;
mod generate;
mod html;
mod inspect;
mod png;
mod replay;
mod report;
mod scenario;
mod shards;
mod sink;
mod tls;
mod util;
