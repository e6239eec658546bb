//! Read-back from `traceblast sink`'s query endpoint (`GET /api/traces?id=…`, see
//! [`crate::sink::query`]), which also says when each trace was first stored.

use std::collections::HashMap;

use super::readback::{Http, ReadBack, Stored};

/// The path of the sink's query endpoint ([`crate::sink::query`] answers it).
pub const QUERY_PATH: &str = "/api/traces";

/// The built-in sink.
pub struct Sink {
    pub(super) http: Http,
    pub(super) base: String,
}

impl ReadBack for Sink {
    fn name(&self) -> &'static str {
        "sink"
    }
    fn batch(&self) -> usize {
        200
    }
    fn lookup(&self, ids: &[u128]) -> Result<HashMap<u128, Stored>, String> {
        let q: Vec<String> = ids.iter().map(|&id| format!("id={}", crate::sent::hex_id(id))).collect();
        let url = format!("{}{}?{}", self.base, QUERY_PATH, q.join("&"));
        let v = self
            .http
            .get_json("sink", &url)?
            .ok_or("sink: no query endpoint (GET /api/traces answered 404): an older traceblast sink?")?;
        let mut out = HashMap::new();
        for t in v["traces"].as_array().ok_or("sink: the answer has no \"traces\" list")? {
            let id = t["trace_id"]
                .as_str()
                .and_then(crate::sent::parse_id)
                .ok_or("sink: a trace without a valid trace_id")?;
            let n = |k: &str| t[k].as_u64().map(|v| v.min(u64::from(u32::MAX)) as u32).unwrap_or(0);
            out.insert(
                id,
                Stored {
                    spans: n("spans"),
                    rows: n("span_records"),
                    first_seen_unix_ms: t["first_seen_unix_ms"].as_u64(),
                    latest_end_unix_ms: None,
                },
            );
        }
        Ok(out)
    }
}
