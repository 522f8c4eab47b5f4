//! `fledge tokenizer`: train, use and measure byte-level BPE tokenizers.

use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};

use fledge::data::read::{self, ReadOptions};
use fledge::tokenizer::Tokenizer;

#[derive(Subcommand)]
pub enum TokenizerCommand {
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
pub struct TrainTokenizerArgs {
    /// Text to train on: files or folders (a prepared train.jsonl works; required, repeatable).
    #[arg(long, required = true)]
    input: Vec<PathBuf>,
    /// Vocabulary size, special tokens included.
    #[arg(long, default_value_t = 4096)]
    vocab_size: usize,
    /// Where to write tokenizer.json.
    #[arg(long, default_value = "runs/tokenizer/tokenizer.json")]
    out: PathBuf,
    /// How the --input files are read.
    #[command(flatten)]
    read: super::ReadFlags,
}

#[derive(Args)]
pub struct EncodeArgs {
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

/// Runs one `fledge tokenizer` command.
pub fn run(cmd: TokenizerCommand) -> Result<()> {
    match cmd {
        TokenizerCommand::Train(args) => run_train_tokenizer(args),
        TokenizerCommand::Encode(args) => run_encode(args),
        TokenizerCommand::Decode { tokenizer, ids } => run_decode(&tokenizer, ids),
        TokenizerCommand::Sweep { input, val, sizes, out } => run_sweep(&input, &val, &sizes, &out),
    }
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
    let options = args.read.options();
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

pub fn run_bench_tokenize(tokenizer: &Path, input: &Path, repeats: usize) -> Result<()> {
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
