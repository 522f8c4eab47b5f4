//! Story requests made from the corpus's own stories: "Tell me a story about
//! a dragon." answered with a story about a dragon.
//!
//! A chat model tuned only on QA and chit-chat answers "Tell me a story" with
//! chit-chat. These conversations teach the request → story mapping with
//! stories the model already knows how to write (the pretraining ones), so
//! the request is all that is new. The subject words of each request are
//! taken from its story, so the story is about what was asked.
//!
//! Kinds (counted in the report): `about` (a story about one or two things),
//! `learns` (a story where someone learns to ...; only from stories that say
//! so), `continue` (the opening given, the rest of the story answered),
//! `starts` (a first sentence given, the story that begins with it answered
//! whole), `title` (a story given, a title made from its subject answered),
//! `swapped` (a story retold with another animal or name for its hero, and
//! a request that names it).
//!
//! Rule-based, like the reading-comprehension data: the stories are simple and the rules
//! small, and no model is needed to make the data a model learns from.

mod swap;

use std::collections::HashMap;

use std::path::Path;

use serde::Serialize;

use super::convert::{self, Converted, Split};
use super::template::{Conversation, Message, Role};
use crate::data::case::upper_first;
use crate::data::dedup::{fnv1a, mix64};

/// The set's name under the chat data folder.
pub const SOURCE: &str = "stories";

#[derive(Debug, thiserror::Error)]
pub enum StoriesError {
    #[error(transparent)]
    Corpus(#[from] crate::data::DataError),
    #[error("{corpus}: no training document comes from a source named {prefix}*; pass the name of the corpus's story source")]
    NoStories { corpus: String, prefix: String },
    #[error("{path}: {message}")]
    Report { path: String, message: String },
    #[error(transparent)]
    Write(#[from] convert::ConvertError),
}

/// `fledge data stories`: reads the training documents of the prepared
/// `corpus` whose source name starts with `prefix`, makes the requests, and
/// writes `out/stories/{train,val,test}.jsonl` (2% val, 2% test, by a hash
/// of the story), `report.json` with the stories' license, and
/// `stories-report.json`. Returns the report and the split sizes.
pub fn run(corpus: &Path, out: &Path, seed: u64, prefix: &str) -> Result<(StoryReport, [usize; 3]), StoriesError> {
    let docs = crate::data::prepare::read_training_documents(corpus)?;
    let texts: Vec<&str> = docs.iter().filter(|d| d.source.starts_with(prefix)).map(|d| d.text.as_str()).collect();
    if texts.is_empty() {
        return Err(StoriesError::NoStories { corpus: corpus.display().to_string(), prefix: prefix.into() });
    }
    let license = crate::data::prepare::read_source_licenses(corpus)?
        .into_iter()
        .find(|l| l.source.starts_with(prefix))
        .map(|mut l| {
            l.source = SOURCE.into();
            l.credit = format!("requests made by fledge for the stories of {}", l.credit);
            l
        });
    let (convs, report) = requests_by_story(&texts, seed);
    let (mut train, mut val, mut test) = (Vec::new(), Vec::new(), Vec::new());
    // Split by story, so that no story is answered in training and asked for
    // in validation or test in another form.
    for (story, c) in convs {
        match mix64(fnv1a(texts[story].trim().as_bytes()) ^ seed) % 100 {
            0..=1 => val.push(c),
            2..=3 => test.push(c),
            _ => train.push(c),
        }
    }
    let converted = Converted {
        source: SOURCE.into(),
        splits: vec![(Split::Train, train), (Split::Val, val), (Split::Test, test)],
        skipped: report.skipped.clone(),
        notes: vec![format!(
            "{} training documents of {} ({prefix}*), {} used; kinds: {}",
            report.documents,
            corpus.display(),
            report.used,
            report.kinds.iter().map(|(k, n)| format!("{k} {n}")).collect::<Vec<_>>().join(", ")
        )],
    };
    convert::write_with_license(&converted, out, license)?;
    let path = out.join(SOURCE).join("stories-report.json");
    crate::fsutil::write_json_atomic(&path, &report)
        .map_err(|e| StoriesError::Report { path: path.display().to_string(), message: e.to_string() })?;
    Ok((report, Split::ALL.map(|s| converted.split(s).len())))
}

/// Stories shorter or longer than this (in words) are not used: a short
/// one is not much of a story, a long one does not fit a 512-token window
/// with its request.
pub const STORY_WORDS: std::ops::RangeInclusive<usize> = 60..=260;

/// Words that never make a subject, though they follow "a" or "the" often.
const NOT_SUBJECTS: &[&str] = &[
    "day",
    "time",
    "lot",
    "way",
    "end",
    "next",
    "other",
    "same",
    "first",
    "last",
    "best",
    "little",
    "big",
    "new",
    "old",
    "very",
    "most",
    "bit",
    "few",
    "morning",
    "night",
    "moment",
    "while",
    "good",
    "great",
    "thing",
    "things",
    "one",
    "two",
    "whole",
    "rest",
    "top",
    "bottom",
    "side",
    "middle",
    "kind",
    "idea",
    "sound",
    "way",
    "place",
    "right",
    "left",
    "back",
    "front",
    "long",
    "small",
    "only",
    "sun",
    "happy",
    "sad",
    "nice",
    "beautiful",
    "special",
    "man",
    "woman",
    "boy",
    "girl",
    "mom",
    "dad",
    "mum",
    "mother",
    "father",
    "lesson",
    "story",
    "fun",
    "help",
    "play",
    "look",
    "walk",
    "hug",
    "smile",
    "try",
    "turn",
    "bite",
    "work",
    "jump",
    "kiss",
    "wave",
    "run",
];

/// The nouns a story can be about: the words that follow "a", "an" or "the"
/// most often in `docs` (lower-case, letters only), minus `NOT_SUBJECTS`
/// and minus adjectives. An adjective there is mostly followed by its noun
/// ("a naughty dog"); a noun by punctuation or a small word ("the dog was",
/// "a dog."), so a word counts as a noun when that happens at least half
/// of the time.
pub fn subject_vocabulary(docs: &[&str], size: usize) -> Vec<String> {
    const AFTER_NOUN: &[&str] = &[
        "is", "was", "and", "to", "in", "on", "with", "that", "who", "of", "had", "has", "said", "for", "at", "but",
        "from", "could", "would", "did", "went", "saw", "were", "are", "he", "she", "they", "it", "too", "again",
    ];
    let mut counts: HashMap<String, (usize, usize)> = HashMap::new();
    for doc in docs {
        let words: Vec<&str> = doc.split_whitespace().collect();
        for (i, pair) in words.windows(2).enumerate() {
            if matches!(pair[0], "a" | "an" | "the" | "A" | "An" | "The") {
                let w = pair[1].trim_end_matches(|c: char| !c.is_alphabetic());
                if w.len() >= 3 && w.chars().all(|c| c.is_ascii_lowercase()) && !NOT_SUBJECTS.contains(&w) {
                    let ends = w.len() < pair[1].len();
                    let next = words.get(i + 2).map(|n| n.to_lowercase());
                    let noun_like = ends || next.map_or(true, |n| AFTER_NOUN.contains(&n.as_str()));
                    let c = counts.entry(w.to_string()).or_default();
                    c.0 += 1;
                    c.1 += usize::from(noun_like);
                }
            }
        }
    }
    // A word seldom used after a determiner is mostly not a noun: "saw"
    // ("a saw" now and then, "she saw" far more often), "outside", "love".
    // Requests count every use of a subject in a story, so such a word would
    // make "a story about a saw" of any story that says "saw" twice.
    let mut uses: HashMap<&str, (usize, usize)> = counts.keys().map(|w| (w.as_str(), (0, 0))).collect();
    for doc in docs {
        let mut det = false;
        for raw in doc.split_whitespace() {
            let w = raw.trim_matches(|c: char| !c.is_alphabetic());
            if let Some(u) = uses.get_mut(w) {
                u.0 += 1;
                u.1 += usize::from(det);
            }
            det = DETERMINERS.iter().any(|d| raw.eq_ignore_ascii_case(d));
        }
    }
    // One use in twelve after a determiner keeps the nouns often said bare
    // ("home", "school", "dinner"); "saw" has one in two hundred, "outside"
    // and "love" under one in fifteen. Plurals are often bare and seldom verbs.
    let plural = |w: &str| w.ends_with('s') && !w.ends_with("ss");
    let determined = |w: &str| plural(w) || uses.get(w).is_some_and(|&(all, det)| 12 * det >= all);
    let mut ranked: Vec<(String, usize)> = counts
        .iter()
        .filter(|(w, (n, noun))| 2 * noun >= *n && determined(w))
        .map(|(w, (n, _))| (w.clone(), *n))
        .collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked.into_iter().take(size).map(|(w, _)| w).collect()
}

/// Words that come before a noun (lower case, as written before it).
const DETERMINERS: &[&str] =
    &["a", "an", "the", "his", "her", "my", "your", "their", "its", "our", "some", "this", "big", "little"];

/// How many conversations of each kind, and why stories were passed over.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StoryReport {
    pub documents: usize,
    pub used: usize,
    pub kinds: Vec<(String, usize)>,
    pub skipped: Vec<(String, usize)>,
    pub examples: Vec<Conversation>,
}

/// "some" before a plural ("some kittens"), else "a" or "an".
fn article(word: &str) -> &'static str {
    let plural = word.ends_with('s') && !word.ends_with("ss") && !word.ends_with("us") && !word.contains(' ');
    if plural {
        "some"
    } else {
        crate::chat::notes::article(word)
    }
}

