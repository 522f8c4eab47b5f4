//! Reading-comprehension conversations about synthetic everyday texts
//! (`fledge data notes`): fridge notes, text messages, group chats, emails,
//! notices, instructions, posters, timetables, recipes, diary entries,
//! invitations, forecasts, lists, medicine labels, reminders and short
//! stories, each followed by 1 to 4 questions whose answers are spans
//! copied verbatim from the text, or the fixed refusal when the text does
//! not say.
//!
//! Why: the questions of `fledge data rc` come from TinyStories-style
//! sentences, whose names are a handful of common ones and whose vocabulary
//! has no notes, timetables or labels. A model tuned on them answers a
//! question about "Dear Kofi, ... Grandpa will pick you up at half past
//! three" with an answer of the right type but the wrong span. These texts
//! teach it to copy arbitrary spans (rare and invented names, clock times
//! in several styles, prices, colours, reasons) and to find them by their
//! relation to the question: most texts hold distractors of the same type
//! (two people, two times, two colours, two places), so only the relation
//! picks the answer.
//!
//! Rule-based on purpose, like `rc`: every answer is checkably a span of
//! its text and every refusal checkably not answered by it (the value the
//! text would need is drawn but never written, and the words that would
//! state it are checked to be absent); the set is the same for the same
//! seed; and no model is needed to make the data a model learns from.
//!
//! How a conversation is made:
//! 1. A text kind is drawn, and its template (in `home`, `mail`, `errands`,
//!    `days`, `story`, `notices`, `instructions`, `schedules` or `labels`)
//!    draws people, places, times and things from large pools (`words`) and
//!    invented syllable compositions (`gen`), writes one of several
//!    phrasings of each sentence, and lists questions about every fact, each
//!    in one of at least four wordings that differ from the sentence
//!    (synonyms, resolved roles and pronouns, other tense or word order,
//!    casual typing now and then), plus unanswerable ones.
//! 2. Answers that are not exact spans of the text, answers the question
//!    itself holds, and refusals whose gold fact or cue words occur in the
//!    text are dropped and counted.
//! 3. 1 to 4 questions are picked, favouring kinds asked least so far, so
//!    that no kind exceeds a quarter of the questions; about 12% are
//!    unanswerable. Why-answers keep their conjunction ("because the road is
//!    closed"), as in `rc`, except where `reasons` has said half of the
//!    because-sentences another way ("The road is closed, so ..."): there the
//!    answer is the cause as written.
//! 4. Texts are split 96/2/2 into train, val and test by a hash of the text.

/// `w!["Where is {x}?", ...]`: the wordings, formatted with the variables
/// in scope, as an array of Strings.
macro_rules! w {
    ($($f:literal),+ $(,)?) => {
        [$(format!($f)),+]
    };
}

mod days;
mod errands;
mod gen;
mod home;
mod instructions;
mod labels;
mod mail;
mod notices;
mod reasons;
mod schedules;
mod story;
mod words;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::convert::{self, ConvertError, Converted, Split};
use super::template::{Conversation, Message, Role};
use super::{skip, Skips};
use crate::data::dedup::{fnv1a, mix64};
use crate::data::license::SourceLicense;
/// Whole-word search, shared with the story retellings.
pub(crate) use gen::{article, replace_word, word_starts};
use gen::{Draft, Gen, Qa};

/// The generator's given names, of girls and women (`female`) or of boys and
/// men; story requests rename heroes with them.
pub(crate) fn given_names(female: bool) -> &'static [String] {
    if female {
        words::female()
    } else {
        words::male()
    }
}

/// The generator's family names ("Okafor", "Lindqvist").
pub(crate) fn surnames() -> &'static [String] {
    words::surnames()
}

/// The set's name: output goes to `{out}/notes/`.
pub const SOURCE: &str = "notes";
/// Default number of texts: the reference preset's chat stage (4,500 steps
/// of 32 windows) sees each of them once; at 40,000 it would see each four
/// times (README, "Chat stage size").
pub const DEFAULT_COUNT: usize = 160_000;
/// Share of questions that are unanswerable.
const UNANSWERABLE_SHARE: f64 = 0.12;
/// Largest share of the questions one kind may take.
const MAX_KIND_SHARE: f64 = 0.25;
/// The cap is only enforced once this many questions exist (the first few
/// texts cannot be balanced).
const CAP_AFTER: usize = 40;
/// Longest conversation, in bytes of text (about 400 tokens; the chat
/// model's window is 512).
const MAX_CONVERSATION_BYTES: usize = 1500;
/// How many example conversations the report keeps per kind.
const EXAMPLES_PER_KIND: usize = 3;

