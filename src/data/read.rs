//! Reading corpora from disk: plain text, folders, JSONL, JSON, CSV and parquet.
//!
//! Every reader turns its input into [`RawDocument`]s, pieces of text with the
//! place they came from, and nothing else: cleaning is the next step's job.
//! Formats are chosen per file from the extension unless the user names one.
//!
//! Two conventions found in public story corpora are understood in plain text:
//! a line holding only `<|endoftext|>` separates documents (TinyStories), and
//! `prompt<start>story<end>` records keep only the story (records written by an
//! LLM for hobby corpora; the prompt is instruction scaffolding, not prose).

use std::fs::{self, File};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::DataError;

/// How to interpret the files of a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Decide per file from its extension.
    #[default]
    Auto,
    /// Plain UTF-8 text (`.txt`, `.md`, anything unknown).
    Text,
    /// Plain text with one document per block of lines: a line break that
    /// is not part of a blank line ends a document, and blank lines separate
    /// the paragraphs inside one (the lower-cased TinyStories slice, which
    /// has no `<|endoftext|>` lines). Never chosen from an extension: hard-
    /// wrapped text (Gutenberg's) would fall apart into lines.
    Lines,
    /// One JSON object per line, text in a field.
    Jsonl,
    /// One JSON object (or an array of them) per file, text in a field.
    Json,
    /// Comma-separated values with a header row, text in a column.
    Csv,
    /// Apache Parquet as published on dataset hubs, text in a column.
    Parquet,
}

/// Options that say how to read one source.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    pub format: Format,
    /// Field or column holding the text. `None` tries `text`, `body`,
    /// `content` and `story` in that order.
    pub field: Option<String>,
    /// Glob patterns on file names (`*` and `?`); empty means all files.
    pub include: Vec<String>,
    /// Replace invalid UTF-8 with U+FFFD instead of refusing the file.
    pub lossy: bool,
}

/// A piece of text as found on disk, before any cleaning.
#[derive(Debug, Clone)]
pub struct RawDocument {
    /// Where it came from: a path, with a line or record number when useful.
    pub origin: String,
    pub text: String,
    /// The prompt a record's text answers (`prompt<start>text<end>`), kept
    /// for the chat stage as an instruction.
    pub instruction: Option<String>,
}

/// What reading one source saw.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ReadStats {
    pub files: usize,
    /// Files in a folder that were not read (licenses, READMEs, unknown kinds).
    pub files_skipped: Vec<String>,
    pub bytes: u64,
    pub documents: usize,
    /// Bytes of `<prompt><start>` scaffolding that was dropped.
    pub scaffolding_bytes: u64,
}

const DEFAULT_FIELDS: [&str; 4] = ["text", "body", "content", "story"];

/// Files in a folder that describe the data rather than hold it.
fn is_metadata_file(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    ["license", "licence", "copying", "readme", "source", "notice", "credits"].iter().any(|p| lower.starts_with(p))
        || lower.ends_with("__license")
        || name.starts_with('.')
}

fn known_extension(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()).map(|e| e.to_ascii_lowercase()).as_deref(),
        Some("txt" | "md" | "text" | "jsonl" | "json" | "csv" | "parquet")
    )
}

/// Matches `name` against a glob with `*` (any run) and `?` (one character).
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Iterative matcher with backtracking to the last star: linear in practice.
    let (mut pi, mut ni) = (0, 0);
    let (mut star, mut star_n) = (None, 0);
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            star_n = ni;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            star_n += 1;
            ni = star_n;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// Lists the files a source path stands for, sorted so runs are reproducible.
