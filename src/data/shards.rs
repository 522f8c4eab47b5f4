//! Token shards: a prepared corpus encoded once, read many times.
//!
//! On disk, per split (`train`, `val`):
//! - `{split}-{run}-{n:05}.bin`: flat little-endian token ids, u16 when the
//!   vocabulary fits in 65,536 ids, u32 otherwise; every document is followed
//!   by `<|endoftext|>`, where a share of the training documents
//!   (`blank_line_share`, 0 by default) continue into the next with a blank
//!   line instead, as stories do in a plain text file of them;
//! - `{split}.json`: the header, naming the tokenizer's hash, the id width,
//!   and each shard file with its token count, plus per-source counts.
//!
//! The header is written last and names the exact files of its run (`{run}`
//! is unique per run), so a run killed half-way leaves the previous header
//! and the shards it names intact; a finished run removes older shards.
//!
//! The loader memory-maps the shards and draws batches of random windows.
//! Batch `k` depends only on the seed and `k`, so a resumed run that asks for
//! batch `k` gets exactly the batch an uninterrupted run would have seen.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::dedup::mix64;
use super::license::SourceLicense;
use super::DataError;
use crate::fsutil::{write_atomic, AtomicFile};
use crate::progress;
use crate::tokenizer::Tokenizer;

pub const SHARD_FORMAT: &str = "fledge-token-shards";
pub const SHARD_VERSION: u32 = 1;

/// Counts for one source within a split.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SourceCounts {
    pub documents: u64,
    pub bytes: u64,
    pub tokens: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ShardFile {
    pub file: String,
    pub tokens: u64,
}

/// A source's epoch cap, as a recipe's `max_epochs` sets it.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct EpochLimit {
    pub max_epochs: f64,
    pub weight: f64,
}

/// The JSON header of one split.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SplitHeader {
    pub format: String,
    pub version: u32,
    pub split: String,
    pub tokenizer_hash: String,
    pub vocab_size: usize,
    /// Bytes per token id: 2 (u16) or 4 (u32).
    pub id_bytes: usize,
    pub documents: u64,
    /// UTF-8 bytes of text behind the tokens (for bits per byte).
    pub bytes: u64,
    pub tokens: u64,
    pub shards: Vec<ShardFile>,
    pub sources: BTreeMap<String, SourceCounts>,
    /// Validation sets: the token spans `[start, end)` of the split that each
    /// set's documents occupy (documents of one source are written together).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sets: BTreeMap<String, Vec<[u64; 2]>>,
    /// The sources' licenses, from the prepared corpus's report (see
    /// [`super::license`]); empty for a corpus made without one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub licenses: Vec<SourceLicense>,
    /// Per source: the token spans `[start, end)` its documents occupy (the
    /// training split; documents of one source are written together).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub spans: BTreeMap<String, Vec<[u64; 2]>>,
    /// Per source with a `max_epochs` in its recipe: the cap, and the
    /// source's weight (copies of its text in the split).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub limits: BTreeMap<String, EpochLimit>,
    /// What the shards were made from: the corpus files (size and time), the
    /// tokenizer and the shard size. Tokenizing the same again reuses them.
    #[serde(default)]
    pub input: String,
    /// Documents followed by a blank line and the next document instead of
    /// `<|endoftext|>` (see [`tokenize_corpus`]'s `blank_line_share`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub joined_by_blank_line: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl SplitHeader {
    pub fn bytes_per_token(&self) -> f64 {
        self.bytes as f64 / self.tokens.max(1) as f64
    }

    /// Checks that the header agrees with itself before anything is read or
    /// allocated by its numbers: shard files are plain names in the shard
    /// folder, their token counts add up to `tokens`, and every span lies
    /// within the split. A damaged header is refused here, with what is wrong.
    fn check_consistent(&self) -> Result<(), String> {
        if self.vocab_size == 0 {
            return Err("vocab_size is 0".into());
        }
        let mut sum = 0u64;
        for shard in &self.shards {
            let plain = Path::new(&shard.file).file_name().is_some_and(|n| n == shard.file.as_str());
            if !plain {
                return Err(format!("shard file {:?} is not a file name in the shard folder", shard.file));
            }
            sum = sum.checked_add(shard.tokens).filter(|s| s.checked_mul(self.id_bytes as u64).is_some()).ok_or_else(
                || format!("shard {} claims {} tokens, more than any file can hold", shard.file, shard.tokens),
            )?;
        }
        if sum != self.tokens {
            return Err(format!("its shards hold {sum} tokens but it says tokens = {}", self.tokens));
        }
        let all_spans = self.sets.iter().chain(&self.spans);
        for (name, spans) in all_spans {
            if let Some([a, b]) = spans.iter().find(|[a, b]| a > b || *b > self.tokens) {
                return Err(format!("span [{a}, {b}) of {name:?} is not within the split's {} tokens", self.tokens));
            }
        }
        for (name, limit) in &self.limits {
            let epochs_ok = limit.max_epochs.is_finite() && limit.max_epochs > 0.0;
            let weight_ok = limit.weight.is_finite() && limit.weight >= 0.0;
            if !(epochs_ok && weight_ok) {
                return Err(format!(
                    "source {name:?} has max_epochs {} and weight {}; max_epochs must be a number > 0 and weight >= 0",
                    limit.max_epochs, limit.weight
                ));
            }
        }
        Ok(())
    }
}

/// The first token of a shard's bytes whose id is not below `vocab_size`:
/// its position (in tokens) and id.
fn first_id_out_of_range(bytes: &[u8], id_bytes: usize, vocab_size: usize) -> Option<(u64, u32)> {
    let id = |c: &[u8]| {
        if id_bytes == 2 {
            u16::from_le_bytes([c[0], c[1]]) as u32
        } else {
            u32::from_le_bytes([c[0], c[1], c[2], c[3]])
        }
    };
    bytes
        .chunks_exact(id_bytes)
        .map(id)
        .enumerate()
        .find(|&(_, id)| id as usize >= vocab_size)
        .map(|(i, id)| (i as u64, id))
}

