//! `fledge import`: a Hugging Face `LlamaForCausalLM` folder (config.json,
//! safetensors, tokenizer.json) into a fledge checkpoint, so that generate,
//! chat, sft and serve work on it. Weights in f32, f16 or bf16, one file or
//! sharded (`model.safetensors.index.json`).

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use safetensors::tensor::Dtype;
use safetensors::SafeTensors;
use serde_json::Value;

use super::{file_err, ExportError};
use crate::model::params::ParamLayout;
use crate::model::ModelConfig;
use crate::tokenizer::Tokenizer;
use crate::train::checkpoint;

/// The architectures `import` reads.
pub const SUPPORTED: &str = "LlamaForCausalLM (model_type \"llama\")";

/// fledge's config from an HF `config.json`, refusing what the engine does not implement.
pub fn config_from_hf(path: &Path) -> Result<ModelConfig, ExportError> {
    let text = fs::read_to_string(path).map_err(|e| file_err(path, e))?;
    let j: Value = serde_json::from_str(&text).map_err(|e| file_err(path, e))?;
    let invalid = |message: String| ExportError::Invalid { path: path.to_path_buf(), message };
    let arch = j["architectures"].as_array().and_then(|a| a.first()).and_then(Value::as_str).unwrap_or("");
    if arch != "LlamaForCausalLM" && j["model_type"] != "llama" {
        let found = if arch.is_empty() { j["model_type"].as_str().unwrap_or("none given") } else { arch };
        return Err(ExportError::Unsupported(format!(
            "{}: the architecture is {found}; fledge imports {SUPPORTED}",
            path.display()
        )));
    }
    let int = |key: &str| -> Result<usize, ExportError> {
        j[key].as_u64().map(|v| v as usize).ok_or_else(|| invalid(format!("`{key}` is missing or not a whole number")))
    };
    let heads = int("num_attention_heads")?;
    let d_model = int("hidden_size")?;
    if let Some(hd) = j["head_dim"].as_u64() {
        if hd as usize * heads != d_model {
            return Err(invalid(format!(
                "head_dim {hd} × {heads} heads ≠ hidden_size {d_model}: fledge needs head_dim = hidden_size / heads"
            )));
        }
    }
    let act = j["hidden_act"].as_str().unwrap_or("silu");
    if act != "silu" {
        return Err(invalid(format!("hidden_act is {act}; fledge's MLP is SwiGLU (silu)")));
    }
    for key in ["attention_bias", "mlp_bias"] {
        if j[key].as_bool() == Some(true) {
            return Err(invalid(format!("`{key}` is true; fledge's Llama has no biases")));
        }
    }
    if !j["rope_scaling"].is_null() {
        return Err(invalid(format!(
            "rope_scaling {} is not supported (plain rotary embeddings only)",
            j["rope_scaling"]
        )));
    }
    let config = ModelConfig {
        vocab_size: int("vocab_size")?,
        d_model,
        n_layers: int("num_hidden_layers")?,
        n_heads: heads,
        n_kv_heads: j["num_key_value_heads"].as_u64().map(|v| v as usize).unwrap_or(heads),
        ffn_hidden: int("intermediate_size")?,
        max_seq_len: int("max_position_embeddings")?,
        rope_theta: j["rope_theta"].as_f64().unwrap_or(10000.0) as f32,
        norm_eps: j["rms_norm_eps"].as_f64().unwrap_or(1e-6) as f32,
        tie_embeddings: j["tie_word_embeddings"].as_bool().unwrap_or(false),
    };
    config.validate().map_err(|e| invalid(e.to_string()))?;
    Ok(config)
}

/// The safetensors files of a folder: one, or the shards its index names.
fn weight_files(dir: &Path) -> Result<Vec<PathBuf>, ExportError> {
    let single = dir.join("model.safetensors");
    if single.exists() {
        return Ok(vec![single]);
    }
    let index = dir.join("model.safetensors.index.json");
    let text = fs::read_to_string(&index).map_err(|_| ExportError::Invalid {
        path: dir.to_path_buf(),
        message: "no model.safetensors or model.safetensors.index.json (fledge imports safetensors weights)".into(),
    })?;
    let j: Value = serde_json::from_str(&text).map_err(|e| file_err(&index, e))?;
    let mut files: Vec<String> = j["weight_map"]
        .as_object()
        .ok_or_else(|| ExportError::Invalid { path: index.clone(), message: "no weight_map".into() })?
        .values()
        .filter_map(|v| v.as_str().map(String::from))
        .collect();
    files.sort();
    files.dedup();
    Ok(files.into_iter().map(|f| dir.join(f)).collect())
}

