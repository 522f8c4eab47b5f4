//! bfloat16 matrix products on AMX tiles (Intel Xeon since Sapphire Rapids).
//!
//! Why this exists: on those Xeons `vdpbf16ps` (the [`super::bf16`] kernel)
//! is no faster than f32 FMA (measured 2026-12-02 on a 2-core Xeon:
//! `bench matmul --dtype bf16` 94 GFLOP/s against f32's 155), while one AMX
//! `tdpbf16ps` multiplies a 16 × 32 bf16 tile by a 32 × 16 one into 16 × 16
//! f32 sums, 16 times the work of a 512-bit FMA per instruction.
//!
//! Why hand-written, in `asm!`: Rust 1.95's AMX intrinsics and its
//! `is_x86_feature_detected!("amx-bf16")` are unstable (`x86_amx_intrinsics`);
//! the instructions themselves assemble from stable `asm!`, and CPUID says
//! whether the CPU has them. No maintained crate on crates.io does AMX bf16
//! products and builds offline (oneDNN's bindings need a C++ build or a
//! downloaded library). Linux hands a process the 8 KB of tile state only
//! after `arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)`; [`available`]
//! asks once, and says no if the kernel refuses.
//!
//! Semantics are [`super::bf16::matmul_bf16`]'s (PyTorch autocast's): inputs
//! rounded to bf16 to nearest even, products summed in f32, result f32.
//!
//! Layout. Every tile here is 16 rows of 64 bytes. An `A` tile is 16 rows of
//! `C` by 32 values of `k` (16 bf16 pairs, a `u32` each), read from the
//! packed rows of `A` (`[row][k / 2]` pairs, `k` padded with zeros to a
//! multiple of 32). A `B` tile is 16 pairs of `k` by 16 columns in the
//! pair-interleaved layout `tdpbf16ps` reads: packed `B` is panels of 16
//! columns, each `[k / 2][16]` pairs. The micro-kernel keeps a 32 × 32 block
//! of `C` in four tiles (tmm0-3), loads two `A` tiles (tmm4-5) and two `B`
//! tiles (tmm6-7) per 32 values of `k`, and runs the four products: every
//! tile load feeds two products. Operands stored the other way round
//! (`trans_a`, `trans_b`) are transposed while packing, 16 × 16 pairs at a
//! time in AVX-512 registers. Ragged edges are zero-padded in the packed
//! copies; the block of `C` goes through a 32 × 32 scratch tile, of which
//! only the real rows and columns are written back.
//!
//! Every element of `C` is the same sequence of tile products over `k`
//! whatever the split into parallel tasks, so a run is bit-for-bit
//! repeatable at any thread count (the sums differ from the AVX512-BF16
//! kernel's, which adds in another order).

use rayon::prelude::*;

use super::kernels::Product;

