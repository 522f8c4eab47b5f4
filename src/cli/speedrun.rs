//! `fledge speedrun`: the whole pipeline in one command, stage by stage, resumable.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;

use fledge::speedrun::{self, SpeedrunConfig};

use super::ctrl_c_flag;

#[derive(Args)]
pub struct SpeedrunArgs {
    /// tiny (minutes; what CI runs), reference (5.8M parameters, hours on 2 cores: the shipped
    /// model) or small (15.7M parameters, the same recipe, about 2.3x the time) (default: tiny, or the
    /// --config file's `preset`).
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(speedrun::PRESETS))]
    preset: Option<String>,
    /// A TOML config over a preset (see configs/speedrun.toml); flags override it (default: none).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Stop after this stage (default: none, every stage; later stages run when the same command is
    /// given without it).
    #[arg(long, value_enum)]
    until: Option<speedrun::Stage>,
    /// Data recipe. Default: the checkout's recipes/default.toml when ../shared/data is beside it, else
    /// recipes/sample.toml (the checkout in the current folder, else the one holding this binary).
    #[arg(long)]
    recipe: Option<PathBuf>,
    /// Output folder for every stage (default: runs/speedrun).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Tokenizer vocabulary size, special tokens included (default: 4096).
    #[arg(long)]
    vocab_size: Option<usize>,
    /// The folder of the chat and QA sets (default: ../shared/data).
    #[arg(long)]
    shared: Option<PathBuf>,
    /// Matrix products of pretraining and fine-tuning: auto (bf16 where it is faster: AMX, or
    /// AVX512-BF16 where a probe measures it 1.2x f32; else f32), f32 or bf16 (default: auto, or the --config file's `precision`).
    #[arg(long, value_enum)]
    precision: Option<fledge::model::Precision>,
    /// Pretraining and fine-tuning computed by PyTorch (--engine torch) instead of fledge's engine.
    #[command(flatten)]
    engine: super::engine::EngineArgs,
}

pub fn run_speedrun(args: SpeedrunArgs) -> Result<()> {
    let mut config = match (&args.config, &args.preset) {
        (Some(path), None) => SpeedrunConfig::load(path)?,
        (Some(_), Some(_)) => bail!("give --preset or --config (whose `preset` key names one), not both"),
        (None, Some(p)) => SpeedrunConfig::preset(p).with_context(|| format!("no preset {p:?}"))?,
        (None, None) => SpeedrunConfig::default(),
    };
    if let Some(r) = args.recipe {
        config.recipe = Some(r);
    }
    if let Some(o) = args.out {
        config.out = o;
    }
    if let Some(v) = args.vocab_size {
        config.vocab_size = v;
    }
    if let Some(d) = args.shared {
        config.shared = d;
    }
    if let Some(p) = args.precision {
        config.precision = p;
    }
    config.check().map_err(|e| anyhow::anyhow!("speedrun settings: {e}"))?;
    let torch = args.engine.torch_options()?;
    if super::engine::follow_if_not_node_zero(torch.as_ref())? {
        return Ok(());
    }
    let stop = ctrl_c_flag()?;
    let report = speedrun::run(&config, args.until, stop.clone(), torch)?;
    println!("{}", speedrun::render_report(&report));
    if stop.load(std::sync::atomic::Ordering::Relaxed) {
        println!("Stopped; the same command resumes where this one left off.");
    } else {
        println!("Wrote {}/report.md and report.json", config.out.display());
    }
    Ok(())
}
