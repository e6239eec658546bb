//! Reads a corpus: the index up front, frames on demand with positioned reads (`pread`).
//!
//! Opening a corpus reads only the footer and the index ([`super::index`] checks every count
//! and length in it before anything is allocated). Frames are read with `pread` into a reused
//! buffer and decompressed from there, so resident memory does not grow with the corpus, and a
//! file truncated or rewritten while it is being read gives an error naming the frame and byte
//! offset — never SIGBUS, which a memory map would raise on a page beyond the new end of file.

use std::fs::File;
use std::path::{Path, PathBuf};

use super::format::*;
use super::index::{self, MAX_INDEX_BYTES};
use crate::encode::RecordMeta;

/// A corpus that cannot be read, with where.
#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    /// Opening or reading failed.
    #[error("cannot read corpus {path}: {cause}")]
    Io {
        /// The file.
        path: String,
        /// The operating system's message (not an error source: printed once).
        cause: String,
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
    /// A record is not what the index says, or not valid OTLP.
    #[error(
        "{path}: record {record} (frame {frame} at byte offset {frame_offset}, byte {offset} of its data): {message}"
    )]
    Record {
        /// The file.
        path: String,
        /// Record index.
        record: u64,
        /// Frame index.
        frame: usize,
        /// Byte offset of the frame in the file.
        frame_offset: u64,
        /// Offset in the decompressed frame.
        offset: u64,
        /// What is wrong.
        message: String,
    },
}

/// What reading frames needs, kept across frames: a zstd context and the buffer that holds a
/// frame's compressed bytes.
pub struct FrameReader {
    dec: zstd::bulk::Decompressor<'static>,
    compressed: Vec<u8>,
}

impl FrameReader {
    /// A fresh reader.
    pub fn new() -> std::io::Result<FrameReader> {
        Ok(FrameReader { dec: zstd::bulk::Decompressor::new()?, compressed: Vec::new() })
    }
}

/// An open corpus.
pub struct Corpus {
    path: PathBuf,
    file: File,
    /// The parsed, checked index.
    pub index: Index,
    /// Where the frames end and the index frame starts.
    pub data_end: u64,
}

impl std::fmt::Debug for Corpus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Corpus").field("path", &self.path).field("data_end", &self.data_end).finish()
    }
}

/// Reads exactly `buf.len()` bytes at `offset` (one `pread` loop).
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
    }
    #[cfg(windows)]
    {
        let mut done = 0;
        while done < buf.len() {
            match std::os::windows::fs::FileExt::seek_read(file, &mut buf[done..], offset + done as u64)? {
                0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
                n => done += n,
            }
        }
        Ok(())
    }
}

impl Corpus {
    /// Opens `path` and reads and checks its footer and index.
    pub fn open(path: &Path) -> Result<Corpus, CorpusError> {
        let io = |e: std::io::Error| CorpusError::Io { path: path.display().to_string(), cause: e.to_string() };
        let file = crate::input::open_input(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        if len == 0 {
            return Err(corrupt(path, 0, "empty file, not a traceblast corpus".into()));
        }
        let mut first4 = [0u8; 4];
        let mut footer = [0u8; FOOTER_LEN];
        if len >= 4 {
            read_at(&file, &mut first4, 0).map_err(io)?;
        }
        if len >= FOOTER_LEN as u64 {
            read_at(&file, &mut footer, len - FOOTER_LEN as u64).map_err(io)?;
        }
        let (start, payload_len) =
            index::parse_footer(&first4[..len.min(4) as usize], &footer, len).map_err(|(o, m)| corrupt(path, o, m))?;
        debug_assert!(payload_len <= MAX_INDEX_BYTES);
        let mut frame = vec![0u8; (payload_len + 8) as usize];
        read_at(&file, &mut frame, start).map_err(io)?;
        let index = index::parse(&frame, start).map_err(|(o, m)| corrupt(path, o, m))?;
        Ok(Corpus { path: path.to_path_buf(), file, index, data_end: start })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of records.
    pub fn records(&self) -> u64 {
        self.index.records.len() as u64
    }

    /// Reads the compressed bytes of frame `i` into `buf` (replacing its contents).
    pub fn read_frame(&self, i: usize, buf: &mut Vec<u8>) -> Result<(), CorpusError> {
        let f = &self.index.frames[i];
        buf.clear();
        buf.resize(f.len as usize, 0);
        read_at(&self.file, buf, f.offset).map_err(|e| {
            let why = if e.kind() == std::io::ErrorKind::UnexpectedEof {
                "the file ends before it: it was truncated or replaced while being read".to_string()
            } else {
                e.to_string()
            };
            corrupt(&self.path, f.offset, format!("frame {i} ({} bytes) cannot be read: {why}", f.len))
        })
    }

    /// Reads and decompresses frame `i` into `out` (replacing its contents); zstd checks the
    /// frame's content checksum and the size must be the index's.
    pub fn decompress_frame(&self, i: usize, r: &mut FrameReader, out: &mut Vec<u8>) -> Result<(), CorpusError> {
        let f = self.index.frames[i];
        self.read_frame(i, &mut r.compressed)?;
        out.clear();
        // Bounded: the index checked raw_len against MAX_FRAME_RAW and the frame's records.
        out.reserve(f.raw_len as usize);
        let n = r
            .dec
            .decompress_to_buffer(r.compressed.as_slice(), out)
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

    /// An error about record `record` of frame `frame`, at `offset` of the frame's data.
    pub fn record_error(&self, frame: usize, record: u64, offset: u64, message: String) -> CorpusError {
        CorpusError::Record {
            path: self.path.display().to_string(),
            record,
            frame,
            frame_offset: self.index.frames[frame].offset,
            offset,
            message,
        }
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
            let rec_err = |offset: usize, message: String| self.record_error(frame, r, offset as u64, message);
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
