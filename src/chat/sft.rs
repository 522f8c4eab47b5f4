//! `fledge sft`: supervised fine-tuning of a base checkpoint into a chat model.
//!
//! The data side of fine-tuning; the loop itself (schedule, checkpoints,
//! resume, metrics) is pretraining's [`run_loop`].
//!
//! - Every conversation is rendered by [`render_tokens`], the renderer the
//!   REPL and the server use, and only the assistant's tokens carry loss.
//! - Conversations longer than a window are cut after the last assistant
//!   message that fits, or dropped when not even the first answer fits;
//!   both are counted and reported.
//! - Sources are mixed by weight: each pass over the data holds every
//!   conversation of a source `weight` times on average (0.5: a random half).
//! - Short conversations are packed into windows of `seq_len` tokens, with
//!   attention confined to each conversation (see
//!   [`crate::model::Engine::set_segments`]), so a packed conversation is
//!   computed exactly as if it were alone. `pack = false` puts one
//!   conversation per window and pads the rest; `sft-data.json` reports how
//!   many positions each way fills, which at the same step time is the ratio
//!   of useful tokens per second.
//! - A fraction of windows are plain pretraining text (all tokens carry
//!   loss), so the model keeps its language while it learns the format.
//!
//! Every micro-batch is a pure function of the seed and its index (the plan
//! of all windows is rebuilt identically at start), which is what makes
//! `--resume` exact.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::template::{read_jsonl, render_tokens, Message, Rendered, Role};
use crate::data::shards::{Batch, BatchLoader, TokenShards};
use crate::model::kernels::IGNORE;
use crate::model::ModelConfig;
use crate::tokenizer::Tokenizer;
use crate::train::run::Schedule;
use crate::train::run::{run_loop, BatchSource, Evaluation, Run, RunSummary, Scorer, TrainError, TrainSettings};
use crate::train::torch::TorchOptions;

/// One conversation source of the mix.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SftSource {
    /// A folder with `train.jsonl` (and `val.jsonl`), as `fledge data chat`
    /// writes them, or one JSONL file (then it has no validation part).
    pub path: PathBuf,
    #[serde(default = "one")]
    pub weight: f32,
}

fn one() -> f32 {
    1.0
}

/// Everything a fine-tuning run is configured by (TOML keys and flags).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SftSettings {
    /// The base checkpoint (a checkpoint folder, or a run folder's latest).
    pub base: PathBuf,
    pub out: PathBuf,
    #[serde(rename = "source")]
    pub sources: Vec<SftSource>,
    /// Token shards of pretraining text to mix in (`fledge data tokenize`).
    pub pretrain: Option<PathBuf>,
    /// Fraction of windows that are pretraining text.
    pub pretrain_fraction: f32,
    /// Share of those pretraining windows in which a span comes again later
    /// (see [`crate::train::run::repeat_a_span`]): copy targets for a model
    /// that has not learned to copy (0: none).
    pub repeat_fraction: f32,
    /// Pack several conversations per window (attention kept within each).
    pub pack: bool,
    /// Window length; may exceed the base model's `max_seq_len` (rotary
    /// positions extend, and fine-tuning at the new length teaches them).
    pub seq_len: usize,
    pub batch: usize,
    pub grad_accum: usize,
    pub steps: u64,
    pub lr: f32,
    pub min_lr_ratio: f32,
    pub warmup_steps: u64,
    pub weight_decay: f32,
    /// Pull toward the base model's weights each step (L2-SP in AdamW's
    /// decoupled form: `lr × decay_to_base` of the way back); 0: none.
    pub decay_to_base: f32,
    pub clip: f32,
    pub seed: u64,
    pub eval_every: u64,
    pub checkpoint_every: u64,
    pub keep_checkpoints: usize,
    pub log_every: u64,
    /// Validation conversations taken from each source's `val.jsonl`.
    pub val_per_source: usize,
    /// Skip malformed JSONL lines (counted) instead of stopping at the first.
    pub skip_bad: bool,
    /// The matrix products' precision (see [`TrainSettings::precision`];
    /// library default `f32`, CLI default `auto`).
    pub precision: crate::model::Precision,
}

