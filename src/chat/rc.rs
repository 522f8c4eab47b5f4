//! Reading-comprehension conversations made from the pretraining corpus
//! (`fledge data rc`): a passage of 1 to 10 consecutive sentences of a
//! training document, then 1 to 4 questions whose answers are spans copied
//! verbatim from it (AdaptLLM's lever, ../shared/DESIGN.md "Teaching a small
//! model to answer from its context").
//!
//! Rule-based on purpose: every answer must be checkably a span of its
//! context and every refusal checkably absent from it, the output must be
//! the same for the same seed, and the ~20 MB corpus must be done in seconds
//! on a CPU, before any model exists that could write questions. The rules
//! fit the simple past-tense narration of TinyStories-style text
//! ("One day, Tom went to the park."); sentences they do not fit are skipped
//! and counted.
//!
//! How a question is made:
//! 1. A document is split into sentences and each is parsed, if it can be,
//!    into time phrase, subject, verb group, objects and place/with phrases,
//!    and a because-clause; dialogue gives speaker and quote; anywhere, a
//!    colour or number before a noun and "a girl named Lily" are noted.
//! 2. A window of sentences is chosen; "he", "she" and "they" become the
//!    name of the previous sentence's subject when nobody else is there.
//! 3. Each fact becomes a question in one of several wordings, with the verb
//!    in its base form ("Where did Tom run?"), now and then a synonym
//!    ("afraid" for "scared", "came across" for "stumbled upon"), casual
//!    typing or another word order; a why-question's answer is a
//!    "because" clause or the cause before ", so" or "so ... that". A fact
//!    that another sentence of the window could also answer is dropped.
//!    Now and then a thing or place fact is also asked yes/no, answered
//!    "Yes." or, when the question names another thing of the window,
//!    "No, " and the true span.
//! 4. About 6% of the questions are unanswerable, and truly so: the colour
//!    of a thing when the passage names no colour, where someone went when
//!    nobody goes anywhere, a name when the passage names nobody, the name
//!    or title of a place or thing (the park, the book) when only people
//!    have names there, the kind of a bird or a cake the passage never says,
//!    or a question about a character of the same story outside the passage.
//! 5. Over the corpus, no kind gets more than a quarter of the questions.
//!
//! Parts: `text` (sentences and their parse), `ask` (windows, pronouns,
//! wordings), `words` (word lists and inflections); this file picks the
//! windows and questions, splits by document and writes the set. `cloze`
//! makes the fill-in-the-blank set from the same sentences and split.

mod ask;
pub mod cloze;
mod text;
mod words;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;

use super::convert::{self, ConvertError, Converted, Split, UNKNOWN_ANSWER};
use super::template::{Conversation, Message, Role};
use super::{skip, Skips};
use crate::data::license::SourceLicense;
use ask::{casual, upper_first, Candidate, Maker, Qa, Window};
use text::{analyse, Analysed};

/// The converted-set name: output goes to `{out}/rc/`.
pub const SOURCE: &str = "rc";
/// Default cap on the number of questions.
pub const DEFAULT_MAX_QUESTIONS: usize = 60_000;
/// Longest passage, in words (the model's window is 512 tokens).
const MAX_CONTEXT_WORDS: usize = 200;
/// Longest conversation, in bytes of text (about 400 tokens).
const MAX_CONVERSATION_BYTES: usize = 1500;
/// Share of questions that are unanswerable.
/// (8% in the fourth chat round, recipes/sft-notes-4.toml: false refusals on the
/// battery's test split rose from 0.11 to 0.26, so back to 6%.)
const UNANSWERABLE_SHARE: f64 = 0.06;
/// Largest share of the questions one kind may take.
const MAX_KIND_SHARE: f64 = 0.25;
/// How many example conversations the report keeps per kind.
const EXAMPLES_PER_KIND: usize = 3;
/// Share of contexts whose named characters are renamed (see [`rename`]).
const RENAMED_SHARE: f64 = 0.4;
/// Share of renamed characters who also get a family name at their first
/// mention ("Agnieszka Nowak", then "Agnieszka").
const SURNAME_SHARE: f64 = 0.3;

/// What a question asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Who,
    What,
    Where,
    When,
    Colour,
    HowMany,
    Had,
    Wanted,
    Found,
    Saw,
    Said,
    Gave,
    Made,
    Ate,
    Why,
    Name,
    Feel,
    Do,
    With,
    YesNo,
    Unanswerable,
}

impl Kind {
    pub const ALL: [Kind; 21] = [
        Kind::Who,
        Kind::What,
        Kind::Where,
        Kind::When,
        Kind::Colour,
        Kind::HowMany,
        Kind::Had,
        Kind::Wanted,
        Kind::Found,
        Kind::Saw,
        Kind::Said,
        Kind::Gave,
        Kind::Made,
        Kind::Ate,
        Kind::Why,
        Kind::Name,
        Kind::Feel,
        Kind::Do,
        Kind::With,
        Kind::YesNo,
        Kind::Unanswerable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Who => "who",
            Kind::What => "what",
            Kind::Where => "where",
            Kind::When => "when",
            Kind::Colour => "colour",
            Kind::HowMany => "how-many",
            Kind::Had => "had",
            Kind::Wanted => "wanted",
            Kind::Found => "found",
            Kind::Saw => "saw",
            Kind::Said => "said",
            Kind::Gave => "gave",
            Kind::Made => "made",
            Kind::Ate => "ate",
            Kind::Why => "why",
            Kind::Name => "name",
            Kind::Feel => "feel",
            Kind::Do => "do",
            Kind::With => "with",
            Kind::YesNo => "yes-no",
            Kind::Unanswerable => "unanswerable",
        }
    }

    /// The kind of "What did X <verb>?" for a verb's base form.
    fn of_lemma(lemma: &str) -> Kind {
        match lemma {
            "have" => Kind::Had,
            "want" => Kind::Wanted,
            "find" => Kind::Found,
            "see" => Kind::Saw,
            "give" => Kind::Gave,
            "make" => Kind::Made,
            "eat" => Kind::Ate,
            _ => Kind::What,
        }
    }
}

/// What a run made and skipped: counts per kind, per reason, and examples.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RcReport {
    pub seed: u64,
    pub max_questions: usize,
    pub documents_read: usize,
    /// Documents at least one kept conversation comes from.
    pub documents_used: usize,
    /// Conversations kept (one context each).
    pub contexts: usize,
    pub questions: usize,
    pub questions_per_kind: BTreeMap<String, usize>,
    pub unanswerable: usize,
    /// Why each unanswerable question has no answer in its context.
    pub unanswerable_per_reason: BTreeMap<String, usize>,
    /// Questions of each kind the rules found in the windows, before each
    /// window picked its 1 to 4 and before the caps.
    pub candidates_per_kind: BTreeMap<String, usize>,
    /// Sentences, windows and questions left out, by reason.
    pub skipped: BTreeMap<String, usize>,
    /// Conversations per split (by document: 90/5/5).
    pub splits: BTreeMap<String, usize>,
    pub seconds: f64,
    /// A few conversations holding each kind.
    pub examples: BTreeMap<String, Vec<Conversation>>,
}

