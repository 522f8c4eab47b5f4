//! `fledge eval`: how well a chat model answers from a given context.
//!
//! - Grounded QA (bAbI tasks, FairytaleQA): the conversation up to its last
//!   assistant message is the prompt, that message the reference. Answers
//!   are greedy, and compared after SQuAD's normalization (lower case, no
//!   punctuation, no articles, single spaces): exact match and token F1.
//! - Stop rate: the share of answers that end with `<|im_end|>` within the
//!   token limit, i.e. the model has learned where an answer ends.
//! - Chat loss: mean loss on the assistant tokens of held-out conversations.
//!
//! Items whose prompt does not fit the context window are not scored; they
//! are counted in `too_long`.

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use super::template::{render_tokens, Conversation};
use crate::generate::FinishReason;
use crate::model::kernels::IGNORE;
use crate::model::{Engine, ModelConfig};
use crate::tokenizer::Tokenizer;

/// The folder of converted sets (`fledge data chat --out`) a chat model was
/// fine-tuned on, as its training record (`settings.source`) names them:
/// `runs/speedrun/chat/babi-task1` (a set's folder) or
/// `runs/speedrun/chat/babi-task1/train.jsonl` gives `runs/speedrun/chat`.
/// `None` when the record names no source folder that is still there.
pub fn chat_data_of(settings: &serde_json::Value) -> Option<PathBuf> {
    settings["source"].as_array()?.iter().filter_map(|s| s["path"].as_str()).find_map(|p| {
        let p = Path::new(p);
        let set = if p.extension().is_some_and(|e| e == "jsonl") { p.parent()? } else { p };
        set.parent().filter(|d| d.is_dir()).map(Path::to_path_buf)
    })
}

/// SQuAD-style normalization.
pub fn normalize(s: &str) -> String {
    let lower: String =
        s.to_lowercase().chars().map(|c| if c.is_alphanumeric() || c.is_whitespace() { c } else { ' ' }).collect();
    lower.split_whitespace().filter(|w| !matches!(*w, "a" | "an" | "the")).collect::<Vec<_>>().join(" ")
}

/// Token-level F1 between normalized prediction and reference.
pub fn token_f1(prediction: &str, reference: &str) -> f64 {
    let p = normalize(prediction);
    let r = normalize(reference);
    let (p, r): (Vec<&str>, Vec<&str>) = (p.split_whitespace().collect(), r.split_whitespace().collect());
    if p.is_empty() || r.is_empty() {
        return f64::from(u8::from(p.is_empty() && r.is_empty()));
    }
    let mut remaining = r.clone();
    let mut common = 0;
    for w in &p {
        if let Some(i) = remaining.iter().position(|x| x == w) {
            remaining.swap_remove(i);
            common += 1;
        }
    }
    if common == 0 {
        return 0.0;
    }
    let precision = common as f64 / p.len() as f64;
    let recall = common as f64 / r.len() as f64;
    2.0 * precision * recall / (precision + recall)
}

/// One answered item, kept for the transcript file.
#[derive(Debug, Clone, Serialize)]
pub struct Answer {
    pub question: String,
    pub reference: String,
    pub prediction: String,
    pub exact: bool,
    pub f1: f64,
    pub stopped: bool,
}

/// Scores on one QA set.
#[derive(Debug, Clone, Serialize)]
pub struct QaScore {
    pub name: String,
    pub path: PathBuf,
    pub scored: usize,
    pub too_long: usize,
    pub exact_match: f64,
    pub f1: f64,
    pub stop_rate: f64,
    pub seconds: f64,
    #[serde(skip)]
    pub answers: Vec<Answer>,
}

