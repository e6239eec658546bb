//! Platform presets: endpoint and auth headers of the usual AI-observability backends, from the
//! variables their own SDKs read.
//!
//! | platform | endpoint (base overridable) | headers |
//! |---|---|---|
//! | `otlp` | `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, or `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`, or `http://localhost:4318/v1/traces` | `OTEL_EXPORTER_OTLP_(TRACES_)HEADERS` |
//! | `braintrust` | `BRAINTRUST_API_URL` (https://api.braintrust.dev) + `/otel/v1/traces` | `Authorization: Bearer $BRAINTRUST_API_KEY`, `x-bt-parent: project_name:$BRAINTRUST_PROJECT` |
//! | `langsmith` | `LANGSMITH_ENDPOINT` (https://api.smith.langchain.com) + `/otel/v1/traces` | `x-api-key: $LANGSMITH_API_KEY`, `Langsmith-Project: $LANGSMITH_PROJECT` |
//! | `langfuse` | `LANGFUSE_HOST` (https://cloud.langfuse.com) + `/api/public/otel/v1/traces` | `Authorization: Basic base64($LANGFUSE_PUBLIC_KEY:$LANGFUSE_SECRET_KEY)` |
//! | `phoenix` | `PHOENIX_COLLECTOR_ENDPOINT` (https://app.phoenix.arize.com) + `/v1/traces` | `Authorization: Bearer $PHOENIX_API_KEY` |
//! | `phoenix-local` | `PHOENIX_COLLECTOR_ENDPOINT` (http://localhost:6006) + `/v1/traces` | `x-project-name: $PHOENIX_PROJECT_NAME` (or `--project`), the key only if set |
//! | `mlflow` | `MLFLOW_TRACKING_URI` (http://localhost:5000) + `/v1/traces` | `x-mlflow-experiment-id: $MLFLOW_EXPERIMENT_ID` (or `--experiment`, default `0`) |
//! | `honeycomb` | `HONEYCOMB_API_ENDPOINT` (https://api.honeycomb.io) + `/v1/traces` | `x-honeycomb-team: $HONEYCOMB_API_KEY` (+ `x-honeycomb-dataset: $HONEYCOMB_DATASET`) |

use base64::Engine;

use crate::config::env::Env;
use crate::replay::Protocol;

/// A platform traceblast knows, and what it does with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Known {
    /// Its name, the same for every role.
    pub name: &'static str,
    /// Its roles: [`PRESET`], [`PROFILE`], [`READ_BACK`] (or-ed).
    pub roles: u8,
}

/// `replay --platform NAME`: endpoint and headers from the platform's variables.
pub const PRESET: u8 = 1;
/// `sink --profile NAME`: the sink requires what the platform requires ([`profile`]).
pub const PROFILE: u8 = 2;
/// `verify --from NAME`: a read-back adapter ([`readback`]).
pub const READ_BACK: u8 = 4;

/// Every platform, once: the lists of presets, profiles and read-back adapters are drawn from
/// it (in this order), so a platform is added in one place.
pub const KNOWN: [Known; 11] = [
    Known { name: "otlp", roles: PRESET },
    Known { name: "sink", roles: READ_BACK },
    Known { name: "phoenix", roles: PRESET | PROFILE | READ_BACK },
    Known { name: "phoenix-local", roles: PRESET },
    Known { name: "mlflow", roles: PRESET | READ_BACK },
    Known { name: "jaeger", roles: READ_BACK },
    Known { name: "tempo", roles: READ_BACK },
    Known { name: "langfuse", roles: PRESET | PROFILE | READ_BACK },
    Known { name: "langsmith", roles: PRESET | PROFILE | READ_BACK },
    Known { name: "braintrust", roles: PRESET | PROFILE | READ_BACK },
    Known { name: "honeycomb", roles: PRESET | PROFILE },
];

