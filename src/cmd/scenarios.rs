//! `traceblast scenarios [show NAME]`.

use std::process::ExitCode;

use anyhow::bail;

use crate::cli::{ScenariosAction, ScenariosArgs};
use crate::scenario::ScenarioSet;

pub fn run(a: &ScenariosArgs) -> anyhow::Result<ExitCode> {
    let set = ScenarioSet::with_files(&a.scenarios)?;
    match &a.action {
        None => {
            // Spans and bytes per trace: expected, and the largest any draw can give (what the
            // limits of scenario::limits are checked against).
            super::emit(format!(
                "{:<24} {:<8} {:>16} {:>20}  description\n",
                "scenario", "short", "spans exp/max", "KB per trace exp/max"
            ))?;
            for s in &set.scenarios {
                let (src, b) = (&s.source, &s.bounds);
                let kb = |v: f64| format!("{:.0}", v / 1e3);
                super::emit(format!(
                    "{:<24} {:<8} {:>16} {:>20}  {}\n",
                    src.name,
                    src.short.as_deref().unwrap_or("-"),
                    format!("{:.0}/{:.0}", b.spans.expected, b.spans.max),
                    format!("{}/{}", kb(b.bytes.expected), kb(b.bytes.max)),
                    src.description
                ))?;
            }
            super::emit(
                "\nShow one as TOML: traceblast scenarios show NAME > mine.toml; use it with gen --scenarios mine.toml\n",
            )?;
        }
        Some(ScenariosAction::Show { name }) => {
            let Some(i) = set.find(name) else {
                bail!("unknown scenario '{name}' (known: {})", set.names().join(", "));
            };
            let s = &set.scenarios[i];
            match crate::scenario::builtin_sources().iter().find(|(n, _)| *n == s.name()) {
                // Built-ins print their file as written, comments included.
                Some((_, text)) => super::emit(text)?,
                None => super::emit(toml::to_string_pretty(&s.source)?)?,
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
