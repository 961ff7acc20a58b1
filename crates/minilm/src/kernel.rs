//! The arithmetic: a dense layer (`x · Wᵀ + b`), written so the compiler vectorises it,
//! and run with AVX2 and FMA where the processor has them (chosen once, at run time).

/// `y[i][o] = b[o] + x[i] · w[o]` for the `n` rows of `x` (each `inp` long) and the `out`
/// rows of `w`; `y` holds `n × out`.
pub fn linear(x: &[f32], n: usize, w: &[f32], b: &[f32], inp: usize, out: usize, y: &mut [f32]) {
    assert!(x.len() >= n * inp && w.len() >= out * inp && b.len() >= out && y.len() >= n * out);
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the processor has AVX2 and FMA (checked just above), which is all
            // `linear_avx2` requires beyond what `linear_with` does safely.
            #[allow(unsafe_code)]
            unsafe {
                linear_avx2(x, n, w, b, inp, out, y)
            };
            return;
        }
    }
    linear_with::<false>(x, n, w, b, inp, out, y);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn linear_avx2(x: &[f32], n: usize, w: &[f32], b: &[f32], inp: usize, out: usize, y: &mut [f32]) {
    linear_with::<true>(x, n, w, b, inp, out, y);
}

/// Lanes of one accumulator: what the compiler turns into one vector register.
const LANES: usize = 8;
/// Rows of `x` taken at once: independent accumulators enough to hide the latency of a
/// fused multiply-add.
pub(crate) const ROWS: usize = 8;

#[inline(always)]
fn madd<const FMA: bool>(acc: f32, a: f32, b: f32) -> f32 {
    if FMA { a.mul_add(b, acc) } else { acc + a * b }
}

/// Each row of `w` is read once (a text's rows of `x` stay in cache while the weights
/// stream by), against [`ROWS`] rows of `x` at a time.
#[inline(always)]
fn linear_with<const FMA: bool>(
    x: &[f32],
    n: usize,
    w: &[f32],
    b: &[f32],
    inp: usize,
    out: usize,
    y: &mut [f32],
) {
    let chunks = inp / LANES;
    for o in 0..out {
        let wr = &w[o * inp..(o + 1) * inp];
        let mut i = 0;
        while i + ROWS <= n {
            let rows: [&[f32]; ROWS] =
                std::array::from_fn(|r| &x[(i + r) * inp..(i + r + 1) * inp]);
            let mut acc = [[0f32; LANES]; ROWS];
            for c in 0..chunks {
                let wc = &wr[c * LANES..(c + 1) * LANES];
                for (r, row) in rows.iter().enumerate() {
                    let xc = &row[c * LANES..(c + 1) * LANES];
                    for l in 0..LANES {
                        acc[r][l] = madd::<FMA>(acc[r][l], xc[l], wc[l]);
                    }
                }
            }
            for (r, row) in rows.iter().enumerate() {
                let mut s: f32 = acc[r].iter().sum();
                for k in chunks * LANES..inp {
                    s = madd::<FMA>(s, row[k], wr[k]);
                }
                y[(i + r) * out + o] = s + b[o];
            }
            i += ROWS;
        }
        for i in i..n {
            let row = &x[i * inp..(i + 1) * inp];
            let mut acc = [0f32; LANES];
            for c in 0..chunks {
                for l in 0..LANES {
                    acc[l] = madd::<FMA>(acc[l], row[c * LANES + l], wr[c * LANES + l]);
                }
            }
            let mut s: f32 = acc.iter().sum();
            for k in chunks * LANES..inp {
                s = madd::<FMA>(s, row[k], wr[k]);
            }
            y[i * out + o] = s + b[o];
        }
    }
}

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

    #[test]
    fn a_dense_layer_is_x_times_w_transposed_plus_b() {
        // 9 rows (eight at once, then one alone), 11 inputs (a chunk and a remainder).
        let (n, inp, out) = (9, 11, 3);
        let x: Vec<f32> = (0..n * inp).map(|v| (v as f32 * 0.37).sin()).collect();
        let w: Vec<f32> = (0..out * inp).map(|v| (v as f32 * 0.11).cos()).collect();
        let b = [0.5, -1.0, 2.0, 0.25];
        let mut y = vec![0.0; n * out];
        linear(&x, n, &w, &b, inp, out, &mut y);
        for i in 0..n {
            for o in 0..out {
                let want: f32 = (0..inp)
                    .map(|k| x[i * inp + k] * w[o * inp + k])
                    .sum::<f32>()
                    + b[o];
                assert!((y[i * out + o] - want).abs() < 1e-4, "{i} {o}");
            }
        }
        let mut plain = vec![0.0; n * out];
        linear_with::<false>(&x, n, &w, &b, inp, out, &mut plain);
        for (a, b) in y.iter().zip(&plain) {
            assert!((a - b).abs() < 1e-4);
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
    }
}
