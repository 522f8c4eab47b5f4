//! Cleaning one document: line endings, whitespace, Project Gutenberg
//! boilerplate, hard-wrapped prose, and splitting long books into sections.
//!
//! A cleaned document is a list of blocks (paragraph groups separated by a
//! blank line), each a list of lines. Prose that a printer wrapped at ~70
//! columns is joined back into one line per paragraph, so the model never
//! learns line breaks that only existed on the page; verse keeps its lines.
//! A line is also the unit that de-duplication and decontamination look at.

use std::sync::OnceLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

/// A document after cleaning.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Document {
    pub blocks: Vec<Vec<String>>,
}

impl Document {
    /// The text: lines joined by a newline, blocks by a blank line.
    pub fn render(&self) -> String {
        let blocks: Vec<String> = self.blocks.iter().filter(|b| !b.is_empty()).map(|b| b.join("\n")).collect();
        blocks.join("\n\n")
    }

    pub fn byte_len(&self) -> usize {
        self.blocks.iter().flatten().map(|l| l.len() + 1).sum()
    }

    pub fn lines(&self) -> impl Iterator<Item = &String> {
        self.blocks.iter().flatten()
    }
}

/// What cleaning removed, in bytes.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CleanStats {
    /// Project Gutenberg headers, footers and license text.
    pub gutenberg_bytes: u64,
    /// Lines that talk about the edition rather than tell the story
    /// ("Produced by", "Transcriber's note", leftover Gutenberg notices).
    pub boilerplate_lines: u64,
    pub boilerplate_bytes: u64,
    /// Mojibake sequences repaired (UTF-8 that was read as Windows-1252, like `â€”` for `—`).
    #[serde(default)]
    pub mojibake_repaired: u64,
}

/// The byte Windows-1252 (with Latin-1 for its five undefined codes) encodes `c` as, if any.
fn cp1252_byte(c: char) -> Option<u8> {
    const HIGH: [char; 32] = [
        '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8d}', 'Ž', '\u{8f}', '\u{90}', '‘',
        '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9d}', 'ž', 'Ÿ',
    ];
    match c as u32 {
        0..=0x7f | 0xa0..=0xff => Some(c as u8),
        _ => HIGH.iter().position(|&h| h == c).map(|i| 0x80 + i as u8),
    }
}

/// Repairs mojibake: UTF-8 text that was once decoded as Windows-1252 (or
/// Latin-1), such as `â€”` for `—`, `Ã©` for `é`, `â€™` for `’`. A run of
/// characters is replaced only when its Windows-1252 bytes are one whole
/// multi-byte UTF-8 character, so a real `Ã` or `â` followed by ordinary
/// text stays as it is. Returns the text and how many characters were repaired.
pub fn repair_mojibake(text: &str) -> (std::borrow::Cow<'_, str>, u64) {
    // Every mojibake run starts with one of these (UTF-8 lead bytes 0xC2-0xF4 as Latin-1).
    if !text.chars().any(|c| ('\u{c2}'..='\u{f4}').contains(&c)) {
        return (std::borrow::Cow::Borrowed(text), 0);
    }
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut repaired = 0;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let need = match cp1252_byte(c) {
            Some(0xc2..=0xdf) => 2,
            Some(0xe0..=0xef) => 3,
            Some(0xf0..=0xf4) => 4,
            _ => 0,
        };
        if need > 0 && i + need <= chars.len() {
            let bytes: Option<Vec<u8>> = chars[i..i + need].iter().map(|&c| cp1252_byte(c)).collect();
            if let Some(Ok(fixed)) = bytes.map(String::from_utf8) {
                out.push_str(&fixed);
                repaired += 1;
                i += need;
                continue;
            }
        }
        // `”` is E2 80 9D, and 0x9D has no Windows-1252 character, so a
        // conversion that dropped it left `â€` alone: that pair is `”`.
        if c == 'â' && chars.get(i + 1) == Some(&'€') {
            out.push('\u{201d}');
            repaired += 1;
            i += 2;
            continue;
        }
        out.push(c);
        i += 1;
    }
    (std::borrow::Cow::Owned(out), repaired)
}

fn gutenberg_start() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"(?im)^\s*\*{3}\s*START OF (THE|THIS) PROJECT GUTENBERG.*$|^\s*\*+\s*END\*?\s*THE SMALL PRINT.*$|^\s*\*+START\*+THE SMALL PRINT.*$",
        )
        .expect("valid regex")
    })
}

fn gutenberg_end() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"(?im)^\s*\*{3}\s*END OF (THE|THIS) PROJECT GUTENBERG.*$|^\s*\**\s*End of (the |this )?Project Gutenberg.*$|^\s*End of the Project Gutenberg.*$",
        )
        .expect("valid regex")
    })
}

fn boilerplate_line() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"(?i)project gutenberg|gutenberg\.(org|net)|^produced by\b|^e-?text prepared by|transcriber'?s note|^\[?illustration|www\.|https?://|this e-?book is for the use of",
        )
        .expect("valid regex")
    })
}

