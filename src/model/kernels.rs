//! The numerical kernels of training, forward and backward, written by hand.
//!
//! Why our own: no Rust framework comes within 2.5x of PyTorch's training
//! speed on a 2-core CPU (measured in issue 3), and the time goes around the
//! matrix products, not in them: norms, rotary embeddings, attention's softmax,
//! SwiGLU, cross-entropy and the memory traffic between them. So, as in
//! Karpathy's llm.c, each operation has an explicit forward and backward over
//! preallocated buffers, fused where that saves a pass over memory, and the
//! matrix products go to a library made for them, the `gemm` crate (the one
//! candle uses), which picks AVX2+FMA or AVX-512 kernels at run time and
//! splits a product over rayon's threads (`matrixmultiply` before it; see
//! [`matmul`] for why the change); with [`Precision::Bf16`]
//! ([`matmul_in`] and the `_in` linear layers) they go to the bfloat16 kernel
//! of [`super::bf16`] instead.
//!
//! Layouts: activations are row-major `[rows, features]` with rows = batch ×
//! time. Inside attention, q/k/v are head-major `[batch, heads, time, head_dim]`
//! so that each (batch, head) pair owns one contiguous block and can run on
//! its own thread.

use ndarray::linalg::general_mat_mul;
use ndarray::{ArrayView2, ArrayViewMut2, ShapeBuilder};
use rayon::prelude::*;

use multiversion::multiversion;

use super::attention::fast_exp;
use super::bf16::Precision;
use super::lanes;
use super::profile::{span, Kind};

/// The shape and storage of one matrix product `c = a · b (+ c)`, as taken by
/// [`matmul`], [`matmul_in`] and the bfloat16 kernel of [`super::bf16`]:
/// `a` is `[m, k]`, `b` is `[k, n]`, `c` is `[m, n]`, all row-major.
///
/// `Product::new(m, k, n)` is the plain product; `.a_transposed()`,
/// `.b_transposed()` and `.accumulating()` set one flag each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Product {
    /// Rows of `a` and of `c`.
    pub m: usize,
    /// The summed dimension: columns of `a`, rows of `b`.
    pub k: usize,
    /// Columns of `b` and of `c`.
    pub n: usize,
    /// `a` is stored transposed: row-major `[k, m]` instead of `[m, k]`.
    pub trans_a: bool,
    /// `b` is stored transposed: row-major `[n, k]` instead of `[k, n]`.
    pub trans_b: bool,
    /// Add the product to `c`'s values (`c += a · b`) instead of overwriting them.
    pub accumulate: bool,
}

impl Product {
    /// `c = a · b` with `a` `[m, k]` and `b` `[k, n]`, neither transposed.
    pub const fn new(m: usize, k: usize, n: usize) -> Self {
        Product { m, k, n, trans_a: false, trans_b: false, accumulate: false }
    }

    /// The same product with `a` stored transposed (`[k, m]`).
    pub const fn a_transposed(self) -> Self {
        Product { trans_a: true, ..self }
    }

    /// The same product with `b` stored transposed (`[n, k]`).
    pub const fn b_transposed(self) -> Self {
        Product { trans_b: true, ..self }
    }

    /// The same product added to `c` instead of overwriting it.
    pub const fn accumulating(self) -> Self {
        Product { accumulate: true, ..self }
    }
}

/// `c = a · b (+ c if accumulate)`, with the shapes and storage of `p`.
///
/// The `gemm` crate multiplies (on the training products of both presets it
/// was 1.13-1.19x `matrixmultiply`, paired rounds on a 2-core AVX2 EPYC,
/// 2026-12-02); `FLEDGE_MATMUL=matrixmultiply` selects the library used
/// before, to compare the two side by side with `fledge bench train`.
pub fn matmul(c: &mut [f32], a: &[f32], b: &[f32], p: Product) {
    let _span = span(Kind::Matmul);
    if matmul_library() == MatmulLibrary::Gemm {
        gemm_f32(c, a, b, p);
    } else {
        matrixmultiply_f32(c, a, b, p);
    }
}

