//! `gen --shape sdk` and `replay --timing recorded`: the export timeline of an instrumented
//! application — what each simulated BatchSpanProcessor sends, when — generated reproducibly,
//! with exact span accounting, and replayed at its recorded times.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use traceblast::corpus::{Corpus, FrameReader};
use traceblast::otlp;
use traceblast::sink::{self, SinkPlan};

use crate::replay::replay;
use crate::util::*;

/// `gen` with `args` into `dir/name`; panics on failure.
fn gen_corpus(dir: &Path, name: &str, args: &[&str], env: &[(&str, &str)]) -> PathBuf {
    let out = dir.join(name);
    let mut cmd = std::process::Command::new(bin());
    cmd.args(["gen", "-q", "-o", out.to_str().unwrap()]).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    out
}

/// Every record as (send offset, body), in corpus order.
fn records(path: &Path) -> Vec<(u64, Vec<u8>)> {
    let c = Corpus::open(path).unwrap();
    let mut out = Vec::new();
    let (mut reader, mut data) = (FrameReader::new().unwrap(), Vec::new());
    for f in 0..c.index.frames.len() {
        c.decompress_frame(f, &mut reader, &mut data).unwrap();
        c.for_each_record(f, &data, |_, meta, body| {
            out.push((meta.offset_ns, body.to_vec()));
            Ok(())
        })
        .unwrap();
    }
    out
}

fn spans_of(body: &[u8]) -> Vec<(String, otlp::Span)> {
    let req = otlp::decode_request(body).unwrap();
    let mut out = Vec::new();
    for rs in req.resource_spans {
        let service = rs
            .resource
            .iter()
            .flat_map(|r| &r.attributes)
            .find(|kv| kv.key == "service.name")
            .and_then(|kv| kv.value.as_ref())
            .map(|v| format!("{v:?}"))
            .unwrap_or_default();
        for ss in rs.scope_spans {
            out.extend(ss.spans.into_iter().map(|s| (service.clone(), s)));
        }
    }
    out
}

const SDK: &[&str] = &["--shape", "sdk", "--sessions-per-second", "40", "--bsp-delay", "1s"];

#[test]
fn the_timeline_is_the_same_for_any_thread_count_and_a_longer_one_begins_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let with = |extra: &[&'static str]| -> Vec<&'static str> { [SDK, extra].concat() };
    let one = gen_corpus(d, "one.zst", &with(&["--count", "240", "--threads", "1"]), &[]);
    let two = gen_corpus(d, "two.zst", &with(&["--count", "240", "--threads", "2"]), &[]);
    assert_eq!(std::fs::read(&one).unwrap(), std::fs::read(&two).unwrap(), "bytes depend on --threads");
    let long = gen_corpus(d, "long.zst", &with(&["--count", "480"]), &[]);
    let (short, long) = (records(&one), records(&long));
    // The first session the short corpus lacks starts at the earliest start among its spans.
    let short_traces: HashSet<Vec<u8>> =
        short.iter().flat_map(|(_, b)| spans_of(b)).map(|(_, s)| s.trace_id.clone()).collect();
    let epoch = Corpus::open(&one).unwrap().index.meta.epoch_ns;
    let first_new = long
        .iter()
        .flat_map(|(_, b)| spans_of(b))
        .filter(|(_, s)| !short_traces.contains(&s.trace_id))
        .map(|(_, s)| s.start_time_unix_nano - epoch)
        .min()
        .expect("the long corpus has more sessions");
    let before: Vec<_> = short.iter().take_while(|(o, _)| *o < first_new).collect();
    assert!(before.len() * 2 > short.len(), "{} of {} records precede session 240", before.len(), short.len());
    for (k, rec) in before.iter().enumerate() {
        assert_eq!(**rec, long[k], "record {k} (sent at {} ns) differs", rec.0);
    }
}

