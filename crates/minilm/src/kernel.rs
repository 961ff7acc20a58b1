//! The arithmetic: a dense layer (`x · Wᵀ + b`) over weights packed once for it
//! ([`Dense`]), run with AVX-512 or AVX2, FMA and F16C where the processor has them
//! (chosen at run time, per call: the check is a cached load), and portably elsewhere.
//!
//! The weights are kept as IEEE half floats (rounded to nearest from the model's f32) and
//! widened in registers; the arithmetic is f32. Half the bytes matter more than the
//! arithmetic: between two searches over many tools the weights leave the cache, and a
//! query then streams all 42 MB of them (21 MB as halves). The embeddings move by less
//! than 1e-3 in cosine (`src/search/semantic.rs` tests them against sentence-transformers').
//!
//! The kernels are register tiles: a few rows of `x` against one or more panels of
//! [`PANEL`] output columns, each weight loaded once per input for all the tile's rows and
//! each `x` value broadcast once per tile, so the multiply-adds, not the loads, bound them.
//! With AVX-512 a tile is 12 rows by two panels (24 of the 32 registers): a query of a
//! dozen tokens reads each weight once. A remainder of rows gets a smaller tile of its
//! own; no row is padded.

/// Output columns of a panel: one AVX-512 register, two AVX2 ones.
pub const PANEL: usize = 16;
/// A dense layer's weights and bias, packed: panels of [`PANEL`] output columns, each
/// panel input-major (for every input `k`, its columns' [`PANEL`] weights side by side),
/// so a tile reads each panel as one forward stream.
pub struct Dense {
    /// Half floats' bits.
    packed: Vec<u16>,
    bias: Vec<f32>,
    inp: usize,
    out: usize,
}

impl Dense {
    /// From `w` (`out` rows of `inp`, as the model stores it) and `b` (`out`). `out` is a
    /// whole number of panels (384 and 1,536 are).
    pub fn new(w: &[f32], b: &[f32], inp: usize, out: usize) -> Dense {
        assert!(out.is_multiple_of(PANEL) && w.len() == out * inp && b.len() == out);
        let mut packed = vec![0u16; out * inp];
        for p in 0..out / PANEL {
            for k in 0..inp {
                for j in 0..PANEL {
                    packed[(p * inp + k) * PANEL + j] = half(w[(p * PANEL + j) * inp + k]);
                }
            }
        }
        Dense {
            packed,
            bias: b.to_vec(),
            inp,
            out,
        }
    }
}

/// `y[i][o] = b[o] + x[i] · w[o]` for the `n` rows of `x` (each `w.inputs()` long); `y`
/// holds `n × w.outputs()`.
pub fn linear(x: &[f32], n: usize, w: &Dense, y: &mut [f32]) {
    assert!(x.len() >= n * w.inp && y.len() >= n * w.out);
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the processor has AVX-512F (checked just above); the lengths the
            // kernel's unchecked accesses rely on were asserted above and in `Dense::new`.
            #[allow(unsafe_code)]
            unsafe {
                x86::linear_avx512(x, n, w, y)
            };
            return;
        }
        if std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma")
            && std::arch::is_x86_feature_detected!("f16c")
        {
            // SAFETY: as above, for AVX2, FMA and F16C.
            #[allow(unsafe_code)]
            unsafe {
                x86::linear_avx2(x, n, w, y)
            };
            return;
        }
    }
    linear_portable(x, n, w, y);
}

/// The same arithmetic without vector instructions of its own (the compiler's choice):
/// each panel widened once into f32, then every row against it.
fn linear_portable(x: &[f32], n: usize, w: &Dense, y: &mut [f32]) {
    let (inp, out) = (w.inp, w.out);
    let mut panel = vec![0f32; inp * PANEL];
    for p in 0..out / PANEL {
        for (v, h) in panel
            .iter_mut()
            .zip(&w.packed[p * inp * PANEL..(p + 1) * inp * PANEL])
        {
            *v = widen(*h);
        }
        for i in 0..n {
            let row = &x[i * inp..(i + 1) * inp];
            let mut acc = [0f32; PANEL];
            for (xv, wk) in row.iter().zip(panel.chunks_exact(PANEL)) {
                for j in 0..PANEL {
                    acc[j] += xv * wk[j];
                }
            }
            let o = p * PANEL;
            for j in 0..PANEL {
                y[i * out + o + j] = acc[j] + w.bias[o + j];
            }
        }
    }
}