/// Encodes `{corpus}/{split}.jsonl` for each split into shards in `out_dir`.
///
/// `blank_line_share` of the training documents (picked by a hash of their
/// position, so the same every time) are followed by a blank line and the
/// next document rather than by `<|endoftext|>`. A model that only ever saw
/// `<|endoftext|>` between stories does not expect a new one after a blank
/// line, and pays for it on every story of a plain text file of them (about
/// 26 bits a story on TinyStories, README "A better base from more stories").
/// Validation documents always end with `<|endoftext|>`.
pub fn tokenize_corpus(
    corpus: &Path,
    tokenizer: &Tokenizer,
    out_dir: &Path,
    shard_tokens: u64,
    blank_line_share: f64,
) -> Result<Vec<SplitHeader>, DataError> {
    if !(0.0..=1.0).contains(&blank_line_share) {
        return Err(DataError::Shard {
            path: out_dir.to_path_buf(),
            message: format!("blank_line_share is {blank_line_share}: give a share between 0 and 1"),
        });
    }
    let input = input_fingerprint(corpus, tokenizer, shard_tokens, blank_line_share);
    let earlier: Option<Vec<SplitHeader>> = ["train", "val"]
        .iter()
        .map(|split| TokenShards::open(out_dir, split).ok().filter(|t| t.header.input == input).map(|t| t.header))
        .collect();
    if let Some(headers) = earlier {
        tracing::info!("{}: same corpus and tokenizer as before; reusing its shards", out_dir.display());
        return Ok(headers);
    }
    let mut headers = Vec::new();
    let record = CorpusRecord::read(corpus, input);
    if record.licenses.is_empty() {
        tracing::warn!(
            "{}: no licenses recorded (no report.json from `fledge data prepare`); model cards will not list the data's licenses",
            corpus.display()
        );
    }
    for split in ["train", "val"] {
        let path = corpus.join(format!("{split}.jsonl"));
        if !path.exists() {
            return Err(DataError::EmptySource { path, why: "missing; make it with `fledge data prepare`".into() });
        }
        let share = if split == "train" { blank_line_share } else { 0.0 };
        let mut header = tokenize_split(&path, split, tokenizer, out_dir, shard_tokens, share, &record)?;
        header.licenses.retain(|l| header.sources.contains_key(&l.source));
        headers.push(header);
    }
    Ok(headers)
}

/// What the shard headers carry over from the prepared corpus.
struct CorpusRecord {
    licenses: Vec<SourceLicense>,
    limits: BTreeMap<String, EpochLimit>,
    /// The corpus fingerprint ([`SplitHeader::input`]).
    input: String,
}

/// Adds `[start, end)` to `spans`, joining it to the last span it follows.
fn extend_spans(spans: &mut Vec<[u64; 2]>, start: u64, end: u64) {
    match spans.last_mut() {
        Some(last) if last[1] == start => last[1] = end,
        _ => spans.push([start, end]),
    }
}

