//! Benchmarks (`fledge bench ...`): measured throughput, never assumed.
//!
//! Each benchmark warms up, repeats, and reports the median with the spread,
//! because these shared 2-core machines are noisy. Compare numbers only when
//! taken side by side in one run.

use std::time::Instant;

use serde::Serialize;

use crate::model::kernels::Product;
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

/// The processor's name (Linux `/proc/cpuinfo`), else the architecture.
pub fn cpu_name() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|n| n.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}

/// Peak resident memory of this process in MB (Linux `VmHWM`), if known.
pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Training throughput, measured as `../shared/bench/torch_reference.py train`
/// measures PyTorch: one random batch repeated (so the loss must fall), AdamW
/// (lr 1e-3, weight decay 0.1), clipping at 1.0, median step time after warm-up.
#[derive(Debug, Clone, Serialize)]
pub struct TrainBench {
    pub framework: String,
    /// The matrix products' precision the step ran in (`f32` or `bf16`).
    pub precision: String,
    pub threads: usize,
    pub params: usize,
    pub batch: usize,
    pub seq_len: usize,
    pub median_ms: f64,
    pub min_ms: f64,
    pub tokens_per_s: f64,
    pub flops_per_token: f64,
    pub achieved_gflops: f64,
    pub loss_first: f32,
    pub loss_last: f32,
    pub losses: Vec<f32>,
    pub peak_rss_mb: Option<f64>,
}

/// Measures the training step with the matrix products in `precision`
/// (`Auto` resolves on this CPU; `Bf16` where the CPU lacks it is an error).
pub fn train(
    config: &crate::model::ModelConfig,
    batch: usize,
    seq_len: usize,
    steps: usize,
    warmup: usize,
    precision: crate::model::Precision,
) -> Result<TrainBench, crate::model::bf16::PrecisionError> {
    let mut trainer = bench_trainer(config, batch, seq_len);
    let precision = trainer.engine.set_precision(precision)?;
    let micro_batch = [random_batch(config, batch, seq_len)];
    let mut times = Vec::new();
    let mut losses = Vec::new();
    for i in 0..warmup + steps {
        let t = Instant::now();
        let stats = trainer.step(&micro_batch, 1e-3);
        let ms = t.elapsed().as_secs_f64() * 1e3;
        tracing::debug!(step = i, loss = stats.loss, ms, "bench step");
        losses.push(stats.loss);
        if i >= warmup {
            times.push(ms);
        }
    }
    let median_ms = median(times.clone());
    let tokens_per_s = (batch * seq_len) as f64 / (median_ms / 1e3);
    let flops_per_token = config.train_flops_per_token(seq_len);
    Ok(TrainBench {
        framework: "fledge".into(),
        precision: precision.to_string(),
        threads: rayon::current_num_threads(),
        params: config.num_params(),
        batch,
        seq_len,
        median_ms,
        min_ms: min_max(&times).0,
        tokens_per_s,
        flops_per_token,
        achieved_gflops: tokens_per_s * flops_per_token / 1e9,
        loss_first: losses[0],
        loss_last: *losses.last().expect("at least one step"),
        losses,
        peak_rss_mb: peak_rss_mb(),
    })
}

/// The training step with each f32 product library, alternating step by step
/// in one run (so that both see the same machine at the same moments).
#[derive(Debug, Clone, Serialize)]
pub struct LibraryBench {
    pub params: usize,
    pub tokens_per_step: usize,
    /// Median step of each library, ms, as (library, median).
    pub median_ms: Vec<(String, f64)>,
    /// matrixmultiply's step time over gemm's, per adjacent pair of steps.
    pub paired_ratios: Vec<f64>,
}

