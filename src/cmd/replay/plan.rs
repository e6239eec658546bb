//! What a replay will do, in words: the `--dry-run` plan, the line a real run starts with (how
//! long, how many bytes, at what bandwidth), warnings about a plan that cannot hold, and the
//! options the report records.

use std::collections::BTreeMap;
use std::ops::Range;

use crate::corpus::Corpus;
use crate::replay::schedule::Arrivals;
use crate::replay::{Compression, Rate, ReplayPlan};
use crate::units::{human_bytes, human_duration, human_rate, thousands};

/// How much of the slice (decompressed) `--dry-run` decodes: about a second of work.
pub const DRY_RUN_CHECK: u64 = 1 << 30;

/// The dry run's line on the records it decoded.
pub fn describe_check(c: crate::replay::prepare::Checked) -> String {
    if c.records == c.of {
        format!("  {:<16}all {} decoded: valid OTLP, spans as the index says\n", "records", thousands(c.of))
    } else {
        format!(
            "  {:<16}the first {} of {} decoded and valid ({} of data); the rest are checked as they are sent\n",
            "records",
            thousands(c.records),
            thousands(c.of),
            human_bytes(DRY_RUN_CHECK)
        )
    }
}

/// Requests the run will schedule, when that is known in advance.
pub fn expected_requests(plan: &ReplayPlan, records: u64) -> Option<u64> {
    let per_pass = records.div_ceil(u64::from(plan.batch));
    let by_loops = plan.stop.loops.map(|l| l.saturating_mul(per_pass));
    let by_duration = match (plan.stop.duration, plan.schedule()) {
        (Some(d), Some(s)) => Some(s.due_before(d)),
        _ => None,
    };
    [by_loops, plan.stop.requests, by_duration].into_iter().flatten().min()
}

/// What a run will take, as far as it is known before it starts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// Requests it schedules (unknown for an unbounded run).
    pub requests: Option<u64>,
    /// How long scheduling takes, ramp included (unknown at `--rate max` without `--duration`).
    pub seconds: Option<f64>,
    /// Request bodies before compression.
    pub raw_bytes: Option<u64>,
}

impl Estimate {
    /// Bytes per second the run sends (uncompressed).
    pub fn bandwidth(&self) -> Option<f64> {
        match (self.raw_bytes, self.seconds) {
            (Some(b), Some(s)) if s > 0.0 => Some(b as f64 / s),
            _ => None,
        }
    }
}

/// Estimates the run from the schedule and the index's record sizes (exact for the bytes).
pub fn estimate(plan: &ReplayPlan, corpus: &Corpus, records: &Range<u64>) -> Estimate {
    let n = records.end - records.start;
    let requests = expected_requests(plan, n);
    let seconds = match (plan.own_rate(), requests, plan.schedule()) {
        (Rate::PerSec(r), Some(k), Some(s)) if k > 0 => Some(s.due(k - 1).as_secs_f64() + 1.0 / r),
        (Rate::PerSec(_), Some(_), _) => Some(0.0),
        _ => plan.stop.duration.map(|d| d.as_secs_f64()),
    };
    let raw_bytes = requests.map(|k| {
        let lens = &corpus.index.records.len;
        let slice = |r: Range<u64>| r.map(|i| u64::from(lens[i as usize])).sum::<u64>();
        let per_pass = n.div_ceil(u64::from(plan.batch)).max(1);
        let (passes, rest) = (k / per_pass, k % per_pass);
        let rest_records = (rest * u64::from(plan.batch)).min(n);
        passes.saturating_mul(slice(records.clone())).saturating_add(slice(records.start..records.start + rest_records))
    });
    Estimate { requests, seconds, raw_bytes }
}

/// The plan in one line: how many requests, how long, how many bytes, at what bandwidth.
pub fn summary_line(plan: &ReplayPlan, e: &Estimate) -> String {
    let rate = match (plan.own_rate(), &plan.rate_in) {
        (Rate::PerSec(r), _) if !plan.stages.is_empty() => {
            format!("{} stage(s) peaking at {} req/s", plan.stages.len(), crate::units::trim_rate(r))
        }
        (Rate::PerSec(r), Some(given)) => format!("{} req/s ({})", crate::units::trim_rate(r), given.given),
        (Rate::PerSec(r), None) => format!("{} req/s", crate::units::trim_rate(r)),
        (Rate::Max, _) => "max rate".into(),
    };
    let mut s = match (e.requests, e.seconds) {
        (Some(k), Some(t)) => format!("{} requests at {rate}, about {}", thousands(k), human_duration(t)),
        (Some(k), None) => format!("{} requests at {rate}", thousands(k)),
        (None, Some(t)) => format!("{rate} for {}", human_duration(t)),
        (None, None) => format!("{rate} until interrupted"),
    };
    if let Some(b) = e.raw_bytes {
        s += &format!(", {} of bodies", human_bytes(b));
        if plan.compression != Compression::None {
            s += &format!(" before {}", plan.compression.name());
        }
    }
    if let Some(bw) = e.bandwidth() {
        s += &format!(" at {}", human_rate(bw));
    }
    s
}

