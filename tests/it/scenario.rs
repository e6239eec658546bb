//! Scenario files are bounded before any work: hostile files are refused at once in one line,
//! and the traces of valid ones — built-ins and scenarios at the edge of every limit — stay
//! within the bounds validation computed for them.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use prost::Message;
use traceblast::encode::{Group, encode_group};
use traceblast::otlp::{self, SpanExt as _};
use traceblast::scenario::bound::{RESOURCE_BYTES_MAX, SPAN_BYTES_MAX};
use traceblast::scenario::{Compiled, Mix, ScenarioSet, compile, parse};
use traceblast::synth::{EPOCH_NS, Synth, Trace};

use crate::util::*;

/// Runs `traceblast args` and fails if it is still running after `limit`: a refusal must come
/// before any work, not after minutes of it.
fn run_within(args: &[&str], limit: Duration) -> Output {
    let mut child = Command::new(bin()).args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let deadline = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("traceblast {args:?} still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().unwrap()
}

/// `gen --count 3` on `file`: exit 2 within seconds, one line naming every needle, no file.
fn gen_refuses(file: &Path, needles: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("never.zst");
    let args = ["gen", "-q", "--count", "3", "--scenarios", file.to_str().unwrap(), "-o", out.to_str().unwrap()];
    let started = Instant::now();
    let o = run_within(&args, Duration::from_secs(20));
    assert_bad_input(&o, needles);
    assert!(started.elapsed() < Duration::from_secs(5), "{file:?}: refused only after {:?}", started.elapsed());
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "{file:?} left {left:?}");
}

#[test]
fn gen_refuses_hostile_scenario_files_at_once_in_one_line() {
    // Before the limits each of these used > 4 GiB, looped for ever or wrote wrong spans.
    for (name, needles) in [
        ("nested_repeat", &["steps[0].steps[0]: up to 1,000,000 spans per trace", "the limit is 100,000"][..]),
        ("empty_repeat_loop", &["steps[0].steps[0].steps[0]: starts up to 2,002,001 steps", "1,000,000"]),
        ("history_copies", &["steps[0]: up to 64.80 GB per trace; the limit is 256.00 MB"]),
        ("huge_system_prompt", &["agent.system_prompt_chars = 1e10", "16,777,216 characters"]),
        ("huge_documents", &["steps[0].documents = 1e9", "the limit is 1,000 documents"]),
        ("huge_duration", &["steps[0].duration_ms = 1e300", "86,400,000 ms (24 h)"]),
        ("tool_name_injection", &["steps[0].tool_calls[0] = ", "a tool name is"]),
    ] {
        let file = format!("fixtures/scenarios/{name}.toml");
        let scenario = format!("scenario '{name}'");
        let mut all = vec![file.as_str(), scenario.as_str()];
        all.extend_from_slice(needles);
        gen_refuses(Path::new(&file), &all);
    }
}

/// A scenario with `steps` (TOML) under a minimal service and agent.
fn scenario_text(name: &str, top: &str, steps: &str) -> String {
    format!(
        "name = \"{name}\"\n{top}\n[service]\nname = \"svc\"\n[agent]\nname = \"bot\"\nmodel = \"m\"\n\
         system_prompt_chars = 100\nuser_prompt_chars = 100\n{steps}"
    )
}

