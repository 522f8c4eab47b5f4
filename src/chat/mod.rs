//! Chat: conversations, the ChatML template, converters from public chat and
//! QA sets, supervised fine-tuning, the REPL's conversation window, and
//! grounded-QA evaluation.
//!
//! - [`template`]: the conversation type, JSONL reading, and the one renderer
//!   (text and tokens with the loss mask) every other stage uses.
//! - [`convert`]: turns ../shared/data/chat and ../shared/data/qa sets into
//!   conversation JSONL, keeping their own splits.
//! - [`rc`]: reading-comprehension conversations made from the prepared
//!   pretraining corpus (`fledge data rc`).
//! - [`notes`]: reading-comprehension conversations about synthetic everyday
//!   texts (notes, messages, timetables, labels...) with rare names and
//!   distractors (`fledge data notes`).
//! - [`sft`]: fine-tuning data (masking, packing, mixing) on the training loop.
//! - [`eval`]: exact match and token F1 on held-out grounded QA.
//! - [`battery`]: the hand-written sets of `evals/` (grounded QA, refusals,
//!   story requests) scored as rates.
//! - [`stories`]: story requests made from the corpus's stories.

pub mod battery;
pub mod convert;
pub mod eval;
pub mod notes;
pub mod rc;
pub mod sft;
pub mod stories;
pub mod template;

pub use template::{render_text, render_tokens, Conversation, Message, Role};

/// How many times the data makers (`rc`, `notes`) skipped something, by
/// reason, for their reports.
type Skips = std::collections::BTreeMap<&'static str, usize>;

fn skip(skips: &mut Skips, reason: &'static str) {
    *skips.entry(reason).or_default() += 1;
}

use crate::generate::{generate, generate_contrasted, ContextContrast, FinishReason, Generator, SamplingOptions};
use crate::model::ModelConfig;
use crate::tokenizer::Tokenizer;

/// Why a conversation cannot be made to fit the model's context window.
#[derive(Debug, thiserror::Error)]
#[error(
    "the {what} alone takes {tokens} tokens, and the model's context window is {window} \
     (with {reserve} kept free for the answer); shorten it"
)]
pub struct TooLong {
    pub what: &'static str,
    pub tokens: usize,
    pub window: usize,
    pub reserve: usize,
}

/// Drops the oldest turns (never system or context messages, never the last
/// message) until the prompt plus `reserve` new tokens fits in `window`.
/// Returns how many messages were dropped.
pub fn fit_to_window(
    tok: &Tokenizer,
    messages: &mut Vec<Message>,
    window: usize,
    reserve: usize,
) -> Result<usize, TooLong> {
    let budget = window.saturating_sub(reserve);
    let mut dropped = 0;
    loop {
        let len = render_tokens(tok, messages, true).ids.len();
        if len <= budget {
            return Ok(dropped);
        }
        let last = messages.len().saturating_sub(1);
        let oldest = messages.iter().position(|m| matches!(m.role, Role::User | Role::Assistant));
        match oldest {
            Some(i) if i < last => {
                messages.remove(i);
                dropped += 1;
            }
            _ => {
                let what = if messages.iter().any(|m| m.role == Role::Context) {
                    "context document with the question"
                } else {
                    "system prompt with the last message"
                };
                return Err(TooLong { what, tokens: len, window, reserve });
            }
        }
    }
}

/// The model's answer to `messages`: greedy when `seed` is used only to
/// label, stopping at `<|im_end|>`. Returns the text and why it stopped.
pub fn reply(
    config: &ModelConfig,
    params: &[f32],
    tok: &Tokenizer,
    messages: &[Message],
    max_new_tokens: usize,
    seed: u64,
) -> (String, FinishReason) {
    reply_contrasted(config, params, tok, messages, Answering::plain(max_new_tokens), seed)
}

/// How grounded answers are decoded: greedily, at most `max_new_tokens`,
/// with context-aware decoding at `context_weight` (0: off; see
/// [`ContextContrast`]).
#[derive(Debug, Clone, Copy)]
pub struct Answering {
    pub max_new_tokens: usize,
    pub context_weight: f32,
}

impl Answering {
    pub fn plain(max_new_tokens: usize) -> Self {
        Self { max_new_tokens, context_weight: 0.0 }
    }
}

/// How much less likely than the with-context model's favourite a token may
/// be and still be chosen under context-aware decoding
/// ([`ContextContrast::plausible`]).
pub const CONTEXT_PLAUSIBLE: f32 = 0.1;

