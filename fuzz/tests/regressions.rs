//! Every committed input of every fuzz target — the seeds in `fuzz/corpus/<target>/` and the
//! inputs that once crashed, in `fuzz/regressions/<target>/` — run through the target's body on
//! stable Rust, so a fixed crash stays fixed without nightly or libFuzzer:
//! `cargo test --manifest-path fuzz/Cargo.toml`.

use std::path::Path;

#[test]
fn every_committed_input_passes_its_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut failures = Vec::new();
    let mut ran = 0;
    for (name, body) in traceblast_fuzz::TARGETS {
        let mut inputs = 0;
        for dir in ["corpus", "regressions"] {
            let Ok(entries) = std::fs::read_dir(root.join(dir).join(name)) else { continue };
            for entry in entries {
                let path = entry.expect("directory entry").path();
                let data = std::fs::read(&path).expect("input readable");
                if std::panic::catch_unwind(|| body(&data)).is_err() {
                    failures.push(path.display().to_string());
                }
                inputs += 1;
            }
        }
        assert!(inputs > 0, "fuzz target {name} has no committed input");
        ran += inputs;
    }
    assert!(failures.is_empty(), "{} of {ran} inputs fail: {failures:#?}", failures.len());
}