/// One generated conversation and the document it was made from.
#[derive(Debug, Clone, PartialEq)]
pub struct RcConversation {
    pub doc: usize,
    pub conversation: Conversation,
    pub kinds: Vec<Kind>,
}

/// How many sentences a context gets (1 to 10, mostly 3 to 6).
fn window_len(rng: &mut ChaCha8Rng) -> usize {
    let r: f64 = rng.gen();
    if r < 0.12 {
        1
    } else if r < 0.22 {
        2
    } else if r < 0.77 {
        rng.gen_range(3..=6)
    } else {
        rng.gen_range(7..=10)
    }
}

/// Conversation size as the template renders it (roughly: text plus the
/// role markers).
fn conversation_bytes(context: &str, qas: &[Qa]) -> usize {
    context.len() + 30 + qas.iter().map(|q| q.question.len() + q.answer.len() + 60).sum::<usize>()
}

fn doc_candidates(doc: usize, text: &str, known: &dyn Fn(&str) -> bool, seed: u64) -> (Vec<Candidate>, Skips) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ (doc as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let mut skips = Skips::new();
    let an = analyse(text, known, &mut skips);
    let n = an.sents.len();
    let mut out = Vec::new();
    let mut asked: HashSet<(String, String)> = HashSet::new();
    for pass in 0..PASSES {
        let mut pos = if pass == 0 { 0 } else { rng.gen_range(1..=3) };
        while pos < n {
            window(&an, doc, &mut pos, &mut rng, &mut asked, &mut skips, &mut out);
        }
    }
    (out, skips)
}

/// Passes over each document, with windows at different places.
const PASSES: usize = 2;

/// Makes the conversation of the window at `pos` (if it has questions not
/// asked before in this document) and moves `pos` past it.
fn window(
    an: &Analysed,
    doc: usize,
    pos_: &mut usize,
    rng: &mut ChaCha8Rng,
    asked: &mut HashSet<(String, String)>,
    skips: &mut Skips,
    out: &mut Vec<Candidate>,
) {
    let n = an.sents.len();
    let pos = *pos_;
    {
        let want = window_len(rng);
        let mut b = (pos + want).min(n);
        while b > pos + 1 && an.sents[b - 1].story != an.sents[pos].story {
            b -= 1;
        }
        let words = |a: usize, b: usize| an.sents[a..b].iter().map(|s| s.words).sum::<usize>();
        while b > pos + 1 && words(pos, b) > MAX_CONTEXT_WORDS {
            b -= 1;
        }
        if words(pos, b) > MAX_CONTEXT_WORDS {
            skip(skips, "sentence over 200 words");
            *pos_ = pos + 1;
            return;
        }
        *pos_ = b;
        let win = Window::new(an, pos, b);
        let mut maker =
            Maker { win: &win, rng: ChaCha8Rng::seed_from_u64(rng.gen()), out: Vec::new(), skips: Skips::new() };
        for k in pos..b {
            maker.clause_questions(k);
            maker.so_question(k);
            maker.said_questions(k);
            maker.extra_questions(k);
        }
        let mut answerable = std::mem::take(&mut maker.out);
        let checks = yes_no_questions(rng, &answerable, &win.things_and_places());
        answerable.extend(checks);
        answerable.retain(|q| !asked.contains(&(q.question.clone(), q.answer.clone())));
        if rng.gen_bool(0.25) {
            maker.unanswerable();
        }
        let unknown = std::mem::take(&mut maker.out);
        for (k, v) in maker.skips {
            *skips.entry(k).or_default() += v;
        }
        if answerable.is_empty() && unknown.is_empty() {
            skip(skips, "window without a question");
            return;
        }
        let found: Vec<Kind> = answerable.iter().chain(&unknown).map(|q| q.kind).collect();
        let mut qas = choose_questions(rng, answerable);
        if let Some(u) = unknown.into_iter().next() {
            qas.truncate(3);
            let at = rng.gen_range(0..=qas.len());
            qas.insert(at, u);
        }
        for qa in &qas {
            asked.insert((qa.question.clone(), qa.answer.clone()));
        }
        let context = if rng.gen_bool(RENAMED_SHARE) { rename(an, &win, rng, &mut qas) } else { win.context.clone() };
        for qa in &mut qas {
            qa.question = casual(rng, std::mem::take(&mut qa.question));
        }
        while qas.len() > 1 && conversation_bytes(&context, &qas) > MAX_CONVERSATION_BYTES {
            qas.pop();
            skip(skips, "conversation over 1500 bytes");
        }
        if conversation_bytes(&context, &qas) > MAX_CONVERSATION_BYTES {
            skip(skips, "conversation over 1500 bytes");
            return;
        }
        out.push(Candidate { doc, context, qas, found });
    }
}

/// Share of a window's checkable facts also asked as yes/no questions.
const YES_NO_SHARE: f64 = 0.5;

/// Yes/no questions about the window's facts, half answered "Yes." and half
/// "No, " with the true span: the "no" question names another thing (or
/// place) of the same window, from [`Window::things_and_places`] ("Did Tom
/// find a kite in the box?" -> "No, a red ball."). Why: people ask "Is the
/// bakery open on Sundays?", which no wh-question teaches, and a "no" is
/// only right by telling the window's things apart, where many of the
/// battery's wrong answers fail (a wrong span of the right kind: "white"
/// for the collar's colour). A fact with no other thing of its kind in the
/// window is not asked (only "yes" would teach a habit of saying yes).
fn yes_no_questions(rng: &mut ChaCha8Rng, facts: &[Qa], (things, places): &(Vec<String>, Vec<String>)) -> Vec<Qa> {
    // "the hole" is "a hole", "the pot" may be "a small pot": a shared word
    // of three letters or more makes two phrases the same thing
    let words = |s: &str| -> HashSet<String> {
        s.split(|c: char| !c.is_alphanumeric()).filter(|w| w.len() > 2).map(str::to_lowercase).collect()
    };
    let with_words = |phrases: &[String]| -> Vec<(String, HashSet<String>)> {
        let mut v: Vec<(String, HashSet<String>)> = phrases.iter().map(|p| (p.clone(), words(p))).collect();
        v.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        v.dedup_by(|a, b| a.0 == b.0);
        v
    };
    let (things, places) = (with_words(things), with_words(places));
    let mut out = Vec::new();
    for qa in facts {
        let Some(check) = &qa.check else { continue };
        let fact: HashSet<String> = words(&check.slot).union(&words(&qa.answer)).cloned().collect();
        let candidates = if check.place { &places } else { &things };
        let others: Vec<&str> =
            candidates.iter().filter(|(_, w)| w.is_disjoint(&fact)).map(|(phrase, _)| phrase.as_str()).collect();
        if others.is_empty() || !rng.gen_bool(YES_NO_SHARE) {
            continue;
        }
        let (slot, answer) = if rng.gen_bool(0.5) {
            (check.slot.as_str(), "Yes.".to_string())
        } else {
            (*others.choose(rng).expect("not empty"), format!("No, {}.", qa.answer))
        };
        out.push(Qa {
            kind: Kind::YesNo,
            question: format!("{} {slot}{}?", upper_first(&check.before), check.after),
            answer,
            reason: None,
            check: None,
        });
    }
    out
}

