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
    /// How the source is named to the model and to the user: its path under
    /// the folder it was indexed from (see [`Index::source_label`]).
    pub label: String,
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
        let ranked: Vec<(u64, f32)> = match self.mode_used(mode) {
            Mode::Bm25 => self.bm25_ranking(query, k)?,
            Mode::Dense => self.dense_ranking(query, k)?,
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
                label: self.source_label(&doc.path),
                line: c.span.line,
                text: self.text_of(c)?.to_string(),
                tokens: c.span.tokens,
                score,
            });
        }
        Ok(out)
    }
}

/// Words that say nothing about which document a question is about:
/// English function words, pronouns and greetings. Small talk ("Who are
/// you?", "Hello! How are you?") is made of nothing else.
const COMMON_WORDS: &[&str] = &[
    "a", "about", "again", "all", "am", "an", "and", "any", "are", "as", "at", "be", "been", "being", "but", "by",
    "can", "could", "d", "did", "do", "does", "doing", "done", "for", "from", "had", "has", "have", "having", "he",
    "hello", "her", "here", "hey", "hi", "him", "his", "how", "i", "if", "in", "into", "is", "it", "its", "just", "ll",
    "m", "may", "me", "might", "mine", "must", "my", "myself", "no", "not", "now", "of", "ok", "okay", "on", "or",
    "our", "please", "re", "s", "shall", "she", "should", "so", "t", "tell", "than", "thank", "thanks", "that", "the",
    "their", "them", "then", "there", "these", "they", "this", "to", "too", "us", "ve", "very", "was", "we", "were",
    "what", "when", "where", "which", "who", "whom", "whose", "why", "will", "with", "would", "yes", "you", "your",
    "yours", "yourself",
];

/// The question's informative words: what is left without `COMMON_WORDS`.
pub fn content_words(question: &str) -> Vec<String> {
    question
        .split(|c: char| !c.is_alphanumeric())
        .map(str::to_lowercase)
        .filter(|w| !w.is_empty() && !COMMON_WORDS.contains(&w.as_str()))
        .collect()
}

impl Index {
    /// The mode a search really runs: hybrid on a BM25-only index (no
    /// vectors to fuse with) is BM25 alone, and is reported as such.
    pub fn mode_used(&self, asked: Mode) -> Mode {
        match asked {
            Mode::Hybrid if self.settings().embedder.is_none() => Mode::Bm25,
            other => other,
        }
    }

    /// The passages worth grounding an answer in: only those that share an
    /// informative word with the question ([`content_words`]), so small talk
    /// ("Who are you?") gets no passages stuffed into its prompt, and a real
    /// question only the passages that are about something it asks.
    ///
    /// The floor is "BM25 score above zero for the informative words", not a
    /// threshold on the whole question's BM25 score, because measured, no such
    /// threshold separates the two. Over five FairytaleQA stories (68
    /// sections, BM25 only), the best passage of 25 small-talk lines scored
    /// up to 8.3 ("Can you help me?": "you" and "me" are in every dialogue),
    /// while 60 real questions about those stories scored from 6.1; over the
    /// 365 test sections, small talk reached 10.0 and questions started at 7.9.
    /// BM25 scores also shrink with the index (with one chunk, every word's
    /// IDF is below 0.3), so any fixed floor would silence small indexes.
    /// Without the common words, the five-story figures become 0 for small
    /// talk made only of them, and from 3.9 for the real questions.
    /// Small talk with an informative word ("Tell me a joke.") still finds
    /// the passages that contain it. In dense mode the passages are not
    /// filtered (finding what shares no word is its point), but a question
    /// with no informative word that any passage holds gets none.
    pub fn retrieve_for_prompt(&self, query: &str, k: usize, mode: Mode) -> Result<Vec<Passage>, RagError> {
        let words = content_words(query);
        if words.is_empty() {
            return Ok(Vec::new());
        }
        let matched: std::collections::HashSet<u64> =
            self.bm25_ranking(&words.join(" "), candidates(k))?.into_iter().map(|(id, _)| id).collect();
        if matched.is_empty() {
            return Ok(Vec::new());
        }
        let mut passages = self.retrieve(query, k, mode)?;
        if self.mode_used(mode) != Mode::Dense {
            // A passage ranked for the question but not among the best
            // matches of its informative words matched only common words.
            passages.retain(|p| matched.contains(&p.chunk_id));
        }
        Ok(passages)
    }

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

