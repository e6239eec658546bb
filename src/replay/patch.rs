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

/// Offsets collected by a scan, reused across requests.
#[derive(Default)]
pub struct Patch {
    times: Vec<usize>,
    trace_ids: Vec<usize>,
    span_ids: Vec<usize>,
    /// Every field to change, by offset (for [`Patch::splice`]).
    points: Vec<(usize, Field)>,
    /// Runs `[start, end)` of the record copied and patched (for [`Patch::splice`]).
    runs: Vec<(usize, usize)>,
}

impl Visitor for Patch {
    fn span(&mut self, _: &[u8], s: &SpanFields) {
        self.times.extend(s.start);
        self.times.extend(s.end);
        self.trace_ids.extend(s.trace_id);
        self.span_ids.extend(s.span_id);
        self.span_ids.extend(s.parent_span_id);
    }
    fn event_time(&mut self, at: usize) {
        self.times.push(at);
    }
    fn link(&mut self, t: Option<usize>, s: Option<usize>) {
        self.trace_ids.extend(t);
        self.span_ids.extend(s);
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

/// Changes `kind` at the start of `buf`.
fn fix(buf: &mut [u8], kind: Field, delta_ns: u64, keys: Option<([u8; 16], [u8; 8])>) {
    match (kind, keys) {
        (Field::Time, _) => {
            let v = u64::from_le_bytes(buf[..8].try_into().expect("8 bytes")).wrapping_add(delta_ns);
            buf[..8].copy_from_slice(&v.to_le_bytes());
        }
        (Field::TraceId, Some((tk, _))) => buf[..16].iter_mut().zip(tk).for_each(|(b, k)| *b ^= k),
        (Field::SpanId, Some((_, sk))) => buf[..8].iter_mut().zip(sk).for_each(|(b, k)| *b ^= k),
        _ => {}
    }
}

impl Patch {
    fn scan(&mut self, buf: &[u8]) -> Result<(), wire::WireError> {
        self.times.clear();
        self.trace_ids.clear();
        self.span_ids.clear();
        wire::scan(buf, self)
    }

    /// Shifts every timestamp by `delta_ns` and XORs IDs with `keys`, in place.
    pub fn apply(
        &mut self,
        buf: &mut [u8],
        delta_ns: u64,
        keys: Option<([u8; 16], [u8; 8])>,
    ) -> Result<(), wire::WireError> {
        self.scan(buf)?;
        for &at in &self.times {
            fix(&mut buf[at..], Field::Time, delta_ns, keys);
        }
        if keys.is_some() {
            for &at in &self.trace_ids {
                fix(&mut buf[at..], Field::TraceId, delta_ns, keys);
            }
            for &at in &self.span_ids {
                fix(&mut buf[at..], Field::SpanId, delta_ns, keys);
            }
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
        self.scan(record)?;
        self.points.clear();
        self.points.extend(self.times.iter().map(|&at| (at, Field::Time)));
        if keys.is_some() {
            self.points.extend(self.trace_ids.iter().map(|&at| (at, Field::TraceId)));
            self.points.extend(self.span_ids.iter().map(|&at| (at, Field::SpanId)));
        }
        self.points.sort_unstable();
        self.runs.clear();
        for &(at, kind) in &self.points {
            let len = kind.len();
            match self.runs.last_mut() {
                Some(r) if at < r.1 => {
                    return Err(wire::WireError { offset: at, what: "fields overlap" });
                }
                Some(r) if at - r.1 < SPLICE_GAP => r.1 = at + len,
                _ => self.runs.push((at, at + len)),
            }
        }
        let mut owned = Vec::with_capacity(self.runs.iter().map(|r| r.1 - r.0).sum());
        let mut points = self.points.iter().peekable();
        for &(start, end) in &self.runs {
            let base = owned.len();
            owned.extend_from_slice(&record[start..end]);
            while let Some(&&(at, kind)) = points.peek().filter(|p| p.0 < end) {
                fix(&mut owned[base + at - start..], kind, delta_ns, keys);
                points.next();
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
