//! The speedrun's stages after pretraining: what the runs measured, the chat
//! sets, retrieval, evaluation with samples, and the export. Each returns a
//! [`StageRecord`] whose figures the report prints.

use std::path::{Path, PathBuf};

use serde_json::json;

use super::report::Report;
use super::{io_err, SpeedrunConfig, SpeedrunError, Stage, StageRecord};
use crate::chat::convert;
use crate::chat::eval::{chat_loss, score_qa, QaScore};
use crate::chat::template::{read_jsonl, Conversation, Message, Role};
use crate::chat::Answering;
use crate::export::bundle::{export_model, ExportOptions};
use crate::export::gguf::GgufType;
use crate::export::hf::HfDtype;
use crate::export::Source;
use crate::generate::{generate, inspect, Generator, SamplingOptions};
use crate::model::ModelConfig;
use crate::rag::ground::{ground, GROUNDED_SYSTEM};
use crate::rag::index::{EmbedderId, IndexSettings};
use crate::rag::{Index, Mode, Retriever};
use crate::tokenizer::Tokenizer;
use crate::train::checkpoint;
use crate::train::run::{read_metrics, Metric};

fn stage_err(stage: Stage, message: impl Into<String>) -> SpeedrunError {
    SpeedrunError::Stage { stage, message: message.into() }
}

/// What a training run did, from its checkpoint and `metrics.jsonl`: time
/// over all sessions, tokens, throughput, losses, and the best validation.
/// Also draws its loss curve as `{OUT}/{stage}-loss.png`.
pub fn training_record(stage: Stage, run: &Path, seconds: f64, reused: bool) -> Result<StageRecord, SpeedrunError> {
    let latest = checkpoint::resolve(run)?;
    let config_path = latest.join("model.toml");
    let config = ModelConfig::load(&config_path)
        .map_err(|e| SpeedrunError::Stage { stage, message: format!("{}: {e}", config_path.display()) })?;
    let state = checkpoint::load_state(&latest)?.unwrap_or_default();
    let metrics = read_metrics(&run.join("metrics.jsonl"))?;
    let plot = format!("{stage}-loss.png");
    let out = run.parent().unwrap_or(Path::new("."));
    crate::train::plot::loss_curve(&metrics, &out.join(&plot)).map_err(io_err(&out.join(&plot)))?;
    let final_loss = metrics.iter().rev().find_map(|m| m.loss);
    let evals: Vec<&Metric> = metrics.iter().filter(|m| m.val_loss.is_some()).collect();
    let best = state.best_step.and_then(|s| evals.iter().find(|m| m.step == s)).or(evals.last()).copied();
    let last = evals.last().copied();
    let train_seconds = if state.train_seconds > 0.0 { state.train_seconds } else { seconds };
    // Tokens the model processed (whole windows); fine-tuning counts loss
    // only on the assistant's tokens, which `tokens` holds there.
    let setting = |k: &str| state.settings[k].as_u64().unwrap_or(1);
    let processed = state.step * setting("batch") * setting("seq_len") * setting("grad_accum");
    let tokens_per_s = processed as f64 / train_seconds.max(1e-9);
    let params = config.num_params();
    let mut summary = format!(
        "{:.2}M params, {} steps, {:.1}M tokens, {:.0} tokens/s",
        params as f64 / 1e6,
        state.step,
        processed as f64 / 1e6,
        tokens_per_s
    );
    if let Some(b) = best {
        match (stage, b.val_sets.get("tinystories"), b.val_bpb) {
            (Stage::Pretrain, Some(ts), _) => summary.push_str(&format!(", best TinyStories val {ts:.4} bpb")),
            (Stage::Pretrain, None, Some(bpb)) => summary.push_str(&format!(", best val {bpb:.4} bpb")),
            _ => summary.push_str(&format!(", val loss {:.3}", b.val_loss.unwrap_or(f64::NAN))),
        }
    }
    Ok(StageRecord {
        stage,
        seconds: train_seconds,
        reused,
        summary,
        figures: json!({
            "run": run,
            "checkpoint": latest,
            "params": params,
            "config": config,
            "steps": state.step,
            "tokens": processed,
            "loss_tokens": state.tokens_seen,
            "seconds": train_seconds,
            "tokens_per_s": tokens_per_s,
            "final_loss": final_loss,
            "best": best,
            "last_eval": last,
            "hardware": state.hardware,
            "precision": state.precision,
            "plot": plot,
            "settings": state.settings,
            "licenses": state.data_licenses,
        }),
    })
}

