//! Benchmarks (`fledge bench ...`): measured throughput, never assumed.
//!
//! Each benchmark warms up, repeats, and reports the median with the spread,
//! because these shared 2-core machines are noisy. Compare numbers only when
//! taken side by side in one run.

use std::time::Instant;

use serde::Serialize;

use crate::tokenizer::Tokenizer;

/// Tokenization throughput, one thread and all threads.
#[derive(Debug, Clone, Serialize)]
pub struct TokenizeBench {
    pub documents: usize,
    pub bytes: u64,
    pub tokens: u64,
    pub bytes_per_token: f64,
    pub threads: usize,
    pub repeats: usize,
    /// Median MB/s (10^6 bytes per second) encoding documents one by one on one thread.
    pub single_thread_mb_s: f64,
    pub single_thread_min_max: (f64, f64),
    /// Median MB/s of the parallel batch encoder on all threads.
    pub parallel_mb_s: f64,
    pub parallel_min_max: (f64, f64),
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).expect("no NaN timings"));
    v[v.len() / 2]
}

fn min_max(v: &[f64]) -> (f64, f64) {
    let min = v.iter().cloned().fold(f64::INFINITY, f64::min);
    let max = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    (min, max)
}

/// Measures encoding speed over `texts`.
pub fn tokenize(tokenizer: &Tokenizer, texts: &[String], repeats: usize) -> TokenizeBench {
    let refs: Vec<&str> = texts.iter().map(|s| s.as_str()).collect();
    let bytes: u64 = refs.iter().map(|s| s.len() as u64).sum();
    // Warm-up, and the token count.
    let tokens: u64 = tokenizer.encode_batch(&refs, false).iter().map(|v| v.len() as u64).sum();

    let mut single = Vec::new();
    let mut parallel = Vec::new();
    for _ in 0..repeats.max(1) {
        let t = Instant::now();
        let mut n = 0usize;
        for s in &refs {
            n += tokenizer.encode(s, false).len();
        }
        std::hint::black_box(n);
        single.push(bytes as f64 / 1e6 / t.elapsed().as_secs_f64());

        let t = Instant::now();
        let out = tokenizer.encode_batch(&refs, false);
        std::hint::black_box(out.len());
        parallel.push(bytes as f64 / 1e6 / t.elapsed().as_secs_f64());
    }
    TokenizeBench {
        documents: texts.len(),
        bytes,
        tokens,
        bytes_per_token: bytes as f64 / tokens.max(1) as f64,
        threads: rayon::current_num_threads(),
        repeats: repeats.max(1),
        single_thread_min_max: min_max(&single),
        single_thread_mb_s: median(single),
        parallel_min_max: min_max(&parallel),
        parallel_mb_s: median(parallel),
    }
}
