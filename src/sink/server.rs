//! The HTTP side: accept connections (HTTP/1.1 and h2c) within `--max-connections`, answer
//! `POST /v1/traces`, close connections that idle or dawdle, stop on the caller's signal or on
//! the plan's stop conditions, and drain in-flight requests.
//!
//! A request goes through the stages in this order, and the first that refuses it decides
//! the answer: route (404/405) → profile headers (401/400) → content type and encoding (415)
//! → declared size (413) → room for the body in `--max-inflight-bytes` (503) → size received,
//! pauses (413, 408) → decompressed size (413) → decode (400) → stall and latency (waits) →
//! rate limit (429) → `--fail` (its status) → conflict (409) → accept (200, with
//! `partial_success` when spans are rejected). Spans are recorded only on acceptance, right
//! before the answer is sent, so the spans a client saw acknowledged are the spans counted.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::{Body as _, Incoming};
use hyper::header::{CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER};
use hyper::{Method, Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use prost::Message;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::conns::{Slot, Verdict, Watched};
use super::decode::{Encoding, Format, SpanKey};
use super::faults::{RequestRng, TokenBucket};
use super::{Captured, Profile, SinkPlan, SinkState, body};
use crate::otlp::{ExportTracePartialSuccess, ExportTraceServiceResponse, RpcStatus};

/// The OTLP/HTTP traces path.
pub const TRACES_PATH: &str = "/v1/traces";

/// What every request handler shares.
pub(super) struct Ctx {
    pub(super) plan: Arc<SinkPlan>,
    pub(super) state: Arc<SinkState>,
    bucket: Option<TokenBucket>,
}

/// Serves until `shutdown` resolves or a stop condition of the plan (`until_idle`,
/// `expect_spans`) is met, then stops accepting, lets in-flight requests finish (within a
/// grace period) and returns. Prints a progress line per second on stderr unless
/// `plan.quiet`.
pub async fn serve(
    listener: TcpListener,
    plan: Arc<SinkPlan>,
    state: Arc<SinkState>,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let bucket = plan.faults.rate_limit.map(TokenBucket::new);
    let ctx = Arc::new(Ctx { plan: plan.clone(), state: state.clone(), bucket });
    let progress = (!plan.quiet).then(|| tokio::spawn(progress(state.clone())));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut conns = JoinSet::new();
    let stop = async {
        tokio::select! {
            () = shutdown => "shutdown",
            why = stop_condition(&plan, &state) => why,
        }
    };
    tokio::pin!(stop);
    loop {
        tokio::select! {
            why = &mut stop => {
                state.set_stopped_by(why);
                break;
            }
            accepted = accept(&listener, &state) => match accepted {
                Ok((stream, slot)) => {
                    let _ = stream.set_nodelay(true);
                    conns.spawn(connection(stream, slot, ctx.clone(), stop_rx.clone()));
                }
                // Out of file descriptors and similar: wait a little rather than spin.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
        }
        while conns.try_join_next().is_some() {}
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let f = &plan.faults;
    let grace = Duration::from_secs(5)
        + f.stall.map_or(Duration::ZERO, |s| s.duration)
        + f.latency.map_or(Duration::ZERO, |(_, hi)| hi);
    if tokio::time::timeout(grace, async { while conns.join_next().await.is_some() {} }).await.is_err() {
        conns.abort_all();
    }
    if let Some(p) = progress {
        p.abort();
    }
    Ok(())
}

/// Accepts a connection and makes room for it under `--max-connections` (closing the one
/// idle the longest, or waiting for one to end: the connection accepted meanwhile is the
/// only one held beyond the cap, and the rest wait in the kernel's accept queue).
async fn accept(listener: &TcpListener, state: &SinkState) -> std::io::Result<(tokio::net::TcpStream, Slot)> {
    let (stream, _) = listener.accept().await?;
    state.conns.make_room().await;
    state.count_connection();
    Ok((stream, state.conns.add()))
}

/// Serves one connection until it ends, the sink stops (gracefully: the request in progress
/// is answered), its watchdog closes it (`--header-timeout`, `--idle-timeout`), or it is
/// asked to make room while idle.
async fn connection(stream: tokio::net::TcpStream, slot: Slot, ctx: Arc<Ctx>, mut stop: watch::Receiver<bool>) {
    let activity = slot.activity.clone();
    let state = ctx.state.clone();
    let svc = {
        let activity = activity.clone();
        hyper::service::service_fn(move |req| {
            let busy = activity.begin();
            let ctx = ctx.clone();
            async move {
                let resp = handle(req, &ctx).await;
                drop(busy);
                Ok::<_, Infallible>(resp)
            }
        })
    };
    let builder = auto::Builder::new(TokioExecutor::new());
    let conn = builder.serve_connection(TokioIo::new(Watched::new(stream, activity.clone())), svc);
    tokio::pin!(conn);
    let watchdog = tokio::time::sleep_until(activity.look(tokio::time::Instant::now()));
    tokio::pin!(watchdog);
    loop {
        tokio::select! {
            _ = conn.as_mut() => return,
            () = async { drop(stop.wait_for(|s| *s).await) } => {
                conn.as_mut().graceful_shutdown();
                let _ = conn.await;
                return;
            }
            () = activity.attention.notified() => {
                if activity.evicted() {
                    return state.count_evicted();
                }
                watchdog.as_mut().reset(activity.look(tokio::time::Instant::now()));
            }
            () = &mut watchdog => match activity.verdict(tokio::time::Instant::now()) {
                Verdict::Wait(at) => watchdog.as_mut().reset(at),
                Verdict::HeaderTimeout => return state.count_header_timeout(),
                Verdict::Idle => return state.count_idle_closed(),
            },
        }
    }
}

/// Resolves with the reason once `--expect-spans` is reached or `--until-idle` has passed.
async fn stop_condition(plan: &SinkPlan, state: &SinkState) -> &'static str {
    loop {
        if plan.expect_spans.is_some_and(|n| state.spans() >= n) {
            return "expect_spans";
        }
        if let (Some(limit), Some(idle)) = (plan.until_idle, state.idle_for())
            && idle >= limit
        {
            return "idle";
        }
        // Woken early by answers; the tick covers the idle clock and a missed wake-up.
        let _ = tokio::time::timeout(Duration::from_millis(50), state.answered.notified()).await;
    }
}

async fn progress(state: Arc<SinkState>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    // From zero, so requests that came before this task first ran are reported too.
    let (mut prev, mut at) = (super::Summary::default(), Instant::now());
    loop {
        tick.tick().await;
        let now = state.summary();
        if now.requests != prev.requests {
            eprintln!("{}", now.progress_line(&prev, at.elapsed().as_secs_f64()));
        }
        (prev, at) = (now, Instant::now());
    }
}

/// An answer, before it becomes an HTTP response.
pub(super) struct Answer {
    status: u16,
    body: Bytes,
    content_type: &'static str,
    /// Seconds, for the `Retry-After` header.
    pub(super) retry_after: Option<u64>,
    /// Spans the request carried that were not taken (non-200 answers).
    pub(super) refused_spans: u64,
}

impl Answer {
    /// An error answer with a `google.rpc.Status` body in the request's format.
    pub(super) fn error(status: u16, format: Format, message: impl Into<String>) -> Answer {
        let st = RpcStatus { code: grpc_code(status), message: message.into(), details: Vec::new() };
        let body = match format {
            Format::Protobuf => st.encode_to_vec(),
            Format::Json => serde_json::to_vec(&serde_json::json!({ "code": st.code, "message": st.message }))
                .expect("JSON of a status"),
        };
        Answer { status, body: body.into(), content_type: format.content_type(), retry_after: None, refused_spans: 0 }
    }

    fn plain(status: u16, message: &str) -> Answer {
        Answer {
            status,
            body: Bytes::from(format!("{message}\n")),
            content_type: "text/plain; charset=utf-8",
            retry_after: None,
            refused_spans: 0,
        }
    }

    fn success(format: Format, rejected: u64) -> Answer {
        let partial = (rejected > 0).then(|| ExportTracePartialSuccess {
            rejected_spans: rejected as i64,
            error_message: format!("{rejected} spans rejected by traceblast sink --reject-spans"),
        });
        let body = match format {
            Format::Protobuf => ExportTraceServiceResponse { partial_success: partial }.encode_to_vec(),
            Format::Json => {
                // proto3 JSON: int64 as a decimal string.
                let v = match partial {
                    Some(p) => serde_json::json!({ "partialSuccess": {
                        "rejectedSpans": p.rejected_spans.to_string(), "errorMessage": p.error_message } }),
                    None => serde_json::json!({}),
                };
                serde_json::to_vec(&v).expect("JSON of a response")
            }
        };
        Answer {
            status: 200,
            body: body.into(),
            content_type: format.content_type(),
            retry_after: None,
            refused_spans: 0,
        }
    }
}

/// The gRPC code that goes with an HTTP status in a `google.rpc.Status`.
fn grpc_code(status: u16) -> i32 {
    match status {
        400 | 413 | 415 => 3, // INVALID_ARGUMENT
        408 => 4,             // DEADLINE_EXCEEDED
        401 => 16,            // UNAUTHENTICATED
        403 => 7,             // PERMISSION_DENIED
        404 => 5,             // NOT_FOUND
        409 => 6,             // ALREADY_EXISTS
        429 => 8,             // RESOURCE_EXHAUSTED
        501 => 12,            // UNIMPLEMENTED
        502..=504 => 14,      // UNAVAILABLE
        _ => 2,               // UNKNOWN
    }
}

/// Decrements the in-flight count however the request ends: a client that hangs up drops
/// the handler's future mid-wait, and that request is counted as abandoned.
struct InFlight<'a> {
    state: &'a SinkState,
    answered: bool,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.state.leave(self.answered);
    }
}

