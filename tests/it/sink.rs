//! `traceblast sink`: exact counts for known bodies, every status path, faults, profiles, and
//! the command's stop conditions, summary and one-line errors. In-process sinks
//! (`sink::spawn`) where the counters are what is checked; the real binary where exit codes,
//! signals and printed output are.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prost::Message;
use traceblast::otlp::{self, ExportTraceServiceResponse, RpcStatus};
use traceblast::sink::faults::{Faults, RequestRng, Stall};
use traceblast::sink::{self, Profile, SinkPlan, Summary};

use crate::util::*;

mod grpc;
mod json;
mod limits;

const PB: &str = "application/x-protobuf";
const JSON: &str = "application/json";
const DEADLINE: Duration = Duration::from_secs(20);

/// A request whose spans all belong to trace `trace` and have span IDs `spans`.
fn request(trace: u8, spans: &[u8]) -> otlp::ExportTraceServiceRequest {
    let span = |s: u8| otlp::Span {
        trace_id: vec![trace; 16],
        span_id: vec![s; 8],
        name: format!("span {s}"),
        start_time_unix_nano: 1,
        end_time_unix_nano: 2,
        ..Default::default()
    };
    otlp::ExportTraceServiceRequest {
        resource_spans: vec![otlp::ResourceSpans {
            scope_spans: vec![otlp::ScopeSpans {
                spans: spans.iter().map(|&s| span(s)).collect(),
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn pb(trace: u8, spans: &[u8]) -> Vec<u8> {
    request(trace, spans).encode_to_vec()
}

fn json(trace: u8, spans: &[u8]) -> Vec<u8> {
    serde_json::to_vec(&otlp::json::request_to_json(&request(trace, spans))).unwrap()
}

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

/// An HTTP/1.1 answer.
#[derive(Debug)]
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The `google.rpc.Status` of an error answer (protobuf).
    fn status_message(&self) -> RpcStatus {
        assert_eq!(self.header("content-type"), Some(PB), "{self:?}");
        RpcStatus::decode(&self.body[..]).expect("a google.rpc.Status body")
    }

    fn rejected(&self) -> i64 {
        assert_eq!(self.status, 200, "{self:?}");
        let r = ExportTraceServiceResponse::decode(&self.body[..]).expect("an ExportTraceServiceResponse");
        r.partial_success.map_or(0, |p| p.rejected_spans)
    }
}

/// Sends one request over a fresh connection (`Connection: close`) and reads the answer.
/// `head` is the request line and extra headers; a body gets its Content-Length.
fn send_raw(addr: SocketAddr, head: &str, body: &[u8]) -> Resp {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut req = format!("{head}\r\nHost: {addr}\r\nConnection: close\r\n");
    if !head.contains("Content-Length") && !head.contains("Transfer-Encoding") {
        req += &format!("Content-Length: {}\r\n", body.len());
    }
    req += "\r\n";
    s.write_all(req.as_bytes()).unwrap();
    // The sink may answer (and close) before reading a body it refuses; that is fine.
    let _ = s.write_all(body);
    let mut buf = Vec::new();
    // A reset after the answer (unread request bytes) still leaves the answer in `buf`.
    let _ = s.read_to_end(&mut buf);
    parse(&buf)
}

fn parse(buf: &[u8]) -> Resp {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or_else(|| panic!("no answer: {buf:?}"));
    let head = String::from_utf8_lossy(&buf[..end]);
    let mut lines = head.lines();
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = buf[end + 4..].to_vec();
    if let Some(n) = headers.iter().find(|(k, _)| k == "content-length").map(|(_, v)| v.parse::<usize>().unwrap()) {
        assert!(body.len() >= n, "short body");
        body.truncate(n);
    }
    Resp { status, headers, body }
}

/// POST /v1/traces with a content type, optional encoding and extra header lines.
fn post(addr: SocketAddr, ctype: &str, encoding: Option<&str>, extra: &[&str], body: &[u8]) -> Resp {
    let mut head = format!("POST /v1/traces HTTP/1.1\r\nContent-Type: {ctype}");
    if let Some(e) = encoding {
        head += &format!("\r\nContent-Encoding: {e}");
    }
    for h in extra {
        head += &format!("\r\n{h}");
    }
    send_raw(addr, &head, body)
}

fn post_pb(addr: SocketAddr, body: &[u8]) -> Resp {
    post(addr, PB, None, &[], body)
}

fn start(plan: SinkPlan) -> sink::Running {
    sink::spawn(plan).expect("sink starts")
}

#[test]
fn counts_spans_traces_and_duplicate_ids_exactly() {
    let s = start(SinkPlan { capture: 2, ..Default::default() });
    let a = s.addr;
    assert_eq!(post_pb(a, &pb(1, &[1, 2, 3])).rejected(), 0);
    let r = post(a, JSON, None, &[], &json(2, &[4, 5]));
    assert_eq!((r.status, r.header("content-type")), (200, Some(JSON)));
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&r.body).unwrap(), serde_json::json!({}));
    // Span 3 again, gzip: a duplicate span ID in a known trace.
    assert_eq!(post(a, PB, Some("gzip"), &[], &gzip(&pb(1, &[3]))).rejected(), 0);
    let zst = zstd::encode_all(&json(3, &[6, 6])[..], 3).unwrap();
    assert_eq!(post(a, JSON, Some("zstd"), &[], &zst).status, 200);
    let sum = s.summary();
    assert_eq!(sum.requests, 4);
    assert_eq!(sum.requests_by_status, [(200, 4)].into());
    assert_eq!((sum.spans, sum.unique_traces, sum.unique_spans, sum.duplicate_span_ids), (8, 3, 6, 2));
    let raw = pb(1, &[1, 2, 3]).len() + json(2, &[4, 5]).len() + pb(1, &[3]).len() + json(3, &[6, 6]).len();
    assert_eq!(sum.bytes_raw, raw as u64);
    assert!(sum.bytes_wire < sum.bytes_raw);
    let cap = s.captured();
    assert_eq!(cap.len(), 2, "only the first two are kept");
    assert_eq!((cap[0].status, cap[0].content_type.as_str(), &cap[0].body), (200, PB, &pb(1, &[1, 2, 3])));
    assert!(cap[1].headers.iter().any(|(k, v)| k == "content-type" && v == JSON));
    let fin = s.shutdown();
    assert_eq!(fin.stopped_by.as_deref(), Some("shutdown"));
    assert_eq!(fin.spans, 8);
}

#[test]
fn h2c_requests_are_counted() {
    use http_body_util::{BodyExt, Full};
    let s = start(SinkPlan::default());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let status = rt.block_on(async {
        let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .http2_only(true)
            .build_http::<Full<bytes::Bytes>>();
        let req = hyper::Request::post(format!("http://{}/v1/traces", s.addr))
            .header("content-type", PB)
            .body(Full::new(bytes::Bytes::from(pb(9, &[1, 2]))))
            .unwrap();
        let resp = client.request(req).await.unwrap();
        assert_eq!(resp.version(), hyper::Version::HTTP_2);
        let status = resp.status().as_u16();
        let _ = resp.into_body().collect().await.unwrap();
        status
    });
    assert_eq!(status, 200);
    // Closes the client's connection, so the sink's graceful stop has nothing to wait for.
    drop(rt);
    assert_eq!(s.shutdown().spans, 2);
}

#[test]
fn every_refusal_has_its_status_and_counts_nothing() {
    let s = start(SinkPlan { max_body: 4096, ..Default::default() });
    let a = s.addr;
    let bad = post_pb(a, b"\x0a\xff\xff\xff\x0fshort");
    assert_eq!(bad.status, 400);
    let st = bad.status_message();
    assert_eq!(st.code, 3);
    assert!(st.message.starts_with("malformed OTLP protobuf at byte"), "{}", st.message);
    let bad_json = post(a, JSON, None, &[], br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"xyz"}]}]}]}"#);
    assert_eq!((bad_json.status, bad_json.header("content-type")), (400, Some(JSON)));
    let v: serde_json::Value = serde_json::from_slice(&bad_json.body).unwrap();
    assert_eq!(v["code"], 3);
    assert!(v["message"].as_str().unwrap().contains("traceId 'xyz'"), "{v}");
    // 413 from the declared length, without the body being sent.
    let declared =
        send_raw(a, "POST /v1/traces HTTP/1.1\r\nContent-Type: application/x-protobuf\r\nContent-Length: 5000", b"");
    assert_eq!(declared.status, 413);
    assert!(declared.status_message().message.contains("Content-Length exceeds the 4096-byte limit"));
    // 413 from the bytes received (chunked, no length declared).
    let big = vec![b'x'; 5000];
    let chunked = format!("{:x}\r\n", big.len()).into_bytes().into_iter().chain(big.clone()).chain(*b"\r\n0\r\n\r\n");
    let r = send_raw(
        a,
        "POST /v1/traces HTTP/1.1\r\nContent-Type: application/x-protobuf\r\nTransfer-Encoding: chunked",
        &chunked.collect::<Vec<u8>>(),
    );
    assert_eq!((r.status, r.status_message().message.as_str()), (413, "body exceeds the 4096-byte limit"));
    // 413 while decompressing: 30 KB of alike spans gzip to far less than 4 KB.
    let many = [7u8; 255];
    let inflating = gzip(&[pb(1, &many), pb(2, &many), pb(3, &many)].concat());
    assert!(inflating.len() < 4096);
    let r = post(a, PB, Some("gzip"), &[], &inflating);
    assert_eq!((r.status, r.status_message().message.as_str()), (413, "decompressed body exceeds the 4096-byte limit"));
    assert_eq!(post(a, "text/plain", None, &[], &pb(1, &[1])).status, 415);
    let r = post(a, PB, Some("br"), &[], &pb(1, &[1]));
    assert_eq!(
        (r.status, r.status_message().message.as_str()),
        (415, "unsupported Content-Encoding br: use gzip, zstd or none")
    );
    assert_eq!(send_raw(a, "POST /v1/logs HTTP/1.1\r\nContent-Type: application/x-protobuf", b"").status, 404);
    assert_eq!(send_raw(a, "GET /v1/traces HTTP/1.1", b"").status, 405);
    let sum = s.shutdown();
    assert_eq!(sum.spans, 0);
    assert_eq!(sum.requests_by_status, [(400, 2), (404, 1), (405, 1), (413, 3), (415, 2)].into());
}