/// The chat sets fledge makes itself, not converted from ../shared/data: from
/// the speedrun's own corpus (rc, stories) or from its own rules (notes).
const MADE_BY_FLEDGE: [&str; 3] = ["rc", "stories", "notes"];

/// Their seed: `fledge data rc`, `data stories` and `data notes`'s default, so
/// that the speedrun's sets are the ones those commands make.
const DATA_SEED: u64 = 1234;

/// Converts the chat and QA sets the fine-tuning mix and the evaluation
/// name, into `{OUT}/chat`; a set already converted there is kept.
pub fn chat_data(config: &SpeedrunConfig) -> Result<StageRecord, SpeedrunError> {
    let started = std::time::Instant::now();
    let out = config.out.join("chat");
    let mut wanted: Vec<&str> = config.sft.sets.iter().map(|s| s.name.as_str()).collect();
    wanted.extend(config.pretrain.mid.iter().flat_map(|m| m.sets.iter().map(|s| s.name.as_str())));
    wanted.extend(config.eval.qa_sets.iter().map(String::as_str));
    wanted.push("fairytaleqa");
    wanted.sort();
    wanted.dedup();
    // Sets made from the corpus itself (reading comprehension, story
    // requests; from its training documents only) or by rule (notes). They
    // take seconds and change when fledge's generators change, so they are
    // made again every time and replace the old ones only when they differ:
    // a newer fledge never trains on an older fledge's sets.
    let corpus = config.out.join("data");
    let mut converted = 0;
    for set in wanted.iter().filter(|s| MADE_BY_FLEDGE.contains(s)) {
        if remake(set, &corpus, &out)? {
            converted += 1;
        }
    }
    let mut sources: Vec<&str> = Vec::new();
    for set in wanted.iter().filter(|s| !MADE_BY_FLEDGE.contains(s)) {
        let source = if set.starts_with("babi-task") { "babi" } else { set };
        if !convert::SOURCES.contains(&source) {
            return Err(stage_err(
                Stage::ChatData,
                format!("set {set:?} is not a `fledge data chat` source; sources: {}", convert::SOURCES.join(", ")),
            ));
        }
        if !out.join(set).join("report.json").exists() && !sources.contains(&source) {
            sources.push(source);
        }
    }
    for source in &sources {
        let input = match convert::default_folder(source) {
            Some(folder) => {
                let path = config.shared.join(folder);
                if !path.is_dir() {
                    return Err(stage_err(
                        Stage::ChatData,
                        format!(
                            "{} not found: the stages after the token shards need the chat and QA sets of \
                             ../shared/data (give `shared = \"DIR\"` in the config), or stop before them with \
                             --until shards",
                            path.display()
                        ),
                    ));
                }
                path
            }
            None => PathBuf::new(),
        };
        for c in convert::convert(source, &input)? {
            convert::write(&c, &out)?;
            converted += 1;
        }
    }
    let mut sets = Vec::new();
    for set in &wanted {
        let count = |split: &str| {
            std::fs::read_to_string(out.join(set).join(format!("{split}.jsonl")))
                .map(|t| t.lines().filter(|l| !l.trim().is_empty()).count())
                .unwrap_or(0)
        };
        sets.push(json!({ "name": set, "train": count("train"), "val": count("val"), "test": count("test") }));
    }
    Ok(StageRecord {
        stage: Stage::ChatData,
        seconds: started.elapsed().as_secs_f64(),
        reused: converted == 0,
        summary: format!("{} sets ({} converted now)", wanted.len(), converted),
        figures: json!({ "out": out, "sets": sets }),
    })
}

