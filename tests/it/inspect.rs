//! `traceblast inspect`: text and JSON output, `--verify`, `--dump`, and every kind of bad file.

use std::path::{Path, PathBuf};

use crate::util::*;

fn corpus(dir: &Path, count: &str) -> PathBuf {
    let out = dir.join("c.zst");
    let o = run(&["gen", "-q", "--count", count, "-o", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    out
}

#[test]
fn text_and_json_agree_with_the_corpus() {
    let dir = tempfile::tempdir().unwrap();
    let c = corpus(dir.path(), "120");
    let text = stdout(&run(&["inspect", c.to_str().unwrap()]));
    for key in ["seed 42", "traces 120", "simple_query", "multi_service_complex", "avg spans", "avg KB", "format 1"] {
        assert!(text.contains(key), "{key:?} missing:\n{text}");
    }
    let o = run(&["inspect", "--json", "--verify", c.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let m = &v["meta"];
    assert_eq!(m["seed"], 42);
    assert_eq!(m["count"], 120);
    assert_eq!(m["format_version"], 1);
    assert_eq!(m["scenarios"].as_array().unwrap().len(), 4);
    assert_eq!(m["epoch_ns"], 1_767_225_600_000_000_000u64);
    let per: u64 = v["scenarios"].as_object().unwrap().values().map(|s| s["traces"].as_u64().unwrap()).sum();
    assert_eq!(per, 120);
    assert_eq!(v["verified"]["records"], m["totals"]["records"]);
    assert_eq!(v["verified"]["spans"], m["totals"]["spans"]);
    assert_eq!(v["file_bytes"].as_u64().unwrap(), std::fs::metadata(&c).unwrap().len());
}

#[test]
fn dump_prints_otlp_json_with_hex_ids() {
    let dir = tempfile::tempdir().unwrap();
    let c = corpus(dir.path(), "10");
    let o = run(&["inspect", c.to_str().unwrap(), "--dump", "3"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let span = &v["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
    let tid = span["traceId"].as_str().unwrap();
    assert_eq!(tid.len(), 32);
    assert!(tid.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(span["spanId"].as_str().unwrap().len(), 16);
    assert!(span["startTimeUnixNano"].is_string(), "64-bit ints are strings in OTLP/JSON");
    let o = run(&["inspect", c.to_str().unwrap(), "--dump", "10"]);
    assert_bad_input(&o, &["--dump 10", "10 records"]);
}

fn assert_rejected(path: &Path, needles: &[&str]) {
    let o = run(&["inspect", path.to_str().unwrap()]);
    assert_bad_input(&o, needles);
}

#[test]
fn bad_files_get_one_line_naming_file_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let c = corpus(dir.path(), "30");
    let good = std::fs::read(&c).unwrap();
    let p = |name: &str| dir.path().join(name);

    std::fs::write(p("empty.zst"), b"").unwrap();
    assert_rejected(&p("empty.zst"), &["empty.zst", "empty file"]);

    std::fs::write(p("foreign.zst"), b"PK\x03\x04 this is a zip file").unwrap();
    assert_rejected(&p("foreign.zst"), &["foreign.zst", "not a traceblast corpus", "byte offset 0"]);

    let plain = zstd::bulk::compress(b"hello", 3).unwrap();
    std::fs::write(p("plain.zst"), plain).unwrap();
    assert_rejected(&p("plain.zst"), &["plain.zst", "no traceblast index"]);

    std::fs::write(p("truncated.zst"), &good[..good.len() / 2]).unwrap();
    assert_rejected(&p("truncated.zst"), &["truncated.zst", "truncated"]);

    // Flip a byte inside the index: its checksum catches it.
    let mut bad_index = good.clone();
    let n = bad_index.len();
    bad_index[n - 40] ^= 0xFF;
    std::fs::write(p("badindex.zst"), &bad_index).unwrap();
    assert_rejected(&p("badindex.zst"), &["badindex.zst", "checksum", "byte offset"]);

    // Flip a byte inside a frame: --verify catches it (zstd checksum or decode error).
    let mut bad_frame = good.clone();
    bad_frame[good.len() / 3] ^= 0x55;
    std::fs::write(p("badframe.zst"), &bad_frame).unwrap();
    let o = run(&["inspect", "--verify", p("badframe.zst").to_str().unwrap()]);
    assert_bad_input(&o, &["badframe.zst", "frame"]);

    // A future format version is refused, not misread.
    let mut future = good.clone();
    let payload_len = u32::from_le_bytes(good[n - 12..n - 8].try_into().unwrap()) as usize;
    let index_start = n - payload_len - 8 + 8;
    future[index_start + 4] = 9;
    std::fs::write(p("future.zst"), &future).unwrap();
    assert_rejected(&p("future.zst"), &["future.zst", "format version 9", "newer traceblast"]);

    assert_rejected(&p("missing.zst"), &["missing.zst"]);
}

#[test]
fn zstd_cli_reads_the_records() {
    let dir = tempfile::tempdir().unwrap();
    let c = corpus(dir.path(), "25");
    let o = std::process::Command::new("zstd")
        .args(["-d", "-c", c.to_str().unwrap()])
        .output()
        .expect("the zstd CLI is installed (scripts/test.sh installs it)");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value =
        serde_json::from_slice(&run(&["inspect", "--json", c.to_str().unwrap()]).stdout).unwrap();
    // The output is exactly the varint-delimited records the index describes.
    let (mut pos, mut records, mut raw) = (0usize, 0u64, 0u64);
    while pos < o.stdout.len() {
        let (len, n) = traceblast::corpus::reader::read_varint(&o.stdout[pos..]).unwrap();
        let body = &o.stdout[pos + n..pos + n + len as usize];
        traceblast::otlp::decode_request(body).unwrap();
        pos += n + len as usize;
        records += 1;
        raw += len;
    }
    assert_eq!(records, v["meta"]["totals"]["records"].as_u64().unwrap());
    assert_eq!(raw, v["meta"]["totals"]["raw_bytes"].as_u64().unwrap());
}

#[test]
fn traces_are_counted_per_scenario_when_requests_mix_scenarios() {
    let dir = tempfile::tempdir().unwrap();
    let c = dir.path().join("mixed.zst");
    let o = run(&["gen", "--count", "300", "--traces-per-request", "10", "-o", c.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    // gen's own summary: one row per scenario, none "mixed", summing to every trace.
    let summary = stdout(&o);
    assert!(summary.lines().all(|l| !l.trim_start().starts_with("mixed ")), "{summary}");
    assert!(summary.contains("simple_query") && summary.contains("multi_service_complex"), "{summary}");
    let v: serde_json::Value =
        serde_json::from_slice(&run(&["inspect", "--json", "--verify", c.to_str().unwrap()]).stdout).unwrap();
    let per = v["scenarios"].as_object().unwrap();
    assert_eq!(per.len(), 4, "{per:?}");
    assert!(!per.contains_key("mixed"));
    let traces: u64 = per.values().map(|s| s["traces"].as_u64().unwrap()).sum();
    let spans: u64 = per.values().map(|s| s["spans"].as_u64().unwrap()).sum();
    assert_eq!(traces, 300);
    assert_eq!(spans, v["meta"]["totals"]["spans"].as_u64().unwrap());
    // Every request of 10 traces mixes scenarios; each scenario appears in most of them.
    assert!(per.values().all(|s| s["records"].as_u64().unwrap() > 0));
    assert!(stdout(&run(&["inspect", c.to_str().unwrap()])).lines().all(|l| !l.trim_start().starts_with("mixed ")));
}
