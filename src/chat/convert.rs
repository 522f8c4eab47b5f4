//! Converters from public chat and QA sets (../shared/data/chat and
//! ../shared/data/qa) into conversation JSONL, one file per split.
//!
//! [`convert`] reads one dataset folder and returns one [`Converted`] per
//! output source: a single one for every dataset except bAbI, which gives one
//! per task (`babi-task1` ... `babi-task20`) so that evaluation can pick
//! tasks. [`write()`] puts each under `out_dir/{source}/{train,val,test}.jsonl`
//! with a `report.json` of counts, skips and notes.
//!
//! Choices, per source (the submodules say why):
//! - Official splits are kept where a dataset has them (FairytaleQA; the test
//!   files of GSM8K and bAbI). Where it has none, a conversation goes to
//!   train / val / test by a SHA-256 of a stable key (90/5/5), and where only a
//!   train file exists, 5% of it is held out as val the same way. Keys are
//!   content (the prompt, the bAbI story) rather than positions, so records
//!   that share a prompt land in the same split and cannot leak across.
//! - Topical-Chat has only its valid and test files: valid_freq + valid_rare
//!   become train, test_freq val, test_rare test.
//! - Every conversation ends with an assistant message (trailing user turns
//!   carry no loss and would break "prompt + reference answer" evaluation),
//!   consecutive messages of one speaker are merged with a newline, and
//!   passages the answer should come from go in one `context` message before
//!   the first user message.
//! - A bad record is skipped and counted with its reason; only a file that
//!   cannot be read or parsed at all is an error.

mod babi;
mod chatterbot;
mod fairytaleqa;
mod gsm8k;
mod identity;
mod p3_rc;
mod self_instruct;
mod taskmaster;
mod topical_chat;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::template::{write_jsonl, Conversation, Message, Role};

pub use fairytaleqa::{read_stories, Story, StoryQuestion};
pub use identity::UNKNOWN_ANSWER;

/// Every source [`convert`] knows, in the order the CLI lists them.
pub const SOURCES: &[&str] = &[
    "topical-chat",
    "taskmaster4",
    "chatterbot",
    "self-instruct",
    "gsm8k",
    "babi",
    "fairytaleqa",
    "p3-rc",
    "identity",
];

/// The folder of each source under ../shared/data, for a CLI default.
/// `identity` is generated and has none.
pub fn default_folder(source: &str) -> Option<&'static str> {
    Some(match source {
        "topical-chat" => "chat/topical-chat",
        "taskmaster4" => "chat/taskmaster4-coffee",
        "chatterbot" => "chat/chatterbot-english",
        "self-instruct" => "chat/self-instruct-human",
        "gsm8k" => "chat/gsm8k",
        "babi" => "qa/babi-en10k",
        "fairytaleqa" => "qa/fairytaleqa",
        "p3-rc" => "qa/p3-rc-from-selfinstruct",
        _ => return None,
    })
}

