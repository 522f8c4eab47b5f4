//! The data stage: from files on disk to token shards a trainer can sample.
//!
//! - [`read`]: plain text, folders, JSONL, JSON, CSV and parquet into raw documents.
//! - [`clean`]: Gutenberg boilerplate, whitespace, wrapped prose, long books into sections.
//! - [`dedup`]: exact and near-duplicate lines, and overlap with evaluation sets.
//! - [`prepare`]: a recipe of sources run through all of the above into
//!   `train.jsonl` / `val.jsonl` with a report of every count.
//! - [`shards`]: the prepared corpus tokenized into flat u16/u32 files, and a
//!   memory-mapped loader of random windows reproducible from a seed and step.

pub mod case;
pub mod clean;
pub mod dedup;
pub mod license;
pub mod prepare;
pub mod read;
pub mod shards;

use std::path::{Path, PathBuf};

/// Everything that can go wrong in the data stage, each naming the file and
/// saying what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },

    #[error("{path}: not valid UTF-8 at byte {offset} (line {line}). Convert the file to UTF-8, or pass --lossy (`lossy = true` in a recipe) to replace bad bytes with U+FFFD")]
    NotUtf8 { path: PathBuf, offset: usize, line: usize },

    #[error("{path}{}: {message}", line.map(|l| format!(", line {l}")).unwrap_or_default())]
    Format { path: PathBuf, line: Option<usize>, message: String },

    #[error("{path}: {why}")]
    EmptySource { path: PathBuf, why: String },

    #[error("recipe {path}: {message}")]
    Recipe { path: PathBuf, message: String },

    #[error("{0}")]
    EmptyCorpus(String),

    #[error("shard {path}: {message}")]
    Shard { path: PathBuf, message: String },

    #[error(transparent)]
    Tokenizer(#[from] crate::tokenizer::TokenizerError),
}

impl DataError {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        DataError::Io { path: path.to_path_buf(), source }
    }
}
