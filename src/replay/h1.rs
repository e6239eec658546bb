//! HTTP/1.1, hand-written for the one exchange replay makes: a POST whose head is built once
//! and whose body goes out in one `writev` with it, and a response read into one buffer and
//! parsed by `httparse`.
//!
//! Why not hyper's client, which replay used before: at `--rate max` hyper's per-request work
//! (its dispatcher and request/response types, a `HeaderMap` per request, the connection
//! future polled beside every exchange) cost about three times wrk's CPU per request and held
//! replay to 0.66 × wrk's requests/s on simple_query (scripts/bench-replay.sh). This module
//! does what wrk does — one pre-built head, one vectored write, one read, one parse — and
//! keeps what replay needs from a client: the status, `Retry-After`, `Content-Type`, the body
//! bounded, and whether the connection can carry another request. HTTP/2 and gRPC stay on
//! hyper and tonic.
//!
//! The response is read while the request is written, so a server that answers early (a 413
//! before reading the body) and closes is heard, not turned into a reset. A kept-alive
//! connection found closed (or talking unasked) before any byte of the request went out is
//! [`Failed::NotSent`]: the caller sends again on a fresh one.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use hyper::header::{CONNECTION, CONTENT_LENGTH, HOST, HeaderMap, TRANSFER_ENCODING};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::body::Body;

/// A byte stream a connection runs on (TCP, or TLS over TCP).
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// Largest response head read; a longer one is a malformed response.
pub const MAX_HEAD: usize = 64 * 1024;
/// Most headers a response may have.
const MAX_HEADERS: usize = 64;
/// Bytes asked of the socket per read.
const READ_CHUNK: usize = 16 * 1024;

/// The request head every request shares, up to the `Content-Length` value. It holds the
/// headers' values (auth among them), so it has no `Debug`: it cannot end up in a log.
#[derive(Clone)]
pub struct Head(Vec<u8>);

impl Head {
    /// `POST path HTTP/1.1`, `Host` (the authority unless the headers name one), then the
    /// headers; framing headers given by the user are left out (the length is the body's).
    pub fn new(path: &str, authority: &str, headers: &HeaderMap) -> Head {
        let mut h = Vec::with_capacity(256);
        h.extend_from_slice(b"POST ");
        h.extend_from_slice(path.as_bytes());
        h.extend_from_slice(b" HTTP/1.1\r\n");
        if !headers.contains_key(HOST) {
            h.extend_from_slice(b"host: ");
            h.extend_from_slice(authority.as_bytes());
            h.extend_from_slice(b"\r\n");
        }
        for (name, value) in headers {
            if name == CONTENT_LENGTH || name == TRANSFER_ENCODING || name == CONNECTION {
                continue;
            }
            h.extend_from_slice(name.as_str().as_bytes());
            h.extend_from_slice(b": ");
            h.extend_from_slice(value.as_bytes());
            h.extend_from_slice(b"\r\n");
        }
        h.extend_from_slice(b"content-length: ");
        Head(h)
    }

    /// The whole head for a body of `len` bytes.
    fn with_length(&self, len: usize) -> Bytes {
        let mut v = Vec::with_capacity(self.0.len() + 24);
        v.extend_from_slice(&self.0);
        let mut digits = [0u8; 20];
        let mut at = digits.len();
        let mut n = len;
        loop {
            at -= 1;
            digits[at] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        v.extend_from_slice(&digits[at..]);
        v.extend_from_slice(b"\r\n\r\n");
        Bytes::from(v)
    }
}

/// The response body as far as it was read.
#[derive(Debug)]
pub enum ReadBody {
    /// All of it.
    Whole(Bytes),
    /// Longer than the limit: not read.
    TooLarge,
    /// The connection ended before the end; the message says how.
    Cut(String),
    /// The body's framing is broken (a bad chunk); the message says how.
    Malformed(String),
}

/// A response.
#[derive(Debug)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// `Retry-After`, as sent.
    pub retry_after: Option<String>,
    /// `Content-Type`, as sent.
    pub content_type: Option<String>,
    /// The body.
    pub body: ReadBody,
}

