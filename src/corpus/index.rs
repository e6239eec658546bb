//! Reading and checking the index of a corpus file. Nothing in the index is trusted: every
//! length is checked against the bytes that hold it before anything is allocated or indexed,
//! every count against the format's caps, and the tables against each other (the frames must
//! tile the data, the records must fill the frames exactly), so that later reads can only fail
//! on the data itself — with an error naming the file and byte offset, never a panic or an
//! allocation the file did not pay for.

use std::io::Read;

use super::format::*;
use crate::encode::MIXED_SCENARIO;

/// Largest record (request body) a corpus may hold: the maximum of `gen --max-request-bytes`.
pub const MAX_RECORD_BYTES: u64 = 256 << 20;
/// Largest raw (decompressed) frame: the writer cuts a frame once it holds [`FRAME_TARGET`]
/// bytes, so a frame is at most that plus one record and its length prefix.
pub const MAX_FRAME_RAW: u64 = FRAME_TARGET as u64 + MAX_RECORD_BYTES + 10;
/// Most records in one corpus file (2^32: any record index fits a `u32`).
pub const MAX_RECORDS: u64 = 1 << 32;
/// Largest index payload (it holds 11 bytes per record, compressed).
pub const MAX_INDEX_BYTES: u64 = 1 << 30;
/// zstd cannot expand data more than this: a block holds at most 128 KiB and the smallest
/// block (RLE) takes 4 bytes. A claimed raw size above `compressed × ratio` is a lie.
pub const ZSTD_MAX_RATIO: u64 = 32 * 1024;
/// Longest timeline (a year, in ns): a send offset beyond it is corrupt.
pub const MAX_OFFSET_NS: u64 = 366 * 24 * 3600 * 1_000_000_000;
/// The smallest zstd frame (magic, header, one block header, checksum).
const MIN_FRAME_LEN: u64 = 9;

/// Where an index problem is: a byte offset in the file and a message.
pub type Bad = (u64, String);

