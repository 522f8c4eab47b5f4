//! The chat subcommands of the CLI: `data chat`, `sft`, `merge`, `eval` and `chat`.
//! Argument parsing and printing only; the work is in `fledge::chat`.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;

use fledge::chat::battery;
use fledge::chat::convert;
use fledge::chat::eval::{chat_loss, score_qa, QaScore};
use fledge::chat::rc::cloze::Exercise;
use fledge::chat::sft::{SftSettings, SftSource};
use fledge::chat::template::read_jsonl;
use fledge::chat::tries::{generate_story_reply, told_in_tries};
use fledge::chat::{fit_to_window, generate_reply, quoted_reply, render_tokens, Answering, Message, Role};
use fledge::generate::{FinishReason, Generator, SamplingOptions};
use fledge::rag::ground::{context_text, ground, sources_text};

use fledge::rag::{Index, Mode, Passage, RagError};
use fledge::tokenizer::Tokenizer;

#[derive(Args)]
pub struct DataChatArgs {
    /// Sources to convert (default: all of them).
    #[arg(long = "source", value_parser = clap::builder::PossibleValuesParser::new(convert::SOURCES))]
    sources: Vec<String>,
    /// The dataset folder (only with a single --source; default: its folder under --shared).
    #[arg(long)]
    input: Option<PathBuf>,
    /// The folder holding chat/ and qa/.
    #[arg(long, default_value = "../shared/data")]
    shared: PathBuf,
    /// Output folder: each set goes to OUT/SET/{train,val,test}.jsonl with its report.json.
    #[arg(long, default_value = "runs/chat")]
    out: PathBuf,
}

pub fn run_data_chat(args: DataChatArgs) -> Result<()> {
    let sources: Vec<String> =
        if args.sources.is_empty() { convert::SOURCES.iter().map(|s| s.to_string()).collect() } else { args.sources };
    if args.input.is_some() && sources.len() != 1 {
        bail!("--input names one dataset folder; pass exactly one --source with it");
    }
    println!("{:<16} {:>8} {:>6} {:>6} {:>8}  notes", "source", "train", "val", "test", "skipped");
    for source in &sources {
        let input = match (&args.input, convert::default_folder(source)) {
            (Some(p), _) => p.clone(),
            (None, Some(f)) => args.shared.join(f),
            (None, None) => PathBuf::new(),
        };
        for c in convert::convert(source, &input)? {
            convert::write(&c, &args.out)?;
            let [tr, va, te] = convert::Split::ALL.map(|s| c.split(s).len());
            let notes = c.skipped.iter().map(|(r, n)| format!("{n} skipped: {r}")).chain(c.notes.iter().cloned());
            println!(
                "{:<16} {tr:>8} {va:>6} {te:>6} {:>8}  {}",
                c.source,
                c.total_skipped(),
                notes.collect::<Vec<_>>().join("; ")
            );
        }
    }
    println!("written under {}", args.out.display());
    Ok(())
}

/// Every setting is optional: a flag wins over --config, which wins over
/// the default each help line states (those of `SftSettings::default()`).
#[derive(Args)]
pub struct SftArgs {
    /// A TOML recipe (see recipes/sft.toml; default: none).
    #[arg(long)]
    config: Option<PathBuf>,
    /// The base model: a checkpoint, a run folder (its latest checkpoint) or a Hugging Face folder
    /// (default: runs/train).
    #[arg(long)]
    base: Option<PathBuf>,
    /// A conversation source as PATH or PATH:WEIGHT (repeatable; added to the recipe's; default: none).
    #[arg(long = "source", value_name = "PATH[:WEIGHT]")]
    sources: Vec<String>,
    /// Run folder: checkpoints, metrics.jsonl, loss curve (default: runs/sft).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Optimizer steps to train (default: 1000).
    #[arg(long)]
    steps: Option<u64>,
    /// Peak learning rate (default: 0.0005).
    #[arg(long)]
    lr: Option<f32>,
    /// Seed of the plan: the order of the conversations, which of them a fractional weight draws
    /// and which pretraining windows are mixed in; another seed, another plan over the same sets
    /// (default: 1234).
    #[arg(long)]
    seed: Option<u64>,
    /// Token windows per optimizer step (default: 8).
    #[arg(long)]
    batch: Option<usize>,
    /// Tokens per window, at most the model's window (default: 512).
    #[arg(long)]
    seq_len: Option<usize>,
    /// Pack several conversations into one window (default: true).
    #[arg(long)]
    pack: Option<bool>,
    /// Token shards of pretraining text to mix in (default: none).
    #[arg(long)]
    pretrain: Option<PathBuf>,
    /// Share of windows taken from --pretrain (default: 0.1).
    #[arg(long)]
    pretrain_fraction: Option<f32>,
    /// Pull toward the base model's weights: each step goes lr × this of the way back to them, on
    /// every tensor (L2-SP in AdamW's decoupled form), so the text the base learned is kept
    /// (default: 0, none).
    #[arg(long)]
    decay_to_base: Option<f32>,
    /// Steps between validation evaluations (default: 100).
    #[arg(long)]
    eval_every: Option<u64>,
    /// Steps between checkpoints (default: 100).
    #[arg(long)]
    checkpoint_every: Option<u64>,
    /// Skip malformed JSONL lines (and count them) instead of stopping (default: off, stop).
    #[arg(long)]
    skip_bad: bool,
    /// Continue the run in --out from its latest checkpoint (default: off).
    #[arg(long)]
    resume: bool,
    /// Matrix products: auto (bf16 where it is faster: AMX, or AVX512-BF16 where a probe measures it 1.2x f32; else f32), f32, or bf16 (bfloat16
    /// inputs, f32 sums) (default: auto, or the --config recipe's `precision`).
    #[arg(long, value_enum)]
    precision: Option<fledge::model::Precision>,
    #[command(flatten)]
    engine: super::engine::EngineArgs,
}