/// Why an exchange gave no response.
#[derive(Debug)]
pub enum Failed {
    /// The kept-alive connection was closed, or talked unasked, before the request went out.
    NotSent,
    /// An I/O error after the request (or part of it) went out, or a malformed response.
    Io(io::Error),
}

/// How the response body is delimited.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Framing {
    None,
    Length(u64),
    Chunked,
    UntilClose,
}

/// A parsed response head.
#[derive(Debug)]
struct Parsed {
    len: usize,
    status: u16,
    framing: Framing,
    keep_alive: bool,
    retry_after: Option<String>,
    content_type: Option<String>,
}

/// Bytes read from a connection and not yet used: `data[start..end]`. The memory is zeroed
/// once, when it grows, not for every read (zeroing 16 KiB per read was 4 % of replay's CPU
/// at `--rate max`).
struct Unread {
    data: Vec<u8>,
    start: usize,
    end: usize,
}

impl Unread {
    fn new() -> Self {
        Unread { data: vec![0; READ_CHUNK], start: 0, end: 0 }
    }
    fn filled(&self) -> &[u8] {
        &self.data[self.start..self.end]
    }
    fn len(&self) -> usize {
        self.end - self.start
    }
    fn is_empty(&self) -> bool {
        self.start == self.end
    }
    fn advance(&mut self, n: usize) {
        self.start += n.min(self.len());
        if self.start == self.end {
            (self.start, self.end) = (0, 0);
            // Back to its usual size after a large answer: every connection keeps its buffer.
            if self.data.len() > READ_CHUNK {
                self.data.truncate(READ_CHUNK);
                self.data.shrink_to_fit();
            }
        }
    }
    /// The first `n` bytes, taken out.
    fn take(&mut self, n: usize) -> Bytes {
        let b = Bytes::copy_from_slice(&self.filled()[..n]);
        self.advance(n);
        b
    }
    /// Room for a read of at least `READ_CHUNK / 2` bytes.
    fn spare(&mut self) -> &mut [u8] {
        if self.data.len() - self.end < READ_CHUNK / 2 {
            self.data.copy_within(self.start..self.end, 0);
            (self.start, self.end) = (0, self.end - self.start);
            if self.data.len() - self.end < READ_CHUNK / 2 {
                self.data.resize(self.data.len() * 2, 0);
            }
        }
        &mut self.data[self.end..]
    }
}

/// An HTTP/1.1 connection: the stream and what was read from it but not yet used.
pub struct Conn {
    io: Box<dyn Io>,
    buf: Unread,
    usable: bool,
    /// Requests answered on it (a fresh connection has none).
    served: u64,
}

impl Conn {
    /// A connection over `io`, opened just now.
    pub fn new(io: Box<dyn Io>) -> Conn {
        Conn { io, buf: Unread::new(), usable: true, served: 0 }
    }

    /// Whether a request can be sent on it.
    pub fn is_usable(&self) -> bool {
        self.usable
    }

    /// Resolves when the idle connection ends: the server closed it, broke it, or sent
    /// something unasked. Cancel-safe (each poll reads at most once, into the buffer).
    pub async fn closed(&mut self) {
        if !self.usable {
            return std::future::pending().await;
        }
        let _ = std::future::poll_fn(|cx| self.poll_fill(cx)).await;
        self.usable = false;
    }