fn bad<T>(at: u64, message: impl Into<String>) -> Result<T, Bad> {
    Err((at, message.into()))
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// Checks the last [`FOOTER_LEN`] bytes of a file of `len` bytes and returns where the index
/// frame starts and its payload length.
pub fn parse_footer(first4: &[u8], footer: &[u8], len: u64) -> Result<(u64, u64), Bad> {
    if first4 != ZSTD_MAGIC {
        let got: Vec<String> = first4.iter().map(|b| format!("{b:02x}")).collect();
        return bad(
            0,
            format!("not a traceblast corpus: starts with {}, not the zstd magic 28 b5 2f fd", got.join(" ")),
        );
    }
    if len < (8 + FOOTER_LEN) as u64 || &footer[8..] != FOOTER_MAGIC {
        return bad(
            len.saturating_sub(8),
            "no traceblast index at the end of the file: it is truncated, or a zstd file not written by `traceblast gen`",
        );
    }
    let payload_len = u64::from(u32_at(footer, 4));
    let Some(start) = len.checked_sub(payload_len + 8).filter(|_| payload_len >= (12 + FOOTER_LEN) as u64) else {
        return bad(len - 12, format!("index length {payload_len} does not fit the file of {len} bytes"));
    };
    if payload_len > MAX_INDEX_BYTES {
        return bad(len - 12, format!("index length {payload_len} is over the {MAX_INDEX_BYTES}-byte limit"));
    }
    Ok((start, payload_len))
}

/// Parses the index frame (`frame` = skippable header + payload, read from file offset
/// `start`) of a file whose frames end at `start`.
pub fn parse(frame: &[u8], start: u64) -> Result<Index, Bad> {
    let at = |off: usize| start + 8 + off as u64;
    let magic = u32_at(frame, 0);
    if magic != SKIPPABLE_MAGIC || u64::from(u32_at(frame, 4)) != (frame.len() - 8) as u64 {
        return bad(start, "index frame header is corrupt");
    }
    let p = &frame[8..];
    if &p[..4] != INDEX_MAGIC {
        return bad(at(0), "index frame does not start with TBIX");
    }
    let version = u32_at(p, 4);
    if version != FORMAT_VERSION && version != TIMELINE_FORMAT_VERSION {
        let why = if version > TIMELINE_FORMAT_VERSION {
            "written by a newer traceblast; upgrade to read it"
        } else {
            "an older format; regenerate it with `traceblast gen`"
        };
        return bad(
            at(4),
            format!(
                "corpus format version {version} is not supported (this traceblast reads versions {FORMAT_VERSION} and {TIMELINE_FORMAT_VERSION}): {why}"
            ),
        );
    }
    let body_end = p.len() - FOOTER_LEN;
    let (stored, crc) = (u32_at(p, body_end), crc32fast::hash(&p[..body_end]));
    if crc != stored {
        return bad(
            at(body_end),
            format!("index checksum mismatch (stored {stored:08x}, computed {crc:08x}): the index is corrupt"),
        );
    }
    let meta_len = u32_at(p, 8) as usize;
    let Some(meta_end) = 12usize.checked_add(meta_len).filter(|e| e.saturating_add(16) <= body_end) else {
        return bad(at(8), format!("metadata length {meta_len} overruns the index"));
    };
    let meta: Meta = serde_json::from_slice(&p[12..meta_end])
        .map_err(|e| (at(12), format!("metadata is not valid JSON of a corpus index ({})", json_message(&e))))?;
    let raw_len = u64_at(p, meta_end);
    let zlen = u64_at(p, meta_end + 8);
    let zstart = meta_end + 16;
    if zlen != (body_end - zstart) as u64 {
        return bad(at(meta_end + 8), format!("index tables length {zlen} does not match the index frame"));
    }
    let z = &p[zstart..body_end];
    // Table problems are reported at the tables' start in the file (their own offsets are
    // offsets in decompressed data, which would mislead as file offsets).
    let timeline = version == TIMELINE_FORMAT_VERSION;
    if timeline != meta.timeline.is_some() || meta.format_version != version {
        return bad(
            at(12),
            format!(
                "metadata (format_version {}, {} timeline) disagrees with the index's format version {version}",
                meta.format_version,
                if meta.timeline.is_some() { "a" } else { "no" }
            ),
        );
    }
    let (frames, records) = read_tables(z, raw_len, start, timeline).map_err(|m| (at(zstart), m))?;
    let index = Index { meta, frames, records };
    check_meta(&index).map_err(|m| (at(12), m))?;
    Ok(index)
}

/// serde_json's message without its "at line 1 column N" (the offset is given separately).
fn json_message(e: &serde_json::Error) -> String {
    let s = e.to_string();
    s[..s.find(" at line ").unwrap_or(s.len())].to_string()
}

/// Decompresses and checks the binary tables of a file whose frames end at `data_end`. Counts
/// are checked before their tables are read, and the tables are read as they decompress, so
/// memory grows only with data the file really holds. Errors carry an offset in the tables.
fn read_tables(
    z: &[u8],
    raw_len: u64,
    data_end: u64,
    timeline: bool,
) -> Result<(Vec<FrameEntry>, RecordTable), String> {
    if raw_len > (z.len() as u64).saturating_mul(ZSTD_MAX_RATIO) {
        return Err(format!("index tables claim {raw_len} bytes, more than {} compressed bytes can hold", z.len()));
    }
    let mut dec = zstd::stream::read::Decoder::with_buffer(z).map_err(|e| format!("index tables: {e}"))?;
    let mut read = |n: u64, what: &str| -> Result<Vec<u8>, String> {
        let mut buf = Vec::new();
        let got =
            (&mut dec).take(n).read_to_end(&mut buf).map_err(|e| format!("index tables do not decompress: {e}"))?;
        if got as u64 != n {
            return Err(format!("index tables end early, in the {what}"));
        }
        Ok(buf)
    };
    let head = read(16, "counts")?;
    let (nframes, nrec) = (u64_at(&head, 0), u64_at(&head, 8));
    if nframes > data_end / MIN_FRAME_LEN {
        return Err(format!("index claims {} frames, more than {data_end} bytes of data can hold", short(nframes)));
    }
    if nrec > MAX_RECORDS {
        return Err(format!("index claims {} records, more than the {MAX_RECORDS} a corpus may hold", short(nrec)));
    }
    // Exact: 16 + 40 per frame + 11 per record, 19 with send offsets (no overflow: both counts
    // are capped above).
    let per_record = if timeline { 19 } else { 11 };
    if 16 + 40 * nframes + per_record * nrec != raw_len {
        return Err(format!("index tables of {raw_len} bytes cannot hold {nframes} frames and {nrec} records"));
    }
    let ftab = read(40 * nframes, "frame table")?;
    let frames: Vec<FrameEntry> = ftab
        .chunks_exact(40)
        .map(|s| FrameEntry {
            offset: u64_at(s, 0),
            len: u64_at(s, 8),
            raw_len: u64_at(s, 16),
            first_record: u64_at(s, 24),
            records: u64_at(s, 32),
        })
        .collect();
    check_frames(&frames, nrec, data_end)?;
    let n = nrec as usize;
    let scenario = read(nrec, "scenario column")?;
    let traces = read(2 * nrec, "trace column")?.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
    let spans = read(4 * nrec, "span column")?.chunks_exact(4).map(|c| u32_at(c, 0)).collect();
    let len = read(4 * nrec, "length column")?.chunks_exact(4).map(|c| u32_at(c, 0)).collect();
    let offset = if timeline {
        let o: Vec<u64> = read(8 * nrec, "offset column")?.chunks_exact(8).map(|c| u64_at(c, 0)).collect();
        check_offsets(&o)?;
        Some(o)
    } else {
        None
    };
    let mut rest = [0u8; 1];
    if dec.read(&mut rest).map_err(|e| format!("index tables do not decompress: {e}"))? != 0 {
        return Err("index tables have unexpected trailing bytes".into());
    }
    let records = RecordTable { scenario, traces, spans, len, offset };
    debug_assert_eq!(records.len(), n);
    check_records(&frames, &records)?;
    Ok((frames, records))
}

/// Send offsets never go back in time and stay within [`MAX_OFFSET_NS`].
fn check_offsets(o: &[u64]) -> Result<(), String> {
    let mut last = 0;
    for (k, &v) in o.iter().enumerate() {
        if v < last || v > MAX_OFFSET_NS {
            return Err(format!(
                "record {k} is sent at {} ns, before the record ahead of it ({last} ns) or past the {MAX_OFFSET_NS} ns a timeline may last",
                short(v)
            ));
        }
        last = v;
    }
    Ok(())
}

/// A number for a message: big values are abbreviated so a hostile index cannot flood it.
fn short(n: u64) -> String {
    if n < 1_000_000_000 { n.to_string() } else { format!("{:.3e}", n as f64) }
}

/// The frames must tile `[0, data_end)` in order and cover every record once, each within the
/// format's caps.
fn check_frames(frames: &[FrameEntry], nrec: u64, data_end: u64) -> Result<(), String> {
    let (mut offset, mut first) = (0u64, 0u64);
    for (i, f) in frames.iter().enumerate() {
        if f.offset != offset || f.len < MIN_FRAME_LEN || f.len > data_end - offset {
            return Err(format!(
                "frame {i}: offset {} and length {} do not continue the frames before it within the {data_end} bytes of data; the file is truncated or corrupt",
                short(f.offset),
                short(f.len)
            ));
        }
        if f.raw_len > MAX_FRAME_RAW || f.raw_len > f.len.saturating_mul(ZSTD_MAX_RATIO) {
            return Err(format!(
                "frame {i}: raw size {} is over the limit of a frame ({MAX_FRAME_RAW} bytes, or {ZSTD_MAX_RATIO} times its compressed size)",
                short(f.raw_len)
            ));
        }
        // Every record takes at least 2 raw bytes (a length prefix and a non-empty body).
        if f.first_record != first || f.records == 0 || f.records > f.raw_len / 2 || f.records > nrec - first {
            return Err(format!(
                "frame {i}: records {}..+{} do not continue the records before it (of {nrec}) within its {} bytes",
                short(f.first_record),
                short(f.records),
                short(f.raw_len)
            ));
        }
        offset += f.len;
        first += f.records;
    }
    if offset != data_end || first != nrec {
        return Err(format!("the frames cover {offset} of {data_end} bytes and {first} of {nrec} records"));
    }
    Ok(())
}

/// Every record's length is within the cap, and each frame's records fill exactly its raw size.
fn check_records(frames: &[FrameEntry], r: &RecordTable) -> Result<(), String> {
    for (i, f) in frames.iter().enumerate() {
        let mut raw = 0u64;
        for k in f.first_record..f.first_record + f.records {
            let len = u64::from(r.len[k as usize]);
            if len == 0 || len > MAX_RECORD_BYTES {
                return Err(format!("record {k} has a length of {len} bytes (1 to {MAX_RECORD_BYTES})"));
            }
            raw += len + varint_len(len);
        }
        if raw != f.raw_len {
            return Err(format!("frame {i}: its records take {raw} bytes, the frame table says {}", f.raw_len));
        }
    }
    Ok(())
}

/// Bytes of `v` as a protobuf varint.
fn varint_len(v: u64) -> u64 {
    u64::from((64 - (v | 1).leading_zeros()).div_ceil(7))
}

/// The metadata agrees with the tables.
fn check_meta(ix: &Index) -> Result<(), String> {
    let (m, r) = (&ix.meta, &ix.records);
    if m.scenarios.len() >= usize::from(MIXED_SCENARIO) {
        return Err(format!("metadata lists {} scenarios, at most {}", m.scenarios.len(), MIXED_SCENARIO - 1));
    }
    if m.max_request_bytes > MAX_RECORD_BYTES {
        return Err(format!("metadata max_request_bytes {} is over {MAX_RECORD_BYTES}", short(m.max_request_bytes)));
    }
    if let Some(t) = &m.timeline {
        let last = r.offset.as_ref().and_then(|o| o.last().copied()).unwrap_or(0);
        if t.length_ns <= last || t.length_ns > 2 * MAX_OFFSET_NS {
            return Err(format!(
                "timeline length {} ns is not after the last send offset ({last} ns) or over {} ns",
                short(t.length_ns),
                2 * MAX_OFFSET_NS
            ));
        }
    }
    let sum = |f: &dyn Fn(usize) -> u64| (0..r.len()).map(f).sum::<u64>();
    let t = Totals {
        records: r.len() as u64,
        traces: sum(&|i| u64::from(r.traces[i])),
        spans: sum(&|i| u64::from(r.spans[i])),
        raw_bytes: sum(&|i| u64::from(r.len[i])),
        tokens: m.totals.tokens,
        frames: ix.frames.len() as u64,
    };
    let said = m.totals;
    for (what, meta, tables) in [
        ("records", said.records, t.records),
        ("traces", said.traces, t.traces),
        ("spans", said.spans, t.spans),
        ("raw bytes", said.raw_bytes, t.raw_bytes),
        ("frames", said.frames, t.frames),
    ] {
        if meta != tables {
            return Err(format!("metadata totals say {} {what}, the tables {tables}", short(meta)));
        }
    }
    if m.count != t.traces {
        return Err(format!("metadata count {} disagrees with the {} traces of the tables", short(m.count), t.traces));
    }
    if let Some(per) = &m.per_scenario {
        let (traces, spans) =
            per.values().fold((0u64, 0u64), |a, c| (a.0.saturating_add(c.traces), a.1.saturating_add(c.spans)));
        if traces != t.traces || spans != t.spans {
            return Err(format!("per-scenario counts ({traces} traces, {spans} spans) disagree with the tables"));
        }
        if let Some(name) = per.keys().find(|n| !m.scenarios.contains(n)) {
            return Err(format!(
                "per-scenario counts name an unknown scenario '{}'",
                name.chars().take(64).collect::<String>()
            ));
        }
    }
    if let Some(k) = (0..r.len()).find(|&k| {
        let s = r.scenario[k];
        (usize::from(s) >= m.scenarios.len() && s != MIXED_SCENARIO) || r.spans[k] == 0
    }) {
        return Err(format!(
            "record {k} has scenario {} of {} and {} spans",
            r.scenario[k],
            m.scenarios.len(),
            r.spans[k]
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_lengths() {
        for (v, n) in [(1u64, 1u64), (127, 1), (128, 2), (16_383, 2), (16_384, 3), (u64::from(u32::MAX), 5)] {
            assert_eq!(varint_len(v), n, "{v}");
        }
    }
}
