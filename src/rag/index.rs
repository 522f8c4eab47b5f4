//! The index folder: a person's documents as chunks, each with its text, its
//! place in the source file, an embedding and a BM25 entry.
//!
//! ```text
//! INDEX/
//!   index.json        the manifest: settings, roots, documents and their chunks, live segments
//!   seg-000003.text   chunk texts added by ingest generation 3, one after another (UTF-8)
//!   seg-000003.vec    their embeddings, little-endian f32, one row of `dim` per chunk
//!   bm25/             tantivy's index of the same chunks (see bm25.rs)
//! ```
//!
//! An ingest never rewrites what the current manifest points at: it writes new
//! segment files, updates BM25, and only then renames a new `index.json` into
//! place. A kill at any moment leaves the previous manifest and everything it
//! names intact, so the previous index still answers; files of the interrupted
//! ingest are unreferenced and removed by the next one. Re-adding a file whose
//! content hash is unchanged costs one read and one hash; a changed file's old
//! chunks are dropped and its new ones added. Segments whose rows are mostly dead
//! are compacted into the new segment (texts and vectors copied, nothing
//! re-embedded). The manifest is small JSON, so opening an index is one read.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::bm25::Bm25;
use super::chunk::{chunk, ChunkConfig, Span};
use super::embed::Embedder;
use super::extract::{collect_files, extract, read_limited, DocKind, Skip};
use super::RagError;
use crate::fsutil::write_atomic;

pub const MANIFEST: &str = "index.json";
const BM25_DIR: &str = "bm25";
const FORMAT: u32 = 1;
/// Chunk texts embedded per call, so progress moves and memory stays flat.
const EMBED_BATCH: usize = 256;

/// Which embedding model an index was built with. Vectors from another model
/// live in another space: comparing them is meaningless, so a mismatch refuses.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmbedderId {
    pub name: String,
    pub fingerprint: String,
    pub dim: usize,
}

impl EmbedderId {
    pub fn of(e: &Embedder) -> EmbedderId {
        EmbedderId { name: e.name().to_string(), fingerprint: e.fingerprint().to_string(), dim: e.dim() }
    }
}

/// What an index is made with; fixed when it is created.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexSettings {
    /// None: a BM25-only index (no embedding model was available or wanted).
    pub embedder: Option<EmbedderId>,
    pub chunking: ChunkConfig,
}