/// What a question asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Who,
    What,
    Where,
    When,
    HowMany,
    HowLong,
    Colour,
    Why,
    Name,
    Should,
    Unanswerable,
}

impl Kind {
    pub const ALL: [Kind; 11] = [
        Kind::Who,
        Kind::What,
        Kind::Where,
        Kind::When,
        Kind::HowMany,
        Kind::HowLong,
        Kind::Colour,
        Kind::Why,
        Kind::Name,
        Kind::Should,
        Kind::Unanswerable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Who => "who",
            Kind::What => "what",
            Kind::Where => "where",
            Kind::When => "when",
            Kind::HowMany => "how-many",
            Kind::HowLong => "how-long",
            Kind::Colour => "colour",
            Kind::Why => "why",
            Kind::Name => "name",
            Kind::Should => "should",
            Kind::Unanswerable => "unanswerable",
        }
    }
}

/// What kind of everyday text a context is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TextKind {
    Note,
    Message,
    GroupChat,
    Email,
    Notice,
    Instructions,
    Poster,
    Timetable,
    Recipe,
    Diary,
    Invitation,
    Forecast,
    List,
    Label,
    Reminder,
    Story,
}

impl TextKind {
    pub const ALL: [TextKind; 16] = [
        TextKind::Note,
        TextKind::Message,
        TextKind::GroupChat,
        TextKind::Email,
        TextKind::Notice,
        TextKind::Instructions,
        TextKind::Poster,
        TextKind::Timetable,
        TextKind::Recipe,
        TextKind::Diary,
        TextKind::Invitation,
        TextKind::Forecast,
        TextKind::List,
        TextKind::Label,
        TextKind::Reminder,
        TextKind::Story,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TextKind::Note => "note",
            TextKind::Message => "message",
            TextKind::GroupChat => "group-chat",
            TextKind::Email => "email",
            TextKind::Notice => "notice",
            TextKind::Instructions => "instructions",
            TextKind::Poster => "poster",
            TextKind::Timetable => "timetable",
            TextKind::Recipe => "recipe",
            TextKind::Diary => "diary",
            TextKind::Invitation => "invitation",
            TextKind::Forecast => "forecast",
            TextKind::List => "list",
            TextKind::Label => "label",
            TextKind::Reminder => "reminder",
            TextKind::Story => "story",
        }
    }

    fn template(self) -> fn(&mut Gen) -> Draft {
        match self {
            TextKind::Note => home::note,
            TextKind::Message => home::message,
            TextKind::GroupChat => mail::group_chat,
            TextKind::Email => mail::email,
            TextKind::Notice => notices::notice,
            TextKind::Instructions => instructions::instructions,
            TextKind::Poster => notices::poster,
            TextKind::Timetable => schedules::timetable,
            TextKind::Recipe => schedules::recipe,
            TextKind::Diary => days::diary,
            TextKind::Invitation => days::invitation,
            TextKind::Forecast => labels::forecast,
            TextKind::List => errands::list,
            TextKind::Label => labels::label,
            TextKind::Reminder => errands::reminder,
            TextKind::Story => story::story,
        }
    }
}

/// What a run made and skipped: counts per kind, per reason, and examples.
#[derive(Debug, Clone, Default, Serialize)]
pub struct NotesReport {
    pub seed: u64,
    /// Texts asked for (`--count`).
    pub count: usize,
    /// Conversations kept (one text each).
    pub texts: usize,
    pub questions: usize,
    pub unanswerable: usize,
    pub texts_per_kind: BTreeMap<String, usize>,
    pub questions_per_kind: BTreeMap<String, usize>,
    /// Why each unanswerable question has no answer in its text.
    pub unanswerable_per_reason: BTreeMap<String, usize>,
    /// Checked questions of each kind the templates offered, before each
    /// text picked its 1 to 4.
    pub candidates_per_kind: BTreeMap<String, usize>,
    /// Texts and questions left out, by reason.
    pub skipped: BTreeMap<String, usize>,
    /// Conversations per split (by text: 96/2/2).
    pub splits: BTreeMap<String, usize>,
    pub seconds: f64,
    /// A few conversations of each text kind.
    pub examples_per_text_kind: BTreeMap<String, Vec<Conversation>>,
    /// A few conversations holding each question kind.
    pub examples_per_question_kind: BTreeMap<String, Vec<Conversation>>,
}