/// The library [`matmul`] hands f32 products to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatmulLibrary {
    Gemm,
    Matrixmultiply,
}

impl std::fmt::Display for MatmulLibrary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            MatmulLibrary::Gemm => "gemm",
            MatmulLibrary::Matrixmultiply => "matrixmultiply",
        })
    }
}

/// 0: not chosen yet; 1: gemm; 2: matrixmultiply.
static MATMUL_LIBRARY: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

/// The library in use: as set by [`set_matmul_library`], else `FLEDGE_MATMUL`
/// (`matrixmultiply`, or `gemm` for anything else) read on first use.
pub fn matmul_library() -> MatmulLibrary {
    use std::sync::atomic::Ordering::Relaxed;
    match MATMUL_LIBRARY.load(Relaxed) {
        1 => MatmulLibrary::Gemm,
        2 => MatmulLibrary::Matrixmultiply,
        _ => {
            let chosen = match std::env::var("FLEDGE_MATMUL").as_deref() {
                Ok("matrixmultiply") => MatmulLibrary::Matrixmultiply,
                _ => MatmulLibrary::Gemm,
            };
            set_matmul_library(chosen);
            chosen
        }
    }
}

/// Switches the library for every later product (the bench alternates them
/// step by step to compare the two in one run).
pub fn set_matmul_library(library: MatmulLibrary) {
    let code = match library {
        MatmulLibrary::Gemm => 1,
        MatmulLibrary::Matrixmultiply => 2,
    };
    MATMUL_LIBRARY.store(code, std::sync::atomic::Ordering::Relaxed);
}

fn matrixmultiply_f32(c: &mut [f32], a: &[f32], b: &[f32], p: Product) {
    let Product { m, k, n, trans_a, trans_b, accumulate } = p;
    let a = if trans_a {
        ArrayView2::from_shape((m, k).strides((1, m)), a).expect("a has m*k values")
    } else {
        ArrayView2::from_shape((m, k), a).expect("a has m*k values")
    };
    let b = if trans_b {
        ArrayView2::from_shape((k, n).strides((1, k)), b).expect("b has k*n values")
    } else {
        ArrayView2::from_shape((k, n), b).expect("b has k*n values")
    };
    let mut c = ArrayViewMut2::from_shape((m, n), c).expect("c has m*n values");
    general_mat_mul(1.0, &a, &b, if accumulate { 1.0 } else { 0.0 }, &mut c);
}

/// The first `m*k`, `k*n` and `m*n` values of `a`, `b` and `c` (each must
/// hold at least that many, as ndarray's views ask), or `None` when the
/// product has no terms: then `c` is left as it is when accumulating and
/// zeroed (an empty sum) otherwise. Shared by the product kernels that do
/// not go through ndarray.
pub(super) fn product_operands<'c, 'ab>(
    c: &'c mut [f32],
    a: &'ab [f32],
    b: &'ab [f32],
    p: Product,
) -> Option<(&'c mut [f32], &'ab [f32], &'ab [f32])> {
    let Product { m, k, n, accumulate, .. } = p;
    assert!(a.len() >= m * k, "a has m*k values");
    assert!(b.len() >= k * n, "b has k*n values");
    assert!(c.len() >= m * n, "c has m*n values");
    let c = &mut c[..m * n];
    if m == 0 || n == 0 {
        return None;
    }
    if k == 0 {
        if !accumulate {
            c.fill(0.0);
        }
        return None;
    }
    Some((c, &a[..m * k], &b[..k * n]))
}

