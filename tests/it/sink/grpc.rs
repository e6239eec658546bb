//! The sink's OTLP/gRPC receiver (`--grpc-listen`): a real gRPC client (tonic, with
//! opentelemetry-proto's generated `TraceServiceClient`) sends known requests and the counts
//! must match exactly; each fault comes back as its gRPC status (with `RetryInfo` where the
//! OTLP spec needs one); gzip and zstd; oversized messages and missing profile metadata are
//! refused; protocol errors a generated client cannot make are sent by hand over h2c.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use prost::Message;
use tonic::codec::CompressionEncoding;
use tonic::transport::{Channel, Endpoint};
use traceblast::grpc::{EXPORT_PATH, Retry, retry};
use traceblast::otlp::trace_service_client::TraceServiceClient;
use traceblast::otlp::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use traceblast::sink::faults::{Faults, RequestRng};
use traceblast::sink::{Profile, SinkPlan};

use super::{DEADLINE, pb, post_pb, request, start};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// A sink with a gRPC listener on a free port.
fn start_grpc(plan: SinkPlan) -> traceblast::sink::Running {
    start(SinkPlan { grpc_listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))), ..plan })
}

async fn client(addr: SocketAddr) -> TraceServiceClient<Channel> {
    let ch = Endpoint::from_shared(format!("http://{addr}")).unwrap().timeout(DEADLINE).connect().await.unwrap();
    TraceServiceClient::new(ch)
}

/// One `Export` call with a compression and metadata.
async fn export(
    c: &mut TraceServiceClient<Channel>,
    req: ExportTraceServiceRequest,
    metadata: &[(&'static str, &'static str)],
) -> Result<ExportTraceServiceResponse, tonic::Status> {
    let mut r = tonic::Request::new(req);
    for (k, v) in metadata {
        r.metadata_mut().insert(*k, v.parse().unwrap());
    }
    c.export(r).await.map(tonic::Response::into_inner)
}

#[test]
fn counts_grpc_exports_exactly_with_every_encoding() {
    let s = start_grpc(SinkPlan { capture: 3, ..Default::default() });
    let g = s.grpc_addr.unwrap();
    rt().block_on(async {
        let mut plain = client(g).await;
        let ok = export(&mut plain, request(1, &[1, 2, 3]), &[]).await.unwrap();
        assert_eq!(ok.partial_success, None, "a full success leaves partial_success unset");
        let mut gz = client(g).await.send_compressed(CompressionEncoding::Gzip);
        export(&mut gz, request(1, &[3]), &[]).await.unwrap();
        let mut zs =
            client(g).await.send_compressed(CompressionEncoding::Zstd).accept_compressed(CompressionEncoding::Zstd);
        export(&mut zs, request(2, &[4, 5]), &[]).await.unwrap();
    });
    // The HTTP port of the same sink counts into the same sets.
    assert_eq!(post_pb(s.addr, &pb(2, &[6])).status, 200);
    let sum = s.summary();
    assert_eq!(sum.requests, 4);
    assert_eq!(sum.requests_by_status, [(200, 4)].into());
    assert_eq!(sum.requests_by_protocol, [("grpc".into(), 3), ("http/protobuf".into(), 1)].into());
    assert_eq!(sum.grpc_requests_by_code, [("OK".into(), 3)].into());
    assert_eq!((sum.spans, sum.unique_traces, sum.unique_spans, sum.duplicate_span_ids), (7, 2, 6, 1));
    let raw = pb(1, &[1, 2, 3]).len() + pb(1, &[3]).len() + pb(2, &[4, 5]).len() + pb(2, &[6]).len();
    assert_eq!(sum.bytes_raw, raw as u64);
    // Wire bytes are the HTTP/2 bodies: the frame header, and compression.
    assert_ne!(sum.bytes_wire, sum.bytes_raw);
    let cap = s.captured();
    assert_eq!(cap.len(), 3);
    assert_eq!((cap[0].status, cap[0].content_type.as_str()), (200, "application/grpc"));
    assert_eq!(cap[0].body, pb(1, &[1, 2, 3]), "the message bytes, unframed");
    assert_eq!(cap[1].body, pb(1, &[3]), "decompressed (gzip)");
    assert!(cap[1].headers.iter().any(|(k, v)| k == "grpc-encoding" && v == "gzip"), "{:?}", cap[1].headers);
    assert_eq!(cap[2].body, pb(2, &[4, 5]), "decompressed (zstd)");
    assert_eq!(s.shutdown().spans, 7);
}

