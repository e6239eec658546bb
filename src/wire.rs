//! A zero-copy walk over an encoded `ExportTraceServiceRequest`.
//!
//! Replay patches timestamps and IDs in place and the sink counts spans and IDs at line rate;
//! neither can afford to decode whole messages into structs (every attribute string would be
//! allocated). [`scan`] follows only the path request → ResourceSpans → ScopeSpans → Span (and a
//! span's events and links), skipping everything else by its length prefix, and reports the byte
//! offsets of the fields that matter. It checks the framing it walks — wire types, lengths,
//! ID sizes — and fails with the offset of the first violation, so the sink can answer 400.

/// Where a span's fields sit in the buffer (byte offsets of the field *values*).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpanFields {
    /// 16-byte trace ID.
    pub trace_id: Option<usize>,
    /// 8-byte span ID.
    pub span_id: Option<usize>,
    /// 8-byte parent span ID (absent or empty for a root).
    pub parent_span_id: Option<usize>,
    /// `fixed64` start time.
    pub start: Option<usize>,
    /// `fixed64` end time.
    pub end: Option<usize>,
}

/// Callbacks of [`scan`]. Offsets index the scanned buffer.
pub trait Visitor {
    /// A span, after all its fields were seen.
    fn span(&mut self, buf: &[u8], s: &SpanFields);
    /// An event's `fixed64` time.
    fn event_time(&mut self, _at: usize) {}
    /// A link's trace ID (16 bytes) and span ID (8 bytes), when present.
    fn link(&mut self, _trace_id: Option<usize>, _span_id: Option<usize>) {}
}

/// The body is not a well-formed `ExportTraceServiceRequest`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed OTLP protobuf at byte {offset}: {what}")]
pub struct WireError {
    /// Byte offset of the problem.
    pub offset: usize,
    /// What is wrong.
    pub what: &'static str,
}

const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;
const FIXED32: u8 = 5;

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    end: usize,
}

impl<'a> Cursor<'a> {
    fn err(&self, what: &'static str) -> WireError {
        WireError { offset: self.pos, what }
    }

    #[inline]
    fn varint(&mut self) -> Result<u64, WireError> {
        let mut v = 0u64;
        for i in 0..10 {
            let b =
                *self.buf.get(self.pos).filter(|_| self.pos < self.end).ok_or_else(|| self.err("truncated varint"))?;
            self.pos += 1;
            v |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(self.err("varint longer than 10 bytes"))
    }

    /// Reads a tag; returns (field, wire type).
    #[inline]
    fn tag(&mut self) -> Result<(u32, u8), WireError> {
        let t = self.varint()?;
        let field = (t >> 3) as u32;
        if field == 0 {
            return Err(self.err("field number 0"));
        }
        Ok((field, (t & 7) as u8))
    }

    /// Reads a length prefix and returns the sub-range it covers.
    #[inline]
    fn len_range(&mut self) -> Result<(usize, usize), WireError> {
        let len = self.varint()? as usize;
        let start = self.pos;
        let end = start
            .checked_add(len)
            .filter(|e| *e <= self.end)
            .ok_or_else(|| self.err("length runs past the message"))?;
        self.pos = end;
        Ok((start, end))
    }

    #[inline]
    fn skip(&mut self, wt: u8) -> Result<(), WireError> {
        match wt {
            VARINT => self.varint().map(|_| ()),
            FIXED64 => self.advance(8),
            FIXED32 => self.advance(4),
            LEN => self.len_range().map(|_| ()),
            _ => Err(self.err("unsupported wire type (groups or invalid)")),
        }
    }

    #[inline]
    fn advance(&mut self, n: usize) -> Result<(), WireError> {
        if self.pos + n > self.end {
            return Err(self.err("fixed-width field runs past the message"));
        }
        self.pos += n;
        Ok(())
    }

    fn sub(&self, (start, end): (usize, usize)) -> Cursor<'a> {
        Cursor { buf: self.buf, pos: start, end }
    }

    fn done(&self) -> bool {
        self.pos >= self.end
    }
}

