//! Text generation: one token at a time with a key/value cache, and sampling.
//!
//! The training engine processes whole batches; generation needs one new
//! token's logits given everything before it. Keeping each layer's keys and
//! values for past positions (the KV cache) makes every new token cost one
//! pass over the weights instead of a pass over the whole sequence.
//!
//! Sampling, in order: repetition penalty (CTRL, Keskar et al. 2019: positive
//! logits of tokens the reply has already used are divided by the penalty,
//! negative ones multiplied; the prompt's tokens do not count), temperature, top-k, top-p (nucleus), then a draw from a
//! seeded generator, so the same seed gives the same text.

pub mod batch;
pub mod inspect;
pub mod q8;

use multiversion::multiversion;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::model::kernels::{rmsnorm_row, Rope};
use crate::model::lanes;
use crate::model::params::ParamLayout;
use crate::model::ModelConfig;
use crate::tokenizer::Tokenizer;
use q8::{Q8Matrix, Q8Rows, Q8Vector};

/// A model ready to generate: weights, a KV cache, and buffers for one token.
pub struct Generator<'a> {
    pub config: ModelConfig,
    layout: ParamLayout,
    params: &'a [f32],
    rope: Rope,
    /// Per layer, `[positions, kv_heads * head_dim]`, grown as the context
    /// grows (see [`grow_cache`]).
    k_cache: Vec<Vec<f32>>,
    v_cache: Vec<Vec<f32>>,
    pos: usize,
    /// The tokens the cache holds (its first `pos`), so that [`Generator::prefill`]
    /// can keep what a new prompt shares with the last one.
    fed: Vec<u32>,
    x: Vec<f32>,
    xn: Vec<f32>,
    q: Vec<f32>,
    k: Vec<f32>,
    v: Vec<f32>,
    att: Vec<f32>,
    gate: Vec<f32>,
    up: Vec<f32>,
    scores: Vec<f32>,
    logits: Vec<f32>,
    /// What each layer computed, when asked for ([`Generator::start_trace`]).
    trace: Option<inspect::Trace>,
    /// The matrices in Q8_0, when generating quantized ([`Generator::quantized`]).
    q8: Option<&'a QuantizedWeights>,
    /// The current layer input, quantized for the Q8_0 products.
    xq: Q8Vector,
}

/// How the generator's matrices are stored: `f32` as trained, or `q8_0`
/// (see [`q8`]), a quarter of the bytes to read per token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Quantize {
    #[default]
    F32,
    #[value(name = "q8_0")]
    Q8_0,
}

/// Every matrix a token is multiplied by, in Q8_0: each layer's attention
/// and feed-forward projections and the output head (the embedding lookup
/// and the norms stay f32, as in llama.cpp's Q8_0 files). A matrix whose
/// rows do not split into whole blocks stays f32, as fledge's GGUF export
/// keeps it (in f16) for the same reason.
#[derive(Debug, Clone)]
pub struct QuantizedWeights {
    layers: Vec<[Option<Q8Matrix>; 7]>,
    lm_head: Option<Q8Matrix>,
}

impl QuantizedWeights {
    pub fn new(config: &ModelConfig, params: &[f32]) -> Self {
        let (d, f) = (config.d_model, config.ffn_hidden);
        let layout = ParamLayout::new(config);
        let kv = config.n_kv_heads * config.head_dim();
        let q = |off: usize, rows: usize, cols: usize| {
            Q8Matrix::fits(cols).then(|| Q8Matrix::quantize(&params[off..off + rows * cols], rows, cols))
        };
        let layers = layout
            .layers
            .iter()
            .map(|o| {
                [
                    q(o.wq, d, d),
                    q(o.wk, kv, d),
                    q(o.wv, kv, d),
                    q(o.wo, d, d),
                    q(o.w_gate, f, d),
                    q(o.w_up, f, d),
                    q(o.w_down, d, f),
                ]
            })
            .collect();
        Self { layers, lm_head: q(layout.lm_head, config.vocab_size, d) }
    }

    /// Matrices in Q8_0, and matrices kept in f32 (rows not whole blocks).
    pub fn counts(&self) -> (usize, usize) {
        let all = || self.layers.iter().flatten().chain([&self.lm_head]);
        (all().filter(|m| m.is_some()).count(), all().filter(|m| m.is_none()).count())
    }

    /// The matrix `i` of layer `l` (in [`QuantizedWeights::new`]'s order),
    /// or the output head for `None`, when it is Q8_0.
    fn matrix(&self, layer: Option<usize>, i: usize) -> Option<&Q8Matrix> {
        match layer {
            Some(l) => self.layers[l][i].as_ref(),
            None => self.lm_head.as_ref(),
        }
    }

    /// A matrix as a product reads it: its Q8_0 blocks, else `f32`.
    fn weight<'a>(q8: Option<&'a Self>, layer: Option<usize>, i: usize, f32: &'a [f32]) -> Weight<'a> {
        match q8.and_then(|q| q.matrix(layer, i)) {
            Some(m) => Weight::Q8(m.view()),
            None => Weight::F32(f32),
        }
    }

    /// The Q8_0 weights when `quantize` asks for them, else `None` (f32).
    pub fn for_option(quantize: Quantize, config: &ModelConfig, params: &[f32]) -> Option<Self> {
        match quantize {
            Quantize::F32 => None,
            Quantize::Q8_0 => Some(Self::new(config, params)),
        }
    }

    /// Bytes the matrices take (each value one byte, each block's scale four).
    pub fn bytes(&self) -> usize {
        self.layers.iter().flatten().chain([&self.lm_head]).flatten().map(Q8Matrix::bytes).sum()
    }
}

/// A weight matrix as a product reads it.
#[derive(Clone, Copy)]
pub(crate) enum Weight<'a> {
    F32(&'a [f32]),
    Q8(Q8Rows<'a>),
}

/// A product's input: the f32 vector, and its Q8_0 blocks when a weight is Q8_0.
#[derive(Clone, Copy)]
pub(crate) struct Input<'a> {
    x: &'a [f32],
    q8: Option<&'a Q8Vector>,
}

impl<'a> Input<'a> {
    /// `x`, also quantized into `buffer` when the products are Q8_0 (the
    /// weights they read are Q8_0 exactly when `x` splits into whole blocks).
    pub(crate) fn new(x: &'a [f32], quantized: bool, buffer: &'a mut Q8Vector) -> Self {
        if quantized && Q8Matrix::fits(x.len()) {
            buffer.set(x);
            return Input { x, q8: Some(buffer) };
        }
        Input { x, q8: None }
    }
}

