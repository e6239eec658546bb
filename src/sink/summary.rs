//! What the sink reports: the [`Summary`] (its JSON is a contract, documented in
//! README-sink.md and checked by tests), its text form, and the one-line progress reports.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::units::{human_bytes, thousands};

/// Injected faults, by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultCounts {
    /// `--fail`: requests answered with each status.
    pub fail: BTreeMap<u16, u64>,
    /// `--rate-limit`: requests refused with 429.
    pub rate_limit: u64,
    /// `--conflict-on-duplicate`: requests refused with 409.
    pub conflict: u64,
    /// `--stall`: requests held until the stall ended.
    pub stall: u64,
    /// `--latency`: requests delayed.
    pub latency: u64,
    /// `--reject-spans`: spans reported in `partial_success.rejected_spans`.
    pub reject_spans: u64,
}

/// What the sink's limits did (`--max-connections`, `--header-timeout`, `--idle-timeout`,
/// `--max-inflight-bytes`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LimitCounts {
    /// Connections accepted.
    pub connections: u64,
    /// The most connections open at once.
    pub connections_peak: u64,
    /// Connections closed after `--idle-timeout` without a request in progress.
    pub idle_closed: u64,
    /// Connections closed because a request head was not complete `--header-timeout` after
    /// its first byte.
    pub header_timeouts: u64,
    /// Idle connections closed to make room at `--max-connections`.
    pub evicted: u64,
    /// Requests answered 408: their body paused for `--idle-timeout`.
    pub body_timeouts: u64,
    /// Requests answered 503: no room for their body in `--max-inflight-bytes` in time.
    pub busy: u64,
    /// The most body bytes held at once (at most `--max-inflight-bytes`).
    pub body_bytes_peak: u64,
}

/// The counters of a sink run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Requests answered (any status, any path).
    pub requests: u64,
    /// Requests by HTTP status (a gRPC answer under the status it stands for: see
    /// `crate::grpc::code_for_http`).
    pub requests_by_status: BTreeMap<u16, u64>,
    /// Requests by protocol: `grpc`, `http/protobuf`, `http/json`, and `http` for HTTP
    /// requests of another content type (absent from summaries written before it existed).
    #[serde(default)]
    pub requests_by_protocol: BTreeMap<String, u64>,
    /// gRPC requests by the code answered (`OK`, `UNAVAILABLE`, …).
    #[serde(default)]
    pub grpc_requests_by_code: BTreeMap<String, u64>,
    /// Requests whose client hung up before the answer (not in `requests`).
    pub abandoned: u64,
    /// Spans received: in requests answered 200, less the rejected ones.
    pub spans: u64,
    /// Distinct trace IDs among the received spans.
    pub unique_traces: u64,
    /// Distinct span IDs among the received spans.
    pub unique_spans: u64,
    /// Received spans whose span ID had been received before (`spans - unique_spans`).
    pub duplicate_span_ids: u64,
    /// Spans acknowledged but never stored (`--drop-traces`): counted in `spans`, not in
    /// `unique_spans` or the query endpoint.
    #[serde(default)]
    pub dropped_spans: u64,
    /// Spans of accepted requests reported back as rejected (`partial_success`).
    pub rejected_spans: u64,
    /// Spans in requests refused with an error status (decoded, not received).
    pub refused_spans: u64,
    /// `refused_spans` by HTTP status.
    pub refused_spans_by_status: BTreeMap<u16, u64>,
    /// Request body bytes as received (compressed).
    pub bytes_wire: u64,
    /// Request body bytes after decompression.
    pub bytes_raw: u64,
    /// Seconds from the sink's start to this summary.
    pub seconds: f64,
    /// Seconds from the first to the last request.
    pub active_seconds: f64,
    /// RFC 3339 time of the first request, if any.
    pub first_request: Option<String>,
    /// RFC 3339 time of the last request, if any.
    pub last_request: Option<String>,
    /// Injected faults by kind.
    pub faults: FaultCounts,
    /// What the limits did (absent from summaries written before they existed).
    #[serde(default)]
    pub limits: LimitCounts,
    /// Why the sink stopped: `signal`, `idle`, `expect_spans`, `shutdown`; `null` while running.
    pub stopped_by: Option<String>,
}