pub fn run_sft(args: SftArgs) -> Result<()> {
    let torch = args.engine.torch_options()?;
    if super::engine::follow_if_not_node_zero(torch.as_ref())? {
        return Ok(());
    }
    let mut s = match &args.config {
        Some(p) => SftSettings::load(p)?,
        None => SftSettings::default(),
    };
    macro_rules! set {
        ($($f:ident),*) => { $( if let Some(v) = args.$f { s.$f = v; } )* };
    }
    set!(
        base,
        out,
        steps,
        lr,
        seed,
        batch,
        seq_len,
        pack,
        pretrain_fraction,
        decay_to_base,
        eval_every,
        checkpoint_every
    );
    // The CLI's default precision is auto; a recipe without the key, f32 as in the library.
    s.precision = args.precision.unwrap_or(if super::config_sets(args.config.as_deref(), "precision") {
        s.precision
    } else {
        fledge::model::Precision::Auto
    });
    if args.pretrain.is_some() {
        s.pretrain = args.pretrain;
    }
    s.skip_bad |= args.skip_bad;
    for spec in &args.sources {
        let (path, weight) = match spec.rsplit_once(':') {
            Some((p, w)) if w.parse::<f32>().is_ok() => (p, w.parse()?),
            _ => (spec.as_str(), 1.0),
        };
        s.sources.push(SftSource { path: PathBuf::from(path), weight });
    }
    let stop = super::ctrl_c_flag()?;
    let summary = fledge::chat::sft::sft_with(&s, args.resume, stop, torch)?;
    println!(
        "{} {} steps ({} trained tokens) in {:.0} s; last loss {:.4}{}; checkpoint {}",
        if summary.interrupted { "Stopped after" } else { "Fine-tuned" },
        summary.steps,
        summary.tokens,
        summary.seconds,
        summary.final_loss,
        summary.val_loss.map(|l| format!(", val loss {l:.4} on held-out assistant tokens")).unwrap_or_default(),
        summary.checkpoint.display()
    );
    Ok(())
}

#[derive(Args)]
pub struct MergeArgs {
    /// The base model the chat model was tuned from (a checkpoint, run or Hugging Face folder; required).
    #[arg(long)]
    base: PathBuf,
    /// The chat model (a checkpoint, run or Hugging Face folder; required).
    #[arg(long)]
    chat: PathBuf,
    /// Share of fine-tuning's change kept: 1 is the chat model, 0 the base.
    #[arg(long, default_value_t = 0.5)]
    alpha: f32,
    /// Folder for the merged checkpoint (required).
    #[arg(long)]
    out: PathBuf,
    /// Write into an --out that holds files fledge did not write (they are kept) (default: off, refuse).
    #[arg(long)]
    force: bool,
}

pub fn run_merge(args: MergeArgs) -> Result<()> {
    let r = fledge::chat::merge::merge(&args.base, &args.chat, args.alpha, &args.out, args.force)?;
    println!(
        "Wrote {}: base {} + {} x (chat {} - base); fine-tuning had moved the weights {:.2}% of their norm",
        r.out.display(),
        r.base.display(),
        r.alpha,
        r.chat.display(),
        100.0 * r.tuning_move
    );
    println!(
        "Measure it: `fledge eval --model {0}` and `fledge inspect --model {0} --file TEXT --summary`",
        r.out.display()
    );
    Ok(())
}

/// A checkpoint (or a run's latest, or a Hugging Face folder such as the
/// shipped model) with its tokenizer, checked to agree: what
/// [`fledge::export::Source::load`] reads, for the commands that need only
/// the weights.
pub fn load_model(path: &Path) -> Result<(fledge::model::ModelConfig, Vec<f32>, Tokenizer)> {
    let src = fledge::export::Source::load(path)?;
    Ok((src.config, src.params, src.tokenizer))
}

/// The model named, or the one shipped in `models/` when none is.
pub fn model_or_shipped(model: Option<&Path>) -> Result<PathBuf> {
    match model {
        Some(m) => Ok(m.to_path_buf()),
        None => fledge::shipped_model().with_context(|| {
            format!(
                "no --model given, and the shipped model ({}) is neither under the current folder nor in a fledge \
                 checkout holding this binary; run from the checkout, name a model with --model, or train one with \
                 `fledge speedrun`",
                fledge::SHIPPED_MODEL
            )
        }),
    }
}

