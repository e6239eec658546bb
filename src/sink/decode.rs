//! From a received body to the list of span IDs it carries.
//!
//! Three steps, each with its own way to fail and its own HTTP status: the content type and
//! encoding must be known (415), the decompressed body must fit under the size limit (413),
//! and it must be a well-formed `ExportTraceServiceRequest` in protobuf or OTLP/JSON (400).
//! Decompression reads through a cap, so a small gzip or zstd bomb stops at the limit instead
//! of inflating into memory; zstd's window is capped too, since a frame header may ask for
//! gigabytes of window before any data is produced.

use std::io::Read;

use serde::Deserialize;

use crate::wire::{self, SpanFields, Visitor};

/// The body's format, from `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `application/x-protobuf`.
    Protobuf,
    /// `application/json` (OTLP/JSON).
    Json,
}

impl Format {
    /// Reads a `Content-Type` value (parameters such as `; charset=utf-8` are ignored).
    pub fn from_content_type(v: &str) -> Option<Format> {
        let mime = v.split(';').next().unwrap_or("").trim();
        if mime.eq_ignore_ascii_case("application/x-protobuf") || mime.eq_ignore_ascii_case("application/protobuf") {
            Some(Format::Protobuf)
        } else if mime.eq_ignore_ascii_case("application/json") {
            Some(Format::Json)
        } else {
            None
        }
    }

    /// The `Content-Type` of answers in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Protobuf => "application/x-protobuf",
            Format::Json => "application/json",
        }
    }
}

/// The body's compression, from `Content-Encoding`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// No compression (header absent or `identity`).
    Identity,
    /// `gzip` (several members are read as one stream).
    Gzip,
    /// `zstd`.
    Zstd,
}

impl Encoding {
    /// Reads a `Content-Encoding` value; `None` for an encoding the sink does not speak.
    pub fn from_header(v: Option<&str>) -> Option<Encoding> {
        match v.map(str::trim) {
            None | Some("") => Some(Encoding::Identity),
            Some(s) if s.eq_ignore_ascii_case("identity") => Some(Encoding::Identity),
            Some(s) if s.eq_ignore_ascii_case("gzip") || s.eq_ignore_ascii_case("x-gzip") => Some(Encoding::Gzip),
            Some(s) if s.eq_ignore_ascii_case("zstd") => Some(Encoding::Zstd),
            Some(_) => None,
        }
    }
}

/// Why a body could not be turned into spans.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Decompressed, the body is larger than the limit (HTTP 413).
    #[error("decompressed body exceeds the {limit}-byte limit")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// Corrupt compression, bad protobuf or bad JSON (HTTP 400).
    #[error("{0}")]
    Invalid(String),
}

/// Decompresses `body` into `out` (cleared first), producing at most `limit` bytes.
pub fn decompress(body: &[u8], enc: Encoding, limit: usize, out: &mut Vec<u8>) -> Result<(), DecodeError> {
    out.clear();
    let res = match enc {
        Encoding::Identity => {
            if body.len() > limit {
                return Err(DecodeError::TooLarge { limit });
            }
            out.extend_from_slice(body);
            return Ok(());
        }
        Encoding::Gzip => read_capped(flate2::read::MultiGzDecoder::new(body), limit, out),
        Encoding::Zstd => {
            let mut d = zstd::stream::read::Decoder::with_buffer(body)
                .map_err(|e| DecodeError::Invalid(format!("zstd: {e}")))?;
            // A body within the limit needs no window larger than the limit; 8 MiB (what
            // streaming encoders up to level 19 declare) is always allowed.
            let log = (limit.max(2) - 1).ilog2() + 1;
            d.window_log_max(log.clamp(23, 31)).map_err(|e| DecodeError::Invalid(format!("zstd: {e}")))?;
            read_capped(d, limit, out).map_err(|e| match e {
                DecodeError::Invalid(m) if m.contains("Frame requires too much memory") => {
                    DecodeError::TooLarge { limit }
                }
                DecodeError::Invalid(m) => DecodeError::Invalid(format!("zstd: {m}")),
                other => other,
            })
        }
    };
    if enc == Encoding::Gzip {
        return res.map_err(|e| match e {
            DecodeError::Invalid(m) => DecodeError::Invalid(format!("gzip: {m}")),
            other => other,
        });
    }
    res
}

