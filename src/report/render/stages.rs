//! The per-stage table of a `--stages` run, as cells: one source for the text report and the
//! page, which only lay them out differently.

use crate::report::Report;
use crate::units::{one_decimal, thousands, us};

/// Column heads of [`rows`].
pub const COLUMNS: [&str; 9] = ["stage", "window", "target req/s", "due", "sent/s", "ok/s", "missed", "p50", "p99"];

/// One row of cells a stage.
pub fn rows(r: &Report) -> impl Iterator<Item = [String; 9]> + '_ {
    r.stages.iter().enumerate().map(|(i, s)| {
        [
            (i + 1).to_string(),
            format!("{}–{} s", one_decimal(s.start_s), one_decimal(s.end_s)),
            format!("{} → {}", one_decimal(s.from_rate), one_decimal(s.to_rate)),
            thousands(s.scheduled),
            format!("{:.1}", s.achieved),
            format!("{:.1}", s.ok_per_s),
            thousands(s.missed),
            us(s.p50_us),
            us(s.p99_us),
        ]
    })
}
