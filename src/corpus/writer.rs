//! Writes a corpus file: compressed frames in order, then the index, through
//! [`crate::output`] — so no half-written file ever carries the output name, and a device
//! node such as `/dev/null` is written into, never replaced.

use std::io::Write;

use super::format::*;
use crate::encode::{Group, RecordMeta};
use crate::output::{Output, OutputError, Pending};

/// An error writing the corpus (it names the output path).
pub type WriteError = OutputError;

/// Streams frames into the pending output and commits it in [`CorpusWriter::finish`].
pub struct CorpusWriter {
    out: Pending,
    offset: u64,
    frames: Vec<FrameEntry>,
    records: RecordTable,
    totals: Totals,
}

impl CorpusWriter {
    /// Starts writing to `out` (checked by [`Output::check`] before any work); `timeline`:
    /// the records carry send offsets (format version 2).
    pub fn create(out: &Output, timeline: bool) -> Result<Self, WriteError> {
        Ok(CorpusWriter {
            out: out.create()?,
            offset: 0,
            frames: Vec::new(),
            records: RecordTable { offset: timeline.then(Vec::new), ..RecordTable::default() },
            totals: Totals::default(),
        })
    }

    fn err(&self, source: std::io::Error) -> WriteError {
        WriteError::Io { path: self.out.path().display().to_string(), cause: source.to_string() }
    }

    /// Appends one compressed frame holding `records` (raw size `raw_len`).
    pub fn write_frame(&mut self, compressed: &[u8], raw_len: u64, records: &[RecordMeta]) -> Result<(), WriteError> {
        self.out.write_all(compressed).map_err(|e| self.err(e))?;
        self.frames.push(FrameEntry {
            offset: self.offset,
            len: compressed.len() as u64,
            raw_len,
            first_record: self.records.len() as u64,
            records: records.len() as u64,
        });
        self.offset += compressed.len() as u64;
        for r in records {
            self.records.push(r);
            self.totals.records += 1;
            self.totals.traces += u64::from(r.traces);
            self.totals.spans += u64::from(r.spans);
            self.totals.raw_bytes += u64::from(r.len);
        }
        self.totals.frames += 1;
        Ok(())
    }

    /// Whether a record written so far carries traces of several scenarios.
    pub fn has_mixed_records(&self) -> bool {
        self.records.scenario.contains(&crate::encode::MIXED_SCENARIO)
    }

    /// Totals so far (tokens are filled in by the caller's metadata).
    pub fn totals(&self) -> Totals {
        self.totals
    }

    /// Bytes written so far.
    pub fn bytes_written(&self) -> u64 {
        self.offset
    }

    /// Writes the index with `meta` (its totals are replaced by the real ones, tokens kept)
    /// and commits the file. Returns the file size and the index as written.
    pub fn finish(mut self, mut meta: Meta) -> Result<(u64, Index), WriteError> {
        let tokens = meta.totals.tokens;
        meta.format_version = format_version(&self.records);
        meta.totals = self.totals;
        meta.totals.tokens = tokens;
        let payload = index_payload(&meta, &self.frames, &self.records);
        let mut head = Vec::with_capacity(8);
        head.extend_from_slice(&SKIPPABLE_MAGIC.to_le_bytes());
        head.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        self.out.write_all(&head).map_err(|e| self.err(e))?;
        self.out.write_all(&payload).map_err(|e| self.err(e))?;
        let size = self.offset + head.len() as u64 + payload.len() as u64;
        self.out.commit()?;
        Ok((size, Index { meta, frames: self.frames, records: self.records }))
    }
}

/// The layout version of a corpus with these records: 2 with send offsets, else 1.
pub fn format_version(records: &RecordTable) -> u32 {
    if records.offset.is_some() { TIMELINE_FORMAT_VERSION } else { FORMAT_VERSION }
}

/// Builds the index payload (see [`super::format`]).
pub fn index_payload(meta: &Meta, frames: &[FrameEntry], records: &RecordTable) -> Vec<u8> {
    let meta_json = serde_json::to_vec(meta).expect("meta serializes");
    let tables = tables_to_bytes(frames, records);
    let ztables = zstd::bulk::compress(&tables, 3).expect("in-memory compression");
    let mut p = Vec::with_capacity(32 + meta_json.len() + ztables.len());
    p.extend_from_slice(INDEX_MAGIC);
    p.extend_from_slice(&format_version(records).to_le_bytes());
    p.extend_from_slice(&(meta_json.len() as u32).to_le_bytes());
    p.extend_from_slice(&meta_json);
    p.extend_from_slice(&(tables.len() as u64).to_le_bytes());
    p.extend_from_slice(&(ztables.len() as u64).to_le_bytes());
    p.extend_from_slice(&ztables);
    let crc = crc32fast::hash(&p);
    p.extend_from_slice(&crc.to_le_bytes());
    let total = (p.len() + 4 + FOOTER_MAGIC.len()) as u32;
    p.extend_from_slice(&total.to_le_bytes());
    p.extend_from_slice(FOOTER_MAGIC);
    p
}

/// Compresses the records of `groups` into one zstd frame (content size and checksum set).
///
/// The records are first copied into one contiguous buffer: zstd's one-shot API on contiguous
/// input runs its fast match finder, while streaming separate chunks forces the slower
/// "external dictionary" path (measured: about a third more time per byte at level 3).
pub fn compress_frame(groups: &[Group], level: i32) -> std::io::Result<(Vec<u8>, u64)> {
    thread_local! {
        static SCRATCH: std::cell::RefCell<(Vec<u8>, Option<zstd::bulk::Compressor<'static>>)> = const { std::cell::RefCell::new((Vec::new(), None)) };
    }
    SCRATCH.with(|cell| {
        let (raw, comp) = &mut *cell.borrow_mut();
        raw.clear();
        for g in groups {
            raw.extend_from_slice(&g.bytes);
        }
        if comp.is_none() {
            let mut c = zstd::bulk::Compressor::new(level)?;
            c.include_checksum(true)?;
            c.include_contentsize(true)?;
            *comp = Some(c);
        }
        let c = comp.as_mut().expect("set above");
        c.set_compression_level(level)?;
        let mut out = Vec::with_capacity(zstd::zstd_safe::compress_bound(raw.len()));
        c.compress_to_buffer(raw.as_slice(), &mut out)?;
        Ok((out, raw.len() as u64))
    })
}
