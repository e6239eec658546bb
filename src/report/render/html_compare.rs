//! The `report compare --html` page: runs on one self-contained page (the same inline styles,
//! self-check script and fetch-forbidding Content-Security-Policy as the report page).
//!
//! It opens with the verdict and the thresholds as a table (BASE, the run judged, change, limit,
//! pass or FAIL), then the runs, the headline numbers side by side, then the time charts with
//! every run overlaid: BASE dashed, the others solid, each aligned on seconds since its own first
//! second, so runs started at different times line up. As on the report page, partial seconds
//! are left out of the rate lines and a second without completions breaks them. Two runs are
//! BASE and NEW; more are labelled by target ([`labels`]).

use std::fmt::Write;

use super::charts::{
    bytes_chart, bytes_per_s, latency_chart, latency_tip, line, no_rate_reason, per_s, seconds_axis, time_chart,
};
use super::compared::{bound, collector_rows, detail, drop_rows, labels, shown, stored_rows};
use super::page::{page_end, page_start, section, table};
use super::svg::{Chart, Line, esc};
use super::timeline::Timeline;
use crate::report::Render;
use crate::report::Report;
use crate::report::compare::{Comparison, Comparisons, Count, Side, Value, VerifyDelta};
use crate::units::pct;
use crate::units::thousands;
use crate::units::us;

/// The compare page of [`Comparisons`], with the reports they were made from, in the same order
/// (for their per-second series).
pub struct ComparePage<'a> {
    /// BASE, then every run compared with it.
    pub runs: &'a [Report],
}

/// One run's line set: its name and colours (rate, p50, p99), and whether it is dashed.
struct Set<'a> {
    t: Timeline<'a>,
    name: String,
    dashed: bool,
    colors: [&'static str; 3],
}

/// Colours of the runs after BASE (rate and p50, p99), one for each of the at most 7.
const PALETTE: [[&str; 3]; 7] = [
    ["#e8710a", "#e8710a", "#b33c00"],
    ["#2ca02c", "#2ca02c", "#1a6b1a"],
    ["#9467bd", "#9467bd", "#5e3c85"],
    ["#8c564b", "#8c564b", "#5a3129"],
    ["#e377c2", "#e377c2", "#a3428a"],
    ["#17becf", "#17becf", "#0e7c87"],
    ["#bcbd22", "#bcbd22", "#7a7b16"],
];

/// The runs' names: BASE and NEW for two, their labels by target for more.
fn names(c: &Comparisons) -> Vec<String> {
    if c.pairs.len() == 1 { vec!["BASE".into(), "NEW".into()] } else { labels(&c.sides()) }
}

impl Render<Comparisons> for ComparePage<'_> {
    fn render(&self, c: &Comparisons) -> String {
        let files: Vec<&str> = c.sides().iter().map(|s| s.file.as_str()).collect();
        let mut o = page_start(&format!("traceblast compare — {}", files.join(" vs ")));
        o.push_str("<h1>traceblast report compare</h1>\n");
        let names = names(c);
        verdict(&mut o, c, &names);
        checks(&mut o, c, &names);
        sides(&mut o, c, &names);
        headline(&mut o, c, &names);
        let sets: Vec<Set> = self
            .runs
            .iter()
            .zip(&names)
            .enumerate()
            .map(|(i, (r, name))| Set {
                t: Timeline::of(r),
                name: name.clone(),
                dashed: i == 0,
                colors: if i == 0 { ["#1f6fd1", "#1f6fd1", "#0b3d91"] } else { PALETTE[(i - 1) % PALETTE.len()] },
            })
            .collect();
        let note = "BASE dashed, the others solid, each from its own first second. Partial seconds (start, end \
                    of the schedule) are left out of the rate lines; a line breaks where no request completed.";
        section(
            &mut o,
            "Throughput",
            &format!("Requests completed (ok + failed) per second. {note}"),
            &throughput(&sets),
        );
        section(&mut o, "Spans per second", "Spans the server acknowledged per second.", &spans(&sets));
        section(&mut o, "Data per second", "Request body bytes as sent, per second of completion.", &data(&sets));
        section(
            &mut o,
            "Latency over time",
            "Corrected p50 and p99 of the requests completed in each second.",
            &latency(&sets),
        );
        errors(&mut o, c, &names);
        page_end(&mut o);
        o
    }
}

