//! `traceblast demo`: the README's first command, end to end on one machine.

use crate::util::*;

#[test]
fn demo_generates_replays_into_its_sink_and_checks_delivery() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("demo.json");
    let o = run(&["demo", "--count", "60", "--rate", "200", "--report", report.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("demo: generated 60 traces"), "{out}");
    assert!(out.contains("60 scheduled · 60 ok · 0 failed · 0 missed"), "{out}");
    assert!(out.contains("every span acknowledged by the sink was received"), "{out}");
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let spans = r["spans"]["ok"].as_u64().unwrap();
    assert!(out.contains(&format!("({} of {})", thousands(spans), thousands(spans))), "{out}");
    // It read back from the sink what it stored: every trace, and the sent log is beside the report.
    let v = &r["verify"];
    assert_eq!(
        (v["from"].as_str(), v["stored"].as_u64(), v["missing"].as_u64()),
        (Some("sink"), Some(60), Some(0)),
        "{v}"
    );
    assert!(out.contains("verify (sink") && out.contains("60 stored · 0 missing"), "{out}");
    assert!(dir.path().join("demo.sent.zst").exists());
}

fn thousands(n: u64) -> String {
    traceblast::units::thousands(n)
}
