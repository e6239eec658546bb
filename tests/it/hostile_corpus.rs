//! Crafted corpora whose index lies (counts that wrap, frame sizes of 2^47 and 2^63, offsets
//! outside the file, records that disagree with the frames) or whose records are not OTLP,
//! with every checksum correct. Each must give one line naming the file and byte offset and
//! exit 2 in every command that reads a corpus — never a panic, an abort or a huge allocation.

use std::path::{Path, PathBuf};
use std::process::Output;

use traceblast::corpus::Corpus;
use traceblast::corpus::format::{FOOTER_MAGIC, FORMAT_VERSION, FrameEntry, INDEX_MAGIC, Meta, SKIPPABLE_MAGIC};

use crate::util::*;

/// A small valid corpus and what it is made of.
struct Parts {
    data: Vec<u8>,
    meta: Meta,
    frames: Vec<FrameEntry>,
    /// scenario, traces, spans, len columns, as stored.
    columns: (Vec<u8>, Vec<u16>, Vec<u32>, Vec<u32>),
}

fn parts(dir: &Path) -> Parts {
    let c = dir.join("good.zst");
    let o = run(&["gen", "-q", "--count", "6", "--mix", "simple=1", "-o", c.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let corpus = Corpus::open(&c).unwrap();
    let bytes = std::fs::read(&c).unwrap();
    let r = &corpus.index.records;
    Parts {
        data: bytes[..corpus.data_end as usize].to_vec(),
        meta: corpus.index.meta.clone(),
        frames: corpus.index.frames.clone(),
        columns: (r.scenario.clone(), r.traces.clone(), r.spans.clone(), r.len.clone()),
    }
}

/// Raw tables: the counts as given (they may lie), then the frames and the columns.
fn tables(nframes: u64, nrec: u64, frames: &[FrameEntry], cols: &(Vec<u8>, Vec<u16>, Vec<u32>, Vec<u32>)) -> Vec<u8> {
    let mut t = Vec::new();
    t.extend_from_slice(&nframes.to_le_bytes());
    t.extend_from_slice(&nrec.to_le_bytes());
    for f in frames {
        for v in [f.offset, f.len, f.raw_len, f.first_record, f.records] {
            t.extend_from_slice(&v.to_le_bytes());
        }
    }
    t.extend_from_slice(&cols.0);
    cols.1.iter().for_each(|v| t.extend_from_slice(&v.to_le_bytes()));
    cols.2.iter().for_each(|v| t.extend_from_slice(&v.to_le_bytes()));
    cols.3.iter().for_each(|v| t.extend_from_slice(&v.to_le_bytes()));
    t
}

/// A corpus file of `data` and an index with `meta` and raw `tables` (claiming `raw_len`),
/// laid out as docs/corpus-format.md says, with a correct CRC.
fn write(dir: &Path, name: &str, data: &[u8], meta: &Meta, tables: &[u8], raw_len: u64) -> PathBuf {
    let meta_json = serde_json::to_vec(meta).unwrap();
    let z = zstd::bulk::compress(tables, 3).unwrap();
    let mut p = Vec::new();
    p.extend_from_slice(INDEX_MAGIC);
    p.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    p.extend_from_slice(&(meta_json.len() as u32).to_le_bytes());
    p.extend_from_slice(&meta_json);
    p.extend_from_slice(&raw_len.to_le_bytes());
    p.extend_from_slice(&(z.len() as u64).to_le_bytes());
    p.extend_from_slice(&z);
    let crc = crc32fast::hash(&p);
    p.extend_from_slice(&crc.to_le_bytes());
    p.extend_from_slice(&((p.len() + 12) as u32).to_le_bytes());
    p.extend_from_slice(FOOTER_MAGIC);
    let mut file = data.to_vec();
    file.extend_from_slice(&SKIPPABLE_MAGIC.to_le_bytes());
    file.extend_from_slice(&(p.len() as u32).to_le_bytes());
    file.extend_from_slice(&p);
    let path = dir.join(name);
    std::fs::write(&path, file).unwrap();
    path
}

/// Every command that reads `path` exits 2 with one line naming the file and `needles`.
fn refused_everywhere(dir: &Path, path: &Path, needles: &[&str]) {
    let p = path.to_str().unwrap();
    let name = path.file_name().unwrap().to_str().unwrap();
    let sink = "http://127.0.0.1:9/v1/traces";
    let commands: [&[&str]; 6] = [
        &["inspect", p],
        &["inspect", "--json", p],
        &["inspect", "--verify", p],
        &["inspect", "--dump", "0", p],
        &["replay", p, "--dry-run", "--endpoint", sink],
        &["replay", p, "--endpoint", sink, "--rate", "100", "-q"],
    ];
    for args in commands {
        let o = run_in(dir, args);
        let mut all = vec![name];
        all.extend_from_slice(needles);
        assert_bad_input(&o, &all);
        assert!(stderr(&o).len() < 400, "{args:?}: a long message: {}", stderr(&o));
    }
}

#[test]
fn an_index_that_lies_is_refused_by_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let g = parts(d);
    let n = g.columns.3.len() as u64;
    let nf = g.frames.len() as u64;
    let exact = |frames: &[FrameEntry]| tables(nf, n, frames, &g.columns);
    let raw = |t: &[u8]| t.len() as u64;

    // Counts that wrap u64 when multiplied by their entry sizes.
    let t = tables(u64::MAX, n, &g.frames, &g.columns);
    let f = write(d, "frames-wrap.zst", &g.data, &g.meta, &t, raw(&t));
    refused_everywhere(d, &f, &["frames", "byte offset"]);
    let t = tables(nf, u64::MAX / 11 + 1, &g.frames, &g.columns);
    let f = write(d, "records-wrap.zst", &g.data, &g.meta, &t, raw(&t));
    refused_everywhere(d, &f, &["records", "byte offset"]);

    // A frame's raw size of 2^47 and of 2^63.
    for (name, v) in [("raw47.zst", 1u64 << 47), ("raw63.zst", 1u64 << 63)] {
        let mut frames = g.frames.clone();
        frames[0].raw_len = v;
        let t = exact(&frames);
        let f = write(d, name, &g.data, &g.meta, &t, raw(&t));
        refused_everywhere(d, &f, &["frame 0", "raw size", "byte offset"]);
    }

    // Offsets outside the file.
    let mut frames = g.frames.clone();
    frames[0].offset = 1 << 40;
    let t = exact(&frames);
    let f = write(d, "offset.zst", &g.data, &g.meta, &t, raw(&t));
    refused_everywhere(d, &f, &["frame 0", "byte offset"]);
    let mut frames = g.frames.clone();
    frames[0].len = u64::MAX - 3;
    let t = exact(&frames);
    let f = write(d, "length.zst", &g.data, &g.meta, &t, raw(&t));
    refused_everywhere(d, &f, &["frame 0", "byte offset"]);

    // Record counts that disagree with the frames.
    let mut frames = g.frames.clone();
    frames[0].records += 1;
    let t = exact(&frames);
    let f = write(d, "records.zst", &g.data, &g.meta, &t, raw(&t));
    refused_everywhere(d, &f, &["frame 0", "records", "byte offset"]);
    let mut cols = g.columns.clone();
    cols.3[0] += 1;
    let t = tables(nf, n, &g.frames, &cols);
    let f = write(d, "lengths.zst", &g.data, &g.meta, &t, raw(&t));
    refused_everywhere(d, &f, &["frame 0", "byte offset"]);

    // Tables that claim far more bytes than their compressed size can hold (an allocation of
    // 2^62 bytes on trust used to abort).
    let t = exact(&g.frames);
    let f = write(d, "tables-huge.zst", &g.data, &g.meta, &t, 1 << 62);
    refused_everywhere(d, &f, &["index tables", "byte offset"]);

    // Metadata whose totals disagree with the tables.
    let mut meta = g.meta.clone();
    meta.totals.spans += 1;
    let t = exact(&g.frames);
    let f = write(d, "totals.zst", &g.data, &meta, &t, raw(&t));
    refused_everywhere(d, &f, &["totals", "byte offset"]);
}

/// The records of frame 0 of `g`, re-framed with record `k` replaced by `body`.
fn with_record(g: &Parts, k: usize, body: &[u8]) -> (Vec<u8>, Vec<FrameEntry>, Vec<u32>) {
    let corpus_frame = &g.data[g.frames[0].offset as usize..(g.frames[0].offset + g.frames[0].len) as usize];
    let raw = zstd::bulk::decompress(corpus_frame, 64 << 20).unwrap();
    let (mut pos, mut out, mut lens) = (0usize, Vec::new(), Vec::new());
    for i in 0..g.columns.3.len() {
        let (len, n) = traceblast::corpus::reader::read_varint(&raw[pos..]).unwrap();
        let rec = if i == k { body } else { &raw[pos + n..pos + n + len as usize] };
        let mut prefix = Vec::new();
        let mut v = rec.len() as u64;
        loop {
            if v < 0x80 {
                prefix.push(v as u8);
                break;
            }
            prefix.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.extend_from_slice(&prefix);
        out.extend_from_slice(rec);
        lens.push(rec.len() as u32);
        pos += n + len as usize;
    }
    let mut c = zstd::bulk::Compressor::new(3).unwrap();
    c.include_checksum(true).unwrap();
    c.include_contentsize(true).unwrap();
    let z = c.compress(&out).unwrap();
    let frames = vec![FrameEntry {
        offset: 0,
        len: z.len() as u64,
        raw_len: out.len() as u64,
        first_record: 0,
        records: lens.len() as u64,
    }];
    (z, frames, lens)
}

#[test]
fn records_that_are_not_otlp_are_refused_with_their_offset() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let g = parts(d);
    assert_eq!(g.frames.len(), 1, "six simple traces fit one frame");
    // Record 0 replaced by bytes that are not an ExportTraceServiceRequest; every checksum
    // (zstd's, the index's) is right.
    let garbage = vec![0xFFu8; 300];
    let (z, frames, lens) = with_record(&g, 0, &garbage);
    let mut cols = g.columns.clone();
    cols.3 = lens;
    let mut meta = g.meta.clone();
    meta.totals.raw_bytes = cols.3.iter().map(|&l| u64::from(l)).sum();
    let t = tables(1, cols.3.len() as u64, &frames, &cols);
    let f = write(d, "garbage.zst", &z, &meta, &t, t.len() as u64);
    // The index is consistent, so plain inspect (which reads only the index) shows it; every
    // command that reads records refuses it with the record and the byte offset.
    assert!(run(&["inspect", f.to_str().unwrap()]).status.success());
    let p = f.to_str().unwrap();
    let sink = "http://127.0.0.1:9/v1/traces";
    for args in [
        &["inspect", "--verify", p][..],
        &["inspect", "--dump", "0", p],
        &["replay", p, "--dry-run", "--endpoint", sink],
        &["replay", p, "--endpoint", sink, "--rate", "100", "-q"],
    ] {
        let o = run_in(d, args);
        assert_bad_input(&o, &["garbage.zst", "record 0", "byte"]);
    }
}

#[test]
fn a_fifo_or_directory_is_refused_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo.zst");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    // With nobody writing to the FIFO, opening it for reading would block forever.
    for args in [&["inspect", fifo.to_str().unwrap()][..], &["replay", fifo.to_str().unwrap(), "--dry-run"]] {
        let o = run(args);
        assert_bad_input(&o, &["fifo.zst", "named pipe (FIFO)"]);
    }
    let o = run(&["inspect", dir.path().to_str().unwrap()]);
    assert_bad_input(&o, &["a directory"]);
    let o = run(&["inspect", dir.path().join("missing.zst").to_str().unwrap()]);
    assert_bad_input(&o, &["missing.zst", "No such file"]);
    assert_eq!(stderr(&o).matches("No such file").count(), 1, "the cause is printed once: {}", stderr(&o));
}