fn read_capped(r: impl Read, limit: usize, out: &mut Vec<u8>) -> Result<(), DecodeError> {
    let mut capped = r.take(limit as u64 + 1);
    capped.read_to_end(out).map_err(|e| DecodeError::Invalid(e.to_string()))?;
    if out.len() > limit {
        out.clear();
        return Err(DecodeError::TooLarge { limit });
    }
    Ok(())
}

/// One span's identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SpanKey {
    /// The 16-byte trace ID, big-endian.
    pub trace: u128,
    /// The 8-byte span ID, big-endian.
    pub span: u64,
}

struct Keys<'a>(&'a mut Vec<SpanKey>);

impl Visitor for Keys<'_> {
    fn span(&mut self, buf: &[u8], s: &SpanFields) {
        // `wire::scan` only calls this with both IDs present and of the right size.
        let (t, sp) = (s.trace_id.unwrap_or_default(), s.span_id.unwrap_or_default());
        let trace = u128::from_be_bytes(buf[t..t + 16].try_into().expect("16-byte trace ID"));
        let span = u64::from_be_bytes(buf[sp..sp + 8].try_into().expect("8-byte span ID"));
        self.0.push(SpanKey { trace, span });
    }
}

/// Lists the spans of a decompressed body in order (`out` is cleared first).
pub fn span_keys(body: &[u8], format: Format, out: &mut Vec<SpanKey>) -> Result<(), DecodeError> {
    out.clear();
    match format {
        Format::Protobuf => wire::scan(body, &mut Keys(out)).map_err(|e| {
            out.clear();
            DecodeError::Invalid(e.to_string())
        }),
        Format::Json => json_keys(body, out),
    }
}

// OTLP/JSON, as deep as the span fields the spec gives rules for: IDs in hex (either case),
// enums as integers, 64-bit integers as decimal strings or numbers, keys in lowerCamelCase.
// Unknown keys are ignored, as the spec asks of receivers; so are the proto field names
// (`resource_spans`), which the spec says are not valid keys. `null` is a field's default.
#[derive(Deserialize)]
struct JsonRequest<'a> {
    #[serde(default, rename = "resourceSpans", borrow)]
    resource_spans: Option<Vec<JsonResourceSpans<'a>>>,
}

#[derive(Deserialize)]
struct JsonResourceSpans<'a> {
    #[serde(default, rename = "scopeSpans", borrow)]
    scope_spans: Option<Vec<JsonScopeSpans<'a>>>,
}

#[derive(Deserialize)]
struct JsonScopeSpans<'a> {
    #[serde(default, borrow)]
    spans: Option<Vec<JsonSpan<'a>>>,
}

#[derive(Deserialize)]
struct JsonSpan<'a> {
    #[serde(default, rename = "traceId", borrow)]
    trace_id: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, rename = "spanId", borrow)]
    span_id: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, rename = "parentSpanId", borrow)]
    parent_span_id: Option<std::borrow::Cow<'a, str>>,
    // Read only to be checked: an enum name ("SPAN_KIND_SERVER") is refused, and so is a
    // time that is not a 64-bit unsigned integer.
    #[serde(default, rename = "kind")]
    _kind: Option<i32>,
    #[serde(default, rename = "startTimeUnixNano")]
    _start: Option<JsonU64>,
    #[serde(default, rename = "endTimeUnixNano")]
    _end: Option<JsonU64>,
}

/// A proto3 JSON `fixed64`/`uint64`, checked and dropped: a decimal string or a number.
struct JsonU64;

