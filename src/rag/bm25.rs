//! The word side of retrieval: BM25 over chunk texts, kept by tantivy.
//!
//! tantivy is a maintained full-text engine (Lucene's design in Rust): its
//! English stemming analyzer, BM25 scoring and on-disk segments are what a
//! hand-written inverted index would take thousands of lines to match. Each
//! chunk is one tantivy document holding the chunk's id (fledge's, stable across
//! compactions) and its text (indexed, not stored: the index folder keeps the
//! text once, in its segment files).
//!
//! tantivy commits atomically on its own, but an ingest also writes fledge's
//! manifest, and the two cannot be renamed in one step. So every commit carries
//! the manifest generation it belongs to as its payload: when a kill lands
//! between the two, the manifest still names the previous generation, and
//! [`Bm25::generation`] tells the caller that this BM25 index is ahead of it and
//! must be rebuilt from the segment files (chunk ids the manifest does not know
//! are also filtered out of results meanwhile).

use std::path::{Path, PathBuf};

use tantivy::collector::TopDocs;
use tantivy::query::QueryParser;
use tantivy::schema::{Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, Value, FAST, INDEXED, STORED};
use tantivy::{doc, Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

use super::RagError;

/// Memory tantivy may buffer before flushing a segment while indexing.
const WRITER_MEMORY: usize = 50_000_000;

pub struct Bm25 {
    dir: PathBuf,
    index: Index,
    reader: IndexReader,
    id: Field,
    text: Field,
}

fn err(dir: &Path, e: impl std::fmt::Display) -> RagError {
    RagError::Index { path: dir.to_path_buf(), reason: format!("BM25 index: {e}") }
}

impl Bm25 {
    /// Opens the BM25 index in `dir`, creating an empty one if the folder has none.
    pub fn open_or_create(dir: &Path) -> Result<Bm25, RagError> {
        let mut schema = Schema::builder();
        schema.add_u64_field("id", INDEXED | STORED | FAST);
        let indexing =
            TextFieldIndexing::default().set_tokenizer("en_stem").set_index_option(IndexRecordOption::WithFreqs);
        schema.add_text_field("text", TextOptions::default().set_indexing_options(indexing));
        let schema = schema.build();
        std::fs::create_dir_all(dir).map_err(|e| RagError::io(dir, e))?;
        let index = if dir.join("meta.json").is_file() {
            Index::open_in_dir(dir).map_err(|e| err(dir, e))?
        } else {
            Index::create_in_dir(dir, schema).map_err(|e| err(dir, e))?
        };
        let schema = index.schema();
        let (id, text) = match (schema.get_field("id"), schema.get_field("text")) {
            (Ok(i), Ok(t)) => (i, t),
            _ => return Err(err(dir, "not a fledge BM25 index (fields id and text missing)")),
        };
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into().map_err(|e| err(dir, e))?;
        Ok(Bm25 { dir: dir.to_path_buf(), index, reader, id, text })
    }

    /// The manifest generation of the last commit, if any.
    pub fn generation(&self) -> Result<Option<u64>, RagError> {
        let metas = self.index.load_metas().map_err(|e| err(&self.dir, e))?;
        Ok(metas.payload.and_then(|p| p.parse().ok()))
    }

    /// Takes the index's write lock (a file lock, released when the process
    /// dies), so that two ingests into one index cannot interleave. The
    /// caller takes it before doing any work and hands it to [`Bm25::update`].
    pub fn lock(&self) -> Result<IndexWriter, RagError> {
        self.index.writer_with_num_threads(1, WRITER_MEMORY).map_err(|e| self.locked_or(e))
    }

    /// Deletes `remove`, adds `add` (id, text) and commits as `generation`.
    pub fn update<'a>(
        &mut self,
        writer: IndexWriter,
        remove: impl IntoIterator<Item = u64>,
        add: impl IntoIterator<Item = (u64, &'a str)>,
        generation: u64,
    ) -> Result<(), RagError> {
        for id in remove {
            writer.delete_term(Term::from_field_u64(self.id, id));
        }
        for (id, text) in add {
            writer.add_document(doc!(self.id => id, self.text => text)).map_err(|e| err(&self.dir, e))?;
        }
        self.commit(writer, generation)
    }

    /// Replaces everything with `chunks` (used to repair an index left ahead of the manifest).
    pub fn rebuild<'a>(
        &mut self,
        chunks: impl IntoIterator<Item = (u64, &'a str)>,
        generation: u64,
    ) -> Result<(), RagError> {
        let writer = self.lock()?;
        writer.delete_all_documents().map_err(|e| err(&self.dir, e))?;
        self.update(writer, std::iter::empty(), chunks, generation)
    }

    fn commit(&mut self, mut writer: IndexWriter, generation: u64) -> Result<(), RagError> {
        let mut prepared = writer.prepare_commit().map_err(|e| err(&self.dir, e))?;
        prepared.set_payload(&generation.to_string());
        prepared.commit().map_err(|e| err(&self.dir, e))?;
        writer.wait_merging_threads().map_err(|e| err(&self.dir, e))?;
        self.reader.reload().map_err(|e| err(&self.dir, e))?;
        Ok(())
    }

    fn locked_or(&self, e: tantivy::TantivyError) -> RagError {
        if matches!(e, tantivy::TantivyError::LockFailure(..)) {
            err(&self.dir, "another fledge process is writing this index; wait for it to finish")
        } else {
            err(&self.dir, e)
        }
    }

    /// The best `k` chunk ids for `query` with their BM25 scores, best first.
    /// The query is free text: operators and stray punctuation are read leniently.
    pub fn search(&self, query: &str, k: usize) -> Result<Vec<(u64, f32)>, RagError> {
        let parser = QueryParser::for_index(&self.index, vec![self.text]);
        // Questions are natural language, not query syntax: strip the characters
        // the parser treats as operators so "what's 'happy'?" means its words.
        let words: String =
            query.chars().map(|c| if c.is_alphanumeric() || c.is_whitespace() { c } else { ' ' }).collect();
        let (parsed, _) = parser.parse_query_lenient(&words);
        let searcher = self.reader.searcher();
        let top = searcher.search(&parsed, &TopDocs::with_limit(k.max(1))).map_err(|e| err(&self.dir, e))?;
        let mut hits = Vec::with_capacity(top.len());
        for (score, address) in top {
            let doc: TantivyDocument = searcher.doc(address).map_err(|e| err(&self.dir, e))?;
            if let Some(id) = doc.get_first(self.id).and_then(|v| v.as_u64()) {
                hits.push((id, score));
            }
        }
        Ok(hits)
    }

    pub fn num_chunks(&self) -> u64 {
        self.reader.searcher().num_docs()
    }
}
