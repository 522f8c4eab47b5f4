//! Q8_0 generation: weights and activations in blocks of 32 signed bytes
//! with one scale each (GGUF's and llama.cpp's Q8_0), multiplied with
//! integer dot products.
//!
//! Why: at batch 1 every token reads every weight once, and the reference
//! model's 23 MB of f32 weights do not stay in cache, so generation waits on
//! memory. Q8_0 is a quarter of the bytes, and the CPU multiplies bytes
//! faster than floats (AVX512-VNNI `vpdpbusd`: 64 byte products per
//! instruction; AVX2 `vpmaddubsw`: 32). Perplexity moves by well under 1%
//! (measured in the tests and by `fledge bench generate --quantize q8_0`).
//!
//! Why hand-written: the product is small (one row of blocks against one
//! vector of blocks) and must use the same blocks and rounding as the GGUF
//! file fledge exports, so that fledge and llama.cpp run the same numbers;
//! candle's quantized matmul would be a second model implementation to keep
//! in step with ours. The kernels are picked at run time (AVX512-VNNI,
//! AVX2, then plain Rust), never by `target-cpu`.
//!
//! A block `b` of a row holds `scale[b]` and `q[32b..32b+32]` with
//! `w ≈ scale × q`, `scale = max|w| / 127` rounded to f16 as GGUF stores
//! it, and `q = round(w / scale)` in -127..=127. A row's product with an
//! input quantized the same way is `Σ_b scale_w[b] × scale_x[b] × Σ q_w q_x`,
//! the inner sum exact in 32-bit integers.

/// Values per block.
pub const BLOCK: usize = 32;

/// A weight matrix `[rows, cols]` in Q8_0 blocks, rows contiguous.
#[derive(Debug, Clone)]
pub struct Q8Matrix {
    pub rows: usize,
    pub cols: usize,
    quants: Vec<i8>,
    scales: Vec<f32>,
}

/// Consecutive whole rows of a [`Q8Matrix`].
#[derive(Debug, Clone, Copy)]
pub struct Q8Rows<'a> {
    quants: &'a [i8],
    scales: &'a [f32],
    cols: usize,
}

/// A vector quantized for products with [`Q8Rows`] (the input of a layer).
#[derive(Debug, Clone, Default)]
pub struct Q8Vector {
    quants: Vec<i8>,
    scales: Vec<f32>,
}

/// Quantizes one block: returns its scale (f16-rounded) and writes `q`.
fn quantize_block(x: &[f32], q: &mut [i8]) -> f32 {
    let amax = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let scale = half::f16::from_f32(amax / 127.0).to_f32();
    // The quotient uses the exact scale, as llama.cpp's quantize_row_q8_0
    // does; only the stored scale is f16.
    let inv = if amax > 0.0 { 127.0 / amax } else { 0.0 };
    for (q, v) in q.iter_mut().zip(x) {
        *q = (v * inv).round().clamp(-127.0, 127.0) as i8;
    }
    scale
}

fn quantize_into(x: &[f32], quants: &mut Vec<i8>, scales: &mut Vec<f32>) {
    assert_eq!(x.len() % BLOCK, 0, "Q8_0 rows are whole blocks");
    quants.resize(x.len(), 0);
    scales.clear();
    for (xb, qb) in x.chunks_exact(BLOCK).zip(quants.chunks_exact_mut(BLOCK)) {
        scales.push(quantize_block(xb, qb));
    }
}

impl Q8Matrix {
    /// Quantizes `w` (`[rows, cols]` row-major); `cols` must be a multiple
    /// of [`BLOCK`] (see [`Q8Matrix::fits`]).
    pub fn quantize(w: &[f32], rows: usize, cols: usize) -> Self {
        assert_eq!(w.len(), rows * cols);
        let (mut quants, mut scales) = (Vec::new(), Vec::new());
        quantize_into(w, &mut quants, &mut scales);
        Self { rows, cols, quants, scales }
    }

    /// Whether rows of `cols` values split into whole blocks.
    pub fn fits(cols: usize) -> bool {
        cols > 0 && cols % BLOCK == 0
    }