    /// Reads once into the buffer: the bytes read, 0 at the end of the stream.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let mut rb = ReadBuf::new(self.buf.spare());
        let r = Pin::new(&mut self.io).poll_read(cx, &mut rb);
        let n = rb.filled().len();
        self.buf.end += n;
        r.map_ok(|()| n)
    }

    async fn fill(&mut self) -> io::Result<usize> {
        std::future::poll_fn(|cx| self.poll_fill(cx)).await
    }

    /// Sends `head` with `body` and reads the response, its body up to `max_body` bytes.
    /// The caller bounds the time. Afterwards [`Conn::is_usable`] says whether another
    /// request may follow.
    pub async fn exchange(&mut self, head: &Head, body: &Body, max_body: usize) -> Result<Response, Failed> {
        let mut out = head.with_length(body.len()).chain(body.cursor());
        let mut sending = Sending { written: 0, error: None, flushed: false, scanned: 0 };
        // Unusable until the whole response has been read.
        self.usable = false;
        let parsed = std::future::poll_fn(|cx| self.poll_send(cx, &mut out, &mut sending)).await?;
        self.buf.advance(parsed.len);
        let body = self.read_body(parsed.framing, max_body).await;
        let whole = matches!(body, ReadBody::Whole(_));
        self.usable =
            whole && parsed.keep_alive && !out.has_remaining() && sending.error.is_none() && self.buf.is_empty();
        self.served += 1;
        Ok(Response { status: parsed.status, retry_after: parsed.retry_after, content_type: parsed.content_type, body })
    }

    /// Writes the request while reading the response, until the response head is complete
    /// (an early answer stops the writing).
    fn poll_send(&mut self, cx: &mut Context<'_>, out: &mut impl Buf, s: &mut Sending) -> Poll<Result<Parsed, Failed>> {
        loop {
            if !self.buf.is_empty() && s.written == 0 && self.served > 0 {
                return Poll::Ready(Err(Failed::NotSent));
            }
            // Parsed only once the end of a head may be there: a server trickling its head a byte
            // at a time must not cost a parse of everything so far per byte.
            if may_end_head(self.buf.filled(), s.scanned) || self.buf.len() > MAX_HEAD {
                if let Some(parsed) = parse_head(&mut self.buf).map_err(Failed::Io)? {
                    return Poll::Ready(Ok(parsed));
                }
                s.scanned = 0;
            } else {
                s.scanned = self.buf.len();
            }
            let mut progress = false;
            let kept_alive_unsent = s.written == 0 && self.served > 0;
            // A reset on a kept-alive connection before any byte of an answer: the server had
            // closed it (its idle timeout firing as the request went out) and its kernel threw
            // the unread request away — the request was never seen, so it goes again on a fresh
            // connection. (A plain end of stream after the request is not that sure: a server
            // may have read it and died, so it stays a failure.)
            let no_answer_yet = self.served > 0 && self.buf.is_empty();
            let unread = |e: &io::Error| no_answer_yet && e.kind() == io::ErrorKind::ConnectionReset;
            match self.poll_fill(cx) {
                Poll::Ready(Ok(0)) if kept_alive_unsent => return Poll::Ready(Err(Failed::NotSent)),
                Poll::Ready(Ok(0)) if s.error.as_ref().is_some_and(unread) => return Poll::Ready(Err(Failed::NotSent)),
                Poll::Ready(Ok(0)) => {
                    let e = s.error.take().unwrap_or_else(|| {
                        io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "the server closed the connection before answering",
                        )
                    });
                    return Poll::Ready(Err(Failed::Io(e)));
                }
                // Bytes before the request went out were not its answer (a 408 sent on close).
                Poll::Ready(Ok(_)) if kept_alive_unsent => return Poll::Ready(Err(Failed::NotSent)),
                Poll::Ready(Ok(_)) => progress = true,
                Poll::Ready(Err(_)) if kept_alive_unsent => return Poll::Ready(Err(Failed::NotSent)),
                Poll::Ready(Err(e)) if unread(&e) => return Poll::Ready(Err(Failed::NotSent)),
                Poll::Ready(Err(e)) => return Poll::Ready(Err(Failed::Io(e))),
                Poll::Pending => {}
            }
            progress |= s.poll_write(&mut self.io, cx, out);
            if !progress {
                return Poll::Pending;
            }
        }
    }

    /// Reads the body as the head framed it, up to `max` bytes.
    async fn read_body(&mut self, framing: Framing, max: usize) -> ReadBody {
        let r = match framing {
            Framing::None => Ok(Some(Bytes::new())),
            Framing::Length(n) if n > max as u64 => return ReadBody::TooLarge,
            Framing::Length(n) => self.read_exactly(n as usize).await,
            Framing::Chunked => self.read_chunked(max).await,
            Framing::UntilClose => self.read_to_close(max).await,
        };
        match r {
            Ok(Some(b)) => ReadBody::Whole(b),
            Ok(None) => ReadBody::TooLarge,
            Err(e) if e.kind() == io::ErrorKind::InvalidData => ReadBody::Malformed(e.to_string()),
            Err(e) => ReadBody::Cut(e.to_string()),
        }
    }

    async fn read_exactly(&mut self, n: usize) -> io::Result<Option<Bytes>> {
        while self.buf.len() < n {
            if self.fill().await? == 0 {
                return Err(cut(n, self.buf.len()));
            }
        }
        Ok(Some(self.buf.take(n)))
    }

    async fn read_to_close(&mut self, max: usize) -> io::Result<Option<Bytes>> {
        // What came with the head counts too: checked before every read and at the end.
        loop {
            if self.buf.len() > max {
                return Ok(None);
            }
            if self.fill().await? == 0 {
                return Ok(Some(self.buf.take(self.buf.len())));
            }
        }
    }

    /// Decodes a chunked body (RFC 9112 §7.1); trailers are read and ignored.
    async fn read_chunked(&mut self, max: usize) -> io::Result<Option<Bytes>> {
        let mut body = BytesMut::new();
        loop {
            let (at, size) = loop {
                match httparse::parse_chunk_size(self.buf.filled()) {
                    Ok(httparse::Status::Complete(c)) => break c,
                    Ok(httparse::Status::Partial) if self.buf.len() > MAX_HEAD => return Err(bad("chunk size line")),
                    Ok(httparse::Status::Partial) => self.more("a chunk size").await?,
                    Err(_) => return Err(bad("chunk size")),
                }
            };
            if size == 0 {
                self.buf.advance(at);
                self.read_trailers().await?;
                return Ok(Some(body.freeze()));
            }
            // `size` can be up to 2^64 - 1 (16 hex digits): compared, never added.
            if size > (max - body.len()) as u64 {
                return Ok(None);
            }
            let need = at + size as usize + 2;
            while self.buf.len() < need {
                self.more("a chunk").await?;
            }
            if &self.buf.filled()[need - 2..need] != b"\r\n" {
                return Err(bad("chunk end"));
            }
            body.extend_from_slice(&self.buf.filled()[at..need - 2]);
            self.buf.advance(need);
        }
    }

    /// The trailer section after the last chunk: lines up to an empty one.
    async fn read_trailers(&mut self) -> io::Result<()> {
        // Where the search for the line's end resumes (not from the start after every read).
        let mut from = 0;
        loop {
            if let Some(i) = self.buf.filled()[from..].windows(2).position(|w| w == b"\r\n") {
                let end = from + i;
                self.buf.advance(end + 2);
                from = 0;
                if end == 0 {
                    return Ok(());
                }
                continue;
            }
            if self.buf.len() > MAX_HEAD {
                return Err(bad("trailers"));
            }
            from = self.buf.len().saturating_sub(1);
            self.more("the trailers").await?;
        }
    }

    async fn more(&mut self, what: &str) -> io::Result<()> {
        if self.fill().await? == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, format!("the connection closed in {what}")));
        }
        Ok(())
    }
}

