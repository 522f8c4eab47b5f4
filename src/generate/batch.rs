//! Many sequences through one forward pass: the server's continuous batching.
//!
//! [`Generator::step`](super::Generator::step) reads every weight once per
//! token. The reference model's weights are 23 MB, more than the caches hold,
//! so one token at a time leaves the CPU waiting on memory. Stacking the next
//! token of every active sequence (and chunks of new prompts) into one matrix
//! turns each matrix-vector product into a matrix product: the weights are
//! read once per step for all rows.
//!
//! Each sequence owns a slot: its own KV cache. Each row of a step names its
//! slot and carries its own position, so sequences of different lengths, some
//! still reading their prompt and some generating, share a step. Rows of one
//! slot in one step are consecutive positions; their keys and values are all
//! written to the cache before attention, so a row attends to the rows before
//! it in the same step as if they had come in earlier steps.
//!
//! A released slot keeps its cache and the tokens it holds, so a new
//! sequence that starts the same way (a chat's next turn, sent again whole,
//! as the OpenAI API does) takes the slot sharing most of its prompt and
//! reads only the rest ([`BatchDecoder::acquire_for`]).

use rayon::prelude::*;

use super::q8::Q8Vector;
use super::{attend, matvecs, swiglu_row, Input, QuantizedWeights, Weight, ROWS_PER_TASK};
use crate::model::kernels::{linear_forward, rmsnorm_row, Rope};
use crate::model::params::ParamLayout;
use crate::model::ModelConfig;

/// One token of one sequence in a step.
#[derive(Debug, Clone, Copy)]
pub struct Row {
    pub slot: usize,
    pub token: u32,
    /// Whether the caller wants the logits after this token (the last row of
    /// a sequence in the step; prompt rows before it need none).
    pub logits: bool,
}

/// A sequence's KV cache: per layer, `[positions, kv_heads * head_dim]`,
/// grown as its context grows (see [`super::grow_cache`]).
struct Slot {
    k: Vec<Vec<f32>>,
    v: Vec<Vec<f32>>,
    in_use: bool,
    /// The tokens the cache holds, in order (their count is its length).
    tokens: Vec<u32>,
    /// When the slot was last released ([`BatchDecoder::release`]'s count):
    /// a new sequence sharing nothing takes the longest-unused slot.
    released: u64,
}

/// Weights, one KV cache per slot, and buffers grown to the largest step.
pub struct BatchDecoder<'a> {
    pub config: ModelConfig,
    layout: ParamLayout,
    params: &'a [f32],
    rope: Rope,
    slots: Vec<Slot>,
    max_slots: usize,
    releases: u64,
    x: Vec<f32>,
    xn: Vec<f32>,
    q: Vec<f32>,
    k: Vec<f32>,
    v: Vec<f32>,
    att: Vec<f32>,
    gate: Vec<f32>,
    up: Vec<f32>,
    last: Vec<f32>,
    logits: Vec<f32>,
    /// The matrices in Q8_0, when decoding quantized ([`BatchDecoder::quantized`]).
    q8: Option<&'a QuantizedWeights>,
    /// Each row's layer input in Q8_0 blocks.
    xq: Vec<Q8Vector>,
}

/// Below this many rows a matrix product costs more than row-by-row
/// matrix-vector products (packing the weights outweighs reusing them).
const MIN_MATMUL_ROWS: usize = 4;