/// Runs replay of `corpus` at `rate` into `sink` with a report; returns output and report.
fn replay_into(dir: &Path, corpus: &Path, sink: &traceblast::sink::Running, rate: &str) -> (Output, serde_json::Value) {
    let report = dir.join("run.json");
    let url = format!("http://{}/v1/traces", sink.addr);
    let o = run_in(
        dir,
        &["replay", corpus.to_str().unwrap(), "--endpoint", &url, "--rate", rate, "--report", "run.json", "-q"],
    );
    let r = serde_json::from_slice(&std::fs::read(report).expect("the report is written")).unwrap();
    (o, r)
}

/// The report accounts for exactly what the sink answered.
fn assert_accounted(r: &serde_json::Value, sink: traceblast::sink::Summary) {
    let q = &r["requests"];
    let n = |k: &str| q[k].as_u64().unwrap();
    assert_eq!(n("scheduled"), n("ok") + n("failed") + n("missed"), "{q}");
    assert_eq!(n("ok"), sink.requests, "every request the sink answered is counted ok");
}

#[test]
fn a_record_found_malformed_mid_run_stops_the_run_with_a_report() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let g = parts(d);
    // Record 4 of 6 is not OTLP: replay sends records 0-3, then stops on record 4.
    let (z, frames, lens) = with_record(&g, 4, &[0x0A, 0x05, 0xFF, 0xFF]);
    let mut cols = g.columns.clone();
    cols.3 = lens;
    let mut meta = g.meta.clone();
    meta.totals.raw_bytes = cols.3.iter().map(|&l| u64::from(l)).sum();
    let t = tables(1, cols.3.len() as u64, &frames, &cols);
    let f = write(d, "bad4.zst", &z, &meta, &t, t.len() as u64);
    let s = traceblast::sink::spawn(traceblast::sink::SinkPlan::default()).unwrap();
    let (o, r) = replay_into(d, &f, &s, "200");
    assert_bad_input(&o, &["bad4.zst", "record 4", "not valid OTLP", "byte"]);
    assert_eq!(r["run"]["ended_by"], "error");
    assert!(r["run"]["error"].as_str().unwrap().contains("record 4"), "{}", r["run"]);
    assert_eq!(r["requests"]["scheduled"], 4, "the four good records were sent, nothing after");
    assert_accounted(&r, s.shutdown());
}

