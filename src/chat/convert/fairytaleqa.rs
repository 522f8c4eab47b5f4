//! FairytaleQA: per story, a questions CSV (`question`, `cor_section` such as
//! `2` or `2, 3`, `answer1`...) and a section-stories CSV (`section`, `text`),
//! named `*questions_{split}_{story}-questions.csv` and
//! `*section-stories_{split}_{story}-story.csv` (or, in the dataset's own
//! layout, `{split}/{story}-questions.csv` and `{split}/{story}-story.csv`).
//!
//! Each question becomes one conversation: the sections it refers to as the
//! context (the Gutenberg hard wraps undone, paragraphs kept, sections
//! separated by a blank line), the question, and the first of the expert
//! answers. The official train / val / test split is kept.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::{file_name, files_in, no_files, qa, Builder, ConvertError, Split};

const SPLITS: [(&str, Split); 3] = [("train", Split::Train), ("val", Split::Val), ("test", Split::Test)];

pub(super) fn convert(dir: &Path) -> Result<Builder, ConvertError> {
    let pairs = story_files(dir)?;
    let mut b = Builder::new("fairytaleqa");
    for (split, questions, story) in pairs {
        let sections = if story.is_file() { Some(read_sections(&mut b, &story)?) } else { None };
        read_questions(&mut b, split, &questions, sections.as_ref())?;
    }
    Ok(b)
}

/// (split, questions CSV, section-stories CSV) of every story in `dir`, in either layout.
fn story_files(dir: &Path) -> Result<Vec<(Split, PathBuf, PathBuf)>, ConvertError> {
    let mut pairs: Vec<(Split, PathBuf, PathBuf)> = Vec::new();
    for (name, split) in SPLITS {
        // The flat layout of ../shared/data.
        let tag = format!("questions_{name}_");
        for q in files_in(dir, |n| n.contains(&tag) && n.ends_with("-questions.csv"))? {
            let story = file_name(&q)
                .replace(&tag, &format!("section-stories_{name}_"))
                .replace("-questions.csv", "-story.csv");
            pairs.push((split, q.clone(), dir.join(story)));
        }
        // The dataset's own layout, one folder per split.
        let sub = dir.join(name);
        if sub.is_dir() {
            for q in files_in(&sub, |n| n.ends_with("-questions.csv"))? {
                let story = file_name(&q).replace("-questions.csv", "-story.csv");
                pairs.push((split, q.clone(), sub.join(story)));
            }
        }
    }
    if pairs.is_empty() {
        return Err(no_files(dir, "FairytaleQA *questions_{train,val,test}_*-questions.csv files"));
    }
    Ok(pairs)
}

/// One story for retrieval evaluation: its sections as documents and its
/// questions with the sections that hold their answers.
#[derive(Debug, Clone)]
pub struct Story {
    pub split: Split,
    pub name: String,
    /// (section id as the CSV gives it, text with the hard wraps undone).
    pub sections: Vec<(String, String)>,
    pub questions: Vec<StoryQuestion>,
}

#[derive(Debug, Clone)]
pub struct StoryQuestion {
    pub question: String,
    /// Ids of the sections the answer is in (`cor_section`).
    pub sections: Vec<String>,
    /// Every non-empty expert answer (`answer1`..`answer6`).
    pub answers: Vec<String>,
}

/// Every story of a FairytaleQA folder with its sections and questions.
/// Rows the converter would skip are skipped here too (and counted).
pub fn read_stories(dir: &Path) -> Result<(Vec<Story>, usize), ConvertError> {
    let mut b = Builder::new("fairytaleqa");
    let mut stories = Vec::new();
    let mut skipped = 0;
    for (split, questions_path, story_path) in story_files(dir)? {
        if !story_path.is_file() {
            skipped += 1;
            continue;
        }
        let by_id = read_sections(&mut b, &story_path)?;
        let mut sections: Vec<(String, String)> = by_id.into_iter().collect();
        sections.sort_by_key(|(id, _)| (id.parse::<u32>().unwrap_or(u32::MAX), id.clone()));
        let mut reader = csv_reader(&questions_path)?;
        let [cor, question] = columns(&questions_path, &mut reader, ["cor_section", "question"])?;
        let answer_columns: Vec<usize> = {
            let headers =
                reader.headers().map_err(|e| ConvertError::parse(&questions_path, "line 1", e.to_string()))?;
            headers.iter().enumerate().filter(|(_, h)| h.trim().starts_with("answer")).map(|(i, _)| i).collect()
        };
        let mut questions = Vec::new();
        for row in reader.records() {
            let Ok(row) = row else {
                skipped += 1;
                continue;
            };
            let ids: Vec<String> = row
                .get(cor)
                .unwrap_or_default()
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|s| !s.is_empty() && sections.iter().any(|(id, _)| id == s))
                .map(str::to_string)
                .collect();
            let answers: Vec<String> = answer_columns
                .iter()
                .filter_map(|&i| row.get(i).map(str::trim).filter(|a| !a.is_empty()).map(str::to_string))
                .collect();
            let text = row.get(question).unwrap_or_default().trim();
            if ids.is_empty() || answers.is_empty() || text.is_empty() {
                skipped += 1;
                continue;
            }
            questions.push(StoryQuestion { question: text.to_string(), sections: ids, answers });
        }
        let name = file_name(&questions_path);
        let name =
            name.rsplit_once('_').map(|(_, n)| n).unwrap_or(&name).trim_end_matches("-questions.csv").to_string();
        stories.push(Story { split, name, sections, questions });
    }
    Ok((stories, skipped + b.skipped.values().sum::<usize>()))
}

