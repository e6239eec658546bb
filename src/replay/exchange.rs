//! One attempt: send a request on a connection, read the response (bounded), classify it.
//!
//! A 2xx counts only when the whole response arrived and, when it says it is one, is a valid
//! `ExportTraceServiceResponse`: a 200 cut short or a body that is not OTLP is a failure with
//! its class (`closed` when cut short, `bad_response` when malformed). A 2xx whose body is
//! larger than [`MAX_RESPONSE`] counts by its status without being read (its connection is
//! closed). `partial_success.rejected_spans` is taken as the server claims it; the recorder
//! clamps it to the request's spans.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::header::{HeaderMap, HeaderValue};
use hyper::{Request, Uri};
use prost::Message;

use super::body::Body;
use super::classify;
use super::connect::{Conn, ReqBody, Target};
use super::h1::{self, ReadBody};
use super::prepare::Compression;
use super::retry::{parse_retry_after, retryable};
use crate::otlp::ExportTraceServiceResponse;
use crate::stats::{ErrorClass, Outcome};

/// Largest response body read (to find `partial_success`); a larger one is not read.
pub const MAX_RESPONSE: usize = 64 * 1024;

/// One attempt's result.
#[derive(Debug)]
pub struct Attempt {
    /// The status, or why there was none.
    pub outcome: Outcome,
    /// `partial_success.rejected_spans` of a 2xx answer, as the server claimed it.
    pub rejected_spans: u64,
    /// `Retry-After` of the answer.
    pub retry_after: Option<Duration>,
    /// Whether the body went out.
    pub body_sent: bool,
    /// With an error outcome, what the error said.
    pub message: Option<String>,
    /// Whether the OTLP spec lets this attempt be retried (for gRPC, `RESOURCE_EXHAUSTED` is
    /// retryable only with a `RetryInfo`, known only here).
    pub retryable: bool,
}

impl Attempt {
    /// An attempt that ended in `failure`.
    pub fn failed((class, message): super::connect::Failure, body_sent: bool) -> Attempt {
        let outcome = Outcome::Error(class);
        Attempt {
            outcome,
            rejected_spans: 0,
            retry_after: None,
            body_sent,
            message: Some(message),
            retryable: retryable(outcome),
        }
    }
}

/// What an attempt on a connection gave.
pub enum Tried {
    /// An answer, or a failure after the request went out; `usable` says whether the
    /// connection can carry another request.
    Done {
        /// The result.
        attempt: Attempt,
        /// Whether the connection is still good.
        usable: bool,
    },
    /// The connection turned out closed before the request was sent (a kept-alive connection
    /// the server had just closed): not the server's answer, send again on a fresh one.
    NotSent,
}

/// The request line and headers every request carries, built once.
pub struct Exchange {
    target: std::sync::Arc<Target>,
    /// HTTP/1.1: the head up to the length, serialized once.
    h1_head: h1::Head,
    /// HTTP/2: the request target (absolute form) and headers.
    request_uri: Uri,
    request_headers: HeaderMap,
    /// gRPC: the headers as metadata, and the message compression.
    metadata: tonic::metadata::MetadataMap,
    grpc_encoding: Option<tonic::codec::CompressionEncoding>,
    /// Requests that got any HTTP response (for the "is it running?" hint).
    pub responses: AtomicUsize,
}

impl Exchange {
    /// The exchange for `target`.
    pub fn new(target: std::sync::Arc<Target>) -> Exchange {
        let path = target.uri.path_and_query().map_or("/", |p| p.as_str());
        let h1_head = h1::Head::new(path, target.uri.authority().map_or("", |a| a.as_str()), &target.headers);
        let (request_uri, request_headers) = (target.uri.clone(), target.headers.clone());
        let metadata = tonic::metadata::MetadataMap::from_headers(target.headers.clone());
        let grpc_encoding = match target.compression {
            Compression::Gzip => Some(tonic::codec::CompressionEncoding::Gzip),
            Compression::Zstd => Some(tonic::codec::CompressionEncoding::Zstd),
            Compression::None => None,
        };
        Exchange {
            target,
            h1_head,
            request_uri,
            request_headers,
            metadata,
            grpc_encoding,
            responses: AtomicUsize::new(0),
        }
    }

