//! Sharing a model: a Hugging Face folder and a GGUF file that the ecosystem
//! loads without fledge, and the way back in (import of HF Llama folders).
//!
//! - [`hf`]: `config.json`, `model.safetensors` (f32 or bf16), the tokenizer
//!   files with the ChatML `chat_template`, `generation_config.json`, and
//!   the model card.
//! - [`gguf`]: a GGUF file of architecture `llama` for llama.cpp and Ollama,
//!   written by fledge (llama.cpp's converter refuses BPE tokenizers it has
//!   not seen before; see ../shared/DESIGN.md), in f32, f16 or Q8_0.
//! - [`card`]: the model card (`README.md` of the HF folder).
//! - [`import`]: an HF `LlamaForCausalLM` folder into a fledge checkpoint.

pub mod bundle;
pub mod card;
pub mod gguf;
pub mod hf;
pub mod import;

use std::path::{Path, PathBuf};

use crate::model::ModelConfig;
use crate::tokenizer::Tokenizer;
use crate::train::checkpoint::{self, CheckpointError, TrainState};

/// What can go wrong exporting or importing, naming the file or field.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error(transparent)]
    Folder(#[from] crate::fsutil::FolderError),
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("{0}")]
    Unsupported(String),
}

pub(crate) fn file_err(path: &Path, e: impl std::fmt::Display) -> ExportError {
    ExportError::File { path: path.to_path_buf(), message: e.to_string() }
}

/// A checkpoint loaded for export: its folder, config, weights, tokenizer,
/// and training state when it has one.
pub struct Source {
    pub dir: PathBuf,
    pub config: ModelConfig,
    pub params: Vec<f32>,
    pub tokenizer: Tokenizer,
    pub state: Option<TrainState>,
}

impl Source {
    /// A checkpoint folder, or a run folder (its latest checkpoint).
    pub fn load(path: &Path) -> Result<Self, ExportError> {
        let dir = checkpoint::resolve(path)?;
        let loaded = checkpoint::load(&dir)?;
        let tok_path = dir.join("tokenizer.json");
        let tokenizer = Tokenizer::load(&tok_path).map_err(|e| file_err(&tok_path, e))?;
        if tokenizer.vocab_size() != loaded.config.vocab_size {
            return Err(ExportError::Invalid {
                path: dir.clone(),
                message: format!(
                    "the tokenizer has {} tokens but the model {}: not a checkpoint fledge wrote",
                    tokenizer.vocab_size(),
                    loaded.config.vocab_size
                ),
            });
        }
        Ok(Self { dir, config: loaded.config, params: loaded.params, tokenizer, state: loaded.state })
    }

    /// The run folder holding this checkpoint (where metrics and reports live).
    pub fn run_dir(&self) -> Option<&Path> {
        self.dir.parent().filter(|p| p.join("latest.json").exists())
    }
}