#[test]
fn no_input_makes_it_panic() {
    let s = start(SinkPlan { max_body: 64 << 10, ..Default::default() });
    let a = s.addr;
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut junk = |n: usize| -> Vec<u8> {
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    };
    let good = pb(1, &[1, 2, 3]);
    let gz = gzip(&good);
    let bomb = zstd::encode_all(&vec![0u8; 16 << 20][..], 3).unwrap();
    let mut bodies: Vec<(&str, Option<&str>, Vec<u8>)> = vec![
        (PB, Some("gzip"), gz[..gz.len() / 2].to_vec()),
        (PB, Some("zstd"), bomb.clone()),
        (JSON, Some("zstd"), bomb),
        (PB, None, good[..good.len() - 1].to_vec()),
        (JSON, None, b"[1,2,3]".to_vec()),
        (JSON, None, b"\xff\xfe".to_vec()),
        ("application/x-protobuf; charset=ü", None, good.clone()),
        ("", None, good.clone()),
    ];
    for n in [0, 1, 7, 100, 3000] {
        for (ct, enc) in [(PB, None), (PB, Some("gzip")), (PB, Some("zstd")), (JSON, None), (JSON, Some("gzip"))] {
            bodies.push((ct, enc, junk(n)));
        }
    }
    for (ct, enc, body) in &bodies {
        let r = post(a, ct, *enc, &[], body);
        assert!(matches!(r.status, 200 | 400 | 413 | 415), "{ct} {enc:?} {} bytes: {r:?}", body.len());
    }
    // Still alive and counting; no stray spans were counted from the junk.
    assert_eq!(post_pb(a, &good).status, 200);
    let sum = s.shutdown();
    assert_eq!(sum.requests, bodies.len() as u64 + 1);
    assert_eq!(sum.spans, 3, "junk adds no spans (it may parse as an empty request)");
}