/// `v` as a half float's bits, rounded to nearest (ties to even), as F16C's `vcvtps2ph`
/// does: subnormal halves below 2⁻¹⁴, infinity above 65,504, NaN kept a NaN.
pub fn half(v: f32) -> u16 {
    let bits = v.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let exp = ((bits >> 23) & 0xff) as i32;
    let man = bits & 0x007f_ffff;
    if exp == 0xff {
        return sign
            | 0x7c00
            | if man != 0 {
                0x200 | (man >> 13) as u16
            } else {
                0
            };
    }
    // The exponent rebased for a half (bias 15 instead of 127).
    let e = exp - 127 + 15;
    if e >= 0x1f {
        return sign | 0x7c00;
    }
    if e <= 0 {
        // A subnormal half (or zero): the significand, its implicit one made explicit,
        // shifted right by 14 - e places in all, rounded to nearest even.
        if e < -10 {
            return sign;
        }
        let m = man | 0x0080_0000;
        let shift = (14 - e) as u32;
        let kept = m >> shift;
        let rest = m & ((1 << shift) - 1);
        let halfway = 1 << (shift - 1);
        let round = u32::from(rest > halfway || (rest == halfway && kept & 1 == 1));
        return sign | (kept + round) as u16;
    }
    let kept = ((e as u32) << 10) | (man >> 13);
    let rest = man & 0x1fff;
    let round = u32::from(rest > 0x1000 || (rest == 0x1000 && kept & 1 == 1));
    // A carry out of the significand correctly bumps the exponent (up to infinity).
    sign | (kept + round) as u16
}

