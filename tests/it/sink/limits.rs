//! The sink under abuse: exact paths, idle floods beyond the connection cap and beyond the
//! default open-files limit, slow heads, idle keep-alive connections, paused bodies, and
//! many large uploads at once. Timeouts are short here so that each wait is the timeout
//! itself, measured against a deadline.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::{Duration, Instant};

use prost::Message;
use traceblast::sink::{self, Limits, Profile, SinkPlan, Summary};

use super::{DEADLINE, PB, Resp, parse, pb, post_pb, request, send_raw, spawn_sink, start};
use crate::util::bin;

/// A request must be answered this soon, whatever else the sink is doing.
const PROMPT: Duration = Duration::from_secs(1);

fn limits(header: u64, idle: u64) -> Limits {
    Limits {
        header_timeout: Duration::from_millis(header),
        idle_timeout: Duration::from_millis(idle),
        ..Limits::default()
    }
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(DEADLINE)).unwrap();
    s
}

/// Reads one answer (head and `Content-Length` body) from a connection that stays open.
fn read_answer(s: &mut TcpStream) -> Resp {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len: usize =
                head.lines().find_map(|l| l.strip_prefix("content-length:")).map_or(0, |v| v.trim().parse().unwrap());
            if buf.len() >= end + 4 + len {
                return parse(&buf);
            }
        }
        let n = s.read(&mut chunk).expect("an answer before the deadline");
        assert!(n > 0, "closed before answering: {buf:?}");
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Blocks until the sink closes `s`; how long after `from`. Nothing may arrive before.
fn closed_after(s: &mut TcpStream, from: Instant) -> Duration {
    let mut chunk = [0u8; 256];
    match s.read(&mut chunk) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Ok(n) => panic!("expected the connection to close, got {:?}", String::from_utf8_lossy(&chunk[..n])),
        Err(e) => panic!("not closed within {DEADLINE:?}: {e}"),
    }
    from.elapsed()
}

fn post_path(addr: SocketAddr, path: &str, extra: &[&str]) -> Resp {
    let mut head = format!("POST {path} HTTP/1.1\r\nContent-Type: {PB}");
    for h in extra {
        head += &format!("\r\n{h}");
    }
    send_raw(addr, &head, &pb(1, &[1]))
}

#[test]
fn paths_are_matched_exactly() {
    let s = start(SinkPlan::default());
    assert_eq!(post_path(s.addr, "/v1/traces", &[]).status, 200);
    assert_eq!(post_path(s.addr, "/v1/traces?tenant=a&x=1", &[]).status, 200, "the query is not the path");
    for path in ["/evil/v1/traces", "/v1/traces/", "//v1/traces", "/v1/traces/x", "/V1/traces"] {
        let r = post_path(s.addr, path, &[]);
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(String::from_utf8_lossy(&r.body), "not found: this sink answers POST /v1/traces\n", "{path}");
    }
    // A known platform path says how to have it answered.
    let r = post_path(s.addr, "/otel/v1/traces", &[]);
    assert_eq!(r.status, 404);
    let m = String::from_utf8_lossy(&r.body).into_owned();
    assert!(m.contains("/otel/v1/traces is answered with --profile langsmith or --profile braintrust"), "{m}");
    assert_eq!(s.shutdown().requests_by_status, [(200, 2), (404, 6)].into());

    let s = start(SinkPlan { profile: Some(Profile::Langsmith), ..Default::default() });
    let key = ["x-api-key: k"];
    assert_eq!(post_path(s.addr, "/otel/v1/traces", &key).status, 200);
    assert_eq!(post_path(s.addr, "/v1/traces", &key).status, 200);
    let r = post_path(s.addr, "/api/public/otel/v1/traces", &key);
    assert_eq!(r.status, 404);
    assert!(
        String::from_utf8_lossy(&r.body)
            .starts_with("not found: this sink answers POST /v1/traces and /otel/v1/traces")
    );
    assert_eq!(post_path(s.addr, "/evil/otel/v1/traces", &key).status, 404);
    assert_eq!(s.shutdown().spans, 2);

    let s = start(SinkPlan { profile: Some(Profile::Langfuse), ..Default::default() });
    assert_eq!(post_path(s.addr, "/api/public/otel/v1/traces", &["Authorization: Basic cGs6c2s="]).status, 200);
    assert_eq!(post_path(s.addr, "/otel/v1/traces", &["Authorization: Basic cGs6c2s="]).status, 404);
}

