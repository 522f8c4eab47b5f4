//! Getting text out of a person's files: plain text, Markdown, HTML and PDF.
//!
//! Indexing walks whatever files and folders the user names ([`collect_files`]), reads each
//! file with a size cap ([`read_limited`]) and turns its bytes into plain text ([`extract`]).
//! A file that cannot be used is not an error: it becomes a [`Skip`] with a short reason, so a
//! folder with one broken PDF still gets indexed and the user is told what was left out and why.
//!
//! Choices, and why:
//! - The walk is sorted and skips hidden entries (`.git`, `.venv`, editor swap files), so the
//!   same folder always gives the same index, and tool clutter stays out of it. Symlinks to
//!   folders are not followed, which rules out cycles.
//! - Text and Markdown must be UTF-8 (or UTF-16 with a byte-order mark, as Windows editors
//!   write it). Anything else is taken for binary rather than guessed at: indexing a binary file
//!   as mojibake would put garbage into the answers. Markdown is kept as written: its markup is
//!   readable, and its headings are good words for BM25.
//! - Text and Markdown keep their line structure (only trailing spaces go), so a chunk's line
//!   number points at the same line in the user's editor. HTML and PDF have no such lines to keep,
//!   so there runs of blank lines are also folded into one.
//! - HTML goes through `html2text` at a very wide width, so a paragraph stays one line and
//!   paragraphs are separated by a blank line, which is what the chunker splits on. Our own
//!   decorator drops link brackets, link footnotes and emphasis marks, but writes headings as
//!   `# Title` and list items as `- item` / `1. item`, so they read as in Markdown and the chunker
//!   keeps them as units of their own. `<script>`, `<style>` and `<head>` are dropped by html2text
//!   itself. HTML that is not UTF-8 is read as Latin-1: old pages are often in a legacy charset,
//!   and Latin-1 keeps their text readable.
//! - PDF goes through `pdf-extract`, which panics on many malformed files (a font the page does
//!   not define is enough); the panic is caught, kept off stderr, and reported as a skip.

use std::cell::Cell;
use std::fmt;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::RagError;

/// The kinds of document fledge can read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DocKind {
    Text,
    Markdown,
    Html,
    Pdf,
}

impl DocKind {
    /// From the file extension (case-insensitive): txt/text -> Text, md/markdown -> Markdown,
    /// html/htm/xhtml -> Html, pdf -> Pdf; anything else None.
    pub fn from_path(path: &Path) -> Option<DocKind> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "txt" | "text" => Some(DocKind::Text),
            "md" | "markdown" => Some(DocKind::Markdown),
            "html" | "htm" | "xhtml" => Some(DocKind::Html),
            "pdf" => Some(DocKind::Pdf),
            _ => None,
        }
    }
}

