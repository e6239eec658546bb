//! Language-like text at memory speed.
//!
//! At first use a bank of sentences is built from the templates in [`super::lexicon`] with a
//! fixed random stream (so it is part of the generator version, not of the seed). Producing
//! text is then a sequence of picks from the bank, each a `memcpy` of one sentence: the words
//! vary like language (tens of thousands of distinct sentences), but no per-word work happens
//! on the hot path. Paragraph breaks are inserted by the writer, escaped when writing JSON.

use std::sync::OnceLock;

use super::lexicon::*;
use super::rng::TraceRng;
use crate::scenario::ALNUM;

/// Number of sentences in the bank.
const BANK_SIZE: usize = 1 << 15;

/// The sentence bank: sentences back to back, each followed by a space.
pub struct Bank {
    text: String,
    /// Start offset of sentence i; `starts[BANK_SIZE]` is the end.
    starts: Vec<u32>,
}

impl Bank {
    fn build() -> Bank {
        let mut rng = TraceRng::fixed(1);
        let mut text = String::with_capacity(BANK_SIZE * 80);
        let mut starts = Vec::with_capacity(BANK_SIZE + 1);
        for _ in 0..BANK_SIZE {
            starts.push(text.len() as u32);
            let start = text.len();
            fill_template(&mut text, &mut rng);
            fix_articles(&mut text, start);
            // Capitalize the first letter (templates may start with a placeholder).
            if let Some(first) = text[start..].chars().next()
                && first.is_ascii_lowercase()
            {
                let up = first.to_ascii_uppercase();
                text.replace_range(start..start + 1, up.encode_utf8(&mut [0; 4]));
            }
            text.push(' ');
        }
        starts.push(text.len() as u32);
        Bank { text, starts }
    }

    /// Sentence `i` with its trailing space.
    #[inline]
    pub fn sentence(&self, i: usize) -> &str {
        &self.text[self.starts[i] as usize..self.starts[i + 1] as usize]
    }
}

/// The shared bank, built on first use (about 2.5 MB, a few milliseconds).
pub fn bank() -> &'static Bank {
    static BANK: OnceLock<Bank> = OnceLock::new();
    BANK.get_or_init(Bank::build)
}

fn fill_template(out: &mut String, rng: &mut TraceRng) {
    let t = *rng.pick(TEMPLATES);
    let mut rest = t;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = open + rest[open..].find('}').expect("template braces are balanced");
        let slot = &rest[open + 1..close];
        match slot {
            "n" => out.push_str(rng.pick(NOUNS).0),
            "ns" => out.push_str(rng.pick(NOUNS).1),
            "v" => out.push_str(rng.pick(VERBS).0),
            "vs" => out.push_str(rng.pick(VERBS).1),
            "vd" => out.push_str(rng.pick(VERBS).2),
            "vg" => out.push_str(rng.pick(VERBS).3),
            "a" => out.push_str(rng.pick::<&str>(ADJECTIVES)),
            "r" => out.push_str(rng.pick::<&str>(ADVERBS)),
            "c" => out.push_str(rng.pick::<&str>(PLACES)),
            "p" => out.push_str(rng.pick::<&str>(PEOPLE)),
            "o" => out.push_str(rng.pick::<&str>(ORGS)),
            "day" => out.push_str(rng.pick::<&str>(DAYS)),
            "d" => {
                let n = 2 + rng.below(23);
                out.push_str(&n.to_string());
            }
            "m" => {
                let cur = *rng.pick(&["$", "EUR ", "GBP ", "USD "]);
                out.push_str(cur);
                out.push_str(&(20 + rng.below(1980)).to_string());
            }
            "t" => {
                let (h, m) = (5 + rng.below(18), rng.below(12) * 5);
                out.push_str(&format!("{h:02}:{m:02}"));
            }
            "k" => {
                out.push_str(rng.pick::<&str>(&["BK-", "RES-", "TKT-", "INV-", "ORD-"]));
                for _ in 0..6 {
                    out.push(ALNUM[rng.below(36)] as char);
                }
            }
            other => panic!("unknown template slot {{{other}}}"),
        }
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
}

