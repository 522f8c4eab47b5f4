//! The evaluation battery: what a user asks a chat model, scored as rates.
//!
//! Two hand-written sets live in `evals/` (see its README): grounded
//! questions about short texts (notes, messages, notices, stories), some of
//! them unanswerable, and story requests. Nothing in them was made by a
//! program, so a model that learned a generator's templates gets no credit
//! for it here.
//!
//! - Grounded QA: the text goes in a `context` message, the question in a
//!   `user` message, and the reply is greedy. Exact match and token F1 take
//!   the best gold answer. Answer accuracy asks less of the wording and more
//!   of the length: a gold answer appears in the reply, and the reply has at
//!   most max(12, 3 × that answer's words) words, so "The dog is called
//!   Biscuit." counts and an echo of the whole text does not.
//! - Refusals: on unanswerable questions the reply should say the text does
//!   not tell ([`is_refusal`]); on answerable ones a refusal is a false
//!   refusal.
//! - Story requests: the reply, sampled as `fledge chat` samples, passes
//!   when it has at least [`STORY_MIN_WORDS`] words, every subject stem of
//!   the request, and no identity line ([`has_identity_line`]).

use std::path::Path;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::eval::{normalize, token_f1};
use super::template::{render_tokens, Message, Role};
use crate::generate::{Generator, SamplingOptions};
use crate::model::ModelConfig;
use crate::tokenizer::Tokenizer;

/// The shortest reply that counts as a story.
pub const STORY_MIN_WORDS: usize = 40;

/// One question of `evals/grounded-qa.jsonl`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroundedItem {
    pub id: String,
    pub split: String,
    pub context_id: String,
    pub kind: String,
    pub context: String,
    pub question: String,
    pub answers: Vec<String>,
    pub answer_type: String,
    pub answerable: bool,
}

/// One request of `evals/story-requests.jsonl`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoryRequest {
    pub id: String,
    pub split: String,
    pub prompt: String,
    pub subject_words: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum BatteryError {
    #[error("cannot read {path}: {source}; the battery's sets are in evals/ of the fledge checkout (--evals points elsewhere)")]
    Read { path: String, source: std::io::Error },
    #[error("{path}, line {line}: {message}")]
    Line { path: String, line: usize, message: String },
}

/// The battery's sets as fledge was built with them (`evals/` of its
/// source), so that `fledge eval` has them wherever the binary is.
pub const GROUNDED_QA: &str = include_str!("../../evals/grounded-qa.jsonl");
pub const STORY_REQUESTS: &str = include_str!("../../evals/story-requests.jsonl");

/// A set's text and the name its errors use: `dir/file`, or the built-in
/// copy when `dir` is `None`.
fn set_text(dir: Option<&Path>, file: &str, builtin: &'static str) -> Result<(String, String), BatteryError> {
    match dir {
        None => Ok((format!("evals/{file} (built in)"), builtin.to_string())),
        Some(d) => {
            let path = d.join(file);
            let text = std::fs::read_to_string(&path)
                .map_err(|source| BatteryError::Read { path: path.display().to_string(), source })?;
            Ok((path.display().to_string(), text))
        }
    }
}

/// Reads a JSONL set, keeping the items of `split` (all when `None`).
/// Every line must parse; a gold answer that is not in its context is an
/// error too, since it could never be copied.
fn read_set<T: for<'de> Deserialize<'de>>(
    (name, text): (String, String),
    split: Option<&str>,
    split_of: impl Fn(&T) -> &str,
    check: impl Fn(&T) -> Result<(), String>,
) -> Result<Vec<T>, BatteryError> {
    let mut items = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let bad = |message: String| BatteryError::Line { path: name.clone(), line: i + 1, message };
        let item: T = serde_json::from_str(line).map_err(|e| bad(e.to_string()))?;
        check(&item).map_err(bad)?;
        if split.map_or(true, |s| s == split_of(&item)) {
            items.push(item);
        }
    }
    Ok(items)
}

/// The grounded questions of `dir/grounded-qa.jsonl` (the built-in set when `dir` is `None`).
pub fn read_grounded(dir: Option<&Path>, split: Option<&str>) -> Result<Vec<GroundedItem>, BatteryError> {
    read_set(
        set_text(dir, "grounded-qa.jsonl", GROUNDED_QA)?,
        split,
        |g: &GroundedItem| &g.split,
        |g| {
            let context = g.context.to_lowercase();
            match g.answers.iter().find(|a| !context.contains(&a.to_lowercase())) {
                Some(a) => Err(format!("answer {a:?} of {} is not in its context", g.id)),
                None if g.answerable && g.answers.is_empty() => {
                    Err(format!("{} is answerable but has no answer", g.id))
                }
                None => Ok(()),
            }
        },
    )
}

