use std::collections::{HashMap, HashSet};

use super::*;
use crate::encode::{Group, encode_group};
use crate::otlp;
use crate::scenario::{Mix, ScenarioSet};
use crate::synth::{Synth, Trace};

fn record(scenario: usize, i: u64) -> Vec<u8> {
    let set = ScenarioSet::builtin();
    let mix = Mix::uniform(&[scenario]);
    let synth = Synth::new(&set, &mix, 42);
    let mut t = Trace::default();
    synth.trace(i, &mut t);
    let mut g = Group::default();
    encode_group(std::slice::from_ref(&t), i, 64 << 20, &mut g, &mut Vec::new()).unwrap();
    let (len, n) = crate::corpus::reader::read_varint(&g.bytes).unwrap();
    g.bytes[n..n + len as usize].to_vec()
}

fn spans(body: &[u8]) -> Vec<otlp::Span> {
    let req = otlp::decode_request(body).unwrap();
    req.resource_spans.into_iter().flat_map(|r| r.scope_spans).flat_map(|s| s.spans).collect()
}

#[test]
fn shift_moves_every_timestamp_by_the_same_delta() {
    let body = record(2, 3);
    let before = spans(&body);
    let mut patched = body.clone();
    let delta = 123_456_789_000u64;
    Patch::default().apply(&mut patched, delta, None).unwrap();
    let after = spans(&patched);
    assert_eq!(before.len(), after.len());
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(a.start_time_unix_nano, b.start_time_unix_nano + delta);
        assert_eq!(a.end_time_unix_nano, b.end_time_unix_nano + delta);
        for (eb, ea) in b.events.iter().zip(&a.events) {
            assert_eq!(ea.time_unix_nano, eb.time_unix_nano + delta);
        }
        assert_eq!(a.span_id, b.span_id, "no keys: IDs unchanged");
        assert_eq!(a.attributes, b.attributes, "content untouched");
    }
    assert_eq!(patched.len(), body.len(), "lengths never change");
}

#[test]
fn remapped_ids_are_new_and_consistent_within_the_trace() {
    let body = record(3, 0);
    let before = spans(&body);
    let keys1 = id_keys(42, 1, None);
    assert!(id_keys(42, 0, None).is_none(), "the first pass keeps IDs");
    assert_eq!(keys1, id_keys(42, 1, None), "deterministic per seed and pass");
    assert_ne!(keys1, id_keys(42, 2, None));
    assert_ne!(keys1, id_keys(43, 1, None));
    assert!(id_keys(42, 0, Some(7)).is_some(), "--fresh-ids remaps the first pass");

    let mut patched = body.clone();
    Patch::default().apply(&mut patched, 0, keys1).unwrap();
    let after = spans(&patched);
    let old_ids: HashSet<Vec<u8>> = before.iter().map(|s| s.span_id.clone()).collect();
    let new_ids: HashMap<Vec<u8>, &otlp::Span> = after.iter().map(|s| (s.span_id.clone(), s)).collect();
    assert_eq!(new_ids.len(), before.len(), "still unique");
    assert!(new_ids.keys().all(|id| !old_ids.contains(id)), "no span ID is reused");
    let trace_ids: HashSet<&Vec<u8>> = after.iter().map(|s| &s.trace_id).collect();
    assert_eq!(trace_ids.len(), 1, "one trace ID for the whole trace");
    assert_ne!(after[0].trace_id, before[0].trace_id);
    for s in &after {
        if !s.parent_span_id.is_empty() {
            assert!(new_ids.contains_key(&s.parent_span_id), "parent of {} resolves after remapping", s.name);
        }
    }
    // Applying the same keys again restores the original (XOR is its own inverse).
    Patch::default().apply(&mut patched, 0, keys1).unwrap();
    assert_eq!(patched, body);
}

#[test]
fn malformed_bodies_are_errors() {
    let mut body = record(0, 1);
    body.truncate(body.len() - 5);
    assert!(Patch::default().apply(&mut body, 1, None).is_err());
}
