//! `.env` files: dotenvy does the parsing (quotes, escapes, `${VAR}` substitution); this module
//! makes its errors say *where* without ever saying *what*. dotenvy's own error carries the
//! offending line, which in a `.env` file is usually a secret, and no line number. So the file is
//! cut into the same logical lines dotenvy reads (a quote may span line ends) and fed to it one
//! logical line per `read`, which tells which line failed; the message then names the file, the
//! line number and the variable, and says what is wrong with the value without quoting it.

use std::cell::Cell;
use std::io::Read;
use std::rc::Rc;

/// Parses a `.env` file's bytes; `origin` (the file name) starts every error. Later definitions
/// of a name replace earlier ones; a missing final newline is allowed (dotenvy alone rejects a
/// last line that ends in a space without one).
pub fn parse(bytes: &[u8], origin: &str) -> Result<Vec<(String, String)>, String> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()].iter().filter(|b| **b == b'\n').count() + 1;
        format!("{origin} line {line}: not UTF-8 text")
    })?;
    let mut owned;
    let text = if text.is_empty() || text.ends_with('\n') {
        text
    } else {
        owned = text.to_owned();
        owned.push('\n');
        &owned
    };
    let lines = logical_lines(text);
    let current = Rc::new(Cell::new(0));
    let reader = OneLineAtATime { lines: &lines, next: 0, offset: 0, current: current.clone() };
    let mut out = Vec::new();
    for item in dotenvy::from_read_iter(reader) {
        match item {
            Ok(kv) => out.push(kv),
            Err(_) => {
                // `current` is the logical line dotenvy was reading when it failed.
                let (number, line) = lines.get(current.get()).copied().unwrap_or((1, ""));
                return Err(format!("{origin} line {number}{}", describe(line)));
            }
        }
    }
    Ok(out)
}

/// Logical lines as dotenvy's reader cuts them (its `QuotedLines`), with the 1-based number of
/// their first physical line: a line ends at a newline outside quotes; a line that starts with
/// `#` is a comment whatever it holds; a ` #` outside quotes starts a comment to the line's end.
fn logical_lines(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let (mut start, mut first, mut line_start) = (0, 1, 0);
    let mut state = State::Complete;
    for (number, end) in text.match_indices('\n').map(|(i, _)| i + 1).zip(1..).map(|(e, n)| (n, e)) {
        let physical = &text[line_start..end];
        line_start = end;
        state = if text[start..end].trim_start().starts_with('#') { State::Comment } else { state.after(physical) };
        if matches!(state, State::Complete | State::Comment) {
            out.push((first, &text[start..end]));
            (start, first, state) = (end, number + 1, State::Complete);
        }
    }
    if start < text.len() {
        out.push((first, &text[start..]));
    }
    out
}

/// dotenvy's line-reading states.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Complete,
    Escape,
    StrongOpen,
    StrongOpenEscape,
    WeakOpen,
    WeakOpenEscape,
    Comment,
    WhiteSpace,
}

impl State {
    /// The state after the characters of `s`, starting in `self` (dotenvy's `eval_end_state`).
    fn after(self, s: &str) -> State {
        let mut st = self;
        for c in s.chars() {
            st = match st {
                State::WhiteSpace => match c {
                    '#' => return State::Comment,
                    '\\' => State::Escape,
                    '"' => State::WeakOpen,
                    '\'' => State::StrongOpen,
                    _ => State::Complete,
                },
                State::Escape => State::Complete,
                State::Complete => match c {
                    c if c.is_whitespace() && c != '\n' && c != '\r' => State::WhiteSpace,
                    '\\' => State::Escape,
                    '"' => State::WeakOpen,
                    '\'' => State::StrongOpen,
                    _ => State::Complete,
                },
                State::WeakOpen => match c {
                    '\\' => State::WeakOpenEscape,
                    '"' => State::Complete,
                    _ => State::WeakOpen,
                },
                State::WeakOpenEscape => State::WeakOpen,
                State::StrongOpen => match c {
                    '\\' => State::StrongOpenEscape,
                    '\'' => State::Complete,
                    _ => State::StrongOpen,
                },
                State::StrongOpenEscape => State::StrongOpen,
                State::Comment => State::Comment,
            };
        }
        st
    }
}

/// Hands dotenvy one logical line per `read` (or less, for a line longer than its buffer), so
/// its buffered reader never holds bytes of the next line: `current` is the line it is on.
struct OneLineAtATime<'a> {
    lines: &'a [(usize, &'a str)],
    next: usize,
    offset: usize,
    current: Rc<Cell<usize>>,
}

impl Read for OneLineAtATime<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let Some((_, line)) = self.lines.get(self.next) else { return Ok(0) };
        self.current.set(self.next);
        let rest = &line.as_bytes()[self.offset..];
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.offset += n;
        if self.offset == line.len() {
            (self.next, self.offset) = (self.next + 1, 0);
        }
        Ok(n)
    }
}