impl<'a> Weight<'a> {
    /// Pieces of at most `rows` rows, for parallel tasks.
    pub(crate) fn chunks(self, rows: usize, d_in: usize) -> Vec<Weight<'a>> {
        match self {
            Weight::F32(w) => w.chunks(rows * d_in).map(Weight::F32).collect(),
            Weight::Q8(w) => w.chunks(rows).map(Weight::Q8).collect(),
        }
    }

    /// Rows held, for inputs of `d_in` values.
    pub(crate) fn rows(self, d_in: usize) -> usize {
        match self {
            Weight::F32(w) => w.len() / d_in,
            Weight::Q8(w) => w.rows(),
        }
    }

    /// `y = W x` over whole rows.
    pub(crate) fn product(self, y: &mut [f32], x: Input) {
        match self {
            Weight::F32(w) => matvec_rows(y, w, x.x),
            Weight::Q8(w) => q8::matvec_rows(y, w, x.q8.expect("the input was quantized for a Q8_0 weight")),
        }
    }
}

/// Rows of a weight matrix per parallel task: 64 rows of 256 inputs is 64 KB
/// of weights, enough work to outweigh handing the task to another thread.
pub(crate) const ROWS_PER_TASK: usize = 64;

/// Below this many multiply-adds a matrix-vector product runs on the calling
/// thread: waking the others would cost more than it saves.
const PARALLEL_MACS: usize = 1 << 16;

/// `y = W x` for `W` `[out, in]` row-major; rows split across threads when large.
fn matvec(y: &mut [f32], w: &[f32], x: &[f32]) {
    matvecs(&mut [(y, Weight::F32(w))], Input { x, q8: None });
}

/// Several products of the same input, `y_i = W_i x` (the query, key and
/// value projections), in one parallel region: at batch 1 a token's work is
/// a few dozen small products, and each region costs a hand-off to the
/// other threads and a wait for the slowest, so fewer regions is faster.
pub(crate) fn matvecs(products: &mut [(&mut [f32], Weight)], x: Input) {
    let d_in = x.x.len();
    let macs: usize = products.iter().map(|(y, _)| y.len() * d_in).sum();
    if macs < PARALLEL_MACS {
        for (y, w) in products.iter_mut() {
            w.product(y, x);
        }
        return;
    }
    let tasks: Vec<(&mut [f32], Weight)> =
        products.iter_mut().flat_map(|(y, w)| y.chunks_mut(ROWS_PER_TASK).zip(w.chunks(ROWS_PER_TASK, d_in))).collect();
    tasks.into_par_iter().for_each(|(y, w)| w.product(y, x));
}

/// The feed-forward block's first half in one parallel region:
/// `gate = silu(W_gate x) * (W_up x)`, each task computing the same rows of
/// both products and combining them while they are in cache.
fn swiglu_matvec(gate: &mut [f32], up: &mut [f32], w_gate: Weight, w_up: Weight, x: Input) {
    let d_in = x.x.len();
    let serial = 2 * gate.len() * d_in < PARALLEL_MACS;
    type Outputs<'a> = (&'a mut [f32], &'a mut [f32]);
    let task = |((g, u), (wg, wu)): (Outputs, (Weight, Weight))| {
        wg.product(g, x);
        wu.product(u, x);
        swiglu_row(g, u);
    };
    let chunks = gate
        .chunks_mut(ROWS_PER_TASK)
        .zip(up.chunks_mut(ROWS_PER_TASK))
        .zip(w_gate.chunks(ROWS_PER_TASK, d_in).into_iter().zip(w_up.chunks(ROWS_PER_TASK, d_in)));
    if serial {
        chunks.for_each(task);
    } else {
        chunks.collect::<Vec<_>>().into_par_iter().for_each(task);
    }
}

/// Causal attention of one query row over a sequence's cached keys and
/// values at positions `0..=pos`, every head: `out` and `q` are
/// `[heads * head_dim]`, `kc` and `vc` `[positions, kv_heads * head_dim]`,
/// `scores` holds `heads * (pos + 1)` values. With fewer key-value heads than
/// query heads (grouped-query attention), each serves `heads / kv_heads` of
/// them. Heads run in parallel once the context is long enough to pay for it.
#[allow(clippy::too_many_arguments)]
fn attend(
    out: &mut [f32],
    q: &[f32],
    kc: &[f32],
    vc: &[f32],
    pos: usize,
    head_dim: usize,
    kv_heads: usize,
    scores: &mut [f32],
) {
    let hd = head_dim;
    let heads = q.len() / hd;
    let (kv, group) = (kv_heads * hd, heads / kv_heads);
    let n = pos + 1;
    let head = |(h, (oh, sh)): (usize, (&mut [f32], &mut [f32]))| {
        attend_head(oh, &q[h * hd..(h + 1) * hd], kc, vc, kv, (h / group) * hd, sh);
    };
    let work = out.chunks_mut(hd).zip(scores[..heads * n].chunks_mut(n)).enumerate();
    // Two multiply-adds per cached value: scores, then the weighted sum.
    if 2 * heads * n * hd < PARALLEL_MACS {
        work.for_each(head);
    } else {
        work.collect::<Vec<_>>().into_par_iter().for_each(head);
    }
}

/// One head of [`attend`]: its keys and values are `head_dim` values at
/// `offset` in each `stride`-long cache row; `scores` has one slot per
/// position. Compiled like [`matvec_rows`] for the SIMD the CPU has, with
/// eight partial sums per dot product so that they vectorize.
#[multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512cd+avx512dq+avx512vl",
    "x86_64+avx2+fma",
    "x86_64+sse4.2",
    "aarch64+neon"
))]
fn attend_head(out: &mut [f32], q: &[f32], kc: &[f32], vc: &[f32], stride: usize, offset: usize, scores: &mut [f32]) {
    let hd = q.len();
    let scale = 1.0 / (hd as f32).sqrt();
    let mut max = f32::NEG_INFINITY;
    for (j, s) in scores.iter_mut().enumerate() {
        *s = lanes::dot::<8>(q, &kc[j * stride + offset..j * stride + offset + hd]) * scale;
        max = max.max(*s);
    }
    let mut sum = 0.0;
    for s in scores.iter_mut() {
        *s = (*s - max).exp();
        sum += *s;
    }
    let inv = 1.0 / sum;
    out.fill(0.0);
    for (j, &s) in scores.iter().enumerate() {
        let v = &vc[j * stride + offset..j * stride + offset + hd];
        let p = s * inv;
        for (o, v) in out.iter_mut().zip(v) {
            *o += p * v;
        }
    }
}

/// SwiGLU in place: `gate = silu(gate) * up`.
fn swiglu_row(gate: &mut [f32], up: &[f32]) {
    for (g, u) in gate.iter_mut().zip(up) {
        *g = *g / (1.0 + (-*g).exp()) * u;
    }
}