/// The license of a converted set (written into its report.json, where
/// fine-tuning finds it): the manifest's entry for the source's folder.
pub fn license(source: &str) -> Option<crate::data::license::SourceLicense> {
    let manifest = crate::data::license::Manifest::builtin();
    let (folder, declared) = match (default_folder(source), source) {
        (Some(f), _) => (Path::new(f).to_path_buf(), None),
        (None, "identity") => (PathBuf::from(source), Some("own")),
        (None, _) => return None,
    };
    let mut l = manifest.resolve(source, &folder, declared, Path::new("fledge data chat")).ok()?;
    if source == "identity" {
        l.credit = "fledge's generated identity conversations".into();
    }
    Some(l)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Split {
    Train,
    Val,
    Test,
}

impl Split {
    pub const ALL: [Split; 3] = [Split::Train, Split::Val, Split::Test];

    pub fn as_str(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Val => "val",
            Split::Test => "test",
        }
    }
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One output source: its conversations per split (always train, val, test
/// in that order, possibly empty), the records skipped with their reason and
/// count, and notes on anything missing from the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Converted {
    pub source: String,
    pub splits: Vec<(Split, Vec<Conversation>)>,
    pub skipped: Vec<(String, usize)>,
    pub notes: Vec<String>,
}

impl Converted {
    /// A set fledge generated itself (rc, notes): its conversations, each
    /// tagged with its split, the generator's skip counts and notes.
    pub(crate) fn from_tagged(
        source: &str,
        tagged: impl IntoIterator<Item = (Split, Conversation)>,
        skipped: &BTreeMap<String, usize>,
        notes: Vec<String>,
    ) -> Self {
        let mut b = Builder::new(source);
        for (split, conv) in tagged {
            b.push(split, conv);
        }
        b.skipped = skipped.clone();
        b.notes = notes;
        b.finish()
    }

    /// Conversations per split, by the split's name.
    pub fn split_counts(&self) -> BTreeMap<String, usize> {
        self.splits.iter().map(|(s, v)| (s.as_str().to_string(), v.len())).collect()
    }

    pub fn split(&self, split: Split) -> &[Conversation] {
        self.splits.iter().find(|(s, _)| *s == split).map(|(_, c)| c.as_slice()).unwrap_or(&[])
    }

    pub fn total_skipped(&self) -> usize {
        self.skipped.iter().map(|(_, n)| n).sum()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error("unknown source {name:?}; the sources are: {}", SOURCES.join(", "))]
    UnknownSource { name: String },
    #[error("{path}: {message}")]
    Input { path: String, message: String },
    #[error("cannot read {path}: {source}; check that --input points at the dataset folder and the file is readable")]
    Read { path: String, source: std::io::Error },
    #[error("{path}{location}: {message}")]
    Parse { path: String, location: String, message: String },
    #[error("cannot write {path}: {source}; check that the output folder is writable and the disk has room")]
    Write { path: String, source: std::io::Error },
}

impl ConvertError {
    fn parse(path: &Path, location: impl fmt::Display, message: impl Into<String>) -> Self {
        let location = location.to_string();
        let location = if location.is_empty() { location } else { format!(" ({location})") };
        ConvertError::Parse { path: path.display().to_string(), location, message: message.into() }
    }
}

/// Converts the dataset of `source` found in `input` (the dataset's folder,
/// e.g. ../shared/data/qa/babi-en10k; ignored for `identity`).
pub fn convert(source: &str, input: &Path) -> Result<Vec<Converted>, ConvertError> {
    if !SOURCES.contains(&source) {
        return Err(ConvertError::UnknownSource { name: source.to_string() });
    }
    if source != "identity" && !input.is_dir() {
        let hint = default_folder(source).map(|f| format!(", e.g. ../shared/data/{f}")).unwrap_or_default();
        return Err(ConvertError::Input {
            path: input.display().to_string(),
            message: format!("not a folder; pass --input the folder of the {source} dataset{hint}"),
        });
    }
    let one = |b: Builder| Ok(vec![b.finish()]);
    match source {
        "topical-chat" => one(topical_chat::convert(input)?),
        "taskmaster4" => one(taskmaster::convert(input)?),
        "chatterbot" => one(chatterbot::convert(input)?),
        "self-instruct" => one(self_instruct::convert(input)?),
        "gsm8k" => one(gsm8k::convert(input)?),
        "babi" => Ok(babi::convert(input)?.into_iter().map(Builder::finish).collect()),
        "fairytaleqa" => one(fairytaleqa::convert(input)?),
        "p3-rc" => one(p3_rc::convert(input)?),
        "identity" => one(identity::convert()),
        _ => unreachable!("checked against SOURCES"),
    }
}

/// Writes `out_dir/{source}/{split}.jsonl` for all three splits (an empty
/// split gives an empty file, so no stale file from an earlier run survives)
/// and `out_dir/{source}/report.json`. Returns the paths written.
pub fn write(converted: &Converted, out_dir: &Path) -> Result<Vec<PathBuf>, ConvertError> {
    let source = converted.source.split("-task").next().unwrap_or(&converted.source);
    write_with_license(converted, out_dir, license(source))
}

/// [`write()`], recording `license` in the report (fine-tuning carries it into
/// the chat model's card).
pub fn write_with_license(
    converted: &Converted,
    out_dir: &Path,
    license: Option<crate::data::license::SourceLicense>,
) -> Result<Vec<PathBuf>, ConvertError> {
    write_with_licenses(converted, out_dir, license.as_slice())
}

/// [`write_with_license`] for a set made from several sources (`fledge data
/// rc`, from a whole corpus): one license is written as `"license"`, several
/// as a `"licenses"` list.
pub fn write_with_licenses(
    converted: &Converted,
    out_dir: &Path,
    licenses: &[crate::data::license::SourceLicense],
) -> Result<Vec<PathBuf>, ConvertError> {
    let dir = out_dir.join(&converted.source);
    let write_err = |path: &Path, source| ConvertError::Write { path: path.display().to_string(), source };
    let mut written = Vec::new();
    for split in Split::ALL {
        let path = dir.join(format!("{split}.jsonl"));
        write_jsonl(&path, converted.split(split)).map_err(|e| write_err(&path, e))?;
        written.push(path);
    }
    let mut report = serde_json::json!({
        "source": converted.source,
        "conversations": Split::ALL.iter().map(|&s| (s.as_str().to_string(), converted.split(s).len().into()))
            .collect::<serde_json::Map<String, serde_json::Value>>(),
        "skipped": converted.skipped.iter().map(|(reason, count)| serde_json::json!({"reason": reason, "count": count}))
            .collect::<Vec<_>>(),
        "notes": converted.notes,
    });
    if licenses.len() > 1 {
        report["licenses"] = serde_json::json!(licenses);
    } else {
        report["license"] = serde_json::json!(licenses.first());
    }
    let path = dir.join("report.json");
    let mut text = serde_json::to_string_pretty(&report).expect("a JSON value serializes");
    text.push('\n');
    crate::fsutil::write_atomic(&path, text.as_bytes()).map_err(|e| write_err(&path, e))?;
    written.push(path);
    Ok(written)
}

/// Collects one source's conversations, skips and notes while converting.
struct Builder {
    source: String,
    splits: BTreeMap<Split, Vec<Conversation>>,
    skipped: BTreeMap<String, usize>,
    notes: Vec<String>,
}

/// How many skips of one reason are logged with their location; the rest
/// are only counted, so a systematically broken file does not flood the log.
const LOGGED_SKIPS: usize = 3;

impl Builder {
    fn new(source: impl Into<String>) -> Self {
        Self { source: source.into(), splits: BTreeMap::new(), skipped: BTreeMap::new(), notes: Vec::new() }
    }

    fn push(&mut self, split: Split, conv: Conversation) {
        self.splits.entry(split).or_default().push(conv);
    }

    /// Keeps a conversation [`qa`] made, or counts why it could not.
    fn push_or_skip(&mut self, split: Split, made: Result<Conversation, &'static str>, at: impl fmt::Display) {
        match made {
            Ok(conv) => self.push(split, conv),
            Err(reason) => self.skip(reason, at),
        }
    }

    fn skip(&mut self, reason: impl Into<String>, at: impl fmt::Display) {
        let reason = reason.into();
        let count = self.skipped.entry(reason.clone()).or_default();
        *count += 1;
        if *count <= LOGGED_SKIPS {
            tracing::warn!("{}: skipping {at}: {reason}", self.source);
        }
    }

    fn note(&mut self, note: impl Into<String>) {
        let note = note.into();
        tracing::warn!("{}: {note}", self.source);
        self.notes.push(note);
    }

    fn finish(mut self) -> Converted {
        Converted {
            source: self.source,
            splits: Split::ALL.iter().map(|&s| (s, self.splits.remove(&s).unwrap_or_default())).collect(),
            skipped: self.skipped.into_iter().collect(),
            notes: self.notes,
        }
    }
}

/// A number in 0..100 from a SHA-256 of `key`, stable across platforms and
/// runs (Rust's own hasher is randomly seeded).
fn bucket(key: &str) -> u64 {
    let digest = Sha256::digest(key.as_bytes());
    u64::from_be_bytes(digest[..8].try_into().expect("a SHA-256 digest has 8 bytes")) % 100
}

/// Train / val / test at 90/5/5 for a set without official splits.
pub(crate) fn hash_split(source: &str, key: &str) -> Split {
    // The source name is part of the key so two sets that share a prompt
    // are not split in lockstep.
    match bucket(&format!("{source}\n{key}")) {
        0..90 => Split::Train,
        90..95 => Split::Val,
        _ => Split::Test,
    }
}

/// Train or val (5%) for a record of an official train file.
fn holdout_split(source: &str, key: &str) -> Split {
    if bucket(&format!("{source}\n{key}")) < 5 {
        Split::Val
    } else {
        Split::Train
    }
}

/// Builds a conversation from `lead` messages (a context, kept as is) and
/// speaker turns: contents are trimmed, empty turns dropped, consecutive
/// turns of one role merged with a newline, and trailing non-assistant turns
/// dropped. Fails when no assistant turn is left.
fn dialogue(lead: Vec<Message>, turns: impl IntoIterator<Item = (Role, String)>) -> Result<Conversation, &'static str> {
    let mut messages = lead;
    let n_lead = messages.len();
    for (role, content) in turns {
        let content = content.trim();
        if content.is_empty() {
            continue;
        }
        let has_turns = messages.len() > n_lead;
        match messages.last_mut() {
            Some(last) if has_turns && last.role == role => {
                last.content.push('\n');
                last.content.push_str(content);
            }
            _ => messages.push(Message::new(role, content)),
        }
    }
    while messages.len() > n_lead && messages.last().is_some_and(|m| m.role != Role::Assistant) {
        messages.pop();
    }
    if messages.len() == n_lead {
        return Err("no assistant reply");
    }
    Ok(Conversation::new(messages))
}