#[test]
fn every_span_is_exported_once_or_counted_as_dropped_as_the_sdk_drops_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let whole = gen_corpus(d, "whole.zst", &["--count", "300"], &[]);
    let whole_meta = Corpus::open(&whole).unwrap().index.meta;
    // A slow exporter (2 s a call) with a small queue, against 50 sessions a second: full queues.
    let args = ["--count", "300", "--shape", "sdk", "--sessions-per-second", "50", "--bsp-batch", "50"];
    let sdk = gen_corpus(d, "sdk.zst", &[&args[..], &["--bsp-queue", "100", "--bsp-export-time", "2s"]].concat(), &[]);
    let meta = Corpus::open(&sdk).unwrap().index.meta;
    let tl = meta.timeline.clone().expect("a timeline corpus says how it was made");
    assert_eq!(meta.format_version, 2);
    assert_eq!(tl.sessions, 300);
    assert!(tl.dropped_spans > 0, "{tl:?}");
    assert_eq!(tl.dropped_spans, tl.dropped_by_service.values().sum::<u64>());
    // The same sessions as the corpus of whole traces: spans sent + dropped = spans made.
    assert_eq!(meta.totals.spans + tl.dropped_spans, whole_meta.totals.spans);
    assert_eq!(meta.totals.traces + tl.dropped_roots, whole_meta.totals.traces);
    assert_eq!(meta.totals.tokens, whole_meta.totals.tokens);
    let recs = records(&sdk);
    let epoch = meta.epoch_ns;
    let mut seen = HashSet::new();
    let mut last = 0;
    for (offset, body) in &recs {
        assert!(*offset >= last, "offsets go back in time");
        last = *offset;
        let req = otlp::decode_request(body).unwrap();
        assert_eq!(req.resource_spans.len(), 1, "one service instance per export");
        let spans = spans_of(body);
        assert!(spans.len() <= 50, "a batch of {} spans", spans.len());
        for (_, s) in &spans {
            assert!(s.end_time_unix_nano - epoch <= *offset, "a span is exported before it ends");
            assert!(seen.insert(s.span_id.clone()), "a span is exported twice");
        }
    }
    assert_eq!(seen.len() as u64, meta.totals.spans);
    // Export batches mix sessions, and a child goes out before its parent.
    assert!(recs.iter().any(|(_, b)| spans_of(b).iter().map(|(_, s)| &s.trace_id).collect::<HashSet<_>>().len() > 1));
    let sent_at: HashMap<Vec<u8>, usize> = recs
        .iter()
        .enumerate()
        .flat_map(|(k, (_, b))| spans_of(b).into_iter().map(move |(_, s)| (s.span_id, k)))
        .collect();
    let child_first = recs
        .iter()
        .enumerate()
        .any(|(k, (_, b))| spans_of(b).iter().any(|(_, s)| sent_at.get(&s.parent_span_id).is_some_and(|&p| p > k)));
    assert!(child_first, "no span went out before its parent");
    let text = stdout(&run(&["inspect", sdk.to_str().unwrap()]));
    assert!(text.contains("sdk export timeline · 300 sessions (sessions-per-second 50)"), "{text}");
    assert!(text.contains("dropped by full queues: "), "{text}");
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&run(&["inspect", "--json", sdk.to_str().unwrap()]))).unwrap();
    assert_eq!(json["meta"]["timeline"]["dropped_spans"], tl.dropped_spans);
    let v = run(&["inspect", "--verify", sdk.to_str().unwrap()]);
    assert!(v.status.success(), "{}", stderr(&v));
}

#[test]
fn the_processor_settings_come_from_otel_bsp_variables_unless_flags_say_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let env = [("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "7"), ("OTEL_BSP_SCHEDULE_DELAY", "250")];
    let base = ["--count", "40", "--shape", "sdk", "--concurrency", "4"];
    let c = gen_corpus(d, "env.zst", &base, &env);
    let tl = Corpus::open(&c).unwrap().index.meta.timeline.unwrap();
    assert_eq!((tl.bsp_batch, tl.bsp_delay_ms, tl.bsp_queue, tl.arrival.as_str()), (7, 250, 2048, "concurrency 4"));
    assert!(records(&c).iter().all(|(_, b)| spans_of(b).len() <= 7));
    let c = gen_corpus(d, "flag.zst", &[&base[..], &["--bsp-batch", "9"]].concat(), &env);
    assert_eq!(Corpus::open(&c).unwrap().index.meta.timeline.unwrap().bsp_batch, 9);
}

#[test]
fn bad_timeline_options_name_the_value() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.zst");
    let o = out.to_str().unwrap();
    let cases: &[(&[&str], &[&str])] = &[
        (&["--shape", "sdk", "--bsp-batch", "0"], &["--bsp-batch", "0"]),
        (&["--shape", "sdk", "--bsp-batch", "3000"], &["--bsp-batch 3000", "--bsp-queue 2048"]),
        (&["--shape", "sdk", "--sessions-per-second", "fast"], &["--sessions-per-second", "fast"]),
        (&["--shape", "sdk", "--concurrency", "0"], &["--concurrency 0"]),
        (&["--shape", "sdk", "--bsp-delay", "0s"], &["--bsp-delay", "0s"]),
        (&["--shape", "sdk", "--shard", "0/2"], &["--shard 0/2", "--shape sdk"]),
        (&["--shape", "sdk", "--traces-per-request", "4"], &["--traces-per-request 4"]),
        (&["--bsp-delay", "1s"], &["--bsp-delay", "--shape sdk"]),
    ];
    for (args, needles) in cases {
        let o = run(&[&["gen", "-q", "--count", "5", "-o", o][..], args].concat());
        assert_bad_input(&o, needles);
    }
    let mut cmd = std::process::Command::new(bin());
    cmd.args(["gen", "-q", "--count", "5", "--shape", "sdk", "-o", o]).env("OTEL_BSP_SCHEDULE_DELAY", "soon");
    assert_bad_input(&cmd.output().unwrap(), &["OTEL_BSP_SCHEDULE_DELAY", "soon"]);
    assert!(!out.exists(), "a refused gen wrote its output");
}