/// Why a file is left out of the index. `Display` gives a short reason for the user.
#[derive(Debug, Clone, PartialEq)]
pub enum Skip {
    /// The file's extension (without the dot; empty when it has none) is not one fledge reads.
    Unsupported(String),
    /// The file could not be read; the I/O error's text.
    Unreadable(String),
    /// The bytes are not text: not UTF-8, or they contain NUL bytes.
    Binary,
    /// The file is bigger than the limit (both in bytes).
    TooLarge { bytes: u64, limit: u64 },
    /// Nothing but whitespace came out (an empty file, a scanned PDF without a text layer).
    NoText,
    /// The extractor failed; the whole message, e.g. "PDF text extraction failed: `<reason>`".
    Extraction(String),
    /// The file's path is not valid UTF-8, and the index records paths as text.
    NameNotUtf8,
    /// A symbolic link, found in a folder, to a file outside every folder given.
    /// It is not followed: the document would sit outside the index's roots,
    /// where `fledge index remove` of the folder would never reach it.
    LinkOutside(PathBuf),
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const READS: &str = "fledge reads .txt, .md, .html, .pdf";
        // Megabytes of 10^6 bytes, the unit of --max-file-mb.
        let mb = |bytes: u64| bytes as f64 / 1e6;
        match self {
            Skip::Unsupported(ext) => match ext.trim_start_matches('.') {
                "" => write!(f, "unsupported file type: no extension ({READS})"),
                ext => write!(f, "unsupported file type .{ext} ({READS})"),
            },
            Skip::Unreadable(err) => write!(f, "unreadable: {err}"),
            Skip::Binary => write!(f, "binary (not text)"),
            Skip::TooLarge { bytes, limit } => {
                write!(f, "too large: {:.1} MB over the {:.1} MB limit (raise --max-file-mb)", mb(*bytes), mb(*limit))
            }
            Skip::NoText => write!(f, "no extractable text"),
            Skip::Extraction(message) => write!(f, "{message}"),
            Skip::NameNotUtf8 => {
                write!(f, "the file name is not valid UTF-8 (the index records names as text; rename the file)")
            }
            Skip::LinkOutside(target) => write!(
                f,
                "a link to {}, outside the folders given: not followed (add that file or its folder itself)",
                target.display()
            ),
        }
    }
}

impl Skip {
    /// A short stable key for counting skips by reason.
    pub fn key(&self) -> &'static str {
        match self {
            Skip::Unsupported(_) => "unsupported",
            Skip::Unreadable(_) => "unreadable",
            Skip::Binary => "binary",
            Skip::TooLarge { .. } => "too-large",
            Skip::NoText => "no-text",
            Skip::Extraction(_) => "extraction",
            Skip::NameNotUtf8 => "name-not-utf8",
            Skip::LinkOutside(_) => "link-outside",
        }
    }
}

/// Walks the given files and folders and returns every regular file found, whatever its
/// extension (the caller reports the unsupported ones), each once, in the order given.
///
/// Folders are walked recursively in sorted order; hidden entries (names starting with '.')
/// inside them are not entered, and symlinks to folders are not followed. A path named
/// explicitly is used even when hidden. A path that does not exist is an error naming it.
pub fn collect_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, RagError> {
    let mut files = Vec::new();
    for path in paths {
        // Follows a symlink: a link the user names is meant to be used.
        let meta = fs::metadata(path).map_err(|err| RagError::io(path, err))?;
        if meta.is_dir() {
            walk(path, &mut files)?;
        } else if meta.is_file() {
            files.push(path.clone());
        } else {
            return Err(RagError::Invalid(format!(
                "{}: is neither a file nor a folder; point fledge at documents or folders of them",
                path.display()
            )));
        }
    }
    // The same file named twice (say a folder and a file in it) must not be indexed twice.
    let mut seen = std::collections::HashSet::new();
    files.retain(|file| seen.insert(fs::canonicalize(file).unwrap_or_else(|_| file.clone())));
    Ok(files)
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), RagError> {
    let mut entries = fs::read_dir(dir)
        .and_then(|entries| entries.collect::<io::Result<Vec<_>>>())
        .map_err(|err| RagError::io(dir, err))?;
    entries.sort_by_key(|entry| entry.file_name());
    for entry in entries {
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        let file_type = entry.file_type().map_err(|err| RagError::io(&path, err))?;
        if file_type.is_dir() {
            walk(&path, files)?;
        } else if file_type.is_file() {
            files.push(path);
        } else if file_type.is_symlink() {
            // A link to a file is used; a link to a folder is not followed (it could loop), and a
            // dangling link or a link to a device is not a document.
            if fs::metadata(&path).is_ok_and(|meta| meta.is_file()) {
                files.push(path);
            }
        }
    }
    Ok(())
}

