//! Read-back from Grafana Tempo's query frontend (port 3200): `GET /api/traces/{traceID hex}`
//! with `Accept: application/json` answers the trace as OTLP-like JSON,
//! `{"batches": [{"resource", "scopeSpans": [{"spans": [{"traceId", "spanId",
//! "endTimeUnixNano", …}]}]}]}`, and 404 when it holds no span of it.
//!
//! Built from grafana/tempo: the API doc (`GET /api/traces/<traceID>`,
//! grafana.com/docs/tempo/latest/api_docs), `pkg/tempopb/tempo.proto` (`Trace.batches`) and
//! `modules/frontend/combiner` (jsonpb marshalling: camelCase names, 64-bit numbers as strings).
//! IDs are hex in current Tempo (`pkg/tempopb/trace/v1/traceid.go` and `spanid.go`
//! `MarshalJSON`) and base64 in older releases (plain proto `bytes`): both are read. Also
//! read: the v2 wrapping `{"trace": {...}}`, `resourceSpans` for `batches`, and the pre-1.0
//! OTLP `instrumentationLibrarySpans`. Checked only against a fake answering that contract
//! (tests/it/readback.rs), not a live Tempo.

use std::collections::HashMap;

use base64::Engine;
use serde_json::Value;

use super::readback::{Http, Listed, ReadBack, Stored, count_spans};

/// A Tempo query frontend.
pub struct Tempo {
    pub(super) http: Http,
    pub(super) base: String,
}

impl ReadBack for Tempo {
    fn name(&self) -> &'static str {
        "tempo"
    }
    fn batch(&self) -> usize {
        1
    }
    fn lookup(&self, ids: &[u128]) -> Result<HashMap<u128, Stored>, String> {
        let mut listed = Vec::new();
        for &id in ids {
            let url = format!("{}/api/traces/{}", self.base, crate::sent::hex_id(id));
            let Some(v) = self.http.get_json("tempo", &url)? else { continue };
            let trace = if v["trace"].is_object() { &v["trace"] } else { &v };
            spans_of(trace, &mut listed);
        }
        Ok(count_spans(&listed))
    }
}

/// Appends the spans of one answer.
fn spans_of(trace: &Value, listed: &mut Vec<Listed>) {
    let list = |v: &Value, keys: &[&str]| -> Vec<Value> {
        keys.iter().find_map(|k| v[*k].as_array().cloned()).unwrap_or_default()
    };
    for rs in list(trace, &["batches", "resourceSpans"]) {
        for ss in list(&rs, &["scopeSpans", "instrumentationLibrarySpans"]) {
            for s in list(&ss, &["spans"]) {
                let trace = s["traceId"].as_str().and_then(|t| id_bytes(t, 16));
                let span = s["spanId"].as_str().and_then(|t| id_bytes(t, 8));
                if let (Some(trace), Some(span)) = (trace, span) {
                    let end = &s["endTimeUnixNano"];
                    let end_ns = end.as_str().and_then(|v| v.parse::<u64>().ok()).or_else(|| end.as_u64());
                    let trace = u128::from_be_bytes(trace.try_into().expect("16 bytes"));
                    listed.push(Listed { trace, span: hex_of(&span), end_unix_ms: end_ns.map(|n| n / 1_000_000) });
                }
            }
        }
    }
}

/// The `n` bytes of an ID written as hex (current Tempo) or base64 (older Tempo).
fn id_bytes(s: &str, n: usize) -> Option<Vec<u8>> {
    let b = if s.len() == 2 * n && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        (0..n).map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()).collect::<Option<Vec<u8>>>()?
    } else {
        base64::engine::general_purpose::STANDARD.decode(s).ok()?
    };
    (b.len() == n).then_some(b)
}

fn hex_of(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_read_as_hex_or_base64() {
        let id: u128 = 0x0102030405060708090a0b0c0d0e0f10;
        let b64 = base64::engine::general_purpose::STANDARD.encode(id.to_be_bytes());
        for (t, s) in [(crate::sent::hex_id(id), "00000000000000ff".to_string()), (b64, "AAAAAAAAAP8=".into())] {
            let v = serde_json::json!({"batches": [{"scopeSpans": [{"spans": [
                {"traceId": t, "spanId": s, "endTimeUnixNano": "2000000"}
            ]}]}]});
            let mut listed = Vec::new();
            spans_of(&v, &mut listed);
            assert_eq!(listed.len(), 1, "{v}");
            assert_eq!(
                (listed[0].trace, listed[0].span.as_str(), listed[0].end_unix_ms),
                (id, "00000000000000ff", Some(2))
            );
        }
        // An ID of the wrong length is skipped, not misread.
        let v = serde_json::json!({"batches": [{"scopeSpans": [{"spans": [{"traceId": "abcd", "spanId": "00"}]}]}]});
        let mut listed = Vec::new();
        spans_of(&v, &mut listed);
        assert!(listed.is_empty());
    }
}