pub fn list_files(path: &Path, options: &ReadOptions, stats: &mut ReadStats) -> Result<Vec<PathBuf>, DataError> {
    let meta = fs::metadata(path).map_err(|e| DataError::io(path, e))?;
    if meta.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let mut entries: Vec<_> = fs::read_dir(&dir)
            .map_err(|e| DataError::io(&dir, e))?
            .collect::<Result<_, _>>()
            .map_err(|e| DataError::io(&dir, e))?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let p = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if p.is_dir() {
                if !name.starts_with('.') {
                    stack.push(p);
                }
                continue;
            }
            let included = options.include.is_empty() || options.include.iter().any(|g| glob_match(g, &name));
            if !included {
                continue;
            }
            if is_metadata_file(&name) || !known_extension(&p) {
                stats.files_skipped.push(p.display().to_string());
                continue;
            }
            files.push(p);
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(DataError::EmptySource {
            path: path.to_path_buf(),
            why: if options.include.is_empty() {
                "the folder holds no .txt, .md, .jsonl, .json, .csv or .parquet files".into()
            } else {
                format!("no file name matches {:?}", options.include)
            },
        });
    }
    Ok(files)
}

/// Reads every document under `path` (a file or a folder), calling `emit` for each.
pub fn read_source(
    path: &Path,
    options: &ReadOptions,
    mut emit: impl FnMut(RawDocument),
) -> Result<ReadStats, DataError> {
    let mut stats = ReadStats::default();
    let files = list_files(path, options, &mut stats)?;
    for file in files {
        let format = match options.format {
            Format::Auto => format_from_extension(&file),
            f => f,
        };
        stats.files += 1;
        stats.bytes += fs::metadata(&file).map_err(|e| DataError::io(&file, e))?.len();
        let mut count = |doc: RawDocument| {
            stats.documents += 1;
            emit(doc)
        };
        match format {
            Format::Auto | Format::Text => {
                let text = read_text_file(&file, options.lossy)?;
                stats.scaffolding_bytes += split_text(&file.display().to_string(), &text, &mut count);
            }
            Format::Lines => {
                let text = read_text_file(&file, options.lossy)?;
                split_lines(&file.display().to_string(), &text, &mut count);
            }
            Format::Jsonl => read_jsonl(&file, options, &mut count)?,
            Format::Json => read_json(&file, options, &mut count)?,
            Format::Csv => read_csv(&file, options, &mut count)?,
            Format::Parquet => read_parquet(&file, options, &mut count)?,
        }
    }
    Ok(stats)
}

pub fn format_from_extension(path: &Path) -> Format {
    match path.extension().and_then(|e| e.to_str()).map(|e| e.to_ascii_lowercase()).as_deref() {
        Some("jsonl") => Format::Jsonl,
        Some("json") => Format::Json,
        Some("csv") => Format::Csv,
        Some("parquet") => Format::Parquet,
        _ => Format::Text,
    }
}

/// Decodes bytes as UTF-8, naming the file and byte offset of the first bad byte.
pub fn decode_utf8(path: &Path, bytes: Vec<u8>, lossy: bool) -> Result<String, DataError> {
    match String::from_utf8(bytes) {
        Ok(s) => Ok(s),
        Err(e) if lossy => Ok(String::from_utf8_lossy(e.as_bytes()).into_owned()),
        Err(e) => {
            let offset = e.utf8_error().valid_up_to();
            let bytes = e.as_bytes();
            let line = bytes[..offset].iter().filter(|&&b| b == b'\n').count() + 1;
            Err(DataError::NotUtf8 { path: path.to_path_buf(), offset, line })
        }
    }
}

/// A text file's contents, as UTF-8 (see [`decode_utf8`]).
fn read_text_file(path: &Path, lossy: bool) -> Result<String, DataError> {
    let bytes = fs::read(path).map_err(|e| DataError::io(path, e))?;
    decode_utf8(path, bytes, lossy)
}

