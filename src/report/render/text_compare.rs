//! `report compare` as text: two runs with their deltas, or several as a table with one column
//! per run (labelled by target) and each further run's change against BASE beneath.

use std::fmt::Write;

use super::compared::{collector_rows, detail, drop_rows, flag_and_limit, labels, stored_rows};
use super::text::Text;

/// A real quantity of a comparison.
type ValueOf = fn(&Comparison) -> &Value;
/// A count or latency of a comparison.
type CountOf = fn(&Comparison) -> &Count;

use crate::report::Render;
use crate::report::compare::{Comparison, Comparisons, Count, Own, Value};
use crate::units::{pct, thousands, us};

/// `+12` / `-3` / `0`.
fn signed(v: i64) -> String {
    if v > 0 {
        format!("+{}", thousands(v as u64))
    } else if v < 0 {
        format!("-{}", thousands(v.unsigned_abs()))
    } else {
        "0".into()
    }
}

fn side_line(label: &str, s: &crate::report::compare::Side) -> String {
    let target =
        s.target_rate.map(|t| format!("{} req/s", crate::units::trim_rate(t))).unwrap_or_else(|| "max rate".into());
    let platform = if s.platform.is_empty() { String::new() } else { format!("{} → ", s.platform) };
    format!(
        "  {label:<5} {}\n        {platform}{} · started {} · {:.2} s · {target} · {} scheduled{}\n",
        s.file,
        s.endpoint,
        s.started_at,
        s.duration_s,
        thousands(s.scheduled),
        if s.interrupted { " · INTERRUPTED" } else { "" }
    )
}

impl Render<Comparison> for Text {
    fn render(&self, c: &Comparison) -> String {
        let mut o = String::from("traceblast report compare\n");
        o.push_str(&side_line("base", &c.base));
        o.push_str(&side_line("new", &c.new));
        let _ = writeln!(o, "  {:<22}{:>14}{:>14}{:>14}", "", "base", "new", "delta");
        let mut real = |name: &str, v: &Value, unit: &str, relative: bool| {
            let delta = if relative { pct(v.change_pct) } else { format!("{:+.2} pt", v.delta) };
            let _ = writeln!(
                o,
                "  {name:<22}{:>14}{:>14}{delta:>14}",
                format!("{:.2}{unit}", v.base),
                format!("{:.2}{unit}", v.new)
            );
        };
        real("success rate", &c.success_rate, " %", false);
        real("error rate (of sent)", &c.error_rate, " %", false);
        real("achieved rate", &c.achieved_rate, "/s", true);
        real("ok per second", &c.ok_per_s, "/s", true);
        real("spans ok per second", &c.spans_ok_per_s, "/s", true);
        let mut lat = |name: &str, v: &Count| {
            let _ = writeln!(o, "  {name:<22}{:>14}{:>14}{:>14}", us(v.base), us(v.new), pct(v.change_pct));
        };
        lat("p50 (corrected)", &c.p50_us);
        lat("p99 (corrected)", &c.p99_us);
        lat("p99.9 (corrected)", &c.p999_us);
        if c.errors.is_empty() {
            o.push_str("  errors by status      none\n");
        } else {
            o.push_str("  errors by status\n");
            for (k, v) in &c.errors {
                let label = if k == "0" { "no status".to_string() } else { k.clone() };
                let _ = writeln!(
                    o,
                    "    {label:<20}{:>14}{:>14}{:>14}",
                    thousands(v.base),
                    thousands(v.new),
                    signed(v.delta)
                );
            }
        }
        if let Some(v) = &c.verify {
            let _ = writeln!(o, "  stored (verify: {} / {})", v.from[0], v.from[1]);
            for (name, x) in [("acknowledged traces", &v.acknowledged), ("stored whole", &v.stored)] {
                let _ = writeln!(
                    o,
                    "    {name:<20}{:>14}{:>14}{:>14}",
                    thousands(x.base),
                    thousands(x.new),
                    signed(x.delta)
                );
            }
            let l = &v.loss_percent;
            let _ = writeln!(
                o,
                "    {:<20}{:>14}{:>14}{:>14}",
                "loss",
                format!("{:.2} %", l.base),
                format!("{:.2} %", l.new),
                format!("{:+.2} pt", l.delta)
            );
            for (name, x) in [("visibility lag p50", &v.lag_p50_ms), ("visibility lag p99", &v.lag_p99_ms)] {
                if let Some(x) = x {
                    let _ = writeln!(
                        o,
                        "    {name:<20}{:>14}{:>14}{:>14}",
                        us(x.base.saturating_mul(1000)),
                        us(x.new.saturating_mul(1000)),
                        pct(x.change_pct)
                    );
                }
            }
        }
        if let Some(d) = &c.collector {
            o.push_str("  collector drops (analyze)\n");
            for (name, x) in drop_rows(d) {
                let _ = writeln!(
                    o,
                    "    {name:<20}{:>14}{:>14}{:>14}",
                    thousands(x.base),
                    thousands(x.new),
                    signed(x.delta)
                );
            }
        }
        if !c.scenarios.is_empty() {
            let _ = writeln!(o, "  {:<28}{:>10}{:>10}{:>12}{:>12}", "scenario", "requests", "ok", "p50", "p99");
            for (name, s) in &c.scenarios {
                let _ = writeln!(o, "    {name}");
                let rows = [
                    ("base", thousands(s.requests.base), thousands(s.ok.base), us(s.p50_us.base), us(s.p99_us.base)),
                    ("new", thousands(s.requests.new), thousands(s.ok.new), us(s.p50_us.new), us(s.p99_us.new)),
                    (
                        "delta",
                        signed(s.requests.delta),
                        signed(s.ok.delta),
                        pct(s.p50_us.change_pct),
                        pct(s.p99_us.change_pct),
                    ),
                ];
                for (label, a, b, p50, p99) in rows {
                    let _ = writeln!(o, "      {label:<24}{a:>10}{b:>10}{p50:>12}{p99:>12}");
                }
            }
        }
        if c.checks.is_empty() {
            o.push_str("thresholds: none given\n");
            return o;
        }
        o.push_str("thresholds\n");
        for k in &c.checks {
            let verdict = if k.crossed { "FAIL" } else { "ok  " };
            let _ = writeln!(o, "  {verdict}  {}: {}", flag_and_limit(k), detail(c, k));
        }
        let crossed = c.crossed();
        if crossed.is_empty() {
            let _ = writeln!(
                o,
                "result: pass ({} threshold{} checked)",
                c.checks.len(),
                if c.checks.len() == 1 { "" } else { "s" }
            );
        } else {
            let _ = writeln!(o, "result: FAIL, {} crossed: {}", crossed.len(), crossed.join(", "));
        }
        o
    }
}

