//! The command-line layer: each file turns one group of `fledge` commands'
//! flags into calls to the pipeline's stages and prints what they did. The
//! stages never import from here.

pub mod ablate;
pub mod bench;
pub mod chat;
pub mod data;
pub mod engine;
pub mod export;
pub mod generate;
pub mod inspect;
pub mod rag;
pub mod serve;
pub mod speedrun;
pub mod tokenizer;
pub mod train;

use std::path::Path;

use anyhow::{Context, Result};
use clap::Args;

use fledge::data::read::{Format, ReadOptions};

/// How input text files are read: the flags `data prepare` and `tokenizer
/// train` share.
#[derive(Args)]
pub struct ReadFlags {
    /// Format of the input files (default: auto, by extension).
    #[arg(long, value_enum, default_value_t = Format::Auto)]
    pub format: Format,
    /// JSON field / CSV or parquet column with the text (default: text, body, content, story).
    #[arg(long)]
    pub field: Option<String>,
    /// Replace invalid UTF-8 instead of refusing the file (default: off, refuse).
    #[arg(long)]
    pub lossy: bool,
}

impl ReadFlags {
    /// The reader's options, every file of a folder read.
    pub fn options(&self) -> ReadOptions {
        ReadOptions { format: self.format, field: self.field.clone(), include: vec![], lossy: self.lossy }
    }
}

/// A flag the first Ctrl-C sets (the training loop then saves and stops);
/// a second Ctrl-C exits at once.
pub fn ctrl_c_flag() -> Result<std::sync::Arc<std::sync::atomic::AtomicBool>> {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stop.clone();
    ctrlc::set_handler(move || {
        if flag.swap(true, std::sync::atomic::Ordering::SeqCst) {
            eprintln!("second Ctrl-C: exiting without saving");
            std::process::exit(130);
        }
        eprintln!("Ctrl-C: finishing this step and saving a checkpoint (press again to quit at once)");
    })
    .context("installing the Ctrl-C handler")?;
    Ok(stop)
}

/// Whether the TOML file at `path` (if any) sets `key` at its top level.
pub fn config_sets(path: Option<&Path>, key: &str) -> bool {
    path.and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|t| t.parse::<toml::Table>().ok())
        .is_some_and(|t| t.contains_key(key))
}
