// Block-wise sum reduction: each block writes one partial sum to out[blockIdx.x].
// Launch with PRISM_BLOCK_SIZE threads per block.
#include "common.cuh"

extern "C" __global__ void reduce_sum(int n, const float* in, float* out) {
    __shared__ float partial[PRISM_BLOCK_SIZE];
    float acc = 0.0f;
    for (int i = prism_global_index(); i < n; i += prism_grid_stride()) {
        acc += in[i];
    }
    partial[threadIdx.x] = acc;
    __syncthreads();
    for (unsigned int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) {
            partial[threadIdx.x] += partial[threadIdx.x + s];
        }
        __syncthreads();
    }
    if (threadIdx.x == 0) {
        out[blockIdx.x] = partial[0];
    }
}
