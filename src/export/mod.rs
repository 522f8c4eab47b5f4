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
//! - [`record`]: `fledge.json`, the name, licenses and training record that
//!   travel with an exported model and come back with an import.

pub mod bundle;
pub mod card;
pub mod gguf;
pub mod hf;
pub mod import;
pub mod record;

use std::path::{Path, PathBuf};

use crate::data::license::SourceLicense;
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

/// A model loaded with what fledge knows of it: its folder, config, weights,
/// tokenizer, training state, the licenses of its data and the name it was
/// shared under. Every command that takes a model loads it through
/// [`Source::load`].
pub struct Source {
    pub dir: PathBuf,
    pub config: ModelConfig,
    pub params: Vec<f32>,
    pub tokenizer: Tokenizer,
    /// The training record: the checkpoint's `state.json`, or the one an
    /// exported or imported model carries in `fledge.json`.
    pub state: Option<TrainState>,
    /// The licenses of every source the weights were trained on.
    pub licenses: Vec<SourceLicense>,
    /// The name the model was shared under, when it was exported before.
    pub name: Option<String>,
    /// The checkpoint the weights come from: its folder's name, or the one
    /// an exported or imported model's record names.
    pub checkpoint: String,
}

impl Source {
    /// Any model fledge can load: a checkpoint folder, a run folder (its
    /// latest checkpoint), or a Hugging Face folder (an export, such as the
    /// shipped model, or any LlamaForCausalLM).
    pub fn load(path: &Path) -> Result<Self, ExportError> {
        if import::is_hf_folder(path) {
            let (config, params, tokenizer) = import::read_hf(path)?;
            let record = record::read(path)?.unwrap_or_default();
            return Ok(Self {
                dir: path.to_path_buf(),
                config,
                params,
                tokenizer,
                state: record.training,
                licenses: record.licenses,
                name: record.name,
                checkpoint: record.checkpoint.unwrap_or_else(|| folder_name(path)),
            });
        }
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
        // A checkpoint fledge trained has its state; an imported one the
        // record the exported folder carried.
        let (state, licenses, name, checkpoint) = match loaded.state {
            Some(state) => {
                let licenses = state.data_licenses.clone();
                (Some(state), licenses, None, folder_name(&dir))
            }
            None => {
                let record = record::read(&dir)?.unwrap_or_default();
                let checkpoint = record.checkpoint.unwrap_or_else(|| folder_name(&dir));
                (record.training, record.licenses, record.name, checkpoint)
            }
        };
        Ok(Self { dir, config: loaded.config, params: loaded.params, tokenizer, state, licenses, name, checkpoint })
    }

    /// The record written beside an export of this model (`fledge.json`).
    pub fn record(&self, name: &str) -> record::ModelRecord {
        record::ModelRecord {
            name: Some(name.to_string()),
            licenses: self.licenses.clone(),
            training: self.state.clone(),
            checkpoint: Some(self.checkpoint.clone()),
        }
    }

    /// The run folder holding this checkpoint (where metrics and reports live).
    pub fn run_dir(&self) -> Option<&Path> {
        self.dir.parent().filter(|p| p.join("latest.json").exists())
    }
}

/// The last component of `path`, as text.
fn folder_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}
