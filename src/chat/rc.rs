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
//!    ("afraid" for "scared"), casual typing or another word order. A fact
//!    that another sentence of the window could also answer is dropped.
//! 4. About 6% of the questions are unanswerable, and truly so: the colour
//!    of a thing when the passage names no colour, where someone went when
//!    nobody goes anywhere, a name when the passage names nobody, or a
//!    question about a character of the same story outside the passage.
//! 5. Over the corpus, no kind gets more than a quarter of the questions.

mod words;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;

use super::convert::{self, ConvertError, Converted, Split, UNKNOWN_ANSWER};
use super::template::{Conversation, Message, Role};
use crate::data::license::SourceLicense;

/// The converted-set name: output goes to `{out}/rc/`.
pub const SOURCE: &str = "rc";
/// Default cap on the number of questions.
pub const DEFAULT_MAX_QUESTIONS: usize = 60_000;
/// Longest passage, in words (the model's window is 512 tokens).
const MAX_CONTEXT_WORDS: usize = 200;
/// Longest conversation, in bytes of text (about 400 tokens).
const MAX_CONVERSATION_BYTES: usize = 1500;
/// Share of questions that are unanswerable.
const UNANSWERABLE_SHARE: f64 = 0.06;
/// Largest share of the questions one kind may take.
const MAX_KIND_SHARE: f64 = 0.25;
/// How many example conversations the report keeps per kind.
const EXAMPLES_PER_KIND: usize = 3;

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
    Unanswerable,
}

