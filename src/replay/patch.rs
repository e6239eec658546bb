//! The patch replay applies to a stored record: every timestamp shifted by one delta, and on
//! passes after the first every trace and span ID XORed with a key of the pass. Offsets come
//! from [`crate::wire::scan`]; nothing is decoded into structs. [`Patch::apply`] patches a
//! buffer in place (before compression); [`Patch::splice`] leaves the record's bytes where they
//! are and returns pieces around small patched runs (uncompressed bodies, sent with `writev`).

use bytes::Bytes;

use crate::wire::{self, SpanFields, Visitor};

/// SplitMix64: a good 64-bit mix, used to derive ID keys.
fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// XOR keys for trace IDs (16 bytes) and span IDs (8 bytes) on `pass`, or `None` to keep IDs.
/// XOR with a constant is a bijection, so distinct IDs stay distinct and a parent keeps
/// pointing at its (remapped) parent; a different key per pass makes every pass's IDs new.
pub fn id_keys(seed: u64, pass: u64, first_pass_salt: Option<u64>) -> Option<([u8; 16], [u8; 8])> {
    let salt = match (pass, first_pass_salt) {
        (0, None) => return None,
        (_, s) => s.unwrap_or(0),
    };
    let base = mix64(seed ^ mix64(pass ^ mix64(salt)));
    let mut t = [0u8; 16];
    t[..8].copy_from_slice(&mix64(base).to_le_bytes());
    t[8..].copy_from_slice(&mix64(base ^ 1).to_le_bytes());
    Some((t, mix64(base ^ 2).to_le_bytes()))
}

/// Where a record's timestamps and IDs sit, sorted by offset, and the runs [`Patch::splice`]
/// copies: found by one scan of the record. Replay keeps the patch of every record it loops over
/// from memory, so later passes do not walk the record again — the walk touches a cache line
/// every few dozen bytes of a record that is cold by then (measured at `--rate max` on
/// simple_query: ~4 µs per request, a tenth of replay's CPU time).
#[derive(Debug, Clone, Default)]
pub struct Patch {
    /// Every time and ID, by offset.
    points: Vec<(usize, Field)>,
    /// Runs `[start, end)` of the record copied and patched by [`Patch::splice`].
    runs: Vec<(usize, usize)>,
    /// Length of the scanned record.
    len: usize,
    /// Spans in the record.
    spans: u32,
    /// Each trace of the record (its stored ID, big-endian), its spans and their latest end as
    /// stored (Unix ns), in order of first appearance.
    traces: Vec<(u128, u32, u64)>,
}

/// Collects the fields [`crate::wire::scan`] reports, counts spans and their traces.
struct Points(Vec<(usize, Field)>, u32, Vec<(u128, u32, u64)>);

impl Visitor for Points {
    fn span(&mut self, buf: &[u8], s: &SpanFields) {
        self.1 = self.1.saturating_add(1);
        if let Some(id) = s.trace_id.and_then(|at| buf.get(at..at + 16)) {
            let id = u128::from_be_bytes(id.try_into().expect("16 bytes"));
            let end = s.end.and_then(|at| buf.get(at..at + 8)).map_or(0, |b| wire::read_u64(b, 0));
            match self.2.iter_mut().rev().find(|t| t.0 == id) {
                Some(t) => {
                    t.1 = t.1.saturating_add(1);
                    t.2 = t.2.max(end);
                }
                None => self.2.push((id, 1, end)),
            }
        }
        let p = &mut self.0;
        p.extend(s.trace_id.map(|at| (at, Field::TraceId)));
        p.extend(s.span_id.iter().chain(&s.parent_span_id).map(|&at| (at, Field::SpanId)));
        p.extend(s.start.iter().chain(&s.end).map(|&at| (at, Field::Time)));
    }
    fn event_time(&mut self, at: usize) {
        self.0.push((at, Field::Time));
    }
    fn link(&mut self, t: Option<usize>, s: Option<usize>) {
        self.0.extend(t.map(|at| (at, Field::TraceId)));
        self.0.extend(s.map(|at| (at, Field::SpanId)));
    }
}

/// Patched fields closer than this are copied in one run with the bytes between them, so a
/// span's IDs and times (a few dozen bytes apart) make one piece rather than five.
const SPLICE_GAP: usize = 64;

/// A field a patch changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Field {
    /// `fixed64` time, shifted.
    Time,
    /// 16-byte trace ID, XORed with its key.
    TraceId,
    /// 8-byte span ID, XORed with its key.
    SpanId,
}

