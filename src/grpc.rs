//! The OTLP/gRPC pieces both ends share: the sink's receiver and replay's client.
//!
//! - [`RawCodec`] — a tonic codec that moves message bytes as they are. A corpus record is
//!   already an encoded `ExportTraceServiceRequest`, so the client sends it without decoding
//!   and re-encoding it, and the sink gets the bytes to scan with [`crate::wire::scan`], as on
//!   HTTP. (The codec still copies once, into tonic's frame buffer: tonic's `EncodeBuf` is
//!   the only way into the HTTP/2 body.)
//! - [`EXPORT_PATH`] — the one method OTLP/gRPC trace export calls.
//! - [`code_for_http`] / [`http_for_code`] — how the sink's answers, decided as HTTP statuses,
//!   become gRPC codes, and back. The mapping keeps the OTLP retry rule: a status the
//!   OTLP/HTTP spec retries maps to a code (and `RetryInfo`) the OTLP/gRPC spec retries, and
//!   one it does not retry to one it does not ([`with_retry_info`] says when the status carries
//!   a `RetryInfo`).
//! - [`retry`] — the OTLP/gRPC spec's table of retryable codes, with `RESOURCE_EXHAUSTED`
//!   retryable only when the server attached a `google.rpc.RetryInfo`, whose delay is read from
//!   `grpc-status-details-bin`.
//!
//! The spec (OTLP 1.x, "OTLP/gRPC Response", "Failures"): retryable are `CANCELLED`,
//! `DEADLINE_EXCEEDED`, `ABORTED`, `OUT_OF_RANGE`, `UNAVAILABLE`, `DATA_LOSS`, and
//! `RESOURCE_EXHAUSTED` with `RetryInfo`; every other code is final. A success carrying
//! `partial_success` is a success: never retried. A message larger than the server's limit is
//! `RESOURCE_EXHAUSTED` without `RetryInfo`, which the client must not retry.

use std::time::Duration;

use bytes::{Buf, BufMut, Bytes};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// The path of `opentelemetry.proto.collector.trace.v1.TraceService/Export`.
pub const EXPORT_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

/// A tonic [`Codec`] whose messages are their encoded bytes: the encoder writes a
/// [`Bytes`] into the frame as it is, the decoder hands the frame's bytes over (without a copy:
/// they are split off tonic's buffer). Nothing is parsed; the caller checks what it received.
#[derive(Debug, Clone, Copy, Default)]
pub struct RawCodec;

/// [`RawCodec`]'s encoder.
#[derive(Debug, Clone, Copy, Default)]
pub struct RawEncoder;

/// [`RawCodec`]'s decoder.
#[derive(Debug, Clone, Copy, Default)]
pub struct RawDecoder;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawEncoder;
    type Decoder = RawDecoder;

    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }

    fn decoder(&mut self) -> RawDecoder {
        RawDecoder
    }
}

impl Encoder for RawEncoder {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.reserve(item.len());
        dst.put(item);
        Ok(())
    }
}

impl Decoder for RawDecoder {
    type Item = Bytes;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

/// What the OTLP/gRPC spec lets a client do after a call ended with a status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Final: the data must be dropped (and counted as such).
    Never,
    /// Retryable. `after` is the server's `RetryInfo.retry_delay` when it sent one (negative
    /// delays read as zero; a huge one is the server's word: the caller caps it, as it caps
    /// `Retry-After`); otherwise the client backs off exponentially.
    After(Option<Duration>),
}

/// Whether the OTLP/gRPC spec lets a client retry `code`. `RESOURCE_EXHAUSTED` is retryable
/// only when the server signalled that it can recover, by attaching a `RetryInfo`.
pub fn retryable(code: Code, has_retry_info: bool) -> bool {
    match code {
        Code::Cancelled | Code::DeadlineExceeded | Code::Aborted | Code::OutOfRange | Code::Unavailable => true,
        Code::DataLoss => true,
        Code::ResourceExhausted => has_retry_info,
        Code::Ok
        | Code::Unknown
        | Code::InvalidArgument
        | Code::NotFound
        | Code::AlreadyExists
        | Code::PermissionDenied
        | Code::FailedPrecondition
        | Code::Unimplemented
        | Code::Internal
        | Code::Unauthenticated => false,
    }
}

