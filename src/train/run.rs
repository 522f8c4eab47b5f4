//! `fledge train`: the pretraining loop.
//!
//! Warmup then cosine (or warmup-stable-decay) learning rate; gradient
//! accumulation; validation loss and bits per byte every `eval_every` steps;
//! metrics appended to `metrics.jsonl`; checkpoints every `checkpoint_every`
//! steps, at the end, and on Ctrl-C. `--resume` restores weights, optimizer
//! moments and the data position, so the run continues bit for bit as if it
//! had never stopped (at the same thread count).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::checkpoint::{self, CheckpointError, TrainState};
use super::optim::AdamWConfig;
use super::torch::{TorchOptions, TorchWorker};
use super::trainer::StepStats;
use super::Trainer;
use crate::data::shards::{Batch, BatchLoader, TokenShards};
use crate::data::DataError;
use crate::model::kernels::IGNORE;
use crate::model::{Engine, ModelConfig, Precision};
use crate::tokenizer::Tokenizer;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Schedule {
    /// Linear warmup, then cosine decay to `min_lr_ratio × lr`.
    Cosine,
    /// Linear warmup, constant, then linear decay over the last `decay_fraction` of steps.
    Wsd,
}

/// Everything a training run is configured by (TOML `[train]` keys and flags).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainSettings {
    /// A named model preset (`tiny`, `reference`, `small`), unless `model_config` is given.
    pub preset: String,
    /// A model config TOML file, instead of the preset.
    pub model_config: Option<PathBuf>,
    /// Folder of token shards (`train.json`, `val.json`).
    pub data: PathBuf,
    pub tokenizer: PathBuf,
    pub out: PathBuf,
    pub batch: usize,
    pub seq_len: usize,
    pub grad_accum: usize,
    pub steps: u64,
    pub lr: f32,
    pub min_lr_ratio: f32,
    pub warmup_steps: u64,
    pub schedule: Schedule,
    pub decay_fraction: f32,
    pub weight_decay: f32,
    /// Pull toward the starting weights (fine-tuning: the base model) in
    /// AdamW's decoupled form, on every tensor (see [`super::optim::AdamW::anchor_to`]); 0: none.
    pub decay_to_init: f32,
    pub clip: f32,
    pub seed: u64,
    pub eval_every: u64,
    pub eval_batches: usize,
    pub checkpoint_every: u64,
    /// A prompt continued at every evaluation, to watch the model learn ("" for none).
    pub sample_prompt: String,
    /// How many of the newest checkpoints to keep on disk.
    pub keep_checkpoints: usize,
    pub log_every: u64,
    /// Keep the checkpoint with the lowest validation loss in `OUT/best`,
    /// beside the latest: small models overfit this little text within
    /// 5-20 epochs, and the best one is the one to use.
    pub keep_best: bool,
    /// Stop when the validation loss has not improved for this many
    /// evaluations in a row (0: never).
    pub early_stop: u64,
    /// The validation set (from the data recipe's `val_set`) whose loss picks
    /// the best checkpoint and drives early stopping; all validation text
    /// when unset.
    pub best_on: Option<String>,
    /// Share of pretraining windows in which a span of the window comes
    /// again later, word for word (0: none). Every token of the repeat can
    /// only be predicted by copying, which is how induction heads are learned
    /// (see [`repeat_a_span`]); natural text repeats itself too seldom for a
    /// few million tokens to teach it.
    pub repeat_fraction: f32,
    /// Opening steps of the run in which a share of the windows
    /// (`copy_warmup_fraction`) are random tokens read twice (0: none). A
    /// model learns to copy such a sequence within a few hundred steps and
    /// then learns to copy any span quickly; from text alone, or from random
    /// spans repeated later, it did not in thousands (see [`copy_warmup_row`]).
    pub copy_warmup_steps: u64,
    /// Share of the windows in the `copy_warmup_steps` that are random tokens
    /// read twice (0 to 1).
    pub copy_warmup_fraction: f32,
    /// Mid-training: conversations mixed into the last part of the run
    /// (see [`super::mid`]); none when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mid: Option<super::mid::MidSettings>,
    /// The matrix products' precision: `f32`, `bf16` (bfloat16 inputs, f32
    /// sums; weights, gradients and optimizer stay f32) or `auto` (bf16 where
    /// the CPU has AVX512-BF16). The library's default is `f32`, so runs built
    /// in code (and the tests) are exact; the CLI's default is `auto`.
    pub precision: Precision,
}

