//! The bodies of traceblast's fuzz targets, one function per target, shared by the cargo-fuzz
//! binaries (`fuzz_targets/*.rs`, nightly) and by `tests/regressions.rs`, which feeds every
//! committed seed and regression input through the same functions on stable.
//!
//! Each function takes the raw bytes libFuzzer made up, drives one parser the way traceblast
//! drives it on a user's file or a received body, and asserts what must hold whatever the
//! input: no panic, no unbounded allocation (the fuzz scripts run with `-malloc_limit_mb`),
//! and the properties named at each function (a patch spliced equals a patch applied, a
//! merged report reads back, an error never shows a secret, ...).

use std::io::Write;

use base64::Engine;
use bytes::Bytes;
use traceblast::analyze::{self, MetricsReport};
use traceblast::config::env::{header_hint, parse_dotenv, parse_otel_headers};
use traceblast::corpus::reader::Corpus;
use traceblast::replay::body::Body;
use traceblast::replay::h1;
use traceblast::replay::patch::{Patch, id_keys};
use traceblast::report::compare::{Thresholds, compare};
use traceblast::report::model::{decode_histogram, encode_histogram};
use traceblast::report::{self, Render, html::Html, json::Json, text::Text};
use traceblast::sink::decode::{self, Encoding, Format};
use traceblast::wire::{self, CountSpans};
use traceblast::{platform, scenario};

/// The body of a fuzz target: the bytes libFuzzer made up.
pub type Target = fn(&[u8]);

/// Every target: its name (as cargo-fuzz knows it, and the folder of its inputs) and body.
pub const TARGETS: [(&str, Target); 10] = [
    ("corpus_reader", corpus_reader),
    ("wire_patch", wire_patch),
    ("sink_decode", sink_decode),
    ("report_json", report_json),
    ("scenario_toml", scenario_toml),
    ("env_headers", env_headers),
    ("collector_logs", collector_logs),
    ("collector_metrics", collector_metrics),
    ("h1_response", h1_response),
    ("sent_log", sent_log),
];

/// A sent log (`RUN.sent.zst`, what `verify` reads): decompressed and parsed as a file is, and
/// parsed as JSON Lines as is; a log that parses writes back to lines that parse to the same log.
pub fn sent_log(data: &[u8]) {
    let _ = traceblast::sent::parse(data, "fuzz.sent.zst");
    let Ok(log) = traceblast::sent::parse_lines(data, "fuzz.jsonl") else { return };
    let mut out = Vec::new();
    traceblast::sent::write_lines(&log, &mut out).expect("writing to memory");
    let back = traceblast::sent::parse_lines(&out[..], "again.jsonl").expect("a log we write reads back");
    assert_eq!(back, log, "a log reads back as written");
}

/// A corpus file: `Corpus::open` (footer, index, frame table), then every frame decompressed
/// and split into records the way replay and inspect read them, each record walked by
/// `wire::scan`. An input starting with [`ASSEMBLE`] is a corpus in pieces, put together here
/// (see [`assemble`]) so that mutations of the index reach the reader past its checksum.
pub fn corpus_reader(data: &[u8]) {
    let file_bytes = match data.strip_prefix(ASSEMBLE) {
        Some(pieces) => match assemble(pieces) {
            Some(b) => b,
            None => return,
        },
        None => data.to_vec(),
    };
    let mut file = tempfile::NamedTempFile::new().expect("temporary file");
    file.write_all(&file_bytes).expect("temporary file written");
    let Ok(corpus) = Corpus::open(file.path()) else { return };
    let mut dec = traceblast::corpus::FrameReader::new().expect("zstd context");
    let mut frame = Vec::new();
    let mut records = 0u64;
    for i in 0..corpus.index.frames.len() {
        if corpus.decompress_frame(i, &mut dec, &mut frame).is_err() {
            return;
        }
        let walked = corpus.for_each_record(i, &frame, |_, _, body| {
            records += 1;
            let _ = wire::scan(body, &mut CountSpans::default());
            Ok(())
        });
        if walked.is_err() {
            return;
        }
    }
    assert_eq!(records, corpus.records(), "every frame read, so every record of the index was seen");
}

/// Marks a corpus in pieces: `frames_len u32 | frames | meta_len u32 | meta JSON | tables`, the
/// tables uncompressed (integers little-endian).
pub const ASSEMBLE: &[u8] = b"TBFZ";