fn gemm_f32(c: &mut [f32], a: &[f32], b: &[f32], p: Product) {
    let Some((c, a, b)) = product_operands(c, a, b, p) else { return };
    let Product { m, k, n, trans_a, trans_b, accumulate } = p;
    // Element (i, j) of a matrix sits at i * row_stride + j * col_stride.
    let (a_rs, a_cs) = if trans_a { (1, m as isize) } else { (k as isize, 1) };
    let (b_rs, b_cs) = if trans_b { (1, k as isize) } else { (n as isize, 1) };
    // SAFETY: `gemm` reads a[i * a_rs + l * a_cs] for i < m, l < k: at most
    // (m-1)k + (k-1) = mk - 1 untransposed, (k-1)m + (m-1) = mk - 1
    // transposed, inside `a` (cut to length m*k by `product_operands`);
    // likewise `b` (length k*n) for l < k, j < n. It writes c[i * n + j] for
    // i < m, j < n, at most mn - 1, inside `c` (length m*n). `c` is a unique borrow and `a`,
    // `b` shared ones, so the destination aliases neither input. f32 is one of
    // the element types `gemm` supports (it panics on others), and m, n, k are
    // non-zero here. Exercised against a plain triple loop by
    // `gemm_matches_a_plain_product` for every transpose and accumulate.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.as_ptr(),
            a_cs,
            a_rs,
            b.as_ptr(),
            b_cs,
            b_rs,
            if accumulate { 1.0 } else { 0.0 },
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::Rayon(0),
        );
    }
}

/// [`matmul`] in the given precision: [`Precision::Bf16`] takes bfloat16
/// inputs with f32 sums ([`super::bf16`]); anything else is f32.
pub fn matmul_in(precision: Precision, c: &mut [f32], a: &[f32], b: &[f32], p: Product) {
    if precision == Precision::Bf16 {
        let _span = span(Kind::Matmul);
        super::bf16::matmul_bf16(c, a, b, p);
    } else {
        matmul(c, a, b, p);
    }
}

/// `y = x @ w^T` for a linear layer with `w` stored `[out, in]` (PyTorch's layout).
pub fn linear_forward(y: &mut [f32], x: &[f32], w: &[f32], rows: usize, d_in: usize, d_out: usize) {
    linear_forward_in(Precision::F32, y, x, w, rows, d_in, d_out);
}

/// [`linear_forward`] in the given precision.
pub fn linear_forward_in(
    precision: Precision,
    y: &mut [f32],
    x: &[f32],
    w: &[f32],
    rows: usize,
    d_in: usize,
    d_out: usize,
) {
    matmul_in(precision, y, x, w, Product::new(rows, d_in, d_out).b_transposed());
}

/// Backward of [`linear_forward`]: `dw += dy^T @ x`, and `dx (+)= dy @ w`.
#[allow(clippy::too_many_arguments)]
pub fn linear_backward(
    dx: &mut [f32],
    dw: &mut [f32],
    dy: &[f32],
    x: &[f32],
    w: &[f32],
    rows: usize,
    d_in: usize,
    d_out: usize,
    accumulate_dx: bool,
) {
    linear_backward_in(Precision::F32, dx, dw, dy, x, w, rows, d_in, d_out, accumulate_dx);
}

/// [`linear_backward`] in the given precision (both products).
#[allow(clippy::too_many_arguments)]
pub fn linear_backward_in(
    precision: Precision,
    dx: &mut [f32],
    dw: &mut [f32],
    dy: &[f32],
    x: &[f32],
    w: &[f32],
    rows: usize,
    d_in: usize,
    d_out: usize,
    accumulate_dx: bool,
) {
    matmul_in(precision, dw, dy, x, Product::new(d_out, rows, d_in).a_transposed().accumulating());
    matmul_in(precision, dx, dy, w, Product { accumulate: accumulate_dx, ..Product::new(rows, d_out, d_in) });
}

/// Values per parallel task of the element-wise passes below.
const ELEMENTWISE_CHUNK: usize = 16_384;