impl Render<Comparisons> for Text {
    fn render(&self, c: &Comparisons) -> String {
        match c.pairs.as_slice() {
            [one] => self.render(one),
            pairs => table(pairs, &c.own, c.passed),
        }
    }
}

/// Cell width of a run's column.
const COL: usize = 16;

/// One row: its name, BASE's cell and each further run's, then (when given) each further run's
/// change against BASE on a line of its own.
fn row(o: &mut String, name: &str, cells: &[String], changes: Option<Vec<String>>) {
    let _ = write!(o, "  {name:<26}");
    for c in cells {
        let _ = write!(o, "{c:>COL$}");
    }
    o.push('\n');
    if let Some(ch) = changes {
        let _ = write!(o, "  {:<26}{:>COL$}", "", "");
        for c in ch {
            let _ = write!(o, "{c:>COL$}");
        }
        o.push('\n');
    }
}

/// Cells of a real quantity in every run and its changes (in points, or relative).
fn reals(pairs: &[Comparison], f: ValueOf, unit: &str, relative: bool) -> (Vec<String>, Vec<String>) {
    let base = format!("{:.2}{unit}", f(&pairs[0]).base);
    let cells = std::iter::once(base).chain(pairs.iter().map(|p| format!("{:.2}{unit}", f(p).new))).collect();
    let change = |v: &Value| if relative { pct(v.change_pct) } else { format!("{:+.2} pt", v.delta) };
    (cells, pairs.iter().map(|p| change(f(p))).collect())
}

/// Cells of a latency in every run and its relative changes.
fn latencies(pairs: &[Comparison], f: CountOf) -> (Vec<String>, Vec<String>) {
    let cells = std::iter::once(us(f(&pairs[0]).base)).chain(pairs.iter().map(|p| us(f(p).new))).collect();
    (cells, pairs.iter().map(|p| pct(f(p).change_pct)).collect())
}

