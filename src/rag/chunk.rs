//! Cutting a document's text into overlapping chunks on paragraph and sentence boundaries,
//! sized in the embedding model's tokens.
//!
//! A chunk is what retrieval returns and what the model reads as context, so it should be a
//! piece of text that makes sense alone: whole sentences, and whole paragraphs where they fit.
//! It is sized in tokens, not characters, because the embedding model reads a fixed number of
//! tokens and silently drops the rest: a chunk over that budget would be indexed by its start only.
//!
//! How it works:
//! 1. The text is split into paragraphs (at blank lines) and paragraphs into sentences (at `.`,
//!    `!` or `?`, perhaps followed by closing quotes or brackets, then whitespace; not after
//!    "Mr.", "e.g.", an initial like "J." and the like). Markdown headings and list items are
//!    sentences of their own even without a full stop. A sentence longer than the budget is cut
//!    at word boundaries, and a word longer than the budget between characters.
//! 2. Each of these units is counted once with the caller's tokenizer, and units are packed
//!    greedily. When the next paragraph does not fit whole and the chunk is at least half full,
//!    the chunk ends at the paragraph end instead of cutting the paragraph.
//! 3. Token counts are not exactly additive (a tokenizer may merge across a boundary), so each
//!    chunk is counted again as a whole and trailing units are dropped while it is over budget.
//!    That is the only re-count, which keeps the work linear in the text: counting is costly.
//! 4. The next chunk starts with the last whole sentences of the previous one, as many as fit in
//!    `overlap_tokens`, so a fact that straddles a boundary is whole in one of the two chunks.
//!
//! Spans are byte ranges into the text, so the text itself is stored once and a citation can
//! point into the document.

use super::RagError;

/// How big chunks are and how much consecutive chunks share, in tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ChunkConfig {
    pub max_tokens: usize,
    pub overlap_tokens: usize,
}

impl Default for ChunkConfig {
    fn default() -> Self {
        // all-MiniLM-L6-v2 was trained on pieces of up to 128 word pieces and reads up to 256;
        // 200 keeps a chunk whole in the model and still several sentences long.
        ChunkConfig { max_tokens: 200, overlap_tokens: 40 }
    }
}

impl ChunkConfig {
    /// Checks that chunks can hold a few sentences and that the overlap leaves room for new text.
    pub fn validate(&self) -> Result<(), RagError> {
        if self.max_tokens < 16 {
            return Err(RagError::Invalid(format!(
                "chunk max_tokens is {}; it must be at least 16 so that a chunk holds a sentence or two",
                self.max_tokens
            )));
        }
        if self.overlap_tokens >= self.max_tokens / 2 {
            return Err(RagError::Invalid(format!(
                "chunk overlap_tokens is {}; it must be less than half of max_tokens ({}), so that each chunk \
                 is mostly new text",
                self.overlap_tokens, self.max_tokens
            )));
        }
        Ok(())
    }
}

/// One chunk: the byte range `[start, end)` of the document's text (on char boundaries, without
/// leading or trailing whitespace), the 1-based line where it starts, and its token count.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Span {
    pub start: usize,
    pub end: usize,
    pub line: usize,
    pub tokens: usize,
}

/// Splits `text` into chunks of at most `cfg.max_tokens` tokens, consecutive chunks sharing
/// whole sentences worth at most `cfg.overlap_tokens`.
///
/// `count_tokens` is the embedding model's tokenizer; it should count the text's own tokens,
/// without the special tokens the model adds around every input (those would be counted once
/// per sentence and make chunks smaller than they need be). Every non-whitespace character of
/// `text` is in at least one chunk, and chunks come in document order with increasing starts.
/// The only way a chunk can exceed the budget is a single character that is by itself over it.
pub fn chunk(text: &str, cfg: &ChunkConfig, count_tokens: &dyn Fn(&str) -> usize) -> Vec<Span> {
    // Unvalidated settings must not loop forever or leave no room for new text.
    let max = cfg.max_tokens.max(1);
    let overlap = cfg.overlap_tokens.min(max / 2);
    let (units, paragraph_tokens) = units(text, max, count_tokens);
    pack(text, &units, &paragraph_tokens, max, overlap, count_tokens)
}