/// `out = a + b`, element by element, in parallel (the residual stream's
/// additions: on one thread they were about 10 ms of a 400 ms bf16 step).
pub fn add_into(out: &mut [f32], a: &[f32], b: &[f32]) {
    let _span = span(Kind::Other);
    let c = ELEMENTWISE_CHUNK;
    out.par_chunks_mut(c).zip(a.par_chunks(c)).zip(b.par_chunks(c)).for_each(|((o, a), b)| {
        for ((o, a), b) in o.iter_mut().zip(a).zip(b) {
            *o = a + b;
        }
    });
}

/// `out += a`, element by element, in parallel.
pub fn add_assign(out: &mut [f32], a: &[f32]) {
    let _span = span(Kind::Other);
    out.par_chunks_mut(ELEMENTWISE_CHUNK).zip(a.par_chunks(ELEMENTWISE_CHUNK)).for_each(|(o, a)| {
        for (o, a) in o.iter_mut().zip(a) {
            *o += a;
        }
    });
}

/// Sets `out` to zero in parallel (one thread writing a gradient buffer's
/// megabytes leaves the other idle).
pub fn zero(out: &mut [f32]) {
    let _span = span(Kind::Other);
    out.par_chunks_mut(ELEMENTWISE_CHUNK).for_each(|o| o.fill(0.0));
}

/// Rows per parallel task of the norms' forward and backward passes.
const NORM_ROWS: usize = 64;

/// RMSNorm: `y = x / rms(x) * w`; keeps `1 / rms` per row for the backward.
pub fn rmsnorm_forward(y: &mut [f32], rstd: &mut [f32], x: &[f32], w: &[f32], d: usize, eps: f32) {
    let _span = span(Kind::Norm);
    y.par_chunks_mut(NORM_ROWS * d)
        .zip(rstd.par_chunks_mut(NORM_ROWS))
        .zip(x.par_chunks(NORM_ROWS * d))
        .for_each(|((y, rstd), x)| rmsnorm_rows(y, rstd, x, w, eps));
}

/// [`rmsnorm_forward`] over a block of rows, its sums of squares in SIMD
/// lanes: a plain running sum cannot be vectorized, and the norms took 5% of
/// a bf16 training step when they were (`FLEDGE_PROFILE`, AMX Xeon).
#[multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512cd+avx512dq+avx512vl",
    "x86_64+avx2+fma",
    "x86_64+sse4.2",
    "aarch64+neon"
))]
fn rmsnorm_rows(y: &mut [f32], rstd: &mut [f32], x: &[f32], w: &[f32], eps: f32) {
    let d = w.len();
    for ((y, r), x) in y.chunks_exact_mut(d).zip(rstd).zip(x.chunks_exact(d)) {
        *r = 1.0 / (lanes::dot::<16>(x, x) / d as f32 + eps).sqrt();
        for ((y, x), w) in y.iter_mut().zip(x).zip(w) {
            *y = x * *r * w;
        }
    }
}

/// RMSNorm of one row; returns `1 / rms` (used by generation, one token at a time).
pub fn rmsnorm_row(y: &mut [f32], x: &[f32], w: &[f32], eps: f32) -> f32 {
    let ms = x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32;
    let r = 1.0 / (ms + eps).sqrt();
    for ((y, x), w) in y.iter_mut().zip(x).zip(w) {
        *y = x * r * w;
    }
    r
}

/// Backward of RMSNorm. With `xhat = x * rstd` and `g = dy * w`:
/// `dx += rstd * (g - xhat * mean(g * xhat))`, `dw += sum_rows(dy * xhat)`.
pub fn rmsnorm_backward(dx: &mut [f32], dw: &mut [f32], dy: &[f32], x: &[f32], w: &[f32], rstd: &[f32], d: usize) {
    let _span = span(Kind::Norm);
    // Rows run in parallel in fixed blocks; each block sums its own dw, and
    // the blocks' sums are added in order, so the result does not depend on
    // how the threads were scheduled (training is bit-for-bit repeatable).
    let partials: Vec<Vec<f32>> = dx
        .par_chunks_mut(NORM_ROWS * d)
        .zip(dy.par_chunks(NORM_ROWS * d))
        .zip(x.par_chunks(NORM_ROWS * d))
        .zip(rstd.par_chunks(NORM_ROWS))
        .map(|(((dx, dy), x), rstd)| {
            let mut dw_acc = vec![0.0f32; d];
            rmsnorm_backward_rows(dx, &mut dw_acc, dy, x, w, rstd);
            dw_acc
        })
        .collect();
    for p in partials {
        for (w, p) in dw.iter_mut().zip(p) {
            *w += p;
        }
    }
}

