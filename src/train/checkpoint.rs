//! Checkpoints: everything needed to resume training exactly, or to load the
//! model elsewhere.
//!
//! A checkpoint is a folder:
//! - `model.safetensors`: the weights under their Hugging Face names;
//! - `config.json`: the HF `LlamaForCausalLM` config; `model.toml`: fledge's;
//! - `tokenizer.json`: the tokenizer the model was trained with;
//! - `optimizer.safetensors`: AdamW's moments (`m.*`, `v.*` per tensor);
//! - `state.json`: step, tokens seen, the data position, seeds, and the
//!   training settings, so `--resume` continues where it stopped.
//!
//! It is written into `NAME.tmp` and renamed to `NAME` only when complete,
//! then `latest.json` (written atomically) points at it: a kill at any moment
//! leaves the previous checkpoint whole and `latest.json` naming it.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use safetensors::tensor::{Dtype, TensorView};
use serde::{Deserialize, Serialize};

use crate::fsutil::write_atomic;
use crate::model::params::ParamLayout;
use crate::model::ModelConfig;
use crate::tokenizer::Tokenizer;

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("checkpoint {path} is for a different model: {message}. Resume with the config it was trained with, or start a new run in another --out folder")]
    Mismatch { path: PathBuf, message: String },
}

fn file_err(path: &Path, e: impl std::fmt::Display) -> CheckpointError {
    CheckpointError::File { path: path.to_path_buf(), message: e.to_string() }
}

/// Where training stands; saved in `state.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct TrainState {
    pub step: u64,
    pub tokens_seen: u64,
    /// Micro-batches drawn so far: the data loader's position.
    pub micro_batches: u64,
    pub data_seed: u64,
    pub adam_step: u64,
    pub best_val_loss: Option<f64>,
    /// The training settings, for the record and for checks on resume.
    pub settings: serde_json::Value,
    /// Wall-clock seconds of training so far, summed over resumed sessions
    /// (0 in checkpoints written before it was recorded).
    #[serde(default)]
    pub train_seconds: f64,
    /// The processor and thread count of the last session, for the model card.
    #[serde(default)]
    pub hardware: Option<String>,
    /// The step of the lowest validation loss so far.
    #[serde(default)]
    pub best_step: Option<u64>,
    /// Evaluations since the validation loss last improved (for early stopping across resumes).
    #[serde(default)]
    pub evals_since_best: u64,
    /// The licenses of every source the weights were trained on, base model
    /// included (see [`crate::data::license`]), for the model card and export.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data_licenses: Vec<crate::data::license::SourceLicense>,
}

fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn serialize(tensors: Vec<(String, Vec<usize>, Vec<u8>)>, path: &Path) -> Result<Vec<u8>, CheckpointError> {
    let views: Vec<(String, TensorView)> = tensors
        .iter()
        .map(|(name, shape, bytes)| {
            TensorView::new(Dtype::F32, shape.clone(), bytes).map(|v| (name.clone(), v)).map_err(|e| file_err(path, e))
        })
        .collect::<Result<_, _>>()?;
    let metadata = HashMap::from([("format".to_string(), "pt".to_string())]);
    safetensors::serialize(views, &Some(metadata)).map_err(|e| file_err(path, e))
}

/// Writes a checkpoint folder `dir` (atomically, via `dir.tmp`).
#[allow(clippy::too_many_arguments)]
pub fn save(
    dir: &Path,
    config: &ModelConfig,
    layout: &ParamLayout,
    params: &[f32],
    m: &[f32],
    v: &[f32],
    tokenizer: &Tokenizer,
    state: &TrainState,
) -> Result<(), CheckpointError> {
    write_folder(dir, config, layout, params, tokenizer, Some((m, v, state)))
}

/// Writes a checkpoint of weights only (no optimizer or training state):
/// what `fledge import` makes. It loads, generates, fine-tunes and serves
/// like any other; training from it starts the optimizer afresh.
pub fn save_weights(
    dir: &Path,
    config: &ModelConfig,
    layout: &ParamLayout,
    params: &[f32],
    tokenizer: &Tokenizer,
) -> Result<(), CheckpointError> {
    write_folder(dir, config, layout, params, tokenizer, None)
}

