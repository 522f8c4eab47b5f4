//! `fledge speedrun`: the whole pipeline in one command, from raw text to a
//! chat model, its evaluation, its exported files and a report.
//!
//! Stages, in order, each writing under one output folder:
//!
//! | stage | writes | skipped when |
//! |---|---|---|
//! | corpus | `data/` | the recipe and its inputs are unchanged (fingerprint) |
//! | tokenizer | `tokenizer/` | the corpus was reused |
//! | shards | `shards/` | same corpus and tokenizer (fingerprint) |
//! | chat-data | `chat/` | each set's conversion is there, and the sets fledge makes (rc, stories, notes) come out the same again |
//! | pretrain | `train/` | its latest checkpoint finished these exact settings |
//! | sft | `sft/` | as pretrain |
//! | retrieval | `rag/` | same documents, settings and chat model |
//! | eval | `eval/` | same checkpoints and settings |
//! | export | `export/` | same checkpoint and settings |
//! | report | `report.md`, `report.json`, `*.png` | never: it is cheap |
//!
//! A training stage that was stopped resumes exactly from its checkpoint; one
//! whose settings changed is moved aside (never deleted) and starts again.
//! The tiny preset is what CI runs end to end; the reference preset trains the
//! model shipped in `models/`.

mod eval;
mod report;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::chat::sft::{SftSettings, SftSource};
use crate::data::prepare::{self, Recipe};
use crate::data::read::{self, ReadOptions};
use crate::data::shards::{self, SplitHeader};
use crate::data::DataError;
use crate::tokenizer::Tokenizer;
use crate::train::checkpoint;
use crate::train::run::{TrainError, TrainSettings};
use crate::train::torch::TorchOptions;

pub use report::{render as render_report, Report};

/// Settings of a speedrun: a preset, then a TOML file, then flags.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpeedrunConfig {
    /// The preset these settings started from (`tiny`, `reference`, `small`).
    pub preset: String,
    /// Data recipe; `None` picks [`default_recipe`].
    pub recipe: Option<PathBuf>,
    pub out: PathBuf,
    pub vocab_size: usize,
    pub shard_tokens: u64,
    /// Share of training documents followed by a blank line and the next one
    /// instead of `<|endoftext|>` ([`shards::tokenize_corpus`]).
    pub blank_line_share: f64,
    /// The folder holding `chat/` and `qa/` (conversations, QA sets, the
    /// retrieval documents): `../shared/data`.
    pub shared: PathBuf,
    pub pretrain: PretrainStage,
    pub sft: SftStage,
    pub retrieval: RetrievalStage,
    pub eval: EvalStage,
    pub export: ExportStage,
    /// The matrix products' precision of pretraining and fine-tuning:
    /// `auto` (bf16 where it is faster: AMX, or AVX512-BF16 where a probe measures it 1.2x f32; else f32), `f32` or `bf16`.
    pub precision: crate::model::Precision,
}

/// Pretraining: a model preset trained on the shards for a number of tokens.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PretrainStage {
    pub model: String,
    pub tokens: u64,
    pub batch: usize,
    pub seq_len: usize,
    pub lr: f32,
    pub warmup_steps: u64,
    pub eval_every: u64,
    /// The validation set that picks the best checkpoint (the one fine-tuned);
    /// when the recipe does not hold it out, all validation text does.
    pub best_on: Option<String>,
    /// Mid-training: conversation sets mixed into the last part of
    /// pretraining (see [`crate::train::mid`]); none when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mid: Option<MidStage>,
}

/// The `[pretrain.mid]` table: where the phase starts, the share of its
/// windows that are conversations, and which sets (`chat/` names, weights).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MidStage {
    pub start: f32,
    pub chat_fraction: f32,
    pub sets: Vec<ChatSet>,
}

/// One conversation set of the fine-tuning mix, by its `fledge data chat` name.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChatSet {
    pub name: String,
    pub weight: f32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SftStage {
    pub steps: u64,
    pub batch: usize,
    pub seq_len: usize,
    pub lr: f32,
    pub warmup_steps: u64,
    pub eval_every: u64,
    /// Fraction of windows that are pretraining text (keeps the stories).
    pub pretrain_fraction: f32,
    /// Pull toward the base each step (`fledge sft --decay-to-base`): keeps
    /// the chat model's text near its base's; 0: none.
    pub decay_to_base: f32,
    pub sets: Vec<ChatSet>,
}