/// [`rmsnorm_backward`] over a block of rows, `dw`'s part added to `dw_acc`;
/// the row's dot product in SIMD lanes (see [`rmsnorm_rows`]).
#[multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512cd+avx512dq+avx512vl",
    "x86_64+avx2+fma",
    "x86_64+sse4.2",
    "aarch64+neon"
))]
fn rmsnorm_backward_rows(dx: &mut [f32], dw_acc: &mut [f32], dy: &[f32], x: &[f32], w: &[f32], rstd: &[f32]) {
    let d = w.len();
    let mut g = vec![0.0f32; d];
    for (((dx, dy), x), &r) in dx.chunks_exact_mut(d).zip(dy.chunks_exact(d)).zip(x.chunks_exact(d)).zip(rstd) {
        for ((g, dy), w) in g.iter_mut().zip(dy).zip(w) {
            *g = dy * w;
        }
        let mean = lanes::dot::<16>(&g, x) * r / d as f32;
        for (((dx, g), x), (dw, dy)) in dx.iter_mut().zip(&g).zip(x).zip(dw_acc.iter_mut().zip(dy)) {
            let xhat = x * r;
            *dx += r * (g - xhat * mean);
            *dw += dy * xhat;
        }
    }
}

/// Cosine and sine tables of rotary embeddings, `[max_seq, head_dim / 2]`,
/// frequencies `theta^(-2i / head_dim)` as in Llama and HF.
pub struct Rope {
    pub cos: Vec<f32>,
    pub sin: Vec<f32>,
    pub half: usize,
}

impl Rope {
    pub fn new(max_seq: usize, head_dim: usize, theta: f32) -> Self {
        let half = head_dim / 2;
        let mut cos = Vec::with_capacity(max_seq * half);
        let mut sin = Vec::with_capacity(max_seq * half);
        for t in 0..max_seq {
            for i in 0..half {
                let freq = (theta as f64).powf(-2.0 * i as f64 / head_dim as f64);
                let angle = t as f64 * freq;
                cos.push(angle.cos() as f32);
                sin.push(angle.sin() as f32);
            }
        }
        Self { cos, sin, half }
    }

    /// Rotates one head vector at position `t` (HF's rotate-half pairing of
    /// dimension `i` with `i + head_dim / 2`); `inverse` undoes it, which is
    /// also the backward, since a rotation's transpose is its inverse.
    #[inline]
    pub fn rotate(&self, v: &mut [f32], t: usize, inverse: bool) {
        let h = self.half;
        let cos = &self.cos[t * h..(t + 1) * h];
        let sin = &self.sin[t * h..(t + 1) * h];
        let sign = if inverse { -1.0 } else { 1.0 };
        let (a, b) = v.split_at_mut(h);
        for i in 0..h {
            let (x, y) = (a[i], b[i]);
            let s = sign * sin[i];
            a[i] = x * cos[i] - y * s;
            b[i] = y * cos[i] + x * s;
        }
    }
}

