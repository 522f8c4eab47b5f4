//! AdamW with decoupled weight decay (Loshchilov & Hutter 2019), as PyTorch's
//! `torch.optim.AdamW` computes it, plus global-norm gradient clipping.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::model::params::ParamLayout;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AdamWConfig {
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub weight_decay: f32,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        Self { beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.1 }
    }
}

/// Optimizer state: first and second moments, laid out like the parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct AdamW {
    pub config: AdamWConfig,
    pub m: Vec<f32>,
    pub v: Vec<f32>,
    /// Steps taken so far (for bias correction).
    pub step: u64,
    /// Per parameter index range: whether it is decayed.
    decay_ranges: Vec<(std::ops::Range<usize>, bool)>,
}

impl AdamW {
    pub fn new(config: AdamWConfig, layout: &ParamLayout) -> Self {
        let decay_ranges = layout.tensors.iter().map(|t| (t.range(), t.decay)).collect();
        Self { config, m: vec![0.0; layout.total], v: vec![0.0; layout.total], step: 0, decay_ranges }
    }

    /// Decays every tensor, norm gains included, as PyTorch's AdamW does when
    /// given all parameters in one group (used to compare with PyTorch).
    pub fn decay_all(mut self) -> Self {
        for (_, decay) in self.decay_ranges.iter_mut() {
            *decay = true;
        }
        self
    }

    /// One update of `params` from `grads` at learning rate `lr`.
    pub fn update(&mut self, params: &mut [f32], grads: &[f32], lr: f32) {
        self.step += 1;
        let c = self.config;
        let bc1 = 1.0 - c.beta1.powi(self.step as i32);
        let bc2 = 1.0 - c.beta2.powi(self.step as i32);
        let step_size = lr / bc1;
        let bc2_sqrt = bc2.sqrt();
        for (range, decay) in &self.decay_ranges {
            let shrink = if *decay { 1.0 - lr * c.weight_decay } else { 1.0 };
            let p = &mut params[range.clone()];
            let m = &mut self.m[range.clone()];
            let v = &mut self.v[range.clone()];
            let g = &grads[range.clone()];
            p.par_chunks_mut(8192)
                .zip(m.par_chunks_mut(8192))
                .zip(v.par_chunks_mut(8192))
                .zip(g.par_chunks(8192))
                .for_each(|(((p, m), v), g)| {
                    for i in 0..p.len() {
                        m[i] = c.beta1 * m[i] + (1.0 - c.beta1) * g[i];
                        v[i] = c.beta2 * v[i] + (1.0 - c.beta2) * g[i] * g[i];
                        let denom = v[i].sqrt() / bc2_sqrt + c.eps;
                        p[i] = p[i] * shrink - step_size * m[i] / denom;
                    }
                });
        }
    }
}

/// Scales `grads` so their global L2 norm is at most `max_norm` (0: no
/// clipping); returns the norm before clipping.
pub fn clip_grad_norm(grads: &mut [f32], max_norm: f32) -> f32 {
    // Block sums collected in order, so the norm is the same on every run.
    let blocks: Vec<f64> =
        grads.par_chunks(8192).map(|c| c.iter().map(|&g| (g as f64) * (g as f64)).sum::<f64>()).collect();
    let sq: f64 = blocks.iter().sum();
    let norm = sq.sqrt() as f32;
    if max_norm > 0.0 && norm > max_norm && norm.is_finite() {
        let scale = max_norm / (norm + 1e-6);
        grads.par_chunks_mut(8192).for_each(|c| c.iter_mut().for_each(|g| *g *= scale));
    }
    norm
}