#[derive(Args)]
pub struct EvalArgs {
    /// The chat model: a checkpoint, a run folder (its latest checkpoint) or a Hugging Face folder
    /// (default: the model shipped in models/).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Folder of converted sets (`fledge data chat --out`). Default: the folder the model was
    /// fine-tuned from, as its training record names it, else runs/chat.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Grounded QA sets, as folders under --data with a test.jsonl, or JSONL files.
    #[arg(long = "qa", default_values_t = ["babi-task1", "babi-task2", "babi-task6", "babi-task11", "fairytaleqa"].map(String::from))]
    qa: Vec<String>,
    /// Sets whose val.jsonl gives the held-out chat loss.
    #[arg(long = "chat", default_values_t = ["identity", "topical-chat", "taskmaster4", "chatterbot", "babi-task1", "fairytaleqa"].map(String::from))]
    chat: Vec<String>,
    /// Score at most this many items per QA set, and per battery set (its grounded questions, its story requests) (0: all).
    #[arg(long, default_value_t = 0)]
    limit: usize,
    /// Longest answer, in tokens.
    #[arg(long, default_value_t = 48)]
    max_tokens: usize,
    /// Write results (eval.json) and every answer (answers.jsonl) here (default: none, print only).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Folder of the battery's hand-written sets (grounded-qa.jsonl, story-requests.jsonl)
    /// (default: the copy of evals/ built into fledge).
    #[arg(long)]
    evals: Option<PathBuf>,
    /// Which split of the battery's sets to score: dev, test or all.
    #[arg(long, default_value = "dev", value_parser = ["dev", "test", "all"])]
    split: String,
    /// Skip the battery (grounded QA, refusals, story requests) and score only --qa and --chat
    /// (default: off, the battery runs).
    #[arg(long, default_value_t = false)]
    no_battery: bool,
    /// Longest story, in tokens, for the story requests.
    #[arg(long, default_value_t = 300)]
    story_tokens: usize,
    /// Sampling temperature of the story requests (the other settings are `fledge chat`'s defaults).
    #[arg(long, default_value_t = fledge::generate::CHAT_TEMPERATURE)]
    story_temperature: f32,
    /// Seed of the first story request's sampling (each next request uses the next seed).
    #[arg(long, default_value_t = 0)]
    story_seed: u64,
    /// Classifier-free guidance toward the request of every question asked without a context (the
    /// story requests), as `fledge chat --guidance` (0: off).
    #[arg(long, default_value_t = fledge::chat::CHAT_GUIDANCE)]
    guidance: f32,
    /// Stories sampled at most per story request, keeping the first that uses every word of the
    /// request (else the one that uses the most), as `fledge chat --story-tries` (1: one sample).
    #[arg(long, default_value_t = fledge::chat::tries::STORY_TRIES, value_parser = parse_tries)]
    story_tries: usize,
    /// Context-aware decoding for questions asked with a context: each
    /// token's scores become (1 + W) x with the context - W x without it, so the answer leans on
    /// the text rather than on what the model would say anyway (0: off).
    #[arg(long, default_value_t = 0.0)]
    context_weight: f32,
    /// Answer questions asked with a context by quoting it: the span of the text the model finds
    /// likeliest (beam search over the text's spans), unless its favourite first token starts its
    /// refusal (default: off)
    #[arg(long)]
    quote: bool,
}

fn answering(args: &EvalArgs) -> Answering {
    Answering {
        max_new_tokens: args.max_tokens,
        guidance: args.guidance,
        context_weight: args.context_weight,
        quote: args.quote,
    }
}

fn set_path(data: &Path, name: &str, split: &str) -> PathBuf {
    let p = PathBuf::from(name);
    if p.extension().is_some_and(|e| e == "jsonl") {
        p
    } else {
        data.join(name).join(format!("{split}.jsonl"))
    }
}

pub fn run_eval(args: EvalArgs) -> Result<()> {
    let model = model_or_shipped(args.model.as_deref())?;
    let src = fledge::export::Source::load(&model)?;
    // The sets the model was fine-tuned from hold its held-out splits
    // (`speedrun` writes them to OUT/chat, not runs/chat).
    let recorded = src.state.as_ref().and_then(|s| fledge::chat::eval::chat_data_of(&s.settings));
    let data = match (&args.data, recorded) {
        (Some(d), _) => d.clone(),
        (None, Some(d)) => {
            tracing::info!(data = %d.display(), "chat sets from the model's training record");
            d
        }
        (None, None) => PathBuf::from("runs/chat"),
    };
    let (config, params, tok) = (src.config, src.params, src.tokenizer);
    let missing = |kind: &str, name: &str| {
        format!(
            "{kind} {name} is not in {}: run `fledge data chat --out {}` first, or point --data at the folder \
             `fledge data chat --out` wrote (a speedrun's is OUT/chat)",
            data.display(),
            data.display()
        )
    };
    let mut scores: Vec<QaScore> = Vec::new();
    for name in &args.qa {
        let path = set_path(&data, name, "test");
        let (mut convs, _) = read_jsonl(&path, false).with_context(|| missing("QA set", name))?;
        if args.limit > 0 {
            convs.truncate(args.limit);
        }
        let s = score_qa(name, path, &config, &params, &tok, &convs, answering(&args));
        eprintln!(
            "{name}: EM {:.3}  F1 {:.3}  stop {:.3}  ({} scored, {:.0} s)",
            s.exact_match, s.f1, s.stop_rate, s.scored, s.seconds
        );
        scores.push(s);
    }
    let battery = if args.no_battery { None } else { Some(run_battery(&args, &config, &params, &tok)?) };
    let mut chat = Vec::new();
    for name in &args.chat {
        let path = set_path(&data, name, "val");
        let (mut convs, _) = read_jsonl(&path, false).with_context(|| missing("chat set", name))?;
        convs.truncate(200);
        let (loss, tokens) = chat_loss(&config, &params, &tok, &convs);
        chat.push(serde_json::json!({"name": name, "path": path, "conversations": convs.len(), "assistant_tokens": tokens, "loss": loss}));
    }
    println!("| set | scored | too long | exact match | token F1 | stop rate |");
    println!("|---|---:|---:|---:|---:|---:|");
    for s in &scores {
        println!(
            "| {} | {} | {} | {:.3} | {:.3} | {:.3} |",
            s.name, s.scored, s.too_long, s.exact_match, s.f1, s.stop_rate
        );
    }
    println!();
    println!("| held-out chat (val) | conversations | assistant tokens | loss (nats/token) |");
    println!("|---|---:|---:|---:|");
    for c in &chat {
        println!(
            "| {} | {} | {} | {:.3} |",
            c["name"].as_str().unwrap_or(""),
            c["conversations"],
            c["assistant_tokens"],
            c["loss"].as_f64().unwrap_or(f64::NAN)
        );
    }
    if let Some(b) = &battery {
        print_battery(b);
    }
    let induction = induction_summary(&config, &params, &tok);
    if let Some(i) = &induction {
        println!(
            "\ninduction test (`fledge inspect --induction`): random words read twice, {:.2} then {:.2} bits per token; strongest induction head {:.2}",
            i["first_copy_bits_per_token"].as_f64().unwrap_or(f64::NAN),
            i["second_copy_bits_per_token"].as_f64().unwrap_or(f64::NAN),
            i["strongest_induction_head"].as_f64().unwrap_or(f64::NAN),
        );
    }
    if let Some(out) = &args.out {
        let json = serde_json::json!({"model": model, "data": data, "qa": scores, "chat_loss": chat, "max_tokens": args.max_tokens, "limit": args.limit, "battery": battery, "induction": induction});
        fledge::fsutil::write_atomic(out.join("eval.json"), serde_json::to_string_pretty(&json)?.as_bytes())?;
        let mut lines = String::new();
        for s in &scores {
            for a in &s.answers {
                lines.push_str(&serde_json::to_string(&serde_json::json!({"set": s.name, "answer": a}))?);
                lines.push('\n');
            }
        }
        if let Some(b) = &battery {
            for a in &b.grounded.answers {
                lines.push_str(&serde_json::to_string(&serde_json::json!({"set": "grounded", "answer": a}))?);
                lines.push('\n');
            }
            for a in &b.stories.answers {
                lines.push_str(&serde_json::to_string(&serde_json::json!({"set": "stories", "answer": a}))?);
                lines.push('\n');
            }
        }
        fledge::fsutil::write_atomic(out.join("answers.jsonl"), lines.as_bytes())?;
        eprintln!("wrote {}/eval.json and answers.jsonl", out.display());
    }
    Ok(())
}

