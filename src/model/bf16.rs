//! bfloat16 matrix products for mixed-precision training, on AVX512-BF16.
//!
//! Why hand-written: we found no maintained crate that multiplies bfloat16
//! with `vdpbf16ps` and builds offline. `matrixmultiply` (behind ndarray) is
//! f32/f64 only; the `gemm` family has an f16 crate (`gemm-f16`) and no bf16
//! one; `gemmkit` 0.1 (new, one author) has a bf16 feature through `half`
//! whose kernels we did not verify use AVX512-BF16; `bf16-gemm` on GitHub is
//! a proof of concept (column-major, not on crates.io); oneDNN/MKL bindings
//! need a C++ build or a downloaded library (checked 2026-12-01 from docs.rs;
//! `cargo search` does not reach the registry from this machine). A packed
//! kernel of about 300 lines is the cheaper dependency.
//!
//! Semantics are PyTorch autocast's: the inputs of a product are rounded to
//! bfloat16 (round-to-nearest-even, as `vcvtne2ps2bf16` does), the products
//! are summed in f32 (`vdpbf16ps`: two bf16 products per f32 lane and step),
//! and the result is f32. Weights, gradients, norms, softmax, the loss and
//! AdamW stay f32; only [`super::kernels::matmul`]'s callers that are handed
//! [`Precision::Bf16`] come here.
//!
//! The kernel: `B` is packed once into panels of [`NR`] columns in the
//! pair-interleaved layout `vdpbf16ps` reads (`[k / 2][columns]` of `u32`,
//! each `u32` the bf16 pair `(B[2p][j], B[2p + 1][j])`); rows of `C` are split
//! into blocks run in parallel by rayon, each packing its rows of `A` into
//! bf16 pairs one [`KC`]-block of `k` at a time; a register tile of [`MR`]
//! rows × up to 4 zmm (64 columns) accumulates in 24 registers. Ragged edges
//! are zero-padded in the packed copies (odd `k`, partial panels) and
//! written with masked stores (partial columns) or by computing a duplicated
//! row whose result is dropped (partial rows). Every element of `C` is summed
//! in one fixed order whatever the thread count, so training stays
//! bit-for-bit repeatable.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::kernels::Product;

/// The precision of the training step's matrix products.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// bf16 where it is faster: on AMX tiles, or with AVX512-BF16 where a quick probe
    /// measures its products well ahead of f32's; else f32.
    Auto,
    /// Everything in f32 (bit-for-bit the engine's reference behaviour).
    #[default]
    F32,
    /// Products with bfloat16 inputs and f32 sums; an error where the CPU lacks AVX512-BF16.
    Bf16,
}

/// `--precision bf16` on a CPU that cannot run it.
#[derive(Debug, thiserror::Error)]
#[error(
    "--precision bf16 needs a CPU with AVX512-BF16 (lscpu flag avx512_bf16); this one ({cpu}) has none: use --precision f32 or auto"
)]
pub struct PrecisionError {
    pub cpu: String,
}