/// The story requests of `dir/story-requests.jsonl` (the built-in set when `dir` is `None`).
pub fn read_story_requests(dir: Option<&Path>, split: Option<&str>) -> Result<Vec<StoryRequest>, BatteryError> {
    read_set(
        set_text(dir, "story-requests.jsonl", STORY_REQUESTS)?,
        split,
        |s: &StoryRequest| &s.split,
        |s| match s.subject_words.is_empty() {
            true => Err(format!("{} has no subject_words", s.id)),
            false => Ok(()),
        },
    )
}

fn word_count(s: &str) -> usize {
    s.split_whitespace().count()
}

/// A gold answer appears in the reply (both normalized, on word
/// boundaries), and the reply is short: at most max(12, 3 × its words).
pub fn answer_accuracy(reply: &str, answers: &[String]) -> bool {
    let r = format!(" {} ", normalize(reply));
    let words = word_count(&r);
    answers.iter().any(|a| {
        let a = normalize(a);
        !a.is_empty() && r.contains(&format!(" {a} ")) && words <= 12.max(3 * word_count(&a))
    })
}

/// Whether a reply declines to answer from the text ("I don't know; the
/// text doesn't say.", "It doesn't say.", "The note does not tell us.").
pub fn is_refusal(reply: &str) -> bool {
    const SIGNS: [&str; 12] = [
        "doesn't say",
        "does not say",
        "don't know",
        "do not know",
        "doesn't tell",
        "does not tell",
        "not in the text",
        "isn't in the text",
        "not say",
        "no way to know",
        "not mentioned",
        "can't tell",
    ];
    let r = reply.to_lowercase().replace('’', "'");
    SIGNS.iter().any(|s| r.contains(s))
}

/// Whether a reply talks about the model instead of telling a story.
pub fn has_identity_line(reply: &str) -> bool {
    let r = reply.to_lowercase().replace('’', "'");
    ["fledge", "language model", "i am an ai", "i'm an ai", "as an ai", "a small model"].iter().any(|s| r.contains(s))
}

/// One grounded answer, kept for the transcript file.
#[derive(Debug, Clone, Serialize)]
pub struct GroundedAnswer {
    pub id: String,
    /// The kind of text asked about (note, story, timetable, ...).
    pub text_kind: String,
    pub answer_type: String,
    pub answerable: bool,
    pub question: String,
    pub answers: Vec<String>,
    pub reply: String,
    pub exact: bool,
    pub f1: f64,
    pub accurate: bool,
    pub refused: bool,
}

/// Rates on the grounded set: answerable questions (EM, F1, accuracy,
/// false refusals) and unanswerable ones (refusals).
#[derive(Debug, Clone, Serialize)]
pub struct GroundedScore {
    pub answerable: usize,
    pub unanswerable: usize,
    pub too_long: usize,
    pub exact_match: f64,
    pub f1: f64,
    pub answer_accuracy: f64,
    pub false_refusal_rate: f64,
    pub refusal_rate: f64,
    /// Answer accuracy per answer type (name, place, time, ...), with counts.
    pub by_type: Vec<(String, usize, f64)>,
    /// Answer accuracy per kind of text (note, story, timetable, ...), with
    /// counts: where a model that has learned one kind of text fails another.
    pub by_text_kind: Vec<(String, usize, f64)>,
    pub seconds: f64,
    #[serde(skip)]
    pub answers: Vec<GroundedAnswer>,
}

/// One standard error of a rate measured over `n` items, sqrt(p(1 - p) / n):
/// two models whose rates differ by less than about twice this have not been
/// told apart by the set.
pub fn standard_error(rate: f64, n: usize) -> f64 {
    if n == 0 {
        return 0.0;
    }
    (rate * (1.0 - rate) / n as f64).sqrt()
}

/// The messages a grounded item is asked as.
pub fn grounded_messages(item: &GroundedItem) -> Vec<Message> {
    vec![Message::new(Role::Context, item.context.clone()), Message::new(Role::User, item.question.clone())]
}

