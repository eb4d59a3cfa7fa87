//! Tensor-core helpers (feature `tensorcore`, implies `gpu`): bf16 packing and tile shapes.

/// The WMMA tile shape (m, n, k) used for bf16 inputs.
pub const WMMA_TILE: (usize, usize, usize) = (16, 16, 16);

/// Round an `f32` to bf16 (round to nearest even), returning the raw bits.
pub fn to_bf16_bits(value: f32) -> u16 {
    if value.is_nan() {
        return 0x7fc0;
    }
    let bits = value.to_bits();
    let rounding = 0x7fff + ((bits >> 16) & 1);
    (bits.wrapping_add(rounding) >> 16) as u16
}

/// Widen bf16 bits back to `f32`.
pub fn from_bf16_bits(bits: u16) -> f32 {
    f32::from_bits(u32::from(bits) << 16)
}

/// Whether a compute capability (e.g. 90 for sm_90) has bf16 tensor cores.
pub fn supports_bf16(compute_capability: u32) -> bool {
    compute_capability >= 80
}

/// Number of WMMA tiles needed for an `m x n` output.
pub fn tiles_for(m: usize, n: usize) -> usize {
    m.div_ceil(WMMA_TILE.0) * n.div_ceil(WMMA_TILE.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bf16_round_trip_exact_values() {
        for v in [0.0_f32, 1.0, -2.0, 0.5, 256.0] {
            assert_eq!(from_bf16_bits(to_bf16_bits(v)), v);
        }
        assert!(from_bf16_bits(to_bf16_bits(f32::NAN)).is_nan());
    }

    #[test]
    fn bf16_rounds_to_nearest() {
        let v = 1.0 + 1.0 / 256.0; // below bf16 precision of 1/128 near 1.0
        assert_eq!(from_bf16_bits(to_bf16_bits(v)), 1.0);
    }

    #[test]
    fn architecture_and_tiles() {
        assert!(supports_bf16(90));
        assert!(!supports_bf16(75));
        assert_eq!(tiles_for(16, 16), 1);
        assert_eq!(tiles_for(17, 33), 6);
    }
}