/// `y = W x` over whole rows, 16 partial sums per row; compiled for
/// AVX-512, AVX2+FMA and the baseline, picked at run time.
#[multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512cd+avx512dq+avx512vl",
    "x86_64+avx2+fma",
    "x86_64+sse4.2",
    "aarch64+neon"
))]
fn matvec_rows(y: &mut [f32], w: &[f32], x: &[f32]) {
    for (y, w) in y.iter_mut().zip(w.chunks_exact(x.len())) {
        *y = lanes::dot::<16>(w, x);
    }
}

/// Grows each layer's KV cache to hold at least `needed` values, doubling so
/// that a long context reallocates only a few times, and never past `cap`
/// (the model's whole window). The cache is sized by the context actually
/// used: a model whose config allows 128k positions but answers in 500
/// tokens holds 500 positions, not gigabytes of zeros.
pub(crate) fn grow_cache(layers: &mut [Vec<f32>], needed: usize, cap: usize) {
    for cache in layers {
        if cache.len() < needed {
            let len = needed.max(2 * cache.len()).min(cap.max(needed));
            cache.resize(len, 0.0);
        }
    }
}

impl<'a> Generator<'a> {
    pub fn new(config: &ModelConfig, params: &'a [f32]) -> Self {
        let layout = ParamLayout::new(config);
        assert_eq!(params.len(), layout.total, "weights match the config");
        let hd = config.head_dim();
        let kv = config.n_kv_heads * hd;
        let d = config.d_model;
        Self {
            config: config.clone(),
            rope: Rope::new(config.max_seq_len, hd, config.rope_theta),
            k_cache: vec![Vec::new(); config.n_layers],
            v_cache: vec![Vec::new(); config.n_layers],
            pos: 0,
            fed: Vec::new(),
            x: vec![0.0; d],
            xn: vec![0.0; d],
            q: vec![0.0; d],
            k: vec![0.0; kv],
            v: vec![0.0; kv],
            att: vec![0.0; d],
            gate: vec![0.0; config.ffn_hidden],
            up: vec![0.0; config.ffn_hidden],
            scores: Vec::new(),
            logits: vec![0.0; config.vocab_size],
            trace: None,
            q8: None,
            xq: Q8Vector::default(),
            layout,
            params,
        }
    }

    /// Multiplies by `weights` (made from this generator's `params`) in
    /// Q8_0 instead of the f32 matrices.
    pub fn quantized(mut self, weights: &'a QuantizedWeights) -> Self {
        assert_eq!(weights.layers.len(), self.config.n_layers, "weights match the config");
        self.q8 = Some(weights);
        self
    }

    /// Records, from the next token on, every layer's attention weights and
    /// residual stream (for [`inspect`]); costs a copy per layer per token.
    pub fn start_trace(&mut self) {
        self.trace = Some(inspect::Trace::new(&self.config));
    }

    /// The record since [`Generator::start_trace`], which stops recording.
    pub fn take_trace(&mut self) -> Option<inspect::Trace> {
        self.trace.take()
    }

    /// The final norm and output head applied to a residual-stream vector:
    /// the logits the model would give if its last layer had been `x`'s.
    pub fn unembed(&self, x: &[f32], logits: &mut [f32]) {
        let (c, p) = (&self.config, self.params);
        let mut xf = vec![0.0; c.d_model];
        let norm = self.layout.final_norm;
        rmsnorm_row(&mut xf, x, &p[norm..norm + c.d_model], c.norm_eps);
        let head = self.layout.lm_head;
        matvec(logits, &p[head..head + c.vocab_size * c.d_model], &xf);
    }

    /// Tokens processed so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Forgets the cached context.
    pub fn reset(&mut self) {
        self.pos = 0;
    }

    /// Forgets the cached context after its first `pos` tokens, so that
    /// several continuations of one prompt share its cache (the quoted
    /// answers' beam search, `crate::chat::quote`). Not while tracing.
    pub fn rewind(&mut self, pos: usize) {
        assert!(pos <= self.pos, "rewind to {pos} past the {} tokens cached", self.pos);
        debug_assert!(self.trace.is_none(), "a trace cannot be rewound");
        self.pos = pos;
    }

    /// Reads `prompt` into the cache and returns the logits for the token
    /// after it. Whatever the cache already holds of it (the longest common
    /// prefix with what was fed before) is kept, so a chat's next turn reads
    /// only what is new: a 400-token conversation costs one step per new
    /// token instead of 400. The last token is always read again, since the
    /// logits after it are not kept. Empty for an empty prompt.
    pub fn prefill(&mut self, prompt: &[u32]) -> Vec<f32> {
        let shared = shared_prefix(&self.fed[..self.pos], prompt);
        // A trace records every token it is fed, so a traced read starts over.
        let keep = if self.trace.is_some() { 0 } else { shared.min(prompt.len().saturating_sub(1)) };
        self.pos = keep;
        tracing::debug!(prompt = prompt.len(), kept = keep, "prefill: the cache held {keep} of the prompt's tokens");
        let mut logits = Vec::new();
        for &t in &prompt[keep..] {
            logits = self.step(t).to_vec();
        }
        logits
    }

    /// Feeds one token; returns the logits for the next one. Panics past
    /// `max_seq_len` (callers stop before; see [`generate`]).
    pub fn step(&mut self, token: u32) -> &[f32] {
        // The token's whole forward pass runs on one of rayon's worker
        // threads: its few dozen parallel products then split with
        // work-stealing among the workers, where from any other thread each
        // one would be queued to the pool and the caller put to sleep until
        // it finished.
        rayon::scope(|_| self.forward(token));
        &self.logits
    }

