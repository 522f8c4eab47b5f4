//! From a window of parsed sentences to questions: the window's text,
//! pronouns resolved to names, checks that no other sentence could answer,
//! and the wordings of every kind of question, answerable or not.

use std::collections::HashSet;

use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::text::{Analysed, Clause, Extra, Part, PartKind, Pred, Sent, SubjKind, Subject};
use super::words;
use super::{skip, Kind, Skips, UNKNOWN_ANSWER};

/// A subject as a question names it.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// In a question ("Tom", "the dog", or an unresolved "she").
    pub text: String,
    /// As an answer to "Who ...?", verbatim from the context.
    pub answer: Option<String>,
    /// For telling characters apart; None for an unresolved pronoun.
    pub key: Option<String>,
    pub name: bool,
    pub plural: bool,
}

#[derive(Debug, Clone)]
pub struct Qa {
    pub kind: Kind,
    pub question: String,
    pub answer: String,
    /// Why an unanswerable question has no answer.
    pub reason: Option<&'static str>,
    /// How to ask the same fact as a yes/no question, where it can be.
    pub check: Option<Check>,
}

/// A fact's yes/no form: the question around a slot ("did Tom find" +
/// slot + " in the box"), and the span that makes it true ("a red ball").
/// Another fact of the same window with the same `place` fills the slot for
/// "no" ("Did Tom find a kite in the box?" -> "No, a red ball.").
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub before: String,
    pub slot: String,
    pub after: String,
    /// A place phrase's noun phrase, not a thing.
    pub place: bool,
}

/// A context and the questions found for it, before selection.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub doc: usize,
    pub context: String,
    pub qas: Vec<Qa>,
    /// The kinds of every question the window had, before choosing.
    pub found: Vec<Kind>,
}

pub struct Window<'a> {
    pub an: &'a Analysed,
    pub a: usize,
    pub b: usize,
    pub context: String,
    /// Resolved subject of each sentence's clause or speech.
    pub subj: Vec<Option<Resolved>>,
    /// Lower-case words of the whole context.
    pub vocab: HashSet<String>,
}

pub use crate::data::case::{lower_first, upper_first};

/// A character by name, in questions and answers alike.
fn named(name: &str) -> Resolved {
    Resolved {
        text: name.to_string(),
        answer: Some(name.to_string()),
        key: Some(name.to_lowercase()),
        name: true,
        plural: name.contains(" and "),
    }
}

/// Fills `{X}` slots of a template.
pub fn fill(template: &str, slots: &[(&str, &str)]) -> String {
    let mut out = template.to_string();
    for (k, v) in slots {
        out = out.replace(k, v);
    }
    upper_first(&out.replace("  ", " ").replace(" ?", "?").replace(" .", "."))
}

pub fn pick<'t>(rng: &mut ChaCha8Rng, templates: &[&'t str]) -> &'t str {
    templates[rng.gen_range(0..templates.len())]
}

impl<'a> Window<'a> {
    pub fn new(an: &'a Analysed, a: usize, b: usize) -> Self {
        let context = super::text::passage(&an.sents[a..b]);
        let vocab = (a..b).flat_map(|k| an.sents[k].low.iter().cloned()).collect();
        let mut w = Window { an, a, b, context, subj: vec![None; b - a], vocab };
        for k in a..b {
            w.subj[k - a] = w.resolve(k);
        }
        w
    }

    pub fn subject_of(&self, k: usize) -> Option<&Subject> {
        self.an.clauses[k].as_ref().map(|c| &c.subj).or(self.an.said[k].as_ref().map(|s| &s.speaker))
    }

    /// The subject of sentence `k` as a question names it: a pronoun becomes
    /// the previous sentence's named subject when nobody else is mentioned
    /// there; otherwise it stays only in a one-sentence context.
    pub fn resolve(&self, k: usize) -> Option<Resolved> {
        self.resolve_subject(k, &self.an.sents[k], self.subject_of(k)?)
    }

    /// `subj`, a subject in `st` (sentence `k`, or a clause of it), as a
    /// question names it.
    pub fn resolve_subject(&self, k: usize, st: &Sent, subj: &Subject) -> Option<Resolved> {
        let text = st.span(subj.s, subj.e);
        match subj.kind {
            SubjKind::Name => Some(named(text)),
            SubjKind::Np => {
                if let Some(n) = subj.named {
                    return Some(named(st.span(n, subj.e)));
                }
                let mut q = lower_first(text);
                for (a, the) in [("a ", "the "), ("an ", "the ")] {
                    if let Some(rest) = q.strip_prefix(a) {
                        q = format!("{the}{rest}");
                    }
                }
                Some(Resolved {
                    text: q,
                    answer: Some(text.to_string()),
                    key: Some(st.w(subj.e - 1).to_string()),
                    name: false,
                    plural: words::plural(st.w(subj.e - 1)) || text.contains(" and "),
                })
            }
            SubjKind::Pron => {
                let pron = st.w(subj.s).to_string();
                let single = (self.b - self.a == 1).then(|| Resolved {
                    text: pron.clone(),
                    answer: None,
                    key: None,
                    name: false,
                    plural: pron == "they",
                });
                // Walk back to the nearest sentence whose subject is a name;
                // every sentence on the way must mention nobody else.
                let mut j = k;
                while j > self.a {
                    j -= 1;
                    let sj = &self.an.sents[j];
                    let subj_j = self.subject_of(j);
                    let prev = self.subj[j - self.a].as_ref().filter(|r| r.name);
                    let crowded = (0..sj.toks.len()).any(|t| {
                        let in_subject = subj_j.is_some_and(|s| t >= s.s && t < s.e);
                        let w = sj.w(t);
                        !in_subject
                            && (words::animate(w)
                                || self.an.names.contains(sj.raw(t))
                                || words::family_name(sj.raw(t))
                                || matches!(w, "they" | "them")
                                || (prev.is_none() && matches!(w, "he" | "she" | "him")))
                    });
                    // "The little girl got to work. She was careful.": the girl, not a name
                    let other_subject = prev.is_none() && subj_j.is_some_and(|s| s.animate);
                    if crowded || other_subject {
                        return single;
                    }
                    let Some(prev) = prev else { continue };
                    return if self.agrees(&pron, prev) { Some(prev.clone()) } else { single };
                }
                single
            }
        }
    }

    /// Whether pronoun `pron` can stand for `prev`: number, and gender
    /// where the story or the name tells it.
    pub fn agrees(&self, pron: &str, prev: &Resolved) -> bool {
        let gender = self.an.gender_of(&prev.text).or_else(|| words::gender_of_noun(&prev.text.to_lowercase()));
        match pron {
            "they" => prev.plural,
            "he" => !prev.plural && gender != Some('f'),
            _ => !prev.plural && gender != Some('m'),
        }
    }

    pub fn key(&self, k: usize) -> Option<&str> {
        self.subj[k - self.a].as_ref().and_then(|r| r.key.as_deref())
    }

