//! Accepting and serving: connections (HTTP/1.1 and h2c on `--listen`, HTTP/2 gRPC on
//! `--grpc-listen`) within one `--max-connections`, each request handed to its protocol's path
//! (`sink::http`, `sink::grpc`) and counted the same way; connections that idle or
//! dawdle closed; a stop on the caller's signal or the plan's stop conditions, then a drain of
//! the requests in flight.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::CONTENT_TYPE;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::conns::{Busy, Slot, Verdict, Watched};
use super::decode::Format;
use super::faults::TokenBucket;
use super::state::Protocol;
use super::{Captured, SinkPlan, SinkState, grpc, http};

/// The OTLP/HTTP traces path.
pub const TRACES_PATH: &str = "/v1/traces";

/// What every request handler shares.
pub(super) struct Ctx {
    pub(super) plan: Arc<SinkPlan>,
    pub(super) state: Arc<SinkState>,
    pub(super) bucket: Option<TokenBucket>,
    /// `--capacity`.
    pub(super) queue: Option<super::faults::Queue>,
}

/// The body of every response: a whole body (HTTP answers, gRPC errors, whose status is in
/// the headers), or a gRPC message followed by its status in trailers.
pub(super) type ResponseBody = http_body_util::Either<http_body_util::Full<Bytes>, grpc::MessageBody>;

/// The sockets a sink serves: OTLP/HTTP, and OTLP/gRPC when `--grpc-listen` is given. A lone
/// `TcpListener` converts into an HTTP-only pair.
pub struct Listeners {
    /// OTLP/HTTP (HTTP/1.1 and h2c).
    pub http: TcpListener,
    /// OTLP/gRPC (HTTP/2 with prior knowledge).
    pub grpc: Option<TcpListener>,
}

impl From<TcpListener> for Listeners {
    fn from(http: TcpListener) -> Self {
        Listeners { http, grpc: None }
    }
}

/// Serves until `shutdown` resolves or a stop condition of the plan (`until_idle`,
/// `expect_spans`) is met, then stops accepting, lets in-flight requests finish (within a
/// grace period) and returns. Prints a progress line per second on stderr unless
/// `plan.quiet`.
pub async fn serve(
    listeners: impl Into<Listeners>,
    plan: Arc<SinkPlan>,
    state: Arc<SinkState>,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let listeners = listeners.into();
    let bucket = plan.faults.rate_limit.map(|r| TokenBucket::new(r, plan.faults.burst));
    let queue = plan.faults.capacity.map(super::faults::Queue::new);
    let ctx = Arc::new(Ctx { plan: plan.clone(), state: state.clone(), bucket, queue });
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
        let (stream, on) = match next_connection(&listeners, &state, &mut stop).await {
            Ok(next) => next,
            Err(why) => {
                state.set_stopped_by(why);
                break;
            }
        };
        state.count_connection();
        let slot = state.conns.add();
        let _ = stream.set_nodelay(true);
        conns.spawn(connection(stream, slot, ctx.clone(), stop_rx.clone(), on));
        while conns.try_join_next().is_some() {}
    }
    drop(listeners);
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

/// Which socket a connection came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Listener {
    Http,
    Grpc,
}

/// The next connection on either socket, with room made for it under `--max-connections`
/// (closing the one idle the longest, or waiting for one to end: the connection accepted
/// meanwhile is the only one held beyond the cap, and the rest wait in the kernel's accept
/// queue); `Err` with the reason once the sink must stop. Only the accepts race each other,
/// so a connection accepted on one socket is never dropped for one on the other.
async fn next_connection(
    listeners: &Listeners,
    state: &SinkState,
    stop: &mut std::pin::Pin<&mut impl std::future::Future<Output = &'static str>>,
) -> Result<(TcpStream, Listener), &'static str> {
    loop {
        let (accepted, on) = tokio::select! {
            why = stop.as_mut() => return Err(why),
            a = listeners.http.accept() => (a, Listener::Http),
            a = accept_on(listeners.grpc.as_ref()) => (a, Listener::Grpc),
        };
        let Ok((stream, _)) = accepted else {
            // Out of file descriptors and similar: wait a little rather than spin.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        tokio::select! {
            why = stop.as_mut() => return Err(why),
            () = state.conns.make_room() => return Ok((stream, on)),
        }
    }
}

/// Accepts on `listener`, or waits for ever without one.
async fn accept_on(listener: Option<&TcpListener>) -> std::io::Result<(TcpStream, std::net::SocketAddr)> {
    match listener {
        Some(l) => l.accept().await,
        None => std::future::pending().await,
    }
}

/// Serves one connection until it ends, the sink stops (gracefully: the request in progress
/// is answered), its watchdog closes it (`--header-timeout`, `--idle-timeout`), or it is
/// asked to make room while idle.
async fn connection(stream: TcpStream, slot: Slot, ctx: Arc<Ctx>, mut stop: watch::Receiver<bool>, on: Listener) {
    let activity = slot.activity.clone();
    let state = ctx.state.clone();
    let svc = {
        let activity = activity.clone();
        hyper::service::service_fn(move |req: Request<Incoming>| {
            let busy = activity.begin();
            let ctx = ctx.clone();
            async move {
                let resp = handle(req, &ctx, on, &busy).await;
                drop(busy);
                Ok::<_, Infallible>(resp)
            }
        })
    };
    let mut builder = auto::Builder::new(TokioExecutor::new());
    if on == Listener::Grpc {
        // gRPC is HTTP/2 only: an HTTP/1.1 client gets a protocol error, not a hung request.
        builder = builder.http2_only();
    }
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

/// Counts one request around its protocol's path: arrival, the capture, the answer and its
/// status (and gRPC code), whether its client waited for it.
async fn handle(req: Request<Incoming>, ctx: &Ctx, on: Listener, busy: &Busy) -> Response<ResponseBody> {
    let state = &ctx.state;
    if on == Listener::Http && super::query::is_query(req.method(), req.uri().path()) {
        let (status, body) = super::query::answer(state, req.uri().path(), req.uri().query());
        let a = super::answer::Answer::json(status, body.to_string());
        return http::response(a);
    }
    let (seq, first) = state.arrive();
    let mut guard = InFlight { state, answered: false };
    let content_type = http::header_str(&req, CONTENT_TYPE).unwrap_or_default().to_string();
    let protocol = match on {
        Listener::Grpc => Protocol::Grpc,
        Listener::Http => match Format::from_content_type(&content_type) {
            Some(Format::Protobuf) => Protocol::HttpProtobuf,
            Some(Format::Json) => Protocol::HttpJson,
            None => Protocol::Http,
        },
    };
    let mut captured = state.wants_capture(seq).then(|| Captured {
        headers: req
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect(),
        body: Vec::new(),
        content_type,
        status: 0,
    });
    let capture = captured.as_mut().map(|c| &mut c.body);
    let a = match on {
        Listener::Http => http::answer(req, ctx, seq, first, capture, busy).await,
        Listener::Grpc => grpc::answer(req, ctx, seq, first, capture).await,
    };
    let code = (on == Listener::Grpc).then(|| grpc::code(&a));
    state.answer(a.status, a.refused_spans, protocol, code);
    guard.answered = true;
    if let Some(mut c) = captured {
        c.status = a.status;
        state.capture(seq, c);
    }
    match on {
        Listener::Http => http::response(a),
        Listener::Grpc => grpc::response(a),
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
}