impl LimitCounts {
    /// One line: connections, then whatever the limits refused or closed.
    fn text(&self) -> String {
        let mut parts = vec![format!(
            "{} connections (at most {} at once) · {} of bodies held at most",
            thousands(self.connections),
            thousands(self.connections_peak),
            human_bytes(self.body_bytes_peak)
        )];
        for (what, n) in [
            ("closed idle", self.idle_closed),
            ("cut by --header-timeout", self.header_timeouts),
            ("closed for room (--max-connections)", self.evicted),
            ("bodies paused too long (408)", self.body_timeouts),
            ("busy (503, --max-inflight-bytes)", self.busy),
        ] {
            if n > 0 {
                parts.push(format!("{what}: {}", thousands(n)));
            }
        }
        parts.join(" · ")
    }
}

fn statuses(m: &BTreeMap<u16, u64>) -> String {
    m.iter().map(|(code, n)| format!("{code}: {}", thousands(*n))).collect::<Vec<_>>().join(" · ")
}

impl Summary {
    /// The summary for people.
    pub fn text(&self) -> String {
        let mut out = String::from("sink summary");
        if let Some(why) = &self.stopped_by {
            let _ = write!(out, " (stopped: {})", why.replace('_', " "));
        }
        out.push('\n');
        if self.first_request.is_none() {
            out += "  no request arrived\n";
        }
        let _ = write!(out, "  requests    {}", thousands(self.requests));
        if !self.requests_by_status.is_empty() {
            let _ = write!(out, "  ({})", statuses(&self.requests_by_status));
        }
        if self.abandoned > 0 {
            let _ = write!(out, " · {} abandoned by the client before the answer", thousands(self.abandoned));
        }
        out.push('\n');
        if !self.requests_by_protocol.is_empty() {
            let by: Vec<String> =
                self.requests_by_protocol.iter().map(|(p, n)| format!("{p}: {}", thousands(*n))).collect();
            let _ = write!(out, "  protocols   {}", by.join(" · "));
            if !self.grpc_requests_by_code.is_empty() {
                let codes: Vec<String> =
                    self.grpc_requests_by_code.iter().map(|(c, n)| format!("{c}: {}", thousands(*n))).collect();
                let _ = write!(out, "  (gRPC {})", codes.join(" · "));
            }
            out.push('\n');
        }
        let _ = writeln!(
            out,
            "  spans       {} received · {} rejected (partial success) · {} in refused requests",
            thousands(self.spans),
            thousands(self.rejected_spans),
            thousands(self.refused_spans)
        );
        let _ = writeln!(
            out,
            "  IDs         {} traces · {} span IDs · {} duplicate span IDs",
            thousands(self.unique_traces),
            thousands(self.unique_spans),
            thousands(self.duplicate_span_ids)
        );
        let _ = writeln!(
            out,
            "  bytes       {} on the wire · {} raw",
            human_bytes(self.bytes_wire),
            human_bytes(self.bytes_raw)
        );
        let _ = writeln!(
            out,
            "  time        {:.1} s running · {:.1} s from first to last request{}",
            self.seconds,
            self.active_seconds,
            match (&self.first_request, &self.last_request) {
                (Some(a), Some(b)) => format!(" ({a} .. {b})"),
                _ => String::new(),
            }
        );
        let f = &self.faults;
        let mut faults: Vec<String> = f.fail.iter().map(|(s, n)| format!("fail {s}: {}", thousands(*n))).collect();
        for (name, n) in [
            ("rate limit", f.rate_limit),
            ("conflict", f.conflict),
            ("stall", f.stall),
            ("latency", f.latency),
            ("rejected spans", f.reject_spans),
            ("spans dropped silently", self.dropped_spans),
        ] {
            if n > 0 {
                faults.push(format!("{name}: {}", thousands(n)));
            }
        }
        if !faults.is_empty() {
            let _ = writeln!(out, "  faults      {}", faults.join(" · "));
        }
        let _ = writeln!(out, "  limits      {}", self.limits.text());
        out
    }

    /// Writes the summary as JSON through [`crate::output`] (whole or not at all).
    pub fn write_json(&self, out: &crate::output::Output) -> Result<(), crate::output::OutputError> {
        let mut text = serde_json::to_vec_pretty(self).expect("a summary serializes");
        text.push(b'\n');
        out.write(&text)
    }

