//! The OTLP/gRPC request path: unary `TraceService/Export` calls on `--grpc-listen`.
//!
//! The same stages as OTLP/HTTP, with gRPC's shapes, and the first that refuses a call decides
//! the answer: method (`UNIMPLEMENTED`) → `content-type` (`application/grpc…`) → the
//! `--profile`'s headers, which are the call's metadata (`UNAUTHENTICATED`,
//! `INVALID_ARGUMENT`) → `grpc-encoding` (gzip, zstd or identity, else `UNIMPLEMENTED`) → the
//! body, read through the same `--max-inflight-bytes` budget, size cap and pause timeout →
//! the message's declared length against `--max-body` → the message: sliced out of the body
//! when it is the one uncompressed message, else unframed and decompressed by tonic with
//! [`RawDecoder`] (capped at `--max-body` too) → [`crate::wire::scan`] → the fault stage.
//!
//! Answers are decided as HTTP statuses, as on HTTP, and become gRPC statuses here through
//! [`crate::grpc::code_for_http`]: a message over `--max-body` is `RESOURCE_EXHAUSTED`
//! without `RetryInfo` (the spec's "too large", never retried), a 429 `RESOURCE_EXHAUSTED`
//! with one, a 503 `UNAVAILABLE` (with `RetryInfo` when it has a delay). The message's length
//! is checked before tonic sees it because tonic's own check answers `OUT_OF_RANGE`, a code
//! the OTLP spec retries.

use std::convert::Infallible;
use std::future::Ready;
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use http_body_util::combinators::WithTrailers;
use http_body_util::{BodyExt, Either, Full};
use hyper::body::{Body as _, Incoming};
use hyper::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use hyper::{Method, Request, Response};
use tonic::Code;
use tonic::codec::{CompressionEncoding, Streaming};

use super::answer::{Answer, faults, too_large};
use super::decode::Format;
use super::http::header_str;
use super::server::{Ctx, ResponseBody};
use super::{SinkPlan, body};
use crate::grpc::{EXPORT_PATH, RawDecoder, code_for_http, with_retry_info};

/// A gRPC message frame followed by trailers with its status.
pub(super) type MessageBody = WithTrailers<Full<Bytes>, Ready<Option<Result<HeaderMap, Infallible>>>>;

/// Bytes before a gRPC message: the compressed flag and the big-endian length.
pub const FRAME_HEADER: usize = 5;

/// What `grpc-accept-encoding` says the sink takes.
const ACCEPT_ENCODING: &str = "gzip,zstd,identity";

/// Answers one call (the counting around it is the caller's).
pub(super) async fn answer(
    req: Request<Incoming>,
    ctx: &Ctx,
    seq: u64,
    first: Instant,
    capture: Option<&mut Vec<u8>>,
) -> Answer {
    let plan = &ctx.plan;
    let encoding = match admit(&req, plan) {
        Ok(e) => e,
        Err(a) => return a,
    };
    let declared = req.body().size_hint().exact();
    // Held until the answer: the body's bytes while it is read, then its span list.
    let mut share = ctx.state.budget.share();
    let mut incoming = req.into_body();
    let wire = match body::read(
        &mut incoming,
        declared,
        ctx,
        Format::Protobuf,
        plan.max_body + FRAME_HEADER,
        &mut share,
    )
    .await
    {
        Ok(wire) => wire,
        Err(a) => return a,
    };
    let wire_len = wire.len();
    let msg = match message(wire, encoding, plan).await {
        Ok(m) => m,
        Err(a) => {
            ctx.state.add_bytes(wire_len as u64, 0);
            return a;
        }
    };
    match body::keys(msg, wire_len, ctx, Format::Protobuf, capture, &mut share) {
        Ok(keys) => faults(ctx, Format::Protobuf, &keys, seq, first).await,
        Err(a) => a,
    }
}

/// The checks made on the call's head: method, content type, the profile's metadata,
/// `grpc-encoding`, declared length.
fn admit(req: &Request<Incoming>, plan: &SinkPlan) -> Result<Option<CompressionEncoding>, Answer> {
    let path = req.uri().path();
    if path != EXPORT_PATH {
        return Err(unimplemented(404, format!("unknown method {path}: this sink serves {EXPORT_PATH}")));
    }
    if req.method() != Method::POST {
        return Err(unimplemented(405, format!("method {} not allowed: gRPC calls are POST", req.method())));
    }
    let ctype = header_str(req, CONTENT_TYPE).unwrap_or("");
    if !is_grpc(ctype) {
        let shown = if ctype.is_empty() { "none" } else { ctype };
        return Err(Answer::error(415, Format::Protobuf, format!("content-type {shown} is not application/grpc")));
    }
    if let Some(p) = plan.profile
        && let Err(r) = p.check(req.headers(), false)
    {
        return Err(Answer::error(r.status, Format::Protobuf, r.message));
    }
    let encoding = match header_str(req, "grpc-encoding".parse().expect("a header name")).map(str::trim) {
        None | Some("identity") => None,
        Some("gzip") => Some(CompressionEncoding::Gzip),
        Some("zstd") => Some(CompressionEncoding::Zstd),
        Some(other) => {
            let m = format!("grpc-encoding {other} is not supported: use gzip, zstd or identity");
            return Err(unimplemented(415, m));
        }
    };
    if req.body().size_hint().exact().is_some_and(|n| n > (plan.max_body + FRAME_HEADER) as u64) {
        return Err(too_large(plan, Format::Protobuf, "Content-Length"));
    }
    Ok(encoding)
}

