//! Criterion benches of gen's stages per scenario, in bytes of encoded output per second:
//! `synth` (build one trace), `encode` (one trace to protobuf) and `compress` (a 4 MiB frame of
//! that scenario's records with zstd level 3, as gen does).
//!
//! cargo bench --bench gen

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use traceblast::corpus::writer::compress_frame;
use traceblast::encode::{Group, encode_group};
use traceblast::scenario::{Mix, ScenarioSet};
use traceblast::synth::{Synth, Trace};

fn stages(c: &mut Criterion) {
    let set = ScenarioSet::builtin();
    for (id, sc) in set.scenarios.iter().enumerate() {
        let name = sc.name().to_string();
        let mix = Mix::uniform(&[id]);
        let synth = Synth::new(&set, &mix, 42);
        let mut t = Trace::default();
        let mut g = Group::default();
        let mut scratch = Vec::new();
        synth.trace(0, &mut t);
        encode_group(std::slice::from_ref(&t), 0, 64 << 20, &mut g, &mut scratch).unwrap();
        let bytes = g.bytes.len() as u64;

        let mut group = c.benchmark_group("synth");
        group.throughput(Throughput::Bytes(bytes));
        let mut i = 0u64;
        group.bench_function(BenchmarkId::from_parameter(&name), |b| {
            b.iter(|| {
                i = (i + 1) % 64;
                synth.trace(black_box(i), &mut t);
            })
        });
        group.finish();

        synth.trace(0, &mut t);
        let mut group = c.benchmark_group("encode");
        group.throughput(Throughput::Bytes(bytes));
        group.bench_function(BenchmarkId::from_parameter(&name), |b| {
            b.iter(|| encode_group(std::slice::from_ref(black_box(&t)), 0, 64 << 20, &mut g, &mut scratch).unwrap())
        });
        group.finish();

        // A frame of about 4 MiB of this scenario's records.
        let mut frame = Vec::new();
        let mut raw = 0;
        let mut k = 0;
        while raw < 4 << 20 {
            let mut one = Group::default();
            synth.trace(k, &mut t);
            encode_group(std::slice::from_ref(&t), k, 64 << 20, &mut one, &mut scratch).unwrap();
            raw += one.bytes.len();
            frame.push(one);
            k += 1;
        }
        let mut group = c.benchmark_group("compress");
        group.throughput(Throughput::Bytes(raw as u64));
        group.sample_size(20);
        group.bench_function(BenchmarkId::from_parameter(&name), |b| {
            b.iter(|| compress_frame(black_box(&frame), 3).unwrap())
        });
        group.finish();
    }
}

criterion_group!(benches, stages);
criterion_main!(benches);
