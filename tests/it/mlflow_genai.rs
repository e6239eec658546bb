//! A real MLflow reads generated traces as GenAI: when storing OTLP spans it sets a span type
//! from `gen_ai.operation.name` and a `mlflow.chat.tokenUsage` from `gen_ai.usage.*`
//! (`mlflow/tracing/otel/translation/genai_semconv.py`), and rolls the usage up into the
//! trace's `mlflow.trace.tokenUsage`. For each `--semconv`, a corpus holding every scenario is
//! replayed into MLflow, read back through its traces API (`batchGet`, as `verify` does), and
//! compared with the corpus's own spans: per span type, the exact token counts of each span,
//! and per trace, the totals.
//!
//! What MLflow 3.17.2 did, beyond the source's map: `retrieval` and spans without an operation
//! get no `mlflow.spanType` at all; the cache-write count is read under both names (genai-dev's
//! `cache_write`, and v1.41's `cache_creation` when that is absent); reasoning tokens are not
//! mapped; `total_tokens` is input + output, only when both are there.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
use traceblast::otlp;

use crate::real_servers::replay_within;
use crate::servers::platform::{Launched, Platform, launch_or_skip};
use crate::util::*;

/// Token counts `[input, output, total, cache read, cache write]`, absent as -1.
type Usage = [i64; 5];
/// Per MLflow span type (`-` when MLflow stored none), the sorted usages of its spans.
type Counts = BTreeMap<String, Vec<Usage>>;
/// Per trace, MLflow's trace-level usage, sorted (replay gives each trace a new ID).
type Totals = Vec<Usage>;

/// One trace's spans: span ID → (parent span ID, usage).
type Spans = HashMap<Vec<u8>, (Vec<u8>, Usage)>;

const NONE: Usage = [-1; 5];

/// What MLflow 3.17.2 makes of each operation.
fn type_of(op: &str) -> &'static str {
    match op {
        "chat" => "CHAT_MODEL",
        "embeddings" => "EMBEDDING",
        "execute_tool" => "TOOL",
        "invoke_agent" => "AGENT",
        // Not in MLflow's map (`retrieval`), or no operation (HTTP spans): no span type stored.
        _ => "-",
    }
}

/// The usage MLflow should derive from a span's attributes (`_get_token_usage`): none unless
/// there is an input or output count; the total when both are there; the cache-write count
/// from `cache_write`, else from `cache_creation`.
fn usage_of(int: impl Fn(&str) -> i64) -> Usage {
    let (input, output) = (int("gen_ai.usage.input_tokens"), int("gen_ai.usage.output_tokens"));
    if input < 0 && output < 0 {
        return NONE;
    }
    let total = if input >= 0 && output >= 0 { input + output } else { -1 };
    let write = match int("gen_ai.usage.cache_write.input_tokens") {
        -1 => int("gen_ai.usage.cache_creation.input_tokens"),
        w => w,
    };
    [input, output, total, int("gen_ai.usage.cache_read.input_tokens"), write]
}

/// MLflow's trace-level roll-up (`aggregate_usage_from_span_nodes`): the sum over spans with a
/// usage and no ancestor with one; input, output and total count absent ones as 0, the cache
/// counts are there only when some span has them.
fn roll_up(spans: &Spans) -> Usage {
    let mut sum = [0, 0, 0, -1, -1];
    for (parent, u) in spans.values().filter(|(_, u)| *u != NONE) {
        let mut at = parent;
        let mut covered = false;
        while let Some((up, pu)) = spans.get(at) {
            covered |= *pu != NONE;
            at = up;
        }
        if covered {
            continue;
        }
        for (i, v) in u.iter().enumerate() {
            match (i, *v) {
                (0..=2, v) => sum[i] += v.max(0),
                (_, -1) => {}
                (_, v) => sum[i] = sum[i].max(0) + v,
            }
        }
    }
    sum
}

/// The per-type usages and per-trace totals MLflow should show for the corpus at `path`, from
/// decoding it.
fn expected(path: &Path) -> (Counts, Totals) {
    let mut counts = Counts::new();
    let mut traces: HashMap<Vec<u8>, Spans> = HashMap::new();
    for s in corpus_spans(path) {
        let u = usage_of(|k: &str| int_attr(&s, k));
        let kind = type_of(otlp::find_str(&s.attributes, "gen_ai.operation.name").unwrap_or(""));
        counts.entry(kind.to_string()).or_default().push(u);
        traces.entry(s.trace_id.clone()).or_default().insert(s.span_id.clone(), (s.parent_span_id.clone(), u));
    }
    counts.values_mut().for_each(|v| v.sort());
    let mut totals: Totals = traces.values().map(roll_up).collect();
    totals.sort();
    (counts, totals)
}