/// A piece of text that goes into a chunk whole: a sentence, or part of one over the budget.
#[derive(Clone, Debug)]
struct Unit {
    start: usize,
    end: usize,
    tokens: usize,
    /// Only units that start a sentence may start an overlap, which is then whole sentences.
    starts_sentence: bool,
    ends_paragraph: bool,
    paragraph: usize,
}

/// The units of the text in order, and the token count of each paragraph.
fn units(text: &str, max: usize, count: &dyn Fn(&str) -> usize) -> (Vec<Unit>, Vec<usize>) {
    let mut units = Vec::new();
    let mut paragraph_tokens = Vec::new();
    let mut sentences = Vec::new();
    for (paragraph, (start, end)) in paragraphs(text).into_iter().enumerate() {
        sentences.clear();
        split_sentences(text, start, end, &mut sentences);
        let first = units.len();
        for &(start, end) in &sentences {
            let tokens = count(&text[start..end]);
            if tokens <= max {
                units.push(Unit { start, end, tokens, starts_sentence: true, ends_paragraph: false, paragraph });
            } else {
                let from = units.len();
                split_long(text, (start, end, tokens), max, count, &mut |start, end, tokens| {
                    units.push(Unit { start, end, tokens, starts_sentence: false, ends_paragraph: false, paragraph });
                });
                units[from].starts_sentence = true;
            }
        }
        if let Some(last) = units.last_mut() {
            last.ends_paragraph = true;
        }
        paragraph_tokens.push(units[first..].iter().map(|unit| unit.tokens).sum());
    }
    (units, paragraph_tokens)
}

/// Byte ranges of the paragraphs (runs of non-blank lines), trimmed of whitespace.
fn paragraphs(text: &str) -> Vec<(usize, usize)> {
    let mut paragraphs = Vec::new();
    let mut current: Option<(usize, usize)> = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let content = line.trim();
        if content.is_empty() {
            paragraphs.extend(current.take());
        } else {
            let start = offset + (line.len() - line.trim_start().len());
            let end = start + content.len();
            current = Some((current.map_or(start, |(start, _)| start), end));
        }
        offset += line.len();
    }
    paragraphs.extend(current);
    paragraphs
}

/// Appends the byte ranges of the sentences of the paragraph `text[start..end]`, trimmed.
fn split_sentences(text: &str, start: usize, end: usize, out: &mut Vec<(usize, usize)>) {
    // Markdown headings and list items rarely end in a full stop but are units of their own;
    // without this, a heading would be glued to the first sentence under it.
    let mut segment_start = start;
    let mut line_start = start;
    for line in text[start..end].split_inclusive('\n') {
        let content = line.trim_start();
        if line_start > segment_start && (is_heading(content) || is_list_item(content)) {
            split_segment(text, segment_start, line_start, out);
            segment_start = line_start;
        }
        line_start += line.len();
        if is_heading(content) {
            split_segment(text, segment_start, line_start, out);
            segment_start = line_start;
        }
    }
    split_segment(text, segment_start, end, out);
}

/// "# Title" to "###### Title".
fn is_heading(line: &str) -> bool {
    let hashes = line.bytes().take_while(|&b| b == b'#').count();
    (1..=6).contains(&hashes) && line[hashes..].starts_with([' ', '\t'])
}

/// "- item", "* item", "+ item", "1. item", "2) item".
fn is_list_item(line: &str) -> bool {
    let digits = line.bytes().take_while(u8::is_ascii_digit).count();
    let marker = match digits {
        0 => line.strip_prefix(['-', '*', '+']),
        1..=9 => line[digits..].strip_prefix(['.', ')']),
        _ => None,
    };
    marker.is_some_and(|rest| rest.starts_with([' ', '\t']))
}

/// Closing quotes and brackets that may follow a sentence's end punctuation.
const CLOSERS: &[char] = &['"', '\'', ')', ']', '}', '»', '”', '’'];
/// Full stops of Chinese and Japanese, which need no space after them.
const CJK_STOPS: &[char] = &['。', '！', '？'];

