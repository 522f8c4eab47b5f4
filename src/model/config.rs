//! Model configuration: the Llama architecture's sizes, named presets, a TOML
//! form, and the Hugging Face `config.json` it maps onto one-to-one.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// The sizes of a Llama-style decoder (RMSNorm, rotary embeddings, SwiGLU,
/// grouped-query attention, no biases, optionally tied embeddings).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    pub vocab_size: usize,
    pub d_model: usize,
    pub n_layers: usize,
    pub n_heads: usize,
    /// Key/value heads; fewer than `n_heads` is grouped-query attention.
    pub n_kv_heads: usize,
    /// SwiGLU hidden size.
    pub ffn_hidden: usize,
    /// Longest sequence the model is trained and run on.
    pub max_seq_len: usize,
    #[serde(default = "default_rope_theta")]
    pub rope_theta: f32,
    #[serde(default = "default_norm_eps")]
    pub norm_eps: f32,
    #[serde(default = "default_tied")]
    pub tie_embeddings: bool,
}

fn default_rope_theta() -> f32 {
    10_000.0
}
fn default_norm_eps() -> f32 {
    1e-5
}
fn default_tied() -> bool {
    true
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("model config: {0}")]
    Invalid(String),
    #[error("unknown preset \"{0}\"; choose one of {PRESETS:?}")]
    UnknownPreset(String),
    #[error("{path}: {message}")]
    File { path: String, message: String },
}

/// The largest size fledge accepts for each field (with its name in an HF
/// `config.json`): far above any model a CPU can run, far below what would
/// overflow an allocation. A damaged or hostile config is refused by
/// [`ModelConfig::validate`] with the field named, before anything is
/// allocated from its numbers.
pub const SIZE_LIMITS: [(&str, &str, usize); 7] = [
    ("vocab_size", "vocab_size", 1 << 22),
    ("d_model", "hidden_size", 1 << 16),
    ("n_layers", "num_hidden_layers", 1 << 10),
    ("n_heads", "num_attention_heads", 1 << 10),
    ("n_kv_heads", "num_key_value_heads", 1 << 10),
    ("ffn_hidden", "intermediate_size", 1 << 18),
    ("max_seq_len", "max_position_embeddings", 1 << 20),
];

/// At most this many parameters (2^34, 17 billion: 64 GiB of f32 weights).
pub const MAX_PARAMS: usize = 1 << 34;

/// At most this many rotary-table entries per table (`max_seq_len × head_dim / 2`,
/// 2^25: 128 MiB each for the cosines and the sines).
pub const MAX_ROPE_ENTRIES: usize = 1 << 25;

/// Named presets, smallest first.
pub const PRESETS: [&str; 3] = ["tiny", "reference", "small"];

