//! Fill-in-the-blank conversations made from the pretraining corpus
//! (`fledge data cloze`): a passage of 2 to 8 sentences of a training
//! document, then 1 to 3 of its sentences given back with a word or two
//! blanked out ("Fill in the blank from the text: Lily went to the ___ with
//! her mom."), answered with the words the text has there.
//!
//! Why: to answer a question about a text a model must find the sentence the
//! question is about and copy a span of it. The questions of `rc` and
//! `notes` teach that in a few hundred wordings, which a small model learns
//! as wordings: 0.95 exact match on held-out generated notes, 0.36 on the
//! hand-written dev split (README, "Where the question goes"). A cloze asks
//! for any word of any sentence, so only finding the sentence answers it;
//! about a fifth of the sentences come back reworded (a synonym, a word left
//! out), so that finding it is not only matching every word. Cloze questions made
//! from unlabelled text are the unsupervised extractive-QA lever of Dhingra
//! et al. (2018, "Simple and Effective Semi-Supervised Question Answering")
//! and Lewis et al. (2019, "Unsupervised Question Answering by Cloze
//! Translation"). About 5% give back a sentence of another document and are
//! answered with the refusal: the text does not say.
//!
//! The same passages also make copy exercises (`fledge data copy`): "What
//! comes after \"the old\" in the text?" answered with the rest of that
//! sentence word for word, a sentence quoted by one of its words, or the
//! whole passage repeated. They teach the one skill every grounded answer
//! ends with and the shipped model lacks: finding a place in the text and
//! going on copying from there (an induction head, Olsson et al. 2022; the
//! shipped model predicts the second reading of a random word list no
//! better than the first, `fledge inspect --induction`).
//!
//! Rule-based and deterministic like `rc`, whose sentence splitting, word
//! lists and document split it shares: a document's cloze and rc questions
//! fall in the same split.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;

use super::text::{passage, sentences, Sent};
use super::{split_of, words, RcError};
use crate::chat::convert::{self, Converted, UNKNOWN_ANSWER};
use crate::chat::template::{Conversation, Message, Role};
use crate::chat::{skip, Skips};
use crate::data::license::SourceLicense;

/// The converted-set name: output goes to `{out}/cloze/`.
pub const SOURCE: &str = "cloze";
/// Default cap on the number of blanks.
pub const DEFAULT_MAX_ITEMS: usize = 60_000;
/// Longest passage, in words.
const MAX_CONTEXT_WORDS: usize = 200;
/// Longest conversation, in bytes of text (about 400 tokens).
const MAX_CONVERSATION_BYTES: usize = 1500;
/// Share of blanks whose sentence comes from another document (a passage has
/// about two blanks, so twice this share of passages gets one).
const UNANSWERABLE_SHARE: f64 = 0.05;
/// Share of sentences with a word of the synonym table given back with
/// the synonym ("afraid" for "scared").
const SYNONYM_SHARE: f64 = 0.5;
/// Share of the other sentences given back with a word left out.
const LEFT_OUT_SHARE: f64 = 0.15;
/// How many example conversations the report keeps.
const EXAMPLES: usize = 6;
/// The blank as the question writes it.
pub const BLANK: &str = "___";

const TEMPLATES: &[&str] = &[
    "Fill in the blank from the text: {Q}",
    "Fill in the blank: {Q}",
    "What goes in the blank? {Q}",
    "Complete this sentence from the text: {Q}",
    "{Q} What fills the gap, according to the text?",
    "Which {WORDS} missing here? {Q}",
];

/// Copy questions: the rest of a sentence after a few of its words.
const AFTER_TEMPLATES: &[&str] = &[
    "What comes after \"{A}\" in the text?",
    "How does the text go on after \"{A}\"?",
    "Finish this from the text: \"{A} ...\"",
    "Which words follow \"{A}\" in the text?",
    "Continue the text from \"{A}\".",
    "Copy the rest of the sentence that has \"{A}\".",
];
/// Copy questions: the sentence that holds a word.
const SENTENCE_TEMPLATES: &[&str] = &[
    "Copy the sentence with the word \"{W}\".",
    "Which sentence of the text says \"{W}\"?",
    "Quote the sentence about \"{W}\" from the text.",
    "Find \"{W}\" in the text and give me that sentence.",
];
/// Copy questions: the whole passage.
const WHOLE_TEMPLATES: &[&str] = &[
    "Repeat the text word for word.",
    "Copy the text exactly.",
    "Say the text again, word for word.",
    "Write out the text above.",
];
/// Longest passage the whole-text copy repeats, in words.
const MAX_WHOLE_WORDS: usize = 80;