/// `, NAME: what is wrong with its value` for a line dotenvy refused, or why the line is not
/// `NAME=value` at all. Never a character of the value — nor of a line that is not a definition,
/// which may be a pasted key (a name is only named when `=` follows it).
fn describe(line: &str) -> String {
    let t = line.trim_start();
    let t = t.strip_prefix("export").filter(|r| r.starts_with([' ', '\t'])).map_or(t, str::trim_start);
    let end = t.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.')).unwrap_or(t.len());
    let name = &t[..end];
    match t[end..].trim_start().strip_prefix('=') {
        Some(value) if name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') => {
            format!(", {name}: {}", value_problem(value.trim()))
        }
        _ => ": not NAME=value (a name is letters, digits, _ and ., not starting with a digit)".into(),
    }
}

/// What dotenvy's value parser objects to in `v` (its `parse_value`, reduced to the checks).
fn value_problem(v: &str) -> &'static str {
    #[derive(PartialEq)]
    enum Subst {
        None,
        Block,
        Braced,
    }
    let (mut strong, mut weak, mut escaped, mut end) = (false, false, false, false);
    let mut subst = Subst::None;
    let mut name_len = 0;
    for c in v.chars() {
        if end {
            match c {
                ' ' | '\t' => continue,
                '#' => break,
                _ => return "a space inside an unquoted value (quote the value)",
            }
        } else if escaped {
            if !matches!(c, '\\' | '\'' | '"' | '$' | ' ' | 'n') {
                return "an escape other than \\\\ \\' \\\" \\$ \\n or \\space";
            }
            escaped = false;
        } else if strong {
            strong = c != '\'';
        } else if subst != Subst::None {
            if c.is_alphanumeric() {
                name_len += 1;
            } else if subst == Subst::Block {
                if c == '{' && name_len == 0 {
                    subst = Subst::Braced;
                } else {
                    name_len = 0;
                    subst = if c == '$' { Subst::Block } else { Subst::None };
                }
            } else if c == '}' {
                (subst, name_len) = (Subst::None, 0);
            }
        } else if c == '$' {
            subst = Subst::Block;
        } else if weak {
            match c {
                '"' => weak = false,
                '\\' => escaped = true,
                _ => {}
            }
        } else {
            match c {
                '\'' => strong = true,
                '"' => weak = true,
                '\\' => escaped = true,
                ' ' | '\t' => end = true,
                _ => {}
            }
        }
    }
    if strong || weak {
        "a quote that is never closed"
    } else if subst == Subst::Braced {
        "a ${ that is never closed"
    } else {
        "the value does not parse"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "sk-s3cr3t";

    fn err(text: &str) -> String {
        let e = parse(text.as_bytes(), "x.env").unwrap_err();
        assert!(!e.contains(SECRET) && !e.contains("s3cr3t"), "the error shows the value: {e}");
        e
    }

    #[test]
    fn values_quotes_substitution_and_comments() {
        let text = "# comment\nA=1\nexport B=\"two words\"\nC='x\ny'  # trailing\n\nD=${A}-$B\nE=last ";
        let got = parse(text.as_bytes(), "x.env").unwrap();
        let want = [("A", "1"), ("B", "two words"), ("C", "x\ny"), ("D", "1-two words"), ("E", "last")];
        assert_eq!(got, want.map(|(k, v)| (k.to_string(), v.to_string())));
        assert_eq!(parse(b"\xEF\xBB\xBFK=v\n", "x.env").unwrap(), [("K".to_string(), "v".to_string())]);
    }

    #[test]
    fn every_malformed_form_names_file_line_and_variable_but_not_the_value() {
        assert_eq!(err(&format!("A=1\nB=\"{SECRET}\n")), "x.env line 2, B: a quote that is never closed");
        assert_eq!(err(&format!("A=1\n\nB='{SECRET}\nC=2\n")), "x.env line 3, B: a quote that is never closed");
        let not_a_definition = "not NAME=value (a name is letters, digits, _ and ., not starting with a digit)";
        for line in [SECRET, &format!("KEY {SECRET}"), &format!("1{SECRET}=x"), &format!("KEY: {SECRET}")] {
            assert_eq!(err(&format!("A=1\n{line}\n")), format!("x.env line 2: {not_a_definition}"));
        }
        assert_eq!(
            err(&format!("A=1\nKEY=abc {SECRET}\n")),
            "x.env line 2, KEY: a space inside an unquoted value (quote the value)"
        );
        assert_eq!(
            err(&format!("KEY={SECRET}\\x\n")),
            "x.env line 1, KEY: an escape other than \\\\ \\' \\\" \\$ \\n or \\space"
        );
        assert_eq!(err(&format!("KEY=${{{SECRET}\n")), "x.env line 1, KEY: a ${ that is never closed");
        assert_eq!(err("A=\"x\ny\"\n# c\nexport  KEY=\"v\n"), "x.env line 4, KEY: a quote that is never closed");
        let e = parse(b"A=1\nB=\xff\n", "x.env").unwrap_err();
        assert_eq!(e, "x.env line 2: not UTF-8 text");
    }

    #[test]
    fn long_lines_and_many_lines_keep_their_numbers() {
        let long = "v".repeat(20_000);
        let text = format!("A={long}\n{}BAD {SECRET}\n", "X=1\n".repeat(5000));
        assert_eq!(
            err(&text),
            "x.env line 5002: not NAME=value (a name is letters, digits, _ and ., not starting with a digit)"
        );
    }
}
