//! Causal attention with its products on AMX tiles, for bf16 training.
//!
//! Why: in a bf16 training step on an AMX Xeon (reference config), attention's
//! f32 register tiles ([`super::attention`]) took 30% of the step while its
//! products are a tenth of the step's arithmetic. Here every (batch, head)
//! block's six products (Q·Kᵀ and P·V forward; dO·Vᵀ, dS·K, Qᵀ·dS and dOᵀ·P
//! backward) run on [`super::amx`]'s tile kernel with bfloat16 inputs and f32
//! sums, as PyTorch's autocast runs attention; the softmax, its backward and
//! the stored probabilities stay f32.
//!
//! Work goes in blocks of 32 queries × 32 keys, and blocks above the diagonal
//! are skipped: Q·Kᵀ and dO·Vᵀ compute only key blocks up to the query block's,
//! and the products summed over keys or queries stop their step count at the
//! diagonal. Operands are packed as the tile kernel takes them, bfloat16 pairs
//! in a u32: an `A` operand is rows of pairs along the shared dimension; a `B`
//! operand is panels of 16 columns, each `[pairs][16]`.
//!
//! Used (see [`supported`]) when the CPU has AMX and both the sequence length
//! and the head size are multiples of 32; otherwise the f32 path runs.

use super::attention::{par_heads, par_kv_groups, Dims};
use super::profile::{span, Kind};

/// Queries (and keys) per block: two 16-row tiles.
const BLOCK: usize = 32;

/// One (batch, head) block's inputs, each `[t, hd]`.
struct Head<'a> {
    q: &'a [f32],
    k: &'a [f32],
    v: &'a [f32],
    t: usize,
    hd: usize,
}

/// Where one head's gradients go: `dq` is written, `dk` and `dv` added to.
struct Grads<'a> {
    dq: &'a mut [f32],
    dk: &'a mut [f32],
    dv: &'a mut [f32],
}

/// Whether [`forward`] and [`backward`] run here for these sizes.
pub fn supported(time: usize, hd: usize) -> bool {
    time > 0 && time % BLOCK == 0 && hd > 0 && hd % BLOCK == 0 && super::amx::available()
}

/// [`super::attention::attention_forward`] with bf16 products; the same
/// arguments and layouts, except that each row of `probs` is written only up
/// to the end of its query's 32-key diagonal block, all that [`backward`]
/// reads (zeroing the rest was 100 MB of writes per reference step).
///
/// # Panics
/// If ![`supported`]`(time, hd)`.
#[allow(clippy::too_many_arguments)]
pub fn forward(
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
    assert!(supported(time, hd), "AMX attention needs AMX and sizes that are multiples of 32");
    let _span = span(Kind::Attention);
    let dims = Dims { batch, heads, kv_heads, time, hd };
    let block = dims.block();
    assert!(q.len() == out.len() && k.len() == batch * kv_heads * block && v.len() == k.len());
    par_heads(dims, out, probs, x86::Scratch::default, |scratch, at, out, p| {
        let head = Head {
            q: &q[at.bh * block..][..block],
            k: &k[at.bkv * block..][..block],
            v: &v[at.bkv * block..][..block],
            t: time,
            hd,
        };
        let starts = segment_starts.map(|st| &st[at.b * time..(at.b + 1) * time]);
        x86::head_forward(scratch, &head, out, p, starts);
    });
}

/// [`super::attention::attention_backward`] with bf16 products: writes `dq`,
/// adds into `dk` and `dv` (which must start at zero).
///
/// # Panics
/// If ![`supported`]`(time, hd)`.
#[allow(clippy::too_many_arguments)]
pub fn backward(
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
    assert!(supported(time, hd), "AMX attention needs AMX and sizes that are multiples of 32");
    let _span = span(Kind::Attention);
    let dims = Dims { batch, heads, kv_heads, time, hd };
    let block = dims.block();
    assert!(dout.len() == dq.len() && q.len() == dq.len() && k.len() == dk.len() && v.len() == dk.len());
    assert!(probs.len() == batch * heads * time * time);
    par_kv_groups(dims, dq, dk, dv, x86::Scratch::default, |scratch, bkv, heads, dk, dv| {
        for (at, dq) in heads {
            let head = Head {
                q: &q[at.bh * block..][..block],
                k: &k[bkv * block..][..block],
                v: &v[bkv * block..][..block],
                t: time,
                hd,
            };
            let grads = Grads { dq, dk: &mut *dk, dv: &mut *dv };
            x86::head_backward(
                scratch,
                &head,
                &dout[at.bh * block..][..block],
                &probs[at.bh * time * time..][..time * time],
                grads,
            );
        }
    });
}