fn write_folder(
    dir: &Path,
    config: &ModelConfig,
    layout: &ParamLayout,
    params: &[f32],
    tokenizer: &Tokenizer,
    training: Option<(&[f32], &[f32], &TrainState)>,
) -> Result<(), CheckpointError> {
    let tmp = dir.with_extension("tmp");
    if tmp.exists() {
        fs::remove_dir_all(&tmp).map_err(|e| file_err(&tmp, e))?;
    }
    fs::create_dir_all(&tmp).map_err(|e| file_err(&tmp, e))?;
    let weights: Vec<_> =
        layout.tensors.iter().map(|t| (t.name.clone(), t.shape.clone(), f32_bytes(&params[t.range()]))).collect();
    write_atomic(tmp.join("model.safetensors"), &serialize(weights, dir)?).map_err(|e| file_err(&tmp, e))?;
    if let Some((m, v, state)) = training {
        let mut moments = Vec::new();
        for t in &layout.tensors {
            moments.push((format!("m.{}", t.name), t.shape.clone(), f32_bytes(&m[t.range()])));
            moments.push((format!("v.{}", t.name), t.shape.clone(), f32_bytes(&v[t.range()])));
        }
        write_atomic(tmp.join("optimizer.safetensors"), &serialize(moments, dir)?).map_err(|e| file_err(&tmp, e))?;
        write_atomic(tmp.join("state.json"), serde_json::to_string_pretty(state).expect("json").as_bytes())
            .map_err(|e| file_err(&tmp, e))?;
    }
    let hf = config.to_hf_json(tokenizer.eot_id(), tokenizer.eot_id());
    write_atomic(tmp.join("config.json"), serde_json::to_string_pretty(&hf).expect("json").as_bytes())
        .map_err(|e| file_err(&tmp, e))?;
    write_atomic(tmp.join("model.toml"), toml::to_string(config).expect("toml").as_bytes())
        .map_err(|e| file_err(&tmp, e))?;
    tokenizer.save(&tmp.join("tokenizer.json")).map_err(|e| file_err(&tmp, e))?;
    if dir.exists() {
        fs::remove_dir_all(dir).map_err(|e| file_err(dir, e))?;
    }
    fs::rename(&tmp, dir).map_err(|e| file_err(dir, e))?;
    Ok(())
}

/// Records `dir` as the latest checkpoint of the run in `run_dir`.
pub fn set_latest(run_dir: &Path, dir: &Path) -> Result<(), CheckpointError> {
    let name = dir.file_name().expect("checkpoint folder has a name").to_string_lossy().into_owned();
    let json = serde_json::json!({ "checkpoint": name });
    write_atomic(run_dir.join("latest.json"), json.to_string().as_bytes()).map_err(|e| file_err(run_dir, e))
}

/// Deletes all but the newest `keep` `step-*` checkpoint folders of a run
/// (never the one `latest.json` names).
pub fn prune(run_dir: &Path, keep: usize) {
    let latest = latest(run_dir).ok().flatten();
    let Ok(entries) = fs::read_dir(run_dir) else { return };
    let mut dirs: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir() && p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("step-")))
        .filter(|p| p.extension().is_none())
        .collect();
    dirs.sort();
    let excess = dirs.len().saturating_sub(keep.max(1));
    for d in dirs.into_iter().take(excess) {
        if Some(&d) != latest.as_ref() {
            let _ = fs::remove_dir_all(&d);
        }
    }
}

/// The latest checkpoint folder of a run, if any.
pub fn latest(run_dir: &Path) -> Result<Option<PathBuf>, CheckpointError> {
    let path = run_dir.join("latest.json");
    if !path.exists() {
        return Ok(None);
    }
    let text = fs::read_to_string(&path).map_err(|e| file_err(&path, e))?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| file_err(&path, e))?;
    let name = v["checkpoint"].as_str().ok_or_else(|| file_err(&path, "no \"checkpoint\" field"))?;
    Ok(Some(run_dir.join(name)))
}