/// One chunk of a document: where its text sits in the segment files and where
/// it came from in the document.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ChunkEntry {
    pub id: u64,
    pub segment: u64,
    pub row: u32,
    pub text_offset: u64,
    pub text_len: u32,
    #[serde(flatten)]
    pub span: Span,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DocEntry {
    /// Absolute path of the source file.
    pub path: PathBuf,
    /// SHA-256 of the file's bytes.
    pub hash: String,
    pub kind: DocKind,
    pub bytes: u64,
    pub chunks: Vec<ChunkEntry>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct SegmentEntry {
    generation: u64,
    rows: u32,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Manifest {
    format: u32,
    settings: IndexSettings,
    generation: u64,
    next_chunk_id: u64,
    /// The folders and files given to `add`: `remove` only accepts paths under them.
    roots: Vec<PathBuf>,
    segments: Vec<SegmentEntry>,
    documents: Vec<DocEntry>,
}

/// An open index. Chunk texts and vectors are read on first use.
pub struct Index {
    dir: PathBuf,
    manifest: Manifest,
    bm25: Bm25,
    texts: OnceLock<HashMap<u64, Vec<u8>>>,
    vectors: OnceLock<DenseRows>,
    pub(super) embedder: Option<Embedder>,
    /// How hybrid retrieval weighs its two rankings.
    pub fusion: super::retrieve::Fusion,
}

/// Every live chunk's vector, one row each, for brute-force dense search
/// (a few milliseconds for tens of thousands of chunks).
pub(super) struct DenseRows {
    pub ids: Vec<u64>,
    pub dim: usize,
    pub data: Vec<f32>,
}

/// What one `add` did.
#[derive(Debug, Default, Serialize)]
pub struct AddReport {
    pub files_seen: usize,
    pub added: usize,
    pub replaced: usize,
    pub unchanged: usize,
    pub skipped: Vec<(PathBuf, String)>,
    pub skipped_by_reason: BTreeMap<String, usize>,
    pub chunks_added: usize,
    pub chunks_removed: usize,
    pub tokens_embedded: usize,
    pub seconds: f64,
    pub embed_seconds: f64,
}

impl AddReport {
    fn skip(&mut self, path: PathBuf, why: Skip) {
        *self.skipped_by_reason.entry(why.key().to_string()).or_default() += 1;
        self.skipped.push((path, why.to_string()));
    }
}

/// A new or changed file read by `add`: its entry (chunks not yet placed),
/// its text, and where its chunks fall in that text.
struct FreshDoc {
    doc: DocEntry,
    text: String,
    spans: Vec<Span>,
}

/// The one segment an ingest writes: the compacted chunks' texts and vectors
/// first, then the new chunks', one row each.
#[derive(Default)]
struct NewSegment {
    generation: u64,
    text: Vec<u8>,
    vectors: Vec<f32>,
    rows: u32,
    /// The new chunks: id, bytes of `text`, tokens.
    new_chunks: Vec<(u64, std::ops::Range<usize>, usize)>,
}

impl NewSegment {
    /// Gives every chunk of `fresh` an id from `next_id` on and a row here,
    /// and returns the next free id.
    fn append_chunks(&mut self, fresh: &mut [FreshDoc], mut next_id: u64, report: &mut AddReport) -> u64 {
        for FreshDoc { doc, text, spans } in fresh {
            for span in spans.iter() {
                let piece = &text[span.start..span.end];
                let offset = self.text.len();
                self.text.extend_from_slice(piece.as_bytes());
                doc.chunks.push(ChunkEntry {
                    id: next_id,
                    segment: self.generation,
                    row: self.rows,
                    text_offset: offset as u64,
                    text_len: piece.len() as u32,
                    span: span.clone(),
                });
                self.new_chunks.push((next_id, offset..offset + piece.len(), span.tokens));
                report.tokens_embedded += span.tokens;
                next_id += 1;
                self.rows += 1;
            }
        }
        report.chunks_added = self.new_chunks.len();
        next_id
    }

    /// Embeds the new chunks in batches, their vectors after the compacted ones.
    fn embed_new_chunks(&mut self, embedder: &Embedder, report: &mut AddReport) -> Result<(), RagError> {
        let started = Instant::now();
        let bar = crate::progress::count_bar(report.tokens_embedded as u64, "embedding", "tokens");
        for batch in self.new_chunks.chunks(EMBED_BATCH) {
            let texts: Vec<&str> = batch.iter().map(|(_, range, _)| text_str(&self.text, range)).collect();
            for v in embedder.embed(&texts)? {
                self.vectors.extend_from_slice(&v);
            }
            bar.inc(batch.iter().map(|c| c.2 as u64).sum());
        }
        bar.finish_and_clear();
        report.embed_seconds = started.elapsed().as_secs_f64();
        Ok(())
    }
}

/// A chunk's text in a segment being written.
fn text_str<'a>(text: &'a [u8], range: &std::ops::Range<usize>) -> &'a str {
    std::str::from_utf8(&text[range.clone()]).expect("chunk texts are UTF-8 slices")
}

#[derive(Debug, Serialize)]
pub struct Stats {
    pub documents: usize,
    pub chunks: usize,
    pub tokens: usize,
    pub bytes_on_disk: u64,
    pub roots: Vec<PathBuf>,
    pub settings: IndexSettings,
    pub generation: u64,
    pub by_kind: BTreeMap<String, usize>,
}

fn index_err(dir: &Path, reason: impl Into<String>) -> RagError {
    RagError::Index { path: dir.to_path_buf(), reason: reason.into() }
}

fn segment_path(dir: &Path, generation: u64, ext: &str) -> PathBuf {
    dir.join(format!("seg-{generation:06}.{ext}"))
}