/// Which exercise a passage is made into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exercise {
    /// A sentence with a word or two blanked (`fledge data cloze`).
    Blanks,
    /// Copy a span of the passage (`fledge data copy`).
    Copies,
}

impl Exercise {
    /// The converted-set name: output goes to `{out}/{source}/`.
    pub fn source(self) -> &'static str {
        match self {
            Exercise::Blanks => SOURCE,
            Exercise::Copies => COPY_SOURCE,
        }
    }
}

/// The converted-set name of the copy exercises.
pub const COPY_SOURCE: &str = "copy";

/// What a run made and skipped.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ClozeReport {
    pub seed: u64,
    pub max_items: usize,
    pub documents_read: usize,
    pub documents_used: usize,
    /// Conversations kept (one passage each).
    pub contexts: usize,
    pub items: usize,
    /// One word or two blanked, reworded or not, and the refusals.
    pub items_per_kind: BTreeMap<String, usize>,
    pub skipped: BTreeMap<String, usize>,
    pub splits: BTreeMap<String, usize>,
    pub seconds: f64,
    pub examples: Vec<Conversation>,
}

/// One blank: the question, its answer and what kind of blank it is.
#[derive(Debug, Clone, PartialEq)]
struct Item {
    question: String,
    answer: String,
    kinds: Vec<&'static str>,
}

/// A passage and its blanks, from document `doc`.
#[derive(Debug, Clone)]
struct Candidate {
    doc: usize,
    context: String,
    items: Vec<Item>,
}

/// A word a blank may take, or a reworded question may change or leave
/// out: a word of three letters or more that is not a function word.
fn content(st: &Sent, i: usize) -> bool {
    st.is_word(i) && st.w(i).chars().count() >= 3 && !words::function_word(st.w(i))
}