/// An integer from proto3 JSON (an int64 may come as a string).
fn json_int(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

/// A usage from MLflow's keys, in a map of key → count.
fn usage_from(get: impl Fn(&str) -> Option<i64>) -> Usage {
    ["input_tokens", "output_tokens", "total_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"]
        .map(|k| get(k).unwrap_or(-1))
}

/// The per-type usages and per-trace totals MLflow stored in `experiment`: its traces listed,
/// then read with their spans through `batchGet`, the endpoint `verify` reads back from.
fn stored(mf: &Launched, experiment: &str) -> (Counts, Totals) {
    let list = mf.get_json(&format!("/api/2.0/mlflow/traces?experiment_ids={experiment}&max_results=100"));
    assert!(list["next_page_token"].is_null(), "one page of traces: {}", list["next_page_token"]);
    let mut q: Vec<String> = list["traces"]
        .as_array()
        .expect("traces")
        .iter()
        .map(|t| format!("trace_ids={}", t["request_id"].as_str().unwrap()))
        .collect();
    q.push(format!("experiment_ids={experiment}"));
    let v = mf.get_json(&format!("/api/3.0/mlflow/traces/batchGet?{}", q.join("&")));
    let (mut counts, mut totals) = (Counts::new(), Totals::new());
    for t in v["traces"].as_array().unwrap_or_else(|| panic!("traces {q:?}: {v}")) {
        let usage = t["trace_info"]["trace_metadata"]["mlflow.trace.tokenUsage"].as_str();
        let usage: Value = serde_json::from_str(usage.unwrap_or("{}")).unwrap();
        totals.push(usage_from(|k| json_int(&usage[k])));
        for s in t["spans"].as_array().expect("spans") {
            // OTLP JSON attributes: [{"key": …, "value": {"string_value" | "kvlist_value": …}}].
            let attrs = s["attributes"].as_array().expect("attributes");
            let attr = |k: &str| attrs.iter().find(|kv| kv["key"] == k).map(|kv| &kv["value"]);
            let kind = attr("mlflow.spanType").map_or("-", |v| v["string_value"].as_str().unwrap());
            let u = match attr("mlflow.chat.tokenUsage") {
                None => NONE,
                Some(v) => {
                    let kv = v["kvlist_value"]["values"].as_array().expect("a map of counts");
                    usage_from(|k| kv.iter().find(|e| e["key"] == k).and_then(|e| json_int(&e["value"]["int_value"])))
                }
            };
            counts.entry(kind.to_string()).or_default().push(u);
        }
    }
    counts.values_mut().for_each(|v| v.sort());
    totals.sort();
    (counts, totals)
}

#[test]
fn mlflow_types_every_genai_operation_with_its_token_usage() {
    let test = "mlflow_genai::mlflow_types_every_genai_operation_with_its_token_usage";
    let started = Instant::now();
    let Some(mf) = launch_or_skip(Platform::Mlflow, test) else { return };
    let dir = tempfile::tempdir().unwrap();
    for semconv in ["1.41", "genai-dev"] {
        let c = genai_corpus(dir.path(), semconv);
        let experiment = format!("semconv-{}", semconv.replace('.', "-"));
        // MLflow's first OTLP request after start takes seconds (it sets up trace ingestion
        // lazily): a long --timeout. --verify reads back until every acknowledged trace is there.
        let args = ["--platform", "mlflow", "--experiment", &experiment, "--rate", "20", "--timeout", "60s"];
        let args = [&args[..], &["--verify", "--verify-wait", "30s"]].concat();
        let r = replay_within(dir.path(), &c, &mf.url("/v1/traces"), &args, Duration::from_secs(75));
        r.assert_accounted();
        let v = &r.report["verify"];
        assert_eq!((v["missing"].as_u64(), v["stored"].as_u64()), (Some(0), Some(8)), "{semconv}: {v}");
        let headers = r.report["run"]["headers"].as_array().unwrap();
        let id = headers.iter().find(|h| h[0] == "x-mlflow-experiment-id").expect("the experiment's ID")[1]
            .as_str()
            .unwrap();
        let (want, want_totals) = expected(&c);
        let (got, got_totals) = stored(&mf, id);
        assert_eq!(got_totals.len(), 8, "{semconv}: the experiment holds the 8 traces sent");
        for kind in ["CHAT_MODEL", "EMBEDDING", "TOOL", "AGENT", "-"] {
            assert!(want.contains_key(kind), "{semconv}: the corpus has {kind} spans");
        }
        // Unlike the source read at 07ab5f9 suggested, both names of the cache-write count are
        // read: each --semconv's chat spans carry one, and MLflow stores it.
        assert!(got["CHAT_MODEL"].iter().any(|u| u[4] > 0), "{semconv}: cache writes stored: {:?}", got["CHAT_MODEL"]);
        assert_eq!(got, want, "{semconv}: MLflow's span types and token usage per span == the corpus's");
        assert_eq!(got_totals, want_totals, "{semconv}: MLflow's token usage per trace == the corpus's");
    }
    assert!(started.elapsed() < Duration::from_secs(90), "took {:?} (with MLflow's start)", started.elapsed());
}
