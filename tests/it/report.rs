//! Replay reports: the JSON shape other tools rely on (from a real `replay` against a local
//! endpoint, and from a made-up run with errors), and `traceblast report` — show, `--html`,
//! compare with its thresholds and exit codes, merge (exact), and one-line errors.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;
use traceblast::report::model::{CorpusInfo, RunInfo};
use traceblast::report::{self, Context, Render, Report};
use traceblast::stats::{Completion, ErrorClass, Outcome, Stats};

use crate::util::{assert_bad_input, assert_usage_error, run, run_in, stderr, stdout};

const SCENARIOS: [&str; 4] = ["simple_query", "single_service_search", "delegated_booking", "multi_service_complex"];

/// The synthetic run's start: 2026-11-18T11:06:40.400Z, mid-second like a real run's.
pub const SYNTHETIC_START_MS: u64 = 1_795_000_000_400;

/// A made-up run measured the way `replay` measures: 60 s ramping up to 200 requests/s over
/// four scenarios, with a stall (seconds 30-34: corrected latency jumps, some requests
/// missed), a burst of 503s (seconds 40-42), scattered 429s and timeouts. `keep(i)` selects
/// the requests this machine sent (all, or one shard's); `slowdown` scales every latency.
pub fn synthetic_stats(keep: &dyn Fn(u64) -> bool, slowdown: f64) -> Stats {
    let start = Instant::now();
    let wall = SystemTime::UNIX_EPOCH + Duration::from_millis(SYNTHETIC_START_MS);
    let mut s = Stats::new(start, wall);
    let mut i = 0u64;
    for sec in 0..60u64 {
        let n = (20 + sec * 10).min(200);
        for j in 0..n {
            i += 1;
            if !keep(i) {
                continue;
            }
            let scenario = [0u8, 0, 1, 0, 1, 2, 0, 3][(i % 8) as usize];
            let due = start + Duration::from_millis(sec * 1000 + j * 1000 / n);
            s.scheduled(scenario, due, 30_000 + u64::from(scenario) * 100_000 + i % 1000);
            s.lateness(Duration::from_micros(20 + (i * 37) % 400));
            let stalled = (30..35).contains(&sec);
            if stalled && i.is_multiple_of(10) {
                s.missed(due);
                continue;
            }
            // A spread of latencies from a cheap hash: most near the scenario's base, a long tail.
            let u = (i.wrapping_mul(2_654_435_761) % 1000) as f64 / 1000.0;
            let base_ms = [30.0, 80.0, 150.0, 300.0][usize::from(scenario)];
            let service = Duration::from_secs_f64(base_ms * (0.6 + 4.0 * u.powi(6)) * slowdown / 1000.0);
            let queued = if stalled { Duration::from_millis(1500 - (sec - 30) * 250) } else { Duration::ZERO };
            let outcome = if (40..43).contains(&sec) && i.is_multiple_of(3) {
                Outcome::Status(503)
            } else if i.is_multiple_of(97) {
                Outcome::Status(429)
            } else if i.is_multiple_of(331) {
                Outcome::Error(ErrorClass::Timeout)
            } else {
                Outcome::Status(200)
            };
            s.complete(&Completion {
                scenario,
                intended: due,
                sent: due + queued,
                done: due + queued + service,
                outcome,
                attempts: 1,
                bytes_wire: 20_000 + i % 5000,
                bytes_raw: 30_000 + i % 1000,
                spans: 5 + u32::from(scenario) * 10,
                traces: 1,
                rejected_spans: 0,
                message: None,
            });
        }
    }
    s
}