/// Asks every item greedily, decoded as `answering` says
/// ([`super::reply_contrasted`]), and scores the replies. Items whose prompt
/// and longest answer do not fit the window are counted in `too_long`.
pub fn score_grounded(
    config: &ModelConfig,
    params: &[f32],
    tok: &Tokenizer,
    items: &[GroundedItem],
    answering: super::Answering,
) -> GroundedScore {
    let start = std::time::Instant::now();
    let answers: Vec<Option<GroundedAnswer>> = items
        .par_iter()
        .map(|item| {
            let messages = grounded_messages(item);
            if render_tokens(tok, &messages, true).ids.len() + answering.max_new_tokens > config.max_seq_len {
                return None;
            }
            let (reply, _) = super::reply_contrasted(config, params, tok, &messages, answering, 0);
            let reply = reply.trim().to_string();
            Some(GroundedAnswer {
                id: item.id.clone(),
                text_kind: item.kind.clone(),
                answer_type: item.answer_type.clone(),
                answerable: item.answerable,
                question: item.question.clone(),
                answers: item.answers.clone(),
                exact: item.answers.iter().any(|a| normalize(a) == normalize(&reply)),
                f1: item.answers.iter().map(|a| token_f1(&reply, a)).fold(0.0, f64::max),
                accurate: answer_accuracy(&reply, &item.answers),
                refused: is_refusal(&reply),
                reply,
            })
        })
        .collect();
    let too_long = answers.iter().filter(|a| a.is_none()).count();
    let answers: Vec<GroundedAnswer> = answers.into_iter().flatten().collect();
    let (yes, no): (Vec<&GroundedAnswer>, Vec<&GroundedAnswer>) = answers.iter().partition(|a| a.answerable);
    let rate = |v: &[&GroundedAnswer], f: &dyn Fn(&GroundedAnswer) -> f64| {
        v.iter().map(|a| f(a)).sum::<f64>() / v.len().max(1) as f64
    };
    GroundedScore {
        answerable: yes.len(),
        unanswerable: no.len(),
        too_long,
        exact_match: rate(&yes, &|a| f64::from(u8::from(a.exact))),
        f1: rate(&yes, &|a| a.f1),
        answer_accuracy: rate(&yes, &|a| f64::from(u8::from(a.accurate))),
        false_refusal_rate: rate(&yes, &|a| f64::from(u8::from(a.refused))),
        refusal_rate: rate(&no, &|a| f64::from(u8::from(a.refused))),
        by_type: accuracy_by(&yes, |a| &a.answer_type),
        by_text_kind: accuracy_by(&yes, |a| &a.text_kind),
        seconds: start.elapsed().as_secs_f64(),
        answers,
    }
}

/// Answer accuracy of `answers` grouped by `key`, in the key's order, with
/// each group's size.
fn accuracy_by(answers: &[&GroundedAnswer], key: impl Fn(&GroundedAnswer) -> &str) -> Vec<(String, usize, f64)> {
    let mut groups: std::collections::BTreeMap<&str, (usize, usize)> = std::collections::BTreeMap::new();
    for a in answers {
        let (asked, right) = groups.entry(key(a)).or_default();
        *asked += 1;
        *right += usize::from(a.accurate);
    }
    groups.into_iter().map(|(k, (asked, right))| (k.to_string(), asked, right as f64 / asked as f64)).collect()
}

/// One story reply and its verdict.
#[derive(Debug, Clone, Serialize)]
pub struct StoryAnswer {
    pub id: String,
    pub prompt: String,
    pub reply: String,
    pub words: usize,
    pub missing_subjects: Vec<String>,
    pub identity_line: bool,
    pub pass: bool,
}

/// Judges one reply to a story request.
pub fn judge_story(request: &StoryRequest, reply: &str) -> StoryAnswer {
    let lower = reply.to_lowercase();
    let missing_subjects: Vec<String> =
        request.subject_words.iter().filter(|w| !lower.contains(&w.to_lowercase())).cloned().collect();
    let words = word_count(reply);
    let identity_line = has_identity_line(reply);
    StoryAnswer {
        id: request.id.clone(),
        prompt: request.prompt.clone(),
        reply: reply.to_string(),
        words,
        pass: words >= STORY_MIN_WORDS && missing_subjects.is_empty() && !identity_line,
        missing_subjects,
        identity_line,
    }
}

/// Rates on the story requests.
#[derive(Debug, Clone, Serialize)]
pub struct StoryScore {
    pub requests: usize,
    /// How the replies were sampled (`fledge chat`'s other settings).
    pub temperature: f32,
    pub seed: u64,
    /// Classifier-free guidance toward the request (0: none; see
    /// [`super::generate_reply`]).
    pub guidance: f32,
    /// Stories sampled at most per request ([`super::tries`]).
    pub tries: usize,
    /// Stories of the subject asked for, long enough, with no identity line.
    pub pass_rate: f64,
    pub long_enough_rate: f64,
    pub subjects_rate: f64,
    pub identity_rate: f64,
    pub mean_words: f64,
    pub seconds: f64,
    #[serde(skip)]
    pub answers: Vec<StoryAnswer>,
}