/// `y[r] = W x[r]` for every row, `W` `[d_out, d_in]`; `xq` holds the
/// rows' Q8_0 blocks when `W` is Q8_0.
fn linear(y: &mut [f32], x: &[f32], w: Weight, xq: &mut Vec<Q8Vector>, rows: usize, d_in: usize, d_out: usize) {
    match w {
        Weight::F32(w) if rows >= MIN_MATMUL_ROWS => {
            linear_forward(&mut y[..rows * d_out], &x[..rows * d_in], w, rows, d_in, d_out)
        }
        Weight::F32(_) => {
            for (y, x) in y.chunks_exact_mut(d_out).zip(x.chunks_exact(d_in)).take(rows) {
                matvecs(&mut [(y, w)], Input { x, q8: None });
            }
        }
        Weight::Q8(_) => {
            xq.resize_with(rows, Q8Vector::default);
            for (q, x) in xq.iter_mut().zip(x.chunks_exact(d_in)) {
                q.set(x);
            }
            // Each task multiplies its rows of W by every input row, so a
            // block of weights is read from memory once per step, not once
            // per row; its outputs are a column strip of `y`, copied in after.
            let tasks = w.chunks(ROWS_PER_TASK, d_in);
            let strips: Vec<Vec<f32>> = tasks
                .into_par_iter()
                .map(|w| {
                    let n = w.rows(d_in);
                    let mut strip = vec![0.0; rows * n];
                    for (r, out) in strip.chunks_exact_mut(n).enumerate() {
                        w.product(out, Input { x: &x[r * d_in..(r + 1) * d_in], q8: Some(&xq[r]) });
                    }
                    strip
                })
                .collect();
            let mut col = 0;
            for strip in strips {
                let n = strip.len() / rows;
                for (r, part) in strip.chunks_exact(n).enumerate() {
                    y[r * d_out + col..r * d_out + col + n].copy_from_slice(part);
                }
                col += n;
            }
        }
    }
}

impl<'a> BatchDecoder<'a> {
    /// A decoder with room for `max_slots` sequences at once. KV caches are
    /// allocated when a slot is first used and kept for reuse.
    pub fn new(config: &ModelConfig, params: &'a [f32], max_slots: usize) -> Self {
        let layout = ParamLayout::new(config);
        assert_eq!(params.len(), layout.total, "weights match the config");
        Self {
            config: config.clone(),
            rope: Rope::new(config.max_seq_len, config.head_dim(), config.rope_theta),
            layout,
            params,
            slots: Vec::new(),
            max_slots,
            releases: 0,
            x: Vec::new(),
            xn: Vec::new(),
            q: Vec::new(),
            k: Vec::new(),
            v: Vec::new(),
            att: Vec::new(),
            gate: Vec::new(),
            up: Vec::new(),
            last: Vec::new(),
            logits: Vec::new(),
            q8: None,
            xq: Vec::new(),
        }
    }

    /// Multiplies by `weights` (made from this decoder's `params`) in Q8_0
    /// instead of the f32 matrices.
    pub fn quantized(mut self, weights: &'a QuantizedWeights) -> Self {
        assert_eq!(weights.layers.len(), self.config.n_layers, "weights match the config");
        self.q8 = Some(weights);
        self
    }

    /// A free slot with an empty cache, or `None` when all are taken.
    pub fn acquire(&mut self) -> Option<usize> {
        self.acquire_for(&[]).map(|(slot, _)| slot)
    }

    /// A free slot for a sequence starting with `prompt`, and how many of
    /// its tokens the slot's cache already holds (at most all but the last,
    /// whose logits the caller needs): the free slot sharing the longest
    /// prefix with it, else the one unused longest, else a new one; `None`
    /// when all are taken. The caller feeds the prompt from there.
    pub fn acquire_for(&mut self, prompt: &[u32]) -> Option<(usize, usize)> {
        let shared = |s: &Slot| super::shared_prefix(&s.tokens, prompt);
        let best = (0..self.slots.len())
            .filter(|&i| !self.slots[i].in_use)
            .max_by_key(|&i| (shared(&self.slots[i]), std::cmp::Reverse(self.slots[i].released)));
        let (slot, kept) = match best {
            Some(i) => (i, shared(&self.slots[i]).min(prompt.len().saturating_sub(1))),
            None if self.slots.len() < self.max_slots => {
                let c = &self.config;
                self.slots.push(Slot {
                    k: vec![Vec::new(); c.n_layers],
                    v: vec![Vec::new(); c.n_layers],
                    in_use: false,
                    tokens: Vec::new(),
                    released: 0,
                });
                (self.slots.len() - 1, 0)
            }
            None => return None,
        };
        let s = &mut self.slots[slot];
        s.in_use = true;
        s.tokens.truncate(kept);
        Some((slot, kept))
    }

    /// Frees `slot`; its cache stays for a sequence that starts the same way.
    pub fn release(&mut self, slot: usize) {
        self.releases += 1;
        self.slots[slot].in_use = false;
        self.slots[slot].released = self.releases;
    }