    fn forward(&mut self, token: u32) {
        let c = &self.config;
        let (d, hd, f) = (c.d_model, c.head_dim(), c.ffn_hidden);
        let (heads, kv_heads) = (c.n_heads, c.n_kv_heads);
        let kv = kv_heads * hd;
        let pos = self.pos;
        assert!(pos < c.max_seq_len, "context full: {} tokens", c.max_seq_len);
        grow_cache(&mut self.k_cache, (pos + 1) * kv, c.max_seq_len * kv);
        grow_cache(&mut self.v_cache, (pos + 1) * kv, c.max_seq_len * kv);
        if self.scores.len() < heads * (pos + 1) {
            self.scores.resize(heads * (pos + 1), 0.0);
        }
        let p = self.params;
        let w = |off: usize, len: usize| &p[off..off + len];
        let e = self.layout.embed;
        self.x.copy_from_slice(w(e + token as usize * d, d));
        if let Some(t) = self.trace.as_mut() {
            t.residual[0].extend_from_slice(&self.x);
        }
        // The matrix `i` of layer `l` (in [`QuantizedWeights`] order), or the
        // output head for `None`, as stored.
        let q8 = self.q8;
        let weight = |l, i, off: usize, len: usize| QuantizedWeights::weight(q8, l, i, &p[off..off + len]);
        for l in 0..c.n_layers {
            let o = self.layout.layers[l];
            let at = Some(l);
            rmsnorm_row(&mut self.xn, &self.x, w(o.attn_norm, d), c.norm_eps);
            let x = Input::new(&self.xn, q8.is_some(), &mut self.xq);
            matvecs(
                &mut [
                    (&mut self.q, weight(at, 0, o.wq, d * d)),
                    (&mut self.k, weight(at, 1, o.wk, kv * d)),
                    (&mut self.v, weight(at, 2, o.wv, kv * d)),
                ],
                x,
            );
            for h in 0..heads {
                self.rope.rotate(&mut self.q[h * hd..(h + 1) * hd], pos, false);
            }
            for h in 0..kv_heads {
                self.rope.rotate(&mut self.k[h * hd..(h + 1) * hd], pos, false);
            }
            self.k_cache[l][pos * kv..(pos + 1) * kv].copy_from_slice(&self.k);
            self.v_cache[l][pos * kv..(pos + 1) * kv].copy_from_slice(&self.v);
            attend(&mut self.att, &self.q, &self.k_cache[l], &self.v_cache[l], pos, hd, kv_heads, &mut self.scores);
            if let Some(t) = self.trace.as_mut() {
                t.record_attention(l, &self.scores[..heads * (pos + 1)], pos + 1);
            }
            let x = Input::new(&self.att, q8.is_some(), &mut self.xq);
            matvecs(&mut [(&mut self.xn, weight(at, 3, o.wo, d * d))], x);
            for (x, a) in self.x.iter_mut().zip(&self.xn) {
                *x += a;
            }
            rmsnorm_row(&mut self.xn, &self.x, w(o.ffn_norm, d), c.norm_eps);
            let x = Input::new(&self.xn, q8.is_some(), &mut self.xq);
            swiglu_matvec(
                &mut self.gate,
                &mut self.up,
                weight(at, 4, o.w_gate, f * d),
                weight(at, 5, o.w_up, f * d),
                x,
            );
            let x = Input::new(&self.gate, q8.is_some(), &mut self.xq);
            matvecs(&mut [(&mut self.xn, weight(at, 6, o.w_down, d * f))], x);
            for (x, m) in self.x.iter_mut().zip(&self.xn) {
                *x += m;
            }
            if let Some(t) = self.trace.as_mut() {
                t.residual[l + 1].extend_from_slice(&self.x);
            }
        }
        let mut xf = vec![0.0; d];
        rmsnorm_row(&mut xf, &self.x, w(self.layout.final_norm, d), c.norm_eps);
        let x = Input::new(&xf, q8.is_some(), &mut self.xq);
        matvecs(&mut [(&mut self.logits, weight(None, 0, self.layout.lm_head, c.vocab_size * d))], x);
        self.fed.truncate(self.pos);
        self.fed.push(token);
        self.pos += 1;
    }
}

/// The temperature chat samples at unless told otherwise: `fledge chat`,
/// `fledge serve` and the battery's story requests start from it (the
/// exported `generation_config.json` writes the same 0.7 as JSON text).
pub const CHAT_TEMPERATURE: f32 = 0.7;
/// The rest of chat's sampling, shared the same way: the 40 most likely
/// tokens, of those the ones holding 0.95 of the probability, and tokens
/// the reply has used made 1.1 times less likely.
pub const CHAT_TOP_K: usize = 40;
pub const CHAT_TOP_P: f32 = 0.95;
pub const CHAT_REPETITION_PENALTY: f32 = 1.1;

/// How to pick each next token.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct SamplingOptions {
    /// 0 picks the most likely token (greedy).
    pub temperature: f32,
    /// Keep only the k most likely tokens (0: all).
    pub top_k: usize,
    /// Keep the smallest set of tokens whose probability reaches p (1: all).
    pub top_p: f32,
    /// Above 1 discourages tokens the reply has already used. Only the
    /// generated tokens count, not the prompt's: the penalty is there to stop
    /// a small model from looping, and counting the prompt would push it away
    /// from the very words it should copy (the subject of a story request,
    /// the answer in a given text).
    pub repetition_penalty: f32,
    pub max_new_tokens: usize,
    pub seed: u64,
    /// Generation stops when the text produced contains one of these.
    pub stop_strings: Vec<String>,
    /// Generation stops at these tokens (by default `<|endoftext|>` and `<|im_end|>`).
    pub stop_tokens: Vec<u32>,
    /// Record each token's log-probability and this many alternatives
    /// ([`Decoding::take_logprobs`]); none when `None`.
    pub logprobs: Option<usize>,
}

impl Default for SamplingOptions {
    fn default() -> Self {
        Self {
            temperature: 0.8,
            top_k: 50,
            top_p: 0.95,
            repetition_penalty: 1.1,
            max_new_tokens: 200,
            seed: 0,
            stop_strings: Vec::new(),
            stop_tokens: Vec::new(),
            logprobs: None,
        }
    }
}

impl SamplingOptions {
    /// Which distribution [`TokenLogprob`]s describe under these options, in
    /// words (the API's `distribution` field, `generate --show-probs`).
    pub fn logprob_distribution(&self) -> String {
        if self.temperature <= 0.0 {
            "model: temperature 0 (greedy), the model's own probabilities".into()
        } else {
            format!(
                "sampling: the distribution each token was drawn from, after repetition_penalty {}, temperature {}, top_k {}, top_p {}",
                self.repetition_penalty, self.temperature, self.top_k, self.top_p
            )
        }
    }
}

/// A generated token's log-probability and the most likely alternatives at
/// its position, most likely first. With sampling (temperature above 0) they
/// are those of the distribution the token was drawn from (after repetition
/// penalty, temperature, top-k and top-p), so alternatives cut by top-k or
/// top-p are not listed; greedy (temperature 0) gives the raw model's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TokenLogprob {
    pub token: u32,
    pub logprob: f32,
    pub top: Vec<(u32, f32)>,
}

/// Picks the next token like [`sample`], and says how likely it and the
/// `n` best alternatives were.
fn sample_with_logprobs(
    logits: &mut [f32],
    history: &[u32],
    o: &SamplingOptions,
    n: usize,
    rng: &mut impl Rng,
) -> TokenLogprob {
    if o.temperature <= 0.0 {
        let raw = inspect::log_softmax(logits);
        let token = sample(logits, history, o, rng);
        return TokenLogprob { token, logprob: raw[token as usize], top: inspect::top_n(&raw, n) };
    }
    let candidates = sampling_distribution(logits, history, o);
    let chosen = draw(&candidates, rng);
    let top = candidates.iter().take(n).map(|&(t, p)| (t, p.ln())).collect();
    TokenLogprob { token: chosen.0, logprob: chosen.1.ln(), top }
}

