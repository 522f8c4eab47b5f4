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
//! - [`merge`]: a chat model moved part of the way back to its base in
//!   weight space, to give back text the chat stage made it forget.
//! - [`battery`]: the hand-written sets of `evals/` (grounded QA, refusals,
//!   story requests) scored as rates.
//! - [`quote`]: answers about a given text quoted from it (beam search over
//!   the text's spans).
//! - [`stories`]: story requests made from the corpus's stories.
//! - [`tries`]: story requests answered in a few samples, keeping the one
//!   that uses the request's words.

pub mod battery;
pub mod convert;
pub mod eval;
pub mod merge;
pub mod notes;
pub mod quote;
pub mod rc;
pub mod sft;
pub mod stories;
pub mod template;
pub mod tries;

pub use template::{render_text, render_tokens, Conversation, Message, Role};

/// How many times the data makers (`rc`, `notes`) skipped something, by
/// reason, for their reports.
type Skips = std::collections::BTreeMap<&'static str, usize>;

fn skip(skips: &mut Skips, reason: &'static str) {
    *skips.entry(reason).or_default() += 1;
}

use crate::generate::{generate, generate_contrasted, Contrast, FinishReason, Generation, Generator, SamplingOptions};
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

/// How strongly replies are steered toward the user's last message unless
/// told otherwise (classifier-free guidance, [`Contrast`]): `fledge chat`,
/// `fledge serve` and `fledge eval` start from it. Measured on
/// the shipped model (README, "Guidance (measured)"): story requests told
/// on their subject rose from about half to about eight in ten at 1.5;
/// answers from a given text are not guided ([`generate_reply`]); 0 turns
/// it off.
pub const CHAT_GUIDANCE: f32 = 1.5;

/// Candidates of a guided token: those at least this fraction as likely as
/// the guided model's favourite ([`Contrast::plausible`]). 0.03 and 0.3
/// measured worse on story requests than 0.1.
pub const GUIDANCE_PLAUSIBLE: f32 = 0.1;

/// The conversation a guided reply is contrasted with: `messages` with the
/// text of the last user message removed (the empty turn stays, so both
/// prompts end the same way), or `None` when no user message is there.
pub fn without_request(messages: &[Message]) -> Option<Vec<Message>> {
    let last = messages.iter().rposition(|m| m.role == Role::User)?;
    let mut without = messages.to_vec();
    without[last].content.clear();
    Some(without)
}

/// The conversation a reply to `messages` is contrasted with at `guidance`
/// ([`without_request`]), or `None` when it is not guided: at 0, with no
/// user message, or with a context message (see [`generate_reply`]).
pub fn guided_against(messages: &[Message], guidance: f32) -> Option<Vec<Message>> {
    if guidance <= 0.0 || messages.iter().any(|m| m.role == Role::Context) {
        return None;
    }
    without_request(messages)
}

