//! OTLP/JSON on the sink's HTTP port, as the spec defines it and as SDKs send it.

use traceblast::sink::SinkPlan;

use super::{JSON, post, start};

/// OTLP/JSON as an SDK writes it (the spec's example's shape): upper-case hex, times as a
/// number above 2^53 and as strings, enums as integers, an empty parentSpanId, unknown keys.
const SDK_JSON: &str = r#"{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"my.service"}}]},
  "scopeSpans":[{"scope":{"name":"my.library","version":"1.0.0"},"spans":[
    {"traceId":"5B8EFFF798038103D269B633813FC60C","spanId":"EEE19B7EC3C1B174","parentSpanId":"EEE19B7EC3C1B173",
     "name":"I'm a server span","startTimeUnixNano":1544712660000000000,"endTimeUnixNano":1544712661000000000,"kind":2,
     "attributes":[{"key":"my.span.attr","value":{"stringValue":"some value"}},{"key":"n","value":{"intValue":"42"}}]},
    {"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b173","parentSpanId":"","name":"root","kind":1,
     "startTimeUnixNano":"1544712659000000000","endTimeUnixNano":"1544712662000000000","status":{"code":1},"futureField":{}}]}]}]}"#;

#[test]
fn otlp_json_as_an_sdk_sends_it_is_counted_and_enum_names_are_refused() {
    let s = start(SinkPlan::default());
    let r = post(s.addr, JSON, None, &[], SDK_JSON.as_bytes());
    assert_eq!((r.status, r.body.as_slice()), (200, &b"{}"[..]));
    let by_name = SDK_JSON.replacen(r#""kind":2"#, r#""kind":"SPAN_KIND_SERVER""#, 1);
    let r = post(s.addr, JSON, None, &[], by_name.as_bytes());
    assert_eq!(r.status, 400);
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert!(v["message"].as_str().unwrap().contains(r#"invalid type: string "SPAN_KIND_SERVER", expected i32"#), "{v}");
    let sum = s.shutdown();
    assert_eq!((sum.spans, sum.unique_traces, sum.unique_spans), (2, 1, 2));
    assert_eq!(sum.requests_by_protocol, [("http/json".into(), 2)].into());
}