/// The sentence `st` with tokens `a..b` blanked, and now and then another
/// content word changed for a synonym or left out (with the space before
/// it). Returns the question's sentence and what was done to it.
fn blanked(st: &Sent, a: usize, b: usize, rng: &mut ChaCha8Rng) -> (String, Option<&'static str>) {
    let others: Vec<usize> = (0..st.toks.len()).filter(|&i| (i < a || i >= b) && content(st, i)).collect();
    let synonyms: Vec<usize> = others.iter().copied().filter(|&i| words::synonym(st.w(i)).is_some()).collect();
    // a word left out from between two words, never from a clause's edge
    let inner: Vec<usize> =
        others.iter().copied().filter(|&i| st.is_word(i + 1) && i > 0 && st.is_word(i - 1)).collect();
    let mut change: Option<(usize, Option<&'static str>)> = None;
    if !synonyms.is_empty() && rng.gen_bool(SYNONYM_SHARE) {
        change = synonyms.choose(rng).map(|&i| (i, words::synonym(st.w(i))));
    } else if others.len() >= 4 && rng.gen_bool(LEFT_OUT_SHARE) {
        change = inner.choose(rng).map(|&i| (i, None));
    }
    let mut out = String::new();
    for i in 0..st.toks.len() {
        if i > a && i < b {
            continue;
        }
        let gap = if i == 0 { "" } else { &st.text[st.toks[i - 1].e..st.toks[i].s] };
        match change {
            Some((c, None)) if c == i => continue,
            Some((c, Some(syn))) if c == i => {
                out.push_str(gap);
                if st.cap(i) {
                    out.push_str(&crate::data::case::upper_first(syn));
                } else {
                    out.push_str(syn);
                }
                continue;
            }
            _ => {}
        }
        out.push_str(gap);
        out.push_str(if i == a { BLANK } else { st.raw(i) });
    }
    let done = change.map(|(_, s)| if s.is_some() { "synonym" } else { "word left out" });
    (out.trim_start().to_string(), done)
}

/// The blank of one sentence of a passage whose lower-cased words are
/// `vocab`: a content word said once in the passage, and now and then the
/// content word after it too ("red ball").
fn blank_in(st: &Sent, vocab: &BTreeMap<&str, usize>, rng: &mut ChaCha8Rng) -> Option<(usize, usize)> {
    let once: Vec<usize> =
        (0..st.toks.len()).filter(|&i| content(st, i) && vocab.get(st.w(i)).copied() == Some(1)).collect();
    let &a = once.choose(rng)?;
    let b = if content(st, a + 1) && rng.gen_bool(0.3) { a + 2 } else { a + 1 };
    Some((a, b))
}

/// The question for a blanked sentence, in one of the templates.
fn question(sentence: &str, words_blanked: usize, rng: &mut ChaCha8Rng) -> String {
    let t = TEMPLATES[rng.gen_range(0..TEMPLATES.len())];
    let which = if words_blanked == 1 { "word is" } else { "words are" };
    t.replace("{WORDS}", which).replace("{Q}", sentence)
}

/// A sentence of another document, blanked, whose blank and most of whose
/// words the passage does not hold: its question is answered with the
/// refusal.
fn foreign_item(docs: &[&str], doc: usize, context: &str, rng: &mut ChaCha8Rng) -> Option<Item> {
    if docs.len() < 2 {
        return None;
    }
    let other = (doc + rng.gen_range(1..docs.len())) % docs.len();
    let sents = sentences(docs[other]);
    let st = sents.iter().filter(|s| !s.quotes && s.words >= 6 && s.words <= 30).collect::<Vec<_>>();
    let st = *st.choose(rng)?;
    let lower = context.to_lowercase();
    let held = (0..st.toks.len()).filter(|&i| content(st, i)).filter(|&i| lower.contains(st.w(i))).count();
    let all = (0..st.toks.len()).filter(|&i| content(st, i)).count();
    if all == 0 || held * 2 > all {
        return None;
    }
    let candidates: Vec<usize> = (0..st.toks.len()).filter(|&i| content(st, i) && !lower.contains(st.w(i))).collect();
    let &a = candidates.choose(rng)?;
    let (sentence, _) = blanked(st, a, a + 1, rng);
    Some(Item {
        question: question(&sentence, 1, rng),
        answer: UNKNOWN_ANSWER.to_string(),
        kinds: vec!["unanswerable"],
    })
}

/// The passages and blanks of one document.
fn doc_candidates(docs: &[&str], doc: usize, exercise: Exercise, seed: u64) -> (Vec<Candidate>, Skips) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ (doc as u64 + 1).wrapping_mul(0x2545_f491_4f6c_dd1d));
    let mut skips = Skips::new();
    let sents = sentences(docs[doc]);
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < sents.len() {
        let mut b = (pos + rng.gen_range(2..=8)).min(sents.len());
        while b > pos + 1 && (sents[b - 1].story != sents[pos].story || words_in(&sents[pos..b]) > MAX_CONTEXT_WORDS) {
            b -= 1;
        }
        let window = &sents[pos..b];
        pos = b;
        if window.len() < 2 {
            skip(&mut skips, "passage of one sentence");
            continue;
        }
        let context = passage(window);
        let items = match exercise {
            Exercise::Blanks => blank_items(docs, doc, window, &context, &mut rng, &mut skips),
            Exercise::Copies => copy_items(window, &context, &mut rng, &mut skips),
        };
        let mut items = items;
        let bytes = |items: &[Item]| {
            context.len() + 30 + items.iter().map(|q| q.question.len() + q.answer.len() + 60).sum::<usize>()
        };
        while items.len() > 1 && bytes(&items) > MAX_CONVERSATION_BYTES {
            items.pop();
            skip(&mut skips, "conversation over 1500 bytes");
        }
        if items.is_empty() || bytes(&items) > MAX_CONVERSATION_BYTES {
            skip(&mut skips, "passage without a blank");
            continue;
        }
        out.push(Candidate { doc, context, items });
    }
    (out, skips)
}

