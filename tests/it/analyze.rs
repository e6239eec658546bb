//! `traceblast analyze` on the fixtures in `fixtures/analyze/` (their numbers are listed in its
//! README): exact counts in text and JSON, stdin via `-`, and one-line errors for bad input;
//! saturated sums said so, metrics URL credentials never printed, FIFOs refused at once.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::time::Duration;

use serde_json::{Value, json};

use crate::report::{mkfifo, run_within};
use crate::util::{assert_bad_input, run, run_stdin, stdout};

fn fixture(name: &str) -> String {
    format!("{}/fixtures/analyze/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Runs `analyze args… --json` and returns the parsed report.
fn json_report(args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let o = run(&all);
    assert_eq!(o.status.code(), Some(0), "{}", crate::util::stderr(&o));
    serde_json::from_slice(&o.stdout).expect("--json prints JSON")
}

/// `[status, occurrences, spans_dropped]` rows of `logs.by_status`.
fn statuses(r: &Value) -> Vec<[u64; 3]> {
    let rows = r["logs"]["by_status"].as_array().expect("by_status array");
    rows.iter()
        .map(|s| {
            [s["status"].as_u64().unwrap(), s["occurrences"].as_u64().unwrap(), s["spans_dropped"].as_u64().unwrap()]
        })
        .collect()
}

/// `[lines, records, unparsed, drop_events, spans_dropped]` of a `logs` object.
fn log_counts(l: &Value) -> [u64; 5] {
    ["lines", "records", "unparsed", "drop_events", "spans_dropped"]
        .map(|k| l[k].as_u64().unwrap_or_else(|| panic!("logs.{k} is a count")))
}

/// The numbers of the text table row that starts with `label`, thousands separators removed.
fn row_numbers(text: &str, label: &str) -> Vec<u64> {
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with(label))
        .unwrap_or_else(|| panic!("no row {label:?} in:\n{text}"));
    line[line.find(label).unwrap() + label.len()..]
        .split_whitespace()
        .filter_map(|t| t.replace(',', "").parse().ok())
        .collect()
}

#[test]
fn console_log_with_compose_prefixes_text() {
    let o = run(&["analyze", &fixture("collector-console.log")]);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    assert!(out.contains("spans dropped: 3,916 (logs)\n"), "{out}");
    assert!(out.contains(": 74 lines, 22 records, 52 skipped\n  12 drop lines, 3,916 spans dropped\n"), "{out}");
    for (status, occurrences, spans) in
        [(429, 2, 1536), (413, 3, 1280), (503, 1, 512), (409, 2, 192), (401, 1, 64), (400, 1, 32)]
    {
        assert_eq!(row_numbers(&out, &format!("{status} ")), [occurrences, spans], "status {status}");
    }
    assert_eq!(row_numbers(&out, "no HTTP status"), [1, 100]);
    assert_eq!(row_numbers(&out, "sending queue full"), [1, 200]);
    assert!(out.contains("queue full: 1 line (200 spans dropped)"), "{out}");
    assert!(out.contains("memory limiter: 2 soft-limit lines, 1 hard-limit line, 1 refusal"), "{out}");
    assert!(out.contains("HTTP 413: Requests are larger"), "{out}");
    assert!(out.contains("HTTP 409: The backend received the same spans twice"), "{out}");
}

#[test]
fn console_log_json() {
    let r = json_report(&["analyze", &fixture("collector-console.log")]);
    assert_eq!(
        statuses(&r),
        [[429, 2, 1536], [413, 3, 1280], [503, 1, 512], [409, 2, 192], [401, 1, 64], [400, 1, 32]]
    );
    let l = &r["logs"];
    assert_eq!(log_counts(l), [74, 22, 52, 12, 3916]);
    assert_eq!(l["by_status"][0]["exporters"], json!(["otlphttp/braintrust"]));
    assert_eq!(l["no_status"]["occurrences"], 1);
    assert_eq!(l["no_status"]["spans_dropped"], 100);
    assert_eq!(l["queue_full"], json!({"occurrences": 1, "spans_dropped": 200}));
    assert_eq!(l["memory_limiter"], json!({"soft_limit": 2, "hard_limit": 1, "refusals": 1}));
    assert_eq!(l["other_signals"], json!({"occurrences": 1, "items": 30}));
    assert_eq!(l["rejected"], json!({"occurrences": 0, "items": 0}));
    assert_eq!(r["spans_dropped"], json!({"logs": 3916, "metrics": null}));
    assert_eq!(r["metrics"], Value::Null);
    let causes: Vec<&str> =
        r["recommendations"].as_array().unwrap().iter().map(|c| c["cause"].as_str().unwrap()).collect();
    assert_eq!(
        causes,
        [
            "http_429",
            "http_413",
            "http_503",
            "http_409",
            "http_401",
            "http_400",
            "no_status",
            "queue_full",
            "memory_limiter"
        ]
    );
}

#[test]
fn json_log_from_stdin() {
    let input = std::fs::read(fixture("collector-json.log")).unwrap();
    let o = run_stdin(&["analyze", "-", "--json"], &input);
    assert_eq!(o.status.code(), Some(0), "{}", crate::util::stderr(&o));
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["sources"], json!({"logs": "-", "metrics": null}));
    assert_eq!(
        statuses(&r),
        [[413, 2, 1536], [429, 1, 256], [502, 1, 128], [504, 1, 64], [403, 1, 32], [404, 1, 16], [500, 1, 8]]
    );
    let l = &r["logs"];
    assert_eq!(log_counts(l), [21, 18, 3, 9, 2090]);
    assert_eq!(l["no_status"]["spans_dropped"], 50);
    assert_eq!(l["queue_full"], json!({"occurrences": 1, "spans_dropped": 0}));
    assert_eq!(l["rejected"], json!({"occurrences": 1, "items": 512}));
    assert_eq!(l["partial_success"], json!({"occurrences": 1, "items": 2}));
    assert_eq!(l["memory_limiter"], json!({"soft_limit": 1, "hard_limit": 1, "refusals": 1}));

    let text = stdout(&run_stdin(&["analyze", "-"], &input));
    assert!(text.contains("spans dropped: 2,090 (logs)"), "{text}");
    assert_eq!(row_numbers(&text, "404 "), [1, 16]);
}