#[test]
fn idle_connections_beyond_the_cap_never_keep_a_request_out() {
    let cap = 16;
    let plan = SinkPlan { limits: Limits { max_connections: cap, ..limits(30_000, 60_000) }, ..Default::default() };
    let s = start(plan);
    // 20 connections that say nothing and 20 that send half a head, then stop.
    let mut idle: Vec<TcpStream> = (0..40).map(|_| connect(s.addr)).collect();
    for c in &mut idle[20..] {
        c.write_all(b"POST /v1/traces HTTP/1.1\r\nHost: x\r\n").unwrap();
    }
    assert!(s.wait_until(DEADLINE, |s| s.limits.connections == 40), "{:?}", s.summary().limits);
    let t = Instant::now();
    assert_eq!(post_pb(s.addr, &pb(1, &[1, 2, 3])).status, 200);
    assert!(t.elapsed() < PROMPT, "answered in {:?}", t.elapsed());
    // Each connection beyond the cap closed the one idle the longest.
    let evicted = 41 - cap as u64;
    assert!(s.wait_until(DEADLINE, |s| s.limits.evicted == evicted), "{:?}", s.summary().limits);
    let sum = s.shutdown();
    assert_eq!((sum.spans, sum.requests), (3, 1));
    assert_eq!((sum.limits.connections, sum.limits.connections_peak), (41, cap as u64));
    assert_eq!((sum.limits.header_timeouts, sum.limits.idle_closed), (0, 0));
}

#[test]
fn eleven_hundred_idle_connections_at_an_open_files_limit_of_1024() {
    // The test holds 1,100 sockets itself.
    let ours = sink::raise_open_files_limit().unwrap();
    assert!(ours >= 1_300, "this test needs an open-files hard limit of at least 1300, not {ours}");
    let dir = tempfile::tempdir().unwrap();
    // The sink starts with the usual soft limit of 1024 (the hard one is inherited).
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "ulimit -Sn 1024 && exec \"$0\" \"$@\"", bin().to_str().unwrap()])
        .args(["sink", "--listen", "127.0.0.1:0", "--quiet", "--expect-spans", "3", "--summary", "s.json"])
        .current_dir(dir.path());
    let p = spawn_sink(cmd);
    let status = std::fs::read_to_string(format!("/proc/{}/limits", p.child.id())).unwrap();
    let soft = status.lines().find(|l| l.starts_with("Max open files")).unwrap().split_whitespace().nth(3);
    assert_eq!(soft, Some(ours.to_string().as_str()), "the sink raised its soft limit to the hard one");
    let idle: Vec<TcpStream> = (0..1_100).map(|_| connect(p.addr)).collect();
    let t = Instant::now();
    let r = post_pb(p.addr, &pb(1, &[1, 2, 3]));
    let took = t.elapsed();
    assert_eq!(r.status, 200);
    assert!(took < PROMPT, "answered in {took:?} behind 1,100 idle connections");
    let (code, out, err) = p.exit();
    assert_eq!(code, 0, "{out}{err}");
    drop(idle);
    let sum: Summary = serde_json::from_slice(&std::fs::read(dir.path().join("s.json")).unwrap()).unwrap();
    assert_eq!((sum.requests, sum.spans), (1, 3));
    assert_eq!((sum.limits.connections, sum.limits.connections_peak, sum.limits.evicted), (1_101, 1_101, 0));
}

