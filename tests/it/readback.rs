//! `verify --from jaeger|tempo|langfuse|langsmith|braintrust`, each against an in-process fake
//! answering as the platform's documented API does (paths, JSON shapes, ID encodings, 404 for
//! an unknown trace, 401 without the right credentials). The fake stores what a run sent, as
//! its sent log lists it, minus 3 whole traces and 2 spans of a fourth, with one span of a
//! fifth stored twice: verify must count exactly that. These are contract tests: the adapters
//! were built from the platforms' docs and sources, not run against the live services.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use base64::Engine;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use traceblast::sink::SinkPlan;

use crate::servers::{Running, h1::response, spawn};
use crate::util::{bin, stderr, stdout};

/// One request as the fake saw it.
struct Req {
    method: String,
    /// Path and query, as sent.
    target: String,
    /// Lowercased names.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Req {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

type Handler = Arc<dyn Fn(&Req) -> (u16, Value) + Send + Sync>;

/// An HTTP/1.1 server on 127.0.0.1 answering every request with `handler` (keep-alive).
fn fake(handler: Handler) -> Running {
    spawn(move |mut stream, counts| {
        let handler = handler.clone();
        async move {
            let mut buf = Vec::new();
            loop {
                let Some(end) = read_until_head(&mut stream, &mut buf).await else { return };
                let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                let mut lines = head.split("\r\n");
                let mut first = lines.next().unwrap_or_default().split(' ');
                let (method, target) = (first.next().unwrap_or_default().to_string(), first.next().unwrap_or_default());
                let headers: Vec<(String, String)> = lines
                    .filter_map(|l| l.split_once(':'))
                    .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
                    .collect();
                let len: usize =
                    headers.iter().find(|(k, _)| k == "content-length").map_or(0, |(_, v)| v.parse().unwrap_or(0));
                buf.drain(..end + 4);
                while buf.len() < len {
                    if stream.read_buf(&mut buf).await.unwrap_or(0) == 0 {
                        return;
                    }
                }
                let body: Vec<u8> = buf.drain(..len).collect();
                counts.requests.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let req = Req { method, target: target.to_string(), headers, body };
                let (status, answer) = handler(&req);
                counts.answer(status);
                let bytes = response(status, &[("content-type", "application/json")], answer.to_string().as_bytes());
                if stream.write_all(&bytes).await.is_err() {
                    return;
                }
            }
        }
    })
}

async fn read_until_head(stream: &mut tokio::net::TcpStream, buf: &mut Vec<u8>) -> Option<usize> {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            return Some(end);
        }
        if buf.len() > 64 * 1024 || stream.read_buf(buf).await.ok()? == 0 {
            return None;
        }
    }
}

/// One stored span: its 16 hex digits and end (Unix ms).
type Span = (String, u64);

/// What the fake platform holds, by trace ID, and what verify must therefore find.
struct Store {
    traces: BTreeMap<u128, Vec<Span>>,
    /// Acknowledged traces and spans sent.
    sent: (u64, u64),
    /// Spans the store lacks.
    lost_spans: u64,
}

