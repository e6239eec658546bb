//! `replay` arguments + environment + `.env` → a validated [`ReplayPlan`].
//!
//! Every value remembers where it came from (`--rate` or `TRACEBLAST_RATE`), so an error names
//! what the user has to fix. Nothing here touches the network or the corpus.

use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use base64::Engine;
use hyper::header::{HeaderMap, HeaderName, HeaderValue};

use super::env::{Env, header_hint, parse_otel_headers};
use crate::cli::ReplayArgs;
use crate::output::Output;
use crate::platform::{self, is_secret_header, redact_url};
use crate::replay::{Compression, Protocol, Rate, ReplayPlan, Stop, Target};
use crate::units::{parse_count, parse_duration};

/// A value and where it came from.
struct Val {
    v: String,
    from: String,
}

fn pick(flag: &Option<String>, name: &str, env: &Env, var: &str) -> Option<Val> {
    match flag {
        Some(v) => Some(Val { v: v.clone(), from: name.to_string() }),
        None => env.get(var).map(|v| Val { v, from: var.to_string() }),
    }
}

fn bool_env(env: &Env, var: &str) -> Result<bool> {
    match env.get(var).map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(false),
        Some(v) if ["1", "true", "yes", "on"].contains(&v.as_str()) => Ok(true),
        Some(v) if ["0", "false", "no", "off"].contains(&v.as_str()) => Ok(false),
        Some(v) => bail!("{var} '{v}': expected true or false"),
    }
}

/// A count from 1 to `max`; the error names the flag or variable, the value and the bound.
fn bounded(val: Option<Val>, default: u64, max: u64) -> Result<u64> {
    match val {
        None => Ok(default),
        Some(Val { v, from }) => {
            let n = parse_count(&v).map_err(|e| anyhow!("{from} {e}"))?;
            if n > max {
                bail!("{from} '{v}' is more than the maximum, {}", crate::units::thousands(max));
            }
            Ok(n)
        }
    }
}

fn duration(val: Option<Val>, max: Duration) -> Result<Option<Duration>> {
    val.map(|Val { v, from }| parse_duration(&v, max).map_err(|e| anyhow!("{from} {e}"))).transpose()
}

/// Longest `--duration` and `--ramp-up`: 30 days. Longer soak tests run as consecutive runs.
pub const MAX_DURATION: Duration = Duration::from_secs(30 * 86_400);
/// Longest `--timeout` per attempt.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(3_600);
/// Highest `--rate` (requests/s), far above what one process can send, low enough that every
/// schedule of `MAX_DURATION` stays exact in integer arithmetic.
pub const MAX_RATE: f64 = 10_000_000.0;
/// Most `--connections` (each is a socket: file descriptors are the real limit).
pub const MAX_CONNECTIONS: u64 = 10_000;
/// Most `--max-in-flight`.
pub const MAX_IN_FLIGHT: u64 = 1_000_000;
/// Most `--threads`.
pub const MAX_THREADS: u64 = 256;
/// Most records in one request (`--batch`).
pub const MAX_BATCH: u64 = 65_535;
/// Most `--loops`.
pub const MAX_LOOPS: u64 = 1_000_000_000;
/// Most `--requests` (at `MAX_RATE`, more than `MAX_DURATION` of them).
pub const MAX_REQUESTS: u64 = 1_000_000_000_000_000;

/// `--protocol`, else `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`, else `OTEL_EXPORTER_OTLP_PROTOCOL`,
/// else `http/protobuf` (the default of the OTel SDKs' OTLP/HTTP exporters).
fn protocol(a: &ReplayArgs, env: &Env) -> Result<Protocol> {
    let given = pick(&a.protocol, "--protocol", env, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL").or_else(|| {
        env.get("OTEL_EXPORTER_OTLP_PROTOCOL").map(|v| Val { v, from: "OTEL_EXPORTER_OTLP_PROTOCOL".into() })
    });
    match given {
        None => Ok(Protocol::HttpProtobuf),
        Some(Val { v, from }) => {
            Protocol::parse(&v).ok_or_else(|| anyhow!("{from} '{v}': expected {}", Protocol::NAMES.join(", ")))
        }
    }
}

