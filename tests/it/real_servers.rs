//! `traceblast replay` against servers that behave as real ones do (issue 14): a real Arize
//! Phoenix, and the small hostile servers of `servers` (idle keep-alive closes, early answers,
//! broken 200s, absurd `rejected_spans`, long `Retry-After`, HTTP/2 GOAWAY and dead
//! connections). Each test compares the server's own counts with replay's report exactly and
//! bounds the run's time.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use traceblast::sink::{self, SinkPlan};

use crate::replay::corpus;
use crate::servers::h1::{self, Broken, Idle};
use crate::servers::h2::{self, End};
use crate::servers::platform::{Launched, Platform, launch_or_skip};
use crate::util::*;

/// A finished replay run: its output, JSON report and wall time.
pub(crate) struct Run {
    pub(crate) out: Output,
    pub(crate) report: Value,
    took: Duration,
}

impl Run {
    pub(crate) fn req(&self, k: &str) -> u64 {
        self.report["requests"][k].as_u64().unwrap_or_else(|| panic!("requests.{k} in {}", self.report))
    }
    fn status(&self, code: u16) -> u64 {
        self.report["status"][code.to_string()].as_u64().unwrap_or(0)
    }
    fn errors(&self) -> &Value {
        &self.report["errors"]
    }
    /// Asserts that every scheduled request ended exactly once.
    pub(crate) fn assert_accounted(&self) {
        let (s, ok, failed, missed) = (self.req("scheduled"), self.req("ok"), self.req("failed"), self.req("missed"));
        assert_eq!(s, ok + failed + missed, "scheduled == ok + failed + missed: {}", self.report["requests"]);
        assert_eq!(self.req("cancelled"), 0, "nothing cancelled without an interrupt");
        assert!(!stderr(&self.out).contains("panicked"), "{}", stderr(&self.out));
    }
}

/// Runs `traceblast replay CORPUS --endpoint URL --report … ARGS`, killing it (and failing the
/// test) if it is still running after `limit`.
pub(crate) fn replay_within(dir: &Path, corpus: &Path, endpoint: &str, args: &[&str], limit: Duration) -> Run {
    let report = dir.join("run.json");
    let _ = std::fs::remove_file(&report);
    let start = Instant::now();
    let mut child = Command::new(bin())
        .args(["replay", corpus.to_str().unwrap(), "--endpoint", endpoint, "--report", report.to_str().unwrap()])
        .args(["-q", "--min-success", "0"])
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("traceblast runs");
    while child.try_wait().expect("wait on replay").is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!("replay {args:?} still running after {limit:?}; stderr: {}", stderr(&out));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let took = start.elapsed();
    let text = std::fs::read_to_string(&report).unwrap_or_else(|e| panic!("no report ({e}): {}", stderr(&out)));
    Run { out, report: serde_json::from_str(&text).unwrap(), took }
}

/// Spans in the whole corpus.
pub(crate) fn corpus_spans(c: &Path) -> u64 {
    traceblast::corpus::Corpus::open(c).unwrap().index.meta.totals.spans
}

/// Idle keep-alive connections closed by the server (uvicorn does so after 5 s): at Phoenix's
/// pattern (every connection reused after longer than the idle limit) and over one connection.
fn idle_closes_cost_no_timeout(how: Idle) {
    let dir = tempfile::tempdir().unwrap();
    let c = corpus(dir.path(), "40", &["--mix", "simple=1"]);
    let runs: [&[&str]; 2] = [
        // 16 connections at 10/s: each is reused 1.6 s after its last answer, past the 1 s limit.
        &["--rate", "10", "--connections", "16", "--requests", "40", "--timeout", "4s"],
        // One connection, a request every 1.67 s.
        &["--rate", "0.6", "--connections", "1", "--requests", "3", "--timeout", "4s"],
    ];
    for args in runs {
        let s = h1::idle_closing(Duration::from_secs(1), how);
        let r = replay_within(dir.path(), &c, &s.url(), args, Duration::from_secs(30));
        let seen = s.stop();
        r.assert_accounted();
        let n = r.req("scheduled");
        assert_eq!(r.errors(), &serde_json::json!({}), "{args:?}: no request failed: {}", r.report["requests"]);
        assert_eq!(r.req("ok"), n, "{args:?}");
        assert_eq!(seen.requests, n, "{args:?}: the server saw each request once: {seen:?}");
        assert_eq!(seen.answered.get(&200), Some(&n), "{args:?}: {seen:?}");
        assert_eq!(seen.after_half_close, 0, "{args:?}: no request went into a half-closed connection");
        assert!(seen.connections > 1, "{args:?}: the server closed idle connections: {seen:?}");
    }
}