/// One question and its answer, after an optional context.
fn qa(context: Option<String>, question: &str, answer: &str) -> Result<Conversation, &'static str> {
    let (question, answer) = (question.trim(), answer.trim());
    if question.is_empty() {
        return Err("empty question");
    }
    if answer.is_empty() {
        return Err("empty answer");
    }
    let mut messages = Vec::with_capacity(3);
    if let Some(context) = context {
        let context = context.trim();
        if context.is_empty() {
            return Err("empty context");
        }
        messages.push(Message::new(Role::Context, context));
    }
    messages.push(Message::new(Role::User, question));
    messages.push(Message::new(Role::Assistant, answer));
    Ok(Conversation::new(messages))
}

fn read_text(path: &Path) -> Result<String, ConvertError> {
    std::fs::read_to_string(path).map_err(|e| ConvertError::Read { path: path.display().to_string(), source: e })
}

/// The files directly in `dir` whose name satisfies `keep`, sorted by name
/// so the output order does not depend on the filesystem.
fn files_in(dir: &Path, keep: impl Fn(&str) -> bool) -> Result<Vec<PathBuf>, ConvertError> {
    let read_err = |e| ConvertError::Read { path: dir.display().to_string(), source: e };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read_err)? {
        let path = entry.map_err(read_err)?.path();
        if path.is_file() && path.file_name().and_then(|n| n.to_str()).is_some_and(&keep) {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// The error for a folder that holds none of the files a source needs.
fn no_files(dir: &Path, what: &str) -> ConvertError {
    ConvertError::Input {
        path: dir.display().to_string(),
        message: format!("no {what} here; pass --input the folder that holds them"),
    }
}

/// The file name of `path`, for locations in skip messages (the folder is
/// the --input the user gave).
fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| path.display().to_string())
}