    /// Four short stories in the plain style of the training data, full of
    /// the words small talk is made of ("you", "are", "who", "what").
    const STORIES: [(&str, &str); 4] = [
        (
            "fox.txt",
            "Once upon a time a red fox lived at the edge of the wood. Every night the fox crept into the \
             farmer's yard to steal a hen. \"Who are you?\" asked the old dog. \"I am your friend,\" said the \
             fox, and the dog let him pass.\n\nOne night the farmer set a trap by the hen house. The fox \
             smelled the iron and went home hungry. From then on he ate berries and mice, and the hens were safe.",
        ),
        (
            "lighthouse.txt",
            "Mia lived with her grandfather in a lighthouse on a rocky island. Every evening they climbed the \
             ninety steps to light the great lamp. \"What are you doing?\" Mia asked. \"I am keeping the \
             ships safe,\" he said.\n\nOne stormy night the lamp went out. Mia ran up the steps with a box of \
             matches and lit it again, and a fishing boat found its way home through the waves.",
        ),
        (
            "garden.txt",
            "Tom planted a tiny seed in his garden. He watered it every morning and talked to it. \"Are you \
             going to grow?\" he asked. Weeks passed and a green shoot came up.\n\nBy summer the shoot was a \
             sunflower taller than Tom's father. Birds came to eat its seeds, and Tom saved a handful to plant \
             the next spring.",
        ),
        (
            "dragon.txt",
            "A small dragon named Ember could not breathe fire. The other dragons laughed at her. \"What good are \
             you?\" they said. Ember flew away to the mountains, sad and alone.\n\nThere she found a village \
             buried in snow. Ember breathed as hard as she could, and warm air melted the snow from every roof. \
             The villagers cheered, and Ember knew what she was good for.",
        ),
    ];

    fn story_index(dir: &std::path::Path) -> Index {
        let docs = dir.join("stories");
        std::fs::create_dir_all(&docs).unwrap();
        for (name, text) in STORIES {
            std::fs::write(docs.join(name), text).unwrap();
        }
        let settings = crate::rag::index::IndexSettings { embedder: None, chunking: Default::default() };
        let mut index = Index::create(&dir.join("index"), settings).unwrap();
        index.add(&[docs], None, 1_000_000).unwrap();
        index
    }

    /// Issue 19, item 15: small talk retrieves nothing for the prompt, a
    /// question about the stories retrieves its story, and a hybrid search
    /// of a BM25-only index says it ran BM25.
    #[test]
    fn small_talk_gets_no_passages_and_a_real_question_does() {
        let dir = tempfile::tempdir().unwrap();
        let index = story_index(dir.path());
        assert_eq!(index.mode_used(Mode::Hybrid), Mode::Bm25);
        assert_eq!(content_words("Who's the dragon, and what's her name?"), ["dragon", "name"]);
        for small_talk in
            ["Who are you?", "Hello! How are you?", "What are you?", "Thank you!", "Who are you, and what do you do?"]
        {
            // Plain retrieval ranks passages for it all the same.
            assert!(!index.retrieve(small_talk, 5, Mode::Bm25).unwrap().is_empty(), "{small_talk:?}");
            let got = index.retrieve_for_prompt(small_talk, 5, Mode::Hybrid).unwrap();
            assert!(got.is_empty(), "{small_talk:?} got {got:?}");
        }
        for (question, story) in [
            ("Why did the fox go home hungry?", "fox.txt"),
            ("Who lit the lamp of the lighthouse in the storm?", "lighthouse.txt"),
            ("What did the seed grow into?", "garden.txt"),
            ("How did Ember help the village?", "dragon.txt"),
        ] {
            let got = index.retrieve_for_prompt(question, 5, Mode::Hybrid).unwrap();
            assert_eq!(got.first().map(|p| p.label.as_str()), Some(story), "{question:?}: {got:?}");
        }
    }

    #[test]
    fn modes_parse() {
        assert_eq!("hybrid".parse::<Mode>().unwrap(), Mode::Hybrid);
        assert!("vector".parse::<Mode>().unwrap_err().contains("bm25, dense or hybrid"));
    }
}
