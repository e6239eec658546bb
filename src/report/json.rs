//! The JSON report: the model as is. Other tools rely on its keys (see `README-reports.md`); a
//! test checks the shape. Reading one back checks `report_version` before anything else, so a
//! report from an incompatible traceblast is named as such rather than as a missing key.

use super::compare::Comparison;
use super::model::REPORT_VERSION;
use super::{Render, Report};

/// Pretty-printed JSON.
pub struct Json;

impl Render for Json {
    fn render(&self, r: &Report) -> String {
        serde_json::to_string_pretty(r).expect("reports serialize") + "\n"
    }
}

impl Render<Comparison> for Json {
    fn render(&self, c: &Comparison) -> String {
        serde_json::to_string_pretty(c).expect("comparisons serialize") + "\n"
    }
}

/// Parses a report written by [`Json`]. `origin` (the file name) starts every error.
pub fn parse(text: &str, origin: &str) -> Result<Report, String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("{origin}: not a traceblast report (not JSON: {e})"))?;
    let version = match value.get("report_version") {
        Some(v) => v.as_u64().ok_or_else(|| format!("{origin}: not a traceblast report (report_version is {v})"))?,
        None => return Err(format!("{origin}: not a traceblast report (no report_version key)")),
    };
    if version != u64::from(REPORT_VERSION) {
        return Err(format!(
            "{origin}: report_version {version} is not supported (this traceblast reads version {REPORT_VERSION})"
        ));
    }
    serde_json::from_value(value).map_err(|e| format!("{origin}: not a traceblast report: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_names_what_is_wrong() {
        let r = Report { report_version: REPORT_VERSION, tool: "t".into(), ..Default::default() };
        assert_eq!(parse(&Json.render(&r), "a.json").unwrap(), r);
        let e = |text: &str| parse(text, "a.json").unwrap_err();
        assert!(e("{nope").starts_with("a.json: not a traceblast report (not JSON"), "{}", e("{nope"));
        assert_eq!(e(r#"{"x": 1}"#), "a.json: not a traceblast report (no report_version key)");
        assert_eq!(
            e(r#"{"report_version": 7}"#),
            "a.json: report_version 7 is not supported (this traceblast reads version 1)"
        );
        assert!(e(r#"{"report_version": 1}"#).starts_with("a.json: not a traceblast report: missing field"));
    }
}