/// Walks `buf` as an `ExportTraceServiceRequest`, calling `v` for every span.
pub fn scan(buf: &[u8], v: &mut impl Visitor) -> Result<(), WireError> {
    let mut c = Cursor { buf, pos: 0, end: buf.len() };
    while !c.done() {
        let (field, wt) = c.tag()?;
        if field == 1 && wt == LEN {
            let r = c.len_range()?;
            resource_spans(&mut c.sub(r), v)?;
        } else {
            c.skip(wt)?;
        }
    }
    Ok(())
}

/// Walks `buf` as one `Span` message (its fields, without a tag or length prefix); offsets
/// index `buf`.
pub fn scan_span(buf: &[u8], v: &mut impl Visitor) -> Result<(), WireError> {
    span(&mut Cursor { buf, pos: 0, end: buf.len() }, v)
}

fn resource_spans(c: &mut Cursor, v: &mut impl Visitor) -> Result<(), WireError> {
    while !c.done() {
        let (field, wt) = c.tag()?;
        if field == 2 && wt == LEN {
            let r = c.len_range()?;
            scope_spans(&mut c.sub(r), v)?;
        } else {
            c.skip(wt)?;
        }
    }
    Ok(())
}

fn scope_spans(c: &mut Cursor, v: &mut impl Visitor) -> Result<(), WireError> {
    while !c.done() {
        let (field, wt) = c.tag()?;
        if field == 2 && wt == LEN {
            let r = c.len_range()?;
            span(&mut c.sub(r), v)?;
        } else {
            c.skip(wt)?;
        }
    }
    Ok(())
}

/// Expects a `bytes` field of exactly `n` bytes (or empty when `allow_empty`).
fn id_field(c: &mut Cursor, wt: u8, n: usize, allow_empty: bool) -> Result<Option<usize>, WireError> {
    if wt != LEN {
        return Err(c.err("ID field is not length-delimited"));
    }
    let (start, end) = c.len_range()?;
    match end - start {
        0 if allow_empty => Ok(None),
        len if len == n => Ok(Some(start)),
        _ => Err(WireError {
            offset: start,
            what: if n == 16 { "trace ID is not 16 bytes" } else { "span ID is not 8 bytes" },
        }),
    }
}

fn fixed64_field(c: &mut Cursor, wt: u8) -> Result<usize, WireError> {
    if wt != FIXED64 {
        return Err(c.err("timestamp is not fixed64"));
    }
    let at = c.pos;
    c.advance(8)?;
    Ok(at)
}

fn span(c: &mut Cursor, v: &mut impl Visitor) -> Result<(), WireError> {
    let mut f = SpanFields::default();
    while !c.done() {
        let (field, wt) = c.tag()?;
        match field {
            1 => f.trace_id = id_field(c, wt, 16, false)?,
            2 => f.span_id = id_field(c, wt, 8, false)?,
            4 => f.parent_span_id = id_field(c, wt, 8, true)?,
            7 => f.start = Some(fixed64_field(c, wt)?),
            8 => f.end = Some(fixed64_field(c, wt)?),
            11 if wt == LEN => {
                let r = c.len_range()?;
                let mut e = c.sub(r);
                while !e.done() {
                    let (ef, ewt) = e.tag()?;
                    if ef == 1 {
                        let at = fixed64_field(&mut e, ewt)?;
                        v.event_time(at);
                    } else {
                        e.skip(ewt)?;
                    }
                }
            }
            13 if wt == LEN => {
                let r = c.len_range()?;
                let mut l = c.sub(r);
                let (mut tid, mut sid) = (None, None);
                while !l.done() {
                    let (lf, lwt) = l.tag()?;
                    match lf {
                        1 => tid = id_field(&mut l, lwt, 16, true)?,
                        2 => sid = id_field(&mut l, lwt, 8, true)?,
                        _ => l.skip(lwt)?,
                    }
                }
                v.link(tid, sid);
            }
            _ => c.skip(wt)?,
        }
    }
    if f.trace_id.is_none() || f.span_id.is_none() {
        return Err(c.err("span without trace ID or span ID"));
    }
    v.span(c.buf, &f);
    Ok(())
}