/// The names of [`KNOWN`] with `role`, in order; `N` must be their count (checked when the
/// constant is built, so a mismatch does not compile).
pub const fn names<const N: usize>(role: u8) -> [&'static str; N] {
    let mut out = [""; N];
    let (mut i, mut j) = (0, 0);
    while i < KNOWN.len() {
        if KNOWN[i].roles & role != 0 {
            assert!(j < N, "more platforms have this role than the list holds");
            out[j] = KNOWN[i].name;
            j += 1;
        }
        i += 1;
    }
    assert!(j == N, "fewer platforms have this role than the list holds");
    out
}

/// Known presets.
pub const PLATFORMS: [&str; 8] = names(PRESET);

/// A resolved preset.
#[derive(Debug, Clone, PartialEq)]
pub struct Preset {
    /// Platform name.
    pub name: &'static str,
    /// Full traces endpoint.
    pub endpoint: String,
    /// Where the endpoint came from (a variable name or "default"), for messages.
    pub endpoint_origin: String,
    /// Headers the platform needs.
    pub headers: Vec<(String, String)>,
}

/// Whether a header's value is a secret that must never be printed.
pub fn is_secret_header(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    ["auth", "key", "token", "secret", "password", "cookie", "honeycomb-team", "signature"]
        .iter()
        .any(|s| n.contains(s))
}

/// Whether a URL query parameter is likely to carry a credential (signed URLs' `sig` and
/// `signature`, OAuth's `code`, `key`, `token`, `password`, …). The name is compared decoded
/// and case-insensitively; a false positive only hides a harmless value.
pub fn is_secret_param(name: &str) -> bool {
    let n = percent_encoding::percent_decode_str(name).decode_utf8_lossy().to_ascii_lowercase();
    is_secret_header(&n)
        || ["sig", "pass", "pwd", "credential", "session", "jwt", "sas", "otp"].iter().any(|s| n.contains(s))
        || ["code", "st", "se", "sv", "sp", "sr", "skoid"].contains(&n.as_str())
}

/// Removes credentials from a URL for display: user info, and the values of query parameters
/// that look like credentials (the fragment is dropped).
pub fn redact_url(url: &str) -> String {
    let url = url.split_once('#').map_or(url, |(u, _)| u);
    let (head, query) = match url.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (url, None),
    };
    let head = match head.split_once("://") {
        Some((scheme, rest)) => match rest.split_once('/') {
            Some((auth, path)) => format!("{scheme}://{}/{path}", strip_userinfo(auth)),
            None => format!("{scheme}://{}", strip_userinfo(rest)),
        },
        // No scheme (`user:pw@host:4318/…`): the user info is still cut off.
        None => match head.split_once('/') {
            Some((auth, path)) => format!("{}/{path}", strip_userinfo(auth)),
            None => strip_userinfo(head).to_string(),
        },
    };
    match query {
        None => head,
        Some(q) => {
            let q: Vec<String> = q
                .split('&')
                .map(|kv| match kv.split_once('=') {
                    Some((k, _)) if is_secret_param(k) => format!("{k}=<redacted>"),
                    _ => kv.to_string(),
                })
                .collect();
            format!("{head}?{}", q.join("&"))
        }
    }
}

fn strip_userinfo(authority: &str) -> &str {
    authority.rsplit_once('@').map(|(_, host)| host).unwrap_or(authority)
}

fn need(env: &Env, platform: &str, var: &str) -> Result<String, String> {
    env.get(var).ok_or_else(|| format!("--platform {platform} needs {var} (set it in the environment or in .env)"))
}

fn base(env: &Env, var: &str, default: &str) -> (String, String) {
    match env.get(var) {
        Some(v) => (v.trim_end_matches('/').to_string(), var.to_string()),
        None => (default.to_string(), "default".to_string()),
    }
}

/// The OTel SDK endpoint: the traces-specific variable as is, else the base + `/v1/traces`
/// (as is for gRPC, whose path is the service's), else localhost on the protocol's port.
pub fn otel_endpoint(env: &Env, protocol: Protocol) -> (String, String) {
    if let Some(e) = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
        return (e, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT".into());
    }
    let grpc = protocol == Protocol::Grpc;
    if let Some(e) = env.get("OTEL_EXPORTER_OTLP_ENDPOINT") {
        let e = e.trim_end_matches('/');
        let url = if grpc { e.to_string() } else { format!("{e}/v1/traces") };
        return (url, "OTEL_EXPORTER_OTLP_ENDPOINT".into());
    }
    let url = if grpc { "http://localhost:4317" } else { "http://localhost:4318/v1/traces" };
    (url.into(), "default".into())
}