impl CorpusRecord {
    /// Reads what the corpus's `report.json` (from `fledge data prepare`)
    /// records of its sources: their licenses and epoch caps. Empty for a
    /// corpus made by hand, or before these were kept.
    fn read(corpus: &Path, input: String) -> Self {
        #[derive(Deserialize)]
        struct Report {
            #[serde(default)]
            sources: Vec<Entry>,
        }
        #[derive(Deserialize)]
        struct Entry {
            name: String,
            weight: f64,
            #[serde(default)]
            max_epochs: Option<f64>,
            #[serde(default)]
            license: Option<SourceLicense>,
        }
        let sources = fs::read_to_string(corpus.join("report.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<Report>(&t).ok())
            .map(|r| r.sources)
            .unwrap_or_default();
        let limits = sources
            .iter()
            .filter_map(|e| Some((e.name.clone(), EpochLimit { max_epochs: e.max_epochs?, weight: e.weight })))
            .collect();
        let licenses = sources.into_iter().filter_map(|e| e.license).collect();
        Self { licenses, limits, input }
    }
}

/// What shards of `corpus` depend on; see [`SplitHeader::input`].
fn input_fingerprint(corpus: &Path, tokenizer: &Tokenizer, shard_tokens: u64, blank_line_share: f64) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(format!("{SHARD_VERSION} {} {shard_tokens}\n", tokenizer.hash()));
    if blank_line_share > 0.0 {
        h.update(format!("blank lines {blank_line_share}\n"));
    }
    for file in ["train.jsonl", "val.jsonl", "report.json"] {
        let path = corpus.join(file);
        if let Ok(meta) = fs::metadata(&path) {
            let modified = meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
            h.update(format!("{file} {} {modified:?}\n", meta.len()));
        }
    }
    format!("{:x}", h.finalize())
}

/// Documents are read in chunks and encoded in parallel within a chunk.
const CHUNK_DOCUMENTS: usize = 4096;

fn tokenize_split(
    input: &Path,
    split: &str,
    tokenizer: &Tokenizer,
    out_dir: &Path,
    shard_tokens: u64,
    blank_line_share: f64,
    record: &CorpusRecord,
) -> Result<SplitHeader, DataError> {
    fs::create_dir_all(out_dir).map_err(|e| DataError::io(out_dir, e))?;
    let id_bytes = if tokenizer.vocab_size() <= 1 << 16 { 2 } else { 4 };
    let mut header = SplitHeader {
        format: SHARD_FORMAT.into(),
        version: SHARD_VERSION,
        split: split.into(),
        tokenizer_hash: tokenizer.hash().into(),
        vocab_size: tokenizer.vocab_size(),
        id_bytes,
        documents: 0,
        bytes: 0,
        tokens: 0,
        shards: Vec::new(),
        sources: BTreeMap::new(),
        sets: BTreeMap::new(),
        licenses: record.licenses.clone(),
        spans: BTreeMap::new(),
        limits: if split == "train" { record.limits.clone() } else { BTreeMap::new() },
        input: record.input.clone(),
        joined_by_blank_line: 0,
    };
    let total = fs::metadata(input).map_err(|e| DataError::io(input, e))?.len();
    let bar = progress::bytes_bar(total, split);
    let mut writer = ShardWriter { out_dir, split, run: run_tag(), id_bytes, shard_tokens, open: None };
    let file = File::open(input).map_err(|e| DataError::io(input, e))?;
    let mut lines = BufReader::with_capacity(1 << 20, file).lines().enumerate();
    let eot = [tokenizer.eot_id()];
    let blank_line = tokenizer.encode("\n\n", false);
    loop {
        let chunk = read_chunk(&mut lines, input, &bar)?;
        if chunk.is_empty() {
            break;
        }
        let texts: Vec<&str> = chunk.iter().map(|d| d.text.as_str()).collect();
        let encoded = tokenizer.encode_batch(&texts, false);
        for (doc, ids) in chunk.iter().zip(encoded) {
            let joins_next = blank_line_share > 0.0
                && mix64(header.documents ^ 0x5bd1_e995) as f64 / u64::MAX as f64 <= blank_line_share;
            let end_of_document: &[u32] = if joins_next { &blank_line } else { &eot };
            header.joined_by_blank_line += u64::from(joins_next);
            let n = (ids.len() + end_of_document.len()) as u64;
            count_document(&mut header, doc, n);
            writer.write(ids.iter().chain(end_of_document), n, &mut header.shards)?;
            header.tokens += n;
        }
    }
    writer.finish(&mut header.shards)?;
    bar.finish_and_clear();
    if header.tokens == 0 {
        return Err(DataError::EmptyCorpus(format!("{}: no documents to tokenize", input.display())));
    }
    let json = serde_json::to_string_pretty(&header).expect("header serializes");
    let header_path = out_dir.join(format!("{split}.json"));
    write_atomic(&header_path, json.as_bytes()).map_err(|e| DataError::io(&header_path, e))?;
    remove_stale_shards(out_dir, split, &header);
    Ok(header)
}

/// A line of a prepared split (`train.jsonl`, `val.jsonl`).
#[derive(Deserialize)]
struct DocumentLine {
    text: String,
    #[serde(default)]
    source: String,
    /// The validation set (prepare writes it in `val.jsonl`).
    #[serde(default)]
    set: Option<String>,
}

/// A tag for this run's shard file names, so that a run never writes over
/// the shards a previous header names until its own header replaces it.
fn run_tag() -> String {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
    format!("{:08x}", mix64(std::process::id() as u64 ^ nanos) as u32)
}

/// The next [`CHUNK_DOCUMENTS`] documents of `lines` (fewer at the end, none
/// when it is done), blank lines skipped; a line that is not a document is
/// an error naming its line number.
fn read_chunk(
    lines: &mut impl Iterator<Item = (usize, std::io::Result<String>)>,
    input: &Path,
    bar: &indicatif::ProgressBar,
) -> Result<Vec<DocumentLine>, DataError> {
    let mut chunk = Vec::with_capacity(CHUNK_DOCUMENTS);
    for (i, line) in lines.by_ref() {
        let line = line.map_err(|e| DataError::io(input, e))?;
        bar.inc(line.len() as u64 + 1);
        if line.trim().is_empty() {
            continue;
        }
        let doc: DocumentLine = serde_json::from_str(&line).map_err(|e| DataError::Format {
            path: input.to_path_buf(),
            line: Some(i + 1),
            message: format!("expected {{\"text\": ..., \"source\": ...}}: {e}"),
        })?;
        chunk.push(doc);
        if chunk.len() == CHUNK_DOCUMENTS {
            break;
        }
    }
    Ok(chunk)
}

/// Counts a document of `n` tokens (its end marker included) into the
/// header: its source's totals, its validation set's token span, and in
/// the training split its source's span (what a recipe's limits cut).
fn count_document(header: &mut SplitHeader, doc: &DocumentLine, n: u64) {
    let counts = header.sources.entry(doc.source.clone()).or_default();
    counts.documents += 1;
    counts.bytes += doc.text.len() as u64;
    counts.tokens += n;
    let end = header.tokens + n;
    if let Some(set) = &doc.set {
        extend_spans(header.sets.entry(set.clone()).or_default(), header.tokens, end);
    }
    if header.split == "train" {
        extend_spans(header.spans.entry(doc.source.clone()).or_default(), header.tokens, end);
    }
    header.documents += 1;
    header.bytes += doc.text.len() as u64;
}

/// The shard files of one split as they are written: each is filled to
/// about `shard_tokens` and ends at a document boundary (no document is
/// split), written under a temporary name and renamed when full.
struct ShardWriter<'a> {
    out_dir: &'a Path,
    split: &'a str,
    run: String,
    id_bytes: usize,
    shard_tokens: u64,
    open: Option<(AtomicFile, ShardFile)>,
}

impl ShardWriter<'_> {
    /// Appends one document's `n` token ids; a shard that reaches its size
    /// is committed and named in `shards`.
    fn write<'t>(
        &mut self,
        ids: impl Iterator<Item = &'t u32>,
        n: u64,
        shards: &mut Vec<ShardFile>,
    ) -> Result<(), DataError> {
        if self.open.is_none() {
            let name = format!("{}-{}-{:05}.bin", self.split, self.run, shards.len());
            let f = AtomicFile::create(self.out_dir.join(&name)).map_err(|e| DataError::io(self.out_dir, e))?;
            self.open = Some((f, ShardFile { file: name, tokens: 0 }));
        }
        let (f, shard) = self.open.as_mut().expect("just created");
        let mut buf = Vec::with_capacity(n as usize * self.id_bytes);
        for &id in ids {
            if self.id_bytes == 2 {
                buf.extend_from_slice(&(id as u16).to_le_bytes());
            } else {
                buf.extend_from_slice(&id.to_le_bytes());
            }
        }
        f.write_all(&buf).map_err(|e| DataError::io(self.out_dir, e))?;
        shard.tokens += n;
        if shard.tokens >= self.shard_tokens {
            self.finish(shards)?;
        }
        Ok(())
    }

    /// Commits the shard being written, if any, and names it in `shards`.
    fn finish(&mut self, shards: &mut Vec<ShardFile>) -> Result<(), DataError> {
        if let Some((f, shard)) = self.open.take() {
            f.commit().map_err(|e| DataError::io(self.out_dir, e))?;
            shards.push(shard);
        }
        Ok(())
    }
}

