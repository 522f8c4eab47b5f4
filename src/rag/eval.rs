//! Measuring retrieval on questions whose answers sit in known documents.
//!
//! FairytaleQA gives, for every question, the story sections that hold its
//! answer (`cor_section`). [`prepare_fairytaleqa`] writes every section of every
//! story as one text file (the collection a user would index) and the questions
//! with the files that answer them; [`evaluate`] asks each question and scores
//! the ranking:
//!
//! - recall@k: the share of questions with a passage from an answering section
//!   among the first k retrieved (several passages may come from one section);
//! - MRR: the mean over questions of 1 / rank of the first such passage
//!   (0 when none is in the first 10).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::chat::convert::read_stories;
use crate::fsutil::write_atomic;

use super::retrieve::{Mode, Retriever};
use super::RagError;

/// One question with its reference answers and the documents (paths relative
/// to the collection folder) that hold the answer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct QaItem {
    pub split: String,
    pub question: String,
    pub answers: Vec<String>,
    pub documents: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Prepared {
    pub documents: usize,
    pub document_bytes: usize,
    pub questions: usize,
    pub skipped_rows: usize,
}

/// Writes `out/docs/{split}/{story}/section-NN.txt` and `out/questions.jsonl`.
pub fn prepare_fairytaleqa(src: &Path, out: &Path) -> Result<Prepared, RagError> {
    let (stories, skipped_rows) = read_stories(src).map_err(|e| RagError::Invalid(e.to_string()))?;
    let mut prepared = Prepared { documents: 0, document_bytes: 0, questions: 0, skipped_rows };
    let mut lines = String::new();
    for story in &stories {
        let folder = format!("{}/{}", story.split, story.name);
        let file_of = |id: &str| match id.parse::<u32>() {
            Ok(n) => format!("{folder}/section-{n:02}.txt"),
            Err(_) => format!("{folder}/section-{id}.txt"),
        };
        for (id, text) in &story.sections {
            let path = out.join("docs").join(file_of(id));
            write_atomic(&path, format!("{text}\n").as_bytes()).map_err(|e| RagError::io(&path, e))?;
            prepared.documents += 1;
            prepared.document_bytes += text.len() + 1;
        }
        for q in &story.questions {
            let item = QaItem {
                split: story.split.to_string(),
                question: q.question.clone(),
                answers: q.answers.clone(),
                documents: q.sections.iter().map(|id| file_of(id)).collect(),
            };
            lines.push_str(&serde_json::to_string(&item).expect("plain data serializes"));
            lines.push('\n');
            prepared.questions += 1;
        }
    }
    let path = out.join("questions.jsonl");
    write_atomic(&path, lines.as_bytes()).map_err(|e| RagError::io(&path, e))?;
    Ok(prepared)
}

/// Reads a questions file written by [`prepare_fairytaleqa`] (or by hand in its shape).
pub fn read_items(path: &Path) -> Result<Vec<QaItem>, RagError> {
    let text = std::fs::read_to_string(path).map_err(|e| RagError::io(path, e))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| {
                RagError::Invalid(format!(
                    "{}:{}: not a question record ({e}); each line needs question, answers, documents, split",
                    path.display(),
                    i + 1
                ))
            })
        })
        .collect()
}

/// Retrieval quality and speed of one mode.
#[derive(Debug, Clone, Serialize)]
pub struct RetrievalScores {
    pub mode: Mode,
    pub questions: usize,
    pub recall_at_1: f64,
    pub recall_at_5: f64,
    pub recall_at_10: f64,
    pub mrr_at_10: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
}

/// Asks every question of `items` in `mode` and scores the rankings against
/// the answering documents under `collection` (the folder that was indexed).
pub fn evaluate(
    retriever: &dyn Retriever,
    items: &[QaItem],
    collection: &Path,
    mode: Mode,
) -> Result<RetrievalScores, RagError> {
    let root = collection.canonicalize().map_err(|e| RagError::io(collection, e))?;
    let mut hits = [0usize; 3];
    let mut reciprocal = 0.0;
    let mut times = Vec::with_capacity(items.len());
    let bar = crate::progress::count_bar(items.len() as u64, &format!("asking ({mode})"), "questions");
    for item in items {
        let relevant: HashSet<PathBuf> = item.documents.iter().map(|d| root.join(d)).collect();
        let t0 = Instant::now();
        let passages = retriever.retrieve(&item.question, 10, mode)?;
        times.push(t0.elapsed().as_secs_f64() * 1000.0);
        let first = passages.iter().position(|p| relevant.contains(&p.source));
        if let Some(rank) = first {
            for (slot, k) in hits.iter_mut().zip([1, 5, 10]) {
                if rank < k {
                    *slot += 1;
                }
            }
            reciprocal += 1.0 / (rank + 1) as f64;
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    let n = items.len().max(1) as f64;
    Ok(RetrievalScores {
        mode,
        questions: items.len(),
        recall_at_1: hits[0] as f64 / n,
        recall_at_5: hits[1] as f64 / n,
        recall_at_10: hits[2] as f64 / n,
        mrr_at_10: reciprocal / n,
        p50_ms: percentile(&mut times, 0.50),
        p95_ms: percentile(&mut times, 0.95),
    })
}

/// The `q` quantile (nearest rank) of `values`.
pub fn percentile(values: &mut [f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let rank = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len());
    values[rank - 1]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rag::retrieve::Passage;

    /// A retriever that returns fixed documents, to check the arithmetic.
    struct Fixed(Vec<PathBuf>);
    impl Retriever for Fixed {
        fn retrieve(&self, _: &str, k: usize, _: Mode) -> Result<Vec<Passage>, RagError> {
            Ok(self
                .0
                .iter()
                .take(k)
                .enumerate()
                .map(|(i, p)| Passage {
                    chunk_id: i as u64,
                    source: p.clone(),
                    label: String::new(),
                    line: 1,
                    text: String::new(),
                    tokens: 0,
                    score: 0.0,
                })
                .collect())
        }
    }

    #[test]
    fn recall_and_mrr_count_the_first_answering_passage() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let ranking: Vec<PathBuf> = (0..10).map(|i| root.join(format!("d{i}.txt"))).collect();
        let item = |doc: &str| QaItem {
            split: "test".into(),
            question: "q".into(),
            answers: vec!["a".into()],
            documents: vec![doc.into()],
        };
        // Relevant at rank 1, rank 3, and nowhere.
        let items = vec![item("d0.txt"), item("d2.txt"), item("missing.txt")];
        let s = evaluate(&Fixed(ranking), &items, dir.path(), Mode::Hybrid).unwrap();
        assert!((s.recall_at_1 - 1.0 / 3.0).abs() < 1e-9);
        assert!((s.recall_at_5 - 2.0 / 3.0).abs() < 1e-9);
        assert!((s.mrr_at_10 - (1.0 + 1.0 / 3.0) / 3.0).abs() < 1e-9);
    }

    #[test]
    fn percentiles_use_nearest_rank() {
        let mut v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&mut v, 0.5), 50.0);
        assert_eq!(percentile(&mut v, 0.95), 95.0);
    }
}