impl Default for TrainSettings {
    fn default() -> Self {
        Self {
            preset: "tiny".into(),
            model_config: None,
            data: PathBuf::from("runs/speedrun/shards"),
            tokenizer: PathBuf::from("runs/speedrun/tokenizer/tokenizer.json"),
            out: PathBuf::from("runs/train"),
            batch: 16,
            seq_len: 256,
            grad_accum: 1,
            steps: 1000,
            lr: 1e-3,
            min_lr_ratio: 0.1,
            warmup_steps: 50,
            schedule: Schedule::Cosine,
            decay_fraction: 0.2,
            weight_decay: 0.1,
            decay_to_init: 0.0,
            clip: 1.0,
            seed: 1234,
            eval_every: 100,
            eval_batches: 16,
            checkpoint_every: 200,
            sample_prompt: "Once upon a time".into(),
            keep_checkpoints: 2,
            log_every: 10,
            keep_best: true,
            early_stop: 0,
            best_on: None,
            repeat_fraction: 0.0,
            copy_warmup_steps: 0,
            copy_warmup_fraction: 0.5,
            mid: None,
            precision: Precision::F32,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error(transparent)]
    Tokenizer(#[from] crate::tokenizer::TokenizerError),
    #[error(transparent)]
    Config(#[from] crate::model::config::ConfigError),
    #[error(transparent)]
    Precision(#[from] crate::model::bf16::PrecisionError),
    #[error("training settings: {0}")]
    Settings(String),
    #[error("the loss (or gradient norm) became {loss} at step {step}: training diverged. The last good checkpoint is kept in {out}; lower --lr or raise --warmup-steps and resume")]
    Diverged { step: u64, loss: f32, out: PathBuf },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("torch engine: {0}")]
    Torch(String),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> TrainError + '_ {
    move |source| TrainError::Io { path: path.to_path_buf(), source }
}

impl TrainSettings {
    pub fn model_config(&self, vocab_size: usize) -> Result<ModelConfig, TrainError> {
        let config = match &self.model_config {
            Some(path) => ModelConfig::load(path)?,
            None => ModelConfig::preset(&self.preset, vocab_size)?,
        };
        if config.vocab_size != vocab_size {
            return Err(TrainError::Settings(format!(
                "the model's vocab_size is {} but the tokenizer has {vocab_size} tokens; set vocab_size = {vocab_size} in the model config",
                config.vocab_size
            )));
        }
        if self.seq_len > config.max_seq_len {
            return Err(TrainError::Settings(format!(
                "seq_len {} exceeds the model's max_seq_len {}",
                self.seq_len, config.max_seq_len
            )));
        }
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), TrainError> {
        let bad = |m: &str| Err(TrainError::Settings(m.to_string()));
        if self.batch == 0 || self.seq_len == 0 || self.grad_accum == 0 || self.steps == 0 {
            return bad("batch, seq_len, grad_accum and steps must be positive");
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return bad("lr must be a positive number");
        }
        if !(0.0..=1.0).contains(&self.min_lr_ratio) || !(0.0..=1.0).contains(&self.decay_fraction) {
            return bad("min_lr_ratio and decay_fraction must be in [0, 1]");
        }
        for (name, share) in
            [("repeat_fraction", self.repeat_fraction), ("copy_warmup_fraction", self.copy_warmup_fraction)]
        {
            if !(0.0..=1.0).contains(&share) {
                return Err(TrainError::Settings(format!(
                    "{name} = {share}: it is a share of the windows, from 0 to 1"
                )));
            }
        }
        if !(self.decay_to_init >= 0.0 && self.decay_to_init * self.lr < 1.0) {
            return bad("decay_to_base must be at least 0 and, times lr, below 1 (it is the fraction of the way back to the base each step takes at that rate)");
        }
        if let Some(mid) = &self.mid {
            mid.validate()?;
        }
        Ok(())
    }

    /// The learning rate at `step` (0-based).
    pub fn lr_at(&self, step: u64) -> f32 {
        let min_lr = self.lr * self.min_lr_ratio;
        if step < self.warmup_steps {
            return self.lr * (step + 1) as f32 / self.warmup_steps as f32;
        }
        match self.schedule {
            Schedule::Cosine => {
                let span = (self.steps - self.warmup_steps).max(1) as f32;
                let progress = ((step - self.warmup_steps) as f32 / span).min(1.0);
                min_lr + 0.5 * (self.lr - min_lr) * (1.0 + (std::f32::consts::PI * progress).cos())
            }
            Schedule::Wsd => {
                let decay_steps = ((self.steps as f32) * self.decay_fraction).round() as u64;
                let decay_start = self.steps - decay_steps;
                if step < decay_start {
                    self.lr
                } else {
                    let progress = (step - decay_start) as f32 / decay_steps.max(1) as f32;
                    self.lr + (min_lr - self.lr) * progress
                }
            }
        }
    }
}

/// One line of `metrics.jsonl`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Metric {
    pub step: u64,
    pub tokens: u64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub loss: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub lr: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub grad_norm: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub tokens_per_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub val_loss: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub val_bpb: Option<f64>,
    /// Bits per byte of each validation set, when the data has sets.
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub val_sets: BTreeMap<String, f64>,
}

/// One evaluation of the current weights.
#[derive(Debug, Clone, Default)]
pub struct Evaluation {
    /// Nats per counted token over all validation text.
    pub loss: f64,
    /// Bits per byte over all validation text, where that means something.
    pub bpb: Option<f64>,
    /// Per validation set: (loss, bits per byte).
    pub sets: BTreeMap<String, (f64, f64)>,
}

/// One validation set cut into consecutive windows, so that an evaluation
/// scores every one of its tokens (up to a cap) exactly once.
struct ValSet {
    name: String,
    /// `seq_len` inputs per window, padded with token 0.
    inputs: Vec<u32>,
    /// Next-token targets, padded with [`IGNORE`].
    targets: Vec<u32>,
}

impl ValSet {
    fn new(name: &str, tokens: &[u32], seq_len: usize, max_windows: usize) -> Self {
        let (mut inputs, mut targets) = (Vec::new(), Vec::new());
        let usable = tokens.len().saturating_sub(1);
        for w in 0..usable.div_ceil(seq_len).min(max_windows) {
            let start = w * seq_len;
            let len = seq_len.min(usable - start);
            inputs.extend_from_slice(&tokens[start..start + len]);
            targets.extend_from_slice(&tokens[start + 1..start + 1 + len]);
            inputs.resize(inputs.len() + seq_len - len, 0);
            targets.resize(targets.len() + seq_len - len, IGNORE);
        }
        Self { name: name.to_string(), inputs, targets }
    }

    /// Total nats, counted tokens and their bytes.
    fn score(&self, scorer: &mut dyn Scorer, byte_lengths: &[u32]) -> Result<(f64, u64, u64), TrainError> {
        let rows = scorer.batch() * scorer.seq_len();
        let (mut nats, mut tokens, mut bytes) = (0.0f64, 0u64, 0u64);
        for (inputs, targets) in self.inputs.chunks(rows).zip(self.targets.chunks(rows)) {
            // The engine's shape is fixed: a short last batch is padded with
            // windows that count no loss.
            let (mut inputs, mut targets) = (inputs.to_vec(), targets.to_vec());
            inputs.resize(rows, 0);
            targets.resize(rows, IGNORE);
            nats += scorer.losses(&inputs, &targets, None)?.iter().sum::<f64>();
            for &t in targets.iter().filter(|&&t| t != IGNORE) {
                tokens += 1;
                bytes += byte_lengths[t as usize] as u64;
            }
        }
        Ok((nats, tokens, bytes))
    }
}

/// What scores validation windows: fledge's engine with given weights
/// ([`EngineScorer`]), or the torch trainer ([`super::torch::TorchWorker`]).
pub trait Scorer {
    /// Windows per call.
    fn batch(&self) -> usize;
    fn seq_len(&self) -> usize;
    /// The cross-entropy at each position of `batch × seq_len` windows (0
    /// where the target is [`IGNORE`]); `segment_starts` as in
    /// [`Engine::set_segments`].
    fn losses(
        &mut self,
        inputs: &[u32],
        targets: &[u32],
        segment_starts: Option<&[u32]>,
    ) -> Result<Vec<f64>, TrainError>;
}

/// fledge's engine scoring with `params`.
pub struct EngineScorer<'a> {
    pub engine: &'a mut Engine,
    pub params: &'a [f32],
}

impl Scorer for EngineScorer<'_> {
    fn batch(&self) -> usize {
        self.engine.batch
    }
    fn seq_len(&self) -> usize {
        self.engine.seq_len
    }
    fn losses(
        &mut self,
        inputs: &[u32],
        targets: &[u32],
        segment_starts: Option<&[u32]>,
    ) -> Result<Vec<f64>, TrainError> {
        self.engine.set_segments(segment_starts);
        self.engine.forward(self.params, inputs);
        let losses = self.engine.eval_losses(targets);
        self.engine.set_segments(None);
        Ok(losses)
    }
}

/// Validation loss (nats per token) and bits per byte over a fixed set of windows.
pub fn evaluate(
    scorer: &mut dyn Scorer,
    val: &TokenShards,
    byte_lengths: &[u32],
    batches: usize,
) -> Result<(f64, f64), TrainError> {
    // The same windows at every evaluation, so the numbers compare.
    let loader = BatchLoader::new(val, scorer.seq_len(), scorer.batch(), 0xe7a1)?;
    let (mut nats, mut tokens, mut bytes) = (0.0f64, 0u64, 0u64);
    for b in 0..batches.max(1) {
        let batch = loader.batch(b as u64);
        nats += scorer.losses(&batch.inputs, &batch.targets, None)?.iter().sum::<f64>();
        tokens += batch.targets.len() as u64;
        bytes += batch.targets.iter().map(|&t| byte_lengths[t as usize] as u64).sum::<u64>();
    }
    Ok((nats / tokens as f64, nats / std::f64::consts::LN_2 / bytes.max(1) as f64))
}

/// A short continuation of `prompt` by the current weights.
fn sample_text(config: &ModelConfig, params: &[f32], tokenizer: &Tokenizer, prompt: &str, seed: u64) -> String {
    let mut generator = crate::generate::Generator::new(config, params);
    let mut ids = vec![tokenizer.eot_id()];
    ids.extend(tokenizer.encode(prompt, false));
    let options = crate::generate::SamplingOptions { max_new_tokens: 48, seed, ..Default::default() };
    crate::generate::generate(&mut generator, tokenizer, &ids, &options, |_| {}).text.replace('\n', " / ")
}

/// What a finished (or interrupted) run reports.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    pub steps: u64,
    pub tokens: u64,
    pub seconds: f64,
    pub final_loss: f32,
    pub val_loss: Option<f64>,
    pub val_bpb: Option<f64>,
    pub interrupted: bool,
    pub checkpoint: PathBuf,
    /// The evaluation step with the lowest validation loss, and the loss.
    pub best: Option<(u64, f64)>,
    /// Stopped because validation stopped improving (`early_stop`).
    pub stopped_early: bool,
}

/// Where a run's micro-batches and validation numbers come from: pretraining
/// windows ([`PretrainBatches`]) or packed conversations
/// ([`crate::chat::sft::SftBatches`]).
pub trait BatchSource {
    /// Micro-batch number `index`: the same whatever came before, which is
    /// what makes resuming exact.
    fn batch(&self, index: u64) -> Batch;
    /// Validation loss (nats per counted token) and, where it means something,
    /// bits per byte, overall and per validation set.
    fn evaluate(&self, scorer: &mut dyn Scorer) -> Result<Evaluation, TrainError>;
}

/// Random windows of the training shards. Validation scores each validation
/// set of the shards whole (up to `eval_batches` batches of windows per set);
/// shards made before sets existed are scored on fixed random windows.
pub struct PretrainBatches<'a> {
    loader: BatchLoader<'a>,
    val: &'a TokenShards,
    sets: Vec<ValSet>,
    byte_lengths: Vec<u32>,
    eval_batches: usize,
    repeat_fraction: f32,
    /// Micro-batches (from the first) whose rows may be copy warm-up rows.
    copy_warmup_batches: u64,
    copy_warmup_fraction: f32,
    /// The tokens a copy warm-up row is drawn from: every id but the special ones.
    ordinary_tokens: Vec<u32>,
}