impl Default for SftSettings {
    fn default() -> Self {
        Self {
            base: PathBuf::from("runs/train"),
            out: PathBuf::from("runs/sft"),
            sources: Vec::new(),
            pretrain: None,
            pretrain_fraction: 0.1,
            repeat_fraction: 0.0,
            pack: true,
            seq_len: 512,
            batch: 8,
            grad_accum: 1,
            steps: 1000,
            lr: 5e-4,
            min_lr_ratio: 0.1,
            warmup_steps: 30,
            weight_decay: 0.0,
            decay_to_base: 0.0,
            clip: 1.0,
            seed: 1234,
            eval_every: 100,
            checkpoint_every: 100,
            keep_checkpoints: 2,
            log_every: 10,
            val_per_source: 100,
            skip_bad: false,
            precision: crate::model::Precision::F32,
        }
    }
}

impl SftSettings {
    /// Reads a TOML recipe; relative paths in it are taken from the file's folder.
    pub fn load(path: &Path) -> Result<Self, TrainError> {
        let text = std::fs::read_to_string(path).map_err(|e| TrainError::Io { path: path.into(), source: e })?;
        let mut s: SftSettings =
            toml::from_str(&text).map_err(|e| TrainError::Settings(format!("{}: {e}", path.display())))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let table: toml::Table = toml::from_str(&text).unwrap_or_default();
        let rebase = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = dir.join(&*p);
            }
        };
        for key in ["base", "out"] {
            if table.contains_key(key) {
                rebase(if key == "base" { &mut s.base } else { &mut s.out });
            }
        }
        if let Some(p) = &mut s.pretrain {
            rebase(p);
        }
        for src in &mut s.sources {
            rebase(&mut src.path);
        }
        Ok(s)
    }

    pub(crate) fn train_settings(&self) -> TrainSettings {
        TrainSettings {
            out: self.out.clone(),
            batch: self.batch,
            seq_len: self.seq_len,
            grad_accum: self.grad_accum,
            steps: self.steps,
            lr: self.lr,
            min_lr_ratio: self.min_lr_ratio,
            warmup_steps: self.warmup_steps,
            schedule: Schedule::Cosine,
            weight_decay: self.weight_decay,
            decay_to_init: self.decay_to_base,
            clip: self.clip,
            seed: self.seed,
            eval_every: self.eval_every,
            checkpoint_every: self.checkpoint_every,
            keep_checkpoints: self.keep_checkpoints,
            log_every: self.log_every,
            sample_prompt: String::new(),
            precision: self.precision,
            ..TrainSettings::default()
        }
    }
}

/// A rendered conversation and where it came from.
struct Item {
    source: usize,
    rendered: Rendered,
}

/// What loading one source found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SourceStats {
    pub path: PathBuf,
    pub weight: f32,
    pub conversations: usize,
    pub malformed_skipped: usize,
    /// Cut after the last assistant message that fits the window.
    pub truncated: usize,
    /// Longer than a window before their first answer ends.
    pub dropped: usize,
    pub tokens: u64,
    pub trained_tokens: u64,
    pub val_conversations: usize,
}

/// The data report written as `sft-data.json`.
#[derive(Debug, Clone, Serialize)]
pub struct DataReport {
    pub sources: Vec<SourceStats>,
    pub pack: bool,
    pub windows: usize,
    pub pretrain_windows: usize,
    /// Positions of conversation windows that hold a token (not padding).
    pub fill: f64,
    /// Positions of conversation windows whose target carries loss.
    pub trained_fraction: f64,
    /// Conversations per conversation window.
    pub conversations_per_window: f64,
}

/// Cuts a rendered conversation to at most `max` tokens, ending after an
/// assistant message's `<|im_end|>` (and its newline). `None` when even the
/// first answer does not fit.
fn fit(r: Rendered, max: usize, im_end: u32) -> Option<(Rendered, bool)> {
    if r.ids.len() <= max {
        return Some((r, false));
    }
    // The end of each trained run is an assistant's <|im_end|>; cut after the
    // newline that follows it.
    let mut cut = None;
    for i in 0..max.min(r.ids.len()) {
        if r.trained[i] && r.ids[i] == im_end && i + 2 <= max {
            cut = Some(i + 2);
        }
    }
    let cut = cut?;
    Some((Rendered { ids: r.ids[..cut].to_vec(), trained: r.trained[..cut].to_vec() }, true))
}

