// 1-D 3-point stencil: out[i] = wl * in[i-1] + wc * in[i] + wr * in[i+1].
// Boundary points copy the input unchanged.
#include "common.cuh"

extern "C" __global__ void stencil3(int n, float wl, float wc, float wr, const float* in, float* out) {
    for (int i = prism_global_index(); i < n; i += prism_grid_stride()) {
        if (i == 0 || i == n - 1) {
            out[i] = in[i];
        } else {
            out[i] = wl * in[i - 1] + wc * in[i] + wr * in[i + 1];
        }
    }
}
