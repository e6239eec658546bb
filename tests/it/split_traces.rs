//! Traces split across requests (`--max-request-bytes`, `--batch`, `--shard`) keep their
//! timing: every child stays inside its parent in what a receiver got, across requests.

use std::collections::HashMap;
use std::path::Path;

use traceblast::otlp;
use traceblast::sink::{self, SinkPlan};

use crate::util::*;

/// Decodes every captured body and checks each child lies within its parent; returns the
/// number of parent-child pairs checked.
fn children_inside_parents(s: &sink::Running) -> usize {
    let mut spans: HashMap<(Vec<u8>, Vec<u8>), otlp::Span> = HashMap::new();
    for c in s.captured() {
        let req = otlp::decode_request(&c.body).unwrap();
        for sp in req.resource_spans.into_iter().flat_map(|r| r.scope_spans).flat_map(|s| s.spans) {
            spans.insert((sp.trace_id.clone(), sp.span_id.clone()), sp);
        }
    }
    let mut pairs = 0;
    let mut outside = Vec::new();
    for sp in spans.values().filter(|s| !s.parent_span_id.is_empty()) {
        let parent = &spans[&(sp.trace_id.clone(), sp.parent_span_id.clone())];
        pairs += 1;
        if sp.start_time_unix_nano < parent.start_time_unix_nano || sp.end_time_unix_nano > parent.end_time_unix_nano {
            outside.push(format!("{} in {}", sp.name, parent.name));
        }
    }
    assert!(
        outside.is_empty(),
        "{} of {pairs} children outside their parent: {:?}",
        outside.len(),
        &outside[..outside.len().min(5)]
    );
    pairs
}

fn replay(dir: &Path, corpus: &Path, s: &sink::Running, extra: &[&str]) {
    let url = format!("http://{}/v1/traces", s.addr);
    let mut args = vec!["replay", corpus.to_str().unwrap(), "--endpoint", &url, "--rate", "100", "-q"];
    args.extend_from_slice(extra);
    let o = run_in(dir, &args);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn split_traces_keep_children_inside_parents_however_they_are_sent() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let c = d.join("split.zst");
    let o = run(&[
        "gen",
        "-q",
        "--count",
        "6",
        "--mix",
        "complex=1",
        "--max-request-bytes",
        "32KiB",
        "-o",
        c.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let corpus = traceblast::corpus::Corpus::open(&c).unwrap();
    let records = corpus.records();
    assert!(records > 30, "complex traces are split into many requests: {records}");
    let capture = SinkPlan { capture: 10_000, ..SinkPlan::default() };

    // One record per request.
    let s = sink::spawn(capture.clone()).unwrap();
    replay(d, &c, &s, &[]);
    assert!(children_inside_parents(&s) > 400);
    assert_eq!(s.shutdown().requests, records);

    // Three records per request: batches cut through traces.
    let s = sink::spawn(capture.clone()).unwrap();
    replay(d, &c, &s, &["--batch", "3"]);
    children_inside_parents(&s);
    assert_eq!(s.shutdown().requests, records.div_ceil(3));

    // Two processes, each sending half: the cut never falls inside a trace, so each trace
    // is sent whole by one of them.
    let s = sink::spawn(capture).unwrap();
    replay(d, &c, &s, &["--shard", "0/2"]);
    replay(d, &c, &s, &["--shard", "1/2"]);
    children_inside_parents(&s);
    let sum = s.shutdown();
    assert_eq!(sum.requests, records);
    assert_eq!(sum.unique_traces, 6);
}
