//! `traceblast gen`: determinism, prefix property, options, bad input.

use std::path::Path;

use crate::util::*;

fn gen_to(dir: &Path, name: &str, extra: &[&str]) -> Vec<u8> {
    let out = dir.join(name);
    let mut args = vec!["gen", "-q", "-o", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    let o = run(&args);
    assert!(o.status.success(), "gen failed: {}", stderr(&o));
    std::fs::read(out).unwrap()
}

fn decompress(bytes: &[u8]) -> Vec<u8> {
    // A standard zstd decoder reads the records and skips the index frame.
    zstd::stream::decode_all(bytes).unwrap()
}

#[test]
fn same_command_gives_identical_bytes_for_any_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let one = gen_to(dir.path(), "t1.zst", &["--count", "300", "--threads", "1"]);
    let two = gen_to(dir.path(), "t2.zst", &["--count", "300", "--threads", "2"]);
    let four = gen_to(dir.path(), "t4.zst", &["--count", "300", "--threads", "4"]);
    assert!(one.len() > 1_000_000);
    assert!(one == two && two == four, "files differ across --threads");
}

#[test]
fn smaller_count_is_a_byte_prefix_of_a_larger_one() {
    let dir = tempfile::tempdir().unwrap();
    let small = decompress(&gen_to(dir.path(), "a.zst", &["--count", "1000"]));
    let large = decompress(&gen_to(dir.path(), "b.zst", &["--count", "2000", "--threads", "1"]));
    assert!(small.len() > 100_000_000, "{} bytes", small.len());
    assert!(large.len() > small.len());
    assert!(large.starts_with(&small), "--count 1000 is not a prefix of --count 2000");
}

#[test]
fn seed_mix_and_level_change_the_output() {
    let dir = tempfile::tempdir().unwrap();
    let base = gen_to(dir.path(), "base.zst", &["--count", "50"]);
    let seed = gen_to(dir.path(), "seed.zst", &["--count", "50", "--seed", "7"]);
    let mix = gen_to(dir.path(), "mix.zst", &["--count", "50", "--mix", "simple=1"]);
    let level = gen_to(dir.path(), "level.zst", &["--count", "50", "--level", "9"]);
    assert_ne!(decompress(&base), decompress(&seed));
    assert_ne!(decompress(&base), decompress(&mix));
    assert_eq!(decompress(&base), decompress(&level), "the level changes only compression");
    assert_ne!(base, level);
}

