//! Rankings: BM25 (words), dense (meaning), and the two fused.
//!
//! BM25 finds the passage that shares the question's rare words, and misses
//! it when the question paraphrases. The sentence embedding finds paraphrases,
//! and blurs names and rare words together. Reciprocal rank fusion (Cormack et
//! al., 2009) adds 1 / (60 + rank) from each ranking: it needs no score
//! calibration between two very different scorers, and a passage both place
//! high beats one that only either likes.
//!
//! [`Retriever`] is the seam for other stores (a vector database for collections
//! beyond one machine); [`Index`] is the embedded default.

use std::collections::HashMap;
use std::path::PathBuf;
use std::str::FromStr;

use serde::Serialize;

use super::index::Index;
use super::RagError;

/// How the two rankings are fused: each contributes `weight / (k + rank)`.
///
/// The paper's k is 60 with equal weights. On FairytaleQA's validation
/// questions (never its test questions; `fledge index eval --split val
/// --dense-weight W --rrf-k K`) that fusion lost to BM25 alone (MRR 0.499 vs
/// 0.585): MiniLM's ranking is much weaker there (0.338), and equal votes let
/// it pull good BM25 hits down. A small k (the top ranks count most) and a
/// dense weight of 0.3 were best (MRR 0.588, recall@5 0.720 vs 0.709): BM25
/// leads, and the dense ranking lifts what both agree on.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Fusion {
    pub k: f32,
    pub bm25_weight: f32,
    pub dense_weight: f32,
}

impl Default for Fusion {
    fn default() -> Fusion {
        Fusion { k: 2.0, bm25_weight: 1.0, dense_weight: 0.3 }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Bm25,
    Dense,
    Hybrid,
}

impl FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Mode, String> {
        match s {
            "bm25" => Ok(Mode::Bm25),
            "dense" => Ok(Mode::Dense),
            "hybrid" => Ok(Mode::Hybrid),
            other => Err(format!("unknown retrieval mode {other:?} (bm25, dense or hybrid)")),
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Mode::Bm25 => "bm25",
            Mode::Dense => "dense",
            Mode::Hybrid => "hybrid",
        })
    }
}

/// A retrieved chunk: its text and where it came from.
#[derive(Clone, Debug, Serialize)]
pub struct Passage {
    pub chunk_id: u64,
    pub source: PathBuf,
    /// 1-based line of the source where the chunk starts.
    pub line: usize,
    pub text: String,
    pub tokens: usize,
    /// The ranking's score: BM25 score, cosine similarity, or fused RRF score.
    pub score: f32,
}

/// Anything that can rank passages for a question.
pub trait Retriever {
    fn retrieve(&self, query: &str, k: usize, mode: Mode) -> Result<Vec<Passage>, RagError>;
}

/// How many candidates each ranking contributes before fusion: deep enough
/// that a passage ranked low by one and high by the other still counts.
fn candidates(k: usize) -> usize {
    (k * 4).max(50)
}

impl Retriever for Index {
    fn retrieve(&self, query: &str, k: usize, mode: Mode) -> Result<Vec<Passage>, RagError> {
        let ranked: Vec<(u64, f32)> = match mode {
            Mode::Bm25 => self.bm25_ranking(query, k)?,
            Mode::Dense => self.dense_ranking(query, k)?,
            Mode::Hybrid if self.settings().embedder.is_none() => self.bm25_ranking(query, k)?,
            Mode::Hybrid => {
                let n = candidates(k);
                let f = self.fusion;
                let fused = rrf(
                    &[(self.bm25_ranking(query, n)?, f.bm25_weight), (self.dense_ranking(query, n)?, f.dense_weight)],
                    f.k,
                );
                fused.into_iter().take(k).collect()
            }
        };
        let chunks = self.chunk_map();
        let mut out = Vec::with_capacity(ranked.len());
        for (id, score) in ranked {
            // BM25 may hold chunks of an ingest that was killed before its manifest landed.
            let Some((doc, c)) = chunks.get(&id) else { continue };
            out.push(Passage {
                chunk_id: id,
                source: doc.path.clone(),
                line: c.span.line,
                text: self.text_of(c)?.to_string(),
                tokens: c.span.tokens,
                score,
            });
        }
        Ok(out)
    }
}

