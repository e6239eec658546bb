//! A report's `collector` section (what the Collector in front dropped, attached by
//! `traceblast analyze --attach`) as one set of rows, for the text and the page.

use crate::analyze::Drops;
use crate::units::thousands;

/// `(what, how many)` rows.
pub fn rows(d: &Drops) -> Vec<[String; 2]> {
    let opt = |v: Option<u64>| v.map_or_else(|| "not read".to_string(), thousands);
    let mut rows = vec![
        ["spans dropped (log)".to_string(), opt(d.spans_dropped_log)],
        ["spans dropped (metrics)".to_string(), opt(d.spans_dropped_metrics)],
    ];
    rows.extend(d.by_cause.iter().map(|(cause, n)| [format!("  {cause}"), thousands(*n)]));
    rows.push(["retries scheduled".into(), thousands(d.retries)]);
    rows.push(["memory_limiter refusals".into(), thousands(d.memory_limiter_refusals)]);
    rows
}

/// The section as text.
pub fn text(d: &Drops) -> String {
    let mut o = format!("collector (traceblast analyze: {})\n", d.sources.join(", "));
    for [what, n] in rows(d) {
        o.push_str(&format!("  {what:<26}{n:>12}\n"));
    }
    o
}
