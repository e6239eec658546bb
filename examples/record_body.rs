//! Writes record N of a corpus as a raw protobuf `ExportTraceServiceRequest` (the body replay
//! would POST), for tools that need one request on disk: `scripts/bench-sink.sh` feeds it to
//! `wrk`, and `curl --data-binary @body.pb` can send it by hand.
//!
//! cargo run --release --example record_body -- CORPUS N OUT.pb

use anyhow::Context;
use traceblast::cmd::record_body;
use traceblast::corpus::Corpus;
use traceblast::wire::{CountSpans, scan};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [corpus, n, out] = args.as_slice() else {
        anyhow::bail!("usage: record_body CORPUS N OUT.pb");
    };
    let n: u64 = n.parse().with_context(|| format!("N '{n}' is not a record number"))?;
    let corpus = Corpus::open(corpus.as_ref())?;
    let body = record_body(&corpus, n)?;
    let mut spans = CountSpans::default();
    scan(&body, &mut spans)?;
    std::fs::write(out, &body).with_context(|| format!("{out}: cannot write"))?;
    // One line for scripts: bytes and spans of the body.
    println!("{} {}", body.len(), spans.0);
    Ok(())
}
