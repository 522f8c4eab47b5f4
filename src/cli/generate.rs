//! `fledge generate`: continue a prompt with a trained model, streaming the tokens.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

#[derive(Args)]
pub struct GenerateArgs {
    /// The model: a checkpoint, a run folder (its latest checkpoint) or a Hugging Face folder
    /// (default: the model shipped in models/).
    #[arg(long)]
    model: Option<PathBuf>,
    /// How the matrices are stored while generating: f32, or q8_0 (a quarter of the bytes, faster;
    /// perplexity within 1%) (default: f32).
    #[arg(long, value_enum, default_value_t, hide_default_value = true)]
    quantize: fledge::generate::Quantize,
    /// The text to continue.
    #[arg(long, default_value = "Once upon a time")]
    prompt: String,
    /// Longest continuation, in tokens.
    #[arg(long, default_value_t = 200)]
    max_tokens: usize,
    /// Sampling temperature; 0 for greedy decoding.
    #[arg(long, default_value_t = 0.8)]
    temperature: f32,
    /// Sample only from this many most likely tokens (0: all).
    #[arg(long, default_value_t = 50)]
    top_k: usize,
    /// Sample only from the most likely tokens that together hold this probability.
    #[arg(long, default_value_t = 0.95)]
    top_p: f32,
    /// Make tokens the continuation has already used less likely (the prompt's do not count): their scores shrink by this factor (1: off).
    #[arg(long, default_value_t = 1.1)]
    repetition_penalty: f32,
    /// Seed of the first sample's sampling.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Stop when the output contains this text (repeatable; default: none).
    #[arg(long = "stop")]
    stop: Vec<String>,
    /// Generate this many samples (seeds seed, seed+1, ...).
    #[arg(long, default_value_t = 1)]
    samples: usize,
    /// After each sample, list every token with its probability and this many alternatives
    /// (`--show-probs` alone: 3; default: off).
    #[arg(long, num_args = 0..=1, default_missing_value = "3")]
    show_probs: Option<usize>,
}

pub fn run_generate(args: GenerateArgs) -> Result<()> {
    let model = super::chat::model_or_shipped(args.model.as_deref())?;
    let (config, params, tokenizer) = super::chat::load_model(&model)?;
    let quantized = fledge::generate::QuantizedWeights::for_option(args.quantize, &config, &params);
    let mut generator = fledge::generate::Generator::new(&config, &params);
    if let Some(q) = &quantized {
        generator = generator.quantized(q);
    }
    // A document starts after an <|endoftext|>, as every training document did.
    let mut prompt = vec![tokenizer.eot_id()];
    prompt.extend(tokenizer.encode(&args.prompt, false));
    let stdout = std::io::stdout();
    for i in 0..args.samples {
        let options = fledge::generate::SamplingOptions {
            temperature: args.temperature,
            top_k: args.top_k,
            top_p: args.top_p,
            repetition_penalty: args.repetition_penalty,
            max_new_tokens: args.max_tokens,
            seed: args.seed + i as u64,
            stop_strings: args.stop.clone(),
            stop_tokens: Vec::new(),
            logprobs: args.show_probs,
        };
        let mut out = stdout.lock();
        write!(out, "{}", args.prompt)?;
        out.flush()?;
        let g = fledge::generate::generate(&mut generator, &tokenizer, &prompt, &options, |piece| {
            let _ = write!(out, "{piece}");
            let _ = out.flush();
        });
        writeln!(out)?;
        if args.show_probs.is_some() {
            writeln!(out, "\nProbabilities ({}):", options.logprob_distribution())?;
            super::inspect::print_token_table(&mut out, &tokenizer, &g.logprobs)?;
        }
        if args.samples > 1 {
            writeln!(out, "---")?;
        }
        drop(out);
        tracing::info!(
            tokens = g.tokens.len(),
            tokens_per_s = format!("{:.1}", g.tokens.len() as f64 / g.seconds),
            finish = ?g.finish,
            "generated"
        );
    }
    Ok(())
}