fn load_items(
    path: &Path,
    source: usize,
    tok: &Tokenizer,
    max: usize,
    skip_bad: bool,
    stats: &mut SourceStats,
    limit: Option<usize>,
) -> Result<Vec<Item>, TrainError> {
    let (mut convs, skipped) = read_jsonl(path, skip_bad).map_err(|e| TrainError::Settings(e.to_string()))?;
    stats.malformed_skipped += skipped;
    if let Some(n) = limit {
        convs.truncate(n);
    }
    let rendered: Vec<Rendered> = convs.par_iter().map(|c| render_tokens(tok, &c.messages, false)).collect();
    let mut items = Vec::with_capacity(rendered.len());
    for r in rendered {
        match fit(r, max, tok.im_end_id()) {
            Some((r, cut)) => {
                stats.truncated += cut as usize;
                items.push(Item { source, rendered: r });
            }
            None => stats.dropped += 1,
        }
    }
    Ok(items)
}

/// One window of the plan.
enum Window {
    /// Indices of conversations packed in order.
    Chat(Vec<u32>),
    /// A pretraining window drawn with this seed.
    Pretrain(u64),
}

/// Fine-tuning batches: a fixed plan of windows, built once from the seed.
pub struct SftBatches<'a> {
    items: Vec<Item>,
    val: Vec<Item>,
    plan: Vec<Window>,
    val_plan: Vec<Window>,
    pretrain: Option<BatchLoader<'a>>,
    seq_len: usize,
    batch: usize,
    pad: u32,
    repeat_fraction: f32,
}

/// Packs conversation indices into windows of `max` tokens, in order (next
/// fit), or one per window without packing.
fn pack(order: &[u32], items: &[Item], max: usize, pack: bool) -> Vec<Vec<u32>> {
    let mut windows = Vec::new();
    let mut current: Vec<u32> = Vec::new();
    let mut used = 0;
    for &i in order {
        let len = items[i as usize].rendered.ids.len();
        if !current.is_empty() && (!pack || used + len > max) {
            windows.push(std::mem::take(&mut current));
            used = 0;
        }
        current.push(i);
        used += len;
    }
    if !current.is_empty() {
        windows.push(current);
    }
    windows
}

/// What [`load_sources`] read: training and validation conversations, and
/// what each source holds.
struct LoadedSources {
    items: Vec<Item>,
    val: Vec<Item>,
    stats: Vec<SourceStats>,
}

/// Every source's training conversations (and up to `val_per_source` of its
/// validation ones), rendered and checked against the window of `max`
/// tokens, with what each source holds.
fn load_sources(settings: &SftSettings, tok: &Tokenizer, max: usize) -> Result<LoadedSources, TrainError> {
    let (mut items, mut val) = (Vec::new(), Vec::new());
    let mut stats = Vec::new();
    for (si, src) in settings.sources.iter().enumerate() {
        let (train_path, val_path) = if src.path.is_dir() {
            (src.path.join("train.jsonl"), Some(src.path.join("val.jsonl")))
        } else {
            (src.path.clone(), None)
        };
        if !train_path.exists() {
            return Err(TrainError::Settings(format!(
                "source {}: {} does not exist (make it with `fledge data chat`)",
                si + 1,
                train_path.display()
            )));
        }
        if !(src.weight >= 0.0 && src.weight.is_finite()) {
            return Err(TrainError::Settings(format!("source {}: weight must be >= 0", src.path.display())));
        }
        let mut st = SourceStats { path: src.path.clone(), weight: src.weight, ..Default::default() };
        let train_items = load_items(&train_path, si, tok, max, settings.skip_bad, &mut st, None)?;
        st.conversations = train_items.len();
        st.tokens = train_items.iter().map(|i| i.rendered.ids.len() as u64).sum();
        st.trained_tokens = train_items.iter().map(|i| i.rendered.trained.iter().filter(|&&t| t).count() as u64).sum();
        items.extend(train_items);
        if let Some(vp) = val_path.filter(|p| p.exists()) {
            let mut vst = SourceStats::default();
            let v = load_items(&vp, si, tok, max, settings.skip_bad, &mut vst, Some(settings.val_per_source))?;
            st.val_conversations = v.len();
            val.extend(v);
        }
        stats.push(st);
    }
    Ok(LoadedSources { items, val, stats })
}

