// Shared helpers for Prism4D kernels.
#pragma once

#define PRISM_BLOCK_SIZE 256

// Global linear thread index for a 1-D launch.
__device__ __forceinline__ int prism_global_index() {
    return blockIdx.x * blockDim.x + threadIdx.x;
}

// Total number of threads in a 1-D grid (for grid-stride loops).
__device__ __forceinline__ int prism_grid_stride() {
    return blockDim.x * gridDim.x;
}
