//! The JSON report: the model as is. Other tools rely on its keys (see `README-reports.md`); a
//! test checks the shape. Reading one back checks `report_version` before anything else, so a
//! report from an incompatible traceblast is named as such rather than as a missing key.

use serde::Deserialize;

use crate::report::compare::{Comparison, Comparisons};
use crate::report::model::REPORT_VERSION;
use crate::report::validate::validate;
use crate::report::{Render, Report};

/// Pretty-printed JSON.
pub struct Json;

impl Render for Json {
    fn render(&self, r: &Report) -> String {
        serde_json::to_string_pretty(r).expect("reports serialize") + "\n"
    }
}

/// A comparison as JSON: the model, and each check's sentence (`detail`) for people reading it.
fn comparison_value(c: &Comparison) -> serde_json::Value {
    let mut v = serde_json::to_value(c).expect("comparisons serialize");
    if let Some(checks) = v.get_mut("checks").and_then(serde_json::Value::as_array_mut) {
        for (json, k) in checks.iter_mut().zip(&c.checks) {
            json["detail"] = super::compared::detail(c, k).into();
        }
    }
    v
}

impl Render<Comparison> for Json {
    fn render(&self, c: &Comparison) -> String {
        serde_json::to_string_pretty(&comparison_value(c)).expect("comparisons serialize") + "\n"
    }
}

/// Two runs: the comparison itself. More: `{"runs", "pairs": [BASE against each], "passed"}`.
impl Render<Comparisons> for Json {
    fn render(&self, c: &Comparisons) -> String {
        match c.pairs.as_slice() {
            [one] => self.render(one),
            pairs => {
                let v = serde_json::json!({
                    "runs": pairs.len() + 1,
                    "pairs": pairs.iter().map(comparison_value).collect::<Vec<_>>(),
                    "passed": c.passed,
                });
                serde_json::to_string_pretty(&v).expect("comparisons serialize") + "\n"
            }
        }
    }
}

/// Largest report file read: a run of 100 hours (the most [`MAX_REPORT_BUCKETS`] allows) writes
/// about 130 MB.
///
/// [`MAX_REPORT_BUCKETS`]: crate::report::validate::MAX_REPORT_BUCKETS
pub const MAX_REPORT_BYTES: u64 = 256 << 20;

/// Longest piece of a JSON error repeated in a message (serde quotes whole string values).
const MAX_DETAIL_CHARS: usize = 120;

/// Only the version, read before anything else.
#[derive(Deserialize)]
struct Probe {
    report_version: Option<serde_json::Value>,
}

/// Parses and validates a report written by [`Json`]. `origin` (the file name) starts every
/// error, which is one line.
pub fn parse(text: &str, origin: &str) -> Result<Report, String> {
    if !text.trim_start().starts_with('{') {
        return Err(format!("{origin}: not a traceblast report (not a JSON object)"));
    }
    let probe: Probe = serde_json::from_str(text)
        .map_err(|e| format!("{origin}: not a traceblast report (not a JSON object: {})", short(&e)))?;
    let version = match probe.report_version {
        Some(v) => v
            .as_u64()
            .ok_or_else(|| format!("{origin}: not a traceblast report (report_version is {})", clip(&v.to_string())))?,
        None => return Err(format!("{origin}: not a traceblast report (no report_version key)")),
    };
    if version != u64::from(REPORT_VERSION) {
        return Err(format!(
            "{origin}: report_version {version} is not supported (this traceblast reads version {REPORT_VERSION})"
        ));
    }
    let r: Report =
        serde_json::from_str(text).map_err(|e| format!("{origin}: not a traceblast report: {}", short(&e)))?;
    validate(&r).map_err(|e| format!("{origin}: {e}"))?;
    Ok(r)
}

/// A serde_json error in one short line.
fn short(e: &serde_json::Error) -> String {
    clip(&e.to_string())
}

/// `s` cut to [`MAX_DETAIL_CHARS`] characters, control characters escaped.
fn clip(s: &str) -> String {
    let mut out: String = s.chars().take(MAX_DETAIL_CHARS).flat_map(char::escape_default).collect();
    if s.chars().nth(MAX_DETAIL_CHARS).is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_names_what_is_wrong() {
        let r = Report { report_version: REPORT_VERSION, tool: "t".into(), ..Default::default() };
        assert_eq!(parse(&Json.render(&r), "a.json").unwrap(), r);
        let e = |text: &str| parse(text, "a.json").unwrap_err();
        assert!(
            e("{nope")
                .starts_with("a.json: not a traceblast report (not a JSON object: key must be a string at line 1"),
            "{}",
            e("{nope")
        );
        assert_eq!(e("[1]"), "a.json: not a traceblast report (not a JSON object)");
        assert_eq!(e(r#"{"x": 1}"#), "a.json: not a traceblast report (no report_version key)");
        assert_eq!(
            e(r#"{"report_version": 7}"#),
            "a.json: report_version 7 is not supported (this traceblast reads version 1)"
        );
        assert!(e(r#"{"report_version": 1}"#).starts_with("a.json: not a traceblast report: missing field"));
        let long = format!(r#"{{"report_version": 1, "interrupted": "{}\n"}}"#, "x".repeat(10_000));
        let e = e(&long);
        assert!(e.len() < 300 && !e.contains('\n') && e.contains('…'), "{e}");
    }

    #[test]
    fn an_undecodable_histogram_is_refused_on_reading() {
        let mut r = Report { report_version: REPORT_VERSION, ..Default::default() };
        r.histograms.corrected = "HISTw==".into();
        let e = parse(&Json.render(&r), "a.json").unwrap_err();
        assert!(e.starts_with("a.json: histograms.corrected: histogram is "), "{e}");
    }
}
