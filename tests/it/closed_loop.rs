//! `--rate max` (the closed loop of replay/closed.rs) over HTTP/1.1 and HTTP/2: exact
//! accounting against what the sink received, every stop condition, an interrupt, a stalled
//! server.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use traceblast::sink::{self, Faults, SinkPlan, Stall};

use crate::replay::{corpus, replay};
use crate::util::*;

fn url(s: &sink::Running) -> String {
    format!("http://{}/v1/traces", s.addr)
}

fn n(r: &serde_json::Value, k: &str) -> u64 {
    r["requests"][k].as_u64().unwrap_or_else(|| panic!("requests.{k} in {r}"))
}

/// `scheduled == ok + failed + missed`, and the sink answered exactly the requests counted ok.
fn exact(r: &serde_json::Value, sink: &sink::Summary) {
    assert_eq!(n(r, "scheduled"), n(r, "ok") + n(r, "failed") + n(r, "missed"), "{}", r["requests"]);
    assert_eq!(n(r, "ok"), sink.requests, "ok requests == requests the sink answered");
    assert_eq!(r["spans"]["ok"].as_u64().unwrap(), sink.spans, "acknowledged spans == spans received");
}

const PROTOCOLS: [&[&str]; 2] = [&[], &["--http2"]];

#[test]
fn every_stop_condition_accounts_exactly_over_http1_and_http2() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let c = corpus(d, "40", &["--mix", "simple=1"]);
    for proto in PROTOCOLS {
        let with = |extra: &[&str]| {
            let mut a = vec!["--rate", "max", "--connections", "4", "--max-in-flight", "8", "-q"];
            a.extend_from_slice(proto);
            a.extend_from_slice(extra);
            a.into_iter().map(String::from).collect::<Vec<_>>()
        };
        let go = |extra: &[&str]| {
            let s = sink::spawn(SinkPlan::default()).unwrap();
            let a = with(extra);
            let a: Vec<&str> = a.iter().map(String::as_str).collect();
            let (o, r) = replay(d, &c, &url(&s), &a, &[]);
            assert!(o.status.success(), "{proto:?} {extra:?}: {}", stderr(&o));
            let sum = s.shutdown();
            exact(&r, &sum);
            r
        };
        // The corpus, once: exactly its 40 records.
        let r = go(&[]);
        assert_eq!(
            (n(&r, "scheduled"), n(&r, "ok"), r["run"]["ended_by"].as_str()),
            (40, 40, Some("corpus")),
            "{proto:?}"
        );
        // --requests: exactly that many, across passes.
        let r = go(&["--requests", "150"]);
        assert_eq!(
            (n(&r, "scheduled"), n(&r, "ok"), r["run"]["ended_by"].as_str()),
            (150, 150, Some("requests")),
            "{proto:?}"
        );
        // --duration: stops taking requests after it; what was taken is all answered.
        let started = Instant::now();
        let r = go(&["--duration", "1s"]);
        assert_eq!(r["run"]["ended_by"], "duration", "{proto:?}");
        assert!(started.elapsed() < Duration::from_secs(10), "{proto:?}: stopped after the duration");
        assert_eq!(n(&r, "failed") + n(&r, "missed"), 0, "{proto:?}: {}", r["requests"]);
        assert!(n(&r, "ok") > 40, "{proto:?}: loops on past one pass within 1 s: {}", r["requests"]);
        let achieved = r["rate"]["achieved"].as_f64().unwrap();
        assert!(achieved > 40.0, "{proto:?}: the achieved rate is measured: {achieved}");
    }
}

#[test]
fn an_interrupt_stops_the_closed_loop_with_exact_accounting() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let c = corpus(d, "20", &["--mix", "simple=1"]);
    for proto in PROTOCOLS {
        let s = sink::spawn(SinkPlan::default()).unwrap();
        let report = d.join("run.json");
        let child = Command::new(bin())
            .args(["replay", c.to_str().unwrap(), "--endpoint", &url(&s), "--rate", "max", "--loops", "inf", "-q"])
            .args(["--report", report.to_str().unwrap()])
            .args(proto)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        assert!(s.wait_until(Duration::from_secs(20), |x| x.requests >= 100), "traffic started");
        assert!(Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap().success());
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(130), "{proto:?}");
        assert!(stderr(&out).contains("interrupted: stopping"), "{}", stderr(&out));
        let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
        assert_eq!(r["run"]["ended_by"], "interrupted");
        let sum = s.shutdown();
        assert_eq!(n(&r, "scheduled"), n(&r, "ok") + n(&r, "failed") + n(&r, "missed"));
        // Requests in flight at the interrupt finish within the grace period.
        assert_eq!(n(&r, "ok"), sum.requests, "{proto:?}: {}", r["requests"]);
        assert!(n(&r, "ok") >= 100);
    }
}

#[test]
fn a_stalled_server_turns_into_timeouts_not_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    let d: &Path = dir.path();
    let c = corpus(d, "20", &["--mix", "simple=1"]);
    for proto in PROTOCOLS {
        // The sink stops answering for 3 s, 200 ms after the first request; each attempt has
        // 500 ms. Requests taken during the stall time out; those after it succeed.
        let faults = Faults {
            stall: Some(Stall { duration: Duration::from_secs(3), after: Duration::from_millis(200) }),
            ..Faults::default()
        };
        let s = sink::spawn(SinkPlan { faults, ..SinkPlan::default() }).unwrap();
        let started = Instant::now();
        let mut args = vec!["--rate", "max", "--duration", "4s", "--timeout", "500ms", "--connections", "4", "-q"];
        args.extend_from_slice(proto);
        args.extend(["--max-in-flight", "4", "--min-success", "0"]);
        let (o, r) = replay(d, &c, &url(&s), &args, &[]);
        assert!(o.status.success(), "{proto:?}: {}", stderr(&o));
        assert!(started.elapsed() < Duration::from_secs(12), "{proto:?}: bounded by --duration and --timeout");
        assert_eq!(n(&r, "scheduled"), n(&r, "ok") + n(&r, "failed") + n(&r, "missed"));
        let timeouts = r["errors"]["timeout"].as_u64().unwrap_or(0);
        assert!(timeouts >= 4, "{proto:?}: the stall shows as timeouts: {}", r["errors"]);
        assert!(n(&r, "ok") > 0, "{proto:?}: requests before and after the stall succeed");
        // The stalled requests were received but answered after the client gave up.
        let sum = s.shutdown();
        assert!(sum.requests >= n(&r, "ok"), "{proto:?}");
    }
}