#[test]
fn a_slow_head_is_cut_after_the_header_timeout() {
    let s = start(SinkPlan { limits: limits(300, 20_000), ..Default::default() });
    // Half a head, then nothing.
    let mut c = connect(s.addr);
    c.write_all(b"POST /v1/traces HTTP/1.1\r\nHost: x\r\n").unwrap();
    let cut = closed_after(&mut c, Instant::now());
    assert!(cut >= Duration::from_millis(290) && cut < PROMPT + Duration::from_millis(300), "cut after {cut:?}");
    // A byte every 50 ms does not keep a head alive: the clock runs from its first byte.
    let mut c = connect(s.addr);
    c.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let started = Instant::now();
    let head = b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n";
    let mut sent = 0;
    let cut = loop {
        assert!(sent < head.len(), "the whole head went through in {:?}", started.elapsed());
        if c.write_all(&head[sent..=sent]).is_err() {
            break started.elapsed();
        }
        sent += 1;
        // Waits 50 ms for the sink to close the connection (it must not answer).
        match c.read(&mut [0u8; 64]) {
            Ok(0) => break started.elapsed(),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break started.elapsed(),
            Ok(n) => panic!("answered a partial head with {n} bytes"),
            Err(_) => {}
        }
    };
    assert!(cut >= Duration::from_millis(290) && cut < PROMPT + Duration::from_millis(300), "cut after {cut:?}");
    // A head that completes in time is answered.
    let mut c = connect(s.addr);
    let body = pb(1, &[1]);
    c.write_all(b"POST /v1/traces HTTP/1.1\r\nHost: x\r\n").unwrap();
    c.write_all(format!("Content-Type: {PB}\r\nContent-Length: {}\r\n\r\n", body.len()).as_bytes()).unwrap();
    c.write_all(&body).unwrap();
    assert_eq!(read_answer(&mut c).status, 200);
    assert!(s.wait_until(DEADLINE, |s| s.limits.header_timeouts == 2), "{:?}", s.summary().limits);
    assert_eq!(s.shutdown().spans, 1);
}

#[test]
fn idle_keep_alive_connections_are_closed_after_the_idle_timeout() {
    let s = start(SinkPlan { limits: limits(10_000, 400), ..Default::default() });
    let window = |d: Duration| d >= Duration::from_millis(390) && d < PROMPT + Duration::from_millis(400);
    // A connection that never says anything.
    let mut quiet = connect(s.addr);
    let idle = closed_after(&mut quiet, Instant::now());
    assert!(window(idle), "closed after {idle:?}");
    // A keep-alive connection after its answer: the clock starts again at each answer.
    let mut c = connect(s.addr);
    let body = pb(1, &[1]);
    let req =
        format!("POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: {PB}\r\nContent-Length: {}\r\n\r\n", body.len());
    for _ in 0..3 {
        c.write_all(req.as_bytes()).unwrap();
        c.write_all(&body).unwrap();
        assert_eq!(read_answer(&mut c).status, 200);
    }
    let idle = closed_after(&mut c, Instant::now());
    assert!(window(idle), "closed after {idle:?}");
    assert!(s.wait_until(DEADLINE, |s| s.limits.idle_closed == 2), "{:?}", s.summary().limits);
    let sum = s.shutdown();
    assert_eq!((sum.requests, sum.limits.connections), (3, 2));
}

