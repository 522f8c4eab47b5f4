//! `fledge speedrun`: the whole pipeline in one command.
//!
//! For now the pipeline ends at token shards: prepare the corpus, train the
//! tokenizer on it, tokenize. Later stages (pretraining, chat, retrieval,
//! export) join here as they are built. Everything goes under one output
//! folder, and a `summary.md` says what each stage did and how long it took.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::data::prepare::{self, Recipe};
use crate::data::read::{self, ReadOptions};
use crate::data::shards;
use crate::data::DataError;
use crate::tokenizer::Tokenizer;

/// Settings of a speedrun, from a TOML file and flags.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpeedrunConfig {
    /// Data recipe; `None` picks [`default_recipe`].
    pub recipe: Option<PathBuf>,
    pub out: PathBuf,
    pub vocab_size: usize,
    pub shard_tokens: u64,
}

impl Default for SpeedrunConfig {
    fn default() -> Self {
        Self { recipe: None, out: PathBuf::from("runs/speedrun"), vocab_size: 4096, shard_tokens: 100_000_000 }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SpeedrunError {
    #[error("config {path}: {message}")]
    Config { path: PathBuf, message: String },
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Tokenizer(#[from] crate::tokenizer::TokenizerError),
}

impl SpeedrunConfig {
    /// Loads a TOML config; its relative paths are taken from the file's folder.
    pub fn load(path: &Path) -> Result<Self, SpeedrunError> {
        let err = |message: String| SpeedrunError::Config { path: path.to_path_buf(), message };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let table: toml::Table = toml::from_str(&text).map_err(|e| err(e.to_string()))?;
        let out_given = table.contains_key("out");
        let mut config: SpeedrunConfig = toml::from_str(&text).map_err(|e| err(e.to_string()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        if let Some(r) = &config.recipe {
            if r.is_relative() {
                config.recipe = Some(base.join(r));
            }
        }
        if out_given && config.out.is_relative() {
            config.out = base.join(&config.out);
        }
        if config.vocab_size < crate::tokenizer::MIN_VOCAB {
            return Err(err(format!(
                "vocab_size {} is below the minimum of {}",
                config.vocab_size,
                crate::tokenizer::MIN_VOCAB
            )));
        }
        Ok(config)
    }
}

/// The project's own recipe over ../shared/data when it is there, otherwise
/// the small sample shipped in `assets/sample` so a fresh clone still runs.
pub fn default_recipe() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    if root.join("../shared/data/pretrain").is_dir() {
        root.join("recipes/default.toml")
    } else {
        root.join("recipes/sample.toml")
    }
}

/// Runs every stage; returns a Markdown summary (also written to `summary.md`).
pub fn run(config: &SpeedrunConfig) -> Result<String, SpeedrunError> {
    let recipe_path = config.recipe.clone().unwrap_or_else(default_recipe);
    tracing::info!(recipe = %recipe_path.display(), out = %config.out.display(), "speedrun");
    let mut summary = format!("# fledge speedrun\n\nRecipe: `{}`\n\n", recipe_path.display());

    let t = Instant::now();
    let recipe = Recipe::load(&recipe_path)?;
    let data_dir = config.out.join("data");
    let report = prepare::prepare(&recipe, &data_dir)?;
    summary.push_str(&format!("## 1. Corpus ({:.1} s)\n\n", t.elapsed().as_secs_f64()));
    summary.push_str(&prepare::render_report(&report));

    let t = Instant::now();
    let tokenizer_path = config.out.join("tokenizer/tokenizer.json");
    // The corpus is the one the tokenizer was trained on: keep it.
    let earlier = report
        .reused
        .then(|| Tokenizer::load(&tokenizer_path).ok())
        .flatten()
        .filter(|t| t.vocab_size() == config.vocab_size);
    let reused = earlier.is_some();
    let tokenizer = match earlier {
        Some(t) => t,
        None => {
            let mut texts = Vec::new();
            read::read_source(&data_dir.join("train.jsonl"), &ReadOptions::default(), |d| texts.push(d.text))?;
            let tokenizer = Tokenizer::train(texts.iter(), config.vocab_size, true)?;
            tokenizer.save(&tokenizer_path)?;
            tokenizer
        }
    };
    summary.push_str(&format!(
        "\n## 2. Tokenizer ({:.1} s{})\n\nByte-level BPE, {} tokens, hash `{}`, saved to `{}`.\n",
        t.elapsed().as_secs_f64(),
        if reused { ", reused: same corpus" } else { "" },
        tokenizer.vocab_size(),
        &tokenizer.hash()[..12],
        tokenizer_path.display()
    ));

    let t = Instant::now();
    let shard_dir = config.out.join("shards");
    let headers = shards::tokenize_corpus(&data_dir, &tokenizer, &shard_dir, config.shard_tokens)?;
    summary.push_str(&format!("\n## 3. Token shards ({:.1} s)\n\n", t.elapsed().as_secs_f64()));
    summary.push_str("| split | documents | MB | tokens | bytes/token |\n|---|---|---|---|---|\n");
    for h in &headers {
        summary.push_str(&format!(
            "| {} | {} | {:.2} | {} | {:.3} |\n",
            h.split,
            h.documents,
            h.bytes as f64 / 1e6,
            h.tokens,
            h.bytes_per_token()
        ));
    }
    crate::fsutil::write_atomic(config.out.join("summary.md"), summary.as_bytes())
        .map_err(|e| DataError::io(&config.out, e))?;
    Ok(summary)
}
