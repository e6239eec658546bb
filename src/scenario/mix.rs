//! The traffic mix: which scenario each trace comes from.
//!
//! `--mix simple_query=0.4,search=0.3,...` names scenarios (full or short names) with weights
//! that must sum to 1. Trace *i* picks its scenario with the first draw of its own random
//! stream, so the choice depends only on the seed, the index and the mix.

use super::ScenarioSet;

/// Weighted scenario choice.
#[derive(Debug, Clone, PartialEq)]
pub struct Mix {
    /// (scenario id, weight), in the order given; weights sum to 1.
    pub entries: Vec<(usize, f64)>,
}

/// The default mix of the built-in scenarios.
pub const DEFAULT_MIX: &str =
    "simple_query=0.4,single_service_search=0.3,delegated_booking=0.2,multi_service_complex=0.1";

impl Mix {
    /// Parses `name=weight,...` against `set`. Errors name the offending entry or the sum.
    pub fn parse(spec: &str, set: &ScenarioSet) -> Result<Mix, String> {
        let mut entries: Vec<(usize, f64)> = Vec::new();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, w) = part.split_once('=').ok_or_else(|| format!("--mix entry '{part}' is not NAME=WEIGHT"))?;
            let name = name.trim();
            let id = set
                .find(name)
                .ok_or_else(|| format!("--mix: unknown scenario '{name}' (known: {})", set.names().join(", ")))?;
            let w: f64 =
                w.trim().parse().map_err(|_| format!("--mix: weight '{}' of '{name}' is not a number", w.trim()))?;
            if !w.is_finite() || w < 0.0 {
                return Err(format!("--mix: weight {w} of '{name}' must be >= 0"));
            }
            if entries.iter().any(|(e, _)| *e == id) {
                return Err(format!("--mix: scenario '{}' is listed twice", set.scenarios[id].name()));
            }
            entries.push((id, w));
        }
        if entries.is_empty() {
            return Err("--mix is empty: give at least one NAME=WEIGHT".into());
        }
        let sum: f64 = entries.iter().map(|(_, w)| w).sum();
        if (sum - 1.0).abs() > 1e-6 {
            return Err(format!("--mix weights sum to {sum:.2}, expected 1.0"));
        }
        Ok(Mix { entries })
    }

    /// Equal weights over the given scenario ids.
    pub fn uniform(ids: &[usize]) -> Mix {
        let w = 1.0 / ids.len() as f64;
        Mix { entries: ids.iter().map(|&i| (i, w)).collect() }
    }

    /// The scenario for a uniform draw `u` in [0, 1).
    pub fn choose(&self, u: f64) -> usize {
        let mut acc = 0.0;
        for &(id, w) in &self.entries {
            acc += w;
            if u < acc {
                return id;
            }
        }
        // Rounding can leave the sum a hair under 1: the last entry with weight takes it.
        self.entries.iter().rev().find(|(_, w)| *w > 0.0).map(|e| e.0).unwrap_or(self.entries[0].0)
    }

    /// `name=weight,...` with full names, as stored in corpus metadata.
    pub fn describe(&self, set: &ScenarioSet) -> String {
        self.entries.iter().map(|&(id, w)| format!("{}={}", set.scenarios[id].name(), w)).collect::<Vec<_>>().join(",")
    }
}
