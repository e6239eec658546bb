//! What a replay sent, request by request: the sidecar `RUN.sent.zst` written next to
//! `--report RUN.json`, which `traceblast verify` reads back against the platform.
//!
//! The format is zstd-compressed JSON Lines. The first line is the header, every other line
//! one request that ended (acknowledged or not):
//!
//! ```text
//! {"format":"traceblast-sent","version":1,"times_shifted":true}
//! {"seq":0,"sent_unix_ms":1796199103090,"at_unix_ms":1796199103101,"ok":true,"outcome":"200","scenario":"simple_query","traces":[["c16c…f147",5,1796199103090]]}
//! ```
//!
//! `sent_unix_ms` is when its first attempt went out, `at_unix_ms` when it ended (its 2xx for
//! `ok`);
//! `traces` lists each trace ID as sent (after the run's ID remapping) with the spans of it the
//! request carried and the time its spans were shifted to end at (the latest span end of the
//! trace as sent: a stored copy that ends earlier came from an earlier run). The IDs are written out rather than derived again from corpus, pass and
//! ID key: `verify` then needs neither the corpus nor replay's remapping code, and the cost is
//! ~45 bytes per trace before compression (a 100k-trace run: a few MB).

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::output::{Output, OutputError, Pending};

/// The header's `format`.
pub const FORMAT: &str = "traceblast-sent";
/// The header's `version`.
pub const VERSION: u32 = 1;
/// Longest line read back (a request of 10,000 traces fits in ~450 KB).
const MAX_LINE: usize = 4 << 20;
/// Most requests read back (a bound on memory: ~100 bytes each).
pub const MAX_REQUESTS: usize = 50_000_000;

/// The first line.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Header {
    /// [`FORMAT`].
    pub format: String,
    /// [`VERSION`].
    pub version: u32,
    /// Timestamps were shifted to the send time (not `--no-rewrite`): a stored span that ends
    /// well before its request was sent was stored by an earlier run.
    #[serde(default)]
    pub times_shifted: bool,
}

/// One request that ended.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Sent {
    /// Position in the schedule.
    pub seq: u64,
    /// When its first attempt was sent, Unix ms.
    #[serde(default)]
    pub sent_unix_ms: u64,
    /// When it ended, Unix ms.
    pub at_unix_ms: u64,
    /// Acknowledged (2xx, or gRPC OK).
    pub ok: bool,
    /// The final status, gRPC code name or error class.
    pub outcome: String,
    /// Scenario name (`mixed` for a batch of several).
    pub scenario: String,
    /// `[trace ID (32 hex digits), spans of it in this request, Unix ms its timestamps were
    /// shifted to end at]`.
    pub traces: Vec<(String, u32, u64)>,
}

/// A request that ended, as a sender hands it over: raw values only, so the sender thread does
/// no formatting or allocation beyond moving the prepared trace list; the writer thread turns it
/// into a [`Sent`] line.
#[derive(Debug)]
pub struct Ended {
    /// Position in the schedule.
    pub seq: u64,
    /// When its first attempt was sent, Unix ms.
    pub sent_unix_ms: u64,
    /// When it ended, Unix ms.
    pub at_unix_ms: u64,
    /// The final outcome.
    pub outcome: crate::stats::Outcome,
    /// Scenario id.
    pub scenario: u8,
    /// `(trace ID, spans, end Unix ms)` as sent.
    pub traces: Vec<(u128, u32, u64)>,
}

impl Ended {
    fn line(self, scenarios: &[String]) -> Sent {
        Sent {
            seq: self.seq,
            sent_unix_ms: self.sent_unix_ms,
            at_unix_ms: self.at_unix_ms,
            ok: self.outcome.ok(),
            outcome: self.outcome.name(),
            scenario: crate::report::scenario_name(scenarios, self.scenario),
            traces: self.traces.into_iter().map(|(id, n, end)| (hex_id(id), n, end)).collect(),
        }
    }
}

