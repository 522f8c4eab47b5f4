//! Causal self-attention, forward and backward, one (batch, head) block per task.
//!
//! Attention was 44% of a training step when written as plain loops over dot
//! products (9 GFLOP/s on a 2-core AVX2 machine, where the matrix products
//! reach 120+). Each block's products (Q·Kᵀ, P·V, and in the backward dO·Vᵀ,
//! dS·K, dSᵀ·Q, Pᵀ·dO) are small matrix products of size T×T×head_dim, too
//! small for a threaded GEMM but big enough for a register-tiled kernel: a
//! tile of 4 rows × `C` columns lives in registers while the shared dimension
//! streams past (`tile`). The causal structure skips the tiles above the
//! diagonal.
//!
//! The tile is 4 × 16 with AVX2 (eight 8-lane accumulators) and 4 × 32 with
//! AVX-512: at 4 × 16 an AVX-512 tile is four 16-lane accumulators, each
//! waiting on its own previous multiply-add, which keeps the two FMA units
//! half idle. Both take fused multiply-adds where the CPU has FMA. Each
//! entry's sum runs over the shared dimension in the same order at either
//! width, so the two widths agree bit for bit; the copy without FMA rounds
//! each product separately and differs from them in the last bits.
//!
//! SIMD without `target-cpu=native`: the block functions are compiled several
//! times by `multiversion` (AVX-512, AVX2+FMA, and the portable baseline) and
//! the best one the running CPU supports is picked at run time. The macro's
//! expansion calls a `#[target_feature]` clone only after
//! `is_x86_feature_detected!` has confirmed those features, which is what makes
//! that call sound; the gradient checks in `tests/engine_gradcheck.rs` run
//! whichever clone the test machine selects.
//!
//! Head dimensions that are not a multiple of 16 take the plain-loop path
//! ([`attention_forward_simple`]), which also serves as the reference the fast
//! path is tested against.

use multiversion::multiversion;
use multiversion::target::selected_target;
use rayon::prelude::*;

use super::lanes;
use super::profile::{span, Kind};
use super::Precision;

const TILE_ROWS: usize = 4;
/// The narrow tile's columns: head sizes must be a multiple of it for the tiled path.
const TILE_COLS: usize = 16;
/// The wide tile's columns (AVX-512, head sizes a multiple of 32).
const WIDE_COLS: usize = 32;
/// Key rows are padded to a multiple of this, which serves both widths.
const PAD: usize = WIDE_COLS;

fn round_up(x: usize, m: usize) -> usize {
    x.div_ceil(m) * m
}

/// `acc[r][c] = Σ_{k in ks} a[rows[r] * lda + k] * b[k * ldb + col0 + c]`.
#[inline(always)]
fn tile<const C: usize, const FMA: bool>(
    a: &[f32],
    lda: usize,
    rows: [usize; TILE_ROWS],
    b: &[f32],
    ldb: usize,
    col0: usize,
    ks: std::ops::Range<usize>,
) -> [[f32; C]; TILE_ROWS] {
    let mut acc = [[0.0f32; C]; TILE_ROWS];
    for k in ks {
        let brow: &[f32; C] = b[k * ldb + col0..k * ldb + col0 + C].try_into().expect("C columns");
        let av = [a[rows[0] * lda + k], a[rows[1] * lda + k], a[rows[2] * lda + k], a[rows[3] * lda + k]];
        accumulate::<C, FMA>(&mut acc, av, brow);
    }
    acc
}

/// [`tile`] with `a` read transposed: `acc[r][c] = Σ_{k in ks}
/// a[k * lda + cols[r]] * b[k * ldb + col0 + c]`, so that `Aᵀ · B` needs no
/// transposed copy of `A` (the backward's `dSᵀ · Q` and `Pᵀ · dO`).
#[inline(always)]
fn tile_at<const C: usize, const FMA: bool>(
    a: &[f32],
    lda: usize,
    cols: [usize; TILE_ROWS],
    b: &[f32],
    ldb: usize,
    col0: usize,
    ks: std::ops::Range<usize>,
) -> [[f32; C]; TILE_ROWS] {
    let mut acc = [[0.0f32; C]; TILE_ROWS];
    for k in ks {
        let brow: &[f32; C] = b[k * ldb + col0..k * ldb + col0 + C].try_into().expect("C columns");
        let arow = &a[k * lda..];
        let av = [arow[cols[0]], arow[cols[1]], arow[cols[2]], arow[cols[3]]];
        accumulate::<C, FMA>(&mut acc, av, brow);
    }
    acc
}