/// Runs `steps` timed steps per library (after `warmup` untimed ones),
/// gemm and matrixmultiply taking turns; leaves the library as it found it.
pub fn train_matmul_libraries(
    config: &crate::model::ModelConfig,
    batch: usize,
    seq_len: usize,
    steps: usize,
    warmup: usize,
) -> LibraryBench {
    use crate::model::kernels::{matmul_library, set_matmul_library, MatmulLibrary};
    let before = matmul_library();
    let mut trainer = bench_trainer(config, batch, seq_len);
    let micro_batch = [random_batch(config, batch, seq_len)];
    let libraries = [MatmulLibrary::Gemm, MatmulLibrary::Matrixmultiply];
    let mut times: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    for i in 0..2 * (warmup + steps) {
        let which = i % 2;
        set_matmul_library(libraries[which]);
        let t = Instant::now();
        trainer.step(&micro_batch, 1e-3);
        if i >= 2 * warmup {
            times[which].push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    set_matmul_library(before);
    let paired_ratios = times[1].iter().zip(&times[0]).map(|(mm, g)| mm / g).collect();
    LibraryBench {
        params: config.num_params(),
        tokens_per_step: batch * seq_len,
        median_ms: libraries.iter().zip(&times).map(|(l, t)| (l.to_string(), median(t.clone()))).collect(),
        paired_ratios,
    }
}

/// The trainer the benches step: seed 0, AdamW with weight decay 0.1, clipping at 1.
fn bench_trainer(config: &crate::model::ModelConfig, batch: usize, seq_len: usize) -> crate::train::Trainer {
    let adamw = crate::train::optim::AdamWConfig { weight_decay: 0.1, ..Default::default() };
    crate::train::Trainer::new(config, batch, seq_len, 0, adamw, 1.0)
}

/// One batch of random tokens, inputs and next-token targets.
fn random_batch(config: &crate::model::ModelConfig, batch: usize, seq_len: usize) -> crate::data::shards::Batch {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1234);
    let data: Vec<u32> = (0..batch * (seq_len + 1)).map(|_| rng.gen_range(0..config.vocab_size as u32)).collect();
    let mut inputs = Vec::with_capacity(batch * seq_len);
    let mut targets = Vec::with_capacity(batch * seq_len);
    for row in data.chunks(seq_len + 1) {
        inputs.extend_from_slice(&row[..seq_len]);
        targets.extend_from_slice(&row[1..]);
    }
    crate::data::shards::Batch { inputs, targets, segment_starts: None }
}

/// The matrix-product peak of this machine through the engine's own matmul,
/// in f32 or bf16 (bfloat16 inputs, f32 sums): the denominator of MFU.
#[derive(Debug, Clone, Serialize)]
pub struct MatmulBench {
    pub dtype: String,
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub gflops_best: f64,
    pub gflops_median: f64,
}

/// The f32 product peak.
pub fn matmul(m: usize, k: usize, n: usize, repeats: usize) -> MatmulBench {
    matmul_in(crate::model::Precision::F32, m, k, n, repeats).expect("f32 runs everywhere")
}

/// The product peak in `precision` (`Auto` resolves on this CPU).
pub fn matmul_in(
    precision: crate::model::Precision,
    m: usize,
    k: usize,
    n: usize,
    repeats: usize,
) -> Result<MatmulBench, crate::model::bf16::PrecisionError> {
    let p = precision.resolve()?;
    let a: Vec<f32> = (0..m * k).map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5).collect();
    let b: Vec<f32> = (0..k * n).map(|i| ((i * 104_729) % 1000) as f32 / 1000.0 - 0.5).collect();
    let mut c = vec![0.0f32; m * n];
    for _ in 0..3 {
        crate::model::kernels::matmul_in(p, &mut c, &a, &b, Product::new(m, k, n));
    }
    let mut gflops = Vec::new();
    for _ in 0..repeats.max(1) {
        let t = Instant::now();
        crate::model::kernels::matmul_in(p, &mut c, &a, &b, Product::new(m, k, n));
        gflops.push(2.0 * (m * k * n) as f64 / t.elapsed().as_secs_f64() / 1e9);
    }
    std::hint::black_box(&c);
    Ok(MatmulBench { dtype: p.to_string(), m, k, n, gflops_best: min_max(&gflops).1, gflops_median: median(gflops) })
}

