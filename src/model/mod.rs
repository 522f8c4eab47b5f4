//! The model: a Llama-style decoder (see `../shared/DESIGN.md`).
//!
//! - [`config`]: sizes, presets, TOML, and the HF `config.json` mapping.
//! - [`params`]: the flat parameter buffer and its HF tensor names; initialization.
//! - [`amx`]: bfloat16 matrix products on AMX tiles (Sapphire Rapids and later).
//! - [`amx_attention`]: causal attention's products on AMX tiles (bf16 training).
//! - [`attention`]: causal attention, register-tiled with run-time SIMD dispatch.
//! - [`bf16`]: bfloat16 matrix products on AVX512-BF16 (mixed precision).
//! - [`kernels`]: hand-written forward/backward kernels (why: see that module).
//! - [`lanes`]: sums, dot products and maxima in fixed-order SIMD lanes.
//! - [`engine`]: forward and backward of the whole model over a batch.

pub mod amx;
pub mod amx_attention;
pub mod attention;
pub mod bf16;
pub mod config;
pub mod engine;
pub mod kernels;
pub mod lanes;
pub mod params;
pub mod profile;

pub use bf16::Precision;
pub use config::ModelConfig;
pub use engine::Engine;
pub use params::ParamLayout;