/// Removes shard files of `split` that the current header does not name.
fn remove_stale_shards(dir: &Path, split: &str, header: &SplitHeader) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let ours = name.starts_with(&format!("{split}-")) && name.ends_with(".bin");
        if ours && !header.shards.iter().any(|s| s.file == name) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// The shards of one split, memory-mapped.
pub struct TokenShards {
    pub header: SplitHeader,
    /// `{dir}/{split}.json`, for errors.
    header_path: PathBuf,
    maps: Vec<memmap2::Mmap>,
}

impl TokenShards {
    /// Opens `{dir}/{split}.json` and maps its shards, checking every size.
    pub fn open(dir: &Path, split: &str) -> Result<Self, DataError> {
        let header_path = dir.join(format!("{split}.json"));
        let text = fs::read_to_string(&header_path).map_err(|e| DataError::Shard {
            path: header_path.clone(),
            message: format!("cannot read the header ({e}); make shards with `fledge data tokenize`"),
        })?;
        let header: SplitHeader = serde_json::from_str(&text)
            .map_err(|e| DataError::Shard { path: header_path.clone(), message: format!("not a shard header: {e}") })?;
        if header.format != SHARD_FORMAT || header.version != SHARD_VERSION {
            return Err(DataError::Shard {
                path: header_path,
                message: format!(
                    "format {} version {} is not {SHARD_FORMAT} version {SHARD_VERSION}; re-run `fledge data tokenize`",
                    header.format, header.version
                ),
            });
        }
        if header.id_bytes != 2 && header.id_bytes != 4 {
            return Err(DataError::Shard {
                path: header_path,
                message: format!("id_bytes {} is not 2 or 4", header.id_bytes),
            });
        }
        header.check_consistent().map_err(|message| DataError::Shard {
            path: header_path.clone(),
            message: format!("{message}; the header is damaged: re-run `fledge data tokenize`"),
        })?;
        let mut maps = Vec::new();
        for shard in &header.shards {
            let path = dir.join(&shard.file);
            let file = File::open(&path).map_err(|e| DataError::Shard {
                path: path.clone(),
                message: format!("{e}; the header {} names it: re-run `fledge data tokenize`", header_path.display()),
            })?;
            // Cannot overflow: check_consistent bounded the token counts.
            let expected = shard.tokens * header.id_bytes as u64;
            let actual = file.metadata().map_err(|e| DataError::io(&path, e))?.len();
            if actual != expected {
                return Err(DataError::Shard {
                    path,
                    message: format!(
                        "is {actual} bytes but its header says {} tokens ({expected} bytes): the file is truncated or was changed; re-run `fledge data tokenize`",
                        shard.tokens
                    ),
                });
            }
            // SAFETY: `Mmap::map` is unsafe because the mapping would change
            // under us if the file were modified or truncated while mapped.
            // fledge never writes a shard in place: shards are written under
            // a temporary name and renamed, and stale ones are unlinked, which
            // leaves an existing mapping of the old inode intact. The size was
            // checked above, and reads go through `token()`, which stays in
            // bounds of that size. Another program rewriting the file in place
            // is outside what fledge can guard against, as with any reader.
            let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| DataError::io(&path, e))?;
            // Every id must index a row of the embedding: one out of range
            // would crash training far from here, so refuse the shard now.
            if let Some((offset, id)) = first_id_out_of_range(&map, header.id_bytes, header.vocab_size) {
                return Err(DataError::Shard {
                    path,
                    message: format!(
                        "token {offset} (byte {}) is id {id}, but the vocabulary has {} ids (0 to {}): the file is damaged or was made with another tokenizer; re-run `fledge data tokenize`",
                        offset * header.id_bytes as u64,
                        header.vocab_size,
                        header.vocab_size.saturating_sub(1)
                    ),
                });
            }
            maps.push(map);
        }
        Ok(Self { header, header_path, maps })
    }

    /// Refuses shards made with a different tokenizer.
    pub fn check_tokenizer(&self, tokenizer: &Tokenizer) -> Result<(), DataError> {
        // A character count, not a byte slice: a damaged header may hold any text.
        let short = |hash: &str| hash.chars().take(12).collect::<String>();
        if self.header.tokenizer_hash != tokenizer.hash() {
            return Err(DataError::Shard {
                path: self.header_path.clone(),
                message: format!(
                    "made with tokenizer {} but this tokenizer is {}: re-run `fledge data tokenize` with this tokenizer, or use the one the shards were made with",
                    short(&self.header.tokenizer_hash),
                    short(tokenizer.hash())
                ),
            });
        }
        // The ids were checked against the header's vocabulary size when the
        // shards were opened; that size must be the tokenizer's.
        if self.header.vocab_size != tokenizer.vocab_size() {
            return Err(DataError::Shard {
                path: self.header_path.clone(),
                message: format!(
                    "the header says vocab_size {} but its tokenizer has {} tokens: the header is damaged; re-run `fledge data tokenize`",
                    self.header.vocab_size,
                    tokenizer.vocab_size()
                ),
            });
        }
        Ok(())
    }

    pub fn num_tokens(&self) -> u64 {
        self.header.tokens
    }

    /// Copies `out.len()` tokens of shard `shard` from `start` into `out`.
    fn read(&self, shard: usize, start: usize, out: &mut [u32]) {
        let map = &self.maps[shard];
        let w = self.header.id_bytes;
        let bytes = &map[start * w..(start + out.len()) * w];
        if w == 2 {
            for (o, c) in out.iter_mut().zip(bytes.chunks_exact(2)) {
                *o = u16::from_le_bytes([c[0], c[1]]) as u32;
            }
        } else {
            for (o, c) in out.iter_mut().zip(bytes.chunks_exact(4)) {
                *o = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
            }
        }
    }

    /// The tokens of `[start, end)` of the split, across shard boundaries.
    pub fn span(&self, start: u64, end: u64) -> Vec<u32> {
        let mut out = vec![0u32; end.saturating_sub(start) as usize];
        self.read_at(start, &mut out);
        out
    }

    /// Fills `out` from split position `start` on, across shard boundaries.
    fn read_at(&self, start: u64, out: &mut [u32]) {
        let end = start + out.len() as u64;
        let mut offset = 0u64;
        for (i, shard) in self.header.shards.iter().enumerate() {
            let (lo, hi) = (start.max(offset), end.min(offset + shard.tokens));
            if lo < hi {
                self.read(i, (lo - offset) as usize, &mut out[(lo - start) as usize..(hi - start) as usize]);
            }
            offset += shard.tokens;
        }
    }

    /// All tokens of the split in order (for evaluation over the whole split).
    pub fn to_vec(&self) -> Vec<u32> {
        let mut out = Vec::with_capacity(self.header.tokens as usize);
        for (i, shard) in self.header.shards.iter().enumerate() {
            let mut buf = vec![0u32; shard.tokens as usize];
            self.read(i, 0, &mut buf);
            out.extend(buf);
        }
        out
    }
}

