//! Read-back from LangSmith: `POST /runs/query` (`x-api-key`) with `{"trace": UUID}` lists the
//! runs of one trace, `{"runs": [{"id", "trace_id", "end_time"}], "cursors": {"next"}}`, paged by
//! sending `cursor` back. Each OTLP span is one run.
//!
//! Built from langchain-ai/langsmith-sdk: `python/langsmith/client.py` (`list_runs` sends
//! `trace` and `select` to `/runs/query`; `_get_cursor_paginated_list` pages on
//! `cursors.next`) and `js/src/experimental/otel/utils.ts` (`getUuidFromOtelTraceId`: the
//! trace's UUID is the 32 hex digits of the OTLP trace ID; `getUuidFromOtelSpanId`: a run's ID
//! is `00000000-0000-0000-` and the 16 hex digits of the span ID). Runs are counted by their
//! `id`. Checked only against a fake answering that contract (tests/it/readback.rs), not a
//! live LangSmith.

use std::collections::HashMap;

use super::readback::{Http, Listed, ReadBack, Stored, count_spans, rfc3339_ms};

/// Most pages read for one trace: a bound against a cursor that never ends.
const MAX_PAGES: usize = 100;

/// A LangSmith API (`https://api.smith.langchain.com`, or a self-hosted one's).
pub struct LangSmith {
    pub(super) http: Http,
    pub(super) base: String,
}

/// The UUID LangSmith gives the trace with OTLP trace ID `id`.
pub fn trace_uuid(id: u128) -> String {
    let h = crate::sent::hex_id(id);
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

impl ReadBack for LangSmith {
    fn name(&self) -> &'static str {
        "langsmith"
    }
    fn batch(&self) -> usize {
        1
    }
    fn lookup(&self, ids: &[u128]) -> Result<HashMap<u128, Stored>, String> {
        let url = format!("{}/runs/query", self.base);
        let mut listed = Vec::new();
        for &id in ids {
            let uuid = trace_uuid(id);
            let mut body = serde_json::json!({ "trace": uuid, "select": ["id", "trace_id", "end_time"] });
            let mut pages = 0;
            loop {
                pages += 1;
                if pages > MAX_PAGES {
                    return Err(format!("langsmith: more than {MAX_PAGES} pages of runs for trace {uuid}"));
                }
                let page = self.http.post_json("langsmith", &url, &body)?.ok_or("langsmith: no runs API (404)")?;
                for r in page["runs"].as_array().map(Vec::as_slice).unwrap_or_default() {
                    if r["trace_id"].as_str().is_some_and(|t| !t.eq_ignore_ascii_case(&uuid)) {
                        return Err(format!(
                            "langsmith: asked for the runs of trace {uuid}, got one of {}",
                            r["trace_id"]
                        ));
                    }
                    if let Some(run) = r["id"].as_str() {
                        let end_unix_ms = r["end_time"].as_str().and_then(rfc3339_ms);
                        listed.push(Listed { trace: id, span: run.to_ascii_lowercase(), end_unix_ms });
                    }
                }
                match page["cursors"]["next"].as_str() {
                    Some(c) if !c.is_empty() => body["cursor"] = c.into(),
                    _ => break,
                }
            }
        }
        Ok(count_spans(&listed))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn trace_uuids_are_the_otlp_id_in_uuid_form() {
        let id = 0x0af7651916cd43dd8448eb211c80319c;
        assert_eq!(super::trace_uuid(id), "0af76519-16cd-43dd-8448-eb211c80319c");
        assert_eq!(super::trace_uuid(1), "00000000-0000-0000-0000-000000000001");
    }
}