impl ModelConfig {
    /// A named preset. `reference` is the config of `../shared/bench`
    /// (5.8M parameters with a 4,096-token vocabulary).
    pub fn preset(name: &str, vocab_size: usize) -> Result<Self, ConfigError> {
        let base = |d_model, n_layers, n_heads, n_kv_heads, ffn_hidden| ModelConfig {
            vocab_size,
            d_model,
            n_layers,
            n_heads,
            n_kv_heads,
            ffn_hidden,
            max_seq_len: 256,
            rope_theta: default_rope_theta(),
            norm_eps: default_norm_eps(),
            tie_embeddings: true,
        };
        let config = match name {
            // ~1M parameters at vocab 4096: a few minutes of CPU training.
            "tiny" => base(128, 4, 4, 4, 384),
            // The bench's reference; FFN 688 kept so measurements compare.
            "reference" => base(256, 6, 8, 8, 688),
            // 15.7M parameters at vocab 4096: the larger size of the PyTorch
            // anchors in ../shared/data/README.md (d 384, 8 layers, FFN 1024).
            "small" => ModelConfig { max_seq_len: 512, ..base(384, 8, 6, 6, 1024) },
            other => return Err(ConfigError::UnknownPreset(other.to_string())),
        };
        config.validate()?;
        Ok(config)
    }

    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let err = |message: String| ConfigError::File { path: path.display().to_string(), message };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let config: ModelConfig = toml::from_str(&text).map_err(|e| err(e.to_string()))?;
        config.validate().map_err(|e| err(e.to_string()))?;
        Ok(config)
    }

    pub fn head_dim(&self) -> usize {
        self.d_model / self.n_heads
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::Invalid(m));
        let values = [
            self.vocab_size,
            self.d_model,
            self.n_layers,
            self.n_heads,
            self.n_kv_heads,
            self.ffn_hidden,
            self.max_seq_len,
        ];
        for ((name, hf_name, limit), value) in SIZE_LIMITS.iter().zip(values) {
            if value > *limit {
                return bad(format!(
                    "{name} (`{hf_name}` in an HF config.json) is {value}, above the most fledge accepts ({limit}): the file is damaged, or the model is far larger than a CPU can run; fix the number"
                ));
            }
        }
        if self.vocab_size == 0 || self.d_model == 0 || self.n_layers == 0 || self.n_heads == 0 {
            return bad("vocab_size, d_model, n_layers and n_heads must be positive".into());
        }
        if self.d_model % self.n_heads != 0 {
            return bad(format!(
                "d_model {} is not divisible by n_heads {}: each head needs d_model / n_heads dimensions",
                self.d_model, self.n_heads
            ));
        }
        if self.head_dim() % 2 != 0 {
            return bad(format!("head dimension {} must be even for rotary embeddings", self.head_dim()));
        }
        if self.n_kv_heads == 0 || self.n_heads % self.n_kv_heads != 0 {
            return bad(format!("n_heads {} must be a multiple of n_kv_heads {}", self.n_heads, self.n_kv_heads));
        }
        if self.ffn_hidden == 0 || self.max_seq_len == 0 {
            return bad("ffn_hidden and max_seq_len must be positive".into());
        }
        if !(self.norm_eps > 0.0 && self.rope_theta > 0.0) {
            return bad("norm_eps and rope_theta must be positive".into());
        }
        // Each size is bounded above, so these products cannot overflow.
        let params = self.num_params();
        if params > MAX_PARAMS {
            return bad(format!(
                "these sizes make {params} parameters, above the most fledge accepts ({MAX_PARAMS}, 64 GiB of f32): the file is damaged, or the model is far larger than a CPU can run"
            ));
        }
        let rope = self.max_seq_len * self.head_dim() / 2;
        if rope > MAX_ROPE_ENTRIES {
            return bad(format!(
                "max_seq_len {} × head dimension {} needs rotary tables of {rope} entries, above the most fledge accepts ({MAX_ROPE_ENTRIES}); lower max_seq_len (`max_position_embeddings`)",
                self.max_seq_len,
                self.head_dim()
            ));
        }
        Ok(())
    }

    /// Number of trainable parameters.
    pub fn num_params(&self) -> usize {
        let d = self.d_model;
        let kv = self.n_kv_heads * self.head_dim();
        let per_layer = 2 * d + d * d + 2 * d * kv + d * d + 3 * d * self.ffn_hidden;
        let embed = self.vocab_size * d;
        embed + self.n_layers * per_layer + d + if self.tie_embeddings { 0 } else { embed }
    }

    /// Floating-point operations to train on one token (forward + backward):
    /// 6 per weight of the matrix products, plus attention's score and value
    /// products (the PaLM paper's appendix B accounting).
    pub fn train_flops_per_token(&self, seq_len: usize) -> f64 {
        let d = self.d_model;
        let kv = self.n_kv_heads * self.head_dim();
        // Every weight that takes part in a matrix product, the output head included.
        let per_layer = 2 * d * d + 2 * d * kv + 3 * d * self.ffn_hidden;
        let weights = (self.n_layers * per_layer + self.vocab_size * d) as f64;
        let attention = 12.0 * (self.n_layers * d * seq_len) as f64;
        6.0 * weights + attention
    }

    /// The Hugging Face `config.json` of a `LlamaForCausalLM` with these sizes.
    pub fn to_hf_json(&self, bos_id: u32, eos_id: u32) -> serde_json::Value {
        serde_json::json!({
            "architectures": ["LlamaForCausalLM"],
            "model_type": "llama",
            "vocab_size": self.vocab_size,
            "hidden_size": self.d_model,
            "intermediate_size": self.ffn_hidden,
            "num_hidden_layers": self.n_layers,
            "num_attention_heads": self.n_heads,
            "num_key_value_heads": self.n_kv_heads,
            "head_dim": self.head_dim(),
            "max_position_embeddings": self.max_seq_len,
            "rms_norm_eps": self.norm_eps,
            "rope_theta": self.rope_theta,
            "hidden_act": "silu",
            "tie_word_embeddings": self.tie_embeddings,
            "attention_bias": false,
            "mlp_bias": false,
            "bos_token_id": bos_id,
            "eos_token_id": eos_id,
            "torch_dtype": "float32",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_preset_matches_the_bench() {
        let c = ModelConfig::preset("reference", 4096).unwrap();
        assert_eq!(c.num_params(), 5_795_072, "../shared/bench/README.md gives 5,795,072");
        // The bench README's 40 MFLOP per token.
        assert!((c.train_flops_per_token(256) / 1e6 - 39.5).abs() < 0.5);
    }

    #[test]
    fn preset_sizes() {
        let tiny = ModelConfig::preset("tiny", 4096).unwrap().num_params();
        let small = ModelConfig::preset("small", 4096).unwrap().num_params();
        assert!((700_000..1_500_000).contains(&tiny), "{tiny}");
        assert!((15_000_000..25_000_000).contains(&small), "{small}");
        assert!(ModelConfig::preset("huge", 4096).is_err());
    }

    #[test]
    fn bad_configs_are_explained() {
        let mut c = ModelConfig::preset("reference", 4096).unwrap();
        c.n_heads = 7;
        assert!(c.validate().unwrap_err().to_string().contains("not divisible by n_heads 7"));
        let mut c = ModelConfig::preset("reference", 4096).unwrap();
        c.n_kv_heads = 3;
        assert!(c.validate().is_err());
    }

    /// Issue 19, item 5: huge sizes are refused by name, and in bounded time,
    /// before anything is allocated from them.
    #[test]
    fn huge_sizes_are_refused_by_name() {
        let base = ModelConfig::preset("reference", 4096).unwrap();
        let cases = [
            (ModelConfig { d_model: 1_000_000_000, ..base.clone() }, "hidden_size"),
            (ModelConfig { n_layers: 1_000_000_000, ..base.clone() }, "num_hidden_layers"),
            (ModelConfig { max_seq_len: 1_000_000_000_000, ..base.clone() }, "max_position_embeddings"),
            (ModelConfig { vocab_size: usize::MAX, ..base.clone() }, "vocab_size"),
            // Each size allowed, their product not.
            (ModelConfig { d_model: 1 << 16, ffn_hidden: 1 << 18, n_layers: 1 << 10, ..base.clone() }, "parameters"),
            (ModelConfig { max_seq_len: 1 << 20, n_heads: 1, n_kv_heads: 1, ..base.clone() }, "rotary"),
        ];
        for (config, named) in cases {
            let err = config.validate().unwrap_err().to_string();
            assert!(err.contains(named), "{named}: {err}");
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.toml");
        let toml = toml::to_string(&base).unwrap().replace("n_layers = 6", "n_layers = 1000000000");
        std::fs::write(&path, toml).unwrap();
        let err = ModelConfig::load(&path).unwrap_err().to_string();
        assert!(err.contains("model.toml") && err.contains("n_layers"), "{err}");
    }
}
