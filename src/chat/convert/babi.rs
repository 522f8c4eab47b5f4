//! bAbI (v1.2): `[DataModel_]qa{N}_{name}_{train,test}.txt`, numbered lines
//! where a story starts again when the number does not grow (it goes back to
//! 1); a question line is `N question?\tanswer\tsupporting ids`.
//!
//! Each question becomes one conversation: the story's statements so far
//! (numbers and earlier questions removed, one per line) as the context, the
//! question, and the answer as given (`s,e` for paths, `apple,milk` for
//! lists). Each task is its own source, `babi-task{N}`, so evaluation can pick
//! tasks. Test stays test; 5% of the train stories (whole stories, so no
//! val question shares its story with a train one) are held out as val.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use regex::Regex;

use super::{file_name, files_in, holdout_split, no_files, qa, read_text, Builder, ConvertError, Split};

static FILE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"qa(\d+)_[A-Za-z-]+_(train|test)\.txt$").expect("valid regex"));

pub(super) fn convert(dir: &Path) -> Result<Vec<Builder>, ConvertError> {
    let mut tasks: BTreeMap<u32, [Option<PathBuf>; 2]> = BTreeMap::new();
    for path in files_in(dir, |n| FILE.is_match(n))? {
        let name = file_name(&path);
        let caps = FILE.captures(&name).expect("matched when listed");
        let task: u32 = caps[1].parse().expect("digits");
        tasks.entry(task).or_default()[usize::from(&caps[2] == "test")] = Some(path);
    }
    if tasks.is_empty() {
        return Err(no_files(dir, "bAbI qa{N}_{name}_{train,test}.txt files"));
    }
    let mut out = Vec::with_capacity(tasks.len());
    for (task, [train, test]) in tasks {
        let mut b = Builder::new(format!("babi-task{task}"));
        match train {
            Some(path) => read_file(&mut b, &path, false)?,
            None => b.note(format!("task {task} has no train file: train and val are empty")),
        }
        match test {
            Some(path) => read_file(&mut b, &path, true)?,
            None => b.note(format!("task {task} has no test file: test is empty")),
        }
        out.push(b);
    }
    Ok(out)
}

fn read_file(b: &mut Builder, path: &Path, test: bool) -> Result<(), ConvertError> {
    let text = read_text(path)?;
    let name = file_name(path);
    // (line number in the file, text) per story.
    let mut stories: Vec<Vec<(usize, &str)>> = Vec::new();
    let mut prev = 0u64;
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let Some((n, rest)) = line.trim_start().split_once(' ').and_then(|(n, r)| Some((n.parse::<u64>().ok()?, r)))
        else {
            b.skip("line does not start with its number", format_args!("{name}:{}", i + 1));
            continue;
        };
        if n <= prev || stories.is_empty() {
            stories.push(Vec::new());
        }
        prev = n;
        stories.last_mut().expect("pushed").push((i + 1, rest));
    }
    for story in stories {
        let split = if test {
            Split::Test
        } else {
            let key: Vec<&str> = story.iter().map(|(_, l)| *l).collect();
            holdout_split(&b.source, &key.join("\n"))
        };
        let mut context = String::new();
        for (line, rest) in story {
            let Some((question, tail)) = rest.split_once('\t') else {
                if !context.is_empty() {
                    context.push('\n');
                }
                context.push_str(rest.trim());
                continue;
            };
            let answer = tail.split('\t').next().unwrap_or_default();
            b.push_or_skip(split, qa(Some(context.clone()), question, answer), format_args!("{name}:{line}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::super::{convert, holdout_split, Split};

    #[test]
    fn fixture_converts_exactly() {
        let out = convert("babi", &fixture("babi")).unwrap();
        let names: Vec<&str> = out.iter().map(|c| c.source.as_str()).collect();
        assert_eq!(names, ["babi-task1", "babi-task3"]);
        let t1 = &out[0];
        assert_eq!(
            t1.split(Split::Test).iter().map(msgs).collect::<Vec<_>>(),
            [
                vec![
                    ("context", "Tom went to the barn.\nAnn ran to the pond."),
                    ("user", "Where is Tom?"),
                    ("assistant", "barn")
                ],
                vec![
                    ("context", "Tom went to the barn.\nAnn ran to the pond.\nTom walked to the shed."),
                    ("user", "Where is Tom?"),
                    ("assistant", "shed")
                ],
                vec![("context", "Ann hopped to the yard."), ("user", "Where is Ann?"), ("assistant", "yard")],
            ]
        );
        // Train: two stories, each going whole to train or val.
        let s1 = "Ann went to the shed.\nWhere is Ann? \tshed\t1";
        let s2 = "Tom ran to the pond.\nWhere is Tom?\tpond\t1";
        let mut expect: Vec<(Split, Vec<(&str, &str)>)> = vec![
            (
                holdout_split("babi-task1", s1),
                vec![("context", "Ann went to the shed."), ("user", "Where is Ann?"), ("assistant", "shed")],
            ),
            (
                holdout_split("babi-task1", s2),
                vec![("context", "Tom ran to the pond."), ("user", "Where is Tom?"), ("assistant", "pond")],
            ),
        ];
        expect.sort_by_key(|(s, _)| *s);
        let got: Vec<_> =
            [Split::Train, Split::Val].iter().flat_map(|&s| t1.split(s).iter().map(move |c| (s, msgs(c)))).collect();
        assert_eq!(got, expect);
        assert_eq!(
            t1.skipped,
            [("empty answer".to_string(), 1), ("line does not start with its number".to_string(), 1)]
        );
        let t3 = &out[1];
        assert_eq!(counts(t3), [0, 0, 1]);
        assert_eq!(t3.notes, ["task 3 has no train file: train and val are empty"]);
    }

    #[test]
    fn real_data_counts() {
        let Some(dir) = real("qa/babi-en10k") else { return };
        let out = convert("babi", &dir).unwrap();
        assert_eq!(out.len(), 20);
        for (i, c) in out.iter().enumerate() {
            check_shape(c);
            assert_eq!(c.source, format!("babi-task{}", i + 1));
            let [train, val, test] = counts(c);
            assert_eq!((test, c.total_skipped()), (1000, 0), "{}", c.source);
            if i + 1 == 3 {
                assert_eq!((train, val), (0, 0));
            } else {
                assert_eq!(train + val, 10_000, "{}", c.source);
                assert!((300..800).contains(&val), "{} {val}", c.source);
            }
        }
        let first = &out[0].split(Split::Test)[0];
        assert_eq!(msgs(first)[1..], [("user", "Where is John?"), ("assistant", "hallway")]);
    }
}
