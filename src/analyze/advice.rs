//! What to do about each cause of drops. Kept apart from the parsers so the wording can change
//! without touching them, and so the same advice serves the text and JSON reports.

use serde::Serialize;

use super::{LogReport, MetricsReport};

/// One piece of advice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recommendation {
    /// What it answers: `http_413` (one per HTTP status seen), `no_status`, `queue_full`,
    /// `memory_limiter` or `receiver_refused`.
    pub cause: String,
    /// What to change.
    pub advice: String,
}

/// Advice for every cause the inputs show: HTTP statuses first (most spans first), then the
/// causes without a status.
pub fn recommendations(logs: Option<&LogReport>, metrics: Option<&MetricsReport>) -> Vec<Recommendation> {
    let mut out = Vec::new();
    let mut add = |cause: String, advice: String| out.push(Recommendation { cause, advice });
    if let Some(l) = logs {
        for s in &l.by_status {
            add(format!("http_{}", s.status), for_status(s.status));
        }
        if l.no_status.occurrences > 0 {
            add(
                "no_status".into(),
                "Drops without an HTTP status are network failures (timeouts, DNS, refused connections): check that the \
                 Collector reaches the endpoint and that the exporter's `timeout` fits the backend's latency."
                    .into(),
            );
        }
    }
    let queue_full =
        logs.is_some_and(|l| l.queue_full.occurrences > 0) || metrics.is_some_and(|m| m.enqueue_failed_spans > 0);
    if queue_full {
        add(
            "queue_full".into(),
            "The exporter's sending queue overflowed: raise `sending_queue.queue_size` or `num_consumers`, or send \
             less. A queue that stays full means the backend takes spans slower than they arrive."
                .into(),
        );
    }
    if let Some(m) = logs.map(|l| &l.memory_limiter).filter(|m| m.soft_limit + m.hard_limit + m.refusals > 0) {
        add(
            "memory_limiter".into(),
            format!(
                "The memory_limiter was over its limit (soft limit ×{}, hard limit ×{}, refusals ×{}): give the Collector more memory \
                 (`limit_mib` and the container limit together) or less load. Refused data is lost unless the sender retries.",
                m.soft_limit, m.hard_limit, m.refusals
            ),
        );
    }
    if let Some(n) = metrics.and_then(|m| m.receiver_refused_spans).filter(|n| *n > 0) {
        add(
            "receiver_refused".into(),
            format!(
                "Receivers refused {n} spans (back-pressure from memory_limiter or a full queue): the senders got errors \
                 and lost those spans unless they retried."
            ),
        );
    }
    out
}

/// The advice for one HTTP status.
pub fn for_status(status: u16) -> String {
    match status {
        413 => "Requests are larger than the backend accepts: send smaller batches. Lower `send_batch_max_size` (and \
                `send_batch_size`) of the Collector's batch processor; when sending directly, lower \
                `--traces-per-request` / `--max-request-bytes` of `traceblast gen`."
            .into(),
        429 => "The backend is rate limiting: lower the send rate or ask the platform for higher limits. A longer \
                `retry_on_failure.max_elapsed_time` lets throttled batches wait instead of being dropped."
            .into(),
        409 => {
            "The backend received the same spans twice. Usually two pipelines or exporters send the same traces to one \
                project: run one pipeline only (or give each exporter its own project)."
                .into()
        }
        502..=504 => {
            "Transient unavailability, which `retry_on_failure` retries. Drops mean the retries ran out: raise \
                      `retry_on_failure.max_elapsed_time` and `sending_queue.queue_size`, or lower the load."
                .into()
        }
        401 | 403 => "Authentication failed: check the exporter's API key and headers (`Authorization`, and any \
                      project header the platform requires)."
            .into(),
        400 => {
            "The backend rejected the payload as invalid: check the exporter's `encoding`, the endpoint path and the \
                headers or attributes the platform requires."
                .into()
        }
        404 => "Wrong endpoint: check the exporter's `endpoint` / `traces_endpoint` (otlphttp appends `/v1/traces` to \
                `endpoint`, not to `traces_endpoint`)."
            .into(),
        500 => "The backend failed while handling the request; the Collector does not retry 500. Check the platform's \
                status and the error message in the log."
            .into(),
        s => format!("HTTP {s} from the backend: see the error text in the Collector log for its reason."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::logs::{MemoryLimiter, NoStatus, StatusDrops};

    #[test]
    fn one_per_status_then_causes() {
        let status = |status| StatusDrops { status, occurrences: 1, spans_dropped: 1, exporters: vec![] };
        let logs = LogReport {
            by_status: vec![status(413), status(503), status(418)],
            no_status: NoStatus { occurrences: 1, ..Default::default() },
            memory_limiter: MemoryLimiter { refusals: 2, ..Default::default() },
            ..Default::default()
        };
        let metrics = MetricsReport { enqueue_failed_spans: 5, receiver_refused_spans: Some(3), ..Default::default() };
        let got = recommendations(Some(&logs), Some(&metrics));
        let causes: Vec<&str> = got.iter().map(|r| r.cause.as_str()).collect();
        assert_eq!(
            causes,
            ["http_413", "http_503", "http_418", "no_status", "queue_full", "memory_limiter", "receiver_refused"]
        );
        assert!(got[0].advice.contains("send_batch_max_size"));
        assert!(got[2].advice.contains("HTTP 418"));
        assert!(got[6].advice.contains("refused 3 spans"));
        assert!(recommendations(Some(&LogReport::default()), Some(&MetricsReport::default())).is_empty());
    }

    #[test]
    fn status_advice() {
        assert!(for_status(429).contains("rate"));
        assert!(for_status(409).contains("one pipeline"));
        assert!(for_status(503).contains("retry_on_failure"));
        assert_eq!(for_status(401), for_status(403));
        assert!(for_status(401).contains("API key"));
    }
}