#[test]
fn metrics_with_total_suffix() {
    let r = json_report(&["analyze", "--metrics", &fixture("metrics-total.prom")]);
    let m = &r["metrics"];
    assert_eq!(
        m["exporters"],
        json!([
            {"exporter": "debug", "sent": 100000, "send_failed": 0, "enqueue_failed": 0},
            {"exporter": "otlphttp/braintrust", "sent": 97398, "send_failed": 2090, "enqueue_failed": 512},
        ])
    );
    assert_eq!(
        [&m["sent_spans"], &m["send_failed_spans"], &m["enqueue_failed_spans"], &m["spans_dropped"]],
        [197398, 2090, 512, 2602]
    );
    assert_eq!([&m["receiver_accepted_spans"], &m["receiver_refused_spans"]], [100000, 300]);
    assert_eq!(r["spans_dropped"], json!({"logs": null, "metrics": 2602}));
    assert_eq!(r["logs"], Value::Null);

    let text = stdout(&run(&["analyze", "--metrics", &fixture("metrics-total.prom")]));
    assert!(text.contains("spans dropped: 2,602 (metrics: 2,090 send-failed + 512 enqueue-failed)"), "{text}");
    assert_eq!(row_numbers(&text, "otlphttp/braintrust"), [97398, 2090, 512]);
    assert_eq!(row_numbers(&text, "total"), [197398, 2090, 512]);
    assert!(text.contains("receivers: 100,000 accepted, 300 refused"), "{text}");
}

#[test]
fn legacy_metrics_agree_with_the_console_log() {
    let r = json_report(&["analyze", &fixture("collector-console.log"), "--metrics", &fixture("metrics-legacy.prom")]);
    let m = &r["metrics"];
    assert_eq!(
        m["exporters"],
        json!([{"exporter": "otlphttp/braintrust", "sent": 1200000, "send_failed": 3716, "enqueue_failed": 200}])
    );
    assert_eq!([&m["receiver_accepted_spans"], &m["receiver_refused_spans"]], [1203916, 0]);
    assert_eq!(r["spans_dropped"], json!({"logs": 3916, "metrics": 3916}));
}

#[test]
fn json_shape_is_stable() {
    let r = json_report(&["analyze", &fixture("collector-json.log"), "--metrics", &fixture("metrics-total.prom")]);
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&r), ["sources", "spans_dropped", "logs", "metrics", "recommendations"]);
    assert_eq!(
        keys(&r["logs"]),
        [
            "lines",
            "records",
            "unparsed",
            "drop_events",
            "spans_dropped",
            "by_status",
            "no_status",
            "queue_full",
            "memory_limiter",
            "rejected",
            "partial_success",
            "other_signals",
            "retries",
            "saturated"
        ]
    );
    assert_eq!(keys(&r["logs"]["by_status"][0]), ["status", "occurrences", "spans_dropped", "exporters"]);
    assert_eq!(keys(&r["logs"]["no_status"]), ["occurrences", "spans_dropped", "sample"]);
    assert_eq!(
        keys(&r["metrics"]),
        [
            "exporters",
            "sent_spans",
            "send_failed_spans",
            "enqueue_failed_spans",
            "spans_dropped",
            "receiver_accepted_spans",
            "receiver_refused_spans",
            "series",
            "saturated"
        ]
    );
    assert_eq!(keys(&r["recommendations"][0]), ["cause", "advice"]);
}

