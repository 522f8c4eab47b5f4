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
    let text = raw.trim_start_matches('\u{feff}');
    let (body, gutenberg) = strip_gutenberg(text);
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
}