/// Approximate preparation throughput per worker thread (bytes/s before compression), from
/// `cargo bench --bench prepare` on the development VM (the low end of its range).
fn prepare_rate(c: Compression) -> Option<f64> {
    match c {
        Compression::None => None,
        Compression::Gzip => Some(70e6),
        Compression::Zstd => Some(400e6),
    }
}

/// Warnings about a plan that cannot hold as written.
pub fn warnings(plan: &ReplayPlan, e: &Estimate, records: u64) -> Vec<String> {
    let mut w = Vec::new();
    if let (Some(d), Some(loops), Rate::PerSec(r), Some(s)) =
        (plan.stop.duration, plan.stop.loops, plan.own_rate(), plan.schedule())
    {
        let per_pass = records.div_ceil(u64::from(plan.batch));
        let ends = s.due(loops.saturating_mul(per_pass)).as_secs_f64();
        if ends < d.as_secs_f64() && !plan.stages.is_empty() {
            w.push(format!(
                "the stages ({}) will not be completed: {loops} pass(es) of {} requests end after about {}; add --loops inf to keep sending",
                humantime::format_duration(d),
                thousands(per_pass),
                human_duration(ends)
            ));
        } else if ends < d.as_secs_f64() {
            w.push(format!(
                "--duration {} will not be reached: {loops} pass(es) of {} requests at {} req/s end after about {}; add --loops inf to keep sending",
                humantime::format_duration(d),
                thousands(per_pass),
                crate::units::trim_rate(r),
                human_duration(ends)
            ));
        }
    }
    if let (Some(bw), Some(per_worker)) = (e.bandwidth(), prepare_rate(plan.compression)) {
        let workers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).clamp(1, 4) as f64;
        if bw > per_worker * workers {
            w.push(format!(
                "{} bodies must be compressed at {}, more than the ~{} {} preparation threads manage: requests will be late or missed",
                plan.compression.name(),
                human_rate(bw),
                human_rate(per_worker * workers),
                workers
            ));
        }
    }
    let local = plan.target.uri.host().is_some_and(|h| h == "localhost" || h.starts_with("127.") || h == "[::1]");
    if let Some(bw) = e.bandwidth().filter(|bw| !local && bw * 8.0 > 1e9) {
        w.push(format!("the plan sends {}: more than a 1 Gbit/s link carries", human_rate(bw)));
    }
    w
}

fn describe_stop(plan: &ReplayPlan) -> String {
    let mut parts = Vec::new();
    if let Some(r) = plan.stop.requests {
        parts.push(format!("{} requests", thousands(r)));
    }
    if let Some(d) = plan.stop.duration {
        parts.push(humantime::format_duration(d).to_string());
    }
    parts.push(match plan.stop.loops {
        Some(1) => "one pass".to_string(),
        Some(n) => format!("{n} passes"),
        None => "passes: unlimited".to_string(),
    });
    parts.join(", whichever first: ")
}

