//! What the sink answers, whatever the protocol: the [`Answer`] (decided as an HTTP status,
//! turned into a gRPC status at the gRPC edge), and the fault stage that decides it for a
//! decoded request: stall and latency (waits), rate limit (429), `--fail` (its status),
//! conflict (409), accept (200, with `partial_success` when spans are rejected). Spans are
//! recorded only on acceptance, right before the answer is sent, so the spans a client saw
//! acknowledged are the spans counted.

use std::time::{Duration, Instant};

use bytes::Bytes;
use prost::Message;

use super::SinkPlan;
use super::decode::{Format, SpanKey};
use super::faults::RequestRng;
use super::server::Ctx;
use crate::grpc::code_for_http;
use crate::otlp::{ExportTracePartialSuccess, ExportTraceServiceResponse, RpcStatus};

/// An answer, decided as an HTTP status, before it becomes an HTTP or a gRPC response
/// (`sink::http::response`, `sink::grpc::response`).
pub(super) struct Answer {
    /// The HTTP status (for gRPC, the status the answer stands for: counted under it, and
    /// turned into a code by [`crate::grpc::code_for_http`]).
    pub(super) status: u16,
    /// The HTTP body: the `ExportTraceServiceResponse` (in the request's format) on success,
    /// the `google.rpc.Status` or text of an error.
    pub(super) body: Bytes,
    pub(super) content_type: &'static str,
    /// What went wrong (empty on success): the `grpc-message` of a gRPC answer.
    pub(super) message: String,
    /// A gRPC code to answer instead of the one that goes with `status` (`UNIMPLEMENTED` for
    /// an unknown method or `grpc-encoding`, which HTTP has no status for).
    pub(super) grpc: Option<tonic::Code>,
    /// Seconds, for the `Retry-After` header (on gRPC, the `RetryInfo` delay).
    pub(super) retry_after: Option<u64>,
    /// Spans the request carried that were not taken (non-200 answers).
    pub(super) refused_spans: u64,
}

impl Answer {
    /// An error answer with a `google.rpc.Status` body in the request's format.
    pub(super) fn error(status: u16, format: Format, message: impl Into<String>) -> Answer {
        let st = RpcStatus { code: code_for_http(status) as i32, message: message.into(), details: Vec::new() };
        let body = match format {
            Format::Protobuf => st.encode_to_vec(),
            Format::Json => serde_json::to_vec(&serde_json::json!({ "code": st.code, "message": st.message }))
                .expect("JSON of a status"),
        };
        Answer {
            status,
            body: body.into(),
            content_type: format.content_type(),
            message: st.message,
            grpc: None,
            retry_after: None,
            refused_spans: 0,
        }
    }

    pub(super) fn plain(status: u16, message: &str) -> Answer {
        Answer {
            status,
            body: Bytes::from(format!("{message}\n")),
            content_type: "text/plain; charset=utf-8",
            message: message.to_string(),
            grpc: None,
            retry_after: None,
            refused_spans: 0,
        }
    }

    /// A JSON answer (the query endpoint's).
    pub(super) fn json(status: u16, body: String) -> Answer {
        Answer { body: Bytes::from(body), content_type: "application/json", ..Answer::plain(status, "") }
    }

    pub(super) fn success(format: Format, rejected: u64) -> Answer {
        let partial = (rejected > 0).then(|| ExportTracePartialSuccess {
            rejected_spans: rejected as i64,
            error_message: format!("{rejected} spans rejected by traceblast sink --reject-spans"),
        });
        let body = match format {
            Format::Protobuf => ExportTraceServiceResponse { partial_success: partial }.encode_to_vec(),
            Format::Json => {
                // proto3 JSON: int64 as a decimal string.
                let v = match partial {
                    Some(p) => serde_json::json!({ "partialSuccess": {
                        "rejectedSpans": p.rejected_spans.to_string(), "errorMessage": p.error_message } }),
                    None => serde_json::json!({}),
                };
                serde_json::to_vec(&v).expect("JSON of a response")
            }
        };
        Answer {
            status: 200,
            body: body.into(),
            content_type: format.content_type(),
            message: String::new(),
            grpc: None,
            retry_after: None,
            refused_spans: 0,
        }
    }
}

pub(super) fn too_large(plan: &SinkPlan, format: Format, what: &str) -> Answer {
    Answer::error(413, format, format!("{what} exceeds the {}-byte limit", plan.max_body))
}

/// The fault stage, for a decoded request.
pub(super) async fn faults(ctx: &Ctx, format: Format, keys: &[SpanKey], seq: u64, first: Instant) -> Answer {
    let (plan, state) = (&ctx.plan, &ctx.state);
    let f = &plan.faults;
    let mut rng = RequestRng::new(plan.seed, seq);
    let draw = f.draw(&mut rng);
    if let Some(wait) = f.stall.and_then(|s| s.wait(first, Instant::now())) {
        state.count_stalled();
        tokio::time::sleep(wait).await;
    }
    if !draw.latency.is_zero() || ctx.queue.is_some() {
        state.count_delayed();
    }
    if !draw.latency.is_zero() {
        tokio::time::sleep(draw.latency).await;
    }
    if let Some(q) = &ctx.queue {
        tokio::time::sleep(q.turn(Instant::now())).await;
    }
    let spans = keys.len() as u64;
    let refuse = |mut a: Answer| {
        a.refused_spans = spans;
        a
    };
    if let Some(bucket) = &ctx.bucket
        && let Err(wait) = bucket.take(Instant::now())
    {
        state.count_rate_limited();
        let mut a = Answer::error(429, format, "rate limited by traceblast sink --rate-limit");
        a.retry_after = Some(f.retry_after_secs(wait));
        return refuse(a);
    }
    if let Some(i) = draw.fail {
        state.count_fail(i);
        let status = f.fail[i].0;
        let mut a = Answer::error(status, format, format!("injected by traceblast sink --fail {status}"));
        if matches!(status, 429 | 503) {
            a.retry_after = f.retry_after.map(|_| f.retry_after_secs(Duration::ZERO));
        }
        return refuse(a);
    }
    match state.record(keys, f.conflict_on_duplicate, || f.reject_span(&mut rng), |t| f.drop_trace(t)) {
        Some(r) => Answer::success(format, spans - r.accepted),
        None => {
            state.count_conflict();
            refuse(Answer::error(409, format, "a trace ID of this request was already received"))
        }
    }
}
