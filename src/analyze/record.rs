//! From one line of Collector output to a log record.
//!
//! The Collector logs through zap in one of two encodings (`service::telemetry::logs::encoding`):
//!
//! ```text
//! console: 2025-01-15T10:23:45.123Z\terror\texporterhelper/queue_sender.go:92\tExporting failed. Dropping data.\t{"kind": "exporter", …, "dropped_items": 512}
//! json:    {"level":"error","ts":…,"caller":"…","msg":"Exporting failed. Dropping data.",…,"dropped_items":512}
//! ```
//!
//! Whatever precedes a record (`docker compose logs`' `otel-collector-1  | `, a `kubectl logs
//! --timestamps` stamp) is ignored: in console encoding it sticks to the timestamp field, which
//! is not read; in JSON encoding the record is everything from the first `{`. The shape of a
//! line is found without parsing JSON, so uninteresting lines stay cheap; [`Record::parse`]
//! does the parsing for the few that matter.

use std::borrow::Cow;

use serde_json::{Map, Value};

/// The shape of one line, found without parsing JSON.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Shape<'a> {
    /// Only whitespace.
    Blank,
    /// Console encoding: the message and the JSON context object, if any.
    Console { msg: &'a str, fields: Option<&'a str> },
    /// JSON encoding: the whole record.
    Json(&'a str),
    /// Anything else: stack traces, other programs' output, garbage.
    Other,
}

impl<'a> Shape<'a> {
    /// Classifies a line (without its line ending).
    pub(super) fn of(line: &'a str) -> Shape<'a> {
        if line.trim().is_empty() {
            return Shape::Blank;
        }
        if let Some(c) = console(line) {
            return c;
        }
        match line.find('{') {
            Some(i) if line.ends_with('}') && line.contains("\"msg\"") => Shape::Json(&line[i..]),
            _ => Shape::Other,
        }
    }
}

/// `TS \t LEVEL \t [CALLER \t] MSG [\t {FIELDS}]`; the level must be one of zap's.
fn console(line: &str) -> Option<Shape<'_>> {
    let (_ts, rest) = line.split_once('\t')?;
    let (level, rest) = rest.split_once('\t')?;
    const LEVELS: [&str; 7] = ["debug", "info", "warn", "error", "dpanic", "panic", "fatal"];
    if !LEVELS.iter().any(|l| l.eq_ignore_ascii_case(level)) {
        return None;
    }
    let (head, fields) = match rest.rsplit_once('\t') {
        Some((h, f)) if f.starts_with('{') => (h, Some(f)),
        _ => (rest, None),
    };
    let msg = head.rsplit_once('\t').map_or(head, |(_, m)| m);
    Some(Shape::Console { msg, fields })
}

/// A parsed record of interest.
pub(super) struct Record {
    /// The log message.
    pub(super) msg: String,
    /// The context fields (`error`, `dropped_items`, …).
    pub(super) fields: Map<String, Value>,
}

impl Record {
    pub(super) fn parse(shape: &Shape<'_>) -> Option<Record> {
        match *shape {
            Shape::Console { msg, fields } => {
                let fields = match fields {
                    Some(f) => serde_json::from_str(f).ok()?,
                    None => Map::new(),
                };
                Some(Record { msg: msg.to_owned(), fields })
            }
            Shape::Json(obj) => {
                let mut fields: Map<String, Value> = serde_json::from_str(obj).ok()?;
                let Value::String(msg) = fields.remove("msg")? else {
                    return None;
                };
                Some(Record { msg, fields })
            }
            Shape::Blank | Shape::Other => None,
        }
    }

    /// The first of `keys` present as a string.
    pub(super) fn str(&self, keys: &[&str]) -> Option<&str> {
        keys.iter().find_map(|k| self.fields.get(*k).and_then(Value::as_str))
    }

    /// A non-negative integer field (zap writes ints; a float is rounded).
    pub(super) fn count(&self, keys: &[&str]) -> Option<u64> {
        let v = keys.iter().find_map(|k| self.fields.get(*k))?;
        v.as_u64().or_else(|| v.as_f64().filter(|f| f.is_finite() && *f >= 0.0).map(|f| f.round() as u64))
    }
}

/// Removes ANSI colour sequences (`ESC [ … letter`), as zap's colour level encoder and
/// `docker compose logs` on a terminal write them. Borrows when there are none.
pub(super) fn strip_ansi(s: &str) -> Cow<'_, str> {
    if !s.contains('\x1b') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        assert_eq!(console("ts\tinfo\tmsg only"), Some(Shape::Console { msg: "msg only", fields: None }));
        assert_eq!(
            console("ts\tINFO\tcaller.go:1\tmsg\t{\"a\": 1}"),
            Some(Shape::Console { msg: "msg", fields: Some("{\"a\": 1}") })
        );
        assert_eq!(console("ts\twarn\tmsg\t{}"), Some(Shape::Console { msg: "msg", fields: Some("{}") }));
        assert_eq!(console("ts\tverbose\tmsg"), None);
        assert_eq!(
            Shape::of("web-1  | {\"level\":\"info\",\"msg\":\"hi\"}"),
            Shape::Json("{\"level\":\"info\",\"msg\":\"hi\"}")
        );
        assert_eq!(Shape::of("   "), Shape::Blank);
        assert_eq!(Shape::of("{\"no\":\"message\"}"), Shape::Other);
    }
}