/// The protocols a platform's OTLP endpoint takes (the first is the one to suggest).
pub fn protocols(platform: &str) -> &'static [Protocol] {
    use Protocol::*;
    match platform {
        "otlp" | "honeycomb" => &[HttpProtobuf, HttpJson, Grpc],
        // Phoenix reads protobuf only over HTTP, and its cloud has no gRPC endpoint; a local
        // Phoenix serves gRPC on 4317. MLflow takes OTLP/HTTP protobuf only.
        "phoenix" | "mlflow" => &[HttpProtobuf],
        "phoenix-local" => &[HttpProtobuf, Grpc],
        _ => &[HttpProtobuf, HttpJson],
    }
}

/// Why `platform` refuses bodies compressed with `encoding` (`gzip`, `zstd`), if it does.
pub fn refuses_encoding(platform: &str, encoding: &str) -> Option<&'static str> {
    match (platform, encoding) {
        ("phoenix" | "phoenix-local", "zstd") => Some("Phoenix answers zstd bodies with 415: use gzip or none"),
        ("mlflow", "zstd") => Some("MLflow answers zstd bodies with 400: use gzip or none"),
        _ => None,
    }
}

/// `base` (`http://host:6006`) with its port replaced by `port` (a server's gRPC port).
fn grpc_of(base: &str, port: u16) -> String {
    match base.parse::<hyper::Uri>() {
        Ok(u) if u.host().is_some() => {
            format!("{}://{}:{port}", u.scheme_str().unwrap_or("http"), u.host().unwrap_or_default())
        }
        _ => base.to_string(),
    }
}

