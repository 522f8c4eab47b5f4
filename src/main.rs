//! The `fledge` command line: one subcommand per pipeline stage.
//!
//! This file only parses arguments, calls the library, and prints results;
//! every stage's logic lives in its module (see `lib.rs`).

use std::io::{BufRead, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};

mod cli;

use fledge::data::prepare::{self, Recipe, SourceSpec};
use fledge::data::read::{self, Format, ReadOptions};
use fledge::data::shards;
use fledge::speedrun::{self, SpeedrunConfig};
use fledge::tokenizer::Tokenizer;

#[derive(Parser)]
#[command(
    name = "fledge",
    version,
    about = "Train a small language model yourself: from raw text to tokenizer, model, chat and export"
)]
struct Cli {
    /// More log output (-v debug, -vv trace). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The whole pipeline in one command: corpus, tokenizer, pretraining, chat, retrieval, evaluation, export, report.
    Speedrun(SpeedrunArgs),
    /// Train the same model on several data recipes and compare their validation bits per byte.
    Ablate(cli::ablate::AblateArgs),
    /// See which tokens of a text surprise a model: each one's probability, surprisal and
    /// alternatives, and the text's bits per byte.
    Inspect(cli::inspect::InspectArgs),
    /// Corpus preparation and token shards.
    #[command(subcommand)]
    Data(DataCommand),
    /// Train, use and measure byte-level BPE tokenizers.
    #[command(subcommand)]
    Tokenizer(TokenizerCommand),
    /// Pretrain a model on token shards (see `fledge data tokenize`).
    Train(TrainArgs),
    /// Fine-tune a base checkpoint into a chat model (loss on the assistant's tokens).
    Sft(cli::chat::SftArgs),
    /// Chat with a fine-tuned model: multi-turn, streaming, /context FILE to answer from a document.
    Chat(cli::chat::ChatArgs),
    /// Score a chat model: grounded QA exact match / F1, stop rate, held-out chat loss.
    Eval(cli::chat::EvalArgs),
    /// Index your documents for grounded answers: add, list, remove, stats, search, eval.
    #[command(subcommand)]
    Index(cli::rag::IndexCommand),
    /// Answer a question from your indexed documents, citing the passages used.
    Ask(cli::rag::AskArgs),
    /// Serve a chat model: an OpenAI-compatible API at /v1 and a chat page at /.
    Serve(cli::serve::ServeArgs),
    /// Share a model: a Hugging Face folder (safetensors, tokenizer, chat template, model card) and GGUF files.
    Export(cli::export::ExportArgs),
    /// Turn a Hugging Face LlamaForCausalLM folder into a fledge checkpoint.
    Import(cli::export::ImportArgs),
    /// Continue a prompt with a trained model, streaming tokens as they come.
    Generate(GenerateArgs),
    /// Draw a training run's loss curve (metrics.jsonl) as loss.png.
    Plot {
        /// The training run folder.
        run: PathBuf,
    },
    /// Measure throughput.
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Args)]
struct GenerateArgs {
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

/// Every setting is optional: a flag wins over --config, which wins over
/// the default each help line states (those of `TrainSettings::default()`).
#[derive(Args)]
struct TrainArgs {
    /// A TOML file of training settings (keys as the flags below, with underscores; default: none).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Matrix products: auto (bf16 where the CPU has AVX512-BF16, else f32), f32, or bf16 (bfloat16
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
    engine: cli::engine::EngineArgs,
}

#[derive(Args)]
struct SpeedrunArgs {
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
    /// Matrix products of pretraining and fine-tuning: auto (bf16 where the CPU has AVX512-BF16, else
    /// f32), f32 or bf16 (default: auto, or the --config file's `precision`).
    #[arg(long, value_enum)]
    precision: Option<fledge::model::Precision>,
    /// Pretraining and fine-tuning computed by PyTorch (--engine torch) instead of fledge's engine.
    #[command(flatten)]
    engine: cli::engine::EngineArgs,
}

#[derive(Subcommand)]
enum DataCommand {
    /// Read, clean, de-duplicate, decontaminate and split a corpus into train.jsonl / val.jsonl.
    Prepare(PrepareArgs),
    /// Encode a prepared corpus into token shards for training.
    Tokenize(TokenizeArgs),
    /// Convert the chat and QA sets of ../shared/data into conversation JSONL (train/val/test).
    Chat(cli::chat::DataChatArgs),
    /// Story requests ("Tell me a story about a dragon.") answered with the corpus's own stories.
    Stories(cli::chat::DataStoriesArgs),
    /// Make reading-comprehension conversations (questions answered by copying a span) from a prepared corpus.
    Rc(cli::chat::DataRcArgs),
    /// Make reading-comprehension conversations about synthetic everyday texts (notes, messages, timetables...).
    Notes(cli::chat::DataNotesArgs),
    /// Print the report of a prepared corpus (and of its shards, if given).
    Report {
        /// The prepared corpus folder.
        corpus: PathBuf,
        /// A shard folder made from it.
        #[arg(long)]
        shards: Option<PathBuf>,
    },
}

#[derive(Args)]
struct PrepareArgs {
    /// A TOML recipe of sources and settings (see recipes/).
    #[arg(long)]
    recipe: Option<PathBuf>,
    /// A source as NAME=PATH or NAME=PATH:WEIGHT (repeatable; added after the recipe's).
    #[arg(long = "source", value_name = "NAME=PATH[:WEIGHT]")]
    sources: Vec<String>,
    /// An evaluation set to keep out of training, as NAME=PATH (repeatable).
    #[arg(long = "eval", value_name = "NAME=PATH")]
    evals: Vec<String>,
    /// Only files whose names match these globs, for --eval sets (e.g. '*_val_*').
    #[arg(long = "eval-include")]
    eval_include: Vec<String>,
    /// Format of --source files (default: by extension).
    #[arg(long, value_enum, default_value_t = Format::Auto)]
    format: Format,
    /// JSON field / CSV or parquet column with the text (default: text, body, content, story).
    #[arg(long)]
    field: Option<String>,
    /// Replace invalid UTF-8 instead of refusing the file.
    #[arg(long)]
    lossy: bool,
    /// License id of the --source folders that fledge's manifest does not know
    /// (`own` for your own text; an unknown id is refused with the list of known ones).
    #[arg(long)]
    license: Option<String>,
    /// Output folder.
    #[arg(long, default_value = "runs/data")]
    out: PathBuf,
    #[arg(long)]
    seed: Option<u64>,
    #[arg(long)]
    val_fraction: Option<f64>,
}

#[derive(Args)]
struct TokenizeArgs {
    /// Prepared corpus folder (with train.jsonl and val.jsonl).
    #[arg(long)]
    corpus: PathBuf,
    /// tokenizer.json to encode with.
    #[arg(long)]
    tokenizer: PathBuf,
    /// Output folder for shards.
    #[arg(long)]
    out: PathBuf,
    /// Tokens per shard file.
    #[arg(long, default_value_t = 100_000_000)]
    shard_tokens: u64,
}

#[derive(Subcommand)]
enum TokenizerCommand {
    /// Train a byte-level BPE tokenizer and save it as tokenizer.json.
    Train(TrainTokenizerArgs),
    /// Encode text to token ids.
    Encode(EncodeArgs),
    /// Decode token ids to text.
    Decode {
        /// The tokenizer.json to decode with (required).
        #[arg(long)]
        tokenizer: PathBuf,
        /// Ids; read from stdin (whitespace or JSON array) when none are given (default: stdin).
        ids: Vec<u32>,
    },
    /// Train tokenizers of several sizes and compare bytes per token on held-out text.
    Sweep {
        /// Training text (file or folder; a prepared train.jsonl works; required).
        #[arg(long)]
        input: PathBuf,
        /// Held-out text to measure on (e.g. a prepared val.jsonl; required).
        #[arg(long)]
        val: PathBuf,
        /// Vocabulary sizes to train, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "2048,4096,8192")]
        sizes: Vec<usize>,
        /// Where to save each tokenizer (tokenizer-SIZE.json) and sweep.json (required).
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Args)]
struct TrainTokenizerArgs {
    /// Text to train on: files or folders (a prepared train.jsonl works; required, repeatable).
    #[arg(long, required = true)]
    input: Vec<PathBuf>,
    /// Vocabulary size, special tokens included.
    #[arg(long, default_value_t = 4096)]
    vocab_size: usize,
    /// Where to write tokenizer.json.
    #[arg(long, default_value = "runs/tokenizer/tokenizer.json")]
    out: PathBuf,
    /// Format of the --input files (auto: by extension).
    #[arg(long, value_enum, default_value_t = Format::Auto)]
    format: Format,
    /// JSON field / CSV or parquet column with the text (default: text, body, content, story).
    #[arg(long)]
    field: Option<String>,
    /// Replace invalid UTF-8 instead of refusing the file (default: off, refuse).
    #[arg(long)]
    lossy: bool,
}

#[derive(Args)]
struct EncodeArgs {
    /// The tokenizer.json to encode with (required).
    #[arg(long)]
    tokenizer: PathBuf,
    /// Text to encode (default: none, then --input, else stdin).
    #[arg(long)]
    text: Option<String>,
    /// File to encode, whole or per line with --lines / --jsonl (default: none, then stdin).
    #[arg(long)]
    input: Option<PathBuf>,
    /// Encode each input line separately; print one line of ids per input line (default: off, the whole text).
    #[arg(long)]
    lines: bool,
    /// Input is JSONL with a "text" field; print one JSON array of ids per line (default: off).
    #[arg(long)]
    jsonl: bool,
    /// Turn special-token strings like <|im_start|> into their ids (default: off, plain text).
    #[arg(long)]
    allow_special: bool,
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Tokenization throughput in MB/s, one thread and all threads.
    Tokenize {
        #[arg(long)]
        tokenizer: PathBuf,
        /// Text to encode (file or folder; a prepared jsonl works).
        #[arg(long)]
        input: PathBuf,
        #[arg(long, default_value_t = 5)]
        repeats: usize,
    },
    /// Training throughput (tokens/s, MFU, peak memory), measured as ../shared/bench/torch_reference.py does.
    Train {
        /// Model preset (the bench's reference config by default).
        #[arg(long, default_value = "reference")]
        preset: String,
        #[arg(long, default_value_t = 4096)]
        vocab_size: usize,
        #[arg(long, default_value_t = 16)]
        batch: usize,
        #[arg(long, default_value_t = 256)]
        seq_len: usize,
        #[arg(long, default_value_t = 33)]
        steps: usize,
        #[arg(long, default_value_t = 3)]
        warmup: usize,
        /// Also run ../shared/bench/torch_reference.py (eager, --bf16, --compile, --compile --bf16) in
        /// alternating rounds and print the side-by-side table (reference config, batch 16 × 256 only;
        /// default: off).
        #[arg(long)]
        compare: bool,
        /// With --compare: rounds of every implementation.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// With --compare: the Python with torch (default: $FLEDGE_PYTHON, the test setup's
        /// ~/.cache/fledge/interop-venv, else python3).
        #[arg(long)]
        python: Option<PathBuf>,
        /// With --compare: the PyTorch reference script (default: ../shared/bench/torch_reference.py
        /// beside the checkout).
        #[arg(long)]
        torch_script: Option<PathBuf>,
        /// Matrix products of the step: auto (bf16 where the CPU has AVX512-BF16, else f32), f32 or
        /// bf16 (default: auto). --compare measures f32 and, where the CPU has it, bf16.
        #[arg(long, value_enum, default_value_t = fledge::model::Precision::Auto)]
        precision: fledge::model::Precision,
    },
    /// Generation tokens/s at batch 1 (greedy, KV cache), as torch_reference.py infer measures; random
    /// weights of a preset, or a model; with --llama-cpp, llama.cpp on the same model side by side.
    Generate {
        #[arg(long, default_value = "reference")]
        preset: String,
        #[arg(long, default_value_t = 4096)]
        vocab_size: usize,
        #[arg(long, default_value_t = 200)]
        gen: usize,
        /// A model to load instead of random weights (checkpoint, run or exported HF folder).
        #[arg(long)]
        model: Option<PathBuf>,
        /// The same model as a GGUF file: also time llama.cpp (through llama-cpp-python, see
        /// scripts/llama-cpp-check.sh) on it, alternating with fledge.
        #[arg(long)]
        llama_cpp: Option<PathBuf>,
        /// Rounds of the side-by-side comparison.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// Also time fledge in q8_0 (its weights quantized as the GGUF's Q8_0), beside f32 (default: f32 only).
        #[arg(long, value_enum, default_value_t, hide_default_value = true)]
        quantize: fledge::generate::Quantize,
        /// Held-out text: print its perplexity in f32 and (with --quantize q8_0) in Q8_0, windows of 255
        /// tokens (default: none).
        #[arg(long)]
        text: Option<PathBuf>,
    },
    /// Retrieval latency (p50/p95 per mode) over an index, asking the questions of a question set.
    Retrieval {
        #[arg(long, default_value = "runs/fairytaleqa-rag/index")]
        index: PathBuf,
        #[arg(long, default_value = "runs/fairytaleqa-rag/questions.jsonl")]
        questions: PathBuf,
        #[arg(long)]
        embedder: Option<PathBuf>,
        /// How many questions to ask per mode.
        #[arg(long, default_value_t = 500)]
        queries: usize,
    },
    /// Load test of `fledge serve`: concurrent streaming clients on loopback (time to first token, tokens/s, errors, peak memory).
    Serve(cli::serve::BenchServeArgs),
    /// Matrix-product GFLOP/s of the engine's matmul (the peak MFU is measured against).
    Matmul {
        #[arg(long, default_value_t = 1024)]
        n: usize,
        #[arg(long, default_value_t = 20)]
        repeats: usize,
        /// f32, or bf16 (bfloat16 inputs, f32 sums; needs AVX512-BF16) (default: f32).
        #[arg(long, value_enum, default_value_t = fledge::model::Precision::F32)]
        dtype: fledge::model::Precision,
    },
}

fn main() {
    let cli = Cli::parse();
    let default_level = match cli.verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                // tantivy narrates every commit at info level; its warnings still show.
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("{default_level},tantivy=warn"))),
        )
        .with_writer(std::io::stderr)
        // Colour codes only where a terminal draws them: a log redirected
        // to a file or piped to another program stays plain text.
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .with_target(false)
        .init();
    if let Err(e) = run(cli) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Speedrun(args) => run_speedrun(args),
        Command::Ablate(args) => cli::ablate::run_ablate(args),
        Command::Inspect(args) => cli::inspect::run_inspect(args),
        Command::Train(args) => run_train(args),
        Command::Generate(args) => run_generate(args),
        Command::Sft(args) => cli::chat::run_sft(args),
        Command::Chat(args) => cli::chat::run_chat(args),
        Command::Eval(args) => cli::chat::run_eval(args),
        Command::Data(DataCommand::Chat(args)) => cli::chat::run_data_chat(args),
        Command::Data(DataCommand::Stories(args)) => cli::chat::run_data_stories(args),
        Command::Data(DataCommand::Rc(args)) => cli::chat::run_data_rc(args),
        Command::Data(DataCommand::Notes(args)) => cli::chat::run_data_notes(args),
        Command::Index(cmd) => cli::rag::run_index(cmd),
        Command::Ask(args) => cli::rag::run_ask(args),
        Command::Serve(args) => cli::serve::run_serve(args),
        Command::Export(args) => cli::export::run_export(args),
        Command::Import(args) => cli::export::run_import(args),
        Command::Bench(BenchCommand::Serve(args)) => cli::serve::run_bench_serve(args),
        Command::Bench(BenchCommand::Retrieval { index, questions, embedder, queries }) => {
            cli::rag::bench_retrieval(&index, embedder.as_deref(), &questions, queries)
        }
        Command::Plot { run } => {
            let metrics = fledge::train::run::read_metrics(&run.join("metrics.jsonl"))?;
            let png = run.join("loss.png");
            fledge::train::plot::loss_curve(&metrics, &png).with_context(|| format!("writing {}", png.display()))?;
            println!("Wrote {} ({} steps)", png.display(), metrics.len());
            Ok(())
        }
        Command::Data(DataCommand::Prepare(args)) => run_prepare(args),
        Command::Data(DataCommand::Tokenize(args)) => run_tokenize(args),
        Command::Data(DataCommand::Report { corpus, shards }) => run_report(&corpus, shards.as_deref()),
        Command::Tokenizer(TokenizerCommand::Train(args)) => run_train_tokenizer(args),
        Command::Tokenizer(TokenizerCommand::Encode(args)) => run_encode(args),
        Command::Tokenizer(TokenizerCommand::Decode { tokenizer, ids }) => run_decode(&tokenizer, ids),
        Command::Tokenizer(TokenizerCommand::Sweep { input, val, sizes, out }) => run_sweep(&input, &val, &sizes, &out),
        Command::Bench(BenchCommand::Tokenize { tokenizer, input, repeats }) => {
            run_bench_tokenize(&tokenizer, &input, repeats)
        }
        Command::Bench(BenchCommand::Train {
            preset,
            vocab_size,
            batch,
            seq_len,
            steps,
            warmup,
            compare,
            rounds,
            python,
            torch_script,
            precision,
        }) => {
            if compare {
                if preset != "reference" || vocab_size != 4096 || batch != 16 || seq_len != 256 {
                    bail!("--compare measures the reference config at batch 16 × 256, as torch_reference.py trains it: drop --preset, --vocab-size, --batch and --seq-len");
                }
                return cli::bench::run_compare(rounds, steps, warmup, python.as_deref(), torch_script.as_deref());
            }
            run_bench_train(&preset, vocab_size, batch, seq_len, steps, warmup, precision)
        }
        Command::Bench(BenchCommand::Generate {
            preset,
            vocab_size,
            gen,
            model,
            llama_cpp,
            rounds,
            quantize,
            text,
        }) => {
            let gguf = llama_cpp.as_deref();
            run_bench_generate(&preset, vocab_size, gen, model.as_deref(), gguf, rounds, quantize, text.as_deref())
        }
        Command::Bench(BenchCommand::Matmul { n, repeats, dtype }) => {
            println!("{}", serde_json::to_string(&fledge::bench::matmul_in(dtype, n, n, n, repeats)?)?);
            Ok(())
        }
    }
}