/// One matrix product of the training step, timed alone.
#[derive(Debug, Clone, Serialize)]
pub struct StepProduct {
    /// Which layer's product, and which of forward, dX (input gradient) or dW.
    pub name: String,
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub trans_a: bool,
    pub trans_b: bool,
    /// How many times a training step runs this shape.
    pub per_step: usize,
    pub median_ms: f64,
    pub gflops: f64,
}

/// The distinct matrix products of one training step of `config` over
/// `rows` tokens (batch × sequence), as the engine calls them: for each
/// linear layer `y = x w^T`, `dx = dy w` and `dw += dy^T x`.
pub fn step_products(config: &crate::model::ModelConfig, rows: usize) -> Vec<(String, usize, Product)> {
    let (d, f, v, l) = (config.d_model, config.ffn_hidden, config.vocab_size, config.n_layers);
    let kv = config.n_kv_heads * config.head_dim();
    let mut linears = vec![("q, o", d, d, 2 * l), ("k, v", d, kv, 2 * l), ("gate, up", d, f, 2 * l), ("down", f, d, l)];
    linears.push(("head", d, v, 1));
    let mut out = Vec::new();
    for (name, d_in, d_out, count) in linears {
        out.push((format!("{name} forward"), count, Product::new(rows, d_in, d_out).b_transposed()));
        out.push((format!("{name} dX"), count, Product::new(rows, d_out, d_in)));
        out.push((format!("{name} dW"), count, Product::new(d_out, rows, d_in).a_transposed().accumulating()));
    }
    out
}

/// Times every product of [`step_products`] in `precision` (median of `repeats`).
pub fn step_product_times(
    precision: crate::model::Precision,
    config: &crate::model::ModelConfig,
    rows: usize,
    repeats: usize,
) -> Result<Vec<StepProduct>, crate::model::bf16::PrecisionError> {
    let precision = precision.resolve()?;
    let mut results = Vec::new();
    for (name, per_step, p) in step_products(config, rows) {
        let a: Vec<f32> = (0..p.m * p.k).map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5).collect();
        let b: Vec<f32> = (0..p.k * p.n).map(|i| ((i * 104_729) % 1000) as f32 / 1000.0 - 0.5).collect();
        let mut c = vec![0.0f32; p.m * p.n];
        crate::model::kernels::matmul_in(precision, &mut c, &a, &b, p);
        let mut times = Vec::new();
        for _ in 0..repeats.max(1) {
            let t = Instant::now();
            crate::model::kernels::matmul_in(precision, &mut c, &a, &b, p);
            times.push(t.elapsed().as_secs_f64());
        }
        std::hint::black_box(&c);
        let seconds = median(times);
        results.push(StepProduct {
            name,
            m: p.m,
            k: p.k,
            n: p.n,
            trans_a: p.trans_a,
            trans_b: p.trans_b,
            per_step,
            median_ms: seconds * 1e3,
            gflops: 2.0 * (p.m * p.k * p.n) as f64 / seconds / 1e9,
        });
    }
    Ok(results)
}

/// Generation throughput at batch 1, as `torch_reference.py infer` measures
/// PyTorch: random weights, an 8-token prompt, `gen` tokens greedy, median of 3.
#[derive(Debug, Clone, Serialize)]
pub struct GenerateBench {
    pub params: usize,
    pub gen_tokens: usize,
    pub median_s: f64,
    pub tokens_per_s: f64,
    pub peak_rss_mb: Option<f64>,
}

pub fn generate(config: &crate::model::ModelConfig, gen_tokens: usize) -> GenerateBench {
    let layout = crate::model::ParamLayout::new(config);
    let params = crate::model::params::init_params(config, &layout, 0);
    generate_with(config, &params, None, gen_tokens)
}

