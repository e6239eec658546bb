//! The HTML pages in a real browser: headless Chromium (Debian's `chromium`, installed by
//! `scripts/test.sh`) loads a page written by `traceblast report --html` (or `report compare
//! --html`) and the test checks that every chart was laid out with its data, that the partial
//! first and last seconds are shaded and left out of the rate lines, that a stalled second
//! breaks the lines, that the page logged nothing (no script error, no blocked fetch), and that
//! a screenshot shows the charts' colours.
//!
//! The test fails, rather than skips, when Chromium is missing: a skipped browser test would
//! pass CI while proving nothing.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::png;
use crate::report::{synthetic_report, write_report};
use crate::util::{run, stderr};
use traceblast::report::Report;

/// Longest a Chromium run may take before the test fails (a hung browser, not a slow one).
const DEADLINE: Duration = Duration::from_secs(120);

/// The charts of the page, by element id.
const CHARTS: [&str; 6] = ["throughput", "spans", "bytes", "latency", "status", "distribution"];

/// The value of attribute `attr` in the start tag `tag` (`<svg id="x" data-points="3"`).
fn attr(tag: &str, attr: &str) -> Option<String> {
    let key = format!(r#" {attr}=""#);
    let from = tag.find(&key)? + key.len();
    Some(tag[from..from + tag[from..].find('"')?].to_string())
}

/// The value of attribute `name` of the chart `<svg id="{id}" …>` in `html`.
pub fn chart_attr(html: &str, id: &str, name: &str) -> String {
    let at = html.find(&format!(r#" id="{id}""#)).unwrap_or_else(|| panic!("no chart {id}"));
    let start = html[..at].rfind("<svg").expect("chart is an <svg>");
    let tag = &html[start..start + html[start..].find('>').unwrap()];
    attr(tag, name).unwrap_or_else(|| panic!("chart {id} has no {name}: {tag}"))
}

/// The chart `<svg id="{id}" …>…</svg>` in `html`.
pub fn chart_svg<'a>(html: &'a str, id: &str) -> &'a str {
    let at = html.find(&format!(r#" id="{id}""#)).unwrap_or_else(|| panic!("no chart {id}"));
    let start = html[..at].rfind("<svg").expect("chart is an <svg>");
    &html[start..start + html[start..].find("</svg>").expect("chart ends")]
}

/// Chart points the page's own check found laid out, and the points the page says it draws.
fn drawn_and_points(dom: &str, id: &str) -> (usize, usize) {
    let n = |a: &str| chart_attr(dom, id, a).parse::<usize>().unwrap_or_else(|e| panic!("{id} {a}: {e}"));
    (n("data-drawn"), n("data-points"))
}

/// Runs Chromium on `page` with `--dump-dom` and returns the DOM after the load handler ran,
/// checking the page reported no error and logged nothing.
fn loaded_dom(dir: &Path, page: &Path) -> String {
    let o = chromium(&dir.join("profile-dom"), page, &["--dump-dom"]);
    let log = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "chromium --dump-dom failed: {log}");
    let dom = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(body_attr(&dom, "data-ready").as_deref(), Some("1"), "the page's load handler ran");
    assert_eq!(
        body_attr(&dom, "data-errors").as_deref(),
        Some("0"),
        "errors in the page: {:?}",
        body_attr(&dom, "data-error-text")
    );
    assert_eq!(console_lines(&log), Vec::<&str>::new(), "the page logged to the console");
    dom
}

/// The synthetic run with second `k` stalled: requests were due, none completed in it.
fn with_a_stalled_second(mut r: Report, k: usize) -> Report {
    let p = &mut r.series[k];
    (p.ok, p.failed, p.bytes, p.spans, p.p50_us, p.p99_us) = (0, 0, 0, 0, 0, 0);
    p.status.clear();
    p.hist.clear();
    assert!(p.scheduled > 0, "a stall is a second with requests due");
    r
}

/// The value of attribute `name` of `<body>`.
fn body_attr(html: &str, name: &str) -> Option<String> {
    let start = html.find("<body")?;
    attr(&html[start..start + html[start..].find('>')?], name)
}

/// Runs Chromium headless with `extra` flags on `page`; a fresh profile in `profile`.
fn chromium(profile: &Path, page: &Path, extra: &[&str]) -> Output {
    let mut cmd = Command::new("chromium");
    cmd.args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        .args(["--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(["--enable-logging=stderr", "--v=0"])
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().unwrap_or_else(|e| {
        panic!("cannot run chromium ({e}): install it (apt-get install -y chromium; scripts/test.sh does)")
    });
    let pid = child.id();
    let started = Instant::now();
    // The output is read on this thread; a watchdog ends a hung browser so the test fails.
    let (done, finished) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        if finished.recv_timeout(DEADLINE).is_err() {
            let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
        }
    });
    let out = child.wait_with_output().expect("chromium finishes");
    let _ = done.send(());
    assert!(started.elapsed() < DEADLINE, "chromium did not finish within {DEADLINE:?}");
    out
}

/// Console lines the page produced (Chromium logs them as `…:CONSOLE…] "message", source: …`).
fn console_lines(log: &str) -> Vec<&str> {
    log.lines().filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught")).collect()
}

#[test]
fn html_report_renders_in_headless_chromium() {
    let dir = tempfile::tempdir().unwrap();
    const STALLED: usize = 20;
    let r = with_a_stalled_second(synthetic_report(&|_| true, 1.0), STALLED);
    let n = r.series.len();
    assert!(r.series.windows(2).all(|w| w[1].t == w[0].t + 1), "the synthetic series has every second");
    let json = write_report(dir.path(), "run.json", &r);
    let page = dir.path().join("run.html");
    let o = run(&["report", json.to_str().unwrap(), "--html", page.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let source = std::fs::read_to_string(&page).unwrap();
    assert!(!source.contains("src=") && !source.contains("href="), "the page loads nothing");

    let dom = loaded_dom(dir.path(), &page);
    for id in CHARTS {
        let (drawn, points) = drawn_and_points(&dom, id);
        assert!(points >= 50, "chart {id}: only {points} data points");
        assert_eq!(drawn, points, "chart {id}: the browser laid out {drawn} of {points} points");
    }
    // The run started at .400 and its schedule ended mid-second: its first second, and the
    // second the last request was due in with those after it (draining), are shaded and are not
    // in the rate lines. The stalled second is a gap in the completion lines; the schedule's
    // lines (target, missed) go on through it.
    let last_due = r.series.iter().rposition(|p| p.scheduled > 0).unwrap();
    assert!(last_due > STALLED + 1 && last_due + 1 < n, "the synthetic run drains after its schedule");
    let full = last_due - 1;
    assert_eq!(chart_attr(&dom, "throughput", "data-points"), (full + (full - 1) + full).to_string());
    assert_eq!(chart_attr(&dom, "spans", "data-points"), (full - 1).to_string());
    assert_eq!(chart_attr(&dom, "bytes", "data-points"), (full - 1).to_string());
    assert_eq!(chart_attr(&dom, "latency", "data-points"), (2 * (n - 1)).to_string(), "p50 and p99, partial included");
    assert_eq!(chart_attr(&dom, "distribution", "data-points"), "202", "101 percentiles, two curves");
    for id in ["throughput", "spans", "bytes", "latency", "status"] {
        let svg = chart_svg(&dom, id);
        assert_eq!(svg.matches(r#"<rect class="band partial""#).count(), 2, "chart {id}: first and last second");
        assert_eq!(svg.matches(r#"<rect class="band stall""#).count(), 1, "chart {id}: the stalled second");
    }
    let throughput = chart_svg(&dom, "throughput");
    let segments = |name: &str| throughput.matches(&format!("<title>{name}</title></polyline>")).count();
    assert_eq!(segments("achieved (ok + failed)"), 2, "the achieved line breaks at the stall");
    assert_eq!(segments("target (scheduled)"), 1, "the target line does not");
    for id in ["spans", "bytes"] {
        assert_eq!(chart_svg(&dom, id).matches("<polyline").count(), 2, "chart {id} breaks at the stall");
    }

    let shot = dir.path().join("shot.png");
    let arg = format!("--screenshot={}", shot.display());
    let o = chromium(&dir.path().join("profile-shot"), &page, &[&arg, "--window-size=1280,3200"]);
    assert!(o.status.success(), "chromium --screenshot failed: {}", String::from_utf8_lossy(&o.stderr));
    let img = png::decode(&std::fs::read(&shot).expect("screenshot written"));
    assert_eq!((img.width, img.height), (1280, 3200));
    let background = img.pixels[0];
    let ink = img.pixels.iter().filter(|p| **p != background).count();
    assert!(ink * 20 > img.pixels.len(), "the screenshot is nearly blank: {ink} pixels differ from the background");
    let mut colours = img.pixels.clone();
    colours.sort_unstable();
    colours.dedup();
    assert!(colours.len() >= 50, "only {} distinct colours: nothing was drawn", colours.len());
    // Chart colours (status 200 bars, the achieved-rate line) are on screen, not only in the file.
    let count = |rgb: [u8; 3]| img.pixels.iter().filter(|p| **p == rgb).count();
    assert!(count([0x2c, 0xa0, 0x2c]) > 2000, "the status chart's 200 bars are not visible");
    assert!(count([0x1f, 0x6f, 0xd1]) > 200, "the blue chart lines are not visible");
}

#[test]
fn compare_page_renders_in_headless_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let (b, n) = (synthetic_report(&|_| true, 1.0), synthetic_report(&|_| true, 1.5));
    let base = write_report(dir.path(), "base.json", &b);
    let slow = write_report(dir.path(), "slow.json", &n);
    let page = dir.path().join("cmp.html");
    let (base, slow, out) = (base.to_str().unwrap(), slow.to_str().unwrap(), page.to_str().unwrap());
    let o = run(&["report", "compare", base, slow, "--max-p99-regression", "10%", "--min-success", "90"]
        .into_iter()
        .chain(["--html", out])
        .collect::<Vec<_>>());
    assert_eq!(o.status.code(), Some(1), "the p99 threshold is crossed: {}", stderr(&o));
    let source = std::fs::read_to_string(&page).unwrap();
    assert!(!source.contains("src=") && !source.contains("href="), "the page loads nothing");

    let dom = loaded_dom(dir.path(), &page);
    // Both runs have the same seconds: each rate line has the whole seconds of one run
    // (first second and schedule's end left out), latency every second, two lines per run.
    let (len, last_due) = (b.series.len(), b.series.iter().rposition(|p| p.scheduled > 0).unwrap());
    let expected = [
        ("cmp-throughput", 2 * (last_due - 1)),
        ("cmp-spans", 2 * (last_due - 1)),
        ("cmp-bytes", 2 * (last_due - 1)),
        ("cmp-latency", 4 * len),
    ];
    for (id, want) in expected {
        let (drawn, points) = drawn_and_points(&dom, id);
        assert_eq!(points, want, "chart {id}");
        assert_eq!(drawn, points, "chart {id}: the browser laid out {drawn} of {points} points");
        let svg = chart_svg(&dom, id);
        for name in ["BASE", "NEW"] {
            assert!(svg.contains(&format!("<title>{name}")), "chart {id} has no {name} line");
        }
    }
    let at = dom.find(r#"<table id="checks">"#).expect("the checks table");
    let checks = &dom[at..at + dom[at..].find("</table>").unwrap()];
    assert_eq!(checks.matches("<tr").count(), 3, "a header and two checks: {checks}");
    assert!(checks.contains(r#"<tr class="fail"><td><code>--max-p99-regression</code>"#), "{checks}");
    assert!(checks.contains("<td>≤ +10 %</td><td>FAIL</td>"), "{checks}");
    assert!(checks.contains("<td><code>--min-success</code></td>") && checks.contains("<td>≥ 90 %</td><td>pass</td>"));
    assert!(dom.contains("FAIL: 1 of 2 thresholds crossed: --max-p99-regression."));

    // Three runs on one page, labelled by target: every run's lines drawn.
    let mut third = synthetic_report(&|_| true, 1.5);
    third.run.platform = "phoenix".into();
    let mut first = b.clone();
    first.run.platform = "braintrust".into();
    let mut second = n.clone();
    second.run.platform = "langsmith".into();
    let files: Vec<String> = [("1.json", &first), ("2.json", &second), ("3.json", &third)]
        .iter()
        .map(|(f, r)| write_report(dir.path(), f, r).to_str().unwrap().to_string())
        .collect();
    let page3 = dir.path().join("cmp3.html");
    let mut args = vec!["report", "compare"];
    args.extend(files.iter().map(String::as_str));
    args.extend(["--max-p99-regression", "10%", "--html", page3.to_str().unwrap()]);
    assert_eq!(run(&args).status.code(), Some(1));
    let dom = loaded_dom(dir.path(), &page3);
    for (id, want) in [("cmp-throughput", 3 * (last_due - 1)), ("cmp-latency", 6 * len)] {
        let (drawn, points) = drawn_and_points(&dom, id);
        assert_eq!((drawn, points), (want, want), "chart {id}");
        let svg = chart_svg(&dom, id);
        for name in ["braintrust", "langsmith", "phoenix"] {
            assert!(svg.contains(&format!("<title>{name}")), "chart {id} has no {name} line");
        }
    }
    let verdict = &dom[dom.find(r#"id="verdict""#).unwrap()..];
    let want = r#"id="verdict">FAIL: 2 of 2 thresholds crossed: langsmith: --max-p99-regression, phoenix: --max-p99-regression."#;
    assert!(verdict.starts_with(want), "{:.200}", verdict);
}

#[test]
fn a_verified_report_charts_acknowledged_against_stored() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = synthetic_report(&|_| true, 1.0);
    let curve: Vec<traceblast::verify::Point> =
        (0..12u32).map(|i| traceblast::verify::Point { t_s: f64::from(i), spans_stored: 500 * u64::from(i) }).collect();
    let mut v =
        traceblast::verify::VerifyReport { from: "phoenix".into(), curve, loss_percent: 1.5, ..Default::default() };
    v.counts.missing = 7;
    r.verify = Some(v);
    let json = write_report(dir.path(), "run.json", &r);
    let page = dir.path().join("run.html");
    let o = run(&["report", json.to_str().unwrap(), "--html", page.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let dom = loaded_dom(dir.path(), &page);
    let (drawn, points) = drawn_and_points(&dom, "arrived");
    assert_eq!(points, r.series.len() + 12, "a cumulative point per second and one per verify round");
    assert_eq!(drawn, points, "the browser laid out every point");
    assert!(dom.contains("Did it arrive?") && dom.contains("7 missing") && dom.contains("loss 1.500 %"));
}
