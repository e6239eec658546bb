//! Reading back what a platform stored: one small trait, one adapter per platform
//! ([`super::sink`], [`super::phoenix`], [`super::mlflow`], [`super::jaeger`], [`super::tempo`],
//! [`super::langfuse`], [`super::langsmith`], [`super::braintrust`]), used by `traceblast verify`.
//!
//! Adapters take credentials from the same variables as the presets and put them only in
//! request headers; errors name the platform and the redacted URL, never a header value.

use std::collections::HashMap;
use std::time::Duration;

use crate::fetch::Client;

/// Platforms `verify --from` reads back from.
pub const READ_BACK: [&str; 8] = super::names(super::READ_BACK);

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
    /// Phoenix project, or Braintrust project (name or ID).
    pub project: String,
    /// MLflow experiment ID.
    pub experiment: Option<String>,
    /// Headers sent with every read (credentials; never printed).
    pub headers: Vec<(String, String)>,
}

/// The adapter for `source`.
pub fn open(source: &Source) -> Result<Box<dyn ReadBack>, String> {
    let mut headers = source.headers.clone();
    if source.from == "tempo" {
        // Tempo answers protobuf unless JSON is asked for.
        headers.push(("accept".into(), "application/json".into()));
    }
    let http = Http { client: Client::new().map_err(|e| e.to_string())?, headers };
    let base = source.base.trim_end_matches('/').to_string();
    Ok(match source.from.as_str() {
        "sink" => Box::new(super::sink::Sink { http, base }),
        "phoenix" => Box::new(super::phoenix::Phoenix { http, base, project: source.project.clone() }),
        "mlflow" => Box::new(super::mlflow::Mlflow { http, base, experiment: source.experiment.clone() }),
        "jaeger" => Box::new(super::jaeger::Jaeger { http, base }),
        "tempo" => Box::new(super::tempo::Tempo { http, base }),
        "langfuse" => Box::new(super::langfuse::Langfuse { http, base }),
        "langsmith" => Box::new(super::langsmith::LangSmith { http, base }),
        "braintrust" => Box::new(super::braintrust::Braintrust { http, base, project: source.project.clone() }),
        other => return Err(format!("cannot read back from {other:?}: use one of {}", READ_BACK.join(", "))),
    })
}

/// GETs and POSTs JSON with the source's headers.
pub struct Http {
    client: Client,
    headers: Vec<(String, String)>,
}

impl Http {
    /// GETs `url` (its query already encoded); `Ok(None)` on 404. Errors name `platform` and
    /// the redacted URL.
    pub fn get_json(&self, platform: &str, url: &str) -> Result<Option<serde_json::Value>, String> {
        let shown = format!("GET {}", super::redact_url(url));
        let answer = self.client.get(url, &self.header_refs(), REQUEST_TIMEOUT);
        self.json_of(platform, &shown, answer)
    }

    /// POSTs `body` to `url` (a query API); `Ok(None)` on 404. Errors as [`Http::get_json`].
    pub fn post_json(
        &self,
        platform: &str,
        url: &str,
        body: &serde_json::Value,
    ) -> Result<Option<serde_json::Value>, String> {
        let shown = format!("POST {}", super::redact_url(url));
        let answer = self.client.post_json(url, &self.header_refs(), body, REQUEST_TIMEOUT);
        self.json_of(platform, &shown, answer)
    }

    fn header_refs(&self) -> Vec<(&str, &str)> {
        self.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
    }

    fn json_of(
        &self,
        platform: &str,
        shown: &str,
        answer: Result<(hyper::StatusCode, hyper::body::Bytes), crate::fetch::FetchError>,
    ) -> Result<Option<serde_json::Value>, String> {
        let (status, body) = answer.map_err(|e| format!("{platform}: {shown}: {e}"))?;
        if status == hyper::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            let hint = match (status.as_u16(), auth_vars(platform)) {
                (401 | 403, Some(vars)) => format!(" (reading back needs {vars})"),
                _ => String::new(),
            };
            return Err(format!("{platform}: {shown}: HTTP {status}{hint}: {}", quote_body(&body, &self.headers)));
        }
        serde_json::from_slice(&body).map(Some).map_err(|e| format!("{platform}: {shown}: not JSON: {e}"))
    }
}

/// The start of an error answer's body for a one-line message: at most 200 characters, control
/// characters escaped, and any header value we sent (a key a server echoes back) redacted.
pub fn quote_body(body: &[u8], sent: &[(String, String)]) -> String {
    let mut text: String = String::from_utf8_lossy(body).chars().take(200).collect();
    for (_, v) in sent.iter().filter(|(_, v)| v.len() >= 4) {
        text = text.replace(v.as_str(), "<redacted>");
        // A bearer or basic credential may come back without its scheme.
        if let Some((_, token)) = v.split_once(' ').filter(|(_, t)| t.len() >= 4) {
            text = text.replace(token, "<redacted>");
        }
    }
    text.trim()
        .chars()
        .flat_map(|c| if c.is_control() { c.escape_default().collect::<Vec<_>>() } else { vec![c] })
        .collect()
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

/// The variables [`credentials`] reads for `platform`, for messages.
fn auth_vars(platform: &str) -> Option<&'static str> {
    Some(match platform {
        "phoenix" => "PHOENIX_API_KEY",
        "mlflow" => "MLFLOW_TRACKING_TOKEN",
        "langfuse" => "LANGFUSE_PUBLIC_KEY and LANGFUSE_SECRET_KEY",
        "langsmith" => "LANGSMITH_API_KEY",
        "braintrust" => "BRAINTRUST_API_KEY",
        _ => return None,
    })
}