    pub fn others(&self, k: usize) -> impl Iterator<Item = usize> + '_ {
        (self.a..self.b).filter(move |&j| j != k)
    }

    /// No other sentence of the window could answer a question about the
    /// action of sentence `k` (same verb, same or unknown subject).
    pub fn unique_act(&self, k: usize) -> bool {
        let Some(Clause { pred: Pred::Act { verb, lemma, .. }, .. }) = &self.an.clauses[k] else { return false };
        let Some(key) = self.key(k) else { return self.b - self.a == 1 };
        let surface = self.an.sents[k].w(*verb);
        self.others(k).all(|j| {
            let other = match &self.an.clauses[j] {
                Some(Clause { pred: Pred::Act { lemma: l, .. }, .. }) => Some(l),
                _ => None,
            };
            let mentions = self.an.sents[j].has(surface) || other == Some(lemma);
            !mentions || (other == Some(lemma) && self.key(j).is_some_and(|kj| kj != key))
        })
    }

    pub fn unique_feel(&self, k: usize) -> bool {
        let Some(key) = self.key(k) else { return self.b - self.a == 1 };
        self.others(k).all(|j| {
            let st = &self.an.sents[j];
            let feels = st.low.iter().any(|w| words::feeling(w));
            let other_feel = matches!(&self.an.clauses[j], Some(Clause { pred: Pred::Be { feel: true, .. }, .. }));
            !feels || (other_feel && self.key(j).is_some_and(|kj| kj != key))
        })
    }

    pub fn unique_place(&self, k: usize) -> bool {
        let Some(key) = self.key(k) else { return self.b - self.a == 1 };
        self.others(k).all(|j| {
            let place = matches!(&self.an.clauses[j], Some(Clause { pred: Pred::Be { place: Some(_), .. }, .. }));
            !place || self.key(j).is_some_and(|kj| kj != key)
        })
    }

    pub fn unique_said(&self, k: usize) -> bool {
        let Some(key) = self.key(k) else { return self.b - self.a == 1 };
        self.others(k).all(|j| {
            let st = &self.an.sents[j];
            let speaks = st.quotes || st.low.iter().any(|w| words::say_verb(w).is_some());
            !speaks || (self.an.said[j].is_some() && self.key(j).is_some_and(|kj| kj != key))
        })
    }

    /// Every sentence of the window that mentions `noun` with a colour (or
    /// number, with `count`) gives the same one as sentence `k`.
    pub fn unique_modifier(&self, k: usize, noun: &str, answer: &str, count: bool) -> bool {
        let is_mod = |w: &str| if count { words::number(w) } else { words::colour(w) };
        (self.a..self.b).all(|j| {
            let st = &self.an.sents[j];
            let mods: Vec<&str> = st.low.iter().map(String::as_str).filter(|w| is_mod(w)).collect();
            if mods.is_empty() {
                return true;
            }
            let about_it = st.has(noun) || (!count && (st.has("it") || st.has("they")) && j != k);
            !about_it || mods.iter().all(|m| m.eq_ignore_ascii_case(answer))
        })
    }

    pub fn count_in_context(&self, phrase: &str) -> usize {
        self.context.to_lowercase().matches(&phrase.to_lowercase()).count()
    }

    /// No name, no capitalised word inside a sentence, no "named".
    pub fn names_nobody(&self) -> bool {
        let named = self.vocab.iter().any(|w| matches!(w.as_str(), "named" | "called" | "name"));
        let capitals = (self.a..self.b).any(|k| {
            let st = &self.an.sents[k];
            (0..st.toks.len()).any(|t| self.an.names.contains(st.raw(t)) || (t > 0 && st.cap(t)))
        });
        !named && !capitals
    }

    pub fn has_colour(&self) -> bool {
        self.vocab.iter().any(|w| words::colour(w))
    }

    /// No "named", "called", "name" or "title", and no capitalised word
    /// inside a sentence but a character's, "Mom" or "I" and the first word
    /// after a quotation mark or a sentence's end: so no place or thing of the
    /// passage has a name ("the park", never "Green Park").
    pub fn only_people_named(&self) -> bool {
        let named = self.vocab.iter().any(|w| matches!(w.as_str(), "named" | "called" | "name" | "title"));
        let other_capitals = (self.a..self.b).any(|k| {
            let st = &self.an.sents[k];
            let opens = |t: usize| st.raw(t - 1).ends_with(['"', '“', '.', '!', '?', ':']);
            let person = |w: &str| {
                self.an.names.contains(w) || words::family_name(w) || matches!(w, "I" | "I'm" | "I'll" | "I've" | "I'd")
            };
            (1..st.toks.len()).any(|t| st.cap(t) && !person(st.raw(t)) && !opens(t))
        });
        !named && !other_capitals
    }

    /// The window's things and places, as a yes/no question's "no" may
    /// name them: every object that is no pronoun and no person ("a red
    /// ball"), and the noun phrase of every place phrase ("the park"), each
    /// opening with an article or possessive (not "lots of fun", "upset").
    pub fn things_and_places(&self) -> (Vec<String>, Vec<String>) {
        let (mut things, mut places) = (Vec::new(), Vec::new());
        for k in self.a..self.b {
            let (Some(Clause { pred: Pred::Act { parts, .. }, .. }), st) = (&self.an.clauses[k], &self.an.sents[k])
            else {
                continue;
            };
            for p in parts.iter().filter(|p| !p.pron) {
                if checkable_thing(st, p) {
                    things.push(st.span(p.s, p.e).to_string());
                } else if let Some(np) = p.place.then(|| checkable_place(st, p)).flatten() {
                    places.push(np.to_string());
                }
            }
        }
        (things, places)
    }

    /// Places and things that could have a name ("the park", "a book"):
    /// a nameable noun after an article or possessive and before a
    /// punctuation mark or a function word, so not "the park bench".
    pub fn nameable_nouns(&self) -> Vec<String> {
        let mut nouns = Vec::new();
        for st in &self.an.sents[self.a..self.b] {
            for t in 1..st.toks.len() {
                let ends = t + 1 == st.toks.len() || !st.is_word(t + 1) || words::function_word(st.w(t + 1));
                // "Oak Park" elsewhere may be the park's name
                let capitalised = self.context.contains(&upper_first(st.w(t)));
                if words::nameable(st.w(t)) && one_of_them(st.w(t - 1)) && ends && !capitalised {
                    nouns.push(st.w(t).to_string());
                }
            }
        }
        nouns
    }

    /// Nouns whose kind the window never says ("a bird", never "a robin" or
    /// "a little bird"): every time it stands with its article alone, and
    /// no word that would name its kind is in the window.
    pub fn unkinded_nouns(&self) -> Vec<String> {
        let mut nouns = self.bare_nouns(|_| true);
        nouns.retain(|noun| {
            let Some(kinds) = words::kind_words(noun) else { return false };
            let bare_everywhere = self.an.sents[self.a..self.b]
                .iter()
                .all(|st| (0..st.toks.len()).all(|t| st.w(t) != noun || (t > 0 && one_of_them(st.w(t - 1)))));
            bare_everywhere && !kinds.iter().any(|k| self.vocab.contains(*k))
        });
        nouns
    }

    /// The nouns of the window's "the park" and "a ball" (an article or
    /// possessive and one singular noun, no pronoun) among the verb
    /// phrases' parts that `keep` accepts.
    pub fn bare_nouns(&self, keep: impl Fn(&Part) -> bool) -> Vec<String> {
        let mut nouns = Vec::new();
        for k in self.a..self.b {
            let (Some(Clause { pred: Pred::Act { parts, .. }, .. }), st) = (&self.an.clauses[k], &self.an.sents[k])
            else {
                continue;
            };
            for p in parts.iter().filter(|p| !p.pron && p.e == p.np + 2 && keep(p)) {
                let noun = st.w(p.e - 1);
                let plain = noun.len() > 2 && !words::plural(noun) && !words::function_word(noun);
                if one_of_them(st.w(p.np)) && plain {
                    nouns.push(noun.to_string());
                }
            }
        }
        nouns
    }
}

/// Whether an object can be a yes/no question's slot: a thing, not a
/// person, opening with an article or possessive ("a red ball", not "lots
/// of fun" or "upset").
fn checkable_thing(st: &Sent, p: &Part) -> bool {
    p.kind == PartKind::Obj && !p.animate && one_of_them(st.w(p.s))
}

