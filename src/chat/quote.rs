//! Quoted answers: a question about a given text answered with the span of
//! that text the model itself finds most likely, by beam search over spans.
//!
//! Why: on the battery's hand-written texts the shipped 5.8M model often
//! looks in the right place and still misspells what it finds ("whats the
//! dog called" → "Elmin" for Biscuit, "Gareth" → "Glk"): about a third of its
//! wrong answers were not words of the text at all. Here each next token must
//! keep the reply a span of the text (case aside), and whole spans are ranked
//! by the model's own log-probability, so the answer is always the text's
//! wording and the model's knowledge picks which span. Measured on the
//! battery (README, "Quoted answers").
//!
//! The model still decides whether to answer: when its favourite first token
//! is the first of the refusal fledge's chat data teaches ([`UNKNOWN_ANSWER`]),
//! nothing is quoted and the caller decodes plainly.
//!
//! The search (a beam search, as in extractive decoding with generative
//! models): every live beam is extended by its `beams` most likely allowed
//! tokens; a beam ends with `<|im_end|>` where its span ends at a word
//! boundary, scored by its summed log-probability divided by its length (in
//! tokens, the end included) to the power `length_penalty` (0: sums, which
//! favour the shortest span; 1: the mean); the search stops when no live beam
//! scores above the best ended one.

use serde::{Deserialize, Serialize};

use super::convert::UNKNOWN_ANSWER;
use super::template::{Message, Role};
use crate::generate::inspect::log_softmax;
use crate::generate::{argmax, Generator};
use crate::tokenizer::Tokenizer;

/// Beams kept at each step. 2 and 4 measured alike on the battery's dev
/// split, 8 lower (README, "Quoted answers").
pub const QUOTE_BEAMS: usize = 4;
/// The length normalisation exponent; 0.5 and 1 measured alike, 0 lower.
pub const QUOTE_LENGTH_PENALTY: f32 = 0.5;

/// What [`quote`] found.
#[derive(Debug, Clone, PartialEq)]
pub enum Quote {
    /// The most likely span, as the text writes it.
    Span(String),
    /// The model's favourite first token starts its refusal.
    Declined,
    /// No token of the vocabulary starts a span of the text (an empty or
    /// unusual text), or the prompt fills the window.
    Nothing,
}

/// The text and the vocabulary, lower-cased byte for byte (ASCII), for
/// checking which tokens continue a span.
struct Spans {
    text: Vec<u8>,
    /// Positions where a word starts: a [`letter`] at the start of the text
    /// or after a byte that is not one.
    word_starts: Vec<usize>,
    /// Each token's bytes, lower-cased; empty for special tokens.
    tokens: Vec<Vec<u8>>,
}

/// One partial reply: its tokens, the bytes of text they spell (leading
/// whitespace of the first dropped), where in the text that span starts, and
/// its summed log-probability.
#[derive(Clone)]
struct Beam {
    tokens: Vec<u32>,
    spelled: usize,
    starts: Vec<usize>,
    logprob: f32,
}

impl Spans {
    fn new(tok: &Tokenizer, context: &str) -> Self {
        let text = context.to_ascii_lowercase().into_bytes();
        let word_starts = (0..text.len()).filter(|&i| letter(text[i]) && (i == 0 || !letter(text[i - 1]))).collect();
        let lengths = tok.token_byte_lengths();
        let tokens = (0..tok.vocab_size() as u32)
            .map(|id| if lengths[id as usize] == 0 { Vec::new() } else { tok.token_bytes(id).to_ascii_lowercase() })
            .collect();
        Self { text, word_starts, tokens }
    }

    /// Where `beam` extended by `token` still spells a span: the span's
    /// bytes so far and its possible starts; `None` if it does not.
    fn extend(&self, beam: &Beam, token: u32) -> Option<(usize, Vec<usize>)> {
        let bytes = &self.tokens[token as usize];
        if beam.tokens.is_empty() {
            let word = bytes.trim_ascii_start();
            if word.first().is_none_or(|&b| !letter(b)) {
                return None;
            }
            let starts: Vec<usize> =
                self.word_starts.iter().copied().filter(|&s| self.text[s..].starts_with(word)).collect();
            return (!starts.is_empty()).then_some((word.len(), starts));
        }
        if bytes.is_empty() {
            return None;
        }
        let at = beam.spelled;
        let starts: Vec<usize> =
            beam.starts.iter().copied().filter(|&s| self.text[s + at..].starts_with(bytes)).collect();
        (!starts.is_empty()).then_some((at + bytes.len(), starts))
    }