/// A run of 20 traces replayed into the sink, and the store built from its sent log.
fn run_and_store(dir: &Path) -> (PathBuf, Store) {
    let c = dir.join("c.zst");
    let o = crate::util::run(&["gen", "-q", "--count", "20", "--mix", "simple=1", "-o", c.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let sink = traceblast::sink::spawn(SinkPlan::default()).unwrap();
    let report = dir.join("run.json");
    let url = format!("http://{}/v1/traces", sink.addr);
    let o = crate::util::run(&[
        "replay",
        c.to_str().unwrap(),
        "--endpoint",
        &url,
        "--rate",
        "200",
        "-q",
        "--report",
        report.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let log = traceblast::sent::read(&dir.join("run.sent.zst")).unwrap();
    let mut per: BTreeMap<u128, (u32, u64)> = BTreeMap::new();
    for r in log.requests.iter().filter(|r| r.ok) {
        for (hex, n, end) in &r.traces {
            let e = per.entry(traceblast::sent::parse_id(hex).unwrap()).or_default();
            e.0 += n;
            e.1 = e.1.max(*end);
        }
    }
    assert_eq!(per.len(), 20);
    let sent = (per.len() as u64, per.values().map(|(n, _)| u64::from(*n)).sum());
    let mut traces: BTreeMap<u128, Vec<Span>> = per
        .iter()
        .enumerate()
        .map(|(i, (&id, &(n, end)))| {
            // Distinct span IDs; the last span ends when the trace ended as sent.
            let spans =
                (0..u64::from(n)).map(|k| (format!("{:08x}{:08x}", i + 1, k + 1), end - (u64::from(n) - 1 - k)));
            (id, spans.collect())
        })
        .collect();
    let ids: Vec<u128> = traces.keys().copied().collect();
    let mut lost_spans = 0;
    for id in &ids[..3] {
        lost_spans += traces.remove(id).unwrap().len() as u64;
    }
    let partial = *ids[3..].iter().find(|id| traces[id].len() >= 3).expect("a trace of 3 spans or more");
    let keep = traces[&partial].len() - 2;
    traces.get_mut(&partial).unwrap().truncate(keep);
    lost_spans += 2;
    let dup = *ids[3..].iter().find(|id| **id != partial).unwrap();
    let first = traces[&dup][0].clone();
    traces.get_mut(&dup).unwrap().push(first);
    (report, Store { traces, sent, lost_spans })
}

/// `traceblast verify RUN --from NAME --url BASE --settle 1s -q extra…` with `env`.
fn verify(report: &Path, from: &str, base: &str, env: &[(&str, &str)], extra: &[&str]) -> Output {
    let mut cmd = Command::new(bin());
    cmd.args(["verify", report.to_str().unwrap(), "--from", from, "--url", base, "--settle", "1s", "--wait", "30s"]);
    cmd.args(extra);
    for k in ["LANGFUSE_PUBLIC_KEY", "LANGFUSE_SECRET_KEY", "LANGSMITH_API_KEY", "BRAINTRUST_API_KEY"] {
        cmd.env_remove(k);
    }
    cmd.envs(env.iter().copied());
    cmd.output().expect("traceblast runs")
}

/// Asserts the verify section counts exactly what the store lacks.
fn assert_counted(report: &Path, from: &str, store: &Store, o: &Output) {
    assert_eq!(o.status.code(), Some(1), "loss > 0 exits 1: {}{}", stdout(o), stderr(o));
    let rep: Value = serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap();
    let v = &rep["verify"];
    assert_eq!(v["from"], from, "{v}");
    let n = |k: &str| v[k].as_u64().unwrap_or_else(|| panic!("{k} in {v}"));
    assert_eq!((n("sent"), n("acknowledged")), (store.sent.0, store.sent.0), "{v}");
    assert_eq!((n("missing"), n("partial"), n("duplicated"), n("stale")), (3, 1, 1, 0), "{v}");
    assert_eq!(n("stored"), store.sent.0 - 4, "{v}");
    assert_eq!((n("spans_acknowledged"), n("spans_stored")), (store.sent.1, store.sent.1 - store.lost_spans), "{v}");
    assert_eq!(v["passed"], false);
    assert_eq!(v["ended_by"], "settled", "{v}");
}

fn hex(id: u128) -> String {
    traceblast::sent::hex_id(id)
}

fn iso(ms: u64, zone: bool) -> String {
    let t = humantime::format_rfc3339_millis(std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms)).to_string();
    if zone { t } else { t.trim_end_matches('Z').to_string() }
}

/// The query parameters named `key`.
fn params<'a>(target: &'a str, key: &str) -> Vec<&'a str> {
    let q = target.split_once('?').map_or("", |(_, q)| q);
    q.split('&').filter_map(|kv| kv.split_once('=')).filter(|(k, _)| *k == key).map(|(_, v)| v).collect()
}

#[test]
fn jaeger_traces_are_counted_from_the_query_api() {
    let dir = tempfile::tempdir().unwrap();
    let (report, store) = run_and_store(dir.path());
    let traces = store.traces.clone();
    let server = fake(Arc::new(move |r: &Req| {
        if r.method != "GET" || !r.target.starts_with("/api/traces?") {
            return (404, json!({"data": null, "errors": [{"code": 404, "msg": "404 page not found"}]}));
        }
        let (mut data, mut errors) = (Vec::new(), Vec::new());
        for id in params(&r.target, "traceID") {
            let Some(t) = u128::from_str_radix(id, 16).ok().and_then(|t| traces.get(&t).map(|s| (t, s))) else {
                errors.push(json!({"msg": "trace not found", "traceID": id}));
                continue;
            };
            // Jaeger prints IDs without leading zeros.
            let spans: Vec<Value> = t
                .1
                .iter()
                .map(|(s, end)| {
                    json!({"traceID": format!("{:x}", t.0), "spanID": s.trim_start_matches('0'), "operationName": "op",
                           "references": [], "startTime": end * 1000 - 2500, "duration": 2500, "processID": "p1"})
                })
                .collect();
            data.push(
                json!({"traceID": format!("{:x}", t.0), "spans": spans, "processes": {"p1": {"serviceName": "s"}}}),
            );
        }
        (200, json!({"data": data, "total": 0, "limit": 0, "offset": 0, "errors": errors}))
    }));
    let o = verify(&report, "jaeger", &format!("http://{}", server.addr), &[], &["-q"]);
    assert_counted(&report, "jaeger", &store, &o);
}

#[test]
fn tempo_traces_are_counted_from_the_trace_by_id_api() {
    let dir = tempfile::tempdir().unwrap();
    let (report, store) = run_and_store(dir.path());
    let traces = store.traces.clone();
    let server = fake(Arc::new(move |r: &Req| {
        if r.header("accept") != Some("application/json") {
            return (406, json!("this fake answers JSON only"));
        }
        let id = r.target.strip_prefix("/api/traces/").and_then(|h| u128::from_str_radix(h, 16).ok());
        let Some((id, spans)) = id.and_then(|id| traces.get(&id).map(|s| (id, s))) else {
            return (404, json!("trace not found"));
        };
        let spans: Vec<Value> = spans
            .iter()
            .map(|(s, end)| {
                json!({"traceId": hex(id), "spanId": s, "name": "op", "kind": "SPAN_KIND_INTERNAL",
                       "startTimeUnixNano": format!("{}", (end - 2) * 1_000_000), "endTimeUnixNano": format!("{}", end * 1_000_000)})
            })
            .collect();
        let resource = json!({"attributes": [{"key": "service.name", "value": {"stringValue": "s"}}]});
        (200, json!({"batches": [{"resource": resource, "scopeSpans": [{"scope": {"name": "x"}, "spans": spans}]}]}))
    }));
    let o = verify(&report, "tempo", &format!("http://{}", server.addr), &[], &["-q"]);
    assert_counted(&report, "tempo", &store, &o);
}

const LF: [(&str, &str); 2] = [("LANGFUSE_PUBLIC_KEY", "pk-lf-test"), ("LANGFUSE_SECRET_KEY", "sk-lf-s3cr3t-value")];
const LS_KEY: &str = "lsv2_pt_s3cr3t-value";
const BT_KEY: &str = "sk-bt-s3cr3t-value";

fn langfuse_fake(traces: BTreeMap<u128, Vec<Span>>) -> Running {
    let basic = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("pk-lf-test:sk-lf-s3cr3t-value"));
    fake(Arc::new(move |r: &Req| {
        if r.header("authorization") != Some(basic.as_str()) {
            return (401, json!({"message": "Invalid public or secret key"}));
        }
        let id = r.target.strip_prefix("/api/public/traces/").and_then(|h| u128::from_str_radix(h, 16).ok());
        let Some((id, spans)) = id.and_then(|id| traces.get(&id).map(|s| (id, s))) else {
            return (404, json!({"message": "Trace not found within authorized project"}));
        };
        let obs: Vec<Value> = spans
            .iter()
            .map(|(s, end)| json!({"id": s, "traceId": hex(id), "type": "SPAN", "startTime": iso(end - 2, true), "endTime": iso(*end, true)}))
            .collect();
        (200, json!({"id": hex(id), "timestamp": iso(0, true), "name": "t", "observations": obs, "scores": []}))
    }))
}

