//! HTTP/1.1 test servers over raw TCP: every byte they send is written here, so each can
//! misbehave exactly as a real server was seen to (or as the spec allows).

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prost::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use traceblast::otlp::{ExportTracePartialSuccess, ExportTraceServiceResponse};

use super::{Counts, Running, spawn};

/// Largest request head read; a longer one ends the connection.
const MAX_HEAD: usize = 64 * 1024;
/// Largest request body read.
const MAX_BODY: usize = 64 << 20;

/// A request head: only what these servers need.
pub struct Head {
    pub content_length: usize,
}

/// A connection and the bytes read past the previous request.
pub struct Conn {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    pub fn new(stream: TcpStream) -> Self {
        Conn { stream, buf: Vec::with_capacity(8192) }
    }

    /// Reads the next request head; `None` at end of stream, on an error or a bad head.
    /// Cancel-safe: bytes read so far stay in the buffer.
    pub async fn read_head(&mut self) -> Option<Head> {
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = std::str::from_utf8(&self.buf[..end]).ok()?;
                let content_length = head
                    .lines()
                    .filter_map(|l| l.split_once(':'))
                    .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
                    .map_or(Some(0), |(_, v)| v.trim().parse().ok())?;
                if content_length > MAX_BODY {
                    return None;
                }
                self.buf.drain(..end + 4);
                return Some(Head { content_length });
            }
            if self.buf.len() > MAX_HEAD || self.stream.read_buf(&mut self.buf).await.ok()? == 0 {
                return None;
            }
        }
    }

    /// Reads a body of `len` bytes; `None` if the stream ends first.
    pub async fn read_body(&mut self, len: usize) -> Option<Vec<u8>> {
        while self.buf.len() < len {
            if self.stream.read_buf(&mut self.buf).await.ok()? == 0 {
                return None;
            }
        }
        Some(self.buf.drain(..len).collect())
    }

    /// Reads one whole request (head and body), counting it; `None` at end of stream.
    pub async fn read_request(&mut self, counts: &Counts) -> Option<Vec<u8>> {
        let head = self.read_head().await?;
        counts.requests.fetch_add(1, Ordering::SeqCst);
        self.read_body(head.content_length).await
    }

    /// Writes `bytes`; false if the peer is gone.
    pub async fn write(&mut self, bytes: &[u8]) -> bool {
        self.stream.write_all(bytes).await.is_ok()
    }

    /// Writes an answer and counts it.
    pub async fn answer(&mut self, counts: &Counts, status: u16, headers: &[(&str, &str)], body: &[u8]) -> bool {
        let ok = self.write(&response(status, headers, body)).await;
        if ok {
            counts.answer(status);
        }
        ok
    }

    /// Reads and discards whatever the peer still sends, until it closes or `limit` passes, so
    /// that closing afterwards sends FIN, not RST (a lingering close, as nginx does).
    pub async fn drain(&mut self, limit: Duration) {
        let mut sink = vec![0u8; 64 * 1024];
        let _ =
            tokio::time::timeout(limit, async { while matches!(self.stream.read(&mut sink).await, Ok(n) if n > 0) {} })
                .await;
    }
}

/// An HTTP/1.1 response with Content-Length.
pub fn response(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status} X\r\ncontent-length: {}\r\n", body.len());
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

const PROTOBUF: (&str, &str) = ("content-type", "application/x-protobuf");

/// How an idle keep-alive connection is ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Idle {
    /// close(): FIN now; data the client sends later gets RST.
    Close,
    /// shutdown(SHUT_WR): FIN now, but the server keeps reading, and answers nothing more.
    HalfClose,
}

/// Answers every request 200 (empty `ExportTraceServiceResponse`) and ends a connection idle
/// for `idle` after its last answer (uvicorn's keep-alive timeout, 5 s by default, works so).
pub fn idle_closing(idle: Duration, how: Idle) -> Running {
    spawn(move |stream, counts| async move {
        let mut conn = Conn::new(stream);
        loop {
            let head = match tokio::time::timeout(idle, conn.read_head()).await {
                Ok(Some(h)) => h,
                Ok(None) => return,
                Err(_) => break,
            };
            counts.requests.fetch_add(1, Ordering::SeqCst);
            if conn.read_body(head.content_length).await.is_none() || !conn.answer(&counts, 200, &[PROTOBUF], b"").await
            {
                return;
            }
        }
        if how == Idle::HalfClose {
            let _ = conn.stream.shutdown().await;
            while let Some(head) = conn.read_head().await {
                counts.after_half_close.fetch_add(1, Ordering::SeqCst);
                if conn.read_body(head.content_length).await.is_none() {
                    return;
                }
            }
        }
    })
}

