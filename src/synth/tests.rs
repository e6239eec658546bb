//! Synthesis tests on the encoded output: structure, semantic conventions, determinism and the
//! seed's per-scenario shape.

use std::collections::{HashMap, HashSet};

use super::*;
use crate::encode::{Group, encode_group};
use crate::otlp::{self, SpanExt as _, any_value::Value as V};
use crate::scenario::{Mix, ScenarioSet};

/// Encodes trace `i` of a single-scenario corpus and decodes it back with prost.
fn decoded(set: &ScenarioSet, scenario: usize, seed: u64, i: u64) -> (Trace<'_>, otlp::ExportTraceServiceRequest) {
    let mix: &'static Mix = Box::leak(Box::new(Mix::uniform(&[scenario])));
    let synth = Synth::new(set, mix, seed);
    let mut t = Trace::default();
    synth.trace(i, &mut t);
    let mut g = Group::default();
    encode_group(std::slice::from_ref(&t), i, 64 << 20, &mut g, &mut Vec::new()).unwrap();
    assert_eq!(g.records.len(), 1);
    let (len, n) = crate::corpus::reader::read_varint(&g.bytes).unwrap();
    let req = otlp::decode_request(&g.bytes[n..n + len as usize]).unwrap();
    (t, req)
}

fn all_spans(req: &otlp::ExportTraceServiceRequest) -> Vec<(&otlp::ResourceSpans, &otlp::Span)> {
    req.resource_spans
        .iter()
        .flat_map(|rs| rs.scope_spans.iter().flat_map(move |ss| ss.spans.iter().map(move |s| (rs, s))))
        .collect()
}

fn json_attr(s: &otlp::Span, key: &str) -> Option<serde_json::Value> {
    s.attr_str(key)
        .map(|v| serde_json::from_str(v).unwrap_or_else(|e| panic!("{key} on '{}' is not JSON: {e}", s.name)))
}

/// Checks every structural and semantic-convention rule on one decoded trace.
fn check_trace(scenario: &str, req: &otlp::ExportTraceServiceRequest) {
    let spans = all_spans(req);
    let ids: HashSet<&[u8]> = spans.iter().map(|(_, s)| s.span_id.as_slice()).collect();
    assert_eq!(ids.len(), spans.len(), "span IDs unique");
    let by_id: HashMap<&[u8], &otlp::Span> = spans.iter().map(|(_, s)| (s.span_id.as_slice(), *s)).collect();
    let trace_id = &spans[0].1.trace_id;
    let roots: Vec<_> = spans.iter().filter(|(_, s)| s.parent_span_id.is_empty()).collect();
    assert_eq!(roots.len(), 1, "one root");
    let root = roots[0].1;
    assert_eq!(root.attr_str("traceblast.scenario"), Some(scenario));
    assert_eq!(root.end_time_unix_nano, EPOCH_NS, "traces end at the epoch");
    for (rs, s) in &spans {
        assert_eq!(&s.trace_id, trace_id);
        assert_eq!(s.trace_id.len(), 16);
        assert_eq!(s.span_id.len(), 8);
        assert!(s.start_time_unix_nano <= s.end_time_unix_nano, "{}", s.name);
        if !s.parent_span_id.is_empty() {
            let p = by_id.get(s.parent_span_id.as_slice()).unwrap_or_else(|| panic!("parent of {} missing", s.name));
            assert!(
                p.start_time_unix_nano <= s.start_time_unix_nano && s.end_time_unix_nano <= p.end_time_unix_nano,
                "{} inside {}",
                s.name,
                p.name
            );
        }
        assert!(s.attributes.iter().all(|kv| kv.key != "gen_ai.system"), "deprecated gen_ai.system on {}", s.name);
        let res = rs.resource.as_ref().unwrap();
        for key in [
            "service.name",
            "service.version",
            "deployment.environment.name",
            "telemetry.sdk.name",
            "telemetry.sdk.language",
            "telemetry.sdk.version",
        ] {
            assert!(otlp::find_str(&res.attributes, key).is_some(), "resource lacks {key}");
        }
        let scope = rs.scope_spans[0].scope.as_ref().unwrap();
        assert!(!scope.name.is_empty() && !scope.version.is_empty());
        let status = s.status.as_ref().unwrap();
        if status.code == 2 {
            assert!(s.attr_str("error.type").is_some(), "error.type on failed {}", s.name);
            let ev = s.events.iter().find(|e| e.name == "exception").expect("exception event");
            assert!(otlp::find_str(&ev.attributes, "exception.stacktrace").is_some());
            assert!(!status.message.is_empty());
        }
        check_semconv(s);
    }
}