/// The retry decision for a call that ended with `status` ([`Retry::Never`] for `OK`,
/// partial success included). The `RetryInfo` comes from the status's details
/// (`grpc-status-details-bin`, a `google.rpc.Status`); details that do not decode count as
/// absent.
pub fn retry(status: &Status) -> Retry {
    let info = status.get_details_retry_info();
    if retryable(status.code(), info.is_some()) { Retry::After(info.and_then(|i| i.retry_delay)) } else { Retry::Never }
}

/// The gRPC code for an answer the sink decided as an HTTP status. Statuses the OTLP/HTTP
/// spec retries (429, 502, 503, 504) become codes the OTLP/gRPC spec retries (429 becomes
/// `RESOURCE_EXHAUSTED`, which needs a `RetryInfo`: see [`with_retry_info`]); 413 becomes
/// `RESOURCE_EXHAUSTED` without one, which the spec says a server returns for a message over
/// its limit and a client never retries. Other statuses follow `google.rpc.Code`'s HTTP
/// mapping; any other 4xx is `FAILED_PRECONDITION` and any other 5xx `INTERNAL` (both final,
/// as those HTTP statuses are). So the sink's 408 (a body that paused) is
/// `FAILED_PRECONDITION`, not the retryable `DEADLINE_EXCEEDED` (and a `--fail 499` is not the
/// retryable `CANCELLED`): a client treats the same fault the same way over either protocol.
pub fn code_for_http(status: u16) -> Code {
    match status {
        200..=299 => Code::Ok,
        400 | 415 => Code::InvalidArgument,
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        404 => Code::NotFound,
        405 | 501 => Code::Unimplemented,
        504 => Code::DeadlineExceeded,
        409 => Code::AlreadyExists,
        413 | 429 => Code::ResourceExhausted,
        502 | 503 => Code::Unavailable,
        400..=499 => Code::FailedPrecondition,
        _ => Code::Internal,
    }
}

/// Whether the sink's gRPC answer for HTTP `status` carries a `RetryInfo`: always for 429
/// (the one thing that makes `RESOURCE_EXHAUSTED` retryable, as 429 is on HTTP), and for 503
/// when it has a delay to say (the spec's throttling signal: `UNAVAILABLE` with `RetryInfo`).
/// `delay` is the `Retry-After` the HTTP answer would carry.
pub fn with_retry_info(status: u16, delay: Option<Duration>) -> Option<Option<Duration>> {
    match (status, delay) {
        (429, d) => Some(d),
        (503, Some(d)) => Some(Some(d)),
        _ => None,
    }
}

/// A status with `code`, `message` and, when `retry_info` is given, a `google.rpc.RetryInfo`
/// in its details (with `retry_delay` when the inner option is set).
pub fn status(code: Code, message: impl Into<String>, retry_info: Option<Option<Duration>>) -> Status {
    match retry_info {
        Some(delay) => Status::with_error_details(code, message, ErrorDetails::with_retry_info(delay)),
        None => Status::new(code, message),
    }
}

/// The HTTP status that stands for a gRPC code in counts kept by HTTP status (`google.rpc.Code`'s
/// own mapping: `UNAVAILABLE` 503, `RESOURCE_EXHAUSTED` 429, `DEADLINE_EXCEEDED` 504, …).
pub fn http_for_code(code: Code) -> u16 {
    match code {
        Code::Ok => 200,
        Code::Cancelled => 499,
        Code::InvalidArgument | Code::FailedPrecondition | Code::OutOfRange => 400,
        Code::DeadlineExceeded => 504,
        Code::NotFound => 404,
        Code::AlreadyExists | Code::Aborted => 409,
        Code::PermissionDenied => 403,
        Code::Unauthenticated => 401,
        Code::ResourceExhausted => 429,
        Code::Unimplemented => 501,
        Code::Unavailable => 503,
        Code::Unknown | Code::Internal | Code::DataLoss => 500,
    }
}

