//! Writes the fuzz seeds that are made from real traceblast data by code rather than copied:
//! the seed corpora in pieces (for the index-aware mode of `corpus_reader`), request bodies cut from a generated corpus (whole, and reduced to a few spans so the
//! fuzzer's mutations reach every field quickly), in every encoding the sink reads, and the raw
//! HdrHistograms of a saved report. The copied seeds (corpora, reports, logs, scenarios,
//! `.env`) are listed in `fuzz/README.md`.
//!
//! `cargo run --manifest-path fuzz/Cargo.toml --example seeds` (from the repository root).

use std::io::Write;
use std::path::Path;

use base64::Engine;
use prost::Message;
use traceblast::corpus::format::tables_to_bytes;
use traceblast::corpus::reader::Corpus;
use traceblast::otlp::{ExportTraceServiceRequest, json::request_to_json};
use traceblast_fuzz::ASSEMBLE;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("fuzz/ is in the repository");
    let corpus_dir = root.join("fuzz/corpus");
    let record = first_record(&root.join("fixtures/corpora/simple_query.zst"));
    let full = ExportTraceServiceRequest::decode(record.as_slice()).expect("a corpus record decodes");
    let reduced = |spans: usize| {
        let mut r = full.clone();
        r.resource_spans.truncate(1);
        let scope = &mut r.resource_spans[0].scope_spans;
        scope.truncate(1);
        scope[0].spans.truncate(spans);
        r.encode_to_vec()
    };
    let (one, three) = (reduced(1), reduced(3));

    let patch = |name: &str, params: [u8; 10], body: &[u8]| write(&corpus_dir, "wire_patch", name, &[&params, body]);
    let shift = 1_000_000_000u64.to_le_bytes();
    let with = |flag: u8| {
        let mut p = [0u8; 10];
        p[..8].copy_from_slice(&shift);
        (p[8], p[9]) = (flag, 7);
        p
    };
    patch("record-whole-keep-ids", with(0), &record);
    patch("record-1-span-new-ids", with(1), &one);
    patch("record-3-spans-new-ids", with(1), &three);

    let json = serde_json::to_vec(&request_to_json(&ExportTraceServiceRequest::decode(three.as_slice()).unwrap()))
        .expect("JSON serializes");
    let limit = [0xff, 0xff];
    let sink = |name: &str, mode: u8, body: &[u8]| write(&corpus_dir, "sink_decode", name, &[&[mode], &limit, body]);
    sink("protobuf-identity", 0, &three);
    sink("protobuf-gzip", 1, &gzip(&three));
    sink("protobuf-zstd", 2, &zstd::bulk::compress(&three, 3).unwrap());
    sink("protobuf-compressed-here", 3, &three);
    sink("json-identity", 4, &json);
    sink("json-gzip", 5, &gzip(&json));
    sink("json-zstd-compressed-here", 4 | 3 | 8, &json);

    for name in ["gen-1-simple_query.zst", "gen-2-traces-per-request-2.zst"] {
        let path = corpus_dir.join("corpus_reader").join(name);
        let c = Corpus::open(&path).expect("seed corpus opens");
        let file = std::fs::read(&path).unwrap();
        let frames = &file[..c.data_end as usize];
        let meta = serde_json::to_vec(&c.index.meta).unwrap();
        let tables = tables_to_bytes(&c.index.frames, &c.index.records);
        let len = |b: &[u8]| (b.len() as u32).to_le_bytes();
        let pieces = [ASSEMBLE, &len(frames), frames, &len(&meta), &meta, &tables];
        let assembled = name.replace(".zst", ".pieces");
        write(&corpus_dir, "corpus_reader", &assembled, &pieces);
        let again = root.join("target").join(format!("reassembled-{name}"));
        std::fs::write(&again, traceblast_fuzz::assemble(&pieces[1..].concat()).expect("whole pieces")).unwrap();
        assert!(Corpus::open(&again).expect("reassembled corpus opens").index == c.index, "{name} reassembles");
        std::fs::remove_file(&again).unwrap();
    }

    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("fixtures/reports/replay-v1.json")).unwrap()).unwrap();
    for key in ["corrected", "lateness"] {
        let b64 = report["histograms"][key].as_str().expect("a histogram");
        let raw = base64::engine::general_purpose::STANDARD.decode(b64).unwrap();
        write(&corpus_dir, "report_json", &format!("histogram-{key}"), &[&raw]);
    }
    let second = report["series"][3]["hist"].as_str().expect("a per-second histogram");
    let raw = base64::engine::general_purpose::STANDARD.decode(second).unwrap();
    write(&corpus_dir, "report_json", "histogram-one-second", &[&raw]);
}

fn first_record(path: &Path) -> Vec<u8> {
    let corpus = Corpus::open(path).expect("fixture corpus opens");
    let mut dec = traceblast::corpus::FrameReader::new().unwrap();
    let mut data = Vec::new();
    corpus.decompress_frame(0, &mut dec, &mut data).unwrap();
    let mut first = None;
    corpus
        .for_each_record(0, &data, |_, _, body| {
            first.get_or_insert_with(|| body.to_vec());
            Ok(())
        })
        .unwrap();
    first.expect("the fixture has a record")
}

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

fn write(corpus: &Path, target: &str, name: &str, parts: &[&[u8]]) {
    let dir = corpus.join(target);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), parts.concat()).unwrap();
}
