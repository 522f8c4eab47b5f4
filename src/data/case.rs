//! Case restoration: putting capitals back into text that was lower-cased.
//!
//! One of the TinyStories files was published lower-cased (`once upon a time,
//! there was a girl named lily. she...`). A model trained on it learns two
//! spellings of every name and sentence start, and wastes capacity on that.
//! Two rules bring back nearly all of the case:
//!
//! 1. **Position**: the first word of a line, of a sentence (after `.`, `!` or
//!    `?`) and of a quotation starts with a capital. After a quotation that
//!    ends in `!` or `?` it depends on the word (`"Stop!" she said` but
//!    `"Stop!" The dog ran`), so the map learns those words too.
//! 2. **Words**: a [`CaseMap`] learned from cased text of the same register
//!    says how each word is spelled *away from* those positions: `lily` →
//!    `Lily`, `i` → `I`, `i'm` → `I'm`, `mr` → `Mr`, `the` stays `the`.
//!
//! The map only learns from words in the middle of a sentence, because a
//! capital at a sentence start says nothing about the word. How well the two
//! rules work is measured, not assumed: [`word_errors`] lower-cases cased text
//! the map never saw, restores it, and counts the words that differ.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// Counts of each spelling of each word, seen away from sentence starts.
#[derive(Debug, Clone, Default)]
pub struct CaseCounts {
    forms: HashMap<String, HashMap<String, u32>>,
    /// Words right after a quotation that ended a sentence: (capitalised, seen).
    after_quote: HashMap<String, (u32, u32)>,
}

impl CaseCounts {
    /// Counts the spellings of the words of `text` that are not at a sentence
    /// or quotation start.
    pub fn learn(&mut self, text: &str) {
        for_each_word(text, |word, position| match position {
            Position::Start => {}
            Position::Middle => {
                let lower = word.to_lowercase();
                *self.forms.entry(lower).or_default().entry(word.to_string()).or_default() += 1;
            }
            Position::AfterQuote => {
                let seen = self.after_quote.entry(word.to_lowercase()).or_default();
                seen.0 += u32::from(word.chars().next().is_some_and(char::is_uppercase));
                seen.1 += 1;
            }
        });
    }

    pub fn merge(&mut self, other: &CaseCounts) {
        for (lower, forms) in &other.forms {
            let into = self.forms.entry(lower.clone()).or_default();
            for (form, n) in forms {
                *into.entry(form.clone()).or_default() += n;
            }
        }
        for (lower, (upper, seen)) in &other.after_quote {
            let into = self.after_quote.entry(lower.clone()).or_default();
            into.0 += upper;
            into.1 += seen;
        }
    }

    /// The map: each word whose most frequent spelling is not all lower case,
    /// when that spelling is the majority of the word's occurrences.
    pub fn map(&self) -> CaseMap {
        let mut map = HashMap::new();
        for (lower, forms) in &self.forms {
            let total: u32 = forms.values().sum();
            // Ties go to the alphabetically first form, so the map does not
            // depend on hash order.
            let (best, n) =
                forms.iter().max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0))).expect("a counted word has a form");
            if best != lower && 2 * n > total {
                map.insert(lower.clone(), best.clone());
            }
        }
        let lower_after_quote =
            self.after_quote.iter().filter(|(_, (upper, seen))| 2 * upper < *seen).map(|(w, _)| w.clone()).collect();
        CaseMap { map, lower_after_quote }
    }
}

/// Lower-cased word → its usual spelling, for words that are usually capitalised.
#[derive(Debug, Clone, Default)]
pub struct CaseMap {
    map: HashMap<String, String>,
    /// Words that usually stay lower-case after `!"` or `?"` (`she`, `said`).
    lower_after_quote: std::collections::HashSet<String>,
}

impl CaseMap {
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Restores the case of lower-cased `text`. Returns the text and the
    /// number of words whose spelling changed.
    pub fn restore(&self, text: &str) -> (String, u64) {
        let mut out = String::with_capacity(text.len());
        let mut changed = 0;
        let mut last = 0;
        for_each_word_at(text, |start, word, position| {
            out.push_str(&text[last..start]);
            last = start + word.len();
            let mapped = self.map.get(word).map(String::as_str).unwrap_or(word);
            let capital = match position {
                Position::Start => true,
                Position::Middle => false,
                Position::AfterQuote => !self.lower_after_quote.contains(word),
            };
            let restored = if capital { upper_first(mapped) } else { mapped.to_string() };
            if restored != word {
                changed += 1;
            }
            out.push_str(&restored);
        });
        out.push_str(&text[last..]);
        (out, changed)
    }
}

/// Words of `cased` that case restoration gets wrong after lower-casing it:
/// `(wrong, words)`.
pub fn word_errors(map: &CaseMap, cased: &str) -> (u64, u64) {
    let (restored, _) = map.restore(&cased.to_lowercase());
    let mut expected = Vec::new();
    for_each_word(cased, |w, _| expected.push(w.to_string()));
    let mut got = Vec::new();
    for_each_word(&restored, |w, _| got.push(w.to_string()));
    if expected.len() != got.len() {
        // Lower-casing changed a word's length in letters (rare Unicode cases):
        // count every word as wrong rather than mis-align the rest.
        return (expected.len() as u64, expected.len() as u64);
    }
    let wrong = expected.iter().zip(&got).filter(|(a, b)| a != b).count();
    (wrong as u64, expected.len() as u64)
}