/// Generates the reply to `messages` with `options`, guided at `guidance`
/// by a second generator over the same weights (`guide`, reset here); plain
/// generation when `guidance` is 0, no user message is there, or the
/// conversation has a context message. Answers from a text are read plainly:
/// on the battery guidance moved them within noise (a question in 100), and
/// on a demo text it turned a refusal into a stray byte token, since with a
/// text and an empty question the model finds everything unlikely.
pub fn generate_reply(
    generator: &mut Generator,
    guide: &mut Generator,
    guidance: f32,
    tok: &Tokenizer,
    messages: &[Message],
    options: &SamplingOptions,
    on_text: impl FnMut(&str),
) -> Generation {
    let ids = render_tokens(tok, messages, true).ids;
    match guided_against(messages, guidance) {
        Some(without) => {
            let other = render_tokens(tok, &without, true).ids;
            let contrast =
                Contrast { plain: guide, plain_prompt: &other, weight: guidance, plausible: GUIDANCE_PLAUSIBLE };
            generate_contrasted(generator, Some(contrast), tok, &ids, options, on_text)
        }
        None => generate(generator, tok, &ids, options, on_text),
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
/// guided toward the question at `guidance` (0: off), or, when
/// `context_weight` is above 0 and a context is there, with context-aware
/// decoding at that weight instead (an experiment of `fledge eval`; see
/// [`Contrast`] for both). With `quote` and a context, the answer is the
/// span of the context the model finds likeliest ([`quote::quote`]) unless
/// the model declines, whose reply is then decoded as the rest say.
#[derive(Debug, Clone, Copy)]
pub struct Answering {
    pub max_new_tokens: usize,
    pub guidance: f32,
    pub context_weight: f32,
    pub quote: bool,
}

impl Answering {
    /// Greedy, neither guided nor contrasted with the context, not quoted.
    pub fn plain(max_new_tokens: usize) -> Self {
        Self { max_new_tokens, guidance: 0.0, context_weight: 0.0, quote: false }
    }

    /// Greedy and guided as `fledge chat` guides ([`CHAT_GUIDANCE`]).
    pub fn chat(max_new_tokens: usize) -> Self {
        Self { guidance: CHAT_GUIDANCE, ..Self::plain(max_new_tokens) }
    }
}

/// How much less likely than the with-context model's favourite a token may
/// be and still be chosen under context-aware decoding
/// ([`Contrast::plausible`]).
pub const CONTEXT_PLAUSIBLE: f32 = 0.1;

/// [`reply`] decoded as `answering` says.
pub fn reply_contrasted(
    config: &ModelConfig,
    params: &[f32],
    tok: &Tokenizer,
    messages: &[Message],
    answering: Answering,
    seed: u64,
) -> (String, FinishReason) {
    let Answering { max_new_tokens, guidance, context_weight, quote } = answering;
    let options =
        SamplingOptions { temperature: 0.0, repetition_penalty: 1.0, max_new_tokens, seed, ..Default::default() };
    let mut generator = Generator::new(config, params);
    if let Some(text) = quote.then(|| quoted_reply(&mut generator, tok, messages, max_new_tokens)).flatten() {
        return (text, FinishReason::StopToken);
    }
    let mut other = Generator::new(config, params);
    let g = if context_weight > 0.0 && messages.iter().any(|m| m.role == Role::Context) {
        let ids = render_tokens(tok, messages, true).ids;
        let plain_messages: Vec<Message> = messages.iter().filter(|m| m.role != Role::Context).cloned().collect();
        let plain_ids = render_tokens(tok, &plain_messages, true).ids;
        let contrast = Contrast {
            plain: &mut other,
            plain_prompt: &plain_ids,
            weight: context_weight,
            plausible: CONTEXT_PLAUSIBLE,
        };
        generate_contrasted(&mut generator, Some(contrast), tok, &ids, &options, |_| {})
    } else {
        generate_reply(&mut generator, &mut other, guidance, tok, messages, &options, |_| {})
    };
    (g.text, g.finish)
}

/// The reply to `messages` quoted from their context messages
/// ([`quote::quote`] with its measured settings), or `None` when there is
/// no context or the model declines to answer from it.
pub fn quoted_reply(
    generator: &mut Generator,
    tok: &Tokenizer,
    messages: &[Message],
    max_new_tokens: usize,
) -> Option<String> {
    let context: Vec<&str> = messages.iter().filter(|m| m.role == Role::Context).map(|m| m.content.as_str()).collect();
    if context.is_empty() {
        return None;
    }
    let ids = render_tokens(tok, messages, true).ids;
    let (beams, penalty) = (quote::QUOTE_BEAMS, quote::QUOTE_LENGTH_PENALTY);
    match quote::quote(generator, tok, &ids, &context.join("\n\n"), max_new_tokens, beams, penalty) {
        quote::Quote::Span(text) => Some(text),
        quote::Quote::Declined | quote::Quote::Nothing => None,
    }
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
        let weighted = Answering { context_weight: 3.0, ..Answering::plain(8) };
        let plain = |m: &[Message]| reply(&c, &params, &tok, m, 8, 0).0;
        assert_eq!(reply_contrasted(&c, &params, &tok, &asked, weighted, 0).0, plain(&asked));
        assert_eq!(reply_contrasted(&c, &params, &tok, &grounded, Answering::plain(8), 0).0, plain(&grounded));

        // With a context, the reply is `generate_contrasted` against the question alone.
        let ids = render_tokens(&tok, &grounded, true).ids;
        let plain_ids = render_tokens(&tok, &asked, true).ids;
        let mut other = Generator::new(&c, &params);
        let contrast =
            Contrast { plain: &mut other, plain_prompt: &plain_ids, weight: 3.0, plausible: CONTEXT_PLAUSIBLE };
        let options =
            SamplingOptions { temperature: 0.0, repetition_penalty: 1.0, max_new_tokens: 8, ..Default::default() };
        let expected =
            generate_contrasted(&mut Generator::new(&c, &params), Some(contrast), &tok, &ids, &options, |_| {});
        assert_eq!(reply_contrasted(&c, &params, &tok, &grounded, weighted, 0).0, expected.text);
    }

    /// Guidance contrasts the conversation with itself minus the text of its
    /// last request; at 0, or with no request to remove, it is plain decoding.
    #[test]
    fn guided_replies_drop_only_the_last_request() {
        let text = "tell me about the cat. the cat is in the kitchen.\n".repeat(30);
        let tok = Tokenizer::train([text.as_str()].into_iter(), 300, false).unwrap();
        let c = ModelConfig::preset("tiny", tok.vocab_size()).unwrap();
        let params = crate::model::params::init_params(&c, &crate::model::params::ParamLayout::new(&c), 11);
        let asked = vec![
            Message::new(Role::System, "the cat is in the kitchen."),
            Message::new(Role::User, "tell me about the cat."),
            Message::new(Role::Assistant, "the cat."),
            Message::new(Role::User, "the kitchen?"),
        ];
        let without = without_request(&asked).unwrap();
        assert_eq!(without.len(), asked.len());
        assert_eq!(without[3].content, "");
        assert_eq!(&without[..3], &asked[..3], "only the last request goes");
        assert!(without_request(&asked[..1]).is_none());

        let options = SamplingOptions { temperature: 0.8, max_new_tokens: 12, seed: 3, ..Default::default() };
        let guided = |m: &[Message], w: f32| {
            let (mut g, mut other) = (Generator::new(&c, &params), Generator::new(&c, &params));
            generate_reply(&mut g, &mut other, w, &tok, m, &options, |_| {}).tokens
        };
        let ids = render_tokens(&tok, &asked, true).ids;
        let plain = generate(&mut Generator::new(&c, &params), &tok, &ids, &options, |_| {}).tokens;
        assert_eq!(guided(&asked, 0.0), plain);
        // Nothing to remove, or a context to answer from: plain.
        let plain_of = |m: &[Message]| {
            let ids = render_tokens(&tok, m, true).ids;
            generate(&mut Generator::new(&c, &params), &tok, &ids, &options, |_| {}).tokens
        };
        assert_eq!(guided(&asked[..1], 2.0), plain_of(&asked[..1]));
        let mut grounded = asked.clone();
        grounded[0].role = Role::Context;
        assert_eq!(guided(&grounded, 2.0), plain_of(&grounded));

        // Guided: `generate_contrasted` against the conversation without the request.
        let other_ids = render_tokens(&tok, &without, true).ids;
        let mut other = Generator::new(&c, &params);
        let contrast =
            Contrast { plain: &mut other, plain_prompt: &other_ids, weight: 2.0, plausible: GUIDANCE_PLAUSIBLE };
        let expected =
            generate_contrasted(&mut Generator::new(&c, &params), Some(contrast), &tok, &ids, &options, |_| {}).tokens;
        assert_eq!(guided(&asked, 2.0), expected);
        assert_ne!(expected, plain, "the guidance changes this reply, so the check above says something");
        // The greedy answers of `fledge eval` take the same path.
        let greedy = Answering::chat(12);
        let (text, _) = reply_contrasted(&c, &params, &tok, &asked, greedy, 0);
        let options =
            SamplingOptions { temperature: 0.0, repetition_penalty: 1.0, max_new_tokens: 12, ..Default::default() };
        let (mut g, mut other) = (Generator::new(&c, &params), Generator::new(&c, &params));
        assert_eq!(text, generate_reply(&mut g, &mut other, CHAT_GUIDANCE, &tok, &asked, &options, |_| {}).text);
    }
}