/// The status of a call that must fail.
fn refused(r: Result<ExportTraceServiceResponse, tonic::Status>) -> tonic::Status {
    r.expect_err("a refusal")
}

#[test]
fn faults_answer_their_grpc_status_and_retry_info() {
    // --fail 503 with --retry-after: UNAVAILABLE carrying the delay; --fail 429 without one:
    // RESOURCE_EXHAUSTED with a RetryInfo (retryable) but no delay.
    let faults = Faults { fail: vec![(503, 1.0)], retry_after: Some(Duration::from_secs(2)), ..Default::default() };
    let s = start_grpc(SinkPlan { faults, ..Default::default() });
    let st = rt()
        .block_on(async { refused(export(&mut client(s.grpc_addr.unwrap()).await, request(1, &[1, 2]), &[]).await) });
    assert_eq!(st.code(), tonic::Code::Unavailable);
    assert_eq!(st.message(), "injected by traceblast sink --fail 503");
    assert_eq!(retry(&st), Retry::After(Some(Duration::from_secs(2))));
    let sum = s.shutdown();
    assert_eq!((sum.spans, sum.refused_spans_by_status.get(&503)), (0, Some(&2)));
    assert_eq!(sum.grpc_requests_by_code, [("UNAVAILABLE".into(), 1)].into());

    let s =
        start_grpc(SinkPlan { faults: Faults { fail: vec![(429, 1.0)], ..Default::default() }, ..Default::default() });
    let st =
        rt().block_on(async { refused(export(&mut client(s.grpc_addr.unwrap()).await, request(1, &[1]), &[]).await) });
    assert_eq!((st.code(), retry(&st)), (tonic::Code::ResourceExhausted, Retry::After(None)));
    assert_eq!(s.shutdown().requests_by_status, [(429, 1)].into());

    // --rate-limit: the bucket's wait as the RetryInfo delay (a minute, less the time since).
    let faults = Faults { rate_limit: Some(1.0 / 60.0), ..Default::default() };
    let s = start_grpc(SinkPlan { faults, ..Default::default() });
    let st = rt().block_on(async {
        let mut c = client(s.grpc_addr.unwrap()).await;
        export(&mut c, request(1, &[1]), &[]).await.unwrap();
        refused(export(&mut c, request(2, &[1]), &[]).await)
    });
    assert_eq!(st.code(), tonic::Code::ResourceExhausted);
    let Retry::After(Some(d)) = retry(&st) else { panic!("{:?}", retry(&st)) };
    assert!((50..=60).contains(&d.as_secs()), "{d:?}");
    let sum = s.shutdown();
    assert_eq!((sum.spans, sum.faults.rate_limit), (1, 1));

    // --conflict-on-duplicate: ALREADY_EXISTS, final.
    let s = start_grpc(SinkPlan {
        faults: Faults { conflict_on_duplicate: true, ..Default::default() },
        ..Default::default()
    });
    let st = rt().block_on(async {
        let mut c = client(s.grpc_addr.unwrap()).await;
        export(&mut c, request(1, &[1]), &[]).await.unwrap();
        refused(export(&mut c, request(1, &[2]), &[]).await)
    });
    assert_eq!((st.code(), retry(&st)), (tonic::Code::AlreadyExists, Retry::Never));
    assert_eq!(s.shutdown().faults.conflict, 1);

    // --fail 400: INVALID_ARGUMENT, final.
    let s =
        start_grpc(SinkPlan { faults: Faults { fail: vec![(400, 1.0)], ..Default::default() }, ..Default::default() });
    let st =
        rt().block_on(async { refused(export(&mut client(s.grpc_addr.unwrap()).await, request(1, &[1]), &[]).await) });
    assert_eq!((st.code(), retry(&st)), (tonic::Code::InvalidArgument, Retry::Never));
}

