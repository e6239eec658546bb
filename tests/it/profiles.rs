//! Load profiles: `--stages` (linear ramps between rates, the run ending with the last stage),
//! `--arrivals poisson` (seeded exponential gaps), rates in spans, traces or bytes a second,
//! and the per-stage figures in the report, against the in-process sink.

use std::path::Path;

use traceblast::corpus::Corpus;
use traceblast::sink::{self, SinkPlan};

use crate::replay::{corpus, replay};
use crate::util::*;

fn totals(corpus: &Path) -> (u64, u64, u64) {
    let c = Corpus::open(corpus).unwrap();
    let t = c.index.meta.totals;
    (t.records, t.spans, t.traces)
}

#[test]
fn stages_send_exactly_their_requests_and_report_each_stage() {
    let dir = tempfile::tempdir().unwrap();
    let c = corpus(dir.path(), "50", &[]);
    let s = sink::spawn(SinkPlan::default()).unwrap();
    let url = format!("http://{}/v1/traces", s.addr);
    // 0 -> 100/s over 2 s (100 requests), 100/s for 2 s (200), down to 0 over 1 s (50).
    let (o, r) = replay(dir.path(), &c, &url, &["--stages", "2s:100,2s:100,1s:0"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let sum = s.shutdown();
    assert_eq!(r["requests"]["scheduled"], 350, "{}", r["requests"]);
    assert_eq!(r["requests"]["ok"], 350);
    assert_eq!(sum.requests, 350, "the sink received every request the stages held");
    assert_eq!(r["run"]["ended_by"], "duration");
    assert_eq!(r["run"]["options"]["stages"], "2s:100,2s:100,1s:0");
    assert_eq!(r["rate"]["target"], 70.0, "the mean of the profile: 350 requests in 5 s");
    let st = r["stages"].as_array().unwrap();
    assert_eq!(st.len(), 3);
    let field = |k: &str| st.iter().map(|s| s[k].as_f64().unwrap()).collect::<Vec<_>>();
    assert_eq!(field("expected"), [100.0, 200.0, 50.0]);
    assert_eq!(field("start_s"), [0.0, 2.0, 4.0]);
    assert_eq!(field("to_rate"), [100.0, 100.0, 0.0]);
    // Seconds are given to stages by their middle: each stage's count is within a second's
    // worth of its plan, and together they hold every request.
    let due = field("scheduled");
    assert_eq!(due.iter().sum::<f64>(), 350.0, "{st:?}");
    for (got, want, most) in [(due[0], 100.0, 100.0), (due[1], 200.0, 100.0), (due[2], 50.0, 100.0)] {
        assert!((got - want).abs() <= most, "stage figures {st:?}");
    }
    // The text report has the stage table.
    let text = stdout(&o);
    assert!(text.contains("target req/s") && text.contains("0 → 100") && text.contains("100 → 0"), "{text}");
}

#[test]
fn poisson_arrivals_are_seeded_and_keep_the_rate() {
    let dir = tempfile::tempdir().unwrap();
    let c = corpus(dir.path(), "50", &[]);
    let s = sink::spawn(SinkPlan::default()).unwrap();
    let url = format!("http://{}/v1/traces", s.addr);
    let args = ["--rate", "200", "--duration", "2s", "--loops", "inf", "--arrivals", "poisson", "--seed", "5", "-q"];
    let (o, r) = replay(dir.path(), &c, &url, &args, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let first = r["requests"]["scheduled"].as_u64().unwrap();
    // 400 expected; the count in 2 s of a block of 4096 arrivals is binomial (sd ~19).
    assert!((320..=480).contains(&first), "{first}");
    assert_eq!(r["run"]["options"]["arrivals"], "poisson (seed 5)");
    assert_eq!(r["requests"]["ok"], first);
    // The same seed schedules the same requests.
    let (_, again) = replay(dir.path(), &c, &url, &args, &[]);
    assert_eq!(again["requests"]["scheduled"], first);
    assert_eq!(s.shutdown().requests, 2 * first);
}

#[test]
fn profile_errors_name_the_value() {
    let dir = tempfile::tempdir().unwrap();
    let c = corpus(dir.path(), "5", &[]);
    let c = c.to_str().unwrap();
    let o = run(&["replay", c, "--stages", "10s:100,1m:fast"]);
    assert_bad_input(&o, &["--stages", "stage 2 '1m:fast'"]);
    let o = run(&["replay", c, "--stages", "10s:100", "--rate", "5"]);
    assert_usage_error(&o, &["--stages", "--rate"]);
    let o = run(&["replay", c, "--arrivals", "bursty"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("invalid value 'bursty' for '--arrivals") && stderr(&o).contains("uniform, poisson"));
    let o = run(&["replay", c, "--rate", "max", "--arrivals", "poisson"]);
    assert_bad_input(&o, &["--arrivals poisson needs a numeric --rate or --stages"]);
    let o = std::process::Command::new(bin())
        .args(["replay", c, "--dry-run"])
        .env("TRACEBLAST_STAGES", "5s:10")
        .env("TRACEBLAST_RATE", "20")
        .output()
        .unwrap();
    assert_bad_input(&o, &["TRACEBLAST_STAGES replaces", "TRACEBLAST_RATE is set too"]);
    // A flag wins over the variable: --rate with TRACEBLAST_STAGES set runs at --rate.
    let o = std::process::Command::new(bin())
        .args(["replay", c, "--rate", "20", "--dry-run"])
        .env("TRACEBLAST_STAGES", "5s:10")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("20 req/s"), "{}", stdout(&o));
}

#[test]
fn a_rate_in_spans_a_second_becomes_requests_from_the_corpus_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let c = corpus(dir.path(), "40", &[]);
    let (records, spans, _) = totals(&c);
    let want = 400.0 / (spans as f64 / records as f64);
    let s = sink::spawn(SinkPlan::default()).unwrap();
    let url = format!("http://{}/v1/traces", s.addr);
    let report = dir.path().join("r.json");
    let o = run(&[
        "replay",
        c.to_str().unwrap(),
        "--endpoint",
        &url,
        "--rate",
        "400spans/s",
        "-q",
        "--report",
        report.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let target = r["rate"]["target"].as_f64().unwrap();
    assert!((target - want).abs() < 0.01, "target {target} req/s, want {want}");
    assert!(r["run"]["options"]["rate"].as_str().unwrap().ends_with("(400spans/s)"), "{}", r["run"]["options"]);
    // The plan says both; a rate that comes to less than 0.001 requests/s is named.
    let o = run(&["replay", c.to_str().unwrap(), "--endpoint", &url, "--rate", "400spans/s", "--dry-run"]);
    assert!(stdout(&o).contains("= --rate 400spans/s at this corpus's mean size"), "{}", stdout(&o));
    let o = run(&["replay", c.to_str().unwrap(), "--endpoint", &url, "--rate", "1B/s"]);
    assert_bad_input(&o, &["--rate 1B/s", "requests/s of this corpus"]);
}
