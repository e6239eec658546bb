//! The JSON report: the model as is. Other tools rely on its keys (see the README); a test
//! checks the shape.

use super::{Render, Report};

/// Pretty-printed JSON.
pub struct Json;

impl Render for Json {
    fn render(&self, r: &Report) -> String {
        serde_json::to_string_pretty(r).expect("reports serialize") + "\n"
    }
}

/// Parses a report written by [`Json`].
pub fn parse(text: &str, origin: &str) -> Result<Report, String> {
    serde_json::from_str(text).map_err(|e| format!("{origin}: not a traceblast report: {e}"))
}