fn csv_reader(path: &Path) -> Result<csv::Reader<std::fs::File>, ConvertError> {
    csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .map_err(|e| ConvertError::parse(path, "", format!("cannot open as CSV: {e}")))
}

/// The index of each named column, or an error naming the missing one.
fn columns<const N: usize>(
    path: &Path,
    reader: &mut csv::Reader<std::fs::File>,
    names: [&str; N],
) -> Result<[usize; N], ConvertError> {
    let headers = reader.headers().map_err(|e| ConvertError::parse(path, "line 1", format!("no CSV header: {e}")))?;
    let mut out = [0; N];
    for (slot, name) in out.iter_mut().zip(names) {
        *slot = headers.iter().position(|h| h.trim() == name).ok_or_else(|| {
            ConvertError::parse(
                path,
                "line 1",
                format!("no `{name}` column; FairytaleQA files need the columns {}", names.join(", ")),
            )
        })?;
    }
    Ok(out)
}

fn read_sections(b: &mut Builder, path: &Path) -> Result<HashMap<String, String>, ConvertError> {
    let mut reader = csv_reader(path)?;
    let [section, text] = columns(path, &mut reader, ["section", "text"])?;
    let name = file_name(path);
    let mut out = HashMap::new();
    for (i, row) in reader.records().enumerate() {
        let at = format!("{name} row {}", i + 1);
        let Ok(row) = row else {
            b.skip("story row is not valid CSV", at);
            continue;
        };
        match (row.get(section), row.get(text).map(unwrap)) {
            (Some(s), Some(t)) if !t.is_empty() => {
                out.insert(s.trim().to_string(), t);
            }
            _ => b.skip("story section without text", at),
        }
    }
    Ok(out)
}

fn read_questions(
    b: &mut Builder,
    split: Split,
    path: &Path,
    sections: Option<&HashMap<String, String>>,
) -> Result<(), ConvertError> {
    let mut reader = csv_reader(path)?;
    let [cor, question, answer] = columns(path, &mut reader, ["cor_section", "question", "answer1"])?;
    let name = file_name(path);
    for (i, row) in reader.records().enumerate() {
        let at = format!("{name} row {}", i + 1);
        let Some(sections) = sections else {
            b.skip("story file missing", at);
            continue;
        };
        let Ok(row) = row else {
            b.skip("question row is not valid CSV", at);
            continue;
        };
        let wanted = row.get(cor).unwrap_or_default();
        let context: Option<Vec<&str>> = wanted
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
            .map(|s| sections.get(s).map(String::as_str))
            .collect();
        let context = match context {
            Some(parts) if !parts.is_empty() => parts.join("\n\n"),
            _ => {
                b.skip("cor_section names no section of the story", at);
                continue;
            }
        };
        let made = qa(Some(context), row.get(question).unwrap_or_default(), row.get(answer).unwrap_or_default());
        b.push_or_skip(split, made, at);
    }
    Ok(())
}

/// Undoes hard line wraps: lines of one paragraph joined by a space,
/// paragraphs separated by one blank line.
fn unwrap(text: &str) -> String {
    let mut paragraphs: Vec<String> = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() {
            if !current.is_empty() {
                paragraphs.push(current.join(" "));
                current.clear();
            }
        } else {
            current.push(line);
        }
    }
    if !current.is_empty() {
        paragraphs.push(current.join(" "));
    }
    paragraphs.join("\n\n")
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::super::Split;

    #[test]
    fn fixture_converts_exactly() {
        let c = convert_one("fairytaleqa", &fixture("fairytaleqa"));
        let s1 = "A little fox lived under an old oak tree at the edge of the wood.\n\nEvery morning she \
                  counted the acorns.";
        let s2 = "One day a crow stole the biggest acorn.";
        assert_eq!(
            c.split(Split::Train).iter().map(msgs).collect::<Vec<_>>(),
            [
                vec![("context", s1), ("user", "Where did the fox live?"), ("assistant", "under an old oak tree")],
                vec![
                    ("context", format!("{s1}\n\n{s2}").as_str()),
                    ("user", "What did the crow do?"),
                    ("assistant", "stole the biggest acorn")
                ],
            ]
        );
        assert_eq!(
            c.split(Split::Test).iter().map(msgs).collect::<Vec<_>>(),
            [vec![
                ("context", "The miller's cat slept by the warm stove."),
                ("user", "Where did the cat sleep?"),
                ("assistant", "by the stove")
            ]]
        );
        assert_eq!(counts(&c), [2, 0, 1]);
        assert_eq!(
            c.skipped,
            [("cor_section names no section of the story".to_string(), 1), ("empty answer".to_string(), 1)]
        );
    }

    #[test]
    fn real_data_counts() {
        let Some(dir) = real("qa/fairytaleqa") else { return };
        let c = convert_one("fairytaleqa", &dir);
        check_shape(&c);
        assert_eq!(counts(&c), [8548, 1025, 1007]);
        assert_eq!(c.total_skipped(), 0, "{:?}", c.skipped);
    }
}