/// The window's context with its named characters renamed, and the same
/// names changed in `qas`' questions and answers. Why: the corpus's stories
/// name a few dozen children (Lily, Tim, Ben), so a model can answer "Who
/// ...?" from habit; the texts people hand it name Marguerite Okafor and
/// Tomasz, which it can only copy. Each character whose gender the story or
/// the list of common names tells gets a given name of that gender from the
/// notes' wider list, and now and then a family name at its first mention.
/// A name also in a question about someone outside the passage, or already
/// in the window, is never chosen.
fn rename(an: &Analysed, win: &Window, rng: &mut ChaCha8Rng, qas: &mut [Qa]) -> String {
    use super::notes::{given_names, replace_word, surnames, word_starts};
    let mut context = win.context.clone();
    let mut names: Vec<&String> = an.names.iter().filter(|n| word_starts(&win.context, n).next().is_some()).collect();
    names.sort();
    let said: String = qas.iter().map(|q| format!("{} {} ", q.question, q.answer)).collect();
    for from in names {
        let gender = match an.gender_of(from) {
            Some(g @ ('f' | 'm')) => g,
            _ => continue,
        };
        let pool = given_names(gender == 'f');
        let free = |n: &&String| !n.contains(' ') && !context.contains(n.as_str()) && !said.contains(n.as_str());
        let Some(to) = (0..4).find_map(|_| pool.choose(rng).filter(free)) else { continue };
        let first = if rng.gen_bool(SURNAME_SHARE) {
            surnames().choose(rng).map(|s| format!("{to} {s}")).unwrap_or_else(|| to.clone())
        } else {
            to.clone()
        };
        context = replace_word(&context, from, &first, to);
        rename_in_questions(qas, from, &first, to);
    }
    context
}

/// `from` renamed `to` in each question and answer; a question for the name
/// itself ("What was the boy's name?") is answered with the whole name the
/// context now gives at the first mention (`first`, "Horatio Nowak"), as the
/// dev split's "Who wrote this note?" is answered "Agnieszka Nowak".
fn rename_in_questions(qas: &mut [Qa], from: &str, first: &str, to: &str) {
    use super::notes::replace_word;
    for qa in qas.iter_mut() {
        qa.question = replace_word(&qa.question, from, to, to);
        if qa.kind == Kind::Name && qa.answer == from {
            qa.answer = first.to_string();
        } else if qa.answer != UNKNOWN_ANSWER {
            qa.answer = replace_word(&qa.answer, from, to, to);
        }
    }
}

/// How much a window prefers a kind when it picks its questions: the kinds
/// every sentence gives (who, what) least, the rare ones most.
fn preference(kind: Kind) -> f64 {
    match kind {
        Kind::Who | Kind::What => 1.0,
        Kind::Colour | Kind::Name | Kind::HowMany | Kind::Where | Kind::Feel | Kind::YesNo => 2.0,
        _ => 4.0,
    }
}

/// How much a window prefers one question: its kind's preference, tripled
/// for a who-question that names another character ("Who helped Lily?" ->
/// "Tom"). The model shipped at d8e3ab8 answered such questions with the
/// name in the question ("Who rescued Hamid's kite?" -> "Hamid"); most
/// who-questions name nobody else, so copying the question's name cost it
/// little in training.
fn question_preference(qa: &Qa) -> f64 {
    // a capital inside the question, not the first of a quotation, is a name
    let names_another = qa.question.split_whitespace().skip(1).filter(|w| !w.starts_with(['"', '“'])).any(|w| {
        let w = w.trim_matches(|c: char| !c.is_alphanumeric());
        w.chars().next().is_some_and(char::is_uppercase) && !qa.answer.contains(w)
    });
    let role = matches!(qa.kind, Kind::Who | Kind::With) && names_another;
    preference(qa.kind) * if role { 3.0 } else { 1.0 }
}

/// 1 to 4 questions, different kinds first (rare kinds more often), no
/// question twice.
fn choose_questions(rng: &mut ChaCha8Rng, all: Vec<Qa>) -> Vec<Qa> {
    let mut keyed: Vec<(f64, Qa)> =
        all.into_iter().map(|q| (rng.gen::<f64>().powf(1.0 / question_preference(&q)), q)).collect();
    keyed.sort_by(|a, b| b.0.total_cmp(&a.0));
    let all: Vec<Qa> = keyed.into_iter().map(|(_, q)| q).collect();
    let r: f64 = rng.gen();
    let want = if r < 0.3 {
        1
    } else if r < 0.65 {
        2
    } else if r < 0.87 {
        3
    } else {
        4
    };
    let mut chosen: Vec<Qa> = Vec::new();
    for pass in 0..2 {
        for qa in &all {
            if chosen.len() >= want {
                break;
            }
            let dup = chosen.iter().any(|c| c.question == qa.question || (pass == 0 && c.kind == qa.kind));
            if !dup {
                chosen.push(qa.clone());
            }
        }
    }
    chosen
}

/// The largest per-kind quota that keeps every kind at most
/// `MAX_KIND_SHARE` of the total and the total at most `max`.
fn kind_quota(counts: &BTreeMap<Kind, usize>, max: usize) -> usize {
    let total = |cap: usize| counts.values().map(|&n| n.min(cap)).sum::<usize>();
    let ok = |cap: usize| cap as f64 <= MAX_KIND_SHARE * total(cap) as f64 && total(cap) <= max;
    let (mut lo, mut hi) = (0usize, counts.values().copied().max().unwrap_or(0));
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if ok(mid) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    lo
}