#[test]
fn a_corpus_truncated_while_replay_reads_it_ends_the_run_with_an_error_and_a_report() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let c = d.join("big.zst");
    let o = run(&["gen", "-q", "--count", "400", "--mix", "simple=1", "-o", c.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let frames = Corpus::open(&c).unwrap().index.frames;
    assert!(frames.len() >= 3, "several frames: {}", frames.len());
    let s = traceblast::sink::spawn(traceblast::sink::SinkPlan::default()).unwrap();
    let url = format!("http://{}/v1/traces", s.addr);
    let child = std::process::Command::new(bin())
        .args(["replay", c.to_str().unwrap(), "--endpoint", &url, "--rate", "20", "--report", "run.json", "-q"])
        .current_dir(d)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // At 20/s replay prepares about 64 requests ahead: frame 0 is read at once, frame 1 only
    // seconds later. Cut the file after frame 0 as soon as the first request arrived.
    assert!(s.wait_until(std::time::Duration::from_secs(20), |x| x.requests >= 1), "replay started");
    let f = std::fs::OpenOptions::new().write(true).open(&c).unwrap();
    f.set_len(frames[0].offset + frames[0].len).unwrap();
    let o = child.wait_with_output().unwrap();
    // Not SIGBUS (a memory map would fault on the pages past the new end): one line, exit 2.
    assert_bad_input(&o, &["big.zst", "frame 1", "truncated"]);
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(d.join("run.json")).unwrap()).unwrap();
    assert_eq!(r["run"]["ended_by"], "error");
    assert_eq!(r["requests"]["scheduled"], frames[0].records, "every record of frame 0 was sent, none after");
    assert_accounted(&r, s.shutdown());
}