/// The sidecar path of a report: `run.json` → `run.sent.zst`.
pub fn sidecar_of(report: &Path) -> PathBuf {
    let stem = report.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "run".into());
    report.with_file_name(format!("{stem}.sent.zst"))
}

/// Now, in Unix ms.
pub fn unix_ms_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// Trace ID as 32 lowercase hex digits.
pub fn hex_id(id: u128) -> String {
    format!("{id:032x}")
}

/// A trace ID from 32 hex digits.
pub fn parse_id(s: &str) -> Option<u128> {
    (s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())).then(|| u128::from_str_radix(s, 16).ok()).flatten()
}

/// Writes the sidecar on its own thread; requests arrive through a channel, so a sender never
/// waits on compression or the disk.
pub struct SentWriter {
    tx: Option<flume::Sender<Ended>>,
    thread: Option<std::thread::JoinHandle<Result<Pending, OutputError>>>,
}

impl SentWriter {
    /// Starts writing to `out` (checked already); the file appears only at [`SentWriter::finish`].
    /// `scenarios` names the scenario ids. Acknowledged requests are also offered to `tap`
    /// (never waited on: dropped when it is full), for `replay --verify`'s in-run sampling.
    pub fn start(
        out: &Output,
        times_shifted: bool,
        scenarios: Vec<String>,
        tap: Option<flume::Sender<Sent>>,
    ) -> Result<SentWriter, OutputError> {
        let pending = out.create()?;
        let out = out.clone();
        let (tx, rx) = flume::unbounded::<Ended>();
        let thread = std::thread::Builder::new()
            .name("replay-sent".into())
            .spawn(move || {
                let io = |e: std::io::Error| OutputError::Io {
                    path: out.path().display().to_string(),
                    cause: e.to_string(),
                };
                let mut z = zstd::stream::write::Encoder::new(pending, 3).map_err(io)?;
                let header = Header { format: FORMAT.into(), version: VERSION, times_shifted };
                write_line(&mut z, &header).map_err(io)?;
                for ended in rx {
                    let s = ended.line(&scenarios);
                    write_line(&mut z, &s).map_err(io)?;
                    if let Some(t) = tap.as_ref().filter(|_| s.ok) {
                        let _ = t.try_send(s);
                    }
                }
                z.finish().map_err(io)
            })
            .map_err(|e| OutputError::Io { path: "replay-sent thread".into(), cause: e.to_string() })?;
        Ok(SentWriter { tx: Some(tx), thread: Some(thread) })
    }

    /// A handle senders push ended requests into.
    pub fn sender(&self) -> flume::Sender<Ended> {
        self.tx.clone().expect("not finished")
    }

    /// Waits for every request pushed so far (every handle must be dropped) and returns the
    /// written file, to commit with the report.
    pub fn finish(mut self) -> Result<Pending, OutputError> {
        drop(self.tx.take());
        let t = self.thread.take().expect("finished once");
        t.join()
            .unwrap_or_else(|_| Err(OutputError::Io { path: "sent log".into(), cause: "its writer panicked".into() }))
    }
}

fn write_line(w: &mut impl Write, v: &impl Serialize) -> std::io::Result<()> {
    serde_json::to_writer(&mut *w, v)?;
    w.write_all(b"\n")
}

/// A sidecar read back.
#[derive(Debug, Clone, PartialEq)]
pub struct SentLog {
    /// Its header.
    pub header: Header,
    /// Every request that ended, in the order they ended.
    pub requests: Vec<Sent>,
}

/// Reads a sidecar; errors name the file and the line.
pub fn read(path: &Path) -> Result<SentLog, String> {
    let shown = path.display().to_string();
    let file = crate::input::open_input(path).map_err(|e| format!("{shown}: {e}"))?;
    parse(file, &shown)
}

/// Parses a zstd-compressed sent log from `r`; errors start with `shown` and name the line.
pub fn parse(r: impl std::io::Read, shown: &str) -> Result<SentLog, String> {
    let dec = zstd::stream::read::Decoder::new(r).map_err(|e| format!("{shown}: {e}"))?;
    parse_lines(std::io::BufReader::new(dec), shown)
}

