//! One optimizer step: forward, backward and update over micro-batches.

use super::optim::{clip_grad_norm, AdamW, AdamWConfig};
use crate::data::shards::Batch;
use crate::model::kernels::IGNORE;
use crate::model::params::init_params;
use crate::model::{Engine, ModelConfig};

/// Model weights, their gradients, the optimizer and the engine's buffers.
pub struct Trainer {
    pub engine: Engine,
    pub params: Vec<f32>,
    pub grads: Vec<f32>,
    pub optimizer: AdamW,
    pub clip: f32,
}

/// What one step did.
#[derive(Debug, Clone, Copy)]
pub struct StepStats {
    pub loss: f32,
    pub grad_norm: f32,
}

impl Trainer {
    pub fn new(config: &ModelConfig, batch: usize, seq_len: usize, seed: u64, adamw: AdamWConfig, clip: f32) -> Self {
        let params = init_params(config, &crate::model::ParamLayout::new(config), seed);
        Self::from_params(config, batch, seq_len, params, adamw, clip)
    }

    /// A trainer starting from given weights (a checkpoint), with fresh optimizer state.
    pub fn from_params(
        config: &ModelConfig,
        batch: usize,
        seq_len: usize,
        params: Vec<f32>,
        adamw: AdamWConfig,
        clip: f32,
    ) -> Self {
        let engine = Engine::new(config, batch, seq_len);
        assert_eq!(params.len(), engine.layout.total, "parameter count matches the config");
        let grads = vec![0.0; params.len()];
        let optimizer = AdamW::new(adamw, &engine.layout);
        Self { engine, params, grads, optimizer, clip }
    }

    /// One step over `micro_batches`, each of `batch × seq_len` tokens. The
    /// loss is the mean over every counted target of the step (targets equal
    /// to IGNORE do not count), so a micro-batch weighs as much as the
    /// targets it carries.
    pub fn step(&mut self, micro_batches: &[Batch], lr: f32) -> StepStats {
        crate::model::kernels::zero(&mut self.grads);
        let counted = |b: &Batch| b.targets.iter().filter(|&&t| t != IGNORE).count();
        let total = micro_batches.iter().map(counted).sum::<usize>().max(1) as f32;
        let mut loss = 0.0;
        for b in micro_batches {
            let scale = counted(b) as f32 / total;
            self.engine.set_segments(b.segment_starts.as_deref());
            self.engine.forward(&self.params, &b.inputs);
            loss += self.engine.loss_and_grad_logits(&b.targets, scale) * scale;
            self.engine.backward(&self.params, &mut self.grads);
        }
        self.engine.set_segments(None);
        let _span = crate::model::profile::span(crate::model::profile::Kind::Optimizer);
        let grad_norm = clip_grad_norm(&mut self.grads, self.clip);
        self.optimizer.update(&mut self.params, &self.grads, lr);
        StepStats { loss, grad_norm }
    }
}