/// A half float's bits as an f32 (exact).
pub fn widen(h: u16) -> f32 {
    let sign = u32::from(h & 0x8000) << 16;
    let exp = u32::from((h >> 10) & 0x1f);
    let man = u32::from(h & 0x3ff);
    let bits = match (exp, man) {
        (0, 0) => sign,
        (0, m) => {
            // A subnormal half is m × 2⁻²⁴: exact in an f32.
            let v = m as f32 * f32::from_bits(0x3380_0000);
            return if sign == 0 { v } else { -v };
        }
        (0x1f, m) => sign | 0x7f80_0000 | (m << 13),
        (e, m) => sign | ((e + 127 - 15) << 23) | (m << 13),
    };
    f32::from_bits(bits)
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod x86 {
    //! The vector kernels. Every access is within the lengths `linear` asserted: rows
    //! `i..i + R` of `x` with `i + R <= n`, panels `p..p + P` with `(p + P) * PANEL <=
    //! out`, each `inp` long.
    use super::{Dense, PANEL};
    use std::arch::x86_64::*;

    /// Panels a tile of the AVX-512 kernel spans (one register per row each).
    const WIDE: usize = 2;
    /// Rows a tile of the AVX-512 kernel takes (measured on a 12-token query: 6 rows ×
    /// 2 panels 4.7 ms, 8 × 3 3.9 ms, 12 × 1 7.3 ms, 12 × 2 3.4 ms).
    const WIDE_TILE: usize = 12;
    /// Rows a tile of the AVX2 kernel takes (12 of its 16 registers, two per row).
    const TILE: usize = 6;

    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn linear_avx512(x: &[f32], n: usize, w: &Dense, y: &mut [f32]) {
        let panels = w.out / PANEL;
        let mut p = 0;
        while p + WIDE <= panels {
            // SAFETY: panels p..p + WIDE exist.
            unsafe { rows_avx512::<WIDE>(x, n, w, p, y) };
            p += WIDE;
        }
        if p < panels {
            // SAFETY: panel p exists.
            unsafe { rows_avx512::<1>(x, n, w, p, y) };
        }
    }

    #[target_feature(enable = "avx512f")]
    unsafe fn rows_avx512<const P: usize>(x: &[f32], n: usize, w: &Dense, p: usize, y: &mut [f32]) {
        let mut i = 0;
        while i + WIDE_TILE <= n {
            // SAFETY: rows i..i + WIDE_TILE exist; panels as the caller said.
            unsafe { tile_avx512::<WIDE_TILE, P>(x, i, w, p, y) };
            i += WIDE_TILE;
        }
        // SAFETY: rows i..n exist.
        unsafe {
            match n - i {
                1 => tile_avx512::<1, P>(x, i, w, p, y),
                2 => tile_avx512::<2, P>(x, i, w, p, y),
                3 => tile_avx512::<3, P>(x, i, w, p, y),
                4 => tile_avx512::<4, P>(x, i, w, p, y),
                5 => tile_avx512::<5, P>(x, i, w, p, y),
                6 => tile_avx512::<6, P>(x, i, w, p, y),
                7 => tile_avx512::<7, P>(x, i, w, p, y),
                8 => tile_avx512::<8, P>(x, i, w, p, y),
                9 => tile_avx512::<9, P>(x, i, w, p, y),
                10 => tile_avx512::<10, P>(x, i, w, p, y),
                11 => tile_avx512::<11, P>(x, i, w, p, y),
                _ => {}
            }
        }
    }

    #[target_feature(enable = "avx512f")]
    unsafe fn tile_avx512<const R: usize, const P: usize>(
        x: &[f32],
        i: usize,
        w: &Dense,
        p: usize,
        y: &mut [f32],
    ) {
        let inp = w.inp;
        let xs = x.as_ptr();
        let ws = w.packed.as_ptr();
        let mut acc = [[_mm512_setzero_ps(); P]; R];
        for k in 0..inp {
            let mut wv = [_mm512_setzero_ps(); P];
            for (q, v) in wv.iter_mut().enumerate() {
                // SAFETY: panel p + q exists, and k < inp: 16 halves (32 bytes) are there.
                *v = _mm512_cvtph_ps(unsafe {
                    _mm256_loadu_si256(ws.add(((p + q) * inp + k) * PANEL).cast())
                });
            }
            for (r, a) in acc.iter_mut().enumerate() {
                // SAFETY: row i + r exists, and k < inp.
                let xv = _mm512_set1_ps(unsafe { *xs.add((i + r) * inp + k) });
                for q in 0..P {
                    a[q] = _mm512_fmadd_ps(xv, wv[q], a[q]);
                }
            }
        }
        let out = w.out;
        for (r, a) in acc.iter().enumerate() {
            for (q, v) in a.iter().enumerate() {
                let o = (p + q) * PANEL;
                // SAFETY: o + PANEL <= out = the bias's length, and row i + r of y exists.
                unsafe {
                    let b = _mm512_loadu_ps(w.bias.as_ptr().add(o));
                    _mm512_storeu_ps(y.as_mut_ptr().add((i + r) * out + o), _mm512_add_ps(*v, b));
                }
            }
        }
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    pub(super) unsafe fn linear_avx2(x: &[f32], n: usize, w: &Dense, y: &mut [f32]) {
        for p in 0..w.out / PANEL {
            let mut i = 0;
            while i + TILE <= n {
                // SAFETY: rows i..i + TILE and panel p exist.
                unsafe { tile_avx2::<TILE>(x, i, w, p, y) };
                i += TILE;
            }
            // SAFETY: rows i..n exist.
            unsafe {
                match n - i {
                    1 => tile_avx2::<1>(x, i, w, p, y),
                    2 => tile_avx2::<2>(x, i, w, p, y),
                    3 => tile_avx2::<3>(x, i, w, p, y),
                    4 => tile_avx2::<4>(x, i, w, p, y),
                    5 => tile_avx2::<5>(x, i, w, p, y),
                    _ => {}
                }
            }
        }
    }

    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn dot_half_avx512(x: &[f32], h: &[u16]) -> f32 {
        let n = x.len().min(h.len());
        let mut acc = _mm512_setzero_ps();
        let mut i = 0;
        while i + 16 <= n {
            // SAFETY: i + 16 <= n, the length of both.
            let (xv, hv) = unsafe {
                (
                    _mm512_loadu_ps(x.as_ptr().add(i)),
                    _mm512_cvtph_ps(_mm256_loadu_si256(h.as_ptr().add(i).cast())),
                )
            };
            acc = _mm512_fmadd_ps(xv, hv, acc);
            i += 16;
        }
        let mut s = _mm512_reduce_add_ps(acc);
        for k in i..n {
            s += x[k] * super::widen(h[k]);
        }
        s
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    pub(super) unsafe fn dot_half_avx2(x: &[f32], h: &[u16]) -> f32 {
        let n = x.len().min(h.len());
        let mut acc = _mm256_setzero_ps();
        let mut i = 0;
        while i + 8 <= n {
            // SAFETY: i + 8 <= n, the length of both.
            let (xv, hv) = unsafe {
                (
                    _mm256_loadu_ps(x.as_ptr().add(i)),
                    _mm256_cvtph_ps(_mm_loadu_si128(h.as_ptr().add(i).cast())),
                )
            };
            acc = _mm256_fmadd_ps(xv, hv, acc);
            i += 8;
        }
        let mut lanes = [0f32; 8];
        // SAFETY: `lanes` holds eight f32.
        unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), acc) };
        let mut s: f32 = lanes.iter().sum();
        for k in i..n {
            s += x[k] * super::widen(h[k]);
        }
        s
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn tile_avx2<const R: usize>(x: &[f32], i: usize, w: &Dense, p: usize, y: &mut [f32]) {
        let inp = w.inp;
        let xs = x.as_ptr();
        let ws = w.packed.as_ptr();
        let mut acc = [[_mm256_setzero_ps(); 2]; R];
        for k in 0..inp {
            // SAFETY: panel p exists, and k < inp: 16 halves (32 bytes) are there.
            let (lo, hi) = unsafe {
                let at = ws.add((p * inp + k) * PANEL);
                (
                    _mm256_cvtph_ps(_mm_loadu_si128(at.cast())),
                    _mm256_cvtph_ps(_mm_loadu_si128(at.add(8).cast())),
                )
            };
            for (r, a) in acc.iter_mut().enumerate() {
                // SAFETY: row i + r exists, and k < inp.
                let xv = _mm256_set1_ps(unsafe { *xs.add((i + r) * inp + k) });
                a[0] = _mm256_fmadd_ps(xv, lo, a[0]);
                a[1] = _mm256_fmadd_ps(xv, hi, a[1]);
            }
        }
        let (out, o) = (w.out, p * PANEL);
        for (r, a) in acc.iter().enumerate() {
            // SAFETY: o + PANEL <= out = the bias's length, and row i + r of y exists.
            unsafe {
                let b = w.bias.as_ptr().add(o);
                let at = y.as_mut_ptr().add((i + r) * out + o);
                _mm256_storeu_ps(at, _mm256_add_ps(a[0], _mm256_loadu_ps(b)));
                _mm256_storeu_ps(at.add(8), _mm256_add_ps(a[1], _mm256_loadu_ps(b.add(8))));
            }
        }
    }
}

/// Lanes of `dot`'s accumulator: what the compiler turns into one vector register.
const LANES: usize = 8;

/// `x · y` of two equally long vectors.
pub fn dot(x: &[f32], y: &[f32]) -> f32 {
    let mut acc = [0f32; LANES];
    let chunks = x.len().min(y.len()) / LANES;
    for c in 0..chunks {
        for l in 0..LANES {
            acc[l] += x[c * LANES + l] * y[c * LANES + l];
        }
    }
    let mut s: f32 = acc.iter().sum();
    for k in chunks * LANES..x.len().min(y.len()) {
        s += x[k] * y[k];
    }
    s
}

/// `x · h` of an f32 vector and one of half floats' bits ([`half`]), over the shorter of
/// the two: how a query meets a tool's embedding kept as halves (half the bytes to stream
/// through a search of many tools).
pub fn dot_half(x: &[f32], h: &[u16]) -> f32 {
    let n = x.len().min(h.len());
    let (x, h) = (&x[..n], &h[..n]);
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the processor has AVX-512F; both slices are `n` long.
            #[allow(unsafe_code)]
            return unsafe { x86::dot_half_avx512(x, h) };
        }
        if std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma")
            && std::arch::is_x86_feature_detected!("f16c")
        {
            // SAFETY: the processor has AVX2, FMA and F16C; both slices are `n` long.
            #[allow(unsafe_code)]
            return unsafe { x86::dot_half_avx2(x, h) };
        }
    }
    x.iter().zip(h).map(|(a, b)| a * widen(*b)).sum()
}