/// Makes the fledge-made `set` in a scratch folder beside `{out}/{set}` and
/// puts it in place when its splits differ from what is there (or nothing
/// is); returns whether it did.
fn remake(set: &str, corpus: &Path, out: &Path) -> Result<bool, SpeedrunError> {
    let failed = |e: String| stage_err(Stage::ChatData, format!("making the {set} set from {}: {e}", corpus.display()));
    let scratch = out.join(format!(".{set}.remake"));
    let io = |e: std::io::Error| failed(e.to_string());
    if scratch.exists() {
        std::fs::remove_dir_all(&scratch).map_err(io)?; // our own leftover from a stopped run
    }
    std::fs::create_dir_all(&scratch).map_err(io)?;
    match set {
        "rc" => crate::chat::rc::run(corpus, &scratch, DATA_SEED, crate::chat::rc::DEFAULT_MAX_QUESTIONS)
            .map(|_| ())
            .map_err(|e| failed(e.to_string()))?,
        "notes" => crate::chat::notes::run(&scratch, crate::chat::notes::DEFAULT_COUNT, DATA_SEED)
            .map(|_| ())
            .map_err(|e| failed(e.to_string()))?,
        _ => crate::chat::stories::run(corpus, &scratch, DATA_SEED, "tinystories")
            .map(|_| ())
            .map_err(|e| failed(e.to_string()))?,
    }
    let (made, kept) = (scratch.join(set), out.join(set));
    let same = ["train", "val", "test"].iter().all(|split| {
        let file = format!("{split}.jsonl");
        matches!((std::fs::read(made.join(&file)), std::fs::read(kept.join(&file))), (Ok(a), Ok(b)) if a == b)
    });
    if !same {
        // Each file the generator wrote replaces its namesake in one rename;
        // anything else in the folder is not fledge's to remove and stays.
        std::fs::create_dir_all(&kept).map_err(io)?;
        for entry in std::fs::read_dir(&made).map_err(io)? {
            let name = entry.map_err(io)?.file_name();
            std::fs::rename(made.join(&name), kept.join(&name)).map_err(io)?;
        }
    }
    std::fs::remove_dir_all(&scratch).map_err(io)?;
    Ok(!same)
}

/// The validation set whose stories measure text quality, and the window.
const TEXT_QUALITY_SET: &str = "tinystories";
const TEXT_QUALITY_WINDOW: usize = 255;

/// The two models the later stages use.
pub struct Models {
    /// The pretrained checkpoint the chat model was tuned from.
    pub base: PathBuf,
    pub chat: PathBuf,
}

impl Models {
    /// What identifies them for the stage keys: folders and training steps.
    pub fn key(&self) -> Result<serde_json::Value, SpeedrunError> {
        let id = |p: &Path| -> Result<serde_json::Value, SpeedrunError> {
            let state = checkpoint::load_state(p)?;
            Ok(json!({ "path": p, "step": state.as_ref().map(|s| s.step), "tokens": state.map(|s| s.tokens_seen) }))
        };
        Ok(json!({ "base": id(&self.base)?, "chat": id(&self.chat)? }))
    }
}

fn load(path: &Path) -> Result<(ModelConfig, Vec<f32>, Tokenizer), SpeedrunError> {
    let loaded = checkpoint::load(path)?;
    let tok = Tokenizer::load(&path.join("tokenizer.json"))?;
    Ok((loaded.config, loaded.params, tok))
}

/// The document collection: FairytaleQA's test stories, one file per
/// section, and their questions.
fn collection(config: &SpeedrunConfig) -> Result<(PathBuf, PathBuf), SpeedrunError> {
    let dir = config.out.join("rag");
    let questions = dir.join("questions.jsonl");
    if !questions.exists() {
        let src = config.shared.join("qa/fairytaleqa");
        if !src.is_dir() {
            return Err(stage_err(Stage::Retrieval, format!("{} not found (the retrieval documents)", src.display())));
        }
        crate::rag::eval::prepare_fairytaleqa(&src, &dir)?;
    }
    Ok((dir.join("docs"), questions))
}

fn test_questions(path: &Path, limit: usize) -> Result<Vec<crate::rag::eval::QaItem>, SpeedrunError> {
    let mut items = crate::rag::eval::read_items(path)?;
    items.retain(|i| i.split == "test");
    if limit > 0 {
        items.truncate(limit);
    }
    Ok(items)
}