    fn request(&self, body: Body) -> Request<ReqBody> {
        let mut req = Request::new(Full::new(body));
        *req.method_mut() = hyper::Method::POST;
        *req.uri_mut() = self.request_uri.clone();
        *req.headers_mut() = self.request_headers.clone();
        req
    }

    /// Sends `body` on `conn` and reads the answer by `deadline` (the attempt's: `--timeout`
    /// from when it started, connecting included).
    pub async fn attempt(&self, conn: &mut Conn, body: &Body, deadline: tokio::time::Instant) -> Tried {
        let timeout = self.target.timeout;
        let tried = match conn {
            Conn::Grpc(channel) => return self.attempt_grpc(channel.clone(), body, deadline).await,
            Conn::H1(c) => tokio::time::timeout_at(deadline, self.attempt_h1(c, body)).await,
            Conn::H2(s) => tokio::time::timeout_at(deadline, self.attempt_h2(s, body)).await,
        };
        tried.unwrap_or_else(|_| Tried::Done {
            attempt: Attempt::failed((ErrorClass::Timeout, format!("no response within {timeout:?}")), true),
            usable: false,
        })
    }

    /// HTTP/1.1, on the hand-written client.
    async fn attempt_h1(&self, c: &mut h1::Conn, body: &Body) -> Tried {
        match c.exchange(&self.h1_head, body, MAX_RESPONSE).await {
            Err(h1::Failed::NotSent) => Tried::NotSent,
            Err(h1::Failed::Io(e)) => Tried::Done {
                attempt: Attempt::failed((classify::io_exchange(&e), e.to_string()), true),
                usable: false,
            },
            Ok(r) => {
                self.responses.fetch_add(1, Ordering::Relaxed);
                let retry_after = r.retry_after.as_deref().and_then(|v| parse_retry_after(v, SystemTime::now()));
                let (attempt, usable) = answer(r.status, retry_after, r.content_type.as_deref(), r.body);
                Tried::Done { attempt, usable: usable && c.is_usable() }
            }
        }
    }

    /// HTTP/2 (h2, h2c), on hyper's client.
    async fn attempt_h2(&self, s: &mut hyper::client::conn::http2::SendRequest<ReqBody>, body: &Body) -> Tried {
        let sent = async {
            s.ready().await?;
            s.send_request(self.request(body.clone())).await
        };
        let resp = match sent.await {
            Ok(r) => r,
            Err(e) if e.is_canceled() || e.is_closed() => return Tried::NotSent,
            Err(e) => {
                let attempt = Attempt::failed((classify::exchange(&e), classify::message(&e)), true);
                return Tried::Done { attempt, usable: false };
            }
        };
        let status = resp.status().as_u16();
        let header = |n| resp.headers().get(n).and_then(|v: &HeaderValue| v.to_str().ok()).map(str::to_owned);
        let retry_after = header(hyper::header::RETRY_AFTER).and_then(|v| parse_retry_after(&v, SystemTime::now()));
        let ctype = header(hyper::header::CONTENT_TYPE);
        let body = match Limited::new(resp.into_body(), MAX_RESPONSE).collect().await {
            Ok(b) => ReadBody::Whole(b.to_bytes()),
            Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => ReadBody::TooLarge,
            Err(e) => ReadBody::Cut(classify::message(e.as_ref())),
        };
        self.responses.fetch_add(1, Ordering::Relaxed);
        let (attempt, usable) = answer(status, retry_after, ctype.as_deref(), body);
        Tried::Done { attempt, usable: usable && !s.is_closed() }
    }
}