#[test]
fn rejected_spans_come_back_in_partial_success_and_latency_delays() {
    let faults = Faults {
        reject_spans: 0.5,
        latency: Some((Duration::from_millis(40), Duration::from_millis(40))),
        ..Default::default()
    };
    let s = start_grpc(SinkPlan { faults: faults.clone(), ..Default::default() });
    let spans: Vec<u8> = (0..40).collect();
    let mut rng = RequestRng::new(42, 0);
    faults.draw(&mut rng);
    let want = spans.iter().filter(|_| faults.reject_span(&mut rng)).count() as i64;
    assert!(want > 0 && want < 40);
    let t = Instant::now();
    let r = rt()
        .block_on(async { export(&mut client(s.grpc_addr.unwrap()).await, request(1, &spans), &[]).await.unwrap() });
    assert!(t.elapsed() >= Duration::from_millis(40), "delayed by --latency: {:?}", t.elapsed());
    let p = r.partial_success.expect("partial_success");
    assert_eq!(p.rejected_spans, want);
    assert!(p.error_message.contains("--reject-spans"), "{}", p.error_message);
    let sum = s.shutdown();
    assert_eq!((sum.rejected_spans, sum.spans, sum.faults.latency), (want as u64, 40 - want as u64, 1));
    assert_eq!(sum.grpc_requests_by_code, [("OK".into(), 1)].into(), "a partial success is a success");
}

#[test]
fn oversized_messages_are_resource_exhausted_and_never_retried() {
    let s = start_grpc(SinkPlan { max_body: 4096, ..Default::default() });
    let g = s.grpc_addr.unwrap();
    let big = request(1, &(0..=255u8).collect::<Vec<_>>());
    assert!(big.encoded_len() > 4096);
    // 30 KB of alike spans that gzip to far less than 4 KB: refused while decompressing.
    let many = [7u8; 255];
    let mut inflating = request(1, &many);
    inflating.resource_spans.extend(request(2, &many).resource_spans);
    let (plain, gz) = rt().block_on(async {
        let plain = refused(export(&mut client(g).await, big, &[]).await);
        let mut c = client(g).await.send_compressed(CompressionEncoding::Gzip);
        (plain, refused(export(&mut c, inflating, &[]).await))
    });
    assert_eq!((plain.code(), retry(&plain)), (tonic::Code::ResourceExhausted, Retry::Never));
    assert!(plain.message().contains("exceeds the 4096-byte limit"), "{}", plain.message());
    assert_eq!((gz.code(), retry(&gz)), (tonic::Code::ResourceExhausted, Retry::Never));
    assert_eq!(gz.message(), "decompressed message exceeds the 4096-byte limit");
    let sum = s.shutdown();
    assert_eq!((sum.spans, sum.requests_by_status.get(&413)), (0, Some(&2)));
}

#[test]
fn a_profile_s_missing_metadata_is_refused() {
    let s = start_grpc(SinkPlan { profile: Some(Profile::Braintrust), ..Default::default() });
    let g = s.grpc_addr.unwrap();
    let (none, no_parent, ok) = rt().block_on(async {
        let mut c = client(g).await;
        let none = refused(export(&mut c, request(1, &[1]), &[]).await);
        let no_parent = refused(export(&mut c, request(1, &[1]), &[("authorization", "Bearer sk-secret")]).await);
        let meta = [("authorization", "Bearer sk-secret"), ("x-bt-parent", "project_name:p")];
        (none, no_parent, export(&mut c, request(1, &[1]), &meta).await)
    });
    assert_eq!(none.code(), tonic::Code::Unauthenticated);
    assert!(none.message().contains("Authorization: Bearer"), "{}", none.message());
    assert_eq!(no_parent.code(), tonic::Code::InvalidArgument);
    assert!(no_parent.message().contains("x-bt-parent") && !no_parent.message().contains("sk-secret"));
    ok.unwrap();
    let sum = s.shutdown();
    assert_eq!(sum.requests_by_status, [(200, 1), (400, 1), (401, 1)].into());
    assert_eq!(sum.spans, 1);
}

/// A gRPC call made by hand over h2c: the status, message and the response's frame.
struct Raw {
    status: Option<String>,
    message: String,
    body: Bytes,
}