#[test]
fn idle_connections_closed_by_the_server_cost_no_timeout() {
    idle_closes_cost_no_timeout(Idle::Close);
}

#[test]
fn idle_connections_half_closed_by_the_server_cost_no_timeout() {
    idle_closes_cost_no_timeout(Idle::HalfClose);
}

#[test]
fn a_reset_of_a_reused_connection_before_any_answer_sends_the_request_again() {
    // Every second request on a connection is reset unread: each goes again on a fresh
    // connection and succeeds there; the server saw (and answered) each request exactly once.
    let dir = tempfile::tempdir().unwrap();
    let c = corpus(dir.path(), "40", &["--mix", "simple=1"]);
    let s = h1::reset_on_reuse();
    let args = ["--rate", "20", "--connections", "1", "--requests", "6", "--timeout", "4s"];
    let r = replay_within(dir.path(), &c, &s.url(), &args, Duration::from_secs(30));
    let seen = s.stop();
    r.assert_accounted();
    assert_eq!(r.errors(), &serde_json::json!({}), "no request failed: {}", r.report["requests"]);
    assert_eq!((r.req("ok"), r.req("retries")), (6, 0), "sent again, not retried: {}", r.report["requests"]);
    assert_eq!((seen.requests, seen.answered.get(&200)), (6, Some(&6)), "{seen:?}");
    assert!(seen.connections >= 6, "each reuse was reset: {seen:?}");
}

/// Requests large enough (about 1 MB) that the server answers long before the body is sent.
fn big_request_corpus(dir: &Path) -> std::path::PathBuf {
    corpus(dir, "60", &["--mix", "simple=1", "--traces-per-request", "20"])
}

#[test]
fn an_early_answer_that_closes_the_connection_is_counted_with_its_status() {
    let dir = tempfile::tempdir().unwrap();
    let c = big_request_corpus(dir.path());
    for status in [413u16, 401, 404] {
        let s = h1::early_status(status);
        let args = ["--rate", "20", "--loops", "3", "--connections", "2", "--timeout", "4s"];
        let r = replay_within(dir.path(), &c, &s.url(), &args, Duration::from_secs(30));
        let seen = s.stop();
        r.assert_accounted();
        let n = r.req("scheduled");
        assert_eq!(r.status(status), n, "{status}: every request counted with its status: {}", r.report);
        assert_eq!(r.errors(), &serde_json::json!({}), "{status}: not io or timeout");
        assert_eq!(seen.requests, n, "{status}: {seen:?}");
        assert_eq!(seen.answered.get(&status), Some(&n), "{status}: {seen:?}");
    }
}

#[test]
fn the_sink_counts_the_early_413s_it_answered() {
    let dir = tempfile::tempdir().unwrap();
    let c = big_request_corpus(dir.path());
    let s = sink::spawn(SinkPlan { max_body: 64 * 1024, quiet: true, ..SinkPlan::default() }).unwrap();
    let url = format!("http://{}/v1/traces", s.addr);
    let args = ["--rate", "20", "--loops", "3", "--connections", "2", "--timeout", "4s"];
    let r = replay_within(dir.path(), &c, &url, &args, Duration::from_secs(30));
    let sum = s.shutdown();
    r.assert_accounted();
    let n = r.req("scheduled");
    assert_eq!(r.status(413), n, "every request answered 413 by its declared size: {}", r.report);
    assert_eq!(r.errors(), &serde_json::json!({}));
    assert_eq!(sum.requests_by_status.get(&413), Some(&n), "the sink counts the 413s it answered: {sum:?}");
    assert_eq!(sum.requests, n);
}

#[test]
fn a_truncated_or_malformed_200_is_a_failure_with_its_class() {
    let dir = tempfile::tempdir().unwrap();
    let c = corpus(dir.path(), "5", &["--mix", "simple=1"]);
    for how in [Broken::Truncated, Broken::BadChunk] {
        let s = h1::broken_200(how);
        let args = ["--rate", "20", "--connections", "1", "--timeout", "4s"];
        let r = replay_within(dir.path(), &c, &s.url(), &args, Duration::from_secs(20));
        let seen = s.stop();
        r.assert_accounted();
        assert_eq!(r.req("ok"), 0, "{how:?}: a broken 200 is not a success: {}", r.report);
        assert_eq!(r.req("failed"), 5, "{how:?}");
        assert_eq!(r.report["spans"]["ok"], 0, "{how:?}: no span acknowledged");
        let errors = r.errors().as_object().unwrap();
        assert_eq!(errors.values().map(|v| v.as_u64().unwrap()).sum::<u64>(), 5, "{how:?}: {errors:?}");
        assert!(!errors.contains_key("timeout"), "{how:?}: failed fast, with its class: {errors:?}");
        assert_eq!(seen.requests, 5, "{how:?}: {seen:?}");
    }
}

