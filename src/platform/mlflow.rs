//! Read-back from an MLflow tracing server: `GET /api/3.0/mlflow/traces/batchGet?trace_ids=tr-…`
//! returns the stored traces with their spans (trace IDs are `tr-` and the OTLP trace ID in
//! hex); `experiment_ids` limits it to the experiment the run sent to (MLflow answers 200 to
//! spans sent to another experiment's header and stores them nowhere). Checked against a real
//! MLflow (3.17.2 from PyPI) in the tests.

use std::collections::HashMap;

use super::readback::{Http, Listed, ReadBack, Stored, count_spans};

/// An MLflow server and experiment.
pub struct Mlflow {
    pub(super) http: Http,
    pub(super) base: String,
    pub(super) experiment: Option<String>,
}

impl ReadBack for Mlflow {
    fn name(&self) -> &'static str {
        "mlflow"
    }
    fn batch(&self) -> usize {
        50
    }
    fn lookup(&self, ids: &[u128]) -> Result<HashMap<u128, Stored>, String> {
        let mut q: Vec<String> = ids.iter().map(|&id| format!("trace_ids=tr-{}", crate::sent::hex_id(id))).collect();
        if let Some(e) = &self.experiment {
            q.push(format!(
                "experiment_ids={}",
                percent_encoding::utf8_percent_encode(e, percent_encoding::NON_ALPHANUMERIC)
            ));
        }
        let url = format!("{}/api/3.0/mlflow/traces/batchGet?{}", self.base, q.join("&"));
        let v =
            self.http.get_json("mlflow", &url)?.ok_or("mlflow: no traces API (404): is this an MLflow 3 server?")?;
        let mut listed = Vec::new();
        for t in v["traces"].as_array().map(Vec::as_slice).unwrap_or_default() {
            let id = t["trace_info"]["trace_id"]
                .as_str()
                .and_then(|s| s.strip_prefix("tr-"))
                .and_then(crate::sent::parse_id);
            let Some(id) = id else { continue };
            for s in t["spans"].as_array().map(Vec::as_slice).unwrap_or_default() {
                if let Some(sp) = s["span_id"].as_str() {
                    // A uint64 in proto3 JSON: a string (a number accepted too).
                    let end = &s["end_time_unix_nano"];
                    let end_ns = end.as_str().and_then(|v| v.parse::<u64>().ok()).or_else(|| end.as_u64());
                    listed.push(Listed { trace: id, span: sp.to_string(), end_unix_ms: end_ns.map(|n| n / 1_000_000) });
                }
            }
        }
        Ok(count_spans(&listed))
    }
}

/// The ID of the experiment named `name` at the MLflow server `base`, creating it when it does
/// not exist (`true` when created). `MLFLOW_TRACKING_TOKEN`, when set, is sent as a bearer token.
pub fn experiment_id(base: &str, name: &str) -> Result<(String, bool), String> {
    let client = crate::fetch::Client::new().map_err(|e| e.to_string())?;
    let creds = super::readback::credentials("mlflow");
    let headers: Vec<(&str, &str)> = creds.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let shown = super::redact_url(base);
    let fail = |what: &str, e: String| format!("--experiment {name:?}: {what} at {shown}: {e}");
    let enc = percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC);
    let url = format!("{base}/api/2.0/mlflow/experiments/get-by-name?experiment_name={enc}");
    let timeout = super::readback::REQUEST_TIMEOUT;
    let (status, body) = client.get(&url, &headers, timeout).map_err(|e| fail("looking it up", e.to_string()))?;
    let id_in = |body: &[u8], path: &[&str]| -> Option<String> {
        let v: serde_json::Value = serde_json::from_slice(body).ok()?;
        let mut at = &v;
        for k in path {
            at = &at[*k];
        }
        at.as_str().map(str::to_string)
    };
    if status.is_success() {
        return id_in(&body, &["experiment", "experiment_id"])
            .map(|id| (id, false))
            .ok_or_else(|| fail("looking it up", "no experiment_id in the answer".into()));
    }
    if status != hyper::StatusCode::NOT_FOUND {
        return Err(fail("looking it up", format!("HTTP {status}")));
    }
    let url = format!("{base}/api/2.0/mlflow/experiments/create");
    let (status, body) = client
        .post_json(&url, &headers, &serde_json::json!({ "name": name }), timeout)
        .map_err(|e| fail("creating it", e.to_string()))?;
    if !status.is_success() {
        return Err(fail("creating it", format!("HTTP {status}: {}", super::readback::quote_body(&body, &creds))));
    }
    id_in(&body, &["experiment_id"])
        .map(|id| (id, true))
        .ok_or_else(|| fail("creating it", "no experiment_id in the answer".into()))
}