fn run_bench_train(
    preset: &str,
    vocab_size: usize,
    batch: usize,
    seq_len: usize,
    steps: usize,
    warmup: usize,
    precision: fledge::model::Precision,
) -> Result<()> {
    let config = fledge::model::ModelConfig::preset(preset, vocab_size)?;
    if seq_len > config.max_seq_len {
        bail!("--seq-len {seq_len} exceeds the preset's max_seq_len {}", config.max_seq_len);
    }
    let r = fledge::bench::train(&config, batch, seq_len, steps.max(1), warmup, precision)?;
    tracing::info!(precision = %r.precision, "matrix products in {}", r.precision);
    // MFU against the product peak of the precision the step ran in.
    let peak = fledge::bench::matmul_in(precision, 1024, 1024, 1024, 10)?;
    eprintln!(
        "train {preset} ({} products): {} params, batch {batch} x {seq_len}: median step {:.1} ms, {:.0} tokens/s, {:.1} GFLOP/s = {:.0}% of the measured {} matmul peak ({:.1} GFLOP/s, n=1024); loss {:.4} -> {:.4}; peak RSS {:.0} MB",
        r.precision,
        r.params,
        r.median_ms,
        r.tokens_per_s,
        r.achieved_gflops,
        100.0 * r.achieved_gflops / peak.gflops_best,
        peak.dtype,
        peak.gflops_best,
        r.loss_first,
        r.loss_last,
        r.peak_rss_mb.unwrap_or(f64::NAN)
    );
    let profile = fledge::model::profile::report();
    if !profile.is_empty() {
        let total: f64 = profile.iter().map(|p| p.1).sum();
        for (kind, secs) in &profile {
            eprintln!("  {kind:>14}: {secs:7.2} s  {:5.1}%", 100.0 * secs / total);
        }
    }
    let mut json = serde_json::to_value(&r)?;
    json["matmul_peak_gflops"] = serde_json::json!(peak.gflops_best);
    json["mfu"] = serde_json::json!(r.achieved_gflops / peak.gflops_best);
    println!("{json}");
    Ok(())
}

