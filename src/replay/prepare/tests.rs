use std::collections::{HashMap, HashSet};

use super::*;
use crate::encode::{Group, encode_group};
use crate::otlp;
use crate::scenario::{Mix, ScenarioSet};
use crate::synth::{Synth, Trace};
use std::sync::Arc;

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
    Patch::scan(&body).unwrap().apply(&mut patched, delta, None);
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
    let patch = Patch::scan(&body).unwrap();
    patch.apply(&mut patched, 0, keys1);
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
    patch.apply(&mut patched, 0, keys1);
    assert_eq!(patched, body);
}

#[test]
fn malformed_bodies_are_errors() {
    let mut body = record(0, 1);
    body.truncate(body.len() - 5);
    let e = Patch::scan(&body).unwrap_err();
    assert!(e.offset <= body.len(), "{e}");
}

#[test]
fn splice_gives_the_bytes_apply_gives_and_shares_the_content() {
    for scenario in 0..4 {
        for (i, keys) in [None, id_keys(42, 1, None), id_keys(42, 7, Some(3))].into_iter().enumerate() {
            let stored = Bytes::from(record(scenario, i as u64));
            let patch = Patch::scan(&stored).unwrap();
            let mut applied = stored.to_vec();
            patch.apply(&mut applied, 987_654_321_000, keys);
            let mut pieces = Vec::new();
            patch.splice(&stored, 987_654_321_000, keys, &mut pieces);
            let body = Body::from_pieces(pieces.clone());
            assert_eq!(body.to_vec(), applied, "scenario {scenario}, keys {keys:?}");
            // Most bytes are the stored record's own, not copies.
            let range = stored.as_ptr_range();
            let shared: usize = pieces.iter().filter(|p| range.contains(&p.as_ptr())).map(|p| p.len()).sum();
            assert!(
                shared * 10 > stored.len() * 9,
                "scenario {scenario}: only {shared} of {} bytes shared",
                stored.len()
            );
            let spans = spans(&applied).len();
            assert!(body.pieces() <= 4 * spans + 1, "scenario {scenario}: {} pieces for {spans} spans", body.pieces());
        }
    }
}

/// Writes a small corpus and opens it.
pub(crate) fn small_corpus(dir: &std::path::Path, count: u64) -> Arc<Corpus> {
    let plan = crate::generate::GenPlan::for_tests(crate::scenario::DEFAULT_MIX, count, &dir.join("c.zst"));
    crate::generate::run(&plan, &Default::default()).unwrap();
    Arc::new(Corpus::open(plan.output.path()).unwrap())
}

fn drain(s: &mut PreparedStream) -> Vec<Prepared> {
    let mut out = Vec::new();
    loop {
        match s.next(Duration::from_secs(10)).unwrap() {
            Next::Item(p) => out.push(p),
            Next::End => return out,
            Next::Wait => panic!("preparation stalled"),
        }
    }
}

fn config(records: std::ops::Range<u64>, passes: Option<u64>, batch: u32, workers: usize) -> PrepareConfig {
    PrepareConfig {
        records,
        passes,
        batch,
        rewrite: true,
        id_key: None,
        seed: 42,
        epoch_ns: crate::synth::EPOCH_NS,
        time: TimeBase::Scheduled {
            start_ns: crate::synth::EPOCH_NS + 1_000_000_000,
            schedule: Schedule::constant(100.0, Duration::ZERO),
        },
        compression: Compression::None,
        json: false,
        workers,
        record_sent: false,
        max_ahead_bytes: 1 << 20,
        max_ahead: 8,
        panic_after: None,
    }
}

#[test]
fn stream_is_in_order_across_passes_and_batches() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = small_corpus(dir.path(), 40);
    let n = corpus.records();
    let total_spans: u64 = corpus.index.meta.totals.spans;
    let mut s = start(corpus.clone(), config(0..n, Some(2), 3, 3));
    let items = drain(&mut s);
    let per_pass = n.div_ceil(3);
    assert_eq!(items.len() as u64, 2 * per_pass);
    for (i, p) in items.iter().enumerate() {
        assert_eq!(p.seq, i as u64, "in schedule order");
        assert_eq!(p.pass, i as u64 / per_pass, "batches never span passes");
    }
    assert_eq!(items.iter().map(|p| u64::from(p.spans)).sum::<u64>(), 2 * total_spans);
    // Request 5 ends at start + due(5) = epoch + 1 s + 50 ms.
    let root_end = spans(&items[5].body.to_vec()).iter().map(|s| s.end_time_unix_nano).max().unwrap();
    assert_eq!(root_end, crate::synth::EPOCH_NS + 1_050_000_000);
    // Pass 2 carries the same records with new IDs.
    let a: HashSet<Vec<u8>> = spans(&items[0].body.to_vec()).into_iter().map(|s| s.span_id).collect();
    let b: HashSet<Vec<u8>> = spans(&items[per_pass as usize].body.to_vec()).into_iter().map(|s| s.span_id).collect();
    assert_eq!(a.len(), b.len());
    assert!(a.is_disjoint(&b));
}