    /// Whether `beam`'s span can end here: somewhere it is followed by the
    /// end of the text or by a byte that is not a letter or digit.
    fn can_end(&self, beam: &Beam) -> bool {
        !beam.tokens.is_empty()
            && beam.starts.iter().any(|&s| self.text.get(s + beam.spelled).is_none_or(|&b| !letter(b)))
    }
}

/// Whether a byte belongs to a word: an ASCII letter or digit, or any byte
/// of a multi-byte character (so "Émile" is one word).
fn letter(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b >= 0x80
}

/// The reply to the conversation `prompt` (rendered up to the assistant's
/// turn) quoted from `context`, at most `max_new_tokens` tokens; see the
/// module's notes for the search.
pub fn quote(
    generator: &mut Generator,
    tok: &Tokenizer,
    prompt: &[u32],
    context: &str,
    max_new_tokens: usize,
    beams: usize,
    length_penalty: f32,
) -> Quote {
    let window = generator.config.max_seq_len;
    if prompt.is_empty() || prompt.len() >= window || beams == 0 {
        return Quote::Nothing;
    }
    let first = generator.prefill(prompt);
    let refusal = tok.encode(UNKNOWN_ANSWER, false).first().copied();
    if refusal == Some(argmax(&first)) {
        return Quote::Declined;
    }
    let spans = Spans::new(tok, context);
    let end = tok.im_end_id();
    let score = |logprob: f32, len: usize| logprob / (len as f32).powf(length_penalty);
    let mut live = vec![Beam { tokens: Vec::new(), spelled: 0, starts: Vec::new(), logprob: 0.0 }];
    let mut best: Option<(f32, Vec<u32>)> = None;
    let room = max_new_tokens.min(window - prompt.len());
    for _ in 0..room {
        let mut next: Vec<Beam> = Vec::new();
        for beam in &live {
            let logits = if beam.tokens.is_empty() {
                first.clone()
            } else {
                // Every beam shares the prompt's cache; only its own tokens are fed again.
                generator.rewind(prompt.len());
                let mut logits = Vec::new();
                for &t in &beam.tokens {
                    logits = generator.step(t).to_vec();
                }
                logits
            };
            let logprobs = log_softmax(&logits);
            let mut allowed: Vec<(u32, f32)> = (0..logprobs.len() as u32)
                .filter(|&t| if t == end { spans.can_end(beam) } else { !spans.tokens[t as usize].is_empty() })
                .map(|t| (t, logprobs[t as usize]))
                .collect();
            allowed.sort_by(|a, b| b.1.total_cmp(&a.1));
            let mut taken = 0;
            for (t, lp) in allowed {
                if taken == beams {
                    break;
                }
                if t == end {
                    let ended = score(beam.logprob + lp, beam.tokens.len() + 1);
                    if best.as_ref().is_none_or(|(s, _)| ended > *s) {
                        best = Some((ended, beam.tokens.clone()));
                    }
                    taken += 1;
                } else if let Some((spelled, starts)) = spans.extend(beam, t) {
                    let mut tokens = beam.tokens.clone();
                    tokens.push(t);
                    next.push(Beam { tokens, spelled, starts, logprob: beam.logprob + lp });
                    taken += 1;
                }
            }
        }
        next.sort_by(|a, b| b.logprob.total_cmp(&a.logprob));
        next.truncate(beams);
        let best_score = best.as_ref().map_or(f32::NEG_INFINITY, |(s, _)| *s);
        live = next;
        if live.iter().all(|b| score(b.logprob, b.tokens.len()) < best_score) {
            break;
        }
    }
    let tokens = match best {
        Some((_, tokens)) => tokens,
        // Out of room before any span ended: the likeliest one so far.
        None => match live.into_iter().next() {
            Some(beam) => beam.tokens,
            None => return Quote::Nothing,
        },
    };
    match tok.decode(&tokens) {
        Ok(text) if !text.trim().is_empty() => Quote::Span(text.trim().to_string()),
        _ => Quote::Nothing,
    }
}