/// The code's name as the gRPC spec writes it (`UNAVAILABLE`), for summaries and messages.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use http_body_util::{BodyExt, Full};
    use tonic::codec::CompressionEncoding;

    const ALL: [Code; 17] = [
        Code::Ok,
        Code::Cancelled,
        Code::Unknown,
        Code::InvalidArgument,
        Code::DeadlineExceeded,
        Code::NotFound,
        Code::AlreadyExists,
        Code::PermissionDenied,
        Code::ResourceExhausted,
        Code::FailedPrecondition,
        Code::Aborted,
        Code::OutOfRange,
        Code::Unimplemented,
        Code::Internal,
        Code::Unavailable,
        Code::DataLoss,
        Code::Unauthenticated,
    ];

    #[test]
    fn retryable_codes_are_the_spec_s_table() {
        let yes: Vec<&str> = ALL.iter().filter(|c| retryable(**c, false)).map(|c| code_name(*c)).collect();
        assert_eq!(yes, ["CANCELLED", "DEADLINE_EXCEEDED", "ABORTED", "OUT_OF_RANGE", "UNAVAILABLE", "DATA_LOSS"]);
        let with_info: Vec<&str> = ALL.iter().filter(|c| retryable(**c, true)).map(|c| code_name(*c)).collect();
        assert_eq!(
            with_info,
            [
                "CANCELLED",
                "DEADLINE_EXCEEDED",
                "RESOURCE_EXHAUSTED",
                "ABORTED",
                "OUT_OF_RANGE",
                "UNAVAILABLE",
                "DATA_LOSS"
            ]
        );
    }

    #[test]
    fn the_http_mapping_keeps_the_otlp_retry_rule() {
        for s in 200..=599u16 {
            let http_retries = matches!(s, 429 | 502 | 503 | 504);
            for delay in [None, Some(Duration::from_secs(2))] {
                let code = code_for_http(s);
                let grpc_retries = retryable(code, with_retry_info(s, delay).is_some());
                assert_eq!(grpc_retries, http_retries, "HTTP {s} -> {}", code_name(code));
            }
        }
        assert_eq!(code_for_http(200), Code::Ok);
        assert_eq!(
            (code_for_http(413), with_retry_info(413, Some(Duration::from_secs(1)))),
            (Code::ResourceExhausted, None)
        );
        assert_eq!(with_retry_info(429, None), Some(None), "429 always signals that it can recover");
        assert_eq!(with_retry_info(503, None), None);
        assert_eq!(code_for_http(418), Code::FailedPrecondition);
        assert_eq!(code_for_http(408), Code::FailedPrecondition);
        assert_eq!(code_for_http(500), Code::Internal);
    }

    #[test]
    fn codes_and_statuses_map_back() {
        for s in [200, 400, 401, 403, 404, 409, 429, 501, 503, 504] {
            assert_eq!(http_for_code(code_for_http(s)), s, "{s}");
        }
        // The spec's names: tonic's variant names in SCREAMING_SNAKE_CASE.
        for c in ALL {
            let snake: String = format!("{c:?}")
                .chars()
                .enumerate()
                .flat_map(|(i, ch)| (i > 0 && ch.is_ascii_uppercase()).then_some('_').into_iter().chain([ch]))
                .collect();
            assert_eq!(code_name(c), snake.to_ascii_uppercase(), "{c:?}");
        }
    }

    /// A status as a client sees it: sent as headers (trailers) and read back.
    fn over_the_wire(s: Status) -> Status {
        let headers = s.into_http::<()>().into_parts().0.headers;
        Status::from_header_map(&headers).expect("a grpc-status header")
    }

    #[test]
    fn retry_info_is_read_from_the_status_details() {
        let throttled =
            over_the_wire(status(Code::ResourceExhausted, "slow down", Some(Some(Duration::from_millis(1500)))));
        assert_eq!(throttled.code(), Code::ResourceExhausted);
        assert_eq!(throttled.message(), "slow down");
        assert_eq!(retry(&throttled), Retry::After(Some(Duration::from_millis(1500))));
        let no_delay = over_the_wire(status(Code::ResourceExhausted, "full", Some(None)));
        assert_eq!(retry(&no_delay), Retry::After(None));
        let too_large = over_the_wire(status(Code::ResourceExhausted, "message too large", None));
        assert_eq!(retry(&too_large), Retry::Never);
        assert_eq!(retry(&over_the_wire(status(Code::Unavailable, "down", None))), Retry::After(None));
        assert_eq!(
            retry(&over_the_wire(status(Code::InvalidArgument, "bad", Some(Some(Duration::ZERO))))),
            Retry::Never
        );
        // Details that are not a google.rpc.Status are no RetryInfo.
        let junk = Status::with_details(Code::ResourceExhausted, "x", Bytes::from_static(b"\xff\xff\xff"));
        assert_eq!(retry(&over_the_wire(junk)), Retry::Never);
        assert_eq!(retry(&Status::new(Code::Ok, "")), Retry::Never);
    }

    /// A gRPC frame: compressed flag, big-endian length, message.
    fn frame(compressed: bool, msg: &[u8]) -> Vec<u8> {
        let mut f = vec![u8::from(compressed)];
        f.extend_from_slice(&(msg.len() as u32).to_be_bytes());
        f.extend_from_slice(msg);
        f
    }

    /// A unary handler that keeps the message it got and answers with it.
    #[derive(Clone, Default)]
    struct Echo(std::sync::Arc<std::sync::Mutex<Option<Bytes>>>);

    impl tower_service::Service<tonic::Request<Bytes>> for Echo {
        type Response = tonic::Response<Bytes>;
        type Error = Status;
        type Future = std::future::Ready<Result<Self::Response, Status>>;

        fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Status>> {
            std::task::Poll::Ready(Ok(()))
        }

        fn call(&mut self, req: tonic::Request<Bytes>) -> Self::Future {
            let msg = req.into_inner();
            *self.0.lock().unwrap() = Some(msg.clone());
            std::future::ready(Ok(tonic::Response::new(msg)))
        }
    }

    /// One unary call through tonic's server with [`RawCodec`]: what the handler got, the
    /// response body, its headers and trailers.
    async fn echo(
        body: Vec<u8>,
        encoding: Option<&str>,
        accept: Option<&str>,
    ) -> (Option<Bytes>, Bytes, hyper::HeaderMap) {
        let svc = Echo::default();
        let mut req = hyper::Request::post(EXPORT_PATH).header("content-type", "application/grpc");
        if let Some(e) = encoding {
            req = req.header("grpc-encoding", e);
        }
        if let Some(a) = accept {
            req = req.header("grpc-accept-encoding", a);
        }
        let req = req.body(Full::new(Bytes::from(body))).unwrap();
        let mut grpc = tonic::server::Grpc::new(RawCodec)
            .accept_compressed(CompressionEncoding::Gzip)
            .accept_compressed(CompressionEncoding::Zstd)
            .send_compressed(CompressionEncoding::Zstd);
        let resp = grpc.unary(svc.clone(), req).await;
        let (parts, body) = resp.into_parts();
        let collected = body.collect().await.unwrap();
        let mut headers = parts.headers;
        if let Some(t) = collected.trailers() {
            headers.extend(t.clone());
        }
        let got = svc.0.lock().unwrap().clone();
        (got, collected.to_bytes(), headers)
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
    }

    #[test]
    fn the_raw_codec_passes_bytes_through_both_ways() {
        // Not protobuf at all: the codec does not look.
        let msg: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let (got, out, headers) = rt().block_on(echo(frame(false, &msg), None, None));
        assert_eq!(got.as_deref(), Some(&msg[..]), "the handler gets the message bytes");
        assert_eq!(out, frame(false, &msg), "and they go back out unchanged");
        assert_eq!(headers.get("grpc-status").unwrap(), "0");
    }

    #[test]
    fn compressed_frames_are_decompressed_for_the_handler() {
        let msg = b"the same bytes, compressed on the wire".repeat(50);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &msg).unwrap();
        let (got, _, headers) = rt().block_on(echo(frame(true, &gz.finish().unwrap()), Some("gzip"), None));
        assert_eq!(got.as_deref(), Some(&msg[..]));
        assert_eq!(headers.get("grpc-status").unwrap(), "0");
        // zstd both ways: the answer is compressed because the client accepts it.
        let zs = zstd::encode_all(&msg[..], 3).unwrap();
        let (got, out, headers) = rt().block_on(echo(frame(true, &zs), Some("zstd"), Some("zstd")));
        assert_eq!(got.as_deref(), Some(&msg[..]));
        assert_eq!(headers.get("grpc-encoding").unwrap(), "zstd");
        assert_eq!(out[0], 1, "a compressed frame");
        assert_eq!(zstd::decode_all(&out[5..]).unwrap(), msg);
        // An encoding the server does not take is refused before the handler runs.
        let (got, _, headers) = rt().block_on(echo(frame(true, &msg), Some("br"), None));
        assert_eq!((got, headers.get("grpc-status").unwrap().to_str().unwrap()), (None, "12"));
    }
}
