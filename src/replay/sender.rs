//! Sends prepared requests over HTTP/1.1 keep-alive connections (or HTTP/2 with `--http2`).
//!
//! With HTTP/1.1, `--connections` worker tasks each own one connection and take requests from a
//! shared queue in order, one at a time, as wrk does; with HTTP/2 each connection multiplexes
//! many requests. A request that waits in the queue for a free connection is in flight: its
//! corrected latency counts the wait. Each request ends in one [`Completion`] after at most
//! `--retries` retries, recorded by the shared [`Recorder`].

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::{http1, http2};
use hyper::header::{HeaderMap, HeaderValue};
use hyper::{Request, Uri};
use hyper_util::rt::TokioExecutor;
use prost::Message;
use tower_service::Service;

use super::classify;
use super::prepare::Prepared;
use super::retry::{backoff, parse_retry_after, retryable};
use crate::otlp::ExportTraceServiceResponse;
use crate::stats::{Completion, ErrorClass, Outcome, Recorder};

/// Largest response body read (to find `partial_success`).
const MAX_RESPONSE: usize = 64 * 1024;

/// Where and how to send.
#[derive(Debug, Clone)]
pub struct Target {
    /// The endpoint.
    pub uri: Uri,
    /// Headers sent with every request (content type, encoding, auth, user agent, custom).
    pub headers: HeaderMap,
    /// Use HTTP/2 (h2 over TLS by ALPN, h2c with prior knowledge over plain TCP).
    pub http2: bool,
    /// Skip certificate verification.
    pub insecure: bool,
    /// Per-attempt deadline.
    pub timeout: Duration,
    /// Retries per request.
    pub retries: u32,
    /// Connections.
    pub connections: usize,
}

/// Requests in flight: sent or waiting for a connection, not yet finished.
#[derive(Debug, Default)]
pub struct InFlight {
    pub(super) count: AtomicUsize,
    /// Threads blocked in `acquire_within` (only `--rate max`'s pacer ever waits).
    waiters: AtomicUsize,
    lock: Mutex<()>,
    cv: Condvar,
}

impl InFlight {
    /// Takes a slot if fewer than `cap` are in use.
    pub fn try_acquire(&self, cap: usize) -> bool {
        let mut cur = self.count.load(Ordering::Acquire);
        loop {
            if cur >= cap {
                return false;
            }
            match self.count.compare_exchange_weak(cur, cur + 1, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return true,
                Err(now) => cur = now,
            }
        }
    }

    /// Waits up to `wait` for a slot.
    pub fn acquire_within(&self, cap: usize, wait: Duration) -> bool {
        if self.try_acquire(cap) {
            return true;
        }
        let guard = self.lock.lock().expect("not poisoned");
        self.waiters.fetch_add(1, Ordering::SeqCst);
        let _unused = self
            .cv
            .wait_timeout_while(guard, wait, |_| self.count.load(Ordering::SeqCst) >= cap)
            .expect("not poisoned");
        self.waiters.fetch_sub(1, Ordering::SeqCst);
        self.try_acquire(cap)
    }

    /// Frees a slot. Wakes a waiter only when there is one: at a fixed rate nobody waits, and
    /// a lock plus a wake-up per request would be pure overhead.
    pub fn release(&self) {
        self.count.fetch_sub(1, Ordering::SeqCst);
        if self.waiters.load(Ordering::SeqCst) > 0 {
            let _g = self.lock.lock().expect("not poisoned");
            self.cv.notify_all();
        }
    }

    /// Slots in use.
    pub fn current(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }
}

/// A request handed from the pacer to the senders.
#[derive(Debug)]
pub struct Job {
    /// The body and its bookkeeping.
    pub prepared: Prepared,
    /// When it was due.
    pub intended: Instant,
}

type Body = Full<super::body::Body>;

/// The future that does the I/O of an HTTP/1.1 connection, and whether it has finished (a
/// finished future must not be polled again).
pub(super) struct Driver {
    io: std::pin::Pin<Box<dyn std::future::Future<Output = hyper::Result<()>> + Send>>,
    done: bool,
}

impl Driver {
    /// Polls the I/O until it finishes; pending forever once it has.
    async fn run(&mut self) {
        if self.done {
            return std::future::pending().await;
        }
        let _ = self.io.as_mut().await;
        self.done = true;
    }
}

pub(super) enum Conn {
    /// HTTP/1.1: the request handle and the connection's I/O future, driven by the same task
    /// that sends (one request at a time per connection, as wrk does) — no wake-ups between
    /// tasks or threads per request.
    H1(http1::SendRequest<Body>, Driver),
    /// HTTP/2: multiplexed; its I/O runs in a spawned task shared by many requests.
    H2(http2::SendRequest<Body>),
}

