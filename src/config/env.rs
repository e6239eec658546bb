//! Configuration from the environment, the way OTel SDKs read it: a real environment variable
//! wins over a `.env` file (the working directory's, or `--env-file`), which never overrides
//! one. The process environment is never modified.

mod dotenv;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

pub use crate::input::{open_input, read_input};
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
    /// Every variable a lookup found, and where (for the plan's "settings from" line).
    used: std::sync::Arc<std::sync::Mutex<std::collections::BTreeMap<String, Source>>>,
}

/// Where a variable's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    /// The process environment.
    Environment,
    /// The `.env` file.
    DotEnv,
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
        Ok(Env { file, path, vars: None, used: Default::default() })
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
        }
        .filter(|v| !v.trim().is_empty());
        let (value, source) = match real {
            Some(v) => (v, Source::Environment),
            None => (self.file.get(key).cloned().filter(|v| !v.trim().is_empty())?, Source::DotEnv),
        };
        if let Ok(mut used) = self.used.lock() {
            used.insert(key.to_string(), source);
        }
        Some(value)
    }

    /// The variables lookups found so far, by where they came from — names only (values can
    /// be secrets): `settings from .env: A, B; from the environment: C`.
    pub fn applied(&self) -> Option<String> {
        let used = self.used.lock().ok()?;
        let names = |src| used.iter().filter(|(_, s)| **s == src).map(|(k, _)| k.as_str()).collect::<Vec<_>>();
        let mut parts = Vec::new();
        let file = names(Source::DotEnv);
        if !file.is_empty() {
            let shown = self.path.as_ref().map_or(".env".to_string(), |p| p.display().to_string());
            parts.push(format!("from {shown}: {}", file.join(", ")));
        }
        let env = names(Source::Environment);
        if !env.is_empty() {
            parts.push(format!("from the environment: {}", env.join(", ")));
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }
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