#[test]
fn a_chunk_of_two_to_the_sixty_four_bytes_is_too_large_to_read_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let c = corpus(dir.path(), "5", &["--mix", "simple=1"]);
    let s = h1::broken_200(Broken::HugeChunk);
    let r = replay_within(dir.path(), &c, &s.url(), &["--rate", "20", "--connections", "1"], Duration::from_secs(20));
    let seen = s.stop();
    r.assert_accounted();
    // A body larger than replay reads (64 KiB) counts by its status, unread.
    assert_eq!((r.status(200), r.req("ok")), (5, 5), "{}", r.report);
    assert_eq!(seen.requests, 5, "{seen:?}");
}

#[test]
fn rejected_spans_are_clamped_to_the_spans_sent() {
    let dir = tempfile::tempdir().unwrap();
    let c = corpus(dir.path(), "10", &["--mix", "simple=1"]);
    let spans = corpus_spans(&c);
    let s = h1::rejecting(40_000);
    let r = replay_within(dir.path(), &c, &s.url(), &["--rate", "50", "--connections", "1"], Duration::from_secs(20));
    let seen = s.stop();
    r.assert_accounted();
    assert_eq!(seen.requests, 10);
    assert_eq!(r.status(200), 10);
    assert_eq!(r.report["spans"]["rejected"], spans, "each request's claim clamped to its own spans: {}", r.report);
    // The report notes what the server claimed beyond the spans it was sent.
    assert_eq!(r.report["spans"]["rejected_claimed"], 10 * 40_000 - spans, "{}", r.report["spans"]);
}

#[test]
fn retry_after_beyond_the_run_does_not_extend_it() {
    let dir = tempfile::tempdir().unwrap();
    let c = corpus(dir.path(), "40", &["--mix", "simple=1"]);
    let s = h1::retry_after(60);
    let args = ["--rate", "10", "--duration", "2s", "--timeout", "2s", "--retries", "3", "--connections", "4"];
    let r = replay_within(dir.path(), &c, &s.url(), &args, Duration::from_secs(20));
    let seen = s.stop();
    r.assert_accounted();
    // --duration + --timeout, plus start-up and report writing of a debug build.
    assert!(r.took < Duration::from_millis(5_500), "the run took {:?}, past --duration 2s + --timeout 2s", r.took);
    assert_eq!(r.req("ok"), 0);
    let sent = r.req("scheduled") - r.req("missed");
    assert_eq!(seen.requests, sent + r.req("retries"), "every attempt counted once: {seen:?} {}", r.report);
    assert_eq!(seen.answered.get(&429), Some(&seen.requests));
}

#[test]
fn a_429_storm_does_not_idle_the_connections() {
    let dir = tempfile::tempdir().unwrap();
    let c = corpus(dir.path(), "60", &["--mix", "simple=1"]);
    // Every request is answered 429 (Retry-After: 1) once, then 200. Re-queued retries keep
    // the two connections busy with new requests meanwhile: about 20 requests wait at once,
    // below the cap of 40. Retries sleeping in the worker serve 2 requests a second instead.
    let s = h1::first_attempt_429(1);
    let args = ["--rate", "20", "--requests", "60", "--connections", "2", "--max-in-flight", "40", "--retries", "2"];
    let r = replay_within(dir.path(), &c, &s.url(), &args, Duration::from_secs(60));
    let seen = s.stop();
    r.assert_accounted();
    assert_eq!(r.req("missed"), 0, "the schedule was kept: {}", r.report["requests"]);
    assert_eq!(r.req("ok"), 60);
    assert_eq!(r.req("retries"), 60);
    assert_eq!(seen.requests, 120, "{seen:?}");
    assert_eq!(seen.answered.get(&429), Some(&60));
    assert_eq!(seen.answered.get(&200), Some(&60));
}