/// The story's subjects: vocabulary nouns it uses at least twice, those of
/// its first two sentences first, then the most used (ties by first use), at
/// most three.
fn subjects_of(story: &str, vocabulary: &HashMap<&str, usize>) -> Vec<String> {
    let mut seen: Vec<(String, usize, usize)> = Vec::new();
    for (pos, raw) in story.split_whitespace().enumerate() {
        let w = raw.trim_matches(|c: char| !c.is_alphabetic());
        if w.starts_with(char::is_uppercase) {
            continue; // "Lily" the girl is not "a lily"
        }
        let w = w.to_string();
        if !vocabulary.contains_key(w.as_str()) {
            continue;
        }
        match seen.iter_mut().find(|s| s.0 == w) {
            Some(s) => s.1 += 1,
            None => seen.push((w, 1, pos)),
        }
    }
    seen.retain(|s| s.1 >= 2);
    // Those in the opening first: a request is best answered by a story
    // that says what was asked for at once.
    let opening_words = story
        .split_whitespace()
        .count()
        .min(split_sentences(story).iter().take(2).map(|s| s.split_whitespace().count()).sum());
    seen.sort_by(|a, b| (b.2 < opening_words).cmp(&(a.2 < opening_words)).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2)));
    seen.into_iter().take(3).map(|s| s.0).collect()
}

