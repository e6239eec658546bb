//! The in-memory form of one synthesized trace, handed from synthesis to encoding.
//!
//! Everything variable-sized lives in flat vectors owned by the [`Trace`] (attributes, events,
//! string lists, and one text buffer that string values point into), so a worker thread reuses
//! one `Trace` for every trace it builds and the hot loop does not allocate.

use crate::scenario::Service;

/// Fixed epoch of every corpus: 2026-01-01T00:00:00Z in Unix nanoseconds. Every trace ends
/// exactly at the epoch; the replayer shifts times by `send_time - epoch`.
pub const EPOCH_NS: u64 = 1_767_225_600_000_000_000;

/// OTLP span kinds used here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum SpanKind {
    /// In-process work (agents, tools).
    Internal = 1,
    /// The receiving side of a remote call.
    Server = 2,
    /// A call to a remote service (models, remote agents, retrieval).
    Client = 3,
}

/// A string value: a literal from the scenario set, or a range of the trace's text buffer.
#[derive(Debug, Clone, Copy)]
pub enum Str<'s> {
    /// Borrowed from the scenarios or a static table.
    Lit(&'s str),
    /// `text[at..at + len]`.
    Buf {
        /// Offset in [`Trace::text`].
        at: u32,
        /// Length in bytes.
        len: u32,
    },
}

/// An attribute value.
#[derive(Debug, Clone, Copy)]
pub enum Val<'s> {
    /// `string_value`.
    Str(Str<'s>),
    /// `int_value`.
    Int(i64),
    /// `double_value`.
    F64(f64),
    /// `bool_value`.
    Bool(bool),
    /// `array_value` of strings: `lists[at..at + len]`.
    StrList {
        /// Offset in [`Trace::lists`].
        at: u32,
        /// Number of strings.
        len: u32,
    },
}

/// A key/value attribute.
#[derive(Debug, Clone, Copy)]
pub struct Attr<'s> {
    /// The key.
    pub key: &'s str,
    /// The value.
    pub val: Val<'s>,
}

/// A half-open range of indexes into one of the trace's flat vectors.
pub type Span32 = (u32, u32);

/// A span event (here: exceptions).
#[derive(Debug, Clone, Copy)]
pub struct Event<'s> {
    /// Event name (`exception`).
    pub name: &'s str,
    /// Absolute time in ns.
    pub time: u64,
    /// Range of [`Trace::attrs`].
    pub attrs: Span32,
}

/// One span.
#[derive(Debug, Clone, Copy)]
pub struct Span<'s> {
    /// Index into [`Trace::resources`].
    pub resource: u16,
    /// Span ID.
    pub id: [u8; 8],
    /// Parent span ID; all zero for the root.
    pub parent: [u8; 8],
    /// Whether the parent lives in another process (sets the W3C "remote" span flag).
    pub remote_parent: bool,
    /// Span name.
    pub name: Str<'s>,
    /// Span kind.
    pub kind: SpanKind,
    /// Start, absolute ns.
    pub start: u64,
    /// End, absolute ns.
    pub end: u64,
    /// Range of [`Trace::attrs`].
    pub attrs: Span32,
    /// Range of [`Trace::events`].
    pub events: Span32,
    /// `Some(message)` when the span's status is ERROR.
    pub error: Option<Str<'s>>,
}

/// A resource (one service) of the trace.
#[derive(Debug, Clone, Copy)]
pub struct Resource<'s> {
    /// The service definition (scope name and version come from here).
    pub service: &'s Service,
    /// Range of [`Trace::attrs`] holding the resource attributes.
    pub attrs: Span32,
}

/// One synthesized trace.
#[derive(Debug, Default)]
pub struct Trace<'s> {
    /// Trace ID.
    pub trace_id: [u8; 16],
    /// Scenario id (index in the scenario set).
    pub scenario: u16,
    /// Resources, one per service the scenario declares.
    pub resources: Vec<Resource<'s>>,
    /// Spans in export order (by end time, as a batch span processor exports them).
    pub spans: Vec<Span<'s>>,
    /// All attributes of spans, events and resources.
    pub attrs: Vec<Attr<'s>>,
    /// All events.
    pub events: Vec<Event<'s>>,
    /// String lists referenced by [`Val::StrList`].
    pub lists: Vec<Str<'s>>,
    /// Text buffer referenced by [`Str::Buf`]; always valid UTF-8.
    pub text: Vec<u8>,
    /// Total tokens (input + output) of the trace's model calls.
    pub tokens: u64,
    /// The conventions the trace follows (its `schema_url`).
    pub semconv: super::Semconv,
}

impl<'s> Trace<'s> {
    /// Empties the trace, keeping allocations.
    pub fn clear(&mut self) {
        self.resources.clear();
        self.spans.clear();
        self.attrs.clear();
        self.events.clear();
        self.lists.clear();
        self.text.clear();
        self.tokens = 0;
    }

    /// The bytes of a string value.
    #[inline]
    pub fn str_bytes<'a>(&'a self, s: &Str<'a>) -> &'a [u8] {
        match *s {
            Str::Lit(l) => l.as_bytes(),
            Str::Buf { at, len } => &self.text[at as usize..(at + len) as usize],
        }
    }

    /// A string value as `&str` (the text buffer is UTF-8 by construction).
    pub fn str_of<'a>(&'a self, s: &Str<'a>) -> &'a str {
        std::str::from_utf8(self.str_bytes(s)).expect("trace text is UTF-8")
    }

    /// The root span (the one without a parent).
    pub fn root(&self) -> Option<&Span<'s>> {
        self.spans.iter().find(|s| s.parent == [0; 8])
    }
}