/// [`reply`] decoded as `answering` says: with context-aware decoding
/// ([`ContextContrast`]) when its weight is above 0 and the conversation
/// has a context message, plainly otherwise.
pub fn reply_contrasted(
    config: &ModelConfig,
    params: &[f32],
    tok: &Tokenizer,
    messages: &[Message],
    answering: Answering,
    seed: u64,
) -> (String, FinishReason) {
    let Answering { max_new_tokens, context_weight } = answering;
    let options =
        SamplingOptions { temperature: 0.0, repetition_penalty: 1.0, max_new_tokens, seed, ..Default::default() };
    let ids = render_tokens(tok, messages, true).ids;
    let mut generator = Generator::new(config, params);
    let g = if context_weight > 0.0 && messages.iter().any(|m| m.role == Role::Context) {
        let plain_messages: Vec<Message> = messages.iter().filter(|m| m.role != Role::Context).cloned().collect();
        let plain_ids = render_tokens(tok, &plain_messages, true).ids;
        let mut plain = Generator::new(config, params);
        let contrast = ContextContrast {
            plain: &mut plain,
            plain_prompt: &plain_ids,
            weight: context_weight,
            plausible: CONTEXT_PLAUSIBLE,
        };
        generate_contrasted(&mut generator, Some(contrast), tok, &ids, &options, |_| {})
    } else {
        generate(&mut generator, tok, &ids, &options, |_| {})
    };
    (g.text, g.finish)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oldest_turns_go_first_and_context_stays() {
        let text = "where is the cat? the cat is in the kitchen.\n".repeat(30);
        let tok = Tokenizer::train([text.as_str()].into_iter(), 300, false).unwrap();
        let mut msgs =
            vec![Message::new(Role::System, "be brief."), Message::new(Role::Context, "the cat is in the kitchen.")];
        for _ in 0..10 {
            msgs.push(Message::new(Role::User, "where is the cat?"));
            msgs.push(Message::new(Role::Assistant, "the cat is in the kitchen."));
        }
        msgs.push(Message::new(Role::User, "where is the cat?"));
        let window = render_tokens(&tok, &msgs[..6], true).ids.len() + 8;
        let dropped = fit_to_window(&tok, &mut msgs, window, 8).unwrap();
        assert!(dropped > 0);
        assert_eq!(msgs[0].role, Role::System);
        assert_eq!(msgs[1].role, Role::Context);
        assert_eq!(msgs.last().unwrap().content, "where is the cat?");
        assert!(render_tokens(&tok, &msgs, true).ids.len() + 8 <= window);
        let mut huge = vec![Message::new(Role::Context, "the cat ".repeat(500)), Message::new(Role::User, "where?")];
        assert!(fit_to_window(&tok, &mut huge, 64, 8).is_err());
    }

    /// Context-aware answers contrast the conversation with itself minus its
    /// context message: without one, or at weight 0, the reply is the plain one.
    #[test]
    fn contrasted_replies_drop_only_the_context_message() {
        let text = "where is the cat? the cat is in the kitchen.\n".repeat(30);
        let tok = Tokenizer::train([text.as_str()].into_iter(), 300, false).unwrap();
        let c = ModelConfig::preset("tiny", tok.vocab_size()).unwrap();
        let params = crate::model::params::init_params(&c, &crate::model::params::ParamLayout::new(&c), 9);
        let asked = vec![Message::new(Role::User, "where is the cat?")];
        let grounded = vec![Message::new(Role::Context, "the cat is in the kitchen."), asked[0].clone()];
        let weighted = Answering { max_new_tokens: 8, context_weight: 3.0 };
        let plain = |m: &[Message]| reply(&c, &params, &tok, m, 8, 0).0;
        assert_eq!(reply_contrasted(&c, &params, &tok, &asked, weighted, 0).0, plain(&asked));
        assert_eq!(reply_contrasted(&c, &params, &tok, &grounded, Answering::plain(8), 0).0, plain(&grounded));

        // With a context, the reply is `generate_contrasted` against the question alone.
        let ids = render_tokens(&tok, &grounded, true).ids;
        let plain_ids = render_tokens(&tok, &asked, true).ids;
        let mut other = Generator::new(&c, &params);
        let contrast =
            ContextContrast { plain: &mut other, plain_prompt: &plain_ids, weight: 3.0, plausible: CONTEXT_PLAUSIBLE };
        let options =
            SamplingOptions { temperature: 0.0, repetition_penalty: 1.0, max_new_tokens: 8, ..Default::default() };
        let expected =
            generate_contrasted(&mut Generator::new(&c, &params), Some(contrast), &tok, &ids, &options, |_| {});
        assert_eq!(reply_contrasted(&c, &params, &tok, &grounded, weighted, 0).0, expected.text);
    }
}