impl Precision {
    /// The concrete choice: `Auto` becomes `Bf16` where [`bf16_pays`], else `F32`.
    pub fn resolve(self) -> Result<Precision, PrecisionError> {
        match self {
            Precision::Auto if bf16_pays() => Ok(Precision::Bf16),
            Precision::Auto | Precision::F32 => Ok(Precision::F32),
            Precision::Bf16 if available() => Ok(Precision::Bf16),
            Precision::Bf16 => Err(PrecisionError { cpu: crate::bench::cpu_name() }),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Precision::Auto => "auto",
            Precision::F32 => "f32",
            Precision::Bf16 => "bf16",
        }
    }
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether this CPU runs the bf16 kernel (checked at run time, cached by std).
/// AMX-only CPUs all have AVX512-BF16 too, so one check covers both.
pub fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        is_x86_feature_detected!("avx512f")
            && is_x86_feature_detected!("avx512bw")
            && is_x86_feature_detected!("avx512bf16")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Whether `auto` multiplies in bf16 here. On AMX, always. With AVX512-BF16
/// alone it depends on the CPU: on an AMD EPYC (Zen 4) its products ran 2-3.6x
/// f32's, on an Intel Xeon without AMX (2026-12-04) half as fast as f32's
/// (150 against 313 GFLOP/s, `fledge bench matmul --dtype`), which made the
/// training step 1.38x slower. So a probe times one product of a training
/// step's shape both ways (best of five, a few milliseconds, once per process)
/// and bf16 wins only when it is at least 1.2x faster: near a tie the f32
/// reference path stays, so the choice does not flip from run to run.
pub fn bf16_pays() -> bool {
    static PAYS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *PAYS.get_or_init(|| {
        if !available() {
            return false;
        }
        if super::amx::available() {
            return true;
        }
        let (f32_s, bf16_s) = probe_products();
        let pays = f32_s >= 1.2 * bf16_s;
        tracing::info!(
            f32_ms = f32_s * 1e3,
            bf16_ms = bf16_s * 1e3,
            "precision auto: bf16 products {} (AVX512-BF16 without AMX, probed)",
            if pays { "chosen" } else { "slower than 1.2x f32 here, f32 chosen" }
        );
        pays
    })
}

/// Best-of-five seconds of one MLP-shaped product (512 rows × 256 → 768) in
/// f32 and in bf16 on this CPU.
fn probe_products() -> (f64, f64) {
    let (m, k, n) = (512, 256, 768);
    let a: Vec<f32> = (0..m * k).map(|i| ((i * 7919) % 1000) as f32 * 1e-3 - 0.5).collect();
    let b: Vec<f32> = (0..k * n).map(|i| ((i * 104_729) % 1000) as f32 * 1e-3 - 0.5).collect();
    let mut c = vec![0.0; m * n];
    let p = Product::new(m, k, n).b_transposed();
    let best = |f: &mut dyn FnMut()| {
        (0..5)
            .map(|_| {
                let t = std::time::Instant::now();
                f();
                t.elapsed().as_secs_f64()
            })
            .fold(f64::INFINITY, f64::min)
    };
    let f32_s = best(&mut || super::kernels::matmul(&mut c, &a, &b, p));
    let bf16_s = best(&mut || matmul_bf16(&mut c, &a, &b, p));
    (f32_s, bf16_s)
}

/// Rows of the register tile.
pub const MR: usize = 6;
/// Columns of a packed panel of `B` (4 zmm of 16 f32).
pub const NR: usize = 64;
/// Pairs of `k` per block (512 values of `k`): a 64-column panel slice is 64 KB.
pub const KC: usize = 256;

/// `x` rounded to the nearest bfloat16 (ties to even), as bits. Denormal
/// inputs become signed zero and NaN stays a quiet NaN, as `vcvtne2ps2bf16`
/// does (the tests check the two agree).
pub fn to_bf16_bits(x: f32) -> u16 {
    let bits = x.to_bits();
    if x.is_nan() {
        return ((bits >> 16) | 0x40) as u16;
    }
    if bits & 0x7f80_0000 == 0 {
        return ((bits >> 16) & 0x8000) as u16;
    }
    let round = 0x7fff + ((bits >> 16) & 1);
    (bits.wrapping_add(round) >> 16) as u16
}

/// `x` rounded to bfloat16 and widened back to f32.
pub fn round_bf16(x: f32) -> f32 {
    f32::from_bits((to_bf16_bits(x) as u32) << 16)
}

/// The scalar reference of [`matmul_bf16`]: inputs rounded to bf16, products
/// summed in f64 (so tests can bound the kernel's f32 summation error). Also
/// the fallback where the CPU lacks AVX512-BF16.
pub fn matmul_reference(c: &mut [f32], a: &[f32], b: &[f32], p: Product) {
    let Product { m, k, n, trans_a, trans_b, accumulate } = p;
    let at = |i: usize, kk: usize| round_bf16(if trans_a { a[kk * m + i] } else { a[i * k + kk] }) as f64;
    let bt = |kk: usize, j: usize| round_bf16(if trans_b { b[j * k + kk] } else { b[kk * n + j] }) as f64;
    for i in 0..m {
        for j in 0..n {
            let s: f64 = (0..k).map(|kk| at(i, kk) * bt(kk, j)).sum();
            let c = &mut c[i * n + j];
            *c = if accumulate { (*c as f64 + s) as f32 } else { s as f32 };
        }
    }
}

/// The kernels that multiply in bf16, fastest first where each runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bf16Kernel {
    /// AMX tiles ([`super::amx`]): Xeons since Sapphire Rapids.
    Amx,
    /// `vdpbf16ps` on AVX-512 registers (this module).
    Avx512,
    /// The scalar [`matmul_reference`], where neither runs.
    Reference,
}

impl Bf16Kernel {
    pub const ALL: [Bf16Kernel; 3] = [Bf16Kernel::Amx, Bf16Kernel::Avx512, Bf16Kernel::Reference];

