//! Criterion benches of replay's preparation per scenario, in request bytes per second: the scan
//! that finds a record's times and IDs (once per record for slices looped from memory, per
//! request otherwise), the splice uncompressed bodies get (time shift + ID remap around the
//! stored bytes, no copy), the in-place patch after copying the stored record, and that patch
//! with gzip or zstd compression for `Content-Encoding`. The record is hot in cache here; in a
//! replay it usually is not, which costs the scan most (it touches the whole record).
//!
//! cargo bench --bench prepare

use std::hint::black_box;
use std::io::Write;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use traceblast::encode::{Group, encode_group};
use traceblast::replay::prepare::{Patch, id_keys};
use traceblast::scenario::{Mix, ScenarioSet};
use traceblast::synth::{Synth, Trace};

fn record(set: &ScenarioSet, id: usize) -> Vec<u8> {
    let mix = Mix::uniform(&[id]);
    let synth = Synth::new(set, &mix, 42);
    let mut t = Trace::default();
    synth.trace(0, &mut t);
    let mut g = Group::default();
    encode_group(std::slice::from_ref(&t), 0, 64 << 20, &mut g, &mut Vec::new()).unwrap();
    let (len, n) = traceblast::corpus::reader::read_varint(&g.bytes).unwrap();
    g.bytes[n..n + len as usize].to_vec()
}

fn prepare(c: &mut Criterion) {
    let set = ScenarioSet::builtin();
    let keys = id_keys(42, 1, None);
    for (id, sc) in set.scenarios.iter().enumerate() {
        let stored = record(&set, id);
        let patch = Patch::scan(&stored).unwrap();
        let mut group = c.benchmark_group("prepare");
        group.throughput(Throughput::Bytes(stored.len() as u64));
        let shared = bytes::Bytes::from(stored.clone());
        let mut pieces = Vec::new();
        group.bench_function(BenchmarkId::new("scan", sc.name()), |b| {
            b.iter(|| Patch::scan(black_box(&stored)).unwrap())
        });
        group.bench_function(BenchmarkId::new("splice", sc.name()), |b| {
            b.iter(|| {
                pieces.clear();
                patch.splice(&shared, black_box(1_000_000_000), keys, &mut pieces);
                pieces.len()
            })
        });
        group.bench_function(BenchmarkId::new("patch", sc.name()), |b| {
            b.iter(|| {
                let mut body = stored.clone();
                patch.apply(&mut body, black_box(1_000_000_000), keys);
                body
            })
        });
        group.bench_function(BenchmarkId::new("patch+gzip", sc.name()), |b| {
            b.iter(|| {
                let mut body = stored.clone();
                patch.apply(&mut body, 1_000_000_000, keys);
                let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                enc.write_all(&body).unwrap();
                enc.finish().unwrap()
            })
        });
        group.bench_function(BenchmarkId::new("patch+zstd", sc.name()), |b| {
            b.iter(|| {
                let mut body = stored.clone();
                patch.apply(&mut body, 1_000_000_000, keys);
                zstd::bulk::compress(&body, 3).unwrap()
            })
        });
        group.finish();
    }
}

criterion_group!(benches, prepare);
criterion_main!(benches);