#[test]
fn a_refused_body_is_drained_after_its_answer_and_the_connection_then_waits_as_idle() {
    // --header-timeout 300 ms, --idle-timeout 1.5 s: the drained bytes are the refused request's
    // body, not a slow next head, so the connection is closed as idle, not cut as a slow loris.
    let s = start(SinkPlan { limits: limits(300, 1500), ..Default::default() });
    let mut c = connect(s.addr);
    let body = vec![b'x'; 300_000];
    let head = format!(
        "POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    c.write_all(head.as_bytes()).unwrap();
    // The answer comes before the body is read; the whole body is then taken and discarded.
    c.write_all(&body).unwrap();
    assert_eq!(read_answer(&mut c).status, 415);
    let idle = closed_after(&mut c, Instant::now());
    assert!(idle >= Duration::from_millis(1400), "closed after {idle:?}, before --idle-timeout");
    assert!(s.wait_until(DEADLINE, |s| s.limits.idle_closed == 1), "{:?}", s.summary().limits);
    let sum = s.shutdown();
    assert_eq!((sum.limits.header_timeouts, sum.requests), (0, 1), "{:?}", sum.limits);
    assert_eq!(sum.requests_by_status.get(&415), Some(&1));
}

#[test]
fn a_body_that_pauses_is_answered_408() {
    let s = start(SinkPlan { limits: limits(10_000, 300), ..Default::default() });
    let mut c = connect(s.addr);
    c.write_all(
        format!("POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: {PB}\r\nContent-Length: 100\r\n\r\n").as_bytes(),
    )
    .unwrap();
    c.write_all(&[0u8; 10]).unwrap();
    let t = Instant::now();
    let r = read_answer(&mut c);
    assert!(t.elapsed() >= Duration::from_millis(290) && t.elapsed() < PROMPT, "{:?}", t.elapsed());
    assert_eq!(r.status, 408);
    let st = r.status_message();
    // FAILED_PRECONDITION, the code a gRPC client gets for the same refusal (final, as 408 is).
    assert_eq!((st.code, st.message.as_str()), (9, "the body paused for longer than --idle-timeout 300ms"));
    let sum = s.shutdown();
    assert_eq!((sum.limits.body_timeouts, sum.requests_by_status.get(&408)), (1, Some(&1)));
    assert_eq!(sum.limits.body_bytes_peak, 100, "its declared length was held while it was read");
}

#[test]
fn an_h2c_connection_is_closed_when_idle_not_when_it_only_talks() {
    // Header timeout shorter than the idle one: HTTP/2 has no head clock, its frames are not
    // a request head, so only the idle timeout closes it.
    let s = start(SinkPlan { limits: limits(100, 600), ..Default::default() });
    let mut c = connect(s.addr);
    c.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00").unwrap();
    let t = Instant::now();
    let mut got = Vec::new();
    let _ = c.read_to_end(&mut got);
    let closed = t.elapsed();
    assert!(closed >= Duration::from_millis(590) && closed < PROMPT + Duration::from_millis(600), "{closed:?}");
    assert_eq!(got.get(3), Some(&4), "the sink answered with its SETTINGS frame: {got:?}");
    assert!(s.wait_until(DEADLINE, |s| s.limits.idle_closed == 1), "{:?}", s.summary().limits);
    assert_eq!(s.summary().limits.header_timeouts, 0);
}

#[test]
fn a_body_that_finds_no_room_is_answered_503() {
    let plan = SinkPlan {
        max_body: 1000,
        limits: Limits { max_inflight_bytes: 1000, ..limits(300, 20_000) },
        ..Default::default()
    };
    let s = start(plan);
    // A 1000-byte body holds the whole budget from its head on, while it trickles.
    let mut holder = connect(s.addr);
    let head = |len: usize| {
        format!("POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: {PB}\r\nContent-Length: {len}\r\n\r\n")
    };
    holder.write_all(head(1000).as_bytes()).unwrap();
    holder.write_all(&[0u8; 10]).unwrap();
    assert!(s.wait_until(DEADLINE, |s| s.limits.body_bytes_peak == 1000), "{:?}", s.summary().limits);
    // One with a length waits its header timeout for room, then is told to come back.
    let t = Instant::now();
    let r = post_pb(s.addr, &pb(1, &[1]));
    let waited = t.elapsed();
    assert_eq!((r.status, r.header("retry-after")), (503, Some("1")), "{r:?}");
    assert!(waited >= Duration::from_millis(290) && waited < PROMPT, "{waited:?}");
    assert!(r.status_message().message.starts_with("busy: bodies being read hold --max-inflight-bytes"));
    // One without a length is refused at once: it would hold memory while waiting for more.
    let body = pb(1, &[1]);
    let mut chunked = format!("{:x}\r\n", body.len()).into_bytes();
    chunked.extend_from_slice(&body);
    chunked.extend_from_slice(b"\r\n0\r\n\r\n");
    let t = Instant::now();
    let r = send_raw(
        s.addr,
        &format!("POST /v1/traces HTTP/1.1\r\nContent-Type: {PB}\r\nTransfer-Encoding: chunked"),
        &chunked,
    );
    assert_eq!(r.status, 503);
    assert!(t.elapsed() < Duration::from_millis(290), "{:?}", t.elapsed());
    // Once the holder is done, there is room again.
    holder.write_all(&[0u8; 990]).unwrap();
    assert_eq!(read_answer(&mut holder).status, 400, "1000 zero bytes are not OTLP");
    assert_eq!(post_pb(s.addr, &pb(1, &[1])).status, 200);
    let sum = s.shutdown();
    assert_eq!((sum.limits.busy, sum.spans), (2, 1));
    assert_eq!(sum.requests_by_status, [(200, 1), (400, 1), (503, 2)].into());
}

#[test]
fn the_connection_cap_fits_a_low_open_files_limit() {
    let dir = tempfile::tempdir().unwrap();
    // Soft and hard limit 200: the sink cannot raise it, so it serves at most 136 connections.
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "ulimit -n 200 && exec \"$0\" \"$@\"", bin().to_str().unwrap()])
        .args(["sink", "--listen", "127.0.0.1:0", "--quiet", "--expect-spans", "3", "--summary", "s.json"])
        .current_dir(dir.path());
    let p = spawn_sink(cmd);
    let first = p.stderr.lock().unwrap().clone();
    assert!(first.contains("at most 136 connections, not 4,096: the open-files limit is 200"), "{first}");
    let idle: Vec<TcpStream> = (0..300).map(|_| connect(p.addr)).collect();
    let t = Instant::now();
    assert_eq!(post_pb(p.addr, &pb(1, &[1, 2, 3])).status, 200);
    assert!(t.elapsed() < PROMPT, "answered in {:?} behind 300 idle connections", t.elapsed());
    let (code, out, err) = p.exit();
    assert_eq!(code, 0, "{out}{err}");
    drop(idle);
    let sum: Summary = serde_json::from_slice(&std::fs::read(dir.path().join("s.json")).unwrap()).unwrap();
    assert_eq!((sum.limits.connections, sum.limits.connections_peak), (301, 136));
    assert_eq!(sum.limits.evicted, 301 - 136);
}