    pub fn view(&self) -> Q8Rows<'_> {
        Q8Rows { quants: &self.quants, scales: &self.scales, cols: self.cols }
    }

    /// The values the blocks stand for (tests and the perplexity check).
    pub fn dequantize(&self) -> Vec<f32> {
        self.quants
            .chunks_exact(BLOCK)
            .zip(&self.scales)
            .flat_map(|(q, s)| q.iter().map(move |&q| q as f32 * s))
            .collect()
    }

    /// Bytes held: one per value and four per block's scale.
    pub fn bytes(&self) -> usize {
        self.quants.len() + 4 * self.scales.len()
    }
}

impl<'a> Q8Rows<'a> {
    pub fn rows(&self) -> usize {
        self.quants.len() / self.cols
    }

    /// Splits into pieces of at most `rows` rows (for parallel tasks).
    pub fn chunks(self, rows: usize) -> impl Iterator<Item = Q8Rows<'a>> {
        let cols = self.cols;
        self.quants
            .chunks(rows * cols)
            .zip(self.scales.chunks(rows * cols / BLOCK))
            .map(move |(quants, scales)| Q8Rows { quants, scales, cols })
    }
}

impl Q8Vector {
    /// Quantizes `x` into this vector's buffers (reused between tokens).
    pub fn set(&mut self, x: &[f32]) {
        quantize_into(x, &mut self.quants, &mut self.scales);
    }

    pub fn len(&self) -> usize {
        self.quants.len()
    }

    pub fn is_empty(&self) -> bool {
        self.quants.is_empty()
    }
}

/// `y = W x` for every row of `w`; `x` was quantized from a vector of
/// `w.cols` values.
pub fn matvec_rows(y: &mut [f32], w: Q8Rows, x: &Q8Vector) {
    assert_eq!(x.len(), w.cols, "input length");
    assert_eq!(y.len(), w.rows(), "output length");
    let kernel = Kernel::detect();
    let nb = w.cols / BLOCK;
    for ((y, wq), ws) in y.iter_mut().zip(w.quants.chunks_exact(w.cols)).zip(w.scales.chunks_exact(nb)) {
        *y = kernel.dot(wq, ws, &x.quants, &x.scales);
    }
}

/// The integer dot-product instructions this CPU has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    Avx512Vnni,
    Avx2,
    Portable,
}

