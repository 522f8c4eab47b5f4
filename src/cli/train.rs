//! `fledge train`: pretrain a model on token shards, with checkpoints and exact resume.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;

use super::{config_sets, ctrl_c_flag};

/// Every setting is optional: a flag wins over --config, which wins over
/// the default each help line states (those of `TrainSettings::default()`).
#[derive(Args)]
pub struct TrainArgs {
    /// A TOML file of training settings (keys as the flags below, with underscores; default: none).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Matrix products: auto (bf16 where it is faster: AMX, or AVX512-BF16 where a probe measures it 1.2x f32; else f32), f32, or bf16 (bfloat16
    /// inputs, f32 sums; weights, gradients and AdamW stay f32) (default: auto, or the --config file's
    /// `precision`).
    #[arg(long, value_enum)]
    precision: Option<fledge::model::Precision>,
    /// Continue the run in --out from its latest checkpoint (default: off; a run already in --out is refused).
    #[arg(long)]
    resume: bool,
    /// Model preset: tiny (~1M), reference (~6M), small (~16M parameters) (default: tiny).
    #[arg(long)]
    preset: Option<String>,
    /// Model config TOML instead of a preset (default: none, the preset).
    #[arg(long)]
    model_config: Option<PathBuf>,
    /// Token shard folder (default: runs/speedrun/shards).
    #[arg(long)]
    data: Option<PathBuf>,
    /// The tokenizer.json the shards were made with (default: runs/speedrun/tokenizer/tokenizer.json).
    #[arg(long)]
    tokenizer: Option<PathBuf>,
    /// Run folder: checkpoints, metrics.jsonl, loss curve (default: runs/train).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Sequences per micro-batch (default: 16).
    #[arg(long)]
    batch: Option<usize>,
    /// Tokens per sequence, at most the model's window (default: 256).
    #[arg(long)]
    seq_len: Option<usize>,
    /// Micro-batches summed into one optimizer step (default: 1).
    #[arg(long)]
    grad_accum: Option<usize>,
    /// Optimizer steps to train (default: 1000).
    #[arg(long)]
    steps: Option<u64>,
    /// Peak learning rate (default: 0.001).
    #[arg(long)]
    lr: Option<f32>,
    /// The lowest learning rate, as a fraction of --lr (default: 0.1).
    #[arg(long)]
    min_lr_ratio: Option<f32>,
    /// Steps of linear warm-up to --lr (default: 50).
    #[arg(long)]
    warmup_steps: Option<u64>,
    /// Learning-rate schedule after the warm-up (default: cosine).
    #[arg(long, value_enum)]
    schedule: Option<fledge::train::run::Schedule>,
    /// AdamW weight decay (default: 0.1).
    #[arg(long)]
    weight_decay: Option<f32>,
    /// Seed of the initial weights and of the batch order (default: 1234).
    #[arg(long)]
    seed: Option<u64>,
    /// Steps between validation evaluations (default: 100).
    #[arg(long)]
    eval_every: Option<u64>,
    /// Validation batches per evaluation (default: 16).
    #[arg(long)]
    eval_batches: Option<usize>,
    /// Steps between checkpoints (default: 200).
    #[arg(long)]
    checkpoint_every: Option<u64>,
    /// Stop when the validation loss has not improved for this many evaluations (default: 0, never).
    #[arg(long)]
    early_stop: Option<u64>,
    /// Keep the lowest-validation-loss checkpoint in OUT/best (default: true).
    #[arg(long)]
    keep_best: Option<bool>,
    /// The validation set (a recipe's `val_set`, e.g. tinystories) that picks the best checkpoint
    /// (default: none, all validation text).
    #[arg(long)]
    best_on: Option<String>,
    #[command(flatten)]
    engine: super::engine::EngineArgs,
}

pub fn run_train(args: TrainArgs) -> Result<()> {
    use fledge::train::run::TrainSettings;
    let torch = args.engine.torch_options()?;
    let mut s = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("{}: cannot read", path.display()))?;
            let mut s: TrainSettings =
                toml::from_str(&text).with_context(|| format!("{}: not valid training settings", path.display()))?;
            // Paths in the file are relative to the file.
            let base = path.parent().unwrap_or(Path::new("."));
            let table: toml::Table = toml::from_str(&text)?;
            for (key, field) in [("data", &mut s.data), ("tokenizer", &mut s.tokenizer), ("out", &mut s.out)] {
                if table.contains_key(key) && field.is_relative() {
                    *field = base.join(&*field);
                }
            }
            if let Some(m) = &s.model_config {
                if m.is_relative() {
                    s.model_config = Some(base.join(m));
                }
            }
            for source in s.mid.iter_mut().flat_map(|m| m.sources.iter_mut()) {
                if source.path.is_relative() {
                    source.path = base.join(&source.path);
                }
            }
            s
        }
        None => TrainSettings::default(),
    };
    // The CLI's default precision is auto; the library's (and so a config
    // file's, when it has no `precision` key) is f32.
    s.precision = args.precision.unwrap_or(if config_sets(args.config.as_deref(), "precision") {
        s.precision
    } else {
        fledge::model::Precision::Auto
    });
    macro_rules! set {
        ($($f:ident),*) => { $( if let Some(v) = args.$f { s.$f = v; } )* };
    }
    set!(preset, data, tokenizer, out, batch, seq_len, grad_accum, steps, lr, min_lr_ratio, warmup_steps, schedule);
    set!(weight_decay, seed, eval_every, eval_batches, checkpoint_every, early_stop, keep_best);
    if args.model_config.is_some() {
        s.model_config = args.model_config;
    }
    if args.best_on.is_some() {
        s.best_on = args.best_on;
    }
    if super::engine::follow_if_not_node_zero(torch.as_ref())? {
        return Ok(());
    }
    let stop = ctrl_c_flag()?;
    let summary = fledge::train::run::train_with(&s, args.resume, stop, torch)?;
    println!(
        "{} {} steps ({} tokens) in {:.0} s; last loss {:.4}{}; checkpoint {}",
        if summary.interrupted { "Stopped after" } else { "Trained" },
        summary.steps,
        summary.tokens,
        summary.seconds,
        summary.final_loss,
        match (summary.val_loss, summary.val_bpb) {
            (Some(l), Some(b)) => format!(", val loss {l:.4}, val bpb {b:.4}"),
            _ => String::new(),
        },
        summary.checkpoint.display()
    );
    if let Some((step, loss)) = summary.best {
        let kept = if s.keep_best { format!(", kept in {}", s.out.join("best").display()) } else { String::new() };
        println!(
            "Best validation loss {loss:.4} at step {step}{kept}{}",
            if summary.stopped_early { "; stopped early: no improvement since" } else { "" }
        );
    }
    Ok(())
}