/// Resolves `platform` for `protocol` from the environment. Errors name the missing variable,
/// or the protocols the platform takes.
pub fn resolve(platform: &str, env: &Env, protocol: Protocol) -> Result<Preset, String> {
    let p = platform.trim().to_ascii_lowercase();
    let name = PLATFORMS
        .iter()
        .copied()
        .find(|n| *n == p)
        .ok_or_else(|| format!("--platform '{platform}' is unknown (known: {})", PLATFORMS.join(", ")))?;
    let takes = protocols(name);
    if !takes.contains(&protocol) {
        let names: Vec<&str> = takes.iter().map(|p| p.name()).collect();
        return Err(format!(
            "--platform {name} does not take --protocol {} (it takes {})",
            protocol.name(),
            names.join(", ")
        ));
    }
    let (endpoint, endpoint_origin, headers) = match name {
        "otlp" => {
            let (e, o) = otel_endpoint(env, protocol);
            (e, o, vec![])
        }
        "braintrust" => {
            let key = need(env, name, "BRAINTRUST_API_KEY")?;
            let parent = match env.get("BRAINTRUST_PARENT") {
                Some(p) => p,
                None => format!("project_name:{}", need(env, name, "BRAINTRUST_PROJECT")?),
            };
            let (b, o) = base(env, "BRAINTRUST_API_URL", "https://api.braintrust.dev");
            (
                format!("{b}/otel/v1/traces"),
                o,
                vec![("Authorization".into(), format!("Bearer {key}")), ("x-bt-parent".into(), parent)],
            )
        }
        "langsmith" => {
            let key = need(env, name, "LANGSMITH_API_KEY")?;
            let (b, o) = base(env, "LANGSMITH_ENDPOINT", "https://api.smith.langchain.com");
            let mut h = vec![("x-api-key".to_string(), key)];
            if let Some(project) = env.get("LANGSMITH_PROJECT") {
                h.push(("Langsmith-Project".into(), project));
            }
            (format!("{b}/otel/v1/traces"), o, h)
        }
        "langfuse" => {
            let pk = need(env, name, "LANGFUSE_PUBLIC_KEY")?;
            let sk = need(env, name, "LANGFUSE_SECRET_KEY")?;
            let (b, o) = match env.get("LANGFUSE_BASE_URL") {
                Some(v) => (v.trim_end_matches('/').to_string(), "LANGFUSE_BASE_URL".to_string()),
                None => base(env, "LANGFUSE_HOST", "https://cloud.langfuse.com"),
            };
            let basic = base64::engine::general_purpose::STANDARD.encode(format!("{pk}:{sk}"));
            (format!("{b}/api/public/otel/v1/traces"), o, vec![("Authorization".into(), format!("Basic {basic}"))])
        }
        "phoenix" => {
            let key = need(env, name, "PHOENIX_API_KEY")?;
            let (b, o) = base(env, "PHOENIX_COLLECTOR_ENDPOINT", "https://app.phoenix.arize.com");
            (format!("{b}/v1/traces"), o, vec![("Authorization".into(), format!("Bearer {key}"))])
        }
        "phoenix-local" => {
            let (b, o) = base(env, "PHOENIX_COLLECTOR_ENDPOINT", "http://localhost:6006");
            let mut h = Vec::new();
            if let Some(key) = env.get("PHOENIX_API_KEY").filter(|k| !k.is_empty()) {
                h.push(("Authorization".to_string(), format!("Bearer {key}")));
            }
            if let Some(p) = env.get("PHOENIX_PROJECT_NAME").filter(|p| !p.is_empty()) {
                h.push(("x-project-name".into(), p));
            }
            let url = if protocol == Protocol::Grpc { grpc_of(&b, 4317) } else { format!("{b}/v1/traces") };
            (url, o, h)
        }
        "mlflow" => {
            let (b, o) = base(env, "MLFLOW_TRACKING_URI", "http://localhost:5000");
            let id = env.get("MLFLOW_EXPERIMENT_ID").filter(|e| !e.is_empty()).unwrap_or_else(|| "0".into());
            (format!("{b}/v1/traces"), o, vec![("x-mlflow-experiment-id".into(), id)])
        }
        "honeycomb" => {
            let key = need(env, name, "HONEYCOMB_API_KEY")?;
            let (b, o) = base(env, "HONEYCOMB_API_ENDPOINT", "https://api.honeycomb.io");
            let mut h = vec![("x-honeycomb-team".to_string(), key)];
            if let Some(ds) = env.get("HONEYCOMB_DATASET") {
                h.push(("x-honeycomb-dataset".into(), ds));
            }
            // Honeycomb takes gRPC on the same host (port 443).
            let url = if protocol == Protocol::Grpc { b } else { format!("{b}/v1/traces") };
            (url, o, h)
        }
        _ => unreachable!("listed in PLATFORMS"),
    };
    Ok(Preset { name, endpoint, endpoint_origin, headers })
}