impl Conn {
    pub(super) fn is_usable(&self) -> bool {
        match self {
            Conn::H1(s, d) => !d.done && !s.is_closed(),
            Conn::H2(s) => s.is_ready() || !s.is_closed(),
        }
    }
}

/// Runs `f` while also driving `driver`; an error if the connection ends first.
async fn with_driver<T>(
    driver: &mut Driver,
    f: impl std::future::Future<Output = hyper::Result<T>>,
) -> hyper::Result<T> {
    tokio::pin!(f);
    tokio::select! {
        biased;
        r = &mut f => r,
        () = driver.run() => {
            // The connection closed or failed before the exchange finished; the request's own
            // future now fails too (canceled or closed), which classifies the error.
            f.await
        }
    }
}

type Connector = hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>;

/// Shared sending state.
pub struct Senders {
    pub(super) target: Arc<Target>,
    connector: Connector,
    pub(super) recorder: Arc<Recorder>,
    pub(super) inflight: Arc<InFlight>,
    /// Requests that got any HTTP response (for the "is it running?" hint).
    pub responses: AtomicUsize,
    /// The request target every request carries (origin form for HTTP/1.1), built once.
    request_uri: Uri,
    /// The headers every request carries (with Host for HTTP/1.1), built once.
    request_headers: HeaderMap,
}