/// fledge's generation speed, and llama.cpp's on the same model when a GGUF
/// is given: rounds alternate between the two so that the machine's noise
/// falls on both alike.
/// Generation tokens/s at batch 1: fledge f32, fledge Q8_0 (with
/// `--quantize q8_0`) and llama.cpp on the same model's GGUF (with
/// `--llama-cpp`), alternating round by round so that each sees the same
/// machine; and perplexity on held-out text in f32 and Q8_0 (with `--text`).
#[allow(clippy::too_many_arguments)]
fn run_bench_generate(
    preset: &str,
    vocab_size: usize,
    gen: usize,
    model: Option<&Path>,
    gguf: Option<&Path>,
    rounds: usize,
    quantize: fledge::generate::Quantize,
    text: Option<&Path>,
) -> Result<()> {
    use fledge::generate::{Quantize, QuantizedWeights};
    let (config, params, label, tokenizer) = match model {
        Some(m) => {
            let (config, params, tokenizer) = cli::chat::load_model(m)?;
            (config, params, m.display().to_string(), Some(tokenizer))
        }
        None => {
            let config = fledge::model::ModelConfig::preset(preset, vocab_size)?;
            let layout = fledge::model::ParamLayout::new(&config);
            let params = fledge::model::params::init_params(&config, &layout, 0);
            (config, params, format!("{preset} (random weights)"), None)
        }
    };
    let quantized = QuantizedWeights::for_option(quantize, &config, &params);
    let variants: Vec<(&str, Option<&QuantizedWeights>)> = match &quantized {
        Some(q) => vec![("f32", None), ("q8_0", Some(q))],
        None => vec![("f32", None)],
    };
    eprintln!("CPU: {} ({} threads)", fledge::bench::cpu_name(), rayon::current_num_threads());
    if let Some(q) = &quantized {
        let (q8, kept) = q.counts();
        eprintln!(
            "Q8_0: {q8} matrices, {:.1} MB; {kept} kept in f32 (rows not whole blocks of 32); all f32 weights: {:.1} MB",
            q.bytes() as f64 / 1e6,
            4.0 * params.len() as f64 / 1e6
        );
    }
    if let Some(path) = text {
        let tokenizer = tokenizer.as_ref().context("--text needs --model (random weights have no tokenizer)")?;
        let raw = std::fs::read_to_string(path).with_context(|| format!("{}: cannot read", path.display()))?;
        let tokens = tokenizer.encode(&raw, false);
        for (name, q) in &variants {
            let ppl = fledge::bench::generator_perplexity(&config, &params, *q, &tokens, 255, tokenizer.eot_id());
            eprintln!("perplexity of {} ({} tokens), {name}: {ppl:.4}", path.display(), tokens.len());
            println!(
                "{}",
                serde_json::json!({"text": path, "tokens": tokens.len(), "weights": name, "perplexity": ppl})
            );
        }
    }
    let python = std::env::var("FLEDGE_LLAMA_PYTHON").unwrap_or_else(|_| {
        let home = std::env::var("HOME").unwrap_or_default();
        format!("{home}/.cache/fledge/llama-venv/bin/python")
    });
    let script_in_checkout = Path::new("scripts/bench_llama_cpp.py");
    let script = fledge::project_file(script_in_checkout).unwrap_or_else(|| script_in_checkout.to_path_buf());
    let threads = rayon::current_num_threads();
    let mut rows = Vec::new();
    for round in 0..rounds.max(1) {
        let mut row = serde_json::json!({});
        let mut generated = gen;
        let mut last = 0.0f64;
        for (name, q) in &variants {
            let r = fledge::bench::generate_with(&config, &params, *q, gen);
            eprintln!(
                "round {}: fledge {name} {label}: {} params, {} tokens at batch 1 in {:.3} s: {:.0} tokens/s",
                round + 1,
                r.params,
                r.gen_tokens,
                r.median_s,
                r.tokens_per_s
            );
            generated = r.gen_tokens;
            last = r.tokens_per_s;
            row[if *name == "f32" { "fledge".to_string() } else { format!("fledge_{name}") }] =
                serde_json::to_value(&r)?;
        }
        if let Some(gguf) = gguf {
            let out = std::process::Command::new(&python)
                .arg(&script)
                .arg(gguf)
                .args(["--gen", &generated.to_string(), "--threads", &threads.to_string()])
                .output()
                .with_context(|| {
                    format!("running {python} (set FLEDGE_LLAMA_PYTHON, or run scripts/llama-cpp-check.sh once)")
                })?;
            if !out.status.success() {
                bail!("llama.cpp benchmark failed: {}", String::from_utf8_lossy(&out.stderr));
            }
            let l: serde_json::Value = serde_json::from_slice(&out.stdout).context("llama.cpp benchmark output")?;
            let tps = l["tokens_per_s"].as_f64().unwrap_or(f64::NAN);
            // The last variant timed: Q8_0 when asked for, the GGUF's type.
            let best = if quantize == Quantize::Q8_0 { "fledge q8_0" } else { "fledge f32" };
            eprintln!(
                "round {}: llama.cpp {}: {tps:.0} tokens/s ({best}/llama.cpp {:.2}x)",
                round + 1,
                gguf.display(),
                last / tps
            );
            row["llama_cpp"] = l;
        }
        rows.push(row);
    }
    println!("{}", serde_json::to_string(&rows)?);
    Ok(())
}