#[test]
fn langfuse_traces_are_counted_from_the_public_api() {
    let dir = tempfile::tempdir().unwrap();
    let (report, store) = run_and_store(dir.path());
    let server = langfuse_fake(store.traces.clone());
    let o = verify(&report, "langfuse", &format!("http://{}", server.addr), &LF, &["-q"]);
    assert_counted(&report, "langfuse", &store, &o);
}

fn langsmith_fake(traces: BTreeMap<u128, Vec<Span>>) -> Running {
    fake(Arc::new(move |r: &Req| {
        if r.header("x-api-key") != Some(LS_KEY) {
            return (401, json!({"detail": "Invalid token"}));
        }
        if (r.method.as_str(), r.target.as_str()) != ("POST", "/runs/query") {
            return (404, json!({"detail": "Not Found"}));
        }
        let body = r.json();
        let uuid = body["trace"].as_str().unwrap_or_default().to_string();
        let id = u128::from_str_radix(&uuid.replace('-', ""), 16).ok();
        let spans = id.and_then(|id| traces.get(&id)).cloned().unwrap_or_default();
        // Two runs a page, so that paging is followed.
        let from: usize = body["cursor"].as_str().map_or(0, |c| c.parse().unwrap());
        let runs: Vec<Value> = spans
            .iter()
            .skip(from)
            .take(2)
            .map(|(s, end)| {
                json!({"id": format!("00000000-0000-0000-{}-{}", &s[..4], &s[4..]), "trace_id": uuid, "end_time": iso(*end, false)})
            })
            .collect();
        let next = (from + 2 < spans.len()).then(|| (from + 2).to_string());
        (200, json!({"runs": runs, "cursors": {"next": next}}))
    }))
}

