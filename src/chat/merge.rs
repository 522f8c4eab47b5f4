//! `fledge merge`: a chat model moved part of the way back to the base it was
//! tuned from, in weight space (WiSE-FT: Wortsman et al., "Robust fine-tuning
//! of zero-shot models", CVPR 2022).
//!
//! Fine-tuning moves every weight of the base a little. What the chat stage
//! teaches (the template, answering, stopping) and what it costs (the base's
//! fluency on plain text, which it partly forgets) are both in that move.
//! Keeping a share `alpha` of it,
//!
//! ```text
//! merged = base + alpha * (chat - base)        (alpha 1: the chat model, 0: the base)
//! ```
//!
//! often keeps most of what was taught while giving back much of what was
//! forgotten, because the two do not grow at the same rate along the line.
//! Whether it does for a given pair is a measurement: `fledge eval` and
//! `fledge inspect --summary` on a few values of `alpha`.
//!
//! The two models must share their architecture and tokenizer (a chat model
//! and its own base do); either may be a checkpoint, a run or an exported
//! Hugging Face folder. The result is a weights-only checkpoint that loads,
//! chats, serves and exports like any other; its `state.json` is the chat
//! model's, with the merge recorded in its settings and the licenses of both
//! models' data.

use std::path::{Path, PathBuf};

use crate::export::{ExportError, Source};
use crate::model::params::ParamLayout;
use crate::model::ModelConfig;
use crate::train::checkpoint::{self, CheckpointError, TrainState};

#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("--alpha {0}: must be a number from 0 (the base) to 1 (the chat model)")]
    Alpha(f32),
    #[error("{chat} and {base} are not one model before and after fine-tuning: {message}. Merge a chat model with the base it was tuned from (`fledge sft --base`)")]
    Mismatch { base: PathBuf, chat: PathBuf, message: String },
    #[error(transparent)]
    Load(#[from] ExportError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
}

/// What a merge did, for the command to print.
#[derive(Debug, Clone)]
pub struct MergeReport {
    pub base: PathBuf,
    pub chat: PathBuf,
    pub out: PathBuf,
    pub alpha: f32,
    /// ‖chat − base‖ / ‖base‖ over all weights: how far fine-tuning moved the model.
    pub tuning_move: f64,
}

/// The weights `base + alpha * (chat - base)`, element by element.
pub fn interpolate(base: &[f32], chat: &[f32], alpha: f32) -> Vec<f32> {
    base.iter().zip(chat).map(|(&b, &c)| b + alpha * (c - b)).collect()
}

fn norm(values: impl Iterator<Item = f32>) -> f64 {
    values.map(|v| f64::from(v) * f64::from(v)).sum::<f64>().sqrt()
}

/// The chat model's training record with the merge written into its settings
/// and both models' data licenses (a chat model fledge tuned already carries
/// its base's; an imported one may not).
fn merged_state(chat: &Source, base: &Source, report: &MergeReport) -> TrainState {
    let mut state = chat.state.clone().unwrap_or_default();
    state.data_licenses = crate::data::license::merge(&chat.licenses, &base.licenses);
    let merge = serde_json::json!({
        "base": report.base, "chat": report.chat, "alpha": report.alpha, "tuning_move": report.tuning_move,
    });
    state.settings = match std::mem::take(&mut state.settings) {
        serde_json::Value::Object(mut settings) => {
            settings.insert("merge".into(), merge);
            serde_json::Value::Object(settings)
        }
        other => serde_json::json!({ "merge": merge, "chat": other }),
    };
    state
}

