//! `traceblast inspect`: metadata, totals, per-scenario table; `--verify`; `--dump N`.

use std::process::ExitCode;

use anyhow::{Context, bail};
use rayon::prelude::*;
use serde_json::json;

use crate::cli::InspectArgs;
use crate::corpus::{Corpus, CorpusError};
use crate::generate::scenario_totals;
use crate::otlp::{self, SpanExt as _};
use crate::units::{human_bytes, thousands};

pub fn run(a: &InspectArgs) -> anyhow::Result<ExitCode> {
    let corpus = Corpus::open(&a.corpus)?;
    if let Some(n) = a.dump {
        let body = record_body(&corpus, n)?;
        let req = otlp::decode_request(&body).with_context(|| {
            format!("{}: record {n} does not decode as ExportTraceServiceRequest", a.corpus.display())
        })?;
        super::emit(serde_json::to_string_pretty(&otlp::json::request_to_json(&req))? + "\n")?;
        return Ok(ExitCode::SUCCESS);
    }
    let verified = if a.verify { Some(verify(&corpus)?) } else { None };
    if a.json {
        super::emit(serde_json::to_string_pretty(&inspect_json(&corpus, verified.as_ref()))? + "\n")?;
    } else {
        super::emit(inspect_text(&corpus))?;
        if let Some(v) = verified {
            super::emit(
                format!(
                    "verify: OK — {} frames, {} records, {} spans, {} traces decoded; checksums and index agree",
                    v.frames,
                    thousands(v.records),
                    thousands(v.spans),
                    thousands(v.traces)
                ) + "\n",
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The body of record `n`, decompressing only its frame.
pub fn record_body(corpus: &Corpus, n: u64) -> anyhow::Result<Vec<u8>> {
    if n >= corpus.records() {
        bail!("--dump {n}: the corpus has {} records (0..{})", corpus.records(), corpus.records());
    }
    let frame = corpus.index.frames.partition_point(|f| f.first_record + f.records <= n);
    let mut dec = crate::corpus::FrameReader::new()?;
    let mut data = Vec::new();
    corpus.decompress_frame(frame, &mut dec, &mut data)?;
    let mut out = None;
    corpus.for_each_record(frame, &data, |r, _, body| {
        if r == n {
            // The wire scan names the byte offset of a malformed field; prost would not.
            let offset = (body.as_ptr() as usize - data.as_ptr() as usize) as u64;
            crate::wire::scan(body, &mut crate::wire::CountSpans(0)).map_err(|e| {
                corpus.record_error(frame, r, offset + e.offset as u64, format!("not valid OTLP: {}", e.what))
            })?;
            out = Some(body.to_vec());
        }
        Ok(())
    })?;
    Ok(out.expect("record is in its frame"))
}

/// Counts from a full verification.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Verified {
    /// Frames decompressed.
    pub frames: u64,
    /// Records decoded.
    pub records: u64,
    /// Spans decoded.
    pub spans: u64,
    /// Root spans (traces) seen.
    pub traces: u64,
    /// Root spans per scenario label.
    #[serde(skip)]
    pub per_scenario: std::collections::BTreeMap<String, u64>,
}

/// Decompresses every frame (checking zstd checksums), decodes every record, and checks span
/// counts, root counts and scenario labels against the index.
pub fn verify(corpus: &Corpus) -> Result<Verified, CorpusError> {
    let names = &corpus.index.meta.scenarios;
    let per_frame: Vec<Verified> = (0..corpus.index.frames.len())
        .into_par_iter()
        .map_init(
            || (crate::corpus::FrameReader::new().expect("zstd context"), Vec::new()),
            |(dec, data), i| -> Result<Verified, CorpusError> {
                corpus.decompress_frame(i, dec, data)?;
                let mut v = Verified { frames: 1, ..Default::default() };
                corpus.for_each_record(i, data, |r, meta, body| {
                    let at = (body.as_ptr() as usize - data.as_ptr() as usize) as u64;
                    let bad = |message: String| corpus.record_error(i, r, at, message);
                    let req = otlp::decode_request(body).map_err(|e| bad(format!("does not decode: {e}")))?;
                    let spans: Vec<&otlp::Span> = req
                        .resource_spans
                        .iter()
                        .flat_map(|rs| rs.scope_spans.iter())
                        .flat_map(|ss| ss.spans.iter())
                        .collect();
                    if spans.len() as u32 != meta.spans {
                        return Err(bad(format!("holds {} spans, index says {}", spans.len(), meta.spans)));
                    }
                    let roots: Vec<&&otlp::Span> = spans.iter().filter(|s| s.parent_span_id.is_empty()).collect();
                    if roots.len() != usize::from(meta.traces) {
                        return Err(bad(format!(
                            "holds {} root spans, index says {} traces",
                            roots.len(),
                            meta.traces
                        )));
                    }
                    if let Some(name) = names.get(meta.scenario as usize) {
                        for root in &roots {
                            let got = root.attr_str("traceblast.scenario");
                            if got != Some(name.as_str()) {
                                return Err(bad(format!("root span says scenario {got:?}, index says {name}")));
                            }
                        }
                    }
                    if spans.iter().any(|s| s.trace_id.len() != 16 || s.span_id.len() != 8) {
                        return Err(bad("a span has a trace or span ID of the wrong length".into()));
                    }
                    v.records += 1;
                    v.spans += spans.len() as u64;
                    v.traces += roots.len() as u64;
                    for root in &roots {
                        let label = root.attr_str("traceblast.scenario").unwrap_or("?").to_string();
                        *v.per_scenario.entry(label).or_default() += 1;
                    }
                    Ok(())
                })?;
                Ok(v)
            },
        )
        .collect::<Result<_, _>>()?;
    let mut total = Verified::default();
    for v in per_frame {
        total.frames += v.frames;
        total.records += v.records;
        total.spans += v.spans;
        total.traces += v.traces;
        for (k, n) in v.per_scenario {
            *total.per_scenario.entry(k).or_default() += n;
        }
    }
    // Traces per scenario, as gen and inspect show them, are what the root spans say.
    for (name, t) in scenario_totals(&corpus.index) {
        let decoded = total.per_scenario.get(&name).copied().unwrap_or(0);
        if name != "mixed" && decoded != t.traces {
            return Err(CorpusError::Corrupt {
                path: corpus.path().display().to_string(),
                offset: corpus.data_end,
                message: format!("decoded {decoded} traces of {name}, the index counts {}", t.traces),
            });
        }
    }
    let t = corpus.index.meta.totals;
    if total.spans != t.spans || total.records != t.records || total.traces != t.traces {
        return Err(CorpusError::Corrupt {
            path: corpus.path().display().to_string(),
            offset: corpus.data_end,
            message: format!(
                "decoded {} records / {} spans / {} traces, metadata totals say {} / {} / {}",
                total.records, total.spans, total.traces, t.records, t.spans, t.traces
            ),
        });
    }
    Ok(total)
}

fn file_bytes(c: &Corpus) -> u64 {
    std::fs::metadata(c.path()).map(|m| m.len()).unwrap_or(0)
}

/// `inspect --json`.
pub fn inspect_json(c: &Corpus, verified: Option<&Verified>) -> serde_json::Value {
    let scenarios: serde_json::Map<String, serde_json::Value> = scenario_totals(&c.index)
        .into_iter()
        .map(|(name, t)| {
            let traces = t.traces.max(1) as f64;
            (
                name,
                json!({
                    "traces": t.traces, "records": t.records, "spans": t.spans, "raw_bytes": t.raw_bytes,
                    "avg_spans": (t.spans as f64 / traces * 100.0).round() / 100.0,
                    "avg_kb": (t.raw_bytes as f64 / 1e3 / traces * 100.0).round() / 100.0,
                }),
            )
        })
        .collect();
    let mut v = json!({
        "path": c.path().display().to_string(),
        "file_bytes": file_bytes(c),
        "meta": c.index.meta,
        "scenarios": scenarios,
    });
    if let Some(ver) = verified {
        v["verified"] = json!(ver);
    }
    v
}

/// The lines about a `gen --shape sdk` timeline.
fn timeline_text(tl: &crate::corpus::format::TimelineMeta) -> String {
    let mut out = format!(
        "  sdk export timeline · {} sessions ({}) · {} instance(s) · batch {} · queue {} · delay {} ms · export {} ms · {:.1} s a pass\n",
        thousands(tl.sessions),
        tl.arrival,
        tl.instances,
        tl.bsp_batch,
        tl.bsp_queue,
        tl.bsp_delay_ms,
        tl.bsp_export_ms,
        tl.length_ns as f64 / 1e9
    );
    out.push_str(&format!(
        "  dropped by full queues: {} spans, {} traces lost their root",
        thousands(tl.dropped_spans),
        thousands(tl.dropped_roots)
    ));
    for (service, n) in &tl.dropped_by_service {
        out.push_str(&format!(" · {}: {}", service.chars().take(64).collect::<String>(), thousands(*n)));
    }
    out.push('\n');
    out
}

/// `inspect` as text.
pub fn inspect_text(c: &Corpus) -> String {
    let m = &c.index.meta;
    let t = &m.totals;
    let fb = file_bytes(c);
    let mut out = format!(
        "{}  {} · format {} · generator {}\n",
        c.path().display(),
        human_bytes(fb),
        m.format_version,
        m.generator_version,
    );
    let shard =
        m.shard.as_ref().map(|s| format!(" · shard {s} of {} traces", thousands(m.corpus_count))).unwrap_or_default();
    out.push_str(&format!("  seed {} · traces {}{shard} · mix {}\n", m.seed, thousands(t.traces), m.mix));
    out.push_str(&format!(
        "  scenario set {} · epoch {} · {} · max request {} · zstd level {}\n",
        m.scenario_set_hash,
        humantime::format_rfc3339(std::time::UNIX_EPOCH + std::time::Duration::from_nanos(m.epoch_ns)),
        match m.timeline {
            Some(_) => "spans as the processors exported them".to_string(),
            None => format!("{} trace(s)/request", m.traces_per_request),
        },
        human_bytes(m.max_request_bytes),
        m.level
    ));
    if let (Some(v), Some(url)) = (&m.semconv, &m.schema_url) {
        out.push_str(&format!("  semconv {v} · schema_url {url}\n"));
    }
    if let Some(tl) = &m.timeline {
        out.push_str(&timeline_text(tl));
    }
    out.push_str(&format!(
        "  requests {} · spans {} · tokens {} · raw {} · frames {} · ratio {:.2}x\n\n",
        thousands(t.records),
        thousands(t.spans),
        thousands(t.tokens),
        human_bytes(t.raw_bytes),
        t.frames,
        t.raw_bytes as f64 / fb.max(1) as f64
    ));
    out.push_str(&format!(
        "  {:<24}{:>10}{:>10}{:>12}{:>10}\n",
        "scenario", "traces", "requests", "avg spans", "avg KB"
    ));
    for (name, st) in scenario_totals(&c.index) {
        let tr = st.traces.max(1) as f64;
        out.push_str(&format!(
            "  {name:<24}{:>10}{:>10}{:>12.1}{:>10.1}\n",
            thousands(st.traces),
            thousands(st.records),
            st.spans as f64 / tr,
            st.raw_bytes as f64 / 1e3 / tr
        ));
    }
    out
}
