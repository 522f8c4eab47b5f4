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
    /// Weights every tensor is pulled back toward, and how hard (see
    /// [`AdamW::anchor_to`]); none in pretraining.
    anchor: Option<(Vec<f32>, f32)>,
}

impl AdamW {
    pub fn new(config: AdamWConfig, layout: &ParamLayout) -> Self {
        let decay_ranges = layout.tensors.iter().map(|t| (t.range(), t.decay)).collect();
        Self { config, m: vec![0.0; layout.total], v: vec![0.0; layout.total], step: 0, decay_ranges, anchor: None }
    }

    /// Decoupled decay toward `anchor` instead of toward zero, on every
    /// tensor: each step moves the weights `lr × strength` of the way back
    /// to it (L2-SP, Li et al. 2018, in AdamW's decoupled form). Fine-tuning
    /// anchors at the base model: Adam's steps are a random walk as much as a
    /// descent, and the walk away from the base is what costs its text.
    pub fn anchor_to(&mut self, anchor: Vec<f32>, strength: f32) {
        assert_eq!(anchor.len(), self.m.len(), "the anchor has one value per parameter");
        self.anchor = (strength > 0.0).then_some((anchor, strength));
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
            // The pull toward the anchor; weight decay toward zero stays in `shrink`.
            let (a, pull) = match &self.anchor {
                Some((a, strength)) => (Some(&a[range.clone()]), lr * strength),
                None => (None, 0.0),
            };
            p.par_chunks_mut(8192)
                .zip(m.par_chunks_mut(8192))
                .zip(v.par_chunks_mut(8192))
                .zip(g.par_chunks(8192))
                .enumerate()
                .for_each(|(chunk, (((p, m), v), g))| {
                    let a = a.map(|a| &a[chunk * 8192..chunk * 8192 + p.len()]);
                    for i in 0..p.len() {
                        m[i] = c.beta1 * m[i] + (1.0 - c.beta1) * g[i];
                        v[i] = c.beta2 * v[i] + (1.0 - c.beta2) * g[i] * g[i];
                        let denom = v[i].sqrt() / bc2_sqrt + c.eps;
                        let back = a.map_or(0.0, |a| pull * (p[i] - a[i]));
                        p[i] = p[i] * shrink - back - step_size * m[i] / denom;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ModelConfig, ParamLayout};

    fn layout() -> ParamLayout {
        ParamLayout::new(&ModelConfig::preset("tiny", 300).unwrap())
    }

    #[test]
    fn an_anchor_pulls_every_weight_back_by_lr_times_strength_each_step() {
        let layout = layout();
        let n = layout.total;
        let anchor: Vec<f32> = (0..n).map(|i| (i % 7) as f32 * 0.01).collect();
        let start: Vec<f32> = (0..n).map(|i| (i % 5) as f32 * 0.1 - 0.2).collect();
        let config = AdamWConfig { weight_decay: 0.0, ..Default::default() };
        let mut opt = AdamW::new(config, &layout);
        opt.anchor_to(anchor.clone(), 2.0);
        let mut params = start.clone();
        let zero = vec![0.0; n];
        for _ in 0..3 {
            opt.update(&mut params, &zero, 0.05);
        }
        // With no gradient, only the pull acts: the distance shrinks by (1 - 0.05 × 2)^3.
        let kept = 0.9f32.powi(3);
        for i in (0..n).step_by(997) {
            let want = anchor[i] + (start[i] - anchor[i]) * kept;
            assert!((params[i] - want).abs() < 1e-6, "weight {i}: {} against {want}", params[i]);
        }
    }

    #[test]
    fn with_gradients_an_anchored_step_is_adamw_plus_the_pull_and_strength_zero_is_plain_adamw() {
        let layout = layout();
        let n = layout.total;
        let grads: Vec<f32> = (0..n).map(|i| ((i * 31 % 17) as f32 - 8.0) * 0.01).collect();
        let start: Vec<f32> = (0..n).map(|i| ((i * 13 % 11) as f32 - 5.0) * 0.02).collect();
        let anchor: Vec<f32> = start.iter().map(|p| p + 0.03).collect();
        let config = AdamWConfig { weight_decay: 0.0, ..Default::default() };
        let (lr, strength) = (0.01, 3.0);

        let mut plain = start.clone();
        AdamW::new(config, &layout).update(&mut plain, &grads, lr);
        let mut off = start.clone();
        let mut unanchored = AdamW::new(config, &layout);
        unanchored.anchor_to(anchor.clone(), 0.0);
        unanchored.update(&mut off, &grads, lr);
        assert_eq!(plain, off, "strength 0 is no anchor");

        let mut pulled = start.clone();
        let mut anchored = AdamW::new(config, &layout);
        anchored.anchor_to(anchor.clone(), strength);
        anchored.update(&mut pulled, &grads, lr);
        for i in 0..n {
            // The anchor sits 0.03 above the start: one step adds lr × strength × 0.03.
            let want = plain[i] + lr * strength * 0.03;
            assert!((pulled[i] - want).abs() < 1e-6, "weight {i}: {} against {want}", pulled[i]);
        }
    }
}