/// Turns documents into reading-comprehension conversations (see the
/// module's documentation): deterministic for a seed, at most
/// `max_questions` questions.
pub fn make_rc(docs: &[&str], seed: u64, max_questions: usize) -> (Vec<RcConversation>, RcReport) {
    let vocab: HashSet<String> = docs
        .par_iter()
        .fold(HashSet::new, |mut set, d| {
            for w in d.split(|c: char| !c.is_alphabetic()) {
                if !w.is_empty() && w.chars().all(|c| c.is_lowercase()) && !set.contains(w) {
                    set.insert(w.to_string());
                }
            }
            set
        })
        .reduce(HashSet::new, |mut a, b| {
            a.extend(b);
            a
        });
    let known = |w: &str| vocab.contains(w);
    let per_doc: Vec<(Vec<Candidate>, Skips)> =
        docs.par_iter().enumerate().map(|(d, text)| doc_candidates(d, text, &known, seed)).collect();

    let mut report = RcReport { seed, max_questions, documents_read: docs.len(), ..Default::default() };
    let mut skipped = Skips::new();
    let mut candidates = Vec::new();
    for (c, s) in per_doc {
        candidates.extend(c);
        for (k, v) in s {
            *skipped.entry(k).or_default() += v;
        }
    }
    let mut counts: BTreeMap<Kind, usize> = BTreeMap::new();
    for qa in candidates.iter().flat_map(|c| &c.qas) {
        *counts.entry(qa.kind).or_default() += 1;
    }
    for kind in candidates.iter().flat_map(|c| &c.found) {
        *report.candidates_per_kind.entry(kind.as_str().to_string()).or_default() += 1;
    }
    let answerable: BTreeMap<Kind, usize> =
        counts.iter().filter(|(k, _)| **k != Kind::Unanswerable).map(|(k, v)| (*k, *v)).collect();
    let max_answerable = ((max_questions as f64) * (1.0 - UNANSWERABLE_SHARE)).floor() as usize;
    let quota = kind_quota(&answerable, max_answerable);
    let answerable_total: usize = answerable.values().map(|&n| n.min(quota)).sum();
    let unknown_quota = ((answerable_total as f64) * UNANSWERABLE_SHARE / (1.0 - UNANSWERABLE_SHARE)).round() as usize;

    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    candidates.shuffle(&mut rng);
    let mut taken: BTreeMap<Kind, usize> = BTreeMap::new();
    let mut out = Vec::new();
    for cand in candidates {
        let mut qas = Vec::new();
        for qa in cand.qas {
            let n = taken.entry(qa.kind).or_default();
            let cap = if qa.kind == Kind::Unanswerable { unknown_quota } else { quota };
            if *n < cap {
                *n += 1;
                if let Some(reason) = qa.reason {
                    *report.unanswerable_per_reason.entry(reason.to_string()).or_default() += 1;
                }
                qas.push(qa);
            } else {
                skip(
                    &mut skipped,
                    if qa.kind == Kind::Unanswerable {
                        "over the unanswerable share"
                    } else {
                        "over the kind's quota or --max-questions"
                    },
                );
            }
        }
        if qas.is_empty() {
            continue;
        }
        let mut messages = vec![Message::new(Role::Context, cand.context)];
        let mut kinds = Vec::new();
        for qa in qas {
            kinds.push(qa.kind);
            messages.push(Message::new(Role::User, qa.question));
            messages.push(Message::new(Role::Assistant, qa.answer));
        }
        out.push(RcConversation { doc: cand.doc, conversation: Conversation::new(messages), kinds });
    }
    report.documents_used = out.iter().map(|c| c.doc).collect::<HashSet<_>>().len();
    report.contexts = out.len();
    for c in &out {
        for &k in &c.kinds {
            *report.questions_per_kind.entry(k.as_str().to_string()).or_default() += 1;
            report.questions += 1;
            let ex = report.examples.entry(k.as_str().to_string()).or_default();
            if ex.len() < EXAMPLES_PER_KIND && !ex.contains(&c.conversation) {
                ex.push(c.conversation.clone());
            }
        }
    }
    report.unanswerable = report.questions_per_kind.get(Kind::Unanswerable.as_str()).copied().unwrap_or(0);
    report.skipped = skipped.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    (out, report)
}

/// The split of a document: 90/5/5 by a hash of its text, so that one
/// document's questions never cross splits.
pub fn split_of(doc: &str) -> Split {
    convert::hash_split(SOURCE, doc)
}

/// The conversations as a converted set (train / val / test by document).
pub fn to_converted(docs: &[&str], convs: Vec<RcConversation>, report: &mut RcReport, notes: Vec<String>) -> Converted {
    let tagged = convs.into_iter().map(|c| (split_of(docs[c.doc]), c.conversation));
    let converted = Converted::from_tagged(SOURCE, tagged, &report.skipped, notes);
    report.splits = converted.split_counts();
    converted
}

// ---------------------------------------------------------------------------
// Files