/// A path made absolute and tidy without touching the file system beyond the
/// current directory (a removed file cannot be canonicalized).
fn absolute(path: &Path) -> Result<PathBuf, RagError> {
    if let Ok(p) = path.canonicalize() {
        return Ok(p);
    }
    let base = std::env::current_dir().map_err(|e| RagError::io(".", e))?;
    let mut out = PathBuf::new();
    for part in base.join(path).components() {
        match part {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    Ok(out)
}

impl Index {
    /// True if `dir` holds an index.
    pub fn exists(dir: &Path) -> bool {
        dir.join(MANIFEST).is_file()
    }

    /// Creates an empty index in `dir` (which must not hold one already).
    pub fn create(dir: &Path, settings: IndexSettings) -> Result<Index, RagError> {
        settings.chunking.validate()?;
        if Index::exists(dir) {
            return Err(index_err(dir, "already holds an index"));
        }
        // An index cleans up after itself inside its folder, so it never
        // moves into a folder that already holds someone else's files.
        if let Some(file) = std::fs::read_dir(dir).ok().and_then(|mut entries| entries.next()).and_then(|e| e.ok()) {
            let message = format!(
                "holds {} and no index: an index is made in a new or empty folder, so that fledge never touches \
                 files it did not write; choose another --index",
                file.file_name().to_string_lossy()
            );
            return Err(index_err(dir, message));
        }
        std::fs::create_dir_all(dir).map_err(|e| RagError::io(dir, e))?;
        let manifest = Manifest {
            format: FORMAT,
            settings,
            generation: 0,
            next_chunk_id: 0,
            roots: Vec::new(),
            segments: Vec::new(),
            documents: Vec::new(),
        };
        write_manifest(dir, &manifest)?;
        Index::open(dir)
    }

    /// Opens the index in `dir`: one manifest read; texts and vectors wait until needed.
    pub fn open(dir: &Path) -> Result<Index, RagError> {
        let manifest = read_manifest(dir)?;
        let mut index = Index {
            dir: dir.to_path_buf(),
            manifest,
            bm25: Bm25::open_or_create(&dir.join(BM25_DIR))?,
            texts: OnceLock::new(),
            vectors: OnceLock::new(),
            embedder: None,
            fusion: Default::default(),
        };
        // A kill between BM25's commit and the manifest's rename leaves BM25 a
        // generation ahead: rebuild it from the segments, which the manifest vouches for.
        let generation = index.manifest.generation;
        if generation > 0 && index.bm25.generation()? != Some(generation) {
            tracing::warn!("{}: BM25 index out of step with the manifest; rebuilding it", dir.display());
            let texts = index.texts()?;
            let chunks: Vec<(u64, String)> = index
                .chunks()
                .map(|(_, c)| chunk_text(texts, c).map(|t| (c.id, t.to_string())))
                .collect::<Result<_, _>>()?;
            index.bm25.rebuild(chunks.iter().map(|(id, t)| (*id, t.as_str())), generation)?;
        }
        Ok(index)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn settings(&self) -> &IndexSettings {
        &self.manifest.settings
    }

    pub fn documents(&self) -> &[DocEntry] {
        &self.manifest.documents
    }

    pub fn roots(&self) -> &[PathBuf] {
        &self.manifest.roots
    }

    /// Every live chunk with its document.
    pub fn chunks(&self) -> impl Iterator<Item = (&DocEntry, &ChunkEntry)> {
        self.manifest.documents.iter().flat_map(|d| d.chunks.iter().map(move |c| (d, c)))
    }

    /// Attaches the embedding model queries are embedded with; refuses one
    /// that is not the model the index was built with.
    pub fn set_embedder(&mut self, embedder: Embedder) -> Result<(), RagError> {
        self.check_embedder(Some(&embedder))?;
        self.embedder = Some(embedder);
        Ok(())
    }

    fn check_embedder(&self, embedder: Option<&Embedder>) -> Result<(), RagError> {
        match (&self.manifest.settings.embedder, embedder) {
            (Some(want), Some(have)) if *want != EmbedderId::of(have) => Err(index_err(
                &self.dir,
                format!(
                    "built with embedding model {} (fingerprint {}, {} dimensions), but the model given is {} \
                     (fingerprint {}); use the original model, or rebuild: {}",
                    want.name,
                    want.fingerprint,
                    want.dim,
                    have.name(),
                    have.fingerprint(),
                    self.rebuild_hint()
                ),
            )),
            _ => Ok(()),
        }
    }

    /// The commands that rebuild this index from its roots.
    pub fn rebuild_hint(&self) -> String {
        let roots: Vec<String> = self.manifest.roots.iter().map(|r| format!("'{}'", r.display())).collect();
        format!(
            "`rm -r '{}' && fledge index add {} --index '{}'`",
            self.dir.display(),
            roots.join(" "),
            self.dir.display()
        )
    }

    /// Refuses chunking settings other than the index's own (its chunks would be mixed).
    pub fn check_chunking(&self, chunking: &ChunkConfig) -> Result<(), RagError> {
        let have = &self.manifest.settings.chunking;
        if have != chunking {
            return Err(index_err(
                &self.dir,
                format!(
                    "made with chunks of {} tokens overlapping by {}, not {} / {}; keep the index's settings \
                     (leave out --chunk-tokens/--overlap-tokens) or rebuild: {}",
                    have.max_tokens,
                    have.overlap_tokens,
                    chunking.max_tokens,
                    chunking.overlap_tokens,
                    self.rebuild_hint()
                ),
            ));
        }
        Ok(())
    }

    /// Every live segment's text bytes, read once.
    pub(super) fn texts(&self) -> Result<&HashMap<u64, Vec<u8>>, RagError> {
        if let Some(t) = self.texts.get() {
            return Ok(t);
        }
        let mut texts = HashMap::new();
        for seg in &self.manifest.segments {
            let path = segment_path(&self.dir, seg.generation, "text");
            texts.insert(seg.generation, std::fs::read(&path).map_err(|e| RagError::io(path, e))?);
        }
        Ok(self.texts.get_or_init(|| texts))
    }

    /// The text of chunk `c`.
    pub fn text_of(&self, c: &ChunkEntry) -> Result<&str, RagError> {
        chunk_text(self.texts()?, c)
    }

    /// Every live chunk's vector, read once.
    pub(super) fn vectors(&self) -> Result<&DenseRows, RagError> {
        if let Some(v) = self.vectors.get() {
            return Ok(v);
        }
        let dim = match &self.manifest.settings.embedder {
            Some(e) => e.dim,
            None => return Err(index_err(&self.dir, "a BM25-only index has no vectors (rebuild it with an embedder)")),
        };
        let mut per_segment: HashMap<u64, Vec<f32>> = HashMap::new();
        for seg in &self.manifest.segments {
            let path = segment_path(&self.dir, seg.generation, "vec");
            let bytes = std::fs::read(&path).map_err(|e| RagError::io(&path, e))?;
            if bytes.len() != seg.rows as usize * dim * 4 {
                return Err(index_err(&path, "vector file has the wrong size; rebuild the index"));
            }
            let floats = bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
            per_segment.insert(seg.generation, floats);
        }
        let mut rows = DenseRows { ids: Vec::new(), dim, data: Vec::new() };
        for (_, c) in self.chunks() {
            let seg = &per_segment[&c.segment];
            let at = c.row as usize * dim;
            rows.ids.push(c.id);
            rows.data.extend_from_slice(&seg[at..at + dim]);
        }
        Ok(self.vectors.get_or_init(|| rows))
    }

    pub(super) fn bm25(&self) -> &Bm25 {
        &self.bm25
    }

    /// How a document is named in prompts and printed sources: its path
    /// under the folder it was indexed from (`garden/tomatoes.md` for
    /// `~/notes/garden/tomatoes.md` when `~/notes` was added), so that two
    /// files called `notes.md` in different folders can be told apart; a
    /// file added by itself is its own root and is named by its file name.
    pub fn source_label(&self, path: &Path) -> String {
        let root = self.manifest.roots.iter().filter(|r| path.starts_with(r) && path != r.as_path()).max();
        match root.and_then(|r| path.strip_prefix(r).ok()) {
            Some(under) => under.display().to_string(),
            None => path.file_name().unwrap_or(path.as_os_str()).to_string_lossy().into_owned(),
        }
    }

    /// Chunk id -> (document, chunk).
    pub fn chunk_map(&self) -> HashMap<u64, (&DocEntry, &ChunkEntry)> {
        self.chunks().map(|(d, c)| (c.id, (d, c))).collect()
    }

    /// Adds files and folders; unchanged files are skipped by content hash,
    /// changed ones replaced. `max_file_bytes` bounds what is read.
    ///
    /// In order: read the new and changed files, then plan the next manifest
    /// (the documents kept, the segments compacted, the new chunks and their
    /// embeddings, all in one new segment), then commit it: segments first,
    /// then BM25, then the manifest renamed into place, so a kill at any
    /// point leaves the old index or the new one (a BM25 index left ahead of
    /// the manifest is rebuilt when the index opens).
    pub fn add(
        &mut self,
        paths: &[PathBuf],
        embedder: Option<&Embedder>,
        max_file_bytes: u64,
    ) -> Result<AddReport, RagError> {
        let started = Instant::now();
        let writer = self.bm25.lock()?;
        self.reload()?;
        self.check_embedder(embedder)?;
        if self.manifest.settings.embedder.is_some() && embedder.is_none() {
            return Err(RagError::NoEmbedder);
        }
        let files = collect_files(paths)?;
        let mut report = AddReport { files_seen: files.len(), ..Default::default() };
        let (mut fresh, replaced) = self.read_new_or_changed(&files, paths, embedder, max_file_bytes, &mut report)?;
        let new_roots = utf8_roots(paths)?;
        let roots_changed = new_roots.iter().any(|r| !self.manifest.roots.iter().any(|have| r.starts_with(have)));
        if fresh.is_empty() && !roots_changed {
            report.seconds = started.elapsed().as_secs_f64();
            return Ok(report);
        }

        // Everything the next manifest will hold: kept documents and the new ones.
        let generation = self.manifest.generation + 1;
        let mut removed_ids: Vec<u64> = Vec::new();
        let mut documents: Vec<DocEntry> = Vec::new();
        for (i, d) in self.manifest.documents.iter().enumerate() {
            if replaced.contains(&i) {
                removed_ids.extend(d.chunks.iter().map(|c| c.id));
            } else {
                documents.push(d.clone());
            }
        }
        report.chunks_removed = removed_ids.len();
        let mut segment = NewSegment { generation, ..Default::default() };
        let compacted = self.compact_into(&mut documents, &mut segment)?;
        let next_id = segment.append_chunks(&mut fresh, self.manifest.next_chunk_id, &mut report);
        if let Some(e) = embedder {
            segment.embed_new_chunks(e, &mut report)?;
        }
        documents.extend(fresh.into_iter().map(|f| f.doc));
        documents.sort_by(|a, b| a.path.cmp(&b.path));
        let mut roots = self.manifest.roots.clone();
        for r in new_roots {
            if !roots.iter().any(|have| r.starts_with(have)) {
                roots.retain(|have| !have.starts_with(&r));
                roots.push(r);
            }
        }
        roots.sort();
        let manifest = Manifest {
            format: FORMAT,
            settings: self.manifest.settings.clone(),
            generation,
            next_chunk_id: next_id,
            roots,
            segments: self.manifest.segments.iter().filter(|s| !compacted.contains(&s.generation)).cloned().collect(),
            documents,
        };
        self.commit(writer, manifest, segment, removed_ids, embedder.is_some())?;
        report.seconds = started.elapsed().as_secs_f64();
        Ok(report)
    }

    /// Reads, hashes, extracts and chunks every file of `files` that is new
    /// or changed; the rest are counted in the report as unchanged or skipped
    /// (with why). Returns the new documents, and the manifest indices of
    /// the documents they replace.
    fn read_new_or_changed(
        &self,
        files: &[PathBuf],
        given: &[PathBuf],
        embedder: Option<&Embedder>,
        max_file_bytes: u64,
        report: &mut AddReport,
    ) -> Result<(Vec<FreshDoc>, HashSet<usize>), RagError> {
        let existing: HashMap<&Path, usize> =
            self.manifest.documents.iter().enumerate().map(|(i, d)| (d.path.as_path(), i)).collect();
        let chunking = self.manifest.settings.chunking;
        let count = |s: &str| match embedder {
            Some(e) => e.count_tokens(s),
            None => word_tokens(s),
        };
        let given_folders: Vec<PathBuf> =
            given.iter().filter(|p| p.is_dir()).map(|p| absolute(p)).collect::<Result<_, _>>()?;
        let bar = crate::progress::count_bar(files.len() as u64, "reading", "files");
        let mut fresh = Vec::new();
        let mut replaced = HashSet::new();
        for file in files {
            bar.inc(1);
            // Skipped before the path is resolved, so that the report names
            // the file as found (a link, not its target).
            if let Some(why) = unusable_path(file, given, &given_folders) {
                report.skip(file.clone(), why);
                continue;
            }
            let path = absolute(file)?;
            let Some(kind) = DocKind::from_path(&path) else {
                let ext = path.extension().map(|e| format!(".{}", e.to_string_lossy())).unwrap_or_default();
                report.skip(path, Skip::Unsupported(ext));
                continue;
            };
            let bytes = match read_limited(&path, max_file_bytes) {
                Ok(b) => b,
                Err(why) => {
                    report.skip(path, why);
                    continue;
                }
            };
            let hash = format!("{:x}", Sha256::digest(&bytes));
            let previous = existing.get(path.as_path()).copied();
            if previous.is_some_and(|i| self.manifest.documents[i].hash == hash) {
                report.unchanged += 1;
                continue;
            }
            let text = match extract(kind, &bytes) {
                Ok(t) => t,
                Err(why) => {
                    report.skip(path, why);
                    continue;
                }
            };
            let spans = chunk(&text, &chunking, &count);
            if spans.is_empty() {
                report.skip(path, Skip::NoText);
                continue;
            }
            match previous {
                Some(i) => {
                    replaced.insert(i);
                    report.replaced += 1;
                }
                None => report.added += 1,
            }
            let doc = DocEntry { path, hash, kind, bytes: bytes.len() as u64, chunks: Vec::new() };
            fresh.push(FreshDoc { doc, text, spans });
        }
        bar.finish_and_clear();
        Ok((fresh, replaced))
    }

    /// Copies the chunks of segments where most rows are dead (texts and
    /// vectors, nothing re-embedded) into `segment`, pointing `documents` at
    /// their new rows. Returns the generations compacted away.
    fn compact_into(&self, documents: &mut [DocEntry], segment: &mut NewSegment) -> Result<HashSet<u64>, RagError> {
        let mut live_rows: HashMap<u64, u32> = HashMap::new();
        for c in documents.iter().flat_map(|d| &d.chunks) {
            *live_rows.entry(c.segment).or_default() += 1;
        }
        let compact: HashSet<u64> = self
            .manifest
            .segments
            .iter()
            .filter(|s| live_rows.get(&s.generation).copied().unwrap_or(0) * 2 < s.rows)
            .map(|s| s.generation)
            .collect();
        if compact.is_empty() {
            return Ok(compact);
        }
        let texts = self.texts()?;
        let vectors = if self.manifest.settings.embedder.is_some() { Some(self.vectors()?) } else { None };
        let row_of: HashMap<u64, usize> =
            vectors.map(|v| v.ids.iter().enumerate().map(|(i, &id)| (id, i)).collect()).unwrap_or_default();
        for c in documents.iter_mut().flat_map(|d| &mut d.chunks) {
            if !compact.contains(&c.segment) {
                continue;
            }
            let text = chunk_text(texts, c)?;
            if let Some(v) = vectors {
                let r = row_of[&c.id];
                segment.vectors.extend_from_slice(&v.data[r * v.dim..(r + 1) * v.dim]);
            }
            c.segment = segment.generation;
            c.row = segment.rows;
            c.text_offset = segment.text.len() as u64;
            segment.text.extend_from_slice(text.as_bytes());
            segment.rows += 1;
        }
        Ok(compact)
    }

    /// Writes what `add` planned, in the order that keeps a kill harmless:
    /// 1. the new segment files (unreferenced until the manifest names them);
    /// 2. BM25, committed with this generation as its payload;
    /// 3. the manifest, renamed into place: from here on the new index is the index.
    fn commit(
        &mut self,
        writer: tantivy::IndexWriter,
        mut manifest: Manifest,
        segment: NewSegment,
        removed_ids: Vec<u64>,
        with_vectors: bool,
    ) -> Result<(), RagError> {
        let generation = segment.generation;
        if segment.rows > 0 {
            let text_path = segment_path(&self.dir, generation, "text");
            write_atomic(&text_path, &segment.text).map_err(|e| RagError::io(&text_path, e))?;
            if with_vectors {
                let vec_path = segment_path(&self.dir, generation, "vec");
                let bytes: Vec<u8> = segment.vectors.iter().flat_map(|x| x.to_le_bytes()).collect();
                write_atomic(&vec_path, &bytes).map_err(|e| RagError::io(&vec_path, e))?;
            }
            manifest.segments.push(SegmentEntry { generation, rows: segment.rows });
        }
        let added = segment.new_chunks.iter().map(|(id, range, _)| (*id, text_str(&segment.text, range)));
        self.bm25.update(writer, removed_ids, added, generation)?;
        crash_point("after-bm25");
        write_manifest(&self.dir, &manifest)?;
        self.manifest = manifest;
        self.texts = OnceLock::new();
        self.vectors = OnceLock::new();
        self.remove_unreferenced_files();
        Ok(())
    }

    /// Re-reads the manifest: called under the write lock, so that an ingest
    /// builds on what another process committed since this one opened the index.
    fn reload(&mut self) -> Result<(), RagError> {
        let manifest = read_manifest(&self.dir)?;
        if manifest.generation != self.manifest.generation {
            self.manifest = manifest;
            self.texts = OnceLock::new();
            self.vectors = OnceLock::new();
        }
        Ok(())
    }

    /// Removes every document at or under each path. A path outside the roots
    /// the index was built from is refused (it cannot hold indexed documents).
    pub fn remove(&mut self, paths: &[PathBuf]) -> Result<Vec<PathBuf>, RagError> {
        let writer = self.bm25.lock()?;
        self.reload()?;
        let mut targets = Vec::new();
        for p in paths {
            let abs = absolute(p)?;
            let indexed_here = self.manifest.documents.iter().any(|d| d.path.starts_with(&abs));
            // Outside the roots nothing should be indexed, but an index made
            // before links out of a folder were refused can hold such files:
            // they can still be removed by name.
            if !indexed_here && !self.manifest.roots.iter().any(|r| abs.starts_with(r)) {
                let roots: Vec<String> = self.manifest.roots.iter().map(|r| r.display().to_string()).collect();
                return Err(RagError::Invalid(format!(
                    "{} is outside the indexed roots ({}); `fledge index list --index {}` shows what is indexed",
                    p.display(),
                    if roots.is_empty() { "none yet".to_string() } else { roots.join(", ") },
                    self.dir.display()
                )));
            }
            if !indexed_here {
                return Err(RagError::Invalid(format!("nothing is indexed at or under {}", p.display())));
            }
            targets.push(abs);
        }
        let generation = self.manifest.generation + 1;
        let mut manifest = self.manifest.clone();
        let mut removed_docs = Vec::new();
        let mut removed_ids = Vec::new();
        manifest.documents.retain(|d| {
            let gone = targets.iter().any(|t| d.path.starts_with(t));
            if gone {
                removed_docs.push(d.path.clone());
                removed_ids.extend(d.chunks.iter().map(|c| c.id));
            }
            !gone
        });
        // A removed root is no longer a root.
        manifest.roots.retain(|r| !targets.iter().any(|t| r.starts_with(t)));
        let live: HashSet<u64> = manifest.documents.iter().flat_map(|d| d.chunks.iter().map(|c| c.segment)).collect();
        manifest.segments.retain(|s| live.contains(&s.generation));
        manifest.generation = generation;
        self.commit(writer, manifest, NewSegment { generation, ..Default::default() }, removed_ids, false)?;
        Ok(removed_docs)
    }

    /// Deletes segment files no manifest names (left by a compaction or a killed ingest).
    fn remove_unreferenced_files(&self) {
        let live: HashSet<u64> = self.manifest.segments.iter().map(|s| s.generation).collect();
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let generation =
                name.strip_prefix("seg-").and_then(|rest| rest.split('.').next()).and_then(|g| g.parse::<u64>().ok());
            // Only the temporary names fledge's own writes use (`.index.json.PID.tmp`, `.seg-N.….tmp`).
            let stray_tmp =
                (name.starts_with(".seg-") || name.starts_with(&format!(".{MANIFEST}."))) && name.ends_with(".tmp");
            if generation.is_some_and(|g| !live.contains(&g)) || stray_tmp {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }

    pub fn stats(&self) -> Stats {
        let mut by_kind = BTreeMap::new();
        for d in &self.manifest.documents {
            *by_kind.entry(format!("{:?}", d.kind).to_lowercase()).or_default() += 1;
        }
        Stats {
            documents: self.manifest.documents.len(),
            chunks: self.chunks().count(),
            tokens: self.chunks().map(|(_, c)| c.span.tokens).sum(),
            bytes_on_disk: dir_size(&self.dir),
            roots: self.manifest.roots.clone(),
            settings: self.manifest.settings.clone(),
            generation: self.manifest.generation,
            by_kind,
        }
    }
}

/// Why a file found by [`collect_files`] cannot be indexed at all, whatever
/// it holds: a name that is not UTF-8 (the manifest is JSON text), or a link
/// found inside a folder that leads out of every folder given. A link the
/// user names on the command line is followed: it is meant to be used.
/// The paths given to `add`, made absolute: they become the index's roots,
/// which the manifest records as text, so each must be valid UTF-8.
fn utf8_roots(paths: &[PathBuf]) -> Result<Vec<PathBuf>, RagError> {
    let roots: Vec<PathBuf> = paths.iter().map(|p| absolute(p)).collect::<Result<_, _>>()?;
    if let Some(root) = roots.iter().find(|r| r.to_str().is_none()) {
        return Err(RagError::Invalid(format!(
            "{}: the path is not valid UTF-8, and the index records paths as text; rename it (or index \
             the files inside it that have valid names)",
            root.display()
        )));
    }
    Ok(roots)
}

fn unusable_path(file: &Path, given: &[PathBuf], given_folders: &[PathBuf]) -> Option<Skip> {
    if file.to_str().is_none() || absolute(file).ok().is_some_and(|p| p.to_str().is_none()) {
        return Some(Skip::NameNotUtf8);
    }
    let is_link = std::fs::symlink_metadata(file).is_ok_and(|m| m.file_type().is_symlink());
    if is_link && !given.iter().any(|g| g == file) {
        let target = file.canonicalize().ok()?;
        if !given_folders.iter().any(|folder| target.starts_with(folder)) {
            return Some(Skip::LinkOutside(target));
        }
    }
    None
}

fn chunk_text<'a>(texts: &'a HashMap<u64, Vec<u8>>, c: &ChunkEntry) -> Result<&'a str, RagError> {
    let bytes = texts
        .get(&c.segment)
        .and_then(|t| t.get(c.text_offset as usize..c.text_offset as usize + c.text_len as usize))
        .ok_or_else(|| {
            RagError::Invalid(format!("chunk {} points outside its segment file; rebuild the index", c.id))
        })?;
    std::str::from_utf8(bytes).map_err(|_| RagError::Invalid(format!("chunk {} is not UTF-8; rebuild the index", c.id)))
}

/// Reads and checks `dir/index.json`.
fn read_manifest(dir: &Path) -> Result<Manifest, RagError> {
    let path = dir.join(MANIFEST);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(index_err(dir, "no index here (create one with `fledge index add PATH... --index DIR`)"))
        }
        Err(e) => return Err(RagError::io(path, e)),
    };
    let manifest: Manifest = serde_json::from_slice(&bytes)
        .map_err(|e| index_err(&path, format!("not a fledge index manifest ({e}); rebuild the index")))?;
    if manifest.format != FORMAT {
        return Err(index_err(
            &path,
            format!("index format {} is not {FORMAT}, which this fledge reads; rebuild the index", manifest.format),
        ));
    }
    Ok(manifest)
}

fn write_manifest(dir: &Path, manifest: &Manifest) -> Result<(), RagError> {
    let path = dir.join(MANIFEST);
    let json = serde_json::to_vec(manifest).map_err(|e| RagError::Invalid(e.to_string()))?;
    write_atomic(&path, &json).map_err(|e| RagError::io(path, e))
}

/// Token estimate for a BM25-only index (no model tokenizer to ask): about
/// 1.3 subword tokens per word in English prose.
pub fn word_tokens(s: &str) -> usize {
    (s.split_whitespace().count() * 13).div_ceil(10)
}

fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_size(&e.path()),
            Ok(_) => e.metadata().map(|m| m.len()).unwrap_or(0),
            Err(_) => 0,
        })
        .sum()
}

/// Tests of crash safety stop the process here when FLEDGE_CRASH_AT names this point.
fn crash_point(name: &str) {
    if std::env::var("FLEDGE_CRASH_AT").is_ok_and(|v| v == name) {
        eprintln!("FLEDGE_CRASH_AT={name}: aborting as a kill would");
        std::process::abort();
    }
}