/// An environment with every variable the presets need (tests).
#[cfg(test)]
pub(crate) fn env_with_every_key() -> Env {
    Env::from_pairs(&[
        ("BRAINTRUST_API_KEY", "k"),
        ("BRAINTRUST_PROJECT", "p"),
        ("LANGSMITH_API_KEY", "k"),
        ("LANGFUSE_PUBLIC_KEY", "pk"),
        ("LANGFUSE_SECRET_KEY", "sk"),
        ("PHOENIX_API_KEY", "k"),
        ("HONEYCOMB_API_KEY", "k"),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_build_endpoint_and_auth() {
        let env = Env::from_pairs(&[("BRAINTRUST_API_KEY", "sk-1"), ("BRAINTRUST_PROJECT", "demo")]);
        let p = resolve("braintrust", &env, Protocol::HttpProtobuf).unwrap();
        assert_eq!(p.endpoint, "https://api.braintrust.dev/otel/v1/traces");
        assert_eq!(
            p.headers,
            vec![("Authorization".into(), "Bearer sk-1".into()), ("x-bt-parent".into(), "project_name:demo".into())]
        );

        let env = Env::from_pairs(&[
            ("LANGFUSE_PUBLIC_KEY", "pk"),
            ("LANGFUSE_SECRET_KEY", "sk"),
            ("LANGFUSE_HOST", "https://us.cloud.langfuse.com/"),
        ]);
        let p = resolve("langfuse", &env, Protocol::HttpProtobuf).unwrap();
        assert_eq!(p.endpoint, "https://us.cloud.langfuse.com/api/public/otel/v1/traces");
        assert_eq!(p.headers[0].1, "Basic cGs6c2s=");

        let env = Env::from_pairs(&[
            ("LANGSMITH_API_KEY", "k"),
            ("LANGSMITH_PROJECT", "p"),
            ("LANGSMITH_ENDPOINT", "https://eu.api.smith.langchain.com"),
        ]);
        let p = resolve("langsmith", &env, Protocol::HttpProtobuf).unwrap();
        assert_eq!(p.endpoint, "https://eu.api.smith.langchain.com/otel/v1/traces");
        assert_eq!(p.headers[1], ("Langsmith-Project".into(), "p".into()));

        let p = resolve("honeycomb", &Env::from_pairs(&[("HONEYCOMB_API_KEY", "h")]), Protocol::HttpProtobuf).unwrap();
        assert_eq!(p.headers, vec![("x-honeycomb-team".into(), "h".into())]);
        let p = resolve(
            "phoenix",
            &Env::from_pairs(&[("PHOENIX_API_KEY", "x"), ("PHOENIX_COLLECTOR_ENDPOINT", "http://localhost:6006")]),
            Protocol::HttpProtobuf,
        )
        .unwrap();
        assert_eq!(p.endpoint, "http://localhost:6006/v1/traces");
    }

    #[test]
    fn every_known_platform_works_in_each_of_its_roles() {
        let env = env_with_every_key();
        for k in KNOWN {
            assert_eq!(k.roles & PRESET != 0, resolve(k.name, &env, Protocol::HttpProtobuf).is_ok(), "{}", k.name);
            assert_eq!(k.roles & PROFILE != 0, profile::Profile::parse(k.name).is_some(), "{}", k.name);
            let source = readback::Source {
                from: k.name.into(),
                base: "http://127.0.0.1:1".into(),
                project: "p".into(),
                experiment: None,
                headers: Vec::new(),
            };
            assert_eq!(k.roles & READ_BACK != 0, readback::open(&source).is_ok(), "{}", k.name);
        }
    }

    #[test]
    fn local_phoenix_and_mlflow_need_no_key() {
        let p = resolve("phoenix-local", &Env::from_pairs(&[]), Protocol::HttpProtobuf).unwrap();
        assert_eq!((p.endpoint.as_str(), p.headers.len()), ("http://localhost:6006/v1/traces", 0));
        let env =
            Env::from_pairs(&[("PHOENIX_PROJECT_NAME", "load"), ("PHOENIX_COLLECTOR_ENDPOINT", "http://px:7000")]);
        let p = resolve("phoenix-local", &env, Protocol::Grpc).unwrap();
        assert_eq!(p.endpoint, "http://px:4317");
        assert_eq!(p.headers, vec![("x-project-name".into(), "load".into())]);
        let p = resolve("mlflow", &Env::from_pairs(&[]), Protocol::HttpProtobuf).unwrap();
        assert_eq!(p.endpoint, "http://localhost:5000/v1/traces");
        assert_eq!(p.headers, vec![("x-mlflow-experiment-id".into(), "0".into())]);
        let env = Env::from_pairs(&[("MLFLOW_TRACKING_URI", "http://m:8080/"), ("MLFLOW_EXPERIMENT_ID", "7")]);
        let p = resolve("mlflow", &env, Protocol::HttpProtobuf).unwrap();
        assert_eq!((p.endpoint.as_str(), p.headers[0].1.as_str()), ("http://m:8080/v1/traces", "7"));
        assert!(resolve("mlflow", &env, Protocol::HttpJson).unwrap_err().contains("takes http/protobuf"));
        assert!(refuses_encoding("phoenix-local", "zstd").unwrap().contains("415"));
        assert!(refuses_encoding("mlflow", "zstd").unwrap().contains("400"));
        assert_eq!(refuses_encoding("mlflow", "gzip"), None);
    }

    #[test]
    fn missing_variables_and_unknown_platforms_are_named() {
        let e = resolve("braintrust", &Env::from_pairs(&[("BRAINTRUST_PROJECT", "demo")]), Protocol::HttpProtobuf)
            .unwrap_err();
        assert!(e.contains("BRAINTRUST_API_KEY"), "{e}");
        let e = resolve("langfuse", &Env::from_pairs(&[("LANGFUSE_PUBLIC_KEY", "pk")]), Protocol::HttpProtobuf)
            .unwrap_err();
        assert!(e.contains("LANGFUSE_SECRET_KEY"), "{e}");
        let e = resolve("datadog", &Env::default(), Protocol::HttpProtobuf).unwrap_err();
        assert!(e.contains("'datadog'") && e.contains("braintrust"), "{e}");
    }

    #[test]
    fn presets_refuse_the_protocols_their_platform_does_not_take() {
        let keys = Env::from_pairs(&[
            ("PHOENIX_API_KEY", "x"),
            ("LANGFUSE_PUBLIC_KEY", "p"),
            ("LANGFUSE_SECRET_KEY", "s"),
            ("HONEYCOMB_API_KEY", "h"),
        ]);
        let e = resolve("phoenix", &keys, Protocol::Grpc).unwrap_err();
        assert_eq!(e, "--platform phoenix does not take --protocol grpc (it takes http/protobuf)");
        assert!(resolve("phoenix", &keys, Protocol::HttpJson).is_err());
        assert!(resolve("langfuse", &keys, Protocol::Grpc).is_err());
        assert!(resolve("langfuse", &keys, Protocol::HttpJson).is_ok());
        assert_eq!(resolve("honeycomb", &keys, Protocol::Grpc).unwrap().endpoint, "https://api.honeycomb.io");
        assert_eq!(otel_endpoint(&Env::default(), Protocol::Grpc).0, "http://localhost:4317");
        let base = Env::from_pairs(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317")]);
        assert_eq!(otel_endpoint(&base, Protocol::Grpc).0, "http://c:4317", "no path for gRPC");
    }

    #[test]
    fn otlp_endpoint_follows_the_sdk_rules() {
        assert_eq!(otel_endpoint(&Env::from_pairs(&[]), Protocol::HttpProtobuf).0, "http://localhost:4318/v1/traces");
        assert_eq!(
            otel_endpoint(
                &Env::from_pairs(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318/")]),
                Protocol::HttpProtobuf
            )
            .0,
            "http://c:4318/v1/traces"
        );
        let both = Env::from_pairs(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://t:9/x"),
        ]);
        assert_eq!(otel_endpoint(&both, Protocol::HttpProtobuf).0, "http://t:9/x");
    }

    #[test]
    fn secrets_are_recognised_and_urls_redacted() {
        for h in ["Authorization", "x-api-key", "x-honeycomb-team", "X-Auth-Token", "api_key"] {
            assert!(is_secret_header(h), "{h}");
        }
        for h in ["x-bt-parent", "Langsmith-Project", "content-type"] {
            assert!(!is_secret_header(h), "{h}");
        }
        assert_eq!(
            redact_url("https://user:pw@host:443/v1/traces?api_key=abc&x=1"),
            "https://host:443/v1/traces?api_key=<redacted>&x=1"
        );
        // Signed URLs (Azure SAS, S3, GCS), OAuth codes, tokens and passwords in any case or
        // percent-encoding; the fragment goes.
        let u = "https://h/p?sv=2024&sig=S1&code=C1&Token=T1&password=P1&X-Amz-Signature=A1&%73ig=S2&x=1#frag";
        let r = redact_url(u);
        for secret in ["S1", "C1", "T1", "P1", "A1", "S2", "frag"] {
            assert!(!r.contains(secret), "{secret} in {r}");
        }
        assert!(r.ends_with("&x=1"), "{r}");
        assert_eq!(redact_url("user:s3cr3t@collector:4318/v1/traces"), "collector:4318/v1/traces");
        assert_eq!(redact_url("user:s3cr3t@collector:4318"), "collector:4318");
    }
}

pub mod braintrust;
pub mod jaeger;
pub mod langfuse;
pub mod langsmith;
pub mod mlflow;
pub mod phoenix;
pub mod profile;
pub mod readback;
pub mod sink;
pub mod tempo;
