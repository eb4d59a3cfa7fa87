// y[i] = a * x[i] + y[i]
#include "common.cuh"

extern "C" __global__ void saxpy(int n, float a, const float* x, float* y) {
    for (int i = prism_global_index(); i < n; i += prism_grid_stride()) {
        y[i] = a * x[i] + y[i];
    }
}
