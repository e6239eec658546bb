//! Helpers shared by the integration tests.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Path of the built `traceblast` binary.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_traceblast"))
}

/// Runs `traceblast args...` in `dir` and returns its output.
pub fn run_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(bin()).args(args).current_dir(dir).output().expect("traceblast runs")
}

/// Runs `traceblast args...` in the current directory.
pub fn run(args: &[&str]) -> Output {
    Command::new(bin()).args(args).output().expect("traceblast runs")
}

/// Runs `traceblast args...` with `input` on its stdin. The input is written whole before the
/// output is read, so it suits commands that read all of stdin before printing.
pub fn run_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(bin())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("traceblast runs");
    let mut stdin = child.stdin.take().expect("piped stdin");
    stdin.write_all(input).expect("stdin accepts the input");
    drop(stdin);
    child.wait_with_output().expect("traceblast finishes")
}

/// stdout as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts a usage error as clap prints it: exit 2, `error: …` naming every `needle`, the
/// usage line, no panic.
pub fn assert_usage_error(o: &Output, needles: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "expected exit 2, stderr: {err}");
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains("\nUsage: traceblast "), "clap's usage line: {err}");
    for n in needles {
        assert!(err.contains(n), "stderr {err:?} does not name {n:?}");
    }
    assert!(!err.contains("panicked"), "{err}");
}

/// Asserts exit code 2 with a one-line error on stderr containing every `needle`.
pub fn assert_bad_input(o: &Output, needles: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "expected exit 2, stderr: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "expected one line, got: {err}");
    assert!(err.starts_with("error: "), "{err}");
    for n in needles {
        assert!(err.contains(n), "stderr {err:?} does not name {n:?}");
    }
    assert!(!err.contains("panicked"), "{err}");
}

/// Every span of the corpus at `path`, decoded from its records in order (`zstd -d` skips the
/// index frame).
pub fn corpus_spans(path: &Path) -> Vec<traceblast::otlp::Span> {
    let data = zstd::decode_all(std::fs::File::open(path).unwrap()).unwrap();
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        let (len, n) = traceblast::corpus::reader::read_varint(&data[pos..]).unwrap();
        let req = traceblast::otlp::decode_request(&data[pos + n..pos + n + len as usize]).unwrap();
        pos += n + len as usize;
        out.extend(req.resource_spans.into_iter().flat_map(|r| r.scope_spans).flat_map(|s| s.spans));
    }
    out
}

/// A span's integer attribute `key`; -1 when absent or not an integer.
pub fn int_attr(s: &traceblast::otlp::Span, key: &str) -> i64 {
    use traceblast::otlp::any_value::Value;
    match s.attributes.iter().find(|kv| kv.key == key).and_then(|kv| kv.value.as_ref()) {
        Some(traceblast::otlp::AnyValue { value: Some(Value::IntValue(i)) }) => *i,
        _ => -1,
    }
}

/// A corpus in `dir` of seed 42's first 8 traces of an even mix, following `--semconv
/// semconv`: they hold all four scenarios and every GenAI operation.
pub fn genai_corpus(dir: &Path, semconv: &str) -> PathBuf {
    let c = dir.join(format!("{semconv}.zst"));
    let mix = "simple=0.25,search=0.25,booking=0.25,complex=0.25";
    let o = run(&["gen", "-q", "--count", "8", "--mix", mix, "--semconv", semconv, "-o", c.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    c
}
