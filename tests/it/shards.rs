//! Scale-out: four processes with `--shard k/4` against one sink send every record exactly
//! once, and `report merge` of their reports sums to the whole.

use std::process::Command;

use traceblast::sink::{self, SinkPlan};

use crate::replay::corpus;
use crate::util::*;

#[test]
fn four_shards_send_every_record_once_and_merge_to_the_sum() {
    let dir = tempfile::tempdir().unwrap();
    let c = corpus(dir.path(), "90", &[]);
    let meta = traceblast::corpus::Corpus::open(&c).unwrap().index.meta;
    let s = sink::spawn(SinkPlan::default()).unwrap();
    let url = format!("http://{}/v1/traces", s.addr);
    let children: Vec<_> = (0..4)
        .map(|k| {
            let rep = dir.path().join(format!("r{k}.json"));
            Command::new(bin())
                .args([
                    "replay",
                    c.to_str().unwrap(),
                    "--endpoint",
                    &url,
                    "--rate",
                    "400",
                    "--shard",
                    &format!("{k}/4"),
                    "-q",
                    "--report",
                    rep.to_str().unwrap(),
                ])
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for ch in children {
        let o = ch.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let sum = s.shutdown();
    assert_eq!(sum.requests, meta.totals.records, "every record once");
    assert_eq!(sum.unique_spans, meta.totals.spans);
    assert_eq!(sum.spans, meta.totals.spans, "no record twice");
    assert_eq!(sum.duplicate_span_ids, 0);
    assert_eq!(sum.unique_traces, meta.totals.traces);

    let reports: Vec<serde_json::Value> = (0..4)
        .map(|k| {
            serde_json::from_str(&std::fs::read_to_string(dir.path().join(format!("r{k}.json"))).unwrap()).unwrap()
        })
        .collect();
    for r in &reports {
        assert_eq!(r["rate"]["target"], 100.0, "each shard sends rate/n");
    }
    let merged = dir.path().join("all.json");
    let mut args = vec!["report".to_string(), "merge".into()];
    args.extend((0..4).map(|k| dir.path().join(format!("r{k}.json")).display().to_string()));
    args.extend(["-o".into(), merged.display().to_string()]);
    let o = Command::new(bin()).args(&args).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let m: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&merged).unwrap()).unwrap();
    for key in ["scheduled", "ok", "failed", "missed"] {
        let total: u64 = reports.iter().map(|r| r["requests"][key].as_u64().unwrap()).sum();
        assert_eq!(m["requests"][key], total, "{key}");
    }
    assert_eq!(m["requests"]["ok"], meta.totals.records);
    let spans: u64 = reports.iter().map(|r| r["spans"]["ok"].as_u64().unwrap()).sum();
    assert_eq!(m["spans"]["ok"], spans);
    assert_eq!(spans, meta.totals.spans);
    assert_eq!(m["rate"]["target"], 400.0, "targets add up to the total");
}