impl Kind {
    pub const ALL: [Kind; 20] = [
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

type Skips = BTreeMap<&'static str, usize>;

fn skip(skips: &mut Skips, reason: &'static str) {
    *skips.entry(reason).or_default() += 1;
}

// ---------------------------------------------------------------------------
// Sentences and tokens

#[derive(Debug, Clone, Copy)]
struct Tok {
    s: usize,
    e: usize,
    word: bool,
}

/// Words (letters and digits, with inner apostrophes and hyphens) and single
/// punctuation characters, as byte spans.
fn tokenize(text: &str) -> Vec<Tok> {
    let mut toks = Vec::new();
    let mut it = text.char_indices().peekable();
    while let Some((i, c)) = it.next() {
        if c.is_whitespace() {
            continue;
        }
        if !c.is_alphanumeric() {
            toks.push(Tok { s: i, e: i + c.len_utf8(), word: false });
            continue;
        }
        let mut e = i + c.len_utf8();
        while let Some(&(j, d)) = it.peek() {
            if d.is_alphanumeric() {
                e = j + d.len_utf8();
                it.next();
            } else if matches!(d, '\'' | '’' | '-') {
                let mut look = it.clone();
                look.next();
                match look.peek() {
                    Some(&(_, n)) if n.is_alphanumeric() => {
                        it.next();
                    }
                    _ => break,
                }
            } else {
                break;
            }
        }
        toks.push(Tok { s: i, e, word: true });
    }
    toks
}

fn is_quote(c: char) -> bool {
    matches!(c, '"' | '“' | '”' | '‘')
}

/// Splits a paragraph into sentences: after `.`, `!` or `?` (and closing
/// quotes) before a capital, but not inside a quotation or after "Mr.".
fn split_sentences(para: &str) -> Vec<&str> {
    let track = para.matches('"').count() % 2 == 0 && para.matches('“').count() == para.matches('”').count();
    let chars: Vec<(usize, char)> = para.char_indices().collect();
    let mut out = Vec::new();
    let (mut start, mut in_q, mut k) = (0, false, 0);
    while k < chars.len() {
        let (i, c) = chars[k];
        match c {
            '"' => in_q = !in_q,
            '“' => in_q = true,
            '”' => in_q = false,
            '.' | '!' | '?' => {
                let mut m = k + 1;
                while m < chars.len() && matches!(chars[m].1, '.' | '!' | '?') {
                    m += 1;
                }
                let mut q = in_q;
                while m < chars.len() && matches!(chars[m].1, '"' | '”' | '’' | '\'' | ')') {
                    match chars[m].1 {
                        '"' => q = !q,
                        '”' => q = false,
                        _ => {}
                    }
                    m += 1;
                }
                let at_space = m >= chars.len() || chars[m].1.is_whitespace();
                // `"Can I play?" Sam asked.`: the speaker belongs to the quotation
                let closed_quote = in_q && !q;
                let speaker_follows = closed_quote && {
                    let rest = &para[chars.get(m).map_or(para.len(), |&(j, _)| j)..];
                    let clause = rest.split(['.', '!', '?', '"', '“']).next().unwrap_or("");
                    let words: Vec<&str> = clause.split_whitespace().collect();
                    words.len() <= 4 && words.iter().any(|w| words::say_verb(&w.to_lowercase()).is_some())
                };
                let next = chars[m..].iter().map(|&(_, ch)| ch).find(|ch| !ch.is_whitespace());
                let starts = next.map_or(true, |n| n.is_uppercase() || n.is_ascii_digit() || is_quote(n));
                let abbrev = c == '.' && abbreviation(&para[start..i]);
                if at_space && starts && !abbrev && !speaker_follows && (!track || !q) {
                    let end = chars.get(m).map_or(para.len(), |&(j, _)| j);
                    let s = para[start..end].trim();
                    if !s.is_empty() {
                        out.push(s);
                    }
                    start = end;
                    in_q = false;
                } else {
                    in_q = q;
                }
                k = m;
                continue;
            }
            _ => {}
        }
        k += 1;
    }
    let s = para[start..].trim();
    if !s.is_empty() {
        out.push(s);
    }
    out
}

fn abbreviation(before: &str) -> bool {
    let last = before.rsplit(|c: char| !c.is_alphanumeric()).next().unwrap_or("");
    matches!(last, "Mr" | "Mrs" | "Ms" | "Dr" | "St" | "Mt" | "Jr" | "Sr" | "Prof" | "vs" | "etc")
        || (last.chars().count() == 1 && last.chars().all(char::is_uppercase))
}

#[derive(Debug)]
struct Sent {
    /// The sentence with runs of whitespace made one space.
    text: String,
    para: usize,
    /// Which story of the document (some documents hold several).
    story: usize,
    words: usize,
    toks: Vec<Tok>,
    low: Vec<String>,
    quotes: bool,
}

impl Sent {
    fn new(text: &str, para: usize) -> Sent {
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let toks = tokenize(&text);
        let low = toks.iter().map(|t| text[t.s..t.e].to_lowercase()).collect();
        let quotes = text.chars().any(is_quote) || text.contains(" '") || text.starts_with('\'');
        let words = text.split(' ').count();
        Sent { text, para, story: 0, words, toks, low, quotes }
    }

    fn w(&self, i: usize) -> &str {
        self.low.get(i).map_or("", String::as_str)
    }

    fn raw(&self, i: usize) -> &str {
        self.toks.get(i).map_or("", |t| &self.text[t.s..t.e])
    }

    fn is_word(&self, i: usize) -> bool {
        self.toks.get(i).is_some_and(|t| t.word)
    }

    fn lower_word(&self, i: usize) -> bool {
        self.is_word(i) && self.raw(i).chars().next().is_some_and(|c| !c.is_uppercase())
    }

    fn cap(&self, i: usize) -> bool {
        self.is_word(i) && self.raw(i).chars().next().is_some_and(char::is_uppercase)
    }

    /// The text of tokens `a..b`, as written.
    fn span(&self, a: usize, b: usize) -> &str {
        if a >= b || b > self.toks.len() {
            return "";
        }
        &self.text[self.toks[a].s..self.toks[b - 1].e]
    }

    fn has(&self, w: &str) -> bool {
        self.low.iter().any(|x| x == w)
    }
}

/// Paragraphs (lines; a line that does not end a sentence continues on the
/// next) split into sentences.
fn sentences(doc: &str) -> Vec<Sent> {
    let mut paras: Vec<String> = Vec::new();
    let mut open = false;
    for line in doc.lines().map(str::trim) {
        if line.is_empty() {
            open = false;
            continue;
        }
        match paras.last_mut() {
            Some(p) if open => {
                p.push(' ');
                p.push_str(line);
            }
            _ => paras.push(line.to_string()),
        }
        open = !line.ends_with(['.', '!', '?', '"', '”', '’', ':', ')']);
    }
    let mut out: Vec<Sent> = Vec::new();
    let mut story = 0;
    for (p, para) in paras.iter().enumerate() {
        for s in split_sentences(para) {
            let mut st = Sent::new(s, p);
            let starts = matches!((st.w(0), st.w(1)), ("once", "upon" | "there")) && !out.is_empty();
            let after_end = out.last().is_some_and(|l| l.low.len() <= 3 && l.w(0) == "the" && l.w(1) == "end");
            if starts || after_end {
                story += 1;
            }
            st.story = story;
            out.push(st);
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Parsing

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NpKind {
    Name,
    Pron,
    Det,
    Bare,
}

#[derive(Debug, Clone, Copy)]
struct Np {
    s: usize,
    e: usize,
    kind: NpKind,
    animate: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SubjKind {
    Name,
    Pron,
    Np,
}

#[derive(Debug, Clone, Copy)]
struct Subject {
    s: usize,
    e: usize,
    kind: SubjKind,
    animate: bool,
    /// "there was a cat in the tree": the subject is the noun phrase.
    there: bool,
    /// "a little girl named Lily": where the name starts.
    named: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PartKind {
    Obj,
    Recipient,
    Inf,
    Place,
    Pp,
}

/// A piece of the verb phrase after the verb: an object, a "to"-infinitive,
/// a place adverb or a prepositional phrase (`prep` tokens, then the noun
/// phrase from `np`).
#[derive(Debug, Clone, Copy)]
struct Part {
    s: usize,
    e: usize,
    np: usize,
    kind: PartKind,
    animate: bool,
    pron: bool,
    place: bool,
}

#[derive(Debug, Clone)]
enum Pred {
    /// A verb with what follows; `aux` is "was"/"were" of a progressive.
    Act { aux: Option<usize>, verb: usize, vend: usize, lemma: String, participle: Option<String>, parts: Vec<Part> },
    /// "was"/"were" or a linking verb ("felt") with an adjective or a place.
    Be { be: usize, adj: Option<(usize, usize)>, place: Option<Part>, feel: bool, colour: bool },
}

#[derive(Debug, Clone)]
struct Clause {
    lead: Option<(usize, usize)>,
    subj: Subject,
    pred: Pred,
    core_end: usize,
    trail: Option<(usize, usize)>,
    because: Option<(usize, usize)>,
}

/// Dialogue: `"...," said Tom.`, `Tom said, "..."`.
#[derive(Debug, Clone)]
struct Said {
    speaker: Subject,
    verb: usize,
    lemma: &'static str,
    /// Byte span of the quotation (without the closing comma or period).
    quote: (usize, usize),
    to: Option<(usize, usize)>,
}

#[derive(Debug, Clone, Copy)]
enum Extra {
    /// A colour before a noun: "a big red ball".
    Colour { s: usize, det: bool, colour: usize, head: usize },
    /// A number before a noun: "three apples".
    Count { num: usize, head: usize },
    /// "a little girl named Lily".
    Named { s: usize, head: usize, name: (usize, usize) },
}

struct Parser<'a> {
    st: &'a Sent,
    names: &'a HashSet<String>,
    known: &'a dyn Fn(&str) -> bool,
}

const BOUNDARY: &[&str] = &[
    ".", "!", ",", "and", "but", "so", "when", "while", "until", "then", "as", "that", "who", "which", "where",
    "before", "after", "or", "because", ";", ":", "to",
];

impl Parser<'_> {
    fn w(&self, i: usize) -> &str {
        self.st.w(i)
    }

    /// A name ("Lily", "Mr. Brown") starting at `i`: its end.
    fn name_at(&self, i: usize) -> Option<usize> {
        if !self.st.is_word(i) {
            return None;
        }
        let raw = self.st.raw(i);
        if words::title(raw) {
            let j = if self.st.raw(i + 1) == "." { i + 2 } else { i + 1 };
            if self.st.cap(j) && !words::not_a_name(self.st.raw(j)) && self.st.raw(j).chars().count() > 1 {
                return Some(j + 1);
            }
        }
        (self.names.contains(raw) || words::family_name(raw)).then_some(i + 1)
    }

    /// A possessive of a name ("Lily's").
    fn possessive_name(&self, i: usize) -> bool {
        let raw = self.st.raw(i);
        let base = raw.strip_suffix("'s").or_else(|| raw.strip_suffix("’s"));
        base.is_some_and(|b| self.names.contains(b))
    }

    /// A word that can be part of a noun phrase after its determiner.
    fn np_word(&self, i: usize, count: usize) -> bool {
        let w = self.w(i);
        self.st.lower_word(i)
            && !words::function_word(w)
            && words::irregular(w).is_none()
            && !matches!(w, "named" | "called")
            && !(count >= 1 && w.ends_with("ing") && !words::ing_noun(w))
    }

    fn past(&self, i: usize) -> Option<(String, Option<String>)> {
        if !self.st.lower_word(i) {
            return None;
        }
        let w = self.w(i);
        if let Some((lemma, participle)) = words::irregular(w) {
            return Some((lemma.to_string(), Some(participle.to_string())));
        }
        if w.len() >= 4 && w.ends_with("ed") && !words::not_past_ed(w) {
            return words::base_form(w, "ed", self.known).map(|l| (l, Some(w.to_string())));
        }
        None
    }

    /// A noun phrase at `i`: a name, an object pronoun, a determiner (or
    /// number, or "Lily's") with up to five words, or (with `bare`) up to
    /// three words without one; "of" and (with `coord`) "and" extend it.
    fn np(&self, i: usize, bare: bool, coord: bool, subject: bool) -> Option<Np> {
        if let Some(mut e) = self.name_at(i) {
            if coord && self.w(e) == "and" {
                if let Some(e2) = self.name_at(e + 1) {
                    e = e2;
                } else if let Some(other) = self.np(e + 1, false, false, subject).filter(|o| o.kind == NpKind::Det) {
                    e = other.e;
                }
            }
            return Some(Np { s: i, e, kind: NpKind::Name, animate: true });
        }
        let w = self.w(i);
        if matches!(
            w,
            "him"
                | "them"
                | "it"
                | "me"
                | "us"
                | "you"
                | "something"
                | "everything"
                | "nothing"
                | "anything"
                | "someone"
                | "everyone"
                | "himself"
                | "herself"
                | "themselves"
                | "itself"
        ) || (w == "her" && !self.np_word(i + 1, 0))
        {
            return Some(Np { s: i, e: i + 1, kind: NpKind::Pron, animate: false });
        }
        let (mut j, kind) = if w == "lots" && self.w(i + 1) == "of" {
            (i + 2, NpKind::Det)
        } else if w == "a" && self.w(i + 1) == "lot" && self.w(i + 2) == "of" {
            (i + 3, NpKind::Det)
        } else if (words::determiner(w) && w != "no") || words::number(w) || self.possessive_name(i) {
            (i + 1, NpKind::Det)
        } else if bare && self.np_word(i, 0) && !w.ends_with("ly") {
            (i, NpKind::Bare)
        } else {
            return None;
        };
        if (words::determiner(self.w(j)) && !matches!(self.w(j), "a" | "an" | "no")) || words::number(self.w(j)) {
            j += 1;
        }
        let mut count = 0;
        let limit = if kind == NpKind::Bare { 3 } else { 5 };
        while count < limit && self.np_word(j, count) {
            if subject && count >= 1 && self.past(j).is_some() {
                break;
            }
            j += 1;
            count += 1;
            // "red and purple jam", "a small, pretty box"
            if matches!(self.w(j), "and" | ",")
                && self.np_word(j + 1, 1)
                && self.np_word(j + 2, 1)
                && self.past(j + 1).is_none()
            {
                j += 1;
            }
        }
        if count == 0 {
            return None;
        }
        let head = j - 1;
        let mut e = j;
        if self.w(e) == "of" {
            if let Some(sub) = self.np(e + 1, true, false, false) {
                e = sub.e;
            }
        }
        while coord && self.w(e) == "and" {
            let n = self.w(e + 1);
            if !(words::determiner(n) || words::number(n) || self.name_at(e + 1).is_some()) {
                break;
            }
            match self.np(e + 1, false, false, false) {
                Some(sub) if sub.kind != NpKind::Pron => e = sub.e,
                _ => break,
            }
        }
        Some(Np { s: i, e, kind, animate: words::animate(self.w(head)) })
    }

    /// A time phrase at `i` ("one day", "after lunch", "at three o'clock"): its end.
    fn time_at(&self, i: usize) -> Option<usize> {
        let (w0, w1, w2) = (self.w(i), self.w(i + 1), self.w(i + 2));
        match w0 {
            "yesterday" | "today" | "tonight" => Some(i + 1),
            "all" if matches!(w1, "day" | "night" | "morning" | "afternoon" | "evening" | "week" | "summer") => {
                Some(if w2 == "long" { i + 3 } else { i + 2 })
            }
            "one" | "that" | "every" | "each" | "last" | "this" | "next" => {
                let mut k = i + 1;
                for _ in 0..3 {
                    if words::time_noun(self.w(k)) && self.st.is_word(k) {
                        return Some(k + 1);
                    }
                    if self.np_word(k, 0) {
                        k += 1;
                    } else {
                        break;
                    }
                }
                None
            }
            "the" if matches!(w1, "next" | "following" | "same") && words::time_noun(w2) => Some(i + 3),
            "later" if w1 == "that" && words::time_noun(w2) => Some(i + 3),
            "early" | "late" if matches!(w1, "one" | "that" | "in") => self.time_at(i + 1),
            "in" if w1 == "the"
                && words::time_point(w2)
                && !matches!(w2, "school" | "bed" | "work" | "church" | "class") =>
            {
                Some(i + 3)
            }
            "in" if words::month(w1) => Some(i + 2),
            "at" if words::time_point(w1)
                && !matches!(w1, "school" | "work" | "church" | "class" | "bed" | "dinner" | "lunch" | "breakfast") =>
            {
                Some(i + 2)
            }
            "at" if words::number(w1) || w1 == "one" => {
                let mut k = i + 2;
                if matches!(self.w(k), "o'clock" | "o’clock" | "am" | "pm" | "thirty" | "fifteen") {
                    k += 1;
                } else if self.st.raw(k) == ":" && self.st.is_word(k + 1) {
                    k += 2;
                }
                Some(k)
            }
            "after" | "before" if words::time_point(w1) && !matches!(w1, "work" | "church") => Some(i + 2),
            "during" if w1 == "the" && words::time_point(w2) => Some(i + 3),
            "on" if words::weekday(w1) => Some(if words::time_noun(w2) { i + 3 } else { i + 2 }),
            "on" if matches!(w1, "his" | "her" | "their" | "the") && w2 == "birthday" => Some(i + 3),
            _ => None,
        }
    }

    fn subject(&self, i: usize) -> Option<Subject> {
        let w = self.w(i);
        if w == "there" && matches!(self.w(i + 1), "was" | "were") {
            let np = self.np(i + 2, false, true, false)?;
            if np.kind != NpKind::Det {
                return None;
            }
            return Some(Subject {
                s: np.s,
                e: np.e,
                kind: SubjKind::Np,
                animate: np.animate,
                there: true,
                named: None,
            });
        }
        if matches!(w, "he" | "she" | "they") {
            return Some(Subject { s: i, e: i + 1, kind: SubjKind::Pron, animate: true, there: false, named: None });
        }
        if matches!(
            w,
            "my" | "our"
                | "your"
                | "this"
                | "that"
                | "these"
                | "those"
                | "some"
                | "all"
                | "every"
                | "each"
                | "no"
                | "lots"
                | "many"
                | "another"
                | "any"
        ) {
            return None;
        }
        let np = self.np(i, false, true, true)?;
        let kind = match np.kind {
            NpKind::Name => SubjKind::Name,
            NpKind::Det => SubjKind::Np,
            _ => return None,
        };
        if kind == SubjKind::Np && matches!(self.w(np.e), "named" | "called") {
            let e = self.name_at(np.e + 1)?;
            return Some(Subject { s: np.s, e, kind, animate: true, there: false, named: Some(np.e + 1) });
        }
        Some(Subject {
            s: np.s,
            e: np.e,
            kind,
            animate: np.animate || kind == SubjKind::Name,
            there: false,
            named: None,
        })
    }

    /// The sentence as one clause, or why not.
    fn clause(&self) -> Result<Clause, &'static str> {
        let st = self.st;
        let n = st.toks.len();
        if n < 3 || !matches!(st.raw(n - 1), "." | "!") {
            return Err("not a statement");
        }
        if st.quotes {
            return Err("dialogue");
        }
        if st.text.contains(['(', ')', '[', ']', '_', '*', ';', ':', '{', '}', '|', '<', '>', '=', '#', '/']) {
            return Err("unusual punctuation");
        }
        let clause = self.clause_unchecked()?;
        let negated = |a: usize, b: usize| {
            (a..b).any(|k| {
                matches!(self.w(k), "not" | "never" | "n't" | "nobody" | "nothing") || self.w(k).ends_with("n't")
            })
        };
        if negated(0, clause.core_end.max(clause.trail.map_or(0, |t| t.1))) {
            return Err("negation");
        }
        Ok(clause)
    }

    fn clause_unchecked(&self) -> Result<Clause, &'static str> {
        let mut i = 0;
        let skip_discourse = |mut i: usize| loop {
            let w = self.w(i);
            let k = if matches!(
                w,
                "then"
                    | "suddenly"
                    | "so"
                    | "but"
                    | "and"
                    | "finally"
                    | "soon"
                    | "now"
                    | "later"
                    | "meanwhile"
                    | "luckily"
                    | "sadly"
                    | "happily"
                    | "first"
                    | "next"
                    | "also"
                    | "still"
                    | "together"
                    | "however"
                    | "instead"
                    | "unfortunately"
                    | "fortunately"
                    | "eventually"
                    | "afterwards"
                    | "anyway"
            ) {
                i + 1
            } else if w == "once" && self.w(i + 1) == "upon" && self.w(i + 2) == "a" && self.w(i + 3) == "time" {
                i + 4
            } else if w == "once" && self.w(i + 1) == "there" {
                i + 1
            } else if matches!(
                w,
                "in" | "on"
                    | "at"
                    | "after"
                    | "before"
                    | "to"
                    | "with"
                    | "from"
                    | "during"
                    | "under"
                    | "inside"
                    | "outside"
                    | "near"
                    | "by"
                    | "for"
                    | "when"
                    | "as"
                    | "while"
                    | "since"
                    | "although"
                    | "though"
                    | "without"
                    | "just"
                    | "across"
                    | "through"
                    | "behind"
                    | "later"
            ) && self.time_at(i).is_none()
            {
                match (i + 1..(i + 14).min(self.st.toks.len())).find(|&k| self.w(k) == ",") {
                    Some(c) => c,
                    None => return i,
                }
            } else if matches!((w, self.w(i + 1)), ("after", "that") | ("at", "last") | ("in", "the") if self.w(i + 2) != "morning")
                && (self.w(i + 2) == ","
                    || (w, self.w(i + 1)) == ("after", "that")
                    || (w, self.w(i + 1)) == ("at", "last"))
            {
                i + 2
            } else {
                return i;
            };
            i = if self.w(k) == "," { k + 1 } else { k };
        };
        i = skip_discourse(i);
        let lead = self.time_at(i).map(|e| (i, e));
        if let Some((_, e)) = lead {
            i = if self.w(e) == "," { e + 1 } else { e };
            i = skip_discourse(i);
        }
        let subj = self.subject(i).ok_or("no subject")?;
        i = subj.e;
        if matches!(self.w(i), "both" | "all" | "together") && subj.kind != SubjKind::Np {
            i += 1;
        }
        if subj.there {
            // there was/were NP [place]
            let be = subj.s - 1;
            let (parts, j, trail, because) = self.tail(i, "be")?;
            let place = parts.iter().find(|p| p.place).copied();
            if parts.iter().any(|p| p.kind == PartKind::Obj) {
                return Err("sentence too complex");
            }
            return Ok(Clause {
                lead,
                subj,
                pred: Pred::Be { be, adj: None, place, feel: false, colour: false },
                core_end: j,
                trail,
                because,
            });
        }
        if matches!(
            self.w(i),
            "also"
                | "then"
                | "just"
                | "quickly"
                | "slowly"
                | "finally"
                | "suddenly"
                | "soon"
                | "always"
                | "often"
                | "carefully"
                | "happily"
                | "sadly"
                | "quietly"
                | "gently"
                | "loudly"
                | "first"
        ) || (self.w(i).ends_with("ly") && self.st.lower_word(i) && self.past(i + 1).is_some())
        {
            i += 1;
        }
        let w = self.w(i).to_string();
        if matches!(w.as_str(), "was" | "were") || (words::linking(&w) && self.adjective_at(i + 1).is_some()) {
            return self.be_clause(lead, subj, i);
        }
        if w == "had" && self.st.lower_word(i + 1) {
            let p = self.w(i + 1);
            let lemma = words::participle_lemma(p).map(str::to_string).or_else(|| {
                (p.ends_with("ed") && !words::not_past_ed(p)).then(|| words::base_form(p, "ed", self.known)).flatten()
            });
            if let Some(lemma) = lemma {
                if lemma != "be" && lemma != "do" {
                    return self.act_clause(lead, subj, Some(i), i + 1, lemma, Some(p.to_string()));
                }
            }
        }
        let (lemma, participle) = self.past(i).ok_or("no past-tense verb")?;
        if self.np_word(i + 1, 1) && self.past(i + 2).is_some() {
            return Err("verb unclear");
        }
        self.act_clause(lead, subj, None, i, lemma, participle)
    }

    /// An adjective phrase ("very happy", "sad and tired") at `i`: its span.
    fn adjective_at(&self, i: usize) -> Option<(usize, usize)> {
        let mut k = i;
        while k < i + 3 {
            match self.w(k) {
                "a" if self.w(k + 1) == "bit"
                    || (self.w(k + 1) == "little"
                        && (words::feeling(self.w(k + 2))
                            || self.w(k + 2).ends_with("ed")
                            || self.w(k + 2).ends_with("er"))) =>
                {
                    k += 1
                }
                "always" | "still" | "now" | "also" | "suddenly" | "getting" | "feeling" if k == i => k += 1,
                "a" | "an" => return None,
                w if words::intensifier(w)
                    && w != "a"
                    && self.st.lower_word(k + 1)
                    && !words::function_word(self.w(k + 1)) =>
                {
                    k += 1
                }
                "bit" | "little" if k > i => k += 1,
                _ => break,
            }
        }
        let adj = self.w(k);
        let ok =
            |w: &str| !w.is_empty() && !words::function_word(w) && !w.ends_with("ing") && words::irregular(w).is_none();
        if !self.st.lower_word(k) || !ok(adj) || self.np_word(k + 1, 1) {
            return None;
        }
        let mut e = k + 1;
        if self.w(e) == "and" && self.st.lower_word(e + 1) && ok(self.w(e + 1)) && !self.np_word(e + 2, 1) {
            e += 2;
        }
        Some((i, e))
    }

    fn be_clause(&self, lead: Option<(usize, usize)>, subj: Subject, be: usize) -> Result<Clause, &'static str> {
        let j = be + 1;
        let w = self.w(j);
        if matches!(w, "going" | "about" | "no") {
            return Err("sentence too complex");
        }
        if self.st.lower_word(j) && w.len() > 4 && w.ends_with("ing") && !words::never_progressive(w) {
            let lemma = words::base_form(w, "ing", self.known).ok_or("verb unclear")?;
            return self.act_clause(lead, subj, Some(be), j, lemma, None);
        }
        if let Some((a, e)) = self.adjective_at(j) {
            let head = self.w(e - 1);
            let first = (a..e).map(|k| self.w(k)).find(|w| !words::intensifier(w)).unwrap_or(head);
            let (feel, colour) = (words::feeling(first), words::colour(first) && e - a == 1);
            let (parts, end, trail, because) = self.tail(e, "be")?;
            if !parts.is_empty() && (feel || colour) && parts.iter().any(|p| p.kind == PartKind::Obj) {
                return Err("sentence too complex");
            }
            return Ok(Clause {
                lead,
                subj,
                pred: Pred::Be { be, adj: Some((a, e)), place: None, feel, colour },
                core_end: if parts.is_empty() { e } else { end },
                trail,
                because,
            });
        }
        if matches!(self.w(be), "was" | "were") && matches!(w, "a" | "an" | "the" | "his" | "her" | "their" | "my") {
            // "Beep was a healthy car because ...": only for why and who
            let np =
                self.np(j, false, false, false).filter(|np| np.kind == NpKind::Det).ok_or("sentence too complex")?;
            let (parts, end, trail, because) = self.tail(np.e, "be")?;
            if parts.iter().any(|p| p.kind == PartKind::Obj) {
                return Err("sentence too complex");
            }
            return Ok(Clause {
                lead,
                subj,
                pred: Pred::Be { be, adj: Some((j, np.e)), place: None, feel: false, colour: false },
                core_end: end,
                trail,
                because,
            });
        }
        if matches!(self.w(be), "was" | "were") && words::place_preposition(w) {
            let (parts, end, trail, because) = self.tail(j, "be")?;
            let place = parts.first().filter(|p| p.place).copied().ok_or("sentence too complex")?;
            return Ok(Clause {
                lead,
                subj,
                pred: Pred::Be { be, adj: None, place: Some(place), feel: false, colour: false },
                core_end: end,
                trail,
                because,
            });
        }
        Err("sentence too complex")
    }

    fn act_clause(
        &self,
        lead: Option<(usize, usize)>,
        subj: Subject,
        aux: Option<usize>,
        verb: usize,
        mut lemma: String,
        participle: Option<String>,
    ) -> Result<Clause, &'static str> {
        let mut j = verb + 1;
        if words::phrasal(&lemma, self.w(j)) {
            lemma = format!("{lemma} {}", self.w(j));
            j += 1;
        }
        let vend = j;
        let mut parts = Vec::new();
        if words::takes_infinitive(&lemma)
            && self.w(j) == "to"
            && self.st.lower_word(j + 1)
            && !words::function_word(self.w(j + 1))
        {
            let s = j;
            j += 1;
            while j < self.st.toks.len() {
                if self.time_at(j).is_some() {
                    break;
                }
                if self.w(j) == "and" && words::determiner(self.w(j + 1)) {
                    // "to buy a ball and a doll", not "to shake and the wind blew"
                    match self.np(j + 1, false, false, false) {
                        Some(np) if matches!(self.w(np.e), "." | "!" | "," | "because") => {
                            j = np.e;
                            continue;
                        }
                        _ => break,
                    }
                }
                if BOUNDARY.contains(&self.w(j)) {
                    break;
                }
                j += 1;
            }
            if j >= self.st.toks.len() {
                return Err("sentence too complex");
            }
            parts.push(Part { s, e: j, np: s, kind: PartKind::Inf, animate: false, pron: false, place: false });
        } else {
            if lemma == "give" {
                if let Some(r) = self.np(j, false, false, false) {
                    let recipient = r.kind == NpKind::Name
                        || (r.kind == NpKind::Det && r.animate)
                        || (r.kind == NpKind::Pron && matches!(self.w(r.s), "him" | "her" | "them" | "me" | "us"));
                    if recipient {
                        if let Some(o) = self.np(r.e, false, true, false).filter(|o| matches!(o.kind, NpKind::Det)) {
                            parts.push(self.np_part(r, PartKind::Recipient));
                            parts.push(self.np_part(o, PartKind::Obj));
                            j = o.e;
                        }
                    }
                }
            }
            if parts.is_empty() && !words::preposition(self.w(j)) {
                if let Some(o) = self.np(j, words::takes_bare_object(&lemma), true, false) {
                    parts.push(self.np_part(o, PartKind::Obj));
                    j = o.e;
                }
            }
        }
        if parts.iter().any(|p| p.kind == PartKind::Obj)
            && self.w(j) == "to"
            && self.st.lower_word(j + 1)
            && !words::determiner(self.w(j + 1))
        {
            return Err("sentence too complex");
        }
        let (more, end, trail, because) = self.tail(j, &lemma)?;
        if more.iter().any(|p| p.kind == PartKind::Obj) {
            return Err("sentence too complex");
        }
        parts.extend(more);
        Ok(Clause {
            lead,
            subj,
            pred: Pred::Act { aux, verb, vend, lemma, participle, parts },
            core_end: end,
            trail,
            because,
        })
    }

    fn np_part(&self, np: Np, kind: PartKind) -> Part {
        Part {
            s: np.s,
            e: np.e,
            np: np.s,
            kind,
            animate: np.animate || np.kind == NpKind::Name,
            pron: np.kind == NpKind::Pron,
            place: false,
        }
    }

    /// Prepositional phrases, place adverbs and adverbs after the verb's
    /// object, then a time phrase and a because-clause; the clause must end
    /// there (end of sentence, comma or conjunction). Returns the parts, the
    /// end of the last one, the time phrase and the because-clause.
    #[allow(clippy::type_complexity)]
    fn tail(
        &self,
        mut j: usize,
        lemma: &str,
    ) -> Result<(Vec<Part>, usize, Option<(usize, usize)>, Option<(usize, usize)>), &'static str> {
        let mut parts = Vec::new();
        let mut end = j;
        let mut trail = None;
        loop {
            if let Some(e) = self.time_at(j) {
                trail = Some((j, e));
                j = e;
                break;
            }
            let w = self.w(j);
            if words::place_adverb(w) && self.st.lower_word(j) {
                parts.push(Part {
                    s: j,
                    e: j + 1,
                    np: j,
                    kind: PartKind::Place,
                    animate: false,
                    pron: false,
                    place: true,
                });
                j += 1;
                end = j;
                continue;
            }
            let plen = match (w, self.w(j + 1), self.w(j + 2)) {
                ("next", "to", _) | ("out", "of", _) | ("away", "from", _) => 2,
                ("in", "front", "of") | ("on", "top", "of") => 3,
                _ if words::preposition(w)
                    && !matches!(
                        w,
                        "like" | "as" | "than" | "until" | "since" | "till" | "next" | "before" | "after"
                    ) =>
                {
                    1
                }
                _ => 0,
            };
            if plen > 0 {
                let at = j + plen;
                let bare = words::bare_place(self.w(at)) || matches!(w, "with" | "for" | "about");
                if let Some(np) = self.np(at, bare, true, false) {
                    let first = self.w(j);
                    let person = np.animate || np.kind == NpKind::Name || np.kind == NpKind::Pron;
                    let place = (words::place_preposition(first) || plen > 1)
                        && !person
                        && !(first == "to" && !words::motion(lemma) && lemma != "be" && lemma != "put");
                    parts.push(Part {
                        s: j,
                        e: np.e,
                        np: at,
                        kind: PartKind::Pp,
                        animate: person && np.kind != NpKind::Pron,
                        pron: np.kind == NpKind::Pron,
                        place,
                    });
                    j = np.e;
                    end = j;
                    continue;
                }
                if matches!(w, "up" | "down" | "out" | "off" | "over" | "around" | "away" | "back") {
                    j += 1;
                    end = j;
                    continue;
                }
                break;
            }
            if matches!(
                w,
                "again"
                    | "together"
                    | "too"
                    | "back"
                    | "away"
                    | "all"
                    | "very"
                    | "so"
                    | "fast"
                    | "hard"
                    | "well"
                    | "alone"
                    | "quickly"
                    | "slowly"
                    | "happily"
                    | "loudly"
                    | "softly"
                    | "gently"
                    | "carefully"
                    | "quietly"
            ) || (w.ends_with("ly") && self.st.lower_word(j) && !words::function_word(w) && w.len() > 4)
            {
                j += 1;
                end = j;
                continue;
            }
            break;
        }
        let n = self.st.toks.len();
        let mut because = None;
        let b = if self.w(j) == "," && self.w(j + 1) == "because" { j + 1 } else { j };
        if self.w(b) == "because" && self.w(b + 1) != "of" {
            if b + 2 >= n {
                return Err("sentence too complex");
            }
            because = Some((b, n - 1));
            j = n - 1;
        }
        if j < n && BOUNDARY.contains(&self.w(j)) {
            Ok((parts, end, trail, because))
        } else {
            Err("sentence too complex")
        }
    }