#[test]
fn profiles_require_their_headers_and_limits() {
    let body = pb(1, &[1]);
    let cases: [(Profile, &[&str], u16); 12] = [
        (Profile::Braintrust, &[], 401),
        (Profile::Braintrust, &["Authorization: Bearer sk-1"], 400),
        (Profile::Braintrust, &["Authorization: Bearer sk-1", "x-bt-parent: project_name:p"], 200),
        (Profile::Langsmith, &["Authorization: Bearer sk-1"], 401),
        (Profile::Langsmith, &["x-api-key: k", "Langsmith-Project: p"], 200),
        (Profile::Langfuse, &["Authorization: Bearer sk-1"], 401),
        (Profile::Langfuse, &["Authorization: Basic cGs6c2s="], 200),
        (Profile::Phoenix, &[], 401),
        (Profile::Phoenix, &["Authorization: Bearer sk-1"], 200),
        (Profile::Honeycomb, &[], 401),
        (Profile::Honeycomb, &["x-honeycomb-team: k"], 200),
        (Profile::Langsmith, &["Langsmith-Project: p"], 401),
    ];
    for (profile, headers, want) in cases {
        let s = start(SinkPlan { profile: Some(profile), ..Default::default() });
        let r = post(s.addr, PB, None, headers, &body);
        assert_eq!(r.status, want, "{profile:?} {headers:?}: {r:?}");
        if want == 400 {
            let m = r.status_message().message;
            assert!(m.contains("x-bt-parent") && !m.contains("sk-1"), "{m}");
        }
        assert_eq!(s.shutdown().spans, u64::from(want == 200));
    }
    let s = start(SinkPlan { profile: Some(Profile::Phoenix), ..Default::default() });
    assert_eq!(post(s.addr, JSON, None, &["Authorization: Bearer k"], &json(1, &[1])).status, 415);
    // Braintrust's 10 MB limit, from the declared length.
    let plan = traceblast::config::sink::sink_plan(&sink_args(&["--profile", "braintrust", "--listen", "127.0.0.1:0"]));
    let s = start(SinkPlan { quiet: true, ..plan.unwrap() });
    let head = "POST /v1/traces HTTP/1.1\r\nContent-Type: application/x-protobuf\r\nAuthorization: Bearer k\r\nx-bt-parent: project_name:p\r\nContent-Length: 10000001";
    assert_eq!(send_raw(s.addr, head, b"").status, 413);
}