    /// Whether this CPU (and OS) runs the kernel.
    pub fn runs_here(self) -> bool {
        match self {
            Bf16Kernel::Amx => super::amx::available(),
            Bf16Kernel::Avx512 => available(),
            Bf16Kernel::Reference => true,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Bf16Kernel::Amx => "amx",
            Bf16Kernel::Avx512 => "avx512-bf16",
            Bf16Kernel::Reference => "scalar",
        }
    }
}

/// 0: not chosen yet; else 1 + the index in [`Bf16Kernel::ALL`].
static BF16_KERNEL: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

/// The kernel [`matmul_bf16`] uses: as set by [`set_bf16_kernel`], else the
/// fastest that runs here; `FLEDGE_BF16_KERNEL=avx512` (or `scalar`) picks a
/// slower one, to compare them on one machine.
pub fn bf16_kernel() -> Bf16Kernel {
    use std::sync::atomic::Ordering::Relaxed;
    match BF16_KERNEL.load(Relaxed) {
        0 => {
            let fastest = Bf16Kernel::ALL.into_iter().find(|k| k.runs_here()).unwrap_or(Bf16Kernel::Reference);
            let chosen = match std::env::var("FLEDGE_BF16_KERNEL").as_deref() {
                Ok("avx512") | Ok("avx512-bf16") if available() => Bf16Kernel::Avx512,
                Ok("scalar") => Bf16Kernel::Reference,
                _ => fastest,
            };
            set_bf16_kernel(chosen);
            chosen
        }
        code => Bf16Kernel::ALL[code as usize - 1],
    }
}

/// Switches the kernel of every later bf16 product; one that does not run
/// here falls back to the next that does.
pub fn set_bf16_kernel(kernel: Bf16Kernel) {
    let kernel = Bf16Kernel::ALL
        .into_iter()
        .skip_while(|k| *k != kernel)
        .find(|k| k.runs_here())
        .unwrap_or(Bf16Kernel::Reference);
    let code = 1 + Bf16Kernel::ALL.iter().position(|k| *k == kernel).unwrap_or(2) as u8;
    BF16_KERNEL.store(code, std::sync::atomic::Ordering::Relaxed);
}

/// `c = a · b (+ c if accumulate)` with bfloat16 inputs and f32 sums; same
/// arguments (a [`Product`]) as [`super::kernels::matmul`], on the kernel of
/// [`bf16_kernel`].
pub fn matmul_bf16(c: &mut [f32], a: &[f32], b: &[f32], p: Product) {
    matmul_bf16_on(bf16_kernel(), c, a, b, p);
}

/// [`matmul_bf16`] on a given kernel, or the next one that runs here.
pub fn matmul_bf16_on(kernel: Bf16Kernel, c: &mut [f32], a: &[f32], b: &[f32], p: Product) {
    let Some((c, a, b)) = super::kernels::product_operands(c, a, b, p) else { return };
    if kernel == Bf16Kernel::Amx && super::amx::available() {
        return super::amx::matmul(c, a, b, p);
    }
    #[cfg(target_arch = "x86_64")]
    if kernel != Bf16Kernel::Reference && available() {
        return x86::matmul(c, a, b, p);
    }
    matmul_reference(c, a, b, p);
}

/// Width of panel `jp` of `B`: [`NR`], or the last columns rounded up to 16.
fn panel_width(n: usize, jp: usize) -> usize {
    NR.min((n - jp * NR).next_multiple_of(16))
}

/// Rows of `C` per parallel task: at least 4 tasks per thread where the
/// matrix allows, a multiple of [`MR`], at most 96.
fn rows_per_task(m: usize) -> usize {
    let threads = rayon::current_num_threads().max(1);
    m.div_ceil(4 * threads).next_multiple_of(MR).clamp(MR, 96)
}

#[cfg(target_arch = "x86_64")]
pub(super) mod x86 {
    use super::*;
    use std::arch::x86_64::*;