/// A batch of `batch` windows of `seq_len` inputs, each with its next-token targets.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    pub inputs: Vec<u32>,
    /// Next-token targets; [`crate::model::kernels::IGNORE`] where no loss is taken.
    pub targets: Vec<u32>,
    /// For rows that pack several documents: where each position's document
    /// starts (see [`crate::model::Engine::set_segments`]).
    pub segment_starts: Option<Vec<u32>>,
}

/// Draws batches of random windows from token shards.
pub struct BatchLoader<'a> {
    shards: &'a TokenShards,
    pub seq_len: usize,
    pub batch: usize,
    pub seed: u64,
    /// Cumulative count of window starts per shard, to pick starts uniformly.
    starts: Vec<u64>,
    /// When some source has an epoch cap: windows are drawn per source.
    schedule: Option<EpochSchedule>,
}

/// Sampling for a split whose sources have epoch caps (`max_epochs`).
///
/// Windows are drawn uniformly over the window starts of the sources still
/// in play, which is what uniform sampling over the whole split does while
/// all are. A capped source leaves at the micro-batch by which it has been
/// drawn `max_epochs` times its text, in expectation: a pure function of the
/// batch index, so a resumed run draws what an uninterrupted one would.
#[derive(Debug, Clone)]
struct EpochSchedule {
    pools: Vec<SourcePool>,
    /// The micro-batch from which no source is left, if every one is capped.
    exhausted_at: Option<u64>,
}

#[derive(Debug, Clone)]
struct SourcePool {
    name: String,
    spans: Vec<[u64; 2]>,
    /// Cumulative window starts over `spans`.
    starts: Vec<u64>,
    /// Drawn from micro-batches `0..until`.
    until: u64,
}

impl SourcePool {
    fn total(&self) -> u64 {
        self.starts.last().copied().unwrap_or(0)
    }
}

impl EpochSchedule {
    fn new(header: &SplitHeader, seq_len: usize, batch: usize) -> Self {
        let mut pools: Vec<SourcePool> = header
            .spans
            .iter()
            .map(|(name, spans)| {
                let mut total = 0;
                let starts = spans
                    .iter()
                    .map(|[a, b]| {
                        total += (b - a).saturating_sub(seq_len as u64);
                        total
                    })
                    .collect();
                SourcePool { name: name.clone(), spans: spans.clone(), starts, until: u64::MAX }
            })
            .filter(|p| p.total() > 0)
            .collect();
        // Tokens each capped source may give, and what it has given so far.
        let caps: Vec<Option<f64>> = pools
            .iter()
            .map(|p| {
                let limit = header.limits.get(&p.name)?;
                let tokens: u64 = p.spans.iter().map(|[a, b]| b - a).sum();
                Some(limit.max_epochs * tokens as f64 / limit.weight.max(1e-9))
            })
            .collect();
        let mut drawn = vec![0.0f64; pools.len()];
        let mut time = 0.0f64;
        let per_batch = (batch * seq_len) as f64;
        let mut exhausted_at = None;
        loop {
            let active: Vec<usize> = (0..pools.len()).filter(|&i| pools[i].until == u64::MAX).collect();
            if active.is_empty() {
                exhausted_at = Some(time.ceil() as u64);
                break;
            }
            let total: f64 = active.iter().map(|&i| pools[i].total() as f64).sum();
            let rate = |i: usize| per_batch * pools[i].total() as f64 / total;
            let next = active
                .iter()
                .filter_map(|&i| Some((i, (caps[i]? - drawn[i]).max(0.0) / rate(i))))
                .min_by(|a, b| a.1.total_cmp(&b.1));
            let Some((leaving, dt)) = next else { break };
            for &i in &active {
                drawn[i] += rate(i) * dt;
            }
            time += dt;
            pools[leaving].until = time.ceil() as u64;
        }
        Self { pools, exhausted_at }
    }
}

