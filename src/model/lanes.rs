//! Reductions in `L` fixed-order partial lanes: `L` partial results,
//! combined in a fixed order at the end.
//!
//! A plain running sum (or maximum) must take its values in order, so the
//! compiler cannot spread it over a SIMD register; `L` independent lanes it
//! can. The order is fixed, so results do not depend on the CPU or the
//! threads, and training stays bit-for-bit repeatable. Always inlined, so
//! each is compiled for the SIMD of the multiversioned kernel that calls it.

/// `Σ x`.
#[inline(always)]
pub fn sum<const L: usize>(x: &[f32]) -> f32 {
    let mut acc = [0.0f32; L];
    let chunks = x.chunks_exact(L);
    let tail: f32 = chunks.remainder().iter().sum();
    for c in chunks {
        for l in 0..L {
            acc[l] += c[l];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// `Σ a·b`.
#[inline(always)]
pub fn dot<const L: usize>(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; L];
    let (ca, cb) = (a.chunks_exact(L), b.chunks_exact(L));
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for l in 0..L {
            acc[l] += x[l] * y[l];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// `max x`; NaNs are passed over, as `f32::max` does.
#[inline(always)]
pub fn max<const L: usize>(x: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; L];
    let chunks = x.chunks_exact(L);
    let tail = chunks.remainder().iter().fold(f32::NEG_INFINITY, |m, &v| if v > m { v } else { m });
    for c in chunks {
        for l in 0..L {
            acc[l] = if c[l] > acc[l] { c[l] } else { acc[l] };
        }
    }
    acc.iter().fold(tail, |m, &v| if v > m { v } else { m })
}

#[cfg(test)]
mod tests {
    #[test]
    fn lanes_agree_with_plain_reductions() {
        let x: Vec<f32> = (0..37).map(|i| ((i * 7919) % 101) as f32 / 10.0 - 5.0).collect();
        let y: Vec<f32> = (0..37).map(|i| ((i * 104_729) % 103) as f32 / 10.0 - 5.0).collect();
        let plain_sum: f32 = x.iter().sum();
        let plain_dot: f32 = x.iter().zip(&y).map(|(a, b)| a * b).sum();
        assert!((super::sum::<8>(&x) - plain_sum).abs() < 1e-4);
        assert!((super::dot::<16>(&x, &y) - plain_dot).abs() < 1e-3);
        assert_eq!(super::max::<8>(&x), x.iter().cloned().fold(f32::NEG_INFINITY, f32::max));
        assert_eq!(super::max::<8>(&[f32::NAN, 1.0, 2.0]), 2.0);
    }
}
