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

/// The fields of a record a patch changes, found by a scan and reused across requests.
#[derive(Default)]
pub struct Patch {
    /// Every time and ID, by offset.
    points: Vec<(usize, Field)>,
    /// Runs `[start, end)` of the record copied and patched (for [`Patch::splice`]).
    runs: Vec<(usize, usize)>,
}

impl Visitor for Patch {
    fn span(&mut self, _: &[u8], s: &SpanFields) {
        let p = &mut self.points;
        p.extend(s.trace_id.map(|at| (at, Field::TraceId)));
        p.extend(s.span_id.iter().chain(&s.parent_span_id).map(|&at| (at, Field::SpanId)));
        p.extend(s.start.iter().chain(&s.end).map(|&at| (at, Field::Time)));
    }
    fn event_time(&mut self, at: usize) {
        self.points.push((at, Field::Time));
    }
    fn link(&mut self, t: Option<usize>, s: Option<usize>) {
        self.points.extend(t.map(|at| (at, Field::TraceId)));
        self.points.extend(s.map(|at| (at, Field::SpanId)));
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
    /// Finds the fields to change: every time, and the IDs when they are remapped.
    fn scan(&mut self, buf: &[u8], remap_ids: bool) -> Result<(), wire::WireError> {
        self.points.clear();
        wire::scan(buf, self)?;
        if !remap_ids {
            self.points.retain(|p| p.1 == Field::Time);
        }
        Ok(())
    }

    /// Shifts every timestamp by `delta_ns` and XORs IDs with `keys`, in place.
    pub fn apply(
        &mut self,
        buf: &mut [u8],
        delta_ns: u64,
        keys: Option<([u8; 16], [u8; 8])>,
    ) -> Result<(), wire::WireError> {
        self.scan(buf, keys.is_some())?;
        for &(at, kind) in &self.points {
            fix(&mut buf[at..], kind, delta_ns, keys);
        }
        Ok(())
    }

    /// What [`Patch::apply`] does, without copying the record: appends to `out` slices of
    /// `record` between the changed fields and small owned runs holding the changed fields
    /// (neighbouring fields share a run). The pieces concatenate to the patched record.
    pub fn splice(
        &mut self,
        record: &Bytes,
        delta_ns: u64,
        keys: Option<([u8; 16], [u8; 8])>,
        out: &mut Vec<Bytes>,
    ) -> Result<(), wire::WireError> {
        self.scan(record, keys.is_some())?;
        self.points.sort_unstable();
        self.runs.clear();
        for &(at, kind) in &self.points {
            match self.runs.last_mut() {
                Some(r) if at < r.1 => return Err(wire::WireError { offset: at, what: "fields overlap" }),
                Some(r) if at - r.1 < SPLICE_GAP => r.1 = at + kind.len(),
                _ => self.runs.push((at, at + kind.len())),
            }
        }
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
        Ok(())
    }
}