/// Scatters `[batch*time, heads*hd]` into head-major `[batch, heads, time, hd]`,
/// rotating each vector when `rope` is given.
pub fn to_head_major(
    out: &mut [f32],
    x: &[f32],
    batch: usize,
    time: usize,
    heads: usize,
    hd: usize,
    rope: Option<&Rope>,
) {
    let _span = span(Kind::Rope);
    debug_assert_eq!(out.len(), batch * heads * time * hd);
    out.par_chunks_mut(time * hd).enumerate().for_each(|(bh, block)| {
        let (b, h) = (bh / heads, bh % heads);
        for t in 0..time {
            let src = &x[(b * time + t) * heads * hd + h * hd..][..hd];
            let dst = &mut block[t * hd..(t + 1) * hd];
            dst.copy_from_slice(src);
            if let Some(r) = rope {
                r.rotate(dst, t, false);
            }
        }
    });
}

/// Gathers head-major `[batch, heads, time, hd]` back into `[batch*time, heads*hd]`,
/// undoing the rotation when `rope` is given (the backward of [`to_head_major`]).
pub fn from_head_major(
    out: &mut [f32],
    x: &[f32],
    batch: usize,
    time: usize,
    heads: usize,
    hd: usize,
    rope: Option<&Rope>,
) {
    let _span = span(Kind::Rope);
    debug_assert_eq!(out.len(), batch * heads * time * hd);
    out.par_chunks_mut(heads * hd).enumerate().for_each(|(row, dst)| {
        let (b, t) = (row / time, row % time);
        for h in 0..heads {
            let src = &x[((b * heads + h) * time + t) * hd..][..hd];
            let d = &mut dst[h * hd..(h + 1) * hd];
            d.copy_from_slice(src);
            if let Some(r) = rope {
                r.rotate(d, t, true);
            }
        }
    });
}

#[inline(always)]
fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + fast_exp(-x))
}

/// SwiGLU: `h = silu(gate) * up`.
pub fn swiglu_forward(h: &mut [f32], gate: &[f32], up: &[f32]) {
    let _span = span(Kind::Swiglu);
    h.par_chunks_mut(4096)
        .zip(gate.par_chunks(4096))
        .zip(up.par_chunks(4096))
        .for_each(|((h, g), u)| swiglu_chunk(h, g, u));
}

#[multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512cd+avx512dq+avx512vl",
    "x86_64+avx2+fma",
    "x86_64+sse4.2",
    "aarch64+neon"
))]
fn swiglu_chunk(h: &mut [f32], g: &[f32], u: &[f32]) {
    for ((h, &g), &u) in h.iter_mut().zip(g).zip(u) {
        *h = g * sigmoid(g) * u;
    }
}

/// Backward of SwiGLU, written over the inputs' buffers: `gate` becomes
/// `dgate` and `up` becomes `dup` (the forward values are not needed after).
pub fn swiglu_backward_inplace(gate_to_dgate: &mut [f32], up_to_dup: &mut [f32], dh: &[f32]) {
    let _span = span(Kind::Swiglu);
    gate_to_dgate
        .par_chunks_mut(4096)
        .zip(up_to_dup.par_chunks_mut(4096))
        .zip(dh.par_chunks(4096))
        .for_each(|((g, u), dh)| swiglu_backward_chunk(g, u, dh));
}

#[multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512cd+avx512dq+avx512vl",
    "x86_64+avx2+fma",
    "x86_64+sse4.2",
    "aarch64+neon"
))]
fn swiglu_backward_chunk(g: &mut [f32], u: &mut [f32], dh: &[f32]) {
    for ((g, u), &dh) in g.iter_mut().zip(u.iter_mut()).zip(dh) {
        let s = sigmoid(*g);
        let silu = *g * s;
        let dsilu = s * (1.0 + *g * (1.0 - s));
        let dgate = dh * *u * dsilu;
        *u = dh * silu;
        *g = dgate;
    }
}

/// A target that carries no loss: prompt tokens in fine-tuning, padding.
pub const IGNORE: u32 = u32::MAX;

