//! The corpus index: what `gen` records about a corpus and how it is laid out on disk.
//!
//! The index is the payload of a zstd *skippable frame* at the end of the file (`zstd -d`
//! ignores it). Layout of the payload, all integers little-endian:
//!
//! ```text
//! "TBIX" | format_version u32 | meta_len u32 | meta (JSON, meta_len bytes)
//!        | tables_raw_len u64 | tables_len u64 | tables (zstd, tables_len bytes)
//!        | crc32 u32 (of everything before it) | payload_len u32 | "TBLASTIX"
//! ```
//!
//! A reader takes the last 16 bytes (crc, payload length, magic) first, then seeks straight to
//! the index. The tables hold the frame table and per-record columns. The footer's position
//! and the version field right after "TBIX" never move, so any future version is recognized
//! and refused with a clear message instead of being misread.

use serde::{Deserialize, Serialize};

use crate::encode::RecordMeta;

/// Version of the on-disk layout described above, for a corpus of whole traces.
pub const FORMAT_VERSION: u32 = 1;
/// Version 2: version 1 plus a column of send offsets, one per record (`gen --shape sdk`: a
/// recorded export timeline). A corpus of whole traces is still written as version 1, so its
/// bytes (and the golden fixtures) do not change.
pub const TIMELINE_FORMAT_VERSION: u32 = 2;
/// Magic of the skippable frame holding the index (one of zstd's 16 skippable magics).
pub const SKIPPABLE_MAGIC: u32 = 0x184D_2A5E;
/// First bytes of a regular zstd frame.
pub const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];
/// Start of the index payload.
pub const INDEX_MAGIC: &[u8; 4] = b"TBIX";
/// Last 8 bytes of a corpus file.
pub const FOOTER_MAGIC: &[u8; 8] = b"TBLASTIX";
/// crc32 + payload length + magic.
pub const FOOTER_LEN: usize = 16;
/// Raw bytes per zstd frame before a new one starts (frames hold whole records).
pub const FRAME_TARGET: usize = 4 << 20;

/// Corpus-wide metadata, stored as JSON so that `inspect --json` and other tools can show it
/// as is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    /// [`FORMAT_VERSION`] of the writer.
    pub format_version: u32,
    /// `synth::GENERATOR_VERSION` of the writer.
    pub generator_version: u32,
    /// The seed.
    pub seed: u64,
    /// Traces in this file.
    pub count: u64,
    /// Corpus index of the first trace in this file (non-zero for shards).
    pub first_trace: u64,
    /// Traces in the whole corpus this file is a slice of.
    pub corpus_count: u64,
    /// `k/n` when the file holds shard k of n, else absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
    /// Hash of the scenario definitions (hex).
    pub scenario_set_hash: String,
    /// Scenario names, by id.
    pub scenarios: Vec<String>,
    /// The mix, `name=weight,...`.
    pub mix: String,
    /// Every trace ends at this instant (Unix ns); replay shifts times by `now - epoch`.
    pub epoch_ns: u64,
    /// Traces per request group.
    pub traces_per_request: u32,
    /// Largest record body.
    pub max_request_bytes: u64,
    /// zstd level.
    pub level: i32,
    /// The GenAI semantic conventions the traces follow (`gen --semconv`); absent in corpora
    /// written before generator version 2, which followed v1.37.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub semconv: Option<String>,
    /// The `schema_url` on every resource and scope of the traces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema_url: Option<String>,
    /// Totals.
    pub totals: Totals,
    /// Per scenario name, counted per trace — written only when a record carries traces of
    /// several scenarios (the record table then says "mixed"); otherwise the record table is
    /// exact and this is absent (so corpora without mixed records keep their bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_scenario: Option<std::collections::BTreeMap<String, crate::encode::ScenarioCounts>>,
    /// How the export timeline was made (`gen --shape sdk`, format version 2); absent for a
    /// corpus of whole traces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeline: Option<TimelineMeta>,
}