#[test]
fn oversized_files_and_deep_nesting_are_refused_without_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let f = dir.path().join(format!("{name}.toml"));
        std::fs::write(&f, text).unwrap();
        f
    };
    // 100,000 tool calls in one answer, 1000 times: 15 GB of tool-call JSON before the limits.
    let calls = (0..100_000).map(|i| format!("\"t{}\"", i % 10)).collect::<Vec<_>>().join(",");
    let steps = format!("[[steps]]\nkind = \"llm\"\nrepeat = 1000\noutput_tokens = 10\ntool_calls = [{calls}]\n");
    let f = write("fanout", &scenario_text("fanout", "", &steps));
    gen_refuses(&f, &["fanout.toml", "steps[0].tool_calls names 100000 tools: at most 64 per answer"]);
    // A 600 KB description carried by 3000 spans (1.8 GB) is over the file limit first.
    let desc = "x".repeat(600_000);
    let steps = format!(
        "[[steps]]\nkind = \"agent\"\nrepeat = 1000\n[steps.agent]\nname = \"sub\"\nmodel = \"m\"\ndescription = \"{desc}\"\n\
         system_prompt_chars = 10\nuser_prompt_chars = 10\n[[steps.steps]]\nkind = \"embeddings\"\nmodel = \"e\"\n\
         input_tokens = 5\n"
    );
    let text = scenario_text("long", "", &steps)
        .replace("model = \"m\"\n", &format!("model = \"m\"\ndescription = \"{desc}\"\n"));
    let f = write("long", &text);
    gen_refuses(&f, &["long.toml", "larger than 1048576 bytes: a scenario file is at most 1 MiB"]);
    // An endless file is read no further than the limit.
    gen_refuses(Path::new("/dev/zero"), &["/dev/zero: larger than 1048576 bytes"]);
    // Nesting: 200 levels are beyond what the TOML reader takes; 79 are read, then refused.
    for (depth, needle) in
        [(200, "recursion limit: keys or tables nest too deep"), (79, "steps nest deeper than 8 levels")]
    {
        let mut steps = String::new();
        let mut path = String::from("steps");
        for _ in 0..depth {
            steps.push_str(&format!("[[{path}]]\nkind = \"sequence\"\n"));
            path.push_str(".steps");
        }
        steps.push_str(&format!("[[{path}]]\nkind = \"llm\"\noutput_tokens = 1\n"));
        let f = write(&format!("deep{depth}"), &scenario_text("deep", "", &steps));
        gen_refuses(&f, &[&format!("deep{depth}.toml"), needle]);
    }
}

/// Scenarios at the edge of the limits, each valid. Constant draws make the largest trace the
/// one generated, so the bound is tested where it is tight, not only on typical draws.
const EDGE: &[(&str, &str, &str)] = &[
    (
        // Request longer than the content cap: every model call carries the request and the
        // newest message; 64 tool calls per answer; every step can fail.
        "small_cap",
        "max_content_bytes = 1024\nerror_rate = 1.0",
        r#"
[[steps]]
kind = "llm"
output_tokens = 1e6
error_rate = 0.5
tool_calls = ["t0","t1","t2","t3","t4","t5","t6","t7","t8","t9","t10","t11","t12","t13","t14","t15","t16","t17","t18","t19","t20","t21","t22","t23","t24","t25","t26","t27","t28","t29","t30","t31","t32","t33","t34","t35","t36","t37","t38","t39","t40","t41","t42","t43","t44","t45","t46","t47","t48","t49","t50","t51","t52","t53","t54","t55","t56","t57","t58","t59","t60","t61","t62","t63"]
[[steps]]
kind = "parallel"
  [[steps.steps]]
  kind = "tool"
  tool = "t0"
  result_chars = 1e6
  context_share = 0.5
  error_rate = 0.3
  [[steps.steps]]
  kind = "retrieval"
  data_source = "kb"
  documents = 1000
  doc_chars = 1e6
  context_share = 0.3
  [[steps.steps]]
  kind = "embeddings"
  model = "e"
  input_tokens = 1e7
[[steps]]
kind = "agent"
[steps.agent]
name = "sub"
model = "m"
system_prompt_chars = 20000
user_prompt_chars = 20000
  [[steps.steps]]
  kind = "sequence"
  repeat = 30
    [[steps.steps.steps]]
    kind = "llm"
    output_tokens = 5000
    [[steps.steps.steps]]
    kind = "tool"
    tool = "fetch"
    result_chars = 100000
[[steps]]
kind = "agent"
duration_ms = 5
[steps.agent]
name = "remote"
model = "m"
system_prompt_chars = 10
user_prompt_chars = 10
[steps.service]
name = "far"
entry = "POST /agents/remote/invoke"
  [[steps.steps]]
  kind = "llm"
  output_tokens = 100
"#,
    ),
    (
        // The largest content cap, with results, documents and answers that fill it.
        "big_cap",
        "max_content_bytes = 16777216",
        r#"
[[steps]]
kind = "sequence"
repeat = 2
  [[steps.steps]]
  kind = "tool"
  tool = "fetch"
  result_chars = 4e6
  [[steps.steps]]
  kind = "retrieval"
  data_source = "kb"
  documents = 10
  doc_chars = 1e6
  [[steps.steps]]
  kind = "llm"
  output_tokens = 1e6
"#,
    ),
    (
        // Six steps of 24 h each, remote agents and repeats: 6 days, under the 7-day limit.
        "long_durations",
        "",
        r#"
[[steps]]
kind = "sequence"
repeat = 3
  [[steps.steps]]
  kind = "llm"
  output_tokens = 5
  duration_ms = 86400000
  [[steps.steps]]
  kind = "agent"
  duration_ms = 3600000
  [steps.steps.agent]
  name = "remote"
  model = "m"
  system_prompt_chars = 10
  user_prompt_chars = 10
  [steps.steps.service]
  name = "far"
    [[steps.steps.steps]]
    kind = "tool"
    tool = "t"
    result_chars = 10
    duration_ms = 86400000
"#,
    ),
    (
        // The longest names and descriptions, on 1000 spans that fail: the allowances per span
        // and per resource and the error text at their largest.
        "names_and_errors",
        "error_rate = 1.0",
        r#"
[[steps]]
kind = "tool"
tool = "TOOL"
description = "DESC"
result_chars = 10
[[steps]]
kind = "embeddings"
repeat = 1000
model = "NAME"
input_tokens = 5
error_rate = 1.0
"#,
    ),
    (
        // Wide log-normals and ranges: traces vary; the bound holds for every draw.
        "wide",
        "max_content_bytes = 65536",
        r#"
[[steps]]
kind = "sequence"
repeat = { min = 0, max = 40 }
  [[steps.steps]]
  kind = "llm"
  output_tokens = { median = 300, sigma = 1.2 }
  duration_ms = { median = 50, sigma = 1.0 }
  tool_calls = ["search"]
  [[steps.steps]]
  kind = "tool"
  tool = "search"
  probability = 0.7
  result_chars = { median = 5000, sigma = 1.5 }
  duration_ms = { min = 0.5, max = 300 }
  [[steps.steps]]
  kind = "retrieval"
  data_source = "kb"
  documents = { min = 0, max = 50 }
  doc_chars = { median = 2000, sigma = 1 }
"#,
    ),
];