/// What someone learns in the story, as the words after "learns": "learned
/// to share" gives "to share", "learned that friends help" gives "that
/// friends help"; only when it says so in a few plain words.
fn lesson_of(story: &str) -> Option<String> {
    let lower = story.to_lowercase();
    let at = ["learned to ", "learned how to ", "learned that "].iter().find_map(|p| lower.find(p))?;
    let rest = &story[at + "learned ".len()..];
    let clause: String = rest.split(['.', ',', '!', '?', '\n', '"', ';']).next()?.trim().to_string();
    let words = clause.split_whitespace().count();
    (2..=9).contains(&words).then_some(clause)
}

/// The first `n` sentences of a story and the rest, split after a full stop,
/// "!" or "?" that ends a sentence; `None` when the rest would be short.
fn opening_and_rest(story: &str, n: usize) -> Option<(String, String)> {
    let mut count = 0;
    for (i, c) in story.char_indices() {
        if matches!(c, '.' | '!' | '?') && story[i + 1..].starts_with([' ', '\n']) {
            count += 1;
            if count == n {
                let (open, rest) = story.split_at(i + 1);
                let rest = rest.trim();
                return (rest.split_whitespace().count() >= 30).then(|| (open.trim().to_string(), rest.to_string()));
            }
        }
    }
    None
}

/// Picks one of `options` by `hash`.
fn pick<'a>(options: &[&'a str], hash: u64) -> &'a str {
    options[(hash % options.len() as u64) as usize]
}

/// The story's hero as the story introduces it, when it does so early and
/// plainly: "a little dog named Max", "a girl who loved to paint".
fn hero_of(story: &str) -> Option<String> {
    static HERO: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let re = HERO.get_or_init(|| {
        regex::Regex::new(r"\b(?:a|an) ((?:[a-z]+ ){0,2}[a-z]+ (?:named [A-Z][a-z]+|called [A-Z][a-z]+|who (?:loved|liked|wanted|was|lived) [a-z]+(?: [a-z]+){0,3}))[.,!]")
            .expect("a valid pattern")
    });
    let opening: String = story.chars().take(240).collect();
    let c = re.captures(&opening)?;
    let phrase = c.get(1)?.as_str();
    Some(format!("{} {phrase}", article(phrase)))
}

/// A request about `subjects` in one of many wordings.
fn about_request(subjects: &[String], hash: u64) -> String {
    let one = |w: &str| format!("{} {w}", article(w));
    let what = match subjects {
        [a, b, ..] if hash % 3 == 0 => format!("{} and {}", one(a), one(b)),
        [a, ..] => one(a),
        [] => "{}".to_string(), // the caller fills in a phrase
    };
    let wording = pick(
        &[
            "Tell me a story about {}.",
            "Write a short story about {}.",
            "Can you tell me a story about {}?",
            "Please write a story about {}.",
            "Tell me a bedtime story about {}.",
            "story about {} please",
            "Make up a story about {}.",
            "I want a story about {}.",
            "Could you write me a little story about {}?",
            "Write a story for children about {}.",
            "tell me a story about {}",
            "Do you know a story about {}? Tell it to me.",
            "Tell me a short tale about {}.",
            "Can I have a story about {}?",
        ],
        hash >> 8,
    );
    wording.replace("{}", &what)
}

/// Makes story-request conversations from `docs` (prepared training
/// documents). `seed` picks wordings and kinds; the same input and seed
/// give the same output.
pub fn make_story_requests(docs: &[&str], seed: u64) -> (Vec<Conversation>, StoryReport) {
    let (convs, report) = requests_by_story(docs, seed);
    (convs.into_iter().map(|(_, c)| c).collect(), report)
}

/// [`make_story_requests`], each conversation with the index of its story.
fn requests_by_story(docs: &[&str], seed: u64) -> (Vec<(usize, Conversation)>, StoryReport) {
    let vocabulary_list = subject_vocabulary(docs, 1500);
    let vocabulary: HashMap<&str, usize> = vocabulary_list.iter().enumerate().map(|(i, w)| (w.as_str(), i)).collect();
    let mut report = StoryReport { documents: docs.len(), ..Default::default() };
    let mut kinds: HashMap<&'static str, usize> = HashMap::new();
    let mut skipped: HashMap<&'static str, usize> = HashMap::new();
    let mut examples_shown: HashMap<&'static str, usize> = HashMap::new();
    let mut out = Vec::new();
    for (index, doc) in docs.iter().enumerate() {
        let story = doc.trim();
        let words = story.split_whitespace().count();
        if !STORY_WORDS.contains(&words) {
            *skipped.entry("length outside 60-260 words").or_default() += 1;
            continue;
        }
        let subjects = subjects_of(story, &vocabulary);
        if subjects.is_empty() {
            *skipped.entry("no subject used twice").or_default() += 1;
            continue;
        }
        let hash = mix64(fnv1a(story.as_bytes()) ^ seed);
        let (kind, messages) = first_request(story, &subjects, hash);
        // A second request for the same story, always a whole-story one in
        // another form: the request -> story mapping is what is being taught,
        // and the stories are few (about 4,000 in the reference corpus).
        let again = about(&subjects, story, mix64(hash ^ 0x5eed));
        let mut conversations = vec![(kind, messages)];
        if again[0].content != conversations[0].1[0].content {
            conversations.push(("about", again));
        }
        // The same story about another animal and another named hero: the
        // hero a request names must be copied from it (see `swap`).
        let animal = swap::swap_animal(story, hash ^ 0xa11);
        let named = swap::swap_name(story, hash ^ 0x9a3e, super::notes::given_names);
        for (salt, (told, hero)) in [(1, animal), (2, named)].into_iter().filter_map(|(s, v)| Some((s, v?))) {
            conversations.push(("swapped", about_hero(&told, &hero, mix64(hash ^ salt))));
        }
        for (kind, messages) in conversations {
            *kinds.entry(kind).or_default() += 1;
            let conv = Conversation::new(messages);
            let shown = examples_shown.entry(kind).or_insert(0);
            if *shown < 2 {
                *shown += 1;
                report.examples.push(conv.clone());
            }
            out.push((index, conv));
        }
    }
    report.used = docs.len() - skipped.values().sum::<usize>();
    report.kinds = sorted(kinds);
    report.skipped = sorted(skipped);
    (out, report)
}