/// The noun phrase of a prepositional phrase that can be a yes/no
/// question's slot ("the park" of "in the park"), opening with an article
/// or possessive.
fn checkable_place<'s>(st: &'s Sent, p: &Part) -> Option<&'s str> {
    (p.kind == PartKind::Pp && p.np > p.s && one_of_them(st.w(p.np))).then(|| st.span(p.np, p.e))
}

/// An article or possessive: the determiners of one particular thing.
fn one_of_them(w: &str) -> bool {
    matches!(w, "the" | "a" | "an" | "his" | "her" | "their" | "its" | "my" | "our" | "your")
}

/// Everything a question about one clause needs.
pub struct Frame {
    pub subj: String,
    /// "did Tom find", "was Tom holding", "was Tom".
    pub q: String,
    /// `q` with the text's own verb where `q` took a synonym: a yes/no
    /// question must not ask about another verb ("Did Tom see the bugs?"
    /// for "Tom watched the bugs" could be "yes").
    pub plain_q: String,
    /// "Tom found", "Tom was holding".
    pub d: String,
    /// For "What was found by Tom?".
    pub passive: Option<String>,
}

pub const WHAT_T: &[&str] = &[
    "What {Q}{R}?",
    "What {Q}{R}?",
    "What was it that {D}{R}?",
    "{D} something{R}. What was it?",
    "Tell me what {D}{R}.",
    "According to the story, what {Q}{R}?",
    "What does the text say {D}{R}?",
];
pub const WHO_OBJ_T: &[&str] =
    &["Who {Q}{R}?", "Who {Q}{R}?", "Who was it that {D}{R}?", "{D} someone{R}. Who was it?", "Whom {Q}{R}?"];
pub const PASSIVE_T: &[&str] = &["What was {P} by {S}{R}?"];
pub const WHO_T: &[&str] = &[
    "Who {P}?",
    "Who {P}?",
    "Who was it that {P}?",
    "Which character {P}?",
    "Someone {P}. Who was it?",
    "Can you tell me who {P}?",
    "Who was the one that {P}?",
];
pub const WHAT_SUBJ_T: &[&str] = &["What {P}?", "What {P}?", "What was it that {P}?", "Something {P}. What was it?"];
pub const WHERE_T: &[&str] = &[
    "Where {Q}{R}?",
    "Where {Q}{R}?",
    "Where was it that {D}{R}?",
    "{D}{R} somewhere. Where?",
    "Tell me where {D}{R}.",
    "According to the text, where {Q}{R}?",
];
pub const WHERE_NP_T: &[&str] = &["Where {Q}{R} {PREP}?", "To what place {Q}{R}?", "What place {Q}{R} {PREP}?"];
pub const WHERE_BE_T: &[&str] = &["Where {Q}?", "Where {Q}?", "{D} where?", "Tell me where {D}.", "In what place {Q}?"];
pub const WHEN_T: &[&str] = &[
    "When {Q}{R}?",
    "When {Q}{R}?",
    "{D}{R}. When did this happen?",
    "When was it that {D}{R}?",
    "Tell me when {D}{R}.",
    "At what point in the story {Q}{R}?",
];
pub const DO_T: &[&str] = &[
    "What did {S} do {T}?",
    "What did {S} do {T}?",
    "{TC}, what did {S} do?",
    "Tell me what {S} did {T}.",
    "What did {S} do {T}, according to the text?",
];
pub const DO_PROG_T: &[&str] = &["What was {S} doing {T}?", "{TC}, what was {S} doing?"];
pub const WHY_T: &[&str] = &[
    "Why {Q}{R}?",
    "Why {Q}{R}?",
    "What was the reason {D}{R}?",
    "For what reason {Q}{R}?",
    "{D}{R}. Why?",
    "How come {D}{R}?",
];
pub const FEEL_T: &[&str] = &[
    "How did {S} feel?",
    "How did {S} feel?",
    "How {WAS} {S} feeling?",
    "What was {SP} mood?",
    "What feeling did {S} have?",
    "How did {S} feel, according to the story?",
];
pub const FEEL_TIME_T: &[&str] = &["How did {S} feel {T}?", "{TC}, how did {S} feel?"];
pub const COLOUR_T: &[&str] = &[
    "What colour {WAS} {N}?",
    "What colour {WAS} {N}?",
    "What color {WAS} {N}?",
    "Which colour {WAS} {N}?",
    "{N} {WAS} what colour?",
    "What colour {WAS} {N} in the story?",
];
pub const COLOUR_FRAME_T: &[&str] = &["What colour {NH} {Q}{R}?", "What color {NH} {Q}{R}?"];
pub const COUNT_OBJ_T: &[&str] =
    &["How many {NH} {Q}{R}?", "How many {NH} {Q}{R}?", "{D} some {NH}{R}. How many?", "What number of {NH} {Q}{R}?"];
pub const COUNT_SUBJ_T: &[&str] = &["How many {NH} {P}?", "How many {NH} {P}?"];
pub const COUNT_THERE_T: &[&str] = &["How many {NH} were there{R}?", "How many {NH} were there{R}?"];
pub const COUNT_ANY_T: &[&str] = &["How many {NH} does the text mention?", "How many {NH} are in the story?"];
pub const NAME_T: &[&str] = &[
    "What was {N}'s name?",
    "What was {N}'s name?",
    "What was {N} called?",
    "What is the name of {N}?",
    "What name did {N} have?",
    "{N} was named what?",
];
pub const SAID_T: &[&str] = &[
    "What did {S} {SAY}?",
    "What did {S} {SAY}?",
    "What were {SP} words?",
    "{S} {SAID} something. What was it?",
    "What words did {S} {SAY}?",
];
pub const SAID_TO_T: &[&str] = &["What did {S} {SAY} to {X}?"];
pub const WHO_SAID_T: &[&str] = &["Who said, \"{QUOTE}\"?", "Who {SAID} \"{QUOTE}\"?"];
pub const GAVE_WHAT_T: &[&str] = &[
    "What did {S} give {X}?",
    "What did {S} give to {X}?",
    "What did {X} get from {S}?",
    "{S} gave {X} something. What was it?",
];
pub const GAVE_WHO_T: &[&str] = &["Who did {S} give {O} to?", "Who got {O} from {S}?", "To whom did {S} give {O}?"];
pub const WITH_WHO_T: &[&str] =
    &["Who {Q}{R} with?", "Who {Q}{R} with?", "With whom {Q}{R}?", "{D}{R} with someone. Who?"];
pub const WITH_WHAT_T: &[&str] = &["What {Q}{R} with?", "With what {Q}{R}?", "{D}{R} with something. What was it?"];
pub const INF_T: &[&str] =
    &["What {Q} to do?", "What {Q} to do?", "What was it that {D} to do?", "{D} to do something. What?"];
pub const NOT_NAMED_T: &[&str] =
    &["What was the {N}'s name?", "What was the {N} called?", "What is the name of the {N}?"];
pub const NAMELESS_T: &[&str] = &[
    "What was the name of the {N}?",
    "What was the {N} called?",
    "What was the {N}'s name?",
    "What is the {N} called?",
];
pub const UNTITLED_T: &[&str] =
    &["What was the title of the {N}?", "What was the {N} called?", "What was the name of the {N}?"];
pub const KIND_OF_T: &[&str] = &[
    "What kind of {N} was it?",
    "What type of {N} was it?",
    "What kind of {N} was in the story?",
    "Which kind of {N} was it?",
];
pub const WENT_T: &[&str] =
    &["Where did {S} go?", "Where did {S} go?", "Where was {S} going?", "What place did {S} go to?"];