    fn said(&self) -> Option<Said> {
        let st = self.st;
        let n = st.toks.len();
        let q = |i: usize| matches!(st.raw(i), "\"" | "“" | "”");
        if n < 5 {
            return None;
        }
        let speaker_at = |i: usize| -> Option<Subject> {
            let s = self.subject(i)?;
            (!s.there && (s.animate || s.kind != SubjKind::Np)).then_some(s)
        };
        let inner = |a: usize, b: usize| -> Option<(usize, usize)> {
            // tokens a..b inside the quotation marks
            if b <= a || (a..b).any(q) || !(a..b).any(|k| st.is_word(k)) || b - a > 30 {
                return None;
            }
            let mut e = b;
            if matches!(st.raw(e - 1), "," | ".") {
                e -= 1;
            }
            (e > a).then(|| (st.toks[a].s, st.toks[e - 1].e))
        };
        // After the speaker and verb: [to NP] [adverb] and the end.
        let ending = |mut k: usize| -> Option<Option<(usize, usize)>> {
            let mut to = None;
            if self.w(k) == "to" {
                let np = self.np(k + 1, false, false, false).filter(|np| np.kind != NpKind::Pron)?;
                to = Some((np.s, np.e));
                k = np.e;
            }
            if self.w(k).ends_with("ly") && st.lower_word(k) {
                k += 1;
            }
            (k == n - 1 && matches!(st.raw(k), "." | "!")).then_some(to)
        };
        if q(0) {
            let c = (1..n).find(|&k| q(k))?;
            let quote = inner(1, c)?;
            let after = c + 1;
            if let Some(lemma) = words::say_verb(self.w(after)) {
                let sp = speaker_at(after + 1)?;
                if sp.kind == SubjKind::Pron && !matches!(self.w(after + 1), "he" | "she") {
                    return None;
                }
                let to = ending(sp.e)?;
                return Some(Said { speaker: sp, verb: after, lemma, quote, to });
            }
            let sp = speaker_at(after)?;
            let lemma = words::say_verb(self.w(sp.e))?;
            let to = ending(sp.e + 1)?;
            return Some(Said { speaker: sp, verb: sp.e, lemma, quote, to });
        }
        // Tom said[ to Lily], "..."  /  Tom smiled and said, "..."
        let close = if q(n - 1) {
            n - 1
        } else if q(n - 2) && st.raw(n - 1) == "." {
            n - 2
        } else {
            return None;
        };
        let sp = speaker_at(0)?;
        let verb = (sp.e..(sp.e + 8).min(n)).find(|&k| words::say_verb(self.w(k)).is_some())?;
        if verb > sp.e {
            let between_ok = self.w(verb - 1) == "and"
                && (sp.e..verb).all(|k| {
                    !q(k) && self.w(k) != "," && !matches!(self.w(k), "he" | "she" | "they" | "it" | "i" | "we")
                });
            if !between_ok {
                return None;
            }
        }
        let lemma = words::say_verb(self.w(verb))?;
        let mut k = verb + 1;
        let mut to = None;
        if self.w(k) == "to" {
            let np = self.np(k + 1, false, false, false).filter(|np| np.kind != NpKind::Pron)?;
            to = Some((np.s, np.e));
            k = np.e;
        }
        if st.raw(k) == "," {
            k += 1;
        }
        if !q(k) || k + 1 >= close {
            return None;
        }
        let quote = inner(k + 1, close)?;
        Some(Said { speaker: sp, verb, lemma, quote, to })
    }