/// The blanks of one passage (`window`, written out as `context`): one to
/// three of its sentences, and now and then a sentence of another document.
fn blank_items(
    docs: &[&str],
    doc: usize,
    window: &[Sent],
    context: &str,
    rng: &mut ChaCha8Rng,
    skips: &mut Skips,
) -> Vec<Item> {
    let mut vocab: BTreeMap<&str, usize> = BTreeMap::new();
    for w in window.iter().flat_map(|s| s.low.iter()) {
        *vocab.entry(w.as_str()).or_default() += 1;
    }
    let mut targets: Vec<&Sent> = window.iter().filter(|s| s.words >= 5).collect();
    targets.shuffle(rng);
    targets.truncate(rng.gen_range(1..=3));
    let mut items = Vec::new();
    for st in targets {
        let Some((a, b)) = blank_in(st, &vocab, rng) else {
            skip(skips, "sentence without a word said once");
            continue;
        };
        let (sentence, reworded) = blanked(st, a, b, rng);
        let mut kinds = vec![if b - a == 1 { "one word" } else { "two words" }];
        kinds.extend(reworded);
        items.push(Item { question: question(&sentence, b - a, rng), answer: st.span(a, b).to_string(), kinds });
    }
    if rng.gen_bool(UNANSWERABLE_SHARE * 2.0) {
        if let Some(item) = foreign_item(docs, doc, context, rng) {
            let at = rng.gen_range(0..=items.len());
            items.insert(at, item);
        }
    }
    items
}

/// The copy exercises of one passage: one to three, each the rest of a
/// sentence after a few of its words (most), a sentence found by one of its
/// words, or (once, for a short passage) the whole passage. Every answer is
/// the passage's own text, character for character.
fn copy_items(window: &[Sent], context: &str, rng: &mut ChaCha8Rng, skips: &mut Skips) -> Vec<Item> {
    let lower = context.to_lowercase();
    let once = |needle: &str| lower.matches(needle).count() == 1;
    let mut items = Vec::new();
    let mut whole_asked = false;
    for _ in 0..rng.gen_range(1..=3) {
        let roll: f64 = rng.gen();
        if roll < 0.15 && !whole_asked && words_in(window) <= MAX_WHOLE_WORDS {
            whole_asked = true;
            let t = WHOLE_TEMPLATES[rng.gen_range(0..WHOLE_TEMPLATES.len())];
            items.push(Item { question: t.to_string(), answer: context.to_string(), kinds: vec!["whole text"] });
            continue;
        }
        let Some(st) = window.choose(rng) else { break };
        if roll < 0.35 {
            // A content word said once in the passage names its sentence.
            let said_once: Vec<usize> = (0..st.toks.len())
                .filter(|&i| {
                    content(st, i) && lower.split(|c: char| !c.is_alphanumeric()).filter(|w| *w == st.w(i)).count() == 1
                })
                .collect();
            let Some(&i) = said_once.choose(rng) else {
                skip(skips, "sentence without a word said once");
                continue;
            };
            if items.iter().any(|it: &Item| it.answer == st.text) {
                skip(skips, "the same answer twice in a passage");
                continue;
            }
            let t = SENTENCE_TEMPLATES[rng.gen_range(0..SENTENCE_TEMPLATES.len())];
            items.push(Item {
                question: t.replace("{W}", st.raw(i)),
                answer: st.text.clone(),
                kinds: vec!["sentence"],
            });
            continue;
        }
        // Two to four words the passage says once, with at least two tokens
        // of the sentence after them.
        let n = st.toks.len();
        let starts: Vec<(usize, usize)> = (0..n)
            .flat_map(|a| (2..=4).map(move |len| (a, a + len)))
            .filter(|&(a, b)| b + 2 <= n && (a..b).all(|i| st.is_word(i)))
            .filter(|&(a, b)| once(&st.span(a, b).to_lowercase()))
            .collect();
        let Some(&(a, b)) = starts.choose(rng) else {
            skip(skips, "sentence without words said once");
            continue;
        };
        let answer = &st.text[st.toks[b].s..];
        if items.iter().any(|it: &Item| it.answer == answer) {
            skip(skips, "the same answer twice in a passage");
            continue;
        }
        let t = AFTER_TEMPLATES[rng.gen_range(0..AFTER_TEMPLATES.len())];
        items.push(Item {
            question: t.replace("{A}", st.span(a, b)),
            answer: answer.to_string(),
            kinds: vec!["rest of a sentence"],
        });
    }
    items
}

