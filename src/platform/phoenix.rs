//! Read-back from Arize Phoenix: its REST API lists a project's spans filtered by trace ID
//! (`GET /v1/projects/{project}/spans?trace_id=…&limit=1000`, paged by `next_cursor`).
//! Checked against a real Phoenix (arize-phoenix 20.26.1 from PyPI) in the tests.

use std::collections::HashMap;

use super::readback::{Http, Listed, ReadBack, Stored, count_spans, rfc3339_ms};

/// Most pages read for one batch (1000 spans each): a bound against a cursor that never ends.
const MAX_PAGES: usize = 1000;

/// A Phoenix server and project.
pub struct Phoenix {
    pub(super) http: Http,
    pub(super) base: String,
    pub(super) project: String,
}

impl ReadBack for Phoenix {
    fn name(&self) -> &'static str {
        "phoenix"
    }
    fn batch(&self) -> usize {
        50
    }
    fn lookup(&self, ids: &[u128]) -> Result<HashMap<u128, Stored>, String> {
        let project = percent_encoding::utf8_percent_encode(&self.project, percent_encoding::NON_ALPHANUMERIC);
        let q: Vec<String> = ids.iter().map(|&id| format!("trace_id={}", crate::sent::hex_id(id))).collect();
        let mut listed = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut url = format!("{}/v1/projects/{project}/spans?limit=1000&{}", self.base, q.join("&"));
            if let Some(c) = &cursor {
                url += &format!(
                    "&cursor={}",
                    percent_encoding::utf8_percent_encode(c, percent_encoding::NON_ALPHANUMERIC)
                );
            }
            // Phoenix creates a project with its first stored span: until then, nothing is stored.
            let Some(page) = self.http.get_json("phoenix", &url)? else {
                return Ok(HashMap::new());
            };
            for s in page["data"].as_array().ok_or("phoenix: a page without a \"data\" list")? {
                let t = s["context"]["trace_id"].as_str().and_then(crate::sent::parse_id);
                let sp = s["context"]["span_id"].as_str();
                if let (Some(trace), Some(sp)) = (t, sp) {
                    let end_unix_ms = s["end_time"].as_str().and_then(rfc3339_ms);
                    listed.push(Listed { trace, span: sp.to_string(), end_unix_ms });
                }
            }
            match page["next_cursor"].as_str() {
                Some(c) if !c.is_empty() => cursor = Some(c.to_string()),
                _ => return Ok(count_spans(&listed)),
            }
        }
        Err(format!("phoenix: more than {MAX_PAGES} pages of spans for {} traces", ids.len()))
    }
}