#[test]
fn summary_reports_seed_and_totals() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("c.zst");
    let o = run(&["gen", "--count", "40", "--seed", "9", "-o", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = stdout(&o);
    for key in [
        "seed        9",
        "traces      40",
        "spans",
        "requests    40",
        "raw bytes",
        "file bytes",
        "ratio",
        "seconds",
        "raw MB/s",
    ] {
        assert!(s.contains(key), "summary lacks {key:?}:\n{s}");
    }
    assert!(stderr(&o).is_empty(), "no progress bar when stderr is not a terminal: {}", stderr(&o));
}

#[test]
fn user_scenario_file_is_generated_and_listed() {
    let dir = tempfile::tempdir().unwrap();
    let toml = dir.path().join("faq.toml");
    std::fs::write(
        &toml,
        r#"
name = "faq_bot"
short = "faq"
description = "Answers from an FAQ"
[service]
name = "faq-service"
[agent]
name = "faq_bot"
model = "gpt-4o-mini"
system_prompt_chars = 800
user_prompt_chars = 100
[[steps]]
kind = "retrieval"
data_source = "faq"
documents = { min = 1, max = 3 }
doc_chars = 500
duration_ms = 5.0
[[steps]]
kind = "llm"
output_tokens = 50
duration_ms = { median = 20.0, sigma = 0.2 }
"#,
    )
    .unwrap();
    let listed = run(&["scenarios", "--scenarios", toml.to_str().unwrap()]);
    assert!(stdout(&listed).contains("faq_bot"), "{}", stdout(&listed));
    let out = dir.path().join("faq.zst");
    let o = run(&["gen", "--count", "20", "--scenarios", toml.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let j = run(&["inspect", "--json", out.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_slice(&j.stdout).unwrap();
    assert_eq!(v["scenarios"]["faq_bot"]["traces"], 20);
    assert_eq!(v["scenarios"]["faq_bot"]["avg_spans"], 3.0, "agent, retrieval, chat");
    assert_eq!(v["meta"]["mix"], "faq_bot=1");
}

#[test]
fn scenarios_show_prints_toml_that_loads_back() {
    let dir = tempfile::tempdir().unwrap();
    let shown = run(&["scenarios", "show", "booking"]);
    assert!(shown.status.success());
    let text = stdout(&shown)
        .replace("name = \"delegated_booking\"", "name = \"my_booking\"")
        .replace("short = \"booking\"", "short = \"mine\"");
    let f = dir.path().join("mine.toml");
    std::fs::write(&f, text).unwrap();
    let out = dir.path().join("m.zst");
    let o = run(&[
        "gen",
        "--count",
        "5",
        "--scenarios",
        f.to_str().unwrap(),
        "--mix",
        "mine=1",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn split_and_batched_requests_respect_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s.zst");
    let o = run(&[
        "gen",
        "-q",
        "--count",
        "30",
        "--mix",
        "complex=1",
        "--max-request-bytes",
        "100KB",
        "--traces-per-request",
        "2",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value =
        serde_json::from_slice(&run(&["inspect", "--json", "--verify", out.to_str().unwrap()]).stdout).unwrap();
    assert_eq!(v["meta"]["totals"]["traces"], 30);
    let records = v["meta"]["totals"]["records"].as_u64().unwrap();
    assert!(records > 30 * 4, "500 KB traces in 100 KB requests: {records} records");
    let raw = v["meta"]["totals"]["raw_bytes"].as_u64().unwrap();
    assert!(raw / records <= 100_000);
}

#[test]
fn bad_input_is_one_line_exit_2_and_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("never.zst");
    let o_str = out.to_str().unwrap();
    let bad_toml = dir.path().join("bad.toml");
    std::fs::write(&bad_toml, "name = \"x\"\n[service\nname = 1\n").unwrap();
    let bad_dist = dir.path().join("dist.toml");
    let shown = run(&["scenarios", "show", "simple"]);
    let text = stdout(&shown).replace("name = \"simple_query\"", "name = \"mine\"").replace("short = \"simple\"", "");
    std::fs::write(&bad_dist, text.replacen("result_chars = {", "result_chars = { mean = 1, ", 1)).unwrap();
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (vec!["--count", "0"], vec!["--count", "'0'"]),
        (vec!["--count", "-5"], vec!["-5"]),
        (vec!["--count", "lots"], vec!["--count", "'lots'"]),
        (vec!["--mix", "simple=0.5,nope=0.5"], vec!["unknown scenario 'nope'"]),
        (vec!["--mix", "simple=0.4,search=0.3,booking=0.2"], vec!["--mix weights sum to 0.90, expected 1.0"]),
        (vec!["--scenarios", bad_toml.to_str().unwrap()], vec!["bad.toml", "line 2"]),
        (vec!["--scenarios", "/nonexistent/x.toml"], vec!["/nonexistent/x.toml"]),
        (
            vec!["--scenarios", bad_dist.to_str().unwrap()],
            vec![
                "dist.toml: line ",
                "steps[0].steps[1].result_chars: unknown key `mean`: expected a number, { median = M",
            ],
        ),
        (
            vec!["--scenarios", "fixtures/scenarios/nested_repeat.toml"],
            vec!["steps[0].steps[0]: up to 1,000,000 spans"],
        ),
        (
            vec!["--max-request-bytes", "2KB", "--mix", "search=1"],
            vec!["--max-request-bytes 2000 is smaller than span"],
        ),
        (vec!["--shard", "4/4"], vec!["--shard '4/4'"]),
        (vec!["--level", "40"], vec!["--level 40"]),
    ];
    for (extra, needles) in cases {
        let mut args = vec!["gen", "-q", "-o", o_str];
        if !extra.contains(&"--count") {
            args.extend(["--count", "10"]);
        }
        args.extend(extra.iter());
        let o = run(&args);
        assert_bad_input(&o, &needles);
        assert!(!out.exists(), "{extra:?} left {o_str}");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name())
            .filter(|n| n.to_string_lossy().contains("never"))
            .collect();
        assert!(leftovers.is_empty(), "{extra:?} left {leftovers:?}");
    }
}

#[test]
fn unwritable_output_is_named() {
    let o = run(&["gen", "-q", "--count", "5", "-o", "/nonexistent-dir/c.zst"]);
    assert_bad_input(&o, &["/nonexistent-dir/c.zst"]);
    let dir = tempfile::tempdir().unwrap();
    let o = run(&["gen", "-q", "--count", "5", "-o", dir.path().to_str().unwrap()]);
    assert_bad_input(&o, &["directory"]);
}

#[test]
fn shards_concatenate_to_the_full_corpus() {
    let dir = tempfile::tempdir().unwrap();
    let full = decompress(&gen_to(dir.path(), "full.zst", &["--count", "50"]));
    let mut joined = Vec::new();
    let mut traces = 0;
    let mut records = Vec::new();
    for k in 0..3 {
        let name = format!("s{k}.zst");
        joined.extend(decompress(&gen_to(dir.path(), &name, &["--count", "50", "--shard", &format!("{k}/3")])));
        let v: serde_json::Value =
            serde_json::from_slice(&run(&["inspect", "--json", dir.path().join(&name).to_str().unwrap()]).stdout)
                .unwrap();
        assert_eq!(v["meta"]["shard"], format!("{k}/3"));
        assert_eq!(v["meta"]["corpus_count"], 50);
        assert_eq!(v["meta"]["first_trace"], traces);
        traces += v["meta"]["count"].as_u64().unwrap();
        records.push(v["meta"]["totals"]["records"].as_u64().unwrap());
    }
    assert_eq!(traces, 50);
    assert!(joined == full, "the shards' records, in order, are the full corpus's records");
    // replay --shard accepts a file holding its own shard, and refuses another shard's file.
    let s1 = dir.path().join("s1.zst");
    let ok = run(&["replay", s1.to_str().unwrap(), "--shard", "1/3", "--dry-run"]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert!(stdout(&ok).contains(&format!("shard           1/3: records 0..{} ", records[1])), "{}", stdout(&ok));
    let bad = run(&["replay", s1.to_str().unwrap(), "--shard", "2/3", "--dry-run"]);
    assert_bad_input(&bad, &["s1.zst", "holds shard 1/3", "--shard is 2/3"]);
}

#[test]
fn an_interrupted_gen_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("big.zst");
    let child = std::process::Command::new(bin())
        .args(["gen", "-q", "--count", "2M", "-o", out.to_str().unwrap()])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the temporary file, then interrupt.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let tmp_exists =
        || std::fs::read_dir(dir.path()).unwrap().any(|e| e.unwrap().file_name().to_string_lossy().ends_with(".tmp"));
    while !tmp_exists() {
        assert!(std::time::Instant::now() < deadline, "gen did not start writing");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap().success());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130));
    assert!(stderr(&o).contains("the partial corpus is deleted"), "{}", stderr(&o));
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}
