//! `traceblast replay` end to end against the in-process sink on 127.0.0.1:0: exact counts,
//! headers, bodies (shifted times, fresh IDs), retries, stalls, signals, bad input.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use traceblast::corpus::Corpus;
use traceblast::otlp;
use traceblast::sink::{self, Faults, SinkPlan, Stall};

use crate::util::*;

/// A corpus of `count` traces (default mix) in `dir`.
pub fn corpus(dir: &Path, count: &str, extra: &[&str]) -> PathBuf {
    let out = dir.join(format!("c{count}.zst"));
    let mut args = vec!["gen", "-q", "--count", count, "-o", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    let o = run(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    out
}

/// Runs replay against `addr` with `args`; returns the output and the parsed JSON report.
pub fn replay(
    dir: &Path,
    corpus: &Path,
    endpoint: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> (Output, serde_json::Value) {
    let report = dir.join("run.json");
    let _ = std::fs::remove_file(&report);
    let mut cmd = Command::new(bin());
    cmd.args(["replay", corpus.to_str().unwrap(), "--endpoint", endpoint, "--report", report.to_str().unwrap()])
        .args(args)
        .current_dir(dir);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let o = cmd.output().unwrap();
    let r =
        std::fs::read_to_string(&report).map(|t| serde_json::from_str(&t).unwrap()).unwrap_or(serde_json::Value::Null);
    (o, r)
}

fn url(s: &sink::Running) -> String {
    format!("http://{}/v1/traces", s.addr)
}

fn totals(corpus: &Path) -> (u64, u64, u64) {
    let c = Corpus::open(corpus).unwrap();
    let t = c.index.meta.totals;
    (t.records, t.spans, t.traces)
}

fn spans_of(body: &[u8]) -> Vec<otlp::Span> {
    otlp::decode_request(body)
        .unwrap()
        .resource_spans
        .into_iter()
        .flat_map(|r| r.scope_spans)
        .flat_map(|s| s.spans)
        .collect()
}

fn assert_accounted(r: &serde_json::Value) {
    let q = &r["requests"];
    if r["interrupted"] == false {
        assert_eq!(q["cancelled"], 0, "nothing is left unfinished without an interrupt: {q}");
    }
    let (s, ok, failed, missed) = (
        q["scheduled"].as_u64().unwrap(),
        q["ok"].as_u64().unwrap(),
        q["failed"].as_u64().unwrap(),
        q["missed"].as_u64().unwrap(),
    );
    assert_eq!(s, ok + failed + missed, "scheduled == ok + failed + missed: {q}");
}

/// Paced and at `--rate max`, on one sending thread (a current-thread runtime driven beside the
/// pacer) and on two (a multi-thread runtime): every span arrives exactly once.
#[test]
fn one_pass_delivers_every_span_exactly_once_on_either_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let c = corpus(dir.path(), "60", &[]);
    let (records, spans, traces) = totals(&c);
    for (rate, threads) in [("300", "1"), ("300", "2"), ("max", "1"), ("max", "2")] {
        let what = format!("--rate {rate} --threads {threads}");
        let s = sink::spawn(SinkPlan::default()).unwrap();
        let (o, r) = replay(dir.path(), &c, &url(&s), &["--rate", rate, "--threads", threads, "-q"], &[]);
        assert!(o.status.success(), "{what}: {}", stderr(&o));
        let sum = s.shutdown();
        assert_accounted(&r);
        assert_eq!(r["requests"]["scheduled"], records, "{what}");
        assert_eq!(r["requests"]["ok"], records, "{what}");
        assert_eq!(r["status"]["200"], records, "{what}");
        assert_eq!(r["spans"]["ok"], spans, "{what}");
        assert_eq!(r["traces"]["ok"], traces, "{what}");
        assert_eq!(sum.requests, records, "{what}");
        assert_eq!(sum.spans, spans, "{what}");
        assert_eq!(sum.unique_spans, spans, "{what}");
        assert_eq!(sum.unique_traces, traces, "{what}");
        assert_eq!(sum.duplicate_span_ids, 0, "{what}");
        assert_eq!(
            r["bytes"]["raw"].as_u64().unwrap(),
            Corpus::open(&c).unwrap().index.meta.totals.raw_bytes,
            "{what}"
        );
        let scen: u64 = r["scenarios"].as_object().unwrap().values().map(|v| v["requests"].as_u64().unwrap()).sum();
        assert_eq!(scen, records, "{what}");
    }
}

/// The span IDs of each captured request, in arrival order.
fn captured_ids(s: &sink::Running) -> Vec<HashSet<Vec<u8>>> {
    s.captured().iter().map(|c| spans_of(&c.body).into_iter().map(|sp| sp.span_id).collect()).collect()
}

#[test]
fn bodies_carry_shifted_times_and_ids_fresh_in_every_pass_and_run() {
    let dir = tempfile::tempdir().unwrap();
    let c = corpus(dir.path(), "8", &[]);
    let corpus = Corpus::open(&c).unwrap();
    let n = corpus.records() as usize;
    let s = sink::spawn(SinkPlan { capture: 100, ..SinkPlan::default() }).unwrap();
    let before = std::time::SystemTime::now();
    // One connection: requests arrive in schedule order.
    let args = ["--rate", "100", "--loops", "2", "--connections", "1", "-q"];
    let (o, r) = replay(dir.path(), &c, &url(&s), &args, &[]);
    let after = std::time::SystemTime::now();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(r["requests"]["ok"], 2 * n as u64);
    let key = r["run"]["id_key"].as_str().expect("the report names the run's ID key").to_string();
    assert_eq!(key.len(), 16, "{key}");
    let got = s.captured();
    assert_eq!(got.len(), 2 * n);
    let ns = |t: std::time::SystemTime| t.duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    let ids = |v: &[otlp::Span]| v.iter().map(|s| s.span_id.clone()).collect::<HashSet<_>>();
    for (i, cap) in got.iter().enumerate() {
        assert_eq!(cap.content_type, "application/x-protobuf");
        let stored = traceblast_record(&corpus, (i % n) as u64);
        let (a, b) = (spans_of(&stored), spans_of(&cap.body));
        assert_eq!(a.len(), b.len());
        // Relative timing kept: every span moved by the same delta.
        let delta = b[0].start_time_unix_nano - a[0].start_time_unix_nano;
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(y.start_time_unix_nano - x.start_time_unix_nano, delta);
            assert_eq!(y.end_time_unix_nano - y.start_time_unix_nano, x.end_time_unix_nano - x.start_time_unix_nano);
            assert_eq!(y.attributes, x.attributes);
        }
        // The trace ends at its send time, which lies within the run.
        let end = b.iter().map(|s| s.end_time_unix_nano).max().unwrap();
        assert!(end >= ns(before) && end <= ns(after), "trace end {end} outside the run");
        // No pass sends the stored IDs (a second run into a platform would be dropped as seen).
        assert!(ids(&a).is_disjoint(&ids(&b)), "request {i} resends stored span IDs");
        if i >= n {
            assert!(ids(&spans_of(&got[i - n].body)).is_disjoint(&ids(&b)), "pass 2 resends pass 1's IDs");
        }
        let by_id: HashMap<Vec<u8>, &otlp::Span> = b.iter().map(|s| (s.span_id.clone(), s)).collect();
        for sp in &b {
            assert!(sp.parent_span_id.is_empty() || by_id.contains_key(&sp.parent_span_id), "parent resolves");
            assert_eq!(sp.trace_id, b[0].trace_id);
        }
    }
    let first = captured_ids(&s);
    assert_eq!(s.shutdown().duplicate_span_ids, 0);

    // --id-key reproduces the run's IDs exactly; a run without it gets new ones.
    for (extra, same) in [(vec!["--id-key", key.as_str()], true), (vec![], false)] {
        let s = sink::spawn(SinkPlan { capture: 100, ..SinkPlan::default() }).unwrap();
        let mut a = args.to_vec();
        a.extend(extra.iter().copied());
        let (o, r) = replay(dir.path(), &c, &url(&s), &a, &[]);
        assert!(o.status.success(), "{}", stderr(&o));
        let again = captured_ids(&s);
        assert_eq!(again.len(), first.len());
        for (x, y) in first.iter().zip(&again) {
            if same {
                assert_eq!(x, y, "--id-key {key} resends the same IDs");
            } else {
                assert!(x.is_disjoint(y), "a second run never resends an ID of the first");
            }
        }
        assert_eq!(r["run"]["id_key"].as_str() == Some(key.as_str()), same);
    }
    // --no-rewrite sends stored bytes and names no key.
    let s = sink::spawn(SinkPlan { capture: 100, ..SinkPlan::default() }).unwrap();
    let (o, r) = replay(dir.path(), &c, &url(&s), &["--rate", "100", "--connections", "1", "--no-rewrite", "-q"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(r["run"].get("id_key").is_none());
    for (i, cap) in s.captured().iter().enumerate() {
        assert_eq!(cap.body, traceblast_record(&corpus, i as u64));
    }
}

/// Record `i` of a corpus, as stored.
fn traceblast_record(c: &Corpus, i: u64) -> Vec<u8> {
    let frame = c.index.frames.partition_point(|f| f.first_record + f.records <= i);
    let mut dec = traceblast::corpus::FrameReader::new().unwrap();
    let mut data = Vec::new();
    c.decompress_frame(frame, &mut dec, &mut data).unwrap();
    let mut out = None;
    c.for_each_record(frame, &data, |r, _, b| {
        if r == i {
            out = Some(b.to_vec());
        }
        Ok(())
    })
    .unwrap();
    out.unwrap()
}

#[test]
fn headers_and_platform_auth_arrive_and_secrets_stay_out_of_output() {
    let dir = tempfile::tempdir().unwrap();
    let c = corpus(dir.path(), "5", &[]);
    let s =
        sink::spawn(SinkPlan { capture: 10, profile: Some(sink::Profile::Braintrust), ..SinkPlan::default() }).unwrap();
    let base = format!("http://{}", s.addr);
    let env = [
        ("BRAINTRUST_API_KEY", "sk-SECRET-123"),
        ("BRAINTRUST_PROJECT", "demo"),
        ("BRAINTRUST_API_URL", base.as_str()),
    ];
    let report = dir.path().join("run.json");
    let o = Command::new(bin())
        .args([
            "replay",
            c.to_str().unwrap(),
            "--platform",
            "braintrust",
            "--rate",
            "50",
            "-H",
            "x-extra: yes",
            "--report",
            report.to_str().unwrap(),
        ])
        .envs(env)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(r["requests"]["ok"], r["requests"]["scheduled"], "the braintrust profile accepted every request");
    for cap in s.captured() {
        let h: HashMap<&str, &str> = cap.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(h["authorization"], "Bearer sk-SECRET-123");
        assert_eq!(h["x-bt-parent"], "project_name:demo");
        assert_eq!(h["x-extra"], "yes");
        assert!(h["user-agent"].starts_with("traceblast/"));
    }
    let everything = format!("{}{}{}", stdout(&o), stderr(&o), std::fs::read_to_string(&report).unwrap());
    assert!(!everything.contains("sk-SECRET-123"), "the key leaked into output or the report");
    assert!(everything.contains("<redacted>"));
    let dry = Command::new(bin())
        .args(["replay", c.to_str().unwrap(), "--platform", "braintrust", "--dry-run"])
        .envs(env)
        .output()
        .unwrap();
    assert!(dry.status.success());
    assert!(!stdout(&dry).contains("sk-SECRET-123"));
    // Header values the user or a preset gave are hidden unless --show-headers, and a secret
    // one even then; routing headers (which project the spans go to) are shown.
    assert!(stdout(&dry).contains("x-bt-parent: project_name:demo"), "{}", stdout(&dry));
    let dry = Command::new(bin())
        .args(["replay", c.to_str().unwrap(), "--platform", "braintrust", "--dry-run", "-H", "x-extra: yes"])
        .envs(env)
        .output()
        .unwrap();
    assert!(stdout(&dry).contains("x-extra: <redacted>"), "{}", stdout(&dry));
    let shown = Command::new(bin())
        .args([
            "replay",
            c.to_str().unwrap(),
            "--platform",
            "braintrust",
            "--dry-run",
            "--show-headers",
            "-H",
            "x-extra: yes",
        ])
        .envs(env)
        .output()
        .unwrap();
    assert!(stdout(&shown).contains("x-extra: yes"), "{}", stdout(&shown));
    assert!(stdout(&shown).contains("authorization: <redacted>"), "{}", stdout(&shown));
}

#[test]
fn retries_honour_retry_after_and_every_request_ends_ok() {
    let dir = tempfile::tempdir().unwrap();
    let c = corpus(dir.path(), "40", &["--mix", "simple=1"]);
    let (records, spans, _) = totals(&c);
    let faults = Faults {
        fail: vec![(503, 0.3)],
        retry_after: Some(Duration::from_secs(1)),
        rate_limit: Some(20.0),
        ..Faults::default()
    };
    let s = sink::spawn(SinkPlan { faults, ..SinkPlan::default() }).unwrap();
    let (o, r) = replay(dir.path(), &c, &url(&s), &["--rate", "80", "--loops", "2", "--retries", "10", "-q"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let sum = s.shutdown();
    assert_accounted(&r);
    assert_eq!(r["requests"]["ok"], 2 * records, "{}", r["requests"]);
    assert!(r["requests"]["retries"].as_u64().unwrap() > 0);
    assert_eq!(r["status"].as_object().unwrap().keys().collect::<Vec<_>>(), vec!["200"], "final statuses only");
    // A request answered 503 waited the full Retry-After before its next attempt.
    assert!(r["latency_us"]["corrected"]["max"].as_u64().unwrap() >= 1_000_000);
    assert!(sum.requests_by_status.get(&503).copied().unwrap_or(0) > 0);
    assert!(sum.requests_by_status.get(&429).copied().unwrap_or(0) > 0, "the rate limit answered 429: {sum:?}");
    // Spans acknowledged by replay == unique spans the sink counted; pass 2 added no duplicates.
    assert_eq!(r["spans"]["ok"], 2 * spans);
    assert_eq!(sum.unique_spans, 2 * spans);
    assert_eq!(sum.duplicate_span_ids, 0);
}

#[test]
fn a_stalled_server_shows_missed_requests_and_coordinated_omission() {
    let dir = tempfile::tempdir().unwrap();
    let c = corpus(dir.path(), "50", &["--mix", "simple=1"]);
    let faults = Faults {
        stall: Some(Stall { duration: Duration::from_secs(2), after: Duration::from_millis(500) }),
        ..Faults::default()
    };
    let s = sink::spawn(SinkPlan { faults, ..SinkPlan::default() }).unwrap();
    let (o, r) = replay(
        dir.path(),
        &c,
        &url(&s),
        &["--rate", "100", "--duration", "4s", "--connections", "10", "--max-in-flight", "60", "-q"],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_accounted(&r);
    let missed = r["requests"]["missed"].as_u64().unwrap();
    assert!(missed > 50, "a 2 s stall at 100/s with 60 in flight misses requests: {missed}");
    let corr = r["latency_us"]["corrected"]["p90"].as_u64().unwrap();
    let unc = r["latency_us"]["uncorrected"]["p90"].as_u64().unwrap();
    assert!(corr > 500_000, "corrected p90 {corr} µs shows the stall");
    assert!(corr > 5 * unc, "corrected p90 {corr} µs far above uncorrected {unc} µs");
}

#[test]
fn sigint_stops_and_writes_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let c = corpus(dir.path(), "20", &["--mix", "simple=1"]);
    let s = sink::spawn(SinkPlan::default()).unwrap();
    let report = dir.path().join("run.json");
    let child = Command::new(bin())
        .args([
            "replay",
            c.to_str().unwrap(),
            "--endpoint",
            &url(&s),
            "--rate",
            "50",
            "--duration",
            "60s",
            "-q",
            "--report",
            report.to_str().unwrap(),
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    assert!(s.wait_until(Duration::from_secs(20), |x| x.requests >= 20), "traffic started");
    assert!(Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap().success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    assert!(stderr(&out).contains("interrupted: stopping"), "{}", stderr(&out));
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(r["interrupted"], true);
    assert_eq!(r["run"]["ended_by"], "interrupted");
    assert_accounted(&r);
    assert!(r["requests"]["ok"].as_u64().unwrap() >= 20);
    assert!(r["requests"]["scheduled"].as_u64().unwrap() < 3000, "stopped long before 60 s");
}

#[test]
fn an_interrupt_while_requests_finish_still_stops_within_the_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let c = corpus(dir.path(), "3", &["--mix", "simple=1"]);
    // Every answer is 503 with Retry-After 5 s: the schedule ends at once, the retries go on.
    let faults = Faults { fail: vec![(503, 1.0)], retry_after: Some(Duration::from_secs(5)), ..Faults::default() };
    let s = sink::spawn(SinkPlan { faults, ..SinkPlan::default() }).unwrap();
    let report = dir.path().join("run.json");
    let child = Command::new(bin())
        .args([
            "replay",
            c.to_str().unwrap(),
            "--endpoint",
            &url(&s),
            "--rate",
            "100",
            "--retries",
            "5",
            "--timeout",
            "1s",
            "-q",
        ])
        .args(["--report", report.to_str().unwrap()])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    assert!(s.wait_until(Duration::from_secs(20), |x| x.requests >= 3), "the first attempts arrived");
    let sent = std::time::Instant::now();
    assert!(Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap().success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    assert!(stderr(&out).contains("interrupted: stopping"), "{}", stderr(&out));
    assert!(
        sent.elapsed() < Duration::from_secs(4),
        "stopped within --timeout of the interrupt, not after the retries"
    );
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(r["interrupted"], true);
    assert_eq!(r["requests"]["cancelled"], 3);
    assert_eq!(r["errors"]["cancelled"], 3);
    assert_accounted(&r);
}

#[test]
fn batch_and_compression_keep_every_span() {
    let dir = tempfile::tempdir().unwrap();
    let c = corpus(dir.path(), "30", &[]);
    let (records, spans, _) = totals(&c);
    for extra in [vec!["--batch", "4"], vec!["--compression", "gzip"], vec!["--compression", "zstd", "--http2"]] {
        let s = sink::spawn(SinkPlan::default()).unwrap();
        let mut args = vec!["--rate", "200", "-q"];
        args.extend(extra.iter());
        let (o, r) = replay(dir.path(), &c, &url(&s), &args, &[]);
        assert!(o.status.success(), "{extra:?}: {}", stderr(&o));
        let sum = s.shutdown();
        let expect = if extra[0] == "--batch" { records.div_ceil(4) } else { records };
        assert_eq!(r["requests"]["ok"], expect, "{extra:?}");
        assert_eq!(sum.requests, expect, "{extra:?}");
        assert_eq!(sum.unique_spans, spans, "{extra:?}");
        assert_eq!(r["spans"]["ok"], spans, "{extra:?}");
        if extra[0] == "--compression" {
            assert!(
                r["bytes"]["sent"].as_u64().unwrap() * 2 < r["bytes"]["raw"].as_u64().unwrap(),
                "{extra:?} compresses"
            );
        }
    }
}

#[test]
fn bad_input_exits_2_before_any_traffic() {
    let dir = tempfile::tempdir().unwrap();
    let c = corpus(dir.path(), "5", &[]);
    let bad = dir.path().join("bad.zst");
    std::fs::write(&bad, b"not a corpus").unwrap();
    let s = sink::spawn(SinkPlan::default()).unwrap();
    let u = url(&s);
    let cs = c.to_str().unwrap();
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (vec![cs, "--endpoint", "ftp://x/v1/traces"], vec!["--endpoint 'ftp://x/v1/traces'"]),
        (vec![cs, "--endpoint", &u, "-H", "nocolon"], vec!["--header #1", "expected 'name: value'"]),
        (vec![cs, "--endpoint", &u, "--rate", "0"], vec!["--rate '0'"]),
        (vec![cs, "--endpoint", &u, "--rate", "-1"], vec!["--rate '-1'"]),
        (vec![cs, "--platform", "nope"], vec!["--platform 'nope'"]),
        (vec![cs, "--platform", "langsmith"], vec!["LANGSMITH_API_KEY"]),
        (vec![bad.to_str().unwrap(), "--endpoint", &u], vec!["bad.zst", "not a traceblast corpus"]),
        (vec!["/nonexistent.zst", "--endpoint", &u], vec!["/nonexistent.zst"]),
        // Numbers over their stated maximum (1.8e19 s used to make --dry-run run forever).
        (vec![cs, "--endpoint", &u, "--duration", "1.8e19", "--dry-run"], vec!["--duration '1.8e19'", "maximum"]),
        (vec![cs, "--endpoint", &u, "--rate", "1e300"], vec!["--rate '1e300'"]),
        (vec![cs, "--endpoint", &u, "--connections", "20000"], vec!["--connections '20000'", "10,000"]),
        (vec![cs, "--endpoint", &u, "--batch", "100000"], vec!["--batch '100000'", "65,535"]),
        (vec![cs, "--endpoint", &u, "--threads", "999"], vec!["--threads '999'", "256"]),
        (vec![cs, "--endpoint", &u, "--max-in-flight", "5M"], vec!["--max-in-flight '5M'"]),
        (vec![cs, "--endpoint", &u, "--id-key", "xyz"], vec!["--id-key 'xyz'", "hex"]),
    ];
    for (args, needles) in cases {
        let mut full = vec!["replay"];
        full.extend(args.iter());
        let o =
            Command::new(bin()).args(&full).env_remove("LANGSMITH_API_KEY").current_dir(dir.path()).output().unwrap();
        assert_bad_input(&o, &needles);
    }
    assert_eq!(s.shutdown().requests, 0, "no traffic on bad input");
    // At the maxima, the plan is computed at once.
    let started = std::time::Instant::now();
    let o = run(&["replay", cs, "--endpoint", &u, "--rate", "10000000", "--duration", "30d", "--dry-run"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("25,920,000,000,000 requests at 10000000 req/s, about 30days"), "{}", stdout(&o));
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn an_unreachable_endpoint_is_counted_and_hinted_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let c = corpus(dir.path(), "5", &["--mix", "simple=1"]);
    // A port nobody listens on: bind, note it, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let endpoint = format!("http://127.0.0.1:{port}/v1/traces");
    // A short run (0.2 s): the hint comes at its end, naming the most common error class.
    let (o, r) =
        replay(dir.path(), &c, &endpoint, &["--rate", "100", "--requests", "20", "--timeout", "1s", "-q"], &[]);
    // No request succeeded: exit 1 without --min-success (a run that delivered nothing is no
    // success), with the report written all the same.
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("no request succeeded (20 scheduled)"), "{}", stderr(&o));
    assert_accounted(&r);
    assert_eq!(r["requests"]["failed"], 20);
    assert_eq!(r["errors"]["connection"], 20);
    assert_eq!(r["bytes"]["sent"], 0, "nothing went out");
    let err = stderr(&o);
    assert!(
        err.contains(&format!("no response from {endpoint} (20 × connection refused: "))
            && err.contains("is the collector running?"),
        "{err}"
    );
    assert_eq!(err.matches("no response from").count(), 1, "the hint prints once");
    let min = Command::new(bin())
        .args([
            "replay",
            c.to_str().unwrap(),
            "--endpoint",
            &endpoint,
            "--rate",
            "100",
            "--requests",
            "5",
            "--timeout",
            "1s",
            "-q",
            "--min-success",
            "99",
        ])
        .output()
        .unwrap();
    assert_eq!(min.status.code(), Some(1), "--min-success missed exits 1");
    // --min-success 0 opts out.
    let (o, _) = replay(
        dir.path(),
        &c,
        &endpoint,
        &["--rate", "100", "--requests", "5", "--timeout", "1s", "-q", "--min-success", "0"],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn dry_run_prints_the_plan_and_sends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let c = corpus(dir.path(), "12", &[]);
    let s = sink::spawn(SinkPlan::default()).unwrap();
    let o = run(&[
        "replay",
        c.to_str().unwrap(),
        "--endpoint",
        &url(&s),
        "--rate",
        "1000",
        "--shard",
        "1/4",
        "--duration",
        "10s",
        "--threads",
        "2",
        "--dry-run",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let plan = stdout(&o);
    for key in [
        "dry run",
        "shard           1/4",
        "1000 req/s in total, 250 req/s from this shard",
        "stop after",
        "2 sender thread(s)",
        "content-type: application/x-protobuf",
    ] {
        assert!(plan.contains(key), "{key:?} missing:\n{plan}");
    }
    assert_eq!(s.shutdown().requests, 0);
}

#[test]
fn header_values_and_url_credentials_never_reach_any_output() {
    let dir = tempfile::tempdir().unwrap();
    let c = corpus(dir.path(), "3", &["--mix", "simple=1"]);
    let s = sink::spawn(SinkPlan::default()).unwrap();
    let secret_url = format!("http://u:PASSWD1@{}/v1/traces?sig=SIG1&code=CODE1&x=1", s.addr);
    let args = |extra: &[&'static str]| {
        let mut v: Vec<String> = ["--header", "x-project: PROJ1", "--header", "authorization: Bearer TOKEN1"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        v.extend(["--rate", "50", "--html", "run.html", "--log-level", "debug"].iter().map(|s| s.to_string()));
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let secrets = ["PASSWD1", "SIG1", "CODE1", "TOKEN1", "dTpQQVNTV0Qx"];
    for extra in [&["--dry-run"][..], &[], &["--show-headers"]] {
        let a = args(extra);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        let (o, r) = replay(dir.path(), &c, &secret_url, &a, &[("OTEL_EXPORTER_OTLP_HEADERS", "x-team=TEAM1")]);
        assert!(o.status.success(), "{}", stderr(&o));
        let html = std::fs::read_to_string(dir.path().join("run.html")).unwrap_or_default();
        let everything = format!("{}{}{r}{html}", stdout(&o), stderr(&o));
        for secret in secrets {
            assert!(!everything.contains(secret), "{secret} printed with {extra:?}");
        }
        // Values the user gave are hidden unless --show-headers, which shows the harmless ones.
        let shown = extra.contains(&"--show-headers");
        assert_eq!(everything.contains("PROJ1"), shown, "{extra:?}");
        assert_eq!(everything.contains("TEAM1"), shown, "{extra:?}");
        let _ = std::fs::remove_file(dir.path().join("run.html"));
    }
    assert_eq!(s.shutdown().requests, 6, "the dry run sent nothing, the two runs 3 each");
}

#[test]
fn a_wrong_path_gets_a_404_hint_naming_it_and_debug_logs_each_failure() {
    let dir = tempfile::tempdir().unwrap();
    let c = corpus(dir.path(), "3", &["--mix", "simple=1"]);
    let s = sink::spawn(SinkPlan::default()).unwrap();
    let endpoint = format!("http://{}/api/traces", s.addr);
    let (o, r) = replay(dir.path(), &c, &endpoint, &["--rate", "100", "--log-level", "debug", "-q"], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(r["status"]["404"], 3);
    let err = stderr(&o);
    assert!(err.contains("every answer was 404 Not Found: nothing takes OTLP traces at /api/traces"), "{err}");
    for i in 0..3 {
        assert!(err.contains(&format!("debug: request {i} attempt 1: status 404")), "{err}");
    }
    assert!(err.contains("debug: connection opened to 127.0.0.1"), "{err}");
}

#[test]
fn a_name_that_does_not_resolve_is_a_dns_error() {
    let dir = tempfile::tempdir().unwrap();
    let c = corpus(dir.path(), "2", &["--mix", "simple=1"]);
    let (o, r) = replay(dir.path(), &c, "http://no-such-host.invalid:4318", &["--rate", "100", "-q"], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(r["errors"]["connection"], 2);
    assert!(stderr(&o).contains("2 × host name not resolved: dns error"), "{}", stderr(&o));
}
