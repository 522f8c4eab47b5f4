//! fledge: from raw text to a small language model you trained yourself.
//!
//! One module per pipeline stage (see `../shared/DESIGN.md`):
//!
//! - [`data`]: reading corpora, cleaning, de-duplication, decontamination,
//!   train/validation split, and token shards with a reproducible batch loader.
//! - [`tokenizer`]: byte-level BPE training and encoding, saved as a Hugging
//!   Face `tokenizer.json`, with the ChatML special tokens.
//! - [`model`]: the Llama-style model, its config, and the training engine.
//! - [`train`]: optimizer, checkpoints and the pretraining loop.
//! - [`generate`]: KV-cached generation and sampling.
//! - [`chat`]: conversations and the ChatML template, converters from chat
//!   and QA sets, supervised fine-tuning, and grounded-QA evaluation.
//!
//! - [`rag`]: indexing a person's documents, hybrid retrieval, and grounded prompts.
//!
//! Helpers shared by every stage live in [`fsutil`] (atomic writes) and
//! [`progress`] (progress bars).

pub mod bench;
pub mod chat;
pub mod data;
pub mod export;
pub mod fsutil;
pub mod generate;
pub mod model;
pub mod progress;
pub mod rag;
pub mod serve;
pub mod speedrun;
pub mod tokenizer;
pub mod train;

/// The chat model shipped with the repository (an exported Hugging Face
/// folder), which `fledge chat` and `fledge serve` use when no model is named.
pub const SHIPPED_MODEL: &str = "models/fledge-6m-chat";

/// The shipped model's folder: under the current directory, else beside this
/// build's sources; `None` when neither holds it.
pub fn shipped_model() -> Option<std::path::PathBuf> {
    let here = std::path::PathBuf::from(SHIPPED_MODEL);
    let beside = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(SHIPPED_MODEL);
    [here, beside].into_iter().find(|p| p.join("config.json").is_file())
}
