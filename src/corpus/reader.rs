//! Reads a corpus through a memory map: the index up front, frames on demand.
//!
//! Opening a corpus touches only the footer and the index; frames are decompressed when asked
//! for, from the mapped file, so resident memory does not grow with the corpus size (the
//! kernel drops clean mapped pages under pressure). This file holds the crate's only
//! `unsafe`: the memory map.

use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use super::format::*;
use crate::encode::RecordMeta;

/// A corpus that cannot be read, with where.
#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    /// Opening or mapping failed.
    #[error("cannot read corpus {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The bytes are not what a corpus holds at `offset`.
    #[error("{path}: {message} (byte offset {offset})")]
    Corrupt {
        /// The file.
        path: String,
        /// Byte offset in the file.
        offset: u64,
        /// What is wrong.
        message: String,
    },
    /// A record disagrees with the index.
    #[error("{path}: record {record} (frame {frame}, byte offset {offset} of the frame's data): {message}")]
    Record {
        /// The file.
        path: String,
        /// Record index.
        record: u64,
        /// Frame index.
        frame: usize,
        /// Offset in the decompressed frame.
        offset: u64,
        /// What is wrong.
        message: String,
    },
}

/// An open corpus.
pub struct Corpus {
    path: PathBuf,
    map: Mmap,
    /// The parsed index.
    pub index: Index,
    /// Where the frames end and the index frame starts.
    pub data_end: u64,
}

impl std::fmt::Debug for Corpus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Corpus").field("path", &self.path).field("data_end", &self.data_end).finish()
    }
}

impl Corpus {
    /// Opens and validates the footer and index of `path`.
    pub fn open(path: &Path) -> Result<Corpus, CorpusError> {
        let io = |source| CorpusError::Io { path: path.display().to_string(), source };
        let file = File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        if len == 0 {
            return Err(corrupt(path, 0, "empty file, not a traceblast corpus".into()));
        }
        // SAFETY: the map is read-only and private to this process. If another process
        // truncates or rewrites the file while it is mapped, reads may see changed bytes or
        // fault; corpora are written once (atomically, by rename) and not modified in place,
        // and every structure read from the map is bounds-checked against the index, so a
        // changed byte becomes a decode error rather than undefined behaviour in our code.
        let map = unsafe { Mmap::map(&file) }.map_err(io)?;
        #[cfg(unix)]
        {
            // Frames are read front to back by replay and inspect.
            let _ = map.advise(memmap2::Advice::Sequential);
        }
        let index_start = parse_footer(path, &map)?;
        let index = parse_index(path, &map, index_start)?;
        let data_end = index_start;
        // The frame table must describe the data exactly.
        let mut expect = 0u64;
        let mut expect_rec = 0u64;
        for (i, f) in index.frames.iter().enumerate() {
            if f.offset != expect || f.offset.saturating_add(f.len) > data_end || f.first_record != expect_rec {
                return Err(corrupt(
                    path,
                    f.offset,
                    format!(
                        "frame {i} (offset {}, {} bytes) does not fit the data ({data_end} bytes); the file is truncated or corrupt",
                        f.offset, f.len
                    ),
                ));
            }
            expect += f.len;
            expect_rec += f.records;
        }
        if expect != data_end || expect_rec != index.records.len() as u64 {
            return Err(corrupt(
                path,
                expect,
                format!(
                    "index lists {expect} bytes of frames and {expect_rec} records, file has {data_end} bytes and the index {} records",
                    index.records.len()
                ),
            ));
        }
        Ok(Corpus { path: path.to_path_buf(), map, index, data_end })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of records.
    pub fn records(&self) -> u64 {
        self.index.records.len() as u64
    }

    /// Compressed bytes of frame `i`.
    pub fn frame_bytes(&self, i: usize) -> &[u8] {
        let f = &self.index.frames[i];
        &self.map[f.offset as usize..(f.offset + f.len) as usize]
    }

    /// Decompresses frame `i` into `out` (replacing its contents). zstd checks the frame's
    /// content checksum.
    pub fn decompress_frame(
        &self,
        i: usize,
        dec: &mut zstd::bulk::Decompressor<'_>,
        out: &mut Vec<u8>,
    ) -> Result<(), CorpusError> {
        let f = self.index.frames[i];
        out.clear();
        out.reserve(f.raw_len as usize);
        let n = dec
            .decompress_to_buffer(self.frame_bytes(i), out)
            .map_err(|e| corrupt(&self.path, f.offset, format!("frame {i} does not decompress: {e}")))?;
        if n as u64 != f.raw_len {
            return Err(corrupt(
                &self.path,
                f.offset,
                format!("frame {i} decompresses to {n} bytes, index says {}", f.raw_len),
            ));
        }
        Ok(())
    }

    /// Splits the decompressed data of frame `frame` into record bodies, checking each length
    /// prefix against the index. Calls `f(record_index, meta, body)`.
    pub fn for_each_record<'d>(
        &self,
        frame: usize,
        data: &'d [u8],
        mut f: impl FnMut(u64, RecordMeta, &'d [u8]) -> Result<(), CorpusError>,
    ) -> Result<(), CorpusError> {
        let fe = self.index.frames[frame];
        let mut pos = 0usize;
        for r in fe.record_range() {
            let meta = self.index.records.get(r as usize);
            let rec_err = |offset: usize, message: String| CorpusError::Record {
                path: self.path.display().to_string(),
                record: r,
                frame,
                offset: offset as u64,
                message,
            };
            let (len, n) = read_varint(&data[pos..]).ok_or_else(|| rec_err(pos, "bad length prefix".into()))?;
            if len != u64::from(meta.len) {
                return Err(rec_err(pos, format!("length prefix says {len} bytes, index says {}", meta.len)));
            }
            let start = pos + n;
            let end = start + len as usize;
            let body = data.get(start..end).ok_or_else(|| {
                rec_err(pos, format!("record of {len} bytes runs past the frame's {} bytes", data.len()))
            })?;
            f(r, meta, body)?;
            pos = end;
        }
        if pos != data.len() {
            return Err(corrupt(
                &self.path,
                fe.offset,
                format!("frame {frame} has {} bytes after its last record", data.len() - pos),
            ));
        }
        Ok(())
    }
}

fn corrupt(path: &Path, offset: u64, message: String) -> CorpusError {
    CorpusError::Corrupt { path: path.display().to_string(), offset, message }
}

/// Reads a varint; returns (value, bytes used).
pub fn read_varint(b: &[u8]) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for (i, &byte) in b.iter().enumerate().take(10) {
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte < 0x80 {
            return Some((v, i + 1));
        }
    }
    None
}