/// One step of a tile: `acc[r][c] += av[r] * brow[c]`, as one fused
/// multiply-add where the compiled copy has FMA (there `mul_add` is one
/// instruction; without it, a library call).
#[inline(always)]
fn accumulate<const C: usize, const FMA: bool>(acc: &mut [[f32; C]; TILE_ROWS], av: [f32; TILE_ROWS], brow: &[f32; C]) {
    for r in 0..TILE_ROWS {
        for c in 0..C {
            acc[r][c] = if FMA { av[r].mul_add(brow[c], acc[r][c]) } else { acc[r][c] + av[r] * brow[c] };
        }
    }
}

/// Row indices of the tile starting at `i0`, clamped to `n - 1` past the end
/// (those rows are computed and thrown away, keeping the kernel fixed-size).
#[inline(always)]
fn tile_rows(i0: usize, n: usize) -> [usize; TILE_ROWS] {
    [i0, (i0 + 1).min(n - 1), (i0 + 2).min(n - 1), (i0 + 3).min(n - 1)]
}

/// Writes `src` `[rows, cols]` (row stride `src_ld`) transposed into `dst`
/// `[cols, ld]`, zeroing the padding columns `rows..ld`.
fn transpose_padded(dst: &mut Vec<f32>, src: &[f32], rows: usize, cols: usize, src_ld: usize, ld: usize) {
    dst.clear();
    dst.resize(cols * ld, 0.0);
    for r in 0..rows {
        for c in 0..cols {
            dst[c * ld + r] = src[r * src_ld + c];
        }
    }
}

/// Fast `exp` for softmax: `exp(x) = 2^n · exp(r)` with `n = round(x / ln 2)`
/// and `r = x - n ln 2` taken in two parts (Cody and Waite) so it stays exact,
/// then a degree-6 Taylor polynomial for `exp(r)`, |r| ≤ 0.35 (relative error
/// under 1e-6). No branches or library calls, so loops over it vectorize.
#[inline(always)]
pub fn fast_exp(x: f32) -> f32 {
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    const MAGIC: f32 = 12_582_912.0; // 1.5 * 2^23
    let x = x.clamp(-87.0, 88.0);
    // Round to nearest by the float trick: adding 1.5 * 2^23 drops the
    // fraction, and leaves n in the low bits of the sum.
    let shifted = x * std::f32::consts::LOG2_E + MAGIC;
    let n = shifted - MAGIC;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.0 + r * (1.0 + r * (0.5 + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    // 2^n built from those bits with integer arithmetic: `n as i32` would be
    // a saturating conversion, which the compiler does not vectorize (it
    // kept every loop over this function scalar). n is in [-126, 127] here.
    let biased = shifted.to_bits().wrapping_sub(MAGIC.to_bits()).wrapping_add(127);
    p * f32::from_bits(biased << 23)
}

/// Forward for one (batch, head) block: `q`, `out` `[t, hd]`, `k`, `v` `[t, hd]`,
/// `p` `[t, t]` (softmax probabilities, zero above the diagonal).
#[multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512cd+avx512dq+avx512vl",
    "x86_64+avx2+fma",
    "x86_64+sse4.2",
    "aarch64+neon"
))]
#[allow(clippy::too_many_arguments)]
fn head_forward(
    out: &mut [f32],
    p: &mut [f32],
    q: &[f32],
    k: &[f32],
    v: &[f32],
    t: usize,
    hd: usize,
    starts: Option<&[u32]>,
    kt: &mut Vec<f32>,
) {
    // Constant in each compiled copy, so only one kernel survives in it.
    let target = selected_target!();
    if target.supports_feature_str("avx512f") && hd % WIDE_COLS == 0 {
        head_forward_tiles::<WIDE_COLS, true>(out, p, q, k, v, t, hd, starts, kt);
    } else if target.supports_feature_str("fma") {
        head_forward_tiles::<TILE_COLS, true>(out, p, q, k, v, t, hd, starts, kt);
    } else {
        head_forward_tiles::<TILE_COLS, false>(out, p, q, k, v, t, hd, starts, kt);
    }
}