/// The battery's scores on one split of `evals/`.
#[derive(serde::Serialize)]
struct Battery {
    evals: String,
    split: String,
    grounded: battery::GroundedScore,
    stories: battery::StoryScore,
}

/// The induction test at its defaults (10 sequences of up to 100 random
/// words, seed 1), for the evaluation's report: whether the model copies
/// what it has read, which every answer from a text ends with. None when the
/// model's window or vocabulary is too small for it.
fn induction_summary(
    config: &fledge::model::ModelConfig,
    params: &[f32],
    tok: &Tokenizer,
) -> Option<serde_json::Value> {
    use fledge::generate::inspect::{induction_test, word_tokens};
    let words = word_tokens(tok);
    let length = 100.min((config.max_seq_len - 1) / 2).min(words.len());
    if length < 2 {
        return None;
    }
    let mut generator = Generator::new(config, params);
    let r = induction_test(&mut generator, &words, tok.eot_id(), length, 10, 1);
    let best = r.heads.iter().map(|h| h.induction).fold(0.0, f64::max);
    Some(serde_json::json!({
        "length": length, "sequences": r.sequences, "seed": 1,
        "first_copy_bits_per_token": r.first_bits, "second_copy_bits_per_token": r.second_bits,
        "strongest_induction_head": best,
    }))
}

fn run_battery(
    args: &EvalArgs,
    config: &fledge::model::ModelConfig,
    params: &[f32],
    tok: &Tokenizer,
) -> Result<Battery> {
    let evals = args.evals.as_deref();
    let split = (args.split != "all").then_some(args.split.as_str());
    let mut grounded = battery::read_grounded(evals, split)?;
    let mut stories = battery::read_story_requests(evals, split)?;
    if args.limit > 0 {
        grounded.truncate(args.limit);
        stories.truncate(args.limit);
    }
    let grounded = battery::score_grounded(config, params, tok, &grounded, answering(args));
    eprintln!(
        "grounded ({}): accuracy {:.3}  EM {:.3}  F1 {:.3}  refusals {:.3}  false refusals {:.3}  ({:.0} s)",
        args.split,
        grounded.answer_accuracy,
        grounded.exact_match,
        grounded.f1,
        grounded.refusal_rate,
        grounded.false_refusal_rate,
        grounded.seconds
    );
    let settings = battery::StorySettings {
        max_new_tokens: args.story_tokens,
        temperature: args.story_temperature,
        seed: args.story_seed,
        guidance: args.guidance,
        tries: args.story_tries,
    };
    let stories = battery::score_stories(config, params, tok, &stories, settings);
    eprintln!("story requests ({}): told {:.3}  ({:.0} s)", args.split, stories.pass_rate, stories.seconds);
    let evals = evals.map_or_else(|| "evals/ (built in)".into(), |d| d.display().to_string());
    Ok(Battery { evals, split: args.split.clone(), grounded, stories })
}