impl Field {
    fn len(self) -> usize {
        if self == Field::TraceId { 16 } else { 8 }
    }
}

/// Changes `kind` at the start of `buf` (IDs only when there are keys).
fn fix(buf: &mut [u8], kind: Field, delta_ns: u64, keys: Option<([u8; 16], [u8; 8])>) {
    match (kind, keys) {
        (Field::Time, _) => {
            let v = wire::read_u64(buf, 0).wrapping_add(delta_ns);
            buf[..8].copy_from_slice(&v.to_le_bytes());
        }
        (Field::TraceId, Some((tk, _))) => buf[..16].iter_mut().zip(tk).for_each(|(b, k)| *b ^= k),
        (Field::SpanId, Some((_, sk))) => buf[..8].iter_mut().zip(sk).for_each(|(b, k)| *b ^= k),
        _ => {}
    }
}

impl Patch {
    /// Finds every time and ID of `record`.
    pub fn scan(record: &[u8]) -> Result<Patch, wire::WireError> {
        let mut points = Points(Vec::new(), 0, Vec::new());
        wire::scan(record, &mut points)?;
        let (spans, traces) = (points.1, points.2);
        let mut points = points.0;
        points.sort_unstable();
        let mut runs: Vec<(usize, usize)> = Vec::new();
        for &(at, kind) in &points {
            match runs.last_mut() {
                Some(r) if at < r.1 => return Err(wire::WireError { offset: at, what: "fields overlap" }),
                Some(r) if at - r.1 < SPLICE_GAP => r.1 = at + kind.len(),
                _ => runs.push((at, at + kind.len())),
            }
        }
        Ok(Patch { points, runs, len: record.len(), spans, traces })
    }

    /// Spans in the scanned record.
    pub fn spans(&self) -> u32 {
        self.spans
    }

    /// Each trace of the record as `keys` remap it (none: as stored), with its spans.
    pub fn traces_sent(&self, keys: Option<([u8; 16], [u8; 8])>) -> impl Iterator<Item = (u128, u32)> + '_ {
        let key = keys.map_or(0, |(t, _)| u128::from_be_bytes(t));
        self.traces.iter().map(move |&(id, n, _)| (id ^ key, n))
    }

    /// The latest span end of each trace, as stored (Unix ns), in the order of
    /// [`Patch::traces_sent`].
    pub fn trace_ends(&self) -> impl Iterator<Item = u64> + '_ {
        self.traces.iter().map(|t| t.2)
    }

    /// Shifts every timestamp of the scanned record, held in `buf`, by `delta_ns` and XORs its
    /// IDs with `keys` (none: IDs kept), in place.
    pub fn apply(&self, buf: &mut [u8], delta_ns: u64, keys: Option<([u8; 16], [u8; 8])>) {
        assert_eq!(buf.len(), self.len, "a patch applies to the record it was scanned from");
        for &(at, kind) in &self.points {
            fix(&mut buf[at..], kind, delta_ns, keys);
        }
    }

    /// What [`Patch::apply`] does, without copying the record: appends to `out` slices of
    /// `record` between the changed fields and small owned runs holding the changed fields
    /// (neighbouring fields share a run). The pieces concatenate to the patched record.
    pub fn splice(&self, record: &Bytes, delta_ns: u64, keys: Option<([u8; 16], [u8; 8])>, out: &mut Vec<Bytes>) {
        assert_eq!(record.len(), self.len, "a patch applies to the record it was scanned from");
        // Room for every piece at once: growing `out` a push at a time reallocated it four or
        // five times per request (a third of splice's instructions under callgrind).
        out.reserve(2 * self.runs.len() + 1);
        let mut owned = Vec::with_capacity(self.runs.iter().map(|r| r.1 - r.0).sum());
        let mut points = self.points.iter().peekable();
        for &(start, end) in &self.runs {
            let base = owned.len();
            owned.extend_from_slice(&record[start..end]);
            while let Some(&(at, kind)) = points.next_if(|p| p.0 < end) {
                fix(&mut owned[base + at - start..], kind, delta_ns, keys);
            }
        }
        let owned = Bytes::from(owned);
        let (mut cursor, mut o) = (0, 0);
        for &(start, end) in &self.runs {
            if start > cursor {
                out.push(record.slice(cursor..start));
            }
            out.push(owned.slice(o..o + end - start));
            o += end - start;
            cursor = end;
        }
        if cursor < record.len() {
            out.push(record.slice(cursor..));
        }
    }
}