/// Whether `url` is a base URL with no path (`http://host:4318` or `http://host:4318/`): no
/// `/` after the authority, or only one, and no query.
fn bare_base(url: &str) -> bool {
    let Some((_, rest)) = url.trim().split_once("://") else { return false };
    match rest.split_once('/') {
        None => !rest.contains('?'),
        Some((_, path)) => path.is_empty(),
    }
}

/// `--id-key`: up to 16 hex digits (a report's `run.id_key`), `0x` allowed.
fn parse_id_key(Val { v, from }: Val) -> Result<u64> {
    let t = v.trim().trim_start_matches("0x");
    if t.is_empty() || t.len() > 16 {
        bail!("{from} '{v}': expected up to 16 hex digits, as in a report's run.id_key");
    }
    u64::from_str_radix(t, 16)
        .map_err(|_| anyhow!("{from} '{v}': expected up to 16 hex digits, as in a report's run.id_key"))
}

/// An output path from a flag or a variable, checked before the run (errors name which).
fn output(flag: &Option<std::path::PathBuf>, name: &str, env: &Env, var: &str) -> Result<Option<Output>> {
    let (path, from) = match flag {
        Some(p) => (p.clone(), name),
        None => match env.get(var) {
            Some(v) => (v.into(), var),
            None => return Ok(None),
        },
    };
    Output::check(&path).map(Some).map_err(|e| anyhow!("{from} {e}"))
}

/// `--experiment`: an ID as is; a name looked up (and created when missing) at the endpoint's
/// MLflow server, except in a dry run, which must not create anything.
fn experiment_id(e: &str, uri: &hyper::Uri, dry_run: bool) -> Result<String> {
    let e = e.trim();
    if e.is_empty() {
        bail!("--experiment is empty: give an MLflow experiment ID or name");
    }
    if e.bytes().all(|b| b.is_ascii_digit()) || dry_run {
        return Ok(e.to_string());
    }
    let base = crate::platform::readback::base_of(&uri.to_string()).map_err(anyhow::Error::msg)?;
    let (id, created) = crate::platform::mlflow::experiment_id(&base, e).map_err(anyhow::Error::msg)?;
    if created {
        log::info!("created MLflow experiment {e:?} (ID {id})");
    }
    Ok(id)
}

/// A `--rate` other than `max`: requests a second (`500`, `500req/s`), or spans, traces or body
/// bytes a second (`2000spans/s`, `100traces/s`, `5MB/s`), converted once the corpus is open.
pub(crate) fn parse_rate(v: &str) -> std::result::Result<(Rate, Option<crate::replay::RateIn>), String> {
    use crate::replay::{RateIn, RateUnit};
    let s = v.trim();
    let per_s = s.strip_suffix("/s");
    let body = per_s.unwrap_or(s);
    let split = body
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+' | '_')))
        .unwrap_or(body.len());
    let (num, unit) = body.split_at(split);
    let unit = unit.trim().to_ascii_lowercase();
    let usage = format!(
        "must be a number from 0.001 to {MAX_RATE} or 'max' (requests a second), or spans, traces or bytes a second (2000spans/s, 100traces/s, 5MB/s)"
    );
    let value: Option<f64> = num.replace('_', "").parse().ok().filter(|v: &f64| v.is_finite());
    if matches!(unit.as_str(), "" | "req" | "reqs" | "requests") && (unit.is_empty() || per_s.is_some()) {
        return match value {
            Some(r) if (0.001..=MAX_RATE).contains(&r) => Ok((Rate::PerSec(r), None)),
            _ => Err(usage),
        };
    }
    let (Some(value), Some(_)) = (value.filter(|v| *v > 0.0), per_s) else { return Err(usage) };
    let (value, unit) = match unit.as_str() {
        "spans" | "span" => (value, RateUnit::Spans),
        "traces" | "trace" => (value, RateUnit::Traces),
        _ => (crate::units::parse_bytes(body).map_err(|_| usage.clone())? as f64, RateUnit::Bytes),
    };
    // A placeholder until `ReplayPlan::resolve_rate` converts it with the corpus's sizes.
    Ok((Rate::PerSec(10.0), Some(RateIn { value, unit, given: s.to_string() })))
}