/// [`head_forward`] with tiles of 4 × `C`; inlined into each of its compiled
/// copies, so it runs with that copy's instruction set.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn head_forward_tiles<const C: usize, const FMA: bool>(
    out: &mut [f32],
    p: &mut [f32],
    q: &[f32],
    k: &[f32],
    v: &[f32],
    t: usize,
    hd: usize,
    starts: Option<&[u32]>,
    kt: &mut Vec<f32>,
) {
    let scale = 1.0 / (hd as f32).sqrt();
    let tpad = round_up(t, PAD);
    transpose_padded(kt, k, t, hd, hd, tpad);
    let mut scores = vec![0.0f32; TILE_ROWS * tpad];
    for i0 in (0..t).step_by(TILE_ROWS) {
        let rows = tile_rows(i0, t);
        let jend = (i0 + TILE_ROWS).min(t);
        for j0 in (0..jend).step_by(C) {
            let acc = tile::<C, FMA>(q, hd, rows, kt, tpad, j0, 0..hd);
            for r in 0..TILE_ROWS {
                scores[r * tpad + j0..r * tpad + j0 + C].copy_from_slice(&acc[r]);
            }
        }
        for r in 0..TILE_ROWS.min(t - i0) {
            let i = i0 + r;
            // Keys before the query's segment start are masked: their
            // probability is exactly zero, which also zeroes them in P·V and
            // in every product of the backward pass.
            let j0 = starts.map_or(0, |st| st[i] as usize);
            let s = &scores[r * tpad + j0..r * tpad + i + 1];
            let max = lanes::max::<8>(s) * scale;
            let row = &mut p[i * t..(i + 1) * t];
            for (pj, &sj) in row[j0..=i].iter_mut().zip(s) {
                *pj = fast_exp(sj * scale - max);
            }
            let inv = 1.0 / lanes::sum::<8>(&row[j0..=i]);
            for pj in &mut row[j0..=i] {
                *pj *= inv;
            }
            row[..j0].fill(0.0);
            row[i + 1..].fill(0.0);
        }
    }
    // out = P · V; P is zero above the diagonal, so row tile i0 needs j < i0 + 4.
    for i0 in (0..t).step_by(TILE_ROWS) {
        let rows = tile_rows(i0, t);
        let jend = (i0 + TILE_ROWS).min(t);
        for c0 in (0..hd).step_by(C) {
            let acc = tile::<C, FMA>(p, t, rows, v, hd, c0, 0..jend);
            for r in 0..TILE_ROWS.min(t - i0) {
                out[(i0 + r) * hd + c0..(i0 + r) * hd + c0 + C].copy_from_slice(&acc[r]);
            }
        }
    }
}

/// Backward for one (batch, head) block. Writes `dq`; adds into `dk`, `dv`.
#[multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512cd+avx512dq+avx512vl",
    "x86_64+avx2+fma",
    "x86_64+sse4.2",
    "aarch64+neon"
))]
#[allow(clippy::too_many_arguments)]
fn head_backward(
    dq: &mut [f32],
    dk: &mut [f32],
    dv: &mut [f32],
    dout: &[f32],
    p: &[f32],
    q: &[f32],
    k: &[f32],
    vt: &[f32],
    t: usize,
    hd: usize,
    ds: &mut Vec<f32>,
) {
    let target = selected_target!();
    if target.supports_feature_str("avx512f") && hd % WIDE_COLS == 0 {
        head_backward_tiles::<WIDE_COLS, true>(dq, dk, dv, dout, p, q, k, vt, t, hd, ds);
    } else if target.supports_feature_str("fma") {
        head_backward_tiles::<TILE_COLS, true>(dq, dk, dv, dout, p, q, k, vt, t, hd, ds);
    } else {
        head_backward_tiles::<TILE_COLS, false>(dq, dk, dv, dout, p, q, k, vt, t, hd, ds);
    }
}

