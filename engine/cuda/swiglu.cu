#include "engine/cuda/swiglu.cuh"

#include "engine/cuda/common.cuh"
#include "engine/cuda/ops_math.h"

namespace moescope::gpu {

namespace {
__global__ void swiglu_kernel(const float* gu, float* h, int64_t rows, int inter) {
    const int64_t id = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (id >= rows * inter) return;
    const int64_t r = id / inter;
    const int i = int(id % inter);
    h[id] = cudamath::swiglu(gu[r * 2 * inter + i], gu[r * 2 * inter + inter + i]);
}
}  // namespace

void swiglu(const float* gu, float* h, int64_t rows, int inter, cudaStream_t stream) {
    if (rows * inter <= 0) return;
    swiglu_kernel<<<grid_for(rows * inter, 256), 256, 0, stream>>>(gu, h, rows, inter);
    CUDA_CHECK_LAUNCH("swiglu");
}

}  // namespace moescope::gpu
