//! A request body, from the socket to its list of spans, within the memory it is allowed.
//!
//! The body is read into one buffer sized by its `Content-Length` once that many bytes of
//! `--max-inflight-bytes` are free (waiting up to `--header-timeout`, then 503), or, without
//! a length, grown as chunks come while the budget has room (503 at once otherwise: a body
//! that holds memory never waits for more, so two half-read bodies cannot wait on each
//! other). A pause of `--idle-timeout` between chunks is answered 408. Decompression and
//! decoding then run without yielding to the runtime, so the decompressed copies at any
//! moment are at most one per runtime thread; what the request keeps afterwards — its span
//! list, held through `--stall` and `--latency` — is what its share is resized to.

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body as _, Incoming};
use tokio::time::Instant;

use super::answer::Answer;
use super::decode::{self, DecodeError, Encoding, Format, SpanKey};
use super::limits::Share;
use super::server::Ctx;

/// Reads the whole body through the size cap `max` (`--max-body`, plus a gRPC frame's
/// header on gRPC) and the budget; `declared` is its length when known (already checked
/// against `max`).
pub(super) async fn read(
    body: &mut Incoming,
    declared: Option<u64>,
    ctx: &Ctx,
    format: Format,
    max: usize,
    share: &mut Share<'_>,
) -> Result<Bytes, Answer> {
    let (plan, limits) = (&ctx.plan, &ctx.plan.limits);
    if let Some(n) = declared
        && !share.wait_for(n, Instant::now() + limits.header_timeout).await
    {
        return Err(busy(ctx, format));
    }
    let mut got = Received { declared: declared.map(|n| n as usize), ..Received::default() };
    // One timer for the whole body, moved on only when it fires: a frame notes the time,
    // which is cheaper than re-arming a timer for every frame.
    let pause = tokio::time::sleep(limits.idle_timeout);
    tokio::pin!(pause);
    let mut last = Instant::now();
    loop {
        let frame = tokio::select! {
            biased;
            f = body.frame() => f,
            () = &mut pause => {
                if last.elapsed() < limits.idle_timeout {
                    pause.as_mut().reset(last + limits.idle_timeout);
                    continue;
                }
                ctx.state.count_body_timeout();
                let idle = humantime::format_duration(limits.idle_timeout);
                return Err(Answer::error(408, format, format!("the body paused for longer than --idle-timeout {idle}")));
            }
        };
        let frame = match frame {
            Some(Ok(frame)) => frame,
            None => return Ok(got.into_bytes()),
            Some(Err(e)) => return Err(Answer::error(400, format, format!("reading the body: {e}"))),
        };
        last = Instant::now();
        if let Ok(data) = frame.into_data() {
            match got.push(data, max, share) {
                Ok(()) => {}
                Err(Refused::TooLarge) => return Err(super::answer::too_large(plan, format, "body")),
                Err(Refused::NoRoom) => return Err(busy(ctx, format)),
            }
        }
    }
}

/// The most of a refused body that is read and discarded after the answer, so that closing
/// the connection does not reset it with unread bytes (a TCP RST that can destroy the answer
/// before the client reads it: the client would see an I/O error instead of a 413).
pub(super) const DRAIN_MAX: u64 = 64 << 20;

/// Reads what is left of a refused body and discards it, on a task of its own so the answer
/// goes out at once ("lingering close", as nginx does): within [`DRAIN_MAX`] bytes and the
/// `--idle-timeout` between chunks; a body declared larger than that is not read at all. The
/// bytes are not kept, so draining takes nothing from `--max-inflight-bytes`. The connection
/// is busy while it drains (`busy`: no header timeout, no eviction as idle) and closes (or
/// serves its next request) when the drain ends.
pub(super) fn drain(mut body: Incoming, idle: std::time::Duration, busy: super::conns::Busy) {
    if body.is_end_stream() || body.size_hint().lower() > DRAIN_MAX {
        return;
    }
    tokio::spawn(async move {
        // The connection stays busy while its request's body is read: its bytes are not a
        // slow next head, and a draining connection is not idle to evict.
        let _busy = busy;
        let mut read = 0u64;
        while read <= DRAIN_MAX {
            match tokio::time::timeout(idle, body.frame()).await {
                Ok(Some(Ok(frame))) => read += frame.data_ref().map_or(0, |d| d.len() as u64),
                _ => return,
            }
        }
    });
}