impl Exchange {
    /// One unary `Export` call through tonic's client on `channel`: the record's bytes as they
    /// are (the raw codec), compressed as gRPC does when asked, the headers as metadata.
    async fn attempt_grpc(
        &self,
        channel: super::connect::GrpcChannel,
        body: &Body,
        deadline: tokio::time::Instant,
    ) -> Tried {
        let timeout = self.target.timeout;
        let mut grpc = tonic::client::Grpc::with_origin(channel, self.target.uri.clone());
        if let Some(enc) = self.grpc_encoding {
            grpc = grpc.send_compressed(enc);
        }
        let mut req = tonic::Request::new(body.to_bytes());
        *req.metadata_mut() = self.metadata.clone();
        // grpc-timeout tells the server what is left of the attempt.
        req.set_timeout(deadline.saturating_duration_since(tokio::time::Instant::now()).max(Duration::from_millis(1)));
        let path = hyper::http::uri::PathAndQuery::from_static(crate::grpc::EXPORT_PATH);
        let call = async {
            grpc.ready().await.map_err(|e| tonic::Status::from_error(Box::new(e)))?;
            grpc.unary(req, path, crate::grpc::RawCodec).await
        };
        let result = match tokio::time::timeout_at(deadline, call).await {
            Err(_) => {
                let f = (ErrorClass::Timeout, format!("no response within {timeout:?}"));
                return Tried::Done { attempt: Attempt::failed(f, true), usable: false };
            }
            Ok(r) => r,
        };
        let status = match result {
            Ok(resp) => {
                self.responses.fetch_add(1, Ordering::Relaxed);
                let attempt = match ExportTraceServiceResponse::decode(resp.into_inner().as_ref()) {
                    Ok(r) => Attempt {
                        outcome: Outcome::Grpc(tonic::Code::Ok),
                        rejected_spans: r.partial_success.map_or(0, |p| p.rejected_spans.max(0) as u64),
                        retry_after: None,
                        body_sent: true,
                        message: None,
                        retryable: false,
                    },
                    Err(_) => Attempt::failed(
                        (ErrorClass::BadResponse, "the OK response is not an ExportTraceServiceResponse".into()),
                        true,
                    ),
                };
                return Tried::Done { attempt, usable: true };
            }
            Err(status) => status,
        };
        // A transport failure reaches tonic as a status whose source is the hyper error:
        // classified like any other; a status the server sent is its answer.
        if let Some(e) = std::error::Error::source(&status).and_then(|e| e.downcast_ref::<hyper::Error>()) {
            if e.is_canceled() || e.is_closed() {
                return Tried::NotSent;
            }
            let f = (classify::exchange(e), classify::message(e));
            return Tried::Done { attempt: Attempt::failed(f, true), usable: false };
        }
        self.responses.fetch_add(1, Ordering::Relaxed);
        let (retryable, retry_after) = match crate::grpc::retry(&status) {
            crate::grpc::Retry::After(d) => (true, d),
            crate::grpc::Retry::Never => (false, None),
        };
        let attempt = Attempt {
            outcome: Outcome::Grpc(status.code()),
            rejected_spans: 0,
            retry_after,
            body_sent: true,
            message: Some(status.message().chars().take(200).collect()),
            retryable,
        };
        Tried::Done { attempt, usable: true }
    }
}

/// Judges a response: its status, and for a 2xx whether the whole body came and is OTLP.
fn answer(status: u16, retry_after: Option<Duration>, ctype: Option<&str>, body: ReadBody) -> (Attempt, bool) {
    let ok = (200..300).contains(&status);
    let plain = |rejected_spans, usable| {
        let outcome = Outcome::Status(status);
        (
            Attempt {
                outcome,
                rejected_spans,
                retry_after,
                body_sent: true,
                message: None,
                retryable: retryable(outcome),
            },
            usable,
        )
    };
    let body = match body {
        ReadBody::Whole(b) => b,
        // Too large to read: the status stands; the unread rest leaves the connection unusable.
        ReadBody::TooLarge => return plain(0, false),
        ReadBody::Cut(why) if ok => {
            let m = format!("the {status} response was cut short: {why}");
            return (Attempt::failed((ErrorClass::Closed, m), true), false);
        }
        ReadBody::Malformed(why) if ok => {
            let m = format!("the {status} response {why}");
            return (Attempt::failed((ErrorClass::BadResponse, m), true), false);
        }
        // A refusal whose body broke off is still a refusal.
        ReadBody::Cut(_) | ReadBody::Malformed(_) => return plain(0, false),
    };
    if !ok {
        return plain(0, true);
    }
    match rejected_spans(&body, ctype) {
        Ok(r) => plain(r, true),
        Err(why) => (Attempt::failed((ErrorClass::BadResponse, format!("{status} response {why}")), true), true),
    }
}