#[test]
fn bad_input_is_one_line_exit_2() {
    assert_bad_input(&run(&["analyze"]), &["LOGFILE", "--metrics"]);
    assert_bad_input(&run(&["analyze", "missing-collector.log"]), &["missing-collector.log"]);
    assert_bad_input(&run(&["analyze", "--metrics", "missing.prom"]), &["missing.prom"]);
    let not_metrics = fixture("collector-json.log");
    assert_bad_input(&run(&["analyze", "--metrics", &not_metrics]), &[&not_metrics, "otelcol_exporter"]);
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}/metrics");
    assert_bad_input(&run(&["analyze", &fixture("collector-json.log"), "--metrics", &url]), &[&url, "cannot connect"]);
}

/// Serves `body` as the answer to one GET on 127.0.0.1; returns the URL's `host:port`.
fn serve_once(body: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        let (conn, _) = listener.accept().expect("one connection");
        let mut reader = BufReader::new(conn.try_clone().expect("clone"));
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
            line.clear();
        }
        let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", body.len());
        let _ = (&conn).write_all(head.as_bytes()).and_then(|_| (&conn).write_all(body.as_bytes()));
    });
    addr
}

#[test]
fn metrics_url_credentials_are_never_printed() {
    let metrics = std::fs::read_to_string(fixture("metrics-total.prom")).unwrap();
    let url = format!("http://scraper:pa55w0rd@{}/metrics?api_token=t0k3n&x=1", serve_once(metrics.clone()));
    let r = json_report(&["analyze", "--metrics", &url]);
    let shown = r["sources"]["metrics"].as_str().unwrap().to_string();
    assert!(shown.ends_with("/metrics?api_token=<redacted>&x=1") && !shown.contains("scraper"), "{shown}");
    let url = format!("http://scraper:pa55w0rd@{}/metrics?api_token=t0k3n", serve_once(metrics));
    let text = stdout(&run(&["analyze", "--metrics", &url]));
    assert!(
        text.contains("\nmetrics http://127.0.0.1:") && !text.contains("pa55w0rd") && !text.contains("t0k3n"),
        "{text}"
    );
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let closed = format!("http://scraper:pa55w0rd@127.0.0.1:{port}/metrics?token=t0k3n");
    let o = run(&["analyze", "--metrics", &closed]);
    assert_bad_input(&o, &[&format!("--metrics http://127.0.0.1:{port}/metrics?token=<redacted>: cannot connect")]);
    let o = run(&["analyze", "--metrics", "http://scraper:pa55w0rd@[::1/metrics"]);
    assert_bad_input(&o, &["--metrics http://[::1/metrics: not an http(s) URL"]);
    assert!(!crate::util::stderr(&o).contains("pa55w0rd"));
}

#[test]
fn counts_that_saturate_are_said_to() {
    let dir = tempfile::tempdir().unwrap();
    let prom = dir.path().join("huge.prom");
    std::fs::write(&prom, "otelcol_exporter_send_failed_spans_total{exporter=\"e\"} 1e30\n").unwrap();
    let prom = prom.to_str().unwrap();
    let r = json_report(&["analyze", "--metrics", prom]);
    assert_eq!(
        (r["metrics"]["spans_dropped"].as_u64(), r["metrics"]["saturated"].as_bool()),
        (Some(u64::MAX), Some(true))
    );
    let text = stdout(&run(&["analyze", "--metrics", prom]));
    assert!(
        text.contains("note: some counts reached 18,446,744,073,709,551,615 (2^64 - 1) and stopped there"),
        "{text}"
    );
    let log = format!(
        "{{\"level\":\"error\",\"msg\":\"Exporting failed. Dropping data.\",\"error\":\"x\",\"dropped_items\":{}}}\n",
        u64::MAX
    );
    let r: Value =
        serde_json::from_slice(&run_stdin(&["analyze", "-", "--json"], format!("{log}{log}").as_bytes()).stdout)
            .unwrap();
    assert_eq!((r["logs"]["spans_dropped"].as_u64(), r["logs"]["saturated"].as_bool()), (Some(u64::MAX), Some(true)));
}

