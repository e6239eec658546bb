//! `traceblast scenarios [show NAME]`.

use std::process::ExitCode;

use anyhow::bail;

use crate::cli::{ScenariosAction, ScenariosArgs};
use crate::scenario::ScenarioSet;

pub fn run(a: &ScenariosArgs) -> anyhow::Result<ExitCode> {
    let set = ScenarioSet::with_files(&a.scenarios)?;
    match &a.action {
        None => {
            super::emit(format!("{:<24} {:<8} description", "scenario", "short") + "\n")?;
            for s in &set.scenarios {
                let src = &s.source;
                super::emit(
                    format!("{:<24} {:<8} {}", src.name, src.short.as_deref().unwrap_or("-"), src.description) + "\n",
                )?;
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