/// Picks the next token from logits (modified in place).
pub fn sample(logits: &mut [f32], history: &[u32], o: &SamplingOptions, rng: &mut impl Rng) -> u32 {
    let candidates = sampling_distribution(logits, history, o);
    if o.temperature <= 0.0 {
        return candidates[0].0;
    }
    draw(&candidates, rng).0
}

/// One token drawn from a distribution (most likely first, summing to 1),
/// with its probability.
fn draw(candidates: &[(u32, f32)], rng: &mut impl Rng) -> (u32, f32) {
    let mut r: f32 = rng.gen();
    for &(token, p) in candidates {
        if r < p {
            return (token, p);
        }
        r -= p;
    }
    candidates[candidates.len() - 1]
}

/// The distribution the next token is drawn from: the tokens left after
/// repetition penalty, temperature, top-k and top-p, most likely first, with
/// their probabilities (summing to 1). With temperature 0 (greedy) it is one
/// token, the most likely after the penalty, with probability 1. `logits`
/// are modified in place (the penalty).
pub fn sampling_distribution(logits: &mut [f32], history: &[u32], o: &SamplingOptions) -> Vec<(u32, f32)> {
    if o.repetition_penalty != 1.0 {
        let mut seen = history.to_vec();
        seen.sort_unstable();
        seen.dedup();
        for t in seen {
            if let Some(l) = logits.get_mut(t as usize) {
                *l = if *l > 0.0 { *l / o.repetition_penalty } else { *l * o.repetition_penalty };
            }
        }
    }
    if o.temperature <= 0.0 {
        return vec![(argmax(logits), 1.0)];
    }
    let mut candidates: Vec<(u32, f32)> =
        logits.iter().enumerate().map(|(i, &l)| (i as u32, l / o.temperature)).collect();
    let descending = |a: &(u32, f32), b: &(u32, f32)| b.1.partial_cmp(&a.1).unwrap_or(std::cmp::Ordering::Equal);
    // Only the top k need sorting: select them first (linear time), then sort those.
    if o.top_k > 0 && o.top_k < candidates.len() {
        candidates.select_nth_unstable_by(o.top_k - 1, descending);
        candidates.truncate(o.top_k);
    }
    candidates.sort_by(descending);
    let max = candidates[0].1;
    for c in candidates.iter_mut() {
        c.1 = (c.1 - max).exp();
    }
    let total: f32 = candidates.iter().map(|c| c.1).sum();
    candidates.iter_mut().for_each(|c| c.1 /= total);
    if o.top_p < 1.0 {
        let mut cumulative = 0.0;
        let mut keep = candidates.len();
        for (i, c) in candidates.iter().enumerate() {
            cumulative += c.1;
            if cumulative >= o.top_p {
                keep = i + 1;
                break;
            }
        }
        candidates.truncate(keep);
        let total: f32 = candidates.iter().map(|c| c.1).sum();
        candidates.iter_mut().for_each(|c| c.1 /= total);
    }
    candidates
}

/// How many tokens `a` and `b` share from their start: what a cache holding
/// `a` keeps for a prompt `b` ([`Generator::prefill`], the server's slots).
pub(crate) fn shared_prefix(a: &[u32], b: &[u32]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// The index of the largest value (the first, on ties).
pub(crate) fn argmax(v: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best as u32
}

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    StopToken,
    StopString,
    Length,
    ContextFull,
}

/// The result of [`generate`].
#[derive(Debug, Clone, Serialize)]
pub struct Generation {
    pub text: String,
    pub tokens: Vec<u32>,
    pub prompt_tokens: usize,
    pub finish: FinishReason,
    pub seconds: f64,
    /// Each token's log-probability and alternatives, when the options asked for them.
    pub logprobs: Vec<TokenLogprob>,
}

/// What [`Decoding::next`] produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// New text to show (empty while a multi-byte character or a possible
    /// stop string is still incomplete).
    Text(String),
    /// Generation is over; the last text to show, and why.
    Finished(String, FinishReason),
}

/// One sequence's sampling state: its random generator, the tokens so far,
/// and the text already handed out. [`generate`] drives it with one model;
/// the server drives many at once through one batched forward pass.
pub struct Decoding {
    options: SamplingOptions,
    rng: ChaCha8Rng,
    stop_tokens: Vec<u32>,
    /// The reply's tokens so far (the repetition penalty counts these).
    tokens: Vec<u32>,
    /// All generated tokens, decoded.
    decoded: String,
    /// Text handed out so far; a prefix of `decoded`.
    emitted: String,
    /// Log-probabilities of the generated tokens (when asked for), and how
    /// many of them have been handed out.
    logprobs: Vec<TokenLogprob>,
    logprobs_taken: usize,
}

impl Decoding {
    pub fn new(tokenizer: &Tokenizer, options: &SamplingOptions) -> Self {
        let stop_tokens = if options.stop_tokens.is_empty() {
            vec![tokenizer.eot_id(), tokenizer.im_end_id()]
        } else {
            options.stop_tokens.clone()
        };
        Self {
            options: options.clone(),
            rng: ChaCha8Rng::seed_from_u64(options.seed),
            stop_tokens,
            tokens: Vec::new(),
            decoded: String::new(),
            emitted: String::new(),
            logprobs: Vec::new(),
            logprobs_taken: 0,
        }
    }

    /// The log-probabilities of tokens generated since the last call (for a
    /// stream: those of the text just handed out, and of any token held back
    /// before it). Empty unless the options asked for them.
    pub fn take_logprobs(&mut self) -> Vec<TokenLogprob> {
        let new = self.logprobs[self.logprobs_taken..].to_vec();
        self.logprobs_taken = self.logprobs.len();
        new
    }

    /// The tokens generated so far (stop tokens excluded).
    pub fn tokens(&self) -> &[u32] {
        &self.tokens
    }

    /// The text handed out so far.
    pub fn text(&self) -> &str {
        &self.emitted
    }