/// The peak resident memory of process `pid`, in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb = status.lines().find_map(|l| l.strip_prefix("VmHWM:")).unwrap();
    kb.trim().trim_end_matches("kB").trim().parse::<u64>().unwrap() * 1024
}

/// 64 clients each upload a 16 MB body at once (1 GB in all) to a sink that may hold 64 MiB
/// of bodies. Every upload is answered and counted, a small request on the side is answered
/// within a second, and the sink's peak memory stays under the budget plus 96 MiB (its
/// runtime, the connections' buffers, and the body each runtime thread is decoding).
#[test]
fn sixty_four_large_uploads_keep_memory_bounded() {
    const BUDGET: u64 = 64 << 20;
    const UPLOADS: usize = 64;
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(bin());
    cmd.args(["sink", "--listen", "127.0.0.1:0", "--quiet", "--summary", "s.json"])
        .args(["--max-inflight-bytes", "64MiB", "--header-timeout", "5m"])
        .current_dir(dir.path());
    let p = spawn_sink(cmd);
    let mut big = request(9, &(1..=15).collect::<Vec<u8>>());
    for s in &mut big.resource_spans[0].scope_spans[0].spans {
        s.name = "n".repeat(1_100_000);
    }
    let big = Arc::new(big.encode_to_vec());
    assert!(big.len() > 16_000_000 && big.len() <= 16 << 20, "{}", big.len());
    let (started, done) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let uploads: Vec<_> = (0..UPLOADS)
        .map(|_| {
            let (big, started, done, addr) = (big.clone(), started.clone(), done.clone(), p.addr);
            std::thread::spawn(move || {
                let mut c = connect(addr);
                let head = format!(
                    "POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: {PB}\r\nContent-Length: {}\r\n\r\n",
                    big.len()
                );
                c.write_all(head.as_bytes()).unwrap();
                started.fetch_add(1, SeqCst);
                c.write_all(&big).unwrap();
                let status = read_answer(&mut c).status;
                done.fetch_add(1, SeqCst);
                status
            })
        })
        .collect();
    let end = Instant::now() + DEADLINE;
    while started.load(SeqCst) < UPLOADS {
        assert!(Instant::now() < end, "the uploads did not start");
        std::thread::sleep(Duration::from_millis(5));
    }
    let t = Instant::now();
    assert_eq!(post_pb(p.addr, &pb(1, &[1, 2, 3])).status, 200);
    let took = t.elapsed();
    let finished = done.load(SeqCst);
    assert!(took < PROMPT, "a small request took {took:?} beside the uploads");
    assert!(finished < UPLOADS, "the uploads were over before the small request");
    let statuses: Vec<u16> = uploads.into_iter().map(|u| u.join().unwrap()).collect();
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let peak = peak_rss(p.child.id());
    assert!(Command::new("kill").args(["-INT", &p.child.id().to_string()]).status().unwrap().success());
    let (code, out, err) = p.exit();
    assert_eq!(code, 0, "{out}{err}");
    let sum: Summary = serde_json::from_slice(&std::fs::read(dir.path().join("s.json")).unwrap()).unwrap();
    assert_eq!(sum.spans, 15 * UPLOADS as u64 + 3);
    assert!(sum.limits.body_bytes_peak <= BUDGET, "{:?}", sum.limits);
    assert_eq!(sum.limits.busy, 0);
    eprintln!(
        "64 uploads of {} bytes: sink peak RSS {} MiB (finished before the small request: {finished})",
        big.len(),
        peak >> 20
    );
    assert!(peak < BUDGET + (96 << 20), "peak RSS {} MiB", peak >> 20);
}