/// The order of the `windows` training windows: passes over the weighted
/// conversations, each shuffled with its own seed, packed into windows, with
/// a pretraining window before each at the rate `fraction`.
fn plan_windows(
    settings: &SftSettings,
    items: &[Item],
    windows: usize,
    fraction: f32,
) -> Result<Vec<Window>, TrainError> {
    let max = settings.seq_len + 1;
    // Passes over the weighted data until the plan is full; each pass is
    // shuffled with its own seed.
    let mut rng = ChaCha8Rng::seed_from_u64(settings.seed ^ 0x5f7);
    let mut plan = Vec::with_capacity(windows);
    let mut pass = 0u64;
    while plan.len() < windows {
        let mut order: Vec<u32> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let w = settings.sources[item.source].weight;
            let copies = w.floor() as usize + usize::from(rng.gen::<f32>() < w.fract());
            order.extend(std::iter::repeat(i as u32).take(copies));
        }
        if order.is_empty() {
            return Err(TrainError::Settings("every source has weight 0".into()));
        }
        order.shuffle(&mut rng);
        for w in pack(&order, items, max, settings.pack) {
            while fraction > 0.0 && rng.gen::<f32>() < fraction && plan.len() < windows {
                plan.push(Window::Pretrain(rng.gen()));
            }
            if plan.len() < windows {
                plan.push(Window::Chat(w));
            }
        }
        pass += 1;
    }
    tracing::debug!(passes = pass, "planned fine-tuning windows");
    Ok(plan)
}

/// What the plan holds: windows of each kind, how full the chat windows are
/// and what share of their positions carries loss.
fn data_report(settings: &SftSettings, items: &[Item], plan: &[Window], stats: Vec<SourceStats>) -> DataReport {
    let chat: Vec<&Vec<u32>> =
        plan.iter().filter_map(|w| if let Window::Chat(c) = w { Some(c) } else { None }).collect();
    let positions = (chat.len() * settings.seq_len).max(1) as f64;
    let filled: usize = chat.iter().flat_map(|c| c.iter()).map(|&i| items[i as usize].rendered.ids.len()).sum();
    let trained: usize = chat
        .iter()
        .flat_map(|c| c.iter())
        .map(|&i| items[i as usize].rendered.trained.iter().filter(|&&t| t).count())
        .sum();
    DataReport {
        sources: stats,
        pack: settings.pack,
        windows: plan.len(),
        pretrain_windows: plan.len() - chat.len(),
        fill: (filled as f64 / positions).min(1.0),
        trained_fraction: trained as f64 / positions,
        conversations_per_window: chat.iter().map(|c| c.len()).sum::<usize>() as f64 / chat.len().max(1) as f64,
    }
}

impl<'a> SftBatches<'a> {
    /// Loads and renders every source and plans `windows` training windows.
    pub fn new(
        settings: &SftSettings,
        tok: &Tokenizer,
        pretrain: Option<&'a TokenShards>,
        windows: usize,
    ) -> Result<(Self, DataReport), TrainError> {
        if settings.sources.is_empty() {
            return Err(TrainError::Settings(
                "no conversation sources: add [[source]] path = \"...\" entries to the recipe".into(),
            ));
        }
        let max = settings.seq_len + 1;
        let LoadedSources { items, val, stats } = load_sources(settings, tok, max)?;
        if items.is_empty() {
            return Err(TrainError::Settings("every conversation was dropped or the sources are empty".into()));
        }
        let pretrain_loader = match pretrain {
            Some(shards) => Some(BatchLoader::new(shards, settings.seq_len, 1, settings.seed)?),
            None => None,
        };
        let fraction = if pretrain_loader.is_some() { settings.pretrain_fraction.clamp(0.0, 1.0) } else { 0.0 };
        if !(0.0..=1.0).contains(&settings.repeat_fraction) {
            return Err(TrainError::Settings(format!(
                "repeat_fraction = {}: it is a share of the pretraining windows, from 0 to 1",
                settings.repeat_fraction
            )));
        }

        let plan = plan_windows(settings, &items, windows, fraction)?;
        let val_order: Vec<u32> = (0..val.len() as u32).collect();
        let val_plan = pack(&val_order, &val, max, true).into_iter().map(Window::Chat).collect();

        let report = data_report(settings, &items, &plan, stats);
        let batches = SftBatches {
            items,
            val,
            plan,
            val_plan,
            pretrain: pretrain_loader,
            seq_len: settings.seq_len,
            batch: settings.batch,
            pad: tok.eot_id(),
            repeat_fraction: settings.repeat_fraction,
        };
        Ok((batches, report))
    }

