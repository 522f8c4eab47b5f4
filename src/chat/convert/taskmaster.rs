//! Taskmaster-4 (coffee ordering): `TM-4-2024_data_*.json` files, each a JSON
//! array of `{"conversation_id", "utterances": [{"speaker", "text"}, ...]}`.
//!
//! Speakers are already "user" and "assistant". The API-call annotations on
//! turns are dropped: the template has no tool role, and the assistant's
//! words still read as a plausible order flow without them. The set has no
//! splits, so the conversation id picks one (90/5/5).

use std::path::Path;

use serde::Deserialize;

use super::{dialogue, file_name, files_in, hash_split, no_files, read_text, Builder, ConvertError};
use crate::chat::template::Role;

#[derive(Deserialize)]
struct Record {
    conversation_id: String,
    utterances: Vec<Utterance>,
}

#[derive(Deserialize)]
struct Utterance {
    speaker: String,
    text: String,
}

pub(super) fn convert(dir: &Path) -> Result<Builder, ConvertError> {
    let files = files_in(dir, |n| n.starts_with("TM-4") && n.ends_with(".json"))?;
    if files.is_empty() {
        return Err(no_files(dir, "TM-4-2024_data_*.json files"));
    }
    let mut b = Builder::new("taskmaster4");
    for path in files {
        let records: Vec<serde_json::Value> = serde_json::from_str(&read_text(&path)?).map_err(|e| {
            ConvertError::parse(&path, format_args!("line {}", e.line()), format!("not a JSON array of dialogues: {e}"))
        })?;
        let name = file_name(&path);
        for (i, record) in records.into_iter().enumerate() {
            let at = format!("{name} record {}", i + 1);
            let Ok(record) = serde_json::from_value::<Record>(record) else {
                b.skip("dialogue lacks conversation_id or utterances [{speaker, text}]", at);
                continue;
            };
            let turns: Option<Vec<(Role, String)>> = record
                .utterances
                .into_iter()
                .map(|u| match u.speaker.as_str() {
                    "user" => Some((Role::User, u.text)),
                    "assistant" => Some((Role::Assistant, u.text)),
                    _ => None,
                })
                .collect();
            let Some(turns) = turns else {
                b.skip("speaker other than user / assistant", at);
                continue;
            };
            match dialogue(Vec::new(), turns) {
                Ok(conv) => b.push(hash_split("taskmaster4", &record.conversation_id), conv),
                Err(reason) => b.skip(reason, at),
            }
        }
    }
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::super::{hash_split, Split};

    #[test]
    fn fixture_converts_exactly() {
        let c = convert_one("taskmaster4", &fixture("taskmaster4"));
        let all: Vec<_> = c.splits.iter().flat_map(|(s, convs)| convs.iter().map(move |c| (*s, msgs(c)))).collect();
        let split = |id| hash_split("taskmaster4", id);
        let mut expect = vec![
            (
                split("dlg-fixture-1"),
                vec![
                    ("user", "a small flat white please"),
                    ("assistant", "one small flat white. anything else?"),
                    ("user", "no thanks\nthat's all"),
                    ("assistant", "great, it will be ready in five minutes."),
                ],
            ),
            (split("dlg-fixture-3"), vec![("user", "hi, a hot chocolate"), ("assistant", "sure, for here or to go?")]),
        ];
        expect.sort_by_key(|(s, _)| *s);
        assert_eq!(all, expect);
        assert_eq!(
            c.skipped,
            [
                ("dialogue lacks conversation_id or utterances [{speaker, text}]".to_string(), 1),
                ("no assistant reply".to_string(), 1)
            ]
        );
    }

    #[test]
    fn real_data_counts() {
        let Some(dir) = real("chat/taskmaster4-coffee") else { return };
        let c = convert_one("taskmaster4", &dir);
        check_shape(&c);
        let [train, val, test] = counts(&c);
        assert_eq!(train + val + test + c.total_skipped(), 3710);
        assert!(c.total_skipped() < 10 && (3200..3500).contains(&train) && (120..250).contains(&val), "{c:?}");
        assert!((120..250).contains(&test));
        assert!(c.split(Split::Test).iter().all(|c| c.messages[0].role.as_str() == "user"));
    }
}
