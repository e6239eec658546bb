//! `gen --semconv`: every attribute of every generated span, event and resource is one the
//! pinned registry defines, with the type it defines, and not a deprecated one; the
//! `schema_url` and the corpus metadata name the version. The registries are derived from the
//! conventions' YAML by `scripts/semconv-registry.py` (see `fixtures/semconv/README.md`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use traceblast::corpus::Corpus;
use traceblast::otlp::{self, KeyValue, any_value::Value as V};

use crate::util::*;

/// Attributes of traceblast's own namespace, which no registry defines.
const OWN: &[&str] = &["traceblast.scenario"];

/// `key → (type, stability)` of `fixtures/semconv/NAME.tsv`.
fn registry(name: &str) -> HashMap<String, (String, String)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("fixtures/semconv/{name}.tsv"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[0].to_string(), (f[1].to_string(), f[2].to_string()))
        })
        .collect()
}

/// Whether an OTLP value has registry type `ty`. `any` attributes are recorded as JSON strings,
/// which the conventions allow on spans.
fn has_type(v: &V, ty: &str) -> bool {
    match (ty, v) {
        ("string" | "enum:string" | "any", V::StringValue(_)) => true,
        ("int" | "enum:int", V::IntValue(_)) => true,
        ("double", V::DoubleValue(_)) => true,
        ("boolean", V::BoolValue(_)) => true,
        ("string[]", V::ArrayValue(a)) => a.values.iter().all(|x| matches!(x.value, Some(V::StringValue(_)))),
        _ => false,
    }
}

/// Every record body of the corpus at `path` (a plain zstd stream of varint-delimited records;
/// the decoder skips the index frame).
fn bodies(path: &Path) -> Vec<Vec<u8>> {
    let data = zstd::decode_all(std::fs::File::open(path).unwrap()).unwrap();
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < data.len() {
        let (len, n) = traceblast::corpus::reader::read_varint(&data[pos..]).unwrap();
        out.push(data[pos + n..pos + n + len as usize].to_vec());
        pos += n + len as usize;
    }
    assert_eq!(out.len() as u64, Corpus::open(path).unwrap().index.meta.totals.records);
    out
}

/// Checks one attribute list; returns the problems found, counting each key once.
fn check(attrs: &[KeyValue], reg: &HashMap<String, (String, String)>, seen: &mut BTreeMap<String, String>) {
    for kv in attrs {
        if OWN.contains(&kv.key.as_str()) || seen.contains_key(&kv.key) {
            continue;
        }
        let v = kv.value.as_ref().and_then(|v| v.value.as_ref()).expect("a value");
        let verdict = match reg.get(&kv.key) {
            None => "not in the registry".to_string(),
            Some((ty, _)) if !has_type(v, ty) => format!("registry type {ty}, sent {v:?}"),
            Some((_, status)) if status == "deprecated" => "deprecated".to_string(),
            Some(_) => String::new(),
        };
        seen.insert(kv.key.clone(), verdict);
    }
}

fn gen_all_scenarios(dir: &Path, semconv: &str) -> PathBuf {
    let out = dir.join(format!("{semconv}.zst"));
    // 40 traces of the default mix hold every scenario, and with them every span kind.
    let o = run(&["gen", "-q", "--count", "40", "--semconv", semconv, "-o", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    out
}

#[test]
fn every_generated_attribute_is_defined_by_the_pinned_registry_with_its_type() {
    let dir = tempfile::tempdir().unwrap();
    for (semconv, url) in [
        ("1.41", "https://opentelemetry.io/schemas/1.41.1"),
        ("genai-dev", "https://opentelemetry.io/schemas/gen-ai-dev/1.42.0-dev"),
    ] {
        let reg = registry(semconv);
        let c = gen_all_scenarios(dir.path(), semconv);
        let mut seen = BTreeMap::new();
        let mut ops = BTreeSet::new();
        for body in bodies(&c) {
            for rs in otlp::decode_request(&body).unwrap().resource_spans {
                assert_eq!(rs.schema_url, url, "{semconv}: resource schema_url");
                check(&rs.resource.as_ref().unwrap().attributes, &reg, &mut seen);
                for ss in &rs.scope_spans {
                    assert_eq!(ss.schema_url, url, "{semconv}: scope schema_url");
                    for s in &ss.spans {
                        check(&s.attributes, &reg, &mut seen);
                        s.events.iter().for_each(|e| check(&e.attributes, &reg, &mut seen));
                        ops.extend(otlp::find_str(&s.attributes, "gen_ai.operation.name").map(str::to_string));
                    }
                }
            }
        }
        let bad: Vec<_> = seen.iter().filter(|(_, v)| !v.is_empty()).collect();
        assert!(bad.is_empty(), "{semconv}: {bad:?}");
        let want = ["chat", "embeddings", "execute_tool", "invoke_agent", "retrieval"];
        assert_eq!(ops.iter().map(String::as_str).collect::<Vec<_>>(), want, "{semconv}: every operation checked");
        for key in [
            "gen_ai.usage.cache_read.input_tokens",
            "gen_ai.usage.reasoning.output_tokens",
            "gen_ai.tool.definitions",
            "gen_ai.request.top_k",
            "gen_ai.retrieval.query.text",
            "gen_ai.retrieval.documents",
        ] {
            assert!(seen.contains_key(key), "{semconv}: {key} generated");
        }
        let write = if semconv == "1.41" { "cache_creation" } else { "cache_write" };
        assert!(seen.contains_key(&format!("gen_ai.usage.{write}.input_tokens")), "{semconv}: {seen:?}");
        let meta = Corpus::open(&c).unwrap().index.meta;
        assert_eq!((meta.semconv.as_deref(), meta.schema_url.as_deref()), (Some(semconv), Some(url)));
    }
}

#[test]
fn the_two_versions_differ_only_where_the_registries_do() {
    let dir = tempfile::tempdir().unwrap();
    let keys = |semconv: &str| -> BTreeMap<String, &'static str> {
        let mut out = BTreeMap::new();
        for body in bodies(&gen_all_scenarios(dir.path(), semconv)) {
            let req = otlp::decode_request(&body).unwrap();
            for s in req.resource_spans.iter().flat_map(|r| &r.scope_spans).flat_map(|s| &s.spans) {
                for kv in &s.attributes {
                    let ty = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                        Some(V::IntValue(_)) => "int",
                        Some(V::DoubleValue(_)) => "double",
                        _ => "other",
                    };
                    out.insert(kv.key.clone(), ty);
                }
            }
        }
        out
    };
    let (old, new) = (keys("1.41"), keys("genai-dev"));
    let differ: Vec<_> = old.keys().chain(new.keys()).filter(|k| old.get(*k) != new.get(*k)).collect();
    let expected =
        ["gen_ai.request.top_k", "gen_ai.usage.cache_creation.input_tokens", "gen_ai.usage.cache_write.input_tokens"];
    let differ: BTreeSet<&str> = differ.into_iter().map(String::as_str).collect();
    assert_eq!(differ, expected.into_iter().collect(), "old {old:?}");
    assert_eq!((old["gen_ai.request.top_k"], new["gen_ai.request.top_k"]), ("double", "int"));
}

#[test]
fn an_unknown_semconv_is_one_line_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("never.zst");
    for bad in ["1.37", "genai-0.1", ""] {
        let o = run(&["gen", "-q", "--count", "5", "--semconv", bad, "-o", out.to_str().unwrap()]);
        assert_bad_input(&o, &[&format!("--semconv '{bad}'"), "1.41, genai-dev"]);
        assert!(!out.exists());
    }
}