/// Credentials for reading back from `from`, from the presets' variables: Phoenix's
/// `PHOENIX_API_KEY`, MLflow's `MLFLOW_TRACKING_TOKEN` and Braintrust's `BRAINTRUST_API_KEY` (as
/// a bearer token), Langfuse's `LANGFUSE_PUBLIC_KEY`:`LANGFUSE_SECRET_KEY` (HTTP Basic),
/// LangSmith's `LANGSMITH_API_KEY` (`x-api-key`). Jaeger and Tempo: none.
pub fn credentials(from: &str) -> Vec<(String, String)> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let bearer = |name: &str| var(name).map(|v| ("authorization".to_string(), format!("Bearer {v}")));
    let header = match from {
        "phoenix" => bearer("PHOENIX_API_KEY"),
        "mlflow" => bearer("MLFLOW_TRACKING_TOKEN"),
        "braintrust" => bearer("BRAINTRUST_API_KEY"),
        "langsmith" => var("LANGSMITH_API_KEY").map(|v| ("x-api-key".to_string(), v)),
        "langfuse" => var("LANGFUSE_PUBLIC_KEY").zip(var("LANGFUSE_SECRET_KEY")).map(|(pk, sk)| {
            use base64::Engine;
            let basic = base64::engine::general_purpose::STANDARD.encode(format!("{pk}:{sk}"));
            ("authorization".to_string(), format!("Basic {basic}"))
        }),
        _ => None,
    };
    header.into_iter().collect()
}

/// Unix ms of an RFC 3339 time: `2026-12-02T08:11:33.110426+00:00` (Phoenix), `…Z` (Langfuse)
/// or without a zone, read as UTC (LangSmith).
pub fn rfc3339_ms(s: &str) -> Option<u64> {
    let (head, offset_min) = match s.len().checked_sub(6).map(|i| s.split_at(i)) {
        Some((h, o)) if (o.starts_with('+') || o.starts_with('-')) && o.as_bytes()[3] == b':' => {
            let m = o[1..3].parse::<i64>().ok()? * 60 + o[4..6].parse::<i64>().ok()?;
            (h, if o.starts_with('-') { -m } else { m })
        }
        _ => (s.trim_end_matches('Z'), 0),
    };
    let t = humantime::parse_rfc3339_weak(head).ok()?;
    let ms = t.duration_since(std::time::UNIX_EPOCH).ok()?.as_millis() as i64 - offset_min * 60_000;
    u64::try_from(ms).ok()
}

/// A trace ID as platforms print it: hex of up to 32 digits (Jaeger drops leading zeros).
pub fn parse_hex_id(s: &str) -> Option<u128> {
    (!s.is_empty() && s.len() <= 32 && s.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| u128::from_str_radix(s, 16).ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_with_offsets_or_without_a_zone_are_read() {
        assert_eq!(rfc3339_ms("1970-01-01T00:00:01.5+00:00"), Some(1500));
        assert_eq!(rfc3339_ms("1970-01-01T01:00:01+01:00"), Some(1000));
        assert_eq!(rfc3339_ms("1970-01-01T00:00:02Z"), Some(2000));
        assert_eq!(rfc3339_ms("1970-01-01T00:00:02.250"), Some(2250));
        assert_eq!(rfc3339_ms("yesterday"), None);
    }

    #[test]
    fn hex_ids_of_any_length_up_to_32_digits() {
        assert_eq!(parse_hex_id("ff"), Some(255));
        assert_eq!(parse_hex_id(&"0".repeat(31)), Some(0));
        assert_eq!(parse_hex_id(&"f".repeat(32)), Some(u128::MAX));
        for bad in ["", "xyz", "+1", &"1".repeat(33)] {
            assert_eq!(parse_hex_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn failed_reads_name_the_variables_never_their_values() {
        let http = Http { client: Client::new().unwrap(), headers: Vec::new() };
        let e = http
            .json_of(
                "langfuse",
                "GET http://h/x",
                Ok((hyper::StatusCode::UNAUTHORIZED, hyper::body::Bytes::from_static(b"{\"message\":\"no\"}"))),
            )
            .unwrap_err();
        assert!(e.starts_with("langfuse: GET http://h/x: HTTP 401 Unauthorized"), "{e}");
        assert!(e.contains("LANGFUSE_PUBLIC_KEY and LANGFUSE_SECRET_KEY"), "{e}");
        let none = http.json_of("tempo", "GET u", Ok((hyper::StatusCode::NOT_FOUND, Default::default())));
        assert_eq!(none, Ok(None));
    }

    #[test]
    fn an_error_body_is_one_line_without_the_key_it_echoes() {
        let sent = vec![("authorization".to_string(), "Bearer sk-echoed-1".to_string())];
        let q = quote_body(b"denied: Bearer sk-echoed-1\nraw sk-echoed-1\x1b[2J", &sent);
        assert_eq!(q, "denied: <redacted>\\nraw <redacted>\\u{1b}[2J");
    }
}