    /// Pairs `(src[2t], src[2t + 1])` of `len` consecutive values as bf16,
    /// `len.div_ceil(2)` u32 written, the odd tail padded with zero.
    ///
    /// # Safety
    /// The CPU has AVX-512F/BW and AVX512-BF16 (the caller checked
    /// [`available`]); `src` is valid for `len` reads and `dst` for
    /// `len.div_ceil(2)` writes. Masked-off lanes of the masked loads and
    /// stores are not accessed (no fault, no read), so the tail stays in bounds.
    #[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
    pub(in crate::model) unsafe fn cvt_row(dst: *mut u32, src: *const f32, len: usize) {
        let mut i = 0;
        while i < len {
            let rem = len - i;
            let lo_n = rem.min(16);
            let hi_n = rem.saturating_sub(16).min(16);
            let lo = _mm512_maskz_loadu_ps(mask(lo_n), src.add(i));
            let hi = _mm512_maskz_loadu_ps(mask(hi_n), src.add(i + 16));
            // Lanes 0..16 of the result are `lo`, 16..32 are `hi`: in memory,
            // consecutive bf16 values, so u32 lane t is the pair (2t, 2t+1).
            let v: __m512i = std::mem::transmute(_mm512_cvtne2ps_pbh(hi, lo));
            let pairs = rem.min(32).div_ceil(2);
            _mm512_mask_storeu_epi32(dst.add(i / 2) as *mut i32, mask(pairs), v);
            i += 32;
        }
    }

    /// `dst[t] = (r0[t], r1[t])` as a bf16 pair for `t < len`; `r1 = None`
    /// pairs with zero (odd `k`). [`cvt_pair_rows_chunked`] with contiguous chunks.
    ///
    /// # Safety
    /// As [`cvt_row`]: features checked; `r0` (and `r1`) valid for `len`
    /// reads, `dst` for `len` writes; masked-off lanes are not accessed.
    #[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
    pub(in crate::model) unsafe fn cvt_pair_rows(dst: *mut u32, r0: *const f32, r1: Option<*const f32>, len: usize) {
        cvt_pair_rows_chunked(dst, 16, r0, r1, len)
    }

    /// The pairs `(r0[t], r1[t])` for `t < len`, in chunks of 16: pair `t`
    /// goes to `dst[(t / 16) * chunk_stride + t % 16]` (the AMX kernel's
    /// panels of 16 columns take a whole row pair in one call).
    ///
    /// # Safety
    /// As [`cvt_pair_rows`], with `dst` valid for the writes just described.
    #[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
    pub(in crate::model) unsafe fn cvt_pair_rows_chunked(
        dst: *mut u32,
        chunk_stride: usize,
        r0: *const f32,
        r1: Option<*const f32>,
        len: usize,
    ) {
        // u16 lane 2t takes lane t of the first row, 2t+1 lane t of the second.
        let idx = _mm512_set_epi16(
            31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17,
            1, 16, 0,
        );
        let mut t = 0;
        while t < len {
            let mk = mask((len - t).min(16));
            let x0 = _mm512_maskz_loadu_ps(mk, r0.add(t));
            let x1 = match r1 {
                Some(r1) => _mm512_maskz_loadu_ps(mk, r1.add(t)),
                None => _mm512_setzero_ps(),
            };
            let v: __m512i = std::mem::transmute(_mm512_cvtne2ps_pbh(x1, x0));
            let out = dst.add(t / 16 * chunk_stride) as *mut i32;
            _mm512_mask_storeu_epi32(out, mk, _mm512_permutexvar_epi16(idx, v));
            t += 16;
        }
    }

    /// [`cvt_row`] for the tests' check of [`to_bf16_bits`] against the hardware.
    ///
    /// # Safety
    /// As [`cvt_row`].
    #[cfg(test)]
    pub(super) unsafe fn cvt_row_for_tests(dst: *mut u32, src: *const f32, len: usize) {
        cvt_row(dst, src, len)
    }

    fn mask(n: usize) -> __mmask16 {
        if n >= 16 {
            0xffff
        } else {
            ((1u32 << n) - 1) as __mmask16
        }
    }

