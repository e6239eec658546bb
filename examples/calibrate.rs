//! Prints per-scenario averages (spans, KB, tokens, root duration P50, error share) of the
//! built-in scenarios, for tuning their TOML files against the seed's table.
//!
//! cargo run --release --example calibrate [traces-per-scenario]

use traceblast::encode::{Group, encode_group};
use traceblast::scenario::{Mix, ScenarioSet};
use traceblast::synth::{Synth, Trace};

fn main() {
    let n: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(400);
    let set = ScenarioSet::builtin();
    println!(
        "{:<24}{:>8}{:>10}{:>10}{:>12}{:>8}{:>8}",
        "scenario", "spans", "KB", "tokens", "root p50 ms", "errors", "svcs"
    );
    for id in 0..set.scenarios.len() {
        let mix = Mix::uniform(&[id]);
        let synth = Synth::new(&set, &mix, 42);
        let (mut spans, mut bytes, mut tokens, mut errors) = (0u64, 0u64, 0u64, 0u64);
        let mut durs = Vec::new();
        let mut services = std::collections::BTreeSet::new();
        let mut t = Trace::default();
        let mut g = Group::default();
        let mut scratch = Vec::new();
        for i in 0..n {
            synth.trace(i, &mut t);
            spans += t.spans.len() as u64;
            tokens += t.tokens;
            errors += u64::from(t.spans.iter().any(|s| s.error.is_some()));
            let root = t.root().unwrap();
            durs.push((root.end - root.start) as f64 / 1e6);
            for s in &t.spans {
                services.insert(t.resources[s.resource as usize].service.name.clone());
            }
            encode_group(std::slice::from_ref(&t), i, 64 << 20, &mut g, &mut scratch).unwrap();
            bytes += g.records.iter().map(|r| u64::from(r.len)).sum::<u64>();
        }
        durs.sort_by(f64::total_cmp);
        let nf = n as f64;
        println!(
            "{:<24}{:>8.1}{:>10.1}{:>10.0}{:>12.1}{:>7.1}%{:>8}",
            set.scenarios[id].name(),
            spans as f64 / nf,
            bytes as f64 / 1e3 / nf,
            tokens as f64 / nf,
            durs[durs.len() / 2],
            errors as f64 * 100.0 / nf,
            services.len()
        );
    }
}
