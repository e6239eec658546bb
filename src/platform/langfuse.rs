//! Read-back from Langfuse's public API: `GET /api/public/traces/{traceId}` (HTTP Basic, public
//! key : secret key) answers the trace with its `observations`, one per ingested span
//! (`id`, `endTime` ISO 8601); 404 when it holds no such trace.
//!
//! Built from langfuse/langfuse `fern/apis/server/definition/trace.yml` (the endpoint,
//! `TraceWithFullDetails`) and `packages/shared/src/server/otel/OtelIngestionProcessor.ts`
//! (`parseId`: an OTLP trace ID becomes the trace's `id` as 32 lowercase hex digits, a span ID
//! the observation's `id` as 16). Langfuse ingests asynchronously and its docs say this
//! endpoint may lag by minutes: give `verify` a long `--settle`. Checked only against a fake
//! answering that contract (tests/it/readback.rs), not a live Langfuse.

use std::collections::HashMap;

use super::readback::{Http, Listed, ReadBack, Stored, count_spans, rfc3339_ms};

/// A Langfuse server (the keys select the project).
pub struct Langfuse {
    pub(super) http: Http,
    pub(super) base: String,
}

impl ReadBack for Langfuse {
    fn name(&self) -> &'static str {
        "langfuse"
    }
    fn batch(&self) -> usize {
        1
    }
    fn lookup(&self, ids: &[u128]) -> Result<HashMap<u128, Stored>, String> {
        let mut listed = Vec::new();
        for &id in ids {
            let hex = crate::sent::hex_id(id);
            let Some(t) = self.http.get_json("langfuse", &format!("{}/api/public/traces/{hex}", self.base))? else {
                continue;
            };
            if t["id"].as_str() != Some(hex.as_str()) {
                return Err(format!("langfuse: asked for trace {hex}, the answer is not it (no matching \"id\")"));
            }
            for o in t["observations"].as_array().map(Vec::as_slice).unwrap_or_default() {
                if let Some(span) = o["id"].as_str() {
                    let end_unix_ms = o["endTime"].as_str().and_then(rfc3339_ms);
                    listed.push(Listed { trace: id, span: span.to_string(), end_unix_ms });
                }
            }
        }
        Ok(count_spans(&listed))
    }
}