/// `--verify`'s settings: it reads the sent log written next to `--report`.
fn verify_settings(a: &ReplayArgs, report: bool, no_sent: bool) -> Result<Option<crate::verify::Settings>> {
    if !a.verify {
        return Ok(None);
    }
    if !report || no_sent {
        bail!("--verify reads the sent log written next to --report FILE: give --report (and not --no-sent)");
    }
    verify_flags(a).map(Some)
}

/// The read-back settings `--verify-wait`, `--max-loss` and `--sample` give (`limit` reads back
/// each step with them).
pub fn verify_flags(a: &ReplayArgs) -> Result<crate::verify::Settings> {
    let mut s = crate::verify::Settings::default();
    if let Some(w) = &a.verify_wait {
        s.wait = crate::units::parse_duration(w, crate::units::DAY).map_err(|e| anyhow!("--verify-wait {w}: {e}"))?;
    }
    if let Some(m) = &a.max_loss {
        s.max_loss = crate::verify::parse_max_loss(m).map_err(|e| anyhow!("--max-loss {m}: {e}"))?;
    }
    if let Some(n) = &a.sample {
        s.sample = n
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|n| *n <= 1000)
            .ok_or_else(|| anyhow!("--sample '{n}': expected a number of traces a second from 0 to 1000"))?;
    }
    Ok(s)
}

/// Parses the `position`th `--header`, `name: value`. Errors never print the value.
pub fn parse_header(s: &str, position: usize) -> Result<(HeaderName, HeaderValue)> {
    let (n, v) =
        s.split_once(':').ok_or_else(|| anyhow!("--header {}: expected 'name: value'", header_hint(s, position)))?;
    let name = HeaderName::from_bytes(n.trim().as_bytes())
        .map_err(|_| anyhow!("--header #{position}: '{}' is not a valid header name", n.trim()))?;
    let value = HeaderValue::from_str(v.trim())
        .map_err(|_| anyhow!("--header '{}': the value has characters a header cannot carry", name))?;
    Ok((name, value))
}