fn raw_call(addr: SocketAddr, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Raw {
    rt().block_on(async {
        let c = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .http2_only(true)
            .build_http::<Full<Bytes>>();
        let mut req = hyper::Request::post(format!("http://{addr}{path}")).header("content-type", "application/grpc");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = c.request(req.body(Full::new(Bytes::from(body))).unwrap()).await.unwrap();
        assert_eq!(resp.status(), 200, "gRPC answers 200 and puts the status in grpc-status");
        let (parts, body) = resp.into_parts();
        let got = body.collect().await.unwrap();
        let mut h = parts.headers;
        if let Some(t) = got.trailers() {
            h.extend(t.clone());
        }
        let text = |k: &str| h.get(k).map(|v| v.to_str().unwrap().to_string());
        Raw {
            status: text("grpc-status"),
            message: text("grpc-message")
                .map(|m| percent_encoding::percent_decode_str(&m).decode_utf8_lossy().into_owned())
                .unwrap_or_default(),
            body: got.to_bytes(),
        }
    })
}

/// A hand-made call that must fail: path, headers, body; the grpc-status and a part of the
/// message it must be answered with.
type Bad<'a> = (&'a str, &'a [(&'a str, &'a str)], Vec<u8>, &'a str, &'a str);

fn frame(flag: u8, msg: &[u8]) -> Vec<u8> {
    let mut f = vec![flag];
    f.extend_from_slice(&(msg.len() as u32).to_be_bytes());
    f.extend_from_slice(msg);
    f
}

#[test]
fn protocol_errors_have_their_codes_and_count_nothing() {
    let s = start_grpc(SinkPlan { max_body: 4096, ..Default::default() });
    let g = s.grpc_addr.unwrap();
    let good = pb(1, &[1, 2]);
    // The reference: a hand-made call is answered like a generated client's.
    let ok = raw_call(g, EXPORT_PATH, &[], frame(0, &good));
    assert_eq!(ok.status.as_deref(), Some("0"));
    assert_eq!(ok.body, frame(0, &ExportTraceServiceResponse::default().encode_to_vec()));
    let cases: [Bad; 8] = [
        ("/opentelemetry.proto.collector.logs.v1.LogsService/Export", &[], frame(0, &good), "12", "unknown method"),
        (EXPORT_PATH, &[("grpc-encoding", "br")], frame(1, &good), "12", "grpc-encoding br is not supported"),
        (EXPORT_PATH, &[], [frame(0, &good), frame(0, &good)].concat(), "3", "more than one message"),
        (EXPORT_PATH, &[], Vec::new(), "3", "no message"),
        (EXPORT_PATH, &[], frame(1, &good), "3", "compressed-flag but no grpc-encoding"),
        (EXPORT_PATH, &[], frame(0, b"\x0a\xff\xff\xff\x0fshort"), "3", "malformed OTLP protobuf"),
        // A length beyond --max-body, whatever follows: RESOURCE_EXHAUSTED, not tonic's OUT_OF_RANGE.
        (EXPORT_PATH, &[], [&[0, 0, 1, 0, 0][..], b"tiny"].concat(), "8", "gRPC message of 65536 bytes exceeds"),
        (EXPORT_PATH, &[("grpc-encoding", "gzip")], frame(1, b"not gzip at all"), "3", "invalid gzip header"),
    ];
    for (path, headers, body, code, says) in cases {
        let r = raw_call(g, path, headers, body);
        assert_eq!(r.status.as_deref(), Some(code), "{path} {headers:?}: {}", r.message);
        assert!(r.message.contains(says), "{path} {headers:?}: {}", r.message);
    }
    let sum = s.shutdown();
    assert_eq!(sum.spans, 2, "only the reference call's spans");
    assert_eq!(sum.requests_by_status, [(200, 1), (400, 5), (404, 1), (413, 1), (415, 1)].into());
    assert_eq!(
        sum.grpc_requests_by_code,
        [
            ("OK".into(), 1),
            ("INVALID_ARGUMENT".into(), 5),
            ("RESOURCE_EXHAUSTED".into(), 1),
            ("UNIMPLEMENTED".into(), 2)
        ]
        .into()
    );
}

#[test]
fn http1_on_the_grpc_port_is_refused_not_hung() {
    use std::io::{Read, Write};
    let s = start_grpc(SinkPlan::default());
    let body = pb(1, &[1]);
    let mut c = std::net::TcpStream::connect(s.grpc_addr.unwrap()).unwrap();
    c.set_read_timeout(Some(DEADLINE)).unwrap();
    let head = format!(
        "POST {EXPORT_PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: application/grpc\r\nContent-Length: {}\r\n\r\n",
        body.len() + 5
    );
    c.write_all(head.as_bytes()).unwrap();
    let _ = c.write_all(&frame(0, &body));
    let mut got = Vec::new();
    // gRPC is HTTP/2 only: the connection is closed (an HTTP/2 GOAWAY at most), never answered 200.
    let r = c.read_to_end(&mut got);
    assert!(r.is_ok() || r.as_ref().is_err_and(|e| e.kind() == std::io::ErrorKind::ConnectionReset), "{r:?}");
    assert!(!got.starts_with(b"HTTP/1.1 200"), "{:?}", String::from_utf8_lossy(&got));
    assert_eq!(s.shutdown().spans, 0);
}

#[test]
fn the_command_prints_the_grpc_address_and_counts_by_protocol() {
    let dir = tempfile::tempdir().unwrap();
    let p = super::spawn_bin(
        dir.path(),
        &["--grpc-listen", "127.0.0.1:0", "--expect-spans", "5", "--summary", "s.json", "--quiet"],
    );
    let first = p.stderr.lock().unwrap().clone();
    let g: SocketAddr = first
        .split("OTLP/gRPC on ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no gRPC address in {first:?}"));
    assert_ne!(g.port(), 0);
    rt().block_on(async { export(&mut client(g).await, request(1, &[1, 2, 3]), &[]).await.unwrap() });
    assert_eq!(super::post(p.addr, super::JSON, None, &[], &super::json(2, &[1, 2])).status, 200);
    let (code, out, _) = p.exit();
    assert_eq!(code, 0);
    assert!(out.contains("\n  protocols   grpc: 1 · http/json: 1  (gRPC OK: 1)\n"), "{out}");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.path().join("s.json")).unwrap()).unwrap();
    assert_eq!(v["requests_by_protocol"], serde_json::json!({"grpc": 1, "http/json": 1}));
    assert_eq!(v["grpc_requests_by_code"], serde_json::json!({"OK": 1}));
    assert_eq!(v["spans"], 5);
}

