//! Spans → OTLP protobuf records.
//!
//! A *record* is one HTTP request body: an `ExportTraceServiceRequest`, written with
//! varint-length-delimited framing into the corpus. [`encode_group`] turns a request group
//! (the `--traces-per-request` consecutive traces that share a request) into one or more
//! records, never larger than `--max-request-bytes`: traces that do not fit together go to
//! consecutive records, and a trace that does not fit alone is split by spans (OTLP allows a
//! trace's spans to arrive in several requests). Field order and default-skipping follow
//! prost/protoc, so decoding and re-encoding a record gives the same bytes.

pub mod pb;

use crate::synth::{Attr, Span, Str, Trace, Val};
use pb::{Writer, put_varint, varint_len};

/// Scenario id recorded for a record whose traces come from different scenarios.
pub const MIXED_SCENARIO: u8 = u8::MAX;

/// What the corpus index keeps about each record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RecordMeta {
    /// Payload bytes (the request body), without the length prefix.
    pub len: u32,
    /// Spans in the record.
    pub spans: u32,
    /// Traces that end in this record (a split trace counts in its last record, which holds
    /// its root span).
    pub traces: u16,
    /// Scenario id, or [`MIXED_SCENARIO`].
    pub scenario: u8,
    /// When the record is sent, ns from the start of the timeline (`gen --shape sdk`; 0 in a
    /// corpus of whole traces, which has no timeline).
    pub offset_ns: u64,
}

/// What one scenario contributed, counted per trace: exact also when a request carries the
/// traces of several scenarios (the record table then says only "mixed").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ScenarioCounts {
    /// Records holding at least one span of the scenario.
    pub records: u64,
    /// Traces.
    pub traces: u64,
    /// Spans.
    pub spans: u64,
    /// Encoded bytes of its traces (without the request envelope they share).
    pub raw_bytes: u64,
}

impl ScenarioCounts {
    /// Adds `o` to these counts.
    pub fn add(&mut self, o: &ScenarioCounts) {
        self.records += o.records;
        self.traces += o.traces;
        self.spans += o.spans;
        self.raw_bytes += o.raw_bytes;
    }
}

/// Records of one request group: their bytes back to back, each with its length prefix.
#[derive(Debug, Default)]
pub struct Group {
    /// Framed records.
    pub bytes: Vec<u8>,
    /// One entry per record.
    pub records: Vec<RecordMeta>,
    /// Traces in the group.
    pub traces: u32,
    /// Tokens of the group's traces.
    pub tokens: u64,
    /// Per scenario id, what its traces contributed.
    pub scenarios: Vec<(u8, ScenarioCounts)>,
}

impl Group {
    /// Empties the group, keeping its allocation.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.records.clear();
        self.traces = 0;
        self.tokens = 0;
        self.scenarios.clear();
    }

    /// The counts of scenario `id` (created empty).
    pub fn counts(&mut self, id: u8) -> &mut ScenarioCounts {
        let i = match self.scenarios.iter().position(|(s, _)| *s == id) {
            Some(i) => i,
            None => {
                self.scenarios.push((id, ScenarioCounts::default()));
                self.scenarios.len() - 1
            }
        };
        &mut self.scenarios[i].1
    }
}

/// A record cannot be made small enough.
#[derive(Debug, thiserror::Error)]
#[error("--max-request-bytes {max} is smaller than span {span} of trace {trace} ({need} bytes with its resource)")]
pub struct TooSmall {
    /// The limit.
    pub max: usize,
    /// Trace index in the corpus.
    pub trace: u64,
    /// Span position in the trace.
    pub span: usize,
    /// Bytes that span needs alone.
    pub need: usize,
}

#[inline]
fn write_str(w: &mut Writer, t: &Trace, field: u32, s: &Str) {
    w.bytes(field, t.str_bytes(s));
}

fn any_value(w: &mut Writer, t: &Trace, field: u32, v: &Val) {
    let m = w.begin(field);
    match *v {
        Val::Str(ref s) => write_str(w, t, 1, s),
        Val::Bool(b) => w.varint(2, u64::from(b)),
        Val::Int(i) => w.varint(3, i as u64),
        Val::F64(f) => w.double(4, f),
        Val::StrList { at, len } => {
            let arr = w.begin(5);
            for s in &t.lists[at as usize..(at + len) as usize] {
                let item = w.begin(1);
                write_str(w, t, 1, s);
                w.end(item);
            }
            w.end(arr);
        }
    }
    w.end(m);
}