#[test]
fn compressed_bodies_decompress_to_the_patched_record() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = small_corpus(dir.path(), 6);
    let n = corpus.records();
    let plain = drain(&mut start(corpus.clone(), config(0..n, Some(1), 1, 1)));
    for (c, decode) in [
        (
            Compression::Gzip,
            Box::new(|b: &[u8]| {
                let mut out = Vec::new();
                std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(b), &mut out).unwrap();
                out
            }) as Box<dyn Fn(&[u8]) -> Vec<u8>>,
        ),
        (Compression::Zstd, Box::new(|b: &[u8]| zstd::stream::decode_all(b).unwrap())),
    ] {
        let mut cfg = config(0..n, Some(1), 1, 2);
        cfg.compression = c;
        let items = drain(&mut start(corpus.clone(), cfg));
        for (p, q) in plain.iter().zip(&items) {
            assert_eq!(decode(&q.body.to_vec()), p.body.to_vec(), "{c:?}");
            assert!(q.body.len() < p.body.len());
        }
    }
}

#[test]
fn slice_and_no_rewrite_send_records_as_stored() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = small_corpus(dir.path(), 10);
    let mut cfg = config(3..7, Some(1), 1, 1);
    cfg.rewrite = false;
    let items = drain(&mut start(corpus.clone(), cfg));
    assert_eq!(items.len(), 4);
    assert_eq!(items.iter().map(|p| p.body.to_vec()).collect::<Vec<_>>(), stored(&corpus, 3..7));
}

/// The stored records `range` of `corpus`.
fn stored(corpus: &Corpus, range: std::ops::Range<u64>) -> Vec<Vec<u8>> {
    let mut dec = crate::corpus::FrameReader::new().unwrap();
    let mut out = Vec::new();
    for f in 0..corpus.index.frames.len() {
        let mut data = Vec::new();
        corpus.decompress_frame(f, &mut dec, &mut data).unwrap();
        corpus
            .for_each_record(f, &data, |r, _, b| {
                if range.contains(&r) {
                    out.push(b.to_vec());
                }
                Ok(())
            })
            .unwrap();
    }
    assert_eq!(out.len() as u64, range.end - range.start);
    out
}

#[test]
fn kept_patches_give_every_pass_the_bytes_a_fresh_scan_gives() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = small_corpus(dir.path(), 12);
    let records = 2..9;
    let stored = stored(&corpus, records.clone());
    // Several passes over a small slice: the reader keeps the slice and its records' patches.
    for workers in [0, 2] {
        let cfg = config(records.clone(), Some(3), 1, workers);
        let TimeBase::Scheduled { start_ns, .. } = cfg.time else { unreachable!() };
        let epoch = cfg.epoch_ns;
        let items = drain(&mut start(corpus.clone(), cfg));
        assert_eq!(items.len(), 3 * stored.len());
        for (i, p) in items.iter().enumerate() {
            let record = &stored[i % stored.len()];
            let mut want = record.clone();
            // Request i is due 10 ms after request i - 1 (100/s).
            let delta = start_ns + i as u64 * 10_000_000 - epoch;
            Patch::scan(record).unwrap().apply(&mut want, delta, id_keys(42, p.pass, None));
            assert_eq!(p.body.to_vec(), want, "request {i}, {workers} workers");
        }
    }
}

