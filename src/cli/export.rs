//! `fledge export` and `fledge import`: argument parsing and printing; the
//! formats are in `fledge::export`.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;

use fledge::export::bundle::{export_model, ExportOptions};
use fledge::export::card;
use fledge::export::gguf::GgufType;
use fledge::export::hf::HfDtype;
use fledge::export::{import, Source};

#[derive(Args)]
pub struct ExportArgs {
    /// The model: a checkpoint, a run folder (its latest checkpoint) or a Hugging Face folder
    /// (default: the model shipped in models/).
    #[arg(long)]
    model: Option<PathBuf>,
    /// The folder to write (default: exports/NAME).
    #[arg(long)]
    out: Option<PathBuf>,
    /// The model's name in the card, the GGUF metadata and file names (default: the name it was
    /// exported under before, else the model folder's name).
    #[arg(long)]
    name: Option<String>,
    /// What to write: hf, gguf, or both (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "hf,gguf")]
    format: Vec<String>,
    /// Number format of the HF weights: f32 or bf16.
    #[arg(long, default_value = "f32")]
    dtype: String,
    /// GGUF files to write, one per type: f32, f16, q8_0 (comma-separated).
    #[arg(long = "gguf-type", value_delimiter = ',', default_value = "f32,q8_0")]
    gguf_types: Vec<String>,
    /// `fledge eval --out` results to quote in the card (repeatable; default: none).
    #[arg(long = "eval")]
    evals: Vec<PathBuf>,
    /// Write into an --out folder that holds files fledge did not write: fledge's files go in
    /// beside them and they are kept (default: off, such a folder is refused).
    #[arg(long)]
    force: bool,
}

#[derive(Args)]
pub struct ImportArgs {
    /// A Hugging Face folder: config.json (LlamaForCausalLM), model.safetensors (or shards), tokenizer.json.
    path: PathBuf,
    /// The checkpoint folder to write (a previous checkpoint there is replaced).
    #[arg(long)]
    out: PathBuf,
    /// Write into an --out folder that holds files fledge did not write: the checkpoint's files go in
    /// beside them and they are kept (default: off, such a folder is refused).
    #[arg(long)]
    force: bool,
}

/// Grounded-QA rows from `fledge eval --out` results.
fn eval_rows(paths: &[PathBuf]) -> Result<Vec<(String, String)>> {
    let mut rows = Vec::new();
    for p in paths {
        let text = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
        let j: serde_json::Value =
            serde_json::from_str(&text).with_context(|| format!("{} is not JSON", p.display()))?;
        let qa = j["qa"]
            .as_array()
            .with_context(|| format!("{}: no `qa` list (write it with fledge eval --out)", p.display()))?;
        rows.extend(card::qa_rows(qa));
    }
    Ok(rows)
}

pub fn run_export(args: ExportArgs) -> Result<()> {
    let model = crate::cli::chat::model_or_shipped(args.model.as_deref())?;
    let src = Source::load(&model)?;
    let asked =
        args.name.clone().or_else(|| src.name.clone()).unwrap_or_else(|| fledge::train::checkpoint::model_name(&model));
    let dtype = match args.dtype.as_str() {
        "f32" => HfDtype::F32,
        "bf16" => HfDtype::Bf16,
        other => bail!("--dtype {other}: use f32 or bf16"),
    };
    let (want_hf, want_gguf) = (args.format.iter().any(|f| f == "hf"), args.format.iter().any(|f| f == "gguf"));
    if let Some(bad) = args.format.iter().find(|f| *f != "hf" && *f != "gguf") {
        bail!("--format {bad}: use hf, gguf, or hf,gguf");
    }
    let mut gguf_types = Vec::new();
    if want_gguf {
        for t in &args.gguf_types {
            gguf_types.push(GgufType::parse(t).with_context(|| format!("--gguf-type {t}: use f32, f16 or q8_0"))?);
        }
    }
    // A data license can ask for the shared model's name (Llama 3.1 output:
    // "Llama" first) and a notice, which the card carries.
    let name = card::obligations(&src).apply_name(&asked);
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from("exports").join(&name));
    let options = ExportOptions {
        name: asked.clone(),
        hf: want_hf,
        dtype,
        gguf_types,
        evals: eval_rows(&args.evals)?,
        force: args.force,
    };
    let report = export_model(&src, &out, &options)?;
    if report.name != asked {
        let prefix = card::obligations(&src).name_prefix.unwrap_or_default();
        println!(
            "Named {}, not {asked}: the license of its training data asks that the name start with \"{prefix}\"",
            report.name
        );
    }
    for notice in &report.notices {
        println!("The card carries the notice \"{notice}\", as the license of its training data asks");
    }
    for (file, bytes) in &report.gguf_files {
        println!("{file}: {:.1} MB", *bytes as f64 / 1e6);
    }
    for f in &report.gguf_fallbacks {
        println!("  {f}: rows are not a multiple of the quantization block, written as f16");
    }
    println!("Wrote {} ({:.1} MB)", out.display(), report.bytes as f64 / 1e6);
    if want_hf {
        println!("Publish it: huggingface-cli upload YOUR_NAME/{} {} .", report.name, out.display());
    }
    Ok(())
}

pub fn run_import(args: ImportArgs) -> Result<()> {
    let config = import::import(&args.path, &args.out, args.force)?;
    println!(
        "Imported {}: {} layers, d_model {}, {} heads ({} key-value), vocabulary {}, window {} -> {}",
        args.path.display(),
        config.n_layers,
        config.d_model,
        config.n_heads,
        config.n_kv_heads,
        config.vocab_size,
        config.max_seq_len,
        args.out.display()
    );
    Ok(())
}
