//! The `report compare --html` page: two runs on one self-contained page (the same inline
//! styles, self-check script and fetch-forbidding Content-Security-Policy as the report page).
//!
//! It opens with the verdict and the thresholds as a table (BASE, NEW, change, limit, pass or
//! FAIL), then the headline numbers side by side, then the time charts with both runs overlaid:
//! BASE dashed, NEW solid, each aligned on seconds since its own first second, so two runs
//! started at different times line up. As on the report page, partial seconds are left out of
//! the rate lines and a second without completions breaks them.

use std::fmt::Write;

use super::charts::{
    bytes_chart, bytes_per_s, latency_chart, latency_tip, line, no_rate_reason, per_s, seconds_axis, time_chart,
};
use super::html::{page_end, page_start, section, table};
use super::svg::{Chart, Line, esc};
use super::timeline::Timeline;
use crate::report::Render;
use crate::report::Report;
use crate::report::compare::{Comparison, Count, Side, Value};
use crate::units::pct;
use crate::units::thousands;
use crate::units::us;

/// The compare page of a [`Comparison`], with the two reports it was made from (for their
/// per-second series).
pub struct ComparePage<'a> {
    /// The reference run.
    pub base: &'a Report,
    /// The run judged.
    pub new: &'a Report,
}

/// One run's line set: its name and colours (rate, p50, p99), and whether it is dashed.
struct Set<'a> {
    t: Timeline<'a>,
    name: &'static str,
    dashed: bool,
    colors: [&'static str; 3],
}

impl Render<Comparison> for ComparePage<'_> {
    fn render(&self, c: &Comparison) -> String {
        let mut o = page_start(&format!("traceblast compare — {} vs {}", c.base.file, c.new.file));
        o.push_str("<h1>traceblast report compare</h1>\n");
        verdict(&mut o, c);
        checks(&mut o, c);
        sides(&mut o, c);
        headline(&mut o, c);
        let sets = [
            Set { t: Timeline::of(self.base), name: "BASE", dashed: true, colors: ["#1f6fd1", "#1f6fd1", "#0b3d91"] },
            Set { t: Timeline::of(self.new), name: "NEW", dashed: false, colors: ["#e8710a", "#e8710a", "#b33c00"] },
        ];
        let note = "BASE dashed, NEW solid, each from its own first second. Partial seconds (start, end of the \
                    schedule) are left out of the rate lines; a line breaks where no request completed.";
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
        errors(&mut o, c);
        page_end(&mut o);
        o
    }
}

fn verdict(o: &mut String, c: &Comparison) {
    let crossed = c.crossed();
    let text = if c.checks.is_empty() {
        "No threshold given: nothing to pass or fail.".to_string()
    } else if crossed.is_empty() {
        format!("PASS: no threshold crossed ({} checked).", c.checks.len())
    } else {
        format!("FAIL: {} of {} thresholds crossed: {}.", crossed.len(), c.checks.len(), crossed.join(", "))
    };
    let class = if crossed.is_empty() { "verdict pass" } else { "verdict banner" };
    let _ = writeln!(o, "<p class=\"{class}\" id=\"verdict\">{}</p>", esc(&text));
}

fn checks(o: &mut String, c: &Comparison) {
    o.push_str(
        "<section><h2>Thresholds</h2><table id=\"checks\"><tr><th>check</th><th>BASE</th><th>NEW</th>\
         <th>change</th><th>threshold</th><th>result</th><th>detail</th></tr>",
    );
    for k in &c.checks {
        let [base, new, delta] = &k.shown;
        let _ = write!(
            o,
            "<tr{}><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            if k.crossed { " class=\"fail\"" } else { "" },
            esc(k.flag),
            esc(base),
            esc(new),
            esc(delta),
            esc(&k.bound()),
            if k.crossed { "FAIL" } else { "pass" },
            esc(&k.detail)
        );
    }
    if c.checks.is_empty() {
        o.push_str("<tr><td colspan=\"7\">no threshold given (--max-p99-regression, --min-success, …)</td></tr>");
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

fn sides(o: &mut String, c: &Comparison) {
    table(
        o,
        "Runs",
        &["", "report", "platform → endpoint", "started", "duration", "target rate", "scheduled"],
        &[side_row("BASE", &c.base), side_row("NEW", &c.new)],
    );
}

fn headline(o: &mut String, c: &Comparison) {
    let real = |name: &str, v: &Value, unit: &str, relative: bool| {
        let delta = if relative { pct(v.change_pct) } else { format!("{:+.2} pt", v.delta) };
        vec![name.into(), format!("{:.2}{unit}", v.base), format!("{:.2}{unit}", v.new), delta]
    };
    let lat = |name: &str, v: &Count| vec![name.into(), us(v.base), us(v.new), pct(v.change_pct)];
    let mut rows = vec![
        real("success rate", &c.success_rate, " %", false),
        real("error rate (of sent)", &c.error_rate, " %", false),
        real("achieved rate", &c.achieved_rate, "/s", true),
        real("ok per second", &c.ok_per_s, "/s", true),
        real("spans ok per second", &c.spans_ok_per_s, "/s", true),
        lat("p50 (corrected)", &c.p50_us),
        lat("p99 (corrected)", &c.p99_us),
        lat("p99.9 (corrected)", &c.p999_us),
    ];
    if let Some(v) = &c.verify {
        let n = |name: &str, x: &Count| vec![name.into(), thousands(x.base), thousands(x.new), pct(x.change_pct)];
        rows.push(n(&format!("acknowledged traces (verify: {} / {})", v.from[0], v.from[1]), &v.acknowledged));
        rows.push(n("stored whole", &v.stored));
        rows.push(real("loss", &v.loss_percent, " %", false));
        let ms = |name: &str, x: &Count| {
            vec![name.into(), us(x.base.saturating_mul(1000)), us(x.new.saturating_mul(1000)), pct(x.change_pct)]
        };
        rows.extend(v.lag_p50_ms.as_ref().map(|x| ms("visibility lag p50", x)));
        rows.extend(v.lag_p99_ms.as_ref().map(|x| ms("visibility lag p99", x)));
    }
    table(o, "Side by side", &["", "BASE", "NEW", "change"], &rows);
}

fn errors(o: &mut String, c: &Comparison) {
    let rows: Vec<Vec<String>> = c
        .errors
        .iter()
        .map(|(k, v)| {
            let label = if k == "0" { "no status".to_string() } else { k.clone() };
            vec![label, thousands(v.base), thousands(v.new), pct(v.change_pct)]
        })
        .collect();
    table(o, "Failures by status or error", &["", "BASE", "NEW", "change"], &rows);
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
        line(s.name, s.colors[0], s.dashed, s.t.done(|p| (p.ok + p.failed) as f64), per_s(" completed"))
    });
    rate_chart(time_chart("cmp-throughput", "Throughput per second", x_axis(sets), "requests / s", l, vec![]), sets)
}

fn spans(sets: &[Set]) -> Chart {
    let l = lines(sets, |s| line(s.name, s.colors[0], s.dashed, s.t.done(|p| p.spans as f64), per_s(" spans")));
    rate_chart(time_chart("cmp-spans", "Spans acknowledged per second", x_axis(sets), "spans / s", l, vec![]), sets)
}

fn data(sets: &[Set]) -> Chart {
    let l = lines(sets, |s| line(s.name, s.colors[0], s.dashed, s.t.done(|p| p.bytes as f64), bytes_per_s));
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
    use crate::report::compare::{Thresholds, compare};
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
        let c = compare("base.json", &base, "new.json", &new, &t);
        let html = ComparePage { base: &base, new: &new }.render(&c);
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