impl<'de> Deserialize<'de> for JsonU64 {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = JsonU64;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a 64-bit unsigned integer, as a decimal string or a number")
            }
            fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<JsonU64, E> {
                Ok(JsonU64)
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<JsonU64, E> {
                match v.parse::<u64>() {
                    Ok(_) => Ok(JsonU64),
                    Err(_) => Err(E::invalid_value(serde::de::Unexpected::Str(v), &self)),
                }
            }
        }
        d.deserialize_any(V)
    }
}

fn json_keys(body: &[u8], out: &mut Vec<SpanKey>) -> Result<(), DecodeError> {
    let req: JsonRequest =
        serde_json::from_slice(body).map_err(|e| DecodeError::Invalid(format!("invalid OTLP/JSON: {e}")))?;
    let spans = req
        .resource_spans
        .iter()
        .flatten()
        .flat_map(|r| r.scope_spans.iter().flatten())
        .flat_map(|s| s.spans.iter().flatten());
    for (i, s) in spans.enumerate() {
        let bad = |what: &str, v: &str| DecodeError::Invalid(format!("span {i}: {what} '{v}' is not {}", hexlen(what)));
        let (trace, span) = (s.trace_id.as_deref().unwrap_or(""), s.span_id.as_deref().unwrap_or(""));
        let trace = hex_u128(trace).ok_or_else(|| bad("traceId", trace))?;
        let span = hex_u64(span).ok_or_else(|| bad("spanId", span))?;
        if let Some(p) = s.parent_span_id.as_deref().filter(|p| !p.is_empty())
            && hex_u64(p).is_none()
        {
            return Err(bad("parentSpanId", p));
        }
        out.push(SpanKey { trace, span });
    }
    Ok(())
}

fn hexlen(what: &str) -> &'static str {
    match what {
        "traceId" => "32 hex characters",
        "spanId" => "16 hex characters",
        _ => "16 hex characters or empty",
    }
}

fn hex_u128(s: &str) -> Option<u128> {
    (s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())).then(|| u128::from_str_radix(s, 16).ok())?
}