fn sink_args(extra: &[&str]) -> traceblast::cli::SinkArgs {
    use clap::Parser;
    let argv = ["traceblast", "sink"].into_iter().chain(extra.iter().copied());
    match traceblast::cli::Cli::parse_from(argv).command {
        traceblast::cli::Command::Sink(a) => *a,
        _ => unreachable!(),
    }
}

#[test]
fn conflict_on_a_known_trace_id() {
    let faults = Faults { conflict_on_duplicate: true, ..Default::default() };
    let s = start(SinkPlan { faults, ..Default::default() });
    assert_eq!(post_pb(s.addr, &pb(1, &[1, 2])).status, 200);
    let r = post_pb(s.addr, &pb(1, &[3]));
    assert_eq!((r.status, r.status_message().code), (409, 6));
    assert_eq!(post_pb(s.addr, &pb(2, &[3])).status, 200);
    let sum = s.shutdown();
    assert_eq!((sum.spans, sum.unique_traces, sum.faults.conflict), (3, 2, 1));
    assert_eq!(sum.refused_spans_by_status, [(409, 1)].into());
}

#[test]
fn rate_limit_answers_429_with_retry_after() {
    let faults = Faults { rate_limit: Some(1.0 / 60.0), ..Default::default() };
    let s = start(SinkPlan { faults, ..Default::default() });
    assert_eq!(post_pb(s.addr, &pb(1, &[1])).status, 200);
    let r = post_pb(s.addr, &pb(2, &[1, 2]));
    assert_eq!(r.status, 429);
    // The next token comes a minute after the first request, less the time since.
    let secs: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((50..=60).contains(&secs), "{secs}");
    assert_eq!(r.status_message().code, 8);
    let sum = s.shutdown();
    assert_eq!((sum.spans, sum.faults.rate_limit, sum.refused_spans), (1, 1, 2));
    // --retry-after overrides the bucket's own estimate.
    let faults =
        Faults { rate_limit: Some(1.0 / 60.0), retry_after: Some(Duration::from_secs(2)), ..Default::default() };
    let s = start(SinkPlan { faults, ..Default::default() });
    post_pb(s.addr, &pb(1, &[1]));
    assert_eq!(post_pb(s.addr, &pb(2, &[1])).header("retry-after"), Some("2"));
}

