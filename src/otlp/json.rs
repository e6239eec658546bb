//! The OTLP/JSON encoding of trace requests (OTLP spec, "JSON Protobuf Encoding"): proto3 JSON
//! with lowerCamelCase keys, trace and span IDs as hex strings (not base64), enums as
//! integers, and 64-bit integers as decimal strings.

use serde_json::{Map, Value, json};

use super::*;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn any(v: &AnyValue) -> Value {
    use any_value::Value as V;
    match &v.value {
        None => json!({}),
        Some(V::StringValue(s)) => json!({ "stringValue": s }),
        Some(V::BoolValue(b)) => json!({ "boolValue": b }),
        Some(V::IntValue(i)) => json!({ "intValue": i.to_string() }),
        Some(V::DoubleValue(d)) => json!({ "doubleValue": d }),
        Some(V::ArrayValue(a)) => json!({ "arrayValue": { "values": a.values.iter().map(any).collect::<Vec<_>>() } }),
        Some(V::KvlistValue(l)) => json!({ "kvlistValue": { "values": kvs(&l.values) } }),
        Some(V::BytesValue(b)) => {
            use base64::Engine;
            json!({ "bytesValue": base64::engine::general_purpose::STANDARD.encode(b) })
        }
        // Profiles' string-table index; no trace carries it, but the variant exists.
        Some(V::StringValueStrindex(i)) => json!({ "stringValueStrindex": i }),
    }
}

fn kvs(list: &[KeyValue]) -> Vec<Value> {
    list.iter().map(|kv| json!({ "key": kv.key, "value": kv.value.as_ref().map(any).unwrap_or(json!({})) })).collect()
}

fn span(s: &Span) -> Value {
    let mut m = Map::new();
    m.insert("traceId".into(), hex(&s.trace_id).into());
    m.insert("spanId".into(), hex(&s.span_id).into());
    if !s.trace_state.is_empty() {
        m.insert("traceState".into(), s.trace_state.clone().into());
    }
    if !s.parent_span_id.is_empty() {
        m.insert("parentSpanId".into(), hex(&s.parent_span_id).into());
    }
    if s.flags != 0 {
        m.insert("flags".into(), s.flags.into());
    }
    m.insert("name".into(), s.name.clone().into());
    m.insert("kind".into(), s.kind.into());
    m.insert("startTimeUnixNano".into(), s.start_time_unix_nano.to_string().into());
    m.insert("endTimeUnixNano".into(), s.end_time_unix_nano.to_string().into());
    m.insert("attributes".into(), kvs(&s.attributes).into());
    if !s.events.is_empty() {
        let ev: Vec<Value> = s
            .events
            .iter()
            .map(|e| json!({ "timeUnixNano": e.time_unix_nano.to_string(), "name": e.name, "attributes": kvs(&e.attributes) }))
            .collect();
        m.insert("events".into(), ev.into());
    }
    if !s.links.is_empty() {
        let links: Vec<Value> = s
            .links
            .iter()
            .map(
                |l| json!({ "traceId": hex(&l.trace_id), "spanId": hex(&l.span_id), "attributes": kvs(&l.attributes) }),
            )
            .collect();
        m.insert("links".into(), links.into());
    }
    if let Some(st) = &s.status {
        let mut sm = Map::new();
        if !st.message.is_empty() {
            sm.insert("message".into(), st.message.clone().into());
        }
        if st.code != 0 {
            sm.insert("code".into(), st.code.into());
        }
        m.insert("status".into(), sm.into());
    }
    Value::Object(m)
}

/// The request as OTLP/JSON.
pub fn request_to_json(r: &ExportTraceServiceRequest) -> Value {
    let rs: Vec<Value> = r
        .resource_spans
        .iter()
        .map(|rs| {
            let scopes: Vec<Value> = rs
                .scope_spans
                .iter()
                .map(|ss| {
                    let mut m = Map::new();
                    if let Some(sc) = &ss.scope {
                        m.insert("scope".into(), json!({ "name": sc.name, "version": sc.version }));
                    }
                    m.insert("spans".into(), ss.spans.iter().map(span).collect::<Vec<_>>().into());
                    if !ss.schema_url.is_empty() {
                        m.insert("schemaUrl".into(), ss.schema_url.clone().into());
                    }
                    Value::Object(m)
                })
                .collect();
            let mut m = Map::new();
            if let Some(res) = &rs.resource {
                m.insert("resource".into(), json!({ "attributes": kvs(&res.attributes) }));
            }
            m.insert("scopeSpans".into(), scopes.into());
            if !rs.schema_url.is_empty() {
                m.insert("schemaUrl".into(), rs.schema_url.clone().into());
            }
            Value::Object(m)
        })
        .collect();
    json!({ "resourceSpans": rs })
}
