use std::collections::HashSet;

use prost::Message;

use super::*;
use crate::corpus::reader::read_varint;
use crate::otlp;
use crate::scenario::{Mix, ScenarioSet};
use crate::synth::Synth;

fn traces<'s>(set: &'s ScenarioSet, mix: &'s Mix, n: u64) -> Vec<Trace<'s>> {
    let synth = Synth::new(set, mix, 42);
    (0..n)
        .map(|i| {
            let mut t = Trace::default();
            synth.trace(i, &mut t);
            t
        })
        .collect()
}

/// Splits a group's bytes into record bodies.
fn bodies(g: &Group) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < g.bytes.len() {
        let (len, n) = read_varint(&g.bytes[pos..]).unwrap();
        out.push(&g.bytes[pos + n..pos + n + len as usize]);
        pos += n + len as usize;
    }
    out
}

fn span_ids(body: &[u8]) -> Vec<Vec<u8>> {
    let req = otlp::decode_request(body).unwrap();
    req.resource_spans
        .iter()
        .flat_map(|r| r.scope_spans.iter())
        .flat_map(|s| s.spans.iter())
        .map(|s| s.span_id.clone())
        .collect()
}

#[test]
fn encoding_is_canonical_protobuf() {
    let set = ScenarioSet::builtin();
    let mix = Mix::uniform(&[0, 1, 2, 3]);
    let ts = traces(&set, &mix, 12);
    let mut g = Group::default();
    for (i, t) in ts.iter().enumerate() {
        encode_group(std::slice::from_ref(t), i as u64, 64 << 20, &mut g, &mut Vec::new()).unwrap();
        let body = bodies(&g)[0];
        assert_eq!(g.records[0].len as usize, body.len());
        let req = otlp::decode_request(body).unwrap();
        // prost writes fields in tag order and skips defaults: same bytes back means our
        // writer is canonical, so any protobuf tool reads and rewrites records unchanged.
        assert_eq!(req.encode_to_vec(), body, "trace {i}");
    }
}

#[test]
fn traces_per_request_groups_whole_traces() {
    let set = ScenarioSet::builtin();
    let mix = Mix::uniform(&[0]);
    let ts = traces(&set, &mix, 3);
    let mut g = Group::default();
    encode_group(&ts, 0, 4 << 20, &mut g, &mut Vec::new()).unwrap();
    assert_eq!(g.records.len(), 1);
    let r = g.records[0];
    assert_eq!(r.traces, 3);
    assert_eq!(r.spans as usize, ts.iter().map(|t| t.spans.len()).sum::<usize>());
    assert_eq!(r.scenario, 0);
    assert_eq!(span_ids(bodies(&g)[0]).len(), r.spans as usize);
}

#[test]
fn mixed_scenarios_in_one_record_are_marked_mixed() {
    let set = ScenarioSet::builtin();
    let mix = Mix::uniform(&[0, 1, 2, 3]);
    let ts = traces(&set, &mix, 8);
    assert!(ts.iter().any(|t| t.scenario != ts[0].scenario));
    let mut g = Group::default();
    encode_group(&ts, 0, 64 << 20, &mut g, &mut Vec::new()).unwrap();
    assert_eq!(g.records.len(), 1);
    assert_eq!(g.records[0].scenario, MIXED_SCENARIO);
}

#[test]
fn oversized_trace_is_split_by_spans_within_the_limit() {
    let set = ScenarioSet::builtin();
    let mix = Mix::uniform(&[3]);
    let ts = traces(&set, &mix, 1);
    let t = &ts[0];
    let max = 64 * 1024;
    let mut g = Group::default();
    encode_group(&ts, 0, max, &mut g, &mut Vec::new()).unwrap();
    assert!(g.records.len() > 3, "{} records", g.records.len());
    let mut seen = Vec::new();
    for (body, meta) in bodies(&g).iter().zip(&g.records) {
        assert!(body.len() <= max, "record of {} bytes over {max}", body.len());
        let ids = span_ids(body);
        assert_eq!(ids.len(), meta.spans as usize);
        seen.extend(ids);
    }
    let want: HashSet<Vec<u8>> = t.spans.iter().map(|s| s.id.to_vec()).collect();
    assert_eq!(seen.len(), want.len(), "every span exactly once");
    assert_eq!(seen.into_iter().collect::<HashSet<_>>(), want);
    // The trace counts once, in the record holding its root (the last one).
    let traces: Vec<u16> = g.records.iter().map(|r| r.traces).collect();
    assert_eq!(traces.iter().sum::<u16>(), 1);
    assert_eq!(*traces.last().unwrap(), 1);
}

#[test]
fn traces_that_do_not_fit_together_go_to_consecutive_records() {
    let set = ScenarioSet::builtin();
    let mix = Mix::uniform(&[1]);
    let ts = traces(&set, &mix, 4);
    let mut g = Group::default();
    // Room for about one search trace (~270 KB) per record.
    encode_group(&ts, 0, 400 * 1024, &mut g, &mut Vec::new()).unwrap();
    assert!(g.records.len() >= 2);
    assert_eq!(g.records.iter().map(|r| u32::from(r.traces)).sum::<u32>(), 4);
    for body in bodies(&g) {
        assert!(body.len() <= 400 * 1024);
    }
}

#[test]
fn a_span_larger_than_the_limit_is_an_error_naming_it() {
    let set = ScenarioSet::builtin();
    let mix = Mix::uniform(&[1]);
    let ts = traces(&set, &mix, 1);
    let e = encode_group(&ts, 17, 2048, &mut Group::default(), &mut Vec::new()).unwrap_err();
    assert_eq!(e.trace, 17);
    assert!(e.to_string().starts_with("--max-request-bytes 2048 is smaller than span"), "{e}");
}

#[test]
fn an_export_request_is_canonical_protobuf_written_in_one_pass() {
    let set = ScenarioSet::builtin();
    let mix = Mix::parse("complex=1", &set).unwrap();
    let synth = Synth::new(&set, &mix, 3);
    let mut t = Trace::default();
    synth.trace(0, &mut t);
    let r = t.spans[0].resource as usize;
    let h = header(&t, r);
    let mut spans = Vec::new();
    for s in t.spans.iter().filter(|s| s.resource as usize == r) {
        let mut b = Vec::new();
        span(&mut Writer::new(&mut b), &t, s, 2);
        spans.push(b);
    }
    let refs: Vec<&[u8]> = spans.iter().map(Vec::as_slice).collect();
    let mut framed = Vec::new();
    let body = export_request(&mut framed, &h, &refs);
    // The same message through the Writer, whose nested lengths are canonical by construction.
    let mut want = Vec::new();
    let mut w = Writer::new(&mut want);
    let o = w.begin_unframed();
    resource_spans(&mut w, &t, r, t.spans.iter().filter(|s| s.resource as usize == r));
    w.end(o);
    assert_eq!(framed, want);
    let (len, n) = read_varint(&framed).unwrap();
    assert_eq!((len as usize, framed.len() - n), (body, body));
    let req = otlp::decode_request(&framed[n..]).unwrap();
    assert_eq!(req.resource_spans[0].scope_spans[0].spans.len(), refs.len());
    assert_eq!(req.resource_spans[0].schema_url, t.semconv.schema_url());
}