fn to_f32(dtype: Dtype, bytes: &[u8]) -> Option<Vec<f32>> {
    Some(match dtype {
        Dtype::F32 => bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect(),
        Dtype::F16 => bytes.chunks_exact(2).map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32()).collect(),
        Dtype::BF16 => bytes.chunks_exact(2).map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32()).collect(),
        _ => return None,
    })
}

/// Reads the HF folder `dir` and writes a fledge checkpoint to `out`
/// (refused if `out` holds files fledge did not write, unless `force`: then
/// they are kept beside it). Returns the config it imported.
/// The folder's record (`fledge.json`, or its fledge model card) comes along,
/// so that exporting the checkpoint again keeps the name and licenses.
pub fn import(dir: &Path, out: &Path, force: bool) -> Result<ModelConfig, ExportError> {
    let (config, params, tokenizer) = read_hf(dir)?;
    let record = super::record::read(dir)?.map(|r| super::record::to_json(&r));
    let extra: Vec<(&str, &[u8])> = record.iter().map(|json| (super::record::RECORD_FILE, json.as_bytes())).collect();
    checkpoint::save_weights(out, &config, &ParamLayout::new(&config), &params, &tokenizer, force, &extra)?;
    Ok(config)
}

/// Whether `dir` looks like a Hugging Face model folder (not a fledge checkpoint).
pub fn is_hf_folder(dir: &Path) -> bool {
    dir.join("config.json").is_file() && !dir.join("model.toml").is_file()
}

/// Reads an HF LlamaForCausalLM folder (config.json, safetensors weights in
/// F32, F16 or BF16, tokenizer.json) into fledge's config, weights and tokenizer.
pub fn read_hf(dir: &Path) -> Result<(ModelConfig, Vec<f32>, Tokenizer), ExportError> {
    let config = config_from_hf(&dir.join("config.json"))?;
    let tok_path = dir.join("tokenizer.json");
    let tokenizer = Tokenizer::load(&tok_path).map_err(|e| file_err(&tok_path, e))?;
    if tokenizer.vocab_size() != config.vocab_size {
        return Err(ExportError::Invalid {
            path: dir.to_path_buf(),
            message: format!(
                "tokenizer.json has {} tokens but config.json's vocab_size is {}; fledge needs them equal",
                tokenizer.vocab_size(),
                config.vocab_size
            ),
        });
    }
    let layout = ParamLayout::new(&config);
    let files = weight_files(dir)?;
    // The config says how many weights there are; the files must hold them
    // (2 bytes each at the least, in F16 or BF16) before room is made for
    // them, so a config.json that does not match its weights is refused here
    // rather than by a failed allocation.
    let mut held = 0u64;
    for file in &files {
        held += fs::metadata(file).map_err(|e| file_err(file, e))?.len();
    }
    let needed = layout.total as u64 * 2;
    if held < needed {
        return Err(ExportError::Invalid {
            path: dir.join("config.json"),
            message: format!(
                "describes {} parameters ({needed} bytes at the least) but the weights hold {held} bytes: config.json does not match the weights; use the config.json that came with them",
                layout.total
            ),
        });
    }
    let mut params = vec![0.0f32; layout.total];
    let mut found: HashMap<String, ()> = HashMap::new();
    for file in files {
        let bytes = fs::read(&file).map_err(|e| file_err(&file, e))?;
        let st = SafeTensors::deserialize(&bytes)
            .map_err(|e| file_err(&file, format!("not a valid safetensors file: {e}")))?;
        for t in &layout.tensors {
            let Ok(view) = st.tensor(&t.name) else { continue };
            if view.shape() != t.shape.as_slice() {
                return Err(ExportError::Invalid {
                    path: file.clone(),
                    message: format!("{} has shape {:?}; config.json implies {:?}", t.name, view.shape(), t.shape),
                });
            }
            let values = to_f32(view.dtype(), view.data()).ok_or_else(|| ExportError::Invalid {
                path: file.clone(),
                message: format!("{} is {:?}; fledge reads F32, F16 and BF16", t.name, view.dtype()),
            })?;
            params[t.range()].copy_from_slice(&values);
            found.insert(t.name.clone(), ());
        }
    }
    let missing: Vec<&str> =
        layout.tensors.iter().filter(|t| !found.contains_key(&t.name)).map(|t| t.name.as_str()).collect();
    if !missing.is_empty() {
        return Err(ExportError::Invalid {
            path: dir.to_path_buf(),
            message: format!(
                "{} tensors are missing, first {}",
                missing.len(),
                missing[..missing.len().min(3)].join(", ")
            ),
        });
    }
    Ok((config, params, tokenizer))
}
