//! Read-back from Jaeger's query service (the HTTP API its UI uses, port 16686):
//! `GET /api/traces?traceID=…&traceID=…` answers `{"data": [trace…], "errors": [...]}`, each
//! trace `{"traceID", "spans": [{"traceID", "spanID", "startTime" µs, "duration" µs}]}`; an ID
//! it does not hold is an entry in `errors` ("trace not found"), not a failure.
//!
//! Built from jaegertracing/jaeger `cmd/query/app/http_handler.go` (`search` → `tracesByIDs`
//! when `traceID` parameters are given, no `service` needed) and `query_parser.go`. Jaeger
//! prints IDs as hex without leading zeros (`model.TraceID.String`), so they are parsed as
//! numbers. Checked only against a fake answering that contract (tests/it/readback.rs), not
//! a live Jaeger.

use std::collections::HashMap;

use super::readback::{Http, Listed, ReadBack, Stored, count_spans, parse_hex_id};

/// A Jaeger query service.
pub struct Jaeger {
    pub(super) http: Http,
    pub(super) base: String,
}

impl ReadBack for Jaeger {
    fn name(&self) -> &'static str {
        "jaeger"
    }
    fn batch(&self) -> usize {
        20
    }
    fn lookup(&self, ids: &[u128]) -> Result<HashMap<u128, Stored>, String> {
        let q: Vec<String> = ids.iter().map(|&id| format!("traceID={}", crate::sent::hex_id(id))).collect();
        let url = format!("{}/api/traces?{}", self.base, q.join("&"));
        let v = self.http.get_json("jaeger", &url)?.ok_or("jaeger: no query API (GET /api/traces answered 404)")?;
        let data = v["data"].as_array().map(Vec::as_slice).unwrap_or_default();
        let mut listed = Vec::new();
        for s in data.iter().flat_map(|t| t["spans"].as_array().map(Vec::as_slice).unwrap_or_default()) {
            let trace = s["traceID"].as_str().and_then(parse_hex_id);
            let span = s["spanID"].as_str().and_then(parse_hex_id);
            if let (Some(trace), Some(span)) = (trace, span) {
                let end_us = s["startTime"].as_u64().zip(s["duration"].as_u64()).map(|(a, d)| a.saturating_add(d));
                listed.push(Listed { trace, span: format!("{span:x}"), end_unix_ms: end_us.map(|u| u / 1000) });
            }
        }
        if listed.is_empty() && !data.is_empty() {
            return Err("jaeger: traces without spans with a traceID and spanID: not Jaeger's query API?".into());
        }
        Ok(count_spans(&listed))
    }
}