impl<'a> PretrainBatches<'a> {
    pub(super) fn new(
        train: &'a TokenShards,
        val: &'a TokenShards,
        tokenizer: &Tokenizer,
        settings: &TrainSettings,
    ) -> Result<Self, TrainError> {
        let max_windows = settings.eval_batches.max(1) * settings.batch;
        let sets = val
            .header
            .sets
            .iter()
            .map(|(name, spans)| {
                let tokens: Vec<u32> = spans.iter().flat_map(|&[a, b]| val.span(a, b)).collect();
                ValSet::new(name, &tokens, settings.seq_len, max_windows)
            })
            .collect::<Vec<_>>();
        if let Some(best_on) = &settings.best_on {
            if !sets.iter().any(|s| &s.name == best_on) {
                let names: Vec<&str> = sets.iter().map(|s| s.name.as_str()).collect();
                return Err(TrainError::Settings(format!(
                    "best_on = \"{best_on}\" is not a validation set of {}; its sets are {names:?} (set them with `val_set` in the data recipe)",
                    settings.data.display()
                )));
            }
        }
        let loader = BatchLoader::new(train, settings.seq_len, settings.batch, settings.seed)?;
        let micro_batches = settings.steps * settings.grad_accum as u64;
        if let Some(end) = loader.exhausted_at().filter(|&end| end < micro_batches) {
            return Err(TrainError::Settings(format!(
                "every source of {} reaches its max_epochs after {} steps, before the {} asked for: lower --steps or raise max_epochs in the recipe",
                settings.data.display(),
                end / settings.grad_accum as u64,
                settings.steps
            )));
        }
        for (source, end) in loader.source_ends() {
            if end < micro_batches {
                tracing::info!(
                    "{source} reaches its max_epochs at step {} and is not drawn after it",
                    end / settings.grad_accum as u64
                );
            }
        }
        Ok(Self {
            loader,
            val,
            sets,
            byte_lengths: tokenizer.token_byte_lengths(),
            eval_batches: settings.eval_batches,
            repeat_fraction: settings.repeat_fraction,
            copy_warmup_batches: settings.copy_warmup_steps * settings.grad_accum as u64,
            copy_warmup_fraction: settings.copy_warmup_fraction,
            ordinary_tokens: ordinary_tokens(tokenizer),
        })
    }
}

/// Every token id but `<|endoftext|>`, `<|im_start|>` and `<|im_end|>`.
fn ordinary_tokens(tokenizer: &Tokenizer) -> Vec<u32> {
    let special = [tokenizer.eot_id(), tokenizer.im_start_id(), tokenizer.im_end_id()];
    (0..tokenizer.vocab_size() as u32).filter(|id| !special.contains(id)).collect()
}

impl BatchSource for PretrainBatches<'_> {
    fn batch(&self, index: u64) -> Batch {
        let mut batch = self.loader.batch(index);
        let warm_up = index < self.copy_warmup_batches;
        if self.repeat_fraction > 0.0 || warm_up {
            let seq = self.loader.seq_len;
            for row in 0..self.loader.batch {
                // A window's draw depends on its batch and row only, so a
                // resumed run repeats the same windows.
                let key = self.loader.seed ^ index.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (row as u64) << 48;
                let mut rng = ChaCha8Rng::seed_from_u64(key);
                if warm_up && rng.gen::<f32>() < self.copy_warmup_fraction {
                    let at = row * seq;
                    let (inputs, targets) = (&mut batch.inputs[at..at + seq], &mut batch.targets[at..at + seq]);
                    copy_warmup_row(inputs, targets, &self.ordinary_tokens, &mut rng);
                } else if rng.gen::<f32>() < self.repeat_fraction {
                    repeat_in_row(&mut batch, row, seq, &mut rng);
                }
            }
        }
        batch
    }

    fn evaluate(&self, scorer: &mut dyn Scorer) -> Result<Evaluation, TrainError> {
        if self.sets.is_empty() {
            let (loss, bpb) = evaluate(scorer, self.val, &self.byte_lengths, self.eval_batches)?;
            return Ok(Evaluation { loss, bpb: Some(bpb), sets: BTreeMap::new() });
        }
        let (mut nats, mut tokens, mut bytes) = (0.0, 0, 0);
        let mut sets = BTreeMap::new();
        for set in &self.sets {
            let (n, t, b) = set.score(scorer, &self.byte_lengths)?;
            sets.insert(set.name.clone(), (n / t.max(1) as f64, n / std::f64::consts::LN_2 / b.max(1) as f64));
            (nats, tokens, bytes) = (nats + n, tokens + t, bytes + b);
        }
        let bpb = nats / std::f64::consts::LN_2 / bytes.max(1) as f64;
        Ok(Evaluation { loss: nats / tokens.max(1) as f64, bpb: Some(bpb), sets })
    }
}

/// Repeats a span of a window's text (`seq + 1` tokens: the inputs and the
/// last target) later in the same window: a span of 8 to a third of the
/// text's tokens, copied in at a later point (the rest of the text moves on
/// and its end falls off). From the copy's second token on, each next token
/// is the one that followed the current token's earlier occurrence, so a
/// model lowers that loss only by looking back and copying (an induction
/// head, Olsson et al. 2022). The span, and how far back it lies, are drawn
/// at random: a repeat always the same distance back (the text read twice,
/// half a window apart) is learned as "copy the token 128 back", which
/// copies nothing anywhere else (measured: `fledge inspect --induction`).
pub fn repeat_a_span(text: &mut [u32], rng: &mut impl Rng) {
    let n = text.len();
    if n < 24 {
        return;
    }
    let len = rng.gen_range(8..=n / 3);
    let from = rng.gen_range(0..=n - 2 * len);
    let to = rng.gen_range(from + len..=n - len);
    let span = text[from..from + len].to_vec();
    text.copy_within(to..n - len, to + len);
    text[to..to + len].copy_from_slice(&span);
}

/// A copy warm-up row: a random sequence of `tokens` (8 to a third of the
/// row long) read twice from the row's start, then random tokens. Only the
/// second reading counts in the loss (from its second token, the first one
/// that copying predicts); the other targets are [`IGNORE`], so the model
/// learns nothing from the noise but where to look. The sequence's length
/// varies, so "the token `n` back" is not a shortcut: the model has to find
/// the current token's earlier occurrence and read what followed it, and it
/// goes on doing so on text (`tests/engine_learns_to_copy.rs` measures both
/// halves of that).
pub fn copy_warmup_row(inputs: &mut [u32], targets: &mut [u32], tokens: &[u32], rng: &mut impl Rng) {
    let seq = inputs.len();
    debug_assert_eq!(targets.len(), seq);
    if seq < 24 || tokens.is_empty() {
        return;
    }
    let mut text: Vec<u32> = (0..=seq).map(|_| tokens[rng.gen_range(0..tokens.len())]).collect();
    let n = rng.gen_range(8..=seq / 3);
    text.copy_within(0..n, n);
    inputs.copy_from_slice(&text[..seq]);
    for (i, target) in targets.iter_mut().enumerate() {
        *target = if i >= n && i + 1 < 2 * n { text[i + 1] } else { IGNORE };
    }
}

/// [`repeat_a_span`] on row `row` of a batch of plain-text windows of `seq` tokens.
fn repeat_in_row(batch: &mut Batch, row: usize, seq: usize, rng: &mut impl Rng) {
    debug_assert!(batch.segment_starts.is_none(), "a pretraining window is one stream of text");
    let at = row * seq;
    let mut text: Vec<u32> = batch.inputs[at..at + seq].to_vec();
    text.push(batch.targets[at + seq - 1]);
    repeat_a_span(&mut text, rng);
    batch.inputs[at..at + seq].copy_from_slice(&text[..seq]);
    batch.targets[at..at + seq].copy_from_slice(&text[1..]);
}

/// Runs (or resumes) pretraining. `stop` is set by Ctrl-C: the loop then
/// saves a checkpoint and returns.
pub fn train(settings: &TrainSettings, resume: bool, stop: Arc<AtomicBool>) -> Result<RunSummary, TrainError> {
    train_with(settings, resume, stop, None)
}

