//! What a run's report keeps of an analysis (`traceblast analyze … --attach RUN.json`): the
//! Collector's drops as counts, so `report compare` can put the runs' drops side by side.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Most causes kept (a report read from a file holds no more).
pub const MAX_CAUSES: usize = 32;

/// The drops of one run's Collector.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Drops {
    /// The log and the metrics read, as named (URL credentials redacted).
    pub sources: Vec<String>,
    /// Spans the log's drop lines threw away (`dropped_items`), when a log was read.
    pub spans_dropped_log: Option<u64>,
    /// Spans the metrics count as failed to send or to enqueue, when metrics were read.
    pub spans_dropped_metrics: Option<u64>,
    /// Spans dropped by cause, from the log: `http 429`, `no status`, `queue full`.
    pub by_cause: BTreeMap<String, u64>,
    /// "Will retry the request" lines: the backend pushing back before anything is dropped.
    pub retries: u64,
    /// Data refused by the memory_limiter.
    pub memory_limiter_refusals: u64,
}

impl Drops {
    /// The drops of an analysis.
    pub fn of(r: &super::Report) -> Drops {
        let sources = r.sources.logs.iter().chain(&r.sources.metrics).cloned().collect();
        let mut d = Drops {
            sources,
            spans_dropped_log: r.spans_dropped.logs,
            spans_dropped_metrics: r.spans_dropped.metrics,
            ..Drops::default()
        };
        if let Some(l) = &r.logs {
            for s in l.by_status.iter().take(MAX_CAUSES - 2) {
                d.by_cause.insert(format!("http {}", s.status), s.spans_dropped);
            }
            for (cause, spans) in [("no status", l.no_status.spans_dropped), ("queue full", l.queue_full.spans_dropped)]
            {
                if spans > 0 {
                    d.by_cause.insert(cause.into(), spans);
                }
            }
            d.retries = l.retries.iter().map(|r| r.occurrences).fold(0, u64::saturating_add);
            d.memory_limiter_refusals = l.memory_limiter.refusals;
        }
        d
    }

    /// Checks a section read from a file: bounded lists, short names.
    pub fn validate(&self) -> Result<(), String> {
        if self.by_cause.len() > MAX_CAUSES {
            return Err(format!("collector.by_cause has {} causes; at most {MAX_CAUSES}", self.by_cause.len()));
        }
        if self.sources.len() > 2 {
            return Err(format!("collector.sources has {} entries; at most 2 (a log and metrics)", self.sources.len()));
        }
        let long = self.sources.iter().chain(self.by_cause.keys()).find(|s| s.chars().count() > 1024);
        match long {
            Some(s) => Err(format!("collector: a name of {} characters; at most 1024", s.chars().count())),
            None => Ok(()),
        }
    }
}