    /// The register tile: `C[0..mr, 0..ncols] (+)= A_tile · B_panel` over `kc`
    /// pairs of `k`. Row `r` of `A` is read at `a + r * a_rs + p * a_ps`
    /// (one u32 pair per step `p`); the panel row `p` is `NV * 16` u32 at
    /// `b + p * NV * 16`. Rows `mr..MR` recompute row `mr - 1` and are dropped.
    ///
    /// # Safety
    /// Features checked by the caller; `a` valid for the reads described for
    /// rows `0..mr` and steps `0..kc`, `b` for `kc * NV * 16` reads, `c` for
    /// rows `0..mr` of `ncols <= NV * 16` values at stride `ldc`.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx512f,avx512bw,avx512bf16")]
    unsafe fn tile<const NV: usize>(
        kc: usize,
        a: *const u32,
        a_rs: usize,
        a_ps: usize,
        mr: usize,
        b: *const u32,
        c: *mut f32,
        ldc: usize,
        ncols: usize,
        load: bool,
    ) {
        let mut acc = [[_mm512_setzero_ps(); NV]; MR];
        let mut ap = [a; MR];
        for (r, p) in ap.iter_mut().enumerate() {
            *p = a.add(r.min(mr - 1) * a_rs);
        }
        let mut bp = b;
        for _ in 0..kc {
            let mut bv = [std::mem::transmute::<__m512i, __m512bh>(_mm512_setzero_si512()); NV];
            for (v, x) in bv.iter_mut().enumerate() {
                *x = std::mem::transmute::<__m512i, __m512bh>(_mm512_loadu_epi32(bp.add(v * 16) as *const i32));
            }
            for r in 0..MR {
                let av = std::mem::transmute::<__m512i, __m512bh>(_mm512_set1_epi32(*ap[r] as i32));
                for v in 0..NV {
                    acc[r][v] = _mm512_dpbf16_ps(acc[r][v], av, bv[v]);
                }
                ap[r] = ap[r].add(a_ps);
            }
            bp = bp.add(NV * 16);
        }
        for (r, row) in acc.iter().enumerate().take(mr) {
            for (v, &x) in row.iter().enumerate() {
                let col = v * 16;
                if col >= ncols {
                    break;
                }
                let mk = mask(ncols - col);
                let cp = c.add(r * ldc + col);
                let x = if load { _mm512_add_ps(_mm512_maskz_loadu_ps(mk, cp), x) } else { x };
                _mm512_mask_storeu_ps(cp, mk, x);
            }
        }
    }