fn verdict(o: &mut String, c: &Comparisons, names: &[String]) {
    // With several runs, each crossed flag is named with its run.
    let crossed: Vec<String> = c
        .pairs
        .iter()
        .zip(&names[1..])
        .flat_map(|(p, n)| {
            p.crossed().into_iter().map(move |f| if c.pairs.len() > 1 { format!("{n}: {f}") } else { f.to_string() })
        })
        .collect();
    let checked: usize = c.pairs.iter().map(|p| p.checks.len()).sum();
    let text = if checked == 0 {
        "No threshold given: nothing to pass or fail.".to_string()
    } else if crossed.is_empty() {
        format!("PASS: no threshold crossed ({checked} checked).")
    } else {
        format!("FAIL: {} of {checked} thresholds crossed: {}.", crossed.len(), crossed.join(", "))
    };
    let class = if crossed.is_empty() { "verdict pass" } else { "verdict banner" };
    let _ = writeln!(o, "<p class=\"{class}\" id=\"verdict\">{}</p>", esc(&text));
}

fn checks(o: &mut String, c: &Comparisons, names: &[String]) {
    let several = c.pairs.len() > 1;
    let run_th = if several { "<th>run</th>" } else { "" };
    let _ = write!(
        o,
        "<section><h2>Thresholds</h2><table id=\"checks\"><tr><th>check</th>{run_th}<th>BASE</th><th>{}</th>\
         <th>change</th><th>threshold</th><th>result</th><th>detail</th></tr>",
        if several { "run's" } else { "NEW" }
    );
    for (p, name) in c.pairs.iter().zip(&names[1..]) {
        for k in &p.checks {
            let [base, new, delta] = shown(p, k);
            let run = if several { format!("<td>{}</td>", esc(name)) } else { String::new() };
            let _ = write!(
                o,
                "<tr{}><td><code>{}</code></td>{run}<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                if k.crossed { " class=\"fail\"" } else { "" },
                esc(k.judged.flag()),
                esc(&base),
                esc(&new),
                esc(&delta),
                esc(&bound(k)),
                if k.crossed { "FAIL" } else { "pass" },
                esc(&detail(p, k))
            );
        }
    }
    if c.pairs.iter().all(|p| p.checks.is_empty()) {
        let cols = if several { 8 } else { 7 };
        let _ = write!(
            o,
            "<tr><td colspan=\"{cols}\">no threshold given (--max-p99-regression, --min-success, …)</td></tr>"
        );
    }
    o.push_str("</table></section>\n");
}

fn side_row(label: &str, s: &Side) -> Vec<String> {
    let target = s.target_rate.map_or_else(|| "max".into(), |t| format!("{} req/s", crate::units::trim_rate(t)));
    vec![
        label.into(),
        s.file.clone(),
        if s.platform.is_empty() { s.endpoint.clone() } else { format!("{} → {}", s.platform, s.endpoint) },
        s.started_at.clone(),
        format!("{:.2} s{}", s.duration_s, if s.interrupted { " (interrupted)" } else { "" }),
        target,
        thousands(s.scheduled),
    ]
}

fn sides(o: &mut String, c: &Comparisons, names: &[String]) {
    let rows: Vec<Vec<String>> = c.sides().into_iter().zip(names).map(|(s, n)| side_row(n, s)).collect();
    table(o, "Runs", &["", "report", "platform → endpoint", "started", "duration", "target rate", "scheduled"], &rows);
}

/// A row: the name, BASE's cell and each further run's; with two runs a last column holds the
/// change, with more each run's cell carries its change against BASE.
fn cells(
    name: &str,
    pairs: &[Comparison],
    base: String,
    each: impl Fn(&Comparison) -> (String, String),
) -> Vec<String> {
    let mut row = vec![name.to_string(), base];
    match pairs {
        [one] => {
            let (v, change) = each(one);
            row.extend([v, change]);
        }
        _ => row.extend(pairs.iter().map(|p| {
            let (v, change) = each(p);
            format!("{v} ({change})")
        })),
    }
    row
}