/// Appends the sentences of `text[start..end]` (which has no line-level boundaries), trimmed.
fn split_segment(text: &str, start: usize, end: usize, out: &mut Vec<(usize, usize)>) {
    let segment = &text[start..end];
    let mut push = |from: usize, to: usize| {
        let piece = &segment[from..to];
        let trimmed = piece.trim_start();
        let from = from + (piece.len() - trimmed.len());
        let to = from + trimmed.trim_end().len();
        if to > from {
            out.push((start + from, start + to));
        }
    };
    let mut sentence_start = 0;
    let mut chars = segment.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let cjk = CJK_STOPS.contains(&c);
        if !cjk && !matches!(c, '.' | '!' | '?') {
            continue;
        }
        let mut stop = i + c.len_utf8();
        let mut lone_period = c == '.';
        while let Some(&(j, next)) = chars.peek() {
            if matches!(next, '.' | '!' | '?') || CJK_STOPS.contains(&next) {
                lone_period = false;
            } else if !CLOSERS.contains(&next) {
                break;
            }
            stop = j + next.len_utf8();
            chars.next();
        }
        let followed_by_space = chars.peek().map_or(true, |&(_, next)| next.is_whitespace());
        if !(cjk || followed_by_space) || (lone_period && is_abbreviation(&segment[..i])) {
            continue;
        }
        push(sentence_start, stop);
        sentence_start = stop;
    }
    push(sentence_start, segment.len());
}