fn check_semconv(s: &otlp::Span) {
    let Some(op) = s.attr_str("gen_ai.operation.name") else { return };
    match op {
        "chat" | "embeddings" => {
            let model = s.attr_str("gen_ai.request.model").expect("request.model");
            assert_eq!(s.name, format!("{op} {model}"));
            assert_eq!(s.kind, 3, "inference spans are CLIENT");
            assert!(s.attr_str("gen_ai.provider.name").is_some());
            assert!(s.attr_int("gen_ai.usage.input_tokens").unwrap() > 0);
            if op == "chat" {
                check_messages(s);
            }
        }
        "execute_tool" => {
            let tool = s.attr_str("gen_ai.tool.name").unwrap();
            assert_eq!(s.name, format!("execute_tool {tool}"));
            assert_eq!(s.kind, 1);
            assert!(s.attr_str("gen_ai.tool.call.id").unwrap().starts_with("call_"));
            assert_eq!(s.attr_str("gen_ai.tool.type"), Some("function"));
            json_attr(s, "gen_ai.tool.call.arguments").unwrap();
        }
        "invoke_agent" => {
            let agent = s.attr_str("gen_ai.agent.name").unwrap();
            assert_eq!(s.name, format!("invoke_agent {agent}"));
            assert!(s.attr_str("gen_ai.agent.id").unwrap().starts_with("asst_"));
            assert!(s.attr_str("gen_ai.conversation.id").unwrap().starts_with("conv_"));
        }
        "retrieval" => {
            let ds = s.attr_str("gen_ai.data_source.id").unwrap();
            assert_eq!(s.name, format!("retrieval {ds}"));
            if s.status.as_ref().unwrap().code != 2 {
                let docs = json_attr(s, "gen_ai.retrieval.documents").unwrap();
                assert!(docs.as_array().unwrap().iter().all(|d| d["id"].is_string() && d["score"].is_number()));
            }
        }
        other => panic!("unexpected operation {other}"),
    }
}

fn check_messages(s: &otlp::Span) {
    let sys = json_attr(s, "gen_ai.system_instructions").unwrap();
    assert_eq!(sys[0]["type"], "text");
    let input = json_attr(s, "gen_ai.input.messages").unwrap();
    let input = input.as_array().unwrap();
    assert_eq!(input[0]["role"], "user");
    for m in input {
        let role = m["role"].as_str().unwrap();
        assert!(["user", "assistant", "tool"].contains(&role), "{role}");
        for p in m["parts"].as_array().unwrap() {
            match p["type"].as_str().unwrap() {
                "text" => assert!(p["content"].is_string()),
                "tool_call" => assert!(p["id"].is_string() && p["name"].is_string() && p["arguments"].is_object()),
                "tool_call_response" => assert!(p["id"].is_string() && !p["response"].is_null()),
                other => panic!("part type {other}"),
            }
        }
    }
    if s.status.as_ref().unwrap().code != 2 {
        let out = json_attr(s, "gen_ai.output.messages").unwrap();
        assert_eq!(out[0]["role"], "assistant");
        let finish = out[0]["finish_reason"].as_str().unwrap();
        let reasons: Vec<String> = s
            .attributes
            .iter()
            .find(|kv| kv.key == "gen_ai.response.finish_reasons")
            .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
                V::ArrayValue(a) => Some(
                    a.values
                        .iter()
                        .filter_map(|v| match &v.value {
                            Some(V::StringValue(s)) => Some(s.clone()),
                            _ => None,
                        })
                        .collect(),
                ),
                _ => None,
            })
            .unwrap();
        assert_eq!(reasons, vec![finish.to_string()]);
        assert!(s.attr_str("gen_ai.response.id").is_some() && s.attr_str("gen_ai.response.model").is_some());
        assert!(s.attr_int("gen_ai.usage.output_tokens").unwrap() > 0);
    }
}

#[test]
fn every_builtin_scenario_is_well_formed() {
    let set = ScenarioSet::builtin();
    for id in 0..set.scenarios.len() {
        for i in 0..25 {
            let (_, req) = decoded(&set, id, 7, i);
            check_trace(set.scenarios[id].name(), &req);
        }
    }
}