/// Reads a file's bytes, refusing files over `max_bytes` without reading them.
pub fn read_limited(path: &Path, max_bytes: u64) -> Result<Vec<u8>, Skip> {
    let unreadable = |err: io::Error| Skip::Unreadable(err.to_string());
    let file = fs::File::open(path).map_err(unreadable)?;
    let len = file.metadata().map_err(unreadable)?.len();
    if len > max_bytes {
        return Err(Skip::TooLarge { bytes: len, limit: max_bytes });
    }
    // The file may grow between the size check and the read; read one byte past the limit to notice.
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(max_bytes.saturating_add(1)).read_to_end(&mut bytes).map_err(unreadable)?;
    if bytes.len() as u64 > max_bytes {
        return Err(Skip::TooLarge { bytes: bytes.len() as u64, limit: max_bytes });
    }
    Ok(bytes)
}

/// Extracts the text of a document from its bytes, by kind.
///
/// Text and Markdown must be UTF-8 (or UTF-16 with a byte-order mark); a leading BOM is dropped,
/// CRLF and CR become `\n`, and bytes that are not text (invalid UTF-8, NUL bytes) are
/// [`Skip::Binary`]. HTML becomes plain paragraphs separated by blank lines; PDF text comes from
/// `pdf-extract`, whose failures (panics included) are [`Skip::Extraction`]. Trailing whitespace
/// is trimmed from every line; for HTML and PDF, runs of blank lines become one. A document with
/// no non-whitespace text is [`Skip::NoText`].
pub fn extract(kind: DocKind, bytes: &[u8]) -> Result<String, Skip> {
    let text = match kind {
        DocKind::Text | DocKind::Markdown => decode_text(bytes)?,
        DocKind::Html => html_text(bytes)?,
        DocKind::Pdf => pdf_text(bytes)?,
    };
    let fold_blank_lines = matches!(kind, DocKind::Html | DocKind::Pdf);
    let text = normalise(&text, fold_blank_lines);
    if text.is_empty() {
        return Err(Skip::NoText);
    }
    Ok(text)
}

/// Strict decoding for text files: UTF-8, or UTF-16 when a byte-order mark says so.
fn decode_text(bytes: &[u8]) -> Result<String, Skip> {
    let text = match decode_bom(bytes) {
        Some(decoded) => decoded?,
        None => std::str::from_utf8(bytes).map_err(|_| Skip::Binary)?.to_string(),
    };
    if text.contains('\0') {
        return Err(Skip::Binary);
    }
    Ok(text)
}

/// Decodes bytes that start with a byte-order mark (which is dropped); None when there is none.
fn decode_bom(bytes: &[u8]) -> Option<Result<String, Skip>> {
    fn utf16(bytes: &[u8], unit: fn([u8; 2]) -> u16) -> Result<String, Skip> {
        if bytes.len() % 2 != 0 {
            return Err(Skip::Binary);
        }
        let units: Vec<u16> = bytes.chunks_exact(2).map(|pair| unit([pair[0], pair[1]])).collect();
        String::from_utf16(&units).map_err(|_| Skip::Binary)
    }
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return Some(std::str::from_utf8(rest).map(str::to_string).map_err(|_| Skip::Binary));
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE") {
        return Some(utf16(rest, u16::from_le_bytes));
    }
    bytes.strip_prefix(b"\xFE\xFF").map(|rest| utf16(rest, u16::from_be_bytes))
}

/// Wide enough that html2text never wraps a paragraph: the chunker wants one paragraph per line.
const HTML_WIDTH: usize = 10_000;

fn html_text(bytes: &[u8]) -> Result<String, Skip> {
    let html = match decode_bom(bytes) {
        Some(decoded) => decoded?,
        None => match std::str::from_utf8(bytes) {
            Ok(html) => html.to_string(),
            Err(_) => bytes.iter().map(|&byte| char::from(byte)).collect(),
        },
    };
    if html.contains('\0') {
        return Err(Skip::Binary);
    }
    let config = html2text::config::with_decorator(MarkdownishDecorator)
        // Deeply nested lists and tables may need more than the width; better wide than an error.
        .allow_width_overflow()
        .no_table_borders();
    match config.string_from_read(html.as_bytes(), HTML_WIDTH) {
        // `&nbsp;` comes out as U+00A0, which our own tokenizer may never have seen.
        Ok(text) => Ok(text.replace('\u{a0}', " ")),
        // html2text's way of saying the document renders to nothing.
        Err(html2text::Error::Fail) => Err(Skip::NoText),
        Err(err) => Err(Skip::Extraction(format!("HTML conversion failed: {err}"))),
    }
}