/// Which replies with a context are quoted: `fledge chat` and `fledge serve`
/// take it as `--quote`; `fledge ask` always quotes (its input is a question).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum QuoteMode {
    /// Never: every reply in the model's own words.
    Off,
    /// Only questions about the text (see `asks_about_text`); requests for
    /// a story, a title or what happens next, and small talk, in the
    /// model's own words.
    #[default]
    Questions,
    /// Every reply while a context is attached, a story request too.
    Always,
}

impl QuoteMode {
    /// Whether the reply to `messages` is to be quoted: there is a context
    /// to quote and the mode says so for the last user message.
    pub fn applies(self, messages: &[Message]) -> bool {
        let has_context = messages.iter().any(|m| m.role == Role::Context);
        let asked = super::tries::last_request(messages);
        match self {
            QuoteMode::Off => false,
            QuoteMode::Always => has_context,
            QuoteMode::Questions => has_context && asked.is_some_and(asks_about_text),
        }
    }
}

/// Words that open a question whose answer is a span of a text.
const WH_WORDS: &[&str] = &[
    "who", "whom", "whose", "what", "which", "where", "when", "why", "how", "whats", "whos", "wheres", "whens", "hows",
];

/// Words a question may open with before its wh-word ("so where are we
/// going now?", "Around what time ...", "In which room ...").
const LEAD_INS: &[&str] = &[
    "so", "and", "but", "ok", "okay", "then", "well", "hey", "um", "around", "about", "in", "at", "on", "from", "to",
    "for", "with", "by",
];

/// Phrases that ask about the model itself, not about a text (a text often
/// says "you": "What do you eat the pancakes with?").
const ABOUT_YOU: &[&str] = &[
    "your name",
    "who are you",
    "what are you",
    "how are you",
    "where are you",
    "how old are you",
    "about yourself",
    "who made you",
    "who built you",
    "who trained you",
    "who created you",
    "what can you do",
    "do you like",
    "do you know",
    "do you feel",
    "are you doing",
    "your favourite",
    "your favorite",
];