/// Layer normalisation of each `width`-long row of `x`, in place.
pub fn layer_norm(x: &mut [f32], width: usize, gamma: &[f32], beta: &[f32], eps: f32) {
    for row in x.chunks_exact_mut(width) {
        let mean = row.iter().sum::<f32>() / width as f32;
        let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / width as f32;
        let inv = 1.0 / (var + eps).sqrt();
        for (k, v) in row.iter_mut().enumerate() {
            *v = (*v - mean) * inv * gamma[k] + beta[k];
        }
    }
}

/// BERT's GELU, with erf (Abramowitz and Stegun 7.1.26, error under 1.5e-7).
pub fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x / std::f32::consts::SQRT_2))
}

fn erf(x: f32) -> f32 {
    let sign = if x < 0.0 { -1.0 } else { 1.0 };
    let x = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let y = 1.0
        - (((((1.061_405_4 * t - 1.453_152_1) * t) + 1.421_413_8) * t - 0.284_496_74) * t
            + 0.254_829_6)
            * t
            * (-x * x).exp();
    sign * y
}

#[cfg(test)]
mod tests {
    use super::*;

    fn want_of(x: &[f32], h: &[u16]) -> f32 {
        x.iter().zip(h).map(|(a, b)| a * widen(*b)).sum()
    }