/// `partial_success.rejected_spans` of an `ExportTraceServiceResponse` body in the content
/// type's format; an error when the body says it is protobuf or JSON and is not a response.
pub fn rejected_spans(body: &[u8], ctype: Option<&str>) -> Result<u64, String> {
    let mime = ctype.unwrap_or("").split(';').next().unwrap_or("").trim().as_bytes();
    let ends_with = |suffix: &str| {
        mime.len() >= suffix.len() && mime[mime.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
    };
    if body.is_empty() {
        return Ok(0);
    }
    if ends_with("json") {
        let v: serde_json::Value = serde_json::from_slice(body)
            .map_err(|_| "is not JSON (an OTLP/JSON ExportTraceServiceResponse)".to_string())?;
        let r = &v["partialSuccess"]["rejectedSpans"];
        return Ok(r.as_u64().or_else(|| r.as_str().and_then(|s| s.parse().ok())).unwrap_or(0));
    }
    if ends_with("protobuf") {
        let r = ExportTraceServiceResponse::decode(body)
            .map_err(|_| "is not an ExportTraceServiceResponse (protobuf)".to_string())?;
        return Ok(r.partial_success.map(|p| p.rejected_spans.max(0) as u64).unwrap_or(0));
    }
    // Another content type (text, HTML): nothing to read in it, the status stands.
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otlp::ExportTracePartialSuccess;
    use bytes::Bytes;

    const PB: Option<&str> = Some("application/x-protobuf");
    const JSON: Option<&str> = Some("application/json; charset=utf-8");

    #[test]
    fn partial_success_in_protobuf_and_json() {
        let r = ExportTraceServiceResponse {
            partial_success: Some(ExportTracePartialSuccess { rejected_spans: 7, error_message: "x".into() }),
        };
        assert_eq!(rejected_spans(&r.encode_to_vec(), PB), Ok(7));
        assert_eq!(rejected_spans(br#"{"partialSuccess":{"rejectedSpans":"5"}}"#, JSON), Ok(5));
        assert_eq!(rejected_spans(br#"{"partialSuccess":{"rejectedSpans":3}}"#, JSON), Ok(3));
        assert_eq!(rejected_spans(b"", PB), Ok(0));
        assert_eq!(rejected_spans(b"OK", Some("text/plain")), Ok(0));
        assert_eq!(rejected_spans(br#"{"partialSuccess":{"rejectedSpans":2}}"#, Some(" Application/JSON ")), Ok(2));
        assert_eq!(rejected_spans(&r.encode_to_vec(), Some("APPLICATION/X-PROTOBUF;q=1")), Ok(7));
        assert_eq!(rejected_spans(b"OK", Some("\u{e9}n")), Ok(0), "a type shorter than the suffixes, not ASCII");
        assert!(rejected_spans(b"garbage\xff", PB).is_err());
        assert!(rejected_spans(b"<html>", JSON).is_err());
    }

    #[test]
    fn a_2xx_cut_short_or_malformed_is_a_failure() {
        let (a, usable) = answer(200, None, PB, ReadBody::Cut("the connection closed".into()));
        assert_eq!(a.outcome, Outcome::Error(ErrorClass::Closed));
        assert!(!usable);
        let (a, _) = answer(200, None, PB, ReadBody::Whole(Bytes::from_static(b"\xff\xff")));
        assert_eq!(a.outcome, Outcome::Error(ErrorClass::BadResponse));
        let (a, _) = answer(413, None, Some("text/plain"), ReadBody::Whole(Bytes::from_static(b"too big")));
        assert_eq!(a.outcome, Outcome::Status(413));
    }
}