#[test]
fn langsmith_runs_are_counted_from_the_runs_query() {
    let dir = tempfile::tempdir().unwrap();
    let (report, store) = run_and_store(dir.path());
    let server = langsmith_fake(store.traces.clone());
    let o = verify(&report, "langsmith", &format!("http://{}", server.addr), &[("LANGSMITH_API_KEY", LS_KEY)], &["-q"]);
    assert_counted(&report, "langsmith", &store, &o);
}

fn braintrust_fake(traces: BTreeMap<u128, Vec<Span>>) -> Running {
    let bearer = format!("Bearer {BT_KEY}");
    fake(Arc::new(move |r: &Req| {
        if r.header("authorization") != Some(bearer.as_str()) {
            return (401, json!({"error": "Invalid API key"}));
        }
        let q = r.json()["query"].as_str().unwrap_or_default().to_string();
        if !q.contains("FROM project_logs('my project''s logs')") {
            return (400, json!({"error": format!("unexpected query: {q}")}));
        }
        let list = q.split_once(" IN (").and_then(|(_, l)| l.split_once(')')).map_or("", |(l, _)| l);
        let mut data = Vec::new();
        for h in list.split(", ").map(|x| x.trim_matches('\'')) {
            let Some((id, spans)) = u128::from_str_radix(h, 16).ok().and_then(|id| traces.get(&id).map(|s| (id, s)))
            else {
                continue;
            };
            for (i, (s, end)) in spans.iter().enumerate() {
                data.push(json!({"id": format!("row-{h}-{i}"), "span_id": s, "root_span_id": hex(id),
                                 "metrics": {"start": (*end as f64 - 2.0) / 1e3, "end": *end as f64 / 1e3}}));
            }
        }
        (200, json!({"data": data, "schema": {}}))
    }))
}

#[test]
fn braintrust_spans_are_counted_from_a_btql_query() {
    let dir = tempfile::tempdir().unwrap();
    let (report, store) = run_and_store(dir.path());
    let server = braintrust_fake(store.traces.clone());
    let base = format!("http://{}", server.addr);
    let o = verify(
        &report,
        "braintrust",
        &base,
        &[("BRAINTRUST_API_KEY", BT_KEY)],
        &["-q", "--project", "my project's logs"],
    );
    assert_counted(&report, "braintrust", &store, &o);
}

#[test]
fn a_refused_key_is_one_line_naming_the_platform_and_url_never_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let (report, store) = run_and_store(dir.path());
    /// A platform, its fake, a wrong key in the environment, the key, the path read.
    struct Case(&'static str, Running, &'static [(&'static str, &'static str)], &'static str, &'static str);
    let cases = [
        Case(
            "langfuse",
            langfuse_fake(store.traces.clone()),
            &[("LANGFUSE_PUBLIC_KEY", "pk-lf-test"), ("LANGFUSE_SECRET_KEY", "sk-lf-wrong-s3cr3t")],
            "sk-lf-wrong-s3cr3t",
            "/api/public/traces/",
        ),
        Case(
            "langsmith",
            langsmith_fake(store.traces.clone()),
            &[("LANGSMITH_API_KEY", "lsv2-wrong-s3cr3t")],
            "lsv2-wrong-s3cr3t",
            "/runs/query",
        ),
        Case(
            "braintrust",
            braintrust_fake(store.traces.clone()),
            &[("BRAINTRUST_API_KEY", "bt-wrong-s3cr3t")],
            "bt-wrong-s3cr3t",
            "/btql",
        ),
    ];
    for Case(name, server, env, key, path) in cases {
        let base = format!("http://{}", server.addr);
        let before = std::fs::read(&report).unwrap();
        let o = verify(&report, name, &base, env, &["-q", "--project", "p"]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{name}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{name}: one line: {err}");
        assert!(err.starts_with(&format!("error: {name}: ")), "{err}");
        assert!(err.contains(&format!("{base}{path}")) && err.contains("HTTP 401"), "{err}");
        assert!(!err.contains(key) && !stdout(&o).contains(key), "{name}: the key leaked: {err}");
        assert_eq!(std::fs::read(&report).unwrap(), before, "{name}: the report is left as it was");
        // Without the variables at all, the error says which are needed.
        let o = verify(&report, name, &base, &[], &["-q", "--project", "p"]);
        assert_eq!(o.status.code(), Some(2), "{name}: {}", stderr(&o));
        let var = env[env.len() - 1].0;
        assert!(stderr(&o).contains(var), "{name}: names {var}: {}", stderr(&o));
        assert_eq!(server.stop().answered.keys().copied().collect::<Vec<_>>(), vec![401], "{name}");
    }
}
