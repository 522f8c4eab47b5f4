//! `fledge export` and `fledge import`: argument parsing and printing; the
//! formats are in `fledge::export`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;

use fledge::chat::{render_tokens, Message, Role};
use fledge::export::card::{self, CardInputs};
use fledge::export::gguf::{self, GgufType};
use fledge::export::hf::{self, HfDtype};
use fledge::export::{import, Source};
use fledge::generate::{generate, Generator, SamplingOptions};

#[derive(Args)]
pub struct ExportArgs {
    /// The model: a checkpoint, or a run folder (its latest checkpoint).
    #[arg(long)]
    model: PathBuf,
    /// The folder to write (default: exports/NAME).
    #[arg(long)]
    out: Option<PathBuf>,
    /// The model's name in the card, the GGUF metadata and file names (default: the model folder's name).
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
    /// `fledge eval --out` results to quote in the card (repeatable).
    #[arg(long = "eval")]
    evals: Vec<PathBuf>,
}

#[derive(Args)]
pub struct ImportArgs {
    /// A Hugging Face folder: config.json (LlamaForCausalLM), model.safetensors (or shards), tokenizer.json.
    path: PathBuf,
    /// The checkpoint folder to write.
    #[arg(long)]
    out: PathBuf,
}

/// Samples for the card, generated from the weights being exported: two
/// story openings continued, and one chat answer.
fn samples(src: &Source) -> Vec<(String, String)> {
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
        for q in qa {
            rows.push((
                format!("{} exact match / F1 ({} questions)", q["name"].as_str().unwrap_or("?"), q["scored"]),
                format!(
                    "{:.3} / {:.3}",
                    q["exact_match"].as_f64().unwrap_or(f64::NAN),
                    q["f1"].as_f64().unwrap_or(f64::NAN)
                ),
            ));
        }
    }
    Ok(rows)
}

pub fn run_export(args: ExportArgs) -> Result<()> {
    let src = Source::load(&args.model)?;
    let asked = args.name.clone().unwrap_or_else(|| fledge::train::checkpoint::model_name(&args.model));
    // A data license can ask for the shared model's name (Llama 3.1 output:
    // "Llama" first) and a notice, which the card carries.
    let obligations = card::obligations(&src);
    let name = obligations.apply_name(&asked);
    if name != asked {
        println!(
            "Named {name}, not {asked}: the license of its training data asks that the name start with \"{}\"",
            obligations.name_prefix.as_deref().unwrap_or_default()
        );
    }
    for notice in &obligations.notices {
        println!("The card carries the notice \"{notice}\", as the license of its training data asks");
    }
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from("exports").join(&name));
    let dtype = match args.dtype.as_str() {
        "f32" => HfDtype::F32,
        "bf16" => HfDtype::Bf16,
        other => bail!("--dtype {other}: use f32 or bf16"),
    };
    let mut types = Vec::new();
    for t in &args.gguf_types {
        types.push(match t.as_str() {
            "f32" => GgufType::F32,
            "f16" => GgufType::F16,
            "q8_0" => GgufType::Q8_0,
            other => bail!("--gguf-type {other}: use f32, f16 or q8_0"),
        });
    }
    let (want_hf, want_gguf) = (args.format.iter().any(|f| f == "hf"), args.format.iter().any(|f| f == "gguf"));
    if let Some(bad) = args.format.iter().find(|f| *f != "hf" && *f != "gguf") {
        bail!("--format {bad}: use hf, gguf, or hf,gguf");
    }
    std::fs::create_dir_all(out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")))?;

    // The GGUF files go inside the HF folder, as hub repositories carry them;
    // they are written first to a staging folder, since the HF export
    // replaces the folder as a whole.
    let staging = out.with_extension("gguf-staging");
    let mut gguf_files = Vec::new();
    if want_gguf {
        std::fs::create_dir_all(&staging)?;
        for ty in &types {
            let file = format!("{name}-{}.gguf", ty.name());
            let report = gguf::export(&src, &staging.join(&file), *ty, &name)?;
            println!("{file}: {} tensors, {:.1} MB", report.tensors, report.bytes as f64 / 1e6);
            for f in &report.fallbacks {
                println!("  {f}: rows are not a multiple of the {} block, written as f16", ty.name());
            }
            gguf_files.push(file);
        }
    }
    let evals = eval_rows(&args.evals)?;
    let samples = samples(&src);
    let card =
        card::render(&src, &CardInputs { name: &name, samples: &samples, gguf_files: &gguf_files, evals: &evals });
    if want_hf {
        hf::export(&src, &out, dtype, &card)?;
    } else {
        std::fs::create_dir_all(&out)?;
        fledge::fsutil::write_atomic(out.join("README.md"), card.as_bytes())?;
    }
    for f in &gguf_files {
        std::fs::rename(staging.join(f), out.join(f))?;
    }
    if staging.exists() {
        std::fs::remove_dir_all(&staging)?;
    }
    println!("Wrote {}", out.display());
    if want_hf {
        println!("Publish it: huggingface-cli upload YOUR_NAME/{name} {} .", out.display());
    }
    Ok(())
}

pub fn run_import(args: ImportArgs) -> Result<()> {
    let config = import::import(&args.path, &args.out)?;
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
