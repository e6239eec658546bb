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

use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::time::Instant;

use super::decode::{self, DecodeError, Encoding, Format, SpanKey};
use super::limits::Share;
use super::server::{Answer, Ctx};

/// Reads the whole body through the size cap and the budget; `declared` is its length when
/// known (already checked against `--max-body`).
pub(super) async fn read(
    mut body: Incoming,
    declared: Option<u64>,
    ctx: &Ctx,
    format: Format,
    share: &mut Share<'_>,
) -> Result<Vec<u8>, Answer> {
    let (plan, limits) = (&ctx.plan, &ctx.plan.limits);
    let mut buf = Vec::new();
    if let Some(n) = declared {
        if !share.wait_for(n, Instant::now() + limits.header_timeout).await {
            return Err(busy(ctx, format));
        }
        buf.reserve_exact(n as usize);
    }
    loop {
        let frame = match tokio::time::timeout(limits.idle_timeout, body.frame()).await {
            Ok(Some(Ok(frame))) => frame,
            Ok(None) => return Ok(buf),
            Ok(Some(Err(e))) => return Err(Answer::error(400, format, format!("reading the body: {e}"))),
            Err(_) => {
                ctx.state.count_body_timeout();
                let idle = humantime::format_duration(limits.idle_timeout);
                return Err(Answer::error(
                    408,
                    format,
                    format!("the body paused for longer than --idle-timeout {idle}"),
                ));
            }
        };
        let Ok(data) = frame.into_data() else { continue };
        let len = buf.len() + data.len();
        if len > plan.max_body {
            return Err(super::server::too_large(plan, format, "body"));
        }
        if len > buf.capacity() {
            let cap = len.max(buf.capacity() * 2).min(plan.max_body);
            if !share.try_grow(cap as u64) {
                return Err(busy(ctx, format));
            }
            buf.reserve_exact(cap - buf.len());
        }
        buf.extend_from_slice(&data);
    }
}

/// 503: the body's bytes did not fit in `--max-inflight-bytes` in time.
fn busy(ctx: &Ctx, format: Format) -> Answer {
    ctx.state.count_busy();
    let max = crate::units::human_bytes(ctx.plan.limits.max_inflight_bytes);
    let mut a = Answer::error(503, format, format!("busy: bodies being read hold --max-inflight-bytes ({max}); retry"));
    a.retry_after = Some(1);
    a
}

/// Decompresses `wire` through the size cap and lists its spans; the share is then resized
/// to the span list, which is all the request keeps.
pub(super) fn span_keys(
    wire: Vec<u8>,
    ctx: &Ctx,
    format: Format,
    encoding: Encoding,
    capture: Option<&mut Vec<u8>>,
    share: &mut Share<'_>,
) -> Result<Vec<SpanKey>, Answer> {
    let plan = &ctx.plan;
    let mut inflated = Vec::new();
    let raw: &[u8] = match encoding {
        Encoding::Identity => &wire,
        enc => match decode::decompress(&wire, enc, plan.max_body, &mut inflated) {
            Ok(()) => &inflated,
            Err(e) => {
                ctx.state.add_bytes(wire.len() as u64, 0);
                return Err(match e {
                    DecodeError::TooLarge { .. } => super::server::too_large(plan, format, "decompressed body"),
                    DecodeError::Invalid(m) => Answer::error(400, format, m),
                });
            }
        },
    };
    ctx.state.add_bytes(wire.len() as u64, raw.len() as u64);
    if let Some(c) = capture {
        c.extend_from_slice(raw);
    }
    let mut keys = Vec::new();
    decode::span_keys(raw, format, &mut keys).map_err(|e| Answer::error(400, format, e.to_string()))?;
    drop((wire, inflated));
    if !share.resize((keys.capacity() * std::mem::size_of::<SpanKey>()) as u64) {
        let mut a = busy(ctx, format);
        a.refused_spans = keys.len() as u64;
        return Err(a);
    }
    Ok(keys)
}