/// What case restoration did to one source, for the preparation report.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CaseStats {
    /// Sources whose text the case map was learned from.
    pub learned_from: Vec<String>,
    /// Words the map knows a capitalised spelling of.
    pub map_words: u64,
    /// Words of this source whose case was changed.
    pub words_changed: u64,
    /// Held-out cased text, lower-cased and restored: words compared and wrong.
    pub check_words: u64,
    pub check_errors: u64,
}

impl CaseStats {
    pub fn word_error_rate(&self) -> f64 {
        self.check_errors as f64 / self.check_words.max(1) as f64
    }
}

/// `s` with its first letter in upper case ("lily" -> "Lily").
pub fn upper_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `s` with its first letter in lower case ("The pool" -> "the pool").
pub fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Where a word stands, which decides whether its case is positional.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Position {
    /// First word of a line, a sentence or a quotation: capitalised.
    Start,
    /// Anywhere else: spelled as the word is usually spelled.
    Middle,
    /// Right after a quotation that ended in `.`, `!` or `?`: a new sentence,
    /// or the rest of this one (`"Run!" she said`).
    AfterQuote,
}

fn for_each_word(text: &str, mut f: impl FnMut(&str, Position)) {
    for_each_word_at(text, |_, word, position| f(word, position));
}

/// Calls `f(byte_offset, word, position)` for every word of `text`: a run of
/// letters and digits with apostrophes inside (`don't`, `i'm`).
fn for_each_word_at(text: &str, mut f: impl FnMut(usize, &str, Position)) {
    let is_word = |c: char| c.is_alphanumeric();
    let mut position = Position::Start;
    // Just after `.`, `!` or `?`: a sentence ends if whitespace follows
    // (closing quotes and brackets may come first).
    let mut after_stop = false;
    let mut quote_closed = false;
    let mut prev: Option<char> = None;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if is_word(c) {
            let mut end = i + c.len_utf8();
            while let Some(&(j, d)) = chars.peek() {
                let apostrophe_inside =
                    (d == '\'' || d == '\u{2019}') && text[j + d.len_utf8()..].chars().next().is_some_and(is_word);
                if is_word(d) || apostrophe_inside {
                    end = j + d.len_utf8();
                    chars.next();
                } else {
                    break;
                }
            }
            f(i, &text[i..end], position);
            position = Position::Middle;
            after_stop = false;
            quote_closed = false;
            prev = text[..end].chars().next_back();
            continue;
        }
        match c {
            '\n' => {
                position = Position::Start;
                after_stop = false;
            }
            '.' | '!' | '?' => {
                after_stop = true;
                quote_closed = false;
            }
            c if c.is_whitespace() => {
                if after_stop {
                    position = if quote_closed { Position::AfterQuote } else { Position::Start };
                    after_stop = false;
                }
            }
            // An opening quotation mark: at the start, or after a space or an
            // opening bracket. A quote that follows a word closes a quotation.
            '"' | '\u{201c}' => {
                if prev.map_or(true, |p| p.is_whitespace() || p == '(' || p == '[' || p == ':') || c == '\u{201c}' {
                    position = Position::Start;
                } else {
                    quote_closed = true;
                }
            }
            '\u{201d}' => quote_closed = true,
            '\'' | '\u{2019}' | ')' | ']' => {}
            _ => after_stop = false,
        }
        prev = Some(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map_from(text: &str) -> CaseMap {
        let mut counts = CaseCounts::default();
        counts.learn(text);
        counts.map()
    }

    #[test]
    fn names_i_and_sentence_starts_come_back() {
        let map = map_from(
            "Once upon a time, Lily and Tom went out. Then I said that Lily was kind. \
             Mom saw Tom and I'm sure Lily did too. The dog ran to Mr. Brown and Mom. \
             \"Wait!\" she said. \"Why?\" she asked. \"Go!\" The dog ran.",
        );
        let (restored, changed) =
            map.restore("one day lily saw tom. \"hello, tom!\" she said. \"i'm here,\" said mom. then mr. brown came.");
        assert_eq!(
            restored,
            "One day Lily saw Tom. \"Hello, Tom!\" she said. \"I'm here,\" said Mom. Then Mr. Brown came."
        );
        assert!(changed >= 10, "{changed}");
    }

    #[test]
    fn sentence_start_capitals_teach_nothing() {
        // "The" only ever starts sentences: the map must not learn "The".
        let map = map_from("The cat sat. The dog ran. The bird sang.\nThe end.");
        assert_eq!(map.restore("look at the cat").0, "Look at the cat");
    }

    #[test]
    fn a_closing_quote_does_not_open_a_sentence() {
        let map = map_from("she said hello");
        let (text, _) = map.restore("\"go now,\" she said. \"yes.\" he went");
        // "he" was never seen after a closed quotation: a new sentence is assumed.
        assert_eq!(text, "\"Go now,\" she said. \"Yes.\" He went");
    }

    #[test]
    fn word_error_rate_counts_wrong_words() {
        let map = map_from("Lily and Tom played. Then Lily sang.");
        // "Ben" is not in the map: one word of eight comes back wrong.
        let (wrong, words) = word_errors(&map, "Lily saw Ben and Tom. They played.");
        assert_eq!((wrong, words), (1, 7));
        let (text, _) = map.restore("");
        assert!(text.is_empty());
    }

    #[test]
    fn non_ascii_and_apostrophes_survive() {
        let map = map_from("We met Zoë at the café, and Zoë's hat was red.");
        assert_eq!(map.restore("zoë's café — naïve").0, "Zoë's café — naïve");
    }
}