impl Kernel {
    /// The fastest kernel the CPU runs (cached by the standard library's
    /// feature detection).
    pub fn detect() -> Kernel {
        #[cfg(target_arch = "x86_64")]
        {
            if is_x86_feature_detected!("avx512f")
                && is_x86_feature_detected!("avx512bw")
                && is_x86_feature_detected!("avx512vnni")
            {
                return Kernel::Avx512Vnni;
            }
            if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                return Kernel::Avx2;
            }
        }
        Kernel::Portable
    }

    /// Every kernel this CPU can run, fastest first (for tests).
    pub fn available() -> Vec<Kernel> {
        let all = [Kernel::Avx512Vnni, Kernel::Avx2, Kernel::Portable];
        let best = all.iter().position(|k| *k == Kernel::detect()).unwrap_or(2);
        let mut out = all[best..].to_vec();
        // AVX2 may exist without VNNI's AVX-512 companions and vice versa.
        #[cfg(target_arch = "x86_64")]
        out.retain(|k| *k != Kernel::Avx2 || (is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")));
        out
    }

    /// One row's product: `Σ_b ws[b] xs[b] Σ_i wq[32b+i] xq[32b+i]`.
    pub fn dot(self, wq: &[i8], ws: &[f32], xq: &[i8], xs: &[f32]) -> f32 {
        assert!(wq.len() == xq.len() && ws.len() == xs.len() && wq.len() == ws.len() * BLOCK);
        match self {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: `detect` returns this kernel only where the CPU has
            // AVX-512F, AVX-512BW and AVX512-VNNI, and tests call it only
            // when `available` lists it; the lengths were checked above.
            Kernel::Avx512Vnni => unsafe { x86::dot_avx512vnni(wq, ws, xq, xs) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above, for AVX2 and FMA.
            Kernel::Avx2 => unsafe { x86::dot_avx2(wq, ws, xq, xs) },
            _ => dot_portable(wq, ws, xq, xs),
        }
    }
}

fn dot_portable(wq: &[i8], ws: &[f32], xq: &[i8], xs: &[f32]) -> f32 {
    let mut sum = 0.0f32;
    for (b, (wb, xb)) in wq.chunks_exact(BLOCK).zip(xq.chunks_exact(BLOCK)).enumerate() {
        let int: i32 = wb.iter().zip(xb).map(|(&w, &x)| w as i32 * x as i32).sum();
        sum += int as f32 * ws[b] * xs[b];
    }
    sum
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::BLOCK;
    use std::arch::x86_64::*;

    /// Two blocks (64 bytes) per step. `vpdpbusd` multiplies unsigned by
    /// signed bytes, so the input's signs move onto the weights
    /// (`|x| · (sign(x) w)` = `x w`); both stay within ±127, so neither the
    /// absolute value nor the negation overflows. Lanes 0-7 of the 32-bit
    /// sums belong to the first block, 8-15 to the second, each scaled by
    /// its block's two scales before the float accumulation.
    ///
    /// # Safety
    /// The CPU must have AVX-512F, AVX-512BW and AVX512-VNNI; the slices
    /// must satisfy [`super::Kernel::dot`]'s length check.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub unsafe fn dot_avx512vnni(wq: &[i8], ws: &[f32], xq: &[i8], xs: &[f32]) -> f32 {
        let nb = ws.len();
        let zero = _mm512_setzero_si512();
        let mut acc = _mm512_setzero_ps();
        let mut b = 0;
        while b + 2 <= nb {
            // SAFETY: bytes 32b..32b+64 lie within both slices (b + 2 <= nb
            // and both hold nb × 32 bytes); unaligned loads need no alignment.
            let (x, w) = unsafe {
                (
                    _mm512_loadu_si512(xq.as_ptr().add(b * BLOCK) as *const _),
                    _mm512_loadu_si512(wq.as_ptr().add(b * BLOCK) as *const _),
                )
            };
            let negative = _mm512_movepi8_mask(x);
            let signed_w = _mm512_mask_sub_epi8(w, negative, zero, w);
            let ints = _mm512_dpbusd_epi32(zero, _mm512_abs_epi8(x), signed_w);
            let scale =
                _mm512_mask_blend_ps(0xFF00, _mm512_set1_ps(ws[b] * xs[b]), _mm512_set1_ps(ws[b + 1] * xs[b + 1]));
            acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(ints), scale, acc);
            b += 2;
        }
        let mut sum = _mm512_reduce_add_ps(acc);
        if b < nb {
            let tail = b * BLOCK..;
            sum += super::dot_portable(&wq[tail.clone()], &ws[b..], &xq[tail], &xs[b..]);
        }
        sum
    }

    /// One block (32 bytes) per step, with the same sign trick:
    /// `vpmaddubsw` sums pairs of products into 16 bits (at most
    /// 2 × 127 × 127 = 32,258, below the saturation at 32,767), `vpmaddwd`
    /// by ones sums those into 32 bits.
    ///
    /// # Safety
    /// The CPU must have AVX2 and FMA; the slices must satisfy
    /// [`super::Kernel::dot`]'s length check.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn dot_avx2(wq: &[i8], ws: &[f32], xq: &[i8], xs: &[f32]) -> f32 {
        let ones = _mm256_set1_epi16(1);
        let mut acc = _mm256_setzero_ps();
        for b in 0..ws.len() {
            // SAFETY: bytes 32b..32b+32 lie within both slices (b < nb and
            // both hold nb × 32 bytes); unaligned loads need no alignment.
            let (x, w) = unsafe {
                (
                    _mm256_loadu_si256(xq.as_ptr().add(b * BLOCK) as *const __m256i),
                    _mm256_loadu_si256(wq.as_ptr().add(b * BLOCK) as *const __m256i),
                )
            };
            let pairs = _mm256_maddubs_epi16(_mm256_sign_epi8(x, x), _mm256_sign_epi8(w, x));
            let ints = _mm256_madd_epi16(pairs, ones);
            acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(ints), _mm256_set1_ps(ws[b] * xs[b]), acc);
        }
        let half = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
        let quad = _mm_add_ps(half, _mm_movehl_ps(half, half));
        let one = _mm_add_ss(quad, _mm_shuffle_ps(quad, quad, 1));
        _mm_cvtss_f32(one)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn random(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
            })
            .collect()
    }

    #[test]
    fn blocks_round_as_gguf_stores_them() {
        let mut x: Vec<f32> = (0..32).map(|i| i as f32 - 16.0).collect();
        x[3] = 0.0;
        let mut q = vec![0i8; 32];
        let scale = quantize_block(&x, &mut q);
        assert_eq!(scale, half::f16::from_f32(16.0 / 127.0).to_f32());
        assert_eq!(q[0], -127, "the largest magnitude maps to ±127");
        assert_eq!(q[3], 0);
        assert_eq!(q[24], (8.0f32 * 127.0 / 16.0).round() as i8);
        // An all-zero block stays zero (no division by zero).
        assert_eq!(quantize_block(&[0.0; 32], &mut q), 0.0);
        assert!(q.iter().all(|&v| v == 0));
    }

    #[test]
    fn every_kernel_this_cpu_has_gives_the_exact_integer_sums() {
        eprintln!("Q8_0 kernels on this CPU: {:?}", Kernel::available());
        for cols in [32, 64, 96, 256, 704] {
            let w = Q8Matrix::quantize(&random(3 * cols, 1), 3, cols);
            let mut x = Q8Vector::default();
            x.set(&random(cols, 2));
            let nb = cols / BLOCK;
            for r in 0..3 {
                let (wq, ws) = (&w.quants[r * cols..(r + 1) * cols], &w.scales[r * nb..(r + 1) * nb]);
                let reference: f64 = (0..cols)
                    .map(|i| wq[i] as f64 * x.quants[i] as f64 * ws[i / BLOCK] as f64 * x.scales[i / BLOCK] as f64)
                    .sum();
                for k in Kernel::available() {
                    let got = k.dot(wq, ws, &x.quants, &x.scales) as f64;
                    assert!(
                        (got - reference).abs() <= 1e-5 * reference.abs().max(1.0),
                        "{k:?} cols {cols}: {got} vs {reference}"
                    );
                }
            }
        }
    }

    #[test]
    fn extreme_values_do_not_overflow() {
        // ±127 everywhere: the largest sums the kernels' 16- and 32-bit steps see.
        let cols = 256;
        for (w, x) in [(1.0, 1.0), (-1.0, 1.0), (1.0, -1.0), (-1.0, -1.0)] {
            let m = Q8Matrix::quantize(&vec![w; cols], 1, cols);
            let mut v = Q8Vector::default();
            v.set(&vec![x; cols]);
            for k in Kernel::available() {
                let mut y = [0.0];
                let got = k.dot(&m.quants, &m.scales, &v.quants, &v.scales);
                matvec_rows(&mut y, m.view(), &v);
                let want = (w * x) * cols as f32 * 127.0 * 127.0 * m.scales[0] * v.scales[0];
                assert!((got - want).abs() <= 1e-4 * want.abs(), "{k:?}: {got} vs {want}");
                assert!((y[0] - want).abs() <= 1e-4 * want.abs());
            }
        }
    }

    proptest! {
        #[test]
        fn products_are_within_quantization_error_of_f32(seed in 0u64..1000, blocks in 1usize..12) {
            let cols = blocks * BLOCK;
            let (w, x) = (random(4 * cols, seed), random(cols, seed + 1));
            let m = Q8Matrix::quantize(&w, 4, cols);
            let mut v = Q8Vector::default();
            v.set(&x);
            let mut y = vec![0.0; 4];
            matvec_rows(&mut y, m.view(), &v);
            for (r, y) in y.iter().enumerate() {
                let exact: f32 = w[r * cols..(r + 1) * cols].iter().zip(&x).map(|(a, b)| a * b).sum();
                // Each factor is within half a step (max/254) of its value.
                let bound = 2.0 * cols as f32 / 254.0 + 1e-4;
                prop_assert!((y - exact).abs() <= bound, "row {}: {} vs {}", r, y, exact);
            }
            let back = m.dequantize();
            for (a, b) in back.iter().zip(&w) {
                prop_assert!((a - b).abs() <= 1.0 / 254.0 * 1.01 + 1e-3);
            }
        }
    }
}