#[test]
fn through_rotel_every_span_sent_over_grpc_reaches_the_sink() {
    use crate::collector::Rotel;
    let dir = tempfile::tempdir().unwrap();
    let s = start_grpc(SinkPlan::default());
    let rotel = Rotel::start(dir.path(), "grpc", &format!("http://{}", s.grpc_addr.unwrap()));
    let rotel_addr: SocketAddr = ([127, 0, 0, 1], rotel.grpc).into();
    let (traces, per_trace) = (40u8, 5u8);
    rt().block_on(async {
        let mut plain = client(rotel_addr).await;
        let mut gz = client(rotel_addr).await.send_compressed(CompressionEncoding::Gzip);
        for t in 0..traces {
            let spans: Vec<u8> = (t * per_trace..(t + 1) * per_trace).collect();
            let c = if t % 2 == 0 { &mut plain } else { &mut gz };
            let r = export(c, request(t + 1, &spans), &[]).await.unwrap();
            assert_eq!(r.partial_success.map_or(0, |p| p.rejected_spans), 0);
        }
    });
    let sent = u64::from(traces) * u64::from(per_trace);
    // The collector batches and exports asynchronously: wait for it, with a deadline.
    let arrived = s.wait_until(Duration::from_secs(30), |x| x.spans >= sent);
    let sum = s.shutdown();
    assert!(arrived, "only {} of {sent} spans reached the sink", sum.spans);
    assert_eq!(
        (sum.spans, sum.unique_spans, sum.unique_traces, sum.duplicate_span_ids),
        (sent, sent, u64::from(traces), 0)
    );
    assert_eq!(sum.requests_by_protocol.keys().collect::<Vec<_>>(), ["grpc"], "rotel exported over gRPC");
    assert_eq!(sum.grpc_requests_by_code.keys().collect::<Vec<_>>(), ["OK"]);
}

#[test]
fn both_sockets_share_one_connection_cap() {
    let limits = traceblast::sink::Limits { max_connections: 1, ..Default::default() };
    let s = start_grpc(SinkPlan { limits, ..Default::default() });
    // An idle connection on the gRPC port holds the only place...
    let _idle = std::net::TcpStream::connect(s.grpc_addr.unwrap()).unwrap();
    assert!(s.wait_until(DEADLINE, |x| x.limits.connections == 1), "{:?}", s.summary().limits);
    // ...and an HTTP request takes it: the idle one is closed to make room.
    assert_eq!(post_pb(s.addr, &pb(1, &[1])).status, 200);
    let sum = s.shutdown();
    assert_eq!((sum.limits.connections, sum.limits.evicted, sum.limits.connections_peak), (2, 1, 1));
    assert_eq!(sum.spans, 1);
}
