//! Topical-Chat: `conversations_{split}.json` (an object of conversation id to
//! `{"content": [{"message", "agent"}, ...]}`) and `reading_sets_*_{split}.json`
//! (the facts each agent was given).
//!
//! agent_1 always opens, so agent_1 is the user and agent_2 the assistant:
//! the assistant gets loss on half the turns, the ones whose speaker saw
//! agent_2's reading set, which goes in the context. The "pre-build" reading
//! sets shipped in ../shared/data hold only ids of the Wikipedia leads and
//! fun facts (their text comes from the dataset's build script), so there
//! the context is only the three topics; a "post-build" file, when present,
//! is preferred and its texts are included up to [`CONTEXT_CHARS`].
//!
//! Splits: the folder has no train file, so valid_freq + valid_rare become
//! train, test_freq val and test_rare test (the rare-topic test is the harder
//! one, kept for the final number). With a `conversations_train.json`, the
//! official train / valid / test are used instead.

use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use super::{dialogue, file_name, no_files, read_text, Builder, ConvertError, Split};
use crate::chat::template::{Message, Role};

/// Enough for the topics and a few facts without dwarfing the chat itself.
const CONTEXT_CHARS: usize = 1500;

#[derive(Deserialize)]
struct Record {
    content: Vec<Turn>,
}

#[derive(Deserialize)]
struct Turn {
    message: String,
    agent: String,
}

pub(super) fn convert(dir: &Path) -> Result<Builder, ConvertError> {
    let mut b = Builder::new("topical-chat");
    let has_train = dir.join("conversations_train.json").is_file();
    let parts: &[(&str, Split)] = if has_train {
        &[
            ("train", Split::Train),
            ("valid_freq", Split::Val),
            ("valid_rare", Split::Val),
            ("test_freq", Split::Test),
            ("test_rare", Split::Test),
        ]
    } else {
        &[
            ("valid_freq", Split::Train),
            ("valid_rare", Split::Train),
            ("test_freq", Split::Val),
            ("test_rare", Split::Test),
        ]
    };
    let mut found = 0;
    for &(part, split) in parts {
        let path = dir.join(format!("conversations_{part}.json"));
        if !path.is_file() {
            b.note(format!("{} is missing: its conversations are not in {split}", file_name(&path)));
            continue;
        }
        found += 1;
        let reading = read_reading_sets(&mut b, dir, part)?;
        let convs = read_object(&path)?;
        let name = file_name(&path);
        for (id, record) in convs {
            let at = format!("{name} conversation {id}");
            let Ok(record) = serde_json::from_value::<Record>(record) else {
                b.skip("conversation lacks content [{message, agent}]", at);
                continue;
            };
            let turns: Option<Vec<(Role, String)>> = record
                .content
                .into_iter()
                .map(|t| match t.agent.as_str() {
                    "agent_1" => Some((Role::User, t.message)),
                    "agent_2" => Some((Role::Assistant, t.message)),
                    _ => None,
                })
                .collect();
            let Some(turns) = turns else {
                b.skip("turn by an agent other than agent_1 / agent_2", at);
                continue;
            };
            let lead = reading.as_ref().and_then(|(r, texts)| context(r.get(&id)?, *texts)).into_iter().collect();
            match dialogue(lead, turns) {
                Ok(conv) => b.push(split, conv),
                Err(reason) => b.skip(reason, at),
            }
        }
    }
    if found == 0 {
        return Err(no_files(dir, "conversations_{valid,test}_{freq,rare}.json files"));
    }
    Ok(b)
}

/// A Topical-Chat file: conversation id to record.
type Records = serde_json::Map<String, Value>;

fn read_object(path: &Path) -> Result<Records, ConvertError> {
    serde_json::from_str(&read_text(path)?).map_err(|e| {
        ConvertError::parse(path, format_args!("line {}", e.line()), format!("not a JSON object of id to record: {e}"))
    })
}

/// The reading sets of one part, post-build (with texts) if there is one;
/// the flag says whether it is.
fn read_reading_sets(b: &mut Builder, dir: &Path, part: &str) -> Result<Option<(Records, bool)>, ConvertError> {
    for (kind, texts) in [("post-build", true), ("pre-build", false)] {
        let path = dir.join(format!("reading_sets_{kind}_{part}.json"));
        if path.is_file() {
            return Ok(Some((read_object(&path)?, texts)));
        }
    }
    b.note(format!("reading_sets_*_{part}.json is missing: those conversations have no context"));
    Ok(None)
}

