//! Which version of the OpenTelemetry GenAI semantic conventions a corpus follows.
//!
//! The GenAI conventions left `open-telemetry/semantic-conventions` after v1.41.1 (v1.42.0
//! deprecates them there) for `open-telemetry/semantic-conventions-genai`, which has published
//! no release: its `model/manifest.yaml` names the schema `gen-ai-dev/1.42.0-dev` and keeps
//! changing under that name. `gen --semconv` picks one of the two; the choice is written as the
//! `schema_url` of every resource and scope and into the corpus metadata. Where the two differ
//! for what traceblast emits, the names and types come from here and nowhere else; the
//! registries they were taken from are in `fixtures/semconv/`, and a test checks every
//! generated attribute against them.

use super::trace::Val;

/// A version of the GenAI semantic conventions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Semconv {
    /// `open-telemetry/semantic-conventions` v1.41.1, the last release that holds the GenAI
    /// conventions (v1.41.0 and v1.41.1 define them identically).
    #[default]
    V1_41,
    /// `open-telemetry/semantic-conventions-genai` as its manifest names it
    /// (`gen-ai-dev/1.42.0-dev`), with `gen_ai.request.top_k` an int (PR #217) and the cache
    /// write count renamed `gen_ai.usage.cache_write.input_tokens` (PR #440).
    GenaiDev,
}

impl Semconv {
    /// Every version, in the order `--help` lists them.
    pub const ALL: [Semconv; 2] = [Semconv::V1_41, Semconv::GenaiDev];

    /// The name `--semconv` takes and the corpus metadata records.
    pub fn name(self) -> &'static str {
        match self {
            Semconv::V1_41 => "1.41",
            Semconv::GenaiDev => "genai-dev",
        }
    }

    /// Parses a `--semconv` value.
    pub fn parse(s: &str) -> Result<Semconv, String> {
        if let Some(v) = Semconv::ALL.into_iter().find(|v| v.name() == s) {
            return Ok(v);
        }
        let names: Vec<&str> = Semconv::ALL.iter().map(|v| v.name()).collect();
        let hint = if s.starts_with("genai") {
            " (semantic-conventions-genai has published no release; genai-dev is its \
             gen-ai-dev/1.42.0-dev schema)"
        } else {
            ""
        };
        Err(format!("--semconv '{s}' is not one of {}{hint}", names.join(", ")))
    }

    /// The schema URL written on every resource and scope.
    pub fn schema_url(self) -> &'static str {
        match self {
            Semconv::V1_41 => "https://opentelemetry.io/schemas/1.41.1",
            Semconv::GenaiDev => "https://opentelemetry.io/schemas/gen-ai-dev/1.42.0-dev",
        }
    }

    /// The attribute counting input tokens written to a provider's prompt cache.
    pub fn cache_write_key(self) -> &'static str {
        match self {
            Semconv::V1_41 => "gen_ai.usage.cache_creation.input_tokens",
            Semconv::GenaiDev => "gen_ai.usage.cache_write.input_tokens",
        }
    }

    /// `gen_ai.request.top_k` holding `k`: a double in v1.41, an int since PR #217.
    pub fn top_k(self, k: i64) -> Val<'static> {
        match self {
            Semconv::V1_41 => Val::F64(k as f64),
            Semconv::GenaiDev => Val::Int(k),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_bad_values_are_named() {
        for v in Semconv::ALL {
            assert_eq!(Semconv::parse(v.name()), Ok(v));
        }
        let e = Semconv::parse("1.37").unwrap_err();
        assert!(e.contains("'1.37'") && e.contains("1.41, genai-dev"), "{e}");
        assert!(Semconv::parse("genai-0.1").unwrap_err().contains("no release"));
    }
}