/// Synthesizes traces `0..count` of scenario `id` and hands each to `each` with its encoded size
/// (one record); checks the first one's content attributes are JSON.
fn measure(set: &ScenarioSet, id: usize, count: u64, mut each: impl FnMut(&Trace, usize)) {
    let mix = Mix::uniform(&[id]);
    let synth = Synth::new(set, &mix, 42);
    let mut t = Trace::default();
    let mut g = Group::default();
    for i in 0..count {
        synth.trace(i, &mut t);
        encode_group(std::slice::from_ref(&t), i, 1 << 30, &mut g, &mut Vec::new()).unwrap();
        assert_eq!(g.records.len(), 1);
        each(&t, g.records[0].len as usize);
        if i == 0 {
            // Every content attribute is JSON, whatever names the scenario gave.
            let (len, n) = traceblast::corpus::reader::read_varint(&g.bytes).unwrap();
            let req = otlp::decode_request(&g.bytes[n..n + len as usize]).unwrap();
            for rs in &req.resource_spans {
                // What a resource adds besides its spans fits the bound's allowance.
                let framed = |l: usize| 1 + prost::length_delimiter_len(l) + l;
                let spans: usize =
                    rs.scope_spans.iter().flat_map(|ss| &ss.spans).map(|s| framed(s.encoded_len())).sum();
                let own = framed(rs.encoded_len()) - spans;
                assert!(own as f64 <= RESOURCE_BYTES_MAX, "a resource takes {own} bytes");
                for s in rs.scope_spans.iter().flat_map(|ss| &ss.spans) {
                    for key in ["gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.retrieval.documents"] {
                        if let Some(v) = s.attr_str(key) {
                            serde_json::from_str::<serde_json::Value>(v).unwrap_or_else(|e| panic!("{key}: {e}"));
                        }
                    }
                }
            }
        }
    }
}