/// Makes the questions of one window.
/// One clause being asked about: its sentence and parse, its subject as the
/// questions name it, the question frame, and its time phrase, if any.
struct ClauseAt<'s> {
    k: usize,
    st: &'s Sent,
    clause: &'s Clause,
    subj: Resolved,
    f: Frame,
    time: Option<(usize, usize)>,
}

/// A clause's verb: "was" of a progressive (`aux`), the verb, what follows
/// it, and the verb's base form.
#[derive(Clone, Copy)]
struct Act<'s> {
    aux: Option<usize>,
    verb: usize,
    parts: &'s [Part],
    base: &'s str,
    progressive: bool,
    /// Where the predicate starts: the auxiliary, or else the verb.
    pred_start: usize,
}

pub struct Maker<'w, 'a> {
    pub win: &'w Window<'a>,
    pub rng: ChaCha8Rng,
    pub out: Vec<Qa>,
    pub skips: Skips,
}

impl Maker<'_, '_> {
    pub fn push(&mut self, kind: Kind, question: String, answer: &str) {
        self.push_checkable(kind, question, answer, None);
    }

    /// [`Maker::push`] for a fact that can also be asked as yes/no.
    fn push_checkable(&mut self, kind: Kind, question: String, answer: &str, check: Option<Check>) {
        let answer = answer.trim().trim_end_matches([',', '.']).trim();
        if answer.is_empty() || question.len() > 300 {
            return;
        }
        if !self.win.context.contains(answer) {
            skip(&mut self.skips, "answer not in the context");
            return;
        }
        self.out.push(Qa { kind, question, answer: answer.to_string(), reason: None, check });
    }

    pub fn unknown(&mut self, reason: &'static str, question: String) {
        self.out.push(Qa {
            kind: Kind::Unanswerable,
            question,
            answer: UNKNOWN_ANSWER.to_string(),
            reason: Some(reason),
            check: None,
        });
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.rng.gen_bool(p)
    }