/// Builds the plan.
pub fn plan(a: &ReplayArgs, env: &Env) -> Result<ReplayPlan> {
    let platform_name =
        pick(&a.platform, "--platform", env, "OTEL_PLATFORM").map(|v| v.v).unwrap_or_else(|| "otlp".into());
    let protocol = protocol(a, env)?;
    let preset = platform::resolve(&platform_name, env, protocol).map_err(anyhow::Error::msg)?;

    let given = pick(&a.endpoint, "--endpoint", env, "TRACEBLAST_ENDPOINT");
    // gRPC's path is the service's; only OTLP/HTTP gets /v1/traces after a base URL.
    let appended = protocol != Protocol::Grpc && given.as_ref().is_some_and(|e| bare_base(&e.v));
    let endpoint = match given {
        // A base URL without a path gets the OTLP traces path, as OTEL_EXPORTER_OTLP_ENDPOINT
        // does in every SDK (`http://host:4318` → `http://host:4318/v1/traces`).
        Some(Val { v, from }) if appended => Val { v: format!("{}/v1/traces", v.trim().trim_end_matches('/')), from },
        Some(given) => given,
        None => Val { v: preset.endpoint.clone(), from: preset.endpoint_origin.clone() },
    };
    let mut uri: hyper::Uri = endpoint
        .v
        .parse()
        .map_err(|_| anyhow!("{} '{}' is not a valid URL", endpoint.from, redact_url(&endpoint.v)))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
        bail!("{} '{}' is not an http:// or https:// URL with a host", endpoint.from, redact_url(&endpoint.v));
    }

    // Credentials in the URL become Basic auth, as curl does; the URL itself (and with it the
    // Host header) must not carry them.
    let mut pairs: Vec<(String, String, String)> = Vec::new();
    if let Some((userinfo, host)) = uri.authority().and_then(|a| a.as_str().rsplit_once('@')) {
        let dec = |x: &str| percent_encoding::percent_decode_str(x).decode_utf8_lossy().into_owned();
        let (user, pass) =
            userinfo.split_once(':').map(|(u, p)| (dec(u), dec(p))).unwrap_or_else(|| (dec(userinfo), String::new()));
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        pairs.push(("Authorization".into(), format!("Basic {basic}"), endpoint.from.clone()));
        let mut parts = uri.clone().into_parts();
        parts.authority = Some(host.parse().map_err(|_| anyhow!("{} has an invalid host", endpoint.from))?);
        uri = hyper::Uri::from_parts(parts).map_err(|_| anyhow!("{} is not a valid URL", endpoint.from))?;
    }
    // Headers: URL credentials, platform, then OTEL_* (traces-specific entries win), then
    // --header (last wins).
    pairs.extend(preset.headers.iter().map(|(k, v)| (k.clone(), v.clone(), format!("--platform {}", preset.name))));
    for var in ["OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS"] {
        if let Some(v) = env.get(var) {
            pairs.extend(parse_otel_headers(var, &v)?.into_iter().map(|(k, v)| (k, v, var.to_string())));
        }
    }
    let mut headers = HeaderMap::new();
    for (k, v, from) in pairs {
        let name =
            HeaderName::from_bytes(k.as_bytes()).map_err(|_| anyhow!("{from}: '{k}' is not a valid header name"))?;
        let value = HeaderValue::from_str(&v)
            .map_err(|_| anyhow!("{from}: the value of '{k}' has characters a header cannot carry"))?;
        headers.insert(name, value);
    }
    if let Some(p) = &a.project {
        let v = HeaderValue::from_str(p).map_err(|_| anyhow!("--project '{p}': characters a header cannot carry"))?;
        headers.insert("x-project-name", v);
    }
    if let Some(e) = &a.experiment {
        let id = experiment_id(e, &uri, a.dry_run)?;
        let v =
            HeaderValue::from_str(&id).map_err(|_| anyhow!("--experiment '{e}': characters a header cannot carry"))?;
        headers.insert("x-mlflow-experiment-id", v);
    }
    for (i, h) in a.headers.iter().enumerate() {
        let (n, v) = parse_header(h, i + 1)?;
        headers.insert(n, v);
    }

    let compression = match pick(&a.compression, "--compression", env, "TRACEBLAST_COMPRESSION")
        .or_else(|| {
            env.get("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION")
                .map(|v| Val { v, from: "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION".into() })
        })
        .or_else(|| {
            env.get("OTEL_EXPORTER_OTLP_COMPRESSION").map(|v| Val { v, from: "OTEL_EXPORTER_OTLP_COMPRESSION".into() })
        }) {
        None => Compression::None,
        Some(Val { v, from }) => match v.trim().to_ascii_lowercase().as_str() {
            "none" | "identity" => Compression::None,
            "gzip" => Compression::Gzip,
            "zstd" => Compression::Zstd,
            _ => bail!("{from} '{v}': expected none, gzip or zstd"),
        },
    };
    if let Some(why) = compression.header().and_then(|enc| platform::refuses_encoding(preset.name, enc)) {
        bail!("--platform {} does not take --compression {}: {why}", preset.name, compression.header().unwrap_or(""));
    }
    // gRPC sets its own content type and grpc-encoding (tonic compresses the message).
    match protocol {
        Protocol::HttpProtobuf => {
            headers.insert(hyper::header::CONTENT_TYPE, HeaderValue::from_static("application/x-protobuf"));
        }
        Protocol::HttpJson => {
            headers.insert(hyper::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        Protocol::Grpc => {}
    }
    if let (Some(enc), true) = (compression.header(), protocol != Protocol::Grpc) {
        headers.insert(hyper::header::CONTENT_ENCODING, HeaderValue::from_static(enc));
    }
    if !headers.contains_key(hyper::header::USER_AGENT) {
        headers.insert(
            hyper::header::USER_AGENT,
            HeaderValue::from_static(concat!("traceblast/", env!("CARGO_PKG_VERSION"))),
        );
    }

    // --stages replaces --rate, --ramp-up and --duration (clap refuses the flags together); a
    // flag among those overrides TRACEBLAST_STAGES, and the variables together are an error.
    let rate_flags = a.rate.is_some() || a.ramp_up.is_some() || a.duration.is_some();
    let stages_given =
        if a.stages.is_none() && rate_flags { None } else { pick(&a.stages, "--stages", env, "TRACEBLAST_STAGES") };
    if let Some(Val { from, .. }) = &stages_given
        && a.stages.is_none()
        && let Some(var) =
            ["TRACEBLAST_RATE", "TRACEBLAST_RAMP_UP", "TRACEBLAST_DURATION"].iter().find(|v| env.get(v).is_some())
    {
        bail!("{from} replaces --rate, --ramp-up and --duration, but {var} is set too: unset one");
    }
    let (rate, rate_in) = match pick(&a.rate, "--rate", env, "TRACEBLAST_RATE") {
        _ if stages_given.is_some() => (Rate::PerSec(10.0), None),
        None => (Rate::PerSec(10.0), None),
        Some(Val { v, .. }) if v.trim().eq_ignore_ascii_case("max") => (Rate::Max, None),
        Some(Val { v, from }) => parse_rate(&v).map_err(|why| anyhow!("{from} '{v}': {why}"))?,
    };
    let timeout = match pick(&a.timeout, "--timeout", env, "TRACEBLAST_TIMEOUT") {
        Some(v) => duration(Some(v), MAX_TIMEOUT)?.expect("given"),
        None => {
            let var = ["OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT"]
                .into_iter()
                .find(|v| env.get(v).is_some());
            match var {
                // The OTel variables are in milliseconds.
                Some(var) => {
                    let ms = env.get(var).expect("found above");
                    ms.trim()
                        .parse()
                        .ok()
                        .map(Duration::from_millis)
                        .filter(|d| *d <= MAX_TIMEOUT)
                        .ok_or_else(|| anyhow!("{var} '{ms}': expected milliseconds, at most 3600000"))?
                }
                None => Duration::from_secs(10),
            }
        }
    };
    if timeout.is_zero() {
        bail!("--timeout must be more than 0");
    }
    let http2 = a.http2 || bool_env(env, "TRACEBLAST_HTTP2")? || protocol == Protocol::Grpc;
    let connections = bounded(
        pick(&a.connections, "--connections", env, "TRACEBLAST_CONNECTIONS"),
        if http2 { 2 } else { 64 },
        MAX_CONNECTIONS,
    )? as usize;
    // Half the cores: the sender shares the machine with preparation, the pacer and often the
    // receiver under test. More sender threads than needed cost CPU per request (measured on 2
    // cores at --rate max: 39 us per request with 2 threads, 24 us with 1, for more throughput).
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    let threads =
        bounded(pick(&a.threads, "--threads", env, "TRACEBLAST_THREADS"), (cores as u64 / 2).clamp(1, 4), MAX_THREADS)?;
    let max_in_flight =
        bounded(pick(&a.max_in_flight, "--max-in-flight", env, "TRACEBLAST_MAX_IN_FLIGHT"), 256, MAX_IN_FLIGHT)?
            as usize;
    let retries = match pick(&a.retries, "--retries", env, "TRACEBLAST_RETRIES") {
        None => 0,
        Some(Val { v, from }) => v
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|r| *r <= 100)
            .ok_or_else(|| anyhow!("{from} '{v}': expected 0 to 100"))?,
    };
    let batch = bounded(pick(&a.batch, "--batch", env, "TRACEBLAST_BATCH"), 1, MAX_BATCH)?;
    let requests = pick(&a.requests, "--requests", env, "TRACEBLAST_REQUESTS")
        .map(|v| bounded(Some(v), 0, MAX_REQUESTS))
        .transpose()?;
    let mut dur = match stages_given {
        Some(_) => None,
        None => duration(pick(&a.duration, "--duration", env, "TRACEBLAST_DURATION"), MAX_DURATION)?,
    };
    if dur.is_some_and(|d| d.is_zero()) {
        bail!("--duration must be more than 0");
    }
    let (stages, stages_in) = match stages_given {
        None => (Vec::new(), Vec::new()),
        Some(Val { v, from }) => {
            let parsed = super::profile::parse_stages(&v, MAX_DURATION).map_err(|why| anyhow!("{from}: {why}"))?;
            dur = Some(parsed.0.iter().map(|s| s.duration).sum());
            parsed
        }
    };
    let arrivals = match pick(&a.arrivals, "--arrivals", env, "TRACEBLAST_ARRIVALS") {
        None => crate::replay::schedule::Arrivals::Uniform,
        Some(Val { v, from }) => {
            super::profile::parse_arrivals(&v, a.seed.unwrap_or(1)).map_err(|why| anyhow!("{from} '{v}': {why}"))?
        }
    };
    let loops = match pick(&a.loops, "--loops", env, "TRACEBLAST_LOOPS") {
        None if requests.is_some() || dur.is_some() => None,
        None => Some(1),
        Some(Val { v, .. }) if v.trim().eq_ignore_ascii_case("inf") => None,
        Some(v) => Some(bounded(Some(v), 1, MAX_LOOPS)?),
    };
    let ramp_up = match stages.is_empty() {
        true => duration(pick(&a.ramp_up, "--ramp-up", env, "TRACEBLAST_RAMP_UP"), MAX_DURATION)?.unwrap_or_default(),
        false => Duration::ZERO,
    };
    if !ramp_up.is_zero() && rate == Rate::Max {
        bail!("--ramp-up needs a numeric --rate, not max");
    }
    if arrivals != crate::replay::schedule::Arrivals::Uniform && rate == Rate::Max && stages.is_empty() {
        bail!("--arrivals poisson needs a numeric --rate or --stages: --rate max has no schedule");
    }
    let min_success = match pick(&a.min_success, "--min-success", env, "TRACEBLAST_MIN_SUCCESS") {
        None => None,
        Some(Val { v, from }) => Some(
            v.trim()
                .trim_end_matches('%')
                .parse::<f64>()
                .ok()
                .filter(|p| (0.0..=100.0).contains(p))
                .ok_or_else(|| anyhow!("{from} '{v}': expected a percentage between 0 and 100"))?,
        ),
    };
    let shard = a.shard.as_deref().map(|s| super::parse_shard("--shard", s)).transpose()?;
    let timing = timing(a, batch)?;

    let headers_display = display_headers(&headers, a.show_headers);
    let report = output(&a.report, "--report", env, "TRACEBLAST_REPORT")?;
    let mut plan = ReplayPlan {
        corpus: a.corpus.clone(),
        endpoint_display: redact_url(&endpoint.v),
        endpoint_appended: appended,
        target: Target {
            uri,
            protocol,
            headers,
            http2,
            insecure: a.insecure,
            timeout,
            retries,
            connections,
            compression,
        },
        headers_display,
        platform: preset.name.to_string(),
        rate: match stages.iter().map(|s| s.target).reduce(f64::max) {
            // The highest target sizes what is prepared ahead (resolve_rate redoes this once
            // targets in other units are converted).
            Some(peak) => Rate::PerSec(peak.max(0.001)),
            None => rate,
        },
        ramp_up,
        stages,
        stages_in,
        arrivals,
        timing,
        recorded: None,
        max_in_flight,
        threads: threads as usize,
        stop: Stop { requests, duration: dur, loops },
        compression,
        batch: batch as u32,
        rewrite: !a.no_rewrite,
        id_key: pick(&a.id_key, "--id-key", env, "TRACEBLAST_ID_KEY").map(parse_id_key).transpose()?,
        shard,
        html: output(&a.html, "--html", env, "TRACEBLAST_HTML")?,
        sent: match (&report, a.no_sent) {
            (Some(r), false) => {
                let path = crate::sent::sidecar_of(r.path());
                Some(Output::check(&path).map_err(|e| anyhow!("the sent log beside --report: {e}"))?)
            }
            _ => None,
        },
        verify: verify_settings(a, report.is_some(), a.no_sent)?,
        rate_in,
        report,
        min_success,
        quiet: a.quiet,
        progress_interval: duration(
            pick(&a.progress_interval, "--progress-interval", env, "TRACEBLAST_PROGRESS_INTERVAL"),
            crate::units::DAY,
        )?
        .unwrap_or(crate::progress::DEFAULT_INTERVAL),
        dry_run: a.dry_run,
        settings: None,
    };
    // Last: every lookup above is recorded by now.
    plan.settings = env.applied();
    Ok(plan)
}

