//! What a newcomer meets first: argument errors with clap's whole message, the command list.

use crate::util::*;

#[test]
fn a_missing_argument_gets_clap_s_whole_message() {
    let o = run(&["gen"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        stderr(&o),
        "error: the following required arguments were not provided:\n  --output <FILE>\n\n\
         Usage: traceblast gen --output <FILE>\n\nFor more information, try '--help'.\n"
    );
}

#[test]
fn a_typo_gets_the_similar_argument_tip() {
    let o = run(&["replay", "c.zst", "--rat", "5"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.starts_with("error: unexpected argument '--rat' found\n"), "{err}");
    assert!(err.contains("tip: a similar argument exists: '--rate'"), "{err}");
    assert!(err.contains("Usage: traceblast replay"), "{err}");
}

#[test]
fn a_bare_traceblast_lists_the_commands() {
    let o = run(&[]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    for cmd in ["gen", "replay", "sink", "inspect", "report", "analyze", "demo", "completions"] {
        assert!(err.contains(&format!("\n  {cmd} ")), "{cmd} missing from:\n{err}");
    }
    // --help and --version still print to stdout and exit 0.
    assert!(run(&["--help"]).status.success());
    assert!(stdout(&run(&["--version"])).starts_with("traceblast "));
}

fn small_corpus(dir: &std::path::Path) -> std::path::PathBuf {
    let c = dir.join("c.zst");
    let o = run(&["gen", "-q", "--count", "50", "--mix", "simple=1", "-o", c.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    c
}

#[test]
fn a_base_url_reaches_v1_traces_and_the_dry_run_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let c = small_corpus(dir.path());
    let s = traceblast::sink::spawn(traceblast::sink::SinkPlan::default()).unwrap();
    let base = format!("http://{}", s.addr);
    let o = run(&["replay", c.to_str().unwrap(), "--endpoint", &base, "--dry-run"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains(&format!("{base}/v1/traces")) && out.contains("/v1/traces appended"), "{out}");
    let o = run(&["replay", c.to_str().unwrap(), "--endpoint", &base, "--rate", "200", "-q"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(s.shutdown().requests, 50, "every request reached /v1/traces");
}

#[test]
fn the_plan_says_how_long_how_many_bytes_and_at_what_bandwidth() {
    let dir = tempfile::tempdir().unwrap();
    let c = small_corpus(dir.path());
    let raw = traceblast::corpus::Corpus::open(&c).unwrap().index.meta.totals.raw_bytes;
    let o = run(&["replay", c.to_str().unwrap(), "--rate", "10", "--dry-run"]);
    let out = stdout(&o);
    // 50 requests at 10/s: the last is due at 4.9 s, the run takes 5 s.
    let bytes = traceblast::units::human_bytes(raw);
    let want = format!("50 requests at 10 req/s, about 5s, {bytes} of bodies at ");
    assert!(out.contains(&want), "{want:?} not in:\n{out}");
    // A ramp counts: 50 requests over a 10 s ramp to 10/s take sqrt(2·10·49/10) ≈ 9.9 s.
    let o = run(&["replay", c.to_str().unwrap(), "--rate", "10", "--ramp-up", "10s", "--dry-run"]);
    assert!(stdout(&o).contains("50 requests at 10 req/s, about 10s"), "{}", stdout(&o));
    // A --duration the corpus slice cannot fill is warned about.
    let o = run(&["replay", c.to_str().unwrap(), "--rate", "10", "--duration", "1m", "--loops", "1", "--dry-run"]);
    assert!(stdout(&o).contains("--duration 1m will not be reached"), "{}", stdout(&o));
}

#[test]
fn without_a_terminal_replay_prints_status_lines() {
    let dir = tempfile::tempdir().unwrap();
    let c = small_corpus(dir.path());
    let s = traceblast::sink::spawn(traceblast::sink::SinkPlan::default()).unwrap();
    let url = format!("http://{}/v1/traces", s.addr);
    let o = run(&["replay", c.to_str().unwrap(), "--endpoint", &url, "--rate", "20", "--progress-interval", "500ms"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.starts_with("replay: 50 requests at 20 req/s, about 3s"), "the plan comes first:\n{err}");
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("replay: 0:")).collect();
    assert!(lines.len() >= 3, "a status line every 500 ms over 2.5 s:\n{err}");
    assert!(lines[0].contains("/50 requests (") && lines[0].contains("ETA"), "{}", lines[0]);
    // The counter is the requests scheduled so far: it never goes back (not even in a line
    // printed as the run ends) and never passes the total.
    let counts: Vec<u64> = lines
        .iter()
        .map(|l| l.split(" · ").nth(1).and_then(|c| c.split('/').next()).unwrap().parse().unwrap())
        .collect();
    assert!(counts.windows(2).all(|w| w[0] <= w[1]) && counts.iter().all(|&n| n <= 50), "{counts:?}\n{err}");
    // 0 turns them off; -q prints nothing at all.
    let o = run(&["replay", c.to_str().unwrap(), "--endpoint", &url, "--rate", "200", "--progress-interval", "0"]);
    assert!(!stderr(&o).contains("replay: 0:"), "{}", stderr(&o));
    let o = run(&["replay", c.to_str().unwrap(), "--endpoint", &url, "--rate", "200", "-q"]);
    assert_eq!(stderr(&o), "");
}

#[test]
fn without_a_terminal_gen_prints_status_lines() {
    let dir = tempfile::tempdir().unwrap();
    let c = dir.path().join("c.zst");
    let started = std::time::Instant::now();
    let o = run(&["gen", "--count", "300", "--progress-interval", "100ms", "-o", c.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("gen: ")).collect();
    // One line per 100 ms of work after the first (gen ran for at least as long as it took).
    let expect = (started.elapsed().as_millis() / 100).saturating_sub(5).min(3) as usize;
    assert!(lines.len() >= expect, "{expect} lines expected:\n{err}");
    for l in &lines {
        assert!(l.contains("/300 traces (") && l.contains("traces/s") && l.contains("MB/s raw"), "{l}");
    }
}

#[test]
fn the_plan_lists_the_variables_that_shaped_it_by_name_only() {
    let dir = tempfile::tempdir().unwrap();
    let c = small_corpus(dir.path());
    std::fs::write(dir.path().join(".env"), "TRACEBLAST_RATE=50\nOTEL_EXPORTER_OTLP_HEADERS=x-key=SECRETVALUE\n")
        .unwrap();
    let o = std::process::Command::new(bin())
        .args(["replay", c.to_str().unwrap(), "--dry-run"])
        .env("TRACEBLAST_CONNECTIONS", "4")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let line = out.lines().find(|l| l.trim_start().starts_with("settings")).unwrap_or_else(|| panic!("{out}"));
    assert!(line.contains("from .env: OTEL_EXPORTER_OTLP_HEADERS, TRACEBLAST_RATE"), "{line}");
    assert!(line.contains("from the environment: TRACEBLAST_CONNECTIONS"), "{line}");
    assert!(!out.contains("SECRETVALUE") && !out.contains("=50"), "{out}");
}