fn key_values(w: &mut Writer, t: &Trace, field: u32, attrs: &[Attr]) {
    for a in attrs {
        let kv = w.begin(field);
        w.string(1, a.key);
        any_value(w, t, 2, &a.val);
        w.end(kv);
    }
}

fn range<T>(v: &[T], r: (u32, u32)) -> &[T] {
    &v[r.0 as usize..r.1 as usize]
}

/// W3C trace flags (sampled) plus the OTLP "has is_remote" bits.
fn span_flags(s: &Span) -> u32 {
    const SAMPLED: u32 = 0x01;
    const HAS_IS_REMOTE: u32 = 0x100;
    const IS_REMOTE: u32 = 0x200;
    SAMPLED | HAS_IS_REMOTE | if s.remote_parent { IS_REMOTE } else { 0 }
}

/// Writes one `Span` message in `field`.
pub fn span(w: &mut Writer, t: &Trace, s: &Span, field: u32) {
    let m = w.begin(field);
    w.bytes(1, &t.trace_id);
    w.bytes(2, &s.id);
    if s.parent != [0; 8] {
        w.bytes(4, &s.parent);
    }
    write_str(w, t, 5, &s.name);
    w.varint(6, s.kind as u64);
    w.fixed64(7, s.start);
    w.fixed64(8, s.end);
    key_values(w, t, 9, range(&t.attrs, s.attrs));
    for e in range(&t.events, s.events) {
        let em = w.begin(11);
        w.fixed64(1, e.time);
        w.string(2, e.name);
        key_values(w, t, 3, range(&t.attrs, e.attrs));
        w.end(em);
    }
    let st = w.begin(15);
    if let Some(msg) = &s.error {
        write_str(w, t, 2, msg);
        w.varint(3, 2); // STATUS_CODE_ERROR
    }
    w.end(st);
    w.fixed32(16, span_flags(s));
    w.end(m);
}

/// Writes the `Resource` of resource `r` (field 1 of `ResourceSpans`).
fn resource(w: &mut Writer, t: &Trace, r: usize) {
    let rm = w.begin(1);
    key_values(w, t, 1, range(&t.attrs, t.resources[r].attrs));
    w.end(rm);
}

/// Writes the `InstrumentationScope` of resource `r`'s service (field 1 of `ScopeSpans`).
fn scope(w: &mut Writer, t: &Trace, r: usize) {
    let service = t.resources[r].service;
    let scope = w.begin(1);
    w.string(1, &service.scope);
    w.string(2, &service.scope_version);
    w.end(scope);
}

/// What an SDK sends with every export of one service instance: its `Resource` and
/// `InstrumentationScope`, encoded once (`gen --shape sdk`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Header {
    /// Field 1 of `ResourceSpans`, framed.
    pub resource: Vec<u8>,
    /// Field 1 of `ScopeSpans`, framed.
    pub scope: Vec<u8>,
    /// The `schema_url` of the conventions the spans follow.
    pub schema_url: &'static str,
}

/// The header of resource `r` of `t`.
pub fn header(t: &Trace, r: usize) -> Header {
    let (mut resource_bytes, mut scope_bytes) = (Vec::new(), Vec::new());
    resource(&mut Writer::new(&mut resource_bytes), t, r);
    scope(&mut Writer::new(&mut scope_bytes), t, r);
    Header { resource: resource_bytes, scope: scope_bytes, schema_url: t.semconv.schema_url() }
}

/// Bytes a request adds around its spans at most: the header, two schema URLs, and length
/// prefixes of up to five bytes each.
pub fn export_overhead(h: &Header) -> usize {
    h.resource.len() + h.scope.len() + 2 * (h.schema_url.len() + 2) + 4 * 5
}

