//! Configuration from the environment, the way OTel SDKs read it: a real environment variable
//! wins over a `.env` file (the working directory's, or `--env-file`), which never overrides
//! one. The process environment is never modified.

mod dotenv;

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::units::thousands;
pub use dotenv::parse as parse_dotenv;

/// Largest `.env` file read: a few dozen variables take a few KB.
pub const MAX_DOTENV_BYTES: u64 = 1 << 20;

/// Environment lookups with a `.env` fallback.
#[derive(Debug, Default, Clone)]
pub struct Env {
    file: HashMap<String, String>,
    /// The `.env` file that was read, if any.
    pub path: Option<PathBuf>,
    /// Overrides for tests: consulted before the process environment.
    vars: Option<HashMap<String, String>>,
}

impl Env {
    /// Reads `explicit` (must exist) or `./.env` (if present).
    pub fn load(explicit: Option<&Path>) -> Result<Env> {
        let path = match explicit {
            Some(p) => Some(p.to_path_buf()),
            None => Some(PathBuf::from(".env")).filter(|p| p.is_file()),
        };
        let mut file = HashMap::new();
        if let Some(p) = &path {
            let flag = if explicit.is_some() { "--env-file " } else { "" };
            let bytes = read_input(p, MAX_DOTENV_BYTES).with_context(|| format!("{flag}{}", p.display()))?;
            file.extend(parse_dotenv(&bytes, &p.display().to_string()).map_err(anyhow::Error::msg)?);
        }
        Ok(Env { file, path, vars: None })
    }

    /// An environment made of `vars` only (tests).
    pub fn from_pairs(vars: &[(&str, &str)]) -> Env {
        Env { vars: Some(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()), ..Env::default() }
    }

    /// The value of `key`: process environment first, then the `.env` file. Empty values count
    /// as unset, as in the OTel SDKs.
    pub fn get(&self, key: &str) -> Option<String> {
        let real = match &self.vars {
            Some(v) => v.get(key).cloned(),
            None => std::env::var(key).ok(),
        };
        real.or_else(|| self.file.get(key).cloned()).filter(|v| !v.trim().is_empty())
    }
}

/// Opens a file the user named as an input (a report, a Collector log or metrics, `.env`). Only
/// a regular file (or a symlink to one) is accepted, and that is decided before anything is
/// read: the file is opened without blocking and its type checked on the open descriptor, so a
/// FIFO is refused at once (a plain open waits for a writer) and a directory or device gets a
/// message saying what it is. Errors carry no path: callers name the file.
pub fn open_input(path: &Path) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
    let file = options.open(path)?;
    let kind = file.metadata()?.file_type();
    if kind.is_file() {
        return Ok(file);
    }
    let what = if kind.is_dir() {
        "a directory"
    } else if is_fifo(&kind) {
        "a named pipe (FIFO); save the input to a file first"
    } else {
        "not a regular file"
    };
    Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("it is {what}")))
}

#[cfg(unix)]
fn is_fifo(kind: &std::fs::FileType) -> bool {
    std::os::unix::fs::FileTypeExt::is_fifo(kind)
}

#[cfg(not(unix))]
fn is_fifo(_: &std::fs::FileType) -> bool {
    false
}

/// Reads a whole input file (see [`open_input`]) of at most `max` bytes.
pub fn read_input(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let file = open_input(path)?;
    let len = file.metadata()?.len();
    let too_large = |n: u64| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("it is {} bytes, more than the {}-byte limit", thousands(n), thousands(max)),
        )
    };
    if len > max {
        return Err(too_large(len));
    }
    let mut out = Vec::with_capacity(len as usize);
    file.take(max + 1).read_to_end(&mut out)?;
    if out.len() as u64 > max {
        return Err(too_large(out.len() as u64));
    }
    Ok(out)
}

/// Parses an OTel header list `k1=v1,k2=v2` (W3C baggage-like, percent-encoded values).
pub fn parse_otel_headers(origin: &str, s: &str) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for (n, item) in s.split(',').map(str::trim).filter(|i| !i.is_empty()).enumerate() {
        let (k, v) = item
            .split_once('=')
            .with_context(|| format!("{origin}: entry {} is not key=value", header_hint(item, n + 1)))?;
        let dec = |x: &str| percent_encoding::percent_decode_str(x.trim()).decode_utf8_lossy().into_owned();
        let k = dec(k);
        if k.is_empty() {
            bail!("{origin}: an entry has an empty key");
        }
        out.push((k, dec(v)));
    }
    Ok(out)
}

/// How an error names a malformed header entry without printing its value, which is often a
/// key: the part before the first `:`, `=` or space (the header name the user meant), else only
/// its position.
pub fn header_hint(item: &str, position: usize) -> String {
    match item.find([':', '=', ' ']) {
        Some(i) if i > 0 => format!("'{}…'", &item[..i]),
        _ => format!("#{position}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn otel_headers_are_percent_decoded() {
        let h = parse_otel_headers("X", "Authorization=Bearer%20abc, x-bt-parent=project_name%3Ademo").unwrap();
        assert_eq!(
            h,
            vec![("Authorization".into(), "Bearer abc".into()), ("x-bt-parent".into(), "project_name:demo".into())]
        );
        let e = parse_otel_headers("OTEL_EXPORTER_OTLP_HEADERS", "a=1,novalue").unwrap_err().to_string();
        assert_eq!(e, "OTEL_EXPORTER_OTLP_HEADERS: entry #2 is not key=value");
        let e = parse_otel_headers("X", "api-key:sk-abcdefgh").unwrap_err().to_string();
        assert_eq!(e, "X: entry 'api-key…' is not key=value");
    }

    #[test]
    fn dotenv_never_overrides_a_real_variable() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("x.env");
        std::fs::write(&f, "TB_TEST_ONLY_IN_FILE=file\nPATH=/from/file\n").unwrap();
        let env = Env::load(Some(&f)).unwrap();
        assert_eq!(env.get("TB_TEST_ONLY_IN_FILE").as_deref(), Some("file"));
        assert_ne!(env.get("PATH").as_deref(), Some("/from/file"));
        let e = format!("{:#}", Env::load(Some(&dir.path().join("missing"))).unwrap_err());
        assert!(e.starts_with("--env-file ") && e.ends_with("missing: No such file or directory (os error 2)"), "{e}");
    }

    #[test]
    fn a_fifo_or_a_directory_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let e = format!("{:#}", Env::load(Some(dir.path())).unwrap_err());
        assert!(e.ends_with(": it is a directory"), "{e}");
        #[cfg(unix)]
        {
            let fifo = dir.path().join("fifo.env");
            assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
            let e = format!("{:#}", Env::load(Some(&fifo)).unwrap_err());
            assert!(e.ends_with(": it is a named pipe (FIFO); save the input to a file first"), "{e}");
        }
        let big = dir.path().join("big.env");
        std::fs::write(&big, vec![b'#'; MAX_DOTENV_BYTES as usize + 1]).unwrap();
        let e = format!("{:#}", Env::load(Some(&big)).unwrap_err());
        assert!(e.ends_with("big.env: it is 1,048,577 bytes, more than the 1,048,576-byte limit"), "{e}");
    }
}