/// The corpus file of `pieces` (after [`ASSEMBLE`]), laid out as `gen` writes it (see
/// `docs/corpus-format.md`): the frames, then a skippable frame holding "TBIX", the format
/// version, the metadata, the tables compressed with their lengths, the CRC of all that, the
/// payload length and "TBLASTIX". `None` when the pieces are cut short.
pub fn assemble(pieces: &[u8]) -> Option<Vec<u8>> {
    use traceblast::corpus::format::{FOOTER_MAGIC, FORMAT_VERSION, INDEX_MAGIC, SKIPPABLE_MAGIC};
    let take = |b: &[u8]| -> Option<(usize, usize)> {
        let n = u32::from_le_bytes(b.get(..4)?.try_into().ok()?) as usize;
        (b.len() - 4 >= n).then_some((4, 4 + n))
    };
    let (fs, fe) = take(pieces)?;
    let (frames, rest) = (&pieces[fs..fe], &pieces[fe..]);
    let (ms, me) = take(rest)?;
    let (meta, tables) = (&rest[ms..me], &rest[me..]);
    let z = zstd::bulk::compress(tables, 1).expect("in-memory compression");
    let mut p = Vec::with_capacity(48 + meta.len() + z.len());
    p.extend_from_slice(INDEX_MAGIC);
    p.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    p.extend_from_slice(&(meta.len() as u32).to_le_bytes());
    p.extend_from_slice(meta);
    p.extend_from_slice(&(tables.len() as u64).to_le_bytes());
    p.extend_from_slice(&(z.len() as u64).to_le_bytes());
    p.extend_from_slice(&z);
    let crc = crc32fast::hash(&p);
    p.extend_from_slice(&crc.to_le_bytes());
    p.extend_from_slice(&((p.len() + 4 + FOOTER_MAGIC.len()) as u32).to_le_bytes());
    p.extend_from_slice(FOOTER_MAGIC);
    let mut file = frames.to_vec();
    file.extend_from_slice(&SKIPPABLE_MAGIC.to_le_bytes());
    file.extend_from_slice(&(p.len() as u32).to_le_bytes());
    file.extend_from_slice(&p);
    Some(file)
}

/// A request body after 10 bytes of parameters (8: the time shift; 1: whether IDs are XORed;
/// 1: the key's seed): `Patch::scan`, then `apply` and `splice` must give the same bytes, the
/// patched record must scan to the same patch (its traces being the original's as remapped:
/// what the sent log lists), and patching back must restore the original.
pub fn wire_patch(data: &[u8]) {
    let Some((params, record)) = data.split_at_checked(10) else { return };
    let delta = u64::from_le_bytes(params[..8].try_into().expect("8 bytes"));
    let keys = (params[8] & 1 == 1).then(|| id_keys(u64::from(params[9]), 1, None)).flatten();
    let Ok(patch) = Patch::scan(record) else { return };
    let mut applied = record.to_vec();
    patch.apply(&mut applied, delta, keys);
    let mut pieces = Vec::new();
    patch.splice(&Bytes::copy_from_slice(record), delta, keys, &mut pieces);
    assert_eq!(pieces.concat(), applied, "splice and apply disagree");
    let again = Patch::scan(&applied).expect("a patched record still scans");
    // The patched record's traces are the original's remapped with the keys: what the sent log
    // lists as sent.
    let remapped: Vec<(u128, u32)> = patch.traces_sent(keys).collect();
    assert_eq!(again.traces_sent(None).collect::<Vec<_>>(), remapped, "the traces as sent are not the remapped ones");
    // Everything else (every field's offset, the runs, the span count) is unchanged.
    let layout = |p: &Patch| {
        let s = format!("{p:?}");
        s[..s.find(", traces:").unwrap_or(s.len())].to_string()
    };
    assert_eq!(layout(&again), layout(&patch), "patching moved a field");
    patch.apply(&mut applied, delta.wrapping_neg(), keys);
    assert_eq!(applied, record, "patching back does not restore the record");
}