impl<'a> BatchLoader<'a> {
    pub fn new(shards: &'a TokenShards, seq_len: usize, batch: usize, seed: u64) -> Result<Self, DataError> {
        let mut starts = Vec::new();
        let mut total = 0u64;
        for s in &shards.header.shards {
            total += s.tokens.saturating_sub(seq_len as u64);
            starts.push(total);
        }
        if total == 0 {
            return Err(DataError::EmptyCorpus(format!(
                "the {} split has no shard longer than a window of {} tokens; use a shorter sequence or more text",
                shards.header.split,
                seq_len + 1
            )));
        }
        let schedule = (!shards.header.limits.is_empty()).then(|| EpochSchedule::new(&shards.header, seq_len, batch));
        if schedule.as_ref().is_some_and(|s| s.pools.is_empty()) {
            return Err(DataError::EmptyCorpus(format!(
                "the {} split has epoch caps but no source with a document span longer than a window of {} tokens; use a shorter sequence or more text",
                shards.header.split,
                seq_len + 1
            )));
        }
        Ok(Self { shards, seq_len, batch, seed, starts, schedule })
    }

    /// The micro-batch from which every source has reached its `max_epochs`
    /// (only when every source has one).
    pub fn exhausted_at(&self) -> Option<u64> {
        self.schedule.as_ref().and_then(|s| s.exhausted_at)
    }

    /// The micro-batch from which each capped source is no longer drawn.
    pub fn source_ends(&self) -> Vec<(String, u64)> {
        let Some(schedule) = &self.schedule else { return Vec::new() };
        schedule.pools.iter().filter(|p| p.until != u64::MAX).map(|p| (p.name.clone(), p.until)).collect()
    }

    /// Batch number `step`: the same for the same seed, whatever came before.
    pub fn batch(&self, step: u64) -> Batch {
        let mut rng = ChaCha8Rng::seed_from_u64(mix64(self.seed ^ mix64(step.wrapping_add(1))));
        let t = self.seq_len;
        let mut inputs = Vec::with_capacity(self.batch * t);
        let mut targets = Vec::with_capacity(self.batch * t);
        let mut window = vec![0u32; t + 1];
        for _ in 0..self.batch {
            match &self.schedule {
                Some(schedule) => self.scheduled_window(schedule, step, &mut rng, &mut window),
                None => self.random_window(&mut rng, &mut window),
            }
            inputs.extend_from_slice(&window[..t]);
            targets.extend_from_slice(&window[1..]);
        }
        Batch { inputs, targets, segment_starts: None }
    }

    /// Fills `window` from a start drawn uniformly over the sources still in
    /// play at micro-batch `step`.
    fn scheduled_window(&self, schedule: &EpochSchedule, step: u64, rng: &mut impl Rng, window: &mut [u32]) {
        let active: Vec<&SourcePool> = schedule.pools.iter().filter(|p| p.until > step).collect();
        // Past the end of every source (the trainer refuses such runs), keep drawing from all.
        let active = if active.is_empty() { schedule.pools.iter().collect() } else { active };
        let total: u64 = active.iter().map(|p| p.total()).sum();
        let mut pick = rng.gen_range(0..total);
        for pool in active {
            if pick < pool.total() {
                let span = pool.starts.partition_point(|&c| c <= pick);
                let before = if span == 0 { 0 } else { pool.starts[span - 1] };
                self.shards.read_at(pool.spans[span][0] + pick - before, window);
                return;
            }
            pick -= pool.total();
        }
    }