/// Mean cross-entropy of `logits` `[rows, vocab]` against `targets`, over the
/// rows whose target is not [`IGNORE`]; turns the logits into the loss's
/// gradient in place, times `grad_scale` (`(softmax - onehot) / counted *
/// grad_scale`, zero on ignored rows). Returns the mean loss.
pub fn cross_entropy_inplace(logits: &mut [f32], targets: &[u32], vocab: usize, grad_scale: f32) -> f32 {
    let _span = span(Kind::CrossEntropy);
    let counted = targets.iter().filter(|&&t| t != IGNORE).count();
    if counted == 0 {
        logits.fill(0.0);
        return 0.0;
    }
    let g = grad_scale / counted as f32;
    let per_row: Vec<f64> = logits
        .par_chunks_mut(vocab)
        .zip(targets.par_iter())
        .map(|(row, &t)| {
            if t == IGNORE {
                row.fill(0.0);
                0.0
            } else {
                cross_entropy_row(row, t as usize, g)
            }
        })
        .collect();
    // Summed in order, not in whatever order threads finish.
    (per_row.iter().sum::<f64>() / counted as f64) as f32
}

/// Softmax of one row of logits, turned into `(softmax - onehot) * g` in
/// place; returns the row's loss.
#[multiversion(targets(
    "x86_64+avx512f+avx512bw+avx512cd+avx512dq+avx512vl",
    "x86_64+avx2+fma",
    "x86_64+sse4.2",
    "aarch64+neon"
))]
fn cross_entropy_row(row: &mut [f32], target: usize, g: f32) -> f64 {
    // The maximum and the sum in fixed-order lanes, so that both loops
    // vectorize and the result stays the same from run to run.
    let max = lanes::max::<8>(row);
    let target_logit = row[target];
    for x in row.iter_mut() {
        *x = fast_exp(*x - max);
    }
    let sum = lanes::sum::<8>(row);
    let inv = g / sum;
    for x in row.iter_mut() {
        *x *= inv;
    }
    row[target] -= g;
    // log-sum-exp minus the target's logit: exact, and NaN stays NaN (a
    // diverged model must show up as a non-finite loss, not a clamped one).
    (sum as f64).ln() + (max - target_logit) as f64
}

/// Cross-entropy of each row (evaluation): no gradient, logits left as they
/// are. Rows whose target is [`IGNORE`] give 0.
pub fn cross_entropy_rows(logits: &[f32], targets: &[u32], vocab: usize) -> Vec<f64> {
    logits
        .par_chunks(vocab)
        .zip(targets.par_iter())
        .map(|(row, &t)| {
            if t == IGNORE {
                return 0.0;
            }
            let max = row.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
            let sum: f64 = row.iter().map(|&x| ((x - max) as f64).exp()).sum();
            sum.ln() + (max - row[t as usize]) as f64
        })
        .collect()
}