/// [`train`], computed by PyTorch when `torch` is given (see [`super::torch`]).
pub fn train_with(
    settings: &TrainSettings,
    resume: bool,
    stop: Arc<AtomicBool>,
    torch: Option<TorchOptions>,
) -> Result<RunSummary, TrainError> {
    settings.validate()?;
    if let Some(options) = &torch {
        // Before the data is read: a missing torch is the likelier mistake.
        options.check()?;
        options.check_world(settings.batch * settings.grad_accum)?;
    }
    let tokenizer = Tokenizer::load(&settings.tokenizer)?;
    let config = settings.model_config(tokenizer.vocab_size())?;
    let train_shards = TokenShards::open(&settings.data, "train")?;
    train_shards.check_tokenizer(&tokenizer)?;
    let val_shards = TokenShards::open(&settings.data, "val")?;
    val_shards.check_tokenizer(&tokenizer)?;
    let pretrain = PretrainBatches::new(&train_shards, &val_shards, &tokenizer, settings)?;
    let source: Box<dyn BatchSource> = match &settings.mid {
        Some(mid) => Box::new(super::mid::MidBatches::new(pretrain, &train_shards, &tokenizer, settings, mid)?),
        None => Box::new(pretrain),
    };
    tracing::info!(
        params = config.num_params(),
        train_tokens = train_shards.num_tokens(),
        tokens_per_step = settings.batch * settings.seq_len * settings.grad_accum,
        steps = settings.steps,
        "training {}",
        settings.model_config.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| settings.preset.clone())
    );
    let sample = |config: &ModelConfig, params: &[f32], step: u64| {
        (!settings.sample_prompt.is_empty()).then(|| {
            let text = sample_text(config, params, &tokenizer, &settings.sample_prompt, step);
            format!("{}{}", settings.sample_prompt, text)
        })
    };
    let run = Run {
        settings,
        config: &config,
        tokenizer: &tokenizer,
        record: serde_json::to_value(settings).expect("settings serialize"),
        licenses: train_shards.header.licenses.clone(),
        torch,
    };
    run_loop(&run, source.as_ref(), None, resume, stop, &sample)
}

/// Text shown at each evaluation (a continuation, a chat answer) from the
/// current weights and step; `None` for nothing.
pub type SampleFn<'a> = dyn Fn(&ModelConfig, &[f32], u64) -> Option<String> + 'a;

/// What [`run_loop`] needs besides the data.
pub struct Run<'a> {
    /// Batch shape, schedule, optimizer, evaluation and checkpoint cadence.
    pub settings: &'a TrainSettings,
    pub config: &'a ModelConfig,
    pub tokenizer: &'a Tokenizer,
    /// Saved in every checkpoint's state.json: how the run was configured.
    pub record: serde_json::Value,
    /// The licenses of the data the weights learn from, saved in every checkpoint.
    pub licenses: Vec<crate::data::license::SourceLicense>,
    /// Computed by PyTorch instead of fledge's engine, when given.
    pub torch: Option<TorchOptions>,
}

/// The training loop shared by pretraining and fine-tuning: steps, learning
/// rate schedule, divergence checks, metrics, evaluation, samples, and
/// checkpoints (every `checkpoint_every` steps, at the end, and on Ctrl-C).
/// Starts from `init` weights when given (fine-tuning), else from a fresh
/// initialization; `resume` continues the newest checkpoint in the run folder.
pub fn run_loop(
    run: &Run,
    source: &dyn BatchSource,
    init: Option<Vec<f32>>,
    resume: bool,
    stop: Arc<AtomicBool>,
    sample: &SampleFn,
) -> Result<RunSummary, TrainError> {
    let settings = run.settings;
    settings.validate()?;
    // Resolved before anything is written, so that `bf16` on a CPU without
    // it fails at once. The torch engine picks its own precision.
    let precision = if run.torch.is_some() { None } else { Some(settings.precision.resolve()?) };
    std::fs::create_dir_all(&settings.out).map_err(io_err(&settings.out))?;

    let adamw = AdamWConfig { weight_decay: settings.weight_decay, ..Default::default() };
    // With the torch engine, fledge's engine only holds the weights between
    // checkpoints: its activation buffers need not be a batch's.
    let (batch, seq_len) = if run.torch.is_some() { (1, 1) } else { (settings.batch, settings.seq_len) };
    let anchor = decay_anchor(settings, init.as_deref(), run.torch.is_some())?;
    let (mut trainer, mut state) = starting_point(run, init, resume, (batch, seq_len), adamw)?;
    if let Some(anchor) = anchor {
        trainer.optimizer.anchor_to(anchor, settings.decay_to_init);
    }
    let mut worker = start_engines(run, &mut trainer, &mut state, precision, adamw)?;
    let hardware = match &worker {
        Some(w) => w.hardware.clone(),
        None => format!("{} ({} threads)", crate::bench::cpu_name(), rayon::current_num_threads()),
    };
    let mut metrics = MetricsLog::open(&settings.out, state.step)?;
    let saver = Saver { run, hardware, start: Instant::now(), seconds_before: state.train_seconds };

    let bar = crate::progress::count_bar(settings.steps, "training", "steps");
    bar.set_position(state.step);
    let mut window = Throughput { start: Instant::now(), tokens: 0 };
    let mut last_loss = f32::NAN;
    let mut last_val = (None, None);
    let mut interrupted = false;
    let mut last_checkpoint = checkpoint::latest(&settings.out)?.unwrap_or_default();
    let mut stopped_early = false;

    while state.step < settings.steps {
        if stop.load(Ordering::Relaxed) {
            interrupted = true;
            break;
        }
        let lr = settings.lr_at(state.step);
        let (stats, step_tokens) =
            match train_step(source, settings, &mut trainer, &mut worker, &state, lr, &last_checkpoint) {
                Ok(done) => done,
                Err(e) => {
                    bar.abandon();
                    return Err(e);
                }
            };
        state.step += 1;
        state.micro_batches += settings.grad_accum as u64;
        state.tokens_seen += step_tokens;
        window.tokens += step_tokens;
        last_loss = stats.loss;
        bar.set_position(state.step);

        let mut metric = Metric {
            step: state.step,
            tokens: state.tokens_seen,
            loss: Some(stats.loss),
            lr: Some(lr),
            grad_norm: Some(stats.grad_norm),
            tokens_per_s: None,
            val_loss: None,
            val_bpb: None,
            val_sets: BTreeMap::new(),
        };
        if state.step % settings.log_every == 0 || state.step == settings.steps {
            let tps = window.take();
            metric.tokens_per_s = Some(tps);
            bar.set_message(format!("loss {:.3} {:.0} tok/s", stats.loss, tps));
        }
        let evaluating = state.step % settings.eval_every == 0 || state.step == settings.steps;
        if evaluating || state.step % settings.checkpoint_every == 0 {
            pull(&mut worker, &mut trainer)?;
        }
        if evaluating {
            let eval = match validate(
                source,
                &mut trainer,
                &mut worker,
                &mut state,
                settings,
                &mut metric,
                &last_checkpoint,
            ) {
                Ok(eval) => eval,
                Err(e) => {
                    bar.abandon();
                    return Err(e);
                }
            };
            last_val = (metric.val_loss, metric.val_bpb);
            if eval.improved && settings.keep_best {
                saver.write(&settings.out.join("best"), &trainer, &state)?;
            }
            stopped_early = eval.stop;
            bar.suspend(|| tracing::info!("{}", eval.line));
            if let Some(text) = sample(run.config, &trainer.params, state.step) {
                bar.suspend(|| tracing::info!("sample: {text}"));
            }
            // Evaluation does not count towards the throughput window.
            window.restart();
        }
        metrics.append(&metric)?;
        if state.step % settings.checkpoint_every == 0 || state.step == settings.steps || stopped_early {
            metrics.flush()?;
            last_checkpoint = saver.save(&trainer, &state, &metrics.path)?;
            window.restart();
        }
        if stopped_early {
            bar.suspend(|| {
                tracing::info!(
                    "stopping at step {}: validation loss has not improved for {} evaluations (best {:.4} at step {})",
                    state.step,
                    state.evals_since_best,
                    state.best_val_loss.unwrap_or(f64::NAN),
                    state.best_step.unwrap_or(0)
                )
            });
            break;
        }
    }
    if interrupted {
        bar.suspend(|| tracing::info!(step = state.step, "interrupted: saving a checkpoint"));
        metrics.flush()?;
        pull(&mut worker, &mut trainer)?;
        last_checkpoint = saver.save(&trainer, &state, &metrics.path)?;
    }
    bar.finish_and_clear();
    Ok(RunSummary {
        steps: state.step,
        tokens: state.tokens_seen,
        seconds: saver.start.elapsed().as_secs_f64(),
        final_loss: last_loss,
        val_loss: last_val.0,
        val_bpb: last_val.1,
        interrupted,
        checkpoint: last_checkpoint,
        best: state.best_step.zip(state.best_val_loss),
        stopped_early,
    })
}