/// Whether `message` is a question that a span of the text answers: its
/// last sentence holds a wh-word ("Who keeps the lighthouse?", "I'm going
/// to Lewes. Where do I change trains?", "how many eggs") and either ends
/// with "?" or opens with one. Not a question about the text: a request
/// ("Can you tell me a story about a frog who can't jump?", "What happened
/// next?"), or one about the model ("What is your name?", "Who are you?").
/// Why: a quoted reply is words of the text (README, "Quoted answers"), right
/// for a question about it and no story or greeting at all.
pub fn asks_about_text(message: &str) -> bool {
    let lower = message.trim().to_lowercase();
    let last =
        lower.trim_end_matches(['?', '!', '.', ' ']).rsplit(['.', '!', '?', '\n']).next().unwrap_or("").to_string();
    let words = |text: &str| -> Vec<String> {
        text.split(|c: char| !c.is_alphanumeric() && c != '\'')
            .filter(|w| !w.is_empty())
            .map(|w| w.replace('\'', ""))
            .collect()
    };
    let said = words(&last);
    let wh = |i: usize| said.get(i).is_some_and(|w| WH_WORDS.contains(&w.as_str()));
    let opens_with_wh = wh(0) || (said.first().is_some_and(|w| LEAD_INS.contains(&w.as_str())) && wh(1));
    let has_wh = said.iter().any(|w| WH_WORDS.contains(&w.as_str()));
    if !has_wh || !(opens_with_wh || lower.ends_with('?')) {
        return false;
    }
    let all = words(&lower);
    let has = |w: &str| all.iter().any(|x| x == w);
    let asks_for_telling = ["tell", "write", "make", "continue", "read"].iter().any(|w| has(w))
        && ["story", "stories", "tale", "tales", "title", "poem"].iter().any(|w| has(w));
    let what_next = lower.contains("happened next") || lower.contains("happens next");
    let spaced = format!(" {} ", all.join(" "));
    let about_you = ABOUT_YOU.iter().any(|p| spaced.contains(&format!(" {p} ")));
    !(asks_for_telling || what_next || about_you)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::{render_tokens, Message, Role};
    use crate::model::params::{init_params, ParamLayout};
    use crate::model::ModelConfig;

    fn tokenizer() -> Tokenizer {
        let text = "The dog is called Biscuit. Where is the dog? I don't know; the text doesn't say.\n".repeat(30);
        Tokenizer::train([text.as_str()].into_iter(), 320, false).unwrap()
    }

    /// Whatever the weights, a quoted reply is words of the text: with
    /// random weights, several seeds, every reply is a span of the context
    /// (case aside) that starts and ends on word boundaries.
    #[test]
    fn replies_are_spans_of_the_text() {
        let tok = tokenizer();
        let c = ModelConfig::preset("tiny", tok.vocab_size()).unwrap();
        let context = "Tomasz, the dog is called Biscuit. He ran off at 8:15 because of the fireworks.";
        let messages = vec![Message::new(Role::Context, context), Message::new(Role::User, "Where is the dog?")];
        let prompt = render_tokens(&tok, &messages, true).ids;
        let lower = context.to_lowercase();
        let mut spans = 0;
        for seed in 0..6 {
            let params = init_params(&c, &ParamLayout::new(&c), seed);
            let mut g = Generator::new(&c, &params);
            match quote(&mut g, &tok, &prompt, context, 12, QUOTE_BEAMS, QUOTE_LENGTH_PENALTY) {
                Quote::Span(s) => {
                    let s = s.to_lowercase();
                    let bounded = lower.match_indices(&s).any(|(at, _)| {
                        let before = lower[..at].chars().last();
                        let after = lower[at + s.len()..].chars().next();
                        before.is_none_or(|b| !b.is_alphanumeric()) && after.is_none_or(|a| !a.is_alphanumeric())
                    });
                    assert!(bounded, "{s:?} is not a span of whole words of the text");
                    spans += 1;
                }
                Quote::Declined => {}
                Quote::Nothing => panic!("the text has words to quote"),
            }
        }
        assert!(spans > 0, "random weights decline every time");
    }

    /// With one beam and plain sums of log-probabilities, the answer begins
    /// with the likeliest token that starts a word of the text, checked by
    /// scoring every token of the vocabulary here.
    #[test]
    fn one_beam_starts_with_the_likeliest_allowed_token() {
        let tok = tokenizer();
        let c = ModelConfig::preset("tiny", tok.vocab_size()).unwrap();
        let context = "the dog is called biscuit";
        let messages = vec![Message::new(Role::Context, context), Message::new(Role::User, "Where is the dog?")];
        let prompt = render_tokens(&tok, &messages, true).ids;
        let spans = Spans::new(&tok, context);
        let empty = Beam { tokens: Vec::new(), spelled: 0, starts: Vec::new(), logprob: 0.0 };
        let mut checked = 0;
        for seed in 0..4 {
            let params = init_params(&c, &ParamLayout::new(&c), seed);
            let Quote::Span(s) = quote(&mut Generator::new(&c, &params), &tok, &prompt, context, 8, 1, 0.0) else {
                continue;
            };
            let mut g = Generator::new(&c, &params);
            let mut logits = Vec::new();
            for &t in &prompt {
                logits = g.step(t).to_vec();
            }
            let first = (0..logits.len() as u32)
                .filter(|&t| spans.extend(&empty, t).is_some())
                .max_by(|&a, &b| logits[a as usize].total_cmp(&logits[b as usize]))
                .unwrap();
            let word = String::from_utf8(spans.tokens[first as usize].trim_ascii_start().to_vec()).unwrap();
            assert!(s.to_lowercase().starts_with(&word), "{s:?} does not start with {word:?}");
            checked += 1;
        }
        assert!(checked > 0, "random weights declined every time");
    }

    #[test]
    fn spans_follow_the_text_and_end_on_word_boundaries() {
        let tok = tokenizer();
        let spans = Spans::new(&tok, "Biscuit ran. The dog is called Biscuit.");
        assert_eq!(spans.word_starts[..3], [0, 8, 13]);
        let dog = tok.encode(" dog", false);
        let empty = Beam { tokens: Vec::new(), spelled: 0, starts: Vec::new(), logprob: 0.0 };
        // " dog" at the start of a reply drops its space and matches where "dog" starts.
        assert_eq!(dog.len(), 1, "the tokenizer learned \" dog\"");
        let (spelled, starts) = spans.extend(&empty, dog[0]).unwrap();
        assert_eq!((spelled, starts.clone()), (3, vec![17]));
        let beam = Beam { tokens: dog.clone(), spelled, starts, logprob: 0.0 };
        assert!(spans.can_end(&beam), "\"dog\" is followed by a space");
        let half = Beam { spelled: 2, ..beam.clone() };
        assert!(!spans.can_end(&half), "\"do\" ends inside a word");
        // " is" follows "dog" (the text goes on " is called"); " called" does not.
        let (is, called) = (tok.encode(" is", false), tok.encode(" called", false));
        assert_eq!((is.len(), called.len()), (1, 1), "the tokenizer learned \" is\" and \" called\"");
        assert_eq!(spans.extend(&beam, is[0]), Some((6, vec![17])));
        assert!(spans.extend(&beam, called[0]).is_none());
        // A span may not start inside a word: "iscuit" is in the text, but not as a word.
        for t in 0..tok.vocab_size() as u32 {
            if let Some((_, at)) = spans.extend(&empty, t) {
                assert!(at.iter().all(|a| spans.word_starts.contains(a)), "token {t} starts inside a word");
            }
        }
    }

    #[test]
    fn every_battery_question_is_quoted_and_no_story_request_or_small_talk() {
        let questions = crate::chat::battery::read_grounded(None, None).unwrap();
        assert!(questions.len() > 200);
        // Every question a span answers; of the unanswerable, all but a yes/no one ("Is there a car park?").
        for q in questions.iter().filter(|q| q.answerable || !q.question.starts_with("Is ")) {
            assert!(asks_about_text(&q.question), "a question about its text: {:?}", q.question);
        }
        for r in crate::chat::battery::read_story_requests(None, None).unwrap() {
            assert!(!asks_about_text(&r.prompt), "a story request: {:?}", r.prompt);
        }
        let not_about_the_text = [
            "Hello!",
            "Thanks, that helps.",
            "What is your name?",
            "Who are you?",
            "How are you today?",
            "Give this story a title.",
            "Can you write a story about what happened to the cat?",
            "What happened next?",
            "Summarise the text.",
            "Is the shop open on Sunday?",
        ];
        for m in not_about_the_text {
            assert!(!asks_about_text(m), "{m:?}");
        }
        assert!(asks_about_text("What should you bring?"), "a text may speak to \"you\"");
    }

    #[test]
    fn the_mode_decides_with_a_context_only() {
        let question = Message::new(Role::User, "Who keeps the lighthouse?");
        let story = Message::new(Role::User, "Tell me a story about the lighthouse.");
        let context = Message::new(Role::Context, "Marguerite keeps the lighthouse.");
        let with = |m: &Message| vec![context.clone(), m.clone()];
        assert!(QuoteMode::Questions.applies(&with(&question)));
        assert!(!QuoteMode::Questions.applies(&with(&story)));
        assert!(!QuoteMode::Questions.applies(std::slice::from_ref(&question)), "no context, nothing to quote");
        assert!(QuoteMode::Always.applies(&with(&story)));
        assert!(!QuoteMode::Always.applies(std::slice::from_ref(&story)));
        assert!(!QuoteMode::Off.applies(&with(&question)));
        // The last user message decides, not an earlier one.
        let mut turns = with(&question);
        turns.extend([Message::new(Role::Assistant, "Marguerite"), story.clone()]);
        assert!(!QuoteMode::Questions.applies(&turns));
    }
}
