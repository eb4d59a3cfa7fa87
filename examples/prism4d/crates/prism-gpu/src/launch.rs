//! Launch geometry for the kernels (feature `gpu`).

/// Threads per block; matches `PRISM_BLOCK_SIZE` in `kernels/common.cuh`.
pub const BLOCK_SIZE: u32 = 256;

/// Grid and block dimensions for a 1-D launch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LaunchConfig {
    pub grid: u32,
    pub block: u32,
    pub shared_mem_bytes: u32,
}

impl LaunchConfig {
    /// Enough blocks to cover `n` elements, capped at `max_grid` (kernels use grid-stride loops).
    pub fn for_elements(n: u32, max_grid: u32) -> Self {
        let grid = n.div_ceil(BLOCK_SIZE).clamp(1, max_grid.max(1));
        Self {
            grid,
            block: BLOCK_SIZE,
            shared_mem_bytes: 0,
        }
    }

    /// The reduction needs one `f32` of shared memory per thread.
    pub fn for_reduction(n: u32, max_grid: u32) -> Self {
        Self {
            shared_mem_bytes: BLOCK_SIZE * 4,
            ..Self::for_elements(n, max_grid)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_covers_elements() {
        assert_eq!(LaunchConfig::for_elements(1, 1024).grid, 1);
        assert_eq!(LaunchConfig::for_elements(256, 1024).grid, 1);
        assert_eq!(LaunchConfig::for_elements(257, 1024).grid, 2);
        assert_eq!(LaunchConfig::for_elements(0, 1024).grid, 1);
        assert_eq!(LaunchConfig::for_elements(1 << 30, 1024).grid, 1024);
    }

    #[test]
    fn reduction_reserves_shared_memory() {
        let cfg = LaunchConfig::for_reduction(1000, 64);
        assert_eq!(cfg.shared_mem_bytes, 1024);
        assert_eq!(cfg.grid, 4);
    }
}