/// Turns "a" into "an" before a vowel sound in `text[start..]` ("an important", "an hour").
fn fix_articles(text: &mut String, start: usize) {
    let sentence = &text[start..];
    if !sentence.contains("a ") {
        return;
    }
    let mut out = String::with_capacity(sentence.len() + 8);
    let mut words = sentence.split(' ').peekable();
    while let Some(w) = words.next() {
        out.push_str(w);
        if let Some(next) = words.peek() {
            let vowel = next.starts_with(['a', 'e', 'i', 'o', 'u', 'A', 'E', 'I', 'O', 'U']);
            if (w == "a" || w == "A") && vowel {
                out.push('n');
            }
            out.push(' ');
        }
    }
    text.truncate(start);
    text.push_str(&out);
}

/// Appends about `chars` bytes of prose to `out`: whole sentences, a paragraph break every few
/// sentences (`\n\n`, written as the JSON escape `\\n\\n` when `json` is set). Stops at the
/// first sentence boundary at or past `chars`, so the result is never cut mid-word.
pub fn prose(out: &mut Vec<u8>, rng: &mut TraceRng, chars: usize, json: bool) {
    let bank = bank();
    let start = out.len();
    let mut in_para = 0;
    let para_len = 3 + rng.below(4);
    while out.len() - start < chars {
        let s = bank.sentence(rng.below(BANK_SIZE));
        out.extend_from_slice(s.as_bytes());
        in_para += 1;
        if in_para == para_len && out.len() - start < chars {
            out.pop(); // the sentence's trailing space
            out.extend_from_slice(if json { b"\\n\\n" } else { b"\n\n" });
            in_para = 0;
        }
    }
    // Drop the trailing space of the last sentence.
    if out.len() > start && out.last() == Some(&b' ') {
        out.pop();
    }
}

/// Appends a short phrase of `words` words from one sentence of the bank (a title, a query).
pub fn phrase(out: &mut Vec<u8>, rng: &mut TraceRng, words: usize) {
    let s = bank().sentence(rng.below(BANK_SIZE));
    for (taken, w) in s.split_ascii_whitespace().take(words).enumerate() {
        if taken > 0 {
            out.push(b' ');
        }
        out.extend_from_slice(w.trim_end_matches(['.', '?', ',', ':']).as_bytes());
    }
}

/// Appends `prefix` plus `len` base-62 characters (`call_…`, `chatcmpl-…`, `conv_…`).
pub fn ident(out: &mut Vec<u8>, rng: &mut TraceRng, prefix: &str, len: usize) {
    out.extend_from_slice(prefix.as_bytes());
    let mut bits = rng.u64();
    for i in 0..len {
        if i % 10 == 9 {
            bits = rng.u64();
        }
        out.push(ALNUM[(bits % 62) as usize]);
        bits /= 62;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bank_is_json_safe_and_varied() {
        let b = bank();
        let mut distinct = std::collections::HashSet::new();
        for i in 0..BANK_SIZE {
            let s = b.sentence(i);
            assert!(!s.contains('"') && !s.contains('\\') && !s.contains('\n'), "{s:?}");
            distinct.insert(s);
        }
        assert!(distinct.len() > BANK_SIZE * 9 / 10, "only {} distinct sentences", distinct.len());
    }

    #[test]
    fn text_stays_within_the_scenario_bound_model() {
        use crate::scenario::bound::{PROSE_SLACK, SENTENCE_MAX};
        let b = bank();
        let longest = (0..BANK_SIZE).map(|i| b.sentence(i).len()).max().unwrap();
        assert!(longest as f64 <= SENTENCE_MAX, "a {longest}-byte sentence exceeds SENTENCE_MAX");
        let mut rng = TraceRng::for_trace(9, 9);
        let mut out = Vec::new();
        for chars in (0..3000).chain([10_000, 100_000]) {
            out.clear();
            prose(&mut out, &mut rng, chars, true);
            let slack = if chars == 0 { 0.0 } else { PROSE_SLACK };
            assert!(out.len() as f64 <= chars as f64 + slack, "prose({chars}) wrote {}", out.len());
        }
    }

    #[test]
    fn prose_reaches_length_and_has_many_words() {
        let mut rng = TraceRng::for_trace(1, 2);
        let mut out = Vec::new();
        prose(&mut out, &mut rng, 5000, true);
        assert!(out.len() >= 5000 && out.len() < 5300, "{}", out.len());
        let text = String::from_utf8(out).unwrap();
        let words: std::collections::HashSet<&str> = text.split_whitespace().collect();
        assert!(words.len() > 200, "{} distinct words", words.len());
        assert!(text.contains("\\n\\n"), "paragraph breaks are JSON-escaped");
    }
}