#[test]
fn a_reader_that_panics_ends_the_stream_with_an_error_naming_the_corpus() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = small_corpus(dir.path(), 10);
    let n = corpus.records();
    for workers in [0, 2] {
        let mut cfg = config(0..n, Some(1), 1, workers);
        cfg.panic_after = Some(4);
        let mut s = start(corpus.clone(), cfg);
        let mut got = 0;
        let err = loop {
            match s.next(Duration::from_secs(10)) {
                Ok(Next::Item(p)) => {
                    assert_eq!(p.seq, got);
                    got += 1;
                }
                Ok(Next::End) => panic!("a panic looked like the end of the corpus after {got} requests"),
                Ok(Next::Wait) => panic!("preparation stalled"),
                Err(e) => break e,
            }
        };
        assert_eq!(got, 4, "the requests cut before the panic are delivered");
        assert!(err.contains(&corpus.path().display().to_string()), "{err}");
        assert!(err.contains("injected reader panic"), "{err}");
    }
}

#[test]
fn parts_of_a_split_trace_share_one_time_target() {
    // A trace split across three records (traces = 0, 0, 1) and a whole one: the parts get the
    // target of the request that carries the first part, whatever request carries them.
    let dir = tempfile::tempdir().unwrap();
    let plan = crate::generate::GenPlan {
        max_request_bytes: 64 << 10,
        ..crate::generate::GenPlan::for_tests("complex=1", 2, &dir.path().join("split.zst"))
    };
    crate::generate::run(&plan, &Default::default()).unwrap();
    let corpus = Arc::new(Corpus::open(plan.output.path()).unwrap());
    let traces = &corpus.index.records.traces;
    assert!(traces.iter().filter(|&&t| t == 0).count() >= 2, "the traces are split: {traces:?}");
    let n = corpus.records();
    let cfg = config(0..n, Some(1), 1, 0);
    let TimeBase::Scheduled { start_ns, .. } = cfg.time else { unreachable!() };
    let items = drain(&mut start(corpus.clone(), cfg));
    let stored = stored(&corpus, 0..n);
    // Request i is due at start + 10 ms × i; every part of a trace is shifted by the delta of
    // the request carrying its first part.
    let mut first_of_trace = 0;
    for (i, p) in items.iter().enumerate() {
        let delta = spans(&p.body.to_vec())[0].start_time_unix_nano - spans(&stored[i])[0].start_time_unix_nano;
        let want = start_ns + first_of_trace as u64 * 10_000_000 - crate::synth::EPOCH_NS;
        assert_eq!(delta, want, "request {i} (trace starting at request {first_of_trace})");
        if traces[i] > 0 {
            first_of_trace = i + 1;
        }
    }
    assert!(first_of_trace == items.len());
}

#[test]
fn the_sent_log_of_a_timeline_gives_each_trace_the_latest_end_of_its_spans_as_sent() {
    // On a timeline a record goes out up to a schedule delay after its spans end: the sent log
    // must say when the spans end (verify compares it to what the platform stored, and calls a
    // trace ending over a second earlier a stale copy), not when the record was sent.
    let dir = tempfile::tempdir().unwrap();
    let tl = crate::timeline::TimelinePlan {
        arrival: crate::timeline::Arrival::Rate(20.0),
        bsp: crate::timeline::BspConfig::default(),
    };
    let plan = crate::generate::GenPlan {
        shape: crate::generate::Shape::Sdk(tl),
        ..crate::generate::GenPlan::for_tests(crate::scenario::DEFAULT_MIX, 30, &dir.path().join("sdk.zst"))
    };
    crate::generate::run(&plan, &Default::default()).unwrap();
    let corpus = Arc::new(Corpus::open(plan.output.path()).unwrap());
    let n = corpus.records();
    for rewrite in [true, false] {
        let cfg = PrepareConfig { record_sent: true, rewrite, ..config(0..n, Some(1), 1, 0) };
        let items = drain(&mut start(corpus.clone(), cfg));
        let (mut traces, mut late) = (0, 0);
        for p in &items {
            let spans = spans(&p.body.to_vec());
            for &(id, _, end_ms) in &p.sent_traces {
                let latest = spans
                    .iter()
                    .filter(|s| u128::from_be_bytes(s.trace_id[..].try_into().unwrap()) == id)
                    .map(|s| s.end_time_unix_nano)
                    .max()
                    .unwrap();
                traces += 1;
                late += usize::from(end_ms != latest / 1_000_000);
            }
        }
        assert!(traces > 30, "{traces} trace parts");
        assert_eq!(
            late, 0,
            "rewrite {rewrite}: {late} of {traces} trace parts logged at another time than their spans end"
        );
    }
}