/// A received body after 3 bytes of parameters: byte 0 picks the encoding (bits 0-1: identity,
/// gzip, zstd, or "compress it here" with bit 3 choosing gzip or zstd) and the format (bit 2:
/// protobuf or JSON); bytes 1-2 the size limit in units of 16 bytes. Decompression must stop at
/// the limit; a body compressed here must come back byte for byte; protobuf span keys must
/// match the span count of `wire::scan`.
pub fn sink_decode(data: &[u8]) {
    let Some((params, body)) = data.split_at_checked(3) else { return };
    let format = if params[0] & 4 == 0 { Format::Protobuf } else { Format::Json };
    let limit = usize::from(u16::from_le_bytes([params[1], params[2]])) * 16;
    let (enc, compressed) = match params[0] & 3 {
        0 => (Encoding::Identity, body.to_vec()),
        1 => (Encoding::Gzip, body.to_vec()),
        2 => (Encoding::Zstd, body.to_vec()),
        _ if params[0] & 8 == 0 => (Encoding::Gzip, gzip(body)),
        _ => (Encoding::Zstd, zstd::bulk::compress(body, 1).expect("zstd compresses")),
    };
    let mut out = Vec::new();
    let res = decode::decompress(&compressed, enc, limit, &mut out);
    if params[0] & 3 == 3 {
        match &res {
            Ok(()) => assert_eq!(out, body, "decompressing what was compressed here"),
            Err(e) => assert!(body.len() > limit, "{} bytes within the {limit}-byte limit: {e}", body.len()),
        }
    }
    if res.is_err() {
        return;
    }
    assert!(out.len() <= limit, "decompressed {} bytes past the {limit}-byte limit", out.len());
    let mut keys = Vec::new();
    let res = decode::span_keys(&out, format, &mut keys);
    if format == Format::Protobuf {
        let mut count = CountSpans::default();
        let scanned = wire::scan(&out, &mut count);
        assert_eq!(res.is_ok(), scanned.is_ok());
        if res.is_ok() {
            assert_eq!(keys.len() as u64, count.0);
        }
    }
}

fn gzip(body: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(body).expect("in memory");
    e.finish().expect("in memory")
}

/// A saved report (text starting with `{`): parsed and validated as `traceblast report` reads
/// it, rendered as text, HTML and JSON (the JSON must read back equal), compared with itself
/// under every threshold, merged with itself (the merge must read back too). Any other input is
/// a raw HdrHistogram, base64-encoded and decoded as a report's histograms are.
pub fn report_json(data: &[u8]) {
    if !data.starts_with(b"{") {
        let encoded = base64::engine::general_purpose::STANDARD.encode(data);
        if let Ok(h) = decode_histogram(&encoded) {
            let back = decode_histogram(&encode_histogram(&h)).expect("a histogram we encode decodes");
            assert_eq!(back, h);
        }
        return;
    }
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(r) = report::json::parse(text, "fuzz.json") else { return };
    let _ = Text.render(&r);
    let _ = Html.render(&r);
    let written = Json.render(&r);
    let back = report::json::parse(&written, "again.json").expect("a report we write reads back");
    if back != r {
        let again = Json.render(&back);
        let (n, (a, b)) = written.lines().zip(again.lines()).enumerate().find(|(_, (a, b))| a != b).unwrap_or_default();
        panic!("a report we write reads back different: line {}: {} became {}", n + 1, a.trim(), b.trim());
    }
    let all = Thresholds {
        max_p50_regression: Some(10.0),
        max_p99_regression: Some(10.0),
        min_success: Some(99.0),
        max_error_rate: Some(1.0),
        min_rate_ratio: Some(0.9),
    };
    let c = compare("a.json", &r, "b.json", &r, &all);
    let _ = (Text.render(&c), Json.render(&c));
    if let Ok(m) = report::merge::merge(&[("a.json".into(), r.clone()), ("b.json".into(), r)]) {
        let _ = (Text.render(&m.report), Html.render(&m.report));
        report::json::parse(&Json.render(&m.report), "merged.json").expect("a merged report reads back");
    }
}

/// A scenario file: parsed and compiled as `gen --scenario FILE` does.
pub fn scenario_toml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(s) = scenario::parse(text, "fuzz.toml") {
        let _ = scenario::compile(&s, "fuzz.toml");
    }
}

/// Marks a secret in inputs: wherever it stands where only a value can be, no message may show it.
const CANARY: &str = "s3cr3t";

/// One text read three ways: as a `.env` file, as `OTEL_EXPORTER_OTLP_HEADERS`, as a URL to
/// redact. Errors and redacted URLs must never show [`CANARY`] when it stands in a value: after
/// `=` on its line of the `.env` file, after a `:`, `=` or space in its header entry, in the
/// userinfo or a secret query parameter of a URL.
pub fn env_headers(data: &[u8]) {
    if let Err(e) = parse_dotenv(data, "fuzz.env") {
        let in_values = lines_with(data, CANARY).all(|(line, at)| line[..at].contains(&b'='));
        assert!(!(in_values && e.contains(CANARY)), "a .env error shows a value: {e}");
    }
    let text = String::from_utf8_lossy(data);
    if let Err(e) = parse_otel_headers("OTEL_EXPORTER_OTLP_HEADERS", &text) {
        let in_values = text.split(',').map(str::trim).all(|item| {
            item.match_indices(CANARY).all(|(at, _)| item[..at].find([':', '=', ' ']).is_some_and(|i| i > 0))
        });
        let e = e.to_string();
        assert!(!(in_values && e.contains(CANARY)), "a header error shows a value: {e}");
    }
    for (n, item) in text.split(',').enumerate().take(16) {
        let _ = header_hint(item.trim(), n + 1);
    }
    let redacted = platform::redact_url(&text);
    if text.matches(CANARY).count() == 1
        && let Ok(uri) = text.parse::<http::Uri>()
    {
        let userinfo = uri.authority().and_then(|a| a.as_str().rsplit_once('@')).map(|(u, _)| u);
        let secret_param = uri.query().is_some_and(|q| {
            q.split('&')
                .any(|kv| kv.split_once('=').is_some_and(|(k, v)| platform::is_secret_header(k) && v.contains(CANARY)))
        });
        if userinfo.is_some_and(|u| u.contains(CANARY)) || secret_param {
            assert!(!redacted.contains(CANARY), "{text:?} redacted to {redacted:?}");
        }
    }
}

