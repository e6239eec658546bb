//! What people read of a comparison, shared by the text, the JSON (a check's `detail`) and the
//! page: a threshold's bound, its cells and its sentence, and the runs' labels. The model
//! ([`crate::report::compare`]) holds only the numbers.

use crate::analyze::Drops;
use crate::report::compare::{Check, Comparison, Count, DropsDelta, Judged, Own, OwnStored, Side, Value, rate_ratio};
use crate::units::{pct, thousands, us};

/// The unit of a threshold's limit and value: `" %"`, or nothing for a ratio.
fn unit(j: Judged) -> &'static str {
    if j == Judged::RateRatio { "" } else { " %" }
}

/// The limit as a bound: `≤ +10 %`, `≥ 0.95`.
pub fn bound(k: &Check) -> String {
    let flag = k.judged.flag();
    let rel = if flag.starts_with("--max") { "≤" } else { "≥" };
    let plus = if flag.ends_with("-regression") { "+" } else { "" };
    format!("{rel} {plus}{}{}", k.limit, unit(k.judged))
}

/// The flag and its limit: `--max-p99-regression 10 %`.
pub fn flag_and_limit(k: &Check) -> String {
    format!("{} {}{}", k.judged.flag(), k.limit, unit(k.judged))
}

/// The latency a regression threshold judges, and its name.
fn latency(c: &Comparison, j: Judged) -> Option<(&'static str, &Count)> {
    match j {
        Judged::P50Regression => Some(("p50", &c.p50_us)),
        Judged::P99Regression => Some(("p99", &c.p99_us)),
        _ => None,
    }
}

/// BASE, NEW and the change of a percentage, in points.
fn points(v: &Value) -> [String; 3] {
    [format!("{:.2} %", v.base), format!("{:.2} %", v.new), format!("{:+.2} pt", v.delta)]
}

/// The judged quantity in BASE, in NEW, and their difference (the page's columns).
pub fn shown(c: &Comparison, k: &Check) -> [String; 3] {
    if let Some((_, d)) = latency(c, k.judged) {
        return [us(d.base), us(d.new), pct(d.change_pct)];
    }
    match k.judged {
        Judged::Success => points(&c.success_rate),
        Judged::ErrorRate => points(&c.error_rate),
        _ => {
            let a = &c.achieved_rate;
            let ratio = rate_ratio(a).map_or_else(|| "n/a".into(), |r| format!("× {r}"));
            [format!("{} req/s", a.base), format!("{} req/s", a.new), ratio]
        }
    }
}

/// The numbers behind the verdict, in a sentence.
pub fn detail(c: &Comparison, k: &Check) -> String {
    let limit = k.limit;
    if let Some((name, d)) = latency(c, k.judged) {
        return match d.change_pct {
            Some(p) => format!("{name} {} → {} ({p:+.2} %), limit +{limit} %", us(d.base), us(d.new)),
            None => format!("{name} {} → {}: BASE has no latency samples to compare with", us(d.base), us(d.new)),
        };
    }
    match k.judged {
        Judged::Success => format!("success rate {:.2} %, limit {limit} %", c.success_rate.new),
        Judged::ErrorRate => format!("error rate {:.2} % of sent requests, limit {limit} %", c.error_rate.new),
        _ => {
            let a = &c.achieved_rate;
            match rate_ratio(a) {
                Some(r) => format!("achieved {} → {} req/s (ratio {r}), limit {limit}", a.base, a.new),
                None => format!("BASE achieved {} req/s: no ratio to judge", a.base),
            }
        }
    }
}

/// The rows of a drops comparison: spans dropped by the log and the metrics (when both runs read
/// them), by cause, and retries.
pub fn drop_rows(d: &DropsDelta) -> Vec<(String, Count)> {
    let mut rows: Vec<(String, Count)> = Vec::new();
    rows.extend(d.spans_dropped_log.map(|x| ("spans dropped (log)".to_string(), x)));
    rows.extend(d.spans_dropped_metrics.map(|x| ("spans dropped (metrics)".to_string(), x)));
    rows.extend(d.by_cause.iter().map(|(k, x)| (format!("  {k}"), *x)));
    rows.push(("retries scheduled".into(), d.retries));
    rows
}