/// The headers as output may show them: the values traceblast sets itself (content type and
/// encoding, user agent) and the platforms' routing headers (which project or experiment the
/// spans go to: `verify` reads back from there) as they are; every other value the user or a
/// platform preset gave as `<redacted>` — with `--show-headers`, those that do not look secret
/// are shown.
fn display_headers(headers: &HeaderMap, show: bool) -> Vec<(String, String)> {
    let own = [
        hyper::header::CONTENT_TYPE,
        hyper::header::CONTENT_ENCODING,
        hyper::header::USER_AGENT,
        HeaderName::from_static("x-project-name"),
        HeaderName::from_static("x-mlflow-experiment-id"),
        HeaderName::from_static("x-bt-parent"),
        HeaderName::from_static("langsmith-project"),
    ];
    headers
        .iter()
        .map(|(k, v)| {
            let visible = (own.contains(k) && !v.as_bytes().is_empty()) || (show && !is_secret_header(k.as_str()));
            let shown = if visible { v.to_str().unwrap_or("<binary>").to_string() } else { "<redacted>".into() };
            (k.as_str().to_string(), shown)
        })
        .collect()
}

/// The log level from `--log-level` or `LOG_LEVEL`.
pub fn log_level(a: &ReplayArgs, env: &Env) -> Result<log::LevelFilter> {
    match pick(&a.log_level, "--log-level", env, "LOG_LEVEL") {
        None => Ok(log::LevelFilter::Info),
        Some(Val { v, from }) => match v.trim().to_ascii_lowercase().as_str() {
            "error" => Ok(log::LevelFilter::Error),
            "warning" | "warn" => Ok(log::LevelFilter::Warn),
            "info" => Ok(log::LevelFilter::Info),
            "debug" => Ok(log::LevelFilter::Debug),
            _ => bail!("{from} '{v}': expected error, warning, info or debug"),
        },
    }
}