/// `(line, offset of needle in it)` for every occurrence of `needle` in `data`, by line.
fn lines_with<'a>(data: &'a [u8], needle: &'a str) -> impl Iterator<Item = (&'a [u8], usize)> + 'a {
    data.split(|b| *b == b'\n').flat_map(move |line| {
        line.windows(needle.len())
            .enumerate()
            .filter(move |(_, w)| *w == needle.as_bytes())
            .map(move |(i, _)| (line, i))
    })
}

/// A Collector log, read as `traceblast analyze LOGFILE` reads it, and the report built from it
/// in both forms. Unless the counts saturated, the spans dropped are those of the statuses, the
/// drops without a status and the full queues, exactly.
pub fn collector_logs(data: &[u8]) {
    let l = analyze::logs::scan(data).expect("reading memory cannot fail");
    assert!(l.records + l.unparsed <= l.lines);
    if !l.saturated {
        let by_status: u64 = l.by_status.iter().map(|s| s.spans_dropped).sum();
        assert_eq!(by_status + l.no_status.spans_dropped + l.queue_full.spans_dropped, l.spans_dropped);
    }
    let sources = analyze::Sources { logs: Some("fuzz.log".into()), metrics: None };
    let r = analyze::Report::new(sources, Some(l), None);
    let _ = analyze::text::report_text(&r);
    serde_json::to_string(&r).expect("the report serializes");
}

/// A Collector metrics page, read as `traceblast analyze --metrics FILE` reads it, and the
/// report in both forms. Unless the counts saturated, the totals are the sums of the rows.
pub fn collector_metrics(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let m = MetricsReport::parse(&text);
    if !m.saturated {
        assert_eq!(m.spans_dropped, m.send_failed_spans + m.enqueue_failed_spans);
        assert_eq!(m.sent_spans, m.exporters.iter().map(|e| e.sent).sum::<u64>());
    }
    let sources = analyze::Sources { logs: None, metrics: Some("fuzz.prom".into()) };
    let r = analyze::Report::new(sources, None, Some(m));
    let _ = analyze::text::report_text(&r);
    serde_json::to_string(&r).expect("the report serializes");
}

/// What a server sends back to one request, read by replay's hand-written HTTP/1.1 client
/// (`replay::h1`): the first byte sets the body limit (64-byte steps), the rest is what the
/// server writes before it closes the connection. Must hold: no panic and no hang (the close
/// ends every read), a body read whole is never longer than the limit, and the connection is
/// kept for another request only after a whole response.
pub fn h1_response(data: &[u8]) {
    let Some((&limit, answer)) = data.split_first() else { return };
    let max = usize::from(limit) * 64;
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("a runtime");
    rt.block_on(async {
        let (client, mut server) = tokio::io::duplex(1 << 16);
        let mut conn = h1::Conn::new(Box::new(client));
        let head = h1::Head::new("/v1/traces", "fuzz:4318", &http::HeaderMap::new());
        let body = Body::from(Bytes::from_static(b"an OTLP request"));
        let serve = async move {
            use tokio::io::AsyncWriteExt;
            let _ = server.write_all(answer).await;
            drop(server);
        };
        let (r, ()) = tokio::join!(conn.exchange(&head, &body, max), serve);
        let whole = match &r {
            Ok(resp) => match &resp.body {
                h1::ReadBody::Whole(b) => {
                    assert!(b.len() <= max, "a {}-byte body past the {max}-byte limit", b.len());
                    true
                }
                _ => false,
            },
            Err(_) => false,
        };
        assert!(whole || !conn.is_usable(), "a connection kept after an incomplete response: {r:?}");
    });
}