fn table(pairs: &[Comparison], own: &[Own], passed: bool) -> String {
    let mut o = format!("traceblast report compare: {} runs, each against BASE (the first)\n", pairs.len() + 1);
    let sides: Vec<_> = std::iter::once(&pairs[0].base).chain(pairs.iter().map(|p| &p.new)).collect();
    let names = labels(&sides);
    for (i, (s, name)) in sides.iter().zip(&names).enumerate() {
        let tag = if i == 0 { format!("{name} (BASE)") } else { name.clone() };
        o.push_str(&side_line(&tag, s));
    }
    row(&mut o, "", &names, None);
    let real_rows: [(&str, ValueOf, &str, bool); 5] = [
        ("success rate", |c| &c.success_rate, " %", false),
        ("error rate (of sent)", |c| &c.error_rate, " %", false),
        ("achieved rate", |c| &c.achieved_rate, "/s", true),
        ("ok per second", |c| &c.ok_per_s, "/s", true),
        ("spans ok per second", |c| &c.spans_ok_per_s, "/s", true),
    ];
    for (name, f, unit, relative) in real_rows {
        let (cells, changes) = reals(pairs, f, unit, relative);
        row(&mut o, name, &cells, Some(changes));
    }
    let lat_rows: [(&str, CountOf); 3] =
        [("p50 (corrected)", |c| &c.p50_us), ("p99 (corrected)", |c| &c.p99_us), ("p99.9 (corrected)", |c| &c.p999_us)];
    for (name, f) in lat_rows {
        let (cells, changes) = latencies(pairs, f);
        row(&mut o, name, &cells, Some(changes));
    }
    failures(&mut o, pairs);
    own_rows(&mut o, "stored (verify)", stored_rows(own));
    own_rows(&mut o, "collector drops (analyze)", collector_rows(own));
    thresholds(&mut o, pairs, &names, passed);
    o
}

/// Failures by status or error, every key any run has.
fn failures(o: &mut String, pairs: &[Comparison]) {
    let keys: std::collections::BTreeSet<&String> = pairs.iter().flat_map(|p| p.errors.keys()).collect();
    if keys.is_empty() {
        o.push_str("  errors by status          none\n");
        return;
    }
    o.push_str("  errors by status\n");
    for k in keys {
        let label = if k == "0" { "no status".to_string() } else { k.clone() };
        let base = pairs.iter().find_map(|p| p.errors.get(k)).map_or(0, |c| c.base);
        let cells: Vec<String> = std::iter::once(base)
            .chain(pairs.iter().map(|p| p.errors.get(k).map_or(0, |c| c.new)))
            .map(thousands)
            .collect();
        row(o, &format!("  {label}"), &cells, None);
    }
}

/// Rows of each run's own figures (what it stored, what its Collector dropped) under a heading.
fn own_rows(o: &mut String, heading: &str, rows: Vec<(String, Vec<String>)>) {
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(o, "  {heading}");
    for (name, cells) in rows {
        row(o, &format!("  {name}"), &cells, None);
    }
}

/// Each further run's thresholds, under its label.
fn thresholds(o: &mut String, pairs: &[Comparison], names: &[String], passed: bool) {
    if pairs[0].checks.is_empty() {
        o.push_str("thresholds: none given\n");
        return;
    }
    o.push_str("thresholds (each run against BASE)\n");
    for (p, name) in pairs.iter().zip(&names[1..]) {
        for k in &p.checks {
            let verdict = if k.crossed { "FAIL" } else { "ok  " };
            let _ = writeln!(o, "  {verdict}  {name}: {}: {}", flag_and_limit(k), detail(p, k));
        }
    }
    let crossed: usize = pairs.iter().map(|p| p.crossed().len()).sum();
    let checked: usize = pairs.iter().map(|p| p.checks.len()).sum();
    if passed {
        let _ = writeln!(o, "result: pass ({checked} thresholds checked)");
    } else {
        let failing: Vec<&str> =
            pairs.iter().zip(&names[1..]).filter(|(p, _)| !p.passed).map(|(_, n)| n.as_str()).collect();
        let _ = writeln!(o, "result: FAIL, {crossed} of {checked} crossed, by {}", failing.join(", "));
    }
}
