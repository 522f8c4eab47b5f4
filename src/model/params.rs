//! Where every weight lives: one flat `f32` buffer, cut into tensors named as
//! Hugging Face's `LlamaForCausalLM` names them.
//!
//! One buffer makes the optimizer, gradient clipping and checkpointing single
//! loops over a slice, and gradients share the same layout. Linear weights are
//! stored as PyTorch stores them, `[out_features, in_features]` row-major, so a
//! checkpoint maps one-to-one onto the HF names and shapes.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::config::ModelConfig;

/// One named tensor inside the flat buffer.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorInfo {
    pub name: String,
    pub shape: Vec<usize>,
    pub offset: usize,
    /// Matrices get weight decay; norm gains do not.
    pub decay: bool,
}

impl TensorInfo {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn range(&self) -> std::ops::Range<usize> {
        self.offset..self.offset + self.len()
    }
}

/// Offsets of one transformer block's tensors.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LayerOffsets {
    pub attn_norm: usize,
    pub wq: usize,
    pub wk: usize,
    pub wv: usize,
    pub wo: usize,
    pub ffn_norm: usize,
    pub w_gate: usize,
    pub w_up: usize,
    pub w_down: usize,
}

/// The layout of all parameters of a model.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamLayout {
    pub tensors: Vec<TensorInfo>,
    pub embed: usize,
    pub layers: Vec<LayerOffsets>,
    pub final_norm: usize,
    /// The output head: the embedding when tied, else its own tensor.
    pub lm_head: usize,
    pub total: usize,
}

impl ParamLayout {
    pub fn new(c: &ModelConfig) -> Self {
        let d = c.d_model;
        let kv = c.n_kv_heads * c.head_dim();
        let mut tensors = Vec::new();
        let mut offset = 0;
        let mut add = |name: String, shape: Vec<usize>, decay: bool| {
            let info = TensorInfo { name, shape, offset, decay };
            offset += info.len();
            tensors.push(info);
            offset - tensors.last().expect("just pushed").len()
        };
        let embed = add("model.embed_tokens.weight".into(), vec![c.vocab_size, d], true);
        let mut layers = Vec::new();
        for i in 0..c.n_layers {
            let p = format!("model.layers.{i}");
            layers.push(LayerOffsets {
                attn_norm: add(format!("{p}.input_layernorm.weight"), vec![d], false),
                wq: add(format!("{p}.self_attn.q_proj.weight"), vec![d, d], true),
                wk: add(format!("{p}.self_attn.k_proj.weight"), vec![kv, d], true),
                wv: add(format!("{p}.self_attn.v_proj.weight"), vec![kv, d], true),
                wo: add(format!("{p}.self_attn.o_proj.weight"), vec![d, d], true),
                ffn_norm: add(format!("{p}.post_attention_layernorm.weight"), vec![d], false),
                w_gate: add(format!("{p}.mlp.gate_proj.weight"), vec![c.ffn_hidden, d], true),
                w_up: add(format!("{p}.mlp.up_proj.weight"), vec![c.ffn_hidden, d], true),
                w_down: add(format!("{p}.mlp.down_proj.weight"), vec![d, c.ffn_hidden], true),
            });
        }
        let final_norm = add("model.norm.weight".into(), vec![d], false);
        let lm_head = if c.tie_embeddings { embed } else { add("lm_head.weight".into(), vec![c.vocab_size, d], true) };
        Self { tensors, embed, layers, final_norm, lm_head, total: offset }
    }

    pub fn get(&self, name: &str) -> Option<&TensorInfo> {
        self.tensors.iter().find(|t| t.name == name)
    }
}

/// Initial weights as in GPT-2 / nanoGPT: normal(0, 0.02) for matrices, the
/// projections back into the residual stream (`o_proj`, `down_proj`) scaled
/// by 1/sqrt(2 * layers) so the stream's variance does not grow with depth,
/// and norm gains of one.
pub fn init_params(c: &ModelConfig, layout: &ParamLayout, seed: u64) -> Vec<f32> {
    let mut params = vec![0.0f32; layout.total];
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let residual_scale = 1.0 / (2.0 * c.n_layers as f32).sqrt();
    for t in &layout.tensors {
        let slice = &mut params[t.range()];
        if t.shape.len() == 1 {
            slice.fill(1.0);
            continue;
        }
        let std = if t.name.ends_with("o_proj.weight") || t.name.ends_with("down_proj.weight") {
            0.02 * residual_scale
        } else {
            0.02
        };
        for x in slice.iter_mut() {
            *x = std * standard_normal(&mut rng);
        }
    }
    params
}

/// A standard normal sample by the Box-Muller transform.
pub fn standard_normal(rng: &mut impl Rng) -> f32 {
    let u1: f64 = rng.gen_range(f64::MIN_POSITIVE..1.0);
    let u2: f64 = rng.gen();
    ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_covers_the_buffer_with_hf_names() {
        let c = ModelConfig::preset("reference", 4096).unwrap();
        let l = ParamLayout::new(&c);
        assert_eq!(l.total, c.num_params());
        assert_eq!(l.tensors.len(), 1 + 9 * 6 + 1);
        assert_eq!(l.get("model.layers.5.mlp.down_proj.weight").unwrap().shape, vec![256, 688]);
        assert_eq!(l.lm_head, l.embed);
        let mut end = 0;
        for t in &l.tensors {
            assert_eq!(t.offset, end);
            end += t.len();
        }
    }

    #[test]
    fn init_has_the_intended_spread() {
        let c = ModelConfig::preset("tiny", 512).unwrap();
        let l = ParamLayout::new(&c);
        let p = init_params(&c, &l, 1);
        let e = &p[l.get("model.embed_tokens.weight").unwrap().range()];
        let var = e.iter().map(|x| x * x).sum::<f32>() / e.len() as f32;
        assert!((var.sqrt() - 0.02).abs() < 0.001, "{}", var.sqrt());
        assert!(p[l.get("model.norm.weight").unwrap().range()].iter().all(|&x| x == 1.0));
        assert_eq!(p, init_params(&c, &l, 1), "same seed, same weights");
    }
}