    pub(super) fn matmul(c: &mut [f32], a: &[f32], b: &[f32], p: Product) {
        let Product { m, k, n, trans_a, trans_b, accumulate } = p;
        let kp = k.div_ceil(2);
        let panels = n.div_ceil(NR);
        // Pack B: panel jp holds columns jp*NR.. as [kp][width] pairs.
        let mut packed_b = vec![0u32; panels * NR * kp];
        packed_b.par_chunks_mut(NR * kp).enumerate().for_each(|(jp, panel)| {
            let (j0, w) = (jp * NR, panel_width(n, jp));
            let cols = (n - j0).min(NR);
            if trans_b {
                // B[kk][j] = b[j * k + kk]: each column is a contiguous row of b.
                let mut tmp = vec![0u32; kp];
                for j in 0..cols {
                    // SAFETY: `available()` was checked by `matmul_bf16`
                    // before this function was called; row j0 + j of `b`
                    // holds k values (b.len() == k * n) and tmp holds kp.
                    unsafe { cvt_row(tmp.as_mut_ptr(), b.as_ptr().add((j0 + j) * k), k) };
                    for (p, &pair) in tmp.iter().enumerate() {
                        panel[p * w + j] = pair;
                    }
                }
            } else {
                for p in 0..kp {
                    let r0 = b[2 * p * n + j0..].as_ptr();
                    let r1 = (2 * p + 1 < k).then(|| b[(2 * p + 1) * n + j0..].as_ptr());
                    // SAFETY: features checked by `matmul_bf16`; rows 2p and
                    // 2p+1 (< k) of `b` have `cols` values from column j0
                    // (j0 + cols <= n), and the panel row p has w >= cols slots.
                    unsafe { cvt_pair_rows(panel[p * w..(p + 1) * w].as_mut_ptr(), r0, r1, cols) };
                }
            }
        });

        let mc = rows_per_task(m);
        c.par_chunks_mut(mc * n).enumerate().for_each(|(ib, cblk)| {
            let i0 = ib * mc;
            let rows = cblk.len() / n;
            let mut abuf = vec![0u32; rows * KC.min(kp)];
            let mut pc = 0;
            while pc < kp {
                let kc = KC.min(kp - pc);
                // Pack this block's rows of A for pairs pc..pc+kc.
                let (a_rs, a_ps) = if trans_a {
                    // A[i][kk] = a[kk * m + i]: pair two rows of a, layout [p][row].
                    for p in 0..kc {
                        let kk = 2 * (pc + p);
                        let r0 = a[kk * m + i0..].as_ptr();
                        let r1 = (kk + 1 < k).then(|| a[(kk + 1) * m + i0..].as_ptr());
                        // SAFETY: features checked by `matmul_bf16`; rows kk,
                        // kk+1 (< k) of `a` have `rows` values from column i0
                        // (i0 + rows <= m); abuf row p has `rows` slots.
                        unsafe { cvt_pair_rows(abuf[p * rows..(p + 1) * rows].as_mut_ptr(), r0, r1, rows) };
                    }
                    (1, rows)
                } else {
                    // Row-major A: each row's values pc*2.. are consecutive, layout [row][p].
                    let len = (k - 2 * pc).min(2 * kc);
                    for r in 0..rows {
                        // SAFETY: features checked by `matmul_bf16`; row i0 + r
                        // of `a` has k - 2pc >= len values from 2pc, and abuf
                        // row r has kc >= len.div_ceil(2) slots.
                        unsafe {
                            cvt_row(abuf[r * kc..(r + 1) * kc].as_mut_ptr(), a[(i0 + r) * k + 2 * pc..].as_ptr(), len)
                        };
                    }
                    (kc, 1)
                };
                for jp in 0..panels {
                    let (j0, w) = (jp * NR, panel_width(n, jp));
                    let ncols = (n - j0).min(NR);
                    let panel = &packed_b[jp * NR * kp + pc * w..][..kc * w];
                    let mut ir = 0;
                    while ir < rows {
                        let mr = MR.min(rows - ir);
                        let a0 = abuf[ir * a_rs..].as_ptr();
                        let c0 = cblk[ir * n + j0..].as_mut_ptr();
                        let load = accumulate || pc > 0;
                        // SAFETY: features checked by `matmul_bf16`. A: rows
                        // ir..ir+mr of the packed block, each read at
                        // r*a_rs + p*a_ps for p < kc, inside abuf's rows*kc
                        // values in either layout. B: `panel` has kc*w values
                        // and w = NV*16. C: rows ir..ir+mr < rows of `cblk`,
                        // columns j0..j0+ncols <= n.
                        unsafe {
                            match w / 16 {
                                4 => tile::<4>(kc, a0, a_rs, a_ps, mr, panel.as_ptr(), c0, n, ncols, load),
                                3 => tile::<3>(kc, a0, a_rs, a_ps, mr, panel.as_ptr(), c0, n, ncols, load),
                                2 => tile::<2>(kc, a0, a_rs, a_ps, mr, panel.as_ptr(), c0, n, ncols, load),
                                _ => tile::<1>(kc, a0, a_rs, a_ps, mr, panel.as_ptr(), c0, n, ncols, load),
                            }
                        }
                        ir += MR;
                    }
                }
                pc += kc;
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// Skips (saying so) where the CPU lacks AVX512-BF16: there `matmul_bf16`
    /// is the scalar reference and the kernel is not reachable.
    fn skip() -> bool {
        if !available() {
            eprintln!("skipped: this CPU ({}) lacks AVX512-BF16; the bf16 kernel is not run", crate::bench::cpu_name());
        }
        !available()
    }

    fn random(len: usize, seed: u64) -> Vec<f32> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        (0..len).map(|_| rng.gen_range(-1.0f32..1.0)).collect()
    }

    /// `C = A B` in f64 from the given values (no rounding), and `Σ|a||b|` per element.
    fn exact(a: &[f32], b: &[f32], m: usize, k: usize, n: usize, ta: bool, tb: bool) -> (Vec<f64>, Vec<f64>) {
        let at = |i: usize, kk: usize| (if ta { a[kk * m + i] } else { a[i * k + kk] }) as f64;
        let bt = |kk: usize, j: usize| (if tb { b[j * k + kk] } else { b[kk * n + j] }) as f64;
        let mut c = vec![0.0; m * n];
        let mut s = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                for kk in 0..k {
                    c[i * n + j] += at(i, kk) * bt(kk, j);
                    s[i * n + j] += (at(i, kk) * bt(kk, j)).abs();
                }
            }
        }
        (c, s)
    }

    /// The hardware kernels that run on this CPU (the tests say which are skipped).
    fn hardware_kernels() -> Vec<Bf16Kernel> {
        let kernels: Vec<Bf16Kernel> =
            [Bf16Kernel::Amx, Bf16Kernel::Avx512].into_iter().filter(|k| k.runs_here()).collect();
        if !Bf16Kernel::Amx.runs_here() {
            eprintln!("skipped the AMX kernel: this CPU ({}) lacks AMX-BF16", crate::bench::cpu_name());
        }
        kernels
    }

    const SHAPES: [(usize, usize, usize); 9] = [
        (1, 1, 1),
        (2, 3, 17),
        (7, 13, 5),
        (6, 64, 64),
        (13, 33, 70),
        (37, 517, 130),
        (25, 1100, 48),
        (200, 96, 33),
        (97, 1025, 257),
    ];

    #[test]
    fn scalar_rounding_matches_the_hardware() {
        if skip() {
            return;
        }
        let mut vals = vec![
            0.0f32,
            -0.0,
            1.0,
            -1.0,
            f32::MAX,
            f32::MIN_POSITIVE,
            1e-40,
            -1e-40,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::from_bits(0x3f80_8000), // a tie, to even (down)
            f32::from_bits(0x3f81_8000), // a tie, to even (up)
            f32::from_bits(0x3f80_8001),
            f32::from_bits(0x7f7f_ffff),
        ];
        vals.extend(random(4096, 9).iter().map(|x| x * 1e3));
        let n = vals.len();
        let mut hw = vec![0u32; n.div_ceil(2)];
        // SAFETY: `available()` is true (checked by `skip`); `vals` has n
        // values and `hw` holds n.div_ceil(2) pairs.
        unsafe { x86::cvt_row_for_tests(hw.as_mut_ptr(), vals.as_ptr(), n) };
        for (i, &v) in vals.iter().enumerate() {
            let got = (hw[i / 2] >> (16 * (i % 2))) as u16;
            assert_eq!(got, to_bf16_bits(v), "value {v:e} ({:#x})", v.to_bits());
        }
        let nan = f32::from_bits(0x7f80_0001);
        let mut h = [0u32; 1];
        // SAFETY: as above, one value and one pair.
        unsafe { x86::cvt_row_for_tests(h.as_mut_ptr(), &nan, 1) };
        assert!(f32::from_bits((h[0] & 0xffff) << 16).is_nan());
        assert!(round_bf16(nan).is_nan());
    }

    #[test]
    fn products_are_within_bf16_rounding_of_f32() {
        if skip() {
            return;
        }
        for kernel in hardware_kernels() {
            for (s, &(m, k, n)) in SHAPES.iter().enumerate() {
                for ta in [false, true] {
                    for tb in [false, true] {
                        for acc in [false, true] {
                            let a = random(m * k, 10 * s as u64);
                            let b = random(k * n, 10 * s as u64 + 1);
                            let c0 = random(m * n, 10 * s as u64 + 2);
                            let p = Product { m, k, n, trans_a: ta, trans_b: tb, accumulate: acc };
                            let mut c = c0.clone();
                            matmul_bf16_on(kernel, &mut c, &a, &b, p);
                            // Against the reference of the same rounded inputs: only the f32 sums differ.
                            let mut r = c0.clone();
                            matmul_reference(&mut r, &a, &b, p);
                            let (want, abs) = exact(&a, &b, m, k, n, ta, tb);
                            let mut err2 = 0.0f64;
                            let mut norm2 = 0.0f64;
                            for i in 0..m * n {
                                let base = if acc { c0[i] as f64 } else { 0.0 };
                                let tol = 1e-6 * (abs[i] + base.abs()) + 1e-30;
                                assert!(
                                    ((c[i] - r[i]) as f64).abs() <= tol,
                                    "{} {m}x{k}x{n} ta={ta} tb={tb} acc={acc} [{i}]: {} vs reference {}",
                                    kernel.as_str(),
                                    c[i],
                                    r[i]
                                );
                                err2 += (c[i] as f64 - base - want[i]).powi(2);
                                norm2 += want[i].powi(2);
                            }
                            // And within bf16 rounding (8 bits) of the exact product.
                            let rel = (err2 / norm2.max(1e-30)).sqrt();
                            assert!(
                                rel < 1e-2,
                                "{} {m}x{k}x{n} ta={ta} tb={tb} acc={acc}: relative error {rel}",
                                kernel.as_str()
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn products_of_bf16_values_equal_f32() {
        if skip() {
            return;
        }
        for kernel in hardware_kernels() {
            for (s, &(m, k, n)) in SHAPES.iter().enumerate() {
                for ta in [false, true] {
                    for tb in [false, true] {
                        for acc in [false, true] {
                            let a: Vec<f32> = random(m * k, 7 * s as u64).into_iter().map(round_bf16).collect();
                            let b: Vec<f32> = random(k * n, 7 * s as u64 + 1).into_iter().map(round_bf16).collect();
                            let c0 = random(m * n, 7 * s as u64 + 2);
                            let p = Product { m, k, n, trans_a: ta, trans_b: tb, accumulate: acc };
                            let mut c = c0.clone();
                            matmul_bf16_on(kernel, &mut c, &a, &b, p);
                            let mut f = c0.clone();
                            crate::model::kernels::matmul(&mut f, &a, &b, p);
                            let (_, abs) = exact(&a, &b, m, k, n, ta, tb);
                            for i in 0..m * n {
                                // Both are f32 sums of the same exact products, in different orders.
                                let tol = 1e-6 * (abs[i] + c0[i].abs() as f64) + 1e-30;
                                assert!(
                                    ((c[i] - f[i]) as f64).abs() <= tol,
                                    "{} {m}x{k}x{n} ta={ta} tb={tb} acc={acc} [{i}]: bf16 {} vs f32 {}",
                                    kernel.as_str(),
                                    c[i],
                                    f[i]
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn products_are_repeatable_and_precision_resolves() {
        assert_eq!(Precision::F32.resolve().unwrap(), Precision::F32);
        assert_eq!(Precision::Auto.resolve().unwrap(), if bf16_pays() { Precision::Bf16 } else { Precision::F32 });
        assert!(!bf16_pays() || available(), "auto never picks a kernel the CPU lacks");
        assert_eq!(Precision::Bf16.resolve().is_ok(), available());
        let (m, k, n) = (130, 700, 90);
        let (a, b) = (random(m * k, 1), random(k * n, 2));
        let mut c1 = vec![0.0; m * n];
        let mut c2 = vec![1.0; m * n];
        matmul_bf16(&mut c1, &a, &b, Product::new(m, k, n).b_transposed());
        matmul_bf16(&mut c2, &a, &b, Product::new(m, k, n).b_transposed());
        assert_eq!(c1, c2);
    }

    /// One training step's gradients with bf16 products against f32's:
    /// cosine similarity at least 0.999 for every tensor.
    #[test]
    fn bf16_gradients_are_close_to_f32() {
        if skip() {
            return;
        }
        let mut c = crate::model::ModelConfig::preset("tiny", 512).unwrap();
        c.d_model = 128;
        c.n_heads = 4;
        c.n_kv_heads = 2;
        c.n_layers = 2;
        c.ffn_hidden = 352;
        let (batch, time) = (4, 64);
        let layout = crate::model::ParamLayout::new(&c);
        let params = crate::model::params::init_params(&c, &layout, 3);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
        let data: Vec<u32> = (0..batch * time + 1).map(|_| rng.gen_range(0..c.vocab_size as u32)).collect();
        let grads = |p: Precision| {
            let mut e = crate::model::Engine::new(&c, batch, time);
            assert_eq!(e.set_precision(p).unwrap(), p);
            e.forward(&params, &data[..batch * time]);
            let loss = e.loss_and_grad_logits(&data[1..], 1.0);
            let mut g = vec![0.0f32; layout.total];
            e.backward(&params, &mut g);
            (loss, g)
        };
        let (loss32, g32) = grads(Precision::F32);
        let (loss16, g16) = grads(Precision::Bf16);
        assert!((loss32 - loss16).abs() < 1e-2 * loss32.abs(), "loss f32 {loss32}, bf16 {loss16}");
        for t in &layout.tensors {
            let (a, b) = (&g32[t.range()], &g16[t.range()]);
            let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
            let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
            let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
            let cos = dot / (na * nb).max(1e-300);
            assert!(cos >= 0.999, "{}: cosine {cos} between the bf16 and f32 gradients", t.name);
        }
    }

    /// The library's default is f32 (exact, as the tests expect); the
    /// speedrun's and the config files' name their precision.
    #[test]
    fn settings_carry_the_precision() {
        use crate::train::run::TrainSettings;
        assert_eq!(TrainSettings::default().precision, Precision::F32);
        assert_eq!(crate::chat::sft::SftSettings::default().precision, Precision::F32);
        let t: TrainSettings = toml::from_str("precision = \"bf16\"").unwrap();
        assert_eq!(t.precision, Precision::Bf16);
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/speedrun.toml");
        let c = crate::speedrun::SpeedrunConfig::load(&path).unwrap();
        assert_eq!(c.precision, Precision::Auto);
        assert_eq!(c.pretrain_settings(false).precision, Precision::Auto);
    }
}