/// Parses the JSON Lines of a sent log (decompressed).
pub fn parse_lines(mut r: impl BufRead, shown: &str) -> Result<SentLog, String> {
    let mut buf = Vec::new();
    let mut n = 0usize;
    let mut next = |buf: &mut Vec<u8>, n: &mut usize| -> Result<bool, String> {
        buf.clear();
        let got = std::io::Read::take(&mut r, MAX_LINE as u64 + 1)
            .read_until(b'\n', buf)
            .map_err(|e| format!("{shown}: line {}: {e} (not a traceblast sent log, or a truncated one?)", *n + 1))?;
        *n += 1;
        if buf.len() > MAX_LINE {
            return Err(format!("{shown}: line {n}: longer than {MAX_LINE} bytes"));
        }
        Ok(got > 0)
    };
    if !next(&mut buf, &mut n)? {
        return Err(format!("{shown}: empty: no header line"));
    }
    let header: Header =
        serde_json::from_slice(&buf).map_err(|e| format!("{shown}: line 1: not a sent-log header: {e}"))?;
    if header.format != FORMAT || header.version != VERSION {
        return Err(format!(
            "{shown}: line 1: format {:?} version {} (expected {FORMAT:?} version {VERSION})",
            header.format, header.version
        ));
    }
    let mut requests = Vec::new();
    while next(&mut buf, &mut n)? {
        if requests.len() >= MAX_REQUESTS {
            return Err(format!("{shown}: more than {MAX_REQUESTS} requests"));
        }
        let s: Sent = serde_json::from_slice(&buf).map_err(|e| format!("{shown}: line {n}: {e}"))?;
        if let Some((bad, _, _)) = s.traces.iter().find(|(id, _, _)| parse_id(id).is_none()) {
            return Err(format!("{shown}: line {n}: trace ID {bad:?} is not 32 hex digits"));
        }
        requests.push(s);
    }
    Ok(SentLog { header, requests })
}

/// Writes `log` as JSON Lines (decompressed), as the writer does.
pub fn write_lines(log: &SentLog, w: &mut impl Write) -> std::io::Result<()> {
    write_line(w, &log.header)?;
    log.requests.iter().try_for_each(|s| write_line(w, s))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = concat!(
        "{\"format\":\"traceblast-sent\",\"version\":1,\"times_shifted\":true}\n",
        "{\"seq\":0,\"sent_unix_ms\":5,\"at_unix_ms\":9,\"ok\":true,\"outcome\":\"200\",\"scenario\":\"s\",",
        "\"traces\":[[\"0123456789abcdef0123456789abcdef\",3,4]]}\n"
    );

    #[test]
    fn a_log_reads_back_as_written_and_compressed() {
        let log = parse_lines(LOG.as_bytes(), "t").unwrap();
        assert_eq!(log.requests[0].traces, vec![("0123456789abcdef0123456789abcdef".to_string(), 3, 4)]);
        let mut out = Vec::new();
        write_lines(&log, &mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), LOG);
        let z = zstd::encode_all(LOG.as_bytes(), 3).unwrap();
        assert_eq!(parse(&z[..], "t.zst").unwrap(), log);
    }

    #[test]
    fn bad_lines_are_named() {
        let bad_id = LOG.replace("0123456789abcdef0123456789abcdef", "xyz");
        assert!(parse_lines(bad_id.as_bytes(), "t").unwrap_err().contains("t: line 2: trace ID \"xyz\""));
        let bad_header = LOG.replace("\"version\":1", "\"version\":7");
        assert!(parse_lines(bad_header.as_bytes(), "t").unwrap_err().contains("line 1: format"));
        assert!(parse_lines(&b""[..], "t").unwrap_err().contains("empty"));
        let long = format!("{}{}\n", LOG, "x".repeat(MAX_LINE + 1));
        assert!(parse_lines(long.as_bytes(), "t").unwrap_err().contains("line 3: longer than"));
        assert!(parse(&b"not zstd"[..], "t.zst").is_err());
    }
}