/// The first request made for `story`, by `hash`: half the stories with a
/// lesson are asked for by it ("a story where a cat learns to share"), and
/// of the rest some are asked to be continued from their opening, titled, or
/// begun with their first sentence; the others are asked for by subject.
/// Returns the kind (for the report) and the conversation.
fn first_request(story: &str, subjects: &[String], hash: u64) -> (&'static str, Vec<Message>) {
    let lesson = lesson_of(story);
    match hash % 20 {
        0..=9 if lesson.is_some() => {
            let s = &subjects[0];
            let l = lesson.expect("checked");
            let ask = pick(
                &[
                    "Tell me a story where {s} learns {l}.",
                    "Write a story about {s} who learns {l}.",
                    "Can you tell me a story about {s} that learns {l}?",
                ],
                hash >> 8,
            );
            let ask = ask.replace("{s}", &format!("{} {s}", article(s))).replace("{l}", &l);
            ("learns", vec![Message::new(Role::User, ask), Message::new(Role::Assistant, story)])
        }
        3..=6 => match opening_and_rest(story, 1 + (hash >> 16) as usize % 3) {
            Some((open, rest)) => {
                let ask = pick(
                    &[
                        "Continue this story: {}",
                        "Finish this story: {}",
                        "What happens next? {}",
                        "Go on with this story:\n\n{}",
                        // People also give the opening first and ask after it.
                        "{} What happened next?",
                        "{}\n\nContinue the story.",
                        "Here is the start of a story: {} Please finish it.",
                        "{} Tell me the rest of the story.",
                    ],
                    hash >> 8,
                );
                (
                    "continue",
                    vec![Message::new(Role::User, ask.replace("{}", &open)), Message::new(Role::Assistant, rest)],
                )
            }
            None => ("about", about(subjects, story, hash)),
        },
        7 => {
            let ask = pick(
                &["Give this story a title.", "What would be a good title for this story?", "Name this story."],
                hash >> 8,
            );
            let first = format!("The {}", upper_first(&subjects[0]));
            let title = match subjects.get(1) {
                Some(b) if hash % 2 == 0 => format!("{first} and the {}", upper_first(b)),
                _ => first,
            };
            // People ask before the story as often as after it.
            let content = match (hash >> 12) % 2 {
                0 => format!("{story}\n\n{ask}"),
                _ => format!("{}: {story}", ask.trim_end_matches(['.', '?'])),
            };
            ("title", vec![Message::new(Role::User, content), Message::new(Role::Assistant, title)])
        }
        // A story asked to begin with a given sentence, told whole: the
        // opening is copied, the rest made up.
        8 => match opening_and_rest(story, 1) {
            Some((open, _)) => {
                let ask = pick(
                    &[
                        "Write a story that begins with: {}",
                        "Tell me a story starting with \"{}\"",
                        "Start a story with this sentence: {}",
                        "Can you write a story that opens with \"{}\"?",
                        "Begin a story with: {}",
                        "Use this as the first line of a story: {}",
                    ],
                    hash >> 8,
                );
                (
                    "starts",
                    vec![Message::new(Role::User, ask.replace("{}", &open)), Message::new(Role::Assistant, story)],
                )
            }
            None => ("about", about(subjects, story, hash)),
        },
        _ => ("about", about(subjects, story, hash)),
    }
}

/// A request for `story` as a whole: its premise ("a cat who wants to
/// fly"), its hero as introduced, or its subject nouns, whichever the story
/// offers, chosen by `hash`.
///
/// Subject nouns are named only when the story's first two sentences hold
/// them: a request for "a story about a dog" answered by a story whose dog
/// comes in the fifth sentence teaches a small model that the opening need
/// not say what was asked for, and the model then opens every story with
/// its favourite girl named Lily. A story whose opening names none of its
/// subjects is asked for by its hero or premise when it has one, else by
/// its subjects as before.
fn about(subjects: &[String], story: &str, hash: u64) -> Vec<Message> {
    let opening = split_sentences(story).into_iter().take(2).collect::<Vec<_>>().join(" ");
    let named: Vec<String> = subjects.iter().filter(|s| swap::whole_word_count(&opening, s) > 0).cloned().collect();
    let (premise, hero) = (premise_of(story), hero_of(story));
    let plain_ok = !named.is_empty() || (premise.is_none() && hero.is_none());
    if let Some(p) = premise.filter(|_| hash % 10 < 6 || !plain_ok) {
        return premise_request(&p, story, hash);
    }
    let ask = match hero {
        Some(hero) if hash % 10 < 8 || !plain_ok => about_request(&[], hash).replace("{}", &hero),
        _ if named.is_empty() => about_request(subjects, hash),
        _ => about_request(&named, hash),
    };
    vec![Message::new(Role::User, ask), Message::new(Role::Assistant, story)]
}