    type Kernel = fn(&[f32], usize, &Dense, &mut [f32]);

    /// `x · Wᵀ + b` written out, for `n` rows.
    fn naive(x: &[f32], n: usize, w: &[f32], b: &[f32], inp: usize, out: usize) -> Vec<f32> {
        let mut y = vec![0.0; n * out];
        for i in 0..n {
            for o in 0..out {
                y[i * out + o] = (0..inp)
                    .map(|k| x[i * inp + k] * w[o * inp + k])
                    .sum::<f32>()
                    + b[o];
            }
        }
        y
    }

    #[test]
    fn every_kernel_is_x_times_w_transposed_plus_b() {
        // Rows 1..=13: whole tiles and every remainder of both kernels; 3 panels: a wide pair and one alone;
        // 11 inputs: nothing is a multiple of a register.
        let (inp, out) = (11, 3 * PANEL);
        let w: Vec<f32> = (0..out * inp).map(|v| (v as f32 * 0.11).cos()).collect();
        let b: Vec<f32> = (0..out).map(|v| v as f32 * 0.25 - 2.0).collect();
        let dense = Dense::new(&w, &b, inp, out);
        assert_eq!(
            (dense.inp, dense.out, dense.packed.len()),
            (inp, out, inp * out)
        );
        for n in 1..=13 {
            let x: Vec<f32> = (0..n * inp).map(|v| (v as f32 * 0.37).sin()).collect();
            // The kernels multiply by the weights as kept: halves.
            let kept: Vec<f32> = w.iter().map(|v| widen(half(*v))).collect();
            let want = naive(&x, n, &kept, &b, inp, out);
            let mut kernels: Vec<(&str, Kernel)> =
                vec![("chosen", linear), ("portable", linear_portable)];
            #[cfg(target_arch = "x86_64")]
            {
                #[allow(unsafe_code)]
                fn avx512(x: &[f32], n: usize, w: &Dense, y: &mut [f32]) {
                    // SAFETY: only pushed when the processor has AVX-512F.
                    unsafe { x86::linear_avx512(x, n, w, y) }
                }
                #[allow(unsafe_code)]
                fn avx2(x: &[f32], n: usize, w: &Dense, y: &mut [f32]) {
                    // SAFETY: only pushed when the processor has AVX2, FMA and F16C.
                    unsafe { x86::linear_avx2(x, n, w, y) }
                }
                if std::arch::is_x86_feature_detected!("avx512f") {
                    kernels.push(("avx512", avx512));
                }
                if std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
                    && std::arch::is_x86_feature_detected!("f16c")
                {
                    kernels.push(("avx2", avx2));
                }
            }
            for (name, kernel) in kernels {
                let mut y = vec![f32::NAN; n * out];
                kernel(&x, n, &dense, &mut y);
                for (at, (got, want)) in y.iter().zip(&want).enumerate() {
                    assert!(
                        (got - want).abs() < 1e-4,
                        "{name}: n={n} at {at}: {got} != {want}"
                    );
                }
            }
        }
    }

