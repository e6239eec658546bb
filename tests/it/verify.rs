//! Did it arrive? `replay` writes the sent log, `verify` reads back from the platform: against
//! the sink (offline, exact: its `--drop-traces` loses acknowledged traces silently) here, and
//! against real Phoenix and MLflow servers in `real_servers`.

use std::path::{Path, PathBuf};

use serde_json::Value;
use traceblast::sink::{SinkPlan, faults::Faults};

use crate::util::{assert_bad_input, run, stderr, stdout};

fn corpus(dir: &Path, count: &str) -> PathBuf {
    let out = dir.join("c.zst");
    let o = run(&["gen", "-q", "--count", count, "--mix", "simple=1", "-o", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    out
}

fn json(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// Replays `c` into `url` with `--report dir/NAME.json` and `extra` flags.
fn replay(dir: &Path, c: &Path, url: &str, name: &str, extra: &[&str]) -> (std::process::Output, PathBuf) {
    let report = dir.join(format!("{name}.json"));
    let args = [
        &[
            "replay",
            c.to_str().unwrap(),
            "--endpoint",
            url,
            "--rate",
            "200",
            "-q",
            "--report",
            report.to_str().unwrap(),
        ],
        extra,
    ]
    .concat();
    (run(&args), report)
}

#[test]
fn the_sent_log_lists_every_acknowledged_trace_as_the_sink_received_it() {
    let dir = tempfile::tempdir().unwrap();
    let c = corpus(dir.path(), "40");
    let sink = traceblast::sink::spawn(SinkPlan::default()).unwrap();
    let (o, report) = replay(dir.path(), &c, &format!("http://{}/v1/traces", sink.addr), "run", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let log = traceblast::sent::read(&dir.path().join("run.sent.zst")).unwrap();
    assert_eq!(log.requests.len(), 40);
    assert!(log.requests.iter().all(|r| r.ok && r.outcome == "200" && r.scenario == "simple_query"));
    let traces: std::collections::HashSet<&str> =
        log.requests.iter().flat_map(|r| r.traces.iter().map(|(t, _, _)| t.as_str())).collect();
    let spans: u64 = log.requests.iter().flat_map(|r| r.traces.iter().map(|(_, n, _)| u64::from(*n))).sum();
    let sum = sink.summary();
    assert_eq!((traces.len() as u64, spans), (sum.unique_traces, sum.spans), "IDs as sent, after remapping");
    assert_eq!(spans, json(&report)["spans"]["ok"].as_u64().unwrap());
    // Every listed trace is found by the sink's query endpoint with its spans.
    for r in &log.requests {
        for (t, n, _) in &r.traces {
            let id = traceblast::sent::parse_id(t).unwrap();
            let (stored, _) = sink.state().stored_trace(id).unwrap_or_else(|| panic!("{t} not stored"));
            assert_eq!(stored.spans, *n, "{t}");
        }
    }
    // --no-sent writes none.
    let (o, _) = replay(dir.path(), &c, &format!("http://{}/v1/traces", sink.addr), "quiet", &["--no-sent"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!dir.path().join("quiet.sent.zst").exists());
}

#[test]
fn verify_reports_exactly_the_traces_the_sink_dropped_silently() {
    let dir = tempfile::tempdir().unwrap();
    let c = corpus(dir.path(), "200");
    let plan = SinkPlan { faults: Faults { drop_traces: 0.25, ..Default::default() }, ..Default::default() };
    let sink = traceblast::sink::spawn(plan).unwrap();
    let (o, report) = replay(dir.path(), &c, &format!("http://{}/v1/traces", sink.addr), "run", &[]);
    assert!(o.status.success(), "every request was acknowledged: {}", stderr(&o));
    let sum = sink.summary();
    assert!(sum.dropped_spans > 0 && sum.dropped_spans < sum.spans, "{sum:?}");
    let o = run(&["verify", report.to_str().unwrap(), "--settle", "1s", "--wait", "30s"]);
    assert_eq!(o.status.code(), Some(1), "loss above --max-loss 0 exits 1: {}", stderr(&o));
    assert!(stderr(&o).contains("of acknowledged spans were not stored"), "{}", stderr(&o));
    let v = &json(&report)["verify"];
    assert_eq!(v["from"], "sink", "detected from the endpoint");
    assert_eq!(v["sent"].as_u64().unwrap(), 200);
    assert_eq!(v["acknowledged"].as_u64().unwrap(), 200);
    let missing = v["missing"].as_u64().unwrap();
    assert_eq!(missing, 200 - sum.unique_traces, "missing == traces the sink dropped: {v}");
    assert_eq!(v["stored"].as_u64().unwrap(), sum.unique_traces);
    assert_eq!(v["spans_acknowledged"].as_u64().unwrap(), sum.spans);
    assert_eq!(v["spans_stored"].as_u64().unwrap(), sum.spans - sum.dropped_spans);
    assert_eq!((v["partial"].as_u64(), v["duplicated"].as_u64()), (Some(0), Some(0)));
    assert_eq!(v["ended_by"], "settled");
    assert_eq!(v["passed"], false);
    let lag = &v["lag_ms"];
    assert_eq!(lag["measured_by"], "first_seen");
    assert_eq!(lag["traces"].as_u64().unwrap(), sum.unique_traces);
    let text = stdout(&o);
    assert!(text.contains(&format!("{missing} missing")), "{text}");
    // Within --max-loss: exit 0, same counts; --report writes elsewhere and leaves RUN.json.
    let before = std::fs::read(&report).unwrap();
    let out = dir.path().join("verified.json");
    let o = run(&[
        "verify",
        report.to_str().unwrap(),
        "--max-loss",
        "40",
        "--settle",
        "1s",
        "--report",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(json(&out)["verify"]["missing"].as_u64().unwrap(), missing);
    assert_eq!(std::fs::read(&report).unwrap(), before);
}

#[test]
fn replay_verify_stops_as_soon_as_everything_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let c = corpus(dir.path(), "30");
    let sink = traceblast::sink::spawn(SinkPlan::default()).unwrap();
    let url = format!("http://{}/v1/traces", sink.addr);
    let (o, report) = replay(dir.path(), &c, &url, "run", &["--verify", "--sample", "7"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v = &json(&report)["verify"];
    // 30 requests in well under two seconds: 7 traces sampled in each second they span.
    let sampled = v["sampled_lag_ms"]["traces"].as_u64().unwrap();
    assert!((7..=14).contains(&sampled), "{sampled} sampled: {v}");
    assert_eq!(v["sampled_lag_ms"]["measured_by"], "sampling");
    assert_eq!((v["stored"].as_u64(), v["missing"].as_u64()), (Some(30), Some(0)), "{v}");
    assert_eq!((v["ended_by"].as_str(), v["rounds"].as_u64()), (Some("complete"), Some(1)));
    assert_eq!(v["passed"], true);
    // The same IDs again (--id-key of the first run): the sink stores every span twice.
    let key = json(&report)["run"]["id_key"].as_str().unwrap().to_string();
    let (o, again) = replay(dir.path(), &c, &url, "again", &["--id-key", &key, "--verify"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(json(&again)["verify"]["duplicated"].as_u64(), Some(30));
}

#[test]
fn traces_of_failed_requests_found_stored_are_counted_as_not_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let c = corpus(dir.path(), "20");
    let stored = traceblast::sink::spawn(SinkPlan::default()).unwrap();
    let (o, first) = replay(dir.path(), &c, &format!("http://{}/v1/traces", stored.addr), "first", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    // The same IDs to a sink that refuses everything: nothing acknowledged, yet every trace
    // is stored where verify looks (as when a platform commits requests it answered too late).
    let refusing = SinkPlan { faults: Faults { fail: vec![(503, 1.0)], ..Default::default() }, ..Default::default() };
    let refusing = traceblast::sink::spawn(refusing).unwrap();
    let key = json(&first)["run"]["id_key"].as_str().unwrap().to_string();
    let url = format!("http://{}/v1/traces", refusing.addr);
    let (o, second) = replay(dir.path(), &c, &url, "second", &["--id-key", &key, "--min-success", "0"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(json(&second)["requests"]["ok"].as_u64(), Some(0));
    let o = run(&["verify", second.to_str().unwrap(), "--url", &format!("http://{}", stored.addr), "--settle", "1s"]);
    assert!(o.status.success(), "nothing acknowledged, nothing lost: {}", stderr(&o));
    let v = &json(&second)["verify"];
    assert_eq!((v["acknowledged"].as_u64(), v["stored_not_acknowledged"].as_u64()), (Some(0), Some(20)), "{v}");
}

#[test]
fn bad_input_is_one_line_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let c = corpus(dir.path(), "5");
    let sink = traceblast::sink::spawn(SinkPlan::default()).unwrap();
    let (o, report) = replay(dir.path(), &c, &format!("http://{}/v1/traces", sink.addr), "run", &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r = report.to_str().unwrap();
    assert_bad_input(&run(&["verify", r, "--from", "zipkin"]), &["--from \"zipkin\"", "sink, phoenix, mlflow, jaeger"]);
    assert_bad_input(&run(&["verify", r, "--max-loss", "150"]), &["--max-loss 150", "out of range"]);
    assert_bad_input(&run(&["verify", r, "--sent", "/nonexistent/x.sent.zst"]), &["/nonexistent/x.sent.zst"]);
    // A sent log that is not one: the file and the line are named.
    let bad = dir.path().join("bad.sent.zst");
    std::fs::write(
        &bad,
        zstd::encode_all(&b"{\"format\":\"traceblast-sent\",\"version\":1}\n{\"seq\":1}\n"[..], 3).unwrap(),
    )
    .unwrap();
    assert_bad_input(&run(&["verify", r, "--sent", bad.to_str().unwrap()]), &["bad.sent.zst: line 2"]);
    std::fs::write(&bad, b"not zstd").unwrap();
    assert_bad_input(&run(&["verify", r, "--sent", bad.to_str().unwrap()]), &["bad.sent.zst"]);
    // Nothing to read back from: named, with the way out.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let o = run(&["verify", r, "--url", &format!("http://127.0.0.1:{port}"), "--settle", "1s"]);
    assert_bad_input(&o, &["no read-back API found", "--from sink|phoenix|mlflow"]);
    let o = run(&[
        "replay",
        c.to_str().unwrap(),
        "--endpoint",
        "http://127.0.0.1:1/v1/traces",
        "--report",
        r,
        "--verify",
        "--sample",
        "5000",
    ]);
    assert_bad_input(&o, &["--sample '5000'", "0 to 1000"]);
    // --verify needs the report the sent log goes beside.
    let o = run(&["replay", c.to_str().unwrap(), "--endpoint", &format!("http://{}/v1/traces", sink.addr), "--verify"]);
    assert_bad_input(&o, &["--verify", "--report"]);
}
