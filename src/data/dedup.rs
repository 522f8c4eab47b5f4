//! Finding repeated and evaluation text, line by line.
//!
//! Public corpora repeat themselves: the same Grimm tale arrives from three
//! collections with different line wrapping, quotes and spelling of a word or
//! two. Lines are compared after [`normalize_key`] (lower case, letters and
//! digits only), exactly by a 64-bit hash and approximately by MinHash over
//! word 3-grams with locality-sensitive banding (Broder 1997; the same method
//! as the de-duplication in GPT-3's and Gopher's data pipelines).
//!
//! Decontamination drops training lines that share a word 13-gram with an
//! evaluation set (GPT-3's rule), or, for lines too short to hold one, that
//! equal an evaluation line outright.

use std::collections::{HashMap, HashSet};

use rayon::prelude::*;

/// Lower-cases and keeps letters and digits, one space between words.
pub fn normalize_key(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    for word in line.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        for c in word.chars() {
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// FNV-1a, a fixed hash so that results do not change between runs or builds.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// SplitMix64's finalizer: a cheap, well-mixing permutation of u64.
pub fn mix64(mut x: u64) -> u64 {
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

const SHINGLE: usize = 3;
const PERMUTATIONS: usize = 64;
const BANDS: usize = 8;
const ROWS: usize = PERMUTATIONS / BANDS;

fn word_hashes(key: &str) -> Vec<u64> {
    key.split(' ').filter(|w| !w.is_empty()).map(|w| fnv1a(w.as_bytes())).collect()
}

/// Hashes of the word n-grams of a normalized line.
fn ngram_hashes(words: &[u64], n: usize) -> impl Iterator<Item = u64> + '_ {
    words.windows(n).map(|w| w.iter().fold(0u64, |acc, &h| mix64(acc ^ h)))
}

/// MinHash signature of a normalized line: for each of 64 hash functions, the
/// minimum over the line's word 3-grams. Two signatures agree in a position
/// with probability equal to the Jaccard similarity of the 3-gram sets.
pub fn minhash(key: &str) -> [u32; PERMUTATIONS] {
    let words = word_hashes(key);
    let mut sig = [u32::MAX; PERMUTATIONS];
    let n = SHINGLE.min(words.len().max(1));
    for g in ngram_hashes(&words, n) {
        for (i, slot) in sig.iter_mut().enumerate() {
            let h = (mix64(g ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)) >> 32) as u32;
            if h < *slot {
                *slot = h;
            }
        }
    }
    sig
}

fn similarity(a: &[u32; PERMUTATIONS], b: &[u32; PERMUTATIONS]) -> f64 {
    a.iter().zip(b).filter(|(x, y)| x == y).count() as f64 / PERMUTATIONS as f64
}

/// Why a line was removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Keep,
    ExactDuplicate,
    NearDuplicate,
    Contaminated,
}

/// Remembers every line it has kept and judges new lines against them.
pub struct Deduplicator {
    /// Lines with fewer words are never called duplicates: "Yes," said he.
    /// is not a copy of another book.
    pub min_words: usize,
    pub threshold: f64,
    exact: HashSet<u64>,
    bands: Vec<HashMap<u64, u32>>,
    signatures: Vec<[u32; PERMUTATIONS]>,
}

impl Deduplicator {
    pub fn new(min_words: usize, threshold: f64) -> Self {
        Self {
            min_words,
            threshold,
            exact: HashSet::new(),
            bands: (0..BANDS).map(|_| HashMap::new()).collect(),
            signatures: Vec::new(),
        }
    }

    /// Computes what [`Deduplicator::judge`] needs for many lines at once, in parallel.
    pub fn prepare(&self, lines: &[&str]) -> Vec<Option<(u64, [u32; PERMUTATIONS])>> {
        let min_words = self.min_words;
        lines
            .par_iter()
            .map(|line| {
                let key = normalize_key(line);
                if key.split(' ').count() < min_words {
                    return None;
                }
                Some((fnv1a(key.as_bytes()), minhash(&key)))
            })
            .collect()
    }