    /// The one-line progress report for the second that ended with `self`, `prev` being the
    /// summary a second earlier.
    pub fn progress_line(&self, prev: &Summary, dt: f64) -> String {
        let rate = |now: u64, before: u64| now.saturating_sub(before) as f64 / dt.max(1e-9);
        format!(
            "sink  {} req/s · {} spans/s · {:.2} MB/s  |  total {} req · {} spans · {} dup · {}",
            thousands(rate(self.requests, prev.requests).round() as u64),
            thousands(rate(self.spans, prev.spans).round() as u64),
            rate(self.bytes_wire, prev.bytes_wire) / 1e6,
            thousands(self.requests),
            thousands(self.spans),
            thousands(self.duplicate_span_ids),
            statuses(&self.requests_by_status)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Summary {
        Summary {
            requests: 12,
            requests_by_status: BTreeMap::from([(200, 10), (429, 2)]),
            requests_by_protocol: BTreeMap::from([("grpc".into(), 3), ("http/protobuf".into(), 9)]),
            grpc_requests_by_code: BTreeMap::from([("OK".into(), 2), ("RESOURCE_EXHAUSTED".into(), 1)]),
            spans: 50,
            unique_traces: 10,
            unique_spans: 49,
            duplicate_span_ids: 1,
            dropped_spans: 0,
            refused_spans: 10,
            refused_spans_by_status: BTreeMap::from([(429, 10)]),
            bytes_wire: 1_500_000,
            faults: FaultCounts { fail: BTreeMap::from([(429, 2)]), ..Default::default() },
            limits: LimitCounts {
                connections: 3,
                connections_peak: 2,
                idle_closed: 1,
                body_bytes_peak: 1_500_000,
                ..Default::default()
            },
            stopped_by: Some("expect_spans".into()),
            ..Default::default()
        }
    }

    #[test]
    fn json_shape_is_the_documented_one() {
        let v = serde_json::to_value(sample()).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "requests",
                "requests_by_status",
                "requests_by_protocol",
                "grpc_requests_by_code",
                "abandoned",
                "spans",
                "unique_traces",
                "unique_spans",
                "duplicate_span_ids",
                "dropped_spans",
                "rejected_spans",
                "refused_spans",
                "refused_spans_by_status",
                "bytes_wire",
                "bytes_raw",
                "seconds",
                "active_seconds",
                "first_request",
                "last_request",
                "faults",
                "limits",
                "stopped_by"
            ]
        );
        let limit_keys: Vec<&str> = v["limits"].as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            limit_keys,
            [
                "connections",
                "connections_peak",
                "idle_closed",
                "header_timeouts",
                "evicted",
                "body_timeouts",
                "busy",
                "body_bytes_peak"
            ]
        );
        assert_eq!(v["requests_by_status"]["429"], 2);
        assert_eq!(v["faults"]["fail"]["429"], 2);
        let fault_keys: Vec<&str> = v["faults"].as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(fault_keys, ["fail", "rate_limit", "conflict", "stall", "latency", "reject_spans"]);
        let back: Summary = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(back, sample());
        // A summary written before `limits` existed still reads.
        let mut old = v;
        old.as_object_mut().unwrap().remove("limits");
        old.as_object_mut().unwrap().remove("requests_by_protocol");
        old.as_object_mut().unwrap().remove("grpc_requests_by_code");
        let back: Summary = serde_json::from_value(old).unwrap();
        assert_eq!(back.limits, LimitCounts::default());
        assert!(back.requests_by_protocol.is_empty() && back.grpc_requests_by_code.is_empty());
    }

    #[test]
    fn text_names_statuses_and_faults() {
        let t = sample().text();
        assert!(t.starts_with("sink summary (stopped: expect spans)\n"), "{t}");
        assert!(t.contains("requests    12  (200: 10 · 429: 2)"), "{t}");
        assert!(
            t.contains("\n  protocols   grpc: 3 · http/protobuf: 9  (gRPC OK: 2 · RESOURCE_EXHAUSTED: 1)\n"),
            "{t}"
        );
        assert!(t.contains("1 duplicate span IDs"), "{t}");
        assert!(t.contains("fail 429: 2"), "{t}");
        assert!(
            t.contains(
                "limits      3 connections (at most 2 at once) · 1.50 MB of bodies held at most · closed idle: 1\n"
            ),
            "{t}"
        );
        let empty = Summary::default().text();
        assert!(empty.contains("no request arrived"));
        assert!(empty.contains("  requests    0\n") && !empty.contains("()"), "{empty}");
    }

    #[test]
    fn json_file_is_written_whole() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.json");
        sample().write_json(&crate::output::Output::check(&p).unwrap()).unwrap();
        let back: Summary = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        assert_eq!(back, sample());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file left");
    }
}