    fn extras(&self) -> Vec<Extra> {
        let st = self.st;
        let mut out = Vec::new();
        if st.quotes {
            return out;
        }
        for k in 0..st.toks.len() {
            let w = self.w(k);
            if words::colour(w) && st.lower_word(k) && self.w(k + 1) != "and" {
                let mut m = k + 1;
                let mut count = 0;
                while count < 3 && self.np_word(m, count) && !words::colour(self.w(m)) {
                    m += 1;
                    count += 1;
                }
                if count == 0 || self.w(m) == "and" || self.w(m).ends_with("ing") {
                    continue;
                }
                let mut d = k;
                while d > 0 && k - d < 2 && self.np_word(d - 1, 0) && !words::colour(self.w(d - 1)) {
                    d -= 1;
                }
                let det = d > 0 && (words::determiner(self.w(d - 1)) || self.possessive_name(d - 1));
                let s = if det { d - 1 } else { d };
                out.push(Extra::Colour { s, det, colour: k, head: m - 1 });
            }
            if words::number(w) && (st.lower_word(k) || w.bytes().all(|b| b.is_ascii_digit())) {
                if k > 0 && matches!(self.w(k - 1), "at" | "of" | "about" | "around" | "age") {
                    continue;
                }
                let mut m = k + 1;
                let mut count = 0;
                while count < 3 && self.np_word(m, count) {
                    m += 1;
                    count += 1;
                }
                if count == 0 || self.w(m) == "of" {
                    continue;
                }
                let head = self.w(m - 1);
                if words::plural(head) && !words::time_unit(head) && !self.w(m).starts_with("o'") {
                    out.push(Extra::Count { num: k, head: m - 1 });
                }
            }
            if matches!(w, "named" | "called") && k >= 2 && self.np_word(k - 1, 1) {
                let Some(e) = self.name_at(k + 1) else { continue };
                let mut d = k - 1;
                while d > 0 && k - d < 4 && self.np_word(d - 1, 0) {
                    d -= 1;
                }
                if d > 0 && matches!(self.w(d - 1), "a" | "an" | "the") {
                    out.push(Extra::Named { s: d - 1, head: k - 1, name: (k + 1, e) });
                }
            }
        }
        out
    }
}