fn run_train(args: TrainArgs) -> Result<()> {
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
    if cli::engine::follow_if_not_node_zero(torch.as_ref())? {
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

/// A flag the first Ctrl-C sets (the training loop then saves and stops);
/// a second Ctrl-C exits at once.
pub(crate) fn ctrl_c_flag() -> Result<std::sync::Arc<std::sync::atomic::AtomicBool>> {
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

fn run_generate(args: GenerateArgs) -> Result<()> {
    let model = cli::chat::model_or_shipped(args.model.as_deref())?;
    let (config, params, tokenizer) = cli::chat::load_model(&model)?;
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
            cli::inspect::print_token_table(&mut out, &tokenizer, &g.logprobs)?;
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

/// Whether the TOML file at `path` (if any) sets `key` at its top level.
pub(crate) fn config_sets(path: Option<&Path>, key: &str) -> bool {
    path.and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|t| t.parse::<toml::Table>().ok())
        .is_some_and(|t| t.contains_key(key))
}

fn run_speedrun(args: SpeedrunArgs) -> Result<()> {
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
    if cli::engine::follow_if_not_node_zero(torch.as_ref())? {
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

/// Parses NAME=PATH[:WEIGHT].
fn parse_source(spec: &str, allow_weight: bool) -> Result<(String, PathBuf, f64)> {
    let (name, rest) = spec
        .split_once('=')
        .with_context(|| format!("--source/--eval \"{spec}\": expected NAME=PATH, e.g. stories=./my-texts"))?;
    if name.is_empty() || rest.is_empty() {
        bail!("--source/--eval \"{spec}\": expected NAME=PATH, with both parts non-empty");
    }
    if allow_weight {
        if let Some((path, weight)) = rest.rsplit_once(':') {
            if let Ok(w) = weight.parse::<f64>() {
                return Ok((name.to_string(), PathBuf::from(path), w));
            }
        }
    }
    Ok((name.to_string(), PathBuf::from(rest), 1.0))
}

fn run_prepare(args: PrepareArgs) -> Result<()> {
    let mut recipe = match &args.recipe {
        Some(path) => Recipe::load(path)?,
        None => Recipe::default(),
    };
    for s in &args.sources {
        let (name, path, weight) = parse_source(s, true)?;
        recipe.sources.push(SourceSpec {
            format: args.format,
            field: args.field.clone(),
            weight,
            lossy: args.lossy,
            license: args.license.clone(),
            ..SourceSpec::new(name, path)
        });
    }
    for s in &args.evals {
        let (name, path, _) = parse_source(s, false)?;
        recipe.eval_sets.push(SourceSpec {
            field: args.field.clone(),
            include: args.eval_include.clone(),
            lossy: args.lossy,
            ..SourceSpec::new(name, path)
        });
    }
    if let Some(seed) = args.seed {
        recipe.prepare.seed = seed;
    }
    if let Some(v) = args.val_fraction {
        recipe.prepare.val_fraction = v;
    }
    if recipe.sources.is_empty() {
        bail!("nothing to prepare: give --recipe FILE or at least one --source NAME=PATH");
    }
    recipe.validate(args.recipe.as_deref().unwrap_or(Path::new("<command line>")))?;
    let report = prepare::prepare(&recipe, &args.out)?;
    println!("{}", prepare::render_report(&report));
    println!("Wrote {}/train.jsonl, val.jsonl, report.md, report.json", args.out.display());
    Ok(())
}

fn run_tokenize(args: TokenizeArgs) -> Result<()> {
    let tokenizer = Tokenizer::load(&args.tokenizer)?;
    let headers = shards::tokenize_corpus(&args.corpus, &tokenizer, &args.out, args.shard_tokens)?;
    println!("{}", render_shard_table(&headers));
    println!("Wrote shards and headers to {}", args.out.display());
    Ok(())
}

fn render_shard_table(headers: &[shards::SplitHeader]) -> String {
    let mut s = String::from("| split | source | documents | MB | tokens | bytes/token |\n|---|---|---|---|---|---|\n");
    for h in headers {
        for (name, c) in &h.sources {
            s.push_str(&format!(
                "| {} | {} | {} | {:.2} | {} | {:.3} |\n",
                h.split,
                name,
                c.documents,
                c.bytes as f64 / 1e6,
                c.tokens,
                c.bytes as f64 / c.tokens.max(1) as f64
            ));
        }
        s.push_str(&format!(
            "| {} | **all** | {} | {:.2} | {} | {:.3} |\n",
            h.split,
            h.documents,
            h.bytes as f64 / 1e6,
            h.tokens,
            h.bytes_per_token()
        ));
    }
    if let Some(val) = headers.iter().find(|h| h.split == "val" && !h.sets.is_empty()) {
        s.push_str("\nValidation sets (each scored whole at every evaluation): ");
        let sets: Vec<String> = val
            .sets
            .iter()
            .map(|(name, spans)| format!("{name} {} tokens", spans.iter().map(|[a, b]| b - a).sum::<u64>()))
            .collect();
        s.push_str(&sets.join(", "));
        s.push('\n');
    }
    s
}

fn run_report(corpus: &Path, shard_dir: Option<&Path>) -> Result<()> {
    let path = corpus.join("report.json");
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!("{}: no report; run `fledge data prepare --out {}` first", path.display(), corpus.display())
    })?;
    let report: prepare::PrepareReport =
        serde_json::from_str(&text).with_context(|| format!("{}: not a fledge corpus report", path.display()))?;
    println!("{}", prepare::render_report(&report));
    if let Some(dir) = shard_dir {
        let headers = ["train", "val"]
            .iter()
            .map(|s| shards::TokenShards::open(dir, s).map(|t| t.header))
            .collect::<Result<Vec<_>, _>>()?;
        println!("{}", render_shard_table(&headers));
    }
    Ok(())
}

/// Reads every text under the given paths with the reader options.
fn read_texts(paths: &[PathBuf], options: &ReadOptions) -> Result<Vec<String>> {
    let mut texts = Vec::new();
    for p in paths {
        read::read_source(p, options, |d| texts.push(d.text))?;
    }
    Ok(texts)
}

fn run_train_tokenizer(args: TrainTokenizerArgs) -> Result<()> {
    let options = ReadOptions { format: args.format, field: args.field.clone(), include: vec![], lossy: args.lossy };
    let texts = read_texts(&args.input, &options)?;
    let bytes: usize = texts.iter().map(|t| t.len()).sum();
    tracing::info!(documents = texts.len(), mb = bytes as f64 / 1e6, vocab = args.vocab_size, "training tokenizer");
    let start = std::time::Instant::now();
    let tokenizer = Tokenizer::train(texts.iter(), args.vocab_size, true)?;
    tokenizer.save(&args.out)?;
    println!(
        "Trained a {}-token byte-level BPE on {:.1} MB in {:.1} s; wrote {} (hash {})",
        tokenizer.vocab_size(),
        bytes as f64 / 1e6,
        start.elapsed().as_secs_f64(),
        args.out.display(),
        &tokenizer.hash()[..12]
    );
    Ok(())
}

fn run_encode(args: EncodeArgs) -> Result<()> {
    let tokenizer = Tokenizer::load(&args.tokenizer)?;
    let mut input = String::new();
    match (&args.text, &args.input) {
        (Some(t), _) => input = t.clone(),
        (None, Some(p)) => {
            let bytes = std::fs::read(p).with_context(|| format!("{}: cannot read", p.display()))?;
            input = read::decode_utf8(p, bytes, false)?;
        }
        (None, None) => {
            std::io::stdin().read_to_string(&mut input).context("reading stdin")?;
        }
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if args.jsonl {
        let mut texts = Vec::new();
        for (i, line) in input.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let v: serde_json::Value =
                serde_json::from_str(line).with_context(|| format!("input line {}: not valid JSON", i + 1))?;
            let text = v
                .get("text")
                .and_then(|t| t.as_str())
                .with_context(|| format!("input line {}: no string field \"text\"", i + 1))?;
            texts.push(text.to_string());
        }
        let refs: Vec<&str> = texts.iter().map(|s| s.as_str()).collect();
        for ids in tokenizer.encode_batch(&refs, args.allow_special) {
            writeln!(out, "{}", serde_json::to_string(&ids)?)?;
        }
    } else if args.lines {
        let lines: Vec<&str> = input.lines().collect();
        for ids in tokenizer.encode_batch(&lines, args.allow_special) {
            writeln!(out, "{}", join_ids(&ids))?;
        }
    } else {
        writeln!(out, "{}", join_ids(&tokenizer.encode(&input, args.allow_special)))?;
    }
    Ok(())
}

fn join_ids(ids: &[u32]) -> String {
    ids.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(" ")
}

fn run_decode(path: &Path, mut ids: Vec<u32>) -> Result<()> {
    let tokenizer = Tokenizer::load(path)?;
    if ids.is_empty() {
        let mut text = String::new();
        for line in std::io::stdin().lock().lines() {
            text.push_str(&line?);
            text.push(' ');
        }
        for (i, word) in text.split(|c: char| c.is_whitespace() || c == ',' || c == '[' || c == ']').enumerate() {
            if word.is_empty() {
                continue;
            }
            ids.push(word.parse().with_context(|| format!("stdin item {}: \"{word}\" is not a token id", i + 1))?);
        }
    }
    print!("{}", tokenizer.decode(&ids)?);
    std::io::stdout().flush()?;
    Ok(())
}

fn run_sweep(input: &Path, val: &Path, sizes: &[usize], out: &Path) -> Result<()> {
    let options = ReadOptions::default();
    let train = read_texts(&[input.to_path_buf()], &options)?;
    let held_out = read_texts(&[val.to_path_buf()], &options)?;
    let refs: Vec<&str> = held_out.iter().map(|s| s.as_str()).collect();
    let bytes: u64 = refs.iter().map(|s| s.len() as u64).sum();
    let mut rows = Vec::new();
    println!("| vocab | train s | held-out tokens | bytes/token |\n|---|---|---|---|");
    for &size in sizes {
        let start = std::time::Instant::now();
        let tokenizer = Tokenizer::train(train.iter(), size, false)?;
        let seconds = start.elapsed().as_secs_f64();
        tokenizer.save(&out.join(format!("tokenizer-{size}.json")))?;
        let tokens: u64 = tokenizer.encode_batch(&refs, false).iter().map(|v| v.len() as u64).sum();
        let bpt = bytes as f64 / tokens as f64;
        println!("| {size} | {seconds:.1} | {tokens} | {bpt:.3} |");
        rows.push(serde_json::json!({"vocab_size": size, "train_seconds": seconds, "val_bytes": bytes, "val_tokens": tokens, "bytes_per_token": bpt}));
    }
    let json = serde_json::to_string_pretty(&rows)?;
    fledge::fsutil::write_atomic(out.join("sweep.json"), json.as_bytes())?;
    Ok(())
}

fn run_bench_tokenize(tokenizer: &Path, input: &Path, repeats: usize) -> Result<()> {
    let tokenizer = Tokenizer::load(tokenizer)?;
    let texts = read_texts(&[input.to_path_buf()], &ReadOptions::default())?;
    if texts.is_empty() {
        bail!("{}: no text to encode", input.display());
    }
    let r = fledge::bench::tokenize(&tokenizer, &texts, repeats);
    println!(
        "tokenize: {} documents, {:.2} MB, {} tokens ({:.3} bytes/token)\n  1 thread:  {:.2} MB/s (min {:.2}, max {:.2})\n  {} threads: {:.2} MB/s (min {:.2}, max {:.2})",
        r.documents,
        r.bytes as f64 / 1e6,
        r.tokens,
        r.bytes_per_token,
        r.single_thread_mb_s,
        r.single_thread_min_max.0,
        r.single_thread_min_max.1,
        r.threads,
        r.parallel_mb_s,
        r.parallel_min_max.0,
        r.parallel_min_max.1
    );
    println!("{}", serde_json::to_string(&r)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// Every argument of the commands people start with says what it does,
    /// and its default: clap prints a default it knows (`[default: 4096]`);
    /// any other argument's help must state it, or that it is required.
    #[test]
    fn every_flag_of_the_main_commands_says_what_it_does_and_its_default() {
        let cli = Cli::command();
        let mut problems = Vec::new();
        let mut check = |path: &str, cmd: &clap::Command| {
            for arg in cmd.get_arguments().filter(|a| !matches!(a.get_id().as_str(), "help" | "version" | "verbose")) {
                let name = format!("{path} --{}", arg.get_long().unwrap_or(arg.get_id().as_str()));
                let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
                if help.trim().is_empty() {
                    problems.push(format!("{name}: no help"));
                    continue;
                }
                let clap_shows_default = arg.get_action().takes_values()
                    && !arg.get_default_values().is_empty()
                    && !arg.is_hide_default_value_set();
                let lower = help.to_lowercase();
                if !clap_shows_default && !lower.contains("default") && !lower.contains("required") {
                    problems.push(format!("{name}: help does not state the default: {help:?}"));
                }
            }
        };
        for path in [
            "train",
            "sft",
            "chat",
            "speedrun",
            "tokenizer train",
            "tokenizer encode",
            "tokenizer decode",
            "tokenizer sweep",
            "data rc",
            "data notes",
            "index search",
            "generate",
            "eval",
            "ask",
            "export",
            "data stories",
        ] {
            let mut cmd = &cli;
            for part in path.split(' ') {
                cmd = cmd.find_subcommand(part).unwrap_or_else(|| panic!("no subcommand {path}"));
            }
            check(path, cmd);
        }
        assert!(problems.is_empty(), "{} arguments lack help or a default:\n{}", problems.len(), problems.join("\n"));
    }
}