/// [`head_backward`] with tiles of 4 × `C` (see [`head_forward_tiles`]).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn head_backward_tiles<const C: usize, const FMA: bool>(
    dq: &mut [f32],
    dk: &mut [f32],
    dv: &mut [f32],
    dout: &[f32],
    p: &[f32],
    q: &[f32],
    k: &[f32],
    vt: &[f32],
    t: usize,
    hd: usize,
    ds: &mut Vec<f32>,
) {
    let scale = 1.0 / (hd as f32).sqrt();
    let tpad = round_up(t, PAD);
    // Every entry is written below (the tiles on and below the diagonal,
    // zeros after it), so the buffer is not cleared first.
    ds.resize(t * tpad, 0.0);
    // dP = dO · Vᵀ on and below the diagonal, then the softmax backward in place.
    for i0 in (0..t).step_by(TILE_ROWS) {
        let rows = tile_rows(i0, t);
        let jend = (i0 + TILE_ROWS).min(t);
        for j0 in (0..jend).step_by(C) {
            let acc = tile::<C, FMA>(dout, hd, rows, vt, tpad, j0, 0..hd);
            for r in 0..TILE_ROWS.min(t - i0) {
                ds[(i0 + r) * tpad + j0..(i0 + r) * tpad + j0 + C].copy_from_slice(&acc[r]);
            }
        }
        for i in i0..jend {
            let prow = &p[i * t..i * t + i + 1];
            let drow = &mut ds[i * tpad..(i + 1) * tpad];
            let sum = lanes::dot::<8>(prow, &drow[..=i]);
            for (d, &pj) in drow[..=i].iter_mut().zip(prow) {
                *d = pj * (*d - sum) * scale;
            }
            drow[i + 1..].fill(0.0);
        }
    }
    // dQ = dS · K.
    for i0 in (0..t).step_by(TILE_ROWS) {
        let rows = tile_rows(i0, t);
        let jend = (i0 + TILE_ROWS).min(t);
        for c0 in (0..hd).step_by(C) {
            let acc = tile::<C, FMA>(ds, tpad, rows, k, hd, c0, 0..jend);
            for r in 0..TILE_ROWS.min(t - i0) {
                dq[(i0 + r) * hd + c0..(i0 + r) * hd + c0 + C].copy_from_slice(&acc[r]);
            }
        }
    }
    // dK += dSᵀ · Q and dV += Pᵀ · dO, reading dS and P transposed in place:
    // column j of dS and P is nonzero only for i ≥ j.
    for j0 in (0..t).step_by(TILE_ROWS) {
        let cols = tile_rows(j0, t);
        for c0 in (0..hd).step_by(C) {
            let acc_k = tile_at::<C, FMA>(ds, tpad, cols, q, hd, c0, j0..t);
            let acc_v = tile_at::<C, FMA>(p, t, cols, dout, hd, c0, j0..t);
            for r in 0..TILE_ROWS.min(t - j0) {
                let at = (j0 + r) * hd + c0;
                for c in 0..C {
                    dk[at + c] += acc_k[r][c];
                    dv[at + c] += acc_v[r][c];
                }
            }
        }
    }
}

/// The sizes of one attention call: `q` and `out` are `[batch, heads, time,
/// hd]`, `k` and `v` are `[batch, kv_heads, time, hd]`, and each group of
/// `heads / kv_heads` query heads shares one key/value head.
#[derive(Clone, Copy)]
pub(super) struct Dims {
    pub batch: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub time: usize,
    pub hd: usize,
}

impl Dims {
    /// Elements in one head's `[time, hd]` block.
    pub fn block(&self) -> usize {
        self.time * self.hd
    }

    fn group(&self) -> usize {
        self.heads / self.kv_heads
    }
}

/// Where one query head's blocks are: `bh` indexes `q`, `out`, `dout` and
/// `probs` (in blocks), `bkv` indexes `k` and `v`, `b` is its batch row.
#[derive(Clone, Copy)]
pub(super) struct HeadAt {
    pub b: usize,
    pub bh: usize,
    pub bkv: usize,
}

