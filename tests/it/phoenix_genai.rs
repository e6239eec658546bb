//! A real Arize Phoenix reads generated traces as GenAI: it converts `gen_ai.*` to its
//! OpenInference span kinds and token counts (`phoenix/trace/gen_ai/conversion.py`). For each
//! `--semconv`, a corpus holding every scenario is replayed into Phoenix, read back through its
//! span API, and compared with the corpus's own spans: per operation, the kind Phoenix gave and
//! the exact token counts it stored.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use traceblast::otlp;

use crate::real_servers::replay_within;
use crate::servers::platform::{Launched, Platform, launch_or_skip};
use crate::util::*;

/// Per Phoenix span kind, the sorted token counts of its spans:
/// `(prompt, completion, cache read, cache write)`, absent counts as -1.
type Counts = BTreeMap<String, Vec<[i64; 4]>>;

/// What Phoenix 20.26.1 makes of each operation (`_infer_span_kind`).
fn kind_of(op: &str) -> &'static str {
    match op {
        "chat" => "LLM",
        "execute_tool" => "TOOL",
        "invoke_agent" => "AGENT",
        "retrieval" => "RETRIEVER",
        "embeddings" => "EMBEDDING",
        _ => "UNKNOWN",
    }
}

/// The counts Phoenix should show for the corpus at `path`, from decoding it. Phoenix maps the
/// cache-write count only from v1.41's `gen_ai.usage.cache_creation.input_tokens`.
fn expected(path: &Path) -> Counts {
    let mut out = Counts::new();
    for s in corpus_spans(path) {
        let int = |k: &str| int_attr(&s, k);
        let kind = kind_of(otlp::find_str(&s.attributes, "gen_ai.operation.name").unwrap_or(""));
        out.entry(kind.to_string()).or_default().push([
            int("gen_ai.usage.input_tokens"),
            int("gen_ai.usage.output_tokens"),
            int("gen_ai.usage.cache_read.input_tokens"),
            int("gen_ai.usage.cache_creation.input_tokens"),
        ]);
    }
    out.values_mut().for_each(|v| v.sort());
    out
}

/// The counts Phoenix stored in `project`.
fn stored(px: &Launched, project: &str) -> Counts {
    let page = px.get_json(&format!("/v1/projects/{project}/spans?limit=1000"));
    assert!(page["next_cursor"].is_null(), "one page of spans: {}", page["next_cursor"]);
    let mut out = Counts::new();
    for s in page["data"].as_array().expect("spans") {
        let a = &s["attributes"];
        let int = |k: &str| a[k].as_i64().unwrap_or(-1);
        out.entry(s["span_kind"].as_str().unwrap().to_string()).or_default().push([
            int("llm.token_count.prompt"),
            int("llm.token_count.completion"),
            int("llm.token_count.prompt_details.cache_read"),
            int("llm.token_count.prompt_details.cache_write"),
        ]);
    }
    out.values_mut().for_each(|v| v.sort());
    out
}

#[test]
fn phoenix_classifies_every_genai_operation_with_its_token_counts() {
    let test = "phoenix_genai::phoenix_classifies_every_genai_operation_with_its_token_counts";
    let Some(px) = launch_or_skip(Platform::Phoenix, test) else { return };
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    for semconv in ["1.41", "genai-dev"] {
        let c = genai_corpus(dir.path(), semconv);
        let project = format!("semconv-{}", semconv.replace('.', "-"));
        // --verify waits (up to --verify-wait) until Phoenix has stored every acknowledged span.
        let args = ["--rate", "20", "--project", &project, "--verify", "--verify-wait", "60s"];
        let r = replay_within(dir.path(), &c, &px.url("/v1/traces"), &args, Duration::from_secs(90));
        r.assert_accounted();
        let v = &r.report["verify"];
        assert_eq!((v["missing"].as_u64(), v["stored"].as_u64()), (Some(0), Some(8)), "{semconv}: {v}");
        let want = expected(&c);
        let got = stored(&px, &project);
        for kind in ["LLM", "TOOL", "AGENT", "RETRIEVER", "EMBEDDING", "UNKNOWN"] {
            assert!(want.contains_key(kind), "{semconv}: the corpus has {kind} spans");
        }
        if semconv == "genai-dev" {
            // Phoenix knows only v1.41's name for the cache-write count: genai-dev's is not read.
            assert!(got["LLM"].iter().all(|c| c[3] == -1), "{semconv}: no cache write mapped");
            let sent: Vec<_> = want["LLM"].iter().map(|c| c[3]).collect();
            assert!(sent.iter().all(|&w| w == -1), "cache_creation is not sent under genai-dev");
        }
        assert_eq!(got, want, "{semconv}: Phoenix's span kinds and token counts == the corpus's");
    }
    assert!(started.elapsed() < Duration::from_secs(60), "took {:?}", started.elapsed());
}