// ---------------------------------------------------------------------------
// Documents

struct Analysed {
    sents: Vec<Sent>,
    names: HashSet<String>,
    gender: HashMap<String, char>,
    clauses: Vec<Option<Clause>>,
    said: Vec<Option<Said>>,
    extras: Vec<Vec<Extra>>,
}

/// Capitalised words used as names: seen capitalised inside a sentence and
/// never in lower case, or after "named"/"called".
fn find_names(sents: &[Sent]) -> HashSet<String> {
    let mut lower = HashSet::new();
    let mut mid = HashSet::new();
    for st in sents {
        for (k, t) in st.toks.iter().enumerate() {
            if !t.word {
                continue;
            }
            let raw = &st.text[t.s..t.e];
            let base = raw.strip_suffix("'s").or_else(|| raw.strip_suffix("’s")).unwrap_or(raw);
            let mut chars = base.chars();
            let first = chars.next().unwrap_or(' ');
            if first.is_lowercase() {
                lower.insert(base.to_string());
                continue;
            }
            let shaped = first.is_uppercase() && base.chars().count() > 1 && chars.all(|c| c.is_lowercase());
            let after_start = k > 0 && !is_quote(st.raw(k - 1).chars().next().unwrap_or(' ')) && st.raw(k - 1) != ":";
            let after_named = k > 0 && matches!(st.w(k - 1), "named" | "called");
            // "Mia went ...": a sentence's first word followed by a past-tense verb
            let next = st.w(k + 1);
            let before_verb = k == 0
                && raw == base
                && st.lower_word(k + 1)
                && (words::irregular(next).is_some()
                    || matches!(next, "was" | "were")
                    || (next.ends_with("ed") && !words::not_past_ed(next)))
                && !words::function_word(&base.to_lowercase())
                && !matches!(base, "Today" | "Yesterday" | "Tonight" | "Everybody" | "Nobody" | "Somebody");
            if shaped && (after_start || after_named || before_verb) && !words::not_a_name(base) {
                mid.insert(base.to_string());
            }
        }
    }
    mid.into_iter().filter(|n| !lower.contains(&n.to_lowercase())).collect()
}

fn analyse(doc: &str, known: &dyn Fn(&str) -> bool, skips: &mut Skips) -> Analysed {
    let sents = sentences(doc);
    let names = find_names(&sents);
    let mut clauses = Vec::with_capacity(sents.len());
    let mut said = Vec::with_capacity(sents.len());
    let mut extras = Vec::with_capacity(sents.len());
    let mut gender = HashMap::new();
    for st in &sents {
        let p = Parser { st, names: &names, known };
        let spoken = if st.quotes { p.said() } else { None };
        match p.clause() {
            Ok(c) => clauses.push(Some(c)),
            Err(reason) => {
                if spoken.is_none() {
                    skip(skips, reason);
                }
                clauses.push(None);
            }
        }
        said.push(spoken);
        let ex = p.extras();
        for e in &ex {
            if let Extra::Named { head, name, .. } = *e {
                if let Some(g) = words::gender_of_noun(st.w(head)) {
                    gender.insert(st.span(name.0, name.1).to_string(), g);
                }
            }
        }
        extras.push(ex);
    }
    Analysed { sents, names, gender, clauses, said, extras }
}

// ---------------------------------------------------------------------------
// Windows and questions

/// A subject as a question names it.
#[derive(Debug, Clone)]
struct Resolved {
    /// In a question ("Tom", "the dog", or an unresolved "she").
    text: String,
    /// As an answer to "Who ...?", verbatim from the context.
    answer: Option<String>,
    /// For telling characters apart; None for an unresolved pronoun.
    key: Option<String>,
    name: bool,
    plural: bool,
}

#[derive(Debug, Clone)]
struct Qa {
    kind: Kind,
    question: String,
    answer: String,
    /// Why an unanswerable question has no answer.
    reason: Option<&'static str>,
}

/// A context and the questions found for it, before selection.
#[derive(Debug, Clone)]
struct Candidate {
    doc: usize,
    context: String,
    qas: Vec<Qa>,
    /// The kinds of every question the window had, before choosing.
    found: Vec<Kind>,
}

struct Window<'a> {
    an: &'a Analysed,
    a: usize,
    b: usize,
    context: String,
    /// Resolved subject of each sentence's clause or speech.
    subj: Vec<Option<Resolved>>,
    /// Lower-case words of the whole context.
    vocab: HashSet<String>,
}

fn upper_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Fills `{X}` slots of a template.
fn fill(template: &str, slots: &[(&str, &str)]) -> String {
    let mut out = template.to_string();
    for (k, v) in slots {
        out = out.replace(k, v);
    }
    upper_first(&out.replace("  ", " ").replace(" ?", "?").replace(" .", "."))
}

fn pick<'t>(rng: &mut ChaCha8Rng, templates: &[&'t str]) -> &'t str {
    templates[rng.gen_range(0..templates.len())]
}

impl<'a> Window<'a> {
    fn new(an: &'a Analysed, a: usize, b: usize) -> Self {
        let mut context = String::new();
        for k in a..b {
            if k > a {
                context.push(if an.sents[k].para == an.sents[k - 1].para { ' ' } else { '\n' });
            }
            context.push_str(&an.sents[k].text);
        }
        let vocab = (a..b).flat_map(|k| an.sents[k].low.iter().cloned()).collect();
        let mut w = Window { an, a, b, context, subj: vec![None; b - a], vocab };
        for k in a..b {
            w.subj[k - a] = w.resolve(k);
        }
        w
    }

    fn subject_of(&self, k: usize) -> Option<&Subject> {
        self.an.clauses[k].as_ref().map(|c| &c.subj).or(self.an.said[k].as_ref().map(|s| &s.speaker))
    }