/// Splits a text file into documents by the conventions described at the top
/// of this module. Returns the number of scaffolding bytes dropped.
pub fn split_text(origin: &str, text: &str, emit: &mut impl FnMut(RawDocument)) -> u64 {
    if text.contains("<start>") && text.contains("<end>") {
        let mut scaffolding = 0u64;
        let mut rest = text;
        let mut n = 0;
        while let Some(start) = rest.find("<start>") {
            scaffolding += (start + "<start>".len()) as u64;
            let body = &rest[start + "<start>".len()..];
            let end = body.find("<end>").unwrap_or(body.len());
            n += 1;
            let prompt = rest[..start].trim();
            emit(RawDocument {
                origin: format!("{origin} record {n}"),
                text: body[..end].to_string(),
                instruction: (!prompt.is_empty()).then(|| prompt.to_string()),
            });
            rest = &body[(end + "<end>".len()).min(body.len())..];
            scaffolding += "<end>".len() as u64;
        }
        return scaffolding + rest.len() as u64;
    }
    if text.lines().any(|l| l.trim() == "<|endoftext|>") {
        let mut current = String::new();
        let mut n = 0;
        for line in text.split_inclusive('\n') {
            if line.trim() == "<|endoftext|>" {
                n += 1;
                emit(RawDocument {
                    origin: format!("{origin} document {n}"),
                    text: std::mem::take(&mut current),
                    instruction: None,
                });
            } else {
                current.push_str(line);
            }
        }
        if !current.trim().is_empty() {
            n += 1;
            emit(RawDocument { origin: format!("{origin} document {n}"), text: current, instruction: None });
        }
        return 0;
    }
    emit(RawDocument { origin: origin.to_string(), text: text.to_string(), instruction: None });
    0
}

/// Splits text in the [`Format::Lines`] layout into documents: consecutive
/// non-blank lines belong to different documents unless a blank line joins
/// them as paragraphs of one.
pub fn split_lines(origin: &str, text: &str, emit: &mut impl FnMut(RawDocument)) {
    let mut current = String::new();
    let mut n = 0;
    let mut flush = |current: &mut String| {
        if !current.trim().is_empty() {
            n += 1;
            emit(RawDocument {
                origin: format!("{origin} document {n}"),
                text: std::mem::take(current),
                instruction: None,
            });
        }
        current.clear();
    };
    let mut after_blank = false;
    for line in text.lines() {
        if line.trim().is_empty() {
            after_blank = true;
            continue;
        }
        if after_blank && !current.is_empty() {
            current.push_str("\n\n");
        } else {
            flush(&mut current);
        }
        current.push_str(line);
        after_blank = false;
    }
    flush(&mut current);
}

/// Picks the text out of a JSON object, or explains which fields exist.
fn text_field(
    value: &serde_json::Value,
    field: Option<&str>,
    path: &Path,
    line: Option<usize>,
) -> Result<Option<String>, DataError> {
    let obj = value.as_object().ok_or_else(|| DataError::Format {
        path: path.to_path_buf(),
        line,
        message: "expected a JSON object".into(),
    })?;
    let candidates: Vec<&str> = match field {
        Some(f) => vec![f],
        None => DEFAULT_FIELDS.to_vec(),
    };
    for name in &candidates {
        match obj.get(*name) {
            Some(serde_json::Value::String(s)) => return Ok(Some(s.clone())),
            Some(serde_json::Value::Null) => return Ok(None),
            Some(other) => {
                return Err(DataError::Format {
                    path: path.to_path_buf(),
                    line,
                    message: format!("field \"{name}\" is a {}, not a string", json_kind(other)),
                })
            }
            None => {}
        }
    }
    let present: Vec<&String> = obj.keys().collect();
    Err(DataError::Format {
        path: path.to_path_buf(),
        line,
        message: format!(
            "no text field {candidates:?}; the object has {present:?}. Name the field with --field (or `field` in the recipe)"
        ),
    })
}

fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "boolean",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

