//! Every committed input of every fuzz target — the seeds in `fuzz/corpus/<target>/` and the
//! inputs that once crashed, in `fuzz/regressions/<target>/` — run through the target's body on
//! stable Rust, so a fixed crash stays fixed without nightly or libFuzzer:
//! `cargo test --manifest-path fuzz/Cargo.toml`.
//!
//! Each input runs in a child process (this test binary again, running [`one_input`]), so an
//! input that aborts — a failed allocation, a stack overflow — fails with its file named
//! instead of taking the whole test run down without saying which input did it.

use std::path::Path;
use std::process::Command;

/// Names the input [`one_input`] runs in a child: `target=path`.
const INPUT_VAR: &str = "TRACEBLAST_FUZZ_INPUT";

#[test]
fn every_committed_input_passes_its_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let me = std::env::current_exe().expect("the test binary's path");
    let mut failures = Vec::new();
    let mut ran = 0;
    for (name, _) in traceblast_fuzz::TARGETS {
        let mut inputs = 0;
        for dir in ["corpus", "regressions"] {
            let Ok(entries) = std::fs::read_dir(root.join(dir).join(name)) else { continue };
            for entry in entries {
                let path = entry.expect("directory entry").path();
                let out = Command::new(&me)
                    .args(["one_input", "--exact", "--nocapture", "--test-threads", "1"])
                    .env(INPUT_VAR, format!("{name}={}", path.display()))
                    .output()
                    .expect("the test binary runs again");
                if !out.status.success() {
                    let stderr = String::from_utf8_lossy(&out.stderr);
                    let why = stderr
                        .lines()
                        .find(|l| {
                            l.contains("panicked at") || l.contains("memory allocation") || l.contains("overflow")
                        })
                        .map_or_else(|| out.status.to_string(), |l| l.trim().to_string());
                    let detail = stderr.lines().skip_while(|l| !l.contains("panicked at")).nth(1).unwrap_or("");
                    failures.push(format!("{}: {why} {detail}", path.display()));
                }
                inputs += 1;
            }
        }
        assert!(inputs > 0, "fuzz target {name} has no committed input");
        ran += inputs;
    }
    assert!(failures.is_empty(), "{} of {ran} inputs fail:\n{}", failures.len(), failures.join("\n"));
}

/// Runs the one input named by [`INPUT_VAR`] (nothing without it: it is the child's half of
/// the test above).
#[test]
fn one_input() {
    let Ok(spec) = std::env::var(INPUT_VAR) else { return };
    let (name, path) = spec.split_once('=').expect("target=path");
    let (_, body) = traceblast_fuzz::TARGETS.into_iter().find(|(n, _)| *n == name).expect("a known target");
    body(&std::fs::read(path).expect("input readable"));
}
