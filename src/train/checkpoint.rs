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
//! It is written into a fresh hidden sibling folder and put in place as
//! `NAME` only when complete (swapped in one step with a previous `NAME`, see
//! [`crate::fsutil::FolderWriter`]), then `latest.json` (written atomically)
//! points at it: a kill at any moment leaves the previous checkpoint whole and
//! `latest.json` naming it. Files in the folder that fledge did not write are
//! never removed.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use safetensors::tensor::{Dtype, TensorView};
use serde::{Deserialize, Serialize};

use crate::fsutil::{write_atomic, FolderError, FolderKind, FolderWriter};
use crate::model::params::ParamLayout;
use crate::model::ModelConfig;
use crate::tokenizer::Tokenizer;

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("checkpoint {path} is for a different model: {message}. Resume with the config it was trained with, or start a new run in another --out folder")]
    Mismatch { path: PathBuf, message: String },
    #[error(transparent)]
    Folder(#[from] FolderError),
}

/// A checkpoint folder; before fledge listed its files there, they had these names.
pub const FOLDER: FolderKind = FolderKind {
    name: "checkpoint",
    legacy: &[
        "model.safetensors",
        "optimizer.safetensors",
        "state.json",
        "config.json",
        "model.toml",
        "tokenizer.json",
    ],
};

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
    /// The matrix products' precision of the last session (`f32` or `bf16`;
    /// absent in checkpoints written before it was recorded, which were f32).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precision: Option<crate::model::Precision>,
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

/// Writes a checkpoint folder `dir` whole, replacing a previous checkpoint
/// there in one step. Files in `dir` that fledge did not write are kept.
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
    // A run's own checkpoint folder: anything else found there is kept beside it.
    write_folder(dir, config, layout, params, tokenizer, Some((m, v, state)), true, &[])
}

/// Writes a checkpoint of weights only (no optimizer or training state):
/// what `fledge import` makes. It loads, generates, fine-tunes and serves
/// like any other; training from it starts the optimizer afresh. A `dir`
/// holding files fledge did not write is refused unless `force` (then they
/// are kept beside the checkpoint).
pub fn save_weights(
    dir: &Path,
    config: &ModelConfig,
    layout: &ParamLayout,
    params: &[f32],
    tokenizer: &Tokenizer,
    force: bool,
    extra_files: &[(&str, &[u8])],
) -> Result<(), CheckpointError> {
    write_folder(dir, config, layout, params, tokenizer, None, force, extra_files)
}

#[allow(clippy::too_many_arguments)]
fn write_folder(
    dir: &Path,
    config: &ModelConfig,
    layout: &ParamLayout,
    params: &[f32],
    tokenizer: &Tokenizer,
    training: Option<(&[f32], &[f32], &TrainState)>,
    force: bool,
    extra_files: &[(&str, &[u8])],
) -> Result<(), CheckpointError> {
    let folder = FolderWriter::create(dir, &FOLDER, force)?;
    let tmp = folder.path();
    let weights: Vec<_> =
        layout.tensors.iter().map(|t| (t.name.clone(), t.shape.clone(), f32_bytes(&params[t.range()]))).collect();
    write_atomic(tmp.join("model.safetensors"), &serialize(weights, dir)?).map_err(|e| file_err(tmp, e))?;
    if let Some((m, v, state)) = training {
        let mut moments = Vec::new();
        for t in &layout.tensors {
            moments.push((format!("m.{}", t.name), t.shape.clone(), f32_bytes(&m[t.range()])));
            moments.push((format!("v.{}", t.name), t.shape.clone(), f32_bytes(&v[t.range()])));
        }
        write_atomic(tmp.join("optimizer.safetensors"), &serialize(moments, dir)?).map_err(|e| file_err(tmp, e))?;
        write_atomic(tmp.join("state.json"), serde_json::to_string_pretty(state).expect("json").as_bytes())
            .map_err(|e| file_err(tmp, e))?;
    }
    let hf = config.to_hf_json(tokenizer.eot_id(), tokenizer.eot_id());
    write_atomic(tmp.join("config.json"), serde_json::to_string_pretty(&hf).expect("json").as_bytes())
        .map_err(|e| file_err(tmp, e))?;
    write_atomic(tmp.join("model.toml"), toml::to_string(config).expect("toml").as_bytes())
        .map_err(|e| file_err(tmp, e))?;
    tokenizer.save(&tmp.join("tokenizer.json")).map_err(|e| file_err(tmp, e))?;
    for (name, bytes) in extra_files {
        write_atomic(tmp.join(name), bytes).map_err(|e| file_err(tmp, e))?;
    }
    folder.commit()?;
    Ok(())
}

