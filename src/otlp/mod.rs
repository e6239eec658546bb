//! The OTLP trace messages, for the places that decode whole messages: `inspect` (`--verify`,
//! `--dump`), the sink's answers, the gRPC test clients, and tests. The hot paths (gen, replay
//! patching, the sink's counting) never build these; they write or scan the wire directly.
//!
//! The types are `opentelemetry-proto`'s generated ones, re-exported under the names the
//! crate has always used (`otlp::Span`, `otlp::Event`, …), with the `TraceService` client and
//! server stubs. `google.rpc.Status` ([`RpcStatus`]), the body of OTLP/HTTP error answers, is
//! `tonic-types`' (with the `details` gRPC statuses carry `RetryInfo` in).
//!
//! # Why OTLP/JSON stays ours ([`json`])
//!
//! `opentelemetry-proto`'s `with-serde` feature derives serde for these types, but its mapping
//! is not OTLP/JSON as the spec defines it (proto3 JSON with hex IDs), in both directions
//! (checked with 0.33.1):
//!
//! - it writes 64-bit integers of messages as JSON numbers: `ExportTracePartialSuccess
//!   { rejected_spans: 3, .. }` becomes `{"partialSuccess":{"rejectedSpans":3,…}}`, where proto3
//!   JSON (and the sink's answers) have `"rejectedSpans":"3"`;
//! - it refuses input proto3 JSON allows: a 32-bit integer as a string
//!   (`"droppedAttributesCount":"0"`: "invalid type: string \"0\", expected u32"), `null` for
//!   a field (`"traceId":null`);
//! - it writes `"resource":null`, `"value":null` for absent messages, where the spec's
//!   examples omit them;
//! - and it would add `base64` 0.22 and `const-hex` beside the `base64` the crate already uses.
//!
//! So [`json`] writes OTLP/JSON itself (hex IDs, int64 as strings, enums as integers, absent
//! fields omitted), and the sink reads the fields it needs with its own rules
//! (`sink::decode`).

pub mod json;

use prost::Message;

pub use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse, trace_service_client,
    trace_service_server,
};
pub use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value,
};
pub use opentelemetry_proto::tonic::resource::v1::Resource;
pub use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
pub use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};

/// `google.rpc.Status`: the body of OTLP/HTTP error answers (`code`, `message`, `details`).
pub type RpcStatus = tonic_types::Status;

/// Attribute look-ups on a decoded span (the generated type is the crate's, so these are a
/// trait: `use traceblast::otlp::SpanExt`).
pub trait SpanExt {
    /// The string value of attribute `key`, if present and a string.
    fn attr_str(&self, key: &str) -> Option<&str>;
    /// The int value of attribute `key`, if present and an int.
    fn attr_int(&self, key: &str) -> Option<i64>;
}

impl SpanExt for Span {
    fn attr_str(&self, key: &str) -> Option<&str> {
        find_str(&self.attributes, key)
    }

    fn attr_int(&self, key: &str) -> Option<i64> {
        self.attributes.iter().find(|kv| kv.key == key).and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
            any_value::Value::IntValue(i) => Some(*i),
            _ => None,
        })
    }
}

/// The string value of `key` among `attrs`.
pub fn find_str<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a str> {
    attrs.iter().find(|kv| kv.key == key).and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
        any_value::Value::StringValue(s) => Some(s.as_str()),
        _ => None,
    })
}

/// Decodes a request body.
pub fn decode_request(body: &[u8]) -> Result<ExportTraceServiceRequest, prost::DecodeError> {
    ExportTraceServiceRequest::decode(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(key: &str, v: any_value::Value) -> KeyValue {
        KeyValue { key: key.into(), value: Some(AnyValue { value: Some(v) }), ..Default::default() }
    }

    #[test]
    fn attributes_are_found_by_key_and_type() {
        let s = Span {
            attributes: vec![
                kv("model", any_value::Value::StringValue("gpt".into())),
                kv("tokens", any_value::Value::IntValue(12)),
            ],
            ..Default::default()
        };
        assert_eq!((s.attr_str("model"), s.attr_int("tokens")), (Some("gpt"), Some(12)));
        assert_eq!((s.attr_str("tokens"), s.attr_int("model"), s.attr_str("none")), (None, None, None));
    }

    #[test]
    fn the_generated_types_keep_the_wire_format() {
        // Field numbers and types as trace.proto has them: a span with IDs, a time (fixed64)
        // and kind (varint) decodes from bytes written by hand.
        let mut span = vec![0x0a, 16];
        span.extend([7; 16]);
        span.extend([0x12, 8]);
        span.extend([1; 8]);
        span.extend([0x30, 2]); // kind = SERVER
        span.push(0x39); // start_time_unix_nano, fixed64
        span.extend(1_700_000_000_000_000_000u64.to_le_bytes());
        let scope = [&[0x12, span.len() as u8][..], &span].concat();
        let rs = [&[0x12, scope.len() as u8][..], &scope].concat();
        let req = [&[0x0a, rs.len() as u8][..], &rs].concat();
        let got = decode_request(&req).unwrap();
        let s = &got.resource_spans[0].scope_spans[0].spans[0];
        assert_eq!((s.trace_id.as_slice(), s.span_id.as_slice(), s.kind), (&[7u8; 16][..], &[1u8; 8][..], 2));
        assert_eq!(s.start_time_unix_nano, 1_700_000_000_000_000_000);
        assert_eq!(got.encode_to_vec(), req, "re-encoded to the same bytes");
    }
}