#[cfg(not(target_arch = "x86_64"))]
mod x86 {
    //! No AMX off x86-64: [`super::supported`] is false, so nothing here runs.
    use super::{Grads, Head};
    #[derive(Default)]
    pub struct Scratch;
    pub fn head_forward(_: &mut Scratch, _: &Head, _: &mut [f32], _: &mut [f32], _: Option<&[u32]>) {
        unreachable!("AMX attention runs only on x86-64")
    }
    pub fn head_backward(_: &mut Scratch, _: &Head, _: &[f32], _: &[f32], _: Grads) {
        unreachable!("AMX attention runs only on x86-64")
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{Grads, Head, BLOCK};
    use crate::model::amx::x86::{transpose_16x16, Packed, Tiles};
    use crate::model::attention::fast_exp;
    use crate::model::bf16::x86::{cvt_pair_rows_chunked, cvt_row};
    use crate::model::lanes;

    /// Buffers kept by each rayon task from head to head.
    #[derive(Default)]
    pub struct Scratch {
        /// An `A` operand made of `[t, hd]` rows (Q or dO).
        rows: Packed,
        /// Two `B` operands made of `[t, hd]` matrices (Kᵀ, V; Vᵀ, K).
        panels: Packed,
        panels2: Packed,
        /// The probabilities or dS of one query block as an `A` operand.
        block_a: Packed,
        /// A `[t, t]` matrix (dS, or P) as a `B` operand over queries.
        square_b: Packed,
        /// Scores (or dP) of one block of 32 queries, `[32, t]`.
        scores: Vec<f32>,
        /// dS, `[t, t]` (each row written up to its block's diagonal).
        ds: Vec<f32>,
        /// dKᵀ or dVᵀ, `[hd, t]`.
        grad_t: Vec<f32>,
    }

    /// `x` (`[t, hd]`) as an `A` operand: row `r` is the pairs of `x[r]`.
    ///
    /// # Safety
    /// AMX is available (so are AVX-512 and AVX512-BF16); `x.len() == t * hd`.
    #[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
    unsafe fn pack_rows(dst: &mut Packed, x: &[f32], t: usize, hd: usize) {
        let hp = hd / 2;
        dst.set_len(t * hp);
        let dst = dst.as_mut_slice();
        for r in 0..t {
            // SAFETY: row r of x has hd values; packed row r has hp = hd / 2 slots.
            unsafe { cvt_row(dst[r * hp..].as_mut_ptr(), x[r * hd..].as_ptr(), hd) };
        }
    }

    /// `xᵀ` (`x` is `[t, hd]`) as a `B` operand: panel `g` holds rows
    /// `16g..16g + 16` of `x` as its columns, `[hd / 2][16]` pairs.
    ///
    /// # Safety
    /// As [`pack_rows`]; `t` and `hd` are multiples of 32.
    #[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
    unsafe fn pack_transposed_panels(dst: &mut Packed, x: &[f32], t: usize, hd: usize) {
        let hp = hd / 2;
        dst.set_len(t * hp);
        let dst = dst.as_mut_slice();
        let mut tmp = [0u32; 256];
        for g in 0..t / 16 {
            for s in 0..hp / 16 {
                for jj in 0..16 {
                    // SAFETY: row 16g + jj < t of x has hd >= 32s + 32 values
                    // from 32s; tmp row jj has 16 slots for the 16 pairs.
                    unsafe { cvt_row(tmp[jj * 16..].as_mut_ptr(), x[(16 * g + jj) * hd + 32 * s..].as_ptr(), 32) };
                }
                // SAFETY: panel g, pair rows 16s..16s + 16 <= hp, 16 wide.
                unsafe { transpose_16x16(&tmp, dst[g * hp * 16 + s * 256..].as_mut_ptr(), 16) };
            }
        }
    }

    /// `x` (`[t, width]`, row stride `width`) as a `B` operand over its rows:
    /// panel `g` holds columns `16g..16g + 16`, `[t / 2][16]` pairs of rows;
    /// pair row `p` is converted only up to column `cols(p)` (the rest of
    /// the buffer keeps what it had and must not be read).
    ///
    /// # Safety
    /// As [`pack_rows`]; `t` and `width` are multiples of 32, `cols(p) <= width`.
    #[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
    unsafe fn pack_pair_rows(dst: &mut Packed, x: &[f32], t: usize, width: usize, cols: impl Fn(usize) -> usize) {
        let tp = t / 2;
        dst.set_len(width * tp);
        let dst = dst.as_mut_slice();
        for p in 0..tp {
            let len = cols(p);
            debug_assert!(len <= width);
            // SAFETY: rows 2p, 2p + 1 < t of x have `width >= len` values;
            // pair t' < len goes to panel t' / 16 < width / 16, row p, which
            // lies inside the width * tp slots.
            unsafe {
                cvt_pair_rows_chunked(
                    dst[p * 16..].as_mut_ptr(),
                    tp * 16,
                    x[2 * p * width..].as_ptr(),
                    Some(x[(2 * p + 1) * width..].as_ptr()),
                    len,
                )
            };
        }
    }

    /// `xᵀ` (`x` is `[t, hd]`) as an `A` operand: row `c` is the pairs of
    /// column `c` of `x` down the rows, `[hd][t / 2]`.
    ///
    /// # Safety
    /// As [`pack_transposed_panels`].
    #[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
    unsafe fn pack_transposed_rows(dst: &mut Packed, x: &[f32], t: usize, hd: usize) {
        let tp = t / 2;
        dst.set_len(hd * tp);
        let dst = dst.as_mut_slice();
        let mut tmp = vec![[0u32; 256]; hd / 16];
        for s in 0..tp / 16 {
            for pp in 0..16 {
                let r = 2 * (16 * s + pp);
                // SAFETY: rows r, r + 1 < t have hd values; the pair of column
                // c goes to tmp[c / 16][pp * 16 + c % 16], c < hd.
                unsafe {
                    cvt_pair_rows_chunked(
                        tmp.as_mut_ptr().cast::<u32>().add(pp * 16),
                        256,
                        x[r * hd..].as_ptr(),
                        Some(x[(r + 1) * hd..].as_ptr()),
                        hd,
                    )
                };
            }
            for (g, block) in tmp.iter().enumerate() {
                // SAFETY: rows 16g..16g + 16 <= hd, pair columns 16s..16s + 16 <= tp.
                unsafe { transpose_16x16(block, dst[16 * g * tp + 16 * s..].as_mut_ptr(), tp) };
            }
        }
    }

    /// The softmax of one row of scores into `prow` (the row up to the end of
    /// its diagonal block): keys `j0..=i`, zero elsewhere, scaled by `scale`.
    #[inline(always)]
    fn softmax_row(prow: &mut [f32], scores: &[f32], j0: usize, i: usize, scale: f32) {
        let s = &scores[j0..=i];
        let max = lanes::max::<16>(s) * scale;
        for (pj, &sj) in prow[j0..=i].iter_mut().zip(s) {
            *pj = fast_exp(sj * scale - max);
        }
        let inv = 1.0 / lanes::sum::<16>(&prow[j0..=i]);
        prow[j0..=i].iter_mut().for_each(|pj| *pj *= inv);
        prow[..j0].fill(0.0);
        prow[i + 1..].fill(0.0);
    }

    pub fn head_forward(s: &mut Scratch, h: &Head, out: &mut [f32], p: &mut [f32], starts: Option<&[u32]>) {
        assert!(super::supported(h.t, h.hd) && out.len() == h.t * h.hd && p.len() == h.t * h.t);
        // SAFETY: `supported` checked AMX (and with it AVX-512 and
        // AVX512-BF16) and the sizes; the lengths just above.
        unsafe { head_forward_amx(s, h, out, p, starts) }
    }

    /// # Safety
    /// As checked by [`head_forward`].
    #[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
    unsafe fn head_forward_amx(s: &mut Scratch, h: &Head, out: &mut [f32], p: &mut [f32], starts: Option<&[u32]>) {
        let (t, hd) = (h.t, h.hd);
        let (hp, tp) = (hd / 2, t / 2);
        let scale = 1.0 / (hd as f32).sqrt();
        // SAFETY (all packing calls): as checked by the caller.
        unsafe {
            pack_rows(&mut s.rows, h.q, t, hd);
            pack_transposed_panels(&mut s.panels, h.k, t, hd);
            pack_pair_rows(&mut s.panels2, h.v, t, hd, |_| hd);
        }
        let (qa, kt, vb) = (s.rows.as_slice(), s.panels.as_slice(), s.panels2.as_slice());
        s.scores.resize(BLOCK * t, 0.0);
        s.block_a.set_len(BLOCK * tp);
        let tiles = Tiles::configure();
        for ib in 0..t / BLOCK {
            let kend = BLOCK * (ib + 1);
            // Scores of the block's queries against keys up to its diagonal.
            for jb in 0..=ib {
                let pair = (&kt[2 * jb * hp * 16..], &kt[(2 * jb + 1) * hp * 16..]);
                tiles.kernel(&qa[BLOCK * ib * hp..], hp, pair, hp / 16, &mut s.scores[BLOCK * jb..], t, false);
            }
            let pa = s.block_a.as_mut_slice();
            for r in 0..BLOCK {
                let i = BLOCK * ib + r;
                let j0 = starts.map_or(0, |st| st[i] as usize);
                // Past the diagonal block the row is never read: left unwritten.
                let prow = &mut p[i * t..i * t + kend];
                softmax_row(prow, &s.scores[r * t..(r + 1) * t], j0, i, scale);
                // SAFETY: prow has t >= kend values; packed row r has tp >= kend / 2 slots.
                unsafe { cvt_row(pa[r * tp..].as_mut_ptr(), prow.as_ptr(), kend) };
            }
            // out = P · V over the keys up to the diagonal (ib + 1 steps of 32).
            let pa = s.block_a.as_slice();
            for c in (0..hd).step_by(BLOCK) {
                let pair = (&vb[(c / 16) * tp * 16..], &vb[(c / 16 + 1) * tp * 16..]);
                tiles.kernel(pa, tp, pair, ib + 1, &mut out[BLOCK * ib * hd + c..], hd, false);
            }
        }
    }

    pub fn head_backward(s: &mut Scratch, h: &Head, dout: &[f32], p: &[f32], g: Grads) {
        let (t, hd) = (h.t, h.hd);
        assert!(super::supported(t, hd) && dout.len() == t * hd && p.len() == t * t);
        assert!(g.dq.len() == t * hd && g.dk.len() == t * hd && g.dv.len() == t * hd);
        // SAFETY: `supported` checked AMX (and with it AVX-512 and
        // AVX512-BF16) and the sizes; the lengths just above.
        unsafe { head_backward_amx(s, h, dout, p, g) }
    }

    /// # Safety
    /// As checked by [`head_backward`].
    #[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
    unsafe fn head_backward_amx(s: &mut Scratch, h: &Head, dout: &[f32], p: &[f32], g: Grads) {
        let (t, hd) = (h.t, h.hd);
        let (hp, tp) = (hd / 2, t / 2);
        let scale = 1.0 / (hd as f32).sqrt();
        // SAFETY (all packing calls): as checked by the caller.
        unsafe {
            pack_rows(&mut s.rows, dout, t, hd);
            pack_transposed_panels(&mut s.panels, h.v, t, hd);
            pack_pair_rows(&mut s.panels2, h.k, t, hd, |_| hd);
        }
        s.scores.resize(BLOCK * t, 0.0);
        s.ds.resize(t * t, 0.0);
        s.block_a.set_len(BLOCK * tp);
        let tiles = Tiles::configure();
        {
            let (oa, vt, kb) = (s.rows.as_slice(), s.panels.as_slice(), s.panels2.as_slice());
            for ib in 0..t / BLOCK {
                let kend = BLOCK * (ib + 1);
                // dP = dO · Vᵀ up to the diagonal.
                for jb in 0..=ib {
                    let pair = (&vt[2 * jb * hp * 16..], &vt[(2 * jb + 1) * hp * 16..]);
                    tiles.kernel(&oa[BLOCK * ib * hp..], hp, pair, hp / 16, &mut s.scores[BLOCK * jb..], t, false);
                }
                // dS = P ⊙ (dP - Σ P ⊙ dP) · scale; P is zero above the
                // diagonal and outside the segment, and so is dS.
                let da = s.block_a.as_mut_slice();
                for r in 0..BLOCK {
                    let i = BLOCK * ib + r;
                    let prow = &p[i * t..i * t + kend];
                    let dprow = &s.scores[r * t..r * t + kend];
                    let sum = lanes::dot::<16>(&prow[..=i], &dprow[..=i]);
                    let dsrow = &mut s.ds[i * t..i * t + kend];
                    for ((d, &pj), &dpj) in dsrow.iter_mut().zip(prow).zip(dprow) {
                        *d = pj * (dpj - sum) * scale;
                    }
                    // SAFETY: dsrow has kend values; packed row r has tp >= kend / 2 slots.
                    unsafe { cvt_row(da[r * tp..].as_mut_ptr(), dsrow.as_ptr(), kend) };
                }
                // dQ = dS · K over the keys up to the diagonal.
                let da = s.block_a.as_slice();
                for c in (0..hd).step_by(BLOCK) {
                    let pair = (&kb[(c / 16) * tp * 16..], &kb[(c / 16 + 1) * tp * 16..]);
                    tiles.kernel(da, tp, pair, ib + 1, &mut g.dq[BLOCK * ib * hd + c..], hd, false);
                }
            }
        }
        // dKᵀ = Qᵀ · dS and dVᵀ = dOᵀ · P, summed over the queries at or
        // after each key block: row pair p of dS and P is converted up to
        // the end of its own block, all that those products read.
        let diagonal_block_end = |p: usize| BLOCK * (2 * p / BLOCK + 1);
        // SAFETY: as checked by the caller; ds rows are written up to their
        // block's diagonal end, p is [t, t].
        unsafe {
            pack_transposed_rows(&mut s.rows, h.q, t, hd);
            pack_pair_rows(&mut s.square_b, &s.ds, t, t, diagonal_block_end);
        }
        key_grads(&tiles, s, t, hd, g.dk);
        // SAFETY: as above.
        unsafe {
            pack_transposed_rows(&mut s.rows, dout, t, hd);
            pack_pair_rows(&mut s.square_b, p, t, t, diagonal_block_end);
        }
        key_grads(&tiles, s, t, hd, g.dv);
    }

    /// `grad += (rows · square_b)ᵀ`: the `[hd, t]` product of the packed
    /// `Xᵀ` (`s.rows`) and the packed `[t, t]` matrix (`s.square_b`) over the
    /// queries, key block `jb` from query block `jb` on.
    fn key_grads(tiles: &Tiles, s: &mut Scratch, t: usize, hd: usize, grad: &mut [f32]) {
        let tp = t / 2;
        let (xt, sq) = (s.rows.as_slice(), s.square_b.as_slice());
        s.grad_t.resize(hd * t, 0.0);
        for c0 in (0..hd).step_by(BLOCK) {
            for jb in 0..t / BLOCK {
                let first = 16 * jb * 16; // pair row 16 jb of a panel
                let pair = (&sq[2 * jb * tp * 16 + first..], &sq[(2 * jb + 1) * tp * 16 + first..]);
                let steps = t / BLOCK - jb;
                tiles.kernel(&xt[c0 * tp + 16 * jb..], tp, pair, steps, &mut s.grad_t[c0 * t + BLOCK * jb..], t, false);
            }
        }
        for (j, row) in grad.chunks_exact_mut(hd).enumerate() {
            for (c, x) in row.iter_mut().enumerate() {
                *x += s.grad_t[c * t + j];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::attention::{attention_backward_simple, attention_forward_simple};

    fn skip() -> bool {
        if !supported(32, 32) {
            eprintln!(
                "skipped: this CPU ({}) lacks AMX-BF16 (or Linux refused the tile state); AMX attention is not run",
                crate::bench::cpu_name()
            );
        }
        !supported(32, 32)
    }

    fn random(n: usize, seed: u64) -> Vec<f32> {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        (0..n).map(|_| rng.gen_range(-1.0f32..1.0)).collect()
    }

    fn rel_err(got: &[f32], want: &[f32]) -> f32 {
        let num: f32 = got.iter().zip(want).map(|(g, w)| (g - w) * (g - w)).sum();
        let den: f32 = want.iter().map(|w| w * w).sum();
        (num / den).sqrt()
    }

    /// Forward and backward against the f32 reference, with grouped heads
    /// and packed segments: within bfloat16 rounding.
    #[test]
    fn matches_the_f32_reference() {
        if skip() {
            return;
        }
        for (batch, heads, kv_heads, time, hd, segments) in
            [(2, 4, 2, 64, 32, false), (1, 2, 2, 96, 64, true), (1, 1, 1, 32, 32, false)]
        {
            let n = batch * heads * time * hd;
            let nkv = batch * kv_heads * time * hd;
            let (q, k, v, dout) = (random(n, 1), random(nkv, 2), random(nkv, 3), random(n, 4));
            let starts: Option<Vec<u32>> =
                segments.then(|| (0..batch * time).map(|i| if i % time < 40 { 0 } else { 40 }).collect());
            let mut want = (vec![0.0; n], vec![0.0; batch * heads * time * time]);
            attention_forward_simple(
                &mut want.0,
                &mut want.1,
                &q,
                &k,
                &v,
                starts.as_deref(),
                batch,
                heads,
                kv_heads,
                time,
                hd,
            );
            let mut got = (vec![f32::NAN; n], vec![f32::NAN; batch * heads * time * time]);
            forward(&mut got.0, &mut got.1, &q, &k, &v, starts.as_deref(), batch, heads, kv_heads, time, hd);
            let case = format!("batch {batch}, heads {heads}/{kv_heads}, time {time}, hd {hd}");
            assert!(rel_err(&got.0, &want.0) < 2e-2, "{case}: output {}", rel_err(&got.0, &want.0));
            // Each row is written up to the end of its diagonal block and left
            // as it was (NaN here) past it; the backward below must not read
            // those, or its gradients would be NaN.
            let diagonal_end = |r: usize| BLOCK * ((r % time) / BLOCK + 1);
            let written = |x: &[f32]| -> Vec<f32> {
                let rows = x.chunks_exact(time).enumerate();
                rows.flat_map(|(r, row)| row[..diagonal_end(r)].to_vec()).collect()
            };
            let mut rows = got.1.chunks_exact(time).enumerate();
            assert!(
                rows.all(|(r, row)| row[diagonal_end(r)..].iter().all(|x| x.is_nan())),
                "{case}: wrote past the diagonal block"
            );
            let (pg, pw) = (written(&got.1), written(&want.1));
            assert!(rel_err(&pg, &pw) < 2e-2, "{case}: probabilities {}", rel_err(&pg, &pw));
            if let Some(st) = &starts {
                // Keys before a query's segment have probability exactly zero.
                for (i, &start) in st.iter().enumerate().take(time).skip(40) {
                    assert!(got.1[i * time..i * time + start as usize].iter().all(|&x| x == 0.0), "{case}: row {i}");
                }
            }
            let mut dwant = (vec![0.0; n], vec![0.0; nkv], vec![0.0; nkv]);
            attention_backward_simple(
                &mut dwant.0,
                &mut dwant.1,
                &mut dwant.2,
                &dout,
                &want.1,
                &q,
                &k,
                &v,
                batch,
                heads,
                kv_heads,
                time,
                hd,
            );
            let mut dgot = (vec![f32::NAN; n], vec![0.0; nkv], vec![0.0; nkv]);
            backward(
                &mut dgot.0,
                &mut dgot.1,
                &mut dgot.2,
                &dout,
                &got.1,
                &q,
                &k,
                &v,
                batch,
                heads,
                kv_heads,
                time,
                hd,
            );
            for (name, g, w) in [("dq", &dgot.0, &dwant.0), ("dk", &dgot.1, &dwant.1), ("dv", &dgot.2, &dwant.2)] {
                assert!(rel_err(g, w) < 3e-2, "{case}: {name} {}", rel_err(g, w));
            }
        }
    }

    #[test]
    fn sizes_that_are_not_multiples_of_32_are_not_supported() {
        assert!(!supported(48, 32) && !supported(64, 16) && !supported(0, 32));
    }
}
