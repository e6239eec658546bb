//! Reading a scenario file: a bounded read, then TOML into [`Scenario`], with errors that name
//! the line, the column and the key path (`steps[2].doc_chars`) in one line.

use std::io::Read;
use std::path::Path;

use toml::de::{DeTable, DeValue};

use super::limits::{MAX_DEPTH, MAX_FILE_BYTES};
use super::{Scenario, ScenarioError};

/// Parses one scenario file's text.
pub fn parse(text: &str, origin: &str) -> Result<Scenario, ScenarioError> {
    toml::from_str::<Scenario>(text)
        .map_err(|e| ScenarioError::Parse { origin: origin.to_string(), message: describe(&e, text) })
}

/// Reads and parses a scenario file of at most [`MAX_FILE_BYTES`].
pub fn load_file(path: &Path) -> Result<Scenario, ScenarioError> {
    let shown = path.display().to_string();
    let io = |e: std::io::Error| ScenarioError::Io { path: shown.clone(), cause: e.to_string() };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(ScenarioError::Parse {
            origin: shown,
            message: format!("larger than {MAX_FILE_BYTES} bytes: a scenario file is at most 1 MiB"),
        });
    }
    let text = String::from_utf8(bytes).map_err(|e| ScenarioError::Parse {
        origin: shown.clone(),
        message: format!("not UTF-8 text (invalid byte at offset {})", e.utf8_error().valid_up_to()),
    })?;
    parse(&text, &shown)
}

/// `line L, column C: key.path: message` — toml's own display spans several lines (a source
/// excerpt with a caret), so it is rebuilt from the error's parts.
fn describe(e: &toml::de::Error, text: &str) -> String {
    let mut message = one_line(e.message());
    if message == "recursion limit" {
        message = format!("{message}: keys or tables nest too deep to read (steps nest at most {MAX_DEPTH} levels)");
    }
    let Some(span) = e.span() else { return message };
    let at = span.start.min(text.len());
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    match key_path(text, at) {
        Some(path) => format!("line {line}, column {column}: {path}: {message}"),
        None => format!("line {line}, column {column}: {message}"),
    }
}

/// Joins the lines of a message (the parser's ones carry a "while parsing" context line).
fn one_line(msg: &str) -> String {
    msg.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("; ")
}

/// The dotted path (`steps[2].steps[0].doc_chars`) of the deepest key or value whose source
/// span holds byte `at`; `None` when the text does not parse as TOML.
fn key_path(text: &str, at: usize) -> Option<String> {
    let doc = DeTable::parse(text).ok()?;
    let mut path = Vec::new();
    search_table(doc.get_ref(), at, &mut path).then(|| {
        path.iter().fold(String::new(), |mut s, p| {
            if !s.is_empty() && !p.starts_with('[') {
                s.push('.');
            }
            s.push_str(p);
            s
        })
    })
}

fn search_table(t: &DeTable<'_>, at: usize, path: &mut Vec<String>) -> bool {
    for (k, v) in t.iter() {
        path.push(k.get_ref().to_string());
        if k.span().contains(&at) || search_value(v.get_ref(), at, path) || v.span().contains(&at) {
            return true;
        }
        path.pop();
    }
    false
}

/// Tables of an array of tables (`[[steps]]`) lie apart in the file, so every child is searched,
/// not only those whose parent's span holds `at`.
fn search_value(v: &DeValue<'_>, at: usize, path: &mut Vec<String>) -> bool {
    match v {
        DeValue::Table(t) => search_table(t, at, path),
        DeValue::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push(format!("[{i}]"));
                if search_value(item.get_ref(), at, path) || item.span().contains(&at) {
                    return true;
                }
                path.pop();
            }
            false
        }
        _ => false,
    }
}