/// The forward passes' parallel split, shared by the f32, plain-loop and AMX
/// paths: `each(scratch, head, out, probs)` runs once per (batch, head) with
/// that head's `[time, hd]` output block and `[time, time]` probabilities,
/// and one `scratch` from `init` per rayon task.
pub(super) fn par_heads<S>(
    dims: Dims,
    out: &mut [f32],
    probs: &mut [f32],
    init: impl Fn() -> S + Sync + Send,
    each: impl Fn(&mut S, HeadAt, &mut [f32], &mut [f32]) + Sync + Send,
) {
    assert_eq!(out.len(), dims.batch * dims.heads * dims.block());
    assert_eq!(probs.len(), dims.batch * dims.heads * dims.time * dims.time);
    let group = dims.group();
    out.par_chunks_mut(dims.block()).zip(probs.par_chunks_mut(dims.time * dims.time)).enumerate().for_each_init(
        init,
        |scratch, (bh, (out, p))| {
            let b = bh / dims.heads;
            let bkv = b * dims.kv_heads + (bh % dims.heads) / group;
            each(scratch, HeadAt { b, bh, bkv }, out, p)
        },
    );
}

/// The backward passes' parallel split: by (batch, key/value head), because
/// the query heads sharing a key/value head add into the same `dk` and `dv`,
/// so they must run one after another on one thread. `each(scratch, bkv,
/// heads, dk, dv)` gets that key/value head's gradient blocks and, for each of
/// its query heads in order, the head's place and its `dq` block.
#[allow(clippy::type_complexity)]
pub(super) fn par_kv_groups<S>(
    dims: Dims,
    dq: &mut [f32],
    dk: &mut [f32],
    dv: &mut [f32],
    init: impl Fn() -> S + Sync + Send,
    each: impl Fn(&mut S, usize, Vec<(HeadAt, &mut [f32])>, &mut [f32], &mut [f32]) + Sync + Send,
) {
    let block = dims.block();
    let group = dims.group();
    assert_eq!(dq.len(), dims.batch * dims.heads * block);
    assert!(dk.len() == dims.batch * dims.kv_heads * block && dv.len() == dk.len());
    dq.par_chunks_mut(group * block)
        .zip(dk.par_chunks_mut(block))
        .zip(dv.par_chunks_mut(block))
        .enumerate()
        .for_each_init(init, |scratch, (bkv, ((dq_group, dk), dv))| {
            let b = bkv / dims.kv_heads;
            let first = b * dims.heads + (bkv % dims.kv_heads) * group;
            let heads =
                dq_group.chunks_mut(block).enumerate().map(|(g, dq)| (HeadAt { b, bh: first + g, bkv }, dq)).collect();
            each(scratch, bkv, heads, dk, dv)
        });
}

/// Causal attention, head-major. `q`, `out`: `[batch, heads, time, hd]`;
/// `k`, `v`: `[batch, kv_heads, time, hd]`; `probs`: `[batch, heads, time, time]`
/// keeps the softmax for the backward (entries above the diagonal are zero).
///
/// `segment_starts` (`[batch, time]`, optional) packs several documents into
/// one row: position `i` attends only to keys `segment_starts[i]..=i`, so no
/// document sees another. Rotary embeddings depend only on the distance
/// between query and key, so a packed document is computed exactly as if it
/// stood alone at the start of its own row. The backward pass needs no mask:
/// it reads the zero probabilities the forward pass stored.
///
/// In [`Precision::Bf16`], on a CPU with AMX and sizes it takes, the products
/// run on AMX tiles ([`super::amx_attention`]); otherwise in f32 here.
#[allow(clippy::too_many_arguments)]
pub fn attention_forward(
    precision: Precision,
    out: &mut [f32],
    probs: &mut [f32],
    q: &[f32],
    k: &[f32],
    v: &[f32],
    segment_starts: Option<&[u32]>,
    batch: usize,
    heads: usize,
    kv_heads: usize,
    time: usize,
    hd: usize,
) {
    if precision == Precision::Bf16 && super::amx_attention::supported(time, hd) {
        return super::amx_attention::forward(out, probs, q, k, v, segment_starts, batch, heads, kv_heads, time, hd);
    }
    if hd % TILE_COLS != 0 {
        return attention_forward_simple(out, probs, q, k, v, segment_starts, batch, heads, kv_heads, time, hd);
    }
    let _span = span(Kind::Attention);
    let dims = Dims { batch, heads, kv_heads, time, hd };
    let block = dims.block();
    par_heads(dims, out, probs, Vec::new, |kt, at, out, p| {
        head_forward(
            out,
            p,
            &q[at.bh * block..][..block],
            &k[at.bkv * block..][..block],
            &v[at.bkv * block..][..block],
            time,
            hd,
            segment_starts.map(|st| &st[at.b * time..(at.b + 1) * time]),
            kt,
        );
    });
}

