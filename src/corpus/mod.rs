//! The corpus file: the contract between `gen` and `replay` (see `docs/corpus-format.md`).
//!
//! A corpus is a standard zstd stream of varint-length-delimited `ExportTraceServiceRequest`
//! records (`zstd -d` prints them), grouped in independent frames of about
//! [`format::FRAME_TARGET`] raw bytes, followed by a skippable frame holding the index.

pub mod format;
pub mod index;
pub mod reader;
pub mod writer;

pub use format::{FrameEntry, Index, Meta, RecordTable, Totals};
pub use reader::{Corpus, CorpusError, FrameReader};
pub use writer::{CorpusWriter, WriteError};