async fn handle(req: Request<Incoming>, ctx: &Ctx) -> Response<Full<Bytes>> {
    let state = &ctx.state;
    let (seq, first) = state.arrive();
    let mut guard = InFlight { state, answered: false };
    let mut captured = state.wants_capture(seq).then(|| Captured {
        headers: req
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect(),
        body: Vec::new(),
        content_type: header_str(&req, CONTENT_TYPE).unwrap_or_default().to_string(),
        status: 0,
    });
    let a = answer(req, ctx, seq, first, captured.as_mut().map(|c| &mut c.body)).await;
    state.answer(a.status, a.refused_spans);
    guard.answered = true;
    if let Some(mut c) = captured {
        c.status = a.status;
        state.capture(seq, c);
    }
    let mut resp = Response::builder().status(a.status).header(CONTENT_TYPE, a.content_type);
    if let Some(secs) = a.retry_after {
        resp = resp.header(RETRY_AFTER, secs);
    }
    resp.body(Full::new(a.body)).expect("valid response parts")
}

fn header_str(req: &Request<Incoming>, name: hyper::header::HeaderName) -> Option<&str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

async fn answer(req: Request<Incoming>, ctx: &Ctx, seq: u64, first: Instant, capture: Option<&mut Vec<u8>>) -> Answer {
    let (format, encoding) = match admit(&req, &ctx.plan) {
        Ok(fe) => fe,
        Err(a) => return a,
    };
    let declared = req.body().size_hint().exact();
    // Held until the answer: the body's bytes while it is read, then its span list.
    let mut share = ctx.state.budget.share();
    let keys = match body::read(req.into_body(), declared, ctx, format, &mut share).await {
        Ok(wire) => body::span_keys(wire, ctx, format, encoding, capture, &mut share),
        Err(a) => Err(a),
    };
    match keys {
        Ok(keys) => faults(ctx, format, &keys, seq, first).await,
        Err(a) => a,
    }
}