/// Answers every item of `convs` greedily, decoded as `answering` says, and
/// scores the answers.
pub fn score_qa(
    name: &str,
    path: PathBuf,
    config: &ModelConfig,
    params: &[f32],
    tok: &Tokenizer,
    convs: &[Conversation],
    answering: super::Answering,
) -> QaScore {
    let start = std::time::Instant::now();
    let results: Vec<Option<Answer>> = convs
        .par_iter()
        .map(|c| {
            let (prompt, reference) = c.split_last_answer()?;
            if render_tokens(tok, prompt, true).ids.len() + answering.max_new_tokens > config.max_seq_len {
                return None;
            }
            let (prediction, finish) = super::reply_contrasted(config, params, tok, prompt, answering, 0);
            let prediction = prediction.trim().to_string();
            Some(Answer {
                question: prompt.last().map(|m| m.content.clone()).unwrap_or_default(),
                reference: reference.to_string(),
                exact: normalize(&prediction) == normalize(reference),
                f1: token_f1(&prediction, reference),
                stopped: finish == FinishReason::StopToken,
                prediction,
            })
        })
        .collect();
    let answers: Vec<Answer> = results.iter().flatten().cloned().collect();
    let n = answers.len().max(1) as f64;
    QaScore {
        name: name.to_string(),
        path,
        scored: answers.len(),
        too_long: results.len() - answers.len(),
        exact_match: answers.iter().filter(|a| a.exact).count() as f64 / n,
        f1: answers.iter().map(|a| a.f1).sum::<f64>() / n,
        stop_rate: answers.iter().filter(|a| a.stopped).count() as f64 / n,
        seconds: start.elapsed().as_secs_f64(),
        answers,
    }
}

/// Mean loss (nats) on the assistant tokens of `convs`, and how many tokens
/// it averaged; conversations longer than the context window are skipped.
pub fn chat_loss(config: &ModelConfig, params: &[f32], tok: &Tokenizer, convs: &[Conversation]) -> (f64, u64) {
    let per: Vec<(f64, u64)> = convs
        .par_iter()
        .filter_map(|c| {
            let r = render_tokens(tok, &c.messages, false);
            let t = r.ids.len().checked_sub(1).filter(|&t| t > 0 && t <= config.max_seq_len)?;
            let targets: Vec<u32> = (0..t).map(|i| if r.trained[i + 1] { r.ids[i + 1] } else { IGNORE }).collect();
            let mut engine = Engine::new(config, 1, t);
            engine.forward(params, &r.ids[..t]);
            let counted = targets.iter().filter(|&&x| x != IGNORE).count() as u64;
            Some((engine.eval_losses(&targets).iter().sum::<f64>(), counted))
        })
        .collect();
    let (nats, tokens) = per.iter().fold((0.0, 0), |(a, b), (x, y)| (a + x, b + y));
    (nats / tokens.max(1) as f64, tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chat_data_folder_comes_from_the_models_record() {
        let dir = tempfile::tempdir().unwrap();
        let chat = dir.path().join("runs/speedrun/chat");
        std::fs::create_dir_all(chat.join("babi-task1")).unwrap();
        let folder = chat.join("babi-task1");
        let settings = serde_json::json!({"source": [{"path": folder, "weight": 1.0}]});
        assert_eq!(chat_data_of(&settings), Some(chat.clone()));
        let file = serde_json::json!({"source": [{"path": folder.join("train.jsonl"), "weight": 1.0}]});
        assert_eq!(chat_data_of(&file), Some(chat));
        let gone = serde_json::json!({"source": [{"path": dir.path().join("gone/x"), "weight": 1.0}]});
        assert_eq!(chat_data_of(&gone), None);
        assert_eq!(chat_data_of(&serde_json::json!({})), None);
    }

    #[test]
    fn normalization_and_f1_follow_squad() {
        assert_eq!(normalize("The Kitchen!"), "kitchen");
        assert_eq!(normalize("  an  Old, old man. "), "old old man");
        assert_eq!(token_f1("the kitchen", "Kitchen."), 1.0);
        assert_eq!(token_f1("garden", "kitchen"), 0.0);
        // prediction "old man went" vs "the old man": 2 common, p = 2/3, r = 1.
        assert!((token_f1("old man went", "the old man") - 0.8).abs() < 1e-12);
    }
}