/// `application/grpc`, alone or with a suffix (`+proto`) or parameters.
fn is_grpc(ctype: &str) -> bool {
    let mime = ctype.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    mime == "application/grpc" || mime.starts_with("application/grpc+")
}

/// A refusal gRPC has its own code for (`UNIMPLEMENTED`), counted under `status`.
fn unimplemented(status: u16, message: String) -> Answer {
    let mut a = Answer::error(status, Format::Protobuf, message);
    a.grpc = Some(Code::Unimplemented);
    a
}

/// The one message of a unary call's body, unframed and decompressed by tonic through
/// [`RawDecoder`]. Its declared length is checked first (see the module's doc); a body that is
/// exactly one uncompressed message is sliced, not copied.
async fn message(wire: Bytes, encoding: Option<CompressionEncoding>, plan: &SinkPlan) -> Result<Bytes, Answer> {
    if wire.len() >= FRAME_HEADER {
        let len = u32::from_be_bytes(wire[1..FRAME_HEADER].try_into().expect("4 bytes")) as usize;
        if len > plan.max_body {
            let m = format!("gRPC message of {len} bytes exceeds the {}-byte limit", plan.max_body);
            return Err(Answer::error(413, Format::Protobuf, m));
        }
        // The usual call, one uncompressed message and nothing else, is taken as it is:
        // tonic would copy it into its own buffer first (growing it as it goes).
        if wire[0] == 0 && wire.len() == FRAME_HEADER + len {
            return Ok(wire.slice(FRAME_HEADER..));
        }
    }
    let refused = |s: tonic::Status| match s.code() {
        // Decompressed beyond the limit.
        Code::ResourceExhausted => too_large(plan, Format::Protobuf, "decompressed message"),
        _ => Answer::error(400, Format::Protobuf, s.message().to_string()),
    };
    let mut stream = Streaming::new_request(RawDecoder, Full::new(wire), encoding, Some(plan.max_body));
    let Some(msg) = stream.message().await.map_err(refused)? else {
        return Err(Answer::error(400, Format::Protobuf, "no message: a unary Export call carries one"));
    };
    if stream.message().await.map_err(refused)?.is_some() {
        return Err(Answer::error(400, Format::Protobuf, "more than one message in a unary Export call"));
    }
    Ok(msg)
}

/// The gRPC code an answer goes out with.
pub(super) fn code(a: &Answer) -> Code {
    a.grpc.unwrap_or_else(|| code_for_http(a.status))
}

/// The gRPC response for an answer: the `ExportTraceServiceResponse` in a frame and
/// `grpc-status: 0` in trailers, or a trailers-only error (status, message and `RetryInfo` in
/// the headers).
pub(super) fn response(a: Answer) -> Response<ResponseBody> {
    let code = code(&a);
    let resp = Response::builder()
        .status(200)
        .header(CONTENT_TYPE, "application/grpc")
        .header("grpc-accept-encoding", ACCEPT_ENCODING);
    if code == Code::Ok {
        let mut frame = BytesMut::with_capacity(FRAME_HEADER + a.body.len());
        frame.put_u8(0);
        frame.put_u32(a.body.len() as u32);
        frame.put_slice(&a.body);
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", HeaderValue::from_static("0"));
        let body = Full::new(frame.freeze()).with_trailers(std::future::ready(Some(Ok(trailers))));
        return resp.body(Either::Right(body)).expect("valid response parts");
    }
    let info = with_retry_info(a.status, a.retry_after.map(Duration::from_secs));
    let status = crate::grpc::status(code, a.message, info);
    let mut resp = resp.body(Either::Left(Full::new(Bytes::new()))).expect("valid response parts");
    if let Err(e) = status.add_header(resp.headers_mut()) {
        // Only a status whose details cannot be a header value; the code alone still goes.
        let _ = tonic::Status::new(e.code(), "").add_header(resp.headers_mut());
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_content_types() {
        assert!(is_grpc("application/grpc"));
        assert!(is_grpc("application/grpc+proto"));
        assert!(is_grpc("Application/GRPC; charset=utf-8"));
        assert!(!is_grpc("application/grpc-web"));
        assert!(!is_grpc("application/x-protobuf"));
        assert!(!is_grpc(""));
    }
}