fn words_in(sents: &[Sent]) -> usize {
    sents.iter().map(|s| s.words).sum()
}

/// Turns documents into fill-in-the-blank conversations: deterministic for
/// a seed, at most `max_items` blanks, passages taken in a shuffled order.
pub fn make_cloze(docs: &[&str], seed: u64, max_items: usize) -> (Vec<(usize, Conversation)>, ClozeReport) {
    make_exercises(docs, Exercise::Blanks, seed, max_items)
}

/// Turns documents into conversations of one exercise: deterministic for a
/// seed, at most `max_items` questions, passages taken in a shuffled order.
pub fn make_exercises(
    docs: &[&str],
    exercise: Exercise,
    seed: u64,
    max_items: usize,
) -> (Vec<(usize, Conversation)>, ClozeReport) {
    let per_doc: Vec<(Vec<Candidate>, Skips)> =
        (0..docs.len()).into_par_iter().map(|d| doc_candidates(docs, d, exercise, seed)).collect();
    let mut report = ClozeReport { seed, max_items, documents_read: docs.len(), ..Default::default() };
    let mut skipped = Skips::new();
    let mut candidates = Vec::new();
    for (c, s) in per_doc {
        candidates.extend(c);
        for (k, v) in s {
            *skipped.entry(k).or_default() += v;
        }
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    candidates.shuffle(&mut rng);
    let mut out = Vec::new();
    for cand in candidates {
        if report.items + cand.items.len() > max_items {
            skip(&mut skipped, "over --max-items");
            continue;
        }
        let mut messages = vec![Message::new(Role::Context, cand.context)];
        for item in cand.items {
            report.items += 1;
            for k in &item.kinds {
                *report.items_per_kind.entry(k.to_string()).or_default() += 1;
            }
            messages.push(Message::new(Role::User, item.question));
            messages.push(Message::new(Role::Assistant, item.answer));
        }
        let conversation = Conversation::new(messages);
        if report.examples.len() < EXAMPLES {
            report.examples.push(conversation.clone());
        }
        out.push((cand.doc, conversation));
    }
    report.contexts = out.len();
    report.documents_used = out.iter().map(|(d, _)| *d).collect::<HashSet<_>>().len();
    report.skipped = skipped.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    (out, report)
}

/// What [`run_exercise`] did.
#[derive(Debug)]
pub struct ClozeRun {
    pub report: ClozeReport,
    pub written: Vec<PathBuf>,
}

/// `fledge data cloze` and `fledge data copy`: reads `corpus/train.jsonl`,
/// writes `out/{cloze,copy}/{train,val,test}.jsonl`, `report.json` and
/// `{cloze,copy}-report.json`.
pub fn run_exercise(
    corpus: &Path,
    out: &Path,
    exercise: Exercise,
    seed: u64,
    max_items: usize,
) -> Result<ClozeRun, RcError> {
    let start = std::time::Instant::now();
    let docs = crate::data::prepare::read_training_documents(corpus)?;
    let texts: Vec<&str> = docs.iter().map(|d| d.text.as_str()).collect();
    let (convs, mut report) = make_exercises(&texts, exercise, seed, max_items);
    // a refusal's sentence comes from another document, but only its words are
    // in the set: the passages are what the licenses cover
    let used: HashSet<String> = convs.iter().map(|(d, _)| docs[*d].source.clone()).collect();
    let licenses: Vec<SourceLicense> =
        crate::data::prepare::read_source_licenses(corpus)?.into_iter().filter(|l| used.contains(&l.source)).collect();
    let what = match exercise {
        Exercise::Blanks => "fill-in-the-blank questions",
        Exercise::Copies => "copy exercises",
    };
    let notes = vec![format!(
        "{what} made by fledge (seed {seed}) from the training split of the prepared corpus {}; \
         passages, questions and answers are verbatim text, so they keep the licenses of their sources",
        corpus.join("train.jsonl").display()
    )];
    let tagged = convs.into_iter().map(|(d, c)| (split_of(texts[d]), c));
    let skipped: BTreeMap<String, usize> = report.skipped.clone();
    let source = exercise.source();
    let converted = Converted::from_tagged(source, tagged, &skipped, notes);
    report.splits = converted.split_counts();
    report.seconds = start.elapsed().as_secs_f64();
    let mut written = convert::write_with_licenses(&converted, out, &licenses)?;
    let path = out.join(source).join(format!("{source}-report.json"));
    crate::fsutil::write_json_atomic(&path, &report)
        .map_err(|e| RcError::WriteReport { path: path.display().to_string(), source: e })?;
    written.push(path);
    Ok(ClozeRun { report, written })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const TEXT: &str = "Mia went to the park with her dad. She found a shiny red stone under the old bench. \
        Her dad said it was a lucky stone.\nThey walked home by the river. Mia put the stone on her shelf.";

    /// A blank's question with the answer put back in the blank.
    fn filled(question: &str, answer: &str) -> Option<String> {
        question.contains(BLANK).then(|| question.replacen(BLANK, answer, 1))
    }

    #[test]
    fn every_blank_is_a_span_of_its_passage_said_once() {
        let (convs, report) = make_cloze(&[TEXT, TEXT], 7, 100);
        assert!(report.items > 0, "{report:?}");
        for (_, c) in &convs {
            let m = &c.messages;
            for pair in m[1..].chunks(2) {
                let (q, a) = (&pair[0].content, &pair[1].content);
                assert!(q.contains(BLANK), "{q}");
                if a == UNKNOWN_ANSWER {
                    continue;
                }
                assert!(m[0].content.contains(a.as_str()), "{a} not in {}", m[0].content);
                let first = a.split(' ').next().unwrap().to_lowercase();
                let times =
                    m[0].content.to_lowercase().split(|c: char| !c.is_alphanumeric()).filter(|w| *w == first).count();
                assert_eq!(times, 1, "{a} said more than once in {}", m[0].content);
            }
        }
    }

    #[test]
    fn an_unchanged_sentence_comes_back_whole_with_its_answer() {
        let mut whole = 0;
        for seed in 0..20 {
            let (convs, _) = make_cloze(&[TEXT], seed, 100);
            for (_, c) in &convs {
                for pair in c.messages[1..].chunks(2) {
                    let full = filled(&pair[0].content, &pair[1].content).unwrap();
                    let sentence = sentences(TEXT).into_iter().find(|s| full.contains(&s.text));
                    whole += usize::from(sentence.is_some());
                }
            }
        }
        // about two thirds come back unchanged (the rest reworded)
        assert!(whole >= 20, "{whole}");
    }

    #[test]
    fn a_reworded_sentence_has_a_synonym_or_leaves_a_word_out() {
        let st = &sentences("Mia was scared of the big dog in the dark garden.")[0];
        let mut seen = BTreeMap::new();
        for seed in 0..200 {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let a = (0..st.toks.len()).find(|&i| st.w(i) == "dog").unwrap();
            let (s, done) = blanked(st, a, a + 1, &mut rng);
            let plain = "Mia was scared of the big ___ in the dark garden.";
            let differ = plain.split(' ').zip(s.split(' ')).filter(|(x, y)| x != y).count();
            match done {
                None => assert_eq!(s, plain),
                // one word another: "afraid", "large", "yard"
                Some("synonym") => assert!(s.split(' ').count() == 11 && differ == 1, "{s}"),
                _ => assert_eq!(s.split(' ').count(), 10, "{s}"),
            }
            *seen.entry(done).or_insert(0) += 1;
        }
        assert_eq!(seen.len(), 3, "unchanged, synonym and word left out: {seen:?}");
    }

    #[test]
    fn a_foreign_sentence_is_refused_and_its_blank_is_not_in_the_passage() {
        let other = "The old fisherman mended his blue nets beside the harbour wall every morning.";
        let mut refused = 0;
        for seed in 0..200 {
            let (convs, _) = make_cloze(&[TEXT, other], seed, 100);
            for (d, c) in &convs {
                for pair in c.messages[1..].chunks(2) {
                    if pair[1].content == UNKNOWN_ANSWER {
                        assert_eq!(*d, 0);
                        refused += 1;
                        assert!(
                            pair[0].content.contains("harbour")
                                || pair[0].content.contains("fisherman")
                                || pair[0].content.contains("mended")
                        );
                    }
                }
            }
        }
        assert!(refused > 0);
    }

    #[test]
    fn the_same_seed_gives_the_same_set() {
        let a = make_cloze(&[TEXT, TEXT], 3, 100).0;
        let b = make_cloze(&[TEXT, TEXT], 3, 100).0;
        assert_eq!(a.len(), b.len());
        assert!(a.iter().zip(&b).all(|(x, y)| x == y));
    }

    /// The quoted words of a copy question, if it quotes any.
    fn quoted(question: &str) -> Option<&str> {
        let a = question.find('"')?;
        let b = question[a + 1..].find('"')? + a + 1;
        Some(question[a + 1..b].trim_end_matches(" ..."))
    }

    #[test]
    fn every_copy_answer_is_the_passage_own_text_after_its_words() {
        let (convs, report) = make_exercises(&[TEXT, TEXT], Exercise::Copies, 11, 200);
        assert!(report.items_per_kind.get("rest of a sentence").copied().unwrap_or(0) > 0, "{report:?}");
        for (_, c) in &convs {
            let m = &c.messages;
            let context = &m[0].content;
            let mut answers = HashSet::new();
            for pair in m[1..].chunks(2) {
                let (q, a) = (&pair[0].content, &pair[1].content);
                assert!(context.contains(a.as_str()), "{a:?} is not text of {context:?}");
                assert!(answers.insert(a.clone()), "{a:?} asked twice in {c:?}");
                match quoted(q) {
                    // the whole passage
                    None => assert_eq!(a, context),
                    // a sentence found by one of its words
                    Some(word) if !word.contains(' ') => {
                        assert!(a.contains(word), "{q} -> {a}");
                        // a whole sentence: capitalised, ended, and preceded by a sentence's end or nothing
                        assert!(a.starts_with(char::is_uppercase) && a.ends_with(['.', '!', '?']), "{a:?}");
                        let at = context.find(a.as_str()).unwrap();
                        assert!(at == 0 || context[..at].trim_end().ends_with(['.', '!', '?']), "{a:?} in {context:?}");
                    }
                    // the words said once, then the rest of their sentence
                    Some(words) => {
                        assert_eq!(context.to_lowercase().matches(&words.to_lowercase()).count(), 1, "{words:?}");
                        assert!(context.contains(&format!("{words} {a}")), "{q} -> {a}");
                        assert!(a.ends_with(['.', '!', '?']), "{a:?} is not the end of a sentence");
                    }
                }
            }
        }
        // Copies leave the blanks as they were: the same seed makes the same cloze set.
        assert_eq!(make_cloze(&[TEXT, TEXT], 3, 100).0, make_exercises(&[TEXT, TEXT], Exercise::Blanks, 3, 100).0);
    }

    proptest! {
        #[test]
        fn any_text_gives_only_copied_answers(raw in "\\PC{0,300}", seed in 0u64..1000) {
            let (convs, _) = make_cloze(&[raw.as_str(), TEXT], seed, 100);
            for (_, c) in convs {
                let m = &c.messages;
                for pair in m[1..].chunks(2) {
                    prop_assert!(pair[1].content == UNKNOWN_ANSWER || m[0].content.contains(&pair[1].content));
                    prop_assert!(pair[0].content.contains(BLANK));
                }
            }
            let (convs, _) = make_exercises(&[raw.as_str(), TEXT], Exercise::Copies, seed, 100);
            for (_, c) in convs {
                let m = &c.messages;
                for pair in m[1..].chunks(2) {
                    prop_assert!(m[0].content.contains(&pair[1].content));
                }
            }
        }
    }
}