/// Words after which a full stop usually does not end a sentence.
const ABBREVIATIONS: &[&str] =
    &["mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "vs", "cf", "fig", "approx", "capt", "col", "gen", "lt"];

/// Whether the word that ends `before` (just before a full stop) is an abbreviation: a known
/// one, a capital initial ("J."), or single letters with dots between them ("e.g", "U.S").
fn is_abbreviation(before: &str) -> bool {
    let word = before.rsplit(char::is_whitespace).next().unwrap_or("");
    let word = word.trim_start_matches(['(', '[', '"', '\'', '“', '‘', '«']);
    let mut chars = word.chars();
    match (chars.next(), chars.next()) {
        (Some(initial), None) => initial.is_uppercase(),
        _ if word.contains('.') => word.split('.').all(|part| {
            let mut chars = part.chars();
            chars.next().is_some_and(char::is_alphabetic) && chars.next().is_none()
        }),
        _ => ABBREVIATIONS.iter().any(|abbreviation| word.eq_ignore_ascii_case(abbreviation)),
    }
}

/// Cuts `text[start..end]`, which is `tokens` long and over the budget, into pieces within it:
/// at word boundaries, and between characters inside a word that is over the budget by itself.
/// Reports each piece with its token count.
fn split_long(
    text: &str,
    (start, end, tokens): (usize, usize, usize),
    max: usize,
    count: &dyn Fn(&str) -> usize,
    emit: &mut dyn FnMut(usize, usize, usize),
) {
    let density = tokens as f64 / (end - start) as f64;
    let words = word_ranges(text, start, end);
    let word_ends: Vec<usize> = words.iter().map(|&(_, end)| end).collect();
    let mut w = 0;
    while w < words.len() {
        let from = words[w].0;
        match longest_fit(text, from, &word_ends[w..], max, density, count) {
            Some((last, tokens)) => {
                emit(from, word_ends[w + last], tokens);
                w += last + 1;
            }
            None => {
                split_word(text, words[w], max, density, count, emit);
                w += 1;
            }
        }
    }
}

/// Byte ranges of the whitespace-separated words of `text[start..end]`.
fn word_ranges(text: &str, start: usize, end: usize) -> Vec<(usize, usize)> {
    let mut words = Vec::new();
    let mut word_start = None;
    for (i, c) in text[start..end].char_indices() {
        match (c.is_whitespace(), word_start) {
            (true, Some(from)) => {
                words.push((start + from, start + i));
                word_start = None;
            }
            (false, None) => word_start = Some(i),
            _ => {}
        }
    }
    if let Some(from) = word_start {
        words.push((start + from, end));
    }
    words
}

/// Cuts one word that is over the budget by itself between characters.
fn split_word(
    text: &str,
    (start, end): (usize, usize),
    max: usize,
    density: f64,
    count: &dyn Fn(&str) -> usize,
    emit: &mut dyn FnMut(usize, usize, usize),
) {
    let char_ends: Vec<usize> = text[start..end].char_indices().map(|(i, c)| start + i + c.len_utf8()).collect();
    let mut c = 0;
    while c < char_ends.len() {
        let from = if c == 0 { start } else { char_ends[c - 1] };
        match longest_fit(text, from, &char_ends[c..], max, density, count) {
            Some((last, tokens)) => {
                emit(from, char_ends[c + last], tokens);
                c += last + 1;
            }
            None => {
                // One character over the whole budget: nothing smaller exists, so it goes alone.
                emit(from, char_ends[c], count(&text[from..char_ends[c]]));
                c += 1;
            }
        }
    }
}

/// The last index `k` of `cuts` such that `text[start..cuts[k]]` is within `max` tokens, with
/// that count; None if even `cuts[0]` is over.
///
/// Counting a prefix costs its length, so the search must not probe many long prefixes. The
/// first probe is aimed with `density` (tokens per byte of the surrounding text) and the next
/// ones are interpolated from the last count, which usually finds the cut in two or three
/// probes; should interpolation stall, bisection (or doubling, or halving) takes over.
fn longest_fit(
    text: &str,
    start: usize,
    cuts: &[usize],
    max: usize,
    density: f64,
    count: &dyn Fn(&str) -> usize,
) -> Option<(usize, usize)> {
    let last = cuts.len().checked_sub(1)?;
    // The last cut within `bytes` of the start (the first cut if none is).
    let within = |bytes: f64| cuts.partition_point(|&cut| ((cut - start) as f64) <= bytes).saturating_sub(1);
    let aim = |bytes: usize, tokens: usize| match tokens {
        0 => last,
        tokens => within(bytes as f64 * max as f64 / tokens as f64),
    };
    // Indices below `open.0` are known to fit, from `open.1` on known to be over.
    let mut fit: Option<(usize, usize)> = None;
    let mut open = (0, last + 1);
    let mut k = if density > 0.0 { within(max as f64 / density) } else { last };
    for probe in 1.. {
        let tokens = count(&text[start..cuts[k]]);
        if tokens <= max {
            fit = Some((k, tokens));
            open.0 = k + 1;
        } else {
            open.1 = k;
        }
        if open.0 >= open.1 {
            break;
        }
        k = if probe < 3 {
            aim(cuts[k] - start, tokens)
        } else if open.1 > last {
            2 * k + 1
        } else if fit.is_none() {
            k / 2
        } else {
            open.0 + (open.1 - open.0) / 2
        };
        k = k.clamp(open.0, open.1 - 1);
    }
    fit
}

/// Packs units into chunks greedily, with the paragraph preference, the whole-chunk check and
/// the overlap described in the module comment.
fn pack(
    text: &str,
    units: &[Unit],
    paragraph_tokens: &[usize],
    max: usize,
    overlap: usize,
    count: &dyn Fn(&str) -> usize,
) -> Vec<Span> {
    let mut spans = Vec::new();
    let mut line = 1;
    let mut line_counted_to = 0;
    // The chunk being built is units[first..end]; units[first..fresh] are the overlap.
    let mut first = 0;
    let mut fresh = 0;
    while fresh < units.len() {
        let mut tokens: usize = units[first..fresh].iter().map(|unit| unit.tokens).sum();
        let mut end = fresh;
        while end < units.len() {
            let unit = &units[end];
            // A chunk always takes at least one new unit, so the loop makes progress.
            if end > fresh {
                if tokens + unit.tokens > max {
                    break;
                }
                let paragraph_break = units[end - 1].ends_paragraph;
                if paragraph_break && tokens + paragraph_tokens[unit.paragraph] > max && 2 * tokens >= max {
                    break;
                }
            }
            tokens += unit.tokens;
            end += 1;
        }

        let mut actual = count(&text[units[first].start..units[end - 1].end]);
        while actual > max {
            let excess = actual - max;
            let mut dropped = 0;
            if end - 1 > fresh {
                while end - 1 > fresh && dropped < excess {
                    end -= 1;
                    dropped += units[end].tokens;
                }
            } else if first < fresh {
                // One new unit with the overlap is over: give up overlap rather than new text.
                while first < fresh && dropped < excess {
                    dropped += units[first].tokens;
                    first += 1;
                }
            } else {
                break;
            }
            actual = count(&text[units[first].start..units[end - 1].end]);
        }

        let (start, stop) = (units[first].start, units[end - 1].end);
        line += text[line_counted_to..start].bytes().filter(|&b| b == b'\n').count();
        line_counted_to = start;
        spans.push(Span { start, end: stop, line, tokens: actual });

        // The next chunk opens with the longest run of trailing whole sentences within the
        // overlap budget, never the whole of this chunk (starts must increase).
        let mut next_first = end;
        let mut shared = 0;
        let mut k = end;
        while k > first + 1 {
            shared += units[k - 1].tokens;
            if shared > overlap {
                break;
            }
            k -= 1;
            if units[k].starts_sentence {
                next_first = k;
            }
        }
        first = next_first;
        fresh = end;
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::cell::Cell;

    fn words(s: &str) -> usize {
        s.split_whitespace().count()
    }

    fn config(max_tokens: usize, overlap_tokens: usize) -> ChunkConfig {
        ChunkConfig { max_tokens, overlap_tokens }
    }

    fn sentences(text: &str) -> Vec<&str> {
        let mut out = Vec::new();
        for (start, end) in paragraphs(text) {
            split_sentences(text, start, end, &mut out);
        }
        out.into_iter().map(|(start, end)| &text[start..end]).collect()
    }

    /// The properties every chunking must have, whatever the counter.
    fn check(text: &str, cfg: &ChunkConfig, count: &dyn Fn(&str) -> usize, spans: &[Span]) {
        let mut covered = vec![false; text.len()];
        for (n, span) in spans.iter().enumerate() {
            assert!(span.start < span.end && span.end <= text.len(), "span {n} {span:?}");
            assert!(text.is_char_boundary(span.start) && text.is_char_boundary(span.end), "span {n} {span:?}");
            let slice = &text[span.start..span.end];
            assert_eq!(slice, slice.trim(), "span {n} has whitespace at an end");
            assert_eq!(span.tokens, count(slice), "span {n}");
            assert!(span.tokens <= cfg.max_tokens, "span {n}: {} tokens: {slice:?}", span.tokens);
            assert_eq!(span.line, 1 + text[..span.start].matches('\n').count(), "span {n}");
            if n > 0 {
                assert!(span.start > spans[n - 1].start, "starts must increase at span {n}");
                assert!(span.end > spans[n - 1].end, "span {n} brings nothing new");
            }
            covered[span.start..span.end].iter_mut().for_each(|c| *c = true);
        }
        for (i, c) in text.char_indices() {
            assert!(c.is_whitespace() || covered[i], "{c:?} at byte {i} is in no chunk");
        }
    }

    #[test]
    fn config_is_validated() {
        assert!(ChunkConfig::default().validate().is_ok());
        assert_eq!(ChunkConfig::default(), config(200, 40));
        let err = config(8, 2).validate().unwrap_err().to_string();
        assert!(err.contains("max_tokens"), "{err}");
        let err = config(100, 50).validate().unwrap_err().to_string();
        assert!(err.contains("overlap_tokens"), "{err}");
        assert!(config(100, 49).validate().is_ok());
    }

    #[test]
    fn empty_text_has_no_chunks() {
        assert!(chunk("", &ChunkConfig::default(), &words).is_empty());
        assert!(chunk(" \n\n\t \n", &ChunkConfig::default(), &words).is_empty());
    }

    #[test]
    fn short_text_is_one_chunk() {
        let text = "\n\n  Hello there. How are you?\n";
        let spans = chunk(text, &ChunkConfig::default(), &words);
        assert_eq!(spans, vec![Span { start: 4, end: 29, line: 3, tokens: 5 }]);
    }

    #[test]
    fn sentences_end_at_punctuation_not_abbreviations() {
        let text = "Mr. Smith met Dr. Jones at 3.15 p.m. on Friday, e.g. for tea. J. K. Rowling wrote \
                    (a lot). \"Really?\" she asked! Yes... it is so.";
        assert_eq!(
            sentences(text),
            [
                "Mr. Smith met Dr. Jones at 3.15 p.m. on Friday, e.g. for tea.",
                "J. K. Rowling wrote (a lot).",
                "\"Really?\"",
                "she asked!",
                "Yes...",
                "it is so."
            ]
        );
        assert_eq!(sentences("日本語です。次の文！ Last one"), ["日本語です。", "次の文！", "Last one"]);
    }

    #[test]
    fn markdown_headings_and_items_are_sentences() {
        let text = "# Install\nRun the script and wait\n- first step\n- second step\n12) numbered\nnot a #tag";
        assert_eq!(
            sentences(text),
            ["# Install", "Run the script and wait", "- first step", "- second step", "12) numbered\nnot a #tag"]
        );
    }

    #[test]
    fn chunks_keep_to_the_budget_and_overlap() {
        // 40 sentences of 5 words in one paragraph.
        let text: Vec<String> = (0..40).map(|i| format!("Sentence {i} has five words.")).collect();
        let text = text.join(" ");
        let cfg = config(20, 6);
        let spans = chunk(&text, &cfg, &words);
        check(&text, &cfg, &words, &spans);
        assert!(spans.len() > 10);
        for pair in spans.windows(2) {
            assert!(pair[0].tokens <= 20);
            // Each chunk shares exactly one five-word sentence with the one before.
            assert!(pair[1].start < pair[0].end, "no overlap between {pair:?}");
            let shared = &text[pair[1].start..pair[0].end];
            assert_eq!(words(shared), 5, "{shared:?}");
            assert!(shared.starts_with("Sentence") && shared.ends_with('.'));
        }
        // No overlap budget, no overlap.
        let spans = chunk(&text, &config(20, 0), &words);
        assert!(spans.windows(2).all(|pair| pair[1].start > pair[0].end));
    }

    #[test]
    fn overlap_is_whole_sentences_or_none() {
        let text = "One two three four five six seven eight. Nine ten eleven twelve thirteen fourteen fifteen \
                    sixteen. Seventeen eighteen nineteen twenty twenty-one twenty-two twenty-three twenty-four.";
        let spans = chunk(text, &config(16, 7), &words);
        // Every sentence is 8 words, over the 7-word overlap: chunks share nothing.
        assert_eq!(spans.len(), 2);
        assert!(spans[1].start > spans[0].end);
    }

    #[test]
    fn chunks_end_at_paragraph_ends_when_they_can() {
        // Paragraphs of 12 words in two sentences; two of them do not fit in 20.
        let paragraph = "Alpha beta gamma delta epsilon zeta. Eta theta iota kappa lambda mu.";
        let text = [paragraph; 5].join("\n\n");
        let cfg = config(20, 0);
        let spans = chunk(&text, &cfg, &words);
        check(&text, &cfg, &words, &spans);
        assert_eq!(spans.len(), 5);
        for span in &spans {
            assert_eq!(&text[span.start..span.end], paragraph);
        }
        // A chunk less than half full does not end early: a heading stays with its text.
        let text = format!("# Title\n\n{paragraph} {paragraph}");
        let spans = chunk(&text, &cfg, &words);
        assert!(text[spans[0].start..spans[0].end].starts_with("# Title\n\nAlpha"));
    }

    #[test]
    fn long_sentences_are_cut_at_words() {
        let text: Vec<String> = (0..100).map(|i| format!("w{i}")).collect();
        let text = format!("Short one. {} end.", text.join(" "));
        let cfg = config(16, 4);
        let spans = chunk(&text, &cfg, &words);
        check(&text, &cfg, &words, &spans);
        assert!(spans.iter().all(|span| span.tokens <= 16));
        assert!(spans.len() >= 102 / 16);
        // Pieces of a sentence are not whole sentences, so they are not repeated as overlap.
        assert!(spans.windows(2).skip(1).all(|pair| pair[1].start > pair[0].end));
    }

    #[test]
    fn huge_words_are_cut_between_characters() {
        let chars = |s: &str| s.chars().filter(|c| !c.is_whitespace()).count();
        let text = format!("Start. {} end.", "é日x".repeat(50));
        let cfg = config(16, 4);
        let spans = chunk(&text, &cfg, &chars);
        check(&text, &cfg, &chars, &spans);
        assert!(spans.len() >= 150 / 16);
    }

    #[test]
    fn line_numbers_count_from_one() {
        // Paragraphs of 12 words, one chunk each when two do not fit in 20.
        let (one, two) = ("Alpha beta gamma delta epsilon zeta.", "Eta theta iota kappa lambda mu.");
        let text = format!("{one}\n{two}\n\n{one} {two}\n\n\n\n{one}\n{two}\n");
        let cfg = config(20, 0);
        let spans = chunk(&text, &cfg, &words);
        check(&text, &cfg, &words, &spans);
        let lines: Vec<usize> = spans.iter().map(|span| span.line).collect();
        assert_eq!(lines, [1, 4, 8]);
    }

    #[test]
    fn unicode_text_is_cut_on_char_boundaries() {
        let text = "Ünïcödé wörds ând émojis 🎉🎉 fïll thïs séntence. ".repeat(30) + "\n\nЖурнал. 漢字のテキスト。";
        let cfg = config(16, 5);
        let per_char = |s: &str| s.chars().filter(|c| !c.is_whitespace()).count().div_ceil(3);
        for count in [&words as &dyn Fn(&str) -> usize, &per_char] {
            let spans = chunk(&text, &cfg, count);
            check(&text, &cfg, count, &spans);
        }
    }

    #[test]
    fn counts_that_are_not_additive_are_checked() {
        // Counting line breaks too makes a chunk cost more than its sentences.
        let count = |s: &str| words(s) + s.matches('\n').count();
        let text = "a b c.\nd e f.\ng h i.\nj k l.\n".repeat(40);
        let cfg = config(16, 4);
        let spans = chunk(&text, &cfg, &count);
        check(&text, &cfg, &count, &spans);
    }

    #[test]
    fn counting_is_linear() {
        let calls = Cell::new(0usize);
        let counted = Cell::new(0usize);
        let count = |s: &str| {
            calls.set(calls.get() + 1);
            counted.set(counted.get() + s.len());
            words(s)
        };
        let paragraph = "The quick brown fox jumps over the lazy dog. Then it naps, e.g. under a tree! ".repeat(5);
        let mut text = format!("{paragraph}\n\n").repeat(2000);
        text.push_str(&"endless ".repeat(20_000));
        let started = std::time::Instant::now();
        let cfg = ChunkConfig::default();
        let spans = chunk(&text, &cfg, &count);
        assert!(started.elapsed().as_secs_f64() < 2.0, "{:?} for {} bytes", started.elapsed(), text.len());
        check(&text, &cfg, &words, &spans);
        // Each unit once, each chunk once, pieces of the long sentence a few times.
        assert!(counted.get() < 4 * text.len(), "{} bytes counted for {}", counted.get(), text.len());
        // One call per sentence and per chunk, and a few per piece of the long sentence.
        assert!(calls.get() < 2000 * 10 + 2 * spans.len() + 1000, "{} calls", calls.get());
    }

    fn arbitrary_text() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            6 => "[a-zA-Z]{1,8}",
            2 => "[éü日本🎉]{1,4}",
            1 => "[a-z]{40,70}",
            1 => Just(". ".to_string()),
            1 => Just("! ".to_string()),
            1 => Just("? ".to_string()),
            1 => Just("Mr. ".to_string()),
            1 => Just("e.g. ".to_string()),
            1 => Just("\"".to_string()),
            1 => Just(")".to_string()),
            1 => Just("\n".to_string()),
            1 => Just("\n\n".to_string()),
            1 => Just("\n# ".to_string()),
            1 => Just("\n- ".to_string()),
            4 => Just(" ".to_string()),
            1 => Just(" \t ".to_string()),
        ];
        prop::collection::vec(piece, 0..300).prop_map(|pieces| pieces.concat())
    }

    proptest! {
        #[test]
        fn chunks_are_within_budget_and_cover_the_text(
            text in arbitrary_text(),
            max in 16usize..60,
            overlap_share in 0usize..100,
        ) {
            let cfg = config(max, (max / 2 - 1) * overlap_share / 100);
            prop_assert!(cfg.validate().is_ok());
            let with_lines = |s: &str| words(s) + s.matches('\n').count();
            let by_chars = |s: &str| s.chars().filter(|c| !c.is_whitespace()).count();
            for count in [&words as &dyn Fn(&str) -> usize, &with_lines, &by_chars] {
                let spans = chunk(&text, &cfg, count);
                check(&text, &cfg, count, &spans);
            }
            let spans = chunk(&text, &cfg, &words);
            for pair in spans.windows(2) {
                if pair[1].start < pair[0].end {
                    prop_assert!(words(&text[pair[1].start..pair[0].end]) <= cfg.overlap_tokens);
                }
            }
        }
    }
}