/// The sampling `fledge chat` uses by default (at `temperature`), seeded
/// per request so a run is repeatable.
pub fn story_sampling(max_new_tokens: usize, temperature: f32, seed: u64) -> SamplingOptions {
    SamplingOptions {
        temperature,
        top_k: crate::generate::CHAT_TOP_K,
        top_p: crate::generate::CHAT_TOP_P,
        repetition_penalty: crate::generate::CHAT_REPETITION_PENALTY,
        max_new_tokens,
        seed,
        ..Default::default()
    }
}

/// How the story requests are sampled: `fledge chat`'s settings at
/// `temperature`, seeded per request, guided toward the request.
#[derive(Debug, Clone, Copy)]
pub struct StorySettings {
    /// Longest story, in tokens.
    pub max_new_tokens: usize,
    pub temperature: f32,
    /// The first request's seed; each next request uses the next one.
    pub seed: u64,
    /// Classifier-free guidance toward the request (0: none).
    pub guidance: f32,
    /// Stories sampled at most per request, keeping the one that uses the
    /// request's words ([`super::tries`]; 1: one sample).
    pub tries: usize,
}

impl StorySettings {
    /// As `fledge chat` answers by default, at most 300 tokens, seed 0.
    pub fn chat() -> Self {
        Self {
            max_new_tokens: 300,
            temperature: crate::generate::CHAT_TEMPERATURE,
            seed: 0,
            guidance: super::CHAT_GUIDANCE,
            tries: super::tries::STORY_TRIES,
        }
    }
}