/// Counts spans (a visitor that only counts).
#[derive(Debug, Default)]
pub struct CountSpans(pub u64);

impl Visitor for CountSpans {
    fn span(&mut self, _: &[u8], _: &SpanFields) {
        self.0 += 1;
    }
}

/// Reads the 8 bytes at `at` as a little-endian u64.
#[inline]
pub fn read_u64(buf: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(buf[at..at + 8].try_into().expect("8 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otlp::{self, ExportTraceServiceRequest};
    use prost::Message;

    fn request() -> Vec<u8> {
        let span = |id: u8, parent: Option<u8>| otlp::Span {
            trace_id: vec![7; 16],
            span_id: vec![id; 8],
            parent_span_id: parent.map(|p| vec![p; 8]).unwrap_or_default(),
            name: format!("s{id}"),
            start_time_unix_nano: 1000 + u64::from(id),
            end_time_unix_nano: 2000 + u64::from(id),
            events: vec![otlp::Event { time_unix_nano: 1500, name: "e".into(), ..Default::default() }],
            links: vec![otlp::Link { trace_id: vec![9; 16], span_id: vec![3; 8], ..Default::default() }],
            ..Default::default()
        };
        let req = ExportTraceServiceRequest {
            resource_spans: vec![otlp::ResourceSpans {
                scope_spans: vec![otlp::ScopeSpans {
                    spans: vec![span(1, None), span(2, Some(1))],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        req.encode_to_vec()
    }

    /// (span ID, parent ID, start, end) of a scanned span.
    type Seen = (Vec<u8>, Option<Vec<u8>>, u64, u64);

    #[derive(Default)]
    struct Collect {
        spans: Vec<Seen>,
        events: Vec<u64>,
        links: usize,
    }

    impl Visitor for Collect {
        fn span(&mut self, b: &[u8], s: &SpanFields) {
            let id = b[s.span_id.unwrap()..s.span_id.unwrap() + 8].to_vec();
            let parent = s.parent_span_id.map(|p| b[p..p + 8].to_vec());
            self.spans.push((id, parent, read_u64(b, s.start.unwrap()), read_u64(b, s.end.unwrap())));
        }
        fn event_time(&mut self, at: usize) {
            self.events.push(at as u64);
        }
        fn link(&mut self, t: Option<usize>, s: Option<usize>) {
            assert!(t.is_some() && s.is_some());
            self.links += 1;
        }
    }

    #[test]
    fn finds_every_span_field() {
        let b = request();
        let mut c = Collect::default();
        scan(&b, &mut c).unwrap();
        assert_eq!(c.spans.len(), 2);
        assert_eq!(c.spans[0], (vec![1; 8], None, 1001, 2001));
        assert_eq!(c.spans[1], (vec![2; 8], Some(vec![1; 8]), 1002, 2002));
        assert_eq!(c.events.len(), 2);
        assert_eq!(c.links, 2);
    }

    #[test]
    fn truncation_and_garbage_are_errors_never_panics() {
        let b = request();
        for cut in 0..b.len() {
            let _ = scan(&b[..cut], &mut CountSpans::default());
        }
        assert!(scan(&b[..b.len() - 3], &mut CountSpans::default()).is_err());
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..2000 {
            let junk: Vec<u8> = (0..64)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            let _ = scan(&junk, &mut CountSpans::default());
        }
    }

    #[test]
    fn wrong_id_length_is_rejected_with_offset() {
        let req = ExportTraceServiceRequest {
            resource_spans: vec![otlp::ResourceSpans {
                scope_spans: vec![otlp::ScopeSpans {
                    spans: vec![otlp::Span { trace_id: vec![1; 15], span_id: vec![2; 8], ..Default::default() }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let e = scan(&req.encode_to_vec(), &mut CountSpans::default()).unwrap_err();
        assert_eq!(e.what, "trace ID is not 16 bytes");
    }
}