/// Writes `base + alpha * (chat - base)` to `out` as a weights-only
/// checkpoint. `base` and `chat` are any models fledge loads (checkpoint,
/// run or Hugging Face folders). `out` holding files fledge did not write is
/// refused unless `force` (they are then kept beside the checkpoint).
pub fn merge(base: &Path, chat: &Path, alpha: f32, out: &Path, force: bool) -> Result<MergeReport, MergeError> {
    if !(0.0..=1.0).contains(&alpha) {
        return Err(MergeError::Alpha(alpha));
    }
    let (base, chat) = (Source::load(base)?, Source::load(chat)?);
    let mismatch = |message: String| MergeError::Mismatch { base: base.dir.clone(), chat: chat.dir.clone(), message };
    // The chat stage may lengthen the context (RoPE has no weights for it);
    // every other setting must be the base's.
    let base_as_tuned = ModelConfig { max_seq_len: chat.config.max_seq_len, ..base.config.clone() };
    if base_as_tuned != chat.config {
        return Err(mismatch(format!("their shapes differ ({:?} against {:?})", base.config, chat.config)));
    }
    if base.tokenizer.hash() != chat.tokenizer.hash() {
        return Err(mismatch("their tokenizers differ".into()));
    }
    let moved = norm(base.params.iter().zip(&chat.params).map(|(b, c)| c - b));
    let report = MergeReport {
        base: base.dir.clone(),
        chat: chat.dir.clone(),
        out: out.to_path_buf(),
        alpha,
        tuning_move: moved / norm(base.params.iter().copied()).max(f64::MIN_POSITIVE),
    };
    let params = interpolate(&base.params, &chat.params, alpha);
    let state = serde_json::to_vec_pretty(&merged_state(&chat, &base, &report)).expect("a training state serializes");
    let layout = ParamLayout::new(&chat.config);
    checkpoint::save_weights(out, &chat.config, &layout, &params, &chat.tokenizer, force, &[("state.json", &state)])?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::license::{LicenseTerms, SourceLicense};
    use crate::tokenizer::Tokenizer;

    fn small_config() -> ModelConfig {
        let mut config = ModelConfig::preset("tiny", 300).unwrap();
        (config.d_model, config.n_heads, config.n_kv_heads, config.n_layers, config.ffn_hidden) = (32, 2, 2, 1, 64);
        config
    }

    fn license(source: &str) -> SourceLicense {
        SourceLicense {
            source: source.into(),
            license: "CC-BY-4.0".into(),
            terms: LicenseTerms { name: "CC BY 4.0".into(), ..Default::default() },
            credit: String::new(),
        }
    }

    /// A weights-only checkpoint whose every weight is `value`, with a state carrying `licenses`.
    fn write_model(dir: &Path, config: &ModelConfig, tok: &Tokenizer, value: f32, licenses: Vec<SourceLicense>) {
        let layout = ParamLayout::new(config);
        let state = TrainState {
            step: 7,
            data_licenses: licenses,
            settings: serde_json::json!({ "lr": 0.001 }),
            ..Default::default()
        };
        let json = serde_json::to_vec(&state).unwrap();
        checkpoint::save_weights(
            dir,
            config,
            &layout,
            &vec![value; layout.total],
            tok,
            false,
            &[("state.json", &json)],
        )
        .unwrap();
    }

    /// A tokenizer of 300 tokens learned from words of `prefix` and numbers
    /// (enough of them that every merge is used, so two prefixes give two
    /// tokenizers of one size).
    fn tokenizer(prefix: &str) -> Tokenizer {
        let text: Vec<String> = (0..3000).map(|i| format!("{prefix}{} ", i * 7919 % 100_000)).collect();
        let tok = Tokenizer::train([text.concat()].into_iter(), 300, false).unwrap();
        assert_eq!(tok.vocab_size(), 300);
        tok
    }

    #[test]
    fn the_merge_keeps_alpha_of_the_tuning_move_and_both_models_licenses() {
        let dir = tempfile::tempdir().unwrap();
        let (config, tok) = (small_config(), tokenizer("cat"));
        let (base, chat, out) = (dir.path().join("base"), dir.path().join("chat"), dir.path().join("merged"));
        write_model(&base, &config, &tok, 1.0, vec![license("books")]);
        // The chat stage doubled the context, as the speedrun's does.
        let longer = ModelConfig { max_seq_len: 2 * config.max_seq_len, ..config.clone() };
        write_model(&chat, &longer, &tok, 3.0, vec![license("books"), license("chats")]);
        let report = merge(&base, &chat, 0.25, &out, false).unwrap();
        assert!((report.tuning_move - 2.0).abs() < 1e-9, "{report:?}");
        let merged = checkpoint::load(&out).unwrap();
        assert_eq!(merged.config, longer, "the chat model's context length");
        assert!(merged.params.iter().all(|&w| w == 1.5), "1 + 0.25 * (3 - 1)");
        assert!(merged.m.is_none(), "weights only: nothing to resume");
        let state = merged.state.unwrap();
        assert_eq!(state.data_licenses, vec![license("books"), license("chats")]);
        assert_eq!(state.settings["merge"]["alpha"], 0.25);
        assert_eq!(state.settings["lr"], 0.001, "the chat model's own settings stay");
        // The model card of an export says what the weights are.
        let inputs = crate::export::card::CardInputs { name: "m", samples: &[], gguf_files: &[], evals: &[] };
        let card = crate::export::card::render(&Source::load(&out).unwrap(), &inputs);
        assert!(card.contains("a merge made by `fledge merge`: base + 0.25 x (chat - base)"), "{card}");
        // The ends of the line are the two models themselves.
        assert_eq!(interpolate(&[1.0, -2.0], &[3.0, 5.0], 0.0), vec![1.0, -2.0]);
        assert_eq!(interpolate(&[1.0, -2.0], &[3.0, 5.0], 1.0), vec![3.0, 5.0]);
    }

    #[test]
    fn models_of_another_shape_or_tokenizer_or_an_alpha_off_the_line_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (config, tok) = (small_config(), tokenizer("cat"));
        let base = dir.path().join("base");
        write_model(&base, &config, &tok, 1.0, vec![]);
        let mut wider = config.clone();
        wider.ffn_hidden = 96;
        write_model(&dir.path().join("wider"), &wider, &tok, 1.0, vec![]);
        let other_tok = tokenizer("dog");
        write_model(&dir.path().join("other-tok"), &config, &other_tok, 1.0, vec![]);
        let out = dir.path().join("merged");
        let err = merge(&base, &dir.path().join("wider"), 0.5, &out, false).unwrap_err().to_string();
        assert!(err.contains("shapes differ") && err.contains("wider"), "{err}");
        let err = merge(&base, &dir.path().join("other-tok"), 0.5, &out, false).unwrap_err().to_string();
        assert!(err.contains("tokenizers differ"), "{err}");
        for alpha in [-0.1, 1.5, f32::NAN] {
            let err = merge(&base, &base, alpha, &out, false).unwrap_err().to_string();
            assert!(err.contains("--alpha"), "{err}");
        }
        assert!(!out.exists(), "nothing written for a refused merge");
    }
}