fn index_dir(config: &SpeedrunConfig) -> std::path::PathBuf {
    config.out.join("rag/index")
}

fn load_embedder(config: &SpeedrunConfig) -> Result<Option<crate::rag::embed::Embedder>, SpeedrunError> {
    if !config.retrieval.embeddings {
        return Ok(None);
    }
    let path = crate::rag::embed::Embedder::locate(None)?;
    Ok(Some(crate::rag::embed::Embedder::load(&path)?))
}

/// Opens (building it the first time) the index over the test stories and
/// brings it up to date with them.
fn index(config: &SpeedrunConfig, docs: &Path) -> Result<(Index, crate::rag::index::AddReport), SpeedrunError> {
    let dir = index_dir(config);
    let embedder = load_embedder(config)?;
    let mut index = if Index::exists(&dir) {
        Index::open(&dir)?
    } else {
        let settings = IndexSettings { embedder: embedder.as_ref().map(EmbedderId::of), chunking: Default::default() };
        Index::create(&dir, settings)?
    };
    let added = index.add(&[docs.join("test")], embedder.as_ref(), 10_000_000)?;
    if let Some(e) = embedder {
        index.set_embedder(e)?;
    }
    Ok((index, added))
}

/// Retrieval over the test stories: recall of the answering section.
pub fn retrieval(config: &SpeedrunConfig, _models: &Models) -> Result<StageRecord, SpeedrunError> {
    let (docs, questions) = collection(config)?;
    let (index, added) = index(config, &docs)?;
    let items = test_questions(&questions, config.retrieval.questions)?;
    if items.is_empty() {
        return Err(stage_err(Stage::Retrieval, format!("{}: no test questions", questions.display())));
    }
    let modes = if index.settings().embedder.is_some() {
        vec![Mode::Bm25, Mode::Dense, Mode::Hybrid]
    } else {
        vec![Mode::Bm25]
    };
    let mut scores = Vec::new();
    for mode in modes {
        scores.push(crate::rag::eval::evaluate(&index, &items, &docs, mode)?);
    }
    let stats = index.stats();
    let best = scores.last().expect("one mode at least");
    Ok(StageRecord {
        stage: Stage::Retrieval,
        seconds: 0.0,
        reused: false,
        summary: format!(
            "{} sections, {} questions: recall@5 {:.3} ({})",
            stats.documents,
            items.len(),
            best.recall_at_5,
            best.mode
        ),
        figures: json!({ "documents": stats.documents, "chunks": stats.chunks, "questions": items.len(),
            "index_seconds": added.seconds, "scores": scores }),
    })
}

/// Story openings the base model continues for the report.
const STORY_PROMPTS: [&str; 10] = [
    "Once upon a time",
    "The little dog",
    "One day, Lily found a",
    "Tom and his mom went to the park.",
    "There was a big red ball",
    "The sun was hot, so",
    "Sam wanted to fly.",
    "In a small house by the sea,",
    "The cat looked at the bird and",
    "Mia was sad because",
];

/// Chat turns for the transcripts: who it is, a story, and answers from a context.
fn chat_prompts() -> Vec<(Option<&'static str>, &'static str)> {
    vec![
        (None, "Hello! Who are you?"),
        (None, "Tell me a story about a cat."),
        (None, "What can you do?"),
        (Some("Mary went to the kitchen. John went back to the garden."), "Where is Mary?"),
        (Some("Daniel picked up the apple. Daniel went to the office."), "Where is the apple?"),
        (None, "Who made you?"),
        (None, "Can you write a short story about a brave mouse?"),
        (
            Some("The fox lived in a hole under the old oak tree. Every morning she ran to the river to drink."),
            "Where did the fox live?",
        ),
        (None, "What is your favorite color?"),
        (None, "Tell me about the sea."),
    ]
}