#[test]
fn injected_failures_are_reproducible_and_never_counted() {
    let faults = Faults {
        fail: vec![(429, 0.3), (503, 0.3)],
        retry_after: Some(Duration::from_millis(1500)),
        ..Default::default()
    };
    let expected: Vec<u16> =
        (0..30).map(|n| faults.draw(&mut RequestRng::new(7, n)).fail.map_or(200, |i| faults.fail[i].0)).collect();
    assert!(expected.contains(&200) && expected.contains(&429) && expected.contains(&503), "{expected:?}");
    for _run in 0..2 {
        let s = start(SinkPlan { faults: faults.clone(), seed: 7, ..Default::default() });
        let mut acknowledged = 0;
        for (n, want) in expected.iter().enumerate() {
            let r = post_pb(s.addr, &pb(n as u8, &[1, 2]));
            assert_eq!(r.status, *want, "request {n}");
            match r.status {
                200 => acknowledged += 2,
                _ => assert_eq!(r.header("retry-after"), Some("2"), "1.5 s rounds up"),
            }
        }
        let sum = s.shutdown();
        assert_eq!(sum.spans, acknowledged, "spans acknowledged == spans counted");
        let n503 = expected.iter().filter(|s| **s == 503).count() as u64;
        assert_eq!(sum.faults.fail.get(&503), Some(&n503));
        assert_eq!(sum.refused_spans_by_status.get(&503), Some(&(2 * n503)));
    }
}

#[test]
fn rejected_spans_come_back_in_partial_success() {
    let faults = Faults { reject_spans: 0.5, ..Default::default() };
    let s = start(SinkPlan { faults: faults.clone(), ..Default::default() });
    let spans: Vec<u8> = (0..40).collect();
    let mut rng = RequestRng::new(42, 0);
    faults.draw(&mut rng);
    let want = spans.iter().filter(|_| faults.reject_span(&mut rng)).count() as i64;
    assert!(want > 0 && want < 40);
    assert_eq!(post_pb(s.addr, &pb(1, &spans)).rejected(), want);
    let r = post(s.addr, JSON, None, &[], &json(2, &spans));
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let json_rejected: u64 = v["partialSuccess"]["rejectedSpans"].as_str().unwrap().parse().unwrap();
    let sum = s.shutdown();
    assert_eq!(sum.rejected_spans, want as u64 + json_rejected);
    assert_eq!(sum.spans, 80 - sum.rejected_spans, "rejected spans are not received");
}