/// Strips a Project Gutenberg header and footer when the text has them.
/// Returns the body and the number of bytes removed.
pub fn strip_gutenberg(text: &str) -> (&str, u64) {
    let half = floor_char_boundary(text, text.len() / 2);
    if !text[..half].to_ascii_lowercase().contains("gutenberg") {
        return (text, 0);
    }
    // The last start marker in the first half: old etexts put the license
    // ("small print") after the title page, closed by its own END marker.
    let start = gutenberg_start().find_iter(text).take_while(|m| m.start() < half).last().map(|m| m.end()).unwrap_or(0);
    let end = gutenberg_end().find_at(text, start).map(|m| m.start()).unwrap_or(text.len());
    let body = &text[start..end.max(start)];
    (body, (text.len() - body.len()) as u64)
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Cleans raw text into blocks of lines.
pub fn clean(raw: &str, stats: &mut CleanStats) -> Document {
    let (text, repaired) = repair_mojibake(raw.trim_start_matches('\u{feff}'));
    stats.mojibake_repaired += repaired;
    let (body, gutenberg) = strip_gutenberg(&text);
    stats.gutenberg_bytes += gutenberg;

    let mut blocks = Vec::new();
    let mut current: Vec<String> = Vec::new();
    for raw_line in body.split('\n') {
        let line = normalize_line(raw_line);
        if line.is_empty() {
            if !current.is_empty() {
                blocks.push(unwrap_prose(std::mem::take(&mut current)));
            }
        } else {
            current.push(line);
        }
    }
    if !current.is_empty() {
        blocks.push(unwrap_prose(current));
    }
    // Judged after unwrapping, so a notice wrapped over two lines is seen whole.
    for block in blocks.iter_mut() {
        block.retain(|line| {
            let boilerplate = boilerplate_line().is_match(line);
            if boilerplate {
                stats.boilerplate_lines += 1;
                stats.boilerplate_bytes += line.len() as u64 + 1;
            }
            !boilerplate
        });
    }
    blocks.retain(|b| !b.is_empty());
    Document { blocks }
}

/// Trims a line, turns tabs and odd spaces into one space, drops control
/// characters and collapses runs of spaces.
fn normalize_line(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut pending_space = false;
    for c in line.chars() {
        let c = match c {
            '\t' | '\u{a0}' | '\u{2000}'..='\u{200a}' | '\u{3000}' | '\u{202f}' => ' ',
            '\r' | '\u{feff}' | '\u{200b}' => continue,
            c if c.is_control() => continue,
            c => c,
        };
        if c == ' ' {
            pending_space = !out.is_empty();
        } else {
            if pending_space {
                out.push(' ');
                pending_space = false;
            }
            out.push(c);
        }
    }
    out
}

/// Joins a block's lines into one when they look like wrapped prose: several
/// lines, most of them long. Verse and lists, with short lines, stay as they are.
fn unwrap_prose(lines: Vec<String>) -> Vec<String> {
    if lines.len() < 2 {
        return lines;
    }
    // A printer's wrap: every line but the last fits a page width, and most
    // come close to it. Paragraphs written one per line (TinyStories) run
    // past the width and stay apart.
    let body = &lines[..lines.len() - 1];
    let widths: Vec<usize> = body.iter().map(|l| l.chars().count()).collect();
    let fits = widths.iter().all(|&w| w <= 80);
    let near_full = widths.iter().filter(|&&w| w >= 45).count();
    if fits && near_full * 4 >= body.len() * 3 {
        vec![lines.join(" ")]
    } else {
        lines
    }
}

/// Splits a long document into sections of at most `max_bytes` at block
/// boundaries (a block longer than that becomes a section of its own), so a
/// book does not land whole in validation and windows see document ends.
pub fn split_sections(doc: Document, max_bytes: usize) -> Vec<Document> {
    if doc.byte_len() <= max_bytes {
        return vec![doc];
    }
    let mut sections = Vec::new();
    let mut current = Document::default();
    let mut size = 0;
    for block in doc.blocks {
        let block_size: usize = block.iter().map(|l| l.len() + 1).sum::<usize>() + 1;
        if size > 0 && size + block_size > max_bytes {
            sections.push(std::mem::take(&mut current));
            size = 0;
        }
        size += block_size;
        current.blocks.push(block);
    }
    if !current.blocks.is_empty() {
        sections.push(current);
    }
    sections
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_modern_gutenberg_header_and_footer() {
        let text = "The Project Gutenberg eBook of Tales\n\nLicense blah.\n\n*** START OF THE PROJECT GUTENBERG EBOOK TALES ***\n\nOnce upon a time.\n\n*** END OF THE PROJECT GUTENBERG EBOOK TALES ***\n\nMore license.\n";
        let mut stats = CleanStats::default();
        let doc = clean(text, &mut stats);
        assert_eq!(doc.render(), "Once upon a time.");
        assert!(stats.gutenberg_bytes > 50);
    }

    #[test]
    fn strips_old_small_print_header() {
        let text = "The Project Gutenberg Etext of Heidi\n\nblah\n***START**THE SMALL PRINT!**FOR PUBLIC DOMAIN ETEXTS**START***\nlawyers\n*END THE SMALL PRINT! FOR PUBLIC DOMAIN ETEXTS*Ver.04.07.00*END*\n\nHEIDI\n\nHeidi went up the mountain.\n\nEnd of The Project Gutenberg Etext of Heidi\n";
        let doc = clean(text, &mut CleanStats::default());
        assert_eq!(doc.render(), "HEIDI\n\nHeidi went up the mountain.");
    }

    #[test]
    fn text_without_gutenberg_is_untouched_by_stripping() {
        let (body, removed) = strip_gutenberg("Just a story about a boy.");
        assert_eq!((body, removed), ("Just a story about a boy.", 0));
    }

    #[test]
    fn unwraps_prose_but_keeps_verse() {
        let text = "It was the best of times, it was the worst of times, it was\nthe age of wisdom, it was the age of foolishness, it was the\nepoch of belief.\r\n\r\nHumpty Dumpty sat on a wall,\nHumpty Dumpty had a great fall.\n";
        let doc = clean(text, &mut CleanStats::default());
        assert_eq!(doc.blocks.len(), 2);
        assert_eq!(doc.blocks[0].len(), 1);
        assert!(doc.blocks[0][0].starts_with("It was the best") && doc.blocks[0][0].ends_with("belief."));
        assert_eq!(doc.blocks[1].len(), 2);
    }

    #[test]
    fn normalizes_whitespace_and_controls() {
        assert_eq!(normalize_line("  a\t\tb \u{a0} c\u{7}  "), "a b c");
        let doc = clean("\u{feff}\n\n\nx\n\n\n\ny\n", &mut CleanStats::default());
        assert_eq!(doc.render(), "x\n\ny");
    }

    #[test]
    fn boilerplate_lines_are_counted() {
        let mut stats = CleanStats::default();
        let doc = clean("Produced by Some Volunteers\n\nThe cat sat.", &mut stats);
        assert_eq!(doc.render(), "The cat sat.");
        assert_eq!(stats.boilerplate_lines, 1);
    }

    #[test]
    fn long_documents_split_at_blocks() {
        let doc = Document { blocks: (0..10).map(|i| vec![format!("block {i} {}", "x".repeat(90))]).collect() };
        let sections = split_sections(doc.clone(), 300);
        assert!(sections.len() >= 3);
        assert!(sections.iter().all(|s| s.byte_len() <= 300));
        let rejoined: Vec<_> = sections.into_iter().flat_map(|s| s.blocks).collect();
        assert_eq!(rejoined, doc.blocks);
    }

    #[test]
    fn mojibake_is_repaired_and_real_accents_stay() {
        let (fixed, n) = repair_mojibake("She said â€œhelloâ€\u{9d} â€” and Ã©tÃ© cafÃ© itâ€™s, â€œyesâ€ ok");
        assert_eq!(fixed, "She said \u{201c}hello\u{201d} \u{2014} and été café it\u{2019}s, \u{201c}yes\u{201d} ok");
        assert_eq!(n, 9);
        // Real Latin-1 text: a lead-byte letter not followed by continuation characters stays.
        let (same, n) = repair_mojibake("Ã la carte, â bientôt, café, naïve");
        assert_eq!((same.as_ref(), n), ("Ã la carte, â bientôt, café, naïve", 0));
        assert!(matches!(repair_mojibake("plain text").0, std::borrow::Cow::Borrowed(_)));
        let mut stats = CleanStats::default();
        let doc = clean("The end â€” or not.", &mut stats);
        assert_eq!(doc.render().trim(), "The end \u{2014} or not.");
        assert_eq!(stats.mojibake_repaired, 1);
    }

    /// The lower-cased TinyStories slice has mojibake on about 1,100 lines,
    /// all of it Windows-1252 readings of `’ “ ” —`: every sequence is repaired.
    #[test]
    fn mojibake_in_the_lower_cased_tinystories_slice() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/data/pretrain/tinystories-v1-train-lowercase");
        let Ok(entries) = std::fs::read_dir(&dir) else { return };
        let mut total = 0;
        for e in entries.flatten() {
            if let Ok(text) = std::fs::read_to_string(e.path()) {
                let (fixed, n) = repair_mojibake(&text);
                assert_eq!(n as usize, text.matches("â€").count(), "{}", e.path().display());
                assert!(!fixed.contains("â€"), "a mojibake sequence was left in {}", e.path().display());
                total += n;
            }
        }
        eprintln!("repaired {total} mojibake sequences in {}", dir.display());
        assert!(total > 2_000, "{total}");
    }
}