/// [`generate`] with given weights (a trained model), in Q8_0 when
/// `quantized` is given: prompt ids 1..=8, then `gen_tokens` greedy tokens
/// whatever they are (end-of-text included), so that every engine measured
/// does the same work.
pub fn generate_with(
    config: &crate::model::ModelConfig,
    params: &[f32],
    quantized: Option<&crate::generate::QuantizedWeights>,
    gen_tokens: usize,
) -> GenerateBench {
    use crate::generate::{sample, Generator, SamplingOptions};
    let mut g = Generator::new(config, params);
    if let Some(q) = quantized {
        g = g.quantized(q);
    }
    let greedy = SamplingOptions { temperature: 0.0, repetition_penalty: 1.0, ..Default::default() };
    let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(0);
    let mut run = || {
        let t = Instant::now();
        g.reset();
        let mut logits = Vec::new();
        for tok in 1..=8u32 {
            logits = g.step(tok).to_vec();
        }
        for _ in 0..gen_tokens.min(config.max_seq_len - 8) {
            let next = sample(&mut logits, &[], &greedy, &mut rng);
            logits = g.step(next).to_vec();
        }
        t.elapsed().as_secs_f64()
    };
    run();
    let median_s = median((0..3).map(|_| run()).collect());
    let generated = gen_tokens.min(config.max_seq_len - 8);
    GenerateBench {
        params: config.num_params(),
        gen_tokens: generated,
        median_s,
        tokens_per_s: generated as f64 / median_s,
        peak_rss_mb: peak_rss_mb(),
    }
}

/// A chat's next turn: the time to read its prompt (`prompt_tokens`, of
/// which the last `new_tokens` are the new message) before the first token
/// of the reply, with the generator's cache kept from the turn before
/// ([`crate::generate::Generator::prefill`]) and read again from scratch.
#[derive(Debug, Clone, Serialize)]
pub struct NextTurnBench {
    pub prompt_tokens: usize,
    pub new_tokens: usize,
    pub kept_ms: f64,
    pub reread_ms: f64,
}

/// [`NextTurnBench`] for a conversation filling most of the window (ids
/// cycling through the vocabulary, as [`generate_with`]'s prompt), median of 5.
pub fn next_turn(
    config: &crate::model::ModelConfig,
    params: &[f32],
    quantized: Option<&crate::generate::QuantizedWeights>,
) -> NextTurnBench {
    let mut g = crate::generate::Generator::new(config, params);
    if let Some(q) = quantized {
        g = g.quantized(q);
    }
    let prompt_tokens = (config.max_seq_len * 3 / 4).max(2);
    let new_tokens = 20.min(prompt_tokens - 1);
    let prompt: Vec<u32> = (0..prompt_tokens).map(|i| (1 + i % (config.vocab_size - 1)) as u32).collect();
    let earlier = &prompt[..prompt_tokens - new_tokens];
    let mut time = |keep: bool| {
        let runs: Vec<f64> = (0..6)
            .map(|_| {
                g.reset();
                if keep {
                    g.prefill(earlier);
                }
                let t = Instant::now();
                g.prefill(&prompt);
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        median(runs[1..].to_vec())
    };
    NextTurnBench { prompt_tokens, new_tokens, kept_ms: time(true), reread_ms: time(false) }
}

/// Perplexity (e^mean negative log-likelihood per token) of `tokens` as the
/// generator computes it, in Q8_0 when `quantized` is given: windows of
/// `window` tokens, each read after an `<|endoftext|>` (`bos`) from a fresh
/// cache, as a document starts. For comparing a quantized model with its
/// f32 self on held-out text.
pub fn generator_perplexity(
    config: &crate::model::ModelConfig,
    params: &[f32],
    quantized: Option<&crate::generate::QuantizedWeights>,
    tokens: &[u32],
    window: usize,
    bos: u32,
) -> f64 {
    use crate::generate::inspect::log_softmax;
    let mut g = crate::generate::Generator::new(config, params);
    if let Some(q) = quantized {
        g = g.quantized(q);
    }
    let window = window.clamp(1, config.max_seq_len - 1);
    let mut nats = 0.0f64;
    for chunk in tokens.chunks(window) {
        g.reset();
        let mut logits = g.step(bos).to_vec();
        for &t in chunk {
            nats -= log_softmax(&logits)[t as usize] as f64;
            logits = g.step(t).to_vec();
        }
    }
    (nats / tokens.len().max(1) as f64).exp()
}