fn read_jsonl(path: &Path, options: &ReadOptions, emit: &mut impl FnMut(RawDocument)) -> Result<(), DataError> {
    let file = File::open(path).map_err(|e| DataError::io(path, e))?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut buf = Vec::new();
    let mut line_no = 0usize;
    let mut offset = 0usize;
    loop {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf).map_err(|e| DataError::io(path, e))?;
        if n == 0 {
            break;
        }
        line_no += 1;
        let line = match std::str::from_utf8(&buf) {
            Ok(s) => s.to_string(),
            Err(_) if options.lossy => String::from_utf8_lossy(&buf).into_owned(),
            Err(e) => {
                return Err(DataError::NotUtf8 {
                    path: path.to_path_buf(),
                    offset: offset + e.valid_up_to(),
                    line: line_no,
                })
            }
        };
        offset += n;
        if line.trim().is_empty() {
            continue;
        }
        let value: serde_json::Value = serde_json::from_str(&line).map_err(|e| DataError::Format {
            path: path.to_path_buf(),
            line: Some(line_no),
            message: format!("not valid JSON: {e}"),
        })?;
        if let Some(text) = text_field(&value, options.field.as_deref(), path, Some(line_no))? {
            emit(RawDocument { origin: format!("{}:{line_no}", path.display()), text, instruction: None });
        }
    }
    Ok(())
}

fn read_json(path: &Path, options: &ReadOptions, emit: &mut impl FnMut(RawDocument)) -> Result<(), DataError> {
    let bytes = fs::read(path).map_err(|e| DataError::io(path, e))?;
    let text = decode_utf8(path, bytes, options.lossy)?;
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| DataError::Format {
        path: path.to_path_buf(),
        line: Some(e.line()),
        message: format!("not valid JSON: {e}"),
    })?;
    let items = match value {
        serde_json::Value::Array(items) => items,
        other => vec![other],
    };
    for (i, item) in items.iter().enumerate() {
        if let Some(text) = text_field(item, options.field.as_deref(), path, None)? {
            emit(RawDocument { origin: format!("{} item {}", path.display(), i + 1), text, instruction: None });
        }
    }
    Ok(())
}

fn read_csv(path: &Path, options: &ReadOptions, emit: &mut impl FnMut(RawDocument)) -> Result<(), DataError> {
    let bytes = fs::read(path).map_err(|e| DataError::io(path, e))?;
    let text = decode_utf8(path, bytes, options.lossy)?;
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| DataError::Format { path: path.to_path_buf(), line: Some(1), message: e.to_string() })?
        .clone();
    let wanted: Vec<&str> = match options.field.as_deref() {
        Some(f) => vec![f],
        None => DEFAULT_FIELDS.to_vec(),
    };
    let column = wanted.iter().find_map(|w| headers.iter().position(|h| h == *w)).ok_or_else(|| DataError::Format {
        path: path.to_path_buf(),
        line: Some(1),
        message: format!(
            "no text column {wanted:?}; the header has {:?}. Name the column with --field",
            headers.iter().collect::<Vec<_>>()
        ),
    })?;
    for record in reader.records() {
        let record = record.map_err(|e| DataError::Format {
            path: path.to_path_buf(),
            line: e.position().map(|p| p.line() as usize),
            message: e.to_string(),
        })?;
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        if let Some(text) = record.get(column) {
            emit(RawDocument {
                origin: format!("{}:{line}", path.display()),
                text: text.to_string(),
                instruction: None,
            });
        }
    }
    Ok(())
}