#[test]
fn stall_holds_requests_and_latency_delays_them() {
    let stall = Stall { duration: Duration::from_millis(400), after: Duration::ZERO };
    let faults = Faults {
        stall: Some(stall),
        latency: Some((Duration::from_millis(30), Duration::from_millis(30))),
        ..Default::default()
    };
    let s = start(SinkPlan { faults, ..Default::default() });
    let t = Instant::now();
    assert_eq!(post_pb(s.addr, &pb(1, &[1])).status, 200);
    assert!(t.elapsed() >= Duration::from_millis(430), "held for the stall and the latency: {:?}", t.elapsed());
    // The stall is over: only the latency now.
    assert_eq!(post_pb(s.addr, &pb(2, &[1])).status, 200);
    let sum = s.shutdown();
    assert_eq!((sum.faults.stall, sum.faults.latency, sum.spans), (1, 2, 2));
}

#[test]
fn a_client_that_hangs_up_is_counted_as_abandoned() {
    let faults = Faults { latency: Some((Duration::from_secs(30), Duration::from_secs(30))), ..Default::default() };
    let s = start(SinkPlan { faults, ..Default::default() });
    let body = pb(1, &[1, 2]);
    let mut c = TcpStream::connect(s.addr).unwrap();
    let head =
        format!("POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: {PB}\r\nContent-Length: {}\r\n\r\n", body.len());
    c.write_all(head.as_bytes()).unwrap();
    c.write_all(&body).unwrap();
    assert!(s.wait_until(DEADLINE, |s| s.faults.latency == 1), "the request arrived");
    drop(c);
    assert!(s.wait_until(DEADLINE, |s| s.abandoned == 1), "{:?}", s.summary());
    let sum = s.shutdown();
    assert_eq!((sum.requests, sum.spans), (0, 0), "never answered, never received");
}

/// The real binary, listening on a free port; its stderr is collected as it comes.
struct Proc {
    child: Child,
    addr: SocketAddr,
    stderr: Arc<Mutex<String>>,
}

fn spawn_bin(dir: &std::path::Path, args: &[&str]) -> Proc {
    let mut cmd = Command::new(bin());
    cmd.args(["sink", "--listen", "127.0.0.1:0"]).args(args).current_dir(dir);
    spawn_sink(cmd)
}

/// Starts a command that runs a sink and learns its address from the first stderr line.
fn spawn_sink(mut cmd: Command) -> Proc {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    err.read_line(&mut first).unwrap();
    let addr = first
        .split("http://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {first:?}"));
    let stderr = Arc::new(Mutex::new(first));
    let sink = stderr.clone();
    std::thread::spawn(move || {
        for line in err.lines().map_while(Result::ok) {
            sink.lock().unwrap().push_str(&(line + "\n"));
        }
    });
    Proc { child, addr, stderr }
}

impl Proc {
    /// Waits for the process to exit by itself; its stdout.
    fn exit(mut self) -> (i32, String, String) {
        let end = Instant::now() + DEADLINE;
        let status = loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                break st;
            }
            if Instant::now() > end {
                let _ = self.child.kill();
                panic!("sink did not stop; stderr: {}", self.stderr.lock().unwrap());
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let mut out = String::new();
        self.child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
        let err = self.stderr.lock().unwrap().clone();
        (status.code().unwrap_or(-1), out, err)
    }
}

#[test]
fn expect_spans_stops_the_command_and_writes_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    let p = spawn_bin(dir.path(), &["--expect-spans", "5", "--summary", "s.json", "--quiet"]);
    assert_eq!(post_pb(p.addr, &pb(1, &[1, 2, 3])).status, 200);
    assert_eq!(post(p.addr, JSON, None, &[], &json(2, &[1, 2])).status, 200);
    let (code, out, _) = p.exit();
    assert_eq!(code, 0);
    assert!(out.starts_with("sink summary (stopped: expect spans)\n"), "{out}");
    let sum: Summary = serde_json::from_slice(&std::fs::read(dir.path().join("s.json")).unwrap()).unwrap();
    assert_eq!((sum.requests, sum.spans, sum.unique_traces, sum.unique_spans, sum.duplicate_span_ids), (2, 5, 2, 3, 2));
    assert_eq!(sum.stopped_by.as_deref(), Some("expect_spans"));
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.path().join("s.json")).unwrap()).unwrap();
    assert_eq!(v["requests_by_status"]["200"], 2);
}

