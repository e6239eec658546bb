//! Reading back what a platform stored: one small trait, one adapter per platform
//! ([`super::sink`], [`super::phoenix`], [`super::mlflow`]), used by `traceblast verify`.
//!
//! Adapters take credentials from the same variables as the presets and put them only in
//! request headers; errors name the platform and the redacted URL, never a header value.

use std::collections::HashMap;
use std::time::Duration;

use crate::fetch::Client;

/// Platforms `verify --from` reads back from.
pub const READ_BACK: [&str; 3] = ["sink", "phoenix", "mlflow"];

/// Longest wait for one read-back request.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What a platform holds of one trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stored {
    /// Spans with distinct span IDs.
    pub spans: u32,
    /// Span records, duplicates included (more than `spans`: the platform stored a span twice).
    pub rows: u32,
    /// When the platform says it first stored the trace (Unix ms), if it says.
    pub first_seen_unix_ms: Option<u64>,
    /// The latest end time of its stored spans (Unix ms), if the platform lists them.
    pub latest_end_unix_ms: Option<u64>,
}

/// A platform that can be asked which traces it stored.
pub trait ReadBack {
    /// The platform's name, for messages.
    fn name(&self) -> &'static str;
    /// Most trace IDs one [`ReadBack::lookup`] takes.
    fn batch(&self) -> usize;
    /// What is stored of each of `ids` (absent: nothing).
    fn lookup(&self, ids: &[u128]) -> Result<HashMap<u128, Stored>, String>;
}

/// Where and how to read back.
#[derive(Debug, Clone)]
pub struct Source {
    /// One of [`READ_BACK`].
    pub from: String,
    /// `scheme://host:port` of the platform (paths are the adapter's).
    pub base: String,
    /// Phoenix project (name or ID).
    pub project: String,
    /// MLflow experiment ID.
    pub experiment: Option<String>,
    /// Headers sent with every read (credentials; never printed).
    pub headers: Vec<(String, String)>,
}

/// The adapter for `source`.
pub fn open(source: &Source) -> Result<Box<dyn ReadBack>, String> {
    let http = Http { client: Client::new().map_err(|e| e.to_string())?, headers: source.headers.clone() };
    let base = source.base.trim_end_matches('/').to_string();
    Ok(match source.from.as_str() {
        "sink" => Box::new(super::sink::Sink { http, base }),
        "phoenix" => Box::new(super::phoenix::Phoenix { http, base, project: source.project.clone() }),
        "mlflow" => Box::new(super::mlflow::Mlflow { http, base, experiment: source.experiment.clone() }),
        other => return Err(format!("cannot read back from {other:?}: use one of {}", READ_BACK.join(", "))),
    })
}

/// GETs JSON with the source's headers.
pub struct Http {
    client: Client,
    headers: Vec<(String, String)>,
}

impl Http {
    /// GETs `url` (its query already encoded); `Ok(None)` on 404. Errors name `platform` and
    /// the redacted URL.
    pub fn get_json(&self, platform: &str, url: &str) -> Result<Option<serde_json::Value>, String> {
        let headers: Vec<(&str, &str)> = self.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let shown = super::redact_url(url);
        let (status, body) =
            self.client.get(url, &headers, REQUEST_TIMEOUT).map_err(|e| format!("{platform}: GET {shown}: {e}"))?;
        if status == hyper::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            let text: String = String::from_utf8_lossy(&body).chars().take(200).collect();
            return Err(format!("{platform}: GET {shown}: HTTP {status}: {}", text.trim()));
        }
        serde_json::from_slice(&body).map(Some).map_err(|e| format!("{platform}: GET {shown}: not JSON: {e}"))
    }
}

/// One span as a platform listed it.
pub struct Listed {
    /// Its trace ID.
    pub trace: u128,
    /// Its span ID, as the platform spells it.
    pub span: String,
    /// Its end time, Unix ms, when given.
    pub end_unix_ms: Option<u64>,
}

/// Counts span IDs per trace from the spans a platform listed.
pub fn count_spans(listed: &[Listed]) -> HashMap<u128, Stored> {
    let mut seen: HashMap<u128, std::collections::HashSet<&str>> = HashMap::new();
    let mut out: HashMap<u128, Stored> = HashMap::new();
    for l in listed {
        let (t, s) = (l.trace, l.span.as_str());
        let e = out.entry(t).or_default();
        e.rows += 1;
        if let Some(end) = l.end_unix_ms {
            e.latest_end_unix_ms = Some(e.latest_end_unix_ms.map_or(end, |v| v.max(end)));
        }
        if seen.entry(t).or_default().insert(s) {
            e.spans += 1;
        }
    }
    out
}

/// Which of [`READ_BACK`] answers at `base`: the sink's query endpoint, Phoenix's projects
/// API, or MLflow's experiments API (one GET each, in that order).
pub fn detect(base: &str, headers: &[(String, String)]) -> Result<&'static str, String> {
    let http = Http { client: Client::new().map_err(|e| e.to_string())?, headers: headers.to_vec() };
    let base = base.trim_end_matches('/');
    let probes = [
        ("sink", format!("{base}/api/traces"), "traces"),
        ("phoenix", format!("{base}/v1/projects?limit=1"), "data"),
        ("mlflow", format!("{base}/api/2.0/mlflow/experiments/search?max_results=1"), "experiments"),
    ];
    let mut errors = Vec::new();
    for (name, url, key) in &probes {
        match http.get_json(name, url) {
            Ok(Some(v)) if v.get(key).is_some() || (*name == "mlflow" && v.is_object()) => return Ok(name),
            Ok(_) => {}
            Err(e) => errors.push(e),
        }
    }
    let why = errors.first().map(|e| format!(" (first error: {e})")).unwrap_or_default();
    Err(format!(
        "{}: no read-back API found (tried the sink, Phoenix and MLflow){why}: name it with --from {}",
        super::redact_url(base),
        READ_BACK.join("|")
    ))
}

/// The base URL (`scheme://host:port`) of an endpoint URL.
pub fn base_of(endpoint: &str) -> Result<String, String> {
    let uri: hyper::Uri = endpoint.parse().map_err(|_| format!("{} is not a URL", super::redact_url(endpoint)))?;
    match (uri.scheme_str(), uri.authority()) {
        (Some(s), Some(a)) => {
            let host = a.as_str().rsplit_once('@').map_or(a.as_str(), |(_, h)| h);
            Ok(format!("{s}://{host}"))
        }
        _ => Err(format!("{} has no scheme and host", super::redact_url(endpoint))),
    }
}

/// Credentials for reading back from `from`, from the presets' variables: Phoenix's
/// `PHOENIX_API_KEY`, MLflow's `MLFLOW_TRACKING_TOKEN` (both as a bearer token).
pub fn credentials(from: &str) -> Vec<(String, String)> {
    let var = match from {
        "phoenix" => "PHOENIX_API_KEY",
        "mlflow" => "MLFLOW_TRACKING_TOKEN",
        _ => return Vec::new(),
    };
    std::env::var(var)
        .ok()
        .filter(|v| !v.is_empty())
        .map(|v| vec![("authorization".to_string(), format!("Bearer {v}"))])
        .unwrap_or_default()
}