/// A loaded checkpoint.
pub struct Loaded {
    pub config: ModelConfig,
    pub params: Vec<f32>,
    pub m: Option<Vec<f32>>,
    pub v: Option<Vec<f32>>,
    pub state: Option<TrainState>,
}

fn read_tensors(path: &Path, layout: &ParamLayout, prefix: &str) -> Result<Vec<f32>, CheckpointError> {
    let bytes = fs::read(path).map_err(|e| file_err(path, e))?;
    let st = safetensors::SafeTensors::deserialize(&bytes)
        .map_err(|e| file_err(path, format!("not a valid safetensors file (truncated or corrupt?): {e}")))?;
    // Every tensor is checked against model.toml's shapes before room is
    // made for the weights: a model.toml that does not match the file (huge
    // sizes included) is refused here rather than by a failed allocation.
    let mut views = Vec::with_capacity(layout.tensors.len());
    for t in &layout.tensors {
        let name = format!("{prefix}{}", t.name);
        let view = st.tensor(&name).map_err(|_| CheckpointError::Mismatch {
            path: path.to_path_buf(),
            message: format!("tensor {name} is missing"),
        })?;
        if view.dtype() != Dtype::F32 || view.shape() != t.shape.as_slice() {
            return Err(CheckpointError::Mismatch {
                path: path.to_path_buf(),
                message: format!("{name} is {:?} {:?}, expected F32 {:?}", view.dtype(), view.shape(), t.shape),
            });
        }
        views.push(view);
    }
    let mut out = vec![0.0f32; layout.total];
    for (t, view) in layout.tensors.iter().zip(views) {
        for (o, c) in out[t.range()].iter_mut().zip(view.data().chunks_exact(4)) {
            *o = f32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        }
    }
    Ok(out)
}

/// A name for the model at `path`, for people and clients: the folder's
/// name, or the run's name for a `step-NNNNNN` checkpoint inside a run.
pub fn model_name(path: &Path) -> String {
    let name = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned());
    let own = name(path).unwrap_or_else(|| "fledge-model".into());
    if own.starts_with("step-") {
        if let Some(run) = path.parent().and_then(name) {
            return run;
        }
    }
    own
}

/// A checkpoint folder, or the latest checkpoint of a run folder.
pub fn resolve(path: &Path) -> Result<PathBuf, CheckpointError> {
    if path.join("model.safetensors").exists() {
        return Ok(path.to_path_buf());
    }
    latest(path)?.ok_or_else(|| CheckpointError::File {
        path: path.to_path_buf(),
        message: "neither a checkpoint (model.safetensors) nor a training run (latest.json)".into(),
    })
}

/// Loads a checkpoint folder; optimizer state and training state when present.
pub fn load(dir: &Path) -> Result<Loaded, CheckpointError> {
    let config_path = dir.join("model.toml");
    let config = ModelConfig::load(&config_path).map_err(|e| file_err(&config_path, e))?;
    let layout = ParamLayout::new(&config);
    let params = read_tensors(&dir.join("model.safetensors"), &layout, "")?;
    let opt_path = dir.join("optimizer.safetensors");
    let (m, v) = if opt_path.exists() {
        (Some(read_tensors(&opt_path, &layout, "m.")?), Some(read_tensors(&opt_path, &layout, "v.")?))
    } else {
        (None, None)
    };
    let state = load_state(dir)?;
    Ok(Loaded { config, params, m, v, state })
}

/// A checkpoint's training state alone (`None` for weights-only checkpoints),
/// without reading its weights.
pub fn load_state(dir: &Path) -> Result<Option<TrainState>, CheckpointError> {
    let state_path = dir.join("state.json");
    if !state_path.exists() {
        return Ok(None);
    }
    let text = fs::read_to_string(&state_path).map_err(|e| file_err(&state_path, e))?;
    Ok(Some(serde_json::from_str(&text).map_err(|e| file_err(&state_path, e))?))
}