/// Accepts any certificate (`--insecure`).
#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &rustls::pki_types::CertificateDer<'_>,
        d: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &rustls::pki_types::CertificateDer<'_>,
        d: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn connector(target: &Target) -> Connector {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("ring supports TLS 1.2/1.3");
    let tls = if target.insecure {
        builder.dangerous().with_custom_certificate_verifier(Arc::new(NoVerify(provider))).with_no_client_auth()
    } else {
        let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    let mut http = hyper_util::client::legacy::connect::HttpConnector::new();
    http.set_nodelay(true);
    http.enforce_http(false);
    http.set_connect_timeout(Some(target.timeout));
    let b = hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(tls).https_or_http();
    if target.http2 { b.enable_http2().wrap_connector(http) } else { b.enable_http1().wrap_connector(http) }
}

/// A failure without an HTTP status: its class and message.
type Failure = (ErrorClass, String);

/// One attempt's result.
struct Attempt {
    outcome: Outcome,
    rejected_spans: u64,
    retry_after: Option<Duration>,
    /// Whether the body went out (false when no connection could be made).
    body_sent: bool,
    /// With an error outcome, what the error said.
    message: Option<String>,
}

impl Senders {
    /// Sending state for `target`.
    pub fn new(target: Arc<Target>, recorder: Arc<Recorder>, inflight: Arc<InFlight>) -> Arc<Self> {
        let connector = connector(&target);
        // HTTP/1.1 takes the origin form plus Host; HTTP/2 the absolute form (:authority).
        let mut request_headers = target.headers.clone();
        let request_uri = if target.http2 {
            target.uri.clone()
        } else {
            if let Some(a) = target.uri.authority() {
                request_headers.insert(
                    hyper::header::HOST,
                    HeaderValue::from_str(a.as_str()).expect("authority is a valid header"),
                );
            }
            target.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/").parse().expect("path is a valid URI")
        };
        Arc::new(Senders {
            target,
            connector,
            recorder,
            inflight,
            responses: AtomicUsize::new(0),
            request_uri,
            request_headers,
        })
    }

    pub(super) async fn connect(&self) -> Result<Conn, Failure> {
        let mut c = self.connector.clone();
        let timed_out = || (ErrorClass::ConnectTimeout, format!("no connection within {:?}", self.target.timeout));
        let io = tokio::time::timeout(self.target.timeout, c.call(self.target.uri.clone()))
            .await
            .map_err(|_| timed_out())?
            .map_err(|e| (classify::connect(e.as_ref()), classify::message(e.as_ref())))?;
        let failed = |e: hyper::Error| (classify::connect(&e), classify::message(&e));
        let conn = if self.target.http2 {
            let (send, conn) = http2::handshake(TokioExecutor::new(), io).await.map_err(failed)?;
            tokio::spawn(conn);
            Conn::H2(send)
        } else {
            let (send, conn) = http1::handshake(io).await.map_err(failed)?;
            Conn::H1(send, Driver { io: Box::pin(conn), done: false })
        };
        log::debug!("connection opened to {}", self.target.uri.authority().map_or("?", |a| a.host()));
        Ok(conn)
    }

    fn request(&self, body: super::body::Body) -> Request<Body> {
        let mut req = Request::new(Full::new(body));
        *req.method_mut() = hyper::Method::POST;
        *req.uri_mut() = self.request_uri.clone();
        *req.headers_mut() = self.request_headers.clone();
        req
    }

    async fn attempt(&self, conn: &mut Option<Conn>, body: &super::body::Body) -> Attempt {
        let fail = |(class, message): Failure, body_sent| Attempt {
            outcome: Outcome::Error(class),
            rejected_spans: 0,
            retry_after: None,
            body_sent,
            message: Some(message),
        };
        // A kept-alive connection the server closed meanwhile fails before the request is
        // sent; that is not the server's answer, so reconnect once and send again.
        for fresh_try in 0..2 {
            if conn.as_ref().is_none_or(|c| !c.is_usable()) {
                match self.connect().await {
                    Ok(c) => *conn = Some(c),
                    Err(f) => return fail(f, false),
                }
            }
            let req = self.request(body.clone());
            let fut = async {
                let (resp, driver) = match conn.as_mut().expect("connected") {
                    Conn::H1(s, driver) => {
                        let resp = with_driver(driver, async {
                            s.ready().await?;
                            s.send_request(req).await
                        })
                        .await?;
                        (resp, Some(driver))
                    }
                    Conn::H2(s) => {
                        s.ready().await?;
                        (s.send_request(req).await?, None)
                    }
                };
                let status = resp.status().as_u16();
                let retry_after = resp
                    .headers()
                    .get(hyper::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| parse_retry_after(v, SystemTime::now()));
                let json = resp
                    .headers()
                    .get(hyper::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.contains("json"));
                let collect = Limited::new(resp.into_body(), MAX_RESPONSE).collect();
                let body = match driver {
                    Some(d) => {
                        tokio::pin!(collect);
                        tokio::select! {
                            biased;
                            b = &mut collect => b,
                            () = d.run() => collect.await,
                        }
                    }
                    None => collect.await,
                }
                .map(|b| b.to_bytes());
                Ok::<_, hyper::Error>((status, retry_after, json, body))
            };
            match tokio::time::timeout(self.target.timeout, fut).await {
                Err(_) => {
                    *conn = None;
                    let timeout = self.target.timeout;
                    return fail((ErrorClass::Timeout, format!("no response within {timeout:?}")), true);
                }
                Ok(Err(e)) => {
                    *conn = None;
                    if fresh_try == 0 && (e.is_canceled() || e.is_closed()) {
                        log::debug!("a kept-alive connection was closed by the server; reconnecting");
                        continue;
                    }
                    return fail((classify::exchange(&e), classify::message(&e)), true);
                }
                Ok(Ok((status, retry_after, json, body))) => {
                    self.responses.fetch_add(1, Ordering::Relaxed);
                    let body = match body {
                        Ok(b) => b,
                        Err(_) => {
                            // Too large or broken: the status stands, the connection does not.
                            *conn = None;
                            Bytes::new()
                        }
                    };
                    let rejected_spans = if (200..300).contains(&status) { rejected_spans(&body, json) } else { 0 };
                    return Attempt {
                        outcome: Outcome::Status(status),
                        rejected_spans,
                        retry_after,
                        body_sent: true,
                        message: None,
                    };
                }
            }
        }
        fail((ErrorClass::Closed, "the connection closed twice before the request was sent".into()), true)
    }

    /// Sends one request with retries and records its completion.
    pub(super) async fn handle(&self, conn: &mut Option<Conn>, job: Job) {
        let p = &job.prepared;
        let sent = Instant::now();
        let mut attempts = 0u32;
        let mut wire = 0u64;
        let mut jitter = p.seq.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let result = loop {
            attempts += 1;
            let a = self.attempt(conn, &p.body).await;
            if a.body_sent {
                wire += p.body.len() as u64;
            }
            if !a.outcome.ok() {
                match (&a.outcome, &a.message) {
                    (Outcome::Status(s), _) => log::debug!("request {} attempt {attempts}: status {s}", p.seq),
                    (Outcome::Error(c), m) => log::debug!(
                        "request {} attempt {attempts}: {} ({})",
                        p.seq,
                        c.describe(),
                        m.as_deref().unwrap_or_default()
                    ),
                }
            }
            if attempts > self.target.retries || !retryable(a.outcome) {
                break a;
            }
            jitter ^= jitter << 13;
            jitter ^= jitter >> 7;
            jitter ^= jitter << 17;
            let wait = a.retry_after.unwrap_or_else(|| backoff(attempts, (jitter >> 11) as f64 / (1u64 << 53) as f64));
            tokio::time::sleep(wait).await;
        };
        let c = Completion {
            scenario: p.scenario,
            intended: job.intended,
            sent,
            done: Instant::now(),
            outcome: result.outcome,
            attempts,
            bytes_wire: wire,
            bytes_raw: if wire > 0 { p.raw_len } else { 0 },
            spans: p.spans,
            traces: p.traces,
            rejected_spans: result.rejected_spans,
            message: result.message,
        };
        self.recorder.with(|s| s.complete(&c));
        self.inflight.release();
    }

    /// Runs the connection tasks until `jobs` closes and every request finished; a task that
    /// panicked is an error.
    pub async fn run(self: Arc<Self>, jobs: flume::Receiver<Job>) -> Result<(), String> {
        let mut tasks = Vec::new();
        for _ in 0..self.target.connections.max(1) {
            let me = self.clone();
            let jobs = jobs.clone();
            tasks.push(tokio::spawn(async move {
                let mut conn: Option<Conn> = None;
                if me.target.http2 {
                    let mut spawned = tokio::task::JoinSet::new();
                    while let Ok(job) = jobs.recv_async().await {
                        if conn.as_ref().is_none_or(|c| !c.is_usable()) {
                            conn = me.connect().await.ok();
                        }
                        let me2 = me.clone();
                        let mut own = match &conn {
                            Some(Conn::H2(s)) => Some(Conn::H2(s.clone())),
                            _ => None,
                        };
                        spawned.spawn(async move { me2.handle(&mut own, job).await });
                        reap(&mut spawned)?;
                    }
                    join_set(spawned).await
                } else {
                    while let Ok(job) = jobs.recv_async().await {
                        me.handle(&mut conn, job).await;
                    }
                    Ok(())
                }
            }));
        }
        join_tasks(tasks).await
    }
}

/// Collects the tasks of a `JoinSet` that have finished; the first panic is an error.
pub(super) fn reap(set: &mut tokio::task::JoinSet<()>) -> Result<(), String> {
    while let Some(r) = set.try_join_next() {
        r.map_err(|e| format!("a sending task failed: {e}"))?;
    }
    Ok(())
}

/// Waits for every task of a `JoinSet`; the first panic is an error.
pub(super) async fn join_set(mut set: tokio::task::JoinSet<()>) -> Result<(), String> {
    let mut first = Ok(());
    while let Some(r) = set.join_next().await {
        if let (Err(e), Ok(())) = (r, &first) {
            first = Err(format!("a sending task failed: {e}"));
        }
    }
    first
}

/// Waits for every connection task; the first failure is the error.
pub(super) async fn join_tasks(tasks: Vec<tokio::task::JoinHandle<Result<(), String>>>) -> Result<(), String> {
    let mut first = Ok(());
    for t in tasks {
        let r = t.await.map_err(|e| format!("a sending task failed: {e}")).and_then(|r| r);
        if first.is_ok() {
            first = r;
        }
    }
    first
}

/// `partial_success.rejected_spans` of an `ExportTraceServiceResponse`.
fn rejected_spans(body: &[u8], json: bool) -> u64 {
    if body.is_empty() {
        return 0;
    }
    if json {
        let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
        let r = &v["partialSuccess"]["rejectedSpans"];
        return r.as_u64().or_else(|| r.as_str().and_then(|s| s.parse().ok())).unwrap_or(0);
    }
    ExportTraceServiceResponse::decode(body)
        .ok()
        .and_then(|r| r.partial_success)
        .map(|p| p.rejected_spans.max(0) as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otlp::ExportTracePartialSuccess;

    #[test]
    fn partial_success_in_protobuf_and_json() {
        let r = ExportTraceServiceResponse {
            partial_success: Some(ExportTracePartialSuccess { rejected_spans: 7, error_message: "x".into() }),
        };
        assert_eq!(rejected_spans(&r.encode_to_vec(), false), 7);
        assert_eq!(rejected_spans(br#"{"partialSuccess":{"rejectedSpans":"5"}}"#, true), 5);
        assert_eq!(rejected_spans(br#"{"partialSuccess":{"rejectedSpans":3}}"#, true), 3);
        assert_eq!(rejected_spans(b"", false), 0);
        assert_eq!(rejected_spans(b"garbage\xff", false), 0);
    }

    #[test]
    fn in_flight_cap_is_exact() {
        let f = InFlight::default();
        assert!(f.try_acquire(2));
        assert!(f.try_acquire(2));
        assert!(!f.try_acquire(2));
        assert!(!f.acquire_within(2, Duration::from_millis(5)));
        f.release();
        assert!(f.acquire_within(2, Duration::from_millis(5)));
        assert_eq!(f.current(), 2);
    }
}
