//! Self-Instruct's human-written tasks: `*.jsonl` lines of
//! `{"instruction", "instances": [{"input", "output"}, ...]}`
//! (human_eval_user_oriented_instructions.jsonl and data_seed_tasks.jsonl).
//!
//! One conversation per instance: the user gives the instruction, then the
//! input after a blank line when there is one; the assistant gives the
//! output. No splits in the set: the user message picks one (90/5/5).

use std::path::Path;

use serde::Deserialize;

use super::{files_in, for_each_json_line, hash_split, no_files, qa, Builder, ConvertError};

#[derive(Deserialize)]
struct Task {
    instruction: String,
    instances: Vec<Instance>,
}

#[derive(Deserialize)]
struct Instance {
    #[serde(default)]
    input: String,
    output: String,
}

pub(super) fn convert(dir: &Path) -> Result<Builder, ConvertError> {
    let files = files_in(dir, |n| n.ends_with(".jsonl"))?;
    if files.is_empty() {
        return Err(no_files(dir, "Self-Instruct *.jsonl files"));
    }
    let mut b = Builder::new("self-instruct");
    for path in files {
        let wrong_shape = "task lacks instruction or instances [{input, output}]";
        for_each_json_line(&mut b, &path, wrong_shape, |b, at, task: Task| {
            if task.instances.is_empty() {
                b.skip("task has no instances", at);
            }
            for inst in task.instances {
                let instruction = task.instruction.trim();
                let user = match inst.input.trim() {
                    "" => instruction.to_string(),
                    input => format!("{instruction}\n\n{input}"),
                };
                b.push_or_skip(hash_split("self-instruct", &user), qa(None, &user, &inst.output), at);
            }
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
        let c = convert_one("self-instruct", &fixture("self-instruct"));
        let mut all: Vec<_> = c.splits.iter().flat_map(|(s, convs)| convs.iter().map(move |c| (*s, msgs(c)))).collect();
        let with_input = "Turn the sentence into a question.\n\nThe bus is late.";
        let no_input = "Name three colours of the rainbow.";
        let mut expect = vec![
            (hash_split("self-instruct", no_input), vec![("user", no_input), ("assistant", "Red, yellow and blue.")]),
            (hash_split("self-instruct", with_input), vec![("user", with_input), ("assistant", "Is the bus late?")]),
        ];
        all.sort_by_key(|(s, _)| *s);
        expect.sort_by_key(|(s, _)| *s);
        assert_eq!(all, expect);
        assert_eq!(
            c.skipped,
            [
                ("empty answer".to_string(), 1),
                ("line is not valid JSON".to_string(), 1),
                ("task lacks instruction or instances [{input, output}]".to_string(), 1)
            ]
        );
    }

    #[test]
    fn real_data_counts() {
        let Some(dir) = real("chat/self-instruct-human") else { return };
        let c = convert_one("self-instruct", &dir);
        check_shape(&c);
        let [train, val, test] = counts(&c);
        assert_eq!(train + val + test + c.total_skipped(), 427);
        assert!(c.total_skipped() <= 2 && train > 360 && val > 8 && test > 8, "{:?} {:?}", counts(&c), c.skipped);
    }
}