/// One generated conversation, its text's kind and its questions (with the
/// gold facts of the unanswerable ones).
#[derive(Debug, Clone, PartialEq)]
pub struct NotesConversation {
    pub text_kind: TextKind,
    pub conversation: Conversation,
    pub qas: Vec<Qa>,
}

/// A text with its checked questions.
struct Checked {
    kind: TextKind,
    context: String,
    answerable: Vec<Qa>,
    unknowns: Vec<Qa>,
}

/// Does the lower-cased `text` hold `needle` anywhere, ignoring case?
fn holds(text_lower: &str, needle: &str) -> bool {
    text_lower.contains(&needle.to_lowercase())
}

/// Does the lower-cased `text` hold `needle` as a whole word, ignoring case?
fn holds_word(text_lower: &str, needle: &str) -> bool {
    gen::contains_word(text_lower, &needle.to_lowercase())
}

/// Is an unanswerable question truly unanswered by the lower-cased text:
/// it has a gold value, which is not in the text, and no cue is?
fn unanswered(text_lower: &str, qa: &Qa) -> bool {
    qa.gold.as_ref().is_some_and(|g| !g.trim().is_empty() && !holds_word(text_lower, g))
        && qa.cues.iter().all(|c| !c.trim().is_empty() && !holds(text_lower, c))
}

/// Joins the draft's lines and keeps the questions that pass the checks.
fn check(kind: TextKind, draft: Draft, skips: &mut Skips) -> Checked {
    let context = draft.lines.join("\n");
    let lower = context.to_lowercase();
    let mut answerable = Vec::new();
    let mut seen = HashSet::new();
    for qa in draft.qas {
        if qa.answer.trim().is_empty() || !context.contains(&qa.answer) {
            skip(skips, "answer not a span of the text");
        } else if holds_word(&qa.question.to_lowercase(), &qa.answer) {
            skip(skips, "answer inside the question");
        } else if !seen.insert(qa.question.to_lowercase()) {
            skip(skips, "question asked twice about one text");
        } else {
            answerable.push(qa);
        }
    }
    let mut unknowns = Vec::new();
    for qa in draft.unknowns {
        if !unanswered(&lower, &qa) {
            skip(skips, "unanswerable question whose fact or cue is in the text");
        } else if !seen.insert(qa.question.to_lowercase()) {
            skip(skips, "question asked twice about one text");
        } else {
            unknowns.push(qa);
        }
    }
    Checked { kind, context, answerable, unknowns }
}

/// The text number `i` of a run, with all its checked questions.
fn make_text(seed: u64, i: usize, skips: &mut Skips) -> Checked {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ mix64(i as u64 + 1));
    let kind = *TextKind::ALL.choose(&mut rng).expect("kinds");
    let mut g = Gen::new(ChaCha8Rng::seed_from_u64(rng.gen()));
    let mut draft = (kind.template())(&mut g);
    reasons::reword_reasons(&mut draft, &mut g);
    check(kind, draft, skips)
}

/// How many questions a text gets (1 to 4, mostly 2 or 3).
fn question_count(rng: &mut ChaCha8Rng) -> usize {
    let r: f64 = rng.gen();
    if r < 0.15 {
        1
    } else if r < 0.45 {
        2
    } else if r < 0.78 {
        3
    } else {
        4
    }
}

/// Conversation size as the template renders it (roughly: text plus the
/// role markers).
fn conversation_bytes(context: &str, qas: &[Qa]) -> usize {
    context.len() + 30 + qas.iter().map(|q| q.question.len() + q.answer.len() + 60).sum::<usize>()
}