/// Retrieval: FairytaleQA's test stories as the document collection, its
/// questions as queries.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetrievalStage {
    /// Questions scored (0: all of the test split).
    pub questions: usize,
    /// Passages given to the chat model per question.
    pub k: usize,
    /// Also embed the passages (needs a local sentence-embedding model; see
    /// `fledge index`); BM25 alone otherwise.
    pub embeddings: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvalStage {
    /// QA sets answered with their gold context (`fledge data chat` names).
    pub qa_sets: Vec<String>,
    /// Questions per QA set, and answered from retrieved passages (0: all).
    pub qa_limit: usize,
    /// Longest answer, in tokens.
    pub max_tokens: usize,
    /// Story continuations from the base model, and as many chat transcripts.
    pub samples: usize,
    /// Stories sampled at most per story request of the battery, as `fledge
    /// chat --story-tries` (1: one sample; the tiny preset's, to keep CI short).
    pub story_tries: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExportStage {
    /// The model's name (default: `fledge-{preset}`).
    pub name: Option<String>,
    /// `f32` or `bf16` Hugging Face weights.
    pub dtype: String,
    /// GGUF files, one per type (`f32`, `f16`, `q8_0`).
    pub gguf_types: Vec<String>,
}

impl Default for SpeedrunConfig {
    fn default() -> Self {
        SpeedrunConfig::preset("tiny").expect("tiny is a preset")
    }
}

impl Default for PretrainStage {
    fn default() -> Self {
        SpeedrunConfig::default().pretrain
    }
}
impl Default for SftStage {
    fn default() -> Self {
        SpeedrunConfig::default().sft
    }
}
impl Default for RetrievalStage {
    fn default() -> Self {
        SpeedrunConfig::default().retrieval
    }
}
impl Default for EvalStage {
    fn default() -> Self {
        SpeedrunConfig::default().eval
    }
}
impl Default for ExportStage {
    fn default() -> Self {
        SpeedrunConfig::default().export
    }
}

/// The presets `fledge speedrun --preset` knows.
pub const PRESETS: [&str; 3] = ["tiny", "reference", "small"];

/// The chat mix of `recipes/sft.toml`: questions about everyday texts
/// (`fledge data notes`) and reading comprehension made from the corpus
/// (answers copied out of a text), story requests answered with its stories,
/// bAbI and FairytaleQA for answering from a context, the identity set and
/// some open conversation as a small share.
///
/// The shares are what four rounds of chat tuning on the shipped model taught
/// (README, "How the shipped model was made"): the notes as the largest share
/// (grounded answers rose with them), story requests near it (below about
/// half of the notes' share the stories drifted off the subject asked for),
/// corpus reading comprehension smaller (its unanswerables pushed refusals
/// onto answerable questions), bAbI-1 enough to learn it from a base model
/// (at 0.5 of the notes' share it stayed near 0.58 exact match, at 1.5 it
/// reached 0.735, at 3 0.995: README, "Chat stage length").
///
/// The weights are for the reference preset's 4,500 steps of 32 windows, four
/// times the tokens of the 8-window stage they were first tuned on: each
/// set's weight is four times that stage's, except the notes, whose 160,000
/// texts (four times as many) are each seen once, and FairytaleQA, at 16 times
/// (its human-written questions about real stories). Measured against the
/// 8-window stage from the same base (README, "Chat stage size"): more
/// grounded answers and stories on the subject, bAbI-1 the same, text quality
/// as an outsider measures it within 0.001 bits per byte of the base.
fn chat_mix() -> Vec<ChatSet> {
    [
        ("notes", 1.0),
        ("rc", 1.6),
        ("stories", 3.2),
        ("babi-task1", 12.0),
        ("babi-task2", 0.2),
        ("babi-task6", 0.2),
        ("babi-task11", 0.2),
        ("fairytaleqa", 4.0),
        ("identity", 4.0),
        ("chatterbot", 0.8),
        ("topical-chat", 0.12),
        ("taskmaster4", 0.08),
    ]
    .into_iter()
    .map(|(name, weight)| ChatSet { name: name.into(), weight })
    .collect()
}

impl SpeedrunConfig {
    /// A named preset. `tiny` runs the whole pipeline in minutes on two cores
    /// (what CI runs; its model is weak). `reference` is the bench's 5.8M-
    /// parameter model on 20M tokens, then 4,500 chat steps of 32 windows: on a
    /// 2-core AVX-512 Xeon about two hours of pretraining and eight of chat
    /// (6.6 s a step), or 3.4 minutes of chat with `--engine torch --device
    /// cuda` on one H200 (README, "Chat stage size"). `small` (15.7M
    /// parameters) is the same recipe on 2.7x the parameters: about 2.3x the
    /// time (1,080 pretraining tokens/s on a 2-core AVX2 EPYC: five hours).
    pub fn preset(name: &str) -> Option<SpeedrunConfig> {
        let tiny = SpeedrunConfig {
            preset: "tiny".into(),
            recipe: None,
            out: PathBuf::from("runs/speedrun"),
            vocab_size: 4096,
            shard_tokens: 100_000_000,
            blank_line_share: 0.0,
            shared: PathBuf::from("../shared/data"),
            precision: crate::model::Precision::Auto,
            pretrain: PretrainStage {
                model: "tiny".into(),
                tokens: 2_000_000,
                batch: 16,
                seq_len: 256,
                lr: 2e-3,
                warmup_steps: 30,
                eval_every: 100,
                best_on: Some("tinystories".into()),
                mid: None,
            },
            sft: SftStage {
                steps: 150,
                batch: 8,
                seq_len: 256,
                lr: 1e-3,
                warmup_steps: 10,
                eval_every: 50,
                pretrain_fraction: 0.1,
                decay_to_base: 0.0,
                sets: chat_mix(),
            },
            retrieval: RetrievalStage { questions: 200, k: 3, embeddings: false },
            eval: EvalStage {
                qa_sets: vec!["babi-task1".into(), "fairytaleqa".into()],
                qa_limit: 50,
                max_tokens: 32,
                samples: 10,
                story_tries: 1,
            },
            export: ExportStage { name: None, dtype: "f32".into(), gguf_types: vec!["f32".into(), "q8_0".into()] },
        };
        let reference = SpeedrunConfig {
            preset: "reference".into(),
            out: PathBuf::from("runs/speedrun-reference"),
            // The ablation's settings (`fledge ablate`), so that its
            // default-recipe run is this preset's pretraining.
            pretrain: PretrainStage {
                model: "reference".into(),
                tokens: 20_000_000,
                lr: 1e-3,
                warmup_steps: 50,
                eval_every: 250,
                ..tiny.pretrain.clone()
            },
            // 4,500 steps of 32 windows, one pass over the weighted mix: 1,500
            // steps of 8 answered a third of what 4,500 did (README, "Chat stage
            // length"), and 32 windows answered more than 8 (README, "Chat stage size").
            sft: SftStage {
                steps: 4500,
                batch: 32,
                seq_len: 512,
                lr: 6e-4,
                warmup_steps: 20,
                eval_every: 500,
                ..tiny.sft.clone()
            },
            retrieval: RetrievalStage { questions: 0, ..tiny.retrieval.clone() },
            eval: EvalStage { qa_limit: 200, story_tries: crate::chat::tries::STORY_TRIES, ..tiny.eval.clone() },
            // The name of the model shipped in models/ (see `crate::SHIPPED_MODEL`).
            // f32 weights for fledge and transformers, Q8_0 for llama.cpp:
            // about 30 MB in git.
            export: ExportStage {
                name: Some("fledge-6m-chat".into()),
                gguf_types: vec!["q8_0".into()],
                ..tiny.export.clone()
            },
            ..tiny.clone()
        };
        Some(match name {
            "tiny" => tiny,
            "small" => SpeedrunConfig {
                preset: "small".into(),
                out: PathBuf::from("runs/speedrun-small"),
                // The reference's token budget, schedule and chat stage on
                // 2.7x the parameters, so that the two sizes compare at equal data.
                pretrain: PretrainStage { model: "small".into(), ..reference.pretrain },
                export: ExportStage { name: Some("fledge-16m-chat".into()), ..reference.export },
                ..reference
            },
            "reference" => reference,
            _ => return None,
        })
    }

    /// Reads a TOML file over its `preset` (tiny when it names none); its
    /// relative paths are taken from the file's folder.
    pub fn load(path: &Path) -> Result<Self, SpeedrunError> {
        let err = |message: String| SpeedrunError::Config { path: path.to_path_buf(), message };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let table: toml::Table = toml::from_str(&text).map_err(|e| err(e.to_string()))?;
        let preset = match table.get("preset") {
            None => "tiny",
            Some(toml::Value::String(p)) => p.as_str(),
            Some(_) => return Err(err("preset: expected a name in quotes, like \"tiny\"".into())),
        };
        let base = SpeedrunConfig::preset(preset)
            .ok_or_else(|| err(format!("preset {preset:?} is not one of {PRESETS:?}")))?;
        let mut merged = toml::Table::try_from(&base).map_err(|e| err(e.to_string()))?;
        overlay(&mut merged, table.clone());
        let mut config: SpeedrunConfig = merged.try_into().map_err(|e: toml::de::Error| err(e.to_string()))?;
        let folder = path.parent().unwrap_or(Path::new("."));
        if let Some(r) = &config.recipe {
            if r.is_relative() {
                config.recipe = Some(folder.join(r));
            }
        }
        for (key, field) in [("out", &mut config.out), ("shared", &mut config.shared)] {
            if table.contains_key(key) && field.is_relative() {
                *field = folder.join(&*field);
            }
        }
        config.check().map_err(err)?;
        Ok(config)
    }

    /// Settings that cannot work, found before any stage runs.
    pub fn check(&self) -> Result<(), String> {
        if self.vocab_size < crate::tokenizer::MIN_VOCAB {
            return Err(format!(
                "vocab_size {} is below the minimum of {}",
                self.vocab_size,
                crate::tokenizer::MIN_VOCAB
            ));
        }
        crate::model::ModelConfig::preset(&self.pretrain.model, self.vocab_size)
            .map_err(|e| format!("pretrain.model: {e}"))?;
        if self.pretrain.tokens == 0 || self.pretrain.batch == 0 || self.pretrain.seq_len == 0 {
            return Err("pretrain: tokens, batch and seq_len must be above zero".into());
        }
        if !(0.0..=1.0).contains(&self.blank_line_share) {
            return Err(format!("blank_line_share: {} is not a share from 0 to 1", self.blank_line_share));
        }
        // The chat stage's schedule (lr, steps, the pull toward the base) is
        // checked by the trainer's own rules now, not hours later when it starts.
        self.sft_settings(PathBuf::new()).train_settings().validate().map_err(|e| format!("sft: {e}"))?;
        if self.sft.sets.iter().all(|s| s.weight <= 0.0) {
            return Err("sft.sets: every weight is zero; give at least one set a weight above zero".into());
        }
        if self.eval.story_tries == 0 {
            return Err("eval.story_tries: 0 tries tells no story; give 1 (one sample) or more".into());
        }
        for t in &self.export.gguf_types {
            if crate::export::gguf::GgufType::parse(t).is_none() {
                return Err(format!("export.gguf_types: {t:?} is not f32, f16 or q8_0"));
            }
        }
        if !matches!(self.export.dtype.as_str(), "f32" | "bf16") {
            return Err(format!("export.dtype: {:?} is not f32 or bf16", self.export.dtype));
        }
        Ok(())
    }

    /// The pretraining settings this config trains with (`fledge ablate` uses
    /// them too, so its runs and a speedrun's are the same run).
    pub fn pretrain_settings(&self, has_best_on_set: bool) -> TrainSettings {
        let p = &self.pretrain;
        TrainSettings {
            preset: p.model.clone(),
            data: self.out.join("shards"),
            tokenizer: self.out.join("tokenizer/tokenizer.json"),
            out: self.out.join("train"),
            batch: p.batch,
            seq_len: p.seq_len,
            steps: p.tokens.div_ceil((p.batch * p.seq_len) as u64),
            lr: p.lr,
            warmup_steps: p.warmup_steps,
            eval_every: p.eval_every,
            checkpoint_every: p.eval_every,
            best_on: if has_best_on_set { p.best_on.clone() } else { None },
            mid: p.mid.as_ref().map(|m| crate::train::mid::MidSettings {
                start: m.start,
                chat_fraction: m.chat_fraction,
                sources: m
                    .sets
                    .iter()
                    .filter(|c| c.weight > 0.0)
                    .map(|c| SftSource { path: self.out.join("chat").join(&c.name), weight: c.weight })
                    .collect(),
            }),
            precision: self.precision,
            ..TrainSettings::default()
        }
    }

    fn sft_settings(&self, base: PathBuf) -> SftSettings {
        let s = &self.sft;
        SftSettings {
            base,
            out: self.out.join("sft"),
            sources: s
                .sets
                .iter()
                .filter(|c| c.weight > 0.0)
                .map(|c| SftSource { path: self.out.join("chat").join(&c.name), weight: c.weight })
                .collect(),
            pretrain: (s.pretrain_fraction > 0.0).then(|| self.out.join("shards")),
            pretrain_fraction: s.pretrain_fraction,
            decay_to_base: s.decay_to_base,
            steps: s.steps,
            batch: s.batch,
            seq_len: s.seq_len,
            lr: s.lr,
            warmup_steps: s.warmup_steps,
            eval_every: s.eval_every,
            checkpoint_every: s.eval_every,
            precision: self.precision,
            ..SftSettings::default()
        }
    }

    /// The exported model's name.
    pub fn model_name(&self) -> String {
        self.export.name.clone().unwrap_or_else(|| format!("fledge-{}", self.preset))
    }
}

/// Puts `top`'s keys over `base`'s, table by table.
fn overlay(base: &mut toml::Table, top: toml::Table) {
    for (key, value) in top {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(t)) => overlay(b, t),
            (_, v) => {
                base.insert(key, v);
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SpeedrunError {
    #[error("config {path}: {message}")]
    Config { path: PathBuf, message: String },
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Tokenizer(#[from] crate::tokenizer::TokenizerError),
    #[error(transparent)]
    Train(#[from] TrainError),
    #[error(transparent)]
    Checkpoint(#[from] checkpoint::CheckpointError),
    #[error(transparent)]
    Rag(#[from] crate::rag::RagError),
    #[error(transparent)]
    Export(#[from] crate::export::ExportError),
    #[error("chat data: {0}")]
    Convert(#[from] crate::chat::convert::ConvertError),
    #[error("{stage}: {message}")]
    Stage { stage: Stage, message: String },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> SpeedrunError + '_ {
    move |source| SpeedrunError::Io { path: path.to_path_buf(), source }
}

/// The stages, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    Corpus,
    Tokenizer,
    Shards,
    ChatData,
    Pretrain,
    Sft,
    Retrieval,
    Eval,
    Export,
    Report,
}

impl Stage {
    pub const ALL: [Stage; 10] = [
        Stage::Corpus,
        Stage::Tokenizer,
        Stage::Shards,
        Stage::ChatData,
        Stage::Pretrain,
        Stage::Sft,
        Stage::Retrieval,
        Stage::Eval,
        Stage::Export,
        Stage::Report,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Stage::Corpus => "corpus",
            Stage::Tokenizer => "tokenizer",
            Stage::Shards => "shards",
            Stage::Pretrain => "pretrain",
            Stage::ChatData => "chat-data",
            Stage::Sft => "sft",
            Stage::Retrieval => "retrieval",
            Stage::Eval => "eval",
            Stage::Export => "export",
            Stage::Report => "report",
        }
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What one stage did: how long it took (the first time, when it was
/// reused), and its figures for the report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StageRecord {
    pub stage: Stage,
    pub seconds: f64,
    /// Its outputs were already there and valid; `seconds` is from the run that made them.
    pub reused: bool,
    /// One line for the summary table.
    pub summary: String,
    pub figures: serde_json::Value,
}

/// A stage record saved with what it was made from (`stages/{stage}.json`):
/// the stage is skipped while its key stays the same.
#[derive(Serialize, Deserialize)]
struct Saved {
    key: serde_json::Value,
    record: StageRecord,
}

fn saved_path(out: &Path, stage: Stage) -> PathBuf {
    out.join("stages").join(format!("{}.json", stage.name()))
}

fn load_saved(out: &Path, stage: Stage, key: &serde_json::Value) -> Option<StageRecord> {
    let text = std::fs::read_to_string(saved_path(out, stage)).ok()?;
    let saved: Saved = serde_json::from_str(&text).ok()?;
    (saved.key == *key).then_some(StageRecord { reused: true, ..saved.record })
}

fn save(out: &Path, key: serde_json::Value, record: &StageRecord) -> Result<(), SpeedrunError> {
    let path = saved_path(out, record.stage);
    let text = serde_json::to_string_pretty(&Saved { key, record: record.clone() }).expect("records serialize");
    crate::fsutil::write_atomic(&path, text.as_bytes()).map_err(io_err(&path))
}

/// The project's own recipe over ../shared/data when it is there, otherwise
/// the small sample shipped in `assets/sample` so a fresh clone still runs.
/// Both come from the checkout ([`crate::project_file`]: the current folder's,
/// else the one holding the binary), since the recipes name their data by
/// paths relative to themselves; `None` outside any checkout.
pub fn default_recipe() -> Option<PathBuf> {
    let sample = crate::project_file(Path::new("recipes/sample.toml"))?;
    let recipes = sample.parent()?;
    let default = recipes.join("default.toml");
    let shared = recipes.parent()?.join("../shared/data/pretrain");
    Some(if default.is_file() && shared.is_dir() { default } else { sample })
}

/// What the data stages made.
pub struct Prepared {
    pub records: Vec<StageRecord>,
    pub headers: Vec<SplitHeader>,
}

/// Corpus, tokenizer and shards; each reuses its earlier outputs when what
/// they were made from is unchanged.
/// Stops after `last` when it is one of them (`speedrun --until corpus`).
pub fn data_stages(
    config: &SpeedrunConfig,
    last: Stage,
    progress: &mut dyn FnMut(Stage),
) -> Result<Prepared, SpeedrunError> {
    let recipe_path = match &config.recipe {
        Some(r) => r.clone(),
        None => default_recipe().ok_or_else(|| SpeedrunError::Stage {
            stage: Stage::Corpus,
            message: "no --recipe given, and no fledge checkout (with recipes/) in the current folder or around the \
                      fledge binary; run from the checkout or pass --recipe FILE"
                .into(),
        })?,
    };
    let mut records = Vec::new();

    progress(Stage::Corpus);
    let t = Instant::now();
    let recipe = Recipe::load(&recipe_path)?;
    let data_dir = config.out.join("data");
    let corpus = prepare::prepare(&recipe, &data_dir)?;
    let kept = corpus.train_bytes + corpus.val_bytes;
    records.push(StageRecord {
        stage: Stage::Corpus,
        // A reused corpus reports the time it took to make.
        seconds: if corpus.reused { corpus.seconds } else { t.elapsed().as_secs_f64() },
        reused: corpus.reused,
        summary: format!(
            "{} sources from `{}`, {:.1} MB kept",
            corpus.sources.len(),
            recipe_path.display(),
            kept as f64 / 1e6
        ),
        figures: serde_json::json!({ "recipe": recipe_path, "markdown": prepare::render_report(&corpus) }),
    });
    if last == Stage::Corpus {
        return Ok(Prepared { records, headers: Vec::new() });
    }

    progress(Stage::Tokenizer);
    let t = Instant::now();
    let tokenizer_path = config.out.join("tokenizer/tokenizer.json");
    // The corpus is the one the tokenizer was trained on: keep it.
    let earlier = corpus
        .reused
        .then(|| Tokenizer::load(&tokenizer_path).ok())
        .flatten()
        .filter(|t| t.vocab_size() == config.vocab_size);
    let reused = earlier.is_some();
    let tokenizer = match earlier {
        Some(t) => t,
        None => {
            let mut texts = Vec::new();
            read::read_source(&data_dir.join("train.jsonl"), &ReadOptions::default(), |d| texts.push(d.text))?;
            let tokenizer = Tokenizer::train(texts.iter(), config.vocab_size, true)?;
            tokenizer.save(&tokenizer_path)?;
            tokenizer
        }
    };
    records.push(StageRecord {
        stage: Stage::Tokenizer,
        seconds: t.elapsed().as_secs_f64(),
        reused,
        summary: format!("byte-level BPE, {} tokens, hash `{}`", tokenizer.vocab_size(), &tokenizer.hash()[..12]),
        figures: serde_json::json!({ "vocab_size": tokenizer.vocab_size(), "hash": tokenizer.hash(), "path": tokenizer_path }),
    });
    if last == Stage::Tokenizer {
        return Ok(Prepared { records, headers: Vec::new() });
    }

    progress(Stage::Shards);
    let t = Instant::now();
    let shard_dir = config.out.join("shards");
    let before = shards::TokenShards::open(&shard_dir, "train").ok().map(|s| s.header.input);
    let headers =
        shards::tokenize_corpus(&data_dir, &tokenizer, &shard_dir, config.shard_tokens, config.blank_line_share)?;
    let reused = before.is_some_and(|b| headers.iter().all(|h| h.input == b));
    let seconds = t.elapsed().as_secs_f64();
    let tokens: u64 = headers.iter().map(|h| h.tokens).sum();
    let bytes: u64 = headers.iter().map(|h| h.bytes).sum();
    let splits: Vec<_> = headers
        .iter()
        .map(|h| {
            serde_json::json!({ "split": h.split, "documents": h.documents, "bytes": h.bytes, "tokens": h.tokens,
                "bytes_per_token": h.bytes_per_token(), "sets": h.sets.keys().collect::<Vec<_>>(),
                "joined_by_blank_line": h.joined_by_blank_line })
        })
        .collect();
    records.push(StageRecord {
        stage: Stage::Shards,
        seconds,
        reused,
        summary: format!(
            "{:.1}M tokens, {:.2} bytes/token{}",
            tokens as f64 / 1e6,
            bytes as f64 / tokens.max(1) as f64,
            if reused { String::new() } else { format!(", {:.0} tokens/s", tokens as f64 / seconds.max(1e-9)) }
        ),
        figures: serde_json::json!({ "splits": splits }),
    });
    Ok(Prepared { records, headers })
}

/// Where a training stage's run folder stands against the settings asked for.
enum RunState {
    /// Finished with these settings.
    Done,
    /// Nothing yet, or stopped part way with these settings: resume.
    Resume,
}

/// Normalizes settings through their own type, so that a record read back
/// from JSON compares equal to the settings it was made from (f32 fields
/// print shorter than they widen).
fn normalized<T: Serialize + serde::de::DeserializeOwned>(value: serde_json::Value) -> Option<serde_json::Value> {
    serde_json::from_value::<T>(value).ok().and_then(|t| serde_json::to_value(t).ok())
}

/// Checks `dir` against `settings`: a run made with other settings is moved
/// aside to `{dir}.replaced-{time}` (kept, not deleted) so that this one
/// starts clean instead of resuming into the wrong schedule.
fn run_state<T: Serialize + serde::de::DeserializeOwned>(
    dir: &Path,
    settings: &T,
    steps: u64,
    strip: &[&str],
) -> Result<RunState, SpeedrunError> {
    let Some(latest) = checkpoint::latest(dir)? else { return Ok(RunState::Resume) };
    let state = checkpoint::load_state(&latest)?;
    // The products' precision is how fast, not what, a run trains (like the
    // machine it runs on): a run continues in another precision, and runs
    // recorded before the setting existed still count as done.
    let without_precision = |mut v: serde_json::Value| {
        if let Some(map) = v.as_object_mut() {
            map.remove("precision");
        }
        v
    };
    let wanted = without_precision(serde_json::to_value(settings).expect("settings serialize"));
    let same = state.as_ref().is_some_and(|s| {
        let mut saved = s.settings.clone();
        if let Some(map) = saved.as_object_mut() {
            for key in strip {
                map.remove(*key);
            }
        }
        normalized::<T>(saved).map(without_precision).is_some_and(|v| v == wanted)
    });
    match state {
        Some(state) if same && state.step >= steps => Ok(RunState::Done),
        Some(_) if same => Ok(RunState::Resume),
        _ => {
            let stamp =
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
            let aside = dir.with_extension(format!("replaced-{stamp}"));
            tracing::warn!(
                "{} was trained with other settings; moving it to {} and training again",
                dir.display(),
                aside.display()
            );
            std::fs::rename(dir, &aside).map_err(io_err(dir))?;
            Ok(RunState::Resume)
        }
    }
}

/// Runs every stage up to `until` (all when `None`); returns the report,
/// also written to `report.md` and `report.json`. Ctrl-C (`stop`) ends a
/// training stage at a checkpoint and the run there; the same command resumes.
/// Pretraining and fine-tuning are computed by PyTorch when `torch` is given
/// (see [`crate::train::torch`]); everything else is the same.
pub fn run(
    config: &SpeedrunConfig,
    until: Option<Stage>,
    stop: Arc<AtomicBool>,
    torch: Option<TorchOptions>,
) -> Result<Report, SpeedrunError> {
    config.check().map_err(|message| SpeedrunError::Stage { stage: Stage::Corpus, message })?;
    if let Some(options) = &torch {
        // Before the data stages: a missing torch is found in a second, not after them.
        options.check()?;
    }
    let started = Instant::now();
    let last = until.unwrap_or(Stage::Report);
    let total = Stage::ALL.iter().filter(|s| **s <= last).count();
    let progress = |stage: Stage| {
        let n = Stage::ALL.iter().position(|s| *s == stage).unwrap_or(0) + 1;
        eprintln!("[{n}/{total}] {stage} (speedrun {:.0} s so far)", started.elapsed().as_secs_f64());
    };
    tracing::info!(preset = %config.preset, out = %config.out.display(), "speedrun");
    let mut report = Report::new(config);
    let data = data_stages(config, last, &mut |s| progress(s))?;
    report.records.extend(data.records);
    let stopped = |report: &mut Report| -> Result<Report, SpeedrunError> {
        report.finish(started.elapsed().as_secs_f64());
        report.write(&config.out)?;
        Ok(report.clone())
    };
    if last <= Stage::Shards {
        return stopped(&mut report);
    }

    // Conversations for mid-training, fine-tuning and evaluation.
    progress(Stage::ChatData);
    let record = eval::chat_data(config)?;
    report.records.push(record);
    if last <= Stage::ChatData {
        return stopped(&mut report);
    }

    // Pretraining.
    progress(Stage::Pretrain);
    let has_set = |name: &str| data.headers.iter().any(|h| h.split == "val" && h.sets.contains_key(name));
    let settings = config.pretrain_settings(config.pretrain.best_on.as_deref().is_some_and(has_set));
    let t = Instant::now();
    let summary = match run_state(&settings.out, &settings, settings.steps, &[])? {
        RunState::Done => None,
        RunState::Resume => Some(crate::train::run::train_with(&settings, true, stop.clone(), torch.clone())?),
    };
    if summary.as_ref().is_some_and(|s| s.interrupted) || stop.load(Ordering::Relaxed) {
        return stopped(&mut report);
    }
    report.records.push(eval::training_record(
        Stage::Pretrain,
        &settings.out,
        t.elapsed().as_secs_f64(),
        summary.is_none(),
    )?);
    if last <= Stage::Pretrain {
        return stopped(&mut report);
    }
    let base = if settings.keep_best && settings.out.join("best/model.safetensors").exists() {
        settings.out.join("best")
    } else {
        checkpoint::resolve(&settings.out)?
    };

    progress(Stage::Sft);
    let sft = config.sft_settings(base.clone());
    let t = Instant::now();
    let summary = match run_state(&sft.out, &sft, sft.steps, &["base_checkpoint"])? {
        RunState::Done => None,
        RunState::Resume => Some(crate::chat::sft::sft_with(&sft, true, stop.clone(), torch.clone())?),
    };
    if summary.as_ref().is_some_and(|s| s.interrupted) || stop.load(Ordering::Relaxed) {
        return stopped(&mut report);
    }
    report.records.push(eval::training_record(Stage::Sft, &sft.out, t.elapsed().as_secs_f64(), summary.is_none())?);
    let chat_model = checkpoint::resolve(&sft.out)?;
    if last <= Stage::Sft {
        return stopped(&mut report);
    }

    let models = eval::Models { base: base.clone(), chat: chat_model.clone() };
    for stage in [Stage::Retrieval, Stage::Eval, Stage::Export] {
        if stage > last {
            break;
        }
        progress(stage);
        let key = serde_json::json!({
            "config": match stage {
                Stage::Retrieval => serde_json::to_value(&config.retrieval),
                Stage::Eval => serde_json::to_value(&config.eval),
                _ => serde_json::to_value(&config.export),
            }.expect("settings serialize"),
            "models": models.key()?,
            "qa_limit": config.eval.qa_limit,
        });
        let record = match load_saved(&config.out, stage, &key) {
            Some(r) => r,
            None => {
                let t = Instant::now();
                let mut record = match stage {
                    Stage::Retrieval => eval::retrieval(config, &models)?,
                    Stage::Eval => eval::evaluate(config, &models)?,
                    _ => eval::export(config, &models, &report)?,
                };
                record.seconds = t.elapsed().as_secs_f64();
                save(&config.out, key, &record)?;
                record
            }
        };
        report.records.push(record);
    }
    if last >= Stage::Report {
        progress(Stage::Report);
    }
    stopped(&mut report)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// recipes/sft.toml is the speedrun's chat stage written out for `fledge
    /// sft`: the same sets, weights and schedule, so that the two never drift.
    #[test]
    fn the_sft_recipe_is_the_speedrun_chat_stage() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("recipes/sft.toml");
        let recipe: toml::Table = toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let sft = SpeedrunConfig::preset("reference").unwrap().sft;
        let number = |key: &str| recipe[key].as_float().or(recipe[key].as_integer().map(|i| i as f64)).unwrap();
        assert_eq!(number("steps"), sft.steps as f64);
        assert_eq!(number("seq_len"), sft.seq_len as f64);
        assert_eq!(number("batch"), sft.batch as f64);
        assert!((number("lr") - sft.lr as f64).abs() < 1e-9);
        assert!((number("pretrain_fraction") - sft.pretrain_fraction as f64).abs() < 1e-6);
        let sources: Vec<(String, f64)> = recipe["source"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                let path = s["path"].as_str().unwrap();
                (path.rsplit('/').next().unwrap().to_string(), s["weight"].as_float().unwrap())
            })
            .collect();
        let mix: Vec<(String, f64)> = sft.sets.iter().map(|c| (c.name.clone(), c.weight as f64)).collect();
        assert_eq!(sources.len(), mix.len());
        for ((a, wa), (b, wb)) in sources.iter().zip(&mix) {
            assert_eq!(a, b);
            assert!((wa - wb).abs() < 1e-6, "{a}: {wa} in the recipe, {wb} in chat_mix");
        }
    }

    #[test]
    fn every_preset_is_valid_and_a_file_changes_only_what_it_names() {
        for p in PRESETS {
            SpeedrunConfig::preset(p).unwrap().check().unwrap();
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.toml");
        std::fs::write(&path, "preset = \"reference\"\nout = \"o\"\n[sft]\nsteps = 7\n").unwrap();
        let c = SpeedrunConfig::load(&path).unwrap();
        let reference = SpeedrunConfig::preset("reference").unwrap();
        assert_eq!(c.sft.steps, 7);
        assert_eq!(c.sft.seq_len, reference.sft.seq_len, "the rest of [sft] stays the preset's");
        assert_eq!(c.pretrain.tokens, reference.pretrain.tokens);
        assert_eq!(c.out, dir.path().join("o"), "paths are relative to the file");
        assert_eq!(c.sft_settings(PathBuf::from("b")).decay_to_base, 0.0, "no pull unless asked");
        std::fs::write(&path, "preset = \"reference\"\n[sft]\ndecay_to_base = 1.0\n").unwrap();
        let c = SpeedrunConfig::load(&path).unwrap();
        assert_eq!(c.sft_settings(PathBuf::from("b")).decay_to_base, 1.0, "the pull reaches the chat stage");
        std::fs::write(&path, "preset = \"reference\"\n[sft]\ndecay_to_base = -1.0\n").unwrap();
        let e = SpeedrunConfig::load(&path).unwrap_err().to_string();
        assert!(e.contains("run.toml") && e.contains("decay_to_base"), "a bad pull is refused before any stage: {e}");
        std::fs::write(&path, "[sft]\nsets = [{ name = \"identity\", weight = 0.0 }]\n").unwrap();
        let e = SpeedrunConfig::load(&path).unwrap_err().to_string();
        assert!(e.contains("run.toml") && e.contains("sft.sets"), "{e}");
    }

    /// The configurations shipped in configs/ are what users copy: each must load
    /// over its preset and pass the checks a run makes before its first stage.
    #[test]
    fn every_shipped_config_loads() {
        let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs");
        let mut loaded = 0;
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                let config = SpeedrunConfig::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                if path.ends_with("speedrun-reference-mid.toml") {
                    let mid = config.pretrain.mid.as_ref().expect("the mid arm has [pretrain.mid]");
                    assert!(mid.sets.iter().any(|s| s.name == "notes"), "its phase mixes in the chat stage's notes");
                    assert_eq!(config.pretrain.tokens, SpeedrunConfig::preset("reference").unwrap().pretrain.tokens);
                }
                loaded += 1;
            }
        }
        assert!(loaded >= 2, "configs/ holds speedrun.toml and speedrun-reference-mid.toml");
    }

    #[test]
    fn a_run_made_with_other_settings_is_moved_aside_not_resumed() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("train");
        let settings = TrainSettings { out: run.clone(), steps: 10, ..TrainSettings::default() };
        assert!(matches!(run_state(&run, &settings, 10, &[]).unwrap(), RunState::Resume), "nothing there yet");

        let config = crate::model::ModelConfig::preset("tiny", 300).unwrap();
        let layout = crate::model::params::ParamLayout::new(&config);
        let params = vec![0.0; layout.total];
        let tok = Tokenizer::train(["a small text to learn from, a small text"].into_iter(), 300, false).unwrap();
        let save = |step: u64, settings: &TrainSettings| {
            let dir = run.join(format!("step-{step:06}"));
            checkpoint::save_weights(&dir, &config, &layout, &params, &tok, false, &[]).unwrap();
            let state = checkpoint::TrainState {
                step,
                settings: serde_json::to_value(settings).unwrap(),
                ..Default::default()
            };
            std::fs::write(dir.join("state.json"), serde_json::to_string(&state).unwrap()).unwrap();
            checkpoint::set_latest(&run, &dir).unwrap();
        };
        save(5, &settings);
        assert!(matches!(run_state(&run, &settings, 10, &[]).unwrap(), RunState::Resume), "part way: resume");
        save(10, &settings);
        assert!(matches!(run_state(&run, &settings, 10, &[]).unwrap(), RunState::Done), "finished");

        let other = TrainSettings { lr: 5e-4, ..settings.clone() };
        assert!(matches!(run_state(&run, &other, 10, &[]).unwrap(), RunState::Resume));
        assert!(!run.exists(), "the old run no longer sits where the new one trains");
        let kept: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().map(|e| e.file_name()).collect();
        assert!(kept.iter().any(|n| n.to_string_lossy().starts_with("train.replaced-")), "{kept:?}");
    }
}