fn print_battery(b: &Battery) {
    let (g, s) = (&b.grounded, &b.stories);
    println!();
    println!("Battery ({} split of {}):", b.split, b.evals);
    println!();
    println!("| grounded QA | questions | answer accuracy | exact match | token F1 | refused |");
    println!("|---|---:|---:|---:|---:|---:|");
    let se = battery::standard_error;
    println!(
        "| answerable | {} | {:.3} ± {:.3} | {:.3} | {:.3} | {:.3} (false refusals) |",
        g.answerable,
        g.answer_accuracy,
        se(g.answer_accuracy, g.answerable),
        g.exact_match,
        g.f1,
        g.false_refusal_rate
    );
    println!(
        "| unanswerable | {} | | | | {:.3} ± {:.3} (refusals) |",
        g.unanswerable,
        g.refusal_rate,
        se(g.refusal_rate, g.unanswerable)
    );
    for (kind, n, accuracy) in &g.by_type {
        println!("| answer type: {kind} | {n} | {accuracy:.3} | | | |");
    }
    for (kind, n, accuracy) in &g.by_text_kind {
        println!("| text kind: {kind} | {n} | {accuracy:.3} | | | |");
    }
    if g.too_long > 0 {
        println!("({} questions longer than the context window were not asked)", g.too_long);
    }
    println!("(± one standard error of the rate, sqrt(p(1 - p) / n): a difference under about two is noise)");
    println!();
    println!(
        "| story requests | asked | told a story | ≥ {} words | on subject | identity line | mean words |",
        battery::STORY_MIN_WORDS
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    println!(
        "| sampled at temperature {} (seed {}), guidance {}, up to {} tries, otherwise as `fledge chat` | {} | {:.3} ± {:.3} | {:.3} | {:.3} | {:.3} | {:.0} |",
        s.temperature,
        s.seed,
        s.guidance,
        s.tries,
        s.requests,
        s.pass_rate,
        se(s.pass_rate, s.requests),
        s.long_enough_rate,
        s.subjects_rate,
        s.identity_rate,
        s.mean_words
    );
}

#[derive(Args)]
pub struct ChatArgs {
    /// The chat model: a checkpoint, a run folder (its latest checkpoint) or an exported HF folder
    /// (default: the model shipped in models/).
    #[arg(long)]
    model: Option<PathBuf>,
    /// How the matrices are stored while generating: f32, or q8_0 (a quarter of the bytes, faster;
    /// perplexity within 1%) (default: f32).
    #[arg(long, value_enum, default_value_t, hide_default_value = true)]
    quantize: fledge::generate::Quantize,
    /// A system message to start with (default: none).
    #[arg(long)]
    system: Option<String>,
    /// A document to answer from, as a `context` message (default: none).
    #[arg(long)]
    context: Option<PathBuf>,
    /// An index to answer from (`fledge index add`): retrieval is on from the start; `/rag off` stops it
    /// (default: none, retrieval off).
    #[arg(long)]
    index: Option<PathBuf>,
    /// The sentence-embedding model of the index (default: found as `fledge index` finds it).
    #[arg(long)]
    embedder: Option<PathBuf>,
    /// Passages retrieved per question when retrieval is on.
    #[arg(long, default_value_t = 5)]
    rag_k: usize,
    /// Longest reply, in tokens.
    #[arg(long, default_value_t = 200)]
    max_tokens: usize,
    /// Sampling temperature; 0 for greedy decoding.
    #[arg(long, default_value_t = fledge::generate::CHAT_TEMPERATURE)]
    temperature: f32,
    /// Classifier-free guidance toward your last message: each token's scores become (1 + G) x
    /// with it - G x without it, so a story asked about a cat is about a cat (0: off; costs a
    /// second pass of the model per token; not applied while a /context text is attached).
    #[arg(long, default_value_t = fledge::chat::CHAT_GUIDANCE)]
    guidance: f32,
    /// Asked for a story, sample up to this many and show the first that uses every word of your
    /// request (else the one that uses the most); the story then appears whole, not token by token
    /// (1: one sample, streamed).
    #[arg(long, default_value_t = fledge::chat::tries::STORY_TRIES, value_parser = parse_tries)]
    story_tries: usize,
    /// While a context is attached (/context or /rag), answer by quoting it: the span of the text the
    /// model finds likeliest, unless it declines (more questions about a text answered right; README,
    /// "Quoted answers"). questions: only questions about the text (not a story request, a title,
    /// what happens next or small talk); always (`--quote` alone): every reply, a story request too;
    /// off: every reply in the model's own words.
    #[arg(long, value_enum, default_value_t, num_args = 0..=1, default_missing_value = "always")]
    quote: fledge::chat::quote::QuoteMode,
    /// Sample only from this many most likely tokens (0: all).
    #[arg(long, default_value_t = fledge::generate::CHAT_TOP_K)]
    top_k: usize,
    /// Sample only from the most likely tokens that together hold this probability.
    #[arg(long, default_value_t = fledge::generate::CHAT_TOP_P)]
    top_p: f32,
    /// Make tokens the reply has already used less likely (the prompt's do not count): their scores shrink by this factor (1: off).
    #[arg(long, default_value_t = fledge::generate::CHAT_REPETITION_PENALTY)]
    repetition_penalty: f32,
    /// Seed of the first reply's sampling (each reply uses the next).
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

const HELP: &str = "commands: /reset (forget the conversation), /system TEXT (set the system message), \
/context FILE (answer from this document), /context off, /rag on [INDEX] (answer from retrieved passages), /rag off, /quit";

/// The name of the context message that retrieval writes (replaced every turn).
const RETRIEVED: &str = "retrieved passages";

/// The conversation the REPL keeps: system and context messages stay at the
/// top; turns follow.
struct Session {
    system: Option<String>,
    context: Option<(String, String)>,
    turns: Vec<Message>,
}

impl Session {
    fn messages(&self) -> Vec<Message> {
        let mut m = Vec::new();
        if let Some(s) = &self.system {
            m.push(Message::new(Role::System, s.clone()));
        }
        if let Some((_, text)) = &self.context {
            m.push(Message::new(Role::Context, text.clone()));
        }
        m.extend(self.turns.iter().cloned());
        m
    }
}

fn read_context(path: &Path) -> Result<(String, String)> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {} as UTF-8 text", path.display()))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    Ok((name, text.trim().to_string()))
}

/// Whether the chat goes on after a slash command.
#[derive(PartialEq)]
enum Flow {
    Continue,
    Quit,
}

/// Runs one slash command of `fledge chat` (`/reset`, `/system`, `/context`,
/// `/rag`, `/quit`; anything else prints the help line).
fn slash_command(cmd: &str, session: &mut Session, rag: &mut Option<Index>, tok: &Tokenizer, args: &ChatArgs) -> Flow {
    let (name, rest) = cmd.split_once(' ').map(|(a, b)| (a, b.trim())).unwrap_or((cmd, ""));
    match name {
        "quit" | "exit" => return Flow::Quit,
        "reset" => {
            session.turns.clear();
            println!("(conversation cleared; system message and context kept)");
        }
        "system" if rest.is_empty() => {
            session.system = None;
            println!("(system message removed)");
        }
        "system" => {
            session.system = Some(rest.to_string());
            println!("(system message set)");
        }
        "context" if rest.is_empty() || rest == "off" => {
            session.context = None;
            println!("(context removed)");
        }
        "context" => match read_context(Path::new(rest)) {
            Ok(c) => {
                println!("(answering from {}: {} tokens)", c.0, tok.encode(&c.1, false).len());
                session.context = Some(c);
            }
            Err(e) => println!("(error: {e:#})"),
        },
        "rag" if rest == "off" => {
            *rag = None;
            if session.context.as_ref().is_some_and(|(name, _)| name == RETRIEVED) {
                session.context = None;
            }
            println!("(retrieval off)");
        }
        "rag" if rest == "on" || rest.starts_with("on ") => {
            let dir = match rest.strip_prefix("on").map(str::trim) {
                Some(d) if !d.is_empty() => PathBuf::from(d),
                _ => args.index.clone().unwrap_or_else(|| PathBuf::from("runs/index")),
            };
            match crate::cli::rag::open_index(&dir, args.embedder.as_deref()) {
                Ok(index) => {
                    println!("(retrieval on: {} documents in {})", index.documents().len(), dir.display());
                    *rag = Some(index);
                }
                Err(e) => println!("(error: {e:#})"),
            }
        }
        _ => println!("({HELP})"),
    }
    Flow::Continue
}

/// Retrieves passages for `question` from `index` and makes the ones that
/// fit the window the session's context; when nothing relevant is found, a
/// context retrieval set earlier is dropped rather than left standing.
/// Returns the passages cited and how many were retrieved.
fn retrieve_into(
    session: &mut Session,
    index: &Index,
    question: &str,
    tok: &Tokenizer,
    args: &ChatArgs,
    window: usize,
) -> Result<(Vec<Passage>, usize), RagError> {
    let passages = index.retrieve_for_prompt(question, args.rag_k, Mode::Hybrid)?;
    let reserve = args.max_tokens.min(window / 2);
    let grounded = ground(tok, session.system.as_deref(), question, &passages, window, reserve)?;
    if grounded.cited.is_empty() {
        if session.context.as_ref().is_some_and(|(name, _)| name == RETRIEVED) {
            session.context = None;
        }
    } else {
        session.context = Some((RETRIEVED.into(), context_text(&grounded.cited)));
    }
    Ok((grounded.cited, passages.len()))
}

pub fn run_chat(args: ChatArgs) -> Result<()> {
    let model = model_or_shipped(args.model.as_deref())?;
    let (config, params, tok) = load_model(&model)?;
    let mut session = Session {
        system: args.system.clone(),
        context: args.context.as_deref().map(read_context).transpose()?,
        turns: Vec::new(),
    };
    let interactive = std::io::stdin().is_terminal();
    let quantized = fledge::generate::QuantizedWeights::for_option(args.quantize, &config, &params);
    let (mut generator, mut guide) = (Generator::new(&config, &params), Generator::new(&config, &params));
    if let Some(q) = &quantized {
        generator = generator.quantized(q);
        guide = guide.quantized(q);
    }
    let stdout = std::io::stdout();
    if interactive {
        eprintln!(
            "fledge chat: {}, {} parameters, context window {} tokens. {HELP}",
            model.display(),
            config.num_params(),
            config.max_seq_len
        );
    }
    let mut seed = args.seed;
    let mut rag: Option<Index> = match &args.index {
        Some(dir) => Some(crate::cli::rag::open_index(dir, args.embedder.as_deref())?),
        None => None,
    };
    let mut lines = std::io::stdin().lock().lines();
    loop {
        if interactive {
            print!("you> ");
            stdout.lock().flush()?;
        }
        let Some(line) = lines.next() else { break };
        let line = line?;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if !interactive {
            println!("you> {line}");
        }
        if let Some(cmd) = line.strip_prefix('/') {
            if slash_command(cmd, &mut session, &mut rag, &tok, &args) == Flow::Quit {
                break;
            }
            continue;
        }
        let (cited, retrieved) = match &rag {
            Some(index) => match retrieve_into(&mut session, index, line, &tok, &args, config.max_seq_len) {
                Ok(found) => found,
                Err(e) => {
                    println!("(error: {e})");
                    continue;
                }
            },
            None => (Vec::new(), 0),
        };
        session.turns.push(Message::new(Role::User, line));
        let Some(messages) = fit_session(&mut session, &tok, &args, config.max_seq_len) else { continue };
        let ids = render_tokens(&tok, &messages, true).ids;
        let options = SamplingOptions {
            temperature: args.temperature,
            top_k: args.top_k,
            top_p: args.top_p,
            repetition_penalty: args.repetition_penalty,
            max_new_tokens: args.max_tokens.min(config.max_seq_len - ids.len()),
            seed,
            stop_strings: Vec::new(),
            stop_tokens: vec![tok.im_end_id(), tok.eot_id()],
            logprobs: None,
        };
        seed += 1;
        let mut out = stdout.lock();
        write!(out, "fledge> ")?;
        out.flush()?;
        let text = write_reply(&mut out, (&mut generator, &mut guide), &tok, &args, &messages, &options)?;
        writeln!(out)?;
        session.turns.push(Message::new(Role::Assistant, text.trim().to_string()));
        if rag.is_some() {
            println!("{}", sources_text(&cited, retrieved));
        }
    }
    Ok(())
}

/// The session's messages, fitted to the context window with room for a
/// reply: the oldest turns are dropped (and said so), from the session too,
/// so that it stays in step with what the model sees. `None`, after saying
/// why, when even the newest message does not fit; it is dropped.
fn fit_session(session: &mut Session, tok: &Tokenizer, args: &ChatArgs, window: usize) -> Option<Vec<Message>> {
    let mut messages = session.messages();
    let before = messages.len();
    match fit_to_window(tok, &mut messages, window, args.max_tokens.min(window / 2)) {
        Ok(0) => {}
        Ok(n) => {
            session.turns.drain(..n);
            println!("(dropped the {n} oldest messages to fit the {window}-token context window)");
            debug_assert_eq!(messages.len(), before - n);
        }
        Err(e) => {
            session.turns.pop();
            println!("(error: {e})");
            return None;
        }
    }
    Some(messages)
}

/// Writes the model's reply to `out` and returns it: quoted from the context
/// where `--quote` says so, a story told in tries once chosen, any other reply
/// streamed token by token, with a note when it stopped for another reason
/// than its end token.
fn write_reply(
    out: &mut impl Write,
    (generator, guide): (&mut Generator, &mut Generator),
    tok: &Tokenizer,
    args: &ChatArgs,
    messages: &[Message],
    options: &SamplingOptions,
) -> Result<String> {
    if let Some(text) =
        args.quote.applies(messages).then(|| quoted_reply(generator, tok, messages, options.max_new_tokens)).flatten()
    {
        write!(out, "{text}")?;
        return Ok(text);
    }
    let g = if told_in_tries(messages, options, args.story_tries) {
        let g =
            generate_story_reply(generator, guide, args.guidance, tok, messages, options, args.story_tries, |_, _| {});
        write!(out, "{}", g.text)?;
        g
    } else {
        generate_reply(generator, guide, args.guidance, tok, messages, options, |piece| {
            let _ = write!(out, "{piece}");
            let _ = out.flush();
        })
    };
    if g.finish != FinishReason::StopToken {
        write!(out, "\n(stopped: {:?} after {} tokens)", g.finish, g.tokens.len())?;
    }
    Ok(g.text)
}
#[derive(Args)]
pub struct DataStoriesArgs {
    /// The prepared corpus whose training stories answer the requests (`fledge data prepare --out`,
    /// or a speedrun's OUT/data).
    #[arg(long, default_value = "runs/speedrun-reference/data")]
    corpus: PathBuf,
    /// Use the documents of sources whose name starts with this (the corpus's TinyStories).
    #[arg(long, default_value = "tinystories")]
    sources: String,
    /// Where the set goes, as OUT/stories/{train,val,test}.jsonl (the layout of `fledge data chat`).
    #[arg(long, default_value = "runs/chat")]
    out: PathBuf,
    /// Seed of the wordings and kinds chosen.
    #[arg(long, default_value_t = 1234)]
    seed: u64,
}

/// `fledge data stories`: requests for stories answered with the corpus's own.
pub fn run_data_stories(args: DataStoriesArgs) -> Result<()> {
    let (report, splits) = fledge::chat::stories::run(&args.corpus, &args.out, args.seed, &args.sources)?;
    println!("{:<10} {:>8}", "kind", "count");
    for (kind, n) in &report.kinds {
        println!("{kind:<10} {n:>8}");
    }
    for (why, n) in &report.skipped {
        println!("skipped {n}: {why}");
    }
    let [tr, va, te] = splits;
    println!("written to {}: train {tr}, val {va}, test {te}", args.out.join("stories").display());
    Ok(())
}

#[derive(Args)]
pub struct DataRcArgs {
    /// The prepared corpus folder; only its train.jsonl is read (the default is what
    /// `fledge speedrun --preset reference --until corpus` writes).
    #[arg(long, default_value = "runs/speedrun-reference/data")]
    corpus: PathBuf,
    /// Output folder; the set goes to OUT/rc/{train,val,test}.jsonl with report.json and rc-report.json.
    #[arg(long, default_value = "runs/chat")]
    out: PathBuf,
    /// Seed for windows, wordings and sampling; the same seed gives the same set.
    #[arg(long, default_value_t = 1234)]
    seed: u64,
    /// Most questions to make, about 6% of them unanswerable.
    #[arg(long, default_value_t = fledge::chat::rc::DEFAULT_MAX_QUESTIONS)]
    max_questions: usize,
}

pub fn run_data_rc(args: DataRcArgs) -> Result<()> {
    let run = fledge::chat::rc::run(&args.corpus, &args.out, args.seed, args.max_questions)?;
    let r = &run.report;
    println!("{:<14} {:>8} {:>11}", "kind", "questions", "candidates");
    for (kind, n) in &r.questions_per_kind {
        println!("{kind:<14} {n:>8} {:>11}", r.candidates_per_kind.get(kind).copied().unwrap_or(0));
    }
    println!(
        "{} questions ({} unanswerable) in {} conversations from {} of {} documents, in {:.1} s",
        r.questions, r.unanswerable, r.contexts, r.documents_used, r.documents_read, r.seconds
    );
    print_splits_and_folder(&r.splits, &args.out.join(fledge::chat::rc::SOURCE));
    Ok(())
}

/// The closing lines of the generated sets' commands: conversations per split, and where they went.
fn print_splits_and_folder(splits: &std::collections::BTreeMap<String, usize>, folder: &Path) {
    let splits: Vec<String> = splits.iter().map(|(s, n)| format!("{s} {n}")).collect();
    println!("conversations per split: {}", splits.join(", "));
    println!("written under {}", folder.display());
}

#[derive(Args)]
pub struct DataClozeArgs {
    /// The prepared corpus folder; only its train.jsonl is read (the default is what
    /// `fledge speedrun --preset reference --until corpus` writes).
    #[arg(long, default_value = "runs/speedrun-reference/data")]
    corpus: PathBuf,
    /// Output folder; the set goes to OUT/cloze/{train,val,test}.jsonl with report.json and cloze-report.json.
    #[arg(long, default_value = "runs/chat")]
    out: PathBuf,
    /// Seed for passages, blanks and rewordings; the same seed gives the same set.
    #[arg(long, default_value_t = 1234)]
    seed: u64,
    /// Most blanks to make, about 5% of them refused (a sentence of another document).
    #[arg(long, default_value_t = fledge::chat::rc::cloze::DEFAULT_MAX_ITEMS)]
    max_items: usize,
}

pub fn run_data_cloze(args: DataClozeArgs) -> Result<()> {
    run_exercise_command(Exercise::Blanks, &args.corpus, &args.out, args.seed, args.max_items, "blanks")
}

/// `fledge data cloze` and `fledge data copy`: makes the set, then prints its
/// counts per kind and per split and where it went.
fn run_exercise_command(
    exercise: Exercise,
    corpus: &Path,
    out: &Path,
    seed: u64,
    max_items: usize,
    noun: &str,
) -> Result<()> {
    let run = fledge::chat::rc::cloze::run_exercise(corpus, out, exercise, seed, max_items)?;
    let r = &run.report;
    for (kind, n) in &r.items_per_kind {
        println!("{kind:<20} {n:>8}");
    }
    println!(
        "{} {noun} in {} passages from {} of {} documents, in {:.1} s",
        r.items, r.contexts, r.documents_used, r.documents_read, r.seconds
    );
    print_splits_and_folder(&r.splits, &out.join(exercise.source()));
    Ok(())
}

#[derive(Args)]
pub struct DataCopyArgs {
    /// The prepared corpus folder; only its train.jsonl is read (the default is what
    /// `fledge speedrun --preset reference --until corpus` writes).
    #[arg(long, default_value = "runs/speedrun-reference/data")]
    corpus: PathBuf,
    /// Output folder; the set goes to OUT/copy/{train,val,test}.jsonl with report.json and copy-report.json.
    #[arg(long, default_value = "runs/chat")]
    out: PathBuf,
    /// Seed for passages and questions; the same seed gives the same set.
    #[arg(long, default_value_t = 1234)]
    seed: u64,
    /// Most copy questions to make.
    #[arg(long, default_value_t = fledge::chat::rc::cloze::DEFAULT_MAX_ITEMS)]
    max_items: usize,
}

pub fn run_data_copy(args: DataCopyArgs) -> Result<()> {
    run_exercise_command(Exercise::Copies, &args.corpus, &args.out, args.seed, args.max_items, "copy questions")
}

#[derive(Args)]
pub struct DataNotesArgs {
    /// Output folder; the set goes to OUT/notes/{train,val,test}.jsonl with report.json and notes-report.json.
    #[arg(long, default_value = "runs/chat")]
    out: PathBuf,
    /// Number of everyday texts to write, each with 1 to 4 questions (about 12% of them unanswerable).
    #[arg(long, default_value_t = fledge::chat::notes::DEFAULT_COUNT)]
    count: usize,
    /// Seed for the texts, wordings and splits; the same seed gives the same set.
    #[arg(long, default_value_t = 1234)]
    seed: u64,
}

/// `fledge data notes`: questions about synthetic everyday texts.
pub fn run_data_notes(args: DataNotesArgs) -> Result<()> {
    let run = fledge::chat::notes::run(&args.out, args.count, args.seed)?;
    let r = &run.report;
    println!("{:<14} {:>8}", "text kind", "texts");
    for (kind, n) in &r.texts_per_kind {
        println!("{kind:<14} {n:>8}");
    }
    println!("{:<14} {:>8} {:>11}", "question kind", "questions", "candidates");
    for (kind, n) in &r.questions_per_kind {
        println!("{kind:<14} {n:>8} {:>11}", r.candidates_per_kind.get(kind).copied().unwrap_or(0));
    }
    for (why, n) in &r.skipped {
        println!("skipped {n}: {why}");
    }
    println!(
        "{} questions ({} unanswerable) about {} of {} texts, in {:.1} s",
        r.questions, r.unanswerable, r.texts, r.count, r.seconds
    );
    print_splits_and_folder(&r.splits, &args.out.join(fledge::chat::notes::SOURCE));
    Ok(())
}

/// `--story-tries`: a count from 1 to `MAX_STORY_TRIES` (64).
pub(super) fn parse_tries(s: &str) -> Result<usize, String> {
    use fledge::chat::tries::MAX_STORY_TRIES;
    match s.parse::<usize>() {
        Ok(n) if (1..=MAX_STORY_TRIES).contains(&n) => Ok(n),
        _ => Err(format!("{s:?} is not a number of tries from 1 to {MAX_STORY_TRIES}")),
    }
}