fn headline(o: &mut String, c: &Comparisons, names: &[String]) {
    let pairs = &c.pairs;
    let real = |name: &str, f: fn(&Comparison) -> &Value, unit: &str, relative: bool| {
        let change = move |v: &Value| if relative { pct(v.change_pct) } else { format!("{:+.2} pt", v.delta) };
        cells(name, pairs, format!("{:.2}{unit}", f(&pairs[0]).base), |p| {
            (format!("{:.2}{unit}", f(p).new), change(f(p)))
        })
    };
    let lat = |name: &str, f: fn(&Comparison) -> &Count| {
        cells(name, pairs, us(f(&pairs[0]).base), |p| (us(f(p).new), pct(f(p).change_pct)))
    };
    let mut rows = vec![
        real("success rate", |c| &c.success_rate, " %", false),
        real("error rate (of sent)", |c| &c.error_rate, " %", false),
        real("achieved rate", |c| &c.achieved_rate, "/s", true),
        real("ok per second", |c| &c.ok_per_s, "/s", true),
        real("spans ok per second", |c| &c.spans_ok_per_s, "/s", true),
        lat("p50 (corrected)", |c| &c.p50_us),
        lat("p99 (corrected)", |c| &c.p99_us),
        lat("p99.9 (corrected)", |c| &c.p999_us),
    ];
    match pairs.as_slice() {
        [pair] => {
            rows.extend(pair.verify.as_ref().map(verify_rows).unwrap_or_default());
            rows.extend(drops(pair));
        }
        // Several runs: each run's own figures, as measured (a pair has them only when both do).
        _ => {
            let own = stored_rows(&c.own).into_iter().chain(collector_rows(&c.own));
            rows.extend(own.map(|(name, cells)| std::iter::once(name.trim().to_string()).chain(cells).collect()));
        }
    }
    let mut head: Vec<&str> = std::iter::once("").chain(names.iter().map(String::as_str)).collect();
    if pairs.len() == 1 {
        head.push("change");
    }
    table(o, "Side by side", &head, &rows);
}

/// Two runs' read-back, with the change.
fn verify_rows(v: &VerifyDelta) -> Vec<Vec<String>> {
    let n = |name: String, x: &Count| vec![name, thousands(x.base), thousands(x.new), pct(x.change_pct)];
    let ms = |x: Option<u64>| x.map_or("-".to_string(), |m| us(m.saturating_mul(1000)));
    let lag = |name: &str, x: Option<Count>| {
        vec![name.to_string(), ms(x.map(|x| x.base)), ms(x.map(|x| x.new)), pct(x.and_then(|x| x.change_pct))]
    };
    let l = &v.loss_percent;
    vec![
        n(format!("acknowledged traces (verify: {} / {})", v.from[0], v.from[1]), &v.acknowledged),
        n("stored whole".into(), &v.stored),
        vec!["loss".into(), format!("{:.2} %", l.base), format!("{:.2} %", l.new), format!("{:+.2} pt", l.delta)],
        lag("visibility lag p50", v.lag_p50_ms),
        lag("visibility lag p99", v.lag_p99_ms),
    ]
}

/// Two runs' Collector drops, with the change, when both carry an analysis.
fn drops(pair: &Comparison) -> Vec<Vec<String>> {
    let Some(d) = &pair.collector else { return Vec::new() };
    drop_rows(d)
        .into_iter()
        .map(|(name, x)| {
            vec![format!("collector: {}", name.trim()), thousands(x.base), thousands(x.new), pct(x.change_pct)]
        })
        .collect()
}

fn errors(o: &mut String, c: &Comparisons, names: &[String]) {
    let pairs = &c.pairs;
    let keys: std::collections::BTreeSet<&String> = pairs.iter().flat_map(|p| p.errors.keys()).collect();
    let rows: Vec<Vec<String>> = keys
        .into_iter()
        .map(|k| {
            let label = if k == "0" { "no status".to_string() } else { k.clone() };
            let zero = Count { base: 0, new: 0, delta: 0, change_pct: Some(0.0) };
            let get = |p: &Comparison| p.errors.get(k).copied().unwrap_or(zero);
            let base = pairs.iter().find_map(|p| p.errors.get(k)).map_or(0, |x| x.base);
            cells(&label, pairs, thousands(base), |p| (thousands(get(p).new), pct(get(p).change_pct)))
        })
        .collect();
    let mut head: Vec<&str> = std::iter::once("").chain(names.iter().map(String::as_str)).collect();
    if pairs.len() == 1 {
        head.push("change");
    }
    table(o, "Failures by status or error", &head, &rows);
}

/// The x axis both runs share: seconds since each one's first second, to the longer run's end.
fn x_axis(sets: &[Set]) -> super::svg::Axis {
    seconds_axis(sets.iter().map(|s| s.t.span()).max().unwrap_or(0), "seconds since each run's first second")
}

fn lines(sets: &[Set], f: impl Fn(&Set) -> Line) -> Vec<Line> {
    sets.iter().map(f).collect()
}