/// The weights decay pulls toward (`decay_to_init`): a copy of the starting
/// weights, or none when there is no pull; refused without starting weights
/// (pretraining) or with the torch engine, which does not implement it.
fn decay_anchor(settings: &TrainSettings, init: Option<&[f32]>, torch: bool) -> Result<Option<Vec<f32>>, TrainError> {
    match (settings.decay_to_init > 0.0, init, torch) {
        (false, ..) => Ok(None),
        (true, Some(init), false) => Ok(Some(init.to_vec())),
        (true, None, _) => {
            Err(TrainError::Settings("decay toward the starting weights needs starting weights (a base model)".into()))
        }
        (true, _, true) => {
            Err(TrainError::Settings("decay toward the base is not available with the torch engine".into()))
        }
    }
}

/// Sets fledge's engine to its precision, or starts the torch worker that
/// computes the steps instead (from the trainer's weights and moments),
/// and records in `state` which precision the steps use.
fn start_engines(
    run: &Run,
    trainer: &mut Trainer,
    state: &mut TrainState,
    precision: Option<Precision>,
    adamw: AdamWConfig,
) -> Result<Option<TorchWorker>, TrainError> {
    let settings = run.settings;
    if let Some(p) = precision {
        trainer.engine.set_precision(p)?;
        tracing::info!(precision = %p, requested = %settings.precision, "matrix products in {p}");
    }
    state.precision = precision;
    let Some(options) = &run.torch else { return Ok(None) };
    let worker = TorchWorker::start(
        &TorchOptions { precision: settings.precision, ..options.clone() },
        run.config,
        &trainer.engine.layout,
        (&trainer.params, &trainer.optimizer.m, &trainer.optimizer.v),
        trainer.optimizer.step,
        adamw,
        settings.clip,
        (settings.batch, settings.seq_len),
    )?;
    tracing::info!(precision = %worker.precision, requested = %settings.precision, "torch computes in {}", worker.precision);
    state.precision = Some(worker.precision);
    Ok(Some(worker))
}

/// One optimizer step over `grad_accum` micro-batches: its loss and gradient
/// norm, and how many tokens carried loss (all of them in pretraining, the
/// assistant's in fine-tuning). A non-finite loss or gradient is an error
/// ([`TrainError::Diverged`], naming `last_checkpoint` to go back to): the
/// weights are about to be garbage, and must not be saved.
fn train_step(
    source: &dyn BatchSource,
    settings: &TrainSettings,
    trainer: &mut Trainer,
    worker: &mut Option<TorchWorker>,
    state: &TrainState,
    lr: f32,
    last_checkpoint: &Path,
) -> Result<(StepStats, u64), TrainError> {
    let batches: Vec<Batch> = (0..settings.grad_accum as u64).map(|a| source.batch(state.micro_batches + a)).collect();
    let tokens: u64 = batches.iter().map(|b| b.targets.iter().filter(|&&t| t != IGNORE).count() as u64).sum();
    let stats = match worker {
        Some(w) => {
            let stats = w.step(&batches, lr)?;
            trainer.optimizer.step += 1;
            stats
        }
        None => trainer.step(&batches, lr),
    };
    if !stats.loss.is_finite() || !stats.grad_norm.is_finite() {
        let loss = if stats.loss.is_finite() { stats.grad_norm } else { stats.loss };
        return Err(TrainError::Diverged { step: state.step + 1, loss, out: last_checkpoint.to_path_buf() });
    }
    Ok((stats, tokens))
}

/// What one validation decided, besides the figures it wrote into the metric.
struct Validated {
    /// The selected loss is the best so far: its weights become `best`.
    improved: bool,
    /// `early_stop` evaluations have passed without a new best.
    stop: bool,
    /// The log line: step, losses, bits per byte per set, learning rate.
    line: String,
}

/// Scores the validation sets with the current weights (the torch worker's,
/// when it computes the steps), writes the figures into `metric`, and
/// updates the best-so-far bookkeeping in `state`.
fn validate(
    source: &dyn BatchSource,
    trainer: &mut Trainer,
    worker: &mut Option<TorchWorker>,
    state: &mut TrainState,
    settings: &TrainSettings,
    metric: &mut Metric,
    last_checkpoint: &Path,
) -> Result<Validated, TrainError> {
    let eval = match worker {
        Some(w) => source.evaluate(w)?,
        None => source.evaluate(&mut EngineScorer { engine: &mut trainer.engine, params: &trainer.params })?,
    };
    if !eval.loss.is_finite() {
        return Err(TrainError::Diverged {
            step: state.step,
            loss: eval.loss as f32,
            out: last_checkpoint.to_path_buf(),
        });
    }
    metric.val_loss = Some(eval.loss);
    metric.val_bpb = eval.bpb;
    metric.val_sets = eval.sets.iter().map(|(name, &(_, bpb))| (name.clone(), bpb)).collect();
    // The loss that picks the best checkpoint: one set's, or all of it.
    let selected = settings.best_on.as_ref().and_then(|s| eval.sets.get(s)).map_or(eval.loss, |&(loss, _)| loss);
    let (improved, stop) = note_validation(state, settings, selected);
    let line = format!(
        "step {:>6}  loss {:.4}  val loss {:.4}{}{}  lr {:.2e}",
        state.step,
        metric.loss.unwrap_or(f32::NAN),
        eval.loss,
        eval.bpb.map(|b| format!("  val bpb {b:.4}")).unwrap_or_default(),
        eval.sets.iter().map(|(name, (_, b))| format!("  {name} {b:.4}")).collect::<String>(),
        metric.lr.unwrap_or(f32::NAN)
    );
    Ok(Validated { improved, stop, line })
}

/// Copies the torch worker's weights and moments into `trainer`, before they
/// are evaluated on the CPU (samples) or saved. Nothing to do without one.
fn pull(worker: &mut Option<TorchWorker>, trainer: &mut Trainer) -> Result<(), TrainError> {
    match worker {
        Some(w) => w.pull(&mut trainer.params, &mut trainer.optimizer.m, &mut trainer.optimizer.v),
        None => Ok(()),
    }
}

/// Tokens per second over the steps since the last restart; evaluation and
/// checkpoints restart it so that they do not count.
struct Throughput {
    start: Instant,
    tokens: u64,
}

impl Throughput {
    /// The rate so far, then a fresh window.
    fn take(&mut self) -> f64 {
        let tps = self.tokens as f64 / self.start.elapsed().as_secs_f64();
        self.restart();
        tps
    }

    fn restart(&mut self) {
        self.start = Instant::now();
        self.tokens = 0;
    }
}

/// `metrics.jsonl`, one [`Metric`] a step, appended.
struct MetricsLog {
    path: PathBuf,
    file: std::fs::File,
}

impl MetricsLog {
    /// Opens the run's log for appending, first dropping the lines past
    /// `step` that a resumed run is about to write again.
    fn open(out: &Path, step: u64) -> Result<Self, TrainError> {
        let path = out.join("metrics.jsonl");
        truncate_metrics(&path, step)?;
        let file = std::fs::OpenOptions::new().create(true).append(true).open(&path).map_err(io_err(&path))?;
        Ok(Self { path, file })
    }

    fn append(&mut self, metric: &Metric) -> Result<(), TrainError> {
        writeln!(self.file, "{}", serde_json::to_string(metric).expect("metric serializes")).map_err(io_err(&self.path))
    }

    fn flush(&mut self) -> Result<(), TrainError> {
        self.file.flush().map_err(io_err(&self.path))
    }
}

/// Writes checkpoints: the weights, moments and tokenizer, with the state
/// that resumes them, the time trained so far and the hardware it ran on.
struct Saver<'a> {
    run: &'a Run<'a>,
    hardware: String,
    /// When this process started training, and how long earlier processes
    /// of the same run trained.
    start: Instant,
    seconds_before: f64,
}