/// Backward of [`attention_forward`]. Writes `dq`, and accumulates into `dk`, `dv`
/// (which must start at zero). Work is split by (batch, kv head) so that heads
/// sharing a key/value head never write the same memory from two threads.
#[allow(clippy::too_many_arguments)]
pub fn attention_backward(
    precision: Precision,
    dq: &mut [f32],
    dk: &mut [f32],
    dv: &mut [f32],
    dout: &[f32],
    probs: &[f32],
    q: &[f32],
    k: &[f32],
    v: &[f32],
    batch: usize,
    heads: usize,
    kv_heads: usize,
    time: usize,
    hd: usize,
) {
    if precision == Precision::Bf16 && super::amx_attention::supported(time, hd) {
        return super::amx_attention::backward(dq, dk, dv, dout, probs, q, k, v, batch, heads, kv_heads, time, hd);
    }
    if hd % TILE_COLS != 0 {
        return attention_backward_simple(dq, dk, dv, dout, probs, q, k, v, batch, heads, kv_heads, time, hd);
    }
    let _span = span(Kind::Attention);
    let dims = Dims { batch, heads, kv_heads, time, hd };
    let block = dims.block();
    let tpad = round_up(time, PAD);
    par_kv_groups(
        dims,
        dq,
        dk,
        dv,
        || (Vec::new(), Vec::new()),
        |(vt, ds), bkv, heads, dk, dv| {
            let k = &k[bkv * block..][..block];
            transpose_padded(vt, &v[bkv * block..][..block], time, hd, hd, tpad);
            for (at, dq) in heads {
                let bh = at.bh;
                head_backward(
                    dq,
                    dk,
                    dv,
                    &dout[bh * block..][..block],
                    &probs[bh * time * time..][..time * time],
                    &q[bh * block..][..block],
                    k,
                    vt,
                    time,
                    hd,
                    ds,
                );
            }
        },
    );
}

#[inline]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[inline]
fn axpy(y: &mut [f32], a: f32, x: &[f32]) {
    for (y, x) in y.iter_mut().zip(x) {
        *y += a * x;
    }
}

/// Plain-loop attention: any head size; the reference for the tiled path.
#[allow(clippy::too_many_arguments)]
pub fn attention_forward_simple(
    out: &mut [f32],
    probs: &mut [f32],
    q: &[f32],
    k: &[f32],
    v: &[f32],
    segment_starts: Option<&[u32]>,
    batch: usize,
    heads: usize,
    kv_heads: usize,
    time: usize,
    hd: usize,
) {
    let _span = span(Kind::Attention);
    let scale = 1.0 / (hd as f32).sqrt();
    let dims = Dims { batch, heads, kv_heads, time, hd };
    let block = dims.block();
    par_heads(
        dims,
        out,
        probs,
        || (),
        |_, at, out, p| {
            let q = &q[at.bh * block..][..block];
            let k = &k[at.bkv * block..][..block];
            let v = &v[at.bkv * block..][..block];
            for i in 0..time {
                let j0 = segment_starts.map_or(0, |st| st[at.b * time + i] as usize);
                let qi = &q[i * hd..(i + 1) * hd];
                let row = &mut p[i * time..(i + 1) * time];
                let mut max = f32::NEG_INFINITY;
                for j in j0..=i {
                    let s = dot(qi, &k[j * hd..(j + 1) * hd]) * scale;
                    row[j] = s;
                    max = max.max(s);
                }
                let mut sum = 0.0;
                for x in &mut row[j0..=i] {
                    *x = fast_exp(*x - max);
                    sum += *x;
                }
                let inv = 1.0 / sum;
                let o = &mut out[i * hd..(i + 1) * hd];
                o.fill(0.0);
                for j in j0..=i {
                    row[j] *= inv;
                    axpy(o, row[j], &v[j * hd..(j + 1) * hd]);
                }
                row[..j0].fill(0.0);
                row[i + 1..].fill(0.0);
            }
        },
    );
}