    /// Lays out windows as a batch: inputs, targets (IGNORE where no loss),
    /// and each position's segment start.
    fn assemble(&self, windows: &[&Window], items: &[Item]) -> Batch {
        let t = self.seq_len;
        let n = windows.len() * t;
        let mut b =
            Batch { inputs: Vec::with_capacity(n), targets: Vec::with_capacity(n), segment_starts: Some(Vec::new()) };
        let starts = b.segment_starts.as_mut().expect("set above");
        let mut row = vec![0u32; t + 1];
        for w in windows {
            match w {
                Window::Pretrain(seed) => {
                    let loader = self.pretrain.as_ref().expect("pretraining windows only with shards");
                    let mut rng = ChaCha8Rng::seed_from_u64(*seed);
                    loader.random_window(&mut rng, &mut row);
                    if self.repeat_fraction > 0.0 && rng.gen::<f32>() < self.repeat_fraction {
                        crate::train::run::repeat_a_span(&mut row, &mut rng);
                    }
                    b.inputs.extend_from_slice(&row[..t]);
                    b.targets.extend_from_slice(&row[1..]);
                    starts.extend(std::iter::repeat(0).take(t));
                }
                Window::Chat(convs) => {
                    let (mut ids, mut trained, mut seg) = (Vec::new(), Vec::new(), Vec::new());
                    for &c in convs {
                        let r = &items[c as usize].rendered;
                        let start = ids.len() as u32;
                        ids.extend_from_slice(&r.ids);
                        trained.extend_from_slice(&r.trained);
                        seg.extend(std::iter::repeat(start).take(r.ids.len()));
                    }
                    // Padding: its own segment, no loss.
                    let pad_start = ids.len() as u32;
                    ids.resize(t + 1, self.pad);
                    trained.resize(t + 1, false);
                    seg.resize(t + 1, pad_start);
                    for i in 0..t {
                        b.inputs.push(ids[i]);
                        let counts = trained[i + 1] && seg[i + 1] == seg[i];
                        b.targets.push(if counts { ids[i + 1] } else { IGNORE });
                        starts.push(seg[i].min(i as u32));
                    }
                }
            }
        }
        b
    }
}

impl BatchSource for SftBatches<'_> {
    fn batch(&self, index: u64) -> Batch {
        let n = self.plan.len();
        let first = (index as usize * self.batch) % n;
        let windows: Vec<&Window> = (0..self.batch).map(|k| &self.plan[(first + k) % n]).collect();
        self.assemble(&windows, &self.items)
    }

    /// Mean loss over the assistant tokens of the held-out conversations.
    fn evaluate(&self, scorer: &mut dyn Scorer) -> Result<Evaluation, TrainError> {
        if self.val_plan.is_empty() {
            return Ok(Evaluation::default());
        }
        let (mut nats, mut counted) = (0.0f64, 0usize);
        let empty = Window::Chat(Vec::new());
        for chunk in self.val_plan.chunks(self.batch) {
            let mut windows: Vec<&Window> = chunk.iter().collect();
            // The engine's shape is fixed: fill a short last batch with empty windows.
            windows.resize(self.batch, &empty);
            let b = self.assemble(&windows, &self.val);
            nats += scorer.losses(&b.inputs, &b.targets, b.segment_starts.as_deref())?.iter().sum::<f64>();
            counted += b.targets.iter().filter(|&&t| t != IGNORE).count();
        }
        Ok(Evaluation { loss: nats / counted.max(1) as f64, ..Default::default() })
    }
}