/// Records `dir` as the latest checkpoint of the run in `run_dir`.
pub fn set_latest(run_dir: &Path, dir: &Path) -> Result<(), CheckpointError> {
    let name = dir.file_name().expect("checkpoint folder has a name").to_string_lossy().into_owned();
    let json = serde_json::json!({ "checkpoint": name });
    write_atomic(run_dir.join("latest.json"), json.to_string().as_bytes()).map_err(|e| file_err(run_dir, e))
}

/// Deletes all but the newest `keep` `step-*` checkpoint folders of a run
/// (never the one `latest.json` names, nor files in them fledge did not write).
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
            if let Err(e) = crate::fsutil::remove_folder(&d, &FOLDER) {
                tracing::warn!("could not remove the old checkpoint {}: {e}", d.display());
            }
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

/// A checkpoint `--resume` can continue from: weights, optimizer moments and
/// training state all read back whole.
pub struct Resumable {
    pub dir: PathBuf,
    pub loaded: Loaded,
    pub state: TrainState,
    /// What was wrong with each newer checkpoint passed over, newest first.
    pub damaged: Vec<CheckpointError>,
}

/// The number of a `step-NNNNNN` checkpoint folder.
fn step_number(dir: &Path) -> Option<u64> {
    dir.file_name()?.to_str()?.strip_prefix("step-")?.parse().ok()
}