/// Answers the first request of each connection 200 and keeps it open; when the next request's
/// first bytes arrive, resets the connection without reading them (close with SO_LINGER 0): a
/// server whose idle timeout fired as the request went out, as uvicorn's can.
pub fn reset_on_reuse() -> Running {
    spawn(move |stream, counts| async move {
        let mut conn = Conn::new(stream);
        let Some(head) = conn.read_head().await else { return };
        counts.requests.fetch_add(1, Ordering::SeqCst);
        if conn.read_body(head.content_length).await.is_none() || !conn.answer(&counts, 200, &[PROTOBUF], b"").await {
            return;
        }
        if conn.stream.readable().await.is_ok() {
            // Deprecated because a lingering close blocks the thread; a zero linger does not
            // linger at all: the drop sends RST at once.
            #[allow(deprecated)]
            let _ = conn.stream.set_linger(Some(Duration::ZERO));
        }
    })
}

/// Answers `status` (with `Connection: close`) as soon as a request head arrives, before
/// reading its body, then half-closes and drains what the client still sends before closing.
pub fn early_status(status: u16) -> Running {
    spawn(move |stream, counts| async move {
        let mut conn = Conn::new(stream);
        if conn.read_head().await.is_none() {
            return;
        }
        counts.requests.fetch_add(1, Ordering::SeqCst);
        let body = format!("refused with {status} before reading the body");
        let headers = [("connection", "close"), ("content-type", "text/plain")];
        if conn.answer(&counts, status, &headers, body.as_bytes()).await {
            let _ = conn.stream.shutdown().await;
            conn.drain(Duration::from_secs(5)).await;
        }
    })
}

/// How a 200 is broken.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Broken {
    /// `Content-Length: 64` and 10 bytes, then the connection closes.
    Truncated,
    /// A chunked body whose chunk size is not hexadecimal.
    BadChunk,
    /// A chunk of 2^64 - 2 bytes announced after a first one (a size that overflowed a sum).
    HugeChunk,
}

/// Reads each request whole and answers a 200 that is broken as `how` says, then closes.
pub fn broken_200(how: Broken) -> Running {
    spawn(move |stream, counts| async move {
        let mut conn = Conn::new(stream);
        if conn.read_request(&counts).await.is_none() {
            return;
        }
        let bytes: &[u8] = match how {
            Broken::Truncated => b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 64\r\n\r\n0123456789",
            Broken::BadChunk => b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
            Broken::HugeChunk => {
                b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ntransfer-encoding: chunked\r\n\r\n2\r\nab\r\nfffffffffffffffe\r\n"
            }
        };
        if conn.write(bytes).await {
            counts.answer(200);
        }
        let _ = conn.stream.shutdown().await;
        conn.drain(Duration::from_secs(2)).await;
    })
}

/// Answers every request 200 with a valid `ExportTraceServiceResponse` whose
/// `partial_success.rejected_spans` is `claimed`, whatever the request held.
pub fn rejecting(claimed: i64) -> Running {
    let body = ExportTraceServiceResponse {
        partial_success: Some(ExportTracePartialSuccess {
            rejected_spans: claimed,
            error_message: "the test server rejects spans it never saw".into(),
        }),
    }
    .encode_to_vec();
    keep_alive(move |_| (200, vec![PROTOBUF], body.clone()))
}

/// Answers every request 429 with `Retry-After: secs`.
pub fn retry_after(secs: u64) -> Running {
    keep_alive(move |_| (429, vec![("retry-after", leak(secs.to_string()))], b"slow down".to_vec()))
}

/// Answers the first attempt of each request (bodies told apart by their hash) 429 with
/// `Retry-After: secs`, and every later attempt 200: a 429 storm every request survives.
pub fn first_attempt_429(secs: u64) -> Running {
    let seen = Arc::new(Mutex::new(HashSet::new()));
    let after = leak(secs.to_string());
    keep_alive(move |body| {
        let mut h = DefaultHasher::new();
        body.hash(&mut h);
        if seen.lock().unwrap().insert(h.finish()) {
            (429, vec![("retry-after", after)], b"slow down".to_vec())
        } else {
            (200, vec![PROTOBUF], Vec::new())
        }
    })
}

/// A keep-alive server answering each whole request with `answer(body)`.
fn keep_alive<F>(answer: F) -> Running
where
    F: Fn(&[u8]) -> (u16, Vec<(&'static str, &'static str)>, Vec<u8>) + Send + Sync + 'static,
{
    let answer = Arc::new(answer);
    spawn(move |stream, counts| {
        let answer = answer.clone();
        async move {
            let mut conn = Conn::new(stream);
            while let Some(body) = conn.read_request(&counts).await {
                let (status, headers, out) = answer(&body);
                if !conn.answer(&counts, status, &headers, &out).await {
                    return;
                }
            }
        }
    })
}

/// A header value that lives for the test binary (a handful per run).
fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}