/// The chat model's config: the base model's, with a context window at
/// least as long as the fine-tuning windows.
pub fn chat_config(base: &ModelConfig, seq_len: usize) -> ModelConfig {
    ModelConfig { max_seq_len: base.max_seq_len.max(seq_len), ..base.clone() }
}

/// Logs what each source gave and how the windows are filled.
pub fn log_data_report(report: &DataReport, seq_len: usize) {
    for s in &report.sources {
        tracing::info!(
            "{}: {} conversations (weight {}), {} truncated, {} dropped, {} malformed skipped, {} trained tokens, {} val",
            s.path.display(),
            s.conversations,
            s.weight,
            s.truncated,
            s.dropped,
            s.malformed_skipped,
            s.trained_tokens,
            s.val_conversations
        );
    }
    tracing::info!(
        "{} windows of {} tokens ({} pretraining); conversation windows: {:.1} conversations each, {:.1}% filled, \
         {:.1}% of positions carry loss",
        report.windows,
        seq_len,
        report.pretrain_windows,
        report.conversations_per_window,
        100.0 * report.fill,
        100.0 * report.trained_fraction
    );
}

/// Runs (or resumes) fine-tuning.
pub fn sft(settings: &SftSettings, resume: bool, stop: Arc<AtomicBool>) -> Result<RunSummary, TrainError> {
    sft_with(settings, resume, stop, None)
}