fn edge_set() -> ScenarioSet {
    let scenarios: Vec<Compiled> = EDGE
        .iter()
        .map(|(name, top, steps)| {
            let mut text = scenario_text(name, top, steps);
            if *name == "names_and_errors" {
                // Every string the scenario may give at its longest.
                let header = "[service]\nname = \"NAME\"\nversion = \"NAME\"\nenvironment = \"NAME\"\nlanguage = \"NAME\"\n\
                              scope = \"NAME\"\nscope_version = \"NAME\"\nentry = \"POST /NAME\"\n[agent]\nname = \"NAME\"\n\
                              model = \"NAME\"\nprovider = \"NAME\"\ndescription = \"DESC\"\n";
                text = text.replace("[service]\nname = \"svc\"\n[agent]\nname = \"bot\"\nmodel = \"m\"\n", header);
                let (long, desc) = ("n".repeat(250), "d".repeat(1024));
                text = text.replace("NAME", &long).replace("TOOL", &"t".repeat(64)).replace("DESC", &desc);
                assert_eq!(text.matches(&desc).count(), 2, "{text}");
            }
            compile(&parse(&text, name).unwrap(), name).unwrap_or_else(|e| panic!("{e}"))
        })
        .collect();
    ScenarioSet { scenarios }
}

#[test]
fn real_traces_stay_within_their_bounds() {
    let edge = edge_set();
    let builtin = ScenarioSet::builtin();
    for (set, count) in [(&edge, 4), (&builtin, 40)] {
        for (id, sc) in set.scenarios.iter().enumerate() {
            // Constant draws make alike traces; a wide one varies.
            let count = match sc.name() {
                "big_cap" => 1,
                "wide" => 100,
                _ => count,
            };
            let b = sc.bounds;
            let services = sc.services.len() as f64;
            let (mut most_bytes, mut most_spans) = (0usize, 0usize);
            measure(set, id, count, |t, encoded| {
                let name = sc.name();
                assert!(t.spans.len() as f64 <= b.spans.max, "{name}: {} spans, bound {}", t.spans.len(), b.spans.max);
                assert!(
                    t.text.len() as f64 <= b.bytes.max,
                    "{name}: text {} bytes, bound {}",
                    t.text.len(),
                    b.bytes.max
                );
                assert!(encoded as f64 <= b.bytes.max, "{name}: {encoded} bytes encoded, bound {}", b.bytes.max);
                // The two parts of the bytes bound: the text, and allowances per span and
                // resource for everything else the encoding holds.
                let allowances = t.spans.len() as f64 * SPAN_BYTES_MAX + services * RESOURCE_BYTES_MAX;
                assert!(encoded as f64 <= t.text.len() as f64 + allowances, "{name}: {encoded} bytes encoded");
                let text_bound = b.bytes.max - b.spans.max * SPAN_BYTES_MAX - services * RESOURCE_BYTES_MAX;
                assert!(t.text.len() as f64 <= text_bound, "{name}: text {} bytes, bound {text_bound}", t.text.len());
                let root = t.root().unwrap();
                assert_eq!(root.end, EPOCH_NS);
                let ms = (root.end - root.start) as f64 / 1e6;
                assert!(ms <= b.duration_ms, "{name}: lasts {ms} ms, bound {}", b.duration_ms);
                for s in &t.spans {
                    assert!(root.start <= s.start && s.start < s.end && s.end <= root.end, "{name}: span times");
                }
                most_bytes = most_bytes.max(encoded.max(t.text.len()));
                most_spans = most_spans.max(t.spans.len());
            });
            // With constant draws the bound is close to what is generated: loose enough to be
            // true, tight enough not to refuse scenarios that fit.
            if matches!(sc.name(), "small_cap" | "big_cap") {
                assert!(
                    most_bytes as f64 * 6.0 >= b.bytes.max,
                    "{}: {most_bytes} bytes, bound {}",
                    sc.name(),
                    b.bytes.max
                );
                assert_eq!(most_spans as f64, b.spans.max, "{}", sc.name());
            }
        }
    }
}

#[test]
fn expected_size_is_the_built_ins_average() {
    let set = ScenarioSet::builtin();
    let n = 150;
    for (id, sc) in set.scenarios.iter().enumerate() {
        let (mut spans, mut bytes) = (0.0, 0.0);
        measure(&set, id, n, |t, encoded| {
            spans += t.spans.len() as f64;
            bytes += encoded as f64;
        });
        let (spans, bytes) = (spans / n as f64, bytes / n as f64);
        let e = sc.bounds;
        assert!(
            (e.spans.expected - spans).abs() <= 0.05 * spans,
            "{}: {spans} spans, expected {}",
            sc.name(),
            e.spans.expected
        );
        assert!(
            (e.bytes.expected - bytes).abs() <= 0.10 * bytes,
            "{}: {bytes} bytes, expected {}",
            sc.name(),
            e.bytes.expected
        );
    }
}