/// The request's writing: bytes written, the error that stopped it, whether it was flushed.
struct Sending {
    written: usize,
    error: Option<io::Error>,
    flushed: bool,
    /// Bytes of the answer already searched for the end of its head.
    scanned: usize,
}

impl Sending {
    /// Writes what it can of `out`; whether anything moved. A write error stops the writing
    /// (the response may still come: an early answer); it is reported if none does.
    fn poll_write(&mut self, io: &mut Box<dyn Io>, cx: &mut Context<'_>, out: &mut impl Buf) -> bool {
        if self.error.is_some() {
            return false;
        }
        let mut progress = false;
        while out.has_remaining() {
            let mut iov = [IoSlice::new(&[]); 64];
            let n = out.chunks_vectored(&mut iov);
            match Pin::new(&mut *io).poll_write_vectored(cx, &iov[..n]) {
                Poll::Ready(Ok(0)) => {
                    self.error = Some(io::Error::from(io::ErrorKind::WriteZero));
                    return progress;
                }
                Poll::Ready(Ok(k)) => {
                    out.advance(k);
                    self.written += k;
                    progress = true;
                }
                Poll::Ready(Err(e)) => {
                    self.error = Some(e);
                    return progress;
                }
                Poll::Pending => return progress,
            }
        }
        if !self.flushed {
            match Pin::new(&mut *io).poll_flush(cx) {
                Poll::Ready(Ok(())) => {
                    self.flushed = true;
                    progress = true;
                }
                Poll::Ready(Err(e)) => self.error = Some(e),
                Poll::Pending => {}
            }
        }
        progress
    }
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("malformed response: bad {what}"))
}

