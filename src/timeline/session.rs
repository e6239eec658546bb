//! One session (trace) made ready for the timeline: every span encoded on its own, with the
//! byte offsets of its timestamps, so that the simulator can move the session to its start time
//! and pack its spans into any service instance's export requests without encoding again.

use crate::encode::{self, Header, pb::Writer};
use crate::synth::Trace;
use crate::wire::{self, SpanFields, Visitor};

/// One encoded span of a session.
#[derive(Debug, Clone, Copy)]
pub struct SpanRec {
    /// When the span ends, ns after the session's start.
    pub end: u64,
    /// Its bytes in [`Session::bytes`]: a framed field 2 of `ScopeSpans`.
    pub at: u32,
    /// Length of those bytes.
    pub len: u32,
    /// Its resource in the trace (index into [`Session::headers`]).
    pub resource: u16,
    /// Whether it is the trace's root.
    pub root: bool,
}

/// A synthesized trace, encoded span by span.
#[derive(Debug)]
pub struct Session {
    /// Trace index in the corpus.
    pub index: u64,
    /// Scenario id.
    pub scenario: u8,
    /// Model tokens.
    pub tokens: u64,
    /// Last end − first start, ns.
    pub duration: u64,
    /// Earliest span start as synthesized (Unix ns).
    pub first_start: u64,
    /// Resource and scope of each of the trace's resources.
    pub headers: Vec<Header>,
    /// `service.name` of each resource.
    pub services: Vec<String>,
    /// The framed spans back to back.
    pub bytes: Vec<u8>,
    /// The spans, by end time.
    pub spans: Vec<SpanRec>,
    /// Offsets in `bytes` of every `fixed64` timestamp (span starts and ends, event times).
    times: Vec<u32>,
}

/// Collects timestamp offsets of one span.
struct Times<'a> {
    base: usize,
    out: &'a mut Vec<u32>,
}

impl Visitor for Times<'_> {
    fn span(&mut self, _: &[u8], s: &SpanFields) {
        self.out.extend([s.start, s.end].into_iter().flatten().map(|o| (self.base + o) as u32));
    }

    fn event_time(&mut self, at: usize) {
        self.out.push((self.base + at) as u32);
    }
}

impl Session {
    /// Encodes trace `t` (corpus index `index`), in `scratch` first (reused from trace to
    /// trace), so the session's own buffer is allocated once at its exact size.
    pub fn from_trace(t: &Trace, index: u64, scratch: &mut Vec<u8>) -> Session {
        let first_start = t.spans.iter().map(|s| s.start).min().unwrap_or(0);
        let last_end = t.spans.iter().map(|s| s.end).max().unwrap_or(0);
        scratch.clear();
        let bytes = scratch;
        let mut times = Vec::new();
        let mut spans = Vec::with_capacity(t.spans.len());
        for s in &t.spans {
            let at = bytes.len();
            encode::span(&mut Writer::new(bytes), t, s, 2);
            // Skip the tag (one byte) and the length prefix to reach the span's own fields.
            let (_, n) = crate::corpus::reader::read_varint(&bytes[at + 1..]).expect("the encoder frames spans");
            let base = at + 1 + n;
            wire::scan_span(&bytes[base..], &mut Times { base, out: &mut times })
                .expect("the encoder writes well-formed spans");
            spans.push(SpanRec {
                end: s.end - first_start,
                at: at as u32,
                len: (bytes.len() - at) as u32,
                resource: s.resource,
                root: s.parent == [0; 8],
            });
        }
        spans.sort_by_key(|s| s.end);
        let headers = (0..t.resources.len()).map(|r| encode::header(t, r)).collect();
        let services = t.resources.iter().map(|r| r.service.name.clone()).collect();
        Session {
            index,
            scenario: t.scenario as u8,
            tokens: t.tokens,
            duration: last_end - first_start,
            first_start,
            headers,
            services,
            bytes: bytes.clone(),
            spans,
            times,
        }
    }

    /// Moves every timestamp so that the session starts at `start_ns` (Unix ns).
    pub fn start_at(&mut self, start_ns: u64) {
        for &o in &self.times {
            let o = o as usize;
            let v = wire::read_u64(&self.bytes, o);
            let moved = v - self.first_start + start_ns;
            self.bytes[o..o + 8].copy_from_slice(&moved.to_le_bytes());
        }
        self.first_start = start_ns;
    }

    /// Span `i`'s bytes.
    pub fn span_bytes(&self, i: usize) -> &[u8] {
        let s = &self.spans[i];
        &self.bytes[s.at as usize..(s.at + s.len) as usize]
    }
}