/// Appends one framed record (its varint length, then the body): an export request of a
/// service instance, one `ResourceSpans` with one `ScopeSpans` holding `spans`, each already a
/// framed `Span` (field 2 of `ScopeSpans`, as [`span`] writes it). Returns the body's length.
/// Every length is known before the first byte, so the bytes are written once, in place — the
/// record is megabytes where `Writer::end` would move it twice (measured: a fifth of
/// `gen --shape sdk`'s time beyond the whole-trace shape went to such moves and regrowth).
pub fn export_request(out: &mut Vec<u8>, h: &Header, spans: &[&[u8]]) -> usize {
    const RESOURCE_SPANS: u8 = 1 << 3 | 2;
    const SCOPE_SPANS: u8 = 2 << 3 | 2;
    const SCHEMA_URL_FIELD: u8 = 3 << 3 | 2;
    let url = h.schema_url.as_bytes();
    let url_field = 1 + varint_len(url.len() as u64) + url.len();
    let ss_len = h.scope.len() + spans.iter().map(|s| s.len()).sum::<usize>() + url_field;
    let rs_len = h.resource.len() + 1 + varint_len(ss_len as u64) + ss_len + url_field;
    let body = 1 + varint_len(rs_len as u64) + rs_len;
    out.reserve(varint_len(body as u64) + body);
    put_varint(out, body as u64);
    out.push(RESOURCE_SPANS);
    put_varint(out, rs_len as u64);
    out.extend_from_slice(&h.resource);
    out.push(SCOPE_SPANS);
    put_varint(out, ss_len as u64);
    out.extend_from_slice(&h.scope);
    for s in spans {
        out.extend_from_slice(s);
    }
    for _ in 0..2 {
        out.push(SCHEMA_URL_FIELD);
        put_varint(out, url.len() as u64);
        out.extend_from_slice(url);
    }
    body
}

/// Writes one `ResourceSpans` (field 1 of the request) for resource `r` with the given spans.
fn resource_spans<'a>(w: &mut Writer, t: &Trace, r: usize, spans: impl Iterator<Item = &'a Span<'a>>) {
    let rs = w.begin(1);
    resource(w, t, r);
    let ss = w.begin(2);
    scope(w, t, r);
    for s in spans {
        span(w, t, s, 2);
    }
    // The conventions the trace follows: the same on the scope and the resource.
    let schema_url = t.semconv.schema_url();
    w.string(3, schema_url);
    w.end(ss);
    w.string(3, schema_url);
    w.end(rs);
}

/// Appends the `ResourceSpans` of every resource that has spans among `pick` (indexes into
/// `t.spans`, in order); spans keep their order within each resource.
pub fn trace_spans(w: &mut Writer, t: &Trace, pick: Option<&[u32]>) {
    for r in 0..t.resources.len() {
        let it = |i: &u32| {
            let s = &t.spans[*i as usize];
            (s.resource as usize == r).then_some(s)
        };
        let has = match pick {
            Some(p) => p.iter().any(|i| t.spans[*i as usize].resource as usize == r),
            None => t.spans.iter().any(|s| s.resource as usize == r),
        };
        if !has {
            continue;
        }
        match pick {
            Some(p) => resource_spans(w, t, r, p.iter().filter_map(it)),
            None => resource_spans(w, t, r, t.spans.iter().filter(|s| s.resource as usize == r)),
        }
    }
}

/// Encodes the traces of one request group into `out` (cleared first). `first_index` is the
/// corpus index of `traces[0]`, for error messages.
pub fn encode_group(
    traces: &[Trace],
    first_index: u64,
    max: usize,
    out: &mut Group,
    scratch: &mut Vec<u8>,
) -> Result<(), TooSmall> {
    out.clear();
    out.traces = traces.len() as u32;
    out.tokens = traces.iter().map(|t| t.tokens).sum();
    let mut open: Option<(pb::Open, RecordMeta)> = None;
    // The scenarios with spans in the open record.
    let mut open_scenarios: Vec<u8> = Vec::new();
    for (k, t) in traces.iter().enumerate() {
        scratch.clear();
        trace_spans(&mut Writer::new(scratch), t, None);
        let need = scratch.len();
        let scenario = t.scenario as u8;
        let c = out.counts(scenario);
        c.traces += 1;
        c.spans += t.spans.len() as u64;
        c.raw_bytes += need as u64;
        // Close the open record if this trace does not fit in it.
        if let Some((o, meta)) = open.take() {
            let mut w = Writer::new(&mut out.bytes);
            if w.open_len(&o) + need <= max {
                w.buf.extend_from_slice(scratch);
                let merged = RecordMeta {
                    len: 0,
                    spans: meta.spans + t.spans.len() as u32,
                    traces: meta.traces + 1,
                    scenario: if meta.scenario == scenario { scenario } else { MIXED_SCENARIO },
                    offset_ns: 0,
                };
                open = Some((o, merged));
                if !open_scenarios.contains(&scenario) {
                    open_scenarios.push(scenario);
                }
                continue;
            }
            close(&mut out.records, &mut w, o, meta);
            count_records(out, &mut open_scenarios);
        }
        if need <= max {
            let mut w = Writer::new(&mut out.bytes);
            let o = w.begin_unframed();
            w.buf.extend_from_slice(scratch);
            open = Some((o, RecordMeta { len: 0, spans: t.spans.len() as u32, traces: 1, scenario, offset_ns: 0 }));
            open_scenarios.push(scenario);
        } else {
            let before = out.records.len();
            split_trace(t, first_index + k as u64, max, out, scratch)?;
            out.counts(scenario).records += (out.records.len() - before) as u64;
        }
    }
    if let Some((o, meta)) = open {
        close(&mut out.records, &mut Writer::new(&mut out.bytes), o, meta);
        count_records(out, &mut open_scenarios);
    }
    Ok(())
}