#[test]
fn until_idle_stops_after_the_last_request_and_progress_goes_to_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let p = spawn_bin(dir.path(), &["--until-idle", "1500ms", "--summary", "s.json"]);
    assert_eq!(post_pb(p.addr, &pb(1, &[1, 2])).status, 200);
    let (code, out, err) = p.exit();
    assert_eq!(code, 0);
    assert!(out.contains("(stopped: idle)") && out.contains("requests    1  (200: 1)"), "{out}");
    assert!(err.contains("waiting for the first"), "{err}");
    assert!(err.lines().any(|l| l.starts_with("sink  ") && l.contains("total 1 req · 2 spans")), "{err}");
    let sum: Summary = serde_json::from_slice(&std::fs::read(dir.path().join("s.json")).unwrap()).unwrap();
    assert_eq!(sum.spans, 2);
}

#[test]
fn sigint_prints_the_summary_and_never_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let p = spawn_bin(dir.path(), &["--profile", "langsmith"]);
    let r = post(p.addr, PB, None, &["x-api-key: lsv2-top-secret"], &pb(1, &[1, 2, 3]));
    assert_eq!(r.status, 200);
    let kill = Command::new("kill").args(["-INT", &p.child.id().to_string()]).status().unwrap();
    assert!(kill.success());
    let (code, out, err) = p.exit();
    assert_eq!(code, 0);
    assert!(out.starts_with("sink summary (stopped: signal)\n"), "{out}");
    assert!(out.contains("3 received"), "{out}");
    assert!(!out.contains("top-secret") && !err.contains("top-secret"));
}

#[test]
fn bad_flags_exit_2_with_one_line() {
    for (args, needles) in [
        (&["--fail", "429:1.5"][..], &["--fail '429:1.5': probability must be between 0 and 1"][..]),
        (&["--latency", "9ms..1ms"], &["--latency '9ms..1ms'"]),
        (&["--rate-limit", "fast"], &["--rate-limit 'fast'"]),
        (&["--store-rate", "0/s"], &["--store-rate '0/s'"]),
        (&["--stall", "2s"], &["--stall '2s'", "DURATION@AFTER"]),
        (&["--profile", "datadog"], &["--profile 'datadog'", "braintrust"]),
        (&["--max-body", "lots"], &["--max-body 'lots'"]),
        (&["--until-idle", "later"], &["--until-idle 'later'"]),
        (&["--listen", "not-an-address"], &["--listen 'not-an-address'"]),
        (&["--grpc-listen", "4317"], &["--grpc-listen '4317' is not an address to listen on"]),
        (
            &["--grpc-listen", "127.0.0.1:0", "--max-body", "16MiB", "--max-inflight-bytes", "16MiB"],
            &["--max-inflight-bytes '16MiB'", "largest gRPC body"],
        ),
    ] {
        let mut argv = vec!["sink"];
        argv.extend_from_slice(args);
        assert_bad_input(&run(&argv), needles);
    }
    // An unknown flag is clap's: its whole message, with the usage line.
    assert_usage_error(&run(&["sink", "--wat"]), &["unexpected argument '--wat'"]);
    // A port in use: one line naming the address.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    assert_bad_input(&run(&["sink", "--listen", &addr]), &[&format!("--listen {addr}")]);
    let taken_grpc = ["sink", "--listen", "127.0.0.1:0", "--grpc-listen", &addr];
    assert_bad_input(&run(&taken_grpc), &[&format!("--grpc-listen {addr}: cannot listen")]);
}