    /// Now and then a synonym for one word of `phrase` (never in answers).
    pub fn vary(&mut self, phrase: &str) -> String {
        if !self.chance(0.25) {
            return phrase.to_string();
        }
        let mut done = false;
        phrase
            .split(' ')
            .map(|w| match words::synonym(w) {
                Some(s) if !done => {
                    done = true;
                    s.to_string()
                }
                _ => w.to_string(),
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Now and then the predicate's verb said another way ("stumbled upon a
    /// cave" -> "came across a cave"), else now and then a synonym for one of
    /// its words (`vary`): a question that always repeats the text's words
    /// teaches a model to match words, not meanings.
    pub fn reword(&mut self, pred: &str) -> String {
        let words: Vec<&str> = pred.split(' ').collect();
        let two = words.get(1).and_then(|w| words::past_synonym(&format!("{}_{w}", words[0])));
        let (syn, used) = match (two, words::past_synonym(words[0])) {
            (Some(s), _) => (s, 2),
            (None, Some(s)) => (s, 1),
            (None, None) => return self.vary(pred),
        };
        let rest = &words[used.min(words.len())..];
        // "found out", "jumped up": a particle belongs to the text's verb
        let particle = |w: &str| {
            matches!(w, "up" | "out" | "off" | "away" | "back" | "down" | "over" | "on" | "in" | "into" | "asleep")
        };
        // "gave a hug to" needs what comes after it
        let needs_object = syn.contains(' ') && matches!(syn.rsplit(' ').next(), Some("to" | "at" | "after" | "into"));
        if rest.first().is_some_and(|w| particle(w)) || (needs_object && rest.is_empty()) || !self.chance(0.35) {
            return self.vary(pred);
        }
        std::iter::once(syn).chain(rest.iter().copied()).collect::<Vec<_>>().join(" ")
    }

    /// "a ball" -> "the ball", some of the time.
    pub fn definite(&mut self, phrase: &str) -> String {
        for a in ["a ", "an "] {
            if let Some(rest) = phrase.strip_prefix(a) {
                if self.chance(0.5) {
                    return format!("the {rest}");
                }
            }
        }
        phrase.to_string()
    }

    pub fn frame(&mut self, k: usize, subj: &Resolved) -> Option<Frame> {
        let st = &self.win.an.sents[k];
        let clause = self.win.an.clauses[k].as_ref()?;
        match &clause.pred {
            Pred::Act { aux, verb, vend, lemma, participle, .. } => {
                let surface = st.span(*verb, *vend);
                Some(match aux.filter(|&a| matches!(st.w(a), "was" | "were")) {
                    Some(a) => {
                        let be = st.w(a);
                        let q = format!("{be} {} {surface}", subj.text);
                        Frame {
                            subj: subj.text.clone(),
                            plain_q: q.clone(),
                            q,
                            d: format!("{} {be} {surface}", subj.text),
                            passive: None,
                        }
                    }
                    None => {
                        let mut verb_q = lemma.clone();
                        if let Some(syn) = words::verb_synonym(lemma) {
                            if self.chance(0.35) {
                                verb_q = syn.to_string();
                            }
                        }
                        let particle = lemma.split_once(' ').map(|(_, p)| format!(" {p}")).unwrap_or_default();
                        let had = aux.map(|a| format!("{} ", st.w(a))).unwrap_or_default();
                        Frame {
                            subj: subj.text.clone(),
                            q: format!("did {} {verb_q}", subj.text),
                            plain_q: format!("did {} {lemma}", subj.text),
                            d: format!("{} {had}{surface}", subj.text),
                            passive: participle.clone().map(|p| format!("{p}{particle}")),
                        }
                    }
                })
            }
            Pred::Be { be, adj, .. } => {
                let verb = st.w(*be);
                let adj = adj.map(|(a, e)| format!(" {}", st.span(a, e))).unwrap_or_default();
                if matches!(verb, "was" | "were") {
                    let q = format!("{verb} {}{adj}", subj.text);
                    Some(Frame {
                        subj: subj.text.clone(),
                        plain_q: q.clone(),
                        q,
                        d: format!("{} {verb}{adj}", subj.text),
                        passive: None,
                    })
                } else {
                    let lemma = words::irregular(verb)
                        .map(|(l, _)| l.to_string())
                        .or_else(|| words::base_form(verb, "ed", &|_| false))?;
                    let q = format!("did {} {lemma}{adj}", subj.text);
                    Some(Frame {
                        subj: subj.text.clone(),
                        plain_q: q.clone(),
                        q,
                        d: format!("{} {verb}{adj}", subj.text),
                        passive: None,
                    })
                }
            }
        }
    }

    /// The parts of an action other than `except`, as " the ball in the box".
    pub fn rest(&mut self, st: &Sent, parts: &[Part], except: Option<usize>) -> Option<String> {
        let mut r = String::new();
        for (i, p) in parts.iter().enumerate() {
            if Some(i) == except {
                continue;
            }
            if p.pron && p.kind != PartKind::Pp {
                return None;
            }
            let text = st.span(p.s, p.e);
            let text = if p.kind == PartKind::Obj { self.definite(text) } else { text.to_string() };
            r.push(' ');
            r.push_str(&text);
        }
        Some(r)
    }

    pub fn time_text(st: &Sent, (a, e): (usize, usize)) -> String {
        let t = st.span(a, e);
        if words::weekday(st.w(a + 1)) || words::month(st.w(a + 1)) || words::weekday(st.w(a)) {
            t.to_string()
        } else {
            t.to_lowercase()
        }
    }

    pub fn clause_questions(&mut self, k: usize) {
        let win = self.win;
        let st = &win.an.sents[k];
        let Some(clause) = win.an.clauses[k].as_ref() else { return };
        let Some(subj) = win.subj[k - win.a].clone() else {
            skip(&mut self.skips, "pronoun without a clear referent");
            return;
        };
        let Some(f) = self.frame(k, &subj) else { return };
        let at = ClauseAt { k, st, clause, subj, f, time: clause.lead.or(clause.trail) };
        match &clause.pred {
            Pred::Act { aux, verb, parts, lemma, .. } => {
                if !win.unique_act(k) {
                    skip(&mut self.skips, "another sentence could answer it");
                    return;
                }
                let base = lemma.split(' ').next().unwrap_or(lemma);
                let progressive = aux.is_some_and(|a| matches!(st.w(a), "was" | "were"));
                let act = Act { aux: *aux, verb: *verb, parts, base, progressive, pred_start: aux.unwrap_or(*verb) };
                self.who_did(&at, &act);
                self.object_question(&at, &act);
                self.infinitive_question(&at, &act);
                self.gave_questions(&at, &act);
                self.where_question(&at, &act);
                self.with_question(&at, &act);
                self.when_questions(&at, &act);
                self.why_question(&at, &act);
            }
            Pred::Be { place, feel, colour, adj, .. } => self.be_questions(&at, place.as_ref(), *feel, *colour, *adj),
        }
    }

    /// "Who found the ball?": the subject, when the rest of the sentence is said once in the text.
    fn who_did(&mut self, at: &ClauseAt, act: &Act) {
        let win = self.win;
        let &ClauseAt { st, clause, ref subj, .. } = at;
        let &Act { parts, pred_start, .. } = act;
        let pred = st.span(pred_start, clause.core_end);
        if let Some(answer) = subj.answer.as_deref() {
            if !parts.is_empty() && !parts.iter().any(|p| p.pron) && win.count_in_context(pred) == 1 && !subj.plural {
                let pred_q = self.definite(pred);
                let pred_q = self.reword(&pred_q);
                let t = if clause.subj.animate { pick(&mut self.rng, WHO_T) } else { pick(&mut self.rng, WHAT_SUBJ_T) };
                let kind = if clause.subj.animate { Kind::Who } else { Kind::What };
                self.push(kind, fill(t, &[("{P}", &pred_q)]), answer);
            }
        }
    }

    /// "What did Tom find?": the object, unless a pronoun or a verb of saying.
    fn object_question(&mut self, at: &ClauseAt, act: &Act) {
        let &ClauseAt { st, ref f, .. } = at;
        let &Act { parts, base, .. } = act;
        if let Some(i) = parts.iter().position(|p| p.kind == PartKind::Obj) {
            let o = parts[i];
            let skip_lemma = matches!(base, "say" | "tell" | "think" | "know" | "ask" | "mean" | "become" | "feel");
            if !o.pron && !skip_lemma && !parts.iter().any(|p| p.kind == PartKind::Recipient) {
                if let Some(r) = self.rest(st, parts, Some(i)) {
                    let kind = Kind::of_lemma(base);
                    let answer = st.span(o.s, o.e);
                    let mut t = if o.animate { pick(&mut self.rng, WHO_OBJ_T) } else { pick(&mut self.rng, WHAT_T) };
                    if f.passive.is_some() && !o.animate && self.chance(0.08) {
                        t = PASSIVE_T[0];
                    }
                    let passive = f.passive.clone().unwrap_or_default();
                    let q = fill(t, &[("{Q}", &f.q), ("{D}", &f.d), ("{R}", &r), ("{P}", &passive), ("{S}", &f.subj)]);
                    // "had" lasts: "Did Sam have a hat?" is "yes" whatever else he had
                    let check = (kind != Kind::Had && checkable_thing(st, &o)).then(|| Check {
                        before: f.plain_q.clone(),
                        slot: answer.to_string(),
                        after: r.clone(),
                        place: false,
                    });
                    self.push_checkable(kind, q, answer, check);
                }
            }
        }
    }

    /// "What did Tom want to do?": the infinitive.
    fn infinitive_question(&mut self, at: &ClauseAt, act: &Act) {
        let &ClauseAt { st, ref f, .. } = at;
        let &Act { parts, base, .. } = act;
        if let Some(p) = parts.iter().find(|p| p.kind == PartKind::Inf) {
            // "What did she wish for?" does not fit "to pet them all"
            let q = f.q.replace("wish for", "want");
            let kind = if base == "want" { Kind::Wanted } else { Kind::What };
            let full = st.span(p.s, p.e);
            let bare = st.span(p.s + 1, p.e);
            if base == "want" && self.chance(0.3) {
                let t =
                    pick(&mut self.rng, &["What {Q}?", "What was it that {D}?", "What {Q}, according to the text?"]);
                self.push(kind, fill(t, &[("{Q}", &q), ("{D}", &f.d)]), full);
            } else {
                let t = pick(&mut self.rng, INF_T);
                self.push(kind, fill(t, &[("{Q}", &q), ("{D}", &f.d)]), bare);
            }
        }
    }

    /// "What did Tom give Mia?" or "Who did Tom give the ball to?"
    fn gave_questions(&mut self, at: &ClauseAt, act: &Act) {
        let &ClauseAt { st, ref f, .. } = at;
        let &Act { parts, progressive, .. } = act;
        if let (Some(ri), Some(oi)) = (
            parts.iter().position(|p| p.kind == PartKind::Recipient),
            parts.iter().position(|p| p.kind == PartKind::Obj),
        ) {
            let (r, o) = (parts[ri], parts[oi]);
            if !r.pron && !progressive {
                let x = lower_det(st.span(r.s, r.e));
                let obj = st.span(o.s, o.e);
                let obj_q = self.definite(obj);
                if self.chance(0.5) {
                    let t = pick(&mut self.rng, GAVE_WHAT_T);
                    self.push(Kind::Gave, fill(t, &[("{S}", &f.subj), ("{X}", &x)]), obj);
                } else {
                    let t = pick(&mut self.rng, GAVE_WHO_T);
                    self.push(Kind::Gave, fill(t, &[("{S}", &f.subj), ("{O}", &obj_q)]), st.span(r.s, r.e));
                }
            }
        }
    }

    /// "Where did Tom find the ball?": the one place phrase.
    fn where_question(&mut self, at: &ClauseAt, act: &Act) {
        let &ClauseAt { st, ref f, time, .. } = at;
        let &Act { parts, base, progressive, .. } = act;
        let places = parts.iter().filter(|p| p.place).count();
        if let Some(i) = parts.iter().position(|p| p.place).filter(|_| places == 1) {
            let p = parts[i];
            if let Some(r) = self.rest(st, parts, Some(i)) {
                let prep = st.span(p.s, p.np);
                let whole = st.span(p.s, p.e);
                if words::motion(base)
                    && r.is_empty()
                    && !progressive
                    && self.chance(0.25)
                    && matches!(prep, "to" | "into")
                {
                    let t = pick(&mut self.rng, &["Where did {S} go?", "Where did {S} go?", "Where did {S} go {T}?"]);
                    let t = if time.is_none() && t.contains("{T}") { "Where did {S} go?" } else { t };
                    let tt = time.map(|t| Self::time_text(st, t)).unwrap_or_default();
                    self.push(Kind::Where, fill(t, &[("{S}", &f.subj), ("{T}", &tt)]), whole);
                } else if p.kind == PartKind::Pp && prep == "to" && self.chance(0.3) {
                    let t = pick(&mut self.rng, WHERE_NP_T);
                    self.push(
                        Kind::Where,
                        fill(t, &[("{Q}", &f.q), ("{R}", &r), ("{PREP}", prep)]),
                        st.span(p.np, p.e),
                    );
                } else {
                    let t = pick(&mut self.rng, WHERE_T);
                    let check = checkable_place(st, &p).map(|np| Check {
                        before: format!("{}{r} {prep}", f.plain_q),
                        slot: np.to_string(),
                        after: String::new(),
                        place: true,
                    });
                    self.push_checkable(
                        Kind::Where,
                        fill(t, &[("{Q}", &f.q), ("{D}", &f.d), ("{R}", &r)]),
                        whole,
                        check,
                    );
                }
            }
        }
    }

    /// "Who did Tom play with?": a "with" phrase.
    fn with_question(&mut self, at: &ClauseAt, act: &Act) {
        let &ClauseAt { st, ref f, .. } = at;
        let &Act { parts, .. } = act;
        if let Some(i) = parts.iter().position(|p| p.kind == PartKind::Pp && st.w(p.s) == "with" && !p.pron) {
            let p = parts[i];
            if let Some(r) = self.rest(st, parts, Some(i)) {
                let companion = st.span(p.np, p.e);
                // "Tom went to the park with Ben": Ben went with Tom too, so
                // "Who went to the park with Tom?" asks for Ben, the question
                // naming the one the sentence starts with. Not with an object:
                // Tom "shared his toys with Ben" is not Ben sharing his.
                let intransitive = parts.iter().all(|q| matches!(q.kind, PartKind::Pp | PartKind::Place));
                let did = f.d.strip_prefix(&f.subj).filter(|_| at.subj.name && p.animate && intransitive);
                if let Some(did) = did.filter(|_| self.chance(0.4)) {
                    let t = pick(&mut self.rng, &["Who{P}{R} with {S}?", "Who was it that{P}{R} with {S}?"]);
                    self.push(Kind::With, fill(t, &[("{P}", did), ("{R}", &r), ("{S}", &f.subj)]), companion);
                    return;
                }
                let t = if p.animate { pick(&mut self.rng, WITH_WHO_T) } else { pick(&mut self.rng, WITH_WHAT_T) };
                self.push(Kind::With, fill(t, &[("{Q}", &f.q), ("{D}", &f.d), ("{R}", &r)]), companion);
            }
        }
    }

    /// "When did Tom find the ball?", and "What did Tom do after lunch?" when that time is said once.
    fn when_questions(&mut self, at: &ClauseAt, act: &Act) {
        let win = self.win;
        let &ClauseAt { st, clause, ref subj, ref f, time, .. } = at;
        let &Act { aux, verb, parts, progressive, pred_start, .. } = act;
        if let Some(t) = time {
            let answer = st.span(t.0, t.1);
            let tt = Self::time_text(st, t);
            if let Some(r) = self.rest(st, parts, None) {
                if self.chance(0.6) {
                    let tpl = pick(&mut self.rng, WHEN_T);
                    self.push(Kind::When, fill(tpl, &[("{Q}", &f.q), ("{D}", &f.d), ("{R}", &r)]), answer);
                }
            }
            if win.count_in_context(answer) == 1 && subj.key.is_some() && !parts.is_empty() {
                let start = if aux.is_some() { verb } else { pred_start };
                let vp = st.span(start, clause.core_end);
                let tpl = if progressive { pick(&mut self.rng, DO_PROG_T) } else { pick(&mut self.rng, DO_T) };
                self.push(Kind::Do, fill(tpl, &[("{S}", &f.subj), ("{T}", &tt), ("{TC}", &upper_first(&tt))]), vp);
            }
        }
    }

    /// "Why did Tom cry?": a "because" clause.
    fn why_question(&mut self, at: &ClauseAt, act: &Act) {
        let &ClauseAt { st, clause, ref f, .. } = at;
        let &Act { parts, .. } = act;
        if let Some((b, e)) = clause.because {
            if let Some(r) = self.rest(st, parts, None) {
                let t = pick(&mut self.rng, WHY_T);
                self.push(Kind::Why, fill(t, &[("{Q}", &f.q), ("{D}", &f.d), ("{R}", &r)]), st.span(b, e));
            }
        }
    }

    /// "Why did Tom go home?" of "Tom was tired, so he went home.": the
    /// cause before ", so". A pronoun after "so" must be the cause's own
    /// subject (a name it agrees with, or the same pronoun), since "Tom was
    /// tired, so she ..." is about someone else.
    pub fn so_question(&mut self, k: usize) {
        let win = self.win;
        let Some(so) = win.an.so[k].as_ref() else { return };
        let st = &win.an.sents[k];
        let fx = &so.effect;
        let who = if so.effect_subj.kind == SubjKind::Pron {
            let pron = fx.w(so.effect_subj.s);
            let cause = &so.cause_subj;
            let same = cause.kind == SubjKind::Pron && st.w(cause.s) == pron;
            let by_name = cause.kind == SubjKind::Name && matches!(pron, "he" | "she" | "they");
            // "Lily told Mia a joke, so she laughed": "she" may be Mia
            let others = (cause.e..so.cause.1)
                .any(|t| words::animate(st.w(t)) || win.an.names.contains(st.raw(t)) || words::family_name(st.raw(t)));
            match win.resolve_subject(k, st, cause) {
                Some(r) if r.name && !others && (same || (by_name && win.agrees(pron, &r))) => r,
                _ => return skip(&mut self.skips, "pronoun after \"so\" not the cause's subject"),
            }
        } else {
            let Some(r) = win.resolve_subject(k, fx, &so.effect_subj) else { return };
            r
        };
        let said = fx.span(so.verb, so.end);
        if win.count_in_context(said) != 1 {
            return skip(&mut self.skips, "another sentence could answer it");
        }
        let verb = fx.w(so.verb);
        let (q, d) = if so.lemma == "be" {
            (format!("{verb} {}", who.text), format!("{} {verb}", who.text))
        } else {
            (format!("did {} {}", who.text, so.lemma), format!("{} {verb}", who.text))
        };
        let rest = if so.verb + 1 < so.end { format!(" {}", fx.span(so.verb + 1, so.end)) } else { String::new() };
        let t = pick(&mut self.rng, WHY_T);
        self.push(Kind::Why, fill(t, &[("{Q}", &q), ("{D}", &d), ("{R}", &rest)]), st.span(so.cause.0, so.cause.1));
    }

    /// Questions about a "was" clause: where something was, how someone felt
    /// and who felt so, who was something, what colour a thing was, and why.
    fn be_questions(
        &mut self,
        at: &ClauseAt,
        place: Option<&Part>,
        feel: bool,
        colour: bool,
        adj: Option<(usize, usize)>,
    ) {
        let win = self.win;
        let &ClauseAt { k, st, clause, ref subj, ref f, time } = at;
        let sp = possessive(&subj.text);
        if let Some(p) = place {
            if win.unique_place(k) {
                let t = pick(&mut self.rng, WHERE_BE_T);
                let (q, d) = if clause.subj.there {
                    let be = if words::plural(st.w(clause.subj.e - 1)) { "were" } else { "was" };
                    (format!("{be} {}", subj.text), format!("{} {be}", subj.text))
                } else {
                    (f.q.clone(), f.d.clone())
                };
                self.push(Kind::Where, fill(t, &[("{Q}", &q), ("{D}", &d)]), st.span(p.s, p.e));
            }
        }
        let Some((a, e)) = adj else { return };
        let adj_text = st.span(a, e);
        if feel && win.unique_feel(k) {
            let t = if time.is_some() && self.chance(0.4) {
                pick(&mut self.rng, FEEL_TIME_T)
            } else {
                pick(&mut self.rng, FEEL_T)
            };
            let tt = time.map(|t| Self::time_text(st, t)).unwrap_or_default();
            let was = if subj.plural { "were" } else { "was" };
            self.push(
                Kind::Feel,
                fill(t, &[("{S}", &f.subj), ("{WAS}", was), ("{SP}", &sp), ("{T}", &tt), ("{TC}", &upper_first(&tt))]),
                adj_text,
            );
            if let Some(answer) = subj.answer.as_deref() {
                let bare = st.w(e - 1);
                let felt = self.vary(bare);
                let others_feel_it = win.others(k).any(|j| win.an.sents[j].has(bare));
                if !others_feel_it && self.chance(0.3) {
                    let t = pick(&mut self.rng, &["Who was {A}?", "Who felt {A}?", "Which character was {A}?"]);
                    self.push(Kind::Who, fill(t, &[("{A}", &felt)]), answer);
                }
            }
        }
        if !feel && !colour && clause.subj.animate && !clause.subj.there && self.chance(0.4) {
            if let Some(answer) = subj.answer.as_deref() {
                let pred = st.span(clause.subj.e, clause.core_end);
                if win.count_in_context(pred) == 1 && !subj.plural {
                    let pred = self.reword(pred);
                    let t = pick(&mut self.rng, &["Who {P}?", "Which character {P}?", "Who in the story {P}?"]);
                    self.push(Kind::Who, fill(t, &[("{P}", &pred)]), answer);
                }
            }
        }
        if colour && clause.subj.kind == SubjKind::Np && !clause.subj.there {
            let noun = st.w(clause.subj.e - 1).to_string();
            if win.unique_modifier(k, &noun, adj_text, false) {
                let was = st.w(clause.subj.e).to_string();
                let n = self.vary(&subj.text);
                let t = pick(&mut self.rng, COLOUR_T);
                self.push(Kind::Colour, fill(t, &[("{WAS}", &was), ("{N}", &n)]), adj_text);
            }
        }
        if let Some((b, e)) = clause.because {
            if !feel || win.unique_feel(k) {
                let t = pick(&mut self.rng, WHY_T);
                self.push(Kind::Why, fill(t, &[("{Q}", &f.q), ("{D}", &f.d), ("{R}", "")]), st.span(b, e));
            }
        }
    }

    pub fn said_questions(&mut self, k: usize) {
        let win = self.win;
        let st = &win.an.sents[k];
        let Some(said) = win.an.said[k].as_ref() else { return };
        let Some(subj) = win.subj[k - win.a].clone() else {
            skip(&mut self.skips, "pronoun without a clear referent");
            return;
        };
        if !win.unique_said(k) {
            skip(&mut self.skips, "another sentence could answer it");
            return;
        }
        let quote = &st.text[said.quote.0..said.quote.1];
        let said_word = st.w(said.verb).to_string();
        let sp = possessive(&subj.text);
        if let (Some(answer), true) = (subj.answer.as_deref(), quote.split(' ').count() <= 12 && self.chance(0.3)) {
            if win.count_in_context(quote) == 1 {
                let t = pick(&mut self.rng, WHO_SAID_T);
                let mut q = fill(t, &[("{QUOTE}", quote), ("{SAID}", &said_word)]);
                if quote.ends_with(['?', '!']) {
                    q.pop(); // `Who asked, "Can I play?"` needs no second question mark
                }
                self.push(Kind::Said, q, answer);
                return;
            }
        }
        let mut t = match said.to {
            Some(_) if self.chance(0.5) => pick(&mut self.rng, SAID_TO_T),
            _ => pick(&mut self.rng, SAID_T),
        };
        if t.starts_with("What words") && said.lemma != "say" {
            t = SAID_T[0];
        }
        let x = said.to.map(|(a, e)| lower_det(st.span(a, e))).unwrap_or_default();
        let q =
            fill(t, &[("{S}", &subj.text), ("{SP}", &sp), ("{SAY}", said.lemma), ("{SAID}", &said_word), ("{X}", &x)]);
        self.push(Kind::Said, q, quote);
    }

    pub fn extra_questions(&mut self, k: usize) {
        let win = self.win;
        let st = &win.an.sents[k];
        for extra in win.an.extras[k].clone() {
            match extra {
                Extra::Colour { s, det, colour, head } => {
                    let noun = st.w(head).to_string();
                    let answer = st.raw(colour);
                    if !win.unique_modifier(k, &noun, answer, false) {
                        skip(&mut self.skips, "another sentence could answer it");
                        continue;
                    }
                    let first = if det { s + 1 } else { s };
                    let words: Vec<&str> = (first..=head).filter(|&t| t != colour).map(|t| st.raw(t)).collect();
                    let nh = words.join(" ");
                    let nh = self.vary(&nh);
                    let owner =
                        if det && self.is_possessive(st, s) { st.raw(s).to_string() } else { "the".to_string() };
                    let n = format!("{owner} {nh}");
                    let was = if words::plural(&noun) { "were" } else { "was" };
                    // "What colour ball did Lily have?" when it is the clause's object
                    let obj_frame = self.object_frame(k, s, head);
                    if let (Some((q, r)), true) = (obj_frame, self.chance(0.3)) {
                        let t = pick(&mut self.rng, COLOUR_FRAME_T);
                        self.push(Kind::Colour, fill(t, &[("{NH}", &nh), ("{Q}", &q), ("{R}", &r)]), answer);
                    } else {
                        let t = pick(&mut self.rng, COLOUR_T);
                        self.push(Kind::Colour, fill(t, &[("{WAS}", was), ("{N}", &n)]), answer);
                    }
                }
                Extra::Count { num, head } => {
                    let noun = st.w(head).to_string();
                    let answer = st.raw(num);
                    if !win.unique_modifier(k, &noun, answer, true) {
                        skip(&mut self.skips, "another sentence could answer it");
                        continue;
                    }
                    let nh = st.span(num + 1, head + 1).to_string();
                    let nh = self.vary(&nh);
                    let clause = win.an.clauses[k].as_ref();
                    let subj = win.subj[k - win.a].clone();
                    let q = match (clause, subj) {
                        (Some(c), Some(_)) if c.subj.there && c.subj.s == num => {
                            let r = match &c.pred {
                                Pred::Be { place: Some(p), .. } => format!(" {}", st.span(p.s, p.e)),
                                _ => String::new(),
                            };
                            fill(pick(&mut self.rng, COUNT_THERE_T), &[("{NH}", &nh), ("{R}", &r)])
                        }
                        (Some(c), Some(_))
                            if c.subj.s == num && matches!(c.pred, Pred::Act { .. }) && win.unique_act(k) =>
                        {
                            let Pred::Act { aux, verb, .. } = &c.pred else { unreachable!() };
                            let pred = st.span(aux.unwrap_or(*verb), c.core_end);
                            fill(pick(&mut self.rng, COUNT_SUBJ_T), &[("{NH}", &nh), ("{P}", pred)])
                        }
                        _ => match self.object_frame(k, num, head) {
                            Some((q, r)) => {
                                let d = self
                                    .frame(k, win.subj[k - win.a].as_ref().expect("framed"))
                                    .map(|f| f.d)
                                    .unwrap_or_default();
                                fill(
                                    pick(&mut self.rng, COUNT_OBJ_T),
                                    &[("{NH}", &nh), ("{Q}", &q), ("{D}", &d), ("{R}", &r)],
                                )
                            }
                            None => fill(pick(&mut self.rng, COUNT_ANY_T), &[("{NH}", &nh)]),
                        },
                    };
                    self.push(Kind::HowMany, q, answer);
                }
                Extra::Named { s, head, name } => {
                    let noun = st.w(head).to_string();
                    let elsewhere = win.others(k).any(|j| {
                        let o = &win.an.sents[j];
                        o.has(&noun) && (o.has("named") || o.has("called") || o.has("name"))
                    });
                    if elsewhere {
                        skip(&mut self.skips, "another sentence could answer it");
                        continue;
                    }
                    let np = self.vary(&st.span(s + 1, head + 1).to_lowercase());
                    let n = format!("the {np}");
                    let t = if words::animate(&noun) && self.chance(0.15) {
                        "Who was {N}?"
                    } else {
                        pick(&mut self.rng, NAME_T)
                    };
                    self.push(Kind::Name, fill(t, &[("{N}", &n)]), st.span(name.0, name.1));
                }
            }
        }
    }

    pub fn is_possessive(&self, st: &Sent, i: usize) -> bool {
        let raw = st.raw(i);
        raw.ends_with("'s") || raw.ends_with("’s")
    }

    /// When tokens `s..=head` are the object of sentence `k`'s clause: the
    /// question's inverted verb group and the rest of the verb phrase.
    pub fn object_frame(&mut self, k: usize, s: usize, head: usize) -> Option<(String, String)> {
        let win = self.win;
        let st = &win.an.sents[k];
        let clause = win.an.clauses[k].as_ref()?;
        let Pred::Act { parts, .. } = &clause.pred else { return None };
        let i = parts.iter().position(|p| p.kind == PartKind::Obj && p.s <= s && head < p.e && p.e == head + 1)?;
        if !win.unique_act(k) {
            return None;
        }
        let subj = win.subj[k - win.a].clone()?;
        let f = self.frame(k, &subj)?;
        let r = self.rest(st, parts, Some(i))?;
        Some((f.q, r))
    }

    /// Questions whose answer the window does not hold.
    pub fn unanswerable(&mut self) {
        let win = self.win;
        let an = win.an;
        let mut options: Vec<u8> = vec![0, 1, 2, 3, 4, 5];
        options.shuffle(&mut self.rng);
        // the rarest kind first half the time, so that it is not crowded out
        if self.chance(0.5) {
            options.retain(|&o| o != 4);
            options.insert(0, 4);
        }
        for option in options {
            let before = self.out.len();
            match option {
                0 if !win.has_colour() => {
                    // the colour of a thing the passage names but never colours
                    let nouns: Vec<String> = win
                        .bare_nouns(|p| p.kind == PartKind::Obj && !p.animate)
                        .into_iter()
                        .filter(|n| !words::abstract_noun(n))
                        .collect();
                    if let Some(noun) = nouns.choose(&mut self.rng) {
                        let t = pick(&mut self.rng, COLOUR_T);
                        let n = format!("the {noun}");
                        self.unknown("no colour in the passage", fill(t, &[("{WAS}", "was"), ("{N}", &n)]));
                    }
                }
                1 if !win.vocab.iter().any(|w| words::motion_past(w)) => {
                    let names: Vec<String> = (0..win.b - win.a)
                        .filter_map(|i| {
                            win.subj[i].as_ref().filter(|r| r.name && !r.text.contains(" and ")).map(|r| r.text.clone())
                        })
                        .collect();
                    if let Some(name) = names.choose(&mut self.rng) {
                        let t = pick(&mut self.rng, WENT_T);
                        self.unknown("nobody goes anywhere in the passage", fill(t, &[("{S}", name)]));
                    }
                }
                2 if win.names_nobody() => {
                    let nouns: Vec<String> = (win.a..win.b)
                        .filter_map(|k| an.clauses[k].as_ref().map(|c| (k, c)))
                        .filter(|(_, c)| c.subj.kind == SubjKind::Np && c.subj.animate)
                        .map(|(k, c)| an.sents[k].w(c.subj.e - 1).to_string())
                        .filter(|n| {
                            !words::plural(n) && !matches!(n.as_str(), "mom" | "dad" | "mother" | "father" | "family")
                        })
                        .collect();
                    if let Some(noun) = nouns.choose(&mut self.rng) {
                        let t = pick(&mut self.rng, NOT_NAMED_T);
                        self.unknown("nobody is named in the passage", fill(t, &[("{N}", noun)]));
                    }
                }
                4 if win.only_people_named() => {
                    // the name of the park or the title of the book when only people have names
                    if let Some(noun) = win.nameable_nouns().choose(&mut self.rng) {
                        let t = if words::titled(noun) { UNTITLED_T } else { NAMELESS_T };
                        let t = pick(&mut self.rng, t);
                        self.unknown("a place or thing the passage never names", fill(t, &[("{N}", noun)]));
                    }
                }
                5 => {
                    // the kind of a bird or a cake the passage never says
                    if let Some(noun) = self.win.unkinded_nouns().choose(&mut self.rng) {
                        let t = pick(&mut self.rng, KIND_OF_T);
                        self.unknown("the kind of a thing the passage never says", fill(t, &[("{N}", noun)]));
                    }
                }
                3 => {
                    // a question about a character of the story who is not in the passage
                    let lo = win.a.saturating_sub(30);
                    let hi = (win.b + 30).min(an.sents.len());
                    let mut ks: Vec<usize> = (lo..hi).filter(|&k| k < win.a || k >= win.b).collect();
                    ks.shuffle(&mut self.rng);
                    for k in ks.into_iter().take(20) {
                        let Some(c) = an.clauses[k].as_ref() else { continue };
                        if c.subj.kind != SubjKind::Name || c.subj.e - c.subj.s != 1 {
                            continue;
                        }
                        let st = &an.sents[k];
                        let name = st.raw(c.subj.s);
                        if win.vocab.contains(&name.to_lowercase()) || win.context.contains(name) {
                            continue;
                        }
                        let solo = Window::new(an, k, k + 1);
                        let mut m = Maker { win: &solo, rng: self.rng.clone(), out: Vec::new(), skips: Skips::new() };
                        m.clause_questions(k);
                        self.rng = m.rng;
                        let q = m.out.into_iter().find(|q| {
                            q.kind != Kind::Who && q.question.contains(name) && !win.context.contains(&q.answer)
                        });
                        if let Some(q) = q {
                            self.unknown("about a character outside the passage", q.question);
                            break;
                        }
                    }
                }
                _ => {}
            }
            if self.out.len() > before {
                return;
            }
        }
    }
}

pub fn possessive(s: &str) -> String {
    match s {
        "he" => "his".into(),
        "she" => "her".into(),
        "they" => "their".into(),
        _ if s.ends_with('s') => format!("{s}'"),
        _ => format!("{s}'s"),
    }
}

/// "The dog" -> "the dog" (a name keeps its capital).
pub fn lower_det(np: &str) -> String {
    match np.split_once(' ') {
        Some((first, _)) if words::determiner(&first.to_lowercase()) => lower_first(np),
        _ => np.to_string(),
    }
}

/// Casual typing, a lead-in or a dropped question mark, now and then.
pub fn casual(rng: &mut ChaCha8Rng, q: String) -> String {
    let roll: f64 = rng.gen();
    const OPENERS: &[&str] =
        &["What", "Who", "Where", "When", "Why", "How", "Which", "Whom", "Tell", "Can", "For", "To"];
    let starts_wh = q.split(' ').next().is_some_and(|w| OPENERS.contains(&w) || w == "In" || w == "With" || w == "At");
    if roll < 0.07 {
        q.to_lowercase().trim_end_matches('?').to_string()
    } else if roll < 0.10 {
        q.trim_end_matches('?').to_string()
    } else if roll < 0.16 && starts_wh && !q.starts_with("According") {
        let lead =
            ["In the story, ", "From the text: ", "Based on the passage, ", "Quick question: ", "Reading the text, "];
        format!("{}{}", lead[rng.gen_range(0..lead.len())], lower_first(&q))
    } else {
        q
    }
}