impl Saver<'_> {
    fn write(&self, dir: &Path, trainer: &Trainer, state: &TrainState) -> Result<(), TrainError> {
        let mut state = state.clone();
        state.adam_step = trainer.optimizer.step;
        state.train_seconds = self.seconds_before + self.start.elapsed().as_secs_f64();
        state.hardware = Some(self.hardware.clone());
        checkpoint::save(
            dir,
            self.run.config,
            &trainer.engine.layout,
            &trainer.params,
            &trainer.optimizer.m,
            &trainer.optimizer.v,
            self.run.tokenizer,
            &state,
        )?;
        Ok(())
    }

    /// A step checkpoint: written, made the one `--resume` continues, older
    /// ones pruned to `keep_checkpoints`, and the loss curve redrawn.
    fn save(&self, trainer: &Trainer, state: &TrainState, metrics: &Path) -> Result<PathBuf, TrainError> {
        let settings = self.run.settings;
        let dir = settings.out.join(format!("step-{:06}", state.step));
        self.write(&dir, trainer, state)?;
        checkpoint::set_latest(&settings.out, &dir)?;
        checkpoint::prune(&settings.out, settings.keep_checkpoints);
        let png = settings.out.join("loss.png");
        super::plot::loss_curve(&read_metrics(metrics)?, &png).map_err(io_err(&png))?;
        Ok(dir)
    }
}

/// Records an evaluation's selected validation loss in `state`: returns
/// whether it is the best so far (its checkpoint becomes `best`) and whether
/// the run should stop early (`early_stop` evaluations without a new best).
fn note_validation(state: &mut TrainState, settings: &TrainSettings, selected: f64) -> (bool, bool) {
    // With a mid-training phase, only its checkpoints are candidates:
    // the ones before it have never seen a conversation.
    let phase_start = settings.mid.as_ref().map_or(0, |m| m.start_step(settings.steps));
    let eligible = state.step > phase_start;
    let first_of_phase = state.best_step.map_or(true, |b| b <= phase_start);
    let improved = eligible && (first_of_phase || state.best_val_loss.map_or(true, |b| selected < b));
    if improved {
        state.best_val_loss = Some(selected);
        state.best_step = Some(state.step);
        state.evals_since_best = 0;
    } else if eligible {
        state.evals_since_best += 1;
    }
    let stop = !improved && eligible && settings.early_stop > 0 && state.evals_since_best >= settings.early_stop;
    (improved, stop)
}

/// The trainer and state a run starts from: the newest intact checkpoint of
/// the run folder with `resume` (its weights, moments and counters), else
/// `init` weights (fine-tuning) or a fresh initialization. A run folder that
/// already holds a run is refused without `resume`, so nothing is overwritten.
fn starting_point(
    run: &Run,
    init: Option<Vec<f32>>,
    resume: bool,
    (batch, seq_len): (usize, usize),
    adamw: AdamWConfig,
) -> Result<(Trainer, TrainState), TrainError> {
    let (settings, config) = (run.settings, run.config);
    let fresh = |init: Option<Vec<f32>>| match init {
        Some(params) => Trainer::from_params(config, batch, seq_len, params, adamw, settings.clip),
        None => Trainer::new(config, batch, seq_len, settings.seed, adamw, settings.clip),
    };
    let state = TrainState {
        step: 0,
        tokens_seen: 0,
        micro_batches: 0,
        data_seed: settings.seed,
        adam_step: 0,
        best_val_loss: None,
        settings: run.record.clone(),
        train_seconds: 0.0,
        hardware: None,
        best_step: None,
        evals_since_best: 0,
        data_licenses: run.licenses.clone(),
        precision: None,
    };
    match (resume, checkpoint::latest(&settings.out)?) {
        (true, Some(latest)) => {
            let checkpoint::Resumable { dir, loaded, state: saved, damaged } =
                checkpoint::load_resumable(&settings.out, &latest)?;
            for e in &damaged {
                tracing::warn!("{e}");
            }
            if !damaged.is_empty() {
                tracing::warn!("resuming from {} instead, the newest intact checkpoint", dir.display());
            }
            if loaded.config != *config {
                return Err(CheckpointError::Mismatch {
                    path: dir,
                    message: format!("it holds {:?}, this run asks for {:?}", loaded.config, config),
                }
                .into());
            }
            let mut t = Trainer::from_params(config, batch, seq_len, loaded.params, adamw, settings.clip);
            if let (Some(m), Some(v)) = (loaded.m, loaded.v) {
                t.optimizer.m = m;
                t.optimizer.v = v;
            }
            t.optimizer.step = saved.adam_step;
            tracing::info!(checkpoint = %dir.display(), step = saved.step, "resuming");
            Ok((t, TrainState { settings: state.settings, data_licenses: state.data_licenses, ..saved }))
        }
        (true, None) => {
            tracing::info!(out = %settings.out.display(), "no checkpoint to resume from; starting fresh");
            Ok((fresh(init), state))
        }
        (false, Some(_)) => Err(TrainError::Settings(format!(
            "{} already holds a training run; pass --resume to continue it, or choose another --out",
            settings.out.display()
        ))),
        (false, None) => Ok((fresh(init), state)),
    }
}

/// Drops metric lines past `step` (from a run that went on after the
/// checkpoint being resumed), so the file reads as one uninterrupted run.
fn truncate_metrics(path: &Path, step: u64) -> Result<(), TrainError> {
    if !path.exists() {
        return Ok(());
    }
    let text = std::fs::read_to_string(path).map_err(io_err(path))?;
    let kept: Vec<&str> =
        text.lines().filter(|l| serde_json::from_str::<Metric>(l).map(|m| m.step <= step).unwrap_or(false)).collect();
    let mut out = kept.join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    crate::fsutil::write_atomic(path, out.as_bytes()).map_err(io_err(path))
}