/// A run's cells of one row of several runs: `f` of its read-back, `-` where it was not read back.
type StoredCell<'a> = &'a dyn Fn(&OwnStored) -> String;

/// What each of several runs stored, a cell per run (`-` where not verified); no rows when no
/// run was verified.
pub fn stored_rows(own: &[Own]) -> Vec<(String, Vec<String>)> {
    if own.iter().all(|o| o.verify.is_none()) {
        return Vec::new();
    }
    let cells = |f: StoredCell| own.iter().map(|o| o.verify.as_ref().map_or("-".to_string(), f)).collect();
    let ms = |v: Option<u64>| v.map_or("-".to_string(), |m| us(m.saturating_mul(1000)));
    vec![
        ("read back from".into(), cells(&|v| v.from.clone())),
        ("acknowledged traces".into(), cells(&|v| thousands(v.acknowledged))),
        ("stored whole".into(), cells(&|v| thousands(v.stored))),
        ("loss".into(), cells(&|v| format!("{:.2} %", v.loss_percent))),
        ("visibility lag p50".into(), cells(&|v| ms(v.lag_p50_ms))),
        ("visibility lag p99".into(), cells(&|v| ms(v.lag_p99_ms))),
    ]
}

/// What each of several runs' Collector dropped, a cell per run: `not read` where its analysis
/// did not read that source (a log, metrics), `-` where no analysis was attached; no rows when no
/// run has one.
pub fn collector_rows(own: &[Own]) -> Vec<(String, Vec<String>)> {
    if own.iter().all(|o| o.collector.is_none()) {
        return Vec::new();
    }
    let cells = |f: &dyn Fn(&Drops) -> Option<u64>| -> Vec<String> {
        own.iter()
            .map(|o| match &o.collector {
                None => "-".into(),
                Some(d) => f(d).map_or_else(|| "not read".into(), thousands),
            })
            .collect()
    };
    let mut rows = vec![
        ("spans dropped (log)".to_string(), cells(&|d| d.spans_dropped_log)),
        ("spans dropped (metrics)".to_string(), cells(&|d| d.spans_dropped_metrics)),
    ];
    let causes: std::collections::BTreeSet<&String> =
        own.iter().filter_map(|o| o.collector.as_ref()).flat_map(|d| d.by_cause.keys()).collect();
    for k in causes {
        // A cause is a count of the log: 0 where a log was read and did not name it.
        rows.push((format!("  {k}"), cells(&|d| d.spans_dropped_log.map(|_| d.by_cause.get(k).copied().unwrap_or(0)))));
    }
    rows.push(("retries scheduled".into(), cells(&|d| d.spans_dropped_log.map(|_| d.retries))));
    rows
}

/// Widest label.
const LABEL: usize = 14;

/// Short names for runs, by target: their platforms when each run has its own, else their
/// endpoints' host:port when those differ (cut from the left, so the port stays), else their
/// files, else numbers before the files; at most [`LABEL`] characters each, and always distinct
/// as shown.
pub fn labels(sides: &[&Side]) -> Vec<String> {
    let distinct = |v: &[String]| v.iter().all(|x| !x.is_empty() && v.iter().filter(|y| *y == x).count() == 1);
    let platforms: Vec<String> = sides.iter().map(|s| clip(&s.platform, LABEL)).collect();
    let hosts: Vec<String> = sides.iter().map(|s| clip_left(&authority(&s.endpoint), LABEL)).collect();
    let files: Vec<String> = sides.iter().map(|s| clip(&file_name(&s.file), LABEL)).collect();
    if distinct(&platforms) && sides.iter().all(|s| s.platform != "otlp") {
        platforms
    } else if distinct(&hosts) {
        hosts
    } else if distinct(&files) {
        files
    } else {
        sides.iter().enumerate().map(|(i, s)| clip(&format!("#{} {}", i + 1, file_name(&s.file)), LABEL)).collect()
    }
}

/// `host:port` of an endpoint as shown (already redacted).
fn authority(endpoint: &str) -> String {
    let rest = endpoint.split_once("://").map_or(endpoint, |(_, r)| r);
    rest.split('/').next().unwrap_or_default().to_string()
}

/// The last part of a path, without `.json`.
fn file_name(f: &str) -> String {
    let name = f.rsplit(['/', '\\']).next().unwrap_or(f);
    name.strip_suffix(".json").unwrap_or(name).to_string()
}