fn cut(want: usize, got: usize) -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, format!("the connection closed after {got} of {want} body bytes"))
}

/// Whether `buf` may hold the end of a head (an empty line) past `from`, the bytes searched
/// before (three bytes back, for an end split across reads).
fn may_end_head(buf: &[u8], from: usize) -> bool {
    let tail = &buf[from.saturating_sub(3).min(buf.len())..];
    // memchr finds the few line ends of a head; a byte-by-byte window scan here was ~1.5 % of
    // replay's CPU at --rate max.
    memchr::memchr_iter(b'\n', tail).any(|i| match tail.get(i + 1) {
        Some(b'\n') => true,
        Some(b'\r') => tail.get(i + 2) == Some(&b'\n'),
        _ => false,
    })
}

/// Parses a final response head at the start of `buf`; 1xx heads before it are dropped.
/// `None` while incomplete.
fn parse_head(buf: &mut Unread) -> io::Result<Option<Parsed>> {
    loop {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut r = httparse::Response::new(&mut headers);
        let len = match r.parse(buf.filled()) {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD => return Err(bad("head (over 64 KiB)")),
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, format!("malformed response: {e}"))),
        };
        let status = r.code.unwrap_or(0);
        if (100..200).contains(&status) && status != 101 {
            buf.advance(len);
            continue;
        }
        return head_of(&r, len).map(Some);
    }
}

/// The parts of a complete head replay uses, and how its body is framed (RFC 9112 §6.3).
fn head_of(r: &httparse::Response<'_, '_>, len: usize) -> io::Result<Parsed> {
    let status = r.code.unwrap_or(0);
    let http10 = r.version == Some(0);
    let (mut length, mut chunked, mut coded, mut close, mut keep) = (None, false, false, false, false);
    let (mut retry_after, mut content_type) = (None, None);
    let text = |v: &[u8]| String::from_utf8_lossy(v).trim().to_string();
    for h in r.headers.iter() {
        let v = h.value;
        if h.name.eq_ignore_ascii_case("content-length") {
            let n: u64 =
                std::str::from_utf8(v).ok().and_then(|s| s.trim().parse().ok()).ok_or_else(|| bad("Content-Length"))?;
            if length.is_some_and(|m| m != n) {
                return Err(bad("Content-Length (two values)"));
            }
            length = Some(n);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            coded = true;
            chunked = text(v).to_ascii_lowercase().rsplit(',').next().is_some_and(|c| c.trim() == "chunked");
        } else if h.name.eq_ignore_ascii_case("connection") {
            for t in text(v).to_ascii_lowercase().split(',') {
                close |= t.trim() == "close";
                keep |= t.trim() == "keep-alive";
            }
        } else if h.name.eq_ignore_ascii_case("retry-after") {
            retry_after = Some(text(v));
        } else if h.name.eq_ignore_ascii_case("content-type") {
            content_type = Some(text(v));
        }
    }
    // RFC 9112 §6.3: a transfer coding other than chunked last (or any on HTTP/1.0) is read to
    // the close, whatever Content-Length says; a 101 switched the connection away from HTTP.
    let framing = if status == 204 || status == 304 || (100..200).contains(&status) {
        Framing::None
    } else if chunked && !http10 {
        Framing::Chunked
    } else if coded {
        Framing::UntilClose
    } else if let Some(n) = length {
        Framing::Length(n)
    } else {
        Framing::UntilClose
    };
    let keep_alive = framing != Framing::UntilClose && status != 101 && !close && (!http10 || keep);
    Ok(Parsed { len, status, framing, keep_alive, retry_after, content_type })
}

#[cfg(test)]
mod tests;