/// A request that states the story's premise, answered with the story
/// restated to open with it.
fn premise_request(p: &Premise, story: &str, hash: u64) -> Vec<Message> {
    let ask = about_request(&[], hash).replace("{}", &p.request(hash >> 24));
    let told = p.restated(story).unwrap_or_else(|| story.to_string());
    vec![Message::new(Role::User, ask), Message::new(Role::Assistant, told)]
}

/// A request for a retold `story` that names its new `hero` (an animal or a
/// name): its premise or its hero as introduced when they hold the new
/// word, else a plain request about the hero.
fn about_hero(story: &str, hero: &str, hash: u64) -> Vec<Message> {
    let names_hero = |ask: &str| swap::whole_word_count(ask, hero) > 0;
    if let Some(p) = premise_of(story).filter(|p| hash % 10 < 6 && names_hero(&p.who)) {
        return premise_request(&p, story, hash);
    }
    let ask = match hero_of(story).filter(|h| names_hero(h)) {
        Some(h) => about_request(&[], hash).replace("{}", &h),
        None if hero.starts_with(char::is_uppercase) => {
            about_request(&[], hash).replace("{}", &format!("someone named {hero}"))
        }
        None => about_request(&[hero.to_string()], hash),
    };
    vec![Message::new(Role::User, ask), Message::new(Role::Assistant, story.to_string())]
}

/// What a story is about, read from its opening: who it is about as the
/// story introduces them ("a little dog named Max", "a weird rocket") and
/// what a following sentence says of them ("Max wanted to fly." gives
/// "wanted to fly").
struct Premise {
    /// "a little cat named Mia"
    who: String,
    /// "wanted", as the story says it
    verb: String,
    /// "to fly like the birds", at most seven words: what a request names
    rest: String,
    /// The whole of the sentence after the verb, for the restated opening
    told: String,
    /// The story's words before `who` ("Once upon a time, there was ").
    lead: String,
    /// Byte offset in the story where what follows the premise's sentences
    /// starts, when the intro sentence is only the intro and the sentence
    /// about them was read to its end (so nothing is lost by restating them
    /// as one sentence).
    resume_at: Option<usize>,
}

impl Premise {
    /// The premise as a request's subject, in the story's tense or (by
    /// `hash`, half the time) the present, as people ask: "a little cat
    /// named Mia who wants to fly like the birds".
    fn request(&self, hash: u64) -> String {
        let verb = if hash % 2 == 0 { present_tense(&self.verb) } else { &self.verb };
        let relative = if self.who.contains(" named ") || hash % 3 != 0 { "who" } else { "that" };
        format!("{} {relative} {verb} {}", self.who, self.rest)
    }

    /// The story told with its premise as its first sentence ("Once upon a
    /// time, there was a little cat named Mia who wanted to fly like the
    /// birds."), so that what a request names comes first, where a small
    /// model learns to copy it; `None` when the opening cannot be restated
    /// without losing words.
    fn restated(&self, story: &str) -> Option<String> {
        let at = self.resume_at?;
        let rest = story[at..].trim_start();
        Some(format!("{}{} who {} {}. {rest}", self.lead, self.who, self.verb, self.told).trim_end().to_string())
    }
}

/// The story's premise, from its first three sentences (see [`Premise`]).
fn premise_of(story: &str) -> Option<Premise> {
    static INTRO: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    static DOES: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let intro = INTRO.get_or_init(|| {
        regex::Regex::new(r"^((?:Once upon a time,? |One day,? |Once,? )?(?:in [a-z ]+, )?(?:[Tt]here (?:was|lived) |))(a|an) ((?:[a-z]+ ){0,2}[a-z]+)(?: (?:named|called) ([A-Z][a-z]+))?[.,!]")
            .expect("a valid pattern")
    });
    let does = DOES.get_or_init(|| {
        regex::Regex::new(r"^(\S+|The [a-z]+) (loved|liked|wanted|was afraid of|was scared of|lived|could not|couldn't|did not like|didn't like|did not want|didn't want|dreamed of|wished|had|was|found|made|kept|could) ([a-z']+(?: [a-z',]+){0,14})")
            .expect("a valid pattern")
    });
    let sentences: Vec<&str> = split_sentences(story).into_iter().take(3).collect();
    let first = sentences.first()?;
    let c = intro.captures(first)?;
    let noun_phrase = &c[3];
    let noun = noun_phrase.rsplit(' ').next()?;
    if NOT_SUBJECTS.contains(&noun) && !matches!(noun, "boy" | "girl" | "man" | "woman") {
        return None;
    }
    let name = c.get(4).map(|m| m.as_str());
    let who = match name {
        Some(n) => format!("{} {noun_phrase} named {n}", &c[2]),
        None => format!("{} {noun_phrase}", &c[2]),
    };
    let intro_only = c[0].len() == first.len() && first.ends_with('.');
    let about_them = |(i, s): (usize, &&str)| -> Option<(usize, String, String, Option<String>)> {
        let d = does.captures(s)?;
        let subject = d.get(1)?.as_str();
        let refers = Some(subject) == name
            || matches!(subject, "He" | "She" | "It" | "They")
            || subject == format!("The {noun}");
        // A long sentence is cut after a few words, back to a word that can
        // end a phrase: "loved to play with her toys and run" -> "loved to
        // play with her toys".
        let whole = (d[0].len() + 1 == s.len() && s.ends_with('.')).then(|| d[3].to_string());
        // Cut: longer than a request names, or the sentence goes on past
        // what the pattern read (a name, a number).
        let cut = whole.is_none() || d[3].split(' ').count() > 7;
        let mut rest: Vec<&str> = d[3].split(' ').take(7).collect();
        // A phrase cut short ends at its first comma, where the text paused
        // ("had a very loyal friend, a dog named" -> "had a very loyal
        // friend"), unless the comma only lists adjectives ("a big, red ball").
        let pause = |i: usize| rest[i].ends_with(',') && i > 0 && !DANGLING.contains(&rest[i - 1]);
        if let Some(comma) = (0..rest.len()).find(|&i| pause(i)).filter(|_| cut) {
            rest.truncate(comma + 1);
        }
        let mut rest: Vec<&str> = rest.into_iter().map(|w| w.trim_end_matches(',')).collect();
        // "was three years old and he loved", "was very excited because he
        // was about": a second clause cut short is dropped whole. An "and"
        // after two words is dropped even when nothing was cut (it may start
        // one), but not after one ("gentle and sweet").
        let second_clause = |(i, w): &(usize, &&str)| match **w {
            "and" => *i >= 2,
            // "a big red ball that she loved", but not "knew that ..."
            "that" => cut && *i >= 2,
            w => cut && CLAUSE_JOINS.contains(&w),
        };
        if let Some((at, _)) = rest.iter().enumerate().skip(1).find(second_clause) {
            rest.truncate(at);
        }
        while rest.last().is_some_and(|w| DANGLING.contains(w)) {
            rest.pop();
        }
        (refers && !rest.is_empty()).then(|| (i, d[2].to_string(), rest.join(" "), whole))
    };
    let (index, verb, rest, whole) = sentences.iter().enumerate().skip(1).find_map(about_them)?;
    // The restated opening replaces sentences 1 and 2 only: a sentence
    // between them would be lost.
    let told = whole.clone().unwrap_or_default();
    let resume_at = (intro_only && whole.is_some() && index == 1).then(|| {
        let second = sentences[1];
        // `second` is a slice of `story`: its end is where the rest starts.
        second.as_ptr() as usize - story.as_ptr() as usize + second.len()
    });
    Some(Premise { who, verb, rest, told, lead: c[1].to_string(), resume_at })
}