/// The context of one conversation from agent_2's reading set: the topics,
/// then, from a post-build file, the fact texts, cut at a whole line. (A
/// pre-build file's fun facts are ids such as "t3_yok2c", not text.)
fn context(reading: &Value, texts: bool) -> Option<Message> {
    let sets = reading.get("agent_2")?.as_object()?;
    let mut topics: Vec<&str> = Vec::new();
    let mut facts: Vec<String> = Vec::new();
    // FS1..FS3 in order; serde_json's map is sorted by key.
    for set in sets.iter().filter(|(k, _)| k.starts_with("FS")).map(|(_, set)| set) {
        let Some(entity) = set.get("entity").and_then(Value::as_str) else { continue };
        if !topics.contains(&entity) {
            topics.push(entity);
        }
        if !texts {
            continue;
        }
        let lead = ["shortened_wiki_lead_section", "summarized_wiki_lead_section"]
            .iter()
            .find_map(|k| set.get(*k).and_then(Value::as_str));
        if let Some(lead) = lead.map(str::trim).filter(|l| !l.is_empty()) {
            facts.push(format!("{entity}: {}", one_line(lead)));
        }
        let fun = set.get("fun_facts").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str);
        facts.extend(fun.map(str::trim).filter(|f| !f.is_empty()).map(|f| format!("- {}", one_line(f))));
    }
    if topics.is_empty() {
        return None;
    }
    let mut text = format!("Topics: {}.", topics.join(", "));
    for fact in facts {
        if text.len() + 1 + fact.len() > CONTEXT_CHARS {
            break;
        }
        text.push('\n');
        text.push_str(&fact);
    }
    Some(Message::new(Role::Context, text))
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::super::Split;

    #[test]
    fn fixture_converts_exactly() {
        let c = convert_one("topical-chat", &fixture("topical-chat"));
        assert_eq!(c.source, "topical-chat");
        assert_eq!(counts(&c), [2, 1, 1]);
        let train = c.split(Split::Train);
        assert_eq!(
            msgs(&train[0]),
            [
                ("context", "Topics: Kites, Weather."),
                ("user", "Have you ever flown a kite on a windy day?"),
                ("assistant", "Yes! Mine got stuck in a tree once."),
                ("user", "Ha, what colour was it?"),
                ("assistant", "Bright red, with a long tail.\nI still miss it."),
            ]
        );
        // The second valid_freq record has no content and is skipped; the
        // valid_rare one ends on agent_1, whose last turn is dropped.
        assert_eq!(
            msgs(&train[1]),
            [
                ("context", "Topics: Owls."),
                ("user", "Owls can turn their heads a long way."),
                ("assistant", "Almost all the way round, I read."),
            ]
        );
        assert_eq!(
            msgs(&c.split(Split::Val)[0]),
            [("context", "Topics: Bread."), ("user", "Do you bake?"), ("assistant", "Only on Sundays.")]
        );
        // test_rare has a post-build reading set: its texts join the topics.
        assert_eq!(
            msgs(&c.split(Split::Test)[0]),
            [
                (
                    "context",
                    "Topics: Moon.\nMoon: The Moon goes round the Earth about once a month.\n\
                     - The Moon has no air.\n- Footprints there can last a long time."
                ),
                ("user", "Would you like to visit the Moon?"),
                ("assistant", "Yes, to see the footprints."),
            ]
        );
        assert_eq!(c.skipped, [("conversation lacks content [{message, agent}]".to_string(), 1)]);
        assert!(c.notes.is_empty(), "{:?}", c.notes);
    }

    #[test]
    fn real_data_counts() {
        let Some(dir) = real("chat/topical-chat") else { return };
        let c = convert_one("topical-chat", &dir);
        check_shape(&c);
        assert_eq!(counts(&c), [1078, 539, 539]);
        assert_eq!(c.total_skipped(), 0);
        for conv in c.splits.iter().flat_map(|(_, convs)| convs) {
            let context = &conv.messages[0].content;
            assert!(context.starts_with("Topics: ") && !context.contains('\n'), "{context}");
        }
    }
}
