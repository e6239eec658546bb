//! The OTLP/HTTP request path: `POST /v1/traces` (and the `--profile`'s path) with a protobuf
//! or JSON body, gzip, zstd or not compressed.
//!
//! The stages, in order; the first that refuses a request decides the answer: route (404/405)
//! → profile headers (401/400) → content type and encoding (415) → declared size (413) → room
//! for the body in `--max-inflight-bytes` (503) → size received, pauses (413, 408) →
//! decompressed size (413) → decode (400) → the fault stage ([`super::answer::faults`]).

use hyper::body::{Body as _, Incoming};
use hyper::header::{CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER};
use hyper::{Method, Request, Response};
use std::time::Instant;

use super::answer::{Answer, faults, too_large};
use super::conns::Busy;
use super::decode::{Encoding, Format};
use super::server::{Ctx, ResponseBody, TRACES_PATH};
use super::{Profile, SinkPlan, body};

/// The HTTP response for an answer.
pub(super) fn response(a: Answer) -> Response<ResponseBody> {
    let mut resp = Response::builder().status(a.status).header(CONTENT_TYPE, a.content_type);
    if let Some(secs) = a.retry_after {
        resp = resp.header(RETRY_AFTER, secs);
    }
    resp.body(ResponseBody::Left(http_body_util::Full::new(a.body))).expect("valid response parts")
}

pub(super) fn header_str(req: &Request<Incoming>, name: hyper::header::HeaderName) -> Option<&str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

pub(super) async fn answer(
    req: Request<Incoming>,
    ctx: &Ctx,
    seq: u64,
    first: Instant,
    capture: Option<&mut Vec<u8>>,
    busy: &Busy,
) -> Answer {
    let idle = ctx.plan.limits.idle_timeout;
    let (format, encoding) = match admit(&req, &ctx.plan) {
        Ok(fe) => fe,
        Err(a) => {
            body::drain(req.into_body(), idle, busy.again());
            return a;
        }
    };
    let declared = req.body().size_hint().exact();
    // Held until the answer: the body's bytes while it is read, then its span list.
    let mut share = ctx.state.budget.share();
    let mut incoming = req.into_body();
    let keys = match body::read(&mut incoming, declared, ctx, format, ctx.plan.max_body, &mut share).await {
        Ok(wire) => body::span_keys(wire, ctx, format, encoding, capture, &mut share),
        Err(a) => {
            // A body that paused is not waited for again.
            if a.status != 408 {
                body::drain(incoming, idle, busy.again());
            }
            Err(a)
        }
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