    /// Samples the next token from `logits` (modified in place). When the
    /// result is [`Step::Text`], the caller feeds [`Decoding::last_token`]
    /// to the model to get the next logits.
    pub fn next(&mut self, logits: &mut [f32], tokenizer: &Tokenizer) -> Step {
        if self.tokens.len() >= self.options.max_new_tokens {
            return Step::Finished(self.flush(), FinishReason::Length);
        }
        let token = match self.options.logprobs {
            Some(n) => {
                let lp = sample_with_logprobs(logits, &self.tokens, &self.options, n, &mut self.rng);
                let token = lp.token;
                if !self.stop_tokens.contains(&token) {
                    self.logprobs.push(lp);
                }
                token
            }
            None => sample(logits, &self.tokens, &self.options, &mut self.rng),
        };
        if self.stop_tokens.contains(&token) {
            return Step::Finished(self.flush(), FinishReason::StopToken);
        }
        self.tokens.push(token);
        self.decoded = tokenizer.decode(&self.tokens).unwrap_or_default();
        let text = &self.decoded;
        if let Some(stop) = self.options.stop_strings.iter().filter_map(|s| text.find(s.as_str())).min() {
            let piece = text.get(self.emitted.len()..stop).unwrap_or_default().to_string();
            self.emitted.push_str(&piece);
            return Step::Finished(piece, FinishReason::StopString);
        }
        // Hold back an incomplete UTF-8 sequence until its last byte arrives,
        // and any tail that could be the start of a stop string.
        if text.ends_with('\u{FFFD}') || !text.starts_with(&self.emitted) {
            return Step::Text(String::new());
        }
        let safe = text.len() - self.stop_prefix_len(text);
        if safe <= self.emitted.len() || !text.is_char_boundary(safe) {
            return Step::Text(String::new());
        }
        let piece = text[self.emitted.len()..safe].to_string();
        self.emitted.push_str(&piece);
        Step::Text(piece)
    }

    /// The token the last `Step::Text` came from.
    pub fn last_token(&self) -> u32 {
        *self.tokens.last().expect("next() sampled a token")
    }

    /// Ends the sequence early (length or context limit), handing out any
    /// text held back.
    pub fn finish(&mut self, reason: FinishReason) -> Step {
        Step::Finished(self.flush(), reason)
    }

    /// Text decoded but held back (a possible stop-string start that never completed).
    fn flush(&mut self) -> String {
        if !self.decoded.starts_with(&self.emitted) {
            return String::new();
        }
        let piece = self.decoded[self.emitted.len()..].trim_end_matches('\u{FFFD}').to_string();
        self.emitted.push_str(&piece);
        piece
    }

    /// Length of the longest tail of `text` that starts some stop string.
    fn stop_prefix_len(&self, text: &str) -> usize {
        let mut longest = 0;
        for stop in &self.options.stop_strings {
            for n in (1..stop.len()).rev() {
                if n > longest && stop.is_char_boundary(n) && text.ends_with(&stop[..n]) {
                    longest = n;
                    break;
                }
            }
        }
        longest
    }
}

/// Continues `prompt_ids`, calling `on_text` with each new piece of text as
/// soon as it decodes to whole characters.
pub fn generate(
    generator: &mut Generator,
    tokenizer: &Tokenizer,
    prompt_ids: &[u32],
    options: &SamplingOptions,
    on_text: impl FnMut(&str),
) -> Generation {
    generate_contrasted(generator, None, tokenizer, prompt_ids, options, on_text)
}

/// A second copy of the model reading another prompt, whose logits each
/// step's logits are contrasted with: `(1 + weight) * with - weight *
/// without`, so that tokens the difference between the two prompts makes
/// likelier rise and those the model would say either way fall. Two uses:
/// - context-aware decoding (Shi et al. 2023, "Trusting Your Evidence:
///   Hallucinate Less with Context-aware Decoding"): the other prompt is the
///   conversation without its context, so the answer leans on the text
///   rather than on the model's favourite names or a time it made up;
/// - classifier-free guidance (Sanchez et al. 2023, "Stay on Topic with
///   Classifier-Free Guidance"): the other prompt is the conversation
///   without the user's last request (`crate::chat::without_request`), so
///   the reply keeps to what was asked (the cat of "a story about a cat").
///
/// Only tokens within `plausible` of the with-prompt model's most likely
/// one (as a ratio of probabilities: 0.1 keeps those at least a tenth as
/// likely) stay candidates, so the contrast never promotes a token the
/// model itself finds absurd (the plausibility constraint of contrastive
/// decoding, Li et al. 2023).
pub struct Contrast<'g, 'a> {
    /// A generator over the same weights, fed `plain_prompt`.
    pub plain: &'g mut Generator<'a>,
    /// The other prompt (without the context, or without the request).
    pub plain_prompt: &'g [u32],
    pub weight: f32,
    pub plausible: f32,
}

impl Contrast<'_, '_> {
    /// `with` becomes the contrasted logits (`without` is the plain model's).
    fn combine(&self, with: &mut [f32], without: &[f32]) {
        contrast_logits(with, without, self.weight, self.plausible);
    }
}

/// [`Contrast`]'s rule on one step's logits, for callers that run the second
/// prompt themselves (the server's batched engine): `with` becomes
/// `(1 + weight) * with - weight * without` where it is within `plausible`
/// of its favourite, minus infinity elsewhere.
pub fn contrast_logits(with: &mut [f32], without: &[f32], weight: f32, plausible: f32) {
    let max = with.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let floor = max + plausible.max(f32::MIN_POSITIVE).ln();
    for (w, &p) in with.iter_mut().zip(without) {
        *w = if *w < floor { f32::NEG_INFINITY } else { (1.0 + weight) * *w - weight * p };
    }
}

