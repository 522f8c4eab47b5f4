//! P3 reading-comprehension prompts (from the Self-Instruct repository):
//! `*.jsonl` lines of `{"prompt", "completion"}`, the passage inside the
//! prompt.
//!
//! The whole prompt is the user message: its dozens of templates put the
//! passage in different places and cutting it out reliably would need one
//! parser per template. The completion, trimmed, is the answer, without the
//! `<|endoftext|>` every published completion ends with (kept, it would teach
//! the model to write the marker as text before its own end token). No splits
//! in the set: the prompt picks one (90/5/5), so repeated prompts stay together.

use std::path::Path;

use serde::Deserialize;

use super::{files_in, for_each_json_line, hash_split, no_files, qa, Builder, ConvertError};

/// GPT-2's end-of-text marker, which ends the published completions.
const END_OF_TEXT: &str = "<|endoftext|>";

#[derive(Deserialize)]
struct Pair {
    prompt: String,
    completion: String,
}

pub(super) fn convert(dir: &Path) -> Result<Builder, ConvertError> {
    let files = files_in(dir, |n| n.ends_with(".jsonl"))?;
    if files.is_empty() {
        return Err(no_files(dir, "prompt/completion *.jsonl files"));
    }
    let mut b = Builder::new("p3-rc");
    for path in files {
        for_each_json_line(&mut b, &path, "line lacks prompt or completion", |b, at, pair: Pair| {
            let answer = pair.completion.trim_end().trim_end_matches(END_OF_TEXT);
            b.push_or_skip(hash_split("p3-rc", pair.prompt.trim()), qa(None, &pair.prompt, answer), at)
        })?;
    }
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::super::hash_split;
    use super::super::test_util::*;

    #[test]
    fn fixture_converts_exactly() {
        let c = convert_one("p3-rc", &fixture("p3-rc"));
        let p1 = "Read the text and answer.\n\nThe lamp was green.\n\nQ: What colour was the lamp?";
        let p2 = "Given the passage, who found the key?\n\nMia looked under the mat and found the key.";
        let mut expect = vec![
            (hash_split("p3-rc", p1), vec![("user", p1), ("assistant", "green")]),
            (hash_split("p3-rc", p2), vec![("user", p2), ("assistant", "Mia")]),
        ];
        expect.sort_by_key(|(s, _)| *s);
        let all: Vec<_> = c.splits.iter().flat_map(|(s, convs)| convs.iter().map(move |c| (*s, msgs(c)))).collect();
        assert_eq!(all, expect);
        assert_eq!(c.skipped, [("empty answer".to_string(), 1), ("line lacks prompt or completion".to_string(), 1)]);
    }

    #[test]
    fn real_data_counts() {
        let Some(dir) = real("qa/p3-rc-from-selfinstruct") else { return };
        let c = convert_one("p3-rc", &dir);
        check_shape(&c);
        let [train, val, test] = counts(&c);
        assert_eq!(train + val + test + c.total_skipped(), 13_762);
        assert!(c.total_skipped() < 50 && val > 500 && test > 500, "{:?} {:?}", counts(&c), c.skipped);
        let conversations = c.splits.iter().flat_map(|(_, convs)| convs);
        for (_, answer) in conversations.flat_map(msgs).filter(|(role, _)| *role == "assistant") {
            assert!(!answer.contains("endoftext"), "the marker is left in an answer: {answer:?}");
        }
    }
}