/// Words a cut phrase must not end with.
const DANGLING: &[&str] = &[
    "and", "or", "but", "with", "the", "a", "an", "to", "her", "his", "their", "its", "in", "on", "of", "at", "for",
    "from", "so", "very", "that", "when", "because", "my", "your", "some", "all", "was", "is", "had", "would", "he",
    "she", "they", "it", "not", "did", "where", "who", "which", "like", "what", "how", "if", "were", "named", "called",
    "only", "just", "about", "best", "going", "always", "never", "also", "even", "really", "every", "than", "into",
    "by",
];

/// Words that start a second clause, where a phrase cut short is cut back to.
const CLAUSE_JOINS: [&str; 8] = ["but", "because", "so", "when", "while", "until", "since", "if"];

/// The present tense of the verbs [`premise_of`] reads.
fn present_tense(verb: &str) -> &str {
    match verb {
        "loved" => "loves",
        "liked" => "likes",
        "wanted" => "wants",
        "was afraid of" => "is afraid of",
        "was scared of" => "is scared of",
        "lived" => "lives",
        "could not" | "couldn't" => "can't",
        "did not like" | "didn't like" => "doesn't like",
        "did not want" | "didn't want" => "doesn't want",
        "dreamed of" => "dreams of",
        "wished" => "wishes",
        "had" => "has",
        "was" => "is",
        "found" => "finds",
        "made" => "makes",
        "kept" => "keeps",
        "could" => "can",
        other => other,
    }
}

/// The story's sentences, split after a ".", "!" or "?" followed by a space
/// or a line break (quotes stay inside their sentence only roughly; this is
/// for openings, which are mostly plain narration).
fn split_sentences(story: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, c) in story.char_indices() {
        if matches!(c, '.' | '!' | '?') && story[i + 1..].starts_with([' ', '\n']) {
            out.push(story[start..=i].trim());
            start = i + 1;
        }
    }
    if start < story.len() && !story[start..].trim().is_empty() {
        out.push(story[start..].trim());
    }
    out
}