    /// The subject of sentence `k` as a question names it: a pronoun becomes
    /// the previous sentence's named subject when nobody else is mentioned
    /// there; otherwise it stays only in a one-sentence context.
    fn resolve(&self, k: usize) -> Option<Resolved> {
        let st = &self.an.sents[k];
        let subj = self.subject_of(k)?;
        let text = st.span(subj.s, subj.e);
        let named = |name: &str| Resolved {
            text: name.to_string(),
            answer: Some(name.to_string()),
            key: Some(name.to_lowercase()),
            name: true,
            plural: name.contains(" and "),
        };
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
                    if crowded {
                        return single;
                    }
                    let Some(prev) = prev else { continue };
                    let agrees = match pron.as_str() {
                        "they" => prev.plural,
                        "he" => !prev.plural && self.an.gender.get(&prev.text) != Some(&'f'),
                        _ => !prev.plural && self.an.gender.get(&prev.text) != Some(&'m'),
                    };
                    return if agrees { Some(prev.clone()) } else { single };
                }
                single
            }
        }
    }

    fn key(&self, k: usize) -> Option<&str> {
        self.subj[k - self.a].as_ref().and_then(|r| r.key.as_deref())
    }

    fn others(&self, k: usize) -> impl Iterator<Item = usize> + '_ {
        (self.a..self.b).filter(move |&j| j != k)
    }

    /// No other sentence of the window could answer a question about the
    /// action of sentence `k` (same verb, same or unknown subject).
    fn unique_act(&self, k: usize) -> bool {
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

    fn unique_feel(&self, k: usize) -> bool {
        let Some(key) = self.key(k) else { return self.b - self.a == 1 };
        self.others(k).all(|j| {
            let st = &self.an.sents[j];
            let feels = st.low.iter().any(|w| words::feeling(w));
            let other_feel = matches!(&self.an.clauses[j], Some(Clause { pred: Pred::Be { feel: true, .. }, .. }));
            !feels || (other_feel && self.key(j).is_some_and(|kj| kj != key))
        })
    }

    fn unique_place(&self, k: usize) -> bool {
        let Some(key) = self.key(k) else { return self.b - self.a == 1 };
        self.others(k).all(|j| {
            let place = matches!(&self.an.clauses[j], Some(Clause { pred: Pred::Be { place: Some(_), .. }, .. }));
            !place || self.key(j).is_some_and(|kj| kj != key)
        })
    }

    fn unique_said(&self, k: usize) -> bool {
        let Some(key) = self.key(k) else { return self.b - self.a == 1 };
        self.others(k).all(|j| {
            let st = &self.an.sents[j];
            let speaks = st.quotes || st.low.iter().any(|w| words::say_verb(w).is_some());
            !speaks || (self.an.said[j].is_some() && self.key(j).is_some_and(|kj| kj != key))
        })
    }

    /// Every sentence of the window that mentions `noun` with a colour (or
    /// number, with `count`) gives the same one as sentence `k`.
    fn unique_modifier(&self, k: usize, noun: &str, answer: &str, count: bool) -> bool {
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

    fn count_in_context(&self, phrase: &str) -> usize {
        self.context.to_lowercase().matches(&phrase.to_lowercase()).count()
    }

    /// No name, no capitalised word inside a sentence, no "named".
    fn names_nobody(&self) -> bool {
        let named = self.vocab.iter().any(|w| matches!(w.as_str(), "named" | "called" | "name"));
        let capitals = (self.a..self.b).any(|k| {
            let st = &self.an.sents[k];
            (0..st.toks.len()).any(|t| self.an.names.contains(st.raw(t)) || (t > 0 && st.cap(t)))
        });
        !named && !capitals
    }

    fn has_colour(&self) -> bool {
        self.vocab.iter().any(|w| words::colour(w))
    }
}

/// Everything a question about one clause needs.
struct Frame {
    subj: String,
    /// "did Tom find", "was Tom holding", "was Tom".
    q: String,
    /// "Tom found", "Tom was holding".
    d: String,
    /// For "What was found by Tom?".
    passive: Option<String>,
}

const WHAT_T: &[&str] = &[
    "What {Q}{R}?",
    "What {Q}{R}?",
    "What was it that {D}{R}?",
    "{D} something{R}. What was it?",
    "Tell me what {D}{R}.",
    "According to the story, what {Q}{R}?",
    "What does the text say {D}{R}?",
];
const WHO_OBJ_T: &[&str] =
    &["Who {Q}{R}?", "Who {Q}{R}?", "Who was it that {D}{R}?", "{D} someone{R}. Who was it?", "Whom {Q}{R}?"];
const PASSIVE_T: &[&str] = &["What was {P} by {S}{R}?"];
const WHO_T: &[&str] = &[
    "Who {P}?",
    "Who {P}?",
    "Who was it that {P}?",
    "Which character {P}?",
    "Someone {P}. Who was it?",
    "Can you tell me who {P}?",
    "Who was the one that {P}?",
];
const WHAT_SUBJ_T: &[&str] = &["What {P}?", "What {P}?", "What was it that {P}?", "Something {P}. What was it?"];
const WHERE_T: &[&str] = &[
    "Where {Q}{R}?",
    "Where {Q}{R}?",
    "Where was it that {D}{R}?",
    "{D}{R} somewhere. Where?",
    "Tell me where {D}{R}.",
    "According to the text, where {Q}{R}?",
];
const WHERE_NP_T: &[&str] = &["Where {Q}{R} {PREP}?", "To what place {Q}{R}?", "What place {Q}{R} {PREP}?"];
const WHERE_BE_T: &[&str] = &["Where {Q}?", "Where {Q}?", "{D} where?", "Tell me where {D}.", "In what place {Q}?"];
const WHEN_T: &[&str] = &[
    "When {Q}{R}?",
    "When {Q}{R}?",
    "{D}{R}. When did this happen?",
    "When was it that {D}{R}?",
    "Tell me when {D}{R}.",
    "At what point in the story {Q}{R}?",
];
const DO_T: &[&str] = &[
    "What did {S} do {T}?",
    "What did {S} do {T}?",
    "{TC}, what did {S} do?",
    "Tell me what {S} did {T}.",
    "What did {S} do {T}, according to the text?",
];
const DO_PROG_T: &[&str] = &["What was {S} doing {T}?", "{TC}, what was {S} doing?"];
const WHY_T: &[&str] = &[
    "Why {Q}{R}?",
    "Why {Q}{R}?",
    "What was the reason {D}{R}?",
    "For what reason {Q}{R}?",
    "{D}{R}. Why?",
    "How come {D}{R}?",
];
const FEEL_T: &[&str] = &[
    "How did {S} feel?",
    "How did {S} feel?",
    "How {WAS} {S} feeling?",
    "What was {SP} mood?",
    "What feeling did {S} have?",
    "How did {S} feel, according to the story?",
];
const FEEL_TIME_T: &[&str] = &["How did {S} feel {T}?", "{TC}, how did {S} feel?"];
const COLOUR_T: &[&str] = &[
    "What colour {WAS} {N}?",
    "What colour {WAS} {N}?",
    "What color {WAS} {N}?",
    "Which colour {WAS} {N}?",
    "{N} {WAS} what colour?",
    "What colour {WAS} {N} in the story?",
];
const COLOUR_FRAME_T: &[&str] = &["What colour {NH} {Q}{R}?", "What color {NH} {Q}{R}?"];
const COUNT_OBJ_T: &[&str] =
    &["How many {NH} {Q}{R}?", "How many {NH} {Q}{R}?", "{D} some {NH}{R}. How many?", "What number of {NH} {Q}{R}?"];
const COUNT_SUBJ_T: &[&str] = &["How many {NH} {P}?", "How many {NH} {P}?"];
const COUNT_THERE_T: &[&str] = &["How many {NH} were there{R}?", "How many {NH} were there{R}?"];
const COUNT_ANY_T: &[&str] = &["How many {NH} does the text mention?", "How many {NH} are in the story?"];
const NAME_T: &[&str] = &[
    "What was {N}'s name?",
    "What was {N}'s name?",
    "What was {N} called?",
    "What is the name of {N}?",
    "What name did {N} have?",
    "{N} was named what?",
];
const SAID_T: &[&str] = &[
    "What did {S} {SAY}?",
    "What did {S} {SAY}?",
    "What were {SP} words?",
    "{S} {SAID} something. What was it?",
    "What words did {S} {SAY}?",
];
const SAID_TO_T: &[&str] = &["What did {S} {SAY} to {X}?"];
const WHO_SAID_T: &[&str] = &["Who said, \"{QUOTE}\"?", "Who {SAID} \"{QUOTE}\"?"];
const GAVE_WHAT_T: &[&str] = &[
    "What did {S} give {X}?",
    "What did {S} give to {X}?",
    "What did {X} get from {S}?",
    "{S} gave {X} something. What was it?",
];
const GAVE_WHO_T: &[&str] = &["Who did {S} give {O} to?", "Who got {O} from {S}?", "To whom did {S} give {O}?"];
const WITH_WHO_T: &[&str] = &["Who {Q}{R} with?", "Who {Q}{R} with?", "With whom {Q}{R}?", "{D}{R} with someone. Who?"];
const WITH_WHAT_T: &[&str] = &["What {Q}{R} with?", "With what {Q}{R}?", "{D}{R} with something. What was it?"];
const INF_T: &[&str] =
    &["What {Q} to do?", "What {Q} to do?", "What was it that {D} to do?", "{D} to do something. What?"];
const NOT_NAMED_T: &[&str] = &["What was the {N}'s name?", "What was the {N} called?", "What is the name of the {N}?"];
const WENT_T: &[&str] =
    &["Where did {S} go?", "Where did {S} go?", "Where was {S} going?", "What place did {S} go to?"];

/// Makes the questions of one window.
struct Maker<'w, 'a> {
    win: &'w Window<'a>,
    rng: ChaCha8Rng,
    out: Vec<Qa>,
    skips: Skips,
}

impl Maker<'_, '_> {
    fn push(&mut self, kind: Kind, question: String, answer: &str) {
        let answer = answer.trim().trim_end_matches([',', '.']).trim();
        if answer.is_empty() || question.len() > 300 {
            return;
        }
        if !self.win.context.contains(answer) {
            skip(&mut self.skips, "answer not in the context");
            return;
        }
        self.out.push(Qa { kind, question, answer: answer.to_string(), reason: None });
    }

    fn unknown(&mut self, reason: &'static str, question: String) {
        self.out.push(Qa {
            kind: Kind::Unanswerable,
            question,
            answer: UNKNOWN_ANSWER.to_string(),
            reason: Some(reason),
        });
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.gen_bool(p)
    }

    /// Now and then a synonym for one word of `phrase` (never in answers).
    fn vary(&mut self, phrase: &str) -> String {
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

    /// "a ball" -> "the ball", some of the time.
    fn definite(&mut self, phrase: &str) -> String {
        for a in ["a ", "an "] {
            if let Some(rest) = phrase.strip_prefix(a) {
                if self.chance(0.5) {
                    return format!("the {rest}");
                }
            }
        }
        phrase.to_string()
    }

    fn frame(&mut self, k: usize, subj: &Resolved) -> Option<Frame> {
        let st = &self.win.an.sents[k];
        let clause = self.win.an.clauses[k].as_ref()?;
        match &clause.pred {
            Pred::Act { aux, verb, vend, lemma, participle, .. } => {
                let surface = st.span(*verb, *vend);
                Some(match aux.filter(|&a| matches!(st.w(a), "was" | "were")) {
                    Some(a) => {
                        let be = st.w(a);
                        Frame {
                            subj: subj.text.clone(),
                            q: format!("{be} {} {surface}", subj.text),
                            d: format!("{} {be} {surface}", subj.text),
                            passive: None,
                        }
                    }
                    None => {
                        let mut verb_q = lemma.clone();
                        if let Some(syn) = words::verb_synonym(lemma) {
                            if self.chance(0.2) {
                                verb_q = syn.to_string();
                            }
                        }
                        let particle = lemma.split_once(' ').map(|(_, p)| format!(" {p}")).unwrap_or_default();
                        let had = aux.map(|a| format!("{} ", st.w(a))).unwrap_or_default();
                        Frame {
                            subj: subj.text.clone(),
                            q: format!("did {} {verb_q}", subj.text),
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
                    Some(Frame {
                        subj: subj.text.clone(),
                        q: format!("{verb} {}{adj}", subj.text),
                        d: format!("{} {verb}{adj}", subj.text),
                        passive: None,
                    })
                } else {
                    let lemma = words::irregular(verb)
                        .map(|(l, _)| l.to_string())
                        .or_else(|| words::base_form(verb, "ed", &|_| false))?;
                    Some(Frame {
                        subj: subj.text.clone(),
                        q: format!("did {} {lemma}{adj}", subj.text),
                        d: format!("{} {verb}{adj}", subj.text),
                        passive: None,
                    })
                }
            }
        }
    }

    /// The parts of an action other than `except`, as " the ball in the box".
    fn rest(&mut self, st: &Sent, parts: &[Part], except: Option<usize>) -> Option<String> {
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

    fn time_text(st: &Sent, (a, e): (usize, usize)) -> String {
        let t = st.span(a, e);
        if words::weekday(st.w(a + 1)) || words::month(st.w(a + 1)) || words::weekday(st.w(a)) {
            t.to_string()
        } else {
            t.to_lowercase()
        }
    }

    fn clause_questions(&mut self, k: usize) {
        let win = self.win;
        let st = &win.an.sents[k];
        let Some(clause) = win.an.clauses[k].as_ref() else { return };
        let Some(subj) = win.subj[k - win.a].clone() else {
            skip(&mut self.skips, "pronoun without a clear referent");
            return;
        };
        let Some(f) = self.frame(k, &subj) else { return };
        let sp = possessive(&subj.text);
        let time = clause.lead.or(clause.trail);
        match &clause.pred {
            Pred::Act { aux, verb, parts, lemma, .. } => {
                if !win.unique_act(k) {
                    skip(&mut self.skips, "another sentence could answer it");
                    return;
                }
                let base = lemma.split(' ').next().unwrap_or(lemma);
                let progressive = aux.is_some_and(|a| matches!(st.w(a), "was" | "were"));
                let pred_start = aux.unwrap_or(*verb);
                let pred = st.span(pred_start, clause.core_end);
                // who did it
                if let Some(answer) = subj.answer.as_deref() {
                    if !parts.is_empty()
                        && !parts.iter().any(|p| p.pron)
                        && win.count_in_context(pred) == 1
                        && !subj.plural
                    {
                        let pred_q = self.definite(pred);
                        let t = if clause.subj.animate {
                            pick(&mut self.rng, WHO_T)
                        } else {
                            pick(&mut self.rng, WHAT_SUBJ_T)
                        };
                        let kind = if clause.subj.animate { Kind::Who } else { Kind::What };
                        self.push(kind, fill(t, &[("{P}", &pred_q)]), answer);
                    }
                }
                // the object
                if let Some(i) = parts.iter().position(|p| p.kind == PartKind::Obj) {
                    let o = parts[i];
                    let skip_lemma =
                        matches!(base, "say" | "tell" | "think" | "know" | "ask" | "mean" | "become" | "feel");
                    if !o.pron && !skip_lemma && !parts.iter().any(|p| p.kind == PartKind::Recipient) {
                        if let Some(r) = self.rest(st, parts, Some(i)) {
                            let kind = Kind::of_lemma(base);
                            let answer = st.span(o.s, o.e);
                            let mut t =
                                if o.animate { pick(&mut self.rng, WHO_OBJ_T) } else { pick(&mut self.rng, WHAT_T) };
                            if f.passive.is_some() && !o.animate && self.chance(0.08) {
                                t = PASSIVE_T[0];
                            }
                            let passive = f.passive.clone().unwrap_or_default();
                            let q = fill(
                                t,
                                &[("{Q}", &f.q), ("{D}", &f.d), ("{R}", &r), ("{P}", &passive), ("{S}", &f.subj)],
                            );
                            self.push(kind, q, answer);
                        }
                    }
                }
                // the infinitive: "wanted to play"
                if let Some(p) = parts.iter().find(|p| p.kind == PartKind::Inf) {
                    let kind = if base == "want" { Kind::Wanted } else { Kind::What };
                    let full = st.span(p.s, p.e);
                    let bare = st.span(p.s + 1, p.e);
                    if base == "want" && self.chance(0.3) {
                        let t = pick(
                            &mut self.rng,
                            &["What {Q}?", "What was it that {D}?", "What {Q}, according to the text?"],
                        );
                        self.push(kind, fill(t, &[("{Q}", &f.q), ("{D}", &f.d)]), full);
                    } else {
                        let t = pick(&mut self.rng, INF_T);
                        self.push(kind, fill(t, &[("{Q}", &f.q), ("{D}", &f.d)]), bare);
                    }
                }
                // give: to whom and what
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
                // where
                if let Some(i) = parts.iter().position(|p| p.place) {
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
                            let t = pick(
                                &mut self.rng,
                                &["Where did {S} go?", "Where did {S} go?", "Where did {S} go {T}?"],
                            );
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
                            self.push(Kind::Where, fill(t, &[("{Q}", &f.q), ("{D}", &f.d), ("{R}", &r)]), whole);
                        }
                    }
                }
                // with whom / with what
                if let Some(i) = parts.iter().position(|p| p.kind == PartKind::Pp && st.w(p.s) == "with" && !p.pron) {
                    let p = parts[i];
                    if let Some(r) = self.rest(st, parts, Some(i)) {
                        let t =
                            if p.animate { pick(&mut self.rng, WITH_WHO_T) } else { pick(&mut self.rng, WITH_WHAT_T) };
                        self.push(
                            Kind::With,
                            fill(t, &[("{Q}", &f.q), ("{D}", &f.d), ("{R}", &r)]),
                            st.span(p.np, p.e),
                        );
                    }
                }
                // when, and what someone did then
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
                        let start = if aux.is_some() { *verb } else { pred_start };
                        let vp = st.span(start, clause.core_end);
                        let tpl = if progressive { pick(&mut self.rng, DO_PROG_T) } else { pick(&mut self.rng, DO_T) };
                        self.push(
                            Kind::Do,
                            fill(tpl, &[("{S}", &f.subj), ("{T}", &tt), ("{TC}", &upper_first(&tt))]),
                            vp,
                        );
                    }
                }
                // why
                if let Some((b, e)) = clause.because {
                    if let Some(r) = self.rest(st, parts, None) {
                        let t = pick(&mut self.rng, WHY_T);
                        self.push(Kind::Why, fill(t, &[("{Q}", &f.q), ("{D}", &f.d), ("{R}", &r)]), st.span(b, e));
                    }
                }
            }
            Pred::Be { place, feel, colour, adj, .. } => {
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
                let Some((a, e)) = *adj else { return };
                let adj_text = st.span(a, e);
                if *feel && win.unique_feel(k) {
                    let t = if time.is_some() && self.chance(0.4) {
                        pick(&mut self.rng, FEEL_TIME_T)
                    } else {
                        pick(&mut self.rng, FEEL_T)
                    };
                    let tt = time.map(|t| Self::time_text(st, t)).unwrap_or_default();
                    let was = if subj.plural { "were" } else { "was" };
                    self.push(
                        Kind::Feel,
                        fill(
                            t,
                            &[
                                ("{S}", &f.subj),
                                ("{WAS}", was),
                                ("{SP}", &sp),
                                ("{T}", &tt),
                                ("{TC}", &upper_first(&tt)),
                            ],
                        ),
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
                if !*feel && !*colour && clause.subj.animate && !clause.subj.there && self.chance(0.4) {
                    if let Some(answer) = subj.answer.as_deref() {
                        let pred = st.span(clause.subj.e, clause.core_end);
                        if win.count_in_context(pred) == 1 && !subj.plural {
                            let t = pick(&mut self.rng, &["Who {P}?", "Which character {P}?", "Who in the story {P}?"]);
                            self.push(Kind::Who, fill(t, &[("{P}", pred)]), answer);
                        }
                    }
                }
                if *colour && clause.subj.kind == SubjKind::Np && !clause.subj.there {
                    let noun = st.w(clause.subj.e - 1).to_string();
                    if win.unique_modifier(k, &noun, adj_text, false) {
                        let was = st.w(clause.subj.e).to_string();
                        let n = self.vary(&subj.text);
                        let t = pick(&mut self.rng, COLOUR_T);
                        self.push(Kind::Colour, fill(t, &[("{WAS}", &was), ("{N}", &n)]), adj_text);
                    }
                }
                if let Some((b, e)) = clause.because {
                    if (*feel || win.unique_feel(k)) && (!*feel || win.unique_feel(k)) {
                        let t = pick(&mut self.rng, WHY_T);
                        self.push(Kind::Why, fill(t, &[("{Q}", &f.q), ("{D}", &f.d), ("{R}", "")]), st.span(b, e));
                    }
                }
            }
        }
    }

    fn said_questions(&mut self, k: usize) {
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
                self.push(Kind::Said, fill(t, &[("{QUOTE}", quote), ("{SAID}", &said_word)]), answer);
                return;
            }
        }
        let t = match said.to {
            Some(_) if self.chance(0.5) => pick(&mut self.rng, SAID_TO_T),
            _ => pick(&mut self.rng, SAID_T),
        };
        let x = said.to.map(|(a, e)| lower_det(st.span(a, e))).unwrap_or_default();
        let q =
            fill(t, &[("{S}", &subj.text), ("{SP}", &sp), ("{SAY}", said.lemma), ("{SAID}", &said_word), ("{X}", &x)]);
        self.push(Kind::Said, q, quote);
    }

    fn extra_questions(&mut self, k: usize) {
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

    fn is_possessive(&self, st: &Sent, i: usize) -> bool {
        let raw = st.raw(i);
        raw.ends_with("'s") || raw.ends_with("’s")
    }

    /// When tokens `s..=head` are the object of sentence `k`'s clause: the
    /// question's inverted verb group and the rest of the verb phrase.
    fn object_frame(&mut self, k: usize, s: usize, head: usize) -> Option<(String, String)> {
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
    fn unanswerable(&mut self) {
        let win = self.win;
        let an = win.an;
        let mut options: Vec<u8> = vec![0, 1, 2, 3];
        options.shuffle(&mut self.rng);
        for option in options {
            let before = self.out.len();
            match option {
                0 if !win.has_colour() => {
                    // the colour of a thing the passage names but never colours
                    let nouns: Vec<String> = (win.a..win.b)
                        .filter_map(|k| an.clauses[k].as_ref().map(|c| (k, c)))
                        .flat_map(|(k, c)| {
                            let st = &an.sents[k];
                            let mut v = Vec::new();
                            if let Pred::Act { parts, .. } = &c.pred {
                                for p in parts.iter().filter(|p| p.kind == PartKind::Obj && !p.pron && !p.animate) {
                                    if words::determiner(st.w(p.s)) && p.e - p.s == 2 {
                                        v.push(st.w(p.e - 1).to_string());
                                    }
                                }
                            }
                            v
                        })
                        .filter(|n| {
                            n.len() > 2 && !words::plural(n) && !words::function_word(n) && !words::abstract_noun(n)
                        })
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

fn possessive(s: &str) -> String {
    match s {
        "he" => "his".into(),
        "she" => "her".into(),
        "they" => "their".into(),
        _ if s.ends_with('s') => format!("{s}'"),
        _ => format!("{s}'s"),
    }
}

/// "The dog" -> "the dog" (a name keeps its capital).
fn lower_det(np: &str) -> String {
    match np.split_once(' ') {
        Some((first, _)) if words::determiner(&first.to_lowercase()) => lower_first(np),
        _ => np.to_string(),
    }
}

/// Casual typing, a lead-in or a dropped question mark, now and then.
fn casual(rng: &mut ChaCha8Rng, q: String) -> String {
    let roll: f64 = rng.gen();
    let starts_wh = q.split(' ').next().is_some_and(|w| {
        matches!(
            w,
            "What"
                | "Who"
                | "Where"
                | "When"
                | "Why"
                | "How"
                | "Which"
                | "Whom"
                | "Tell"
                | "Can"
                | "For"
                | "To"
                | "In"
                | "With"
                | "At"
        )
    });
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
            maker.said_questions(k);
            maker.extra_questions(k);
        }
        let mut answerable = std::mem::take(&mut maker.out);
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
            let at = rng.gen_range(0..=qas.len());
            qas.insert(at, u);
        }
        for qa in &qas {
            asked.insert((qa.question.clone(), qa.answer.clone()));
        }
        for qa in &mut qas {
            qa.question = casual(rng, std::mem::take(&mut qa.question));
        }
        while qas.len() > 1 && conversation_bytes(&win.context, &qas) > MAX_CONVERSATION_BYTES {
            qas.pop();
            skip(skips, "conversation over 1500 bytes");
        }
        if conversation_bytes(&win.context, &qas) > MAX_CONVERSATION_BYTES {
            skip(skips, "conversation over 1500 bytes");
            return;
        }
        out.push(Candidate { doc, context: win.context.clone(), qas, found });
    }
}

/// How much a window prefers a kind when it picks its questions: the kinds
/// every sentence gives (who, what) least, the rare ones most.
fn preference(kind: Kind) -> f64 {
    match kind {
        Kind::Who | Kind::What => 1.0,
        Kind::Colour | Kind::Name | Kind::HowMany | Kind::Where | Kind::Feel => 2.0,
        _ => 4.0,
    }
}

/// 1 to 4 questions, different kinds first (rare kinds more often), no
/// question twice.
fn choose_questions(rng: &mut ChaCha8Rng, all: Vec<Qa>) -> Vec<Qa> {
    let mut keyed: Vec<(f64, Qa)> =
        all.into_iter().map(|q| (rng.gen::<f64>().powf(1.0 / preference(q.kind)), q)).collect();
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
    let mut splits: BTreeMap<Split, Vec<Conversation>> = Split::ALL.iter().map(|&s| (s, Vec::new())).collect();
    for c in convs {
        splits.entry(split_of(docs[c.doc])).or_default().push(c.conversation);
    }
    report.splits = splits.iter().map(|(s, v)| (s.as_str().to_string(), v.len())).collect();
    Converted {
        source: SOURCE.into(),
        splits: splits.into_iter().collect(),
        skipped: report.skipped.iter().map(|(k, v)| (k.clone(), *v)).collect(),
        notes,
    }
}

// ---------------------------------------------------------------------------
// Files

#[derive(Debug, thiserror::Error)]
pub enum RcError {
    #[error(
        "{path} does not exist: make the prepared corpus first (`fledge speedrun --preset reference --until corpus` \
         writes runs/speedrun-reference/data; or `fledge data prepare --recipe recipes/default.toml --out DIR`), \
         or pass --corpus the folder that holds train.jsonl"
    )]
    MissingCorpus { path: String },
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{path}:{line}: {message}")]
    BadLine { path: String, line: usize, message: String },
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

#[derive(serde::Deserialize)]
struct CorpusLine {
    text: String,
    #[serde(default)]
    source: Option<String>,
}

/// Reads the training split of a prepared corpus (`corpus/train.jsonl`; never
/// val.jsonl): each document's text and source name.
pub fn read_corpus(corpus: &Path) -> Result<Vec<(String, Option<String>)>, RcError> {
    let path = corpus.join("train.jsonl");
    if !path.is_file() {
        return Err(RcError::MissingCorpus { path: path.display().to_string() });
    }
    let text =
        std::fs::read_to_string(&path).map_err(|e| RcError::Read { path: path.display().to_string(), source: e })?;
    let mut docs = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let doc: CorpusLine = serde_json::from_str(line).map_err(|e| RcError::BadLine {
            path: path.display().to_string(),
            line: i + 1,
            message: format!("not a corpus document ({e}); expected {{\"text\": ..., \"source\": ...}}"),
        })?;
        docs.push((doc.text, doc.source));
    }
    Ok(docs)
}

/// The licenses of the corpus's sources (from its report.json), limited to
/// the sources named in `used` when that is not empty.
fn corpus_licenses(corpus: &Path, used: &HashSet<String>) -> Vec<SourceLicense> {
    let Ok(text) = std::fs::read_to_string(corpus.join("report.json")) else { return Vec::new() };
    let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) else { return Vec::new() };
    let sources = value.get("sources").and_then(|s| s.as_array()).cloned().unwrap_or_default();
    sources
        .iter()
        .filter_map(|s| serde_json::from_value::<SourceLicense>(s.get("license")?.clone()).ok())
        .filter(|l| used.is_empty() || used.contains(&l.source))
        .collect()
}

/// `fledge data rc`: reads `corpus/train.jsonl`, writes
/// `out/rc/{train,val,test}.jsonl`, `report.json` and `rc-report.json`.
pub fn run(corpus: &Path, out: &Path, seed: u64, max_questions: usize) -> Result<RcRun, RcError> {
    let start = std::time::Instant::now();
    let docs = read_corpus(corpus)?;
    let texts: Vec<&str> = docs.iter().map(|(t, _)| t.as_str()).collect();
    let (convs, mut report) = make_rc(&texts, seed, max_questions);
    let used: HashSet<String> = convs.iter().filter_map(|c| docs[c.doc].1.clone()).collect();
    let licenses = corpus_licenses(corpus, &used);
    let mut notes = vec![format!(
        "reading-comprehension questions made by fledge (seed {seed}) from the training split of the prepared corpus {}; \
         contexts are verbatim passages, so the text keeps the licenses of its sources",
        corpus.join("train.jsonl").display()
    )];
    if licenses.is_empty() {
        notes.push(format!(
            "no licenses found in {}; check the corpus's sources' terms",
            corpus.join("report.json").display()
        ));
    }
    let converted = to_converted(&texts, convs, &mut report, notes);
    report.seconds = start.elapsed().as_secs_f64();
    let mut written = convert::write_with_licenses(&converted, out, &licenses)?;
    let path = out.join(SOURCE).join("rc-report.json");
    let mut json = serde_json::to_string_pretty(&report).expect("the report serializes");
    json.push('\n');
    crate::fsutil::write_atomic(&path, json.as_bytes())
        .map_err(|e| RcError::WriteReport { path: path.display().to_string(), source: e })?;
    written.push(path);
    Ok(RcRun { report, written })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

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
                    other => panic!("unknown reason {other}"),
                }
                *reasons.entry(reason).or_insert(0) += 1;
            }
        }
        assert!(reasons.len() >= 3, "{reasons:?}");
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
                assert!(pair[1].content == UNKNOWN_ANSWER || m[0].content.contains(&pair[1].content), "{m:?}");
            }
            assert!(conversation_bytes(&m[0].content, &[]) < MAX_CONVERSATION_BYTES);
        }
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
        let err = read_corpus(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("train.jsonl") && err.contains("fledge data prepare") && err.contains("--until corpus"),
            "{err}"
        );
        std::fs::write(dir.path().join("train.jsonl"), "{\"text\": \"Tom ran.\", \"source\": \"s\"}\n[1, 2]\n")
            .unwrap();
        let err = read_corpus(dir.path()).unwrap_err().to_string();
        assert!(err.contains("train.jsonl:2"), "{err}");
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
        let license = |source: &str, id: &str| serde_json::json!({"source": source, "license": id, "terms": {"name": id, "url": ""}, "credit": format!("{source} authors")});
        let report = serde_json::json!({"sources": [{"name": "stories", "license": license("stories", "CC-BY-4.0")}, {"name": "more", "license": license("more", "public-domain")}, {"name": "unused", "license": license("unused", "MIT")}]});
        std::fs::write(corpus.join("report.json"), report.to_string()).unwrap();
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
                    prop_assert!(pair[1].content == UNKNOWN_ANSWER || m[0].content.contains(&pair[1].content));
                }
            }
        }
    }
}
