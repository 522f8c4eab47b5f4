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
/// folder), which every command that takes a model uses when none is named.
pub const SHIPPED_MODEL: &str = "models/fledge-6m-chat";

/// The shipped model's folder, found as [`project_file`] finds files; `None`
/// when no checkout holds it.
pub fn shipped_model() -> Option<std::path::PathBuf> {
    project_file(std::path::Path::new(SHIPPED_MODEL).join("config.json").as_path())
        .and_then(|p| p.parent().map(std::path::Path::to_path_buf))
}

/// A file of the fledge checkout (`recipes/sample.toml`, the shipped model),
/// by its path inside the checkout: under the current directory first, else
/// in the checkout that holds the running executable (`target/release/fledge`
/// sits inside it). Never the folder the binary was compiled in: a binary
/// copied or installed elsewhere must not read a build tree that may have
/// changed or gone.
pub fn project_file(relative: &std::path::Path) -> Option<std::path::PathBuf> {
    let cwd = std::env::current_dir().ok();
    let exe = std::env::current_exe().ok();
    find_project_file(relative, cwd.as_deref(), exe.as_deref())
}

/// [`project_file`] with the current directory and executable given, so that
/// tests can place them.
pub fn find_project_file(
    relative: &std::path::Path,
    cwd: Option<&std::path::Path>,
    exe: Option<&std::path::Path>,
) -> Option<std::path::PathBuf> {
    let here = cwd.map(|d| d.join(relative));
    let beside_exe = exe.into_iter().flat_map(|e| e.ancestors().skip(1)).map(|dir| dir.join(relative));
    here.into_iter().chain(beside_exe).find(|p| p.exists())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_files_come_from_the_current_checkout_or_the_executables_never_the_build_tree() {
        let root = tempfile::tempdir().unwrap();
        let checkout = root.path().join("checkout");
        std::fs::create_dir_all(checkout.join("recipes")).unwrap();
        std::fs::create_dir_all(checkout.join("target/release")).unwrap();
        std::fs::write(checkout.join("recipes/sample.toml"), "").unwrap();
        let elsewhere = root.path().join("elsewhere");
        std::fs::create_dir_all(&elsewhere).unwrap();
        let recipe = std::path::Path::new("recipes/sample.toml");
        let exe = checkout.join("target/release/fledge");

        // Run from the checkout.
        assert_eq!(find_project_file(recipe, Some(&checkout), None), Some(checkout.join(recipe)));
        // Run from elsewhere: the checkout holding the binary.
        assert_eq!(find_project_file(recipe, Some(&elsewhere), Some(&exe)), Some(checkout.join(recipe)));
        // A binary copied out of any checkout finds nothing (not this crate's sources).
        let copied = elsewhere.join("bin/fledge");
        assert_eq!(find_project_file(recipe, Some(&elsewhere), Some(&copied)), None);
    }
}