/// HTTP/2: 100 requests at 200/s over one connection to a server that takes 50 ms per answer
/// (about 10 requests in flight) and ends each connection after 10 answers.
fn h2_reconnects_once_per_end(end: End) -> (Run, crate::servers::Snapshot) {
    let dir = tempfile::tempdir().unwrap();
    let c = corpus(dir.path(), "100", &["--mix", "simple=1"]);
    let s = h2::ending_after(10, end, Duration::from_millis(50));
    // A dropped connection kills every request in flight on it (about 10): each may die on a
    // few connections in turn before one answers it, so it gets retries enough.
    let args = ["--http2", "--connections", "1", "--rate", "200", "--retries", "10", "--timeout", "4s"];
    let r = replay_within(dir.path(), &c, &s.url(), &args, Duration::from_secs(30));
    let seen = s.stop();
    r.assert_accounted();
    assert_eq!(r.req("ok"), 100, "{end:?}: {}", r.report);
    // One reconnect per ended connection, shared by the requests waiting for it: at most 10
    // ends; 2 spare for a request racing an end.
    // Streams already sent when GOAWAY comes finish on the old connection, so with GOAWAY a
    // connection may serve more than 10: fewer connections, but more than one.
    assert!(seen.connections >= 2, "{end:?}: the server ended its connections: {seen:?}");
    assert!(seen.connections <= 12, "{end:?}: {} connections for 10 connection ends", seen.connections);
    (r, seen)
}

#[test]
fn after_goaway_requests_share_one_reconnect() {
    // Passes today (9 or 10 connections): hyper's graceful GOAWAY lets every stream already
    // sent finish, and the worker sees the handle closed before the next request.
    let (_, seen) = h2_reconnects_once_per_end(End::GoAway);
    assert_eq!(seen.requests, 100, "no request was sent twice: {seen:?}");
    assert_eq!(seen.answered.get(&200), Some(&100));
}

#[test]
fn after_a_dead_h2_connection_requests_share_one_reconnect() {
    let (r, seen) = h2_reconnects_once_per_end(End::Drop);
    // Requests that died with a connection were retried on the next one (all 100 ok, checked
    // above). The server may have answered a few whose answer died with the connection
    // (counted when answered, before the drop flushed it): those were retried too.
    assert!(seen.answered.get(&200).copied().unwrap_or(0) >= 100, "{seen:?}");
    // Every attempt reached the server, but for one racing each drop at most (sent as the
    // connection died, before the client could know): no attempt went to a known-dead one.
    let attempts = 100 + r.req("retries");
    assert!(seen.requests <= attempts, "{seen:?}");
    assert!(attempts - seen.requests <= seen.connections, "{attempts} attempts, {seen:?}");
}

#[test]
fn http1_and_h2c_deliver_spans_received_equal_to_spans_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let c = corpus(dir.path(), "30", &[]);
    let spans = corpus_spans(&c);
    for proto in [&[][..], &["--http2"][..]] {
        let s = sink::spawn(SinkPlan { quiet: true, ..SinkPlan::default() }).unwrap();
        let url = format!("http://{}/v1/traces", s.addr);
        let mut args = vec!["--rate", "100"];
        args.extend_from_slice(proto);
        let r = replay_within(dir.path(), &c, &url, &args, Duration::from_secs(30));
        let sum = s.shutdown();
        r.assert_accounted();
        assert_eq!(r.report["spans"]["ok"], spans, "{proto:?}");
        assert_eq!(sum.unique_spans, spans, "{proto:?}: spans received == spans acknowledged");
        assert_eq!(sum.spans, spans, "{proto:?}: none twice");
        assert_eq!(sum.requests, r.req("ok"), "{proto:?}");
    }
}

/// Replays 100 simple traces into a real Phoenix with each of `runs`; calls `check` with the
/// platform and the runs while it is still up.
fn into_phoenix(test: &str, runs: &[&[&str]], check: impl FnOnce(&Launched, Vec<Run>)) {
    let Some(px) = launch_or_skip(Platform::Phoenix, test) else { return };
    let dir = tempfile::tempdir().unwrap();
    let c = corpus(dir.path(), "100", &["--mix", "simple=1"]);
    let url = px.url("/v1/traces");
    let runs = runs
        .iter()
        .map(|args| {
            let r = replay_within(dir.path(), &c, &url, args, Duration::from_secs(90));
            r.assert_accounted();
            r
        })
        .collect();
    check(&px, runs);
}

