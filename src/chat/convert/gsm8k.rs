//! GSM8K: `*train.jsonl` and `*test.jsonl` lines of `{"question", "answer"}`.
//!
//! The worked answer loses its calculator annotations (`<<48/2=24>>`, a
//! tool call the model cannot make) and its final `#### 72` becomes the last
//! line "The answer is 72.", a sentence a chat model can say and an
//! evaluation can still find. Test stays test; 5% of train, picked by the
//! question, is held out as val.

use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;
use serde::Deserialize;

use super::{file_name, files_in, for_each_json_line, holdout_split, no_files, qa, Builder, ConvertError, Split};

#[derive(Deserialize)]
struct Problem {
    question: String,
    answer: String,
}

static CALCULATOR: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"<<[^<>]*>>").expect("valid regex"));

/// The answer as the assistant says it, or None without a `#### ` line.
pub(super) fn rewrite_answer(answer: &str) -> Option<String> {
    let (work, final_answer) = answer.rsplit_once("####")?;
    let final_answer = final_answer.trim();
    if final_answer.is_empty() || final_answer.contains('\n') {
        return None;
    }
    let work = CALCULATOR.replace_all(work.trim(), "");
    let work = work.trim();
    Some(if work.is_empty() {
        format!("The answer is {final_answer}.")
    } else {
        format!("{work}\nThe answer is {final_answer}.")
    })
}

pub(super) fn convert(dir: &Path) -> Result<Builder, ConvertError> {
    let files = files_in(dir, |n| n.ends_with("train.jsonl") || n.ends_with("test.jsonl"))?;
    if files.is_empty() {
        return Err(no_files(dir, "GSM8K *train.jsonl / *test.jsonl files"));
    }
    let mut b = Builder::new("gsm8k");
    for path in files {
        let name = file_name(&path);
        let test = name.ends_with("test.jsonl");
        for_each_json_line(&mut b, &path, "line lacks question or answer", |b, at, p: Problem| {
            let Some(answer) = rewrite_answer(&p.answer) else {
                b.skip("answer has no final `#### N` line", at);
                return;
            };
            let split = if test { Split::Test } else { holdout_split("gsm8k", p.question.trim()) };
            b.push_or_skip(split, qa(None, &p.question, &answer), at)
        })?;
    }
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::super::{holdout_split, Split};
    use super::rewrite_answer;

    #[test]
    fn answer_loses_annotations_and_states_the_result() {
        assert_eq!(
            rewrite_answer("Tom has 3+4 = <<3+4=7>>7 apples.\n#### 7").unwrap(),
            "Tom has 3+4 = 7 apples.\nThe answer is 7."
        );
        assert_eq!(rewrite_answer("no final line"), None);
    }

    #[test]
    fn fixture_converts_exactly() {
        let c = convert_one("gsm8k", &fixture("gsm8k"));
        let q1 = "A hen lays 2 eggs a day. How many eggs does it lay in 5 days?";
        let q2 = "Sam has 10 pencils and gives away 4. How many are left?";
        let a1 = "It lays 2 * 5 = 10 eggs.\nThe answer is 10.";
        let a2 = "Sam has 10 - 4 = 6 pencils left.\nThe answer is 6.";
        let test = "Each of 3 boxes holds 12 crayons. How many crayons are there?";
        assert_eq!(
            c.split(Split::Test).iter().map(msgs).collect::<Vec<_>>(),
            [vec![("user", test), ("assistant", "3 * 12 = 36 crayons.\nThe answer is 36.")]]
        );
        let train: Vec<_> = [(q1, a1), (q2, a2)]
            .into_iter()
            .filter(|(q, _)| holdout_split("gsm8k", q) == Split::Train)
            .map(|(q, a)| vec![("user", q), ("assistant", a)])
            .collect();
        assert_eq!(c.split(Split::Train).iter().map(msgs).collect::<Vec<_>>(), train);
        assert_eq!(counts(&c)[1] + train.len(), 2);
        assert_eq!(
            c.skipped,
            [("answer has no final `#### N` line".to_string(), 1), ("line lacks question or answer".to_string(), 1)]
        );
    }

    #[test]
    fn real_data_counts() {
        let Some(dir) = real("chat/gsm8k") else { return };
        let c = convert_one("gsm8k", &dir);
        check_shape(&c);
        let [train, val, test] = counts(&c);
        assert_eq!((train + val, test, c.total_skipped()), (7473, 1319, 0));
        assert!((300..450).contains(&val), "{val}");
        for conv in c.split(Split::Test) {
            let answer = &conv.messages[1].content;
            assert!(!answer.contains("<<") && !answer.contains("####"), "{answer}");
            assert!(answer.lines().last().unwrap().starts_with("The answer is "), "{answer}");
        }
    }
}
