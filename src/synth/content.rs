//! Message content in the GenAI semantic conventions' structured JSON form.
//!
//! `gen_ai.input.messages` is `[{"role":…,"parts":[…]}…]`, `gen_ai.output.messages` adds a
//! `finish_reason`, and `gen_ai.system_instructions` is a bare list of parts. Parts are
//! `{"type":"text","content":…}`, `{"type":"tool_call","id":…,"name":…,"arguments":{…}}` and
//! `{"type":"tool_call_response","id":…,"response":…}`. These writers append to the trace's
//! text buffer and return the byte range written; all generated text is JSON-safe, so nothing
//! is escaped on the way.

use super::lexicon::PLACES;
use super::rng::TraceRng;
use super::text::{ident, phrase, prose};

/// A byte range of the text buffer.
pub type Range = (u32, u32);

/// Start of a write into `buf`.
#[inline]
pub fn mark(buf: &[u8]) -> u32 {
    buf.len() as u32
}

/// Range from `start` to the end of `buf`.
#[inline]
pub fn since(buf: &[u8], start: u32) -> Range {
    (start, buf.len() as u32 - start)
}

/// Appends a copy of `buf[r]` to `buf`.
#[inline]
pub fn copy(buf: &mut Vec<u8>, r: Range) {
    buf.extend_from_within(r.0 as usize..(r.0 + r.1) as usize);
}

/// Length of the longest prefix of `buf[r]` no longer than `max` that ends before a space, so
/// a cut never splits a word, a UTF-8 character or a JSON escape.
pub fn word_prefix(buf: &[u8], r: Range, max: u32) -> u32 {
    if max >= r.1 {
        return r.1;
    }
    let s = &buf[r.0 as usize..(r.0 + max) as usize];
    s.iter().rposition(|&b| b == b' ').unwrap_or(0) as u32
}

/// Writes plain prose of about `chars` bytes (JSON-escaped paragraph breaks).
pub fn text(buf: &mut Vec<u8>, rng: &mut TraceRng, chars: usize) -> Range {
    let at = mark(buf);
    prose(buf, rng, chars.max(1), true);
    since(buf, at)
}