#[test]
fn recorded_timing_sends_each_record_at_its_time_with_its_spans_ending_as_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let c = gen_corpus(d, "app.zst", &[&["--count", "60"][..], SDK].concat(), &[]);
    let corpus = Corpus::open(&c).unwrap();
    let (meta, recs) = (corpus.index.meta.clone(), records(&c));
    let s = sink::spawn(SinkPlan { capture: 10_000, ..SinkPlan::default() }).unwrap();
    let before = std::time::SystemTime::now();
    // One connection: requests arrive in schedule order. Twice, 4x faster than recorded.
    let url = format!("http://{}/v1/traces", s.addr);
    let args = ["--timing", "recorded", "--speed", "4", "--loops", "2", "--connections", "1", "-q"];
    let (o, r) = replay(d, &c, &url, &args, &[]);
    let after = std::time::SystemTime::now();
    assert!(o.status.success(), "{}", stderr(&o));
    let n = recs.len();
    assert_eq!(r["requests"]["ok"], 2 * n as u64);
    assert!(r["run"]["options"]["timing"].as_str().unwrap().starts_with("recorded timeline at 4x"), "{}", r["run"]);
    let got = s.captured();
    let sum = s.shutdown();
    assert_eq!(sum.spans, 2 * meta.totals.spans);
    assert_eq!(sum.duplicate_span_ids, 0, "the second pass has fresh IDs");
    assert_eq!(got.len(), 2 * n);
    // Request i is record i mod n of pass i / n, due at (pass * length + offset) / 4 after the
    // start; its spans moved so they end as long before that as they did on the timeline. So
    // shift + offset - due is the same wall-clock start for every request.
    let ns = |t: std::time::SystemTime| t.duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as i128;
    let mut starts = Vec::new();
    for (i, cap) in got.iter().enumerate() {
        let (offset, stored) = &recs[i % n];
        let stored_end = spans_of(stored).iter().map(|(_, s)| s.end_time_unix_nano).max().unwrap();
        let sent_end = spans_of(&cap.body).iter().map(|(_, s)| s.end_time_unix_nano).max().unwrap();
        let pass = (i / n) as i128;
        let shift = sent_end as i128 - stored_end as i128;
        let timeline_at = pass * meta.timeline.as_ref().unwrap().length_ns as i128 + *offset as i128;
        let due = (timeline_at - recs[0].0 as i128) / 4;
        starts.push(meta.epoch_ns as i128 + shift + *offset as i128 - due);
    }
    let (lo, hi) = (*starts.iter().min().unwrap(), *starts.iter().max().unwrap());
    assert!(hi - lo < 10_000, "the start the shifts imply varies by {} ns", hi - lo);
    assert!(lo >= ns(before) && hi <= ns(after), "the start is outside the run");
}