/// [`generate`], with the logits contrasted against another prompt when
/// `contrast` is given ([`Contrast`]).
pub fn generate_contrasted(
    generator: &mut Generator,
    mut contrast: Option<Contrast>,
    tokenizer: &Tokenizer,
    prompt_ids: &[u32],
    options: &SamplingOptions,
    mut on_text: impl FnMut(&str),
) -> Generation {
    let start = std::time::Instant::now();
    let max_ctx = generator.config.max_seq_len;
    let mut logits = generator.prefill(&prompt_ids[..prompt_ids.len().min(max_ctx)]);
    if let Some(c) = contrast.as_mut() {
        let plain = c.plain.prefill(&c.plain_prompt[..c.plain_prompt.len().min(max_ctx)]);
        if !logits.is_empty() && !plain.is_empty() {
            c.combine(&mut logits, &plain);
        }
    }
    let mut decoding = Decoding::new(tokenizer, options);
    let finish = loop {
        let step = if logits.is_empty() || generator.position() >= max_ctx {
            decoding.finish(FinishReason::ContextFull)
        } else {
            decoding.next(&mut logits, tokenizer)
        };
        match step {
            Step::Text(piece) => {
                if !piece.is_empty() {
                    on_text(&piece);
                }
                if generator.position() < max_ctx {
                    logits = generator.step(decoding.last_token()).to_vec();
                    if let Some(c) = contrast.as_mut() {
                        // The plain prompt is the shorter one: it has room whenever the full one does.
                        let plain = c.plain.step(decoding.last_token()).to_vec();
                        c.combine(&mut logits, &plain);
                    }
                } else {
                    logits.clear();
                }
            }
            Step::Finished(piece, reason) => {
                if !piece.is_empty() {
                    on_text(&piece);
                }
                break reason;
            }
        }
    };
    Generation {
        text: decoding.text().to_string(),
        tokens: decoding.tokens().to_vec(),
        prompt_tokens: prompt_ids.len(),
        finish,
        seconds: start.elapsed().as_secs_f64(),
        logprobs: decoding.take_logprobs(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::params::init_params;
    use crate::model::Engine;

    #[test]
    fn cached_logits_equal_the_training_engine() {
        let mut c = ModelConfig::preset("tiny", 97).unwrap();
        c.n_kv_heads = 2;
        cached_logits_match(&c, 24);
        // Wide enough that every product takes the parallel path too, and
        // long enough that attention's heads do.
        let mut c = ModelConfig::preset("reference", 97).unwrap();
        (c.n_layers, c.n_kv_heads) = (2, 2);
        assert!((c.d_model + 2 * c.n_kv_heads * c.head_dim()) * c.d_model >= PARALLEL_MACS);
        assert!(2 * c.n_heads * 160 * c.head_dim() >= PARALLEL_MACS);
        cached_logits_match(&c, 160);
    }

    /// `prefill` keeps what the cache holds of a new prompt and reads only the
    /// rest: after any earlier prompt (sharing a prefix, the same, longer,
    /// shorter, unrelated) its logits and a whole generation equal a fresh
    /// generator's; and it does reuse the cache, since spoiling the cached
    /// first position changes what a prompt sharing it gives.
    #[test]
    fn prefill_reuses_the_shared_prefix_and_matches_a_fresh_read() {
        let c = ModelConfig::preset("tiny", 97).unwrap();
        let params = init_params(&c, &ParamLayout::new(&c), 5);
        let fresh = |prompt: &[u32]| Generator::new(&c, &params).prefill(prompt);
        let turn = [3u32, 14, 15, 92, 65, 35, 89];
        let mut g = Generator::new(&c, &params);
        let mut before: Vec<u32> = Vec::new();
        for prompt in [&turn[..], &[3, 14, 15, 92, 65, 35, 89, 79, 32, 38][..], &turn[..], &turn[..4], &[50, 28, 8][..]]
        {
            assert_eq!(g.prefill(prompt), fresh(prompt), "after {before:?}, {prompt:?}");
            assert_eq!(g.position(), prompt.len());
            before = prompt.to_vec();
        }
        assert!(g.prefill(&[]).is_empty());

        let tok = {
            let text = "the cat sat on the mat. the dog ran.\n".repeat(20);
            Tokenizer::train([text.as_str()].into_iter(), 300, false).unwrap()
        };
        let c = ModelConfig::preset("tiny", tok.vocab_size()).unwrap();
        let params = init_params(&c, &ParamLayout::new(&c), 6);
        let options = SamplingOptions { temperature: 0.8, max_new_tokens: 12, seed: 4, ..Default::default() };
        let first = tok.encode("the cat sat", false);
        let mut second = first.clone();
        second.extend(tok.encode(" on the mat. the dog", false));
        let mut g = Generator::new(&c, &params);
        let _ = generate(&mut g, &tok, &first, &options, |_| {});
        let reused = generate(&mut g, &tok, &second, &options, |_| {});
        let anew = generate(&mut Generator::new(&c, &params), &tok, &second, &options, |_| {});
        assert_eq!((reused.tokens, reused.logprobs), (anew.tokens, anew.logprobs));

        let mut g = Generator::new(&c, &params);
        g.prefill(&first);
        g.k_cache[0][0] += 1.0;
        assert_ne!(g.prefill(&second), Generator::new(&c, &params).prefill(&second));
    }

    /// A rewound generator forgets what came after the rewind point: two
    /// continuations of one prompt give the same logits as fresh runs.
    #[test]
    fn rewinding_shares_the_prompt_and_forgets_the_rest() {
        let c = ModelConfig::preset("tiny", 97).unwrap();
        let params = init_params(&c, &ParamLayout::new(&c), 5);
        let prompt = [3u32, 14, 15, 92, 65];
        let fresh = |tail: &[u32]| {
            let mut g = Generator::new(&c, &params);
            let mut logits = Vec::new();
            for &t in prompt.iter().chain(tail) {
                logits = g.step(t).to_vec();
            }
            logits
        };
        let mut g = Generator::new(&c, &params);
        for &t in &prompt {
            g.step(t);
        }
        for tail in [[35u32, 89], [79, 32], [35, 89]] {
            g.rewind(prompt.len());
            let mut logits = Vec::new();
            for &t in &tail {
                logits = g.step(t).to_vec();
            }
            assert_eq!(g.position(), prompt.len() + tail.len());
            assert_eq!(logits, fresh(&tail), "continuation {tail:?}");
        }
    }

    fn cached_logits_match(c: &ModelConfig, len: usize) {
        let c = c.clone();
        let layout = ParamLayout::new(&c);
        let params = init_params(&c, &layout, 3);
        let tokens: Vec<u32> = (0..len).map(|i| (i * 37 % 97) as u32).collect();
        let mut engine = Engine::new(&c, 1, tokens.len());
        engine.forward(&params, &tokens);
        let full = engine.logits().to_vec();
        let mut g = Generator::new(&c, &params);
        for (i, &t) in tokens.iter().enumerate() {
            let step = g.step(t);
            let reference = &full[i * 97..(i + 1) * 97];
            let err = step.iter().zip(reference).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
            assert!(err < 1e-4, "position {i}: logits differ by {err}");
        }
    }

    /// Q8_0 logits follow f32's closely, at every position, whether every
    /// matrix is quantized or some stay f32 (rows not whole blocks).
    #[test]
    fn q8_logits_follow_f32() {
        for ffn in [384, 200] {
            let mut c = ModelConfig::preset("tiny", 97).unwrap();
            c.ffn_hidden = ffn;
            let params = init_params(&c, &ParamLayout::new(&c), 9);
            let q8 = QuantizedWeights::new(&c, &params);
            let (quantized, kept) = q8.counts();
            assert_eq!(kept, if ffn % 32 == 0 { 0 } else { c.n_layers }, "only w_down of width {ffn} stays f32");
            assert_eq!(quantized + kept, 7 * c.n_layers + 1);
            let (mut f, mut q) = (Generator::new(&c, &params), Generator::new(&c, &params).quantized(&q8));
            for t in 0..40u32 {
                let (a, b) = (f.step(t * 13 % 97).to_vec(), q.step(t * 13 % 97).to_vec());
                let dot: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
                let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
                let cosine = dot / (norm(&a) * norm(&b));
                assert!(cosine > 0.999, "ffn {ffn}, position {t}: cosine {cosine}");
            }
        }
        assert!(QuantizedWeights::for_option(Quantize::F32, &ModelConfig::preset("tiny", 97).unwrap(), &[]).is_none());
    }

    #[test]
    fn greedy_and_top_k_sampling() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let greedy = SamplingOptions { temperature: 0.0, repetition_penalty: 1.0, ..Default::default() };
        assert_eq!(sample(&mut [0.1, 3.0, 0.2], &[], &greedy, &mut rng), 1);
        let top1 = SamplingOptions { temperature: 1.0, top_k: 1, ..Default::default() };
        for _ in 0..20 {
            assert_eq!(sample(&mut [0.1, 3.0, 2.9], &[], &top1, &mut rng), 1);
        }
        // A strong repetition penalty moves greedy off a token already used.
        let penalized = SamplingOptions { temperature: 0.0, repetition_penalty: 10.0, ..Default::default() };
        assert_eq!(sample(&mut [0.1, 3.0, 2.9], &[1], &penalized, &mut rng), 2);
    }

    /// The penalty counts the reply's own tokens, never the prompt's: a
    /// model asked about a cat may say "cat", however hard it is penalized.
    #[test]
    fn the_repetition_penalty_spares_the_prompt_and_counts_the_reply() {
        let text = "the cat sat on the mat. the dog sat on the log. ".repeat(30);
        let tok = Tokenizer::train([text.as_str()].into_iter(), 300, false).unwrap();
        let prompt = tok.encode("the cat", false);
        let options = SamplingOptions { temperature: 0.0, repetition_penalty: 1e6, ..Default::default() };
        let mut d = Decoding::new(&tok, &options);
        let vocab = tok.vocab_size();
        // Logits that favour the prompt's last token, then another.
        let favour = |first: u32, second: u32| {
            let mut l = vec![0.0f32; vocab];
            l[first as usize] = 5.0;
            l[second as usize] = 4.0;
            l
        };
        let (cat, other) = (*prompt.last().unwrap(), tok.im_end_id() - 1);
        d.next(&mut favour(cat, other), &tok);
        assert_eq!(d.last_token(), cat, "a prompt token is not penalized");
        d.next(&mut favour(cat, other), &tok);
        assert_eq!(d.last_token(), other, "once the reply has used it, it is");
    }

    /// Text that may begin a stop string is held back until it is clear; the
    /// stop string itself is never handed out.
    #[test]
    fn stop_strings_are_held_back_then_cut() {
        let text = "the cat sat. the dog ran. User: hi\n".repeat(20);
        let tok = Tokenizer::train([text.as_str()].into_iter(), 300, false).unwrap();
        let script = tok.encode("the dog ran. Us the cat. User: no", false);
        let options = SamplingOptions {
            temperature: 0.0,
            repetition_penalty: 1.0,
            stop_strings: vec!["User:".into()],
            ..Default::default()
        };
        let mut d = Decoding::new(&tok, &options);
        let mut shown = String::new();
        for &t in &script {
            // Logits that make greedy sampling pick the scripted token.
            let mut logits = vec![0.0; tok.vocab_size()];
            logits[t as usize] = 1.0;
            match d.next(&mut logits, &tok) {
                Step::Text(piece) => {
                    shown.push_str(&piece);
                    assert!(!shown.contains("User"), "{shown:?}");
                }
                Step::Finished(piece, reason) => {
                    shown.push_str(&piece);
                    assert_eq!(reason, FinishReason::StopString);
                    break;
                }
            }
        }
        assert_eq!(shown, "the dog ran. Us the cat. ");
        assert_eq!(d.text(), shown);
    }

    /// Context-aware decoding: each step's logits are (1 + w) x with - w x
    /// without the context, tokens far less likely than the favourite are
    /// dropped, and both copies of the model advance with every token.
    #[test]
    fn context_contrast_follows_both_prompts_token_by_token() {
        let text = "the cat sat on the mat. the dog sat on the log. ".repeat(30);
        let tok = Tokenizer::train([text.as_str()].into_iter(), 300, false).unwrap();
        let c = ModelConfig::preset("tiny", tok.vocab_size()).unwrap();
        let params = init_params(&c, &ParamLayout::new(&c), 5);
        let (prompt, other) = (tok.encode("the cat sat on the", false), tok.encode("the dog", false));

        let mut plain = Generator::new(&c, &params);
        let contrast = Contrast { plain: &mut plain, plain_prompt: &other, weight: 1.0, plausible: 0.1 };
        let mut logits = vec![2.0, 1.0, -5.0];
        contrast.combine(&mut logits, &[1.0, 1.0, -9.0]);
        assert_eq!(logits, vec![3.0, 1.0, f32::NEG_INFINITY]);

        // No stop token can come up: every step is checked.
        let options = SamplingOptions {
            temperature: 0.0,
            repetition_penalty: 1.0,
            max_new_tokens: 6,
            stop_tokens: vec![u32::MAX],
            ..Default::default()
        };
        // A random model's scores barely depend on the prompt and its
        // favourite is far ahead: a large weight and a loose bound give the
        // contrast room to change the reply, so the check below is not vacuous.
        let (weight, plausible) = (1000.0, 1e-6f32);
        let mut g = Generator::new(&c, &params);
        let contrast = Contrast { plain: &mut plain, plain_prompt: &other, weight, plausible };
        let out = generate_contrasted(&mut g, Some(contrast), &tok, &prompt, &options, |_| {});
        assert_eq!(out.tokens.len(), 6);

        // The same by hand: two generators, the contrast, the argmax.
        let (mut with, mut without) = (Generator::new(&c, &params), Generator::new(&c, &params));
        let (mut lw, mut lo) = (Vec::new(), Vec::new());
        for &t in &prompt {
            lw = with.step(t).to_vec();
        }
        for &t in &other {
            lo = without.step(t).to_vec();
        }
        for (i, &token) in out.tokens.iter().enumerate() {
            let max = lw.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let expected = (0..lw.len())
                .filter(|&j| lw[j] >= max + plausible.ln())
                .max_by(|&a, &b| {
                    let score = |j: usize| (1.0 + weight) * lw[j] - weight * lo[j];
                    score(a).total_cmp(&score(b))
                })
                .unwrap();
            assert_eq!(token as usize, expected, "token {i}");
            lw = with.step(token).to_vec();
            lo = without.step(token).to_vec();
        }
        let plain_out = generate(&mut Generator::new(&c, &params), &tok, &prompt, &options, |_| {});
        assert_ne!(out.tokens, plain_out.tokens, "a large weight against another prompt changes this reply");

        // Against the very same prompt, the contrast is the plain logits.
        let mut g = Generator::new(&c, &params);
        let same = Contrast { plain: &mut plain, plain_prompt: &prompt, weight: 2.0, plausible: 0.1 };
        let out = generate_contrasted(&mut g, Some(same), &tok, &prompt, &options, |_| {});
        assert_eq!(out.tokens, plain_out.tokens);
    }
}