/// Reads `metrics.jsonl`.
pub fn read_metrics(path: &Path) -> Result<Vec<Metric>, TrainError> {
    let text = std::fs::read_to_string(path).map_err(io_err(path))?;
    Ok(text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_span_comes_again_later_word_for_word_and_the_text_reads_on() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut distances = std::collections::BTreeSet::new();
        for n in [24usize, 57, 257] {
            for _ in 0..50 {
                let original: Vec<u32> = (1000..1000 + n as u32).collect();
                let mut text = original.clone();
                repeat_a_span(&mut text, &mut rng);
                assert_eq!(text.len(), n);
                // The first token out of order starts the copy: a span of the text before it.
                let to = (0..n).find(|&i| text[i] != original[i]).expect("a span was repeated");
                let from = (text[to] - 1000) as usize;
                assert!(from < to);
                // A span of 8 to n/3 tokens, then the text goes on where it was cut.
                let fits = |len: usize| {
                    to + len <= n
                        && text[to..to + len] == original[from..from + len]
                        && text[to + len..] == original[to..n - len]
                };
                assert!((8..=n / 3).any(fits), "n {n}: {text:?}");
                distances.insert(to - from);
            }
        }
        assert!(distances.len() > 20, "the copy lies at many distances: {distances:?}");
        // Too short to hold a span twice: left alone.
        let mut short: Vec<u32> = (0..20).collect();
        repeat_a_span(&mut short, &mut rng);
        assert_eq!(short, (0..20).collect::<Vec<u32>>());
    }

    #[test]
    fn a_repeated_row_is_one_text_and_other_rows_are_untouched() {
        let seq = 64;
        let inputs: Vec<u32> = (0..2 * seq as u32).map(|i| 100 + i + (i / seq as u32)).collect();
        let targets: Vec<u32> = inputs.iter().map(|t| t + 1).collect();
        let mut batch = Batch { inputs: inputs.clone(), targets: targets.clone(), segment_starts: None };
        repeat_in_row(&mut batch, 1, seq, &mut ChaCha8Rng::seed_from_u64(1));
        assert_eq!(batch.inputs[..seq], inputs[..seq]);
        assert_eq!(batch.targets[..seq], targets[..seq]);
        assert_ne!(batch.inputs[seq..], inputs[seq..]);
        for i in 0..seq - 1 {
            assert_eq!(batch.targets[seq + i], batch.inputs[seq + i + 1], "position {i}");
        }
    }

    #[test]
    fn repeat_fraction_is_a_share() {
        for bad in [-0.1f32, 1.5, f32::NAN] {
            let settings = TrainSettings { repeat_fraction: bad, ..Default::default() };
            let err = settings.validate().unwrap_err().to_string();
            assert!(err.contains("repeat_fraction"), "{err}");
            let settings = TrainSettings { copy_warmup_fraction: bad, ..Default::default() };
            let err = settings.validate().unwrap_err().to_string();
            assert!(err.contains("copy_warmup_fraction"), "{err}");
        }
    }

    /// A copy warm-up row is a sequence read twice from the start, and only
    /// the copyable tokens of the second reading are targets; its length varies.
    #[test]
    fn copy_warmup_rows_count_only_the_copy() {
        let tokens: Vec<u32> = (10..60).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut lengths = std::collections::BTreeSet::new();
        for _ in 0..50 {
            let (mut inputs, mut targets) = (vec![0u32; 96], vec![0u32; 96]);
            copy_warmup_row(&mut inputs, &mut targets, &tokens, &mut rng);
            assert!(inputs.iter().all(|t| tokens.contains(t)), "drawn from the given tokens");
            let counted: Vec<usize> = (0..96).filter(|&i| targets[i] != IGNORE).collect();
            // Targets at n..2n-1 (n - 1 of them): the copy of inputs 1..n.
            let n = counted.len() + 1;
            assert!((8..=32).contains(&n), "{n}");
            assert_eq!(counted, (n..2 * n - 1).collect::<Vec<_>>());
            assert_eq!(inputs[n..2 * n], inputs[..n].to_vec(), "read twice");
            for &i in &counted {
                assert_eq!(targets[i], inputs[i + 1], "the next token");
            }
            lengths.insert(n);
        }
        assert!(lengths.len() > 10, "lengths vary: {lengths:?}");
    }

    #[test]
    fn validation_windows_score_every_token_once() {
        let tokens: Vec<u32> = (0..100).collect();
        let set = ValSet::new("s", &tokens, 16, 100);
        // 99 targets (every token but the first) in ceil(99 / 16) = 7 windows.
        assert_eq!(set.inputs.len(), 7 * 16);
        let targets: Vec<u32> = set.targets.iter().copied().filter(|&t| t != IGNORE).collect();
        assert_eq!(targets, (1..100).collect::<Vec<u32>>());
        for (i, t) in set.inputs.iter().zip(&set.targets) {
            if *t != IGNORE {
                assert_eq!(i + 1, *t, "each target follows its input");
            }
        }
        assert_eq!(ValSet::new("s", &tokens, 16, 3).inputs.len(), 3 * 16, "capped");
        assert!(ValSet::new("s", &tokens[..1], 16, 3).inputs.is_empty());
    }
    use crate::data::shards::tokenize_corpus;

    /// A tokenizer and shards from text the test writes.
    fn tiny_data(dir: &Path) -> (PathBuf, PathBuf) {
        let corpus = dir.join("corpus");
        std::fs::create_dir_all(&corpus).unwrap();
        let doc = |i: usize| {
            serde_json::json!({"text": format!("The fox {i} ran to the river. The bird {} sang in the tree, and the sun was warm.", i * 7 % 13), "source": "t"}).to_string()
        };
        let lines: Vec<String> = (0..400).map(doc).collect();
        std::fs::write(corpus.join("train.jsonl"), lines.join("\n")).unwrap();
        std::fs::write(corpus.join("val.jsonl"), lines[..40].join("\n")).unwrap();
        let texts = lines
            .iter()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["text"].as_str().unwrap().to_string());
        let tok = Tokenizer::train(texts, 300, false).unwrap();
        let tok_path = dir.join("tokenizer.json");
        tok.save(&tok_path).unwrap();
        let shards = dir.join("shards");
        tokenize_corpus(&corpus, &tok, &shards, 1_000_000, 0.0).unwrap();
        (tok_path, shards)
    }

    fn settings(dir: &Path, tok: &Path, shards: &Path, out: &str) -> TrainSettings {
        let mut model = ModelConfig::preset("tiny", 300).unwrap();
        model.d_model = 32;
        model.n_heads = 2;
        model.n_kv_heads = 2;
        model.n_layers = 2;
        model.ffn_hidden = 64;
        let model_path = dir.join("model.toml");
        std::fs::write(&model_path, toml::to_string(&model).unwrap()).unwrap();
        TrainSettings {
            model_config: Some(model_path),
            data: shards.to_path_buf(),
            tokenizer: tok.to_path_buf(),
            out: dir.join(out),
            batch: 4,
            seq_len: 32,
            grad_accum: 2,
            steps: 8,
            warmup_steps: 2,
            eval_every: 4,
            eval_batches: 2,
            checkpoint_every: 3,
            keep_checkpoints: 10,
            log_every: 1,
            ..Default::default()
        }
    }

    fn losses(out: &Path) -> Vec<(u64, u32, Option<u64>)> {
        read_metrics(&out.join("metrics.jsonl"))
            .unwrap()
            .iter()
            .map(|m| (m.step, m.loss.unwrap().to_bits(), m.val_loss.map(f64::to_bits)))
            .collect()
    }

    #[test]
    fn resumed_run_matches_uninterrupted_run_bit_for_bit() {
        let dir = tempfile::tempdir().unwrap();
        let (tok, shards) = tiny_data(dir.path());
        let stop = Arc::new(AtomicBool::new(false));
        let a = settings(dir.path(), &tok, &shards, "a");
        train(&a, false, stop.clone()).unwrap();

        // Run b completes too, then is rewound to its step-3 checkpoint, as
        // if it had been killed between steps 3 and 8, and resumed.
        let b = settings(dir.path(), &tok, &shards, "b");
        train(&b, false, stop.clone()).unwrap();
        checkpoint::set_latest(&b.out, &b.out.join("step-000003")).unwrap();
        let summary = train(&b, true, stop.clone()).unwrap();
        assert_eq!(summary.steps, 8);
        let (la, lb) = (losses(&a.out), losses(&b.out));
        assert_eq!(la.len(), 8);
        assert_eq!(la, lb, "resumed losses differ from the uninterrupted run");

        // A fresh run into a folder with a run in it is refused, not overwritten.
        let err = train(&b, false, stop.clone()).unwrap_err().to_string();
        assert!(err.contains("--resume"), "{err}");
        // A checkpoint of another model is refused on resume.
        let mut other = b.clone();
        let mut model = ModelConfig::load(b.model_config.as_ref().unwrap()).unwrap();
        model.n_layers = 3;
        let p = dir.path().join("other.toml");
        std::fs::write(&p, toml::to_string(&model).unwrap()).unwrap();
        other.model_config = Some(p);
        let err = train(&other, true, stop.clone()).unwrap_err().to_string();
        assert!(err.contains("different model"), "{err}");

        // A truncated latest checkpoint (killed while written, or a full
        // disk): resuming continues from the newest intact one, step 6, and
        // still ends where the uninterrupted run did.
        let ckpt = b.out.join("step-000008/model.safetensors");
        let len = std::fs::metadata(&ckpt).unwrap().len();
        std::fs::OpenOptions::new().write(true).open(&ckpt).unwrap().set_len(len / 2).unwrap();
        let summary = train(&b, true, stop.clone()).unwrap();
        assert_eq!(summary.steps, 8);
        assert_eq!(losses(&b.out), la, "resumed from step 6, the losses are the uninterrupted run's");
        assert!(checkpoint::load(&b.out.join("step-000008")).is_ok(), "step 8 is written whole again");

        // With no intact checkpoint, resuming fails with the files named and
        // leaves the run as it was.
        for step in [3, 6, 8] {
            let ckpt = b.out.join(format!("step-{step:06}/optimizer.safetensors"));
            let len = std::fs::metadata(&ckpt).unwrap().len();
            std::fs::OpenOptions::new().write(true).open(&ckpt).unwrap().set_len(len / 2).unwrap();
        }
        let err = train(&b, true, stop).unwrap_err().to_string();
        assert!(err.contains("step-000008/optimizer.safetensors") && err.contains("truncated or corrupt"), "{err}");
        assert_eq!(losses(&b.out), la, "a failed resume leaves the metrics as they were");
    }

    /// Bit-exact resume with bf16 products too (where the CPU has them).
    #[test]
    fn resumed_bf16_run_matches_uninterrupted_run_bit_for_bit() {
        if !crate::model::bf16::available() {
            eprintln!("skipped: this CPU ({}) lacks AVX512-BF16", crate::bench::cpu_name());
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let (tok, shards) = tiny_data(dir.path());
        let stop = Arc::new(AtomicBool::new(false));
        let bf16 = |out: &str| TrainSettings { precision: Precision::Bf16, ..settings(dir.path(), &tok, &shards, out) };
        let (a, b) = (bf16("a"), bf16("b"));
        train(&a, false, stop.clone()).unwrap();
        train(&b, false, stop.clone()).unwrap();
        checkpoint::set_latest(&b.out, &b.out.join("step-000003")).unwrap();
        train(&b, true, stop.clone()).unwrap();
        let (la, lb) = (losses(&a.out), losses(&b.out));
        assert_eq!(la.len(), 8);
        assert_eq!(la, lb, "resumed bf16 losses differ from the uninterrupted run");
        let state = checkpoint::load_state(&b.out.join("step-000008")).unwrap().unwrap();
        assert_eq!(state.precision, Some(Precision::Bf16), "the checkpoint records the precision");
        // And they are not the f32 run's: the products really ran in bf16.
        let f = settings(dir.path(), &tok, &shards, "f");
        train(&f, false, stop).unwrap();
        assert_ne!(losses(&f.out), la);
    }

    #[test]
    fn a_mid_training_phase_mixes_conversations_into_the_last_steps_and_resumes_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let (tok, shards) = tiny_data(dir.path());
        let chat = dir.path().join("chat.jsonl");
        let conversation = |i: usize| {
            serde_json::json!({"messages": [
                {"role": "context", "content": format!("The fox {i} ran to the river.")},
                {"role": "user", "content": "Where did the fox run?"},
                {"role": "assistant", "content": "to the river"}]})
            .to_string()
        };
        std::fs::write(&chat, (0..50).map(conversation).collect::<Vec<_>>().join("\n")).unwrap();
        let mid = crate::train::mid::MidSettings {
            start: 0.5,
            chat_fraction: 0.5,
            sources: vec![crate::chat::sft::SftSource { path: chat, weight: 1.0 }],
        };
        let with_mid = |out: &str| TrainSettings {
            mid: Some(mid.clone()),
            seq_len: 96,
            ..settings(dir.path(), &tok, &shards, out)
        };
        let stop = Arc::new(AtomicBool::new(false));

        // Before the phase the batches are pretraining's; in it, conversation
        // windows (segments, loss on the answers only) are mixed in.
        let a = with_mid("a");
        let tokenizer = Tokenizer::load(&tok).unwrap();
        let (train_shards, val_shards) =
            (TokenShards::open(&shards, "train").unwrap(), TokenShards::open(&shards, "val").unwrap());
        let pretrain = PretrainBatches::new(&train_shards, &val_shards, &tokenizer, &a).unwrap();
        let plain = PretrainBatches::new(&train_shards, &val_shards, &tokenizer, &a).unwrap();
        let source =
            crate::train::mid::MidBatches::new(pretrain, &train_shards, &tokenizer, &a, a.mid.as_ref().unwrap())
                .unwrap();
        let start = 4 * a.grad_accum as u64;
        for i in 0..start {
            assert_eq!(source.batch(i).inputs, plain.batch(i).inputs, "micro-batch {i}");
        }
        let ignored =
            (start..start + 4).map(|i| source.batch(i).targets.iter().filter(|&&t| t == IGNORE).count()).sum::<usize>();
        assert!(ignored > 0, "conversation windows carry loss on the answers only");

        train(&a, false, stop.clone()).unwrap();
        assert!(a.out.join("mid-data.json").exists());
        let b = with_mid("b");
        train(&b, false, stop.clone()).unwrap();
        checkpoint::set_latest(&b.out, &b.out.join("step-000006")).unwrap();
        train(&b, true, stop).unwrap();
        assert_eq!(losses(&a.out), losses(&b.out), "resumed in the phase, the losses are the uninterrupted run's");
        // The best checkpoint is one of the phase's.
        let best = checkpoint::load_state(&a.out.join("best")).unwrap().unwrap();
        assert!(best.step > 4, "best at step {}", best.step);
    }

    #[test]
    fn the_best_checkpoint_is_kept_and_early_stop_ends_a_run_that_stopped_improving() {
        let dir = tempfile::tempdir().unwrap();
        let (tok, shards) = tiny_data(dir.path());
        let mut s = settings(dir.path(), &tok, &shards, "e");
        // A learning rate high enough that validation loss soon wobbles.
        (s.steps, s.eval_every, s.checkpoint_every, s.lr, s.warmup_steps, s.early_stop) = (80, 1, 100, 0.05, 1, 2);
        let summary = train(&s, false, Arc::new(AtomicBool::new(false))).unwrap();
        let vals: Vec<(u64, f64)> = read_metrics(&s.out.join("metrics.jsonl"))
            .unwrap()
            .iter()
            .filter_map(|m| Some((m.step, m.val_loss?)))
            .collect();
        let best = vals.iter().cloned().reduce(|a, b| if b.1 < a.1 { b } else { a }).unwrap();
        assert!(summary.stopped_early, "validation improved at every one of {} evaluations", vals.len());
        assert!(summary.steps < 80 && summary.steps == vals.last().unwrap().0);
        assert_eq!(summary.best, Some(best));
        // The last two evaluations did not improve on the best.
        assert!(vals[vals.len() - 2..].iter().all(|v| v.1 >= best.1), "{vals:?}");
        let kept = checkpoint::load(&s.out.join("best")).unwrap();
        assert_eq!(kept.state.unwrap().step, best.0);
        assert_eq!(checkpoint::latest(&s.out).unwrap(), Some(s.out.join(format!("step-{:06}", summary.steps))));
    }

    #[test]
    fn divergence_stops_with_the_step_and_keeps_the_last_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let (tok, shards) = tiny_data(dir.path());
        let mut s = settings(dir.path(), &tok, &shards, "nan");
        s.lr = 1e30;
        s.warmup_steps = 0;
        s.clip = 0.0;
        s.checkpoint_every = 1;
        let err = train(&s, false, Arc::new(AtomicBool::new(false))).unwrap_err();
        let TrainError::Diverged { step, .. } = err else { panic!("expected divergence, got {err}") };
        assert!(step >= 1, "the first step's weights were finite");
        let msg = err.to_string();
        assert!(msg.contains(&format!("step {step}")) && msg.contains("step-"), "{msg}");
        // The checkpoint named in the message is whole and loads.
        let latest = checkpoint::latest(&s.out).unwrap().unwrap();
        assert!(checkpoint::load(&latest).unwrap().params.iter().all(|p| p.is_finite()));
    }

    #[test]
    fn schedules_warm_up_and_decay() {
        let s = TrainSettings { steps: 100, warmup_steps: 10, lr: 1.0, min_lr_ratio: 0.1, ..Default::default() };
        assert!((s.lr_at(0) - 0.1).abs() < 1e-6);
        assert!((s.lr_at(9) - 1.0).abs() < 1e-6);
        assert!((s.lr_at(10) - 1.0).abs() < 1e-6);
        assert!((s.lr_at(99) - 0.1).abs() < 0.01);
        let w = TrainSettings { schedule: Schedule::Wsd, decay_fraction: 0.2, ..s };
        assert_eq!(w.lr_at(50), 1.0);
        assert!(w.lr_at(90) < 1.0 && w.lr_at(90) > 0.1);
    }

    /// The pull toward the base needs a base and fledge's engine; with no
    /// pull there is nothing to hold.
    #[test]
    fn decay_toward_the_base_needs_starting_weights_and_fledges_engine() {
        let pulled = TrainSettings { decay_to_init: 5.0, ..Default::default() };
        let base = [0.5f32, -1.0];
        assert_eq!(decay_anchor(&pulled, Some(&base), false).unwrap(), Some(base.to_vec()));
        assert_eq!(decay_anchor(&TrainSettings::default(), Some(&base), false).unwrap(), None);
        let no_base = decay_anchor(&pulled, None, false).unwrap_err().to_string();
        assert!(no_base.contains("needs starting weights"), "{no_base}");
        let torch = decay_anchor(&pulled, Some(&base), true).unwrap_err().to_string();
        assert!(torch.contains("torch engine"), "{torch}");
    }
}