/// The checkpoint `--resume` continues in `run_dir`: `latest` (the one
/// `latest.json` names) or, when one of its files is damaged (truncated by a
/// kill or a full disk), the newest intact `step-*` checkpoint before it.
/// A checkpoint of another model is an error, not something to pass over.
pub fn load_resumable(run_dir: &Path, latest: &Path) -> Result<Resumable, CheckpointError> {
    let newest = step_number(latest).unwrap_or(u64::MAX);
    let mut earlier: Vec<(u64, PathBuf)> = fs::read_dir(run_dir)
        .map_err(|e| file_err(run_dir, e))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .filter_map(|p| Some((step_number(&p)?, p)))
        .filter(|(n, _)| *n < newest)
        .collect();
    earlier.sort_by_key(|(n, _)| std::cmp::Reverse(*n));
    let mut damaged = Vec::new();
    for dir in std::iter::once(latest.to_path_buf()).chain(earlier.into_iter().map(|(_, p)| p)) {
        match load(&dir) {
            Ok(mut loaded) => match loaded.state.take() {
                Some(state) => return Ok(Resumable { dir, loaded, state, damaged }),
                None => damaged.push(CheckpointError::File {
                    path: dir.join("state.json"),
                    message: "missing: this checkpoint cannot be resumed, only loaded".into(),
                }),
            },
            Err(e @ CheckpointError::Mismatch { .. }) => return Err(e),
            Err(e) => damaged.push(e),
        }
    }
    let reasons: Vec<String> = damaged.iter().map(|e| e.to_string()).collect();
    Err(CheckpointError::File {
        path: run_dir.to_path_buf(),
        message: format!(
            "no checkpoint here can be resumed ({}); start a new run without --resume, in another --out",
            reasons.join("; ")
        ),
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A run folder with `step-*` checkpoints of a small model at `steps`, the last one latest.
    fn run_with_checkpoints(run: &Path, steps: &[u64]) {
        let mut config = ModelConfig::preset("tiny", 300).unwrap();
        (config.d_model, config.n_heads, config.n_kv_heads, config.n_layers, config.ffn_hidden) = (32, 2, 2, 1, 64);
        let layout = ParamLayout::new(&config);
        let tok = Tokenizer::train(["a small text to learn from, a small text"].into_iter(), 300, false).unwrap();
        let zeros = vec![0.0; layout.total];
        for &step in steps {
            let dir = run.join(format!("step-{step:06}"));
            let state = TrainState { step, ..Default::default() };
            save(&dir, &config, &layout, &zeros, &zeros, &zeros, &tok, &state).unwrap();
            set_latest(run, &dir).unwrap();
        }
    }

    fn truncate(path: &Path) {
        let len = fs::metadata(path).unwrap().len();
        fs::OpenOptions::new().write(true).open(path).unwrap().set_len(len / 2).unwrap();
    }

    #[test]
    fn a_damaged_latest_checkpoint_falls_back_to_the_newest_intact_one_and_says_which_file() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        run_with_checkpoints(&run, &[3, 6, 8]);
        let latest = latest(&run).unwrap().unwrap();
        truncate(&run.join("step-000008/model.safetensors"));
        truncate(&run.join("step-000006/state.json"));
        let r = load_resumable(&run, &latest).unwrap();
        assert_eq!(r.dir, run.join("step-000003"));
        assert_eq!(r.state.step, 3);
        let said: Vec<String> = r.damaged.iter().map(|e| e.to_string()).collect();
        assert_eq!(said.len(), 2, "{said:?}");
        assert!(said[0].contains("step-000008/model.safetensors") && said[0].contains("truncated"), "{said:?}");
        assert!(said[1].contains("step-000006/state.json"), "{said:?}");
        // None intact: a clear error naming each damaged file.
        truncate(&run.join("step-000003/optimizer.safetensors"));
        let err = load_resumable(&run, &latest).err().unwrap().to_string();
        assert!(err.contains("step-000003/optimizer.safetensors") && err.contains("without --resume"), "{err}");
    }

    #[test]
    fn replacing_a_checkpoint_keeps_a_users_folder_of_the_old_temporary_name() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("run");
        // `best.tmp` was the fixed temporary name fledge used to remove first.
        fs::create_dir_all(run.join("best.tmp")).unwrap();
        fs::write(run.join("best.tmp/notes.txt"), "mine").unwrap();
        run_with_checkpoints(&run, &[1]);
        let src = run.join("step-000001");
        for _ in 0..2 {
            let loaded = load(&src).unwrap();
            let layout = ParamLayout::new(&loaded.config);
            let tok = Tokenizer::load(&src.join("tokenizer.json")).unwrap();
            let (m, v) = (loaded.m.unwrap(), loaded.v.unwrap());
            let state = loaded.state.unwrap();
            save(&run.join("best"), &loaded.config, &layout, &loaded.params, &m, &v, &tok, &state).unwrap();
            assert_eq!(load(&run.join("best")).unwrap().state.unwrap().step, 1);
        }
        assert_eq!(fs::read_to_string(run.join("best.tmp/notes.txt")).unwrap(), "mine");
        // Pruning removes fledge's checkpoint, not a file the user put in it.
        run_with_checkpoints(&run, &[2, 3]);
        fs::write(run.join("step-000001/notes.txt"), "mine").unwrap();
        prune(&run, 1);
        assert!(!run.join("step-000002").exists());
        assert_eq!(fs::read_to_string(run.join("step-000001/notes.txt")).unwrap(), "mine");
        assert!(!run.join("step-000001/model.safetensors").exists());
    }
}