/// The `--dry-run` plan.
pub fn describe(plan: &ReplayPlan, corpus: &Corpus, records: &Range<u64>) -> String {
    let m = &corpus.index.meta;
    let mut o = String::from("traceblast replay — dry run (nothing is sent)\n");
    let mut line = |k: &str, v: String| o.push_str(&format!("  {k:<16}{v}\n"));
    line(
        "corpus",
        format!(
            "{} (seed {}, {} traces, {} records, generator {})",
            plan.corpus.display(),
            m.seed,
            thousands(m.count),
            thousands(corpus.records()),
            m.generator_version
        ),
    );
    if let Some((k, n)) = plan.shard {
        line(
            "shard",
            format!("{k}/{n}: records {}..{} ({})", records.start, records.end, thousands(records.end - records.start)),
        );
    }
    line(
        "endpoint",
        format!(
            "{} (platform {}, {} over {}){}",
            plan.endpoint_display,
            plan.platform,
            plan.target.protocol.name(),
            if plan.target.http2 { "HTTP/2" } else { "HTTP/1.1" },
            if plan.endpoint_appended { "; /v1/traces appended to the base URL, as OTel SDKs do" } else { "" }
        ),
    );
    for (k, v) in &plan.headers_display {
        line("header", format!("{k}: {v}"));
    }
    let rate = match (plan.rate, plan.own_rate()) {
        (Rate::Max, _) => "max (as fast as --max-in-flight allows)".to_string(),
        (Rate::PerSec(t), Rate::PerSec(own)) if plan.shard.is_some() => {
            format!(
                "{} req/s in total, {} req/s from this shard",
                crate::units::trim_rate(t),
                crate::units::trim_rate(own)
            )
        }
        (Rate::PerSec(t), _) => format!("{} req/s", crate::units::trim_rate(t)),
    };
    let rate = match &plan.rate_in {
        Some(r) => format!("{rate} = --rate {} at this corpus's mean size", r.given),
        None => rate,
    };
    if let crate::replay::Timing::Recorded { speed } = plan.timing {
        line("timing", timing_text(plan, speed));
    } else if plan.stages.is_empty() {
        line("rate", rate);
    } else {
        line("stages", stages_line(plan));
    }
    if plan.arrivals != Arrivals::Uniform {
        line("arrivals", arrivals_text(plan.arrivals));
    }
    if !plan.ramp_up.is_zero() {
        line("ramp-up", humantime::format_duration(plan.ramp_up).to_string());
    }
    line("stop after", describe_stop(plan));
    if let Some(s) = &plan.settings {
        line("settings", s.clone());
    }
    let e = estimate(plan, corpus, records);
    line("plan", summary_line(plan, &e));
    line(
        "in flight",
        format!(
            "at most {} over {} connection(s), {} sender thread(s); timeout {}",
            plan.max_in_flight,
            plan.target.connections,
            plan.threads,
            humantime::format_duration(plan.target.timeout)
        ),
    );
    line(
        "bodies",
        format!(
            "batch {} · compression {} · {}",
            plan.batch,
            plan.compression.name(),
            if plan.rewrite { "times shifted to send time, IDs remapped with a key per run" } else { "sent as stored" }
        ),
    );
    line("retries", plan.target.retries.to_string());
    if let Some(p) = &plan.report {
        line("report", p.path().display().to_string());
    }
    if let Some(p) = &plan.html {
        line("html report", p.path().display().to_string());
    }
    for w in warnings(plan, &e, records.end - records.start) {
        line("warning", w);
    }
    o
}

/// `recorded timeline at 2x (mean 31.3 req/s)`.
fn timing_text(plan: &ReplayPlan, speed: f64) -> String {
    let mean = match plan.own_rate() {
        Rate::PerSec(r) => format!(" (mean {} req/s)", crate::units::trim_rate(r)),
        Rate::Max => String::new(),
    };
    format!("recorded timeline at {}x{mean}", crate::units::trim_rate(speed))
}

/// `uniform` or `poisson (seed 7)`.
fn arrivals_text(a: Arrivals) -> String {
    match a {
        Arrivals::Uniform => "uniform".into(),
        Arrivals::Poisson { seed } => format!("poisson (seed {seed})"),
    }
}

/// The stages in requests/s (as converted), with what they came from when given in other units
/// and this shard's share.
fn stages_line(plan: &ReplayPlan) -> String {
    let mut l = format!("{} req/s", crate::config::profile::stages_text(&plan.stages));
    for (i, r) in &plan.stages_in {
        l += &format!("; stage {} = {} at this corpus's mean size", i + 1, r.given);
    }
    if let Some((_, n)) = plan.shard {
        l += &format!(" (in total; this shard sends 1/{n})");
    }
    l
}

/// Every option that shaped the traffic, for the report.
pub fn options(plan: &ReplayPlan) -> BTreeMap<String, String> {
    let mut o = BTreeMap::new();
    let mut put = |k: &str, v: String| {
        o.insert(k.to_string(), v);
    };
    // The stages replace --rate and --ramp-up (plan.rate then holds their peak, not a target).
    if plan.stages.is_empty() {
        put(
            "rate",
            match (plan.rate, &plan.rate_in) {
                (Rate::PerSec(r), None) => r.to_string(),
                (Rate::PerSec(r), Some(given)) => format!("{r} ({})", given.given),
                (Rate::Max, _) => "max".into(),
            },
        );
        put("ramp_up", humantime::format_duration(plan.ramp_up).to_string());
    } else {
        put("stages", crate::config::profile::stages_text(&plan.stages));
    }
    put("arrivals", arrivals_text(plan.arrivals));
    if let crate::replay::Timing::Recorded { speed } = plan.timing {
        put("timing", timing_text(plan, speed));
    }
    put("stop", describe_stop(plan));
    put("max_in_flight", plan.max_in_flight.to_string());
    put("connections", plan.target.connections.to_string());
    put("threads", plan.threads.to_string());
    put("timeout", humantime::format_duration(plan.target.timeout).to_string());
    put("retries", plan.target.retries.to_string());
    put("compression", plan.compression.name().to_string());
    put("batch", plan.batch.to_string());
    put("protocol", plan.target.protocol.name().to_string());
    put("http2", plan.target.http2.to_string());
    put("rewrite", plan.rewrite.to_string());
    if let Some((k, n)) = plan.shard {
        put("shard", format!("{k}/{n}"));
    }
    o
}