/// Whether this CPU and kernel run the AMX kernel: CPUID's AMX-TILE and
/// AMX-BF16 bits, the AVX-512 features the packing uses, and Linux's
/// permission to use the tile state (asked once per process).
pub fn available() -> bool {
    static AVAILABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *AVAILABLE.get_or_init(detect)
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
fn detect() -> bool {
    // CPUID leaf 7, sub-leaf 0: EDX bit 22 is AMX-BF16, bit 24 AMX-TILE.
    let leaf7 = std::arch::x86_64::__cpuid_count(7, 0);
    let has_amx = leaf7.edx & (1 << 22) != 0 && leaf7.edx & (1 << 24) != 0;
    if !has_amx || !super::bf16::available() {
        return false;
    }
    const ARCH_REQ_XCOMP_PERM: libc::c_long = 0x1023;
    const XFEATURE_XTILEDATA: libc::c_long = 18;
    // SAFETY: arch_prctl(ARCH_REQ_XCOMP_PERM, feature) takes two integers,
    // touches no memory of ours, and only asks the kernel to allow the
    // feature's state for this process; a refusal is a -1 return.
    let granted = unsafe { libc::syscall(libc::SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) } == 0;
    if !granted {
        tracing::warn!("this CPU has AMX but Linux refused the tile state (arch_prctl); bf16 products use AVX512-BF16");
    }
    granted
}

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
fn detect() -> bool {
    false
}

/// Rows of `C` per micro-kernel call (two `A` tiles) and columns (two `B` tiles).
const BLOCK: usize = 32;

/// `c = a · b (+ c)` on AMX, the operands already cut to size by
/// [`super::kernels::product_operands`] (non-empty, `k > 0`).
///
/// # Panics
/// If [`available`] is false (the caller checks).
pub(super) fn matmul(c: &mut [f32], a: &[f32], b: &[f32], p: Product) {
    assert!(available(), "the AMX kernel needs AMX-BF16 and the tile state");
    #[cfg(target_arch = "x86_64")]
    x86::matmul(c, a, b, p);
}

/// Rows of `C` per parallel task: a multiple of [`BLOCK`], at least two
/// tasks per thread where the matrix allows, at most 256.
fn rows_per_task(m: usize) -> usize {
    let threads = rayon::current_num_threads().max(1);
    m.div_ceil(2 * threads).next_multiple_of(BLOCK).clamp(BLOCK, 256)
}

#[cfg(target_arch = "x86_64")]
pub(super) mod x86 {
    use super::*;
    use crate::model::bf16::x86::{cvt_pair_rows_chunked, cvt_row};
    use std::arch::asm;
    use std::arch::x86_64::*;
    use std::cell::RefCell;
    use std::thread::LocalKey;

    /// The tile configuration: palette 1, tiles 0-7 each 16 rows × 64 bytes.
    #[repr(C, align(64))]
    struct TileConfig([u8; 64]);

    impl TileConfig {
        fn all_16x64() -> TileConfig {
            let mut bytes = [0u8; 64];
            bytes[0] = 1; // palette 1
            for t in 0..8 {
                bytes[16 + 2 * t..18 + 2 * t].copy_from_slice(&64u16.to_le_bytes()); // colsb[t]
                bytes[48 + t] = 16; // rows[t]
            }
            TileConfig(bytes)
        }
    }

    /// Proof that this thread's tiles are configured as [`TileConfig::all_16x64`]
    /// until it drops (then `tilerelease` hands the state back). Not `Send`:
    /// the configuration belongs to the thread that loaded it.
    pub(in crate::model) struct Tiles {
        _not_send: std::marker::PhantomData<*const ()>,
    }

    impl Tiles {
        pub(in crate::model) fn configure() -> Tiles {
            assert!(super::available(), "the tiles need AMX and Linux's permission");
            let config = TileConfig::all_16x64();
            // SAFETY: `available()` (asserted just above) says the CPU has
            // AMX-TILE and Linux granted the tile state, so `ldtilecfg` is
            // valid; it reads the 64 bytes of `config`, a valid palette-1
            // configuration (rows <= 16, colsb <= 64, reserved bytes zero).
            // Tile registers are not used by compiled Rust code, so loading
            // them clobbers nothing the compiler relies on.
            unsafe { asm!("ldtilecfg [{0}]", in(reg) config.0.as_ptr(), options(nostack, readonly)) };
            Tiles { _not_send: std::marker::PhantomData }
        }

        /// The 32 × 32 block of `C` at `c` (row stride `ldc` f32) `= A_block ·
        /// B_pair`, `+=` when `accumulate`, over `steps` steps of 32 values
        /// of `k`. `a` is the first of 32 packed rows of `a_stride` u32 each;
        /// `b0`, `b1` the two 16-column panels, each `[steps * 16][16]` u32.
        /// With `accumulate` the tiles start from `C` and add the products to
        /// it in order, else from zero.
        #[allow(clippy::too_many_arguments)]
        pub(in crate::model) fn kernel(
            &self,
            a: &[u32],
            a_stride: usize,
            (b0, b1): (&[u32], &[u32]),
            steps: usize,
            c: &mut [f32],
            ldc: usize,
            accumulate: bool,
        ) {
            assert!(steps > 0 && a.len() >= 31 * a_stride + steps * 16 && a_stride >= steps * 16);
            assert!(b0.len() >= steps * 256 && b1.len() >= steps * 256);
            assert!(ldc >= 32 && c.len() >= 31 * ldc + 32);
            // SAFETY: the tiles are configured as all_16x64 (`self` exists
            // on this thread). A tile loads read 16 rows of 64 bytes at
            // a + 64s + r * a_stride * 4 (+ 16 rows for tmm5): the last byte
            // read is below (31 * a_stride + 16 * steps) u32, inside `a` by
            // the assert. B loads read 16 rows of 64 bytes, contiguous, at
            // 1024 s bytes: below 256 * steps u32, inside b0 and b1. The C
            // loads and stores touch rows r < 32 at c + r * ldc, columns
            // 0..32 (tiles at +0 and +16 f32, and 16 rows further): the
            // last is c[31 * ldc + 31], inside `c` by the assert; `c` is a
            // unique borrow, so nothing else reads or writes it meanwhile.
            // `steps` > 0, so the loop runs and ends when the counter is zero.
            unsafe {
                asm!(
                    "test {acc}, {acc}",
                    "jz 3f",
                    "tileloadd tmm0, [{c0} + {cstride}*1]",
                    "lea {t}, [{c0} + 64]",
                    "tileloadd tmm1, [{t} + {cstride}*1]",
                    "mov {t}, {cstride}",
                    "shl {t}, 4",
                    "add {t}, {c0}",
                    "tileloadd tmm2, [{t} + {cstride}*1]",
                    "add {t}, 64",
                    "tileloadd tmm3, [{t} + {cstride}*1]",
                    "jmp 2f",
                    "3:",
                    "tilezero tmm0",
                    "tilezero tmm1",
                    "tilezero tmm2",
                    "tilezero tmm3",
                    "2:",
                    "tileloadd tmm4, [{a0} + {astride}*1]",
                    "tileloadd tmm6, [{b0} + {bstride}*1]",
                    "tdpbf16ps tmm0, tmm4, tmm6",
                    "tileloadd tmm7, [{b1} + {bstride}*1]",
                    "tdpbf16ps tmm1, tmm4, tmm7",
                    "tileloadd tmm5, [{a1} + {astride}*1]",
                    "tdpbf16ps tmm2, tmm5, tmm6",
                    "tdpbf16ps tmm3, tmm5, tmm7",
                    "add {a0}, 64",
                    "add {a1}, 64",
                    "add {b0}, 1024",
                    "add {b1}, 1024",
                    "dec {steps}",
                    "jnz 2b",
                    "tilestored [{c0} + {cstride}*1], tmm0",
                    "lea {t}, [{c0} + 64]",
                    "tilestored [{t} + {cstride}*1], tmm1",
                    "mov {t}, {cstride}",
                    "shl {t}, 4",
                    "add {t}, {c0}",
                    "tilestored [{t} + {cstride}*1], tmm2",
                    "add {t}, 64",
                    "tilestored [{t} + {cstride}*1], tmm3",
                    acc = in(reg) accumulate as usize,
                    a0 = inout(reg) a.as_ptr() => _,
                    a1 = inout(reg) a.as_ptr().add(16 * a_stride) => _,
                    astride = in(reg) a_stride * 4,
                    b0 = inout(reg) b0.as_ptr() => _,
                    b1 = inout(reg) b1.as_ptr() => _,
                    bstride = in(reg) 64usize,
                    steps = inout(reg) steps => _,
                    c0 = in(reg) c.as_mut_ptr(),
                    cstride = in(reg) ldc * 4,
                    t = out(reg) _,
                    options(nostack),
                );
            }
        }
    }

    impl Drop for Tiles {
        fn drop(&mut self) {
            // SAFETY: AMX is available (a `Tiles` exists); `tilerelease`
            // returns the tiles to their initial state and touches no memory.
            unsafe { asm!("tilerelease", options(nostack, nomem)) };
        }
    }

    /// Transposes a 16 × 16 block of u32: `dst[j * dst_stride + i] = src[i * 16 + j]`.
    ///
    /// # Safety
    /// AVX-512F is available; `dst` is valid for 16 rows of 16 writes at `dst_stride`.
    #[target_feature(enable = "avx512f")]
    pub(in crate::model) unsafe fn transpose_16x16(src: &[u32; 256], dst: *mut u32, dst_stride: usize) {
        let r: [__m512i; 16] = std::array::from_fn(|i| _mm512_loadu_si512(src[i * 16..].as_ptr() as *const _));
        // Within each 128-bit lane: pairs of rows interleaved, then quads.
        let mut t = [_mm512_setzero_si512(); 16];
        for i in 0..8 {
            t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
            t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
        }
        // u[4g + c], lane L: rows 4g..4g+4 of column 4L + c.
        let mut u = [_mm512_setzero_si512(); 16];
        for g in 0..4 {
            u[4 * g] = _mm512_unpacklo_epi64(t[4 * g], t[4 * g + 2]);
            u[4 * g + 1] = _mm512_unpackhi_epi64(t[4 * g], t[4 * g + 2]);
            u[4 * g + 2] = _mm512_unpacklo_epi64(t[4 * g + 1], t[4 * g + 3]);
            u[4 * g + 3] = _mm512_unpackhi_epi64(t[4 * g + 1], t[4 * g + 3]);
        }
        for c in 0..4 {
            let x0 = _mm512_shuffle_i32x4::<0x88>(u[c], u[4 + c]);
            let x1 = _mm512_shuffle_i32x4::<0xdd>(u[c], u[4 + c]);
            let y0 = _mm512_shuffle_i32x4::<0x88>(u[8 + c], u[12 + c]);
            let y1 = _mm512_shuffle_i32x4::<0xdd>(u[8 + c], u[12 + c]);
            let rows = [
                (c, _mm512_shuffle_i32x4::<0x88>(x0, y0)),
                (4 + c, _mm512_shuffle_i32x4::<0x88>(x1, y1)),
                (8 + c, _mm512_shuffle_i32x4::<0xdd>(x0, y0)),
                (12 + c, _mm512_shuffle_i32x4::<0xdd>(x1, y1)),
            ];
            for (j, v) in rows {
                _mm512_storeu_si512(dst.add(j * dst_stride) as *mut _, v);
            }
        }
    }

    /// [`transpose_16x16`] for the tests.
    #[cfg(test)]
    pub(super) fn transpose_for_tests(src: &[u32; 256], dst: &mut [u32], dst_stride: usize) {
        assert!(crate::model::bf16::available() && dst.len() >= 15 * dst_stride + 16);
        // SAFETY: AVX-512F checked just above; dst holds 16 rows of 16 at dst_stride.
        unsafe { transpose_16x16(src, dst.as_mut_ptr(), dst_stride) }
    }

    /// One 64-byte cache line of packed pairs: the packed copies are made of
    /// these so that every tile row starts on a cache line.
    #[derive(Clone, Copy)]
    #[repr(C, align(64))]
    pub(in crate::model) struct Line([u32; 16]);

    /// A 64-byte aligned buffer of `len` (a multiple of 16) u32, reused
    /// from product to product: it never shrinks, so a later, larger use
    /// neither reallocates nor refills what an earlier one grew.
    #[derive(Default)]
    pub(in crate::model) struct Packed {
        lines: Vec<Line>,
        len: usize,
    }

    impl Packed {
        /// Makes the buffer hold `len` (a multiple of 16) u32. Entries keep
        /// whatever an earlier use left there (zero when never used): the
        /// packing functions write or zero every entry the kernels read.
        pub(in crate::model) fn set_len(&mut self, len: usize) {
            debug_assert!(len % 16 == 0);
            if self.lines.len() < len / 16 {
                self.lines.resize(len / 16, Line([0; 16]));
            }
            self.len = len / 16 * 16;
        }

        pub(in crate::model) fn as_slice(&self) -> &[u32] {
            // SAFETY: `Line` is repr(C) of 16 u32 with no padding (size 64 =
            // 16 * 4, align 64), so the Vec's lines are consecutive,
            // initialized u32; `len` <= 16 * lines.len() (set_len), and the
            // slice is borrowed for as long as `self`.
            unsafe { std::slice::from_raw_parts(self.lines.as_ptr() as *const u32, self.len) }
        }

        pub(in crate::model) fn as_mut_slice(&mut self) -> &mut [u32] {
            // SAFETY: as `as_slice`, with the unique borrow of `self`.
            unsafe { std::slice::from_raw_parts_mut(self.lines.as_mut_ptr() as *mut u32, self.len) }
        }
    }

    /// Panels of packed `B` converted per parallel task (64 columns).
    const PANELS_PER_TASK: usize = 4;

    /// Packs `B` (`k × n`, element `(kk, j)` at `b[kk * n + j]`, or
    /// `b[j * k + kk]` when `trans_b`) as panels of 16 columns, each
    /// `[kp16][16]` bf16 pairs, zero-padded; the panel count is even.
    fn pack_b(packed: &mut Packed, b: &[f32], k: usize, n: usize, trans_b: bool, kp16: usize) {
        let panels = n.next_multiple_of(BLOCK) / 16;
        packed.set_len(panels * kp16 * 16);
        let kp = k.div_ceil(2);
        let group = PANELS_PER_TASK * kp16 * 16;
        // Only the padding is zeroed (the buffer holds an earlier product's
        // values): whole padding panels, the pairs past `k` in each panel, and
        // the last panel when its rows are cut short. Zeroing the whole copy
        // first wrote about 100 MB per reference step.
        packed.as_mut_slice().par_chunks_mut(group).enumerate().for_each(|(g, panels)| {
            let j0 = g * PANELS_PER_TASK * 16;
            if j0 >= n {
                panels.fill(0);
                return;
            }
            let cols = (n - j0).min(PANELS_PER_TASK * 16);
            let real = cols.div_ceil(16) * kp16 * 16;
            panels[real..].fill(0);
            if !trans_b && cols % 16 != 0 {
                panels[real - kp16 * 16..real].fill(0);
            }
            if trans_b {
                // Column j of B is row j of b: convert 16 rows' pairs, then transpose.
                let mut tmp = [0u32; 256];
                for q in 0..cols.div_ceil(16) {
                    let width = (cols - 16 * q).min(16);
                    for s in 0..k.div_ceil(32) {
                        let kk = 32 * s;
                        tmp.fill(0);
                        for jj in 0..width {
                            // SAFETY: AVX512-BF16 checked by `available()`; row
                            // j0 + 16q + jj < n of b has k values, of which
                            // min(32, k - kk) are read from kk; tmp row jj has 16 slots.
                            unsafe {
                                cvt_row(
                                    tmp[jj * 16..].as_mut_ptr(),
                                    b[(j0 + 16 * q + jj) * k + kk..].as_ptr(),
                                    (k - kk).min(32),
                                )
                            };
                        }
                        // SAFETY: AVX-512F checked; panel q of this group has
                        // kp16 rows of 16 and this writes rows 16s..16s+16 <= kp16.
                        unsafe { transpose_16x16(&tmp, panels[q * kp16 * 16 + s * 256..].as_mut_ptr(), 16) };
                    }
                }
            } else {
                for p in 0..kp {
                    let r0 = b[2 * p * n + j0..].as_ptr();
                    let r1 = (2 * p + 1 < k).then(|| b[(2 * p + 1) * n + j0..].as_ptr());
                    // SAFETY: AVX512-BF16 checked; rows 2p, 2p + 1 (< k) of b
                    // have `cols` values from column j0; 16-column chunk q of
                    // them goes to row p of panel q (< PANELS_PER_TASK), at
                    // q * kp16 * 16 + p * 16, inside this group.
                    unsafe { cvt_pair_rows_chunked(panels[p * 16..].as_mut_ptr(), kp16 * 16, r0, r1, cols) };
                }
                for panel in panels[..real].chunks_exact_mut(kp16 * 16) {
                    panel[kp * 16..].fill(0);
                }
            }
        });
    }

    /// Packs rows `i0..i0 + rows` of `A` (`m × k`, element `(i, kk)` at
    /// `a[i * k + kk]`, or `a[kk * m + i]` when `trans_a`) as
    /// `[rows rounded up to 32][kp16]` bf16 pairs, zero-padded.
    fn pack_a(
        packed: &mut Packed,
        a: &[f32],
        (m, k): (usize, usize),
        trans_a: bool,
        i0: usize,
        rows: usize,
        kp16: usize,
    ) {
        let rows_padded = rows.next_multiple_of(BLOCK);
        packed.set_len(rows_padded * kp16);
        let dst = packed.as_mut_slice();
        let kp = k.div_ceil(2);
        if trans_a {
            // Row pairs of `a` are pairs of k: convert 16 of them across all
            // the rows at once into 16 × 16 blocks ([group][pair][row]), then
            // transpose each block into place.
            let groups = rows.div_ceil(16);
            let mut tmp = vec![[0u32; 256]; groups];
            for s in 0..kp.div_ceil(16) {
                tmp.iter_mut().for_each(|t| t.fill(0));
                for pp in 0..16.min(kp - 16 * s) {
                    let kk = 2 * (16 * s + pp);
                    let r0 = a[kk * m + i0..].as_ptr();
                    let r1 = (kk + 1 < k).then(|| a[(kk + 1) * m + i0..].as_ptr());
                    // SAFETY: AVX512-BF16 checked; rows kk, kk + 1 (< k) of a
                    // have `rows` values from column i0 (i0 + rows <= m);
                    // chunk g of them goes to tmp[g][pp * 16..], g < groups.
                    unsafe { cvt_pair_rows_chunked(tmp.as_mut_ptr().cast::<u32>().add(pp * 16), 256, r0, r1, rows) };
                }
                for (g, block) in tmp.iter().enumerate() {
                    // SAFETY: AVX-512F checked; packed rows 16g..16g+16 <=
                    // rows_padded of kp16 pairs, columns 16s..16s+16 <= kp16.
                    unsafe { transpose_16x16(block, dst[16 * g * kp16 + 16 * s..].as_mut_ptr(), kp16) };
                }
            }
            // The blocks wrote whole rows 0..16 * groups (zero past k); the
            // rows up to rows_padded must read as zero.
            dst[16 * groups * kp16..].fill(0);
        } else {
            for r in 0..rows {
                let row = &mut dst[r * kp16..(r + 1) * kp16];
                // SAFETY: AVX512-BF16 checked; row i0 + r of a has k values;
                // packed row r has kp16 >= k.div_ceil(2) slots.
                unsafe { cvt_row(row.as_mut_ptr(), a[(i0 + r) * k..].as_ptr(), k) };
                row[kp..].fill(0);
            }
            dst[rows * kp16..].fill(0);
        }
    }

    pub(super) fn matmul(c: &mut [f32], a: &[f32], b: &[f32], p: Product) {
        let Product { k, n, trans_b, .. } = p;
        let kp16 = k.div_ceil(2).next_multiple_of(16);
        with_buffer(&PACKED_B, |packed_b| {
            pack_b(packed_b, b, k, n, trans_b, kp16);
            multiply_blocks(c, a, packed_b.as_slice(), p, kp16);
        });
    }

    thread_local! {
        /// Each thread's packed copies, kept from product to product: a
        /// fresh allocation of them cost 7% of the products' time in page
        /// faults and zeroing.
        static PACKED_A: RefCell<Packed> = RefCell::new(Packed::default());
        static PACKED_B: RefCell<Packed> = RefCell::new(Packed::default());
    }

    /// Runs `f` with this thread's buffer, or with a new one if the thread's
    /// is in use (a product started by a job that rayon ran on this thread
    /// while it waited inside another product).
    fn with_buffer<R>(buffer: &'static LocalKey<RefCell<Packed>>, f: impl FnOnce(&mut Packed) -> R) -> R {
        buffer.with(|cell| match cell.try_borrow_mut() {
            Ok(mut packed) => f(&mut packed),
            Err(_) => f(&mut Packed::default()),
        })
    }

    /// `C (+)= A · B` with `B` packed, in parallel tasks of rows, each
    /// packing its rows of `A`.
    fn multiply_blocks(c: &mut [f32], a: &[f32], packed_b: &[u32], p: Product, kp16: usize) {
        let Product { m, k, n, trans_a, accumulate, .. } = p;
        let steps = kp16 / 16;
        let mc = rows_per_task(m);
        c.par_chunks_mut(mc * n).enumerate().for_each(|(ib, cblk)| {
            with_buffer(&PACKED_A, |packed_a| {
                let (i0, rows) = (ib * mc, cblk.len() / n);
                pack_a(packed_a, a, (m, k), trans_a, i0, rows, kp16);
                multiply_task(cblk, packed_a.as_slice(), packed_b, (rows, n), kp16, steps, accumulate);
            })
        });
    }

    /// One task's rows of `C` from its packed rows of `A`.
    fn multiply_task(
        cblk: &mut [f32],
        packed_a: &[u32],
        packed_b: &[u32],
        (rows, n): (usize, usize),
        kp16: usize,
        steps: usize,
        accumulate: bool,
    ) {
        let tiles = Tiles::configure();
        let mut scratch = [0f32; BLOCK * BLOCK];
        // Column pairs outside, row blocks inside: the two B panels stay
        // in cache while this task's rows of A stream past them.
        for q in (0..n.div_ceil(16)).step_by(2) {
            let b_pair = (&packed_b[q * kp16 * 16..], &packed_b[(q + 1) * kp16 * 16..]);
            let (j0, cols) = (16 * q, (n - 16 * q).min(BLOCK));
            for rb in (0..rows).step_by(BLOCK) {
                let a_block = &packed_a[rb * kp16..];
                let block_rows = (rows - rb).min(BLOCK);
                if block_rows == BLOCK && cols == BLOCK {
                    // A whole block: the tiles load and store C in place.
                    tiles.kernel(a_block, kp16, b_pair, steps, &mut cblk[rb * n + j0..], n, accumulate);
                    continue;
                }
                // A ragged edge: through the scratch block, real rows and columns only.
                tiles.kernel(a_block, kp16, b_pair, steps, &mut scratch, BLOCK, false);
                for r in 0..block_rows {
                    let dst = &mut cblk[(rb + r) * n + j0..][..cols];
                    let src = &scratch[r * BLOCK..][..cols];
                    if accumulate {
                        dst.iter_mut().zip(src).for_each(|(d, s)| *d += s);
                    } else {
                        dst.copy_from_slice(src);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn skip() -> bool {
        if !available() {
            eprintln!(
                "skipped: this CPU ({}) lacks AMX-BF16 (or Linux refused the tile state); the AMX kernel is not run",
                crate::bench::cpu_name()
            );
        }
        !available()
    }

    #[test]
    fn transpose_16x16_transposes() {
        if skip() {
            return;
        }
        let src: [u32; 256] = std::array::from_fn(|i| i as u32);
        let stride = 21;
        let mut dst = vec![u32::MAX; 16 * stride];
        x86::transpose_for_tests(&src, &mut dst, stride);
        for i in 0..16 {
            for j in 0..16 {
                assert_eq!(dst[j * stride + i], src[i * 16 + j], "element ({i}, {j})");
            }
            assert!(dst[i * stride + 16..(i + 1) * stride].iter().all(|&x| x == u32::MAX), "row {i}: wrote past 16");
        }
    }

    #[test]
    fn rows_per_task_are_whole_blocks() {
        for m in [1, 31, 32, 33, 256, 688, 4096, 100_000] {
            let r = rows_per_task(m);
            assert!(r % BLOCK == 0 && (BLOCK..=256).contains(&r), "m {m}: {r}");
        }
    }
}
