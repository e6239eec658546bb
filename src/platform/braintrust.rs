//! Read-back from Braintrust: `POST /btql` (`Authorization: Bearer`) runs a SQL query over a
//! project's logs, `SELECT id, span_id, root_span_id, metrics FROM project_logs('…') WHERE
//! root_span_id IN (…)`, and answers `{"data": [row…]}`, one row per stored span.
//!
//! Built from the Braintrust docs (braintrust.dev/docs/api-reference/query: `POST /btql` with
//! `query` and `fmt`; `project_logs()` takes a project name or ID; braintrust.dev/docs/reference/sql)
//! and braintrustdata/braintrust-sdk `integrations/braintrust-otel/src/utils.ts`
//! (`parentFromHeaders`: an OTel span's `root_span_id` is its trace ID and its `span_id` its
//! span ID, as hex). `metrics.end` is the span's end in Unix seconds. The project comes from
//! `--project`, else the run's `x-bt-parent` header. Checked only against a fake answering
//! that contract (tests/it/readback.rs), not a live Braintrust.

use std::collections::HashMap;

use super::readback::{Http, Listed, ReadBack, Stored, count_spans, parse_hex_id};

/// Most rows one query returns; a batch that reaches it is an error, never a silent undercount.
const ROW_LIMIT: usize = 10_000;

/// A Braintrust API and project.
pub struct Braintrust {
    pub(super) http: Http,
    pub(super) base: String,
    pub(super) project: String,
}

impl ReadBack for Braintrust {
    fn name(&self) -> &'static str {
        "braintrust"
    }
    fn batch(&self) -> usize {
        50
    }
    fn lookup(&self, ids: &[u128]) -> Result<HashMap<u128, Stored>, String> {
        let list: Vec<String> = ids.iter().map(|&id| format!("'{}'", crate::sent::hex_id(id))).collect();
        let query = format!(
            "SELECT id, span_id, root_span_id, metrics FROM project_logs('{}') WHERE root_span_id IN ({}) LIMIT {ROW_LIMIT}",
            self.project.replace('\'', "''"),
            list.join(", ")
        );
        let body = serde_json::json!({ "query": query, "fmt": "json" });
        let v = self
            .http
            .post_json("braintrust", &format!("{}/btql", self.base), &body)?
            .ok_or_else(|| format!("braintrust: POST /btql answered 404: is project {:?} there?", self.project))?;
        let rows = v["data"].as_array().ok_or("braintrust: the answer has no \"data\" list")?;
        if rows.len() >= ROW_LIMIT {
            return Err(format!(
                "braintrust: {ROW_LIMIT} rows or more for {} traces: cannot count them all",
                ids.len()
            ));
        }
        let mut listed = Vec::new();
        for r in rows {
            let trace = r["root_span_id"].as_str().and_then(parse_hex_id);
            if let (Some(trace), Some(span)) = (trace, r["span_id"].as_str()) {
                let end_unix_ms = r["metrics"]["end"].as_f64().filter(|s| *s >= 0.0).map(|s| (s * 1e3) as u64);
                listed.push(Listed { trace, span: span.to_string(), end_unix_ms });
            }
        }
        Ok(count_spans(&listed))
    }
}