#[test]
fn recorded_timing_refuses_what_it_cannot_honour() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let whole = gen_corpus(d, "whole.zst", &["--count", "5"], &[]);
    let sdk = gen_corpus(d, "sdk.zst", &["--count", "5", "--shape", "sdk"], &[]);
    let url = "http://127.0.0.1:9/v1/traces";
    let replay_args = |c: &Path, extra: &[&str]| {
        let mut a = vec!["replay".to_string(), c.to_str().unwrap().into(), "--endpoint".into(), url.into()];
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let cases: Vec<(Vec<String>, Vec<&str>)> = vec![
        (replay_args(&whole, &["--timing", "recorded"]), vec!["whole.zst", "no recorded timeline", "--shape sdk"]),
        (replay_args(&sdk, &["--speed", "2"]), vec!["--speed 2", "--timing recorded"]),
        (replay_args(&sdk, &["--timing", "recorded", "--rate", "5"]), vec!["--rate", "--timing recorded"]),
        (replay_args(&sdk, &["--timing", "recorded", "--speed", "0"]), vec!["--speed", "'0'"]),
        (replay_args(&sdk, &["--timing", "recorded", "--batch", "2"]), vec!["--batch"]),
        (replay_args(&sdk, &["--timing", "recorded", "--shard", "1/2"]), vec!["--shard 1/2", "every machine"]),
    ];
    for (args, needles) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        assert_bad_input(&run(&args), &needles);
    }
    let o = run(&["limit", sdk.to_str().unwrap(), "--endpoint", url, "--timing", "recorded"]);
    assert_bad_input(&o, &["--timing"]);
}

#[test]
fn a_timeline_index_that_lies_is_refused_with_its_offset() {
    use traceblast::corpus::format::SKIPPABLE_MAGIC;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let good = gen_corpus(d, "good.zst", &["--count", "30", "--shape", "sdk", "--sessions-per-second", "40"], &[]);
    let c = Corpus::open(&good).unwrap();
    let data = std::fs::read(&good).unwrap()[..c.data_end as usize].to_vec();
    let write =
        |name: &str, meta: &traceblast::corpus::format::Meta, records: &traceblast::corpus::format::RecordTable| {
            let payload = traceblast::corpus::writer::index_payload(meta, &c.index.frames, records);
            let mut file = data.clone();
            file.extend_from_slice(&SKIPPABLE_MAGIC.to_le_bytes());
            file.extend_from_slice(&(payload.len() as u32).to_le_bytes());
            file.extend_from_slice(&payload);
            let p = d.join(name);
            std::fs::write(&p, file).unwrap();
            p
        };
    assert!(c.index.records.len() >= 3, "{} records", c.index.records.len());
    let mut back = c.index.records.clone();
    back.offset.as_mut().unwrap()[2] = 0;
    let mut far = c.index.records.clone();
    let last = far.len() - 1;
    far.offset.as_mut().unwrap()[last] = u64::MAX;
    let mut untimed = c.index.meta.clone();
    untimed.timeline = None;
    let cases = [
        (write("back.zst", &c.index.meta, &back), "record 2 is sent at 0 ns"),
        (write("far.zst", &c.index.meta, &far), "past the"),
        (write("untimed.zst", &untimed, &c.index.records), "no timeline"),
    ];
    for (path, needle) in cases {
        for args in [&["inspect"][..], &["replay", "--dry-run", "--timing", "recorded"]] {
            let mut a = args.to_vec();
            a.insert(1, path.to_str().unwrap());
            assert_bad_input(&run(&a), &[path.file_name().unwrap().to_str().unwrap(), needle]);
        }
    }
    assert!(run(&["inspect", good.to_str().unwrap()]).status.success());
}

#[test]
fn verify_finds_every_trace_of_a_timeline_whole_though_it_arrived_in_pieces() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let c = gen_corpus(d, "app.zst", &["--count", "80", "--shape", "sdk", "--sessions-per-second", "40"], &[]);
    let meta = Corpus::open(&c).unwrap().index.meta;
    let s = sink::spawn(SinkPlan::default()).unwrap();
    let url = format!("http://{}/v1/traces", s.addr);
    let (o, r) = replay(d, &c, &url, &["--timing", "recorded", "--speed", "8", "--verify", "-q"], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v = &r["verify"];
    // Every session whose root was exported is a trace; its parts came from several requests.
    assert_eq!(v["sent"].as_u64(), Some(s.summary().unique_traces), "{v}");
    assert!(v["sent"].as_u64().unwrap() >= meta.totals.traces);
    assert_eq!((v["missing"].as_u64(), v["partial"].as_u64()), (Some(0), Some(0)), "{v}");
    assert_eq!(v["spans_stored"].as_u64(), Some(meta.totals.spans), "{v}");
    assert_eq!(v["passed"], true, "{v}");
}