    /// Judges one prepared line, remembering it when kept. Order matters: the
    /// first copy seen is the one kept, so earlier sources take priority.
    pub fn judge(&mut self, prepared: &Option<(u64, [u32; PERMUTATIONS])>) -> Verdict {
        let Some((exact, sig)) = prepared else {
            return Verdict::Keep;
        };
        if !self.exact.insert(*exact) {
            return Verdict::ExactDuplicate;
        }
        let band_keys: Vec<u64> =
            (0..BANDS).map(|b| fnv1a(bytes_of(&sig[b * ROWS..(b + 1) * ROWS]).as_slice())).collect();
        for (b, key) in band_keys.iter().enumerate() {
            if let Some(&other) = self.bands[b].get(key) {
                if similarity(sig, &self.signatures[other as usize]) >= self.threshold {
                    return Verdict::NearDuplicate;
                }
            }
        }
        let id = self.signatures.len() as u32;
        self.signatures.push(*sig);
        for (b, key) in band_keys.into_iter().enumerate() {
            self.bands[b].entry(key).or_insert(id);
        }
        Verdict::Keep
    }
}

fn bytes_of(values: &[u32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// The n-grams (and whole short lines) of one or more evaluation sets.
pub struct Contamination {
    pub n: usize,
    ngrams: HashSet<u64>,
    short_lines: HashSet<u64>,
    pub eval_lines: usize,
}

impl Contamination {
    pub fn new(n: usize) -> Self {
        Self { n, ngrams: HashSet::new(), short_lines: HashSet::new(), eval_lines: 0 }
    }

    pub fn add_eval_line(&mut self, line: &str) {
        let key = normalize_key(line);
        let words = word_hashes(&key);
        if words.is_empty() {
            return;
        }
        self.eval_lines += 1;
        if words.len() < self.n {
            self.short_lines.insert(fnv1a(key.as_bytes()));
        } else {
            self.ngrams.extend(ngram_hashes(&words, self.n));
        }
    }

    pub fn is_empty(&self) -> bool {
        self.eval_lines == 0
    }

    pub fn is_contaminated(&self, line: &str) -> bool {
        if self.is_empty() {
            return false;
        }
        let key = normalize_key(line);
        let words = word_hashes(&key);
        if words.len() < self.n {
            return self.short_lines.contains(&fnv1a(key.as_bytes()));
        }
        let hit = ngram_hashes(&words, self.n).any(|g| self.ngrams.contains(&g));
        hit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judge_all(lines: &[&str]) -> Vec<Verdict> {
        let mut d = Deduplicator::new(8, 0.8);
        let prepared = d.prepare(lines);
        prepared.iter().map(|p| d.judge(p)).collect()
    }

    #[test]
    fn exact_duplicates_see_through_case_punctuation_and_spacing() {
        let a = "The king had three daughters, and the youngest was the most beautiful of all.";
        let b = "the  King had three daughters — and the youngest was the most beautiful of all!";
        assert_eq!(judge_all(&[a, b]), vec![Verdict::Keep, Verdict::ExactDuplicate]);
    }

    #[test]
    fn near_duplicates_are_caught_and_different_lines_are_not() {
        // Two editions of the same paragraph: one word differs.
        let a = "There was once upon a time a king who had a wife with golden hair, and she was so beautiful that her equal was not to be found on earth. It came to pass that she lay ill, and when she felt that she must soon die.";
        let b = "There was once upon a time a king who had a wife with golden hair, and she was so beautiful that her like was not to be found on earth. It came to pass that she lay ill, and when she felt that she must soon die.";
        let c = "Hans had served his master seven years, so he said to him, master, my time is up, and now I should be glad to go back home to my mother.";
        assert_eq!(judge_all(&[a, b, c]), vec![Verdict::Keep, Verdict::NearDuplicate, Verdict::Keep]);
    }

    #[test]
    fn short_lines_are_never_duplicates() {
        assert_eq!(judge_all(&["\"Yes,\" said he.", "\"Yes,\" said he."]), vec![Verdict::Keep, Verdict::Keep]);
    }

    #[test]
    fn minhash_estimates_jaccard() {
        let base: Vec<String> = (0..200).map(|i| format!("w{i}")).collect();
        let a = base.join(" ");
        let b = base[..100].join(" ") + " " + &(0..100).map(|i| format!("z{i}")).collect::<Vec<_>>().join(" ");
        // 98 of the 3-grams are shared out of 198 + 198 - 98 = 298.
        let s = similarity(&minhash(&a), &minhash(&b));
        assert!((s - 98.0 / 298.0).abs() < 0.15, "{s}");
    }

    #[test]
    fn contamination_by_ngram_and_short_line() {
        let mut c = Contamination::new(13);
        c.add_eval_line(
            "Every afternoon, as they were coming from school, the children used to go and play in the Giant's garden.",
        );
        c.add_eval_line("\"How happy we are here!\"");
        assert!(c.is_contaminated(
            "And every afternoon as they were coming from school the children used to go and play in the garden."
        ));
        assert!(c.is_contaminated("How happy we are here"));
        assert!(!c.is_contaminated("The children were coming from school."));
    }
}
