//! CPU reference implementations of the CUDA kernels.

/// `y[i] = a * x[i] + y[i]` over the common length of `x` and `y`.
pub fn saxpy(a: f32, x: &[f32], y: &mut [f32]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += a * xi;
    }
}

/// Sum of all elements, accumulated in blocks like the GPU reduction.
pub fn reduce_sum(input: &[f32]) -> f32 {
    const BLOCK: usize = 256;
    input
        .chunks(BLOCK)
        .map(|chunk| chunk.iter().sum::<f32>())
        .sum()
}

/// 1-D 3-point stencil with weights `(wl, wc, wr)`; boundary points are copied unchanged.
pub fn stencil3(weights: (f32, f32, f32), input: &[f32]) -> Vec<f32> {
    let (wl, wc, wr) = weights;
    let n = input.len();
    (0..n)
        .map(|i| {
            if i == 0 || i + 1 == n {
                input[i]
            } else {
                wl * input[i - 1] + wc * input[i] + wr * input[i + 1]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saxpy_matches_definition() {
        let x = [1.0, 2.0, 3.0];
        let mut y = [10.0, 20.0, 30.0];
        saxpy(2.0, &x, &mut y);
        assert_eq!(y, [12.0, 24.0, 36.0]);
    }

    #[test]
    fn saxpy_uses_shorter_length() {
        let mut y = [1.0, 1.0];
        saxpy(1.0, &[1.0], &mut y);
        assert_eq!(y, [2.0, 1.0]);
    }

    #[test]
    fn reduce_sums_across_blocks() {
        let input = vec![1.0_f32; 1000];
        assert_eq!(reduce_sum(&input), 1000.0);
        assert_eq!(reduce_sum(&[]), 0.0);
    }

    #[test]
    fn stencil_laplacian_of_linear_is_zero() {
        let input: Vec<f32> = (0..8).map(|i| i as f32).collect();
        let out = stencil3((1.0, -2.0, 1.0), &input);
        assert_eq!(out[0], 0.0);
        assert_eq!(out[7], 7.0);
        assert!(out[1..7].iter().all(|v| *v == 0.0));
    }

    #[test]
    fn stencil_small_inputs() {
        assert!(stencil3((1.0, 1.0, 1.0), &[]).is_empty());
        assert_eq!(stencil3((1.0, 1.0, 1.0), &[5.0]), vec![5.0]);
    }
}