#[test]
fn a_fifo_or_a_directory_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("collector.log");
    mkfifo(&fifo);
    let (fifo, limit) = (fifo.to_str().unwrap(), Duration::from_secs(20));
    assert_bad_input(
        &run_within(limit, &["analyze", fifo]),
        &["cannot open the log", "collector.log: it is a named pipe (FIFO)"],
    );
    assert_bad_input(
        &run_within(limit, &["analyze", "--metrics", fifo]),
        &["--metrics: cannot read", "it is a named pipe (FIFO)"],
    );
    let d = dir.path().to_str().unwrap();
    assert_bad_input(&run_within(limit, &["analyze", d]), &["cannot open the log", "it is a directory"]);
}

#[test]
fn attached_drops_go_into_the_run_report_and_its_comparison() {
    let dir = tempfile::tempdir().unwrap();
    let base = crate::report::write_report(dir.path(), "bt.json", &crate::report::synthetic_report(&|_| true, 1.0));
    let new = crate::report::write_report(dir.path(), "ls.json", &crate::report::synthetic_report(&|_| true, 1.0));
    let (base, new) = (base.to_str().unwrap(), new.to_str().unwrap());
    let (console, legacy) = (fixture("collector-console.log"), fixture("metrics-legacy.prom"));
    let o = run(&["analyze", &console, "--metrics", &legacy, "--attach", base]);
    assert_eq!(o.status.code(), Some(0), "{}", crate::util::stderr(&o));
    assert!(stdout(&o).contains("3,916"), "the analysis is printed as usual: {}", stdout(&o));
    let json = fixture("collector-json.log");
    assert_eq!(run(&["analyze", &json, "--attach", new]).status.code(), Some(0));
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(base).unwrap()).unwrap();
    let c = &saved["collector"];
    assert_eq!((c["spans_dropped_log"].as_u64(), c["spans_dropped_metrics"].as_u64()), (Some(3916), Some(3916)));
    assert_eq!((c["by_cause"]["http 429"].as_u64(), c["by_cause"]["queue full"].as_u64()), (Some(1536), Some(200)));
    assert_eq!((c["by_cause"]["no status"].as_u64(), c["memory_limiter_refusals"].as_u64()), (Some(100), Some(1)));
    assert!(stdout(&run(&["report", base])).contains("collector (traceblast analyze: "));

    let o = run(&["report", "compare", base, new]);
    let out = stdout(&o);
    assert!(out.contains("  collector drops (analyze)\n"), "{out}");
    let line = |name: &str| out.lines().find(|l| l.trim_start().starts_with(name)).unwrap_or_default().to_string();
    let words = |l: String| l.split_whitespace().map(str::to_string).collect::<Vec<_>>();
    assert_eq!(words(line("spans dropped (log)"))[3..], ["3,916", "2,090", "-1,826"], "{out}");
    assert_eq!(words(line("http 429"))[2..], ["1,536", "256", "-1,280"], "{out}");
    assert!(!out.contains("spans dropped (metrics)"), "only one run read metrics: {out}");
    let j: Value = serde_json::from_slice(&run(&["report", "compare", base, new, "--json"]).stdout).unwrap();
    assert_eq!(j["collector"]["by_cause"]["http 413"]["new"], 1536);

    // Several runs: each shows its own figures, `-` where no analysis was attached.
    let bare = crate::report::write_report(dir.path(), "none.json", &crate::report::synthetic_report(&|_| true, 1.0));
    let out = stdout(&run(&["report", "compare", base, bare.to_str().unwrap(), new]));
    let words = |name: &str| -> Vec<String> {
        let l = out.lines().find(|l| l.trim_start().starts_with(name)).unwrap_or_default();
        l.split_whitespace().map(str::to_string).collect()
    };
    assert_eq!(words("spans dropped (log)")[3..], ["3,916", "-", "2,090"], "{out}");
    assert_eq!(words("spans dropped (metrics)")[3..], ["3,916", "-", "not", "read"], "{out}");
    assert_eq!(words("http 401")[2..], ["64", "-", "0"], "{out}");

    // A file that is not a report is refused before the analysis, and left as it was.
    let junk = dir.path().join("junk.json");
    std::fs::write(&junk, "{}").unwrap();
    assert_bad_input(&run(&["analyze", &console, "--attach", junk.to_str().unwrap()]), &["junk.json"]);
    assert_eq!(std::fs::read_to_string(&junk).unwrap(), "{}");
}