/// Picks the questions of one text: 1 to 4, no two with the same answer,
/// kinds asked least so far first (weighted, not strictly), none over the
/// cap, and an unanswerable one when the set is below its share.
fn choose(
    rng: &mut ChaCha8Rng,
    text: &mut Checked,
    taken: &mut BTreeMap<Kind, usize>,
    total: &mut usize,
    skips: &mut Skips,
) -> Vec<Qa> {
    let want = question_count(rng);
    let mut out: Vec<Qa> = Vec::new();
    let unknown_count = taken.get(&Kind::Unanswerable).copied().unwrap_or(0);
    let below = (unknown_count as f64) < UNANSWERABLE_SHARE * (*total + want) as f64;
    if !text.unknowns.is_empty() && below && rng.gen_bool(0.6) {
        let i = rng.gen_range(0..text.unknowns.len());
        out.push(text.unknowns.swap_remove(i));
    }
    let mut pool = std::mem::take(&mut text.answerable);
    while out.len() < want && !pool.is_empty() {
        let after = *total + out.len() + 1;
        let cap = (MAX_KIND_SHARE * after as f64).floor() as usize;
        let count =
            |k: Kind, out: &[Qa]| taken.get(&k).copied().unwrap_or(0) + out.iter().filter(|q| q.kind == k).count();
        pool.retain(|q| after <= CAP_AFTER || count(q.kind, &out) < cap);
        pool.retain(|q| !out.iter().any(|o| o.answer == q.answer));
        if pool.is_empty() {
            break;
        }
        let weights: Vec<f64> = pool.iter().map(|q| 1.0 / (count(q.kind, &out) as f64 + 30.0).powi(2)).collect();
        let sum: f64 = weights.iter().sum();
        let mut x = rng.gen::<f64>() * sum;
        let mut at = pool.len() - 1;
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                at = i;
                break;
            }
            x -= w;
        }
        out.push(pool.swap_remove(at));
    }
    out.shuffle(rng);
    while out.len() > 1 && conversation_bytes(&text.context, &out) > MAX_CONVERSATION_BYTES {
        out.pop();
        skip(skips, "question over the conversation's size");
    }
    for q in &out {
        *taken.entry(q.kind).or_default() += 1;
    }
    *total += out.len();
    out
}

/// Makes `count` texts and their conversations for `seed`.
pub fn make_notes(count: usize, seed: u64) -> (Vec<NotesConversation>, NotesReport) {
    let mut report = NotesReport { seed, count, ..Default::default() };
    let mut skips = Skips::new();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut taken: BTreeMap<Kind, usize> = BTreeMap::new();
    let mut total = 0;
    let mut contexts: HashSet<String> = HashSet::new();
    let mut out = Vec::new();
    for i in 0..count {
        let mut text = make_text(seed, i, &mut skips);
        if !contexts.insert(text.context.clone()) {
            skip(&mut skips, "text the same as an earlier one");
            continue;
        }
        for q in text.answerable.iter().chain(&text.unknowns) {
            *report.candidates_per_kind.entry(q.kind.as_str().to_string()).or_default() += 1;
        }
        let qas = choose(&mut rng, &mut text, &mut taken, &mut total, &mut skips);
        if qas.is_empty() {
            skip(&mut skips, "text without a question");
            continue;
        }
        let mut messages = vec![Message::new(Role::Context, text.context.clone())];
        for qa in &qas {
            messages.push(Message::new(Role::User, qa.question.clone()));
            messages.push(Message::new(Role::Assistant, qa.answer.clone()));
        }
        out.push(NotesConversation { text_kind: text.kind, conversation: Conversation::new(messages), qas });
    }
    report.texts = out.len();
    for c in &out {
        *report.texts_per_kind.entry(c.text_kind.as_str().to_string()).or_default() += 1;
        let ex = report.examples_per_text_kind.entry(c.text_kind.as_str().to_string()).or_default();
        if ex.len() < EXAMPLES_PER_KIND {
            ex.push(c.conversation.clone());
        }
        for qa in &c.qas {
            report.questions += 1;
            *report.questions_per_kind.entry(qa.kind.as_str().to_string()).or_default() += 1;
            if let Some(reason) = qa.reason {
                *report.unanswerable_per_reason.entry(reason.to_string()).or_default() += 1;
            }
            let ex = report.examples_per_question_kind.entry(qa.kind.as_str().to_string()).or_default();
            if ex.len() < EXAMPLES_PER_KIND && !ex.contains(&c.conversation) {
                ex.push(c.conversation.clone());
            }
        }
    }
    report.unanswerable = report.questions_per_kind.get(Kind::Unanswerable.as_str()).copied().unwrap_or(0);
    report.skipped = skips.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    (out, report)
}

/// The split of a text: 96/2/2 by a hash of the text and the seed.
pub fn split_of(context: &str, seed: u64) -> Split {
    match mix64(fnv1a(context.as_bytes()) ^ seed) % 100 {
        0..=1 => Split::Val,
        2..=3 => Split::Test,
        _ => Split::Train,
    }
}