/// `[{"type":"text","content":"<system>"}]`.
pub fn system_instructions(buf: &mut Vec<u8>, system: Range) -> Range {
    let at = mark(buf);
    buf.extend_from_slice(br#"[{"type":"text","content":""#);
    copy(buf, system);
    buf.extend_from_slice(br#""}]"#);
    since(buf, at)
}

/// A message `{"role":"<role>","parts":[{"type":"text","content":"<content>"}]}`.
pub fn text_message(buf: &mut Vec<u8>, role: &str, content: Range) -> Range {
    let at = mark(buf);
    buf.extend_from_slice(br#"{"role":""#);
    buf.extend_from_slice(role.as_bytes());
    buf.extend_from_slice(br#"","parts":[{"type":"text","content":""#);
    copy(buf, content);
    buf.extend_from_slice(br#""}]}"#);
    since(buf, at)
}

/// The `parts` of an answer with tool calls: one `tool_call` part per tool, each with a fresh
/// call id. Returns the parts' range and pushes `(tool, id range)` for every call.
pub fn tool_call_parts<'s>(
    buf: &mut Vec<u8>,
    rng: &mut TraceRng,
    tools: &'s [String],
    calls: &mut Vec<(&'s str, Range)>,
) -> Range {
    let at = mark(buf);
    for (i, tool) in tools.iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        buf.extend_from_slice(br#"{"type":"tool_call","id":""#);
        let id_at = mark(buf);
        ident(buf, rng, "call_", 24);
        calls.push((tool.as_str(), since(buf, id_at)));
        buf.extend_from_slice(br#"","name":""#);
        buf.extend_from_slice(tool.as_bytes());
        buf.extend_from_slice(br#"","arguments":"#);
        arguments(buf, rng);
        buf.push(b'}');
    }
    since(buf, at)
}

/// `gen_ai.tool.definitions` for `tools`: `[{"type":"function","name":…,"parameters":…}…]`,
/// the parameters being the schema of [`arguments`]. Descriptions are left out, as the
/// conventions recommend by default (the definitions are sent with every call).
pub fn tool_definitions(buf: &mut Vec<u8>, tools: &[String]) -> Range {
    let at = mark(buf);
    buf.push(b'[');
    for (i, tool) in tools.iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        buf.extend_from_slice(br#"{"type":"function","name":""#);
        buf.extend_from_slice(tool.as_bytes());
        buf.extend_from_slice(TOOL_PARAMETERS);
    }
    buf.push(b']');
    since(buf, at)
}

/// The end of a tool definition: the JSON schema of the arguments [`arguments`] writes.
const TOOL_PARAMETERS: &[u8] = br#"","parameters":{"type":"object","properties":{"query":{"type":"string"},"location":{"type":"string"},"limit":{"type":"integer"}},"required":["query"]}}"#;

/// A small JSON object of tool arguments.
pub fn arguments(buf: &mut Vec<u8>, rng: &mut TraceRng) -> Range {
    let at = mark(buf);
    buf.extend_from_slice(br#"{"query":""#);
    let words = 4 + rng.below(8);
    phrase(buf, rng, words);
    buf.extend_from_slice(br#"","location":""#);
    buf.extend_from_slice(rng.pick(PLACES).as_bytes());
    buf.extend_from_slice(br#"","limit":"#);
    buf.extend_from_slice((5 + rng.below(20)).to_string().as_bytes());
    buf.push(b'}');
    since(buf, at)
}

/// `{"type":"text","content":"<content>"}` as a parts list body.
pub fn text_part(buf: &mut Vec<u8>, content: Range) -> Range {
    let at = mark(buf);
    buf.extend_from_slice(br#"{"type":"text","content":""#);
    copy(buf, content);
    buf.extend_from_slice(br#""}"#);
    since(buf, at)
}

/// `[{"role":"assistant","parts":[<parts>],"finish_reason":"<reason>"}]`.
pub fn output_messages(buf: &mut Vec<u8>, parts: Range, finish: &str) -> Range {
    let at = mark(buf);
    buf.extend_from_slice(br#"[{"role":"assistant","parts":["#);
    copy(buf, parts);
    buf.extend_from_slice(br#"],"finish_reason":""#);
    buf.extend_from_slice(finish.as_bytes());
    buf.extend_from_slice(br#""}]"#);
    since(buf, at)
}

/// The history entry of an answer: `{"role":"assistant","parts":[<parts>]}`.
pub fn assistant_message(buf: &mut Vec<u8>, parts: Range) -> Range {
    let at = mark(buf);
    buf.extend_from_slice(br#"{"role":"assistant","parts":["#);
    copy(buf, parts);
    buf.extend_from_slice(b"]}");
    since(buf, at)
}

/// A tool result: `{"status":"ok","results":[{"id":…,"title":…,"snippet":…}…]}` of about
/// `chars` bytes.
pub fn tool_result(buf: &mut Vec<u8>, rng: &mut TraceRng, chars: usize) -> Range {
    let at = mark(buf);
    buf.extend_from_slice(br#"{"status":"ok","results":["#);
    let mut first = true;
    while (buf.len() as u32 - at) < chars as u32 {
        if !first {
            buf.push(b',');
        }
        first = false;
        buf.extend_from_slice(br#"{"id":""#);
        ident(buf, rng, "r_", 10);
        buf.extend_from_slice(br#"","title":""#);
        let words = 3 + rng.below(6);
        phrase(buf, rng, words);
        buf.extend_from_slice(br#"","snippet":""#);
        let want = chars.saturating_sub((buf.len() as u32 - at) as usize).min(200 + rng.below(900));
        prose(buf, rng, want.max(40), true);
        buf.extend_from_slice(br#""}"#);
    }
    buf.extend_from_slice(b"]}");
    since(buf, at)
}

/// The history entry of a tool's answer:
/// `{"role":"tool","parts":[{"type":"tool_call_response","id":"<id>","response":<response>}]}`
/// where `response` is JSON (an object from [`tool_result`] or a quoted string).
pub fn tool_message(buf: &mut Vec<u8>, id: Range, response: Range, quoted: bool) -> Range {
    let at = mark(buf);
    buf.extend_from_slice(br#"{"role":"tool","parts":[{"type":"tool_call_response","id":""#);
    copy(buf, id);
    buf.extend_from_slice(br#"","response":"#);
    if quoted {
        buf.push(b'"');
    }
    copy(buf, response);
    if quoted {
        buf.push(b'"');
    }
    buf.extend_from_slice(b"}]}");
    since(buf, at)
}

/// Retrieved documents `[{"id":…,"score":…,"content":…}…]`; also returns the range of each
/// document's content so they can be quoted into the conversation.
pub fn documents(
    buf: &mut Vec<u8>,
    rng: &mut TraceRng,
    n: usize,
    chars: &mut impl FnMut(&mut TraceRng) -> usize,
    contents: &mut Vec<Range>,
) -> Range {
    let at = mark(buf);
    buf.push(b'[');
    let mut score = 0.95 - rng.unit() * 0.1;
    for i in 0..n {
        if i > 0 {
            buf.push(b',');
        }
        buf.extend_from_slice(br#"{"id":""#);
        ident(buf, rng, "doc_", 12);
        buf.extend_from_slice(br#"","score":"#);
        buf.extend_from_slice(format!("{score:.4}").as_bytes());
        score -= rng.unit() * 0.06;
        buf.extend_from_slice(br#","content":""#);
        let c = mark(buf);
        let len = chars(rng);
        prose(buf, rng, len, true);
        contents.push(since(buf, c));
        buf.extend_from_slice(br#""}"#);
    }
    buf.push(b']');
    since(buf, at)
}

#[cfg(test)]
mod tests {
    //! The writers against the rendering model scenario validation bounds traces with
    //! (`scenario::bound`): each stays within the allowance the model gives it.

    use super::*;
    use crate::scenario::bound::{
        DOC_OVERHEAD, PROSE_SLACK, SENTENCE_MAX, TOOL_CALL_BYTES, TOOL_DEFINITION_BYTES, TOOL_RESULT_SLACK, WRAP,
    };

    fn added(buf: &[u8], content: Range, written: Range) -> f64 {
        assert_eq!(written.0 as usize + written.1 as usize, buf.len());
        written.1 as f64 - content.1 as f64
    }

    #[test]
    fn message_wrappers_fit_wrap() {
        let mut rng = TraceRng::for_trace(3, 3);
        let mut buf = Vec::new();
        let content = text(&mut buf, &mut rng, 500);
        let id = {
            let at = mark(&buf);
            ident(&mut buf, &mut rng, "call_", 24);
            since(&buf, at)
        };
        let wrapped = [
            system_instructions(&mut buf, content),
            text_message(&mut buf, "user", content),
            text_part(&mut buf, content),
            assistant_message(&mut buf, content),
            output_messages(&mut buf, content, "tool_call"),
        ];
        for w in wrapped {
            assert!(w.1 as f64 - content.1 as f64 <= WRAP, "{}", String::from_utf8_lossy(&buf[w.0 as usize..][..80]));
        }
        let m = tool_message(&mut buf, id, content, true);
        assert!(added(&buf, content, m) <= WRAP, "tool message");
    }

    #[test]
    fn results_documents_and_tool_calls_fit_their_allowances() {
        let mut rng = TraceRng::for_trace(4, 4);
        let mut buf = Vec::new();
        for chars in (0..2000).step_by(7).chain([10_000, 100_000]) {
            buf.clear();
            let r = tool_result(&mut buf, &mut rng, chars);
            assert!(r.1 as f64 <= chars as f64 + TOOL_RESULT_SLACK, "tool_result({chars}) wrote {}", r.1);
        }
        // 1000 documents (scores go negative and longer) of 0 to 300 characters.
        buf.clear();
        let mut contents = Vec::new();
        let d = documents(&mut buf, &mut rng, 1000, &mut |r: &mut TraceRng| r.below(300), &mut contents);
        let content: f64 = contents.iter().map(|c| c.1 as f64).sum();
        assert!(d.1 as f64 <= 2.0 + 1000.0 * DOC_OVERHEAD + content, "{} bytes for {content} of content", d.1);
        assert!(contents.iter().all(|c| c.1 as f64 <= 300.0 + PROSE_SLACK));
        let tools: Vec<String> = (0..64).map(|i| format!("{i:0>64}")).collect();
        buf.clear();
        let defs = tool_definitions(&mut buf, &tools);
        assert!(defs.1 as f64 <= 64.0 * (TOOL_DEFINITION_BYTES + 64.0), "{} bytes for 64 definitions", defs.1);
        let parsed: serde_json::Value = serde_json::from_slice(&buf[defs.0 as usize..][..defs.1 as usize]).unwrap();
        assert_eq!(parsed[63]["parameters"]["required"][0], "query");
        let mut calls = Vec::new();
        for _ in 0..50 {
            buf.clear();
            let p = tool_call_parts(&mut buf, &mut rng, &tools, &mut calls);
            assert!(p.1 as f64 <= 64.0 * (TOOL_CALL_BYTES + 64.0), "{} bytes for 64 calls", p.1);
            let a = arguments(&mut buf, &mut rng);
            assert!(a.1 as f64 + 29.0 <= SENTENCE_MAX + 256.0, "arguments {}", a.1);
        }
    }
}