/// The bytes of a body received so far. A body that comes in one frame (most of them: hyper
/// hands over what its read buffer holds) is kept as that frame, without a copy; from a
/// second frame on, they are gathered in one buffer.
#[derive(Default)]
struct Received {
    declared: Option<usize>,
    first: Option<Bytes>,
    buf: Vec<u8>,
}

enum Refused {
    TooLarge,
    NoRoom,
}

impl Received {
    fn len(&self) -> usize {
        self.first.as_ref().map_or(self.buf.len(), Bytes::len)
    }

    /// Adds a frame. A body of declared length already holds its share; one without grows
    /// its share by the memory it takes, if there is room now.
    fn push(&mut self, data: Bytes, max: usize, share: &mut Share<'_>) -> Result<(), Refused> {
        let len = self.len() + data.len();
        if len > max {
            return Err(Refused::TooLarge);
        }
        let grow = |share: &mut Share<'_>, n: usize| self.declared.is_some() || share.try_grow(n as u64);
        if self.first.is_none() && self.buf.capacity() == 0 {
            if !grow(share, len) {
                return Err(Refused::NoRoom);
            }
            self.first = Some(data);
            return Ok(());
        }
        if len > self.buf.capacity() {
            let cap = self.declared.unwrap_or_else(|| len.max(self.buf.capacity() * 2).min(max)).max(len);
            if !grow(share, cap) {
                return Err(Refused::NoRoom);
            }
            self.buf.reserve_exact(cap - self.buf.len());
        }
        if let Some(first) = self.first.take() {
            self.buf.extend_from_slice(&first);
        }
        self.buf.extend_from_slice(&data);
        Ok(())
    }

    fn into_bytes(self) -> Bytes {
        self.first.unwrap_or_else(|| Bytes::from(self.buf))
    }
}

/// 503: the body's bytes did not fit in `--max-inflight-bytes` in time.
pub(super) fn busy(ctx: &Ctx, format: Format) -> Answer {
    ctx.state.count_busy();
    let max = crate::units::human_bytes(ctx.plan.limits.max_inflight_bytes);
    let mut a = Answer::error(503, format, format!("busy: bodies being read hold --max-inflight-bytes ({max}); retry"));
    a.retry_after = Some(1);
    a
}

/// Decompresses `wire` through the size cap and lists its spans; the share is then resized
/// to the span list, which is all the request keeps.
pub(super) fn span_keys(
    wire: Bytes,
    ctx: &Ctx,
    format: Format,
    encoding: Encoding,
    capture: Option<&mut Vec<u8>>,
    share: &mut Share<'_>,
) -> Result<Vec<SpanKey>, Answer> {
    let plan = &ctx.plan;
    let wire_len = wire.len();
    let raw = match encoding {
        Encoding::Identity => wire,
        enc => {
            let mut inflated = Vec::new();
            if let Err(e) = decode::decompress(&wire, enc, plan.max_body, &mut inflated) {
                ctx.state.add_bytes(wire_len as u64, 0);
                return Err(match e {
                    DecodeError::TooLarge { .. } => super::answer::too_large(plan, format, "decompressed body"),
                    DecodeError::Invalid(m) => Answer::error(400, format, m),
                });
            }
            Bytes::from(inflated)
        }
    };
    keys(raw, wire_len, ctx, format, capture, share)
}

/// Lists the spans of a decompressed message (`wire_len` bytes as received) and resizes the
/// share to the span list.
pub(super) fn keys(
    raw: Bytes,
    wire_len: usize,
    ctx: &Ctx,
    format: Format,
    capture: Option<&mut Vec<u8>>,
    share: &mut Share<'_>,
) -> Result<Vec<SpanKey>, Answer> {
    ctx.state.add_bytes(wire_len as u64, raw.len() as u64);
    if let Some(c) = capture {
        c.extend_from_slice(&raw);
    }
    let mut keys = Vec::new();
    decode::span_keys(&raw, format, &mut keys).map_err(|e| Answer::error(400, format, e.to_string()))?;
    drop(raw);
    if !share.resize((keys.capacity() * std::mem::size_of::<SpanKey>()) as u64) {
        let mut a = busy(ctx, format);
        a.refused_spans = keys.len() as u64;
        return Err(a);
    }
    Ok(keys)
}