fn sorted(counts: HashMap<&'static str, usize>) -> Vec<(String, usize)> {
    let mut v: Vec<(String, usize)> = counts.into_iter().map(|(k, n)| (k.to_string(), n)).collect();
    v.sort();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kind of an example, read back from its request (for the report's
    /// two examples per kind).
    fn kind_of(conv: &Conversation) -> &'static str {
        let ask = conv.messages[0].content.to_lowercase();
        if ask.contains(" learns ") {
            "learns"
        } else if ask.contains("title") || ask.starts_with("name this") || ask.ends_with("name this story.") {
            "title"
        } else if ["begins with", "starting with", "start a story", "opens with", "begin a story", "first line"]
            .iter()
            .any(|w| ask.contains(w))
        {
            "starts"
        } else if ask.starts_with("continue")
            || ask.starts_with("finish")
            || ask.starts_with("what happens")
            || ask.starts_with("go on")
            || ask.starts_with("here is the start")
            || ask.ends_with("what happened next?")
            || ask.ends_with("continue the story.")
            || ask.ends_with("the rest of the story.")
        {
            "continue"
        } else {
            "about"
        }
    }

    fn story(animal: &str, thing: &str, extra: &str) -> String {
        format!(
            "Once upon a time there was a little {animal} who lived in a big wood. The {animal} had a red {thing}. \
             Every day the {animal} played with the {thing} near the river. One day the {thing} fell into the water. \
             The {animal} was very sad and cried. A kind frog saw the {animal} crying and swam into the river. \
             The frog brought back the {thing} and the {animal} smiled. {extra}They played together until the sun \
             went down, and then the {animal} went home to sleep."
        )
    }

    #[test]
    fn every_request_names_things_its_story_is_about() {
        let stories: Vec<String> = ["dragon", "rabbit", "bear", "kitten", "owl", "fox", "goat", "duck"]
            .iter()
            .zip(["kite", "ball", "drum", "hat", "boat", "shell", "cup", "bell"])
            .map(|(a, t)| story(a, t, "The animal learned to share his toys with friends. "))
            .collect();
        let docs: Vec<&str> = stories.iter().map(String::as_str).collect();
        let (convs, report) = make_story_requests(&docs, 7);
        assert_eq!(report.used, docs.len());
        let mut retold = 0;
        for c in &convs {
            let (ask, answer) = (&c.messages[0].content, &c.messages[1].content);
            assert_eq!(c.messages.len(), 2);
            let Some(source) = docs.iter().find(|d| d.contains(answer.as_str()) || ask.contains(*d)) else {
                // A retelling with another hero: the hero the request names
                // is the one the story tells of.
                let hero = ask.split(|c: char| !c.is_alphabetic()).find(|w| swap::ANIMALS.contains(w));
                assert!(hero.is_some_and(|h| answer.contains(h)), "{ask} / {answer}");
                retold += 1;
                continue;
            };
            match kind_of(c) {
                "about" | "learns" => {
                    // The story itself, or told with its premise as its first sentence.
                    let last = |t: &str| t.split(". ").last().map(str::to_string);
                    assert!(answer == source || last(answer) == last(source), "{answer}");
                    let subject = ask.split_whitespace().find(|w| {
                        [
                            "dragon", "rabbit", "bear", "kitten", "owl", "fox", "goat", "duck", "kite", "ball", "drum",
                            "hat", "boat", "shell", "cup", "bell", "frog",
                        ]
                        .contains(&w.trim_matches(|c: char| !c.is_alphabetic()))
                    });
                    assert!(subject.is_some(), "{ask}");
                }
                "starts" => {
                    // The whole story, whose first sentence the request holds.
                    assert_eq!(answer, source);
                    let first = split_sentences(source)[0];
                    assert!(ask.contains(first), "{ask} / {answer}");
                }
                "continue" => {
                    // The request holds the opening, whichever side the ask is on,
                    // and the answer is the rest of the same story.
                    let opening = source.strip_suffix(answer.as_str()).map(str::trim);
                    assert!(opening.is_some_and(|o| !o.is_empty() && ask.contains(o)), "{ask} / {answer}");
                }
                _ => assert!(ask.starts_with(source) && answer.starts_with("The ")),
            }
        }
        assert!(retold >= docs.len() / 2, "{retold} retellings of {} stories", docs.len());
        let again = make_story_requests(&docs, 7).0;
        assert_eq!(convs, again, "deterministic");
    }

    #[test]
    fn lessons_openings_and_subjects_come_from_the_story() {
        let s = story("dragon", "kite", "The dragon learned to share his kite. ");
        assert_eq!(lesson_of(&s).as_deref(), Some("to share his kite"));
        assert_eq!(lesson_of("They learned that the sea is deep.").as_deref(), Some("that the sea is deep"));
        assert_eq!(lesson_of("She learned a lot."), None);
        let (open, rest) = opening_and_rest(&s, 2).unwrap();
        assert!(open.ends_with("had a red kite.") && s.ends_with(&rest));
        let vocabulary: HashMap<&str, usize> =
            [("dragon", 0), ("kite", 1), ("frog", 2), ("river", 3)].into_iter().collect();
        assert_eq!(subjects_of(&s, &vocabulary), vec!["dragon", "kite", "river"]);
        assert_eq!(about_request(&["owl".to_string()], 0).matches("an owl").count(), 1);
        assert_eq!(
            hero_of("Once upon a time, there was a little dog named Max. Max liked bones.").as_deref(),
            Some("a little dog named Max")
        );
        assert_eq!(
            hero_of("There was an old owl who lived in a big tree. He was wise.").as_deref(),
            Some("an old owl who lived in a big tree")
        );
        assert_eq!(hero_of("The sun was hot."), None);
    }

    #[test]
    fn a_premise_is_the_hero_and_what_the_next_sentence_says_of_them() {
        let s = "Once upon a time, there was a little cat named Mia. Mia wanted to fly like the birds in the tall \
                 trees and the sky. One day she saw a kite.";
        let p = premise_of(s).unwrap();
        assert_eq!(p.request(0), "a little cat named Mia who wants to fly like the birds");
        assert_eq!(p.request(1), "a little cat named Mia who wanted to fly like the birds");
        assert_eq!(
            p.restated(s).as_deref(),
            Some("Once upon a time, there was a little cat named Mia who wanted to fly like the birds in the tall trees and the sky. One day she saw a kite.")
        );
        let long = "There was a cat named Mia. Mia wanted to fly like the birds in the tall trees and the sky above the old town on the hill. Then a kite.";
        assert_eq!(premise_of(long).unwrap().restated(long), None, "a sentence too long to read whole is not restated");
        let s = "Once upon a time, in a dark cave, there was a dragon. The dragon was afraid of the dark. He cried.";
        let p = premise_of(s).unwrap();
        assert_eq!(p.request(0), "a dragon that is afraid of the dark");
        assert_eq!(p.request(2), "a dragon who is afraid of the dark");
        assert_eq!(
            p.restated(s).as_deref(),
            Some("Once upon a time, in a dark cave, there was a dragon who was afraid of the dark. He cried.")
        );
        // Every word of the premise is in the story's opening.
        let r = p.request(3);
        assert!(r.split(' ').filter(|w| !["who", "that"].contains(w)).all(|w| s.contains(w)), "{r}");
        let s = "Once upon a time, there was a snowman. The snowman didn't want to melt. The sun came out.";
        assert_eq!(premise_of(s).unwrap().request(0), "a snowman that doesn't want to melt");
        // Someone else's sentence is not the hero's.
        assert!(premise_of("There was a dog named Max. Sam wanted a cake.").is_none());
        assert!(premise_of("The sun was hot. It was a day.").is_none());
        // A second clause cut short is dropped whole, and no phrase ends on
        // a word that needs more after it.
        let s = "Once upon a time, there was a boy named Jack. Jack was very excited because he was about to go \
                 to the sea. He packed.";
        assert_eq!(premise_of(s).unwrap().request(1), "a boy named Jack who was very excited");
        let s = "There was a witch. The witch was not a bad witch but sometimes she was grumpy. One day it rained.";
        assert_eq!(premise_of(s).unwrap().request(1), "a witch who was not a bad witch");
        let s = "There was a girl named Julie. Julie was only three years old. She had a doll.";
        assert_eq!(premise_of(s).unwrap().request(1), "a girl named Julie who was only three years old");
        let s = "There was a bear named Bob. Bob had a very loyal friend, a dog named Rex. They played.";
        assert_eq!(premise_of(s).unwrap().request(1), "a bear named Bob who had a very loyal friend");
        let s = "There was a girl named Rita. Rita was gentle and sweet and loved to sing songs with her mom. Then.";
        assert_eq!(premise_of(s).unwrap().request(1), "a girl named Rita who was gentle and sweet");
        let s =
            "There was a girl named Lily. Lily had a big, red ball that she loved to throw at the wall. It bounced.";
        assert_eq!(premise_of(s).unwrap().request(1), "a girl named Lily who had a big red ball");
        // What fits whole keeps its second clause.
        let s = "There was a cat named Tom. Tom was sad because it rained. Then the sun came.";
        assert_eq!(premise_of(s).unwrap().request(1), "a cat named Tom who was sad because it rained");
        // An intro sentence that says more than the intro is not restated.
        let s = "There was a dog named Max, who was old. Max loved bones. The end.";
        assert_eq!(premise_of(s).unwrap().restated(s), None);
    }

    #[test]
    fn a_story_asked_to_begin_with_a_sentence_begins_with_it() {
        let animals = ["dragon", "rabbit", "bear", "kitten", "owl", "fox", "goat", "duck"];
        let stories: Vec<String> = animals
            .iter()
            .flat_map(|a| ["kite", "ball", "drum", "hat", "boat", "shell"].map(|t| story(a, t, "")))
            .collect();
        let docs: Vec<&str> = stories.iter().map(String::as_str).collect();
        let (convs, report) = make_story_requests(&docs, 3);
        let starts: Vec<&Conversation> = convs.iter().filter(|c| kind_of(c) == "starts").collect();
        let counted = report.kinds.iter().find(|(k, _)| k == "starts").map_or(0, |k| k.1);
        assert!(!starts.is_empty() && starts.len() == counted, "{} of {counted}", starts.len());
        for c in starts {
            let (ask, answer) = (&c.messages[0].content, &c.messages[1].content);
            assert!(docs.contains(&answer.as_str()), "told whole: {answer}");
            assert!(ask.contains(split_sentences(answer)[0]), "{ask}");
        }
    }

    #[test]
    fn a_request_names_only_subjects_the_opening_holds() {
        let late = "Once upon a time, there was a little girl named Lily. She liked to sing. One day she saw a dog. \
                    The dog was brown. The dog ran to the kite and the kite flew.";
        let subjects = ["dog".to_string(), "kite".to_string()];
        for hash in 0..40 {
            let ask = &about(&subjects, late, hash)[0].content;
            assert!(!ask.contains("dog") && !ask.contains("kite") && ask.contains("Lily"), "{ask}");
        }
        // Named at once: the request may name it plainly.
        let early = "There was a dog and a kite. The dog was brown. The dog ran to the kite and the kite flew.";
        let plain = (0..40).map(|h| about(&subjects, early, h)[0].content.clone()).filter(|a| a.contains("a dog"));
        assert!(plain.count() > 0);
    }

    #[test]
    fn words_seldom_after_a_determiner_are_not_subjects() {
        // "saw" follows "a" once ("a saw.") but is a verb twenty times; "dog"
        // is mostly "the dog"; "shells" is a plural, often bare.
        let mut docs = vec!["Tom had a saw. The dog ran. I like shells. The dog was happy.".to_string()];
        docs.extend((0..20).map(|i| format!("Mia saw a dog{i}. She saw shells.")));
        let docs: Vec<&str> = docs.iter().map(String::as_str).collect();
        let vocabulary = subject_vocabulary(&docs, 100);
        assert!(vocabulary.contains(&"dog".to_string()), "{vocabulary:?}");
        assert!(!vocabulary.contains(&"saw".to_string()), "{vocabulary:?}");
    }

    #[test]
    fn short_and_subjectless_stories_are_passed_over_with_a_reason() {
        let (convs, report) = make_story_requests(&["Too short to tell.", &"la ".repeat(100)], 1);
        assert!(convs.is_empty());
        assert_eq!(report.skipped.iter().map(|s| s.1).sum::<usize>(), 2);
    }
}