/// The report of [`synthetic_stats`], as `replay` would build it.
pub fn synthetic_report(keep: &dyn Fn(u64) -> bool, slowdown: f64) -> Report {
    let stats = synthetic_stats(keep, slowdown);
    // The run ends mid-way through the second of its last completion.
    let last = stats.series.keys().last().copied().unwrap_or(SYNTHETIC_START_MS / 1000);
    let duration_s = ((last * 1000 + 500 - SYNTHETIC_START_MS) as f64) / 1000.0;
    let options = [("rate", "200"), ("ramp_up", "18s"), ("connections", "64")];
    let ctx = Context {
        run: RunInfo {
            started_at: "2026-11-18T11:06:40.400Z".into(),
            duration_s,
            ended_by: "duration".into(),
            error: None,
            id_key: Some("00000000075bcd15".into()),
            endpoint: "https://api.example.com/otel/v1/traces".into(),
            platform: "braintrust".into(),
            headers: vec![
                ("authorization".into(), "<redacted>".into()),
                ("content-type".into(), "application/x-protobuf".into()),
            ],
            options: options.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        },
        corpus: CorpusInfo {
            path: "corpus.zst".into(),
            seed: 42,
            count: 10_000,
            records: 10_000,
            scenario_set_hash: "55841c823d606d00".into(),
            generator_version: 1,
            mix: "simple_query=0.4,single_service_search=0.3,delegated_booking=0.2,multi_service_complex=0.1".into(),
        },
        scenario_names: SCENARIOS.map(String::from).to_vec(),
        target_rate: Some(200.0),
        achieved_rate: stats.scheduled as f64 / 60.0,
        interrupted: false,
        cancelled: 0,
        stages: Vec::new(),
    };
    report::build(&stats, ctx)
}

/// Writes `r` as JSON into `dir/name` and returns the path.
pub fn write_report(dir: &Path, name: &str, r: &Report) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, report::json::Json.render(r)).expect("report written");
    path
}

fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 temp path")
}

/// An OTLP/HTTP endpoint on 127.0.0.1 that answers every request with an empty 200.
fn serve_ok() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/v1/traces", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            std::thread::spawn(move || answer_ok(conn));
        }
    });
    url
}

/// Reads HTTP/1.1 requests (Content-Length bodies) off one connection, answering each with 200.
fn answer_ok(conn: TcpStream) {
    let mut out = conn.try_clone().expect("clone stream");
    let mut reader = BufReader::new(conn);
    loop {
        let mut length = 0usize;
        let mut line = String::new();
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if line == "\r\n" {
                break;
            }
            if let Some((k, v)) = line.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err()
            || out.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").is_err()
        {
            return;
        }
    }
}

/// Asserts the keys and value types of a replay report that other tools read.
fn assert_shape(r: &Value) {
    let count = |path: &str| {
        let v = path.split('.').fold(r, |v, k| &v[k]);
        v.as_u64().unwrap_or_else(|| panic!("{path} is not a count: {v}"))
    };
    assert_eq!(count("report_version"), 1);
    let [scheduled, ok, failed, missed] =
        ["scheduled", "ok", "failed", "missed"].map(|k| count(&format!("requests.{k}")));
    assert_eq!(scheduled, ok + failed + missed, "every scheduled request lands in one bucket");
    assert!(r["rate"]["target"].is_f64() || r["rate"]["target"].is_null(), "rate.target: {}", r["rate"]);
    assert!(r["rate"]["achieved"].is_number(), "rate.achieved: {}", r["rate"]);
    for side in ["corrected", "uncorrected"] {
        let p: Vec<u64> =
            ["p50", "p90", "p99", "p999", "max"].map(|k| count(&format!("latency_us.{side}.{k}"))).to_vec();
        assert!(p.windows(2).all(|w| w[0] <= w[1]), "latency_us.{side} percentiles in order: {p:?}");
    }
    for k in ["p50", "p99", "max"] {
        count(&format!("pacer_lateness_us.{k}"));
    }
    count("bytes.sent");
    count("spans.ok");
    let status = r["status"].as_object().expect("status is an object");
    for (code, n) in status {
        assert!(code.parse::<u16>().is_ok_and(|c| (100..600).contains(&c)), "status key {code}");
        assert!(n.is_u64(), "status.{code}");
    }
    let errors: u64 = r["errors"].as_object().expect("errors is an object").values().map(|v| v.as_u64().unwrap()).sum();
    let by_status: u64 = status.values().map(|v| v.as_u64().unwrap()).sum();
    assert_eq!(by_status + errors, ok + failed, "statuses and errors account for every sent request");
    let scenarios = r["scenarios"].as_object().expect("scenarios is an object");
    assert!(!scenarios.is_empty());
    for (name, sc) in scenarios {
        for k in ["requests", "ok", "p50_us"] {
            assert!(sc[k].is_u64(), "scenarios.{name}.{k}: {sc}");
        }
        assert!(sc["avg_bytes"].is_number(), "scenarios.{name}.avg_bytes: {sc}");
    }
    let series = r["series"].as_array().expect("series is an array");
    assert!(!series.is_empty());
    for p in series {
        for k in ["t", "scheduled", "ok", "failed", "missed", "p50_us", "p99_us"] {
            assert!(p[k].is_u64(), "series[].{k}: {p}");
        }
        assert!(p["status"].is_object(), "series[].status: {p}");
    }
    let per_second: u64 = series.iter().map(|p| p["scheduled"].as_u64().unwrap()).sum();
    assert_eq!(per_second, scheduled, "the series adds up to the totals");
}