/// The simulated application behind a recorded export timeline (`gen --shape sdk`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineMeta {
    /// Sessions (traces) the application ran.
    pub sessions: u64,
    /// How sessions arrived: `sessions-per-second R` or `concurrency C`.
    pub arrival: String,
    /// `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`.
    pub bsp_batch: u32,
    /// `OTEL_BSP_MAX_QUEUE_SIZE`.
    pub bsp_queue: u32,
    /// `OTEL_BSP_SCHEDULE_DELAY`, ms.
    pub bsp_delay_ms: u64,
    /// How long one simulated export call lasts, ms (spans queue meanwhile).
    pub bsp_export_ms: u64,
    /// Service instances, one BatchSpanProcessor each.
    pub instances: u32,
    /// Spans the full queues dropped, in all.
    pub dropped_spans: u64,
    /// Dropped spans by `service.name`.
    pub dropped_by_service: std::collections::BTreeMap<String, u64>,
    /// Traces whose root span was dropped (they are not counted in `totals.traces`).
    pub dropped_roots: u64,
    /// Length of one pass of the timeline, ns: the last export plus one schedule delay (a
    /// replay that loops starts the next pass there).
    pub length_ns: u64,
}

/// Totals over the file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Records (requests).
    pub records: u64,
    /// Traces.
    pub traces: u64,
    /// Spans.
    pub spans: u64,
    /// Record bodies, summed.
    pub raw_bytes: u64,
    /// Model tokens (input + output) of all traces.
    pub tokens: u64,
    /// zstd frames.
    pub frames: u64,
}

/// One zstd frame of records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FrameEntry {
    /// Byte offset of the frame in the file.
    pub offset: u64,
    /// Compressed size.
    pub len: u64,
    /// Decompressed size (framed records).
    pub raw_len: u64,
    /// Index of the frame's first record.
    pub first_record: u64,
    /// Records in the frame.
    pub records: u64,
}

impl FrameEntry {
    /// Range of record indexes in this frame.
    pub fn record_range(&self) -> std::ops::Range<u64> {
        self.first_record..self.first_record + self.records
    }
}

/// Per-record columns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordTable {
    /// Scenario id per record (`encode::MIXED_SCENARIO` when mixed).
    pub scenario: Vec<u8>,
    /// Traces ending in each record.
    pub traces: Vec<u16>,
    /// Spans per record.
    pub spans: Vec<u32>,
    /// Body length per record.
    pub len: Vec<u32>,
    /// Send offset per record, ns from the start of the timeline: present only in a
    /// timeline corpus (format version 2).
    pub offset: Option<Vec<u64>>,
}

impl RecordTable {
    /// Number of records.
    pub fn len(&self) -> usize {
        self.len.len()
    }

    /// Whether there are no records.
    pub fn is_empty(&self) -> bool {
        self.len.is_empty()
    }

    /// Appends one record's entry.
    pub fn push(&mut self, m: &RecordMeta) {
        self.scenario.push(m.scenario);
        self.traces.push(m.traces);
        self.spans.push(m.spans);
        self.len.push(m.len);
        if let Some(o) = &mut self.offset {
            o.push(m.offset_ns);
        }
    }

    /// Record `i`'s send offset (0 without a timeline).
    pub fn offset(&self, i: usize) -> u64 {
        self.offset.as_ref().map_or(0, |o| o[i])
    }

    /// Record `i`'s entry.
    pub fn get(&self, i: usize) -> RecordMeta {
        RecordMeta {
            len: self.len[i],
            spans: self.spans[i],
            traces: self.traces[i],
            scenario: self.scenario[i],
            offset_ns: self.offset(i),
        }
    }
}

/// The whole index.
#[derive(Debug, Clone, PartialEq)]
pub struct Index {
    /// Metadata.
    pub meta: Meta,
    /// Frames in file order.
    pub frames: Vec<FrameEntry>,
    /// Records in order.
    pub records: RecordTable,
}

/// Serializes the binary tables (before compression).
pub fn tables_to_bytes(frames: &[FrameEntry], r: &RecordTable) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + frames.len() * 40 + r.len() * 19);
    out.extend_from_slice(&(frames.len() as u64).to_le_bytes());
    out.extend_from_slice(&(r.len() as u64).to_le_bytes());
    for f in frames {
        for v in [f.offset, f.len, f.raw_len, f.first_record, f.records] {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    out.extend_from_slice(&r.scenario);
    r.traces.iter().for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
    r.spans.iter().for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
    r.len.iter().for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
    r.offset.iter().flatten().for_each(|v| out.extend_from_slice(&v.to_le_bytes()));
    out
}