    /// Tokens in the slot's cache.
    pub fn len(&self, slot: usize) -> usize {
        self.slots[slot].tokens.len()
    }

    /// Slots in use.
    pub fn active(&self) -> usize {
        self.slots.iter().filter(|s| s.in_use).count()
    }

    /// Feeds `rows` and returns the logits of the rows that asked for them,
    /// in order, `[n, vocab]`. Panics if a slot is not in use or would pass
    /// the context window (the scheduler stops before).
    pub fn forward(&mut self, rows: &[Row]) -> &[f32] {
        // On a rayon worker, as `Generator::step` does and for its reason.
        rayon::scope(|_| self.forward_rows(rows));
        &self.logits
    }

    fn forward_rows(&mut self, rows: &[Row]) {
        let c = self.config.clone();
        let (d, hd, f) = (c.d_model, c.head_dim(), c.ffn_hidden);
        let (heads, kv_heads) = (c.n_heads, c.n_kv_heads);
        let kv = kv_heads * hd;
        let n = rows.len();
        for buf in [&mut self.x, &mut self.xn, &mut self.q, &mut self.att] {
            buf.resize(n * d, 0.0);
        }
        self.k.resize(n * kv, 0.0);
        self.v.resize(n * kv, 0.0);
        self.gate.resize(n * f, 0.0);
        self.up.resize(n * f, 0.0);

        // Each row's position: its slot's length plus the rows of that slot before it.
        let mut positions = Vec::with_capacity(n);
        let mut added = vec![0usize; self.slots.len()];
        for r in rows {
            let s = &self.slots[r.slot];
            assert!(s.in_use, "slot {} is not in use", r.slot);
            let pos = s.tokens.len() + added[r.slot];
            assert!(pos < c.max_seq_len, "slot {}: context full ({} tokens)", r.slot, c.max_seq_len);
            positions.push(pos);
            added[r.slot] += 1;
        }
        for (slot, &count) in self.slots.iter_mut().zip(&added) {
            if count > 0 {
                let needed = (slot.tokens.len() + count) * kv;
                super::grow_cache(&mut slot.k, needed, c.max_seq_len * kv);
                super::grow_cache(&mut slot.v, needed, c.max_seq_len * kv);
            }
        }

        let p = self.params;
        let w = |off: usize, len: usize| &p[off..off + len];
        let q8 = self.q8;
        // The matrix `i` of layer `l` (in [`QuantizedWeights`] order), or the
        // output head for `None`, as stored.
        let weight = |l, i, off: usize, len: usize| QuantizedWeights::weight(q8, l, i, &p[off..off + len]);
        let xq = &mut self.xq;
        for (x, r) in self.x.chunks_exact_mut(d).zip(rows) {
            x.copy_from_slice(w(self.layout.embed + r.token as usize * d, d));
        }
        for l in 0..c.n_layers {
            let o = self.layout.layers[l];
            let at = Some(l);
            for (y, x) in self.xn.chunks_exact_mut(d).zip(self.x.chunks_exact(d)) {
                rmsnorm_row(y, x, w(o.attn_norm, d), c.norm_eps);
            }
            linear(&mut self.q, &self.xn, weight(at, 0, o.wq, d * d), xq, n, d, d);
            linear(&mut self.k, &self.xn, weight(at, 1, o.wk, kv * d), xq, n, d, kv);
            linear(&mut self.v, &self.xn, weight(at, 2, o.wv, kv * d), xq, n, d, kv);
            for (i, &pos) in positions.iter().enumerate() {
                for h in 0..heads {
                    self.rope.rotate(&mut self.q[i * d + h * hd..i * d + (h + 1) * hd], pos, false);
                }
                for h in 0..kv_heads {
                    self.rope.rotate(&mut self.k[i * kv + h * hd..i * kv + (h + 1) * hd], pos, false);
                }
                let slot = &mut self.slots[rows[i].slot];
                slot.k[l][pos * kv..(pos + 1) * kv].copy_from_slice(&self.k[i * kv..(i + 1) * kv]);
                slot.v[l][pos * kv..(pos + 1) * kv].copy_from_slice(&self.v[i * kv..(i + 1) * kv]);
            }
            // Attention: every row reads only its own slot's cache, so rows run in parallel.
            let (slots, q) = (&self.slots, &self.q);
            self.att.par_chunks_mut(d).enumerate().for_each(|(i, out)| {
                let slot = &slots[rows[i].slot];
                let mut scores = vec![0.0f32; heads * (positions[i] + 1)];
                let qi = &q[i * d..(i + 1) * d];
                attend(out, qi, &slot.k[l], &slot.v[l], positions[i], hd, kv_heads, &mut scores);
            });
            linear(&mut self.xn, &self.att, weight(at, 3, o.wo, d * d), xq, n, d, d);
            for (x, a) in self.x.iter_mut().zip(&self.xn) {
                *x += a;
            }
            for (y, x) in self.xn.chunks_exact_mut(d).zip(self.x.chunks_exact(d)) {
                rmsnorm_row(y, x, w(o.ffn_norm, d), c.norm_eps);
            }
            linear(&mut self.gate, &self.xn, weight(at, 4, o.w_gate, f * d), xq, n, d, f);
            linear(&mut self.up, &self.xn, weight(at, 5, o.w_up, f * d), xq, n, d, f);
            swiglu_row(&mut self.gate, &self.up);
            linear(&mut self.xn, &self.gate, weight(at, 6, o.w_down, d * f), xq, n, f, d);
            for (x, m) in self.x.iter_mut().zip(&self.xn) {
                *x += m;
            }
        }
        // A slot's rows come in position order, so its tokens grow in order.
        for r in rows {
            self.slots[r.slot].tokens.push(r.token);
        }

        // The final norm and the vocabulary projection only for rows that need logits.
        let wanted: Vec<usize> = rows.iter().enumerate().filter(|(_, r)| r.logits).map(|(i, _)| i).collect();
        self.last.resize(wanted.len() * d, 0.0);
        for (y, &i) in self.last.chunks_exact_mut(d).zip(&wanted) {
            rmsnorm_row(y, &self.x[i * d..(i + 1) * d], w(self.layout.final_norm, d), c.norm_eps);
        }
        let vocab = c.vocab_size;
        self.logits.resize(wanted.len() * vocab, 0.0);
        linear(
            &mut self.logits,
            &self.last,
            weight(None, 0, self.layout.lm_head, vocab * d),
            xq,
            wanted.len(),
            d,
            vocab,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::Generator;
    use crate::model::params::init_params;

    /// Three sequences, interleaved in steps of different shapes (prompt
    /// chunks beside single decoding rows, a slot released and reused), give
    /// the logits of one-token-at-a-time generation on each alone.
    #[test]
    fn batched_logits_equal_one_sequence_at_a_time() {
        let mut c = ModelConfig::preset("tiny", 97).unwrap();
        c.n_kv_heads = 2;
        batched_match(&c, false);
    }

    /// The same in Q8_0: every matrix quantized (tiny's widths are whole
    /// blocks), then with a feed-forward width that is not, whose
    /// down-projection stays f32.
    #[test]
    fn batched_q8_logits_equal_one_sequence_at_a_time() {
        let mut c = ModelConfig::preset("tiny", 97).unwrap();
        c.n_kv_heads = 2;
        batched_match(&c, true);
        c.ffn_hidden = 200;
        batched_match(&c, true);
    }

    fn batched_match(c: &ModelConfig, quantize: bool) {
        let params = init_params(c, &ParamLayout::new(c), 5);
        let q8 = quantize.then(|| QuantizedWeights::new(c, &params));
        if let Some(q) = &q8 {
            assert!(q.counts().0 > 0);
        }
        let generator = || {
            let g = Generator::new(c, &params);
            match &q8 {
                Some(q) => g.quantized(q),
                None => g,
            }
        };
        let seqs: Vec<Vec<u32>> = (0..3u32).map(|s| (0..20 + 3 * s).map(|i| (i * 31 + s * 7) % 97).collect()).collect();
        let reference: Vec<Vec<Vec<f32>>> = seqs
            .iter()
            .map(|seq| {
                let mut g = generator();
                seq.iter().map(|&t| g.step(t).to_vec()).collect()
            })
            .collect();
        let mut b = BatchDecoder::new(c, &params, 2);
        if let Some(q) = &q8 {
            b = b.quantized(q);
        }
        // The third sequence must wait for a free slot.
        let (s0, s1) = (b.acquire().unwrap(), b.acquire().unwrap());
        assert!(b.acquire().is_none());
        let mut fed = [0usize; 3];
        let mut slot_of = [Some(s0), Some(s1), None];
        let chunks = [5, 1, 3, 1, 1, 7, 2, 1, 1, 1, 4, 1, 8, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1];
        for (step, &chunk) in chunks.iter().cycle().take(200).enumerate() {
            let mut rows = Vec::new();
            let mut expect = Vec::new();
            for s in 0..3 {
                let Some(slot) = slot_of[s] else { continue };
                // Alternate which sequence reads a chunk and which a single token.
                let take = if (step + s) % 2 == 0 { chunk } else { 1 };
                let end = (fed[s] + take).min(seqs[s].len());
                for (i, &token) in seqs[s].iter().enumerate().take(end).skip(fed[s]) {
                    rows.push(Row { slot, token, logits: i + 1 == end });
                }
                if end > fed[s] {
                    expect.push((s, end - 1));
                }
                fed[s] = end;
            }
            if rows.is_empty() {
                break;
            }
            let logits = b.forward(&rows).to_vec();
            assert_eq!(logits.len(), expect.len() * 97);
            for (got, &(s, i)) in logits.chunks_exact(97).zip(&expect) {
                let err = got.iter().zip(&reference[s][i]).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
                assert!(err < 1e-4, "sequence {s} position {i}: logits differ by {err}");
            }
            for s in 0..2 {
                if let Some(slot) = slot_of[s] {
                    if fed[s] == seqs[s].len() {
                        b.release(slot);
                        slot_of[s] = None;
                        if slot_of[2].is_none() && fed[2] == 0 {
                            slot_of[2] = b.acquire();
                            assert_eq!(b.len(slot_of[2].unwrap()), 0);
                        }
                    }
                }
            }
        }
        assert_eq!(fed, [20, 23, 26], "every sequence was fed to the end");
    }

    /// A released slot serves a new sequence that starts the same way: the
    /// longest shared prefix is kept (all but the last token of a repeated
    /// prompt), the rest is read, and the logits are a fresh read's; a
    /// sequence sharing nothing takes the slot unused longest.
    #[test]
    fn a_released_slot_keeps_the_prefix_a_new_prompt_shares() {
        let c = ModelConfig::preset("tiny", 97).unwrap();
        let params = init_params(&c, &ParamLayout::new(&c), 5);
        let fresh = |seq: &[u32]| Generator::new(&c, &params).prefill(seq);
        let mut b = BatchDecoder::new(&c, &params, 2);
        let read = |b: &mut BatchDecoder, slot: usize, seq: &[u32], from: usize| {
            let rows: Vec<Row> =
                (from..seq.len()).map(|i| Row { slot, token: seq[i], logits: i + 1 == seq.len() }).collect();
            b.forward(&rows).to_vec()
        };
        let first: Vec<u32> = (0..20).map(|i| (i * 31 + 7) % 97).collect();
        let other: Vec<u32> = (0..9).map(|i| (i * 13 + 2) % 97).collect();
        let (s0, kept) = b.acquire_for(&first).unwrap();
        assert_eq!(kept, 0);
        read(&mut b, s0, &first, 0);
        let (s1, _) = b.acquire_for(&other).unwrap();
        read(&mut b, s1, &other, 0);
        b.release(s0);
        b.release(s1);

        let mut next = first[..15].to_vec();
        next.extend([5, 6, 7]);
        assert_eq!(b.acquire_for(&next), Some((s0, 15)));
        let logits = read(&mut b, s0, &next, 15);
        let err = logits.iter().zip(fresh(&next)).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(err < 1e-4, "logits differ by {err}");
        b.release(s0);
        assert_eq!(b.acquire_for(&next), Some((s0, 17)), "the same prompt again: all but its last token");
        b.release(s0);
        // Nothing shared: the slot released longest ago (s1's), not the one just used.
        assert_eq!(b.acquire_for(&[96, 95]), Some((s1, 0)));
        assert_eq!(b.len(s1), 0);
    }
}