/// Plain text with Markdown's block marks (headings, list items) and no inline ones.
#[derive(Clone, Copy)]
struct MarkdownishDecorator;

impl html2text::render::TextDecorator for MarkdownishDecorator {
    type Annotation = ();

    fn decorate_link_start(&mut self, _url: &str) -> (String, ()) {
        (String::new(), ())
    }
    fn decorate_link_end(&mut self) -> String {
        String::new()
    }
    fn decorate_em_start(&self) -> (String, ()) {
        (String::new(), ())
    }
    fn decorate_em_end(&self) -> String {
        String::new()
    }
    fn decorate_strong_start(&self) -> (String, ()) {
        (String::new(), ())
    }
    fn decorate_strong_end(&self) -> String {
        String::new()
    }
    fn decorate_strikeout_start(&self) -> (String, ()) {
        (String::new(), ())
    }
    fn decorate_strikeout_end(&self) -> String {
        String::new()
    }
    fn decorate_code_start(&self) -> (String, ()) {
        (String::new(), ())
    }
    fn decorate_code_end(&self) -> String {
        String::new()
    }
    fn decorate_preformat_first(&self) {}
    fn decorate_preformat_cont(&self) {}
    fn decorate_image(&mut self, _src: &str, title: &str) -> (String, ()) {
        (title.to_string(), ())
    }
    fn header_prefix(&self, level: usize) -> String {
        "#".repeat(level) + " "
    }
    fn quote_prefix(&self) -> String {
        String::new()
    }
    fn unordered_item_prefix(&self) -> String {
        "- ".to_string()
    }
    fn ordered_item_prefix(&self, i: i64) -> String {
        format!("{i}. ")
    }
    fn make_subblock_decorator(&self) -> Self {
        *self
    }
    fn finalise(&mut self, _urls: Vec<String>) -> Vec<html2text::render::TaggedLine<()>> {
        Vec::new()
    }
}

fn pdf_text(bytes: &[u8]) -> Result<String, Skip> {
    let failed = |reason: String| Skip::Extraction(format!("PDF text extraction failed: {reason}"));
    match catch_quietly(|| pdf_extract::extract_text_from_mem(bytes)) {
        Ok(Ok(text)) => Ok(text),
        Ok(Err(err)) => Err(failed(err.to_string())),
        Err(panic) => {
            let reason = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "the PDF reader crashed".to_string());
            Err(failed(format!("malformed PDF ({reason})")))
        }
    }
}

thread_local! {
    static QUIET_PANICS: Cell<bool> = const { Cell::new(false) };
}

/// `catch_unwind` without the panic message on stderr: a malformed PDF is an ordinary skip,
/// reported with its reason, not a crash report with a backtrace.
///
/// The panic hook is process-wide, so swapping it around each call would race with other
/// threads; instead a hook installed once stays silent only on a thread that is inside this
/// function, and hands every other panic to the hook that was there before.
fn catch_quietly<T>(f: impl FnOnce() -> T + std::panic::UnwindSafe) -> std::thread::Result<T> {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET_PANICS.with(Cell::get) {
                previous(info);
            }
        }));
    });
    QUIET_PANICS.with(|quiet| quiet.set(true));
    let result = std::panic::catch_unwind(f);
    QUIET_PANICS.with(|quiet| quiet.set(false));
    result
}

