//! The sink's read-back endpoint, what `traceblast verify --from sink` asks: which traces were
//! stored, with how many spans, since when. It is not an OTLP request: not counted, no faults.
//!
//! - `GET /api/traces/{32 hex}` → 200 `{"trace_id", "spans", "span_records",
//!   "first_seen_unix_ms"}`, or 404 when the trace was never stored;
//! - `GET /api/traces?id=HEX&id=HEX…` (at most [`MAX_IDS`]) → 200 `{"traces": [...]}` with the
//!   stored ones only.

use serde_json::{Value, json};

use super::state::SinkState;

/// The path prefix answered (the contract lives with its reader, [`crate::platform::sink`]).
pub use crate::platform::sink::QUERY_PATH as PREFIX;
/// Most IDs in one batch query.
pub const MAX_IDS: usize = 1000;

/// Whether a request is a query (a GET under [`PREFIX`]).
pub fn is_query(method: &hyper::Method, path: &str) -> bool {
    method == hyper::Method::GET && (path == PREFIX || path.starts_with("/api/traces/"))
}

/// The status and JSON body answering a query of `path` and `query` (the part after `?`).
pub fn answer(state: &SinkState, path: &str, query: Option<&str>) -> (u16, Value) {
    let entry = |id: u128| {
        state.stored_trace(id).map(|(e, first)| {
            json!({
                "trace_id": crate::sent::hex_id(id),
                "spans": e.spans,
                "span_records": e.rows,
                "first_seen_unix_ms": first,
            })
        })
    };
    if let Some(hex) = path.strip_prefix("/api/traces/") {
        let Some(id) = crate::sent::parse_id(hex) else {
            return (400, json!({"error": format!("trace ID {:?} is not 32 hex digits", clip(hex))}));
        };
        return match entry(id) {
            Some(v) => (200, v),
            None => (404, json!({"error": format!("trace {hex} was not stored")})),
        };
    }
    let mut ids = Vec::new();
    for pair in query.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
        let Some(hex) = pair.strip_prefix("id=") else {
            return (400, json!({"error": format!("unknown query parameter {:?}: use id=TRACE_ID", clip(pair))}));
        };
        let Some(id) = crate::sent::parse_id(hex) else {
            return (400, json!({"error": format!("trace ID {:?} is not 32 hex digits", clip(hex))}));
        };
        if ids.len() == MAX_IDS {
            return (400, json!({"error": format!("more than {MAX_IDS} trace IDs in one query")}));
        }
        ids.push(id);
    }
    (200, json!({"traces": ids.into_iter().filter_map(entry).collect::<Vec<_>>()}))
}

/// At most 40 characters of a bad value, for an error message.
fn clip(s: &str) -> String {
    s.chars().take(40).collect()
}
