//! Sentences, tokens and the parse of a sentence into the facts questions
//! are made from: a clause (time phrase, subject, verb group, objects and
//! phrases, because-clause), a line of dialogue, and colours, numbers and
//! names before nouns anywhere.

use std::collections::{HashMap, HashSet};

use super::words;
use super::{skip, Skips};

#[derive(Debug, Clone, Copy)]
pub struct Tok {
    pub s: usize,
    pub e: usize,
    pub word: bool,
}

/// Words (letters and digits, with inner apostrophes and hyphens) and single
/// punctuation characters, as byte spans.
pub fn tokenize(text: &str) -> Vec<Tok> {
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

pub fn is_quote(c: char) -> bool {
    matches!(c, '"' | '“' | '”' | '‘')
}

/// Splits a paragraph into sentences: after `.`, `!` or `?` (and closing
/// quotes) before a capital, but not inside a quotation or after "Mr.".
pub fn split_sentences(para: &str) -> Vec<&str> {
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

pub fn abbreviation(before: &str) -> bool {
    let last = before.rsplit(|c: char| !c.is_alphanumeric()).next().unwrap_or("");
    matches!(last, "Mr" | "Mrs" | "Ms" | "Dr" | "St" | "Mt" | "Jr" | "Sr" | "Prof" | "vs" | "etc")
        || (last.chars().count() == 1 && last.chars().all(char::is_uppercase))
}

#[derive(Debug)]
pub struct Sent {
    /// The sentence with runs of whitespace made one space.
    pub text: String,
    pub para: usize,
    /// Which story of the document (some documents hold several).
    pub story: usize,
    pub words: usize,
    pub toks: Vec<Tok>,
    pub low: Vec<String>,
    pub quotes: bool,
}

impl Sent {
    pub fn new(text: &str, para: usize) -> Sent {
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let toks = tokenize(&text);
        let low = toks.iter().map(|t| text[t.s..t.e].to_lowercase()).collect();
        let quotes = text.chars().any(is_quote) || text.contains(" '") || text.starts_with('\'');
        let words = text.split(' ').count();
        Sent { text, para, story: 0, words, toks, low, quotes }
    }

    pub fn w(&self, i: usize) -> &str {
        self.low.get(i).map_or("", String::as_str)
    }

    pub fn raw(&self, i: usize) -> &str {
        self.toks.get(i).map_or("", |t| &self.text[t.s..t.e])
    }

    pub fn is_word(&self, i: usize) -> bool {
        self.toks.get(i).is_some_and(|t| t.word)
    }

    pub fn lower_word(&self, i: usize) -> bool {
        self.is_word(i) && self.raw(i).chars().next().is_some_and(|c| !c.is_uppercase())
    }

    pub fn cap(&self, i: usize) -> bool {
        self.is_word(i) && self.raw(i).chars().next().is_some_and(char::is_uppercase)
    }

    /// The text of tokens `a..b`, as written.
    pub fn span(&self, a: usize, b: usize) -> &str {
        if a >= b || b > self.toks.len() {
            return "";
        }
        &self.text[self.toks[a].s..self.toks[b - 1].e]
    }

    pub fn has(&self, w: &str) -> bool {
        self.low.iter().any(|x| x == w)
    }
}

/// Paragraphs (lines; a line that does not end a sentence continues on the
/// next) split into sentences.
pub fn sentences(doc: &str) -> Vec<Sent> {
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

/// Consecutive sentences as one passage: a space within a paragraph, a line
/// break between paragraphs.
pub fn passage(sents: &[Sent]) -> String {
    let mut text = String::new();
    for (k, st) in sents.iter().enumerate() {
        if k > 0 {
            text.push(if st.para == sents[k - 1].para { ' ' } else { '\n' });
        }
        text.push_str(&st.text);
    }
    text
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NpKind {
    Name,
    Pron,
    Det,
    Bare,
}

#[derive(Debug, Clone, Copy)]
pub struct Np {
    pub s: usize,
    pub e: usize,
    pub kind: NpKind,
    pub animate: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubjKind {
    Name,
    Pron,
    Np,
}

#[derive(Debug, Clone, Copy)]
pub struct Subject {
    pub s: usize,
    pub e: usize,
    pub kind: SubjKind,
    pub animate: bool,
    /// "there was a cat in the tree": the subject is the noun phrase.
    pub there: bool,
    /// "a little girl named Lily": where the name starts.
    pub named: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartKind {
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
pub struct Part {
    pub s: usize,
    pub e: usize,
    pub np: usize,
    pub kind: PartKind,
    pub animate: bool,
    pub pron: bool,
    pub place: bool,
}

#[derive(Debug, Clone)]
pub enum Pred {
    /// A verb with what follows; `aux` is "was"/"were" of a progressive.
    Act { aux: Option<usize>, verb: usize, vend: usize, lemma: String, participle: Option<String>, parts: Vec<Part> },
    /// "was"/"were" or a linking verb ("felt") with an adjective or a place.
    Be { be: usize, adj: Option<(usize, usize)>, place: Option<Part>, feel: bool, colour: bool },
}

#[derive(Debug, Clone)]
pub struct Clause {
    pub lead: Option<(usize, usize)>,
    pub subj: Subject,
    pub pred: Pred,
    pub core_end: usize,
    pub trail: Option<(usize, usize)>,
    pub because: Option<(usize, usize)>,
}

/// "Tim was tired, so he went home." and "Tim was so tired that he went
/// home.": the cause before ", so" (or up to "that") and the effect after
/// it, parsed as a sentence of its own, for a why-question whose answer is
/// the cause.
#[derive(Debug)]
pub struct SoCause {
    /// Token span of the cause in its sentence, from its subject to the comma
    /// (or to "that", keeping "so tired").
    pub cause: (usize, usize),
    pub cause_subj: Subject,
    /// The effect alone: "He went home."
    pub effect: Sent,
    pub effect_subj: Subject,
    /// The effect's verb in `effect` and its base form ("be" for was/were).
    pub verb: usize,
    pub lemma: String,
    /// Where the effect's first verb phrase ends (before "and" and another
    /// verb, a comma or a conjunction).
    pub end: usize,
}

/// Dialogue: `"...," said Tom.`, `Tom said, "..."`.
#[derive(Debug, Clone)]
pub struct Said {
    pub speaker: Subject,
    pub verb: usize,
    pub lemma: &'static str,
    /// Byte span of the quotation (without the closing comma or period).
    pub quote: (usize, usize),
    pub to: Option<(usize, usize)>,
}

#[derive(Debug, Clone, Copy)]
pub enum Extra {
    /// A colour before a noun: "a big red ball".
    Colour { s: usize, det: bool, colour: usize, head: usize },
    /// A number before a noun: "three apples".
    Count { num: usize, head: usize },
    /// "a little girl named Lily".
    Named { s: usize, head: usize, name: (usize, usize) },
}

pub struct Parser<'a> {
    pub st: &'a Sent,
    pub names: &'a HashSet<String>,
    pub known: &'a dyn Fn(&str) -> bool,
}

pub const BOUNDARY: &[&str] = &[
    ".", "!", ",", "and", "but", "so", "when", "while", "until", "then", "as", "that", "who", "which", "where",
    "before", "after", "or", "because", ";", ":", "to",
];

impl Parser<'_> {
    pub fn w(&self, i: usize) -> &str {
        self.st.w(i)
    }

    /// A name ("Lily", "Mr. Brown") starting at `i`: its end.
    pub fn name_at(&self, i: usize) -> Option<usize> {
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

    /// Where a name after "named" or "called" ends that goes on in capitals
    /// ("a 2007 artwork called Wet Dog", "a boat called Silver Swan"): the
    /// name's end `e`, moved past the capitalised words that follow it, up
    /// to `limit`.
    fn name_run_end(&self, mut e: usize, limit: usize) -> usize {
        while e < limit && self.st.cap(e) && !words::not_a_name(self.st.raw(e)) && self.st.raw(e) != "I" {
            e += 1;
        }
        e
    }

    /// A possessive of a name ("Lily's").
    pub fn possessive_name(&self, i: usize) -> bool {
        let raw = self.st.raw(i);
        let base = raw.strip_suffix("'s").or_else(|| raw.strip_suffix("’s"));
        base.is_some_and(|b| self.names.contains(b))
    }

    /// A word that can be part of a noun phrase after its determiner.
    pub fn np_word(&self, i: usize, count: usize) -> bool {
        let w = self.w(i);
        self.st.lower_word(i)
            && !words::function_word(w)
            && words::irregular(w).is_none()
            && !matches!(w, "named" | "called")
            && !(count >= 1 && w.ends_with("ing") && !words::ing_noun(w))
    }

    pub fn past(&self, i: usize) -> Option<(String, Option<String>)> {
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
    pub fn np(&self, i: usize, bare: bool, coord: bool, subject: bool) -> Option<Np> {
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
        if words::object_pronoun(w) || (w == "her" && !self.np_word(i + 1, 0)) {
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
            // "the dog barked", "a bowl filled with ..."
            let participle = self.past(j).is_some() && (subject || words::preposition(self.w(j + 1)));
            if count >= 1 && participle {
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
    pub fn time_at(&self, i: usize) -> Option<usize> {
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

    pub fn subject(&self, i: usize) -> Option<Subject> {
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
        if words::not_a_subject_start(w) {
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
    pub fn clause(&self) -> Result<Clause, &'static str> {
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

    /// Where a clause's subject starts, past discourse words ("Then,",
    /// "Once upon a time") and a leading time phrase, and that phrase.
    pub fn clause_start(&self) -> (usize, Option<(usize, usize)>) {
        let skip_discourse = |mut i: usize| loop {
            let w = self.w(i);
            let k = if words::discourse(w) {
                i + 1
            } else if w == "once" && self.w(i + 1) == "upon" && self.w(i + 2) == "a" && self.w(i + 3) == "time" {
                i + 4
            } else if w == "once" && self.w(i + 1) == "there" {
                i + 1
            } else if words::lead_opener(w) && self.time_at(i).is_none() {
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
        let mut i = skip_discourse(0);
        let lead = self.time_at(i).map(|e| (i, e));
        if let Some((_, e)) = lead {
            i = if self.w(e) == "," { e + 1 } else { e };
            i = skip_discourse(i);
        }
        (i, lead)
    }

    pub fn clause_unchecked(&self) -> Result<Clause, &'static str> {
        let (mut i, lead) = self.clause_start();
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
        if words::pre_verb_adverb(self.w(i))
            || (self.w(i).ends_with("ly") && self.st.lower_word(i) && self.past(i + 1).is_some())
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
    pub fn adjective_at(&self, i: usize) -> Option<(usize, usize)> {
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

    pub fn be_clause(&self, lead: Option<(usize, usize)>, subj: Subject, be: usize) -> Result<Clause, &'static str> {
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

    pub fn act_clause(
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

    pub fn np_part(&self, np: Np, kind: PartKind) -> Part {
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
    pub fn tail(
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
            if words::clause_adverb(w)
                || (w.ends_with("ly") && self.st.lower_word(j) && !words::function_word(w) && w.len() > 4)
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

    /// The sentence as a cause, ", so", and an effect, or None. The cause
    /// needs only a subject ("Tim did not want to share, so ..."); the
    /// effect is read only as far as its subject and its past-tense verb
    /// (or "was" and an adjective), and what follows up to the next clause.
    pub fn so_cause(&self) -> Option<SoCause> {
        let st = self.st;
        let n = st.toks.len();
        if st.quotes || n < 6 || !matches!(st.raw(n - 1), "." | "!") {
            return None;
        }
        // ", so" ends the cause; in "so tired that" the cause keeps "so tired"
        let comma_so = |c: usize| self.w(c) == "," && self.w(c + 1) == "so";
        let so_that = |c: usize| {
            c > 0
                && self.w(c - 1) == "so"
                && st.lower_word(c)
                && self.w(c + 1) == "that"
                && !words::function_word(self.w(c))
        };
        let mut at = (0..n).filter_map(|c| {
            if comma_so(c) {
                Some((c, c + 2))
            } else if so_that(c) {
                Some((c + 1, c + 2))
            } else {
                None
            }
        });
        let ((c, effect_start), None) = (at.next()?, at.next()) else { return None };
        if effect_start >= n {
            return None;
        }
        let (i, _) = self.clause_start();
        let cause_subj = self.subject(i)?;
        if cause_subj.there || cause_subj.e + 1 >= c || c - i > 16 || (i..c).any(|k| self.w(k) == ",") {
            return None;
        }
        let effect = Sent::new(&crate::data::case::upper_first(&st.text[st.toks[effect_start].s..]), st.para);
        let fx = Parser { st: &effect, names: self.names, known: self.known };
        let m = effect.toks.len();
        let refused = |w: &str| matches!(w, "not" | "never" | "that" | "because" | "if") || w.ends_with("n't");
        if m > 24 || (0..m).any(|k| refused(fx.w(k))) {
            return None;
        }
        let effect_subj = fx.subject(0)?;
        let verb = effect_subj.e;
        if effect_subj.there || !matches!(effect_subj.kind, SubjKind::Name | SubjKind::Pron | SubjKind::Np) {
            return None;
        }
        let lemma = if matches!(fx.w(verb), "was" | "were") {
            fx.adjective_at(verb + 1)?;
            "be".to_string()
        } else {
            let (lemma, _) = fx.past(verb)?;
            // "so she had to go" asks well; "so he had eaten" and "so she did" do not
            let to_have = lemma == "have" && !matches!(fx.w(verb + 1), "to" | "a" | "an" | "the" | "some" | "fun");
            if lemma == "do" || lemma == "be" || to_have {
                return None;
            }
            lemma
        };
        let stop = |k: usize| {
            let w = fx.w(k);
            // not "." or "!": the effect's own tokens split "Dr." and "Mrs."
            matches!(w, "," | "but" | "then" | "when" | "while" | "until" | "so" | "as" | "before" | "after" | "or")
                || (w == "and"
                    && (fx.past(k + 1).is_some() || matches!(fx.w(k + 1), "he" | "she" | "they" | "it" | "then")))
        };
        let end = (verb + 1..m).find(|&k| stop(k)).unwrap_or(m - 1);
        Some(SoCause { cause: (cause_subj.s, c), cause_subj, effect, effect_subj, verb, lemma, end })
    }

    pub fn said(&self) -> Option<Said> {
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

    pub fn extras(&self) -> Vec<Extra> {
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
                while count < 3
                    && self.np_word(m, count)
                    && !words::colour(self.w(m))
                    && (count == 0 || self.past(m).is_none())
                {
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
                while count < 3 && self.np_word(m, count) && (count == 0 || self.past(m).is_none()) {
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
            // "She named the puppy Fluffy.", "We called our snowman Mister Pebble."
            let owner = matches!(self.w(k + 1), "the" | "her" | "his" | "their" | "my" | "our" | "its" | "your");
            if matches!(w, "named" | "called") && st.lower_word(k) && owner {
                let mut m = k + 2;
                while m < k + 5 && self.np_word(m, m - k - 2) {
                    m += 1;
                }
                if let Some(e) = self.name_at(m).filter(|_| m > k + 2) {
                    out.push(Extra::Named { s: k + 1, head: m - 1, name: (m, e) });
                    continue;
                }
            }
            if matches!(w, "named" | "called") && k >= 2 && self.np_word(k - 1, 1) {
                let Some(e) = self.name_at(k + 1).map(|e| self.name_run_end(e, k + 4)) else { continue };
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

pub struct Analysed {
    pub sents: Vec<Sent>,
    pub names: HashSet<String>,
    pub gender: HashMap<String, char>,
    pub clauses: Vec<Option<Clause>>,
    pub said: Vec<Option<Said>>,
    /// Each sentence's cause and effect around ", so", if it has them.
    pub so: Vec<Option<SoCause>>,
    pub extras: Vec<Vec<Extra>>,
}

impl Analysed {
    /// A character's gender as the story tells it ("a girl named Pim", "his"
    /// or "her" beside the name), else as the common given names do.
    pub fn gender_of(&self, name: &str) -> Option<char> {
        self.gender.get(name).copied().or_else(|| words::gender_of_name(name))
    }
}

/// Capitalised words used as names: seen capitalised inside a sentence and
/// never in lower case, or after "named"/"called".
pub fn find_names(sents: &[Sent]) -> HashSet<String> {
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

pub fn analyse(doc: &str, known: &dyn Fn(&str) -> bool, skips: &mut Skips) -> Analysed {
    let sents = sentences(doc);
    let names = find_names(&sents);
    let mut clauses = Vec::with_capacity(sents.len());
    let mut said = Vec::with_capacity(sents.len());
    let mut extras = Vec::with_capacity(sents.len());
    let mut so = Vec::with_capacity(sents.len());
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
        so.push(p.so_cause());
        let ex = p.extras();
        for e in &ex {
            if let Extra::Named { head, name, .. } = *e {
                if let Some(g) = words::gender_of_noun(st.w(head)) {
                    gender.insert(st.span(name.0, name.1).to_string(), g);
                }
            }
        }
        // "Mary reached the end of her ...": a named subject with one kind of possessive
        if let Some(c) = clauses.last().and_then(|c| c.as_ref()).filter(|c| c.subj.kind == SubjKind::Name) {
            let name = st.span(c.subj.s, c.subj.e).to_string();
            let (his, her) = (st.has("his") || st.has("himself"), st.has("her") || st.has("herself"));
            if his != her && !name.contains(' ') {
                let g = if his { 'm' } else { 'f' };
                let seen = gender.entry(name).or_insert(g);
                if *seen != g {
                    *seen = '?';
                }
            }
        }
        extras.push(ex);
    }
    Analysed { sents, names, gender, clauses, said, so, extras }
}