/// Spans Phoenix has stored in `project` (at most 1000: one page).
fn phoenix_spans(px: &Launched, project: &str) -> u64 {
    let page = px.get_json(&format!("/v1/projects/{project}/spans?limit=1000"));
    assert!(page["next_cursor"].is_null(), "more than one page of spans: {}", page["next_cursor"]);
    page["data"].as_array().expect("a list of spans").len() as u64
}

#[test]
fn phoenix_stores_every_span_it_acknowledged_and_verify_reads_it_back() {
    // Both runs send the same IDs (one --id-key): Phoenix keeps the first copy of a span ID.
    // The project does not exist until Phoenix stores its first span: the in-run sampling and
    // verify read it back as "nothing stored yet".
    let once = ["--rate", "10", "--connections", "4", "--requests", "30", "--id-key", "00000000000000ab", "--verify"];
    let once = [&once[..], &["--project", "load"]].concat();
    let first = [&once[..], &["--verify-wait", "60s", "--sample", "10"]].concat();
    let again = [&once[..], &["--verify-wait", "30s", "--max-loss", "100"]].concat();
    let runs: [&[&str]; 2] = [&first, &again];
    let test = "real_servers::phoenix_stores_every_span_it_acknowledged_and_verify_reads_it_back";
    into_phoenix(test, &runs, |px, runs| {
        let r = &runs[0];
        assert!(r.out.status.success(), "{}", stderr(&r.out));
        assert_eq!(r.req("ok"), 30, "{}", r.report);
        assert_eq!(r.status(200), 30);
        assert_eq!(r.errors(), &serde_json::json!({}));
        // Phoenix inserts spans in batches after answering: verify waited for them.
        let acked = r.report["spans"]["ok"].as_u64().unwrap();
        let v = &r.report["verify"];
        assert_eq!(v["from"], "phoenix", "detected: {v}");
        assert_eq!((v["acknowledged"].as_u64(), v["stored"].as_u64()), (Some(30), Some(30)), "{v}");
        assert_eq!((v["spans_acknowledged"].as_u64(), v["spans_stored"].as_u64()), (Some(acked), Some(acked)));
        assert_eq!((v["missing"].as_u64(), v["partial"].as_u64(), v["stale"].as_u64()), (Some(0), Some(0), Some(0)));
        assert_eq!(v["ended_by"], "complete");
        assert_eq!(v["lag_ms"]["traces"].as_u64(), Some(30), "lag measured: {v}");
        assert_eq!(v["lag_ms"]["measured_by"], "polling");
        // Sampled during the run (10 a second of a 3 s run), each seen within 250 ms of storing.
        let sampled = v["sampled_lag_ms"]["traces"].as_u64().unwrap();
        assert!((10..=30).contains(&sampled), "{sampled} sampled: {v}");
        // The adapter agrees with Phoenix's own span list.
        assert_eq!(phoenix_spans(px, "load"), acked, "spans Phoenix stored == spans it acknowledged");
        // The same IDs again: acknowledged with 200, stored 0 of 30 (all stale).
        let r = &runs[1];
        assert_eq!(r.status(200), 30);
        let v = &r.report["verify"];
        assert_eq!((v["stored"].as_u64(), v["stale"].as_u64()), (Some(0), Some(30)), "{v}");
        assert_eq!((v["loss_percent"].as_f64(), v["passed"].as_bool()), (Some(100.0), Some(true)));
        assert_eq!(phoenix_spans(px, "load"), acked, "nothing more stored");
    });
}

#[test]
fn phoenix_idle_keep_alive_costs_no_timeout() {
    let runs: [&[&str]; 2] = [
        // The defaults: each of 64 connections is reused 6.4 s after its last answer.
        &["--rate", "10", "--connections", "64"],
        // One connection, a request every 6.7 s.
        &["--rate", "0.15", "--connections", "1", "--requests", "3"],
    ];
    into_phoenix("real_servers::phoenix_idle_keep_alive_costs_no_timeout", &runs, |_, runs| {
        for r in runs {
            let n = r.req("scheduled");
            assert_eq!(r.errors(), &serde_json::json!({}), "no timeout: {}", r.report["requests"]);
            assert_eq!(r.req("ok"), n, "{}", r.report["requests"]);
            assert_eq!(r.status(200), n);
            // Nothing waited out --timeout: the slowest request is far below 10 s.
            let max = r.report["latency_us"]["uncorrected"]["max"].as_u64().unwrap();
            assert!(max < 2_000_000, "slowest request {max} µs");
        }
    });
}