/// `s` cut to `n` characters, the cut marked with `…`.
fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n { s.to_string() } else { s.chars().take(n - 1).chain(['…']).collect() }
}

/// `s` cut to its last `n` characters, the cut marked with `…`.
fn clip_left(s: &str, n: usize) -> String {
    let len = s.chars().count();
    if len <= n { s.to_string() } else { std::iter::once('…').chain(s.chars().skip(len - (n - 1))).collect() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Report;
    use crate::report::compare::compare;
    use crate::report::compare::fixtures::{past, run};

    #[test]
    fn each_threshold_in_words_and_cells() {
        let past = past();
        let c = compare("a", &run(1000, 0, 500, 1000, 100.0), "b", &run(995, 5, 550, 1100, 95.0), &past);
        let table: Vec<(String, [String; 3])> = c.checks.iter().map(|k| (bound(k), shown(&c, k))).collect();
        let row = |b: &str, v: [&str; 3]| (b.to_string(), v.map(String::from));
        assert_eq!(
            table,
            [
                row("≤ +9.99 %", ["500 µs", "550 µs", "+10.00 %"]),
                row("≤ +9.99 %", ["1.00 ms", "1.10 ms", "+10.00 %"]),
                row("≥ 99.51 %", ["100.00 %", "99.50 %", "-0.50 pt"]),
                row("≤ 0.49 %", ["0.00 %", "0.50 %", "+0.50 pt"]),
                row("≥ 0.951", ["100 req/s", "95 req/s", "× 0.95"]),
            ]
        );
        let words: Vec<String> = c.checks.iter().map(|k| detail(&c, k)).collect();
        assert_eq!(
            words,
            [
                "p50 500 µs → 550 µs (+10.00 %), limit +9.99 %",
                "p99 1.00 ms → 1.10 ms (+10.00 %), limit +9.99 %",
                "success rate 99.50 %, limit 99.51 %",
                "error rate 0.50 % of sent requests, limit 0.49 %",
                "achieved 100 → 95 req/s (ratio 0.95), limit 0.951",
            ]
        );
        let empty = compare("a", &Report::default(), "b", &run(10, 0, 500, 900, 10.0), &past);
        assert_eq!(detail(&empty, &empty.checks[1]), "p99 0 µs → 900 µs: BASE has no latency samples to compare with");
        assert_eq!(detail(&empty, &empty.checks[4]), "BASE achieved 0 req/s: no ratio to judge");
    }

    #[test]
    fn runs_are_labelled_by_target() {
        let side = |platform: &str, endpoint: &str, file: &str| Side {
            platform: platform.into(),
            endpoint: endpoint.into(),
            file: file.into(),
            ..Side::default()
        };
        let (a, b) = (
            side("braintrust", "https://api.braintrust.dev/otel", "x/bt.json"),
            side("langsmith", "http://h:1/v1", "ls.json"),
        );
        assert_eq!(labels(&[&a, &b]), ["braintrust", "langsmith"]);
        let (a, b) = (
            side("otlp", "http://127.0.0.1:4318/v1/traces", "a.json"),
            side("otlp", "http://127.0.0.1:4319/v1/traces", "b.json"),
        );
        assert_eq!(labels(&[&a, &b]), ["127.0.0.1:4318", "127.0.0.1:4319"]);
        let (a, b) = (
            side("otlp", "http://c:4318/v1/traces", "runs/main.json"),
            side("otlp", "http://c:4318/v1/traces", "a-very-long-branch-name.json"),
        );
        assert_eq!(labels(&[&a, &b]), ["main", "a-very-long-b…"]);
        // Distinct as shown: long hosts keep their ports; equal names are numbered.
        let (a, b) = (side("otlp", "http://127.0.0.1:47811/v1", "x"), side("otlp", "http://127.0.0.1:47813/v1", "x"));
        assert_eq!(labels(&[&a, &b]), ["…7.0.0.1:47811", "…7.0.0.1:47813"]);
        let (a, b) = (side("otlp", "http://c:1/v1", "a/run.json"), side("otlp", "http://c:1/v1", "b/run.json"));
        assert_eq!(labels(&[&a, &b]), ["#1 run", "#2 run"]);
    }
}