/// Scores the models: validation from pretraining, QA exact match with the
/// gold context and with retrieved passages, the chat loss on held-out
/// conversations, and unedited samples (fixed prompts and seeds).
pub fn evaluate(config: &SpeedrunConfig, models: &Models) -> Result<StageRecord, SpeedrunError> {
    let (chat_config, chat_params, tok) = load(&models.chat)?;
    let chat_dir = config.out.join("chat");
    let e = &config.eval;
    let mut qa: Vec<QaScore> = Vec::new();
    for set in &e.qa_sets {
        let path = chat_dir.join(set).join("test.jsonl");
        let (mut convs, _) = read_jsonl(&path, false).map_err(|err| stage_err(Stage::Eval, err.to_string()))?;
        if e.qa_limit > 0 {
            convs.truncate(e.qa_limit);
        }
        qa.push(score_qa(set, path, &chat_config, &chat_params, &tok, &convs, Answering::chat(e.max_tokens)));
    }

    let grounded = retrieved_qa(config, &chat_config, &chat_params, &tok)?;
    let battery = battery(&chat_config, &chat_params, &tok, e.max_tokens, e.story_tries)?;

    let chat_losses = held_out_chat_losses(config, &chat_config, &chat_params, &tok);
    let (base_config, base_params, base_tok) = load(&models.base)?;
    let (stories, transcripts) =
        samples(e.samples, (&base_config, &base_params, &base_tok), (&chat_config, &chat_params, &tok));
    let text_quality =
        text_quality(config, (&base_config, &base_params, &base_tok), (&chat_config, &chat_params, &tok))?;

    let first = qa.first();
    Ok(StageRecord {
        stage: Stage::Eval,
        seconds: 0.0,
        reused: false,
        summary: format!(
            "{}; retrieved-passage EM {:.3} ({} questions)",
            first.map(|q| format!("{} EM {:.3}", q.name, q.exact_match)).unwrap_or_default(),
            grounded.exact_match,
            grounded.scored
        ),
        figures: json!({
            "qa": qa,
            "grounded": grounded,
            "answers": qa.iter().chain([&grounded]).map(|q| json!({ "set": q.name, "answers": q.answers.iter().take(5).collect::<Vec<_>>() })).collect::<Vec<_>>(),
            "chat_loss": chat_losses,
            "battery": battery,
            "text_quality": text_quality,
            "stories": stories,
            "transcripts": transcripts,
            "sampling": SamplingOptions::default(),
        }),
    })
}

/// A loaded model: its shape, weights and tokenizer.
type Loaded<'a> = (&'a ModelConfig, &'a [f32], &'a Tokenizer);

/// FairytaleQA's test questions answered from the passages retrieval finds
/// (as `fledge ask` answers: quoted), over the index the retrieval stage built.
fn retrieved_qa(
    config: &SpeedrunConfig,
    chat_config: &ModelConfig,
    chat_params: &[f32],
    tok: &Tokenizer,
) -> Result<QaScore, SpeedrunError> {
    let (docs, questions) = collection(config)?;
    // The retrieval stage built the index over these same stories; re-adding
    // them would only re-read every file to find nothing changed.
    let index = if Index::exists(&index_dir(config)) {
        let mut index = Index::open(&index_dir(config))?;
        if let Some(embedder) = load_embedder(config)? {
            index.set_embedder(embedder)?;
        }
        index
    } else {
        index(config, &docs)?.0
    };
    let items = test_questions(&questions, config.eval.qa_limit)?;
    let mode = if index.settings().embedder.is_some() { Mode::Hybrid } else { Mode::Bm25 };
    let mut convs = Vec::with_capacity(items.len());
    for item in &items {
        let passages = index.retrieve(&item.question, config.retrieval.k, mode)?;
        let grounded = ground(
            tok,
            Some(GROUNDED_SYSTEM),
            &item.question,
            &passages,
            chat_config.max_seq_len,
            config.eval.max_tokens,
        )?;
        let mut messages = grounded.messages;
        messages.push(Message::new(Role::Assistant, item.answers[0].clone()));
        convs.push(Conversation::new(messages));
    }
    let mut grounded = score_qa(
        "fairytaleqa-retrieved",
        questions,
        chat_config,
        chat_params,
        tok,
        &convs,
        // As `fledge ask` answers: quoted from the passages.
        Answering { quote: true, ..Answering::chat(config.eval.max_tokens) },
    );
    grounded.name = format!("fairytaleqa, {} passages retrieved ({mode}), quoted as `fledge ask`", config.retrieval.k);
    Ok(grounded)
}