#[derive(Debug, thiserror::Error)]
pub enum RcError {
    #[error(transparent)]
    Corpus(#[from] crate::data::DataError),
    #[error(transparent)]
    Write(#[from] ConvertError),
    #[error("cannot write {path}: {source}")]
    WriteReport { path: String, source: std::io::Error },
}

/// What [`run`] did.
#[derive(Debug)]
pub struct RcRun {
    pub report: RcReport,
    pub written: Vec<PathBuf>,
}

/// `fledge data rc`: reads `corpus/train.jsonl`, writes
/// `out/rc/{train,val,test}.jsonl`, `report.json` and `rc-report.json`.
pub fn run(corpus: &Path, out: &Path, seed: u64, max_questions: usize) -> Result<RcRun, RcError> {
    let start = std::time::Instant::now();
    let docs = crate::data::prepare::read_training_documents(corpus)?;
    let texts: Vec<&str> = docs.iter().map(|d| d.text.as_str()).collect();
    let (convs, mut report) = make_rc(&texts, seed, max_questions);
    let used: HashSet<String> = convs.iter().map(|c| docs[c.doc].source.clone()).collect();
    let licenses: Vec<SourceLicense> =
        crate::data::prepare::read_source_licenses(corpus)?.into_iter().filter(|l| used.contains(&l.source)).collect();
    let notes = vec![format!(
        "reading-comprehension questions made by fledge (seed {seed}) from the training split of the prepared corpus {}; \
         contexts are verbatim passages, so the text keeps the licenses of its sources",
        corpus.join("train.jsonl").display()
    )];
    let converted = to_converted(&texts, convs, &mut report, notes);
    report.seconds = start.elapsed().as_secs_f64();
    let mut written = convert::write_with_licenses(&converted, out, &licenses)?;
    let path = out.join(SOURCE).join("rc-report.json");
    crate::fsutil::write_json_atomic(&path, &report)
        .map_err(|e| RcError::WriteReport { path: path.display().to_string(), source: e })?;
    written.push(path);
    Ok(RcRun { report, written })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::text::sentences;
    use super::*;

    /// Every question the rules make for `text` as one window, over `seeds`
    /// wordings: (kind, question, answer).
    fn questions(text: &str, seeds: u64) -> Vec<(Kind, String, String)> {
        let known = |_: &str| false;
        let an = analyse(text, &known, &mut Skips::new());
        let win = Window::new(&an, 0, an.sents.len());
        let mut out = Vec::new();
        for seed in 0..seeds {
            let mut m = Maker { win: &win, rng: ChaCha8Rng::seed_from_u64(seed), out: Vec::new(), skips: Skips::new() };
            for k in 0..an.sents.len() {
                m.clause_questions(k);
                m.so_question(k);
                m.said_questions(k);
                m.extra_questions(k);
            }
            out.extend(m.out.into_iter().map(|q| (q.kind, q.question, q.answer)));
        }
        out
    }

    fn has(qs: &[(Kind, String, String)], kind: Kind, question: &str, answer: &str) -> bool {
        qs.iter().any(|(k, q, a)| *k == kind && q.contains(question) && a == answer)
    }

    fn unanswerable(text: &str, seeds: u64) -> Vec<(&'static str, String)> {
        let known = |_: &str| false;
        let an = analyse(text, &known, &mut Skips::new());
        let mut out = Vec::new();
        for a in 0..an.sents.len() {
            for b in a + 1..=an.sents.len() {
                let win = Window::new(&an, a, b);
                for seed in 0..seeds {
                    let mut m =
                        Maker { win: &win, rng: ChaCha8Rng::seed_from_u64(seed), out: Vec::new(), skips: Skips::new() };
                    m.unanswerable();
                    out.extend(
                        m.out.into_iter().map(|q| (q.reason.unwrap(), format!("{}\n{}", win.context, q.question))),
                    );
                }
            }
        }
        out
    }

    const STORIES: &[&str] = &[
        "Mia went to the beach with Dad. She found a shell. It was pink.\nThen Dad gave Mia a big hug. \"I love the beach!\" said Mia.",
        "One day, Tom ran to the park. He was sad because his kite was broken. Tom saw three ducks in the pond.\nAfter lunch, Tom played with his friend Ben. Ben had a green ball.",
        "Once upon a time, there was a little dog named Rufus. The dog was hungry. Rufus ate a bone under the table.\n\"Can I play?\" asked Rufus. Rufus wanted to play with the cat.",
        "Zara lived in a small house near the river. In the morning, Zara picked up a blue cup. Zara made tea for Grandpa. Grandpa felt happy.",
        "The wind was cold. A girl named Quilla walked to the old mill at night. Quilla was scared.",
    ];

    #[test]
    fn sentences_split_at_the_end_of_a_quotation_not_inside_it() {
        let s: Vec<String> =
            sentences("\"Mom, I found it. Can I keep it?\" Lily asked. Mr. Brown smiled at her. \"Yes!\" said Mom.")
                .into_iter()
                .map(|s| s.text)
                .collect();
        assert_eq!(
            s,
            ["\"Mom, I found it. Can I keep it?\" Lily asked.", "Mr. Brown smiled at her.", "\"Yes!\" said Mom."]
        );
        let s = sentences("The fox ran\nacross the field. It was fast.");
        assert_eq!(
            s.iter().map(|s| s.text.as_str()).collect::<Vec<_>>(),
            ["The fox ran across the field.", "It was fast."]
        );
    }

    #[test]
    fn a_pronoun_becomes_the_name_when_nobody_else_is_there() {
        let qs = questions("Mia went to the beach. She found a shell.", 40);
        assert!(has(&qs, Kind::Found, "did Mia ", "a shell"), "{qs:#?}");
        assert!(!qs.iter().any(|(_, q, _)| q.contains("did she")), "{qs:#?}");
        assert!(has(&qs, Kind::Who, "a shell", "Mia"), "{qs:#?}");
        // With her mom in the sentence before, "she" could be either: no question about it.
        let qs = questions("Mia went to the beach with her mom. She found a shell.", 40);
        assert!(!qs.iter().any(|(_, _, a)| a == "a shell"), "{qs:#?}");
        // A girl's name is never "he".
        let qs = questions("There was a girl named Mia. Mia went to the beach. He found a shell.", 40);
        assert!(!qs.iter().any(|(_, _, a)| a == "a shell"), "{qs:#?}");
        // One sentence alone keeps its pronoun.
        let qs = questions("She found a shell.", 40);
        assert!(has(&qs, Kind::Found, "did she find", "a shell"), "{qs:#?}");
    }

    #[test]
    fn questions_put_the_verb_in_its_base_form() {
        let qs = questions(
            "Tom ran to the park. Lily ate a pear. Sam picked up the stick. Ana wrote a letter. Jo had baked a pie.",
            60,
        );
        assert!(
            has(&qs, Kind::Where, "did Tom run", "to the park") || has(&qs, Kind::Where, "did Tom run", "the park"),
            "{qs:#?}"
        );
        assert!(has(&qs, Kind::Where, "Where did Tom go", "to the park"), "{qs:#?}");
        assert!(has(&qs, Kind::Ate, "did Lily eat", "a pear"), "{qs:#?}");
        assert!(has(&qs, Kind::What, "did Sam pick up", "the stick"), "{qs:#?}");
        assert!(has(&qs, Kind::What, "did Ana write", "a letter"), "{qs:#?}");
        assert!(has(&qs, Kind::What, "did Jo bake", "a pie"), "{qs:#?}");
        for (_, q, _) in &qs {
            for wrong in ["did Tom ran", "did Lily ate", "did Ana wrote", "did Sam picked"] {
                assert!(!q.contains(wrong), "{q}");
            }
        }
    }

    #[test]
    fn why_is_answered_by_the_because_clause() {
        let qs = questions("Tom was sad because his kite was broken. Lily ran home because it was raining.", 40);
        assert!(
            has(&qs, Kind::Why, "Tom was sad", "because his kite was broken")
                || has(&qs, Kind::Why, "was Tom sad", "because his kite was broken"),
            "{qs:#?}"
        );
        assert!(
            qs.iter().any(|(k, q, a)| *k == Kind::Why && q.contains("run home") && a == "because it was raining")
                || qs
                    .iter()
                    .any(|(k, q, a)| *k == Kind::Why && q.contains("ran home") && a == "because it was raining"),
            "{qs:#?}"
        );
        assert!(has(&qs, Kind::Feel, "Tom", "sad"), "{qs:#?}");
    }

    #[test]
    fn why_is_answered_by_the_cause_before_so() {
        let why = |text: &str| -> Vec<(String, String)> {
            let qs = questions(text, 24);
            qs.into_iter().filter(|(k, _, _)| *k == Kind::Why).map(|(_, q, a)| (q, a)).collect()
        };
        let asks = |qs: &[(String, String)], q: &str, a: &str| qs.iter().any(|(x, y)| x.contains(q) && y == a);
        // a pronoun that is the cause's named subject
        let qs = why("Tim was tired, so he went home.");
        assert!(asks(&qs, "did Tim go home", "Tim was tired"), "{qs:#?}");
        // the effect read only to its verb and what follows; a discourse word before the cause
        let qs = why("One day, Ben wanted the kite, so he pulled harder and harder.");
        assert!(asks(&qs, "did Ben pull harder and harder", "Ben wanted the kite"), "{qs:#?}");
        // a cause that is not a clause the parser reads, and a "was" effect with its own subject
        let qs = why(
            "Sue had a cake. Sue did not want to share, so she hid the cake. The sun was hot, so the dog was thirsty.",
        );
        assert!(asks(&qs, "did Sue hide the cake", "Sue did not want to share"), "{qs:#?}");
        assert!(asks(&qs, "was the dog thirsty", "The sun was hot"), "{qs:#?}");
        // the effect's first verb phrase only
        let qs = why("Mia was hungry, so she ate an apple and then she went to sleep.");
        assert!(asks(&qs, "did Mia eat an apple?", "Mia was hungry"), "{qs:#?}");
        // an abbreviation's period inside the effect does not end it
        let qs = why("Max was sick, so he went to see Dr. Brown.");
        assert!(asks(&qs, "did Max go to see Dr. Brown?", "Max was sick"), "{qs:#?}");
        // "so ... that": the cause keeps its "so"
        let qs = why("Lily was so happy that she hugged her mom.");
        assert!(asks(&qs, "did Lily hug her mom", "Lily was so happy"), "{qs:#?}");
        let qs = why("The wind was so strong that the kite flew away.");
        assert!(asks(&qs, "did the kite fly away", "The wind was so strong"), "{qs:#?}");
        // refused: "so that", a pronoun of the other gender, someone else in the cause
        for text in [
            "Tom was so hungry that she made a sandwich.",
            "Lily ran fast, so that she could win the race.",
            "Tom was hungry, so she made a sandwich.",
            "Lily told Mia a joke, so she laughed.",
            "Tim was sad, so he did not play.",
        ] {
            assert!(why(text).is_empty(), "{text}: {:#?}", why(text));
        }
    }

    #[test]
    fn a_name_given_by_someone_is_asked_for() {
        let qs = questions("Tom found a puppy in the rain. He named the puppy Biscuit. Biscuit was wet.", 40);
        assert!(qs.iter().any(|(k, q, a)| *k == Kind::Name && q.contains("the puppy") && a == "Biscuit"), "{qs:#?}");
        let qs = questions("It was a 2007 artwork called Wet Dog. It was sold.", 40);
        assert!(qs.iter().any(|(k, _, a)| *k == Kind::Name && a == "Wet Dog"), "{qs:#?}");
        let qs = questions("We built a snowman by the gate. We called our snowman Mister Pebble.", 40);
        assert!(
            qs.iter().any(|(k, q, a)| *k == Kind::Name && q.contains("snowman") && a == "Mister Pebble"),
            "{qs:#?}"
        );
    }

    #[test]
    fn a_question_sometimes_says_the_verb_another_way() {
        let qs = questions("Mia stumbled upon a hidden cave. Ben found a red kite in the woods.", 60);
        // the predicate reworded: the text's own words are not the only way in
        assert!(has(&qs, Kind::Who, "came across a hidden cave", "Mia"), "{qs:#?}");
        assert!(has(&qs, Kind::Who, "stumbled upon a hidden cave", "Mia"), "the text's words stay too: {qs:#?}");
        assert!(qs.iter().any(|(_, q, a)| q.contains("discover") && a.contains("kite")), "{qs:#?}");
        // a particle belongs to the text's verb: "found out" is never "discovered out"
        let qs = questions("Sam found out the secret of the old mill.", 60);
        assert!(!qs.iter().any(|(_, q, _)| q.contains("discovered out")), "{qs:#?}");
        // answers are never reworded
        assert!(qs.iter().all(|(_, _, a)| !a.contains("discovered")), "{qs:#?}");
    }

    #[test]
    fn a_companion_is_asked_for_both_ways() {
        let qs = questions("Nora went to the market with Ben. Sam shared his cake with Lily.", 40);
        assert!(has(&qs, Kind::With, "Who went to the market with Nora?", "Ben"), "{qs:#?}");
        assert!(has(&qs, Kind::With, "did Nora go to the market with", "Ben"), "{qs:#?}");
        // Lily did not share her cake with Sam
        assert!(!qs.iter().any(|(_, q, _)| q.contains("with Sam")), "{qs:#?}");
    }

    #[test]
    fn colours_counts_names_times_and_speech() {
        let qs = questions(
            "Once upon a time, there was a little girl named Pim. Pim had a big red ball. Pim saw three birds in the tree. One day, Pim went to the lake with Grandpa. \"Can I swim?\" asked Pim.",
            80,
        );
        assert!(has(&qs, Kind::Colour, "ball", "red"), "{qs:#?}");
        assert!(has(&qs, Kind::HowMany, "birds", "three"), "{qs:#?}");
        assert!(has(&qs, Kind::Name, "girl", "Pim"), "{qs:#?}");
        assert!(
            has(&qs, Kind::When, "Pim go to the lake", "One day")
                || has(&qs, Kind::When, "Pim went to the lake", "One day"),
            "{qs:#?}"
        );
        assert!(has(&qs, Kind::With, "", "Grandpa"), "{qs:#?}");
        assert!(has(&qs, Kind::Said, "Pim", "Can I swim?"), "{qs:#?}");
        assert!(has(&qs, Kind::Do, "one day", "went to the lake with Grandpa"), "{qs:#?}");
    }

    #[test]
    fn a_question_two_sentences_could_answer_is_not_asked() {
        let qs = questions("Tom found a coin. Tom found a key.", 40);
        assert!(!qs.iter().any(|(k, _, _)| *k == Kind::Found), "{qs:#?}");
        let qs = questions("Tom had a red cup. The cup was blue.", 40);
        assert!(!qs.iter().any(|(k, _, _)| *k == Kind::Colour), "{qs:#?}");
    }

    #[test]
    fn unanswerable_questions_are_truly_unanswerable() {
        let mut reasons = BTreeMap::new();
        for text in STORIES.iter().chain(&[
            "Rob sat on a chair. Rob held a cup. Rob drank the tea.",
            "The dog sat by the door. The dog had a bone.\nLater, a boy named Kip ran home.",
            "Sam walked to the park. Sam read a book under the tree.",
            "Ada ran to the park. Oak Park was big. Ada read a book there.",
            "Nell saw a bird in the garden. The bird had a worm. Nell ate a cake.",
            "Nell saw a little bird. A robin sat on the fence. Nell baked a cake with Mum.",
        ]) {
            for (reason, q) in unanswerable(text, 6) {
                let (context, question) = q.rsplit_once('\n').unwrap();
                let words: Vec<String> = context.split(|c: char| !c.is_alphanumeric()).map(str::to_lowercase).collect();
                match reason {
                    "no colour in the passage" => assert!(!words.iter().any(|w| words::colour(w)), "{q}"),
                    "nobody goes anywhere in the passage" => {
                        assert!(!words.iter().any(|w| words::motion_past(w)), "{q}")
                    }
                    "nobody is named in the passage" => assert!(!words.iter().any(|w| w == "named"), "{q}"),
                    "a place or thing the passage never names" => {
                        let naming = ["named", "called", "name", "title"];
                        assert!(!words.iter().any(|w| naming.contains(&w.as_str())), "{q}");
                        let noun = words.iter().find(|w| words::nameable(w) && question.contains(&format!("the {w}")));
                        let noun = noun.unwrap_or_else(|| panic!("{q}"));
                        assert!(!context.contains(&crate::data::case::upper_first(noun)), "a {noun} with a name: {q}");
                    }
                    "about a character outside the passage" => {
                        let name = question
                            .split(' ')
                            .find(|w| {
                                w.chars().next().is_some_and(char::is_uppercase)
                                    && ![
                                        "What",
                                        "Who",
                                        "Where",
                                        "How",
                                        "When",
                                        "Why",
                                        "Tell",
                                        "According",
                                        "Which",
                                        "With",
                                        "For",
                                        "To",
                                        "At",
                                    ]
                                    .contains(w)
                            })
                            .unwrap_or("");
                        let name = name.trim_end_matches(['?', '.', ',', '\'']).trim_end_matches("'s");
                        assert!(!name.is_empty() && !context.contains(name), "{q}");
                    }
                    "the kind of a thing the passage never says" => {
                        let noun = question.split(' ').find_map(|w| words::kind_words(w).map(|k| (w, k)));
                        let (noun, kinds) = noun.unwrap_or_else(|| panic!("{q}"));
                        assert!(!words.iter().any(|w| kinds.contains(&w.as_str())), "{q}");
                        // never "a little bird": the noun stands with its article alone
                        let toks: Vec<&str> = context.split_whitespace().collect();
                        for (i, w) in toks.iter().enumerate().skip(1) {
                            if w.trim_end_matches(['.', ',', '!']) == noun {
                                assert!(
                                    ["a", "the", "his", "her", "an"].contains(&toks[i - 1].to_lowercase().as_str()),
                                    "{q}"
                                );
                            }
                        }
                    }
                    other => panic!("unknown reason {other}"),
                }
                *reasons.entry(reason).or_insert(0) += 1;
            }
        }
        assert!(reasons.len() >= 4, "{reasons:?}");
        assert!(reasons.contains_key("a place or thing the passage never names"), "{reasons:?}");
        assert!(reasons.contains_key("the kind of a thing the passage never says"), "{reasons:?}");
    }

    #[test]
    fn who_questions_naming_another_character_are_preferred() {
        let qa = |kind, question: &str, answer: &str| Qa {
            kind,
            question: question.into(),
            answer: answer.into(),
            reason: None,
            check: None,
        };
        assert_eq!(question_preference(&qa(Kind::Who, "Who helped Lily?", "Tom")), 3.0);
        assert_eq!(question_preference(&qa(Kind::Who, "Who helped her?", "Tom")), 1.0);
        assert_eq!(question_preference(&qa(Kind::Who, "Who said \"Hi, Tom\"?", "Tom")), 1.0);
        assert_eq!(question_preference(&qa(Kind::Where, "Where did Lily go?", "home")), 2.0);
    }

    /// Whether `answer` is the refusal, "Yes." or a span of `context`
    /// (after "No, " for a yes/no question's "no").
    fn copied(context: &str, answer: &str) -> bool {
        let span = answer.strip_prefix("No, ").and_then(|a| a.strip_suffix('.')).unwrap_or(answer);
        answer == UNKNOWN_ANSWER || answer == "Yes." || context.contains(span)
    }

    #[test]
    fn yes_no_questions_name_the_windows_own_things_and_answer_no_with_the_true_one() {
        let docs = [
            "Sam found a red ball in the garden. Then Sam put a green hat on the table. Mia saw a blue kite in the tree.",
            "Ana baked a lemon cake in the kitchen. Her brother painted a small boat in the shed.",
        ];
        let convs: Vec<RcConversation> = (0..40).flat_map(|seed| make_rc(&docs, seed, 100).0).collect();
        let (mut yes, mut no) = (0, 0);
        for c in &convs {
            let m = &c.conversation.messages;
            for (pair, kind) in m[1..].chunks(2).zip(&c.kinds) {
                if *kind != Kind::YesNo {
                    continue;
                }
                let (q, a) = (&pair[0].content, &pair[1].content);
                let first = q.split_whitespace().next().unwrap_or("").to_lowercase();
                assert!(matches!(first.as_str(), "did" | "was" | "were"), "{q}");
                if a == "Yes." {
                    yes += 1;
                } else {
                    let span = a.strip_prefix("No, ").and_then(|a| a.strip_suffix('.')).expect("Yes. or No, ...");
                    assert!(m[0].content.contains(span) && !q.contains(span), "{q} -> {a} in {}", m[0].content);
                    no += 1;
                }
            }
        }
        assert!(yes > 0 && no > 0, "yes {yes}, no {no}");
    }

    #[test]
    fn every_answer_is_copied_from_its_context() {
        let (convs, report) = make_rc(STORIES, 7, 1000);
        assert!(report.questions > 10, "{report:?}");
        for c in &convs {
            let m = &c.conversation.messages;
            assert_eq!(m[0].role, Role::Context);
            assert!(m.len() >= 3 && m.len() <= 1 + 2 * 5 && m.len() % 2 == 1, "{m:?}");
            for pair in m[1..].chunks(2) {
                assert_eq!((pair[0].role, pair[1].role), (Role::User, Role::Assistant));
                assert!(copied(&m[0].content, &pair[1].content), "{m:?}");
            }
            assert!(conversation_bytes(&m[0].content, &[]) < MAX_CONVERSATION_BYTES);
        }
    }

    #[test]
    fn characters_are_renamed_in_the_context_questions_and_answers_alike() {
        let (convs, _) = make_rc(STORIES, 7, 1000);
        let boys = crate::chat::notes::given_names(false);
        let mut renamed = 0;
        for c in convs.iter().filter(|c| STORIES[c.doc].contains("Tom ran")) {
            let m = &c.conversation.messages;
            let context = &m[0].content;
            if context.contains("Tom") || !context.contains("three ducks") {
                continue;
            }
            // Tom is a boy's name: his new name comes from the boys' list
            assert!(boys.iter().any(|b| context.contains(b.as_str())), "a boy's name in Tom's place: {context}");
            renamed += 1;
            for msg in &m[1..] {
                let lower = msg.content.to_lowercase();
                assert!(crate::chat::notes::word_starts(&lower, "tom").next().is_none(), "{m:?}");
            }
        }
        assert!(renamed > 0, "no context of Tom's story was renamed");
        let kept = convs.iter().filter(|c| c.conversation.messages[0].content.contains("Tom saw")).count();
        assert!(kept > 0, "every context was renamed");
    }

    #[test]
    fn a_renamed_name_is_answered_whole_when_the_name_is_asked_for() {
        let qa = |kind, question: &str, answer: &str| Qa {
            kind,
            question: question.into(),
            answer: answer.into(),
            reason: None,
            check: None,
        };
        let mut qas = [
            qa(Kind::Name, "What was the boy's name?", "Tom"),
            qa(Kind::Who, "Who found the ball?", "Tom"),
            qa(Kind::Where, "Where did Tom go?", "to the park"),
        ];
        rename_in_questions(&mut qas, "Tom", "Horatio Nowak", "Horatio");
        let got: Vec<(&str, &str)> = qas.iter().map(|q| (q.question.as_str(), q.answer.as_str())).collect();
        assert_eq!(
            got,
            [
                ("What was the boy's name?", "Horatio Nowak"),
                ("Who found the ball?", "Horatio"),
                ("Where did Horatio go?", "to the park")
            ]
        );
    }

    #[test]
    fn the_same_seed_gives_the_same_set() {
        let (a, ra) = make_rc(STORIES, 3, 1000);
        let (b, rb) = make_rc(STORIES, 3, 1000);
        assert_eq!(a, b);
        assert_eq!(ra.questions_per_kind, rb.questions_per_kind);
        let (c, _) = make_rc(STORIES, 4, 1000);
        assert_ne!(a, c);
    }

    #[test]
    fn a_document_stays_in_one_split() {
        let docs: Vec<String> =
            (0..60).map(|i| format!("{} Kid{i} found a red cup.", STORIES[i % STORIES.len()])).collect();
        let docs: Vec<&str> = docs.iter().map(String::as_str).collect();
        let (convs, mut report) = make_rc(&docs, 1, 10_000);
        let expected: Vec<(Split, Conversation)> =
            convs.iter().map(|c| (split_of(docs[c.doc]), c.conversation.clone())).collect();
        let converted = to_converted(&docs, convs, &mut report, Vec::new());
        for (split, conv) in expected {
            assert!(converted.split(split).contains(&conv));
        }
        let total: usize = Split::ALL.iter().map(|&s| converted.split(s).len()).sum();
        assert_eq!(total, report.contexts);
        assert_eq!(report.splits.values().sum::<usize>(), total);
    }

    #[test]
    fn no_kind_takes_more_than_a_quarter_and_the_cap_holds() {
        let counts: BTreeMap<Kind, usize> =
            [(Kind::Who, 1000), (Kind::What, 500), (Kind::Why, 10), (Kind::Colour, 300), (Kind::When, 200)].into();
        let q = kind_quota(&counts, 100_000);
        let total: usize = counts.values().map(|&n| n.min(q)).sum();
        assert!(q as f64 <= 0.25 * total as f64 && q > 100, "{q} of {total}");
        let q = kind_quota(&counts, 400);
        assert!(counts.values().map(|&n| n.min(q)).sum::<usize>() <= 400);
        let docs: Vec<String> =
            (0..40).map(|i| format!("{} Kid{i} found a red cup.", STORIES[i % STORIES.len()])).collect();
        let docs: Vec<&str> = docs.iter().map(String::as_str).collect();
        let (_, report) = make_rc(&docs, 1, 50);
        assert!(report.questions <= 50, "{report:?}");
    }

    #[test]
    fn corpus_errors_name_the_file_and_how_to_make_it() {
        let dir = tempfile::tempdir().unwrap();
        let read = |d: &Path| crate::data::prepare::read_training_documents(d).map(|_| ()).map_err(RcError::from);
        let err = read(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("train.jsonl") && err.contains("fledge data prepare") && err.contains("--until corpus"),
            "{err}"
        );
        std::fs::write(dir.path().join("train.jsonl"), "{\"text\": \"Tom ran.\", \"source\": \"s\"}\n[1, 2]\n")
            .unwrap();
        let err = read(dir.path()).unwrap_err().to_string();
        assert!(err.contains("train.jsonl, line 2"), "{err}");
    }

    #[test]
    fn run_writes_the_set_its_reports_and_the_corpus_licenses() {
        let dir = tempfile::tempdir().unwrap();
        let corpus = dir.path().join("corpus");
        std::fs::create_dir(&corpus).unwrap();
        let lines: Vec<String> = (0..30)
            .map(|i| serde_json::json!({"text": format!("{} Kid{i} found a red cup.", STORIES[i % STORIES.len()]), "source": if i % 2 == 0 { "stories" } else { "more" }}).to_string())
            .collect();
        std::fs::write(corpus.join("train.jsonl"), lines.join("\n")).unwrap();
        std::fs::write(corpus.join("val.jsonl"), "this is never read").unwrap();
        let source = |name: &str, id: &str| crate::data::prepare::SourceReport {
            name: name.into(),
            license: Some(SourceLicense {
                source: name.into(),
                license: id.into(),
                terms: Default::default(),
                credit: format!("{name} authors"),
            }),
            ..Default::default()
        };
        let report = crate::data::prepare::PrepareReport {
            sources: vec![source("stories", "CC-BY-4.0"), source("more", "public-domain"), source("unused", "MIT")],
            ..Default::default()
        };
        let report = serde_json::to_string(&report).unwrap();
        std::fs::write(corpus.join("report.json"), report).unwrap();
        let out = dir.path().join("out");
        let run = run(&corpus, &out, 1234, 500).unwrap();
        for f in ["train.jsonl", "val.jsonl", "test.jsonl", "report.json", "rc-report.json"] {
            assert!(out.join("rc").join(f).is_file(), "{f}");
        }
        let (train, _) = crate::chat::template::read_jsonl(&out.join("rc/train.jsonl"), false).unwrap();
        assert!(!train.is_empty());
        let licenses = crate::data::license::of_chat_file(&out.join("rc/train.jsonl"));
        let ids: Vec<&str> = licenses.iter().map(|l| l.license.as_str()).collect();
        assert_eq!(ids, ["CC-BY-4.0", "public-domain"]);
        let rc: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("rc/rc-report.json")).unwrap()).unwrap();
        assert_eq!(rc["questions"].as_u64().unwrap() as usize, run.report.questions);
        assert!(rc["examples"].as_object().unwrap().len() >= 3);
    }

    const WORDS: &[&str] = &[
        "Tom", "Lily", "she", "he", "they", "the", "a", "red", "ball", "went", "to", "park", "found", "because", "was",
        "sad", "three", "apples", "named", "Mr.", "said", ",", ".", "!", "?", "\"", "“", "”", "'", "One", "day",
        "gave", "and", "with", "in", "box", "ate", "wanted", "play", "\n", "é", "日本", "-", "’s", "at", "night",
        "had", "not",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn any_text_gives_only_copied_answers(
            raw in "\\PC{0,200}",
            words in proptest::collection::vec(proptest::sample::select(WORDS), 0..80),
            seed in 0u64..1000,
        ) {
            let made = words.join(" ");
            let (convs, _) = make_rc(&[raw.as_str(), made.as_str()], seed, 100);
            for c in convs {
                let m = &c.conversation.messages;
                for pair in m[1..].chunks(2) {
                    prop_assert!(copied(&m[0].content, &pair[1].content));
                }
            }
        }
    }
}