fn rate_chart(c: Chart, sets: &[Set]) -> Chart {
    let timelines: Vec<&Timeline> = sets.iter().map(|s| &s.t).collect();
    Chart { empty: no_rate_reason(&timelines), ..c }
}

fn throughput(sets: &[Set]) -> Chart {
    let l = lines(sets, |s| {
        line(&s.name, s.colors[0], s.dashed, s.t.done(|p| (p.ok + p.failed) as f64), per_s(" completed"))
    });
    rate_chart(time_chart("cmp-throughput", "Throughput per second", x_axis(sets), "requests / s", l, vec![]), sets)
}

fn spans(sets: &[Set]) -> Chart {
    let l = lines(sets, |s| line(&s.name, s.colors[0], s.dashed, s.t.done(|p| p.spans as f64), per_s(" spans")));
    rate_chart(time_chart("cmp-spans", "Spans acknowledged per second", x_axis(sets), "spans / s", l, vec![]), sets)
}

fn data(sets: &[Set]) -> Chart {
    let l = lines(sets, |s| line(&s.name, s.colors[0], s.dashed, s.t.done(|p| p.bytes as f64), bytes_per_s));
    rate_chart(bytes_chart("cmp-bytes", x_axis(sets), l, vec![]), sets)
}

fn latency(sets: &[Set]) -> Chart {
    let mut l = Vec::new();
    for s in sets {
        let (p50, p99) = (format!("{} p50", s.name), format!("{} p99", s.name));
        l.push(line(&p50, s.colors[1], s.dashed, s.t.completions(|p| p.p50_us as f64), latency_tip("p50")));
        l.push(line(&p99, s.colors[2], s.dashed, s.t.completions(|p| p.p99_us as f64), latency_tip("p99")));
    }
    latency_chart("cmp-latency", x_axis(sets), l, vec![])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::compare::Thresholds;
    use crate::report::model::SeriesPoint;

    fn run(t0: u64, ok: u64, p99: u64) -> Report {
        let mut r = Report::default();
        r.run.started_at =
            humantime::format_rfc3339_millis(std::time::UNIX_EPOCH + std::time::Duration::from_millis(t0 * 1000 + 300))
                .to_string();
        r.run.duration_s = 5.5;
        r.series = (0..6)
            .map(|i| SeriesPoint {
                t: t0 + i,
                scheduled: ok,
                ok,
                spans: ok * 5,
                bytes: ok * 1000,
                p50_us: 1000,
                p99_us: p99,
                ..Default::default()
            })
            .collect();
        r.requests.scheduled = ok * 6;
        r.requests.ok = ok * 6;
        r.success_rate = 100.0;
        r.latency_us.corrected.p99 = p99;
        r.latency_us.corrected.count = ok * 6;
        r
    }

    #[test]
    fn both_runs_are_overlaid_from_their_own_start_and_a_crossed_check_is_a_fail_row() {
        let (base, new) = (run(1_700_000_000, 10, 2000), run(1_800_000_000, 12, 3000));
        let t = Thresholds { max_p99_regression: Some(10.0), min_success: Some(99.0), ..Default::default() };
        let runs = [base, new];
        let c = crate::report::compare::compare_all(
            &[("base.json".into(), runs[0].clone()), ("new.json".into(), runs[1].clone())],
            &t,
        );
        let html = ComparePage { runs: &runs }.render(&c);
        // Seconds 1 to 4 are whole in each run (0 starts at .3, 5 is the schedule's last).
        for id in ["cmp-throughput", "cmp-spans", "cmp-bytes"] {
            assert!(html.contains(&format!(r#"id="{id}" data-points="8""#)), "{id}");
        }
        assert!(html.contains(r#"id="cmp-latency" data-points="24""#), "p50 and p99 of 6 seconds, two runs");
        assert!(html.contains("<tr class=\"fail\"><td><code>--max-p99-regression</code></td><td>2.00 ms</td><td>3.00 ms</td><td>+50.00 %</td><td>≤ +10 %</td><td>FAIL</td>"), "{html}");
        assert!(html.contains("<tr><td><code>--min-success</code></td><td>100.00 %</td><td>100.00 %</td><td>+0.00 pt</td><td>≥ 99 %</td><td>pass</td>"));
        assert!(html.contains("FAIL: 1 of 2 thresholds crossed: --max-p99-regression."));
        assert!(html.contains("default-src 'none'") && !html.contains("src=") && !html.contains("href="));
    }
}