/// The conversations as a converted set (train / val / test by text).
pub fn to_converted(convs: Vec<NotesConversation>, report: &mut NotesReport, notes: Vec<String>) -> Converted {
    let seed = report.seed;
    let tagged = convs.into_iter().map(|c| (split_of(&c.conversation.messages[0].content, seed), c.conversation));
    let converted = Converted::from_tagged(SOURCE, tagged, &report.skipped, notes);
    report.splits = converted.split_counts();
    converted
}

/// The set's license: fledge's own text, like the `identity` set.
pub fn license() -> Option<SourceLicense> {
    let manifest = crate::data::license::Manifest::builtin();
    let mut l = manifest.resolve(SOURCE, Path::new(SOURCE), Some("own"), Path::new("fledge data notes")).ok()?;
    l.credit = "fledge's generated everyday texts and questions (fledge data notes)".into();
    Some(l)
}

// ---------------------------------------------------------------------------
// Files

#[derive(Debug, thiserror::Error)]
pub enum NotesError {
    #[error(transparent)]
    Write(#[from] ConvertError),
    #[error("cannot write {path}: {source}; check that --out is a writable folder")]
    WriteReport { path: String, source: std::io::Error },
}

/// What [`run`] did.
#[derive(Debug)]
pub struct NotesRun {
    pub report: NotesReport,
    pub written: Vec<PathBuf>,
}

/// `fledge data notes`: makes `count` texts with `seed` and writes
/// `out/notes/{train,val,test}.jsonl`, `report.json` (with the set's
/// license) and `notes-report.json`.
pub fn run(out: &Path, count: usize, seed: u64) -> Result<NotesRun, NotesError> {
    let start = std::time::Instant::now();
    let (convs, mut report) = make_notes(count, seed);
    let notes = vec![format!(
        "everyday texts and questions written by fledge's rules (seed {seed}, {count} texts); \
         every answer is a span of its text, every refusal checked to be unanswered"
    )];
    let converted = to_converted(convs, &mut report, notes);
    report.seconds = start.elapsed().as_secs_f64();
    let mut written = convert::write_with_license(&converted, out, license())?;
    let path = out.join(SOURCE).join("notes-report.json");
    crate::fsutil::write_json_atomic(&path, &report)
        .map_err(|e| NotesError::WriteReport { path: path.display().to_string(), source: e })?;
    written.push(path);
    Ok(NotesRun { report, written })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::chat::convert::UNKNOWN_ANSWER;

    fn pairs(c: &NotesConversation) -> impl Iterator<Item = (&str, &str)> {
        c.conversation.messages[1..].chunks(2).map(|p| (p[0].content.as_str(), p[1].content.as_str()))
    }

    #[test]
    fn every_answer_is_a_span_and_every_refusal_is_unanswered() {
        let (convs, report) = make_notes(3000, 7);
        assert!(report.texts > 2900, "{report:?}");
        for c in &convs {
            let m = &c.conversation.messages;
            assert_eq!(m[0].role, Role::Context);
            assert!(m.len() >= 3 && m.len() <= 9 && m.len() % 2 == 1, "{m:?}");
            for pair in m[1..].chunks(2) {
                assert_eq!((pair[0].role, pair[1].role), (Role::User, Role::Assistant));
            }
            let context = &m[0].content;
            let lower = context.to_lowercase();
            for (qa, (q, a)) in c.qas.iter().zip(pairs(c)) {
                assert_eq!((qa.question.as_str(), qa.answer.as_str()), (q, a));
                if qa.kind == Kind::Unanswerable {
                    assert_eq!(a, UNKNOWN_ANSWER);
                    let gold = qa.gold.as_deref().unwrap().to_lowercase();
                    assert!(qa.reason.is_some() && !gold.is_empty());
                    assert!(!gen::contains_word(&lower, &gold), "{gold:?} in {context}\n{q}");
                    for cue in &qa.cues {
                        assert!(!lower.contains(&cue.to_lowercase()), "{cue:?} in {context}\n{q}");
                    }
                } else {
                    assert!(context.contains(a), "{a:?} not in {context}\n{q}");
                    assert!(a != UNKNOWN_ANSWER && qa.gold.is_none() && qa.cues.is_empty());
                }
            }
            assert!(conversation_bytes(context, &c.qas) <= MAX_CONVERSATION_BYTES || c.qas.len() == 1);
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_set_and_another_seed_another() {
        let (a, ra) = make_notes(300, 3);
        let (b, rb) = make_notes(300, 3);
        assert_eq!(a, b);
        assert_eq!(ra.questions_per_kind, rb.questions_per_kind);
        let (c, _) = make_notes(300, 4);
        assert_ne!(a, c);
        assert_ne!(a[0].conversation, c[0].conversation);
    }

    #[test]
    fn all_kinds_appear_and_none_takes_more_than_a_quarter() {
        let (_, r) = make_notes(3000, 11);
        for k in TextKind::ALL {
            assert!(r.texts_per_kind.get(k.as_str()).copied().unwrap_or(0) > 100, "{k:?}: {:?}", r.texts_per_kind);
        }
        for k in Kind::ALL {
            let n = r.questions_per_kind.get(k.as_str()).copied().unwrap_or(0);
            assert!(n > 30, "{k:?}: {:?}", r.questions_per_kind);
            assert!(n as f64 <= MAX_KIND_SHARE * r.questions as f64, "{k:?}: {n} of {}", r.questions);
        }
        let share = r.unanswerable as f64 / r.questions as f64;
        assert!((0.09..=0.15).contains(&share), "{share}");
        assert!(r.questions as f64 / r.texts as f64 > 2.0, "{r:?}");
    }

    #[test]
    fn wordings_vary_and_names_are_many() {
        let (convs, _) = make_notes(2000, 5);
        let mut wordings: BTreeMap<Kind, HashSet<String>> = BTreeMap::new();
        let mut names = HashSet::new();
        for c in &convs {
            for qa in &c.qas {
                let opener: String = qa.question.split(' ').take(3).collect::<Vec<_>>().join(" ").to_lowercase();
                wordings.entry(qa.kind).or_default().insert(opener);
                if qa.kind == Kind::Who {
                    names.insert(qa.answer.clone());
                }
            }
        }
        for (k, w) in &wordings {
            assert!(w.len() >= 4, "{k:?}: {w:?}");
        }
        assert!(names.len() > 300, "{}", names.len());
        let casual = convs.iter().flat_map(|c| &c.qas).filter(|q| !q.question.ends_with('?')).count();
        assert!(casual > 100, "{casual}");
    }

    #[test]
    fn texts_split_96_2_2_and_stay_whole() {
        let (convs, mut report) = make_notes(2000, 9);
        let n = convs.len();
        let expected: Vec<(Split, Conversation)> =
            convs.iter().map(|c| (split_of(&c.conversation.messages[0].content, 9), c.conversation.clone())).collect();
        let converted = to_converted(convs, &mut report, Vec::new());
        for (split, conv) in expected {
            assert!(converted.split(split).contains(&conv));
        }
        let val = converted.split(Split::Val).len();
        let test = converted.split(Split::Test).len();
        assert!(val > 10 && val < 90 && test > 10 && test < 90, "{val} {test} of {n}");
        assert_eq!(report.splits.values().sum::<usize>(), n);
    }

    #[test]
    fn run_writes_a_set_the_conversation_reader_reads() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let run = run(&out, 400, 1234).unwrap();
        for f in ["train.jsonl", "val.jsonl", "test.jsonl", "report.json", "notes-report.json"] {
            assert!(out.join("notes").join(f).is_file(), "{f}");
        }
        let mut read = 0;
        for split in ["train", "val", "test"] {
            let (convs, skipped) =
                crate::chat::template::read_jsonl(&out.join(format!("notes/{split}.jsonl")), false).unwrap();
            assert_eq!(skipped, 0);
            read += convs.len();
        }
        assert_eq!(read, run.report.texts);
        let licenses = crate::data::license::of_chat_file(&out.join("notes/train.jsonl"));
        assert_eq!(licenses.len(), 1);
        assert_eq!(licenses[0].license, "own");
        let r: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("notes/notes-report.json")).unwrap()).unwrap();
        assert_eq!(r["questions"].as_u64().unwrap() as usize, run.report.questions);
        assert!(r["examples_per_text_kind"].as_object().unwrap().len() >= 10);
    }

    #[test]
    fn an_unwritable_out_is_an_error_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("not-a-folder");
        std::fs::write(&file, "x").unwrap();
        let err = run(&file, 20, 1).unwrap_err().to_string();
        assert!(err.contains(&file.display().to_string()), "{err}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        #[test]
        fn any_seed_gives_only_spans(seed in any::<u64>()) {
            let (convs, _) = make_notes(60, seed);
            prop_assert!(!convs.is_empty());
            for c in convs {
                let context = &c.conversation.messages[0].content;
                for (_, a) in pairs(&c) {
                    prop_assert!(a == UNKNOWN_ANSWER || context.contains(a), "{a:?} not in {context}");
                }
            }
        }
    }
}
