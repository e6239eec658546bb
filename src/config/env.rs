//! Configuration from the environment, the way OTel SDKs read it: a real environment variable
//! wins over a `.env` file (the working directory's, or `--env-file`), which never overrides
//! one. The process environment is never modified.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

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
            Some(p) => {
                if !p.is_file() {
                    bail!("--env-file {}: no such file", p.display());
                }
                Some(p.to_path_buf())
            }
            None => Some(PathBuf::from(".env")).filter(|p| p.is_file()),
        };
        let mut file = HashMap::new();
        if let Some(p) = &path {
            for item in dotenvy::from_path_iter(p).with_context(|| format!("cannot read {}", p.display()))? {
                let (k, v) = item.map_err(|e| anyhow::anyhow!("{}: {}", p.display(), dotenv_error(&e)))?;
                file.insert(k, v);
            }
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

fn dotenv_error(e: &dotenvy::Error) -> String {
    match e {
        dotenvy::Error::LineParse(line, index) => format!("cannot parse line {line:?} at character {index}"),
        other => other.to_string(),
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
        assert!(Env::load(Some(&dir.path().join("missing"))).unwrap_err().to_string().contains("missing"));
    }
}