/// Mean cross-entropy over the rows that count (evaluation).
pub fn cross_entropy_loss(logits: &[f32], targets: &[u32], vocab: usize) -> f64 {
    let counted = targets.iter().filter(|&&t| t != IGNORE).count().max(1);
    // Summed in order, not in whatever order threads finish.
    cross_entropy_rows(logits, targets, vocab).iter().sum::<f64>() / counted as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matmul_handles_transposes() {
        // a = [[1,2],[3,4]], b = [[5,6],[7,8]]
        let a = [1.0, 2.0, 3.0, 4.0];
        let b = [5.0, 6.0, 7.0, 8.0];
        let mut c = [0.0; 4];
        matmul(&mut c, &a, &b, Product::new(2, 2, 2));
        assert_eq!(c, [19.0, 22.0, 43.0, 50.0]);
        matmul(&mut c, &a, &b, Product::new(2, 2, 2).a_transposed()); // a^T b
        assert_eq!(c, [26.0, 30.0, 38.0, 44.0]);
        matmul(&mut c, &a, &b, Product::new(2, 2, 2).b_transposed().accumulating()); // + a b^T
        assert_eq!(c, [26.0 + 17.0, 30.0 + 23.0, 38.0 + 39.0, 44.0 + 53.0]);
    }

    /// The `gemm` call (the one `unsafe` block of this file) against a plain
    /// triple loop, on shapes that fill no kernel tile exactly, for every
    /// transpose and accumulate, and the two libraries against each other.
    #[test]
    fn gemm_matches_a_plain_product() {
        let value = |i: usize, salt: usize| ((i * 7919 + salt * 104_729) % 997) as f32 / 997.0 - 0.5;
        for (m, k, n) in [(1, 1, 1), (37, 53, 29), (5, 300, 70), (130, 17, 9)] {
            for flags in 0..8 {
                let p =
                    Product { m, k, n, trans_a: flags & 1 != 0, trans_b: flags & 2 != 0, accumulate: flags & 4 != 0 };
                let a: Vec<f32> = (0..m * k).map(|i| value(i, 1)).collect();
                let b: Vec<f32> = (0..k * n).map(|i| value(i, 2)).collect();
                let start: Vec<f32> = (0..m * n).map(|i| value(i, 3)).collect();
                let at = |i: usize, l: usize| if p.trans_a { a[l * m + i] } else { a[i * k + l] };
                let bt = |l: usize, j: usize| if p.trans_b { b[j * k + l] } else { b[l * n + j] };
                let mut want = vec![0.0f64; m * n];
                for i in 0..m {
                    for j in 0..n {
                        let dot: f64 = (0..k).map(|l| at(i, l) as f64 * bt(l, j) as f64).sum();
                        want[i * n + j] = dot + if p.accumulate { start[i * n + j] as f64 } else { 0.0 };
                    }
                }
                let (mut by_gemm, mut by_mm) = (start.clone(), start.clone());
                gemm_f32(&mut by_gemm, &a, &b, p);
                matrixmultiply_f32(&mut by_mm, &a, &b, p);
                for ((g, mm), w) in by_gemm.iter().zip(&by_mm).zip(&want) {
                    let tol = 1e-5 * (k as f64).sqrt().max(1.0);
                    assert!((*g as f64 - w).abs() < tol, "gemm {g} against {w} for {p:?}");
                    assert!((*mm as f64 - w).abs() < tol, "matrixmultiply {mm} against {w} for {p:?}");
                }
            }
        }
        let mut c = [7.0f32; 4];
        gemm_f32(&mut c, &[], &[], Product::new(2, 0, 2));
        assert_eq!(c, [0.0; 4], "an empty sum is zero");
        // Longer slices are read from the start, as ndarray's views read them.
        let (a, b) = ([1.0, 2.0, 3.0, 4.0, 99.0], [5.0, 6.0, 7.0, 8.0, 99.0]);
        let mut c = [0.0f32; 5];
        gemm_f32(&mut c, &a, &b, Product::new(2, 2, 2));
        assert_eq!(c, [19.0, 22.0, 43.0, 50.0, 0.0]);
    }

    #[test]
    fn rope_rotation_is_undone_by_its_inverse() {
        let r = Rope::new(16, 8, 10_000.0);
        let orig: Vec<f32> = (0..8).map(|i| i as f32 - 3.5).collect();
        let mut v = orig.clone();
        r.rotate(&mut v, 7, false);
        assert!(v.iter().zip(&orig).any(|(a, b)| (a - b).abs() > 1e-3));
        r.rotate(&mut v, 7, true);
        for (a, b) in v.iter().zip(&orig) {
            assert!((a - b).abs() < 1e-5);
        }
    }

    #[test]
    fn cross_entropy_of_uniform_logits_is_log_vocab() {
        let mut logits = vec![0.0f32; 2 * 8];
        let loss = cross_entropy_inplace(&mut logits, &[3, 5], 8, 1.0);
        assert!((loss - (8f32).ln()).abs() < 1e-6);
        // Gradient rows sum to zero.
        assert!(logits[..8].iter().sum::<f32>().abs() < 1e-6);
        assert!((cross_entropy_loss(&[0.0; 16], &[3, 5], 8) - (8f64).ln()).abs() < 1e-9);
    }
}
