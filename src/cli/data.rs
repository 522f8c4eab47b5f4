//! `fledge data`: prepare a corpus, cut it into token shards, and make the chat sets.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};

use fledge::data::prepare::{self, Recipe, SourceSpec};
use fledge::data::shards;
use fledge::tokenizer::Tokenizer;

#[derive(Subcommand)]
pub enum DataCommand {
    /// Read, clean, de-duplicate, decontaminate and split a corpus into train.jsonl / val.jsonl.
    Prepare(PrepareArgs),
    /// Encode a prepared corpus into token shards for training.
    Tokenize(TokenizeArgs),
    /// Convert the chat and QA sets of ../shared/data into conversation JSONL (train/val/test).
    Chat(super::chat::DataChatArgs),
    /// Story requests ("Tell me a story about a dragon.") answered with the corpus's own stories.
    Stories(super::chat::DataStoriesArgs),
    /// Make reading-comprehension conversations (questions answered by copying a span) from a prepared corpus.
    Rc(super::chat::DataRcArgs),
    /// Make fill-in-the-blank conversations (a sentence of the passage given back with a word blanked) from a prepared corpus.
    Cloze(super::chat::DataClozeArgs),
    /// Make copy exercises (the rest of a sentence after a few of its words, a sentence, the whole passage) from a prepared corpus.
    Copy(super::chat::DataCopyArgs),
    /// Make reading-comprehension conversations about synthetic everyday texts (notes, messages, timetables...).
    Notes(super::chat::DataNotesArgs),
    /// Print the report of a prepared corpus (and of its shards, if given).
    Report {
        /// The prepared corpus folder.
        corpus: PathBuf,
        /// A shard folder made from it (default: none, the corpus alone).
        #[arg(long)]
        shards: Option<PathBuf>,
    },
}

#[derive(Args)]
pub struct PrepareArgs {
    /// A TOML recipe of sources and settings (see recipes/; default: none, only the --source flags).
    #[arg(long)]
    recipe: Option<PathBuf>,
    /// A source as NAME=PATH or NAME=PATH:WEIGHT (repeatable; added after the recipe's; default: none).
    #[arg(long = "source", value_name = "NAME=PATH[:WEIGHT]")]
    sources: Vec<String>,
    /// An evaluation set to keep out of training, as NAME=PATH (repeatable; default: none).
    #[arg(long = "eval", value_name = "NAME=PATH")]
    evals: Vec<String>,
    /// Only files whose names match these globs, for --eval sets (e.g. '*_val_*'; default: every file).
    #[arg(long = "eval-include")]
    eval_include: Vec<String>,
    /// How the --source and --eval files are read.
    #[command(flatten)]
    read: super::ReadFlags,
    /// License id of the --source folders that fledge's manifest does not know
    /// (`own` for your own text; an unknown id is refused with the list of known ones; default: none).
    #[arg(long)]
    license: Option<String>,
    /// Output folder.
    #[arg(long, default_value = "runs/data")]
    out: PathBuf,
    /// Seed of the train/validation split, which hashes each document with it (default: the recipe's, else 1234).
    #[arg(long)]
    seed: Option<u64>,
    /// Share of each source's documents held out for validation (default: the recipe's, else 0.01).
    #[arg(long)]
    val_fraction: Option<f64>,
}

#[derive(Args)]
pub struct TokenizeArgs {
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
    /// Share of training documents followed by a blank line and the next document instead of
    /// `<|endoftext|>`, so the model learns where a story starts in a plain file of stories (0 to 1).
    #[arg(long, default_value_t = 0.0, value_parser = parse_share)]
    blank_line_share: f64,
}

/// Runs one `fledge data` command.
pub fn run(cmd: DataCommand) -> Result<()> {
    match cmd {
        DataCommand::Prepare(args) => run_prepare(args),
        DataCommand::Tokenize(args) => run_tokenize(args),
        DataCommand::Chat(args) => super::chat::run_data_chat(args),
        DataCommand::Stories(args) => super::chat::run_data_stories(args),
        DataCommand::Rc(args) => super::chat::run_data_rc(args),
        DataCommand::Cloze(args) => super::chat::run_data_cloze(args),
        DataCommand::Copy(args) => super::chat::run_data_copy(args),
        DataCommand::Notes(args) => super::chat::run_data_notes(args),
        DataCommand::Report { corpus, shards } => run_report(&corpus, shards.as_deref()),
    }
}

/// Parses NAME=PATH[:WEIGHT].
/// A share from 0 to 1, for `--blank-line-share`.
fn parse_share(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(format!("`{s}` is not a share: give a number from 0 to 1 (0.25: a quarter)")),
    }
}

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
            format: args.read.format,
            field: args.read.field.clone(),
            weight,
            lossy: args.read.lossy,
            license: args.license.clone(),
            ..SourceSpec::new(name, path)
        });
    }
    for s in &args.evals {
        let (name, path, _) = parse_source(s, false)?;
        recipe.eval_sets.push(SourceSpec {
            field: args.read.field.clone(),
            include: args.eval_include.clone(),
            lossy: args.read.lossy,
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
    let headers =
        shards::tokenize_corpus(&args.corpus, &tokenizer, &args.out, args.shard_tokens, args.blank_line_share)?;
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
    for h in headers.iter().filter(|h| h.joined_by_blank_line > 0) {
        s.push_str(&format!(
            "\n{} of the {} {} documents run on into the next after a blank line instead of `<|endoftext|>`.\n",
            h.joined_by_blank_line, h.documents, h.split
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

#[cfg(test)]
mod tests {
    use super::parse_share;

    #[test]
    fn a_share_is_a_number_from_zero_to_one() {
        assert_eq!(parse_share("0.3"), Ok(0.3));
        assert_eq!(parse_share("0"), Ok(0.0));
        assert_eq!(parse_share("1"), Ok(1.0));
        for bad in ["1.5", "-0.1", "a third", "NaN"] {
            let err = parse_share(bad).unwrap_err();
            assert!(err.contains(bad) && err.contains("from 0 to 1"), "{err}");
        }
    }
}