/// The checks made on the request head: route, method, profile, content type and encoding,
/// declared length.
fn admit(req: &Request<Incoming>, plan: &SinkPlan) -> Result<(Format, Encoding), Answer> {
    let path = req.uri().path();
    if path != TRACES_PATH && plan.profile.is_none_or(|p| path != p.path()) {
        return Err(Answer::plain(404, &not_found(path, plan.profile)));
    }
    if req.method() != Method::POST {
        return Err(Answer::plain(405, &format!("method {} not allowed: use POST", req.method())));
    }
    let ctype = header_str(req, CONTENT_TYPE).unwrap_or("");
    let format = Format::from_content_type(ctype);
    if let Some(p) = plan.profile
        && let Err(r) = p.check(req.headers(), format == Some(Format::Json))
    {
        return Err(Answer::error(r.status, format.unwrap_or(Format::Protobuf), r.message));
    }
    let Some(format) = format else {
        let shown = if ctype.is_empty() { "none" } else { ctype };
        let m = format!("unsupported Content-Type {shown}: use application/x-protobuf or application/json");
        return Err(Answer::error(415, Format::Protobuf, m));
    };
    let Some(encoding) = Encoding::from_header(header_str(req, CONTENT_ENCODING)) else {
        let enc = header_str(req, CONTENT_ENCODING).unwrap_or("?");
        return Err(Answer::error(415, format, format!("unsupported Content-Encoding {enc}: use gzip, zstd or none")));
    };
    if req.body().size_hint().exact().is_some_and(|n| n > plan.max_body as u64) {
        return Err(too_large(plan, format, "Content-Length"));
    }
    Ok((format, encoding))
}

