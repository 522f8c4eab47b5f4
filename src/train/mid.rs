//! Mid-training: conversations mixed into the last part of pretraining.
//!
//! A base model that has only read stories has never seen a question answered
//! from a text before fine-tuning starts, and fine-tuning's few hundred steps
//! are all it gets to learn to copy a span. Mid-training gives it more: from
//! `start` (a fraction of the run's steps) to the end, a share of the windows
//! (`chat_fraction`) are conversations rendered with the chat template —
//! reading comprehension made from the corpus, story requests — packed as
//! fine-tuning packs them, with loss on the assistant's tokens; the rest stay
//! pretraining text. The schedule and optimizer are the run's own: the phase
//! is the tail of the same run, not a second one (AdaptLLM, ICLR 2024, mixes
//! its exercises into continued pretraining the same way).
//!
//! Validation stays pretraining's (bits per byte of the validation text), so
//! the curve shows what the phase costs the model's language; the best
//! checkpoint is chosen among the phase's evaluations, since the weights
//! before it have not seen a conversation.

use serde::{Deserialize, Serialize};

use super::run::{BatchSource, Evaluation, PretrainBatches, Scorer, TrainError, TrainSettings};
use crate::chat::sft::{log_data_report, SftBatches, SftSettings, SftSource};
use crate::data::shards::{Batch, TokenShards};
use crate::tokenizer::Tokenizer;

/// The `[mid]` table of a training recipe.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MidSettings {
    /// Where the phase starts, as a fraction of the run's steps (0.8: the last 20%).
    pub start: f32,
    /// The share of the phase's windows that are conversations; the rest are pretraining text.
    pub chat_fraction: f32,
    /// Conversation sets (`fledge data chat / rc / stories` folders) and their weights.
    #[serde(rename = "source")]
    pub sources: Vec<SftSource>,
}

impl Default for MidSettings {
    fn default() -> Self {
        Self { start: 0.8, chat_fraction: 0.5, sources: Vec::new() }
    }
}

impl MidSettings {
    pub fn validate(&self) -> Result<(), TrainError> {
        let bad = |m: String| Err(TrainError::Settings(format!("[mid] {m}")));
        if !(0.0..1.0).contains(&self.start) {
            return bad(format!("start = {} must be in [0, 1): the fraction of steps before the phase", self.start));
        }
        if !(self.chat_fraction > 0.0 && self.chat_fraction <= 1.0) {
            return bad(format!("chat_fraction = {} must be in (0, 1]", self.chat_fraction));
        }
        if self.sources.is_empty() {
            return bad("has no conversation sources: add [[mid.source]] path = \"...\" entries".into());
        }
        Ok(())
    }

    /// The first step of the phase in a run of `steps` steps.
    pub fn start_step(&self, steps: u64) -> u64 {
        (self.start as f64 * steps as f64).round() as u64
    }
}

/// Pretraining windows until the phase, then the phase's mixed windows.
pub struct MidBatches<'a> {
    pretrain: PretrainBatches<'a>,
    chat: SftBatches<'a>,
    /// The first micro-batch of the phase.
    start: u64,
}

impl<'a> MidBatches<'a> {
    pub fn new(
        pretrain: PretrainBatches<'a>,
        train_shards: &'a TokenShards,
        tokenizer: &Tokenizer,
        settings: &TrainSettings,
        mid: &MidSettings,
    ) -> Result<Self, TrainError> {
        mid.validate()?;
        let start_step = mid.start_step(settings.steps);
        let micro = settings.grad_accum as u64;
        let windows = ((settings.steps - start_step) * micro) as usize * settings.batch;
        let chat_settings = SftSettings {
            sources: mid.sources.clone(),
            pretrain: Some(settings.data.clone()),
            pretrain_fraction: 1.0 - mid.chat_fraction,
            pack: true,
            seq_len: settings.seq_len,
            batch: settings.batch,
            seed: settings.seed,
            val_per_source: 0,
            ..SftSettings::default()
        };
        let (chat, report) = SftBatches::new(&chat_settings, tokenizer, Some(train_shards), windows.max(1))?;
        tracing::info!("mid-training from step {start_step} of {}:", settings.steps);
        log_data_report(&report, settings.seq_len);
        let path = settings.out.join("mid-data.json");
        std::fs::create_dir_all(&settings.out).map_err(|e| TrainError::Io { path: settings.out.clone(), source: e })?;
        crate::fsutil::write_atomic(&path, serde_json::to_string_pretty(&report).expect("serializes").as_bytes())
            .map_err(|e| TrainError::Io { path: path.clone(), source: e })?;
        Ok(Self { pretrain, chat, start: start_step * micro })
    }
}

impl BatchSource for MidBatches<'_> {
    fn batch(&self, index: u64) -> Batch {
        match index.checked_sub(self.start) {
            Some(i) => self.chat.batch(i),
            None => self.pretrain.batch(index),
        }
    }

    fn evaluate(&self, scorer: &mut dyn Scorer) -> Result<Evaluation, TrainError> {
        self.pretrain.evaluate(scorer)
    }
}