/// Reads a JSON-lines file, handing each line parsed as a `T` to `each` with
/// its location (`file:line`); a line that is not JSON, or not a `T` (skipped
/// with the reason `wrong_shape`), is counted.
fn for_each_json_line<T: serde::de::DeserializeOwned>(
    b: &mut Builder,
    path: &Path,
    wrong_shape: &str,
    mut each: impl FnMut(&mut Builder, &str, T),
) -> Result<(), ConvertError> {
    let text = read_text(path)?;
    let name = file_name(path);
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = format!("{name}:{}", i + 1);
        match serde_json::from_str::<serde_json::Value>(line) {
            Ok(value) => match serde_json::from_value::<T>(value) {
                Ok(record) => each(b, &at, record),
                Err(_) => b.skip(wrong_shape, at),
            },
            Err(_) => b.skip("line is not valid JSON", at),
        }
    }
    Ok(())
}

#[cfg(test)]
mod test_util {
    use std::path::{Path, PathBuf};

    use super::*;

    pub fn fixture(source: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/chat").join(source)
    }

    /// The real dataset folder under ../shared/data, if this checkout has it.
    pub fn real(folder: &str) -> Option<PathBuf> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data").join(folder);
        dir.is_dir().then_some(dir)
    }

    pub fn convert_one(source: &str, dir: &Path) -> Converted {
        let mut out = convert(source, dir).unwrap();
        assert_eq!(out.len(), 1);
        out.pop().unwrap()
    }

    pub fn msgs(conv: &Conversation) -> Vec<(&str, &str)> {
        conv.messages.iter().map(|m| (m.role.as_str(), m.content.as_str())).collect()
    }

    pub fn counts(c: &Converted) -> [usize; 3] {
        Split::ALL.map(|s| c.split(s).len())
    }

    /// Every conversation is trainable and ends with the assistant.
    pub fn check_shape(c: &Converted) {
        for (split, convs) in &c.splits {
            for conv in convs {
                assert!(
                    crate::chat::template::validate(conv, true).is_ok()
                        && conv.messages.last().unwrap().role == Role::Assistant
                        && conv.messages.iter().all(|m| !m.content.trim().is_empty()),
                    "{} {split}: {conv:?}",
                    c.source
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_util::*;
    use super::*;

    #[test]
    fn unknown_source_lists_the_known_ones() {
        let err = convert("nope", Path::new(".")).unwrap_err().to_string();
        assert!(
            err.contains("\"nope\"") && err.contains("topical-chat, taskmaster4") && err.contains("identity"),
            "{err}"
        );
    }

    #[test]
    fn missing_input_folder_says_what_to_pass() {
        let err = convert("gsm8k", Path::new("/no/such/dir")).unwrap_err().to_string();
        assert!(err.contains("/no/such/dir") && err.contains("../shared/data/chat/gsm8k"), "{err}");
    }

    #[test]
    fn a_folder_without_the_files_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        for source in SOURCES.iter().filter(|s| **s != "identity") {
            let err = convert(source, dir.path()).unwrap_err();
            assert!(matches!(err, ConvertError::Input { .. }), "{source}: {err}");
        }
    }

    #[test]
    fn hash_split_is_stable_and_roughly_90_5_5() {
        // Pinned so a change of hashing (which would reshuffle every
        // published split) fails loudly.
        assert_eq!((bucket("fledge"), bucket("t\n0")), (24, 48));
        assert_eq!(hash_split("identity", "Who made you?"), Split::Train);
        let splits: Vec<Split> = (0..10_000).map(|i| hash_split("t", &i.to_string())).collect();
        let n = |s| splits.iter().filter(|&&x| x == s).count();
        assert!((8_800..9_200).contains(&n(Split::Train)), "{}", n(Split::Train));
        assert!((400..600).contains(&n(Split::Val)) && (400..600).contains(&n(Split::Test)));
        let held = (0..10_000).filter(|i| holdout_split("t", &i.to_string()) == Split::Val).count();
        assert!((400..600).contains(&held), "{held}");
    }

    #[test]
    fn an_unparsable_file_names_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("TM-4-2024_data_data_00.json"), "[\n{\"conversation_id\": 1,\n").unwrap();
        let err = convert("taskmaster4", dir.path()).unwrap_err().to_string();
        assert!(err.contains("TM-4-2024_data_data_00.json (line 3): not a JSON array of dialogues"), "{err}");
    }

    #[test]
    fn dialogue_merges_turns_and_ends_with_the_assistant() {
        let turns = [
            (Role::User, " hi ".to_string()),
            (Role::User, "there".to_string()),
            (Role::Assistant, "hello".to_string()),
            (Role::Assistant, "  ".to_string()),
            (Role::User, "bye".to_string()),
        ];
        let conv = dialogue(vec![Message::new(Role::Context, "facts")], turns).unwrap();
        assert_eq!(msgs(&conv), [("context", "facts"), ("user", "hi\nthere"), ("assistant", "hello")]);
        assert!(dialogue(vec![], [(Role::User, "alone".to_string())]).is_err());
    }

    #[test]
    fn write_puts_three_splits_and_a_report_under_the_source() {
        let dir = tempfile::tempdir().unwrap();
        let mut b = Builder::new("demo");
        b.push(Split::Train, qa(None, "q?", "a").unwrap());
        b.skip("bad", "x:1");
        b.note("no val file");
        let converted = b.finish();
        let paths = write(&converted, dir.path()).unwrap();
        let names: Vec<String> =
            paths.iter().map(|p| p.strip_prefix(dir.path()).unwrap().display().to_string()).collect();
        assert_eq!(names, ["demo/train.jsonl", "demo/val.jsonl", "demo/test.jsonl", "demo/report.json"]);
        let (convs, _) = crate::chat::template::read_jsonl(&paths[0], false).unwrap();
        assert_eq!(convs, converted.split(Split::Train));
        assert_eq!(std::fs::read_to_string(&paths[1]).unwrap(), "");
        let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&paths[3]).unwrap()).unwrap();
        assert_eq!(
            report,
            serde_json::json!({"source": "demo", "conversations": {"train": 1, "val": 0, "test": 0},
                "skipped": [{"reason": "bad", "count": 1}], "notes": ["no val file"], "license": null})
        );
    }
}