/// Paths are matched exactly (the query is not part of the path): `/v1/traces`, and the
/// `--profile`'s own path. The message says which paths this sink answers, and which
/// `--profile` would make a known platform path answered.
fn not_found(path: &str, profile: Option<Profile>) -> String {
    let mut m = format!("not found: this sink answers POST {TRACES_PATH}");
    if let Some(p) = profile.filter(|p| p.path() != TRACES_PATH) {
        m += &format!(" and {}", p.path());
    }
    let platforms: Vec<&str> = Profile::ALL.iter().filter(|p| p.path() == path).map(|p| p.name()).collect();
    if !platforms.is_empty() && path != TRACES_PATH {
        m += &format!(" ({path} is answered with --profile {})", platforms.join(" or --profile "));
    }
    m
}

pub(super) fn too_large(plan: &SinkPlan, format: Format, what: &str) -> Answer {
    Answer::error(413, format, format!("{what} exceeds the {}-byte limit", plan.max_body))
}

/// The fault stage, for a decoded request.
async fn faults(ctx: &Ctx, format: Format, keys: &[SpanKey], seq: u64, first: Instant) -> Answer {
    let (plan, state) = (&ctx.plan, &ctx.state);
    let f = &plan.faults;
    let mut rng = RequestRng::new(plan.seed, seq);
    let draw = f.draw(&mut rng);
    if let Some(wait) = f.stall.and_then(|s| s.wait(first, Instant::now())) {
        state.count_stalled();
        tokio::time::sleep(wait).await;
    }
    if !draw.latency.is_zero() {
        state.count_delayed();
        tokio::time::sleep(draw.latency).await;
    }
    let spans = keys.len() as u64;
    let refuse = |mut a: Answer| {
        a.refused_spans = spans;
        a
    };
    if let Some(bucket) = &ctx.bucket
        && let Err(wait) = bucket.take(Instant::now())
    {
        state.count_rate_limited();
        let mut a = Answer::error(429, format, "rate limited by traceblast sink --rate-limit");
        a.retry_after = Some(f.retry_after_secs(wait));
        return refuse(a);
    }
    if let Some(i) = draw.fail {
        state.count_fail(i);
        let status = f.fail[i].0;
        let mut a = Answer::error(status, format, format!("injected by traceblast sink --fail {status}"));
        if matches!(status, 429 | 503) {
            a.retry_after = f.retry_after.map(|_| f.retry_after_secs(Duration::ZERO));
        }
        return refuse(a);
    }
    match state.record(keys, f.conflict_on_duplicate, || f.reject_span(&mut rng)) {
        Some(r) => Answer::success(format, spans - r.accepted),
        None => {
            state.count_conflict();
            refuse(Answer::error(409, format, "a trace ID of this request was already received"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `serve` can be `tokio::spawn`ed (given a `Send` shutdown future).
    #[allow(dead_code)]
    fn serve_is_send(l: TcpListener, p: Arc<SinkPlan>, s: Arc<SinkState>) -> impl Send {
        serve(l, p, s, async {})
    }

    #[test]
    fn grpc_codes_follow_the_http_status() {
        assert_eq!(grpc_code(400), 3);
        assert_eq!(grpc_code(429), 8);
        assert_eq!(grpc_code(503), 14);
        assert_eq!(grpc_code(418), 2);
    }
}