#[test]
fn json_shape_of_a_run_with_errors() {
    let r = synthetic_report(&|_| true, 1.0);
    assert!(r.requests.missed > 0 && r.requests.failed > 0 && r.errors.contains_key("timeout"));
    assert_shape(&serde_json::from_str(&report::json::Json.render(&r)).unwrap());
}

#[test]
fn replay_writes_json_and_html_reports() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = format!("{}/fixtures/corpora/simple_query.zst", env!("CARGO_MANIFEST_DIR"));
    let url = serve_ok();
    let o = run_in(
        dir.path(),
        &["replay", &corpus, "--endpoint", &url, "--rate", "400", "--requests", "200", "-q"]
            .into_iter()
            .chain(["--report", "run.json", "--html", "run.html"])
            .collect::<Vec<_>>(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let json: Value = serde_json::from_slice(&std::fs::read(dir.path().join("run.json")).unwrap()).unwrap();
    assert_shape(&json);
    assert_eq!((json["requests"]["ok"].as_u64(), json["status"]["200"].as_u64()), (Some(200), Some(200)));
    let html = std::fs::read_to_string(dir.path().join("run.html")).unwrap();
    for id in ["latency", "status", "distribution"] {
        let points = crate::html::chart_attr(&html, id, "data-points").parse::<u64>().unwrap();
        assert!(points > 0, "chart {id} has no data");
    }
    // 200 requests at 400/s last half a second: only partial seconds, so no rate line, and
    // the rate charts say why instead of drawing a dip.
    for id in ["throughput", "spans", "bytes"] {
        let svg = crate::html::chart_svg(&html, id);
        assert!(svg.contains(r#"data-points="0""#) && svg.contains("no whole second to draw a rate from"), "{svg}");
    }
}

#[test]
fn show_reprints_the_text_report_and_writes_html() {
    let dir = tempfile::tempdir().unwrap();
    let r = synthetic_report(&|_| true, 1.0);
    let path = write_report(dir.path(), "run.json", &r);
    let html = dir.path().join("run.html");
    let o = run(&["report", s(&path), "--html", s(&html)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), report::text::Text.render(&r));
    assert_eq!(std::fs::read_to_string(&html).unwrap(), report::html::Html.render(&r));
    let o = run(&["report", "show", s(&path)]);
    assert_eq!(stdout(&o), report::text::Text.render(&r), "`report show FILE` is `report FILE`");
}

#[test]
fn compare_passes_within_thresholds_and_fails_past_them() {
    let dir = tempfile::tempdir().unwrap();
    let base = write_report(dir.path(), "base.json", &synthetic_report(&|_| true, 1.0));
    let slow = write_report(dir.path(), "slow.json", &synthetic_report(&|_| true, 1.5));
    let all = ["--max-p50-regression", "0%", "--max-p99-regression", "0", "--min-success", "90"];
    let o = run(&[&["report", "compare", s(&base), s(&base)][..], &all, &["--min-rate-ratio", "1"]].concat());
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).ends_with("result: pass (4 thresholds checked)\n"), "{}", stdout(&o));

    let o = run(&["report", "compare", s(&base), s(&slow), "--max-p99-regression", "10%", "--max-error-rate", "5"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("  FAIL  --max-p99-regression 10 %: p99 "), "{out}");
    assert!(out.contains("  ok    --max-error-rate 5 %: error rate "), "{out}");
    assert!(out.ends_with("result: FAIL, 1 crossed: --max-p99-regression\n"), "{out}");
    assert!(out.contains("    503 ") && out.contains("    timeout "), "failures by status: {out}");

    let o = run(&["report", "compare", s(&base), s(&slow), "--max-p99-regression", "10%", "--json"]);
    assert_eq!(o.status.code(), Some(1));
    let c: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(c["passed"], false);
    assert_eq!(c["checks"][0]["flag"], "--max-p99-regression");
    assert!(c["checks"][0]["value"].as_f64().unwrap() > 10.0);
    assert!(c["p99_us"]["new"].as_u64() > c["p99_us"]["base"].as_u64());
    for k in ["success_rate", "error_rate", "achieved_rate", "ok_per_s", "p50_us", "p999_us", "errors", "scenarios"] {
        assert!(!c[k].is_null(), "comparison JSON lacks {k}");
    }
    assert_eq!(c["scenarios"]["simple_query"]["requests"]["delta"], 0);
}

#[test]
fn compare_of_several_runs_judges_each_against_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let labelled = |platform: &str, slower: f64| {
        let mut r = synthetic_report(&|_| true, slower);
        r.run.platform = platform.into();
        r
    };
    let a = write_report(dir.path(), "a.json", &labelled("braintrust", 1.0));
    let b = write_report(dir.path(), "b.json", &labelled("langsmith", 1.05));
    let c = write_report(dir.path(), "c.json", &labelled("phoenix", 1.5));
    let page = dir.path().join("cmp.html");
    let args = ["report", "compare", s(&a), s(&b), s(&c), "--max-p99-regression", "10%"];
    let o = run(&[&args[..], &["--html", s(&page)]].concat());
    assert_eq!(o.status.code(), Some(1), "phoenix's p99 is 50 % above BASE's: {}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("traceblast report compare: 3 runs, each against BASE (the first)\n"), "{out}");
    let head = out.lines().find(|l| l.contains("braintrust") && l.contains("phoenix") && !l.contains("→")).unwrap();
    assert!(
        head.find("braintrust") < head.find("langsmith") && head.find("langsmith") < head.find("phoenix"),
        "{head}"
    );
    assert!(out.contains("  ok    langsmith: --max-p99-regression 10 %: p99 "), "{out}");
    assert!(out.contains("  FAIL  phoenix: --max-p99-regression 10 %: p99 "), "{out}");
    assert!(out.ends_with("result: FAIL, 1 of 2 crossed, by phoenix\n"), "{out}");
    let j = run(&[&args[..], &["--json"]].concat());
    let v: Value = serde_json::from_slice(&j.stdout).unwrap();
    assert_eq!((v["runs"].as_u64(), v["passed"].as_bool()), (Some(3), Some(false)));
    let pairs = v["pairs"].as_array().unwrap();
    assert_eq!(
        pairs.iter().map(|p| p["new"]["platform"].as_str().unwrap()).collect::<Vec<_>>(),
        ["langsmith", "phoenix"]
    );
    assert!(pairs.iter().all(|p| p["base"]["platform"] == "braintrust"));
    assert_eq!(pairs.iter().map(|p| p["passed"].as_bool().unwrap()).collect::<Vec<_>>(), [true, false]);
    assert!(pairs[1]["checks"][0]["detail"].as_str().unwrap().starts_with("p99 "), "{}", pairs[1]);
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("<th>braintrust</th><th>langsmith</th><th>phoenix</th>"), "runs labelled by target");
    assert!(html.contains(r#"id="cmp-latency" data-points"#) && html.contains("<td>phoenix</td>"));
    // At most 8 runs; at least 2.
    let nine: Vec<&str> = std::iter::repeat_n(s(&a), 9).collect();
    let o = run(&[&["report", "compare"][..], &nine].concat());
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(run(&["report", "compare", s(&a)]).status.code(), Some(2));
}

#[test]
fn compare_writes_its_page_and_prints_the_same_text() {
    let dir = tempfile::tempdir().unwrap();
    let (b, n) = (synthetic_report(&|_| true, 1.0), synthetic_report(&|_| true, 1.5));
    let base = write_report(dir.path(), "base.json", &b);
    let slow = write_report(dir.path(), "slow.json", &n);
    let page = dir.path().join("cmp.html");
    let args = ["report", "compare", s(&base), s(&slow), "--max-p99-regression", "10%"];
    let plain = run(&args);
    let o = run(&[&args[..], &["--html", s(&page)]].concat());
    assert_eq!(o.status.code(), Some(1), "a crossed threshold still exits 1: {}", stderr(&o));
    assert_eq!(stdout(&o), stdout(&plain), "--html leaves the text as it is");
    let t = report::compare::Thresholds { max_p99_regression: Some(10.0), ..Default::default() };
    let runs = [(s(&base).to_string(), b.clone()), (s(&slow).to_string(), n.clone())];
    let c = report::compare::compare_all(&runs, &t);
    let expected = report::html_compare::ComparePage { runs: &[b, n] }.render(&c);
    assert_eq!(std::fs::read_to_string(&page).unwrap(), expected);

    // The page's path is checked before the reports are read: a bad one is the error, and
    // nothing is printed.
    let missing = dir.path().join("no-such-dir").join("cmp.html");
    let o = run(&["report", "compare", s(&base), "absent.json", "--html", s(&missing)]);
    assert_bad_input(&o, &["--html", "no-such-dir", "does not exist"]);
    assert_eq!(stdout(&o), "");
}

#[test]
fn merge_is_exact() {
    let dir = tempfile::tempdir().unwrap();
    let one = synthetic_report(&|_| true, 1.0);
    let shards: Vec<PathBuf> = (0..3u64)
        .map(|k| write_report(dir.path(), &format!("shard{k}.json"), &synthetic_report(&move |i| i % 3 == k, 1.0)))
        .collect();
    let out = dir.path().join("all.json");
    let mut args = vec!["report", "merge"];
    args.extend(shards.iter().map(|p| s(p)));
    args.extend(["-o", s(&out)]);
    let o = run(&args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stderr(&o), "", "shards of one run merge without warnings");
    let m = report::json::parse(&std::fs::read_to_string(&out).unwrap(), "all.json").unwrap();
    assert_eq!(m.requests, one.requests);
    assert_eq!(m.latency_us, one.latency_us, "percentiles of the merged histograms");
    assert_eq!(m.pacer_lateness_us, one.pacer_lateness_us);
    assert_eq!((&m.status, &m.errors), (&one.status, &one.errors));
    assert_eq!(m.scenarios, one.scenarios);
    assert_eq!(m.series, one.series, "seconds aligned, counts summed, per-second percentiles recomputed");
    assert_eq!(m.merged_from.len(), 3);
    assert_eq!(stdout(&o), report::text::Text.render(&m));
}

#[test]
fn bad_files_and_flags_get_one_line_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    let good = write_report(dir.path(), "good.json", &synthetic_report(&|_| true, 1.0));
    let junk = dir.path().join("junk.json");
    std::fs::write(&junk, "hello").unwrap();
    let future = dir.path().join("future.json");
    std::fs::write(&future, r#"{"report_version": 99, "requests": {}}"#).unwrap();
    let missing = dir.path().join("missing.json");
    let out = dir.path().join("out.json");

    assert_bad_input(&run(&["report", s(&missing)]), &["cannot read", "missing.json"]);
    assert_bad_input(&run(&["report", s(&junk)]), &["junk.json: not a traceblast report"]);
    assert_bad_input(&run(&["report", s(&future)]), &["future.json: report_version 99 is not supported"]);
    assert_bad_input(&run(&["report", "compare", s(&good), s(&junk)]), &["junk.json"]);
    assert_bad_input(
        &run(&["report", "compare", s(&good), s(&good), "--min-success", "120%"]),
        &["--min-success '120%'", "between 0 and 100"],
    );
    assert_bad_input(
        &run(&["report", "compare", s(&good), s(&good), "--max-p99-regression", "lots"]),
        &["--max-p99-regression 'lots'"],
    );
    assert_bad_input(&run(&["report", "merge", s(&good), s(&future), "-o", s(&out)]), &["future.json"]);
    assert!(!out.exists(), "a failed merge writes nothing");
    assert_usage_error(&run(&["report", "merge", s(&good), "-o", s(&out)]), &["2 values required"]);
}

#[test]
fn a_report_from_an_earlier_build_still_reads() {
    let fixture = format!("{}/fixtures/reports/replay-v1.json", env!("CARGO_MANIFEST_DIR"));
    let o = run(&["report", &fixture]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("1,000 scheduled · 1,000 ok"), "{}", stdout(&o));
    let gates = ["--max-p50-regression", "0", "--max-p99-regression", "0", "--min-rate-ratio", "1"];
    let o = run(&[&["report", "compare", &fixture, &fixture][..], &gates].concat());
    assert_eq!(o.status.code(), Some(0), "a run compared with itself passes: {}", stdout(&o));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("twice.json");
    let o = run(&["report", "merge", &fixture, &fixture, "-o", s(&out)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let (one, twice) = (
        report::json::parse(&std::fs::read_to_string(&fixture).unwrap(), "fixture").unwrap(),
        report::json::parse(&std::fs::read_to_string(&out).unwrap(), "twice").unwrap(),
    );
    assert_eq!(twice.requests.ok, 2 * one.requests.ok);
    let (a, b) = (one.latency_us.corrected, twice.latency_us.corrected);
    assert_eq!(
        (a.p50, a.p99, a.p999, a.max),
        (b.p50, b.p99, b.p999, b.max),
        "doubling every count moves no percentile"
    );
}

/// Runs `traceblast args...` and fails the test if it has not finished within `limit` (a FIFO
/// opened for reading would block it forever). For commands with little output.
pub fn run_within(limit: Duration, args: &[&str]) -> std::process::Output {
    let mut child = std::process::Command::new(crate::util::bin())
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("traceblast runs");
    let deadline = Instant::now() + limit;
    while child.try_wait().expect("child status").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("traceblast {args:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().expect("output collected")
}

/// A named pipe at `path` (nobody ever writes to it).
pub fn mkfifo(path: &Path) {
    assert!(std::process::Command::new("mkfifo").arg(path).status().expect("mkfifo runs").success());
}

#[test]
fn a_fifo_or_a_directory_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe.json");
    mkfifo(&fifo);
    let good = write_report(dir.path(), "good.json", &synthetic_report(&|_| true, 1.0));
    let limit = Duration::from_secs(20);
    assert_bad_input(
        &run_within(limit, &["report", s(&fifo)]),
        &["cannot read", "pipe.json: it is a named pipe (FIFO)"],
    );
    assert_bad_input(
        &run_within(limit, &["report", "compare", s(&good), s(&fifo)]),
        &["pipe.json: it is a named pipe (FIFO)"],
    );
    assert_bad_input(&run_within(limit, &["report", s(dir.path())]), &["it is a directory"]);
}

/// A V2 histogram header whose payload length says 4 GiB: 60 base64 characters that made
/// hdrhistogram allocate 4.2 GB.
fn four_gib_histogram() -> String {
    use base64::Engine;
    let mut h = Vec::new();
    for word in [0x1c84_9313u32, u32::MAX, 0, 3] {
        h.extend(word.to_be_bytes());
    }
    h.extend(1u64.to_be_bytes());
    h.extend(3_600_000_000u64.to_be_bytes());
    h.extend(1.0f64.to_be_bytes());
    base64::engine::general_purpose::STANDARD.encode(h)
}

#[test]
fn a_histogram_that_would_allocate_gigabytes_is_refused_by_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let good = write_report(dir.path(), "good.json", &synthetic_report(&|_| true, 1.0));
    let mut r = synthetic_report(&|_| true, 1.0);
    r.histograms.lateness = four_gib_histogram();
    let bad = write_report(dir.path(), "bad.json", &r);
    let (html, out) = (dir.path().join("bad.html"), dir.path().join("merged.json"));
    let named = "bad.json: histograms.lateness: histogram header states 4294967295 payload bytes, 0 follow";
    assert_bad_input(&run(&["report", s(&bad)]), &[named]);
    assert_bad_input(&run(&["report", s(&bad), "--html", s(&html)]), &[named]);
    assert_bad_input(&run(&["report", "compare", s(&good), s(&bad)]), &[named]);
    assert_bad_input(&run(&["report", "merge", s(&good), s(&bad), "-o", s(&out)]), &[named]);
    assert!(!html.exists() && !out.exists(), "nothing is written");

    let mut r = synthetic_report(&|_| true, 1.0);
    r.series[3].t = r.series[2].t;
    let unordered = write_report(dir.path(), "unordered.json", &r);
    assert_bad_input(&run(&["report", s(&unordered)]), &["unordered.json: series[3].t", "seconds must increase"]);
}

#[test]
fn merge_refuses_outcomes_that_do_not_add_up() {
    let dir = tempfile::tempdir().unwrap();
    let good = write_report(dir.path(), "good.json", &synthetic_report(&|_| true, 1.0));
    let mut r = synthetic_report(&|_| true, 1.0);
    r.requests.ok += 1;
    let edited = write_report(dir.path(), "edited.json", &r);
    let out = dir.path().join("merged.json");
    assert_bad_input(
        &run(&["report", "merge", s(&good), s(&edited), "-o", s(&out)]),
        &["edited.json: requests.scheduled is", "ok + failed + missed"],
    );
    assert!(!out.exists());
}