/// The chat model's loss on up to 100 held-out conversations of each set
/// it was tuned on (assistant tokens only).
fn held_out_chat_losses(
    config: &SpeedrunConfig,
    chat_config: &ModelConfig,
    chat_params: &[f32],
    tok: &Tokenizer,
) -> Vec<serde_json::Value> {
    let chat_dir = config.out.join("chat");
    let mut chat_losses = Vec::new();
    for set in config.sft.sets.iter().map(|s| &s.name) {
        let path = chat_dir.join(set).join("val.jsonl");
        let Ok((mut convs, _)) = read_jsonl(&path, false) else { continue };
        convs.truncate(100);
        let (loss, tokens) = chat_loss(chat_config, chat_params, tok, &convs);
        chat_losses.push(json!({ "set": set, "conversations": convs.len(), "assistant_tokens": tokens, "loss": loss }));
    }
    chat_losses
}

/// Unedited samples: story continuations from the base and chat transcripts,
/// `count` of each, from fixed prompts and seeds, sampled as `fledge
/// generate` and `fledge chat` do.
fn samples(
    count: usize,
    (base_config, base_params, base_tok): Loaded,
    (chat_config, chat_params, tok): Loaded,
) -> (Vec<serde_json::Value>, Vec<serde_json::Value>) {
    let mut generator = Generator::new(base_config, base_params);
    let mut stories = Vec::new();
    for (i, prompt) in STORY_PROMPTS.iter().cycle().take(count).enumerate() {
        let mut ids = vec![base_tok.eot_id()];
        ids.extend(base_tok.encode(prompt, false));
        let options = SamplingOptions { max_new_tokens: 100, seed: i as u64, ..Default::default() };
        let g = generate(&mut generator, base_tok, &ids, &options, |_| {});
        stories.push(json!({ "prompt": prompt, "continuation": g.text }));
    }
    let mut generator = Generator::new(chat_config, chat_params);
    let mut transcripts = Vec::new();
    for (i, (context, question)) in chat_prompts().into_iter().cycle().take(count).enumerate() {
        let mut messages = Vec::new();
        if let Some(c) = context {
            messages.push(Message::new(Role::Context, c));
        }
        messages.push(Message::new(Role::User, question));
        let ids = crate::chat::render_tokens(tok, &messages, true).ids;
        let options = SamplingOptions {
            max_new_tokens: 120,
            seed: i as u64,
            stop_tokens: vec![tok.im_end_id(), tok.eot_id()],
            ..Default::default()
        };
        let g = generate(&mut generator, tok, &ids, &options, |_| {});
        transcripts.push(json!({ "context": context, "user": question, "assistant": g.text.trim(),
            "finish": format!("{:?}", g.finish) }));
    }
    (stories, transcripts)
}

/// Text quality as an outsider measures it: the held-out TinyStories
/// stories as one stream, the same windows for both models.
fn text_quality(
    config: &SpeedrunConfig,
    (base_config, base_params, base_tok): Loaded,
    (chat_config, chat_params, tok): Loaded,
) -> Result<serde_json::Value, SpeedrunError> {
    let stream = crate::data::prepare::read_validation_text(&config.out.join("data"), TEXT_QUALITY_SET)?;
    Ok(if stream.is_empty() {
        json!(null)
    } else {
        let window = TEXT_QUALITY_WINDOW.min(base_config.max_seq_len - 1).min(chat_config.max_seq_len - 1);
        let bpb = |c: &ModelConfig, p: &[f32], t: &Tokenizer| inspect::text_bits_per_byte(c, p, t, &stream, window);
        let ((base_bpb, tokens), (chat_bpb, _)) =
            (bpb(base_config, base_params, base_tok), bpb(chat_config, chat_params, tok));
        json!({ "set": TEXT_QUALITY_SET, "bytes": stream.len(), "tokens": tokens, "window": window,
            "base_bpb": base_bpb, "chat_bpb": chat_bpb, "difference": chat_bpb - base_bpb })
    })
}