/// [`sft`], computed by PyTorch when `torch` is given (see
/// [`crate::train::torch`]): packed conversations keep their attention
/// within each (segment starts) and the loss on the assistant's tokens only
/// (ignored targets) there too.
pub fn sft_with(
    settings: &SftSettings,
    resume: bool,
    stop: Arc<AtomicBool>,
    torch: Option<TorchOptions>,
) -> Result<RunSummary, TrainError> {
    if let Some(options) = &torch {
        options.check()?;
        options.check_world(settings.batch * settings.grad_accum)?;
    }
    // Any model fledge loads: a checkpoint, a run, or a Hugging Face folder.
    let base = crate::export::Source::load(&settings.base).map_err(|e| match e {
        crate::export::ExportError::Checkpoint(e) => TrainError::Checkpoint(e),
        other => TrainError::Settings(format!("base model: {other}")),
    })?;
    let crate::export::Source {
        dir: base_dir, config: base_config, params: base_params, tokenizer, mut licenses, ..
    } = base;
    let config = chat_config(&base_config, settings.seq_len);
    let train = settings.train_settings();
    train.validate()?;
    let shards = match &settings.pretrain {
        Some(dir) if settings.pretrain_fraction > 0.0 => {
            let s = TokenShards::open(dir, "train")?;
            s.check_tokenizer(&tokenizer)?;
            Some(s)
        }
        _ => None,
    };
    let windows = (settings.steps as usize) * settings.grad_accum * settings.batch;
    let (source, report) = SftBatches::new(settings, &tokenizer, shards.as_ref(), windows)?;
    std::fs::create_dir_all(&settings.out).map_err(|e| TrainError::Io { path: settings.out.clone(), source: e })?;
    let report_path = settings.out.join("sft-data.json");
    crate::fsutil::write_json_atomic(&report_path, &report)
        .map_err(|e| TrainError::Io { path: report_path.clone(), source: e })?;
    log_data_report(&report, settings.seq_len);
    let probe = vec![
        Message::new(Role::Context, "Mary went to the kitchen.\nJohn went back to the garden."),
        Message::new(Role::User, "Where is Mary?"),
    ];
    let sample = |config: &ModelConfig, params: &[f32], step: u64| {
        let (answer, _) = super::reply(config, params, &tokenizer, &probe, 24, step);
        Some(format!("[context: Mary went to the kitchen...] Where is Mary? -> {answer:?}"))
    };
    let mut record = serde_json::to_value(settings).expect("settings serialize");
    record["base_checkpoint"] = serde_json::Value::String(base_dir.display().to_string());
    // The chat model answers to the licenses of its base model's data and of
    // the conversations (each converted set records its own beside it).
    // `licenses` starts as the base's: its training state's, or for an
    // imported or exported base those its fledge.json (or card) recorded.
    for src in &settings.sources {
        licenses = crate::data::license::merge(&licenses, &crate::data::license::of_chat_file(&src.path));
    }
    if let Some(s) = &shards {
        licenses = crate::data::license::merge(&licenses, &s.header.licenses);
    }
    let run = Run { settings: &train, config: &config, tokenizer: &tokenizer, record, licenses, torch };
    run_loop(&run, &source, Some(base_params), resume, stop, &sample)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokenizer() -> Tokenizer {
        let text = "mary went to the kitchen. where is mary? the kitchen. john is in the garden.\n".repeat(40);
        Tokenizer::train([text.as_str()].into_iter(), 300, false).unwrap()
    }

    fn write_source(dir: &Path, n: usize) -> PathBuf {
        let src = dir.join("qa");
        std::fs::create_dir_all(&src).unwrap();
        let line = |i: usize| {
            format!(
                r#"{{"messages":[{{"role":"context","content":"mary went to the kitchen {i}."}},{{"role":"user","content":"where is mary?"}},{{"role":"assistant","content":"the kitchen."}}]}}"#
            )
        };
        let lines: Vec<String> = (0..n).map(line).collect();
        std::fs::write(src.join("train.jsonl"), lines.join("\n")).unwrap();
        std::fs::write(src.join("val.jsonl"), lines[..3].join("\n")).unwrap();
        src
    }

    #[test]
    fn packed_windows_keep_conversations_apart_and_train_only_answers() {
        let dir = tempfile::tempdir().unwrap();
        let tok = tokenizer();
        let settings = SftSettings {
            sources: vec![SftSource { path: write_source(dir.path(), 20), weight: 1.0 }],
            seq_len: 128,
            batch: 2,
            ..Default::default()
        };
        let (b, report) = SftBatches::new(&settings, &tok, None, 10).unwrap();
        assert!(report.conversations_per_window > 1.0, "{report:?}");
        let batch = b.batch(3);
        let starts = batch.segment_starts.as_ref().unwrap();
        let answer = tok.encode("the kitchen.", false);
        for row in 0..2 {
            let r = row * 128;
            // Every counted target is an answer token or <|im_end|>.
            for i in 0..128 {
                let t = batch.targets[r + i];
                if t != IGNORE {
                    assert!(answer.contains(&t) || t == tok.im_end_id());
                    // and a position never looks before its own conversation.
                    assert!(starts[r + i] as usize <= i);
                }
            }
            // Conversation starts are positions holding <|im_start|> and the
            // start of a segment.
            for i in 1..128 {
                if starts[r + i] as usize == i && batch.inputs[r + i] == tok.im_start_id() {
                    assert_ne!(starts[r + i - 1], starts[r + i]);
                }
            }
        }
        // Deterministic: the same index gives the same batch.
        assert_eq!(b.batch(3), b.batch(3));
    }

    #[test]
    fn unpacked_windows_hold_one_conversation_and_report_lower_fill() {
        let dir = tempfile::tempdir().unwrap();
        let tok = tokenizer();
        let src = write_source(dir.path(), 20);
        let mk = |pack| SftSettings {
            sources: vec![SftSource { path: src.clone(), weight: 1.0 }],
            seq_len: 128,
            batch: 2,
            pack,
            ..Default::default()
        };
        let (_, packed) = SftBatches::new(&mk(true), &tok, None, 10).unwrap();
        let (_, single) = SftBatches::new(&mk(false), &tok, None, 10).unwrap();
        assert_eq!(single.conversations_per_window, 1.0);
        assert!(packed.fill > single.fill);
    }

    #[test]
    fn long_conversations_are_cut_after_an_answer_or_dropped() {
        let tok = tokenizer();
        let msgs = vec![
            Message::new(Role::User, "where is mary?"),
            Message::new(Role::Assistant, "the kitchen."),
            Message::new(Role::User, "where is john? ".repeat(20)),
            Message::new(Role::Assistant, "the garden."),
        ];
        let r = render_tokens(&tok, &msgs, false);
        let first = render_tokens(&tok, &msgs[..2], false);
        let (cut, truncated) = fit(r.clone(), first.ids.len() + 5, tok.im_end_id()).unwrap();
        assert!(truncated);
        assert_eq!(cut, first);
        assert!(fit(r, 5, tok.im_end_id()).is_none());
    }
}