/// One `\n` per line end, no trailing whitespace on any line and none at the end of the text.
/// With `fold_blank_lines`, runs of blank lines become one and leading ones go; without, they
/// are kept so that line numbers still match the file.
fn normalise(text: &str, fold_blank_lines: bool) -> String {
    // A CR before \n ends a CRLF line; any other CR is an old Mac line end.
    let lines = text.split('\n').flat_map(|line| line.strip_suffix('\r').unwrap_or(line).split('\r'));
    let mut out = String::with_capacity(text.len());
    let mut blanks = 0;
    let mut seen_text = false;
    for line in lines {
        let line = line.trim_end();
        if line.is_empty() {
            blanks += 1;
            continue;
        }
        if seen_text {
            out.push('\n');
        }
        let kept_blanks = match (fold_blank_lines, seen_text) {
            (false, _) => blanks,
            (true, true) => blanks.min(1),
            (true, false) => 0,
        };
        out.extend(std::iter::repeat('\n').take(kept_blanks));
        out.push_str(line);
        seen_text = true;
        blanks = 0;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_come_from_extensions() {
        assert_eq!(DocKind::from_path(Path::new("a/notes.TXT")), Some(DocKind::Text));
        assert_eq!(DocKind::from_path(Path::new("x.text")), Some(DocKind::Text));
        assert_eq!(DocKind::from_path(Path::new("README.md")), Some(DocKind::Markdown));
        assert_eq!(DocKind::from_path(Path::new("b.Markdown")), Some(DocKind::Markdown));
        assert_eq!(DocKind::from_path(Path::new("page.htm")), Some(DocKind::Html));
        assert_eq!(DocKind::from_path(Path::new("page.XHTML")), Some(DocKind::Html));
        assert_eq!(DocKind::from_path(Path::new("paper.pdf")), Some(DocKind::Pdf));
        assert_eq!(DocKind::from_path(Path::new("report.docx")), None);
        assert_eq!(DocKind::from_path(Path::new("Makefile")), None);
        assert_eq!(serde_json::to_string(&DocKind::Markdown).unwrap(), "\"markdown\"");
    }

    #[test]
    fn skips_explain_themselves() {
        assert_eq!(
            Skip::Unsupported("docx".into()).to_string(),
            "unsupported file type .docx (fledge reads .txt, .md, .html, .pdf)"
        );
        assert_eq!(
            Skip::TooLarge { bytes: 80_000_000, limit: 50_000_000 }.to_string(),
            "too large: 80.0 MB over the 50.0 MB limit (raise --max-file-mb)"
        );
        assert_eq!(Skip::Binary.to_string(), "binary (not text)");
        assert_eq!(Skip::NoText.to_string(), "no extractable text");
        assert_eq!(Skip::TooLarge { bytes: 1, limit: 0 }.key(), "too-large");
        assert_eq!(Skip::NoText.key(), "no-text");
    }

    #[test]
    fn text_is_decoded_and_normalised() {
        let text = extract(DocKind::Text, b"\xEF\xBB\xBFone  \r\ntwo\rthree\r\n\r\n\r\n\r\nfour \t\n\n").unwrap();
        // Blank lines stay in plain text so that line numbers match the file.
        assert_eq!(text, "one\ntwo\nthree\n\n\n\nfour");
        let utf16: Vec<u8> =
            [0xFF, 0xFE].into_iter().chain("héllo\r\n".encode_utf16().flat_map(u16::to_le_bytes)).collect();
        assert_eq!(extract(DocKind::Text, &utf16).unwrap(), "héllo");
    }

    #[test]
    fn markdown_is_kept_as_written() {
        let md = "# Title\n\nSome *emphasis* and a [link](http://x.org).\n\n- item\n";
        assert_eq!(extract(DocKind::Markdown, md.as_bytes()).unwrap(), md.trim_end());
    }

    #[test]
    fn binary_and_empty_files_are_skipped() {
        assert_eq!(extract(DocKind::Text, b"PK\x03\x04\x00\x00binary"), Err(Skip::Binary));
        assert_eq!(extract(DocKind::Text, b"caf\xe9 au lait"), Err(Skip::Binary));
        assert_eq!(extract(DocKind::Markdown, b"\xFF\xFEa"), Err(Skip::Binary));
        assert_eq!(extract(DocKind::Text, b""), Err(Skip::NoText));
        assert_eq!(extract(DocKind::Markdown, b" \n\t\r\n \xC2\xA0 \n"), Err(Skip::NoText));
        assert_eq!(extract(DocKind::Html, b"<html><body>  <p> </p></body></html>"), Err(Skip::NoText));
        assert_eq!(extract(DocKind::Html, b""), Err(Skip::NoText));
    }

    #[test]
    fn html_becomes_plain_paragraphs() {
        let html = r#"<!DOCTYPE html><html><head><title>T</title>
            <style>body { color: red; }</style><script>var secret = "do not index";</script></head>
            <body><h1>The Heading</h1>
            <p>First paragraph with a <a href="https://example.com/a">link</a> and <b>bold</b>&nbsp;words.</p>
            <script>alert("also hidden")</script>
            <p>Second paragraph is long enough that a narrow renderer would wrap it, which we do not want,
            because the chunker reads one paragraph per line and a blank line between paragraphs.</p>
            <ul><li>apples</li><li>pears</li></ul>
            </body></html>"#;
        let text = extract(DocKind::Html, html.as_bytes()).unwrap();
        for hidden in ["color", "secret", "alert", "https://", "[", "*", "<"] {
            assert!(!text.contains(hidden), "{hidden:?} in {text:?}");
        }
        let paragraphs: Vec<&str> = text.split("\n\n").collect();
        assert_eq!(paragraphs[0], "# The Heading");
        assert_eq!(paragraphs[1], "First paragraph with a link and bold words.");
        let second = paragraphs[2].lines().next().unwrap();
        assert!(second.starts_with("Second paragraph") && second.ends_with("paragraphs."), "{text:?}");
        // html2text puts no blank line between a paragraph and a list that follows it.
        assert!(text.ends_with("paragraphs.\n- apples\n- pears"), "{text:?}");
        assert!(!text.contains("\n\n\n"));
    }

    #[test]
    fn html_in_a_legacy_charset_is_read_as_latin1() {
        assert_eq!(extract(DocKind::Html, b"<p>caf\xe9</p>").unwrap(), "café");
    }

    const HELVETICA: &str = "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>";

    /// A one-page PDF showing "Hello from a PDF" in Helvetica.
    fn hello_pdf() -> Vec<u8> {
        pdf_with("BT /F1 24 Tf 72 720 Td (Hello from a PDF) Tj ET", HELVETICA)
    }

    /// A one-page PDF with the given content stream and font /F1, with a correct xref table.
    fn pdf_with(content: &str, font: &str) -> Vec<u8> {
        let objects = [
            "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R \
             /Resources << /Font << /F1 5 0 R >> >> >>"
                .to_string(),
            format!("<< /Length {} >>\nstream\n{content}\nendstream", content.len()),
            font.to_string(),
        ];
        let mut pdf = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n".to_vec();
        let mut offsets = Vec::new();
        for (i, object) in objects.iter().enumerate() {
            offsets.push(pdf.len());
            pdf.extend_from_slice(format!("{} 0 obj\n{object}\nendobj\n", i + 1).as_bytes());
        }
        let xref = pdf.len();
        // Each xref entry is exactly 20 bytes: 10-digit offset, 5-digit generation, type, space, newline.
        let mut table = format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1);
        for offset in offsets {
            table.push_str(&format!("{offset:010} 00000 n \n"));
        }
        table.push_str(&format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1));
        pdf.extend_from_slice(table.as_bytes());
        pdf
    }

    #[test]
    fn pdf_text_is_extracted() {
        let text = extract(DocKind::Pdf, &hello_pdf()).unwrap();
        assert_eq!(text, "Hello from a PDF");
    }

    #[test]
    fn broken_pdfs_are_skipped_not_crashed_on() {
        let garbage: Vec<u8> = (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        assert!(matches!(extract(DocKind::Pdf, &garbage), Err(Skip::Extraction(_))));
        let mut truncated = hello_pdf();
        truncated.truncate(truncated.len() / 2);
        assert!(matches!(extract(DocKind::Pdf, &truncated), Err(Skip::Extraction(_) | Skip::NoText)));
        let err = extract(DocKind::Pdf, b"%PDF-1.4 nonsense").unwrap_err();
        assert!(err.to_string().starts_with("PDF text extraction failed: "), "{err}");
        // pdf-extract panics on a font the page does not define.
        let panics = pdf_with("BT /F9 24 Tf 72 720 Td (Hello) Tj ET", HELVETICA);
        let err = extract(DocKind::Pdf, &panics).unwrap_err();
        assert_eq!(err, Skip::Extraction("PDF text extraction failed: malformed PDF (F9)".into()));
        // and after a quiet panic, panics elsewhere on this thread are reported as usual.
        assert!(!QUIET_PANICS.with(Cell::get));
    }

    #[test]
    fn folders_are_walked_sorted_skipping_hidden_entries() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for file in
            ["b.txt", "a.md", "sub/z.html", "sub/deeper/c.pdf", ".hidden.txt", ".git/config", "sub/.cache/x.txt"]
        {
            let path = root.join(file);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, "x").unwrap();
        }
        fs::create_dir(root.join("empty")).unwrap();
        let found = collect_files(&[root.to_path_buf()]).unwrap();
        let relative: Vec<_> = found.iter().map(|path| path.strip_prefix(root).unwrap().to_path_buf()).collect();
        let expected: Vec<PathBuf> =
            ["a.md", "b.txt", "sub/deeper/c.pdf", "sub/z.html"].iter().map(PathBuf::from).collect();
        assert_eq!(relative, expected);

        // Files named directly are used even when hidden, and none is listed twice.
        let again = collect_files(&[root.join(".hidden.txt"), root.join("b.txt"), root.to_path_buf()]).unwrap();
        assert_eq!(again.len(), 5);
        assert_eq!(again[0], root.join(".hidden.txt"));
        assert_eq!(again[1], root.join("b.txt"));

        let missing = root.join("no-such-folder");
        match collect_files(std::slice::from_ref(&missing)) {
            Err(RagError::Io { path, source }) => {
                assert_eq!(path, missing);
                assert_eq!(source.kind(), io::ErrorKind::NotFound);
            }
            other => panic!("expected a NotFound error, got {other:?}"),
        }
    }

    #[cfg(unix)]
    #[test]
    fn symlinked_folders_are_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir(root.join("docs")).unwrap();
        fs::write(root.join("docs/a.txt"), "x").unwrap();
        std::os::unix::fs::symlink(root, root.join("docs/loop")).unwrap();
        std::os::unix::fs::symlink(root.join("docs/a.txt"), root.join("docs/b.txt")).unwrap();
        let found = collect_files(&[root.join("docs")]).unwrap();
        // b.txt is the same file as a.txt, so it is listed once.
        assert_eq!(found, vec![root.join("docs/a.txt")]);
    }

    #[test]
    fn large_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.txt");
        fs::write(&path, vec![b'a'; 1000]).unwrap();
        assert_eq!(read_limited(&path, 999), Err(Skip::TooLarge { bytes: 1000, limit: 999 }));
        assert_eq!(read_limited(&path, 1000).unwrap().len(), 1000);
        assert!(matches!(read_limited(&dir.path().join("gone.txt"), 1000), Err(Skip::Unreadable(_))));
    }
}