    /// Fills `window` (`seq_len + 1` tokens) from a uniformly drawn start.
    pub fn random_window(&self, rng: &mut impl Rng, window: &mut [u32]) {
        let total = *self.starts.last().expect("at least one shard");
        let pick = rng.gen_range(0..total);
        let shard = self.starts.partition_point(|&c| c <= pick);
        let before = if shard == 0 { 0 } else { self.starts[shard - 1] };
        self.shards.read(shard, (pick - before) as usize, window);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn corpus(dir: &Path, docs: usize) -> PathBuf {
        let c = dir.join("corpus");
        fs::create_dir_all(&c).unwrap();
        let line = |i: usize, s: &str| {
            serde_json::json!({"text": format!("Document {i}: the cat sat on the mat and looked at the moon. {s}"), "source": "cats"})
                .to_string()
        };
        let train: Vec<String> = (0..docs).map(|i| line(i, "train")).collect();
        let val: Vec<String> = (0..docs / 10 + 1).map(|i| line(i, "val")).collect();
        fs::write(c.join("train.jsonl"), train.join("\n") + "\n").unwrap();
        fs::write(c.join("val.jsonl"), val.join("\n") + "\n").unwrap();
        c
    }

    fn tokenizer(vocab: usize) -> Tokenizer {
        let texts = (0..100).map(|i| format!("Document {i}: the cat sat on the mat and looked at the moon."));
        Tokenizer::train(texts, vocab, false).unwrap()
    }

    #[test]
    fn shards_round_trip_and_batches_are_reproducible() {
        let dir = tempfile::tempdir().unwrap();
        let c = corpus(dir.path(), 300);
        let tok = tokenizer(300);
        let out = dir.path().join("shards");
        let headers = tokenize_corpus(&c, &tok, &out, 1000, 0.0).unwrap();
        assert!(headers[0].shards.len() > 1, "small shard size makes several shards");
        let shards = TokenShards::open(&out, "train").unwrap();
        shards.check_tokenizer(&tok).unwrap();
        let all = shards.to_vec();
        assert_eq!(all.len() as u64, shards.num_tokens());
        assert_eq!(all.iter().filter(|&&t| t == tok.eot_id()).count(), 300);
        let first_doc: Vec<u32> = all.iter().take_while(|&&t| t != tok.eot_id()).copied().collect();
        assert!(tok.decode(&first_doc).unwrap().starts_with("Document 0: the cat"));
        assert_eq!(headers[0].sources["cats"].documents, 300);

        let loader = BatchLoader::new(&shards, 16, 4, 7).unwrap();
        let b3 = loader.batch(3);
        assert_eq!(b3.inputs.len(), 64);
        assert_eq!(&b3.inputs[1..16], &b3.targets[..15]);
        let again = BatchLoader::new(&shards, 16, 4, 7).unwrap();
        assert_eq!(again.batch(3), b3, "batch depends only on seed and step");
        assert_ne!(loader.batch(4), b3);
        assert_ne!(BatchLoader::new(&shards, 16, 4, 8).unwrap().batch(3), b3);
    }

    /// A share of the training documents runs on into the next with a blank
    /// line; the text in between is exactly the two documents; validation
    /// documents all still end with `<|endoftext|>`.
    #[test]
    fn blank_line_share_joins_that_share_of_training_documents() {
        let dir = tempfile::tempdir().unwrap();
        let c = corpus(dir.path(), 1000);
        let tok = tokenizer(300);
        let out = dir.path().join("shards");
        let headers = tokenize_corpus(&c, &tok, &out, 1_000_000, 0.3).unwrap();
        let (train, val) = (&headers[0], &headers[1]);
        let joined = train.joined_by_blank_line;
        assert!((250..350).contains(&joined), "{joined} of 1000 documents joined at a share of 0.3");
        assert_eq!(val.joined_by_blank_line, 0);
        let all = TokenShards::open(&out, "train").unwrap().to_vec();
        assert_eq!(all.iter().filter(|&&t| t == tok.eot_id()).count() as u64, 1000 - joined);
        let text = tok.decode(&all).unwrap();
        assert!(text.contains("train\n\nDocument "), "a document, a blank line, the next document");
        assert_eq!(train.tokens, all.len() as u64);
        let val_tokens = TokenShards::open(&out, "val").unwrap().to_vec();
        assert_eq!(val_tokens.iter().filter(|&&t| t == tok.eot_id()).count() as u64, val.documents);

        let again = tokenize_corpus(&c, &tok, &out, 1_000_000, 0.3).unwrap();
        assert_eq!(again[0].joined_by_blank_line, joined, "the same documents every time");
        let none = tokenize_corpus(&c, &tok, &out, 1_000_000, 0.0).unwrap();
        assert_eq!(none[0].joined_by_blank_line, 0, "another share makes new shards");
        assert!(tokenize_corpus(&c, &tok, &out, 1_000_000, 1.5).is_err());
    }

    #[test]
    fn rerun_replaces_old_shards() {
        let dir = tempfile::tempdir().unwrap();
        let c = corpus(dir.path(), 50);
        let out = dir.path().join("shards");
        tokenize_corpus(&c, &tokenizer(300), &out, 100, 0.0).unwrap();
        let tok2 = tokenizer(280);
        let headers = tokenize_corpus(&c, &tok2, &out, 1_000_000, 0.0).unwrap();
        let bins =
            fs::read_dir(&out).unwrap().filter(|e| e.as_ref().unwrap().path().extension().unwrap() == "bin").count();
        assert_eq!(bins, headers[0].shards.len() + headers[1].shards.len());
        TokenShards::open(&out, "train").unwrap().check_tokenizer(&tok2).unwrap();
        // The same corpus and tokenizer again: the shards are reused, not rewritten.
        let again = tokenize_corpus(&c, &tok2, &out, 1_000_000, 0.0).unwrap();
        assert_eq!(again[0].shards, headers[0].shards);
        assert_eq!(again[0].input, headers[0].input);
    }

    #[test]
    fn a_source_with_max_epochs_stops_being_drawn_after_them() {
        let dir = tempfile::tempdir().unwrap();
        let c = dir.path().join("corpus");
        fs::create_dir_all(&c).unwrap();
        let doc = |src: &str, i: usize| {
            let word = if src == "a" { "alpha" } else { "beta" };
            serde_json::json!({"text": format!("{} {i}.", [word; 12].join(" ")), "source": src}).to_string()
        };
        let train: Vec<String> = (0..200).map(|i| doc(if i < 100 { "a" } else { "b" }, i)).collect();
        fs::write(c.join("train.jsonl"), train.join("\n")).unwrap();
        fs::write(c.join("val.jsonl"), doc("a", 0)).unwrap();
        let report = |b_epochs: f64, a_epochs: Option<f64>| {
            serde_json::json!({"sources": [
                {"name": "a", "weight": 1.0, "max_epochs": a_epochs},
                {"name": "b", "weight": 1.0, "max_epochs": b_epochs}]})
            .to_string()
        };
        fs::write(c.join("report.json"), report(2.0, None)).unwrap();
        let tok = {
            let texts = (0..50).map(|i| format!("alpha beta {i}."));
            Tokenizer::train(texts, 280, false).unwrap()
        };
        let out = dir.path().join("shards");
        let headers = tokenize_corpus(&c, &tok, &out, 1000, 0.0).unwrap();
        assert_eq!(headers[0].spans.len(), 2);
        let shards = TokenShards::open(&out, "train").unwrap();
        let (seq, batch) = (8, 4);
        let loader = BatchLoader::new(&shards, seq, batch, 3).unwrap();
        let ends = loader.source_ends();
        assert_eq!(ends.len(), 1);
        let (name, until) = &ends[0];
        assert_eq!(name, "b");
        // b holds a share of the windows: two passes over its tokens take
        // about 2 × tokens_b / (batch × seq × share) micro-batches.
        let b_tokens = headers[0].sources["b"].tokens as f64;
        let share = b_tokens / headers[0].tokens as f64;
        let expected = 2.0 * b_tokens / (batch * seq) as f64 / share;
        assert!((*until as f64 - expected).abs() / expected < 0.1, "{until} vs {expected}");
        let draws_b = |step: u64| {
            let b = loader.batch(step);
            b.inputs.chunks(seq).filter(|w| tok.decode(w).unwrap().contains("beta")).count()
        };
        let before: usize = (0..20).map(draws_b).sum();
        assert!(before > 20 && before < 60, "b is drawn about half the time: {before} of 80");
        let after: usize = (*until..until + 20).map(draws_b).sum();
        assert_eq!(after, 0, "b is not drawn after its epochs");
        assert_eq!(loader.batch(until + 3), BatchLoader::new(&shards, seq, batch, 3).unwrap().batch(until + 3));
        assert_eq!(loader.exhausted_at(), None, "a has no cap");

        // Every source capped: the loader says when the text runs out.
        fs::write(c.join("report.json"), report(1.0, Some(1.0))).unwrap();
        tokenize_corpus(&c, &tok, &out, 1000, 0.0).unwrap();
        let shards = TokenShards::open(&out, "train").unwrap();
        let loader = BatchLoader::new(&shards, seq, batch, 3).unwrap();
        let end = loader.exhausted_at().expect("all capped");
        let all = shards.num_tokens() as f64 / (batch * seq) as f64;
        assert!((end as f64 - all).abs() / all < 0.1, "{end} vs {all}");
    }

    #[test]
    fn validation_sets_are_spans_of_the_split() {
        let dir = tempfile::tempdir().unwrap();
        let c = dir.path().join("corpus");
        fs::create_dir_all(&c).unwrap();
        let line =
            |i: usize, set: &str| serde_json::json!({"text": format!("Doc {i} of {set}."), "source": set, "set": set});
        let val: Vec<String> = (0..6).map(|i| line(i, if i < 4 { "tales" } else { "news" }).to_string()).collect();
        fs::write(c.join("val.jsonl"), val.join("\n")).unwrap();
        fs::write(c.join("train.jsonl"), line(9, "tales").to_string()).unwrap();
        let out = dir.path().join("shards");
        let tok = tokenizer(300);
        let headers = tokenize_corpus(&c, &tok, &out, 7, 0.0).unwrap();
        let sets = &headers[1].sets;
        assert_eq!(sets.len(), 2);
        let [a, b] = sets["tales"][0];
        assert_eq!(a, 0);
        assert_eq!(sets["news"][0][0], b, "the sets are adjacent");
        let shards = TokenShards::open(&out, "val").unwrap();
        assert!(shards.header.shards.len() > 1, "the spans cross shard files");
        let text = tok.decode(&shards.span(a, b)).unwrap();
        assert!(
            text.starts_with("Doc 0 of tales.") && text.contains("Doc 3 of tales.") && !text.contains("news"),
            "{text}"
        );
        assert_eq!(sets["news"][0][1], shards.num_tokens());
    }

    #[test]
    fn other_tokenizer_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let c = corpus(dir.path(), 20);
        let out = dir.path().join("shards");
        tokenize_corpus(&c, &tokenizer(300), &out, 1_000_000, 0.0).unwrap();
        let err = TokenShards::open(&out, "val").unwrap().check_tokenizer(&tokenizer(290)).unwrap_err().to_string();
        assert!(err.contains("made with tokenizer") && err.contains("fledge data tokenize"), "{err}");
    }