    #[test]
    fn halves_round_to_nearest_even_as_the_processor_does() {
        for (v, h) in [
            (1.0f32, 0x3c00u16),
            (-2.0, 0xc000),
            (0.0, 0),
            (-0.0, 0x8000),
            (65504.0, 0x7bff),
            (65520.0, 0x7c00),
            (f32::INFINITY, 0x7c00),
            (2f32.powi(-14), 0x0400),
            (2f32.powi(-24), 0x0001),
            (2f32.powi(-25), 0),
            (1.5 * 2f32.powi(-24), 0x0002),
            (1.0 + 2f32.powi(-11), 0x3c00),
            (1.0 + 3.0 * 2f32.powi(-11), 0x3c02),
        ] {
            assert_eq!(half(v), h, "{v}");
        }
        assert!(widen(half(f32::NAN)).is_nan());
        // Every half back and forth.
        for h in 0..=u16::MAX {
            let v = widen(h);
            if !v.is_nan() {
                assert_eq!(half(v), h, "{h:#x}");
            }
        }
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("f16c") {
            #[allow(unsafe_code)]
            #[target_feature(enable = "f16c")]
            fn hardware(v: f32) -> (u16, f32) {
                use std::arch::x86_64::*;
                let h = _mm_extract_epi16::<0>(_mm_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(
                    _mm_set1_ps(v),
                )) as u16;
                (h, _mm_cvtss_f32(_mm_cvtph_ps(_mm_set1_epi16(h as i16))))
            }
            for bits in (0..=u32::MAX).step_by(4099) {
                let v = f32::from_bits(bits);
                // SAFETY: the processor has F16C (checked above).
                #[allow(unsafe_code)]
                let (h, back) = unsafe { hardware(v) };
                if !v.is_nan() {
                    assert_eq!(half(v), h, "{v:e}");
                    assert_eq!(widen(h).to_bits(), back.to_bits(), "{h:#x}");
                }
            }
        }
    }

    #[test]
    fn gelu_norm_and_dot() {
        assert!((gelu(1.0) - 0.841_344_7).abs() < 1e-5);
        assert!((gelu(-1.0) + 0.158_655_3).abs() < 1e-5);
        assert_eq!(gelu(0.0), 0.0);
        let mut x = [1.0, 2.0, 3.0, 4.0];
        layer_norm(&mut x, 4, &[1.0; 4], &[0.0; 4], 1e-12);
        assert!((x.iter().sum::<f32>()).abs() < 1e-5);
        assert!((x[3] - 1.341_640_8).abs() < 1e-4);
        let v: Vec<f32> = (0..19).map(|i| i as f32).collect();
        assert_eq!(dot(&v, &v), (0..19).map(|i| (i * i) as f32).sum::<f32>());
        // Halves: whole registers and a remainder, on every kernel the processor has.
        let x: Vec<f32> = (0..391).map(|i| (i as f32 * 0.3).sin()).collect();
        let h: Vec<u16> = (0..391).map(|i| half((i as f32 * 0.7).cos())).collect();
        let want: f32 = x.iter().zip(&h).map(|(a, b)| a * widen(*b)).sum();
        assert!((dot_half(&x, &h) - want).abs() < 1e-3);
        assert!((dot_half(&x[..5], &h) - want_of(&x[..5], &h)).abs() < 1e-6);
        #[cfg(target_arch = "x86_64")]
        #[allow(unsafe_code)]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: checked just above.
                assert!((unsafe { x86::dot_half_avx512(&x, &h) } - want).abs() < 1e-3);
            }
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
                && std::arch::is_x86_feature_detected!("f16c")
            {
                // SAFETY: checked just above.
                assert!((unsafe { x86::dot_half_avx2(&x, &h) } - want).abs() < 1e-3);
            }
        }
    }
}