#[test]
fn errors_carry_status_type_and_exception() {
    // Find a failing trace among the first few hundred simple queries (about 2 % fail).
    let set = ScenarioSet::builtin();
    let failing = (0..400).find_map(|i| {
        let (t, req) = decoded(&set, 0, 42, i);
        t.spans.iter().any(|s| s.error.is_some()).then_some(req)
    });
    let req = failing.expect("some trace fails");
    check_trace("simple_query", &req);
    assert!(all_spans(&req).iter().any(|(_, s)| s.status.as_ref().unwrap().code == 2));
}

#[test]
fn same_index_gives_same_trace_and_neighbours_differ() {
    let set = ScenarioSet::builtin();
    let (_, a) = decoded(&set, 1, 42, 5);
    let (_, b) = decoded(&set, 1, 42, 5);
    assert_eq!(a, b);
    let (_, c) = decoded(&set, 1, 42, 6);
    assert_ne!(a, c);
    let (_, d) = decoded(&set, 1, 43, 5);
    assert_ne!(a, d, "the seed matters");
}

#[test]
fn complex_traces_span_several_services() {
    let set = ScenarioSet::builtin();
    let (_, req) = decoded(&set, 3, 42, 0);
    let names: HashSet<&str> = req
        .resource_spans
        .iter()
        .map(|rs| otlp::find_str(&rs.resource.as_ref().unwrap().attributes, "service.name").unwrap())
        .collect();
    assert!(names.len() >= 4, "{names:?}");
    assert_eq!(names.len(), req.resource_spans.len(), "one ResourceSpans per service");
    // Remote agents: a CLIENT invoke_agent whose child is a SERVER span flagged remote.
    let spans = all_spans(&req);
    let server = spans.iter().find(|(_, s)| s.kind == 2 && !s.parent_span_id.is_empty()).expect("server span").1;
    assert_eq!(server.flags & 0x300, 0x300, "remote parent flag");
}

/// The seed's per-scenario table: (spans, KB, tokens, root P50 ms).
const SEED: [(&str, f64, f64, f64, f64); 4] = [
    ("simple_query", 5.0, 35.0, 5_000.0, 30.0),
    ("single_service_search", 12.0, 270.0, 18_000.0, 250.0),
    ("delegated_booking", 25.0, 470.0, 40_000.0, 1_200.0),
    ("multi_service_complex", 80.0, 500.0, 185_000.0, 4_500.0),
];

#[test]
fn scenarios_match_the_seed_shape() {
    let set = ScenarioSet::builtin();
    let n = 150u64;
    for (id, (name, spans, kb, tokens, p50)) in SEED.iter().enumerate() {
        assert_eq!(set.scenarios[id].name(), *name);
        let mix = Mix::uniform(&[id]);
        let synth = Synth::new(&set, &mix, 42);
        let mut t = Trace::default();
        let mut g = Group::default();
        let (mut s_sum, mut b_sum, mut tok_sum) = (0.0, 0.0, 0.0);
        let mut durs = Vec::new();
        for i in 0..n {
            synth.trace(i, &mut t);
            encode_group(std::slice::from_ref(&t), i, 64 << 20, &mut g, &mut Vec::new()).unwrap();
            s_sum += t.spans.len() as f64;
            b_sum += g.records[0].len as f64;
            tok_sum += t.tokens as f64;
            let r = t.root().unwrap();
            durs.push((r.end - r.start) as f64 / 1e6);
        }
        durs.sort_by(f64::total_cmp);
        let nf = n as f64;
        let within = |got: f64, want: f64, tol: f64, what: &str| {
            assert!((got - want).abs() <= want * tol, "{name}: {what} {got:.1}, seed {want} (±{:.0} %)", tol * 100.0);
        };
        within(s_sum / nf, *spans, 0.10, "spans/trace");
        within(b_sum / nf / 1e3, *kb, 0.10, "KB/trace");
        within(tok_sum / nf, *tokens, 0.15, "tokens/trace");
        within(durs[durs.len() / 2], *p50, 0.15, "root P50 ms");
        // Traces vary around the means; they are not copies.
        assert!(durs[durs.len() / 10] < durs[durs.len() * 9 / 10] * 0.9, "{name}: durations do not vary");
    }
}