/// The battery of `evals/` (grounded QA, refusals, story requests; the
/// copy built into fledge), each split on its own, with the first replies
/// as samples.
fn battery(
    config: &ModelConfig,
    params: &[f32],
    tok: &Tokenizer,
    max_tokens: usize,
    story_tries: usize,
) -> Result<serde_json::Value, SpeedrunError> {
    use crate::chat::battery::{read_grounded, read_story_requests, score_grounded, score_stories, StorySettings};
    let bad = |e: crate::chat::battery::BatteryError| stage_err(Stage::Eval, e.to_string());
    let mut splits = Vec::new();
    for split in ["dev", "test"] {
        let grounded = read_grounded(None, Some(split)).map_err(bad)?;
        let requests = read_story_requests(None, Some(split)).map_err(bad)?;
        let g = score_grounded(config, params, tok, &grounded, Answering::chat(max_tokens));
        // As `fledge ask` answers a question about a text.
        let quoted = Answering { quote: true, ..Answering::chat(max_tokens) };
        let q = score_grounded(config, params, tok, &grounded, quoted);
        let st = score_stories(
            config,
            params,
            tok,
            &requests,
            StorySettings { tries: story_tries, ..StorySettings::chat() },
        );
        splits.push(json!({
            "split": split,
            "grounded": g,
            "grounded_quoted": {"answer_accuracy": q.answer_accuracy, "exact_match": q.exact_match, "f1": q.f1},
            "stories": st,
            "grounded_samples": g.answers.iter().take(8).collect::<Vec<_>>(),
            "story_samples": st.answers.iter().take(3).collect::<Vec<_>>(),
        }));
    }
    Ok(json!({ "evals": "evals/ (built in)", "splits": splits }))
}

/// The chat model as a Hugging Face folder with its GGUF files, its card
/// quoting the evaluation.
pub fn export(config: &SpeedrunConfig, models: &Models, report: &Report) -> Result<StageRecord, SpeedrunError> {
    let src = Source::load(&models.chat)?;
    let mut evals = Vec::new();
    if let Some(r) = report.record(Stage::Pretrain) {
        if let Some(b) = r.figures["best"]["val_sets"]["tinystories"].as_f64() {
            evals.push(("base model: TinyStories validation bits per byte".to_string(), format!("{b:.4}")));
        }
    }
    if let Some(r) = report.record(Stage::Eval) {
        evals.extend(crate::export::card::qa_rows(
            r.figures["qa"].as_array().into_iter().flatten().chain([&r.figures["grounded"]]),
        ));
    }
    let options = ExportOptions {
        name: config.model_name(),
        hf: true,
        dtype: if config.export.dtype == "bf16" { HfDtype::Bf16 } else { HfDtype::F32 },
        gguf_types: config.export.gguf_types.iter().filter_map(|t| GgufType::parse(t)).collect(),
        evals,
        // The speedrun's own folder: files found there are kept beside the export.
        force: true,
    };
    let out = config.out.join("export").join(config.model_name());
    let r = export_model(&src, &out, &options)?;
    Ok(StageRecord {
        stage: Stage::Export,
        seconds: 0.0,
        reused: false,
        summary: format!(
            "`{}`: HF folder + {} GGUF, {:.1} MB",
            out.display(),
            r.gguf_files.len(),
            r.bytes as f64 / 1e6
        ),
        figures: serde_json::to_value(&r).expect("report serializes"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fledge-made set is made again each run: kept when it comes out the
    /// same, replaced when what is there differs (an older fledge's set).
    #[test]
    fn a_made_set_is_replaced_only_when_it_differs() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("chat");
        let corpus = dir.path().join("data"); // the notes need no corpus
        assert!(remake("notes", &corpus, &out).unwrap(), "nothing was there");
        let train = out.join("notes/train.jsonl");
        let made = std::fs::read(&train).unwrap();
        assert!(!remake("notes", &corpus, &out).unwrap(), "the same set again is kept");
        std::fs::write(&train, "{\"messages\": []}\n").unwrap();
        assert!(remake("notes", &corpus, &out).unwrap(), "a different set is replaced");
        assert_eq!(std::fs::read(&train).unwrap(), made);
        let left: Vec<_> = std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, ["notes"], "no scratch folder is left behind");
    }
}