/// Plain-loop backward of [`attention_forward_simple`].
#[allow(clippy::too_many_arguments)]
pub fn attention_backward_simple(
    dq: &mut [f32],
    dk: &mut [f32],
    dv: &mut [f32],
    dout: &[f32],
    probs: &[f32],
    q: &[f32],
    k: &[f32],
    v: &[f32],
    batch: usize,
    heads: usize,
    kv_heads: usize,
    time: usize,
    hd: usize,
) {
    let _span = span(Kind::Attention);
    let scale = 1.0 / (hd as f32).sqrt();
    let dims = Dims { batch, heads, kv_heads, time, hd };
    let block = dims.block();
    par_kv_groups(
        dims,
        dq,
        dk,
        dv,
        || vec![0.0f32; time],
        |dp, bkv, heads, dk, dv| {
            let k = &k[bkv * block..][..block];
            let v = &v[bkv * block..][..block];
            for (at, dq) in heads {
                let q = &q[at.bh * block..][..block];
                let dout = &dout[at.bh * block..][..block];
                let p = &probs[at.bh * time * time..][..time * time];
                for i in 0..time {
                    let doi = &dout[i * hd..(i + 1) * hd];
                    let pi = &p[i * time..(i + 1) * time];
                    // dP_ij = dout_i . v_j, and dV_j += P_ij dout_i.
                    let mut sum = 0.0;
                    for j in 0..=i {
                        dp[j] = dot(doi, &v[j * hd..(j + 1) * hd]);
                        sum += dp[j] * pi[j];
                        axpy(&mut dv[j * hd..(j + 1) * hd], pi[j], doi);
                    }
                    // Softmax backward, then the score product's two inputs.
                    let dqi = &mut dq[i * hd..(i + 1) * hd];
                    dqi.fill(0.0);
                    let qi = &q[i * hd..(i + 1) * hd];
                    for j in 0..=i {
                        let ds = pi[j] * (dp[j] - sum) * scale;
                        axpy(dqi, ds, &k[j * hd..(j + 1) * hd]);
                        axpy(&mut dk[j * hd..(j + 1) * hd], ds, qi);
                    }
                }
            }
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn fast_exp_is_accurate() {
        // Above -80; lower, results approach f32's subnormal range and lose digits.
        for i in -800..880 {
            let x = i as f32 / 10.0;
            let rel = (fast_exp(x) as f64 - (x as f64).exp()).abs() / (x as f64).exp();
            assert!(rel < 1e-6, "exp({x}): relative error {rel}");
        }
        assert!(fast_exp(-1000.0) >= 0.0 && fast_exp(-1000.0) < 1e-37);
    }

    fn random(n: usize, rng: &mut impl Rng) -> Vec<f32> {
        (0..n).map(|_| rng.gen_range(-1.0..1.0)).collect()
    }

    /// Every tile kernel (4 × 16 and 4 × 32, with and without fused
    /// multiply-adds) against the plain loops, whichever of them this CPU
    /// would pick: here they run without the compiled copies' instruction
    /// sets, which changes their speed, not their arithmetic.
    #[test]
    fn every_tile_kernel_matches_plain_loops() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        let (t, hd) = (45, 64);
        let (q, k, v, dout) =
            (random(t * hd, &mut rng), random(t * hd, &mut rng), random(t * hd, &mut rng), random(t * hd, &mut rng));
        let (mut out, mut p) = (vec![0.0; t * hd], vec![0.0; t * t]);
        attention_forward_simple(&mut out, &mut p, &q, &k, &v, None, 1, 1, 1, t, hd);
        let (mut dq, mut dk, mut dv) = (vec![0.0; t * hd], vec![0.0; t * hd], vec![0.0; t * hd]);
        attention_backward_simple(&mut dq, &mut dk, &mut dv, &dout, &p, &q, &k, &v, 1, 1, 1, t, hd);
        let want = [out, p, dq, dk, dv];
        type Kernel = fn(&mut [f32], &mut [f32], &[f32], &[f32], &[f32], usize, usize, Option<&[u32]>, &mut Vec<f32>);
        type KernelBack =
            fn(&mut [f32], &mut [f32], &mut [f32], &[f32], &[f32], &[f32], &[f32], &[f32], usize, usize, &mut Vec<f32>);
        let kernels: [(&str, Kernel, KernelBack); 3] = [
            ("4x16", head_forward_tiles::<TILE_COLS, false>, head_backward_tiles::<TILE_COLS, false>),
            ("4x16 fma", head_forward_tiles::<TILE_COLS, true>, head_backward_tiles::<TILE_COLS, true>),
            ("4x32 fma", head_forward_tiles::<WIDE_COLS, true>, head_backward_tiles::<WIDE_COLS, true>),
        ];
        for (name, forward, backward) in kernels {
            let (mut out, mut p) = (vec![0.0; t * hd], vec![0.0; t * t]);
            forward(&mut out, &mut p, &q, &k, &v, t, hd, None, &mut Vec::new());
            let mut vt = Vec::new();
            transpose_padded(&mut vt, &v, t, hd, hd, round_up(t, PAD));
            let (mut dq, mut dk, mut dv) = (vec![0.0; t * hd], vec![0.0; t * hd], vec![0.0; t * hd]);
            backward(&mut dq, &mut dk, &mut dv, &dout, &p, &q, &k, &vt, t, hd, &mut Vec::new());
            for (what, (a, b)) in ["out", "probs", "dq", "dk", "dv"].iter().zip([out, p, dq, dk, dv].iter().zip(&want))
            {
                let err = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
                assert!(err < 1e-5, "{name}: {what} differs by {err}");
            }
        }
    }

    /// The tiled path against the plain loops, on sizes that are not multiples
    /// of the tile; head sizes 32 and 64 take the wide tile where the CPU has AVX-512.
    #[test]
    fn tiled_attention_matches_plain_loops() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        for &(b, h, kvh, t, hd) in &[(2, 4, 2, 37, 16), (1, 2, 1, 16, 32), (1, 3, 3, 5, 48), (1, 4, 2, 45, 64)] {
            let q = random(b * h * t * hd, &mut rng);
            let k = random(b * kvh * t * hd, &mut rng);
            let v = random(b * kvh * t * hd, &mut rng);
            let dout = random(b * h * t * hd, &mut rng);
            // Two documents per row: the second starts at t / 3.
            let starts: Vec<u32> = (0..b * t).map(|i| if i % t < t / 3 { 0 } else { (t / 3) as u32 }).collect();
            for segs in [None, Some(starts.as_slice())] {
                let run = |fast: bool| {
                    let mut out = vec![0.0; b * h * t * hd];
                    let mut p = vec![0.0; b * h * t * t];
                    let (mut dq, mut dk, mut dv) = (vec![0.0; q.len()], vec![0.0; k.len()], vec![0.0; v.len()]);
                    if fast {
                        attention_forward(Precision::F32, &mut out, &mut p, &q, &k, &v, segs, b, h, kvh, t, hd);
                        attention_backward(
                            Precision::F32,
                            &mut dq,
                            &mut dk,
                            &mut dv,
                            &dout,
                            &p,
                            &q,
                            &k,
                            &v,
                            b,
                            h,
                            kvh,
                            t,
                            hd,
                        );
                    } else {
                        attention_forward_simple(&mut out, &mut p, &q, &k, &v, segs, b, h, kvh, t, hd);
                        attention_backward_simple(&mut dq, &mut dk, &mut dv, &dout, &p, &q, &k, &v, b, h, kvh, t, hd);
                    }
                    [out, p, dq, dk, dv]
                };
                let (fast, slow) = (run(true), run(false));
                for (name, (a, b)) in ["out", "probs", "dq", "dk", "dv"].iter().zip(fast.iter().zip(&slow)) {
                    let err = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
                    assert!(err < 1e-5, "{name} differs by {err} at t={t}, hd={hd}");
                }
                if let Some(st) = segs {
                    // No probability mass crosses a segment boundary.
                    for (row, &s0) in fast[1].chunks(t).zip(st.iter().cycle()) {
                        assert!(row[..s0 as usize].iter().all(|&x| x == 0.0));
                    }
                }
            }
        }
    }
}