/// Validates the footer; returns the offset where the index frame starts.
fn parse_footer(path: &Path, map: &[u8]) -> Result<u64, CorpusError> {
    let len = map.len() as u64;
    if map.len() < 4 || map[..4] != ZSTD_MAGIC {
        let got: Vec<String> = map.iter().take(4).map(|b| format!("{b:02x}")).collect();
        return Err(corrupt(
            path,
            0,
            format!("not a traceblast corpus: starts with {}, not the zstd magic 28 b5 2f fd", got.join(" ")),
        ));
    }
    if map.len() < 8 + FOOTER_LEN || &map[map.len() - 8..] != FOOTER_MAGIC {
        return Err(corrupt(
            path,
            len.saturating_sub(8),
            "no traceblast index at the end of the file: it is truncated, or a zstd file not written by `traceblast gen`".into(),
        ));
    }
    let f = &map[map.len() - FOOTER_LEN..];
    let payload_len = u64::from(u32::from_le_bytes(f[4..8].try_into().unwrap()));
    let start = len
        .checked_sub(payload_len + 8)
        .ok_or_else(|| corrupt(path, len - 12, format!("index length {payload_len} is larger than the file")))?;
    let s = start as usize;
    let magic = u32::from_le_bytes(map[s..s + 4].try_into().unwrap());
    let size = u64::from(u32::from_le_bytes(map[s + 4..s + 8].try_into().unwrap()));
    if magic != SKIPPABLE_MAGIC || size != payload_len {
        return Err(corrupt(path, start, "index frame header is corrupt".into()));
    }
    Ok(start)
}

fn parse_index(path: &Path, map: &[u8], start: u64) -> Result<Index, CorpusError> {
    let p = &map[start as usize + 8..];
    let at = |off: usize| start + 8 + off as u64;
    if p.len() < 12 + FOOTER_LEN || &p[..4] != INDEX_MAGIC {
        return Err(corrupt(path, at(0), "index frame does not start with TBIX".into()));
    }
    let version = u32::from_le_bytes(p[4..8].try_into().unwrap());
    if version != FORMAT_VERSION {
        let why = if version > FORMAT_VERSION {
            "written by a newer traceblast; upgrade to read it"
        } else {
            "an older format; regenerate it with `traceblast gen`"
        };
        return Err(corrupt(
            path,
            at(4),
            format!(
                "corpus format version {version} is not supported (this traceblast reads version {FORMAT_VERSION}): {why}"
            ),
        ));
    }
    let body_end = p.len() - FOOTER_LEN;
    let stored_crc = u32::from_le_bytes(p[body_end..body_end + 4].try_into().unwrap());
    let crc = crc32fast::hash(&p[..body_end]);
    if crc != stored_crc {
        return Err(corrupt(
            path,
            at(body_end),
            format!("index checksum mismatch (stored {stored_crc:08x}, computed {crc:08x}): the index is corrupt"),
        ));
    }
    let meta_len = u32::from_le_bytes(p[8..12].try_into().unwrap()) as usize;
    let meta_end = 12 + meta_len;
    if meta_end + 16 > body_end {
        return Err(corrupt(path, at(8), format!("metadata length {meta_len} overruns the index")));
    }
    let meta: Meta = serde_json::from_slice(&p[12..meta_end])
        .map_err(|e| corrupt(path, at(12), format!("metadata is not valid: {e}")))?;
    let raw_len = u64::from_le_bytes(p[meta_end..meta_end + 8].try_into().unwrap()) as usize;
    let zlen = u64::from_le_bytes(p[meta_end + 8..meta_end + 16].try_into().unwrap()) as usize;
    let zstart = meta_end + 16;
    let z = p.get(zstart..zstart + zlen).filter(|_| zstart + zlen == body_end).ok_or_else(|| {
        corrupt(path, at(meta_end + 8), format!("index tables length {zlen} does not match the index frame"))
    })?;
    let tables = zstd::bulk::decompress(z, raw_len)
        .map_err(|e| corrupt(path, at(zstart), format!("index tables do not decompress: {e}")))?;
    let (frames, records) = tables_from_bytes(&tables).map_err(|m| corrupt(path, at(zstart), m))?;
    Ok(Index { meta, frames, records })
}
