//! One call that shares a model: the Hugging Face folder (safetensors,
//! tokenizer, chat template, model card) with the GGUF files inside it, as hub
//! repositories carry them. `fledge export` and `fledge speedrun` both use it.

use std::path::{Path, PathBuf};

use super::card::{self, CardInputs};
use super::gguf::{self, GgufType};
use super::hf::{self, HfDtype};
use super::{file_err, ExportError, Source};
use crate::chat::{render_tokens, Message, Role};
use crate::fsutil::{FolderKind, FolderWriter};
use crate::generate::{generate, Generator, SamplingOptions};

/// An export folder (HF files, GGUF files, the card).
pub const FOLDER: FolderKind = FolderKind { name: "export", legacy: &[] };

/// What to write.
pub struct ExportOptions {
    /// The name asked for; a data license may prefix it (see [`ExportReport::name`]).
    pub name: String,
    /// Write the Hugging Face folder (otherwise only the card and the GGUF files).
    pub hf: bool,
    pub dtype: HfDtype,
    /// One GGUF file per type; none for no GGUF.
    pub gguf_types: Vec<GgufType>,
    /// Evaluation rows quoted in the card, as (what, figure).
    pub evals: Vec<(String, String)>,
    /// Write into an `out` that holds files fledge did not write (they are
    /// kept); otherwise such a folder is refused.
    pub force: bool,
}

/// What was written.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ExportReport {
    pub out: PathBuf,
    /// The name used: the one asked for, with the prefix a data license requires.
    pub name: String,
    /// The notices the card carries because the data's licenses ask for them.
    pub notices: Vec<String>,
    /// GGUF files by name, with their size in bytes.
    pub gguf_files: Vec<(String, u64)>,
    /// Tensors a GGUF type could not hold (rows not a multiple of its block), written as f16.
    pub gguf_fallbacks: Vec<String>,
    /// Bytes of everything in the folder.
    pub bytes: u64,
}

impl GgufType {
    /// `f32`, `f16` or `q8_0`.
    pub fn parse(name: &str) -> Option<GgufType> {
        Some(match name {
            "f32" => GgufType::F32,
            "f16" => GgufType::F16,
            "q8_0" => GgufType::Q8_0,
            _ => return None,
        })
    }
}

/// Samples for the card, generated from the weights being exported: two story
/// openings continued, and one chat answer.
pub fn card_samples(src: &Source) -> Vec<(String, String)> {
    let tok = &src.tokenizer;
    let mut generator = Generator::new(&src.config, &src.params);
    let options = SamplingOptions { max_new_tokens: 60, seed: 1, ..Default::default() };
    let mut out = Vec::new();
    for prompt in ["Once upon a time", "The little dog"] {
        let mut ids = vec![tok.eot_id()];
        ids.extend(tok.encode(prompt, false));
        let g = generate(&mut generator, tok, &ids, &options, |_| {});
        out.push((prompt.to_string(), g.text));
    }
    let question = "Tell me a story about a cat.";
    let ids = render_tokens(tok, &[Message::new(Role::User, question)], true).ids;
    let g = generate(&mut generator, tok, &ids, &options, |_| {});
    out.push((format!("(chat) {question} →"), format!(" {}", g.text)));
    out
}

/// Writes `out` (replaced as a whole, never left half-written): the HF folder
/// and the GGUF files, with a card that carries what the data's licenses ask.
/// A previous export there is replaced; files fledge did not write are never
/// removed (without `force`, a folder holding any is refused).
pub fn export_model(src: &Source, out: &Path, options: &ExportOptions) -> Result<ExportReport, ExportError> {
    let obligations = card::obligations(src);
    let name = obligations.apply_name(&options.name);
    // Everything is written into a fresh hidden folder beside `out`, put in place at the end.
    let folder = FolderWriter::create(out, &FOLDER, options.force)?;
    let tmp = folder.path();
    let mut gguf_files = Vec::new();
    let mut gguf_fallbacks = Vec::new();
    for ty in &options.gguf_types {
        let file = format!("{name}-{}.gguf", ty.name());
        let report = gguf::export(src, &tmp.join(&file), *ty, &name)?;
        gguf_fallbacks.extend(report.fallbacks.iter().map(|f| format!("{file}: {f}")));
        gguf_files.push((file, report.bytes));
    }
    let samples = card_samples(src);
    let names: Vec<String> = gguf_files.iter().map(|(f, _)| f.clone()).collect();
    let card =
        card::render(src, &CardInputs { name: &name, samples: &samples, gguf_files: &names, evals: &options.evals });
    if options.hf {
        hf::export(src, tmp, options.dtype, &card)?;
    } else {
        crate::fsutil::write_atomic(tmp.join("README.md"), card.as_bytes()).map_err(|e| file_err(tmp, e))?;
    }
    // What the card says, in a form import reads back exactly.
    let record = src.record(&name);
    super::record::write(tmp, &record)?;
    folder.commit()?;
    let bytes = folder_bytes(out);
    Ok(ExportReport { out: out.to_path_buf(), name, notices: obligations.notices, gguf_files, gguf_fallbacks, bytes })
}

fn folder_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries.flatten().filter_map(|e| e.metadata().ok()).filter(|m| m.is_file()).map(|m| m.len()).sum()
        })
        .unwrap_or(0)
}