/// Asks every story request as `settings` say and judges the replies.
pub fn score_stories(
    config: &ModelConfig,
    params: &[f32],
    tok: &Tokenizer,
    requests: &[StoryRequest],
    settings: StorySettings,
) -> StoryScore {
    let StorySettings { max_new_tokens, temperature, seed, guidance, tries } = settings;
    let start = std::time::Instant::now();
    let answers: Vec<StoryAnswer> = requests
        .par_iter()
        .enumerate()
        .map(|(i, request)| {
            let messages = [Message::new(Role::User, request.prompt.clone())];
            let ids = render_tokens(tok, &messages, true).ids;
            let budget = config.max_seq_len.saturating_sub(ids.len()).min(max_new_tokens);
            let (mut generator, mut guide) = (Generator::new(config, params), Generator::new(config, params));
            let options = story_sampling(budget, temperature, seed + i as u64);
            let g = super::tries::generate_story_reply(
                &mut generator,
                &mut guide,
                guidance,
                tok,
                &messages,
                &options,
                tries,
                |_, _| {},
            );
            judge_story(request, g.text.trim())
        })
        .collect();
    let n = answers.len().max(1) as f64;
    let rate = |f: &dyn Fn(&StoryAnswer) -> bool| answers.iter().filter(|a| f(a)).count() as f64 / n;
    StoryScore {
        requests: answers.len(),
        temperature,
        seed,
        guidance,
        tries,
        pass_rate: rate(&|a| a.pass),
        long_enough_rate: rate(&|a| a.words >= STORY_MIN_WORDS),
        subjects_rate: rate(&|a| a.missing_subjects.is_empty()),
        identity_rate: rate(&|a| a.identity_line),
        mean_words: answers.iter().map(|a| a.words as f64).sum::<f64>() / n,
        seconds: start.elapsed().as_secs_f64(),
        answers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn standard_error_of_a_rate() {
        assert!((standard_error(0.5, 100) - 0.05).abs() < 1e-12);
        assert_eq!(standard_error(1.0, 200), 0.0);
        assert_eq!(standard_error(0.3, 0), 0.0);
    }

    #[test]
    fn a_short_sentence_with_the_answer_counts_and_an_echo_does_not() {
        let gold = s(&["Biscuit"]);
        assert!(answer_accuracy("Biscuit", &gold));
        assert!(answer_accuracy("The dog is called Biscuit.", &gold));
        assert!(!answer_accuracy("Biscuits", &gold), "whole words only");
        let echo = "Our dog is lost. He is brown and small and his name is Biscuit and he likes cheese a lot.";
        assert!(!answer_accuracy(echo, &gold), "{} words", word_count(echo));
        // A long answer allows three times its words.
        let long = s(&["in the blue box on the top shelf of the fridge"]);
        let reply = "Your lunch is in the blue box on the top shelf of the fridge, Tomasz, next to the milk.";
        assert!(answer_accuracy(reply, &long));
        assert!(!answer_accuracy("", &gold));
    }

    #[test]
    fn refusals_and_identity_lines_are_recognised() {
        assert!(is_refusal("I don't know; the text doesn't say."));
        assert!(is_refusal("The note does not say."));
        assert!(is_refusal("It doesn’t tell us."));
        assert!(!is_refusal("At four o'clock."));
        assert!(has_identity_line("No, I am Fledge, a small language model."));
        assert!(!has_identity_line("Once upon a time there was a little dragon."));
    }

    #[test]
    fn a_story_passes_only_when_long_on_subject_and_in_character() {
        let request = StoryRequest {
            id: "x".into(),
            split: "dev".into(),
            prompt: "A dragon story".into(),
            subject_words: s(&["dragon", "dark"]),
        };
        let story = "Once upon a time there was a little dragon named Pip. Pip was afraid of the dark. \
                     Every night he hid under his blanket and shook. One night his friend the owl came \
                     to visit. The owl showed Pip the stars and the moon. Pip saw that the dark was full \
                     of light, and he was never scared again.";
        assert!(judge_story(&request, story).pass, "{}", word_count(story));
        let short = judge_story(&request, "A dragon was scared of the dark.");
        assert!(!short.pass && short.missing_subjects.is_empty());
        let off = judge_story(&request, &story.replace("dark", "rain"));
        assert_eq!(off.missing_subjects, s(&["dark"]));
        let me = judge_story(&request, &format!("I am Fledge, a small language model. {story}"));
        assert!(me.identity_line && !me.pass);
    }

    #[test]
    fn the_shipped_sets_parse_and_every_answer_is_in_its_context() {
        let all = read_grounded(None, None).unwrap();
        let dev = read_grounded(None, Some("dev")).unwrap();
        assert!(all.len() >= 100 && dev.len() * 3 > all.len());
        assert!(all.iter().any(|g| !g.answerable) && all.iter().any(|g| g.answerable));
        let stories = read_story_requests(None, None).unwrap();
        assert!(stories.len() >= 50);
        // The built-in copy is the checkout's.
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("evals");
        assert_eq!(read_grounded(Some(&dir), None).unwrap().len(), all.len());
    }

    #[test]
    fn accuracy_is_grouped_by_text_kind_and_answer_type() {
        let answer = |kind: &str, answer_type: &str, accurate: bool| GroundedAnswer {
            id: String::new(),
            text_kind: kind.into(),
            answer_type: answer_type.into(),
            answerable: true,
            question: String::new(),
            answers: Vec::new(),
            reply: String::new(),
            exact: accurate,
            f1: 0.0,
            accurate,
            refused: false,
        };
        let all = [
            answer("story", "name", true),
            answer("note", "time", false),
            answer("story", "time", false),
            answer("story", "name", true),
        ];
        let refs: Vec<&GroundedAnswer> = all.iter().collect();
        let by_kind = accuracy_by(&refs, |a| &a.text_kind);
        assert_eq!(by_kind, vec![("note".to_string(), 1, 0.0), ("story".to_string(), 3, 2.0 / 3.0)]);
        let by_type = accuracy_by(&refs, |a| &a.answer_type);
        assert_eq!(by_type, vec![("name".to_string(), 2, 1.0), ("time".to_string(), 2, 0.0)]);
        assert!(accuracy_by(&[], |a| &a.text_kind).is_empty());
    }

    #[test]
    fn a_bad_line_is_named_by_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("grounded-qa.jsonl");
        let good = r#"{"id":"a","split":"dev","context_id":"c","kind":"note","context":"The cat is Tom.","question":"Who?","answers":["Tom"],"answer_type":"name","answerable":true}"#;
        std::fs::write(&path, format!("{good}\n{}\n", good.replace("[\"Tom\"]", "[\"Max\"]"))).unwrap();
        let err = read_grounded(Some(dir.path()), None).unwrap_err().to_string();
        assert!(err.contains("line 2") && err.contains("\"Max\""), "{err}");
        std::fs::write(&path, "{not json\n").unwrap();
        assert!(read_grounded(Some(dir.path()), None).unwrap_err().to_string().contains("line 1"));
    }
}