fn hex_u64(s: &str) -> Option<u64> {
    (s.len() == 16 && s.bytes().all(|b| b.is_ascii_hexdigit())).then(|| u64::from_str_radix(s, 16).ok())?
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use prost::Message;

    use super::*;
    use crate::otlp;

    pub(crate) fn request(trace: u8, spans: &[u8]) -> otlp::ExportTraceServiceRequest {
        otlp::ExportTraceServiceRequest {
            resource_spans: vec![otlp::ResourceSpans {
                scope_spans: vec![otlp::ScopeSpans {
                    spans: spans
                        .iter()
                        .map(|&s| otlp::Span {
                            trace_id: vec![trace; 16],
                            span_id: vec![s; 8],
                            name: format!("s{s}"),
                            ..Default::default()
                        })
                        .collect(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    fn gzip(b: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(b).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn content_types_and_encodings() {
        assert_eq!(Format::from_content_type("application/x-protobuf"), Some(Format::Protobuf));
        assert_eq!(Format::from_content_type("Application/JSON; charset=utf-8"), Some(Format::Json));
        assert_eq!(Format::from_content_type("text/plain"), None);
        assert_eq!(Encoding::from_header(None), Some(Encoding::Identity));
        assert_eq!(Encoding::from_header(Some("GZIP")), Some(Encoding::Gzip));
        assert_eq!(Encoding::from_header(Some("zstd")), Some(Encoding::Zstd));
        assert_eq!(Encoding::from_header(Some("br")), None);
    }

    #[test]
    fn protobuf_and_json_give_the_same_keys() {
        let req = request(7, &[1, 2, 3]);
        let mut pb = Vec::new();
        span_keys(&req.encode_to_vec(), Format::Protobuf, &mut pb).unwrap();
        let json = serde_json::to_vec(&otlp::json::request_to_json(&req)).unwrap();
        let mut js = Vec::new();
        span_keys(&json, Format::Json, &mut js).unwrap();
        assert_eq!(pb, js);
        assert_eq!(pb.len(), 3);
        assert_eq!(pb[1], SpanKey { trace: u128::from_be_bytes([7; 16]), span: u64::from_be_bytes([2; 8]) });
    }

    #[test]
    fn json_ids_must_be_hex_of_the_right_length() {
        let mut out = Vec::new();
        let body =
            br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0102","spanId":"0102030405060708"}]}]}]}"#;
        let e = span_keys(body, Format::Json, &mut out).unwrap_err();
        assert_eq!(e, DecodeError::Invalid("span 0: traceId '0102' is not 32 hex characters".into()));
        let e = span_keys(b"{not json", Format::Json, &mut out).unwrap_err();
        assert!(e.to_string().starts_with("invalid OTLP/JSON"), "{e}");
        // Unknown keys are ignored; the proto field names are not OTLP/JSON keys, so a body
        // that uses them carries no spans. An empty request has none either.
        let snake = br#"{"resource_spans":[{"scope_spans":[{"spans":[{"trace_id":"000102030405060708090a0b0c0d0e0f","span_id":"0001020304050607"}]}]}],"extra":1}"#;
        span_keys(snake, Format::Json, &mut out).unwrap();
        assert!(out.is_empty());
        span_keys(b"{}", Format::Json, &mut out).unwrap();
        assert!(out.is_empty());
    }

    /// What an SDK's OTLP/JSON exporter sends: upper- or lower-case hex, times as strings or
    /// numbers (above 2^53 too), enums as integers, nulls, attributes of every kind.
    const SDK_JSON: &str = r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"checkout"}}],"droppedAttributesCount":0},
      "scopeSpans":[{"scope":{"name":"my.library","version":"1.0.0"},"spans":[
        {"traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"EEE19B7EC3C1B174","parentSpanId":"EEE19B7EC3C1B173",
         "name":"GET /cart","kind":2,"startTimeUnixNano":1544712660000000000,"endTimeUnixNano":"1544712661000000000",
         "attributes":[{"key":"http.status_code","value":{"intValue":"200"}},{"key":"retry","value":{"intValue":1}},
                       {"key":"ok","value":{"boolValue":true}},{"key":"ratio","value":{"doubleValue":0.5}},
                       {"key":"tags","value":{"arrayValue":{"values":[{"stringValue":"a"}]}}},
                       {"key":"raw","value":{"bytesValue":"AQI="}}],
         "events":[{"timeUnixNano":"1544712660500000000","name":"cache miss"}],"droppedEventsCount":"0",
         "links":[{"traceId":"5b8efff798038103d269b633813fc60d","spanId":"eee19b7ec3c1b175"}],
         "status":{"code":2,"message":"boom"},"flags":257},
        {"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b173","parentSpanId":"","name":"root",
         "kind":1,"startTimeUnixNano":"1544712659000000000","endTimeUnixNano":"1544712662000000000","status":null,"traceState":null}]}]}]}"#;

    #[test]
    fn json_as_an_sdk_sends_it_is_accepted() {
        let mut out = Vec::new();
        span_keys(SDK_JSON.as_bytes(), Format::Json, &mut out).unwrap();
        let trace = 0x5B8E_FFF7_9803_8103_D269_B633_813F_C60C;
        assert_eq!(
            out,
            [SpanKey { trace, span: 0xEEE1_9B7E_C3C1_B174 }, SpanKey { trace, span: 0xEEE1_9B7E_C3C1_B173 }]
        );
    }

    #[test]
    fn json_against_the_spec_is_refused_naming_the_value() {
        let mut out = Vec::new();
        for (from, to, says) in [
            (r#""kind":2"#, r#""kind":"SPAN_KIND_SERVER""#, r#"string "SPAN_KIND_SERVER""#),
            (r#""startTimeUnixNano":1544712660000000000"#, r#""startTimeUnixNano":"soon""#, r#"string "soon""#),
            (r#""endTimeUnixNano":"1544712661000000000""#, r#""endTimeUnixNano":-1"#, "integer `-1`"),
            (r#""parentSpanId":"EEE19B7EC3C1B173""#, r#""parentSpanId":"EEE1""#, "parentSpanId 'EEE1' is not 16 hex"),
            (r#""spanId":"EEE19B7EC3C1B174""#, r#""spanId":"7EC3C1B174""#, "spanId '7EC3C1B174' is not 16 hex"),
        ] {
            assert!(SDK_JSON.contains(from), "{from}");
            let body = SDK_JSON.replacen(from, to, 1);
            let e = span_keys(body.as_bytes(), Format::Json, &mut out).unwrap_err().to_string();
            assert!(e.contains(says), "{to}: {e}");
        }
    }

    #[test]
    fn decompression_round_trips_and_stops_at_the_limit() {
        let raw = request(1, &[1, 2]).encode_to_vec();
        let mut out = Vec::new();
        decompress(&gzip(&raw), Encoding::Gzip, 1 << 20, &mut out).unwrap();
        assert_eq!(out, raw);
        decompress(&zstd::encode_all(&raw[..], 3).unwrap(), Encoding::Zstd, 1 << 20, &mut out).unwrap();
        assert_eq!(out, raw);
        let limit = raw.len() - 1;
        let e = decompress(&gzip(&raw), Encoding::Gzip, limit, &mut out).unwrap_err();
        assert_eq!(e, DecodeError::TooLarge { limit });
        assert_eq!(decompress(&raw, Encoding::Identity, limit, &mut out).unwrap_err(), DecodeError::TooLarge { limit });
        // Exactly at the limit is fine.
        decompress(&gzip(&raw), Encoding::Gzip, raw.len(), &mut out).unwrap();
    }

    #[test]
    fn bombs_stop_at_the_limit_without_inflating() {
        // 128 MiB of zeros compresses to about 128 KB (gzip) / 4 KB (zstd); only limit + 1
        // bytes are ever produced.
        let limit = 1 << 20;
        let zeros = vec![0u8; 8 << 20];
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        for _ in 0..16 {
            e.write_all(&zeros).unwrap();
        }
        let gz = e.finish().unwrap();
        let mut out = Vec::new();
        assert_eq!(decompress(&gz, Encoding::Gzip, limit, &mut out), Err(DecodeError::TooLarge { limit }));
        assert!(out.capacity() <= 4 * limit, "{}", out.capacity());
        let mut z = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
        for _ in 0..16 {
            z.write_all(&zeros).unwrap();
        }
        let zs = z.finish().unwrap();
        assert_eq!(decompress(&zs, Encoding::Zstd, limit, &mut out), Err(DecodeError::TooLarge { limit }));
        assert!(out.capacity() <= 4 * limit, "{}", out.capacity());
        // A frame that asks for a 1 GiB window is refused before the window is allocated.
        let mut z = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
        z.window_log(30).unwrap();
        z.long_distance_matching(true).unwrap();
        z.write_all(&zeros).unwrap();
        let big_window = z.finish().unwrap();
        // (The 8 MiB it holds would fit under this limit; the window would not.)
        let limit = 16 << 20;
        assert_eq!(decompress(&big_window, Encoding::Zstd, limit, &mut out), Err(DecodeError::TooLarge { limit }));
    }

    #[test]
    fn corrupt_compression_is_invalid_not_a_panic() {
        let raw = request(1, &[1]).encode_to_vec();
        let gz = gzip(&raw);
        let mut out = Vec::new();
        let e = decompress(&gz[..gz.len() / 2], Encoding::Gzip, 1 << 20, &mut out).unwrap_err();
        assert!(matches!(&e, DecodeError::Invalid(m) if m.starts_with("gzip: ")), "{e:?}");
        let e = decompress(b"definitely not zstd", Encoding::Zstd, 1 << 20, &mut out).unwrap_err();
        assert!(matches!(&e, DecodeError::Invalid(m) if m.starts_with("zstd: ")), "{e:?}");
        let e = span_keys(&raw[..raw.len() - 2], Format::Protobuf, &mut Vec::new()).unwrap_err();
        assert!(matches!(&e, DecodeError::Invalid(m) if m.starts_with("malformed OTLP protobuf")), "{e:?}");
    }
}