#[test]
fn mlflow_accepts_otlp_traces_once_warmed_up() {
    let test = "real_servers::mlflow_accepts_otlp_traces_once_warmed_up";
    let Some(mf) = launch_or_skip(Platform::Mlflow, test) else { return };
    let dir = tempfile::tempdir().unwrap();
    let c = corpus(dir.path(), "20", &["--mix", "simple=1"]);
    let url = mf.url("/v1/traces");
    let header = ["-H", "x-mlflow-experiment-id: 0"];
    // MLflow's first OTLP requests after start took 13 s here (it initialises trace ingestion
    // lazily); one request with a long timeout warms it up before the measured run.
    let warm = replay_within(
        dir.path(),
        &c,
        &url,
        &[&header[..], &["--requests", "1", "--timeout", "60s"]].concat(),
        Duration::from_secs(90),
    );
    assert_eq!(warm.req("ok"), 1, "warm-up: {}", warm.report["requests"]);
    // An experiment by name: created through MLflow's REST API, its ID sent and reported.
    let args = ["--platform", "mlflow", "--experiment", "traceblast load", "--rate", "10", "--connections", "4"];
    let args = [&args[..], &["--requests", "20", "--verify"]].concat();
    let r = replay_within(dir.path(), &c, &url, &args, Duration::from_secs(90));
    r.assert_accounted();
    assert!(r.out.status.success(), "{}", stderr(&r.out));
    assert_eq!(r.req("ok"), 20, "{}", r.report["requests"]);
    assert_eq!(r.status(200), 20);
    assert_eq!(r.errors(), &serde_json::json!({}));
    let id = r.report["run"]["headers"].as_array().unwrap().iter().find(|h| h[0] == "x-mlflow-experiment-id").unwrap()
        [1]
    .clone();
    assert!(
        id.as_str().is_some_and(|id| id != "0" && id.bytes().all(|b| b.is_ascii_digit())),
        "a new experiment: {id}"
    );
    assert!(stderr(&r.out).contains("created MLflow experiment \"traceblast load\""), "{}", stderr(&r.out));
    // MLflow commits before answering: verify finds every trace in its first round.
    let v = &r.report["verify"];
    assert_eq!(v["from"], "mlflow", "detected: {v}");
    assert_eq!(
        (v["acknowledged"].as_u64(), v["stored"].as_u64(), v["missing"].as_u64()),
        (Some(20), Some(20), Some(0))
    );
    assert_eq!(v["spans_stored"], r.report["spans"]["ok"], "{v}");
    assert_eq!((v["ended_by"].as_str(), v["rounds"].as_u64()), (Some("complete"), Some(1)));
    // Read from another experiment, none of them is there.
    let report = dir.path().join("run.json");
    let o = crate::util::run(&["verify", report.to_str().unwrap(), "--experiment", "424242", "--settle", "1s", "-q"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(v["verify"]["missing"].as_u64(), Some(20), "{}", v["verify"]);
}

/// Collector mode, measured: replay → rotel (its OTLP/HTTP exporter) → a real Phoenix, then
/// `verify` reads back from Phoenix what the collector delivered.
#[test]
fn through_a_collector_into_phoenix_every_acknowledged_trace_is_stored() {
    let test = "real_servers::through_a_collector_into_phoenix_every_acknowledged_trace_is_stored";
    let Some(px) = launch_or_skip(Platform::Phoenix, test) else { return };
    let dir = tempfile::tempdir().unwrap();
    let c = corpus(dir.path(), "40", &["--mix", "simple=1"]);
    let rotel = crate::collector::Rotel::start(dir.path(), "http", &px.url(""));
    let url = format!("http://127.0.0.1:{}/v1/traces", rotel.http);
    let r = replay_within(dir.path(), &c, &url, &["--rate", "20", "--requests", "40"], Duration::from_secs(60));
    r.assert_accounted();
    assert_eq!(r.req("ok"), 40, "the collector acknowledged every request: {}", r.report["requests"]);
    let report = dir.path().join("run.json");
    let o = run(&["verify", report.to_str().unwrap(), "--url", &px.url(""), "--wait", "90s", "-q"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let v = &v["verify"];
    assert_eq!(v["from"], "phoenix", "detected behind the collector: {v}");
    assert_eq!(
        (v["acknowledged"].as_u64(), v["stored"].as_u64(), v["loss_percent"].as_f64()),
        (Some(40), Some(40), Some(0.0))
    );
    assert_eq!(v["spans_stored"], r.report["spans"]["ok"], "{v}");
}