    #[test]
    fn truncated_shard_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let c = corpus(dir.path(), 20);
        let out = dir.path().join("shards");
        let headers = tokenize_corpus(&c, &tokenizer(300), &out, 1_000_000, 0.0).unwrap();
        let bin = out.join(&headers[0].shards[0].file);
        let len = fs::metadata(&bin).unwrap().len();
        let f = fs::OpenOptions::new().write(true).open(&bin).unwrap();
        f.set_len(len - 3).unwrap();
        let err = TokenShards::open(&out, "train").err().unwrap().to_string();
        assert!(err.contains("truncated") && err.contains(&headers[0].shards[0].file), "{err}");
    }

    /// Issue 19, item 4: an id past the vocabulary used to reach the engine
    /// and panic there (index out of range); now opening the shard refuses
    /// it, naming the file and the token's offset.
    #[test]
    fn id_outside_the_vocabulary_is_refused_with_shard_and_offset() {
        let dir = tempfile::tempdir().unwrap();
        let c = corpus(dir.path(), 20);
        let out = dir.path().join("shards");
        let tok = tokenizer(300);
        let headers = tokenize_corpus(&c, &tok, &out, 1_000_000, 0.0).unwrap();
        assert_eq!(headers[0].id_bytes, 2);
        let bin = out.join(&headers[0].shards[0].file);
        let mut bytes = fs::read(&bin).unwrap();
        let vocab = tok.vocab_size();
        bytes[2 * 7..2 * 8].copy_from_slice(&(vocab as u16).to_le_bytes());
        fs::write(&bin, bytes).unwrap();
        let err = TokenShards::open(&out, "train").err().expect("refused").to_string();
        assert!(err.contains(&headers[0].shards[0].file), "{err}");
        assert!(err.contains(&format!("token 7 (byte 14) is id {vocab}, but the vocabulary has {vocab} ids")), "{err}");
    }

    #[test]
    fn inconsistent_header_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let c = corpus(dir.path(), 20);
        let out = dir.path().join("shards");
        tokenize_corpus(&c, &tokenizer(300), &out, 1_000_000, 0.0).unwrap();
        let path = out.join("train.json");
        let good: serde_json::Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
        let tokens = good["tokens"].as_u64().unwrap();
        let cases: [(&str, serde_json::Value, &str); 4] = [
            ("/tokens", serde_json::json!(tokens + 1), "tokens"),
            ("/shards/0/file", serde_json::json!("../../etc/passwd"), "not a file name"),
            ("/shards/0/tokens", serde_json::json!(u64::MAX), "more than any file"),
            ("/spans", serde_json::json!({"cats": [[5, tokens + 9]]}), "not within"),
        ];
        for (field, value, expected) in cases {
            let mut bad = good.clone();
            *bad.pointer_mut(field).unwrap_or_else(|| panic!("{field}")) = value;
            fs::write(&path, bad.to_string()).unwrap();
            let err = TokenShards::open(&out, "train").err().expect("refused").to_string();
            assert!(err.contains("train.json") && err.contains(expected), "{field}: {err}");
        }
    }

    #[test]
    fn bad_jsonl_line_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let c = corpus(dir.path(), 5);
        fs::write(c.join("val.jsonl"), "{\"text\": \"ok\"}\n{\"txt\": 1}\n").unwrap();
        let err = tokenize_corpus(&c, &tokenizer(300), &dir.path().join("s"), 1000, 0.0).unwrap_err().to_string();
        assert!(err.contains("val.jsonl") && err.contains("line 2"), "{err}");
    }
}