/// Counts the record just closed for each scenario with spans in it.
fn count_records(out: &mut Group, scenarios: &mut Vec<u8>) {
    for s in scenarios.drain(..) {
        out.counts(s).records += 1;
    }
}

fn close(records: &mut Vec<RecordMeta>, w: &mut Writer, o: pb::Open, mut meta: RecordMeta) {
    meta.len = w.open_len(&o) as u32;
    w.end(o);
    records.push(meta);
}

/// Worst-case bytes a `ResourceSpans` + `ScopeSpans` wrapper adds around its spans.
fn wrapper_bytes(t: &Trace, r: usize, scratch: &mut Vec<u8>) -> usize {
    scratch.clear();
    resource_spans(&mut Writer::new(scratch), t, r, std::iter::empty());
    // The empty wrapper's own length prefixes are one byte each; real ones take up to five.
    scratch.len() + 2 * 4
}

/// Splits one trace across records of at most `max` bytes, spans in export order.
fn split_trace(t: &Trace, index: u64, max: usize, out: &mut Group, scratch: &mut Vec<u8>) -> Result<(), TooSmall> {
    let wrappers: Vec<usize> = (0..t.resources.len()).map(|r| wrapper_bytes(t, r, scratch)).collect();
    let mut chunk: Vec<u32> = Vec::new();
    let mut chunk_resources: Vec<bool> = vec![false; t.resources.len()];
    let mut size = 0usize;
    let flush = |chunk: &mut Vec<u32>, out: &mut Group, last: bool| {
        let mut w = Writer::new(&mut out.bytes);
        let o = w.begin_unframed();
        trace_spans(&mut w, t, Some(chunk));
        let meta = RecordMeta {
            len: 0,
            spans: chunk.len() as u32,
            traces: u16::from(last),
            scenario: t.scenario as u8,
            offset_ns: 0,
        };
        close(&mut out.records, &mut w, o, meta);
        chunk.clear();
    };
    for (i, s) in t.spans.iter().enumerate() {
        scratch.clear();
        span(&mut Writer::new(scratch), t, s, 2);
        let span_len = scratch.len();
        let r = s.resource as usize;
        let extra = span_len + if chunk_resources[r] { 0 } else { wrappers[r] };
        if wrappers[r] + span_len > max {
            return Err(TooSmall { max, trace: index, span: i, need: wrappers[r] + span_len });
        }
        if size + extra > max {
            flush(&mut chunk, out, false);
            chunk_resources.iter_mut().for_each(|b| *b = false);
            size = 0;
        }
        size += span_len + if chunk_resources[r] { 0 } else { wrappers[r] };
        chunk_resources[r] = true;
        chunk.push(i as u32);
    }
    if !chunk.is_empty() {
        flush(&mut chunk, out, true);
    }
    Ok(())
}

/// Appends a varint-delimited record holding `body` (used by tests and tools).
pub fn frame_record(out: &mut Vec<u8>, body: &[u8]) {
    put_varint(out, body.len() as u64);
    out.extend_from_slice(body);
}

/// Size of a framed record with a `len`-byte body.
pub fn framed_len(len: usize) -> usize {
    varint_len(len as u64) + len
}

#[cfg(test)]
mod tests;