fn read_parquet(path: &Path, options: &ReadOptions, emit: &mut impl FnMut(RawDocument)) -> Result<(), DataError> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::record::Field;

    let parquet_err = |e: parquet::errors::ParquetError| DataError::Format {
        path: path.to_path_buf(),
        line: None,
        message: format!("cannot read parquet: {e}"),
    };
    let file = File::open(path).map_err(|e| DataError::io(path, e))?;
    let reader = SerializedFileReader::new(file).map_err(parquet_err)?;
    let schema = reader.metadata().file_metadata().schema_descr_ptr();
    let names: Vec<String> = schema.columns().iter().map(|c| c.name().to_string()).collect();
    let wanted: Vec<&str> = match options.field.as_deref() {
        Some(f) => vec![f],
        None => DEFAULT_FIELDS.to_vec(),
    };
    let column = wanted
        .iter()
        .find(|w| names.iter().any(|n| n == *w))
        .ok_or_else(|| DataError::Format {
            path: path.to_path_buf(),
            line: None,
            message: format!("no text column {wanted:?}; the file has {names:?}. Name the column with --field"),
        })?
        .to_string();
    for (i, row) in reader.get_row_iter(None).map_err(parquet_err)?.enumerate() {
        let row = row.map_err(parquet_err)?;
        for (name, field) in row.get_column_iter() {
            if *name != column {
                continue;
            }
            match field {
                Field::Str(s) => emit(RawDocument {
                    origin: format!("{} row {}", path.display(), i + 1),
                    text: s.clone(),
                    instruction: None,
                }),
                Field::Null => {}
                other => {
                    return Err(DataError::Format {
                        path: path.to_path_buf(),
                        line: None,
                        message: format!("column \"{column}\" row {} is not a string: {other}", i + 1),
                    })
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(path: &Path, options: &ReadOptions) -> Result<Vec<RawDocument>, DataError> {
        let mut docs = Vec::new();
        read_source(path, options, |d| docs.push(d))?;
        Ok(docs)
    }

    #[test]
    fn glob_matches_stars_and_questions() {
        assert!(glob_match("*section-stories_val_*", "data_section-stories_val_x.csv"));
        assert!(!glob_match("*section-stories_val_*", "data_section-stories_train_x.csv"));
        assert!(glob_match("a?c*", "abcdef"));
        assert!(glob_match("*", ""));
        assert!(!glob_match("a*b", "acbx"));
    }

    #[test]
    fn endoftext_lines_split_documents() {
        let mut docs = Vec::new();
        split_text("t", "one\n<|endoftext|>\ntwo\nmore\n<|endoftext|>\n", &mut |d| docs.push(d.text));
        assert_eq!(docs, vec!["one\n", "two\nmore\n"]);
    }

    #[test]
    fn line_documents_keep_their_paragraphs_together() {
        let mut docs = Vec::new();
        let text = "one day, a cat sat.\n\nthen it slept.\nonce upon a time, a dog ran.\n\n\nthe end.\nlast one.\n";
        split_lines("t", text, &mut |d| docs.push(d.text));
        assert_eq!(
            docs,
            ["one day, a cat sat.\n\nthen it slept.", "once upon a time, a dog ran.\n\nthe end.", "last one."]
        );
        let mut none = Vec::new();
        split_lines("t", "\n\n  \n", &mut |d| none.push(d.text));
        assert!(none.is_empty());
    }

    proptest::proptest! {
        /// Whatever the bytes, every non-blank line is kept once and in
        /// order, and no document is blank.
        #[test]
        fn line_documents_keep_every_line_in_order(text in "([a-c ]{0,6}(\n|\r\n)?){0,40}") {
            let mut docs = Vec::new();
            split_lines("t", &text, &mut |d| docs.push(d.text));
            let kept: Vec<String> = docs.iter().flat_map(|d| d.lines()).filter(|l| !l.trim().is_empty()).map(String::from).collect();
            let given: Vec<String> = text.lines().filter(|l| !l.trim().is_empty()).map(String::from).collect();
            proptest::prop_assert_eq!(kept, given);
            proptest::prop_assert!(docs.iter().all(|d| !d.trim().is_empty()));
        }
    }

    #[test]
    fn records_keep_the_story_only() {
        let mut docs = Vec::new();
        let dropped =
            split_text("t", "Tell a tale.<start>Once.<end>\n\nAnother.<start>Twice.<end>", &mut |d| docs.push(d.text));
        assert_eq!(docs, vec!["Once.", "Twice."]);
        assert!(dropped > 0);
    }

    #[test]
    fn non_utf8_names_offset_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.txt");
        fs::write(&p, b"good line\nbad \xff here").unwrap();
        let err = collect(&p, &ReadOptions::default()).unwrap_err().to_string();
        assert!(err.contains("bad.txt") && err.contains("byte 14") && err.contains("line 2"), "{err}");
        let docs = collect(&p, &ReadOptions { lossy: true, ..Default::default() }).unwrap();
        assert!(docs[0].text.contains('\u{FFFD}'));
    }

    #[test]
    fn jsonl_reports_line_of_bad_record() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.jsonl");
        fs::write(&p, "{\"text\": \"a\"}\n\n{\"text\": 3}\n").unwrap();
        let err = collect(&p, &ReadOptions::default()).unwrap_err().to_string();
        assert!(err.contains("c.jsonl") && err.contains("line 3") && err.contains("number"), "{err}");
        fs::write(&p, "{\"story\": \"a\"}\n{\"words\": \"b\"}\n").unwrap();
        let err = collect(&p, &ReadOptions::default()).unwrap_err().to_string();
        assert!(err.contains("line 2") && err.contains("--field"), "{err}");
    }

    #[test]
    fn folders_skip_licenses_and_read_json_and_csv() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("LICENSE"), "MIT").unwrap();
        fs::write(dir.path().join("a__LICENSE"), "PD").unwrap();
        fs::write(dir.path().join("s.json"), r#"{"name": "x", "body": "A story."}"#).unwrap();
        fs::write(dir.path().join("t.csv"), "section,text\n1,\"Once, there was\"\"\"\n").unwrap();
        let docs = collect(dir.path(), &ReadOptions::default()).unwrap();
        let texts: Vec<_> = docs.iter().map(|d| d.text.as_str()).collect();
        assert_eq!(texts, vec!["A story.", "Once, there was\""]);
    }

    #[test]
    fn parquet_text_column_is_read() {
        use parquet::data_type::{ByteArray, ByteArrayType, Int64Type};
        use parquet::file::properties::WriterProperties;
        use parquet::file::writer::SerializedFileWriter;
        use parquet::schema::parser::parse_message_type;
        use std::sync::Arc;

        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("train-00000.parquet");
        let schema =
            Arc::new(parse_message_type("message m { required int64 id; required binary text (UTF8); }").unwrap());
        let props = Arc::new(WriterProperties::builder().set_compression(parquet::basic::Compression::SNAPPY).build());
        let file = File::create(&p).unwrap();
        let mut writer = SerializedFileWriter::new(file, schema, props).unwrap();
        let mut group = writer.next_row_group().unwrap();
        let mut col = group.next_column().unwrap().unwrap();
        col.typed::<Int64Type>().write_batch(&[1, 2], None, None).unwrap();
        col.close().unwrap();
        let mut col = group.next_column().unwrap().unwrap();
        let values = [ByteArray::from("first story"), ByteArray::from("second ✓ story")];
        col.typed::<ByteArrayType>().write_batch(&values, None, None).unwrap();
        col.close().unwrap();
        group.close().unwrap();
        writer.close().unwrap();

        let docs = collect(&p, &ReadOptions::default()).unwrap();
        let texts: Vec<_> = docs.iter().map(|d| d.text.as_str()).collect();
        assert_eq!(texts, vec!["first story", "second ✓ story"]);
        let err =
            collect(&p, &ReadOptions { field: Some("content".into()), ..Default::default() }).unwrap_err().to_string();
        assert!(err.contains("\"id\"") && err.contains("\"text\""), "{err}");
    }

    #[test]
    fn missing_path_is_a_clear_error() {
        let err = collect(Path::new("/no/such/corpus"), &ReadOptions::default()).unwrap_err().to_string();
        assert!(err.contains("/no/such/corpus"), "{err}");
    }
}