/// Fastest and slowest `--speed`.
pub const SPEED_RANGE: std::ops::RangeInclusive<f64> = 0.001..=1000.0;

/// `--timing` and `--speed`: recorded timing replaces the rate profile, so the flags that
/// shape one are refused with it (each record goes out alone, at its own time).
fn timing(a: &ReplayArgs, batch: u64) -> Result<crate::replay::Timing> {
    let recorded = a.timing.as_deref().is_some_and(|t| t.eq_ignore_ascii_case("recorded"));
    if !recorded {
        if let Some(s) = &a.speed {
            bail!("--speed {s} needs --timing recorded (a gen --shape sdk corpus's own timeline)");
        }
        return Ok(crate::replay::Timing::Rate);
    }
    let clash = [
        ("--rate", a.rate.is_some()),
        ("--stages", a.stages.is_some()),
        ("--ramp-up", a.ramp_up.is_some()),
        ("--arrivals", a.arrivals.is_some()),
        ("--batch", batch != 1),
    ];
    if let Some((flag, _)) = clash.iter().find(|c| c.1) {
        bail!("{flag} does not go with --timing recorded: each record goes out at its recorded time");
    }
    if let Some(s) = &a.shard {
        bail!(
            "--shard {s} does not go with --timing recorded: a timeline is one application's traffic; to scale out, replay the whole corpus from every machine (each run remaps IDs with its own key) or gen one timeline per machine with its own --seed"
        );
    }
    let speed = match &a.speed {
        None => 1.0,
        Some(v) => {
            v.trim().trim_end_matches(['x', 'X']).parse::<f64>().ok().filter(|s| SPEED_RANGE.contains(s)).ok_or_else(
                || anyhow!("--speed '{v}': expected a factor from 0.001 to 1000 (2 plays the timeline twice as fast)"),
            )?
        }
    };
    Ok(crate::replay::Timing::Recorded { speed })
}

#[cfg(test)]
mod tests;