impl Index {
    fn bm25_ranking(&self, query: &str, k: usize) -> Result<Vec<(u64, f32)>, RagError> {
        self.bm25().search(query, k)
    }

    /// Cosine similarity of the query's embedding with every chunk's (the
    /// vectors are unit length, so a dot product), best `k` first.
    fn dense_ranking(&self, query: &str, k: usize) -> Result<Vec<(u64, f32)>, RagError> {
        let Some(embedder) = &self.embedder else {
            return Err(match self.settings().embedder {
                None => RagError::Invalid(format!(
                    "{} is a BM25-only index: dense retrieval needs an index built with an embedding model ({})",
                    self.dir().display(),
                    self.rebuild_hint()
                )),
                Some(_) => RagError::NoEmbedder,
            });
        };
        let q = embedder.embed(&[query])?.pop().expect("one vector per text");
        let rows = self.vectors()?;
        let mut scored: Vec<(u64, f32)> =
            rows.ids.iter().zip(rows.data.chunks_exact(rows.dim)).map(|(&id, v)| (id, dot(&q, v))).collect();
        let k = k.min(scored.len());
        if k == 0 {
            return Ok(Vec::new());
        }
        scored.select_nth_unstable_by(k - 1, |a, b| b.1.total_cmp(&a.1));
        scored.truncate(k);
        scored.sort_by(|a, b| b.1.total_cmp(&a.1));
        Ok(scored)
    }
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Weighted reciprocal rank fusion of rankings (best first), best fused first.
/// Ties keep the order of first appearance, so results are deterministic.
pub fn rrf(rankings: &[(Vec<(u64, f32)>, f32)], k: f32) -> Vec<(u64, f32)> {
    let mut score: HashMap<u64, (f32, usize)> = HashMap::new();
    let mut order = 0;
    for (ranking, weight) in rankings {
        for (rank, (id, _)) in ranking.iter().enumerate() {
            let entry = score.entry(*id).or_insert_with(|| {
                order += 1;
                (0.0, order)
            });
            entry.0 += weight / (k + rank as f32 + 1.0);
        }
    }
    let mut fused: Vec<(u64, f32, usize)> = score.into_iter().map(|(id, (s, o))| (id, s, o)).collect();
    fused.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.2.cmp(&b.2)));
    fused.into_iter().map(|(id, s, _)| (id, s)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fusion_rewards_agreement() {
        // 7 is second in both lists; 1 is first in one and absent from the other.
        let bm25 = vec![(1, 9.0), (7, 8.0), (3, 7.0)];
        let dense = vec![(5, 0.9), (7, 0.8), (3, 0.7)];
        let fused = rrf(&[(bm25, 1.0), (dense, 1.0)], 60.0);
        let ids: Vec<u64> = fused.iter().map(|f| f.0).collect();
        assert_eq!(ids, vec![7, 3, 1, 5]);
        assert!((fused[0].1 - 2.0 / 62.0).abs() < 1e-6);
        // Weighting one ranking lets it lead.
        let fused = rrf(&[(vec![(1, 9.0), (7, 8.0)], 1.0), (vec![(5, 0.9), (7, 0.8)], 0.2)], 60.0);
        assert_eq!(fused.iter().map(|f| f.0).collect::<Vec<_>>(), vec![7, 1, 5]);
        let fused = rrf(&[(vec![(1, 9.0), (7, 8.0)], 1.0), (vec![(5, 0.9), (8, 0.8)], 0.2)], 60.0);
        assert_eq!(fused.iter().map(|f| f.0).collect::<Vec<_>>(), vec![1, 7, 5, 8]);
    }

    #[test]
    fn modes_parse() {
        assert_eq!("hybrid".parse::<Mode>().unwrap(), Mode::Hybrid);
        assert!("vector".parse::<Mode>().unwrap_err().contains("bm25, dense or hybrid"));
    }
}
